"""Agreement statistics and the calibration's per-lead reference against scikit-learn and tables by hand."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from tests.persona import calibration_reference as reference

from smarketing.persona import _stats

pairs = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200)


def _table(rows: list[tuple[bool, bool]]) -> np.ndarray:
    table = np.zeros((2, 2), dtype=np.int64)
    for marketing, sales in rows:
        table[0 if marketing else 1, 0 if sales else 1] += 1
    return table


def _hand(table: list[list[int]]) -> dict[str, Fraction]:
    """κ, PABAK and AC1 by the textbook formulas, in exact fractions."""
    (a, b), (c, d) = table
    n = a + b + c + d
    po = Fraction(a + d, n)
    pe_kappa = Fraction((a + b) * (a + c) + (c + d) * (b + d), n * n)
    pi = Fraction((a + b) + (a + c), 2 * n)
    pe_ac1 = 2 * pi * (1 - pi)
    return {
        "kappa": (po - pe_kappa) / (1 - pe_kappa),
        "pabak": 2 * po - 1,
        "ac1": (po - pe_ac1) / (1 - pe_ac1),
    }


# The high-agreement paradox tables: 125 subjects, one answer dominating (the shape Gwet 2008 uses to show
# κ collapsing while AC1 stays high), a balanced table, and a table with disagreement only.
TABLES = [[[118, 5], [2, 0]], [[40, 10], [5, 45]], [[0, 7], [3, 0]], [[45, 15], [25, 15]]]


@pytest.mark.parametrize("table", TABLES)
def test_kappa_pabak_ac1_match_the_formulas_by_hand(table: list[list[int]]) -> None:
    expected = _hand(table)
    assert float(_stats.cohen_kappa(table)) == pytest.approx(float(expected["kappa"]), abs=1e-12)
    assert float(_stats.pabak(table)) == pytest.approx(float(expected["pabak"]), abs=1e-12)
    assert float(_stats.gwet_ac1(table)) == pytest.approx(float(expected["ac1"]), abs=1e-12)


def test_the_paradox_table_by_hand() -> None:
    # p_o = 118/125 = 0.944; Cohen p_e = (123·120 + 2·5)/125² = 0.94528; AC1 π = 243/250, p_e = 0.054432.
    table = [[118, 5], [2, 0]]
    assert float(_stats.observed_agreement(table)) == pytest.approx(0.944)
    assert float(_stats.cohen_kappa(table)) == pytest.approx((0.944 - 0.94528) / (1 - 0.94528))
    assert float(_stats.gwet_ac1(table)) == pytest.approx((0.944 - 0.054432) / (1 - 0.054432))
    assert float(_stats.pabak(table)) == pytest.approx(0.888)


@pytest.mark.parametrize("table", TABLES)
def test_kappa_matches_scikit_learn(table: list[list[int]]) -> None:
    (a, b), (c, d) = table
    marketing = [1] * (a + b) + [0] * (c + d)
    sales = [1] * a + [0] * b + [1] * c + [0] * d
    assert float(_stats.cohen_kappa(table)) == pytest.approx(cohen_kappa_score(marketing, sales), abs=1e-12)


@given(pairs)
def test_kappa_matches_scikit_learn_on_any_table(rows: list[tuple[bool, bool]]) -> None:
    table = _table(rows)
    kappa = float(_stats.cohen_kappa(table))
    marketing = [m for m, _ in rows]
    sales = [s for _, s in rows]
    assume(len(set(marketing)) > 1 or len(set(sales)) > 1)
    assert kappa == pytest.approx(cohen_kappa_score(marketing, sales, labels=[True, False]), abs=1e-9)


@given(pairs)
def test_kappa_lies_in_minus_one_to_one(rows: list[tuple[bool, bool]]) -> None:
    kappa = float(_stats.cohen_kappa(_table(rows)))
    assert np.isnan(kappa) or -1.0 - 1e-12 <= kappa <= 1.0 + 1e-12
    assert -1.0 <= float(_stats.pabak(_table(rows))) <= 1.0
    assert -1.0 - 1e-12 <= float(_stats.gwet_ac1(_table(rows))) <= 1.0 + 1e-12


@pytest.mark.parametrize("table", [[[0, 0], [0, 0]], [[7, 0], [0, 0]], [[0, 0], [0, 3]]])
def test_undefined_values_are_nan_never_an_error(table: list[list[int]]) -> None:
    assert np.isnan(_stats.cohen_kappa(table))
    if sum(map(sum, table)) == 0:
        assert np.isnan(_stats.pabak(table))
        assert np.isnan(_stats.gwet_ac1(table))
    else:
        assert float(_stats.pabak(table)) == 1.0
        assert float(_stats.gwet_ac1(table)) == 1.0


def test_tables_stack_along_leading_axes() -> None:
    stacked = np.array(TABLES)
    assert _stats.cohen_kappa(stacked).tolist() == pytest.approx(
        [float(_stats.cohen_kappa(t)) for t in TABLES]
    )
    with pytest.raises(ValueError, match="2x2"):
        _stats.cohen_kappa([[1, 2, 3]])


scores = st.lists(st.integers(-50, 50), min_size=2, max_size=150)


@given(scores, st.data())
def test_auc_matches_scikit_learn_with_ties(values: list[int], data: st.DataObject) -> None:
    outcome = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    assume(0 < sum(outcome) < len(outcome))
    assert reference.roc_auc(values, outcome) == pytest.approx(roc_auc_score(outcome, values), abs=1e-12)


@given(scores, st.data())
def test_auc_is_invariant_under_monotone_maps_and_row_order(values: list[int], data: st.DataObject) -> None:
    outcome = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    auc = reference.roc_auc(values, outcome)
    mapped = [v**3 + 2 * v + 1000 for v in values]  # strictly increasing on the integers, exact in floats
    order = data.draw(st.permutations(range(len(values))))
    shuffled = reference.roc_auc([values[i] for i in order], [outcome[i] for i in order])
    if np.isnan(auc):
        assert np.isnan(reference.roc_auc(mapped, outcome))
        assert np.isnan(shuffled)
    else:
        assert reference.roc_auc(mapped, outcome) == pytest.approx(auc, abs=1e-12)
        assert shuffled == pytest.approx(auc, abs=1e-12)


def test_auc_by_hand() -> None:
    # Pairs (positive, negative): 3>1, 3>2, 2=2 (one half), 2>1: (3 + 0.5) / 4.
    assert reference.roc_auc([1, 2, 2, 3], [0, 0, 1, 1]) == 0.875
    assert np.isnan(reference.roc_auc([1, 2], [1, 1]))


def test_brier_by_hand() -> None:
    # Brier (1950): the mean squared difference; a forecast of the base rate 1/4 scores 3/16.
    assert reference.brier([0.25] * 4, [1, 0, 0, 0]) == pytest.approx(3 / 16)
    assert reference.brier([1.0, 0.0], [1, 0]) == 0.0
    assert reference.brier([0.7, 0.2, 0.9], [1, 0, 0]) == pytest.approx((0.09 + 0.04 + 0.81) / 3)
    assert np.isnan(reference.brier([], []))


@given(st.lists(st.integers(0, 20), min_size=1, max_size=300))
def test_deciles_never_split_ties(values: list[int]) -> None:
    found = reference.deciles(values)
    assert found.min() >= 1
    assert found.max() <= 10
    by_value: dict[int, set[int]] = {}
    for value, decile in zip(values, found.tolist(), strict=True):
        by_value.setdefault(value, set()).add(decile)
    assert all(len(d) == 1 for d in by_value.values())
    ordered = sorted(by_value)
    # A higher score never lands in a later decile.
    decile_of = {v: d.pop() for v, d in by_value.items()}
    assert all(decile_of[hi] <= decile_of[lo] for lo, hi in itertools.pairwise(ordered))


def test_deciles_without_ties_hold_a_tenth_each() -> None:
    found = reference.deciles(np.arange(100.0))
    assert np.bincount(found, minlength=11)[1:].tolist() == [10] * 10
    assert found[99] == 1
    assert found[0] == 10


@given(st.lists(st.integers(0, 50), min_size=6, max_size=6), st.integers(0, 2**32 - 1))
def test_bootstrap_is_deterministic_for_a_seed(cells: list[int], seed: int) -> None:
    first = _stats.bootstrap_tables(cells, resamples=50, rng=np.random.default_rng(seed))
    second = _stats.bootstrap_tables(cells, resamples=50, rng=np.random.default_rng(seed))
    assert np.array_equal(first, second)
    assert (first.sum(axis=1) == sum(cells)).all()
    # A cell that is empty stays empty: resampling leads never invents a lead of that kind.
    assert all((first[:, i] == 0).all() for i, c in enumerate(cells) if c == 0)


def test_percentile_interval() -> None:
    low, high = _stats.percentile_interval(np.arange(101.0), 0.9)
    assert (low, high) == pytest.approx((5.0, 95.0))
    assert all(np.isnan(_stats.percentile_interval([float("nan")], 0.95)))
