"""compare_campaigns: a hand-computed retrospective, the tie and rounding rules, and its laws."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.errors import DataError
from smarketing.feedback import CampaignComparison, compare_campaigns

PLAN = sm.load_plan("examples/plan.yaml")
T0 = datetime(2026, 8, 3, 9, tzinfo=UTC)
AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
WEB, PAID, EVENTS = "webinar-2026-q3", "paid_search-2026-q3", "events-2026-q3"


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def _deal(i: str, lead: str, amount: str, stage: str, close: date | None) -> sm.Deal:
    return sm.Deal(
        id=i, lead_id=lead, amount=sm.Money(amount, "EUR"), stage=stage, created_at=_at(3), close_date=close
    )


def _fixture() -> dict[str, Any]:
    leads = [
        ("L1", WEB, _at(0)),
        ("L2", WEB, _at(0)),
        ("L3", WEB, _at(0)),
        ("L4", WEB, datetime(2026, 10, 5, tzinfo=UTC)),  # created after as_of: not counted
        ("L5", PAID, _at(0)),
        ("L6", PAID, _at(0)),
        ("L7", None, _at(0)),
        ("L8", EVENTS, _at(0)),
    ]
    moves = [
        ("L1", "lead", "mql", 0),
        ("L1", "mql", "sal", 1),
        ("L1", "sal", "sql", 2),
        ("L2", "lead", "mql", 0),
        ("L3", "lead", "mql", 0),
        ("L5", "lead", "mql", 0),
        ("L6", "lead", "mql", 0),
        ("L6", "mql", "disqualified", 1),  # rejected by a move alone: no reason
        ("L7", "lead", "mql", 0),
    ]
    reasons = [
        ("L2", "not_a_fit", 1),
        ("L2", "no_budget", 1),  # same time: the smaller reason wins
        ("L3", "bad_timing", -1),  # before the handoff: not the reason
        ("L3", "competitor", 3),
    ]
    return {
        "leads": [sm.Lead(id=i, campaign=c, created_at=t) for i, c, t in leads],
        "stage_events": [sm.StageEvent(lead_id=x, source=s, to=to, time=_at(d)) for x, s, to, d in moves],
        "dispositions": [sm.Disposition(lead_id=x, reason=r, time=_at(d)) for x, r, d in reasons],
        "deals": [
            _deal("D1", "L1", "1000.00", "won", date(2026, 9, 1)),
            _deal("D2", "L1", "500.00", "open", None),
            _deal("D3", "L5", "200.00", "won", date(2026, 10, 15)),  # won after as_of: still pipeline
            _deal("D4", "L5", "300.00", "lost", date(2026, 9, 15)),  # lost: left out
            _deal("D5", "L7", "900.00", "won", date(2026, 9, 1)),  # no campaign
        ],
    }


def test_hand_computed_retrospective() -> None:
    result = compare_campaigns(PLAN, _fixture(), as_of=AS_OF)
    frame = result.to_frame()
    assert frame.get_column("campaign").to_list() == [EVENTS, PAID, WEB]  # all campaigns: by id
    columns = ["leads", "mqls", "accepted", "rejected", "sqls", "won", "pipeline_minor", "revenue_minor"]
    rows = {r[0]: r[1:] for r in frame.select("campaign", *columns).iter_rows()}
    assert rows[WEB] == (3, 3, 1, 2, 1, 1, 150000, 100000)
    assert rows[PAID] == (2, 2, 0, 1, 0, 0, 20000, 0)
    assert rows[EVENTS] == (1, 0, 0, 0, 0, 0, 0, 0)
    assert frame.filter(pl.col("campaign") == WEB).item(0, "acceptance") == pytest.approx(1 / 3)
    assert frame.filter(pl.col("campaign") == EVENTS).item(0, "acceptance") is None
    assert result.top_reasons(WEB) == [("competitor", 1), ("no_budget", 1)]
    assert result.top_reasons(PAID) == [("(no reason)", 1)]
    # Costs: 18,000 EUR over 3 leads / 3 MQLs / 1 SQL / 1 won; paid search's 42,000 EUR are its channel costs.
    assert [result.cost_per(WEB, s) for s in ("lead", "mql", "sql", "won")] == [
        sm.Money("6000.00", "EUR"),
        sm.Money("6000.00", "EUR"),
        sm.Money("18000.00", "EUR"),
        sm.Money("18000.00", "EUR"),
    ]
    assert result.cost_per(PAID, "lead") == sm.Money("21000.00", "EUR")
    assert result.cost_per(PAID, "sql") is None
    assert result.cost_per(EVENTS, "mql") is None
    assert result.currency == "EUR"
    assert result.sql_stage == "sql"


def test_given_campaigns_keep_their_order_and_unknown_ones_are_zeros() -> None:
    result = compare_campaigns(PLAN, _fixture(), campaigns=[WEB, "nope", PAID], as_of=AS_OF)
    frame = result.to_frame()
    assert frame.get_column("campaign").to_list() == [WEB, "nope", PAID]
    assert frame.row(1, named=True)["leads"] == 0
    assert frame.row(1, named=True)["name"] is None
    assert result.reasons.get_column("campaign").to_list() == [WEB, WEB, PAID]


def test_as_of_earlier_sees_less() -> None:
    result = compare_campaigns(PLAN, _fixture(), campaigns=[WEB], as_of=_at(1.5))
    row = result.to_frame().row(0, named=True)
    # L3's competitor disposition (day 3) and L1's SQL (day 2) and deals (day 3) are later.
    assert (row["leads"], row["accepted"], row["rejected"], row["sqls"], row["pipeline_minor"]) == (
        3,
        1,
        1,
        0,
        0,
    )
    assert result.top_reasons(WEB) == [("no_budget", 1)]


def test_cost_rounds_half_even_once() -> None:
    plan = PLAN.model_copy(
        update={
            "campaigns": [
                c.model_copy(update={"cost": sm.Money("0.05", "EUR"), "channel_costs": {}})
                if c.id == WEB
                else c
                for c in PLAN.campaigns
            ]
        }
    )
    data = _fixture()
    data["leads"] = [*data["leads"][:1], sm.Lead(id="L9", campaign=WEB, created_at=_at(0))]
    # 0.05 EUR over 2 leads is 2.5 cents: to even, 2 cents (not 3).
    assert compare_campaigns(plan, data, campaigns=[WEB], as_of=AS_OF).cost_per(WEB, "lead") == sm.Money(
        "0.02", "EUR"
    )


def test_other_currencies_need_fx() -> None:
    data = _fixture()
    data["deals"] = [
        *data["deals"],
        sm.Deal(id="D9", lead_id="L1", amount=sm.Money("100", "USD"), stage="open", created_at=_at(3)),
    ]
    with pytest.raises(DataError, match=r"D9.*pass fx"):
        compare_campaigns(PLAN, data, as_of=AS_OF)
    fx = sm.FxTable([("USD", "EUR", date(2026, 1, 1), Decimal("0.92"))])
    result = compare_campaigns(PLAN, data, campaigns=[WEB], as_of=AS_OF, fx=fx)
    assert result.to_frame().item(0, "pipeline_minor") == 150000 + 9200


@pytest.mark.parametrize(
    ("campaigns", "message"),
    [("abc", "one string"), ([], "at least one"), ([WEB, WEB], "more than once"), ([""], "campaign ids")],
)
def test_bad_campaigns(campaigns: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_campaigns(PLAN, _fixture(), campaigns=campaigns, as_of=AS_OF)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(DataError, match="as_of"):
        compare_campaigns(PLAN, _fixture(), as_of=datetime(2026, 10, 1))


def test_results_render() -> None:
    result = compare_campaigns(PLAN, _fixture(), as_of=AS_OF)
    text = repr(result)
    assert text.startswith("CampaignComparison(campaigns=3")
    assert "competitor 1, no_budget 1" in text
    assert "6000.00 EUR" in text
    assert "<table>" in result._repr_html_()
    as_dict = result.to_dict()
    web = next(c for c in as_dict["campaigns"] if c["campaign"] == WEB)
    assert web["reasons"] == [{"reason": "competitor", "leads": 1}, {"reason": "no_budget", "leads": 1}]
    assert web["cost_per_lead_minor"] == 600000
    assert repr(compare_campaigns(PLAN, {}, as_of=AS_OF)) == (
        "CampaignComparison(campaigns=0, as_of=2026-10-01T00:00:00+00:00)"
    )


# -- laws ---------------------------------------------------------------------------------------------

STAGES = ["lead", "mql", "sal", "sql", "disqualified"]
lead_rows = st.lists(st.sampled_from([WEB, PAID, "x", None]), min_size=0, max_size=25)
moves = st.lists(
    st.tuples(st.integers(0, 24), st.sampled_from(STAGES), st.sampled_from(STAGES), st.integers(0, 5)),
    max_size=40,
)
disposals = st.lists(
    st.tuples(
        st.integers(0, 24), st.sampled_from(["no_budget", "not_a_fit", "duplicate"]), st.integers(0, 5)
    ),
    max_size=30,
)


def _random_data(campaigns: list[str | None], moved: list[Any], disposed: list[Any]) -> dict[str, Any]:
    n = len(campaigns)
    return {
        "leads": [sm.Lead(id=f"L{i}", campaign=c, created_at=_at(0)) for i, c in enumerate(campaigns)],
        "stage_events": [
            sm.StageEvent(lead_id=f"L{i % max(n, 1)}", source=a, to=b, time=_at(d)) for i, a, b, d in moved
        ],
        "dispositions": [
            sm.Disposition(lead_id=f"L{i % max(n, 1)}", reason=r, time=_at(d)) for i, r, d in disposed
        ],
    }


@settings(max_examples=20, deadline=None)
@given(lead_rows, moves, disposals, st.randoms(use_true_random=False))
def test_laws(campaigns: list[str | None], moved: list[Any], disposed: list[Any], rnd: random.Random) -> None:
    data = _random_data(campaigns, moved, disposed)
    result = compare_campaigns(PLAN, data, as_of=AS_OF)
    frame = result.to_frame()
    # Every lead of a compared campaign is counted once.
    assert frame.get_column("leads").sum() == sum(c is not None for c in campaigns)
    # Rejection reasons add up to the rejected leads, campaign by campaign.
    for row in frame.iter_rows(named=True):
        assert sum(n for _, n in result.top_reasons(row["campaign"], n=100)) == row["rejected"]
        assert row["accepted"] <= row["mqls"] <= row["leads"]
    # Reordering the input changes nothing.
    shuffled = {kind: rnd.sample(rows, len(rows)) for kind, rows in data.items()}
    assert compare_campaigns(PLAN, shuffled, as_of=AS_OF).to_dict() == result.to_dict()
    # A subset of campaigns gives the same rows as the full comparison.
    some = sorted(c for c in (WEB, PAID) if c in frame.get_column("campaign").to_list())
    if some:
        part = compare_campaigns(PLAN, data, campaigns=some, as_of=AS_OF)
        assert part.to_frame().equals(frame.filter(pl.col("campaign").is_in(some)))


def test_result_type() -> None:
    assert isinstance(compare_campaigns(PLAN, {}, as_of=AS_OF), CampaignComparison)
