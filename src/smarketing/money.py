"""Exact money: a `Decimal` amount with an ISO 4217 currency, and order-independent allocation.

Commissions and attribution credits are paid "to the cent", so amounts are never floats:

* :class:`Money` is an immutable value (``Decimal`` amount + uppercase ISO 4217 code).
  Addition, subtraction, comparison and multiplication are exact; combining two currencies
  raises :class:`~smarketing.errors.CurrencyMismatchError`. The currency's minor unit (2 for
  EUR, 0 for JPY, 3 for BHD) comes from the maintained ``iso4217`` package.
* :func:`allocate` splits a total over weights by largest remainder in minor units. Shares
  always sum exactly to the total, each share is less than one minor unit away from its exact
  proportion, and ties are broken by recipient key, so the result never depends on the order
  of the input mapping.

Division is the one operation that cannot always be exact (``10 / 3``). It is correctly rounded to
34 significant digits (IEEE 754 decimal128), independent of the thread's :mod:`decimal` context, and
never rounded to the minor unit behind your back: call :meth:`Money.quantize` with an explicit
rounding mode, or use :func:`allocate` when the parts must add back up to the whole.

Examples:
    >>> from decimal import Decimal
    >>> from smarketing.money import Money, allocate
    >>> price = Money("1250.00", "EUR")
    >>> price * 3 - Money("50", "EUR")
    Money('3700.00', 'EUR')
    >>> allocate(price, {"sdr": 1, "ae": 2})
    {'ae': Money('833.33', 'EUR'), 'sdr': Money('416.67', 'EUR')}
    >>> (price / 3).quantize()
    Money('416.67', 'EUR')
"""

from __future__ import annotations

import bisect
import decimal
import re
from collections.abc import Iterable, Mapping
from datetime import date as _date
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Protocol, TypeAlias, TypeVar, final, overload

from iso4217 import Currency
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from smarketing._limits import MAX_DECIMAL_PLACES, MAX_MONEY_DIGITS, check_digits
from smarketing.errors import CurrencyMismatchError, DataError

__all__ = ["FxTable", "Money", "allocate"]

# Exponent (number of minor-unit digits) per ISO 4217 code; None where ISO defines no minor unit
# (precious metals, fund codes, XTS/XXX).
_EXPONENTS: dict[str, int | None] = {c.code: c.exponent for c in Currency}

# Addition, subtraction, negation and multiplication of finite decimals are exact given enough
# digits; this context has all of them and traps Inexact so a silent rounding is impossible.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero, decimal.Inexact],
)
# Rounding to the minor unit is inexact by design; the mode comes from the caller.
_QUANTIZE = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation],
)
# A fixed context (not the thread-local one) keeps division a pure function of its operands.
_DIVISION = decimal.Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)

_ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_05UP,
        decimal.ROUND_CEILING,
        decimal.ROUND_DOWN,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_UP,
    }
)

# ASCII only: Python's \d would accept other scripts' digits, which JSON Schema's would not.
_AMOUNT_PATTERN = r"[+-]?[0-9]+(?:\.[0-9]+)?"
_CODE_PATTERN = r"[A-Z]{3}"
_TEXT_PATTERN = rf"^(?:{_CODE_PATTERN} {_AMOUNT_PATTERN}|{_AMOUNT_PATTERN} {_CODE_PATTERN})$"
_AMOUNT_RE = re.compile(_AMOUNT_PATTERN)
# Letters in either case, so that "12.30 eur" reaches the currency check and gets its hint.
_TEXT_RE = re.compile(
    rf"(?:(?P<code1>[A-Za-z]{{3}}) (?P<amount1>{_AMOUNT_PATTERN})"
    rf"|(?P<amount2>{_AMOUNT_PATTERN}) (?P<code2>[A-Za-z]{{3}}))"
)

#: Places a computed amount (a product or a quotient) may have: a quotient of two amounts in range has
#: at most 69 (34 significant digits of a value down to 10**-36), a product of an amount and a factor in
#: range at most 36. An amount given by a person or a record has at most MAX_DECIMAL_PLACES.
_MAX_RESULT_PLACES = 4 * MAX_DECIMAL_PLACES

#: Integer digits and decimal places of an exchange rate: a rate of 10**12 covers the weakest currency
#: against the strongest; 18 places keep published rates (at most 6 to 10 significant digits) exact.
FX_RATE_DIGITS = 12
FX_RATE_PLACES = MAX_DECIMAL_PLACES

#: Digits of a weight of allocate() (its numerator and denominator, written exactly): enough for every
#: finite binary float written in decimal (down to about 5e-324) and for ratios of amounts in range.
_MAX_WEIGHT_DIGITS = 400

_IMMUTABLE = "Money is immutable; use money + other or Money(amount, currency)"

_Scalar: TypeAlias = int | Decimal | Fraction


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str):
        raise TypeError(
            f"currency must be an ISO 4217 code as a str such as 'EUR', not {type(currency).__name__}"
        )
    if currency in _EXPONENTS:
        return currency
    if currency.upper() in _EXPONENTS:
        # Coercing silently would let inconsistent spellings into plan files and records.
        raise ValueError(
            f"currency {currency!r} must be an uppercase ISO 4217 code; use {currency.upper()!r}"
        )
    raise ValueError(f"unknown ISO 4217 currency code {currency!r}")


def _minor_units(currency: str) -> int:
    exponent = _EXPONENTS[currency]
    if exponent is None:
        raise ValueError(
            f"{currency} has no minor unit in ISO 4217 (funds, precious metals and test codes), "
            "so it cannot be rounded, counted in minor units or allocated"
        )
    return exponent


def _to_amount(value: object) -> Decimal:
    # bool is an int subclass and float a number, but neither is an amount of money.
    if isinstance(value, bool):
        raise TypeError(f"amount must be a str, int or Decimal, not bool ({value!r})")
    if isinstance(value, float):
        raise TypeError(
            f"amount must not be a float ({value!r}): binary floats cannot hold most decimal "
            f"amounts exactly; pass a str such as {str(value)!r} or a Decimal"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"amount must be a finite number, not {value}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        if _AMOUNT_RE.fullmatch(value) is None:
            raise ValueError(f"amount {value!r} is not a plain decimal number such as '1250.00' or '-3'")
        return Decimal(value)
    raise TypeError(f"amount must be a str, int or Decimal, not {type(value).__name__}")


def _bounded(value: Decimal, *, places: int = MAX_DECIMAL_PLACES, what: str = "amount") -> Decimal:
    """``value`` when it is inside the Money range, else ``ValueError`` (instant, whatever the exponent).

    A zero keeps at most ``places`` written places (``0E-999999999`` would make every later sum a
    billion digits long), so zeros are brought into range rather than refused: their value is the same.
    """
    if value.is_zero():
        exponent = _exponent(value)
        if exponent < -places or exponent > 0:
            return Decimal(0).scaleb(max(min(exponent, 0), -places))
        return value
    problem = check_digits(value, integer_digits=MAX_MONEY_DIGITS, decimal_places=places)
    if problem is not None:
        short = len(value.as_tuple().digits) + abs(_exponent(value)) <= 40
        shown = format(value, "f") if short else f"{value:.6e}"
        raise ValueError(f"{what} {shown} {problem} (the range of Money)")
    return value


def _check_scalar(value: object, operation: str) -> Decimal | Fraction:
    if isinstance(value, bool):
        raise TypeError(f"cannot {operation} Money by a bool")
    if isinstance(value, float):
        raise TypeError(
            f"cannot {operation} Money by a float ({value!r}); pass an int, a Decimal such as "
            f"Decimal({str(value)!r}), or a Fraction"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot {operation} Money by {value}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Fraction):
        return value
    raise TypeError(f"cannot {operation} Money by {type(value).__name__}; use an int, Decimal or Fraction")


def _finite_decimal(value: Fraction) -> Decimal | None:
    """The exact decimal equal to ``value``, or None when its expansion does not terminate."""
    denominator = value.denominator
    twos = (denominator & -denominator).bit_length() - 1
    rest = denominator >> twos
    fives = 0
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return None
    places = max(twos, fives)
    return Decimal(value.numerator * 10**places // denominator).scaleb(-places, _EXACT)


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "only finite amounts reach here"
    return exponent


def _result(value: Decimal, what: str) -> Decimal:
    return _bounded(value, places=_MAX_RESULT_PLACES, what=f"the {what}")


def _fraction_bounded(value: Fraction, what: str) -> None:
    # A Fraction with huge terms makes the exact product as slow as a huge Decimal would.
    limit = 10 ** (MAX_MONEY_DIGITS + _MAX_RESULT_PLACES)
    if abs(value.numerator) >= limit or value.denominator >= limit:
        raise ValueError(
            f"{what} {value} has more than {MAX_MONEY_DIGITS + _MAX_RESULT_PLACES} digits in a term "
            "(the range of Money arithmetic)"
        )


def _mismatch(left: Money, right: Money, operation: str) -> CurrencyMismatchError:
    return CurrencyMismatchError(
        f"cannot {operation} {left.currency} and {right.currency} amounts "
        f"({left} and {right}); convert one of them first"
    )


def _pydantic_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("money", "{reason}", {"reason": message})


@final
class Money:
    """An exact amount of money in one ISO 4217 currency; immutable and hashable.

    The amount is kept exactly as given (``Money("12.3", "EUR")`` stays ``12.3``); equality and
    hashing compare values, so ``Money("1.0", "EUR") == Money("1.00", "EUR")``. Arithmetic
    between two amounts requires the same currency and raises
    :class:`~smarketing.errors.CurrencyMismatchError` otherwise.

    ``sum()`` works on an iterable of :class:`Money` because ``0 + money`` returns ``money``; an
    empty iterable sums to the int ``0`` (use :meth:`Money.sum` to get a typed zero instead).

    Args:
        amount: A ``Decimal``, an ``int`` or a ``str`` such as ``"1250.00"``. Floats are rejected
            (``TypeError``), as are NaN and infinity (``ValueError``).
        currency: An uppercase ISO 4217 code such as ``"EUR"``. Lowercase or unknown codes raise
            ``ValueError``. Codes without a minor unit (``"XAU"``) are allowed but cannot be
            quantized or allocated.

    Examples:
        >>> from decimal import Decimal
        >>> m = Money("12.30", "EUR")
        >>> m
        Money('12.30', 'EUR')
        >>> print(m)
        12.30 EUR
        >>> m.amount, m.currency
        (Decimal('12.30'), 'EUR')
        >>> sum([m, Money(5, "EUR")])
        Money('17.30', 'EUR')
        >>> Money(0.1, "EUR")
        Traceback (most recent call last):
            ...
        TypeError: amount must not be a float (0.1): ... pass a str such as '0.1' or a Decimal
        >>> m.amount = Decimal(1)
        Traceback (most recent call last):
            ...
        AttributeError: Money is immutable; use money + other or Money(amount, currency)
    """

    __slots__ = ("amount", "currency")
    __match_args__ = ("amount", "currency")

    amount: Decimal
    """The exact amount, as given (not rounded to the minor unit)."""
    currency: str
    """The uppercase ISO 4217 currency code."""

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        code = _check_currency(currency)
        value = _bounded(_to_amount(amount))
        # -0 is a legal Decimal but meaningless (and confusing in statements) as money.
        object.__setattr__(self, "amount", value.copy_abs() if value.is_zero() else value)
        object.__setattr__(self, "currency", code)

    @classmethod
    def _of(cls, amount: Decimal, currency: str) -> Money:
        """Build from an already validated amount and currency."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount.copy_abs() if amount.is_zero() else amount)
        object.__setattr__(money, "currency", currency)
        return money

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``, written with the currency's minor-unit places.

        Args:
            currency: An uppercase ISO 4217 code.

        Returns:
            ``0.00 EUR``, ``0 JPY``, ``0.000 BHD``; plain ``0`` for codes without a minor unit.

        Examples:
            >>> Money.zero("EUR"), Money.zero("JPY")
            (Money('0.00', 'EUR'), Money('0', 'JPY'))
        """
        code = _check_currency(currency)
        places = _EXPONENTS[code] or 0
        return cls._of(Decimal(0).scaleb(-places, _EXACT), code)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """Build from an integer count of minor units (cents, fils, ...).

        Args:
            units: The amount in minor units, e.g. ``1250`` for 12.50 EUR.
            currency: An uppercase ISO 4217 code that has a minor unit.

        Returns:
            The amount, written with exactly the currency's minor-unit places.

        Raises:
            TypeError: If ``units`` is not an int.
            ValueError: If the currency is unknown or has no minor unit.

        Examples:
            >>> Money.from_minor(1250, "EUR"), Money.from_minor(1250, "JPY")
            (Money('12.50', 'EUR'), Money('1250', 'JPY'))
            >>> Money.from_minor(-1, "BHD")
            Money('-0.001', 'BHD')
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"units must be an int, not {type(units).__name__}")
        code = _check_currency(currency)
        return cls._of(_bounded(Decimal(units).scaleb(-_minor_units(code), _EXACT)), code)

    @classmethod
    def parse(cls, text: str) -> Money:
        """Read ``"1250.00 EUR"`` or ``"EUR 1250.00"`` (one space; the form used in plan files).

        Args:
            text: An amount and an uppercase ISO 4217 code, in either order, separated by one space.

        Returns:
            The amount, exactly as written.

        Raises:
            TypeError: If ``text`` is not a str.
            ValueError: If the text is not in one of the two forms, or the currency is unknown.

        Examples:
            >>> Money.parse("1250.00 EUR") == Money.parse("EUR 1250.00") == Money("1250", "EUR")
            True
            >>> Money.parse("1,250.00 EUR")
            Traceback (most recent call last):
                ...
            ValueError: cannot read '1,250.00 EUR' as money; expected '<amount> <CODE>' or ...
        """
        if not isinstance(text, str):
            raise TypeError(f"Money.parse() needs a str, not {type(text).__name__}")
        match = _TEXT_RE.fullmatch(text)
        if match is None:
            raise ValueError(
                f"cannot read {text!r} as money; expected '<amount> <CODE>' or "
                "'<CODE> <amount>' with one space, e.g. '1250.00 EUR'"
            )
        amount = match["amount1"] or match["amount2"]
        code = match["code1"] or match["code2"]
        return cls(amount, code)

    @classmethod
    def sum(cls, amounts: Iterable[Money], *, currency: str) -> Money:
        """Add up amounts of one currency; an empty iterable gives :meth:`zero`.

        Unlike the builtin ``sum()``, the result is always a :class:`Money`, and every item is
        checked against ``currency`` even when there is only one.

        Args:
            amounts: Amounts in ``currency``.
            currency: The expected currency, which also names the zero of an empty iterable.

        Returns:
            The exact total.

        Raises:
            CurrencyMismatchError: If an item is in another currency.
            TypeError: If an item is not a :class:`Money`.

        Examples:
            >>> Money.sum([], currency="EUR")
            Money('0.00', 'EUR')
            >>> Money.sum([Money("1.10", "EUR"), Money("2.2", "EUR")], currency="EUR")
            Money('3.30', 'EUR')
        """
        total = cls.zero(currency)
        for item in amounts:
            if not isinstance(item, Money):
                raise TypeError(f"Money.sum() items must be Money, not {type(item).__name__}")
            total = total + item
        return total

    # --- minor units --------------------------------------------------------------------------

    @property
    def minor_units(self) -> int:
        """Number of decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for BHD).

        Raises:
            ValueError: For codes without a minor unit in ISO 4217, such as ``XAU``.

        Examples:
            >>> (
            ...     Money(1, "EUR").minor_units,
            ...     Money(1, "JPY").minor_units,
            ...     Money(1, "BHD").minor_units,
            ... )
            (2, 0, 3)
        """
        return _minor_units(self.currency)

    def is_exact(self) -> bool:
        """Whether the amount is a whole number of minor units (no digits below the cent).

        Raises:
            ValueError: For codes without a minor unit, such as ``XAU``.

        Examples:
            >>> Money("12.30", "EUR").is_exact(), Money("12.305", "EUR").is_exact()
            (True, False)
            >>> Money("12.000", "EUR").is_exact()
            True
        """
        scaled = self.amount.scaleb(self.minor_units, _EXACT)
        return scaled == scaled.to_integral_value()

    def to_minor(self) -> int:
        """The amount as an exact integer count of minor units.

        Raises:
            ValueError: If the amount has digits below the minor unit (call :meth:`quantize` first),
                or the currency has no minor unit.

        Examples:
            >>> Money("12.50", "EUR").to_minor(), Money("-3", "EUR").to_minor()
            (1250, -300)
            >>> Money("0.125", "EUR").to_minor()
            Traceback (most recent call last):
                ...
            ValueError: 0.125 EUR is not a whole number of minor units (0.01 EUR); round it ...
        """
        places = self.minor_units
        if not self.is_exact():
            raise ValueError(
                f"{self} is not a whole number of minor units ({Decimal(1).scaleb(-places)} "
                f"{self.currency}); round it first with .quantize(rounding=...)"
            )
        return int(self.amount.scaleb(places, _EXACT))

    def quantize(self, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Round to the currency's minor unit with an explicit rounding mode.

        Args:
            rounding: One of the :mod:`decimal` rounding constants; banker's rounding
                (``ROUND_HALF_EVEN``) by default. Pass ``ROUND_HALF_UP`` for "commercial" rounding.

        Returns:
            The rounded amount, written with exactly the minor-unit places.

        Raises:
            ValueError: If ``rounding`` is not a :mod:`decimal` rounding mode, or the currency
                has no minor unit.

        Examples:
            >>> from decimal import ROUND_HALF_UP
            >>> Money("0.125", "EUR").quantize()
            Money('0.12', 'EUR')
            >>> Money("0.125", "EUR").quantize(rounding=ROUND_HALF_UP)
            Money('0.13', 'EUR')
            >>> Money("7", "EUR").quantize()
            Money('7.00', 'EUR')
        """
        if rounding not in _ROUNDING_MODES:
            raise ValueError(
                f"rounding must be one of the decimal module's modes "
                f"({', '.join(sorted(_ROUNDING_MODES))}), not {rounding!r}"
            )
        exponent = Decimal(1).scaleb(-self.minor_units)
        rounded = self.amount.quantize(exponent, rounding, _QUANTIZE)
        return Money._of(_result(rounded, "rounded amount"), self.currency)

    # --- arithmetic ---------------------------------------------------------------------------

    def _same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise _mismatch(self, other, operation)

    def __add__(self, other: Money) -> Money:
        if isinstance(other, Money):
            self._same_currency(other, "add")
            return Money._of(_result(_EXACT.add(self.amount, other.amount), "sum"), self.currency)
        if isinstance(other, int | float | Decimal | Fraction):
            raise TypeError(
                f"cannot add {type(other).__name__} to Money; add Money of the same currency "
                f"(e.g. Money({str(other)!r}, {self.currency!r}))"
            )
        return NotImplemented

    def __radd__(self, other: int) -> Money:
        # The builtin sum() starts from int 0; nothing else is a meaningful left operand.
        if type(other) is int and other == 0:
            return self
        if isinstance(other, int | float | Decimal | Fraction):
            raise TypeError(
                f"cannot add Money to {type(other).__name__} {other!r}; only int 0 is accepted, "
                "so that sum() works"
            )
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        if isinstance(other, Money):
            self._same_currency(other, "subtract")
            return Money._of(_result(_EXACT.subtract(self.amount, other.amount), "difference"), self.currency)
        if isinstance(other, int | float | Decimal | Fraction):
            raise TypeError(
                f"cannot subtract {type(other).__name__} from Money; subtract Money of the same currency"
            )
        return NotImplemented

    def __neg__(self) -> Money:
        return Money._of(_EXACT.minus(self.amount), self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money._of(_EXACT.abs(self.amount), self.currency)

    def __mul__(self, other: _Scalar) -> Money:
        if isinstance(other, Money):
            raise TypeError("cannot multiply Money by Money; multiply by a number (int, Decimal or Fraction)")
        if not isinstance(other, int | float | Decimal | Fraction):
            return NotImplemented
        factor = _check_scalar(other, "multiply")
        if isinstance(factor, Decimal):
            _bounded(factor, places=_MAX_RESULT_PLACES, what="factor")
            return Money._of(_result(_EXACT.multiply(self.amount, factor), "product"), self.currency)
        _fraction_bounded(factor, "factor")
        product = _finite_decimal(Fraction(self.amount) * factor)
        if product is None:
            raise ValueError(
                f"{self} * {factor} has no finite decimal expansion; divide instead "
                f"(money / {factor.denominator} is rounded to 34 digits) or use allocate() to "
                "split into parts that add up"
            )
        places = _exponent(self.amount)
        if _exponent(product) > places:
            # Keep at least the places the amount was written with: 0.30 * 1/3 is 0.10, not 0.1.
            product = product.quantize(Decimal(1).scaleb(places), context=_EXACT)
        return Money._of(_result(product, "product"), self.currency)

    def __rmul__(self, other: _Scalar) -> Money:
        return self.__mul__(other)

    @overload
    def __truediv__(self, other: Money) -> Decimal: ...
    @overload
    def __truediv__(self, other: _Scalar) -> Money: ...
    def __truediv__(self, other: Money | _Scalar) -> Money | Decimal:
        if isinstance(other, Money):
            self._same_currency(other, "divide")
            if other.amount.is_zero():
                raise ZeroDivisionError(f"cannot divide {self} by {other}")
            return _DIVISION.divide(self.amount, other.amount)
        if isinstance(other, Fraction):
            _fraction_bounded(other, "divisor")
        elif isinstance(other, Decimal) and other.is_finite():
            _bounded(other, places=_MAX_RESULT_PLACES, what="divisor")
        if not isinstance(other, int | float | Decimal | Fraction):
            return NotImplemented
        divisor = _check_scalar(other, "divide")
        if divisor == 0:
            raise ZeroDivisionError(f"cannot divide {self} by zero")
        if isinstance(divisor, Fraction):
            # a / (p/q) == (a*q) / p: one exact product, then one correctly rounded division.
            numerator = _EXACT.multiply(self.amount, Decimal(divisor.denominator))
            quotient = _DIVISION.divide(numerator, Decimal(divisor.numerator))
        else:
            quotient = _DIVISION.divide(self.amount, divisor)
        return Money._of(_result(quotient, "quotient"), self.currency)

    # --- comparison ---------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        # Decimal hashes by value (hash(Decimal("1.0")) == hash(Decimal("1.00"))), matching __eq__.
        return hash((self.amount, self.currency))

    def _ordered(self, other: object, operator: str) -> Money:
        if isinstance(other, Money):
            if other.currency != self.currency:
                raise _mismatch(self, other, "compare")
            return other
        raise TypeError(
            f"'{operator}' is not supported between Money and {type(other).__name__}; compare with "
            f"Money of the same currency, e.g. money {operator} Money.zero({self.currency!r})"
        )

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._ordered(other, "<").amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._ordered(other, "<=").amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._ordered(other, ">").amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._ordered(other, ">=").amount

    def __bool__(self) -> bool:
        return not self.amount.is_zero()

    # --- immutability -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(_IMMUTABLE)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(_IMMUTABLE)

    def __copy__(self) -> Money:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Money:
        return self

    def __reduce__(self) -> tuple[type[Money], tuple[str, str]]:
        # The default slot-state protocol would restore through the blocked __setattr__.
        return (Money, (format(self.amount, "f"), self.currency))

    # --- text ---------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Money({format(self.amount, 'f')!r}, {self.currency!r})"

    def __str__(self) -> str:
        # "f" never switches to exponent notation, so the text always parses back.
        return f"{self.amount:f} {self.currency}"

    def __format__(self, format_spec: str) -> str:
        """Format the amount with a :class:`~decimal.Decimal` format spec, then add the currency.

        Examples:
            >>> f"{Money('1234.5', 'EUR'):,.2f}"
            '1,234.50 EUR'
            >>> f"{Money('1234.5', 'EUR')}"
            '1234.5 EUR'
        """
        if not format_spec:
            return str(self)
        return f"{format(self.amount, format_spec)} {self.currency}"

    # --- pydantic -----------------------------------------------------------------------------

    @classmethod
    def _validate(cls, value: Any) -> Money:
        if isinstance(value, Money):
            return value
        try:
            if isinstance(value, str):
                return cls.parse(value)
            if isinstance(value, Mapping):
                missing = sorted({"amount", "currency"} - value.keys())
                extra = sorted(str(key) for key in value.keys() - {"amount", "currency"})
                if missing or extra:
                    raise ValueError(
                        "a money object needs exactly the keys 'amount' and 'currency'"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unexpected {', '.join(extra)}" if extra else "")
                    )
                amount = value["amount"]
                if isinstance(amount, float):
                    raise ValueError(
                        f"amount must not be a float ({amount!r}): write it as a string such as "
                        f"{str(amount)!r} so no cent is lost"
                    )
                return cls(amount, value["currency"])
        except (TypeError, ValueError) as exc:
            raise _pydantic_error(str(exc)) from exc
        raise _pydantic_error(
            f"expected money as '1250.00 EUR', 'EUR 1250.00' or "
            f"{{'amount': '1250.00', 'currency': 'EUR'}}, not {type(value).__name__}"
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Let pydantic models use :class:`Money` as a field type.

        Validation accepts a :class:`Money`, the text ``"1250.00 EUR"`` or ``"EUR 1250.00"``, or
        a mapping ``{"amount": "1250.00", "currency": "EUR"}`` (amount as str, int or Decimal;
        floats are rejected). Both python and json dumps give the text ``"1250.00 EUR"``, with the
        amount as given, so a dump validates back to an equal value.

        Examples:
            >>> from pydantic import BaseModel
            >>> class Deal(BaseModel):
            ...     value: Money
            >>> deal = Deal.model_validate({"value": {"amount": "1250.00", "currency": "EUR"}})
            >>> deal.value
            Money('1250.00', 'EUR')
            >>> deal.model_dump_json()
            '{"value":"1250.00 EUR"}'
        """
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """JSON Schema for plan files: the text form (with a pattern) or the object form.

        In serialization mode the schema is the text form only, since that is what dumps produce.

        Examples:
            >>> from pydantic import TypeAdapter
            >>> schema = TypeAdapter(Money).json_schema()
            >>> [alternative["type"] for alternative in schema["anyOf"]]
            ['string', 'object']
            >>> TypeAdapter(Money).json_schema(mode="serialization")["type"]
            'string'
        """
        text: JsonSchemaValue = {
            "type": "string",
            "pattern": _TEXT_PATTERN,
            "description": "An amount and an uppercase ISO 4217 currency code, in either order.",
            "examples": ["1250.00 EUR", "EUR 1250.00"],
        }
        if handler.mode == "serialization":
            return text
        return {
            "description": "An exact amount of money in one ISO 4217 currency.",
            "anyOf": [
                text,
                {
                    "type": "object",
                    "properties": {
                        "amount": {
                            "anyOf": [
                                {"type": "string", "pattern": f"^{_AMOUNT_PATTERN}$"},
                                {"type": "integer"},
                            ],
                            "description": "The amount; a string keeps every digit exactly.",
                        },
                        "currency": {
                            "type": "string",
                            "pattern": f"^{_CODE_PATTERN}$",
                            "description": "Uppercase ISO 4217 currency code.",
                        },
                    },
                    "required": ["amount", "currency"],
                    "additionalProperties": False,
                },
            ],
        }


class _Sortable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


_K = TypeVar("_K", bound=_Sortable)


def _weight(key: object, weight: object) -> Fraction:
    if isinstance(weight, bool) or not isinstance(weight, int | Decimal | Fraction):
        hint = f"Decimal({str(weight)!r}), " if isinstance(weight, float) else ""
        raise TypeError(
            f"weight for {key!r} must be an int, Decimal or Fraction, not "
            f"{type(weight).__name__} ({weight!r}); pass e.g. {hint}a Fraction or an int"
        )
    if isinstance(weight, Decimal) and not weight.is_finite():
        raise ValueError(f"weight for {key!r} must be a finite number, not {weight}")
    if weight < 0:
        raise ValueError(f"weight for {key!r} is negative ({weight}); weights must be >= 0")
    # Read the size from the exponent and digit count before any exact conversion: Fraction(1e-999999999)
    # alone would build a billion-digit integer.
    if isinstance(weight, Decimal):
        _, digits, exponent = weight.as_tuple()
        assert isinstance(exponent, int), "finite, checked above"
        size = max(len(digits) + max(exponent, 0), -exponent)
    else:
        fraction = Fraction(weight)
        bits = max(abs(fraction.numerator).bit_length(), fraction.denominator.bit_length())
        size = bits * 30103 // 100000 + 1  # digits from bits (log10 2 = 0.30103)
    if size > _MAX_WEIGHT_DIGITS and weight != 0:
        raise ValueError(
            f"weight for {key!r} needs {size} digits; at most {_MAX_WEIGHT_DIGITS} are accepted "
            "(weights are ratios: scale them to a reasonable size)"
        )
    return Fraction(weight)


def allocate(total: Money, weights: Mapping[_K, int | Decimal | Fraction]) -> dict[_K, Money]:
    """Split ``total`` over recipients in proportion to ``weights``, exactly, to the minor unit.

    Largest-remainder (Hamilton) method in minor units of ``total.currency``: each recipient
    gets the floor of its exact share ``total * weight / sum(weights)`` (computed with
    :class:`~fractions.Fraction`), and the units left over go one each to the recipients with
    the largest remainders. Equal remainders are broken by recipient key, smallest first, so the
    result does not depend on mapping order.

    Guarantees:

    * the shares sum exactly to ``total``;
    * each share is less than one minor unit away from its exact proportion;
    * a recipient with weight 0 gets exactly zero;
    * scaling every weight by the same positive number changes nothing;
    * a negative total (a clawback) is split as the mirror image of the positive one:
      ``allocate(-t, w)[k] == -allocate(t, w)[k]``.

    Args:
        total: The amount to split; must be a whole number of minor units (see
            :meth:`Money.quantize`).
        weights: Recipient key -> non-negative weight (int, Decimal such as ``Decimal("0.7")``, or
            Fraction). At least one weight must be positive. Keys must be mutually orderable with a
            total order (e.g. all str), since ties are broken by key.

    Returns:
        Recipient key -> share, ordered by key.

    Raises:
        TypeError: If ``total`` is not Money, a weight is a float (or another non-number), or the
            keys cannot be sorted.
        ValueError: If ``weights`` is empty, a weight is negative or not finite, all weights are
            zero, ``total`` has digits below the minor unit, or its currency has no minor unit.

    Examples:
        >>> from decimal import Decimal
        >>> allocate(Money("100.00", "EUR"), {"c": 1, "b": 1, "a": 1})
        {'a': Money('33.34', 'EUR'), 'b': Money('33.33', 'EUR'), 'c': Money('33.33', 'EUR')}
        >>> allocate(Money("-100.00", "EUR"), {"c": 1, "b": 1, "a": 1})
        {'a': Money('-33.34', 'EUR'), 'b': Money('-33.33', 'EUR'), 'c': Money('-33.33', 'EUR')}
        >>> allocate(Money("10", "JPY"), {"marketing": Decimal("0.7"), "sales": Decimal("0.3")})
        {'marketing': Money('7', 'JPY'), 'sales': Money('3', 'JPY')}
        >>> allocate(Money("10.005", "EUR"), {"a": 1})
        Traceback (most recent call last):
            ...
        ValueError: cannot allocate 10.005 EUR: ... round it first with .quantize(rounding=...)
    """
    if not isinstance(total, Money):
        raise TypeError(f"total must be Money, not {type(total).__name__}")
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a mapping of recipient to weight, not {type(weights).__name__}")
    if not weights:
        raise ValueError("cannot allocate over no recipients: weights is empty")
    try:
        keys = sorted(weights)
    except TypeError as exc:
        kinds = ", ".join(sorted({type(key).__name__ for key in weights}))
        raise TypeError(
            "allocate() breaks ties by recipient key, so keys must be mutually orderable "
            f"(e.g. all str); got keys of type {kinds}"
        ) from exc
    shares = [_weight(key, weights[key]) for key in keys]
    weight_sum = sum(shares, Fraction(0))
    if weight_sum == 0:
        raise ValueError(f"cannot allocate: every weight is zero ({', '.join(map(repr, keys))})")
    try:
        units = total.to_minor()
    except ValueError as exc:
        raise ValueError(f"cannot allocate {total}: {exc}") from exc
    # Split the magnitude and reapply the sign, so clawbacks mirror payouts exactly.
    magnitude = abs(units)
    exact = [magnitude * share / weight_sum for share in shares]
    floors = [value.numerator // value.denominator for value in exact]
    leftover = magnitude - sum(floors)
    # sorted() is stable and keys are already in order, so equal remainders go to the smaller key.
    # Fewer units are left over than there are non-zero remainders, so zero weights never get one.
    by_remainder = sorted(range(len(keys)), key=lambda i: exact[i] - floors[i], reverse=True)
    for index in by_remainder[:leftover]:
        floors[index] += 1
    sign = -1 if units < 0 else 1
    return {
        key: Money.from_minor(sign * floor, total.currency) for key, floor in zip(keys, floors, strict=True)
    }


class FxTable:
    """Exchange rates by date, for converting amounts into one currency.

    Each row says that on ``date`` one unit of ``base`` is worth ``rate`` units of ``quote`` (as reference
    rates are published). A look-up takes the latest rate of the pair on or before the requested date.

    A rate is a number above 0 with at most :data:`FX_RATE_DIGITS` (12) digits before the decimal point and
    :data:`FX_RATE_PLACES` (18) after it; anything else is a :class:`~smarketing.errors.DataError` naming
    the pair and the date. Two different rates for one pair and date are refused too.

    **Inverse rates.** When only the opposite direction of a pair is given (``USD/EUR`` but no
    ``EUR/USD``), the rate is derived as ``1 / rate`` of the same date, correctly rounded to 34 significant
    digits, half to even (IEEE 754 decimal128, the precision of :class:`Money` division). A converted amount
    is then rounded to the minor unit as any other; the double rounding can move a result by one minor unit
    only when the exact product lies within 10**-30 of a half unit. A pair given in both directions uses
    each direction as given. No cross rates (``USD/JPY`` from ``USD/EUR`` and ``EUR/JPY``) are made up.

    A missing rate is a :class:`~smarketing.errors.DataError` naming the pair and date.

    Args:
        rows: ``(base, quote, date, rate)`` tuples; ``rate`` as ``Decimal``, ``int`` or ``str`` (no floats).

    Examples:
        >>> from datetime import date
        >>> fx = FxTable(
        ...     [("USD", "EUR", date(2026, 10, 1), "0.92"), ("USD", "EUR", date(2026, 10, 15), "0.95")]
        ... )
        >>> fx.rate("USD", "EUR", date(2026, 10, 14))
        Decimal('0.92')
        >>> fx.convert(Money("100.00", "USD"), "EUR", date(2026, 10, 20))
        Money('95.00', 'EUR')
        >>> fx.rate("EUR", "USD", date(2026, 10, 20))  # derived: 1 / 0.95
        Decimal('1.052631578947368421052631578947368')
        >>> fx.convert(Money("95.00", "EUR"), "USD", date(2026, 10, 20))
        Money('100.00', 'USD')
        >>> fx.convert(Money("100.00", "USD"), "EUR", date(2026, 9, 30))
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: fx USD/EUR: 2026-09-30: no rate on or before this date (first: ...)
    """

    __slots__ = ("_given", "_rates")

    def __init__(self, rows: Iterable[tuple[str, str, _date, Decimal | int | str]] = ()) -> None:
        rates: dict[tuple[str, str], dict[_date, Decimal]] = {}
        for base, quote, on, rate in rows:
            pair = (_check_currency(base), _check_currency(quote))
            if not isinstance(on, _date) or isinstance(on, datetime):
                raise TypeError(
                    f"fx {base}/{quote}: the date must be a datetime.date, not {type(on).__name__} {on!r}"
                )
            value = _fx_rate(base, quote, on, rate)
            known = rates.setdefault(pair, {})
            if on in known and known[on] != value:
                raise DataError(
                    f"two different rates ({known[on]}, {value})",
                    kind="fx",
                    record=f"{base}/{quote}",
                    field=str(on),
                )
            known[on] = value
        given = {pair: sorted(by_date.items()) for pair, by_date in rates.items()}
        derived = {
            (quote, base): [(on, _DIVISION.divide(Decimal(1), rate)) for on, rate in series]
            for (base, quote), series in given.items()
            if (quote, base) not in given and base != quote
        }
        self._given = given
        self._rates = {**given, **derived}

    def rate(self, base: str, quote: str, on: _date) -> Decimal:
        """The rate of ``base`` in ``quote`` in force on ``on`` (1 for the same currency).

        A rate given only in the opposite direction is inverted (see the class docstring).
        """
        if base == quote:
            return Decimal(1)
        series = self._rates.get((base, quote))
        if not series:
            raise DataError("no rates for this pair", kind="fx", record=f"{base}/{quote}", field=str(on))
        index = bisect.bisect_right(series, on, key=lambda item: item[0])
        if index == 0:
            raise DataError(
                f"no rate on or before this date (first: {series[0][0]})",
                kind="fx",
                record=f"{base}/{quote}",
                field=str(on),
            )
        return series[index - 1][1]

    def series(self, base: str, quote: str) -> list[tuple[_date, Decimal]]:
        """Every rate of ``base`` in ``quote`` as ``(date, rate)``, oldest first (derived ones included).

        Empty when the pair is known in neither direction.
        """
        return list(self._rates.get((base, quote), ()))

    def convert(self, money: Money, to: str, on: _date, *, rounding: str | None = ROUND_HALF_EVEN) -> Money:
        """Convert ``money`` into currency ``to`` at the rate in force on ``on``.

        The result is rounded to the minor unit of ``to`` with ``rounding``; pass ``rounding=None`` for the
        exact product (then round or :func:`allocate` yourself).
        """
        if money.currency == to:
            return money
        product = _EXACT.multiply(money.amount, self.rate(money.currency, to, on))
        converted = Money._of(_result(product, "converted amount"), _check_currency(to))
        return converted if rounding is None else converted.quantize(rounding=rounding)

    def pairs(self) -> list[tuple[str, str]]:
        """The pairs given, sorted (pairs derived by inversion are not listed)."""
        return sorted(self._given)

    def rows(self) -> list[tuple[str, str, _date, Decimal]]:
        """The rates given as ``(base, quote, date, rate)`` rows, sorted (derived inverses not included)."""
        return [(b, q, d, r) for (b, q), series in sorted(self._given.items()) for d, r in series]

    def __repr__(self) -> str:
        return f"FxTable({len(self.rows())} rates, pairs={self.pairs()})"


def _fx_rate(base: str, quote: str, on: _date, rate: object) -> Decimal:
    """A checked exchange rate: a number above 0 inside the rate bounds, else a DataError naming the pair."""
    place = {"kind": "fx", "record": f"{base}/{quote}", "field": str(on)}
    try:
        value = _to_amount(rate)
    except TypeError as exc:
        raise TypeError(f"fx {base}/{quote}: {on}: {str(exc).replace('amount', 'rate', 1)}") from None
    except ValueError as exc:
        raise DataError(str(exc).replace("amount", "rate", 1), **place) from None
    if value <= 0:
        raise DataError(f"rate must be above 0, not {value}", **place)
    problem = check_digits(value, integer_digits=FX_RATE_DIGITS, decimal_places=FX_RATE_PLACES)
    if problem is not None:
        shown = value if len(value.as_tuple().digits) <= 40 else f"{value:.6e}"
        raise DataError(f"rate {shown} {problem}", **place)
    return value
