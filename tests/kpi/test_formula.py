"""The formula language: grammar, units, undefined values, limits, and a fuzz test of the parser."""

from __future__ import annotations

import contextlib
import pickle
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.errors import FormulaError, PlanError
from smarketing.kpi import Dimension, Undefined, parse_formula
from smarketing.testing.strategies import formulas

KNOWN = {
    "mqls": Dimension.COUNT,
    "sqls": Dimension.COUNT,
    "won": Dimension.COUNT,
    "lost": Dimension.COUNT,
    "revenue": Dimension.MONEY,
    "cycle_days": Dimension.DURATION / Dimension.COUNT,
    "avg_deal_size": Dimension.MONEY / Dimension.COUNT,
    "win_rate_input": Dimension.RATIO,
}


def value(text: str, **values: int) -> Fraction | Undefined:
    return parse_formula(text, metrics=KNOWN).evaluate(lambda name, shift: Fraction(values[name]))


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("sqls / mqls", "a ratio"),
        ("won / (won + lost)", "a ratio"),
        ("1 - won / (won + lost)", "a ratio"),
        ("mqls + 10", "a count"),
        ("revenue / won", "money per count"),
        ("revenue - revenue * win_rate_input", "money"),
        ("avg_deal_size * won", "money"),
        ("hours(4) + days(1)", "a duration"),
        ("avg_deal_size / cycle_days", "money per duration"),
        ("if_zero(sqls / mqls, 0)", "a ratio"),
        ("min(mqls, sqls, 3)", "a count"),
        ("ratio(revenue, revenue)", "a ratio"),
        ("lag(mqls, 2)", "a count"),
        ("-mqls", "a count"),
        ("42", "a number"),
    ],
)
def test_units(text: str, unit: str) -> None:
    assert parse_formula(text, metrics=KNOWN).unit.describe() == unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sqls / sql", "col 8: unknown metric 'sql'; did you mean 'sqls'?"),
        ("revenue + won", "col 9: cannot add money (revenue) and a count (won)"),
        ("won - revenue", "col 5: cannot subtract money (revenue) from a count (won)"),
        ("cycle_days + win_rate_input", "col 12: cannot add a duration per count (cycle_days) and a ratio"),
        ("revenue * revenue", "col 9: revenue * revenue gives money^2, which no KPI can be measured in"),
        ("min(revenue, won)", "col 14: min() needs arguments in one unit"),
        ("mqls.__class__", "col 5: unexpected character '.': attribute access is not allowed"),
        ("mqls ** 99", "col 6: powers ('**') are not supported"),
        ("2 ^ 3", "col 3: unexpected character '^': powers are not supported"),
        ("lambda", "col 1: 'lambda' is not allowed"),
        ("__import__(mqls)", "col 1: unknown function '__import__'"),
        ("exec(1)", "col 1: unknown function 'exec'"),
        ("mqls[0]", "col 5: unexpected character '['"),
        ("'text'", "col 1: unexpected character"),
        ("mqls sqls", "col 6: expected an operator before 'sqls'"),
        ("(mqls", "col 6: expected ')', found the end"),
        ("mqls +", "col 7: the formula ends too early"),
        ("", "col 1: the formula is empty"),
        ("   ", "col 1: the formula is empty"),
        ("lag(mqls, 0)", "col 11: lag() needs a whole number of periods from 1 to 24"),
        ("lag(mqls, 1.5)", "col 11: lag() needs a whole number"),
        ("lag(lag(mqls, 20), 20)", "col 1: lags add up to 40 periods; at most 24"),
        ("days(mqls)", "col 6: days() takes a number"),
        ("ratio(mqls)", "col 1: ratio() takes 2 argument(s), not 1"),
        ("lag", "col 1: 'lag' is a function; call it as lag(...)"),
        ("mqls == 1", "col 6: unexpected character '='"),
        ("1" * 31, "col 1: number has more than 30 digits"),
        ("(" * 40 + "mqls" + ")" * 40, "col 33: the formula is nested too deeply (more than 32 levels)"),
        ("-" * 40 + "mqls", "col 33: the formula is nested too deeply"),
        (" + ".join(["mqls"] * 120), "the formula is too long (more than 200 parts)"),
        ("mqls" + " " * 1000, "col 1001: the formula is longer than 1000 characters"),
        ("max(" + ", ".join(["1"] * 17) + ")", "col 51: max() takes at most 16 arguments"),
    ],
)
def test_errors_name_the_column(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as info:
        parse_formula(text, metrics=KNOWN)
    assert message in str(info.value)
    assert isinstance(info.value, PlanError)
    assert info.value.formula == text
    assert str(info.value).startswith(f"col {info.value.col}: ")


def test_formula_error_pickles() -> None:
    with pytest.raises(FormulaError) as info:
        parse_formula("sqls / sql", metrics=KNOWN)
    again = pickle.loads(pickle.dumps(info.value))
    assert (str(again), again.col, again.formula) == (str(info.value), 8, "sqls / sql")


def test_exact_arithmetic() -> None:
    assert value("sqls / mqls", sqls=1, mqls=3) == Fraction(1, 3)
    assert value("won / (won + lost)", won=1, lost=2) * 3 == 1
    assert value("0.1 + 0.2") == Fraction(3, 10)
    assert value("avg(1, 2)") == Fraction(3, 2)
    assert value("sum(mqls, 2, 3)", mqls=1) == 6
    assert value("max(mqls, sqls) - min(mqls, sqls)", mqls=1, sqls=7) == 6
    assert value("days(2) - hours(3)") == 45


def test_division_by_zero_is_undefined_with_reason() -> None:
    result = value("sqls / mqls", sqls=3, mqls=0)
    assert result == Undefined("division by zero: mqls is 0 (col 8)")
    assert not result
    assert value("ratio(won, won + lost) + 1", won=0, lost=0) == Undefined(
        "division by zero: won + lost is 0 (col 12)"
    )
    assert value("if_zero(sqls / mqls, 0)", sqls=1, mqls=0) == 0
    assert value("if_zero(mqls, 7)", mqls=0) == 7
    assert value("if_zero(mqls, 7)", mqls=2) == 2


def test_undefined_propagates_and_keeps_the_first_reason() -> None:
    formula = parse_formula("mqls + sqls * 2", metrics=KNOWN)
    missing = Undefined("no data for 2026-10")
    assert formula.evaluate(lambda name, shift: missing if name == "mqls" else Fraction(1)) == missing
    assert parse_formula("min(mqls, 1)", metrics=KNOWN).evaluate(lambda n, s: missing) == missing


def test_lag_shifts_periods() -> None:
    formula = parse_formula("(mqls - lag(mqls, 1)) / lag(mqls, 1)", metrics=KNOWN)
    assert formula.max_lag == 1
    history = {0: Fraction(15), 1: Fraction(10)}
    assert formula.evaluate(lambda name, shift: history[shift]) == Fraction(1, 2)
    zero = formula.evaluate(lambda name, shift: Fraction(0) if shift else Fraction(5))
    assert zero == Undefined("division by zero: lag(mqls, 1) is 0 (col 25)")
    nested = parse_formula("lag(lag(mqls, 1) + lag(mqls, 2), 3)", metrics=KNOWN)
    assert nested.max_lag == 5
    assert nested.evaluate(lambda name, shift: Fraction(shift)) == 9


@pytest.mark.parametrize(
    ("text", "unit", "ok"),
    [
        ("revenue / won", "money", True),
        ("revenue / won", "ratio", False),
        ("mqls", "count", True),
        ("mqls", "ratio", False),
        ("sqls / mqls", "count", False),
        ("cycle_days", "days", True),
        ("cycle_days", "hours", True),
        ("cycle_days", "money", False),
        ("avg_deal_size * won / cycle_days", "money_per_day", True),
        ("3", "money", True),
    ],
)
def test_accepts_kpi_units(text: str, unit: str, ok: bool) -> None:
    assert parse_formula(text, metrics=KNOWN).accepts(unit) is ok


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("mqlswon_ +-*/().,0123456789 lagif_zerodayshours()[]'.\"*%=<>"), max_size=80
    )
)
def test_fuzz_parser_only_raises_plan_errors(text: str) -> None:
    try:
        formula = parse_formula(text, metrics=KNOWN)
    except PlanError:
        return
    formula.evaluate(lambda name, shift: Fraction(shift + 1))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_parser_on_any_text(text: str) -> None:
    with contextlib.suppress(PlanError):
        parse_formula(text, metrics=KNOWN)


@settings(max_examples=200, deadline=None)
@given(formulas(sorted(KNOWN)))
def test_generated_formulas_parse_or_fail_with_a_column(text: str) -> None:
    try:
        formula = parse_formula(text, metrics=KNOWN)
    except FormulaError as exc:
        column = exc.col
        assert 1 <= column <= len(text) + 1
        return
    result = formula.evaluate(lambda name, shift: Fraction(len(name) - shift))
    assert isinstance(result, Fraction | Undefined)
