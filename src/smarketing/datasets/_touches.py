"""Marketing and sales touchpoints over each lead's active life."""

from __future__ import annotations

import attrs
import numpy as np
import polars as pl

from smarketing.datasets._columns import US_PER_DAY, ids, lasts, take, times, weighted
from smarketing.datasets._events import Events, first_handoff
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import People, lead_ids
from smarketing.datasets._shape import (
    CAMPAIGN_CHANNELS,
    MARKETING_CHANNELS,
    SALES_CHANNELS,
    SALES_TOUCH_SHARE,
)


def draw_touchpoints(
    rng: np.random.Generator, facts: Facts, people: People, walk: Events, end_us: int
) -> Touches:
    """Marketing and sales touchpoints: 1 to 20 per lead over its active life, the first at creation.

    After the first handoff most touches are sales' (calls and e-mails by the SDR, demos and meetings by
    the account executive); marketing touches carry a campaign per channel and quarter.
    """
    n = people.created.size
    count = 1 + np.minimum(rng.negative_binomial(2, 2 / 5.5, n), 19)  # 1-20, mean about 4.5
    lead = np.repeat(np.arange(n, dtype=np.int64), count)
    start = np.cumsum(count) - count
    position = np.arange(lead.size, dtype=np.int64) - start[lead]
    # Spread the touches over the lead's active life (plus some nurture after): sorted random points from
    # cumulative exponential gaps, the first exactly at creation.
    last_event = np.zeros(n, dtype=np.int64)
    ends = lasts(walk.lead)
    last_event[walk.lead[ends]] = walk.time[ends]
    horizon = np.maximum(last_event, people.created + 30 * US_PER_DAY) + 21 * US_PER_DAY
    span = np.maximum(0, np.minimum(horizon, end_us - 1) - people.created - count)
    gaps = rng.exponential(1.0, lead.size)
    cum = np.cumsum(gaps)
    before = cum - gaps - (cum - gaps)[start][lead]
    total = (cum[start + count - 1] - (cum - gaps)[start]) + rng.exponential(1.0, n)
    when = people.created[lead] + (before / total[lead] * span[lead]).astype(np.int64) + position

    handoff = first_handoff(walk, n)
    channels = [c for c, _ in MARKETING_CHANNELS] + facts.signal_channels
    weights = [w for _, w in MARKETING_CHANNELS] + [0.03] * len(facts.signal_channels)
    marketing = weighted(rng, weights, lead.size)
    sales = weighted(rng, [w for _, w in SALES_CHANNELS], lead.size)
    by_sales = (when >= handoff[lead]) & (rng.random(lead.size) < SALES_TOUCH_SHARE) & (position > 0)
    all_channels = [*channels, *(c for c, _ in SALES_CHANNELS)]
    channel = np.where(by_sales, len(channels) + sales, marketing)
    # Demos and meetings are run by the account executive, calls and e-mails by the SDR.
    people_list = [*facts.marketers, *facts.sdrs, *facts.closers, None]
    closer_touch = by_sales & (sales >= 2)
    owner = np.where(
        by_sales,
        np.where(
            closer_touch,
            len(facts.marketers) + len(facts.sdrs) + people.closer[lead],
            len(facts.marketers) + people.sdr[lead],
        ),
        np.where(
            people.marketer[lead] >= 0,
            rng.integers(0, max(1, len(facts.marketers)), lead.size),
            len(people_list) - 1,
        ),
    )
    # Campaigns are per marketing channel and quarter ("webinar-2026-q3"); organic, referral, web visits
    # and sales touches have none.
    quarter = when.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) // 3
    q0 = int(quarter.min())
    quarters = int(quarter.max()) - q0 + 1
    names: list[str | None] = [
        f"{c}-{1970 + (q0 + q) // 4}-q{(q0 + q) % 4 + 1}" if c in CAMPAIGN_CHANNELS else None
        for c in channels
        for q in range(quarters)
    ]
    campaign = np.where(by_sales, len(names), marketing * quarters + quarter - q0)
    frame = pl.DataFrame(
        {
            "id": ids("T", lead.size, 8),
            "lead_id": lead_ids(people, lead),
            "time": times(when),
            "channel": take(all_channels, channel),
            "team": take([facts.marketing_team, facts.sales_team], by_sales.astype(np.int64)),
            "owner": take(people_list, owner),
            "campaign": take([*names, None], campaign),
        }
    )
    # The first touch (at creation, always by marketing) is the lead's source and campaign.
    return Touches(frame, frame["channel"].gather(start), frame["campaign"].gather(start))


@attrs.frozen
class Touches:
    frame: pl.DataFrame
    source: pl.Series  # per lead
    campaign: pl.Series  # per lead
