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

    A view of frames' :class:`~smarketing.frames._calendar.BusinessClock` (the one business clock of the
    library): positions are business minutes since ``start_us`` (times outside the window count as its
    edges), and a position past ``end_us`` is "never" (int64 max), which every caller drops as after the end.
    """

    def __init__(self, calendar: BusinessCalendar, start_us: int, end_us: int) -> None:
        self.start_us = start_us // US_PER_MINUTE * US_PER_MINUTE
        self.end_us = end_us // US_PER_MINUTE * US_PER_MINUTE
        zone = calendar.zone
        first = datetime.fromtimestamp(start_us / 1e6, UTC).astimezone(zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_us / 1e6, UTC).astimezone(zone).date() + timedelta(days=1)
        try:
            self.clock = BusinessClock(calendar, first, last)
            self.base = int(self.clock.minute_positions(np.array([self.start_us], dtype=np.int64))[0])
            self.total = int(self.business(np.array([self.end_us], dtype=np.int64))[0])
        except ClosedCalendarError:
            self.total = 0
        if self.total == 0:  # no response could ever be timed: refuse, as every other clock does
            raise ClosedCalendarError(
                "synthetic data needs business time, but the SLA calendar (sla.calendar) is not open at all "
                f"between {first} and {last}; give it weekly hours or open dates in those days"
            )
        # Average open minutes of an open day: the length of a "business day" for day-based deadlines.
        self.minutes_per_day = max(60.0, float(self.total) / max(1, self.clock.closes.size))

    def business(self, t_us: I64) -> I64:
        """Business minutes elapsed from the window's start to the minute that contains each time."""
        result: I64 = self.clock.minute_positions(np.clip(t_us, self.start_us, self.end_us)) - self.base
        return result

    def time(self, business: I64) -> I64:
        """The end of the open minute in which ``business`` business minutes have elapsed (at least one).

        Past the end of the window the answer is "never" (int64 max), which every caller drops as too late.
        """
        k = np.maximum(business, 1)
        inside = k <= self.total
        return np.where(inside, self.clock.minute_instants(np.where(inside, k, 1) + self.base), NEVER)

    def after(self, t_us: I64, minutes: F64) -> I64:
        """``t_us`` plus ``minutes`` business minutes (at least one), at minute resolution."""
        return self.time(self.business(t_us) + np.maximum(1, np.ceil(minutes)).astype(np.int64))
