"""The hubspot-export connector reads a feedback submissions export (hand-written, with HubSpot's quirks)."""

from __future__ import annotations

from pathlib import Path

from smarketing.connectors import HubSpotExport

CONTACTS = (
    "Record ID,Create Date,Lifecycle Stage,Became a Lead Date\n101,2026-09-01 09:00,Lead,2026-09-01 09:00\n"
)
FEEDBACK = (
    "\ufeffRecord ID,Survey Type,Rating,Submission Timestamp,Contact ID,Response,Survey Name\n"
    "9001,NPS,9,2026-10-01 10:30,101,Great onboarding,Quarterly NPS\n"
    "9002,CSAT,4,2026-10-02 08:00,101,,After-call CSAT\n"
    "9003,CUSTOM,Yes,2026-10-03 12:00,101,Would recommend,Custom\n"
    "9004,NPS,12,2026-10-04 12:00,101,,Quarterly NPS\n"
)


def test_feedback_submissions_become_feedback(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "feedback.csv").write_text(FEEDBACK, encoding="utf-8")
    data, report = HubSpotExport(path=tmp_path, time_zone="Europe/Berlin").load(strict=False, progress=False)
    rows = data.feedback.sort("id").select("id", "lead_id", "source", "score_type", "score", "text").rows()
    assert rows == [
        ("9001", "101", "survey", "nps", 9, "Great onboarding"),
        ("9002", "101", "survey", "csat", 4, ""),
        ("9003", "101", "survey", "none", None, "Would recommend Yes"),
    ]
    assert data.feedback.sort("id")["time"][0].isoformat() == "2026-10-01T08:30:00+00:00"  # Berlin, UTC+2
    (refused,) = report.refusals
    assert (refused.record, refused.column, refused.line) == ("9004", "Rating", 5)
    assert "outside the nps scale 0 to 10" in refused.reason
    assert any(d.kind == "feedback" and d.column == "Rating" and d.rows == 1 for d in report.defaults)
    assert any(m.source_value == "CUSTOM" and m.value == "none" for m in report.mappings)
    assert "Survey Name" in report.unused_columns["feedback.csv"]
