"""The funnel: per step of the journey, the leads that reached it, moved on, were lost or are still open.

:func:`funnel` counts stage events against a :class:`~smarketing.journey.JourneyMap` and returns a
:class:`FunnelReport` of :class:`FunnelRow` (per group and step).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import narwhals as nw
import polars as pl

from smarketing import _charts, _display
from smarketing.calendar import BusinessCalendar
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy, of_kind
from smarketing.journey import _partials
from smarketing.journey._report import duration, json_value, rate
from smarketing.journey.counts import EventCounts
from smarketing.journey.model import JourneyMap
from smarketing.records import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FunnelMode", "FunnelReport", "FunnelRow", "funnel"]

FunnelMode = Literal["ordered", "any"]

_LOST: frozenset[str] = frozenset({"lost", "disqualified"})


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
            "as_of": json_value(self.as_of),
            "rows": [{k: json_value(v) for k, v in attrs.asdict(r).items()} for r in self.rows],
            "counts": self.counts.to_dict(),
            "unmatched_leads": self.unmatched_leads,
            "calendar": None
            if self.calendar is None
            else self.calendar.model_dump(mode="json", exclude_defaults=True),
        }

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of the report's table (the group and business-time columns only when used)."""
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
                *([_business(r.business_median), _business(r.business_p90)] if business else []),
            ]
            for r in self.rows
        ]
        return headers, rows

    def _title(self) -> str:
        parts = [f"{self.mode} funnel", f"{self.counts.leads} leads"]
        if self.by:
            parts.append(f"by {self.by}")
        zone = None if self.calendar is None else self.calendar.timezone
        if self.as_of:
            parts.append(f"as of {_display.local_time(self.as_of, zone)}")
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

    def plot(self, *, kind: Literal["funnel", "time"] = "funnel") -> Figure:
        """The funnel as a chart: a matplotlib figure (needs the ``plot`` extra).

        ``kind="funnel"``: the leads reaching each step, first step on top, each bar split into the leads
        that advanced and those that dropped off, labelled with the count and the next-step conversion;
        with ``by``, one bar per group. ``kind="time"``: the median time in each stage of the leads that
        left it, in business hours with a calendar, else in days.

        Examples:
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.journey.funnel(plan.journey, example_dataset()).plot()
            >>> [label.get_text() for label in fig.axes[0].get_yticklabels()][:3]
            ['subscriber', 'lead', 'mql']
        """
        if kind not in ("funnel", "time"):
            raise ValueError(f"kind must be 'funnel' or 'time', not {kind!r}")
        groups = list(dict.fromkeys(r.group for r in self.rows))
        steps = list(dict.fromkeys(r.stage for r in self.rows))
        cell = {(r.group, r.stage): r for r in self.rows}
        mode = "in order" if self.mode == "ordered" else "in any order"
        if kind == "time":
            business = self.calendar is not None
            unit, per = ("business hours", 3600.0) if business else ("days", 86400.0)
            fig, (ax,) = _charts.new(title=f"Median time in stage ({unit})", height=0.6 + 0.35 * len(steps))
            series = {}
            for g in groups:
                times = [
                    cell[(g, s)].business_median if business else cell[(g, s)].time_median for s in steps
                ]
                series[str(g) if g is not None else "all leads"] = [
                    0.0 if t is None else t.total_seconds() / per for t in times
                ]
            _charts.grouped_bars(ax, steps, series)
            ax.set_xlabel(unit)
            return fig
        fig, (ax,) = _charts.new(
            title=f"Funnel: leads reaching each step {mode}", height=0.6 + 0.4 * len(steps)
        )
        if len(groups) > 1:
            reached = {str(g): [float(cell[(g, s)].reached) for s in steps] for g in groups}
            _charts.grouped_bars(ax, steps, reached)
        else:
            rows = [cell[(groups[0], s)] for s in steps]
            ax.barh(steps, [r.advanced for r in rows], color=_charts.PALETTE[0], label="advanced")
            ax.barh(
                steps,
                [r.drop_off for r in rows],
                left=[r.advanced for r in rows],
                color="#b9d7ea",
                label="dropped off",
            )
            _charts.bar_labels(
                ax,
                [
                    f"{r.reached:,}"
                    + (f" \u2192 {100 * r.conversion:.1f}% on" if r.conversion is not None else "")
                    for r in rows
                ],
                index=1,
            )
            ax.invert_yaxis()
            ax.legend(frameon=False, fontsize=8.0, loc="lower right")
        ax.set_xlabel("leads")
        return fig


def _groups_from_leads(leads: Any, by: str) -> nw.LazyFrame[Any]:
    """The ``lead_id`` and ``group`` (the ``by`` attribute, as text) of each lead; lead ids must be unique."""
    lf = as_lazy(leads, "leads", required=("id", by), reads=("id", by))
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


def _join_groups(events: Any, leads: Any, by: str) -> Any:
    """The events (a PySpark DataFrame) with their lead's group (``_group``) and ``_matched``, on Spark.

    The leads are checked on their engine (a PySpark DataFrame) or in polars (anything else, then made a
    Spark frame of lead ids and groups); a repeated or missing lead id is refused as on one machine.
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own name)

    if engine.is_spark(leads):
        checked = as_lazy(leads, "leads", required=("id", by), reads=("id", by), engine=True).to_native()
        table = checked.select(
            F.col("id").cast("string").alias("_lid"), F.col(by).cast("string").alias("_group")
        )
        bad = engine.to_polars(
            table.groupBy("_lid")
            .count()
            .where((F.col("count") > 1) | F.col("_lid").isNull())
            .orderBy(F.col("_lid").asc_nulls_first())
            .limit(1)
        ).rows(named=True)
        if bad:
            if bad[0]["_lid"] is None:
                raise DataError(
                    "a lead without id; leads must be keyed by id for by=", field="id", kind="lead"
                )
            raise DataError(
                f"appears {bad[0]['count']} times; lead ids must be unique",
                record=bad[0]["_lid"],
                field="id",
                kind="lead",
            )
    else:
        local = _groups_from_leads(leads, by).collect().to_native()
        table = events.sparkSession.createDataFrame(
            local.select(pl.col("lead_id").alias("_lid"), pl.col("group").alias("_group")).to_arrow()
        )
    table = table.withColumn("_matched", F.lit(True))
    joined = events.join(table, events["lead_id"].cast("string") == table["_lid"], "left")
    return joined.drop("_lid")


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
    code = {s: i for i, s in enumerate(known)}
    lost = [code[s.id] for s in journey_map.stages if s.terminal in _LOST]
    source = of_kind(events, "stage_events") if isinstance(events, Mapping) else events
    groups: nw.LazyFrame[Any] | Literal["cohort_month", "joined"] | None = None
    if by == "cohort_month":
        groups = "cohort_month"
    elif by is not None:
        if engine.is_spark(source):
            source, groups = _join_groups(source, leads, by), _partials.JOINED
        else:
            groups = _groups_from_leads(leads, by)
    partials = engine.run(
        events if source is None else source,
        functools.partial(
            _partials.funnel_map,
            stages=known,
            steps=[code[s] for s in steps],
            lost=lost,
            mode=mode,
            as_of=as_of,
            groups=groups,
            calendar=calendar,
        ),
        _partials.FUNNEL,
        kind="stage_events",
        key="lead_id",
        required=("lead_id", "to", "time"),
        columns=("lead_id", "from", "to", "time", "_group", "_matched"),
    )
    counts, values = _partials.event_counts(partials)
    merged, times = partials.merged("cells"), partials.merged("stays")
    cells = {(r["group"], r["j"]): r for r in merged.iter_rows(named=True)}
    for r in times.iter_rows(named=True):
        cells[(r["group"], r["j"])].update(t50=r["d_q0"], t90=r["d_q1"], b50=r["b_q0"], b90=r["b_q1"])
    unmatched = values.get("unmatched", 0)
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
                    conversion=None if last else rate(advanced, reached),
                    cumulative=rate(reached, first),
                    time_median=duration(c.get("t50")),
                    time_p90=duration(c.get("t90")),
                    business_median=duration(c.get("b50")),
                    business_p90=duration(c.get("b90")),
                )
            )
    return FunnelReport(
        mode=mode,
        steps=tuple(steps),
        by=by,
        as_of=as_of,
        rows=tuple(rows),
        counts=counts,
        unmatched_leads=unmatched,
        calendar=calendar,
    )


def _business(value: timedelta | None) -> _display.BusinessTime | None:
    """A duration in open hours, shown as business hours."""
    return None if value is None else _display.BusinessTime(value)
