"""Joint KPIs: explicit formulas both teams read, a standard catalogue, scorecards, alerts, reverse funnel.

A :class:`KPI` names its owners (teams), a formula over base metrics written as text (``sqls / mqls``), the
unit of the result, which direction is better, a target and the period it is measured over. Formulas are
parsed by a small safe grammar (never ``eval``) with a units algebra, so ``revenue + won`` is rejected when
the plan loads, with the column of the error. :func:`scorecard` computes every KPI from the CRM records for
a period, with its target, status and trend; :func:`alerts` turns a scorecard into alerts;
:func:`targets_from_revenue` works the funnel backwards from a revenue goal.

The subject reads top-down: :mod:`~smarketing.kpi.model` (the :class:`KPI` a plan holds and the check of
its formula, in the language of ``_formula``), :mod:`~smarketing.kpi.metrics` (the base metrics, their
registry and plugins, and :func:`~smarketing.kpi.metrics.compute_metrics` over the columnar ``_kernel``),
:mod:`~smarketing.kpi.catalogue`, :mod:`~smarketing.kpi.scorecards`, :mod:`~smarketing.kpi.alerting` and
:mod:`~smarketing.kpi.targets`.

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

from smarketing.kpi._formula import FUNCTIONS, Dimension, Formula, Undefined
from smarketing.kpi.alerting import Alert, AlertRule, alerts, status_alert, threshold_alert, trend_alert
from smarketing.kpi.catalogue import SOURCED_DEFINITIONS as SOURCED_DEFINITIONS
from smarketing.kpi.catalogue import Catalog, catalog
from smarketing.kpi.metrics import ENTRY_POINT_GROUP, Metric, MetricContext, MetricRegistry
from smarketing.kpi.model import KPI, Direction, Unit, compile_kpi, computable_kpis, parse_formula
from smarketing.kpi.scorecards import AT_RISK_FROM, Scorecard, ScorecardRow, Status, scorecard
from smarketing.kpi.targets import FunnelTargets, revenue_from_leads, targets_from_revenue

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
    "computable_kpis",
    "parse_formula",
    "revenue_from_leads",
    "scorecard",
    "status_alert",
    "targets_from_revenue",
    "threshold_alert",
    "trend_alert",
]
