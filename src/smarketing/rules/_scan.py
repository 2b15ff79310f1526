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

__all__ = ["SHOWN", "Check", "Found", "KindScan", "checked_sources", "scan", "unknown_leads"]

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
    memory. A PySpark DataFrame is checked by each map on its partition, for the columns the map reads.
    """
    from smarketing.frames import of_kind  # noqa: PLC0415 (beside as_lazy)
    from smarketing.records import RECORD_KINDS  # noqa: PLC0415

    out: dict[str, Any] = {}
    for kind in RECORD_KINDS:
        native = of_kind(data, kind)
        if native is not None and engine.is_spark(native):
            out[kind] = native
        else:
            out[kind] = as_lazy(data, kind).to_native()
    return out


def columns_of(source: Any) -> list[str]:
    """The column names of a checked ``LazyFrame`` or a PySpark DataFrame."""
    if isinstance(source, pl.LazyFrame):
        return source.collect_schema().names()
    return list(source.columns)


def scan(
    kind: str, source: Any, checks: Sequence[Check], *, lead_ids: Any = None, weeks: bool = False
) -> KindScan:
    """Run ``checks`` over ``source`` (one kind) where it lives; with ``lead_ids``, ``orphan`` checks too.

    ``lead_ids`` is the leads' source (of the same engine) when the data has leads; the kind is joined with
    it there. ``weeks`` adds ``D014``'s new leads per campaign and week (leads only).
    """
    names = columns_of(source)
    key = "id" if "id" in names else "lead_id"
    time = TIMES.get(kind) if TIMES.get(kind) in names else None
    orphan = lead_ids is not None and "lead_id" in names and any(c.how == "orphan" for c in checks)
    checks = tuple(c for c in checks if c.how != "orphan" or orphan)
    reads = {key, *(c.column.partition(".")[0] for c in checks)}
    reads |= {"to", "from"} if any(c.how == "stranger" for c in checks) else set()
    reads |= {"close_date", "created_at"} if any(c.before is not None for c in checks) else set()
    reads |= {time} if time else set()
    reads |= {"id", "campaign", "created_at"} if weeks else set()
    columns = [c for c in names if c in reads]
    if orphan:
        source = _with_lead_flag(source, lead_ids)
        columns.append(_KNOWN)
    tables = _tables(weeks)
    fn = functools.partial(
        _map,
        kind=kind,
        key=key,
        checks=checks,
        time=time,
        weeks=weeks,
        columns=tuple(columns),
        spark=engine.is_spark(source),
    )
    partials = engine.run(source, fn, tables, kind=kind, key=key, columns=columns)
    size = partials.merged("size")
    rows, end = (int(size.item(0, "rows") or 0), size.item(0, "end")) if len(size) else (0, None)
    counted = {r["check"]: r for r in partials.merged("n").iter_rows(named=True)}
    values = partials.merged("values")
    first = partials.first("first")
    found = {}
    for c in checks:
        got = counted.get(c.name)
        if got is None or not got["rows"]:
            continue
        mine = values.filter(pl.col("check") == c.name).get_column("value").sort()
        ids = first.filter(pl.col("check") == c.name).get_column("record").sort()
        found[c.name] = Found(
            rows=int(got["rows"]),
            records=int(got["records"]),
            values=tuple(mine.head(SHOWN).to_list()),
            value_count=mine.len(),
            first=tuple(ids.to_list()),
            oldest=got["oldest"],
        )
    scanned = KindScan(key=key, rows=rows, end=end, found=found)
    if weeks:
        return attrs.evolve(scanned, weeks=partials.merged("weeks"), spike_ids=partials.first("spike_ids"))
    return scanned


def _tables(weeks: bool) -> dict[str, engine.Partial]:
    tables = {
        "size": engine.Partial({"rows": pl.Int64(), "end": _UTC}, aggs={"rows": "sum", "end": "max"}),
        "n": engine.Partial(
            {"check": pl.String(), "rows": pl.Int64(), "records": pl.Int64(), "oldest": _UTC},
            keys=("check",),
            aggs={"rows": "sum", "records": "sum", "oldest": "min"},
        ),
        "values": engine.Partial({"check": pl.String(), "value": pl.String()}, keys=("check", "value")),
        "first": engine.Partial(
            {"check": pl.String(), "record": pl.String()}, keys=("check",), order=("record",), count=SHOWN
        ),
    }
    if weeks:
        tables["weeks"] = engine.Partial(
            {"campaign": pl.String(), "week": pl.Int32(), "leads": pl.Int64()},
            keys=("campaign", "week"),
            aggs={"leads": "sum"},
        )
        tables["spike_ids"] = engine.Partial(
            {"campaign": pl.String(), "week": pl.Int32(), "id": pl.String()},
            keys=("campaign", "week"),
            order=("id",),
            count=SPIKE_EXAMPLES,
        )
    return tables


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


def _map(
    part: Any,
    *,
    kind: str,
    key: str,
    checks: Sequence[Check],
    time: str | None,
    weeks: bool,
    columns: Sequence[str],
    spark: bool,
) -> dict[str, pl.DataFrame]:
    """One partition's partial tables (the partition holds complete records of ``key``)."""
    frame = _partition(part, kind, columns, spark=spark)
    if time is not None and time != "time":
        frame = frame.with_columns(pl.col(time).alias("time"))
    latest = frame.get_column(time).max() if time is not None else None
    out: dict[str, pl.DataFrame] = {
        "size": pl.DataFrame(
            {"rows": [frame.height], "end": [latest]}, schema={"rows": pl.Int64, "end": _UTC}
        )
    }
    counts, values, first = [], [], []
    for c in checks:
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
    out["n"] = _concat(counts, {"check": pl.String, "rows": pl.Int64, "records": pl.Int64, "oldest": _UTC})
    out["values"] = _concat(values, {"check": pl.String, "value": pl.String})
    out["first"] = _concat(first, {"check": pl.String, "record": pl.String})
    if weeks:
        out |= _weeks(frame)
    return out


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
