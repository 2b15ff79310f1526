"""The demand waterfall: inquiry, MQL, SAL, SQL, opportunity, won, by cohort or by period.

:func:`waterfall` follows the plan's journey stages through the six waterfall steps (mapped in the plan's
``waterfall:`` section, see :class:`~smarketing.feedback.model.WaterfallPlan`) and returns a
:class:`Waterfall` of :class:`WaterfallRow` (per period, group and step: volume, conversion, velocity in
business days and value), flagging conversions and velocities outside the plan's bands.
:func:`sourced_influenced` splits pipeline and revenue per campaign or team into sourced (the lead was
created by it) and influenced (multi-touch credit from :func:`~smarketing.attribution.attribute`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import polars as pl

from smarketing import _charts, _display
from smarketing.calendar import BusinessCalendar, check_time
from smarketing.errors import DataError
from smarketing.feedback import _scale, _waterfall
from smarketing.feedback.model import STEPS, Band, DayBand, Step, WaterfallPlan, default_steps
from smarketing.journey._report import duration, json_value, rate
from smarketing.money import FxTable, Money

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smarketing.plan import AlignmentPlan

__all__ = [
    "Waterfall",
    "WaterfallRow",
    "step_stages",
    "waterfall",
]

View = Literal["cohort", "period"]
Flag = Literal["low", "high"]


@attrs.frozen
class WaterfallRow:
    """One step of the waterfall in one period and group.

    Attributes:
        period: The period label (``2026-10``, ``2026-Q4``, ``2026-W40``; UTC).
        group: The group value (``None`` without ``by``, or for leads without one).
        step: The waterfall step.
        cohort: Cohort view: leads created in the period (in the group); ``None`` in the period view.
        volume: Cohort view: leads of the cohort at this step or a later one by ``as_of``. Period view:
            leads whose first entry into the step fell in the period.
        ended: Cohort view: leads whose furthest step is this one (``None`` in the period view).
        conversion: ``volume`` of the next step over this one's (``None`` for ``won`` or no volume).
        velocity_days: Lower median of the business days from entering this step to entering the next.
        velocity_time: Lower median of the open time (the business clock) over the same moves.
        value: ``won`` only: won amount in minor units of :attr:`Waterfall.currency`.
        conversion_flag: ``"low"`` or ``"high"`` when ``conversion`` is outside the plan's band.
        velocity_flag: ``"low"`` or ``"high"`` when ``velocity_days`` is outside the plan's band.
    """

    period: str
    group: str | None
    step: Step
    cohort: int | None
    volume: int
    ended: int | None
    conversion: Decimal | None
    velocity_days: int | None
    velocity_time: timedelta | None
    value: int | None
    conversion_flag: Flag | None = None
    velocity_flag: Flag | None = None


_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "group": pl.String(),
    "step": pl.String(),
    "cohort": pl.Int64(),
    "volume": pl.Int64(),
    "ended": pl.Int64(),
    "conversion": pl.Decimal(10, 4),
    "velocity_days": pl.Int64(),
    "velocity_time": pl.Duration("us"),
    "value": pl.Int64(),
    "conversion_flag": pl.String(),
    "velocity_flag": pl.String(),
}


@attrs.frozen
class Waterfall:
    """The demand waterfall: rows by period (sorted), group (sorted, ``None`` last) and step.

    ``stages`` is the journey stage ids of each step; ``left_out`` counts leads with stage events that are
    not among the leads (no creation time, so in no cohort).
    """

    view: View
    period: str
    by: str | None
    as_of: datetime
    currency: str | None
    stages: Mapping[str, tuple[str, ...]]
    rows: tuple[WaterfallRow, ...]
    left_out: int = 0
    calendar: BusinessCalendar | None = attrs.field(default=None, eq=False)

    def row(self, period: str, step: str, group: str | None = None) -> WaterfallRow:
        """The row of ``step`` in ``period`` and ``group``; ``KeyError`` if there is none."""
        for r in self.rows:
            if r.period == period and r.step == step and r.group == group:
                return r
        raise KeyError(f"no waterfall row for {step!r} in {period!r}, group {group!r}")

    def flagged(self) -> list[WaterfallRow]:
        """The rows with a conversion or velocity outside the plan's band, in row order."""
        return [r for r in self.rows if r.conversion_flag or r.velocity_flag]

    def to_frame(self) -> pl.DataFrame:
        """The rows as a polars DataFrame (rates as ``Decimal``, value in minor units)."""
        return pl.DataFrame([attrs.asdict(r) for r in self.rows], schema=_SCHEMA, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rates as decimal strings, durations as decimal seconds, value in minor units."""
        return {
            "view": self.view,
            "period": self.period,
            "by": self.by,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "stages": {k: list(v) for k, v in self.stages.items()},
            "left_out": self.left_out,
            "rows": [{k: json_value(v) for k, v in attrs.asdict(r).items()} for r in self.rows],
        }

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of the text and HTML table (cohort and ended only in the cohort view)."""
        cohort = self.view == "cohort"
        headers = [
            "period",
            *(["group"] if self.by else []),
            "step",
            *(["cohort", "ended"] if cohort else []),
            "volume",
            "conversion",
            "days",
            "value",
            "flag",
        ]
        rows = []
        for r in self.rows:
            flag = " ".join(
                f"{n} {f}" for n, f in (("conv", r.conversion_flag), ("days", r.velocity_flag)) if f
            )
            value = (
                None if r.value is None or self.currency is None else Money.from_minor(r.value, self.currency)
            )
            rows.append(
                [
                    r.period,
                    *([r.group] if self.by else []),
                    r.step,
                    *([r.cohort, r.ended] if cohort else []),
                    r.volume,
                    r.conversion,
                    r.velocity_days,
                    value,
                    flag or None,
                ]
            )
        return headers, rows

    def _title(self) -> str:
        parts = [f"{self.view} view by {self.period}", f"as of {_display.local_time(self.as_of)}"]
        if self.by:
            parts.append(f"by {self.by}")
        flagged = len(self.flagged())
        if flagged:
            parts.append(f"{flagged} flagged")
        return "Waterfall(" + ", ".join(parts) + ")"

    def __repr__(self) -> str:
        headers, rows = self._table()
        notes = [f"{self.left_out} lead(s) with stage events but no lead record"] if self.left_out else []
        return "\n".join([self._title(), _display.text_table(headers, rows, max_rows=60), *notes])

    def _repr_html_(self) -> str:
        headers, rows = self._table()
        return _display.html_table(headers, rows, caption=html.escape(self._title()))

    def plot(self) -> Figure:
        """The demand waterfall as a chart: the volume of each step per period (needs the ``plot`` extra).

        Groups (with ``by``) are summed; conversions outside the plan's band are marked with a red edge.

        Examples:
            >>> from smarketing.testing.fixtures import AS_OF, example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.feedback.waterfall(plan, example_dataset(), as_of=AS_OF).plot()
            >>> fig.axes[0].get_ylabel()
            'leads'
        """
        periods = list(dict.fromkeys(r.period for r in self.rows))
        steps = list(dict.fromkeys(r.step for r in self.rows))
        volume: dict[tuple[str, str], int] = {}
        flagged: set[tuple[str, str]] = set()
        for r in self.rows:
            volume[(r.period, r.step)] = volume.get((r.period, r.step), 0) + r.volume
            if r.conversion_flag is not None:
                flagged.add((r.period, r.step))
        title = f"Demand waterfall: leads at each step by {self.view} ({self.period})"
        fig, (ax,) = _charts.new(title=title, width=min(10.0, max(7.0, 0.6 * len(periods))))
        series: dict[str, list[float]] = {
            step: [float(volume.get((p, step), 0)) for p in periods] for step in steps
        }
        _charts.grouped_bars(ax, periods, series, horizontal=False)
        for container, step in zip(ax.containers, steps, strict=False):
            for patch, period in zip(container, periods, strict=True):
                if (period, step) in flagged:
                    patch.set_edgecolor("#c62828")
                    patch.set_linewidth(1.5)
        ax.set_ylabel("leads")
        ax.set_xlabel("cohort" if self.view == "cohort" else "period")
        ax.tick_params(axis="x", labelrotation=30)
        return fig


def step_stages(plan: AlignmentPlan) -> dict[Step, list[str]]:
    """The journey stage ids of each waterfall step: the plan's ``waterfall.stages``, else the defaults.

    Examples:
        >>> step_stages(sm.load_plan("examples/plan.yaml"))["inquiry"]
        ['subscriber', 'lead']
    """
    defaults = default_steps([(s.id, s.kind, s.terminal) for s in plan.journey.stages])
    given = plan.waterfall.stages if plan.waterfall is not None else {}
    return {s: list(given.get(s, defaults[s])) for s in STEPS}


def _flag(value: Decimal | int | None, band: Band | DayBand | None) -> Flag | None:
    """``low``/``high`` when ``value`` is outside ``band`` (never without a band or a value)."""
    if band is None or value is None:
        return None
    if band.low is not None and value < band.low:
        return "low"
    if band.high is not None and value > band.high:
        return "high"
    return None


def waterfall(
    plan: AlignmentPlan,
    data: Any,
    *,
    view: View = "cohort",
    period: _waterfall.WaterfallPeriod = "month",
    by: str | None = None,
    as_of: datetime,
    fx: FxTable | None = None,
) -> Waterfall:
    """The demand waterfall of ``data`` on the plan's journey, by cohort or by period.

    A lead is at a step when it entered one of the step's stages (:func:`step_stages`); events go through
    the funnel's preparation (validation, one agreed order) and its ``any`` counting of first entries.

    - ``view="cohort"``: leads created in the period (UTC), followed to ``as_of``. A lead counts at a step
      if it reached that step **or any later one** (a lead that went from MQL straight to SQL counts at
      SAL too), so volumes never increase along the steps; each lead ends at exactly one furthest step
      (``ended``) or at none (``cohort - volume`` of ``inquiry``). ``value`` is the amount of the cohort's
      won deals closed by ``as_of``.
    - ``view="period"``: per period, the leads whose *first entry* into each step fell in it (an entry, so
      skipped steps are not filled in), conversion as the ratio of next-step to this-step entries in the
      period (a flow ratio; it can pass 1), velocity over the leads that entered the next step in the
      period, ``value`` the won deals closed in the period.

    Velocity is the lower median of business days between a lead's first entries into a step and the next
    one (the open days that closed in between, on the plan's SLA calendar, or UTC office hours without an
    SLA), and the open time on the funnel's business clock. Conversions and velocities outside the plan's
    ``waterfall`` bands are flagged; no band, no flag.

    Args:
        plan: The plan (journey, optional ``waterfall`` section, SLA calendar, currency).
        data: A :class:`~smarketing.records.Dataset` or mapping of frames by kind: ``leads`` (``id``,
            ``created_at``), ``stage_events``, ``deals`` (won value) and, for ``by="source_team"``,
            ``touchpoints``.
        view: ``"cohort"`` or ``"period"`` (above).
        period: ``"week"`` (ISO), ``"month"`` or ``"quarter"``.
        by: A lead column (``persona``, ``campaign``, ``region``, ...); ``account.<column>`` for a segment
            of the lead's account (``account.industry``, ``account.company_size``, ...; a lead with no
            account is in the null group); or ``"source_team"``: the team of the lead's first touch (ties
            by touch id).
        as_of: Measure as at this aware time; later leads, events and deals are left out.
        fx: Exchange rates to convert won deals into the plan's currency on their close date (without a
            plan currency, into the one currency of the won deals).

    Raises:
        DataError: Bad input, naming the record; a won deal not in the plan's currency and no ``fx``.
        ValueError: An unknown view or period.

    Examples:
        >>> from datetime import datetime, timezone
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> from smarketing.datasets import synthetic
        >>> data = synthetic(plan, seed=1, n_leads=300)
        >>> w = waterfall(plan, data, as_of=datetime(2027, 1, 1, tzinfo=timezone.utc))
        >>> [r.step for r in w.rows[:6]]
        ['inquiry', 'mql', 'sal', 'sql', 'opportunity', 'won']
    """
    if view not in ("cohort", "period"):
        raise DataError(f"must be 'cohort' or 'period', not {view!r}", field="view")
    if period not in ("week", "month", "quarter"):
        raise DataError(f"must be 'week', 'month' or 'quarter', not {period!r}", field="period")
    as_of = check_time(as_of, "as_of")
    mapping = step_stages(plan)
    stages = [s.id for s in plan.journey.stages]
    step_of = [-1] * len(stages)
    for j, step in enumerate(STEPS):
        for stage in mapping[step]:
            step_of[stages.index(stage)] = j
    calendar = plan.sla.calendar if plan.sla is not None else BusinessCalendar(timezone="UTC")
    cells, currency, left_out = _scale.waterfall_cells(
        data,
        stages,
        step_of,
        view=view,
        period=period,
        by=by,
        as_of=as_of,
        calendar=calendar,
        currency=plan.currency,
        fx=fx,
    )
    bands = plan.waterfall or WaterfallPlan()
    rows = _rows(cells, bands)
    return Waterfall(
        view=view,
        period=period,
        by=by,
        as_of=as_of,
        currency=currency,
        stages={s: tuple(v) for s, v in mapping.items()},
        rows=tuple(rows),
        left_out=left_out,
        calendar=calendar,
    )


def _rows(cells: pl.DataFrame, bands: WaterfallPlan) -> list[WaterfallRow]:
    """The rows of every (period, group) with any step, every step, in order, with flags."""
    by_key = {(r["period"], r["group"], r["step"]): r for r in cells.iter_rows(named=True)}
    keys = sorted({(p, g) for p, g, _ in by_key}, key=lambda k: (k[0], k[1] is None, k[1] or ""))
    rows: list[WaterfallRow] = []
    for p, g in keys:
        for j, step in enumerate(STEPS):
            c = by_key.get((p, g, j), {})
            volume = int(c.get("volume") or 0)
            nxt = int(by_key.get((p, g, j + 1), {}).get("volume") or 0)
            conversion = rate(nxt, volume) if j + 1 < len(STEPS) else None
            days = c.get("d50")
            rows.append(
                WaterfallRow(
                    period=p,
                    group=g,
                    step=step,
                    cohort=c.get("cohort"),
                    volume=volume,
                    ended=c.get("ended"),
                    conversion=conversion,
                    velocity_days=days,
                    velocity_time=duration(c.get("b50")),
                    value=c.get("value"),
                    conversion_flag=_flag(conversion, bands.conversion.get(step)),
                    velocity_flag=_flag(days, bands.velocity.get(step)),
                )
            )
    return rows
