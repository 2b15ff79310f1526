"""Business time: an IANA time zone, weekly opening hours, public holidays and extra dates.

SLA clocks run in business time. A :class:`BusinessCalendar` says when the clock runs: weekly hours (several
intervals a day, e.g. a lunch break), public holidays from the maintained ``holidays`` package (country and
subdivision), extra closed dates and extra open dates, or 24x7.

The arithmetic works on real instants, so it is right across daylight-saving changes and year ends:
:meth:`BusinessCalendar.elapsed` is the business time between two instants, :meth:`BusinessCalendar.add` the
instant a business duration after a start (the due time of a target), :meth:`BusinessCalendar.add_days` the
close of the n-th open day after a start, :meth:`BusinessCalendar.is_open` and
:meth:`BusinessCalendar.next_open` what they say. Inputs must be timezone-aware.

Opening hours are wall-clock times in the calendar's zone. An hour that does not exist (the clock jumps
from 02:00 to 03:00) is moved forward to the jump; an hour that happens twice (the clock goes back) means
its first occurrence. So an office open 02:00-03:00 on the night the clocks go back is open two real hours,
and one open 02:00-04:00 on the night they go forward is open one.

Examples:
    >>> from smarketing.calendar import BusinessCalendar
    >>> cal = BusinessCalendar(
    ...     timezone="Europe/Berlin",
    ...     hours={"mon": ["09:00-12:30", "13:30-18:00"]},
    ...     holidays={"country": "DE", "subdivision": "BY"},
    ... )
    >>> cal.intervals("mon")
    ((datetime.time(9, 0), datetime.time(12, 30)), (datetime.time(13, 30), datetime.time(18, 0)))
    >>> cal.intervals("sun")
    ()

    The worked example of the SLA docs: Monday to Friday 08:00-17:00, a 4-hour target starting Friday 16:00
    falls due Monday 11:00 (one hour on Friday, three on Monday).

    >>> from datetime import datetime, timedelta
    >>> office = BusinessCalendar(timezone="Europe/Berlin", hours={d: ["08:00-17:00"] for d in WEEKDAYS[:5]})
    >>> friday = datetime(2026, 10, 2, 16, tzinfo=office.zone)
    >>> office.add(friday, timedelta(hours=4))
    datetime.datetime(2026, 10, 5, 11, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))
    >>> office.elapsed(friday, datetime(2026, 10, 5, 11, tzinfo=office.zone))
    datetime.timedelta(seconds=14400)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as _holidays
from pydantic import Field, field_validator, model_validator

from smarketing._base import FrozenModel, PlanDate, located
from smarketing._limits import MAX_YEAR, MIN_YEAR
from smarketing.errors import DataError

__all__ = [
    "BusinessCalendar",
    "HolidaySource",
    "WEEKDAYS",
    "Weekday",
    "check_time",
    "holiday_years",
    "open_intervals_and_days",
    "wall_to_utc",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ASCII digits only: ``\d`` alone also reads Arabic-Indic and full-width digits as hours.
_INTERVAL = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$", re.ASCII)

_DEFAULT_HOURS: dict[Weekday, list[str]] = {d: ["09:00-17:00"] for d in WEEKDAYS[:5]}

#: Hours of an extra open date whose weekday has none (see ``BusinessCalendar.open_dates``).
_OPEN_DATE_HOURS = ((time(9), time(17)),)
_WHOLE_DAY = ((time(0), time.max),)
#: How far the arithmetic looks for open time before it decides the calendar never opens again.
_SEARCH_CHUNK_DAYS = 62
#: The last local date the business clock counts: the latest due time a valid plan can need (two
#: windows of MAX_HOURS, ten years each, after the last accepted year) fits before it.
_LAST_DATE = date(MAX_YEAR + 21, 12, 31)


@cache
def _supported_countries() -> dict[str, list[str]]:
    return dict(_holidays.list_supported_countries())


@cache
def _available_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _parse_interval(text: str) -> tuple[time, time]:
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an interval like '09:00-17:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{text!r} has an impossible time of day")
    # 24:00 closes the day; time() cannot hold it, so the largest representable time stands in.
    end = time.max if h2 == 24 else time(h2, m2)
    start = time(h1, m1)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


class HolidaySource(FrozenModel):
    """Public holidays of a country (and optionally a subdivision), from the ``holidays`` package."""

    country: str = Field(description="ISO 3166-1 alpha-2 country code, e.g. 'DE'.")
    subdivision: str | None = Field(
        default=None, description="Subdivision code as the holidays package names it, e.g. 'BY'."
    )

    @model_validator(mode="after")
    def _known(self) -> Self:
        supported = _supported_countries()
        if self.country not in supported:
            raise located(
                [
                    (
                        "country",
                        f"unknown holiday country {self.country!r} "
                        "(use an ISO 3166-1 alpha-2 code the holidays package supports)",
                    )
                ]
            )
        subdivisions = supported[self.country]
        if self.subdivision is not None and self.subdivision not in subdivisions:
            raise located(
                [
                    (
                        "subdivision",
                        f"unknown subdivision {self.subdivision!r} of {self.country}; "
                        f"known: {', '.join(subdivisions) or 'none'}",
                    )
                ]
            )
        return self


class BusinessCalendar(FrozenModel):
    """When business time runs: zone, weekly hours, holidays, extra closed and open dates."""

    timezone: str = Field(description="IANA time zone, e.g. 'Europe/Berlin'.")
    hours: dict[Weekday, list[str]] = Field(
        default_factory=lambda: {d: list(v) for d, v in _DEFAULT_HOURS.items()},
        description="Opening intervals per weekday ('09:00-12:30'); a missing day is closed. "
        "Default: Monday to Friday 09:00-17:00.",
    )
    holidays: HolidaySource | None = Field(
        default=None, description="Public holidays that close the calendar."
    )
    closed_dates: list[PlanDate] = Field(
        default_factory=list, description="Extra dates on which the calendar is closed."
    )
    open_dates: list[PlanDate] = Field(
        default_factory=list,
        description="Dates that open with their weekday's hours even if a holiday (e.g. a "
        "bridge day worked); a closed weekday opens 09:00-17:00.",
    )
    always_open: bool = Field(default=False, description="24x7: every hour counts.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        # Only Area/Location names (and UTC): abbreviations like "CET" or "EST" name no place, so their
        # DST rules are not the rules of anyone's office.
        if value not in _available_zones():
            raise ValueError("unknown IANA time zone; use an Area/Location name such as 'Europe/Berlin'")
        if value != "UTC" and ("/" not in value or value.startswith("Etc/")):
            raise ValueError("use an Area/Location time zone such as 'Europe/Berlin', not an abbreviation")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as exc:  # pragma: no cover - available_timezones agrees
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        problems: list[tuple[str, str]] = []
        for day, texts in value.items():
            try:
                spans = sorted(_parse_interval(t) for t in texts)
            except ValueError as exc:
                problems.append((day, str(exc)))
                continue
            if any(start < end for (_, end), (start, _) in pairwise(spans)):
                problems.append((day, f"intervals {', '.join(texts)} overlap"))
        if problems:
            raise located(problems)
        return value

    @model_validator(mode="after")
    def _dates(self) -> Self:
        both = sorted(set(self.closed_dates) & set(self.open_dates))
        if both:
            raise ValueError(f"dates both closed and open: {', '.join(map(str, both))}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The time zone as a ``zoneinfo.ZoneInfo``."""
        return ZoneInfo(self.timezone)

    def intervals(self, day: Weekday) -> tuple[tuple[time, time], ...]:
        """The opening intervals of a weekday, sorted (``time.max`` stands for 24:00)."""
        return tuple(sorted(_parse_interval(t) for t in self.hours.get(day, [])))

    # ----------------------------------------------------------------------------------------------
    # Arithmetic. Every method works on UTC instants internally: aware datetimes that share a tzinfo
    # subtract as wall-clock times in Python, which is wrong across a DST change.

    def open_intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of the local dates ``first`` to ``last`` (inclusive), as UTC instants.

        Intervals are half-open ``[start, end)``, sorted, and merged where one ends as the next begins
        (a day open until 24:00 followed by one open from 00:00). Both the scalar methods and the columnar
        kernels of :mod:`smarketing.sla` are built on this list, so they agree on holidays and DST.

        Examples:
            >>> cal = BusinessCalendar(timezone="UTC", hours={"mon": ["09:00-12:00", "13:00-17:00"]})
            >>> [(a.hour, b.hour) for a, b in cal.open_intervals(date(2026, 10, 5), date(2026, 10, 11))]
            [(9, 12), (13, 17)]
        """
        _check_dates(first, last)
        return _merge(_day_intervals(_rules(self), first, last))

    def open_days(self, first: date, last: date) -> list[tuple[date, datetime]]:
        """The local dates from ``first`` to ``last`` that open at all, each with its closing instant (UTC).

        Examples:
            >>> cal = BusinessCalendar(timezone="UTC")
            >>> [(d.isoformat(), c.hour) for d, c in cal.open_days(date(2026, 10, 9), date(2026, 10, 12))]
            [('2026-10-09', 17), ('2026-10-12', 17)]
        """
        _check_dates(first, last)
        return open_intervals_and_days(self, first, last)[1]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; negative when ``end`` is before ``start``.

        Args:
            start: Timezone-aware start.
            end: Timezone-aware end.

        Raises:
            ValueError: ``start`` or ``end`` is naive.

        Examples:
            >>> cal = BusinessCalendar(timezone="America/New_York")
            >>> fri = datetime(2026, 10, 2, 16, tzinfo=cal.zone)
            >>> cal.elapsed(fri, datetime(2026, 10, 5, 10, tzinfo=cal.zone))
            datetime.timedelta(seconds=7200)
            >>> cal.elapsed(datetime(2026, 10, 5, 10, tzinfo=cal.zone), fri)
            datetime.timedelta(days=-1, seconds=79200)
        """
        a, b = check_time(start, "start"), check_time(end, "end")
        if b < a:
            return -self.elapsed(b, a)
        if self.always_open:
            return b - a
        total = timedelta(0)
        for lo, hi in self.open_intervals(self._local_date(a) - _DAY, self._local_date(b) + _DAY):
            if hi > a and lo < b:
                total += min(hi, b) - max(lo, a)
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``duration`` of business time after ``start``: the due time of a target.

        ``elapsed(start, add(start, d)) == d`` for every ``d >= 0``. A zero duration gives ``start``.

        Args:
            start: Timezone-aware start (it need not be in opening hours).
            duration: Business time to add, not negative.

        Returns:
            The due instant, in the calendar's time zone.

        Raises:
            DataError: ``start`` is not an aware time in the accepted years, ``duration`` is not a
                ``timedelta`` or is negative, or the due time falls after the last date the business clock
                counts (the end of ``MAX_YEAR + 21``: a sparse calendar and a very long duration).
            ValueError: The calendar has no more open time (only a few extra open dates).

        Examples:
            >>> cal = BusinessCalendar(timezone="Europe/Berlin", holidays={"country": "DE"})
            >>> cal.add(datetime(2026, 12, 24, 16, tzinfo=cal.zone), timedelta(hours=2))
            datetime.datetime(2026, 12, 28, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))
        """
        a = check_time(start, "start")
        if not isinstance(duration, timedelta):
            raise DataError(f"must be a timedelta, not {type(duration).__name__}", field="duration")
        if duration < timedelta(0):
            raise DataError(f"must not be negative, got {duration}", field="duration")
        if duration == timedelta(0):
            return a.astimezone(self.zone)
        if self.always_open:
            return (a + duration).astimezone(self.zone)
        left = duration
        for lo, hi in self._intervals_from(a):
            begin = max(lo, a)
            if hi - begin >= left:
                return (begin + left).astimezone(self.zone)
            left -= hi - begin
        self._ran_out(f"{duration} of business time after {a.isoformat()}")
        raise ValueError(f"the calendar has no more open time after {a.isoformat()}")

    def add_days(self, start: datetime, days: int) -> datetime:
        """The close of the ``days``-th open day after the local date of ``start``: a business-day deadline.

        A lead handed off on Friday at 16:00 with one business day is due at Monday's close; so is one handed
        off on Saturday.

        Raises:
            DataError: ``start`` is not an aware time in the accepted years, ``days`` is not a whole number
                of at least 1, or the deadline falls after the last date the business clock counts.
            ValueError: The calendar has fewer open days left (only a few extra open dates).

        Examples:
            >>> cal = BusinessCalendar(timezone="UTC")
            >>> cal.add_days(datetime(2026, 10, 2, 16, tzinfo=UTC), 1)
            datetime.datetime(2026, 10, 5, 17, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
        """
        a = check_time(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise DataError(f"must be a whole number of at least 1, got {days!r}", field="days")
        rules = _rules(self)
        seen = 0
        day = self._local_date(a)
        for _ in range(_horizon_days(rules, day)):
            day += _DAY
            spans = _day_intervals(rules, day, day)
            if spans:
                seen += 1
                if seen == days:
                    return spans[-1][1].astimezone(self.zone)
        self._ran_out(f"{days} open day(s) after {a.isoformat()}")
        raise ValueError(f"the calendar has fewer than {days} open days after {a.isoformat()}")

    def is_open(self, moment: datetime) -> bool:
        """Whether business time runs at ``moment`` (intervals include their start, not their end).

        Examples:
            >>> cal = BusinessCalendar(
            ...     timezone="Europe/Berlin", hours={"mon": ["09:00-12:30", "13:30-18:00"]}
            ... )
            >>> [cal.is_open(datetime(2026, 10, 5, h, tzinfo=cal.zone)) for h in (9, 12, 13, 18)]
            [True, True, False, False]
        """
        t = check_time(moment, "moment")
        if self.always_open:
            return True
        day = self._local_date(t)
        return any(lo <= t < hi for lo, hi in self.open_intervals(day - _DAY, day + _DAY))

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if the calendar is open then, else the instant it next opens (in the calendar's zone).

        Raises:
            ValueError: ``moment`` is naive, or the calendar never opens again.

        Examples:
            >>> cal = BusinessCalendar(timezone="Europe/Berlin")
            >>> cal.next_open(datetime(2026, 10, 3, 12, tzinfo=cal.zone))  # a Saturday
            datetime.datetime(2026, 10, 5, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))
        """
        t = check_time(moment, "moment")
        if self.always_open:
            return t.astimezone(self.zone)
        for lo, hi in self._intervals_from(t):
            if hi > t:
                return max(lo, t).astimezone(self.zone)
        self._ran_out(f"the next opening after {t.isoformat()}")
        raise ValueError(f"the calendar never opens after {t.isoformat()}")

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _ran_out(self, what: str) -> None:
        """Raise the DataError for a search that reached the last date the clock counts, if it did."""
        if _rules(self).last_open_date is None:  # weekly hours: open time never runs out, the dates do
            raise DataError(
                f"{what} falls after {_LAST_DATE.isoformat()}, the last date the business clock counts; "
                "the calendar is open too little for so long a time",
                field="calendar",
            )

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ending after ``moment``, in order, for as long as the calendar has any."""
        rules = _rules(self)
        first = self._local_date(moment) - _DAY
        horizon = _horizon_days(rules, first)
        done = 0
        while done < horizon and first <= _LAST_DATE:
            last = min(first + timedelta(days=_SEARCH_CHUNK_DAYS - 1), _LAST_DATE)
            chunk = _merge(_day_intervals(rules, first, last))
            yield from ((lo, hi) for lo, hi in chunk if hi > moment)
            first += timedelta(days=_SEARCH_CHUNK_DAYS)
            done += _SEARCH_CHUNK_DAYS


_DAY = timedelta(days=1)


def check_time(moment: object, name: str) -> datetime:
    """``moment`` as a UTC instant, after the one check every instant passes: aware, in the accepted years.

    Every ``as_of``, every instant given to a calendar and every time read from data goes through this
    check (the columns through :func:`check_years`), so nothing later computes with a naive time, an
    epoch integer or a year the business clock cannot reach (the years
    :data:`~smarketing._limits.MIN_YEAR` to :data:`~smarketing._limits.MAX_YEAR`, both in UTC and in the
    time's own zone).

    Args:
        moment: The time to check.
        name: What it is, for the message (``as_of``, ``start``, ...).

    Raises:
        DataError: ``moment`` is not a datetime, is naive, or lies outside the accepted years.

    Examples:
        >>> check_time(datetime(2026, 10, 5, 9, tzinfo=UTC), "as_of")
        datetime.datetime(2026, 10, 5, 9, 0, tzinfo=datetime.timezone.utc)
        >>> check_time(datetime(9999, 12, 31, tzinfo=UTC), "as_of")
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: as_of: 9999-12-31T00:00:00+00:00 is outside the years 1900 to 2199
    """
    if not isinstance(moment, datetime):
        raise DataError(
            f"must be a timezone-aware datetime, not {type(moment).__name__} {moment!r}", field=name
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DataError(
            f"{moment.isoformat()} is naive; give a timezone-aware time (e.g. in UTC)", field=name
        )
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # within a day of datetime.min or datetime.max
        utc = None
    if utc is None or not (MIN_YEAR <= moment.year <= MAX_YEAR and MIN_YEAR <= utc.year <= MAX_YEAR):
        raise DataError(f"{moment.isoformat()} is {_OUTSIDE}", field=name)
    return utc


#: The end of the message for a time outside the accepted years.
_OUTSIDE = f"outside the years {MIN_YEAR} to {MAX_YEAR}"


def _check_dates(first: object, last: object) -> None:
    """Local dates the clock can count: plain dates from the year before MIN_YEAR to ``_LAST_DATE``."""
    for name, day in (("first", first), ("last", last)):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise DataError(f"must be a date, not {type(day).__name__}", field=name)
        if not date(MIN_YEAR - 1, 1, 1) <= day <= _LAST_DATE:
            raise DataError(
                f"{day.isoformat()} is outside the dates the business clock counts "
                f"({MIN_YEAR - 1}-01-01 to {_LAST_DATE.isoformat()})",
                field=name,
            )


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


class _Rules:
    """A calendar's rules in the shape the day loop needs (sets, parsed hours, zone)."""

    __slots__ = ("always_open", "closed", "holidays", "last_open_date", "open", "spans", "zone")

    def __init__(self, cal: BusinessCalendar) -> None:
        self.zone = cal.zone
        self.always_open = cal.always_open
        self.closed = frozenset(cal.closed_dates)
        self.open = frozenset(cal.open_dates)
        self.spans = tuple(cal.intervals(d) for d in WEEKDAYS)
        self.holidays = None if cal.holidays is None else (cal.holidays.country, cal.holidays.subdivision)
        # Without weekly hours the only open time is on the extra open dates: it runs out.
        weekly = cal.always_open or any(self.spans)
        self.last_open_date: date | None = None if weekly else max(cal.open_dates, default=date.min)

    def day_spans(self, day: date) -> tuple[tuple[time, time], ...]:
        if self.always_open:
            return _WHOLE_DAY
        if day in self.closed:
            return ()
        spans = self.spans[day.weekday()]
        if day in self.open:
            return spans or _OPEN_DATE_HOURS
        if self.holidays is not None and day in _holiday_dates(*self.holidays, day.year):
            return ()
        return spans


def _rules(cal: BusinessCalendar) -> _Rules:
    return _Rules(cal)


def _horizon_days(rules: _Rules, first: date) -> int:
    """Days to search forward from ``first`` before concluding there is no more open time.

    Never past ``_LAST_DATE``: a sparse calendar and a long duration would otherwise search for
    thousands of years and overflow ``date``.
    """
    last = _LAST_DATE if rules.last_open_date is None else min(rules.last_open_date + _DAY, _LAST_DATE)
    return max(0, (last - first).days + 1)


def holiday_years(country: str) -> tuple[int, int]:
    """The first and last year the ``holidays`` package knows the public holidays of ``country``.

    Outside these years it returns no holidays at all, which would open every holiday silently; the
    calendar refuses those years instead (:class:`~smarketing.errors.DataError`).

    Examples:
        >>> holiday_years("DE")
        (1991, 2100)
    """
    entity = type(_holidays.country_holidays(country, years=()))
    return int(entity.start_year), int(entity.end_year)


@cache
def _holiday_cover(country: str) -> tuple[int, int]:
    return holiday_years(country)


@lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    first, last = _holiday_cover(country)
    if not first <= year <= last:
        where = country if subdivision is None else f"{country}-{subdivision}"
        raise DataError(
            f"the calendar needs the public holidays of {where} in {year}, but the holidays package "
            f"knows them only for {first} to {last}; keep the data's times inside those years or "
            "leave the holidays out and list them as closed_dates",
            field="holidays",
        )
    return frozenset(_holidays.country_holidays(country, subdiv=subdivision, years=year))


def _day_intervals(
    rules: _Rules, first: date, last: date, closes: list[tuple[date, datetime]] | None = None
) -> list[tuple[datetime, datetime]]:
    """The open intervals of each local date, unmerged; each open date's close goes to ``closes``."""
    out: list[tuple[datetime, datetime]] = []
    for day in _dates(first, last):
        before = len(out)
        for start, end in rules.day_spans(day):
            lo = wall_to_utc(day, start, rules.zone)
            hi = (
                wall_to_utc(day + _DAY, time(0), rules.zone)
                if end == time.max
                else wall_to_utc(day, end, rules.zone)
            )
            if hi > lo:
                out.append((lo, hi))
        if closes is not None and len(out) > before:
            closes.append((day, out[-1][1]))
    return out


def open_intervals_and_days(
    cal: BusinessCalendar, first: date, last: date
) -> tuple[list[tuple[datetime, datetime]], list[tuple[date, datetime]]]:
    """``cal.open_intervals(first, last)`` and ``cal.open_days(first, last)`` in one pass, dates unchecked.

    The columnar business clock (:mod:`smarketing.frames`) needs both over the same dates.
    """
    closes: list[tuple[date, datetime]] = []
    spans = _day_intervals(_rules(cal), first, last, closes)
    return _merge(spans), closes


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


#: Wall times with ``fold=1``, for the opening times of the day (the second reading of a repeated hour).
_FOLDED = {t: t.replace(fold=1) for t in (time(h, m) for h in range(24) for m in range(0, 60, 15))}


def wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time of a local date as a UTC instant: gaps move forward, repeats take the first.

    This is how opening hours become instants (see the module docstring on daylight-saving changes).

    Examples:
        >>> from zoneinfo import ZoneInfo
        >>> wall_to_utc(date(2026, 3, 29), time(2, 30), ZoneInfo("Europe/Berlin")).isoformat()
        '2026-03-29T01:00:00+00:00'
    """
    naive = datetime.combine(day, wall)
    # The offsets of both readings of the wall time: equal for almost every time (the fast path, a few
    # times cheaper than a round trip through the zone); in a repeated hour the first reading (fold=0)
    # has the larger offset, in a gap the smaller one.
    first = zone.utcoffset(naive)
    second = zone.utcoffset(datetime.combine(day, _FOLDED.get(wall) or wall.replace(fold=1)))
    if first is not None and second is not None and first >= second:
        return datetime.combine(day, wall, UTC) - first
    utc = naive.replace(tzinfo=zone).astimezone(UTC)
    # The wall time falls in a gap. fold=1 gives an instant before the jump, fold=0 one after it; the jump
    # happens on a whole second, so bisect for the first second that has the offset after the jump.
    after = utc.astimezone(zone).utcoffset()
    lo = int(naive.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    hi = int(utc.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
