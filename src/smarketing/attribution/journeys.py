"""Journeys: the one columnar form every attribution model runs on, and how it is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.attribution import _touches
from smarketing.attribution._kernel import (
    NEVER,
    IntArray,
    collect,
    count_column,
    eager,
    frozen_array,
    no_nulls,
    split_paths,
)
from smarketing.attribution._value import path_values, won_deals_per_lead
from smarketing.errors import DataError
from smarketing.frames import as_lazy, check_aware, of_kind
from smarketing.money import FxTable
from smarketing.records import Dataset
from smarketing.typing import FloatArray

__all__ = ["Journeys"]


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
        frame = eager(data, "paths", required=[path, conversions])
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
        keys, codes, lengths = split_paths(text, sep, path)
        conv = count_column(frame, conversions, "paths")
        null = count_column(frame, nulls, "paths") if nulls is not None else np.zeros(n_rows)
        values, cur_index, currencies = path_values(frame, value, currency)
        offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        journeys = cls(
            key="channel",
            keys=keys,
            codes=frozen_array(codes, np.int32),
            offsets=frozen_array(offsets, np.int64),
            ids=text.alias("journey"),
            conversions=frozen_array(conv, np.float64),
            nulls=frozen_array(null, np.float64),
            value=None if values is None else frozen_array(values, np.int64),
            currency=None if cur_index is None else frozen_array(cur_index, np.int16),
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
        spec = _touches.TouchColumns(
            journey=journey,
            time=time,
            key=key,
            converted=converted,
            nulls=nulls,
            value=value,
            currency=currency,
            touch=touch,
            conversion_time=conversion_time,
        )
        return cls._long_form(data, spec, stage_events)

    @classmethod
    def _long_form(cls, data: Any, spec: _touches.TouchColumns, stage_events: Any) -> Journeys:
        """Journeys from touches in long form: the work of :meth:`from_frame` and :meth:`from_touchpoints`.

        The touch columns named by ``spec`` are selected and checked in one pass of the engine, the rows
        are put in journey order, and the journey-level columns are reduced per journey (see
        :mod:`smarketing.attribution._touches`).
        """
        lf, cols, currencies = _touches.touch_columns(data, spec)
        # One pass of the engine in input order; sorting and coding happen on the collected columns.
        unsorted = collect(lf.select(*cols))
        keys, touch_codes = _touches.key_codes(unsorted.get_column("_key"))
        layout = _touches.journey_layout(unsorted, touch_codes, spec.journey)
        per = _touches.journey_columns(unsorted, layout, spec, currencies)
        stages = _stage_times(stage_events, layout.ids) if stage_events is not None else {}
        journeys = cls(
            key=spec.key,
            keys=keys,
            codes=frozen_array(layout.rows["_k"], np.int32),
            offsets=frozen_array(layout.offsets, np.int64),
            ids=layout.ids,
            conversions=frozen_array(per.conversions, np.float64),
            nulls=frozen_array(per.nulls, np.float64),
            value=None if per.value is None else frozen_array(per.value, np.int64),
            currency=None if per.currency is None else frozen_array(per.currency, np.int16),
            currencies=currencies,
            times=frozen_array(per.times, np.int64),
            conversion_times=frozen_array(per.conversion_times, np.int64),
            touch_ids=_touch_ids(unsorted, layout, spec.touch),
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
                :class:`~smarketing.records.Dataset` or a mapping of frames by record kind (its
                touchpoints, deals and stage events are used), or a
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
        if isinstance(touchpoints, Dataset | Mapping):
            deals = of_kind(touchpoints, "deals") if deals is None else deals
            stage_events = of_kind(touchpoints, "stage_events") if stage_events is None else stage_events
        lf = as_lazy(touchpoints, "touchpoints", required=["id", "lead_id", "time", key])
        check_aware(lf, ["time"], kind="touchpoints")
        no_nulls(lf, key, "id", "touchpoints")
        won = won_deals_per_lead(deals, fx, currency)
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
        valued = won is not None and "_value" in won.columns
        spec = _touches.TouchColumns(
            journey="lead_id",
            time="time",
            key=key,
            converted="_conv",
            value="_value" if valued else None,
            currency="_currency" if valued else None,
            touch="id",
            minor_units=True,
        )
        return cls._long_form(lf.to_native(), spec, stage_events)


def _touch_ids(unsorted: pl.DataFrame, layout: _touches.Layout, touch: str | None) -> pl.Series | None:
    """The touch ids in journey order, when the touches have them."""
    return unsorted.get_column("_id").gather(layout.order).alias(touch) if touch is not None else None


def _stage_times(stage_events: Any, ids: pl.Series) -> dict[str, IntArray]:
    """First entry time of every stage per journey (``NEVER`` where the journey never entered it)."""
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
        times = np.full(len(ids), NEVER, dtype=np.int64)
        times[part.get_column("_row").to_numpy()] = part.get_column("_t").to_numpy()
        times.flags.writeable = False
        out[str(stage[0])] = times
    return out
