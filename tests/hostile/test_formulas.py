"""Hostile KPI formulas: each is a FormulaError naming the column (and, in a plan, file:line: path).

The formula language is parsed by a whitelist tokenizer and a recursive-descent parser with bounds on
length, parts, nesting and digits (``smarketing.kpi._formula``); nothing is evaluated by Python. A divisor
that is zero as written is refused when the formula is parsed.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from tests.hostile.conftest import assert_names

from smarketing.errors import FormulaError, PlanError
from smarketing.kpi import Dimension, Undefined, parse_formula
from smarketing.kpi.model import MAX_DEPTH, MAX_FORMULA_CHARS, MAX_LAG, MAX_NODES
from smarketing.plan import load_plan

METRICS = {
    "mqls": Dimension.COUNT,
    "sqls": Dimension.COUNT,
    "won": Dimension.COUNT,
    "revenue": Dimension.MONEY,
    "first_response_hours": Dimension.DURATION,
}


def refused(text: object) -> FormulaError:
    started = time.process_time()
    with pytest.raises(FormulaError) as info:
        parse_formula(text, metrics=METRICS)  # type: ignore[arg-type]
    assert time.process_time() - started < 1, "a hostile formula is refused at once"
    assert type(info.value) is FormulaError
    return info.value


# --------------------------------------------------------------------------------------------------
# Division by a divisor that is zero as written.

ZERO_DIVISORS = [
    ("literal", "sqls / 0", 8),
    ("decimal", "sqls / 0.0", 8),
    ("many-zeros", "sqls / 0.000000", 8),
    ("negative-zero", "sqls / -0", 8),
    ("plus-zero", "sqls / +0", 9),
    ("parenthesised", "sqls / (0)", 8),
    ("difference", "sqls / (1 - 1)", 8),
    ("product", "sqls / (0 * 5)", 8),
    ("sum-to-zero", "sqls / (2 + -2)", 8),
    ("ratio-call", "ratio(sqls, 0)", 13),
    ("ratio-difference", "ratio(sqls, 3 - 3)", 13),
    ("days-zero", "first_response_hours / days(0)", 24),
    ("hours-zero", "first_response_hours / hours(0.0)", 24),
    ("min-of-zeros", "sqls / min(0, 0)", 8),
    ("sum-of-zeros", "sqls / sum(0, 0, 0)", 8),
    ("avg-of-zeros", "sqls / avg(0, 0)", 8),
    ("inner", "sqls / (1 / 0)", 13),
    ("second-of-two", "sqls / 2 + mqls / 0", 19),
    ("nested-in-call", "max(sqls / 0, mqls)", 12),
    ("under-lag", "lag(sqls / 0, 1)", 12),
    ("if-zero-fallback", "if_zero(sqls, 1) / (0)", 20),
    ("zero-numerator-too", "0 / 0", 5),
]


@pytest.mark.parametrize(("case_id", "text", "col"), ZERO_DIVISORS, ids=[z[0] for z in ZERO_DIVISORS])
def test_division_by_a_zero_literal_is_refused(case_id: str, text: str, col: int) -> None:
    err = refused(text)
    assert err.col == col
    assert_names(str(err), f"col {col}", "division by zero", "always 0")


@pytest.mark.parametrize(
    "text",
    [
        "sqls / mqls",
        "sqls / (mqls - mqls)",
        "sqls / 0.5",
        "sqls / (1 - 0.5)",
        "ratio(sqls, mqls)",
        "sqls / -1",
    ],
    ids=["metric", "metric-difference", "half", "one-minus-half", "ratio", "minus-one"],
)
def test_divisor_that_may_be_nonzero_is_accepted(text: str) -> None:
    parse_formula(text, metrics=METRICS)


def test_metric_that_is_zero_in_the_data_gives_undefined_not_an_error() -> None:
    formula = parse_formula("sqls / mqls", metrics=METRICS)
    value = formula.evaluate(lambda name, shift: Fraction(0) if name == "mqls" else Fraction(3))
    assert isinstance(value, Undefined)
    assert "division by zero" in value.reason


# --------------------------------------------------------------------------------------------------
# Characters and constructs outside the language.

OUTSIDE = [
    ("attribute", "mqls.__class__", 5, "attribute access"),
    ("dunder-import", "__import__('os')", 12, "text is not allowed"),
    ("dunder-name", "__class__", 1, "is not allowed"),
    ("indexing", "mqls[0]", 5, "indexing"),
    ("call-of-metric", "mqls(1)", 1, "unknown function"),
    ("eval", "eval(mqls)", 1, "unknown function"),
    ("exec", "exec(mqls)", 1, "unknown function"),
    ("open", "open(mqls)", 1, "unknown function"),
    ("lambda", "lambda: mqls", 7, "':' is not allowed"),
    ("keyword-if", "mqls if sqls else won", 6, ""),
    ("keyword-import", "import", 1, "not allowed"),
    ("power", "mqls ** 2", 6, "powers"),
    ("caret", "mqls ^ 2", 6, "powers"),
    ("modulo", "mqls % 2", 6, "'%' is not an operator"),
    ("comparison", "mqls > sqls", 6, "comparisons"),
    ("equality", "mqls == sqls", 6, "assignment and comparison"),
    ("walrus", "(x := mqls)", 4, "':' is not allowed"),
    ("matmul", "mqls @ sqls", 6, "'@' is not allowed"),
    ("boolean-and", "mqls & sqls", 6, "boolean"),
    ("boolean-or", "mqls | sqls", 6, "boolean"),
    ("semicolon", "mqls; sqls", 5, "unexpected character"),
    ("backtick", "`mqls`", 1, "unexpected character"),
    ("string", "'mqls'", 1, "text is not allowed"),
    ("double-quoted", '"mqls"', 1, "text is not allowed"),
    ("comment", "mqls # note", 6, "unexpected character"),
    ("braces", "{mqls}", 1, "unexpected character"),
    ("exponent-literal", "mqls * 1e999999999", 9, "expected an operator"),
    ("hex-literal", "mqls * 0x10", 9, "expected an operator"),
    ("underscore-digits", "mqls * 1_000", 9, "expected an operator"),
    ("trailing-point", "mqls * 1.", 9, ""),
    ("leading-point", "mqls * .5", 8, "attribute access"),
    ("arabic-digit", "mqls * \u0661", 8, "unexpected character"),
    ("full-width-digit", "mqls * \uff11", 8, "unexpected character"),
    ("superscript-two", "mqls\u00b2", 5, "unexpected character"),
    ("vulgar-half", "mqls * \u00bd", 8, "unexpected character"),
    ("roman-numeral", "mqls * \u216b", 8, "unexpected character"),
    ("full-width-name", "\uff4dqls", 1, "unexpected character"),
    ("cyrillic-lookalike", "mql\u0455", 4, "unexpected character"),
    ("nul", "mqls\x00", 5, "unexpected character"),
    ("escape", "mqls\x1b[2J", 5, "unexpected character"),
    ("unit-separator-space", "mqls\x1f+ sqls", 5, "unexpected character"),
    ("ideographic-space", "mqls\u3000+ sqls", 5, "unexpected character"),
    ("rtl-override", "mqls\u202e", 5, "unexpected character"),
    ("zero-width-space", "mq\u200bls", 3, "unexpected character"),
]


@pytest.mark.parametrize(("case_id", "text", "col", "words"), OUTSIDE, ids=[o[0] for o in OUTSIDE])
def test_construct_outside_the_language_is_refused(case_id: str, text: str, col: int, words: str) -> None:
    err = refused(text)
    assert err.col == col, str(err)
    assert_names(str(err), f"col {col}", words)


# --------------------------------------------------------------------------------------------------
# Names.

UNKNOWN = [
    ("typo", "sqls / mql", "did you mean 'mqls'?"),
    ("case", "SQLS / mqls", "unknown metric 'SQLS'"),
    ("unknown-function", "median(sqls, mqls)", "unknown function 'median'"),
    ("function-as-name", "sqls / min", "'min' is a function"),
    ("python-builtin", "len(sqls)", "unknown function 'len'"),
    ("os-name", "os", "unknown metric 'os'"),
    ("long-name", "m" * 900, "unknown metric"),
    ("keyword-true", "True", "'True' is not allowed"),
    ("keyword-none", "None", "'None' is not allowed"),
]


@pytest.mark.parametrize(("case_id", "text", "words"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_unknown_name_is_refused(case_id: str, text: str, words: str) -> None:
    assert_names(str(refused(text)), "col ", words)


# --------------------------------------------------------------------------------------------------
# Size: length, parts, nesting, digits and lags are bounded.

SIZES = [
    ("one-over-length", "mqls + " * 143 + "mqls", f"longer than {MAX_FORMULA_CHARS}"),
    ("megabyte", "mqls+" * 200_000 + "mqls", f"longer than {MAX_FORMULA_CHARS}"),
    ("too-many-parts", "+".join(["1"] * (MAX_NODES // 2 + 2)), f"more than {MAX_NODES} parts"),
    (
        "parens-one-over",
        "(" * (MAX_DEPTH + 1) + "mqls" + ")" * (MAX_DEPTH + 1),
        f"more than {MAX_DEPTH} levels",
    ),
    ("parens-400", "(" * 400 + "mqls" + ")" * 400, "nested too deeply"),
    ("parens-unclosed", "(" * 990, "nested too deeply"),
    ("unary-minus-chain", "-" * 900 + "mqls", "nested too deeply"),
    ("unary-plus-chain", "+" * 40 + "mqls", "nested too deeply"),
    ("nested-calls", "max(" * 40 + "mqls" + ")" * 40, "nested too deeply"),
    ("nested-lags", "lag(" * 40 + "mqls" + ", 1)" * 40, "nested too deeply"),
    ("31-digits", "mqls * " + "1" * 31, "more than 30 digits"),
    ("900-digits", "mqls * " + "9" * 900, "more than 30 digits"),
    ("long-fraction", "mqls * 0." + "1" * 40, "more than 30 digits"),
    ("lag-over", f"lag(mqls, {MAX_LAG + 1})", f"from 1 to {MAX_LAG}"),
    ("lag-zero", "lag(mqls, 0)", f"from 1 to {MAX_LAG}"),
    ("lag-fraction", "lag(mqls, 1.5)", f"from 1 to {MAX_LAG}"),
    ("lag-huge", "lag(mqls, 999999999999)", f"from 1 to {MAX_LAG}"),
    ("lag-of-metric", "lag(mqls, sqls)", f"from 1 to {MAX_LAG}"),
    ("lags-add-up", "lag(lag(mqls, 20), 20)", f"at most {MAX_LAG}"),
    ("too-many-arguments", "max(" + ",".join(["mqls"] * 17) + ")", "at most 16 arguments"),
]


@pytest.mark.parametrize(("case_id", "text", "words"), SIZES, ids=[s[0] for s in SIZES])
def test_oversized_formula_is_refused_at_once(case_id: str, text: str, words: str) -> None:
    assert_names(str(refused(text)), "col ", words)


def test_largest_constant_arithmetic_is_exact_and_quick() -> None:
    # 30-digit literals multiplied as often as the part limit allows stay exact and quick.
    text = "*".join(["9" * 30] * 30)
    started = time.process_time()
    formula = parse_formula(text, metrics=METRICS)
    assert formula.evaluate(lambda name, shift: Fraction(0)) == Fraction(int("9" * 30)) ** 30
    assert time.process_time() - started < 1


# --------------------------------------------------------------------------------------------------
# Shape.

SHAPES = [
    ("empty", "", "empty"),
    ("blank", "   ", "empty"),
    ("operator-only", "+", "ends too early"),
    ("dangling-operator", "mqls +", "ends too early"),
    ("two-names", "mqls sqls", "expected an operator"),
    ("unbalanced-close", "mqls)", "unexpected"),
    ("unbalanced-open", "(mqls", "expected ')'"),
    ("empty-call", "max()", "expected"),
    ("trailing-comma", "max(mqls,)", "expected"),
    ("comma-outside-call", "mqls, sqls", "unexpected"),
    ("ratio-arity", "ratio(mqls)", "takes 2 argument(s)"),
    ("days-of-metric", "days(mqls)", "takes a number"),
    ("money-plus-count", "revenue + mqls", "cannot add money"),
    ("money-squared", "revenue * revenue", "which no KPI can be measured in"),
    ("hours-over-money", "max(first_response_hours, revenue)", "one unit"),
]


@pytest.mark.parametrize(("case_id", "text", "words"), SHAPES, ids=[s[0] for s in SHAPES])
def test_malformed_formula_is_refused(case_id: str, text: str, words: str) -> None:
    assert_names(str(refused(text)), "col ", words)


@pytest.mark.parametrize(
    "value", [None, 12, 1.5, b"mqls", ["mqls"]], ids=["none", "int", "float", "bytes", "list"]
)
def test_formula_that_is_not_text_is_refused(value: object) -> None:
    assert_names(str(refused(value)), "col 1", "a formula is text")


def test_multi_line_formula_is_accepted() -> None:
    assert parse_formula("sqls\n  / mqls", metrics=METRICS).unit == Dimension.RATIO


# --------------------------------------------------------------------------------------------------
# In a plan, a bad formula is a located error: file:line: kpis[i].formula: col N.

PLAN = """\
name: Formulas
teams:
  - {id: marketing, name: Marketing, function: marketing}
  - {id: sales, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
kpis:
  - id: k
    name: K
    owners: [sales]
    formula: FORMULA
    unit: ratio
    direction: higher_is_better
"""

IN_A_PLAN = [
    ("zero-divisor", "sqls / 0", "division by zero"),
    ("attribute", "sqls.__class__", "attribute access"),
    ("unknown", "sqls / mql", "unknown metric"),
    ("deep", "(" * 40 + "sqls" + ")" * 40, "nested too deeply"),
    ("arabic-digit", "sqls * \u0661", "unexpected character"),
    ("long", "'" + "sqls + " * 200 + "sqls'", "longer than"),
    ("nul-escape", '"sqls\\0"', "control character"),
]


@pytest.mark.parametrize(("case_id", "formula", "words"), IN_A_PLAN, ids=[c[0] for c in IN_A_PLAN])
def test_bad_formula_in_a_plan_is_located(tmp_path: Path, case_id: str, formula: str, words: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("FORMULA", formula), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert_names(str(info.value), "plan.yaml:15", "kpis[0].formula", words)
