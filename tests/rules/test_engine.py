"""The rule engine: selection, overrides, isolation of broken rules, plugins through entry points."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing import _plugins
from smarketing.errors import RuleError
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import Finding, RuleSpec, builtin_rules, plugin_rules, rule

from .conftest import example_data
from .test_catalogue import MUTATIONS

GROUP = "smarketing.rules"


def test_the_example_plugin_is_discovered_through_its_entry_point() -> None:
    rules, problems = plugin_rules()
    assert problems == ()
    assert [r.code for r in rules] == ["EX001"]
    report = sm.check(load_plan("examples/misaligned.yaml"), select=["EX001"])
    (d,) = report.diagnostics
    assert (d.code, d.severity, d.area, d.path) == ("EX001", "info", "collaboration", "description")
    assert d.location == "examples/misaligned.yaml:4"


def test_plugin_failures_are_diagnostics_and_the_rest_still_runs(
    monkeypatch: pytest.MonkeyPatch, example_plan: AlignmentPlan
) -> None:
    points = [
        EntryPoint("good", "smarketing_rules_example:RULES", GROUP),
        EntryPoint("missing", "smarketing_rules_nowhere:RULES", GROUP),
        EntryPoint("text", "smarketing_rules_example.broken:NOT_A_RULE", GROUP),
        EntryPoint("dupe", "smarketing_rules_example.broken:duplicate", GROUP),
        EntryPoint("again", "smarketing_rules_example:plan_has_description", GROUP),
        EntryPoint("crash", "smarketing_rules_example.broken:crashes", GROUP),
    ]
    monkeypatch.setattr(_plugins, "entry_points", lambda group: sorted(points, key=lambda p: p.name))
    plan = example_plan.model_copy(update={"description": ""})
    report = sm.check(plan)
    engine = [d for d in report.diagnostics if d.area == "engine"]
    messages = "\n".join(d.message for d in engine)
    assert [d.code for d in engine] == ["SM001", "SM002", "SM002", "SM002", "SM002"]
    assert (
        "smarketing.rules: missing: failed to load (smarketing_rules_nowhere:RULES): ModuleNotFoundError"
        in messages
    )
    assert (
        "smarketing.rules: text: not a usable rule (smarketing_rules_example.broken:NOT_A_RULE): " in messages
    )
    assert "'just text' is not a rule" in messages
    assert (
        "rule code J001 (smarketing_rules_example.broken:duplicate) is already defined by the built-in"
        in messages
    )
    assert (
        "smarketing.rules: good: rule code EX001 (smarketing_rules_example:RULES) "
        "is already defined by plugin 'again'" in messages
    )
    assert "smarketing.rules: crash: rule EX002 (Crashes) crashed: ZeroDivisionError: 6 / 0" in messages
    assert "EX001" in {d.code for d in report.diagnostics}  # the good plugin ran
    assert not report.ok
    assert report.score == sm.check(plan, ignore=["SM"]).score  # engine findings do not count in the score


def test_a_crashing_rule_is_named_and_the_others_still_run(example_plan: AlignmentPlan) -> None:
    from smarketing_rules_example.broken import crashes

    misaligned = load_plan("examples/misaligned.yaml")
    report = sm.check(misaligned, rules=[crashes, *builtin_rules()])
    crash = [d for d in report.diagnostics if d.code == "SM001"]
    assert len(crash) == 1
    assert crash[0].message == "rule EX002 (Crashes) crashed: ZeroDivisionError: 3 / 0"
    assert {"J001", "C004"} <= {d.code for d in report.diagnostics}


def test_a_rule_yielding_something_else_is_reported(example_plan: AlignmentPlan) -> None:
    @rule("EX903", area="kpis", severity="info", title="Bad", rationale="Tests.", fix="None.")
    def bad(plan: AlignmentPlan) -> Iterator[object]:
        yield "not a finding"

    (d,) = sm.check(example_plan, rules=[bad]).diagnostics  # type: ignore[list-item]
    assert d.code == "SM001"
    assert "returned a bad finding: finding 1 is str, not a Finding" in d.message


def test_select_and_ignore_take_codes_and_prefixes(example_plan: AlignmentPlan) -> None:
    report = sm.check(example_plan, select=["j", "S00"], ignore=["J01", "S001"])
    ran = [r.code for r in report.rules]
    assert ran == [f"J00{i}" for i in range(1, 10)] + [f"S00{i}" for i in range(2, 9)]
    unchecked = {a.area for a in report.areas if not a.checked}
    assert unchecked == {"kpis", "rewards", "personas", "language", "collaboration"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"select": ["Q"]}, "select: 'Q' matches no rule code"),
        ({"ignore": ["J999"]}, "ignore: 'J999' matches no rule code"),
        ({"select": [""]}, "select: '' matches no rule code"),
        ({"severity_overrides": {"J999": "error"}}, "unknown rule code 'J999'"),
        ({"severity_overrides": {"J001": "fatal"}}, "'fatal' is not one of error, warning, info"),
    ],
)
def test_unknown_codes_and_severities_are_clear_errors(
    example_plan: AlignmentPlan, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        sm.check(example_plan, **kwargs)  # type: ignore[arg-type]


def test_severity_overrides_change_severity_and_ok() -> None:
    plan = load_plan("examples/misaligned.yaml")
    report = sm.check(plan, select=["J009"], severity_overrides={"J009": "error"})
    assert [d.severity for d in report.diagnostics] == ["error"]
    assert not report.ok
    assert sm.check(plan, select=["J009"]).ok


def test_rules_argument_is_validated(example_plan: AlignmentPlan) -> None:
    j001 = builtin_rules()[0]
    with pytest.raises(RuleError, match="rule code J001 is given twice"):
        sm.check(example_plan, rules=[j001, j001])
    with pytest.raises(RuleError, match="is not a rule"):
        sm.check(example_plan, rules=[print])  # type: ignore[list-item]


def test_rule_definitions_are_validated() -> None:
    def nothing(plan: AlignmentPlan) -> Iterator[Finding]:
        yield from ()

    with pytest.raises(RuleError, match="must be 1-3 capital letters and 3 digits"):
        rule("j1", area="kpis", severity="info", title="t", rationale="r", fix="f")(nothing)
    with pytest.raises(RuleError, match="area 'money' is not one of"):
        rule("X001", area="money", severity="info", title="t", rationale="r", fix="f")(nothing)  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="severity 'fatal'"):
        rule("X001", area="kpis", severity="fatal", title="t", rationale="r", fix="f")(nothing)  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="rule title must be non-empty"):
        RuleSpec("X001", "kpis", "info", " ", "r", "f", nothing)


def test_check_wants_a_plan() -> None:
    with pytest.raises(TypeError, match="needs an AlignmentPlan, not dict; use load_plan"):
        sm.check({"name": "x"})  # type: ignore[arg-type]


def test_builtin_codes_are_unique_and_documented_in_order() -> None:
    codes = [r.code for r in builtin_rules()]
    assert len(codes) == len(set(codes))
    order = "JSKRPLC"
    assert codes == sorted(codes, key=lambda c: (order.index(c[0]), c))


def test_locations_point_into_the_file_and_are_absent_for_data(example_plan: AlignmentPlan) -> None:
    from_file = sm.check(load_plan("examples/misaligned.yaml"), select=["C004"]).diagnostics[0]
    assert from_file.file == "examples/misaligned.yaml"
    assert from_file.line is not None
    text = Path("examples/misaligned.yaml").read_text(encoding="utf-8").splitlines()
    assert text[from_file.line - 1].strip() == "person: sue"
    data = example_data()
    data["arbiter"]["person"] = "ruth.baker"
    from_data = sm.check(load_plan(data), select=["C004"]).diagnostics[0]
    assert (from_data.location, from_data.file, from_data.line) == (None, None, None)


def _report_bytes(plan: AlignmentPlan) -> str:
    return json.dumps(sm.check(plan).to_dict(), indent=2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(codes=st.sets(st.sampled_from(sorted(set(MUTATIONS) - {"P003"})), max_size=8))
def test_laws_on_mixed_gaps(codes: set[str]) -> None:
    """Any mix of gaps: check never raises, the score stays in range, order and people order do not matter."""
    data = example_data()
    for code in sorted(codes):  # P003 is left out: it edits a loaded plan, not data
        MUTATIONS[code](data)
    plan = load_plan(data)
    report = sm.check(plan)
    assert 0 <= report.score <= 100
    assert report.ok == (report.counts["error"] == 0)
    assert list(report.diagnostics) == sorted(report.diagnostics, key=sm.Diagnostic.sort_key)
    assert "SM001" not in {d.code for d in report.diagnostics}
    # Listing the people in another order changes nothing in the report.
    shuffled = dict(data)
    shuffled["people"] = list(reversed(data["people"]))
    assert _report_bytes(load_plan(shuffled)) == _report_bytes(plan)
    # Same plan, same bytes.
    assert _report_bytes(plan) == _report_bytes(load_plan(data))
