"""customer_feedback: hand-computed fixtures and laws (scores never mixed, every feedback counted once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.feedback import customer_feedback
from smarketing.records import Dataset, Feedback, Lead, StageEvent

PLAN = sm.load_plan("examples/plan.yaml")
T = datetime(2026, 10, 1, 9, tzinfo=UTC)


def _fb(i: int, score_type: str, score: int | None, **kw: object) -> Feedback:
    return Feedback.model_validate(
        {"id": f"F{i}", "time": T, "source": "survey", "score_type": score_type, "score": score} | kw
    )


LEADS = [
    Lead(id="L1", account_id="A1", created_at=T - timedelta(days=30), persona="p1", campaign="c1"),
    Lead(id="L2", account_id="A1", created_at=T - timedelta(days=40), persona="p2", campaign="c2"),
    Lead(id="L3", created_at=T - timedelta(days=10), persona="p1", campaign="c1"),
]
EVENTS = [
    StageEvent(lead_id="L1", to="lead", time=T - timedelta(days=30)),
    StageEvent(lead_id="L1", source="lead", to="mql", time=T - timedelta(days=5)),
    StageEvent(lead_id="L1", source="mql", to="sal", time=T + timedelta(days=5)),
    StageEvent(lead_id="L2", to="lead", time=T - timedelta(days=40)),
]


def test_hand_computed_scores_by_persona() -> None:
    # p1 (L1 and L3): NPS 10, 9, 8, 6, 0 -> 2 promoters, 1 passive, 2 detractors: NPS (2-2)/5 = 0;
    # mean 33/5 = 6.6. CSAT 5, 4, 2 -> 2 of 3 satisfied, mean 11/3. One unscored call note.
    # p2: feedback about account A1 only goes to its first lead, L2 (created first): NPS 10 -> +100.
    feedback = [
        _fb(1, "nps", 10, lead_id="L1"),
        _fb(2, "nps", 9, lead_id="L3"),
        _fb(3, "nps", 8, lead_id="L1"),
        _fb(4, "nps", 6, lead_id="L1"),
        _fb(5, "nps", 0, lead_id="L3"),
        _fb(6, "csat", 5, lead_id="L1"),
        _fb(7, "csat", 4, lead_id="L1"),
        _fb(8, "csat", 2, lead_id="L1"),
        _fb(9, "none", None, lead_id="L1", source="call_note"),
        _fb(10, "nps", 10, account_id="A1"),
    ]
    report = customer_feedback(PLAN, {"leads": LEADS, "feedback": feedback})
    rows = {(r["persona"], r["score_type"]): r for r in report.scores.iter_rows(named=True)}
    nps = rows["p1", "nps"]
    assert (nps["feedback"], nps["promoters"], nps["passives"], nps["detractors"]) == (5, 2, 1, 2)
    assert nps["nps"] == 0.0
    assert nps["mean"] == pytest.approx(6.6)
    csat = rows["p1", "csat"]
    assert (csat["satisfied"], csat["satisfied_share"], csat["nps"]) == (2, pytest.approx(2 / 3), None)
    assert csat["mean"] == pytest.approx(11 / 3)
    none = rows["p1", "none"]
    assert (none["feedback"], none["scored"], none["mean"]) == (1, 0, None)
    assert rows["p2", "nps"]["nps"] == 100.0
    assert list(report.scores["score_type"]) == ["nps", "csat", "none", "nps"]  # scale order within a group


def test_stage_is_the_leads_stage_at_the_feedback_time() -> None:
    feedback = [
        _fb(1, "none", None, lead_id="L1"),  # at T: L1 entered mql at T-5d (sal comes at T+5d)
        _fb(2, "none", None, lead_id="L1", time=T - timedelta(days=10)),  # lead
        _fb(3, "none", None, lead_id="L3"),  # no events: no stage
        _fb(4, "none", None, lead_id="L1", time=T + timedelta(days=5)),  # at the same instant: sal
    ]
    data = {"leads": LEADS, "stage_events": EVENTS, "feedback": feedback}
    report = customer_feedback(PLAN, data, by=("stage",))
    assert dict(report.scores.select("stage", "feedback").iter_rows()) == {
        "lead": 1,
        "mql": 1,
        "sal": 1,
        None: 1,
    }
    early = customer_feedback(PLAN, data, by=("stage",), as_of=T)
    assert early.total == 3


def test_seen_by_team_function_and_tags() -> None:
    feedback = [
        _fb(1, "none", None, lead_id="L1", seen_by=["marketing"], tags=["pricing", "pricing"]),
        _fb(2, "none", None, lead_id="L1", seen_by=["marketing", "sales"], tags=["pricing", "speed"]),
        _fb(3, "none", None, lead_id="L1", seen_by=["revops"], tags=["speed"]),
        _fb(4, "none", None, lead_id="L1"),
    ]
    report = customer_feedback(PLAN, {"leads": LEADS, "feedback": feedback}, by=())
    seen = report.seen.row(0, named=True)
    assert (seen["feedback"], seen["seen_by_marketing"], seen["seen_by_sales"], seen["seen_by_neither"]) == (
        4,
        2,
        1,
        2,
    )
    assert seen["seen_by_neither_share"] == 0.5
    assert report.tags.rows() == [("pricing", 2), ("speed", 2)]
    assert "FeedbackReport(feedback=4, by=[])" in repr(report)
    assert report.to_dict()["seen"][0]["seen_by_sales"] == 1
    assert "<table" in report._repr_html_()


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown group"):
        customer_feedback(PLAN, Dataset(), by=("owner",))
    with pytest.raises(ValueError, match="timezone-aware"):
        customer_feedback(PLAN, Dataset(), as_of=datetime(2026, 1, 1))
    assert customer_feedback(PLAN, Dataset(), by=()).total == 0


_types = st.sampled_from(["nps", "csat", "ces", "none"])


@st.composite
def _feedback(draw: st.DrawFn) -> list[Feedback]:
    out = []
    for i in range(draw(st.integers(0, 25))):
        kind = draw(_types)
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.get(kind, (0, 0))
        score = None if kind == "none" else draw(st.integers(low, high))
        lead = draw(st.sampled_from(["L1", "L2", "L3"]))
        out.append(
            _fb(i, kind, score, lead_id=lead, seen_by=draw(st.lists(st.sampled_from(["marketing", "sales"]))))
        )
    return out


@settings(max_examples=20, deadline=None)
@given(feedback=_feedback(), by=st.sampled_from([(), ("persona",), ("campaign", "stage"), ("source",)]))
def test_every_feedback_is_counted_once_and_types_never_mix(
    feedback: list[Feedback], by: tuple[str, ...]
) -> None:
    report = customer_feedback(PLAN, {"leads": LEADS, "stage_events": EVENTS, "feedback": feedback}, by=by)
    assert report.total == len(feedback) == report.scores["feedback"].sum()
    # One row per group and type; each type's mean lies on its own scale.
    assert report.scores.select(*by, "score_type").is_unique().all()
    for row in report.scores.iter_rows(named=True):
        if row["mean"] is not None:
            low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[row["score_type"]]
            assert low <= row["mean"] <= high
        if row["nps"] is not None:
            assert row["score_type"] == "nps"
            assert -100 <= row["nps"] <= 100
    # The same data in another order gives the same report.
    again = customer_feedback(
        PLAN, {"leads": LEADS, "stage_events": EVENTS, "feedback": feedback[::-1]}, by=by
    )
    assert again.scores.equals(report.scores)
    assert again.seen.equals(report.seen)
    assert again.tags.equals(report.tags)
