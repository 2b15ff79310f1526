"""Hostile plugins: whatever a rule, attribution or metric plugin does, the host goes on and names it.

Plugins are brought in without installing them: ``smarketing._plugins.entry_points`` (the one lookup
every group goes through) is replaced by fake entry points whose ``load()`` returns, raises or exits.
Each case asserts the exact outcome (an ``SM001``/``SM002`` diagnostic, a ``PluginError`` or a
``PluginWarning``), that the message names the group and the plugin, and that the output stays valid.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import smarketing as sm
from smarketing import _plugins, cli
from smarketing.attribution import Journeys, attribute
from smarketing.attribution import registry as attribution_registry
from smarketing.errors import PluginError, PluginWarning, RuleError
from smarketing.kpi import Metric, MetricContext, MetricRegistry, catalog, scorecard
from smarketing.kpi import metrics as kpi_metrics
from smarketing.money import Money
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import Finding, RuleSpec, rule
from smarketing.testing.fixtures import AS_OF, example_dataset

from .conftest import assert_names

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plan.yaml"
RULES = "smarketing.rules"
ATTRIBUTION = "smarketing.attribution"
METRICS = "smarketing.metrics"


# --------------------------------------------------------------------------------------------------
# Fake entry points.


class FakePoint:
    """An entry point whose ``load()`` runs ``loader`` (which may return, raise or exit)."""

    def __init__(self, name: str, loader: Callable[[], object], group: str = RULES) -> None:
        self.name = name
        self.value = f"acme_{name.replace('-', '_')}:PLUGIN"
        self.group = group
        self._loader = loader

    def load(self) -> object:
        return self._loader()


def returns(obj: object) -> Callable[[], object]:
    return lambda: obj


def raises(exc: BaseException) -> Callable[[], object]:
    def load() -> object:
        raise exc

    return load


def exits(code: object = None) -> Callable[[], object]:
    def load() -> object:
        sys.exit(code)

    return load


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Install fake entry points: ``plugins(point, ...)``; each group sees its own."""

    def install(*points: FakePoint) -> None:
        by_group: dict[str, list[FakePoint]] = {}
        for p in points:
            by_group.setdefault(p.group, []).append(p)
        monkeypatch.setattr(
            _plugins,
            "entry_points",
            lambda group: tuple(sorted(by_group.get(group, []), key=lambda p: (p.name, p.value))),
        )
        attribution_registry.installed_models.cache_clear()

    attribution_registry.installed_models.cache_clear()
    yield install
    attribution_registry.installed_models.cache_clear()


@pytest.fixture(scope="module")
def plan() -> AlignmentPlan:
    return load_plan(EXAMPLE)


def assert_valid_outputs(report: sm.rules.CheckReport) -> None:
    """Text, JSON, SARIF, a frame and HTML all render, and JSON/SARIF round-trip."""
    json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    sarif = json.loads(json.dumps(report.to_sarif(), ensure_ascii=False))
    assert sarif["version"] == "2.1.0"
    assert report.to_text()
    assert report._repr_html_()
    assert report.to_frame().height == len(report.diagnostics)
    for d in report.diagnostics:
        for value in (d.message, d.path, d.hint, d.url):
            assert value is None or type(value) is str
            assert value is None or "\x1b" not in value


# A good plugin rule: its findings must survive every other plugin's fault.
@rule(
    "GD001",
    area="collaboration",
    severity="info",
    title="Good plugin rule",
    rationale="Proves the host goes on.",
    fix="Nothing to fix.",
)
def good_rule(plan: AlignmentPlan) -> Iterator[Finding]:
    yield Finding(f"good rule saw {plan.name}", path="name")


def good_point() -> FakePoint:
    return FakePoint("good-rules", returns([good_rule]))


def engine(report: sm.rules.CheckReport, code: str) -> list[str]:
    return [d.message for d in report.diagnostics if d.code == code]


# --------------------------------------------------------------------------------------------------
# Rule plugins that fail at load time: SM002 naming the plugin, the others still run.


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class _Custom(BaseException):
    pass


LOAD_FAULTS: dict[str, tuple[Callable[[], object], str]] = {
    "raises-valueerror": (raises(ValueError("boom")), "ValueError: boom"),
    "raises-importerror": (raises(ImportError("no numpy")), "ImportError: no numpy"),
    "sys-exit-3": (exits(3), "SystemExit: 3"),
    "sys-exit-none": (exits(None), "SystemExit"),
    "sys-exit-text": (exits("bye"), "SystemExit: bye"),
    "generator-exit": (raises(GeneratorExit()), "GeneratorExit"),
    "custom-baseexception": (raises(_Custom("odd")), "_Custom: odd"),
    "cancelled": (raises(asyncio.CancelledError()), "CancelledError"),
    "recursion": (raises(RecursionError("deep")), "RecursionError: deep"),
    "memory": (raises(MemoryError()), "MemoryError"),
    "str-raises": (raises(_UnprintableError()), "the message cannot be shown"),
    "control-chars": (raises(ValueError("bad\x1b[2J\x00")), "bad\\x1b[2J\\x00"),
    "huge-message": (raises(ValueError("x" * 1_000_000)), "ValueError: xxx"),
}


@pytest.mark.parametrize("name", list(LOAD_FAULTS))
def test_rule_plugin_failing_at_import_is_sm002(
    name: str, plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    loader, expected = LOAD_FAULTS[name]
    plugins(FakePoint(name, loader), good_point())
    report = sm.check(plan)
    (message,) = engine(report, "SM002")
    assert_names(message, f"{RULES}: {name}: failed to load", expected)
    assert len(message) < 600
    assert "good rule saw" in " ".join(d.message for d in report.diagnostics)
    assert not report.ok
    assert_valid_outputs(report)


class _Props:
    """A rule-like object whose attributes are given per case (values or callables that fail)."""

    def __init__(self, **attrs: object) -> None:
        self._attrs = {
            "code": "AC001",
            "area": "kpis",
            "severity": "warning",
            "title": "A title",
            "rationale": "A rationale.",
            "fix": "A fix.",
            "url": None,
        } | attrs

    def __getattr__(self, name: str) -> object:
        try:
            value = self._attrs[name]
        except KeyError:
            raise AttributeError(name) from None
        if isinstance(value, BaseException):
            raise value
        if callable(value) and not isinstance(value, type):
            return value()
        return value

    def __call__(self, plan: AlignmentPlan) -> list[Finding]:
        return []


def _exit_now() -> object:
    sys.exit(9)


def _missing(*names: str) -> _Props:
    obj = _Props()
    for n in names:
        del obj._attrs[n]
    return obj


BAD_RULE_OBJECTS: dict[str, tuple[object, str]] = {
    "text": ("just text", "is not a rule"),
    "number": (42, "is not a rule"),
    "none": (None, "is not a rule"),
    "dict": ({"code": "AC001"}, "is not a rule"),
    "no-code": (_missing("code"), "has no code"),
    "no-title-fix": (_missing("title", "fix"), "has no title, fix"),
    "code-raises": (_Props(code=ValueError("no code")), "ValueError: no code"),
    "code-exits": (_Props(code=_exit_now), "SystemExit: 9"),
    "code-generator-exit": (_Props(code=GeneratorExit("gen")), "GeneratorExit: gen"),
    "code-number": (_Props(code=123), "rule code 123 must be"),
    "code-lowercase": (_Props(code="ac001"), "rule code 'ac001' must be"),
    "code-str-subclass-evil": (_Props(code=type("S", (str,), {"__hash__": None})("AC00")), "must be"),
    "area-unknown": (_Props(area="sales"), "area 'sales' is not one of"),
    "area-number": (_Props(area=3), "area 3 is not one of"),
    "severity-fatal": (_Props(severity="fatal"), "severity 'fatal' is not one of"),
    "severity-raises": (_Props(severity=KeyError("sev")), "KeyError"),
    "title-number": (_Props(title=5), "rule AC001: title must be text, not int"),
    "title-empty": (_Props(title="   "), "rule AC001: title must not be empty"),
    "title-huge": (_Props(title="t" * 10_000), "rule AC001: title has 10000 characters"),
    "rationale-escape": (_Props(rationale="red \x1b[31m"), "rationale contains the control character"),
    "fix-number": (_Props(fix=12345), "rule AC001: fix must be text, not int"),
    "fix-bytes": (_Props(fix=b"fix"), "rule AC001: fix must be text, not bytes"),
    "url-number": (_Props(url=12345), "rule AC001: url must be text, not int"),
    "url-bytes": (_Props(url=b"https://x"), "rule AC001: url must be text, not bytes"),
    "url-space": (_Props(url="https://x y"), "must not contain spaces"),
    "url-raises": (_Props(url=RuntimeError("url")), "RuntimeError: url"),
}


@pytest.mark.parametrize("name", list(BAD_RULE_OBJECTS))
def test_rule_plugin_naming_a_bad_rule_is_sm002(
    name: str, plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    obj, expected = BAD_RULE_OBJECTS[name]
    plugins(FakePoint(name, returns([obj])), good_point())
    report = sm.check(plan)
    (message,) = engine(report, "SM002")
    assert_names(message, f"{RULES}: {name}: not a usable rule", expected)
    assert "GD001" in {d.code for d in report.diagnostics}
    assert_valid_outputs(report)


class _RaisingList(list[object]):
    def __iter__(self) -> Iterator[object]:
        raise OSError("cannot list")


class _ExitingList(list[object]):
    def __iter__(self) -> Iterator[object]:
        sys.exit(5)


@pytest.mark.parametrize(
    ("loaded", "expected"),
    [
        pytest.param(_RaisingList([good_rule]), "OSError: cannot list", id="iter-raises"),
        pytest.param(_ExitingList([good_rule]), "SystemExit: 5", id="iter-exits"),
    ],
)
def test_rule_plugin_whose_list_fails_is_sm002(
    loaded: object, expected: str, plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    plugins(FakePoint("lists", returns(loaded)))
    (message,) = engine(sm.check(plan), "SM002")
    assert_names(message, f"{RULES}: lists: cannot list its rules", expected)


def test_rule_code_taken_by_a_builtin_or_another_plugin_is_sm002(
    plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    clash = RuleSpec(
        code="J001",
        area="journey",
        severity="info",
        title="t",
        rationale="r",
        fix="f",
        function=lambda p: [],
    )
    plugins(FakePoint("a-first", returns([good_rule])), FakePoint("b-second", returns(good_rule)))
    plugins(FakePoint("a-first", returns([good_rule])), FakePoint("b-second", returns([good_rule, clash])))
    messages = engine(sm.check(plan), "SM002")
    assert len(messages) == 2
    assert_names(messages[0], f"{RULES}: b-second: rule code GD001", "already defined by plugin 'a-first'")
    assert_names(messages[1], f"{RULES}: b-second: rule code J001", "already defined by the built-in rules")


def test_every_plugin_loads_separately(plugins: Callable[..., None], plan: AlignmentPlan) -> None:
    plugins(
        FakePoint("a-exits", exits(1)),
        FakePoint("b-good", returns([good_rule])),
        FakePoint("c-generator-exit", raises(GeneratorExit())),
    )
    report = sm.check(plan)
    assert len(engine(report, "SM002")) == 2
    assert [d.code for d in report.diagnostics if d.area != "engine"] == ["GD001"]


def test_keyboard_interrupt_at_import_passes_through(
    plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    plugins(FakePoint("ctrl-c", raises(KeyboardInterrupt())))
    with pytest.raises(KeyboardInterrupt):
        sm.check(plan)


# --------------------------------------------------------------------------------------------------
# Rule plugins that fail while checking: SM001 naming the plugin and the rule.


def plugin_rule(body: Callable[[AlignmentPlan], Any], code: str = "AC001") -> RuleSpec:
    return RuleSpec(
        code=code,
        area="kpis",
        severity="warning",
        title="Acme rule",
        rationale="Tests.",
        fix="Nothing.",
        function=body,
    )


def _gen(*items: object) -> Callable[[AlignmentPlan], Iterator[object]]:
    def run(plan: AlignmentPlan) -> Iterator[object]:
        yield from items

    return run


def _raise_in_rule(exc: BaseException) -> Callable[[AlignmentPlan], Any]:
    def run(plan: AlignmentPlan) -> Any:
        raise exc

    return run


def _exit_in_rule(code: object) -> Callable[[AlignmentPlan], Any]:
    def run(plan: AlignmentPlan) -> Any:
        sys.exit(code)

    return run


def _after_some(plan: AlignmentPlan) -> Iterator[Finding]:
    yield Finding("one")
    yield Finding("two")
    raise LookupError("then broke")


def _endless(plan: AlignmentPlan) -> Iterator[Finding]:
    while True:
        yield Finding("again")


class _EvilFinding(Finding):
    @property
    def message(self) -> str:  # type: ignore[override]
        raise ValueError("message property")


class _ExitingFinding(Finding):
    @property
    def path(self) -> str:  # type: ignore[override]
        sys.exit(6)


def _bare(cls: type[Finding]) -> Finding:
    # Built without __init__ (whose setters the overriding properties block), message set on the slot.
    finding = object.__new__(cls)
    if not isinstance(cls.__dict__.get("message"), property):
        object.__setattr__(finding, "message", "m")
    return finding


RUN_FAULTS: dict[str, tuple[Callable[[AlignmentPlan], Any], str]] = {
    "raises": (_raise_in_rule(ValueError("bad plan?")), "crashed: ValueError: bad plan?"),
    "sys-exit-4": (_exit_in_rule(4), "crashed: SystemExit: 4"),
    "sys-exit-none": (_exit_in_rule(None), "crashed: SystemExit"),
    "generator-exit": (_raise_in_rule(GeneratorExit()), "crashed: GeneratorExit"),
    "custom-baseexception": (_raise_in_rule(_Custom("x")), "crashed: _Custom: x"),
    "unprintable": (_raise_in_rule(_UnprintableError()), "the message cannot be shown"),
    "returns-none": (lambda p: None, "crashed: TypeError"),
    "returns-int": (lambda p: 7, "crashed: TypeError"),
    "partial-then-raises": (_after_some, "crashed: LookupError: then broke"),
    "yields-text": (_gen("not a finding"), "returned a bad finding: finding 1 is str, not a Finding"),
    "yields-dict": (_gen(Finding("ok"), {"message": "x"}), "finding 2 is dict, not a Finding"),
    "message-number": (_gen(Finding(12345)), "finding 1: message must be text, not int"),  # type: ignore[arg-type]
    "message-empty": (_gen(Finding("")), "finding 1: message must not be empty"),
    "message-none": (_gen(Finding(None)), "finding 1: message must be text, not NoneType"),  # type: ignore[arg-type]
    "message-escape": (
        _gen(Finding("\x1b]0;pwned\x07")),
        "finding 1: message contains the control character",
    ),
    "message-huge": (_gen(Finding("m" * 5000)), "finding 1: message has 5000 characters; at most 2000"),
    "path-number": (_gen(Finding("m", path=12345)), "finding 1: path must be text, not int"),  # type: ignore[arg-type]
    "path-list": (_gen(Finding("m", path=["a"])), "finding 1: path must be text, not list"),  # type: ignore[arg-type]
    "path-nul": (_gen(Finding("m", path="teams\x00")), "finding 1: path contains the control character"),
    "hint-number": (_gen(Finding("m", hint=12345)), "finding 1: hint must be text, not int"),  # type: ignore[arg-type]
    "hint-bytes": (_gen(Finding("m", hint=b"fix")), "finding 1: hint must be text, not bytes"),  # type: ignore[arg-type]
    "too-many": (_gen(*[Finding("m")] * 1001), "more than 1000 findings"),
    "endless": (_endless, "more than 1000 findings"),
    "finding-property-raises": (_gen(_bare(_EvilFinding)), "crashed: ValueError: message property"),
    "finding-property-exits": (_gen(_bare(_ExitingFinding)), "crashed: SystemExit: 6"),
}


@pytest.mark.parametrize("name", list(RUN_FAULTS))
def test_plugin_rule_failing_while_checking_is_sm001(
    name: str, plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    body, expected = RUN_FAULTS[name]
    plugins(FakePoint(name, returns([plugin_rule(body)])), good_point())
    report = sm.check(plan)
    (message,) = engine(report, "SM001")
    assert_names(message, f"{RULES}: {name}: rule AC001 (Acme rule)", expected)
    assert "AC001" not in {d.code for d in report.diagnostics}  # partial findings are dropped
    assert "GD001" in {d.code for d in report.diagnostics}
    assert_valid_outputs(report)


@pytest.mark.parametrize("name", ["raises", "sys-exit-4", "message-number", "too-many"])
def test_rule_passed_directly_fails_without_a_plugin_name(name: str, plan: AlignmentPlan) -> None:
    body, expected = RUN_FAULTS[name]
    report = sm.check(plan, rules=[plugin_rule(body), good_rule])
    (message,) = engine(report, "SM001")
    assert message.startswith("rule AC001 (Acme rule)")
    assert_names(message, expected)


def test_keyboard_interrupt_in_a_rule_passes_through(plan: AlignmentPlan) -> None:
    with pytest.raises(KeyboardInterrupt):
        sm.check(plan, rules=[plugin_rule(_raise_in_rule(KeyboardInterrupt()))])


def test_a_finding_of_exactly_the_limits_is_kept(plan: AlignmentPlan) -> None:
    findings = [Finding("m" * 2000, path="p" * 2000, hint="h" * 2000)] * 1000
    report = sm.check(plan, rules=[plugin_rule(_gen(*findings))])
    assert len(report.diagnostics) == 1000
    assert {len(d.message) for d in report.diagnostics} == {2000}


def test_str_subclass_findings_become_plain_text(plan: AlignmentPlan) -> None:
    class Sneaky(str):
        def __str__(self) -> str:
            return "changed later"

        def __format__(self, spec: str) -> str:
            return "changed later"

    report = sm.check(plan, rules=[plugin_rule(_gen(Finding(Sneaky("honest"), path=Sneaky("name"))))])
    (d,) = report.diagnostics
    assert (type(d.message), d.message, d.path) == (str, "honest", "name")
    assert "honest" in report.to_text()


# --- time budget ---------------------------------------------------------------------------------


def _sleeps(plan: AlignmentPlan) -> Iterator[Finding]:
    for _ in range(200):
        time.sleep(0.05)
    yield Finding("late")


def _spins(plan: AlignmentPlan) -> Iterator[Finding]:
    while True:
        pass
    yield Finding("never")  # pragma: no cover


def _slow_generator(plan: AlignmentPlan) -> Iterator[Finding]:
    for _ in range(100):
        time.sleep(0.05)
        yield Finding("slowly")


@pytest.mark.parametrize(
    "body", [_sleeps, _spins, _slow_generator], ids=["sleeps", "spins", "slow-generator"]
)
def test_slow_rule_is_stopped_by_its_time_budget(
    body: Callable[[AlignmentPlan], Any], plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    plugins(FakePoint("slow", returns([plugin_rule(body)])), good_point())
    threads = threading.active_count()
    started = time.perf_counter()
    report = sm.check(plan, rule_timeout=0.2)
    assert time.perf_counter() - started < 2
    deadline = time.perf_counter() + 2
    while threading.active_count() > threads and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads  # the abandoned rule was stopped, not left spinning
    (message,) = engine(report, "SM001")
    assert_names(message, f"{RULES}: slow: rule AC001 (Acme rule)", "did not finish within 0.2 s")
    assert "GD001" in {d.code for d in report.diagnostics}
    assert_valid_outputs(report)


def test_a_fast_rule_is_not_affected_by_a_small_budget(plan: AlignmentPlan) -> None:
    report = sm.check(plan, rules=[good_rule], rule_timeout=0.5)
    assert [d.code for d in report.diagnostics] == ["GD001"]


def test_the_default_budget_is_documented() -> None:
    assert sm.rules.engine.RULE_TIMEOUT == 30.0
    assert "rule_timeout" in (sm.check.__doc__ or "")


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "30", True], ids=repr)
def test_bad_rule_timeout_is_a_rule_error(bad: object, plan: AlignmentPlan) -> None:
    with pytest.raises(RuleError) as caught:
        sm.check(plan, rule_timeout=bad)  # type: ignore[arg-type]
    assert_names(str(caught.value), "rule_timeout")


def test_rules_see_the_callers_decimal_context(plan: AlignmentPlan) -> None:
    import decimal

    seen: list[int] = []

    def reads_context(p: AlignmentPlan) -> list[Finding]:
        seen.append(decimal.getcontext().prec)
        return []

    with decimal.localcontext() as ctx:
        ctx.prec = 50
        sm.check(plan, rules=[plugin_rule(reads_context)])
    assert seen == [50]


# --- read-only view of the plan -------------------------------------------------------------------


def _mutates_dict(plan: AlignmentPlan) -> Iterator[Finding]:
    plan.__dict__["name"] = "HACKED"
    yield Finding("changed the name")


def _mutates_setattr(plan: AlignmentPlan) -> Iterator[Finding]:
    object.__setattr__(plan, "name", "HACKED")
    yield Finding("changed the name")


def _mutates_lists(plan: AlignmentPlan) -> Iterator[Finding]:
    plan.teams.clear()
    plan.journey.stages[0].__dict__["name"] = "HACKED"
    yield Finding("emptied the teams")


def _mutates_source(plan: AlignmentPlan) -> Iterator[Finding]:
    plan._source.file = "elsewhere.yaml"  # type: ignore[attr-defined]
    plan._source.lines.clear()  # type: ignore[attr-defined]
    yield Finding("moved the file", path="name")


@pytest.mark.parametrize(
    "body", [_mutates_dict, _mutates_setattr, _mutates_lists, _mutates_source], ids=lambda f: f.__name__
)
def test_a_rule_cannot_change_the_plan_others_and_the_report_see(
    body: Callable[[AlignmentPlan], Any], plugins: Callable[..., None], plan: AlignmentPlan
) -> None:
    before = plan.model_dump()
    baseline = sm.check(plan, rules=[good_rule]).to_dict()
    plugins(FakePoint("a-mutates", returns([plugin_rule(body)])), good_point())
    report = sm.check(plan)
    assert plan.model_dump() == before
    assert report.plan == plan.name == "Fernbrook Analytics FY2027"
    good = [d for d in report.diagnostics if d.code == "GD001"]
    assert good[0].to_dict() == baseline["diagnostics"][0]
    assert sm.check(plan).to_dict() == report.to_dict()


def test_a_rule_cannot_rename_itself_after_loading(plugins: Callable[..., None], plan: AlignmentPlan) -> None:
    spec = plugin_rule(lambda p: [])

    def renames(p: AlignmentPlan) -> list[Finding]:
        object.__setattr__(spec, "title", 12345)
        object.__setattr__(spec, "url", 999)
        return [Finding("renamed")]

    object.__setattr__(spec, "function", renames)
    plugins(FakePoint("renames", returns([spec])))
    report = sm.check(plan)
    assert [r.title for r in report.rules if r.code == "AC001"] == ["Acme rule"]
    assert_valid_outputs(report)


def test_plan_copy_for_plugin_rules_is_cheap(plan: AlignmentPlan) -> None:
    # One deep copy per rule that is not built in: about a millisecond on the example plan. A guard
    # against an accidental quadratic copy, not a benchmark.
    rules = [plugin_rule(lambda p: [], code=f"AC{n:03d}") for n in range(20)]
    started = time.perf_counter()
    sm.check(plan, rules=rules)
    assert time.perf_counter() - started < 1


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize(
    "point",
    [
        FakePoint("exits-at-import", exits(7)),
        FakePoint("exits-in-rule", returns([plugin_rule(_exit_in_rule(8))])),
        FakePoint("bad-hint", returns([plugin_rule(_gen(Finding("m", hint=12345)))])),  # type: ignore[arg-type]
        FakePoint("bad-url", returns([_Props(url=12345)])),
    ],
    ids=lambda p: p.name,
)
def test_cli_check_reports_the_plugin_and_writes_valid_output(
    point: FakePoint,
    fmt: str,
    plugins: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugins(point, good_point())
    code = cli.main(["check", str(EXAMPLE), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 1  # the plugin's fault fails the check; it does not become the exit code
    assert err == ""
    assert_names(out, f"{RULES}: {point.name}", "GD001")
    if fmt != "text":
        data = json.loads(out)
        assert data


# --------------------------------------------------------------------------------------------------
# Attribution plugins.


def journeys() -> pl.DataFrame:
    return pl.DataFrame(
        [("ads > email > demo", 1, 0), ("ads > demo", 1, 1), ("email", 0, 2)],
        schema=["path", "total_conversions", "total_null"],
        orient="row",
    )


class Ascending:
    name = "acme"

    def touch_weights(self, journeys: Journeys, /, **params: Any) -> Any:
        return (journeys.positions() + 1).astype(np.float64)


def model(body: Callable[[Journeys], Any], name: str = "acme") -> object:
    class Model:
        def touch_weights(self, journeys: Journeys, /, **params: Any) -> Any:
            return body(journeys)

    Model.name = name  # type: ignore[attr-defined]
    return Model()


def _weights_raise(exc: BaseException) -> Callable[[Journeys], Any]:
    def body(j: Journeys) -> Any:
        raise exc

    return body


def _weights_exit(j: Journeys) -> Any:
    sys.exit(2)


class _ArrayRaises:
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no array")


WEIGHT_FAULTS: dict[str, tuple[Callable[[Journeys], Any], str]] = {
    "raises": (_weights_raise(ZeroDivisionError("x / 0")), "touch_weights: ZeroDivisionError: x / 0"),
    "sys-exit": (_weights_exit, "touch_weights: SystemExit: 2"),
    "generator-exit": (_weights_raise(GeneratorExit()), "touch_weights: GeneratorExit"),
    "custom-baseexception": (_weights_raise(_Custom("c")), "touch_weights: _Custom: c"),
    "dict": (lambda j: {"ads": 1.0}, "touch_weights must return an array of weights, not dict"),
    "strings": (lambda j: ["1"] * j.n_touches, "not an array of <U1"),
    "text": (lambda j: "1,2,3", "not str"),
    "none": (lambda j: None, "not an array of object"),
    "decimals": (lambda j: [Decimal(1)] * j.n_touches, "not an array of object"),
    "booleans": (lambda j: np.ones(j.n_touches, dtype=bool), "not an array of bool"),
    "complex": (lambda j: np.ones(j.n_touches, dtype=complex), "not an array of complex128"),
    "too-short": (
        lambda j: np.ones(j.n_touches - 1),
        f"one weight per touch (6), not an array of shape ({5},)",
    ),
    "too-long": (lambda j: np.ones(j.n_touches + 1), "one weight per touch (6)"),
    "two-d": (lambda j: np.ones((j.n_touches, 1)), "not an array of shape (6, 1)"),
    "scalar": (lambda j: 1.0, "not an array of shape ()"),
    "nan": (lambda j: np.array([1, np.nan, 1, 1, 1, 1]), "finite weights; touch 1 has nan"),
    "inf": (lambda j: np.array([1, 1, np.inf, 1, 1, 1]), "finite weights; touch 2 has inf"),
    "negative": (lambda j: np.array([1, 1, 1, -1.0, 1, 1]), "weights >= 0; touch 3 has -1.0"),
    "array-raises": (lambda j: _ArrayRaises(), "touch_weights: RuntimeError: no array"),
}


@pytest.mark.parametrize("name", list(WEIGHT_FAULTS))
def test_attribution_plugin_bad_weights_are_a_plugin_error(name: str, plugins: Callable[..., None]) -> None:
    body, expected = WEIGHT_FAULTS[name]
    plugins(FakePoint("acme", returns(model(body)), ATTRIBUTION))
    with pytest.raises(PluginError) as caught:
        attribute(journeys(), model="acme")
    assert (caught.value.plugin, caught.value.group) == ("acme", ATTRIBUTION)
    assert_names(str(caught.value), f"{ATTRIBUTION}: acme: ", expected)


@pytest.mark.parametrize("name", ["raises", "sys-exit", "dict", "nan"])
def test_attribution_model_object_given_directly_is_checked_too(name: str) -> None:
    body, expected = WEIGHT_FAULTS[name]
    with pytest.raises(PluginError) as caught:
        attribute(journeys(), model=model(body))  # type: ignore[arg-type]
    assert_names(str(caught.value), f"{ATTRIBUTION}: acme: ", expected)


@pytest.mark.parametrize(
    "body",
    [
        lambda j: [1, 2, 3, 1, 2, 1],
        lambda j: np.array([1, 2, 3, 1, 2, 1], dtype=np.uint8),
        lambda j: (j.positions() + 1).astype(np.float32),
        lambda j: np.zeros(j.n_touches),
    ],
    ids=["int-list", "uint8", "float32", "zeros"],
)
def test_attribution_plugin_good_weights_of_other_number_types_are_accepted(
    body: Callable[[Journeys], Any], plugins: Callable[..., None]
) -> None:
    plugins(FakePoint("acme", returns(model(body)), ATTRIBUTION))
    result = attribute(journeys(), model="acme")
    assert sum(result.conversions.values()) == pytest.approx(2.0)


def _mutating_model(j: Journeys) -> Any:
    weights = (j.positions() + 1).astype(np.float64)
    for array in (j.codes, j.offsets, j.conversions, j.nulls):
        array.flags.writeable = True
        array[:] = 0
    j._cache.clear()
    j._cache["poisoned"] = True
    return weights


def test_attribution_plugin_gets_a_copy_of_the_journeys(plugins: Callable[..., None]) -> None:
    plugins(FakePoint("acme", returns(Ascending()), ATTRIBUTION))
    expected = attribute(journeys(), model="acme").conversions
    data = Journeys.from_paths(journeys())
    plugins(FakePoint("acme", returns(model(_mutating_model)), ATTRIBUTION))
    assert attribute(data, model="acme").conversions == expected
    assert data.conversions.tolist() == [1.0, 1.0, 0.0]


ATTRIBUTION_LOAD_FAULTS: dict[str, tuple[Callable[[], object], str]] = {
    "raises": (raises(ValueError("boom")), "failed to load (acme_raises:PLUGIN): ValueError: boom"),
    "sys-exit": (exits(3), "failed to load (acme_sys_exit:PLUGIN): SystemExit: 3"),
    "generator-exit": (raises(GeneratorExit()), "GeneratorExit"),
    "custom-baseexception": (raises(_Custom("c")), "_Custom: c"),
    "init-exits": (
        returns(type("M", (), {"name": "init-exits", "__init__": lambda s: sys.exit(4)})),
        "SystemExit: 4",
    ),
    "name-raises": (returns(_Props(name=ValueError("nameless"), touch_weights=None)), "ValueError: nameless"),
    "name-number": (returns(model(lambda j: None, name=5)), "does not implement AttributionModel"),  # type: ignore[arg-type]
    "no-weights": (returns(type("M", (), {"name": "no-weights"})()), "does not implement AttributionModel"),
    "name-mismatch": (returns(Ascending()), "names itself 'acme'; the entry point and model name must match"),
}


@pytest.mark.parametrize("name", list(ATTRIBUTION_LOAD_FAULTS))
def test_attribution_plugin_failing_to_load_warns_and_the_others_still_work(
    name: str, plugins: Callable[..., None]
) -> None:
    loader, expected = ATTRIBUTION_LOAD_FAULTS[name]
    plugins(FakePoint(name, loader, ATTRIBUTION), FakePoint("acme", returns(Ascending()), ATTRIBUTION))
    with pytest.warns(PluginWarning) as caught:
        names = sm.attribution.available_models()
    (warning,) = caught
    assert_names(str(warning.message), f"{ATTRIBUTION}: {name}: ", expected)
    assert "acme" in names
    assert name not in names
    assert attribute(journeys(), model="acme").model == "acme"
    with pytest.raises(PluginError) as refused:
        attribute(journeys(), model=name)
    assert_names(str(refused.value), f"{ATTRIBUTION}: {name}: ", expected)


def test_attribution_keyboard_interrupt_passes_through(plugins: Callable[..., None]) -> None:
    plugins(FakePoint("acme", returns(model(_weights_raise(KeyboardInterrupt()))), ATTRIBUTION))
    with pytest.raises(KeyboardInterrupt):
        attribute(journeys(), model="acme")


def _plan_with_model(tmp_path: Path, name: str) -> AlignmentPlan:
    text = EXAMPLE.read_text(encoding="utf-8").replace("model: position", f"model: {name}")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return load_plan(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_weights_raise(ZeroDivisionError("x / 0")), "touch_weights: ZeroDivisionError: x / 0"),
        (_weights_exit, "touch_weights: SystemExit: 2"),
        (lambda j: {"ads": 1.0}, "touch_weights must return an array of weights, not dict"),
        (lambda j: np.full(j.n_touches, np.nan), "finite weights; touch 0 has nan"),
    ],
    ids=["raises", "sys-exit", "dict", "nan"],
)
def test_rewards_with_a_broken_attribution_plugin_is_a_plugin_error(
    body: Callable[[Journeys], Any], expected: str, tmp_path: Path, plugins: Callable[..., None]
) -> None:
    plugins(FakePoint("acme", returns(model(body)), ATTRIBUTION))
    plan = _plan_with_model(tmp_path, "acme")
    with pytest.raises(PluginError) as caught:
        sm.compute_rewards(example_dataset(), plan, period="2026-Q4", as_of=date(2026, 12, 31))
    assert_names(str(caught.value), f"{ATTRIBUTION}: acme: touch_weights", expected)


# --------------------------------------------------------------------------------------------------
# Metric plugins.


def metric(result: Any, name: str = "acme_count", unit: str = "count") -> Metric:
    def compute(context: MetricContext) -> Any:
        if isinstance(result, BaseException):
            raise result
        if callable(result):
            return result(context)
        return result

    return Metric(name, unit, "Acme.", compute=compute, source="acme")  # type: ignore[arg-type]


def _card(m: Metric, formula: str = "acme_count") -> Any:
    registry = MetricRegistry().with_metrics(m)
    kpi = catalog.kpi("mql_volume", id="acme", formula=formula)
    return scorecard([kpi], example_dataset(), period="2026-10", as_of=AS_OF, metrics=registry)


def per_period(value: object) -> Callable[[MetricContext], dict[str, object]]:
    return lambda ctx: {w.label: value for w in ctx.windows}


METRIC_FAULTS: dict[str, tuple[object, str]] = {
    "raises": (ValueError("no data"), "compute: ValueError: no data"),
    "sys-exit": (SystemExit(3), "compute: SystemExit: 3"),
    "generator-exit": (GeneratorExit(), "compute: GeneratorExit"),
    "custom-baseexception": (_Custom("c"), "compute: _Custom: c"),
    "list": ([1, 2, 3], "must return a mapping of period label to value, not list"),
    "none": (None, "must return a mapping of period label to value, not NoneType"),
    "text": ("2026-10", "not str"),
    "int-keys": ({1: 1}, "keys must be period labels (text), not int"),
    "nan": (per_period(Decimal("NaN")), "returned NaN; a value must be a finite number"),
    "snan": (per_period(Decimal("sNaN")), "returned sNaN; a value must be a finite number"),
    "infinity": (per_period(Decimal("Infinity")), "returned Infinity"),
    "minus-infinity": (per_period(Decimal("-Infinity")), "returned -Infinity"),
    "float": (per_period(1.5), "returned float; expected int, Decimal, Fraction or Money"),
    "text-value": (per_period("7"), "returned str"),
    "bool": (per_period(True), "returned bool"),
    "int-subclass": (per_period(type("MyInt", (int,), {})(3)), "returned MyInt; expected int"),
    "decimal-subclass": (
        per_period(type("Sneaky", (Decimal,), {"is_finite": lambda self: sys.exit(1)})("NaN")),
        "returned Sneaky; expected int",
    ),
    "huge-decimal": (per_period(Decimal("1e40")), "outside the accepted range"),
    "huge-int": (per_period(10**30), "outside the accepted range"),
    "tiny-fraction": (per_period(Fraction(1, 10**40)), "outside the accepted range"),
    "billion-digit": (per_period(Decimal("1e999999999")), "outside the accepted range"),
}


@pytest.mark.parametrize("name", list(METRIC_FAULTS))
def test_metric_plugin_bad_compute_is_a_plugin_error(name: str) -> None:
    result, expected = METRIC_FAULTS[name]
    with pytest.raises(PluginError) as caught:
        _card(metric(result))
    assert (caught.value.plugin, caught.value.group) == ("acme", METRICS)
    assert_names(str(caught.value), f"{METRICS}: acme: ", "acme_count", expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (Decimal("7.50"), Decimal("7.5")),
        (Fraction(15, 2), Decimal("7.5")),
        (Decimal("-3"), -3),
    ],
    ids=["int", "decimal", "fraction", "negative"],
)
def test_metric_plugin_good_values_are_used(value: object, expected: object) -> None:
    card = _card(metric(per_period(value)))
    assert card.rows[0].value == expected


def test_metric_plugin_money_is_accepted() -> None:
    m = metric(per_period(Money("10", "EUR")), name="acme_money", unit="money")
    kpi = catalog.kpi("new_revenue", id="acme", formula="acme_money")
    card = scorecard(
        [kpi], example_dataset(), period="2026-10", as_of=AS_OF, metrics=MetricRegistry().with_metrics(m)
    )
    assert card.rows[0].value == Decimal("10")


def test_metric_keyboard_interrupt_passes_through() -> None:
    with pytest.raises(KeyboardInterrupt):
        _card(metric(KeyboardInterrupt()))


def _mutating_compute(ctx: MetricContext) -> dict[str, int]:
    ctx.data.leads.insert_column(0, pl.Series("evil", [1] * ctx.data.leads.height))
    ctx.data.leads.clear()
    if ctx.plan is not None:
        ctx.plan.__dict__["name"] = "HACKED"
    return {w.label: 1 for w in ctx.windows}


def test_metric_plugin_gets_copies_of_data_and_plan(plan: AlignmentPlan) -> None:
    data = example_dataset()
    leads_before = data.leads.clone()
    registry = MetricRegistry().with_metrics(metric(_mutating_compute))
    kpi = catalog.kpi("mql_volume", id="acme", formula="acme_count + mqls")
    mine = plan.model_copy(update={"kpis": [kpi]})
    card = scorecard(mine, data, period="2026-10", as_of=AS_OF, metrics=registry)
    assert data.leads.equals(leads_before)
    assert mine.name == "Fernbrook Analytics FY2027"
    plain = scorecard(
        mine.model_copy(update={"kpis": [catalog["mql_volume"]]}), data, period="2026-10", as_of=AS_OF
    )
    assert card.rows[0].value == plain.rows[0].value + 1


METRIC_LOAD_FAULTS: dict[str, tuple[Callable[[], object], str]] = {
    "raises": (raises(ValueError("boom")), "ValueError: boom"),
    "sys-exit": (exits(3), "SystemExit: 3"),
    "generator-exit": (raises(GeneratorExit()), "GeneratorExit"),
    "custom-baseexception": (raises(_Custom("c")), "_Custom: c"),
    "not-a-metric": (returns(42), "must point to a Metric or a list of Metrics, not int"),
    "list-iter-exits": (returns(_ExitingList([])), "SystemExit: 5"),
}


@pytest.mark.parametrize("name", list(METRIC_LOAD_FAULTS))
def test_metric_plugin_failing_to_load_warns_and_the_others_load(name: str) -> None:
    loader, expected = METRIC_LOAD_FAULTS[name]
    good = Metric("acme_good", "count", "Good.", compute=per_period(1))
    points = [FakePoint(name, loader, METRICS), FakePoint("good", returns(good), METRICS)]
    with pytest.warns(PluginWarning) as caught:
        registry = MetricRegistry.from_entry_points(points)  # type: ignore[arg-type]
    (warning,) = caught
    assert_names(str(warning.message), f"{METRICS}: {name}: ", expected, "skipped")
    assert registry["acme_good"].source == "good"


def test_metric_default_registry_uses_the_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    good = Metric("acme_good", "count", "Good.", compute=per_period(1))
    monkeypatch.setattr(
        _plugins,
        "entry_points",
        lambda group: (
            (FakePoint("exits", exits(1), METRICS), FakePoint("good", returns(good), METRICS))
            if group == METRICS
            else ()
        ),
    )
    kpi_metrics._default_registry.cache_clear()
    try:
        with pytest.warns(PluginWarning, match=f"{METRICS}: exits: failed to load"):
            registry = MetricRegistry.default()
        assert "acme_good" in registry
    finally:
        kpi_metrics._default_registry.cache_clear()


# --------------------------------------------------------------------------------------------------
# The loader itself.


def test_plugin_warning_keeps_its_old_import_path() -> None:
    assert sm.attribution.PluginWarning is PluginWarning is sm.PluginWarning
    assert issubclass(PluginWarning, UserWarning)


def test_plugin_error_message_shape() -> None:
    error = PluginError("touch_weights: boom", plugin="acme-rules", group=RULES)
    assert str(error) == "smarketing.rules: acme-rules: touch_weights: boom"
    assert isinstance(error, sm.SmarketingError)


def test_guard_keeps_the_plugins_exception_as_cause() -> None:
    with pytest.raises(PluginError) as caught:
        _plugins.guard(RULES, "acme", "loading", sys.exit, 3)
    assert isinstance(caught.value.__cause__, SystemExit)


def test_call_returns_the_value_and_passes_keyboard_interrupt() -> None:
    assert _plugins.call(RULES, "acme", "x", lambda a: a + 1, 1, timeout=5) == 2

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _plugins.call(RULES, "acme", "x", interrupt, timeout=5)


def test_time_budget_works_off_the_main_thread(plugins: Callable[..., None], plan: AlignmentPlan) -> None:
    # The budget is a worker thread, not SIGALRM, so a check run from any thread is protected too.
    plugins(FakePoint("slow", returns([plugin_rule(_sleeps)])))
    reports: list[sm.rules.CheckReport] = []
    runner = threading.Thread(target=lambda: reports.append(sm.check(plan, rule_timeout=0.2)))
    runner.start()
    runner.join(5)
    (message,) = engine(reports[0], "SM001")
    assert_names(message, f"{RULES}: slow: rule AC001", "did not finish within 0.2 s")


@pytest.mark.parametrize(
    ("name", "expected"),
    [(ValueError("nameless"), "ValueError: nameless"), (_exit_now, "SystemExit: 9")],
    ids=["raises", "exits"],
)
def test_attribution_model_object_whose_name_fails_is_a_plugin_error(name: object, expected: str) -> None:
    with pytest.raises(PluginError) as caught:
        attribute(journeys(), model=_Props(name=name, touch_weights=lambda: None))  # type: ignore[arg-type]
    assert_names(str(caught.value), f"{ATTRIBUTION}: the model given", expected)
