"""The demo's one told story on top of the synthetic data: a trade fair that sales was not told about.

Synthetic data is even-handed: every campaign brings leads at a steady rate and sales answers each the
same way, so the data rules that look for a campaign gone wrong (D008, D012, D014) have nothing to find.
The demo adds what the alignment guides warn of, on the plan's first campaign that sales was never told
of (no ``announced_on``, no ``meeting``): in one week of it, a fair's badge scans arrive as leads (6 % of
the synthetic leads, over three fair days), marketing passes every one of them to MQL, and sales accepts
one in ten and rejects the rest, mostly as not a fit. What follows is what would follow in a CRM: a lead
spike from a campaign sales was not told about (D014), a campaign whose leads sales rejects above the
SLA's threshold (D012), and overall acceptance pulled under the SLA's minimum (D008).

The added records are built like the synthetic ones (same columns, ids after the last synthetic id) and
from the same seed, so the demo stays byte for byte the same for the same options.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final

import attrs
import numpy as np
import polars as pl

from smarketing.campaigns import Campaign
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

__all__ = ["FAIR_SHARE", "TradeFair", "trade_fair", "with_trade_fair"]

#: Badge scans per synthetic lead.
FAIR_SHARE: Final = 0.06
#: Share of the badge scans sales accepts.
ACCEPTED_SHARE: Final = 0.1
#: The rejection reasons sales gives the rest, with their weights (the first the plan agreed is used
#: when the plan lists none of them).
REJECTIONS: Final = (("not_a_fit", 0.7), ("no_budget", 0.2), ("competitor", 0.1))


@attrs.frozen
class TradeFair:
    """What the story added: the campaign, the week of the fair and the number of badge scans."""

    campaign: Campaign
    week: date
    leads: int
    accepted: int

    def summary(self) -> str:
        return (
            f"plus a story: {self.leads:,} badge scans of {self.campaign.name!r} ({self.campaign.id}) in the "
            f"week of {self.week.isoformat()},\nall made MQL; sales, never told of the campaign, accepted "
            f"{self.accepted:,} (see the check at the end)"
        )


def trade_fair(plan: AlignmentPlan) -> tuple[Campaign, date] | None:
    """The plan's first campaign sales was never told of, and the Monday of its fair week (or None)."""
    for campaign in plan.campaigns:
        if campaign.told_on is None and campaign.start is not None and campaign.end is not None:
            at = campaign.start + (campaign.end - campaign.start) * 3 / 4
            return campaign, at - timedelta(days=at.weekday())
    return None


def _path_to(plan: AlignmentPlan, stage: str) -> list[str]:
    """The stages from an entry stage to ``stage`` along forward transitions (the shortest such path)."""
    entries = [s.id for s in plan.journey.entry_stages()]
    paths = {entry: [entry] for entry in entries}
    frontier = list(entries)
    while frontier and stage not in paths:
        following = []
        for source in frontier:
            for t in plan.journey.transitions:
                if t.source == source and t.kind == "progression" and t.to not in paths:
                    paths[t.to] = [*paths[source], t.to]
                    following.append(t.to)
        frontier = following
    return paths.get(stage, [])


def with_trade_fair(plan: AlignmentPlan, data: Dataset, *, seed: int) -> tuple[Dataset, TradeFair | None]:
    """``data`` with the trade fair of the module docstring added, and what was added (None: nothing)."""
    found = trade_fair(plan)
    handoffs = plan.journey.handoffs()
    n = round(FAIR_SHARE * data.leads.height)
    if found is None or not handoffs or n == 0 or data.leads.is_empty():
        return data, None
    campaign, week = found
    handoff = handoffs[0]
    path = _path_to(plan, handoff.source)
    if not path:
        return data, None
    rng = np.random.default_rng([seed, 2026])
    first = datetime.combine(week + timedelta(days=1), datetime.min.time(), UTC)
    # Three fair days, scans between 08:00 and 17:00 UTC; then a day per step to MQL.
    offsets = rng.integers(0, 3, n) * 86_400 + rng.integers(8 * 3600, 17 * 3600, n)
    created = sorted(first + timedelta(seconds=int(s)) for s in offsets)
    last = data.leads.height
    ids = [f"L{last + i + 1:07d}" for i in range(n)]
    sampled = data.leads.sample(n, seed=seed, with_replacement=True)
    # the people who take handed-off leads
    handed = data.stage_events.filter((pl.col("from") == handoff.source) & (pl.col("to") == handoff.to))
    reps = sorted(set(handed.get_column("actor").drop_nulls()))
    owners = [reps[i % len(reps)] for i in range(n)] if reps else sampled["owner"].to_list()
    channel = next(iter(campaign.channel_costs), "events")
    leads = sampled.with_columns(
        id=pl.Series(ids),
        created_at=pl.Series(created, dtype=data.leads.schema["created_at"]),
        source=pl.lit(channel),
        campaign=pl.lit(campaign.id),
        owner=pl.Series(owners),
        status=pl.lit(None, dtype=pl.String),
    )
    accepted = rng.random(n) < ACCEPTED_SHARE
    agreed = plan.sla.sales.disposition.reasons if plan.sla and plan.sla.sales.disposition else []
    reasons = [r for r, _ in REJECTIONS if r in agreed] or [r for r in agreed if r != "qualified"][:1]
    weights = np.array([w for r, w in REJECTIONS if r in reasons] or [1.0])
    events: list[tuple[object, ...]] = []
    dispositions: list[tuple[object, ...]] = []
    activities: list[tuple[object, ...]] = []
    touches: list[tuple[object, ...]] = []
    marketers = sorted(set(data.touchpoints.filter(pl.col("team") == "marketing")["owner"].drop_nulls()))
    for i, (lead, at, owner) in enumerate(zip(ids, created, owners, strict=True)):
        source = None
        for step, stage in enumerate(path):
            events.append((lead, source, stage, at + timedelta(days=step), None))
            source = stage
        mql_at = at + timedelta(days=len(path) - 1)
        answer = mql_at + timedelta(hours=20)
        marketer = marketers[i % len(marketers)] if marketers else None
        touches.append((f"T9{last + i + 1:08d}", lead, at, channel, "marketing", marketer, campaign.id))
        call = (f"ACT9{last + i + 1:08d}", lead, owner, answer + timedelta(hours=1), "call", "connected")
        activities.append(call)
        if accepted[i]:  # accepted, then called
            events.append((lead, handoff.source, handoff.to, answer, owner))
        elif reasons:  # called, then rejected
            reason = reasons[int(rng.choice(len(reasons), p=weights / weights.sum()))]
            dispositions.append((lead, reason, answer + timedelta(hours=2), owner, "badge scan at the fair"))

    def grown(frame: pl.DataFrame, rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
        added = pl.DataFrame(rows, schema=frame.schema, orient="row")
        return pl.concat([frame, added], how="vertical")

    bigger = Dataset(
        accounts=data.accounts,
        leads=pl.concat([data.leads, leads.select(data.leads.columns)]),
        touchpoints=grown(data.touchpoints, touches),
        stage_events=grown(data.stage_events, events),
        activities=grown(data.activities, activities),
        deals=data.deals,
        dispositions=grown(data.dispositions, dispositions),
        feedback=data.feedback,
    )
    return bigger, TradeFair(campaign, week, n, int(accepted.sum()))
