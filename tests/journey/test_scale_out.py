"""The journey analyses scale out: map per partition of complete leads, merge on the engine, finalise.

``funnel``, ``conformance`` and ``discover`` run their kernels through :mod:`smarketing.frames._engine`:
given a PySpark DataFrame, Spark partitions the events by lead, maps each partition with the polars kernels
and merges the partials; only merged tables reach the driver. Anything else is one partition, mapped and
merged in polars by the same code. Checked here:

* the partial-merge laws (Hypothesis): the leads split into partitions in any grouping and order, each
  partition's rows in any order, give the single-partition answer (the map and merge run in polars);
* on Spark with many shuffle partitions and Arrow batches of three rows (a lead split across batches and a
  code built per partition could not pass), the answers equal polars', and the rows read by the driver are
  bounded by the cells and examples, not by the leads;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import networkx as nx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tests.spark_kit import Reads, partitions

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.journey import conformance, discover, funnel
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)


def _graph(graph: nx.DiGraph[str]) -> tuple[object, ...]:
    return (
        dict(graph.graph),
        sorted(graph.nodes(data=True)),
        sorted((a, b, sorted(d.items())) for a, b, d in graph.edges(data=True)),
    )


def _analyses(plan: AlignmentPlan, events: Any, leads: Any) -> dict[str, Any]:
    return {
        "funnel": funnel(plan.journey, events, leads=leads, by="region", as_of=AS_OF).to_dict(),
        "funnel-any-cohorts": funnel(plan.journey, events, by="cohort_month", mode="any").to_dict(),
        "funnel-business": funnel(
            plan.journey, events, calendar=plan.sla.calendar if plan.sla else None
        ).to_dict(),
        "conformance": conformance(plan.journey, events, examples=2).to_dict(),
        "discover": _graph(discover(events)),
    }


_REFERENCES: dict[int, tuple[Dataset, dict[str, Any]]] = {}


def _reference(plan: AlignmentPlan, seed: int) -> tuple[Dataset, dict[str, Any]]:
    """A small dataset of ``seed`` and its one-partition answers (made once per seed)."""
    if seed not in _REFERENCES:
        data = synthetic(plan, seed=seed, n_leads=25)
        _REFERENCES[seed] = data, _analyses(plan, data.stage_events, data.leads)
    return _REFERENCES[seed]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 4), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_answer(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, want = _reference(example_plan, data_seed)

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(partitions(data_, "lead_id", parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = _analyses(example_plan, data.stage_events, data.leads)
    assert got == want


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The laws hold for partitions of complete leads only: one lead cut in two changes the answer.
    data = synthetic(example_plan, seed=4, n_leads=25)
    events = data.stage_events.sort("lead_id", "time")

    ids = events.get_column("lead_id")
    cut = next(i for i in range(len(ids) // 2, len(ids)) if ids[i] == ids[i - 1])  # inside a lead

    def halves(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local([data_.head(cut), data_.slice(cut)], fn, tables)

    want = _analyses(example_plan, events, data.leads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", halves)
        assert _analyses(example_plan, events, data.leads) != want


def test_lower_quantiles_follow_the_kernel_rule() -> None:
    values = pl.DataFrame({"g": ["a"] * 10 + ["b"] * 3, "v": [*range(10, 0, -1), 5, 7, 6]})
    table = engine.Partial({"g": pl.String(), "v": pl.Int64()}, keys=("g",), quantiles={"v": (0.5, 0.9)})
    got = engine.local([values], lambda part: {"t": part}, {"t": table}).merged("t")
    # a: 1..10, index floor(9 * .5) = 4 -> 5 and floor(9 * .9) = 8 -> 9; b: 5, 6, 7 -> index 1 twice.
    assert engine.lower_quantile_index(10, 0.5) == 4
    assert engine.lower_quantile_index(10, 0.9) == 8
    assert got.rows() == [("a", 5, 9), ("b", 6, 6)]


def test_spark_merges_as_polars_merges(spark: Any) -> None:
    # Every reduce the layer offers, on Spark and in polars, over partials split into three partitions.
    t = datetime(2026, 10, 1, tzinfo=UTC)
    rows = pl.DataFrame(
        {
            "k": ["a", "a", "b", "b", "b", None, "c"],
            "n": [1, 2, 3, 4, 5, 6, 7],
            "id": ["x3", "x1", "y2", "y1", "y9", "z", "w"],
            "time": [t] * 7,
        }
    )
    tables = {
        "sums": engine.Partial(
            {"k": pl.String(), "n": pl.Int64(), "id": pl.String()},
            keys=("k",),
            aggs={"n": "sum", "id": "min"},
            quantiles={"n": (0.5, 0.9)},
        ),
        "set": engine.Partial({"k": pl.String()}, keys=("k",)),
        "top": engine.Partial(
            {"k": pl.String(), "id": pl.String(), "time": pl.Datetime("us", "UTC")},
            keys=("k",),
            order=("id",),
            count=2,
        ),
        "kept": engine.Partial({"id": pl.String(), "n": pl.Int64()}, kept=True),
    }

    def fn(part: pl.DataFrame) -> dict[str, pl.DataFrame]:
        part = part.with_columns(pl.col("time").dt.convert_time_zone("UTC"))
        return {
            "sums": part.select("k", "n", "id"),
            "set": part.select("k"),
            "top": part.select("k", "id", "time"),
            "kept": part.select("id", "n"),
        }

    on_polars = engine.local([rows.slice(0, 2), rows.slice(2, 3), rows.slice(5)], fn, tables)
    on_spark = engine.run(
        spark.createDataFrame(rows.to_arrow()), fn, tables, kind="t", key="id", columns=rows.columns
    )
    for name in ("sums", "set"):
        assert_frame_equal(on_spark.merged(name), on_polars.merged(name), check_exact=True)
    assert_frame_equal(on_spark.first("top"), on_polars.first("top"), check_exact=True)
    assert on_polars.first("top").get_column("id").to_list() == ["x1", "x3", "y1", "y2", "w", "z"]
    assert sorted(engine.to_polars(on_spark.rows("kept")).rows()) == sorted(rows.select("id", "n").rows())


def test_a_persisted_map_is_released_on_request_or_with_the_result_that_reads_it(spark: Any) -> None:
    rows = pl.DataFrame({"id": ["a", "b", "c"], "n": [1, 2, 3]})
    tables = {
        "sum": engine.Partial({"n": pl.Int64()}, aggs={"n": "sum"}),
        "kept": engine.Partial({"id": pl.String(), "n": pl.Int64()}, kept=True),
    }
    frame = spark.createDataFrame(rows.to_arrow())

    def fn(part: pl.DataFrame) -> dict[str, pl.DataFrame]:
        return {"sum": part.select("n"), "kept": part.select("id", "n")}

    def run() -> Any:
        return engine.run(frame, fn, tables, kind="t", key="id", columns=["id", "n"], persist=True)

    first = run()
    assert first.merged("sum").item() == 6
    assert first.frame.is_cached
    first.release()
    assert not first.frame.is_cached
    assert engine.to_polars(first.rows("kept")).height == 3  # still readable: the map runs again

    second = run()
    result = second.rows("kept")
    engine.release_with(result, [second])
    assert second.frame.is_cached
    del result
    gc.collect()
    assert not second.frame.is_cached
    engine.local([rows], fn, tables).release()  # one machine holds nothing: a no-op

    # A result collected after its session stopped: nothing to free, and no error from a finaliser.
    third = run()
    context = third.frame.sparkSession.sparkContext
    jsc = context._jsc
    try:
        context._jsc = None  # what SparkContext.stop() leaves
        third.release()
    finally:
        context._jsc = jsc
    assert third.frame.is_cached
    third.release()
    assert not third.frame.is_cached


# --------------------------------------------------------------------------------------------------
# On Spark.


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=15, n_leads=150)


def test_on_many_partitions_spark_gives_the_polars_answer_reading_only_merged_rows(
    example_plan: AlignmentPlan, data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = many_partitions.createDataFrame(data.stage_events.to_arrow())
    leads = many_partitions.createDataFrame(data.leads.to_arrow())
    sizes = events.repartition(5, "lead_id").rdd.glom().map(len).collect()
    assert sum(1 for n in sizes if n) > 1  # the leads really are spread over several partitions
    journey = example_plan.journey
    reads = Reads(monkeypatch, events)
    # Each analysis reads at most its merged tables: per cell (group x step) its counts and its quantiles,
    # per edge its count and median, per kind and team its counts and examples; and a few event counts.
    got = funnel(journey, events, leads=leads, by="region", as_of=AS_OF)
    assert (
        got.to_dict()
        == funnel(journey, data.stage_events, leads=data.leads, by="region", as_of=AS_OF).to_dict()
    )
    assert sum(reads.rows) <= 2 * len(got.rows) + 20 < len(data.leads)
    reads.rows.clear()
    graph = discover(events)
    assert _graph(graph) == _graph(discover(data.stage_events))
    assert sum(reads.rows) <= 2 * graph.number_of_edges() + graph.number_of_nodes() + 20 < len(data.leads)
    reads.rows.clear()
    report = conformance(journey, events)
    want = conformance(journey, data.stage_events)
    assert report.to_dict() == want.to_dict()
    examples = sum(len(v.examples) for v in report.violations)
    assert (
        sum(reads.rows) <= len(report.violations) + 2 * len(report.by_team) + examples + 20 < len(data.leads)
    )
    # The per-lead table stays on Spark until it is read.
    assert type(report.lead_table).__module__.startswith("pyspark.sql")
    assert_frame_equal(report.to_frame(), want.to_frame(), check_exact=True)


@pytest.mark.parametrize("analysis", ["funnel"])
def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, data: Dataset, many_partitions: Any, analysis: str
) -> None:
    # An event in 1850: the worker's boundary check refuses it, in the map.
    bad = data.stage_events.with_columns(
        pl.when(pl.col("lead_id") == pl.col("lead_id").max())
        .then(pl.col("time").dt.offset_by("-176y"))
        .otherwise(pl.col("time"))
        .alias("time")
    )
    run: dict[str, Callable[[Any], Any]] = {
        "funnel": lambda events: funnel(example_plan.journey, events),
        "conformance": lambda events: conformance(example_plan.journey, events),
        "discover": discover,
    }
    with pytest.raises(DataError) as on_polars:
        run[analysis](bad)
    with pytest.raises(DataError) as on_spark:
        run[analysis](many_partitions.createDataFrame(bad.to_arrow()))
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
    assert "1850" in str(on_spark.value) or "1900" in str(on_spark.value)


def test_partitions_are_concatenated_before_the_kernel_runs(example_plan: AlignmentPlan, spark: Any) -> None:
    # One lead's seven events in Arrow batches of three: running the kernel per batch would count three
    # leads; the partition's batches are concatenated first.
    t = datetime(2026, 10, 1, 9, tzinfo=UTC)
    stages: Sequence[str] = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
    rows = [{"lead_id": "L1", "to": s, "time": t.replace(day=i + 1)} for i, s in enumerate(stages)]
    events = spark.createDataFrame(pl.DataFrame(rows).to_arrow())
    report = funnel(example_plan.journey, events)
    assert report.counts.leads == 1
    assert [r.reached for r in report.rows][: len(stages)] == [1] * len(stages)
