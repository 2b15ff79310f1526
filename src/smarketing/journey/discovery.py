"""Discovery: the directly-follows graph of the stages leads really went through."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import networkx as nx

from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.frames import of_kind
from smarketing.journey import _partials
from smarketing.journey._report import duration

__all__ = ["discover"]


def discover(events: Any, *, min_count: int = 1) -> nx.DiGraph[str]:
    """The directly-follows graph of the stages leads really went through.

    Each lead's events are put in time order (ties: stage id, then the stage left) and every two
    consecutive stages give an edge. Nodes are the stages entered, with ``count`` (entries), ``start``
    (leads whose first stage it is) and ``end`` (leads whose last stage it is); edges carry ``count`` and
    ``median`` (the lower median of the time between the two events, a ``timedelta``). Duplicate events are
    dropped first, as :func:`funnel` does. ``graph.graph`` holds ``leads``, ``events``, ``duplicates`` and
    ``from_mismatch``. Nodes and edges are added in sorted order.

    Args:
        events: Stage events, as for :func:`funnel`.
        min_count: Leave out edges seen fewer times (nodes stay).

    Returns:
        A new (unfrozen) ``networkx.DiGraph``.

    Raises:
        DataError: Events without lead id, stage or time; naive times or times outside the years 1900 to
            2199; missing columns.
        ValueError: ``min_count`` below 1.

    Examples:
        >>> from datetime import datetime, timedelta, timezone
        >>> from smarketing.records import StageEvent
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> events = [
        ...     StageEvent(lead_id="a", to="mql", time=t),
        ...     StageEvent(lead_id="a", to="sql", time=t + timedelta(hours=5)),
        ...     StageEvent(lead_id="b", to="mql", time=t),
        ...     StageEvent(lead_id="b", to="sql", time=t + timedelta(hours=2)),
        ...     StageEvent(lead_id="b", to="lost", time=t + timedelta(days=1)),
        ... ]
        >>> g = discover(events)
        >>> sorted(g.edges(data="count"))
        [('mql', 'sql', 2), ('sql', 'lost', 1)]
        >>> g.edges["mql", "sql"]["median"], g.nodes["sql"]
        (datetime.timedelta(seconds=7200), {'count': 2, 'start': 0, 'end': 1})
    """
    if min_count < 1:
        raise DataError(f"must be >= 1, not {min_count}", field="min_count")
    source = of_kind(events, "stage_events") if isinstance(events, Mapping) else events
    # The stages' codes must be the same in every partition: on Spark, all the stages entered, found first.
    stages = None
    if engine.is_spark(source):
        engine.require(source, "stage_events", ("lead_id", "to", "time"))
        stages = engine.distinct(source, "to")
    partials = engine.run(
        events if source is None else source,
        functools.partial(_partials.discover_map, stages=stages),
        _partials.DISCOVERY,
        kind="stage_events",
        key="lead_id",
        required=("lead_id", "to", "time"),
        columns=("lead_id", "from", "to", "time"),
    )
    _, values = _partials.event_counts(partials)
    nodes, edges, medians = (partials.merged(t) for t in ("nodes", "edges", "gaps"))
    graph: nx.DiGraph[str] = nx.DiGraph(
        leads=values.get("leads", 0),
        events=values.get("events", 0),
        duplicates=values.get("duplicates", 0),
        from_mismatch=values.get("from_mismatch", 0),
    )
    for r in nodes.iter_rows(named=True):
        graph.add_node(r["stage"], count=int(r["count"]), start=int(r["start"]), end=int(r["end"]))
    median = {(r["source"], r["target"]): r["d_q0"] for r in medians.iter_rows(named=True)}
    for r in edges.iter_rows(named=True):
        if r["count"] >= min_count:
            edge = (r["source"], r["target"])
            graph.add_edge(*edge, count=int(r["count"]), median=duration(median.get(edge)))
    return graph
