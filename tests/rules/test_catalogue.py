"""Every built-in rule: it fires on a plan with the gap it describes and stays quiet on the example."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

import smarketing as sm
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import builtin_rules

from .conftest import example_data

Data = dict[str, Any]


def _stage(data: Data, stage_id: str) -> Data:
    return next(s for s in data["journey"]["stages"] if s["id"] == stage_id)


def _transition(data: Data, source: str, to: str) -> Data:
    return next(t for t in data["journey"]["transitions"] if (t["from"], t["to"]) == (source, to))


def _add_stage(data: Data, stage_id: str, owner: str = "marketing", name: str = "Lead") -> None:
    data["journey"]["stages"].append({"id": stage_id, "name": name, "owner": owner, "kind": "other"})


def j001(d: Data) -> None:
    _add_stage(d, "event-guest")
    d["journey"]["transitions"].append({"from": "event-guest", "to": "lead"})


def j002(d: Data) -> None:
    _add_stage(d, "island-a")
    _add_stage(d, "island-b")
    d["journey"]["transitions"] += [
        {"from": "island-a", "to": "island-b"},
        {"from": "island-b", "to": "island-a"},
    ]


def j003(d: Data) -> None:
    _add_stage(d, "dead-end")
    d["journey"]["transitions"].append({"from": "lead", "to": "dead-end"})


def j004(d: Data) -> None:
    for stage_id in ("closed_lost", "disqualified"):
        del _stage(d, stage_id)["terminal"]


def j005(d: Data) -> None:
    _add_stage(d, "customer-again", owner="marketing", name="customer")
    d["journey"]["transitions"].append({"from": "opportunity", "to": "customer-again"})


def j006(d: Data) -> None:
    del _transition(d, "mql", "sal")["kind"]


def j007(d: Data) -> None:
    t = _transition(d, "sal", "lead")
    t.pop("kind"), t.pop("max_recycles", None)


def j008(d: Data) -> None:
    _transition(d, "sal", "lead").pop("max_recycles", None)


def j009(d: Data) -> None:
    _stage(d, "subscriber")["owner"] = "sales"


def j010(d: Data) -> None:
    _stage(d, "subscriber")["name"] = "Newsletter reader"


def s001(d: Data) -> None:
    del d["sla"]["sales"]["first_response"]


def s002(d: Data) -> None:
    d["sla"]["calendar"]["always_open"] = True


def s003(d: Data) -> None:
    del d["sla"]["marketing"]["quality"]


def s004(d: Data) -> None:
    del d["sla"]["sales"]["disposition"]


def s005(d: Data) -> None:
    del d["sla"]["sales"]["attempts"]


def s006(d: Data) -> None:
    d["sla"]["escalation"][1]["after_hours"] = "1"


def s007(d: Data) -> None:
    d["sla"]["escalation"][2]["notify"] = ["tom.schulz"]


def s008(d: Data) -> None:
    d["sla"]["tiers"][0]["grades"] = ["Z"]


def k001(d: Data) -> None:
    for k in d["kpis"]:
        k["owners"] = k["owners"][:1]


def k002(d: Data) -> None:
    del d["kpis"][0]["target"]


def k005(d: Data) -> None:
    d["sla"]["marketing"]["volume"]["count"] = 400


def k004(d: Data) -> None:
    d["kpis"][1]["owners"] = ["sales"]


def r001(d: Data) -> None:
    d["rewards"]["participants"] = [
        p for p in d["rewards"]["participants"] if p.get("person") in ("sara.lind",)
    ]


def r002(d: Data) -> None:
    d["rewards"]["team_split"]["marketing"] = "40%"


def r003(d: Data) -> None:
    d["rewards"]["tiers"][1]["from_attainment"] = "0.6"


def r004(d: Data) -> None:
    d["rewards"]["cap_per_deal"] = "-1 EUR"


def r005(d: Data) -> None:
    del d["rewards"]["clawback"]


def r006(d: Data) -> None:
    del d["rewards"]["attribution"]
    d["rewards"]["kpis"] = []


def p001(d: Data) -> None:
    for p in d["personas"]:
        p.pop("readiness_signals", None)


def p002(d: Data) -> None:
    first, second = d["personas"][:2]
    second["firmographics"], second["roles"] = (
        copy.deepcopy(first["firmographics"]),
        copy.deepcopy(first["roles"]),
    )


def p003(d: Data) -> AlignmentPlan:
    # The loader rejects an unknown persona; a plan edited in code (model_copy skips validation) does not.
    plan = load_plan(d)
    return plan.model_copy(update={"personas": plan.personas[:1]})


def p004(d: Data) -> None:
    scoring = d["personas"][0]["scoring"]
    scoring.pop("mql", None)
    scoring["mql_threshold"] = 60


def l001(d: Data) -> None:
    d["kpis"][0]["name"] = "MQL count"


def l002(d: Data) -> None:
    customer = next(t for t in d["glossary"]["terms"] if t["term"] == "Customer")
    customer["synonyms"].append("prospect")


def l003(d: Data) -> None:
    _stage(d, "mql")["description"] = "Every hot lead goes to an SDR."


def c001(d: Data) -> None:
    d["cadence"][0]["frequency"] = "monthly"


def c002(d: Data) -> None:
    d["cadence"][1]["frequency"] = "quarterly"


def c003(d: Data) -> None:
    d["cadence"] = [m for m in d["cadence"] if m["kind"] != "retrospective"]


def c004(d: Data) -> None:
    d["arbiter"]["person"] = "ruth.baker"


MUTATIONS: dict[str, Callable[[Data], AlignmentPlan | None]] = {
    name.upper(): fn
    for name, fn in globals().items()
    if len(name) == 4 and name[1:].isdigit() and callable(fn)
}


def misaligned(code: str) -> AlignmentPlan:
    data = example_data()
    result = MUTATIONS[code](data)
    return result if isinstance(result, AlignmentPlan) else load_plan(data)


def codes(report: sm.CheckReport) -> set[str]:
    return {d.code for d in report.diagnostics}


def test_example_data_round_trips(example_plan: AlignmentPlan) -> None:
    assert load_plan(example_data()) == example_plan


def test_every_builtin_rule_has_a_firing_case() -> None:
    assert sorted(MUTATIONS) == sorted(r.code for r in builtin_rules())


@pytest.mark.parametrize("code", sorted(MUTATIONS))
def test_rule_fires_on_its_gap(code: str) -> None:
    report = sm.check(misaligned(code), select=[code])
    assert codes(report) == {code}
    for d in report.diagnostics:
        assert d.message
        assert d.hint
        assert d.url
        assert d.url.endswith(f"#{code.lower()}")


@pytest.mark.parametrize("code", sorted(MUTATIONS))
def test_rule_is_quiet_on_the_example(code: str, example_plan: AlignmentPlan) -> None:
    assert sm.check(example_plan, select=[code]).diagnostics == ()


def test_the_example_has_no_findings(example_plan: AlignmentPlan) -> None:
    report = sm.check(example_plan)
    assert report.diagnostics == ()
    assert report.score == 100


@pytest.mark.parametrize("code", sorted(MUTATIONS))
def test_rule_is_quiet_on_the_minimal_plan_or_says_why(code: str, minimal_plan_text: str) -> None:
    """On a bare plan a rule may fire, but it never crashes."""
    report = sm.check(load_plan(minimal_plan_text), select=[code])
    assert "SM001" not in codes(report)


def test_example_plan_is_aligned(example_plan: AlignmentPlan) -> None:
    report = sm.check(example_plan)
    assert report.ok
    assert report.score >= 90


def test_misaligned_example_fails_in_every_area() -> None:
    report = sm.check(load_plan("examples/misaligned.yaml"))
    assert not report.ok
    assert report.score < 50
    assert {d.area for d in report.diagnostics} >= set(sm.rules.AREAS)


@pytest.mark.parametrize(
    ("code", "mutate", "expected"),
    [
        (
            "J001",
            lambda d: d["journey"]["transitions"].append({"from": "customer", "to": "subscriber"}),
            "no entry",
        ),
        ("J003", lambda d: [s.pop("terminal", None) for s in d["journey"]["stages"]], None),
        ("J004", lambda d: [s.pop("terminal", None) for s in d["journey"]["stages"]], "terminal: won"),
        ("J006", lambda d: _transition(d, "sal", "sql").update(kind="handoff"), "does not go from"),
        ("J007", lambda d: d["journey"]["transitions"].append({"from": "lead", "to": "lead"}), "to itself"),
        ("S001", lambda d: d.pop("sla"), "the plan has no SLA"),
        ("S002", lambda d: d["sla"]["calendar"].update(timezone="UTC"), "not a place"),
        ("S002", lambda d: d["sla"]["calendar"].update(hours={}), "never runs"),
        ("S003", lambda d: d.pop("sla"), "neither volume nor quality"),
        ("S005", lambda d: d["sla"]["sales"]["attempts"].update(within_business_days=20), "due after 15"),
        (
            "S005",
            lambda d: d["sla"]["sales"]["disposition"].pop("unable_to_reach_reason"),
            "means 'could not",
        ),
        ("S007", lambda d: d["sla"].pop("escalation"), "no escalation ladder"),
        ("K001", lambda d: d.pop("kpis") and d["rewards"].update(kpis=[]), "no KPI"),
        ("K005", lambda d: d.pop("targets"), "has no revenue target"),
        ("K005", lambda d: d["targets"]["conversion_rates"].pop("mql"), "has no rate for 'mql'"),
        ("K005", lambda d: d["sla"]["marketing"]["volume"].update(period="week"), "per the same period"),
        ("K005", lambda d: d["targets"].update(average_deal_size="24000 USD"), "cannot be worked out"),
        ("K005", lambda d: d["targets"]["conversion_rates"].update(sal="0"), "cannot be worked out"),
        ("K005", lambda d: d["sla"]["marketing"]["volume"].update(period="quarter", count=1350), None),
        (
            "K005",
            lambda d: d["sla"]["marketing"]["volume"].update(period="year", count=5000),
            "commits 416.7 'mql' leads per month",
        ),
        ("R001", lambda d: d["rewards"]["team_split"].update(marketing="0", sales="1"), "gives no marketing"),
        ("R001", lambda d: d.pop("rewards"), "no shared reward"),
        (
            "R002",
            lambda d: d["rewards"]["splits"].append({"kind": "revenue", "shares": {"sales": "0.5"}}),
            "50%",
        ),
        ("R003", lambda d: d["rewards"]["tiers"][0].update(from_attainment="0.1"), "from 0 to 0.1"),
        ("R003", lambda d: d["rewards"]["tiers"][2].update(to_attainment="2"), "above 2"),
        ("R003", lambda d: d["rewards"]["tiers"][1].update(to_attainment="0.5"), "not after its start"),
        ("R003", lambda d: d["rewards"]["tiers"][1].pop("to_attainment"), "open-ended"),
        ("R004", lambda d: d["rewards"].update(floor="50000 EUR"), "above the period cap"),
        ("R004", lambda d: d["rewards"].update(floor="5 USD"), "in USD"),
        ("R005", lambda d: d["rewards"]["clawback"].update(window_days=0), "0 days"),
        ("P001", lambda d: d.pop("personas") and d["sla"].update(tiers=[]), "no personas"),
        ("L002", lambda d: d["glossary"]["terms"][1]["synonyms"].append("customer"), "is itself the term"),
        ("C001", lambda d: d["cadence"][0].pop("outcome_owner"), "has no outcome owner"),
        ("C004", lambda d: d.pop("arbiter"), "names no arbiter"),
    ],
)
def test_rule_variants(code: str, mutate: Callable[[Data], object], expected: str | None) -> None:
    data = example_data()
    mutate(data)
    report = sm.check(load_plan(data), select=[code])
    messages = [d.message for d in report.diagnostics if d.code == code]
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def test_synonym_in_a_stage_name_names_the_preferred_term() -> None:
    data = example_data()
    _stage(data, "mql")["name"] = "Hot lead"
    (d,) = sm.check(load_plan(data), select=["J010"]).diagnostics
    assert "'Marketing Qualified Lead'" in d.message
    assert d.hint == "Rename it to 'Marketing Qualified Lead'."


def test_rules_scale_linearly_on_long_chains() -> None:
    """A 2,000-stage chain must not hit recursion or quadratic paths (no timing asserted)."""
    stages = [{"id": f"s{i}", "name": f"S{i}", "owner": "marketing", "kind": "lead"} for i in range(2000)]
    stages[-1].update(terminal="won", owner="sales")
    data = {
        "name": "Chain",
        "teams": [
            {"id": "marketing", "name": "M", "function": "marketing"},
            {"id": "sales", "name": "S", "function": "sales"},
        ],
        "journey": {
            "stages": stages,
            "transitions": [{"from": f"s{i}", "to": f"s{i + 1}"} for i in range(1999)],
        },
    }
    report = sm.check(load_plan(data), select=["J002", "J003", "J007"])
    assert report.diagnostics == ()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "Every HOT  lead goes to an SDR.",
            ["'HOT  lead' is a discouraged synonym of 'Marketing Qualified Lead'"],
        ),
        ("hot leads are not a synonym; hot-lead is", ["'hot-lead' is a discouraged synonym"]),
        ("A client, then another client.", ["'client' is a discouraged synonym of 'Customer'"]),
        (
            "Speed to lead and bookings.",
            ["'Speed to lead'", "'bookings' is a discouraged synonym of 'New revenue'"],
        ),
        ("Clientele and prospectus are other words.", []),
    ],
)
def test_synonyms_are_matched_as_whole_words(text: str, found: list[str]) -> None:
    data = example_data()
    _stage(data, "mql")["description"] = text
    messages = [d.message for d in sm.check(load_plan(data), select=["L003"]).diagnostics]
    assert len(messages) == len(found)
    for message, expected in zip(messages, found, strict=True):
        assert expected in message


def test_the_benchmark_plan_generator_gives_a_loadable_mostly_aligned_plan() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "rules.py"
    spec = importlib.util.spec_from_file_location("benchmark_rules", path)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    plan = load_plan(bench.generate(60, 300, 12, 5))
    assert (len(plan.journey.stages), len(plan.journey.transitions), len(plan.kpis), len(plan.personas)) == (
        60,
        300,
        12,
        5,
    )
    report = sm.check(plan)
    assert report.ok
    assert {d.code for d in report.diagnostics} == {"L003"}
