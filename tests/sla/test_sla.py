"""evaluate_sla: a hand-computed fixture on the example plan, bad input, input forms, and the kernel checked
against the readable reference in tests/sla/reference.py with Hypothesis."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing._periods import Window
from smarketing.errors import DataError, PlanError
from smarketing.kpi import Undefined
from smarketing.kpi.metrics import compute_metrics
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Activity, Dataset, Disposition, Lead, StageEvent
from smarketing.sla import _kernel, sla_context

from .reference import reference_leads

BERLIN = ZoneInfo("Europe/Berlin")
PLAN = load_plan("examples/plan.yaml")


def b(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Berlin wall time in 2026 (CEST until 25 October, CET after)."""
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


AS_OF = b(10, 30, 12)
assert PLAN.sla is not None
assert PLAN.sla.marketing.volume is not None
VOLUME = PLAN.sla.marketing.volume.count  # leads per month marketing commits to


def lead(lead_id: str, owner: str, *, grade: str = "C", **kwargs: Any) -> Lead:
    return Lead(id=lead_id, created_at=b(9, 1, 9), owner=owner, grade=grade, **kwargs)


def call(
    lead_id: str, when: datetime, person: str, kind: str = "call", outcome: str | None = None
) -> Activity:
    return Activity(
        id=f"{lead_id}-{when:%m%d%H%M}", lead_id=lead_id, person=person, time=when, type=kind, outcome=outcome
    )


def fixture() -> dict[str, list[Any]]:
    """Nine leads worked every way the SLA can go; the expected results are worked out in the tests."""
    leads = [
        lead("L1", "nina.brandt", grade="B"),
        lead("L2", "felix.roth", grade="A"),  # hot tier: 1 h, 8 attempts
        lead("L3", "sara.lind", persona="finance-lead"),  # finance tier: 2 h
        lead("L4", "ben.okafor", status="asked_to_call_later"),
        lead("L6", "felix.roth"),
        lead("L7", "nina.brandt", grade="B"),
        lead("L8", "ben.okafor"),
        lead("L9", "sara.lind"),
        lead("L10", "felix.roth"),
        lead("L11", "felix.roth"),
        lead("L12", "felix.roth"),
    ]
    mql = [
        StageEvent(lead_id=x, source="lead", to="mql", time=b(10, 2, 9))
        for x in ("L1", "L2", "L3", "L4", "L6", "L7", "L8", "L9", "L10", "L11")
    ]
    mql.append(StageEvent(lead_id="L12", source="lead", to="mql", time=b(9, 15, 9)))
    handoffs = [
        StageEvent(lead_id=x, source="mql", to="sal", time=b(10, 5, 10))
        for x in ("L1", "L2", "L3", "L7", "L8", "L9")
    ]
    handoffs += [
        StageEvent(lead_id="L4", source="mql", to="sal", time=b(10, 26, 10)),
        StageEvent(lead_id="L6", source="mql", to="sal", time=b(10, 30, 11)),
        StageEvent(lead_id="L1", source="sal", to="sql", time=b(10, 6, 16)),
    ]
    activities = [
        *(call("L1", t, "nina.brandt") for t in (b(10, 5, 13), b(10, 5, 15), b(10, 6, 9), b(10, 6, 10))),
        *(call("L1", t, "nina.brandt") for t in (b(10, 6, 11), b(10, 7, 9))),
        call("L3", b(10, 5, 14), "sara.lind", kind="email"),
        call("L3", b(10, 6, 9), "sara.lind"),
        call("L4", b(10, 26, 11), "ben.okafor", outcome="asked_to_call_later"),
        call("L7", b(10, 5, 11), "lea.fischer", kind="email"),  # a marketer: not a sales response
        call("L7", b(10, 6, 9), "nina.brandt"),
        call("L8", b(10, 5, 10, 30), "ben.okafor"),
        call("L9", b(10, 5, 10), "sara.lind"),
        call("LX", b(10, 5, 10), "sara.lind"),  # unknown lead
        call("L1", b(8, 31, 10), "nina.brandt"),  # before L1 was created
        call("L6", b(10, 31, 10), "felix.roth"),  # after as_of
    ]
    dispositions = [
        Disposition(lead_id="L1", reason="qualified", time=b(10, 6, 16)),
        Disposition(lead_id="L3", reason="unable_to_reach", time=b(10, 7, 9)),
        Disposition(lead_id="L7", reason="not_a_fit", time=b(10, 7, 10)),
        Disposition(lead_id="L8", reason="no_budget", time=b(10, 28, 10)),
        Disposition(lead_id="L9", reason="spam", time=b(10, 6, 10)),
    ]
    return {
        "leads": leads,
        "stage_events": mql + handoffs,
        "activities": activities,
        "dispositions": dispositions,
    }


@pytest.fixture(scope="module")
def report() -> sm.SLAReport:
    return sm.evaluate_sla(PLAN, fixture(), as_of=AS_OF)


def test_sales_side_per_lead_matches_hand_computation(report: sm.SLAReport) -> None:
    cols = [
        "lead_id",
        "tier",
        "first_response_hours",
        "response_status",
        "attempts",
        "attempts_status",
        "disposition_status",
        "unable_to_reach_early",
        "paused",
        "escalation_step",
        "escalation_notify",
    ]
    rows = {r[0]: r[1:] for r in report.leads.select(cols).rows()}
    assert rows == {
        # call after 2.5 business hours; 6 attempts; qualified the next day
        "L1": (None, 2.5, "met", 6, "met", "on_time", False, False, None, None),
        # hot: due 11:00; steps at Mon 14:00, Tue 10:30, Thu 09:30 all passed; window and deadline passed
        "L2": ("hot", None, "breached", 0, "breached", "missing", False, False, 3, "ida.moreau"),
        # finance: 3 h against 2 h, answered before the first step (15:00); unable to reach after 2 of 6
        "L3": ("finance", 3.0, "breached", 2, "breached", "on_time", True, False, None, None),
        # paused at the 11:00 call: what was not due then stays pending
        "L4": (None, 1.0, "met", 1, "pending", "pending", False, True, None, None),
        # handed off an hour before as_of
        "L6": (None, None, "pending", 0, "pending", "pending", False, False, None, None),
        # the marketer's e-mail does not count; Tuesday 09:00 is 7.5 h; step 1 (Mon 17:30) passed first
        "L7": (None, 7.5, "breached", 1, "met", "on_time", False, False, 1, "nina.brandt"),
        # dispositioned after the 15-day deadline (Mon 26 Oct 17:30) and after the attempt window
        "L8": (None, 0.5, "met", 1, "breached", "late", False, False, None, None),
        # called at the handoff instant
        "L9": (None, 0.0, "met", 1, "met", "on_time", False, False, None, None),
    }


def test_due_times(report: sm.SLAReport) -> None:
    l2 = report.leads.filter(pl.col("lead_id") == "L2").row(0, named=True)
    assert l2["response_due_at"] == b(10, 5, 11)
    assert l2["escalation_at"] == b(10, 8, 9, 30)
    assert l2["attempts_window_end"] == b(10, 19, 17, 30)
    assert l2["disposition_due_at"] == b(10, 26, 17, 30)
    assert l2["handoff_at"].tzinfo is not None


def test_marketing_side_per_period(report: sm.SLAReport) -> None:
    rows = report.marketing.select(
        "period", "complete", "delivered", "committed", "shortfall", "accepted", "sqls", "acceptance_met"
    ).rows()
    assert [r[1:] for r in rows] == [
        (True, 1, VOLUME, VOLUME - 1, 0, 0, False),  # September: L12 only
        (False, 10, VOLUME, VOLUME - 10, 8, 1, True),  # October so far: 8 of 10 accepted (80% >= 70%)
    ]


def test_compliance_by_rep_team_and_period(report: sm.SLAReport) -> None:
    by_rep = {r["owner"]: r for r in report.by_rep.to_dicts()}
    assert by_rep["nina.brandt"]["response_met"] == 1
    assert by_rep["nina.brandt"]["response_breached"] == 1
    assert by_rep["felix.roth"]["handed_off"] == 2
    (team,) = report.by_team.to_dicts()
    assert (team["team"], team["response_met"], team["response_breached"], team["response_pending"]) == (
        "sales",
        4,
        3,
        1,
    )
    assert team["disposition_coverage"] == pytest.approx(4 / 6)
    assert report.by_period["handed_off"].sum() == 8


def test_breaches_name_the_reason(report: sm.SLAReport) -> None:
    kinds = report.breaches.group_by("commitment").len().sort("commitment").rows()
    assert kinds == [
        ("attempts", 3),
        ("disposition", 2),
        ("disposition_reason", 1),
        ("first_response", 3),
        ("unable_to_reach", 1),
    ]
    l3 = report.breaches.filter((pl.col("lead_id") == "L3") & (pl.col("commitment") == "first_response"))
    assert l3["detail"].item() == "first response after 3.0 business hours; target 2.0"


def test_counts_and_summary(report: sm.SLAReport) -> None:
    assert {k: v for k, v in report.counts.items() if v} == {
        "activities_unknown_lead": 1,
        "activities_before_lead_created": 1,
        "activities_after_as_of": 1,
        "dispositions_unknown_reason": 1,
    }
    assert report.summary == (
        "SLA as of 2026-10-30 11:00 UTC: sales met 57% of first-response commitments (4 of 7; 1 pending), "
        "50% of attempt commitments and 67% of disposition deadlines; 1 'unable to reach' before the "
        "required attempts; marketing delivered 0% of the MQL volume "
        f"(1 of {VOLUME} over 1 complete month(s)) "
        "at 0% acceptance against 70% committed and 0% SQLs against 35% (not used: 1 activities unknown "
        "lead (e.g. lead LX), 1 activities before lead created (e.g. lead L1), 1 activities after as of "
        "(e.g. lead L6), 1 dispositions unknown reason (e.g. lead L9))."
    )
    # Each count has an example lead, and the dict carries them (only when something was counted).
    assert report.examples == {
        "activities_after_as_of": "L6",
        "activities_before_lead_created": "L1",
        "activities_unknown_lead": "LX",
        "dispositions_unknown_reason": "L9",
    }
    assert report.to_dict()["examples"] == report.examples


def test_weekly_trend(report: sm.SLAReport) -> None:
    weeks = {r["week"].isoformat(): r for r in report.weekly.to_dicts()}
    assert weeks["2026-10-05"]["handed_off"] == 6
    assert weeks["2026-10-05"]["response_compliance"] == pytest.approx(3 / 6)
    assert weeks["2026-09-28"]["delivered"] == 10


def test_report_value_object(report: sm.SLAReport) -> None:
    assert report.to_frame() is report.leads
    data = report.to_dict()
    json.dumps(data)  # JSON-ready
    assert data["leads"][0]["handoff_at"].endswith("+00:00")
    assert repr(report).startswith(
        "SLAReport(as_of=2026-10-30T12:00:00+01:00, leads=8, breaches=10)\nSLA as of"
    )
    html = report._repr_html_()
    assert "<table" in html
    assert "SLA as of" in html
    with pytest.raises(AttributeError):
        report.summary = "x"  # type: ignore[misc]


def test_html_is_row_limited() -> None:
    many = {
        "stage_events": [
            StageEvent(lead_id=f"M{i:03d}", source="mql", to="sal", time=b(10, 5, 10)) for i in range(30)
        ]
    }
    html = sm.evaluate_sla(PLAN, many, as_of=AS_OF)._repr_html_()
    assert "10 more lead(s) not shown" in html


# -- input forms ------------------------------------------------------------------------------------------


def test_input_forms_agree(report: sm.SLAReport) -> None:
    records = fixture()
    dataset = Dataset.from_records(**records)
    eager = dataset.frames()
    lazy = {k: v.lazy() for k, v in eager.items()}
    berlin = {
        k: v.with_columns(pl.col(pl.Datetime).dt.convert_time_zone("Europe/Berlin")) for k, v in eager.items()
    }
    for data in (dataset, eager, lazy, berlin):
        assert sm.evaluate_sla(PLAN, data, as_of=AS_OF).leads.equals(report.leads)


def test_record_order_does_not_matter(report: sm.SLAReport) -> None:
    reversed_data = {k: list(reversed(v)) for k, v in fixture().items()}
    assert sm.evaluate_sla(PLAN, reversed_data, as_of=AS_OF).leads.equals(report.leads)


def test_partitions_by_lead_add_up(report: sm.SLAReport) -> None:
    """Map per lead + associative reduce: the counts of two partitions sum to the whole."""
    data = fixture()
    parts = []
    for keep in (("L1", "L2", "L3"), ("L4", "L6", "L7", "L8", "L9", "L10", "L11", "L12", "LX")):
        part = {k: [r for r in v if (r.id if k == "leads" else r.lead_id) in keep] for k, v in data.items()}
        parts.append(sm.evaluate_sla(PLAN, part, as_of=AS_OF).by_team.drop(pl.selectors.float()))
    summed = pl.concat(parts).group_by("team").sum()
    assert summed.equals(report.by_team.drop(pl.selectors.float()).select(summed.columns))


# -- bad input -----------------------------------------------------------------------------------------


def test_plan_without_sla_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="no SLA") as info:
        sm.evaluate_sla(PLAN.model_copy(update={"sla": None}), {}, as_of=AS_OF)
    assert info.value.path == "sla"


def test_journey_without_handoff_is_a_plan_error() -> None:
    journey = PLAN.journey.model_copy(
        update={"transitions": [t for t in PLAN.journey.transitions if t.kind != "handoff"]}
    )
    with pytest.raises(PlanError, match="no handoff transition"):
        sm.evaluate_sla(PLAN.model_copy(update={"journey": journey}), {}, as_of=AS_OF)


def test_calendar_that_runs_out_is_a_plan_error() -> None:
    assert PLAN.sla is not None
    calendar = PLAN.sla.calendar.model_copy(update={"hours": {}, "holidays": None, "closed_dates": []})
    plan = PLAN.model_copy(update={"sla": PLAN.sla.model_copy(update={"calendar": calendar})})
    with pytest.raises(PlanError, match="the SLA's clocks cannot run") as info:
        sm.evaluate_sla(plan, fixture(), as_of=AS_OF)
    assert info.value.path == "sla.calendar"


def test_naive_as_of() -> None:
    with pytest.raises(ValueError, match="naive"):
        sm.evaluate_sla(PLAN, {}, as_of=datetime(2026, 10, 30))


def test_naive_frame_times_are_data_errors() -> None:
    frame = pl.DataFrame(
        {"lead_id": ["L1"], "person": ["x"], "time": [datetime(2026, 10, 5)], "type": ["call"]}
    )
    with pytest.raises(DataError, match="activities: time: naive datetimes"):
        sm.evaluate_sla(PLAN, {"activities": frame}, as_of=AS_OF)


def test_text_times_are_data_errors() -> None:
    frame = pl.DataFrame({"lead_id": ["L1"], "to": ["sal"], "time": ["2026-10-05T10:00:00Z"]})
    with pytest.raises(DataError, match="stage_events: time: must be a datetime column"):
        sm.evaluate_sla(PLAN, {"stage_events": frame}, as_of=AS_OF)


def test_missing_column_is_a_data_error() -> None:
    frame = pl.DataFrame({"lead_id": ["L1"], "time": [datetime(2026, 10, 5, tzinfo=UTC)]})
    with pytest.raises(DataError, match="missing column"):
        sm.evaluate_sla(PLAN, {"dispositions": frame}, as_of=AS_OF)


def test_missing_value_names_the_record() -> None:
    frame = pl.DataFrame(
        {
            "lead_id": ["L1", "L2"],
            "person": ["a", None],
            "time": [datetime(2026, 10, 5, tzinfo=UTC)] * 2,
            "type": ["call", "call"],
        }
    )
    with pytest.raises(DataError, match="activity L2: person: required value is missing") as info:
        sm.evaluate_sla(PLAN, {"activities": frame}, as_of=AS_OF)
    assert (info.value.record, info.value.field) == ("L2", "person")


def test_duplicate_lead_is_a_data_error() -> None:
    leads = [lead("L1", "nina.brandt"), lead("L1", "felix.roth")]
    handoff = [StageEvent(lead_id="L1", source="mql", to="sal", time=b(10, 5, 10))]
    with pytest.raises(DataError, match="lead L1: id: the id appears more than once"):
        sm.evaluate_sla(PLAN, {"leads": leads, "stage_events": handoff}, as_of=AS_OF)


def test_unknown_record_kind_and_wrong_type() -> None:
    with pytest.raises(DataError, match="unknown record kind"):
        sm.evaluate_sla(PLAN, {"calls": []}, as_of=AS_OF)
    with pytest.raises(TypeError, match="Dataset or a mapping"):
        sm.evaluate_sla(PLAN, [], as_of=AS_OF)


def test_handed_off_lead_without_record_is_counted() -> None:
    data = {"stage_events": [StageEvent(lead_id="Z", source="mql", to="sal", time=b(10, 5, 10))]}
    result = sm.evaluate_sla(PLAN, data, as_of=AS_OF)
    assert result.counts["handoffs_unknown_lead"] == 1
    assert result.leads.select("owner", "tier", "response_status").row(0) == (None, None, "breached")


# -- the kernel against the small, readable reference in reference.py -------------------------------------


OWNERS = ("nina.brandt", "felix.roth", "sara.lind", "lea.fischer", "ghost")
REASONS = ("qualified", "unable_to_reach", "not_a_fit", "spam")


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[Any]]:
    start = datetime(2026, 9, 28, tzinfo=UTC)
    moment = st.integers(0, 40 * 24 * 4).map(lambda q: start + timedelta(minutes=15 * q))
    n = draw(st.integers(1, 6))
    ids = [f"L{i}" for i in range(n)]
    leads = [
        Lead(
            id=i,
            created_at=draw(moment),
            owner=draw(st.sampled_from(OWNERS)),
            grade=draw(st.sampled_from(["A", "B", None])),
            persona=draw(st.sampled_from(["finance-lead", None])),
            status=draw(st.sampled_from(["asked_to_call_later", None, "open"])),
        )
        for i in ids
        if draw(st.booleans()) or i == "L0"
    ]
    events = [
        StageEvent(
            lead_id=draw(st.sampled_from(ids)),
            source=draw(st.sampled_from(["mql", None, "lead"])),
            to="sal",
            time=draw(moment),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    # Many facts land shortly after a handoff, so every status (met, late, early "unable to reach") occurs.
    handoff_times = [e.time for e in events]
    soon = (
        st.tuples(st.sampled_from(handoff_times), st.integers(0, 30 * 24 * 4)).map(
            lambda p: p[0] + timedelta(minutes=15 * (p[1] ** 2 // 2880))
        )
        if handoff_times
        else moment
    )
    when = st.one_of(moment, soon, soon)
    activities = [
        Activity(
            id=f"A{k}",
            lead_id=draw(st.sampled_from(ids)),
            person=draw(st.sampled_from(OWNERS)),
            time=draw(when),
            type=draw(st.sampled_from(["call", "email", "meeting", "sms"])),
            outcome=draw(st.sampled_from([None, "asked_to_call_later", "no_answer"])),
        )
        for k in range(draw(st.integers(0, 25)))
    ]
    dispositions = [
        Disposition(
            lead_id=draw(st.sampled_from(ids)), reason=draw(st.sampled_from(REASONS)), time=draw(when)
        )
        for _ in range(draw(st.integers(0, 8)))
    ]
    return {"leads": leads, "stage_events": events, "activities": activities, "dispositions": dispositions}


def _compare(plan: AlignmentPlan, data: dict[str, list[Any]], as_of: datetime) -> None:
    expected = reference_leads(
        plan,
        leads=data["leads"],
        events=data["stage_events"],
        activities=data["activities"],
        dispositions=data["dispositions"],
        as_of=as_of,
    )
    got = {r["lead_id"]: r for r in sm.evaluate_sla(plan, data, as_of=as_of).leads.to_dicts()}
    assert set(got) == set(expected)
    for lead_id, want in expected.items():
        row = {k: got[lead_id][k] for k in want}
        assert row == want, lead_id


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    datasets(), st.integers(0, 45 * 24).map(lambda h: datetime(2026, 9, 28, tzinfo=UTC) + timedelta(hours=h))
)
def test_kernel_matches_reference(data: dict[str, list[Any]], as_of: datetime) -> None:
    _compare(PLAN, data, as_of)


def test_kernel_matches_reference_on_the_fixture() -> None:
    _compare(PLAN, fixture(), AS_OF)


# The scorecard's SLA metrics read a few columns of the kernel's per-lead frame, computed on their own.
KPI_COLUMNS = _kernel.STATUS_COLUMNS
KPI_WINDOWS = [Window.parse("2026-09"), Window.parse("2026-10"), Window.parse("2026-11")]
KPI_METRICS = {"first_response_hours", "sla_compliance", "disposition_coverage"}


def _kpis_from_report(report: sm.SLAReport, tz: str) -> dict[tuple[str, str, Window], Fraction]:
    """The three SLA metrics per window, worked out from the full report's per-lead rows."""
    out: dict[tuple[str, str, Window], Fraction] = {}
    rows = report.leads.to_dicts()
    for w in KPI_WINDOWS:
        start, end = w.start_at(tz), w.end_at(tz)
        inside = [r for r in rows if start <= r["handoff_at"] < end]
        hours = [r["first_response_hours"] for r in inside if r["first_response_hours"] is not None]
        if hours:
            out[("first_response_hours", "", w)] = Fraction(Decimal(repr(statistics.median(hours))))
        status = [r["response_status"] for r in inside]
        decided = sum(s in ("met", "breached") for s in status)
        if decided:
            out[("sla_compliance", "", w)] = Fraction(status.count("met"), decided)
        disposition = [r["disposition_status"] for r in inside]
        due = sum(s in ("on_time", "late", "missing") for s in disposition)
        if due:
            out[("disposition_coverage", "", w)] = Fraction(disposition.count("on_time"), due)
    return out


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    datasets(), st.integers(0, 45 * 24).map(lambda h: datetime(2026, 9, 28, tzinfo=UTC) + timedelta(hours=h))
)
def test_kpi_path_agrees_with_the_full_report(data: dict[str, list[Any]], as_of: datetime) -> None:
    report = sm.evaluate_sla(PLAN, data, as_of=as_of)
    statuses = _kernel.lead_statuses(sla_context(PLAN), data, as_of=as_of)
    assert statuses.equals(report.leads.select(KPI_COLUMNS))
    values = compute_metrics(
        data,
        sorted(KPI_METRICS),
        windows=KPI_WINDOWS,
        tz="Europe/Berlin",
        as_of=as_of,
        currency=None,
        plan=PLAN,
    )
    expected = _kpis_from_report(report, "Europe/Berlin")
    for key, value in values.items():
        assert value == expected.get(key, value if isinstance(value, Undefined) else None), key


def test_kernel_tables_do_not_depend_on_the_order_they_are_asked_in() -> None:
    report = sm.evaluate_sla(PLAN, fixture(), as_of=AS_OF)
    frames = _kernel.evaluate(sla_context(PLAN), fixture(), as_of=AS_OF)
    assert frames.counts == report.counts
    assert frames.weekly.equals(report.weekly)
    assert frames.breaches.equals(report.breaches)
    assert frames.leads.equals(report.leads)
    assert frames.marketing.equals(report.marketing)
