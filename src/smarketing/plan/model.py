"""The alignment plan's aggregate: :class:`AlignmentPlan` and the parts that belong to no single subject.

Each subject defines its own part in its ``model`` module (``smarketing.journey.model``, ``sla.model``,
``kpi.model``, ``rewards.model``, ``persona.model``); the aggregate holds them together and checks every
cross-reference between them (teams, people, stages, personas, KPIs), so a plan that validates is whole.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Literal, Self

from pydantic import Field, PrivateAttr, model_validator

from smarketing._base import (
    FrozenModel,
    Id,
    MinorUnitCurrency,
    Period,
    PositiveCount,
    PositivePlanMoney,
    PositiveWholeDays,
    Rate,
    Text,
    located,
)
from smarketing.campaigns import Campaign
from smarketing.errors import FormulaError
from smarketing.feedback.model import WaterfallPlan
from smarketing.glossary import Glossary
from smarketing.journey.model import JourneyMap
from smarketing.kpi.model import KPI, compile_kpi
from smarketing.persona.model import Persona
from smarketing.plan import _card
from smarketing.plan._problems import Source
from smarketing.rewards.model import RewardPlan
from smarketing.sla.model import SLA
from smarketing.teams import Person, Team

__all__ = [
    "AlignmentPlan",
    "Arbiter",
    "MAX_PLAN_BYTES",
    "Meeting",
    "Targets",
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
    campaigns: list[Campaign] = Field(
        default_factory=list, description="Campaigns, to compare side by side and to check sales was told."
    )
    waterfall: WaterfallPlan | None = Field(
        default=None, description="The demand waterfall: its steps on the journey and benchmark bands."
    )

    _source: Source | None = PrivateAttr(default=None)

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

    def __repr__(self) -> str:
        # One line: a plan's full model dump runs to thousands of characters (model_dump() has it all).
        return _card.plan_repr(self)

    def __str__(self) -> str:
        return _card.plan_repr(self)

    def _repr_html_(self) -> str:
        """The plan as a notebook card: teams, journey, SLA, KPIs, reward and the check score."""
        return _card.plan_card(self)

    @property
    def source_file(self) -> str | None:
        """The file the plan was loaded from, if any."""
        return self._source.file if self._source else None

    def location(self, path: str) -> str | None:
        """Where a field path is in the plan file, as ``file:line`` (or ``line N`` for text).

        The nearest enclosing part that has a line answers for a path that is not in the file (a
        missing optional part points at its parent).

        Examples:
            >>> from smarketing import load_plan
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
        ("campaigns", [c.id for c in plan.campaigns]),
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
        for where, message in persona.problems():
            yield f"personas[{i}].{where}", message

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

    meetings = {m.id for m in plan.cadence}
    for i, c in enumerate(plan.campaigns):
        yield from ref(f"campaigns[{i}].owner", c.owner, teams, "team")
        for j, team in enumerate(c.teams):
            yield from ref(f"campaigns[{i}].teams[{j}]", team, teams, "team")
        yield from ref(f"campaigns[{i}].meeting", c.meeting, meetings, "cadence meeting")
    if plan.waterfall is not None:
        for step, ids in plan.waterfall.stages.items():
            for i, stage in enumerate(ids):
                yield from ref(f"waterfall.stages.{step}[{i}]", stage, stages, "stage")


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
