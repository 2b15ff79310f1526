"""The ``feedback`` record kind: model, frame checks, intake from text and the ``files`` connector."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from smarketing.connectors import FilesConnector
from smarketing.errors import DataError
from smarketing.records import Dataset, Feedback, Lead

T = datetime(2026, 10, 1, 9, tzinfo=UTC)


def test_feedback_needs_a_lead_or_an_account() -> None:
    with pytest.raises(ValidationError, match="lead_id or an account_id"):
        Feedback(id="F1", time=T, source="survey")
    assert Feedback(id="F1", account_id="A1", time=T, source="review").score_type == "none"


@pytest.mark.parametrize(
    ("score_type", "score", "ok"),
    [
        ("nps", 0, True),
        ("nps", 10, True),
        ("nps", 11, False),
        ("nps", -1, False),
        ("csat", 1, True),
        ("csat", 5, True),
        ("csat", 0, False),
        ("csat", 6, False),
        ("ces", 7, True),
        ("ces", 8, False),
        ("nps", None, False),
        ("none", None, True),
        ("none", 3, False),
    ],
)
def test_scores_lie_on_their_scale_in_records_and_frames(
    score_type: str, score: int | None, ok: bool
) -> None:
    row = {
        "id": "F1",
        "lead_id": "L1",
        "time": T,
        "source": "survey",
        "score_type": score_type,
        "score": score,
    }
    frame = pl.DataFrame([row], schema_overrides={"score": pl.Int64})
    if ok:
        Feedback.model_validate(row)
        assert Dataset(feedback=frame).feedback.height == 1
        return
    with pytest.raises(ValidationError, match="score"):
        Feedback.model_validate(row)
    with pytest.raises(DataError, match="feedback F1: score"):
        Dataset(feedback=frame)


def test_a_frame_without_lead_or_account_is_refused_naming_the_row() -> None:
    frame = pl.DataFrame(
        {"id": ["F1", "F2"], "lead_id": ["L1", None], "time": [T, T], "source": ["survey"] * 2}
    )
    with pytest.raises(DataError, match="feedback F2: lead_id: feedback needs a lead_id or an account_id"):
        Dataset(feedback=frame)


def test_records_and_frames_round_trip_with_lists() -> None:
    record = Feedback(
        id="F1",
        lead_id="L1",
        time=T,
        source="survey",
        score_type="nps",
        score=9,
        tags=["a", "b"],
        seen_by=["sales"],
    )
    data = Dataset.from_records(leads=[Lead(id="L1", created_at=T)], feedback=[record])
    assert data.feedback.schema["tags"] == pl.List(pl.String)
    assert data.records("feedback") == [record]
    assert Dataset(feedback=data.feedback.drop("tags", "seen_by")).feedback["tags"].to_list() == [[]]


def test_files_connector_reads_feedback_csv_with_lists_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("id,created_at\nL1,2026-09-01T09:00:00Z\n")
    (tmp_path / "feedback.csv").write_text(
        "id,lead_id,account_id,time,source,score_type,score,tags,seen_by\n"
        "F1,L1,,2026-10-01T09:00:00Z,survey,nps,9,pricing; onboarding,marketing\n"
        "F2,,,2026-10-01T09:00:00Z,review,csat,4,,\n"
        "F3,L9,,2026-10-01T09:00:00Z,call_note,,,;;,\n"
        "F4,L1,,2026-10-01T09:00:00Z,survey,csat,7,,\n"
        "F5,L1,,2026-10-01T09:00:00Z,chat,,,,\n"
    )
    data, report = FilesConnector(path=tmp_path).load(strict=False)
    assert data.feedback.to_dicts()[0] | {"time": None} == {
        "id": "F1",
        "lead_id": "L1",
        "account_id": None,
        "time": None,
        "source": "survey",
        "score_type": "nps",
        "score": 9,
        "tags": ["pricing", "onboarding"],
        "text": "",
        "seen_by": ["marketing"],
    }
    assert [str(r) for r in report.refusals] == [
        "feedback.csv:3: feedback F2: lead_id: feedback needs a lead_id or an account_id",
        "feedback.csv:4: feedback F3: lead_id: lead L9 is not in the load (leads.csv)",
        "feedback.csv:5: feedback F4: score: 7 is outside the csat scale 1 to 5",
        "feedback.csv:6: feedback F5: source: 'chat' is not one of 'survey', 'review', 'call_note', "
        "'support', 'interview', 'other'",
    ]


def test_files_connector_reads_json_arrays_as_lists(tmp_path: Path) -> None:
    (tmp_path / "feedback.jsonl").write_text(
        '{"id": "F1", "account_id": "A1", "time": "2026-10-01T09:00:00Z", "source": "review", '
        '"tags": ["pricing", "speed"], "seen_by": []}\n'
    )
    data, _ = FilesConnector(path=tmp_path).load()
    assert data.feedback.select("tags", "seen_by").row(0) == (["pricing", "speed"], [])
