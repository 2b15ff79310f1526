"""Hostile plans: every bad value, tag, character or file gives a located PlanError, never a crash or hang.

Each case writes a small plan with one hostile change and asserts the exact outcome: a ``PlanError``
whose message names ``plan.yaml:<line>`` and the field path, or (for values at the edge of a documented
range) the exact value loaded. The ranges are those of ``smarketing._limits``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.hostile.conftest import assert_names

from smarketing.errors import FormulaError, PlanError
from smarketing.money import Money
from smarketing.plan import MAX_PLAN_BYTES, load_plan
from smarketing.plan._yaml import FastPlanLoader, PlanLoader, load_yaml

BASE = """\
name: Hostile Base FY2027
description: A small plan with every kind of number a plan can hold.
currency: EUR
teams:
  - {id: marketing, name: Marketing, function: marketing}
  - {id: sales, name: Sales, function: sales}
people:
  - {id: ana, name: Ana, team: sales, role: ae}
  - {id: bo, name: Bo, team: sales, role: sdr, manager: ana}
  - {id: cy, name: Cy, team: marketing, role: marketer}
personas:
  - id: ops
    name: Ops Director
    firmographics:
      company_size: {min: 200, max: 5000}
    interest_signals:
      - {id: webinar, description: Attended, on: touchpoint, where: {channel: webinar}, points: 10}
    scoring:
      fit:
        - {field: company_size, op: gte, value: 500, points: 20}
      engagement_half_life_days: 30
      grades:
        - {grade: A, min_fit: 40}
      mql_threshold: 60
journey:
  stages:
    - {id: lead, name: Lead, owner: marketing, kind: lead}
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: sal, name: SAL, owner: sales, kind: sal}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: lead, to: mql}
    - {from: mql, to: sal, kind: handoff}
    - {from: sal, to: won}
    - {from: sal, to: lead, kind: recycle, max_recycles: 2}
sla:
  calendar:
    timezone: Europe/Berlin
    closed_dates: ["2026-12-24"]
  marketing:
    volume: {stage: mql, count: 450, period: month}
    quality: {accepted_stage: sal, min_acceptance_rate: "70%"}
  sales:
    first_response: {within_hours: 4, activities: [call]}
    attempts: {minimum: 6, within_business_days: 10}
  tiers:
    - {id: hot, grades: [A], first_response_hours: 1, min_attempts: 8}
  escalation:
    - {after_hours: 2, notify: [owner], action: Work the lead now.}
kpis:
  - id: mql_volume
    name: MQL volume
    owners: [marketing]
    formula: mqls
    unit: count
    direction: higher_is_better
    target: 450
    period: month
targets:
  revenue: 600000 EUR
  average_deal_size: 24000 EUR
  conversion_rates: {mql: "75%"}
rewards:
  id: shared
  name: Shared reward
  valid_from: "2026-10-01"
  currency: EUR
  pool: {rate: "8%", basis: net, fixed: 10 EUR}
  participants:
    - {person: ana, quota: 150000 EUR}
    - {person: bo}
    - {team: marketing}
  team_split: {sales: "70%", marketing: "30%"}
  tiers:
    - {from_attainment: 0, to_attainment: 1, multiplier: 1}
    - {from_attainment: 1, multiplier: 1.5}
  cap_per_deal: 5000 EUR
  cap_per_period: 40000 EUR
  clawback: {window_days: 90, mode: pro_rata}
glossary:
  terms:
    - {term: MQL, definition: "A lead that reached the threshold.", owner: marketing}
cadence:
  - {id: weekly, name: Weekly sync, kind: sync, frequency: weekly, teams: [marketing, sales],
     duration_minutes: 30}
arbiter:
  person: cy
  response_days: 5
"""


def line_of(snippet: str) -> int:
    """The line of ``snippet`` in the base plan (it must be there once)."""
    assert BASE.count(snippet) == 1, snippet
    return BASE[: BASE.index(snippet)].count("\n") + 1


def variant(tmp_path: Path, old: str, new: str, *, name: str = "plan.yaml") -> Path:
    assert BASE.count(old) == 1, old
    path = tmp_path / name
    path.write_text(BASE.replace(old, new), encoding="utf-8")
    return path


def refused(path: Path | str) -> PlanError:
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert type(info.value) in (PlanError, FormulaError)
    return info.value


def test_base_plan_loads(tmp_path: Path) -> None:
    plan = load_plan(variant(tmp_path, "name: Hostile", "name: Hostile"))
    assert plan.rewards is not None
    assert plan.rewards.pool.rate == Decimal("0.08")


# --------------------------------------------------------------------------------------------------
# Numbers: every numeric field refuses every unreadable, unbounded or non-ASCII number, at its place.

#: (id, text in the base plan, the same with {v} for the value, field path)
NUMBER_FIELDS = [
    ("kpi-target", "target: 450\n", "target: {v}\n", "kpis[0].target"),
    ("within-hours", "within_hours: 4,", "within_hours: {v},", "sla.sales.first_response.within_hours"),
    ("volume-count", "count: 450,", "count: {v},", "sla.marketing.volume.count"),
    ("pool-rate", 'rate: "8%"', "rate: {v}", "rewards.pool.rate"),
    ("window-days", "window_days: 90", "window_days: {v}", "rewards.clawback.window_days"),
    ("multiplier", "multiplier: 1.5}", "multiplier: {v}}}", "rewards.tiers[1].multiplier"),
    ("after-hours", "after_hours: 2,", "after_hours: {v},", "sla.escalation[0].after_hours"),
    (
        "tier-hours",
        "first_response_hours: 1,",
        "first_response_hours: {v},",
        "sla.tiers[0].first_response_hours",
    ),
    ("min-attempts", "min_attempts: 8}", "min_attempts: {v}}}", "sla.tiers[0].min_attempts"),
    ("duration", "duration_minutes: 30}", "duration_minutes: {v}}}", "cadence[0].duration_minutes"),
    ("response-days", "response_days: 5", "response_days: {v}", "arbiter.response_days"),
    ("mql-threshold", "mql_threshold: 60", "mql_threshold: {v}", "personas[0].scoring.mql_threshold"),
    (
        "half-life",
        "engagement_half_life_days: 30",
        "engagement_half_life_days: {v}",
        "personas[0].scoring.engagement_half_life_days",
    ),
    (
        "signal-points",
        "where: {channel: webinar}, points: 10}",
        "where: {{channel: webinar}}, points: {v}}}",
        "personas[0].interest_signals[0].points",
    ),
    ("max-recycles", "max_recycles: 2}", "max_recycles: {v}}}", "journey.transitions[3].max_recycles"),
    ("attempts", "minimum: 6,", "minimum: {v},", "sla.sales.attempts.minimum"),
    (
        "acceptance",
        'min_acceptance_rate: "70%"',
        "min_acceptance_rate: {v}",
        "sla.marketing.quality.min_acceptance_rate",
    ),
    (
        "conversion",
        'conversion_rates: {mql: "75%"}',
        "conversion_rates: {{mql: {v}}}",
        "targets.conversion_rates.mql",
    ),
    ("team-split", 'team_split: {sales: "70%"', "team_split: {{sales: {v}", "rewards.team_split.sales"),
]

#: Values no number field may hold: (id, YAML text).
HOSTILE_NUMBERS = [
    ("int-tag-word", "!!int abc"),
    ("int-tag-binary", "!!int 0b101"),
    ("float-tag-nan", "!!float .nan"),
    ("float-tag-inf", "!!float .inf"),
    ("float-tag-minus-inf", "!!float -.inf"),
    ("exponent-beyond-decimal", "1e9999999999999999999"),
    ("5000-digit-int", "9" * 5000),
    ("billion-digit-exponent", "1e999999999"),
    ("billion-places", "1e-999999999"),
    ("arabic-indic", '"\u0667"'),
    ("full-width", '"\uff10.\uff15"'),
    ("underscore", '"1_0"'),
    ("binary-tag", "!!binary MTA="),
    ("boolean", "true"),
    ("text-nan", '"NaN"'),
    ("long-text", '"' + "1" * 65 + '"'),
]


@pytest.mark.parametrize(("value_id", "value"), HOSTILE_NUMBERS, ids=[v[0] for v in HOSTILE_NUMBERS])
@pytest.mark.parametrize(
    ("field_id", "old", "template", "path"), NUMBER_FIELDS, ids=[f[0] for f in NUMBER_FIELDS]
)
def test_hostile_number_is_refused_at_its_place(  # noqa: PLR0917
    tmp_path: Path, field_id: str, old: str, template: str, path: str, value_id: str, value: str
) -> None:
    err = refused(variant(tmp_path, old, template.format(v=value)))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", path)
    assert len(str(err)) < 600, "a hostile value is named, not printed"


# --------------------------------------------------------------------------------------------------
# Ranges: one past each documented bound is refused; the bound itself loads exactly.

#: (id, old, new, path, words the message must hold)
OUT_OF_RANGE = [
    (
        "hours-over-ten-years",
        "within_hours: 4,",
        "within_hours: 87601,",
        "sla.sales.first_response.within_hours",
        "87600",
    ),
    (
        "hours-1e12",
        "within_hours: 4,",
        "within_hours: 1e12,",
        "sla.sales.first_response.within_hours",
        "87600",
    ),
    (
        "hours-zero",
        "within_hours: 4,",
        "within_hours: 0,",
        "sla.sales.first_response.within_hours",
        "greater than 0",
    ),
    (
        "hours-negative",
        "after_hours: 2,",
        "after_hours: -2,",
        "sla.escalation[0].after_hours",
        "greater than 0",
    ),
    (
        "hours-19-places",
        "after_hours: 2,",
        "after_hours: 0.0000000000000000001,",
        "sla.escalation[0].after_hours",
        "19 decimal places",
    ),
    ("count-over-billion", "count: 450,", "count: 1000000001,", "sla.marketing.volume.count", "1000000000"),
    (
        "count-1e40",
        "count: 450,",
        "count: 10000000000000000000000000000000000000000,",
        "sla.marketing.volume.count",
        "1000000000",
    ),
    ("count-zero", "count: 450,", "count: 0,", "sla.marketing.volume.count", "greater than or equal to 1"),
    ("count-fraction", "count: 450,", "count: 4.5,", "sla.marketing.volume.count", "whole number"),
    (
        "count-hex-huge",
        "count: 450,",
        "count: 0xffffffffffffffffffff,",
        "sla.marketing.volume.count",
        "1000000000",
    ),
    ("attempts-over", "minimum: 6,", "minimum: 1000000001,", "sla.sales.attempts.minimum", "1000000000"),
    (
        "business-days-over",
        "within_business_days: 10",
        "within_business_days: 3651",
        "sla.sales.attempts.within_business_days",
        "3650",
    ),
    ("window-days-over", "window_days: 90", "window_days: 3651", "rewards.clawback.window_days", "3650"),
    ("window-days-negative", "window_days: 90", "window_days: -1", "rewards.clawback.window_days", "0"),
    ("response-days-zero", "response_days: 5", "response_days: 0", "arbiter.response_days", "1"),
    (
        "half-life-over",
        "engagement_half_life_days: 30",
        "engagement_half_life_days: 3650.5",
        "personas[0].scoring.engagement_half_life_days",
        "3650",
    ),
    (
        "points-over",
        "points: 10}",
        "points: 1000000001}",
        "personas[0].interest_signals[0].points",
        "1000000000",
    ),
    (
        "points-under",
        "points: 10}",
        "points: -1000000001}",
        "personas[0].interest_signals[0].points",
        "-1000000000",
    ),
    (
        "company-size-over",
        "{min: 200, max: 5000}",
        "{min: 200, max: 1000000001}",
        "personas[0].firmographics.company_size.max",
        "1000000000",
    ),
    ("rate-over-one", 'rate: "8%"', "rate: 1.5", "rewards.pool.rate", "less than or equal to 1"),
    ("rate-over-100-percent", 'rate: "8%"', 'rate: "101%"', "rewards.pool.rate", "less than or equal to 1"),
    ("rate-negative", 'rate: "8%"', 'rate: "-1%"', "rewards.pool.rate", "greater than or equal to 0"),
    ("rate-1e40", 'rate: "8%"', "rate: 1e40", "rewards.pool.rate", "digits before the decimal point"),
    ("rate-19-places", 'rate: "8%"', "rate: 0.0800000000000000001", "rewards.pool.rate", "19 decimal places"),
    (
        "split-29-places",
        'team_split: {sales: "70%", marketing: "30%"}',
        "team_split: {sales: 0.7, marketing: 0.29999999999999999999999999999}",
        "rewards.team_split.marketing",
        "29 decimal places",
    ),
    ("target-16-digits", "target: 450\n", "target: 1000000000000000\n", "kpis[0].target", "16 digits"),
    ("multiplier-1e40", "multiplier: 1.5}", "multiplier: 1e40}", "rewards.tiers[1].multiplier", "41 digits"),
    ("date-year-9999", 'valid_from: "2026-10-01"', 'valid_from: "9999-12-31"', "rewards.valid_from", "2199"),
    ("date-year-2200", 'valid_from: "2026-10-01"', 'valid_from: "2200-01-01"', "rewards.valid_from", "2199"),
    ("date-year-1899", 'valid_from: "2026-10-01"', 'valid_from: "1899-12-31"', "rewards.valid_from", "1900"),
    (
        "date-month-13",
        'valid_from: "2026-10-01"',
        'valid_from: "2026-13-01"',
        "rewards.valid_from",
        "not a date",
    ),
    (
        "date-epoch-int",
        'valid_from: "2026-10-01"',
        "valid_from: 1790000000",
        "rewards.valid_from",
        "YYYY-MM-DD",
    ),
    (
        "date-with-time",
        'valid_from: "2026-10-01"',
        'valid_from: "2026-10-01T00:00:00Z"',
        "rewards.valid_from",
        "YYYY-MM-DD",
    ),
    (
        "date-arabic-digits",
        'valid_from: "2026-10-01"',
        'valid_from: "\u0662\u0660\u0662\u0666-\u0661\u0660-\u0660\u0661"',
        "rewards.valid_from",
        "YYYY-MM-DD",
    ),
    (
        "date-timestamp-tag",
        'valid_from: "2026-10-01"',
        "valid_from: !!timestamp 2026-10-01",
        "rewards.valid_from",
        "!!timestamp",
    ),
    (
        "closed-date-9999",
        'closed_dates: ["2026-12-24"]',
        'closed_dates: ["9999-12-24"]',
        "sla.calendar.closed_dates[0]",
        "2199",
    ),
    ("quota-zero", "quota: 150000 EUR}", "quota: 0 EUR}", "rewards.participants[0].quota", "more than 0"),
    (
        "quota-negative",
        "quota: 150000 EUR}",
        "quota: -1 EUR}",
        "rewards.participants[0].quota",
        "more than 0",
    ),
    ("quota-1e40-text", "quota: 150000 EUR}", "quota: 1e40 EUR}", "rewards.participants[0].quota", "money"),
    (
        "quota-16-digits",
        "quota: 150000 EUR}",
        "quota: 1000000000000000 EUR}",
        "rewards.participants[0].quota",
        "16 digits",
    ),
    (
        "quota-object-1e40",
        "quota: 150000 EUR}",
        "quota: {amount: 1e40, currency: EUR}}",
        "rewards.participants[0].quota",
        "41 digits",
    ),
    (
        "quota-object-huge-exponent",
        "quota: 150000 EUR}",
        "quota: {amount: 1e9999999999999999999, currency: EUR}}",
        "rewards.participants[0].quota",
        "out of range",
    ),
    (
        "quota-object-5000-digits",
        "quota: 150000 EUR}",
        "quota: {amount: " + "9" * 5000 + ", currency: EUR}}",
        "rewards.participants[0].quota",
        "64 characters",
    ),
    (
        "cap-1e40",
        "cap_per_deal: 5000 EUR",
        "cap_per_deal: {amount: 1e40, currency: EUR}",
        "rewards.cap_per_deal",
        "41 digits",
    ),
    (
        "cap-billion-digits",
        "cap_per_deal: 5000 EUR",
        "cap_per_deal: {amount: 1e999999999, currency: EUR}",
        "rewards.cap_per_deal",
        "digits",
    ),
    (
        "cap-16-digits",
        "cap_per_deal: 5000 EUR",
        "cap_per_deal: 1000000000000000 EUR",
        "rewards.cap_per_deal",
        "16 digits",
    ),
    (
        "cap-long-text",
        "cap_per_deal: 5000 EUR",
        "cap_per_deal: " + "1" * 100 + " EUR",
        "rewards.cap_per_deal",
        "characters",
    ),
    ("fixed-sub-cent", "fixed: 10 EUR}", "fixed: 0.005 EUR}", "rewards.pool.fixed", "minor unit"),
    ("fixed-gold", "fixed: 10 EUR}", "fixed: 10 XAU}", "rewards.pool.fixed", "no minor unit"),
    (
        "period-cap-test-currency",
        "cap_per_period: 40000 EUR",
        "cap_per_period: 40000 XTS",
        "rewards.cap_per_period",
        "no minor unit",
    ),
    ("revenue-zero", "revenue: 600000 EUR", "revenue: 0 EUR", "targets.revenue", "more than 0"),
    (
        "deal-size-zero",
        "average_deal_size: 24000 EUR",
        "average_deal_size: 0 EUR",
        "targets.average_deal_size",
        "more than 0",
    ),
]


@pytest.mark.parametrize(
    ("case_id", "old", "new", "path", "words"), OUT_OF_RANGE, ids=[c[0] for c in OUT_OF_RANGE]
)
def test_out_of_range_is_refused(  # noqa: PLR0917
    tmp_path: Path, case_id: str, old: str, new: str, path: str, words: str
) -> None:
    err = refused(variant(tmp_path, old, new))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", path, words)


def _rewards(plan: Any) -> Any:
    assert plan.rewards is not None
    return plan.rewards


#: (id, old, new, how to read the value back, the exact value expected)
AT_THE_BOUND = [
    (
        "hours-ten-years",
        "within_hours: 4,",
        "within_hours: 87600,",
        lambda p: p.sla.sales.first_response.within_hours,
        Decimal(87600),
    ),
    ("count-billion", "count: 450,", "count: 1000000000,", lambda p: p.sla.marketing.volume.count, 10**9),
    (
        "days-ten-years",
        "window_days: 90",
        "window_days: 3650",
        lambda p: _rewards(p).clawback.window_days,
        3650,
    ),
    ("rate-100-percent", 'rate: "8%"', 'rate: "100%"', lambda p: _rewards(p).pool.rate, Decimal(1)),
    ("rate-0-percent", 'rate: "8%"', 'rate: "0%"', lambda p: _rewards(p).pool.rate, Decimal(0)),
    (
        "rate-18-places",
        'rate: "8%"',
        "rate: 0.080000000000000001",
        lambda p: _rewards(p).pool.rate,
        Decimal("0.080000000000000001"),
    ),
    (
        "rate-trailing-zeros",
        'rate: "8%"',
        "rate: 0.08000000000000000000000000",
        lambda p: _rewards(p).pool.rate,
        Decimal("0.08"),
    ),
    (
        "rate-percent-with-space",
        'rate: "8%"',
        'rate: "8 %"',
        lambda p: _rewards(p).pool.rate,
        Decimal("0.08"),
    ),
    (
        "target-15-digits",
        "target: 450\n",
        "target: 999999999999999\n",
        lambda p: p.kpis[0].target,
        Decimal("999999999999999"),
    ),
    (
        "cap-15-digits-and-cents",
        "cap_per_deal: 5000 EUR",
        "cap_per_deal: 999999999999999.99 EUR",
        lambda p: _rewards(p).cap_per_deal,
        Money("999999999999999.99", "EUR"),
    ),
    (
        "date-first-year",
        'valid_from: "2026-10-01"',
        'valid_from: "1900-01-01"',
        lambda p: str(_rewards(p).valid_from),
        "1900-01-01",
    ),
    (
        "date-last-year",
        'valid_from: "2026-10-01"',
        'valid_from: "2199-12-31"',
        lambda p: str(_rewards(p).valid_from),
        "2199-12-31",
    ),
    (
        "split-exact-18-places",
        'team_split: {sales: "70%", marketing: "30%"}',
        "team_split: {sales: 0.700000000000000001, marketing: 0.299999999999999999}",
        lambda p: sum(_rewards(p).team_split.values()),
        Decimal(1),
    ),
    (
        "points-negative-bound",
        "points: 10}",
        "points: -1000000000}",
        lambda p: p.personas[0].interest_signals[0].points,
        -(10**9),
    ),
    ("octal-count", "count: 450,", "count: 0o702,", lambda p: p.sla.marketing.volume.count, 450),
    ("leading-zero-is-decimal", "count: 450,", "count: 0450,", lambda p: p.sla.marketing.volume.count, 450),
]


@pytest.mark.parametrize(
    ("case_id", "old", "new", "read", "expected"), AT_THE_BOUND, ids=[c[0] for c in AT_THE_BOUND]
)
def test_value_at_the_bound_loads_exactly(  # noqa: PLR0917
    tmp_path: Path, case_id: str, old: str, new: str, read: Any, expected: Any
) -> None:
    value = read(load_plan(variant(tmp_path, old, new)))
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("split", "total"),
    [
        ("{sales: 0.7, marketing: 0.299999999999999999}", "99.999999999999999900%"),
        ("{sales: 0.700000000000000001, marketing: 0.3}", "100.000000000000000100%"),
        ('{sales: "69.9999999999999999%", marketing: "30%"}', "99.999999999999999900%"),
    ],
    ids=["short-by-1e-18", "over-by-1e-18", "percent-short"],
)
def test_share_sums_are_exact(tmp_path: Path, split: str, total: str) -> None:
    # Every share has at most 18 decimal places, so its sum is exact: 1e-18 off is not 100%. (The reward
    # plan also reports the share with more than its 6 places, which rewards can pay exactly.)
    plan = load_plan(
        variant(tmp_path, 'team_split: {sales: "70%", marketing: "30%"}', f"team_split: {split}")
    )
    problems = _rewards(plan).problems()
    assert ("team_split", f"shares total {total}, not 100%") in problems
    assert all(path.startswith("team_split") for path, _ in problems)


# --------------------------------------------------------------------------------------------------
# Text: control characters never reach a name, an id, a description or a key.

TEXT_FIELDS = [
    ("plan-name", "name: Hostile Base FY2027", 'name: "Hostile{c}Base"', "name"),
    (
        "description",
        "description: A small plan with every kind of number a plan can hold.",
        'description: "A small{c} plan"',
        "description",
    ),
    ("team-name", "name: Marketing,", 'name: "Mark{c}eting",', "teams[0].name"),
    (
        "glossary",
        'definition: "A lead that reached the threshold."',
        'definition: "A lead{c}"',
        "glossary.terms[0].definition",
    ),
    ("escalation-action", "action: Work the lead now.", 'action: "Work{c} now"', "sla.escalation[0].action"),
    (
        "signal-where-value",
        "where: {channel: webinar}",
        'where: {{channel: "web{c}inar"}}',
        "personas[0].interest_signals[0].where.channel",
    ),
]

CONTROLS = [
    ("nul", "\\0"),
    ("bell", "\\a"),
    ("backspace", "\\b"),
    ("vertical-tab", "\\v"),
    ("form-feed", "\\f"),
    ("carriage-return", "\\r"),
    ("escape", "\\e"),
    ("escape-csi", "\\x1b[2J"),
    ("delete", "\\x7f"),
    ("next-line-c1", "\\N"),
    ("csi-c1", "\\x9b"),
    ("right-to-left-override", "\\u202e"),
    ("first-strong-isolate", "\\u2068"),
]


@pytest.mark.parametrize(("control_id", "control"), CONTROLS, ids=[c[0] for c in CONTROLS])
@pytest.mark.parametrize(
    ("field_id", "old", "template", "path"), TEXT_FIELDS, ids=[f[0] for f in TEXT_FIELDS]
)
def test_control_character_is_refused(  # noqa: PLR0917
    tmp_path: Path, field_id: str, old: str, template: str, path: str, control_id: str, control: str
) -> None:
    new = template.format(c=control)
    err = refused(variant(tmp_path, old, new))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", path, "control character")


@pytest.mark.parametrize("control", ["\\x1b", "\\0", "\\u202e"], ids=["escape", "nul", "rtl-override"])
def test_control_character_in_a_key_is_refused(tmp_path: Path, control: str) -> None:
    old = "where: {channel: webinar}"
    err = refused(variant(tmp_path, old, f'where: {{"chan{control}nel": webinar}}'))
    assert_names(
        str(err), f"plan.yaml:{line_of(old)}", "personas[0].interest_signals[0].where", "control character"
    )


def test_raw_control_byte_is_refused_by_the_reader(tmp_path: Path) -> None:
    path = variant(tmp_path, "name: Hostile Base FY2027", "name: Hostile\x1bBase")
    err = refused(path)
    assert_names(str(err), "plan.yaml:1", "not allowed")


@pytest.mark.parametrize(
    "text",
    ['"tab\\there"', '"two\\nlines"', "|\n    two\n    lines"],
    ids=["tab", "newline", "literal-block"],
)
def test_tab_and_newline_are_allowed_in_descriptions(tmp_path: Path, text: str) -> None:
    old = "description: A small plan with every kind of number a plan can hold."
    plan = load_plan(variant(tmp_path, old, f"description: {text}"))
    assert "\t" in plan.description or "\n" in plan.description


# --------------------------------------------------------------------------------------------------
# YAML: only plain data; no tags that decode, construct or merge; no aliases, duplicates or bombs.

TAGS = [
    ("binary", "!!binary aGVsbG8="),
    ("timestamp", "!!timestamp 2026-01-01"),
    ("set", "!!set {a, b}"),
    ("omap", "!!omap [a: 1]"),
    ("pairs", "!!pairs [a: 1]"),
    ("python-object", "!!python/object:os.system {}"),
    ("python-name", "!!python/name:os.system ''"),
    ("python-apply", "!!python/object/apply:os.system [echo hi]"),
    ("local-tag", "!shout hello"),
    ("verbatim-tag", "!<tag:example.com,2026:x> hello"),
    ("value-tag", "!!value x"),
    ("yaml-tag", "!!yaml x"),
]


@pytest.mark.parametrize(("tag_id", "value"), TAGS, ids=[t[0] for t in TAGS])
def test_non_standard_tag_is_refused(tmp_path: Path, tag_id: str, value: str) -> None:
    old = "description: A small plan with every kind of number a plan can hold."
    err = refused(variant(tmp_path, old, f"description: {value}"))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", "description", "not allowed")


@pytest.mark.parametrize(
    ("tag", "value"),
    [("!!str", "plain text"), ("!!str", "123"), ("!", "bang")],
    ids=["str", "str-digits", "non-specific"],
)
def test_standard_tags_load(tmp_path: Path, tag: str, value: str) -> None:
    old = "description: A small plan with every kind of number a plan can hold."
    plan = load_plan(variant(tmp_path, old, f"description: {tag} {value}"))
    assert plan.description == value


@pytest.mark.parametrize(
    ("value", "words"),
    [("!!bool yes", "not a boolean"), ("!!null nothing", "not null"), ("!!int 1.5", "not a whole number")],
    ids=["yaml-1.1-bool", "null-with-text", "int-with-point"],
)
def test_standard_tag_with_the_wrong_text_is_refused(tmp_path: Path, value: str, words: str) -> None:
    old = "description: A small plan with every kind of number a plan can hold."
    err = refused(variant(tmp_path, old, f"description: {value}"))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", "description", words)


def test_explicit_merge_key_is_refused_not_merged(tmp_path: Path) -> None:
    old = "  person: cy\n"
    err = refused(variant(tmp_path, old, "  person: cy\n  !!merge <<: {scope: merged}\n"))
    assert_names(str(err), "arbiter", "!!merge", "not allowed")


def test_plain_merge_key_is_only_an_unknown_key(tmp_path: Path) -> None:
    err = refused(variant(tmp_path, "  person: cy\n", "  person: cy\n  <<: {scope: merged}\n"))
    assert_names(str(err), f"plan.yaml:{line_of('  person: cy') + 1}", "unknown key '<<'")


def test_alias_is_refused(tmp_path: Path) -> None:
    err = refused(variant(tmp_path, "  person: cy\n", "  person: &who cy\n  scope: *who\n"))
    assert_names(str(err), f"plan.yaml:{line_of('  person: cy') + 1}", "aliases")


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(8):
        prev, cur = chr(ord("a") + i), chr(ord("a") + i + 1)
        bomb += f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]\n"
    path = tmp_path / "plan.yaml"
    path.write_text(bomb)
    started = time.process_time()
    err = refused(path)
    assert time.process_time() - started < 2
    assert_names(str(err), "plan.yaml:2", "aliases")


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    err = refused(variant(tmp_path, "  person: cy\n", "  person: cy\n  person: ana\n"))
    assert_names(str(err), f"plan.yaml:{line_of('  person: cy') + 1}", "duplicate key 'person'")


@pytest.mark.parametrize("depth", [999, 5000, 200_000], ids=["999", "5000", "200k"])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("name: x\ndescription: " + "[" * depth + "]" * depth + "\n")
    err = refused(path)
    assert_names(str(err), "plan.yaml")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 1),
        ("# only a comment\n", 1),
        ("- a\n- b\n", 1),
        ("just text\n", 1),
        ("a: 1\n---\nb: 2\n", 2),
        ("name: [unclosed\n", 2),
        ("\ufeffname: x\nname: y\n", 2),
    ],
    ids=["empty", "comment", "list", "scalar", "two-documents", "unclosed", "bom-then-duplicate"],
)
def test_malformed_document_is_refused_with_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(path)
    assert err.line == line
    assert_names(str(err), "plan.yaml")


def test_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    assert_names(str(refused(path)), "plan.yaml:2", "not UTF-8")


# --------------------------------------------------------------------------------------------------
# JSON plans get the same bounds.


def _json_plan(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "name": "x",\n  "description": ' + target + ',\n  "teams": []\n}\n')
    return path


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("9" * 5000, "64 characters"),
        ("1e9999999999999999999", "out of range"),
        ("NaN", "NaN"),
        ("-Infinity", "Infinity"),
        ('"a\\u001bb"', "control character"),
        ('"a\\u0000b"', "control character"),
        ('"a\\u202eb"', "control character"),
    ],
    ids=["5000-digits", "huge-exponent", "nan", "minus-infinity", "escape", "nul", "rtl-override"],
)
def test_json_hostile_value_is_refused_at_its_line(tmp_path: Path, value: str, words: str) -> None:
    err = refused(_json_plan(tmp_path, value))
    assert_names(str(err), "plan.json:3", words)


def test_json_duplicate_key_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "name": "x",\n  "name": "y"\n}\n')
    assert_names(str(refused(path)), "plan.json:3", "duplicate key")


def test_json_number_out_of_range_names_its_field(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    data = yaml.load(BASE, Loader=PlanLoader)
    data["sla"]["marketing"]["volume"]["count"] = 10**40
    path.write_text(json.dumps(data, indent=2, default=str))
    err = refused(path)
    assert_names(str(err), "plan.json:", "sla.marketing.volume.count", "1000000000")


# --------------------------------------------------------------------------------------------------
# Files: say what the path is; never block on a FIFO or read forever from a device.


def test_directory_is_named_as_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "plans.yaml"
    folder.mkdir()
    for source in (folder, str(folder)):
        err = refused(source)
        assert_names(str(err), str(folder), "is a directory")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_device_is_not_a_regular_file(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    err = refused(Path(device))
    assert_names(str(err), device, "is not a regular file")


def test_link_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "plan.yaml"
    link.symlink_to("/dev/zero")
    assert_names(str(refused(link)), str(link), "is not a regular file")


def test_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.append(refused(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=3)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(fifo, "wb"):
            pass
        pytest.fail("load_plan blocked on a FIFO")
    assert_names(str(outcome[0]), str(fifo), "is not a regular file")


@pytest.mark.parametrize("name", ["missing.yaml", "missing/plan.yaml", "plan.yaml/inside.yaml"])
def test_missing_file_is_named(tmp_path: Path, name: str) -> None:
    (tmp_path / "plan.yaml").write_text("name: x\n")
    err = refused(tmp_path / name)
    assert_names(str(err), name, "no such plan file")


def test_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_PLAN_BYTES + 1)  # sparse: nothing is written, nothing should be read
    err = refused(path)
    assert_names(str(err), "plan.yaml", f"{MAX_PLAN_BYTES + 1:,} bytes", f"{MAX_PLAN_BYTES:,}")


def test_text_over_the_limit_is_refused() -> None:
    err = refused("name: x\ndescription: " + "y" * MAX_PLAN_BYTES + "\n")
    assert_names(str(err), f"{MAX_PLAN_BYTES:,} bytes")


def test_a_plan_at_the_size_limit_loads_quickly(tmp_path: Path) -> None:
    row = "  - {{id: t{i}, name: Team {i}, function: other}}\n"
    rows, size, i = [], len(BASE.encode()), 0
    while size + len(row.format(i=i)) <= MAX_PLAN_BYTES:
        rows.append(row.format(i=i))
        size += len(rows[-1])
        i += 1
    path = variant(tmp_path, "teams:\n", "teams:\n" + "".join(rows))
    assert MAX_PLAN_BYTES - 100 < path.stat().st_size <= MAX_PLAN_BYTES
    started = time.process_time()
    plan = load_plan(path)
    # About a second on a quiet machine; the bound leaves room for a busy CI runner.
    assert time.process_time() - started < 5
    assert len(plan.teams) == i + 2


# --------------------------------------------------------------------------------------------------
# People: the manager-cycle check is linear.


def _chain(n: int, *, cycle: bool) -> str:
    rows = [f"  - {{id: p{i}, name: P, team: sales, role: r, manager: p{i + 1}}}\n" for i in range(n - 1)]
    rows.append(f"  - {{id: p{n - 1}, name: P, team: sales, role: r{', manager: p0' if cycle else ''}}}\n")
    return "".join(rows)


@pytest.mark.parametrize("n", [2000, 3000, 10000])
def test_long_manager_chain_loads_at_once(tmp_path: Path, n: int) -> None:
    path = variant(tmp_path, "people:\n", "people:\n" + _chain(n, cycle=False))
    started = time.process_time()
    plan = load_plan(path)
    assert time.process_time() - started < 3
    assert len(plan.people) == n + 3


@pytest.mark.parametrize("n", [2, 3000])
def test_long_manager_cycle_is_named_once_and_short(tmp_path: Path, n: int) -> None:
    path = variant(tmp_path, "people:\n", "people:\n" + _chain(n, cycle=True))
    err = refused(path)
    cycles = [i for i in err.issues if "cycle" in i.message]
    assert len(cycles) == 1
    assert_names(str(err), "plan.yaml:8", "people[0].manager", "managers form a cycle: p0 -> p1")
    assert len(cycles[0].message) < 200


# --------------------------------------------------------------------------------------------------
# The libyaml fast path reads exactly what the Python loader reads.

EXAMPLES = (
    sorted(str(p) for p in Path("examples").glob("*.yaml"))
    + sorted(str(p) for p in Path("tests/plan/plans").rglob("*.yaml"))[:20]
)


@pytest.mark.skipif(FastPlanLoader is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("file", EXAMPLES, ids=[Path(f).name for f in EXAMPLES])
def test_fast_path_reads_what_the_python_loader_reads(file: str) -> None:
    text = Path(file).read_text(encoding="utf-8-sig")
    try:
        slow = load_yaml(PlanLoader, text, file)
    except PlanError:
        slow = None  # a broken plan: the fast path must fail too, and load_plan re-reads it slowly
    if slow is None:
        with pytest.raises((yaml.YAMLError, PlanError)):
            load_yaml(FastPlanLoader, text, file)
        return
    fast = load_yaml(FastPlanLoader, text, file)
    assert fast == slow


def test_plan_given_as_data_is_checked_too() -> None:
    data = yaml.load(BASE, Loader=PlanLoader)
    data["name"] = "bad\x1bname"
    data["sla"]["sales"]["first_response"]["within_hours"] = float("inf")
    err = refused(data)
    assert_names(str(err), "name", "control character")
    assert any(i.path == "sla.sales.first_response.within_hours" for i in err.issues) or len(err.issues) == 1


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (float("nan"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (10**5000, "64 characters"),
        (True, "boolean"),
        (Decimal("1e999999999"), "digits"),
    ],
    ids=["float-nan", "decimal-nan", "decimal-snan", "5000-digit-int", "bool", "decimal-huge"],
)
def test_mapping_source_number_is_checked(value: Any, words: str) -> None:
    data = yaml.load(BASE, Loader=PlanLoader)
    data["sla"]["sales"]["first_response"]["within_hours"] = value
    err = refused(data)
    assert_names(str(err), "sla.sales.first_response.within_hours", words)


@pytest.mark.parametrize("code", ["XAU", "XTS", "XXX", "XDR"])
@pytest.mark.parametrize(
    ("old", "template", "path"),
    [
        ("currency: EUR\nteams:", "currency: {c}\nteams:", "currency"),
        ("  currency: EUR\n  pool:", "  currency: {c}\n  pool:", "rewards.currency"),
    ],
    ids=["plan-currency", "reward-currency"],
)
def test_currency_without_minor_unit_is_refused(
    tmp_path: Path, old: str, template: str, path: str, code: str
) -> None:
    err = refused(variant(tmp_path, old, template.format(c=code)))
    assert any(i.path == path and "no minor unit" in i.message for i in err.issues), err.issues
    assert_names(str(err), "plan.yaml:")


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero", "hostile-number", "control-character"])
def test_validate_command_exits_2_with_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    from smarketing.cli import main

    if kind == "directory":
        path, words = tmp_path / "plan.yaml", "is a directory"
        path.mkdir()
    elif kind == "fifo":
        path, words = tmp_path / "plan.yaml", "is not a regular file"
        os.mkfifo(path)
    elif kind == "dev-zero":
        path, words = Path("/dev/zero"), "is not a regular file"
    elif kind == "hostile-number":
        path = variant(tmp_path, "target: 450\n", "target: 1e9999999999999999999\n")
        words = f"plan.yaml:{line_of('target: 450')}: kpis[0].target"
    else:
        path = variant(tmp_path, "name: Hostile Base FY2027", 'name: "Hostile\\e[2JBase"')
        words = "plan.yaml:1: name: control character"
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert_names(captured.err + captured.out, words)
    assert "Traceback" not in captured.err
    assert "\x1b" not in captured.err + captured.out


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("name: Hostile Base FY2027", 'name: "Hostile\\nBase"', "name"),
        ("name: Hostile Base FY2027", 'name: "Hostile\\tBase"', "name"),
        ("name: Marketing,", 'name: "Mark\\neting",', "teams[0].name"),
        ("name: Weekly sync,", 'name: "Weekly\\nsync",', "cadence[0].name"),
    ],
    ids=["plan-name-newline", "plan-name-tab", "team-name-newline", "meeting-name-newline"],
)
def test_names_are_one_line(tmp_path: Path, old: str, new: str, path: str) -> None:
    err = refused(variant(tmp_path, old, new))
    assert_names(str(err), f"plan.yaml:{line_of(old)}", path, "control character")


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\x00", "U+0000"),
        ("\x1b", "U+001B"),
        ("\x7f", "U+007F"),
        ("\x9b", "U+009B"),
        ("\ufffe", "U+FFFE"),
        ("\ud800", "U+D800"),
    ],
    ids=["nul", "escape", "delete", "csi", "non-character", "lone-surrogate"],
)
def test_raw_character_in_plan_text_is_refused_with_its_line(char: str, shown: str) -> None:
    old = "name: Marketing,"
    err = refused(BASE.replace(old, f"name: Mark{char}eting,"))
    assert_names(str(err), f"line {line_of(old)}", shown, "not allowed")


@pytest.mark.parametrize(
    "source",
    [{"name": "a\ud800b"}, '{"name": "a\\ud800b"}', '{"name": "a\\udfffb"}'],
    ids=["mapping", "json-escape-high", "json-escape-low"],
)
def test_lone_surrogate_is_refused(source: Any) -> None:
    assert_names(str(refused(source)), "name", "lone surrogate")


@pytest.mark.parametrize("source", [b"name: x", None, 123, ["name"]], ids=["bytes", "none", "int", "list"])
def test_source_of_the_wrong_type_is_a_clear_type_error(source: Any) -> None:
    with pytest.raises(TypeError, match="load_plan\\(\\) takes a path, YAML or JSON text, or a mapping"):
        load_plan(source)


@pytest.mark.parametrize("text", ["", "   ", "\n\n"], ids=["empty", "spaces", "newlines"])
def test_empty_text_is_an_empty_plan_not_the_current_directory(text: str) -> None:
    assert_names(str(refused(text)), "the plan is empty")
