"""The `smarketing waterfall` command and its demo section."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from smarketing import cli
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_waterfall_text_on_synthetic_data(
    capsys: pytest.CaptureFixture[str], example_plan_path: Path
) -> None:
    argv = ["waterfall", str(example_plan_path), "--seed", "3", "--leads", "300", "--period", "quarter"]
    code, out, _ = run(capsys, *argv, "--sourced", "team")
    assert code == 0
    assert out.startswith("Waterfall(cohort view by quarter, as of 2026-11-01 00:00 UTC")
    assert "SourcedInfluenced(by team, linear model" in out
    _, again, _ = run(capsys, *argv, "--sourced", "team")
    assert again == out


def test_waterfall_json_and_csv_from_files(
    capsys: pytest.CaptureFixture[str], example_plan: AlignmentPlan, example_plan_path: Path, tmp_path: Path
) -> None:
    data = synthetic(example_plan, seed=5, n_leads=200)
    for kind in ("leads", "stage_events", "deals", "touchpoints"):
        getattr(data, kind).write_parquet(tmp_path / f"{kind}.parquet")
    plan = str(example_plan_path)
    base = [plan, "--data", str(tmp_path), "--fx", "USD/EUR=0.92"]
    code, out, _ = run(
        capsys, "waterfall", *base, "--format", "json", "--by", "source_team", "--view", "period"
    )
    assert code == 0
    result = json.loads(out)
    assert result["view"] == "period"
    assert result["by"] == "source_team"
    assert result["currency"] == "EUR"
    assert {row["step"] for row in result["rows"]} == {"inquiry", "mql", "sal", "sql", "opportunity", "won"}
    code, out, _ = run(capsys, "waterfall", *base, "--format", "csv", "--period", "week")
    assert code == 0
    frame = pl.read_csv(out.encode())
    assert frame.columns[:5] == ["period", "group", "step", "cohort", "volume"]
    assert "velocity_seconds" in frame.columns
    assert frame["period"][0].startswith("20")
    code, out, _ = run(capsys, "waterfall", *base, "--format", "csv", "--sourced", "campaign")
    assert pl.read_csv(out.encode()).columns[:3] == ["key", "sourced_deals", "sourced_pipeline"]


def test_waterfall_without_fx_names_the_deal(
    capsys: pytest.CaptureFixture[str], example_plan: AlignmentPlan, example_plan_path: Path, tmp_path: Path
) -> None:
    data = synthetic(example_plan, seed=5, n_leads=200)
    for kind in ("leads", "stage_events", "deals"):
        getattr(data, kind).write_parquet(tmp_path / f"{kind}.parquet")
    code, _, err = run(
        capsys, "waterfall", str(example_plan_path), "--data", str(tmp_path), "--sourced", "team"
    )
    assert code != 0
    assert "pass fx=" in err


def test_demo_has_the_waterfall_section(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    section = out[out.index("Demand waterfall (cohorts by quarter") :]
    assert "Waterfall(cohort view by quarter" in section
    assert "SourcedInfluenced(by team" in section
