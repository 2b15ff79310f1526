"""Closing the loop between marketing and sales: feedback, the demand waterfall, campaigns side by side.

:func:`waterfall` follows leads down the demand waterfall (inquiry, MQL, SAL, SQL, opportunity, won) by
cohort or by period; :func:`sourced_influenced` splits pipeline and revenue into sourced and influenced.
"""

from __future__ import annotations

from smarketing.feedback.sourced import SourcedInfluenced, SourcedRow, sourced_influenced
from smarketing.feedback.waterfalls import Waterfall, WaterfallRow, waterfall

__all__ = ["SourcedInfluenced", "SourcedRow", "Waterfall", "WaterfallRow", "sourced_influenced", "waterfall"]
