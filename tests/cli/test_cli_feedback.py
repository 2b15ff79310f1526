"""The ``smarketing feedback`` command and the feedback section of the demo."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import smarketing as sm
from smarketing import cli
from smarketing.datasets import synthetic


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_on_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "feedback", "examples/plan.yaml", "--seed", "3", "--leads", "400")
    assert (code, err) == (0, "")
    assert "handed-off lead(s), sales accepted" in out
    assert "Rejections and recycles by reason" in out
    assert "no disposition:" in out


def test_by_campaign_text_json_and_csv_agree(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("feedback", "examples/plan.yaml", "--seed", "5", "--leads", "300", "--by", "campaign")
    _, text, _ = run(capsys, *args)
    assert "By campaign" in text
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 0
    report = json.loads(out)
    plan = sm.load_plan("examples/plan.yaml")
    expected = sm.feedback.dispositions(plan, synthetic(plan, seed=5, n_leads=300), by="campaign")
    assert report == json.loads(json.dumps(expected.to_dict()))
    _, csv, _ = run(capsys, *args, "--format", "csv")
    lines = csv.splitlines()
    assert lines[0] == "campaign,reason,handed_off,rejected,rejection_rate,recycled,recycle_rate"
    assert len(lines) == expected.to_frame().height + 1


def test_as_of_and_data_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = sm.load_plan("examples/plan.yaml")
    synthetic(plan, seed=2, n_leads=200).write(tmp_path / "data")
    args = ("feedback", "examples/plan.yaml", "--data", str(tmp_path / "data"), "--format", "json")
    _, everything, _ = run(capsys, *args)
    code, early, _ = run(capsys, *args, "--as-of", "2026-03-01T00:00:00+00:00")
    assert code == 0
    assert json.loads(early)["overall"]["handed_off"] < json.loads(everything)["overall"]["handed_off"]
    assert json.loads(early)["as_of"] == "2026-03-01T00:00:00+00:00"


def test_unknown_column_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "feedback", "examples/plan.yaml", "--leads", "50", "--by", "nope")
    assert (code, out) == (2, "")
    assert "no lead column 'nope'" in err


def test_demo_has_the_section(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    assert "Feedback: sales' dispositions of marketing's leads (smarketing feedback)" in out
