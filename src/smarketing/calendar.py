"""Business time: an IANA time zone, weekly opening hours, public holidays and extra dates.

SLA clocks run in business time. A :class:`BusinessCalendar` says when the clock runs: weekly hours (several
intervals a day, e.g. a lunch break), public holidays from the maintained ``holidays`` package (country and
subdivision), extra closed dates and extra open dates, or 24x7.

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
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import cache
from itertools import pairwise
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as _holidays
from pydantic import Field, field_validator, model_validator

from smarketing._base import FrozenModel, located

__all__ = ["BusinessCalendar", "HolidaySource", "Weekday"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_INTERVAL = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")

_DEFAULT_HOURS: dict[Weekday, list[str]] = {d: ["09:00-17:00"] for d in WEEKDAYS[:5]}


@cache
def _supported_countries() -> dict[str, list[str]]:
    return dict(_holidays.list_supported_countries())


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
    closed_dates: list[date] = Field(
        default_factory=list, description="Extra dates on which the calendar is closed."
    )
    open_dates: list[date] = Field(
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


@cache
def _available_zones() -> frozenset[str]:
    return frozenset(available_timezones())
