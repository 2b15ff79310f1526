"""Shapley: coalition values over key sets, exact by bitmask dynamic programming, or sampled."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
import numpy as np

from smarketing.attribution._kernel import IntArray
from smarketing.attribution.journeys import Journeys
from smarketing.typing import FloatArray

__all__ = ["MAX_EXACT_SHAPLEY"]

# Exact Shapley enumerates every coalition: 2**20 of them still fit in a few MB and a fraction of a second.
MAX_EXACT_SHAPLEY = 20
# Keys are packed into int64 bitmasks for Shapley.
_MAX_SHAPLEY_KEYS = 62


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
