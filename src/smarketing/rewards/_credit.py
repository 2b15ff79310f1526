"""Each won deal's pool and its credit: who the pool is split over, by part and rule (private).

A deal funds a pool (:func:`_funded`); the pool is split into parts (attribution, the fixed split, stage
ownership) and each part over its recipients, people or teams (:func:`_version_credits`); overlays are
paid on top (:func:`_overlays`). The size checks refuse a run whose integers would overflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import as_lazy, check_aware
from smarketing.rewards._allocate import (
    _allocate_frame,
    _half_even_div,
    _half_even_np,
    _largest_remainder,
    _ratio,
    _scaled,
    _split_fixed,
)
from smarketing.rewards._columns import (
    _I64,
    _MAX_PRODUCT,
    _PERSON,
    _TEAM,
    _WEIGHT_SCALE,
    _categorical_constant,
    _text_codes,
    _with_categoricals,
)
from smarketing.rewards._context import _Context
from smarketing.rewards.model import AttributionCredit, RewardPlan, StageCredit

if TYPE_CHECKING:
    from smarketing.attribution import Journeys


def _funded(d: pl.DataFrame, vp: RewardPlan) -> pl.DataFrame:
    """The deals that fund ``vp``'s pool, with ``_basis`` (basis) and ``_pool`` in plan minor units."""
    pool = vp.pool
    keep = pl.lit(True)
    if pool.products:
        keep &= pl.col("product").is_in(pool.products)
    if pool.segments:
        keep &= pl.col("segment").is_in(pool.segments)
    d = d.filter(keep)
    basis = pl.col("_net" if pool.basis == "net" else "_gross")
    num, den = _ratio(pool.rate)
    fixed = pool.fixed.to_minor() if pool.fixed is not None else 0
    biggest = int(d.select(basis.max()).item() or 0) * num
    if biggest >= _MAX_PRODUCT:
        raise DataError(
            f"amount too large to compute the pool exactly (the pool rate {pool.rate} has "
            f"{len(str(num))} digits; 64-bit minor units overflow)",
            kind="deal",
            record=str(d.sort(basis, descending=True).get_column("id")[0]),
        )
    return d.with_columns(basis.alias("_basis"), (_half_even_div(basis * num, den) + fixed).alias("_pool"))


def _check_run_size(credited: list[pl.DataFrame], versions: list[tuple[date | None, RewardPlan]]) -> None:
    """A DataError naming the deal at which the run's amounts would stop fitting 64-bit minor units.

    Every later amount (tier payouts, caps, clawbacks, floors, totals per participant and period) is at
    most the credited units times the largest tier multiplier, plus the floors; so when that bound fits,
    no sum of the kernel can overflow.
    """
    budget, multiplier = _run_budget(versions)
    per_deal = (
        pl.concat(credited, how="vertical_relaxed")
        .group_by("id")
        .agg(pl.col("units").cast(pl.Int128).abs().sum())
        .sort("id")
    )
    running = per_deal.get_column("units").cum_sum()
    over = running >= budget
    if over.any():
        record = per_deal.get_column("id")[int(over.arg_true()[0])]
        raise DataError(
            f"the run's total would not fit 64-bit minor units (with tier multipliers up to {multiplier}): "
            "compute a shorter period or fewer deals at a time",
            kind="deal",
            record=str(record),
        )


def _run_budget(versions: list[tuple[date | None, RewardPlan]]) -> tuple[int, Decimal]:
    """The credited units a run may sum to (absolute values), and the largest tier multiplier.

    The bound is kept below half the int64 range, so that differences and clawbacks fit as well.
    """
    multiplier = max([Decimal(1), *(t.multiplier for _, vp in versions for t in vp.tiers)])
    floors = sum(
        (vp.floor.to_minor() if vp.floor is not None else 0) * sum(1 for p in vp.participants if p.person)
        for _, vp in versions
    )
    num, den = _ratio(multiplier)
    return (_MAX_PRODUCT // 2 - 12 * floors) * den // num, multiplier


def _split_weights(vp: RewardPlan) -> int:
    """The largest integer weight a deal's pool or basis is multiplied by when ``vp`` splits it."""
    attribution = vp.attribution.share if vp.attribution else Decimal(0)
    stage = vp.stage_credit.share if vp.stage_credit else Decimal(0)
    weights = [_WEIGHT_SCALE] if attribution or stage else []  # credit quantised to millionths
    weights += _scaled([s for s in (attribution, 1 - attribution - stage, stage) if s > 0])
    weights += _scaled(list(vp.team_split.values()))
    overlays = [share for s in vp.splits if s.kind == "overlay" for share in s.shares.values()]
    for split in vp.splits:
        if split.kind == "revenue":
            weights += _scaled(list(split.shares.values()))
    if overlays:
        places = max([6, *(max(0, -int(share.as_tuple().exponent)) for share in overlays)])
        weights.append(sum(int(share.scaleb(places)) for share in overlays))
    weights += _scaled([p.weight for p in vp.participants if p.person] + [Decimal(1)])
    return max(weights)


def _check_split_sizes(funded: pl.DataFrame, vp: RewardPlan, splits: pl.DataFrame) -> None:
    """A DataError naming the deal whose pool is too large to be split exactly in 64-bit minor units."""
    if funded.is_empty():
        return
    plan_weight = _split_weights(vp)
    # A deal's own splits weigh its shares in millionths.
    split_ids = splits.get_column("id").unique().implode()
    weight = pl.when(pl.col("id").is_in(split_ids)).then(max(plan_weight, 10**6)).otherwise(plan_weight)
    size = pl.max_horizontal(pl.col("_pool").abs(), pl.col("_basis").abs()).cast(pl.Int128)
    bad = funded.filter(size * weight.cast(pl.Int128) >= _MAX_PRODUCT).with_columns(weight.alias("_weight"))
    if len(bad):
        row = bad.sort("id").row(0, named=True)
        raise DataError(
            f"amounts too large to split exactly: a pool of {row['_pool']} minor units times split "
            f"weights up to {row['_weight']} does not fit 64-bit integers (write shares and weights with "
            "fewer decimal places, or pay the deal outside the plan)",
            kind="deal",
            record=str(row["id"]),
        )


def _touch_journeys(
    d: pl.DataFrame, credit: AttributionCredit, touchpoints: Any, stage_events: Any, cut: pl.Expr
) -> Journeys:
    """Each deal's journey: its lead's touches before ``cut``, keyed by recipient, converted once.

    The journeys are the deals' ranks (``id``); a recipient is a touch's owner (a person) or its team, as
    ``credit.key`` says.
    """
    lf = as_lazy(touchpoints, "touchpoints", required=["lead_id", "time", "team", "owner"])
    check_aware(lf, ["time"], kind="touchpoints")
    touches = lf.select("lead_id", "time", "team", "owner").collect(backend="polars").to_native()
    assert isinstance(touches, pl.DataFrame)
    deals = d.select(pl.col("id").alias("_deal"), pl.col("lead_id"), cut.alias("_cut"))
    who = pl.concat_str(pl.lit(_TEAM), pl.col("team"))
    if credit.key == "owner":
        # The owner (a person) when there is one, else the team: one text per touch.
        owned = pl.col("owner").is_not_null()
        who = pl.concat_str(
            pl.when(owned).then(pl.lit(_PERSON)).otherwise(pl.lit(_TEAM)), pl.coalesce("owner", "team")
        )
    # One query: the join, the cut-off and the projection run together, without a wide joined frame.
    joined = (
        touches.lazy()
        .join(deals.lazy(), on="lead_id", how="inner")
        .filter(pl.col("time") < pl.col("_cut"))
        .select(
            pl.col("_deal").alias("journey"),
            "time",
            who.alias("_who"),
            pl.lit(1).alias("_conv"),
        )
        .collect()
    )
    ids = d.get_column("id").to_numpy()
    touched_deal = np.zeros(int(ids.max()) + 1 if ids.size else 0, dtype=bool)
    touched_deal[joined.get_column("journey").to_numpy()] = True
    orphans = np.flatnonzero(~touched_deal[ids])
    if orphans.size:
        row = d.row(int(orphans[0]), named=True)
        raise DataError(
            f"attribution needs touchpoints of lead {row['lead_id']} on or before the close date; none found",
            kind="deal",
            record=row["id"],
            field="lead_id",
        )
    events = None
    if credit.model in ("w_shaped", "full_path"):
        if stage_events is None:
            raise DataError(f"attribution model {credit.model} needs stage_events=", kind="rewards")
        ev = (
            as_lazy(stage_events, "stage_events", required=["lead_id", "to", "time"])
            .collect(backend="polars")
            .to_native()
        )
        assert isinstance(ev, pl.DataFrame)
        events = ev.join(deals.select("_deal", "lead_id"), on="lead_id").select(
            pl.col("_deal").alias("lead_id"), "to", "time"
        )
    from smarketing.attribution import Journeys  # noqa: PLC0415 (scipy loads only when needed)

    return Journeys.from_frame(
        joined, journey="journey", time="time", key="_who", converted="_conv", stage_events=events
    )


def _touch_credit(
    d: pl.DataFrame,
    credit: AttributionCredit,
    touchpoints: Any,
    stage_events: Any,
    cut: pl.Expr,
    *,
    removal: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Attribution weights per (deal, recipient) over each deal's touches up to its close date.

    ``removal``: Markov's removal effect of every recipient, solved from the chain of the run's journeys
    when these deals are a partition of them (:mod:`smarketing.rewards._scale`); each journey is then split
    by them as :func:`~smarketing.attribution.attribute` splits it (``convention="journey"``), without
    solving the partition's own chain.
    """
    from smarketing.attribution import _scale, attribute  # noqa: PLC0415 (scipy loads only when needed)

    journeys = _touch_journeys(d, credit, touchpoints, stage_events, cut)
    if removal is None:
        touched = attribute(journeys, model=credit.model, per_touch=True, **credit.params).touches
        assert touched is not None
    else:
        touched = _scale.markov_touches(journeys, removal)
    # Sum each deal's touch credits per recipient. The touch rows are the journeys' touches in order, so
    # a touch's recipient is its code among the journeys' keys (sorted names); one stable sort on
    # (deal, recipient) and segment sums add each group's credits in touch order.
    assert touched.height == journeys.codes.size  # per-touch credit comes in the journeys' touch order
    names = list(journeys.keys)
    size = max(len(names), 1)
    key = touched.get_column("journey").to_numpy() * size + journeys.codes.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else key
    sums = np.add.reduceat(touched.get_column("credit").to_numpy()[order], starts) if key.size else key
    return pl.DataFrame(
        {
            "id": key[starts] // size,
            "recipient": pl.Series(names, dtype=pl.String).cast(pl.Categorical).gather(key[starts] % size),
            "w": pl.Series(sums, dtype=pl.Float64),
        }
    ).with_columns((pl.col("w") * _WEIGHT_SCALE).round(0).cast(_I64))


def _stage_credit(
    d: pl.DataFrame, credit: StageCredit, ctx: _Context, stage_events: Any, cut: pl.Expr
) -> pl.DataFrame:
    """One equal weight per stage each deal's lead entered up to the close date, to its owner."""
    if stage_events is None:
        raise DataError("stage credit needs stage_events=", kind="rewards")
    lf = as_lazy(stage_events, "stage_events", required=["lead_id", "to", "time"])
    check_aware(lf, ["time"], kind="stage_events")
    names = lf.collect_schema().names()
    ev = (
        lf.select("lead_id", "to", "time", *(["actor"] if "actor" in names else []))
        .collect(backend="polars")
        .to_native()
    )
    assert isinstance(ev, pl.DataFrame)
    if "actor" not in ev.columns:
        ev = ev.with_columns(pl.lit(None, dtype=pl.String).alias("actor"))
    deals = d.select(pl.col("id").alias("_deal"), "lead_id", cut.alias("_cut"))
    entered = (
        ev.join(deals, on="lead_id", how="inner")
        .filter(pl.col("time") < pl.col("_cut"))
        .sort("_deal", "to", "time")
        .group_by("_deal", "to", maintain_order=True)
        .agg(pl.col("actor").first())
    )
    orphans = d.filter(~pl.col("id").is_in(entered.get_column("_deal").unique().implode()))
    if len(orphans):
        row = orphans.row(0, named=True)
        raise DataError(
            f"stage credit needs stage events of lead {row['lead_id']} on or before the close date",
            kind="deal",
            record=row["id"],
            field="lead_id",
        )
    stages = sorted(ctx.stage_owner)
    unknown = entered.filter(~pl.col("to").is_in(stages))
    if len(unknown):
        row = unknown.row(0, named=True)
        raise DataError(
            f"stage {row['to']!r} is not in the plan's journey",
            kind="deal",
            record=row["_deal"],
            field="stage_events",
        )
    owner = pl.concat_str(
        pl.lit(_TEAM), pl.col("to").replace_strict(stages, [ctx.stage_owner[s] for s in stages])
    )
    who = owner
    if credit.key == "owner":
        who = (
            pl.when(pl.col("actor").is_not_null())
            .then(pl.concat_str(pl.lit(_PERSON), pl.col("actor")))
            .otherwise(owner)
        )
    return (
        entered.select(pl.col("_deal").alias("id"), who.alias("recipient"))
        .group_by("id", "recipient")
        .agg(pl.len().cast(_I64).alias("w"))
    )


def _split_rows(d: pl.DataFrame) -> pl.DataFrame:
    """The deals' own splits, one row per (deal, person, kind) with the share as an exact integer weight."""
    rows = d.select("id", "splits").filter(pl.col("splits").list.len() > 0).explode("splits").unnest("splits")
    if rows.is_empty():
        return pl.DataFrame(
            schema={
                "id": d.schema["id"],
                "person": pl.String,
                "kind": pl.String,
                "w": _I64,
                "share": pl.Decimal(38, 6),
            }
        )
    share = rows.get_column("share")
    scale = share.dtype.scale if isinstance(share.dtype, pl.Decimal) else 6
    return rows.with_columns(
        (pl.col("share") * 10 ** (scale or 0)).cast(_I64).alias("w"), pl.col("share").cast(pl.Decimal(38, 6))
    )


def _check_splits(splits: pl.DataFrame, ctx: _Context, participants: set[str]) -> None:
    if splits.is_empty():
        return
    totals = (
        splits.filter(pl.col("kind") == "revenue")
        .group_by("id")
        .agg(pl.col("share").sum().alias("total"))
        .filter(pl.col("total") != 1)
        .sort("id")
    )
    if len(totals):
        row = totals.row(0, named=True)
        raise DataError(
            f"revenue splits total {Decimal(row['total']) * 100:f}%, not 100%",
            kind="deal",
            record=row["id"],
            field="splits",
        )
    known = sorted(set(ctx.people) | participants)
    unknown = splits.filter(~pl.col("person").is_in(known)).sort("id")
    if len(unknown):
        row = unknown.row(0, named=True)
        raise DataError(
            f"split to {row['person']!r}, who is not in the plan (neither a person nor a participant)",
            kind="deal",
            record=row["id"],
            field="splits",
        )


def _prefixed(ids: Sequence[str], ctx: _Context, persons: set[str]) -> list[str]:
    """Recipient keys of plan ids: people (of the plan, or person participants) and teams."""
    return [(_PERSON if (i in ctx.people or i in persons) else _TEAM) + i for i in ids]


def _fixed_rows(
    ids: np.ndarray, pool: np.ndarray, basis: np.ndarray | None, table: pl.DataFrame
) -> pl.DataFrame:
    """Each deal's pool and basis (none: 0) split over a fixed table of recipients (weights ``w`` > 0)."""
    table = _with_categoricals(
        table.filter(pl.col("w") > 0).sort("recipient", "rule"), "recipient", "source", "rule"
    )
    k = table.height
    weights = table.get_column("w").to_list()
    picks = np.tile(np.arange(k), ids.size)
    return table.drop("w")[picks].with_columns(
        pl.Series("id", np.repeat(ids, k), dtype=_I64),
        pl.Series("units", _split_fixed(pool, weights).ravel(), dtype=_I64),
        pl.Series(
            "basis_units",
            np.zeros(ids.size * k, dtype=np.int64) if basis is None else _split_fixed(basis, weights).ravel(),
            dtype=_I64,
        ),
    )


def _weighted_rows(
    credit: pl.DataFrame, ids: np.ndarray, pool: np.ndarray, basis: np.ndarray
) -> pl.DataFrame:
    """Each deal's pool and basis split over its own recipients by their weights ``w`` (id, recipient, w)."""
    credit = _with_categoricals(credit.filter(pl.col("w") > 0), "recipient")
    rank, size = _text_codes(credit.get_column("recipient"))
    key = credit.get_column("id").to_numpy() * size + rank.to_numpy()
    # Attribution credit comes already in (deal, recipient) order: sort only when it does not.
    if key.size and (key[1:] < key[:-1]).any():
        credit = credit[np.argsort(key, kind="stable")]
    if credit.is_empty():
        return credit.with_columns(
            pl.lit(0, dtype=_I64).alias("units"), pl.lit(0, dtype=_I64).alias("basis_units")
        )
    row_ids = credit.get_column("id").to_numpy()
    position = np.zeros(int(max(ids.max(), row_ids.max())) + 1, dtype=np.int64)
    position[ids] = np.arange(ids.size)
    at = position[row_ids]
    starts = np.flatnonzero(np.r_[True, row_ids[1:] != row_ids[:-1]])
    w = credit.get_column("w").to_numpy()
    return credit.drop("w").with_columns(
        pl.Series("units", _largest_remainder(starts, pool[at], w, None), dtype=_I64),
        pl.Series("basis_units", _largest_remainder(starts, basis[at], w, None), dtype=_I64),
    )


def _cut_of_deal() -> pl.Expr:
    """The instant a deal's touches and stage events count until: the start of the day after its close."""
    return pl.col("close_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=1)


def _version_credits(
    f: pl.DataFrame,
    vp: RewardPlan,
    ctx: _Context,
    *,
    touch_credit: Future[pl.DataFrame] | None,
    stage_events: Any,
    persons: set[str],
) -> pl.DataFrame:
    """Each funded deal's pool and basis split over its recipients (people or teams), by part and rule.

    ``touch_credit`` is the attribution credit (:func:`_touch_credit`) being computed on another thread:
    the other parts are split meanwhile, and the pieces come out in the same order either way.
    """
    attribution = vp.attribution.share if vp.attribution else Decimal(0)
    stage = vp.stage_credit.share if vp.stage_credit else Decimal(0)
    parts = [
        (n, s)
        for n, s in (("attribution", attribution), ("fixed", 1 - attribution - stage), ("stage", stage))
        if s > 0
    ]
    # The parts, listed in name order (the allocation's key), split every deal's pool and basis.
    ids = f.get_column("id").to_numpy()
    part_weights = _scaled([s for _, s in parts])
    pool = _split_fixed(f.get_column("_pool").to_numpy(), part_weights)
    basis = _split_fixed(f.get_column("_basis").to_numpy(), part_weights)
    column = {n: i for i, (n, _) in enumerate(parts)}
    cut = _cut_of_deal()
    pieces: list[pl.DataFrame] = []
    if vp.stage_credit is not None and stage > 0:
        credit = _stage_credit(f, vp.stage_credit, ctx, stage_events, cut)
        i = column["stage"]
        pieces.append(
            _weighted_rows(credit, ids, pool[:, i], basis[:, i]).with_columns(
                _categorical_constant("stage").alias("part"),
                _categorical_constant("stage").alias("source"),
                _categorical_constant("rewards.stage_credit").alias("rule"),
            )
        )
    if 1 - attribution - stage > 0:
        revenue = [(i, s) for i, s in enumerate(vp.splits) if s.kind == "revenue"]
        if vp.team_split:
            names = list(vp.team_split)
            table = pl.DataFrame(
                {
                    "recipient": [_TEAM + t for t in names],
                    "w": _scaled(list(vp.team_split.values())),
                    "source": "team_split",
                    "rule": [f"rewards.team_split.{t}" for t in names],
                },
                schema={"recipient": pl.String, "w": _I64, "source": pl.String, "rule": pl.String},
            )
        else:
            index, split = revenue[0]
            names = list(split.shares)
            table = pl.DataFrame(
                {
                    "recipient": _prefixed(names, ctx, persons),
                    "w": _scaled(list(split.shares.values())),
                    "source": "plan_split",
                    "rule": [f"rewards.splits[{index}].shares.{i}" for i in names],
                },
                schema={"recipient": pl.String, "w": _I64, "source": pl.String, "rule": pl.String},
            )
        i = column["fixed"]
        pieces.append(
            _fixed_rows(ids, pool[:, i], basis[:, i], table).with_columns(
                _categorical_constant("fixed").alias("part")
            )
        )
    if touch_credit is not None:
        i = column["attribution"]
        attributed = _weighted_rows(touch_credit.result(), ids, pool[:, i], basis[:, i]).with_columns(
            _categorical_constant("attribution").alias("part"),
            _categorical_constant("attribution").alias("source"),
            _categorical_constant("rewards.attribution").alias("rule"),
        )
        pieces.insert(0, attributed)
    return pl.concat(
        [p.select("id", "part", "recipient", "source", "rule", "units", "basis_units") for p in pieces],
        how="vertical_relaxed",
    )


def _overlays(
    f: pl.DataFrame, vp: RewardPlan, ctx: _Context, splits: pl.DataFrame, persons: set[str]
) -> pl.DataFrame:
    """Overlay credit, paid on top of the pool: round(pool x total overlay share), split by share."""
    plan_rows = [
        (i, who, share)
        for i, s in enumerate(vp.splits)
        if s.kind == "overlay"
        for who, share in s.shares.items()
    ]
    places = max([6, *(max(0, -int(share.as_tuple().exponent)) for _, _, share in plan_rows)])
    table = pl.DataFrame(
        {
            "recipient": _prefixed([who for _, who, _ in plan_rows], ctx, persons),
            "w": [int(share.scaleb(places)) for _, _, share in plan_rows],
            "rule": [f"rewards.splits[{i}].shares.{who}" for i, who, _ in plan_rows],
        },
        schema={"recipient": pl.String, "w": _I64, "rule": pl.String},
    )
    deal_rows = splits.filter(
        (pl.col("kind") == "overlay") & pl.col("id").is_in(f.get_column("id").implode())
    )
    columns = [
        "id",
        _categorical_constant("overlay").alias("part"),
        "recipient",
        _categorical_constant("overlay").alias("source"),
        "rule",
        "units",
        pl.lit(0, dtype=_I64).alias("basis_units"),
    ]
    if not len(deal_rows):
        # Only the plan's overlays: the same recipients on every deal, split without a sort.
        table = table.filter(pl.col("w") > 0)
        if table.is_empty():
            return pl.DataFrame()
        pool = f.get_column("_pool").to_numpy()
        total = _half_even_np(pool * int(table.get_column("w").sum()), 10**places)
        rows = _fixed_rows(f.get_column("id").to_numpy(), total, None, table)
        return rows.select(columns)
    pieces = [f.select("id").join(table, how="cross")] if plan_rows else []
    pieces.append(
        deal_rows.select(
            "id",
            pl.concat_str(pl.lit(_PERSON), pl.col("person")).alias("recipient"),
            (pl.col("w") * 10 ** (places - 6)).alias("w"),
            pl.lit("deal splits (overlay)").alias("rule"),
        )
    )
    # The same person twice on a deal (plan and deal overlay) is one recipient of the allocation.
    rows = pl.concat(pieces, how="vertical_relaxed").filter(pl.col("w") > 0)
    rows = rows.group_by("id", "recipient").agg(pl.col("w").sum(), pl.col("rule").min())
    sizes = (
        rows.join(f.select("id", "_pool"), on="id")
        .group_by("id")
        .agg(pl.col("_pool").first().abs().cast(pl.Int128) * pl.col("w").cast(pl.Int128).sum())
    )
    too_big = sizes.filter(pl.col("_pool") >= _MAX_PRODUCT).sort("id")
    if len(too_big):
        raise DataError(
            "amounts too large to split exactly: the pool times the overlay shares does not fit 64-bit "
            "minor units",
            kind="deal",
            record=str(too_big.get_column("id")[0]),
            field="splits",
        )
    rows = rows.join(f.select("id", "_pool"), on="id").with_columns(
        _half_even_div(pl.col("_pool") * pl.col("w").sum().over("id"), 10**places).alias("_overlay")
    )
    rows = _allocate_frame(rows, by=["id"], key="recipient", weight="w", total="_overlay", out="units")
    return _with_categoricals(rows.select(columns), "recipient", "rule")
