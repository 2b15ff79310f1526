"""Business time in whole minutes: "add N business minutes" is two array searches for any number of rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from smarketing.calendar import BusinessCalendar
from smarketing.datasets._columns import F64, I64, NEVER, US_PER_MINUTE
from smarketing.errors import ClosedCalendarError
from smarketing.frames._calendar import BusinessClock


class BusinessMinutes:
    """The SLA calendar's business time over the generator's window, counted in whole minutes.

    The open minutes come from frames' :class:`~smarketing.frames._calendar.BusinessClock` (the one business
    clock of the library, so holidays, open dates and DST agree with every analysis); here they are laid on a
    minute grid so that both directions are array look-ups. Positions are business minutes since
    ``start_us`` (times outside the window count as its edges); a position past ``end_us`` is "never"
    (int64 max), which every caller drops as after the end.
    """

    def __init__(self, calendar: BusinessCalendar, start_us: int, end_us: int) -> None:
        self.start = start_us // US_PER_MINUTE
        zone = calendar.zone
        first = datetime.fromtimestamp(start_us / 1e6, UTC).astimezone(zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_us / 1e6, UTC).astimezone(zone).date() + timedelta(days=1)
        try:
            clock = BusinessClock(calendar, first, last)
            open_ = clock.open_minutes(start_us, end_us)
        except ClosedCalendarError:
            open_ = np.zeros(0, dtype=np.bool_)
        if not open_.any():  # no response could ever be timed: refuse, as every other clock does
            raise ClosedCalendarError(
                "synthetic data needs business time, but the SLA calendar (sla.calendar) is not open at all "
                f"between {first} and {last}; give it weekly hours or open dates in those days"
            )
        self.cum: I64 = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(open_, dtype=np.int64)])
        # The k-th open minute, so that "when had B business minutes elapsed" is a look-up, not a search.
        self.open_minutes: I64 = np.flatnonzero(open_).astype(np.int64)
        # Average open minutes of an open day: the length of a "business day" for day-based deadlines.
        self.minutes_per_day = max(60.0, float(self.cum[-1]) / max(1, clock.closes.size))

    def business(self, t_us: I64) -> I64:
        """Business minutes elapsed from the window's start to the minute that contains each time."""
        minute = np.clip(t_us // US_PER_MINUTE - self.start, 0, self.cum.size - 1)
        result: I64 = self.cum[minute]
        return result

    def time(self, business: I64) -> I64:
        """The end of the open minute in which ``business`` business minutes have elapsed (at least one).

        Past the end of the window the answer is "never" (int64 max), which every caller drops as too late.
        """
        k = np.maximum(business, 1) - 1
        inside = k < self.open_minutes.size
        minute = self.open_minutes[np.where(inside, k, 0)]
        return np.where(inside, (self.start + minute + 1) * US_PER_MINUTE, NEVER)

    def after(self, t_us: I64, minutes: F64) -> I64:
        """``t_us`` plus ``minutes`` business minutes (at least one), at minute resolution."""
        return self.time(self.business(t_us) + np.maximum(1, np.ceil(minutes)).astype(np.int64))
