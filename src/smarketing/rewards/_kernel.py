"""The integer kernel: the coded lines of one period, in integer minor units of the plan currency (private).

:func:`_lines_of_period` takes the won deals (:mod:`smarketing.rewards._deals`) and gives the period's
coded lines, the attainment summary and each deal's numbers. Inside, a deal is its rank in id order; the
credit lines come from the per-deal map (:mod:`~smarketing.rewards._credit`,
:mod:`~smarketing.rewards._routing`); everything after them (team pools, tiers, caps, clawbacks) works on
dense (participant x deal) sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import attrs
import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.rewards._allocate import (
    _half_even_np,
    _largest_remainder,
)
from smarketing.rewards._attainment import (
    _clawed_bookings,
    _empty_summary,
    _plan_for_period,
    _refunds,
    _summary,
)
from smarketing.rewards._columns import (
    _I64,
    _LEDGER_COLUMNS,
    _categorical_constant,
    _kernel_lines,
    _period_of,
    _text_codes,
)
from smarketing.rewards._context import _Context
from smarketing.rewards._credit import (
    _check_run_size,
    _check_split_sizes,
    _check_splits,
    _cut_of_deal,
    _funded,
    _overlays,
    _split_rows,
    _touch_credit,
    _version_credits,
)
from smarketing.rewards._routing import _route_to_participants
from smarketing.rewards._team_pools import _team_pools, _team_weights
from smarketing.rewards.model import RewardPlan

__all__ = ["_floor_payment", "_lines_of_period"]


def _lines_of_period(
    won: pl.DataFrame,
    ctx: _Context,
    *,
    touchpoints: Any,
    stage_events: Any,
    kind: str,
    period: str,
    cutoff: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The coded lines of ``period``, the attainment summary of every period computed, and the deals.

    Only the deals the period needs are computed: the deals closed in it, and the deals refunded in it with
    the other deals of the periods they closed in (clawbacks reverse what those periods paid). Inside, a
    deal is its rank in id order (an integer that sorts like the id); the deals (id, pool, basis, version)
    are returned in that order.
    """
    # The refund period is worked out for the refunded deals only (a few), not for every deal.
    refunded = won.select(
        (pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff)).fill_null(False)
    ).to_series()
    refunds = won.filter(refunded).select("_period", _period_of(pl.col("refunded_on"), kind).alias("_rp"))
    origins = refunds.filter(pl.col("_rp") == period).get_column("_period").unique().to_list()
    needed = sorted({period, *origins})
    keep = won.select(pl.col("_period").is_in(needed)).to_series().to_numpy().copy()
    keep[refunded.to_numpy()] |= refunds.get_column("_rp").is_in(needed).to_numpy()
    won = won if keep.all() else won.filter(pl.Series(keep))
    used = ["id", "lead_id", "owner", "product", "segment", "splits", "close_date", "refunded_on"]
    won = won.select(*used, "_period", "_version", "_gross", "_net").sort("id").with_row_index("deal_rank")
    names = won.get_column("id")
    won = won.with_columns(pl.col("deal_rank").cast(_I64).alias("id")).drop("deal_rank")
    try:
        lines, summary, deal_info = _lines_of_ranked_deals(
            won,
            ctx,
            touchpoints=touchpoints,
            stage_events=stage_events,
            kind=kind,
            cutoff=cutoff,
            period=period,
        )
    except DataError as exc:
        # Inside the kernel a deal is its integer rank; name it by its id again.
        if exc.kind == "deal" and exc.record is not None and str(exc.record).isdigit():
            raise DataError(
                exc.message, kind=exc.kind, record=names[int(exc.record)], field=exc.field
            ) from None
        raise
    return lines, summary, deal_info.with_columns(names.alias("id")).select("id", pl.exclude("id"))


def _adjustments(
    keep: np.ndarray,
    participants: np.ndarray,
    deals: np.ndarray,
    units: np.ndarray,
    *,
    component: str,
    source: str,
    rule: pl.Series,
) -> pl.DataFrame:
    """Coded tier or cap lines of the (participant, deal) cells kept; ``rule`` is already per kept cell."""
    return _kernel_lines(
        int(keep.sum()),
        deal_rank=deals[keep],
        participant_rank=participants[keep],
        component=component,
        source=source,
        rule=rule,
        units=units[keep],
        basis_units=0,
    )


def _dense(cells: np.ndarray, values: np.ndarray | int, shape: tuple[int, int]) -> np.ndarray:
    """Sums of ``values`` per cell of a (participant x deal) grid, ``cells`` as flat positions."""
    size = shape[0] * shape[1]
    if isinstance(values, int) and values == 1:
        # Counts: bincount is exact for integers (it goes through floats only with weights).
        counts: np.ndarray = np.bincount(cells, minlength=size).astype(np.int64, copy=False)
        return counts.reshape(shape)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, cells, values)
    return out.reshape(shape)


def _spread(
    groups: Sequence[tuple[int, int]],
    amounts: Sequence[int],
    present: np.ndarray,
    weights: np.ndarray,
    *,
    per_close: np.ndarray,
    total: np.ndarray,
    clip: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spread each group's amount over its deals by weight, adding it to ``total``.

    A group ``(p, q)`` is participant ``p``'s deals (cells of ``present``) closed in period ``q``; its
    amount is split over them by ``weights[p, deal]`` (``clip``: a negative weight counts as zero) with
    the same allocation as everywhere, the deals in deal order. One group at a time, on its participant's
    row: no array as long as all the groups' cells together. Returns, for every cell, group by group:
    participant, deal, group (its index in ``groups``) and units.
    """
    deals_of: dict[int, np.ndarray | None] = {}
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for g, ((p, q), amount) in enumerate(zip(groups, amounts, strict=True)):
        if q not in deals_of:
            in_q = per_close == q
            deals_of[q] = None if in_q.all() else np.flatnonzero(in_q)  # None: every deal (one period)
        deals = deals_of[q]
        dd = np.flatnonzero(present[p]) if deals is None else deals[present[p, deals]]
        if not dd.size:
            continue
        units = _largest_remainder(
            np.zeros(1, dtype=np.int64),
            np.full(dd.size, amount, dtype=np.int64),
            np.maximum(weights[p, dd], 0) if clip else weights[p, dd],
            None,
            where=lambda row, p=p, q=q: f"participant #{p}, period #{q}, row {row}",
        )
        total[p, dd] += units
        found.append((np.full(dd.size, p, dtype=np.int64), dd, np.full(dd.size, g, dtype=np.int64), units))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    pp, dd, gg, units = (np.concatenate(column) for column in zip(*found, strict=True))
    return pp, dd, gg, units


def _lines_of_ranked_deals(
    won: pl.DataFrame,
    ctx: _Context,
    *,
    touchpoints: Any,
    stage_events: Any,
    kind: str,
    cutoff: date,
    period: str,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The coded lines of ``period``, the summary of every period of ``won``, and each deal's numbers.

    The deal numbers (by rank) are its pool, basis and version. The credit lines (pool, split, team pool)
    come from the per-deal map; everything after them works on dense (participant x deal) sums in minor
    units: tiers, caps and clawbacks each read a participant's total for a deal from them instead of
    grouping millions of lines.
    """
    plan = ctx.plan
    versions = plan.version_index()
    splits = _split_rows(won)
    all_persons = {p.person for _, vp in versions for p in vp.participants if p.person}
    _check_splits(splits, ctx, all_persons)
    credited = _credited(won, ctx, versions, splits, touchpoints=touchpoints, stage_events=stage_events)
    if credited is None:
        return _empty_lines(), _empty_summary(), _empty_deals(won.height)
    personal, team_rows, funded = credited
    refunds = _refunds(funded, versions, kind, cutoff).sort("id")
    weights = _team_weights(versions, ctx)
    base, names = _personal_lines(personal, weights)
    del personal
    grid = _PeriodGrid.of(won.height, names, funded, refunds, period)
    # Dense sums per (participant, deal): everything paid, and the attaining credit (no overlays).
    cell = base.get_column("participant_rank").to_numpy() * grid.n + base.get_column("id").to_numpy()
    units = base.get_column("units").to_numpy()
    attains = (base.get_column("source") != "overlay").to_numpy()
    total = _dense(cell, units, grid.shape)
    count = _dense(cell, 1, grid.shape)
    att_units = _dense(cell[attains], units[attains], grid.shape)
    att_basis = _dense(cell[attains], base.get_column("basis_units").to_numpy()[attains], grid.shape)
    att_seen = _dense(cell[attains], 1, grid.shape) > 0
    grid.keep_lines(base)
    del base, cell, units, attains
    period_plans = {p: _plan_for_period(plan, p, cutoff) for p in grid.close_periods}
    summary = _attainment_summary(
        grid, refunds, period_plans, att_units=att_units, att_basis=att_basis, seen=att_seen
    )
    # Team pools: each deal's team credit divided among the team's members.
    personal_credit, _ = grid.by_period(total, count > 0)
    team_lines = _team_pools(
        pl.concat(team_rows, how="vertical_relaxed"),
        weights,
        summary,
        names=names,
        periods=grid.periods,
        per_close=grid.per_close,
        personal_credit=personal_credit,
    )
    del team_rows
    if not team_lines.is_empty():
        cell = (
            team_lines.get_column("participant_rank").to_numpy() * grid.n
            + team_lines.get_column("id").to_numpy()
        )
        total += _dense(cell, team_lines.get_column("units").to_numpy(), grid.shape)
        count += _dense(cell, 1, grid.shape)
        grid.keep_lines(team_lines)
    del team_lines
    _tier_lines(grid, summary, att_seen, att_units, total)
    # Caps: per deal (the deal's version), then per period (the period's version), spread by deal.
    version = np.zeros(grid.n, dtype=np.int64)
    version[funded.get_column("id").to_numpy()] = funded.get_column("_version").to_numpy()
    present = count > 0
    _deal_cap_lines(grid, versions, version, total, present)
    _period_cap_lines(grid, period_plans, total, present)
    grid.out.append(_clawbacks(refunds, total, present, grid.code, grid.wanted))
    return _assembled(grid), summary, _deal_numbers(grid.n, funded, versions, version)


def _credited(
    won: pl.DataFrame,
    ctx: _Context,
    versions: list[tuple[date | None, RewardPlan]],
    splits: pl.DataFrame,
    *,
    touchpoints: Any,
    stage_events: Any,
    check_size: bool = True,
    removal: Mapping[int, Mapping[str, float]] | None = None,
) -> tuple[list[pl.DataFrame], list[pl.DataFrame], pl.DataFrame] | None:
    """Every version's credit: (personal lines, team rows, funded deals), or None when no deal funds a pool.

    Each version pays the deals closed under it (:func:`_version_credit`); the run is refused when its
    amounts could overflow (:func:`~smarketing.rewards._credit._check_run_size`; not with ``check_size``
    false, for a partition of the run, whose caller checks the whole run). ``removal``: per version index,
    the Markov removal effects of the whole run's journeys, for a partition of the run
    (:func:`~smarketing.rewards._credit._touch_credit`).
    """
    personal: list[pl.DataFrame] = []
    team_rows: list[pl.DataFrame] = []
    funded_parts = []
    credit_units: list[pl.DataFrame] = []
    version_of = won.get_column("_version").to_numpy()
    for index, (_, vp) in enumerate(versions):
        in_version = version_of == index
        d = won if in_version.all() else won.filter(pl.Series(in_version))
        if d.is_empty():
            continue
        f = _funded(d, vp)
        if f.is_empty():
            continue
        _check_split_sizes(f, vp, splits)
        funded_parts.append(
            f.select("id", "_period", "_version", "_pool", "_basis", "close_date", "refunded_on")
        )
        mine, teams = _version_credit(
            f,
            vp,
            ctx,
            splits,
            touchpoints=touchpoints,
            stage_events=stage_events,
            removal=None if removal is None else removal.get(index),
        )
        credit_units.append(
            pl.concat([mine.select("id", "units"), teams.select("id", "units")], how="vertical_relaxed")
        )
        personal.append(mine)
        team_rows.append(teams.with_columns(pl.lit(index, dtype=_I64).alias("_version")))
    if not funded_parts:
        return None
    if check_size:
        _check_run_size(credit_units, versions)
    return personal, team_rows, pl.concat(funded_parts)


def _version_credit(
    f: pl.DataFrame,
    vp: RewardPlan,
    ctx: _Context,
    splits: pl.DataFrame,
    *,
    touchpoints: Any,
    stage_events: Any,
    removal: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One version's funded deals credited and routed: (personal lines, team-pool rows)."""
    persons = {p.person for p in vp.participants if p.person}
    # Attribution credit (a join of every touch, journeys, the model) runs on a worker thread while
    # this one splits the fixed parts and the overlays; polars and numpy release the GIL in both.
    with ThreadPoolExecutor(1) as worker:
        touch_credit = None
        if vp.attribution is not None and vp.attribution.share > 0:
            touch_credit = worker.submit(
                _touch_credit, f, vp.attribution, touchpoints, stage_events, _cut_of_deal(), removal=removal
            )
        try:
            overlay = _overlays(f, vp, ctx, splits, persons)
            rows = _version_credits(
                f, vp, ctx, touch_credit=touch_credit, stage_events=stage_events, persons=persons
            )
        except Exception:
            # The same error as one thread would raise: attribution's first.
            failed = touch_credit.exception() if touch_credit is not None else None
            if failed is not None:
                raise failed from None
            raise
    if not overlay.is_empty():
        rows = pl.concat([rows, overlay.select(rows.columns)], how="vertical_relaxed")
    return _route_to_participants(rows, f, vp, ctx, splits)


def _personal_lines(personal: list[pl.DataFrame], weights: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The personal lines, each with its participant's rank and its component; and the participants' names.

    The names are every participant with a personal line or a team-pool membership, sorted.
    """
    base = pl.concat(personal, how="vertical_relaxed")
    names = sorted({*base.get_column("participant").unique().to_list(), *weights.get_column("participant")})
    base = base.with_columns(_text_codes(base.get_column("participant"), names)[0].alias("participant_rank"))
    vias = [
        v for v in base.get_column("via").unique().to_list() if v is not None and v.endswith("revenue split")
    ]
    split = pl.col("source").is_in(["plan_split", "overlay"]) | pl.col("via").is_in(vias)
    component = pl.when(split).then(_categorical_constant("split")).otherwise(_categorical_constant("pool"))
    return base.with_columns(component.alias("component")), names


@attrs.define(eq=False)
class _PeriodGrid:
    """The dense (participant x deal) grid of a run, the periods its deals close in, and the lines kept.

    A deal's close period is its position in ``periods`` (``per_close``, -1 for a deal that funds no
    pool); ``wanted`` is the requested period's, and ``out`` collects the coded lines of that period.
    """

    n: int
    names: list[str]
    periods: list[str]
    close_periods: list[str]
    code: dict[str, int]
    per_close: np.ndarray
    has_period: np.ndarray  # which deals fund a pool (and so close in a period of the run)
    wanted: int
    out: list[pl.DataFrame]

    @classmethod
    def of(
        cls, n: int, names: list[str], funded: pl.DataFrame, refunds: pl.DataFrame, period: str
    ) -> _PeriodGrid:
        """The grid of ``n`` ranked deals: the funded ones by close period, refund periods included."""
        close_periods = sorted(funded.get_column("_period").unique().to_list())
        periods = sorted({*close_periods, *refunds.get_column("_period").to_list()})
        code = {p: i for i, p in enumerate(periods)}
        per_close = np.full(n, -1, dtype=np.int64)
        per_close[funded.get_column("id").to_numpy()] = (
            funded.get_column("_period").replace_strict(periods, list(range(len(periods)))).to_numpy()
        )
        return cls(
            n=n,
            names=names,
            periods=periods,
            close_periods=close_periods,
            code=code,
            per_close=per_close,
            has_period=per_close >= 0,
            wanted=code.get(period, -1),
            out=[_kernel_lines(0)],
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(participants, deals)."""
        return len(self.names), self.n

    def keep_lines(self, frame: pl.DataFrame) -> None:
        """Keep the coded lines of ``frame`` that belong to the requested period."""
        if frame.is_empty():
            return
        mine = self.per_close[frame.get_column("id").to_numpy()] == self.wanted
        if not mine.all():
            frame = frame.filter(pl.Series(mine))
        self.out.append(
            _kernel_lines(
                frame.height,
                deal_rank=frame.get_column("id"),
                participant_rank=frame.get_column("participant_rank"),
                component=frame.get_column("component"),
                source=frame.get_column("source"),
                rule=frame.get_column("rule"),
                via=frame.get_column("via"),
                units=frame.get_column("units"),
                basis_units=frame.get_column("basis_units"),
            )
        )

    def by_period(self, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``values`` and counts of ``mask``'s cells per (participant, close period)."""
        n_people, n_periods = len(self.names), len(self.periods)
        per_close = self.per_close
        sums = np.zeros((n_people, n_periods), dtype=np.int64)
        seen = np.zeros((n_people, n_periods), dtype=np.int64)
        if n_periods <= 16:
            # A run computes a few periods: one masked row sum per period, no scattered adds.
            for q in range(n_periods):
                sel = per_close == q
                everyone = bool(sel.all())  # a year of deals all closed in it: no selection needed
                inside = mask if everyone else mask[:, sel]
                sums[:, q] = np.where(inside, values if everyone else values[:, sel], 0).sum(axis=1)
                seen[:, q] = np.count_nonzero(inside, axis=1)
            return sums, seen
        has_period = self.has_period
        for p in range(n_people):
            sel = mask[p] & has_period
            np.add.at(sums[p], per_close[sel], values[p][sel])
            np.add.at(seen[p], per_close[sel], 1)
        return sums, seen


def _attainment_summary(
    grid: _PeriodGrid,
    refunds: pl.DataFrame,
    period_plans: dict[str, RewardPlan],
    *,
    att_units: np.ndarray,
    att_basis: np.ndarray,
    seen: np.ndarray,
) -> pl.DataFrame:
    """The attainment summary of every period of the run, from the attaining credit's dense sums."""
    names, periods = grid.names, grid.periods
    credited, seen_in = grid.by_period(att_units, seen)
    booked_units, _ = grid.by_period(att_basis, seen)
    booked = pl.DataFrame(
        [
            (names[p], periods[q], int(credited[p, q]), int(booked_units[p, q]))
            for p, q in zip(*np.nonzero(seen_in), strict=True)
        ],
        schema={"participant": pl.String, "_period": pl.String, "credited": _I64, "booked": _I64},
        orient="row",
    )
    clawed = _clawed_bookings(refunds, att_basis, seen, names, grid.code)
    return _summary(booked, clawed, period_plans)


def _tier_lines(
    grid: _PeriodGrid, summary: pl.DataFrame, att_seen: np.ndarray, att_units: np.ndarray, total: np.ndarray
) -> None:
    """Tier lines: each participant's tier adjustment of a period, spread over its deals by credit.

    The adjustments are added to ``total`` in place.
    """
    names, code, per_close = grid.names, grid.code, grid.per_close
    adjust = summary.filter(pl.col("tier_units") != 0)
    tier_groups: list[tuple[int, int]] = []
    tier_rules: list[str] = []
    tier_totals: list[int] = []
    for row in adjust.iter_rows(named=True):
        if row["participant"] in names:
            tier_groups.append((names.index(row["participant"]), code[row["_period"]]))
            tier_rules.append(f"rewards.tiers ({row['tier_rule']})")
            tier_totals.append(row["tier_units"])
    if not tier_rules:
        return
    pp, dd, gg, tiers = _spread(
        tier_groups, tier_totals, att_seen, att_units, per_close=per_close, total=total
    )
    if pp.size:
        keep = per_close[dd] == grid.wanted
        grid.out.append(
            _adjustments(
                keep,
                pp,
                dd,
                tiers,
                component="tier",
                source="tier",
                rule=pl.Series(tier_rules).cast(pl.Categorical).gather(gg[keep]),
            )
        )


def _deal_cap_lines(
    grid: _PeriodGrid,
    versions: list[tuple[date | None, RewardPlan]],
    version: np.ndarray,
    total: np.ndarray,
    present: np.ndarray,
) -> None:
    """Caps per deal (the deal's version's ``cap_per_deal``): a cap line per capped cell, into ``total``."""
    per_close = grid.per_close
    caps = [vp.cap_per_deal.to_minor() if vp.cap_per_deal else -1 for _, vp in versions]
    cap = np.asarray(caps, dtype=np.int64)[version]
    over = present & grid.has_period[None, :] & (cap >= 0)[None, :] & (total > cap[None, :])
    pp, dd = np.nonzero(over)
    deal_caps = np.zeros(grid.shape, dtype=np.int64)
    deal_caps[pp, dd] = cap[dd] - total[pp, dd]
    keep = per_close[dd] == grid.wanted
    if keep.any():
        grid.out.append(
            _adjustments(
                keep,
                pp,
                dd,
                cap[dd] - total[pp, dd],
                component="cap",
                source="cap_per_deal",
                rule=pl.DataFrame({"e": total[pp, dd][keep], "c": cap[dd][keep]})
                .select(pl.format("rewards.cap_per_deal (earned {}, cap {})", "e", "c").cast(pl.Categorical))
                .to_series(),
            )
        )
    total += deal_caps


def _period_cap_lines(
    grid: _PeriodGrid, period_plans: dict[str, RewardPlan], total: np.ndarray, present: np.ndarray
) -> None:
    """Caps per period (the period's version's ``cap_per_period``), spread over its deals, into ``total``."""
    code, per_close = grid.code, grid.per_close
    period_caps = np.full(len(grid.periods), -1, dtype=np.int64)
    for p, vp in period_plans.items():
        if vp.cap_per_period is not None:
            period_caps[code[p]] = vp.cap_per_period.to_minor()
    if not (period_caps >= 0).any():
        return
    capped = present & grid.has_period[None, :] & (period_caps[np.maximum(per_close, 0)] >= 0)[None, :]
    sums, _ = grid.by_period(total, capped)
    over_cap = np.argwhere((period_caps[None, :] >= 0) & (sums > period_caps[None, :]))
    cap_groups = [(int(p), int(q)) for p, q in over_cap]  # participant, then period order
    earned = np.asarray([sums[p, q] for p, q in cap_groups], dtype=np.int64)
    limits = np.asarray([period_caps[q] for _, q in cap_groups], dtype=np.int64)
    excess = (limits - earned).tolist()
    pp, dd, gg, cut = _spread(cap_groups, excess, capped, total, per_close=per_close, total=total, clip=True)
    if pp.size:
        keep = (per_close[dd] == grid.wanted) & (cut != 0)
        # One rule text per capped (participant, period): what was earned and the cap.
        pairs = zip(earned, limits, strict=True)
        texts = pl.Series(
            [f"rewards.cap_per_period (earned {e}, cap {c})" for e, c in pairs], dtype=pl.String
        ).cast(pl.Categorical)
        grid.out.append(
            _adjustments(
                keep, pp, dd, cut, component="cap", source="cap_per_period", rule=texts.gather(gg[keep])
            )
        )


def _assembled(grid: _PeriodGrid) -> pl.DataFrame:
    """The lines kept, as one frame in the ledger's columns, each with its participant."""
    out = grid.out
    lines = pl.concat(out, how="vertical", rechunk=False)
    # The participant column in the same chunks as the lines: a column chunked otherwise would make
    # polars copy every column into one chunk to line them up.
    named = pl.Series("participant", grid.names, dtype=pl.String).cast(pl.Categorical)
    lines = lines.with_columns(
        pl.concat([named.gather(piece.get_column("participant_rank")) for piece in out], rechunk=False)
    )
    return lines.select(list(_LEDGER_COLUMNS))


def _deal_numbers(
    n: int, funded: pl.DataFrame, versions: list[tuple[date | None, RewardPlan]], version: np.ndarray
) -> pl.DataFrame:
    """What every line of a deal repeats (its pool, basis and version), kept once per deal (by rank)."""
    ids = funded.get_column("id").to_numpy()
    pool = np.zeros(n, dtype=np.int64)
    pool[ids] = funded.get_column("_pool").to_numpy()
    basis = np.zeros(n, dtype=np.int64)
    basis[ids] = funded.get_column("_basis").to_numpy()
    return pl.DataFrame(
        {
            "pool_units": pool,
            "deal_units": basis,
            "version": pl.Series([vp.id for _, vp in versions], dtype=pl.String)
            .cast(pl.Categorical)
            .gather(version),
        }
    )


def _clawbacks(
    refunds: pl.DataFrame, total: np.ndarray, present: np.ndarray, code: dict[str, int], wanted: int
) -> pl.DataFrame:
    """Negative lines reversing what each refunded deal paid (all of it, or pro rata by time left)."""
    refunds = refunds.filter(
        pl.col("_period").replace_strict(list(code), list(code.values()), return_dtype=_I64) == wanted
    )
    if refunds.is_empty():
        return _kernel_lines(0)
    r = refunds.get_column("id").to_numpy()
    block = total[:, r].T  # deal by participant: the allocation's groups, rows in participant order
    seen = present[:, r].T
    weights = np.maximum(block, 0) * seen
    alive = weights.sum(axis=1) > 0
    net = (block * seen).sum(axis=1)
    num = refunds.get_column("_num").to_numpy()
    den = refunds.get_column("_den").to_numpy()
    target = -_half_even_np(net * num, den)
    jj, pp = np.nonzero(seen & alive[:, None])
    if not jj.size:
        return _kernel_lines(0)
    starts = np.flatnonzero(np.r_[True, jj[1:] != jj[:-1]])
    units = _largest_remainder(starts, target[jj], weights[jj, pp], None)
    keep = units != 0
    rule = pl.concat_str(
        pl.lit("rewards.clawback ("),
        pl.col("_mode"),
        pl.lit(", refunded "),
        pl.col("_elapsed").cast(pl.String),
        pl.lit(" of "),
        pl.col("_window").cast(pl.String),
        pl.lit(" days after close; reverses "),
        pl.col("origin_period"),
        pl.lit(" lines)"),
    )
    texts = refunds.select(
        rule.cast(pl.Categorical).alias("rule"),
        pl.concat_str(pl.lit("clawback_"), pl.col("_mode")).cast(pl.Categorical).alias("source"),
        pl.col("origin_period").cast(pl.Categorical),
    )
    rows = jj[keep]
    return _kernel_lines(
        int(keep.sum()),
        deal_rank=r[rows],
        participant_rank=pp[keep],
        component="clawback",
        source=texts.get_column("source").gather(rows),
        rule=texts.get_column("rule").gather(rows),
        units=units[keep],
        basis_units=0,
        origin_period=texts.get_column("origin_period").gather(rows),
    )


def _empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=_LEDGER_COLUMNS)


def _empty_deals(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pool_units": pl.repeat(0, n, dtype=_I64, eager=True),
            "deal_units": pl.repeat(0, n, dtype=_I64, eager=True),
            "version": pl.repeat(None, n, dtype=pl.Categorical, eager=True),
        }
    )


def _floor_payment(lines: pl.DataFrame, vp: RewardPlan) -> pl.DataFrame:
    """A top-up line (without deal) for each person participant paid less than the floor in the period."""
    if vp.floor is None:
        return lines
    floor = vp.floor.to_minor()
    people = sorted({p.person for p in vp.participants if p.person})
    totals = {str(k): int(v) for k, v in lines.group_by("participant").agg(pl.col("units").sum()).iter_rows()}
    top = [(who, floor - totals.get(who, 0)) for who in people if totals.get(who, 0) < floor]
    if not top:
        return lines
    extra = pl.DataFrame(
        {
            "participant": [w for w, _ in top],
            "units": [u for _, u in top],
            "component": "floor",
            "source": "floor",
            "rule": f"rewards.floor ({vp.floor})",
            "basis_units": 0,
            "pool_units": 0,
            "deal_units": 0,
        },
        schema_overrides={"units": _I64, "basis_units": _I64, "pool_units": _I64, "deal_units": _I64},
    )
    return pl.concat(
        [
            lines,
            extra.select(
                pl.col(c).cast(lines.schema[c])
                if c in extra.columns
                else pl.lit(None, dtype=lines.schema[c]).alias(c)
                for c in lines.columns
            ),
        ],
        how="vertical",
    )
