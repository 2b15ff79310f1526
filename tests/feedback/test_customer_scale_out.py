"""Customer feedback scales out: the feedback's rows per partition of complete leads, counts merged.

:func:`smarketing.feedback.customer_feedback` runs through :mod:`smarketing.frames._engine`
(:mod:`smarketing.feedback._customer_scale`): each feedback gets its lead (an account's first lead for
feedback about an account only), then the feedback, lead records and stage events are co-partitioned by
lead and Spark sums the counts. Checked here:

* the partial-merge laws (Hypothesis, in polars): the leads split into partitions in any grouping and
  order, each partition's rows in any order, give the one-partition report;
* two stage events of a lead at the same time: the later one in the data is the stage, on any partitions;
* on Spark with many partitions, a New York session zone and Arrow batches of three rows, the report is
  polars' (account-only feedback included) and the driver reads only merged rows;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.spark_kit import Reads, partitions_of

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.feedback import customer_feedback
from smarketing.frames import _engine as engine
from smarketing.plan import AlignmentPlan

AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)
_KEYS = {"feedback": "_lead", "leads": "id", "stage_events": "lead_id"}
_BY: list[tuple[str, ...]] = [
    (),
    ("persona",),
    ("stage", "source"),
    ("persona", "campaign", "stage", "source"),
]


def _kinds(plan: AlignmentPlan, seed: int, n_leads: int) -> dict[str, pl.DataFrame]:
    """Leads, stage events and feedback; every third feedback about its lead's account only."""
    data = synthetic(plan, seed=seed, n_leads=n_leads)
    accounts = data.leads.select(pl.col("id").alias("lead_id"), pl.col("account_id").alias("_account"))
    feedback = data.feedback.join(accounts, on="lead_id", how="left")
    only_account = (pl.int_range(pl.len()) % 3 == 0) & pl.col("_account").is_not_null()
    feedback = feedback.with_columns(
        account_id=pl.when(only_account).then(pl.col("_account")).otherwise(pl.col("account_id")),
        lead_id=pl.when(only_account).then(None).otherwise(pl.col("lead_id")),
    ).drop("_account")
    return {"leads": data.leads, "stage_events": data.stage_events, "feedback": feedback}


_DATA: dict[int, dict[str, pl.DataFrame]] = {}


def _data(plan: AlignmentPlan, seed: int) -> dict[str, pl.DataFrame]:
    if seed not in _DATA:
        _DATA[seed] = _kinds(plan, seed, 120)
    return _DATA[seed]


def _split_run(parts: int, seed: int) -> Callable[..., Any]:
    def run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        whole = {kind: frame.lazy().collect() for kind, frame in data_.items()}
        return engine.local(partitions_of(whole, _KEYS, parts, seed), fn, tables)

    return run


@settings(max_examples=5, deadline=None)
@given(
    data_seed=st.integers(0, 1),
    by=st.sampled_from(_BY),
    parts=st.integers(1, 5),
    split_seed=st.integers(0, 2**32 - 1),
)
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_report(
    example_plan: AlignmentPlan, data_seed: int, by: tuple[str, ...], parts: int, split_seed: int
) -> None:
    data = _data(example_plan, data_seed)
    want = customer_feedback(example_plan, data, by=by, as_of=AS_OF).to_dict()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", _split_run(parts, split_seed))
        got = customer_feedback(example_plan, data, by=by, as_of=AS_OF).to_dict()
    assert got == want


def test_the_laws_data_has_feedback_of_accounts_tags_and_stages(example_plan: AlignmentPlan) -> None:
    data = _data(example_plan, 0)
    assert data["feedback"].filter(pl.col("lead_id").is_null()).height > 3
    report = customer_feedback(example_plan, data, by=("stage",), as_of=AS_OF)
    assert report.total > 10
    assert report.tags.height > 1
    assert report.scores.get_column("stage").drop_nulls().n_unique() > 1


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # Apart from their leads' records and events, feedback has no persona and no stage.
    data = _data(example_plan, 0)
    want = customer_feedback(example_plan, data, by=("persona", "stage"), as_of=AS_OF).to_dict()

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        whole = {kind: frame.lazy().collect() for kind, frame in data_.items()}
        empty = {kind: frame.clear() for kind, frame in whole.items()}
        parts = [{**empty, "feedback": whole["feedback"]}, {**whole, "feedback": empty["feedback"]}]
        return engine.local(parts, fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        got = customer_feedback(example_plan, data, by=("persona", "stage"), as_of=AS_OF).to_dict()
    assert got != want


def test_at_equal_times_the_later_event_in_the_data_is_the_stage_on_any_partitions(
    example_plan: AlignmentPlan,
) -> None:
    t = datetime(2026, 10, 1, 9, tzinfo=UTC)
    events = [sm.StageEvent(lead_id=x, to=to, time=t) for x in ("L1", "L2") for to in ("mql", "sal")]
    data = {
        "stage_events": events,
        "feedback": [sm.Feedback(id=f"F{x}", lead_id=x, time=t, source="survey") for x in ("L1", "L2")],
    }
    want = customer_feedback(example_plan, data, by=("stage",))
    assert want.seen.rows() == [("sal", 2, 0, 0, 2, 0.0, 0.0, 1.0)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", _split_run(2, 7))  # each partition's rows shuffled
        assert customer_feedback(example_plan, data, by=("stage",)).to_dict() == want.to_dict()


# --------------------------------------------------------------------------------------------------
# On Spark.


def test_on_spark_the_report_is_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _kinds(example_plan, 15, 120)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    by = ("persona", "stage")
    want = customer_feedback(example_plan, data, by=by, as_of=AS_OF)
    reads = Reads(monkeypatch, frames["leads"])
    got = customer_feedback(example_plan, frames, by=by, as_of=AS_OF)
    assert got.to_dict() == want.to_dict()
    # Merged rows only (the counts per group and type, tag and group, and the repeated-id count), not
    # one per feedback, lead or event.
    merged = want.scores.height + want.tags.height + want.seen.height + 1
    assert sum(reads.rows) <= merged < data["stage_events"].height
    assert data["feedback"].filter(pl.col("lead_id").is_null()).height > 3


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, many_partitions: Any
) -> None:
    data = _kinds(example_plan, 15, 60)
    # An NPS score of 11: the worker's boundary check refuses it, in the map.
    feedback = data["feedback"]
    first = pl.col("id") == feedback.get_column("id").min()
    bad = {
        **data,
        "feedback": feedback.with_columns(
            score_type=pl.when(first).then(pl.lit("nps")).otherwise(pl.col("score_type")),
            score=pl.when(first).then(11).otherwise(pl.col("score")),
        ),
    }
    with pytest.raises(DataError) as on_polars:
        customer_feedback(example_plan, bad, as_of=AS_OF)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in bad.items()}
    with pytest.raises(DataError) as on_spark:
        customer_feedback(example_plan, frames, as_of=AS_OF)
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
