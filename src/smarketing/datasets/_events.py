"""The journey walk: every lead moves one step per round, all leads of a round at once.

Then a few leads leave the map, and the events become the stage-events frame.
"""

from __future__ import annotations

import attrs
import numpy as np
import polars as pl

from smarketing.datasets._clock import BusinessMinutes
from smarketing.datasets._columns import F64, I64, NEVER, US_PER_DAY, Mask, firsts, lasts, pad, take, times
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import People, lead_ids
from smarketing.datasets._shape import (
    DEVIATION_SHARE,
    DISQUALIFY,
    DISQUALIFY_DAYS,
    DWELL_DAYS,
    HANDOFF,
    MAX_STEPS,
    NURTURE_FACTOR,
    RECYCLE,
    RECYCLE_DAYS,
    SKIP_SHARE,
)


@attrs.frozen
class Events:
    lead: I64
    source: I64  # stage index, -1 for the first event
    to: I64
    time: I64
    kind: I64


@attrs.frozen
class _Routes:
    """Per stage, the edges out of it by fate and how likely each fate is; per edge, its mean days."""

    fwd_tab: I64  # stages x edges, -1 padded: the forward edges (progression, handoff)
    fwd_n: I64
    rec_tab: I64  # the recycle edges
    rec_n: I64
    fail_tab: I64  # the disqualify (or lost) edges
    fail_n: I64
    rate: F64  # share that moves forward, 0 where there is no forward edge
    cut_rec: F64  # of those that do not move forward: below this recycled,
    cut_fail: F64  # below this dropped, else they stay
    has_out: Mask  # the stage has any edge out
    edge_days: F64  # mean days before each edge is taken


def _routes(facts: Facts) -> _Routes:
    """The journey's edges grouped per stage and fate, as padded tables the walk indexes all leads with."""
    n_stages = len(facts.stage_ids)
    forward: list[list[int]] = [[] for _ in range(n_stages)]
    recycle: list[list[int]] = [[] for _ in range(n_stages)]
    fail: list[list[int]] = [[] for _ in range(n_stages)]
    for e, (src, kind) in enumerate(zip(facts.edge_src.tolist(), facts.edge_kind.tolist(), strict=True)):
        {RECYCLE: recycle, DISQUALIFY: fail}.get(kind, forward)[src].append(e)
    fwd_tab, fwd_n = pad(forward)
    rec_tab, rec_n = pad(recycle)
    fail_tab, fail_n = pad(fail)
    rate = np.where(fwd_n > 0, facts.rate, 0.0)
    # What happens to the leads that do not move forward: recycled, dropped (disqualified or lost) or
    # left where they are. Terminal stages mostly keep their leads.
    terminal = np.array([t is not None for t in facts.stage_terminal])
    w_rec = np.where(rec_n > 0, 0.62, 0.0)
    w_fail = np.where(fail_n > 0, 0.3, 0.0)
    w_stay = np.where(terminal, 4.0, 0.08)
    total = w_rec + w_fail + w_stay
    cut_rec, cut_fail = w_rec / total, (w_rec + w_fail) / total
    has_out = (fwd_n + rec_n + fail_n) > 0
    dwell = np.array([DWELL_DAYS[k] for k in facts.stage_kind], dtype=np.float64)
    edge_days = (
        np.where(
            facts.edge_kind == RECYCLE,
            RECYCLE_DAYS,
            np.where(
                facts.edge_kind == DISQUALIFY,
                np.minimum(DISQUALIFY_DAYS, dwell[facts.edge_src]),
                dwell[facts.edge_src],
            ),
        )
        if facts.edge_src.size
        else np.zeros(0)
    )
    return _Routes(
        fwd_tab, fwd_n, rec_tab, rec_n, fail_tab, fail_n, rate, cut_rec, cut_fail, has_out, edge_days
    )


def walk_journey(
    rng: np.random.Generator, facts: Facts, people: People, end_us: int, clock: BusinessMinutes
) -> Events:
    """The stage events of every lead: its entry, then one step per round, all leads of a round at once.

    Each round every lead still in play moves forward with its stage's rate (boosted by its fit), else is
    recycled, dropped or stays; a recycle taken ``max_recycles`` times drops the lead instead. The step
    takes gamma-distributed days (longer in nurture after a recycle), snapped into business hours where
    sales owns the new stage. A lead whose next step would fall after ``end_us`` stays where it is. The
    events come back sorted by lead, then time.
    """
    n = people.created.size
    routes = _routes(facts)
    n_slots = max(1, int(facts.edge_slot.max(initial=-1)) + 1)
    counts = np.zeros((n, n_slots), dtype=np.int16)
    nurture = np.zeros(n, dtype=np.bool_)

    entry = (
        facts.entry[rng.integers(0, facts.entry.size, n)]
        if facts.entry.size > 1
        else np.full(n, facts.entry[0])
    )
    chunks = [
        (
            np.arange(n, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            entry,
            people.created,
            np.zeros(n, dtype=np.int64),
        )
    ]
    stage = entry.copy()
    now = people.created.copy()
    active = np.arange(n, dtype=np.int64)
    for _ in range(MAX_STEPS):
        active = active[routes.has_out[stage[active]]]
        if active.size == 0:
            break
        s = stage[active]
        m = active.size
        u, pick, u2 = rng.random(m), rng.random(m), rng.random(m)
        # The boost multiplies the odds, so high base rates stay below 1 and the average stays near plan.
        odds = routes.rate[s] / np.maximum(1e-9, 1 - routes.rate[s]) * people.boost[active]
        forward_move = u < np.where(routes.rate[s] >= 1, 1.0, odds / (1 + odds))
        fwd = routes.fwd_tab[
            s, np.minimum((pick * routes.fwd_n[s]).astype(np.int64), routes.fwd_tab.shape[1] - 1)
        ]
        rec = routes.rec_tab[
            s, np.minimum((pick * routes.rec_n[s]).astype(np.int64), routes.rec_tab.shape[1] - 1)
        ]
        drop = routes.fail_tab[
            s, np.minimum((pick * routes.fail_n[s]).astype(np.int64), routes.fail_tab.shape[1] - 1)
        ]
        edge = np.where(
            forward_move,
            fwd,
            np.where(u2 < routes.cut_rec[s], rec, np.where(u2 < routes.cut_fail[s], drop, -1)),
        )
        # A recycle taken max_recycles times is closed: the lead is dropped instead (or stays).
        slot = np.where(edge >= 0, facts.edge_slot[np.maximum(edge, 0)], -1)
        limit = np.where(edge >= 0, facts.edge_max[np.maximum(edge, 0)], -1)
        used = counts[active, np.maximum(slot, 0)]
        exhausted = (slot >= 0) & (limit >= 0) & (used >= limit)
        edge = np.where(exhausted, drop, edge)
        moving = edge >= 0
        active, s, edge = active[moving], s[moving], edge[moving]
        if active.size == 0:
            break
        days = rng.gamma(2.0, routes.edge_days[edge] / 2.0)
        days = np.where(nurture[active] & (facts.edge_kind[edge] != RECYCLE), days * NURTURE_FACTOR, days)
        then = now[active] + np.maximum(60_000_000, (days * US_PER_DAY).astype(np.int64))
        to = facts.edge_dst[edge]
        # People move leads in sales-owned stages during business hours.
        by_sales = facts.stage_sales[to] == 1
        snapped = clock.after(then, rng.random(active.size) * 30)
        then = np.where(by_sales, np.maximum(snapped, then), then)
        ok = then < end_us
        active, s, edge, then, to = active[ok], s[ok], edge[ok], then[ok], to[ok]
        chunks.append((active, s, to, then, facts.edge_kind[edge]))
        slot = facts.edge_slot[edge]
        took_recycle = slot >= 0
        counts[active[took_recycle], slot[took_recycle]] += 1
        nurture[active] = took_recycle
        stage[active] = to
        now[active] = then

    lead, source, to, when, kind = (np.concatenate(parts) for parts in zip(*chunks, strict=True))
    # Each round's chunk is in lead order and rounds are in time order, so a stable sort by lead (which
    # merges the already sorted runs) puts every lead's events in time order.
    order = np.argsort(lead, kind="stable")
    return Events(lead[order], source[order], to[order], when[order], kind[order])


def deviate(rng: np.random.Generator, facts: Facts, walk: Events, end_us: int) -> Events:
    """Make about 4% of leads leave the map: drop a middle event, or add one unmapped move at the end."""
    n_stages = len(facts.stage_ids)
    mapped = np.zeros((n_stages, n_stages), dtype=np.bool_)
    mapped[facts.edge_src, facts.edge_dst] = True
    np.fill_diagonal(mapped, True)
    lead, size = walk.lead, walk.lead.size
    n_leads = int(lead[-1]) + 1
    chosen = rng.random(n_leads) < DEVIATION_SHARE
    skip = chosen & (rng.random(n_leads) < SKIP_SHARE)

    first, last = firsts(lead), lasts(lead)
    # An event can go when its neighbours, joined, make a move the map does not have.
    removable = ~first & ~last
    prev_to = np.roll(walk.to, 1)
    next_to = np.roll(walk.to, -1)
    removable &= ~mapped[prev_to, next_to]
    removable &= skip[lead]
    candidates = np.flatnonzero(removable)
    key = rng.random(candidates.size)
    order = np.lexsort((key, lead[candidates]))
    picked = candidates[order]
    keep_first = np.ones(picked.size, dtype=np.bool_)
    keep_first[1:] = lead[picked][1:] != lead[picked][:-1]
    dropped = picked[keep_first]
    done = np.zeros(n_leads, dtype=np.bool_)
    done[lead[dropped]] = True

    # The rest get one more event from their last stage to a stage the map does not lead to from there:
    # a regression, a jump ahead, or (from a terminal stage) an event after the end of the journey.
    tails = np.flatnonzero(last & chosen[lead] & ~done[lead])
    options = [np.flatnonzero(~mapped[s]) for s in range(n_stages)]
    option_tab, option_n = pad([o.tolist() for o in options])
    here = walk.to[tails]
    tails, here = tails[option_n[here] > 0], here[option_n[here] > 0]
    there = option_tab[here, (rng.random(tails.size) * option_n[here]).astype(np.int64)]
    then = walk.time[tails] + (rng.gamma(2.0, 5.0, tails.size) * US_PER_DAY).astype(np.int64)
    then = np.where(then < end_us, then, walk.time[tails] + np.maximum(1, (end_us - walk.time[tails]) // 2))
    then = np.minimum(then, end_us - 1)
    later = then > walk.time[tails]
    tails, here, there, then = tails[later], here[later], there[later], then[later]

    keep = np.ones(size, dtype=np.bool_)
    keep[dropped] = False
    source = walk.source.copy()
    # The event after a dropped one now leaves from the stage before it.
    source[dropped + 1] = walk.to[dropped - 1]
    out_lead = np.concatenate([lead[keep], lead[tails]])
    out = Events(
        out_lead,
        np.concatenate([source[keep], here]),
        np.concatenate([walk.to[keep], there]),
        np.concatenate([walk.time[keep], then]),
        np.concatenate([walk.kind[keep], np.full(tails.size, -1, dtype=np.int64)]),
    )
    # Kept events are in order and each added one is later than its lead's others: a stable sort by lead.
    order = np.argsort(out.lead, kind="stable")
    return Events(out.lead[order], out.source[order], out.to[order], out.time[order], out.kind[order])


def events_frame(facts: Facts, people: People, events: Events) -> pl.DataFrame:
    stages = facts.stage_ids
    # Sales moves are made by the lead's SDR, deal stages and closes by its account executive.
    closing = np.array(
        [
            k in ("opportunity", "customer") or t in ("won", "lost")
            for k, t in zip(facts.stage_kind, facts.stage_terminal, strict=True)
        ]
    )
    by_sales = facts.stage_sales[events.to] == 1
    actors = [*facts.sdrs, *facts.closers, None]
    actor = np.where(
        by_sales,
        np.where(closing[events.to], len(facts.sdrs) + people.closer[events.lead], people.sdr[events.lead]),
        len(actors) - 1,
    )
    return pl.DataFrame(
        {
            "lead_id": lead_ids(people, events.lead),
            "from": take([*stages, None], np.where(events.source < 0, len(stages), events.source)),
            "to": take(stages, events.to),
            "time": times(events.time),
            "actor": take(actors, actor),
        }
    )


def first_handoff(walk: Events, n: int) -> I64:
    """Per lead, the time of its first handoff (int64 max for none)."""
    handoff = np.full(n, NEVER, dtype=np.int64)
    at = np.flatnonzero(walk.kind == HANDOFF)
    at = at[firsts(walk.lead[at])]
    handoff[walk.lead[at]] = walk.time[at]
    return handoff
