"""Closing the loop: what sales and customers tell marketing, and campaigns compared side by side.

:func:`compare_campaigns` puts two or more campaigns side by side on the same measures (leads, MQL
acceptance, rejection reasons, pipeline, revenue, cost per stage).
"""

from smarketing.feedback.campaigns import CampaignComparison, compare_campaigns

__all__ = ["CampaignComparison", "compare_campaigns"]
