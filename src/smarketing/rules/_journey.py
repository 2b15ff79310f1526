"""Journey rules (J): one journey both teams can walk from first touch to a decision."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import networkx as nx

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._facts import quote_list, team_functions

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan


def _adjacency(plan: AlignmentPlan) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Successors and predecessors of every stage, from the transitions (all kinds)."""
    successors: dict[str, list[str]] = defaultdict(list)
    predecessors: dict[str, list[str]] = defaultdict(list)
    for t in plan.journey.transitions:
        successors[t.source].append(t.to)
        predecessors[t.to].append(t.source)
    return successors, predecessors


def _reach(sources: list[str], neighbours: Mapping[str, list[str]]) -> set[str]:
    """Everything reachable from any of ``sources``: one breadth-first search, linear in the map."""
    seen = set(sources)
    queue = deque(sources)
    while queue:
        for nxt in neighbours.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _stage_index(plan: AlignmentPlan) -> dict[str, int]:
    return {s.id: i for i, s in enumerate(plan.journey.stages)}


@builtin(
    "J001",
    area="journey",
    severity="error",
    title="The journey has exactly one entry stage",
    rationale="With one way in, both teams count every lead from the same starting point; several "
    "entry stages mean leads appear mid-journey and the funnel's first numbers disagree.",
    fix="Connect the extra entry stages with transitions from the one true first stage, or remove them.",
)
def one_entry_stage(plan: AlignmentPlan) -> Iterator[Finding]:
    """Stages no forward transition enters: there must be exactly one."""
    entries = plan.journey.entry_stages()
    if not entries:
        yield Finding(
            "no entry stage: every stage is entered by a forward transition, so the journey has no start",
            path="journey.stages",
        )
    elif len(entries) > 1:
        index = _stage_index(plan)
        for extra in entries[1:]:
            yield Finding(
                f"stage {extra.id!r} is a second entry stage (besides {entries[0].id!r}): "
                "no forward transition leads into it",
                path=f"journey.stages[{index[extra.id]}]",
            )


@builtin(
    "J002",
    area="journey",
    severity="error",
    title="Every stage is reachable from the entry stage",
    rationale="A stage no lead can reach is a stage one team plans for and the other never sees; its "
    "numbers will always be zero.",
    fix="Add a transition into the stage from the stage that precedes it, or remove the stage.",
)
def stages_reachable(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every stage lies on some path from an entry stage."""
    entries = [s.id for s in plan.journey.entry_stages()]
    if not entries:
        return  # J001 reports the missing start; every stage would be unreachable.
    successors, _ = _adjacency(plan)
    reached = _reach(entries, successors)
    for i, s in enumerate(plan.journey.stages):
        if s.id not in reached:
            yield Finding(
                f"stage {s.id!r} cannot be reached from the entry stage {entries[0]!r}",
                path=f"journey.stages[{i}]",
            )


@builtin(
    "J003",
    area="journey",
    severity="error",
    title="Every stage can reach a terminal stage",
    rationale="A lead in a stage with no way to a won, lost or disqualified stage is stuck for ever: "
    "nobody is accountable for closing it out and it inflates the pipeline.",
    fix="Add a transition from the stage towards an outcome (at least a 'disqualify' transition).",
)
def stages_terminate(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every stage has a path to some terminal stage."""
    terminals = [s.id for s in plan.journey.terminal_stages()]
    if not terminals:
        return  # J004 reports it.
    _, predecessors = _adjacency(plan)
    can_finish = _reach(terminals, predecessors)
    for i, s in enumerate(plan.journey.stages):
        if s.id not in can_finish:
            yield Finding(
                f"stage {s.id!r} has no path to a won, lost or disqualified stage",
                path=f"journey.stages[{i}]",
            )


@builtin(
    "J004",
    area="journey",
    severity="error",
    title="The journey ends in a won and in a lost or disqualified stage",
    rationale="Without both outcomes, win rates, disposition feedback and recycling cannot be measured; "
    "marketing never learns which leads failed and why.",
    fix="Mark the final stages with 'terminal: won' and 'terminal: lost' (or 'disqualified').",
)
def terminal_outcomes(plan: AlignmentPlan) -> Iterator[Finding]:
    """At least one ``won`` terminal and at least one ``lost`` or ``disqualified`` terminal."""
    kinds = {s.terminal for s in plan.journey.terminal_stages()}
    if "won" not in kinds:
        yield Finding("no stage is marked 'terminal: won'", path="journey.stages")
    if not kinds & {"lost", "disqualified"}:
        yield Finding(
            "no stage is marked 'terminal: lost' or 'terminal: disqualified'", path="journey.stages"
        )


@builtin(
    "J005",
    area="journey",
    severity="error",
    title="Every stage is owned by exactly one team",
    rationale="A stage two teams think they own (the same stage under two ids with different owners) "
    "or an owner that is not a team of the plan is a stage nobody is accountable for.",
    fix="Merge stages that mean the same thing into one stage with one owner team.",
)
def one_owner_per_stage(plan: AlignmentPlan) -> Iterator[Finding]:
    """Stage names are unique (case-insensitive) unless the owner is the same, and owners are teams."""
    teams = team_functions(plan)
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(plan.journey.stages):
        by_name[s.name.casefold()].append(i)
        if s.owner not in teams:
            yield Finding(
                f"stage {s.id!r} is owned by {s.owner!r}, which is not a team of the plan",
                path=f"journey.stages[{i}].owner",
            )
    stages = plan.journey.stages
    for indexes in by_name.values():
        owners = sorted({stages[i].owner for i in indexes})
        if len(owners) > 1:
            first = stages[indexes[0]]
            for i in indexes[1:]:
                if stages[i].owner != first.owner:
                    yield Finding(
                        f"stage {stages[i].id!r} is the stage {first.name!r} again ({first.id!r}), "
                        f"owned by {stages[i].owner!r} instead of {first.owner!r}",
                        path=f"journey.stages[{i}].owner",
                    )


@builtin(
    "J006",
    area="journey",
    severity="error",
    title="The marketing-to-sales handoff is an explicit 'handoff' transition",
    rationale="The handoff is where the SLA clock starts and where most leads are lost; if it is not "
    "marked, nobody can measure response times or acceptance.",
    fix="Set 'kind: handoff' on the transition from the last marketing stage to the first sales stage.",
)
def explicit_handoff(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every marketing-to-sales progression is a handoff; every handoff goes marketing to sales."""
    functions = team_functions(plan)
    owner = {s.id: functions.get(s.owner) for s in plan.journey.stages}
    handoffs = 0
    for i, t in enumerate(plan.journey.transitions):
        crosses = owner.get(t.source) == "marketing" and owner.get(t.to) == "sales"
        if t.kind == "handoff":
            handoffs += 1
            if not crosses:
                yield Finding(
                    f"handoff {t.source!r} -> {t.to!r} does not go from a marketing stage to a sales stage",
                    path=f"journey.transitions[{i}].kind",
                )
        elif crosses and t.kind == "progression":
            yield Finding(
                f"transition {t.source!r} -> {t.to!r} moves leads from marketing to sales "
                "but is not marked 'kind: handoff'",
                path=f"journey.transitions[{i}].kind",
            )
    if handoffs == 0:
        yield Finding("the journey has no 'handoff' transition", path="journey.transitions")


@builtin(
    "J007",
    area="journey",
    severity="error",
    title="Cycles only go through declared 'recycle' transitions",
    rationale="A loop of ordinary transitions lets a lead circle between teams for ever and be counted "
    "twice; recycling back to nurture is legitimate only when it is declared as such.",
    fix="Mark the backward transition 'kind: recycle' (with 'max_recycles') or remove it.",
)
def cycles_are_recycles(plan: AlignmentPlan) -> Iterator[Finding]:
    """The graph without recycle edges is acyclic (strongly connected components, linear time)."""
    forward: nx.DiGraph[str] = nx.DiGraph()
    forward.add_edges_from((t.source, t.to) for t in plan.journey.transitions if t.kind != "recycle")
    index = _stage_index(plan)
    loops = [
        sorted(component, key=index.__getitem__)
        for component in nx.strongly_connected_components(forward)
        if len(component) > 1
    ]
    loops += [[u] for u, v in forward.edges if u == v]
    for loop in sorted(loops, key=lambda c: index[c[0]]):
        yield Finding(
            f"stages {quote_list(loop)} form a cycle without a 'recycle' transition"
            if len(loop) > 1
            else f"stage {loop[0]!r} has a transition to itself",
            path=f"journey.stages[{index[loop[0]]}]",
        )


@builtin(
    "J008",
    area="journey",
    severity="warning",
    title="Every recycle transition has a limit",
    rationale="Unlimited recycling hides leads that will never buy and lets sales hand back anything "
    "it does not want to work; a limit forces a decision.",
    fix="Add 'max_recycles: N' to the recycle transition.",
)
def recycle_limit(plan: AlignmentPlan) -> Iterator[Finding]:
    """``max_recycles`` on every recycle transition."""
    for i, t in enumerate(plan.journey.transitions):
        if t.kind == "recycle" and t.max_recycles is None:
            yield Finding(
                f"recycle {t.source!r} -> {t.to!r} has no 'max_recycles'", path=f"journey.transitions[{i}]"
            )


@builtin(
    "J009",
    area="journey",
    severity="warning",
    title="The entry stage is owned by marketing",
    rationale="Marketing first: marketing finds where customers are and warms them up before sales "
    "engages, so no lead starts as a cold call.",
    fix="Give the first stage to the marketing team, or add a marketing-owned stage before it.",
)
def marketing_first(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every entry stage belongs to a marketing team."""
    functions = team_functions(plan)
    index = _stage_index(plan)
    for s in plan.journey.entry_stages():
        if functions.get(s.owner) != "marketing":
            yield Finding(
                f"entry stage {s.id!r} is owned by {s.owner!r}, not by a marketing team",
                path=f"journey.stages[{index[s.id]}].owner",
            )


@builtin(
    "J010",
    area="journey",
    severity="warning",
    title="Stage names are glossary terms",
    rationale="Stage names are the words both teams use in every report and meeting; if 'MQL' means "
    "different things to each team, every conversation about the funnel is an argument. "
    "(L001 checks KPI names the same way.)",
    fix="Add the stage name to the glossary with a definition both teams agree on, or rename the stage.",
)
def stage_names_in_glossary(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every stage name is a glossary term (case-insensitive)."""
    yield from names_in_glossary(
        plan, [(f"journey.stages[{i}].name", s.name) for i, s in enumerate(plan.journey.stages)], "stage"
    )


def names_in_glossary(plan: AlignmentPlan, names: list[tuple[str, str]], what: str) -> Iterator[Finding]:
    """Findings for names that are not glossary terms, naming the preferred term for synonyms."""
    terms = {t.term.casefold() for t in plan.glossary.terms}
    synonyms = {s.casefold(): t.term for t in plan.glossary.terms for s in t.synonyms}
    for path, name in names:
        key = name.casefold()
        if key in terms:
            continue
        preferred = synonyms.get(key)
        if preferred is not None:
            yield Finding(
                f"{what} name {name!r} is a discouraged synonym of the glossary term {preferred!r}",
                path=path,
                hint=f"Rename it to {preferred!r}.",
            )
        else:
            yield Finding(f"{what} name {name!r} is not a glossary term", path=path)


RULES: tuple[RuleSpec, ...] = (
    one_entry_stage,
    stages_reachable,
    stages_terminate,
    terminal_outcomes,
    one_owner_per_stage,
    explicit_handoff,
    cycles_are_recycles,
    recycle_limit,
    marketing_first,
    stage_names_in_glossary,
)
