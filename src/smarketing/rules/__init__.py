"""Alignment rules: a linter for the plan, and its score.

:func:`check` runs every rule on an :class:`~smarketing.plan.AlignmentPlan` and returns a
:class:`CheckReport`: one :class:`Diagnostic` per finding, with a stable code (``J001``), a severity, the
plan path and ``file:line``, a fix and a link to the rule's docs, plus a 0-100 alignment score broken down
by area. The built-in catalogue covers seven areas — journey (J), SLA (S), KPIs (K), rewards (R),
personas (P), language (L) and collaboration (C); more rules come from plugins registered under the
``smarketing.rules`` entry-point group.

A rule is a small pure function decorated with :func:`rule`; a rule set is a list of them.

Examples:
    >>> import smarketing as sm
    >>> report = sm.check(sm.load_plan("examples/misaligned.yaml"))
    >>> report.ok, report.score < 50
    (False, True)
    >>> sorted({d.area for d in report.diagnostics})
    ['collaboration', 'journey', 'kpis', 'language', 'personas', 'rewards', 'sla']
"""

from smarketing.rules._catalogue import BUILTIN_RULES, ENGINE_CODES, EngineCode
from smarketing.rules._core import (
    AREA_WEIGHTS,
    AREAS,
    CODE_PATTERN,
    DOCS_URL,
    SEVERITIES,
    SEVERITY_PENALTY,
    Finding,
    RuleSpec,
    rule,
)
from smarketing.rules.engine import ENTRY_POINT_GROUP, PlanRule, check, plugin_rules
from smarketing.rules.report import AreaScore, CheckReport, Diagnostic

__all__ = [
    "AREAS",
    "AREA_WEIGHTS",
    "AreaScore",
    "CODE_PATTERN",
    "CheckReport",
    "DOCS_URL",
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
    "plugin_rules",
    "rule",
]


# Objects re-exported here say they live here: this is where users import them from, and where the
# API reference documents them.
for _obj in (EngineCode, Finding, RuleSpec, rule):
    _obj.__module__ = __name__
del _obj


def builtin_rules() -> tuple[RuleSpec, ...]:
    """The built-in rules, in documentation order.

    Examples:
        >>> [r.code for r in builtin_rules()][:3]
        ['J001', 'J002', 'J003']
    """
    return BUILTIN_RULES
