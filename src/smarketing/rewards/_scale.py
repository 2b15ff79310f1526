"""Rewards as map, reduce and finalise on Spark (private): per-lead credit, then a stage per participant.

:func:`engine_rewards` runs :func:`~smarketing.rewards.compute_rewards` through
:mod:`smarketing.frames._engine` when the deals are a PySpark DataFrame (and the touchpoints and stage
events, when the plan reads them, too). The one-machine kernel (:mod:`smarketing.rewards._kernel`) does the
work; what changes is where each piece runs and which rows cross to the driver:

1. **intake** (map by lead over the deals): each partition's won deals checked by the one-machine intake;
   the set of (close period, refund period) of refunded deals merged, so the driver knows which periods the
   run needs (the requested one and those its clawbacks reverse). Deal ids are checked for repeats on Spark.
   *Markov* (a version crediting by ``markov``, ``convention: journey``): a **chain** map over the frame the
   credit map reads builds, for the deals one machine attributes (the needed periods' won deals that fund
   that version's pool), their journeys as the kernel builds them, and their chain's keys, states and
   transition counts in global key codes (every owner and team of the touchpoints, one ``distinct`` on
   Spark); Spark sums them per version (integers); the driver solves the one-machine chain of each version
   (:func:`~smarketing.attribution._scale.markov_removal`) and the credit map gets its removal effects by
   key: the chain of all the version's journeys, as one machine solves it, never a partition's own.
2. **credit** (map by lead over the deals, touchpoints and stage events co-partitioned in one frame): each
   partition's needed deals credited and routed by the one-machine code (pool, parts, attribution per
   journey, stage credit, overlays, revenue splits, owners; Markov's journeys split by the broadcast
   removal effects). The personal lines, team-pool rows and funded
   deals are kept on the engine; per (participant, period) sums of attaining credit, bookings and credit,
   and the bookings clawed per (participant, refund period), are merged (integer sums).
3. the driver finalises the attainment summary (quotas, tiers) from the merged rows, as one machine does.
4. **team pools** (map by deal over the team rows): each row divided among its team's members by the
   team's weighting, with the members' attainment and credit broadcast.
5. **per participant** (map by participant over the lines): the tier adjustment spread over the
   participant's deals, the caps per deal and per period, the final totals of deals refunded in the period.
6. **clawbacks** (map by deal over those totals): each refunded deal's clawback split over its participants.
7. the floor's top-ups from the merged totals per participant, on the driver; the period's lines are the
   union of the pieces, joined on the engine with their deal's pool, basis and version.
8. a locked period (with the ledger paid for it): the paid lines and this run's summed per participant,
   deal, component and origin period and joined on Spark, an adjustment line for every difference
   (:func:`locked_table`, the one-machine ``_adjusted`` rule).

Every split is the kernel's own largest-remainder allocation on the same integers in the same order (deals
in id order, participants in name order): the cents and their tie-breaks are the one-machine ones. The
driver reads merged rows per participant and period (and per partition for the run-size check), never a
row per deal or line; the ledger's lines stay on the engine (:attr:`RewardLedger.line_table`).

Attribution credit maps for the heuristic models (a journey's own), for Markov's per-touch credit (its
chain adds up) and for a plugin that declares ``per_journey = True`` (each partition's journeys weighed by
the plugin on the worker; a :class:`~smarketing.errors.PluginError` there reaches the user as the same
error, naming the plugin). A plan whose model is Shapley or another plugin runs on one machine instead
(its deals, touches and stage events read into the driver): Shapley has no per-touch credit, so one
machine refuses the plan (a ``ValueError``) once a deal is credited by it; a plugin that does not declare
``per_journey`` may weigh a journey by all the others, so it gets them all at once.
Markov with parameters one machine refuses (the default ``global`` convention, which has no per-touch
credit either; an unknown parameter) runs there too, and is refused as before.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from smarketing.attribution import _scale as attribution_scale
from smarketing.attribution import registry
from smarketing.attribution.heuristic import _HEURISTIC_PARAMS
from smarketing.attribution.registry import BUILTIN_MODELS
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import _engine as engine
from smarketing.money import FxTable
from smarketing.rewards._allocate import _half_even_np
from smarketing.rewards._attainment import _plan_for_period, _refunds, _summary
from smarketing.rewards._columns import _I64, _PERSON, _TEAM, LINE_COLUMNS, _kernel_lines, _period_of
from smarketing.rewards._context import _Context
from smarketing.rewards._credit import (
    _check_split_sizes,
    _check_splits,
    _cut_of_deal,
    _funded,
    _run_budget,
    _split_rows,
    _touch_journeys,
)
from smarketing.rewards._deals import _deal_frame
from smarketing.rewards._kernel import (
    _clawbacks,
    _credited,
    _deal_cap_lines,
    _dense,
    _period_cap_lines,
    _PeriodGrid,
    _personal_lines,
    _tier_lines,
)
from smarketing.rewards._team_pools import _team_pools, _team_weights
from smarketing.rewards.model import AttributionCredit, RewardPlan

__all__ = ["LINE_SCHEMA", "engine_rewards", "on_engine"]

_S, _I, _B = pl.String(), pl.Int64(), pl.Boolean()

#: The columns of the ledger's lines on the engine (:attr:`RewardLedger.line_table`): text and integer
#: minor units of the plan currency.
LINE_SCHEMA: dict[str, pl.DataType] = {
    "period": _S,
    "participant": _S,
    "team": _S,
    "deal": _S,
    "component": _S,
    "source": _S,
    "units": _I,
    "basis_units": _I,
    "pool_units": _I,
    "deal_units": _I,
    "version": _S,
    "rule": _S,
    "via": _S,
    "origin_period": _S,
}

_MISMATCH = engine.Partial({"message": _S}, keys=("message",))

#: Intake: the (close period, refund period) of refunded deals; the won deals' ids (repeats checked).
INTAKE: dict[str, engine.Partial] = {
    "origins": engine.Partial({"period": _S, "refund_period": _S}, keys=("period", "refund_period")),
    "ids": engine.Partial({"id": _S}, kept=True),
    "mismatch": _MISMATCH,
}

#: Markov's chain per plan version (its index): the attribution layer's keys, states and transition counts.
CHAIN: dict[str, engine.Partial] = {
    **{
        name: engine.Partial({"version": _I, **table.schema}, keys=("version", *table.keys), aggs=table.aggs)
        for name, table in attribution_scale.CHAIN.items()
    },
    "mismatch": _MISMATCH,
}

# A line of credit before the per-participant stage: its deal's close period and version, whether it
# attains (not an overlay, not a team pool) and whether its deal is clawed back in the requested period.
_CELL = {
    "deal": _S,
    "participant": _S,
    "period": _S,
    "version": _I,
    "claw": _B,
    "component": _S,
    "source": _S,
    "rule": _S,
    "via": _S,
    "units": _I,
    "basis_units": _I,
    "attains": _B,
}

#: Credit: kept lines, team rows and funded deals; merged sums per (participant, period).
CREDIT: dict[str, engine.Partial] = {
    "lines": engine.Partial(_CELL, kept=True),
    "teams": engine.Partial(
        {
            "deal": _S,
            "period": _S,
            "version": _I,
            "claw": _B,
            "team": _S,
            "source": _S,
            "rule": _S,
            "via": _S,
            "units": _I,
        },
        kept=True,
    ),
    "deals": engine.Partial(
        {
            "deal": _S,
            "pool_units": _I,
            "deal_units": _I,
            "version": _I,
            "refund_period": _S,
            "origin_period": _S,
            "num": _I,
            "den": _I,
            "mode": _S,
            "elapsed": _I,
            "window": _I,
        },
        kept=True,
    ),
    "sums": engine.Partial(
        {"participant": _S, "period": _S, "credited": _I, "booked": _I, "seen": _I, "credit": _I},
        keys=("participant", "period"),
        aggs={"credited": "sum", "booked": "sum", "seen": "sum", "credit": "sum"},
    ),
    "clawed": engine.Partial(
        {"participant": _S, "period": _S, "clawed": _I},
        keys=("participant", "period"),
        aggs={"clawed": "sum"},
    ),
    "periods": engine.Partial({"period": _S, "closes": _B}, keys=("period", "closes")),
    # The absolute credited units (the run-size check), as high and low halves: the sums cannot overflow.
    "size": engine.Partial({"high": _I, "low": _I}, aggs={"high": "sum", "low": "sum"}),
    "mismatch": _MISMATCH,
}

#: Team pools: the members' lines (kept).
POOLS: dict[str, engine.Partial] = {"lines": engine.Partial(_CELL, kept=True)}

_OUT = {
    "deal": _S,
    "participant": _S,
    "component": _S,
    "source": _S,
    "rule": _S,
    "via": _S,
    "units": _I,
    "basis_units": _I,
    "origin_period": _S,
}

#: Per participant: tier and cap lines of the period (kept); final totals of deals clawed back (kept).
PARTICIPANTS: dict[str, engine.Partial] = {
    "lines": engine.Partial(_OUT, kept=True),
    "cells": engine.Partial({"deal": _S, "participant": _S, "total": _I}, kept=True),
}

#: Clawbacks: their lines (kept).
CLAWBACKS: dict[str, engine.Partial] = {"lines": engine.Partial(_OUT, kept=True)}

_HALF = 31  # the size check's halves: units >> 31 and units & (2**31 - 1)


def on_engine(deals: Any, touchpoints: Any, stage_events: Any, plan: RewardPlan) -> bool:
    """Whether a run maps on Spark: deals on Spark, the tables the plan reads too, and a model that maps."""
    if not engine.is_spark(deals):
        return False
    versions = [vp for _, vp in plan.version_index()]
    if any(vp.attribution is not None and not _maps(vp.attribution) for vp in versions):
        return False  # Shapley, a plugin, Markov's global convention: on one machine (see the module)
    if _needs_touches(versions) and touchpoints is not None and not engine.is_spark(touchpoints):
        return False
    return not (_needs_events(versions) and stage_events is not None and not engine.is_spark(stage_events))


def _maps(credit: AttributionCredit) -> bool:
    """Whether an attribution credit runs per partition (heuristic, Markov per touch, plugin per journey).

    A plugin maps when it declares ``per_journey = True``: its weights of a journey depend on that journey
    alone.

    Markov maps with the parameters one machine accepts for per-touch credit (``convention="journey"``, an
    integer ``order`` >= 1, nothing else): any other parameters run on one machine, which refuses them.
    """
    if credit.model in _HEURISTIC_PARAMS:
        return True
    if credit.model not in BUILTIN_MODELS:
        return registry._per_journey(credit.model)
    params = credit.params
    order = params.get("order", 1)
    return (
        credit.model == "markov"
        and set(params) <= {"order", "convention"}
        and params.get("convention", "global") == "journey"
        and isinstance(order, int)
        and not isinstance(order, bool)
        and order >= 1
    )


def _markov_orders(versions: Sequence[RewardPlan]) -> dict[int, int]:
    """The versions (by index) that credit by Markov attribution, each with its chain's order."""
    return {
        index: int(vp.attribution.params.get("order", 1))
        for index, vp in enumerate(versions)
        if vp.attribution is not None and vp.attribution.share > 0 and vp.attribution.model == "markov"
    }


def _needs_touches(versions: Sequence[RewardPlan]) -> bool:
    return any(vp.attribution is not None and vp.attribution.share > 0 for vp in versions)


def _needs_events(versions: Sequence[RewardPlan]) -> bool:
    return any(
        (vp.stage_credit is not None and vp.stage_credit.share > 0)
        or (
            vp.attribution is not None
            and vp.attribution.share > 0
            and vp.attribution.model in ("w_shaped", "full_path")
        )
        for vp in versions
    )


# --------------------------------------------------------------------------------------------------
# Frames on either side: polars (one partition, the laws' tests) or PySpark.


def _rename(frame: Any, prefix: str, columns: Sequence[str]) -> Any:
    """``frame``'s ``columns`` prefixed, its ``lead_id`` kept as the partition key, and its kind."""
    if engine.is_spark(frame):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        return frame.select(
            F.col("lead_id").alias("_lead"),
            *(F.col(f"`{c}`").alias(prefix + c) for c in columns),
            F.lit(prefix).alias("_k"),
        )
    return frame.select(
        pl.col("lead_id").alias("_lead"),
        *(pl.col(c).alias(prefix + c) for c in columns),
        pl.lit(prefix).alias("_k"),
    )


def _union(frames: Sequence[Any]) -> Any:
    """The rows of ``frames`` in one frame (missing columns null)."""
    if engine.is_spark(frames[0]):
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame, allowMissingColumns=True)
        return out
    return pl.concat(list(frames), how="diagonal_relaxed")


def _where(frame: Any, column: str, value: Any) -> Any:
    if engine.is_spark(frame):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        return frame.where(F.col(column) == F.lit(value))
    return frame.filter(pl.col(column) == value)


def _left_join(frame: Any, other: Any, on: str) -> Any:
    if engine.is_spark(frame):
        return frame.join(other, on=on, how="left")
    return frame.join(other, on=on, how="left", nulls_equal=False)


def _polars(frame: Any) -> pl.DataFrame:
    """A small (merged, per participant) frame in polars."""
    return engine.to_polars(frame) if engine.is_spark(frame) else frame


def _like(frame: Any, rows: pl.DataFrame) -> Any:
    """``rows`` (a few, made on the driver) on the engine of ``frame``."""
    if engine.is_spark(frame):
        return frame.sparkSession.createDataFrame(rows.to_arrow())
    return rows


def _columns(frame: Any) -> list[str]:
    return list(frame.columns)


# --------------------------------------------------------------------------------------------------
# The maps.


def _frame(part: Any) -> pl.DataFrame:
    """A partition as a polars DataFrame, its times as instants in UTC (Spark gives its session's zone)."""
    frame = part if isinstance(part, pl.DataFrame) else pl.DataFrame(part)
    return engine._utc(frame)


def _unpack(frame: pl.DataFrame, prefix: str, columns: Sequence[str]) -> pl.DataFrame:
    """The rows of one kind (``prefix``) of a co-partitioned frame, in their own columns."""
    mine = frame.filter(pl.col("_k") == prefix)
    return mine.select(pl.col(prefix + c).alias(c) for c in columns)


def _empty(tables: Mapping[str, engine.Partial]) -> dict[str, pl.DataFrame]:
    return {name: table.empty() for name, table in tables.items()}


def _mismatch(tables: Mapping[str, engine.Partial], exc: CurrencyMismatchError) -> dict[str, pl.DataFrame]:
    out = _empty(tables)
    out["mismatch"] = pl.DataFrame({"message": [str(exc)]}, schema={"message": _S})
    return out


def intake_map(
    part: Any, *, ctx: _Context, fx: FxTable | None, cutoff: date, kind: str, columns: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """A partition's won deals checked (the one-machine intake); its refunds' periods; its won deal ids."""
    deals = _unpack(_frame(part), "d_", columns)
    if deals.is_empty():
        return _empty(INTAKE)
    try:
        won = _deal_frame(deals, ctx, fx, cutoff, kind)
    except CurrencyMismatchError as exc:
        return _mismatch(INTAKE, exc)
    refunded = won.filter(pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff))
    out = _empty(INTAKE)
    out["origins"] = refunded.select(
        pl.col("_period").alias("period"), _period_of(pl.col("refunded_on"), kind).alias("refund_period")
    ).unique()
    out["ids"] = won.select(pl.col("id").cast(pl.String))
    return out


def _needed_deals(
    deals: pl.DataFrame, *, ctx: _Context, fx: FxTable | None, cutoff: date, kind: str, needed: Sequence[str]
) -> tuple[pl.DataFrame, pl.Series] | None:
    """A partition's won deals the run's ``needed`` periods pay, as one machine picks them, and their ids.

    The deals are ranked in id order (their ``id`` is the rank, as inside the kernel); the ids come in that
    order. None when the partition has no such deal.

    Raises:
        CurrencyMismatchError: A deal's currency is not the plan's and ``fx`` has no rate for it.
    """
    won = _deal_frame(deals, ctx, fx, cutoff, kind)
    # The deals the period needs, as _lines_of_period picks them (with the run's needed periods).
    refunded = (pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff)).fill_null(False)
    wanted = pl.col("_period").is_in(list(needed)) | (
        refunded & _period_of(pl.col("refunded_on"), kind).is_in(list(needed))
    )
    used = ["id", "lead_id", "owner", "product", "segment", "splits", "close_date", "refunded_on"]
    won = won.filter(wanted).select(*used, "_period", "_version", "_gross", "_net").sort("id")
    if won.is_empty():
        return None
    names = won.get_column("id")
    won = won.with_row_index("_rank").with_columns(pl.col("_rank").cast(_I64).alias("id")).drop("_rank")
    return won, names


@contextlib.contextmanager
def _deals_by_id(names: pl.Series) -> Iterator[None]:
    """A kernel's :class:`DataError` that names a deal by its rank names it by its id (``names[rank]``)."""
    try:
        yield
    except DataError as exc:
        if exc.kind == "deal" and exc.record is not None and str(exc.record).isdigit():
            raise DataError(
                exc.message, kind=exc.kind, record=names[int(exc.record)], field=exc.field
            ) from None
        raise


def _persons(versions: Sequence[tuple[date | None, RewardPlan]]) -> set[str]:
    return {p.person for _, vp in versions for p in vp.participants if p.person}


def chain_map(
    part: Any,
    *,
    ctx: _Context,
    fx: FxTable | None,
    cutoff: date,
    kind: str,
    needed: Sequence[str],
    columns: Mapping[str, Sequence[str]],
    codes: Mapping[str, int],
    orders: Mapping[int, int],
) -> dict[str, pl.DataFrame]:
    """The Markov chains of a partition's journeys: per version in ``orders``, its credited deals' journeys.

    The deals are those the credit map credits (the needed periods' won deals that fund the version's pool),
    their journeys as :func:`~smarketing.rewards._credit._touch_journeys` builds them for the one-machine
    kernel, their chain's keys, states and transition counts in global key ``codes``. The checks that come
    first on one machine (the deals' splits, the split sizes, a deal without touches) raise here.
    """
    frame = _frame(part)
    deals = _unpack(frame, "d_", columns["d_"])
    if deals.is_empty():
        return _empty(CHAIN)
    try:
        got = _needed_deals(deals, ctx=ctx, fx=fx, cutoff=cutoff, kind=kind, needed=needed)
    except CurrencyMismatchError as exc:
        return _mismatch(CHAIN, exc)
    if got is None:
        return _empty(CHAIN)
    won, names = got
    touches = _unpack(frame, "t_", columns["t_"])
    versions = ctx.plan.version_index()
    found: dict[str, list[pl.DataFrame]] = {name: [] for name in CHAIN}
    with _deals_by_id(names):
        splits = _split_rows(won)
        _check_splits(splits, ctx, _persons(versions))
        for index, order in sorted(orders.items()):
            vp = versions[index][1]
            assert vp.attribution is not None
            d = won.filter(pl.col("_version") == index)
            f = _funded(d, vp) if len(d) else d
            if f.is_empty():
                continue
            _check_split_sizes(f, vp, splits)
            journeys = _touch_journeys(f, vp.attribution, touches, None, _cut_of_deal())
            for name, table in attribution_scale.chain_partials(journeys, codes, order).items():
                found[name].append(table.with_columns(pl.lit(index, dtype=_I).alias("version")))
    out = _empty(CHAIN)
    out.update({name: pl.concat(tables) for name, tables in found.items() if tables})
    return out


def credit_map(
    part: Any,
    *,
    ctx: _Context,
    fx: FxTable | None,
    cutoff: date,
    kind: str,
    period: str,
    needed: Sequence[str],
    columns: Mapping[str, Sequence[str]],
    removal: Mapping[int, Mapping[str, float]] | None = None,
) -> dict[str, pl.DataFrame]:
    """A partition's needed deals credited and routed by the one-machine kernel; its sums per participant.

    ``removal``: per Markov version, the removal effects of the whole run's chain (see :func:`chain_map`).
    """
    frame = _frame(part)
    deals = _unpack(frame, "d_", columns["d_"])
    if deals.is_empty():
        return _empty(CREDIT)
    touches = _unpack(frame, "t_", columns["t_"]) if columns.get("t_") else None
    events = _unpack(frame, "e_", columns["e_"]) if columns.get("e_") else None
    try:
        got = _needed_deals(deals, ctx=ctx, fx=fx, cutoff=cutoff, kind=kind, needed=needed)
    except CurrencyMismatchError as exc:
        return _mismatch(CREDIT, exc)
    if got is None:
        return _empty(CREDIT)
    won, names = got
    versions = ctx.plan.version_index()
    with _deals_by_id(names):
        splits = _split_rows(won)
        _check_splits(splits, ctx, _persons(versions))
        credited = _credited(
            won,
            ctx,
            versions,
            splits,
            touchpoints=touches,
            stage_events=events,
            check_size=False,
            removal=removal,
        )
        if credited is None:
            return _empty(CREDIT)
        personal, team_rows, funded = credited
        refunds = _refunds(funded, versions, kind, cutoff)
    return _credit_partials(personal, team_rows, funded, refunds, names=names, ctx=ctx, period=period)


# long: every partial table of the credit, from one partition's kernel output, read best in one place
def _credit_partials(
    personal: list[pl.DataFrame],
    team_rows: list[pl.DataFrame],
    funded: pl.DataFrame,
    refunds: pl.DataFrame,
    *,
    names: pl.Series,
    ctx: _Context,
    period: str,
) -> dict[str, pl.DataFrame]:
    """The credit's partial tables, deals by id again."""
    versions = ctx.plan.version_index()
    base, _ = _personal_lines(personal, _team_weights(versions, ctx))
    ids = pl.Series("deal", names, dtype=pl.String)
    info = (
        funded.select(
            pl.col("id"),
            pl.col("_period").alias("period"),
            pl.col("_version").alias("version"),
        )
        .join(refunds.select("id", (pl.col("_period") == period).alias("claw")), on="id", how="left")
        .with_columns(pl.col("claw").fill_null(value=False))
    )
    based = base.join(info, on="id")
    lines = based.select(
        ids.gather(based.get_column("id")).alias("deal"),
        pl.col("participant").cast(pl.String),
        "period",
        "version",
        "claw",
        pl.col("component").cast(pl.String),
        pl.col("source").cast(pl.String),
        pl.col("rule").cast(pl.String),
        pl.col("via").cast(pl.String),
        "units",
        "basis_units",
        (pl.col("source").cast(pl.String) != "overlay").alias("attains"),
    )
    out = _empty(CREDIT)
    out["lines"] = lines
    teams = pl.concat(team_rows, how="vertical_relaxed")
    if not teams.is_empty():
        joined = teams.join(info.drop("version"), on="id")
        out["teams"] = joined.select(
            ids.gather(joined.get_column("id")).alias("deal"),
            "period",
            pl.col("_version").alias("version"),
            "claw",
            pl.col("team").cast(pl.String),
            pl.col("source").cast(pl.String),
            pl.col("rule").cast(pl.String),
            pl.col("via").cast(pl.String),
            "units",
        )
    refund_info = refunds.select(
        "id",
        pl.col("_period").alias("refund_period"),
        pl.col("origin_period"),
        pl.col("_num").alias("num"),
        pl.col("_den").alias("den"),
        pl.col("_mode").alias("mode"),
        pl.col("_elapsed").alias("elapsed"),
        pl.col("_window").alias("window"),
    )
    deals = funded.select("id", pl.col("_pool").alias("pool_units"), pl.col("_basis").alias("deal_units"))
    deals = deals.with_columns(funded.get_column("_version").alias("version")).join(
        refund_info, on="id", how="left"
    )
    out["deals"] = deals.with_columns(ids.gather(deals.get_column("id")).alias("deal")).drop("id")
    attaining = lines.filter(pl.col("attains"))
    cells = attaining.group_by("participant", "period", "deal").agg(
        pl.col("units").sum().alias("credited"), pl.col("basis_units").sum().alias("booked")
    )
    per_period = cells.group_by("participant", "period").agg(
        pl.col("credited").sum(), pl.col("booked").sum(), pl.len().cast(_I64).alias("seen")
    )
    credit = lines.group_by("participant", "period").agg(pl.col("units").sum().alias("credit"))
    out["sums"] = credit.join(per_period, on=["participant", "period"], how="left").with_columns(
        pl.col("credited", "booked", "seen").fill_null(0)
    )
    # Bookings clawed back from the attainment (reduce_attainment), per (participant, refund period).
    reduces = refunds.filter(pl.col("_reduce"))
    reducing = reduces.select(
        ids.gather(reduces.get_column("id")).alias("deal"),
        pl.col("_period").alias("refund_period"),
        "_num",
        "_den",
    )
    taken = cells.join(reducing, on="deal")
    if not taken.is_empty():
        units = _half_even_np(
            taken.get_column("booked").to_numpy() * taken.get_column("_num").to_numpy(),
            taken.get_column("_den").to_numpy(),
        )
        out["clawed"] = (
            taken.with_columns(pl.Series("clawed", units, dtype=_I64))
            .group_by("participant", "refund_period")
            .agg(pl.col("clawed").sum())
            .rename({"refund_period": "period"})
        )
    out["periods"] = pl.concat(
        [
            funded.select(pl.col("_period").alias("period"), pl.lit(True).alias("closes")),
            refunds.select(pl.col("_period").alias("period"), pl.lit(False).alias("closes")),
        ]
    ).unique()
    absolute = int(lines.get_column("units").abs().sum()) + (
        int(out["teams"].get_column("units").abs().sum()) if len(out["teams"]) else 0
    )
    out["size"] = pl.DataFrame(
        {"high": [absolute >> _HALF], "low": [absolute & ((1 << _HALF) - 1)]}, schema={"high": _I, "low": _I}
    )
    return out


def pools_map(
    part: Any,
    *,
    weights: pl.DataFrame,
    summary: pl.DataFrame,
    names: list[str],
    periods: list[str],
    personal_credit: np.ndarray,
) -> dict[str, pl.DataFrame]:
    """Team rows divided among their teams' members (the one-machine team pools), as member lines."""
    rows = _frame(part)
    if rows.is_empty():
        return _empty(POOLS)
    deals = rows.get_column("deal").unique().sort()
    local = rows.with_columns(
        pl.col("deal").replace_strict(deals, list(range(len(deals))), return_dtype=_I64).alias("id"),
        pl.col("version").alias("_version"),
        pl.col("rule", "via", "source").cast(pl.Categorical),
    )
    per_close = np.zeros(len(deals), dtype=np.int64)
    first = local.group_by("id").agg(pl.col("period").first())
    per_close[first.get_column("id").to_numpy()] = [periods.index(p) for p in first.get_column("period")]
    lines = _team_pools(
        local,
        weights,
        summary,
        names=names,
        periods=periods,
        per_close=per_close,
        personal_credit=personal_credit,
    )
    if lines.is_empty():
        return _empty(POOLS)
    deal_info = local.group_by("id").agg(pl.col("period", "version", "claw").first())
    joined = lines.join(deal_info, on="id")
    return {
        "lines": joined.select(
            deals.gather(joined.get_column("id")).alias("deal"),
            pl.Series(names, dtype=pl.String)
            .gather(joined.get_column("participant_rank"))
            .alias("participant"),
            "period",
            "version",
            "claw",
            pl.col("component").cast(pl.String),
            pl.col("source").cast(pl.String),
            pl.col("rule").cast(pl.String),
            pl.col("via").cast(pl.String),
            "units",
            "basis_units",
            pl.lit(False).alias("attains"),
        )
    }


def _local_grid(
    frame: pl.DataFrame, periods: list[str], close_periods: list[str], wanted: str
) -> tuple[_PeriodGrid, pl.Series, np.ndarray]:
    """A grid of a partition's participants and deals (in name and id order): the kernel's, on a part."""
    who = frame.get_column("participant").unique().sort()
    deals = frame.get_column("deal").unique().sort()
    code = {p: i for i, p in enumerate(periods)}
    per_close = np.full(len(deals), -1, dtype=np.int64)
    deal_rank = frame.get_column("deal").replace_strict(deals, list(range(len(deals))), return_dtype=_I64)
    if "period" in frame.columns:
        first = (
            pl.DataFrame({"d": deal_rank, "p": frame.get_column("period")})
            .group_by("d")
            .agg(pl.col("p").first())
        )
        per_close[first.get_column("d").to_numpy()] = [code[p] for p in first.get_column("p")]
    grid = _PeriodGrid(
        n=len(deals),
        names=who.to_list(),
        periods=periods,
        close_periods=close_periods,
        code=code,
        per_close=per_close,
        has_period=per_close >= 0,
        wanted=code.get(wanted, -1),
        out=[_kernel_lines(0)],
    )
    rank = frame.get_column("participant").replace_strict(who, list(range(len(who))), return_dtype=_I64)
    cell = rank.to_numpy() * grid.n + deal_rank.to_numpy()
    return grid, deals, cell


def _out_lines(grid: _PeriodGrid, deals: pl.Series) -> pl.DataFrame:
    """The grid's coded lines, deals and participants by name again."""
    lines = pl.concat(grid.out, how="vertical")
    return lines.select(
        deals.gather(lines.get_column("deal_rank")).alias("deal"),
        pl.Series(grid.names, dtype=pl.String)
        .gather(lines.get_column("participant_rank"))
        .alias("participant"),
        pl.col("component").cast(pl.String),
        pl.col("source").cast(pl.String),
        pl.col("rule").cast(pl.String),
        pl.col("via").cast(pl.String),
        "units",
        "basis_units",
        pl.col("origin_period").cast(pl.String),
    )


def participants_map(
    part: Any,
    *,
    versions: list[tuple[date | None, RewardPlan]],
    summary: pl.DataFrame,
    period_plans: dict[str, RewardPlan],
    periods: list[str],
    close_periods: list[str],
    period: str,
) -> dict[str, pl.DataFrame]:
    """Each participant's tier lines, caps per deal and per period (the kernel's, on their own lines)."""
    frame = _frame(part)
    if frame.is_empty():
        return _empty(PARTICIPANTS)
    grid, deals, cell = _local_grid(frame, periods, close_periods, period)
    units = frame.get_column("units").to_numpy()
    attains = frame.get_column("attains").to_numpy()
    total = _dense(cell, units, grid.shape)
    count = _dense(cell, 1, grid.shape)
    att_units = _dense(cell[attains], units[attains], grid.shape)
    att_seen = _dense(cell[attains], 1, grid.shape) > 0
    mine = summary.filter(pl.col("participant").is_in(grid.names))
    _tier_lines(grid, mine, att_seen, att_units, total)
    version = np.zeros(grid.n, dtype=np.int64)
    by_deal = (
        pl.DataFrame({"c": cell % max(grid.n, 1), "v": frame.get_column("version")})
        .group_by("c")
        .agg(pl.col("v").first())
    )
    version[by_deal.get_column("c").to_numpy()] = by_deal.get_column("v").to_numpy()
    present = count > 0
    _deal_cap_lines(grid, versions, version, total, present)
    _period_cap_lines(grid, period_plans, total, present)
    claw_deals = frame.filter(pl.col("claw")).get_column("deal").unique()
    out = {"lines": _out_lines(grid, deals)}
    if len(claw_deals):
        columns = deals.is_in(claw_deals.implode()).to_numpy()
        pp, dd = np.nonzero(present & columns[None, :])
        out["cells"] = pl.DataFrame(
            {
                "deal": deals.gather(dd),
                "participant": pl.Series(grid.names, dtype=pl.String).gather(pp),
                "total": total[pp, dd],
            },
            schema={"deal": _S, "participant": _S, "total": _I},
        )
    else:
        out["cells"] = PARTICIPANTS["cells"].empty()
    return out


def clawbacks_map(part: Any, *, period: str) -> dict[str, pl.DataFrame]:
    """Each refunded deal's clawback over its participants (the kernel's, on the deal's final totals)."""
    frame = _frame(part)
    if frame.is_empty():
        return _empty(CLAWBACKS)
    grid, deals, cell = _local_grid(frame, [period], [], period)
    total = _dense(cell, frame.get_column("total").to_numpy(), grid.shape)
    present = _dense(cell, 1, grid.shape) > 0
    info = frame.group_by("deal").agg(
        pl.col("origin_period", "num", "den", "mode", "elapsed", "window").first()
    )
    refunds = info.select(
        pl.col("deal").replace_strict(deals, list(range(len(deals))), return_dtype=_I64).alias("id"),
        pl.lit(period).alias("_period"),
        "origin_period",
        pl.col("num").alias("_num"),
        pl.col("den").alias("_den"),
        pl.col("mode").alias("_mode"),
        pl.col("elapsed").alias("_elapsed"),
        pl.col("window").alias("_window"),
    ).sort("id")
    grid.out.append(_clawbacks(refunds, total, present, grid.code, 0))
    return {"lines": _out_lines(grid, deals)}


# --------------------------------------------------------------------------------------------------
# The driver.


def _raise_mismatch(partials: engine.Partials) -> None:
    messages = partials.merged("mismatch").get_column("message")
    if len(messages):
        raise CurrencyMismatchError(str(messages.min()))


# long: the stages of the run in order (intake, credit, team pools, participants, clawbacks, floor)
def engine_rewards(
    deals: Any,
    ctx: _Context,
    *,
    touchpoints: Any,
    stage_events: Any,
    fx: FxTable | None,
    kind: str,
    period: str,
    cutoff: date,
    run: Any = None,
) -> tuple[Any, pl.DataFrame, dict[str, str | None]]:
    """The period's lines on the engine (in :data:`LINE_SCHEMA`), the summary and each participant's team.

    ``run`` is :func:`smarketing.frames._engine.run` (the laws' tests pass one that splits polars frames
    into partitions). The lines are the one-machine ones, floor included.
    """
    run = run or engine.run
    plan = ctx.plan
    versions = plan.version_index()
    plans = [vp for _, vp in versions]
    required = ["id", "lead_id", "amount", "amount_currency", "stage", "close_date"]
    if engine.is_spark(deals):
        engine.require(deals, "deals", required)
    deal_columns = _columns(deals)
    intake = run(
        _rename(deals, "d_", deal_columns),
        functools.partial(intake_map, ctx=ctx, fx=fx, cutoff=cutoff, kind=kind, columns=deal_columns),
        INTAKE,
        kind="deals",
        key="_lead",
        columns=["_lead", "_k", *("d_" + c for c in deal_columns)],
        persist=True,
    )
    _raise_mismatch(intake)
    _refuse_repeated_ids(intake.rows("ids"))
    origins = intake.merged("origins").filter(pl.col("refund_period") == period).get_column("period")
    intake.release()  # its kept ids are read (a second read of the persisted map), not again
    needed = sorted({period, *origins.to_list()})
    pieces = [_rename(deals, "d_", deal_columns)]
    columns: dict[str, Sequence[str]] = {"d_": deal_columns}
    if _needs_touches(plans) and touchpoints is not None:
        wanted = ["lead_id", "time", "team", "owner"]
        if engine.is_spark(touchpoints):
            engine.require(touchpoints, "touchpoints", wanted)
        columns["t_"] = wanted
        pieces.append(_rename(touchpoints, "t_", wanted))
    if _needs_events(plans) and stage_events is not None:
        wanted = ["lead_id", "to", "time"]
        if engine.is_spark(stage_events):
            engine.require(stage_events, "stage_events", wanted)
        wanted += ["actor"] if "actor" in _columns(stage_events) else []
        columns["e_"] = wanted
        pieces.append(_rename(stage_events, "e_", wanted))
    together = _union(pieces)
    orders = _markov_orders(plans)
    removal = None
    if orders and touchpoints is not None:
        codes = _key_codes(touchpoints)
        chain = run(
            together,
            functools.partial(
                chain_map,
                ctx=ctx,
                fx=fx,
                cutoff=cutoff,
                kind=kind,
                needed=needed,
                columns=columns,
                codes=codes,
                orders=orders,
            ),
            CHAIN,
            kind="deals",
            key="_lead",
            columns=_columns(together),
        )
        _raise_mismatch(chain)
        removal = _removal_effects(chain, codes, orders)
    credit = run(
        together,
        functools.partial(
            credit_map,
            ctx=ctx,
            fx=fx,
            cutoff=cutoff,
            kind=kind,
            period=period,
            needed=needed,
            columns=columns,
            removal=removal,
        ),
        CREDIT,
        kind="deals",
        key="_lead",
        columns=_columns(together),
        persist=True,
    )
    _raise_mismatch(credit)
    size = credit.merged("size")
    absolute = (int(size.get_column("high").sum() or 0) << _HALF) + int(size.get_column("low").sum() or 0)
    budget, multiplier = _run_budget(versions)
    if absolute >= budget:
        _refuse_run_size(credit, budget, multiplier)
    weights = _team_weights(versions, ctx)
    sums = credit.merged("sums")
    period_rows = credit.merged("periods")
    close_periods = sorted(set(period_rows.filter(pl.col("closes")).get_column("period").to_list()))
    periods = sorted(set(period_rows.get_column("period").to_list()))
    if not close_periods:
        summary = _summary(
            pl.DataFrame(schema={"participant": _S, "_period": _S, "credited": _I, "booked": _I}),
            pl.DataFrame(schema={"participant": _S, "_period": _S, "clawed": _I}),
            {},
        )
        credit.release()
        empty = _like(deals, pl.DataFrame(schema=_OUT))
        return _with_floor(empty, _plan_for_period(plan, period, cutoff), period, ctx, summary)
    names = sorted({*sums.get_column("participant").to_list(), *weights.get_column("participant")})
    period_plans = {p: _plan_for_period(plan, p, cutoff) for p in close_periods}
    booked = sums.filter(pl.col("seen") > 0).select(
        "participant", pl.col("period").alias("_period"), "credited", "booked"
    )
    clawed = credit.merged("clawed").rename({"period": "_period"})
    summary = _summary(booked, clawed, period_plans)
    personal_credit = np.zeros((len(names), len(periods)), dtype=np.int64)
    for row in sums.iter_rows(named=True):
        personal_credit[names.index(row["participant"]), periods.index(row["period"])] = row["credit"]
    cells = credit.rows("lines")
    team_rows = credit.rows("teams")
    pools = run(
        team_rows,
        functools.partial(
            pools_map,
            weights=weights,
            summary=summary,
            names=names,
            periods=periods,
            personal_credit=personal_credit,
        ),
        POOLS,
        kind="deals",
        key="deal",
        columns=_columns(team_rows),
        persist=True,
    )
    credit_lines = _union([cells, pools.rows("lines")])
    per_participant = run(
        credit_lines,
        functools.partial(
            participants_map,
            versions=versions,
            summary=summary,
            period_plans=period_plans,
            periods=periods,
            close_periods=close_periods,
            period=period,
        ),
        PARTICIPANTS,
        kind="deals",
        key="participant",
        columns=_columns(credit_lines),
        persist=True,
    )
    refund_info = credit.rows("deals").drop("pool_units", "deal_units", "version")
    final = _left_join(per_participant.rows("cells"), refund_info, "deal")
    clawbacks = run(
        final,
        functools.partial(clawbacks_map, period=period),
        CLAWBACKS,
        kind="deals",
        key="deal",
        columns=_columns(final),
        persist=True,
    )
    kept = _where(credit_lines, "period", period)
    out_columns = list(_OUT)
    base = kept.select(*(c for c in out_columns if c != "origin_period"))
    base = _with_null_origin(base)
    lines = _union([base, per_participant.rows("lines"), clawbacks.rows("lines")])
    deal_numbers = credit.rows("deals").select("deal", "pool_units", "deal_units", "version")
    out = _with_floor(
        lines,
        _plan_for_period(plan, period, cutoff),
        period,
        ctx,
        summary,
        deal_numbers=deal_numbers,
        version_names=[vp.id for vp in plans],
    )
    # The lines kept on Spark read the persisted maps: cached as long as the lines' frame lives.
    engine.release_with(out[0], [credit, pools, per_participant, clawbacks])
    return out


def _key_codes(touchpoints: Any) -> dict[str, int]:
    """Global codes of every recipient a touch may have (its owner as a person, its team), in name order.

    A superset of the keys of any version's journeys: the driver keeps those that occur.
    """
    if engine.is_spark(touchpoints):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        person = F.concat(F.lit(_PERSON), F.col("owner"))
        team = F.concat(F.lit(_TEAM), F.col("team"))
        keys = touchpoints.select(F.explode(F.array(person, team)).alias("key"))
        names = [str(k) for k in engine.distinct(keys, "key")]
    else:
        frame = touchpoints.select(
            pl.concat_str(pl.lit(_PERSON), pl.col("owner")).alias("key"),
            pl.concat_str(pl.lit(_TEAM), pl.col("team")).alias("key_"),
        )
        both = pl.concat([frame.get_column("key"), frame.get_column("key_").alias("key")])
        names = sorted(both.drop_nulls().unique().to_list())
    return {k: i for i, k in enumerate(names)}


def _removal_effects(
    chain: engine.Partials, codes: Mapping[str, int], orders: Mapping[int, int]
) -> dict[int, dict[str, float]]:
    """Per Markov version, each recipient's removal effect in the chain of all the version's journeys.

    The merged chain is the one-machine chain (integer counts), solved by the one-machine code; a version
    without a credited deal has none.
    """
    keys, states = chain.merged("keys"), chain.merged("states")
    transitions = chain.merged("transitions")
    out = {}
    for index, order in sorted(orders.items()):
        mine = pl.col("version") == index
        version_keys = keys.filter(mine).get_column("key").to_list()
        if version_keys:
            out[index] = attribution_scale.markov_removal(
                codes,
                version_keys,
                states.filter(mine).get_column("state").to_list(),
                transitions.filter(mine).drop("version"),
                order,
            )
    return out


def _with_null_origin(frame: Any) -> Any:
    if engine.is_spark(frame):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        return frame.withColumn("origin_period", F.lit(None).cast("string"))
    return frame.with_columns(pl.lit(None, dtype=_S).alias("origin_period"))


def _refuse_repeated_ids(ids: Any) -> None:
    """The intake's DataError for a won deal id that appears twice (over all partitions)."""
    if engine.is_spark(ids):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        repeated = _polars(ids.groupBy("id").count().where(F.col("count") > 1).orderBy("id").limit(1))
    else:
        repeated = ids.filter(pl.col("id").is_duplicated()).sort("id").head(1)
    if len(repeated):
        raise DataError(
            "the deal id appears twice", kind="deal", record=str(repeated.get_column("id")[0]), field="id"
        )


def _refuse_run_size(credit: engine.Partials, budget: int, multiplier: Any) -> None:
    """The run-size DataError naming the deal where the running total crosses the budget (read per deal).

    Only a run that does not fit reads its per-deal sums on the driver.
    """
    lines = _polars(credit.rows("lines").select("deal", "units"))
    teams = _polars(credit.rows("teams").select("deal", "units"))
    per_deal = (
        pl.concat([lines, teams])
        .group_by("deal")
        .agg(pl.col("units").cast(pl.Int128).abs().sum())
        .sort("deal")
    )
    over = per_deal.get_column("units").cum_sum() >= budget
    record = per_deal.get_column("deal")[int(over.arg_true()[0])] if over.any() else None
    raise DataError(
        f"the run's total would not fit 64-bit minor units (with tier multipliers up to {multiplier}): "
        "compute a shorter period or fewer deals at a time",
        kind="deal",
        record=None if record is None else str(record),
    )


def _teams_of(lines: Any, summary: pl.DataFrame, ctx: _Context) -> dict[str, str | None]:
    """Each participant's team (a person's plan team; a team participant is its own team)."""
    distinct = lines.select("participant")
    distinct = distinct.distinct() if engine.is_spark(lines) else distinct.unique()
    who = {*_polars(distinct).get_column("participant").drop_nulls().to_list(), *summary["participant"]}
    teams = {p.team for _, vp in ctx.plan.version_index() for p in vp.participants if p.team}
    return {w: ctx.people.get(w, w if w in teams else None) for w in sorted(who)}


def _with_floor(
    lines: Any,
    vp: RewardPlan,
    period: str,
    ctx: _Context,
    summary: pl.DataFrame,
    *,
    deal_numbers: Any = None,
    version_names: Sequence[str] = (),
) -> tuple[Any, pl.DataFrame, dict[str, str | None]]:
    """The floor's top-ups (from the merged totals per participant), the deals' numbers, period and team."""
    floor_rows = pl.DataFrame(schema=_OUT)
    if vp.floor is not None:
        floor = vp.floor.to_minor()
        people = sorted({p.person for p in vp.participants if p.person})
        grouped = (
            lines.groupBy("participant").sum("units")
            if engine.is_spark(lines)
            else lines.group_by("participant").agg(pl.col("units").sum())
        )
        totals = {str(k): int(v) for k, v in _polars(grouped).rows()}
        top = [(who, floor - totals.get(who, 0)) for who in people if totals.get(who, 0) < floor]
        if top:
            floor_rows = pl.DataFrame(
                {
                    "deal": [None] * len(top),
                    "participant": [w for w, _ in top],
                    "component": "floor",
                    "source": "floor",
                    "rule": f"rewards.floor ({vp.floor})",
                    "via": [None] * len(top),
                    "units": [u for _, u in top],
                    "basis_units": 0,
                    "origin_period": [None] * len(top),
                },
                schema=_OUT,
            )
    if len(floor_rows):
        lines = _union([lines.select(*_OUT), _like(lines, floor_rows)])
    summary = summary.filter(pl.col("_period") == period).drop("_period")
    team_of = _teams_of(lines, summary, ctx)
    teams = pl.DataFrame(
        {"participant": list(team_of), "team": list(team_of.values())}, schema={"participant": _S, "team": _S}
    )
    numbers = deal_numbers
    versions = pl.DataFrame(
        {"version": list(range(len(version_names))), "_v": list(version_names)},
        schema={"version": _I, "_v": _S},
    )
    if numbers is None:
        numbers = _like(
            lines, pl.DataFrame(schema={"deal": _S, "pool_units": _I, "deal_units": _I, "version": _I})
        )
    numbers = _left_join(numbers, _like(lines, versions), "version").drop("version")
    joined = _left_join(_left_join(lines, numbers, "deal"), _like(lines, teams), "participant")
    if engine.is_spark(joined):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        table = joined.select(
            F.lit(period).alias("period"),
            "participant",
            "team",
            "deal",
            "component",
            "source",
            F.col("units").cast("bigint"),
            F.col("basis_units").cast("bigint"),
            F.coalesce(F.col("pool_units"), F.lit(0)).cast("bigint").alias("pool_units"),
            F.coalesce(F.col("deal_units"), F.lit(0)).cast("bigint").alias("deal_units"),
            F.col("_v").alias("version"),
            "rule",
            "via",
            "origin_period",
        )
    else:
        table = joined.select(
            pl.lit(period, dtype=_S).alias("period"),
            "participant",
            "team",
            "deal",
            "component",
            "source",
            "units",
            "basis_units",
            pl.col("pool_units").fill_null(0),
            pl.col("deal_units").fill_null(0),
            pl.col("_v").alias("version"),
            "rule",
            "via",
            "origin_period",
        )
    return table, summary, team_of


def locked_table(paid: Any, now: Any, period: str) -> Any:
    """A locked period's lines on Spark: the ``paid`` lines as they were, and adjustment lines for the change.

    :func:`smarketing.rewards.compute._adjusted` on Spark: ``paid`` (the previous ledger's
    :attr:`~smarketing.rewards.RewardLedger.line_table`, put on Spark when it is a polars frame) and
    ``now`` (this run's lines, kept on Spark) summed per (participant, deal, component, origin period), an
    adjustment's component counting as its source; a full join on those keys (nulls equal), and a line
    of ``new - old`` units wherever they differ, with its team from the paid lines (else the new) and its
    version from the new (each the smallest one the group has, on both engines); the adjustments' period
    is ``period``. Nothing reaches the driver. The frame returned keeps ``now`` and ``paid`` (and the
    caches they read) alive as long as it lives.
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    if not engine.is_spark(paid):
        paid = now.sparkSession.createDataFrame(paid.select(list(LINE_COLUMNS)).to_arrow())
    key = ["participant", "deal", "_c", "origin_period"]

    def summed(frame: Any, side: str, *extra: Any) -> Any:
        counted = F.when(F.col("component") == "adjustment", F.col("source")).otherwise(F.col("component"))
        grouped = frame.withColumn("_c", counted).groupBy(*key)
        out = grouped.agg(F.sum("units").alias("units"), F.min("team").alias("team"), *extra)
        return out.select(*(F.col(c).alias(f"{side}_{c}") for c in out.columns))

    old = summed(paid, "o")
    new = summed(now, "n", F.min("version").alias("version"))
    joined = old.join(new, on=[F.col(f"o_{k}").eqNullSafe(F.col(f"n_{k}")) for k in key], how="full")
    both = joined.select(
        *(F.coalesce(F.col(f"o_{k}"), F.col(f"n_{k}")).alias(k) for k in key),
        F.coalesce(F.col("o_units"), F.lit(0).cast("bigint")).alias("_old"),
        F.coalesce(F.col("n_units"), F.lit(0).cast("bigint")).alias("_new"),
        F.coalesce(F.col("o_team"), F.col("n_team")).alias("team"),
        F.col("n_version").alias("version"),
    )
    zero = F.lit(0).cast("bigint")
    adjustments = both.where(F.col("_new") != F.col("_old")).select(
        F.lit(period).cast("string").alias("period"),
        "participant",
        "team",
        "deal",
        F.lit("adjustment").alias("component"),
        F.col("_c").alias("source"),
        (F.col("_new") - F.col("_old")).alias("units"),
        zero.alias("basis_units"),
        zero.alias("pool_units"),
        zero.alias("deal_units"),
        "version",
        F.format_string(
            "locked period recomputed: %s was %s, now %s (minor units)",
            F.col("_c"),
            F.col("_old"),
            F.col("_new"),
        ).alias("rule"),
        F.lit(None).cast("string").alias("via"),
        "origin_period",
    )
    out = paid.select(*LINE_COLUMNS).unionByName(adjustments.select(*LINE_COLUMNS))
    engine.keep_with(out, now, paid)
    return out
