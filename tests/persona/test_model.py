"""The scoring definitions: decay, caps, bands, the MQL rule, and the plan checks that name the place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

import smarketing as sm
from smarketing.errors import PlanError
from smarketing.persona import Decay, MQLRule, Persona, Scoring

from .helpers import plan_text


def issues(*personas: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as info:
        sm.load_plan(plan_text(*personas))
    return [(i.path, i.message) for i in info.value.issues]


def test_the_example_plan_and_its_legacy_scoring_still_load(example_plan: sm.AlignmentPlan) -> None:
    scoring = example_plan.personas[0].scoring
    assert scoring.effective_decay == Decay(kind="half_life", half_life_days=Decimal(30))
    assert "legacy" in Scoring(mql_threshold=60).mql_rule


def test_decay_kinds_take_their_own_fields() -> None:
    assert Decay(kind="step", percent=Decimal(25), every_days=Decimal(30)).percent == 25
    for bad in (
        {"kind": "half_life"},
        {"kind": "half_life", "half_life_days": 30, "percent": 10},
        {"kind": "step", "percent": 10},
        {"kind": "step", "every_days": 30, "percent": 0},
        {"kind": "step", "every_days": 30, "percent": 101},
        {"kind": "step", "every_days": 0, "percent": 10},
    ):
        with pytest.raises(ValidationError):
            Decay.model_validate(bad)


def test_decay_and_its_shorthand_together_is_a_plan_error_with_the_path() -> None:
    persona = {
        "id": "p",
        "scoring": {"engagement_half_life_days": 30, "decay": {"kind": "half_life", "half_life_days": 10}},
    }
    [(path, message)] = issues(persona)
    assert path == "personas[0].scoring"
    assert "not both" in message


def test_mql_and_the_legacy_threshold_together_is_a_plan_error() -> None:
    persona = {"id": "p", "scoring": {"mql_threshold": 50, "mql": {"min_fit": 10, "min_engagement": 10}}}
    [(path, message)] = issues(persona)
    assert path == "personas[0].scoring"
    assert "mql_threshold" in message


def test_signal_groups_default_by_side_and_caps_must_name_one() -> None:
    persona = {
        "id": "p",
        "interest_signals": [
            {"id": "w", "on": "touchpoint"},
            {"id": "g", "on": "touchpoint", "group": "content"},
        ],
        "readiness_signals": [{"id": "d", "on": "touchpoint"}],
        "scoring": {"caps": {"interest": 10, "content": 5, "readiness": 30, "redines": 1}},
    }
    assert [(s.id, g) for _, s, g in Persona.model_validate({"name": "P", **persona}).signals()] == [
        ("w", "interest"),
        ("g", "content"),
        ("d", "readiness"),
    ]
    assert issues(persona) == [
        (
            "personas[0].scoring.caps.redines",
            "no signal is in group 'redines'; groups: content, interest, readiness",
        )
    ]


def test_where_keys_must_be_columns_of_the_record_kind() -> None:
    persona = {
        "id": "p",
        "interest_signals": [
            {"id": "a", "on": "touchpoint", "where": {"channel": "webinar", "outcome": "x"}},
            {"id": "b", "on": "activity", "where": {"outcome": "held", "type": "call"}},
            {"id": "c", "on": "stage", "where": {"from": "mql", "to": "sal", "time": "x"}},
        ],
    }
    found = issues(persona)
    assert [path for path, _ in found] == [
        "personas[0].interest_signals[0].where.outcome",
        "personas[0].interest_signals[2].where.time",
    ]
    assert (
        found[0][1]
        == "'outcome' is not a touchpoint column; known: campaign, channel, id, lead_id, owner, team"
    )


@pytest.mark.parametrize(
    ("rule", "where", "message"),
    [
        ({"field": "industri", "op": "eq", "value": "x"}, "field", "unknown lead attribute 'industri'"),
        ({"field": "industry", "op": "in", "value": "x"}, "value", "in needs a list"),
        ({"field": "industry", "op": "eq", "value": ["x"]}, "value", "eq needs one value"),
        ({"field": "company_size", "op": "between", "value": [10]}, "value", "between needs [low, high]"),
        ({"field": "company_size", "op": "gte", "value": "big"}, "value", "company_size is a number"),
        ({"field": "company_size", "op": "contains", "value": "1"}, "op", "contains compares text"),
        ({"field": "region", "op": "gte", "value": 3}, "op", "gte compares numbers; region is text"),
        ({"field": "persona", "op": "eq", "value": "x"}, "field", "unknown lead attribute 'persona'"),
    ],
)
def test_fit_rules_must_be_computable(rule: dict[str, Any], where: str, message: str) -> None:
    [(path, text)] = issues({"id": "p", "scoring": {"fit": [{**rule, "points": 5}]}})
    assert path == f"personas[0].scoring.fit[0].{where}"
    assert text.startswith(message)


def test_mql_rule_in_words() -> None:
    rule = MQLRule(min_fit=40, min_engagement=20, min_total=70, engagement_alone=90)
    assert (
        rule.describe()
        == "fit >= 40 and engagement >= 20 and fit + engagement >= 70, or engagement >= 90 alone"
    )
    assert Scoring().mql_rule == "none (no lead is an MQL)"


def test_the_json_schema_describes_the_new_keys() -> None:
    schema = sm.plan_json_schema()
    scoring = schema["$defs"]["Scoring"]["properties"]
    assert {"decay", "caps", "engagement_bands", "mql", "mql_threshold"} <= set(scoring)
    assert "group" in schema["$defs"]["Signal"]["properties"]
