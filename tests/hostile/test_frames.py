"""Hostile frames and records: every bad column is refused at intake, naming the kind, column and record.

The cases are generated from the record models (through the rule table of ``smarketing.records.schema``,
which is itself read from the models): for every kind and every column, a frame whose column has the wrong
dtype; for every required column, a missing value; for enumerated columns, near-miss spellings and typos;
for ids, duplicates and empty ids; for times and days, naive values and years out of range; for money,
floats, text, too many digits, digits below the minor unit and bad currencies. Each goes through both
boundaries, :func:`~smarketing.frames.as_lazy` and the ``Dataset`` constructor. Then the silent wrong answers
of issue 13 end to end (CLI, SLA, attribution), and the record side (``parse_records``, numbers as times).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tests.hostile.conftest import assert_names

from smarketing import cli
from smarketing.attribution import Journeys, attribute
from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.money import Money
from smarketing.plan import load_plan
from smarketing.records import (
    RECORD_KINDS,
    Account,
    Activity,
    Dataset,
    Deal,
    DealSplit,
    Disposition,
    Feedback,
    Lead,
    Record,
    StageEvent,
    Touchpoint,
    parse_records,
)
from smarketing.records.schema import RULES, Rule
from smarketing.rewards import RewardPlan, compute_rewards
from smarketing.sla import evaluate_sla

T = datetime(2026, 10, 1, 9, tzinfo=UTC)
DAY = date(2026, 10, 2)


def _records(n: int) -> dict[str, list[Record]]:
    """Valid records of every kind with every field set, so each column has its canonical dtype."""
    eur = Money("24000.00", "EUR")
    return {
        "accounts": [
            Account(
                id=f"A{n}", name="Acme", industry="software", company_size=50, region="dach", country="DE"
            )
        ],
        "leads": [
            Lead(
                id=f"L{n}",
                account_id="A1",
                created_at=T,
                source="webinar",
                campaign="c1",
                persona="cto",
                grade="A",
                owner="nina",
                title="CTO",
                seniority="c_level",
                industry="software",
                company_size=50,
                region="dach",
                country="DE",
                status="open",
            )
        ],
        "touchpoints": [
            Touchpoint(
                id=f"T{n}",
                lead_id=f"L{n}",
                time=T,
                channel="webinar",
                team="marketing",
                owner="o",
                campaign="c",
            )
        ],
        "stage_events": [StageEvent(lead_id=f"L{n}", source="mql", to="sal", time=T, actor="nina")],
        "activities": [
            Activity(id=f"AC{n}", lead_id=f"L{n}", person="nina", time=T, type="call", outcome="connected")
        ],
        "deals": [
            Deal(
                id=f"D{n}",
                account_id="A1",
                lead_id=f"L{n}",
                amount=eur,
                discount=Money("100.00", "EUR"),
                stage="won",
                created_at=T,
                close_date=DAY,
                owner="nina",
                product="core",
                segment="mid",
                refunded_on=DAY,
                splits=[DealSplit(person="nina", share=Decimal(1))],
            )
        ],
        "dispositions": [Disposition(lead_id=f"L{n}", reason="not_a_fit", time=T, person="nina", note="x")],
        "feedback": [
            Feedback(
                id=f"F{n}",
                lead_id=f"L{n}",
                account_id="A1",
                time=T,
                source="survey",
                score_type="nps",
                score=9,
                tags=["pricing"],
                text="x",
                seen_by=["marketing"],
            )
        ],
    }


_ONE, _TWO = _records(1), _records(2)
VALID: dict[str, pl.DataFrame] = Dataset.from_records(
    **{kind: [*_ONE[kind], *_TWO[kind]] for kind in RECORD_KINDS}  # type: ignore[arg-type]
).frames()

#: The id the messages name for the second (bad) row of each kind.
BAD_ROW = {
    kind: ("L2" if kind in ("stage_events", "dispositions") else rows[0].record_id)
    for kind, rows in _TWO.items()
}


def _ident(kind: str) -> str:
    return "id" if "id" in VALID[kind].columns else "lead_id"


def _set(kind: str, column: str, value: Any, dtype: pl.DataType | None = None) -> pl.DataFrame:
    """The valid frame of ``kind`` with ``column`` of its second row set to ``value``."""
    frame = VALID[kind]
    rows = frame.to_dicts()
    rows[1][column] = value
    schema = dict(frame.schema)
    if dtype is not None:
        schema[column] = dtype
    return pl.DataFrame(rows, schema=schema, orient="row")


def _column(kind: str, column: str, series: pl.Series) -> pl.DataFrame:
    """The valid frame of ``kind`` with ``column`` replaced by ``series`` (a wrong dtype)."""
    return VALID[kind].with_columns(series.alias(column))


Boundary = Callable[[pl.DataFrame, str], object]


def _through_as_lazy(frame: pl.DataFrame, kind: str) -> object:
    return as_lazy(frame, kind).collect()


def _through_dataset(frame: pl.DataFrame, kind: str) -> object:
    return Dataset(**{kind: frame})


BOUNDARIES = [pytest.param(_through_as_lazy, id="as_lazy"), pytest.param(_through_dataset, id="Dataset")]


def _refused(boundary: Boundary, frame: pl.DataFrame, kind: str, *places: str) -> DataError:
    with pytest.raises(DataError) as info:
        boundary(frame, kind)
    assert_names(str(info.value), *places)
    return info.value


# --------------------------------------------------------------------------------------------------
# The valid frames pass, through both boundaries.


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("kind", list(RECORD_KINDS))
def test_valid_frames_pass(boundary: Boundary, kind: str) -> None:
    boundary(VALID[kind], kind)


def test_the_rule_table_covers_every_model_field() -> None:
    for kind, model in RECORD_KINDS.items():
        fields = {f.alias or n for n, f in model.model_fields.items()}
        assert fields <= RULES[kind].keys(), kind
        assert set(VALID[kind].columns) == set(RULES[kind]), kind


# --------------------------------------------------------------------------------------------------
# Wrong dtypes: every column of every kind.

_WRONG_DTYPE: dict[str, list[tuple[str, Callable[[int], pl.Series]]]] = {
    "id": [("float", lambda n: pl.Series([1.5] * n))],
    "text": [("int", lambda n: pl.Series([1] * n))],
    "enum": [("int", lambda n: pl.Series([1] * n))],
    "currency": [("int", lambda n: pl.Series([978] * n))],
    "time": [
        ("text", lambda n: pl.Series(["2026-10-01T09:00:00+00:00"] * n)),
        ("naive", lambda n: pl.Series([datetime(2026, 10, 1, 9)] * n)),
        ("epoch-int", lambda n: pl.Series([1_790_000_000] * n)),
        ("date", lambda n: pl.Series([DAY] * n)),
    ],
    "date": [
        ("text", lambda n: pl.Series(["2026-10-02"] * n)),
        ("naive-datetime", lambda n: pl.Series([datetime(2026, 10, 2, 9)] * n)),  # midnights are days
        ("aware-datetime", lambda n: pl.Series([T] * n)),
    ],
    "count": [("text", lambda n: pl.Series(["50"] * n)), ("float", lambda n: pl.Series([50.5] * n))],
    "money": [
        ("float", lambda n: pl.Series([24000.0] * n)),
        ("text", lambda n: pl.Series(["24000.00"] * n)),
        ("bool", lambda n: pl.Series([True] * n)),
    ],
    "splits": [("text", lambda n: pl.Series(["nina:1"] * n))],
    "texts": [("text", lambda n: pl.Series(["pricing"] * n)), ("ints", lambda n: pl.Series([[1]] * n))],
}

DTYPE_CASES = [
    pytest.param(kind, column, make, id=f"{kind}.{column}-{label}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    for label, make in _WRONG_DTYPE[rule.type]
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column", "make"), DTYPE_CASES)
def test_wrong_dtype_is_refused_naming_the_column(
    boundary: Boundary, kind: str, column: str, make: Callable[[int], pl.Series]
) -> None:
    error = _refused(boundary, _column(kind, column, make(2)), kind, kind, column, "must be")
    assert error.field == column


def test_float_money_says_why() -> None:
    frame = _column("deals", "amount", pl.Series([24000.0, 1.0]))
    error = _refused(_through_as_lazy, frame, "deals", "deals: amount", "Float64", "floats cannot hold money")
    assert error.kind == "deals"


# --------------------------------------------------------------------------------------------------
# Missing values in required columns.

REQUIRED_CASES = [
    pytest.param(kind, column, id=f"{kind}.{column}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.required
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column"), REQUIRED_CASES)
def test_missing_required_value_is_refused(boundary: Boundary, kind: str, column: str) -> None:
    places = [column, "required value is missing"]
    if column != _ident(kind):
        places.append(BAD_ROW[kind])
    _refused(boundary, _set(kind, column, None), kind, *places)


# --------------------------------------------------------------------------------------------------
# Enumerated columns: the silent drop of issue 13 (a 'Won' deal left out of rewards and KPIs).

ENUM_VALUES = ["Won", "WON", "wonn", " won", "fax", "", "open\x00"]
ENUM_CASES = [
    pytest.param(kind, column, value, id=f"{kind}.{column}-{value!r}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type == "enum"
    for value in ENUM_VALUES
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column", "value"), ENUM_CASES)
def test_enumerated_value_outside_the_model_is_refused(
    boundary: Boundary, kind: str, column: str, value: str
) -> None:
    error = _refused(
        boundary, _set(kind, column, value), kind, BAD_ROW[kind], column, "is not one of", repr(value)
    )
    assert error.record == BAD_ROW[kind]


# --------------------------------------------------------------------------------------------------
# Ids: duplicates, empty, too long; integer ids are text.

ID_KINDS = [kind for kind, rules in RULES.items() if "id" in rules]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("kind", ID_KINDS)
def test_duplicate_id_is_refused_naming_it(boundary: Boundary, kind: str) -> None:
    first = VALID[kind].get_column("id")[0]
    error = _refused(boundary, _set(kind, "id", first), kind, first, "id", "appears more than once")
    assert error.record == first


ID_COLUMNS = [
    pytest.param(kind, column, value, id=f"{kind}.{column}-{label}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type == "id"
    for label, value in (("empty", ""), ("too-long", "x" * 129))
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column", "value"), ID_COLUMNS)
def test_empty_or_overlong_id_is_refused(boundary: Boundary, kind: str, column: str, value: str) -> None:
    places = [column, "must have 1 to 128 characters"]
    if column != _ident(kind):
        places.append(BAD_ROW[kind])
    _refused(boundary, _set(kind, column, value), kind, *places)


@pytest.mark.parametrize("kind", [k for k, rules in RULES.items() if "lead_id" in rules])
def test_integer_lead_ids_are_cast_to_text(kind: str) -> None:
    frame = VALID[kind].with_columns(pl.Series("lead_id", [1, 2], dtype=pl.Int64))
    lazy = as_lazy(frame, kind).collect().to_native()
    assert lazy.schema["lead_id"] == pl.String
    assert lazy.get_column("lead_id").to_list() == ["1", "2"]
    data = Dataset(**{kind: frame})
    assert [getattr(r, "lead_id", None) for r in data.records(kind)] == ["1", "2"]


def test_integer_and_text_lead_ids_join_across_kinds() -> None:
    leads = VALID["leads"].with_columns(pl.Series("id", [1, 2], dtype=pl.Int64))
    events = VALID["stage_events"].with_columns(pl.Series("lead_id", ["1", "2"]))
    data = Dataset(leads=leads, stage_events=events)
    assert data.leads.get_column("id").to_list() == data.stage_events.get_column("lead_id").to_list()


# --------------------------------------------------------------------------------------------------
# Times and days: years outside 1900..2199.

TIME_CASES = [
    pytest.param(kind, column, rule, value, id=f"{kind}.{column}-{value.year}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type in ("time", "date")
    for value in (
        (
            datetime(9999, 12, 31, tzinfo=UTC),
            datetime(1800, 1, 1, tzinfo=UTC),
            datetime(2200, 1, 1, tzinfo=UTC),
        )
        if rule.type == "time"
        else (date(9999, 12, 31), date(1899, 12, 31), date(2200, 1, 1))
    )
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column", "rule", "value"), TIME_CASES)
def test_year_out_of_range_is_refused(
    boundary: Boundary, kind: str, column: str, rule: Rule, value: date
) -> None:
    dtype = pl.Datetime("us", "UTC") if rule.type == "time" else None
    frame = _set(kind, column, value, dtype)
    _refused(boundary, frame, kind, BAD_ROW[kind], column, "outside the years 1900 to 2199", str(value.year))


def test_times_in_another_zone_pass() -> None:
    frame = VALID["touchpoints"].with_columns(pl.col("time").dt.convert_time_zone("Asia/Kolkata"))
    assert as_lazy(frame, "touchpoints").collect().shape == (2, 7)


# --------------------------------------------------------------------------------------------------
# Money: digits, minor units, currencies, signs, the deal's cross-field rules.

MONEY_CASES = [
    pytest.param("amount", Decimal(10**37), pl.Decimal(38, 0), "has more than 15 digits", id="amount-1e37"),
    pytest.param("amount", Decimal(10**15), pl.Decimal(38, 0), "has more than 15 digits", id="amount-1e15"),
    pytest.param("amount", Decimal("-5"), None, "must not be negative", id="amount-negative"),
    pytest.param("amount", Decimal("24000.005"), None, "minor unit", id="amount-sub-cent"),
    pytest.param("discount", Decimal("0.001"), None, "minor unit", id="discount-sub-cent"),
    pytest.param(
        "discount", Decimal(10**16), pl.Decimal(38, 0), "has more than 15 digits", id="discount-1e16"
    ),
    pytest.param("amount_currency", None, None, "an amount needs its currency", id="currency-null"),
    pytest.param("amount_currency", "eur", None, "ISO 4217", id="currency-lowercase"),
    pytest.param("amount_currency", "XTS", None, "minor unit", id="currency-XTS"),
    pytest.param("amount_currency", "XAU", None, "minor unit", id="currency-XAU"),
    pytest.param("amount_currency", "EURO", None, "ISO 4217", id="currency-EURO"),
    pytest.param("amount_currency", "", None, "ISO 4217", id="currency-empty"),
    pytest.param("discount_currency", "USD", None, "deal's currency", id="discount-other-currency"),
    pytest.param("discount_currency", "usd", None, "ISO 4217", id="discount-currency-lowercase"),
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("column", "value", "dtype", "says"), MONEY_CASES)
def test_bad_money_is_refused(
    boundary: Boundary, column: str, value: object, dtype: pl.DataType | None, says: str
) -> None:
    frame = _set("deals", column, value, dtype)
    if dtype is not None:  # one scale for both amounts keeps the example about digits, not dtypes
        frame = frame.with_columns(pl.col(column).cast(dtype))
    shown = column if column != "discount_currency" else "discount"
    _refused(boundary, frame, "deals", "D2", shown, says)


DEAL_RULES = [
    pytest.param(
        {"stage": "lost", "close_date": None}, "close_date", "needs a close_date", id="lost-no-close"
    ),
    pytest.param({"stage": "won", "close_date": None}, "close_date", "needs a close_date", id="won-no-close"),
    pytest.param({"stage": "open", "refunded_on": DAY}, "refunded_on", "only a won deal", id="open-refunded"),
    pytest.param({"stage": "lost", "refunded_on": DAY}, "refunded_on", "only a won deal", id="lost-refunded"),
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("changes", "column", "says"), DEAL_RULES)
def test_the_deal_models_cross_field_rules_hold_for_frames(
    boundary: Boundary, changes: dict[str, Any], column: str, says: str
) -> None:
    rows = VALID["deals"].to_dicts()
    rows[1].update(changes)
    frame = pl.DataFrame(rows, schema=VALID["deals"].schema, orient="row")
    _refused(boundary, frame, "deals", "deal D2", column, says)


_SPLIT = pl.List(pl.Struct({"person": pl.String, "share": pl.Decimal(38, 6), "kind": pl.String}))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(
    ("splits", "says"),
    [
        pytest.param([{"person": "nina", "share": Decimal(1), "kind": "Revenue"}], "kind", id="kind-Revenue"),
        pytest.param([{"person": "nina", "share": Decimal(1), "kind": None}], "kind", id="kind-null"),
        pytest.param([{"person": "nina", "share": Decimal(1), "kind": "bonus"}], "kind", id="kind-typo"),
        pytest.param(
            [{"person": "nina", "share": Decimal("1.5"), "kind": "revenue"}], "share", id="share-1.5"
        ),
        pytest.param(
            [{"person": "nina", "share": Decimal("-0.1"), "kind": "overlay"}], "share", id="share-neg"
        ),
        pytest.param([{"person": "nina", "share": None, "kind": "revenue"}], "share", id="share-null"),
        pytest.param(
            [{"person": None, "share": Decimal(1), "kind": "revenue"}], "no person", id="person-null"
        ),
        pytest.param(
            [{"person": "", "share": Decimal(1), "kind": "revenue"}], "no person", id="person-empty"
        ),
        pytest.param(
            [{"person": "a", "share": Decimal("0.7"), "kind": "revenue"}], "total 70.000000%", id="revenue-70"
        ),
        pytest.param(
            [
                {"person": "a", "share": Decimal("0.7"), "kind": "revenue"},
                {"person": "b", "share": Decimal("0.4"), "kind": "revenue"},
            ],
            "total 110.000000%",
            id="revenue-110",
        ),
    ],
)
def test_bad_splits_are_refused_naming_the_deal(boundary: Boundary, splits: list[Any], says: str) -> None:
    _refused(boundary, _set("deals", "splits", splits, _SPLIT), "deals", "deal D2", "splits", says)


@pytest.mark.parametrize(
    "dtype",
    [
        pl.List(pl.Struct({"person": pl.String, "share": pl.Float64, "kind": pl.String})),
        pl.List(pl.Struct({"person": pl.String, "share": pl.Decimal(38, 6)})),
        pl.List(pl.String),
    ],
    ids=["float-share", "no-kind", "list-of-text"],
)
def test_splits_of_the_wrong_shape_are_refused(dtype: pl.DataType) -> None:
    frame = VALID["deals"].with_columns(pl.Series("splits", [None, None], dtype=dtype))
    _refused(_through_as_lazy, frame, "deals", "deals: splits", "must be a List(Struct(")


def test_overlay_splits_on_top_of_revenue_pass() -> None:
    splits = [
        {"person": "a", "share": Decimal("0.5"), "kind": "revenue"},
        {"person": "b", "share": Decimal("0.5"), "kind": "revenue"},
        {"person": "c", "share": Decimal("0.3"), "kind": "overlay"},
    ]
    assert as_lazy(_set("deals", "splits", splits, _SPLIT), "deals").collect().shape[0] == 2


COUNT_CASES = [
    pytest.param(kind, column, id=f"{kind}.{column}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type == "count" and rule.ge == 0  # a feedback's score has its type's scale (tests/feedback)
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize(("kind", "column"), COUNT_CASES)
def test_negative_count_is_refused(boundary: Boundary, kind: str, column: str) -> None:
    _refused(boundary, _set(kind, column, -1), kind, BAD_ROW[kind], column, "must be at least 0")


def test_all_null_optional_columns_pass_with_their_type() -> None:
    frame = VALID["leads"].with_columns(pl.lit(None).alias("owner"), pl.lit(None).alias("company_size"))
    out = as_lazy(frame, "leads").collect().to_native()
    assert out.schema["owner"] == pl.String
    assert out.schema["company_size"] == pl.Int64


@pytest.mark.parametrize("scale", [2, 6, 12, 18, 30])
def test_any_decimal_scale_gives_the_same_rewards(scale: int) -> None:
    # A scale of 18 or more overflowed the kernel's minor-unit arithmetic (ComputeError): amounts are
    # checked to have no digits below the minor unit, so the frame check narrows them exactly.
    plan = RewardPlan.model_validate(
        {
            "id": "v1",
            "currency": "EUR",
            "pool": {"rate": "10%"},
            "participants": [{"person": "nina"}],
            "splits": [{"kind": "revenue", "shares": {"nina": "100%"}}],
        }
    )
    deals = VALID["deals"].with_columns(
        pl.Series("amount", [Decimal("24000.00"), Decimal("1234.56")]).cast(pl.Decimal(38, scale)),
        pl.lit(None, dtype=pl.Date).alias("refunded_on"),
        pl.lit(None, dtype=VALID["deals"].schema["splits"]).alias("splits"),
        pl.lit(None, dtype=pl.Decimal(38, 2)).alias("discount"),
        pl.lit(None, dtype=pl.String).alias("discount_currency"),
    )
    ledger = compute_rewards(deals, plan, period="2026-10", as_of=date(2026, 10, 31))
    assert {k: str(v.amount) for k, v in ledger.totals("participant").items()} == {"nina": "2523.46"}


@pytest.mark.parametrize("currency", [None, "eur", "XTS"])
def test_records_of_a_frame_with_a_bad_currency_name_the_deal(currency: str | None) -> None:
    # The constructor refuses such a frame; records() still names the deal if one gets past it.
    data = Dataset()
    object.__setattr__(data, "deals", _set("deals", "amount_currency", currency))
    with pytest.raises(DataError) as info:
        data.records("deals")
    assert_names(str(info.value), "deal D2", "amount_currency")


def test_polars_lazy_frames_are_checked_on_their_engine() -> None:
    assert as_lazy(VALID["deals"].lazy(), "deals").collect().shape[0] == 2
    with pytest.raises(DataError) as info:
        as_lazy(_set("deals", "stage", "Won").lazy(), "deals")
    assert_names(str(info.value), "deal D2", "stage", "'Won'")


def test_integer_amounts_are_exact_money() -> None:
    frame = VALID["deals"].with_columns(pl.Series("amount", [24000, 5], dtype=pl.Int64))
    assert as_lazy(frame, "deals").collect().shape[0] == 2


# --------------------------------------------------------------------------------------------------
# End to end: the silent wrong answers of issue 13.


@pytest.mark.parametrize("stage", ["Won", "WON", "wn", None])
@pytest.mark.parametrize("command", ["rewards", "kpis"])
def test_cli_refuses_a_deal_stage_the_model_refuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, stage: str | None
) -> None:
    _set("deals", "stage", stage).write_parquet(tmp_path / "deals.parquet")
    args = [command, "examples/plan.yaml", "--data", str(tmp_path), "--period", "2026-10"]
    code = cli.main(args)
    _, err = capsys.readouterr()
    assert code == 2
    assert_names(err, str(tmp_path / "deals.parquet"), "deal D2", "stage")
    assert "Traceback" not in err


def test_sla_refuses_an_activity_type_it_would_not_count() -> None:
    plan = load_plan("examples/plan.yaml")
    data = {"activities": _set("activities", "type", "fax")}
    with pytest.raises(DataError) as info:
        evaluate_sla(plan, data, as_of=T)
    assert_names(str(info.value), "activity AC2", "type", "'fax'", "'call'")


def test_attribution_refuses_a_duplicated_touchpoint_id() -> None:
    frame = _set("touchpoints", "id", "T1").with_columns(pl.lit("L1").alias("lead_id"))
    assert Journeys.from_touchpoints(VALID["touchpoints"]).offsets.tolist() == [0, 1, 2]
    with pytest.raises(DataError) as info:
        Journeys.from_touchpoints(frame)
    assert_names(str(info.value), "touchpoint T1", "id", "appears more than once")
    with pytest.raises(DataError):
        attribute(frame, model="linear")


@pytest.mark.parametrize("value", [["1", "0"], ["yes", "no"]], ids=["digits", "words"])
def test_attribution_refuses_converted_as_text(value: list[str]) -> None:
    frame = pl.DataFrame({"journey": ["a", "b"], "time": [T, T], "channel": ["x", "y"], "converted": value})
    with pytest.raises(DataError) as info:
        Journeys.from_frame(frame)
    assert_names(str(info.value), "touches", "converted", "must be a numeric or Boolean column", "String")


def test_attribution_refuses_a_naive_conversion_time() -> None:
    frame = pl.DataFrame(
        {"journey": ["a"], "time": [T], "channel": ["x"], "converted": [1], "ct": [datetime(2026, 1, 1)]}
    )
    with pytest.raises(DataError) as info:
        Journeys.from_frame(frame, conversion_time="ct")
    assert_names(str(info.value), "touches", "ct", "naive")


# --------------------------------------------------------------------------------------------------
# Records: rows that are not mappings, numbers as times, years and amounts out of range.


@pytest.mark.parametrize("row", [["L1", T], None, "L1", 42, ("id", "L1")], ids=repr)
@pytest.mark.parametrize("model", list(RECORD_KINDS.values()), ids=lambda m: m.kind)
def test_parse_records_names_a_row_that_is_not_a_mapping(model: type[Record], row: object) -> None:
    with pytest.raises(DataError) as info:
        parse_records(model, [row])  # type: ignore[list-item]
    assert_names(str(info.value), model.kind, "#0", "expected a mapping")


@pytest.mark.parametrize("rows", [None, 42, {"id": "L1"}], ids=repr)
def test_parse_records_refuses_rows_that_are_not_a_list(rows: object) -> None:
    with pytest.raises(DataError) as info:
        parse_records(Lead, rows)  # type: ignore[arg-type]
    assert_names(str(info.value), "lead", "expected an iterable of rows")


def _raw(kind: str) -> dict[str, Any]:
    return _ONE[kind][0].model_dump(by_alias=True, exclude_none=True)


TIME_FIELDS = [
    pytest.param(kind, column, value, id=f"{kind}.{column}-{value!r}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type in ("time", "date")
    for value in (1_790_000_000, 1_790_000_000_000, 1.79e9, Decimal(1790000000), True)
]


@pytest.mark.parametrize(("kind", "column", "value"), TIME_FIELDS)
def test_records_refuse_numbers_as_times(kind: str, column: str, value: object) -> None:
    model = RECORD_KINDS[kind]
    with pytest.raises(DataError) as info:
        parse_records(model, [{**_raw(kind), column: value}])
    assert_names(str(info.value), model.kind, _ONE[kind][0].record_id, column)
    assert "not the number" in str(info.value)


RECORD_YEARS = [
    pytest.param(kind, column, value, id=f"{kind}.{column}-{value}")
    for kind, rules in RULES.items()
    for column, rule in rules.items()
    if rule.type in ("time", "date")
    for value in (
        ("9999-12-31T00:00:00+00:00", "1800-01-01T00:00:00+00:00")
        if rule.type == "time"
        else ("9999-12-31", "1899-12-31")
    )
]


@pytest.mark.parametrize(("kind", "column", "value"), RECORD_YEARS)
def test_records_refuse_years_out_of_range(kind: str, column: str, value: str) -> None:
    model = RECORD_KINDS[kind]
    with pytest.raises(DataError) as info:
        parse_records(model, [{**_raw(kind), column: value}])
    assert_names(str(info.value), model.kind, _ONE[kind][0].record_id, column, "outside 1900 to 2199")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("amount", {"amount": Decimal("1e40"), "currency": "EUR"}, "digits before the decimal point"),
        ("amount", "1000000000000000 EUR", "digits before the decimal point"),
        ("amount", "24000.005 EUR", "digits below the EUR minor unit"),
        ("amount", "1.5 JPY", "digits below the JPY minor unit"),
        ("amount", "10 XTS", "no minor unit"),
        ("amount", "10 XAU", "no minor unit"),
        ("discount", "0.001 EUR", "digits below the EUR minor unit"),
    ],
)
def test_deal_records_bound_their_amounts(field: str, value: object, says: str) -> None:
    row = {**_raw("deals"), field: value}
    if field == "amount":
        row.pop("discount")
    with pytest.raises(DataError) as info:
        parse_records(Deal, [row])
    assert_names(str(info.value), "deal D1", field, says)


def test_records_of_a_checked_dataset_round_trip() -> None:
    data = Dataset(**VALID)
    for kind in RECORD_KINDS:
        assert data.records(kind) == [*_ONE[kind], *_TWO[kind]]
