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

# The subject, top-down: model (the map people write in the plan; _draw draws it), then one module per
# analysis of stage events against it: funnels, conformance_check, discovery, and map_diff (two maps);
# counts (what reading the events found, in every report); _kernel (the columnar kernels, private) and
# _report (the number formats the reports share, private). The modules are not named after the functions
# they hold, so that ``smarketing.journey.funnel`` is always the function, never a module.
from smarketing.journey.conformance_check import (
    ConformanceReport,
    Move,
    TeamFitness,
    Violation,
    ViolationKind,
    conformance,
)
from smarketing.journey.counts import EventCounts
from smarketing.journey.discovery import discover
from smarketing.journey.funnels import FunnelMode, FunnelReport, FunnelRow, funnel
from smarketing.journey.map_diff import Change, JourneyDiff, diff
from smarketing.journey.model import (
    JourneyMap,
    Stage,
    StageKind,
    Terminal,
    Transition,
    TransitionKind,
)

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
