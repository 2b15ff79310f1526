"""The alignment plan: everything marketing and sales agree on, in one validated document.

:func:`load_plan` reads a plan from a YAML or JSON file, text or a mapping and validates it: the shape of
every part, and every cross-reference (teams, people, stages, personas, KPIs). Any problem is a
:class:`~smarketing.errors.PlanError` that names the place as ``plan.yaml:42: journey.stages[3].owner: ...``.
:func:`dump_plan` writes a plan back; ``load_plan(dump_plan(p)) == p``. :func:`plan_json_schema` gives the
JSON Schema of plan files, for editors and CI.

YAML is read safely and strictly, following YAML 1.2's core schema: only ``true``/``false`` are booleans
(``NO`` stays the country code), numbers with a fraction are read as exact ``Decimal`` (never ``float``),
dates stay text for the models to parse, duplicate keys and aliases (the "billion laughs" bomb) are errors,
and files over :data:`MAX_PLAN_BYTES` are refused. Only the plain tags are read (no ``!!binary``,
``!!timestamp``, ``!!python/...``); a number over 64 characters or that is not finite, and a control
character in any text or key, is an error at its ``file:line: path``, found before the models run. Every
number field then checks its own range and precision (see :mod:`smarketing._limits`). A path that is a
directory, a FIFO or a device is named as such and never read.

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
import importlib
import json
import os
import re
import stat
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
    MAX_NUMBER_CHARS,
    FrozenModel,
    Id,
    MinorUnitCurrency,
    Period,
    PositiveCount,
    PositivePlanMoney,
    PositiveWholeDays,
    Rate,
    Text,
    join_path,
    located,
)
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_DECIMAL_PLACES
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

#: Plan files larger than this are refused before parsing: 1 MiB, some 70 times the example plan (a
#: real plan is a few dozen KiB). A plan at the limit loads in about a second of CPU time.
MAX_PLAN_BYTES = 1024 * 1024

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
    currency: MinorUnitCurrency | None = Field(
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
    """Every cycle of managers, once, named from its member that comes first in the plan.

    Each person is walked at most once (linear in the number of people), so a chain of thousands of
    managers is checked at once; self-management is reported elsewhere.
    """
    manager = {p.id: p.manager for p in plan.people}
    index = {p.id: i for i, p in enumerate(plan.people)}
    done: set[str] = set()
    for start in manager:
        path: list[str] = []
        on_path: dict[str, int] = {}
        current: str | None = start
        while current is not None and current in manager and current not in done:
            if current in on_path:
                cycle = path[on_path[current] :]
                if len(cycle) > 1:
                    first = min(range(len(cycle)), key=lambda i: index[cycle[i]])
                    cycle = cycle[first:] + cycle[:first]
                    names = [*cycle, cycle[0]]
                    if len(names) > 12:  # a cycle of thousands is named by its ends, not printed
                        names = [*names[:6], f"... ({len(cycle) - 8} more)", *names[-3:]]
                    yield (
                        f"people[{index[cycle[0]]}].manager",
                        "managers form a cycle: " + " -> ".join(names),
                    )
                break
            on_path[current] = len(path)
            path.append(current)
            current = manager[current]
        done.update(path)


# --------------------------------------------------------------------------------------------------
# Reading text: a strict YAML 1.2-core loader that keeps the line of every field path.


#: The YAML tags a plan may hold: text, numbers, booleans, null, lists and mappings. Anything else
#: (``!!binary``, ``!!timestamp``, ``!!set``, ``!!omap``, ``!!merge``, local and ``!!python/...`` tags)
#: is refused with its place, never decoded into a value.
_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_INT_TEXT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", re.ASCII)
_FLOAT_TEXT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_BOOL_TEXT = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL_TEXT = frozenset({"", "~", "null", "Null", "NULL"})


class _Invalid:
    """A scalar the loader could not turn into a plan value; reported with its field path after parsing."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return "<invalid>"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:30] + "...")


class _PlanConstructor(yaml.constructor.SafeConstructor):
    """Builds plan values: exact decimals, bounded numbers, no aliases, tags or duplicate keys."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node.tag not in _ALLOWED_TAGS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            return _Invalid(
                f"the tag {_shown(tag)} is not allowed in a plan file; a plan holds text, numbers, "
                "true/false, null, lists and mappings"
            )
        return super().construct_object(node, deep=deep)

    def flatten_mapping(self, node: Any) -> None:
        """No ``<<`` merge keys: an explicit ``!!merge`` key is refused as a tag, not merged."""

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


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int | _Invalid:
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_NUMBER_CHARS:
        return _Invalid(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if _INT_TEXT.fullmatch(text) is None:
        return _Invalid(f"{_shown(text)} is not a whole number (YAML 1.2: digits, 0o.. or 0x..)")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)  # YAML 1.2: a leading zero is still decimal


def _construct_decimal(loader: Any, node: yaml.ScalarNode) -> Decimal | _Invalid:
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_NUMBER_CHARS:
        return _Invalid(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if _FLOAT_TEXT.fullmatch(text) is None:
        return _Invalid(f"{_shown(text)} is not a finite number; write digits such as 0.75 or 1250")
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond what any Decimal holds, e.g. 1e9999999999999999999
        return _Invalid(
            f"{_shown(text)} is out of range: at most {MAX_AMOUNT_DIGITS} digits before the point "
            f"and {MAX_DECIMAL_PLACES} after it"
        )


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool | _Invalid:
    text = str(loader.construct_scalar(node))
    if text not in _BOOL_TEXT:
        return _Invalid(f"{_shown(text)} is not a boolean; write true or false")
    return _BOOL_TEXT[text]


def _construct_null(loader: Any, node: yaml.ScalarNode) -> _Invalid | None:
    text = str(loader.construct_scalar(node))
    if text not in _NULL_TEXT:
        return _Invalid(f"{_shown(text)} is not null; write null or leave the value out")
    return None


class _PlanResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core resolution (filled below) instead of SafeLoader's YAML 1.1 one."""

    yaml_implicit_resolvers: typing.ClassVar[dict[Any, Any]] = {}  # type: ignore[misc]


class _PlanLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _PlanConstructor,
    _PlanResolver,
):
    """The pure-Python plan loader: every error it finds carries the line of the problem."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _PlanConstructor.__init__(self)
        _PlanResolver.__init__(self)

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


_CParser: Any = (
    getattr(importlib.import_module("yaml.cyaml"), "CParser", None) if yaml.__with_libyaml__ else None
)
_FastPlanLoader: Any = None
if _CParser is not None:  # libyaml: the same constructor and resolver on a C parser and composer

    class _FastPlanLoader(_CParser, _PlanConstructor, _PlanResolver):  # type: ignore[no-redef,misc]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _PlanConstructor.__init__(self)
            _PlanResolver.__init__(self)


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
    _PlanResolver.add_implicit_resolver(
        _tag, re.compile(_pattern), [*_first, ""] if _tag.endswith("null") else list(_first)
    )
_PlanConstructor.add_constructor("tag:yaml.org,2002:int", _construct_int)
_PlanConstructor.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_PlanConstructor.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_PlanConstructor.add_constructor("tag:yaml.org,2002:null", _construct_null)


class _AliasedError(Exception):
    """A node appears twice in the composed tree: the C composer resolved an alias."""


def _line_map(node: yaml.Node, path: str = "", lines: dict[str, int] | None = None) -> dict[str, int]:
    lines = {} if lines is None else lines
    seen: set[int] = set()
    # Iterative, so a plan nested a thousand levels deep needs no deep recursion here.
    stack: list[tuple[yaml.Node, str]] = [(node, path)]
    while stack:
        current, at = stack.pop()
        if id(current) in seen:
            raise _AliasedError
        seen.add(id(current))
        lines.setdefault(at, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = str(key_node.value)
                child = f"{at}.{key}" if at else key
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(current.value))
    return lines


def _yaml_error(exc: yaml.YAMLError, file: str | None, text: str) -> PlanError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):  # a bad character: the reader knows its offset only
        return PlanError(
            f"invalid YAML: character {_char(exc.character)} is not allowed in a plan file",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        )
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return PlanError(message, file=file, line=line)


def _parse_yaml(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    if _FastPlanLoader is not None:
        try:
            return _load_yaml(_FastPlanLoader, text, file)
        except (yaml.YAMLError, _AliasedError, RecursionError, UnicodeError):
            pass  # the pure-Python loader below says what is wrong and on which line
    return _load_yaml(_PlanLoader, text, file)


def _load_yaml(kind: Any, text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    try:
        loader = kind(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        if kind is not _PlanLoader:
            raise
        raise _yaml_error(exc, file, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError("the plan is empty", file=file, line=1)
        lines = _line_map(node)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        if kind is not _PlanLoader:
            raise
        raise _yaml_error(exc, file, text) from None
    except RecursionError:
        if kind is not _PlanLoader:
            raise
        raise PlanError("the plan is nested too deeply", file=file) from None
    finally:
        loader.dispose()
    return data, lines


def _json_number(text: str) -> int | Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if "." in text or "e" in text or "E" in text:
        try:
            return Decimal(text)
        except ArithmeticError:
            raise ValueError(f"{_shown(text)} is out of range") from None
    return int(text)


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
            text,
            parse_float=_json_number,
            parse_int=_json_number,
            parse_constant=no_constants,
            object_pairs_hook=no_duplicates,
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
    text = text.replace("\t", " ")
    for kind in (_FastPlanLoader, _PlanLoader):
        if kind is None:
            continue
        loader = kind(text)
        try:
            node = loader.get_single_node()
            return _line_map(node) if node is not None else {}
        except (yaml.YAMLError, RecursionError, _AliasedError):
            continue
        finally:
            loader.dispose()
    return {}


def _json_problem_line(text: str) -> int | None:
    """Line of a duplicate key, an overlong number or a NaN/Infinity constant in otherwise valid JSON."""
    data: Any = None
    lines: dict[str, int] = {}
    try:
        data, lines = _load_yaml(_PlanLoader, text.replace("\t", " "), None)
    except PlanError as exc:  # raises at the duplicate key
        if exc.line is not None:
            return exc.line
    for path, message in _scan(data):
        if "characters long" in message or "out of range" in message:
            return _Source(None, lines).line(path)
    match = re.search(r"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


#: Characters refused in any text of a plan: C0 controls but tab and line feed, DEL, C1 controls, and
#: the bidirectional overrides that make text display in a different order than it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _kind(char: str) -> str:
    return "a lone surrogate" if "\ud800" <= char <= "\udfff" else "control character"


def _char(character: object) -> str:
    # The reader gives the code point; show it as U+007F with its escaped form.
    if isinstance(character, int):
        return f"U+{character:04X} ({chr(character)!r})"
    return repr(character)


def _scan(data: Any) -> Iterator[tuple[str, str]]:
    """Values no field may hold, with their field paths: unreadable scalars and control characters."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Invalid):
            yield path, value.message
        elif isinstance(value, str):
            # Tab and line feed belong in descriptions and definitions, never in a one-line name.
            match = (_NAME_CONTROL if path == "name" or path.endswith(".name") else _CONTROL).search(value)
            if match:
                yield (
                    path,
                    f"{_kind(match.group())} {match.group()!r} (at position {match.start() + 1}) is not "
                    "allowed in plan text",
                )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                child = join_path(path, str(key))
                if isinstance(key, _Invalid):
                    yield path, key.message
                elif isinstance(key, str) and (bad := _CONTROL.search(key)):
                    yield path, f"control character {bad.group()!r} in the key {key!r} is not allowed"
                stack.append((item, child))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


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
        if isinstance(value, int) and value.bit_length() > 200:  # repr() of 4,300+ digits raises
            return message
        shown = str(value) if isinstance(value, Decimal) else repr(value)
        if len(shown) > 60:  # a 5,000-character value is named, not printed
            shown = shown[:40] + "..." + shown[-10:]
        if shown not in message and str(value) not in message:
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
    if not text.strip():
        return False  # empty text is an empty plan, not the current directory
    if "\n" in text or len(text) > 1024 or text.lstrip().startswith(("{", "[")):
        return False
    if text.lower().endswith((".yaml", ".yml", ".json")):
        return True
    try:
        return Path(text).exists()  # a directory or a device is named as what it is, not read as YAML
    except OSError:  # e.g. a name longer than the file system allows: not a path, then
        return False


def _read_plan_file(file: str, max_bytes: int) -> bytes:
    """The bytes of a regular plan file of at most ``max_bytes``; never blocks on a FIFO or a device."""
    try:
        info = os.stat(file)
    except (FileNotFoundError, NotADirectoryError):
        raise PlanError("no such plan file", file=file) from None
    except OSError as exc:
        raise PlanError(f"cannot read the plan file: {exc.strerror or exc}", file=file) from None
    if stat.S_ISDIR(info.st_mode):
        raise PlanError("is a directory, not a plan file", file=file)
    if not stat.S_ISREG(info.st_mode):
        raise PlanError(
            "is not a regular file (a pipe, device or socket); give the path of a YAML or JSON plan",
            file=file,
        )
    if info.st_size > max_bytes:
        raise PlanError(f"file is {info.st_size:,} bytes; plans are limited to {max_bytes:,}", file=file)
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since the stat, opening it does not wait.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise PlanError(f"cannot read the plan file: {exc.strerror or exc}", file=file) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PlanError("is not a regular file; give the path of a YAML or JSON plan", file=file)
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew since the stat
        raise PlanError(f"file is larger than {max_bytes:,} bytes, the limit for plans", file=file)
    return raw


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
    if not isinstance(source, str | PathLike | Mapping):
        raise TypeError(
            "load_plan() takes a path, YAML or JSON text, or a mapping, not "
            f"{type(source).__name__}" + ("; decode bytes first" if isinstance(source, bytes) else "")
        )
    if isinstance(source, Mapping):
        data: Any = source
        lines: dict[str, int] = {}
    else:
        if isinstance(source, PathLike) or _looks_like_path(source):
            file = fspath(source)
            raw = _read_plan_file(file, max_bytes)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                raise PlanError(
                    f"not UTF-8 text (byte {exc.start + 1} of the file)", file=file, line=line
                ) from None
            is_json = file.lower().endswith(".json")
        else:
            text = str(source)
            if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
                raise PlanError(f"plan text is larger than {max_bytes:,} bytes")
            is_json = text.lstrip().startswith("{")
        data, lines = (_parse_json if is_json else _parse_yaml)(text, file)
    source_info = _Source(file, lines)
    unreadable = list(_scan(data))
    if unreadable:
        issues = sorted(
            (PlanIssue(message, path=path, line=source_info.line(path)) for path, message in unreadable),
            key=lambda i: (i.line if i.line is not None else 1 << 30, i.path),
        )
        raise PlanError(issues[0].message, file=file, issues=issues)
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
