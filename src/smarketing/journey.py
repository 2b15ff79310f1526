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
import html
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import Any, Literal, Self

import attrs
import narwhals as nw
import networkx as nx
import polars as pl
from pydantic import Field, model_validator

from smarketing import _display, _draw
from smarketing._base import FrozenModel, Id, PositiveCount, Text, located
from smarketing.calendar import BusinessCalendar
from smarketing.errors import DataError
from smarketing.frames import _journey as _kernels
from smarketing.frames import as_lazy
from smarketing.records import Dataset

__all__ = [
    "Change",
    "ConformanceReport",
    "EventCounts",
    "FunnelMode",
    "FunnelReport",
    "FunnelRow",
    "JourneyDiff",
    "JourneyMap",
    "Move",
    "Stage",
    "StageKind",
    "TeamFitness",
    "Terminal",
    "Transition",
    "TransitionKind",
    "Violation",
    "ViolationKind",
    "conformance",
    "diff",
    "discover",
    "funnel",
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
        return _draw.mermaid(self)

    def to_svg(self) -> str:
        """The map as a standalone SVG drawing: stages in layers from the entry stages, coloured by owner.

        Forward moves are solid arrows, handoffs thick, recycles dashed arcs; terminal stages have a thick
        border (green won, red lost or disqualified).

        Examples:
            >>> svg = sm.load_plan("examples/plan.yaml").journey.to_svg()
            >>> svg.startswith("<svg") and "Sales Accepted Lead" in svg
            True
        """
        return _draw.svg(self)

    def _repr_html_(self) -> str:
        return _draw.svg(self)


# --------------------------------------------------------------------------------------------------
# Analytics: what really happened, measured against the map.

FunnelMode = Literal["ordered", "any"]
ViolationKind = Literal[
    "skip", "regression", "unknown_stage", "not_in_map", "after_terminal", "recycle_limit"
]

_RATE = Decimal("0.0001")
_LOST: frozenset[str] = frozenset({"lost", "disqualified"})


def _rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` rounded half-even to four places; ``None`` when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def _micros(value: float | int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=round(value))


def _seconds(value: timedelta | None) -> str | None:
    """A duration as exact decimal seconds, for JSON."""
    if value is None:
        return None
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return f"{(Decimal(micros) / 1_000_000).normalize():f}"


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return _seconds(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@attrs.frozen
class EventCounts:
    """What reading the stage events found, and how each kind of bad input was handled.

    Every event an analysis does not count is counted here, by why, with an example lead: nothing is left
    out silently.

    Attributes:
        events: Rows read.
        leads: Leads analysed (those with at least one event kept).
        duplicates: Events dropped as duplicates: the same lead, stage entered, stage left and time as an
            event kept.
        unknown_stage_events: Events into a stage the map does not have. The funnel sets them aside (they
            neither enter nor leave a stage); conformance counts each as an ``unknown_stage`` violation.
        unknown_stages: The ids of those stages, sorted.
        from_mismatch: Events whose ``from`` names another stage than the lead's previous event in time
            order: the trace of out-of-order timestamps or of a CRM that logs moves late. Time order wins;
            the ``from`` column is only checked, never used to reorder.
        after_as_of: Events later than ``as_of``, left out.
        out_of_order: Ordered funnel: entries into a step that no step counts because the lead entered an
            earlier step only after them (a "won" dated before the MQL).
        skipped_step: Ordered funnel: entries into a step that no step counts because the lead never
            entered the step before it (in order).
        after_unknown_stage: Conformance: moves out of a stage the map does not have, which cannot be judged
            (the move into the unknown stage is the violation).
        examples: For each count above that is not zero, the smallest lead id with such an event.
    """

    events: int
    leads: int
    duplicates: int = 0
    unknown_stage_events: int = 0
    unknown_stages: tuple[str, ...] = ()
    from_mismatch: int = 0
    after_as_of: int = 0
    out_of_order: int = 0
    skipped_step: int = 0
    after_unknown_stage: int = 0
    examples: Mapping[str, str] = attrs.field(factory=dict, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict (the newer anomaly counts and ``examples`` only when not zero)."""
        out = attrs.asdict(self)
        out["unknown_stages"] = list(self.unknown_stages)
        for name in _OPTIONAL_COUNTS:
            if not out[name]:
                del out[name]
        out["examples"] = dict(sorted(self.examples.items()))
        if not out["examples"]:
            del out["examples"]
        return out

    def lines(self) -> list[str]:
        """The non-zero counts as short sentences, for reprs and the CLI."""
        out = []
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate event(s) dropped" + self._example("duplicates"))
        if self.unknown_stage_events:
            names = ", ".join(self.unknown_stages[:5]) + (", ..." if len(self.unknown_stages) > 5 else "")
            out.append(
                f"{self.unknown_stage_events} event(s) into unknown stage(s): {names}"
                + self._example("unknown_stage_events")
            )
        if self.from_mismatch:
            out.append(
                f"{self.from_mismatch} event(s) whose 'from' disagrees with the time order"
                + self._example("from_mismatch")
            )
        if self.after_as_of:
            out.append(f"{self.after_as_of} event(s) after as_of left out" + self._example("after_as_of"))
        if self.out_of_order:
            out.append(
                f"{self.out_of_order} event(s) into a step dated before an earlier step, not counted"
                + self._example("out_of_order")
            )
        if self.skipped_step:
            out.append(
                f"{self.skipped_step} event(s) into a step whose previous step was skipped, not counted"
                + self._example("skipped_step")
            )
        if self.after_unknown_stage:
            out.append(
                f"{self.after_unknown_stage} move(s) out of an unknown stage, not judged"
                + self._example("after_unknown_stage")
            )
        return out

    def _example(self, name: str) -> str:
        lead = self.examples.get(name)
        return "" if lead is None else f" (e.g. lead {lead})"


#: Counts added after the first release: in ``to_dict`` only when not zero, so reports without such
#: anomalies read exactly as before.
_OPTIONAL_COUNTS = ("out_of_order", "skipped_step", "after_unknown_stage")


def _counts(prepared: _kernels.Prepared, **anomalies: tuple[int, str]) -> EventCounts:
    examples = dict(prepared.examples)
    examples.update({name: lead for name, (_, lead) in anomalies.items()})
    return EventCounts(
        events=prepared.rows,
        leads=prepared.leads,
        duplicates=prepared.duplicates,
        unknown_stage_events=prepared.unknown,
        unknown_stages=prepared.unknown_stages,
        from_mismatch=prepared.from_mismatch,
        after_as_of=prepared.after_as_of,
        **{name: count for name, (count, _) in anomalies.items()},
        examples=examples,
    )


@attrs.frozen
class FunnelRow:
    """One funnel step (of one group).

    ``moved_on + recycled + lost + open == reached``: each lead counted at the step is classified by the move
    that ended its counted stay (the next event after its counted entry).

    Attributes:
        group: The group value (``None`` without ``by``, or for leads without the attribute).
        stage: Stage id of the step.
        reached: Leads counted at the step (see :func:`funnel` for ``ordered`` and ``any``).
        entries: Entries into the stage by those leads, re-entries included.
        reentered: Leads among them that entered the stage more than once (recycled back into it).
        advanced: Leads that entered the next step after their counted entry into this one.
        drop_off: ``reached - advanced``; for the last step, zero.
        moved_on: Left the stage for a later stage (not a lost or disqualified terminal).
        recycled: Left the stage back to this step or an earlier one.
        lost: Left the stage to a lost or disqualified terminal stage.
        open: Still in the stage at ``as_of`` (for a terminal stage: ended there).
        conversion: Next-step conversion ``advanced / reached`` (``None`` for the last step or no leads).
        cumulative: ``reached / reached of the first step`` of the same group.
        time_median: Median time in the stage of the leads that left it (lower median, calendar time).
        time_p90: 90th percentile of that time (the lower of the two nearest values).
        business_median: The same median in business time: the open hours of the funnel's calendar
            between entering and leaving the stage (``None`` without a calendar).
        business_p90: The 90th percentile in business time.
    """

    group: str | None
    stage: str
    reached: int
    entries: int
    reentered: int
    advanced: int
    drop_off: int
    moved_on: int
    recycled: int
    lost: int
    open: int
    conversion: Decimal | None
    cumulative: Decimal | None
    time_median: timedelta | None
    time_p90: timedelta | None
    business_median: timedelta | None = None
    business_p90: timedelta | None = None


_FUNNEL_SCHEMA: dict[str, pl.DataType] = {
    "group": pl.String(),
    "stage": pl.String(),
    **{
        name: pl.Int64()
        for name in (
            "reached",
            "entries",
            "reentered",
            "advanced",
            "drop_off",
            "moved_on",
            "recycled",
            "lost",
            "open",
        )
    },
    "conversion": pl.Decimal(10, 4),
    "cumulative": pl.Decimal(10, 4),
    "time_median": pl.Duration("us"),
    "time_p90": pl.Duration("us"),
    "business_median": pl.Duration("us"),
    "business_p90": pl.Duration("us"),
}


@attrs.frozen
class FunnelReport:
    """Per stage (and group): leads that entered, moved on, were lost or are still open; conversion; time.

    Rows are ordered by group (sorted, ``None`` last), then by step. ``calendar`` is the business calendar
    the business times in stage were measured on (``None``: calendar time only).
    """

    mode: FunnelMode
    steps: tuple[str, ...]
    by: str | None
    as_of: datetime | None
    rows: tuple[FunnelRow, ...]
    counts: EventCounts
    unmatched_leads: int = 0
    calendar: BusinessCalendar | None = attrs.field(default=None, eq=False)

    def groups(self) -> list[str | None]:
        """The groups, in row order."""
        return list(dict.fromkeys(r.group for r in self.rows))

    def row(self, stage: str, group: str | None = None) -> FunnelRow:
        """The row of ``stage`` in ``group``; ``KeyError`` if there is none."""
        for r in self.rows:
            if r.stage == stage and r.group == group:
                return r
        raise KeyError(f"no funnel row for stage {stage!r} in group {group!r}")

    def to_frame(self) -> pl.DataFrame:
        """The rows as a polars DataFrame (durations as ``Duration``, rates as ``Decimal``)."""
        return pl.DataFrame([attrs.asdict(r) for r in self.rows], schema=_FUNNEL_SCHEMA, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rates as decimal strings, durations as decimal seconds, times as ISO 8601."""
        return {
            "mode": self.mode,
            "steps": list(self.steps),
            "by": self.by,
            "as_of": _json(self.as_of),
            "rows": [{k: _json(v) for k, v in attrs.asdict(r).items()} for r in self.rows],
            "counts": self.counts.to_dict(),
            "unmatched_leads": self.unmatched_leads,
            "calendar": None
            if self.calendar is None
            else self.calendar.model_dump(mode="json", exclude_defaults=True),
        }

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        business = self.calendar is not None
        headers = [
            *(["group"] if self.by else []),
            "stage",
            "reached",
            "advanced",
            "conversion",
            "cumulative",
            "lost",
            "recycled",
            "open",
            "time median",
            "time p90",
            *(["business median", "business p90"] if business else []),
        ]
        rows = [
            [
                *([r.group] if self.by else []),
                r.stage,
                r.reached,
                r.advanced,
                r.conversion,
                r.cumulative,
                r.lost,
                r.recycled,
                r.open,
                r.time_median,
                r.time_p90,
                *([r.business_median, r.business_p90] if business else []),
            ]
            for r in self.rows
        ]
        return headers, rows

    def _title(self) -> str:
        parts = [f"{self.mode} funnel", f"{self.counts.leads} leads"]
        if self.by:
            parts.append(f"by {self.by}")
        if self.as_of:
            parts.append(f"as of {self.as_of.isoformat()}")
        if self.calendar is not None:
            parts.append(f"business time in {self.calendar.timezone}")
        return "FunnelReport(" + ", ".join(parts) + ")"

    def __repr__(self) -> str:
        headers, rows = self._table()
        notes = self.counts.lines()
        if self.unmatched_leads:
            notes.append(f"{self.unmatched_leads} lead(s) not in leads: group None")
        # A funnel is read whole: show up to 60 rows (e.g. seven steps in eight groups) before cutting.
        return "\n".join([self._title(), _display.text_table(headers, rows, max_rows=60), *notes])

    def _repr_html_(self) -> str:
        headers, rows = self._table()
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.counts.lines())
        return _display.html_table(headers, rows, caption=self._title()) + (
            f"<ul>{notes}</ul>" if notes else ""
        )

    def chart(self, *, width: int = 40, group: str | None = None) -> str:
        """A bar chart of ``reached`` per step, for terminals (``#`` bars scaled to the widest).

        Examples:
            >>> from datetime import datetime, timezone
            >>> from smarketing.records import StageEvent
            >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
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
            >>> events = [
            ...     StageEvent(lead_id="a", to="mql", time=t),
            ...     StageEvent(lead_id="b", to="mql", time=t),
            ...     StageEvent(lead_id="a", to="won", time=t + timedelta(days=3)),
            ... ]
            >>> print(funnel(jm, events).chart(width=10))
            mql  ##########  2
            won  #####       1  50.0%
        """
        rows = [r for r in self.rows if r.group == group]
        widest = max((r.reached for r in rows), default=0)
        label = max((len(r.stage) for r in rows), default=0)
        digits = max((len(str(r.reached)) for r in rows), default=1)
        out = []
        for r in rows:
            bar = "#" * (round(r.reached * width / widest) if widest else 0)
            line = f"{r.stage.ljust(label)}  {bar.ljust(width)}  {str(r.reached).rjust(digits)}"
            if r.cumulative is not None and r is not rows[0]:
                line += f"  {_display.cell(r.cumulative)}"
            out.append(line)
        return "\n".join(out)


def _leads_groups(leads: Any, by: str) -> nw.LazyFrame[Any]:
    lf = as_lazy(leads, "leads", required=("id", by))
    frame = lf.select(
        nw.col("id").cast(nw.String()).alias("lead_id"), nw.col(by).cast(nw.String()).alias("group")
    )
    bad = (
        frame.group_by("lead_id")
        .agg(nw.len().alias("n"))
        .filter((nw.col("n") > 1) | nw.col("lead_id").is_null())
        .sort("lead_id", nulls_last=False)
        .head(1)
        .collect()
        .rows(named=True)
    )
    if bad:
        lead_id = bad[0]["lead_id"]
        if lead_id is None:
            raise DataError("a lead without id; leads must be keyed by id for by=", field="id", kind="lead")
        raise DataError(
            f"appears {bad[0]['n']} times; lead ids must be unique", record=lead_id, field="id", kind="lead"
        )
    return frame


def funnel(
    journey_map: JourneyMap,
    events: Any,
    *,
    leads: Any = None,
    by: str | None = None,
    as_of: datetime | None = None,
    mode: FunnelMode = "ordered",
    stages: Sequence[str] | None = None,
    calendar: BusinessCalendar | None = None,
) -> FunnelReport:
    """Per funnel step: leads that reached it, moved on, were lost or are still open, and time in stage.

    The funnel's steps are the map's stages in plan order, leaving out the lost and disqualified terminal
    stages (they are where leads leak, counted as ``lost``); pass ``stages`` to choose other steps. Each
    lead's events are put in time order (ties: plan order of the stage entered, then of the stage left) and
    counted by one of the two semantics CRMs use:

    - ``mode="ordered"``: a lead counts at step *k* if it entered steps 1..k in that order (each after the
      previous one; other stages may come between). Its counted entry into a step is the earliest one that
      keeps the order. ``cumulative`` is then the share of step-1 leads that got this far.
    - ``mode="any"``: a lead counts at a step if it entered the stage at all, by any route; its counted entry
      is its first. ``cumulative`` is then a ratio of counts and can exceed 100% when leads enter later
      steps directly.

    Re-entries (a recycled lead coming back) never count a lead twice: ``reached`` counts leads, ``entries``
    counts every entry and ``reentered`` the leads that came back. The stay that starts at the counted entry
    ends with the lead's next event, which classifies the lead as moved on, recycled (back to this or an
    earlier step), lost (to a lost or disqualified terminal) or open (no later event up to ``as_of``). Time
    in stage is measured over the stays that ended, in calendar time and, when a ``calendar`` is given, in
    business time: the calendar's open hours between entering and leaving the stage (right across
    weekends, holidays and daylight-saving changes, as :meth:`~smarketing.calendar.BusinessCalendar.elapsed`
    counts them). Pass the plan's SLA calendar (``plan.sla.calendar``) to measure stages on the clock the
    SLA runs on.

    Nothing is left out without a word: every entry into a step is either in some row's ``entries`` or, in
    ``ordered`` mode, counted in :class:`EventCounts` as ``out_of_order`` (the lead entered an earlier step
    only after it, as a "won" dated before the MQL) or ``skipped_step`` (it never entered the step before),
    with an example lead. Duplicates, unknown stages and ``from`` mismatches are counted there too; events
    without a lead id, stage or time, naive times and times outside the years 1900 to 2199 raise
    :class:`~smarketing.errors.DataError` naming the record.

    Args:
        journey_map: The agreed journey.
        events: Stage events: ``StageEvent`` records, a ``Dataset`` or a long frame (``lead_id``, ``from``,
            ``to``, ``time``) of any library narwhals supports.
        leads: Leads with the ``by`` attribute (records, ``Dataset`` or frame keyed by ``id``); defaults to
            the dataset's leads when ``events`` is a ``Dataset``.
        by: Group by this lead attribute (``"persona"``, ``"campaign"``, ...), or ``"cohort_month"``: the
            UTC month (``"2026-10"``) of the lead's first event. Leads missing from ``leads`` fall in group
            ``None`` (counted as ``unmatched_leads``).
        as_of: Measure as at this aware time (any time zone): later events are left out, and leads with no
            later event are ``open``. ``None`` uses all events.
        mode: ``"ordered"`` or ``"any"`` (above).
        stages: The funnel's steps, in order; default above.
        calendar: Also measure time in stage in business time on this calendar
            (``business_median``, ``business_p90``); ``None`` leaves them ``None``.

    Returns:
        The :class:`FunnelReport`.

    Raises:
        DataError: Bad events or leads, as above; ``as_of`` not an aware datetime in the years 1900 to 2199.
        ValueError: Unknown or repeated step, unknown mode, ``by`` without leads.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> from smarketing.records import StageEvent
        >>> jm = sm.load_plan("examples/plan.yaml").journey
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> def ev(lead, stage, days):
        ...     return StageEvent(lead_id=lead, to=stage, time=t + timedelta(days=days))
        >>> events = [
        ...     ev("a", "lead", 0),
        ...     ev("a", "mql", 1),
        ...     ev("a", "sal", 2),
        ...     ev("a", "disqualified", 4),
        ...     ev("b", "lead", 0),
        ...     ev("b", "mql", 3),
        ...     ev("c", "mql", 0),
        ...     ev("c", "sal", 1),
        ... ]
        >>> report = funnel(jm, events, stages=["lead", "mql", "sal"])
        >>> [(r.stage, r.reached, r.advanced, r.lost, r.open) for r in report.rows]
        [('lead', 2, 2, 0, 0), ('mql', 2, 1, 0, 1), ('sal', 1, 0, 1, 0)]
        >>> report.row("mql").conversion, report.row("lead").time_median
        (Decimal('0.5000'), datetime.timedelta(days=1))
        >>> [r.reached for r in funnel(jm, events, stages=["lead", "mql", "sal"], mode="any").rows]
        [2, 3, 2]

        In business time on the plan's SLA calendar (Berlin; Monday to Thursday 08:00-17:30 and Friday
        08:00-16:00, closed 12:30-13:30; 1 October 2026 is a Thursday): lead ``a`` was in ``lead`` from
        Thursday 11:00 to Friday 11:00, 5.5 + 3 open hours; lead ``b`` from Thursday 11:00 to Sunday 11:00,
        5.5 + 7. The lower median is 8.5 hours:

        >>> office = sm.load_plan("examples/plan.yaml").sla.calendar
        >>> business = funnel(jm, events, stages=["lead", "mql", "sal"], calendar=office)
        >>> business.row("lead").business_median / timedelta(hours=1), business.row("lead").business_p90
        (8.5, datetime.timedelta(seconds=30600))
    """
    if mode not in ("ordered", "any"):
        raise DataError(f"must be 'ordered' or 'any', not {mode!r}", field="mode")
    known = [s.id for s in journey_map.stages]
    if stages is None:
        steps = [s.id for s in journey_map.stages if s.terminal not in _LOST]
        if not steps:
            raise DataError(
                "every stage of the map is a lost or disqualified terminal; pass stages=", field="stages"
            )
    else:
        steps = list(stages)
        if not steps:
            raise DataError("must name at least one step", field="stages")
        for s in steps:
            if s not in known:
                raise DataError(
                    f"unknown funnel step {s!r}; known stages: {', '.join(known)}", field="stages"
                )
        if len(set(steps)) != len(steps):
            raise DataError(f"funnel steps repeat a stage: {', '.join(steps)}", field="stages")
    if by is not None and by != "cohort_month" and leads is None:
        if isinstance(events, Dataset):
            leads = events.leads
        else:
            raise DataError(f"by={by!r} needs leads with that attribute (or by='cohort_month')", field="by")
    prepared = _kernels.prepare(events, known, as_of=as_of)
    groups: nw.LazyFrame[Any] | Literal["cohort_month"] | None = None
    if by == "cohort_month":
        groups = "cohort_month"
    elif by is not None:
        groups = _leads_groups(leads, by)
    code = {s: i for i, s in enumerate(known)}
    lost = [code[s.id] for s in journey_map.stages if s.terminal in _LOST]
    table = _kernels.funnel_table(
        prepared, [code[s] for s in steps], lost, mode=mode, groups=groups, calendar=calendar
    )
    unmatched = table.unmatched
    cells = {(r["group"], r["j"]): r for r in table.cells}
    names = sorted({g for g, _ in cells if g is not None})
    rows: list[FunnelRow] = []
    for group in [*names, *([None] if any(g is None for g, _ in cells) or not cells else [])]:
        first = cells.get((group, 0), {}).get("reached", 0)
        for j, stage in enumerate(steps):
            c = cells.get((group, j), {})
            reached, advanced = int(c.get("reached", 0)), int(c.get("advanced", 0))
            last = j == len(steps) - 1
            rows.append(
                FunnelRow(
                    group=group,
                    stage=stage,
                    reached=reached,
                    entries=int(c.get("entries", 0)),
                    reentered=int(c.get("reentered", 0)),
                    advanced=advanced,
                    drop_off=0 if last else reached - advanced,
                    moved_on=int(c.get("moved_on", 0)),
                    recycled=int(c.get("recycled", 0)),
                    lost=int(c.get("lost", 0)),
                    open=int(c.get("open", 0)),
                    conversion=None if last else _rate(advanced, reached),
                    cumulative=_rate(reached, first),
                    time_median=_micros(c.get("t50")),
                    time_p90=_micros(c.get("t90")),
                    business_median=_micros(c.get("b50")),
                    business_p90=_micros(c.get("b90")),
                )
            )
    return FunnelReport(
        mode=mode,
        steps=tuple(steps),
        by=by,
        as_of=as_of,
        rows=tuple(rows),
        counts=_counts(prepared, **table.anomalies),
        unmatched_leads=unmatched,
        calendar=calendar,
    )


# --------------------------------------------------------------------------------------------------
# Conformance.


@attrs.frozen
class Move:
    """One example of a move: the lead, the stage it was in (``None`` at its start), the stage entered."""

    lead_id: str
    source: str | None
    to: str
    time: datetime

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.source or '(start)'} -> {self.to} at {self.time.isoformat()}"


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
    """

    leads: int
    fit: int
    fitness: Decimal | None
    moves: int
    violations: tuple[Violation, ...]
    by_team: tuple[TeamFitness, ...]
    counts: EventCounts
    lead_fit: pl.DataFrame = attrs.field(repr=False)

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
            "fitness": _json(self.fitness),
            "moves": self.moves,
            "violations": [
                {
                    "kind": v.kind,
                    "count": v.count,
                    "leads": v.leads,
                    "examples": [{k: _json(x) for k, x in attrs.asdict(m).items()} for m in v.examples],
                }
                for v in self.violations
            ],
            "by_team": [{k: _json(x) for k, x in attrs.asdict(t).items()} for t in self.by_team],
            "counts": self.counts.to_dict(),
        }

    def _title(self) -> str:
        fitness = _display.cell(self.fitness)
        return (
            f"ConformanceReport({self.fit} of {self.leads} leads fit the map: {fitness}; {self.moves} moves)"
        )

    def _tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        kinds = [
            [v.kind, v.count, v.leads, str(v.examples[0]) if v.examples else None] for v in self.violations
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
    kind = _kernels.KINDS.index
    out: dict[tuple[int, int], int] = {}
    for a in [_kernels.START, *range(n + 1)]:
        out[(a, n)] = kind("unknown_stage")
        for b in range(n):
            if a == n or (a, b) in edges:
                continue  # the move after an unknown stage is not judged again
            if a == _kernels.START:
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
    prepared = _kernels.prepare(events, ids, keep_unknown=True)
    code = {s: i for i, s in enumerate(ids)}
    limits = {
        (code[t.source], code[t.to]): t.max_recycles
        for t in journey_map.transitions
        if t.kind == "recycle" and t.max_recycles is not None
    }
    teams = sorted({s.owner for s in journey_map.stages})
    owners = [teams.index(s.owner) for s in journey_map.stages]
    tables = _kernels.conformance_tables(prepared, _verdicts(journey_map), limits, owners, examples=examples)
    lead_fit = tables["leads"]
    leads = lead_fit.height
    fit = int(lead_fit.get_column("fit").sum())
    names = [*ids]
    found = {int(r["v"]): r for r in tables["kinds"].iter_rows(named=True)}
    samples: dict[int, list[Move]] = {}
    for r in tables["examples"].iter_rows(named=True):
        a = int(r["a"])
        source = names[a] if 0 <= a < len(names) else None
        samples.setdefault(int(r["v"]), []).append(Move(r["lead_id"], source, r["to"], r["time"]))
    violations = []
    for v_kind in _VIOLATION_KINDS:
        v = _kernels.KINDS.index(v_kind)
        row = found.get(v, {})
        violations.append(
            Violation(
                kind=v_kind,
                count=int(row.get("count", 0)),
                leads=int(row.get("leads", 0)),
                examples=tuple(samples.get(v, ())),
            )
        )
    touched = {int(r["team"]): int(r["leads"]) for r in tables["touched"].iter_rows(named=True)}
    broken = {
        None if r["team"] is None else int(r["team"]): (int(r["unfit"]), int(r["violations"]))
        for r in tables["broken"].iter_rows(named=True)
    }
    by_team = []
    for t, team in enumerate(teams):
        if t in touched:
            unfit, count = broken.get(t, (0, 0))
            by_team.append(
                TeamFitness(
                    team, touched[t], touched[t] - unfit, _rate(touched[t] - unfit, touched[t]), count
                )
            )
    if None in broken:
        unfit, count = broken[None]
        by_team.append(TeamFitness(None, unfit, 0, _rate(0, unfit), count))
    return ConformanceReport(
        leads=leads,
        fit=fit,
        fitness=_rate(fit, leads),
        moves=int(lead_fit.get_column("events").sum()),
        violations=tuple(violations),
        by_team=tuple(by_team),
        counts=_counts(prepared, **tables["anomalies"]),
        lead_fit=lead_fit,
    )


# --------------------------------------------------------------------------------------------------
# Discovery.


def discover(events: Any, *, min_count: int = 1) -> nx.DiGraph[str]:
    """The directly-follows graph of the stages leads really went through.

    Each lead's events are put in time order (ties: stage id, then the stage left) and every two
    consecutive stages give an edge. Nodes are the stages entered, with ``count`` (entries), ``start``
    (leads whose first stage it is) and ``end`` (leads whose last stage it is); edges carry ``count`` and
    ``median`` (the lower median of the time between the two events, a ``timedelta``). Duplicate events are
    dropped first, as :func:`funnel` does. ``graph.graph`` holds ``leads``, ``events``, ``duplicates`` and
    ``from_mismatch``. Nodes and edges are added in sorted order.

    Args:
        events: Stage events, as for :func:`funnel`.
        min_count: Leave out edges seen fewer times (nodes stay).

    Returns:
        A new (unfrozen) ``networkx.DiGraph``.

    Raises:
        DataError: Events without lead id, stage or time; naive times or times outside the years 1900 to
            2199; missing columns.
        ValueError: ``min_count`` below 1.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> from smarketing.records import StageEvent
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> events = [
        ...     StageEvent(lead_id="a", to="mql", time=t),
        ...     StageEvent(lead_id="a", to="sql", time=t + timedelta(hours=5)),
        ...     StageEvent(lead_id="b", to="mql", time=t),
        ...     StageEvent(lead_id="b", to="sql", time=t + timedelta(hours=2)),
        ...     StageEvent(lead_id="b", to="lost", time=t + timedelta(days=1)),
        ... ]
        >>> g = discover(events)
        >>> sorted(g.edges(data="count"))
        [('mql', 'sql', 2), ('sql', 'lost', 1)]
        >>> g.edges["mql", "sql"]["median"], g.nodes["sql"]
        (datetime.timedelta(seconds=7200), {'count': 2, 'start': 0, 'end': 1})
    """
    if min_count < 1:
        raise DataError(f"must be >= 1, not {min_count}", field="min_count")
    prepared = _kernels.prepare(events, None)
    edges, nodes = _kernels.dfg_tables(prepared)
    names = prepared.stages
    graph: nx.DiGraph[str] = nx.DiGraph(
        leads=prepared.leads,
        events=prepared.rows,
        duplicates=prepared.duplicates,
        from_mismatch=prepared.from_mismatch,
    )
    for r in nodes:
        graph.add_node(names[r["k"]], count=int(r["count"]), start=int(r["start"]), end=int(r["end"]))
    for r in edges:
        if r["count"] >= min_count:
            graph.add_edge(
                names[r["k"]], names[r["next_k"]], count=int(r["count"]), median=_micros(r["median"])
            )
    return graph


# --------------------------------------------------------------------------------------------------
# Diff of two maps.


@attrs.frozen
class Change:
    """One field that two maps define differently.

    ``element`` is ``"stage"`` or ``"transition"``; ``id`` the stage id or ``"from -> to"``.
    """

    element: Literal["stage", "transition"]
    id: str
    field: str
    a: Any
    b: Any

    def __str__(self) -> str:
        return f"{self.element} {self.id}: {self.field} {self.a!r} -> {self.b!r}"


@attrs.frozen
class JourneyDiff:
    """What changes from map ``a`` to map ``b``, and a merged proposal.

    Attributes:
        stages_added: Stages of ``b`` that ``a`` lacks (in ``b``'s order).
        stages_removed: Stages of ``a`` that ``b`` lacks (in ``a``'s order).
        transitions_added: Transitions (by ``from``/``to``) of ``b`` that ``a`` lacks.
        transitions_removed: Transitions of ``a`` that ``b`` lacks.
        changes: Fields of common stages and transitions that differ (stages first, then transitions, in
            ``a``'s order, fields in model order).
        merged: The proposal: every stage and transition of either map (``a``'s first, then ``b``'s
            additions); where both define a field differently, ``a``'s value is kept and the change is a
            conflict to settle.
    """

    stages_added: tuple[Stage, ...]
    stages_removed: tuple[Stage, ...]
    transitions_added: tuple[Transition, ...]
    transitions_removed: tuple[Transition, ...]
    changes: tuple[Change, ...]
    merged: JourneyMap

    @property
    def conflicts(self) -> tuple[Change, ...]:
        """The changes the merged proposal could not settle (it kept ``a``'s value for each)."""
        return self.changes

    def __bool__(self) -> bool:
        return bool(
            self.stages_added
            or self.stages_removed
            or self.transitions_added
            or self.transitions_removed
            or self.changes
        )

    def _rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        rows += [["stage", s.id, "added", None, None, None] for s in self.stages_added]
        rows += [["stage", s.id, "removed", None, None, None] for s in self.stages_removed]
        rows += [
            ["transition", f"{t.source} -> {t.to}", "added", None, None, None] for t in self.transitions_added
        ]
        rows += [
            ["transition", f"{t.source} -> {t.to}", "removed", None, None, None]
            for t in self.transitions_removed
        ]
        rows += [[c.element, c.id, "changed", c.field, _text(c.a), _text(c.b)] for c in self.changes]
        return rows

    def to_frame(self) -> pl.DataFrame:
        """One row per difference: ``element``, ``id``, ``change``, ``field``, ``a``, ``b`` (as text)."""
        return pl.DataFrame(
            self._rows(),
            schema={c: pl.String() for c in ("element", "id", "change", "field", "a", "b")},
            orient="row",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ids of added and removed parts, the changes, and the merged map (plan-file form)."""
        return {
            "stages_added": [s.id for s in self.stages_added],
            "stages_removed": [s.id for s in self.stages_removed],
            "transitions_added": [[t.source, t.to] for t in self.transitions_added],
            "transitions_removed": [[t.source, t.to] for t in self.transitions_removed],
            "changes": [attrs.asdict(c) for c in self.changes],
            "merged": self.merged.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        }

    def __repr__(self) -> str:
        headers = ["element", "id", "change", "field", "a", "b"]
        if not self:
            return "JourneyDiff(no differences)"
        return f"JourneyDiff({len(self._rows())} difference(s))\n" + _display.text_table(
            headers, self._rows()
        )

    def _repr_html_(self) -> str:
        headers = ["element", "id", "change", "field", "a", "b"]
        return _display.html_table(
            headers, self._rows(), caption=f"JourneyDiff: {len(self._rows())} difference(s)"
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _changes(
    element: Literal["stage", "transition"], key: str, a: FrozenModel, b: FrozenModel
) -> list[Change]:
    da, db = a.model_dump(by_alias=True), b.model_dump(by_alias=True)
    return [Change(element, key, name, da[name], db[name]) for name in da if da[name] != db[name]]


def diff(a: JourneyMap, b: JourneyMap) -> JourneyDiff:
    """Stages and transitions added, removed or changed from ``a`` to ``b``, and a merged proposal.

    Stages are matched by id, transitions by (``from``, ``to``). Every field is compared (owner, kind,
    terminal flag, name, ...). The merged proposal is a valid map with every part of either map; where the two
    disagree on a field it keeps ``a``'s value and lists the change in ``conflicts``.

    Examples:
        >>> marketing = JourneyMap.model_validate(
        ...     {
        ...         "stages": [
        ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
        ...             {"id": "sql", "name": "SQL", "owner": "marketing", "kind": "sql"},
        ...         ],
        ...         "transitions": [{"from": "mql", "to": "sql"}],
        ...     }
        ... )
        >>> sales = JourneyMap.model_validate(
        ...     {
        ...         "stages": [
        ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
        ...             {"id": "sql", "name": "SQL", "owner": "sales", "kind": "sql"},
        ...             {"id": "won", "name": "Won", "owner": "sales", "kind": "customer", "terminal": "won"},
        ...         ],
        ...         "transitions": [
        ...             {"from": "mql", "to": "sql", "kind": "handoff"},
        ...             {"from": "sql", "to": "won"},
        ...         ],
        ...     }
        ... )
        >>> d = diff(marketing, sales)
        >>> [s.id for s in d.stages_added]
        ['won']
        >>> for change in d.conflicts:
        ...     print(change)
        stage sql: owner 'marketing' -> 'sales'
        transition mql -> sql: kind 'progression' -> 'handoff'
        >>> [s.id for s in d.merged.stages], d.merged.stage("sql").owner
        (['mql', 'sql', 'won'], 'marketing')
    """
    stages_a = {s.id: s for s in a.stages}
    stages_b = {s.id: s for s in b.stages}
    trans_a = {(t.source, t.to): t for t in a.transitions}
    trans_b = {(t.source, t.to): t for t in b.transitions}
    changes: list[Change] = []
    for sid, s in stages_a.items():
        if sid in stages_b:
            changes += _changes("stage", sid, s, stages_b[sid])
    for pair, t in trans_a.items():
        if pair in trans_b:
            changes += _changes("transition", f"{pair[0]} -> {pair[1]}", t, trans_b[pair])
    added = tuple(s for sid, s in stages_b.items() if sid not in stages_a)
    new_transitions = tuple(t for pair, t in trans_b.items() if pair not in trans_a)
    merged = JourneyMap(stages=[*a.stages, *added], transitions=[*a.transitions, *new_transitions])
    return JourneyDiff(
        stages_added=added,
        stages_removed=tuple(s for sid, s in stages_a.items() if sid not in stages_b),
        transitions_added=new_transitions,
        transitions_removed=tuple(t for pair, t in trans_a.items() if pair not in trans_b),
        changes=tuple(changes),
        merged=merged,
    )
