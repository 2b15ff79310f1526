"""The steps of building journeys from touches in long form (private).

:meth:`Journeys.from_frame <smarketing.attribution.Journeys.from_frame>` and
:meth:`~smarketing.attribution.Journeys.from_touchpoints` select and check the touch columns in one pass of
the engine (:func:`touch_columns`), code the keys, put the rows in journey order (:func:`journey_layout`) and
reduce the journey-level columns per journey (:func:`journey_columns`).
"""

from __future__ import annotations

from typing import Any

import attrs
import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.attribution._kernel import IntArray, check_counts, dictionary_codes, journey_order, no_nulls
from smarketing.attribution._value import currency_index, minor_units_expr
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import as_lazy, check_aware
from smarketing.records.schema import NUMBER, TIME
from smarketing.typing import FloatArray

__all__ = [
    "JourneyColumns",
    "Layout",
    "TouchColumns",
    "journey_columns",
    "journey_layout",
    "key_codes",
    "touch_columns",
]


@attrs.frozen
class TouchColumns:
    """Which columns of a long-form touch frame hold what (see ``Journeys.from_frame``)."""

    journey: str
    time: str
    key: str
    converted: str
    nulls: str | None = None
    value: str | None = None
    currency: str | None = None
    touch: str | None = None
    conversion_time: str | None = None
    minor_units: bool = False
    """``value`` holds integer minor units already (as ``Journeys.from_touchpoints`` passes it)."""


def touch_columns(data: Any, spec: TouchColumns) -> tuple[nw.LazyFrame[Any], list[Any], tuple[str, ...]]:
    """The checked touches, the expressions of their working columns, and the currencies of ``value``.

    The columns are ``_j`` (journey), ``_t`` (time in microseconds), ``_key``, ``_c`` (conversions) and,
    when asked for, ``_id`` (touch id), ``_n`` (nulls), ``_ct`` (conversion time), ``_v`` (value in minor
    units) and ``_cur`` (currency index, with several).
    """
    journey, time, key, converted = spec.journey, spec.time, spec.key, spec.converted
    nulls, value, currency, conversion_time = spec.nulls, spec.value, spec.currency, spec.conversion_time
    rules = {time: TIME, converted: NUMBER}
    rules.update({c: r for c, r in ((nulls, NUMBER), (conversion_time, TIME)) if c is not None})
    lf = as_lazy(data, "touches", required=[journey, time, key, converted], columns=rules)
    check_aware(lf, [time], kind="touches")
    schema = lf.collect_schema()
    if nulls is not None and nulls not in schema:
        raise DataError(f"missing column {nulls}", kind="touches")
    for column in (journey, time, key):
        no_nulls(lf, column, journey, "touches")
    cols: list[Any] = [
        nw.col(journey).alias("_j"),
        nw.col(time).dt.timestamp("us").alias("_t"),
        nw.col(key).cast(nw.String()).alias("_key"),
        nw.col(converted).cast(nw.Float64()).alias("_c"),
    ]
    if spec.touch is not None:
        cols.append(nw.col(spec.touch).cast(nw.String()).alias("_id"))
    if nulls is not None:
        cols.append(nw.col(nulls).cast(nw.Float64()).alias("_n"))
    if conversion_time is not None:
        check_aware(lf, [conversion_time], kind="touches")
        cols.append(nw.col(conversion_time).dt.timestamp("us").alias("_ct"))
    currencies: tuple[str, ...] = ()
    if value is not None:
        currencies, currency_expr = currency_index(lf, currency, "touches")
        units = (
            nw.col(value)
            if spec.minor_units
            else minor_units_expr(lf, value, currencies, currency_expr, "touches", id_column=journey)
        )
        cols.append(units.alias("_v"))
        if len(currencies) > 1:
            cols.append(currency_expr.alias("_cur"))
    return lf, cols, currencies


def key_codes(raw: pl.Series) -> tuple[tuple[str, ...], npt.NDArray[np.int32]]:
    """The sorted distinct keys and the code of every touch's key into them."""
    raw_codes, raw_keys = dictionary_codes(raw)
    names = [str(k) for k in raw_keys.to_list()]
    keys = tuple(sorted(set(names)))
    index = {k: i for i, k in enumerate(keys)}
    return keys, np.array([index[k] for k in names], dtype=np.int32)[raw_codes]


@attrs.frozen
class Layout:
    """Where the rows of the touches go: their journey order, journey offsets and ids."""

    order: IntArray
    """The rows in journey order."""
    rows: dict[str, Any]
    """Numeric columns gathered in that order (``_k`` key codes, ``_t`` times, ``_j`` integer ids)."""
    offsets: IntArray
    """Journey boundaries in that order."""
    ids: pl.Series
    """One id per journey."""
    journey_of_row: IntArray
    """The journey of every row, in input order."""


def journey_layout(unsorted: pl.DataFrame, touch_codes: npt.NDArray[np.int32], journey: str) -> Layout:
    """The journey order of the touch rows, where each journey starts, and each row's journey."""
    order, rows = journey_order(unsorted, touch_codes)
    n_rows = len(order)
    id_column = unsorted.get_column("_j")
    if "_j" in rows:
        starts_mask = np.ones(n_rows, dtype=bool)
        starts_mask[1:] = rows["_j"][1:] != rows["_j"][:-1]
    else:
        gathered = id_column.gather(order)
        starts_mask = gathered.ne_missing(gathered.shift(1)).to_numpy()
    starts = np.flatnonzero(starts_mask).astype(np.int64)
    offsets = np.append(starts, n_rows).astype(np.int64)
    ids = id_column.gather(order[starts]).alias(journey)
    # Journey-level columns are reduced where the rows are, through each row's journey (one scatter),
    # rather than gathered into journey order column by column.
    journey_of_row = np.empty(n_rows, dtype=np.int64)
    journey_of_row[order] = np.cumsum(starts_mask) - 1
    return Layout(order=order, rows=rows, offsets=offsets, ids=ids, journey_of_row=journey_of_row)


@attrs.frozen
class JourneyColumns:
    """The journey-level columns, one value per journey."""

    conversions: FloatArray
    nulls: FloatArray
    times: IntArray
    conversion_times: IntArray
    value: IntArray | None
    currency: npt.NDArray[np.int16] | None


def _reducer(unsorted: pl.DataFrame, layout: Layout) -> Any:
    """A function reducing a row column to its largest (or smallest) value per journey."""
    n_journeys = len(layout.ids)

    def largest(column: str, fill: Any = None, *, smallest: bool = False) -> Any:
        series = unsorted.get_column(column)
        array = (series if fill is None else series.fill_null(fill)).to_numpy()
        reduce, dtype = (np.minimum if smallest else np.maximum), array.dtype
        if dtype.kind == "f":
            start = np.inf if smallest else -np.inf
        else:
            start = np.iinfo(dtype).max if smallest else np.iinfo(dtype).min
        out = np.full(n_journeys, start, dtype=dtype)
        reduce.at(out, layout.journey_of_row, array)
        return out

    return largest


def journey_columns(
    unsorted: pl.DataFrame, layout: Layout, spec: TouchColumns, currencies: tuple[str, ...]
) -> JourneyColumns:
    """Conversions, nulls, times, conversion times, value and currency index per journey, checked.

    A journey takes the largest non-null value of each journey-level column over its rows; without a
    ``nulls`` column a journey's nulls are ``max(0, 1 - conversions)``, without ``conversion_time`` its
    conversion time is its last touch's.

    Raises:
        DataError: A NaN conversion, or a negative or non-finite count.
        CurrencyMismatchError: One journey has values in two currencies.
    """
    largest = _reducer(unsorted, layout)
    ids = layout.ids
    converted, nulls, conversion_time = spec.converted, spec.nulls, spec.conversion_time
    value, currency = spec.value, spec.currency
    conv_rows = unsorted.get_column("_c").to_numpy()
    if np.isnan(conv_rows).any():
        bad = int(np.flatnonzero(np.isnan(conv_rows))[0])
        record = str(unsorted.get_column("_j")[bad])
        raise DataError("conversion is NaN", kind="touches", record=record, field=converted)
    conv = largest("_c")
    check_counts(conv, ids, converted, "touches")
    if nulls is not None:
        null = largest("_n", 0.0)
        check_counts(null, ids, nulls, "touches")
    else:
        null = np.maximum(0.0, 1.0 - conv)
    times = np.asarray(layout.rows["_t"], dtype=np.int64)
    last_time = times[layout.offsets[1:] - 1]
    if conversion_time is not None:
        conv_time = largest("_ct", np.iinfo(np.int64).min)
        conv_time = np.where(conv_time == np.iinfo(np.int64).min, last_time, conv_time)
    else:
        conv_time = last_time
    values = cur_index = None
    if value is not None:
        values = largest("_v", 0).astype(np.int64)
    if value is not None and len(currencies) == 1:
        # One currency: no journey can mix two, and every journey's index is 0.
        cur_index = np.zeros(len(ids), dtype=np.int16)
    elif value is not None:
        cur_hi = largest("_cur", -1).astype(np.int16)
        cur_lo = largest("_cur", 32767, smallest=True).astype(np.int16)
        mixed = (cur_hi != cur_lo) & (cur_hi >= 0)
        if mixed.any():
            bad = int(np.flatnonzero(mixed)[0])
            raise CurrencyMismatchError(
                f"touches {ids[bad]}: {currency}: the journey has values in "
                f"{currencies[cur_lo[bad]]} and {currencies[cur_hi[bad]]}; use one currency per journey"
            )
        cur_index = np.maximum(cur_hi, 0).astype(np.int16)
    return JourneyColumns(
        conversions=conv,
        nulls=null,
        times=times,
        conversion_times=conv_time,
        value=values,
        currency=cur_index,
    )
