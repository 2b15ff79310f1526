"""Customer feedback data rule (D013): feedback that nobody has read.

"Older than" is measured from the data's end: the latest time of any record, feedback included (see
:func:`~smarketing.rules._persona_data.data_end`), so the same data gives the same finding whatever day the
check runs. The rule engine takes no options, so the age is a documented default, :data:`UNREAD_DAYS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import polars as pl

from smarketing.rules._data import SHOWN, DataFinding, DataRule, RuleData, _data_rule, _listing
from smarketing.rules._persona_data import data_end

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES", "UNREAD_DAYS"]

#: Feedback older than this many days with an empty ``seen_by`` is reported: two weeks, one sprint or two
#: of the usual marketing and sales cadence, time enough for either team to have read it.
UNREAD_DAYS: Final = 14


@_data_rule(
    "D013",
    severity="warning",
    title="Customer feedback is read by someone",
    rationale="Customer feedback shapes message and product only when a team reads it; feedback that "
    f"neither marketing nor sales (nor any team) has opened {UNREAD_DAYS} days after it came in is lost "
    "to both.",
    fix="Route new feedback to a team's queue (its 'seen_by' lists the teams that read it), or review the "
    "backlog of unread feedback in the next marketing and sales meeting.",
)
def unread(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Feedback older than :data:`UNREAD_DAYS` at the data's end whose ``seen_by`` is empty."""
    feedback = data.frames.get("feedback")
    if feedback is None or feedback.is_empty() or "time" not in feedback.columns:
        return
    ends = [t for t in (data_end(data), feedback.get_column("time").max()) if isinstance(t, datetime)]
    if not ends:
        return
    end = max(ends)
    seen = pl.col("seen_by").list.len() if "seen_by" in feedback.columns else pl.lit(0)
    old = feedback.filter((pl.col("time") < end - timedelta(days=UNREAD_DAYS)) & (seen.fill_null(0) == 0))
    if old.is_empty():
        return
    ids = old.get_column("id").sort()
    first = ids.head(SHOWN).to_list()
    oldest = old.get_column("time").min()
    assert isinstance(oldest, datetime)
    message = (
        f"{old.height} feedback older than {UNREAD_DAYS} days at the data's end ({end:%Y-%m-%d}) have not "
        f"been read by any team (empty seen_by), the oldest from {oldest:%Y-%m-%d}: "
        f"{_listing(first, ids.len())}"
    )
    yield DataFinding(message, "feedback", "seen_by", tuple(first), old.height)


RULES: Final[tuple[DataRule, ...]] = (unread,)
