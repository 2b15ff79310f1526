"""The per-lead definitions of the calibration's statistics: the reference its grouped counts must give.

:func:`smarketing.persona.calibrate` computes AUC, the deciles and the Brier score from leads counted per
distinct score (so it scales out); these are the textbook definitions one lead at a time, kept here as the
oracle of ``tests/persona/test_calibrate.py`` and checked against scikit-learn in ``test_stats.py``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def average_ranks(values: npt.ArrayLike) -> Floats:
    """Ranks 1..n of ``values`` (ascending), tied values sharing the mean of their ranks.

    Examples:
        >>> average_ranks([0.5, 0.1, 0.5, 0.9]).tolist()
        [2.5, 1.0, 2.5, 4.0]
    """
    v = np.asarray(values, dtype=np.float64)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    # The tie group of value k occupies ranks start+1 .. start+count: its mean is start + (count + 1) / 2.
    starts = np.cumsum(counts) - counts
    mean_rank = starts + (counts + 1) / 2.0
    ranks: Floats = mean_rank[inverse.reshape(-1)]
    return ranks


def roc_auc(scores: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """ROC AUC by the Mann-Whitney U statistic: ``(R₊ - n₊(n₊ + 1)/2) / (n₊ n₋)``.

    ``R₊`` is the sum of the average ranks (:func:`average_ranks`) of the positive cases, so a tie between a
    positive and a negative counts one half. NaN when either class is empty.

    Examples:
        >>> roc_auc([1, 2, 2, 3], [False, False, True, True])
        0.875
    """
    y = np.asarray(outcome, dtype=bool)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = float(average_ranks(scores)[y].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def brier(probability: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """The Brier score ``mean((p - y)²)`` of probabilities against 0/1 outcomes (Brier 1950); NaN if empty.

    Examples:
        >>> brier([0.7, 0.2, 0.9], [1, 0, 0])
        0.31333333333333335
    """
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    return float(np.mean((p - y) ** 2))


def deciles(scores: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Decile 1..10 of each score, decile 1 the highest, ties never split.

    Sort the scores from high to low; a tie group starts at position ``s`` (0-based) and every member goes
    to decile ``floor(10·s / n) + 1``, the decile of its first member. Deciles therefore hold about a tenth
    each but may be larger (a big tie group) or empty (skipped).

    Examples:
        >>> deciles([5, 4, 4, 4, 3, 2, 1, 1, 0, 0]).tolist()
        [1, 2, 2, 2, 5, 6, 7, 7, 9, 9]
    """
    v = np.asarray(scores, dtype=np.float64)
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # np.unique sorts ascending; negate so the first group is the highest score.
    _, inverse, counts = np.unique(-v, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    group_decile = (starts * 10) // n + 1
    out: npt.NDArray[np.int64] = group_decile[inverse.reshape(-1)].astype(np.int64)
    return out
