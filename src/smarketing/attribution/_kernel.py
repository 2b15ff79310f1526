"""The columnar kernels under :class:`~smarketing.attribution.Journeys` (private; tested directly).

String coding by hash (:func:`dictionary_codes`), path splitting (:func:`split_paths`), the journey order of
touch rows (:func:`journey_order`) and the small frame helpers the constructors share. Nothing here knows the
``Journeys`` class: these functions take and return arrays and polars frames.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.typing import FloatArray

IntArray = npt.NDArray[np.int64]


US = 1_000_000  # microseconds per second
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def frozen_array(values: npt.ArrayLike, dtype: type[np.generic]) -> Any:
    array = np.ascontiguousarray(values, dtype=dtype)
    array.flags.writeable = False
    return array


def collect(lf: nw.LazyFrame[Any]) -> pl.DataFrame:
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


def journey_order(frame: pl.DataFrame, codes: npt.NDArray[np.int32]) -> tuple[IntArray, dict[str, Any]]:
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


def eager(data: Any, kind: str, *, required: Sequence[str]) -> pl.DataFrame:
    lf = as_lazy(data, kind, required=required, columns={})
    frame = lf.collect(backend="polars").to_native()
    assert isinstance(frame, pl.DataFrame)
    return frame


def no_nulls(lf: nw.LazyFrame[Any], column: str, id_column: str, kind: str) -> None:
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


def split_paths(
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
                parts.append((chunk_lengths, *dictionary_codes(flat, hashes)))
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


def dictionary_codes(flat: pl.Series, hashes: Any = None) -> tuple[npt.NDArray[np.int32], pl.Series]:
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


def count_column(frame: pl.DataFrame, column: str, kind: str) -> FloatArray:
    series = frame.get_column(column)
    if series.dtype == pl.Boolean or series.dtype.is_numeric():
        values = series.cast(pl.Float64).fill_null(0.0).to_numpy()
    else:
        raise DataError(f"must be numeric or boolean, not {series.dtype}", kind=kind, field=column)
    check_counts(values, frame.get_column(frame.columns[0]), column, kind, rows=True)
    return np.asarray(values, dtype=np.float64)


def check_counts(values: FloatArray, ids: pl.Series, column: str, kind: str, *, rows: bool = False) -> None:
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        index = int(bad[0])
        what = "NaN" if np.isnan(values[index]) else repr(float(values[index]))
        record = f"row {index}" if rows else str(ids[index])
        raise DataError(f"must be a finite number >= 0, not {what}", kind=kind, record=record, field=column)


NEVER = np.iinfo(np.int64).min
