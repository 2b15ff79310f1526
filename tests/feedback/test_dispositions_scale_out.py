"""Dispositions scale out: the kernel per partition of complete leads, counts merged, per-lead rows kept.

:func:`smarketing.feedback.dispositions` runs its kernel through :mod:`smarketing.frames._engine`
(:mod:`smarketing.feedback._dispositions_scale`): on PySpark frames the stage events, dispositions, deals
and leads are co-partitioned by lead, each partition runs the polars kernel, Spark sums the counts, takes
the exact quantiles of the disposition times and keeps the per-lead rows. Checked here:

* the partial-merge laws (Hypothesis, in polars): the leads split into partitions in any grouping and
  order, each partition's rows in any order, give the one-partition report, per-lead rows included;
* a partition whose leads fall in closed time only (Christmas) has no clock of its own: the report is
  still the one-partition report (mapped again on the whole range's clock);
* on Spark with many partitions, a New York session zone and Arrow batches of three rows, the report is
  polars' and the driver reads only merged rows; ``DispositionReport.leads`` stays a Spark frame;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tests.spark_kit import Reads, partitions_of

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.feedback import dispositions
from smarketing.frames import _engine as engine
from smarketing.plan import AlignmentPlan

AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)
_KINDS = {"stage_events": "lead_id", "dispositions": "lead_id", "deals": "lead_id", "leads": "id"}
_BY: list[Any] = [None, "campaign", ("region", "week"), "account.industry"]


def _kinds(plan: AlignmentPlan, seed: int, n_leads: int) -> dict[str, pl.DataFrame]:
    """The kinds dispositions reads, with some reasons off the plan's list (every third disposition)."""
    data = synthetic(plan, seed=seed, n_leads=n_leads)
    frames = {kind: getattr(data, kind) for kind in (*_KINDS, "accounts")}
    off = pl.int_range(pl.len()) % 3 == 0
    frames["dispositions"] = frames["dispositions"].with_columns(
        reason=pl.when(off).then(pl.lit("gut_feeling")).otherwise(pl.col("reason"))
    )
    return frames


_DATA: dict[int, dict[str, pl.DataFrame]] = {}
_REFERENCES: dict[tuple[int, str], Any] = {}


def _reference(plan: AlignmentPlan, seed: int, by: Any) -> tuple[dict[str, pl.DataFrame], Any]:
    """The data of ``seed`` (40 leads) and its one-partition report by ``by``."""
    if seed not in _DATA:
        _DATA[seed] = _kinds(plan, seed, 40)
    data = _DATA[seed]
    if (seed, repr(by)) not in _REFERENCES:
        _REFERENCES[seed, repr(by)] = dispositions(plan, data, by=by, as_of=AS_OF)
    return data, _REFERENCES[seed, repr(by)]


def _split_run(parts: int, seed: int) -> Callable[..., Any]:
    def run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(partitions_of(data_, _KINDS, parts, seed), fn, tables)

    return run


@settings(max_examples=5, deadline=None)
@given(
    data_seed=st.integers(0, 1),
    by=st.sampled_from(_BY),
    parts=st.integers(1, 4),
    split_seed=st.integers(0, 2**32 - 1),
)
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_report(
    example_plan: AlignmentPlan, data_seed: int, by: Any, parts: int, split_seed: int
) -> None:
    data, want = _reference(example_plan, data_seed, by)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", _split_run(parts, split_seed))
        got = dispositions(example_plan, data, by=by, as_of=AS_OF)
    assert got.to_dict() == want.to_dict()
    assert_frame_equal(got.leads, want.leads, check_exact=True)


def test_the_reference_reports_have_what_the_laws_compare(example_plan: AlignmentPlan) -> None:
    # Medians, reasons off the list and undisposed leads: a law over empty tables would prove nothing.
    _, report = _reference(example_plan, 0, "campaign")
    overall = report.to_dict()["overall"]
    assert overall["handed_off"] > 10
    assert overall["median_hours"] is not None
    assert overall["p90_hours"] is not None
    assert report.unknown_reasons is not None
    assert report.unknown_reasons.get_column("leads").sum() > 1
    assert len(report.undisposed_examples) > 1
    assert report.groups is not None
    assert report.groups.height > 1


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The laws hold for partitions of complete leads only: a lead's dispositions apart from its stage
    # events are not its first disposition after the handoff.
    data, want = _reference(example_plan, 0, None)

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        rest = {kind: frame for kind, frame in data_.items() if kind != "dispositions"}
        return engine.local([rest, {"dispositions": data_["dispositions"]}], fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        assert dispositions(example_plan, data, as_of=AS_OF).to_dict() != want.to_dict()


def test_a_partition_in_closed_time_only_is_measured_on_the_whole_ranges_clock(
    example_plan: AlignmentPlan,
) -> None:
    # Christmas in Berlin: the 24th is a closed date, the 25th and 26th holidays, then a Sunday. A lead
    # handed off and disposed on the 25th has no open time around it: its partition alone has no clock.
    def lead(x: str, handoff: datetime, disposed: datetime) -> dict[str, list[Any]]:
        return {
            "stage_events": [sm.StageEvent(lead_id=x, to="mql", time=handoff)],
            "dispositions": [sm.Disposition(lead_id=x, reason="no_budget", time=disposed)],
        }

    xmas = lead("X", datetime(2026, 12, 25, 10, tzinfo=UTC), datetime(2026, 12, 25, 15, tzinfo=UTC))
    week = lead("W", datetime(2026, 12, 21, 9, tzinfo=UTC), datetime(2026, 12, 22, 9, tzinfo=UTC))
    both = {kind: sm.Dataset.from_records(**{kind: xmas[kind] + week[kind]}).frames()[kind] for kind in xmas}
    want = dispositions(example_plan, both)

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        parts = [{kind: frame.filter(pl.col("lead_id") == x) for kind, frame in data_.items()} for x in "XW"]
        return engine.local(parts, fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        got = dispositions(example_plan, both)
    assert got.to_dict() == want.to_dict()
    assert_frame_equal(got.leads, want.leads, check_exact=True)
    hours = dict(got.leads.select("lead_id", "hours").iter_rows())
    assert hours["X"] == 0.0  # no open time between its handoff and its disposition
    assert hours["W"] == 8.5  # Monday 10:00 to Tuesday 10:00 in Berlin: 2.5 + 4 + 2 business hours


# --------------------------------------------------------------------------------------------------
# On Spark.


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> dict[str, pl.DataFrame]:
    return _kinds(example_plan, 15, 100)


def test_on_spark_the_report_is_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    by = ("campaign", "week")
    want = dispositions(example_plan, data, by=by, as_of=AS_OF)
    assert want.leads.height > 40
    reads = Reads(monkeypatch, frames["leads"])
    got = dispositions(example_plan, frames, by=by, as_of=AS_OF)
    assert got.to_dict() == want.to_dict()
    assert_frame_equal(got.to_frame(), want.to_frame(), check_exact=True)
    # Merged rows only: the counts per group, per group and reason, per reason off the list, the first
    # leads and the clock's range (and the empty schema, the repeated deal ids); not the input's rows,
    # which the collecting path read.
    assert want.groups is not None
    assert want.unknown_reasons is not None
    merged = 1 + want.groups.height + want.reasons.height + 2 * want.unknown_reasons.height
    read_before = sum(len(data[kind]) for kind in ("stage_events", "dispositions", "deals", "leads"))
    assert sum(reads.rows) <= merged + 8 < read_before // 2
    # The per-lead rows stay on Spark until they are read or written out.
    assert engine.is_spark(got.leads)
    got.leads.write.parquet(str(tmp_path / "leads"))
    written = pl.read_parquet(tmp_path / "leads" / "*.parquet").sort("lead_id")
    assert_frame_equal(written.with_columns(_utc(written)), want.leads, check_exact=True)


def _utc(frame: pl.DataFrame) -> list[pl.Expr]:
    """The times of a frame read back from Parquet as polars' (microseconds, UTC)."""
    return [
        pl.col(c).dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        if t.time_zone is None
        else pl.col(c).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ]


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    # A disposition in 1850: the worker's boundary check refuses it, in the map.
    bad = {
        **data,
        "dispositions": data["dispositions"].with_columns(
            pl.when(pl.col("lead_id") == pl.col("lead_id").max())
            .then(pl.col("time").dt.offset_by("-176y"))
            .otherwise(pl.col("time"))
            .alias("time")
        ),
    }
    with pytest.raises(DataError) as on_polars:
        dispositions(example_plan, bad, as_of=AS_OF)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in bad.items()}
    with pytest.raises(DataError) as on_spark:
        dispositions(example_plan, frames, as_of=AS_OF)
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
    assert "outside the years" in str(on_spark.value)


def test_a_deal_id_twice_in_two_partitions_is_refused_as_on_one_machine(
    example_plan: AlignmentPlan, data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    deals = data["deals"].filter(pl.col("lead_id").is_not_null())
    twice = pl.concat([deals, deals.head(1).with_columns(lead_id=pl.lit(deals.get_column("lead_id")[-1]))])
    bad = {**data, "deals": twice}
    with pytest.raises(DataError) as on_polars:
        dispositions(example_plan, bad, as_of=AS_OF)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in bad.items()}
    with pytest.raises(DataError) as on_spark:
        dispositions(example_plan, frames, as_of=AS_OF)
    assert str(on_spark.value) == str(on_polars.value)
