r"""The ``files`` connector: a folder (or named files) of CSV, Parquet or JSON Lines in the canonical columns.

Each file holds one record kind, named by the file (``leads.csv``, ``stage_events.parquet``,
``deal_splits.jsonl``, ...) or by the ``paths`` option. Headers may be the user's own, mapped with
``columns``; values may be the user's own, mapped with ``values`` (deal stage names, owner names to person
ids); every map applied is listed in the report with how many rows it changed. Times without an offset need
``time_zone``, amounts without a currency column need ``currency``, and numbers such as ``"6,000.00"`` need
``thousands=","``: nothing is guessed.

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "leads.csv").write_text(
    ...     "Record ID,Create Date,Contact owner\n"
    ...     "101,2026-10-01 09:00,Jonas Weber\n"
    ...     "102,2026-10-02 14:30,Ana Diaz\n"
    ... )
    >>> connector = FilesConnector(
    ...     path=folder,
    ...     columns={"Record ID": "id", "Create Date": "created_at", "Contact owner": "owner"},
    ...     values={"owner": {"Jonas Weber": "jonas.weber", "Ana Diaz": "ana.diaz"}},
    ...     time_zone="Europe/Berlin",
    ... )
    >>> data, report = connector.load()
    >>> data.leads.select("id", "owner").rows()
    [('101', 'jonas.weber'), ('102', 'ana.diaz')]
    >>> for m in report.mappings:
    ...     print(m)
    Contact owner: 'Ana Diaz' -> 'ana.diaz' (1 row(s))
    Contact owner: 'Jonas Weber' -> 'jonas.weber' (1 row(s))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from smarketing.connectors import _read
from smarketing.connectors.intake import RAW_KINDS, RawFrame, intake
from smarketing.connectors.report import AppliedMapping, Loaded, Provenance

__all__ = ["FORMATS", "FilesConnector"]

#: The file formats read, by suffix.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}

#: A mapping given for every kind (``{"Record ID": "id"}``) or per kind (``{"leads": {...}}``).
ColumnMap = Mapping[str, str] | Mapping[str, Mapping[str, str]]
ValueMap = Mapping[str, Mapping[str, str]] | Mapping[str, Mapping[str, Mapping[str, str]]]


class FilesConnector:
    """Read CSV, Parquet or JSON Lines files in the canonical columns (or mapped to them).

    Args:
        path: A folder of ``<kind>.<csv|parquet|jsonl>`` files (a kind is a record kind such as ``leads``,
            or ``deal_splits``), or one such file.
        paths: Files by record kind, instead of (or besides) those named by kind in ``path``.
        columns: Source header -> canonical column, for every file (``{"Record ID": "id"}``) or per kind
            (``{"leads": {"Record ID": "id"}}``).
        values: Canonical column -> {source value: value}, for every kind (``{"stage": {"Closed Won":
            "won"}}``) or per kind (``{"deals": {"stage": {...}}}``). Values not in a map are kept as they
            are (and refused if they break a rule).
        time_zone: The IANA zone of times written without an offset; without it they are refused.
        currency: The ISO 4217 currency of amounts without one (listed in the report's defaults).
        thousands: The thousands separator of numbers, such as ``","`` for ``"6,000.00"``.
        decimal: The decimal separator of numbers, ``"."`` or ``","``.
        encoding: The text encoding of CSV and JSON Lines files (``"utf-8"``; a byte-order mark is dropped).
        separator: The field separator of CSV files.
    """

    name = "files"

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        paths: Mapping[str, str | Path] | None = None,
        columns: ColumnMap | None = None,
        values: ValueMap | None = None,
        time_zone: str | None = None,
        currency: str | None = None,
        thousands: str | None = None,
        decimal: str = ".",
        encoding: str = "utf-8",
        separator: str = ",",
    ) -> None:
        if path is None and not paths:
            raise ValueError("files: give path= (a folder or a file) or paths= (files by record kind)")
        self.path = None if path is None else Path(path)
        self.paths = {k: Path(v) for k, v in (paths or {}).items()}
        unknown = sorted(set(self.paths) - set(RAW_KINDS))
        if unknown:
            raise ValueError(
                f"paths: unknown record kind(s) {', '.join(unknown)}; known: {', '.join(RAW_KINDS)}"
            )
        self.columns = _per_kind(columns or {}, "columns")
        self.values = _per_kind(values or {}, "values")
        self.options: dict[str, Any] = {
            "time_zone": time_zone,
            "currency": currency,
            "thousands": thousands,
            "decimal": decimal,
        }
        self.encoding = encoding
        if len(separator) != 1:
            raise ValueError(f"separator: must be one character, not {separator!r}")
        self.separator = separator

    def files(self) -> tuple[dict[str, Path], tuple[str, ...]]:
        """The file of each record kind, and the files of the folder that are not read (none silently)."""
        found: dict[str, Path] = {}
        ignored: list[str] = []
        if self.path is not None:
            if self.path.is_dir():
                for file in sorted(self.path.iterdir()):
                    kind, suffix = file.stem, file.suffix.lower()
                    if kind in RAW_KINDS and suffix in FORMATS and kind not in found:
                        found[kind] = file
                    elif not file.name.startswith("."):
                        ignored.append(file.name)
            else:
                kind = self.path.stem
                if kind not in RAW_KINDS:
                    raise ValueError(
                        f"{self.path}: the file name does not say its record kind ({', '.join(RAW_KINDS)}); "
                        "pass paths={kind: file}"
                    )
                found[kind] = self.path
        found.update(self.paths)
        if not found:
            raise ValueError(
                f"{self.path}: no <kind>.csv, .parquet or .jsonl file (kinds: {', '.join(RAW_KINDS)})"
            )
        return found, tuple(ignored)

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read every file, map its headers and values, and validate it (see :func:`intake`).

        Each file is read when its kind's turn comes and its text freed once parsed, so one file's text
        is held at a time.
        """
        files, ignored = self.files()
        applied: dict[str, list[AppliedMapping]] = {}

        def reader(kind: str, file: Path) -> Callable[[], RawFrame]:
            def read() -> RawFrame:
                frame, lines = self._read(file)
                frame, headers = self._rename(kind, frame, file)
                frame, applied[kind] = _map_values(frame, self.values.get(kind, {}), headers)
                return RawFrame(frame, file.name, lines=lines, headers=headers)

            return read

        raw: dict[str, RawFrame | Callable[[], RawFrame | None]] = {
            kind: reader(kind, file) for kind, file in files.items()
        }
        source = str(self.path) if self.path is not None else ", ".join(str(p) for p in files.values())
        notes = [f"not read (no record kind in the name): {', '.join(ignored)}"] if ignored else []
        provenance = Provenance(
            self.name,
            source,
            stage_history="native" if "stage_events" in files else "none",
            notes=notes,
        )
        data, report = intake(
            raw,
            connector=self.name,
            strict=False,
            provenance=provenance,
            progress=progress,
            release=True,
            **self.options,
        )
        # The maps in the order of the files, as they were read before the reading became lazy.
        report = attrs.evolve(report, mappings=[m for kind in files for m in applied.get(kind, [])])
        if strict:
            report.raise_for_refusals()
        return Loaded(data, report)

    def _read(self, file: Path) -> tuple[pl.DataFrame, str | None]:
        kind = FORMATS.get(file.suffix.lower())
        if kind == "parquet":
            return _read.read_parquet(file), None
        if kind == "jsonl":
            return _read.read_jsonl(file, encoding=self.encoding), _read.LINE
        return _read.read_csv(file, encoding=self.encoding, separator=self.separator), _read.LINE

    def _rename(self, kind: str, frame: pl.DataFrame, file: Path) -> tuple[pl.DataFrame, dict[str, str]]:
        """Source headers to canonical columns; two headers mapped to one column is an error."""
        mapping = {s: c for s, c in self.columns.get(kind, {}).items() if s in frame.columns}
        targets: dict[str, str] = {}
        for source, column in mapping.items():
            if column in targets or (column in frame.columns and column not in mapping):
                other = targets.get(column, column)
                raise ValueError(f"{file.name}: columns {other!r} and {source!r} both give {column!r}")
            targets[column] = source
        return frame.rename(mapping), targets

    def __repr__(self) -> str:
        where = self.path if self.path is not None else sorted(self.paths)
        return f"FilesConnector({where!s})"


def _per_kind(given: Mapping[str, Any], what: str) -> dict[str, Any]:
    """An option given for every kind, or per kind, as one mapping per kind."""
    if given and all(k in RAW_KINDS for k in given) and all(isinstance(v, Mapping) for v in given.values()):
        if what == "values" and all(all(isinstance(m, Mapping) for m in v.values()) for v in given.values()):
            return {k: dict(v) for k, v in given.items()}
        if what == "columns":
            return {k: dict(v) for k, v in given.items()}
    return {kind: dict(given) for kind in RAW_KINDS}


def _map_values(
    frame: pl.DataFrame, maps: Mapping[str, Mapping[str, str]], headers: Mapping[str, str]
) -> tuple[pl.DataFrame, list[AppliedMapping]]:
    """Apply each column's value map (exact matches of the cell), counting the rows each entry changed."""
    applied: list[AppliedMapping] = []
    for column, mapping in maps.items():
        if column not in frame.columns or not mapping:
            continue
        cells = frame.get_column(column).cast(pl.String)
        counts = cells.filter(cells.is_in(list(mapping))).value_counts(sort=False)
        for source_value, rows in sorted(counts.rows()):
            applied.append(
                AppliedMapping(headers.get(column, column), source_value, mapping[source_value], rows)
            )
        frame = frame.with_columns(cells.replace(dict(mapping)).alias(column))
    return frame, applied
