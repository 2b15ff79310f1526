"""The ``smarketing score`` command and the personas section of the demo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import smarketing as sm
from smarketing import cli
from smarketing.records import Dataset, Lead, Touchpoint

COLUMNS = ["lead_id", "persona", "fit", "engagement", "fit_grade", "band", "grade", "mql"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_on_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "score", "examples/plan.yaml", "--seed", "3", "--leads", "400")
    assert (code, err) == (0, "")
    assert out.startswith("400 lead(s) scored as of 2026-11-01 00:00 UTC: ")
    for heading in (
        "Leads and MQLs per persona",
        "Grades",
        "Marketing's MQL call and sales' acceptance",
        "Do the scores predict won deals?",
    ):
        assert heading in out
    assert "fit >= 35 and engagement >= 20" in out


def test_csv_is_one_row_per_lead(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "examples/plan.yaml", "--leads", "150", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split(",") == COLUMNS
    assert len(lines) == 151


def test_json_holds_scores_agreement_and_calibration(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "score", "examples/plan.yaml", "--seed", "7", "--leads", "120", "--format", "json"
    )
    assert code == 0
    body = json.loads(out)
    assert sorted(body) == ["agreement", "calibration", "explained", "scores"]
    plan = sm.load_plan("examples/plan.yaml")
    data = sm.datasets.synthetic(plan, seed=7, n_leads=120)
    expected = sm.score(plan, data, as_of=datetime(2026, 11, 1, tzinfo=UTC)).to_dict()
    assert body["scores"] == json.loads(json.dumps(expected, default=str))


def _folder(tmp_path: Path) -> Path:
    t = datetime(2026, 10, 1, 9, tzinfo=UTC)
    lead = Lead(
        id="L1",
        created_at=t,
        industry="logistics",
        company_size=800,
        region="dach",
        title="VP Supply Chain",
        seniority="vp",
    )
    touch = Touchpoint(id="T1", lead_id="L1", time=t, channel="webinar", team="marketing")
    Dataset.from_records(leads=[lead], touchpoints=[touch]).write(tmp_path / "data")
    return tmp_path / "data"


def test_data_folder_scores_at_its_latest_fact_and_explains(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    code, out, err = run(capsys, "score", "examples/plan.yaml", "--data", str(folder), "--explain", "L1")
    assert (code, err) == (0, "")
    assert out.startswith("1 lead(s) scored as of 2026-10-01 09:00 UTC: 1 with a persona")
    assert "L1 (ops-director): fit 50, engagement 10" in out
    assert "Attended a webinar" in out


def test_unknown_lead_to_explain_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "score", "examples/plan.yaml", "--data", str(_folder(tmp_path)), "--explain", "L404"
    )
    assert (code, out) == (2, "")
    assert "L404" in err
    assert len(err.strip().splitlines()) == 1


def test_csv_reads_back_as_the_scores(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "score", "examples/plan.yaml", "--data", str(_folder(tmp_path)), "--format", "csv"
    )
    assert code == 0
    path = tmp_path / "scores.csv"
    path.write_text(out)
    frame = pl.read_csv(path, schema_overrides={"band": pl.String})
    assert frame.row(0) == ("L1", "ops-director", 50.0, 10.0, "A", "2", "A2", False)


def test_the_demo_has_a_personas_section(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    assert "Personas at work (smarketing score)" in out


def test_an_audit_file_fills_the_not_mql_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = sm.load_plan("examples/plan.yaml")
    data = sm.datasets.synthetic(plan, seed=7, n_leads=300)
    ids = data.leads.get_column("id").head(40).to_list()
    audit = tmp_path / "audit.txt"
    audit.write_text("# reviewed blind in October\n" + "\n".join(f"  {i}  " for i in ids) + "\n\n")
    argv = ["score", "examples/plan.yaml", "--seed", "7", "--leads", "300", "--format", "json"]
    code, out, _ = run(capsys, *argv, "--audit", str(audit))
    assert code == 0
    expected = sm.agreement(plan, data, audit=ids).to_dict()
    assert json.loads(out)["agreement"] == json.loads(json.dumps(expected, default=str))


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "no such file"), (b"L1\n\xff\xfe\x00", "not UTF-8 text"), ("folder", "not a file")],
)
def test_a_bad_audit_file_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | str | None, words: str
) -> None:
    audit = tmp_path / "audit.txt"
    if content == "folder":
        audit.mkdir()
    elif isinstance(content, bytes):
        audit.write_bytes(content)
    code, out, err = run(capsys, "score", "examples/plan.yaml", "--leads", "50", "--audit", str(audit))
    assert (code, out) == (2, "")
    assert f"--audit {audit}" in err
    assert words in err
