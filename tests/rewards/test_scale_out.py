"""``compute_rewards`` scales out: credit mapped per partition of leads, tiers and caps per participant.

Given deals (and touchpoints, stage events) as PySpark DataFrames, each partition of complete leads is
credited by the one-machine code, Spark merges the sums per (participant, period), the driver finalises the
attainment, and team pools, tier and cap spreads and clawbacks run as further maps on the lines kept on
Spark (:mod:`smarketing.rewards._scale`). Checked here:

* the partial-merge laws (Hypothesis, on polars partitions): the leads split into partitions in any
  grouping and order give the one-machine ledger, every cent and tie-break, with clawbacks and caps; and
  the cents are conserved: a deal's credit lines add up to its pool exactly;
* on Spark, the driver reads merged rows per participant and period, never a table with a deal column; the
  ledger's lines stay a PySpark DataFrame that writes out and equals polars' lines;
* a ``DataError`` raised by a map on a worker (a missing exchange rate) reaches the user as the same error;
* Markov's per-touch credit (``convention: journey``): a chain map sends each version's transition counts,
  the driver solves the one-machine chain and the credit map splits each journey by its removal effects;
  the same laws hold (any grouping and order gives the one-machine ledger, orders 1 and 2), they fail when
  each partition solves its own chain, and on Spark the driver reads the chain's merged rows, no deal;
* a plugin model that declares ``per_journey = True`` maps too (any grouping gives the one-machine ledger;
  on Spark its lines stay there and its fault on a worker reaches the user as its ``PluginError``); one
  that does not declare it is read into the driver.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.spark_kit import partitions

from smarketing._periods import period_bounds
from smarketing.datasets import synthetic
from smarketing.errors import DataError, PluginError
from smarketing.frames import _engine as engine
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.rewards import RewardLedger, _scale, compute_rewards
from smarketing.rewards._context import _Context

FX = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])
PERIOD, AS_OF = "2026-11", date(2026, 11, 30)


def _plan(example_plan: AlignmentPlan) -> AlignmentPlan:
    """The example plan with caps low enough to bite on a few dozen leads."""
    assert example_plan.rewards is not None
    rewards = example_plan.rewards.model_copy(
        update={
            "cap_per_deal": Money("400", "EUR"),
            "cap_per_period": Money("900", "EUR"),
        }
    )
    return example_plan.model_copy(update={"rewards": rewards})


def _data(plan: AlignmentPlan, seed: int, n_leads: int) -> Dataset:
    """Synthetic leads whose won deals close in October and November, every third October one refunded."""
    data = synthetic(plan, seed=seed, n_leads=n_leads)
    won = pl.col("stage") == "won"
    close = pl.lit(date(2026, 10, 1)) + pl.duration(days=(pl.col("_i") * 7) % 58)
    deals = (
        data.deals.with_row_index("_i")
        .with_columns(
            pl.when(won).then(close).otherwise(pl.col("close_date")).cast(pl.Date).alias("close_date")
        )
        .with_columns(
            pl.when(won & (pl.col("_i") % 3 == 0) & (pl.col("close_date") <= date(2026, 10, 31)))
            .then(pl.col("close_date") + timedelta(days=29))
            .otherwise(None)
            .cast(data.deals.schema["refunded_on"])
            .alias("refunded_on")
        )
        .drop("_i")
    )
    return Dataset(
        **{**{k: getattr(data, k) for k in ("leads", "touchpoints", "stage_events")}, "deals": deals}
    )


def _compute(
    plan: AlignmentPlan,
    data: Dataset,
    deals: Any = None,
    period: str = PERIOD,
    previous: RewardLedger | None = None,
    **frames: Any,
) -> RewardLedger:
    return compute_rewards(
        data.deals if deals is None else deals,
        plan,
        touchpoints=frames.get("touchpoints", data.touchpoints),
        stage_events=frames.get("stage_events", data.stage_events),
        fx=FX,
        period=period,
        as_of=AS_OF,
        previous=previous,
    )


def _split_run(parts: int, seed: int) -> Callable[..., engine.Partials]:
    """An engine run that maps ``parts`` partitions of complete keys, chosen and ordered by ``seed``."""

    def run(
        data: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **options: Any
    ) -> engine.Partials:
        return engine.local(partitions(data, options["key"], parts, seed), fn, tables)

    return run


def _scaled(plan: AlignmentPlan, data: Dataset, run: Any, period: str = PERIOD) -> RewardLedger:
    """The ledger of ``period`` by the engine path, its maps run by ``run`` on polars frames."""
    ctx = _Context.of(plan)
    table, summary, teams = _scale.engine_rewards(
        data.deals,
        ctx,
        touchpoints=data.touchpoints,
        stage_events=data.stage_events,
        fx=FX,
        kind="month",
        period=period,
        cutoff=min(period_bounds(period)[1], AS_OF),
        run=run,
    )
    assert ctx.plan.id is not None
    return RewardLedger(
        period=period,
        currency=ctx.plan.currency,
        as_of=AS_OF,
        plan_id=ctx.plan.id,
        locked=False,
        lines=None,
        summary=summary.sort("participant"),
        deals=None,
        teams=teams,
        table=table,
    )


def _on_spark(data: Dataset, session: Any) -> dict[str, Any]:
    """The deals, touchpoints and stage events of ``data`` as Spark frames of ``session``."""
    kinds = ("deals", "touchpoints", "stage_events")
    return {kind: session.createDataFrame(getattr(data, kind).to_arrow()) for kind in kinds}


@contextlib.contextmanager
def _driver_reads() -> Iterator[list[list[str]]]:
    """The columns of every merged frame the engine reads into the driver while the block runs."""
    read: list[list[str]] = []
    real = engine.to_polars

    def spy(frame: Any) -> pl.DataFrame:
        out = real(frame)
        read.append(out.columns)
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "to_polars", spy)
        yield read


_REFERENCES: dict[int, tuple[Dataset, dict[str, Any]]] = {}


def _reference(plan: AlignmentPlan, seed: int) -> tuple[Dataset, dict[str, Any]]:
    if seed not in _REFERENCES:
        data = _data(plan, seed, 60)
        _REFERENCES[seed] = data, _compute(plan, data).to_dict()
    return _REFERENCES[seed]


def test_the_cases_pay_tiers_caps_and_clawbacks(example_plan: AlignmentPlan) -> None:
    # Without these components the laws below would not prove their spreads.
    plan = _plan(example_plan)
    components = set()
    for seed in (1, 4):
        _, want = _reference(plan, seed)
        components |= {line["component"] for line in want["lines"]}
    assert components >= {"pool", "split", "team_pool", "tier", "cap", "clawback"}


@settings(max_examples=5, deadline=None)
@given(data_seed=st.sampled_from([1, 4]), parts=st.integers(1, 6), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_machine_ledger(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    plan = _plan(example_plan)
    data, want = _reference(plan, data_seed)
    got = _scaled(plan, data, _split_run(parts, split_seed))
    assert got.to_dict() == want
    # Cents conserved in any grouping: each deal's pool, split and team-pool lines add up to its pool.
    credit = got.to_frame().filter(
        pl.col("component").is_in(["pool", "split", "team_pool"]) & (pl.col("source") != "overlay")
    )
    per_deal = credit.group_by("deal").agg(pl.col("amount").sum(), pl.col("deal_pool").first())
    assert len(per_deal)
    assert (per_deal.get_column("amount") == per_deal.get_column("deal_pool")).all()


def test_the_law_can_fail_when_a_participant_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # The per-participant stage needs a participant's lines together: split them and the tiers differ.
    plan = _plan(example_plan)
    data, want = _reference(plan, 1)

    def halves(data_: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **options: Any) -> Any:
        if options["key"] != "participant":
            return engine.local([data_], fn, tables)
        rows = data_.with_row_index("_r")
        return engine.local(
            [rows.filter(pl.col("_r") % 2 == 0).drop("_r"), rows.filter(pl.col("_r") % 2 == 1).drop("_r")],
            fn,
            tables,
        )

    assert _scaled(plan, data, halves).to_dict() != want


@pytest.fixture(scope="module")
def spark_case(example_plan: AlignmentPlan, spark: Any) -> tuple[Dataset, RewardLedger, list[list[str]]]:
    """One Spark run (New York session), the columns of every frame the driver read during it."""
    plan = _plan(example_plan)
    data = _data(plan, 1, 80)
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    frames = _on_spark(data, spark)
    with _driver_reads() as read:
        ledger = _compute(plan, data, **frames)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return data, ledger, read


def test_spark_gives_the_polars_ledger_and_reads_no_deal_rows(
    example_plan: AlignmentPlan, spark_case: tuple[Dataset, RewardLedger, list[list[str]]]
) -> None:
    data, ledger, read = spark_case
    assert engine.is_spark(ledger.line_table)
    # Merged rows only: sums per (participant, period), periods, the run's size; never per deal or line.
    assert read
    assert not [columns for columns in read if any(c.endswith("deal") for c in columns)]
    assert ledger.to_dict() == _compute(_plan(example_plan), data).to_dict()


def test_the_spark_lines_write_out_and_equal_polars(
    example_plan: AlignmentPlan, spark_case: tuple[Dataset, RewardLedger, list[list[str]]], tmp_path: Path
) -> None:
    data, ledger, _ = spark_case
    ledger.line_table.write.parquet(str(tmp_path / "lines"))
    written = pl.read_parquet(tmp_path / "lines" / "*.parquet")
    want = _compute(_plan(example_plan), data).line_table
    assert written.schema == want.schema
    assert written.sort(written.columns).equals(want.sort(want.columns))
    assert len(ledger) == len(want) > 0


def test_a_data_error_on_a_worker_reaches_the_user(example_plan: AlignmentPlan, spark: Any) -> None:
    # No USD rate before 2030: the intake map on the worker raises; the driver raises the same error.
    plan = _plan(example_plan)
    data = _data(plan, 2, 40)
    fx = FxTable([("USD", "EUR", date(2030, 1, 1), "0.9")])
    with pytest.raises(DataError) as polars_error:
        compute_rewards(data.deals, plan, touchpoints=data.touchpoints, fx=fx, period=PERIOD, as_of=AS_OF)
    deals = spark.createDataFrame(data.deals.to_arrow())
    touches = spark.createDataFrame(data.touchpoints.to_arrow())
    with pytest.raises(DataError) as spark_error:
        compute_rewards(deals, plan, touchpoints=touches, fx=fx, period=PERIOD, as_of=AS_OF)
    assert type(spark_error.value) is type(polars_error.value)
    assert str(spark_error.value) == str(polars_error.value)
    assert spark_error.value.record == polars_error.value.record


# --------------------------------------------------------------------------------------------------
# Markov: the chain of every journey a version credits, solved once on the driver.

SHUFFLE_PARTITIONS = 2  # the many_partitions fixture: the chain is merged across partitions on Spark too


def _with_model(example_plan: AlignmentPlan, model: str, params: dict[str, Any]) -> AlignmentPlan:
    """The capped plan crediting half of each pool by ``model`` (its attribution key: the touch owner)."""
    plan = _plan(example_plan)
    assert plan.rewards is not None
    assert plan.rewards.attribution is not None
    attribution = plan.rewards.attribution.model_copy(update={"model": model, "params": params})
    rewards = plan.rewards.model_copy(update={"attribution": attribution})
    return plan.model_copy(update={"rewards": rewards})


def _markov_plan(example_plan: AlignmentPlan, order: int = 1) -> AlignmentPlan:
    """Markov's per-touch credit: each journey split by its keys' removal effects in the whole chain."""
    return _with_model(example_plan, "markov", {"order": order, "convention": "journey"})


_MARKOV: dict[tuple[int, int, str], dict[str, Any]] = {}


def _markov_reference(
    example_plan: AlignmentPlan, seed: int, order: int, period: str = PERIOD
) -> tuple[Dataset, dict[str, Any]]:
    data, _ = _reference(_plan(example_plan), seed)
    if (seed, order, period) not in _MARKOV:
        ledger = _compute(_markov_plan(example_plan, order), data, period=period)
        _MARKOV[seed, order, period] = ledger.to_dict()
    return data, _MARKOV[seed, order, period]


@settings(max_examples=5, deadline=None)
@given(
    # The data's seed and the period: November needs October too (its refunds claw October back), so its
    # chain is both months' journeys; October's is October's deals' alone.
    case=st.tuples(st.sampled_from([1, 4]), st.sampled_from(["2026-10", PERIOD])),
    order=st.sampled_from([1, 2]),
    parts=st.integers(1, 6),
    split_seed=st.integers(0, 2**32 - 1),
)
def test_markov_partials_merged_in_any_grouping_give_the_one_machine_ledger(
    example_plan: AlignmentPlan, case: tuple[int, str], order: int, parts: int, split_seed: int
) -> None:
    data_seed, period = case
    data, want = _markov_reference(example_plan, data_seed, order, period)
    got = _scaled(_markov_plan(example_plan, order), data, _split_run(parts, split_seed), period)
    assert got.to_dict() == want


def test_the_markov_law_fails_when_each_partition_solves_its_own_chain(
    example_plan: AlignmentPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the broadcast effects the credit map runs attribute() on its partition's journeys alone.
    data, want = _markov_reference(example_plan, 1, 1)
    plan = _markov_plan(example_plan)
    assert _scaled(plan, data, _split_run(4, 7)).to_dict() == want
    monkeypatch.setattr(_scale, "_removal_effects", lambda *_: {})
    assert _scaled(plan, data, _split_run(4, 7)).to_dict() != want


def test_an_order_too_large_for_the_recipients_is_refused_as_one_machine_refuses_it(
    example_plan: AlignmentPlan,
) -> None:
    # States of 62 keys out of two or more pass the kernel's 62-bit codes: the merged chain names its keys.
    data, _ = _reference(_plan(example_plan), 1)
    plan = _markov_plan(example_plan, 62)
    with pytest.raises(ValueError, match="too large to index states") as want:
        _compute(plan, data)
    with pytest.raises(ValueError, match="too large to index states") as got:
        _scaled(plan, data, _split_run(3, 1))
    assert str(got.value) == str(want.value)


def test_markov_credit_differs_from_the_heuristic(example_plan: AlignmentPlan) -> None:
    # Else the laws above could pass on a plan whose attribution never reached the chain.
    _, markov = _markov_reference(example_plan, 1, 1)
    _, position = _reference(_plan(example_plan), 1)
    assert markov != position


def test_markov_on_spark_reads_the_merged_chain_not_the_deals(
    example_plan: AlignmentPlan, many_partitions: Any
) -> None:
    data, want = _markov_reference(example_plan, 1, 1)
    frames = _on_spark(data, many_partitions)
    with _driver_reads() as read:
        ledger = _compute(
            _markov_plan(example_plan),
            data,
            deals=frames["deals"],
            touchpoints=frames["touchpoints"],
            stage_events=frames["stage_events"],
        )
        assert engine.is_spark(ledger.line_table)  # mapped, not read into polars at the boundary
    assert any(any(c.endswith("transitions__count") for c in columns) for columns in read)
    assert not [columns for columns in read if any(c.endswith("deal") for c in columns)]
    assert ledger.to_dict() == want


def test_shapley_and_markov_global_read_into_polars_which_refuses_them(
    example_plan: AlignmentPlan, spark: Any
) -> None:
    # No per-touch credit: one machine raises once a deal is credited, so on Spark these plans take the
    # one-machine path (read at the boundary) and raise the same; Markov's journey convention maps.
    data, _ = _reference(_plan(example_plan), 1)
    deals = spark.createDataFrame(data.deals.head(1).to_arrow())
    touches = spark.createDataFrame(data.touchpoints.head(1).to_arrow())
    for model, params in (("shapley", {}), ("markov", {"order": 1}), ("markov", {"convention": "journal"})):
        plan = _with_model(example_plan, model, params)
        assert plan.rewards is not None
        assert not _scale.on_engine(deals, touches, None, plan.rewards)
        with pytest.raises(ValueError, match=r"per-touch credit|convention must be"):
            _compute(plan, data)
    assert _scale.on_engine(deals, touches, None, _markov_plan(example_plan, 3).rewards)


# --------------------------------------------------------------------------------------------------
# A plugin model that declares ``per_journey = True`` (the example plugin ``ascending``) maps too.


def _plugin_plan(example_plan: AlignmentPlan, params: dict[str, Any] | None = None) -> AlignmentPlan:
    return _with_model(example_plan, "ascending", params or {})


@settings(max_examples=4, deadline=None)
@given(parts=st.integers(1, 6), split_seed=st.integers(0, 2**32 - 1))
def test_a_per_journey_plugin_merged_in_any_grouping_gives_the_one_machine_ledger(
    example_plan: AlignmentPlan, parts: int, split_seed: int
) -> None:
    data, _ = _reference(_plan(example_plan), 1)
    plan = _plugin_plan(example_plan)
    want = _compute(plan, data).to_dict()
    assert want != _reference(_plan(example_plan), 1)[1]  # the plugin's credit, not the plan's own model
    assert _scaled(plan, data, _split_run(parts, split_seed)).to_dict() == want


def test_only_a_plugin_that_declares_per_journey_maps(
    example_plan: AlignmentPlan, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smarketing.attribution import registry

    class Whole:
        """Weighs each touch by how many journeys there are: a journey's weights depend on the others."""

        name = "whole"

        def touch_weights(self, journeys: Any, /, **params: Any) -> Any:
            return np.full(journeys.n_touches, float(journeys.n_journeys))

    class Says(Whole):
        name = "says"
        per_journey = "yes"  # not True: not the declaration

    data, _ = _reference(_plan(example_plan), 1)
    deals = spark.createDataFrame(data.deals.head(1).to_arrow())
    touches = spark.createDataFrame(data.touchpoints.head(1).to_arrow())
    ascending = registry.installed_models()[0]["ascending"]
    fake = {"ascending": ascending, "whole": Whole(), "says": Says()}
    monkeypatch.setattr(registry, "installed_models", lambda: (fake, {}))
    for name, maps in (("ascending", True), ("whole", False), ("says", False)):
        plan = _with_model(example_plan, name, {})
        assert plan.rewards is not None
        assert _scale.on_engine(deals, touches, None, plan.rewards) is maps, name


def test_a_per_journey_plugin_on_spark_keeps_the_lines_there_and_its_fault_names_it(
    example_plan: AlignmentPlan, many_partitions: Any
) -> None:
    data, _ = _reference(_plan(example_plan), 1)
    frames = _on_spark(data, many_partitions)
    plan = _plugin_plan(example_plan)
    with _driver_reads() as read:
        ledger = _compute(plan, data, **frames)
        assert engine.is_spark(ledger.line_table)  # mapped, not read into polars at the boundary
    assert read
    assert not [columns for columns in read if any(c.endswith("deal") for c in columns)]
    assert ledger.to_dict() == _compute(plan, data).to_dict()
    # The plugin refuses parameters on the worker: the user gets its PluginError, naming it, as on polars.
    broken = _plugin_plan(example_plan, {"speed": 2})
    with pytest.raises(PluginError) as polars_error:
        _compute(broken, data)
    with pytest.raises(PluginError) as spark_error:
        _compute(broken, data, **frames)
    assert spark_error.value.plugin == polars_error.value.plugin == "ascending"
    assert spark_error.value.group == "smarketing.attribution"
    assert str(spark_error.value) == str(polars_error.value)
    assert "takes no parameters" in str(spark_error.value)


# --------------------------------------------------------------------------------------------------
# A locked period: the paid lines and the adjustments, on Spark.


def test_a_locked_period_on_spark_keeps_the_paid_lines_and_adds_polars_adjustments_there(
    example_plan: AlignmentPlan, many_partitions: Any
) -> None:
    from pyspark.sql.classic.dataframe import DataFrame

    plan = _plan(example_plan)
    data, _ = _reference(plan, 1)
    # Paid before the data changed: without the last third of the deals, and every fifth amount halved.
    kept = data.deals.head(2 * data.deals.height // 3).with_row_index("_i")
    halved = pl.when(pl.col("_i") % 5 == 0).then(pl.col("amount") / 2).otherwise(pl.col("amount"))
    before = kept.with_columns(halved.cast(data.deals.schema["amount"])).drop("_i")
    paid = _compute(plan, data, deals=before).lock()
    assert plan.rewards is not None
    locked_plan = plan.model_copy(
        update={"rewards": plan.rewards.model_copy(update={"locked_through": AS_OF})}
    )
    frames = _on_spark(data, many_partitions)

    def locked(previous: RewardLedger, **given: Any) -> RewardLedger:
        return _compute(locked_plan, data, previous=previous, **given)

    want = locked(paid).to_dict()
    assert any(line["component"] == "adjustment" for line in want["lines"])
    # Paid on Spark too: its lines stay there (its totals summed there), never read by the driver.
    paid_on_spark = _compute(
        plan,
        data,
        deals=many_partitions.createDataFrame(before.to_arrow()),
        **{k: v for k, v in frames.items() if k != "deals"},
    ).lock()
    persisted = many_partitions.sparkContext._jsc.getPersistentRDDs
    read: list[list[str]] = []
    real = DataFrame.toArrow

    def spy(frame: Any) -> Any:
        read.append(frame.columns)
        return real(frame)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DataFrame, "toArrow", spy)
        got = locked(paid, **frames)  # the paid ledger in polars: its lines go to Spark
        again = locked(paid_on_spark, **frames)
        del paid_on_spark
        gc.collect()
        # The runs' persisted maps live as long as the locked lines that read them.
        cached = persisted().size()
        assert cached > 0
        assert engine.is_spark(got.line_table)
        assert engine.is_spark(again.line_table)
    assert read
    assert not [columns for columns in read if any(c.endswith("deal") for c in columns)]
    assert got.locked
    assert got.to_dict() == want
    assert again.to_dict() == want
    del got, again
    gc.collect()
    assert persisted().size() < cached
    # Nothing was paid: every line is an adjustment, in the period, on either engine.
    nothing = _compute(plan, data, deals=before.head(0)).lock()
    empty = locked(nothing).to_dict()
    assert {line["period"] for line in empty["lines"]} == {PERIOD}
    assert {line["component"] for line in empty["lines"]} == {"adjustment"}
    assert locked(nothing, **frames).to_dict() == empty
