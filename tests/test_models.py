"""Validators and helpers of the plan parts: journey, persona, glossary, KPI, rewards, SLA, calendar."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import networkx as nx
import pytest
from pydantic import ValidationError

from smarketing.calendar import BusinessCalendar, HolidaySource
from smarketing.glossary import Glossary, Term
from smarketing.journey import JourneyMap, Stage, Transition
from smarketing.kpi import KPI
from smarketing.persona import IntRange, Persona, Signal
from smarketing.rewards import Participant, Pool, RewardPlan, RewardSplit
from smarketing.sla import SLA, DispositionCommitment, FirstResponseCommitment, SLATier


def stage(id: str, owner: str = "marketing", kind: str = "lead", **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": id.upper(), "owner": owner, "kind": kind, **extra}


def edge(source: str, to: str, kind: str = "progression", **extra: Any) -> dict[str, Any]:
    return {"from": source, "to": to, "kind": kind, **extra}


@pytest.fixture
def journey() -> JourneyMap:
    return JourneyMap.model_validate(
        {
            "stages": [
                stage("lead"),
                stage("mql", kind="mql"),
                stage("sql", owner="sales", kind="sql"),
                stage("won", owner="sales", kind="customer", terminal="won"),
                stage("lost", owner="sales", kind="other", terminal="lost"),
                stage("island", owner="sales", kind="other"),
            ],
            "transitions": [
                edge("lead", "mql"),
                edge("mql", "sql", "handoff"),
                edge("sql", "won"),
                edge("sql", "lost", "disqualify"),
                edge("sql", "lead", "recycle", max_recycles=2),
            ],
        }
    )


def error_text(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return "\n".join(str(e["msg"]) for e in exc.value.errors())


# --------------------------------------------------------------------------------------------------
# Journey.


def test_graph_carries_stage_and_transition_fields(journey: JourneyMap) -> None:
    g = journey.graph
    assert list(g.nodes) == ["lead", "mql", "sql", "won", "lost", "island"]
    assert g.nodes["sql"]["owner"] == "sales"
    assert g.nodes["won"]["terminal"] == "won"
    assert g.nodes["mql"]["kind"] == "mql"
    assert g.edges["mql", "sql"]["kind"] == "handoff"
    assert g.edges["sql", "lead"]["max_recycles"] == 2
    assert g.edges["lead", "mql"]["max_recycles"] is None


def test_graph_is_frozen_and_cached(journey: JourneyMap) -> None:
    g = journey.graph
    assert nx.is_frozen(g)
    with pytest.raises(nx.NetworkXError, match="Frozen graph"):
        g.add_node("extra")
    with pytest.raises(nx.NetworkXError, match="Frozen graph"):
        g.remove_edge("lead", "mql")
    assert journey.graph is g
    thawed = nx.DiGraph(g)
    thawed.add_node("extra")
    assert "extra" not in journey.graph


def test_graph_follows_model_copy(journey: JourneyMap) -> None:
    assert journey.graph.number_of_edges() == 5
    shorter = journey.model_copy(update={"transitions": journey.transitions[:1]})
    assert shorter.graph.number_of_edges() == 1


def test_graph_does_not_affect_equality(journey: JourneyMap) -> None:
    other = JourneyMap.model_validate(journey.model_dump(by_alias=True))
    journey.graph  # noqa: B018 - fill the cache on one side only
    assert journey == other


def test_handoffs_entry_and_terminal_stages(journey: JourneyMap) -> None:
    assert [(t.source, t.to) for t in journey.handoffs()] == [("mql", "sql")]
    # The recycle into "lead" does not make "lead" an entered stage.
    assert [s.id for s in journey.entry_stages()] == ["lead", "island"]
    assert [s.id for s in journey.terminal_stages()] == ["won", "lost"]
    assert [s.id for s in journey.stages_owned_by("marketing")] == ["lead", "mql"]


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("lead", "won", True),
        ("sql", "mql", True),  # through the recycle
        ("won", "lead", False),
        ("lead", "island", False),
        ("island", "island", True),
    ],
)
def test_path_exists(journey: JourneyMap, source: str, target: str, expected: bool) -> None:
    assert journey.path_exists(source, target) is expected


def test_unknown_stage_is_a_key_error_naming_known_ids(journey: JourneyMap) -> None:
    with pytest.raises(KeyError, match=r"unknown stage 'wno'; known: lead, mql, sql, won, lost, island"):
        journey.stage("wno")
    with pytest.raises(KeyError, match="unknown stage 'nowhere'"):
        journey.path_exists("lead", "nowhere")
    assert journey.stage("won").terminal == "won"


@pytest.mark.parametrize(
    ("stages", "transitions", "message"),
    [
        ([stage("a"), stage("a")], [], "duplicate stage id 'a'"),
        ([stage("a")], [edge("a", "b")], "transitions[0].to: unknown stage 'b'"),
        ([stage("a")], [edge("z", "a")], "transitions[0].from: unknown stage 'z'"),
        (
            [stage("a"), stage("b")],
            [edge("a", "b"), edge("a", "b", "handoff")],
            "duplicate transition 'a' -> 'b'",
        ),
        ([], [], "at least 1 item"),
    ],
)
def test_journey_consistency(stages: list[Any], transitions: list[Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        JourneyMap.model_validate({"stages": stages, "transitions": transitions})
    assert message in error_text(info)


def test_stage_and_transition_validation() -> None:
    assert Stage.model_validate(stage("a")).terminal is None
    with pytest.raises(ValidationError, match="terminal"):
        Stage.model_validate(stage("a", terminal="maybe"))
    with pytest.raises(ValidationError, match="pattern"):
        Stage.model_validate(stage("new lead"))


def test_transition_alias_and_default_kind() -> None:
    by_alias = Transition.model_validate({"from": "a", "to": "b"})
    by_name = Transition(source="a", to="b")
    assert by_alias == by_name
    assert by_alias.kind == "progression"
    assert by_alias.model_dump(by_alias=True)["from"] == "a"


@pytest.mark.parametrize("kind", ["progression", "handoff", "disqualify"])
def test_max_recycles_only_on_recycle(kind: str) -> None:
    with pytest.raises(ValidationError, match="only meaningful on a recycle transition"):
        Transition.model_validate(edge("a", "b", kind, max_recycles=2))
    assert Transition.model_validate(edge("a", "b", kind)).max_recycles is None


def test_max_recycles_on_recycle() -> None:
    assert Transition.model_validate(edge("b", "a", "recycle", max_recycles=3)).max_recycles == 3
    assert Transition.model_validate(edge("b", "a", "recycle")).max_recycles is None
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Transition.model_validate(edge("b", "a", "recycle", max_recycles=0))


# --------------------------------------------------------------------------------------------------
# Persona.


@pytest.mark.parametrize(
    ("low", "high", "inside", "outside"),
    [
        (50, 500, [50, 200, 500], [49, 501]),
        (None, 10, [0, 10], [11]),
        (10, None, [10, 10**9], [9]),
        (None, None, [0, 7], []),
        (3, 3, [3], [2, 4]),
    ],
)
def test_int_range(low: int | None, high: int | None, inside: list[int], outside: list[int]) -> None:
    r = IntRange(min=low, max=high)
    assert all(r.contains(v) for v in inside)
    assert not any(r.contains(v) for v in outside)


def test_int_range_rejects_reversed_and_negative() -> None:
    with pytest.raises(ValidationError, match=r"min \(500\) is greater than max \(50\)"):
        IntRange(min=500, max=50)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        IntRange(min=-1)


def _signal(id: str) -> dict[str, Any]:
    return {"id": id, "on": "touchpoint", "where": {"channel": id}}


@pytest.mark.parametrize(
    ("interest", "readiness", "both"),
    [
        ([_signal("webinar")], [_signal("demo")], True),
        ([_signal("webinar")], [], False),
        ([], [_signal("demo")], False),
        ([], [], False),
    ],
)
def test_has_both_sides(interest: list[Any], readiness: list[Any], both: bool) -> None:
    p = Persona.model_validate(
        {"id": "ops", "name": "Ops", "interest_signals": interest, "readiness_signals": readiness}
    )
    assert p.has_both_sides is both


def test_signal_where_takes_text_or_lists() -> None:
    s = Signal.model_validate({"id": "s", "on": "activity", "where": {"outcome": ["replied", "booked"]}})
    assert s.where == {"outcome": ["replied", "booked"]}
    assert s.points == 0


def test_persona_defaults_are_not_shared() -> None:
    a = Persona(id="a", name="A")
    b = Persona(id="b", name="B")
    assert a.firmographics == b.firmographics
    assert a.pains is not b.pains


# --------------------------------------------------------------------------------------------------
# Glossary.


@pytest.fixture
def glossary() -> Glossary:
    return Glossary.model_validate(
        {
            "terms": [
                {
                    "term": "SQL",
                    "definition": "Qualified by sales.",
                    "synonyms": ["hot lead", "Qualified Opp"],
                },
                {"term": "Customer", "definition": "Has a won deal.", "synonyms": ["client"]},
            ]
        }
    )


@pytest.mark.parametrize(
    ("word", "preferred"),
    [
        ("hot lead", "SQL"),
        ("HOT LEAD", "SQL"),
        ("qualified opp", "SQL"),
        ("Client", "Customer"),
        ("lead", None),
    ],
)
def test_preferred(glossary: Glossary, word: str, preferred: str | None) -> None:
    assert glossary.preferred(word) == preferred


@pytest.mark.parametrize(
    ("word", "known"), [("sql", True), ("SQL", True), ("customer", True), ("client", False)]
)
def test_has_term(glossary: Glossary, word: str, known: bool) -> None:
    assert glossary.has_term(word) is known


@pytest.mark.parametrize("second", ["SQL", "sql", "Sql"])
def test_duplicate_terms_rejected_ignoring_case(second: str) -> None:
    with pytest.raises(ValidationError, match=f"term '{second}' is defined twice"):
        Glossary(terms=[Term(term="SQL", definition="a"), Term(term=second, definition="b")])


def test_empty_glossary() -> None:
    assert not Glossary().has_term("SQL")
    assert Glossary().preferred("SQL") is None


# --------------------------------------------------------------------------------------------------
# KPI.


def kpi(**changes: Any) -> KPI:
    base: dict[str, Any] = {
        "id": "k",
        "name": "K",
        "owners": ["marketing", "sales"],
        "formula": "sqls / mqls",
        "unit": "ratio",
        "direction": "higher_is_better",
    }
    return KPI.model_validate({**base, **changes})


def test_money_kpi_needs_a_currency() -> None:
    with pytest.raises(ValidationError, match="a KPI in money needs a currency"):
        kpi(unit="money")
    assert kpi(unit="money", currency="EUR").currency == "EUR"


@pytest.mark.parametrize("unit", ["count", "ratio", "days", "hours"])
def test_currency_only_for_money(unit: str) -> None:
    with pytest.raises(ValidationError, match=f"currency is only meaningful for money KPIs, not '{unit}'"):
        kpi(unit=unit, currency="EUR")


@pytest.mark.parametrize(
    ("code", "message"),
    [("eur", "did you mean 'EUR'"), ("XXY", "'XXY' is not an ISO 4217 currency code")],
)
def test_kpi_currency_must_be_iso(code: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        kpi(unit="money", currency=code)


@pytest.mark.parametrize(
    ("owners", "joint"),
    [(["marketing", "sales"], True), (["sales"], False), (["sales", "sales"], False)],
)
def test_is_joint(owners: list[str], joint: bool) -> None:
    assert kpi(owners=owners).is_joint is joint


def test_kpi_needs_an_owner() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        kpi(owners=[])


# --------------------------------------------------------------------------------------------------
# Numbers: rates, percentages and floats for Decimal fields.


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("70%", Decimal("0.70")),
        (" 70 % ", Decimal("0.70")),
        ("12.5%", Decimal("0.125")),
        ("0%", Decimal(0)),
        ("100%", Decimal(1)),
        ("0.35", Decimal("0.35")),
        (0.35, Decimal("0.35")),
        (1, Decimal(1)),
        (Decimal("0.1"), Decimal("0.1")),
    ],
)
def test_rate_parsing(given: Any, expected: Decimal) -> None:
    rate = Pool(rate=given).rate
    assert isinstance(rate, Decimal)
    assert rate == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("130%", "less than or equal to 1"),
        (1.3, "less than or equal to 1"),
        ("-5%", "greater than or equal to 0"),
        ("seventy", "is not a number"),
        ("70 percent", "is not a number"),
        (True, "not a boolean"),
        ("NaN", "finite number"),
    ],
)
def test_rate_rejections(given: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Pool(rate=given)


@pytest.mark.parametrize("value", [0.1, 0.35, 1.1, 123.456, 1e-7])
def test_floats_become_the_decimal_that_was_written(value: float) -> None:
    # Decimal(0.1) would be 0.1000000000000000055511151231257827...; the model keeps what was typed.
    assert kpi(target=value).target == Decimal(repr(value))
    assert FirstResponseCommitment(within_hours=value).within_hours == Decimal(repr(value))


def test_positive_decimal_rejects_zero() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        FirstResponseCommitment(within_hours=0)


def test_kpi_target_rejects_infinity() -> None:
    with pytest.raises(ValidationError, match="finite number"):
        kpi(target="Infinity")


# --------------------------------------------------------------------------------------------------
# Rewards.


@pytest.mark.parametrize(
    "participant",
    [{}, {"person": "ana", "team": "sales"}, {"quota": "1000 EUR"}],
)
def test_participant_is_a_person_xor_a_team(participant: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="either a person or a team: give exactly one"):
        Participant.model_validate(participant)


@pytest.mark.parametrize("participant", [{"person": "ana"}, {"team": "sales"}])
def test_participant_ok(participant: dict[str, Any]) -> None:
    p = Participant.model_validate(participant)
    assert p.weight == 1


def test_reward_plan_percent_splits() -> None:
    plan = RewardPlan.model_validate(
        {
            "id": "fy27",
            "currency": "EUR",
            "pool": {"rate": "10%", "fixed": "50 EUR"},
            "team_split": {"sales": "70%", "marketing": "30%"},
            "participants": [{"team": "sales"}, {"team": "marketing"}],
            "splits": [{"kind": "overlay", "shares": {"tom": "5%"}}],
            "valid_from": "2026-10-01",
        }
    )
    assert plan.team_split == {"sales": Decimal("0.70"), "marketing": Decimal("0.30")}
    assert sum(plan.team_split.values()) == 1
    assert plan.splits[0].shares["tom"] == Decimal("0.05")
    assert plan.valid_from == date(2026, 10, 1)
    assert str(plan.pool.fixed) == "50 EUR"


def test_reward_plan_needs_a_participant_and_a_known_currency() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        RewardPlan.model_validate({"id": "r", "currency": "EUR", "pool": {}, "participants": []})
    with pytest.raises(ValidationError, match="did you mean 'EUR'"):
        RewardPlan.model_validate({"id": "r", "currency": "eur", "pool": {}, "participants": [{"team": "s"}]})


def test_reward_split_share_is_a_rate() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        RewardSplit.model_validate({"kind": "revenue", "shares": {"ana": "150%"}})


# --------------------------------------------------------------------------------------------------
# SLA.


def test_tier_needs_a_selector() -> None:
    with pytest.raises(ValidationError, match="a tier selects leads by grades or personas"):
        SLATier(id="hot", first_response_hours=1)
    assert SLATier.model_validate({"id": "hot", "grades": ["A"]}).grades == ["A"]
    assert SLATier.model_validate({"id": "cfo", "personas": ["finance-lead"]}).personas == ["finance-lead"]


def test_unable_to_reach_reason_must_be_listed() -> None:
    with pytest.raises(
        ValidationError, match="unable_to_reach_reason 'no_contact' is not one of the reasons"
    ):
        DispositionCommitment(
            within_business_days=5,
            reasons=["qualified", "unable_to_reach"],
            unable_to_reach_reason="no_contact",
        )
    ok = DispositionCommitment(
        within_business_days=5,
        reasons=["qualified", "unable_to_reach"],
        unable_to_reach_reason="unable_to_reach",
    )
    assert ok.unable_to_reach_reason == "unable_to_reach"
    assert DispositionCommitment(within_business_days=5, reasons=["qualified"]).unable_to_reach_reason is None


def test_disposition_needs_reasons() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        DispositionCommitment(within_business_days=5, reasons=[])


def test_first_response_defaults() -> None:
    fr = FirstResponseCommitment(within_hours=4)
    assert fr.activities == ["call", "email", "meeting"]
    assert FirstResponseCommitment(within_hours=4).activities is not fr.activities
    with pytest.raises(ValidationError, match="at least 1 item"):
        FirstResponseCommitment(within_hours=4, activities=[])


def test_sla_defaults() -> None:
    sla = SLA.model_validate({"calendar": {"timezone": "UTC"}})
    assert sla.marketing.volume is None
    assert sla.sales.first_response is None
    assert sla.tiers == []


# --------------------------------------------------------------------------------------------------
# Business calendar.


def test_calendar_defaults() -> None:
    cal = BusinessCalendar(timezone="America/New_York")
    assert cal.zone == ZoneInfo("America/New_York")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        assert cal.intervals(day) == ((time(9), time(17)),)
    assert cal.intervals("sat") == ()
    assert cal.intervals("sun") == ()
    assert not cal.always_open
    # The default hours are a fresh copy per calendar.
    assert BusinessCalendar(timezone="UTC").hours is not cal.hours


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Berln", "europe/berlin", "", "+02:00"])
def test_unknown_zone(zone: str) -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        BusinessCalendar(timezone=zone)


@pytest.mark.parametrize("abbreviation", ["CET", "EST"])
def test_zone_abbreviations_rejected(abbreviation: str) -> None:
    try:
        BusinessCalendar(timezone=abbreviation)
    except ValidationError:
        return
    raise AssertionError(f"{abbreviation!r} was accepted as a time zone")


def test_intervals_sorted_and_24_00() -> None:
    cal = BusinessCalendar(
        timezone="Europe/Berlin",
        hours={"mon": ["13:30-18:00", "09:00-12:30"], "sat": ["00:00-24:00"], "fri": []},
    )
    assert cal.intervals("mon") == ((time(9), time(12, 30)), (time(13, 30), time(18)))
    assert cal.intervals("sat") == ((time(0), time.max),)
    assert cal.intervals("fri") == ()
    assert cal.intervals("tue") == ()  # a day left out is closed


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ("9:00-17:00", "is not an interval like '09:00-17:00'"),
        ("09:00 to 17:00", "is not an interval like"),
        ("25:00-26:00", "impossible time of day"),
        ("09:60-17:00", "impossible time of day"),
        ("09:00-24:30", "impossible time of day"),
        ("17:00-09:00", "ends before it starts"),
        ("09:00-09:00", "ends before it starts"),
    ],
)
def test_bad_intervals(interval: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BusinessCalendar(timezone="UTC", hours={"mon": [interval]})


def test_overlapping_hours_rejected_touching_allowed() -> None:
    with pytest.raises(ValidationError, match="tue: intervals 09:00-12:30, 12:00-17:00 overlap"):
        BusinessCalendar(timezone="UTC", hours={"tue": ["09:00-12:30", "12:00-17:00"]})
    cal = BusinessCalendar(timezone="UTC", hours={"tue": ["09:00-12:00", "12:00-17:00"]})
    assert len(cal.intervals("tue")) == 2


def test_unknown_weekday() -> None:
    with pytest.raises(ValidationError, match="'mon', 'tue'"):
        BusinessCalendar(timezone="UTC", hours={"monday": ["09:00-17:00"]})


def test_holidays() -> None:
    assert HolidaySource(country="DE", subdivision="BY").subdivision == "BY"
    assert HolidaySource(country="NO").country == "NO"
    with pytest.raises(ValidationError, match="unknown holiday country 'XX'"):
        HolidaySource(country="XX")
    with pytest.raises(ValidationError, match=r"unknown subdivision 'ZZ' of DE; known: BB, BE"):
        HolidaySource(country="DE", subdivision="ZZ")


def test_dates() -> None:
    cal = BusinessCalendar.model_validate(
        {"timezone": "UTC", "closed_dates": ["2026-12-24"], "open_dates": ["2026-12-27"]}
    )
    assert cal.closed_dates == [date(2026, 12, 24)]
    assert cal.open_dates == [date(2026, 12, 27)]
    with pytest.raises(ValidationError, match="dates both closed and open: 2026-12-24"):
        BusinessCalendar.model_validate(
            {"timezone": "UTC", "closed_dates": ["2026-12-24"], "open_dates": ["2026-12-24"]}
        )
    with pytest.raises(ValidationError, match="is not a date: day is out of range"):
        BusinessCalendar.model_validate({"timezone": "UTC", "closed_dates": ["2026-02-30"]})
    with pytest.raises(ValidationError, match="expected a date as "):
        BusinessCalendar.model_validate({"timezone": "UTC", "closed_dates": ["24.12.2026"]})
