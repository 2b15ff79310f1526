"""feedback.dispositions: a hand-computed fixture, grouping, as_of, reprs and the one-reason law."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.feedback import DispositionReport, dispositions

PLAN = sm.load_plan("examples/plan.yaml")
# Monday 5 October 2026, 06:00 UTC = 08:00 in Berlin (CEST), the opening of the SLA's business day.
T0 = datetime(2026, 10, 5, 6, tzinfo=UTC)


def _event(lead: str, to: str, at: datetime, source: str | None = None) -> sm.StageEvent:
    return sm.StageEvent.model_validate({"lead_id": lead, "from": source, "to": to, "time": at})


def _disp(lead: str, reason: str, at: datetime) -> sm.Disposition:
    return sm.Disposition(lead_id=lead, reason=reason, time=at)


def _fixture() -> dict[str, Any]:
    """Eight leads; the expected numbers are worked out by hand in the tests below.

    Business hours on the example SLA's calendar (Berlin; Mon-Thu 08:00-12:30, 13:30-17:30; Fri to 16:00):
    A 08:00 -> 14:00 Monday = 4.5 + 0.5 = 5.0 h; B Monday 08:00 -> Tuesday 09:00 = 8.5 + 1 = 9.5 h;
    C Monday 08:00 -> Wednesday 08:00 = 17.0 h; D Friday 16:00 (closed) -> Monday 08:30 = 0.5 h.
    """
    tue, wed = T0 + timedelta(days=1), T0 + timedelta(days=2)
    fri = datetime(2026, 10, 9, 14, tzinfo=UTC)
    mon2 = datetime(2026, 10, 12, 6, 30, tzinfo=UTC)
    events = [
        _event("A", "mql", T0),
        _event("B", "mql", T0),
        _event("C", "mql", T0),
        _event("C", "sal", T0 + timedelta(hours=1), "mql"),
        _event("C", "lead", wed, "sal"),  # a recycle after acceptance
        _event("D", "mql", fri),
        _event("E", "mql", T0),
        _event("E", "sal", T0 + timedelta(hours=2), "mql"),
        _event("F", "mql", T0),
        _event("H", "mql", T0),
        _event("H", "disqualified", tue + timedelta(hours=3), "sal"),  # rejected by a move, no disposition
    ]
    disps = [
        _disp("A", "not_a_fit", T0 + timedelta(hours=6)),
        _disp("B", "no_budget", tue + timedelta(hours=1)),
        _disp("B", "bad_timing", tue + timedelta(hours=1)),  # same time: the smaller reason wins
        _disp("B", "competitor", tue + timedelta(hours=5)),  # later: not B's reason
        _disp("C", "bad_timing", wed),
        _disp("D", "wrong_list", datetime(2026, 10, 8, 9, tzinfo=UTC)),  # before D's handoff
        _disp("D", "spam", mon2),
        _disp("G", "not_a_fit", T0),  # G was never handed off
    ]
    campaigns = {
        "A": "web",
        "B": "web",
        "C": "ads",
        "D": "ads",
        "E": "web",
        "F": None,
        "G": "web",
        "H": "ads",
    }
    leads = [
        sm.Lead(id=x, created_at=T0 - timedelta(days=30), campaign=c, owner="sam")
        for x, c in campaigns.items()
    ]
    deal = sm.Deal(
        id="deal-C",
        lead_id="C",
        amount=sm.Money("1000", "EUR"),
        stage="won",
        created_at=wed,
        close_date=date(2026, 11, 20),
    )
    return {"stage_events": events, "dispositions": disps, "leads": leads, "deals": [deal]}


def test_overall_numbers_by_hand() -> None:
    report = dispositions(PLAN, _fixture())
    row = report.overall.row(0, named=True)
    assert row["handed_off"] == 7  # A B C D E F H
    assert (row["accepted"], row["rejected"], row["recycled"], row["recycled_won"]) == (2, 4, 1, 1)
    assert row["rejection_rate"] == pytest.approx(4 / 7)
    assert row["recycle_rate"] == pytest.approx(1 / 7)
    assert row["recycled_to_won"] == 1.0
    assert (row["disposed"], row["undisposed"]) == (4, 3)
    # sorted hours 0.5, 5.0, 9.5, 17.0: median at index floor(3 * 0.5) = 1, p90 at floor(3 * 0.9) = 2
    assert (row["median_hours"], row["p90_hours"]) == (5.0, 9.5)
    assert report.undisposed_examples == ("E", "F", "H")


def test_each_lead_gets_its_first_reason_after_the_handoff() -> None:
    report = dispositions(PLAN, _fixture())
    leads = report.leads
    assert leads["lead_id"].to_list() == ["A", "B", "C", "D", "E", "F", "H"]
    assert dict(zip(leads["lead_id"], leads["reason"], strict=True)) == {
        "A": "not_a_fit",
        "B": "bad_timing",
        "C": "bad_timing",
        "D": "spam",
        "E": None,
        "F": None,
        "H": None,
    }
    assert leads.filter(pl.col("hours").is_not_null())["hours"].to_list() == [5.0, 9.5, 17.0, 0.5]
    assert report.to_frame().select("reason", "rejected", "recycled").rows() == [
        ("bad_timing", 1, 1),
        ("not_a_fit", 1, 0),
        ("spam", 1, 0),
        (None, 1, 0),
    ]


def test_reasons_off_the_list() -> None:
    unknown = dispositions(PLAN, _fixture()).unknown_reasons
    assert unknown is not None
    assert unknown.rows() == [("spam", 1, 1, ["D"]), ("wrong_list", 1, 1, ["D"])]


def test_by_campaign_and_week() -> None:
    report = dispositions(PLAN, _fixture(), by="campaign")
    assert report.groups is not None
    assert report.groups.select("campaign", "handed_off", "rejected", "recycled").rows() == [
        ("ads", 3, 2, 1),  # C D H
        ("web", 3, 2, 0),  # A B E
        (None, 1, 0, 0),  # F
    ]
    assert report.reasons.filter(pl.col("campaign") == "ads")["rejection_rate"].to_list() == [
        0.0,
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
    ]
    weekly = dispositions(PLAN, _fixture(), by="week")
    assert weekly.groups is not None
    assert weekly.groups.select("week", "handed_off").rows() == [(date(2026, 10, 5), 7)]
    owner = dispositions(PLAN, _fixture(), by=["owner", "campaign"])
    assert owner.groups is not None
    assert owner.groups.height == 3


def test_as_of_takes_the_data_as_it_was() -> None:
    as_of = T0 + timedelta(days=1, hours=6)  # Tuesday 12:00 UTC
    report = dispositions(PLAN, _fixture(), as_of=as_of)
    row = report.overall.row(0, named=True)
    assert (row["handed_off"], row["accepted"], row["rejected"], row["recycled"]) == (6, 2, 3, 0)
    assert report.unknown_reasons is not None
    assert report.unknown_reasons.is_empty()
    assert report.undisposed_examples == ("C", "E", "F", "H")


def test_without_an_sla_no_hours_and_no_agreed_list() -> None:
    plan = PLAN.model_copy(update={"sla": None})
    report = dispositions(plan, _fixture())
    assert report.unknown_reasons is None
    assert report.agreed_reasons is None
    assert report.leads["hours"].null_count() == report.leads.height
    assert "the plan agrees no reason list" in report.summary
    assert any("no time to disposition" in n for n in report.notes)


def test_bad_input_is_named() -> None:
    with pytest.raises(sm.DataError, match="no lead column 'nope'"):
        dispositions(PLAN, _fixture(), by="nope")
    with pytest.raises(ValueError, match="twice"):
        dispositions(PLAN, _fixture(), by=["campaign", "campaign"])
    with pytest.raises(ValueError, match="as_of"):
        dispositions(PLAN, _fixture(), as_of=datetime(2026, 10, 1))


def test_empty_data() -> None:
    report = dispositions(PLAN, {})
    row = report.overall.row(0, named=True)
    assert row["handed_off"] == 0
    assert row["rejection_rate"] is None
    assert row["median_hours"] is None
    assert report.to_frame().is_empty()
    assert "0 handed-off lead(s)" in repr(report)


def test_results_render() -> None:
    report = dispositions(PLAN, _fixture(), by="campaign")
    assert isinstance(report, DispositionReport)
    text = repr(report)
    assert "By reason:" in text
    assert "bad_timing" in text
    assert "Reasons not on the plan's list:" in text
    assert "5.0 h" in text  # the overall median in the summary
    assert "<table>" in report._repr_html_()
    out = report.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["unknown_reasons"][0] == {"reason": "spam", "dispositions": 1, "leads": 1, "examples": ["D"]}
    assert out["overall"]["handed_off"] == 7
    assert any("shows as a recycle" in n for n in out["notes"])


def test_same_inputs_same_outputs() -> None:
    one = dispositions(PLAN, _fixture(), by="campaign").to_dict()
    assert json.dumps(one) == json.dumps(dispositions(PLAN, _fixture(), by="campaign").to_dict())


REASONS = ["not_a_fit", "no_budget", "bad_timing", "spam"]
STAGES = ["lead", "mql", "sal", "disqualified"]


@st.composite
def _histories(draw: st.DrawFn) -> dict[str, Any]:
    leads = [f"L{i}" for i in range(draw(st.integers(1, 8)))]
    events, disps = [], []
    for lead in leads:
        for _ in range(draw(st.integers(0, 3))):
            source = draw(st.sampled_from([None, *STAGES]))
            to = draw(st.sampled_from(STAGES))
            events.append(_event(lead, to, T0 + timedelta(hours=draw(st.integers(0, 5))), source))
        for _ in range(draw(st.integers(0, 3))):
            at = T0 + timedelta(hours=draw(st.integers(0, 5)))
            disps.append(_disp(lead, draw(st.sampled_from(REASONS)), at))
    return {"stage_events": events, "dispositions": disps}


def _reference_reason(data: dict[str, Any], lead: str, handoff: datetime) -> str | None:
    after = [(d.time, d.reason) for d in data["dispositions"] if d.lead_id == lead and d.time >= handoff]
    return min(after)[1] if after else None


@settings(max_examples=30, deadline=None)
@given(_histories())
def test_every_rejected_lead_counted_under_exactly_one_reason(data: dict[str, Any]) -> None:
    report = dispositions(PLAN, data)
    row = report.overall.row(0, named=True)
    reasons = report.reasons
    assert int(reasons["rejected"].sum()) == row["rejected"] == report.leads["rejected"].sum()
    assert int(reasons["recycled"].sum()) == row["recycled"]
    assert reasons.select("reason").is_unique().all()
    assert row["disposed"] + row["undisposed"] == row["handed_off"] == report.leads.height
    assert row["accepted"] + row["rejected"] <= row["handed_off"]
    for lead, handoff, reason in report.leads.select("lead_id", "handoff_at", "reason").iter_rows():
        assert reason == _reference_reason(data, lead, handoff)
