"""The demand waterfall: a hand-built data set (Berlin SLA calendar; 1 October 2026 is a Thursday)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing import AlignmentPlan, load_plan
from smarketing.errors import DataError, PlanError
from smarketing.feedback import sourced_influenced, waterfall
from smarketing.feedback.model import STEPS
from smarketing.money import FxTable, Money
from smarketing.records import Account, Dataset, Deal, Lead, StageEvent, Touchpoint

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)  # Thursday, 11:00 in Berlin
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)


def at(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def _events() -> list[StageEvent]:
    path = {
        # a: every step; won on 20 October.
        "a": [("lead", 0), ("mql", 1 / 24), ("sal", 1), ("sql", 4), ("opportunity", 5), ("customer", 19)],
        # b: skips SAL (MQL straight to SQL): counted at SAL too.
        "b": [("lead", 0), ("mql", 1), ("sql", 5)],
        # c: disqualified: a lost terminal is on no step; furthest step inquiry.
        "c": [("lead", 0), ("disqualified", 2)],
        # e: a November lead.
        "e": [("lead", 33), ("mql", 34)],
        # f: events but no lead record.
        "f": [("lead", 0), ("mql", 1)],
    }
    return [
        StageEvent(lead_id=lead, to=stage, time=at(d)) for lead, steps in path.items() for stage, d in steps
    ]


@pytest.fixture
def hand_data() -> Dataset:
    leads = [
        Lead(id="a", created_at=at(0), campaign="webinar", persona="ops-director"),
        Lead(id="b", created_at=at(0), campaign="webinar"),
        Lead(id="c", created_at=at(0), campaign="ads"),
        Lead(id="d", created_at=at(1)),  # no events: on no step
        Lead(id="e", created_at=at(33), campaign="ads"),
    ]
    deals = [
        Deal(
            id="D1",
            lead_id="a",
            amount=Money("1000.00", "EUR"),
            stage="won",
            created_at=at(5),
            close_date=date(2026, 10, 20),
        ),
        Deal(id="D2", lead_id="b", amount=Money("500.00", "EUR"), stage="open", created_at=at(6)),
    ]
    touches = [
        Touchpoint(id="t1", lead_id="a", time=at(0), channel="webinar", team="marketing", campaign="webinar"),
        Touchpoint(id="t2", lead_id="a", time=at(3), channel="sdr_call", team="sales"),
        Touchpoint(id="t3", lead_id="a", time=at(10), channel="demo", team="sales"),  # after D1's creation
        Touchpoint(id="t4", lead_id="b", time=at(0), channel="sdr_call", team="sales", campaign="outbound"),
        Touchpoint(id="t5", lead_id="b", time=at(2), channel="webinar", team="marketing", campaign="webinar"),
    ]
    return Dataset.from_records(leads=leads, stage_events=_events(), deals=deals, touchpoints=touches)


def test_cohort_view_by_hand(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    w = waterfall(example_plan, hand_data, as_of=AS_OF)
    october = [w.row("2026-10", s) for s in STEPS]
    assert [r.volume for r in october] == [3, 2, 2, 2, 1, 1]
    assert [r.ended for r in october] == [1, 0, 0, 1, 0, 1]
    assert {r.cohort for r in october} == {4}
    assert [r.conversion for r in october] == [
        Decimal("0.6667"),
        Decimal("1.0000"),
        Decimal("1.0000"),
        Decimal("0.5000"),
        Decimal("1.0000"),
        None,
    ]
    # Business days on the Berlin calendar: a Thursday-to-Friday move passes Thursday's close.
    assert [r.velocity_days for r in october] == [0, 1, 1, 1, 10, None]
    assert october[-1].value == 100000
    assert w.currency == "EUR"
    assert [r.value for r in october[:-1]] == [None] * 5
    # The plan's bands: SAL to SQL above 85%, opportunity to won above 45%.
    assert [(r.period, r.step, r.conversion_flag) for r in w.flagged()] == [
        ("2026-10", "sal", "high"),
        ("2026-10", "opportunity", "high"),
        ("2026-11", "inquiry", "high"),
        ("2026-11", "mql", "low"),
    ]
    november = [w.row("2026-11", s) for s in STEPS]
    assert [r.volume for r in november] == [1, 1, 0, 0, 0, 0]
    assert november[0].cohort == 1
    assert w.left_out == 1


def test_period_view_by_hand(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    w = waterfall(example_plan, hand_data, view="period", as_of=AS_OF)
    october = [w.row("2026-10", s) for s in STEPS]
    # Entries in October: b's skipped SAL is not filled in here.
    assert [r.volume for r in october] == [3, 2, 1, 2, 1, 1]
    assert october[2].conversion == Decimal("2.0000")
    assert october[-1].value == 100000
    assert {r.cohort for r in october} == {None}
    assert {r.ended for r in october} == {None}
    assert [r.volume for r in (w.row("2026-11", s) for s in STEPS)] == [1, 1, 0, 0, 0, 0]


def test_as_of_leaves_later_things_out(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    w = waterfall(example_plan, hand_data, as_of=at(10))
    october = [w.row("2026-10", s) for s in STEPS]
    assert [r.volume for r in october] == [3, 2, 2, 2, 1, 0]
    assert october[-1].value == 0
    assert {r.period for r in w.rows} == {"2026-10"}


def test_by_a_segment_of_the_account(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    frames = hand_data.frames()
    accounts = [Account(id="X", industry="software"), Account(id="Y", industry="retail")]
    of = {"a": "X", "b": "X", "c": "Y"}
    leads = frames["leads"].with_columns(pl.col("id").replace_strict(of, default=None).alias("account_id"))
    data = {**frames, "leads": leads, "accounts": Dataset.from_records(accounts=accounts).accounts}
    w = waterfall(example_plan, data, by="account.industry", as_of=AS_OF)
    assert [(r.group, r.volume) for r in w.rows if r.period == "2026-10" and r.step == "inquiry"] == [
        ("retail", 1),
        ("software", 2),
        (None, 0),
    ]


def test_by_lead_column_and_source_team(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    w = waterfall(example_plan, hand_data, by="campaign", as_of=AS_OF)
    assert [(r.group, r.volume) for r in w.rows if r.period == "2026-10" and r.step == "inquiry"] == [
        ("ads", 1),
        ("webinar", 2),
        (None, 0),
    ]
    teams = waterfall(example_plan, hand_data, by="source_team", as_of=AS_OF)
    assert [(r.group, r.cohort) for r in teams.rows if r.period == "2026-10" and r.step == "won"] == [
        ("marketing", 1),
        ("sales", 1),
        (None, 2),
    ]


def test_no_band_no_flag(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    plan = example_plan.model_copy(update={"waterfall": None})
    w = waterfall(plan, hand_data, as_of=AS_OF)
    assert w.flagged() == []
    assert w.stages["won"] == ("customer",)
    assert w.stages["inquiry"] == ("subscriber", "lead")


def test_results_render(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    w = waterfall(example_plan, hand_data, period="quarter", as_of=AS_OF)
    frame = w.to_frame()
    assert frame.height == len(w.rows) == 6
    assert frame.get_column("period").unique().to_list() == ["2026-Q4"]
    d = w.to_dict()
    assert d["rows"][0]["conversion"] == "0.7500"
    assert d["currency"] == "EUR"
    assert "Waterfall(cohort view by quarter" in repr(w)
    assert "1000.00 EUR" in repr(w)
    assert "<table" in w._repr_html_()
    week = waterfall(example_plan, hand_data, period="week", as_of=AS_OF)
    assert week.rows[0].period == "2026-W40"


def test_bad_options(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    with pytest.raises(DataError, match="cohort"):
        waterfall(example_plan, hand_data, view="funnel", as_of=AS_OF)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="quarter"):
        waterfall(example_plan, hand_data, period="year", as_of=AS_OF)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="as_of"):
        waterfall(example_plan, hand_data, as_of=datetime(2026, 12, 1))


def test_won_deals_in_another_currency(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    usd = Deal(
        id="D9",
        lead_id="a",
        amount=Money("5.00", "USD"),
        stage="won",
        created_at=at(5),
        close_date=date(2026, 10, 21),
    )
    data = Dataset.from_records(leads=hand_data.records("leads"), deals=[usd])
    with pytest.raises(DataError, match=r"D9.*not EUR; pass fx="):
        waterfall(example_plan, data, as_of=AS_OF)


def test_plan_section_references(minimal_plan_text: str) -> None:
    text = (
        minimal_plan_text + "waterfall:\n  stages:\n    mql: [nope]\n  conversion:\n    mql: {low: '10%'}\n"
    )
    with pytest.raises(PlanError, match=r"waterfall\.stages\.mql\[0\].*unknown stage 'nope'"):
        load_plan(text)
    won = minimal_plan_text + "waterfall:\n  conversion:\n    won: {low: '10%'}\n"
    with pytest.raises(PlanError, match=r"waterfall\.conversion\.won: won is the last step"):
        load_plan(won)
    upside_down = minimal_plan_text + "waterfall:\n  conversion:\n    mql: {low: '80%', high: '20%'}\n"
    with pytest.raises(PlanError, match=r"waterfall\.conversion\.mql\.high: must not be below low"):
        load_plan(upside_down)


def test_sourced_influenced_by_hand(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    si = sourced_influenced(example_plan, hand_data, by="campaign", as_of=AS_OF)
    rows = {r.key: r for r in si.rows}
    assert set(rows) == {"outbound", "webinar"}
    assert (
        rows["webinar"].sourced_deals,
        rows["webinar"].sourced_pipeline,
        rows["webinar"].sourced_revenue,
    ) == (
        2,
        150000,
        100000,
    )
    # D1's touches before its creation: the webinar (the SDR call has no campaign; the demo came later).
    # D2's: outbound and the webinar, half each.
    assert (rows["webinar"].influenced_pipeline, rows["webinar"].influenced_revenue) == (125000, 100000)
    assert (rows["outbound"].influenced_pipeline, rows["outbound"].sourced_pipeline) == (25000, 0)
    teams = sourced_influenced(example_plan, hand_data, by="team", as_of=AS_OF)
    assert [
        (r.key, r.sourced_pipeline, r.sourced_revenue, r.influenced_pipeline, r.influenced_revenue)
        for r in teams.rows
    ] == [("marketing", 100000, 100000, 75000, 50000), ("sales", 50000, 0, 75000, 50000)]
    assert teams.unattributed_pipeline == 0
    assert teams.currency == "EUR"
    assert teams.to_frame().height == 2
    assert teams.to_dict()["rows"][0]["key"] == "marketing"
    assert "1000.00 EUR" in repr(teams)
    assert "<table" in teams._repr_html_()


def test_sourced_influenced_converts_with_fx(example_plan: AlignmentPlan, hand_data: Dataset) -> None:
    usd = Deal(id="D3", lead_id="c", amount=Money("10.01", "USD"), stage="open", created_at=at(3))
    data = Dataset.from_records(
        leads=hand_data.records("leads"),
        deals=[*hand_data.records("deals"), usd],
        touchpoints=hand_data.records("touchpoints"),
    )
    with pytest.raises(DataError, match=r"D3.*fx="):
        sourced_influenced(example_plan, data, as_of=AS_OF)
    fx = FxTable([("USD", "EUR", date(2026, 1, 1), "0.5")])
    si = sourced_influenced(example_plan, data, fx=fx, as_of=AS_OF)
    # 10.01 USD at 0.5 is 5.005 EUR, half to even: 5.00 EUR; lead c has no touches: unattributed.
    assert si.row("ads").sourced_pipeline == 500
    assert si.unattributed_pipeline == 500


# --------------------------------------------------------------------------------------------------
# Laws: counts conserve leads; the order of the rows changes nothing.

_STAGES = ["lead", "mql", "sal", "sql", "opportunity", "customer", "closed_lost", "disqualified", "nurture"]


@st.composite
def _data(draw: st.DrawFn) -> Dataset:
    n = draw(st.integers(1, 12))
    leads, events = [], []
    for i in range(n):
        created = draw(st.integers(0, 90))
        leads.append(
            Lead(id=f"L{i}", created_at=at(created), campaign=draw(st.sampled_from(["x", "y", None])))
        )
        for stage, hours in draw(
            st.lists(st.tuples(st.sampled_from(_STAGES), st.integers(0, 24 * 60)), max_size=6)
        ):
            events.append(StageEvent(lead_id=f"L{i}", to=stage, time=at(created, hours)))
    return Dataset.from_records(leads=leads, stage_events=events)


@given(data=_data(), view=st.sampled_from(["cohort", "period"]), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_laws(example_plan: AlignmentPlan, data: Dataset, view: str, seed: int) -> None:
    w = waterfall(example_plan, data, view=view, by="campaign", as_of=AS_OF)  # type: ignore[arg-type]
    shuffled = Dataset.from_records(
        leads=random.Random(seed).sample(data.records("leads"), len(data.leads)),
        stage_events=random.Random(seed).sample(data.records("stage_events"), len(data.stage_events)),
    )
    assert waterfall(example_plan, shuffled, view=view, by="campaign", as_of=AS_OF).to_dict() == w.to_dict()  # type: ignore[arg-type]
    # Business days between steps are never negative (each step's count of closed days has one origin).
    assert all(r.velocity_days is None or r.velocity_days >= 0 for r in w.rows)
    if view == "cohort":
        cohorts = {(r.period, r.group): r.cohort for r in w.rows}
        created = data.leads.filter(data.leads.get_column("created_at") <= AS_OF).height
        assert sum(c or 0 for c in cohorts.values()) == created
        for (p, g), size in cohorts.items():
            rows = [r for r in w.rows if (r.period, r.group) == (p, g)]
            volumes = [r.volume for r in rows]
            assert volumes == sorted(volumes, reverse=True)
            # Each lead ends at exactly one furthest step, or at none.
            assert sum(r.ended or 0 for r in rows) + (size or 0) - rows[0].volume == size
