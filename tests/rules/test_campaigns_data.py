"""D014: a lead spike from a campaign sales was not told about fires; announced or small weeks stay quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan, load_plan

from .conftest import example_data

MONDAY = datetime(2026, 7, 6, 10, tzinfo=UTC)  # weeks of 2026-07-06, -13, -20, -27 and 2026-08-03


def _leads(campaign: str, weekly: list[int], *, first: datetime = MONDAY) -> list[sm.Lead]:
    return [
        sm.Lead(
            id=f"{campaign}-{w}-{i:03d}", campaign=campaign, created_at=first + timedelta(weeks=w, hours=i)
        )
        for w, n in enumerate(weekly)
        for i in range(n)
    ]


def _d014(plan: AlignmentPlan, leads: list[sm.Lead]) -> list[sm.Diagnostic]:
    return list(sm.check(plan, data={"leads": leads}, select=["D014"]).diagnostics)


@pytest.fixture(scope="module")
def plan() -> AlignmentPlan:
    return load_plan("examples/plan.yaml")


def test_fires_on_a_spike_of_a_campaign_never_announced(plan: AlignmentPlan) -> None:
    (d,) = _d014(plan, _leads("events-2026-q3", [5, 5, 5, 5, 30]))
    assert d.severity == "warning"
    assert d.message.startswith(
        "campaign 'events-2026-q3' brought 30 new leads in the week of 2026-08-03 "
        "(6.0 times its usual 5 a week)"
    )
    assert "campaigns[2] has neither 'announced_on' nor 'meeting'" in d.message
    assert d.url.endswith("#d014")


def test_fires_on_a_new_campaign_the_plan_does_not_list(plan: AlignmentPlan) -> None:
    leads = _leads("webinar-2026-q3", [5, 5, 5, 5]) + _leads(
        "pop-up", [40], first=MONDAY + timedelta(weeks=3)
    )
    (d,) = _d014(plan, leads)
    # A first week is measured against the median campaign week of the data: 5.
    assert "campaign 'pop-up' brought 40 new leads in the week of 2026-07-27" in d.message
    assert "the plan has no entry for it" in d.message


def test_fires_when_sales_was_told_only_after_the_spike_began(plan: AlignmentPlan) -> None:
    # Presented at a meeting: told by its start, 2026-07-01, a Wednesday; the spike week began on Monday.
    leads = _leads("paid_search-2026-q3", [2, 30], first=MONDAY - timedelta(weeks=2))
    (d,) = _d014(plan, leads)
    assert "week of 2026-06-29" in d.message
    assert "sales was told only on 2026-07-01" in d.message


@pytest.mark.parametrize(
    ("campaign", "weekly"),
    [
        ("webinar-2026-q3", [5, 5, 5, 5, 30]),  # announced on 2026-06-24
        ("paid_search-2026-q3", [5, 5, 5, 5, 30]),  # presented at a meeting before its start
        ("events-2026-q3", [5, 5, 5, 5, 24]),  # below the floor of 25 leads
        ("events-2026-q3", [11, 11, 11, 11, 32]),  # under 3 times its usual week
        (
            "events-2026-q3",
            [30, 30, 30, 30, 30],
        ),  # big, but steady: its first week is the usual campaign week
    ],
)
def test_quiet(plan: AlignmentPlan, campaign: str, weekly: list[int]) -> None:
    assert _d014(plan, _leads(campaign, weekly)) == []


def test_announcing_the_campaign_silences_it() -> None:
    data = example_data()
    data["campaigns"][2]["announced_on"] = "2026-08-03"
    assert _d014(load_plan(data), _leads("events-2026-q3", [5, 5, 5, 5, 30])) == []
    data["campaigns"][2]["announced_on"] = "2026-08-04"
    assert len(_d014(load_plan(data), _leads("events-2026-q3", [5, 5, 5, 5, 30]))) == 1


def test_quiet_without_leads_and_on_the_synthetic_data(plan: AlignmentPlan) -> None:
    assert _d014(plan, []) == []
    frames: dict[str, Any] = synthetic(plan, seed=7, n_leads=3000).frames()
    assert list(sm.check(plan, data=frames, select=["D014"]).diagnostics) == []
