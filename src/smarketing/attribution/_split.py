"""Exact money of credits (private): journey values in one currency, splits over keys and over touches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from smarketing.attribution._kernel import EPOCH, IntArray
from smarketing.attribution.journeys import Journeys
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import _money
from smarketing.money import FxTable, Money, allocate
from smarketing.typing import FloatArray


def foreign_currency(journey: object, code: str, currency: str) -> CurrencyMismatchError:
    """The error of a journey valued in ``code`` where ``currency`` is asked for without rates."""
    return CurrencyMismatchError(
        f"journeys {journey}: value in {code}, not {currency}; pass fx=FxTable(...) to convert"
    )


def journey_values(j: Journeys, fx: FxTable | None, currency: str | None) -> dict[str, IntArray]:
    """Value per journey in minor units, one array per currency (all in ``currency`` when given)."""
    if j.value is None or j.currency is None:
        return {}
    out: dict[str, IntArray] = {}
    for index, code in enumerate(j.currencies):
        mine = j.currency == index
        if not mine.any() or code == "XXX":
            continue
        if currency is None or code == currency:
            target = out.setdefault(code, np.zeros(j.n_journeys, dtype=np.int64))
            target[mine] += j.value[mine]
            continue
        if fx is None:
            raise foreign_currency(j.ids[int(np.flatnonzero(mine)[0])], code, currency)
        if j.conversion_times is None:
            raise DataError(
                "converting currencies needs conversion dates; path input has none", kind="journeys"
            )
        target = out.setdefault(currency, np.zeros(j.n_journeys, dtype=np.int64))
        rows = np.flatnonzero(mine & (j.value != 0))
        _convert_into(target, rows, j.value[rows], j.conversion_times[rows], code, fx=fx, currency=currency)
    return out


def _convert_into(
    target: IntArray,
    rows: IntArray,
    units: IntArray,
    times: IntArray,
    code: str,
    *,
    fx: FxTable,
    currency: str,
) -> None:
    """Add ``units`` of ``code`` converted into ``currency`` on each conversion day to ``target[rows]``."""
    days = pl.Series("_day", times, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")).dt.date()
    frame = pl.DataFrame({"_units": units, "_code": code, "_day": days})

    def one(index: int) -> int:
        # What the shared intake cannot convert exactly: FxTable.convert converts it or names the gap.
        on = (EPOCH + timedelta(microseconds=int(times[index]))).date()
        return fx.convert(Money.from_minor(int(units[index]), code), currency, on).to_minor()

    converted = _money.convert_column(
        frame, "_units", fx=fx, to=currency, currency="_code", on="_day", fallback=one
    )
    for row, value in zip(rows.tolist(), converted.to_list(), strict=True):
        target[row] += value


def split_money(
    total_units: int, currency: str, weights: FloatArray, keys: Sequence[str]
) -> dict[str, Money]:
    total = Money.from_minor(total_units, currency)
    if total_units == 0:
        return {k: Money.zero(currency) for k in keys}
    clean = np.where(np.isfinite(weights) & (weights > 0), weights, 0.0)
    if not clean.any():
        clean = np.ones(len(keys))
    # Twelve significant digits: float noise from summation order must not decide a tie.
    shares = {k: Decimal(f"{w:.12e}") for k, w in zip(keys, clean.tolist(), strict=True)}
    return allocate(total, shares)


def split_journeys(units: IntArray, w: FloatArray, j: Journeys, order_key: IntArray) -> IntArray:
    """Split every journey's value over its touches by ``w`` (summing to 1 per journey), exactly.

    Largest remainder per journey, ties by ``order_key`` (the key code) then position.
    """
    jot = j.journey_of_touch()
    exact = units[jot].astype(np.float64) * w
    floors = np.floor(exact).astype(np.int64)
    floors = np.minimum(floors, units[jot])
    left = units - np.add.reduceat(floors, j.offsets[:-1])
    remainder = exact - floors
    pos = j.positions()
    # Give one unit each to the largest remainders, or take one from the smallest when float noise
    # over-shot.
    order = np.lexsort((pos, order_key, -remainder, jot))
    rank = np.empty(j.n_touches, dtype=np.int64)
    rank[order] = np.arange(j.n_touches) - j.offsets[:-1][jot[order]]
    floors += (rank < left[jot]).astype(np.int64)
    back = np.lexsort((pos, order_key, remainder, jot))
    rank[back] = np.arange(j.n_touches) - j.offsets[:-1][jot[back]]
    floors -= ((rank < -left[jot]) & (left[jot] < 0)).astype(np.int64)
    return floors


def touch_frame(j: Journeys, w: FloatArray, values: Mapping[str, IntArray]) -> pl.DataFrame:
    """Per-touch credit: each touch's share ``w`` of its journey's conversions and value, in touch order.

    ``w`` sums to 1 in every journey; each journey's value is split exactly over its touches
    (:func:`split_journeys`), one Decimal column ``value_<CUR>`` per currency of ``values``.
    """
    jot = j.journey_of_touch()
    frame = {
        "journey": j.ids.gather(jot).alias("journey"),
        "position": pl.Series("position", j.positions()),
    }
    if j.touch_ids is not None:
        frame["touch"] = j.touch_ids.alias("touch")
    frame[j.key] = pl.Series(j.key, j.keys, dtype=pl.String).gather(j.codes)
    frame["credit"] = pl.Series("credit", w * j.conversions[jot])
    out = pl.DataFrame(list(frame.values()))
    for code, units in sorted(values.items()):
        places = Money.zero(code).minor_units
        split = split_journeys(units, w, j, j.codes.astype(np.int64))
        # Cast to the currency's scale first: the division then keeps it (exact, as 10**places divides).
        amounts = pl.Series(f"value_{code}", split).cast(pl.Decimal(38, places)) / 10**places
        out = out.with_columns(amounts.alias(f"value_{code}"))
    return out
