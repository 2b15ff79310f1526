"""The ranges, precisions and sizes smarketing accepts (private; the Guarantees page documents them).

Every number a person or a CRM export can give passes one of these bounds at the boundary (plan load,
record validation, ``as_lazy``, the command line), so that nothing later can overflow a 64-bit column,
take a billion-digit ``Decimal`` through exact arithmetic, or step outside the dates that calendars,
holiday tables and polars can represent. A value outside its bound is an error that names the place;
it is never clamped or rounded.

Examples:
    >>> from decimal import Decimal
    >>> check_digits(Decimal("1250.00"), integer_digits=MAX_AMOUNT_DIGITS)
    >>> check_digits(Decimal("1e40"), integer_digits=MAX_AMOUNT_DIGITS)
    'has 41 digits before the decimal point; at most 15 are accepted'
    >>> check_digits(Decimal("1e-999999999"), integer_digits=MAX_AMOUNT_DIGITS)
    'has 999999999 decimal places; at most 18 are accepted'
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "MAX_AMOUNT_DIGITS",
    "MAX_COUNT",
    "MAX_DAYS",
    "MAX_DECIMAL_PLACES",
    "MAX_HOURS",
    "MAX_MONEY_DIGITS",
    "MAX_PLUGIN_FINDINGS",
    "MAX_PLUGIN_TEXT",
    "MAX_TEXT_BYTES",
    "MAX_YEAR",
    "MIN_YEAR",
    "check_digits",
]

#: Integer digits of an amount in a plan or a CRM record (deal amounts, caps, quotas, pool amounts):
#: below 10**15 of the major unit, so that any amount in minor units (at most 3 minor digits in
#: ISO 4217) fits a signed 64-bit integer with room for the sign.
MAX_AMOUNT_DIGITS = 15

#: Integer digits of a :class:`~smarketing.money.Money` value, which may be a sum of many amounts.
MAX_MONEY_DIGITS = 18

#: Digits after the decimal point of any exact number: amounts, rates, shares, hours, FX rates.
MAX_DECIMAL_PLACES = 18

#: The largest duration in hours a plan may state (SLA windows, escalations): ten years.
MAX_HOURS = 87_600

#: The largest number of days a plan may state (business-day windows, clawback, half-lives): ten years.
MAX_DAYS = MAX_HOURS // 24

#: The largest count a plan may state (lead volumes, attempts, steps): one billion.
MAX_COUNT = 1_000_000_000

#: The calendar years a time may fall in (events, ``as_of``, reward periods), checked once by
#: ``calendar.check_time`` (and ``frames._calendar.check_years`` for time columns). The business clock
#: and period arithmetic work across the whole range (the end of ``2199-Q4`` is in 2200). Holiday tables
#: do not: the ``holidays`` package knows a country's holidays only for its own years (DE 1991-2100,
#: JP 1949-2099, LK 2003-2026; none before 1771 or after 2100), so a calendar with holidays refuses a
#: date outside them (``calendar.holiday_years``) rather than treat every holiday as a working day.
MIN_YEAR = 1900
MAX_YEAR = 2199


def check_digits(
    value: Decimal, *, integer_digits: int, decimal_places: int = MAX_DECIMAL_PLACES
) -> str | None:
    """Why ``value`` (a finite ``Decimal``) is outside the bounds, or ``None`` when it is inside.

    Reads only the exponent and the digit count, so it is instant even for ``1e999999999``, whose
    exact expansion would not fit in memory.
    """
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "only finite values are checked"
    if value.is_zero():
        return None
    places = -exponent if exponent < 0 else 0
    # Trailing zeros after the point ("1.500") do not make a value more precise than it is.
    trailing = 0
    for digit in reversed(digits):
        if digit != 0 or trailing >= places:
            break
        trailing += 1
    if places - trailing > decimal_places:
        return f"has {places - trailing} decimal places; at most {decimal_places} are accepted"
    integer = value.adjusted() + 1
    if integer > integer_digits:
        return f"has {integer} digits before the decimal point; at most {integer_digits} are accepted"
    return None


#: The most findings one rule may return in one check (more is a broken rule, reported as ``SM001``).
MAX_PLUGIN_FINDINGS = 1_000

#: The most characters of one text a plugin gives the host: a finding's message, path or hint, a rule's
#: title, rationale, fix or url. Longer text is refused, never cut.
MAX_PLUGIN_TEXT = 2_000

#: The most characters of one text :func:`~smarketing.glossary.lint_text` reads, and the most bytes of one
#: file ``smarketing lint-text`` reads (8 MiB: a long sales playbook is well under 1 MiB). A longer text
#: or file is refused with its name, never cut.
MAX_TEXT_BYTES = 8 * 1024 * 1024
