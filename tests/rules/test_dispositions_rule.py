"""D012: a campaign whose share of rejected handed-off leads is above the plan's threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import data_rules

from .conftest import example_data

T0 = datetime(2026, 10, 5, 6, tzinfo=UTC)


def _found(plan: AlignmentPlan, data: Any) -> list[sm.Diagnostic]:
    return list(sm.check(plan, data=data, select=["D012"]).diagnostics)


def _campaigns(sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Per campaign ``(handed off, rejected)``: every lead enters mql; the rejected ones get a disposition."""
    leads, events, disps = [], [], []
    for campaign, (handed, rejected) in sizes.items():
        for i in range(handed):
            lead = f"{campaign}-{i:02d}"
            leads.append(sm.Lead(id=lead, created_at=T0 - timedelta(days=9), campaign=campaign))
            events.append(sm.StageEvent(lead_id=lead, to="mql", time=T0))
            if i < rejected:
                disps.append(sm.Disposition(lead_id=lead, reason="not_a_fit", time=T0 + timedelta(hours=3)))
            else:
                events.append(
                    sm.StageEvent.model_validate({"lead_id": lead, "from": "mql", "to": "sal", "time": T0})
                )
    return {"leads": leads, "stage_events": events, "dispositions": disps}


def test_fires_for_a_campaign_above_the_threshold(example_plan: AlignmentPlan) -> None:
    data = _campaigns({"spring": (25, 10), "fine": (20, 5), "tiny": (3, 3)})
    (d,) = _found(example_plan, data)
    assert d.severity == "warning"
    assert "campaign 'spring': sales rejected 10 of its 25 handed-off leads (40.0%)" in d.message
    assert "the plan allows at most 25.0%" in d.message
    assert d.url.endswith("#d012")


def test_quiet_at_the_threshold_and_for_small_campaigns(example_plan: AlignmentPlan) -> None:
    # fine: exactly 25 %; tiny: every lead rejected, but one lead short of the documented minimum of 20
    assert _found(example_plan, _campaigns({"fine": (20, 5), "tiny": (19, 19)})) == []
    assert "fewer than 20 handed-off leads" in next(r for r in data_rules() if r.code == "D012").rationale


def test_quiet_without_a_threshold() -> None:
    d = example_data()
    del d["sla"]["marketing"]["quality"]["max_rejection_rate"]
    plan = load_plan(d)
    assert _found(plan, _campaigns({"spring": (25, 10)})) == []


@pytest.mark.parametrize("n", [0, 120])
def test_quiet_on_the_example_data(example_plan: AlignmentPlan, n: int) -> None:
    frames = synthetic(example_plan, seed=15, n_leads=n).frames() if n else {}
    assert _found(example_plan, frames) == []


def test_threshold_is_a_located_plan_field() -> None:
    d = example_data()
    d["sla"]["marketing"]["quality"]["max_rejection_rate"] = "120%"
    with pytest.raises(sm.PlanError, match=r"sla\.marketing\.quality\.max_rejection_rate"):
        load_plan(d)


def test_rate_counts_match_the_analytics(example_plan: AlignmentPlan) -> None:
    data = _campaigns({"spring": (25, 10)})
    report = sm.feedback.dispositions(example_plan, data, by="campaign")
    assert report.groups is not None
    assert report.groups.filter(pl.col("campaign") == "spring")["rejected"].to_list() == [10]
