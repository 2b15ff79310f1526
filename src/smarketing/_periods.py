"""Calendar periods (day, week, month, quarter, year) as half-open windows of local dates (private)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from smarketing._limits import MAX_YEAR, MIN_YEAR
from smarketing.errors import DataError

__all__ = ["REWARD_PERIOD", "TRUNCATE", "PeriodKind", "Window", "period_bounds", "reward_period_kind"]

PeriodKind = Literal["day", "week", "month", "quarter", "year"]

#: The polars/narwhals truncation interval of each period kind (weeks start on Monday, as ISO 8601).
TRUNCATE: dict[str, str] = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}

# ASCII digits only (``\d`` alone also matches Arabic-Indic and full-width digits), the whole text.
_LABELS = [
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)),
    ("week", re.compile(r"(\d{4})-W(\d{2})", re.ASCII)),
    ("month", re.compile(r"(\d{4})-(\d{2})", re.ASCII)),
    ("quarter", re.compile(r"(\d{4})-Q([1-4])", re.ASCII)),
    ("year", re.compile(r"(\d{4})", re.ASCII)),
]


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1)


@attrs.frozen(order=True)
class Window:
    """One calendar period: ``[start, end)`` in local dates of the time zone the data is bucketed in.

    Labels are ``2026-10-05`` (day), ``2026-W41`` (ISO week), ``2026-10`` (month), ``2026-Q4`` (quarter)
    and ``2026`` (year).

    Examples:
        >>> w = Window.parse("2026-10")
        >>> w.label, w.end, w.shift(-3).label, Window.containing("quarter", w.start).label
        ('2026-10', datetime.date(2026, 11, 1), '2026-07', '2026-Q4')
    """

    kind: PeriodKind
    start: date

    @classmethod
    def parse(cls, label: str) -> Window:
        """The window a label names.

        Raises:
            DataError: (a ``ValueError``) ``label`` is not a period, is not a real date, or its year is
                outside :data:`~smarketing._limits.MIN_YEAR` to :data:`~smarketing._limits.MAX_YEAR`;
                the message names the period and lists the accepted forms or years.

        Examples:
            >>> Window.parse("9999-Q4")
            Traceback (most recent call last):
            ...
            smarketing.errors.DataError: period: '9999-Q4': year 9999 is outside the accepted years ...
        """
        if not isinstance(label, str):
            raise DataError(f"must be a label such as '2026-Q4', not {type(label).__name__}", field="period")
        for kind, pattern in _LABELS:
            match = pattern.fullmatch(label)
            if match is None:
                continue
            parts = [int(p) for p in match.groups()]
            if not MIN_YEAR <= parts[0] <= MAX_YEAR:
                raise DataError(
                    f"{label!r}: year {parts[0]} is outside the accepted years {MIN_YEAR} to {MAX_YEAR}",
                    field="period",
                )
            try:
                if kind == "day":
                    return cls("day", date(*parts))
                if kind == "week":
                    return cls("week", date.fromisocalendar(parts[0], parts[1], 1))
                if kind == "month":
                    return cls("month", date(parts[0], parts[1], 1))
                if kind == "quarter":
                    return cls("quarter", date(parts[0], 3 * parts[1] - 2, 1))
                return cls("year", date(parts[0], 1, 1))
            except ValueError:
                break
        raise DataError(
            f"cannot read period {label!r}; use 2026-10-05 (day), 2026-W41 (week), 2026-10 (month), "
            "2026-Q4 (quarter) or 2026 (year)",
            field="period",
        )

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Window:
        """The window of ``kind`` that contains ``day``."""
        if kind == "day":
            return cls(kind, day)
        if kind == "week":
            return cls(kind, day - timedelta(days=day.weekday()))
        if kind == "month":
            return cls(kind, day.replace(day=1))
        if kind == "quarter":
            return cls(kind, date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
        if kind == "year":
            return cls(kind, date(day.year, 1, 1))
        raise ValueError(f"unknown period kind {kind!r}")

    @property
    def end(self) -> date:
        """The first day after the window."""
        return self.shift(1).start

    @property
    def label(self) -> str:
        """The window's label, e.g. ``2026-Q4``."""
        s = self.start
        match self.kind:
            case "day":
                return s.isoformat()
            case "week":
                year, week, _ = s.isocalendar()
                return f"{year}-W{week:02d}"
            case "month":
                return f"{s.year}-{s.month:02d}"
            case "quarter":
                return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        return f"{s.year}"

    def shift(self, n: int) -> Window:
        """The window ``n`` periods later (earlier when negative).

        Raises:
            DataError: The window would start before year 1 or after 9999 (``date`` cannot hold it).
        """
        try:
            return self._shift(n)
        except (ValueError, OverflowError):
            raise DataError(
                f"{self.label!r} shifted by {n} {self.kind}(s) leaves the dates Python can represent",
                field="period",
            ) from None

    def _shift(self, n: int) -> Window:
        s = self.start
        match self.kind:
            case "day":
                return Window("day", s + timedelta(days=n))
            case "week":
                return Window("week", s + timedelta(weeks=n))
            case "month":
                return Window("month", _month_start(s.year, s.month + n))
            case "quarter":
                return Window("quarter", _month_start(s.year, s.month + 3 * n))
        return Window("year", date(s.year + n, 1, 1))

    def start_at(self, tz: str) -> datetime:
        """The window's first instant in time zone ``tz``."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=zone(tz))

    def end_at(self, tz: str) -> datetime:
        """The first instant after the window in time zone ``tz``."""
        return self.shift(1).start_at(tz)

    def __str__(self) -> str:
        return self.label


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; ``ValueError`` when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {tz!r}") from None


#: The label of a period rewards are computed for: a month ('YYYY-MM'), a quarter ('YYYY-Qn') or a year
#: ('YYYY'); a reward plan's per-period quotas are keyed by it.
REWARD_PERIOD = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")


def reward_period_kind(period: str) -> str:
    """The kind of a reward period (``"month"``, ``"quarter"`` or ``"year"``); ``ValueError`` for another.

    Examples:
        >>> reward_period_kind("2026-Q4")
        'quarter'
    """
    if not isinstance(period, str) or REWARD_PERIOD.fullmatch(period) is None:
        raise ValueError(
            f"period {period!r} is not supported: rewards are computed for a month ('YYYY-MM'), a quarter "
            "('YYYY-Qn') or a year ('YYYY'), not for weeks, days or other spans"
        )
    year = int(period[:4])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"period {period!r} is outside the supported years {MIN_YEAR}..{MAX_YEAR} (calendars, holiday "
            "tables and period arithmetic cover these)"
        )
    return "year" if len(period) == 4 else ("quarter" if "Q" in period else "month")


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a reward period (a month, a quarter or a year).

    Raises:
        ValueError: ``period`` is not a month, quarter or year label, or its year is out of range.

    Examples:
        >>> period_bounds("2026-Q4")
        (datetime.date(2026, 10, 1), datetime.date(2026, 12, 31))
    """
    reward_period_kind(period)
    window = Window.parse(period)
    return window.start, window.end - timedelta(days=1)
