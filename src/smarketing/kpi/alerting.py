"""Alerts: rules that look at a scorecard's rows and say what someone should act on.

A rule is a callable of one :class:`~smarketing.kpi.ScorecardRow` that returns an :class:`Alert` or None;
:func:`alerts` applies a list of them. Delivering an alert (chat, e-mail) is the caller's job.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Literal, TypeAlias

import attrs

from smarketing.kpi._formula import Undefined
from smarketing.kpi.scorecards import _STATUS_TEXT, Scorecard, ScorecardRow

__all__ = ["Alert", "AlertRule", "alerts", "status_alert", "threshold_alert", "trend_alert"]


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
        >>> from smarketing.kpi import catalog, scorecard
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
        >>> from smarketing.kpi import catalog, scorecard
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
        >>> from smarketing.kpi import catalog, scorecard
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
        >>> from smarketing.kpi import catalog, scorecard
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
