"""The SLA as map, reduce and finalise (private): per-lead rows in the map, summed counts merged.

:func:`evaluate_sla` and the KPIs' SLA metrics run the SLA's kernel (:mod:`smarketing.sla._kernel`) through
the engine layer (:mod:`smarketing.frames._engine`). Every table the kernel reads is keyed by lead, so a
partition of complete leads holds everything a lead's row needs:

- **map**: the unchanged polars kernel on a partition of leads (every stage event, activity, disposition
  and lead record of each of its leads), giving the per-lead rows and breaches (kept where they were made)
  and, per owner, team, period and week, the counts the report's tables are made of (the KPIs: per group
  and window, the counts and the first-response times);
- **reduce**: sums of those counts, minimums of the example lead ids, exact lower quantiles of the
  first-response times;
- **finalise** on the driver: the rates, marketing's periods, the summary and the KPI medians.

On PySpark frames (a mapping of record kind to PySpark DataFrames) the four tables are made one
(:func:`~smarketing.frames._engine.co_partition`: a union tagged by kind, partitioned by lead id) and
split back inside the map. The business clock of every partition covers the range of the whole data's
past stage events (read once on Spark), as it does on one machine. Business hours, holidays and time zones
are the kernel's own, so they cannot differ. Anything else is one partition, mapped in this process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import narwhals as nw
import polars as pl

from smarketing.errors import DataError, PlanError
from smarketing.frames import _engine as engine
from smarketing.frames._calendar import epoch_us
from smarketing.records import Dataset
from smarketing.sla import _kernel, _tables

__all__ = ["KINDS", "SLAPartials", "evaluate", "spark_frames", "status_partials"]

_I64 = pl.Int64()
_STR = pl.String()
_DATE = pl.Date()

#: The record kinds the SLA reads, and the column each is keyed by (its lead id).
KINDS: dict[str, str] = {
    "stage_events": "lead_id",
    "leads": "id",
    "activities": "lead_id",
    "dispositions": "lead_id",
}


def _sums(key: str, dtype: pl.DataType, counts: Sequence[str]) -> engine.Partial:
    return engine.Partial(
        {key: dtype, **dict.fromkeys(counts, _I64)}, keys=(key,), aggs=dict.fromkeys(counts, "sum")
    )


def _tables_of(leads: Mapping[str, pl.DataType]) -> dict[str, engine.Partial]:
    """The partial tables of :func:`evaluate`, the per-lead rows in the kernel's columns ``leads``."""
    return {
        "leads": engine.Partial(leads, kept=True),
        "breaches": engine.Partial(_tables.BREACH_SCHEMA, kept=True),
        "by_rep": _sums("owner", _STR, _tables.COMPLIANCE_COUNTS),
        "by_team": _sums("team", _STR, _tables.COMPLIANCE_COUNTS),
        "by_period": _sums("period", _DATE, _tables.COMPLIANCE_COUNTS),
        "weekly_sales": _sums("week", _DATE, _tables.WEEKLY_SALES_COUNTS),
        "weekly_delivered": _sums("week", _DATE, _tables.WEEKLY_DELIVERED_COUNTS),
        "delivered": _sums("period", _DATE, _tables.DELIVERED_COUNTS),
        "counts": engine.Partial(
            {**dict.fromkeys(_kernel.COUNTS, _I64), **{f"_example_{c}": _STR for c in _kernel.COUNTS}},
            aggs={**dict.fromkeys(_kernel.COUNTS, "sum"), **{f"_example_{c}": "min" for c in _kernel.COUNTS}},
        ),
    }


def spark_frames(data: Any) -> dict[str, Any] | None:
    """The SLA's record kinds of ``data`` when it is a mapping of them to PySpark DataFrames, else None.

    A mapping with some kinds on Spark and others not (records, polars frames) is read on the driver, as
    before: None.
    """
    if isinstance(data, Dataset) or not isinstance(data, Mapping):
        return None
    frames = {kind: data[kind] for kind in KINDS if kind in data}
    if not frames or not all(engine.is_spark(f) for f in frames.values()):
        return None
    return frames


def _union(frames: Mapping[str, Any], extra: Mapping[str, tuple[Any, str]] = {}) -> Any:
    """The kinds' frames (the columns the kernel reads) and ``extra`` ones as one co-partitioned frame."""
    reads = {kind: (*_kernel.REQUIRED[kind], *_kernel.OPTIONAL[kind]) for kind in KINDS}
    for kind, frame in frames.items():
        engine.require(frame, kind, _kernel.REQUIRED[kind])
    picked = {kind: f.select(*(c for c in reads[kind] if c in f.columns)) for kind, f in frames.items()}
    keys = {kind: KINDS[kind] for kind in frames}
    for name, (frame, key) in extra.items():
        picked[name], keys[name] = frame, key
    return engine.co_partition(picked, keys)


def _span(frames: Mapping[str, Any], as_of: datetime) -> _kernel.Span | None:
    """The first and last past stage event on Spark (what one machine's clock covers), or None.

    None when the answer would not be one machine's (no aware ``as_of``, no timestamp column): the map's
    checks then raise one machine's error first.
    """
    events = frames.get("stage_events")
    if events is None:
        return None, None
    if as_of.tzinfo is None or dict(events.dtypes).get("time") != "timestamp":
        return None
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    row = engine.to_polars(
        events.where(F.col("time") <= F.lit(as_of)).select(
            F.min("time").alias("lo"), F.max("time").alias("hi")
        )
    ).row(0)
    return (None if row[0] is None else epoch_us(row[0]), None if row[1] is None else epoch_us(row[1]))


def _local_span(data: Any, as_of: datetime) -> _kernel.Span | None:
    """The first and last past stage event of ``data`` (not on Spark), or None when they cannot be read.

    The business positions the kernel subtracts are counted from the start of its clock, so every
    partition's clock starts where the whole data's does. None when the events or ``as_of`` are bad:
    the map then raises the error one machine raises.
    """
    try:
        return _kernel.past_span(data, as_of)
    except (DataError, PlanError, TypeError):
        return None


class SLAPartials:
    """The merged partials of :func:`evaluate` and what the report reads off them."""

    def __init__(self, partials: engine.Partials, *, spark: bool) -> None:
        self.partials = partials
        self.spark = spark

    def merged(self, name: str) -> pl.DataFrame:
        return self.partials.merged(name)

    def release(self) -> None:
        """Free the map's persisted output on Spark (nothing elsewhere): when no report will read it."""
        self.partials.release()

    def leads(self) -> Any:
        """The per-lead rows: a PySpark DataFrame on Spark (kept there), else a polars frame in lead order.

        On Spark, take both kept frames with :meth:`kept`, which ties the persisted map's release to them.
        """
        rows = self.partials.rows("leads")
        return rows if self.spark else rows.sort("lead_id")

    def kept(self) -> tuple[Any, Any]:
        """The per-lead rows and the breaches (:meth:`leads`, :meth:`breaches`).

        On Spark both read the persisted map: it stays cached as long as either frame lives (the report
        holds them), so reading or writing them does not run the map again.
        """
        leads, breaches = self.leads(), self.breaches()
        if self.spark:
            engine.keep_with(breaches, leads)
            engine.release_with(leads, [self.partials])
        return leads, breaches

    def breaches(self) -> Any:
        """The breaches: on Spark kept there (see :meth:`kept`); else by commitment, each in lead order."""
        rows = self.partials.rows("breaches")
        if self.spark:
            return rows
        rank = pl.col("commitment").replace_strict(
            _tables.BREACH_ORDER, range(len(_tables.BREACH_ORDER)), return_dtype=pl.Int64
        )
        return rows.sort(rank, "lead_id", maintain_order=True)

    def count_row(self) -> dict[str, Any]:
        counts = self.merged("counts")
        if counts.height:
            return counts.row(0, named=True)
        return {**dict.fromkeys(_kernel.COUNTS, 0), **{f"_example_{c}": None for c in _kernel.COUNTS}}


def evaluate(context: _kernel.SLAContext, data: Any, *, as_of: datetime) -> SLAPartials:
    """Map the kernel over ``data``'s partitions of leads (on Spark, or one partition here) and merge.

    Raises:
        DataError: As :func:`smarketing.sla.evaluate_sla` (raised by a map, on a worker or here).
    """
    frames = spark_frames(data)
    if frames is None:
        # One partition here (or the partitions of the laws' tests), on the whole data's clock too.
        whole = _local_span(data, as_of)

        def local(part: Any) -> dict[str, pl.DataFrame]:
            return _map(part, context, as_of, whole)

        schema = _lead_schema(context, as_of, whole)
        return SLAPartials(
            engine.run(data, local, _tables_of(schema), kind="stage_events", key="lead_id", columns=()),
            spark=False,
        )
    span = _span(frames, as_of)
    kinds = list(frames)

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        return _map(engine.split(part, kinds), context, as_of, span)

    union = _union(frames)
    tables = _tables_of(_lead_schema(context, as_of, span))
    # Persisted: the report's per-lead rows and breaches read the map's output again (SLAPartials.kept).
    partials = engine.run(
        union, fn, tables, kind="stage_events", key=engine.PARTITION_KEY, columns=union.columns, persist=True
    )
    return SLAPartials(partials, spark=True)


def _lead_schema(context: _kernel.SLAContext, as_of: datetime, span: _kernel.Span | None) -> dict[str, Any]:
    """The columns of the per-lead frame and their types (the kernel's own, on no data)."""
    try:
        return dict(_kernel.evaluate(context, {}, as_of=as_of, span=span).leads.schema)
    except DataError:
        # A bad ``as_of``: the map raises the error one machine raises (the data's first).
        return dict(_kernel.evaluate(context, {}, as_of=datetime(2000, 1, 1, tzinfo=UTC)).leads.schema)


def _map(
    data: Any, context: _kernel.SLAContext, as_of: datetime, span: _kernel.Span | None
) -> dict[str, pl.DataFrame]:
    """The partial tables of the leads in ``data`` (complete leads: every row of each of them)."""
    frames = _kernel.evaluate(context, data, as_of=as_of, span=span)
    leads, delivered = frames.leads, frames.delivered
    return {
        "leads": leads,
        "breaches": frames.breaches,
        "by_rep": _tables.compliance_sums(leads, "owner"),
        "by_team": _tables.compliance_sums(leads, "team"),
        "by_period": _tables.compliance_sums(leads, "period"),
        "weekly_sales": _tables.weekly_sales_sums(leads),
        "weekly_delivered": _tables.weekly_delivered_sums(delivered),
        "delivered": _tables.delivered_sums(delivered),
        "counts": pl.DataFrame([frames.count_row]),
    }


# --------------------------------------------------------------------------------------------------
# The KPIs' SLA metrics.

#: Per (window kind, group, window start): the counts of the KPIs' SLA metrics and the first-response
#: times in business microseconds (``response_us``; ``response_neg`` is its negation, whose lower median
#: is minus the upper median: with both, the median is one machine's, exactly).
STATUS_TABLES = {
    "statuses": engine.Partial(
        {
            "_kind": _STR,
            "_group": _STR,
            "_bucket": _DATE,
            "met": _I64,
            "decided": _I64,
            "on_time": _I64,
            "due": _I64,
            "response_us": _I64,
            "response_neg": _I64,
        },
        keys=("_kind", "_group", "_bucket"),
        aggs={"met": "sum", "decided": "sum", "on_time": "sum", "due": "sum"},
        quantiles={"response_us": (0.5,), "response_neg": (0.5,)},
    )
}


def status_partials(
    context: _kernel.SLAContext,
    frames: Mapping[str, Any],
    groups: Any,
    *,
    as_of: datetime,
    buckets: Mapping[str, nw.Expr],
) -> pl.DataFrame:
    """The KPIs' SLA metrics per (kind, group, window) on Spark: counts summed, response times' medians.

    ``frames`` are the SLA's record kinds on Spark, ``groups`` a PySpark frame of ``lead_id, _group`` (or
    None: one group ``""``), ``buckets`` each window kind's expression giving a handoff time's window start
    (a narwhals expression over ``handoff_at``). The result has ``_kind, _group, _bucket, met, decided,
    on_time, due`` and ``median`` (the median first response in business hours, as one machine's polars
    ``median`` gives it).
    """
    span = _span(frames, as_of)
    extra = {"_groups": (groups, "lead_id")} if groups is not None else {}
    # The map is shipped to the workers: it holds names only, never a Spark frame.
    names, grouped = list(frames), groups is not None
    kinds = [*names, *extra]

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        """The partition's statuses per (kind, group, window): sums on one row, response times one a row."""
        tables = engine.split(part, kinds)
        data = {kind: tables[kind] for kind in names}
        statuses = _kernel.lead_statuses(context, data, as_of=as_of, span=span, columns=("response_us",))
        if grouped:
            mine = tables["_groups"].with_columns(pl.col("lead_id").cast(pl.String))
            statuses = statuses.join(mine, on="lead_id", how="left").with_columns(
                pl.col("_group").fill_null(_NONE_GROUP)
            )
        else:
            statuses = statuses.with_columns(pl.lit("").alias("_group"))
        status, disposition = pl.col("response_status"), pl.col("disposition_status")
        out = [
            nw.from_native(statuses)
            .with_columns(bucket.alias("_bucket"), nw.lit(kind).alias("_kind"))
            .to_native()
            .filter(pl.col("_bucket").is_not_null())
            .group_by("_kind", "_group", "_bucket")
            .agg(
                (status == "met").sum().cast(pl.Int64).alias("met"),
                status.is_in(["met", "breached"]).sum().cast(pl.Int64).alias("decided"),
                (disposition == "on_time").sum().cast(pl.Int64).alias("on_time"),
                (disposition != "pending").sum().cast(pl.Int64).alias("due"),
                pl.col("response_us").alias("_values"),
            )
            for kind, bucket in buckets.items()
        ]
        rows = pl.concat(out)
        # The sums once per group, the values one per row (the merge takes the sums and the quantiles).
        sums = rows.drop("_values").with_columns(
            pl.lit(None, pl.Int64).alias("response_us"), pl.lit(None, pl.Int64).alias("response_neg")
        )
        values = (
            rows.select("_kind", "_group", "_bucket", "_values")
            .explode("_values")
            .drop_nulls("_values")
            .select(
                "_kind",
                "_group",
                "_bucket",
                *(pl.lit(0, pl.Int64).alias(c) for c in ("met", "decided", "on_time", "due")),
                pl.col("_values").alias("response_us"),
                (-pl.col("_values")).alias("response_neg"),
            )
        )
        return {"statuses": pl.concat([sums, values.select(sums.columns)])}

    union = _union(frames, extra)
    merged = engine.run(
        union, fn, STATUS_TABLES, kind="stage_events", key=engine.PARTITION_KEY, columns=union.columns
    ).merged("statuses")
    lower = pl.col("response_us_q0").cast(pl.Float64) * _kernel.HOURS_PER_US
    upper = (-pl.col("response_neg_q0")).cast(pl.Float64) * _kernel.HOURS_PER_US
    # polars' median of the two middle values (one value twice when their number is odd): its own rule.
    medians = [
        None if lo is None else pl.Series([lo, hi]).median()
        for lo, hi in merged.select(lower.alias("lo"), upper.alias("hi")).iter_rows()
    ]
    return merged.drop("response_us_q0", "response_neg_q0").with_columns(
        pl.Series("median", medians, dtype=pl.Float64)
    )


#: The group of a lead without a value of the scorecard's ``by`` (the KPI kernel's own).
_NONE_GROUP = "(none)"
