"""Conservation laws of the shared reward, as Hypothesis properties."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from unittest import mock

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.money import Money, allocate
from smarketing.records import Deal
from smarketing.rewards import RewardLedger, RewardPlan, _allocate, compute_rewards
from smarketing.testing.strategies import reward_plans, won_deals

LAWS = settings(max_examples=20, deadline=None, database=None)
CREDIT = ["team_split", "attribution", "stage", "plan_split"]


def run(deals: list[Deal], plan: RewardPlan, period: str = "2026-10") -> RewardLedger:
    return compute_rewards(deals, plan, period=period, as_of=date(2026, 10, 31))


@st.composite
def groups(draw: st.DrawFn) -> list[tuple[int, dict[str, int]]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        total = draw(st.integers(-(10**9), 10**9))
        weights = draw(
            st.dictionaries(
                st.text("abcxyz", min_size=1, max_size=3), st.integers(0, 10**6), min_size=1, max_size=6
            )
        )
        if not any(weights.values()):
            weights[min(weights)] = 1
        out.append((total, weights))
    return out


@LAWS
@given(groups())
def test_vectorised_largest_remainder_is_allocate(cases: list[tuple[int, dict[str, int]]]) -> None:
    rows = [(g, total, key, w) for g, (total, weights) in enumerate(cases) for key, w in weights.items()]
    frame = pl.DataFrame(
        rows, schema={"g": pl.Int64, "t": pl.Int64, "k": pl.String, "w": pl.Int64}, orient="row"
    )
    out = _allocate._allocate_frame(frame.reverse(), by=["g"], key="k", weight="w", total="t", out="u")
    got = {(g, k): u for g, k, u in out.select("g", "k", "u").iter_rows()}
    for g, (total, weights) in enumerate(cases):
        expected = allocate(Money.from_minor(total, "EUR"), weights)
        assert {k: Money.from_minor(got[(g, k)], "EUR") for k in weights} == expected


def assert_rows_in_key_order_split_as_allocate(cases: list[tuple[int, dict[str, int]]]) -> None:
    # Each group's rows in key order (keys=None), as the kernel's callers give them.
    rows = [(g, t, k, w) for g, (t, weights) in enumerate(cases) for k, w in sorted(weights.items())]
    group = np.asarray([g for g, _, _, _ in rows])
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    units = _allocate._largest_remainder(
        starts, np.asarray([t for _, t, _, _ in rows]), np.asarray([w for _, _, _, w in rows]), None
    )
    got = {(g, k): int(u) for (g, _, k, _), u in zip(rows, units, strict=True)}
    for g, (total, weights) in enumerate(cases):
        expected = allocate(Money.from_minor(total, "EUR"), weights)
        assert {k: Money.from_minor(got[(g, k)], "EUR") for k in weights} == expected


@LAWS
@given(groups(), st.integers(1, 6))
def test_largest_remainder_on_rows_in_key_order_is_allocate(
    cases: list[tuple[int, dict[str, int]]], width: int
) -> None:
    # Groups of any size, and groups all of one small size (every deal split over the same
    # recipients), which the kernel ranks on a grid without sorting.
    assert_rows_in_key_order_split_as_allocate(cases)
    same = [(t, dict(sorted(w.items())[:width])) for t, w in cases]
    same = [(t, w if any(w.values()) else {**w, min(w): 1}) for t, w in same]
    if len({len(w) for _, w in same}) == 1:
        assert_rows_in_key_order_split_as_allocate(same)


@LAWS
@given(groups())
def test_largest_remainder_by_partition_is_allocate(cases: list[tuple[int, dict[str, int]]]) -> None:
    # Large groups pick their top remainders by partition: every group taken as large (1), or a mix (3).
    for big in (1, 3):
        with mock.patch.object(_allocate, "_BIG_GROUP", big):
            assert_rows_in_key_order_split_as_allocate(cases)


@LAWS
@given(
    st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=8),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=5),
)
def test_fixed_split_of_every_total_is_allocate(totals: list[int], weights: list[int]) -> None:
    # Every deal over the same recipients (in key order), as a (deal x recipient) grid.
    if not any(weights):
        weights[0] = 1
    keys = [f"r{i}" for i in range(len(weights))]
    grid = _allocate._split_fixed(np.asarray(totals), weights)
    for total, row in zip(totals, grid, strict=True):
        expected = allocate(Money.from_minor(total, "EUR"), dict(zip(keys, weights, strict=True)))
        assert {k: Money.from_minor(int(u), "EUR") for k, u in zip(keys, row, strict=True)} == expected


@LAWS
@given(
    st.lists(
        st.tuples(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 50), min_size=7, max_size=7)),
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 7),
)
def test_split_over_each_row_of_a_weight_grid_is_allocate(rows: list[tuple[int, list[int]]], k: int) -> None:
    # Each total over its own weights (a team pool divided by attainment or credit): zero weights get
    # nothing, small grids are ranked in place and wider ones by the row kernel.
    rows = [(t, w[:k] if any(w[:k]) else [1, *w[1:k]]) for t, w in rows]
    keys = [f"m{i}" for i in range(k)]
    grid = _allocate._split_grid(np.asarray([t for t, _ in rows]), np.asarray([w for _, w in rows]))
    for (total, weights), got in zip(rows, grid, strict=True):
        expected = allocate(Money.from_minor(total, "EUR"), dict(zip(keys, weights, strict=True)))
        assert {k: Money.from_minor(int(u), "EUR") for k, u in zip(keys, got, strict=True)} == expected


def test_largest_remainder_large_groups_with_ties_as_sorted() -> None:
    # Groups above the partition threshold, with many equal remainders, next to small groups.
    rng = np.random.default_rng(7)
    lengths = [5000, 3, 9000, 1, _allocate._BIG_GROUP]
    starts = np.cumsum([0, *lengths[:-1]])
    totals = np.repeat(rng.integers(-(10**7), 10**7, size=len(lengths)), lengths)
    weights = rng.integers(0, 4, size=sum(lengths))
    weights[starts] += 1
    fast = _allocate._largest_remainder(starts, totals, weights, None)
    with mock.patch.object(_allocate, "_BIG_GROUP", 10**12):
        sorted_ = _allocate._largest_remainder(starts, totals, weights, None)
    assert (fast == sorted_).all()
    assert (np.add.reduceat(fast, starts) == totals[starts]).all()


def pools(ledger: RewardLedger) -> pl.DataFrame:
    return ledger.to_frame().filter(pl.col("deal").is_not_null())


@LAWS
@given(reward_plans(), won_deals())
def test_each_deal_pool_is_allocated_exactly_and_overlays_as_defined(
    plan: RewardPlan, deals: list[Deal]
) -> None:
    frame = pools(run(deals, plan))
    credit = frame.filter(pl.col("source").is_in(CREDIT) & pl.col("origin_period").is_null())
    for (deal_id,), part in credit.group_by(["deal"]):
        assert part.get_column("amount").sum() == part.get_column("deal_pool")[0], deal_id
    overlay_share = sum(
        (s for split in plan.splits if split.kind == "overlay" for s in split.shares.values()), Decimal(0)
    )
    by_id = {d.id: d for d in deals}
    overlays = frame.filter(pl.col("source") == "overlay")
    for (deal_id,), part in overlays.group_by(["deal"]):
        share = overlay_share + sum(
            (s.share for s in by_id[str(deal_id)].splits if s.kind == "overlay"), Decimal(0)
        )
        pool = part.get_column("deal_pool")[0]
        expected = (pool * share).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        assert part.get_column("amount").sum() == expected


@LAWS
@given(reward_plans(), won_deals(), st.randoms(use_true_random=False))
def test_reordering_deals_or_participants_changes_nothing(
    plan: RewardPlan, deals: list[Deal], rnd: Any
) -> None:
    ledger = run(deals, plan)
    shuffled = list(deals)
    rnd.shuffle(shuffled)
    participants = list(plan.participants)
    rnd.shuffle(participants)
    reordered = plan.model_copy(update={"participants": participants})
    again = run(shuffled, reordered)
    assert again.to_frame().equals(ledger.to_frame())
    assert run(deals, plan).to_frame().equals(ledger.to_frame())
    assert again.total() == ledger.total()


@LAWS
@given(reward_plans(), won_deals())
def test_no_cent_is_created_or_lost(plan: RewardPlan, deals: list[Deal]) -> None:
    ledger = run(deals, plan)
    frame = ledger.to_frame()
    assert sum(ledger.totals().values(), Money.zero("EUR")) == ledger.total()
    assert sum(ledger.totals("component").values(), Money.zero("EUR")) == ledger.total()
    assert Money(frame.get_column("amount").sum() or 0, "EUR") == ledger.total()


@LAWS
@given(reward_plans(), won_deals())
def test_a_full_clawback_nets_a_refunded_deal_to_zero(plan: RewardPlan, deals: list[Deal]) -> None:
    plan = (
        plan.model_copy(
            update={"clawback": plan.clawback.model_copy(update={"mode": "full", "window_days": 90})}
        )
        if plan.clawback
        else plan.model_validate({**plan.model_dump(), "clawback": {"window_days": 90}})
    )
    october = pools(run(deals, plan))
    september = pools(run(deals, plan, period="2026-09"))
    both = pl.concat([september, october])
    for d in deals:
        if d.refunded_on is not None:
            assert both.filter(pl.col("deal") == d.id).get_column("amount").sum() == 0, d.id
