"""Feedback both ways: what sales tells marketing about its leads, as numbers both teams read the same way.

- :func:`dispositions`: rejections and recycles by reason, persona, campaign, owner or week; recycled-to-won;
  time to disposition in business hours; reasons off the plan's list and leads with no disposition.
"""

from smarketing.feedback.dispositions import DispositionReport, dispositions

__all__ = ["DispositionReport", "dispositions"]
