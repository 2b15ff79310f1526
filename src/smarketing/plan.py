"""The alignment plan: everything marketing and sales agree on, in one validated document.

:func:`load_plan` reads a plan from a YAML or JSON file, text or a mapping and validates it: the shape of
every part, and every cross-reference (teams, people, stages, personas, KPIs). Any problem is a
:class:`~smarketing.errors.PlanError` that names the place as ``plan.yaml:42: journey.stages[3].owner: ...``.
:func:`dump_plan` writes a plan back; ``load_plan(dump_plan(p)) == p``. :func:`plan_json_schema` gives the
JSON Schema of plan files, for editors and CI.

YAML is read safely and strictly, following YAML 1.2's core schema: only ``true``/``false`` are booleans
(``NO`` stays the country code), numbers with a fraction are read as exact ``Decimal`` (never ``float``),
dates stay text for the models to parse, duplicate keys and aliases (the "billion laughs" bomb) are errors,
and files over :data:`MAX_PLAN_BYTES` are refused.

Examples:
    >>> plan = load_plan('''
    ... name: Tiny
    ... teams:
    ...   - {id: marketing, name: Marketing, function: marketing}
    ...   - {id: sales, name: Sales, function: sales}
    ... journey:
    ...   stages:
    ...     - {id: mql, name: MQL, owner: marketing, kind: mql}
    ...     - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
    ...   transitions:
    ...     - {from: mql, to: won, kind: handoff}
    ... ''')
    >>> plan.journey.stage("won").owner
    'sales'
    >>> load_plan(dump_plan(plan)) == plan
    True
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from os import PathLike, fspath
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from smarketing._base import (
    CurrencyCode,
    FrozenModel,
    Id,
    Period,
    PositiveCount,
    PositivePlanMoney,
    PositiveWholeDays,
    Rate,
    Text,
    join_path,
    located,
)
from smarketing.errors import FormulaError, PlanError, PlanIssue
from smarketing.glossary import Glossary
from smarketing.journey import JourneyMap
from smarketing.kpi import KPI, compile_kpi
from smarketing.persona import Persona
from smarketing.rewards import RewardPlan
from smarketing.sla import SLA
from smarketing.teams import Person, Team

__all__ = [
    "AlignmentPlan",
    "Arbiter",
    "MAX_PLAN_BYTES",
    "Meeting",
    "Targets",
    "dump_plan",
    "load_plan",
    "plan_json_schema",
]

#: Plan files larger than this are refused before parsing (a real plan is a few dozen KiB).
MAX_PLAN_BYTES = 5 * 1024 * 1024

_ESCALATION_ROLES = frozenset({"owner", "manager"})


class Meeting(FrozenModel):
    """A recurring joint meeting with an owner for its outcomes."""

    id: Id = Field(description="Meeting id.")
    name: Text = Field(description="Display name.")
    kind: Literal["sync", "review", "planning", "retrospective", "brainstorm", "other"] = Field(
        description="What the meeting is for; 'retrospective' covers campaign retrospectives."
    )
    frequency: Literal["daily", "weekly", "biweekly", "monthly", "quarterly", "per_campaign"] = Field(
        description="How often it happens."
    )
    teams: list[Id] = Field(min_length=1, description="Teams that attend.")
    outcome_owner: Id | None = Field(
        default=None, description="Person who owns the actions agreed in the meeting."
    )
    duration_minutes: PositiveCount | None = Field(default=None, description="Planned length.")
    agenda: list[Text] = Field(default_factory=list, description="Standing agenda items.")


class Arbiter(FrozenModel):
    """A neutral third party who hears both sides of a conflict."""

    person: Id = Field(description="Person id of the arbiter.")
    scope: str = Field(default="", description="What the arbiter decides.")
    response_days: PositiveWholeDays | None = Field(
        default=None, description="Business days within which a ruling is due."
    )


class Targets(FrozenModel):
    """The revenue goal and the funnel assumptions both teams plan with."""

    period: Period = Field(default="month", description="Period the revenue goal is for.")
    revenue: PositivePlanMoney = Field(description="New revenue goal per period.")
    average_deal_size: PositivePlanMoney = Field(description="Expected average won deal amount.")
    conversion_rates: dict[Id, Rate] = Field(
        default_factory=dict,
        description="Stage id -> expected share of its leads that reach the next stage.",
    )


class AlignmentPlan(FrozenModel):
    """Everything marketing and sales agree on.

    Build one with :func:`load_plan`; equality compares the plan's content only, never where it was
    read from.
    """

    name: Text = Field(description="Plan name, e.g. the company and fiscal year.")
    description: str = Field(default="", description="What this plan is for.")
    currency: CurrencyCode | None = Field(
        default=None, description="Default currency of money figures (ISO 4217)."
    )
    teams: list[Team] = Field(min_length=2, description="Teams (at least marketing and sales).")
    people: list[Person] = Field(default_factory=list, description="People in the teams.")
    personas: list[Persona] = Field(default_factory=list, description="Buyer personas / ICP.")
    journey: JourneyMap = Field(description="The one customer journey.")
    sla: SLA | None = Field(default=None, description="The two-sided service level agreement.")
    kpis: list[KPI] = Field(default_factory=list, description="KPIs with formulas and targets.")
    targets: Targets | None = Field(default=None, description="Revenue goal and funnel assumptions.")
    rewards: RewardPlan | None = Field(default=None, description="The shared reward plan.")
    glossary: Glossary = Field(default_factory=Glossary, description="Common language.")
    cadence: list[Meeting] = Field(default_factory=list, description="Recurring joint meetings.")
    arbiter: Arbiter | None = Field(default=None, description="Neutral conflict resolution.")

    _source: _Source | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = list(_reference_problems(self))
        if problems:
            # One error carrying every problem; load_plan turns each into its own located PlanIssue.
            raise located(problems)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AlignmentPlan):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @property
    def source_file(self) -> str | None:
        """The file the plan was loaded from, if any."""
        return self._source.file if self._source else None

    def location(self, path: str) -> str | None:
        """Where a field path is in the plan file, as ``file:line`` (or ``line N`` for text).

        The nearest enclosing part that has a line answers for a path that is not in the file (a
        missing optional part points at its parent).

        Examples:
            >>> plan = load_plan("examples/plan.yaml")
            >>> plan.location("journey.stages[0].owner")
            'examples/plan.yaml:...'
        """
        if self._source is None:
            return None
        line = self._source.line(path)
        if line is None:
            return self._source.file
        return f"{self._source.file}:{line}" if self._source.file else f"line {line}"

    def people_in(self, team: str) -> list[Person]:
        """People whose team is ``team``, in plan order."""
        return [p for p in self.people if p.team == team]

    def teams_with_function(self, function: str) -> list[Team]:
        """Teams whose function is ``function`` (e.g. ``"marketing"``), in plan order."""
        return [t for t in self.teams if t.function == function]


class _Source:
    """Where a plan came from: file name and the line of every field path."""

    __slots__ = ("file", "lines")

    def __init__(self, file: str | None, lines: Mapping[str, int]) -> None:
        self.file = file
        self.lines = dict(lines)

    def line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = _parent(path)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _dupes(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _reference_problems(plan: AlignmentPlan) -> Iterator[tuple[str, str]]:
    """Every dangling or duplicate id in the plan, as (field path, message)."""
    teams = {t.id for t in plan.teams}
    people = {p.id for p in plan.people}
    stages = {s.id for s in plan.journey.stages}
    personas = {p.id for p in plan.personas}
    kpis = {k.id for k in plan.kpis}

    for name, ids in (
        ("teams", [t.id for t in plan.teams]),
        ("people", [p.id for p in plan.people]),
        ("personas", [p.id for p in plan.personas]),
        ("kpis", [k.id for k in plan.kpis]),
        ("cadence", [m.id for m in plan.cadence]),
    ):
        for dupe in _dupes(ids):
            index = ids.index(dupe, ids.index(dupe) + 1)
            yield f"{name}[{index}].id", f"duplicate id {dupe!r}"

    functions = {t.function for t in plan.teams}
    for needed in ("marketing", "sales"):
        if needed not in functions:
            yield "teams", f"no team has function {needed!r}; a plan aligns marketing and sales"

    def ref(path: str, value: str | None, known: set[str], what: str) -> Iterator[tuple[str, str]]:
        if value is not None and value not in known:
            close = difflib.get_close_matches(value, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield path, f"unknown {what} {value!r}{hint}"

    for i, p in enumerate(plan.people):
        yield from ref(f"people[{i}].team", p.team, teams, "team")
        yield from ref(f"people[{i}].manager", p.manager, people, "person")
        if p.manager == p.id:
            yield f"people[{i}].manager", "a person cannot be their own manager"
    yield from _manager_cycles(plan)

    for i, persona in enumerate(plan.personas):
        signal_ids = [s.id for s in (*persona.interest_signals, *persona.readiness_signals)]
        for dupe in _dupes(signal_ids):
            yield f"personas[{i}]", f"signal id {dupe!r} is used twice"

    for i, s in enumerate(plan.journey.stages):
        yield from ref(f"journey.stages[{i}].owner", s.owner, teams, "team")

    if plan.sla is not None:
        yield from _sla_references(plan.sla, ref, stages=stages, personas=personas, people=people)

    for i, k in enumerate(plan.kpis):
        for j, owner in enumerate(k.owners):
            yield from ref(f"kpis[{i}].owners[{j}]", owner, teams, "team")
        try:
            compile_kpi(k)
        except FormulaError as exc:  # parse errors, unknown metrics and unit mismatches, with the column
            yield f"kpis[{i}].formula", str(exc)

    if plan.targets is not None:
        for stage in plan.targets.conversion_rates:
            yield from ref(f"targets.conversion_rates.{stage}", stage, stages, "stage")

    if plan.rewards is not None:
        r = plan.rewards
        # The plan itself, then the parts each later version replaces.
        parts: list[tuple[str, Any]] = [("rewards", r)]
        parts += [(f"rewards.versions[{i}]", v) for i, v in enumerate(r.versions)]
        for base, part_of in parts:
            for i, part in enumerate(part_of.participants or []):
                yield from ref(f"{base}.participants[{i}].person", part.person, people, "person")
                yield from ref(f"{base}.participants[{i}].team", part.team, teams, "team")
            for team in part_of.team_split or {}:
                yield from ref(f"{base}.team_split.{team}", team, teams, "team")
            for i, split in enumerate(part_of.splits or []):
                for who in split.shares:
                    yield from ref(f"{base}.splits[{i}].shares.{who}", who, people | teams, "person or team")
        for i, kpi in enumerate(r.kpis):
            yield from ref(f"rewards.kpis[{i}]", kpi, kpis, "KPI")

    for i, term in enumerate(plan.glossary.terms):
        yield from ref(f"glossary.terms[{i}].owner", term.owner, teams, "team")

    for i, m in enumerate(plan.cadence):
        for j, team in enumerate(m.teams):
            yield from ref(f"cadence[{i}].teams[{j}]", team, teams, "team")
        yield from ref(f"cadence[{i}].outcome_owner", m.outcome_owner, people, "person")

    if plan.arbiter is not None:
        yield from ref("arbiter.person", plan.arbiter.person, people, "person")


def _sla_references(
    sla: SLA,
    ref: Callable[[str, str | None, set[str], str], Iterator[tuple[str, str]]],
    *,
    stages: set[str],
    personas: set[str],
    people: set[str],
) -> Iterator[tuple[str, str]]:
    m = sla.marketing
    if m.volume is not None:
        yield from ref("sla.marketing.volume.stage", m.volume.stage, stages, "stage")
    if m.quality is not None:
        q = m.quality
        yield from ref("sla.marketing.quality.accepted_stage", q.accepted_stage, stages, "stage")
        yield from ref("sla.marketing.quality.sql_stage", q.sql_stage, stages, "stage")
    for dupe in _dupes([t.id for t in sla.tiers]):
        yield "sla.tiers", f"duplicate tier id {dupe!r}"
    for i, tier in enumerate(sla.tiers):
        for j, persona in enumerate(tier.personas):
            yield from ref(f"sla.tiers[{i}].personas[{j}]", persona, personas, "persona")
    for i, step in enumerate(sla.escalation):
        for j, who in enumerate(step.notify):
            if who not in _ESCALATION_ROLES:
                yield from ref(
                    f"sla.escalation[{i}].notify[{j}]",
                    who,
                    people,
                    "person (or 'owner', 'manager')",
                )


def _manager_cycles(plan: AlignmentPlan) -> Iterator[tuple[str, str]]:
    manager = {p.id: p.manager for p in plan.people}
    index = {p.id: i for i, p in enumerate(plan.people)}
    reported: set[str] = set()
    for start in manager:
        seen: list[str] = []
        current: str | None = start
        while current is not None and current in manager and current not in seen:
            seen.append(current)
            current = manager[current]
        if current is not None and current in seen and current != start:
            continue  # the cycle is reported from one of its own members
        if current == start and len(seen) > 1 and start not in reported:
            reported.update(seen)
            yield (
                f"people[{index[start]}].manager",
                "managers form a cycle: " + " -> ".join([*seen, start]),
            )


# --------------------------------------------------------------------------------------------------
# Reading text: a strict YAML 1.2-core loader that keeps the line of every field path.


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core resolution, exact decimals, no aliases and no duplicate keys."""

    # Our own resolver table (YAML 1.2 core), filled below, instead of SafeLoader's YAML 1.1 one.
    yaml_implicit_resolvers: typing.ClassVar[dict[Any, Any]] = {}  # type: ignore[misc]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in plan files; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # pragma: no cover - composer guarantees it
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key must be text",
                    key_node.start_mark,
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first on line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node).replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)  # YAML 1.2: a leading zero is still decimal


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node))


_RESOLVERS: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        "-+.0123456789",
    ),
]
for _tag, _pattern, _first in _RESOLVERS:
    _PlanLoader.add_implicit_resolver(
        _tag, re.compile(_pattern), [*_first, ""] if _tag.endswith("null") else list(_first)
    )
_PlanLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_PlanLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _line_map(node: yaml.Node, path: str = "", lines: dict[str, int] | None = None) -> dict[str, int]:
    lines = {} if lines is None else lines
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            lines[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, f"{path}[{i}]", lines)
    return lines


def _yaml_error(exc: yaml.YAMLError, file: str | None, text: str) -> PlanError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):  # a bad character: the reader knows its offset only
        return PlanError(
            f"invalid YAML: character {exc.character!r} is not allowed in a plan file",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        )
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return PlanError(message, file=file, line=line)


def _parse_yaml(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    try:
        loader = _PlanLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise _yaml_error(exc, file, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError("the plan is empty", file=file, line=1)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    except RecursionError:
        raise PlanError("the plan is nested too deeply", file=file) from None
    finally:
        loader.dispose()
    return data, _line_map(node)


def _parse_json(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number a plan can hold")

    try:
        data = json.loads(
            text, parse_float=Decimal, parse_constant=no_constants, object_pairs_hook=no_duplicates
        )
    except json.JSONDecodeError as exc:
        raise PlanError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except ValueError as exc:
        raise PlanError(f"invalid JSON: {exc}", file=file, line=_json_problem_line(text)) from None
    except RecursionError:
        raise PlanError("the plan is nested too deeply", file=file) from None
    return data, _json_lines(text)


def _json_lines(text: str) -> dict[str, int]:
    # Valid JSON is YAML once tabs (legal JSON whitespace, never inside a valid JSON string) become
    # spaces, so the YAML composer can tell the line of every field; it changes no line break.
    try:
        node = _PlanLoader(text.replace("\t", " ")).get_single_node()
    except (yaml.YAMLError, RecursionError):
        return {}
    return _line_map(node) if node is not None else {}


def _json_problem_line(text: str) -> int | None:
    """Line of a duplicate key or a NaN/Infinity constant in otherwise valid JSON."""
    try:
        _PlanLoader(text.replace("\t", " ")).get_single_data()  # raises at the duplicate key
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            return int(mark.line) + 1
    match = re.search(r"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


# --------------------------------------------------------------------------------------------------
# From pydantic's errors to located PlanIssues.


def _walk(data: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a field path of the document.

    Location parts that are not keys of the document (union member tags and the like) are skipped; the
    last part is kept even when absent, since it names a missing field.
    """
    parts: list[str] = []
    node = data
    for i, item in enumerate(loc):
        if isinstance(node, Mapping) and item in node:
            parts.append(f".{item}")
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            parts.append(f"[{item}]")
            node = node[item]
        elif i == len(loc) - 1 and isinstance(item, str) and isinstance(node, Mapping):
            # A missing field is named by the last part; union member tags ("decimal", "str") are not.
            model = _model_at(loc[:-1])
            if model is not None and any(item in (n, f.alias) for n, f in model.model_fields.items()):
                parts.append(f".{item}")
    return "".join(parts).lstrip(".")


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found at a location, following field annotations from AlignmentPlan."""
    current: Any = AlignmentPlan
    for item in loc:
        model = _unwrap_model(current)
        if model is None:
            if isinstance(item, int | str):  # list index or dict key: stay on the element type
                current = _element_type(current)
                continue
            return None
        field = next(
            (f for n, f in model.model_fields.items() if item in (n, f.alias)),
            None,
        )
        if field is None:
            continue  # a union tag or the like
        current = field.annotation
    return _unwrap_model(current)


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap_model(args[0])
    if typing.get_origin(tp) is typing.Annotated:
        return _unwrap_model(args[0])
    return None


def _element_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _element_type(args[0])
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return tp


def _message(error: Any, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    loc = error["loc"]
    field = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(str(field), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f" (allowed: {', '.join(allowed)})" if allowed and not close else ""
        return f"unknown key {field!r}{hint}{where}"
    if kind == "missing":
        return "required field missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if kind != "located" and value is not None and not isinstance(value, dict | list):
        shown = repr(value)
        if shown not in message:
            message += f" (got {shown})"
    return message


def _plan_error(exc: ValidationError, data: Any, source: _Source) -> PlanError:
    by_path: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "located":
            base = _walk(data, loc)
            for relative, message in error["ctx"]["problems"]:
                by_path.setdefault(join_path(base, relative), []).append(message)
            continue
        parent_loc = loc[:-1] if error["type"] in ("extra_forbidden", "missing") else loc
        message = _message(error, _model_at(parent_loc))
        by_path.setdefault(_walk(data, loc), []).append(message)
    # A value that fits no member of a union fails once per member; say so once, listing what fits.
    issues = [
        PlanIssue(
            messages[0] if len(set(messages)) == 1 else "; or ".join(dict.fromkeys(messages)),
            path=path,
            line=source.line(path),
        )
        for path, messages in by_path.items()
    ]
    issues.sort(key=lambda i: (i.line if i.line is not None else 1 << 30, i.path))
    return PlanError(issues[0].message, file=source.file, issues=issues)


# --------------------------------------------------------------------------------------------------
# Public IO.

PlanSource = str | PathLike[str] | Mapping[str, Any]


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 1024 or text.lstrip().startswith(("{", "[")):
        return False
    if text.lower().endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a name longer than the file system allows: not a path, then
        return False


def load_plan(source: PlanSource, *, max_bytes: int = MAX_PLAN_BYTES) -> AlignmentPlan:
    """Load and validate an alignment plan.

    Args:
        source: A path (``Path`` or a one-line string naming a ``.yaml``, ``.yml`` or ``.json`` file or
            an existing file), YAML or JSON text, or a mapping.
        max_bytes: Largest file or text accepted.

    Returns:
        The validated plan; it remembers its file and the line of every field for later messages
        (see :meth:`AlignmentPlan.location`).

    Raises:
        PlanError: The file is missing, too large or not valid YAML/JSON, the root is not a mapping, a
            field is invalid or a reference dangles. The message names ``file:line: path``; every
            problem found is in ``PlanError.issues``.

    Examples:
        >>> plan = load_plan("examples/plan.yaml")
        >>> [t.id for t in plan.teams_with_function("sales")]
        ['sales']
        >>> load_plan("name: x")
        Traceback (most recent call last):
        ...
        smarketing.errors.PlanError: line 1: journey: required field missing (and 1 more problem(s))
    """
    file: str | None = None
    if isinstance(source, Mapping):
        data: Any = source
        lines: dict[str, int] = {}
    else:
        if isinstance(source, PathLike) or _looks_like_path(source):
            file = fspath(source)
            path = Path(file)
            if not path.is_file():
                raise PlanError("no such plan file", file=file)
            size = path.stat().st_size
            if size > max_bytes:
                raise PlanError(f"file is {size:,} bytes; plans are limited to {max_bytes:,}", file=file)
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                raise PlanError(
                    f"not UTF-8 text (byte {exc.start + 1} of the file)", file=file, line=line
                ) from None
            is_json = path.suffix.lower() == ".json"
        else:
            text = str(source)
            if len(text.encode("utf-8")) > max_bytes:
                raise PlanError(f"plan text is larger than {max_bytes:,} bytes")
            is_json = text.lstrip().startswith("{")
        data, lines = (_parse_json if is_json else _parse_yaml)(text, file)
    source_info = _Source(file, lines)
    if not isinstance(data, Mapping):
        raise PlanError(
            f"the plan must be a mapping of parts (name, teams, journey, ...), not {type(data).__name__}",
            file=file,
            line=source_info.line(""),
        )
    try:
        plan = AlignmentPlan.model_validate(data)
    except ValidationError as exc:
        raise _plan_error(exc, data, source_info) from None
    plan._source = source_info
    return plan


class _PlanDumper(yaml.SafeDumper):
    """Quotes every string our loader would read as something else."""


for _tag, _pattern, _first in _RESOLVERS:
    _PlanDumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first) or [""])


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


_PlanDumper.add_representer(Decimal, _represent_decimal)


def dump_plan(plan: AlignmentPlan, *, format: Literal["yaml", "json"] = "yaml") -> str:
    """Write a plan as YAML or JSON text; fields left at their defaults are omitted.

    Examples:
        >>> plan = load_plan("examples/plan.yaml")
        >>> load_plan(dump_plan(plan, format="json")) == plan
        True
    """
    if format == "json":
        return plan.model_dump_json(by_alias=True, exclude_defaults=True, indent=2) + "\n"
    if format != "yaml":
        raise ValueError(f"format must be 'yaml' or 'json', not {format!r}")
    data = plan.model_dump(mode="python", by_alias=True, exclude_defaults=True)
    return yaml.dump(data, Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=100)


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of plan files, for editors and CI.

    Examples:
        >>> schema = plan_json_schema()
        >>> schema["title"], "journey" in schema["required"]
        ('AlignmentPlan', True)
    """
    schema = AlignmentPlan.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
