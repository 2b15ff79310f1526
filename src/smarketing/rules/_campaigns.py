"""Campaign data rule (D014): a lead spike from a campaign sales was not told about.

**The spike test.** New leads are counted per campaign (``leads.campaign``) and week (Monday 00:00 UTC to
the next Monday, by ``created_at``). A week is a spike when it has at least :data:`SPIKE_MIN_LEADS` new
leads **and** at least :data:`SPIKE_FACTOR` times the campaign's baseline: the median of its counts in its
previous weeks with leads (at most :data:`SPIKE_HISTORY` of them), or, in a campaign's first week with
leads, the median count of all campaign-weeks in the data (a new campaign is measured against the usual
campaign week). The floor keeps a jump from 2 to 7 leads quiet; the median keeps one earlier spike from
hiding the next.

**Told.** Sales was told of a campaign when the plan's ``campaigns:`` entry for it has ``announced_on`` or a
``meeting`` (see :attr:`smarketing.campaigns.Campaign.told_on`) on or before the spike week's Monday. A
spike of a campaign the plan does not list, or lists without either, or announced only later, is a finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import polars as pl

from smarketing.rules._data import DataFinding, DataRule, RuleData, _data_rule, scans

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES", "SPIKE_FACTOR", "SPIKE_HISTORY", "SPIKE_MIN_LEADS", "spike_weeks"]

#: A spike week has at least this many new leads of the campaign.
SPIKE_MIN_LEADS: Final = 25
#: ... and at least this many times the campaign's baseline (median weekly count).
SPIKE_FACTOR: Final = 3
#: Previous weeks with leads the campaign's baseline is the median of.
SPIKE_HISTORY: Final = 8


def spike_weeks(leads: pl.DataFrame) -> pl.DataFrame:
    """The spike weeks of each campaign in ``leads`` (``campaign``, ``created_at``), oldest first.

    Columns ``campaign``, ``week`` (its Monday, a date), ``leads`` and ``baseline``; the test is in the
    module docstring.
    """
    if leads.is_empty() or "campaign" not in leads.columns or "created_at" not in leads.columns:
        return _spikes(pl.DataFrame(schema={"campaign": pl.String, "week": pl.Date, "leads": pl.Int64}))
    weekly = (
        leads.filter(pl.col("campaign").is_not_null() & pl.col("created_at").is_not_null())
        .select(
            pl.col("campaign").cast(pl.String),
            week=pl.col("created_at").dt.convert_time_zone("UTC").dt.truncate("1w").dt.date(),
        )
        .group_by("campaign", "week")
        .agg(leads=pl.len().cast(pl.Int64))
    )
    return _spikes(weekly)


def _spikes(weekly: pl.DataFrame) -> pl.DataFrame:
    """The spike weeks among new leads per campaign and week (``campaign``, ``week``, ``leads``)."""
    weekly = weekly.sort("campaign", "week")
    overall = weekly.get_column("leads").median() if len(weekly) else None
    own = pl.col("leads").shift(1).rolling_median(window_size=SPIKE_HISTORY, min_samples=1).over("campaign")
    baseline = pl.coalesce(own, pl.lit(overall, dtype=pl.Float64))
    return (
        weekly.with_columns(baseline=baseline)
        .filter((pl.col("leads") >= SPIKE_MIN_LEADS) & (pl.col("leads") >= SPIKE_FACTOR * pl.col("baseline")))
        .sort("week", "campaign")
    )


@_data_rule(
    "D014",
    severity="warning",
    title="Sales hears of a campaign before its leads arrive",
    rationale="The guides' warning case: marketing launches a campaign, leads pour in, and sales learns of "
    "it from the queue. Reps cannot follow up on a message they have never seen, so the leads are worked "
    "late or badly and the campaign looks worse than it was.",
    fix="Tell sales before launch: give the campaign an entry under 'campaigns:' with 'announced_on' (the "
    "date sales was told) or 'meeting' (the cadence meeting where it was presented).",
)
def spike_announced(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every campaign's lead spike week comes after sales was told of the campaign."""
    leads = scans(plan, data)["leads"]
    if leads.weeks is None or leads.spike_ids is None:
        return
    spikes = _spikes(leads.weeks.with_columns(pl.col("week").cast(pl.Date)))
    examples = leads.spike_ids.with_columns(pl.col("week").cast(pl.Date))
    if spikes.is_empty():
        return
    campaigns = {c.id: (i, c) for i, c in enumerate(plan.campaigns)}
    for campaign, week, count, baseline in spikes.iter_rows():
        index, entry = campaigns.get(campaign, (None, None))
        told = entry.told_on if entry is not None else None
        if told is not None and told <= week:
            continue
        if entry is None:
            why = "the plan has no entry for it under 'campaigns:'"
        elif told is None:
            why = f"campaigns[{index}] has neither 'announced_on' nor 'meeting'"
        else:
            why = f"sales was told only on {told.isoformat()}"
        message = (
            f"campaign {campaign!r} brought {count:,} new leads in the week of {week.isoformat()} "
            f"({count / baseline:.1f} times its usual {baseline:g} a week); {why}"
        )
        ids = (
            examples.filter((pl.col("campaign") == campaign) & (pl.col("week") == week))
            .get_column("id")
            .sort()
        )
        hint = None if index is None else f"Add 'announced_on' or 'meeting' to campaigns[{index}]."
        yield DataFinding(
            message, "leads", "campaign", tuple(ids.cast(pl.String).to_list()), count, hint=hint
        )


RULES: Final[tuple[DataRule, ...]] = (spike_announced,)
