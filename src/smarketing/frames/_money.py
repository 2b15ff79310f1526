"""The won-deal rule: which deal rows count as won revenue, and their amounts in minor units (private).

Rewards, the KPI kernel and attribution's revenue intake all read won deals through this module, so a
deal that one of them refuses is refused by all of them, with the same message. A row whose ``stage`` is
``won`` must have:

* an ``id``, a ``close_date``, an ``amount`` and an ``amount_currency``;
* a currency that is an uppercase ISO 4217 code with a minor unit (not ``XXX``, ``XTS`` or ``XAU``);
* an amount of Decimal or integer type (never a float), not negative (a refund is ``refunded_on``),
  below ``10**15`` major units (:data:`~smarketing._limits.MAX_AMOUNT_DIGITS`), and with no digits below
  the currency's minor unit (``24000.005 EUR`` is refused, never rounded).

A breach is a :class:`~smarketing.errors.DataError` naming the deal id and the column.

Examples:
    >>> from decimal import Decimal
    >>> import polars as pl
    >>> frame = pl.DataFrame(
    ...     {"id": ["D1", "D2"], "amount": [Decimal("24000.00"), Decimal("24000.005")]},
    ...     schema_overrides={"amount": pl.Decimal(38, 3)},
    ... ).with_columns(amount_currency=pl.lit("EUR"))
    >>> minor_units(frame.head(1), "amount", "amount_currency").to_list()
    [2400000]
    >>> minor_units(frame, "amount", "amount_currency")
    Traceback (most recent call last):
    ...
    smarketing.errors.DataError: deal D2: amount: 24000.005 has digits below the minor unit of EUR (0.01)
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import polars as pl

from smarketing._limits import MAX_AMOUNT_DIGITS
from smarketing.errors import DataError
from smarketing.money import Money

__all__ = ["WON", "check_won", "minor_units"]

#: The stage value of a won deal.
WON = "won"

#: Deal amounts are below this many major units, so every amount in minor units fits a signed int64.
_LIMIT = 10**MAX_AMOUNT_DIGITS

_I64 = pl.Int64


def _first_id(frame: pl.DataFrame, bad: pl.Expr, id_column: str) -> str:
    return str(frame.filter(bad).get_column(id_column)[0])


def _exponent(code: str, frame: pl.DataFrame, currency: str, id_column: str) -> int:
    """The minor-unit exponent of ``code``, or a DataError naming the first deal in it."""
    try:
        return Money.zero(code).minor_units
    except (TypeError, ValueError) as exc:
        record = _first_id(frame, pl.col(currency) == code, id_column)
        if "no minor unit" in str(exc):
            message = (
                f"{code} has no minor unit in ISO 4217 (funds, precious metals and test codes): it cannot "
                "be paid or counted as revenue; use the currency the deal was paid in"
            )
        else:
            message = str(exc)
        raise DataError(message, kind="deal", record=record, field=currency) from None


def minor_units(
    frame: pl.DataFrame, column: str, currency: str, *, id_column: str = "id", kind: str = "deal"
) -> pl.Series:
    """A money column (Decimal or integer) in integer minor units of each row's currency, checked.

    Null amounts stay null. Every non-null amount must be in range and a whole number of minor units of
    its row's currency (see the module docstring); the first row that is not is a
    :class:`~smarketing.errors.DataError` naming its id and ``column``.
    """
    dtype = frame.schema[column]
    if not (isinstance(dtype, pl.Decimal) or dtype.is_integer()):
        raise DataError(
            f"money must be a Decimal or integer column (no floats: they cannot hold cents exactly), "
            f"not {dtype}",
            kind=kind,
            field=column,
        )
    value = pl.col(column)
    big = value.abs() >= _LIMIT
    if frame.select(big.any()).item():
        row = frame.filter(big).row(0, named=True)
        raise DataError(
            f"{row[column]} has more than {MAX_AMOUNT_DIGITS} digits before the decimal point; deal "
            f"amounts are below 10**{MAX_AMOUNT_DIGITS}",
            kind=kind,
            record=str(row[id_column]),
            field=column,
        )
    codes = sorted(
        str(c)
        for c in frame.filter(value.is_not_null()).get_column(currency).unique().to_list()
        if c is not None
    )
    exponents = {code: _exponent(code, frame, currency, id_column) for code in codes}
    if not codes:
        return pl.Series(column, [None] * frame.height, dtype=_I64)
    if isinstance(dtype, pl.Decimal):
        scale = dtype.scale or 0
        for code in codes:
            places = exponents[code]
            if scale <= places:
                continue
            bad = (pl.col(currency) == code) & (value.round(places) != value)
            if frame.select(bad.any()).item():
                row = frame.filter(bad).row(0, named=True)
                unit = format(Money.from_minor(1, code).amount, "f")
                raise DataError(
                    f"{row[column]} has digits below the minor unit of {code} ({unit})",
                    kind=kind,
                    record=str(row[id_column]),
                    field=column,
                )
        # Rounding is exact here (checked above); the cast then keeps the magnitude below 10**18.
        scale = min(scale, max(exponents.values()))
        integral = (value.round(scale).cast(pl.Decimal(38, scale)) * 10**scale).cast(_I64)
    else:
        integral = value.cast(_I64)
        scale = 0
    factors = {code: 10 ** (exponents[code] - scale) if exponents[code] >= scale else 0 for code in codes}
    if len(set(factors.values())) == 1 and 0 not in factors.values():
        factor: pl.Expr = pl.lit(factors[codes[0]], dtype=_I64)
        return frame.select((integral * factor).cast(_I64).alias(column)).to_series()
    # Several exponents: scale to the largest, then down per currency (exact: checked above).
    top_factor = 10 ** (max(exponents.values()) - scale)
    down = pl.col(currency).replace_strict(
        codes, [10 ** (max(exponents.values()) - exponents[c]) for c in codes], return_dtype=_I64, default=1
    )
    scaled = (integral * top_factor).cast(_I64)
    return frame.select((scaled // down).alias(column)).to_series()


def check_won(deals: nw.LazyFrame[Any] | pl.DataFrame, *, kind: str = "deal") -> pl.DataFrame:
    """The won rows of ``deals`` (``id``, ``amount``, ``amount_currency``, ``close_date``), checked.

    Raises:
        DataError: A won deal breaks the rule of this module; the message names the deal and column.
    """
    columns = ["id", "amount", "amount_currency", "close_date"]
    if isinstance(deals, pl.DataFrame):
        won = deals.filter(pl.col("stage") == WON).select(columns)
    else:
        native = deals.filter(nw.col("stage") == WON).select(columns).collect(backend="polars").to_native()
        assert isinstance(native, pl.DataFrame)
        won = native
    if won.get_column("id").null_count():
        raise DataError("a won deal has no id", kind=kind, field="id")
    for column, message in (
        ("close_date", "a won deal needs a close_date"),
        ("amount", "a won deal needs an amount"),
        ("amount_currency", "a won deal needs a currency"),
    ):
        missing = won.filter(pl.col(column).is_null())
        if len(missing):
            raise DataError(message, kind=kind, record=str(missing.get_column("id")[0]), field=column)
    units = minor_units(won, "amount", "amount_currency", kind=kind)
    negative = won.filter(pl.col("amount") < 0)
    if len(negative):
        raise DataError(
            "amount must not be negative; record a refund with refunded_on",
            kind=kind,
            record=str(negative.get_column("id")[0]),
            field="amount",
        )
    return won.with_columns(units.alias("_minor"))
