"""Markov: removal effects of an order-k absorbing chain over touch keys, solved exactly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from smarketing.attribution._kernel import IntArray
from smarketing.attribution.heuristic import _normalise
from smarketing.attribution.journeys import Journeys
from smarketing.typing import FloatArray

__all__: list[str] = []


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


def _check_order(order: Any) -> None:
    """Refuse an order that is not an integer >= 1 (before any work, on the driver)."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"markov: order must be an integer >= 1, not {order!r}")


def _markov(j: Journeys, order: int, values: Mapping[str, IntArray]) -> _Chain:
    """The order-``order`` absorbing Markov chain of ``j``, and each key's removal effect, solved exactly.

    States are windows of ``order`` keys (:func:`_states`) between a start state and two absorbing ones,
    conversion and null; transition probabilities are the journeys' weighted transition counts, normalised
    per source state (:func:`_counts`). The chain is then solved from the counts alone (:func:`_solve`):
    journeys that were counted elsewhere (partitions of a Spark input, merged by sums) give the same chain.
    A count table already merged for this order, cached on ``j`` under ``("markov", order)``, is used as it
    is.
    """
    _check_order(order)
    counts = j._cache.get(("markov", order))
    if counts is None:
        counts = _counts(j, order, values)
    return _chain(counts, j.keys)


@attrs.frozen
class _Counts:
    """What the chain is solved from: its states, transition counts and the value absorbed per last state.

    Everything here adds up over journeys: the states are a set (the windows that occur), the counts and the
    value per last state are sums, so the counts of any partitions of the journeys, merged by union and sums,
    are the counts of all of them. States are numbered ``0..n-1`` in the order of their window codes
    (:func:`_states`), then come the start (``n``), conversion (``n + 1``) and null (``n + 2``) states.

    Attributes:
        states: Each state's key codes, oldest first.
        src: Source state of each observed transition (non-zero count), sorted by (source, target).
        dst: Target state of each transition.
        counts: The weighted count of each transition.
        ends: Per currency, the value of the journeys that end in each state (``n`` values).
    """

    states: list[tuple[int, ...]]
    src: IntArray
    dst: IntArray
    counts: FloatArray
    ends: Mapping[str, FloatArray]


def _counts(j: Journeys, order: int, values: Mapping[str, IntArray]) -> _Counts:
    """The weighted transition counts of the order-``order`` chain of ``j`` (see :class:`_Counts`)."""
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
    # Value as a reward on absorption: summed per state the journeys end in.
    ends = {
        code: np.asarray(
            np.bincount(last_state, weights=values[code].astype(np.float64), minlength=n_states),
            dtype=np.float64,
        )
        for code in sorted(values)
    }
    return _Counts(states=decoded, src=counts_src, dst=counts_dst, counts=counts, ends=ends)


def _chain(chain: _Counts, keys: tuple[str, ...]) -> _Chain:
    """The chain of ``chain``'s counts solved: conversion probability and each key's removal effects.

    The conversion probability from the start (and, per currency, the mean value absorbed) is one sparse
    LU solve of ``(I - Q) x = b``; removing a key drops the states that hold it (they lead to null) and
    solves again. A key's removal effect is the share of conversions (or value) lost.
    """
    decoded = chain.states
    n_states = len(decoded)
    start, conv_state = n_states, n_states + 1
    size = n_states + 3
    counts_src, counts_dst, counts = chain.src, chain.dst, chain.counts
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
    currencies = sorted(chain.ends)
    # Value as a reward on absorption: the mean value of the journeys that convert from each state.
    for code in currencies:
        per_state = np.zeros(n_states + 1)
        per_state[1:] = chain.ends[code]
        outflow = np.zeros(n_states + 1)
        outflow[remap[np.arange(n_states)]] = out[:n_states]
        outflow[0] = out[start]
        rhs.append(np.divide(per_state, outflow, out=np.zeros(n_states + 1), where=outflow > 0))
    b = np.column_stack(rhs).astype(np.float64)
    base_solution = _solve(system, b)
    base = base_solution[0]
    contains = np.zeros((len(keys), n_states + 1), dtype=bool)
    for index, members in enumerate(decoded):
        for member in members:
            contains[member, index + 1] = True
    removal = np.zeros((len(keys), b.shape[1]))
    for removed in range(len(keys)):
        if not contains[removed].any():
            continue
        kept = np.flatnonzero(~contains[removed])
        # States with the key become the null state: drop their rows and columns.
        reduced = system[kept][:, kept].tocsc()
        solution = _solve(reduced, b[kept])[0]
        removal[removed] = np.divide(base - solution, base, out=np.zeros(b.shape[1]), where=base > 0)
    # Removing a key can only lose conversions; what is left below 1e-12 is rounding in the solves (a key
    # whose states cannot reach a conversion must get exactly nothing).
    removal = _significant(np.where(removal < 1e-12, 0.0, np.minimum(removal, 1.0)))
    names = ["(start)"] + [" > ".join(keys[c] for c in d) for d in decoded] + ["(conversion)", "(null)"]
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
        probability=float(_significant(base[:1])[0]),
        transitions=transitions,
    )


def _journey_weights(j: Journeys, removal: FloatArray) -> FloatArray:
    """The ``journey`` convention's touch weights: each journey split by its touches' keys' removal effects.

    ``removal`` is per key of ``j`` (the chain's effects, solved from these journeys or from a whole input
    they are part of); a journey whose keys have no effect at all is split evenly.
    """
    return _normalise(j, removal[j.codes])


def _significant(values: FloatArray) -> FloatArray:
    """``values`` rounded to 12 significant digits.

    The sparse LU factorisation hands its dense blocks to BLAS, whose order of additions depends on the
    CPU's kernel (AVX2 and AVX-512 gave different last bits); rounding what the solves give keeps those
    bits out of the credits, so the same journeys give the same output on every machine.
    """
    return np.array([float(f"{v:.12g}") for v in values.ravel()], dtype=np.float64).reshape(values.shape)


def _solve(system: Any, b: FloatArray) -> FloatArray:
    if system.shape[0] == 0:
        return np.zeros((1, b.shape[1]))
    solution = spla.splu(system).solve(np.ascontiguousarray(b))
    return np.asarray(solution, dtype=np.float64)
