"""Tests for smarketing.datasets.synthetic: determinism, consistency with the plan, schemas, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import holidays
import polars as pl
import pytest

from smarketing.calendar import BusinessCalendar, Weekday
from smarketing.datasets import DEFAULT_END, synthetic
from smarketing.errors import ClosedCalendarError
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset

N = 5000
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=11, n_leads=N)


# No people, personas, SLA or targets: every fallback is used.
BARE_PLAN = """\
name: Tiny Co
teams:
  - {id: mkt, name: Marketing, function: marketing}
  - {id: sls, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: mkt, kind: mql}
    - {id: won, name: Won, owner: sls, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""


@pytest.fixture(scope="module")
def minimal() -> tuple[AlignmentPlan, Dataset]:
    plan = load_plan(BARE_PLAN)
    return plan, synthetic(plan, seed=5, n_leads=400)


# --------------------------------------------------------------------------------------------------
# A small, slow, obviously right business clock to check the generator's fast one against.


def _closed_days(cal: BusinessCalendar, years: range) -> set[date]:
    closed = set(cal.closed_dates)
    if cal.holidays is not None:
        closed |= set(
            holidays.country_holidays(cal.holidays.country, subdiv=cal.holidays.subdivision, years=years)
        )
    return closed - set(cal.open_dates)


def business_minutes(cal: BusinessCalendar, a: datetime, b: datetime, closed: set[date]) -> float:
    zone = cal.zone
    total = 0.0
    day = a.astimezone(zone).date() - timedelta(days=1)
    while day <= b.astimezone(zone).date():
        if day not in closed:
            for start, end in cal.intervals(WEEKDAYS[day.weekday()]):
                lo = max(datetime.combine(day, start, zone), a)
                close = datetime.combine(day + timedelta(days=1), time(), zone) if end == time.max else None
                hi = min(close or datetime.combine(day, end, zone), b)
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total


def business_days(cal: BusinessCalendar, a: datetime, b: datetime, closed: set[date]) -> int:
    zone = cal.zone
    first, last = a.astimezone(zone).date(), b.astimezone(zone).date()
    days = (first + timedelta(days=i) for i in range(1, (last - first).days + 1))
    return len([d for d in days if d not in closed and cal.intervals(WEEKDAYS[d.weekday()])])


# --------------------------------------------------------------------------------------------------
# Determinism and shape.


def test_same_seed_gives_identical_frames(example_plan: AlignmentPlan) -> None:
    one = synthetic(example_plan, seed=3, n_leads=500)
    two = synthetic(example_plan, seed=3, n_leads=500)
    for kind, frame in one.frames().items():
        assert frame.equals(getattr(two, kind)), kind


def test_other_seed_gives_other_data(example_plan: AlignmentPlan) -> None:
    one = synthetic(example_plan, seed=3, n_leads=500)
    two = synthetic(example_plan, seed=4, n_leads=500)
    for kind in ("leads", "touchpoints", "stage_events", "activities", "deals"):
        assert not getattr(one, kind).equals(getattr(two, kind)), kind


def test_frames_have_the_record_schemas(data: Dataset) -> None:
    empty = Dataset()
    for kind, frame in data.frames().items():
        assert frame.schema == getattr(empty, kind).schema, kind
        assert frame.height > 0, kind


def test_records_round_trip(example_plan: AlignmentPlan) -> None:
    sample = synthetic(example_plan, seed=9, n_leads=300)
    records = {kind: sample.records(kind) for kind in sample.frames()}
    back = Dataset.from_records(**records)
    for kind, frame in sample.frames().items():
        assert getattr(back, kind).equals(frame), kind


def test_counts_per_lead_are_as_documented(data: Dataset) -> None:
    assert data.leads.height == N
    assert data.leads["id"].is_unique().all()
    assert data.leads["id"][0] == "L0000001"
    assert 4.2 < data.touchpoints.height / N < 4.8
    assert 4.8 < data.stage_events.height / N < 5.6
    assert 4.5 < data.activities.height / N < 5.5
    for kind in ("accounts", "touchpoints", "activities", "deals"):
        assert getattr(data, kind)["id"].is_unique().all(), kind


def test_times_are_utc_and_within_the_window(data: Dataset) -> None:
    end = datetime.combine(DEFAULT_END + timedelta(days=1), time(), UTC)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    for kind, frame in data.frames().items():
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Datetime):
                assert dtype.time_zone == "UTC", (kind, name)
                assert frame[name].max() < end, (kind, name)  # type: ignore[operator]
                assert frame[name].min() >= start, (kind, name)  # type: ignore[operator]
    assert data.leads["created_at"].min() >= start  # type: ignore[operator]
    assert data.records("stage_events")[0].time.tzinfo is not None


@pytest.mark.parametrize("kind", ["stage_events", "touchpoints", "activities", "dispositions"])
def test_times_increase_within_each_lead(data: Dataset, kind: str) -> None:
    frame: pl.DataFrame = getattr(data, kind)
    steps = frame.select((pl.col("time").diff().over("lead_id") > pl.duration(microseconds=0)).alias("up"))
    assert steps["up"].drop_nulls().all()
    # Rows are grouped by lead and in time order, as the ids suggest.
    assert frame.select("lead_id", "time").equals(frame.select("lead_id", "time").sort("lead_id", "time"))


# --------------------------------------------------------------------------------------------------
# Consistency with the plan.


def test_stage_events_use_plan_stages_and_start_at_the_entry(
    example_plan: AlignmentPlan, data: Dataset
) -> None:
    stages = {s.id for s in example_plan.journey.stages}
    events = data.stage_events
    assert set(events["to"].unique()) <= stages
    assert set(events["from"].drop_nulls().unique()) <= stages
    first = events.group_by("lead_id", maintain_order=True).first()
    assert first.height == N
    assert first["from"].null_count() == N
    assert set(first["to"]) == {s.id for s in example_plan.journey.entry_stages()}
    # Every stage is reached by someone, and some leads are still open (in no terminal stage) at the end.
    assert set(events["to"].unique()) == stages
    terminal = {s.id for s in example_plan.journey.terminal_stages()}
    last = events.group_by("lead_id").last()
    assert last.filter(~pl.col("to").is_in(sorted(terminal))).height > N // 5


def test_a_few_percent_of_leads_deviate_from_the_map(example_plan: AlignmentPlan, data: Dataset) -> None:
    edges = pl.DataFrame(
        [(t.source, t.to) for t in example_plan.journey.transitions], schema=["from", "to"], orient="row"
    ).with_columns(pl.lit(True).alias("mapped"))
    terminal = sorted(s.id for s in example_plan.journey.terminal_stages())
    events = data.stage_events.with_columns(pl.col("to").shift(1).over("lead_id").alias("previous"))
    checked = events.join(edges, on=["from", "to"], how="left")
    deviating = checked.filter(
        pl.col("from").is_not_null()
        & (
            pl.col("mapped").is_null()
            | pl.col("previous").is_in(terminal)
            | (pl.col("from") != pl.col("previous"))
        )
    )
    share = deviating["lead_id"].n_unique() / N
    assert 0.03 <= share <= 0.05
    # All four kinds of deviation are there.
    assert deviating.filter(pl.col("previous").is_in(terminal)).height > 0  # after a terminal stage
    assert deviating.filter(
        pl.col("from").is_in(["subscriber", "lead"]) & pl.col("to").is_in(["sal", "sql"])
    ).height
    order = {s.id: i for i, s in enumerate(example_plan.journey.stages)}
    back = deviating.filter(pl.col("to").replace_strict(order) < pl.col("from").replace_strict(order))
    assert back.height > 0  # a regression the map does not have


def test_recycles_respect_their_limit(example_plan: AlignmentPlan, data: Dataset) -> None:
    limits = {
        (t.source, t.to): t.max_recycles for t in example_plan.journey.transitions if t.kind == "recycle"
    }
    counts = data.stage_events.group_by("lead_id", "from", "to").len()
    for (source, to), limit in limits.items():
        taken = counts.filter((pl.col("from") == source) & (pl.col("to") == to))
        assert taken.height > 0
        assert limit is not None
        assert taken["len"].max() <= limit  # type: ignore[operator]


def test_leads_match_personas_grades_and_people(example_plan: AlignmentPlan, data: Dataset) -> None:
    leads = data.leads
    personas = {p.id: p for p in example_plan.personas}
    assert set(leads["persona"].drop_nulls().unique()) == set(personas)
    assert 0.05 < leads["persona"].null_count() / N < 0.2
    for persona_id, grades in leads.group_by("persona").agg(pl.col("grade").unique()).iter_rows():
        allowed = {b.grade for b in personas[persona_id].scoring.grades} if persona_id else {"A", "B", "C"}
        assert set(grades) <= allowed
    people = {p.id for p in example_plan.people}
    assert set(leads["owner"].drop_nulls()) <= people
    assert leads["created_at"].dtype == pl.Datetime("us", "UTC")
    statuses = set(leads["status"].drop_nulls())
    assert statuses == set(example_plan.sla.pause_statuses)  # type: ignore[union-attr]
    assert 0 < leads["status"].drop_nulls().len() < N // 10
    assert leads.join(data.accounts, left_on="account_id", right_on="id", how="anti").height == 0
    assert (
        leads["source"] == data.touchpoints.group_by("lead_id", maintain_order=True).first()["channel"]
    ).all()


def test_touchpoints_by_marketing_and_sales(example_plan: AlignmentPlan, data: Dataset) -> None:
    touches = data.touchpoints
    marketing_people = {p.id for p in example_plan.people_in("marketing")}
    sales_people = {p.id for p in example_plan.people_in("sales")}
    by_team = dict(touches.group_by("team").agg(pl.col("owner").unique()).iter_rows())
    assert set(by_team) == {"marketing", "sales"}
    assert set(by_team["marketing"]) <= marketing_people
    assert set(by_team["sales"]) <= sales_people
    sales_channels = {"sdr_call", "sdr_email", "demo", "meeting"}
    assert set(touches.filter(pl.col("team") == "sales")["channel"]) == sales_channels
    marketing_channels = set(touches.filter(pl.col("team") == "marketing")["channel"])
    assert {
        "paid_search",
        "organic",
        "webinar",
        "content",
        "email",
        "social",
        "events",
        "referral",
    } <= marketing_channels
    assert {"demo_request", "pricing_page"} <= marketing_channels  # the personas' readiness signals
    lengths = touches.group_by("lead_id").len()["len"]
    assert lengths.min() == 1
    assert lengths.max() <= 20  # type: ignore[operator]
    assert 4.2 < lengths.mean() < 4.8  # type: ignore[operator]


def test_handed_off_leads_are_worked_within_the_sla_mostly(
    example_plan: AlignmentPlan, data: Dataset
) -> None:
    sla = example_plan.sla
    assert sla is not None
    assert sla.sales.first_response is not None
    handoff = example_plan.journey.handoffs()[0]
    first_handoff = (
        data.stage_events.filter((pl.col("from") == handoff.source) & (pl.col("to") == handoff.to))
        .group_by("lead_id")
        .agg(pl.col("time").min().alias("handoff"))
    )
    cutoff = datetime(2026, 10, 1, tzinfo=UTC)  # handoffs this recent may not be worked yet
    worked = first_handoff.join(data.activities, on="lead_id", how="semi")
    old = first_handoff.filter(pl.col("handoff") < cutoff)
    assert old.join(worked, on="lead_id", how="anti").height == 0
    assert set(data.activities["person"]) <= {p.id for p in example_plan.people_in("sales")}
    assert set(data.activities["type"]) == {"call", "email", "meeting"}

    # The first response, measured in business hours with a reference clock, breaches for ~20%.
    responses = (
        data.activities.join(first_handoff, on="lead_id")
        .filter(pl.col("time") > pl.col("handoff"))
        .group_by("lead_id")
        .agg(pl.col("time").min().alias("response"), pl.col("handoff").first(), pl.col("type").first())
        .join(data.leads.select(pl.col("id").alias("lead_id"), "grade", "persona"), on="lead_id")
        .sort("lead_id")
        .head(400)
    )
    allowed = set(sla.sales.first_response.activities)
    closed = _closed_days(sla.calendar, range(2025, 2028))
    late = 0
    for row in responses.iter_rows(named=True):
        assert row["type"] in allowed
        hours = [sla.sales.first_response.within_hours] + [
            t.first_response_hours
            for t in sla.tiers
            if t.first_response_hours is not None
            and (row["grade"] in t.grades or row["persona"] in t.personas)
        ]
        late += (
            business_minutes(sla.calendar, row["handoff"], row["response"], closed) > float(min(hours)) * 60
        )
    assert 0.12 <= late / responses.height <= 0.28


def test_dispositions_follow_the_agreement(example_plan: AlignmentPlan, data: Dataset) -> None:
    sla = example_plan.sla
    assert sla is not None
    assert sla.sales.disposition is not None
    assert sla.sales.attempts is not None
    agreed = sla.sales.disposition
    dispositions = data.dispositions
    assert set(dispositions["reason"]) == set(agreed.reasons)
    handoffs = data.stage_events.filter(pl.col("to") == example_plan.journey.handoffs()[0].to)
    # Only leads whose handoff the CRM lost (a skipped stage, one of the deviations) lack the event.
    assert dispositions.join(handoffs, on="lead_id", how="anti").height < dispositions.height / 100

    # Leads handed off once, long enough ago: most have a disposition in time, some late, some none.
    once = (
        handoffs.group_by("lead_id")
        .agg(pl.col("time").first().alias("handoff"), pl.len())
        .filter(pl.col("len") == 1)
    )
    once = once.filter(pl.col("handoff") < datetime(2026, 8, 1, tzinfo=UTC)).sort("lead_id")
    joined = once.join(dispositions, on="lead_id", how="left").sort("lead_id")
    missing = joined["reason"].null_count() / joined.height
    assert 0.04 <= missing <= 0.16
    closed = _closed_days(sla.calendar, range(2025, 2028))
    given = joined.filter(pl.col("reason").is_not_null()).head(500)
    days = [business_days(sla.calendar, a, b, closed) for a, b in given.select("handoff", "time").iter_rows()]
    late = sum(d > agreed.within_business_days for d in days) / len(days)
    assert 0.05 <= late <= 0.25

    # 'Unable to reach' mostly after the required attempts, but not always.
    unable = joined.filter(pl.col("reason") == agreed.unable_to_reach_reason)
    attempts = (
        unable.select("lead_id", pl.col("time").alias("decided"))
        .join(data.activities, on="lead_id")
        .filter(pl.col("time") <= pl.col("decided"))
        .group_by("lead_id")
        .len()
        .join(data.leads.select(pl.col("id").alias("lead_id"), "grade"), on="lead_id")
    )
    required = {t.grades[0]: t.min_attempts for t in sla.tiers if t.grades and t.min_attempts}
    short = [n < required.get(grade, sla.sales.attempts.minimum) for _, n, grade in attempts.iter_rows()]
    assert 0 < sum(short) < len(short) / 2


def test_deals_follow_the_leads(example_plan: AlignmentPlan, data: Dataset) -> None:
    deals = data.deals
    assert set(deals["amount_currency"]) == {"EUR", "USD"}
    regions = deals.join(data.leads.select(pl.col("id").alias("lead_id"), "region"), on="lead_id")
    american = regions.filter(pl.col("region") == "north_america")
    assert set(american["amount_currency"]) == {"USD"}
    assert set(regions.filter(pl.col("region") != "north_america")["amount_currency"]) == {"EUR"}
    # Deals come from leads that reached an opportunity-kind stage; the stage matches the lead's outcome.
    kinds = sorted(s.id for s in example_plan.journey.stages if s.kind == "opportunity")
    opportunity = data.stage_events.filter(pl.col("to").is_in(kinds))
    assert deals.join(opportunity, on="lead_id", how="anti").height == 0
    terminal = {s.id: s.terminal for s in example_plan.journey.terminal_stages()}
    outcome = (
        data.stage_events.join(deals.select("lead_id", "created_at"), on="lead_id")
        .filter(pl.col("to").is_in(sorted(terminal)) & (pl.col("time") >= pl.col("created_at")))
        .group_by("lead_id")
        .agg(pl.col("to").first())
    )
    expected = {"won": "won", "lost": "lost", "disqualified": "lost"}
    checked = deals.join(outcome, on="lead_id", how="left")
    for stage, to in checked.select("stage", "to").iter_rows():
        assert stage == (expected[terminal[to]] if to else "open")  # type: ignore[index]
    # Amounts around the plan's average deal size, in whole units; the Deal validators accept them all.
    assert example_plan.targets is not None
    average = example_plan.targets.average_deal_size.amount
    mean = deals["amount"].cast(pl.Float64).mean()
    assert 0.85 * float(average) < mean < 1.15 * float(average)  # type: ignore[operator]
    records = data.records("deals")
    assert all(d.amount.amount == d.amount.amount.to_integral_value() for d in records)
    won = [d for d in records if d.stage == "won"]
    refunded = [d for d in won if d.refunded_on is not None]
    assert refunded
    assert all(0 < (d.refunded_on - d.close_date).days <= 90 for d in refunded)
    assert all(d.close_date is not None for d in records if d.stage != "open")
    assert any(d.discount is not None for d in records)
    split = [d for d in records if d.splits]
    assert split
    assert all(sorted(s.share for s in d.splits) == [Decimal("0.4"), Decimal("0.6")] for d in split)
    account_executives = {p.id for p in example_plan.people if p.role == "account_executive"}
    assert set(deals["owner"]) == account_executives


# --------------------------------------------------------------------------------------------------
# Plans with little in them, and bad input.


def test_minimal_plan_uses_fallbacks(minimal: tuple[AlignmentPlan, Dataset]) -> None:
    _, data = minimal
    assert data.leads.height == 400
    assert set(data.stage_events["to"]) <= {"mql", "won"}
    assert data.leads["persona"].null_count() == 400
    assert set(data.touchpoints.filter(pl.col("team") == "mkt")["owner"].unique()) == {None}
    assert set(data.activities["person"]) == {"sales-rep-1", "sales-rep-2"}
    assert set(data.dispositions["reason"]) <= {
        "qualified",
        "not_a_fit",
        "no_budget",
        "bad_timing",
        "unable_to_reach",
    }
    assert set(data.deals["stage"]) == {"won"}
    assert data.leads["status"].null_count() == 400
    back = Dataset.from_records(**{kind: data.records(kind) for kind in data.frames()})
    for kind, frame in data.frames().items():
        assert getattr(back, kind).equals(frame), kind


def test_one_lead_and_other_windows(example_plan: AlignmentPlan) -> None:
    one = synthetic(example_plan, seed=0, n_leads=1)
    assert one.leads.height == 1
    assert one.stage_events.height >= 1
    short = synthetic(example_plan, seed=0, n_leads=200, end=date(2026, 3, 31), months=2)
    created = short.leads["created_at"]
    assert created.min() >= datetime(2026, 2, 1, tzinfo=UTC)  # type: ignore[operator]
    assert created.max() < datetime(2026, 4, 1, tzinfo=UTC)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seed": 1, "n_leads": 0}, ValueError, "n_leads must be at least 1, not 0"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int, not -1"),
        ({"seed": 1, "months": 0}, ValueError, "months must be at least 1, not 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int, not float"),
        ({"seed": True}, TypeError, "seed must be an int, not bool"),
        ({"seed": 1, "n_leads": "10"}, TypeError, "n_leads must be an int, not str"),
        ({"seed": 1, "end": datetime(2026, 1, 1, tzinfo=UTC)}, TypeError, "end must be a datetime.date"),
    ],
)
def test_bad_arguments_are_rejected(
    example_plan: AlignmentPlan, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(".", r"\.")):
        synthetic(example_plan, **kwargs)  # type: ignore[arg-type]


def test_plan_must_be_a_plan() -> None:
    with pytest.raises(TypeError, match="plan must be an AlignmentPlan"):
        synthetic({"name": "x"}, seed=1)  # type: ignore[arg-type]


def test_a_closed_calendar_is_refused(example_plan: AlignmentPlan) -> None:
    # The generator runs on the library's one business clock, which refuses a calendar that never opens
    # (the generator's own clock used to count every minute of it as open).
    sla = example_plan.sla
    assert sla is not None
    closed = sla.calendar.model_copy(update={"hours": {}, "holidays": None, "open_dates": []})
    plan = example_plan.model_copy(update={"sla": sla.model_copy(update={"calendar": closed})})
    with pytest.raises(ClosedCalendarError, match=r"the SLA calendar .* is not open at all between"):
        synthetic(plan, seed=1, n_leads=10)
