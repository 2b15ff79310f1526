"""Dispositions as map, reduce and finalise (private): per-lead rows in the map, counts merged.

:func:`smarketing.feedback.dispositions` runs its kernel (:mod:`smarketing.feedback._dispositions_kernel`)
through the engine layer (:mod:`smarketing.frames._engine`). Every table it reads is keyed by lead (the
stage events, dispositions and deals by ``lead_id``, the leads by ``id``), so a partition of complete
leads holds everything a lead's row needs:

- **map**: the polars kernel on a partition of leads, giving the per-lead rows (kept where they were
  made) and, per group, the counts of the report with one row per disposition time (business
  microseconds, for the exact quantiles); per group and reason the rejected and recycled leads; the
  partition's first undisposed leads by id; per reason off the plan's list the dispositions, the leads and
  the first leads by id; and the range its business clock covered;
- **reduce**: sums of the counts, exact lower quantiles of the times (a second pass over the kept
  values), the first lead ids, the minimum and maximum of the ranges;
- **finalise** on the driver (:mod:`smarketing.feedback.dispositions`): the rates and the hours.

Hours are differences of business positions, the same on every clock that covers both instants, so each
partition measures them on a clock over its own leads. A partition whose range has no open time at all
(a few leads over a long weekend) cannot build one: the driver then builds the clock over the whole
range, raising the one machine's error when that has no open time either, and maps again on it.

On PySpark frames (a mapping of record kind to PySpark DataFrames) the kinds are made one
(:func:`~smarketing.frames._engine.co_partition`, partitioned by lead id) and split back inside the map;
an ``account.<column>`` group comes with each lead's account, joined on Spark. Anything else is one
partition, mapped in this process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing.errors import PlanError
from smarketing.feedback import _dispositions_kernel as kernel
from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy
from smarketing.persona._outcomes import ACCOUNT, JourneyStages, check_group_columns, lead_groups
from smarketing.records import Dataset

if TYPE_CHECKING:
    from smarketing.calendar import BusinessCalendar

__all__ = ["COUNTS", "DispositionPartials", "Options", "run"]

_I64 = pl.Int64()
_STR = pl.String()

#: The counts of the report's ``overall`` and ``groups`` rows, summed over the partitions.
COUNTS = ("handed_off", "accepted", "rejected", "recycled", "recycled_won", "disposed", "undisposed")
#: The lead ids kept of the handed-off leads with no disposition.
UNDISPOSED_EXAMPLES = 5

#: The record kinds the kernel reads, the column each is keyed by (its lead), and the columns it reads.
KINDS: dict[str, str] = {
    "stage_events": "lead_id",
    "dispositions": "lead_id",
    "deals": "lead_id",
    "leads": "id",
}
READS: dict[str, tuple[str, ...]] = {
    "stage_events": ("lead_id", "from", "to", "time"),
    "dispositions": ("lead_id", "reason", "time"),
    "deals": ("id", "lead_id", "stage", "amount", "amount_currency", "close_date"),
}
#: The accounts of a partition's leads, one row per lead (the kind's name in the co-partitioned union).
_ACCOUNTS = "_accounts"
_LEAD = "_lead"


@attrs.frozen
class Options:
    """What the map needs of the plan and the call (shipped to the Spark workers: plain values only)."""

    stages: JourneyStages
    recycles: tuple[tuple[str, str], ...]
    by: tuple[str, ...]
    calendar: BusinessCalendar | None
    as_of: datetime | None
    agreed: tuple[str, ...] | None

    @property
    def own(self) -> list[str]:
        """The ``by`` columns of the leads (theirs or their account's), not the handoff's week."""
        return [c for c in self.by if c != kernel.WEEK]


def _tables(out: Mapping[str, pl.DataFrame], by: Sequence[str]) -> dict[str, engine.Partial]:
    """The partial tables, typed as the map gives them (``out``: its tables of no leads)."""
    keys = tuple(by)

    def counts(name: str, keys: tuple[str, ...]) -> engine.Partial:
        return engine.Partial(
            dict(out[name].schema), keys=keys, aggs=dict.fromkeys(COUNTS, "sum"), quantiles={"us": (0.5, 0.9)}
        )

    tables = {
        "span": engine.Partial(
            {"lo": _I64, "hi": _I64, "closed": _I64}, aggs={"lo": "min", "hi": "max", "closed": "sum"}
        ),
        "overall": counts("overall", ()),
        "reasons": engine.Partial(
            dict(out["reasons"].schema),
            keys=(*keys, "reason"),
            aggs={"rejected": "sum", "recycled": "sum"},
        ),
        "undisposed": engine.Partial({"lead_id": _STR}, order=("lead_id",), count=UNDISPOSED_EXAMPLES),
        "unknown": engine.Partial(
            {"reason": _STR, "dispositions": _I64, "leads": _I64},
            keys=("reason",),
            aggs={"dispositions": "sum", "leads": "sum"},
        ),
        "unknown_examples": engine.Partial(
            {"reason": _STR, "lead_id": _STR}, keys=("reason",), order=("lead_id",), count=kernel.EXAMPLES
        ),
        "leads": engine.Partial(dict(out["leads"].schema), kept=True),
    }
    if keys:
        tables["groups"] = counts("groups", keys)
    return tables


def _sums(rows: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Per group (one row without ``keys``) the counts, then one row per disposition time (``us``)."""

    def count(flag: pl.Expr) -> pl.Expr:
        return flag.sum().cast(pl.Int64)

    aggs = {
        "handed_off": pl.len().cast(pl.Int64),
        "accepted": count(pl.col("accepted")),
        "rejected": count(pl.col("rejected")),
        "recycled": count(pl.col("recycled")),
        "recycled_won": count(pl.col("recycled_won")),
        "disposed": count(pl.col("disposition_at").is_not_null()),
        "undisposed": count(pl.col("disposition_at").is_null()),
    }
    sums = rows.group_by(keys).agg(**aggs) if keys else rows.select(**aggs)
    sums = sums.with_columns(pl.lit(None, pl.Int64).alias("us"))
    values = rows.filter(pl.col("us").is_not_null()).select(
        *keys, *(pl.lit(0, pl.Int64).alias(c) for c in COUNTS), "us"
    )
    return pl.concat([sums, values.select(sums.columns)])


def _map(
    data: Any, options: Options, groups: pl.LazyFrame | None, span: kernel.Span | None
) -> dict[str, Any]:
    """The partial tables of the leads in ``data`` (complete leads: every row of each of them)."""
    by = options.by
    base = kernel.handed_off_rows(
        options.stages, options.recycles, data, by=by, groups=groups, as_of=options.as_of
    )
    lo, hi = kernel.span_of(base) if base.height else (None, None)
    try:
        rows = kernel.with_clock(base, options.calendar, by, span, keep_us=True)
    except PlanError:
        if span is not None:
            raise
        # No open time over this partition's leads: the driver maps again on the whole range's clock.
        rows = kernel.with_clock(base.clear(), options.calendar, by, keep_us=True)
        out = _empty_tables(rows, by)
        out["span"] = pl.DataFrame(
            {"lo": [lo], "hi": [hi], "closed": [1]}, schema=dict.fromkeys(("lo", "hi", "closed"), _I64)
        )
        return out
    out = _tables_of(rows, by)
    out["span"] = pl.DataFrame(
        {"lo": [lo], "hi": [hi], "closed": [0]}, schema=dict.fromkeys(("lo", "hi", "closed"), _I64)
    ).filter(pl.col("lo").is_not_null())
    out.update(_unknown(data, options))
    return out


def _tables_of(rows: pl.DataFrame, by: Sequence[str]) -> dict[str, pl.DataFrame]:
    keys = list(by)
    undisposed = rows.filter(pl.col("disposition_at").is_null()).select("lead_id").sort("lead_id")
    out = {
        "overall": _sums(rows, ()),
        "reasons": rows.filter(pl.col("rejected") | pl.col("recycled"))
        .group_by([*keys, "reason"])
        .agg(
            rejected=pl.col("rejected").sum().cast(pl.Int64), recycled=pl.col("recycled").sum().cast(pl.Int64)
        ),
        "undisposed": undisposed.head(UNDISPOSED_EXAMPLES),
        "leads": rows.drop("us"),
    }
    if keys:
        out["groups"] = _sums(rows, keys)
    return out


def _empty_tables(rows: pl.DataFrame, by: Sequence[str]) -> dict[str, pl.DataFrame]:
    out = {name: frame.clear() for name, frame in _tables_of(rows, by).items()}
    out["unknown"] = pl.DataFrame(schema={"reason": _STR, "dispositions": _I64, "leads": _I64})
    out["unknown_examples"] = pl.DataFrame(schema={"reason": _STR, "lead_id": _STR})
    return out


def _unknown(data: Any, options: Options) -> dict[str, pl.DataFrame]:
    """Per reason off the plan's list: the partition's dispositions, leads and first leads by id."""
    if options.agreed is None:
        return {
            "unknown": pl.DataFrame(schema={"reason": _STR, "dispositions": _I64, "leads": _I64}),
            "unknown_examples": pl.DataFrame(schema={"reason": _STR, "lead_id": _STR}),
        }
    found = kernel.unknown_dispositions(data, options.agreed, as_of=options.as_of).collect()
    counted = found.group_by("reason").agg(
        dispositions=pl.len().cast(pl.Int64), leads=pl.col("lead_id").n_unique().cast(pl.Int64)
    )
    first = (
        found.select("reason", "lead_id")
        .unique()
        .sort("reason", "lead_id")
        .filter(pl.int_range(pl.len()).over("reason") < kernel.EXAMPLES)
    )
    return {"unknown": counted, "unknown_examples": first}


class DispositionPartials:
    """The merged partials of :func:`run` and what the report reads off them."""

    def __init__(self, partials: engine.Partials, *, spark: bool) -> None:
        self.partials = partials
        self.spark = spark

    def merged(self, name: str) -> pl.DataFrame:
        return self.partials.merged(name)

    def undisposed(self) -> tuple[str, ...]:
        """The first handed-off leads (in id order) with no disposition."""
        first = self.partials.first("undisposed").sort("lead_id").head(UNDISPOSED_EXAMPLES)
        return tuple(first.get_column("lead_id").to_list())

    def unknown(self) -> pl.DataFrame:
        """The reasons off the list: ``reason``, ``dispositions``, ``leads``, ``examples``, by reason."""
        examples = (
            self.partials.first("unknown_examples")
            .sort("reason", "lead_id")
            .group_by("reason", maintain_order=True)
            .agg(examples=pl.col("lead_id"))
        )
        counted = self.merged("unknown")
        return (
            counted.join(examples, on="reason", how="left")
            .select("reason", "dispositions", "leads", pl.col("examples").cast(pl.List(pl.String)))
            .sort("reason")
        )

    def leads(self) -> Any:
        """The per-lead rows: a PySpark DataFrame on Spark (kept there), else a polars frame in lead order."""
        rows = self.partials.rows("leads")
        return rows if self.spark else rows.sort("lead_id")


def run(options: Options, data: Any) -> DispositionPartials:
    """Map the kernel over ``data``'s partitions of leads (on Spark, or one partition here) and merge.

    Raises:
        DataError: As :func:`smarketing.feedback.dispositions` (raised by a map, on a worker or here).
        PlanError: The calendar has no open time over the handed-off leads' range.
    """
    frames = spark_frames(data)
    if frames is None:
        own = options.own
        # The leads' groups, read and checked once here (the map joins them to its leads).
        groups = lead_groups(data, own) if own else None
        empty = _map({}, options, None if groups is None else groups.clear(), None)
        tables = _tables(empty, options.by)

        def local(span: kernel.Span | None) -> engine.Partials:
            def fn(part: Any) -> dict[str, Any]:
                return _map(part, options, groups, span)

            return engine.run(data, fn, tables, kind="stage_events", key="lead_id", columns=())

        return DispositionPartials(_with_whole_clock(local, options), spark=False)
    union, kinds = _union(frames, options)
    empty = _map(_split(engine.to_polars(union.limit(0)), kinds), options, None, None)
    tables = _tables(empty, options.by)

    def on_spark(span: kernel.Span | None) -> engine.Partials:
        def fn(part: Any) -> dict[str, Any]:
            return _map(_split(part, kinds), options, None, span)

        return engine.run(
            union, fn, tables, kind="stage_events", key=engine.PARTITION_KEY, columns=union.columns
        )

    return DispositionPartials(_with_whole_clock(on_spark, options), spark=True)


def _with_whole_clock(mapped: Any, options: Options) -> engine.Partials:
    """``mapped(None)`` (each partition on its own clock), or, if one had none, on the whole range's clock."""
    partials: engine.Partials = mapped(None)
    span = partials.merged("span")
    if not span.height or not span.item(0, "closed"):
        return partials
    lo, hi = span.item(0, "lo"), span.item(0, "hi")
    assert options.calendar is not None  # a partition without a calendar has no clock to fail
    kernel.clock_over(options.calendar, lo, hi)  # the one machine's error when the whole range is closed
    again: engine.Partials = mapped((lo, hi))
    return again


# --------------------------------------------------------------------------------------------------
# Spark.


def spark_frames(data: Any) -> dict[str, Any] | None:
    """The kinds the kernel reads of ``data`` when it is a mapping of them to PySpark DataFrames, else None.

    A mapping with some of those kinds on Spark and others not (records, polars frames) is read on the
    driver, as before: None.
    """
    if isinstance(data, Dataset) or not isinstance(data, Mapping):
        return None
    frames = {kind: data[kind] for kind in (*KINDS, "accounts") if kind in data}
    if not frames or not all(engine.is_spark(f) for f in frames.values()):
        return None
    return frames


def _names(frames: Mapping[str, Any], kind: str) -> list[str]:
    """The columns of ``kind`` as the boundary sees them (an absent kind is an empty frame of its model)."""
    frame = frames.get(kind)
    return list(frame.columns) if frame is not None else list(getattr(Dataset(), kind).columns)


def _union(frames: Mapping[str, Any], options: Options) -> tuple[Any, list[str]]:
    """The kinds' frames (the columns the kernel reads), co-partitioned by lead, and their names."""
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    own = [c for c in options.own if not c.startswith(ACCOUNT)]
    of_account = [c[len(ACCOUNT) :] for c in options.own if c.startswith(ACCOUNT)]
    if options.own:
        check_group_columns(
            options.own, _names(frames, "leads"), _names(frames, "accounts") if of_account else []
        )
    picked: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for kind, columns in READS.items():
        if kind in frames:
            engine.require(frames[kind], kind, columns)
            picked[kind], keys[kind] = frames[kind].select(*columns), KINDS[kind]
    leads = frames.get("leads")
    if options.own and leads is not None:
        engine.require(leads, "leads", ["id"])
        wanted = ["id", *(["account_id"] if "account_id" in leads.columns else []), *own]
        picked["leads"], keys["leads"] = leads.select(*wanted), "id"
        accounts = frames.get("accounts")
        if of_account and accounts is not None:
            # Every account is checked here (ids unique), on Spark; each lead's own account joins its rows.
            wanted_columns = ("id", *of_account)
            checked = as_lazy(
                accounts, "accounts", required=["id"], reads=wanted_columns, engine=True
            ).to_native()
            mine = leads.select(F.col("id").alias(_LEAD), F.col("account_id").alias("_account"))
            joined = mine.join(
                checked.select(*(F.col(f"`{c}`") for c in wanted_columns)),
                mine["_account"] == checked["id"],
            )
            picked[_ACCOUNTS], keys[_ACCOUNTS] = (
                joined.select(_LEAD, *(F.col(f"`{c}`") for c in wanted_columns)),
                _LEAD,
            )
    if "deals" in frames:
        # Each map checks its partition's deals; two of one id and of different leads are in two partitions.
        engine.refuse_repeated_ids(frames["deals"], "deal")
    return engine.co_partition(picked, keys), list(picked)


def _split(part: pl.DataFrame, kinds: Sequence[str]) -> dict[str, pl.DataFrame]:
    """The record kinds of a partition of the union; the accounts of its leads once each."""
    tables = engine.split(part, kinds)
    if _ACCOUNTS in tables:
        tables["accounts"] = tables.pop(_ACCOUNTS).drop(_LEAD).unique(maintain_order=True)
    return tables
