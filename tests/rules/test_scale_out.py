"""The data rules scale out: one map per record kind over partitions of complete records, merged there.

``check(plan, data=...)`` runs its value rules (D001 to D007, D013, D014) as passes of
:mod:`smarketing.rules._scan` through :mod:`smarketing.frames._engine`, and the rules that reuse an
analysis call it on the same sources. Checked here:

* the partial-merge laws (Hypothesis, on polars partitions): every kind split into partitions of complete
  records (by id, or by lead for kinds without one) in any grouping and order gives the one-partition
  report;
* on Spark with five shuffle partitions in a New York session zone, the report equals polars' while the
  driver reads only merged rows (bounded by the findings, not by the leads);
* a plugin rule runs on the plan alone whatever engine holds the data, and its fault is reported naming it;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.spark_kit import Reads, partitions

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS
from smarketing.rules import Finding, check, rule

#: The rules whose every read is a merged table (the persona, disposition and waterfall rules call
#: analyses that scale out on their own schedule).
VALUE_RULES = ["D001", "D002", "D003", "D004", "D005", "D006", "D007", "D013", "D014"]


def _broken(plan: AlignmentPlan, seed: int, n_leads: int) -> dict[str, pl.DataFrame]:
    """Synthetic data with something for every value rule to find: strange stages, people, teams, leads."""
    data = synthetic(plan, seed=seed, n_leads=n_leads)
    frames = {kind: getattr(data, kind) for kind in RECORD_KINDS}

    def every(n: int) -> pl.Expr:
        return pl.int_range(pl.len()) % n == 0

    events = frames["stage_events"]
    frames["stage_events"] = events.with_columns(
        pl.when(every(17)).then(pl.lit("limbo")).otherwise(pl.col("to")).alias("to"),
        pl.when(every(23)).then(pl.lit("ghost")).otherwise(pl.col("actor")).alias("actor"),
    )
    frames["leads"] = frames["leads"].with_columns(
        pl.when(every(7)).then(pl.lit("nobody")).otherwise(pl.col("owner")).alias("owner")
    )
    frames["touchpoints"] = frames["touchpoints"].with_columns(
        pl.when(every(11)).then(pl.lit("growth")).otherwise(pl.col("team")).alias("team"),
        pl.when(every(13)).then(pl.lit("L-gone")).otherwise(pl.col("lead_id")).alias("lead_id"),
    )
    frames["deals"] = frames["deals"].with_columns(
        pl.when(every(5)).then(pl.lit("L-lost")).otherwise(pl.col("lead_id")).alias("lead_id")
    )
    return frames


_REFERENCES: dict[int, tuple[dict[str, pl.DataFrame], dict[str, Any]]] = {}


def _reference(plan: AlignmentPlan, seed: int) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    if seed not in _REFERENCES:
        frames = _broken(plan, seed, 40)
        _REFERENCES[seed] = frames, check(plan, data=frames, select=VALUE_RULES).to_dict()
    return _REFERENCES[seed]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 2), parts=st.integers(1, 4), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_rule_partials_of_any_partitions_gives_the_one_partition_report(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    frames, want = _reference(example_plan, data_seed)
    codes = {d["code"] for d in want["diagnostics"]}
    assert codes >= {"D001", "D003", "D004", "D006", "D007"}

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **kw: Any) -> Any:
        whole = data_.collect() if isinstance(data_, pl.LazyFrame) else data_
        return engine.local(partitions(whole, kw["key"], parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = check(example_plan, data=frames, select=VALUE_RULES).to_dict()
    assert got == want


def test_the_law_can_fail_when_a_record_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # Partitions of complete leads only: a lead's events cut in two count the lead twice.
    frames, want = _reference(example_plan, 0)

    def halves(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **kw: Any) -> Any:
        whole = data_.collect() if isinstance(data_, pl.LazyFrame) else data_
        whole = whole.sort(kw["key"])
        return engine.local([whole.gather_every(2), whole.gather_every(2, offset=1)], fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", halves)
        assert check(example_plan, data=frames, select=VALUE_RULES).to_dict() != want


# --------------------------------------------------------------------------------------------------
# On Spark.


def test_on_spark_the_value_rules_give_the_polars_report_reading_only_merged_rows(
    example_plan: AlignmentPlan, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _broken(example_plan, 3, 60)
    on_spark = {kind: many_partitions.createDataFrame(f.to_arrow()) for kind, f in frames.items()}
    reads = Reads(monkeypatch, on_spark["leads"])
    distinct: list[str] = []
    read_distinct = engine.distinct

    def counted(frame: Any, column: str) -> list[Any]:
        distinct.append(column)
        return read_distinct(frame, column)

    monkeypatch.setattr(engine, "distinct", counted)
    got = check(example_plan, data=on_spark, select=VALUE_RULES)
    want = check(example_plan, data=frames, select=VALUE_RULES)
    assert got.to_dict() == want.to_dict()
    assert {d.code for d in got.diagnostics} >= {"D001", "D002", "D003", "D004", "D006", "D007"}
    # The deals' currencies are one Spark job per check: the pass that counts them and D006 share it.
    assert distinct == ["amount_currency"]
    # Merged rows only: per kind its size, per check its counts, values and first records; D002's
    # conformance tables and its first unfit leads; D014's campaign weeks. Not the data's rows.
    weeks = frames["leads"].select(pl.col("campaign"), pl.col("created_at").dt.truncate("1w")).n_unique()
    rows = sum(len(f) for f in frames.values())
    assert sum(reads.rows) <= 150 + 4 * weeks < rows / 2


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, many_partitions: Any
) -> None:
    frames = _broken(example_plan, 3, 30)
    # One event in 1850: the worker's boundary check refuses it, in the map of the stage events' pass.
    events = frames["stage_events"]
    frames["stage_events"] = events.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("time").dt.offset_by("-176y"))
        .otherwise(pl.col("time"))
        .alias("time")
    )
    with pytest.raises(DataError) as on_polars:
        check(example_plan, data=frames, select=["D001"])
    on_spark = {kind: many_partitions.createDataFrame(f.to_arrow()) for kind, f in frames.items()}
    with pytest.raises(DataError) as got:
        check(example_plan, data=on_spark, select=["D001"])
    assert type(got.value) is DataError
    assert str(got.value) == str(on_polars.value)


@rule("EX951", area="kpis", severity="info", title="t", rationale="r", fix="f")
def _wants_data(plan: AlignmentPlan, data: Any) -> Iterator[Finding]:  # expects the data: not given any
    yield Finding(str(data))


def test_plugin_rules_check_the_plan_alone_on_spark_and_their_faults_name_them(
    example_plan: AlignmentPlan, spark: Any
) -> None:
    frames = _broken(example_plan, 3, 30)
    on_spark = {kind: spark.createDataFrame(f.to_arrow()) for kind, f in frames.items()}
    # The installed example plugin (EX001, by its entry point) runs beside the data rules, on the plan.
    got = check(example_plan, data=on_spark, select=["EX", "D001"])
    assert got.to_dict() == check(example_plan, data=frames, select=["EX", "D001"]).to_dict()
    assert {"EX", "D001"} <= {r.code[:2] if r.code.startswith("EX") else r.code for r in got.rules}
    assert "D001" in {d.code for d in got.diagnostics}
    # A rule that wants the data gets the plan only, fails, and is named; the check goes on.
    faulty = check(example_plan, data=on_spark, rules=[_wants_data])
    crashed = [d for d in faulty.diagnostics if d.code == "SM001"]
    assert len(crashed) == 1
    assert "EX951" in crashed[0].message
