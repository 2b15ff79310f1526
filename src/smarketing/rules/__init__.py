"""Alignment rules: a linter for the plan, and its score.

:func:`check` runs every rule on an :class:`~smarketing.plan.AlignmentPlan` and returns a
:class:`CheckReport`: one :class:`Diagnostic` per finding, with a stable code (``J001``), a severity, the
plan path and ``file:line``, a fix and a link to the rule's docs, plus a 0-100 alignment score broken down
by area. The built-in catalogue covers seven areas of the plan — journey (J), SLA (S), KPIs (K),
rewards (R), personas (P), language (L) and collaboration (C); more rules come from plugins registered
under the ``smarketing.rules`` entry-point group. Given CRM data (``check(plan, data=...)``), the data
rules (D) also check that the data speaks the plan's language: its stages, people, teams, reasons and
currencies.

A rule is a small pure function decorated with :func:`rule`; a rule set is a list of them.

Examples:
    >>> import smarketing as sm
    >>> report = sm.check(sm.load_plan("examples/misaligned.yaml"))
    >>> report.ok, report.score < 50
    (False, True)
    >>> sorted({d.area for d in report.diagnostics})
    ['collaboration', 'journey', 'kpis', 'language', 'personas', 'rewards', 'sla']
"""

from smarketing.rules._catalogue import BUILTIN_RULES, DATA_RULES, ENGINE_CODES, EngineCode
from smarketing.rules._core import (
    AREA_WEIGHTS,
    AREAS,
    CODE_PATTERN,
    DATA_AREA,
    DATA_WEIGHT,
    DOCS_URL,
    SEVERITIES,
    SEVERITY_PENALTY,
    Finding,
    RuleSpec,
    rule,
)
from smarketing.rules._data import DataFinding, DataRule
from smarketing.rules.engine import ENTRY_POINT_GROUP, PlanRule, check, plugin_rules
from smarketing.rules.report import AreaScore, CheckReport, Diagnostic

__all__ = [
    "AREAS",
    "AREA_WEIGHTS",
    "AreaScore",
    "CODE_PATTERN",
    "CheckReport",
    "DATA_AREA",
    "DATA_WEIGHT",
    "DOCS_URL",
    "DataFinding",
    "DataRule",
    "Diagnostic",
    "ENGINE_CODES",
    "ENTRY_POINT_GROUP",
    "EngineCode",
    "Finding",
    "PlanRule",
    "RuleSpec",
    "SEVERITIES",
    "SEVERITY_PENALTY",
    "builtin_rules",
    "check",
    "data_rules",
    "plugin_rules",
    "rule",
]


# Objects re-exported here say they live here: this is where users import them from, and where the
# API reference documents them.
for _obj in (DataFinding, DataRule, EngineCode, Finding, RuleSpec, rule):
    _obj.__module__ = __name__
del _obj


def builtin_rules() -> tuple[RuleSpec, ...]:
    """The built-in rules, in documentation order.

    Examples:
        >>> [r.code for r in builtin_rules()][:3]
        ['J001', 'J002', 'J003']
    """
    return BUILTIN_RULES


def data_rules() -> tuple[DataRule, ...]:
    """The built-in data rules (area ``data``), in documentation order; they run when ``check`` has data.

    Examples:
        >>> [r.code for r in data_rules()][:3]
        ['D001', 'D002', 'D003']
    """
    return DATA_RULES
