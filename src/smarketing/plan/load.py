"""Reading and writing plans: :func:`load_plan`, :func:`dump_plan` and :func:`plan_json_schema`."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from os import PathLike, fspath
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from smarketing.errors import PlanError, PlanIssue
from smarketing.plan._problems import Source, plan_error
from smarketing.plan._yaml import dump_yaml, parse_json, parse_yaml, scan
from smarketing.plan.model import MAX_PLAN_BYTES, AlignmentPlan

__all__ = ["PlanSource", "dump_plan", "load_plan", "plan_json_schema"]

# --------------------------------------------------------------------------------------------------
# Public IO.

PlanSource = str | PathLike[str] | Mapping[str, Any]


def _looks_like_path(text: str) -> bool:
    if not text.strip():
        return False  # empty text is an empty plan, not the current directory
    if "\n" in text or len(text) > 1024 or text.lstrip().startswith(("{", "[")):
        return False
    if text.lower().endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return Path(text).exists()  # a directory or a device is named as what it is, not read as YAML
    except OSError:  # e.g. a name longer than the file system allows: not a path, then
        return False


def _read_plan_file(file: str, max_bytes: int) -> bytes:
    """The bytes of a regular plan file of at most ``max_bytes``; never blocks on a FIFO or a device."""
    try:
        info = os.stat(file)
    except (FileNotFoundError, NotADirectoryError):
        raise PlanError("no such plan file", file=file) from None
    except OSError as exc:
        raise PlanError(f"cannot read the plan file: {exc.strerror or exc}", file=file) from None
    if stat.S_ISDIR(info.st_mode):
        raise PlanError("is a directory, not a plan file", file=file)
    if not stat.S_ISREG(info.st_mode):
        raise PlanError(
            "is not a regular file (a pipe, device or socket); give the path of a YAML or JSON plan",
            file=file,
        )
    if info.st_size > max_bytes:
        raise PlanError(f"file is {info.st_size:,} bytes; plans are limited to {max_bytes:,}", file=file)
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since the stat, opening it does not wait.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise PlanError(f"cannot read the plan file: {exc.strerror or exc}", file=file) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PlanError("is not a regular file; give the path of a YAML or JSON plan", file=file)
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew since the stat
        raise PlanError(f"file is larger than {max_bytes:,} bytes, the limit for plans", file=file)
    return raw


def load_plan(source: PlanSource, *, max_bytes: int = MAX_PLAN_BYTES) -> AlignmentPlan:
    """Load and validate an alignment plan.

    Args:
        source: A path (``Path`` or a one-line string naming a ``.yaml``, ``.yml`` or ``.json`` file or
            an existing file), YAML or JSON text, or a mapping.
        max_bytes: Largest file or text accepted.

    Returns:
        The validated plan; it remembers its file and the line of every field for later messages
        (see :meth:`AlignmentPlan.location`).

    Raises:
        PlanError: The file is missing, too large or not valid YAML/JSON, the root is not a mapping, a
            field is invalid or a reference dangles. The message names ``file:line: path``; every
            problem found is in ``PlanError.issues``.

    Examples:
        >>> plan = load_plan("examples/plan.yaml")
        >>> [t.id for t in plan.teams_with_function("sales")]
        ['sales']
        >>> load_plan("name: x")
        Traceback (most recent call last):
        ...
        smarketing.errors.PlanError: line 1: journey: required field missing (and 1 more problem(s))
    """
    file: str | None = None
    if not isinstance(source, str | PathLike | Mapping):
        raise TypeError(
            "load_plan() takes a path, YAML or JSON text, or a mapping, not "
            f"{type(source).__name__}" + ("; decode bytes first" if isinstance(source, bytes) else "")
        )
    if isinstance(source, Mapping):
        data: Any = source
        lines: dict[str, int] = {}
    else:
        if isinstance(source, PathLike) or _looks_like_path(source):
            file = fspath(source)
            raw = _read_plan_file(file, max_bytes)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                raise PlanError(
                    f"not UTF-8 text (byte {exc.start + 1} of the file)", file=file, line=line
                ) from None
            is_json = file.lower().endswith(".json")
        else:
            text = str(source)
            if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
                raise PlanError(f"plan text is larger than {max_bytes:,} bytes")
            is_json = text.lstrip().startswith("{")
        data, lines = (parse_json if is_json else parse_yaml)(text, file)
    source_info = Source(file, lines)
    unreadable = list(scan(data))
    if unreadable:
        issues = sorted(
            (PlanIssue(message, path=path, line=source_info.line(path)) for path, message in unreadable),
            key=lambda i: (i.line if i.line is not None else 1 << 30, i.path),
        )
        raise PlanError(issues[0].message, file=file, issues=issues)
    if not isinstance(data, Mapping):
        raise PlanError(
            f"the plan must be a mapping of parts (name, teams, journey, ...), not {type(data).__name__}",
            file=file,
            line=source_info.line(""),
        )
    try:
        plan = AlignmentPlan.model_validate(data)
    except ValidationError as exc:
        raise plan_error(exc, data, source_info, AlignmentPlan) from None
    plan._source = source_info
    return plan


def dump_plan(plan: AlignmentPlan, *, format: Literal["yaml", "json"] = "yaml") -> str:
    """Write a plan as YAML or JSON text; fields left at their defaults are omitted.

    Examples:
        >>> plan = load_plan("examples/plan.yaml")
        >>> load_plan(dump_plan(plan, format="json")) == plan
        True
    """
    if format == "json":
        return plan.model_dump_json(by_alias=True, exclude_defaults=True, indent=2) + "\n"
    if format != "yaml":
        raise ValueError(f"format must be 'yaml' or 'json', not {format!r}")
    data = plan.model_dump(mode="python", by_alias=True, exclude_defaults=True)
    return dump_yaml(data)


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of plan files, for editors and CI.

    Examples:
        >>> schema = plan_json_schema()
        >>> schema["title"], "journey" in schema["required"]
        ('AlignmentPlan', True)
    """
    schema = AlignmentPlan.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
