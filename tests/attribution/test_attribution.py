"""Tests for smarketing.attribution: laws (Hypothesis), differential tests against the reference, errors."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import EntryPoint
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.attribution import reference as ref

from smarketing import _plugins
from smarketing.attribution import (
    BUILTIN_MODELS,
    Attribution,
    Journeys,
    PluginWarning,
    _kernel,
    attribute,
    available_models,
    compare,
    registry,
)
from smarketing.errors import CurrencyMismatchError, DataError, PluginError
from smarketing.money import FxTable, Money
from smarketing.records import Dataset, Deal, StageEvent, Touchpoint
from smarketing.testing.strategies import journey_paths, long_form_touches
from smarketing.typing import AttributionModel

# Few examples each: every call collects several small polars plans; the laws still see dozens of shapes.
laws = settings(max_examples=20, deadline=None, database=None)

PATH_MODELS = ["first", "last", "linear", "position", "j_shaped", "inverse_j", "markov", "shapley"]
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def journeys_of(frame: pl.DataFrame) -> list[ref.Journey]:
    return [
        ([k.strip() for k in path.split(">")], conv, null)
        for path, conv, null in frame.select("path", "total_conversions", "total_null").rows()
    ]


def paths(rows: list[tuple[str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["path", "total_conversions", "total_null"], orient="row")


def with_value(frame: pl.DataFrame) -> Journeys:
    return Journeys.from_paths(frame, value="total_conversion_value", currency="currency")


# --------------------------------------------------------------------------------------------------
# Laws


@laws
@given(journey_paths(fractional=True), st.sampled_from([*PATH_MODELS, "markov2"]))
def test_credits_add_up_to_the_totals(frame: pl.DataFrame, model: str) -> None:
    params = {"order": 2} if model == "markov2" else {}
    result = attribute(with_value(frame), model=model.rstrip("2"), **params)
    total = float(frame["total_conversions"].sum())
    assert result.total_conversions == pytest.approx(total)
    assert math.fsum(result.conversions.values()) == pytest.approx(total, abs=1e-9)
    value_total = Money(frame["total_conversion_value"].sum(), "EUR")
    assert result.total_value == {"EUR": value_total}
    assert sum(result.value["EUR"].values()) == value_total


@laws
@given(journey_paths(), st.sampled_from(PATH_MODELS), st.randoms(use_true_random=False))
def test_permuting_journeys_changes_nothing(frame: pl.DataFrame, model: str, rnd: Any) -> None:
    order = list(range(len(frame)))
    rnd.shuffle(order)
    before = attribute(with_value(frame), model=model)
    after = attribute(with_value(frame[order]), model=model)
    assert after.conversions == pytest.approx(before.conversions)
    assert after.value == before.value


@laws
@given(journey_paths(), st.sampled_from(PATH_MODELS))
def test_renaming_keys_changes_only_the_names(frame: pl.DataFrame, model: str) -> None:
    # Reversing the alphabet changes the key order, so only conversions (not cent ties) carry over.
    rename = {k: chr(ord("z") - (ord(k) - ord("a"))) for k in "abcde"}
    renamed = frame.with_columns(
        pl.col("path").map_elements(lambda p: " > ".join(rename[k] for k in p.split(" > ")), pl.String)
    )
    before = attribute(with_value(frame), model=model)
    after = attribute(with_value(renamed), model=model)
    assert {rename[k]: c for k, c in before.conversions.items()} == pytest.approx(after.conversions)
    # An order-preserving renaming also keeps every cent.
    prefixed = frame.with_columns(pl.col("path").str.replace_all(r"(\w)", "x_$1"))
    again = attribute(with_value(prefixed), model=model)
    assert {f"x_{k}": m for k, m in before.value["EUR"].items()} == again.value["EUR"]


@laws
@given(journey_paths(), st.sampled_from([*PATH_MODELS, "markov2"]))
def test_a_key_on_no_converting_path_gets_nothing(frame: pl.DataFrame, model: str) -> None:
    # For Markov the key must also lead nowhere: the chain links touches across journeys, so a key seen
    # only on non-converting journeys still earns credit if its transitions lead to converting states
    # ("zzz > a" with "a" converting elsewhere). Last on a non-converting path, it cannot.
    tail = "a > zzz" if model.startswith("markov") else "zzz > a"
    extra = paths([(tail, 0.0, 2.0)]).with_columns(
        pl.lit(Decimal(0)).cast(pl.Decimal(38, 2)).alias("total_conversion_value"),
        pl.lit("EUR").alias("currency"),
    )
    params = {"order": 2} if model == "markov2" else {}
    result = attribute(with_value(pl.concat([frame, extra])), model=model.rstrip("2"), **params)
    assert result.conversions["zzz"] == 0
    assert result.value["EUR"]["zzz"] == Money("0.00", "EUR")


@laws
@given(
    journey_paths(fractional=True),
    st.sampled_from(["first", "last", "linear", "position", "j_shaped", "inverse_j"]),
)
def test_heuristics_agree_with_the_reference(frame: pl.DataFrame, model: str) -> None:
    expected = ref.heuristic(model, journeys_of(frame))
    got = attribute(frame, model=model).conversions
    assert {k: v for k, v in got.items() if v} == pytest.approx({k: v for k, v in expected.items() if v})


@laws
@given(journey_paths(fractional=True), st.integers(1, 3))
def test_exact_markov_agrees_with_a_dense_matrix(frame: pl.DataFrame, order: int) -> None:
    base, effects = ref.markov(journeys_of(frame), order)
    result = attribute(frame, model="markov", order=order)
    assert result.conversion_probability == pytest.approx(base, abs=1e-9)
    assert result.removal_effects == pytest.approx(effects, abs=1e-9)


@laws
@given(journey_paths(fractional=True))
def test_exact_shapley_agrees_with_the_dividend_identity(frame: pl.DataFrame) -> None:
    expected = ref.shapley_conversions(journeys_of(frame))
    result = attribute(frame, model="shapley")
    assert {k: v for k, v in result.shapley_values.items() if v} == pytest.approx(  # type: ignore[union-attr]
        {k: v for k, v in expected.items() if v}
    )


@laws
@given(long_form_touches(), st.sampled_from(["first", "last", "linear", "position", "markov", "shapley"]))
def test_long_form_and_paths_agree(frame: pl.DataFrame, model: str) -> None:
    long_form = Journeys.from_frame(frame, value="value", currency="currency")
    ordered = frame.sort("journey", "time")
    grouped = ordered.group_by("journey", maintain_order=True).agg(
        pl.col("channel").str.join(" > ").alias("path"),
        pl.col("converted").first().cast(pl.Float64).alias("total_conversions"),
        (1 - pl.col("converted").first()).cast(pl.Float64).alias("total_null"),
        pl.col("value").first().alias("total_conversion_value"),
        pl.col("currency").first(),
    )
    a = attribute(long_form, model=model)
    b = attribute(with_value(grouped), model=model)
    assert a.conversions == pytest.approx(b.conversions)
    assert a.value == b.value


@laws
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 3), st.sampled_from("abc"), st.integers(0, 9)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["compact", "spread", "text"]),
)
def test_journeys_are_ordered_by_id_time_key_and_touch(
    rows: list[tuple[int, int, str, int]], ids: str
) -> None:
    # Few ids, times, keys and touch ids: many ties of time within a journey, broken by key then touch id.
    spread = {"compact": lambda j: j, "spread": lambda j: j * 2**61 - 2**62, "text": lambda j: f"j{j:02d}"}
    frame = pl.DataFrame(
        {
            "journey": [spread[ids](j) for j, *_ in rows],
            "time": [T0 + timedelta(seconds=t) for _, t, *_ in rows],
            "channel": [k for *_, k, _ in rows],
            "converted": [j % 2 for j, *_ in rows],
            "id": [f"t{i}" for *_, i in rows],
        }
    )
    j = Journeys.from_frame(frame, touch="id")
    expected = frame.sort("journey", "time", "channel", "id")
    assert [j.keys[c] for c in j.codes] == expected["channel"].to_list()
    assert j.touch_ids is not None
    assert j.touch_ids.to_list() == expected["id"].to_list()
    assert j.ids.to_list() == expected["journey"].unique(maintain_order=True).to_list()
    lengths = expected.group_by("journey", maintain_order=True).len()["len"].to_list()
    assert j.lengths().tolist() == lengths


@pytest.mark.parametrize("distinct", [3, 600])
def test_integer_keys_are_coded_as_their_text_however_many(distinct: int) -> None:
    # Few keys take the hash-bucket coding, many the polars fallback: both see the keys as text.
    frame = pl.DataFrame(
        {
            "journey": [f"j{i % 50}" for i in range(1200)],
            "time": [T0 + timedelta(seconds=i) for i in range(1200)],
            "channel": [i % distinct for i in range(1200)],
            "converted": [1] * 1200,
        }
    )
    j = Journeys.from_frame(frame)
    assert j.keys == tuple(sorted(str(k) for k in range(distinct)))
    expected = frame.sort("journey", "time")["channel"].cast(pl.String).to_list()
    assert [j.keys[c] for c in j.codes] == expected


def test_token_coding_falls_back_when_hashes_collide() -> None:
    tokens = pl.Series(["b", "a", "b", "c", "a"])
    # Every string in one bucket under every slice of the hash: the polars dictionary takes over.
    codes, raw = _kernel.dictionary_codes(tokens, np.zeros(len(tokens), dtype=np.uint64))
    assert raw.gather(codes).to_list() == tokens.to_list()
    assert sorted(raw.to_list()) == ["a", "b", "c"]
    codes, raw = _kernel.dictionary_codes(tokens)
    assert raw.gather(codes).to_list() == tokens.to_list()
    assert len(raw) == 3
    # Many distinct strings: collisions are likely, polars codes them.
    many = pl.Series([f"owner-{i % 700}" for i in range(2_000)])
    codes, raw = _kernel.dictionary_codes(many)
    assert raw.gather(codes).to_list() == many.to_list()
    assert len(raw) == 700


@laws
@given(long_form_touches(), st.sampled_from(["time_decay", "markov"]))
def test_weighing_only_journeys_with_credit_changes_nothing(frame: pl.DataFrame, model: str) -> None:
    # Without per-touch output, touch-weighing models skip journeys without conversions or value; with it
    # they weigh every journey. The credits must be the same to the last bit.
    journeys = Journeys.from_frame(frame, value="value", currency="currency")
    params = {"convention": "journey"} if model == "markov" else {}
    every = attribute(journeys, model=model, per_touch=True, **params)
    some = attribute(journeys, model=model, **params)
    assert some.conversions == every.conversions
    assert some.value == every.value


@laws
@given(long_form_touches(), st.sampled_from(["first", "linear", "position", "time_decay", "custom"]))
def test_per_touch_credit_splits_each_journey_exactly(frame: pl.DataFrame, model: str) -> None:
    params: dict[str, Any] = {"weights": lambda p, n: p + 1} if model == "custom" else {}
    result = attribute(
        Journeys.from_frame(frame, value="value", currency="currency"), model=model, per_touch=True, **params
    )
    touches = result.touches
    assert touches is not None
    assert len(touches) == len(frame)
    per_journey = touches.group_by("journey").agg(pl.col("value_EUR").sum(), pl.col("credit").sum())
    truth = frame.group_by("journey").agg(pl.col("value").first(), pl.col("converted").first())
    joined = per_journey.join(truth, on="journey")
    assert joined.filter(pl.col("value_EUR") != pl.col("value")).is_empty()
    assert np.allclose(joined["credit"].to_numpy(), joined["converted"].to_numpy())
    by_key = touches.group_by("channel").agg(pl.col("credit").sum())
    for key, credit in by_key.rows():
        assert credit == pytest.approx(result.conversions[key])


# --------------------------------------------------------------------------------------------------
# Hand-computed examples


def test_position_and_time_decay_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "journey": ["j"] * 4,
            "time": [T0, T0 + timedelta(days=7), T0 + timedelta(days=14), T0 + timedelta(days=21)],
            "channel": ["ads", "email", "webinar", "demo"],
            "converted": [1] * 4,
        }
    )
    assert attribute(frame, model="position").conversions == pytest.approx(
        {"ads": 0.4, "demo": 0.4, "email": 0.1, "webinar": 0.1}
    )
    # Weights 1/8, 1/4, 1/2, 1 (halving every 7 days back from the last touch), over 15/8.
    decay = attribute(frame, model="time_decay", half_life=timedelta(days=7)).conversions
    assert decay == pytest.approx({"ads": 1 / 15, "email": 2 / 15, "webinar": 4 / 15, "demo": 8 / 15})
    custom = attribute(frame, model="custom", weights={4: [1, 0, 0, 3]}).conversions
    assert custom == pytest.approx({"ads": 0.25, "email": 0, "webinar": 0, "demo": 0.75})


def test_markov_by_hand_matches_the_closed_form() -> None:
    # start -> a (2/3) or b (1/3); a -> b (1/2) or null; b -> conversion (2/3 of b's exits) ...
    frame = paths([("a > b", 1, 1), ("b", 1, 0), ("a", 0, 2)])
    result = attribute(frame, model="markov")
    # P(convert) = P(start->a) P(a->b) P(b conv) + P(start->b) P(b conv) = 4/5 * 2/4 * 2/3 + 1/5 * 2/3
    assert result.conversion_probability == pytest.approx(4 / 5 * 1 / 2 * 2 / 3 + 1 / 5 * 2 / 3)
    assert result.removal_effects == pytest.approx({"a": (4 / 15) / (6 / 15), "b": 1.0})
    assert result.transitions is not None
    assert set(result.transitions.columns) == {"from", "to", "count", "probability"}


def test_markov_journey_convention_splits_by_removal_effect() -> None:
    frame = paths([("a > b", 1, 1), ("b", 1, 0), ("a", 0, 2)])
    result = attribute(frame, model="markov", convention="journey", per_touch=True)
    share_a = (2 / 3) / (2 / 3 + 1)
    assert result.conversions == pytest.approx({"a": share_a, "b": 2 - share_a})
    glob = attribute(frame, model="markov")
    assert glob.conversions == pytest.approx({"a": 2 * (2 / 3) / (5 / 3), "b": 2 * 1 / (5 / 3)})


def test_shapley_sampling_has_a_seeded_interval() -> None:
    frame = paths([("a > b > c", 3, 1), ("b > d", 1, 2), ("a", 2, 0), ("c > d > e", 1, 1)])
    exact = attribute(frame, model="shapley")
    sampled = attribute(frame, model="shapley", method="sampling", samples=400, seed=7)
    again = attribute(frame, model="shapley", method="sampling", samples=400, seed=7)
    assert sampled.shapley_values == again.shapley_values
    assert sampled.shapley_interval is not None
    assert exact.shapley_values is not None
    for key, (low, high) in sampled.shapley_interval.items():
        # A 95% interval per key; with five keys one may miss, so allow twice its half-width.
        half = (high - low) / 2
        assert abs(sampled.shapley_values[key] - exact.shapley_values[key]) <= 2 * half + 1e-9


def test_shapley_rate_coalitions_use_non_converting_journeys() -> None:
    few_nulls = attribute(paths([("a", 1, 0), ("b", 1, 0)]), model="shapley", coalition="rate")
    many_nulls = attribute(paths([("a", 1, 9), ("b", 1, 0)]), model="shapley", coalition="rate")
    assert few_nulls.conversions == pytest.approx({"a": 1, "b": 1})
    assert many_nulls.conversions == pytest.approx({"a": 2 * 0.1 / 1.1, "b": 2 * 1 / 1.1})


def test_w_shaped_and_full_path_use_stage_milestones() -> None:
    times = [T0 + timedelta(days=d) for d in range(5)]
    tps = [
        Touchpoint(id=f"t{i}", lead_id="L1", time=t, channel=c, team=team, owner=o)
        for i, (t, c, team, o) in enumerate(
            zip(
                times,
                ["ads", "content", "webinar", "sdr_call", "demo"],
                ["marketing", "marketing", "marketing", "sales", "sales"],
                ["lea", "lea", "omar", "nina", "sara"],
                strict=True,
            )
        )
    ]
    events = [
        StageEvent(lead_id="L1", to="lead", time=times[1] + timedelta(hours=1)),
        StageEvent(lead_id="L1", **{"from": "lead"}, to="opportunity", time=times[3] + timedelta(hours=1)),
    ]
    won = Deal(
        id="D1",
        lead_id="L1",
        amount=Money("1000.00", "EUR"),
        stage="won",
        created_at=T0,
        close_date=date(2026, 3, 9),
    )
    data = Dataset.from_records(touchpoints=tps, stage_events=events, deals=[won])
    w = attribute(data, model="w_shaped")
    # Milestones: ads (first), content (lead), sdr_call (opportunity): 30% each; webinar and demo 5% each.
    assert w.conversions == pytest.approx(
        {"ads": 0.3, "content": 0.3, "demo": 0.05, "sdr_call": 0.3, "webinar": 0.05}
    )
    assert w.value["EUR"]["ads"] == Money("300.00", "EUR")
    full = attribute(data, model="full_path")
    assert full.conversions == pytest.approx(
        {"ads": 0.225, "content": 0.225, "demo": 0.225, "sdr_call": 0.225, "webinar": 0.1}
    )
    by_team = attribute(data, model="w_shaped", key="team")
    assert by_team.conversions == pytest.approx({"marketing": 0.65, "sales": 0.35})
    by_owner = attribute(data, model="position", key="owner", per_touch=True)
    assert by_owner.touches is not None
    assert by_owner.touches["touch"].to_list() == ["t0", "t1", "t2", "t3", "t4"]
    assert sum(by_owner.value["EUR"].values()) == Money("1000.00", "EUR")


def test_touches_after_the_close_date_do_not_count() -> None:
    tps = [
        Touchpoint(id="t1", lead_id="L1", time=T0, channel="ads", team="marketing"),
        Touchpoint(id="t2", lead_id="L1", time=T0 + timedelta(days=30), channel="email", team="marketing"),
    ]
    won = Deal(
        id="D1",
        lead_id="L1",
        amount=Money("10", "EUR"),
        stage="won",
        created_at=T0,
        close_date=date(2026, 3, 2),
    )
    result = attribute(Journeys.from_touchpoints(tps, deals=[won]), model="linear")
    assert result.conversions == {"ads": 1.0}


# --------------------------------------------------------------------------------------------------
# Currencies


def test_credits_are_per_currency_and_fx_converts() -> None:
    frame = pl.DataFrame(
        {
            "journey": ["j1", "j2"],
            "time": [T0, T0],
            "channel": ["a", "b"],
            "converted": [1, 1],
            "value": [Decimal("100.00"), Decimal("50.00")],
            "currency": ["EUR", "USD"],
        }
    )
    journeys = Journeys.from_frame(frame, value="value", currency="currency")
    result = attribute(journeys, model="last")
    assert result.value == {
        "EUR": {"a": Money("100.00", "EUR"), "b": Money("0.00", "EUR")},
        "USD": {"a": Money("0.00", "USD"), "b": Money("50.00", "USD")},
    }
    with pytest.raises(CurrencyMismatchError, match="pass fx="):
        attribute(journeys, model="last", currency="EUR")
    fx = FxTable([("USD", "EUR", date(2026, 1, 1), "0.9")])
    converted = attribute(journeys, model="last", currency="EUR", fx=fx)
    assert converted.value == {"EUR": {"a": Money("100.00", "EUR"), "b": Money("45.00", "EUR")}}


def test_one_journey_in_two_currencies_is_a_mismatch() -> None:
    frame = pl.DataFrame(
        {
            "journey": ["j1", "j1"],
            "time": [T0, T0],
            "channel": ["a", "b"],
            "converted": [1, 1],
            "value": [Decimal("1.00"), Decimal("1.00")],
            "currency": ["EUR", "USD"],
        }
    )
    with pytest.raises(CurrencyMismatchError, match="j1"):
        Journeys.from_frame(frame, value="value", currency="currency")


# --------------------------------------------------------------------------------------------------
# Results


def test_result_forms() -> None:
    frame = Journeys.from_paths(
        pl.DataFrame(
            {"path": ["a > b", "b"], "total_conversions": [1, 1], "v": [Decimal("3.00"), Decimal("1.00")]}
        ),
        value="v",
        currency="EUR",
    )
    result = attribute(frame, model="markov")
    table = result.to_frame()
    assert table.columns == ["channel", "conversions", "share", "value_EUR", "removal_effect"]
    assert table["value_EUR"].sum() == Decimal("4.00")
    assert result.to_dict()["credits"]["b"]["value"]["EUR"].endswith(" EUR")
    assert "markov" in repr(result)
    assert "value EUR" in repr(result)
    assert result._repr_html_().startswith("<p>Attribution(")
    with pytest.raises(TypeError, match="immutable"):
        result.conversions["a"] = 3.0  # type: ignore[index]
    many = paths([(f"k{i:02d}", 1, 0) for i in range(30)])
    html = attribute(many, model="last")._repr_html_()
    assert html.count("<tr>") == 22  # header, 20 rows, and the row that says how many are left out
    assert "10 more row(s)" in html


def test_compare_lays_models_side_by_side() -> None:
    frame = paths([("a > b > c", 2, 1), ("b", 1, 3)])
    comparison = compare(frame, models=["first", "last", ("markov", {"order": 2}), "shapley"])
    table = comparison.to_frame()
    assert table.columns == ["channel", "first", "last", "markov(order=2)", "shapley"]
    assert table["first"].to_list() == [2.0, 1.0, 0.0]
    assert "share of conversions" in repr(comparison)
    assert "<table>" in comparison._repr_html_()


# --------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pl.DataFrame(schema={"path": pl.String, "total_conversions": pl.Int64}), "no journeys"),
        (paths([("a >  > b", 1, 0)]), "row 0: path: empty key"),
        (paths([("", 1, 0)]), "row 0: path: empty key"),
        (paths([("a", float("nan"), 0)]), "row 0: total_conversions: .* not NaN"),
        (paths([("a", -1, 0)]), "row 0: total_conversions: .* not -1.0"),
    ],
)
def test_bad_paths_are_named(frame: pl.DataFrame, match: str) -> None:
    with pytest.raises(DataError, match=match):
        attribute(frame, model="linear")


def test_bad_long_form_is_named() -> None:
    naive = pl.DataFrame(
        {"journey": ["j"], "time": [datetime(2026, 1, 1)], "channel": ["a"], "converted": [1]}
    )
    with pytest.raises(DataError, match="time: naive datetimes"):
        attribute(naive, model="linear")
    negative = pl.DataFrame(
        {
            "journey": ["j7"],
            "time": [T0],
            "channel": ["a"],
            "converted": [1],
            "value": [Decimal("-5.00")],
            "currency": ["EUR"],
        }
    )
    with pytest.raises(DataError, match=r"touches j7: value: -5\.00 is negative"):
        attribute(negative, model="linear")
    floats = negative.with_columns(pl.lit(5.0).alias("value"))
    with pytest.raises(DataError, match="Decimal or integer column"):
        attribute(floats, model="linear")
    # A value without its currency is named, not counted as nothing: one currency or several.
    rows = pl.concat([negative.with_columns(pl.lit(Decimal("5.00")).alias("value"))] * 2).with_columns(
        journey=pl.Series(["j1", "j2"]), currency=pl.Series(["EUR", None])
    )
    no_currency = rows.with_columns(pl.Series("currency", [None, None], dtype=pl.String))
    two_currencies = pl.concat(
        [rows, rows.head(1).with_columns(journey=pl.lit("j3"), currency=pl.lit("USD"))]
    )
    for frame, named in ((rows, "j2"), (no_currency, "j1"), (two_currencies, "j2")):
        with pytest.raises(DataError, match=rf"touches {named}: value: 5\.00 has no currency"):
            attribute(frame, model="linear")
    missing_key = pl.DataFrame({"journey": ["j3"], "time": [T0], "channel": [None], "converted": [1]})
    with pytest.raises(DataError, match="touches j3: channel: value is missing"):
        attribute(missing_key, model="linear")
    with pytest.raises(DataError, match="missing column"):
        attribute(pl.DataFrame({"journey": ["j"]}), model="linear")
    nan = pl.DataFrame(
        {"journey": ["j1", "j5"], "time": [T0, T0], "channel": ["a", "b"], "converted": [1.0, float("nan")]}
    )
    with pytest.raises(DataError, match="touches j5: converted: conversion is NaN"):
        attribute(nan, model="linear")


def test_a_won_deal_without_touches_is_named() -> None:
    won = Deal(
        id="D9",
        lead_id="L9",
        amount=Money("1", "EUR"),
        stage="won",
        created_at=T0,
        close_date=date(2026, 3, 2),
    )
    tps = [Touchpoint(id="t1", lead_id="L1", time=T0, channel="ads", team="marketing")]
    with pytest.raises(DataError, match="deal D9: lead_id: journey has no touchpoints"):
        Journeys.from_touchpoints(tps, deals=[won])


def test_bad_parameters_are_named() -> None:
    frame = paths([("a > b", 1, 0)])
    with pytest.raises(ValueError, match="markov: order must be an integer >= 1, not 0"):
        attribute(frame, model="markov", order=0)
    with pytest.raises(ValueError, match="position: first \\+ last must be at most 1"):
        attribute(frame, model="position", first=0.7, last=0.7)
    with pytest.raises(ValueError, match="linear: unknown parameter"):
        attribute(frame, model="linear", order=2)
    with pytest.raises(DataError, match="time_decay needs touch times"):
        attribute(frame, model="time_decay")
    with pytest.raises(DataError, match="w_shaped needs stage events"):
        attribute(frame, model="w_shaped")
    with pytest.raises(DataError, match="no row for paths of 2"):
        attribute(frame, model="custom", weights={1: [1]})
    with pytest.raises(ValueError, match="per-touch credit needs convention='journey'"):
        attribute(frame, model="markov", per_touch=True)
    wide = paths([(" > ".join(f"k{i:02d}" for i in range(21)), 1, 0)])
    with pytest.raises(ValueError, match="at most 20 keys"):
        attribute(wide, model="shapley", method="exact")
    sampled = attribute(wide, model="shapley", samples=50)
    assert sampled.shapley_interval is not None
    assert sum(sampled.conversions.values()) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------
# Plugins


def test_the_example_plugin_is_found_through_its_entry_point() -> None:
    assert "ascending" in available_models()
    frame = paths([("a > b > c", 6, 0)])
    result = attribute(frame, model="ascending")
    assert result.model == "ascending"
    assert result.conversions == pytest.approx({"a": 1.0, "b": 2.0, "c": 3.0})


def test_a_model_object_can_be_passed_directly() -> None:
    class Halves:
        name = "halves"

        def touch_weights(self, journeys: Journeys, /, **params: Any) -> Any:
            return np.where(journeys.positions() == 0, 1.0, 0.0)

    assert isinstance(Halves(), AttributionModel)
    assert attribute(paths([("a > b", 2, 0)]), model=Halves()).conversions == {"a": 2.0, "b": 0.0}


def test_unknown_models_are_rejected_with_the_known_names() -> None:
    with pytest.raises(PluginError, match=r"unknown attribution model 'markof'; available: .*markov"):
        attribute(paths([("a", 1, 0)]), model="markof")


class ShadowLinear:
    name = "linear"

    def touch_weights(self, journeys: Journeys, /, **params: Any) -> Any:
        return np.zeros(journeys.n_touches)


def _points(*specs: tuple[str, str]) -> list[EntryPoint]:
    return [EntryPoint(name=name, value=value, group="smarketing.attribution") for name, value in specs]


def test_broken_and_duplicate_plugins_warn_and_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [
        ("broken", "no_such_module_anywhere:Model"),
        ("ascending", "attribution_example:Ascending"),
        ("ascending", "attribution_example:Ascending"),
        ("linear", "tests.attribution.test_attribution:ShadowLinear"),
    ]
    monkeypatch.setattr(_plugins, "entry_points", lambda group: _points(*specs))
    registry.installed_models.cache_clear()
    try:
        with pytest.warns(PluginWarning) as caught:
            names = available_models()
        messages = " | ".join(str(w.message) for w in caught)
        assert "broken" in messages
        assert "ModuleNotFoundError" in messages
        assert "registered twice" in messages
        assert "built-in name 'linear'" in messages
        assert "broken" not in names
        assert "ascending" not in names
        with pytest.raises(PluginError, match="broken: failed to load"):
            attribute(paths([("a", 1, 0)]), model="broken")
        with pytest.raises(PluginError, match="registered twice"):
            attribute(paths([("a", 1, 0)]), model="ascending")
        assert attribute(paths([("a > b", 1, 0)]), model="linear").conversions == {"a": 0.5, "b": 0.5}
    finally:
        registry.installed_models.cache_clear()


def test_builtin_names_are_listed() -> None:
    assert set(BUILTIN_MODELS) <= set(available_models())
    assert isinstance(attribute(paths([("a", 1, 0)]), model="first"), Attribution)


def test_touchpoints_without_deals_give_no_conversions() -> None:
    # A dataset with touchpoints and no deals frame once failed inside polars (no "_value" column).
    touch = Touchpoint(id="t1", lead_id="L1", time=T0, channel="email", team="marketing")
    result = attribute(Dataset.from_records(touchpoints=[touch]), model="linear")
    assert result.total_conversions == 0
