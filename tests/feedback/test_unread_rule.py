"""D013: feedback older than UNREAD_DAYS at the data's end that no team has read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import smarketing as sm
from smarketing.records import Dataset, Feedback, Lead

PLAN = sm.load_plan("examples/plan.yaml")
END = datetime(2026, 10, 31, 12, tzinfo=UTC)


def _data(*feedback: tuple[str, int, list[str]]) -> Dataset:
    return Dataset.from_records(
        leads=[Lead(id="L1", created_at=END - timedelta(days=100))],
        feedback=[
            Feedback(id=i, lead_id="L1", time=END - timedelta(days=age), source="survey", seen_by=seen)
            for i, age, seen in feedback
        ],
    )


def _found(data: Dataset) -> list[sm.Diagnostic]:
    return list(sm.check(PLAN, data=data, select=["D013"]).diagnostics)


def test_fires_on_old_unread_feedback_only() -> None:
    # F1 15 days old, unread: reported. F2 older but read by sales. F3 unread but 14 days old (not older).
    # F4 is the data's end.
    data = _data(("F1", 15, []), ("F2", 40, ["sales"]), ("F3", 14, []), ("F4", 0, []))
    (d,) = _found(data)
    assert d.code == "D013"
    assert d.severity == "warning"
    assert d.records == ("F1",)
    assert d.message.startswith("1 feedback older than 14 days at the data's end (2026-10-31)")
    assert d.path == "feedback.seen_by"


def test_quiet_when_read_recent_or_absent() -> None:
    assert _found(_data(("F1", 30, ["marketing"]), ("F2", 3, []))) == []
    assert _found(Dataset()) == []
    assert list(sm.check(PLAN, select=["D013"]).diagnostics) == []
