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

Amounts in minor units convert between currencies here too, for every row at once: :class:`FxPair` holds the
rates of one pair as exact integer ratios, :func:`with_rates` finds the rate in force on each row's date
(``join_asof``), and :func:`convert_minor` converts, rounded half to even per amount in exact integers:
the result of :meth:`FxTable.convert <smarketing.money.FxTable.convert>` and ``to_minor()``, amount by
amount (:func:`convert_units` is that conversion for one amount).

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

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import narwhals as nw
import polars as pl

from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_MONEY_DIGITS
from smarketing.errors import DataError
from smarketing.money import FxTable, Money

__all__ = [
    "MAX_PRODUCT",
    "WON",
    "FxPair",
    "check_won",
    "convert_column",
    "convert_minor",
    "convert_units",
    "exact_ratio",
    "half_even_div",
    "minor_units",
    "with_rates",
]

#: The stage value of a won deal.
WON = "won"

#: Deal amounts are below this many major units, so every amount in minor units fits a signed int64.
_LIMIT = 10**MAX_AMOUNT_DIGITS

_I64 = pl.Int64

#: Products of minor units and integer rates or weights stay below this, so they are exact in int64.
MAX_PRODUCT = 2**62


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


def exact_ratio(value: Decimal) -> tuple[int, int]:
    """``value`` as an exact ``(numerator, denominator)`` pair of integers (denominator > 0)."""
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator


def half_even_div(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """``numerator / denominator`` rounded half to even, in integers (denominator > 0)."""
    den = denominator if isinstance(denominator, pl.Expr) else pl.lit(denominator, dtype=_I64)
    q = numerator.floordiv(den)
    twice = (numerator - q * den) * 2
    up = (twice > den) | ((twice == den) & (q % 2 == 1))
    return q + up.cast(_I64)


@attrs.frozen
class FxPair:
    """The rates of one currency pair, oldest first, as :class:`~smarketing.money.FxTable` holds them.

    Examples:
        >>> fx = FxTable([("USD", "EUR", date(2026, 10, 1), "0.92")])
        >>> pair = FxPair.of(fx, "USD", "EUR")
        >>> pair.ratios, pair.scale_up, pair.scale_down
        ([(23, 25)], 1, 1)
    """

    code: str
    """The currency converted from."""
    to: str
    """The currency converted into."""
    rates: tuple[tuple[date, Decimal], ...]
    """``(date, rate)`` from that date on, oldest first (empty when the pair is unknown)."""
    ratios: list[tuple[int, int]]
    """Each rate as an exact integer ratio."""
    scale_up: int
    """Minor units of ``code`` times this and the rate, over ``scale_down``, are minor units of ``to``."""
    scale_down: int

    @classmethod
    def of(cls, fx: FxTable, code: str, to: str) -> FxPair:
        """The pair ``code`` into ``to`` of ``fx`` (both currencies with a minor unit)."""
        rates = tuple(fx.series(code, to))
        source, target = Money.zero(code).minor_units, Money.zero(to).minor_units
        return cls(
            code=code,
            to=to,
            rates=rates,
            ratios=[exact_ratio(rate) for _, rate in rates],
            scale_up=10 ** max(0, target - source),
            scale_down=10 ** max(0, source - target),
        )


def with_rates(part: pl.DataFrame, pair: FxPair, on: str) -> pl.DataFrame:
    """``part`` (sorted by ``on``) with ``_rate``, the index of the rate in force on each row's ``on`` day.

    ``_rate`` is null where the pair has no rate on or before the day; ``_fx`` says which rate it is
    (``"USD/EUR 0.92 on 2026-10-01"``).
    """
    table = pl.DataFrame(
        {
            "_on": [day for day, _ in pair.rates],
            "_rate": list(range(len(pair.rates))),
            "_fx": [f"{pair.code}/{pair.to} {rate} on {day}" for day, rate in pair.rates],
        },
        schema={"_on": pl.Date, "_rate": _I64, "_fx": pl.String},
    )
    return part.join_asof(table, left_on=on, right_on="_on", strategy="backward").drop("_on")


def convert_units(units: int, ratio: tuple[int, int], pair: FxPair) -> int:
    """One amount in minor units of ``pair.code`` converted at ``ratio`` into minor units of ``pair.to``.

    Rounded half to even, in exact integers: :meth:`FxTable.convert <smarketing.money.FxTable.convert>`'s
    result in minor units.

    Examples:
        >>> pair = FxPair.of(FxTable([("EUR", "JPY", date(2026, 1, 1), "0.5")]), "EUR", "JPY")
        >>> [convert_units(u, pair.ratios[0], pair) for u in (100, 300, 500)]  # 0.5, 1.5, 2.5 JPY
        [0, 2, 2]
    """
    num, den = ratio
    den *= pair.scale_down
    q, r = divmod(units * num * pair.scale_up, den)
    twice = 2 * r
    return q + (twice > den or (twice == den and q % 2 == 1))


def convert_minor(part: pl.DataFrame, columns: Sequence[str], pair: FxPair) -> pl.DataFrame | None:
    """``columns`` (integer minor units of ``pair.code``) in minor units of ``pair.to`` at each row's rate.

    ``part`` has ``_rate`` from :func:`with_rates`, with no nulls. Each amount is rounded half to even, in
    exact int64 arithmetic; ``None`` when a product might not fit int64 (convert those with
    :func:`convert_units`, in Python integers).
    """
    biggest = max(int(part.select(pl.col(c).abs().max()).item() or 0) for c in columns)
    ratios = pair.ratios
    if biggest * max(n for n, _ in ratios) * pair.scale_up >= MAX_PRODUCT:
        return None
    if max(d for _, d in ratios) * pair.scale_down >= MAX_PRODUCT:
        return None
    which = part.get_column("_rate")
    part = part.with_columns(
        pl.Series("_num", [n for n, _ in ratios], dtype=_I64).gather(which),
        pl.Series("_den", [d for _, d in ratios], dtype=_I64).gather(which),
    )
    den = pl.col("_den") * pair.scale_down
    return part.with_columns(
        half_even_div(pl.col(name) * pl.col("_num") * pair.scale_up, den).alias(name) for name in columns
    ).drop("_num", "_den")


def convert_column(
    frame: pl.DataFrame,
    column: str,
    *,
    fx: FxTable,
    to: str,
    currency: str,
    on: str,
    fallback: Callable[[int], int],
) -> pl.Series:
    """``column`` (integer minor units of each row's ``currency``) in minor units of ``to``, row by row.

    Each row converts at the rate in force on its ``on`` day, rounded half to even per amount (rows already
    in ``to`` keep their units), all at once by :func:`with_rates` and :func:`convert_minor`. A row that
    cannot be converted exactly here (its pair has no rate on or before the day, or the result would leave
    int64 or the range of :class:`~smarketing.money.Money`) goes to ``fallback(row)``, in row order: the
    caller converts it with :meth:`FxTable.convert <smarketing.money.FxTable.convert>`, which gives the same
    units or raises the error that names the pair and day.

    Examples:
        >>> fx = FxTable([("USD", "EUR", date(2026, 10, 1), "0.92")])
        >>> frame = pl.DataFrame(
        ...     {"units": [1000, 1000], "cur": ["USD", "EUR"], "day": [date(2026, 10, 2), date(2026, 10, 2)]}
        ... )
        >>> convert_column(frame, "units", fx=fx, to="EUR", currency="cur", on="day", fallback=int).to_list()
        [920, 1000]
    """
    rows = frame.select(
        pl.int_range(pl.len(), dtype=_I64).alias("_row"),
        pl.col(column).cast(_I64).alias("_units"),
        pl.col(currency).alias("_code"),
        pl.col(on).alias("_day"),
    )
    pieces = [rows.filter(pl.col("_code") == to).select("_row", "_units")]
    codes = sorted(c for c in rows.get_column("_code").unique().to_list() if c is not None and c != to)
    for code in codes:
        part = rows.filter(pl.col("_code") == code)
        if not fx.series(code, to):
            pieces.append(part.select("_row", pl.lit(None, dtype=_I64).alias("_units")))
            continue
        pieces.append(_convert_part(part.sort("_day"), FxPair.of(fx, code, to)))
    converted = pl.concat(pieces).sort("_row").get_column("_units").alias(column)
    if not converted.null_count():
        return converted
    values = converted.to_list()
    for row in converted.is_null().arg_true().to_list():
        values[row] = fallback(row)
    return pl.Series(column, values, dtype=_I64)


def _convert_part(part: pl.DataFrame, pair: FxPair) -> pl.DataFrame:
    """``_row`` and ``_units`` converted by ``pair`` (null where not exact in int64 and Money's range)."""
    part = with_rates(part, pair, "_day")
    known = part.filter(pl.col("_rate").is_not_null())
    converted = convert_minor(known, ["_units"], pair)
    if converted is None:
        units = [
            convert_units(u, pair.ratios[which], pair)
            for u, which in known.select("_units", "_rate").iter_rows()
        ]
        converted = known.with_columns(
            pl.Series("_units", [u if abs(u) < MAX_PRODUCT else None for u in units], dtype=_I64)
        )
    # Money holds at most 18 digits before the point: a result that close to it is left to the caller.
    bound = min(MAX_PRODUCT, 10 ** (MAX_MONEY_DIGITS + Money.zero(pair.to).minor_units) - 1)
    inside = pl.when(pl.col("_units").abs() < bound).then(pl.col("_units"))
    return pl.concat(
        [
            converted.select("_row", inside.alias("_units")),
            part.filter(pl.col("_rate").is_null()).select("_row", pl.lit(None, dtype=_I64).alias("_units")),
        ]
    )
