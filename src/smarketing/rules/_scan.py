"""The data rules' passes over the data, run where the data lives (private).

Every record kind is read **once** for the value rules (``D001`` stages, ``D002``'s leads with stages not of
the journey, ``D003`` people, ``D004`` teams, ``D005`` reasons, ``D006`` currencies, ``D007`` leads,
``D014``'s weekly counts) as one map of :mod:`smarketing.frames._engine` over partitions of complete
records (by ``id``, or by ``lead_id`` for kinds without one): per check, the rows that break it and the
distinct records among them (sums), the values at fault (a set union) and the first records by id
(top-k, :meth:`~smarketing.frames._engine.Partials.first`); per kind, its rows and its latest time (the
data's end). Given PySpark DataFrames the maps run on Spark partitions and only the merged tables reach the
driver; given anything else the kind's checked polars ``LazyFrame`` is one partition, and the pass reads
only the columns its checks read (a projection of a ``pl.scan_parquet``). Either way the merged tables are
the same, so a rule's finding is the same.

A check that needs another kind (``D007``: the records whose lead is not in the data) is prepared on the
engine first: the kind's frame is joined with the leads' ids there (a flag column ``_lead_known``), never
a polars frame with an engine frame.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal

import attrs
import polars as pl

from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy

__all__ = [
    "SHOWN",
    "Check",
    "Found",
    "KindScan",
    "Pass",
    "checked_sources",
    "scan",
    "scan_kinds",
    "unknown_leads",
]

#: Values and records a finding names before "and N more".
SHOWN: Final = 5
#: Example leads named per spike week (``D014``).
SPIKE_EXAMPLES: Final = 3

#: The time column of each kind whose latest value counts toward the data's end.
TIMES: Final[Mapping[str, str]] = {
    "leads": "created_at",
    "touchpoints": "time",
    "activities": "time",
    "stage_events": "time",
    "dispositions": "time",
    "feedback": "time",
}

_KNOWN: Final = "_lead_known"
_KIND, _PART = "_kind", "_part"
_UTC: Final = pl.Datetime("us", "UTC")

How = Literal["unknown", "equals", "orphan", "stranger", "unread"]


@attrs.frozen
class Check:
    """One count a kind's pass makes: the rows of the kind that break a rule.

    Attributes:
        name: Unique within the pass (``"D001 to"``).
        column: The column read; ``"splits.person"`` is the people of a deal's splits (one row per split),
            ``"seen_by"`` the teams of a feedback (one row per feedback: its first unknown team).
        how: ``unknown``: a value not in ``values``; ``equals``: the value ``values[0]`` (and, with
            ``before``, a deal dated before it); ``orphan``: a value whose lead is not in the data;
            ``stranger``: a ``to`` or ``from`` not in ``values`` (a lead's events, ``D002``); ``unread``:
            feedback from before ``since`` that no team has seen.
        values: See ``how``.
        before: See ``how``.
        since: See ``how``.
    """

    name: str
    column: str
    how: How = "unknown"
    values: tuple[str, ...] = ()
    before: date | None = None
    since: datetime | None = None


@attrs.frozen
class Found:
    """What one check counted, merged over every partition."""

    rows: int
    records: int
    values: tuple[str, ...]
    value_count: int
    first: tuple[str, ...]
    oldest: datetime | None


@attrs.frozen
class KindScan:
    """One kind's pass: each check's :class:`Found`, the kind's rows and latest time, and ``D014``'s weeks."""

    key: str
    rows: int
    end: datetime | None
    found: Mapping[str, Found]
    weeks: pl.DataFrame | None = None
    spike_ids: pl.DataFrame | None = None


def checked_sources(data: Any) -> dict[str, Any]:
    """Each kind where the data rules read it: a PySpark DataFrame as given, else its checked ``LazyFrame``.

    A polars input is checked here, every kind and column (the same :class:`~smarketing.errors.DataError`
    as every analysis), one aggregation per kind, and stays lazy: a ``pl.scan_parquet`` is not held in
    memory. When every frame given is a PySpark DataFrame they stay on Spark, each map checking its
    partition (the columns it reads); frames of several engines are all read by polars.
    """
    from smarketing.frames import of_kind  # noqa: PLC0415 (beside as_lazy)
    from smarketing.records import RECORD_KINDS  # noqa: PLC0415

    given = {kind: of_kind(data, kind) for kind in RECORD_KINDS}
    spark = [kind for kind, native in given.items() if native is not None and engine.is_spark(native)]
    if spark and len(spark) == sum(native is not None for native in given.values()):
        # Every frame given is on Spark (a kind not given is empty, in polars: no row to read).
        return {kind: given[kind] if kind in spark else as_lazy(data, kind).to_native() for kind in given}
    # Polars, or frames of several engines: each kind checked and read by polars' lazy engine.
    return {kind: as_lazy(data, kind).to_native() for kind in given}


def columns_of(source: Any) -> list[str]:
    """The column names of a checked ``LazyFrame`` or a PySpark DataFrame."""
    if isinstance(source, pl.LazyFrame):
        return source.collect_schema().names()
    return list(source.columns)


@attrs.frozen
class Pass:
    """One kind's pass: its record key, time column, checks and the columns they read."""

    kind: str
    key: str
    time: str | None
    checks: tuple[Check, ...]
    weeks: bool
    columns: tuple[str, ...]


def scan(
    kind: str, source: Any, checks: Sequence[Check], *, lead_ids: Any = None, weeks: bool = False
) -> KindScan:
    """Run ``checks`` over ``source`` (one kind) where it lives (:func:`scan_kinds` for one kind)."""
    return scan_kinds({kind: (source, tuple(checks), weeks)}, lead_ids=lead_ids)[kind]


def scan_kinds(
    passes: Mapping[str, tuple[Any, Sequence[Check], bool]], *, lead_ids: Any = None
) -> dict[str, KindScan]:
    """Run each kind's checks over its source where it lives; with ``lead_ids``, ``orphan`` checks too.

    ``passes`` maps a kind to its source, its checks and whether to count ``D014``'s new leads per
    campaign and week. ``lead_ids`` is the leads' source: a kind of the same engine is joined with it
    there. PySpark sources run as **one** Spark job (their projections in one union, partitioned by each
    kind's record key); other sources run one after another, each as one partition.
    """
    specs: dict[str, Pass] = {}
    prepared: dict[str, Any] = {}
    for kind, (source, checks, weeks) in passes.items():
        specs[kind], prepared[kind] = _prepare(kind, source, checks, weeks, lead_ids)
    tables = _tables()
    out: dict[str, KindScan] = {}
    on_spark = [kind for kind in specs if engine.is_spark(prepared[kind])]
    if on_spark:
        union, columns = _union([specs[k] for k in on_spark], [prepared[k] for k in on_spark])
        fn = functools.partial(_union_map, specs=tuple(specs[k] for k in on_spark))
        partials = engine.run(union, fn, tables, kind="records", key=_PART, columns=columns)
        out |= {kind: _finish(partials, specs[kind]) for kind in on_spark}
    for kind, spec in specs.items():
        if kind not in out:
            fn = functools.partial(_map, spec=spec, spark=False)
            run = engine.run(prepared[kind], fn, tables, kind=kind, key=spec.key, columns=spec.columns)
            out[kind] = _finish(run, spec)
    return out


def _prepare(kind: str, source: Any, checks: Sequence[Check], weeks: bool, lead_ids: Any) -> tuple[Pass, Any]:
    """The kind's :class:`Pass` and its source (joined with the leads' ids for ``orphan`` checks)."""
    names = columns_of(source)
    key = "id" if "id" in names else "lead_id"
    time = TIMES.get(kind) if TIMES.get(kind) in names else None
    same_engine = lead_ids is not None and engine.is_spark(lead_ids) == engine.is_spark(source)
    orphan = same_engine and "lead_id" in names and any(c.how == "orphan" for c in checks)
    kept = tuple(c for c in checks if c.how != "orphan" or orphan)
    reads = {key, *(c.column.partition(".")[0] for c in kept)}
    reads |= {"to", "from"} if any(c.how == "stranger" for c in kept) else set()
    reads |= {"close_date", "created_at"} if any(c.before is not None for c in kept) else set()
    reads |= {time} if time else set()
    reads |= {"id", "campaign", "created_at"} if weeks else set()
    columns = [c for c in names if c in reads]
    if orphan:
        source = _with_lead_flag(source, lead_ids)
        columns.append(_KNOWN)
    return Pass(kind, key, time, kept, weeks, tuple(columns)), source


def _finish(partials: engine.Partials, spec: Pass) -> KindScan:
    """One kind's :class:`KindScan` from the merged tables."""
    mine = pl.col("kind") == spec.kind
    size = partials.merged("size").filter(mine)
    rows, end = (int(size.item(0, "rows") or 0), size.item(0, "end")) if len(size) else (0, None)
    counted = {r["check"]: r for r in partials.merged("n").filter(mine).iter_rows(named=True)}
    values = partials.merged("values").filter(mine)
    first = partials.first("first").filter(mine)
    found = {}
    for c in spec.checks:
        got = counted.get(c.name)
        if got is None or not got["rows"]:
            continue
        listed = values.filter(pl.col("check") == c.name).get_column("value").sort()
        ids = first.filter(pl.col("check") == c.name).get_column("record").sort()
        found[c.name] = Found(
            rows=int(got["rows"]),
            records=int(got["records"]),
            values=tuple(listed.head(SHOWN).to_list()),
            value_count=listed.len(),
            first=tuple(ids.to_list()),
            oldest=got["oldest"],
        )
    scanned = KindScan(key=spec.key, rows=rows, end=end, found=found)
    if spec.weeks:
        return attrs.evolve(scanned, weeks=partials.merged("weeks"), spike_ids=partials.first("spike_ids"))
    return scanned


def _union(specs: Sequence[Pass], sources: Sequence[Any]) -> tuple[Any, list[str]]:
    """The Spark sources' projections in one frame: ``_kind``, ``_part`` (the key), ``<kind>__<col>``."""
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    frames = [
        source.select(
            F.lit(spec.kind).alias(_KIND),
            F.col(f"`{spec.key}`").cast("string").alias(_PART),
            *(F.col(f"`{c}`").alias(f"{spec.kind}__{c}") for c in spec.columns),
        )
        for spec, source in zip(specs, sources, strict=True)
    ]
    union = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    return union, list(union.columns)


def _union_map(part: pl.DataFrame, *, specs: Sequence[Pass]) -> dict[str, pl.DataFrame]:
    """A partition of the union: each kind's rows mapped as that kind's partition."""
    outs = []
    for spec in specs:
        rows = part.filter(pl.col(_KIND) == spec.kind)
        if rows.is_empty():
            continue
        frame = rows.select(pl.col(f"{spec.kind}__{c}").alias(c) for c in spec.columns)
        outs.append(_map(frame, spec=spec, spark=True))
    return {name: pl.concat([o[name] for o in outs]) if outs else t.empty() for name, t in _tables().items()}


def _tables() -> dict[str, engine.Partial]:
    """The pass's partial tables: per kind its size; per check its counts, values and first records; weeks."""
    kind = {"kind": pl.String()}
    return {
        "size": engine.Partial(
            {**kind, "rows": pl.Int64(), "end": _UTC}, keys=("kind",), aggs={"rows": "sum", "end": "max"}
        ),
        "n": engine.Partial(
            {**kind, "check": pl.String(), "rows": pl.Int64(), "records": pl.Int64(), "oldest": _UTC},
            keys=("kind", "check"),
            aggs={"rows": "sum", "records": "sum", "oldest": "min"},
        ),
        "values": engine.Partial(
            {**kind, "check": pl.String(), "value": pl.String()}, keys=("kind", "check", "value")
        ),
        "first": engine.Partial(
            {**kind, "check": pl.String(), "record": pl.String()},
            keys=("kind", "check"),
            order=("record",),
            count=SHOWN,
        ),
        "weeks": engine.Partial(
            {"campaign": pl.String(), "week": pl.Int32(), "leads": pl.Int64()},
            keys=("campaign", "week"),
            aggs={"leads": "sum"},
        ),
        "spike_ids": engine.Partial(
            {"campaign": pl.String(), "week": pl.Int32(), "id": pl.String()},
            keys=("campaign", "week"),
            order=("id",),
            count=SPIKE_EXAMPLES,
        ),
    }


def _with_lead_flag(source: Any, lead_ids: Any) -> Any:
    """``source`` with ``_lead_known``: whether its ``lead_id`` is a lead of the data (joined there)."""
    if isinstance(source, pl.LazyFrame):
        known = (
            lead_ids.select(pl.col("id").alias("lead_id")).unique().with_columns(pl.lit(True).alias(_KNOWN))
        )
        return source.join(known, on="lead_id", how="left")
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    known = lead_ids.select(F.col("id").alias("lead_id")).distinct().withColumn(_KNOWN, F.lit(True))
    return source.join(known, on="lead_id", how="left")


def unknown_leads(source: Any, stages: Sequence[str]) -> Any:
    """The stage events of leads with no ``to`` or ``from`` of ``stages`` (``D002``), on their engine."""
    names = columns_of(source)
    ends = [c for c in ("to", "from") if c in names]
    if isinstance(source, pl.LazyFrame):
        known = pl.Series(list(stages), dtype=pl.String).implode()
        bad = pl.any_horizontal(pl.col(c).is_not_null() & ~pl.col(c).is_in(known) for c in ends)
        strangers = source.filter(bad).select("lead_id").unique()
        return source.join(strangers, on="lead_id", how="anti")
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    cond = None
    for c in ends:
        one = F.col(f"`{c}`").isNotNull() & ~F.col(f"`{c}`").isin(list(stages))
        cond = one if cond is None else cond | one
    if cond is None:
        return source
    strangers = source.where(cond).select("lead_id").distinct()
    return source.join(strangers, on="lead_id", how="left_anti")


def _partition(part: Any, kind: str, columns: Sequence[str], *, spark: bool) -> pl.DataFrame:
    """A partition as a polars frame: a Spark one checked here (only the columns read), a local one read."""
    if not spark:
        frame = part.select(columns).collect() if isinstance(part, pl.LazyFrame) else part.select(columns)
        assert isinstance(frame, pl.DataFrame)
        return frame
    flag = part.get_column(_KNOWN) if _KNOWN in part.columns else None
    records = part.drop(_KNOWN) if flag is not None else part
    checked = as_lazy(records, kind).collect().to_native()
    assert isinstance(checked, pl.DataFrame)
    return checked.with_columns(flag) if flag is not None else checked


def _bad(frame: pl.DataFrame, c: Check, key: str) -> pl.DataFrame:
    """The rows breaking ``c``: ``key``, ``value`` (text) and, when the kind has one, its time."""
    keep = [col for col in ("time",) if col in frame.columns]
    known = pl.Series(list(c.values), dtype=pl.String).implode()
    if c.column == "splits.person":
        if "splits" not in frame.columns:
            return pl.DataFrame(schema={key: pl.String, "value": pl.String})
        rows = (
            frame.select(key, "splits")
            .explode("splits")
            .filter(pl.col("splits").is_not_null())
            .select(key, pl.col("splits").struct.field("person").alias("value"))
        )
        return rows.filter(pl.col("value").is_not_null() & ~pl.col("value").is_in(known))
    if c.column == "seen_by" and c.how == "unknown":
        if "seen_by" not in frame.columns:
            return pl.DataFrame(schema={key: pl.String, "value": pl.String})
        rows = frame.select(key, pl.col("seen_by").alias("value"), *keep).explode("value")
        rows = rows.filter(pl.col("value").is_not_null() & ~pl.col("value").is_in(known))
        return rows.unique(key, keep="first", maintain_order=True)
    if c.how == "unread":
        seen = pl.col("seen_by").list.len() if "seen_by" in frame.columns else pl.lit(0)
        old = frame.filter((pl.col("time") < c.since) & (seen.fill_null(0) == 0))
        return old.select(key, pl.col(key).cast(pl.String).alias("value"), *keep)
    if c.how == "stranger":
        ends = [e for e in ("to", "from") if e in frame.columns]
        if not ends:
            return pl.DataFrame(schema={key: pl.String, "value": pl.String})
        bad = pl.any_horizontal(pl.col(e).is_not_null() & ~pl.col(e).is_in(known) for e in ends)
        return frame.filter(bad).select(key, pl.col(key).cast(pl.String).alias("value"), *keep)
    if c.column not in frame.columns:
        return pl.DataFrame(schema={key: pl.String, "value": pl.String})
    value = pl.col(c.column)
    if c.how == "unknown":
        cond = value.is_not_null() & ~value.is_in(known)
    elif c.how == "orphan":
        cond = value.is_not_null() & ~pl.col(_KNOWN).fill_null(False)
    else:
        cond = value == c.values[0]
        if c.before is not None:
            days = [pl.col(d).cast(pl.Date) for d in ("close_date", "created_at") if d in frame.columns]
            day = pl.coalesce(days) if days else pl.lit(None, pl.Date)
            cond = cond & (day < c.before)
    return frame.filter(cond).select(key, value.cast(pl.String).alias("value"), *keep)


def _map(part: Any, *, spec: Pass, spark: bool) -> dict[str, pl.DataFrame]:
    """One partition's partial tables (the partition holds complete records of the kind's key)."""
    frame = _partition(part, spec.kind, spec.columns, spark=spark)
    key, time = spec.key, spec.time
    if time is not None and time != "time":
        frame = frame.with_columns(pl.col(time).alias("time"))
    latest = frame.get_column(time).max() if time is not None else None
    kind = pl.lit(spec.kind).alias("kind")
    out: dict[str, pl.DataFrame] = {
        "size": pl.DataFrame(
            {"kind": [spec.kind], "rows": [frame.height], "end": [latest]},
            schema={"kind": pl.String, "rows": pl.Int64, "end": _UTC},
        )
    }
    counts, values, first = [], [], []
    for c in spec.checks:
        bad = _bad(frame, c, key)
        if bad.is_empty():
            continue
        records = bad.get_column(key).cast(pl.String).unique()
        oldest = bad.get_column("time").min() if "time" in bad.columns else None
        counts.append(
            pl.DataFrame(
                {"check": [c.name], "rows": [bad.height], "records": [records.len()], "oldest": [oldest]},
                schema={"check": pl.String, "rows": pl.Int64, "records": pl.Int64, "oldest": _UTC},
            )
        )
        values.append(bad.select(pl.lit(c.name).alias("check"), "value").unique())
        shown = records.sort(nulls_last=True).head(SHOWN)
        first.append(pl.DataFrame({"check": [c.name] * shown.len(), "record": shown}))
    checks = {"check": pl.String}
    out["n"] = _concat(counts, {**checks, "rows": pl.Int64, "records": pl.Int64, "oldest": _UTC})
    out["values"] = _concat(values, {**checks, "value": pl.String})
    out["first"] = _concat(first, {**checks, "record": pl.String})
    for name in ("n", "values", "first"):
        out[name] = out[name].select(kind, pl.all())
    weeks = _weeks(frame if spec.weeks else frame.clear())
    return out | weeks


def _concat(frames: list[pl.DataFrame], schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))


def _weeks(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``D014``: new leads per campaign and week (its Monday in UTC, in days since 1970), first ids."""
    if "campaign" not in frame.columns or "created_at" not in frame.columns:
        return {
            "weeks": pl.DataFrame(schema={"campaign": pl.String, "week": pl.Int32, "leads": pl.Int64}),
            "spike_ids": pl.DataFrame(schema={"campaign": pl.String, "week": pl.Int32, "id": pl.String}),
        }
    dated = frame.filter(pl.col("campaign").is_not_null() & pl.col("created_at").is_not_null()).select(
        pl.col("campaign").cast(pl.String),
        pl.col("created_at")
        .dt.convert_time_zone("UTC")
        .dt.truncate("1w")
        .dt.date()
        .cast(pl.Int32)
        .alias("week"),
        pl.col("id").cast(pl.String),
    )
    weekly = dated.group_by("campaign", "week").agg(pl.len().cast(pl.Int64).alias("leads"))
    ids = (
        dated.sort("campaign", "week", "id")
        .group_by("campaign", "week", maintain_order=True)
        .head(SPIKE_EXAMPLES)
    )
    return {"weeks": weekly, "spike_ids": ids.select("campaign", "week", "id")}
