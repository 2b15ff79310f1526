"""The one validation every connector ends in: raw tables in canonical columns -> a Dataset and a report.

A connector maps its source's headers and values to the canonical columns of each record kind (see the
records reference) and hands the tables to :func:`intake`, as text read from a file or already typed.
:func:`intake` then, for every kind, in whole columns (polars expressions, no Python per row):

1. parses text by the column's rule (:mod:`smarketing.records.schema`): ids, enumerated values and
   currencies without surrounding spaces; times in ISO 8601 (``2026-10-01T09:00:00+02:00``, ``...Z``, a
   space for the ``T``, seconds and fractions optional); a time without an offset only with ``time_zone``
   (the zone the source writes in; never guessed), and a date alone as the start of that day there; dates
   as ``2026-10-01``; amounts and counts as plain decimal numbers, with the ``thousands`` and ``decimal``
   separators given (``"6,000.00"`` needs ``thousands=","``; the groups must be of three digits); an empty
   cell is a missing value;
2. checks every value rule of the record model on every row (:func:`smarketing.records.schema.problems`);
3. refuses the rows that break one, then the rows that refer to a lead, deal or account that is not in the
   load or was refused (only when that kind is loaded at all), naming the place: the source, its line,
   the record id, the column and the reason;
4. builds the :class:`~smarketing.records.Dataset` of the rows kept.

In strict mode (the default) any refused row makes it raise :class:`~smarketing.errors.LoadError` (a
:class:`~smarketing.errors.DataError` holding the full report) naming the first refusals and how many
there are in all. In lenient mode it returns the rows kept and the report of every refused one.

Every row of an id that appears more than once is refused: which of them is right cannot be known.

Examples:
    >>> import polars as pl
    >>> leads = pl.DataFrame(
    ...     {
    ...         "id": ["L1", "L2", "L3"],
    ...         "created_at": ["2026-10-01 09:00", "2026-10-02T10:30:00+02:00", "yesterday"],
    ...         "line": [2, 3, 4],
    ...     }
    ... )
    >>> data, report = intake(
    ...     {"leads": RawFrame(leads, "leads.csv", lines="line")},
    ...     connector="files",
    ...     time_zone="Europe/Berlin",
    ...     strict=False,
    ... )
    >>> [t.isoformat() for t in data.leads.get_column("created_at")]
    ['2026-10-01T07:00:00+00:00', '2026-10-02T08:30:00+00:00']
    >>> print(report.refusals[0])
    leads.csv:4: lead L3: created_at: 'yesterday' is not an ISO 8601 time (such as 2026-10-01T09:00:00+02:00)
"""

from __future__ import annotations

import re
import sys
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import attrs
import narwhals as nw
import polars as pl
from tqdm import tqdm

from smarketing.connectors import _read
from smarketing.connectors.report import (
    AppliedMapping,
    Default,
    Loaded,
    LoadReport,
    Provenance,
    Refusal,
)
from smarketing.errors import DataError
from smarketing.money import Money
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.records.dataset import checked_dataset, frame_schema
from smarketing.records.schema import DEFAULT_SCALE, RULES, Rule, conform, problems

__all__ = [
    "LIST_SEPARATOR",
    "RAW_KINDS",
    "RawFrame",
    "SPLIT_COLUMNS",
    "intake",
]

#: The columns of the ``deal_splits`` table, a deal's splits one per row (the ``splits`` column of deals).
SPLIT_COLUMNS: dict[str, Rule] = {
    "deal_id": Rule("id", required=True),
    "person": Rule("id", required=True),
    "share": Rule("number", required=True),
    "kind": Rule("enum", values=("revenue", "overlay")),
}

#: The tables :func:`intake` takes: every record kind, and deal splits one per row.
RAW_KINDS = (*RECORD_KINDS, "deal_splits")

#: Which kind each reference points at, checked in this order (a refused parent refuses its children).
_REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("leads", "account_id", "accounts"),
    ("deals", "account_id", "accounts"),
    ("deals", "lead_id", "leads"),
    ("touchpoints", "lead_id", "leads"),
    ("stage_events", "lead_id", "leads"),
    ("activities", "lead_id", "leads"),
    ("dispositions", "lead_id", "leads"),
    ("feedback", "lead_id", "leads"),
    ("feedback", "account_id", "accounts"),
    ("deal_splits", "deal_id", "deals"),
)

_ROW = "_row"
#: Times as canonical files write them (and the fast path reads them): offset, fraction optional.
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
_UTC_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$"
_WHY = "_why_"
_ISO_TIME = re.compile(
    r"^(?P<day>\d{4}-\d{2}-\d{2})(?:[T ](?P<clock>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)
#: Decimal places a parsed amount may have: as many as the frame keeps (no currency has more than four).
_PLACES = DEFAULT_SCALE


@attrs.frozen
class RawFrame:
    """One table of one record kind, in canonical column names, as a connector read it.

    Attributes:
        frame: The rows; each column typed, or text as read from a file (``pl.String``).
        source: The file or table the rows came from, for messages (``"contacts.csv"``).
        lines: The name of an integer column holding each row's line in the source (the header is line 1);
            ``None`` when the source has no lines (rows are then named by their record id).
        headers: The source's name of each canonical column, for messages (``{"created_at": "Create
            Date"}``); columns not listed are named as they are.
    """

    frame: pl.DataFrame
    source: str
    lines: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Options:
    connector: str
    time_zone: str | None
    currency: str | None
    thousands: str | None
    decimal: str


# long: one table's steps, in the order the module text gives them, read best in one place
def intake(
    raw: Mapping[str, RawFrame | Callable[[], RawFrame | None]],
    *,
    connector: str,
    strict: bool = True,
    time_zone: str | None = None,
    currency: str | None = None,
    thousands: str | None = None,
    decimal: str = ".",
    mappings: Iterable[AppliedMapping] = (),
    defaults: Iterable[Default] = (),
    provenance: Provenance | None = None,
    progress: bool | None = None,
    release: bool = False,
) -> Loaded:
    """Validate raw tables into a :class:`~smarketing.records.Dataset` and the report of the load.

    Args:
        raw: A :class:`RawFrame` per record kind (``"leads"``, ...; see :data:`RAW_KINDS`), or a function
            that builds it (``None``: nothing to read after all), called when the kind's turn comes, in
            the order of :data:`RAW_KINDS`: with ``release``, a connector so holds one kind's text at a
            time. Values such a function adds to the connector's defaults or maps after the call began
            are the connector's to report (the report lists those given to this call).
        connector: The connector's name, for the report.
        strict: Raise :class:`~smarketing.errors.LoadError` when any row is refused (the default); with
            ``False``, keep the good rows and list every refused one in the report.
        time_zone: The IANA zone of times written without an offset; without it they are refused.
        currency: The ISO 4217 currency of amounts whose table has no currency column or an empty cell
            (listed in the report's defaults).
        thousands: The thousands separator of numbers, such as ``","``; ``None`` accepts none.
        decimal: The decimal separator of numbers.
        mappings: The value maps the connector applied, for the report.
        defaults: The values the connector gave, for the report.
        provenance: Where the data came from; its ``start`` and ``end`` are filled in from the data.
        progress: Show a progress bar on standard error; ``None`` shows one only on a terminal.
        release: Take each table out of ``raw`` (a ``dict``) once it is parsed, so that its text is freed
            while the others are read: for a connector handing over tables it no longer needs. Without
            it ``raw`` is left as it is.

    Raises:
        LoadError: In strict mode, when a row is refused: the first refusals and how many in all.
        DataError: A table as a whole cannot be read: a required column is missing, or a typed column
            has the wrong type.
        ValueError: An unknown kind, time zone or currency, or separators that clash.
    """
    options = _options(connector, time_zone, currency, thousands, decimal)
    unknown = sorted(set(raw) - set(RAW_KINDS))
    if unknown:
        raise ValueError(f"unknown record kind(s) {', '.join(unknown)}; known: {', '.join(RAW_KINDS)}")
    if release and not isinstance(raw, dict):
        raise TypeError(f"release: the tables must be a dict to take them out, not {type(raw).__name__}")
    kinds = [k for k in RAW_KINDS if k in raw]
    show = sys.stderr.isatty() if progress is None else progress
    defaults = list(defaults)
    tables: dict[str, _Table] = {}
    with tqdm(
        total=2 * len(kinds) + 1, desc=connector, unit="step", disable=not show, file=sys.stderr
    ) as bar:
        for kind in kinds:
            bar.set_postfix_str(f"reading {kind}")
            given = raw.pop(kind) if release and isinstance(raw, dict) else raw[kind]
            if callable(given):  # built now, when its turn comes: only one table's text at a time
                given = given()
                if given is None:  # nothing to read after all: as if the kind had not been given
                    bar.update()
                    continue
            tables[kind] = _Table.parse(kind, given, options, defaults, keep=not release)
            del given
            bar.update()
        # Splits first: a deal is checked with the splits kept, and refused with any of its splits.
        for kind in sorted(tables, key=lambda k: k != "deal_splits"):
            bar.set_postfix_str(f"checking {kind}")
            if kind == "deals" and "deal_splits" in tables:
                _attach_splits(tables["deals"], tables["deal_splits"])
            tables[kind].check()
            bar.update()
        _refuse_orphans(tables)
        bar.set_postfix_str("building the dataset")
        data = _dataset(tables)
        bar.update()
    refusals = [r for t in tables.values() for r in t.refusals()]
    report = LoadReport(
        connector=connector,
        rows_read={k: t.frame.height for k, t in tables.items()},
        rows_kept={k: t.kept() for k, t in tables.items()},
        refusals=refusals,
        mappings=mappings,
        defaults=defaults,
        unused_columns={t.raw.source: t.unused for t in tables.values() if t.unused},
        provenance=_provenance(provenance, connector, tables, data),
    )
    if strict:
        report.raise_for_refusals()
    return Loaded(data, report)


def _options(
    connector: str, time_zone: str | None, currency: str | None, thousands: str | None, decimal: str
) -> _Options:
    if time_zone is not None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time_zone: {time_zone!r} is not an IANA time zone (such as 'Europe/Berlin')"
            ) from None
    if currency is not None:
        try:
            Money.zero(currency)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"currency: {exc}") from None
    if decimal not in (".", ","):
        raise ValueError(f"decimal: must be '.' or ',', not {decimal!r}")
    if thousands is not None and (
        thousands == decimal or thousands not in (",", ".", " ", "'", "\u00a0", "_")
    ):
        raise ValueError(
            f"thousands: {thousands!r} is not a thousands separator other than decimal {decimal!r}"
        )
    return _Options(connector, time_zone, currency, thousands, decimal)


# --------------------------------------------------------------------------------------------------
# One table.


@attrs.define
class _Table:
    """One kind's table through the load: parsed columns, the reasons rows are refused, the rows kept."""

    kind: str
    raw: RawFrame
    frame: pl.DataFrame
    rules: Mapping[str, Rule]
    unused: tuple[str, ...]
    #: (row, column, reason), in the order found; a row's first reason per column is kept.
    found: list[tuple[int, str | None, str]] = attrs.Factory(list)
    refused_rows: set[int] = attrs.Factory(set)

    @classmethod
    def parse(
        cls, kind: str, raw: RawFrame, options: _Options, defaults: list[Default], *, keep: bool = True
    ) -> _Table:
        """Number the rows, set the unused columns aside, fill given defaults and parse every column.

        Without ``keep`` the table holds its source's rows no longer once they are parsed (only their
        source, lines and headers, for messages).
        """
        if not isinstance(raw, RawFrame) or not isinstance(raw.frame, pl.DataFrame):
            got = type(raw.frame if isinstance(raw, RawFrame) else raw).__name__
            raise TypeError(f"{kind}: expected a RawFrame of a polars DataFrame, not {got}")
        rules = SPLIT_COLUMNS if kind == "deal_splits" else RULES[kind]
        frame = raw.frame
        if raw.lines is not None and raw.lines not in frame.columns:
            raise ValueError(f"{raw.source}: no line column {raw.lines!r}")
        unused = tuple(c for c in frame.columns if c not in rules and c != raw.lines)
        frame = frame.drop(*unused).with_row_index(_ROW)
        if not frame.height:  # an empty table (a JSON Lines file has no header): every column, empty
            empty = [c for c in rules if c not in frame.columns and c != "splits"]
            frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in empty)
        table = cls(kind, raw, frame, rules, unused)
        table._fill_currency(options, defaults)
        table._require()
        table._parse_columns(options)
        if not keep:
            table.raw = attrs.evolve(raw, frame=raw.frame.clear())
        return table

    def header(self, column: str) -> str:
        return self.raw.headers.get(column, column)

    def _require(self) -> None:
        missing = [c for c, rule in self.rules.items() if rule.required and c not in self.frame.columns]
        if missing:
            names = ", ".join(self.header(c) for c in missing)
            raise DataError(f"{self.raw.source}: no {names} column, which every row needs", kind=self.kind)

    def _fill_currency(self, options: _Options, defaults: list[Default]) -> None:
        """Give ``currency=`` to amounts without one, and a discount its deal's currency; list both."""
        for name in (c for c, rule in self.rules.items() if rule.type == "money"):
            code = f"{name}_currency"
            if name not in self.frame.columns:
                continue
            if name == "discount" and code not in self.frame.columns and "amount_currency" in self.rules:
                source = "amount_currency" if "amount_currency" in self.frame.columns else None
                if source is not None or options.currency is not None:
                    fill = pl.col(source) if source is not None else pl.lit(options.currency)
                    self.frame = self.frame.with_columns(
                        pl.when(pl.col(name).is_not_null()).then(fill).alias(code)
                    )
                    continue
            if code not in self.frame.columns:  # so that each amount without one is refused, or given one
                self.frame = self.frame.with_columns(pl.lit(None, pl.String).alias(code))
            if options.currency is None:
                continue
            empty = (
                pl.col(code).is_null() | (pl.col(code).cast(pl.String).str.strip_chars() == "")
            ) & pl.col(name).is_not_null()
            rows = int(self.frame.select(empty.sum()).item())
            if rows:
                self.frame = self.frame.with_columns(
                    pl.when(empty).then(pl.lit(options.currency)).otherwise(pl.col(code)).alias(code)
                )
                why = "the source gives no currency for these amounts; currency= was given"
                defaults.append(Default(self.kind, code, options.currency, rows, why))

    def _parse_columns(self, options: _Options) -> None:
        """Parse every text column by its rule; refuse each cell that does not parse, with the reason.

        Each column is parsed in two steps: the canonical spelling by one vectorised call over the whole
        column (:data:`_FAST`), then only the cells that call left empty by the general parser, which
        also says why a cell fails (:data:`_PARSERS`).
        """
        given = [n for n in self.rules if n in self.frame.columns and self.frame.schema[n] == pl.String]
        self._clean([n for n in given if self.rules[n].type not in _PARSERS])
        for name in (n for n in given if self.rules[n].type in _PARSERS):
            rule = self.rules[name]
            general = _PARSERS[rule.type]
            text = self._stripped(name)
            value = _FAST[rule.type](text, options)
            todo = text.is_not_null() & value.is_null()
            if todo.any():
                where = todo.arg_true()
                cells = self.frame.select(_ROW, name)[where]
                parsed = cells.with_columns(general(name, options))
                value = value.scatter(where, parsed.get_column(name))
                why = f"{_WHY}{name}"
                for row, reason in parsed.filter(pl.col(why).is_not_null()).select(_ROW, why).iter_rows():
                    self.refuse(row, name, reason)
            self.frame = self.frame.with_columns(value.alias(name))

    def _stripped(self, name: str) -> pl.Series:
        """The column stripped, an empty cell null; the column itself when no cell needs either."""
        column = pl.col(name)
        dirty = self.frame.select((column.str.contains(r"^\s|\s$") | (column.str.len_bytes() == 0)).any())
        if not dirty.item():
            return self.frame.get_column(name)
        return self.frame.select(_blank(name)).to_series()

    def _clean(self, names: list[str]) -> None:
        """Ids, codes and texts: an empty cell is null, and all but texts lose surrounding spaces.

        Most columns need neither: one pass finds those that do (an empty cell, or a cell that
        ``str.strip_chars`` shortens), and only they are rewritten.
        """
        if not names or not self.frame.height:
            return
        code = {n: self.rules[n].type != "text" for n in names}
        needs = self.frame.select(
            (
                # what str.strip_chars would strip (White_Space), found without a stripped copy
                pl.col(n).str.contains(r"^\s|\s$") | (pl.col(n).str.len_bytes() == 0)
                if code[n]
                else pl.col(n).str.len_bytes() == 0
            )
            .any()
            .alias(n)
            for n in names
        ).row(0, named=True)
        rewrite = [n for n in names if needs[n]]
        self.frame = self.frame.with_columns(
            _blank(n).alias(n) if code[n] else _empty_null(n) for n in rewrite
        )

    def refuse(self, row: int, column: str | None, reason: str) -> None:
        self.found.append((row, column, reason))
        self.refused_rows.add(row)

    def check(self) -> None:
        """Refuse every row that breaks a value rule of its record model (dtypes first, as a whole)."""
        columns = SPLIT_COLUMNS if self.kind == "deal_splits" else None
        if columns is None:  # every rule applies, also across columns the source lacks (null there)
            schema = frame_schema(self.kind, scale=_PLACES)
            self.frame = self.frame.with_columns(
                pl.lit(None, dtype).alias(name)
                for name, dtype in schema.items()
                if name not in self.frame.columns and name != "splits"
            )
        self.frame = conform(nw.from_native(self.frame).lazy(), self.kind, columns).collect().to_native()
        seen = {(row, column) for row, column, _ in self.found}
        lf = nw.from_native(self.frame).lazy()
        for row, column, reason in problems(lf, self.kind, row=_ROW, columns=columns):
            if (row, column) not in seen:  # a cell that did not parse is not also "missing"
                self.refuse(row, column, reason)

    def kept_frame(self) -> pl.DataFrame:
        if not self.refused_rows:
            return self.frame
        return self.frame.filter(~pl.col(_ROW).is_in(sorted(self.refused_rows)))

    def ids(self, column: str) -> pl.Series:
        return self.kept_frame().get_column(column)

    def kept(self) -> int:
        return self.frame.height - len(self.refused_rows)

    def refusals(self) -> list[Refusal]:
        """The refusals of this table, in row order (then the order found), with lines and record ids."""
        if not self.found:
            return []
        ident = next((c for c in ("id", "lead_id", "deal_id") if c in self.frame.columns), None)
        rows = sorted({row for row, _, _ in self.found})
        wanted = [_ROW, *([ident] if ident else []), *([self.raw.lines] if self.raw.lines else [])]
        where = {
            r[_ROW]: r
            for r in self.frame.filter(pl.col(_ROW).is_in(rows)).select(wanted).iter_rows(named=True)
        }
        out = []
        for row, column, reason in sorted(self.found, key=lambda f: f[0]):
            info = where.get(row, {})
            record = info.get(ident) if ident else None
            line = info.get(self.raw.lines) if self.raw.lines else None
            out.append(
                Refusal(
                    kind=self.kind,
                    source=self.raw.source,
                    line=None if line is None else int(line),
                    record=None if record is None else str(record),
                    column=None if column is None else self.header(column),
                    reason=reason,
                    row=row + 1,
                )
            )
        return out


def _refuse_orphans(tables: Mapping[str, _Table]) -> None:
    """Refuse rows that refer to a lead, deal or account not in the load, or refused (when loaded at all).

    The references are first counted all at once (in parallel); only when some row is an orphan are they
    gone through one by one, in :data:`_REFERENCES` order, since a refused parent refuses its children.
    """
    if not _any_orphans(tables):
        return
    for kind, column, parent in _REFERENCES:
        child, target = tables.get(kind), tables.get(parent)
        if child is None or target is None or column not in child.frame.columns:
            continue
        kept = target.ids("id").implode()
        orphans = (
            child.kept_frame()
            .filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(kept))
            .select(_ROW, column)
        )
        if not orphans.height:
            continue
        refused = target.frame.filter(pl.col(_ROW).is_in(sorted(target.refused_rows))).get_column("id")
        label = RECORD_KINDS[parent].kind
        refused_ids = set(refused.to_list())
        for row, ref in orphans.iter_rows():
            why = "was refused" if ref in refused_ids else f"is not in the load ({target.raw.source})"
            child.refuse(row, column, f"{label} {ref} {why}")


def _orphan_query(child: _Table, column: str, target: _Table) -> pl.LazyFrame:
    """How many rows of ``child`` refer by ``column`` to no kept row of ``target``."""
    kept = target.kept_frame().lazy().select(pl.col("id").alias(column))
    return (
        child.kept_frame()
        .lazy()
        .select(column)
        .filter(pl.col(column).is_not_null())
        .join(kept, on=column, how="anti")
        .select(pl.len())
    )


def _any_orphans(tables: Mapping[str, _Table]) -> bool:
    """Whether any reference points at no kept row (every reference counted in one parallel query)."""
    queries = [
        _orphan_query(child, column, target)
        for kind, column, parent in _REFERENCES
        if (child := tables.get(kind)) is not None
        and (target := tables.get(parent)) is not None
        and column in child.frame.columns
    ]
    return any(frame.item() for frame in pl.collect_all(queries)) if queries else False


def _attach_splits(deals: _Table, splits: _Table) -> None:
    """Give each deal the ``splits`` list of its split rows kept; refuse a deal whose split was refused."""
    if "splits" in deals.frame.columns:
        raise DataError(
            f"{deals.raw.source}: deals have a splits column and there is a deal_splits table; give one",
            kind="deals",
        )
    kept = splits.frame.filter(~pl.col(_ROW).is_in(sorted(splits.refused_rows)))
    kind = pl.col("kind").fill_null("revenue") if "kind" in kept.columns else pl.lit("revenue")
    lists = (
        kept.sort(_ROW)
        .group_by("deal_id", maintain_order=True)
        .agg(
            pl.struct("person", pl.col("share").cast(pl.Decimal(38, _PLACES)), kind.alias("kind")).alias(
                "splits"
            )
        )
    )
    deals.frame = deals.frame.join(lists, left_on="id", right_on="deal_id", how="left", maintain_order="left")
    refused = splits.frame.filter(pl.col(_ROW).is_in(sorted(splits.refused_rows))).get_column("deal_id")
    lines = deals.frame.filter(pl.col("id").is_in(refused.implode())).get_column(_ROW)
    for row in lines:
        deals.refuse(row, "splits", f"a split of this deal was refused ({splits.raw.source})")


def _dataset(tables: Mapping[str, _Table]) -> Dataset:
    """The kept rows of every record kind in canonical columns and dtypes."""
    frames = {
        kind: _canonical(kind, table.kept_frame()) for kind, table in tables.items() if kind != "deal_splits"
    }
    return checked_dataset(frames)  # every rule of the Dataset constructor was checked row by row


def _canonical(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The record kind's columns in the model's order and dtypes, defaults filled in.

    A value the source lacks is the field's default (``""`` for a note or a name, an empty list of
    splits) or null.
    """
    schema = frame_schema(kind, scale=_PLACES)
    fields = {f.alias or n: f for n, f in RECORD_KINDS[kind].model_fields.items()}
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        field = fields.get(name)
        if isinstance(dtype, pl.List):
            column = column.fill_null([])
        elif field is not None and isinstance(field.default, str):
            column = column.fill_null(field.default)
        columns.append(column)
    return frame.select(columns)


def _provenance(
    given: Provenance | None, connector: str, tables: Mapping[str, _Table], data: Dataset
) -> Provenance:
    """The provenance given (or a plain one), with the time window the data covers filled in."""
    sources = ", ".join(t.raw.source for t in tables.values())
    result = given or Provenance(
        connector, sources, stage_history="native" if data.stage_events.height else "none"
    )
    times = [
        frame.get_column(name)
        for kind, frame in data.frames().items()
        for name, rule in RULES[kind].items()
        if rule.type == "time" and frame.height
    ]
    lows = [low for t in times if isinstance(low := t.min(), datetime)]
    highs = [high for t in times if isinstance(high := t.max(), datetime)]
    return attrs.evolve(
        result,
        start=result.start if result.start is not None else (min(lows) if lows else None),
        end=result.end if result.end is not None else (max(highs) if highs else None),
    )


# --------------------------------------------------------------------------------------------------
# Parsing text cells, one expression per column and one reason column per column.


def _blank(name: str) -> pl.Expr:
    """The cell, stripped; an empty cell is null."""
    text = pl.col(name).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _why(name: str, bad: pl.Expr, reason: pl.Expr) -> pl.Expr:
    return pl.when(bad).then(reason).otherwise(None).alias(f"{_WHY}{name}")


def _quoted(name: str) -> pl.Expr:
    """The raw cell as Python's repr would show it (single quotes), for reasons."""
    return pl.lit("'") + pl.col(name).str.replace_all("'", "\\'", literal=True) + pl.lit("'")


def _empty_null(name: str) -> pl.Expr:
    """Free text is kept as written; an empty cell is null."""
    return pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name)


def _parse_time(name: str, options: _Options) -> list[pl.Expr]:
    """ISO 8601 times to UTC; one without an offset in ``time_zone`` (or refused without one)."""
    text = _blank(name)
    parts = text.str.extract_groups(_ISO_TIME.pattern)
    day, clock, zone = parts.struct.field("day"), parts.struct.field("clock"), parts.struct.field("zone")
    clock = (
        pl.when(clock.is_null())
        .then(pl.lit("00:00:00"))
        .when(clock.str.len_chars() == 5)
        .then(clock + ":00")
        .otherwise(clock)
    )
    local = (day + "T" + clock).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    digits = zone.str.replace_all(r"[^0-9]", "")
    offset = sign * (
        digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
        + digits.str.slice(2, 2).cast(pl.Int64, strict=False)
    )
    aware = (
        local - pl.duration(minutes=pl.when(zone == "Z").then(0).otherwise(offset))
    ).dt.replace_time_zone("UTC")
    if options.time_zone is not None:
        tz = options.time_zone
        zoned = local.dt.replace_time_zone(tz, ambiguous="null", non_existent="null").dt.convert_time_zone(
            "UTC"
        )
        twice = local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").is_not_null()
    else:
        zoned = pl.lit(None, pl.Datetime("us", "UTC"))
        twice = pl.lit(False)
    value = pl.when(zone.is_not_null()).then(aware).otherwise(zoned).alias(name)
    reason = (
        pl.when(day.is_null() | local.is_null())
        .then(_quoted(name) + " is not an ISO 8601 time (such as 2026-10-01T09:00:00+02:00)")
        .when(zone.is_null() & pl.lit(options.time_zone is None))
        .then(_quoted(name) + " has no UTC offset; pass time_zone= (the zone the source writes times in)")
        .when(twice)
        .then(_quoted(name) + f" happens twice in {options.time_zone} (the clocks go back); give its offset")
        .otherwise(_quoted(name) + f" does not exist in {options.time_zone} (the clocks skip it)")
    )
    return [value, _why(name, text.is_not_null() & value.is_null(), reason)]


def _parse_date(name: str, options: _Options) -> list[pl.Expr]:
    text = _blank(name)
    value = text.str.to_date("%Y-%m-%d", strict=False)
    ok = text.str.contains(r"^\d{4}-\d{2}-\d{2}$")
    value = pl.when(ok).then(value).otherwise(None).alias(name)
    reason = _quoted(name) + " is not an ISO 8601 date (such as 2026-10-01)"
    return [value, _why(name, text.is_not_null() & value.is_null(), reason)]


def _number_pattern(options: _Options, *, fraction: bool) -> str:
    """A plain decimal number, with groups of three digits when a thousands separator is given."""
    plain = r"\d+"
    if options.thousands is not None:
        plain = rf"(?:\d+|\d{{1,3}}(?:{re.escape(options.thousands)}\d{{3}})+)"
    tail = rf"(?:{re.escape(options.decimal)}\d+)?" if fraction else ""
    return rf"^[+-]?{plain}{tail}$"


def _plain_number(text: pl.Expr, options: _Options) -> pl.Expr:
    """A number's text without thousands separators and with ``.`` as its decimal point."""
    if options.thousands is not None:
        text = text.str.replace_all(options.thousands, "", literal=True)
    if options.decimal != ".":
        text = text.str.replace_all(options.decimal, ".", literal=True)
    return text.str.strip_prefix("+")


def _parse_decimal(name: str, options: _Options) -> list[pl.Expr]:
    """Exact decimal amounts (never through a float); more places than the frame keeps are refused."""
    text = _blank(name)
    ok = text.str.contains(_number_pattern(options, fraction=True))
    plain = _plain_number(text, options)
    places = plain.str.extract(r"\.(\d+)$").str.len_chars().fill_null(0)
    digits = plain.str.replace(r"^-", "").str.extract(r"^(\d+)").str.len_chars()
    fits = ok & (places <= _PLACES) & (digits <= 38 - _PLACES)
    value = pl.when(fits).then(plain).otherwise(None).cast(pl.Decimal(38, _PLACES), strict=False).alias(name)
    example = "6000.00" if options.thousands is None else f"6{options.thousands}000{options.decimal}00"
    reason = (
        pl.when(~ok)
        .then(_quoted(name) + f" is not a plain decimal number (such as {example}{_separator_hint(options)})")
        .when(places > _PLACES)
        .then(_quoted(name) + " has digits below any currency's minor unit")
        .otherwise(_quoted(name) + " has too many digits")
    )
    return [value, _why(name, text.is_not_null() & value.is_null(), reason)]


def _separator_hint(options: _Options) -> str:
    if options.thousands is None:
        return "; pass thousands=',' for numbers such as 6,000.00"
    return ""


def _parse_count(name: str, options: _Options) -> list[pl.Expr]:
    text = _blank(name)
    ok = text.str.contains(_number_pattern(options, fraction=False))
    value = (
        pl.when(ok)
        .then(_plain_number(text, options))
        .otherwise(None)
        .cast(pl.Int64, strict=False)
        .alias(name)
    )
    reason = _quoted(name) + " is not a whole number in range"
    return [value, _why(name, text.is_not_null() & value.is_null(), reason)]


def _fast_time(text: pl.Series, options: _Options) -> pl.Series:
    """Salesforce's ``...T09:00:00.000Z`` first; the rest with an offset (``+02:00``) or in UTC (``Z``)."""
    if not text.str.ends_with("Z").any():  # canonical files write offsets: no pattern search for them
        return _offset_or_utc_time(text)
    value, rest = _read.millisecond_utc(text)
    if not rest.any():
        return value
    return value.fill_null(_offset_or_utc_time(pl.select(pl.when(rest).then(text)).to_series()))


def _offset_or_utc_time(text: pl.Series) -> pl.Series:
    """With an offset (``+02:00``) or, where none parses, in UTC written ``Z``."""
    value = _canonical_time(text)
    if value.null_count() > text.null_count():  # other spellings: the general parser, on those rows only
        rest = pl.select(pl.when(value.is_null()).then(text)).to_series()
        general = rest.str.to_datetime(_ISO_FORMAT, strict=False, time_unit="us", cache=False)
        value = value.fill_null(general.dt.convert_time_zone("UTC"))
    if value.null_count() == text.null_count() or not text.str.ends_with("Z").any():
        return value
    utc = text.str.to_datetime(_UTC_FORMAT, strict=False, time_unit="us", time_zone="UTC", cache=False)
    # Only the spelling the general parser reads (chrono alone would take a sign or ten fraction digits).
    utc = pl.select(pl.when(text.str.contains(_UTC_TEXT)).then(utc)).to_series()
    return value.fill_null(utc)


#: The spelling the canonical files write (``2026-10-01T09:00:00.250+02:00``), read by position: a second
#: fraction of up to six digits and an offset of at most 23:59. Others go through the general parser.
_CANONICAL_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-](?:[01]\d|2[0-3]):[0-5]\d$"


def _canonical_time(text: pl.Series) -> pl.Series:
    """Times in the canonical spelling to UTC, read by position (null where the spelling differs).

    The same values as ``%Y-%m-%dT%H:%M:%S%.f%:z``, in about half the time: the fraction of a second and
    the offset defeat the parser's fast path, so the seconds are parsed alone and the rest added.
    """
    cell = pl.col(text.name)
    zone = cell.str.tail(6)
    minutes = zone.str.slice(1, 2).cast(pl.Int64, strict=False) * 60 + zone.str.slice(4, 2).cast(
        pl.Int64, strict=False
    )
    offset = pl.when(zone.str.starts_with("-")).then(-minutes).otherwise(minutes)
    micros = cell.str.head(-6).str.slice(20).str.pad_end(6, "0").cast(pl.Int64, strict=False)
    local = cell.str.head(19).str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us", cache=False)
    value = pl.when(cell.str.contains(_CANONICAL_TIME)).then(
        local + pl.duration(microseconds=micros, minutes=-offset)
    )
    return text.to_frame().select(value.dt.replace_time_zone("UTC").alias(text.name)).to_series()


def _fast_date(text: pl.Series, options: _Options) -> pl.Series:
    return text.str.to_date("%Y-%m-%d", strict=False, cache=False)


def _fast_decimal(text: pl.Series, options: _Options) -> pl.Series:
    if options.thousands is not None or options.decimal != ".":
        return pl.Series(text.name, [None] * len(text), pl.Decimal(38, _PLACES))
    plain = text.str.contains(rf"^-?\d{{1,{38 - _PLACES}}}(?:\.\d{{1,{_PLACES}}})?$")
    return pl.select(pl.when(plain).then(text).cast(pl.Decimal(38, _PLACES), strict=False)).to_series()


def _fast_count(text: pl.Series, options: _Options) -> pl.Series:
    plain = text.str.contains(r"^-?\d{1,18}$")
    return pl.select(pl.when(plain).then(text).cast(pl.Int64, strict=False)).to_series()


#: How a text cell holds a list (``tags``, ``seen_by``): items separated by this, spaces around them dropped.
LIST_SEPARATOR = ";"


def _fast_texts(text: pl.Series, options: _Options) -> pl.Series:
    """``"pricing; onboarding"`` -> ``["pricing", "onboarding"]``; empty items are dropped, never refused."""
    items = text.str.split(LIST_SEPARATOR).list.eval(pl.element().str.strip_chars())
    return items.list.eval(pl.element().filter(pl.element() != ""))


def _parse_texts(name: str, options: _Options) -> list[pl.Expr]:
    # Never reached: every cell of a list parses (_fast_texts gives no null for a cell with text).
    return [pl.col(name).str.split(LIST_SEPARATOR), pl.lit(None, pl.String).alias(f"{_WHY}{name}")]


#: The canonical spelling of each type, parsed in one call over a whole column.
_FAST: dict[str, Callable[[pl.Series, _Options], pl.Series]] = {
    "time": _fast_time,
    "date": _fast_date,
    "money": _fast_decimal,
    "number": _fast_decimal,
    "count": _fast_count,
    "texts": _fast_texts,
}

#: Every spelling each type accepts, with the reason a cell fails (run on the cells the fast call left).
_PARSERS: dict[str, Callable[[str, _Options], list[pl.Expr]]] = {
    "time": _parse_time,
    "date": _parse_date,
    "money": _parse_decimal,
    "number": _parse_decimal,
    "count": _parse_count,
    "texts": _parse_texts,
}
