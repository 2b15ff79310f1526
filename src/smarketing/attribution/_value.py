"""Money columns of journeys (private): value in minor units, currency indexes, won deals per lead."""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.attribution._kernel import US, IntArray
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import _money, as_lazy
from smarketing.money import FxTable, Money


def _minor_digits(code: str) -> int:
    """The digits of ``code``'s minor unit (2 for EUR, 0 for JPY)."""
    return Money.zero(code).minor_units


def path_values(
    frame: pl.DataFrame, value: str | None, currency: str | None
) -> tuple[IntArray | None, npt.NDArray[np.int16] | None, tuple[str, ...]]:
    if value is None:
        return None, None, ()
    if value not in frame.columns:
        raise DataError(f"missing column {value}", kind="paths")
    lf = nw.from_native(frame).lazy()
    currencies, expr = currency_index(lf, currency, "paths")
    index = nw.lit(0, dtype=nw.Int16()) if expr is None else expr
    out = lf.select(minor_units_expr(lf, value, currencies, expr, "paths").alias("v"), index.alias("c"))
    native = out.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    return (
        native.get_column("v").fill_null(0).to_numpy().astype(np.int64),
        native.get_column("c").to_numpy().astype(np.int16),
        currencies,
    )


def currency_index(lf: nw.LazyFrame[Any], currency: str | None, kind: str) -> tuple[tuple[str, ...], Any]:
    """The currencies present and an expression giving each row's index into them.

    The expression is None when every row has the one currency (a code was given, or the column holds one
    code and no nulls), so callers can skip per-row lookups.
    """
    if currency is None:
        raise DataError("a value column needs a currency: a column name or an ISO 4217 code", kind=kind)
    if currency in lf.collect_schema():
        # Least and greatest code first: one pass without a hash table, enough when they are the same.
        low, high, missing = (
            lf.select(
                nw.col(currency).min().alias("_low"),
                nw.col(currency).max().alias("_high"),
                nw.col(currency).is_null().sum().alias("_missing"),
            )
            .collect()
            .row(0)
        )
        if low == high:
            found = [] if low is None else [low]
        else:
            found = lf.select(currency).drop_nulls().unique().collect().get_column(currency).to_list()
        for code in found:
            try:
                Money.zero(str(code))
            except (TypeError, ValueError) as exc:
                raise DataError(str(exc), kind=kind, field=currency) from None
        codes = tuple(sorted(str(c) for c in found)) or ("XXX",)
        if len(codes) == 1:
            # One currency: index 0 wherever the row has one, without looking the code up row by row.
            if found and missing == 0:
                return codes, None
            return codes, nw.when(~nw.col(currency).is_null()).then(nw.lit(0, dtype=nw.Int16()))
        expr = nw.col(currency).replace_strict(list(codes), list(range(len(codes))), return_dtype=nw.Int16())
        return codes, expr
    try:
        Money.zero(currency)
    except ValueError as exc:
        raise DataError(f"{exc} (and no column of that name)", kind=kind, field="currency") from None
    return (currency,), None


def minor_units_expr(
    lf: nw.LazyFrame[Any],
    value: str,
    currencies: tuple[str, ...],
    currency_index: Any,
    kind: str,
    *,
    id_column: str | None = None,
) -> Any:
    """Value in integer minor units of each row's currency; rejects floats, negatives and sub-unit digits."""
    dtype = lf.collect_schema()[value]
    exponents = [_minor_digits(c) if c != "XXX" else 0 for c in currencies]
    if isinstance(dtype, nw.Decimal):
        scale = dtype.scale or 0
        # A Decimal(p, s) times 10**s is an integer: exact, whatever the engine.
        integral = (nw.col(value) * 10**scale).cast(nw.Int64())
    elif dtype.is_integer():
        scale = 0
        integral = nw.col(value).cast(nw.Int64())
    else:
        hint = " pass Decimal amounts (e.g. cast to pl.Decimal(38, 2))" if dtype.is_float() else ""
        raise DataError(
            f"money must be a Decimal or integer column, not {dtype};{hint}", kind=kind, field=value
        )
    ids = list(range(len(currencies)))
    if currency_index is None:
        # Every row in the one currency: constant factors, and no work where a factor is 1.
        up_factor, down_factor = 10 ** max(0, exponents[0] - scale), 10 ** max(0, scale - exponents[0])
        scaled = integral * up_factor if up_factor != 1 else integral
        sub_unit = scaled % down_factor != 0 if down_factor != 1 else None
        _reject_money(
            lf,
            value,
            nw.col(value) < 0 if sub_unit is None else sub_unit | (nw.col(value) < 0),
            kind,
            id_column,
        )
        return scaled // down_factor if down_factor != 1 else scaled
    # A value needs its currency: one without would otherwise count as nothing.
    _reject_money(
        lf,
        value,
        ~nw.col(value).is_null() & currency_index.is_null(),
        kind,
        id_column,
        reason="has no currency",
    )
    up = currency_index.replace_strict(
        ids, [10 ** max(0, e - scale) for e in exponents], return_dtype=nw.Int64()
    )
    down = currency_index.replace_strict(
        ids, [10 ** max(0, scale - e) for e in exponents], return_dtype=nw.Int64()
    )
    scaled = integral * up
    _reject_money(lf, value, (scaled % down != 0) | (nw.col(value) < 0), kind, id_column)
    return scaled // down


def _reject_money(
    lf: nw.LazyFrame[Any],
    value: str,
    bad_row: Any,
    kind: str,
    id_column: str | None,
    *,
    reason: str | None = None,
) -> None:
    """Raise for the first row where ``bad_row`` holds, saying ``reason`` of its amount.

    By default the reason is a negative amount or digits below the minor unit.
    """
    where = [nw.col(id_column).cast(nw.String()).alias("_id")] if id_column else []
    bad = lf.filter(bad_row).select(nw.col(value).alias("_bad"), *where).head(1).collect()
    if len(bad):
        amount = bad.get_column("_bad")[0]
        if reason is None:
            reason = "is negative" if amount < 0 else "has digits below the currency's minor unit"
        record = str(bad.get_column("_id")[0]) if id_column else None
        raise DataError(f"{amount} {reason}", kind=kind, record=record, field=value)


def won_deals_per_lead(deals: Any, fx: FxTable | None, currency: str | None) -> pl.DataFrame | None:
    """Won deals per lead: conversions, value in minor units, currency, and the touch cut-off time."""
    if deals is None:
        return None
    lf = as_lazy(
        deals, "deals", required=["id", "lead_id", "amount", "amount_currency", "stage", "close_date"]
    )
    # The one won-deal rule (shared with rewards and the KPIs), on every won deal.
    _money.check_won(lf)
    won = lf.filter((nw.col("stage") == _money.WON) & ~nw.col("lead_id").is_null())
    frame = won.select("id", "lead_id", "amount", "amount_currency", "close_date").collect(backend="polars")
    native = frame.to_native()
    assert isinstance(native, pl.DataFrame)
    if len(native) == 0:
        return pl.DataFrame(
            schema={
                "_lead": pl.String,
                "_deal": pl.String,
                "_conv": pl.Float64,
                "_value": pl.Int64,
                "_currency": pl.String,
                "_close_us": pl.Int64,
            }
        )
    if currency is not None and fx is None:
        others = native.filter(pl.col("amount_currency") != currency)
        if len(others):
            raise CurrencyMismatchError(
                f"deal {others.get_column('id')[0]}: amount in {others.get_column('amount_currency')[0]}, "
                f"not {currency}; pass fx=FxTable(...) to convert"
            )
    if fx is not None:
        if currency is None:
            raise ValueError("fx needs currency=, the currency to convert deal amounts into")

        # The shared FX intake (with rewards): every deal at its close date's rate, exact half-even integers;
        # a deal it cannot convert exactly goes through FxTable.convert, which reports a missing rate.
        def one(row: int) -> int:
            deal = native.row(row, named=True)
            amount = Money(deal["amount"], deal["amount_currency"])
            return fx.convert(amount, currency, deal["close_date"]).to_minor()

        units = _money.minor_units(native, "amount", "amount_currency").alias("_minor")
        minor = _money.convert_column(
            native.with_columns(units),
            "_minor",
            fx=fx,
            to=currency,
            currency="amount_currency",
            on="close_date",
            fallback=one,
        )
        native = native.with_columns(minor, pl.lit(currency).alias("amount_currency"))
    else:
        # The won-deal rule's minor units (checked above), exact for every amount below 10**15.
        native = native.with_columns(_money.minor_units(native, "amount", "amount_currency").alias("_minor"))
    per_lead = (
        native.group_by("lead_id")
        .agg(
            pl.col("id").min().alias("_deal"),
            pl.len().cast(pl.Float64).alias("_conv"),
            pl.col("_minor").sum().alias("_value"),
            pl.col("amount_currency").min().alias("_currency"),
            pl.col("amount_currency").max().alias("_currency_max"),
            pl.col("close_date").max().alias("_close"),
        )
        .rename({"lead_id": "_lead"})
    )
    mixed = per_lead.filter(pl.col("_currency") != pl.col("_currency_max"))
    if len(mixed):
        row = mixed.row(0, named=True)
        raise CurrencyMismatchError(
            f"lead {row['_lead']}: won deals in {row['_currency']} and {row['_currency_max']}; "
            "pass fx=FxTable(...) and currency= to add them up"
        )
    day_us = 86_400 * US
    return per_lead.with_columns(
        ((pl.col("_close").cast(pl.Date).cast(pl.Int64) + 1) * day_us).alias("_close_us")
    ).drop("_currency_max", "_close")
