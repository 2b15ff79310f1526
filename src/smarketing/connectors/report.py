"""What a load did: the rows read and kept, every refused row and why, the mappings, defaults and provenance.

A connector never drops a row silently. Every row it reads is either in the
:class:`~smarketing.records.Dataset` it returns or in :attr:`LoadReport.refusals`, with the source file and
line (or row number), the record id when there is one, the column and the reason. Every value map applied
(``"Closed Won"`` to ``won``) and every value given by an option rather than the source (a currency given
once) is listed too, and :class:`Provenance` says what the source is and which part of the history is
reconstructed rather than read.

Examples:
    >>> report = LoadReport(
    ...     connector="files",
    ...     rows_read={"leads": 3},
    ...     rows_kept={"leads": 2},
    ...     refusals=(Refusal("leads", "leads.csv", 4, "L3", "created_at", "'yesterday' is not a time"),),
    ... )
    >>> report.ok, report.refused
    (False, 1)
    >>> print(report.refusals[0])
    leads.csv:4: lead L3: created_at: 'yesterday' is not a time
    >>> print(report.summary())
    files: read 3 rows, kept 2, refused 1
      leads: 3 read, 2 kept, 1 refused
    refused:
      leads.csv:4: lead L3: created_at: 'yesterday' is not a time
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple

import attrs
import polars as pl

from smarketing._display import html_table
from smarketing.errors import LoadError
from smarketing.records import RECORD_KINDS, Dataset

__all__ = ["AppliedMapping", "Default", "LoadReport", "Loaded", "Provenance", "Refusal", "StageHistory"]

#: How much of the stage history a source holds: read as it is, rebuilt from other fields, or both.
StageHistory = Literal["native", "reconstructed", "mixed", "none"]

#: Refusals shown by ``summary()`` and in the strict-mode error before "... and N more".
SHOWN = 10


def _counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return dict(sorted(value.items()))


def _columns(value: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return {k: tuple(c) for k, c in sorted(value.items())}


def _refusals(value: Iterable[Refusal]) -> tuple[Refusal, ...]:
    return tuple(value)


def _mappings(value: Iterable[AppliedMapping]) -> tuple[AppliedMapping, ...]:
    return tuple(value)


def _defaults(value: Iterable[Default]) -> tuple[Default, ...]:
    return tuple(value)


def _deleted(value: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return {k: tuple(sorted(set(ids))) for k, ids in sorted(value.items()) if ids}


def _notes(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _kind_label(kind: str) -> str:
    """``"leads"`` -> ``"lead"``: how messages name one record of a kind."""
    model = RECORD_KINDS.get(kind)
    return model.kind if model is not None else "deal split" if kind == "deal_splits" else kind


@attrs.frozen
class Refusal:
    """One row a load refused, and where it came from.

    Attributes:
        kind: The record kind the row was read as (``"leads"``, ``"deals"``, ...).
        source: The file or table the row came from, as the connector names it.
        line: The row's line in a text file (the header is line 1), or ``None`` when there are no lines.
        record: The record's id (a stage event's lead id), when the row has one.
        column: The column at fault, as the source names it when the connector maps names; ``None`` when
            the row as a whole is refused.
        reason: Why, in words.
        row: The row's position in its table (the first row is 1), shown as ``source#row`` when there is
            no line.
    """

    kind: str
    source: str
    line: int | None
    record: str | None
    column: str | None
    reason: str
    row: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            where = f"{self.source}:{self.line}"
        else:
            where = self.source if self.row is None else f"{self.source}#{self.row}"
        parts = [where]
        if self.record is not None:
            parts.append(f"{_kind_label(self.kind)} {self.record}")
        if self.column is not None:
            parts.append(self.column)
        return ": ".join([*parts, self.reason])


@attrs.frozen
class AppliedMapping:
    """A value map a load applied: ``source_value`` in ``column`` became ``value`` on ``rows`` rows."""

    column: str
    source_value: str
    value: str
    rows: int

    def __str__(self) -> str:
        return f"{self.column}: {self.source_value!r} -> {self.value!r} ({self.rows} row(s))"


@attrs.frozen
class Default:
    """A value the load gave because the source has none: ``value`` in ``kind.column`` on ``rows`` rows."""

    kind: str
    column: str
    value: str
    rows: int
    why: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.column} = {self.value!r} on {self.rows} row(s): {self.why}"


@attrs.frozen
class Provenance:
    """Where a load's data came from, and what in it is rebuilt rather than read.

    Attributes:
        connector: The connector's name.
        source: The path or address it read, as given.
        stage_history: ``"native"`` when stage events are read from a history the source keeps,
            ``"reconstructed"`` when they are rebuilt from other fields (dates a stage was entered, the
            current stage), ``"mixed"`` when both, ``"none"`` without stage events.
        notes: What a reader of the numbers should know about the source (a retention limit of its
            history, a rule it enforces, such as stages that only move forward).
        start: The earliest time in the data, ``None`` when there is none.
        end: The latest time in the data, ``None`` when there is none.
    """

    connector: str
    source: str
    stage_history: StageHistory = "none"
    notes: tuple[str, ...] = attrs.field(default=(), converter=_notes)
    start: datetime | None = None
    end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (times in ISO 8601)."""
        return {
            "connector": self.connector,
            "source": self.source,
            "stage_history": self.stage_history,
            "notes": list(self.notes),
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
        }


@attrs.frozen
class LoadReport:
    """What a load read, kept and refused, the mappings and defaults it applied, and its provenance.

    Attributes:
        connector: The connector's name.
        rows_read: Rows read, by record kind.
        rows_kept: Rows in the dataset, by record kind.
        refusals: Every refused row, in source order within each kind.
        mappings: Every value map applied, with how many rows it changed.
        defaults: Every value given by an option rather than the source.
        unused_columns: Columns of each source that no record field reads (nothing is dropped silently:
            they are listed here).
        provenance: Where the data came from.
        deleted: The ids of the records deleted from the source since the last load, by record kind (an
            incremental load's; :func:`~smarketing.connectors.apply_changes` removes them).
    """

    connector: str
    rows_read: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    rows_kept: Mapping[str, int] = attrs.field(factory=dict, converter=_counts)
    refusals: tuple[Refusal, ...] = attrs.field(default=(), converter=_refusals)
    mappings: tuple[AppliedMapping, ...] = attrs.field(default=(), converter=_mappings)
    defaults: tuple[Default, ...] = attrs.field(default=(), converter=_defaults)
    unused_columns: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_columns)
    provenance: Provenance | None = None
    deleted: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_deleted)

    @property
    def refused(self) -> int:
        """How many rows were refused."""
        return len(self.refusals)

    @property
    def ok(self) -> bool:
        """Whether every row read was kept."""
        return not self.refusals

    def to_frame(self) -> pl.DataFrame:
        """The refusals as a frame: kind, source, line, record, column, reason and row."""
        return pl.DataFrame(
            [attrs.astuple(r) for r in self.refusals],
            schema={
                "kind": pl.String,
                "source": pl.String,
                "line": pl.Int64,
                "record": pl.String,
                "column": pl.String,
                "reason": pl.String,
                "row": pl.Int64,
            },
            orient="row",
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON (keys in a fixed order)."""
        return {
            "connector": self.connector,
            "rows_read": dict(self.rows_read),
            "rows_kept": dict(self.rows_kept),
            "refused": self.refused,
            "refusals": [attrs.asdict(r) for r in self.refusals],
            "mappings": [attrs.asdict(m) for m in self.mappings],
            "defaults": [attrs.asdict(d) for d in self.defaults],
            "unused_columns": {k: list(v) for k, v in self.unused_columns.items()},
            "provenance": None if self.provenance is None else self.provenance.to_dict(),
            "deleted": {k: list(v) for k, v in self.deleted.items()},
        }

    def raise_for_refusals(self) -> None:
        """Raise :class:`~smarketing.errors.LoadError` if any row was refused: what strict mode does.

        The message names the first :data:`SHOWN` refusals and how many there are in all; the error
        carries this report. Every connector ends its strict ``load()`` with it.

        Raises:
            LoadError: When :attr:`refusals` is not empty.

        Examples:
            >>> refused = Refusal("leads", "leads.csv", 4, "L3", "created_at", "'yesterday' is not a time")
            >>> LoadReport("files", {"leads": 3}, {"leads": 2}, refusals=(refused,)).raise_for_refusals()
            Traceback (most recent call last):
            smarketing.errors.LoadError: files: 1 of 3 row(s) refused:
              leads.csv:4: lead L3: created_at: 'yesterday' is not a time
            load with strict=False (--lenient) to keep the other rows and get every refusal in the report
            >>> LoadReport("files", {"leads": 2}, {"leads": 2}).raise_for_refusals()  # nothing refused
        """
        if not self.refusals:
            return
        read = sum(self.rows_read.values())
        first = "\n".join(f"  {r}" for r in self.refusals[:SHOWN])
        more = f"\n  ... and {self.refused - SHOWN} more" if self.refused > SHOWN else ""
        raise LoadError(
            f"{self.connector}: {self.refused} of {read} row(s) refused:\n{first}{more}\n"
            "load with strict=False (--lenient) to keep the other rows and get every refusal in the report",
            report=self,
        )

    def summary(self, *, shown: int = SHOWN) -> str:
        """A few lines for a terminal: the counts per kind and the first ``shown`` refusals."""
        read, kept = sum(self.rows_read.values()), sum(self.rows_kept.values())
        lines = [f"{self.connector}: read {read} rows, kept {kept}, refused {self.refused}"]
        for kind in sorted({*self.rows_read, *self.rows_kept}):
            r, k = self.rows_read.get(kind, 0), self.rows_kept.get(kind, 0)
            refused = sum(1 for x in self.refusals if x.kind == kind)
            lines.append(f"  {kind}: {r} read, {k} kept, {refused} refused")
        if self.refusals:
            lines.append("refused:")
            lines += [f"  {r}" for r in self.refusals[:shown]]
            if self.refused > shown:
                lines.append(f"  ... and {self.refused - shown} more (LoadReport.refusals has them all)")
        if self.deleted:
            gone = ", ".join(f"{kind} {len(ids)}" for kind, ids in self.deleted.items())
            lines.append(f"deleted in the source since the last load: {gone}")
        for source, columns in self.unused_columns.items():
            if columns:
                lines.append(f"not read from {source}: {', '.join(columns)}")
        if self.provenance is not None:
            lines += [f"note: {n}" for n in self.provenance.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        read, kept = sum(self.rows_read.values()), sum(self.rows_kept.values())
        return f"LoadReport({self.connector!r}, read={read}, kept={kept}, refused={self.refused})"

    def _repr_html_(self) -> str:
        counts = [
            (kind, self.rows_read.get(kind, 0), self.rows_kept.get(kind, 0))
            for kind in sorted({*self.rows_read, *self.rows_kept})
        ]
        parts = [html_table(["kind", "read", "kept"], counts, caption=repr(self))]
        if self.refusals:
            rows = [(r.source, r.line, r.record, r.column, r.reason) for r in self.refusals]
            parts.append(
                html_table(["source", "line", "record", "column", "reason"], rows, caption="refused")
            )
        return "".join(parts)


class Loaded(NamedTuple):
    """What a connector's ``load`` returns: the dataset of the kept rows and the report of the load."""

    dataset: Dataset
    report: LoadReport
