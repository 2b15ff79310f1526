r"""The KPI formula language: a small grammar, a units algebra and exact evaluation (private).

Formulas are parsed by a hand-written recursive-descent parser over a whitelisted token set, never by
``eval`` or Python's own parser, so every error can name the column of the offending character and nothing
but numbers, metric names, ``+ - * /``, parentheses and the functions in :data:`FUNCTIONS` can appear.

Grammar (``NAME`` is ``[A-Za-z_][A-Za-z0-9_]*``, ``NUMBER`` is ``[0-9]+(\.[0-9]+)?``)::

    formula := expr
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | atom
    atom    := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Values are exact :class:`~fractions.Fraction` numbers; money is in the evaluation currency and durations
are in hours. Division by zero and missing data give :class:`Undefined` with a reason, never an exception;
a divisor that is zero as written (``x / 0``, ``ratio(x, 1 - 1)``) is refused when the formula is parsed.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import ClassVar, Final, TypeAlias

import attrs

from smarketing.errors import FormulaError

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_FORMULA_CHARS",
    "MAX_LAG",
    "MAX_NODES",
    "Dimension",
    "Formula",
    "Undefined",
    "Value",
    "parse_formula",
]

#: Longest formula text accepted.
MAX_FORMULA_CHARS: Final = 1000
#: Most nodes (numbers, names, operators, calls) in one formula.
MAX_NODES: Final = 200
#: Deepest nesting of parentheses, unary signs and calls.
MAX_DEPTH: Final = 32
#: Largest ``n`` in ``lag(x, n)`` and largest total shift of nested lags.
MAX_LAG: Final = 24
#: Most digits in a number literal (before and after the point together).
MAX_DIGITS: Final = 30
#: Most arguments of a function call.
MAX_ARGS: Final = 16


@attrs.frozen
class Dimension:
    """The unit of a formula or metric, as exponents of count, money and duration.

    A ratio is the dimensionless unit (all exponents zero). Number literals are *scalars*: they take the
    unit of whatever they are added to, so ``1 - win_rate`` and ``mqls + 10`` are fine.

    Examples:
        >>> Dimension.MONEY / Dimension.COUNT
        Dimension('money per count')
        >>> (Dimension.COUNT / Dimension.COUNT).is_ratio
        True
    """

    count: int = 0
    money: int = 0
    duration: int = 0
    scalar: bool = False

    COUNT: ClassVar[Dimension]
    RATIO: ClassVar[Dimension]
    MONEY: ClassVar[Dimension]
    DURATION: ClassVar[Dimension]
    SCALAR: ClassVar[Dimension]

    @property
    def is_ratio(self) -> bool:
        """Whether the unit is dimensionless (a share, rate or multiple)."""
        return self.count == 0 and self.money == 0 and self.duration == 0

    def _exponents(self) -> tuple[int, int, int]:
        return (self.count, self.money, self.duration)

    def __mul__(self, other: Dimension) -> Dimension:
        return Dimension(
            self.count + other.count,
            self.money + other.money,
            self.duration + other.duration,
            scalar=self.scalar and other.scalar,
        )

    def __truediv__(self, other: Dimension) -> Dimension:
        return Dimension(
            self.count - other.count,
            self.money - other.money,
            self.duration - other.duration,
            scalar=self.scalar and other.scalar,
        )

    def compatible(self, other: Dimension) -> bool:
        """Whether values of the two units can be added, compared or chosen between."""
        return self.scalar or other.scalar or self._exponents() == other._exponents()

    def join(self, other: Dimension) -> Dimension:
        """The unit of a sum of two compatible units (a scalar takes the other's unit)."""
        return other if self.scalar else self

    def describe(self) -> str:
        """The unit in words, as error messages and docs show it."""
        if self.scalar:
            return "a number"
        named = {
            (0, 0, 0): "a ratio",
            (1, 0, 0): "a count",
            (0, 1, 0): "money",
            (0, 0, 1): "a duration",
            (-1, 1, 0): "money per count",
            (-1, 0, 1): "a duration per count",
            (0, 1, -1): "money per duration",
            (-1, 0, 0): "a number per count",
        }
        if self._exponents() in named:
            return named[self._exponents()]
        parts = [
            f"{name}^{exp}" if exp != 1 else name
            for name, exp in (("count", self.count), ("money", self.money), ("duration", self.duration))
            if exp
        ]
        return "·".join(parts)

    def __repr__(self) -> str:
        return f"Dimension({self.describe().removeprefix('a ')!r})"


Dimension.COUNT = Dimension(count=1)
Dimension.RATIO = Dimension()
Dimension.MONEY = Dimension(money=1)
Dimension.DURATION = Dimension(duration=1)
Dimension.SCALAR = Dimension(scalar=True)


@attrs.frozen
class Undefined:
    """A KPI value that cannot be computed, with the reason (division by zero, missing data).

    It is not an error and not zero: a scorecard shows it as undefined and explains why. Arithmetic with an
    undefined value is undefined and keeps the first reason.

    Examples:
        >>> Undefined("division by zero: mqls is 0")
        Undefined('division by zero: mqls is 0')
        >>> bool(Undefined("no data"))
        False
    """

    reason: str

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Undefined({self.reason!r})"

    def __str__(self) -> str:
        return f"undefined ({self.reason})"


Value: TypeAlias = Fraction | Undefined
"""A formula value: an exact number, or :class:`Undefined`."""

# --------------------------------------------------------------------------------------------------
# Syntax tree. Every node keeps its half-open character span [start, end) in the formula text.


@attrs.frozen
class _Num:
    value: Fraction
    start: int
    end: int


@attrs.frozen
class _Name:
    name: str
    start: int
    end: int


@attrs.frozen
class _Neg:
    operand: _Node
    start: int
    end: int


@attrs.frozen
class _Bin:
    op: str
    left: _Node
    right: _Node
    start: int
    end: int
    op_at: int


@attrs.frozen
class _Call:
    func: str
    args: tuple[_Node, ...]
    start: int
    end: int


_Node: TypeAlias = _Num | _Name | _Neg | _Bin | _Call

#: The functions a formula may call, with a one-line description each.
FUNCTIONS: Final[Mapping[str, str]] = {
    "min": "min(a, b, ...): the smallest argument; arguments in one unit.",
    "max": "max(a, b, ...): the largest argument; arguments in one unit.",
    "avg": "avg(a, b, ...): the mean of the arguments; arguments in one unit.",
    "sum": "sum(a, b, ...): the sum of the arguments; arguments in one unit.",
    "ratio": "ratio(a, b): a / b for two values in one unit; the result is a ratio.",
    "if_zero": "if_zero(x, y): y when x is zero or undefined, else x; x and y in one unit.",
    "lag": "lag(x, n): x measured n periods earlier (n a whole number from 1 to 24).",
    "days": "days(n): a duration of n days (n a number).",
    "hours": "hours(n): a duration of n hours (n a number).",
}

_TOKEN = re.compile(
    r"(?P<space>[ \t\r\n]+)|(?P<number>[0-9]+(?:\.[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/(),])"
)
_HINTS = {
    ".": "attribute access is not allowed; metric names are plain words such as 'win_rate'",
    "[": "indexing is not allowed",
    "]": "indexing is not allowed",
    "=": "assignment and comparison are not allowed",
    "<": "comparisons are not allowed",
    ">": "comparisons are not allowed",
    "!": "comparisons are not allowed",
    "%": "'%' is not an operator; write a share as 0.35",
    "'": "text is not allowed in a formula",
    '"': "text is not allowed in a formula",
    ":": "':' is not allowed",
    "@": "'@' is not allowed",
    "&": "boolean operators are not allowed",
    "|": "boolean operators are not allowed",
    "^": "powers are not supported; write x * x",
}


@attrs.frozen
class _Token:
    kind: str
    text: str
    start: int


def _error(text: str, at: int, message: str) -> FormulaError:
    return FormulaError(message, formula=text, col=at + 1)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            char = text[at]
            hint = _HINTS.get(char, "only numbers, metric names, + - * /, parentheses and functions")
            raise _error(text, at, f"unexpected character {char!r}: {hint}")
        kind = match.lastgroup or ""
        if kind == "op" and match.group() == "**":
            raise _error(text, at, "powers ('**') are not supported; write x * x")
        if kind == "number" and len(match.group().replace(".", "")) > MAX_DIGITS:
            raise _error(text, at, f"number has more than {MAX_DIGITS} digits")
        if kind != "space":
            out.append(_Token(kind, match.group(), at))
        at = match.end()
    return out


class _Parser:
    def __init__(self, text: str, known: Mapping[str, Dimension]) -> None:
        self.text = text
        self.known = known
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    # -- token helpers ---------------------------------------------------------------------------

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _error(self.text, len(self.text), "the formula ends too early")
        self.pos += 1
        return token

    def expect(self, op: str) -> _Token:
        token = self.peek()
        if token is None or token.text != op:
            at = len(self.text) if token is None else token.start
            got = "the end" if token is None else repr(token.text)
            raise _error(self.text, at, f"expected {op!r}, found {got}")
        self.pos += 1
        return token

    def count(self, at: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _error(self.text, at, f"the formula is too long (more than {MAX_NODES} parts)")

    def enter(self, at: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.text, at, f"the formula is nested too deeply (more than {MAX_DEPTH} levels)")

    # -- grammar ---------------------------------------------------------------------------------

    def formula(self) -> _Node:
        if not self.tokens:
            raise _error(self.text, 0, "the formula is empty")
        node = self.expr()
        token = self.peek()
        if token is not None:
            if token.kind in {"name", "number"} or token.text == "(":
                message = f"expected an operator before {token.text!r}"
            else:
                message = f"unexpected {token.text!r}"
            raise _error(self.text, token.start, message)
        return node

    def binary(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        node = operand()
        while (token := self.peek()) is not None and token.text in ops:
            self.take()
            self.count(token.start)
            right = operand()
            node = _Bin(token.text, node, right, node.start, right.end, token.start)
        return node

    def expr(self) -> _Node:
        return self.binary(("+", "-"), self.term)

    def term(self) -> _Node:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> _Node:
        token = self.peek()
        if token is not None and token.text in ("+", "-"):
            self.take()
            self.count(token.start)
            self.enter(token.start)
            operand = self.unary()
            self.depth -= 1
            if token.text == "+":
                return operand
            return _Neg(operand, token.start, operand.end)
        return self.atom()

    def atom(self) -> _Node:
        token = self.take()
        self.count(token.start)
        if token.kind == "number":
            return _Num(Fraction(token.text), token.start, token.start + len(token.text))
        if token.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                return self.call(token)
            return self.name(token)
        if token.text == "(":
            self.enter(token.start)
            inner = self.expr()
            close = self.expect(")")
            self.depth -= 1
            return attrs.evolve(inner, start=token.start, end=close.start + 1)
        raise _error(self.text, token.start, f"expected a number, a metric or '(', found {token.text!r}")

    def name(self, token: _Token) -> _Name:
        name = token.text
        if name in FUNCTIONS:
            raise _error(self.text, token.start, f"{name!r} is a function; call it as {name}(...)")
        if keyword.iskeyword(name) or name.startswith("__"):
            raise _error(self.text, token.start, f"{name!r} is not allowed in a formula")
        if name not in self.known:
            close = difflib.get_close_matches(name, sorted(self.known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _error(self.text, token.start, f"unknown metric {name!r}{hint}")
        return _Name(name, token.start, token.start + len(name))

    def call(self, token: _Token) -> _Call:
        func = token.text
        if func not in FUNCTIONS:
            close = difflib.get_close_matches(func, sorted(FUNCTIONS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(FUNCTIONS)}"
            raise _error(self.text, token.start, f"unknown function {func!r}{hint}")
        self.enter(token.start)
        self.expect("(")
        args = [self.expr()]
        while (nxt := self.peek()) is not None and nxt.text == ",":
            self.take()
            if len(args) >= MAX_ARGS:
                raise _error(self.text, nxt.start, f"{func}() takes at most {MAX_ARGS} arguments")
            args.append(self.expr())
        closing = self.expect(")")
        self.depth -= 1
        return _Call(func, tuple(args), token.start, closing.start + 1)


# --------------------------------------------------------------------------------------------------
# Units.


def _unit(node: _Node, text: str, known: Mapping[str, Dimension]) -> Dimension:
    """The unit of ``node``, checking every sum, product and call on the way.

    Raises:
        FormulaError: Units that cannot be added or chosen between, a product no KPI can be measured in,
            a call with the wrong number or kind of arguments; at the column of the offending part.
    """

    def fail(at: int, message: str) -> FormulaError:
        return _error(text, at, message)

    def show(n: _Node) -> str:
        return text[n.start : n.end]

    if isinstance(node, _Num):
        return Dimension.SCALAR
    if isinstance(node, _Name):
        return known[node.name]
    if isinstance(node, _Neg):
        return _unit(node.operand, text, known)
    if isinstance(node, _Bin):
        left = _unit(node.left, text, known)
        right = _unit(node.right, text, known)
        if node.op in "+-":
            if not left.compatible(right):
                verb = "add" if node.op == "+" else "subtract"
                joiner = "and" if node.op == "+" else "from"
                a, b = (left, right) if node.op == "+" else (right, left)
                na, nb = (node.left, node.right) if node.op == "+" else (node.right, node.left)
                raise fail(
                    node.op_at,
                    f"cannot {verb} {a.describe()} ({show(na)}) {joiner} {b.describe()} ({show(nb)})",
                )
            return left.join(right)
        result = left * right if node.op == "*" else left / right
        if abs(result.money) > 1 or abs(result.duration) > 1:
            raise fail(
                node.op_at,
                f"{show(node.left)} {node.op} {show(node.right)} gives {result.describe()}, "
                "which no KPI can be measured in",
            )
        return result
    # Calls.
    func, args = node.func, node.args
    units = [_unit(a, text, known) for a in args]
    arity = {"ratio": 2, "if_zero": 2, "lag": 2, "days": 1, "hours": 1}
    if func in arity and len(args) != arity[func]:
        raise fail(node.start, f"{func}() takes {arity[func]} argument(s), not {len(args)}")
    if func in ("days", "hours"):
        if not isinstance(args[0], _Num):
            raise fail(args[0].start, f"{func}() takes a number such as {func}(30)")
        return Dimension.DURATION
    if func == "lag":
        shift = args[1]
        if not (isinstance(shift, _Num) and shift.value.denominator == 1 and 1 <= shift.value <= MAX_LAG):
            raise fail(shift.start, f"lag() needs a whole number of periods from 1 to {MAX_LAG}")
        return units[0]
    joined = units[0]
    for arg, unit in zip(args[1:], units[1:], strict=True):
        if not joined.compatible(unit):
            raise fail(
                arg.start,
                f"{func}() needs arguments in one unit; {show(arg)} is {unit.describe()}, "
                f"{show(args[0])} is {joined.describe()}",
            )
        joined = joined.join(unit)
    if func == "ratio":
        return Dimension.RATIO
    return joined


def _lag(node: _Node) -> int:
    """The largest total period shift of the lags in ``node``."""
    if isinstance(node, _Num | _Name):
        return 0
    if isinstance(node, _Neg):
        return _lag(node.operand)
    if isinstance(node, _Bin):
        return max(_lag(node.left), _lag(node.right))
    if node.func == "lag":
        assert isinstance(node.args[1], _Num)
        return int(node.args[1].value) + _lag(node.args[0])
    return max(_lag(a) for a in node.args)


def _names(node: _Node) -> Iterator[str]:
    if isinstance(node, _Name):
        yield node.name
    elif isinstance(node, _Neg):
        yield from _names(node.operand)
    elif isinstance(node, _Bin):
        yield from _names(node.left)
        yield from _names(node.right)
    elif isinstance(node, _Call):
        for arg in node.args:
            yield from _names(arg)


# --------------------------------------------------------------------------------------------------
# The public face.

#: How a formula asks for a metric's value: metric name and how many periods back (0 = this period).
Lookup: TypeAlias = Callable[[str, int], Value]


@attrs.frozen
class Formula:
    """A parsed, unit-checked KPI formula.

    Build one with :func:`parse_formula`. Evaluate it with :meth:`evaluate`, giving a function that looks
    up a metric's value ``shift`` periods before the one measured.

    Attributes:
        text: The formula as written.
        unit: The unit of the result.
        metrics: The metric names the formula reads.
        max_lag: How many earlier periods the formula needs (from ``lag``).
    """

    text: str
    unit: Dimension
    metrics: frozenset[str]
    max_lag: int
    _tree: _Node = attrs.field(repr=False, alias="tree")

    def evaluate(self, lookup: Lookup) -> Value:
        """The formula's value, from metric values given by ``lookup(name, shift)``.

        Examples:
            >>> f = parse_formula("sqls / mqls", metrics={"sqls": Dimension.COUNT, "mqls": Dimension.COUNT})
            >>> f.evaluate(lambda name, shift: Fraction({"sqls": 7, "mqls": 20}[name]))
            Fraction(7, 20)
            >>> f.evaluate(lambda name, shift: Fraction(0))
            Undefined('division by zero: mqls is 0 (col 8)')
        """
        return _evaluate(self._tree, self.text, lookup, 0)

    def accepts(self, unit: str) -> bool:
        """Whether the result can be reported in a KPI ``unit`` (``count``, ``ratio``, ``money``, ...).

        Money and durations may be "per count" (an average per lead or deal); a ratio must be
        dimensionless and a count exactly a count.

        Examples:
            >>> known = {"revenue": Dimension.MONEY, "won": Dimension.COUNT}
            >>> parse_formula("revenue / won", metrics=known).accepts("money")
            True
            >>> parse_formula("revenue / won", metrics=known).accepts("ratio")
            False
        """
        u = self.unit
        if u.scalar:
            return True
        match unit:
            case "count":
                return (u.count, u.money, u.duration) == (1, 0, 0)
            case "ratio":
                return u.is_ratio
            case "money":
                return u.money == 1 and u.duration == 0
            case "days" | "hours":
                return u.money == 0 and u.duration == 1
            case "money_per_day":
                return u.money == 1 and u.duration == -1
        return False


def parse_formula(text: str, *, metrics: Mapping[str, Dimension]) -> Formula:
    """Parse and unit-check a KPI formula.

    Args:
        text: The formula, e.g. ``"sqls / mqls"``.
        metrics: The metric names the formula may read, with their units.

    Returns:
        The parsed formula.

    Raises:
        FormulaError: The text is not a valid formula (a :class:`~smarketing.errors.PlanError`), with the
            1-based column of the problem: a character or function outside the language, an unknown
            metric (with a did-you-mean hint), a unit mismatch, or a formula over the size limits.

    Examples:
        >>> known = {"sqls": Dimension.COUNT, "mqls": Dimension.COUNT, "revenue": Dimension.MONEY}
        >>> parse_formula("sqls / mqls", metrics=known).unit
        Dimension('ratio')
        >>> parse_formula("sqls / sql", metrics=known)
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 8: unknown metric 'sql'; did you mean 'sqls'?
        >>> parse_formula("revenue + sqls", metrics=known)
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 9: cannot add money (revenue) and a count (sqls)
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula is text, not {type(text).__name__}", formula=str(text), col=1)
    if len(text) > MAX_FORMULA_CHARS:
        raise _error(text, MAX_FORMULA_CHARS, f"the formula is longer than {MAX_FORMULA_CHARS} characters")
    parser = _Parser(text, metrics)
    tree = parser.formula()
    unit = _unit(tree, text, metrics)
    _check_literal_divisors(tree, text)
    lag = _lag(tree)
    if lag > MAX_LAG:
        raise _error(text, 0, f"lags add up to {lag} periods; at most {MAX_LAG}")
    return Formula(text, unit, frozenset(_names(tree)), lag, tree=tree)


def _constant(node: _Node) -> bool:
    """Whether ``node`` reads no metric, so its value is known when the formula is parsed."""
    return not any(True for _ in _names(node))


def _check_literal_divisors(node: _Node, text: str) -> None:
    """Refuse a division by a number that is zero as written (``x / 0``, ``ratio(x, 1 - 1)``).

    Dividing by a metric that is zero in some period is data, and gives :class:`Undefined` then; a
    divisor that is zero whatever the data says is a mistake in the formula.
    """
    divisors: list[_Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, _Neg):
            stack.append(current.operand)
        elif isinstance(current, _Bin):
            stack += [current.left, current.right]
            if current.op == "/":
                divisors.append(current.right)
        elif isinstance(current, _Call):
            stack += current.args
            if current.func == "ratio" and len(current.args) == 2:
                divisors.append(current.args[1])
    for divisor in sorted(divisors, key=lambda d: d.start):
        # An Undefined divisor holds a division by zero of its own, reported at that inner divisor.
        if _constant(divisor) and _evaluate(divisor, text, _no_metrics, 0) == 0:
            shown = text[divisor.start : divisor.end]
            raise _error(text, divisor.start, f"division by zero: the divisor {shown} is always 0")


def _no_metrics(name: str, shift: int) -> Value:  # pragma: no cover - constants read no metric
    raise AssertionError(f"a constant read the metric {name!r}")


# --------------------------------------------------------------------------------------------------
# Evaluation.


def _is_zero(value: Value) -> bool:
    return isinstance(value, Undefined) or value == 0


def _evaluate(node: _Node, text: str, lookup: Lookup, shift: int) -> Value:
    """The exact value of ``node`` with metrics read by ``lookup`` ``shift`` periods back.

    The first undefined operand makes the result undefined (its reason kept); a division by zero is
    :class:`Undefined` naming the divisor as written.
    """
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Name):
        return lookup(node.name, shift)
    if isinstance(node, _Neg):
        inner = _evaluate(node.operand, text, lookup, shift)
        return inner if isinstance(inner, Undefined) else -inner
    if isinstance(node, _Bin):
        left = _evaluate(node.left, text, lookup, shift)
        if isinstance(left, Undefined):
            return left
        right = _evaluate(node.right, text, lookup, shift)
        if isinstance(right, Undefined):
            return right
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if right == 0:
            return _by_zero(node.right, text, shift)
        return left / right
    func, args = node.func, node.args
    if func == "lag":
        assert isinstance(args[1], _Num)
        return _evaluate(args[0], text, lookup, shift + int(args[1].value))
    if func in ("days", "hours"):
        assert isinstance(args[0], _Num)
        return args[0].value * (24 if func == "days" else 1)
    if func == "if_zero":
        first = _evaluate(args[0], text, lookup, shift)
        return _evaluate(args[1], text, lookup, shift) if _is_zero(first) else first
    values: list[Fraction] = []
    for arg in args:
        value = _evaluate(arg, text, lookup, shift)
        if isinstance(value, Undefined):
            return value
        values.append(value)
    if func == "ratio":
        if values[1] == 0:
            return _by_zero(args[1], text, shift)
        return values[0] / values[1]
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    total = sum(values, Fraction(0))
    return total if func == "sum" else total / len(values)


def _by_zero(node: _Node, text: str, shift: int) -> Undefined:
    when = f" {shift} period(s) earlier" if shift else ""
    return Undefined(f"division by zero: {text[node.start : node.end]} is 0{when} (col {node.start + 1})")
