"""The waterfall, the campaign comparison and sourced / influenced scale out: per partition of leads.

``waterfall``, ``compare_campaigns`` and ``sourced_influenced`` run their polars kernels through
:mod:`smarketing.frames._engine` (:mod:`smarketing.feedback._scale`): on PySpark frames the record kinds
are co-partitioned by lead, each partition runs the kernel, Spark sums the counts and money and takes the
exact medians. Checked here:

* the partial-merge laws (Hypothesis, in polars): the leads split into partitions in any grouping and
  order, each partition's rows in any order, give the one-partition answer;
* on Spark with three partitions, a New York session zone and Arrow batches of three rows, each answer is
  polars' and the driver reads only merged rows (not one per lead); ``check``'s D015 runs the waterfall
  there too;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.

The same answers on every kind of input (one Spark partition too) are compared by
``tests/frames/test_matrix.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.spark_kit import Reads, partitions_of

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.feedback import _scale, compare_campaigns, sourced_influenced, waterfall
from smarketing.frames import _engine as engine
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.rules import check

#: Shuffle partitions of the ``many_partitions`` session: several, and few tasks per Spark job.
SHUFFLE_PARTITIONS = 3
AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)
FX = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])
#: The record kinds these analyses read, by the column holding their lead's id (accounts: none, copied).
_KEYS = {
    "leads": "id",
    "stage_events": "lead_id",
    "deals": "lead_id",
    "touchpoints": "lead_id",
    "dispositions": "lead_id",
}
_KINDS = [*_KEYS, "accounts"]

Analysis = Callable[[AlignmentPlan, Any], Any]
ANALYSES: dict[str, Analysis] = {
    "waterfall-cohort": lambda plan, data: waterfall(
        plan, data, view="cohort", period="month", by="source_team", as_of=AS_OF, fx=FX
    ),
    "waterfall-period": lambda plan, data: waterfall(
        plan, data, view="period", period="week", by="account.industry", as_of=AS_OF, fx=FX
    ),
    "compare_campaigns": lambda plan, data: compare_campaigns(plan, data, as_of=AS_OF, fx=FX),
    "sourced_influenced": lambda plan, data: sourced_influenced(plan, data, by="team", as_of=AS_OF, fx=FX),
}


def _frames(plan: AlignmentPlan, seed: int, n_leads: int) -> dict[str, pl.DataFrame]:
    data = synthetic(plan, seed=seed, n_leads=n_leads)
    return {kind: getattr(data, kind) for kind in _KINDS}


def _split(data: Mapping[str, pl.DataFrame], parts: int, seed: int) -> list[dict[str, pl.DataFrame]]:
    """The kinds in ``parts`` partitions of complete leads; the accounts (not keyed by lead) in every one."""
    return [{"accounts": data["accounts"], **part} for part in partitions_of(data, _KEYS, parts, seed)]


_REFERENCES: dict[int, tuple[dict[str, pl.DataFrame], dict[str, Any]]] = {}


def _reference(plan: AlignmentPlan, seed: int) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """A small dataset of ``seed`` and each analysis' answer on it."""
    if seed not in _REFERENCES:
        data = _frames(plan, seed, 40)
        _REFERENCES[seed] = data, {name: run(plan, data).to_dict() for name, run in ANALYSES.items()}
    return _REFERENCES[seed]


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 2), parts=st.integers(1, 4), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_partition_answer(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    data, want = _reference(example_plan, data_seed)

    def split_run(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        return engine.local(_split(data_, parts, split_seed), fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", split_run)
        got = {name: run(example_plan, data).to_dict() for name, run in ANALYSES.items()}
    assert got == want


def test_the_answers_are_not_empty(example_plan: AlignmentPlan) -> None:
    # An empty answer would make the laws hold without proving anything.
    _, want = _reference(example_plan, 0)
    rows = want["waterfall-cohort"]["rows"]
    assert sum(r["volume"] for r in rows) > 0
    assert any(r["velocity_days"] is not None for r in rows)
    assert any(r["value"] for r in want["waterfall-period"]["rows"])
    campaigns = want["compare_campaigns"]["campaigns"]
    assert sum(r["mqls"] for r in campaigns) > 0
    assert sum(r["pipeline_minor"] for r in campaigns) > 0
    assert sum(r["influenced_pipeline"] for r in want["sourced_influenced"]["rows"]) > 0


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The laws hold for partitions of complete leads only: a lead's stage events apart from its record
    # are a lead left out, and its record a lead at no step.
    data, want = _reference(example_plan, 0)

    def apart(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        rest = {kind: frame for kind, frame in data_.items() if kind != "stage_events"}
        return engine.local([rest, {"stage_events": data_["stage_events"]}], fn, tables)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "run", apart)
        got = ANALYSES["waterfall-cohort"](example_plan, data).to_dict()
    assert got["left_out"] > 0
    assert got != want["waterfall-cohort"]


# --------------------------------------------------------------------------------------------------
# On Spark.


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> dict[str, pl.DataFrame]:
    return _frames(example_plan, 15, 100)


def test_on_spark_each_answer_is_polars_and_the_driver_reads_only_merged_rows(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    reads = Reads(monkeypatch, frames["leads"])
    # Merged rows only: per (month, team, step) its sums and its medians, and the leads left out.
    got = waterfall(example_plan, frames, view="cohort", by="source_team", as_of=AS_OF, fx=FX)
    assert got.to_dict() == waterfall(example_plan, data, by="source_team", as_of=AS_OF, fx=FX).to_dict()
    assert sum(reads.rows) <= 2 * len(got.rows) + 1 < len(data["stage_events"]) / 2
    # Per campaign its counts and money, per campaign and reason its leads, the deals' currencies.
    reads.rows.clear()
    compared = compare_campaigns(example_plan, frames, as_of=AS_OF, fx=FX)
    assert compared.to_dict() == compare_campaigns(example_plan, data, as_of=AS_OF, fx=FX).to_dict()
    assert sum(reads.rows) <= 2 * len(compared.campaigns) + len(compared.reasons) + 2 < len(data["leads"])
    # Per team its sums and the totals; the touches before each deal stay on Spark, where attribute()
    # merges its cells: per (journey length, position, team), not per touch.
    reads.rows.clear()
    si = sourced_influenced(example_plan, frames, by="team", as_of=AS_OF, fx=FX)
    assert si.to_dict() == sourced_influenced(example_plan, data, by="team", as_of=AS_OF, fx=FX).to_dict()
    assert 0 < sum(reads.rows) < len(data["touchpoints"]) / 4
    # The weighed models too: per (measure, team, exponent) their exact sums.
    # The deals' touches are never read into the driver (the one-machine branch reads them by to_polars).
    to_polars, read_touches = engine.to_polars, []

    def spy(frame: Any) -> pl.DataFrame:
        read_touches.extend(["touch"] if "touch" in frame.columns else [])
        return to_polars(frame)

    monkeypatch.setattr(engine, "to_polars", spy)
    weighed = (("markov", {"convention": "journey"}), ("ascending", {}))
    for model, params in weighed:  # the example plugin declares per_journey
        reads.rows.clear()
        options: dict[str, Any] = {"by": "team", "as_of": AS_OF, "fx": FX, "model": model, **params}
        got = sourced_influenced(example_plan, frames, **options)
        assert got.to_dict() == sourced_influenced(example_plan, data, **options).to_dict(), model
        assert 0 < sum(reads.rows) < len(data["touchpoints"]) / 4, model
        assert not read_touches, model


def test_on_spark_check_runs_the_waterfall_rule_through_the_layer(
    example_plan: AlignmentPlan,
    data: dict[str, pl.DataFrame],
    many_partitions: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # D015 calls the public waterfall on the check's sources: on Spark, the waterfall's map runs there.
    data = {kind: data[kind] for kind in ("leads", "stage_events")}  # what D015 reads
    frames = {kind: many_partitions.createDataFrame(frame.to_arrow()) for kind, frame in data.items()}
    tables: list[Mapping[str, Any]] = []
    spark_run = engine.spark_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        tables.append(args[2])
        return spark_run(*args, **kwargs)

    monkeypatch.setattr(engine, "spark_run", spy)
    got = check(example_plan, data=frames, select=["D015"])
    assert _scale.WATERFALL in tables
    want = check(example_plan, data=data, select=["D015"])
    assert got.to_dict() == want.to_dict()


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    example_plan: AlignmentPlan, data: dict[str, pl.DataFrame], many_partitions: Any
) -> None:
    # Won deals in USD and no rates: the map of each partition with one refuses it, naming the deal.
    won = pl.col("stage") == "won"
    data = {
        **data,
        "deals": data["deals"].with_columns(
            pl.when(won).then(pl.lit("USD")).otherwise("amount_currency").alias("amount_currency")
        ),
    }
    with pytest.raises(DataError) as on_polars:
        waterfall(example_plan, data, as_of=AS_OF)
    frames = {
        kind: many_partitions.createDataFrame(data[kind].to_arrow())
        for kind in ("leads", "stage_events", "deals")
    }
    with pytest.raises(DataError) as got:
        waterfall(example_plan, frames, as_of=AS_OF)
    assert type(got.value) is DataError
    assert str(got.value) == str(on_polars.value)
    assert on_polars.value.record is not None
