"""The SLA scales out: the kernel per partition of complete leads, counts merged, per-lead rows kept.

``evaluate_sla`` and the scorecard's SLA metrics run the SLA's kernel through
:mod:`smarketing.frames._engine` (:mod:`smarketing.sla._scale`): on PySpark frames the four record kinds
are co-partitioned by lead, each partition runs the polars kernel, Spark sums the counts and keeps the
per-lead rows. Checked here:

* the partial-merge laws (Hypothesis, in polars): the leads split into partitions in any grouping and
  order, each partition's rows in any order, give the one-partition report;
* on Spark with many partitions, a New York session zone and Arrow batches of three rows, the report is
  polars' and the driver reads only merged rows (not one per lead); ``SLAReport.leads`` stays a Spark
  frame that writes out to the polars rows;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tests.spark_kit import Reads, partitions_of

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.kpi import scorecard
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.sla import evaluate_sla

AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)
FX = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])
_KINDS = {"stage_events": "lead_id", "leads": "id", "activities": "lead_id", "dispositions": "lead_id"}


def _kinds(data: Dataset) -> dict[str, pl.DataFrame]:
    return {kind: getattr(data, kind) for kind in _KINDS}


_REFERENCES: dict[int, tuple[dict[str, pl.DataFrame], dict[str, Any]]] = {}


def _reference(plan: AlignmentPlan, seed: int) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """A small dataset of ``seed`` (with a late disposition and an unknown lead's activity) and its report."""
    if seed not in _REFERENCES:
        data = _kinds(synthetic(plan, seed=seed, n_leads=30))
        _REFERENCES[seed] = data, evaluate_sla(plan, data, as_of=AS_OF).to_dict()
    return _REFERENCES[seed]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_report(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, want = _reference(example_plan, data_seed)

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(partitions_of(data_, _KINDS, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = evaluate_sla(example_plan, data, as_of=AS_OF).to_dict()
    assert got == want


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The laws hold for partitions of complete leads only: a lead's activities apart from its handoff
    # change the report (its response is not seen).
    data, want = _reference(example_plan, 0)

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        rest = {kind: frame for kind, frame in data_.items() if kind != "activities"}
        return engine.local([rest, {"activities": data_["activities"]}], fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        assert evaluate_sla(example_plan, data, as_of=AS_OF).to_dict() != want


# --------------------------------------------------------------------------------------------------
# On Spark.


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> dict[str, pl.DataFrame]:
    return _kinds(synthetic(example_plan, seed=15, n_leads=100))


def test_on_spark_the_report_is_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    want = evaluate_sla(example_plan, data, as_of=AS_OF)
    handed_off = want.leads.height
    assert handed_off > 30
    reads = Reads(monkeypatch, frames["leads"])
    persisted = many_partitions.sparkContext._jsc.getPersistentRDDs
    gc.collect()  # earlier tests' results gone first: the caches below are this report's
    cached = set(persisted().keys())
    got = evaluate_sla(example_plan, frames, as_of=AS_OF)
    # Merged rows only: per owner, team and period their counts, per week both sides' counts, per period
    # marketing's, one row of counts and the first and last event (no per-lead row, no input row).
    merged = got.by_rep.height + got.by_team.height + got.by_period.height + 2 * got.weekly.height
    assert sum(reads.rows) <= merged + got.marketing.height + 2 < len(data["activities"])
    # The per-lead rows and the breaches stay on Spark until they are read or written out.
    assert engine.is_spark(got.leads)
    assert engine.is_spark(got.breaches)
    got.leads.write.parquet(str(tmp_path / "leads"))
    written = pl.read_parquet(tmp_path / "leads" / "*.parquet").sort("lead_id")
    assert_frame_equal(written.with_columns(_utc(written)), want.leads, check_exact=True)
    # Read into this process once: reading again (to_dict() after to_frame()) runs no Spark job, and
    # what a caller does to the frame it got does not change the next read.
    context = many_partitions.sparkContext
    context.setJobGroup("sla-reads", "reads of the kept per-lead rows")
    try:

        def jobs() -> int:
            return len(context.statusTracker().getJobIdsForGroup("sla-reads"))

        first = got.to_frame()
        read = jobs()
        assert read > 0
        first.drop_in_place("owner")
        assert_frame_equal(got.to_frame(), want.leads, check_exact=True)
        assert jobs() == read
        assert got.to_dict() == want.to_dict()  # reads the breaches (once)
        assert got.to_dict() == want.to_dict()
        assert jobs() == 2 * read == 2  # one job per table (sorted in polars, not by a sampling job first)
        # The map's output was persisted when the merge computed it: a read runs one stage (the cached
        # partitions), not the shuffle and the map again.
        tracker = context.statusTracker()
        ran = [
            sum(
                1
                for s in tracker.getJobInfo(j).stageIds
                if (info := tracker.getStageInfo(s)) and info.numCompletedTasks
            )
            for j in tracker.getJobIdsForGroup("sla-reads")
        ]
        assert ran == [1, 1]
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)
    # The merged tables are polars' (the whole report, read back, is compared by tests/frames/test_matrix.py).
    assert got.summary == want.summary
    assert (got.counts, got.examples) == (want.counts, want.examples)
    for name in ("marketing", "by_rep", "by_team", "by_period", "weekly"):
        assert_frame_equal(getattr(got, name), getattr(want, name), check_exact=True)
    # The cache lives as long as the report that reads it.
    assert set(persisted().keys()) - cached
    del got
    gc.collect()
    assert not set(persisted().keys()) - cached


def _utc(frame: pl.DataFrame) -> list[pl.Expr]:
    """The times of a frame read back from Parquet as polars' (microseconds, UTC)."""
    return [
        pl.col(c).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        if t.time_zone is None
        else pl.col(c).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ]


def test_the_scorecards_sla_metrics_run_on_spark_reading_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = {**data, "deals": synthetic(example_plan, seed=15, n_leads=100).deals}
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in given.items()}
    want = scorecard(example_plan, given, period="2026-10", as_of=AS_OF, by="team", fx=FX)
    reads = Reads(monkeypatch, frames["leads"])
    got = scorecard(example_plan, frames, period="2026-10", as_of=AS_OF, by="team", fx=FX)
    assert got.to_dict() == want.to_dict()
    assert "speed_to_lead" in repr(want.to_dict())  # an SLA metric (the median response) is in it
    # Merged rows only (106 here: counts per window kind, team and window, the medians' values); the
    # collecting path read every activity, stage event and lead the SLA metrics need.
    assert sum(reads.rows) < len(data["activities"]) // 2


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    # An activity in 1850: the worker's boundary check refuses it, in the map.
    activities = data["activities"]
    bad = {
        **data,
        "activities": activities.with_columns(
            pl.when(pl.col("lead_id") == pl.col("lead_id").max())
            .then(pl.col("time").dt.offset_by("-176y"))
            .otherwise(pl.col("time"))
            .alias("time")
        ),
    }
    with pytest.raises(DataError) as on_polars:
        evaluate_sla(example_plan, bad, as_of=AS_OF)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in bad.items()}
    persisted = many_partitions.sparkContext._jsc.getPersistentRDDs
    cached = set(persisted().keys())
    with pytest.raises(DataError) as on_spark:
        evaluate_sla(example_plan, frames, as_of=AS_OF)
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
    assert "1850" in str(on_spark.value) or "1900" in str(on_spark.value)
    # The map's persisted output is released with the error: no report will read it.
    assert not set(persisted().keys()) - cached


def test_an_error_after_the_map_leaves_no_cache_behind(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The map ran and was persisted; finalising the report fails: no report will read the cache.
    import smarketing.sla.evaluate as evaluate_module

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("finalising failed")

    monkeypatch.setattr(evaluate_module, "marketing_from", broken)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    persisted = many_partitions.sparkContext._jsc.getPersistentRDDs
    gc.collect()
    cached = set(persisted().keys())
    with pytest.raises(RuntimeError, match="finalising failed") as failed:
        evaluate_sla(example_plan, frames, as_of=AS_OF)
    # Released at once, not when the traceback (which holds the kept frames, as a notebook keeps the
    # last one) is collected.
    assert failed.traceback
    assert not set(persisted().keys()) - cached
