"""One customer journey: lifecycle stages as a graph, each stage owned by one team.

The :class:`JourneyMap` replaces marketing's funnel and sales' pipeline with one agreed map. Stages are
nodes owned by a team; transitions are typed edges, and the marketing-to-sales handoff is an explicit
``handoff`` transition. :attr:`JourneyMap.graph` gives the map as a read-only ``networkx.DiGraph``.

Examples:
    >>> from smarketing.journey import JourneyMap
    >>> jm = JourneyMap.model_validate(
    ...     {
    ...         "stages": [
    ...             {"id": "lead", "name": "Lead", "owner": "marketing", "kind": "lead"},
    ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
    ...             {"id": "sql", "name": "SQL", "owner": "sales", "kind": "sql"},
    ...             {
    ...                 "id": "won",
    ...                 "name": "Won",
    ...                 "owner": "sales",
    ...                 "kind": "customer",
    ...                 "terminal": "won",
    ...             },
    ...         ],
    ...         "transitions": [
    ...             {"from": "lead", "to": "mql"},
    ...             {"from": "mql", "to": "sql", "kind": "handoff"},
    ...             {"from": "sql", "to": "won"},
    ...         ],
    ...     }
    ... )
    >>> [(t.source, t.to) for t in jm.handoffs()]
    [('mql', 'sql')]
    >>> jm.graph.nodes["sql"]["owner"], jm.path_exists("lead", "won")
    ('sales', True)
"""

from __future__ import annotations

import difflib
from functools import cached_property
from typing import Literal, Self

import networkx as nx
from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, Text, located

__all__ = [
    "JourneyMap",
    "Stage",
    "StageKind",
    "Terminal",
    "Transition",
    "TransitionKind",
]

StageKind = Literal[
    "subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "evangelist", "other"
]
Terminal = Literal["won", "lost", "disqualified"]
TransitionKind = Literal["progression", "handoff", "recycle", "disqualify"]


class Stage(FrozenModel):
    """A lifecycle stage, owned by exactly one team."""

    id: Id = Field(description="Stage id, as it appears in stage events.")
    name: Text = Field(description="Display name; should be a glossary term.")
    owner: Id = Field(description="Id of the team that owns leads in this stage.")
    kind: StageKind = Field(description="Lifecycle kind, for KPIs and reports.")
    description: str = Field(default="", description="What being in the stage means.")
    entry_criteria: list[Text] = Field(
        default_factory=list, description="What must be true for a lead to enter the stage."
    )
    terminal: Terminal | None = Field(
        default=None, description="Set on final stages: won, lost or disqualified."
    )


class Transition(FrozenModel):
    """An allowed move between two stages."""

    source: Id = Field(alias="from", description="Stage the lead leaves.")
    to: Id = Field(description="Stage the lead enters.")
    kind: TransitionKind = Field(
        default="progression",
        description="progression, handoff (marketing to sales), recycle (back to nurture) or disqualify.",
    )
    max_recycles: int | None = Field(
        default=None, ge=1, description="For recycle transitions: how often a lead may take it."
    )
    description: str = Field(default="", description="When the move happens.")

    @model_validator(mode="after")
    def _limit_only_on_recycle(self) -> Self:
        if self.max_recycles is not None and self.kind != "recycle":
            raise ValueError("max_recycles is only meaningful on a recycle transition")
        return self


class JourneyMap(FrozenModel):
    """The agreed customer journey: stages and the transitions allowed between them."""

    stages: list[Stage] = Field(min_length=1, description="Lifecycle stages.")
    transitions: list[Transition] = Field(default_factory=list, description="Allowed moves between stages.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i, s in enumerate(self.stages):
            if s.id in seen:
                problems.append((f"stages[{i}].id", f"duplicate stage id {s.id!r}"))
            seen.add(s.id)
        pairs: set[tuple[str, str]] = set()
        for i, t in enumerate(self.transitions):
            for key, end in (("from", t.source), ("to", t.to)):
                if end not in seen:
                    close = difflib.get_close_matches(end, sorted(seen), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    problems.append((f"transitions[{i}].{key}", f"unknown stage {end!r}{hint}"))
            if (t.source, t.to) in pairs:
                problems.append((f"transitions[{i}]", f"duplicate transition {t.source!r} -> {t.to!r}"))
            pairs.add((t.source, t.to))
        if problems:
            raise located(problems)
        return self

    @cached_property
    def graph(self) -> nx.DiGraph[str]:
        """The journey as a read-only ``networkx.DiGraph``.

        Nodes carry the stage fields (``name``, ``owner``, ``kind``, ``terminal``, ...); edges carry the
        transition fields (``kind``, ``max_recycles``, ...). The graph is frozen: copy it with
        ``nx.DiGraph(jm.graph)`` to experiment.
        """
        g: nx.DiGraph[str] = nx.DiGraph()
        for s in self.stages:
            g.add_node(s.id, **s.model_dump(exclude={"id"}))
        for t in self.transitions:
            g.add_edge(t.source, t.to, **t.model_dump(exclude={"source", "to"}))
        frozen: nx.DiGraph[str] = nx.freeze(g)
        return frozen

    def stage(self, stage_id: str) -> Stage:
        """The stage with id ``stage_id``; ``KeyError`` naming the known ids otherwise."""
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(f"unknown stage {stage_id!r}; known: {', '.join(s.id for s in self.stages)}")

    def stages_owned_by(self, team: str) -> list[Stage]:
        """Stages owned by ``team``, in plan order."""
        return [s for s in self.stages if s.owner == team]

    def handoffs(self) -> list[Transition]:
        """The ``handoff`` transitions, in plan order."""
        return [t for t in self.transitions if t.kind == "handoff"]

    def entry_stages(self) -> list[Stage]:
        """Stages no forward transition leads into (recycles do not count), in plan order."""
        entered = {t.to for t in self.transitions if t.kind != "recycle"}
        return [s for s in self.stages if s.id not in entered]

    def terminal_stages(self) -> list[Stage]:
        """Stages flagged won, lost or disqualified, in plan order."""
        return [s for s in self.stages if s.terminal is not None]

    def path_exists(self, source: str, target: str) -> bool:
        """Whether the map allows a lead to get from ``source`` to ``target``."""
        for stage_id in (source, target):
            self.stage(stage_id)
        return bool(nx.has_path(self.graph, source, target))
