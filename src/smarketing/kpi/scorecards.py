"""Scorecards: every KPI of a plan computed for a period, with its target, status and trend.

The values come exactly from the base metrics (:func:`smarketing.kpi.metrics.compute_metrics`) through
each KPI's formula, and are rounded once, when shown: money to the minor unit, others to 4 places.
"""

from __future__ import annotations

import decimal
import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import polars as pl

from smarketing import _charts, _display
from smarketing._periods import Window
from smarketing.kpi._formula import Formula, Undefined
from smarketing.kpi.metrics import MetricRegistry, compute_metrics
from smarketing.kpi.model import _MONEY_UNITS, KPI, Direction, compile_kpi
from smarketing.money import FxTable, Money

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smarketing.plan import AlignmentPlan

__all__ = ["AT_RISK_FROM", "Scorecard", "ScorecardRow", "Status", "scorecard"]

Status = Literal["on_track", "at_risk", "off_track", "no_target", "undefined"]

#: Attainment from which a KPI below target is "at risk" rather than "off track" (90% of target).
AT_RISK_FROM: Final = Decimal("0.9")

_PLACES = Decimal("0.0001")
# Divisions are rounded once, at a fixed precision that does not depend on the thread's decimal context.
_WIDE = decimal.Context(prec=60, rounding=ROUND_HALF_EVEN)


def _decimal(value: Fraction) -> Decimal:
    return _WIDE.divide(Decimal(value.numerator), Decimal(value.denominator))


def _round(value: Fraction, kpi: KPI) -> Decimal:
    """Exact value to the reported decimal: money to the minor unit, others to 4 places (half even)."""
    exact = _decimal(value)
    if kpi.unit in _MONEY_UNITS and kpi.currency is not None:
        return Money(exact, kpi.currency).quantize().amount
    if kpi.unit == "count" and value.denominator == 1:
        return Decimal(value.numerator)
    return exact.quantize(_PLACES, rounding=ROUND_HALF_EVEN)


def _in_unit(value: Fraction, kpi: KPI) -> Fraction:
    """Formula values hold durations in hours; report in the KPI's unit."""
    if kpi.unit == "days":
        return value / 24
    if kpi.unit == "money_per_day":
        return value * 24
    return value


def _attainment(value: Fraction, target: Decimal, direction: Direction) -> Fraction | None:
    goal = Fraction(target)
    if goal <= 0 or value < 0:
        return None
    if direction == "higher_is_better":
        return value / goal
    return goal / value if value else None


def _status(value: Fraction | Undefined, target: Decimal | None, direction: Direction) -> Status:
    if isinstance(value, Undefined):
        return "undefined"
    if target is None:
        return "no_target"
    attainment = _attainment(value, target, direction)
    if attainment is None:  # zero or negative targets, or zero for lower-is-better: compare directly
        better = value >= Fraction(target) if direction == "higher_is_better" else value <= Fraction(target)
        return "on_track" if better else "off_track"
    if attainment >= 1:
        return "on_track"
    return "at_risk" if attainment >= Fraction(AT_RISK_FROM) else "off_track"


@attrs.frozen
class ScorecardRow:
    """One KPI (in one group) on a scorecard.

    Attributes:
        kpi: The KPI definition.
        group: The group value with ``by`` (``"(none)"`` for leads without one), else None.
        period: The period label the value is for (the KPI's own period containing the scorecard's).
        value: The value in the KPI's unit (money to the minor unit, others to 4 places), or
            :class:`Undefined` with the reason.
        target: The KPI's target, if any.
        attainment: Value over target (target over value when lower is better), to 4 places.
        status: ``on_track`` (attainment >= 1), ``at_risk`` (>= :data:`AT_RISK_FROM`), ``off_track``,
            ``no_target`` or ``undefined``.
        history: Values of the previous periods, oldest first.
        history_periods: Labels of those periods.
        trend: ``improving``, ``worsening`` or ``flat`` against the previous period (by the KPI's
            direction), None when either value is undefined.
    """

    kpi: KPI
    group: str | None
    period: str
    value: Decimal | Undefined
    target: Decimal | None
    attainment: Decimal | None
    status: Status
    history: tuple[Decimal | Undefined, ...]
    history_periods: tuple[str, ...]
    trend: Literal["improving", "worsening", "flat"] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (Decimals as text, undefined values as None with a reason)."""
        return {
            "kpi": self.kpi.id,
            "name": self.kpi.name,
            "owners": list(self.kpi.owners),
            "joint": self.kpi.is_joint,
            "group": self.group,
            "period": self.period,
            "unit": self.kpi.unit,
            "currency": self.kpi.currency,
            "value": _text(self.value),
            "undefined_reason": self.value.reason if isinstance(self.value, Undefined) else None,
            "target": _text(self.target),
            "attainment": _text(self.attainment),
            "status": self.status,
            "trend": self.trend,
            "history": dict(zip(self.history_periods, [_text(v) for v in self.history], strict=True)),
        }


def _text(value: Decimal | Undefined | None) -> str | None:
    return None if value is None or isinstance(value, Undefined) else str(value)


_BARS = "▁▂▃▄▅▆▇█"


def _series(row: ScorecardRow) -> list[Decimal | None]:
    return [None if isinstance(v, Undefined) else v for v in (*row.history, row.value)]


def _sparkline(values: Sequence[Decimal | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            level = 0 if span == 0 else int((v - low) / span * (len(_BARS) - 1))
            out.append(_BARS[level])
    return "".join(out)


def _svg_sparkline(values: Sequence[Decimal | None], width: int = 60, height: int = 16) -> str:
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low = min(v for _, v in known)
    high = max(v for _, v in known)
    span = (high - low) or Decimal(1)
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - float((v - low) / span) * (height - 4):.1f}" for i, v in known
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="trend"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )


_STATUS_TEXT = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_target": "no target",
    "undefined": "undefined",
}


@attrs.frozen
class Scorecard:
    """KPI values for a period with targets, statuses and trends; joint KPIs first.

    Build one with :func:`scorecard`. ``rows`` keep the plan's KPI order within joint and single-team
    KPIs; with ``by``, each KPI has one row per group.
    """

    period: str
    as_of: datetime
    by: str | None
    rows: tuple[ScorecardRow, ...]

    def to_frame(self) -> pl.DataFrame:
        """One row per KPI (and group); values as text-exact decimals in a ``value`` column.

        Examples:
            >>> from smarketing.kpi import catalog, scorecard
            >>> from smarketing.testing.fixtures import AS_OF, example_dataset
            >>> card = scorecard([catalog["win_rate"]], example_dataset(), period="2026-10", as_of=AS_OF)
            >>> card.to_frame().select("kpi", "value", "status").row(0)
            ('win_rate', Decimal('0.500000'), 'no_target')
        """
        records = [r.to_dict() for r in self.rows]
        for record in records:
            record["history"] = list(record["history"].values())
        schema = {
            "kpi": pl.String(),
            "name": pl.String(),
            "owners": pl.List(pl.String()),
            "joint": pl.Boolean(),
            "group": pl.String(),
            "period": pl.String(),
            "unit": pl.String(),
            "currency": pl.String(),
            "value": pl.String(),
            "undefined_reason": pl.String(),
            "target": pl.String(),
            "attainment": pl.String(),
            "status": pl.String(),
            "trend": pl.String(),
            "history": pl.List(pl.String()),
        }
        frame = pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)
        decimal = pl.Decimal(38, 6)
        return frame.with_columns(pl.col("value", "target", "attainment").cast(decimal))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: period, as_of, by and one dict per row."""
        return {
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "by": self.by,
            "rows": [r.to_dict() for r in self.rows],
        }

    def _lines(self) -> list[tuple[str, ...]]:
        header = ("kpi", "group", "period", "value", "target", "attainment", "status", "trend")
        lines: list[tuple[str, ...]] = [header]
        for r in self.rows:
            unit = f" {r.kpi.currency}" if r.kpi.currency else ""
            value = "undefined" if isinstance(r.value, Undefined) else f"{r.value}{unit}"
            lines.append(
                (
                    ("* " if r.kpi.is_joint else "  ") + r.kpi.id,
                    r.group or "",
                    r.period,
                    value,
                    "" if r.target is None else str(r.target),
                    "" if r.attainment is None else f"{r.attainment * 100:.1f}%",
                    _STATUS_TEXT[r.status],
                    _sparkline(_series(r)),
                )
            )
        return lines

    def __repr__(self) -> str:
        lines = self._lines()
        if self.by is None:
            lines = [line[:1] + line[2:] for line in lines]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        text = [f"Scorecard {self.period} (as of {self.as_of.isoformat()}; * joint)"]
        text += [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
        ]
        text += [f"  {r.kpi.id}: {r.value.reason}" for r in self.rows if isinstance(r.value, Undefined)]
        return "\n".join(text)

    def _repr_html_(self) -> str:
        """The scorecard as a card: each KPI's value and target in its unit, attainment, status, trend."""
        heads = ("KPI", "owners", "group", "period", "value", "target", "attainment", "status", "trend")
        cell = ' style="text-align:left;vertical-align:top;padding:2px 8px 2px 0"'
        number = ' style="text-align:right;vertical-align:top;padding:2px 8px 2px 0"'
        aligns = (cell, cell, cell, cell, number, number, number, cell, cell)
        body = []
        for r in self.rows[:200]:
            value = (
                f'<span title="{html.escape(r.value.reason)}">undefined</span>'
                if isinstance(r.value, Undefined)
                else html.escape(_display.quantity(r.value, r.kpi.unit, r.kpi.currency))
            )
            cells = [
                f"<b>{html.escape(r.kpi.name)}</b>" if r.kpi.is_joint else html.escape(r.kpi.name),
                html.escape(", ".join(r.kpi.owners)),
                html.escape(r.group or ""),
                html.escape(r.period),
                value,
                "-"
                if r.target is None
                else html.escape(_display.quantity(r.target, r.kpi.unit, r.kpi.currency)),
                _display.percent(r.attainment),
                _STATUS_TEXT[r.status],
                _svg_sparkline(_series(r)),
            ]
            body.append(
                "<tr>" + "".join(f"<td{a}>{c}</td>" for a, c in zip(aligns, cells, strict=True)) + "</tr>"
            )
        more = len(self.rows) - 200
        head = "".join(f"<th{a}>{h}</th>" for a, h in zip(aligns, heads, strict=True))
        table = (
            '<table style="border-collapse:collapse;margin:4px 0">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        notes = [_display.paragraph(f"{more:,} more row(s); to_frame() has them all")] if more > 0 else []
        notes += [
            _display.paragraph(f"{r.kpi.name}: {r.value.reason}")
            for r in self.rows[:200]
            if isinstance(r.value, Undefined)
        ]
        return _display.card(
            f"Scorecard {self.period}",
            [table, *notes],
            subtitle=f"as of {_display.local_time(self.as_of)}; joint KPIs in bold; attainment is value "
            "over target (target over value when lower is better)",
        )

    def plot(self, *, columns: int = 3) -> Figure:
        r"""Every KPI's trend against its target, one small chart each (needs the ``plot`` extra).

        A line through the previous periods and this one (gaps where a value is undefined), the target as a
        dashed line, and the status in the title.

        Examples:
            >>> from smarketing.testing.fixtures import AS_OF, EXAMPLE_INPUTS, example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> card = sm.kpi.scorecard(plan, example_dataset(), period="2026-10", as_of=AS_OF)
            >>> fig = card.plot()
            >>> fig.axes[0].get_title()
            'MQL to SQL conversion rate\non track'
        """
        if columns < 1:
            raise ValueError(f"columns must be at least 1, not {columns}")
        count = max(len(self.rows), 1)
        rows = -(-count // columns)
        fig, axes = _charts.new(
            rows,
            min(columns, count),
            title=f"Scorecard {self.period}: trend against target",
            height=2.2 * rows,
        )
        for ax, row in zip(axes, self.rows, strict=False):
            periods = [*row.history_periods, row.period]
            values = [float("nan") if v is None else float(v) for v in _series(row)]
            ax.plot(periods, values, marker="o", markersize=3, color=_charts.PALETTE[0])
            if row.target is not None:
                ax.axhline(float(row.target), linestyle="--", color=_charts.PALETTE[5], linewidth=1)
            status = _STATUS_TEXT.get(row.status, row.status)
            name = row.kpi.name + (f" ({row.group})" if row.group is not None else "")
            ax.set_title(f"{name}\n{status}", fontsize=9.0)
            if row.kpi.unit == "ratio":
                _charts.percent_format(ax, "y")
            else:
                _charts.number_format(ax, "y")
                unit = {"money": row.kpi.currency, "money_per_day": f"{row.kpi.currency} per day"}
                ax.set_ylabel(unit.get(row.kpi.unit) or row.kpi.unit, fontsize=8.0)
            ax.tick_params(axis="x", labelsize=7.0, labelrotation=30)
        for ax in axes[len(self.rows) :]:
            ax.set_axis_off()
        return fig


def _plan_parts(kpis: AlignmentPlan | Sequence[KPI]) -> tuple[list[KPI], AlignmentPlan | None]:
    if isinstance(kpis, Sequence):
        return list(kpis), None
    return list(kpis.kpis), kpis


def scorecard(
    kpis: AlignmentPlan | Sequence[KPI],
    data: Any,
    *,
    period: str,
    as_of: datetime,
    by: str | None = None,
    previous_periods: int = 3,
    fx: FxTable | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    tz: str | None = None,
    metrics: MetricRegistry | None = None,
) -> Scorecard:
    """Compute KPIs for a period with targets, statuses and trends.

    Args:
        kpis: An :class:`~smarketing.plan.AlignmentPlan` (its KPIs; its journey says which stages are MQL,
            SQL, handoff...; its teams which are marketing) or KPIs alone (stage ids are then taken to be
            the stage kinds: ``mql``, ``sal``, ``sql``, ``opportunity``).
        data: A :class:`~smarketing.records.Dataset` of CRM records.
        period: The period, e.g. ``"2026-10"``; each KPI is measured over its own period containing it (a
            quarterly KPI over ``2026-Q4``).
        as_of: Facts after this instant are ignored (no clocks are read).
        by: Split each KPI by a lead column (``persona``, ``campaign``, ``region``, ``source``) or by
            ``team`` (the team of the lead's owner).
        previous_periods: How many earlier periods the trend shows.
        fx: Exchange rates for money in other currencies than the KPI's.
        inputs: Input series such as ``marketing_spend``: metric name -> period label -> value.
        tz: Time zone periods start in; default the plan's SLA calendar zone, else UTC.
        metrics: The metric registry (default: built-ins and installed plugins).

    Returns:
        The scorecard, joint KPIs first.

    Raises:
        FormulaError: A KPI formula is invalid.
        CurrencyMismatchError: Money in another currency than the KPI's and no ``fx``.

    Examples:
        >>> from smarketing.kpi import catalog, scorecard
        >>> from smarketing.testing.fixtures import AS_OF, example_dataset
        >>> kpis = [catalog.kpi("win_rate", target="0.25"), catalog.kpi("mql_to_sql", target="0.45")]
        >>> card = scorecard(kpis, example_dataset(), period="2026-10", as_of=AS_OF, previous_periods=1)
        >>> [(r.kpi.id, str(r.value), r.status) for r in card.rows]
        [('mql_to_sql', '0.4000', 'off_track'), ('win_rate', '0.5000', 'on_track')]
        >>> card.rows[0].history, card.rows[0].trend
        ((Decimal('1.0000'),), 'worsening')
        >>> card  # doctest: +NORMALIZE_WHITESPACE
        Scorecard 2026-10 (as of 2026-11-01T00:00:00+00:00; * joint)
        kpi           period   value   target  attainment  status    trend
        * mql_to_sql  2026-10  0.4000  0.45    88.9%       off track █▁
          win_rate    2026-10  0.5000  0.25    200.0%      on track   ▁
    """
    kpi_list, plan = _plan_parts(kpis)
    if previous_periods < 0:
        raise ValueError(f"previous_periods must be >= 0, not {previous_periods}")
    registry = MetricRegistry.default() if metrics is None else metrics
    if tz is None:
        tz = plan.sla.calendar.timezone if plan is not None and plan.sla is not None else "UTC"
    base = Window.parse(period)
    compiled = [(kpi, compile_kpi(kpi, metrics=registry)) for kpi in kpi_list]
    default_currency = plan.currency if plan is not None else None
    needs: dict[str | None, tuple[set[str], set[Window]]] = defaultdict(lambda: (set(), set()))
    for kpi, formula in compiled:
        current = Window.containing(kpi.period, base.start)
        names, windows = needs[kpi.currency or default_currency]
        names.update(formula.metrics)
        windows.update(current.shift(-i) for i in range(previous_periods + formula.max_lag + 1))
    values = {
        currency: compute_metrics(
            data,
            names,
            windows=sorted(windows),
            tz=tz,
            as_of=as_of,
            currency=currency,
            fx=fx,
            plan=plan,
            by=by,
            inputs=inputs,
            registry=registry,
        )
        for currency, (names, windows) in needs.items()
    }
    groups = sorted({g for vals in values.values() for (_, g, _) in vals}) if by is not None else [""]
    rows: list[ScorecardRow] = []
    order = sorted(range(len(compiled)), key=lambda i: (not compiled[i][0].is_joint, i))
    for index in order:
        kpi, formula = compiled[index]
        vals = values[kpi.currency or default_currency]
        current = Window.containing(kpi.period, base.start)
        rows.extend(
            _row(kpi, formula, vals, group=group if by else None, current=current, previous=previous_periods)
            for group in groups
        )
    return Scorecard(period=base.label, as_of=as_of, by=by, rows=tuple(rows))


def _row(
    kpi: KPI,
    formula: Formula,
    vals: Mapping[tuple[str, str, Window], Fraction | Undefined],
    *,
    group: str | None,
    current: Window,
    previous: int,
) -> ScorecardRow:
    """One scorecard row: the KPI's value for ``group`` in ``current`` and the ``previous`` periods before.

    Each value is the formula over the metric values ``vals`` (exact, in the KPI's unit), rounded only when
    shown; attainment, status and trend are computed from the exact values.
    """

    def at(window: Window) -> Fraction | Undefined:
        def lookup(name: str, shift: int) -> Fraction | Undefined:
            w = window.shift(-shift)
            return vals.get((name, group or "", w), Undefined(f"no value of {name} for {w.label}"))

        raw = formula.evaluate(lookup)
        return raw if isinstance(raw, Undefined) else _in_unit(raw, kpi)

    exact = [at(current.shift(-i)) for i in range(previous, -1, -1)]
    value = exact[-1]
    shown = [v if isinstance(v, Undefined) else _round(v, kpi) for v in exact]
    attainment = None
    if kpi.target is not None and not isinstance(value, Undefined):
        ratio = _attainment(value, kpi.target, kpi.direction)
        if ratio is not None:
            attainment = _decimal(ratio).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
    trend: Literal["improving", "worsening", "flat"] | None = None
    if len(exact) > 1 and not isinstance(exact[-1], Undefined) and not isinstance(exact[-2], Undefined):
        delta = exact[-1] - exact[-2]
        if delta == 0:
            trend = "flat"
        else:
            trend = "improving" if (delta > 0) == (kpi.direction == "higher_is_better") else "worsening"
    return ScorecardRow(
        kpi=kpi,
        group=group,
        period=current.label,
        value=shown[-1],
        target=kpi.target,
        attainment=attainment,
        status=_status(value, kpi.target, kpi.direction),
        history=tuple(shown[:-1]),
        history_periods=tuple(current.shift(-i).label for i in range(previous, 0, -1)),
        trend=trend,
    )
