"""The ``smarketing sla`` command and the SLA section of the demo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from smarketing import cli
from smarketing.plan import load_plan
from smarketing.records import Dataset, Lead, StageEvent

CONTRACT = [
    "lead_id",
    "owner",
    "tier",
    "handoff_at",
    "first_response_at",
    "first_response_hours",
    "response_status",
    "attempts",
    "attempts_status",
    "disposition_at",
    "disposition_reason",
    "disposition_status",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_on_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sla", "examples/plan.yaml", "--seed", "3", "--leads", "300")
    assert (code, err) == (0, "")
    assert out.startswith("SLA as of 2026-11-01 00:00 UTC: sales met ")
    assert "marketing delivered" in out
    for heading in ("Marketing: leads delivered per period", "Sales by team", "Sales by rep"):
        assert heading in out


def test_csv_has_the_contract_columns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sla", "examples/plan.yaml", "--leads", "200", "--format", "csv")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert set(CONTRACT) <= set(header)


def test_json_is_the_report_as_dict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "sla",
        "examples/plan.yaml",
        "--leads",
        "100",
        "--format",
        "json",
        "--as-of",
        "2026-10-15T00:00:00+00:00",
    )
    assert code == 0
    data = json.loads(out)
    assert data["as_of"] == "2026-10-15T00:00:00+00:00"
    assert {
        "summary",
        "leads",
        "breaches",
        "marketing",
        "by_rep",
        "by_team",
        "by_period",
        "weekly",
        "counts",
    } <= set(data)


def test_reads_a_folder_of_parquet_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    t = datetime(2026, 10, 5, 8, tzinfo=UTC)
    ds = Dataset.from_records(
        leads=[Lead(id="L1", created_at=t, owner="nina.brandt")],
        stage_events=[StageEvent(lead_id="L1", source="mql", to="sal", time=t)],
    )
    for kind, frame in ds.frames().items():
        frame.write_parquet(tmp_path / f"{kind}.parquet")
    code, out, _ = run(capsys, "sla", "examples/plan.yaml", "--data", str(tmp_path), "--format", "csv")
    assert code == 0
    rows = pl.read_csv(out.encode())
    # as_of defaults to the latest fact (the handoff itself): the response is pending
    assert rows.select("lead_id", "response_status").rows() == [("L1", "pending")]


def test_bad_data_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pl.DataFrame({"lead_id": ["L1"], "to": ["sal"], "time": [datetime(2026, 10, 5)]}).write_parquet(
        tmp_path / "stage_events.parquet"
    )
    code, _, err = run(
        capsys, "sla", "examples/plan.yaml", "--data", str(tmp_path), "--as-of", "2026-10-06T00:00:00+00:00"
    )
    assert code == 2
    assert err.startswith(
        f"smarketing sla: {tmp_path / 'stage_events.parquet'}: stage_events: time: naive datetimes"
    )
    assert err.count("\n") == 1


def test_plan_without_sla(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = load_plan("examples/plan.yaml").model_dump(mode="json", by_alias=True, exclude_defaults=True)
    del plan["sla"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, _, err = run(capsys, "sla", str(path), "--leads", "50")
    assert code == 2
    assert "sla: the plan has no SLA" in err


def test_demo_has_the_sla_results(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    section = out.split("SLA results: both sides, as the synthetic data ends\n", 1)[1]
    assert section.split("\n")[1].startswith("SLA as of 2026-11-01 00:00 UTC: sales met ")
