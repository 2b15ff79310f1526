"""Tests for smarketing.money: Money, allocate, and the laws they promise."""

from __future__ import annotations

import copy
import decimal
import json
import operator
import pickle
import re
import subprocess
import sys
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

import smarketing.money
from smarketing.errors import CurrencyMismatchError
from smarketing.money import Money, allocate
from smarketing.testing.strategies import currencies, moneys, weights

# Enough examples to find edge cases, few enough that the file runs in seconds; no deadline
# because shared CI machines are slow in bursts.
laws = settings(max_examples=200, deadline=None)

EUR = "EUR"


def eur(amount: str | int) -> Money:
    return Money(amount, EUR)


class Deal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    value: Money


# --- module surface -------------------------------------------------------------------------------


def test_all_is_exact_and_sorted() -> None:
    assert smarketing.money.__all__ == sorted(smarketing.money.__all__) == ["FxTable", "Money", "allocate"]


def test_money_module_does_not_import_hypothesis() -> None:
    code = "import sys, smarketing.money; sys.exit('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("12.30"), Decimal("12.30")),
        (12, Decimal(12)),
        ("12.30", Decimal("12.30")),
        ("-0.5", Decimal("-0.5")),
        ("+3", Decimal(3)),
        ("0.0001", Decimal("0.0001")),
        (10**17, Decimal(10**17)),
    ],
)
def test_amount_kinds(amount: Decimal | int | str, expected: Decimal) -> None:
    money = Money(amount, EUR)
    assert money.amount == expected
    assert str(money.amount) == str(expected)  # same digits, not just same value
    assert money.currency == EUR


def test_amount_keeps_places_as_given() -> None:
    assert str(Money("12.3", EUR).amount) == "12.3"
    assert str(Money("12.300", EUR).amount) == "12.300"


@pytest.mark.parametrize("zero", ["-0", "-0.00", Decimal("-0.000")])
def test_negative_zero_is_plain_zero(zero: str | Decimal) -> None:
    money = Money(zero, EUR)
    assert not money.amount.is_signed()
    assert not str(money).startswith("-")


@pytest.mark.parametrize("amount", [0.1, 1.0, float("nan")])
def test_float_amount_rejected_with_hint(amount: float) -> None:
    with pytest.raises(TypeError, match=r"float.*pass a str .* or a Decimal"):
        Money(amount, EUR)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [True, False, None, [1], Fraction(1, 2)])
def test_other_amount_types_rejected(amount: Any) -> None:
    with pytest.raises(TypeError, match="amount must be a str, int or Decimal"):
        Money(amount, EUR)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")])
def test_non_finite_amount_rejected(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        Money(amount, EUR)


@pytest.mark.parametrize(
    "amount", ["", " 1", "1 ", "1,00", "1e3", "1_000", ".5", "5.", "NaN", "١٢", "12.30 EUR"]
)
def test_bad_amount_text_rejected(amount: str) -> None:
    with pytest.raises(ValueError, match="not a plain decimal number"):
        Money(amount, EUR)


@pytest.mark.parametrize(("code", "hint"), [("eur", "'EUR'"), ("Usd", "'USD'"), ("jpy", "'JPY'")])
def test_lowercase_currency_rejected_with_hint(code: str, hint: str) -> None:
    with pytest.raises(ValueError, match=f"uppercase ISO 4217 code; use {hint}"):
        Money(1, code)


@pytest.mark.parametrize("code", ["ABC", "EURO", "", "E", "zzz"])
def test_unknown_currency_named(code: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"unknown ISO 4217 currency code {code!r}")):
        Money(1, code)


@pytest.mark.parametrize("code", [None, 978, b"EUR"])
def test_non_str_currency_rejected(code: Any) -> None:
    with pytest.raises(TypeError, match="currency must be an ISO 4217 code"):
        Money(1, code)


def test_currency_without_minor_unit_is_allowed() -> None:
    gold = Money("1.5", "XAU")
    assert gold.amount == Decimal("1.5")
    assert Money.zero("XAU") == Money(0, "XAU")


# --- immutability, copying, pickling -------------------------------------------------------------


@pytest.mark.parametrize("name", ["amount", "currency", "other"])
def test_assignment_blocked_with_advice(name: str) -> None:
    money = eur("1.00")
    with pytest.raises(AttributeError, match=r"immutable; use money \+ other or Money\(amount"):
        setattr(money, name, Decimal(2))
    with pytest.raises(AttributeError, match="immutable"):
        delattr(money, name)
    assert money == eur("1.00")


def test_no_instance_dict() -> None:
    assert not hasattr(eur(1), "__dict__")


@pytest.mark.parametrize("money", [eur("12.30"), Money("-7", "JPY"), Money("0.125", "BHD")])
def test_pickle_and_copy(money: Money) -> None:
    restored = pickle.loads(pickle.dumps(money))
    assert restored == money
    assert str(restored.amount) == str(money.amount)
    assert copy.copy(money) is money
    assert copy.deepcopy(money) is money


# --- minor units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "places"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("BHD", 3), ("CLF", 4)])
def test_minor_units(code: str, places: int) -> None:
    assert Money(1, code).minor_units == places


@pytest.mark.parametrize("code", ["XAU", "XXX", "XTS", "XDR"])
def test_no_minor_unit_operations_fail_clearly(code: str) -> None:
    money = Money(1, code)
    for operation in (
        lambda: money.minor_units,
        money.quantize,
        money.to_minor,
        money.is_exact,
        lambda: Money.from_minor(1, code),
        lambda: allocate(money, {"a": 1}),
    ):
        with pytest.raises(ValueError, match=f"{code} has no minor unit"):
            operation()


@pytest.mark.parametrize(("code", "text"), [("EUR", "0.00"), ("JPY", "0"), ("BHD", "0.000"), ("XAU", "0")])
def test_zero(code: str, text: str) -> None:
    zero = Money.zero(code)
    assert str(zero) == f"{text} {code}"
    assert not zero


@pytest.mark.parametrize(
    ("units", "code", "text"),
    [(1250, "EUR", "12.50"), (-1, "EUR", "-0.01"), (1250, "JPY", "1250"), (5, "BHD", "0.005")],
)
def test_from_minor_and_back(units: int, code: str, text: str) -> None:
    money = Money.from_minor(units, code)
    assert repr(money) == f"Money({text!r}, {code!r})"
    assert money.to_minor() == units


@pytest.mark.parametrize("units", [1.0, True, "12", Decimal(12)])
def test_from_minor_needs_int(units: Any) -> None:
    with pytest.raises(TypeError, match="units must be an int"):
        Money.from_minor(units, EUR)


@pytest.mark.parametrize(
    ("amount", "code", "exact"),
    [
        ("12.30", "EUR", True),
        ("12.3", "EUR", True),
        ("12.3000", "EUR", True),
        ("12.301", "EUR", False),
        ("12", "JPY", True),
        ("12.5", "JPY", False),
        ("0.001", "BHD", True),
    ],
)
def test_is_exact(amount: str, code: str, exact: bool) -> None:
    assert Money(amount, code).is_exact() is exact


def test_to_minor_refuses_sub_minor_digits() -> None:
    with pytest.raises(ValueError, match=r"not a whole number of minor units.*\.quantize"):
        eur("0.125").to_minor()


def test_to_minor_is_exact_for_the_largest_amounts() -> None:
    assert Money(10**18 - 1, EUR).to_minor() == (10**18 - 1) * 100


@pytest.mark.parametrize(
    ("amount", "code", "rounding", "expected"),
    [
        ("0.125", "EUR", ROUND_HALF_EVEN, "0.12"),
        ("0.135", "EUR", ROUND_HALF_EVEN, "0.14"),
        ("0.125", "EUR", ROUND_HALF_UP, "0.13"),
        ("-0.125", "EUR", ROUND_HALF_UP, "-0.13"),
        ("0.129", "EUR", ROUND_DOWN, "0.12"),
        ("0.121", "EUR", ROUND_UP, "0.13"),
        ("0.121", "EUR", ROUND_CEILING, "0.13"),
        ("-0.121", "EUR", ROUND_FLOOR, "-0.13"),
        ("12.5", "JPY", ROUND_HALF_EVEN, "12"),
        ("7", "EUR", ROUND_HALF_EVEN, "7.00"),
        ("1.00049", "BHD", ROUND_HALF_EVEN, "1.000"),
        ("-0.001", "EUR", ROUND_HALF_EVEN, "0.00"),
    ],
)
def test_quantize(amount: str, code: str, rounding: str, expected: str) -> None:
    result = Money(amount, code).quantize(rounding=rounding)
    assert repr(result) == f"Money({expected!r}, {code!r})"
    assert result.is_exact()


def test_quantize_default_is_half_even() -> None:
    assert eur("2.345").quantize() == eur("2.34")


@pytest.mark.parametrize("rounding", ["half_up", "", "ROUND_NEAREST"])
def test_quantize_rejects_unknown_rounding(rounding: str) -> None:
    with pytest.raises(ValueError, match="rounding must be one of the decimal module's modes"):
        eur("1.005").quantize(rounding=rounding)


def test_quantize_rounding_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        eur("1.005").quantize(ROUND_HALF_UP)  # type: ignore[call-arg]


# --- arithmetic -----------------------------------------------------------------------------------


def test_add_subtract_negate_abs() -> None:
    a, b = eur("10.25"), eur("0.5")
    assert a + b == eur("10.75")
    assert a - b == eur("9.75")
    assert b - a == eur("-9.75")
    assert -a == eur("-10.25")
    assert +a is a
    assert abs(eur("-3.10")) == eur("3.10")


def test_arithmetic_ignores_decimal_context() -> None:
    big = Money("123456789012345678.012345678901234567", EUR)
    with decimal.localcontext() as context:
        context.prec = 5
        total = big + eur("0.01")
        product = big * 3
    assert str(total.amount) == "123456789012345678.022345678901234567"
    assert str(product.amount) == "370370367037037034.037037036703703701"


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a / b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_currency_mismatch_names_both(operation: Any) -> None:
    with pytest.raises(CurrencyMismatchError, match=r"EUR and USD") as info:
        operation(eur("1.00"), Money("1.00", "USD"))
    assert isinstance(info.value, TypeError)


def test_equality_across_currencies_is_false_not_an_error() -> None:
    assert eur(1) != Money(1, "USD")


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        (3, "30.75"),
        (-2, "-20.50"),
        (0, "0.00"),
        (Decimal("0.5"), "5.125"),
        (Decimal("1.10"), "11.2750"),
        (Fraction(1, 2), "5.125"),
        (Fraction(2, 5), "4.10"),
        (Fraction(4, 1), "41.00"),
    ],
)
def test_multiply(factor: int | Decimal | Fraction, expected: str) -> None:
    money = eur("10.25")
    assert str((money * factor).amount) == expected
    assert str((factor * money).amount) == expected


def test_fraction_product_keeps_places_when_exact() -> None:
    # 1/3 is not a finite decimal, but 0.30 * 1/3 is.
    assert repr(eur("0.30") * Fraction(1, 3)) == "Money('0.10', 'EUR')"


def test_fraction_product_must_be_finite_decimal() -> None:
    with pytest.raises(ValueError, match=r"no finite decimal expansion.*allocate"):
        eur("10.00") * Fraction(1, 3)


@pytest.mark.parametrize("scalar", [1.5, 0.0])
def test_float_scalars_rejected_everywhere(scalar: float) -> None:
    money = eur("10.00")
    with pytest.raises(TypeError, match="float"):
        money * scalar  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        scalar * money  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        money / scalar  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        money + scalar  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        scalar + money  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        money - scalar  # type: ignore[operator]


@pytest.mark.parametrize("scalar", [True, "2", None])
def test_other_scalars_rejected(scalar: Any) -> None:
    with pytest.raises(TypeError):
        eur(1) * scalar
    with pytest.raises(TypeError):
        eur(1) / scalar


@pytest.mark.parametrize("scalar", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_scalars_rejected(scalar: Decimal) -> None:
    with pytest.raises(ValueError, match="cannot multiply"):
        eur(1) * scalar
    with pytest.raises(ValueError, match="cannot divide"):
        eur(1) / scalar


def test_money_times_money_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot multiply Money by Money"):
        eur(2) * eur(3)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("divisor", "expected"),
    [
        (4, "2.50"),
        (Decimal("0.5"), "20.0"),
        (Fraction(1, 3), "30.00"),
        (3, "3.333333333333333333333333333333333"),
        (-8, "-1.25"),
    ],
)
def test_divide_by_scalar_is_not_quantized(divisor: int | Decimal | Fraction, expected: str) -> None:
    assert str((eur("10.00") / divisor).amount) == expected


def test_division_ignores_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 3
        context.rounding = ROUND_DOWN
        third = eur("10.00") / 3
    assert third == eur("10.00") / 3
    assert len(third.amount.as_tuple().digits) == 34


def test_money_over_money_is_a_ratio() -> None:
    ratio = eur("30.00") / eur("120")
    assert isinstance(ratio, Decimal)
    assert ratio == Decimal("0.25")


@pytest.mark.parametrize("divisor", [0, Decimal("0.00"), Fraction(0), Money.zero(EUR)])
def test_divide_by_zero(divisor: Any) -> None:
    with pytest.raises(ZeroDivisionError, match=r"cannot divide 1\.00 EUR by"):
        eur("1.00") / divisor


def test_scalar_over_money_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        2 / eur(1)  # type: ignore[operator]


# --- sum ------------------------------------------------------------------------------------------


def test_builtin_sum() -> None:
    assert sum([eur("1.10"), eur("2.20"), eur("3.30")]) == eur("6.60")
    assert sum([]) == 0


def test_zero_plus_money_is_the_money() -> None:
    money = eur("1.00")
    assert 0 + money is money


@pytest.mark.parametrize("left", [1, -1, True, Decimal(0), Fraction(0)])
def test_only_int_zero_on_the_left(left: Any) -> None:
    with pytest.raises(TypeError, match="only int 0 is accepted"):
        left + eur(1)


@pytest.mark.parametrize("right", [0, 1, Decimal(0)])
def test_numbers_on_the_right_rejected(right: Any) -> None:
    with pytest.raises(TypeError, match="cannot add"):
        eur(1) + right


def test_builtin_sum_mixed_currencies_raises() -> None:
    with pytest.raises(CurrencyMismatchError):
        sum([eur(1), Money(1, "USD")])


def test_money_sum() -> None:
    assert Money.sum([], currency="JPY") == Money.zero("JPY")
    assert Money.sum(iter([eur("1"), eur("0.05")]), currency=EUR) == eur("1.05")
    with pytest.raises(CurrencyMismatchError):
        Money.sum([Money(1, "USD")], currency=EUR)
    with pytest.raises(TypeError, match="items must be Money"):
        Money.sum([1], currency=EUR)  # type: ignore[list-item]


# --- comparison, hashing, truth -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "lt", "eq"),
    [
        ("1.00", "2", True, False),
        ("1.0", "1.00", False, True),
        ("-1", "0", True, False),
        ("0.001", "0", False, False),
    ],
)
def test_ordering(a: str, b: str, lt: bool, eq: bool) -> None:
    x, y = eur(a), eur(b)
    assert (x < y) is lt
    assert (x == y) is eq
    assert (x <= y) is (lt or eq)
    assert (x > y) is not (lt or eq)
    assert (x >= y) is not lt


def test_equal_values_hash_equal() -> None:
    assert eur("1.0") == eur("1.00") == eur(1)
    assert len({eur("1.0"), eur("1.00"), eur(1), Money(1, "USD")}) == 2


@pytest.mark.parametrize("other", [1, Decimal(1), "1.00 EUR", None])
def test_equality_with_non_money_is_false(other: object) -> None:
    assert eur(1) != other
    assert other != eur(1)


@pytest.mark.parametrize("other", [0, Decimal(0), None, "1"])
def test_ordering_with_non_money_is_a_type_error(other: Any) -> None:
    with pytest.raises(TypeError, match="compare with Money of the same currency"):
        operator.lt(eur(1), other)
    with pytest.raises(TypeError):
        operator.lt(other, eur(1))


@pytest.mark.parametrize(("amount", "truth"), [("0", False), ("0.00", False), ("0.01", True)])
def test_bool(amount: str, truth: bool) -> None:
    assert bool(eur(amount)) is truth
    assert bool(-eur(amount)) is truth


# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "text", "representation"),
    [
        (Money("12.30", "EUR"), "12.30 EUR", "Money('12.30', 'EUR')"),
        (Money(-5, "JPY"), "-5 JPY", "Money('-5', 'JPY')"),
        (Money(Decimal("1E+3"), "USD"), "1000 USD", "Money('1000', 'USD')"),
        (Money(Decimal("1E-18"), "USD"), f"0.{'0' * 17}1 USD", f"Money('0.{'0' * 17}1', 'USD')"),
    ],
)
def test_str_and_repr(money: Money, text: str, representation: str) -> None:
    assert str(money) == text
    assert repr(money) == representation
    assert eval(representation) == money


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("", "1234.5 EUR"), (",.2f", "1,234.50 EUR"), (".0f", "1234 EUR"), (">10", "    1234.5 EUR")],
)
def test_format(spec: str, expected: str) -> None:
    assert format(eur("1234.5"), spec) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1250.00 EUR", Money("1250.00", "EUR")),
        ("EUR 1250.00", Money("1250.00", "EUR")),
        ("-3 JPY", Money(-3, "JPY")),
        ("BHD +0.125", Money("0.125", "BHD")),
        ("0 XAU", Money(0, "XAU")),
    ],
)
def test_parse(text: str, expected: Money) -> None:
    parsed = Money.parse(text)
    assert parsed == expected
    assert str(parsed.amount) == str(expected.amount)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1250.00",
        "EUR",
        "1250.00EUR",
        "1250.00  EUR",
        " 1250.00 EUR",
        "1,250.00 EUR",
        "EUR 1250.00 EUR",
        "1250.00 EURO",
        "€1250.00",
        "1e3 EUR",
    ],
)
def test_parse_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"cannot read {text!r} as money")):
        Money.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("12 eur", "use 'EUR'"), ("ABC 12", "unknown ISO 4217 currency code 'ABC'")],
)
def test_parse_explains_bad_currency(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Money.parse(text)


def test_parse_needs_str() -> None:
    with pytest.raises(TypeError, match="needs a str"):
        Money.parse(12)  # type: ignore[arg-type]


# --- pydantic -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Money("1250.00", "EUR"),
        "1250.00 EUR",
        "EUR 1250.00",
        {"amount": "1250.00", "currency": "EUR"},
        {"amount": Decimal("1250.00"), "currency": "EUR"},
    ],
)
def test_pydantic_validates_three_forms(value: object) -> None:
    deal = Deal(id="D-1", value=value)
    assert deal.value == Money("1250.00", "EUR")
    assert str(deal.value.amount) == "1250.00"


def test_pydantic_int_amount() -> None:
    assert Deal(id="D-1", value={"amount": 1250, "currency": "JPY"}).value == Money(1250, "JPY")


def test_pydantic_dumps_text_in_both_modes() -> None:
    deal = Deal(id="D-1", value=Money("1250.0", "EUR"))
    assert deal.model_dump() == {"id": "D-1", "value": "1250.0 EUR"}
    assert deal.model_dump(mode="json") == {"id": "D-1", "value": "1250.0 EUR"}
    assert json.loads(deal.model_dump_json()) == {"id": "D-1", "value": "1250.0 EUR"}


def test_pydantic_json_round_trip_is_exact() -> None:
    deal = Deal(id="D-1", value=Money("-0.125", "BHD"))
    again = Deal.model_validate_json(deal.model_dump_json())
    assert again == deal
    assert str(again.value.amount) == "-0.125"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"amount": 12.3, "currency": "EUR"}, "amount must not be a float"),
        ({"amount": "12.30"}, "missing currency"),
        ({"amount": "1", "currency": "EUR", "note": "x"}, "unexpected note"),
        ({"amount": "1", "currency": "eur"}, "use 'EUR'"),
        ({"amount": True, "currency": "EUR"}, "not bool"),
        ("12.30", "cannot read '12.30' as money"),
        ("12.30 ABC", "unknown ISO 4217 currency code 'ABC'"),
        (12.3, "expected money as"),
        (1250, "expected money as"),
        (None, "expected money as"),
    ],
)
def test_pydantic_rejects_with_clear_message(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Deal(id="D-1", value=value)
    [error] = info.value.errors()
    assert error["loc"] == ("value",)
    assert error["type"] == "money"
    assert message in error["msg"]


def test_pydantic_rejects_float_amount_in_json() -> None:
    with pytest.raises(ValidationError, match="amount must not be a float"):
        Deal.model_validate_json('{"id": "D-1", "value": {"amount": 12.3, "currency": "EUR"}}')


def test_pydantic_json_schema_accepts_both_forms() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = Deal.model_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for good in [
        "1250.00 EUR",
        "EUR -3",
        {"amount": "1.5", "currency": "EUR"},
        {"amount": 7, "currency": "JPY"},
    ]:
        assert validator.is_valid({"id": "D-1", "value": good}), good
    for bad in [
        "1250.00",
        "1250 eur",
        "1,250.00 EUR",
        12.5,
        {"amount": "1.5"},
        {"amount": "1.5", "currency": "EUR", "x": 1},
        {"amount": "1.5", "currency": "eur"},
        {"amount": "1e3", "currency": "EUR"},
    ]:
        assert not validator.is_valid({"id": "D-1", "value": bad}), bad


def test_pydantic_serialization_schema_is_text() -> None:
    schema = TypeAdapter(Money).json_schema(mode="serialization")
    assert schema["type"] == "string"
    assert "anyOf" not in schema


@pytest.mark.parametrize(
    "text", ["1250.00 EUR", "EUR 1250.00", "1 eur", "1250.00  EUR", "1,00 EUR", "EUR 1.", "-0 JPY"]
)
def test_schema_pattern_agrees_with_parse(text: str) -> None:
    pattern = TypeAdapter(Money).json_schema()["anyOf"][0]["pattern"]
    try:
        Money.parse(text)
    except ValueError:
        parses = False
    else:
        parses = True
    assert (re.search(pattern, text) is not None) is parses


# --- allocate: examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "shares", "expected"),
    [
        ("100.00 EUR", {"a": 1, "b": 1, "c": 1}, {"a": "33.34", "b": "33.33", "c": "33.33"}),
        ("0.05 EUR", {"a": 1, "b": 1}, {"a": "0.03", "b": "0.02"}),
        ("10 JPY", {"m": Decimal("0.7"), "s": Decimal("0.3")}, {"m": "7", "s": "3"}),
        ("1.000 BHD", {"x": Fraction(1, 3), "y": Fraction(2, 3)}, {"x": "0.333", "y": "0.667"}),
        ("1.00 EUR", {"a": 0, "b": 1}, {"a": "0.00", "b": "1.00"}),
        ("0.00 EUR", {"a": 1, "b": 2}, {"a": "0.00", "b": "0.00"}),
        ("12.34 EUR", {"only": 5}, {"only": "12.34"}),
        ("1.00 EUR", {"a": 2, "b": 1, "c": 1, "d": 0}, {"a": "0.50", "b": "0.25", "c": "0.25", "d": "0.00"}),
        ("-100.00 EUR", {"a": 1, "b": 1, "c": 1}, {"a": "-33.34", "b": "-33.33", "c": "-33.33"}),
        ("0.03 EUR", {"a": 1, "b": 1, "c": 1, "d": 1}, {"a": "0.01", "b": "0.01", "c": "0.01", "d": "0.00"}),
    ],
)
def test_allocate_examples(total: str, shares: dict[str, Any], expected: dict[str, str]) -> None:
    money = Money.parse(total)
    result = allocate(money, shares)
    assert {key: str(value.amount) for key, value in result.items()} == expected
    assert all(value.currency == money.currency for value in result.values())


def test_largest_remainder_beats_position() -> None:
    # 0.10 over 3:5:2 -> exact 0.03, 0.05, 0.02: no leftover. Over 1:1:1 -> 3.33.. each, 1 left.
    # Over 2:3:4 of 0.10: exact 2.22.., 3.33.., 4.44.. cents -> remainders .22 .33 .44 -> "c" wins.
    assert allocate(eur("0.10"), {"a": 2, "b": 3, "c": 4}) == {
        "a": eur("0.02"),
        "b": eur("0.03"),
        "c": eur("0.05"),
    }


def test_ties_go_to_smaller_key_not_first_position() -> None:
    forward = allocate(eur("0.02"), {"z": 1, "y": 1, "x": 1})
    assert forward == {"x": eur("0.01"), "y": eur("0.01"), "z": eur("0.00")}
    assert list(forward) == ["x", "y", "z"]


def test_int_keys_sorted_numerically() -> None:
    assert list(allocate(eur("0.01"), {10: 1, 9: 1, 2: 1})) == [2, 9, 10]
    assert allocate(eur("0.01"), {10: 1, 9: 1, 2: 1})[2] == eur("0.01")


def test_tuple_keys() -> None:
    result = allocate(eur("1.00"), {("ae", 2): 1, ("ae", 1): 1, ("sdr", 1): 1})
    assert list(result) == [("ae", 1), ("ae", 2), ("sdr", 1)]
    assert result[("ae", 1)] == eur("0.34")


def test_unsortable_keys_explained() -> None:
    with pytest.raises(TypeError, match=r"keys must be mutually orderable .*int, str"):
        allocate(eur(1), {"a": 1, 2: 1})  # type: ignore[type-var]


def test_allocate_does_not_mutate_weights() -> None:
    shares = {"b": 1, "a": 2}
    allocate(eur("1.00"), shares)
    assert shares == {"b": 1, "a": 2}
    assert list(shares) == ["b", "a"]


@pytest.mark.parametrize(
    ("shares", "error", "message"),
    [
        ({}, ValueError, "weights is empty"),
        ({"a": 1, "rep-7": -1}, ValueError, "weight for 'rep-7' is negative"),
        ({"a": 0, "b": 0}, ValueError, "every weight is zero"),
        ({"a": 1, "rep-7": 0.5}, TypeError, r"weight for 'rep-7' must be .*not float.*Decimal\('0.5'\)"),
        ({"rep-7": True}, TypeError, "weight for 'rep-7' must be an int, Decimal or Fraction"),
        ({"rep-7": "1"}, TypeError, "weight for 'rep-7'"),
        ({"a": 1, "rep-7": Decimal("NaN")}, ValueError, "weight for 'rep-7' must be a finite"),
        ({"rep-7": Decimal("-Infinity")}, ValueError, "weight for 'rep-7' must be a finite"),
        ({"rep-7": Fraction(-1, 2)}, ValueError, "weight for 'rep-7' is negative"),
    ],
)
def test_allocate_rejects_bad_weights(shares: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        allocate(eur("1.00"), shares)


def test_allocate_needs_money_and_a_mapping() -> None:
    with pytest.raises(TypeError, match="total must be Money"):
        allocate(Decimal("1.00"), {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weights must be a mapping"):
        allocate(eur(1), [("a", 1)])  # type: ignore[arg-type]


def test_allocate_needs_whole_minor_units() -> None:
    with pytest.raises(ValueError, match=r"cannot allocate 10\.005 EUR: .*\.quantize"):
        allocate(eur("10.005"), {"a": 1})


# --- laws -----------------------------------------------------------------------------------------


def exact_share(total: Money, shares: dict[str, Any], key: str) -> Fraction:
    weight_sum = sum((Fraction(w) for w in shares.values()), Fraction(0))
    return Fraction(total.to_minor()) * Fraction(shares[key]) / weight_sum


# Each allocation law gets the full example budget; drawing weight mappings dominates the run
# time, so laws about one (total, weights) draw share a test.


@laws
@given(moneys(), weights())
def test_law_allocation_is_exact_and_fair(total: Money, shares: dict[str, Any]) -> None:
    result = allocate(total, shares)
    # Conservation: the shares add up to the total, to the minor unit.
    assert sum(result.values()) == total
    assert sum(value.to_minor() for value in result.values()) == total.to_minor()
    # Every share is a whole number of minor units in the total's currency, keyed in sorted order.
    assert list(result) == sorted(shares)
    assert all(value.is_exact() and value.currency == total.currency for value in result.values())
    for key, value in result.items():
        # Fairness: strictly less than one minor unit from the exact proportion.
        assert abs(value.to_minor() - exact_share(total, shares, key)) < 1
        # A zero weight gets exactly zero.
        if shares[key] == 0:
            assert value == Money.zero(total.currency)


@laws
@given(
    moneys(),
    weights(),
    st.data(),
    st.one_of(
        st.integers(1, 10**6),
        st.decimals(min_value="0.001", max_value=1000, places=3),
        st.fractions(min_value=Fraction(1, 1000), max_value=1000),
    ),
    st.text("ABCDEFGHIJ", min_size=1, max_size=4),
)
def test_law_allocation_is_invariant(
    total: Money,
    shares: dict[str, Any],
    data: st.DataObject,
    factor: int | Decimal | Fraction,
    newcomer: str,
) -> None:
    result = allocate(total, shares)
    # Input order changes nothing, not even the order of the result.
    reordered = dict(data.draw(st.permutations(list(shares.items())), label="reordered"))
    assert list(allocate(total, reordered).items()) == list(result.items())
    # A clawback is the mirror image of the payout.
    assert allocate(-total, shares) == {key: -value for key, value in result.items()}
    # Scaling every weight by the same positive constant changes nothing.
    scaled = {key: Fraction(weight) * Fraction(factor) for key, weight in shares.items()}
    assert allocate(total, scaled) == result
    # A zero-weight newcomer gets zero and takes nothing from anyone (uppercase keys never
    # collide with the lowercase ones weights() draws).
    with_newcomer = allocate(total, {**shares, newcomer: 0})
    assert with_newcomer.pop(newcomer) == Money.zero(total.currency)
    assert with_newcomer == result


# Half the Money range, so that a sum or difference of two stays inside it.
_HALF = {"min_value": -(10**17), "max_value": 10**17}
same_currency_pairs = currencies().flatmap(
    lambda code: st.tuples(moneys(code, **_HALF), moneys(code, **_HALF))
)


@laws
@given(same_currency_pairs)
def test_law_add_then_subtract_is_identity(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert a + b - b == a
    assert a + b == b + a
    assert a - a == Money.zero(a.currency)
    negated = -a
    assert -negated == a


@laws
@given(
    currencies().flatmap(
        lambda code: st.lists(moneys(code, min_value=-(10**16), max_value=10**16), min_size=1, max_size=20)
    )
)
def test_law_sum_matches_minor_unit_sum(amounts: list[Money]) -> None:
    total = sum(amounts)
    assert isinstance(total, Money)
    assert total.to_minor() == sum(amount.to_minor() for amount in amounts)
    assert Money.sum(amounts, currency=amounts[0].currency) == total


@laws
@given(moneys(extra_places=3) | moneys(currencies(include_unitless=True)))
def test_law_text_round_trip(money: Money) -> None:
    assert Money.parse(str(money)) == money
    assert str(Money.parse(str(money)).amount) == str(money.amount)
    assert Money.parse(f"{money.currency} {money.amount:f}") == money
    assert eval(repr(money)) == money


@laws
@given(moneys(extra_places=2, **_HALF))
def test_law_quantize_is_exact_and_close(money: Money) -> None:
    rounded = money.quantize()
    assert rounded.is_exact()
    assert abs(rounded.amount - money.amount) * 10**money.minor_units <= Decimal("0.5")
    assert rounded.quantize() == rounded


@laws
@given(moneys(extra_places=2) | moneys(currencies(include_unitless=True)))
def test_law_pydantic_round_trip(money: Money) -> None:
    deal = Deal(id="D-1", value=money)
    assert Deal.model_validate(deal.model_dump()) == deal
    again = Deal.model_validate_json(deal.model_dump_json())
    assert again == deal
    assert str(again.value.amount) == str(money.amount)


@laws
@given(moneys(), moneys())
def test_law_equality_and_hash_agree(a: Money, b: Money) -> None:
    assert (a == b) == (a.currency == b.currency and a.amount == b.amount)
    if a == b:
        assert hash(a) == hash(b)
    same = Money(a.amount.quantize(Decimal("0.0001")) if a.amount.adjusted() < 20 else a.amount, a.currency)
    assert same == a
    assert hash(same) == hash(a)
