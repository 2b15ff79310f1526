"""Sales follow-up after every handoff: activities timed against the SLA in business time, dispositions."""

from __future__ import annotations

import numpy as np
import polars as pl

from smarketing.datasets._clock import BusinessMinutes
from smarketing.datasets._columns import NEVER, choose, ids, take, times, weighted
from smarketing.datasets._events import Events
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import People, lead_ids
from smarketing.datasets._shape import (
    ACTIVITIES_PER_LEAD,
    ACTIVITY_TYPES,
    BREACH_SHARE,
    DISPOSITION_LATE,
    DISPOSITION_MISSING,
    EARLY_UNREACHABLE,
    FOLLOW_UP_P,
    HANDOFF,
    OUTCOME_P,
    OUTCOMES,
    PROGRESSION,
)


def follow_up(
    rng: np.random.Generator,
    facts: Facts,
    *,
    people: People,
    walk: Events,
    end_us: int,
    clock: BusinessMinutes,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sales activities and dispositions after every handoff."""
    handoffs = np.flatnonzero(walk.kind == HANDOFF)
    lead = walk.lead[handoffs]
    h = handoffs.size
    n = people.created.size
    # What happened next decides the disposition: moved forward (or the handoff itself won the deal) ->
    # the positive reason; recycled, dropped or nothing yet -> one of the others.
    has_next = handoffs + 1 < walk.lead.size
    nxt = np.minimum(handoffs + 1, walk.lead.size - 1)
    forward = has_next & (walk.lead[nxt] == lead) & np.isin(walk.kind[nxt], [PROGRESSION, HANDOFF])
    won = np.array([t == "won" for t in facts.stage_terminal], dtype=np.bool_)
    forward |= won[walk.to[handoffs]]
    reasons = facts.reasons
    others = [i for i in range(len(reasons)) if i != facts.positive_reason] or [facts.positive_reason]
    reason = np.where(forward, facts.positive_reason, np.array(others)[rng.integers(0, len(others), h)])
    unreachable = (reason == facts.unable_reason) & (facts.unable_reason >= 0)

    required = people.min_attempts[lead]
    mean = float(np.clip(ACTIVITIES_PER_LEAD * n / max(1, h), 1.0, 10.0))
    attempts = 1 + rng.binomial(9, (mean - 1) / 9, h)
    early = unreachable & (rng.random(h) < EARLY_UNREACHABLE) & (required >= 2)
    attempts = np.where(unreachable & ~early, np.maximum(attempts, required), attempts)
    attempts = np.where(early, 1 + (rng.random(h) * (required - 1)).astype(np.int64), attempts)
    attempts = np.clip(attempts, 1, 10)

    # First response: most well inside the target, the rest clearly late (margins keep the verdict stable
    # whatever minute rounding an evaluator uses).
    target = people.response_minutes[lead]
    breach = rng.random(h) < BREACH_SHARE
    delay = np.where(breach, target * (1.15 + rng.exponential(1.5, h)), target * rng.uniform(0.05, 0.85, h))
    start = clock.business(walk.time[handoffs])
    row = np.repeat(np.arange(h, dtype=np.int64), attempts)
    first = np.cumsum(attempts) - attempts
    position = np.arange(row.size, dtype=np.int64) - first[row]
    gaps = np.where(position == 0, delay[row], 10 + rng.exponential(0.75 * clock.minutes_per_day, row.size))
    offsets = np.cumsum(np.ceil(gaps).astype(np.int64))
    offsets -= (offsets - np.ceil(gaps).astype(np.int64))[first][row]
    business = start[row] + offsets
    when = clock.time(business) - rng.integers(0, 60, row.size) * 1_000_000
    when = np.maximum(when, walk.time[handoffs][row] + 1_000_000)

    types = np.array(ACTIVITY_TYPES)
    kind = weighted(rng, FOLLOW_UP_P, row.size)
    response = np.array([ACTIVITY_TYPES.index(t) for t in facts.response_types], dtype=np.int64)
    kind = np.where(position == 0, response[rng.integers(0, response.size, row.size)], kind)
    reached = ~unreachable[row]
    kind = np.where(~reached & (kind == 2), 0, kind)  # nobody meets a lead they never reached
    table = np.array([OUTCOME_P[(t, r)] for t in ACTIVITY_TYPES for r in (True, False)], dtype=np.float64)
    outcome = choose(rng, table, kind * 2 + (~reached))
    # A persona's activity signal (e.g. 'business_case_requested') shows up on some good conversations.
    vocabulary = [*OUTCOMES, *dict.fromkeys(o for o in facts.persona_outcome if o)]
    special = np.array(
        [vocabulary.index(o) if o else -1 for o in facts.persona_outcome] + [-1], dtype=np.int64
    )[people.persona[lead][row]]
    good = np.isin(outcome, [OUTCOMES.index("connected"), OUTCOMES.index("held")])
    outcome = np.where(good & (special >= 0) & (rng.random(row.size) < 0.25), special, outcome)

    # A new handoff of the same lead (after a recycle) starts a new cadence: the old one stops there.
    again = np.zeros(h, dtype=np.bool_)
    again[:-1] = lead[1:] == lead[:-1]
    next_handoff = np.where(again, walk.time[handoffs[np.minimum(np.arange(1, h + 1), h - 1)]], NEVER)
    ok = (when < end_us) & (when < next_handoff[row])
    activities = pl.DataFrame(
        {
            "id": ids("ACT", int(ok.sum()), 8),
            "lead_id": lead_ids(people, lead[row][ok]),
            "person": take(facts.sdrs, people.sdr[lead][row][ok]),
            "time": times(when[ok]),
            "type": take(list(types), kind[ok]),
            "outcome": take(vocabulary, outcome[ok]),
        }
    )

    # Dispositions: most inside the deadline, some late, some never; 'unable to reach' after the last attempt.
    deadline = facts.disposition_days * clock.minutes_per_day
    fate = rng.random(h)
    missing = fate < DISPOSITION_MISSING
    late = ~missing & (fate < DISPOSITION_MISSING + DISPOSITION_LATE)
    after = np.where(late, deadline * rng.uniform(1.2, 2.5, h), deadline * rng.uniform(0.1, 0.8, h))
    last_attempt = business[first + attempts - 1] - start
    after = np.where(unreachable, np.maximum(after, last_attempt + 30), after)
    decided = clock.time(start + np.ceil(after).astype(np.int64)) - rng.integers(0, 60, h) * 1_000_000
    decided = np.maximum(decided, walk.time[handoffs] + 1_000_000)
    # A late disposition of one handoff can come after the next handoff's: order by lead, then time.
    kept = np.flatnonzero(~missing & (decided < end_us))
    kept = kept[np.lexsort((decided[kept], lead[kept]))]
    dispositions = pl.DataFrame(
        {
            "lead_id": lead_ids(people, lead[kept]),
            "reason": take(reasons, reason[kept]),
            "time": times(decided[kept]),
            "person": take(facts.sdrs, people.sdr[lead][kept]),
            "note": pl.repeat("", kept.size, dtype=pl.String, eager=True),
        }
    )
    return activities, dispositions
