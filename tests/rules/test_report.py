"""CheckReport and Diagnostic: order, counts, score arithmetic and every output format."""

from __future__ import annotations

import json

import polars as pl

import smarketing as sm
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import AREA_WEIGHTS, AREAS, Diagnostic, Finding, rule
from smarketing.rules.report import score_areas


def _d(code: str, severity: str, area: str, path: str = "") -> Diagnostic:
    return Diagnostic(code=code, severity=severity, area=area, message=f"{code} at {path}", path=path)  # type: ignore[arg-type]


def test_weights_cover_the_areas_and_sum_to_100() -> None:
    assert tuple(AREA_WEIGHTS) == AREAS
    assert sum(AREA_WEIGHTS.values()) == 100


def test_score_arithmetic() -> None:
    everything = set(AREAS)
    assert score_areas([], everything)[0] == 100
    score, areas = score_areas([_d("J001", "error", "journey")], everything)
    assert score == 90  # journey 20 -> 10
    assert areas[0].points == 10
    assert areas[0].errors == 1
    score, areas = score_areas([_d("J001", "error", "journey")] * 3, everything)
    assert (score, areas[0].points) == (80, 0)  # an area never goes below 0
    score, _ = score_areas([_d("L001", "warning", "language"), _d("L001", "info", "language")], everything)
    assert score == 97  # language loses 20% + 5%: 10 * 75 // 100 = 7 points (rounded down)
    assert score_areas([_d("EX1", "error", "engine")], everything)[0] == 100
    # Only the checked areas count, scaled to 100: journey 10/20 alone is 50.
    assert score_areas([_d("J001", "error", "journey")], {"journey"})[0] == 50
    assert score_areas([], set())[0] == 100


def test_diagnostics_sort_naturally_by_area_code_and_path() -> None:
    unsorted = [
        _d("C001", "error", "collaboration"),
        _d("J002", "error", "journey", "journey.stages[10]"),
        _d("J002", "error", "journey", "journey.stages[9]"),
        _d("SM001", "error", "engine"),
        _d("J001", "warning", "journey"),
    ]
    ordered = sorted(unsorted, key=Diagnostic.sort_key)
    assert [(d.code, d.path) for d in ordered] == [
        ("J001", ""),
        ("J002", "journey.stages[9]"),
        ("J002", "journey.stages[10]"),
        ("C001", ""),
        ("SM001", ""),
    ]


def test_location_parts() -> None:
    d = Diagnostic("J001", "error", "journey", "m", location="plans/a:b.yaml:12")
    assert (d.file, d.line) == ("plans/a:b.yaml", 12)
    assert (Diagnostic("J001", "error", "journey", "m", location="line 3").file, 3) == (None, 3)
    assert Diagnostic("J001", "error", "journey", "m", location="line 3").line == 3
    assert Diagnostic("J001", "error", "journey", "m", location="plan.yaml").file == "plan.yaml"


def test_to_dict_is_json_and_stable() -> None:
    report = sm.check(load_plan("examples/misaligned.yaml"))
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["counts"] == report.counts
    assert data["score"] == report.score
    assert [a["area"] for a in data["areas"]] == list(AREAS)
    assert list(data["diagnostics"][0]) == [
        "code",
        "severity",
        "area",
        "message",
        "path",
        "location",
        "hint",
        "url",
    ]


def test_to_frame_has_one_row_per_diagnostic_and_a_schema_when_empty(example_plan: AlignmentPlan) -> None:
    report = sm.check(load_plan("examples/misaligned.yaml"))
    frame = report.to_frame()
    assert frame.height == len(report.diagnostics)
    assert frame["code"].to_list() == [d.code for d in report.diagnostics]
    empty = sm.check(example_plan).to_frame()
    assert empty.height == 0
    assert empty.schema == pl.Schema(dict.fromkeys(frame.columns, pl.String))


def test_text_groups_by_area_and_colours_only_on_request() -> None:
    report = sm.check(load_plan("examples/misaligned.yaml"))
    plain = report.to_text()
    assert "\x1b[" not in plain
    headers = [
        line.split(" ")[0] for line in plain.splitlines() if line.endswith("5)") or line.endswith("0)")
    ]
    assert headers == list(AREAS)
    assert plain.splitlines()[-1].startswith(f"score {report.score} / 100: journey 0/20")
    assert str(report) == plain
    coloured = report.to_text(color=True)
    assert "\x1b[31mJ001\x1b[0m" in coloured


def test_html_escapes_and_limits_rows(example_plan: AlignmentPlan) -> None:
    @rule("EX904", area="language", severity="warning", title="Many", rationale="Tests.", fix="None.")
    def many(plan: AlignmentPlan) -> list[Finding]:
        return [Finding(f"<b>{i}</b>", path=f"kpis[{i}]") for i in range(250)]

    page = sm.check(example_plan, rules=[many])._repr_html_()
    assert "&lt;b&gt;1&lt;/b&gt;" in page
    assert "<b>1</b>" not in page
    assert page.count("<tr>") == 201  # header + 200 rows
    assert "and 50 more diagnostics" in page


def test_repr_is_short(example_plan: AlignmentPlan) -> None:
    assert repr(sm.check(example_plan, select=["J001"])) == (
        "CheckReport(plan='Fernbrook Analytics FY2027', score=100, ok=True, errors=0, warnings=0, infos=0)"
    )
