"""The plan's ``campaigns:`` section: fields, totals, when sales was told, and located errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from smarketing import Money, load_plan
from smarketing.campaigns import Campaign
from smarketing.errors import PlanError

BASE = """\
name: T
teams:
  - {id: marketing, name: M, function: marketing}
  - {id: sales, name: S, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
cadence:
  - {id: weekly, name: Weekly, kind: sync, frequency: weekly, teams: [marketing, sales]}
campaigns:
"""


def _plan(*lines: str) -> Any:
    return load_plan(BASE + "".join(f"  - {line}\n" for line in lines))


def test_example_plan_has_campaigns_with_costs_and_one_not_announced() -> None:
    plan = load_plan("examples/plan.yaml")
    told = {c.id: c.told_on for c in plan.campaigns}
    assert len(told) == 3
    assert None in told.values()
    assert all(c.total_cost is not None for c in plan.campaigns)


def test_fields_and_totals() -> None:
    plan = _plan(
        "{id: c1, name: C, owner: marketing, start: 2026-07-01, meeting: weekly, teams: [marketing, sales],"
        " channel_costs: {ads: {amount: '10.50', currency: EUR}, events: {amount: '4', currency: EUR}}}"
    )
    (c,) = plan.campaigns
    assert c.total_cost == Money("14.50", "EUR")
    assert c.told_on == date(2026, 7, 1)  # presented at a meeting: told by its start


@pytest.mark.parametrize(
    ("fields", "told"),
    [
        ("announced_on: 2026-06-20", date(2026, 6, 20)),
        ("announced_on: 2026-07-09, meeting: weekly", date(2026, 7, 1)),
        ("announced_on: 2026-07-09", date(2026, 7, 9)),
        ("end: 2026-07-01", None),
    ],
)
def test_told_on(fields: str, told: date | None) -> None:
    plan = _plan(f"{{id: c1, name: C, owner: marketing, start: 2026-07-01, {fields}}}")
    assert plan.campaigns[0].told_on == told
    assert plan.campaigns[0].total_cost is None


@pytest.mark.parametrize(
    ("line", "where", "message"),
    [
        ("{id: c1, name: C, owner: sale, start: 2026-07-01}", "campaigns[0].owner", "unknown team 'sale'"),
        (
            "{id: c1, name: C, owner: sales, start: 2026-07-01, meeting: weeky}",
            "campaigns[0].meeting",
            "weekly",
        ),
        ("{id: c1, name: C, owner: sales, start: 2026-07-01, teams: [x]}", "campaigns[0].teams[0]", "team"),
        ("{id: c1, name: C, owner: sales, start: 2026-07-01, end: 2026-06-01}", "campaigns[0].end", "before"),
        (
            "{id: c1, name: C, owner: sales, start: 2026-07-01, cost: {amount: '1', currency: EUR},"
            " channel_costs: {ads: {amount: '2', currency: EUR}}}",
            "campaigns[0].channel_costs",
            "more than cost",
        ),
        (
            "{id: c1, name: C, owner: sales, start: 2026-07-01, cost: {amount: '1', currency: EUR},"
            " channel_costs: {ads: {amount: '1', currency: USD}}}",
            "campaigns[0].channel_costs",
            "several currencies",
        ),
        (
            "{id: c1, name: C, owner: sales, start: 2026-07-01, cost: {amount: '1.001', currency: EUR}}",
            "cost",
            "",
        ),
    ],
)
def test_located_errors(line: str, where: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        _plan(line)
    text = str(caught.value)
    assert where in text
    assert message in text
    assert "line 1" in text or "line " in text


def test_duplicate_campaign_ids() -> None:
    with pytest.raises(PlanError, match=r"campaigns\[1\]\.id: duplicate id 'c1'"):
        _plan(
            "{id: c1, name: C, owner: sales, start: 2026-07-01}",
            "{id: c1, name: D, owner: sales, start: 2026-07-01}",
        )


def test_campaign_model_alone() -> None:
    c = Campaign(id="c", name="C", owner="marketing", start="2026-07-01")  # type: ignore[arg-type]
    assert c.total_cost is None
    assert c.told_on is None
