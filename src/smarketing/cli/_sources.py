"""Data through a connector: ``--source NAME[:PATH]``, ``smarketing import`` and ``smarketing sources``.

``--source hubspot-export:./export`` makes the connector with ``path=./export`` and the ``--option
KEY=VALUE`` pairs, and loads it. A connector with a required ``path`` option needs ``NAME:PATH``; one that
declares no ``path`` (a live API, such as ``hubspot``) is named alone: ``--source hubspot``.

Option values are text; a value that starts with ``{`` or ``[`` is read as JSON (for the maps a connector
takes), and options typed ``bool``, ``int`` or ``float`` take ``true``/``false``, whole numbers and
numbers (an option that also takes text, such as ``verify: bool | str``, takes any other value as
text). Strictly (the default) any refused row ends the command with the first refusals named;
``--lenient`` keeps the good rows, writes every refusal to the load report and says how many.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from smarketing import _plugins
from smarketing.cli._common import CommandError
from smarketing.cli._text import emit, emit_json, fail
from smarketing.connectors import (
    ConnectorInfo,
    Loaded,
    LoadReport,
    apply_changes,
    available_connectors,
    connector_info,
    load_connector,
)
from smarketing.connectors.registry import ENTRY_POINT_GROUP
from smarketing.errors import DataError, PluginError, PluginWarning
from smarketing.records import Dataset
from smarketing.records._store import MANIFEST

#: Where the load report goes when ``--load-report`` does not say.
DEFAULT_REPORT = Path("load-report.json")

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@contextmanager
def plugin_warnings(command: str) -> Iterator[None]:
    """Print the plugin warnings raised inside (a broken plugin skipped) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, PluginWarning):
            fail(command, f"warning: {warning.message}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _value(info: ConnectorInfo, key: str, text: str) -> object:
    """The value of ``--option key=text`` for the connector: JSON for maps and lists, else typed text."""
    option = info.option(key)
    annotation = option.annotation if option is not None else ""
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(f"--option {key}: not JSON ({error.msg} at column {error.colno})") from None
    if re.search(r"\bbool\b", annotation):
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        if not re.search(r"\bstr\b", annotation):  # ``bool | str`` (a flag or a path) takes text too
            raise CommandError(f"--option {key}: expected true or false, not {text!r}")
    if re.search(r"\bfloat\b", annotation) and not re.search(r"\bstr\b", annotation):
        try:
            return float(text)
        except ValueError:
            raise CommandError(f"--option {key}: expected a number, not {text!r}") from None
    if re.search(r"\bint\b", annotation) and not re.search(r"\bstr\b", annotation):
        if re.fullmatch(r"[+-]?[0-9]{1,18}", text) is None:
            raise CommandError(f"--option {key}: expected a whole number, not {text!r}")
        return int(text)
    return text


def connector_options(info: ConnectorInfo, path: Path | None, given: list[tuple[str, str]]) -> dict[str, Any]:
    """The options to make the connector with: ``path`` from ``NAME:PATH`` and each ``--option``.

    The rule is the connector's own: one that declares no ``path`` option takes none, one whose ``path``
    is required needs ``NAME:PATH`` (or ``--option path=...``).
    """
    options: dict[str, Any] = {}
    declared = info.option("path")
    if path is not None:
        if declared is None:
            raise CommandError(
                f"{info.name} takes no path; write --source {info.name} and give its options with "
                "--option KEY=VALUE"
            )
        options["path"] = str(path)
    for key, text in given:
        if key in options:
            what = "NAME:PATH gives the path" if key == "path" and path is not None else "given twice"
            raise CommandError(f"--option {key}: {what}")
        options[key] = _value(info, key, text)
    if declared is not None and declared.required and "path" not in options:
        raise CommandError(f"{info.name} reads files: write {info.name}:PATH (smarketing sources)")
    return options


def run_connector(args: argparse.Namespace, source: tuple[str, Path | None]) -> Loaded:
    """Make and load the connector of ``source`` with ``--option`` and ``--lenient``.

    With ``--state FILE`` (``import``) the connector's ``sync(FILE)`` loads what changed since the last
    run instead of everything.
    """
    name, path = source
    with plugin_warnings(args.name):
        info = connector_info(name)
        connector = load_connector(name, **connector_options(info, path, args.option or []))
    state: Path | None = getattr(args, "state", None)
    if state is not None and not callable(getattr(connector, "sync", None)):
        raise CommandError(f"--state: {name} has no incremental loads (no sync method)")
    try:
        if state is not None:
            loaded = connector.sync(state, strict=not args.lenient, progress=None)  # type: ignore[attr-defined]
        else:
            loaded = connector.load(strict=not args.lenient, progress=None)
    except (DataError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"load: {_plugins.describe(exc)}", plugin=name, group=ENTRY_POINT_GROUP) from exc
    data, report = _checked(name, loaded)
    return Loaded(data, report)


def _checked(name: str, loaded: object) -> tuple[Dataset, LoadReport]:
    """What ``load()`` gave, refused unless it is a dataset and a load report."""
    if isinstance(loaded, tuple) and len(loaded) == 2:
        data, report = loaded
        if isinstance(data, Dataset) and isinstance(report, LoadReport):
            return data, report
    raise PluginError(
        f"load() must return Loaded(dataset, report), not {_plugins.text_line(type(loaded).__name__)}",
        plugin=name,
        group=ENTRY_POINT_GROUP,
    )


def write_report(report: LoadReport, path: Path) -> None:
    """The load report as JSON (sorted keys, the same bytes for the same load)."""
    text = json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(
            f"{path}: cannot write the load report: {error.strerror or error}", code=1
        ) from None


def _counts(report: LoadReport) -> str:
    read, kept = sum(report.rows_read.values()), sum(report.rows_kept.values())
    return f"kept {kept:,} of {read:,} rows; {report.refused:,} refusal(s)"


def check_source_options(args: argparse.Namespace) -> None:
    """Refuse ``--option``, ``--lenient`` and ``--load-report`` without ``--source``: they do nothing."""
    if getattr(args, "source", None) is not None:
        return
    given = [
        name
        for name, value in (
            ("--option", args.option),
            ("--lenient", args.lenient),
            ("--load-report", args.load_report),
        )
        if value
    ]
    if given:
        raise CommandError(
            f"{', '.join(given)}: only with --source NAME[:PATH] (they set how a connector loads)"
        )


def source_data(args: argparse.Namespace) -> Dataset:
    """The dataset of ``--source`` for an analysis command; with ``--lenient`` the report is written."""
    loaded = run_connector(args, args.source)
    if args.lenient:
        path = args.load_report or DEFAULT_REPORT
        write_report(loaded.report, path)
        fail(args.name, f"{loaded.report.connector}: {_counts(loaded.report)}; the load report: {path}")
    return loaded.dataset


def import_command(args: argparse.Namespace) -> int:
    """``smarketing import SOURCE -o DIR``: load, write the dataset and its load report, summarise.

    With ``--state FILE`` the load is incremental: the changes since the watermark in ``FILE`` are applied
    to the dataset already in ``DIR`` (records replaced by id, deleted ones removed), and the watermark
    moves only once ``DIR`` is written.
    """
    state: Path | None = getattr(args, "state", None)
    base: Dataset | None = None
    if state is not None and (args.output / MANIFEST).is_file():
        base = Dataset.read(args.output)
    loaded = run_connector(args, args.source)
    data, report = loaded
    if base is not None:
        data = apply_changes(base, loaded)
    data.write(args.output, report=report)
    path = args.output / "load-report.json"
    write_report(report, path)
    emit(report.summary())
    what = "applied the changes to" if base is not None else "wrote"
    emit(f"{what} {args.output} ({_records(data):,} records) and {path}")
    return 0


def _records(data: Dataset) -> int:
    return sum(frame.height for frame in data.frames().values())


def sources_command(args: argparse.Namespace) -> int:
    """``smarketing sources``: the installed connectors, each with its options."""
    with plugin_warnings(args.name):
        found = available_connectors()
    if args.format == "json":
        emit_json([attrs.asdict(info) for info in found.values()])
        return 0
    for number, info in enumerate(found.values()):
        if number:
            emit("")
        emit(f"{info.name} ({info.origin}): {info.summary}")
        for option in info.options:
            kind = option.annotation or "any"
            default = "required" if option.required else f"default {option.default}"
            emit(f"  {option.name} ({kind}; {default})", one_line=True)
            if option.help:
                emit(f"      {option.help}", one_line=True)
    emit(
        "\nuse one: --source NAME[:PATH] [--option KEY=VALUE ...], or smarketing import NAME[:PATH] -o DIR "
        "(PATH only for the connectors with a path option)"
    )
    return 0


def print_load_error(command: str, message: str) -> None:
    """A strict load's refusals: the first line as the command's error, each refusal on its own line."""
    first, *rest = message.splitlines() or [""]
    fail(command, first)
    for line in rest:
        emit(line, stream=sys.stderr, one_line=True)
