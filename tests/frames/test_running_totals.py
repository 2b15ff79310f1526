"""``_engine.running_totals``: running sums over a Spark frame's global order, range by range."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from smarketing.frames import _engine as engine

#: More shuffle partitions than the other Spark tests: seven ranges of values.
SHUFFLE_PARTITIONS = 7


def _values(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    # Distinct values, most of them bunched together (uneven ranges), and integer weights.
    bunched = rng.normal(50.0, 0.01, n - 20)
    spread = rng.uniform(-1e6, 1e6, 20)
    values = np.unique(np.concatenate([bunched, spread]))
    return pl.DataFrame({"value": values, "leads": rng.integers(0, 1_000, len(values)), "won": 0})


@pytest.mark.parametrize(("seed", "descending"), [(1, True), (2, False), (3, True)])
def test_running_totals_equal_the_cumulative_sums_in_order(
    many_partitions: Any, seed: int, descending: bool
) -> None:
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own name; the optional extra)

    frame = _values(seed, 400)
    want = frame.sort("value", descending=descending).with_columns(
        above=pl.col("leads").cum_sum(), twice=(pl.col("leads") * 2 - pl.col("won")).cum_sum()
    )
    spark_frame = many_partitions.createDataFrame(frame.to_arrow())
    totals = {"above": F.col("leads"), "twice": F.col("leads") * 2 - F.col("won")}
    got = engine.to_polars(engine.running_totals(spark_frame, "value", totals, descending=descending))
    assert got.columns == ["value", "leads", "won", "above", "twice"]
    assert got.sort("value", descending=descending).to_dict(as_series=False) == want.to_dict(as_series=False)


def test_running_totals_never_move_every_row_to_one_task(many_partitions: Any) -> None:
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own name; the optional extra)

    spark_frame = many_partitions.createDataFrame(_values(4, 200).to_arrow())
    ranked = engine.running_totals(spark_frame, "value", {"above": F.col("leads")}, descending=True)
    plan = ranked._jdf.queryExecution().executedPlan().toString()
    # The window's rows are shuffled by their range into the session's partitions, not into one.
    assert "Window" in plan
    assert "hashpartitioning(_range" in plan
    assert "SinglePartition" not in plan
    assert ranked.count() == 200


def test_running_totals_of_one_row_and_of_none(many_partitions: Any) -> None:
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own name; the optional extra)

    one = many_partitions.createDataFrame(pl.DataFrame({"value": [2.5], "leads": [4]}).to_arrow())
    got = engine.to_polars(engine.running_totals(one, "value", {"above": F.col("leads")}))
    assert got.to_dict(as_series=False) == {"value": [2.5], "leads": [4], "above": [4]}
    none = one.where(F.col("leads") < 0)
    assert engine.running_totals(none, "value", {"above": F.col("leads")}).count() == 0


def test_running_totals_in_a_session_of_one_shuffle_partition(spark: Any) -> None:
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own name; the optional extra)

    # One range, no cuts to ask Spark for (it cannot take quantiles at no probabilities).
    frame = _values(5, 50)
    want = frame.sort("value").with_columns(above=pl.col("leads").cum_sum())
    ranked = engine.running_totals(
        spark.createDataFrame(frame.to_arrow()), "value", {"above": F.col("leads")}
    )
    assert engine.to_polars(ranked).sort("value").to_dict(as_series=False) == want.to_dict(as_series=False)
