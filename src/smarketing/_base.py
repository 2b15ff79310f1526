"""Shared building blocks of the plan and record models (private)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from iso4217 import Currency
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

__all__ = [
    "CurrencyCode",
    "ID_PATTERN",
    "Exact",
    "FrozenModel",
    "Id",
    "NonNegativeDecimal",
    "Number",
    "Period",
    "PositiveDecimal",
    "Rate",
    "Text",
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

_PERCENT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")


def _reject_float_and_parse_percent(value: Any) -> Any:
    # "70%" is how people write splits; keep it exact instead of going through float.
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return Decimal(match.group(1)) / 100
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return value
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, float):
        # A float has already lost the exact value the author wrote; repr gives the shortest text
        # that reads back to the same float, which is what they typed.
        return Decimal(repr(value))
    return value


Exact = BeforeValidator(_reject_float_and_parse_percent)

Number = Annotated[Decimal, Exact, Field(allow_inf_nan=False)]
Rate = Annotated[
    Decimal,
    Exact,
    Field(ge=0, le=1, description="A share between 0 and 1; '70%' is accepted and means 0.70."),
]
PositiveDecimal = Annotated[Decimal, Exact, Field(gt=0, allow_inf_nan=False)]
NonNegativeDecimal = Annotated[Decimal, Exact, Field(ge=0, allow_inf_nan=False)]


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
