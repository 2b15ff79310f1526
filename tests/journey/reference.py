"""A small, readable, pure-Python reference of the journey analytics, for differential tests only.

It states each rule of smarketing.journey the plainest way (one lead at a time, loops and dicts), so the
columnar kernels can be checked against it with Hypothesis. It is never used in production.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import networkx as nx

from smarketing.calendar import BusinessCalendar
from smarketing.journey import JourneyMap
from smarketing.records import StageEvent

LOST = {"lost", "disqualified"}


def lower_quantile(values: Sequence[timedelta], q: float) -> timedelta | None:
    """The value at index floor(q * (n - 1)) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def sequences(
    events: Sequence[StageEvent], stages: Sequence[str], *, as_of: datetime | None = None
) -> tuple[dict[str, list[StageEvent]], dict[str, int]]:
    """Each lead's events in the documented order, duplicates removed; and the counts."""
    rank = {s: i for i, s in enumerate(stages)}
    unknown = len(stages)

    def key(e: StageEvent) -> tuple[datetime, int, int]:
        source = -1 if e.source is None else rank.get(e.source, unknown)
        return (e.time, rank.get(e.to, unknown), source)

    kept = [e for e in events if as_of is None or e.time <= as_of]
    by_lead: dict[str, list[StageEvent]] = defaultdict(list)
    for e in kept:
        by_lead[e.lead_id].append(e)
    out: dict[str, list[StageEvent]] = {}
    duplicates = mismatch = 0
    for lead, evs in sorted(by_lead.items()):
        ordered = sorted(evs, key=key)
        unique: list[StageEvent] = []
        for e in ordered:
            if unique and key(unique[-1]) == key(e):
                duplicates += 1
            else:
                unique.append(e)
        for before, after in pairwise(unique):
            if after.source is not None and rank.get(after.source, unknown) != rank.get(before.to, unknown):
                mismatch += 1
        out[lead] = unique
    counts = {
        "events": len(events),
        "after_as_of": len(events) - len(kept),
        "duplicates": duplicates,
        "from_mismatch": mismatch,
        "unknown": sum(1 for evs in out.values() for e in evs if e.to not in rank),
    }
    return out, counts


def funnel(
    jm: JourneyMap,
    events: Sequence[StageEvent],
    *,
    steps: Sequence[str],
    mode: str,
    as_of: datetime | None = None,
    calendar: BusinessCalendar | None = None,
) -> dict[str, dict[str, Any]]:
    """Per step: reached, entries, reentered, advanced, moved_on, recycled, lost, open, t50, t90.

    With a calendar also b50 and b90: the same quantiles of the business time of each stay, from the
    calendar's scalar ``elapsed``.
    """
    ids = [s.id for s in jm.stages]
    lost = {s.id for s in jm.stages if s.terminal in LOST}
    leads, _ = sequences(events, ids, as_of=as_of)
    out = {s: Counter[str]() for s in steps}
    durations: dict[str, list[timedelta]] = {s: [] for s in steps}
    business: dict[str, list[timedelta]] = {s: [] for s in steps}
    for evs in leads.values():
        path = [e for e in evs if e.to in ids]  # unknown stages are set aside
        counted: dict[int, int] = {}  # step index -> position in path of the counted entry
        if mode == "any":
            for j, stage in enumerate(steps):
                where = [i for i, e in enumerate(path) if e.to == stage]
                if where:
                    counted[j] = where[0]
        else:
            after = -1
            for j, stage in enumerate(steps):
                where = [i for i, e in enumerate(path) if e.to == stage and i > after]
                if not where:
                    break
                counted[j] = after = where[0]
        for j, i in counted.items():
            stage = steps[j]
            c = out[stage]
            c["reached"] += 1
            entries = sum(1 for e in path if e.to == stage)
            c["entries"] += entries
            c["reentered"] += entries > 1
            if j + 1 < len(steps):
                c["advanced"] += any(e.to == steps[j + 1] for e in path[i + 1 :])
            if i + 1 == len(path):
                c["open"] += 1
                continue
            nxt = path[i + 1]
            durations[stage].append(nxt.time - path[i].time)
            if calendar is not None:
                business[stage].append(calendar.elapsed(path[i].time, nxt.time))
            if nxt.to in lost:
                c["lost"] += 1
            elif nxt.to in steps and steps.index(nxt.to) <= j:
                c["recycled"] += 1
            else:
                c["moved_on"] += 1
    return {
        s: {
            **{k: out[s][k] for k in ("reached", "entries", "reentered", "advanced", "moved_on")},
            **{k: out[s][k] for k in ("recycled", "lost", "open")},
            "t50": lower_quantile(durations[s], 0.5),
            "t90": lower_quantile(durations[s], 0.9),
            "b50": lower_quantile(business[s], 0.5),
            "b90": lower_quantile(business[s], 0.9),
        }
        for s in steps
    }


def judge(jm: JourneyMap, before: str | None, to: str) -> str:
    """The verdict of one move, by the rules in smarketing.journey.conformance (recycle limits aside)."""
    ids = {s.id for s in jm.stages}
    if to not in ids:
        return "unknown_stage"
    if before is not None and before not in ids:
        return "ok"
    edges = {(t.source, t.to) for t in jm.transitions}
    if before is None:
        return "ok" if to in {s.id for s in jm.entry_stages()} else "skip"
    if (before, to) in edges:
        return "ok"
    if jm.stage(before).terminal is not None:
        return "after_terminal"
    forward: nx.DiGraph[str] = nx.DiGraph()
    forward.add_nodes_from(ids)
    forward.add_edges_from((t.source, t.to) for t in jm.transitions if t.kind != "recycle")
    if to in nx.descendants(forward, before):
        return "skip"
    if before in nx.descendants(forward, to):
        return "regression"
    return "not_in_map"


def conformance(jm: JourneyMap, events: Sequence[StageEvent]) -> dict[str, Any]:
    """Per lead the verdicts; per kind the counts; per team leads, fit and violations."""
    ids = [s.id for s in jm.stages]
    owner = {s.id: s.owner for s in jm.stages}
    limits = {(t.source, t.to): t.max_recycles for t in jm.transitions if t.max_recycles}
    leads, _ = sequences(events, ids)
    per_lead: dict[str, int] = {}
    kinds: Counter[str] = Counter()
    kind_leads: dict[str, set[str]] = defaultdict(set)
    touched: dict[str, set[str]] = defaultdict(set)
    blamed: dict[str | None, set[str]] = defaultdict(set)
    blamed_count: Counter[str | None] = Counter()
    for lead, evs in leads.items():
        bad = 0
        taken: Counter[tuple[str | None, str]] = Counter()
        for i, e in enumerate(evs):
            # the first move is from the event's own "from" when that is a known stage
            first_from = e.source if e.source in owner else None
            before = first_from if i == 0 else evs[i - 1].to
            verdict = judge(jm, before, e.to)
            taken[(before, e.to)] += 1
            if verdict == "ok" and (before, e.to) in limits and taken[(before, e.to)] > limits[before, e.to]:
                verdict = "recycle_limit"
            if e.to in owner:
                touched[owner[e.to]].add(lead)
            if verdict != "ok":
                bad += 1
                kinds[verdict] += 1
                kind_leads[verdict].add(lead)
                team = owner.get(before) if before is not None and before in owner else owner.get(e.to)
                blamed[team].add(lead)
                if team is not None:
                    touched[team].add(lead)
                blamed_count[team] += 1
        per_lead[lead] = bad
    return {
        "per_lead": per_lead,
        "kinds": {k: (kinds[k], len(kind_leads[k])) for k in kinds},
        "teams": {
            team: (len(leads_), len(leads_ - blamed[team]), blamed_count[team])
            for team, leads_ in touched.items()
        },
        "unattributed": (len(blamed[None]), blamed_count[None]),
    }


def dfg(events: Sequence[StageEvent]) -> tuple[dict[tuple[str, str], tuple[int, timedelta]], dict[str, Any]]:
    """Directly-follows edges with count and lower median duration; nodes with count, start, end."""
    stages = sorted({e.to for e in events})
    leads, _ = sequences(events, stages)
    gaps: dict[tuple[str, str], list[timedelta]] = defaultdict(list)
    nodes: dict[str, Counter[str]] = defaultdict(Counter)
    for evs in leads.values():
        for before, after in pairwise(evs):
            gaps[(before.to, after.to)].append(after.time - before.time)
        for e in evs:
            nodes[e.to]["count"] += 1
        nodes[evs[0].to]["start"] += 1
        nodes[evs[-1].to]["end"] += 1
    edges = {pair: (len(g), lower_quantile(g, 0.5)) for pair, g in gaps.items()}
    return {p: (n, d) for p, (n, d) in edges.items() if d is not None}, {
        s: {"count": c["count"], "start": c["start"], "end": c["end"]} for s, c in nodes.items()
    }
