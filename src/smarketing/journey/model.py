"""The journey map: lifecycle stages owned by teams, and the transitions allowed between them.

This is what a plan's ``journey:`` section holds (:class:`JourneyMap`, :class:`Stage`, :class:`Transition`);
the analyses of stage events against it live beside it in :mod:`smarketing.journey`.
"""

from __future__ import annotations

import difflib
from functools import cached_property
from typing import Literal, Self

import networkx as nx
from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, PositiveCount, Text, located
from smarketing.journey._draw import mermaid, svg

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
    max_recycles: PositiveCount | None = Field(
        default=None, description="For recycle transitions: how often a lead may take it."
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

    def to_mermaid(self) -> str:
        """The map as a Mermaid flowchart: one box per owner team, handoffs bold, recycles dotted.

        Paste the text into any Markdown renderer that speaks Mermaid (GitHub, GitLab, mkdocs-material).
        Node ids are ``s0``, ``s1``, ... in plan order, so stage ids never clash with Mermaid keywords.

        Examples:
            >>> jm = JourneyMap.model_validate(
            ...     {
            ...         "stages": [
            ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
            ...             {
            ...                 "id": "won",
            ...                 "name": "Won",
            ...                 "owner": "sales",
            ...                 "kind": "customer",
            ...                 "terminal": "won",
            ...             },
            ...         ],
            ...         "transitions": [{"from": "mql", "to": "won", "kind": "handoff"}],
            ...     }
            ... )
            >>> print(jm.to_mermaid())
            flowchart LR
              subgraph t0["marketing"]
                s0["MQL"]
              end
              subgraph t1["sales"]
                s1(["Won"])
              end
              s0 ==>|handoff| s1
              classDef won stroke-width:3px,stroke:#2e7d32
              class s1 won
        """
        return mermaid(self.stages, self.transitions)

    def to_svg(self) -> str:
        """The map as a standalone SVG drawing: stages in layers from the entry stages, coloured by owner.

        Forward moves are solid arrows, handoffs thick, recycles dashed arcs; terminal stages have a thick
        border (green won, red lost or disqualified).

        Examples:
            >>> svg = sm.load_plan("examples/plan.yaml").journey.to_svg()
            >>> svg.startswith("<svg") and "Sales Accepted Lead" in svg
            True
        """
        return svg(self.stages, self.transitions, [s.id for s in self.entry_stages()])

    def _repr_html_(self) -> str:
        return self.to_svg()
