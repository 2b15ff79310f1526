"""The `smarketing funnel` command and the journey sections of `smarketing demo`."""

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


def test_funnel_on_synthetic_data(capsys: pytest.CaptureFixture[str], example_plan_path: Path) -> None:
    code, out, _ = run(capsys, "funnel", str(example_plan_path), "--seed", "3", "--leads", "300")
    assert code == 0
    # Time in stage also in business time, on the SLA's calendar (as `smarketing sla` uses it).
    assert out.startswith("FunnelReport(ordered funnel, 300 leads, business time in Europe/Berlin)")
    assert "business median" in out.splitlines()[1]
    assert "\nsubscriber   " in out  # the chart
    _, again, _ = run(capsys, "funnel", str(example_plan_path), "--seed", "3", "--leads", "300")
    assert again == out
    code, plain, _ = run(
        capsys, "funnel", str(example_plan_path), "--seed", "3", "--leads", "300", "--calendar-time-only"
    )
    assert code == 0
    assert plain.startswith("FunnelReport(ordered funnel, 300 leads)")
    assert "business" not in plain


def test_funnel_formats_and_parquet_data(
    capsys: pytest.CaptureFixture[str], example_plan: AlignmentPlan, example_plan_path: Path, tmp_path: Path
) -> None:
    data = synthetic(example_plan, seed=5, n_leads=200)
    data.stage_events.write_parquet(tmp_path / "stage_events.parquet")
    data.leads.write_parquet(tmp_path / "leads.parquet")
    plan = str(example_plan_path)
    code, out, _ = run(capsys, "funnel", plan, "--data", str(tmp_path), "--format", "json", "--by", "persona")
    assert code == 0
    report = json.loads(out)
    assert report["by"] == "persona"
    assert {row["group"] for row in report["rows"]} >= {"ops-director", "finance-lead"}
    code, out, _ = run(
        capsys, "funnel", plan, "--data", str(tmp_path / "stage_events.parquet"), "--format", "csv"
    )
    assert code == 0
    frame = pl.read_csv(out.encode())
    assert frame.columns[:3] == ["group", "stage", "reached"]
    assert "time_median_us" in frame.columns
    # Business time on the plan's SLA calendar by default, wherever a stay ended.
    assert frame["business_median_us"].is_null().to_list() == frame["time_median_us"].is_null().to_list()
    assert frame["business_median_us"].null_count() < frame.height
    code, out, _ = run(
        capsys,
        "funnel",
        plan,
        "--data",
        str(tmp_path),
        "--as-of",
        "2026-06-01T00:00:00+02:00",
        "--mode",
        "any",
    )
    assert code == 0
    assert "any funnel" in out
    assert "as of 2026-06-01 00:00 CEST" in out
    assert "after as_of left out" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--as-of", "2026-06-01T10:00"], "has no UTC offset"),
        (["--data", "nowhere"], "no such parquet file"),
        (["--by", "persona", "--data", "."], "no such parquet file"),
    ],
)
def test_funnel_usage_errors(
    capsys: pytest.CaptureFixture[str], example_plan_path: Path, extra: list[str], message: str
) -> None:
    code, _, err = run(capsys, "funnel", str(example_plan_path), *extra)
    assert code == 2
    assert message in err


def test_funnel_reports_bad_data_without_traceback(
    capsys: pytest.CaptureFixture[str], example_plan_path: Path, tmp_path: Path
) -> None:
    pl.DataFrame({"lead_id": ["a"], "to": ["mql"], "time": ["2026-10-01"]}).write_parquet(
        tmp_path / "e.parquet"
    )
    code, _, err = run(capsys, "funnel", str(example_plan_path), "--data", str(tmp_path / "e.parquet"))
    assert code == 2
    where = tmp_path / "e.parquet"
    assert err == (
        f"smarketing funnel: {where}: stage_events: time: must be a datetime column with a time zone, "
        "not String; parse the text into that type before passing the frame\n"
    )


def test_demo_shows_the_funnel_and_conformance(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    assert "Journey funnel (ordered" in out
    assert "median in business hours" in out
    assert "Journey conformance" in out
    assert "leads fit the map" in out
