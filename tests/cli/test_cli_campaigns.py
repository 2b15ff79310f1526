"""The `smarketing campaigns` command and the demo's campaigns section."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from smarketing import cli
from smarketing.cli._demo import DEMO_SECTIONS
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan

WEB, PAID = "webinar-2026-q3", "paid_search-2026-q3"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_on_synthetic_data(capsys: pytest.CaptureFixture[str], example_plan_path: Path) -> None:
    args = ("campaigns", str(example_plan_path), "--seed", "3", "--leads", "400")
    code, out, _ = run(capsys, *args, "--campaign", WEB, "--campaign", PAID)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "campaigns as at 2026-11-01T00:00:00+00:00"
    assert lines[3].startswith(WEB)
    assert lines[4].startswith(PAID)
    assert "per lead" in out
    assert "EUR" in out
    assert run(capsys, *args, "--campaign", WEB, "--campaign", PAID)[1] == out


def test_json_and_csv_agree(capsys: pytest.CaptureFixture[str], example_plan_path: Path) -> None:
    args = ("campaigns", str(example_plan_path), "--seed", "3", "--leads", "400")
    _, as_json, _ = run(capsys, *args, "--format", "json")
    _, as_csv, _ = run(capsys, *args, "--format", "csv")
    rows = json.loads(as_json)["campaigns"]
    frame = pl.read_csv(as_csv.encode())
    assert frame.get_column("campaign").to_list() == [r["campaign"] for r in rows]
    assert frame.get_column("leads").to_list() == [r["leads"] for r in rows]
    assert frame.get_column("campaign").to_list() == sorted(frame.get_column("campaign").to_list())


def test_parquet_data_and_as_of(
    capsys: pytest.CaptureFixture[str], example_plan: AlignmentPlan, example_plan_path: Path, tmp_path: Path
) -> None:
    data = synthetic(example_plan, seed=3, n_leads=200)
    for kind in ("leads", "stage_events", "dispositions", "deals"):
        getattr(data, kind).write_parquet(tmp_path / f"{kind}.parquet")
    code, out, _ = run(
        capsys,
        "campaigns",
        str(example_plan_path),
        "--data",
        str(tmp_path),
        "--as-of",
        "2026-08-01",
        "--campaign",
        WEB,
        "--format",
        "json",
        "--fx",
        "USD/EUR=0.92",
    )
    assert code == 0
    assert json.loads(out)["as_of"] == "2026-07-31T22:00:00+00:00"  # midnight in the plan's zone, Berlin


def test_bad_input_is_an_error(capsys: pytest.CaptureFixture[str], example_plan_path: Path) -> None:
    code, _, err = run(
        capsys, "campaigns", str(example_plan_path), "--leads", "50", "--campaign", WEB, "--campaign", WEB
    )
    assert code != 0
    assert "more than once" in err


def test_demo_section(example_plan: AlignmentPlan) -> None:
    (campaigns_section,) = [s for s in DEMO_SECTIONS if s.__name__ == "campaigns_section"]
    text = campaigns_section(example_plan, synthetic(example_plan, seed=3, n_leads=300))
    assert text.startswith("Campaigns side by side (smarketing campaigns)")
    assert WEB in text
    assert "events-2026-q3" in text
    no_campaigns = example_plan.model_copy(update={"campaigns": []})
    assert campaigns_section(no_campaigns, synthetic(example_plan, seed=3, n_leads=50)).endswith(
        "the plan lists no campaigns"
    )
