"""segment: counts, conversion and exact won value per persona x grade x any attribute."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing.persona import segment
from smarketing.persona.segment import _segments
from smarketing.plan import AlignmentPlan

T = datetime(2026, 10, 1, 9, tzinfo=UTC)


def _deal(i: str, lead: str | None, amount: str, currency: str = "EUR", stage: str = "won") -> sm.Deal:
    return sm.Deal(
        id=i,
        lead_id=lead,
        amount=sm.Money(amount, currency),
        stage=stage,
        created_at=T,
        close_date=date(2026, 10, 20),
    )


def _data() -> dict[str, Any]:
    leads = [
        sm.Lead(id="L1", created_at=T, persona="ops", grade="A", account_id="A1", source="webinar"),
        sm.Lead(id="L2", created_at=T, persona="ops", grade="A", account_id="A2", source="webinar"),
        sm.Lead(id="L3", created_at=T, persona="ops", grade="B", account_id="A1"),
        sm.Lead(id="L4", created_at=T, persona=None, grade="A", account_id=None),
        sm.Lead(id="L5", created_at=T, persona="fin", grade=None, account_id="A2"),
    ]
    events = [
        sm.StageEvent(lead_id="L1", source="lead", to="mql", time=T),
        sm.StageEvent(lead_id="L1", source="mql", to="sal", time=T),
        sm.StageEvent(lead_id="L2", source="lead", to="mql", time=T),
        sm.StageEvent(lead_id="L5", source="mql", to="sal", time=T),
        sm.StageEvent(lead_id="L9", source="lead", to="mql", time=T),  # not in leads
    ]
    deals = [
        _deal("D1", "L1", "1000.10"),
        _deal("D2", "L1", "200.20", "USD"),
        _deal("D3", "L2", "0.01"),
        _deal("D4", "L5", "500", "JPY"),
        _deal("D5", "L3", "999", stage="lost"),
        _deal("D6", "L9", "1"),
        _deal("D7", None, "2"),
    ]
    accounts = [sm.Account(id="A1", region="dach"), sm.Account(id="A2", region="nordics")]
    return {"leads": leads, "stage_events": events, "deals": deals, "accounts": accounts}


def test_counts_rates_and_money_by_hand(example_plan: AlignmentPlan) -> None:
    result = segment(example_plan, _data())
    frame = result.to_frame()
    assert frame.select("persona", "grade", "leads", "mqls", "accepted", "won_leads", "won_deals").rows() == [
        ("fin", None, 1, 1, 1, 1, 1),
        ("ops", "A", 2, 2, 1, 2, 3),
        ("ops", "B", 1, 0, 0, 0, 0),
        (None, "A", 1, 0, 0, 0, 0),
    ]
    ops_a = frame.row(1, named=True)
    assert (ops_a["mql_rate"], ops_a["acceptance_rate"], ops_a["win_rate"]) == (1.0, 0.5, 1.0)
    assert math.isnan(frame.row(2, named=True)["acceptance_rate"])  # no MQLs: no rate, no error
    assert result.won_value("ops", "A") == {
        "EUR": sm.Money("1000.11", "EUR"),
        "USD": sm.Money("200.20", "USD"),
    }
    assert result.won_value("fin", None) == {"JPY": sm.Money("500", "JPY")}
    assert result.won_value("ops", "B") == {}
    assert result.totals() == {
        "EUR": sm.Money("1000.11", "EUR"),
        "JPY": sm.Money("500", "JPY"),
        "USD": sm.Money("200.20", "USD"),
    }
    assert isinstance(result.value.get_column("won_value").dtype, pl.Decimal)
    assert dict(result.counts) == {
        "mqls_unknown_lead": 1,
        "won_deals_unknown_lead": 1,
        "won_deals_without_lead": 1,
    }
    as_dict = result.to_dict()
    assert {"persona": "ops", "grade": "A", "currency": "EUR", "won_deals": 2, "won_value": "1000.11"} in (
        as_dict["value"]
    )
    assert "won value" in repr(result)
    assert "<table>" in result._repr_html_()


def test_any_lead_or_account_column(example_plan: AlignmentPlan) -> None:
    result = segment(example_plan, _data(), by=["account.region", "source"])
    assert result.to_frame().select("account.region", "source", "leads").rows() == [
        ("dach", "webinar", 1),
        ("dach", None, 1),
        ("nordics", "webinar", 1),
        ("nordics", None, 1),
        (None, None, 1),
    ]
    with pytest.raises(sm.DataError, match="no account column 'size'"):
        segment(example_plan, _data(), by="account.size")
    with pytest.raises(ValueError, match="distinct"):
        segment(example_plan, _data(), by=["grade", "grade"])


def test_persona_and_grade_from_scores(example_plan: AlignmentPlan) -> None:
    scores = pl.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "persona": ["fin", "ops", "ops", "ops"],
            "grade": ["B1", "A1", "A1", "C3"],
        }
    )
    result = segment(example_plan, _data(), scores=scores)
    assert result.to_frame().select("persona", "grade", "leads").rows() == [
        ("fin", "B1", 1),
        ("ops", "A1", 2),
        ("ops", "C3", 1),
        (None, None, 1),  # L5 has no score
    ]
    with pytest.raises(sm.DataError, match="scores: missing column"):
        segment(example_plan, _data(), scores=scores.drop("grade"))


def test_the_core_and_row_order() -> None:
    leads = pl.DataFrame({"lead_id": ["a", "b", "c"], "tier": ["x", "y", "x"]})
    outcomes = pl.DataFrame({"lead_id": ["a", "b"], "mql": [True, True], "accepted": [True, False]})
    won = pl.DataFrame({"lead_id": ["c", "a"], "amount_currency": ["EUR", "EUR"], "_minor": [5, 7]})
    result = _segments(leads, outcomes, won, by=("tier",))
    assert result.to_frame().select("tier", "leads", "mqls", "accepted", "won_leads").rows() == [
        ("x", 2, 1, 1, 2),
        ("y", 1, 1, 0, 0),
    ]
    assert result.value.get_column("won_value").to_list() == [Decimal("0.12")]
    again = _segments(leads.reverse(), outcomes.reverse(), won.reverse(), by=("tier",))
    assert again.to_dict() == result.to_dict()
