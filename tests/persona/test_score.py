"""Lead scoring: hand-computed fit, decay, caps, grades and MQL cases; factors; laws against the reference."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing.errors import DataError
from smarketing.persona import LeadScores, score

from .helpers import day, plan_with

ANYONE = {"firmographics": {}}  # no criteria: every lead matches


def persona(**scoring: Any) -> dict[str, Any]:
    """A persona every lead matches, with a webinar (interest) and a demo (readiness) signal."""
    return {
        "id": "p",
        "interest_signals": [
            {"id": "webinar", "on": "touchpoint", "where": {"channel": "webinar"}, "points": 10}
        ],
        "readiness_signals": [{"id": "demo", "on": "touchpoint", "where": {"channel": "demo"}, "points": 30}],
        "scoring": scoring,
    }


def touch(tid: str, when: float, channel: str = "webinar", lead_id: str = "L1") -> sm.Touchpoint:
    return sm.Touchpoint(id=tid, lead_id=lead_id, time=day(when), channel=channel, team="marketing")


def run(
    plan_persona: dict[str, Any], *, at: float, leads: list[sm.Lead] | None = None, **kinds: Any
) -> LeadScores:
    leads = leads if leads is not None else [sm.Lead(id="L1", created_at=day(0))]
    return score(plan_with(plan_persona), {"leads": leads, **kinds}, as_of=day(at))


def one(scores: LeadScores, column: str, lead_id: str = "L1") -> Any:
    return scores.frame.filter(pl.col("lead_id") == lead_id).get_column(column).item()


def test_the_frame_has_exactly_the_documented_columns() -> None:
    s = run(persona(), at=1)
    assert s.frame.schema == pl.Schema(
        {
            "lead_id": pl.String(),
            "persona": pl.String(),
            "fit": pl.Float64(),
            "engagement": pl.Float64(),
            "fit_grade": pl.String(),
            "band": pl.String(),
            "grade": pl.String(),
            "mql": pl.Boolean(),
        }
    )


# --------------------------------------------------------------------------------------------------
# Decay.


def test_half_life_halves_after_the_half_life() -> None:
    p = persona(decay={"kind": "half_life", "half_life_days": 30})
    s = run(p, at=60, touchpoints=[touch("T1", 30), touch("T2", 0), touch("T3", 60)])
    # 10 * (1/2 + 1/4 + 1)
    assert one(s, "engagement") == 17.5


def test_the_legacy_half_life_shorthand_is_the_same_decay() -> None:
    a = run(persona(engagement_half_life_days=30), at=45, touchpoints=[touch("T1", 0)])
    b = run(persona(decay={"kind": "half_life", "half_life_days": 30}), at=45, touchpoints=[touch("T1", 0)])
    assert one(a, "engagement") == one(b, "engagement") == pytest.approx(10 * 2**-1.5, abs=1e-9)


@pytest.mark.parametrize(
    ("age_days", "weight"),
    [
        (0, 1.0),
        (6.99, 1.0),  # before the first boundary: no step yet
        (7, 0.75),  # exactly at the boundary: the step has happened
        (13.5, 0.75),
        (14, 0.5625),
        (21, 0.421875),
    ],
)
def test_step_decay_steps_at_each_period_boundary(age_days: float, weight: float) -> None:
    p = persona(decay={"kind": "step", "percent": 25, "every_days": 7})
    s = run(p, at=30, touchpoints=[touch("T1", 30 - age_days)])
    assert one(s, "engagement") == pytest.approx(10 * weight, abs=1e-9)
    [factor] = s.explain("L1").factors.filter(pl.col("kind") == "engagement").rows(named=True)
    assert factor["weight"] == pytest.approx(weight)


def test_no_decay_keeps_every_point_and_later_events_are_left_out_and_counted() -> None:
    s = run(persona(), at=10, touchpoints=[touch("T1", 0), touch("T2", 10), touch("T3", 10.5)])
    assert one(s, "engagement") == 20.0
    assert s.counts["events_after_as_of"] == 1


# --------------------------------------------------------------------------------------------------
# Signals, groups and caps.


def test_caps_cut_each_group_after_decay() -> None:
    p = persona(caps={"interest": 25})
    webinars = [touch(f"T{i}", i) for i in range(4)]  # 40 interest points, cut to 25
    s = run(p, at=10, touchpoints=[*webinars, touch("D1", 5, "demo")])
    assert one(s, "engagement") == 25 + 30
    capped = s.explain("L1").factors.filter(pl.col("kind") == "engagement")
    assert capped.select("rule", "capped").unique().sort("rule").rows() == [
        ("demo", False),
        ("webinar", True),
    ]


def test_a_cap_on_decayed_points() -> None:
    p = persona(caps={"interest": 8}, decay={"kind": "half_life", "half_life_days": 10})
    s = run(p, at=10, touchpoints=[touch("T1", 0)])  # 10 * 1/2 = 5, under the cap
    assert one(s, "engagement") == 5.0


def test_groups_named_by_signals_share_one_cap() -> None:
    p = {
        "id": "p",
        "interest_signals": [
            {
                "id": "webinar",
                "on": "touchpoint",
                "where": {"channel": "webinar"},
                "points": 10,
                "group": "events",
            },
            {
                "id": "booth",
                "on": "touchpoint",
                "where": {"channel": "booth"},
                "points": 10,
                "group": "events",
            },
            {"id": "guide", "on": "touchpoint", "where": {"channel": ["content", "guide"]}, "points": 5},
        ],
        "scoring": {"caps": {"events": 15}},
    }
    s = run(p, at=5, touchpoints=[touch("T1", 0), touch("T2", 1, "booth"), touch("T3", 2, "guide")])
    assert one(s, "engagement") == 15 + 5


def test_signals_read_activities_and_stage_events_and_an_event_counts_for_each_signal() -> None:
    p = {
        "id": "p",
        "interest_signals": [
            {"id": "any-touch", "on": "touchpoint", "points": 1},
            {"id": "webinar", "on": "touchpoint", "where": {"channel": "webinar"}, "points": 10},
        ],
        "readiness_signals": [
            {"id": "case", "on": "activity", "where": {"outcome": "business_case_requested"}, "points": 40},
            {"id": "sal", "on": "stage", "where": {"from": "mql", "to": "sal"}, "points": 7},
        ],
    }
    activities = [
        sm.Activity(
            id="A1", lead_id="L1", person="x", time=day(1), type="call", outcome="business_case_requested"
        ),
        sm.Activity(id="A2", lead_id="L1", person="x", time=day(1), type="call", outcome="held"),
    ]
    stages = [
        sm.StageEvent.model_validate({"lead_id": "L1", "from": "mql", "to": "sal", "time": day(2)}),
        sm.StageEvent.model_validate({"lead_id": "L1", "to": "sal", "time": day(3)}),
    ]
    s = run(p, at=5, touchpoints=[touch("T1", 0)], activities=activities, stage_events=stages)
    assert one(s, "engagement") == 1 + 10 + 40 + 7
    factors = s.explain("L1").factors.filter(pl.col("kind") == "engagement")
    assert factors.select("rule", "on", "record_id").rows() == [
        ("any-touch", "touchpoint", "T1"),
        ("webinar", "touchpoint", "T1"),
        ("case", "activity", "A1"),
        ("sal", "stage", None),
    ]


def test_events_of_leads_without_a_persona_or_unknown_leads_add_nothing() -> None:
    p = {**persona(), "firmographics": {"industries": ["logistics"]}}
    leads = [sm.Lead(id="L1", created_at=day(0), industry="logistics"), sm.Lead(id="L2", created_at=day(0))]
    events = [touch("T1", 1), touch("T2", 1, lead_id="L2"), touch("T3", 1, lead_id="L9")]
    s = run(p, at=5, leads=leads, touchpoints=events)
    assert s.frame.select("lead_id", "persona", "fit", "engagement", "grade", "mql").rows() == [
        ("L1", "p", 0.0, 10.0, None, False),
        ("L2", None, 0.0, 0.0, None, False),
    ]
    assert s.counts["no_persona"] == 1
    assert s.explain("L2").factors.height == 0


# --------------------------------------------------------------------------------------------------
# Fit.


@pytest.mark.parametrize(
    ("rule", "lead", "holds"),
    [
        ({"field": "industry", "op": "eq", "value": "logistics"}, {"industry": "logistics"}, True),
        ({"field": "industry", "op": "ne", "value": "logistics"}, {"industry": "retail"}, True),
        ({"field": "industry", "op": "ne", "value": "logistics"}, {}, False),  # missing never holds
        ({"field": "region", "op": "in", "value": ["dach", "nordics"]}, {"region": "dach"}, True),
        ({"field": "region", "op": "not_in", "value": ["dach"]}, {"region": "dach"}, False),
        ({"field": "region", "op": "not_in", "value": ["dach"]}, {}, False),
        ({"field": "company_size", "op": "gte", "value": 500}, {"company_size": 500}, True),
        ({"field": "company_size", "op": "lte", "value": 500}, {"company_size": 501}, False),
        ({"field": "company_size", "op": "between", "value": [200, 500]}, {"company_size": 200}, True),
        ({"field": "company_size", "op": "between", "value": [200, 500]}, {"company_size": 501}, False),
        ({"field": "company_size", "op": "in", "value": [10, 20]}, {"company_size": 20}, True),
        ({"field": "company_size", "op": "eq", "value": 20}, {"company_size": 20}, True),
        ({"field": "title", "op": "contains", "value": "CHAIN"}, {"title": "VP Supply Chain"}, True),
        ({"field": "title", "op": "contains", "value": "ops"}, {"title": "VP Supply Chain"}, False),
        ({"field": "grade", "op": "eq", "value": 1}, {"grade": "1"}, True),  # numbers read as text here
    ],
)
def test_fit_rule_ops(rule: dict[str, Any], lead: dict[str, Any], holds: bool) -> None:
    p = persona(fit=[{**rule, "points": 7}, {"field": "industry", "op": "eq", "value": "zzz", "points": 100}])
    s = run(p, at=1, leads=[sm.Lead(id="L1", created_at=day(0), **lead)])
    assert one(s, "fit") == (7.0 if holds else 0.0)
    assert s.explain("L1").factors.filter(pl.col("kind") == "fit").get_column("holds").to_list() == [
        holds,
        False,
    ]


def test_fit_reads_the_account_when_the_lead_has_no_value_and_can_be_negative() -> None:
    p = persona(
        fit=[
            {"field": "company_size", "op": "gte", "value": 500, "points": 20},
            {"field": "country", "op": "eq", "value": "DE", "points": -5},
        ]
    )
    leads = [sm.Lead(id="L1", created_at=day(0), account_id="A1", country="DE")]
    accounts = [sm.Account(id="A1", company_size=900, country="AT")]
    s = run(p, at=1, leads=leads, accounts=accounts)
    assert one(s, "fit") == 15.0


# --------------------------------------------------------------------------------------------------
# Grades and the MQL rule.

GRADES = [{"grade": "A", "min_fit": 40}, {"grade": "B", "min_fit": 20}]
BANDS = [{"band": "1", "min_engagement": 30}, {"band": "2", "min_engagement": 10}]
FIT_40 = [{"field": "industry", "op": "eq", "value": "logistics", "points": 40}]


@pytest.mark.parametrize(
    ("industry", "webinars", "fit_grade", "band", "grade"),
    [
        ("logistics", 3, "A", "1", "A1"),
        ("logistics", 1, "A", "2", "A2"),
        ("logistics", 0, "A", None, None),  # no band reached: no matrix cell
        (None, 3, None, "1", None),  # below every grade
    ],
)
def test_matrix_grades(industry: str | None, webinars: int, fit_grade: str, band: str, grade: str) -> None:
    p = persona(fit=FIT_40, grades=GRADES, engagement_bands=BANDS)
    leads = [sm.Lead(id="L1", created_at=day(0), industry=industry)]
    s = run(p, at=5, leads=leads, touchpoints=[touch(f"T{i}", 1) for i in range(webinars)])
    assert (one(s, "fit_grade"), one(s, "band"), one(s, "grade")) == (fit_grade, band, grade)


def test_without_bands_the_grade_is_the_fit_grade_and_the_highest_minimum_reached_wins() -> None:
    unordered = [{"grade": "B", "min_fit": 20}, {"grade": "A", "min_fit": 40}, {"grade": "C", "min_fit": 0}]
    p = persona(fit=FIT_40, grades=unordered)
    leads = [sm.Lead(id="L1", created_at=day(0), industry="logistics"), sm.Lead(id="L2", created_at=day(0))]
    s = run(p, at=1, leads=leads)
    assert s.frame.select("lead_id", "fit_grade", "band", "grade").rows() == [
        ("L1", "A", None, "A"),
        ("L2", "C", None, "C"),
    ]


@pytest.mark.parametrize(
    ("mql", "industry", "webinars", "expected"),
    [
        ({"min_fit": 40, "min_engagement": 20}, "logistics", 2, True),
        ({"min_fit": 40, "min_engagement": 20}, "logistics", 1, False),
        ({"min_fit": 40, "min_engagement": 20}, None, 9, False),  # engagement alone never makes an MQL
        ({"min_fit": 40, "min_engagement": 20, "engagement_alone": 90}, None, 9, True),
        ({"min_fit": 40, "min_engagement": 20, "engagement_alone": 90}, None, 8, False),
        ({"min_fit": 40, "min_engagement": 20, "min_total": 70}, "logistics", 2, False),
        ({"min_fit": 40, "min_engagement": 20, "min_total": 70}, "logistics", 3, True),
    ],
)
def test_the_joint_mql_rule(mql: dict[str, int], industry: str | None, webinars: int, expected: bool) -> None:
    p = persona(fit=FIT_40, mql=mql)
    leads = [sm.Lead(id="L1", created_at=day(0), industry=industry)]
    s = run(p, at=5, leads=leads, touchpoints=[touch(f"T{i}", 1) for i in range(webinars)])
    assert one(s, "mql") is expected
    assert s.notes == ()


def test_the_legacy_threshold_is_a_total_rule_engagement_alone_can_reach_and_says_so() -> None:
    p = persona(fit=FIT_40, mql_threshold=60)
    leads = [sm.Lead(id="L1", created_at=day(0), industry="logistics"), sm.Lead(id="L2", created_at=day(0))]
    events = [touch("T1", 1), touch("T2", 1), *(touch(f"U{i}", 1, lead_id="L2") for i in range(6))]
    s = run(p, at=5, leads=leads, touchpoints=events)
    assert s.frame.select("lead_id", "mql").rows() == [("L1", True), ("L2", True)]  # L2: fit 0, engagement 60
    assert "engagement alone can make an MQL" in s.notes[0]
    assert s.by_persona.select("persona", "leads", "mql").rows() == [("p", 2, 2), (None, 0, 0)]


def test_no_rule_no_mql() -> None:
    s = run(persona(), at=5, touchpoints=[touch("T1", 1)])
    assert one(s, "mql") is False
    assert "no MQL rule" in s.notes[0]


# --------------------------------------------------------------------------------------------------
# The result.


def test_explain_factors_and_reprs() -> None:
    p = persona(
        fit=FIT_40,
        mql={"min_fit": 40, "min_engagement": 10},
        decay={"kind": "half_life", "half_life_days": 1},
    )
    leads = [sm.Lead(id="L1", created_at=day(0), industry="logistics"), sm.Lead(id="L2", created_at=day(0))]
    s = run(p, at=2, leads=leads, touchpoints=[touch("T1", 1), touch("D1", 2, "demo")])
    e = s.explain("L1")
    assert e.factors.select("kind", "rule", "record_id", "raw_points", "weight", "points").rows() == [
        ("fit", "fit[0]", None, 40, None, 40.0),
        ("engagement", "webinar", "T1", 10, 0.5, 5.0),
        ("engagement", "demo", "D1", 30, 1.0, 30.0),
    ]
    assert e.factors.get_column("time").to_list() == [None, day(1), day(2)]
    assert repr(e).startswith(
        "L1 (p): fit 40, engagement 35, grade -, an MQL by fit >= 40 and engagement >= 10"
    )
    assert "<table>" in e._repr_html_()
    assert json.dumps(e.to_dict())
    assert s.factors().height == 4
    assert s.factors(["L2"]).select("lead_id", "rule", "holds", "points").rows() == [
        ("L2", "fit[0]", False, 0.0)
    ]
    assert "2 lead(s) scored" in repr(s)
    assert "<table>" in s._repr_html_()
    assert json.loads(json.dumps(s.to_dict()))["leads"][0]["engagement"] == 35.0
    with pytest.raises(KeyError, match="L9"):
        s.explain("L9")


def test_as_of_must_be_aware_and_later_leads_are_left_out() -> None:
    leads = [sm.Lead(id="L1", created_at=day(0)), sm.Lead(id="L2", created_at=day(3))]
    s = run(persona(), at=1, leads=leads)
    assert s.frame.get_column("lead_id").to_list() == ["L1"]
    assert s.counts["leads_after_as_of"] == 1
    with pytest.raises(DataError, match="timezone-aware"):
        score(plan_with(persona()), {}, as_of=day(1).replace(tzinfo=None))


def test_a_naive_event_time_is_refused() -> None:
    frame = pl.DataFrame(
        {
            "id": ["T1"],
            "lead_id": ["L1"],
            "time": [day(1).replace(tzinfo=None)],
            "channel": ["x"],
            "team": ["m"],
        }
    )
    with pytest.raises(DataError, match="time"):
        score(plan_with(persona()), {"touchpoints": frame}, as_of=day(1))


def test_the_example_plan_scores_the_example_personas(example_plan: sm.AlignmentPlan) -> None:
    t = day(0)
    leads = [
        sm.Lead(
            id="L1",
            created_at=t,
            industry="logistics",
            company_size=800,
            region="dach",
            title="VP Logistics",
            seniority="vp",
        ),
    ]
    s = score(
        example_plan,
        {"leads": leads, "touchpoints": [touch("T1", 1, "demo_request")]},
        as_of=t + timedelta(days=1),
    )
    assert one(s, "persona") == "ops-director"
    assert one(s, "fit") > 0
