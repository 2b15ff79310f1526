"""Business-time arithmetic on columns: the vectorised form of :class:`~smarketing.calendar.BusinessCalendar`.

The calendar's open intervals over the needed date range become a small table, each interval with the open
time before it (``cum``, microseconds). The *business position* of an instant ``t`` is the open time from
the table's start to ``t``; then

- ``elapsed(a, b) = position(b) - position(a)``;
- ``add(s, d)`` is the earliest instant whose position is ``position(s) + d`` (``s`` itself when ``d`` is 0);
- ``add_days(s, n)`` is the close of the n-th open day after the local date of ``s``.

Positions come from an as-of join of the timestamps with the interval table (the last interval starting at
or before ``t``), instants from an as-of join of positions with the cumulative ends. Both are plain narwhals
lazy joins against a table of a few thousand rows, so they run on the data's engine, per row, with no Python
loop. The scalar methods of the calendar use the same interval list, and the tests check the two forms
against each other with Hypothesis.

Timestamps are ``Int64`` microseconds since the epoch (UTC) here; callers convert with
``dt.timestamp("us")`` and cast back to ``Datetime("us", "UTC")``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from smarketing.calendar import BusinessCalendar

__all__ = ["BusinessClock", "epoch_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float on the way)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class BusinessClock:
    """A calendar's open intervals and open days between two local dates, as lazy tables.

    Args:
        calendar: The business calendar.
        first: First local date covered; every timestamp given to the clock must be on or after it.
        last: Last local date covered; every due instant the clock computes must be on or before it.
    """

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self.calendar = calendar
        self.first = first
        self.last = last
        spans = calendar.open_intervals(first, last)
        starts = [epoch_us(lo) for lo, _ in spans]
        ends = [epoch_us(hi) for _, hi in spans]
        cum: list[int] = []
        total = 0
        for lo, hi in zip(starts, ends, strict=True):
            cum.append(total)
            total += hi - lo
        self.intervals = pl.DataFrame(
            {
                "_cal_start": starts,
                "_cal_end": ends,
                "_cal_cum": cum,
                "_cal_cum_end": [c + (hi - lo) for c, lo, hi in zip(cum, starts, ends, strict=True)],
            },
            schema={
                "_cal_start": pl.Int64,
                "_cal_end": pl.Int64,
                "_cal_cum": pl.Int64,
                "_cal_cum_end": pl.Int64,
            },
        )
        days = calendar.open_days(first, last)
        self.days = pl.DataFrame(
            {
                "_cal_date": [d for d, _ in days],
                "_cal_n": list(range(1, len(days) + 1)),
                "_cal_close": [epoch_us(c) for _, c in days],
            },
            schema={"_cal_date": pl.Date, "_cal_n": pl.Int64, "_cal_close": pl.Int64},
        )

    @classmethod
    def covering(
        cls,
        calendar: BusinessCalendar,
        earliest: datetime,
        latest: datetime,
        *,
        duration: timedelta = timedelta(0),
        days: int = 0,
    ) -> BusinessClock:
        """A clock for timestamps in ``[earliest, latest]`` and due times computed from them.

        The clock reaches ``duration`` of business time and ``days`` business days past ``latest``.
        Due times are monotone in their start, so the ones computed from ``latest`` bound all others.
        """
        zone = calendar.zone
        end = latest
        if duration > timedelta(0):
            end = max(end, calendar.add(latest, duration))
        if days > 0:
            end = max(end, calendar.add_days(latest, days))
        return cls(calendar, earliest.astimezone(zone).date() - _DAY, end.astimezone(zone).date() + _DAY)

    def _table(self, frame: pl.DataFrame) -> nw.LazyFrame[Any]:
        return nw.from_native(frame.lazy())

    def with_position(self, lf: nw.LazyFrame[Any], column: str, out: str) -> nw.LazyFrame[Any]:
        """Add ``out``: the business position (Int64 us) of the Int64-us timestamps in ``column``."""
        t = nw.col(column)
        joined = lf.sort(column).join_asof(
            self._table(self.intervals).select("_cal_start", "_cal_end", "_cal_cum"),
            left_on=column,
            right_on="_cal_start",
            strategy="backward",
        )
        capped = nw.when(t < nw.col("_cal_end")).then(t).otherwise(nw.col("_cal_end"))
        position = (
            nw.when(t.is_null())
            .then(None)
            .when(nw.col("_cal_start").is_null())
            .then(nw.lit(0, nw.Int64))  # before the first open interval
            .otherwise(nw.col("_cal_cum") + capped - nw.col("_cal_start"))
        )
        return joined.with_columns(position.cast(nw.Int64).alias(out)).drop(
            "_cal_start", "_cal_end", "_cal_cum"
        )

    def with_instant(self, lf: nw.LazyFrame[Any], column: str, out: str) -> nw.LazyFrame[Any]:
        """Add ``out``: the earliest Int64-us instant whose business position is ``column`` (positive)."""
        joined = lf.sort(column).join_asof(
            self._table(self.intervals).select("_cal_start", "_cal_cum", "_cal_cum_end"),
            left_on=column,
            right_on="_cal_cum_end",
            strategy="forward",
        )
        instant = nw.col("_cal_start") + nw.col(column) - nw.col("_cal_cum")
        return joined.with_columns(instant.cast(nw.Int64).alias(out)).drop(
            "_cal_start", "_cal_cum", "_cal_cum_end"
        )

    def with_add(self, lf: nw.LazyFrame[Any], column: str, duration: nw.Expr, out: str) -> nw.LazyFrame[Any]:
        """Add ``out``: ``add(column, duration)`` for Int64-us timestamps and durations (not negative)."""
        lf = self.with_position(lf, column, "_cal_pos").with_columns(
            (nw.col("_cal_pos") + duration).alias("_cal_target"), duration.alias("_cal_d")
        )
        lf = self.with_instant(lf, "_cal_target", "_cal_at")
        result = nw.when(nw.col("_cal_d") == 0).then(nw.col(column)).otherwise(nw.col("_cal_at"))
        return lf.with_columns(result.alias(out)).drop("_cal_pos", "_cal_target", "_cal_d", "_cal_at")

    def with_add_days(self, lf: nw.LazyFrame[Any], column: str, days: int, out: str) -> nw.LazyFrame[Any]:
        """Add ``out``: the close (Int64 us) of the ``days``-th open day after the local date of ``column``.

        Missing timestamps give missing closes.
        """
        local = (
            nw.col(column)
            .cast(nw.Datetime("us", "UTC"))
            .dt.convert_time_zone(self.calendar.timezone)
            .dt.date()
        )
        lf = (
            lf.with_columns(local.alias("_cal_local"))
            .sort("_cal_local")
            .join_asof(
                self._table(self.days).select("_cal_date", "_cal_n"),
                left_on="_cal_local",
                right_on="_cal_date",
                strategy="backward",
            )
            .with_columns((nw.col("_cal_n").fill_null(0) + days).alias("_cal_want"))
            .join(
                self._table(self.days).select(nw.col("_cal_n").alias("_cal_want"), "_cal_close"),
                on="_cal_want",
                how="left",
            )
        )
        close = nw.when(nw.col(column).is_null()).then(None).otherwise(nw.col("_cal_close"))
        return lf.with_columns(close.cast(nw.Int64).alias(out)).drop(
            "_cal_local", "_cal_date", "_cal_n", "_cal_want", "_cal_close"
        )

    def with_is_open(self, lf: nw.LazyFrame[Any], column: str, out: str) -> nw.LazyFrame[Any]:
        """Add ``out``: whether the calendar is open at the Int64-us timestamps in ``column``."""
        joined = lf.sort(column).join_asof(
            self._table(self.intervals).select("_cal_start", "_cal_end"),
            left_on=column,
            right_on="_cal_start",
            strategy="backward",
        )
        is_open = (nw.col(column) < nw.col("_cal_end")).fill_null(value=False)
        return joined.with_columns(is_open.alias(out)).drop("_cal_start", "_cal_end")
