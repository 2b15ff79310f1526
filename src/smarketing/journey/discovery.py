"""Discovery: the directly-follows graph of the stages leads really went through."""

from __future__ import annotations

from typing import Any

import networkx as nx

from smarketing.errors import DataError
from smarketing.journey import _kernel
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
    prepared = _kernel.prepare(events, None)
    edges, nodes = _kernel.dfg_tables(prepared)
    names = prepared.stages
    graph: nx.DiGraph[str] = nx.DiGraph(
        leads=prepared.leads,
        events=prepared.rows,
        duplicates=prepared.duplicates,
        from_mismatch=prepared.from_mismatch,
    )
    for r in nodes:
        graph.add_node(names[r["k"]], count=int(r["count"]), start=int(r["start"]), end=int(r["end"]))
    for r in edges:
        if r["count"] >= min_count:
            graph.add_edge(
                names[r["k"]], names[r["next_k"]], count=int(r["count"]), median=duration(r["median"])
            )
    return graph
