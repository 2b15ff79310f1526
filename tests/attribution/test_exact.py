"""Exact float sums per key (:mod:`smarketing.attribution._exact`): fsum's answer, in any grouping."""

from __future__ import annotations

import math
import random

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.attribution._exact import PARTS_SCHEMA, exact_parts, exact_sums

KEYS = 4
FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
TINY = st.floats(min_value=0, max_value=1e-300, allow_subnormal=True)


def _merge(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Partials merged as Spark merges them: a sum of each half per (key, exponent)."""
    together = pl.concat([pl.DataFrame(schema=PARTS_SCHEMA), *parts])
    return together.group_by("key", "exp").agg(pl.col("high", "low").sum())


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, KEYS - 1), FLOATS | TINY), max_size=60),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.integers(1, 5),
)
def test_the_sums_of_any_partitions_merged_are_fsum_per_key(
    rows: list[tuple[int, float]], seed: int, cuts: int
) -> None:
    want = [math.fsum(v for k, v in rows if k == key) for key in range(KEYS)]
    keys = np.array([k for k, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    assert exact_sums(exact_parts(keys, values), KEYS).tolist() == want
    order = list(range(len(rows)))
    rng = random.Random(seed)
    rng.shuffle(order)
    bounds = sorted(rng.randint(0, len(rows)) for _ in range(cuts - 1))
    pieces = [order[a:b] for a, b in zip([0, *bounds], [*bounds, len(rows)], strict=True)]
    partials = [exact_parts(keys[p], values[p]) for p in pieces]
    rng.shuffle(partials)
    assert exact_sums(_merge(partials), KEYS).tolist() == want


def test_a_float_sum_depends_on_the_order_and_the_exact_sum_does_not() -> None:
    values = np.array([1e16, 1.0, -1e16, 1.0, 0.1, 0.2])
    keys = np.zeros(len(values), dtype=np.int64)
    forward, backward = float(np.sum(values)), float(np.sum(values[::-1]))
    assert forward != backward  # the point of the module
    got = {
        float(exact_sums(exact_parts(keys[p], values[p]), 1)[0])
        for p in ([0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0])
    }
    assert got == {math.fsum(values)} == {2.3}


def test_keys_too_spread_for_dense_cells_give_the_same_parts() -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal(2_000) * 10.0 ** rng.integers(-30, 30, 2_000)
    keys = rng.integers(0, KEYS, 2_000)
    spread = keys * (1 << 30)  # (key, exponent) cells past the dense table's size: the group-by
    dense, sparse = exact_parts(keys, values), exact_parts(spread, values)
    assert sparse.get_column("key").max() >= 1 << 30
    restored = sparse.with_columns(pl.col("key") // (1 << 30)).sort("key", "exp")
    assert restored.equals(dense.sort("key", "exp"))
    want = [math.fsum(values[keys == key]) for key in range(KEYS)]
    assert exact_sums(dense, KEYS).tolist() == want


def test_no_terms_sum_to_zero_and_non_finite_values_are_refused() -> None:
    assert exact_sums(exact_parts(np.zeros(0, dtype=np.int64), np.zeros(0)), 3).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="finite"):
        exact_parts(np.zeros(1, dtype=np.int64), np.array([math.nan]))
