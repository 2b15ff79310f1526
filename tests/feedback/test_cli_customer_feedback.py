"""The ``smarketing customer-feedback`` command and the demo's customer feedback section."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from smarketing import cli
from smarketing.records import Dataset, Feedback, Lead

T = "2026-10-01T09:00:00+00:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_on_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "customer-feedback", "examples/plan.yaml", "--leads", "400", "--by", "stage")
    assert (code, err) == (0, "")
    assert out.startswith("FeedbackReport(feedback=")
    assert "Seen by" in out
    assert "Top tags" in out


def test_json_and_csv_on_a_data_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lead = Lead.model_validate({"id": "L1", "created_at": T, "persona": "ops-director"})
    feedback = [
        Feedback.model_validate(
            {"id": f"F{i}", "lead_id": "L1", "time": T, "source": "survey", "score_type": "nps", "score": s}
        )
        for i, s in enumerate([10, 3])
    ]
    Dataset.from_records(leads=[lead], feedback=feedback).write(tmp_path)
    code, out, _ = run(
        capsys, "customer-feedback", "examples/plan.yaml", "--data", str(tmp_path), "--format", "json"
    )
    assert code == 0
    (row,) = json.loads(out)["scores"]
    assert (row["persona"], row["promoters"], row["detractors"], row["nps"]) == ("ops-director", 1, 1, 0.0)
    argv = [
        "customer-feedback",
        "examples/plan.yaml",
        "--data",
        str(tmp_path),
        "--format",
        "csv",
        "--by",
        "none",
    ]
    code, out, _ = run(capsys, *argv)
    assert out.splitlines()[1].startswith("nps,2,2,6.5,1,0,1,0.0,")
    code, out, _ = run(capsys, *argv[:-4], "--as-of", "2026-09-30")
    assert out == "no customer feedback\n"


def test_an_unknown_group_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "customer-feedback", "examples/plan.yaml", "--by", "owner")
    assert code == 2
    assert "unknown group(s) owner" in err


def test_the_demo_has_the_section(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    section = out[out.index("Customer feedback (smarketing customer-feedback)") :]
    assert section.split("\n")[2].startswith("FeedbackReport(feedback=")
