"""Shared building blocks of the plan and record models (private)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
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

__all__ = [
    "CurrencyCode",
    "Exact",
    "FrozenModel",
    "ID_PATTERN",
    "Id",
    "NonNegativeDecimal",
    "Number",
    "Period",
    "PositiveDecimal",
    "Rate",
    "Text",
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

_DECIMAL_TEXT = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_RATE_TEXT = r"^\s*(0*(\d{1,2}(\.\d*)?|100(\.0*)?)\s*%|0*(0?\.\d+|0|1(\.0*)?))\s*$"


def _number_schema(text_pattern: str, **bounds: int) -> WithJsonSchema:
    # Bounds go on the number branch, where JSON Schema can check them; text is checked by pattern.
    return WithJsonSchema(
        {"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": text_pattern}]}
    )


Number = Annotated[Decimal, Exact, Field(allow_inf_nan=False), _number_schema(_DECIMAL_TEXT)]
Rate = Annotated[
    Decimal,
    Exact,
    Field(ge=0, le=1, description="A share between 0 and 1; '70%' is accepted and means 0.70."),
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
