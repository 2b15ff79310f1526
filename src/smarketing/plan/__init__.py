"""The alignment plan: everything marketing and sales agree on, in one validated document.

:func:`load_plan` reads a plan from a YAML or JSON file, text or a mapping and validates it: the shape of
every part, and every cross-reference (teams, people, stages, personas, KPIs). Any problem is a
:class:`~smarketing.errors.PlanError` that names the place as ``plan.yaml:42: journey.stages[3].owner: ...``.
:func:`dump_plan` writes a plan back; ``load_plan(dump_plan(p)) == p``. :func:`plan_json_schema` gives the
JSON Schema of plan files, for editors and CI.

YAML is read safely and strictly, following YAML 1.2's core schema: only ``true``/``false`` are booleans
(``NO`` stays the country code), numbers with a fraction are read as exact ``Decimal`` (never ``float``),
dates stay text for the models to parse, duplicate keys and aliases (the "billion laughs" bomb) are errors,
and files over :data:`MAX_PLAN_BYTES` are refused. Only the plain tags are read (no ``!!binary``,
``!!timestamp``, ``!!python/...``); a number over 64 characters or that is not finite, and a control
character in any text or key, is an error at its ``file:line: path``, found before the models run. Every
number field then checks its own range and precision (see :mod:`smarketing._limits`). A path that is a
directory, a FIFO or a device is named as such and never read.

Examples:
    >>> plan = load_plan('''
    ... name: Tiny
    ... teams:
    ...   - {id: marketing, name: Marketing, function: marketing}
    ...   - {id: sales, name: Sales, function: sales}
    ... journey:
    ...   stages:
    ...     - {id: mql, name: MQL, owner: marketing, kind: mql}
    ...     - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
    ...   transitions:
    ...     - {from: mql, to: won, kind: handoff}
    ... ''')
    >>> plan.journey.stage("won").owner
    'sales'
    >>> load_plan(dump_plan(plan)) == plan
    True
"""

from smarketing.plan.load import PlanSource, dump_plan, load_plan, plan_json_schema
from smarketing.plan.model import MAX_PLAN_BYTES, AlignmentPlan, Arbiter, Meeting, Targets

__all__ = [
    "AlignmentPlan",
    "Arbiter",
    "MAX_PLAN_BYTES",
    "Meeting",
    "PlanSource",
    "Targets",
    "dump_plan",
    "load_plan",
    "plan_json_schema",
]

#: Plan files larger than this are refused before parsing: 1 MiB, some 70 times the example plan (a
