"""Disposition data rule (D012): no campaign's leads are rejected by sales above the plan's threshold.

It reads :func:`smarketing.feedback.dispositions` by campaign, computed once per check on the checked frames
over all the data (every stage event and disposition given); on PySpark frames the analysis runs on Spark
and only a judged campaign's first rejected leads are read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from smarketing.feedback import DispositionReport, dispositions
from smarketing.frames import _engine as engine
from smarketing.rules._data import DataFinding, DataRule, RuleData, _data_rule
from smarketing.rules._persona_data import _cached, _rows

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["MIN_HANDED_OFF", "RULES"]

#: A campaign needs at least this many handed-off leads before D012 judges its rejection rate: with 2
#: leads one rejection is 50 %, which says nothing about the campaign.
MIN_HANDED_OFF: Final = 20
#: Rejected leads named per finding.
EXAMPLES: Final = 5


@_data_rule(
    "D012",
    severity="warning",
    title="No campaign's leads are rejected by sales above the plan's threshold",
    rationale="Marketing's quality promise caps the share of one campaign's handed-off leads that sales may "
    "reject (sla.marketing.quality.max_rejection_rate). A campaign above it fills the funnel with leads "
    "sales does not want: its audience, its offer or the MQL rule for its leads needs the joint review. "
    f"Campaigns with fewer than {MIN_HANDED_OFF} handed-off leads are not judged: a rate of two leads is "
    "noise.",
    fix="Run smarketing.feedback.dispositions by campaign to see the campaign's rejection reasons, review "
    "them with sales, and retarget or stop the campaign (or agree a different threshold).",
)
def campaign_rejections(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Each campaign with enough handed-off leads stays at or under ``max_rejection_rate``."""
    quality = plan.sla.marketing.quality if plan.sla is not None else None
    if quality is None or quality.max_rejection_rate is None or not _rows(plan, data, "stage_events"):
        return
    limit = quality.max_rejection_rate
    report: DispositionReport = _cached(
        data, "dispositions_by_campaign", lambda: dispositions(plan, data.sources, by="campaign")
    )
    groups = report.groups
    if groups is None:
        return
    judged = groups.filter(pl.col("campaign").is_not_null() & (pl.col("handed_off") >= MIN_HANDED_OFF))
    for row in judged.iter_rows(named=True):
        campaign, rejected, handed = row["campaign"], row["rejected"], row["handed_off"]
        if Decimal(rejected) <= limit * handed:  # exact: no float between the count and the threshold
            continue
        message = (
            f"campaign {campaign!r}: sales rejected {rejected:,} of its {handed:,} handed-off leads "
            f"({rejected / handed:.1%}); the plan allows at most {float(limit):.1%}"
        )
        yield DataFinding(message, "leads", "campaign", _rejected_examples(report.leads, campaign), rejected)


def _rejected_examples(leads: Any, campaign: str) -> tuple[str, ...]:
    """The first rejected leads of ``campaign`` by id; on Spark (rows kept there) read by one small query."""
    if engine.is_spark(leads):
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        picked = leads.where((F.col("campaign") == campaign) & F.col("rejected")).select("lead_id")
        first = engine.to_polars(picked.orderBy("lead_id").limit(EXAMPLES))
    else:
        first = leads.filter((pl.col("campaign") == campaign) & pl.col("rejected")).head(EXAMPLES)
    return tuple(first.get_column("lead_id").to_list())


RULES: Final[tuple[DataRule, ...]] = (campaign_rejections,)
