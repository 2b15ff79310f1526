"""Tests for the smarketing command: demo, schema, validate, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import smarketing
import smarketing as sm
from smarketing import cli
from smarketing.cli import _demo as demo
from smarketing.cli._demo_story import with_trade_fair
from smarketing.datasets import synthetic
from smarketing.money import Money
from smarketing.plan import AlignmentPlan, dump_plan, load_plan, plan_json_schema

BARE_PLAN = """\
name: Tiny Co
teams:
  - {id: mkt, name: Marketing, function: marketing}
  - {id: sls, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: mkt, kind: mql}
    - {id: won, name: Won, owner: sls, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""

# Two problems: a stage kind that does not exist and a misspelt key.
BAD_PLAN = """\
name: Broken
teams:
  - {id: mkt, name: Marketing, function: marketing}
  - {id: sls, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: mkt, kind: mqll}
    - {id: won, name: Won, owner: sls, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
cadense: []
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------------
# demo


def test_demo_summarises_plan_and_data(
    cli_once: Callable[..., tuple[int, str, str]], example_plan: AlignmentPlan
) -> None:
    code, out, err = cli_once("demo", "--no-report")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "smarketing demo: examples/plan.yaml, seed 42, 5,000 synthetic leads"
    expected = [
        "Fernbrook Analytics FY2027",
        "handoff: mql -> sal (marketing hands over to sales)",
        "recycles: sal -> lead (at most 2x), sql -> lead (at most 2x)",
        "            6 attempts within 10 business days",
        "tiers       hot (grades A): 1 h, 8 attempts; finance (personas finance-lead): 2 h",
        "pool          8% of the net deal amount",
        "team split    sales 70%, marketing 30%",
        "arbiter: Ida Moreau (ida.moreau), rules within 5 business days",
    ]
    for line in expected:
        assert line in lines, line
    assert any(line.startswith("sales       first response within 4 business hours") for line in lines)
    assert any(line.split()[:2] == ["marketing", "Demand"] and line.split()[-1] == "4" for line in lines)
    assert any(line.split()[:3] == ["ops-director", "Operations", "Director"] for line in lines)
    assert any(line.startswith("mql_to_sql ") and "35%" in line for line in lines)
    assert any(line.split()[:2] == ["leads", "5,300"] for line in lines)

    # The data lines agree with the data the same seed gives, with the demo's trade fair added.
    data, fair = with_trade_fair(example_plan, synthetic(example_plan, seed=42, n_leads=5000), seed=42)
    assert fair is not None
    assert (fair.campaign.id, fair.leads, fair.week.isoformat()) == ("events-2026-q3", 300, "2026-09-07")
    assert lines[1].startswith("plus a story: 300 badge scans of 'Q3 trade fairs' (events-2026-q3)")
    assert any(line.split() == ["stage", "events", f"{data.stage_events.height:,}"] for line in lines)
    won = data.deals.filter(pl.col("stage") == "won")
    for currency in ("EUR", "USD"):
        total = Money(won.filter(pl.col("amount_currency") == currency)["amount"].sum(), currency)
        assert f"{total:,.2f}" in out
    qualified = data.dispositions.filter(pl.col("reason") == "qualified").height
    assert any(line.split()[:2] == ["qualified", f"{qualified:,}"] for line in lines)
    # The funnel rows are journey.funnel's on the same data (ordered: every earlier stage passed).
    report = sm.funnel(example_plan.journey, data.stage_events)
    opportunity = report.to_frame().filter(pl.col("stage") == "opportunity")["reached"].item()
    assert any(line.split()[:2] == ["opportunity", f"{opportunity:,}"] for line in lines)


def test_demo_shows_the_campaign_data_rules_on_its_trade_fair(
    cli_once: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, _ = cli_once("demo", "--no-report")
    assert code == 0
    section = out[out.index("Alignment check of the plan and the data") : out.index("For contrast:")]
    check = " ".join(section.split())  # diagnostics are wrapped to the demo's width
    # the fair's spike without notice, its campaign's rejections and the acceptance it pulls down
    assert "D014 warning: campaign 'events-2026-q3' brought 311 new leads in the week of 2026-09-07" in check
    assert "D012 warning: campaign 'events-2026-q3': sales rejected 267 of its 353 handed-off" in check
    assert "D008 warning: sales accepted 69.1%" in check
    assert "D006" not in check  # the demo gives its USD rate
    assert "EX001" not in out  # the test suite's plugin rule is not the user's
    assert max(len(line) for line in out.splitlines()) <= demo.WIDTH


def test_demo_fit_wraps_prose_and_table_rows_under_their_last_column() -> None:
    row = "  D1  pool  47.92   " + "word " * 30
    wrapped = demo.fit(row, 60).split("\n")
    assert all(len(line) <= 60 for line in wrapped)
    assert all(line.startswith(" " * 20) and line[20] != " " for line in wrapped[1:])
    prose = "  fix: " + "word " * 30
    assert all(line.startswith("      word") for line in demo.fit(prose, 60).split("\n")[1:])
    assert demo.fit("short\n  lines", 60) == "short\n  lines"


def test_demo_options_and_determinism(capsys: pytest.CaptureFixture[str], example_plan_path: Path) -> None:
    args = ("demo", "--plan", str(example_plan_path), "--seed", "7", "--leads", "300", "--no-report")
    code, first, _ = run(capsys, *args)
    assert code == 0
    assert "seed 7, 300 synthetic leads" in first
    _, again, _ = run(capsys, *args)
    assert again == first
    _, other, _ = run(capsys, *args[:5], "8", *args[6:])
    assert other != first


def test_demo_on_a_bare_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "tiny.yaml"
    plan.write_text(BARE_PLAN)
    code, out, _ = run(capsys, "demo", "--plan", str(plan), "--leads", "100")
    assert code == 0
    for heading in ("Personas", "Service level agreement", "Joint KPIs", "Shared reward"):
        assert f"{heading}\n{'-' * len(heading)}\nnone agreed yet" in out
    assert "arbiter: none named" in out
    assert (
        "Personas at work (smarketing score)\n-----------------------------------\nno personas to score"
        in out
    )


def test_demo_sections_can_be_appended(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = [*demo.DEMO_SECTIONS, lambda plan, data: f"{plan.name}: {data.leads.height} leads"]
    monkeypatch.setattr(demo, "DEMO_SECTIONS", extra)
    code, out, _ = run(capsys, "demo", "--leads", "50", "--no-report")
    assert code == 0
    # 50 synthetic leads, 3 from the fair, in the last section (the report's line is left out)
    assert out.endswith("\n\nFernbrook Analytics FY2027: 53 leads\n")


def test_demo_without_the_example_plan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "EXAMPLE_PLAN", Path("examples") / "missing.yaml")
    code, out, err = run(capsys, "demo")
    assert code == 2
    assert out == ""
    assert err.startswith("smarketing demo: cannot find the example plan")
    assert "pass --plan PATH" in err


def test_demo_with_a_bad_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text(BAD_PLAN)
    code, out, err = run(capsys, "demo", "--plan", str(plan))
    assert code == 2
    assert out == ""
    assert f"{plan}:7: journey.stages[0].kind: Input should be 'subscriber'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--leads", "0"], "argument --leads: must be between 1 and 1,000,000, not 0"),
        (["demo", "--seed", "-1"], "argument --seed: must be between 0 and 9223372036854775807, not -1"),
        (["demo", "--seed", "x"], "argument --seed: not a whole number: 'x'"),
        (["validate"], "the following arguments are required: PLAN"),
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("usage: smarketing")
    assert message in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "demo" in out
    assert "schema" in out
    assert "validate" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out == f"smarketing {smarketing.__version__}\n"


# --------------------------------------------------------------------------------------------------
# schema


def test_schema_prints_sorted_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema")
    assert code == 0
    assert err == ""
    schema = json.loads(out)
    assert schema == json.loads(json.dumps(plan_json_schema()))
    assert schema["title"] == "AlignmentPlan"
    assert out == json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_schema_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "plan.schema.json"
    code, out, _ = run(capsys, "schema", "--output", str(target))
    assert code == 0
    assert out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "AlignmentPlan"


def test_schema_to_an_unwritable_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "schema", "-o", str(tmp_path))  # a directory
    assert code == 1
    assert err.startswith(f"smarketing schema: cannot write {tmp_path}")


# --------------------------------------------------------------------------------------------------
# validate


def test_validate_ok(capsys: pytest.CaptureFixture[str], example_plan_path: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "validate", str(example_plan_path))
    assert (code, out, err) == (0, "OK: Fernbrook Analytics FY2027\n", "")
    as_json = tmp_path / "plan.json"
    as_json.write_text(dump_plan(load_plan(example_plan_path), format="json"))
    assert run(capsys, "validate", str(as_json))[:2] == (0, "OK: Fernbrook Analytics FY2027\n")


def test_validate_reports_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text(BAD_PLAN)
    code, out, err = run(capsys, "validate", str(plan))
    assert code == 2
    assert out == ""
    kinds = "'subscriber', 'lead', 'mql', 'sal', 'sql', 'opportunity', 'customer', 'evangelist' or 'other'"
    assert err.splitlines() == [
        f"{plan}:7: journey.stages[0].kind: Input should be {kinds} (got 'mqll')",
        f"{plan}:11: cadense: unknown key 'cadense'; did you mean 'cadence'?",
    ]
    # References are checked once the fields are valid.
    plan.write_text(
        BAD_PLAN.replace("owner: mkt, kind: mqll", "owner: marketting, kind: mql").replace(
            "cadense: []\n", ""
        )
    )
    code, _, err = run(capsys, "validate", str(plan))
    assert (code, err) == (2, f"{plan}:7: journey.stages[0].owner: unknown team 'marketting'\n")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.yaml", None, "no such plan file"),
        ("plan.yaml", "name: [unclosed\n", "invalid YAML"),
        ("plan.yaml", "- just\n- a list\n", "the plan must be a mapping"),
        ("plan", "name: no suffix\n", "required field missing"),
        ("plan.yaml", b"name: \xff\n", "not UTF-8 text"),
    ],
)
def test_validate_never_shows_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(str(path))
    assert message in err
    assert "Traceback" not in err


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("smarketing")
    if not script.exists():
        pytest.skip("the smarketing console script is not installed in this environment")
    # One real process: the entry point exists and its exit code reaches the shell.
    bad = subprocess.run(
        [script, "validate", tmp_path / "nope.yaml"], capture_output=True, text=True, check=False
    )
    assert (bad.returncode, bad.stdout, bad.stderr) == (
        2,
        "",
        f"{tmp_path / 'nope.yaml'}: no such plan file\n",
    )


def test_kpis_scorecard_from_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    from smarketing.cli import main

    assert (
        main(["kpis", "examples/plan.yaml", "--period", "2026-10", "--leads", "300", "--format", "json"]) == 0
    )
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["period"] == "2026-10"
    assert [row["kpi"] for row in data["rows"]][:3] == ["mql_to_sql", "sourced_pipeline", "new_revenue"]
    assert "speed_to_lead" in [row["kpi"] for row in data["rows"]]
    assert "left out" not in err


def test_kpis_reads_parquet_and_reports_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from smarketing.cli import main
    from smarketing.testing.fixtures import example_dataset

    for kind, frame in example_dataset().frames().items():
        frame.write_parquet(tmp_path / f"{kind}.parquet")
    assert (
        main(
            ["kpis", "examples/plan.yaml", "--data", str(tmp_path), "--period", "2026-10", "--format", "csv"]
        )
        == 0
    )
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].startswith("kpi,name,joint,group,period")
    assert "mql_volume,Marketing Qualified Lead volume,false,,2026-10,count,,5.000000" in out
    assert main(["kpis", "examples/plan.yaml", "--period", "Oct", "--leads", "10"]) == 2
    assert "cannot read period 'Oct'" in capsys.readouterr().err
    assert main(["kpis", "examples/plan.yaml", "--period", "2026-10", "--fx", "USD=1"]) == 2
    assert "write BASE/QUOTE=RATE" in capsys.readouterr().err


def test_demo_compares_attribution_models_by_channel_and_team(
    capsys: pytest.CaptureFixture[str], example_plan: AlignmentPlan
) -> None:
    code, out, _ = run(capsys, "demo", "--leads", "1000", "--no-report")
    assert code == 0
    section = out[out.index("Attribution (who made the won deals happen?") :]
    lines = section.splitlines()
    headers = [line.split() for line in lines if line.split()[:1] in (["channel"], ["team"])]
    models = ["first", "last", "linear", "position", "time_decay", "markov", "shapley"]
    assert headers == [["channel", *models], ["team", *models]]
    # The table shows what compare() gives on the same data.
    from smarketing.attribution import compare

    data, _ = with_trade_fair(example_plan, synthetic(example_plan, seed=42, n_leads=1000), seed=42)
    shares = compare(data, models=models, key="team").to_frame("share")
    for row in shares.rows():
        expected = [str(row[0]), *(f"{100 * x:.1f}%" for x in row[1:])]
        assert expected in [line.split() for line in lines]
    assert any("won deals over 1,060 leads" in line for line in lines)  # 1,000 synthetic, 60 from the fair


def test_synthetic_data_on_a_calendar_that_never_opens(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = load_plan("examples/plan.yaml").model_dump(mode="json", by_alias=True, exclude_defaults=True)
    plan["sla"]["calendar"]["hours"] = {}
    plan["sla"]["calendar"].pop("holidays", None)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, out, err = run(capsys, "funnel", str(path), "--leads", "50")
    assert (code, out) == (2, "")
    assert err.startswith("smarketing funnel: synthetic data needs business time, but the SLA calendar")


def test_demo_without_the_report(
    capsys: pytest.CaptureFixture[str], demo_report_outside_the_repository: Path
) -> None:
    demo_report_outside_the_repository.unlink(missing_ok=True)
    code, out, _ = run(capsys, "demo", "--leads", "50", "--no-report")
    assert code == 0
    assert "alignment report" not in out
    assert out.rstrip().endswith("the check fails")
    assert not demo_report_outside_the_repository.exists()
    assert cli.main(["demo", "--no-report", "--report", "x.html"]) == 2
    assert "not allowed with argument --no-report" in capsys.readouterr().err
