"""Journey analytics: hand-computed fixtures, bad input, and the kernels against the reference."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.calendar import WEEKDAYS, BusinessCalendar
from smarketing.errors import DataError
from smarketing.journey import (
    JourneyMap,
    conformance,
    diff,
    discover,
    funnel,
)
from smarketing.records import Dataset, Lead, StageEvent
from smarketing.testing.strategies import aware_datetimes, business_calendars, journey_maps, stage_events

# The reference lives beside this file; tests import in importlib mode, so load it by path.
_spec = importlib.util.spec_from_file_location("journey_reference", Path(__file__).with_name("reference.py"))
assert _spec is not None
assert _spec.loader is not None
ref = importlib.util.module_from_spec(_spec)
sys.modules["journey_reference"] = ref
_spec.loader.exec_module(ref)

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
laws = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def ev(lead: str, stage: str, hours: float, source: str | None = None) -> StageEvent:
    return StageEvent(lead_id=lead, source=source, to=stage, time=T0 + timedelta(hours=hours))


@pytest.fixture(scope="module")
def jm(example_plan: Any) -> JourneyMap:
    journey: JourneyMap = example_plan.journey
    return journey


# A hand-computed log on the example journey (days as hours * 24).
#   a: lead -> mql -> sal -> lead (recycle) -> mql -> sal -> sql -> opportunity -> customer
#   b: lead -> mql -> sal -> disqualified
#   c: lead -> mql                (open at the end)
#   d: mql -> sal                 (entered mid-journey: skips lead)
#   e: lead -> sql                (skip) -> opportunity -> closed_lost -> lead (after terminal)
D = 24
LOG = [
    *(ev("a", s, h * D) for s, h in [("lead", 0), ("mql", 1), ("sal", 2), ("lead", 4), ("mql", 5)]),
    *(ev("a", s, h * D) for s, h in [("sal", 6), ("sql", 8), ("opportunity", 9), ("customer", 12)]),
    *(ev("b", s, h * D) for s, h in [("lead", 0), ("mql", 2), ("sal", 3), ("disqualified", 4)]),
    *(ev("c", s, h * D) for s, h in [("lead", 1), ("mql", 2)]),
    *(ev("d", s, h * D) for s, h in [("mql", 0), ("sal", 1)]),
    *(ev("e", s, h * D) for s, h in [("lead", 0), ("sql", 1), ("opportunity", 3)]),
    *(ev("e", s, h * D) for s, h in [("closed_lost", 4), ("lead", 6)]),
]
STEPS = ["lead", "mql", "sal", "sql", "opportunity", "customer"]


def counts(report: Any) -> dict[str, tuple[int, ...]]:
    return {
        r.stage: (r.reached, r.advanced, r.moved_on, r.recycled, r.lost, r.open, r.entries, r.reentered)
        for r in report.rows
    }


def test_ordered_funnel_by_hand(jm: JourneyMap) -> None:
    report = funnel(jm, LOG, stages=STEPS)
    #         reached advanced moved recycled lost open entries reentered
    assert counts(report) == {
        "lead": (4, 3, 4, 0, 0, 0, 6, 2),  # a b c e; e never reaches mql; a and e come back to lead
        "mql": (3, 2, 2, 0, 0, 1, 4, 1),  # a b c (d skipped lead); c open
        "sal": (2, 1, 0, 1, 1, 0, 3, 1),  # a recycles from its first sal entry, b is disqualified
        "sql": (1, 1, 1, 0, 0, 0, 1, 0),
        "opportunity": (1, 1, 1, 0, 0, 0, 1, 0),
        "customer": (1, 0, 0, 0, 0, 1, 1, 0),
    }
    assert report.row("lead").conversion == Decimal("0.7500")
    assert report.row("customer").conversion is None
    assert report.row("customer").cumulative == Decimal("0.2500")
    assert report.row("mql").drop_off == 1
    # time in lead of the stays that ended: a 1d, b 2d, c 1d, e 1d -> lower median 1d, p90 (idx 2) 1d
    assert report.row("lead").time_median == timedelta(days=1)
    assert report.row("sal").time_median == timedelta(days=1)  # a: 2 days, b: 1 day -> lower median


def test_any_funnel_by_hand(jm: JourneyMap) -> None:
    report = funnel(jm, LOG, stages=STEPS, mode="any")
    assert [r.reached for r in report.rows] == [4, 4, 3, 2, 2, 1]
    # d counts at mql by any route; e counts at sql and opportunity although it skipped mql and sal.
    assert report.row("opportunity").lost == 1
    assert report.row("mql").cumulative == Decimal("1.0000")


def test_default_steps_leave_out_lost_terminals(jm: JourneyMap) -> None:
    report = funnel(jm, LOG)
    assert report.steps == ("subscriber", *STEPS)
    assert report.row("subscriber").reached == 0
    assert report.row("lead").reached == 0  # ordered: nobody entered subscriber first
    assert report.row("lead").cumulative is None


def test_as_of_leaves_leads_open_and_counts_later_events(jm: JourneyMap) -> None:
    report = funnel(jm, LOG, stages=STEPS, as_of=T0 + timedelta(days=2, hours=12))
    assert report.row("mql").open == 2  # b and c are in mql at the as_of; a moved on to sal
    assert report.row("sal").reached == 1
    assert report.counts.after_as_of == sum(1 for e in LOG if e.time > T0 + timedelta(days=2, hours=12))


def test_funnel_by_attribute_and_cohort(jm: JourneyMap) -> None:
    leads = [
        Lead(id="a", created_at=T0, persona="ops"),
        Lead(id="b", created_at=T0, persona="finance"),
        Lead(id="c", created_at=T0, persona="ops"),
    ]
    report = funnel(jm, LOG, stages=["lead", "mql"], leads=leads, by="persona")
    assert report.groups() == ["finance", "ops", None]
    assert report.row("lead", "ops").reached == 2
    assert report.row("lead", None).reached == 1  # e: not in leads
    assert report.unmatched_leads == 2  # d and e
    dataset = Dataset.from_records(leads=leads, stage_events=LOG)
    assert funnel(jm, dataset, stages=["lead", "mql"], by="persona").rows == report.rows
    cohorts = funnel(jm, LOG, stages=["lead"], by="cohort_month")
    assert cohorts.groups() == ["2026-10"]


def test_report_forms(jm: JourneyMap) -> None:
    report = funnel(jm, LOG, stages=STEPS)
    frame = report.to_frame()
    assert frame.columns[:3] == ["group", "stage", "reached"]
    assert frame.schema["time_median"] == pl.Duration("us")
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["rows"][0]["time_median"] == "86400"
    assert "ordered funnel" in repr(report)
    assert "<table>" in report._repr_html_()
    assert report.chart(width=8).splitlines()[0] == "lead         ########  4"


BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar(
    timezone="Europe/Berlin", hours={d: ["09:00-17:00"] for d in WEEKDAYS[:5]}, holidays={"country": "DE"}
)


def at(lead: str, stage: str, *wall: int) -> StageEvent:
    return StageEvent(lead_id=lead, to=stage, time=datetime(*wall, tzinfo=BERLIN))  # type: ignore[misc]


def test_business_time_in_stage_by_hand(jm: JourneyMap) -> None:
    log = [
        # Christmas: Thursday 24 December 16:00 to Monday 28 December 11:00. Friday the 25th is a public
        # holiday, then the weekend: 1 hour on Thursday + 2 on Monday = 3 business hours in `lead`.
        at("x", "lead", 2026, 12, 24, 16),
        at("x", "mql", 2026, 12, 28, 11),
        at("x", "sal", 2026, 12, 28, 15, 30),  # 4.5 business hours in `mql`
        # The clocks go back on Sunday 25 October: Friday 16:00 CEST to Monday 10:00 CET is 67 real hours
        # (not the 66 the wall clocks show) and 1 + 1 = 2 business hours.
        at("y", "lead", 2026, 10, 23, 16),
        at("y", "mql", 2026, 10, 26, 10),
        # Within one working day, before and after the lunch-free office hours: 09:00 to 17:00 of 8 hours.
        at("z", "lead", 2026, 10, 27, 8),
        at("z", "mql", 2026, 10, 27, 18),
    ]
    report = funnel(jm, log, stages=["lead", "mql", "sal"], calendar=OFFICE)
    lead = report.row("lead")
    # Stays in `lead`: x 3h (calendar 3 days 19h), y 2h (67h), z 8h (10h); lower median and p90 (index 1).
    assert (lead.business_median, lead.business_p90) == (timedelta(hours=3), timedelta(hours=3))
    assert (lead.time_median, lead.time_p90) == (timedelta(hours=67), timedelta(hours=67))
    assert report.row("mql").business_median == timedelta(hours=4, minutes=30)
    assert report.row("sal").business_median is None  # no stay in `sal` ended
    # The same stays measured on a calendar open all Sunday: the Sunday the clocks go back has 25 hours.
    sundays = BusinessCalendar(timezone="Europe/Berlin", hours={"sun": ["00:00-24:00"]})
    y = funnel(jm, log[3:5], stages=["lead", "mql"], calendar=sundays).row("lead")
    assert y.business_median == timedelta(hours=25)
    assert funnel(jm, log, stages=["lead", "mql"]).row("lead").business_median is None  # no calendar


def test_business_time_by_group_and_in_every_form(jm: JourneyMap) -> None:
    log = [
        at("x", "lead", 2026, 12, 24, 16),
        at("x", "mql", 2026, 12, 28, 11),
        at("y", "lead", 2026, 10, 23, 16),
        at("y", "mql", 2026, 10, 26, 10),
        at("z", "lead", 2026, 10, 27, 8),
        at("z", "mql", 2026, 10, 27, 18),
    ]
    leads = [Lead(id="x", created_at=T0, persona="ops"), Lead(id="y", created_at=T0, persona="ops")]
    report = funnel(jm, log, stages=["lead", "mql"], leads=leads, by="persona", calendar=OFFICE)
    assert report.groups() == ["ops", None]
    assert report.row("lead", "ops").business_median == timedelta(hours=2)  # x 3h, y 2h: lower median
    assert report.row("lead", "ops").business_p90 == timedelta(hours=2)
    assert report.row("lead", None).business_median == timedelta(hours=8)  # z, not in leads
    frame = report.to_frame()
    assert frame.schema["business_median"] == pl.Duration("us")
    assert frame["business_median"].to_list()[:1] == [timedelta(hours=2)]
    data = report.to_dict()
    assert data["rows"][0]["business_median"] == "7200"
    assert data["calendar"]["timezone"] == "Europe/Berlin"
    assert json.loads(json.dumps(data)) == data
    text = repr(report)
    assert "business time in Europe/Berlin" in text.splitlines()[0]
    assert "business median" in text
    assert "business p90" in text
    assert ">business median</th>" in report._repr_html_()
    assert "business hours</td>" in report._repr_html_()
    plain = funnel(jm, log, stages=["lead", "mql"])
    assert "business" not in repr(plain)
    assert plain.to_frame()["business_median"].null_count() == plain.to_frame().height


def test_business_time_when_the_calendar_is_closed_throughout(jm: JourneyMap) -> None:
    # A calendar whose only open date is long past: no business time passes during any stay.
    closed = BusinessCalendar(timezone="UTC", hours={}, open_dates=[date(2020, 1, 6)])
    report = funnel(jm, LOG, stages=STEPS, calendar=closed)
    assert report.row("lead").business_median == timedelta(0)
    assert report.row("lead").time_median == timedelta(days=1)


def test_conformance_by_hand(jm: JourneyMap) -> None:
    report = conformance(jm, LOG)
    assert (report.leads, report.fit, report.fitness) == (5, 0, Decimal(0))
    found = {v.kind: (v.count, v.leads) for v in report.violations if v.count}
    # every lead starts at lead or mql, not at the entry stage subscriber: 5 skips at the start
    assert found == {"skip": (6, 5), "after_terminal": (1, 1)}
    assert [str(m) for m in report.violation("after_terminal").examples] == [
        "e: closed_lost -> lead at 2026-10-07T09:00:00+00:00"
    ]
    assert report.team("marketing").violations == 6  # starts in marketing stages, and e's lead -> sql
    assert report.team("sales").violations == 1
    assert report.to_frame().get_column("lead_id").to_list() == ["a", "b", "c", "d", "e"]


def test_conformance_recycle_limit_and_fit_leads(jm: JourneyMap) -> None:
    hops = ["subscriber", "lead", "mql", "sal", "lead", "mql", "sal", "lead", "mql", "sal", "lead"]
    log = [ev("x", s, i, source="subscriber" if i == 0 else None) for i, s in enumerate(hops)]
    log += [ev("y", s, i) for i, s in enumerate(["subscriber", "lead", "mql"])]
    report = conformance(jm, log)
    assert report.violation("recycle_limit").count == 1  # the third sal -> lead
    assert report.violation("not_in_map").count == 1  # x's first event claims from subscriber -> subscriber
    assert (report.fit, report.leads) == (1, 2)
    assert report.team("sales").fitness == Decimal(0)


def test_discover_by_hand() -> None:
    g = discover(LOG)
    assert g.edges["lead", "mql"]["count"] == 4
    assert g.edges["sal", "lead"]["median"] == timedelta(days=2)
    assert g.nodes["lead"] == {"count": 6, "start": 4, "end": 1}
    assert g.graph["leads"] == 5
    assert not discover(LOG, min_count=3).has_edge("sal", "lead")


# --------------------------------------------------------------------------------------------------
# Bad input: counted by a documented rule, or a DataError naming the record.


def test_duplicates_unknown_stages_and_out_of_order_are_counted(jm: JourneyMap) -> None:
    log = [
        ev("a", "lead", 0),
        ev("a", "lead", 0),  # duplicate
        ev("a", "webinar", 1),  # unknown stage
        ev("a", "mql", 2, source="sal"),  # says it came from sal: out of order
    ]
    report = funnel(jm, log, stages=["lead", "mql"])
    assert report.counts.duplicates == 1
    assert (report.counts.unknown_stage_events, report.counts.unknown_stages) == (1, ("webinar",))
    assert report.counts.from_mismatch == 1
    assert report.row("lead").moved_on == 1  # the unknown stage is set aside
    assert "1 duplicate event(s) dropped" in repr(report)
    assert conformance(jm, log).violation("unknown_stage").count == 1


def test_events_into_different_unknown_stages_at_one_instant_are_not_duplicates(jm: JourneyMap) -> None:
    # Unknown stages share one code inside the kernel; their names still tell two events apart.
    log = [
        ev("a", "lead", 0),
        ev("a", "webinar", 1),
        ev("a", "trade_show", 1),
        ev("a", "mql", 2, source="webinar"),
        ev("a", "mql", 2, source="trade_show"),
        ev("a", "mql", 2, source="trade_show"),  # the only duplicate
    ]
    report = funnel(jm, log, stages=["lead", "mql"])
    assert report.counts.duplicates == 1
    counts = report.counts
    assert (counts.unknown_stage_events, counts.unknown_stages) == (2, ("trade_show", "webinar"))
    assert conformance(jm, log).violation("unknown_stage").count == 2
    # The same events interleaved (a duplicate not next to its twin), in any order, as the first events
    # of their lead: the duplicate is found, and what is reported does not depend on the order.
    log = [
        ev("b", "webinar", 1),
        ev("b", "trade_show", 1),
        ev("b", "webinar", 1),  # a duplicate of the first
        ev("b", "mql", 2, source="webinar"),
        ev("b", "mql", 2, source="trade_show"),
        ev("b", "mql", 2, source="webinar"),  # a duplicate, two rows apart
    ]
    seen = set()
    for shuffled in (log, log[::-1], log[1:] + log[:1], [log[i] for i in (4, 0, 5, 2, 1, 3)]):
        counts = funnel(jm, shuffled, stages=["lead", "mql"]).counts
        assert (counts.duplicates, counts.unknown_stage_events) == (2, 2)
        violation = conformance(jm, shuffled).violation("unknown_stage")
        seen.add((violation.count, repr(violation)))
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"lead_id": None, "to": "mql", "time": T0}, "lead_id"),
        ({"lead_id": "L7", "to": None, "time": T0}, "to"),
        ({"lead_id": "L8", "to": "mql", "time": None}, "time"),
    ],
)
def test_missing_values_raise_naming_the_record(jm: JourneyMap, row: dict[str, Any], field: str) -> None:
    frame = pl.DataFrame(
        [{"lead_id": "ok", "to": "lead", "time": T0}, row],
        schema={"lead_id": pl.String, "to": pl.String, "time": pl.Datetime("us", "UTC")},
    )
    with pytest.raises(DataError, match=f"{field}: required value is missing \\(1 row") as info:
        funnel(jm, frame)
    assert info.value.field == field
    assert info.value.record == row["lead_id"]


def test_naive_times_and_wrong_columns_raise(jm: JourneyMap) -> None:
    naive = pl.DataFrame({"lead_id": ["a"], "to": ["mql"], "time": [datetime(2026, 10, 1)]})
    with pytest.raises(DataError, match="naive"):
        discover(naive)
    with pytest.raises(DataError, match="missing column"):
        conformance(jm, pl.DataFrame({"lead_id": ["a"], "to": ["mql"]}))
    with pytest.raises(DataError, match="must be a datetime"):
        funnel(jm, pl.DataFrame({"lead_id": ["a"], "to": ["mql"], "time": ["2026-10-01"]}))
    with pytest.raises(ValueError, match="timezone-aware"):
        funnel(jm, LOG, as_of=datetime(2026, 10, 1))


def test_bad_options(jm: JourneyMap) -> None:
    with pytest.raises(ValueError, match="unknown funnel step 'won'"):
        funnel(jm, LOG, stages=["lead", "won"])
    with pytest.raises(ValueError, match="needs leads"):
        funnel(jm, LOG, by="persona")
    with pytest.raises(ValueError, match="mode"):
        funnel(jm, LOG, mode="strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_count"):
        discover(LOG, min_count=0)
    leads = [Lead(id="a", created_at=T0), Lead(id="a", created_at=T0)]
    with pytest.raises(DataError, match="lead a: id: the id appears more than once"):
        funnel(jm, LOG, leads=leads, by="persona")


def test_other_frame_libraries_and_timezones(jm: JourneyMap) -> None:
    frame = Dataset.from_records(stage_events=LOG).stage_events
    berlin = frame.with_columns(pl.col("time").dt.convert_time_zone("Europe/Berlin"))
    expected = counts(funnel(jm, LOG, stages=STEPS))
    assert counts(funnel(jm, berlin, stages=STEPS)) == expected
    assert counts(funnel(jm, berlin.lazy(), stages=STEPS)) == expected
    no_from = pl.DataFrame({"lead_id": [1, 1], "to": ["lead", "mql"], "time": [T0, T0 + timedelta(1)]})
    assert discover(no_from).edges["lead", "mql"]["count"] == 1


def test_input_in_order_is_not_sorted_again_and_gives_the_same_results(jm: JourneyMap) -> None:
    # A log in the analysis order (as CRM exports often are) takes the path without the sort; the same
    # log shuffled, with a duplicate and a tie at one instant, is sorted first. Both must agree.
    tie = ev("c", "sal", 2 * D, source="lead")  # same instant as c's mql: plan order puts mql first
    log = [*LOG, LOG[0], tie]
    frame = Dataset.from_records(stage_events=log).stage_events
    in_order = (
        frame.with_columns(
            pl.col("to").replace_strict({s.id: i for i, s in enumerate(jm.stages)}, default=99).alias("_k")
        )
        .sort("lead_id", "time", "_k")
        .drop("_k")
    )
    shuffled = in_order.sample(fraction=1.0, shuffle=True, seed=1)
    for mode in ("ordered", "any"):
        a = funnel(jm, in_order, stages=STEPS, mode=mode, calendar=OFFICE)  # type: ignore[arg-type]
        b = funnel(jm, shuffled, stages=STEPS, mode=mode, calendar=OFFICE)  # type: ignore[arg-type]
        assert a.rows == b.rows
        assert a.counts == b.counts
    assert a.counts.duplicates == 1
    assert conformance(jm, in_order).to_dict() == conformance(jm, shuffled).to_dict()
    assert conformance(jm, in_order).to_frame().equals(conformance(jm, shuffled).to_frame())
    # Time in nanoseconds or milliseconds: the same durations, in whole microseconds.
    for unit in ("ns", "ms"):
        other = funnel(jm, in_order.with_columns(pl.col("time").dt.cast_time_unit(unit)), stages=STEPS)
        assert [r.time_p90 for r in other.rows] == [r.time_p90 for r in funnel(jm, LOG, stages=STEPS).rows]


# --------------------------------------------------------------------------------------------------
# The kernels against the reference, on generated journeys and logs.

maps_and_logs = journey_maps(max_stages=5).flatmap(
    lambda jm: st.tuples(
        st.just(jm),
        stage_events([s.id for s in jm.stages], unknown=["zz"], max_leads=4, max_events=14),
    )
)


@laws
@given(maps_and_logs, st.sampled_from(["ordered", "any"]), st.integers(0, 45))
def test_funnel_matches_reference(case: tuple[JourneyMap, list[StageEvent]], mode: str, cut: int) -> None:
    jm, log = case
    steps = [s.id for s in jm.stages if s.terminal not in ref.LOST] or [jm.stages[0].id]
    as_of = None if cut > 40 else T0 + timedelta(hours=cut)
    report = funnel(jm, log, stages=steps, mode=mode, as_of=as_of)  # type: ignore[arg-type]
    expected = ref.funnel(jm, log, steps=steps, mode=mode, as_of=as_of)
    for r in report.rows:
        times = ("t50", "t90", "b50", "b90")
        got = {k: getattr(r, k) for k in expected[r.stage] if k not in times}
        assert got == {k: v for k, v in expected[r.stage].items() if k not in times}, r.stage
        assert (r.time_median, r.time_p90) == (expected[r.stage]["t50"], expected[r.stage]["t90"])
        assert r.moved_on + r.recycled + r.lost + r.open == r.reached
    _, quality = ref.sequences(log, [s.id for s in jm.stages], as_of=as_of)
    assert report.counts.duplicates == quality["duplicates"]
    assert report.counts.after_as_of == quality["after_as_of"]
    assert report.counts.unknown_stage_events == quality["unknown"]
    assert report.counts.from_mismatch == quality["from_mismatch"]


@laws
@given(maps_and_logs)
def test_conformance_matches_reference(case: tuple[JourneyMap, list[StageEvent]]) -> None:
    jm, log = case
    report = conformance(jm, log)
    expected = ref.conformance(jm, log)
    lead_fit = report.to_frame()
    assert dict(zip(lead_fit["lead_id"], lead_fit["violations"], strict=True)) == expected["per_lead"]
    assert {v.kind: (v.count, v.leads) for v in report.violations if v.count} == expected["kinds"]
    teams = {t.team: (t.leads, t.fit, t.violations) for t in report.by_team if t.team is not None}
    assert teams == expected["teams"]
    assert report.fit == sum(1 for n in expected["per_lead"].values() if n == 0)


@laws
@given(stage_events(["a", "b", "c", "d"], unknown=["e"], max_leads=5, max_events=20))
def test_discover_matches_reference_and_ignores_input_order(log: list[StageEvent]) -> None:
    if not log:
        return
    g = discover(log)
    edges, nodes = ref.dfg(log)
    assert {(u, v): (d["count"], d["median"]) for u, v, d in g.edges(data=True)} == edges
    assert dict(g.nodes(data=True)) == nodes
    assert list(g.edges) == sorted(g.edges)
    reversed_log = discover(list(reversed(log)))
    assert list(reversed_log.edges(data=True)) == list(g.edges(data=True))


@laws
@given(maps_and_logs, st.sampled_from(["ordered", "any"]))
def test_funnel_does_not_depend_on_input_order_or_offsets(
    case: tuple[JourneyMap, list[StageEvent]], mode: str
) -> None:
    jm, log = case
    if all(s.terminal in ref.LOST for s in jm.stages):
        with pytest.raises(ValueError, match="pass stages="):
            funnel(jm, log)
        return
    shifted = [e.model_copy(update={"time": e.time.astimezone(timezone(timedelta(hours=9)))}) for e in log]
    a = funnel(jm, log, mode=mode)  # type: ignore[arg-type]
    b = funnel(jm, list(reversed(shifted)), mode=mode)  # type: ignore[arg-type]
    assert a.rows == b.rows
    assert a.counts == b.counts


@laws
@given(
    maps_and_logs,
    st.sampled_from(["ordered", "any"]),
    business_calendars(),
    aware_datetimes(),
    st.sampled_from([timedelta(minutes=37), timedelta(hours=5, minutes=11), timedelta(hours=23)]),
)
def test_business_time_in_stage_matches_the_calendar(
    case: tuple[JourneyMap, list[StageEvent]],
    mode: str,
    calendar: BusinessCalendar,
    start: datetime,
    step: timedelta,
) -> None:
    # Spread the log's grid of hours over weeks from any start (order and ties kept), so stays cross
    # nights, weekends, holidays and DST changes; then every stay's business time is the calendar's own.
    jm, log = case
    # (In UTC: Python adds a timedelta to a zoneinfo time as wall time.)
    origin = start.astimezone(UTC)
    spread = [
        e.model_copy(
            update={"time": (origin + (e.time - T0) / timedelta(hours=1) * step).astimezone(e.time.tzinfo)}
        )
        for e in log
    ]
    steps = [s.id for s in jm.stages if s.terminal not in ref.LOST] or [jm.stages[0].id]
    report = funnel(jm, spread, stages=steps, mode=mode, calendar=calendar)  # type: ignore[arg-type]
    expected = ref.funnel(jm, spread, steps=steps, mode=mode, calendar=calendar)
    for r in report.rows:
        want = expected[r.stage]
        assert (r.time_median, r.time_p90) == (want["t50"], want["t90"]), r.stage
        assert (r.business_median, r.business_p90) == (want["b50"], want["b90"]), r.stage
    assert funnel(jm, spread, stages=steps, mode=mode).rows == tuple(  # type: ignore[arg-type]
        attrs.evolve(r, business_median=None, business_p90=None) for r in report.rows
    )


# --------------------------------------------------------------------------------------------------
# Diff and drawings.


@laws
@given(journey_maps(max_stages=4), journey_maps(max_stages=4))
def test_diff_laws(a: JourneyMap, b: JourneyMap) -> None:
    d = diff(a, b)
    assert not diff(a, a)
    assert {s.id for s in d.merged.stages} == {s.id for s in a.stages} | {s.id for s in b.stages}
    pairs = {(t.source, t.to) for t in d.merged.transitions}
    assert pairs == {(t.source, t.to) for t in [*a.transitions, *b.transitions]}
    back = diff(b, a)
    assert {s.id for s in back.stages_added} == {s.id for s in d.stages_removed}
    assert len(back.changes) == len(d.changes)
    assert d.to_frame().height == len(d._rows())
    assert json.loads(json.dumps(d.to_dict())) == d.to_dict()
    assert JourneyMap.model_validate(d.to_dict()["merged"]) == d.merged


def test_diff_of_two_drafts(jm: JourneyMap) -> None:
    sales = jm.model_copy(
        update={
            "stages": [
                s.model_copy(update={"owner": "sales"}) if s.id == "mql" else s
                for s in jm.stages
                if s.id != "subscriber"
            ],
            "transitions": [t for t in jm.transitions if t.source != "subscriber"],
        }
    )
    d = diff(jm, sales)
    assert [s.id for s in d.stages_removed] == ["subscriber"]
    assert [(t.source, t.to) for t in d.transitions_removed] == [("subscriber", "lead")]
    assert [str(c) for c in d.conflicts] == ["stage mql: owner 'marketing' -> 'sales'"]
    assert d.merged == jm
    assert "3 difference(s)" in repr(d)


@laws
@given(journey_maps(max_stages=6))
def test_drawings_name_every_stage(jm: JourneyMap) -> None:
    mermaid = jm.to_mermaid()
    svg = jm._repr_html_()
    assert mermaid.startswith("flowchart LR")
    assert all(f'"{s.name}"' in mermaid for s in jm.stages)
    assert svg.count("<rect") == len(jm.stages) + len({s.owner for s in jm.stages})
    assert svg.count("marker-end=") == len(jm.transitions)


def test_helpers(jm: JourneyMap) -> None:
    assert [s.id for s in jm.stages_owned_by("marketing")] == ["subscriber", "lead", "mql"]
    assert [(t.source, t.to) for t in jm.handoffs()] == [("mql", "sal")]
    assert jm.path_exists("sal", "customer")
    assert not jm.path_exists("customer", "sal")
    text = jm.to_mermaid()
    assert "s2 ==>|handoff| s3" in text
    assert "s3 -.->|recycle| s1" in text
    assert 'stroke-dasharray="5,4"' in jm.to_svg()


def test_nanoseconds_apart_keep_their_order_when_the_log_is_sorted(jm: JourneyMap) -> None:
    # Two events a nanosecond apart: packing times in a coarser unit must not tie them (the stage codes
    # would then order them the other way).
    rows = [("a", "mql", 1), ("a", "lead", 2), ("a", "sal", 86_400 * 10**9), ("b", "lead", 5)]
    after = pl.Series([r[2] for r in rows]).cast(pl.Duration("ns"))
    in_order = pl.DataFrame({"lead_id": [r[0] for r in rows], "to": [r[1] for r in rows]}).with_columns(
        time=pl.lit(T0).cast(pl.Datetime("ns", "UTC")) + after
    )
    reordered = in_order.reverse()
    assert conformance(jm, reordered).to_dict() == conformance(jm, in_order).to_dict()
    assert conformance(jm, in_order).violation("regression").count == 1  # mql, then lead


@laws
@given(maps_and_logs, st.randoms(use_true_random=False), st.sampled_from([64, 1, 2, 3]))
def test_results_do_not_depend_on_row_order_or_hash_collisions(
    case: tuple[JourneyMap, list[StageEvent]], rng: Any, hash_bits: int
) -> None:
    # The same log in lead order, shuffled (also in nanoseconds), and grouped by lead in another order
    # than the ids': every report is identical. With 1-3 bits of hash, leads collide: the kernels must
    # notice and still agree.
    jm, log = case
    if not log or all(s.terminal in ref.LOST for s in jm.stages):
        return
    frame = Dataset.from_records(stage_events=log).stage_events.with_columns(
        pl.col("to").replace_strict({s.id: i for i, s in enumerate(jm.stages)}, default=99).alias("_k")
    )
    ordered = frame.sort("lead_id", "time", "_k", maintain_order=True).drop("_k")
    rows = list(range(len(frame)))
    rng.shuffle(rows)
    shuffled = ordered[rows]
    leads = sorted(set(frame["lead_id"]))
    rng.shuffle(leads)
    grouped = ordered.join(pl.DataFrame({"lead_id": leads, "_g": range(len(leads))}), on="lead_id").sort(
        "_g", maintain_order=True
    )

    def reports(events: pl.DataFrame) -> tuple[Any, ...]:
        c = conformance(jm, events, examples=2)
        g = discover(events)
        return (
            *(funnel(jm, events, mode=m).to_dict() for m in ("ordered", "any")),  # type: ignore[arg-type]
            funnel(jm, events, by="cohort_month").to_dict(),
            c.to_dict(),
            c.to_frame().rows(),
            sorted(g.nodes(data=True)),
            sorted(g.edges(data=True)),
        )

    expected = reports(ordered)
    from smarketing.journey import _kernel

    old = _kernel._HASH_BITS
    _kernel._HASH_BITS = hash_bits
    try:
        assert reports(shuffled) == expected
        assert reports(grouped.drop("_g")) == expected
        # Nanosecond times holding whole microseconds (as exports often do) are packed in the coarser unit.
        assert reports(shuffled.with_columns(pl.col("time").cast(pl.Datetime("ns", "UTC")))) == expected
    finally:
        _kernel._HASH_BITS = old
