"""Joint KPIs: explicit formulas both teams read, a standard catalogue, scorecards, alerts, reverse funnel.

A :class:`KPI` names its owners (teams), a formula over base metrics written as text (``sqls / mqls``), the
unit of the result, which direction is better, a target and the period it is measured over. Formulas are
parsed by a small safe grammar (never ``eval``) with a units algebra, so ``revenue + won`` is rejected when
the plan loads, with the column of the error. :func:`scorecard` computes every KPI from the CRM records for
a period, with its target, status and trend; :func:`alerts` turns a scorecard into alerts;
:func:`targets_from_revenue` works the funnel backwards from a revenue goal.

Examples:
    >>> from smarketing.kpi import KPI
    >>> kpi = KPI(
    ...     id="mql_to_sql",
    ...     name="MQL to SQL rate",
    ...     owners=["marketing", "sales"],
    ...     formula="sqls / mqls",
    ...     unit="ratio",
    ...     direction="higher_is_better",
    ...     target="0.35",
    ...     period="month",
    ... )
    >>> kpi.is_joint, kpi.target
    (True, Decimal('0.35'))
    >>> sorted(compile_kpi(kpi).metrics)
    ['mqls', 'sqls']
    >>> catalog["win_rate"].formula
    'won / (won + lost)'
"""

from __future__ import annotations

import decimal
import html
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypeAlias

import attrs
import polars as pl
from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, MinorUnitCurrency, Number, Period, Text
from smarketing._formula import FUNCTIONS, Dimension, Formula, Undefined
from smarketing._formula import parse_formula as _parse_formula
from smarketing._metrics import ENTRY_POINT_GROUP, Metric, MetricContext, MetricRegistry, compute_metrics
from smarketing._periods import Window
from smarketing.errors import CurrencyMismatchError, FormulaError
from smarketing.money import FxTable, Money

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = [
    "AT_RISK_FROM",
    "Alert",
    "AlertRule",
    "Catalog",
    "Dimension",
    "Direction",
    "ENTRY_POINT_GROUP",
    "FUNCTIONS",
    "Formula",
    "FunnelTargets",
    "KPI",
    "Metric",
    "MetricContext",
    "MetricRegistry",
    "Scorecard",
    "ScorecardRow",
    "Status",
    "Undefined",
    "Unit",
    "alerts",
    "catalog",
    "compile_kpi",
    "parse_formula",
    "revenue_from_leads",
    "scorecard",
    "status_alert",
    "targets_from_revenue",
    "threshold_alert",
    "trend_alert",
]

Unit = Literal["count", "ratio", "money", "days", "hours", "money_per_day"]
Direction = Literal["higher_is_better", "lower_is_better"]
_MONEY_UNITS = ("money", "money_per_day")


class KPI(FrozenModel):
    """A key performance indicator with an explicit formula."""

    id: Id = Field(description="KPI id.")
    name: Text = Field(description="Display name; should be a glossary term.")
    description: str = Field(default="", description="What the KPI tells and why it matters.")
    owners: list[Id] = Field(min_length=1, description="Ids of the teams that own the KPI.")
    formula: Text = Field(description="Formula over base metrics, e.g. 'sqls / mqls'.")
    unit: Unit = Field(description="Unit of the result.")
    currency: MinorUnitCurrency | None = Field(
        default=None, description="ISO 4217 currency, required when the unit is money."
    )
    direction: Direction = Field(description="Which way is better.")
    target: Number | None = Field(default=None, description="Target value per period, in the KPI's unit.")
    period: Period = Field(default="month", description="Measurement period.")

    @model_validator(mode="after")
    def _currency_with_money(self) -> Self:
        if self.unit in _MONEY_UNITS and self.currency is None:
            raise ValueError("a KPI in money needs a currency")
        if self.unit not in _MONEY_UNITS and self.currency is not None:
            raise ValueError(f"currency is only meaningful for money KPIs, not {self.unit!r}")
        return self

    @property
    def is_joint(self) -> bool:
        """Whether more than one team owns the KPI."""
        return len(set(self.owners)) > 1


# --------------------------------------------------------------------------------------------------
# Formulas.


def parse_formula(text: str, *, metrics: MetricRegistry | Mapping[str, Dimension] | None = None) -> Formula:
    """Parse and unit-check a formula over base metrics (the grammar is in the KPI concepts page).

    Args:
        text: The formula, e.g. ``"sqls / mqls"``.
        metrics: The metrics it may read: a registry, a name -> :class:`Dimension` mapping, or None for
            :meth:`MetricRegistry.default` (built-ins and installed plugins).

    Returns:
        The parsed :class:`Formula`, with its unit and the metrics it reads.

    Raises:
        FormulaError: The formula is invalid; the message starts with the column, ``col 8: ...``.

    Examples:
        >>> parse_formula("won / (won + lost)").unit
        Dimension('ratio')
        >>> parse_formula("sqls / sql")
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 8: unknown metric 'sql'; did you mean 'sqls'?
    """
    if metrics is None:
        metrics = MetricRegistry.default()
    known = metrics.dimensions() if isinstance(metrics, MetricRegistry) else metrics
    return _parse_formula(text, metrics=known)


def compile_kpi(kpi: KPI, *, metrics: MetricRegistry | Mapping[str, Dimension] | None = None) -> Formula:
    """Parse a KPI's formula and check that its unit is the KPI's unit.

    Money and durations may be per lead or deal (``revenue / won`` is money); a ``ratio`` KPI needs a
    dimensionless formula and a ``count`` KPI a count. ``money_per_day`` is money over a duration.

    Raises:
        FormulaError: The formula is invalid or its unit is not the KPI's.

    Examples:
        >>> k = catalog.kpi("win_rate", unit="count")
        >>> compile_kpi(k)
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 1: the formula gives a ratio, but the KPI's unit is 'count'
    """
    formula = parse_formula(kpi.formula, metrics=metrics)
    if not formula.accepts(kpi.unit):
        raise FormulaError(
            f"the formula gives {formula.unit.describe()}, but the KPI's unit is {kpi.unit!r}",
            formula=kpi.formula,
            col=1,
        )
    return formula


# --------------------------------------------------------------------------------------------------
# Catalogue.

_J = ("marketing", "sales")
_M = ("marketing",)
_S = ("sales",)
_HI: Direction = "higher_is_better"
_LO: Direction = "lower_is_better"

# id, name, formula, unit, direction, owners, description.
_CATALOG: Final[tuple[tuple[str, str, str, Unit, Direction, tuple[str, ...], str], ...]] = (
    ("mql_volume", "MQL volume", "mqls", "count", _HI, _M, "Leads that reached the MQL stage in the period."),
    ("lead_to_mql", "Lead to MQL rate", "mqls / leads", "ratio", _HI, _M,
     "MQLs over new leads in the period: how much of the top of the funnel marketing qualifies."),
    ("mql_to_sal", "MQL to SAL rate", "sals / mqls", "ratio", _HI, _J,
     "Share of MQLs that sales accepted: marketing's lead quality as sales sees it."),
    ("sal_to_sql", "SAL to SQL rate", "sqls / sals", "ratio", _HI, _S,
     "Share of accepted leads that sales qualified."),
    ("sql_to_opportunity", "SQL to opportunity rate", "opportunities / sqls", "ratio", _HI, _S,
     "Share of qualified leads that became opportunities."),
    ("opportunity_to_won", "Opportunity to won rate", "won / opportunities", "ratio", _HI, _S,
     "Deals won over new opportunities in the period."),
    ("mql_to_sql", "MQL to SQL rate", "sqls / mqls", "ratio", _HI, _J,
     "Cumulative: share of MQLs that became sales qualified leads; the joint quality measure."),
    ("lead_to_sql", "Lead to SQL rate", "sqls / leads", "ratio", _HI, _J,
     "Cumulative: SQLs over new leads in the period."),
    ("mql_to_won", "MQL to won rate", "won / mqls", "ratio", _HI, _J,
     "Cumulative: deals won over MQLs in the period."),
    ("lead_to_won", "Lead to won rate", "won / leads", "ratio", _HI, _J,
     "Cumulative: deals won over new leads in the period."),
    ("win_rate", "Win rate", "won / (won + lost)", "ratio", _HI, _S, "Won deals over closed deals."),
    ("pipeline_velocity", "Pipeline velocity",
     "opportunities * avg_deal_size * (won / (won + lost)) / cycle_days", "money_per_day", _HI, _J,
     "Revenue the pipeline is expected to produce per day: opportunities x deal size x win rate / cycle."),
    ("lead_velocity_rate", "Lead velocity rate", "(mqls - lag(mqls, 1)) / lag(mqls, 1)", "ratio", _HI, _M,
     "Growth of MQLs over the previous period: a leading indicator of future revenue."),
    ("new_revenue", "New revenue", "revenue", "money", _HI, _J, "Won deal amounts net of discount."),
    ("average_deal_size", "Average deal size", "avg_deal_size", "money", _HI, _S,
     "Mean won deal amount net of discount."),
    ("sales_cycle", "Sales cycle length", "cycle_days", "days", _LO, _S,
     "Mean days from deal creation to close, of deals won in the period."),
    ("cac", "Customer acquisition cost", "(marketing_spend + sales_spend) / won", "money", _LO, _J,
     "Marketing and sales cost per won customer (spend given as input series)."),
    ("ltv", "Customer lifetime value", "avg_deal_size * gross_margin / annual_churn_rate", "money", _HI, _S,
     "Gross margin a customer brings over its lifetime, taking deal amounts as annual contract values."),
    ("ltv_to_cac", "LTV to CAC ratio",
     "(avg_deal_size * gross_margin / annual_churn_rate) / ((marketing_spend + sales_spend) / won)",
     "ratio", _HI, _J, "Lifetime value over acquisition cost; 3 or more is the usual rule of thumb."),
    ("cac_payback", "CAC payback period",
     "(marketing_spend + sales_spend) / won / (avg_deal_size * gross_margin) * days(365)", "days", _LO, _J,
     "Days of gross margin needed to earn back a customer's acquisition cost (annual deal amounts)."),
    ("marketing_sourced_pipeline_lead_source", "Marketing-sourced pipeline (lead source)",
     "sourced_pipeline_lead_source", "money", _HI, _J,
     "New pipeline whose lead's original source is a marketing channel."),
    ("marketing_sourced_pipeline_first_touch", "Marketing-sourced pipeline (first touch)",
     "sourced_pipeline_first_touch", "money", _HI, _J,
     "New pipeline whose lead's first touchpoint was made by marketing."),
    ("marketing_sourced_pipeline_before_acceptance", "Marketing-sourced pipeline (touch before acceptance)",
     "sourced_pipeline_before_acceptance", "money", _HI, _J,
     "New pipeline whose lead marketing touched before sales accepted it."),
    ("marketing_influenced_pipeline", "Marketing-influenced pipeline", "influenced_pipeline", "money",
     _HI, _J,
     "New pipeline whose lead marketing touched at any time before the deal was created."),
    ("pipeline_created", "Pipeline created", "pipeline_value", "money", _HI, _J,
     "Amounts of the deals created in the period."),
    ("lead_response_time", "Lead response time", "first_response_hours", "hours", _LO, _S,
     "Median business hours from handoff to the first sales response, on the SLA's calendar."),
    ("sla_compliance", "SLA compliance", "sla_compliance", "ratio", _HI, _S,
     "Share of decided first responses to handed-off leads that met the SLA target."),
    ("disposition_coverage", "Disposition coverage", "disposition_coverage", "ratio", _HI, _J,
     "Share of handed-off leads past their disposition deadline that got an agreed reason on time."),
    ("share_never_worked", "Share of leads never worked", "never_worked / handed_off", "ratio", _LO, _J,
     "Handed-off leads with no sales activity since the handoff, over all handed-off leads."),
    ("funnel_leakage", "Funnel leakage", "(disqualified + recycled) / handed_off", "ratio", _LO, _J,
     "Leads disqualified or recycled to nurture, over leads handed off in the period."),
)  # fmt: skip

#: The three definitions of marketing-sourced pipeline, by name.
SOURCED_DEFINITIONS: Final = ("lead_source", "first_touch", "before_acceptance")


class Catalog(Mapping[str, KPI]):
    """The standard KPI definitions, ready to put in a plan.

    ``catalog["win_rate"]`` is a :class:`KPI` (money KPIs in EUR, no target); :meth:`kpi` changes any field,
    e.g. the currency or the target. The marketing-sourced pipeline comes in three common definitions,
    selectable by name with :meth:`marketing_sourced_pipeline`.

    Examples:
        >>> catalog["win_rate"].owners
        ['sales']
        >>> catalog.kpi("cac", currency="USD", target="1200").currency
        'USD'
        >>> catalog.marketing_sourced_pipeline("first_touch").formula
        'sourced_pipeline_first_touch'
    """

    def __init__(self, currency: str = "EUR") -> None:
        self._currency = currency
        self._ids = [entry[0] for entry in _CATALOG]

    def __getitem__(self, kpi_id: str) -> KPI:
        for id_, name, formula, unit, direction, owners, description in _CATALOG:
            if id_ == kpi_id:
                return KPI(
                    id=id_,
                    name=name,
                    description=description,
                    owners=list(owners),
                    formula=formula,
                    unit=unit,
                    currency=self._currency if unit in _MONEY_UNITS else None,
                    direction=direction,
                )
        raise KeyError(kpi_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def kpi(self, kpi_id: str, **changes: Any) -> KPI:
        """The catalogue KPI ``kpi_id`` with ``changes`` applied (validated like a plan KPI).

        Raises:
            KeyError: ``kpi_id`` is not in the catalogue.
            pydantic.ValidationError: A change is invalid.
        """
        return KPI.model_validate({**self[kpi_id].model_dump(), **changes})

    def marketing_sourced_pipeline(self, definition: str = "lead_source", **changes: Any) -> KPI:
        """Marketing-sourced pipeline by one of :data:`SOURCED_DEFINITIONS`.

        ``lead_source``: the lead's original source is a marketing channel (a channel marketing teams touch
        leads on). ``first_touch``: the lead's first touchpoint was marketing's. ``before_acceptance``:
        marketing touched the lead before sales accepted it (or before the deal, if never accepted).
        """
        if definition not in SOURCED_DEFINITIONS:
            raise ValueError(
                f"unknown definition {definition!r}; choose one of {', '.join(SOURCED_DEFINITIONS)}"
            )
        return self.kpi(f"marketing_sourced_pipeline_{definition}", **changes)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} KPIs)"


#: The standard KPI catalogue.
catalog: Final = Catalog()


# --------------------------------------------------------------------------------------------------
# Scorecards.

Status = Literal["on_track", "at_risk", "off_track", "no_target", "undefined"]

#: Attainment from which a KPI below target is "at risk" rather than "off track" (90% of target).
AT_RISK_FROM: Final = Decimal("0.9")

_PLACES = Decimal("0.0001")
# Products of decimals are exact with enough digits; divisions are rounded once, at a fixed precision
# that does not depend on the thread's decimal context.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact, decimal.InvalidOperation])
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
        head = "".join(
            f"<th>{h}</th>"
            for h in ("KPI", "owners", "group", "period", "value", "target", "status", "trend")
        )
        body = []
        for r in self.rows[:200]:
            value = (
                f'<span title="{html.escape(r.value.reason)}">undefined</span>'
                if isinstance(r.value, Undefined)
                else html.escape(f"{r.value} {r.kpi.currency or ''}".strip())
            )
            cells = [
                f"<b>{html.escape(r.kpi.name)}</b>" if r.kpi.is_joint else html.escape(r.kpi.name),
                html.escape(", ".join(r.kpi.owners)),
                html.escape(r.group or ""),
                html.escape(r.period),
                value,
                "" if r.target is None else html.escape(str(r.target)),
                _STATUS_TEXT[r.status],
                _svg_sparkline(_series(r)),
            ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        caption = html.escape(f"Scorecard {self.period} (as of {self.as_of.isoformat()}); joint KPIs in bold")
        return f"<table><caption>{caption}</caption><tr>{head}</tr>{''.join(body)}</table>"


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


# --------------------------------------------------------------------------------------------------
# Alerts.


@attrs.frozen
class Alert:
    """Something on a scorecard that someone should act on; delivering it is the caller's job.

    Attributes:
        kpi: The KPI id.
        group: The scorecard group, if any.
        period: The period label.
        kind: ``status``, ``threshold`` or ``trend``.
        severity: ``warning`` or ``critical``.
        message: One line for a chat message or an e-mail subject.
    """

    kpi: str
    group: str | None
    period: str
    kind: Literal["status", "threshold", "trend"]
    severity: Literal["warning", "critical"]
    message: str


#: A rule looks at one scorecard row and returns an alert or None.
AlertRule: TypeAlias = Callable[[ScorecardRow], Alert | None]


def _where(row: ScorecardRow) -> str:
    return f"{row.kpi.name}" + (f" [{row.group}]" if row.group is not None else "") + f" {row.period}"


def status_alert(*, kpis: Sequence[str] | None = None) -> AlertRule:
    """Alert on KPIs off track (critical) or at risk (warning).

    Examples:
        >>> from smarketing.testing.fixtures import AS_OF, example_dataset
        >>> kpi = catalog.kpi("new_revenue", target="600000")
        >>> card = scorecard([kpi], example_dataset(), period="2026-10", as_of=AS_OF)
        >>> [a.message for a in alerts(card, [status_alert()])]
        ['New revenue 2026-10 is off track: 24000.00 EUR against 600000 (4.0%)']
    """

    def rule(row: ScorecardRow) -> Alert | None:
        if kpis is not None and row.kpi.id not in kpis:
            return None
        if row.status not in ("off_track", "at_risk") or isinstance(row.value, Undefined):
            return None
        unit = f" {row.kpi.currency}" if row.kpi.currency else ""
        share = f" ({row.attainment * 100:.1f}%)" if row.attainment is not None else ""
        return Alert(
            kpi=row.kpi.id,
            group=row.group,
            period=row.period,
            kind="status",
            severity="critical" if row.status == "off_track" else "warning",
            message=f"{_where(row)} is {_STATUS_TEXT[row.status]}: "
            f"{row.value}{unit} against {row.target}{share}",
        )

    return rule


def threshold_alert(
    kpi: str,
    *,
    below: Decimal | int | str | None = None,
    above: Decimal | int | str | None = None,
    severity: Literal["warning", "critical"] = "warning",
) -> AlertRule:
    """Alert when a KPI's value is below ``below`` or above ``above`` (in the KPI's unit).

    Examples:
        >>> from smarketing.testing.fixtures import AS_OF, example_dataset
        >>> card = scorecard([catalog["mql_to_sql"]], example_dataset(), period="2026-10", as_of=AS_OF)
        >>> [a.message for a in alerts(card, [threshold_alert("mql_to_sql", below="0.6")])]
        ['MQL to SQL rate 2026-10 is 0.4000, below 0.6']
    """
    low = None if below is None else Decimal(below)
    high = None if above is None else Decimal(above)
    if low is None and high is None:
        raise ValueError("give below=, above= or both")

    def rule(row: ScorecardRow) -> Alert | None:
        if row.kpi.id != kpi or isinstance(row.value, Undefined):
            return None
        if low is not None and row.value < low:
            where = f"below {low}"
        elif high is not None and row.value > high:
            where = f"above {high}"
        else:
            return None
        return Alert(
            kpi=kpi,
            group=row.group,
            period=row.period,
            kind="threshold",
            severity=severity,
            message=f"{_where(row)} is {row.value}, {where}",
        )

    return rule


def trend_alert(*, periods: int = 2, kpis: Sequence[str] | None = None) -> AlertRule:
    """Alert when a KPI got worse (by its direction) ``periods`` times in a row, up to this period.

    Examples:
        >>> from smarketing.testing.fixtures import AS_OF, example_dataset
        >>> card = scorecard([catalog["mql_to_sql"]], example_dataset(), period="2026-10", as_of=AS_OF)
        >>> [a.message for a in alerts(card, [trend_alert(periods=1)])]
        ['MQL to SQL rate 2026-10 got worse 1 period(s) in a row: 1.0000 -> 0.4000']
    """
    if periods < 1:
        raise ValueError(f"periods must be >= 1, not {periods}")

    def rule(row: ScorecardRow) -> Alert | None:
        if kpis is not None and row.kpi.id not in kpis:
            return None
        series = [*row.history, row.value][-(periods + 1) :]
        if len(series) < periods + 1 or any(isinstance(v, Undefined) for v in series):
            return None
        numbers = [v for v in series if isinstance(v, Decimal)]
        higher = row.kpi.direction == "higher_is_better"
        worse = all((b < a) if higher else (b > a) for a, b in itertools.pairwise(numbers))
        if not worse:
            return None
        return Alert(
            kpi=row.kpi.id,
            group=row.group,
            period=row.period,
            kind="trend",
            severity="warning",
            message=f"{_where(row)} got worse {periods} period(s) in a row: "
            + " -> ".join(str(v) for v in numbers),
        )

    return rule


def alerts(card: Scorecard, rules: Sequence[AlertRule]) -> list[Alert]:
    """Apply alert rules to every row of a scorecard; rows in scorecard order, rules in the given order.

    Examples:
        >>> from smarketing.testing.fixtures import AS_OF, example_dataset
        >>> kpis = [catalog.kpi("mql_volume", target=400), catalog.kpi("mql_to_sql", target="0.42")]
        >>> card = scorecard(kpis, example_dataset(), period="2026-10", as_of=AS_OF)
        >>> rules = [status_alert(), trend_alert(periods=1)]
        >>> [(a.kpi, a.kind, a.severity) for a in alerts(card, rules)]  # doctest: +NORMALIZE_WHITESPACE
        [('mql_to_sql', 'status', 'warning'), ('mql_to_sql', 'trend', 'warning'),
         ('mql_volume', 'status', 'critical')]
    """
    out: list[Alert] = []
    for row in card.rows:
        for rule in rules:
            alert = rule(row)
            if alert is not None:
                out.append(alert)
    return out


# --------------------------------------------------------------------------------------------------
# Reverse funnel.


@attrs.frozen
class FunnelTargets:
    """What each funnel stage needs per period to reach a revenue goal.

    Attributes:
        goal: The revenue goal.
        average_deal_size: The expected won deal amount.
        deals: Won deals needed: the goal over the deal size, rounded up.
        stages: Stage id -> whole leads needed in that stage, first stage first.
        exact: Stage id -> the unrounded requirement, as a fraction (from the rounded next stage).
    """

    goal: Money
    average_deal_size: Money
    deals: int
    stages: Mapping[str, int]
    exact: Mapping[str, Fraction]

    def to_frame(self) -> pl.DataFrame:
        """One row per stage (first stage first), then ``won``: ``stage, needed``."""
        rows = [*self.stages.items(), ("won", self.deals)]
        return pl.DataFrame(rows, schema={"stage": pl.String(), "needed": pl.Int64()}, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: goal, deal size, deals and stages."""
        return {
            "goal": str(self.goal),
            "average_deal_size": str(self.average_deal_size),
            "deals": self.deals,
            "stages": dict(self.stages),
        }

    def __repr__(self) -> str:
        funnel = ", ".join(f"{k}={v}" for k, v in self.stages.items())
        return f"FunnelTargets(goal={self.goal}, {funnel}, won={self.deals})"


def _rates(conversion_rates: Mapping[str, Decimal | int | str]) -> list[tuple[str, Decimal]]:
    if not conversion_rates:
        raise ValueError("conversion_rates is empty; give each funnel stage's rate to the next stage")
    out = []
    for stage, rate in conversion_rates.items():
        if isinstance(rate, float | bool):
            raise TypeError(
                f"conversion rate of {stage!r} must be a Decimal, int or str, not {type(rate).__name__}"
            )
        value = Decimal(rate)
        if not 0 < value <= 1:
            raise ValueError(f"conversion rate of {stage!r} must be above 0 and at most 1, not {rate}")
        out.append((stage, value))
    return out


def targets_from_revenue(
    goal: Money, *, avg_deal_size: Money, conversion_rates: Mapping[str, Decimal | int | str]
) -> FunnelTargets:
    """The leads each stage needs per period to reach a revenue goal, worked backwards exactly.

    Rounding rule: won deals are the goal over the deal size rounded up; then, from the last stage to the
    first, each stage needs the smallest whole number of leads that, at its conversion rate, is expected to
    give at least the (already whole) number the next stage needs. So every count is a whole number and
    the funnel never falls short because of rounding.

    Args:
        goal: The revenue goal per period.
        avg_deal_size: The expected won deal amount (same currency).
        conversion_rates: Stage id -> share of the stage's leads that reach the next stage, in funnel order
            (as :attr:`smarketing.plan.Targets.conversion_rates`); the last stage's rate is its win rate.

    Raises:
        CurrencyMismatchError: The goal and the deal size are in different currencies.
        ValueError: A rate is not in (0, 1], the mapping is empty, or the deal size is not positive.

    Examples:
        >>> from smarketing.plan import load_plan
        >>> t = load_plan("examples/plan.yaml").targets
        >>> targets_from_revenue(
        ...     t.revenue, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates
        ... )
        FunnelTargets(goal=600000 EUR, mql=446, sal=334, sql=167, opportunity=100, won=25)
    """
    if goal.currency != avg_deal_size.currency:
        raise CurrencyMismatchError(
            f"the goal is in {goal.currency} and the deal size in {avg_deal_size.currency}; convert one first"
        )
    if avg_deal_size.amount <= 0:
        raise ValueError(f"avg_deal_size must be positive, not {avg_deal_size}")
    if goal.amount < 0:
        raise ValueError(f"goal must not be negative, not {goal}")
    deals = math.ceil(Fraction(goal.amount) / Fraction(avg_deal_size.amount))
    needed = deals
    stages: dict[str, int] = {}
    exact: dict[str, Fraction] = {}
    for stage, rate in reversed(_rates(conversion_rates)):
        exact[stage] = needed / Fraction(rate)
        needed = math.ceil(exact[stage])
        stages[stage] = needed
    order = list(conversion_rates)
    return FunnelTargets(
        goal=goal,
        average_deal_size=avg_deal_size,
        deals=deals,
        stages={s: stages[s] for s in order},
        exact={s: exact[s] for s in order},
    )


def revenue_from_leads(
    leads: int,
    *,
    avg_deal_size: Money,
    conversion_rates: Mapping[str, Decimal | int | str],
) -> Money:
    """The revenue expected from ``leads`` entering the first stage of ``conversion_rates``, exactly.

    The inverse of :func:`targets_from_revenue` without rounding: leads x every rate x deal size.

    Examples:
        >>> from smarketing.plan import load_plan
        >>> t = load_plan("examples/plan.yaml").targets
        >>> revenue_from_leads(400, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates)
        Money('540000.000000', 'EUR')
    """
    if isinstance(leads, bool) or not isinstance(leads, int) or leads < 0:
        raise ValueError(f"leads must be a whole number >= 0, not {leads!r}")
    share = Decimal(leads)
    for _, rate in _rates(conversion_rates):
        share = _EXACT.multiply(share, rate)
    return avg_deal_size * share
