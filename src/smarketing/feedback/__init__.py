"""Closing the loop: what sales and customers tell marketing, and campaigns compared side by side.

- :func:`dispositions`: rejections and recycles by reason, persona, campaign, owner or week; recycled-to-won;
  time to disposition in business hours; reasons off the plan's list and leads with no disposition.
- :func:`compare_campaigns`: two or more campaigns side by side on the same measures (leads, MQL
  acceptance, rejection reasons, pipeline, revenue, cost per stage).
"""

from smarketing.feedback.campaigns import CampaignComparison, compare_campaigns
from smarketing.feedback.dispositions import DispositionReport, dispositions

__all__ = ["CampaignComparison", "DispositionReport", "compare_campaigns", "dispositions"]
