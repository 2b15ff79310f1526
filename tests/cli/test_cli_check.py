"""`smarketing check`: exit codes, the three formats, colours, and the demo's check sections."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import sarif_om

import smarketing as sm
from smarketing import cli
from smarketing.plan import load_plan

MISALIGNED = "examples/misaligned.yaml"
EXAMPLE = "examples/plan.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_aligned_plan_exits_0_with_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", EXAMPLE)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("score 100 / 100: journey 20/20, sla 15/15, kpis 15/15")
    assert "\x1b[" not in out


def test_findings_that_fail_exit_1_grouped_by_area(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", MISALIGNED)
    assert (code, err) == (1, "")
    assert out == sm.check(load_plan(MISALIGNED)).to_text() + "\n"
    assert "examples/misaligned.yaml:113: C004 error: arbiter 'sue' belongs to a sales team" in out


def test_warnings_alone_pass_and_min_score_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", MISALIGNED, "--select", "J008,J009")
    assert code == 0
    assert "score 60 / 100" in out
    code, out, _ = run(
        capsys, "check", MISALIGNED, "--select", "J008", "--select", "J009", "--min-score", "61"
    )
    assert code == 1
    assert out.endswith("score 60 is below the minimum of 61\n")
    code, _, _ = run(capsys, "check", EXAMPLE, "--min-score", "100")
    assert code == 0


def test_ignore_takes_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", MISALIGNED, "--format", "json", "--ignore", "J,S,K,R,P,L,C")
    data = json.loads(out)
    assert code == 0
    assert {d["code"] for d in data["diagnostics"]} <= {"EX001"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", EXAMPLE, "--select", "Q1"], "smarketing check: select: 'Q1' matches no rule code"),
        (["check", EXAMPLE, "--ignore", ","], "no rule codes in ','"),
        (["check", EXAMPLE, "--min-score", "101"], "must be between 0 and 100, not 101"),
        (["check", EXAMPLE, "--format", "xml"], "invalid choice: 'xml'"),
        (["check"], "the following arguments are required: PLAN"),
        (["check", "no/such/plan.yaml"], "no/such/plan.yaml: no such plan file"),
    ],
)
def test_usage_errors_and_missing_plans_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_a_plan_that_cannot_load_exits_2_with_every_place(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path(EXAMPLE)
        .read_text(encoding="utf-8")
        .replace("owner: marketing, kind: mql", "owner: mktg, kind: mql")
    )
    code, out, err = run(capsys, "check", str(bad))
    assert (code, out) == (2, "")
    assert f"{bad}:" in err
    assert "journey.stages[2].owner: unknown team 'mktg'" in err
    assert "Traceback" not in err


def test_json_is_the_documented_report_and_stable(capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = run(capsys, "check", MISALIGNED, "--format", "json")
    _, again, _ = run(capsys, "check", MISALIGNED, "--format", "json")
    assert code == 1
    assert first == again
    assert json.loads(first) == sm.check(load_plan(MISALIGNED)).to_dict()


def test_colours_only_on_a_terminal_and_never_with_no_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _, out, _ = run(capsys, "check", MISALIGNED)
    assert "\x1b[31mJ001\x1b[0m" in out
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(capsys, "check", MISALIGNED)
    assert "\x1b[" not in out


# --------------------------------------------------------------------------------------------------
# SARIF, checked against the SARIF 2.1.0 object model of the sarif-om package.

# sarif-om's attrs classes name their JSON property in metadata but not the class of nested objects;
# this maps each object-valued property we emit to its class in the object model.
_CLASSES: dict[str, type] = {
    "runs": sarif_om.Run,
    "tool": sarif_om.Tool,
    "driver": sarif_om.ToolComponent,
    "rules": sarif_om.ReportingDescriptor,
    "shortDescription": sarif_om.MultiformatMessageString,
    "fullDescription": sarif_om.MultiformatMessageString,
    "help": sarif_om.MultiformatMessageString,
    "defaultConfiguration": sarif_om.ReportingConfiguration,
    "results": sarif_om.Result,
    "message": sarif_om.Message,
    "locations": sarif_om.Location,
    "physicalLocation": sarif_om.PhysicalLocation,
    "artifactLocation": sarif_om.ArtifactLocation,
    "region": sarif_om.Region,
    "logicalLocations": sarif_om.LogicalLocation,
    "properties": sarif_om.PropertyBag,
}


def _build(cls: type, data: dict[str, Any]) -> Any:
    """An object-model instance from SARIF JSON; unknown properties and missing required ones fail."""
    fields = {f.metadata["schema_property_name"]: f for f in attrs.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if cls is sarif_om.PropertyBag and key not in fields:
            assert isinstance(value, str | int | float | bool), (key, value)  # property bags are open
            continue
        assert key in fields, f"{cls.__name__} has no SARIF property {key!r}"
        sub = _CLASSES.get(key)
        if sub is None:
            kwargs[fields[key].name] = value
        elif isinstance(value, list):
            kwargs[fields[key].name] = [_build(sub, v) for v in value]
        else:
            kwargs[fields[key].name] = _build(sub, value)
    return cls(**kwargs)  # a missing required property raises TypeError


def _dump(obj: Any) -> Any:
    """Back to JSON: properties left at their object-model default are omitted."""
    if isinstance(obj, list):
        return [_dump(v) for v in obj]
    if not attrs.has(type(obj)):
        return obj
    out = {}
    for f in attrs.fields(type(obj)):
        value = getattr(obj, f.name)
        default = f.default.factory() if isinstance(f.default, attrs.Factory) else f.default  # type: ignore[arg-type]
        if default is not attrs.NOTHING and value == default:
            continue
        out[f.metadata["schema_property_name"]] = _dump(value)
    return out


@pytest.mark.parametrize("plan", [EXAMPLE, MISALIGNED])
def test_sarif_conforms_to_the_sarif_2_1_0_object_model(
    capsys: pytest.CaptureFixture[str], plan: str
) -> None:
    code, out, _ = run(capsys, "check", plan, "--format", "sarif")
    assert code == (0 if plan == EXAMPLE else 1)
    data = json.loads(out)
    log = _build(sarif_om.SarifLog, data)
    assert isinstance(log, sarif_om.SarifLog)
    assert log.version == "2.1.0"
    # The object model writes back what it read: a second pass gives an equal log.
    assert _build(sarif_om.SarifLog, _dump(log)) == log
    (run_,) = log.runs
    rules = run_.tool.driver.rules
    assert len({r.id for r in rules}) == len(rules)
    report = sm.check(load_plan(plan))
    assert len(run_.results) == len(report.diagnostics)
    for result, d in zip(run_.results, report.diagnostics, strict=True):
        assert rules[result.rule_index].id == result.rule_id == d.code
        assert result.level in {"error", "warning", "note"}
        (location,) = result.locations
        assert location.physical_location.artifact_location.uri == plan
        assert location.physical_location.region.start_line == d.line >= 1
        assert location.logical_locations[0].fully_qualified_name == d.path


def test_sarif_for_a_plan_without_a_file_has_logical_locations_only() -> None:
    plan = load_plan(Path(MISALIGNED).read_text(encoding="utf-8"))
    data = sm.check(plan, select=["C004"]).to_sarif()
    log = _build(sarif_om.SarifLog, data)
    (result,) = log.runs[0].results
    (location,) = result.locations
    assert location.physical_location is None
    assert location.logical_locations[0].fully_qualified_name == "arbiter.person"


def test_demo_prints_both_check_reports(cli_once: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli_once("demo", "--leads", "300", "--no-report")
    assert code == 0
    aligned = out.index("Alignment check of the plan and the data (smarketing check --data, built-in rules)")
    contrast = out.index("For contrast: smarketing check examples/misaligned.yaml")
    assert aligned < contrast
    assert "journey 20/20, sla 15/15, kpis 15/15, rewards 15/15" in out[aligned:contrast]
    assert "the check passes" in out[aligned:contrast]
    tail = out[contrast:]  # the last section (the report's line is left out: --no-report)
    assert "C004 error: arbiter 'sue' belongs to a sales team" in tail
    assert tail.rstrip().endswith("the check fails")


@pytest.fixture
def crm_folder(tmp_path: Path, example_plan: sm.AlignmentPlan) -> Path:
    """A ``--data`` folder of synthetic data whose touches name a team the plan does not have."""
    import polars as pl

    from smarketing.datasets import synthetic

    data = synthetic(example_plan, seed=3, n_leads=60)
    frames = data.frames()
    frames["touchpoints"] = frames["touchpoints"].with_columns(team=pl.lit("sdr"))
    for kind, frame in frames.items():
        frame.write_parquet(tmp_path / f"{kind}.parquet")
    return tmp_path


def test_data_findings_are_located_at_the_data_files(
    capsys: pytest.CaptureFixture[str], crm_folder: Path
) -> None:
    code, out, err = run(capsys, "check", EXAMPLE, "--data", str(crm_folder), "--fx", "USD/EUR=0.9")
    assert (code, err) == (0, "")  # D004 is a warning
    touches = crm_folder / "touchpoints.parquet"
    assert f"{touches}: D004 warning: team 'sdr' is not a team of the plan (" in out
    assert ", collaboration 15/15, data " in out.splitlines()[-1]
    # Without the rate, the USD deals cannot be reported in EUR: an error.
    code, out, _ = run(capsys, "check", EXAMPLE, "--data", str(crm_folder), "--format", "json")
    data = json.loads(out)
    assert code == 1
    d006 = next(d for d in data["diagnostics"] if d["code"] == "D006")
    assert d006["location"] == str(crm_folder / "deals.parquet")
    assert d006["path"] == "deals.amount_currency"
    assert d006["records"]
    assert all(r in d006["message"] for r in d006["records"])
    assert data["areas"][-1]["area"] == "data"


def test_sarif_with_data_conforms_and_points_at_the_files(
    capsys: pytest.CaptureFixture[str], crm_folder: Path
) -> None:
    code, out, _ = run(capsys, "check", EXAMPLE, "--data", str(crm_folder), "--format", "sarif")
    assert code == 1
    log = _build(sarif_om.SarifLog, json.loads(out))
    results = [r for r in log.runs[0].results if r.rule_id.startswith("D")]
    assert {r.rule_id for r in results} >= {"D004", "D006"}
    for result in results:
        (location,) = result.locations
        assert location.physical_location.artifact_location.uri.startswith(crm_folder.as_posix())
        assert location.physical_location.artifact_location.uri.endswith(".parquet")


def test_data_through_a_connector(capsys: pytest.CaptureFixture[str], crm_folder: Path) -> None:
    code, out, err = run(capsys, "check", EXAMPLE, "--source", f"files:{crm_folder}", "--select", "D004")
    assert (code, err) == (0, "")
    assert "touchpoints.team: D004 warning: team 'sdr' is not a team of the plan" in out
    code, _, err = run(capsys, "check", EXAMPLE, "--option", "time_zone=UTC")
    assert code == 2
    assert "--option: only with --source" in err


def test_data_that_breaks_its_records_rules_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    import polars as pl

    created = [datetime(2026, 1, 1, tzinfo=UTC)]
    deals = {
        "id": ["D1"],
        "amount": [6000.0],
        "amount_currency": ["EUR"],
        "stage": ["open"],
        "created_at": created,
    }
    pl.DataFrame(deals).write_parquet(tmp_path / "deals.parquet")
    code, out, err = run(capsys, "check", EXAMPLE, "--data", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"smarketing check: {tmp_path / 'deals.parquet'}: deals: amount: must be a Decimal")
