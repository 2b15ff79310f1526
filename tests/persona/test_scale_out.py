"""Lead scoring scales out: the kernel per partition of complete leads, counts merged, scores kept.

``score`` runs the persona kernel through :mod:`smarketing.frames._engine` (:mod:`smarketing.persona._scale`):
on PySpark frames the leads, each lead's account row and the events the signals read are co-partitioned by
lead, each partition runs the polars kernel, Spark sums the counts and keeps the per-lead scores. Checked
here:

* the partial-merge laws (Hypothesis, in polars): the leads split into partitions in any grouping and
  order, each partition's rows in any order, give the one-partition scores (and signal counts);
* on Spark with many partitions, a New York session zone and Arrow batches of three rows, the scores are
  polars' and the driver reads only merged rows (not one per lead); ``LeadScores.frame`` stays a Spark
  frame that writes out to the polars rows; the match, agreement and segments are polars' too, and so
  are the findings of the persona data rules D008, D009 and D011, which call them;
* the calibration is a function of the leads counted per distinct score and grade: merged in any grouping
  it is the one-partition calibration; on Spark the distinct scores are ranked there and the driver reads a
  row per decile and per grade; D010 (which calls it) gives polars' finding;
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
from tests.rules.conftest import example_data
from tests.spark_kit import Reads, partitions_of

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.persona import _kernel, _scale, agreement, calibrate, match, score, segment
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset
from smarketing.rules import check

AS_OF = datetime(2026, 9, 30, 12, tzinfo=UTC)
#: Partitions of the Spark tests (tests/conftest.py's many_partitions).
SHUFFLE_PARTITIONS = 3
#: The kinds the scores read, by the column holding their lead id (accounts go with their leads).
_KINDS = {
    "leads": "id",
    "touchpoints": "lead_id",
    "activities": "lead_id",
    "stage_events": "lead_id",
    "dispositions": "lead_id",
    "deals": "lead_id",
}


def _kinds(data: Dataset) -> dict[str, pl.DataFrame]:
    return {**{kind: getattr(data, kind) for kind in _KINDS}, "accounts": data.accounts}


def _split(data: Mapping[str, pl.DataFrame], parts: int, seed: int) -> list[dict[str, pl.DataFrame]]:
    """The kinds in ``parts`` partitions of complete leads, each with the accounts of its leads."""
    out = []
    keys = {kind: key for kind, key in {**_KINDS, "_scores": "lead_id"}.items() if kind in data}
    for part in partitions_of(data, keys, parts, seed):
        accounts = part["leads"].get_column("account_id").drop_nulls().unique().implode()
        out.append({**part, "accounts": data["accounts"].filter(pl.col("id").is_in(accounts))})
    return out


_REFERENCES: dict[int, tuple[dict[str, pl.DataFrame], dict[str, Any], pl.DataFrame]] = {}


def _reference(
    plan: AlignmentPlan, seed: int
) -> tuple[dict[str, pl.DataFrame], dict[str, Any], pl.DataFrame]:
    """A small dataset of ``seed``, its scores and their signal counts."""
    if seed not in _REFERENCES:
        data = _kinds(synthetic(plan, seed=seed, n_leads=40))
        want = score(plan, data, as_of=AS_OF)
        _REFERENCES[seed] = data, want.to_dict(), want.signals()
    return _REFERENCES[seed]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_scores(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, want, signals = _reference(example_plan, data_seed)

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        assert score(example_plan, data, as_of=AS_OF).to_dict() == want
    # The signal counts Spark merges (one machine counts them from its inputs when asked).
    personas = tuple(example_plan.personas)
    merged = engine.local(
        _split(data, parts, split_seed),
        lambda part: _scale.score_map(part, personas, now_us=_kernel.as_of_us(AS_OF), signals=True),
        _scale.SCORE_TABLES,
    ).merged("signals")
    fired = signals.filter(pl.col("occurrences") > 0).select(merged.columns).sort("persona", "signal")
    assert_frame_equal(merged, fired)
    assert want["counts"]["mql"] > 0
    assert fired.height > 0


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_match(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, _, _ = _reference(example_plan, data_seed)
    want = match(example_plan, data, as_of=AS_OF).to_dict()

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        assert match(example_plan, data, as_of=AS_OF).to_dict() == want
    assert want["totals"]["leads_after_as_of"] > 0
    assert 0 < want["totals"]["matched"] < want["totals"]["leads"]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_agreement(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, _, _ = _reference(example_plan, data_seed)
    # Audited: some leads, and two ids no record has (audited, never judged, counted once).
    audit = [*data["leads"].get_column("id").head(15).to_list(), "nobody-1", "nobody-2"]
    by = ["account.industry", "source"]
    want = agreement(example_plan, data, by=by, audit=audit, resamples=20).to_dict()

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = agreement(example_plan, data, by=by, audit=audit, resamples=20).to_dict()
    assert repr(got) == repr(want)  # NaN in the same places
    assert want["overall"]["audit_unjudged"] >= 2
    assert want["overall"]["mqls"] > 0


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_segments(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, _, _ = _reference(example_plan, data_seed)
    by = ["account.industry", "source"]
    want = segment(example_plan, data, by=by).to_dict()

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = segment(example_plan, data, by=by).to_dict()
    assert repr(got) == repr(want)  # NaN in the same places
    assert want["value"]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 3), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_calibration(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, _, _ = _reference(example_plan, data_seed)
    scores = score(example_plan, data, as_of=AS_OF)
    want = calibrate(example_plan, data, as_of=AS_OF, capacity=2, scores=scores).to_dict()

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = calibrate(example_plan, data, as_of=AS_OF, capacity=2, scores=scores).to_dict()
    assert repr(got) == repr(want)  # NaN in the same places
    assert want["recommended_threshold"] is not None
    assert 0 < want["won"] < want["leads"]


def test_segments_count_each_fact_of_an_unknown_lead_and_each_deal_without_a_lead(
    example_plan: AlignmentPlan,
) -> None:
    # Counted, not flagged: two won deals without a lead are 2 (a literal alone once made every count 1).
    data, _, _ = _reference(example_plan, 0)
    won = (
        data["deals"]
        .filter(pl.col("stage") == "won")
        .head(2)
        .with_columns(pl.lit(None, pl.String).alias("lead_id"))
    )
    given = {**data, "deals": pl.concat([data["deals"], won.with_columns(pl.col("id") + "-x")])}
    counts = segment(example_plan, given).counts
    assert (
        counts["won_deals_without_lead"]
        == data["deals"].filter(pl.col("stage") == "won", pl.col("lead_id").is_null()).height + 2
    )
    assert counts["mqls_unknown_lead"] == 0


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The laws hold for partitions of complete leads only: a lead's touchpoints apart from the lead
    # do not count in its engagement.
    data, want, _ = _reference(example_plan, 0)

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        rest = {kind: frame for kind, frame in data_.items() if kind != "touchpoints"}
        return engine.local([rest, {"touchpoints": data_["touchpoints"]}], fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        assert score(example_plan, data, as_of=AS_OF).to_dict() != want


# --------------------------------------------------------------------------------------------------
# On Spark.


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> dict[str, pl.DataFrame]:
    return _kinds(synthetic(example_plan, seed=15, n_leads=150))


def test_on_spark_the_scores_are_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    want = score(example_plan, data, as_of=AS_OF)
    assert want.counts["leads"] > 100
    reads = Reads(monkeypatch, frames["leads"])
    got = score(example_plan, frames, as_of=AS_OF)
    # Merged rows only: per persona its leads, per persona and signal the occurrences, the late records
    # (no per-lead row, no input row).
    assert sum(reads.rows) <= got.by_persona.height + got.signals().height + 1 < want.counts["leads"] // 4
    # The scores stay on Spark until they are read or written out.
    assert engine.is_spark(got.frame)
    got.frame.write.parquet(str(tmp_path / "scores"))
    written = pl.read_parquet(tmp_path / "scores" / "*.parquet").sort("lead_id")
    assert_frame_equal(written, want.frame, check_exact=True)
    assert got.counts == want.counts
    assert_frame_equal(got.by_persona, want.by_persona, check_exact=True)
    assert_frame_equal(got.signals(), want.signals(), check_exact=True)
    # The whole result, read back, is compared by tests/frames/test_matrix.py.


def test_on_spark_the_match_keeps_its_rows_there_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    want = match(example_plan, data, as_of=AS_OF)
    reads = Reads(monkeypatch, frames["leads"])
    got = match(example_plan, frames, as_of=AS_OF)
    # Per persona the counts, the distinct criteria masks and the late leads, for leads and accounts.
    assert sum(reads.rows) < want.totals["leads"] // 4
    assert engine.is_spark(got.leads)
    assert engine.is_spark(got.accounts)
    assert (got.totals, got.no_data) == (want.totals, want.no_data)
    assert_frame_equal(got.counts, want.counts, check_exact=True)
    monkeypatch.undo()
    assert_frame_equal(got.to_frame(), want.to_frame(), check_exact=True)


def test_on_spark_the_agreement_is_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    audit = [*data["leads"].get_column("id").head(30).to_list(), "nobody"]
    want = agreement(example_plan, data, by="account.industry", audit=audit, resamples=50)
    reads = Reads(monkeypatch, frames["leads"])
    got = agreement(example_plan, frames, by="account.industry", audit=audit, resamples=50)
    # Per industry and cell the leads, per industry the won deals, the audited leads seen: no lead's row.
    assert sum(reads.rows) < len(data["stage_events"]) // 10
    assert repr(got.to_dict()) == repr(want.to_dict())


def test_on_spark_the_calibration_is_polars_and_the_driver_reads_a_row_per_decile_and_grade(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    polars_scores = score(example_plan, data, as_of=AS_OF)
    want = calibrate(example_plan, data, as_of=AS_OF, capacity=3, scores=polars_scores)
    assert want.recommended_threshold is not None
    totals = polars_scores.frame.select(pl.col("fit") + pl.col("engagement")).to_series()
    distinct = totals.n_unique()
    scores = score(example_plan, frames, as_of=AS_OF)
    reads = Reads(monkeypatch, frames["leads"])
    got = calibrate(example_plan, frames, as_of=AS_OF, capacity=3, scores=scores)
    # The totals, a row per grade, a row per range of scores (one per shuffle partition at most: the
    # ranks' offsets), a row per decile: not a row per lead or per distinct score.
    ranges = int(many_partitions.conf.get("spark.sql.shuffle.partitions"))
    assert sum(reads.rows) <= 1 + got.by_grade.height + ranges + 10 < distinct // 2
    assert repr(got.to_dict()) == repr(want.to_dict())


def test_on_spark_the_persona_data_rules_give_polars_findings(
    data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    # D008 (agreement), D009 (the scores' signal counts), D010 (calibrate) and D011 (match) call the
    # scaled-out analyses; sales' capacity of one lead a year makes D010 fire.
    given = example_data()
    given["sla"]["sales"]["capacity"] = {"count": 1, "period": "year"}
    plan = load_plan(given)
    rules = ["D008", "D009", "D010", "D011"]
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    want = check(plan, data=data, select=rules).to_dict()
    assert "D010" in {d["code"] for d in want["diagnostics"]}
    assert check(plan, data=frames, select=rules).to_dict() == want


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    # Company sizes as text: the worker's boundary check refuses them, in the map.
    bad = {**data, "leads": data["leads"].with_columns(pl.col("company_size").cast(pl.String))}
    with pytest.raises(DataError) as on_polars:
        score(example_plan, bad, as_of=AS_OF)
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in bad.items()}
    with pytest.raises(DataError) as on_spark:
        score(example_plan, frames, as_of=AS_OF)
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
