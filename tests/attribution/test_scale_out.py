"""``attribute`` scales out: journeys mapped per partition of complete leads, paths merged, models finalised.

The table models, Markov (global convention) and Shapley add up integers per path: given touchpoints and
deals on Spark, each partition of leads builds its journeys and sums them per (path, currency); Spark sums
the partials and the driver runs the model on the merged paths (:mod:`smarketing.attribution._scale`).
The models that weigh each journey alone (``time_decay``, ``w_shaped``, ``full_path``, Markov's
``journey`` convention, a plugin that declares ``per_journey``) add up their touches' credit per key as
exact sums (:mod:`smarketing.attribution._exact`). Checked here:

* the partial-merge laws (Hypothesis): the leads split into partitions in any grouping and order, each
  partition's rows in any order, give the one-machine credits and money, to the cent;
* on Spark with many shuffle partitions and Arrow batches of three rows, the answers equal polars', and the
  driver reads the merged paths and the channels, not the leads;
* a ``DataError`` raised by a map on a worker reaches the user as the same ``DataError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.spark_kit import Reads, partitions

from smarketing.attribution import Journeys, _scale, attribute, compare
from smarketing.datasets import synthetic
from smarketing.errors import CurrencyMismatchError, DataError, PluginError
from smarketing.frames import _engine as engine
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

FX = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])

MODELS: list[tuple[str, dict[str, Any]]] = [
    ("position", {}),
    ("linear", {}),
    ("last", {}),
    ("markov", {}),
    ("markov", {"order": 2}),
    ("shapley", {}),
]


#: One model of each kind of partial: cells, paths, key sets.
LAW_MODELS = [MODELS[0], MODELS[3], MODELS[5]]

#: The models weighed per journey, their credit summed exactly.
WEIGHED: list[tuple[str, dict[str, Any]]] = [
    ("time_decay", {"half_life": 3}),
    ("w_shaped", {}),
    ("full_path", {"weights": [0.1, 0.2, 0.3, 0.3]}),
    ("markov", {"convention": "journey"}),
    ("markov", {"convention": "journey", "order": 2}),
]


def _answers(data: Any, models: list[tuple[str, dict[str, Any]]], **options: Any) -> dict[str, Any]:
    return {f"{m}{p}": attribute(data, model=m, **p, **options).to_dict() for m, p in models}


def _parts(frames: Mapping[str, Any], parts: int, seed: int) -> list[pl.DataFrame]:
    """The co-partitioned touchpoints, deals (and stage events) of ``frames`` in ``parts`` partitions of
    complete leads."""
    touches = frames["touchpoints"].select("id", "lead_id", "time", "channel")
    union = _co_partitioned(touches, frames["deals"], frames.get("stage_events"))
    return partitions(union, "lead_id", parts, seed)


def _co_partitioned(touches: pl.DataFrame, deals: pl.DataFrame, events: Any = None) -> pl.DataFrame:
    """The union the Spark path builds (``_scale._co_partitioned``), in polars."""
    no, yes = pl.lit(value=False), pl.lit(value=True)
    renamed = deals.select("lead_id", *(pl.col(c).alias(f"_d_{c}") for c in _scale._DEAL_COLUMNS))
    pieces = [
        touches.with_columns(no.alias("_deal"), no.alias("_stage")),
        renamed.with_columns(yes.alias("_deal"), no.alias("_stage")),
    ]
    if events is not None:
        staged = events.select("lead_id", *(pl.col(c).alias(f"_s_{c}") for c in _scale._STAGE_COLUMNS))
        pieces.append(staged.with_columns(no.alias("_deal"), yes.alias("_stage")))
    return pl.concat(pieces, how="diagonal_relaxed")


def _frames(data: Dataset, *, events: bool = False) -> dict[str, pl.DataFrame]:
    frames = {"touchpoints": data.touchpoints, "deals": data.deals}
    return {**frames, "stage_events": data.stage_events} if events else frames


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 10_000), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_merging_the_partials_of_any_partitions_gives_the_one_machine_credit(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    frames = _frames(synthetic(example_plan, seed=data_seed, n_leads=30))
    want = _answers(frames, LAW_MODELS, fx=FX, currency="EUR")
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, parts, split_seed)
        got = _answers(frames, LAW_MODELS, fx=FX, currency="EUR")
    assert got == want


@settings(max_examples=4, deadline=None)
@given(data_seed=st.integers(0, 10_000), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
@example(data_seed=0, parts=3, split_seed=0)  # a plain float sum per key differs here (checked)
def test_weighed_credit_of_any_partitions_is_the_one_machine_credit_to_the_last_bit(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    # Float credits summed exactly per key: any partitioning gives the same floats, and so the same money.
    frames = _frames(synthetic(example_plan, seed=data_seed, n_leads=100), events=True)
    want = _answers(frames, WEIGHED, fx=FX, currency="EUR")
    per_touch: list[tuple[str, dict[str, Any]]] = [("w_shaped", {}), ("markov", {"convention": "journey"})]
    want_touches = [
        attribute(frames, model=m, per_touch=True, fx=FX, currency="EUR", **p) for m, p in per_touch
    ]
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, parts, split_seed)
        got = _answers(frames, WEIGHED, fx=FX, currency="EUR")
        got_touches = [
            attribute(frames, model=m, per_touch=True, fx=FX, currency="EUR", **p) for m, p in per_touch
        ]
    assert got == want
    for mine, theirs in zip(got_touches, want_touches, strict=True):
        assert mine.to_dict() == theirs.to_dict()
        assert mine.touches.sort("touch").equals(theirs.touches.sort("touch"))


@settings(max_examples=6, deadline=None)
@given(
    data_seed=st.integers(0, 10_000),
    parts=st.integers(1, 6),
    split_seed=st.integers(0, 2**32 - 1),
    currency=st.sampled_from(["EUR", "USD", "GBP"]),
)
def test_currency_without_rates_refuses_or_credits_as_one_machine_in_any_partitions(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int, currency: str
) -> None:
    # One machine values a journey without a won deal in the input's first currency code, which no
    # partition knows: the driver decides from each partition's first journeys (per code, and valueless).
    data = synthetic(example_plan, seed=data_seed, n_leads=40)
    cases = [
        _frames(data),
        _frames(
            Dataset(
                touchpoints=data.touchpoints, deals=data.deals.filter(pl.col("amount_currency") == currency)
            )
        ),
    ]
    for frames in cases:

        def run(frames: Mapping[str, Any] = frames) -> Any:
            try:
                return attribute(frames, model="position", currency=currency).to_dict()
            except CurrencyMismatchError as error:
                return str(error)

        want = run()
        with pytest.MonkeyPatch.context() as patch:
            _use_partitions(patch, parts, split_seed)
            assert run() == want


class _Strict:
    """A plugin whose weights of a journey are its own (``per_journey``), refusing journeys without value.

    It reads the touch ids (which one machine gives it) and gives a journey without conversions negative
    weights: one machine weighs every journey of a plugin, so the host refuses them.
    """

    name = "strict"
    per_journey = True

    def __init__(self, *, refuse: bool) -> None:
        self.refuse = refuse

    def touch_weights(self, journeys: Journeys, /, **params: Any) -> Any:
        assert journeys.touch_ids is not None
        assert len(journeys.touch_ids) == journeys.n_touches
        weights = (journeys.positions() + 1).astype(np.float64)
        if self.refuse:
            earning = np.repeat(journeys.conversions > 0, journeys.lengths())
            weights = np.where(earning, weights, -1.0)
        return weights


def test_a_per_journey_plugin_weighs_every_journey_of_every_partition_as_on_one_machine(
    example_plan: AlignmentPlan,
) -> None:
    frames = _frames(synthetic(example_plan, seed=3, n_leads=60))
    want = attribute(frames, model=_Strict(refuse=False), fx=FX, currency="EUR").to_dict()
    with pytest.raises(PluginError, match="strict") as refused:
        attribute(frames, model=_Strict(refuse=True))
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, 3, 1)
        assert attribute(frames, model=_Strict(refuse=False), fx=FX, currency="EUR").to_dict() == want
        with pytest.raises(PluginError, match="strict") as mapped:
            attribute(frames, model=_Strict(refuse=True))
    assert "weights >= 0" in str(mapped.value)
    assert "weights >= 0" in str(refused.value)


@settings(max_examples=5, deadline=None)
@given(
    data_seed=st.integers(0, 10_000),
    parts=st.integers(1, 6),
    split_seed=st.integers(0, 2**32 - 1),
    order=st.integers(1, 3),
)
def test_markov_transition_counts_merge_in_any_grouping_and_order_to_one_partition(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int, order: int
) -> None:
    # The partial tables of the chain (states, transition counts, value per last state) of any partitions,
    # merged in groups and the groups merged again in any order, are the one-partition tables; and the
    # chain solved from them is the one-machine chain, to the cent.
    frames = _frames(synthetic(example_plan, seed=data_seed, n_leads=40))
    union = _co_partitioned(frames["touchpoints"].select("id", "lead_id", "time", "channel"), frames["deals"])
    codes = {k: i for i, k in enumerate(sorted(union.get_column("channel").drop_nulls().unique()))}

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        options = {"shape": "transitions", "fx": FX, "currency": "EUR", "long_form": False, "order": order}
        return _scale.paths_map(part, codes, {"key": "channel"}, **options)

    tables = ("states", "transitions", "ends", "lengths", "currencies")
    one = engine.local([union], fn, _scale.PATHS)
    rng = random.Random(split_seed)
    mapped = [fn(part) for part in _parts(frames, parts, split_seed)]
    groups = [mapped[i : i + 2] for i in range(0, len(mapped), 2)]
    merged = [engine.local(g, lambda out: out, _scale.PATHS) for g in groups]
    again = [{name: m.merged(name) for name in _scale.PATHS} for m in merged]
    rng.shuffle(again)
    # Merged tables as partials again: their columns are the partial's own (keys and sums only).
    final = engine.local(again, lambda out: out, _scale.PATHS)
    for name in tables:
        assert final.merged(name).equals(one.merged(name)), name
    # The merged chain is the kernel's own, entry for entry: states numbered alike, the same counts.
    whole = Journeys.from_touchpoints(frames, key="channel")
    chain = _scale._counts(whole, order, _scale.journey_values(whole, FX, "EUR"))
    j, _ = _scale._chain_journeys(final, codes, "channel", order)
    merged_chain = j._cache["markov", order]
    assert merged_chain.states == chain.states
    for field in ("src", "dst", "counts"):
        assert getattr(merged_chain, field).tolist() == getattr(chain, field).tolist(), field
    assert {c: e.tolist() for c, e in merged_chain.ends.items()} == {
        c: e.tolist() for c, e in chain.ends.items()
    }
    want = attribute(frames, model="markov", order=order, fx=FX, currency="EUR").to_dict()
    from_partials = attribute(j, model="markov", order=order, fx=None, currency=None)
    assert from_partials.to_dict()["removal_effects"] == want["removal_effects"]
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, parts, split_seed)
        assert attribute(frames, model="markov", order=order, fx=FX, currency="EUR").to_dict() == want


@settings(max_examples=5, deadline=None)
@given(data_seed=st.integers(0, 10_000), parts=st.integers(1, 5), split_seed=st.integers(0, 2**32 - 1))
def test_per_touch_rows_of_any_partitions_are_the_one_machine_rows(
    example_plan: AlignmentPlan, data_seed: int, parts: int, split_seed: int
) -> None:
    frames = _frames(synthetic(example_plan, seed=data_seed, n_leads=30))
    want = attribute(frames, model="position", per_touch=True, fx=FX, currency="EUR")
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, parts, split_seed)
        got = attribute(frames, model="position", per_touch=True, fx=FX, currency="EUR")
    assert got.to_dict() == want.to_dict()
    assert got.touches.sort("touch").equals(want.touches.sort("touch"))


def _use_partitions(patch: pytest.MonkeyPatch, parts: int, seed: int) -> None:
    patch.setattr(_scale, "_touchpoints", lambda data: data["touchpoints"])
    patch.setattr(engine, "is_spark", lambda data: isinstance(data, pl.DataFrame))
    patch.setattr(
        engine, "distinct", lambda frame, column: sorted(frame.get_column(column).drop_nulls().unique())
    )
    patch.setattr(_scale, "_co_partitioned", lambda *frames: (frames, []))

    def split_run(data: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
        touches, deals, events = data
        frames = {"touchpoints": touches, "deals": deals, "stage_events": events}
        return engine.local(_parts(frames, parts, seed), fn, tables)

    patch.setattr(engine, "run", split_run)


def test_the_law_can_fail_when_a_lead_is_split_across_partitions(example_plan: AlignmentPlan) -> None:
    # Partitions of complete leads only: a lead's touches cut in two make two shorter paths.
    frames = _frames(synthetic(example_plan, seed=4, n_leads=30))
    want = _answers(frames, MODELS, fx=FX, currency="EUR")
    with pytest.MonkeyPatch.context() as patch:
        _use_partitions(patch, 1, 0)

        def halves(data: Any, fn: Callable[[Any], Any], tables: Mapping[str, Any], **_: Any) -> Any:
            touches, deals, _ = data
            union = _co_partitioned(touches, deals).sort("lead_id", "time", nulls_last=True)
            ids = union.get_column("lead_id")
            cut = next(i for i in range(1, len(ids)) if ids[i] == ids[i - 1])
            return engine.local([union.head(cut), union.slice(cut)], fn, tables)

        patch.setattr(engine, "run", halves)
        got = _answers(frames, MODELS, fx=FX, currency="EUR")
        assert got != want


# --------------------------------------------------------------------------------------------------
# On Spark.


SHUFFLE_PARTITIONS = 3  # the `many_partitions` fixture's (tests/conftest.py)


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=15, n_leads=150)


def _on_spark(spark: Any, data: Dataset) -> dict[str, Any]:
    return {
        "touchpoints": spark.createDataFrame(data.touchpoints.to_arrow()),
        "deals": spark.createDataFrame(data.deals.to_arrow()),
    }


def test_on_many_partitions_spark_gives_the_polars_credit_reading_only_merged_paths(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _on_spark(many_partitions, data)
    sizes = frames["touchpoints"].repartition(3, "lead_id").rdd.glom().map(len).collect()
    assert sum(1 for n in sizes if n) > 1  # the leads really are spread over several partitions
    reads = Reads(monkeypatch, frames["touchpoints"])
    read: dict[str, int] = {}
    for model, params in LAW_MODELS:
        reads.rows.clear()
        got = attribute(frames, model=model, fx=FX, currency="EUR", **params)
        read[model] = sum(reads.rows)
        want = attribute(_frames(data), model=model, fx=FX, currency="EUR", **params)
        assert got.to_dict() == want.to_dict(), model
    # The driver reads the channels, then the merged tables: per (length, position, channel, currency)
    # cell, per key set, and for Markov its chain: states (the channels), transitions between them and
    # the start, conversion and null states, value per last state; plus the lengths and currencies.
    assert read["position"] < len(data.leads) / 2
    assert read["shapley"] < len(data.leads) / 2
    channels = data.touchpoints.get_column("channel").n_unique()
    lengths = data.touchpoints.get_column("lead_id").value_counts().get_column("count").n_unique()
    bound = channels + (channels + 1) * (channels + 2) + 3 * channels + lengths + 2
    assert read["markov"] <= bound  # O(channels^2), whatever the number of leads


def test_per_touch_credit_stays_on_spark_writes_out_and_equals_polars(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    frames = _on_spark(many_partitions, data)
    reads = Reads(monkeypatch, frames["touchpoints"])
    got = attribute(frames, model="position", per_touch=True, fx=FX, currency="EUR")
    want = attribute(_frames(data), model="position", per_touch=True, fx=FX, currency="EUR")
    assert engine.is_spark(got.touches)  # kept on Spark, not collected
    assert sum(reads.rows) < len(data.touchpoints) / 3  # the driver read merged cells, not the touches
    assert got.to_dict() == want.to_dict()
    got.touches.write.parquet(str(tmp_path / "touches"))
    written = pl.read_parquet(tmp_path / "touches" / "*.parquet")
    assert written.sort("touch").equals(want.touches.sort("touch"))


def test_spark_keeps_the_currencies_and_team_keys(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No fx: value per deal currency, zero-valued currencies kept; credit to teams.
    frames = _on_spark(many_partitions, data)
    reads = Reads(monkeypatch, frames["touchpoints"])
    for model in ("first", "shapley", "markov"):
        reads.rows.clear()
        got = attribute(frames, model=model, key="team")
        assert got.to_dict() == attribute(_frames(data), model=model, key="team").to_dict()
    # Markov's driver reads its chain over the teams (states, transitions, value per state and currency),
    # the teams, lengths and currencies: O(teams^2), fewer than the distinct team paths it read before.
    teams = data.touchpoints.get_column("team").n_unique()
    currencies = data.deals.get_column("amount_currency").n_unique()
    lengths = data.touchpoints.get_column("lead_id").value_counts().get_column("count").n_unique()
    bound = teams + (teams + 1) * (teams + 2) + teams * (2 + currencies) + lengths + currencies + 2
    assert sum(reads.rows) <= bound
    ordered = data.touchpoints.sort("lead_id", "time", "team")
    paths = ordered.group_by("lead_id", maintain_order=True).agg(pl.col("team").str.join(">"))
    assert sum(reads.rows) < paths.get_column("team").n_unique()


def test_long_form_on_spark_gives_the_polars_credit(data: Dataset, many_partitions: Any) -> None:
    long = data.touchpoints.join(
        data.deals.filter(pl.col("stage") == "won").group_by("lead_id").len(), on="lead_id", how="left"
    ).select(
        pl.col("lead_id").alias("journey"),
        "time",
        "channel",
        (pl.col("len").fill_null(0) > 0).alias("converted"),
    )
    frame = many_partitions.createDataFrame(long.to_arrow())
    for model in ("position", "markov"):
        assert attribute(frame, model=model).to_dict() == attribute(long, model=model).to_dict()


def test_a_data_error_raised_on_a_worker_reaches_the_user_as_the_same_error(
    data: Dataset, many_partitions: Any
) -> None:
    # A won deal of a lead without touchpoints: the worker that holds the lead refuses it.
    orphan = (
        data.deals.filter(pl.col("stage") == "won")
        .head(1)
        .with_columns(pl.lit("D-orphan").alias("id"), pl.lit("L-nobody").alias("lead_id"))
    )
    bad = Dataset(touchpoints=data.touchpoints, deals=pl.concat([data.deals, orphan]))
    with pytest.raises(DataError) as on_polars:
        attribute(bad, model="position")
    with pytest.raises(DataError) as on_spark:
        attribute(_on_spark(many_partitions, bad), model="position")
    assert type(on_spark.value) is DataError
    assert str(on_spark.value) == str(on_polars.value)
    assert "D-orphan" in str(on_spark.value)


def test_a_currency_mismatch_on_a_worker_reaches_the_user_as_the_same_error(
    data: Dataset, many_partitions: Any
) -> None:
    # One lead won two deals in two currencies and no rates are given: its partition refuses the journey.
    won = data.deals.filter((pl.col("stage") == "won") & (pl.col("amount_currency") == "EUR")).head(1)
    second = won.with_columns(pl.lit("D-usd").alias("id"), pl.lit("USD").alias("amount_currency"))
    bad = Dataset(touchpoints=data.touchpoints, deals=pl.concat([data.deals, second]))
    with pytest.raises(CurrencyMismatchError) as on_polars:
        attribute(_frames(bad), model="position")
    with pytest.raises(CurrencyMismatchError) as on_spark:
        attribute(_on_spark(many_partitions, bad), model="position")
    assert str(on_spark.value) == str(on_polars.value)
    assert won.get_column("lead_id")[0] in str(on_spark.value)


def _with_events(spark: Any, data: Dataset) -> dict[str, Any]:
    return {**_on_spark(spark, data), "stage_events": spark.createDataFrame(data.stage_events.to_arrow())}


def test_weighed_models_on_spark_give_the_polars_credit_reading_only_sums_per_key(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    frames = _with_events(many_partitions, data)
    reads = Reads(monkeypatch, frames["touchpoints"])
    channels = data.touchpoints.get_column("channel").n_unique()
    # One of each way of weighing (age, milestones, removal effects, a plugin); the rest in the law above.
    for model, params in [WEIGHED[0], WEIGHED[1], WEIGHED[3], ("ascending", {})]:
        reads.rows.clear()
        got = attribute(frames, model=model, fx=FX, currency="EUR", **params)
        want = attribute(_frames(data, events=True), model=model, fx=FX, currency="EUR", **params)
        assert got.to_dict() == want.to_dict(), model
        # The channels, then the merged tables: lengths, currencies and per (measure, channel, exponent)
        # the sums, never the touches (Markov reads its chain first: O(states^2), whatever the leads).
        assert reads.rows[-1] < channels * 60, model
        if model != "markov":
            assert sum(reads.rows) < channels * 60, model
    reads.rows.clear()
    got = attribute(frames, model="w_shaped", per_touch=True, fx=FX, currency="EUR")
    want = attribute(_frames(data, events=True), model="w_shaped", per_touch=True, fx=FX, currency="EUR")
    assert engine.is_spark(got.touches)  # kept on Spark, not collected
    assert sum(reads.rows) < len(data.touchpoints) / 3
    assert got.to_dict() == want.to_dict()
    got.touches.write.parquet(str(tmp_path / "touches"))
    written = pl.read_parquet(tmp_path / "touches" / "*.parquet")
    assert written.sort("touch").equals(want.touches.sort("touch"))


def test_weighed_models_refuse_on_spark_what_they_refuse_on_one_machine(
    data: Dataset, many_partitions: Any
) -> None:
    frames = _with_events(many_partitions, data)
    # A bad parameter: the one-machine error, raised on the driver before a job.
    for model, params in [("w_shaped", {"weights": [0.5, 0.5]}), ("time_decay", {"half_life": -1})]:
        with pytest.raises(ValueError, match=model) as on_polars:
            attribute(_frames(data, events=True), model=model, **params)
        with pytest.raises(ValueError, match=model) as on_spark:
            attribute(frames, model=model, **params)
        assert str(on_spark.value) == str(on_polars.value)
    # Milestones without stage events, and a plugin that refuses its parameters, on a worker.
    with pytest.raises(DataError) as no_events_polars:
        attribute(_frames(data), model="w_shaped")
    with pytest.raises(DataError) as no_events_spark:
        attribute(_on_spark(many_partitions, data), model="w_shaped")
    assert str(no_events_spark.value) == str(no_events_polars.value)
    with pytest.raises(PluginError, match="ascending") as plugin_polars:
        attribute(_frames(data), model="ascending", speed=2)
    with pytest.raises(PluginError, match="ascending") as plugin_spark:
        attribute(frames, model="ascending", speed=2)
    assert plugin_spark.value.plugin == plugin_polars.value.plugin == "ascending"


def test_compare_on_spark_maps_each_model_that_maps_and_equals_polars(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = _with_events(many_partitions, data)
    reads = Reads(monkeypatch, frames["touchpoints"])
    models: list[Any] = ["linear", ("time_decay", {"half_life": 2})]
    got = compare(frames, models=models, fx=FX, currency="EUR")
    want = compare(_frames(data, events=True), models=models, fx=FX, currency="EUR")
    assert got.to_frame().equals(want.to_frame())
    assert [r.to_dict() for r in got.results] == [r.to_dict() for r in want.results]
    # Per model the channels, then its merged partials (Markov: its chain), never the touches.
    assert len(reads.rows) == 2 * len(models)
    assert max(reads.rows) < len(data.touchpoints) / 3


def test_currency_without_rates_maps_on_spark_and_refuses_the_one_machine_journey(
    data: Dataset, many_partitions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    euro = Dataset(touchpoints=data.touchpoints, deals=data.deals.filter(pl.col("amount_currency") == "EUR"))
    frames = _on_spark(many_partitions, euro)
    reads = Reads(monkeypatch, frames["touchpoints"])
    for model in ("time_decay",):
        reads.rows.clear()
        got = attribute(frames, model=model, currency="EUR")
        assert got.to_dict() == attribute(_frames(euro), model=model, currency="EUR").to_dict(), model
        assert max(reads.rows) < len(data.touchpoints) / 3, model  # merged partials, not the touches
    mixed = _on_spark(many_partitions, data)
    for currency in ("EUR", "USD"):  # USD: the first code, EUR, is foreign, journeys without a deal too
        with pytest.raises(CurrencyMismatchError) as on_polars:
            attribute(_frames(data), model="position", currency=currency)
        with pytest.raises(CurrencyMismatchError) as on_spark:
            attribute(mixed, model="position", currency=currency)
        assert str(on_spark.value) == str(on_polars.value)
