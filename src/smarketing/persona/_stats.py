"""The statistics behind agreement: small numpy functions, each with its formula (private).

Two raters (marketing's MQL call, sales' acceptance) and two answers give a 2x2 table ``[[a, b], [c, d]]``:
rows are marketing's call (MQL, not MQL), columns sales' answer (accepted, rejected), ``n = a + b + c + d``.
The agreement functions take tables with any leading shape (``(..., 2, 2)``) so a thousand bootstrap tables
are one array operation; an undefined value (no leads, or chance agreement 1) is ``NaN``, never an error.

Examples:
    >>> import numpy as np
    >>> table = np.array([[40, 10], [5, 45]])
    >>> round(float(cohen_kappa(table)), 4), float(pabak(table)), round(float(gwet_ac1(table)), 4)
    (0.7, 0.7, 0.7007)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Floats",
    "bootstrap_tables",
    "cohen_kappa",
    "gwet_ac1",
    "observed_agreement",
    "pabak",
    "percentile_interval",
]

Floats = npt.NDArray[np.float64]


def _cells(table: npt.ArrayLike) -> tuple[Floats, Floats, Floats, Floats, Floats]:
    t = np.asarray(table, dtype=np.float64)
    if t.shape[-2:] != (2, 2):
        raise ValueError(f"expected 2x2 tables (shape (..., 2, 2)), got shape {t.shape}")
    a, b, c, d = t[..., 0, 0], t[..., 0, 1], t[..., 1, 0], t[..., 1, 1]
    return a, b, c, d, a + b + c + d


def _ratio(top: Floats, bottom: Floats) -> Floats:
    """``top / bottom``, NaN where ``bottom`` is 0 (no warning, no error)."""
    out = np.full(np.broadcast(top, bottom).shape, np.nan)
    np.divide(top, bottom, out=out, where=bottom != 0)
    return out


def observed_agreement(table: npt.ArrayLike) -> Floats:
    """Observed agreement ``p_o = (a + d) / n``; NaN for an empty table.

    Examples:
        >>> float(observed_agreement([[3, 1], [0, 4]]))
        0.875
    """
    a, _, _, d, n = _cells(table)
    return _ratio(a + d, n)


def cohen_kappa(table: npt.ArrayLike) -> Floats:
    """Cohen's κ: ``(p_o - p_e) / (1 - p_e)`` with ``p_e = ((a+b)(a+c) + (c+d)(b+d)) / n²``.

    Chance agreement ``p_e`` comes from each rater's own margins (Cohen 1960). κ is NaN when the table is
    empty or ``p_e = 1`` (both raters gave one answer only: agreement beyond chance is undefined). κ lies in
    ``[-1, 1]`` otherwise.

    Examples:
        >>> round(float(cohen_kappa([[118, 5], [2, 0]])), 4)  # the high-agreement paradox: p_o = 0.944
        -0.0234
        >>> float(cohen_kappa([[7, 0], [0, 0]]))
        nan
    """
    a, b, c, d, n = _cells(table)
    po = _ratio(a + d, n)
    pe = _ratio((a + b) * (a + c) + (c + d) * (b + d), n * n)
    # p_e = 1 exactly only when every answer falls in one row and one column; compare in integers.
    degenerate = ((a + b) * (a + c) + (c + d) * (b + d)) == n * n
    return np.where(degenerate, np.nan, _ratio(po - pe, 1.0 - pe))


def pabak(table: npt.ArrayLike) -> Floats:
    """Prevalence- and bias-adjusted κ (Byrt, Bishop and Carlin 1993): ``2·p_o - 1``; NaN for an empty table.

    Examples:
        >>> round(float(pabak([[118, 5], [2, 0]])), 4)
        0.888
    """
    return 2.0 * observed_agreement(table) - 1.0


def gwet_ac1(table: npt.ArrayLike) -> Floats:
    """Gwet's AC1 for two raters and two answers: ``(p_o - p_e) / (1 - p_e)`` with ``p_e = 2π(1 - π)``.

    ``π = ((a + b) + (a + c)) / 2n`` is the mean share of "yes" over both raters (Gwet 2008, "Computing
    inter-rater reliability and its variance in the presence of high agreement", British Journal of
    Mathematical and Statistical Psychology 61, 29-48, equation for ``p_e(gamma)`` with ``q = 2``). Since
    ``p_e ≤ 0.5``, AC1 is defined for every non-empty table; it stays high when one answer dominates and
    raters agree, where κ collapses (the paradox of Feinstein and Cicchetti 1990).

    Examples:
        >>> round(float(gwet_ac1([[118, 5], [2, 0]])), 4)
        0.9408
    """
    a, b, c, _, n = _cells(table)
    pi = _ratio((a + b) + (a + c), 2.0 * n)
    pe = 2.0 * pi * (1.0 - pi)
    return _ratio(observed_agreement(table) - pe, 1.0 - pe)


def bootstrap_tables(counts: npt.ArrayLike, *, resamples: int, rng: np.random.Generator) -> Any:
    """Bootstrap resamples of a table of counts: ``resamples`` multinomial draws of the same total.

    Resampling the ``n`` units (leads) with replacement and counting them per cell is a multinomial draw
    with the observed cell shares, so one call gives all resamples at once (shape ``(resamples,
    *counts.shape)``). An empty table resamples to empty tables.

    Examples:
        >>> draws = bootstrap_tables([[3, 1], [0, 4]], resamples=5, rng=np.random.default_rng(0))
        >>> draws.shape, draws.sum(axis=(1, 2)).tolist()
        ((5, 2, 2), [8, 8, 8, 8, 8])
    """
    c = np.asarray(counts, dtype=np.int64)
    n = int(c.sum())
    if n == 0:
        return np.zeros((resamples, *c.shape), dtype=np.int64)
    draws = rng.multinomial(n, c.reshape(-1) / n, size=resamples)
    return draws.reshape((resamples, *c.shape))


def percentile_interval(values: npt.ArrayLike, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap values at ``confidence`` (NaN values left out).

    The bounds are the ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles (linear interpolation)
    of the defined values; ``(nan, nan)`` when none is defined.

    Examples:
        >>> [round(x, 4) for x in percentile_interval([0.1, 0.2, 0.3, 0.4, float("nan")], 0.5)]
        [0.175, 0.325]
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(v, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(low), float(high)
