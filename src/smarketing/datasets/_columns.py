"""Array and column helpers of the generator.

Weighted draws, id columns, padded tables, lead boundaries, UTC time columns, and frames in the exact
types ``Dataset.from_records`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.records import Dataset

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

US_PER_MINUTE: Final = 60_000_000
US_PER_DAY: Final = 86_400_000_000
#: "Never": a time after every end (int64 max), dropped by every caller as after the window.
NEVER: Final = np.iinfo(np.int64).max


def weighted(rng: np.random.Generator, weights: Sequence[float], n: int) -> I64:
    p = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    pick: I64 = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), p.size - 1).astype(np.int64)
    return pick


def choose(rng: np.random.Generator, weights: F64, row: I64) -> I64:
    """One column per element, drawn with the weights of its row of ``weights`` (rows x columns)."""
    rows, width = weights.shape
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    # Row r's cumulative weights shifted into [r, r + 1]: one sorted array, one search for all elements.
    flat = (cum + np.arange(rows)[:, None]).ravel()
    pick = np.searchsorted(flat, row + rng.random(row.size), side="right") - row * width
    chosen: I64 = np.minimum(pick, width - 1).astype(np.int64)
    return chosen


def take(values: Sequence[str | None], index: I64) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(index)


_DIGITS: Final = 4


def ids(prefix: str, n: int, width: int) -> pl.Series:
    """``prefix`` + the numbers 1..n zero-padded to ``width`` (wider when n needs it).

    Glued from gathered blocks of four digits: several times faster than formatting numbers as text.
    """
    width = max(width, len(str(n)))
    blocks = pl.Series([f"{i:0{_DIGITS}d}" for i in range(10**_DIGITS)], dtype=pl.String)
    number = np.arange(1, n + 1, dtype=np.int64)
    parts: list[pl.Series | pl.Expr] = [pl.lit(prefix)]
    head = width % _DIGITS
    if head:
        parts.append(
            pl.Series([f"{i:0{head}d}" for i in range(10**head)]).gather(
                number // 10 ** (width - head) % 10**head
            )
        )
    parts.extend(
        blocks.gather(number // 10 ** (k * _DIGITS) % 10**_DIGITS)
        for k in range(width // _DIGITS - 1, -1, -1)
    )
    return pl.select(
        pl.concat_str([pl.lit(p) if isinstance(p, pl.Series) else p for p in parts]).alias("id")
    ).to_series()


def pad(groups: list[list[int]]) -> tuple[I64, I64]:
    width = max(1, *(len(g) for g in groups))
    table = np.full((len(groups), width), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        table[i, : len(g)] = g
    return table, np.array([len(g) for g in groups], dtype=np.int64)


def firsts(lead: I64) -> Mask:
    """Where a new lead starts in an array sorted by lead."""
    mask = np.ones(lead.size, dtype=np.bool_)
    mask[1:] = lead[1:] != lead[:-1]
    return mask


def lasts(lead: I64) -> Mask:
    """Where a lead ends in an array sorted by lead."""
    mask = np.ones(lead.size, dtype=np.bool_)
    mask[:-1] = lead[:-1] != lead[1:]
    return mask


def times(us: I64) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


_EMPTY: Final = Dataset()


def conform(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The columns in record order with the types ``Dataset.from_records`` gives them."""
    return frame.select([pl.col(c).cast(t) for c, t in _EMPTY.frames()[kind].schema.items()])
