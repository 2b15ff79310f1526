"""Columnar kernels behind :mod:`smarketing.journey` (private).

Every analysis of stage events goes through :func:`prepare`, which validates the events and puts each lead's
events in one agreed order. The kernels then work *per lead* (windows partitioned by the lead) and reduce with
sums and counts, so an engine that hash-partitions by lead can run them per partition and add the partials.

The order of one lead's events is ``(time, stage rank, rank of the stage left)``: time first; events at the
same instant follow the journey map's stage order (plan order, or stage id order where there is no map); the
stage left breaks the remaining ties (no ``from`` first). The order of the input never matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs
import narwhals as nw
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import as_lazy, check_aware

__all__ = [
    "KINDS",
    "Prepared",
    "conformance_tables",
    "dfg_tables",
    "funnel_table",
    "prepare",
]

_KIND = "stage_event"
_ORDER = ["lead_id", "time", "k", "fk"]

#: Conformance verdicts of one move, by code; code 0 is a legal move.
KINDS: tuple[str, ...] = (
    "ok",
    "skip",
    "regression",
    "unknown_stage",
    "not_in_map",
    "after_terminal",
    "recycle_limit",
)


@attrs.frozen
class Prepared:
    """Validated, ordered, de-duplicated stage events and what preparing them counted.

    ``frame`` has one row per kept event, in lead order, with the columns ``lead_id``, ``to``, ``time``,
    ``k`` (stage code: its index in ``stages``; ``len(stages)`` for an unknown stage), ``fk`` (code of the
    stage left: ``-1`` when none is given), ``seq`` (global position), ``lid`` (lead number, from 1),
    ``first``/``last`` (first/last event of its lead), ``prev_k``, ``next_k`` and ``next_time``.
    """

    frame: nw.DataFrame[Any]
    stages: tuple[str, ...]
    rows: int
    after_as_of: int
    unknown: int
    unknown_stages: tuple[str, ...]
    duplicates: int
    from_mismatch: int
    leads: int


def _describe(row: Mapping[str, Any]) -> str:
    parts = [f"{name}={row.get(name)!r}" for name in ("lead_id", "from", "to") if row.get(name) is not None]
    if row.get("time") is not None:
        parts.append(f"time={row['time'].isoformat()}")
    return ", ".join(parts) or "an empty row"


def _base(events: Any) -> nw.LazyFrame[Any]:
    lf = as_lazy(events, "stage_events", required=("lead_id", "to", "time"))
    schema = lf.collect_schema()
    if not isinstance(schema["time"], nw.Datetime):
        raise DataError(f"must be a datetime column, not {schema['time']}", field="time", kind="stage_events")
    check_aware(lf, ["time"], kind="stage_events")
    source = nw.col("from") if "from" in schema.names() else nw.lit(None, nw.String())
    return lf.select(
        nw.col("lead_id").cast(nw.String()),
        source.cast(nw.String()).alias("from"),
        nw.col("to").cast(nw.String()),
        nw.col("time").dt.convert_time_zone("UTC"),
    )


def _neighbours(frame: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """Add first/last flags, the lead number and the previous/next event of the same lead."""
    by = {"order_by": "seq"}
    first = (nw.col("lead_id") != nw.col("lead_id").shift(1).over(**by)).fill_null(True)
    last = (nw.col("lead_id") != nw.col("lead_id").shift(-1).over(**by)).fill_null(True)
    return frame.with_columns(first.alias("first"), last.alias("last")).with_columns(
        nw.col("first").cast(nw.Int64()).cum_sum().over(**by).alias("lid"),
        nw.when(~nw.col("first")).then(nw.col("k").shift(1).over(**by)).alias("prev_k"),
        nw.when(~nw.col("last")).then(nw.col("k").shift(-1).over(**by)).alias("next_k"),
        nw.when(~nw.col("last")).then(nw.col("time").shift(-1).over(**by)).alias("next_time"),
    )


def prepare(
    events: Any,
    stages: Sequence[str] | None,
    *,
    as_of: datetime | None = None,
    keep_unknown: bool = False,
) -> Prepared:
    """Validate and order stage events; see the module docstring for the order.

    Args:
        events: Anything :func:`~smarketing.frames.as_lazy` accepts as ``stage_events``.
        stages: Stage ids in rank order; ``None`` takes the stages the events enter, sorted by id.
        as_of: Keep only events at or before this aware time (the later ones are counted).
        keep_unknown: Keep events into stages not in ``stages`` (code ``len(stages)``); otherwise they are
            set aside and counted.

    Raises:
        DataError: An event has no lead id, stage entered or time; times are naive; a column is missing.
    """
    lf = _base(events)
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise ValueError("as_of must be timezone-aware")
    if stages is None:
        found = lf.select("to").unique().collect().get_column("to").to_list()
        stages = sorted(s for s in found if s is not None)
    names = tuple(stages)
    code = {s: i for i, s in enumerate(names)}
    unknown_code = len(names)
    lf = lf.with_columns(
        nw.col("to").replace_strict(code, default=unknown_code, return_dtype=nw.Int32()).alias("k"),
        nw.when(nw.col("from").is_null())
        .then(nw.lit(-1, nw.Int32()))
        .otherwise(nw.col("from").replace_strict(code, default=unknown_code, return_dtype=nw.Int32()))
        .alias("fk"),
    )
    kept = nw.col("k") >= 0 if as_of is None else nw.col("time") <= nw.lit(as_of)
    stats = (
        lf.select(
            nw.len().alias("rows"),
            *(nw.col(c).is_null().sum().alias(f"null_{c}") for c in ("lead_id", "to", "time")),
            (~kept).fill_null(value=False).sum().alias("after"),
        )
        .collect()
        .rows(named=True)[0]
    )
    for column in ("lead_id", "to", "time"):
        missing = int(stats[f"null_{column}"])
        if missing:
            row = lf.filter(nw.col(column).is_null()).head(1).collect().rows(named=True)[0]
            raise DataError(
                f"{missing} event(s) without {column}; the first one: {_describe(row)}",
                record=row.get("lead_id"),
                field=column,
                kind=_KIND,
            )
    ordered = lf.filter(kept).sort(*_ORDER).with_row_index("seq", order_by=_ORDER)
    # Duplicates: the same lead entering the same stage from the same stage at the same instant. Keep one.
    by = {"order_by": "seq"}
    same = nw.all_horizontal(
        *(nw.col(c) == nw.col(c).shift(1).over(**by) for c in _ORDER), ignore_nulls=False
    ).fill_null(value=False)
    flagged = _neighbours(ordered.with_columns(same.alias("dup")).filter(~nw.col("dup")).drop("dup"))
    # The CRM's own "from" disagreeing with the time order is the trace of out-of-order timestamps.
    given = nw.col("fk") >= 0
    mismatch = (~nw.col("first") & given & (nw.col("fk") != nw.col("prev_k"))).fill_null(value=False)
    frame = flagged.with_columns(mismatch.alias("mismatch")).drop("from").collect(backend="polars")
    duplicates = int(stats["rows"]) - int(stats["after"]) - len(frame)
    from_mismatch = int(frame.select(nw.col("mismatch").sum()).item())
    unknown_rows = frame.filter(nw.col("k") == unknown_code)
    unknown_names = tuple(sorted(set(unknown_rows.get_column("to").to_list())))
    if not keep_unknown and len(unknown_rows):
        frame = _neighbours(
            frame.lazy()
            .filter(nw.col("k") != unknown_code)
            .drop("first", "last", "lid", "prev_k", "next_k", "next_time")
        ).collect(backend="polars")
    leads = int(frame.select(nw.col("first").sum()).item() or 0)
    return Prepared(
        frame=frame,
        stages=names,
        rows=int(stats["rows"]),
        after_as_of=int(stats["after"]),
        unknown=len(unknown_rows),
        unknown_stages=unknown_names,
        duplicates=duplicates,
        from_mismatch=from_mismatch,
        leads=leads,
    )


# --------------------------------------------------------------------------------------------------
# Funnel.


def _flag(expr: nw.Expr) -> nw.Expr:
    return expr.fill_null(value=False).cast(nw.Int64())


def funnel_table(
    prepared: Prepared,
    steps: Sequence[int],
    lost: Sequence[int],
    *,
    mode: Literal["ordered", "any"],
    groups: nw.LazyFrame[Any] | Literal["cohort_month"] | None,
) -> list[dict[str, Any]]:
    """Per group and funnel step: the counts of :class:`~smarketing.journey.FunnelRow`, durations in µs.

    ``groups`` is a frame of ``lead_id`` and ``group`` (one row per lead), ``"cohort_month"`` (the UTC month
    of the lead's first event) or ``None`` (one group, ``None``).
    """
    step_of = {code: j for j, code in enumerate(steps)}
    e = prepared.frame.lazy().with_columns(
        nw.col("k").replace_strict(step_of, default=None, return_dtype=nw.Int32()).alias("j"),
        nw.col("next_k").replace_strict(step_of, default=None, return_dtype=nw.Int32()).alias("next_j"),
    )
    if isinstance(groups, str):
        e = e.with_columns(nw.col("time").min().over("lid").dt.to_string("%Y-%m").alias("group"))
    e = e.filter(~nw.col("j").is_null())
    e = e.with_columns(nw.len().over("lid", "j").alias("entries"))
    if mode == "any":
        counted = nw.col("seq") == nw.col("seq").min().over("lid", "j")
    else:
        # Greedy in-order matching: the earliest entry into step j after the counted entry into step j - 1.
        for j in range(len(steps)):
            cond = nw.col("j") == j
            if j:
                cond = cond & (nw.col("seq") > nw.col(f"_p{j - 1}"))
            e = e.with_columns(nw.when(cond).then(nw.col("seq")).min().over("lid").alias(f"_p{j}"))
        counted = nw.any_horizontal(
            *((nw.col("j") == j) & (nw.col("seq") == nw.col(f"_p{j}")) for j in range(len(steps))),
            ignore_nulls=True,
        )
    e = e.filter(counted.fill_null(value=False))
    if mode == "any":
        later = (
            prepared.frame.lazy()
            .with_columns(
                nw.col("k").replace_strict(step_of, default=None, return_dtype=nw.Int32()).alias("j")
            )
            .filter(~nw.col("j").is_null())
            .group_by("lid", "j")
            .agg(nw.col("seq").max().alias("later"))
        )
    else:
        later = e.select("lid", "j", nw.col("seq").alias("later"))
    later = later.with_columns((nw.col("j") - 1).alias("j"))
    e = e.join(later, on=["lid", "j"], how="left")
    if groups is None:
        e = e.with_columns(nw.lit(None, nw.String()).alias("group"))
    elif not isinstance(groups, str):
        e = e.join(groups, on="lead_id", how="left")
    is_open = nw.col("next_k").is_null()
    is_lost = nw.col("next_k").is_in(list(lost)) if lost else nw.lit(value=False)
    recycled = ~is_open & ~is_lost & (nw.col("next_j") <= nw.col("j")).fill_null(value=False)
    duration = (nw.col("next_time") - nw.col("time")).dt.total_microseconds()
    table = (
        e.with_columns(nw.when(~is_open).then(duration).alias("d"))
        .group_by("group", "j")
        .agg(
            nw.len().alias("reached"),
            nw.col("entries").sum(),
            _flag(nw.col("entries") > 1).sum().alias("reentered"),
            _flag(nw.col("later") > nw.col("seq")).sum().alias("advanced"),
            _flag(~is_open & ~is_lost & ~recycled).sum().alias("moved_on"),
            _flag(recycled).sum().alias("recycled"),
            _flag(is_lost & ~is_open).sum().alias("lost"),
            _flag(is_open).sum().alias("open"),
            nw.col("d").quantile(0.5, "lower").alias("t50"),
            nw.col("d").quantile(0.9, "lower").alias("t90"),
        )
        .collect(backend="polars")
    )
    return table.rows(named=True)


# --------------------------------------------------------------------------------------------------
# Conformance.

START = -1


def conformance_tables(
    prepared: Prepared,
    verdicts: Mapping[tuple[int, int], int],
    limits: Mapping[tuple[int, int], int],
    owners: Sequence[int],
    *,
    examples: int,
) -> dict[str, pl.DataFrame]:
    """Judge every move; return per-lead, per-kind, per-team and example tables (polars frames).

    ``verdicts`` maps (stage code before or :data:`START`, stage code entered) to an index into
    :data:`KINDS`; a pair that is missing is legal. ``limits`` maps recycle pairs to how often a lead may
    take them. ``owners`` gives each stage code's team number.
    """
    n = len(prepared.stages)
    width = n + 2
    before = (
        nw.when(nw.col("first"))
        .then(nw.when((nw.col("fk") >= 0) & (nw.col("fk") < n)).then(nw.col("fk")).otherwise(START))
        .otherwise(nw.col("prev_k"))
    )
    e = prepared.frame.lazy().with_columns(before.alias("a"))
    e = e.with_columns(((nw.col("a") + 1) * width + nw.col("k")).alias("pair"))
    encode = {(a + 1) * width + b: v for (a, b), v in verdicts.items() if v}
    verdict = (
        nw.col("pair").replace_strict(encode, default=0, return_dtype=nw.Int32()) if encode else nw.lit(0)
    )
    e = e.with_columns(verdict.alias("v"))
    owner_of = dict(enumerate(owners))
    team_in = nw.col("k").replace_strict(owner_of, default=None, return_dtype=nw.Int32())
    team_before = nw.col("a").replace_strict(owner_of, default=None, return_dtype=nw.Int32())
    e = e.with_columns(
        team_in.alias("team_in"),
        nw.when(nw.col("a") >= 0).then(team_before).otherwise(team_in).alias("team"),
    )
    moves = e.select("lead_id", "lid", "seq", "a", "k", "to", "time", "v", "team", "team_in", "pair").collect(
        backend="polars"
    )
    if limits:
        # Recycles are few: count each lead's takes of a limited recycle on those rows only.
        limit_of = {(a + 1) * width + b: m for (a, b), m in limits.items()}
        limit = nw.col("pair").replace_strict(limit_of, default=None, return_dtype=nw.Int64())
        limited = moves.lazy().with_columns(limit.alias("limit")).filter(~nw.col("limit").is_null())
        taken = nw.col("seq").rank("ordinal").over("lid", "pair")
        over = (
            limited.filter((nw.col("v") == 0) & (taken > nw.col("limit")))
            .select("seq")
            .collect(backend="polars")
            .get_column("seq")
            .to_list()
        )
        if over:
            recycle_limit = nw.lit(KINDS.index("recycle_limit"), nw.Int32())
            moves = moves.with_columns(
                nw.when(nw.col("seq").is_in(over)).then(recycle_limit).otherwise(nw.col("v")).alias("v")
            )
    lazy = moves.lazy()
    bad = lazy.filter(nw.col("v") > 0)
    leads = (
        lazy.group_by("lid")
        .agg(
            nw.col("lead_id").min(),
            nw.len().alias("events"),
            _flag(nw.col("v") > 0).sum().alias("violations"),
        )
        .sort("lid")
        .select("lead_id", "events", "violations", (nw.col("violations") == 0).alias("fit"))
    )
    kinds = bad.group_by("v").agg(nw.len().alias("count"), nw.col("lid").n_unique().alias("leads"))
    # A team answers for the leads that entered one of its stages and for those it is blamed for.
    touched = (
        nw.concat([lazy.select("lid", nw.col("team_in").alias("team")), bad.select("lid", "team")])
        .filter(~nw.col("team").is_null())
        .group_by("team")
        .agg(nw.col("lid").n_unique().alias("leads"))
    )
    broken = bad.group_by("team").agg(nw.col("lid").n_unique().alias("unfit"), nw.len().alias("violations"))
    sample = bad.filter(nw.col("seq").rank("ordinal").over("v") <= examples).sort("v", "seq")
    return {
        "leads": leads.collect(backend="polars").to_native(),
        "kinds": kinds.collect(backend="polars").to_native(),
        "touched": touched.collect(backend="polars").to_native(),
        "broken": broken.collect(backend="polars").to_native(),
        "examples": sample.select("v", "lead_id", "a", "to", "time").collect(backend="polars").to_native(),
    }


# --------------------------------------------------------------------------------------------------
# Discovery.


def dfg_tables(prepared: Prepared) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Directly-follows edges (``k``, ``next_k``, ``count``, ``median`` µs) and nodes (``k``, counts)."""
    e = prepared.frame.lazy()
    edges = (
        e.filter(~nw.col("last"))
        .with_columns((nw.col("next_time") - nw.col("time")).dt.total_microseconds().alias("d"))
        .group_by("k", "next_k")
        .agg(nw.len().alias("count"), nw.col("d").quantile(0.5, "lower").alias("median"))
        .sort("k", "next_k")
        .collect(backend="polars")
    )
    nodes = (
        e.group_by("k")
        .agg(
            nw.len().alias("count"),
            _flag(nw.col("first")).sum().alias("start"),
            _flag(nw.col("last")).sum().alias("end"),
        )
        .sort("k")
        .collect(backend="polars")
    )
    return edges.rows(named=True), nodes.rows(named=True)
