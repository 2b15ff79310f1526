"""Dataframe-agnostic plumbing shared by the analysis kernels.

Every analysis accepts its data as records, as a :class:`~smarketing.records.Dataset`, or as a dataframe of
any library narwhals supports. :func:`as_lazy` turns all of these into one narwhals ``LazyFrame`` with checked
columns, so each kernel is written once against the narwhals lazy API:

- lazy inputs (polars ``LazyFrame``, DuckDB relations, PySpark frames) stay on their engine;
- eager inputs (polars, pandas, pyarrow) run on polars' lazy engine, the embedded default (narwhals on
  pyarrow gave wrong ordered-window results when measured, so it is not a target);
- records and datasets are converted to their canonical columns first.

Examples:
    >>> from datetime import datetime, timezone
    >>> from smarketing.records import StageEvent
    >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    >>> lf = as_lazy([StageEvent(lead_id="L1", to="mql", time=t)], "stage_events", required=["lead_id", "to"])
    >>> lf.collect().to_native().select("lead_id", "from", "to").rows()
    [('L1', None, 'mql')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import narwhals as nw
import polars as pl

from smarketing.errors import DataError
from smarketing.records import RECORD_KINDS, Dataset, Record
from smarketing.records.schema import Rule, check

__all__ = ["as_lazy", "check_aware"]

# Inputs that are already lazy keep their engine; everything else runs on polars' lazy engine.
_LAZY_NATIVE = (pl.LazyFrame,)


def as_lazy(
    data: Any, kind: str, *, required: Sequence[str] = (), columns: Mapping[str, Rule] | None = None
) -> nw.LazyFrame[Any]:
    """Normalise analysis input to a narwhals ``LazyFrame`` in the canonical columns of ``kind``.

    A dataframe is checked once here against the rules of its record model (see
    :mod:`smarketing.records.schema`): dtypes, missing values of required fields, enumerated values, ids
    (pattern, no duplicates), the years of times and days, and money (exact dtypes, digits, the currency's
    minor unit). Integer id columns are cast to text. A ``Dataset`` was checked when it was built, and
    records by their model.

    Args:
        data: A ``Dataset`` (its ``kind`` frame is used), a sequence of records of that kind, or a
            dataframe of any library narwhals supports, in the canonical long form.
        kind: The record kind, a key of :data:`smarketing.records.RECORD_KINDS` (``"stage_events"``, ...).
        required: Columns the caller needs; a missing one is a :class:`~smarketing.errors.DataError`.
        columns: For a dataframe that is not a record kind (attribution's touches), the rules of its
            columns; ``kind`` then only names the frame in messages.

    Raises:
        DataError: A required column is missing, a value or dtype breaks its rule, or a record is of the
            wrong kind; the message names the kind, the column and an example record id.
        TypeError: ``data`` is none of the accepted inputs (with ``columns``: not a dataframe).
    """
    if kind not in RECORD_KINDS and columns is None:
        raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
    if columns is not None and (
        isinstance(data, Dataset) or (isinstance(data, Sequence) and not isinstance(data, str | bytes))
    ):
        # A frame that is not a record kind (attribution's touches) has no records to build it from.
        raise TypeError(f"{kind}: expected a dataframe here, not {type(data).__name__}")
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
    lazy: nw.LazyFrame[Any] = (
        frame.lazy()
        if isinstance(frame, nw.LazyFrame) or isinstance(native, _LAZY_NATIVE)
        else frame.lazy(backend="polars")
    )
    missing = [c for c in required if c not in lazy.collect_schema().names()]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", kind=kind)
    return lazy if checked else check(lazy, kind, columns)


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
