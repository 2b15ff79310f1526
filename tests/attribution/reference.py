"""A small, readable pure-Python attribution reference, for differential tests only.

Journeys are plain tuples ``(path, conversions, nulls)`` with ``path`` a list of key names. Nothing here is
fast or clever: heuristic weights are spelled out position by position, Markov builds a dense matrix and
inverts it with numpy, Shapley uses the Harsanyi-dividend identity (a game that is a sum of "all keys of T
present" games gives each key of T an equal share of T's worth).
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

Journey = tuple[list[str], float, float]


def heuristic_weights(model: str, n: int, first: float = 0.4, last: float = 0.4) -> list[float]:
    if model == "first":
        return [1.0] + [0.0] * (n - 1)
    if model == "last":
        return [0.0] * (n - 1) + [1.0]
    if model == "linear":
        return [1.0 / n] * n
    if model in ("position", "j_shaped", "inverse_j"):
        first, last = {"position": (first, last), "j_shaped": (0.2, 0.6), "inverse_j": (0.6, 0.2)}[model]
        if n == 1:
            return [1.0]
        if n == 2:
            return [first / (first + last), last / (first + last)]
        middle = (1.0 - first - last) / (n - 2)
        return [first] + [middle] * (n - 2) + [last]
    raise ValueError(model)


def heuristic(model: str, journeys: list[Journey], **params: float) -> dict[str, float]:
    credit: dict[str, float] = defaultdict(float)
    for path, conversions, _ in journeys:
        for key, weight in zip(path, heuristic_weights(model, len(path), **params), strict=True):
            credit[key] += weight * conversions
    return dict(credit)


def markov_states(path: list[str], order: int) -> list[tuple[str, ...]]:
    """ChannelAttribution's states: sliding windows of ``order`` keys; a shorter path is one state."""
    if len(path) <= order:
        return [tuple(path)]
    return [tuple(path[i - order + 1 : i + 1]) for i in range(order - 1, len(path))]


def markov(journeys: list[Journey], order: int = 1) -> tuple[float, dict[str, float]]:
    """Conversion probability and removal effects, by a dense matrix inverse."""
    counts: dict[object, dict[object, float]] = defaultdict(lambda: defaultdict(float))
    for path, conversions, nulls in journeys:
        weight = conversions + nulls
        if weight == 0:
            continue
        states: list[object] = ["(start)", *markov_states(path, order)]
        for a, b in itertools.pairwise(states):
            counts[a][b] += weight
        counts[states[-1]]["(conversion)"] += conversions
        counts[states[-1]]["(null)"] += nulls
    transient = ["(start)", *sorted({s for s in counts if s != "(start)"}, key=str)]

    def probability(removed: str | None) -> float:
        kept = [s for s in transient if s == "(start)" or removed is None or removed not in s]  # type: ignore[operator]
        index = {s: i for i, s in enumerate(kept)}
        q = np.zeros((len(kept), len(kept)))
        r = np.zeros(len(kept))
        for s in kept:
            total = sum(counts[s].values())
            for t, c in counts[s].items():
                if t == "(conversion)":
                    r[index[s]] += c / total
                elif t in index:
                    q[index[s], index[t]] += c / total
        return float((np.linalg.inv(np.eye(len(kept)) - q) @ r)[0])

    base = probability(None)
    keys = sorted({k for path, _, _ in journeys for k in path})
    effects = {k: (1 - probability(k) / base) if base > 0 else 0.0 for k in keys}
    return base, effects


def shapley_conversions(journeys: list[Journey]) -> dict[str, float]:
    """Shapley values of v(S) = conversions of journeys whose keys all lie in S."""
    values: dict[str, float] = defaultdict(float)
    for path, conversions, _ in journeys:
        distinct = set(path)
        for key in distinct:
            values[key] += conversions / len(distinct)
    return dict(values)
