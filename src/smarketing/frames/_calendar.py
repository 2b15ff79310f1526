"""Business-time arithmetic on columns: the vectorised form of :class:`~smarketing.calendar.BusinessCalendar`.

The calendar's open intervals over the needed date range are precomputed once as sorted UTC boundaries, each
interval with the open time before it (``cum``, microseconds). The *business position* of an instant ``t``
is the open time from the range's start to ``t``; then

- ``elapsed(a, b) = position(b) - position(a)``;
- ``add(s, d)`` is the earliest instant whose position is ``position(s) + d`` (``s`` itself when ``d`` is 0);
- ``add_days(s, n)`` is the close of the n-th open day after the local date of ``s``;
- the local date of ``t`` comes from the UTC instants at which local days start.

Each is a binary search (``numpy.searchsorted``) of a column against a table of a few thousand boundaries,
run batch by batch inside a polars expression: no per-row time-zone conversion, no sort, no join, no Python
loop over rows. The scalar methods of the calendar use the same interval list, and the tests check the two
forms against each other with Hypothesis.

Timestamps are ``Int64`` microseconds since the epoch (UTC) here; callers convert with
``dt.timestamp("us")`` and cast back to ``Datetime("us", "UTC")``. Missing values stay missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing._limits import MAX_YEAR, MIN_YEAR
from smarketing.calendar import BusinessCalendar, open_intervals_and_days, wall_to_utc
from smarketing.errors import ClosedCalendarError, DataError

__all__ = ["BusinessClock", "ClosedCalendarError", "check_years", "epoch_us", "from_epoch_us"]

#: The accepted instants: from the start of MIN_YEAR to the end of MAX_YEAR, in UTC.
_EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)


def check_years(
    frame: nw.LazyFrame[Any] | nw.DataFrame[Any], columns: Sequence[str], *, kind: str, ident: str
) -> None:
    """Raise a :class:`~smarketing.errors.DataError` naming the record if a time column leaves the years.

    The columnar form of :func:`smarketing.calendar.check_time`: every time in ``columns`` (aware
    datetimes) must lie in the years :data:`~smarketing._limits.MIN_YEAR` to
    :data:`~smarketing._limits.MAX_YEAR` (UTC). One pass for the bounds; the offending row is looked up
    only when there is one.
    """
    lf = frame.lazy()
    outside = [
        (nw.col(c).dt.convert_time_zone("UTC") < nw.lit(_EARLIEST))
        | (nw.col(c).dt.convert_time_zone("UTC") >= nw.lit(_LATEST))
        for c in columns
    ]
    found = lf.select(
        *(o.fill_null(value=False).any().alias(c) for c, o in zip(columns, outside, strict=True))
    )
    flags = found.collect(backend="polars").rows(named=True)[0]
    for column, bad in zip(columns, outside, strict=True):
        if not flags[column]:
            continue
        row = lf.filter(bad).select(ident, column).head(1).collect(backend="polars").rows(named=True)[0]
        raise DataError(
            f"{row[column].isoformat()} is outside the years {MIN_YEAR} to {MAX_YEAR}",
            record=None if row[ident] is None else str(row[ident]),
            field=column,
            kind=kind,
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_DAY = timedelta(days=1)
_US_PER_MINUTE = 60_000_000

I64 = npt.NDArray[np.int64]


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float on the way)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(us: int) -> datetime:
    """The aware UTC datetime ``us`` microseconds after the epoch (the inverse of :func:`epoch_us`)."""
    return _EPOCH + timedelta(microseconds=us)


def _array(values: list[int]) -> I64:
    return np.asarray(values, dtype=np.int64)


class BusinessClock:
    """A calendar's open intervals and days between two local dates, as arrays for column arithmetic.

    Args:
        calendar: The business calendar.
        first: First local date covered; every timestamp given to the clock must be on or after it.
        last: Last local date covered; every due instant the clock computes must be on or before it.
    """

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self.calendar = calendar
        self.first = first
        self.last = last
        spans, open_days = open_intervals_and_days(calendar, first, last)
        if not spans:
            raise ClosedCalendarError(f"the calendar is not open at all between {first} and {last}")
        self.starts = _array([epoch_us(lo) for lo, _ in spans])
        self.ends = _array([epoch_us(hi) for _, hi in spans])
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths)
        self.cum = self.cum_end - lengths
        # Every local date: the UTC instant it starts, and how many open days there are up to it.
        closes = dict(open_days)
        day_starts: list[int] = []
        day_numbers: list[int] = []
        through: list[int] = []
        open_closes: list[int] = []
        day = first
        while day <= last:
            day_starts.append(epoch_us(wall_to_utc(day, time(0), calendar.zone)))
            day_numbers.append((day - _EPOCH_DATE).days)
            if day in closes:
                open_closes.append(epoch_us(closes[day]))
            through.append(len(open_closes))
            day += _DAY
        self.day_starts = _array(day_starts)
        self.day_numbers = _array(day_numbers)
        self.open_through = _array(through)
        self.closes = _array(open_closes)

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

        The clock reaches ``duration`` of business time and ``days`` business days past ``latest``: due
        times are monotone in their start, so the ones computed from ``latest`` bound all others.
        """
        zone = calendar.zone
        end = latest
        if duration > timedelta(0):
            end = max(end, calendar.add(latest, duration))
        if days > 0:
            end = max(end, calendar.add_days(latest, days))
        return cls(calendar, earliest.astimezone(zone).date() - _DAY, end.astimezone(zone).date() + _DAY)

    # -- numpy kernels over one batch of a column (no nulls) -------------------------------------------

    def positions(self, t: I64) -> I64:
        """Business position of each instant."""
        k = np.searchsorted(self.starts, t, side="right") - 1
        safe = np.maximum(k, 0)
        inside = np.minimum(t, self.ends[safe]) - self.starts[safe]
        out: I64 = np.where(k < 0, 0, self.cum[safe] + inside)
        return out

    def instants(self, p: I64) -> I64:
        """The earliest instant at each business position."""
        j = np.searchsorted(self.cum_end, p, side="left")
        if j.size and j.max() >= self.starts.size:
            raise ValueError("business position past the range of the business clock")
        out: I64 = self.starts[j] + p - self.cum[j]
        return out

    def open_minutes(self, start_us: int, end_us: int) -> npt.NDArray[np.bool_]:
        """Whether each whole minute from ``start_us`` to ``end_us`` (UTC, floored to minutes) is open.

        A minute-grid view of the open intervals, for constant-time look-ups where minutes are precise
        enough (synthetic data): a minute counts as open from the one holding an interval's start up to the
        one holding its end. Exact for intervals on whole minutes (every zone since 1972).
        """
        first = start_us // _US_PER_MINUTE
        size = end_us // _US_PER_MINUTE - first
        lo = np.clip(self.starts // _US_PER_MINUTE - first, 0, size)
        hi = np.clip(self.ends // _US_PER_MINUTE - first, 0, size)
        edges = np.zeros(size + 1, dtype=np.int64)
        np.add.at(edges, lo, 1)
        np.add.at(edges, hi, -1)
        out: npt.NDArray[np.bool_] = np.cumsum(edges[:-1]) > 0
        return out

    def day_index(self, t: I64) -> I64:
        k: I64 = np.maximum(np.searchsorted(self.day_starts, t, side="right") - 1, 0)
        return k

    # -- polars expressions ----------------------------------------------------------------------------

    @staticmethod
    def _map(expr: pl.Expr, function: Callable[[I64], I64], dtype: pl.DataType) -> pl.Expr:
        def batch(series: pl.Series) -> pl.Series:
            return pl.Series(series.name, function(series.to_numpy()), dtype=dtype)

        mapped = expr.fill_null(0).map_batches(batch, return_dtype=dtype, is_elementwise=True)
        return pl.when(expr.is_null()).then(None).otherwise(mapped)

    def position(self, t: pl.Expr) -> pl.Expr:
        """Business position (Int64 us) of Int64-us instants."""
        return self._map(t, self.positions, pl.Int64())

    def instant(self, p: pl.Expr) -> pl.Expr:
        """The earliest Int64-us instant at business positions ``p`` (which must be positive)."""
        return self._map(p, self.instants, pl.Int64())

    def add(self, t: pl.Expr, duration: pl.Expr) -> pl.Expr:
        """``add(t, duration)`` for Int64-us instants and durations (not negative)."""
        return pl.when(duration == 0).then(t).otherwise(self.instant(self.position(t) + duration))

    def add_days(self, t: pl.Expr, days: int) -> pl.Expr:
        """The close (Int64 us) of the ``days``-th open day after the local date of each instant."""

        def close(values: I64) -> I64:
            want = self.open_through[self.day_index(values)] + days - 1
            if want.size and want.max() >= self.closes.size:
                raise ValueError("business day past the range of the business clock")
            out: I64 = self.closes[want]
            return out

        return self._map(t, close, pl.Int64())

    def local_date(self, t: pl.Expr) -> pl.Expr:
        """The local date, in the calendar's zone, of Int64-us instants."""

        def local(values: I64) -> I64:
            out: I64 = self.day_numbers[self.day_index(values)]
            return out

        return self._map(t, local, pl.Int64()).cast(pl.Int32()).cast(pl.Date())

    def is_open(self, t: pl.Expr) -> pl.Expr:
        """Whether the calendar is open at Int64-us instants."""

        def inside(values: I64) -> I64:
            k = np.searchsorted(self.starts, values, side="right") - 1
            out: I64 = ((k >= 0) & (values < self.ends[np.maximum(k, 0)])).astype(np.int64)
            return out

        return self._map(t, inside, pl.Int64()).cast(pl.Boolean())
