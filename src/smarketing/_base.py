"""Shared building blocks of the plan and record models (private)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from smarketing._limits import (
    MAX_AMOUNT_DIGITS,
    MAX_COUNT,
    MAX_DAYS,
    MAX_DECIMAL_PLACES,
    MAX_HOURS,
    MAX_YEAR,
    MIN_YEAR,
    check_digits,
)
from smarketing.money import Money

__all__ = [
    "CurrencyCode",
    "Count",
    "Days",
    "Exact",
    "FrozenModel",
    "Hours",
    "ID_PATTERN",
    "Id",
    "MAX_NUMBER_CHARS",
    "MinorUnitCurrency",
    "NonNegativeDecimal",
    "Number",
    "Period",
    "PlanDate",
    "PlanMoney",
    "Points",
    "PositiveCount",
    "PositiveDecimal",
    "PositivePlanMoney",
    "PositiveWholeDays",
    "Rate",
    "Text",
    "Whole",
    "WholeDays",
    "join_path",
    "located",
]

#: Ids are slugs: stable, diff-friendly and safe in file names, URLs and SARIF locations.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Id = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=128),
    Field(description="A stable identifier: letters, digits, '_', '.', '-'."),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]

Period = Literal["day", "week", "month", "quarter", "year"]

#: Longest text accepted as a number ("1250.00", "70%", "1e3"); anything longer is refused unread.
MAX_NUMBER_CHARS = 64

# ASCII digits only: Python's Decimal() and int() also read Arabic-Indic and full-width digits and skip
# "_" separators,
# none of which Money, the JSON Schema or a spreadsheet reads the same way.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_PERCENT = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t]*%", re.ASCII)
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: An int with more bits than this has more than MAX_NUMBER_CHARS digits; refused without str().
_MAX_INT_BITS = 213


def _number_text(value: str) -> str:
    text = value.strip(" \t")
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    return text


def _exact_decimal(value: Any) -> Decimal:
    """A number as an exact, finite Decimal: ASCII text ("0.75", "70%"), an int, a Decimal or a float."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, str):
        text = _number_text(value)
        # "70%" is how people write splits; keep it exact instead of going through float or a
        # rounding division: move the point two places.
        match = _PERCENT.fullmatch(text)
        if match:
            sign, digits, exponent = Decimal(match.group(1)).as_tuple()
            assert isinstance(exponent, int)
            # As an exact division by 100 would: "70%" is 0.7, "50.0%" is 0.5, "8%" is 0.08.
            shift = 0 if not any(digits) else 2
            while shift and len(digits) > 1 and digits[-1] == 0:
                digits, shift = digits[:-1], shift - 1
            return Decimal((sign, digits, exponent - shift))
        if _NUMBER.fullmatch(text) is None:
            if text.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
                raise ValueError(f"{text!r} is not a finite number")
            raise ValueError(
                f"{value[:MAX_NUMBER_CHARS]!r} is not a number; write ASCII digits with an optional "
                "'.', e.g. 0.75, 1250 or '70%'"
            )
        return Decimal(text)
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise ValueError(f"a number is at most {MAX_NUMBER_CHARS} characters long")
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        # A float has already lost the exact value the author wrote; repr gives the shortest text
        # that reads back to the same float, which is what they typed.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return value
    raise ValueError(f"expected a number, not {type(value).__name__}")


def _bounded(integer_digits: int) -> Callable[[Any], Decimal]:
    def check(value: Any) -> Decimal:
        number = _exact_decimal(value)
        problem = check_digits(number, integer_digits=integer_digits)
        if problem:
            raise ValueError(f"{_short(number)} {problem}")
        return number

    return check


def _short(number: Decimal) -> str:
    # "1E+999999999", never a billion zeros.
    text = str(number)
    return text if len(text) <= 40 else text[:20] + "..." + text[-10:]


def _whole(value: Any) -> Any:
    """A whole number from an int, integral Decimal or ASCII digits; bounded before conversion."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not a boolean")
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise ValueError(f"a number is at most {MAX_NUMBER_CHARS} characters long")
        return value
    if isinstance(value, str):
        text = _number_text(value)
        if _WHOLE.fullmatch(text) is None:
            raise ValueError(f"{value[:MAX_NUMBER_CHARS]!r} is not a whole number; write ASCII digits")
        return int(text)
    if isinstance(value, Decimal | float):
        number = _exact_decimal(value)
        if check_digits(number, integer_digits=MAX_AMOUNT_DIGITS, decimal_places=0) is not None:
            raise ValueError(f"{_short(number)} is not a whole number of at most {MAX_AMOUNT_DIGITS} digits")
        return int(number)
    raise ValueError(f"expected a whole number, not {type(value).__name__}")


Exact = BeforeValidator(_bounded(MAX_AMOUNT_DIGITS))
Whole = BeforeValidator(_whole)

_DECIMAL_TEXT = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_RATE_TEXT = r"^\s*(0*(\d{1,2}(\.\d*)?|100(\.0*)?)\s*%|0*(0?\.\d+|0|1(\.0*)?))\s*$"


def _number_schema(text_pattern: str, **bounds: int) -> WithJsonSchema:
    # Bounds go on the number branch, where JSON Schema can check them; text is checked by pattern.
    return WithJsonSchema(
        {"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": text_pattern}]}
    )


_PRECISION = f" At most {MAX_AMOUNT_DIGITS} digits before the point and {MAX_DECIMAL_PLACES} after it."

Number = Annotated[
    Decimal,
    Exact,
    Field(allow_inf_nan=False, description="An exact number." + _PRECISION),
    _number_schema(_DECIMAL_TEXT),
]
Rate = Annotated[
    Decimal,
    Exact,
    Field(
        ge=0,
        le=1,
        description="A share between 0 and 1; '70%' is accepted and means 0.70. "
        f"At most {MAX_DECIMAL_PLACES} decimal places.",
    ),
    _number_schema(_RATE_TEXT, minimum=0, maximum=1),
]
PositiveDecimal = Annotated[
    Decimal,
    Exact,
    Field(gt=0, allow_inf_nan=False),
    _number_schema(r"^\s*\+?(\d*[1-9]\d*(\.\d*)?|\d*\.\d*[1-9]\d*)\s*$", exclusiveMinimum=0),
]
NonNegativeDecimal = Annotated[
    Decimal,
    Exact,
    Field(ge=0, allow_inf_nan=False),
    _number_schema(r"^\s*\+?(\d+(\.\d*)?|\.\d+)\s*$", minimum=0),
]
Hours = Annotated[
    Decimal,
    Exact,
    Field(gt=0, le=MAX_HOURS, description=f"Business hours, more than 0 and at most {MAX_HOURS:,}."),
    _number_schema(
        r"^\s*\+?(\d*[1-9]\d*(\.\d*)?|\d*\.\d*[1-9]\d*)\s*$", exclusiveMinimum=0, maximum=MAX_HOURS
    ),
]
Days = Annotated[
    Decimal,
    Exact,
    Field(ge=0, le=MAX_DAYS, description=f"Days, from 0 to {MAX_DAYS:,}."),
    _number_schema(r"^\s*\+?(\d+(\.\d*)?|\.\d+)\s*$", minimum=0, maximum=MAX_DAYS),
]
Count = Annotated[int, Whole, Field(ge=0, le=MAX_COUNT)]
PositiveCount = Annotated[int, Whole, Field(ge=1, le=MAX_COUNT)]
WholeDays = Annotated[int, Whole, Field(ge=0, le=MAX_DAYS)]
PositiveWholeDays = Annotated[int, Whole, Field(ge=1, le=MAX_DAYS)]
Points = Annotated[int, Whole, Field(ge=-MAX_COUNT, le=MAX_COUNT)]


def _plan_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError("expected a date such as '2026-10-01', not a date and time")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date: {exc}") from None
    else:
        shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
        raise ValueError(f"expected a date as 'YYYY-MM-DD', e.g. '2026-10-01', not {shown}")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"{day.isoformat()} is outside the years {MIN_YEAR} to {MAX_YEAR}")
    return day


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

PlanDate = Annotated[
    date,
    BeforeValidator(_plan_date),
    WithJsonSchema({"type": "string", "format": "date"}),
    Field(description=f"A date 'YYYY-MM-DD' in the years {MIN_YEAR} to {MAX_YEAR}."),
]


def _money_amount(value: Any) -> Any:
    # Read the amount with the plan's number rules before Money sees it, so "1e40" or a 5,000-digit
    # amount is refused with the same message as any other number in the plan.
    if isinstance(value, Mapping) and "amount" in value and not isinstance(value["amount"], float):
        return {**value, "amount": _bounded(MAX_AMOUNT_DIGITS)(value["amount"])}
    if isinstance(value, str) and len(value) > MAX_NUMBER_CHARS + 8:
        raise ValueError(f"money text is at most {MAX_NUMBER_CHARS + 8} characters long")
    return value


def _money_bounds(value: Money, *, positive: bool) -> Money:
    amount, currency = value.amount, value.currency
    problem = check_digits(amount, integer_digits=MAX_AMOUNT_DIGITS)
    if problem:
        raise ValueError(f"{_short(amount)} {currency} {problem}")
    minor = Currency(currency).exponent
    if minor is None:
        raise ValueError(f"{currency} has no minor unit in ISO 4217, so plan amounts cannot be in it")
    if check_digits(amount, integer_digits=MAX_AMOUNT_DIGITS, decimal_places=minor) is not None:
        raise ValueError(
            f"{value} has more decimal places than {currency}'s minor unit ({minor}); "
            "plan amounts are whole minor units"
        )
    if positive and amount <= 0:
        raise ValueError(f"must be more than 0, not {value}; leave it out for none")
    return value


def located(problems: Sequence[tuple[str, str]]) -> PydanticCustomError:
    """An error that names where, inside the validated object, each problem is.

    Validators of models with nested parts (a journey's transitions, a calendar's weekdays, a deal's
    amount) raise this so messages point at ``journey.transitions[1].to`` rather than at ``journey``.
    Paths are relative to the object being validated; ``load_plan`` and ``parse_records`` prefix them.
    """
    summary = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
    return PydanticCustomError("located", "{summary}", {"summary": summary, "problems": tuple(problems)})


def join_path(base: str, relative: str) -> str:
    """Join a field path and a relative one: ``join_path("journey", "stages[1].id")``."""
    if not base:
        return relative
    if not relative:
        return base
    return base + relative if relative.startswith("[") else f"{base}.{relative}"


class FrozenModel(BaseModel):
    """Base of every plan and record model: immutable, strict about unknown keys."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
        str_strip_whitespace=False,
        use_attribute_docstrings=False,
    )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy the model; values cached from the old fields (e.g. a journey's graph) are dropped."""
        copied = super().model_copy(update=update, deep=deep)
        for name in [k for k in copied.__dict__ if k not in type(self).model_fields]:
            del copied.__dict__[name]
        return copied


def _currency_code(value: str) -> str:
    try:
        Currency(value)
    except ValueError:
        hint = f"; did you mean {value.upper()!r}?" if value.upper() != value else ""
        raise ValueError(f"{value!r} is not an ISO 4217 currency code{hint}") from None
    return value


CurrencyCode = Annotated[
    str,
    AfterValidator(_currency_code),
    Field(description="ISO 4217 alphabetic currency code, e.g. 'EUR'.", examples=["EUR", "USD"]),
]


def _plan_money(value: Money) -> Money:
    return _money_bounds(value, positive=False)


def _positive_plan_money(value: Money) -> Money:
    return _money_bounds(value, positive=True)


_MONEY_BOUNDS = (
    f"in whole minor units of its currency, with at most {MAX_AMOUNT_DIGITS} digits before the point"
)
PlanMoney = Annotated[
    Money,
    BeforeValidator(_money_amount),
    AfterValidator(_plan_money),
    Field(description=f"An amount and a currency, {_MONEY_BOUNDS}."),
]
PositivePlanMoney = Annotated[
    Money,
    BeforeValidator(_money_amount),
    AfterValidator(_positive_plan_money),
    Field(description=f"An amount of more than 0 and a currency, {_MONEY_BOUNDS}."),
]


def _has_minor_unit(value: str) -> str:
    if Currency(value).exponent is None:
        raise ValueError(
            f"{value} has no minor unit in ISO 4217 (funds, precious metals and test codes), so "
            "amounts in it cannot be rounded or paid; use a currency such as 'EUR'"
        )
    return value


MinorUnitCurrency = Annotated[
    str,
    AfterValidator(_currency_code),
    AfterValidator(_has_minor_unit),
    Field(
        description="ISO 4217 alphabetic currency code with a minor unit, e.g. 'EUR'.",
        examples=["EUR", "USD"],
    ),
]
