"""Customer feedback data rule (D013): feedback that nobody has read.

"Older than" is measured from the data's end: the latest time of any record, feedback included (see
:func:`~smarketing.rules._persona_data.data_end`), so the same data gives the same finding whatever day the
check runs. The rule engine takes no options, so the age is a documented default, :data:`UNREAD_DAYS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from smarketing.rules._data import DataFinding, DataRule, RuleData, _data_rule, _listing, scans
from smarketing.rules._persona_data import data_end
from smarketing.rules._scan import Check, columns_of, scan

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
    feedback = scans(plan, data)["feedback"]
    source = data.sources["feedback"]
    if not feedback.rows or "time" not in columns_of(source):
        return
    ends = [t for t in (data_end(plan, data), feedback.end) if isinstance(t, datetime)]
    if not ends:
        return
    end = max(ends)
    since = end - timedelta(days=UNREAD_DAYS)
    old = scan("feedback", source, [Check("D013", "seen_by", "unread", since=since)]).found.get("D013")
    if old is None:
        return
    first = list(old.first)
    assert isinstance(old.oldest, datetime)
    message = (
        f"{old.rows} feedback older than {UNREAD_DAYS} days at the data's end ({end:%Y-%m-%d}) have not "
        f"been read by any team (empty seen_by), the oldest from {old.oldest:%Y-%m-%d}: "
        f"{_listing(first, old.rows)}"
    )
    yield DataFinding(message, "feedback", "seen_by", tuple(first), old.rows)


RULES: Final[tuple[DataRule, ...]] = (unread,)
