"""Closing the loop between marketing and sales: feedback, the demand waterfall, campaigns side by side.

- :func:`customer_feedback`: what customers say (NPS, CSAT, CES scores never mixed, tags) by persona,
  campaign, journey stage and source, and which team has read it.
- :func:`dispositions`: rejections and recycles by reason, persona, campaign, owner or week; recycled-to-won;
  time to disposition in business hours; reasons off the plan's list and leads with no disposition.
- :func:`waterfall` follows leads down the demand waterfall (inquiry, MQL, SAL, SQL, opportunity, won) by
  cohort or by period; :func:`sourced_influenced` splits pipeline and revenue into sourced and influenced.
- :func:`compare_campaigns`: two or more campaigns side by side on the same measures (leads, MQL
  acceptance, rejection reasons, pipeline, revenue, cost per stage).
"""

from __future__ import annotations

from smarketing.feedback.campaigns import CampaignComparison, compare_campaigns
from smarketing.feedback.customer import FeedbackReport, customer_feedback
from smarketing.feedback.dispositions import DispositionReport, dispositions
from smarketing.feedback.sourced import SourcedInfluenced, SourcedRow, sourced_influenced
from smarketing.feedback.waterfalls import Waterfall, WaterfallRow, waterfall

__all__ = [
    "CampaignComparison",
    "DispositionReport",
    "FeedbackReport",
    "SourcedInfluenced",
    "SourcedRow",
    "Waterfall",
    "WaterfallRow",
    "compare_campaigns",
    "customer_feedback",
    "dispositions",
    "sourced_influenced",
    "waterfall",
]
