"""Scorecards, grouping, currencies, plugins, alerts and the reverse funnel."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from smarketing.errors import CurrencyMismatchError, PluginError, PluginWarning
from smarketing.kpi import (
    Metric,
    MetricContext,
    MetricRegistry,
    Undefined,
    alerts,
    catalog,
    revenue_from_leads,
    scorecard,
    status_alert,
    targets_from_revenue,
    threshold_alert,
    trend_alert,
)
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset, Deal
from smarketing.testing.fixtures import AS_OF, example_dataset


def demo_requests(context: MetricContext) -> dict[str, int]:
    return {w.label: 7 for w in context.windows}


DEMO_REQUESTS = Metric("demo_requests", "count", "Demo requests.", compute=demo_requests)
NOT_A_METRIC = 42


def test_joint_kpis_come_first_and_statuses_follow_thresholds(example_plan: AlignmentPlan) -> None:
    kpis = [
        catalog.kpi("mql_volume", target=5),  # 5 of 5: on track
        catalog.kpi("win_rate", target="0.55"),  # 0.5 / 0.55 = 90.9%: at risk
        catalog.kpi("mql_to_sql", target="0.5"),  # 0.4 / 0.5 = 80%: off track, joint
        catalog.kpi("sales_cycle", target=10),  # lower is better: 10 / 12 = 83.3%: off track
        catalog["lead_to_won"],  # no target
    ]
    card = scorecard(kpis, example_dataset(), period="2026-10", as_of=AS_OF)
    assert [(r.kpi.id, r.status, str(r.attainment)) for r in card.rows] == [
        ("mql_to_sql", "off_track", "0.8000"),
        ("lead_to_won", "no_target", "None"),
        ("mql_volume", "on_track", "1.0000"),
        ("win_rate", "at_risk", "0.9091"),
        ("sales_cycle", "off_track", "0.8333"),
    ]
    assert card.rows[2].history == (Decimal(0), Decimal(0), Decimal(1))
    assert card.rows[2].history_periods == ("2026-07", "2026-08", "2026-09")
    assert card.rows[2].trend == "improving"


def test_quarterly_kpis_use_their_own_period(example_plan: AlignmentPlan) -> None:
    card = scorecard(
        [catalog.kpi("win_rate", period="quarter")], example_dataset(), period="2026-10", as_of=AS_OF
    )
    assert (card.rows[0].period, card.rows[0].history_periods[-1]) == ("2026-Q4", "2026-Q3")


def test_as_of_cuts_facts() -> None:
    from datetime import UTC, datetime

    card = scorecard(
        [catalog["mql_volume"]], example_dataset(), period="2026-10", as_of=datetime(2026, 10, 5, tzinfo=UTC)
    )
    assert card.rows[0].value == 3  # L1, L2, L3; L4 and L5 entered mql after Oct 5


def test_group_by_persona_and_team(example_plan: AlignmentPlan) -> None:
    plan = example_plan.model_copy(update={"kpis": [catalog["mql_volume"]]})
    by_persona = scorecard(plan, example_dataset(), period="2026-10", as_of=AS_OF, by="persona")
    assert {r.group: r.value for r in by_persona.rows} == {"finance-lead": 2, "ops-director": 3, "(none)": 0}
    by_team = scorecard(plan, example_dataset(), period="2026-10", as_of=AS_OF, by="team")
    assert {r.group: r.value for r in by_team.rows} == {"sales": 5}


def test_outputs(example_plan: AlignmentPlan) -> None:
    card = scorecard([catalog["win_rate"], catalog["cac"]], example_dataset(), period="2026-10", as_of=AS_OF)
    frame = card.to_frame()
    assert frame.columns[:3] == ["kpi", "name", "owners"]
    assert frame["value"].to_list()[0] is None
    assert frame["undefined_reason"].to_list()[0].startswith("input")
    data = card.to_dict()
    json.dumps(data)
    assert data["rows"][1]["value"] == "0.5000"
    assert "win_rate" in repr(card)
    assert "cac: input 'marketing_spend' not given" in repr(card)
    page = card._repr_html_()
    assert page.startswith("<div")
    assert "<table" in page
    assert "<svg" not in page.split("Win rate")[0]


def test_money_in_other_currencies_needs_fx() -> None:
    base = example_dataset()
    usd = Deal(
        id="U1",
        lead_id="L1",
        amount=Money("1000.00", "USD"),
        stage="won",
        created_at=AS_OF.replace(month=10, day=2),
        close_date=date(2026, 10, 3),
    )
    data = Dataset.from_records(deals=[*base.records("deals"), usd])
    with pytest.raises(CurrencyMismatchError, match="amounts in USD cannot be reported in EUR"):
        scorecard([catalog["new_revenue"]], data, period="2026-10", as_of=AS_OF)
    fx = FxTable([("USD", "EUR", date(2026, 9, 1), "0.9")])
    card = scorecard([catalog["new_revenue"]], data, period="2026-10", as_of=AS_OF, fx=fx)
    assert card.rows[0].value == Decimal("24900.00")


def test_plugin_metrics_through_entry_points() -> None:
    eps = [
        importlib.metadata.EntryPoint("demo", f"{__name__}:DEMO_REQUESTS", "smarketing.metrics"),
        importlib.metadata.EntryPoint("broken", "no_such_module_xyz:thing", "smarketing.metrics"),
        importlib.metadata.EntryPoint("wrong", f"{__name__}:NOT_A_METRIC", "smarketing.metrics"),
        importlib.metadata.EntryPoint("dupe", f"{__name__}:DEMO_REQUESTS", "smarketing.metrics"),
    ]
    with pytest.warns(PluginWarning) as caught:
        registry = MetricRegistry.from_entry_points(eps)
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith(
        "smarketing.metrics: broken: failed to load (no_such_module_xyz:thing): ModuleNotFoundError"
    )
    assert messages[0].endswith("; skipped")
    assert (
        messages[1] == "smarketing.metrics: dupe: metric 'demo_requests' is already defined (demo); skipped"
    )
    assert messages[2].startswith("smarketing.metrics: wrong: must point to a Metric")
    assert registry["demo_requests"].source == "demo"
    kpi = catalog.kpi("mql_volume", id="demos", formula="demo_requests + mqls")
    card = scorecard([kpi], example_dataset(), period="2026-10", as_of=AS_OF, metrics=registry)
    assert card.rows[0].value == 12


def test_duplicate_metrics_are_rejected() -> None:
    with pytest.raises(PluginError, match="metric 'sqls' is defined twice"):
        MetricRegistry().with_metrics(Metric("sqls", "count", "x", compute=demo_requests))
    with pytest.raises(ValueError, match="must be lowercase"):
        Metric("Bad-Name", "count", "x", compute=demo_requests)


def test_alert_rules() -> None:
    kpis = [catalog.kpi("mql_to_sql", target="0.42"), catalog.kpi("mql_volume", target=400)]
    card = scorecard(kpis, example_dataset(), period="2026-10", as_of=AS_OF)
    found = alerts(
        card, [status_alert(kpis=["mql_volume"]), threshold_alert("mql_volume", above=4), trend_alert()]
    )
    assert [(a.kpi, a.kind, a.severity) for a in found] == [
        ("mql_volume", "status", "critical"),
        ("mql_volume", "threshold", "warning"),
    ]
    assert found[1].message == "MQL volume 2026-10 is 5, above 4"
    with pytest.raises(ValueError, match="give below="):
        threshold_alert("x")


def test_targets_from_revenue_rounds_up_stage_by_stage(example_plan: AlignmentPlan) -> None:
    t = example_plan.targets
    assert t is not None
    funnel = targets_from_revenue(
        t.revenue, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates
    )
    # 600000 / 24000 = 25 deals; /0.25 = 100 opportunities; /0.6 = 166.67 -> 167 SQLs;
    # /0.5 = 334 SALs; /0.75 = 445.33 -> 446 MQLs.
    assert dict(funnel.stages) == {"mql": 446, "sal": 334, "sql": 167, "opportunity": 100}
    assert funnel.deals == 25
    assert funnel.exact["mql"] == Fraction(1336, 3)
    assert funnel.to_frame()["needed"].to_list() == [446, 334, 167, 100, 25]
    assert funnel.to_dict()["stages"]["sql"] == 167
    odd = targets_from_revenue(
        Money("100", "EUR"), avg_deal_size=Money("30", "EUR"), conversion_rates={"a": "0.5"}
    )
    assert (odd.deals, odd.stages["a"]) == (4, 8)


def test_reverse_funnel_is_consistent_with_revenue_from_leads(example_plan: AlignmentPlan) -> None:
    t = example_plan.targets
    assert t is not None
    funnel = targets_from_revenue(
        t.revenue, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates
    )
    enough = revenue_from_leads(
        funnel.stages["mql"], avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates
    )
    short = revenue_from_leads(400, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates)
    assert enough >= t.revenue > short
    assert short == Money("540000", "EUR")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"conversion_rates": {}}, "conversion_rates is empty"),
        ({"conversion_rates": {"mql": "0"}}, "must be above 0 and at most 1"),
        ({"conversion_rates": {"mql": "1.5"}}, "must be above 0 and at most 1"),
        ({"conversion_rates": {"mql": "0.5"}, "avg_deal_size": Money("0", "EUR")}, "must be positive"),
    ],
)
def test_reverse_funnel_rejects_bad_input(kwargs: dict[str, object], error: str) -> None:
    args: dict[str, object] = {"avg_deal_size": Money("10", "EUR"), **kwargs}
    with pytest.raises(ValueError, match=error):
        targets_from_revenue(Money("100", "EUR"), **args)  # type: ignore[arg-type]


def test_reverse_funnel_currency_mismatch() -> None:
    with pytest.raises(CurrencyMismatchError):
        targets_from_revenue(Money("100", "EUR"), avg_deal_size=Money("10", "USD"), conversion_rates={"a": 1})


def test_undefined_is_not_zero() -> None:
    card = scorecard([catalog["win_rate"]], Dataset(), period="2026-10", as_of=AS_OF)
    assert isinstance(card.rows[0].value, Undefined)
    assert card.rows[0].value.reason == "division by zero: (won + lost) is 0 (col 7)"
