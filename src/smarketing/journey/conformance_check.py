"""Conformance: each lead's stage events replayed against the map, its illegal moves, and whose they were.

:func:`conformance` returns a :class:`ConformanceReport`: which leads fit the map, a :class:`Violation` per
kind of illegal :class:`Move`, and a :class:`TeamFitness` per team.
"""

from __future__ import annotations

import functools
import html
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import networkx as nx
import polars as pl

from smarketing import _charts, _display
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.frames import of_kind
from smarketing.journey import _kernel, _partials
from smarketing.journey._report import json_value, rate
from smarketing.journey.counts import EventCounts
from smarketing.journey.model import JourneyMap

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ConformanceReport", "Move", "TeamFitness", "Violation", "ViolationKind", "conformance"]

ViolationKind = Literal[
    "skip", "regression", "unknown_stage", "not_in_map", "after_terminal", "recycle_limit"
]


@attrs.frozen
class Move:
    """One example of a move: the lead, the stage it was in (``None`` at its start), the stage entered."""

    lead_id: str
    source: str | None
    to: str
    time: datetime

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.source or '(start)'} -> {self.to} at {self.time.isoformat()}"


def _example(move: Move) -> str:
    """A move for a table: its time to the minute, in UTC and saying so (the map knows no time zone)."""
    return f"{move.lead_id}: {move.source or '(start)'} -> {move.to} at {_display.local_time(move.time)}"


@attrs.frozen
class Violation:
    """How often one kind of illegal move happened, in how many leads, with the first examples.

    Examples are the first moves of that kind in lead id order, then time order.
    """

    kind: ViolationKind
    count: int
    leads: int
    examples: tuple[Move, ...]


@attrs.frozen
class TeamFitness:
    """Fitness of the leads that passed through one team's stages.

    Attributes:
        team: Team id (``None``: violations no team can be blamed for: a lead that starts in an unknown
            stage).
        leads: Leads that entered at least one stage the team owns, or that it is blamed for.
        fit: Of those, leads with no violation attributed to the team.
        fitness: ``fit / leads``.
        violations: Violations attributed to the team: moves out of a stage it owns (for a lead's first
            event, into one).
    """

    team: str | None
    leads: int
    fit: int
    fitness: Decimal | None
    violations: int


_VIOLATION_KINDS: tuple[ViolationKind, ...] = typing.get_args(ViolationKind)


@attrs.frozen(eq=False)
class ConformanceReport:
    """Each lead's stage events replayed against the map: which leads fit, which moves broke it, and whose.

    ``lead_fit`` is a polars DataFrame (``lead_id``, ``events``, ``violations``, ``fit``) sorted by lead id.
    ``lead_table`` is the same per-lead table where it was computed: for events given as a PySpark
    DataFrame, a PySpark DataFrame (in no order) that Spark writes out without passing the driver
    (``report.lead_table.write.parquet(...)``); ``lead_fit`` reads it into polars, each time it is read.
    """

    leads: int
    fit: int
    fitness: Decimal | None
    moves: int
    violations: tuple[Violation, ...]
    by_team: tuple[TeamFitness, ...]
    counts: EventCounts
    lead_table: Any = attrs.field(repr=False)

    @property
    def lead_fit(self) -> pl.DataFrame:
        """Per lead: ``lead_id``, ``events``, ``violations``, ``fit``, sorted by lead id, in polars."""
        table = self.lead_table
        frame = table if isinstance(table, pl.DataFrame) else engine.to_polars(table)
        return frame.select(
            pl.col("lead_id").cast(pl.String()),
            pl.col("events").cast(pl.UInt32()),
            pl.col("violations").cast(pl.Int64()),
            pl.col("fit").cast(pl.Boolean()),
        ).sort("lead_id")

    def violation(self, kind: ViolationKind) -> Violation:
        """The entry of one violation kind."""
        for v in self.violations:
            if v.kind == kind:
                return v
        raise KeyError(f"unknown violation kind {kind!r}; known: {', '.join(_VIOLATION_KINDS)}")

    def team(self, team: str | None) -> TeamFitness:
        """The fitness of one team; ``KeyError`` if no lead passed through its stages."""
        for t in self.by_team:
            if t.team == team:
                return t
        raise KeyError(f"no lead passed through a stage of team {team!r}")

    def to_frame(self) -> pl.DataFrame:
        """Per lead: ``lead_id``, ``events``, ``violations``, ``fit``, sorted by lead id."""
        return self.lead_fit

    def violations_frame(self) -> pl.DataFrame:
        """Per violation kind: ``kind``, ``count``, ``leads``."""
        return pl.DataFrame(
            [(v.kind, v.count, v.leads) for v in self.violations],
            schema={"kind": pl.String(), "count": pl.Int64(), "leads": pl.Int64()},
            orient="row",
        )

    def teams_frame(self) -> pl.DataFrame:
        """Per team: ``team``, ``leads``, ``fit``, ``fitness``, ``violations``."""
        return pl.DataFrame(
            [attrs.astuple(t) for t in self.by_team],
            schema={
                "team": pl.String(),
                "leads": pl.Int64(),
                "fit": pl.Int64(),
                "fitness": pl.Decimal(10, 4),
                "violations": pl.Int64(),
            },
            orient="row",
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary, JSON-ready (the per-lead table is left out: use :meth:`to_frame`)."""
        return {
            "leads": self.leads,
            "fit": self.fit,
            "fitness": json_value(self.fitness),
            "moves": self.moves,
            "violations": [
                {
                    "kind": v.kind,
                    "count": v.count,
                    "leads": v.leads,
                    "examples": [{k: json_value(x) for k, x in attrs.asdict(m).items()} for m in v.examples],
                }
                for v in self.violations
            ],
            "by_team": [{k: json_value(x) for k, x in attrs.asdict(t).items()} for t in self.by_team],
            "counts": self.counts.to_dict(),
        }

    def _title(self) -> str:
        fitness = _display.cell(self.fitness)
        return (
            f"ConformanceReport({self.fit} of {self.leads} leads fit the map: {fitness}; {self.moves} moves)"
        )

    def _tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        kinds = [
            [v.kind, v.count, v.leads, _example(v.examples[0]) if v.examples else None]
            for v in self.violations
        ]
        teams = [[t.team, t.leads, t.fit, t.fitness, t.violations] for t in self.by_team]
        return [
            ("violations", ["violation", "moves", "leads", "first example"], kinds),
            ("by team", ["team", "leads", "fit", "fitness", "violations"], teams),
        ]

    def __repr__(self) -> str:
        parts = [self._title()]
        for _, headers, rows in self._tables():
            parts.append(_display.text_table(headers, rows))
        parts.extend(self.counts.lines())
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.counts.lines())
        return "".join(
            _display.html_table(headers, rows, caption=caption if i else f"{self._title()}: {caption}")
            for i, (caption, headers, rows) in enumerate(self._tables())
        ) + (f"<ul>{notes}</ul>" if notes else "")

    def plot(self) -> Figure:
        """Conformance as a chart (needs the ``plot`` extra): fitness by team, and the illegal moves by kind.

        Each team's bar is the share of its leads whose moves all fit the map, labelled "fit of leads".

        Examples:
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.journey.conformance(plan.journey, example_dataset()).plot()
            >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
            ['marketing', 'sales']
        """
        fig, (teams, kinds) = _charts.new(
            1,
            2,
            title="Conformance to the journey map",
            height=0.8 + 0.4 * max(len(self.by_team), len(self.violations), 2),
        )
        names = [t.team or "no team" for t in self.by_team]
        teams.barh(names, [float(t.fitness or 0) for t in self.by_team], color=_charts.PALETTE[2])
        _charts.bar_labels(teams, [f"{t.fit:,} of {t.leads:,}" for t in self.by_team])
        teams.invert_yaxis()
        _charts.percent_axis(teams, top=1.25)
        teams.set_title("fitness by team (leads that fit the map)")
        labels = [v.kind.replace("_", " ") for v in self.violations]
        kinds.barh(labels, [v.count for v in self.violations], color=_charts.PALETTE[5])
        _charts.bar_labels(kinds, [f"{v.count:,} moves, {v.leads:,} leads" for v in self.violations])
        kinds.invert_yaxis()
        kinds.set_title("illegal moves by kind" if self.violations else "no illegal moves")
        kinds.set_xlabel("moves")
        return fig


def _verdicts(journey_map: JourneyMap) -> dict[tuple[int, int], int]:
    """Verdict of every (stage before, stage entered) pair that is not a legal move."""
    ids = [s.id for s in journey_map.stages]
    n = len(ids)
    forward: nx.DiGraph[int] = nx.DiGraph()
    forward.add_nodes_from(range(n))
    code = {s: i for i, s in enumerate(ids)}
    edges = {(code[t.source], code[t.to]) for t in journey_map.transitions}
    forward.add_edges_from(
        (code[t.source], code[t.to]) for t in journey_map.transitions if t.kind != "recycle"
    )
    below = {a: nx.descendants(forward, a) for a in range(n)}
    entry = {code[s.id] for s in journey_map.entry_stages()}
    terminal = {code[s.id] for s in journey_map.stages if s.terminal is not None}
    kind = _kernel.KINDS.index
    out: dict[tuple[int, int], int] = {}
    for a in [_kernel.START, *range(n + 1)]:
        out[(a, n)] = kind("unknown_stage")
        for b in range(n):
            if a == n or (a, b) in edges:
                continue  # the move after an unknown stage is not judged again
            if a == _kernel.START:
                if b not in entry:
                    out[(a, b)] = kind("skip")
            elif a in terminal:
                out[(a, b)] = kind("after_terminal")
            elif b in below[a]:
                out[(a, b)] = kind("skip")
            elif a in below[b]:
                out[(a, b)] = kind("regression")
            else:
                out[(a, b)] = kind("not_in_map")
    return out


def conformance(journey_map: JourneyMap, events: Any, *, examples: int = 3) -> ConformanceReport:
    """Replay each lead's stage events against the map: who fits, which moves are illegal, and whose.

    Each lead's events are put in time order (ties: plan order of the stage entered, then of the stage left)
    and every event is judged as a move from the stage the lead was in. A lead *fits* when none of its moves
    is a violation. The kinds, checked in this order:

    - a move along a transition of the map is legal, except a ``recycle`` taken more than its
      ``max_recycles`` times by the same lead (``recycle_limit``);
    - ``unknown_stage``: into a stage the map does not have (the move after it is not judged again);
    - ``after_terminal``: out of a terminal stage, with no transition for it;
    - ``skip``: forward past stages: the map leads from the stage left to the stage entered, but not directly.
      A lead's first event is a move from its ``from`` stage when that is given, otherwise from the start: a
      first stage that is not an entry stage is a skip;
    - ``regression``: backwards: the map leads from the stage entered to the stage left (recycles do not
      count as a way forward), with no recycle transition for it;
    - ``not_in_map``: anything else, such as re-entering the same stage without leaving it.

    Fitness by team blames each violation on the owner of the stage the lead was in (for a lead's first
    event, of the stage entered): the team that held the lead when it broke the journey.

    Args:
        journey_map: The agreed journey.
        events: Stage events, as for :func:`funnel`.
        examples: How many example moves to keep per violation kind.

    Returns:
        The :class:`ConformanceReport`.

    Raises:
        DataError: Events without lead id, stage or time; naive times or times outside the years 1900 to
            2199; missing columns.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> from smarketing.records import StageEvent
        >>> jm = sm.load_plan("examples/plan.yaml").journey
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> def ev(lead, stage, days):
        ...     return StageEvent(lead_id=lead, to=stage, time=t + timedelta(days=days))
        >>> events = [
        ...     ev("a", "subscriber", 0),
        ...     ev("a", "lead", 1),
        ...     ev("a", "mql", 2),
        ...     ev("b", "subscriber", 0),
        ...     ev("b", "lead", 1),
        ...     ev("b", "sql", 2),
        ... ]
        >>> report = conformance(jm, events)
        >>> report.fit, report.leads, report.fitness
        (1, 2, Decimal('0.5000'))
        >>> [str(m) for m in report.violation("skip").examples]
        ['b: lead -> sql at 2026-10-03T09:00:00+00:00']
        >>> report.team("marketing").violations, report.team("sales").violations
        (1, 0)
    """
    if examples < 0:
        raise DataError(f"must be >= 0, not {examples}", field="examples")
    ids = [s.id for s in journey_map.stages]
    code = {s: i for i, s in enumerate(ids)}
    limits = {
        (code[t.source], code[t.to]): t.max_recycles
        for t in journey_map.transitions
        if t.kind == "recycle" and t.max_recycles is not None
    }
    teams = sorted({s.owner for s in journey_map.stages})
    owners = [teams.index(s.owner) for s in journey_map.stages]
    source = of_kind(events, "stage_events") if isinstance(events, Mapping) else events
    partials = engine.run(
        events if source is None else source,
        functools.partial(
            _partials.conformance_map,
            stages=ids,
            verdicts=_verdicts(journey_map),
            limits=limits,
            owners=owners,
            examples=examples,
        ),
        _partials.conformance_partials(examples),
        kind="stage_events",
        key="lead_id",
        required=("lead_id", "to", "time"),
        columns=("lead_id", "from", "to", "time"),
    )
    counts, values = _partials.event_counts(partials)
    kinds, touched_table, broken_table = (partials.merged(t) for t in ("kinds", "touched", "broken"))
    chosen = partials.first("examples")
    lead_table = partials.rows("leads")
    leads, fit = values.get("leads", 0), values.get("fit", 0)
    names = [*ids]
    found = {int(r["v"]): r for r in kinds.iter_rows(named=True)}
    samples: dict[int, list[Move]] = {}
    for r in chosen.iter_rows(named=True):
        a = int(r["a"])
        source_stage = names[a] if 0 <= a < len(names) else None
        samples.setdefault(int(r["v"]), []).append(Move(r["lead_id"], source_stage, r["to"], r["time"]))
    violations = []
    for v_kind in _VIOLATION_KINDS:
        v = _kernel.KINDS.index(v_kind)
        row = found.get(v, {})
        violations.append(
            Violation(
                kind=v_kind,
                count=int(row.get("count", 0)),
                leads=int(row.get("leads", 0)),
                examples=tuple(samples.get(v, ())),
            )
        )
    touched = {int(r["team"]): int(r["leads"]) for r in touched_table.iter_rows(named=True)}
    broken = {
        None if r["team"] is None else int(r["team"]): (int(r["unfit"]), int(r["violations"]))
        for r in broken_table.iter_rows(named=True)
    }
    by_team = []
    for t, team in enumerate(teams):
        if t in touched:
            unfit, count = broken.get(t, (0, 0))
            by_team.append(
                TeamFitness(team, touched[t], touched[t] - unfit, rate(touched[t] - unfit, touched[t]), count)
            )
    if None in broken:
        unfit, count = broken[None]
        by_team.append(TeamFitness(None, unfit, 0, rate(0, unfit), count))
    return ConformanceReport(
        leads=leads,
        fit=fit,
        fitness=rate(fit, leads),
        moves=values.get("moves", 0),
        violations=tuple(violations),
        by_team=tuple(by_team),
        counts=counts,
        lead_table=lead_table,
    )
