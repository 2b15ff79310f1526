"""The allocation core: :func:`~smarketing.money.allocate` on integer arrays and frames (private).

Largest remainder in integer minor units, ties to the smaller key, a negative total split as the mirror
image of the positive one; every split of the kernel goes through here, and the laws tests check it
against :func:`~smarketing.money.allocate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import _money
from smarketing.rewards._columns import _I64, _MAX_PRODUCT, _text_codes

_BIG_GROUP = 4096  # allocation groups at least this large pick their top remainders by partition, no sort
_GRID_WIDTH = 6  # allocations over at most this many recipients per total rank them pairwise, no sort


#: Exact rate ratios and half-to-even integer division: the shared money intake's (with attribution).
_ratio = _money.exact_ratio
_half_even_div = _money.half_even_div


def _allocate_frame(
    frame: pl.DataFrame, *, by: Sequence[str], key: str, weight: str, total: str, out: str
) -> pl.DataFrame:
    """:func:`~smarketing.money.allocate`, vectorised: split ``total`` over each group's rows by ``weight``.

    Every row of a group carries the group's ``total`` (integer minor units, any sign) and an integer
    ``weight`` >= 0; the group's weights must not all be zero. Largest remainder with ties to the smaller
    ``key``, and a negative total split as the mirror image of the positive one: for any group this gives
    exactly what ``allocate(Money.from_minor(total), {key: weight})`` gives (a Hypothesis test checks it).
    The rows come back grouped (in no promised order).
    """
    if frame.is_empty():
        return frame.with_columns(pl.lit(0, dtype=_I64).alias(out))
    group = list(by)
    f = frame.sort(group)
    # Group boundaries of the sorted frame, then integer arithmetic in numpy: one sort, no windows.
    changed = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group]).fill_null(True)
    starts = np.flatnonzero(f.select(changed).to_series().to_numpy())
    keys = f.get_column(key)
    if not keys.dtype.is_integer():
        keys, _ = _text_codes(keys)
    units = _largest_remainder(
        starts,
        f.get_column(total).to_numpy().astype(np.int64),
        f.get_column(weight).to_numpy().astype(np.int64),
        keys.to_numpy(),
        where=lambda row: str(f.row(row, named=True)),
    )
    return f.with_columns(pl.Series(out, units, dtype=_I64))


def _largest_remainder(
    starts: np.ndarray,
    totals: np.ndarray,
    weights: np.ndarray,
    keys: np.ndarray | None,
    *,
    where: Any = None,
) -> np.ndarray:
    """The allocation core on arrays: rows grouped (group ``g`` is ``starts[g]:starts[g + 1]``).

    Every row carries its group's total; ``keys`` breaks ties (the smaller first); ``keys=None`` means
    the rows of each group are already in key order, which lets one stable sort on a single integer do.
    """
    height = totals.size
    if not height:
        return np.zeros(0, dtype=np.int64)
    weights = weights.astype(np.int64, copy=False)
    lengths = np.diff(np.append(starts, height))
    largest = max(abs(int(totals.max())), abs(int(totals.min())))
    if largest * int(weights.max()) >= _MAX_PRODUCT:
        raise DataError(f"amounts too large to split exactly ({largest} minor units)", kind="rewards")
    if (weights < 0).any():
        raise DataError("a weight is negative", kind="rewards")
    weight_sum = np.add.reduceat(weights, starts)
    if (weight_sum <= 0).any():
        first = int(starts[np.flatnonzero(weight_sum <= 0)[0]])
        raise DataError(
            f"cannot split over weights that are all zero ({where(first) if where else first})",
            kind="rewards",
        )
    if keys is None and int(lengths.max()) >= _BIG_GROUP:
        # Large groups (a participant's deals of a period) one at a time, on their own rows; the many
        # small groups together, below.
        out = np.empty(height, dtype=np.int64)
        big = lengths >= _BIG_GROUP
        for g in np.flatnonzero(big):
            lo, hi = int(starts[g]), int(starts[g] + lengths[g])
            out[lo:hi] = _split_one(int(totals[lo]), weights[lo:hi], int(weight_sum[g]))
        if not big.all():
            rows = np.flatnonzero(~np.repeat(big, lengths))
            sizes = lengths[~big]
            out[rows] = _largest_remainder(np.cumsum(sizes) - sizes, totals[rows], weights[rows], None)
        return out
    width = height // starts.size
    if keys is None and 1 < width <= _GRID_WIDTH and (lengths == width).all():
        # Groups of the same few rows (a split of every deal over its members): ranked on a grid, no sort.
        return _ranked_grid(totals[starts], weights.reshape(-1, width), weight_sum[:, None]).ravel()
    index = np.repeat(np.arange(starts.size), lengths)
    magnitude = np.abs(totals)
    quotient, remainder = np.divmod(magnitude * weights, weight_sum[index])
    left = magnitude[starts] - np.add.reduceat(quotient, starts)
    biggest = int(weight_sum.max())
    if keys is None and starts.size * (biggest + 1) < _MAX_PRODUCT:
        # Groups ascending, remainders descending, then (stable) the rows' own key order: one integer key.
        order = np.argsort(index * (biggest + 1) + (biggest - remainder), kind="stable")
    else:
        if keys is None:
            keys = np.arange(height)
        order = np.lexsort((keys, -remainder, index))
    ranks = np.empty(height, dtype=np.int64)
    ranks[order] = np.arange(height) - starts[index[order]]
    quotient += ranks < left[index]
    return _signed(quotient, totals)


def _split_one(total: int, weights: np.ndarray, weight_sum: int) -> np.ndarray:
    """One large group (rows in key order, weights checked): only its top remainders get a unit.

    Which ones: the threshold remainder by partition, the rows above it, then the earliest rows equal to
    it; no sort.
    """
    magnitude = abs(total)
    quotient, remainder = np.divmod(weights * magnitude, weight_sum)
    take = magnitude - int(quotient.sum())
    if take > 0:
        threshold = np.partition(remainder, remainder.size - take)[remainder.size - take]
        above = remainder > threshold
        tied = np.flatnonzero(remainder == threshold)[: take - int(np.count_nonzero(above))]
        above[tied] = True
        quotient += above
    if total < 0:
        np.negative(quotient, out=quotient)
    return quotient


def _ahead(remainders: np.ndarray) -> np.ndarray:
    """For a (group x k) grid of remainders (k small, columns in key order): each cell's rank in its row.

    A cell's rank is how many cells of its row come before it: a larger remainder, or an equal one in an
    earlier column. Columns compared pairwise, each pair once, on contiguous rows: no sort.
    """
    k = remainders.shape[1]
    columns = np.ascontiguousarray(remainders.T)
    ahead = np.zeros(columns.shape, dtype=np.int8)
    for i in range(k):
        for j in range(i + 1, k):
            first = columns[i] >= columns[j]  # column i (earlier) comes first on a tie
            ahead[j] += first
            ahead[i] += ~first
    rank: np.ndarray = ahead.T
    return rank


def _signed(units: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """``units`` (magnitudes) signed like their totals, in place: a negative total splits as the mirror."""
    np.negative(units, out=units, where=totals < 0)
    return units


def _scaled(values: Sequence[Decimal]) -> list[int]:
    """Exact integer weights with the same proportions as ``values`` (decimals)."""
    places = max((max(0, -int(v.as_tuple().exponent)) for v in values), default=0)
    return [int(v.scaleb(places)) for v in values]


def _split_fixed(totals: np.ndarray, weights: Sequence[int]) -> np.ndarray:
    """Every total split over the same recipients (given in key order): one column per recipient."""
    w = np.asarray(weights, dtype=np.int64)
    if 1 < w.size <= _GRID_WIDTH and totals.size and w.sum() > 0 and (w >= 0).all():
        return _ranked_grid(totals.astype(np.int64, copy=False), w[None, :], int(w.sum()))
    rows = np.repeat(totals.astype(np.int64), w.size)
    units = _largest_remainder(np.arange(totals.size) * w.size, rows, np.tile(w, totals.size), None)
    return units.reshape(totals.size, w.size)


def _split_grid(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each total split over its own row of a (total x recipient) weight grid, recipients in key order.

    A recipient weighing zero gets nothing (its remainder is zero and ranks last).
    """
    m, k = weights.shape
    totals = totals.astype(np.int64, copy=False)
    row_sums = weights.sum(axis=1) if m else np.zeros(0, dtype=np.int64)
    if 1 < k <= _GRID_WIDTH and m and (weights >= 0).all() and (row_sums > 0).all():
        return _ranked_grid(totals, weights, row_sums[:, None])
    units = _largest_remainder(np.arange(m) * k, np.repeat(totals, k), weights.ravel(), None)
    return units.reshape(m, k)


def _ranked_grid(totals: np.ndarray, weights: np.ndarray, sums: np.ndarray | int) -> np.ndarray:
    """The allocation (:func:`_largest_remainder`) of each total over a row of a few weights, in place.

    The same result, with no rows repeated, no text compared and no frame sorted: a row's cells are
    ranked pairwise (see :func:`_ahead`). ``weights`` is one row for every total, or a row per total.
    """
    magnitude = np.abs(totals)
    if int(magnitude.max()) * int(weights.max()) >= _MAX_PRODUCT:
        raise DataError(f"amounts too large to split exactly ({magnitude.max()} minor units)", kind="rewards")
    quotient, remainder = np.divmod(magnitude[:, None] * weights, sums)
    quotient += _ahead(remainder) < (magnitude - quotient.sum(axis=1))[:, None]
    return _signed(quotient, np.broadcast_to(totals[:, None], quotient.shape))


def _half_even_np(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """:func:`_half_even_div` on numpy integer arrays."""
    q = numerator // denominator
    twice = (numerator - q * denominator) * 2
    up = (twice > denominator) | ((twice == denominator) & (q % 2 == 1))
    result: np.ndarray = q + up
    return result
