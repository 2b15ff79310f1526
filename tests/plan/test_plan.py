"""The plan loader: strict YAML 1.2 / JSON reading, located errors, round trips and the JSON Schema.

The corpus in ``tests/plan/plans/broken/`` holds small realistic plans with exactly one problem each. Line 1
of every file states what the loader must say, as the error's text after the file name::

    # expect: 15: journey.stages[2].owner: unknown team 'mktg'
    # expect: 1: the plan is empty                      (no field path: the whole document)

JSON has no comments, so a JSON file states it inside the plan's ``description`` on line 1.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from smarketing import PlanError, SmarketingError
from smarketing.plan import (
    MAX_PLAN_BYTES,
    AlignmentPlan,
    dump_plan,
    load_plan,
    plan_json_schema,
)
from smarketing.plan._yaml import PlanLoader

BROKEN = Path(__file__).parent / "plans" / "broken"
CORPUS = sorted(p for p in BROKEN.iterdir() if p.suffix in {".yaml", ".json"})


_EXPECT = re.compile(r"# expect: (?P<line>\d+): (?P<rest>.+?)(?:\",)?$")
_PATH_FIRST = re.compile(r"^(?P<path>[A-Za-z0-9_.\-\[\]]+): (?P<fragment>.+)$")


@dataclass(frozen=True)
class Expectation:
    line: int
    path: str
    fragment: str

    def prefix(self, file: str) -> str:
        return f"{file}:{self.line}: " + (f"{self.path}: " if self.path else "")


def expectation(plan_file: Path) -> Expectation:
    first = plan_file.read_text(encoding="utf-8").split("\n", 1)[0]
    match = _EXPECT.search(first)
    assert match, f"{plan_file.name}: line 1 must state '# expect: LINE: [PATH: ]MESSAGE'"
    rest = match["rest"]
    located = _PATH_FIRST.match(rest)
    if located:
        return Expectation(int(match["line"]), located["path"], located["fragment"])
    return Expectation(int(match["line"]), "", rest)


def corpus_params() -> list[Any]:
    return [pytest.param(p, id=p.name) for p in CORPUS]


def strict_yaml(text: str) -> Any:
    """Parse with the loader's own YAML reader (exact decimals, YAML 1.2 core scalars)."""
    return yaml.load(text, Loader=PlanLoader)  # a SafeLoader subclass


@pytest.fixture
def oversize_plan(tmp_path: Path, minimal_plan_text: str) -> Path:
    """A valid plan padded with comments to one byte over the limit (generated, not committed)."""
    path = tmp_path / "oversize.yaml"
    padding = MAX_PLAN_BYTES + 1 - len(minimal_plan_text.encode())
    comment = "# " + "x" * 97 + "\n"
    text = minimal_plan_text + comment * (padding // len(comment)) + "#" * (padding % len(comment))
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size == MAX_PLAN_BYTES + 1
    return path


# --------------------------------------------------------------------------------------------------
# The broken corpus.


def test_corpus_is_large_enough(oversize_plan: Path) -> None:
    assert len([*CORPUS, oversize_plan]) >= 24


@pytest.mark.parametrize("plan_file", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_expectations_are_well_formed(plan_file: Path) -> None:
    expect = expectation(plan_file)
    lines = plan_file.read_text(encoding="utf-8").splitlines() or [""]
    assert 1 <= expect.line <= len(lines)
    assert expect.fragment.strip()


@pytest.mark.parametrize("plan_file", corpus_params())
def test_broken_plan_is_rejected_at_its_place(plan_file: Path) -> None:
    expect = expectation(plan_file)
    with pytest.raises(PlanError) as info:
        load_plan(plan_file)
    err = info.value
    assert type(err) is PlanError
    assert len(err.issues) == 1, f"one problem, one issue; got {err.issues}"
    text = str(err)
    assert text.startswith(expect.prefix(str(plan_file))), text
    assert expect.fragment in text
    assert (err.file, err.line, err.path) == (str(plan_file), expect.line, expect.path)


#: Every kind of id the loader cross-checks, as a pattern of the path it reports.
REFERENCE_PATHS = [
    r"journey\.stages\[\d+\]\.owner",
    r"journey\.transitions\[\d+\]\.to",
    r"people\[\d+\]\.team",
    r"people\[\d+\]\.manager",
    r"sla\.marketing\.\w+\.\w*stage",
    r"sla\.tiers\[\d+\]\.personas\[\d+\]",
    r"sla\.escalation\[\d+\]\.notify\[\d+\]",
    r"kpis\[\d+\]\.owners\[\d+\]",
    r"targets\.conversion_rates\.",
    r"rewards\.participants\[\d+\]\.person",
    r"rewards\.participants\[\d+\]\.team",
    r"rewards\.team_split\.",
    r"rewards\.splits\[\d+\]\.shares\.",
    r"rewards\.kpis\[\d+\]",
    r"glossary\.terms\[\d+\]\.owner",
    r"cadence\[\d+\]\.teams\[\d+\]",
    r"cadence\[\d+\]\.outcome_owner",
    r"arbiter\.person",
]


@pytest.mark.parametrize("pattern", REFERENCE_PATHS)
def test_corpus_covers_every_reference_kind(pattern: str) -> None:
    paths = [expectation(p).path for p in CORPUS]
    assert any(re.match(pattern, path) for path in paths), f"no corpus file for {pattern}"


def test_oversize_file_is_refused_before_parsing(oversize_plan: Path) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(oversize_plan)
    err = info.value
    assert str(err).startswith(f"{oversize_plan}: file is {MAX_PLAN_BYTES + 1:,} bytes")
    assert f"limited to {MAX_PLAN_BYTES:,}" in str(err)
    assert (err.file, err.line, err.path) == (str(oversize_plan), None, "")


def test_max_bytes_is_an_option(example_plan_path: Path, minimal_plan_text: str) -> None:
    with pytest.raises(PlanError, match="limited to 1,000"):
        load_plan(example_plan_path, max_bytes=1000)
    with pytest.raises(PlanError, match="larger than 100 bytes"):
        load_plan(minimal_plan_text, max_bytes=100)


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}:1: the plan is empty"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}: no such plan file"
    assert info.value.file == str(path)


def test_not_utf8(tmp_path: Path, minimal_plan_text: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(minimal_plan_text.encode().replace(b"Tiny", b"T\xefny"))
    with pytest.raises(PlanError, match=r"plan.yaml:1: not UTF-8 text \(byte 8 of the file\)"):
        load_plan(path)


def test_utf8_bom_is_fine(tmp_path: Path, minimal_plan_text: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + minimal_plan_text.encode())
    assert load_plan(path) == load_plan(minimal_plan_text)


def test_every_problem_is_listed_in_line_order(minimal_plan_text: str) -> None:
    text = minimal_plan_text.replace("owner: sales", "owner: sale").replace("owner: marketing", "owner: mktg")
    with pytest.raises(PlanError) as info:
        load_plan(text)
    err = info.value
    assert [(i.line, i.path) for i in err.issues] == [
        (7, "journey.stages[0].owner"),
        (8, "journey.stages[1].owner"),
    ]
    assert str(err) == "line 7: journey.stages[0].owner: unknown team 'mktg'; did you mean 'marketing'? " + (
        "(and 1 more problem(s))"
    )


def test_validation_error_does_not_leak(minimal_plan_text: str) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(minimal_plan_text.replace("kind: mql", "kind: hot"))
    assert not isinstance(info.value, ValidationError)
    assert info.value.__suppress_context__
    assert isinstance(info.value, SmarketingError | ValueError)


def test_plan_error_survives_pickling(example_plan_path: Path) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(BROKEN / "dangling-stage-owner.yaml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.file, copy.line, copy.path, copy.issues) == (
        str(info.value),
        info.value.file,
        info.value.line,
        info.value.path,
        info.value.issues,
    )


def test_one_bad_union_value_is_one_issue(minimal_plan_text: str) -> None:
    text = minimal_plan_text + (
        "personas:\n"
        "  - id: ops\n"
        "    name: Ops\n"
        "    scoring:\n"
        "      fit:\n"
        "        - {field: industry, op: in, value: {logistics: 1}, points: 20}\n"
    )
    with pytest.raises(PlanError) as info:
        load_plan(text)
    assert [(i.line, i.path) for i in info.value.issues] == [(16, "personas[0].scoring.fit[0].value")]


def test_control_character_is_a_plan_error(minimal_plan_text: str) -> None:
    with pytest.raises(PlanError, match="line 1"):
        load_plan(minimal_plan_text.replace("Tiny", "Ti\x07ny"))


# --------------------------------------------------------------------------------------------------
# The example plan and round trips.


def test_example_plan_loads(example_plan: AlignmentPlan, example_plan_path: Path) -> None:
    assert example_plan.name == "Fernbrook Analytics FY2027"
    assert {t.function for t in example_plan.teams} >= {"marketing", "sales"}
    assert example_plan.source_file == str(example_plan_path)
    assert [t.id for t in example_plan.teams_with_function("sales")] == ["sales"]
    assert all(p.team == "sales" for p in example_plan.people_in("sales"))
    assert example_plan.journey.handoffs()


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_example(example_plan: AlignmentPlan, fmt: str) -> None:
    text = dump_plan(example_plan, format=fmt)  # type: ignore[arg-type]
    again = load_plan(text)
    assert again == example_plan
    assert dump_plan(again, format=fmt) == text  # type: ignore[arg-type]


TRICKY = """\
name: "NO"
description: "010"
teams:
  - {id: marketing, name: "yes", function: marketing, description: "0.1"}
  - {id: sales, name: "null", function: sales, description: "~"}
journey:
  stages:
    - id: mql
      name: "1e3"
      owner: marketing
      kind: mql
      entry_criteria: ["true", "0x1F", "0o17", ".5", "2026-10-01", "on", "off", "NO", "-1"]
kpis:
  - {id: k1, name: K1, owners: [sales], formula: mqls, unit: count, direction: higher_is_better,
     target: 1e3}
  - {id: k2, name: K2, owners: [sales], formula: won / won, unit: ratio, direction: higher_is_better,
     target: 0.10}
  - {id: k3, name: K3, owners: [sales], formula: cycle_days, unit: days, direction: lower_is_better,
     target: -0.5}
"""


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_keeps_text_that_looks_like_something_else(fmt: str) -> None:
    plan = load_plan(TRICKY)
    again = load_plan(dump_plan(plan, format=fmt))  # type: ignore[arg-type]
    assert again == plan
    assert again.name == "NO"
    assert again.journey.stages[0].entry_criteria == plan.journey.stages[0].entry_criteria
    assert [str(k.target) for k in again.kpis] == ["1E+3", "0.10", "-0.5"]


def test_round_trip_minimal(minimal_plan_text: str) -> None:
    plan = load_plan(minimal_plan_text)
    text = dump_plan(plan)
    assert load_plan(text) == plan
    # Defaults are left out, so a dump stays as short as what people write.
    assert set(strict_yaml(text)) == {"name", "teams", "journey"}


def test_dump_rejects_unknown_format(example_plan: AlignmentPlan) -> None:
    with pytest.raises(ValueError, match="'yaml' or 'json'"):
        dump_plan(example_plan, format="xml")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Sources.


def test_sources_all_give_the_same_plan(example_plan: AlignmentPlan, example_plan_path: Path) -> None:
    text = example_plan_path.read_text(encoding="utf-8")
    sources: list[Any] = [
        example_plan_path,
        str(example_plan_path),
        text,
        dump_plan(example_plan, format="json"),
        strict_yaml(text),
    ]
    for source in sources:
        assert load_plan(source) == example_plan


def test_existing_file_without_plan_suffix_is_a_path(tmp_path: Path, minimal_plan_text: str) -> None:
    path = tmp_path / "plan.txt"
    path.write_text(minimal_plan_text, encoding="utf-8")
    plan = load_plan(str(path))
    assert plan.source_file == str(path)


def test_json_file(tmp_path: Path, example_plan: AlignmentPlan) -> None:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(example_plan, format="json"), encoding="utf-8")
    plan = load_plan(path)
    assert plan == example_plan
    owner_line = _json_line(path, '"owner"')
    assert plan.location("journey.stages[0].owner") == f"{path}:{owner_line}"


def _json_line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_compact_json_text(example_plan: AlignmentPlan) -> None:
    compact = json.dumps(json.loads(dump_plan(example_plan, format="json")))
    assert "\n" not in compact
    assert load_plan(compact) == example_plan


def test_tab_indented_json_still_has_lines(tmp_path: Path, minimal_plan_text: str) -> None:
    data = strict_yaml(minimal_plan_text.replace("owner: sales", "owner: sale"))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, indent="\t"), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.path == "journey.stages[1].owner"
    assert info.value.line == _json_line(path, '"sale"')


def test_mapping_source_has_no_location(minimal_plan_text: str) -> None:
    plan = load_plan(strict_yaml(minimal_plan_text))
    assert plan.source_file is None
    assert plan.location("journey") is None
    with pytest.raises(PlanError) as info:
        load_plan({"name": "x"})
    assert info.value.file is None
    assert info.value.line is None
    assert str(info.value).startswith("journey: required field missing")


# --------------------------------------------------------------------------------------------------
# YAML 1.2 core, read strictly.


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("NO", "NO"),
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("010", 10),
        ("-007", -7),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", "1_000"),
        ("0.1", Decimal("0.1")),
        ("-1.50", Decimal("-1.50")),
        ("1e3", Decimal("1e3")),
        (".5", Decimal("0.5")),
        ("2026-10-01", "2026-10-01"),
        ("12:30", "12:30"),
        ("~", None),
        ("null", None),
        ("", None),
        (".inf", ".inf"),
    ],
)
def test_yaml_12_core_scalars(text: str, value: object) -> None:
    parsed = strict_yaml(f"key: {text}\n")["key"]
    assert parsed == value
    assert type(parsed) is type(value)
    if isinstance(value, Decimal):
        assert str(parsed) == str(value)  # exactly as written, never through float


def test_no_stays_a_country(minimal_plan_text: str) -> None:
    plan = load_plan(
        minimal_plan_text + "sla:\n  calendar:\n    timezone: Europe/Oslo\n    holidays: {country: NO}\n"
    )
    assert plan.sla is not None
    assert plan.sla.calendar.holidays is not None
    assert plan.sla.calendar.holidays.country == "NO"


def test_decimals_are_exact_in_models(minimal_plan_text: str) -> None:
    plan = load_plan(
        minimal_plan_text
        + "kpis:\n  - {id: k, name: K, owners: [sales], formula: won / won, unit: ratio,"
        + " direction: higher_is_better,"
        + " target: 0.1}\n"
        + "cadence:\n  - {id: m, name: M, kind: sync, frequency: weekly, teams: [sales],"
        + " duration_minutes: 010}\n"
        + "glossary:\n  terms:\n    - {term: Yes, definition: yes}\n"
    )
    target = plan.kpis[0].target
    assert isinstance(target, Decimal)
    assert target == Decimal("0.1")
    assert target.as_tuple() == Decimal("0.1").as_tuple()
    assert plan.cadence[0].duration_minutes == 10
    assert plan.glossary.terms[0].definition == "yes"


def test_unquoted_date_is_parsed_by_the_model(example_plan: AlignmentPlan) -> None:
    from datetime import date

    assert example_plan.sla is not None
    assert example_plan.sla.calendar.closed_dates[0] == date(2026, 12, 24)


def test_multiple_documents_are_refused(minimal_plan_text: str) -> None:
    with pytest.raises(PlanError, match="invalid YAML"):
        load_plan(minimal_plan_text + "---\n" + minimal_plan_text)


def test_non_text_key_is_refused(minimal_plan_text: str) -> None:
    with pytest.raises(PlanError, match="a key must be text"):
        load_plan(minimal_plan_text + "? [a, b]\n: c\n")


def test_deep_nesting_is_a_plan_error(minimal_plan_text: str) -> None:
    with pytest.raises(PlanError, match="nested too deeply"):
        load_plan(minimal_plan_text + "cadence: " + "[" * 5000 + "]" * 5000 + "\n")


# --------------------------------------------------------------------------------------------------
# AlignmentPlan behaviour.


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_location_gives_file_and_line(example_plan: AlignmentPlan, example_plan_path: Path) -> None:
    stage_line = _line_of(example_plan_path, "- {id: subscriber,")
    assert example_plan.location("journey.stages[0].owner") == f"{example_plan_path}:{stage_line}"
    # A field left out points at its nearest enclosing part.
    assert example_plan.location("journey.stages[0].terminal") == f"{example_plan_path}:{stage_line}"
    arbiter_line = _line_of(example_plan_path, "person: ida.moreau")
    assert example_plan.location("arbiter.person") == f"{example_plan_path}:{arbiter_line}"


def test_location_of_text_is_a_line(minimal_plan_text: str) -> None:
    plan = load_plan(minimal_plan_text)
    assert plan.location("journey.stages[1].owner") == "line 8"
    assert plan.location("teams[0]") == "line 3"


def test_equality_ignores_the_source(
    example_plan: AlignmentPlan, example_plan_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere.yaml"
    copy.write_text("\n\n# moved down two lines\n" + example_plan_path.read_text(), encoding="utf-8")
    moved = load_plan(copy)
    assert moved == example_plan
    assert moved.location("name") != example_plan.location("name")
    assert example_plan != load_plan(example_plan_path.read_text().replace("FY2027", "FY2028"))
    assert example_plan != "Fernbrook Analytics FY2027"


def test_plans_are_not_hashable(example_plan: AlignmentPlan) -> None:
    with pytest.raises(TypeError):
        hash(example_plan)


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (lambda p: p, "name"),
        (lambda p: p.teams[0], "name"),
        (lambda p: p.journey, "stages"),
        (lambda p: p.journey.stages[0], "owner"),
        (lambda p: p.rewards, "currency"),
        (lambda p: p.sla.calendar, "timezone"),
    ],
)
def test_models_are_frozen(example_plan: AlignmentPlan, target: Any, field: str) -> None:
    obj = target(example_plan)
    before = getattr(obj, field)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(obj, field, before)
    assert getattr(obj, field) is before


def test_changes_go_through_model_copy(example_plan: AlignmentPlan) -> None:
    renamed = example_plan.model_copy(update={"name": "Renamed"})
    assert renamed.name == "Renamed"
    assert example_plan.name == "Fernbrook Analytics FY2027"


def test_mapping_order_is_irrelevant(example_plan_path: Path) -> None:
    data = strict_yaml(example_plan_path.read_text())
    reordered = dict(reversed(data.items()))
    reordered["targets"] = {
        **data["targets"],
        "conversion_rates": dict(reversed(data["targets"]["conversion_rates"].items())),
    }
    reordered["rewards"] = {
        **dict(reversed(data["rewards"].items())),
        "team_split": dict(reversed(data["rewards"]["team_split"].items())),
    }
    reordered["teams"] = [dict(reversed(t.items())) for t in data["teams"]]
    assert list(reordered) != list(data)
    assert load_plan(reordered) == load_plan(data)


def test_list_order_is_significant(example_plan_path: Path) -> None:
    data = strict_yaml(example_plan_path.read_text())
    swapped = {**data, "teams": list(reversed(data["teams"]))}
    assert load_plan(swapped) != load_plan(data)


def test_reference_errors_do_not_depend_on_mapping_order(minimal_plan_text: str) -> None:
    data = strict_yaml(minimal_plan_text.replace("owner: sales", "owner: sale"))
    messages = []
    for doc in (data, dict(reversed(data.items()))):
        with pytest.raises(PlanError) as info:
            load_plan(doc)
        messages.append([(i.path, i.message) for i in info.value.issues])
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------------------------------
# JSON Schema.


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = plan_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_basics() -> None:
    schema = plan_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "AlignmentPlan"
    assert {"name", "teams", "journey"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert "from" in schema["$defs"]["Transition"]["properties"]


def test_schema_validates_the_example(
    validator: jsonschema.Draft202012Validator, example_plan_path: Path, example_plan: AlignmentPlan
) -> None:
    data = strict_yaml(example_plan_path.read_text())
    assert isinstance(data["kpis"][1]["target"], Decimal)  # jsonschema counts Decimal as a number
    assert not list(validator.iter_errors(data))
    assert not list(validator.iter_errors(json.loads(dump_plan(example_plan, format="json"))))


def _broken(data: dict[str, Any], name: str) -> dict[str, Any]:
    doc = json.loads(json.dumps(data, default=str))
    if name == "missing journey":
        del doc["journey"]
    elif name == "unknown top-level key":
        doc["glosary"] = doc.pop("glossary")
    elif name == "list for a mapping":
        doc["targets"] = [doc["targets"]]
    elif name == "bad team function":
        doc["teams"][0]["function"] = "growth"
    elif name == "id with a space":
        doc["journey"]["stages"][0]["id"] = "new lead"
    elif name == "lowercase money":
        doc["targets"]["revenue"] = "600000 eur"
    elif name == "rate over 100%":
        doc["sla"]["marketing"]["quality"]["min_acceptance_rate"] = 1.3
    elif name == "zero hours":
        doc["sla"]["sales"]["first_response"]["within_hours"] = 0
    return doc


@pytest.mark.parametrize(
    "name",
    [
        "missing journey",
        "unknown top-level key",
        "list for a mapping",
        "bad team function",
        "id with a space",
        "lowercase money",
        pytest.param("rate over 100%"),
        pytest.param("zero hours"),
    ],
)
def test_schema_rejects_broken_documents(
    validator: jsonschema.Draft202012Validator, example_plan_path: Path, name: str
) -> None:
    data = strict_yaml(example_plan_path.read_text())
    doc = _broken(data, name)
    assert list(validator.iter_errors(doc)), f"schema accepted a plan with {name}"
    with pytest.raises(PlanError):
        load_plan(doc)
