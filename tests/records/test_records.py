"""Canonical CRM records: aware times, deal consistency, located data errors, the columnar round trip."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from smarketing.errors import DataError
from smarketing.money import Money
from smarketing.records import (
    RECORD_KINDS,
    Account,
    Activity,
    Dataset,
    Deal,
    DealSplit,
    Disposition,
    Lead,
    Record,
    StageEvent,
    Touchpoint,
    parse_records,
)

BERLIN_SUMMER = timezone(timedelta(hours=2))
T = datetime(2026, 10, 1, 9, 30, tzinfo=BERLIN_SUMMER)
NAIVE = datetime(2026, 10, 1, 9, 30)

#: One valid raw row per record kind, and the field that holds its time.
ROWS: dict[type[Record], tuple[dict[str, Any], str]] = {
    Lead: ({"id": "L1", "created_at": T}, "created_at"),
    Touchpoint: ({"id": "T1", "lead_id": "L1", "time": T, "channel": "webinar", "team": "marketing"}, "time"),
    StageEvent: ({"lead_id": "L1", "from": "mql", "to": "sal", "time": T}, "time"),
    Activity: ({"id": "A1", "lead_id": "L1", "person": "nina", "time": T, "type": "call"}, "time"),
    Deal: ({"id": "D1", "amount": "24000.00 EUR", "stage": "open", "created_at": T}, "created_at"),
    Disposition: ({"lead_id": "L1", "reason": "not_a_fit", "time": T}, "time"),
}


def deal(**changes: Any) -> Deal:
    return Deal.model_validate({**ROWS[Deal][0], **changes})


# --------------------------------------------------------------------------------------------------
# Time zones.


@pytest.mark.parametrize("model", list(ROWS), ids=lambda m: m.kind)
def test_naive_datetimes_rejected(model: type[Record]) -> None:
    row, field = ROWS[model]
    assert model.model_validate(row)
    with pytest.raises(ValidationError, match="Input should have timezone info"):
        model.model_validate({**row, field: NAIVE})
    with pytest.raises(ValidationError, match="Input should have timezone info"):
        model.model_validate({**row, field: "2026-10-01T09:30:00"})


@pytest.mark.parametrize("text", ["2026-10-01T07:30:00Z", "2026-10-01T09:30:00+02:00"])
def test_aware_text_accepted(text: str) -> None:
    lead = Lead.model_validate({"id": "L1", "created_at": text})
    assert lead.created_at == T


def test_records_are_frozen_and_strict() -> None:
    lead = Lead(id="L1", created_at=T)
    with pytest.raises(ValidationError, match="frozen"):
        lead.grade = "A"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Lead.model_validate({"id": "L1", "created_at": T, "score": 10})


def test_record_id_falls_back_to_the_lead() -> None:
    assert Lead(id="L7", created_at=T).record_id == "L7"
    assert StageEvent.model_validate({**ROWS[StageEvent][0], "lead_id": "L8"}).record_id == "L8"


# --------------------------------------------------------------------------------------------------
# Deal consistency.


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "-1.00 EUR"}, "amount: must not be negative"),
        ({"discount": "100 USD"}, "discount: must be in the deal's currency EUR"),
        ({"stage": "won"}, "a won deal needs a close_date"),
        ({"stage": "lost"}, "a lost deal needs a close_date"),
        ({"refunded_on": "2026-11-01"}, "only a won deal can be refunded"),
        ({"stage": "lost", "close_date": "2026-10-20", "refunded_on": "2026-11-01"}, "only a won deal"),
        (
            {"splits": [{"person": "sara", "share": "60%"}, {"person": "ben", "share": "30%"}]},
            "revenue splits total 90.0%, not 100%",
        ),
        ({"splits": [{"person": "sara", "share": "0.999"}]}, "revenue splits total 99.9"),
        ({"amount": "24000 eur"}, "use 'EUR'"),
        ({"stage": "closed"}, "'open', 'won' or 'lost'"),
    ],
)
def test_deal_validators(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        deal(**changes)


def test_valid_deals() -> None:
    won = deal(
        stage="won",
        close_date="2026-10-20",
        refunded_on="2026-12-01",
        discount="1000.00 EUR",
        splits=[
            {"person": "sara", "share": "70%"},
            {"person": "ben", "share": "30%"},
            {"person": "tom", "share": "5%", "kind": "overlay"},
        ],
    )
    assert won.close_date == date(2026, 10, 20)
    assert sum(s.share for s in won.splits if s.kind == "revenue") == 1
    # Overlay splits alone need not add up to anything.
    assert deal(splits=[{"person": "tom", "share": "5%", "kind": "overlay"}]).splits[0].kind == "overlay"
    assert deal(amount="0 EUR").amount == Money("0", "EUR")


# --------------------------------------------------------------------------------------------------
# parse_records and DataError.


def test_parse_records_validates_rows() -> None:
    rows = [{"id": f"L{i}", "created_at": "2026-10-01T09:00:00Z"} for i in range(3)]
    leads = parse_records(Lead, rows)
    assert [lead.id for lead in leads] == ["L0", "L1", "L2"]
    assert parse_records(Lead, []) == []


@pytest.mark.parametrize(
    ("model", "row", "text"),
    [
        (
            Lead,
            {"id": "L9", "created_at": "2026-10-01T09:00:00"},
            "lead L9: created_at: Input should have timezone",
        ),
        (Lead, {"id": "L9"}, "lead L9: created_at: Field required"),
        (
            StageEvent,
            {"lead_id": "L3", "to": "sql", "time": NAIVE},
            "stage_event L3: time: Input should have",
        ),
        (Disposition, {"lead_id": "L4", "time": T}, "disposition L4: reason: Field required"),
        (Activity, {**ROWS[Activity][0], "type": "fax"}, "activity A1: type: Input should be 'call'"),
        (
            Deal,
            {**ROWS[Deal][0], "splits": [{"person": "sara", "share": "2"}]},
            "deal D1: splits.0.share: Input should be less than or equal to 1",
        ),
        (
            Account,
            {"id": "AC1", "company_size": -3},
            "account AC1: company_size: Input should be greater than",
        ),
        (Account, {"name": "no id"}, "account #1: id: Field required"),
    ],
)
def test_parse_records_names_kind_record_and_field(
    model: type[Record], row: dict[str, Any], text: str
) -> None:
    good = ROWS.get(model, ({"id": "AC0"}, ""))[0]
    with pytest.raises(DataError) as info:
        parse_records(model, [good, row])
    err = info.value
    assert str(err).startswith(text)
    assert err.kind == model.kind
    assert err.field == text.split(": ")[1]
    assert err.record == text.split(": ", maxsplit=1)[0].split(" ")[1]
    assert isinstance(err, ValueError)
    assert err.__suppress_context__


def test_parse_records_stops_at_the_first_bad_row() -> None:
    rows = [{"id": "L1"}, {"id": "L2"}]
    with pytest.raises(DataError) as info:
        parse_records(Lead, rows)
    assert info.value.record == "L1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "-1 EUR"}, "amount"),
        ({"discount": "1 USD"}, "discount"),
        ({"stage": "won"}, "close_date"),
        ({"refunded_on": "2026-11-01"}, "refunded_on"),
        ({"splits": [{"person": "sara", "share": "50%"}]}, "splits"),
    ],
)
def test_deal_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as info:
        parse_records(Deal, [{**ROWS[Deal][0], **changes}])
    assert info.value.field == field


# --------------------------------------------------------------------------------------------------
# The columnar form.


def sample_records() -> dict[str, list[Any]]:
    return {
        "accounts": [
            Account(id="AC1", name="Nordfracht GmbH", industry="logistics", company_size=850, country="DE"),
            Account(id="AC2"),
        ],
        "leads": [
            Lead(
                id="L1",
                account_id="AC1",
                created_at=T,
                source="webinar",
                persona="ops-director",
                grade="A",
                owner="nina",
                company_size=850,
                country="NO",
                status="asked_to_call_later",
            ),
            Lead(id="L2", created_at=datetime(2026, 10, 2, 23, 59, 59, 999999, tzinfo=UTC)),
        ],
        "touchpoints": [
            Touchpoint(
                id="T1", lead_id="L1", time=T, channel="webinar", team="marketing", campaign="fy27-q1"
            ),
            Touchpoint(id="T2", lead_id="L1", time=T, channel="sdr_call", team="sales", owner="nina"),
        ],
        "stage_events": [
            StageEvent.model_validate({"lead_id": "L1", "to": "lead", "time": T}),
            StageEvent.model_validate(
                {"lead_id": "L1", "from": "lead", "to": "mql", "time": T, "actor": "x"}
            ),
        ],
        "activities": [
            Activity(id="A1", lead_id="L1", person="nina", time=T, type="call", outcome="connected")
        ],
        "deals": [
            Deal(
                id="D1",
                account_id="AC1",
                lead_id="L1",
                amount=Money("1250000", "JPY"),
                discount=Money("50000", "JPY"),
                stage="open",
                created_at=T,
                owner="sara",
                product="analytics",
                segment="mid-market",
                splits=[
                    DealSplit(person="sara", share=Decimal("0.7")),
                    DealSplit(person="ben", share=Decimal("0.3")),
                    DealSplit(person="tom", share=Decimal("0.05"), kind="overlay"),
                ],
            ),
            Deal(
                id="D2",
                amount=Money("24000.50", "EUR"),
                discount=Money("0.01", "EUR"),
                stage="open",
                created_at=T,
            ),
            Deal(id="D3", amount=Money("12.3", "EUR"), stage="open", created_at=T),
            Deal(id="D4", amount=Money("0.125", "BHD"), stage="open", created_at=T),
        ],
        "dispositions": [
            Disposition(lead_id="L1", reason="not_a_fit", time=T, person="nina", note="Too small")
        ],
    }


def test_round_trip_loses_nothing() -> None:
    given = sample_records()
    ds = Dataset.from_records(**given)
    for kind, records in given.items():
        back = ds.records(kind)
        assert back == records, kind
        assert [type(r) for r in back] == [type(r) for r in records]


def test_round_trip_keeps_money_exact() -> None:
    deals = Dataset.from_records(deals=sample_records()["deals"]).records("deals")
    assert [(d.amount.amount, d.amount.currency) for d in deals] == [
        (Decimal("1250000"), "JPY"),
        (Decimal("24000.50"), "EUR"),
        (Decimal("12.30"), "EUR"),
        (Decimal("0.125"), "BHD"),
    ]
    assert str(deals[0].amount) == "1250000 JPY"  # 0 minor units: no ".000000" left over
    assert deals[1].discount == Money("0.01", "EUR")
    assert deals[2].discount is None
    assert [(s.person, s.share, s.kind) for s in deals[0].splits] == [
        ("sara", Decimal("0.7"), "revenue"),
        ("ben", Decimal("0.3"), "revenue"),
        ("tom", Decimal("0.05"), "overlay"),
    ]


def test_times_are_stored_in_utc() -> None:
    ds = Dataset.from_records(leads=sample_records()["leads"])
    assert ds.leads["created_at"][0] == datetime(2026, 10, 1, 7, 30, tzinfo=UTC)
    assert ds.records("leads")[0].created_at == T


def test_money_columns() -> None:
    ds = Dataset.from_records(deals=sample_records()["deals"])
    assert ds.deals["amount_currency"].to_list() == ["JPY", "EUR", "EUR", "BHD"]
    assert ds.deals["discount_currency"].to_list() == ["JPY", "EUR", None, None]
    assert ds.deals["amount"].to_list()[1] == Decimal("24000.50")


def test_round_trip_closed_deals() -> None:
    deals = [
        deal(id="W1", stage="won", close_date="2026-10-20", refunded_on="2026-12-01"),
        deal(id="X1", stage="lost", close_date="2026-10-21"),
    ]
    assert Dataset.from_records(deals=deals).records("deals") == deals


def test_round_trip_keeps_every_digit() -> None:
    deals = [
        deal(id="D1", amount="1.234 BHD"),
        deal(id="D2", amount="1.2345 CLF"),
        deal(id="D3", amount="7 JPY"),
    ]
    assert Dataset.from_records(deals=deals).records("deals") == deals


def test_digits_below_the_minor_unit_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"1\.23456789 has digits below the EUR minor unit"):
        deal(amount="1.23456789 EUR")


def _expected_columns(model: type[Record]) -> list[str]:
    columns = []
    for name, field in model.model_fields.items():
        columns.append(field.alias or name)
        if name in {"amount", "discount"}:
            columns.append(f"{name}_currency")
    return columns


@pytest.mark.parametrize(("kind", "model"), list(RECORD_KINDS.items()))
def test_empty_frames_have_the_documented_schema(kind: str, model: type[Record]) -> None:
    frame = getattr(Dataset(), kind)
    assert frame.height == 0
    assert frame.columns == _expected_columns(model)
    assert getattr(Dataset.from_records(), kind).schema == frame.schema
    for column, dtype in frame.schema.items():
        if column in {"created_at", "time"}:
            assert dtype == pl.Datetime("us", "UTC")
        elif column in {"amount", "discount"}:
            assert isinstance(dtype, pl.Decimal)
        elif column == "company_size":
            assert dtype == pl.Int64
    assert Dataset().records(kind) == []


def test_deal_split_column() -> None:
    dtype = Dataset().deals.schema["splits"]
    assert dtype == pl.List(pl.Struct({"person": pl.String, "share": pl.Decimal(38, 6), "kind": pl.String}))


def test_date_columns_are_dates() -> None:
    schema = Dataset().deals.schema
    assert (schema["close_date"], schema["refunded_on"]) == (pl.Date, pl.Date)


def test_frames_and_unknown_kind() -> None:
    ds = Dataset()
    assert list(ds.frames()) == list(RECORD_KINDS)
    with pytest.raises(ValueError, match="unknown record kind 'lead'; known: accounts, leads"):
        ds.records("lead")


def test_dataset_is_frozen() -> None:
    import attrs

    ds = Dataset()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ds.leads = pl.DataFrame()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("ids", "repeated"),
    [
        (["L1", "L2", "L3"], 0),
        (["L1", "L2", "L1", "L1"], 2),
        (["L1", None, None], 1),  # nulls count as one value (and are refused as missing besides)
        ([], 0),
    ],
)
def test_duplicates_are_counted_exactly_on_every_engine(ids: list[str | None], repeated: int) -> None:
    import narwhals as nw
    import pyarrow as pa

    from smarketing.records.schema import _duplicates

    polars_frame = pl.DataFrame({"id": ids}, schema={"id": pl.String})
    assert _duplicates(nw.from_native(polars_frame).lazy(), "id") == repeated
    arrow = pa.table({"id": pa.array(ids, pa.string())})
    assert _duplicates(nw.from_native(arrow).lazy(backend="duckdb"), "id") == repeated


def test_a_checked_dataset_takes_only_canonical_frames() -> None:
    from smarketing.records.dataset import checked_dataset, frame_schema

    leads = pl.DataFrame(schema=frame_schema("leads"))
    data = checked_dataset({"leads": leads})
    assert data.leads.schema == leads.schema
    assert data.deals.schema == frame_schema("deals")
    with pytest.raises(ValueError, match="leads: not in the canonical columns and dtypes"):
        checked_dataset({"leads": leads.drop("status")})
