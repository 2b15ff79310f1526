"""Dataframe-agnostic plumbing shared by the analysis kernels.

Every analysis accepts its data as records, as a :class:`~smarketing.records.Dataset`, or as a dataframe of
any library narwhals supports. :func:`as_lazy` turns all of these into one narwhals ``LazyFrame`` with checked
columns, so each kernel is written once against the narwhals lazy API:

- a polars ``LazyFrame`` stays lazy;
- eager inputs (polars, pandas, pyarrow) run on polars' lazy engine, the embedded default (narwhals on
  pyarrow gave wrong ordered-window results when measured, so it is not a target);
- other lazy engines (DuckDB relations) are read into polars once, at the boundary, unless the kernel is
  written for any engine (the scorecard's): it keeps them on their engine and reads only its result
  (:func:`collect`);
- records, datasets and mappings of frames by record kind give the frame of the kind asked for.

Examples:
    >>> from datetime import datetime, timezone
    >>> from smarketing.records import StageEvent
    >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    >>> lf = as_lazy([StageEvent(lead_id="L1", to="mql", time=t)], "stage_events", required=["lead_id", "to"])
    >>> lf.collect().to_native().select("lead_id", "from", "to").rows()
    [('L1', None, 'mql')]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import narwhals as nw
import polars as pl

from smarketing.errors import DataError
from smarketing.records import RECORD_KINDS, Dataset, Record
from smarketing.records.schema import Rule, check

__all__ = ["as_lazy", "check_aware", "collect", "of_kind"]


def as_lazy(
    data: Any,
    kind: str,
    *,
    required: Sequence[str] = (),
    columns: Mapping[str, Rule] | None = None,
    reads: Sequence[str] | None = None,
    once: bool = False,
    engine: bool = False,
) -> nw.LazyFrame[Any]:
    """Normalise analysis input to a narwhals ``LazyFrame`` in the canonical columns of ``kind``.

    Accepted, with the same result for the same data: a ``Dataset`` (its ``kind`` frame), a mapping of
    frames by record kind (``{"leads": ..., "stage_events": ...}``; a kind it does not hold is empty, as in a
    ``Dataset``, and a key that is no record kind is refused), a sequence of records of that kind, or a
    dataframe of any library narwhals supports, in the canonical long form: polars (eager or lazy), pandas,
    pyarrow, a DuckDB relation. Everything runs on polars' lazy engine: a polars ``LazyFrame`` stays lazy,
    eager frames are made lazy, and other lazy engines (DuckDB relations) are read into polars once, here,
    only the columns the caller reads (the kernels are written and measured on polars). A kernel written
    for any engine asks for ``engine=True`` and reads its result with :func:`collect`.

    A dataframe is checked once here against the rules of its record model (see
    :mod:`smarketing.records.schema`): dtypes, missing values of required fields, enumerated values, ids
    (pattern, no duplicates), the years of times and days, and money (exact dtypes, digits, the currency's
    minor unit). A ``Dataset`` was checked when it was built, and records by their model. The check makes
    every library's values the same, by one rule for pandas-style values:

    - times are converted to UTC (the instant is kept; a DuckDB relation's zone is its connection's); a
      frame kept on its engine keeps the engine's zone (a zone is never converted on an engine: DuckDB
      refuses any zone but its connection's), and :func:`collect` gives its results in UTC;
    - NaN and None are null (in an object, string or float column);
    - integer ids become text (``123`` -> ``"123"``), and so do float ids that are whole numbers (pandas
      gives ``123.0`` for an integer id column with a missing value); an id such as ``12.5`` is refused;
      a float count that is a whole number becomes an integer the same way;
    - a date column of naive datetimes at midnight (pandas has no date type) becomes dates; a time of day
      there is refused;
    - money as floats is refused, naming the column and how to fix it (Decimal, whole units in an integer
      column, or text read as Decimal): a binary float cannot hold ``0.10`` exactly, and the rounding
      would be a guess.

    Args:
        data: What is accepted (above).
        kind: The record kind, a key of :data:`smarketing.records.RECORD_KINDS` (``"stage_events"``, ...).
        required: Columns the caller needs; a missing one is a :class:`~smarketing.errors.DataError`.
        columns: For a dataframe that is not a record kind (attribution's touches), the rules of its
            columns; ``kind`` then only names the frame in messages.
        reads: The columns the caller reads (with ``required``): the frame is narrowed to those of them
            it has, in its own order, before it is checked, so a lazy frame (``pl.scan_parquet``) reads and
            checks only those columns. A column the caller never reads cannot change its result, so its
            values are not checked here. Default: every column.
        once: Read a polars ``LazyFrame`` (narrowed by ``reads``) into memory before checking it, so the
            check and the caller's query do not each scan the source (a ``pl.scan_parquet`` file is
            decoded once). For callers that read the frame more than once; it costs the memory of the
            columns read.
        engine: Keep a lazy frame of another engine (a DuckDB relation) on its engine, checked there, so
            that the caller's filters and aggregates run where the data is (the scorecard's do). The caller
            then takes no time stamps, converts no zones and joins no polars frame before it reads its
            result with :func:`collect`. Default: read such a frame into polars here.

    Raises:
        DataError: A required column is missing, a value or dtype breaks its rule, a record is of the
            wrong kind, or a mapping holds a key that is no record kind; the message names the kind, the
            column and an example record id.
        TypeError: ``data`` is none of the accepted inputs (with ``columns``: not a dataframe).

    Examples:
        >>> import pandas as pd
        >>> created = pd.to_datetime(["2026-10-01"] * 2, utc=True)
        >>> leads = pd.DataFrame({"id": [101, 102], "created_at": created})
        >>> as_lazy({"leads": leads}, "leads").collect().to_native().get_column("id").to_list()
        ['101', '102']
        >>> deals = pd.DataFrame({"id": ["D1"], "amount": [6000.0], "amount_currency": ["EUR"]})
        >>> as_lazy(deals, "deals")
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: deals: amount: must be a Decimal or integer column, not Float64; ...
    """
    if kind not in RECORD_KINDS and columns is None:
        raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
    if columns is not None and (
        isinstance(data, Dataset | Mapping)
        or (isinstance(data, Sequence) and not isinstance(data, str | bytes))
    ):
        # A frame that is not a record kind (attribution's touches) has no records to build it from.
        raise TypeError(f"{kind}: expected a dataframe here, not {type(data).__name__}")
    if isinstance(data, Mapping):
        data = of_kind(data, kind)
        if data is None:
            data = _empty()  # a kind the mapping does not hold is empty, as in a Dataset
    checked = False
    if isinstance(data, Dataset) and columns is None:
        native: Any = getattr(data, kind)
        checked = True
    elif columns is None and isinstance(data, Sequence) and not isinstance(data, str | bytes):
        native = _records_frame(data, kind)
        checked = True
    else:
        native = data
    try:
        frame = nw.from_native(native)
    except TypeError:
        accepted = "a dataframe" if columns is not None else "records, a Dataset or a dataframe"
        raise TypeError(f"{kind}: expected {accepted} narwhals supports, not {type(data).__name__}") from None
    lazy: nw.LazyFrame[Any]
    lazy = frame.lazy() if isinstance(frame, nw.LazyFrame) else frame.lazy(backend="polars")
    names = lazy.collect_schema().names()
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", kind=kind)
    if reads is not None:
        wanted = {*reads, *required}
        lazy = lazy.select([c for c in names if c in wanted])
    if lazy.implementation is not nw.Implementation.POLARS and not engine:
        lazy = lazy.collect(backend="polars").lazy()  # DuckDB and other lazy engines: read once, here
    if once and not checked and isinstance(native, pl.LazyFrame):
        lazy = lazy.collect(backend="polars").lazy()
    return lazy if checked else check(lazy, kind, columns)


def collect(frame: nw.LazyFrame[Any]) -> pl.DataFrame:
    """Run a kernel's query on its engine and read the result into polars, times in UTC.

    The boundary of a kernel that kept its input on its engine (``as_lazy(..., engine=True)``): an engine
    gives times in its own zone (DuckDB in its connection's), so they are converted here, in polars, to the
    same instants in UTC.

    Examples:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> tokyo = pl.LazyFrame({"time": [t]}).select(pl.col("time").dt.convert_time_zone("Asia/Tokyo"))
        >>> collect(nw.from_native(tokyo)).get_column("time").to_list()
        [datetime.datetime(2026, 10, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
    """
    native = frame.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    zoned = [
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in native.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")
    ]
    return native.with_columns(zoned) if zoned else native


def of_kind(data: Dataset | Mapping[str, Any], kind: str) -> Any:
    """The part of a ``Dataset`` or of a mapping of frames by record kind that holds ``kind``.

    Returns ``None`` when a mapping holds no ``kind`` (a ``Dataset`` always has a frame, maybe empty).

    Raises:
        DataError: The mapping has a key that is no record kind (a typo would drop its frame silently).

    Examples:
        >>> of_kind({"leads": [], "stage_events": []}, "deals") is None
        True
        >>> of_kind({"lead": []}, "leads")
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: unknown record kind(s) 'lead'; known: accounts, leads, ...
    """
    if isinstance(data, Dataset):
        return getattr(data, kind)
    unknown = sorted(str(k) for k in data if k not in RECORD_KINDS)
    if unknown:
        raise DataError(
            f"unknown record kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(RECORD_KINDS)}"
        )
    return data.get(kind)


@functools.cache
def _empty() -> Dataset:
    return Dataset()


def _records_frame(records: Iterable[Any], kind: str) -> pl.DataFrame:
    model = RECORD_KINDS[kind]
    items = list(records)
    for index, r in enumerate(items):
        if not isinstance(r, model):
            got = r.kind if isinstance(r, Record) else type(r).__name__
            raise DataError(f"expected a {model.kind} record, got {got}", record=f"#{index}", kind=kind)
    frame: pl.DataFrame = Dataset.from_records(**{kind: items}).frames()[kind]
    return frame


def check_aware(frame: nw.LazyFrame[Any], columns: Sequence[str], *, kind: str) -> None:
    """Raise :class:`~smarketing.errors.DataError` if a datetime column has no time zone.

    Examples:
        >>> from datetime import datetime
        >>> naive = nw.from_native(pl.LazyFrame({"time": [datetime(2026, 1, 1)]}))
        >>> check_aware(naive, ["time"], kind="stage_events")
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: stage_events: time: naive datetimes are ambiguous; ...
    """
    schema = frame.collect_schema()
    for column in columns:
        dtype = schema.get(column)
        if isinstance(dtype, nw.Datetime) and dtype.time_zone is None:
            raise DataError(
                "naive datetimes are ambiguous; attach a time zone (e.g. convert to UTC)",
                field=column,
                kind=kind,
            )
