"""Option values, checked when the arguments are read: times, periods, exchange rates, counts, file names."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from smarketing._limits import MAX_YEAR, MIN_YEAR, check_digits
from smarketing._periods import Window, zone
from smarketing.money import Money

#: The most synthetic leads a command generates: a million take a few seconds and about a gigabyte.
MAX_LEADS = 1_000_000


#: Seeds are 64-bit: numpy and polars take them as unsigned 64-bit integers.
_MAX_SEED = 2**63 - 1


#: Significant digits of an ``--fx`` rate: its numerator and denominator then fit a signed 64-bit integer.
_FX_DIGITS = 18


#: Digits before the point of an ``--fx`` rate, as ``FxTable`` accepts them (``money.FX_RATE_DIGITS``).
_FX_INTEGER_DIGITS = 12


def parse_codes(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError(f"no rule codes in {text!r}")
    return codes


def parse_score(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, not {value}")
    return value


AS_OF_HELP = "ISO 8601 with a UTC offset, or a date: the start of that day in the plan's time zone"


@dataclass(frozen=True)
class AsOf:
    """An ``--as-of`` value: an aware time, or a plain date read in the plan's time zone when used."""

    day: date
    moment: datetime | None = None

    def at(self, tz: str) -> datetime:
        """The instant: the time given, or the start of the date in time zone ``tz`` (as a UTC offset)."""
        if self.moment is not None:
            return self.moment
        start = datetime.combine(self.day, time(), zone(tz))
        return start.astimezone(timezone(start.utcoffset() or timedelta(0)))

    def date_in(self, tz: str) -> date:
        """The day: the date given, or the time's day in time zone ``tz``."""
        return self.day if self.moment is None else self.moment.astimezone(zone(tz)).date()


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_as_of(text: str) -> AsOf:
    """``--as-of``: ``2026-10-31`` or ``2026-10-31T18:00+01:00``, years 1900 to 2199."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}")
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date: {error}") from None
        _check_year(text, day.year)
        return AsOf(day)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r}; write 2026-10-31 or 2026-10-31T18:00+01:00"
        ) from None
    _check_year(text, moment.year)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. {text}+00:00")
    try:  # an offset can move a time at the edge of the range out of it
        moment.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range") from None
    return AsOf(moment.date(), moment)


_YEARS = f"the year is outside the accepted years {MIN_YEAR} to {MAX_YEAR}"


def _check_year(text: str, year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"{text!r}: {_YEARS}")


def parse_period(text: str) -> str:
    """``--period``: a period label (day, week, month, quarter, year) in the years 1900 to 2199."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"not a period: {text!r}; write 2026-10, 2026-Q4 or 2026")
    year = re.match(r"[0-9]+", text)
    if year is not None and len(year.group()) > 4 and text[len(year.group()) :][:1] in ("", "-"):
        raise argparse.ArgumentTypeError(f"{text!r}: {_YEARS}")
    try:
        window = Window.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    _check_year(text, window.start.year)
    return window.label


_RATE = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def parse_fx_rate(text: str) -> tuple[str, str, Decimal]:
    """``--fx BASE/QUOTE=RATE``: two ISO 4217 codes and a positive decimal rate."""
    pair, _, rate = text.partition("=")
    base, _, quote = pair.partition("/")
    if not (base and quote and rate):
        raise argparse.ArgumentTypeError(f"{text!r}: write BASE/QUOTE=RATE, e.g. USD/EUR=0.92")
    for code in (base, quote):
        try:
            Money(0, code)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if base == quote:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate converts between two different currencies")
    if _RATE.fullmatch(rate) is None:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must be a decimal number such as 0.92")
    value = Decimal(rate)
    if value.is_zero():
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must be positive, not {rate}")
    problem = check_digits(value, integer_digits=_FX_INTEGER_DIGITS)
    if problem is None and len(value.normalize().as_tuple().digits) > _FX_DIGITS:
        problem = f"has more than {_FX_DIGITS} significant digits"
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate {problem}")
    return base, quote, value


def parse_path(text: str) -> Path:
    """A file or folder name: not empty, and without NUL, which no file system allows."""
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty")
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: a file name cannot contain NUL")
    return Path(text)


def parse_seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {_MAX_SEED}, not {value}")
    return value


def parse_leads(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= MAX_LEADS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LEADS:,}, not {value}")
    return value


def _int(text: str) -> int:
    """A whole number in ASCII digits (``int`` would also take ``1_000`` and other scripts' digits)."""
    if re.fullmatch(r"[+-]?[0-9]{1,30}", text, re.ASCII) is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


_OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def parse_source(text: str) -> tuple[str, Path | None]:
    """``--source NAME[:PATH]`` (and ``import SOURCE``): a connector name and the path it reads, if any.

    A connector that reads files takes ``NAME:PATH``; one that reads a service (``hubspot``) takes its
    name alone, and its options with ``--option``.
    """
    name, colon, path = text.partition(":")
    if not name or (colon and not path):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write NAME or NAME:PATH, e.g. hubspot-export:./export or hubspot "
            "(smarketing sources lists the names)"
        )
    if not name.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r}: the connector name must be printable text")
    return name, parse_path(path) if colon else None


def parse_option(text: str) -> tuple[str, str]:
    """``--option KEY=VALUE``: a connector option and its value as text (typed when the connector is made)."""
    key, equals, value = text.partition("=")
    if not equals or _OPTION_NAME.fullmatch(key) is None:
        raise argparse.ArgumentTypeError(f"{text!r}: write KEY=VALUE, e.g. time_zone=Europe/Berlin")
    if "\x00" in value:
        raise argparse.ArgumentTypeError(f"{text!r}: a value cannot contain NUL")
    return key, value


#: The ``--fx`` help most commands give.
FX_HELP = "an exchange rate, e.g. USD/EUR=0.92 (repeatable; synthetic data defaults to USD/EUR=0.92)"


def add_fx_option(parser: argparse.ArgumentParser, help: str = FX_HELP) -> None:
    """``--fx BASE/QUOTE=RATE``, repeatable, into ``args.fx`` (a list of rates; see :func:`parse_fx_rate`)."""
    parser.add_argument(
        "--fx", type=parse_fx_rate, action="append", default=[], metavar="BASE/QUOTE=RATE", help=help
    )
