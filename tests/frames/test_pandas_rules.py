"""The one rule for values that dataframe libraries store their own way (pandas above all).

Each case goes through both boundaries, :func:`~smarketing.frames.as_lazy` and the ``Dataset`` constructor,
and never ends in a pydantic message ("Input should be a valid string") or a raw polars error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pytest

from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.journey import funnel
from smarketing.kpi import scorecard
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset, Lead, parse_records

pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")

T = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)


def _through_as_lazy(frame: Any, kind: str) -> pl.DataFrame:
    out = as_lazy(frame, kind).collect().to_native()
    assert isinstance(out, pl.DataFrame)
    return out


def _through_dataset(frame: Any, kind: str) -> pl.DataFrame:
    out: pl.DataFrame = getattr(Dataset(**{kind: frame}), kind)
    return out


Boundary = Callable[[Any, str], pl.DataFrame]
BOUNDARIES = [pytest.param(_through_as_lazy, id="as_lazy"), pytest.param(_through_dataset, id="Dataset")]


def _leads(**columns: Any) -> Any:
    # Microseconds, as a Dataset holds them, on pandas 2 (nanoseconds by default) as on pandas 3.
    created = pd.to_datetime([T] * 3, utc=True).astype("datetime64[us, UTC]")
    base = {"id": ["L1", "L2", "L3"], "created_at": created}
    return pd.DataFrame({**base, **columns})


def _refused(boundary: Boundary, frame: Any, kind: str, *says: str) -> DataError:
    with pytest.raises(DataError) as info:
        boundary(frame, kind)
    message = str(info.value)
    missing = [s for s in says if s not in message]
    assert not missing, f"{message!r} does not say {missing}"
    assert "valid string" not in message
    return info.value


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_integer_ids_become_text(boundary: Boundary) -> None:
    frame = _leads(id=[101, 102, 103], account_id=[7, 7, 8])
    out = boundary(frame, "leads")
    assert out.get_column("id").to_list() == ["101", "102", "103"]
    assert out.get_column("account_id").to_list() == ["7", "7", "8"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_whole_float_ids_with_a_missing_value_become_text_and_null(boundary: Boundary) -> None:
    # pandas reads an integer id column with an empty cell as float64: 7.0, NaN, 8.0.
    frame = _leads(account_id=[7, None, 8])
    assert frame["account_id"].dtype == np.float64
    out = boundary(frame, "leads")
    assert out.get_column("account_id").to_list() == ["7", None, "8"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_float_ids_that_are_not_whole_are_refused(boundary: Boundary) -> None:
    error = _refused(boundary, _leads(account_id=[7.0, 7.5, None]), "leads", "leads: account_id", "7.5")
    assert "whole number" in str(error)
    _refused(boundary, _leads(account_id=[2.0**53, 1.0, 2.0]), "leads", "account_id", "whole number")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_missing_required_id_is_refused_not_guessed(boundary: Boundary) -> None:
    _refused(boundary, _leads(id=[1, None, 3]), "leads", "leads", "id", "required value is missing")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_whole_float_counts_become_integers(boundary: Boundary) -> None:
    frame = pd.DataFrame({"id": ["A1", "A2"], "company_size": [50.0, np.nan]})
    out = boundary(frame, "accounts")
    assert out.schema["company_size"] == pl.Int64
    assert out.get_column("company_size").to_list() == [50, None]
    _refused(boundary, frame.assign(company_size=[50.5, 1.0]), "accounts", "company_size", "50.5")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "NaN"])
def test_nan_and_none_in_text_columns_are_null(boundary: Boundary, missing: object) -> None:
    frame = _leads(persona=pd.Series(["cfo", missing, "cto"], dtype=object), region=["emea", missing, "emea"])
    out = boundary(frame, "leads")
    assert out.get_column("persona").to_list() == ["cfo", None, "cto"]
    assert out.get_column("region").to_list() == ["emea", None, "emea"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_nan_in_a_required_text_column_is_refused(boundary: Boundary) -> None:
    frame = pd.DataFrame({"lead_id": ["L1", np.nan], "to": ["mql", "sql"], "time": pd.to_datetime([T] * 2)})
    _refused(boundary, frame, "stage_events", "stage_events", "lead_id", "required value is missing")


def _deals(**columns: Any) -> Any:
    base = {
        "id": ["D1", "D2"],
        "amount": [Decimal("6000.00"), Decimal("10.50")],
        "amount_currency": ["EUR", "EUR"],
        "stage": ["won", "open"],
        "created_at": pd.to_datetime([T] * 2, utc=True),
        "close_date": pd.to_datetime(["2026-10-02", None]),
    }
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_float_money_is_refused_saying_how_to_fix_it(boundary: Boundary) -> None:
    _refused(
        boundary,
        _deals(amount=[6000.0, 10.5]),
        "deals",
        "deals: amount",
        "Float64",
        "floats cannot hold money",
        "decimal.Decimal",
        "integer column",
    )


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_decimal_objects_and_integer_money_are_accepted(boundary: Boundary) -> None:
    out = boundary(_deals(), "deals")
    assert out.schema["amount"] == pl.Decimal(38, 2)
    assert out.get_column("amount").to_list() == [Decimal("6000.00"), Decimal("10.50")]
    whole = boundary(_deals(amount=[6000, 10]), "deals")
    assert whole.get_column("amount").to_list() == [6000, 10]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_naive_midnights_in_a_date_column_are_days(boundary: Boundary) -> None:
    frame = _deals()
    assert frame["close_date"].dtype.kind == "M"  # pandas has no date type
    out = boundary(frame, "deals")
    assert out.schema["close_date"] == pl.Date
    assert out.get_column("close_date").to_list() == [date(2026, 10, 2), None]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_time_of_day_in_a_date_column_is_refused(boundary: Boundary) -> None:
    frame = _deals(close_date=pd.to_datetime(["2026-10-02 09:00", None]))
    _refused(boundary, frame, "deals", "deals: close_date", "2026-10-02 09:00:00", "must be a day")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_an_object_column_of_none_is_a_null_column_of_its_type(boundary: Boundary) -> None:
    frame = _deals(refunded_on=pd.Series([None, None], dtype=object))
    out = boundary(frame, "deals")
    assert out.schema["refunded_on"] == pl.Date
    assert out.get_column("refunded_on").null_count() == 2
    text = _deals(refunded_on=pd.Series(["2026-10-03", None], dtype=object))
    _refused(boundary, text, "deals", "refunded_on", "must be a Date column, not String")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Etc/UTC"])
def test_times_in_any_zone_become_the_same_instants_in_utc(boundary: Boundary, zone: str) -> None:
    frame = _leads()
    frame["created_at"] = frame["created_at"].dt.tz_convert(zone)
    out = boundary(frame, "leads")
    assert out.schema["created_at"] == pl.Datetime("us", "UTC")
    assert out.get_column("created_at").to_list() == [T] * 3


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_naive_times_are_still_refused(boundary: Boundary) -> None:
    frame = _leads(created_at=pd.to_datetime(["2026-10-01 09:30"] * 3))
    _refused(boundary, frame, "leads", "leads", "created_at", "naive datetimes are ambiguous")


def test_duckdb_times_are_utc_whatever_the_connection_zone() -> None:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'Asia/Kolkata'")
        relation = con.sql("SELECT 'L1' AS id, TIMESTAMPTZ '2026-10-01 09:30:00+00' AS created_at")
        for out in (_through_as_lazy(relation, "leads"), _through_dataset(relation, "leads")):
            assert out.schema["created_at"] == pl.Datetime("us", "UTC")
            assert out.get_column("created_at").to_list() == [T]
    finally:
        con.close()


def test_a_pandas_frame_with_wrong_columns_is_refused_by_the_dataset() -> None:
    export = pd.DataFrame({"Record ID": [1, 2], "Create Date": ["2026-10-01", "2026-10-02"]})
    with pytest.raises(DataError) as info:
        Dataset(leads=export)
    assert str(info.value).startswith("leads: unknown column(s) 'Record ID', 'Create Date'")
    with pytest.raises(DataError) as info:
        Dataset(leads=pd.DataFrame({"id": ["L1"], "persona": ["cfo"]}))
    assert str(info.value).startswith("leads: missing required column(s) created_at")
    with pytest.raises(DataError, match=r"deals: missing required column\(s\) amount_currency"):
        Dataset(deals=_deals().drop(columns=["amount_currency"]))


def test_the_dataset_adds_the_optional_columns_a_frame_leaves_out() -> None:
    data = Dataset(leads=_leads())
    assert data.leads.columns == Dataset().leads.columns
    assert data.leads.schema == Dataset().leads.schema
    assert data.leads.get_column("persona").null_count() == 3
    assert [lead.id for lead in data.records("leads")] == ["L1", "L2", "L3"]


def test_the_dataset_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(TypeError, match=r"leads: expected a dataframe narwhals supports .* not list"):
        Dataset(leads=[{"id": "L1"}])


def test_a_mapping_with_an_unknown_kind_is_refused(example_plan: AlignmentPlan) -> None:
    with pytest.raises(DataError, match=r"unknown record kind\(s\) 'lead'"):
        funnel(example_plan.journey, {"lead": _leads(), "stage_events": []})


def test_a_mapping_of_pandas_frames_runs_a_scorecard(example_plan: AlignmentPlan) -> None:
    # A mapping leaves out the kinds it does not hold: they are empty, as in a Dataset.
    leads = _leads(id=[1, 2, 3])
    events = pd.DataFrame(
        {"lead_id": [1, 2], "to": ["mql", "mql"], "time": pd.to_datetime([T] * 2, utc=True)}
    )
    as_of = datetime(2026, 10, 31, tzinfo=UTC)
    frames = scorecard(example_plan, {"leads": leads, "stage_events": events}, period="2026-10", as_of=as_of)
    values = dict(frames.to_frame().select("kpi", "value").iter_rows())
    assert values["mql_volume"] == 2  # the integer lead ids of both frames joined as text
    data = Dataset(leads=leads, stage_events=events)
    assert frames.to_dict() == scorecard(example_plan, data, period="2026-10", as_of=as_of).to_dict()


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"id": 101}, "id: the number 101 where text belongs"),
        ({"id": "L1", "persona": float("nan")}, "persona: NaN where text belongs (pandas' missing value)"),
    ],
    ids=["integer-id", "nan"],
)
def test_records_from_pandas_rows_say_what_to_do(row: dict[str, Any], says: str) -> None:
    # df.to_dict("records") gives integer ids and NaN: the message says what to do, never pydantic's own.
    with pytest.raises(DataError) as info:
        parse_records(Lead, [{"created_at": T, **row}])
    assert says in str(info.value)
    assert "Dataset(...)" in str(info.value)
    assert "valid string" not in str(info.value)
