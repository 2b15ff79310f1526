"""Hostile money: amounts, arithmetic, allocate weights and FX rates stay in range, with a located error."""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings

from smarketing.errors import DataError
from smarketing.money import FxTable, Money, allocate
from smarketing.testing.strategies import moneys, weights

from .conftest import assert_names

D = date(2026, 10, 1)

# --- Money bounds: at most 18 integer digits and 18 places, read from the exponent (instant) -------------

OUT_OF_RANGE = {
    "1e999999999": Decimal("1e999999999"),
    "-1e999999999": Decimal("-1e999999999"),
    "1e-999999999": Decimal("1e-999999999"),
    "1e19": Decimal("1e19"),
    "1e18": Decimal("1e18"),
    "19-digit-int": 10**18,
    "40-digit-int": 10**40,
    "19-places": Decimal("0.0000000000000000001"),
    "30-places": Decimal("1E-30"),
    "text-19-digits": "1000000000000000000",
    "text-19-places": "0.1234567890123456789",
    "neg-19-digits": "-1000000000000000000.00",
}


@pytest.mark.parametrize("amount", list(OUT_OF_RANGE.values()), ids=list(OUT_OF_RANGE))
def test_money_out_of_range_is_refused(amount: object) -> None:
    with pytest.raises(ValueError, match="range of Money") as info:
        Money(amount, "EUR")  # type: ignore[arg-type]
    assert_names(str(info.value), "at most 18")


IN_RANGE = ["999999999999999999", "-999999999999999999.99", "0.000000000000000001", "1.500000000000000000000"]


@pytest.mark.parametrize("amount", IN_RANGE)
def test_money_in_range_is_kept_exactly(amount: str) -> None:
    money = Money(amount, "EUR")
    assert money.amount == Decimal(amount)
    assert money.amount.as_tuple() == Decimal(amount).as_tuple()


@pytest.mark.parametrize("zero", ["0E-999999999", "0E+999999999", "-0E-50"])
def test_zero_with_extreme_exponent_is_brought_into_range(zero: str) -> None:
    money = Money(Decimal(zero), "EUR")
    assert money.amount == 0
    assert (money + Money("1.25", "EUR")).amount == Decimal("1.25")


@pytest.mark.parametrize(
    ("operation", "what"),
    [
        (lambda: Money("999999999999999999", "EUR") + Money("1", "EUR"), "the sum"),
        (lambda: Money("-999999999999999999", "EUR") - Money("1", "EUR"), "the difference"),
        (lambda: Money("999999999999999999", "EUR") * 10, "the product"),
        (lambda: Money("1", "EUR") * Decimal("1e40"), "factor"),
        (lambda: Money("1", "EUR") * Decimal("1e-999999999"), "factor"),
        (lambda: Money("1", "EUR") * Fraction(1, 10**200), "factor"),
        (lambda: Money("1", "EUR") / Decimal("1e-999999999"), "divisor"),
        (lambda: Money("1", "EUR") / Fraction(10**200, 3), "divisor"),
        (lambda: Money("900000000000000000", "EUR") / Decimal("0.001"), "the quotient"),
        (lambda: Money("999999999999999999.999", "EUR").quantize(), "the rounded amount"),
    ],
    ids=[
        "add",
        "sub",
        "mul",
        "mul-huge",
        "mul-tiny",
        "mul-fraction",
        "div-tiny",
        "div-fraction",
        "div",
        "quantize",
    ],
)
def test_arithmetic_out_of_range_is_refused(operation: object, what: str) -> None:
    with pytest.raises(ValueError, match=r"at most|digits") as info:
        operation()  # type: ignore[operator]
    assert_names(str(info.value), what)


@pytest.mark.parametrize("units", [10**20, -(10**20), 10**40])
def test_from_minor_out_of_range(units: int) -> None:
    with pytest.raises(ValueError, match="range of Money"):
        Money.from_minor(units, "EUR")


@pytest.mark.parametrize("text", ["1e999999999 EUR", "EUR 1e5", "1E3 EUR", "NaN EUR", "inf EUR"])
def test_parse_refuses_exponent_forms(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        Money.parse(text)


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XAG", "XDR"])
def test_codes_without_minor_unit_cannot_be_counted(code: str) -> None:
    with pytest.raises(ValueError, match="no minor unit") as info:
        Money("1", code).to_minor()
    assert_names(str(info.value), code)


# --- allocate weights -------------------------------------------------------------------------------------

BAD_WEIGHTS = {
    "decimal-1e-999999999": Decimal("1e-999999999"),
    "decimal-1e999999999": Decimal("1e999999999"),
    "decimal-1e-500": Decimal("1e-500"),
    "int-5000-digits": 10**5000,
    "fraction-huge-denominator": Fraction(1, 10**5000),
    "fraction-huge-numerator": Fraction(10**1000, 7),
}


@pytest.mark.parametrize("weight", list(BAD_WEIGHTS.values()), ids=list(BAD_WEIGHTS))
def test_allocate_refuses_huge_weights_instantly(weight: object) -> None:
    with pytest.raises(ValueError, match="at most 400") as info:
        allocate(Money("10.00", "EUR"), {"a": weight, "b": 1})  # type: ignore[dict-item]
    assert_names(str(info.value), "'a'")


@pytest.mark.parametrize(
    "weight", [Decimal("1e-300"), Decimal("5e-324"), Decimal("1e300"), Decimal("0E-999999999"), 10**399]
)
def test_allocate_accepts_weights_in_range(weight: Decimal | int) -> None:
    shares = allocate(Money("10.00", "EUR"), {"a": weight, "b": 1})
    assert sum(shares.values()) == Money("10.00", "EUR")


@pytest.mark.parametrize("weight", [Decimal("NaN"), Decimal("Infinity"), Decimal("-1"), -1])
def test_allocate_refuses_non_finite_and_negative(weight: object) -> None:
    with pytest.raises(ValueError, match=r"finite|negative") as info:
        allocate(Money("10.00", "EUR"), {"a": weight})  # type: ignore[dict-item]
    assert_names(str(info.value), "'a'")


# --- FX rates ---------------------------------------------------------------------------------------------

BAD_RATES = {
    "40-digits": "1" + "0" * 39,
    "13-digits": "1000000000000",
    "60-places": "0." + "0" * 59 + "1",
    "19-places": "0.0000000000000000001",
    "zero": "0",
    "negative": "-0.92",
    "nan": Decimal("NaN"),
    "infinity": Decimal("Infinity"),
    "exponent-huge": Decimal("1e999999999"),
    "exponent-tiny": Decimal("1e-999999999"),
    "text-exponent": "1e5",
    "text-comma": "0,92",
    "text-arabic-digits": "\u0660.\u0669\u0662",
    "text-underscore": "0.9_2",
}


@pytest.mark.parametrize("rate", list(BAD_RATES.values()), ids=list(BAD_RATES))
def test_fx_rate_out_of_range_names_pair_and_date(rate: object) -> None:
    with pytest.raises(DataError) as info:
        FxTable([("USD", "EUR", D, rate)])  # type: ignore[list-item]
    assert_names(str(info.value), "USD/EUR", "2026-10-01")


@pytest.mark.parametrize(
    "rate", ["999999999999.999999999999999999", "0.000000000000000001", "1", 7, Decimal("0.92")]
)
def test_fx_rate_in_range_is_kept(rate: object) -> None:
    fx = FxTable([("USD", "EUR", D, rate)])  # type: ignore[list-item]
    assert fx.rate("USD", "EUR", D) == Decimal(rate)  # type: ignore[arg-type]


def test_fx_float_rate_is_a_type_error_naming_the_pair() -> None:
    with pytest.raises(TypeError) as info:
        FxTable([("USD", "EUR", D, 0.92)])  # type: ignore[list-item]
    assert_names(str(info.value), "USD/EUR", "2026-10-01")


def test_fx_two_rates_for_one_day_are_refused() -> None:
    with pytest.raises(DataError) as info:
        FxTable([("USD", "EUR", D, "0.92"), ("USD", "EUR", D, "0.93")])
    assert_names(str(info.value), "USD/EUR", "2026-10-01")


@pytest.mark.parametrize(
    ("rate", "amount", "expected"),
    [
        ("0.92", "92.00", "100.00"),
        ("0.95", "95.00", "100.00"),
        ("2", "3.00", "1.50"),
        ("3", "1.00", "0.33"),
        ("1.1712", "117.12", "100.00"),
        ("0.000000000000000001", "0.01", "10000000000000000.00"),
    ],
)
def test_inverse_rate_is_derived(rate: str, amount: str, expected: str) -> None:
    fx = FxTable([("USD", "EUR", D, rate)])
    assert fx.convert(Money(amount, "EUR"), "USD", D) == Money(expected, "USD")
    assert fx.rate("EUR", "USD", D) == decimal.Context(prec=34).divide(Decimal(1), Decimal(rate))
    assert fx.pairs() == [("USD", "EUR")]


def test_given_direction_wins_over_the_inverse() -> None:
    fx = FxTable([("USD", "EUR", D, "0.92"), ("EUR", "USD", D, "1.10")])
    assert fx.rate("EUR", "USD", D) == Decimal("1.10")


def test_inverse_rate_has_34_significant_digits() -> None:
    fx = FxTable([("USD", "EUR", D, "3")])
    assert str(fx.rate("EUR", "USD", D)) == "0." + "3" * 34


@pytest.mark.parametrize(("base", "quote"), [("EUR", "JPY"), ("JPY", "USD"), ("GBP", "EUR")])
def test_unknown_pairs_name_the_pair(base: str, quote: str) -> None:
    fx = FxTable([("USD", "EUR", D, "0.92")])
    with pytest.raises(DataError, match="no rates for this pair") as info:
        fx.rate(base, quote, D)
    assert_names(str(info.value), f"{base}/{quote}")


def test_conversion_result_out_of_range_is_refused() -> None:
    fx = FxTable([("USD", "EUR", D, "999999999999")])
    with pytest.raises(ValueError, match="converted amount"):
        fx.convert(Money("999999999999999.00", "USD"), "EUR", D)


# --- strategies draw only valid values ------------------------------------------------------------------


@settings(max_examples=200, database=None, deadline=None)
@given(moneys(extra_places=3))
def test_strategy_moneys_are_in_range(money: Money) -> None:
    assert Money(money.amount, money.currency) == money


@settings(max_examples=100, database=None, deadline=None)
@given(moneys("EUR"), weights())
def test_strategy_weights_allocate(total: Money, shares: dict[str, object]) -> None:
    assert sum(allocate(total, shares).values()) == total  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"min_value": 10**18}, {"max_value": -(10**19)}, {"extra_places": 15}],
    ids=["min-beyond", "max-beyond", "too-many-places"],
)
def test_strategy_refuses_bounds_outside_money(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"Money range|extra_places"):
        moneys("EUR", **options)  # type: ignore[arg-type]
