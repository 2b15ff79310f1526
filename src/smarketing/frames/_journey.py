"""Columnar kernels behind :mod:`smarketing.journey` (private).

Every analysis of stage events goes through :func:`prepare`, which validates the events and puts each lead's
events in one agreed order. The kernels then work *per lead* and reduce with sums and counts, so an engine
that hash-partitions by lead can run them per partition and add the partials.

The events are read once and sorted once, into an eager frame in lead order; everything that depends on
the order (neighbours, first entries, the greedy funnel matching, per-lead counts) is then a ``shift``, a
forward/backward fill or a running sum along that frame's rows, read at each lead's boundaries. That is
linear and cheap; a window with ``order_by`` on a lazy frame would sort again for every expression, and a
``group_by``/``over`` by lead builds a hash table of a million keys each time.

The order of one lead's events is ``(time, stage rank, rank of the stage left)``: time first; events at the
same instant follow the journey map's stage order (plan order, or stage id order where there is no map); the
stage left breaks the remaining ties (no ``from`` first). The order of the input never matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs
import narwhals as nw
import numpy as np
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


def _lookup(expr: nw.Expr, mapping: Mapping[Any, int], default: int | None) -> nw.Expr:
    """Map values to integer codes.

    A chain of comparisons for a few values (cheaper than the join behind ``replace_strict``),
    ``replace_strict`` for many.
    """
    if len(mapping) > 16:
        return expr.replace_strict(dict(mapping), default=default, return_dtype=nw.Int32())
    out: nw.Expr = nw.lit(default, nw.Int32())
    for value, code in reversed(list(mapping.items())):
        out = nw.when(expr == value).then(nw.lit(code, nw.Int32())).otherwise(out)
    return out


def _neighbours(frame: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """On a frame in lead order: add the position, first/last flags, lead number and previous/next event.

    The frame is eager and already ordered, so ``shift`` and ``cum_sum`` follow its row order: one sort
    serves every neighbour (a window with ``order_by`` would sort the frame again for each expression).
    """
    first = (nw.col("lead_id") != nw.col("lead_id").shift(1)).fill_null(value=True)
    last = (nw.col("lead_id") != nw.col("lead_id").shift(-1)).fill_null(value=True)
    return (
        frame.with_row_index("seq")
        .with_columns(first.alias("first"), last.alias("last"))
        .with_columns(
            nw.col("first").cast(nw.Int64()).cum_sum().alias("lid"),
            nw.when(~nw.col("first")).then(nw.col("k").shift(1)).alias("prev_k"),
            nw.when(~nw.col("last")).then(nw.col("k").shift(-1)).alias("next_k"),
            nw.when(~nw.col("last")).then(nw.col("time").shift(-1)).alias("next_time"),
        )
    )


def prepare(
    events: Any,
    stages: Sequence[str] | None,
    *,
    as_of: datetime | None = None,
    keep_unknown: bool = False,
) -> Prepared:
    """Validate and order stage events; see the module docstring for the order.

    The events are read once and sorted once; everything that depends on the order then runs on the
    sorted eager frame.

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
    raw = lf.collect(backend="polars")
    if stages is None:
        found = raw.select(nw.col("to").unique()).get_column("to").to_list()
        stages = sorted(s for s in found if s is not None)
    names = tuple(stages)
    code = {s: i for i, s in enumerate(names)}
    unknown_code = len(names)
    kept = nw.col("k") >= 0 if as_of is None else nw.col("time") <= nw.lit(as_of)
    stats = raw.select(
        nw.len().alias("rows"),
        *(nw.col(c).is_null().sum().alias(f"null_{c}") for c in ("lead_id", "to", "time")),
    ).rows(named=True)[0]
    for column in ("lead_id", "to", "time"):
        missing = int(stats[f"null_{column}"])
        if missing:
            row = raw.filter(nw.col(column).is_null()).head(1).rows(named=True)[0]
            raise DataError(
                f"{missing} event(s) without {column}; the first one: {_describe(row)}",
                record=row.get("lead_id"),
                field=column,
                kind=_KIND,
            )
    coded = raw.select(
        "lead_id",
        "to",
        "time",
        _lookup(nw.col("to"), code, unknown_code).alias("k"),
        nw.when(nw.col("from").is_null())
        .then(nw.lit(-1, nw.Int32()))
        .otherwise(_lookup(nw.col("from"), code, unknown_code))
        .alias("fk"),
    )
    del raw
    rows = len(coded)
    ordered = coded.filter(kept).sort(*_ORDER)
    after_as_of = rows - len(ordered)
    del coded
    # Duplicates: the same lead entering the same stage from the same stage at the same instant. Keep one.
    same = nw.all_horizontal(*(nw.col(c) == nw.col(c).shift(1) for c in _ORDER), ignore_nulls=False)
    frame = _neighbours(ordered.filter(~same.fill_null(value=False)))
    duplicates = len(ordered) - len(frame)
    del ordered
    # The CRM's own "from" disagreeing with the time order is the trace of out-of-order timestamps.
    given = nw.col("fk") >= 0
    mismatch = (~nw.col("first") & given & (nw.col("fk") != nw.col("prev_k"))).fill_null(value=False)
    from_mismatch = int(frame.select(mismatch.sum()).item())
    unknown_rows = frame.filter(nw.col("k") == unknown_code)
    unknown_names = tuple(sorted(set(unknown_rows.get_column("to").to_list())))
    if not keep_unknown and len(unknown_rows):
        frame = _neighbours(
            frame.filter(nw.col("k") != unknown_code).drop(
                "seq", "first", "last", "lid", "prev_k", "next_k", "next_time"
            )
        )
    leads = int(frame.select(nw.col("first").sum()).item() or 0)
    return Prepared(
        frame=frame,
        stages=names,
        rows=rows,
        after_as_of=after_as_of,
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


def _runs(key: str) -> tuple[nw.Expr, nw.Expr]:
    """First and last row of each run of equal ``key`` values (on an ordered eager frame)."""
    first = (nw.col(key) != nw.col(key).shift(1)).fill_null(value=True)
    last = (nw.col(key) != nw.col(key).shift(-1)).fill_null(value=True)
    return first, last


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

    The step entries are put in (lead, step, time) order once; each lead's entries into one step are then a
    run of rows, so counts, first entries and the greedy in-order matching are shifts and fills along the
    rows, with no per-lead hash tables.
    """
    n_steps = len(steps)
    step_of = {code: j for j, code in enumerate(steps)}
    e = prepared.frame.with_columns(_lookup(nw.col("k"), step_of, None).alias("j"))
    if isinstance(groups, str):
        # The frame is in time order per lead, so the lead's first event has its earliest time.
        e = e.with_columns(
            nw.when(nw.col("first")).then(nw.col("time")).fill_null(strategy="forward").alias("t0")
        )
    keep = ["lid", "j", "time", "next_k", "next_time"]
    keep += ["t0"] if isinstance(groups, str) else ["lead_id"] if groups is not None else []
    e = e.select(keep).filter(~nw.col("j").is_null()).with_row_index("i")
    lead_first, _ = _runs("lid")
    start = nw.when(lead_first).then(nw.col("i")).fill_null(strategy="forward")
    e = e.with_columns(start.alias("s0"), (nw.col("lid") * n_steps + nw.col("j")).alias("pk"))
    # A unique key in (lead, step, time) order: the lead's step, then the position in the lead's block of
    # rows (below ``width``, the longest block; the key stays below n_steps * rows * width, far from 2**63).
    width = int(e.select((nw.col("i") - nw.col("s0")).max()).item() or 0) + 1
    key = nw.col("pk").cast(nw.Int64()) * width + nw.col("i") - nw.col("s0")
    e = e.with_columns(key.alias("key")).sort("key").drop("key")
    run_first, run_last = _runs("pk")
    e = e.with_columns(run_first.alias("rf"), run_last.alias("rl")).with_row_index("r")
    run_start = nw.when(nw.col("rf")).then(nw.col("r")).fill_null(strategy="forward")
    run_end = nw.when(nw.col("rl")).then(nw.col("r")).fill_null(strategy="backward")
    e = e.with_columns((run_end - run_start + 1).alias("entries"))
    if mode == "any":
        # The counted entry is the first of the run; the lead advanced if its last entry into the next step
        # (the next run, when it is the same lead's next step) came later.
        run_first_i = nw.when(nw.col("rf")).then(nw.col("i")).fill_null(strategy="forward")
        next_last_i = nw.when(nw.col("rl")).then(nw.col("i")).fill_null(strategy="backward").shift(-1)
        next_is_step = (nw.col("pk").shift(-1) == nw.col("pk") + 1) & (nw.col("j") < n_steps - 1)
        advanced = (next_is_step & (next_last_i > run_first_i)).fill_null(value=False)
        # Each run's first row and its last row (where ``advanced`` is right), side by side.
        decided = e.with_columns(advanced.alias("advanced")).filter(nw.col("rl")).select("advanced")
        e = nw.concat([e.filter(nw.col("rf")), decided], how="horizontal")
    else:
        # Greedy in-order matching, one step after the other: the counted entry into step j is the
        # earliest entry after the counted entry into step j - 1 of the same lead (the run before).
        counted: nw.Expr = nw.col("rf") & (nw.col("j") == 0)
        e = e.with_columns(counted.alias("c"))
        for j in range(1, n_steps):
            # The counted entry into step j - 1, carried forward; it belongs to this lead if it is not
            # before the lead's first row.
            prev = nw.when(nw.col("c") & (nw.col("j") == j - 1)).then(nw.col("i"))
            e = e.with_columns(prev.fill_null(strategy="forward").alias("_p"))
            cand = (
                (nw.col("j") == j) & (nw.col("_p") >= nw.col("s0")) & (nw.col("i") > nw.col("_p"))
            ).fill_null(value=False)
            e = e.with_columns((nw.col("c") | (cand & ~cand.shift(1).fill_null(value=False))).alias("c"))
        e = e.filter(nw.col("c")).drop("c", "_p", strict=False)
        # The counted entries of a lead are steps 0, 1, ... in order: it advanced if it has a next one.
        e = e.with_columns(
            (nw.col("lid") == nw.col("lid").shift(-1)).fill_null(value=False).alias("advanced")
        )
    e = e.with_columns(_lookup(nw.col("next_k"), step_of, None).alias("next_j"))
    if groups is None:
        e = e.with_columns(nw.lit(None, nw.String()).alias("group"))
    elif isinstance(groups, str):
        e = e.with_columns(nw.col("t0").dt.to_string("%Y-%m").alias("group"))
    else:
        e = e.join(groups.collect(backend="polars"), on="lead_id", how="left")
    is_open = nw.col("next_k").is_null()
    is_lost = nw.col("next_k").is_in(list(lost)) if lost else nw.lit(value=False)
    recycled = ~is_open & ~is_lost & (nw.col("next_j") <= nw.col("j")).fill_null(value=False)
    duration = (nw.col("next_time") - nw.col("time")).dt.total_microseconds()
    # The flags as plain columns first: a ``group_by`` that only sums columns takes polars' fast path.
    e = e.select(
        "group",
        "j",
        nw.when(~is_open).then(duration).alias("d"),
        nw.col("entries"),
        _flag(nw.col("entries") > 1).alias("reentered"),
        _flag(nw.col("advanced")).alias("advanced"),
        _flag(~is_open & ~is_lost & ~recycled).alias("moved_on"),
        _flag(recycled).alias("recycled"),
        _flag(is_lost & ~is_open).alias("lost"),
        _flag(is_open).alias("open"),
    )
    sums = ("entries", "reentered", "advanced", "moved_on", "recycled", "lost", "open")
    # Lazy: polars' eager ``group_by`` on a string key and an integer key is a few times slower.
    table = (
        e.lazy()
        .group_by("group", "j")
        .agg(nw.len().alias("reached"), *(nw.col(c).sum() for c in sums))
        .collect(backend="polars")
    )
    rows = table.rows(named=True)
    quantiles = _lower_quantiles(e.select("group", "j", "d"), (0.5, 0.9))
    for row in rows:
        row["t50"], row["t90"] = quantiles.get((row["group"], row["j"]), (None, None))
    return rows


def _lower_quantiles(
    frame: nw.DataFrame[Any], qs: Sequence[float]
) -> dict[tuple[Any, int], tuple[int | None, ...]]:
    """Per (``group``, ``j``): the lower ``qs`` quantiles of ``d`` (nulls ignored), all from one selection.

    The lower ``q`` quantile of ``n`` values is the value at index ``floor((n - 1) * q)`` in sorted order
    (polars' ``quantile(q, "lower")``); one ``numpy.partition`` at all those indices finds them in linear
    time, where a ``quantile`` per ``q`` in the ``group_by`` sorted each group once per quantile.
    """
    values = frame.filter(~nw.col("d").is_null()).to_native()
    out: dict[tuple[Any, int], tuple[int | None, ...]] = {}
    for (group, j), part in values.group_by("group", "j"):
        d = part.get_column("d").to_numpy()
        at = [math.floor((len(d) - 1) * q) for q in qs]
        chosen = np.partition(d, sorted(set(at)))
        out[(group, j)] = tuple(int(chosen[i]) for i in at)
    return out


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
    pair = (nw.col("a") + 1) * width + nw.col("k")
    e = prepared.frame.select("lead_id", "lid", "k", "to", "time", "last", before.alias("a")).with_columns(
        pair.alias("pair")
    )
    # Every pair code is below (n + 2) * width (``a`` and ``k`` are at most ``n``, the unknown stage): the
    # verdicts are a dense table, read with one gather (a lookup of many values would be a join).
    table = [0] * ((n + 2) * width)
    for (a, b), v in verdicts.items():
        table[(a + 1) * width + b] = v
    verdict = nw.new_series("v", table, nw.Int32(), backend="polars")[e.get_column("pair")]
    owner_of = dict(enumerate(owners))
    team_in = _lookup(nw.col("k"), owner_of, None)
    team_before = _lookup(nw.col("a"), owner_of, None)
    moves = e.with_columns(
        verdict.alias("v"),
        team_in.alias("team_in"),
        nw.when(nw.col("a") >= 0).then(team_before).otherwise(team_in).alias("team"),
    ).with_row_index("seq")
    if limits:
        # Count each lead's takes of a limited recycle, one recycle at a time, on those moves only (in lead
        # order, so a take's number is its position in the lead's run of takes).
        over: list[int] = []
        for (a, b), most in limits.items():
            takes = moves.filter(nw.col("pair") == (a + 1) * width + b).select("lid", "seq", "v")
            run_first, _ = _runs("lid")
            takes = takes.with_row_index("_r").with_columns(
                (
                    nw.col("_r") - nw.when(run_first).then(nw.col("_r")).fill_null(strategy="forward") + 1
                ).alias("taken")
            )
            over += takes.filter((nw.col("v") == 0) & (nw.col("taken") > most)).get_column("seq").to_list()
        if over:
            recycle_limit = nw.lit(KINDS.index("recycle_limit"), nw.Int32())
            moves = moves.with_columns(
                nw.when(nw.col("seq").is_in(over)).then(recycle_limit).otherwise(nw.col("v")).alias("v")
            )
    bad = moves.filter(nw.col("v") > 0)
    # Per lead, from the running counts at each lead's last move (the moves are in lead order).
    teams = sorted(set(owners))
    is_bad = nw.col("v") > 0
    touches = [
        ((nw.col("team_in") == t) | (is_bad & (nw.col("team") == t))).fill_null(value=False) for t in teams
    ]
    ends = moves.with_columns(
        (nw.col("seq") + 1).alias("_n"),
        _flag(is_bad).cum_sum().alias("_bad"),
        *(_flag(touch).cum_sum().alias(f"_t{t}") for t, touch in zip(teams, touches, strict=True)),
    ).filter(nw.col("last"))

    def per_lead(column: str) -> nw.Expr:
        return nw.col(column) - nw.col(column).shift(1).fill_null(0)

    leads = ends.select(
        "lead_id",
        per_lead("_n").cast(nw.UInt32()).alias("events"),
        per_lead("_bad").cast(nw.Int64()).alias("violations"),
    ).with_columns((nw.col("violations") == 0).alias("fit"))
    # A team answers for the leads that entered one of its stages and for those it is blamed for.
    touched_counts = ends.select(
        *(_flag(per_lead(f"_t{t}") > 0).sum().alias(f"_t{t}") for t in teams)
    ).rows()[0]
    touched = pl.DataFrame(
        {
            "team": [t for t, c in zip(teams, touched_counts, strict=True) if c],
            "leads": [c for c in touched_counts if c],
        },
        schema={"team": pl.Int32, "leads": pl.UInt32},
    )
    kinds = bad.group_by("v").agg(nw.len().alias("count"), nw.col("lid").n_unique().alias("leads"))
    broken = bad.group_by("team").agg(nw.col("lid").n_unique().alias("unfit"), nw.len().alias("violations"))
    sample = bad.filter(nw.col("seq").rank("ordinal").over("v") <= examples).sort("v", "seq")
    return {
        "leads": leads.to_native(),
        "kinds": kinds.to_native(),
        "touched": touched,
        "broken": broken.to_native(),
        "examples": sample.select("v", "lead_id", "a", "to", "time").to_native(),
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
