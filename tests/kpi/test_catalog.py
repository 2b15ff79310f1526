"""Every catalogue KPI, hand-computed on the example dataset (see smarketing.testing.fixtures)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smarketing.kpi import KPI, Undefined, catalog, compile_kpi, scorecard
from smarketing.plan import AlignmentPlan
from smarketing.testing.fixtures import AS_OF, EXAMPLE_INPUTS, example_dataset

# October 2026, by hand from the fixture's story: 5 leads, 5 MQLs, 4 SALs (= handed off), 2 SQLs,
# 1 opportunity, 1 won (24,000, 12-day cycle) and 1 lost deal, 45,000 new pipeline, 1 never worked,
# 1 disqualified, 1 recycled (with the plan's journey); September had 1 MQL.
EXPECTED: dict[str, str] = {
    "mql_volume": "5",  # L1..L5 entered mql
    "lead_to_mql": "1.0000",  # 5 / 5
    "mql_to_sal": "0.8000",  # 4 / 5
    "sal_to_sql": "0.5000",  # 2 / 4
    "sql_to_opportunity": "0.5000",  # 1 / 2
    "opportunity_to_won": "1.0000",  # 1 / 1
    "mql_to_sql": "0.4000",  # 2 / 5
    "lead_to_sql": "0.4000",  # 2 / 5
    "mql_to_won": "0.2000",  # 1 / 5
    "lead_to_won": "0.2000",  # 1 / 5
    "win_rate": "0.5000",  # 1 / (1 + 1)
    "pipeline_velocity": "1000.00",  # 1 x 24000 x 0.5 / 12 days
    "lead_velocity_rate": "4.0000",  # (5 - 1) / 1
    "new_revenue": "24000.00",
    "average_deal_size": "24000.00",
    "sales_cycle": "12.0000",  # Oct 8 -> Oct 20
    "cac": "36000.00",  # (20000 + 16000) / 1
    "ltv": "192000.00",  # 24000 x 0.8 / 0.1
    "ltv_to_cac": "5.3333",  # 192000 / 36000
    "cac_payback": "684.3750",  # 36000 / (24000 x 0.8) x 365
    "marketing_sourced_pipeline_lead_source": "30000.00",  # D1 (webinar) + D5 (webinar)
    "marketing_sourced_pipeline_first_touch": "24000.00",  # D1 only: D4, D5, D7 were touched by sales first
    # D1 + D5 + D7; marketing touched L4 only after sales accepted it.
    "marketing_sourced_pipeline_before_acceptance": "33000.00",
    "marketing_influenced_pipeline": "45000.00",  # D1 + D4 + D5 + D7
    "pipeline_created": "45000.00",
    # SLA on the plan's Berlin calendar (UTC+2, lunch 12:30-13:30; finance-lead tier 2 h): L1 Fri 11:00 ->
    # 13:00 is 1.5 h (the reply falls in lunch), L2 Sun -> Sun is 0 h, L3 Mon 11:00 -> Tue 11:00 is 5.5 + 3
    # = 8.5 h (breached), L4 no reply (breached); no dispositions at all.
    "lead_response_time": "1.5000",  # median of 1.5, 0, 8.5
    "sla_compliance": "0.5000",  # L1, L2 met of L1..L4 decided
    "disposition_coverage": "0.0000",  # 0 of L1..L4 past their 15-day deadline
    "share_never_worked": "0.2500",  # L4 of L1..L4
    "funnel_leakage": "0.5000",  # (L2 disqualified + L3 recycled) / 4
}


@pytest.fixture(scope="module")
def card(example_plan: AlignmentPlan) -> dict[str, object]:
    plan = example_plan.model_copy(update={"kpis": [catalog[k] for k in EXPECTED]})
    result = scorecard(plan, example_dataset(), period="2026-10", as_of=AS_OF, inputs=EXAMPLE_INPUTS)
    return {row.kpi.id: row.value for row in result.rows}


def test_every_catalogue_kpi_is_hand_computed() -> None:
    assert set(EXPECTED) == set(catalog)


@pytest.mark.parametrize("kpi_id", list(EXPECTED))
def test_catalogue_kpi_value(card: dict[str, object], kpi_id: str) -> None:
    assert str(card[kpi_id]) == EXPECTED[kpi_id]


@pytest.mark.parametrize("kpi_id", list(EXPECTED))
def test_catalogue_kpi_is_well_formed(kpi_id: str) -> None:
    kpi = catalog[kpi_id]
    assert isinstance(kpi, KPI)
    assert kpi.description.endswith(".")
    compile_kpi(kpi)


def test_sourced_pipeline_definitions_by_name() -> None:
    assert catalog.marketing_sourced_pipeline().formula == "sourced_pipeline_lead_source"
    assert catalog.marketing_sourced_pipeline("before_acceptance").id.endswith("before_acceptance")
    with pytest.raises(ValueError, match="choose one of lead_source, first_touch, before_acceptance"):
        catalog.marketing_sourced_pipeline("last_touch")


def test_catalogue_changes_are_validated() -> None:
    assert catalog.kpi("cac", currency="USD").currency == "USD"
    assert catalog.kpi("win_rate", target="25%").target == Decimal("0.25")
    with pytest.raises(KeyError):
        catalog["nope"]


def test_inputs_missing_make_cost_kpis_undefined() -> None:
    result = scorecard([catalog["cac"]], example_dataset(), period="2026-10", as_of=AS_OF)
    value = result.rows[0].value
    assert isinstance(value, Undefined)
    assert value.reason == "input 'marketing_spend' not given for 2026-10"
    assert result.rows[0].status == "undefined"
