"""Multi-touch attribution: who made this deal happen, across marketing and sales touches.

:func:`attribute` credits conversions and their value to a *key* of the touches (``channel``, ``team``,
``owner``, ``campaign`` or any touch column) by one model:

=================  ==============================================================================
``first``          all credit to the first touch
``last``           all credit to the last touch
``linear``         equal credit to every touch
``position``       U-shaped: 40% first, 40% last, 20% spread over the middle (configurable)
``j_shaped``       20% first, 60% last, 20% middle
``inverse_j``      60% first, 20% last, 20% middle
``w_shaped``       30% each to the first touch, the touch that created the lead and the one that
                   created the opportunity, 10% over the rest (milestones from stage events)
``full_path``      22.5% each to those three and the last (deal-won) touch, 10% over the rest
``time_decay``     weight halves every ``half_life`` back from the conversion
``custom``         a function of (position, path length), or a weight table by path length
``markov``         removal effects of an order-k Markov chain, solved exactly (no simulation)
``shapley``        Shapley values of a coalition game over keys, exact up to 20 keys
=================  ==============================================================================

Plugins add models through the entry-point group ``smarketing.attribution`` (see
:class:`smarketing.typing.AttributionModel`).

Input is built once into :class:`Journeys` (columnar: one code per touch, journey offsets, conversions,
non-conversions and value per journey) from touchpoint records or a :class:`~smarketing.records.Dataset`
(:meth:`Journeys.from_touchpoints`), a long-form frame of any library narwhals supports
(:meth:`Journeys.from_frame`), or ChannelAttribution's aggregated paths (:meth:`Journeys.from_paths`);
:func:`attribute` accepts any of these directly.

Conversions are floats (they may be fractional); value is exact: each currency's total is split over keys
with :func:`~smarketing.money.allocate`, so credits add up to the cent and ties go to the smaller key.

Examples:
    >>> import polars as pl
    >>> paths = pl.DataFrame(
    ...     {
    ...         "path": ["ads > email > demo", "ads", "email > demo"],
    ...         "total_conversions": [1, 0, 1],
    ...         "total_null": [0, 3, 1],
    ...     }
    ... )
    >>> attribute(paths, model="linear").conversions
    {'ads': 0.333..., 'demo': 0.833..., 'email': 0.833...}
    >>> round(attribute(paths, model="markov").removal_effects["demo"], 4)
    1.0
"""

from __future__ import annotations

import html
import math
import os
import warnings
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

import attrs
import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from smarketing import _display
from smarketing import _plugins as _loader
from smarketing.errors import CurrencyMismatchError, DataError, PluginError, PluginWarning
from smarketing.frames import _money, as_lazy, check_aware
from smarketing.money import FxTable, Money, allocate
from smarketing.records import Dataset
from smarketing.records.schema import NUMBER, TIME, Rule
from smarketing.typing import AttributionModel, FloatArray

__all__ = [
    "Attribution",
    "BUILTIN_MODELS",
    "Comparison",
    "ENTRY_POINT_GROUP",
    "Journeys",
    "PluginWarning",
    "attribute",
    "available_models",
    "compare",
]

IntArray = npt.NDArray[np.int64]

ENTRY_POINT_GROUP = "smarketing.attribution"
"""The entry-point group that attribution model plugins register under."""

BUILTIN_MODELS: tuple[str, ...] = (
    "custom",
    "first",
    "full_path",
    "inverse_j",
    "j_shaped",
    "last",
    "linear",
    "markov",
    "position",
    "shapley",
    "time_decay",
    "w_shaped",
)
"""The names of the models smarketing ships."""

# Exact Shapley enumerates every coalition: 2**20 of them still fit in a few MB and a fraction of a second.
MAX_EXACT_SHAPLEY = 20
# Keys are packed into int64 bitmasks for Shapley.
_MAX_SHAPLEY_KEYS = 62
_US = 1_000_000  # microseconds per second
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Journeys: the one columnar form every model runs on.


def _frozen_array(values: npt.ArrayLike, dtype: type[np.generic]) -> Any:
    array = np.ascontiguousarray(values, dtype=dtype)
    array.flags.writeable = False
    return array


@attrs.frozen(eq=False)
class Journeys:
    """Journeys in columns: what every attribution model runs on.

    Touches are stored journey after journey, each journey in time order (ties broken by key), as integer
    codes into :attr:`keys`; ``offsets[j]:offsets[j + 1]`` are journey ``j``'s touches. Per journey there are
    conversions (a float, possibly fractional), non-conversions (``nulls``) and the value of its conversions
    in integer minor units of its currency. Build it with :meth:`from_touchpoints`, :meth:`from_frame` or
    :meth:`from_paths`; arrays are read-only.

    Examples:
        >>> import polars as pl
        >>> frame = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 0], "total_null": [0, 1]})
        >>> j = Journeys.from_paths(frame)
        >>> j.keys, j.codes.tolist(), j.offsets.tolist(), j.conversions.tolist(), j.nulls.tolist()
        (('a', 'b'), [0, 1, 1], [0, 2, 3], [1.0, 0.0], [0.0, 1.0])
    """

    key: str
    """The touch column that gets credit (``channel``, ``team``, ``owner``, ...)."""
    keys: tuple[str, ...]
    """The distinct key values, sorted; touch code ``i`` means ``keys[i]``."""
    codes: npt.NDArray[np.int32]
    """One key code per touch."""
    offsets: IntArray
    """Journey boundaries (length ``n_journeys + 1``)."""
    ids: pl.Series
    """One id per journey (lead id, journey column value, or path text)."""
    conversions: FloatArray
    """Conversions per journey (>= 0, may be fractional)."""
    nulls: FloatArray
    """Non-converting journeys counted per journey (>= 0)."""
    value: IntArray | None = None
    """Value of the conversions in minor units of :attr:`currency`, or None without value."""
    currency: npt.NDArray[np.int16] | None = None
    """Index into :attr:`currencies` per journey."""
    currencies: tuple[str, ...] = ()
    """The currencies of :attr:`value`."""
    times: IntArray | None = None
    """Touch times in microseconds since 1970 (UTC), when the input had times."""
    conversion_times: IntArray | None = None
    """When each journey converted (or ended), microseconds since 1970 (UTC)."""
    touch_ids: pl.Series | None = None
    """Touch ids in touch order, when the input had them."""
    stage_times: Mapping[str, IntArray] = attrs.field(factory=dict)
    """First time each journey entered a lifecycle stage (microseconds; -1 if never), by stage id."""
    _cache: dict[Any, Any] = attrs.field(factory=dict, init=False, repr=False)
    # Derived arrays that several models share (filled on first use; the journeys themselves never change).

    # --- shape ------------------------------------------------------------------------------------

    @property
    def n_journeys(self) -> int:
        """Number of journeys."""
        return len(self.offsets) - 1

    @property
    def n_touches(self) -> int:
        """Number of touches."""
        return len(self.codes)

    def lengths(self) -> IntArray:
        """Touches per journey.

        Examples:
            >>> import polars as pl
            >>> Journeys.from_paths(
            ...     pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 0]})
            ... ).lengths()
            array([2, 1])
        """
        return np.diff(self.offsets)

    def journey_of_touch(self) -> IntArray:
        """The journey index of every touch.

        Examples:
            >>> import polars as pl
            >>> j = Journeys.from_paths(pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 0]}))
            >>> j.journey_of_touch().tolist()
            [0, 0, 1]
        """
        return np.repeat(np.arange(self.n_journeys, dtype=np.int64), self.lengths())

    def positions(self) -> IntArray:
        """The 0-based position of every touch in its journey.

        Examples:
            >>> import polars as pl
            >>> j = Journeys.from_paths(pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 0]}))
            >>> j.positions().tolist()
            [0, 1, 0]
        """
        return np.arange(self.n_touches, dtype=np.int64) - np.repeat(self.offsets[:-1], self.lengths())

    # --- constructors -----------------------------------------------------------------------------

    @classmethod
    def from_paths(
        cls,
        data: Any,
        *,
        path: str = "path",
        conversions: str = "total_conversions",
        nulls: str | None = "total_null",
        value: str | None = None,
        currency: str | None = None,
        sep: str = ">",
    ) -> Journeys:
        """Read ChannelAttribution's aggregated path format: one row per path with its counts.

        Args:
            data: A dataframe of any library narwhals supports.
            path: Column of paths such as ``"ads > email > demo"``; names are stripped of surrounding spaces.
            conversions: Column of conversions on the path (int or float, may be fractional).
            nulls: Column of journeys on the path that did not convert; if the column is absent, 0.
            value: Column of the total value of the path's conversions, as ``Decimal`` or integer (floats are
                rejected: money is exact), or None.
            currency: The ISO 4217 currency of ``value``: a column name, or a code such as ``"EUR"``.
            sep: The separator between keys in a path.

        Returns:
            One journey per row (journey id: the path text), keyed by ``"channel"``.

        Raises:
            DataError: A missing column, an empty path or key, a negative or NaN count, a negative value.

        Examples:
            >>> import polars as pl
            >>> from decimal import Decimal
            >>> frame = pl.DataFrame(
            ...     {"path": ["a > b"], "total_conversions": [2], "total_null": [1], "v": [Decimal("10.00")]}
            ... )
            >>> j = Journeys.from_paths(frame, value="v", currency="EUR")
            >>> j.value.tolist(), j.currencies
            ([1000], ('EUR',))
            >>> Journeys.from_paths(pl.DataFrame({"path": ["a >  > b"], "total_conversions": [1]}))
            Traceback (most recent call last):
            ...
            smarketing.errors.DataError: paths row 0: path: empty key in 'a >  > b'
        """
        frame = _eager(data, "paths", required=[path, conversions])
        names = frame.columns
        if nulls is not None and nulls not in names:
            nulls = None
        n_rows = len(frame)
        if n_rows == 0:
            raise DataError("no journeys: the data is empty", kind="paths")
        text = frame[path]
        if text.null_count():
            row = int(text.is_null().arg_true()[0])
            raise DataError("path is missing", kind="paths", record=f"row {row}", field=path)
        keys, codes, lengths = _split_paths(text, sep, path)
        conv = _counts(frame, conversions, "paths")
        null = _counts(frame, nulls, "paths") if nulls is not None else np.zeros(n_rows)
        values, cur_index, currencies = _path_values(frame, value, currency)
        offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        journeys = cls(
            key="channel",
            keys=keys,
            codes=_frozen_array(codes, np.int32),
            offsets=_frozen_array(offsets, np.int64),
            ids=text.alias("journey"),
            conversions=_frozen_array(conv, np.float64),
            nulls=_frozen_array(null, np.float64),
            value=None if values is None else _frozen_array(values, np.int64),
            currency=None if cur_index is None else _frozen_array(cur_index, np.int16),
            currencies=currencies,
        )
        journeys._cache["keys_occur"] = True  # the keys are those of the touches
        return journeys

    @classmethod
    def from_frame(
        cls,
        data: Any,
        *,
        journey: str = "journey",
        time: str = "time",
        key: str = "channel",
        converted: str = "converted",
        nulls: str | None = None,
        value: str | None = None,
        currency: str | None = None,
        touch: str | None = None,
        conversion_time: str | None = None,
        stage_events: Any = None,
    ) -> Journeys:
        """Build journeys from touches in long form: one row per touch, in any order.

        Journey-level columns (``converted``, ``nulls``, ``value``, ``currency``, ``conversion_time``) may be
        repeated on every row of a journey or given on one row only: a journey takes their largest non-null
        value. Rows are ordered by time within a journey; equal times by key, then touch id.

        Args:
            data: A dataframe of any library narwhals supports (polars lazy is the default engine).
            journey: Column identifying the journey (lead, user, deal).
            time: Timezone-aware datetime column of the touch.
            key: Column that gets credit.
            converted: Conversions of the journey: a bool flag or a number (fractional weights allowed).
            nulls: Non-conversions of the journey; by default ``max(0, 1 - converted)``, so a journey counts
                once, partly converted by a fractional weight.
            value: Value of the journey's conversions: a ``Decimal`` or integer column (no floats).
            currency: A currency column, or an ISO 4217 code for every row.
            touch: Column of touch ids, kept for per-touch credit.
            conversion_time: Datetime column of the conversion (for ``time_decay``); default: last touch.
            stage_events: Stage events (records, a Dataset or a frame of ``lead_id, to, time``) whose
                ``lead_id`` matches ``journey``, for ``w_shaped`` and ``full_path``.

        Returns:
            One journey per distinct ``journey`` value, in the order of the ids.

        Raises:
            DataError: A missing column, a missing journey id, time or key, a naive time, a negative or
                NaN conversion, a negative value or one with digits below the currency's minor unit.
            CurrencyMismatchError: One journey has values in two currencies.

        Examples:
            >>> import polars as pl
            >>> from datetime import datetime, timezone
            >>> t = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in (3, 1, 2)]
            >>> frame = pl.DataFrame(
            ...     {
            ...         "journey": ["j1", "j1", "j2"],
            ...         "time": t,
            ...         "channel": ["demo", "ads", "ads"],
            ...         "converted": [1, 1, 0],
            ...     }
            ... )
            >>> j = Journeys.from_frame(frame)
            >>> [[j.keys[c] for c in j.codes[a:b]] for a, b in zip(j.offsets[:-1], j.offsets[1:])]
            [['ads', 'demo'], ['ads']]
            >>> j.conversions.tolist(), j.nulls.tolist()
            ([1.0, 0.0], [0.0, 1.0])
        """
        return cls._long_form(
            data,
            journey=journey,
            time=time,
            key=key,
            converted=converted,
            nulls=nulls,
            value=value,
            currency=currency,
            touch=touch,
            conversion_time=conversion_time,
            stage_events=stage_events,
            minor_units=False,
        )

    @classmethod
    def _long_form(
        cls,
        data: Any,
        *,
        journey: str,
        time: str,
        key: str,
        converted: str,
        nulls: str | None,
        value: str | None,
        currency: str | None,
        touch: str | None,
        conversion_time: str | None,
        stage_events: Any,
        minor_units: bool,
    ) -> Journeys:
        rules = {time: TIME, converted: NUMBER}
        rules.update({c: r for c, r in ((nulls, NUMBER), (conversion_time, TIME)) if c is not None})
        lf = _lazy(data, "touches", required=[journey, time, key, converted], columns=rules)
        check_aware(lf, [time], kind="touches")
        schema = lf.collect_schema()
        if nulls is not None and nulls not in schema:
            raise DataError(f"missing column {nulls}", kind="touches")
        for column in (journey, time, key):
            _no_nulls(lf, column, journey, "touches")
        cols: list[Any] = [
            nw.col(journey).alias("_j"),
            nw.col(time).dt.timestamp("us").alias("_t"),
            nw.col(key).cast(nw.String()).alias("_key"),
            nw.col(converted).cast(nw.Float64()).alias("_c"),
        ]
        if touch is not None:
            cols.append(nw.col(touch).cast(nw.String()).alias("_id"))
        if nulls is not None:
            cols.append(nw.col(nulls).cast(nw.Float64()).alias("_n"))
        if conversion_time is not None:
            check_aware(lf, [conversion_time], kind="touches")
            cols.append(nw.col(conversion_time).dt.timestamp("us").alias("_ct"))
        currencies: tuple[str, ...] = ()
        if value is not None:
            currencies, currency_expr = _currency_expr(lf, currency, "touches")
            units = (
                nw.col(value)
                if minor_units
                else _minor_units_expr(lf, value, currencies, currency_expr, "touches", id_column=journey)
            )
            cols.append(units.alias("_v"))
            if len(currencies) > 1:
                cols.append(currency_expr.alias("_cur"))
        # One pass of the engine in input order; sorting and coding happen on the collected columns.
        unsorted = _collect(lf.select(*cols))
        raw_codes, raw_keys = _dictionary(unsorted.get_column("_key"))
        names = [str(k) for k in raw_keys.to_list()]
        keys = tuple(sorted(set(names)))
        index = {k: i for i, k in enumerate(keys)}
        touch_codes = np.array([index[k] for k in names], dtype=np.int32)[raw_codes]
        order, rows = _journey_order(unsorted, touch_codes)
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

        def largest(column: str, fill: Any = None, *, smallest: bool = False) -> Any:
            series = unsorted.get_column(column)
            array = (series if fill is None else series.fill_null(fill)).to_numpy()
            reduce, dtype = (np.minimum if smallest else np.maximum), array.dtype
            if dtype.kind == "f":
                start = np.inf if smallest else -np.inf
            else:
                start = np.iinfo(dtype).max if smallest else np.iinfo(dtype).min
            out = np.full(len(starts), start, dtype=dtype)
            reduce.at(out, journey_of_row, array)
            return out

        conv_rows = unsorted.get_column("_c").to_numpy()
        if np.isnan(conv_rows).any():
            bad = int(np.flatnonzero(np.isnan(conv_rows))[0])
            raise DataError("conversion is NaN", kind="touches", record=str(id_column[bad]), field=converted)
        conv = largest("_c")
        _check_counts(conv, ids, converted, "touches")
        if nulls is not None:
            null = largest("_n", 0.0)
            _check_counts(null, ids, nulls, "touches")
        else:
            null = np.maximum(0.0, 1.0 - conv)
        times = np.asarray(rows["_t"], dtype=np.int64)
        last_time = times[offsets[1:] - 1]
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
            cur_index = np.zeros(len(starts), dtype=np.int16)
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
        stages = _stage_times(stage_events, ids) if stage_events is not None else {}
        journeys = cls(
            key=key,
            keys=keys,
            codes=_frozen_array(rows["_k"], np.int32),
            offsets=_frozen_array(offsets, np.int64),
            ids=ids,
            conversions=_frozen_array(conv, np.float64),
            nulls=_frozen_array(null, np.float64),
            value=None if values is None else _frozen_array(values, np.int64),
            currency=None if cur_index is None else _frozen_array(cur_index, np.int16),
            currencies=currencies,
            times=_frozen_array(times, np.int64),
            conversion_times=_frozen_array(conv_time, np.int64),
            touch_ids=unsorted.get_column("_id").gather(order).alias(touch) if touch is not None else None,
            stage_times=stages,
        )
        journeys._cache["keys_occur"] = True  # the keys are those of the touches
        return journeys

    @classmethod
    def from_touchpoints(
        cls,
        touchpoints: Any,
        *,
        key: str = "channel",
        deals: Any = None,
        stage_events: Any = None,
        fx: FxTable | None = None,
        currency: str | None = None,
    ) -> Journeys:
        """Build one journey per lead from touchpoints, converting where the lead has won deals.

        A lead converts once per won deal; its value is the sum of their amounts and its touches are those on
        or before the last won deal's close date (UTC). Leads without a won deal are non-converting journeys.

        Args:
            touchpoints: :class:`~smarketing.records.Touchpoint` records, a
                :class:`~smarketing.records.Dataset` (its touchpoints, deals and stage events are used), or a
                frame in the touchpoint columns.
            key: Touchpoint column that gets credit: ``channel``, ``team``, ``owner``, ``campaign``.
            deals: :class:`~smarketing.records.Deal` records or a frame in the deal columns (default: the
                Dataset's deals; none otherwise).
            stage_events: Stage events for ``w_shaped`` and ``full_path`` (default: the Dataset's).
            fx: Exchange rates, to add up a lead's won deals in different currencies.
            currency: The currency to convert deal amounts into with ``fx`` (at each close date).

        Returns:
            The journeys, keyed by ``key``, with touch ids for per-touch credit.

        Raises:
            DataError: A touch without a ``key`` value, a won deal whose lead has no touchpoints, a deal
                without lead, or a currency ``fx`` cannot convert.
            CurrencyMismatchError: One lead's won deals are in two currencies and no ``fx`` was given.

        Examples:
            >>> from datetime import date, datetime, timezone
            >>> from smarketing.money import Money
            >>> from smarketing.records import Deal, Touchpoint
            >>> t = datetime(2026, 3, 1, tzinfo=timezone.utc)
            >>> tps = [
            ...     Touchpoint(id="t1", lead_id="L1", time=t, channel="webinar", team="marketing"),
            ...     Touchpoint(id="t2", lead_id="L1", time=t, channel="demo", team="sales"),
            ...     Touchpoint(id="t3", lead_id="L2", time=t, channel="webinar", team="marketing"),
            ... ]
            >>> won = Deal(
            ...     id="D1",
            ...     lead_id="L1",
            ...     amount=Money("900.00", "EUR"),
            ...     stage="won",
            ...     created_at=t,
            ...     close_date=date(2026, 3, 9),
            ... )
            >>> j = Journeys.from_touchpoints(tps, key="team", deals=[won])
            >>> j.ids.to_list(), j.conversions.tolist(), j.value.tolist(), j.keys
            (['L1', 'L2'], [1.0, 0.0], [90000, 0], ('marketing', 'sales'))
        """
        if isinstance(touchpoints, Dataset):
            deals = touchpoints.deals if deals is None else deals
            stage_events = touchpoints.stage_events if stage_events is None else stage_events
        lf = as_lazy(touchpoints, "touchpoints", required=["id", "lead_id", "time", key])
        check_aware(lf, ["time"], kind="touchpoints")
        _no_nulls(lf, key, "id", "touchpoints")
        won = _won_deals(deals, fx, currency)
        if won is not None:
            lf = lf.join(nw.from_native(won.lazy()), left_on="lead_id", right_on="_lead", how="left")
            cutoff = nw.col("_close_us")
            lf = lf.filter(cutoff.is_null() | (nw.col("time").dt.timestamp("us") < cutoff))
            leads = set(lf.select("lead_id").unique().collect().get_column("lead_id").to_list())
            orphans = won.filter(~pl.col("_lead").is_in(list(leads)))
            if len(orphans):
                raise DataError(
                    "journey has no touchpoints on or before the close date; attribution needs at least one",
                    kind="deal",
                    record=str(orphans.get_column("_deal")[0]),
                    field="lead_id",
                )
            lf = lf.with_columns(
                nw.col("_conv").fill_null(0.0),
                nw.col("_value").fill_null(0),
            )
        else:
            lf = lf.with_columns(nw.lit(0.0).alias("_conv"))
        return cls._long_form(
            lf.to_native(),
            journey="lead_id",
            time="time",
            key=key,
            converted="_conv",
            value="_value" if won is not None and "_value" in won.columns else None,
            currency="_currency" if won is not None and "_value" in won.columns else None,
            touch="id",
            nulls=None,
            conversion_time=None,
            stage_events=stage_events,
            minor_units=True,
        )


def _collect(lf: nw.LazyFrame[Any]) -> pl.DataFrame:
    """Run a lazy query into a polars frame.

    On polars the in-memory engine is used: measured here, polars' default (streaming) engine sorted
    journeys three times slower.
    """
    if lf.implementation.is_polars():
        native = lf.collect(backend="polars", engine="in-memory").to_native()
    else:
        native = lf.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    return native


def _journey_order(frame: pl.DataFrame, codes: npt.NDArray[np.int32]) -> tuple[IntArray, dict[str, Any]]:
    """Rows in journey order (by journey id, then time, key code, touch id), and numeric columns in it.

    With integer ids, rows are sorted on one 128-bit integer per row packing the id less the smallest, the
    time since the earliest touch and the row number: sorting those values costs about a third of a sort
    on several columns, and the row number comes back out of the low bits; rows of one journey at the same
    time (rare) are then put in key and touch id order among themselves. Other ids are sorted with the
    other columns in one sort. The key codes (``_k``), times (``_t``) and, for integer ids, the ids
    (``_j``) are then gathered by numpy.
    """
    n = len(frame)
    journeys = frame.get_column("_j")
    numeric_ids = journeys.dtype.is_integer()
    columns: dict[str, Any] = {"_k": codes, "_t": frame.get_column("_t").to_numpy()}
    if numeric_ids:
        columns["_j"] = journeys.to_numpy()
    if n == 0:
        return np.zeros(0, dtype=np.int64), columns
    row_bits = max(n - 1, 1).bit_length()
    t0, t1 = (int(t) for t in frame.select(pl.col("_t").min(), pl.col("_t").max().alias("_t1")).row(0))
    time_bits = (t1 - t0).bit_length()
    packable = False
    if numeric_ids:
        j0, j1 = int(columns["_j"].min()), int(columns["_j"].max())
        packable = (j1 - j0).bit_length() + time_bits + row_bits <= 127
    if not packable:
        # Ids of another type (or integers spread too far): ranking them would be a sort by itself, so one
        # sort on all the columns does it.
        by = ["_j", "_t", "_k", *(["_id"] if "_id" in frame.columns else [])]
        # A lazy sort that keeps only the row numbers: measured here, a second cheaper than arg_sort_by.
        ranked = (
            frame.lazy()
            .select(*by[:2], pl.Series("_k", codes), *by[3:])
            .with_row_index("_row")
            .sort(by)
            .select("_row")
            .collect()
            .to_series()
        )
        order = np.array(ranked.cast(pl.Int64).to_numpy(), dtype=np.int64)
        return order, {name: array[order] for name, array in columns.items()}
    packed = frame.select(
        (
            (pl.col("_j").cast(pl.Int128) - pl.lit(j0, dtype=pl.Int128))
            * pl.lit(1 << (time_bits + row_bits), dtype=pl.Int128)
            + (pl.col("_t").cast(pl.Int128) - pl.lit(t0, dtype=pl.Int128))
            * pl.lit(1 << row_bits, dtype=pl.Int128)
            + pl.int_range(pl.len(), dtype=pl.Int128)
        ).sort()
        % pl.lit(1 << row_bits, dtype=pl.Int128)
    )
    order = np.array(packed.to_series().cast(pl.Int64).to_numpy(), dtype=np.int64)
    out = {name: array[order] for name, array in columns.items()}
    # Ties of journey and time: put their rows in (key, touch id) order within each run.
    same = (out["_t"][1:] == out["_t"][:-1]) & (out["_j"][1:] == out["_j"][:-1])
    if same.any():
        tied = np.zeros(n, dtype=bool)
        tied[1:] = same
        tied[:-1] |= same
        positions = np.flatnonzero(tied)
        run = np.cumsum(~np.concatenate([[False], same]))[positions]
        by_tie: dict[str, Any] = {"run": run, "key": out["_k"][positions]}
        if "_id" in frame.columns:
            by_tie["id"] = frame.get_column("_id").gather(order[positions])
        within = positions[pl.DataFrame(by_tie).select(pl.arg_sort_by(*by_tie)).to_series().to_numpy()]
        order[positions] = order[within]
        for array in out.values():
            array[positions] = array[within]
    return order, out


def _eager(data: Any, kind: str, *, required: Sequence[str]) -> pl.DataFrame:
    lf = _lazy(data, kind, required=required)
    frame = lf.collect(backend="polars").to_native()
    assert isinstance(frame, pl.DataFrame)
    return frame


def _lazy(
    data: Any, kind: str, *, required: Sequence[str], columns: Mapping[str, Rule] | None = None
) -> nw.LazyFrame[Any]:
    """A dataframe (not records) through :func:`~smarketing.frames.as_lazy`, checked by ``columns``."""
    if isinstance(data, Dataset) or (isinstance(data, Sequence) and not isinstance(data, str | bytes)):
        raise TypeError(f"{kind}: expected a dataframe here, not {type(data).__name__}")
    try:
        nw.from_native(data)
    except TypeError:
        raise TypeError(
            f"{kind}: expected a dataframe narwhals supports, not {type(data).__name__}"
        ) from None
    return as_lazy(data, kind, required=required, columns=columns or {})


def _no_nulls(lf: nw.LazyFrame[Any], column: str, id_column: str, kind: str) -> None:
    missing = lf.filter(nw.col(column).is_null()).select(nw.col(id_column)).head(1).collect()
    if len(missing):
        record = missing.get_column(id_column)[0]
        raise DataError(
            "value is missing", kind=kind, record=None if record is None else str(record), field=column
        )


# Paths are split this many rows at a time: the key names of a slice are coded before the next is split, so
# the names of all touches never exist at once (at 1M journeys that is 2-5M short strings). Measured here,
# slices of 65,536 rows left about 35 MB more resident after the split (freed buffers the allocator keeps)
# for about 0.02 s less CPU at 1M journeys.
_PATH_CHUNK = 1 << 14


def _split_paths(
    text: pl.Series, sep: str, column: str
) -> tuple[tuple[str, ...], npt.NDArray[np.int32], IntArray]:
    """Sorted distinct keys, the key code of every touch, and the touches of every path.

    Slices are split and their tokens hashed by polars on a worker thread (it releases the GIL: two cores
    work at once) while this thread codes the tokens of the slices already split; at most ``workers``
    slices wait, so memory stays that of a few slices. Only the few distinct raw tokens of a slice are
    stripped of spaces, checked for emptiness and looked up, never every touch.
    """
    begins = range(0, len(text), _PATH_CHUNK)
    workers = min(len(begins), os.cpu_count() or 1, 2)
    parts: list[tuple[IntArray, npt.NDArray[np.int32], pl.Series]] = []
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        waiting: deque[Future[tuple[IntArray, pl.Series, Any]]] = deque()
        for begin in begins:
            waiting.append(pool.submit(_split_slice, text.slice(begin, _PATH_CHUNK), sep))
            while len(waiting) > workers or (waiting and begin == begins[-1]):
                chunk_lengths, flat, hashes = waiting.popleft().result()
                parts.append((chunk_lengths, *_dictionary(flat, hashes)))
    lengths = np.concatenate([part[0] for part in parts]) if parts else np.zeros(0, dtype=np.int64)
    stripped: list[list[str]] = []
    for begin, (chunk_lengths, local, raw) in zip(begins, parts, strict=True):
        clean = raw.str.strip_chars()
        empty = (clean.str.len_bytes() == 0).to_numpy()
        if empty.any():
            touch = int(np.flatnonzero(empty[local])[0])
            row = begin + int(np.searchsorted(np.cumsum(chunk_lengths), touch, side="right"))
            raise DataError(f"empty key in {text[row]!r}", kind="paths", record=f"row {row}", field=column)
        stripped.append(clean.to_list())
    keys = tuple(sorted({k for names in stripped for k in names}))
    index = {k: i for i, k in enumerate(keys)}
    codes = np.empty(int(lengths.sum()), dtype=np.int32)
    at = 0
    for names, (_, local, _) in zip(stripped, parts, strict=True):
        # Raw-token codes to key codes through a lookup of the slice's few distinct tokens.
        lookup = np.array([index[k] for k in names], dtype=np.int32)
        codes[at : at + len(local)] = lookup[local] if len(local) else local
        at += len(local)
    return keys, codes, np.asarray(lengths, dtype=np.int64)


def _split_slice(text: pl.Series, sep: str) -> tuple[IntArray, pl.Series, Any]:
    """Tokens per path, the raw tokens one after another, and their hashes."""
    tokens = text.str.split(sep)
    flat = tokens.explode()
    return tokens.list.len().to_numpy().astype(np.int64), flat, flat.hash().to_numpy()


# Up to this many distinct strings, two of them share one of the 65,536 buckets with a probability of
# about 1 - exp(-n**2 / 2**17): 0.87 at 512, so another slice of the hash, or the fallback, decides.
_FEW_STRINGS = 512


def _dictionary(flat: pl.Series, hashes: Any = None) -> tuple[npt.NDArray[np.int32], pl.Series]:
    """A code per string and the distinct strings, by 16 bits of each string's hash.

    Every string is compared with one string of its bucket (the last one in row order), so the coding is
    exact; if two different strings share a bucket under each of the four 16-bit slices of the hash, or
    there are more than ``_FEW_STRINGS`` buckets (then two strings in one bucket are likely), the strings
    are dictionary-encoded by polars instead. Costs a hash and a few integer passes per string, against a
    hash-table lookup of every string for an ``Enum`` cast.
    """
    if len(flat) == 0:
        return np.zeros(0, dtype=np.int32), flat.clear()
    if hashes is None:
        hashes = flat.hash().to_numpy()
    # Which 16 bits a slice holds depends on the byte order; any 16 bits of the hash will do.
    slices = np.ascontiguousarray(hashes, dtype=np.uint64).view(np.uint16).reshape(-1, 4)
    rows = np.arange(len(flat))
    for slot in range(4):
        bucket = slices[:, slot].astype(np.intp)
        present = np.bincount(bucket, minlength=1 << 16) > 0
        if np.count_nonzero(present) > _FEW_STRINGS:
            break
        lookup = np.cumsum(present, dtype=np.int32) - 1
        local = lookup[bucket]
        first = np.empty(1 << 16, dtype=np.int64)
        first[bucket] = rows
        raw = flat.gather(first[present])
        if bool((raw.gather(local) == flat).all()):
            return np.asarray(local, dtype=np.int32), raw
    raw = flat.unique()
    return flat.cast(pl.Enum(raw.to_list())).to_physical().to_numpy().astype(np.int32), raw


def _counts(frame: pl.DataFrame, column: str, kind: str) -> FloatArray:
    series = frame.get_column(column)
    if series.dtype == pl.Boolean or series.dtype.is_numeric():
        values = series.cast(pl.Float64).fill_null(0.0).to_numpy()
    else:
        raise DataError(f"must be numeric or boolean, not {series.dtype}", kind=kind, field=column)
    _check_counts(values, frame.get_column(frame.columns[0]), column, kind, rows=True)
    return np.asarray(values, dtype=np.float64)


def _check_counts(values: FloatArray, ids: pl.Series, column: str, kind: str, *, rows: bool = False) -> None:
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        index = int(bad[0])
        what = "NaN" if np.isnan(values[index]) else repr(float(values[index]))
        record = f"row {index}" if rows else str(ids[index])
        raise DataError(f"must be a finite number >= 0, not {what}", kind=kind, record=record, field=column)


def _exponent(code: str) -> int:
    return Money.zero(code).minor_units


def _path_values(
    frame: pl.DataFrame, value: str | None, currency: str | None
) -> tuple[IntArray | None, npt.NDArray[np.int16] | None, tuple[str, ...]]:
    if value is None:
        return None, None, ()
    if value not in frame.columns:
        raise DataError(f"missing column {value}", kind="paths")
    lf = nw.from_native(frame).lazy()
    currencies, expr = _currency_expr(lf, currency, "paths")
    index = nw.lit(0, dtype=nw.Int16()) if expr is None else expr
    out = lf.select(_minor_units_expr(lf, value, currencies, expr, "paths").alias("v"), index.alias("c"))
    native = out.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    return (
        native.get_column("v").fill_null(0).to_numpy().astype(np.int64),
        native.get_column("c").to_numpy().astype(np.int16),
        currencies,
    )


def _currency_expr(lf: nw.LazyFrame[Any], currency: str | None, kind: str) -> tuple[tuple[str, ...], Any]:
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


def _minor_units_expr(
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
    exponents = [_exponent(c) if c != "XXX" else 0 for c in currencies]
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


_NEVER = np.iinfo(np.int64).min


def _won_deals(deals: Any, fx: FxTable | None, currency: str | None) -> pl.DataFrame | None:
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
        minor = []
        for row in native.iter_rows(named=True):
            amount = Money(row["amount"], row["amount_currency"])
            minor.append(fx.convert(amount, currency, row["close_date"]).to_minor())
        native = native.with_columns(
            pl.Series("_minor", minor, dtype=pl.Int64), pl.lit(currency).alias("amount_currency")
        )
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
    day_us = 86_400 * _US
    return per_lead.with_columns(
        ((pl.col("_close").cast(pl.Date).cast(pl.Int64) + 1) * day_us).alias("_close_us")
    ).drop("_currency_max", "_close")


def _stage_times(stage_events: Any, ids: pl.Series) -> dict[str, IntArray]:
    """First entry time of every stage per journey (``_NEVER`` where the journey never entered it)."""
    lf = as_lazy(stage_events, "stage_events", required=["lead_id", "to", "time"])
    check_aware(lf, ["time"], kind="stage_events")
    firsts = (
        lf.group_by("lead_id", "to")
        .agg(nw.col("time").min().dt.timestamp("us").alias("_t"))
        .collect(backend="polars")
        .to_native()
    )
    assert isinstance(firsts, pl.DataFrame)
    index = pl.DataFrame({"lead_id": ids.cast(pl.String), "_row": np.arange(len(ids))})
    joined = firsts.with_columns(pl.col("lead_id").cast(pl.String)).join(index, on="lead_id", how="inner")
    out: dict[str, IntArray] = {}
    for stage, part in joined.partition_by("to", as_dict=True).items():
        times = np.full(len(ids), _NEVER, dtype=np.int64)
        times[part.get_column("_row").to_numpy()] = part.get_column("_t").to_numpy()
        times.flags.writeable = False
        out[str(stage[0])] = times
    return out


# --------------------------------------------------------------------------------------------------
# Heuristic models: one weight per touch.


def _position_table(lengths: IntArray, first: float, last: float) -> FloatArray:
    """Position-based weights of a journey of every length (rows) at every position (columns)."""
    for name, share in (("first", first), ("last", last)):
        if not 0 <= share <= 1:
            raise ValueError(f"position: {name} must be between 0 and 1, not {share}")
    if first + last > 1 + 1e-12:
        raise ValueError(f"position: first + last must be at most 1, not {first + last}")
    size = int(lengths.max())
    n, pos = np.indices((size + 1, size))
    # Through Decimal, so that 1 - 0.4 - 0.4 is 0.2 and not 0.19999999999999996.
    middle = float(1 - Decimal(repr(first)) - Decimal(repr(last)))
    ends = first + last
    w = np.where(n > 2, middle / np.maximum(n - 2, 1), 0.0)
    # Two touches share the first and last weights in their proportion (evenly if both are 0).
    two_first = first / ends if ends > 0 else 0.5
    w = np.where(pos == 0, np.where(n == 2, two_first, first), w)
    w = np.where((pos == n - 1) & (pos > 0), np.where(n == 2, 1 - two_first, last), w)
    w = np.where(n == 1, 1.0, w)
    return np.asarray(np.where(pos < n, w, 0.0), dtype=np.float64)


def _milestone_weights(
    j: Journeys, weights: Sequence[float], stages: Sequence[str | None], model: str
) -> FloatArray:
    """Milestone touches share ``weights``; the rest of the journey shares what is left."""
    if len(weights) != len(stages):
        raise ValueError(
            f"{model}: weights needs {len(stages)} numbers (one per milestone), got {len(weights)}"
        )
    if any(w < 0 for w in weights) or sum(weights) > 1 + 1e-12:
        raise ValueError(f"{model}: weights must be >= 0 and add up to at most 1, not {list(weights)}")
    lengths = j.lengths()
    starts = j.offsets[:-1]
    jot = j.journey_of_touch()
    w = np.zeros(j.n_touches)
    is_milestone = np.zeros(j.n_touches, dtype=bool)
    for share, stage in zip(weights, stages, strict=True):
        if stage is None:  # the first touch
            where = starts
            present = np.ones(j.n_journeys, dtype=bool)
        elif stage == "$last":
            where = j.offsets[1:] - 1
            present = np.ones(j.n_journeys, dtype=bool)
        else:
            if not j.stage_times:
                raise DataError(
                    f"{model} needs stage events to find the {stage!r} milestone; pass stage_events=",
                    kind="journeys",
                )
            if j.times is None:
                raise DataError(f"{model} needs touch times", kind="journeys")
            entered = j.stage_times.get(stage)
            if entered is None:
                entered = np.full(j.n_journeys, _NEVER, dtype=np.int64)
            present = entered != _NEVER
            # The milestone touch is the last one at or before the stage was entered (the first if none).
            before = np.add.reduceat((j.times <= entered[jot]).astype(np.int64), starts)
            where = starts + np.maximum(before - 1, 0)
        np.add.at(w, where[present], share)
        is_milestone[where[present]] = True
    rest = 1.0 - sum(weights)
    n_rest = lengths - np.add.reduceat(is_milestone.astype(np.int64), starts)
    w += np.where(is_milestone, 0.0, rest / np.maximum(n_rest, 1)[jot])
    return w


def _time_decay_weights(j: Journeys, half_life: Any) -> FloatArray:
    if isinstance(half_life, timedelta):
        seconds = half_life.total_seconds()
    elif isinstance(half_life, int | float) and not isinstance(half_life, bool):
        seconds = float(half_life) * 86_400
    else:
        raise TypeError(f"time_decay: half_life must be a timedelta or a number of days, not {half_life!r}")
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"time_decay: half_life must be positive, not {half_life}")
    if j.times is None or j.conversion_times is None:
        raise DataError("time_decay needs touch times; path input has none", kind="journeys")
    lengths = j.lengths()
    age = (np.repeat(j.conversion_times, lengths) - j.times).astype(np.float64) / (seconds * _US)
    # Relative to the newest touch of the journey, so long journeys do not underflow to all zeros.
    newest = np.minimum.reduceat(age, j.offsets[:-1])
    age -= np.repeat(newest, lengths)
    return np.asarray(np.exp2(-age), dtype=np.float64)


def _custom_table(lengths: IntArray, weights: Any) -> FloatArray:
    """The custom weights of every path length present (rows) at every position (columns)."""
    table: dict[int, FloatArray] = {}
    for n in np.unique(lengths).tolist():
        if callable(weights):
            row = [weights(p, n) for p in range(n)]
        elif isinstance(weights, Mapping):
            if n not in weights:
                raise DataError(
                    f"custom: the weight table has no row for paths of {n} touch(es)", kind="journeys"
                )
            row = list(weights[n])
            if len(row) != n:
                raise ValueError(f"custom: weights[{n}] must have {n} numbers, not {len(row)}")
        else:
            raise TypeError("custom: weights must be a function (position, length) -> weight or a table")
        array = np.asarray(row, dtype=np.float64)
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"custom: weights for length {n} must be finite and >= 0, not {row}")
        table[n] = array
    size = int(lengths.max())
    grid = np.zeros((size + 1, size))
    for n, weights_of_n in table.items():
        grid[n, :n] = weights_of_n
    return grid


_HEURISTIC_PARAMS: dict[str, frozenset[str]] = {
    "first": frozenset(),
    "last": frozenset(),
    "linear": frozenset(),
    "position": frozenset({"first", "last"}),
    "j_shaped": frozenset({"first", "last"}),
    "inverse_j": frozenset({"first", "last"}),
    "w_shaped": frozenset({"weights", "lead_stage", "opportunity_stage"}),
    "full_path": frozenset({"weights", "lead_stage", "opportunity_stage"}),
    "time_decay": frozenset({"half_life"}),
    "custom": frozenset({"weights"}),
}
_POSITION_DEFAULTS = {"position": (0.4, 0.4), "j_shaped": (0.2, 0.6), "inverse_j": (0.6, 0.2)}


# Models whose weights depend on nothing but a touch's position and its journey's length: they are computed
# once per (length, position) cell, not per touch.
_TABLE_MODELS = frozenset({"first", "last", "linear", "position", "j_shaped", "inverse_j", "custom"})


def _weight_table(j: Journeys, model: str, params: Mapping[str, Any]) -> FloatArray:
    """Normalised weights of a table model: row ``n`` holds the weights of an ``n``-touch journey.

    Every row sums to 1 (an all-zero row is split evenly), as :func:`_normalise` does per journey.
    """
    lengths = j.lengths()
    size = int(lengths.max())
    n, pos = np.indices((size + 1, size))
    if model == "first":
        grid = (pos == 0).astype(np.float64)
    elif model == "last":
        grid = (pos == n - 1).astype(np.float64)
    elif model == "linear":
        grid = np.ones((size + 1, size))
    elif model in _POSITION_DEFAULTS:
        first, last = _POSITION_DEFAULTS[model]
        grid = _position_table(lengths, float(params.get("first", first)), float(params.get("last", last)))
    else:
        if "weights" not in params:
            raise ValueError("custom: pass weights=, a function (position, length) -> weight or a table")
        grid = _custom_table(lengths, params["weights"])
    inside = pos < n
    cells = grid[inside]  # row after row, each in position order: the same sums as per journey
    row_length = np.arange(1, size + 1)
    totals = np.zeros(size + 1)
    totals[1:] = np.add.reduceat(cells, np.cumsum(row_length) - row_length)
    safe = np.where(totals > 0, totals, 1.0)
    even = 1.0 / np.maximum(n, 1)
    table = np.where((totals <= 0)[:, None], even, grid / safe[:, None])
    return np.asarray(np.where(inside, table, 0.0), dtype=np.float64)


def _cells(j: Journeys) -> IntArray:
    """The (length, position) cell of every touch, as a flat index into a weight table (cached)."""
    cached = j._cache.get("cells")
    if cached is None:
        lengths = j.lengths()
        size = int(lengths.max())
        cached = np.repeat(lengths * size - j.offsets[:-1], lengths) + np.arange(j.n_touches)
        cached.flags.writeable = False
        j._cache["cells"] = cached
    return np.asarray(cached, dtype=np.int64)


def _table_sums(j: Journeys, table: FloatArray, per_journey: FloatArray, cache: Any) -> FloatArray:
    """Per key: the sum over touches of the table weight of the touch's cell times its journey's amount.

    The amounts are first added up per (cell, key), once per journeys and amount (cached under ``cache``
    unless it is None), so a model costs one small product whatever the number of touches.
    """
    keys = len(j.keys)
    totals = j._cache.get(cache) if cache is not None else None
    if totals is None:
        # Touches of journeys with a zero amount would add zeros: leave them out of the sums.
        lengths = j.lengths()
        nonzero = per_journey != 0
        touches = np.repeat(nonzero, lengths)
        index = _cells(j)[touches] * keys + j.codes[touches]
        totals = np.bincount(
            index, weights=np.repeat(per_journey[nonzero], lengths[nonzero]), minlength=table.size * keys
        ).reshape(table.size, keys)
        totals.flags.writeable = False
        if cache is not None:
            j._cache[cache] = totals
    return np.asarray(table.reshape(-1) @ totals, dtype=np.float64)


def _earning(j: Journeys) -> tuple[Journeys, npt.NDArray[np.bool_] | None]:
    """The journeys with conversions or value: the only ones whose touches can earn credit (cached).

    Models that weigh every touch run on these alone (a few percent of all journeys, typically); their
    credits are the same, as the other journeys would add zeros. Returns them and which of ``j``'s
    journeys they are (to take per-journey arrays along); without a journey to drop, or with none to
    keep, ``j`` itself and ``None``.
    """
    cached = j._cache.get("earning")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    keep = j.conversions != 0
    if j.value is not None:
        keep |= j.value != 0
    if keep.all() or not keep.any():
        j._cache["earning"] = (j, None)
        return j, None
    lengths = j.lengths()
    touches = np.repeat(keep, lengths)
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=offsets[1:])

    def rows(array: Any) -> Any:
        return None if array is None else _frozen_array(array[keep], array.dtype.type)

    sub = Journeys(
        key=j.key,
        keys=j.keys,
        codes=_frozen_array(j.codes[touches], np.int32),
        offsets=_frozen_array(offsets, np.int64),
        ids=j.ids.filter(pl.Series(keep)),
        conversions=rows(j.conversions),
        nulls=rows(j.nulls),
        value=rows(j.value),
        currency=rows(j.currency),
        currencies=j.currencies,
        times=None if j.times is None else _frozen_array(j.times[touches], np.int64),
        conversion_times=rows(j.conversion_times),
        touch_ids=None,
        stage_times={stage: rows(times) for stage, times in j.stage_times.items()},
    )
    sub._cache["earning"] = (sub, None)
    j._cache["earning"] = (sub, keep)
    return sub, keep


def _heuristic(j: Journeys, model: str, params: Mapping[str, Any]) -> FloatArray:
    """Raw touch weights of the heuristic models that look beyond position and length."""
    if model in ("w_shaped", "full_path"):
        lead = params.get("lead_stage", "lead")
        opportunity = params.get("opportunity_stage", "opportunity")
        if model == "w_shaped":
            stages: list[str | None] = [None, lead, opportunity]
            default: tuple[float, ...] = (0.3, 0.3, 0.3)
        else:
            stages = [None, lead, opportunity, "$last"]
            default = (0.225, 0.225, 0.225, 0.225)
        weights = [float(w) for w in params.get("weights", default)]
        return _milestone_weights(j, weights, stages, model)
    return _time_decay_weights(j, params.get("half_life", timedelta(days=7)))


def _normalise(j: Journeys, w: FloatArray) -> FloatArray:
    """Weights that sum to 1 in every journey (an all-zero journey is split evenly)."""
    totals = np.add.reduceat(w, j.offsets[:-1])
    lengths = j.lengths()
    # Per journey values spread over its touches by np.repeat: a sequential copy, cheaper than a gather.
    out = w / np.repeat(np.where(totals > 0, totals, 1.0), lengths)
    even = totals <= 0
    if even.any():
        out = np.where(np.repeat(even, lengths), np.repeat(1.0 / lengths, lengths), out)
    return np.asarray(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Markov: the absorbing chain, solved exactly.


@attrs.frozen
class _Chain:
    removal: FloatArray  # per key
    value_removal: dict[str, FloatArray]  # per currency, per key
    probability: float
    transitions: pl.DataFrame


def _states(j: Journeys, order: int) -> tuple[IntArray, IntArray, list[tuple[int, ...]]]:
    """Sliding windows of ``order`` keys as states (a shorter journey is one state of all its keys).

    Returns the dense state of every state-touch (journey after journey), the number of states of each
    journey, and the key codes of each dense state.
    """
    base = len(j.keys) + 1
    if order * math.log2(base) > 62:
        raise ValueError(f"markov: order {order} over {len(j.keys)} keys is too large to index states")
    lengths = j.lengths()
    # At order 1 every state is one key: when every key occurs (as from any constructor, which notes it),
    # the touch codes are the dense states already.
    if order == 1 and (j._cache.get("keys_occur") or (np.bincount(j.codes, minlength=len(j.keys)) > 0).all()):
        return np.asarray(j.codes), lengths, [(k,) for k in range(len(j.keys))]
    # Windows in 32 bits when they fit: the largest arrays of the chain are per touch.
    window: npt.NDArray[Any] = j.codes.astype(np.int32 if base**order < 1 << 31 else np.int64)
    window += 1
    if order > 1:
        pos = j.positions()
        codes = window.copy()
        for lag in range(1, order):
            window *= base
            window[lag:] += np.where(pos[lag:] >= lag, codes[: j.n_touches - lag], 0)
        del codes
        # A window ends at every touch from the order-th on; a shorter journey has one, at its last touch.
        take = pos >= order - 1
        del pos
        take[j.offsets[1:][lengths < order] - 1] = True
        window = window[take]
        del take
    if base**order <= 1 << 24:
        present = np.zeros(base**order, dtype=bool)
        present[window] = True
        names = np.flatnonzero(present)
        lookup = np.cumsum(present, dtype=np.int32) - 1
        dense = lookup[window]
    else:
        names, dense = np.unique(window, return_inverse=True)
    decoded: list[tuple[int, ...]] = []
    for name in names.tolist():
        digits = []
        for _ in range(order):
            digits.append(name % base)
            name //= base  # noqa: PLW2901 - peeling digits off the state's code
        # The newest key is the most significant digit, so digits come out oldest first; 0 pads a short
        # journey.
        decoded.append(tuple(d - 1 for d in digits if d))
    per_journey = np.maximum(lengths - order + 1, 1)
    return dense, per_journey, decoded


def _markov(j: Journeys, order: int, values: Mapping[str, IntArray]) -> _Chain:
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"markov: order must be an integer >= 1, not {order!r}")
    dense, per_journey, decoded = _states(j, order)
    n_states = len(decoded)
    start, conv_state, null_state = n_states, n_states + 1, n_states + 2
    size = n_states + 3
    starts = np.cumsum(per_journey) - per_journey
    # Every journey has one first and one last state, in journey order.
    first_state, last_state = dense[starts], dense[starts + per_journey - 1]
    weight = j.conversions + j.nulls
    # Transitions as flat (source, target) pairs with weights, in four kinds that never share a pair: from
    # the start, within a journey, to conversion, to null. Within: every state to the next one, weighted by
    # its journey; a journey's last state leads into the next journey with weight 0, which adds nothing.
    within = dense[:-1].astype(np.int64) * size
    within += dense[1:]
    inner = np.repeat(weight, per_journey)
    inner[starts + per_journey - 1] = 0.0
    ending = last_state.astype(np.int64) * size
    pairs: list[IntArray] = [
        start * size + first_state.astype(np.int64),
        within,
        ending + conv_state,
        ending + null_state,
    ]
    del within
    weights: list[FloatArray] = [weight, inner[:-1], j.conversions, j.nulls]
    if size * size <= 1 << 25:
        # Summed in touch order, zeros included: the same sums as over the weighted transitions alone.
        flat = np.zeros(size * size)
        for pair, w in zip(pairs, weights, strict=True):
            flat += np.bincount(pair, weights=w, minlength=size * size)
        nz = np.flatnonzero(flat)
        counts_src, counts_dst, counts = nz // size, nz % size, flat[nz]
    else:
        for index, w in enumerate(weights):
            keep = w > 0
            pairs[index], weights[index] = pairs[index][keep], w[keep]
        uniq, inverse = np.unique(np.concatenate(pairs), return_inverse=True)
        counts = np.asarray(np.bincount(inverse, weights=np.concatenate(weights)), dtype=np.float64)
        counts_src, counts_dst = uniq // size, uniq % size
    del pairs, weights
    out = np.bincount(counts_src, weights=counts, minlength=size)
    prob = counts / out[counts_src]
    transient = counts_dst < n_states
    # Rows and columns: the start state first, then the observed states.
    remap = np.empty(size, dtype=np.int64)
    remap[:n_states] = np.arange(1, n_states + 1)
    remap[start] = 0
    q = sp.csc_matrix(
        (prob[transient], (remap[counts_src[transient]], remap[counts_dst[transient]])),
        shape=(n_states + 1, n_states + 1),
    )
    system = (sp.identity(n_states + 1, format="csc") - q).tocsc()
    to_conv = counts_dst == conv_state
    rhs = [np.bincount(remap[counts_src[to_conv]], weights=prob[to_conv], minlength=n_states + 1)]
    currencies = sorted(values)
    # Value as a reward on absorption: the mean value of the journeys that convert from each state.
    end_states = remap[last_state]
    for code in currencies:
        per_state = np.bincount(end_states, weights=values[code].astype(np.float64), minlength=n_states + 1)
        outflow = np.zeros(n_states + 1)
        outflow[remap[np.arange(n_states)]] = out[:n_states]
        outflow[0] = out[start]
        rhs.append(np.divide(per_state, outflow, out=np.zeros(n_states + 1), where=outflow > 0))
    b = np.column_stack(rhs).astype(np.float64)
    base_solution = _solve(system, b)
    base = base_solution[0]
    keys = len(j.keys)
    contains = np.zeros((keys, n_states + 1), dtype=bool)
    for index, members in enumerate(decoded):
        for member in members:
            contains[member, index + 1] = True
    removal = np.zeros((keys, b.shape[1]))
    for removed in range(keys):
        if not contains[removed].any():
            continue
        kept = np.flatnonzero(~contains[removed])
        # States with the key become the null state: drop their rows and columns.
        reduced = system[kept][:, kept].tocsc()
        solution = _solve(reduced, b[kept])[0]
        removal[removed] = np.divide(base - solution, base, out=np.zeros(b.shape[1]), where=base > 0)
    # Removing a key can only lose conversions; what is left below 1e-12 is rounding in the solves (a key
    # whose states cannot reach a conversion must get exactly nothing).
    removal = np.where(removal < 1e-12, 0.0, np.minimum(removal, 1.0))
    names = ["(start)"] + [" > ".join(j.keys[c] for c in d) for d in decoded] + ["(conversion)", "(null)"]
    label = np.array([*names[1 : n_states + 1], "(start)", "(conversion)", "(null)"], dtype=object)
    transitions = pl.DataFrame(
        {
            "from": label[counts_src].tolist(),
            "to": label[counts_dst].tolist(),
            "count": counts,
            "probability": prob,
        }
    ).sort("from", "to")
    return _Chain(
        removal=removal[:, 0],
        value_removal={code: removal[:, i + 1] for i, code in enumerate(currencies)},
        probability=float(base[0]),
        transitions=transitions,
    )


def _solve(system: Any, b: FloatArray) -> FloatArray:
    if system.shape[0] == 0:
        return np.zeros((1, b.shape[1]))
    solution = spla.splu(system).solve(np.ascontiguousarray(b))
    return np.asarray(solution, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Shapley: coalition values over key sets, exact by bitmask dynamic programming.


@attrs.frozen
class _Shapley:
    values: FloatArray  # per key, conversions game
    value_values: dict[str, FloatArray]  # per currency, per key
    interval: FloatArray | None  # (keys, 2) 95% interval of the conversions game, when sampled
    method: str


def _key_sets(j: Journeys) -> IntArray:
    """Bitmask of the distinct keys of every journey."""
    if len(j.keys) > _MAX_SHAPLEY_KEYS:
        raise ValueError(f"shapley: at most {_MAX_SHAPLEY_KEYS} keys are supported, not {len(j.keys)}")
    bits = np.left_shift(np.int64(1), j.codes.astype(np.int64))
    return np.asarray(np.bitwise_or.reduceat(bits, j.offsets[:-1]), dtype=np.int64)


def _worths(
    masks: IntArray, j: Journeys, values: Mapping[str, IntArray], coalition: str
) -> tuple[IntArray, FloatArray]:
    """Distinct key sets and the worth of each (conversions game first, then each currency)."""
    sets, inverse = np.unique(masks, return_inverse=True)
    seen = np.bincount(inverse, weights=j.conversions + j.nulls, minlength=len(sets))
    columns = [np.bincount(inverse, weights=j.conversions, minlength=len(sets))]
    columns += [
        np.bincount(inverse, weights=values[c].astype(np.float64), minlength=len(sets))
        for c in sorted(values)
    ]
    worth = np.column_stack(columns).astype(np.float64)
    if coalition == "rate":
        worth = np.divide(worth, seen[:, None], out=np.zeros_like(worth), where=seen[:, None] > 0)
    elif coalition != "conversions":
        raise ValueError(f"shapley: coalition must be 'conversions' or 'rate', not {coalition!r}")
    return sets, worth


def _shapley_exact(sets: IntArray, worth: FloatArray, n: int) -> FloatArray:
    """Shapley values of v(S) = sum of worth(T) over key sets T within S, over all 2**n coalitions."""
    size = 1 << n
    v = np.zeros((size, worth.shape[1]))
    np.add.at(v, sets, worth)
    # Zeta transform (sum over subsets), one key at a time.
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i, worth.shape[1])
        view[:, 1] += view[:, 0]
    popcount = np.zeros(size, dtype=np.int64)
    for i in range(n):
        popcount[1 << i : 1 << (i + 1)] = popcount[: 1 << i] + 1
    # Weight of a coalition of s keys not containing i: s! (n - s - 1)! / n!
    weight = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    phi = np.zeros((n, worth.shape[1]))
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i, worth.shape[1])
        sizes = popcount.reshape(-1, 2, 1 << i)[:, 0]
        gain = view[:, 1] - view[:, 0]
        phi[i] = np.einsum("ab,abc->c", weight[sizes], gain)
    return phi


def _shapley_sampled(
    sets: IntArray, worth: FloatArray, n: int, samples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Mean marginal contributions over random key orders, and a 95% normal interval (conversions game)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"shapley: samples must be an integer >= 2, not {samples!r}")
    rng = np.random.default_rng(seed)
    keep = np.any(worth != 0, axis=1)
    sets, worth = sets[keep], worth[keep]
    member_bits = (sets[:, None] >> np.arange(n)) & 1
    rows, members = np.nonzero(member_bits)
    starts = np.searchsorted(rows, np.arange(len(sets)))
    total = np.zeros((n, worth.shape[1]))
    squares = np.zeros(n)
    for _ in range(samples):
        rank = rng.permutation(n)
        order = np.argsort(rank)
        # A key set's worth joins the coalition with its last key in this order.
        last = order[np.maximum.reduceat(rank[members], starts)] if len(sets) else np.zeros(0, dtype=np.int64)
        gains = np.stack(
            [np.bincount(last, weights=worth[:, c], minlength=n) for c in range(worth.shape[1])], 1
        )
        total += gains
        squares += gains[:, 0] ** 2
    mean = total / samples
    variance = np.maximum(squares / samples - mean[:, 0] ** 2, 0.0) * samples / (samples - 1)
    half = 1.959963984540054 * np.sqrt(variance / samples)
    return mean, np.column_stack([mean[:, 0] - half, mean[:, 0] + half])


def _shapley(
    j: Journeys,
    *,
    values: Mapping[str, IntArray],
    coalition: str,
    method: str,
    samples: int,
    seed: int,
) -> _Shapley:
    n = len(j.keys)
    if method not in ("auto", "exact", "sampling"):
        raise ValueError(f"shapley: method must be 'auto', 'exact' or 'sampling', not {method!r}")
    if method == "exact" and n > MAX_EXACT_SHAPLEY:
        raise ValueError(
            f"shapley: exact values enumerate all 2**n coalitions, so at most {MAX_EXACT_SHAPLEY} keys; "
            f"the data has {n}; use method='sampling' (or 'auto')"
        )
    masks = _key_sets(j)
    sets, worth = _worths(masks, j, values, coalition)
    currencies = sorted(values)
    if method == "exact" or (method == "auto" and n <= MAX_EXACT_SHAPLEY):
        phi = _shapley_exact(sets, worth, n)
        interval = None
        method = "exact"
    else:
        phi, interval = _shapley_sampled(sets, worth, n, samples, seed)
        method = "sampling"
    return _Shapley(
        values=phi[:, 0],
        value_values={code: phi[:, i + 1] for i, code in enumerate(currencies)},
        interval=interval,
        method=method,
    )


# --------------------------------------------------------------------------------------------------
# Plugins.


@cache
def _plugins() -> tuple[Mapping[str, AttributionModel], Mapping[str, str]]:
    """Models registered by other distributions, and names that cannot be used (with the reason).

    Each entry point loads on its own (:func:`smarketing._plugins.load`): one that fails, exits or
    clashes is skipped with a :class:`~smarketing.errors.PluginWarning` naming it, and the others load.
    """
    found: dict[str, AttributionModel] = {}
    origin: dict[str, str] = {}
    broken: dict[str, str] = {}

    def skip(name: str, message: str) -> None:
        broken[name] = message
        warnings.warn(
            str(PluginError(message, plugin=name, group=ENTRY_POINT_GROUP)), PluginWarning, stacklevel=4
        )

    for point in _loader.entry_points(ENTRY_POINT_GROUP):
        try:
            loaded = _loader.load(ENTRY_POINT_GROUP, point)
            where = f"{point.name} = {point.value}"
            model, name = _loader.guard(
                ENTRY_POINT_GROUP, point.name, f"failed to load ({where})", _adopt, loaded
            )
        except PluginError as error:
            skip(error.plugin or "?", str(error).removeprefix(f"{ENTRY_POINT_GROUP}: {error.plugin}: "))
            continue
        if name != point.name:
            skip(point.name, f"{where} names itself {name!r}; the entry point and model name must match")
            continue
        if name in BUILTIN_MODELS:
            warnings.warn(
                f"{ENTRY_POINT_GROUP}: {name}: {where} uses the built-in name {name!r}; "
                "the plugin is ignored",
                PluginWarning,
                stacklevel=3,
            )
            continue
        if name in found:
            skip(name, f"registered twice ({origin[name]} and {where}); uninstall one")
            del found[name]
            continue
        if name in broken:
            continue
        found[name] = model
        origin[name] = where
    return MappingProxyType(found), MappingProxyType(broken)


def _adopt(loaded: object) -> tuple[AttributionModel, str]:
    """The model an entry point names (a class is instantiated) and its name, checked; under the guard."""
    model = loaded() if isinstance(loaded, type) else loaded
    return model, _model_name(model)  # type: ignore[return-value]  # _model_name checked its shape


def _model_name(model: object) -> str:
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not callable(getattr(model, "touch_weights", None)):
        raise _loader.ContractError(
            f"{_loader.text_line(repr(model))} does not implement AttributionModel (name, touch_weights)"
        )
    return _loader.text(name, "the model name", limit=100, empty=False)


def available_models() -> list[str]:
    """Names of every usable model: the built-in ones and those of installed plugins, sorted.

    Examples:
        >>> {"markov", "shapley", "position"} <= set(available_models())
        True
    """
    return sorted({*BUILTIN_MODELS, *_plugins()[0]})


def _resolve(model: str | AttributionModel) -> tuple[str | AttributionModel, str]:
    """The model to run and its name; a model object's name is read once, here."""
    if not isinstance(model, str):
        try:
            return model, _model_name(model)
        except _loader.ContractError:
            raise TypeError(
                f"model must be a model name or an AttributionModel, not {type(model).__name__}"
            ) from None
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # its name or touch_weights raised (sys.exit() included)
            raise PluginError(
                f"the model given: {_loader.describe(error)}", group=ENTRY_POINT_GROUP
            ) from error
    if model in BUILTIN_MODELS:
        return model, model
    plugins, broken = _plugins()
    if model in plugins:
        return plugins[model], model
    if model in broken:
        raise PluginError(broken[model], plugin=model, group=ENTRY_POINT_GROUP)
    raise PluginError(
        f"unknown attribution model {model!r}; available: {', '.join(available_models())}",
        plugin=model,
        group=ENTRY_POINT_GROUP,
    )


def _plugin_weights(model: AttributionModel, name: str, j: Journeys, params: Mapping[str, Any]) -> FloatArray:
    """A plugin's touch weights, checked: one finite number >= 0 per touch, in a host-owned float64 array.

    The plugin gets its own copy of the journeys (and of the parameters), so nothing it does changes
    what the host computes from them afterwards.
    """
    raw = _loader.guard(
        ENTRY_POINT_GROUP, name, "touch_weights", _call_weights, model, _private(j), dict(params)
    )
    problem = None
    if raw.dtype.kind not in "iuf":
        problem = f"numbers, not an array of {raw.dtype} ({type(raw).__name__})"
    elif raw.shape != (j.n_touches,):
        problem = f"one weight per touch ({j.n_touches}), not an array of shape {raw.shape}"
    else:
        weights: FloatArray = raw.astype(np.float64)
        finite = np.isfinite(weights)
        if not np.all(finite):
            bad = int(np.argmin(finite))
            problem = f"finite weights; touch {bad} has {weights[bad]}"
        elif np.any(weights < 0):
            bad = int(np.argmax(weights < 0))
            problem = f"weights >= 0; touch {bad} has {weights[bad]}"
        else:
            return weights
    raise PluginError(
        f"touch_weights must return {j.n_touches} finite weights >= 0 (float64): expected {problem}",
        plugin=name,
        group=ENTRY_POINT_GROUP,
    )


def _call_weights(model: AttributionModel, j: Journeys, params: dict[str, Any]) -> Any:
    # Converting runs plugin code too (__array__, __iter__, __len__): under the same guard, into a copy.
    out = model.touch_weights(j, **params)
    if isinstance(out, Mapping | str | bytes):
        raise _loader.ContractError(
            f"touch_weights must return an array of weights, not {type(out).__name__}"
        )
    return np.array(out, copy=True)


def _private(j: Journeys) -> Journeys:
    """A copy of ``j`` whose arrays and cache a plugin may do anything with."""

    def own(array: Any) -> Any:
        return None if array is None else _frozen_array(np.array(array, copy=True), array.dtype.type)

    return attrs.evolve(
        j,
        codes=own(j.codes),
        offsets=own(j.offsets),
        ids=j.ids.clone(),
        conversions=own(j.conversions),
        nulls=own(j.nulls),
        value=own(j.value),
        currency=own(j.currency),
        times=own(j.times),
        conversion_times=own(j.conversion_times),
        touch_ids=None if j.touch_ids is None else j.touch_ids.clone(),
        stage_times={k: own(v) for k, v in j.stage_times.items()},
    )


# --------------------------------------------------------------------------------------------------
# Results.

_HTML_ROWS = 20
_TEXT_ROWS = 20


class _ReadOnlyDict(dict[str, Any]):
    """A dict that reads like one (and prints like one) but cannot be changed."""

    def _blocked(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("attribution results are immutable; build a new one with attrs.evolve()")

    __setitem__ = __delitem__ = __ior__ = _blocked
    clear = pop = popitem = setdefault = update = _blocked

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return _ReadOnlyDict(mapping)


@attrs.frozen(eq=False)
class Attribution:
    """Credits of one attribution model, per key: conversions (floats) and value (exact, per currency).

    Credits add up to the totals: conversions up to float rounding, value exactly (each currency's total is
    split with :func:`~smarketing.money.allocate`, ties to the smaller key).

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1]})
        >>> result = attribute(paths, model="first")
        >>> result.conversions, result.total_conversions
        ({'a': 1.0, 'b': 1.0}, 2.0)
        >>> result.to_frame().columns
        ['channel', 'conversions', 'share']
    """

    model: str
    """The model's name."""
    key: str
    """What got credit (``channel``, ``team``, ``owner``, ...)."""
    params: Mapping[str, Any] = attrs.field(converter=_freeze)
    """The model parameters given."""
    conversions: Mapping[str, float] = attrs.field(converter=_freeze)
    """Conversions credited per key (every key of the data, sorted)."""
    value: Mapping[str, Mapping[str, Money]] = attrs.field(converter=_freeze)
    """Value credited: currency -> key -> amount."""
    total_conversions: float
    """All conversions of the data."""
    total_value: Mapping[str, Money] = attrs.field(converter=_freeze)
    """All value of the data, per currency."""
    removal_effects: Mapping[str, float] | None = None
    """Markov: the share of conversions lost when the key is removed."""
    value_removal_effects: Mapping[str, Mapping[str, float]] | None = None
    """Markov: the share of value lost when the key is removed, per currency."""
    conversion_probability: float | None = None
    """Markov: the probability that a journey converts, from the chain."""
    transitions: pl.DataFrame | None = None
    """Markov: the transition counts and probabilities (``from, to, count, probability``)."""
    shapley_values: Mapping[str, float] | None = None
    """Shapley: each key's Shapley value in the conversions game."""
    shapley_interval: Mapping[str, tuple[float, float]] | None = None
    """Shapley, when sampled: a 95% confidence interval of each value."""
    touches: pl.DataFrame | None = None
    """Per-touch credit, when asked for with ``per_touch=True``."""

    @property
    def keys(self) -> list[str]:
        """The keys, sorted."""
        return list(self.conversions)

    @property
    def currencies(self) -> list[str]:
        """The currencies of :attr:`value`, sorted."""
        return sorted(self.value)

    def share(self) -> dict[str, float]:
        """Each key's share of the conversions (0 when there are none).

        Examples:
            >>> import polars as pl
            >>> attribute(pl.DataFrame({"path": ["a > b"], "total_conversions": [2]}), model="last").share()
            {'a': 0.0, 'b': 1.0}
        """
        total = self.total_conversions
        return {k: (c / total if total else 0.0) for k, c in self.conversions.items()}

    def to_frame(self) -> pl.DataFrame:
        """One row per key: conversions, share, value per currency, and removal effect or Shapley value.

        Value comes as one Decimal column ``value_<CUR>`` per currency; ``removal_effect`` (Markov) and
        ``shapley_value`` (Shapley) are there for those models.

        Examples:
            >>> import polars as pl
            >>> from decimal import Decimal
            >>> frame = pl.DataFrame({"path": ["a > b"], "total_conversions": [1], "v": [Decimal("9.99")]})
            >>> journeys = Journeys.from_paths(frame, value="v", currency="EUR")
            >>> attribute(journeys, model="linear").to_frame().row(0)
            ('a', 0.5, 0.5, Decimal('5.00'))
        """
        columns: dict[str, pl.Series] = {
            self.key: pl.Series(self.key, self.keys, dtype=pl.String),
            "conversions": pl.Series("conversions", list(self.conversions.values()), dtype=pl.Float64),
            "share": pl.Series("share", list(self.share().values()), dtype=pl.Float64),
        }
        for code in self.currencies:
            places = Money.zero(code).minor_units
            amounts = [self.value[code][k].amount for k in self.keys]
            columns[f"value_{code}"] = pl.Series(f"value_{code}", amounts, dtype=pl.Decimal(38, places))
        if self.removal_effects is not None:
            columns["removal_effect"] = pl.Series(
                "removal_effect", [self.removal_effects[k] for k in self.keys], dtype=pl.Float64
            )
        if self.shapley_values is not None:
            columns["shapley_value"] = pl.Series(
                "shapley_value", [self.shapley_values[k] for k in self.keys], dtype=pl.Float64
            )
        return pl.DataFrame(list(columns.values()))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: model, key, params, totals and credits (money as strings such as ``"12.30 EUR"``).

        Examples:
            >>> import polars as pl
            >>> result = attribute(pl.DataFrame({"path": ["a"], "total_conversions": [1]}), model="last")
            >>> result.to_dict()["credits"], result.to_dict()["total_conversions"]
            ({'a': {'conversions': 1.0, 'value': {}}}, 1.0)
        """
        out: dict[str, Any] = {
            "model": self.model,
            "key": self.key,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "total_conversions": self.total_conversions,
            "total_value": {c: str(m) for c, m in sorted(self.total_value.items())},
            "credits": {
                k: {"conversions": c, "value": {cur: str(self.value[cur][k]) for cur in self.currencies}}
                for k, c in self.conversions.items()
            },
        }
        if self.removal_effects is not None:
            out["removal_effects"] = dict(self.removal_effects)
            out["conversion_probability"] = self.conversion_probability
        if self.shapley_values is not None:
            out["shapley_values"] = dict(self.shapley_values)
        if self.shapley_interval is not None:
            out["shapley_interval"] = {k: list(v) for k, v in self.shapley_interval.items()}
        return out

    def _title(self) -> str:
        params = ", ".join(f"{k}={_plain(v)!r}" for k, v in self.params.items())
        model = f"{self.model}({params})" if params else self.model
        value = ", ".join(str(m) for _, m in sorted(self.total_value.items()))
        return (
            f"Attribution(model={model}, key={self.key!r}, conversions={self.total_conversions:g}"
            + (f", value={value}" if value else "")
            + ")"
        )

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        headers = [self.key, "conversions", "share"] + [f"value {c}" for c in self.currencies]
        rows = []
        shares = self.share()
        for k in sorted(self.keys, key=lambda k: (-self.conversions[k], k)):
            row = [k, f"{self.conversions[k]:.4f}", f"{shares[k]:.1%}"]
            row += [f"{self.value[c][k].amount:,}" for c in self.currencies]
            rows.append(row)
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        return self._title() + "\n" + _text_table(headers, rows, _TEXT_ROWS)

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return f"<p>{html.escape(self._title())}</p>" + _display.html_table(
            headers, rows, max_rows=_HTML_ROWS
        )


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return str(value)
    if callable(value):
        return getattr(value, "__name__", "function")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], limit: int) -> str:
    shown = list(rows[:limit])
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    out = [line(headers), *(line(r) for r in shown)]
    if len(rows) > limit:
        out.append(f"  ... {len(rows) - limit} more row(s)")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# attribute


def _journeys(data: Any, key: str | None) -> Journeys:
    if isinstance(data, Journeys):
        if key is not None and key != data.key:
            raise ValueError(f"these journeys are keyed by {data.key!r}, not {key!r}; build them again")
        return data
    if isinstance(data, Dataset) or (isinstance(data, Sequence) and not isinstance(data, str | bytes)):
        return Journeys.from_touchpoints(data, key=key or "channel")
    lf = _lazy(data, "data", required=[])
    names = lf.collect_schema().names()
    if "path" in names:
        return Journeys.from_paths(
            data,
            value="total_conversion_value" if "total_conversion_value" in names else None,
            currency="currency" if "currency" in names else None,
        )
    if "journey" in names:
        return Journeys.from_frame(
            data,
            key=key or "channel",
            nulls="nulls" if "nulls" in names else None,
            value="value" if "value" in names else None,
            currency="currency" if "currency" in names else None,
            touch="id" if "id" in names else None,
        )
    if "lead_id" in names:
        return Journeys.from_touchpoints(data, key=key or "channel")
    raise DataError(
        "cannot tell the input's shape: expected a 'path' column (aggregated paths), a 'journey' column "
        "(long form) or touchpoint columns; build it with Journeys.from_paths/from_frame/from_touchpoints",
        kind="data",
    )


def _values(j: Journeys, fx: FxTable | None, currency: str | None) -> dict[str, IntArray]:
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
            raise CurrencyMismatchError(
                f"journeys {j.ids[int(np.flatnonzero(mine)[0])]}: value in {code}, not {currency}; pass "
                "fx=FxTable(...) to convert"
            )
        if j.conversion_times is None:
            raise DataError(
                "converting currencies needs conversion dates; path input has none", kind="journeys"
            )
        target = out.setdefault(currency, np.zeros(j.n_journeys, dtype=np.int64))
        for row in np.flatnonzero(mine & (j.value != 0)).tolist():
            on = (_EPOCH + timedelta(microseconds=int(j.conversion_times[row]))).date()
            converted = fx.convert(Money.from_minor(int(j.value[row]), code), currency, on)
            target[row] += converted.to_minor()
    return out


def _money_split(
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


def _split_journeys(units: IntArray, w: FloatArray, j: Journeys, order_key: IntArray) -> IntArray:
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


def attribute(
    data: Any,
    *,
    model: str | AttributionModel,
    key: str | None = None,
    per_touch: bool = False,
    fx: FxTable | None = None,
    currency: str | None = None,
    **params: Any,
) -> Attribution:
    """Credit conversions and their value to the keys of the touches that led to them.

    Args:
        data: :class:`Journeys`; touchpoint records or a :class:`~smarketing.records.Dataset` (conversions
            from won deals); or a frame: ChannelAttribution's aggregated paths (a ``path`` column with
            ``total_conversions``, ``total_null``, ``total_conversion_value``), or touches in long form (a
            ``journey`` column with ``time``, the key, ``converted`` and optional ``value``, ``currency``).
            For other column names build :class:`Journeys` explicitly.
        model: A model name (see :func:`available_models`) or an
            :class:`~smarketing.typing.AttributionModel`.
        key: The touch column that gets credit (default ``channel``; fixed by prebuilt journeys).
        per_touch: Also return each touch's credit in :attr:`Attribution.touches`, with its value split
            exactly within its journey. Markov needs ``convention="journey"`` for it; Shapley has none.
        fx: Exchange rates, with ``currency``: convert every journey's value at its conversion date.
        currency: Report all value in this currency (needs ``fx`` when other currencies are present).
        **params: Model parameters:

            * ``position``, ``j_shaped``, ``inverse_j``: ``first``, ``last`` (shares; the middle gets the
              rest; two-touch journeys split in the first:last proportion).
            * ``w_shaped``, ``full_path``: ``weights`` (one per milestone: first touch, lead created,
              opportunity created[, deal won]; the rest is spread over the other touches), ``lead_stage``
              (default ``"lead"``), ``opportunity_stage`` (default ``"opportunity"``).
            * ``time_decay``: ``half_life`` (a ``timedelta`` or days; default 7 days).
            * ``custom``: ``weights``: a function ``(position, length) -> weight`` or a table
              ``{length: [weights]}``.
            * ``markov``: ``order`` (default 1), ``convention``: ``"global"`` (default; each key's share of
              all conversions and value is its removal effect over the sum of removal effects, as
              ChannelAttribution) or ``"journey"`` (each converting journey is split over its touches in
              proportion to their keys' removal effects, as DP6's marketing-attribution-models).
            * ``shapley``: ``coalition`` (``"conversions"``, default: a coalition is worth the conversions
              of journeys whose keys all lie in it; or ``"rate"``: the sum of the conversion rates of those
              key sets, counting non-converting journeys), ``method`` (``"auto"``: exact up to 20 keys,
              sampled above; ``"exact"``; ``"sampling"``), ``samples`` (random key orders of the sampling
              estimator, default 1000) and ``seed``.

    Returns:
        The credits per key, and the model's own results (removal effects, Shapley values).

    Raises:
        DataError: Bad input (empty data, missing columns or values, naive times, negative or NaN counts,
            negative value), named by place.
        CurrencyMismatchError: Value in several currencies where one is needed, without ``fx``.
        PluginError: An unknown model name, or a plugin that failed to load.
        ValueError: A bad model parameter (``order < 1``, shares outside 0..1, ...).

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame(
        ...     {
        ...         "path": ["ads > demo", "ads > email > demo"],
        ...         "total_conversions": [1, 1],
        ...         "total_null": [1, 2],
        ...     }
        ... )
        >>> attribute(paths, model="position").conversions
        {'ads': 0.9, 'demo': 0.9, 'email': 0.2}
        >>> attribute(paths, model="markov", order=0)
        Traceback (most recent call last):
        ...
        ValueError: markov: order must be an integer >= 1, not 0
    """
    resolved, name = _resolve(model)
    j = _journeys(data, key)
    if j.n_journeys == 0:
        raise DataError("no journeys: the data is empty", kind="journeys")
    if name in _HEURISTIC_PARAMS or name in ("markov", "shapley"):
        allowed = _HEURISTIC_PARAMS.get(name) or {
            "markov": frozenset({"order", "convention"}),
            "shapley": frozenset({"coalition", "method", "samples", "seed"}),
        }.get(name, frozenset())
        unknown = sorted(set(params) - allowed)
        if unknown and isinstance(resolved, str):
            raise ValueError(
                f"{name}: unknown parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(allowed)) or 'none'}"
            )
    values = _values(j, fx, currency)
    keys = j.keys
    total_conv = float(j.conversions.sum())
    totals = {c: int(v.sum()) for c, v in values.items()}
    extra: dict[str, Any] = {}
    touch_w: FloatArray | None = None
    table_touch_w: FloatArray | None = None
    weighed, kept = j, None  # the journeys touch_w belongs to, and which of j's they are (None: all)
    if isinstance(resolved, str) and resolved == "markov":
        order = params.get("order", 1)
        convention = params.get("convention", "global")
        if convention not in ("global", "journey"):
            raise ValueError(f"markov: convention must be 'global' or 'journey', not {convention!r}")
        chain = _markov(j, order, values)
        extra = {
            "removal_effects": dict(zip(keys, chain.removal.tolist(), strict=True)),
            "value_removal_effects": {
                c: dict(zip(keys, r.tolist(), strict=True)) for c, r in chain.value_removal.items()
            },
            "conversion_probability": chain.probability,
            "transitions": chain.transitions,
        }
        if convention == "journey":
            weighed, kept = (j, None) if per_touch else _earning(j)
            touch_w = _normalise(weighed, chain.removal[weighed.codes])
        else:
            if per_touch:
                raise ValueError("markov: per-touch credit needs convention='journey'")
            re_sum = chain.removal.sum()
            conv_credit = chain.removal / re_sum * total_conv if re_sum > 0 else np.zeros(len(keys))
            value_weights = {c: chain.value_removal[c] for c in values}
    elif isinstance(resolved, str) and resolved == "shapley":
        if per_touch:
            raise ValueError("shapley: values belong to keys, not touches; per-touch credit is not available")
        seed = params.get("seed", 0)
        result = _shapley(
            j,
            values=values,
            coalition=params.get("coalition", "conversions"),
            method=params.get("method", "auto"),
            samples=params.get("samples", 1000),
            seed=seed,
        )
        phi_sum = result.values.sum()
        conv_credit = (
            np.clip(result.values, 0, None) / phi_sum * total_conv if phi_sum > 0 else np.zeros(len(keys))
        )
        value_weights = result.value_values
        extra = {"shapley_values": dict(zip(keys, result.values.tolist(), strict=True))}
        if result.interval is not None:
            extra["shapley_interval"] = {
                k: (float(lo), float(hi)) for k, (lo, hi) in zip(keys, result.interval.tolist(), strict=True)
            }
    elif isinstance(resolved, str) and resolved in _TABLE_MODELS:
        table = _weight_table(j, resolved, params)
        conv_credit = _table_sums(j, table, j.conversions, "conversions")
        value_weights = {
            c: _table_sums(j, table, v.astype(np.float64), None if fx else ("value", currency, c))
            for c, v in values.items()
        }
        if per_touch:
            table_touch_w = table.reshape(-1)[_cells(j)]
    else:
        if isinstance(resolved, str):
            weighed, kept = (j, None) if per_touch else _earning(j)
            raw = _heuristic(weighed, resolved, params)
        else:
            raw = _plugin_weights(resolved, name, j, params)
        touch_w = _normalise(weighed, raw)
    touches = None
    if touch_w is not None:
        # Only touches of journeys with conversions or value add anything; the sums skip zeros alone.
        lengths = weighed.lengths()
        conv_credit = _key_sums(weighed, touch_w * np.repeat(weighed.conversions, lengths))
        value_weights = {
            c: _key_sums(
                weighed, touch_w * np.repeat((v if kept is None else v[kept]).astype(np.float64), lengths)
            )
            for c, v in values.items()
        }
        if per_touch:
            touches = _touch_frame(j, touch_w, values)
    elif table_touch_w is not None:
        touches = _touch_frame(j, table_touch_w, values)
    credit_value = {c: _money_split(totals[c], c, value_weights[c], keys) for c in sorted(values)}
    return Attribution(
        model=name,
        key=j.key,
        params=params,
        conversions=dict(zip(keys, conv_credit.tolist(), strict=True)),
        value=credit_value,
        total_conversions=total_conv,
        total_value={c: Money.from_minor(t, c) for c, t in sorted(totals.items())},
        touches=touches,
        **extra,
    )


def _key_sums(j: Journeys, weights: FloatArray) -> FloatArray:
    return np.asarray(np.bincount(j.codes, weights=weights, minlength=len(j.keys)), dtype=np.float64)


def _touch_frame(j: Journeys, w: FloatArray, values: Mapping[str, IntArray]) -> pl.DataFrame:
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
        split = _split_journeys(units, w, j, j.codes.astype(np.int64))
        # Cast to the currency's scale first: the division then keeps it (exact, as 10**places divides).
        amounts = pl.Series(f"value_{code}", split).cast(pl.Decimal(38, places)) / 10**places
        out = out.with_columns(amounts.alias(f"value_{code}"))
    return out


# --------------------------------------------------------------------------------------------------
# compare


@attrs.frozen(eq=False)
class Comparison:
    """Several models' credits side by side.

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1]})
        >>> compare(paths, models=["first", "last"]).to_frame().rows()
        [('a', 1.0, 0.0), ('b', 1.0, 2.0)]
    """

    results: tuple[Attribution, ...]
    """One result per model, in the order asked."""
    labels: tuple[str, ...]
    """Column labels: the model name, with its parameters where several share a name."""

    def to_frame(self, metric: Literal["conversions", "share", "value"] = "conversions") -> pl.DataFrame:
        """One row per key, one column per model.

        Args:
            metric: ``conversions`` (default), ``share`` of conversions, or ``value`` (one currency only).

        Returns:
            A polars frame; value columns are Decimal.
        """
        key = self.results[0].key
        keys = sorted({k for r in self.results for k in r.keys})
        columns = [pl.Series(key, keys, dtype=pl.String)]
        for label, result in zip(self.labels, self.results, strict=True):
            if metric == "conversions":
                columns.append(
                    pl.Series(label, [result.conversions.get(k, 0.0) for k in keys], dtype=pl.Float64)
                )
            elif metric == "share":
                share = result.share()
                columns.append(pl.Series(label, [share.get(k, 0.0) for k in keys], dtype=pl.Float64))
            elif metric == "value":
                if len(result.currencies) != 1:
                    raise CurrencyMismatchError(
                        f"{label}: value comparison needs exactly one currency, found {result.currencies}; "
                        "pass fx= and currency="
                    )
                code = result.currencies[0]
                places = Money.zero(code).minor_units
                amounts = [
                    result.value[code][k].amount if k in result.value[code] else Decimal(0) for k in keys
                ]
                columns.append(pl.Series(label, amounts, dtype=pl.Decimal(38, places)))
            else:
                raise ValueError(f"metric must be 'conversions', 'share' or 'value', not {metric!r}")
        return pl.DataFrame(columns)

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        frame = self.to_frame("share")
        headers = list(frame.columns)
        rows = [[str(r[0]), *(f"{x:.1%}" for x in r[1:])] for r in frame.rows()]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        first = self.results[0]
        title = (
            f"Comparison(key={first.key!r}, models={list(self.labels)}, "
            f"conversions={first.total_conversions:g}) share of conversions\n"
        )
        return title + _text_table(headers, rows, _TEXT_ROWS)

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return "<p>Share of conversions by model</p>" + _display.html_table(
            headers, rows, max_rows=_HTML_ROWS
        )


def compare(
    data: Any,
    *,
    models: Iterable[str | AttributionModel | tuple[str, Mapping[str, Any]]],
    key: str | None = None,
    fx: FxTable | None = None,
    currency: str | None = None,
) -> Comparison:
    """Run several models on the same journeys (built once) and lay their credits side by side.

    Args:
        data: Anything :func:`attribute` accepts.
        models: Model names, model objects, or ``(name, params)`` pairs such as ``("markov", {"order": 2})``.
        key: The touch column that gets credit.
        fx: Exchange rates (see :func:`attribute`).
        currency: Report value in this currency.

    Returns:
        A :class:`Comparison`; ``to_frame()`` has one column per model.

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame({"path": ["a > b > c"], "total_conversions": [10]})
        >>> compare(
        ...     paths, models=["first", "linear", ("position", {"first": 0.5, "last": 0.5})]
        ... ).to_frame().rows()
        [('a', 10.0, 3.333..., 5.0), ('b', 0.0, 3.333..., 0.0), ('c', 0.0, 3.333..., 5.0)]
    """
    j = _journeys(data, key)
    results: list[Attribution] = []
    labels: list[str] = []
    for spec in models:
        if isinstance(spec, tuple):
            name, params = spec
            result = attribute(j, model=name, fx=fx, currency=currency, **dict(params))
            label = result.model + (
                "(" + ", ".join(f"{k}={_plain(v)}" for k, v in dict(params).items()) + ")" if params else ""
            )
        else:
            result = attribute(j, model=spec, fx=fx, currency=currency)
            label = result.model
        results.append(result)
        labels.append(label)
    if not results:
        raise ValueError("compare: models is empty")
    return Comparison(results=tuple(results), labels=tuple(labels))
