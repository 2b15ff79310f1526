"""The one validation every connector ends in: parsing, refusals that name the place, nothing lost."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.connectors import Default, Loaded, LoadReport, RawFrame, intake
from smarketing.connectors.intake import _canonical_time, _fast_time, _options, _parse_time
from smarketing.errors import DataError, LoadError
from smarketing.records import Dataset

AsText = Callable[[Dataset], dict[str, RawFrame]]


def leads(**columns: list[Any]) -> RawFrame:
    n = len(next(iter(columns.values())))
    frame = pl.DataFrame({**columns, "line": list(range(2, n + 2))})
    return RawFrame(frame, "leads.csv", lines="line")


def lenient(raw: dict[str, RawFrame], **options: Any) -> Loaded:
    return intake(raw, connector="test", strict=False, **options)


def reasons(report: LoadReport) -> list[str]:
    return [str(r) for r in report.refusals]


# --------------------------------------------------------------------------------------------------
# Times


def test_times_with_an_offset_in_every_iso_spelling_are_read_as_utc() -> None:
    texts = [
        "2026-10-01T09:00:00+02:00",
        "2026-10-01 09:00:00+0200",
        "2026-10-01T07:00:00Z",
        "2026-10-01T07:00Z",
        "2026-10-01T07:00:00.000Z",
        "2026-10-01T04:00:00-03:00",
    ]
    data, report = lenient({"leads": leads(id=[f"L{i}" for i in range(6)], created_at=texts)})
    assert report.ok
    assert set(data.leads.get_column("created_at")) == {datetime(2026, 10, 1, 7, tzinfo=UTC)}


def test_times_without_an_offset_need_the_time_zone_and_are_never_guessed() -> None:
    raw = {"leads": leads(id=["L1", "L2"], created_at=["2026-10-01 09:00", "2026-10-01"])}
    _, report = lenient(raw)
    assert reasons(report) == [
        "leads.csv:2: lead L1: created_at: '2026-10-01 09:00' has no UTC offset; pass time_zone= "
        "(the zone the source writes times in)",
        "leads.csv:3: lead L2: created_at: '2026-10-01' has no UTC offset; pass time_zone= "
        "(the zone the source writes times in)",
    ]
    data, report = lenient(raw, time_zone="America/New_York")
    assert report.ok
    assert data.leads.get_column("created_at").to_list() == [
        datetime(2026, 10, 1, 13, tzinfo=UTC),
        datetime(2026, 10, 1, 4, tzinfo=UTC),  # a date alone is the start of that day in the zone
    ]


def test_daylight_saving_gaps_and_repeats_are_refused_with_the_reason() -> None:
    raw = {"leads": leads(id=["gap", "twice"], created_at=["2026-03-29 02:30", "2026-10-25 02:30"])}
    _, report = lenient(raw, time_zone="Europe/Berlin")
    assert [r.reason for r in report.refusals] == [
        "'2026-03-29 02:30' does not exist in Europe/Berlin (the clocks skip it)",
        "'2026-10-25 02:30' happens twice in Europe/Berlin (the clocks go back); give its offset",
    ]


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-02-30T09:00:00Z", "2026-10-01T25:00:00Z", "01/10/2026 09:00", "2026-10-01T09"]
)
def test_text_that_is_no_iso_time_is_refused(text: str) -> None:
    _, report = lenient({"leads": leads(id=["L1"], created_at=[text])}, time_zone="UTC")
    assert (
        report.refusals[0].reason == f"{text!r} is not an ISO 8601 time (such as 2026-10-01T09:00:00+02:00)"
    )


_TIMES = st.builds(
    "{}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}{:02d}:{:02d}".format,
    st.integers(1900, 2100).map(str) | st.sampled_from(["0999", "10000"]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.just("") | st.text("0123456789", min_size=1, max_size=9).map(".".__add__),
    st.sampled_from("+-"),
    st.integers(0, 25),
    st.integers(0, 61),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TIMES | st.sampled_from(["", "2026-10-01T09:00:00+02:00 ", "x", "2026-10-01T09:00:00+02"])))
def test_times_read_by_position_equal_the_general_parser(texts: list[str]) -> None:
    text = pl.Series("time", texts, pl.String)
    general = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
    assert _canonical_time(text).dtype == pl.Datetime("us", "UTC")
    got = _fast_time(text, _options("test", None, None, None, "."))
    assert got.to_list() == general.dt.convert_time_zone("UTC").to_list()


def test_years_outside_the_range_are_refused_after_parsing() -> None:
    _, report = lenient({"leads": leads(id=["L1"], created_at=["1850-01-01T00:00:00Z"])})
    assert report.refusals[0].column == "created_at"
    assert "outside the years" in report.refusals[0].reason


# --------------------------------------------------------------------------------------------------
# Money and numbers


def deals(**columns: list[Any]) -> dict[str, RawFrame]:
    n = len(next(iter(columns.values())))
    base: dict[str, list[Any]] = {
        "id": [f"D{i}" for i in range(n)],
        "stage": ["open"] * n,
        "created_at": ["2026-10-01T09:00:00Z"] * n,
    }
    frame = pl.DataFrame({**base, **columns, "line": list(range(2, n + 2))})
    return {"deals": RawFrame(frame, "deals.csv", lines="line", headers={"amount": "Amount"})}


def test_amounts_are_exact_decimals_with_the_separators_given() -> None:
    raw = deals(amount=["6,000.00", "1,234,567.89", "12.5", "-0"], amount_currency=["USD"] * 4)
    data, report = lenient(raw, thousands=",")
    assert report.ok
    assert data.deals.get_column("amount").to_list() == [
        Decimal("6000.00"),
        Decimal("1234567.89"),
        Decimal("12.5"),
        Decimal(0),
    ]
    german = deals(amount=["6.000,00", "0,5"], amount_currency=["EUR"] * 2)
    data, report = lenient(german, thousands=".", decimal=",")
    assert report.ok
    assert data.deals.get_column("amount").to_list() == [Decimal(6000), Decimal("0.5")]


def test_a_thousands_separator_without_the_option_is_refused_with_the_fix() -> None:
    _, report = lenient(deals(amount=["6,000.00"], amount_currency=["USD"]))
    assert reasons(report) == [
        "deals.csv:2: deal D0: Amount: '6,000.00' is not a plain decimal number (such as 6000.00; pass "
        "thousands=',' for numbers such as 6,000.00)"
    ]


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("6,00.0", "is not a plain decimal number"),
        ("$6000", "is not a plain decimal number"),
        ("1e3", "is not a plain decimal number"),
        ("NaN", "is not a plain decimal number"),
        ("0.0000001", "has digits below any currency's minor unit"),
        ("0.001", "has digits below the currency's minor unit"),
        ("1" * 40, "has too many digits"),
        ("1" * 20, "has more than 15 digits before the decimal point"),
    ],
)
def test_amounts_that_are_not_exact_money_are_refused(amount: str, why: str) -> None:
    _, report = lenient(deals(amount=[amount], amount_currency=["USD"]), thousands=",")
    assert len(report.refusals) == 1
    assert why in report.refusals[0].reason


def test_a_currency_given_once_fills_empty_cells_and_is_listed_as_a_default() -> None:
    raw = deals(amount=["10", "20", "30"], amount_currency=["EUR", None, " "])
    data, report = lenient(raw, currency="USD")
    assert data.deals.get_column("amount_currency").to_list() == ["EUR", "USD", "USD"]
    assert report.defaults == (
        Default(
            "deals",
            "amount_currency",
            "USD",
            2,
            "the source gives no currency for these amounts; currency= was given",
        ),
    )
    _, report = lenient(deals(amount=["10"]))
    assert report.refusals[0].reason == "an amount needs its currency"


def test_a_discount_without_its_own_currency_is_in_its_deals() -> None:
    raw = deals(amount=["100"], discount=["10"], amount_currency=["EUR"])
    data, _ = lenient(raw)
    assert data.deals.get_column("discount_currency").to_list() == ["EUR"]


# --------------------------------------------------------------------------------------------------
# Rows refused, never dropped


def test_every_row_of_a_duplicated_id_is_refused() -> None:
    raw = {"leads": leads(id=["L1", "L2", "L1"], created_at=["2026-10-01T09:00:00Z"] * 3)}
    data, report = lenient(raw)
    assert data.leads.get_column("id").to_list() == ["L2"]
    assert [(r.line, r.record, r.reason) for r in report.refusals] == [
        (2, "L1", "the id appears more than once"),
        (4, "L1", "the id appears more than once"),
    ]


def test_ids_and_codes_lose_surrounding_white_space_and_texts_only_lose_empty_cells() -> None:
    # Only the columns that need it are rewritten: the rule is the same for every column of every kind.
    raw = {
        "leads": leads(
            id=[" L1", "L2\t", "L3\u00a0", "L4"],
            created_at=["2026-10-01T09:00:00Z"] * 4,
            owner=["ann", "bob", "  ", "\u2003cy"],
            title=[" VP Sales ", "", "CTO", "CEO"],
        )
    }
    data, report = lenient(raw)
    assert report.ok
    assert data.leads.get_column("id").to_list() == ["L1", "L2", "L3", "L4"]
    assert data.leads.get_column("owner").to_list() == ["ann", "bob", None, "cy"]
    assert data.leads.get_column("title").to_list() == [" VP Sales ", None, "CTO", "CEO"]


def test_ids_repeated_only_after_their_spaces_are_stripped_are_refused() -> None:
    raw = {"leads": leads(id=["L1", " L1 ", "L2"], created_at=["2026-10-01T09:00:00Z"] * 3)}
    data, report = lenient(raw)
    assert data.leads.get_column("id").to_list() == ["L2"]
    assert [r.line for r in report.refusals] == [2, 3]


def test_rows_refer_to_kept_records_or_are_refused_with_their_parents_fate() -> None:
    raw = {
        "leads": leads(id=["L1", "L2"], created_at=["2026-10-01T09:00:00Z", "never"]),
        "stage_events": RawFrame(
            pl.DataFrame(
                {
                    "lead_id": ["L1", "L2", "L9"],
                    "to": ["mql"] * 3,
                    "time": ["2026-10-02T09:00:00Z"] * 3,
                }
            ),
            "events.csv",
        ),
    }
    data, report = lenient(raw)
    assert data.stage_events.get_column("lead_id").to_list() == ["L1"]
    assert reasons(report)[1:] == [
        "events.csv#2: stage_event L2: lead_id: lead L2 was refused",
        "events.csv#3: stage_event L9: lead_id: lead L9 is not in the load (leads.csv)",
    ]


def test_without_the_parent_kind_references_are_not_checked() -> None:
    events = pl.DataFrame({"lead_id": ["L9"], "to": ["mql"], "time": ["2026-10-02T09:00:00Z"]})
    data, report = lenient({"stage_events": RawFrame(events, "events.csv")})
    assert report.ok
    assert data.stage_events.height == 1


def test_strict_mode_names_the_first_refusals_and_the_count_and_keeps_the_report() -> None:
    ids = [f"L{i}" for i in range(14)]
    raw = {"leads": leads(id=ids, created_at=["2026-10-01T09:00:00Z"] * 2 + ["soon"] * 12)}
    with pytest.raises(LoadError) as caught:
        intake(raw, connector="files")
    message = str(caught.value)
    assert message.startswith("files: 12 of 14 row(s) refused:\n  leads.csv:4: lead L2: created_at: 'soon'")
    assert "... and 2 more" in message
    assert message.endswith("to keep the other rows and get every refusal in the report")
    assert caught.value.report.refused == 12
    assert isinstance(caught.value, DataError)
    assert pickle.loads(pickle.dumps(caught.value)).report == caught.value.report


def test_columns_no_field_reads_are_listed_not_dropped_silently() -> None:
    raw = {"leads": leads(id=["L1"], created_at=["2026-10-01T09:00:00Z"], favourite_colour=["teal"])}
    _, report = lenient(raw)
    assert report.unused_columns == {"leads.csv": ("favourite_colour",)}
    assert "not read from leads.csv: favourite_colour" in report.summary()


def test_a_missing_required_column_fails_the_whole_table() -> None:
    with pytest.raises(DataError, match=r"leads: leads.csv: no Create Date column, which every row needs"):
        intake(
            {
                "leads": RawFrame(
                    pl.DataFrame({"id": ["L1"]}), "leads.csv", headers={"created_at": "Create Date"}
                )
            },
            connector="test",
        )


def test_enumerated_values_and_empty_cells() -> None:
    raw = deals(amount=["1", ""], amount_currency=["USD", ""], stage=["Won", " "])
    _, report = lenient(raw)
    assert [(r.column, r.reason) for r in report.refusals] == [
        ("stage", "'Won' is not one of 'open', 'won', 'lost'"),
        ("Amount", "required value is missing"),
        ("stage", "required value is missing"),
    ]


def test_splits_come_one_per_row_and_a_bad_split_refuses_its_deal() -> None:
    raw = deals(
        amount=["100", "100", "100"],
        amount_currency=["USD"] * 3,
        stage=["won"] * 3,
        close_date=["2026-10-03"] * 3,
    )
    splits = pl.DataFrame(
        {
            "deal_id": ["D0", "D0", "D1", "D2", "D2"],
            "person": ["ana", "bo", "ana", "ana", "bo"],
            "share": ["0.5", "0.5", "0.6", "0.5", "half"],
            "kind": ["revenue", "revenue", "revenue", None, None],
        }
    )
    raw["deal_splits"] = RawFrame(splits, "splits.csv")
    data, report = lenient(raw)
    assert data.deals.get_column("id").to_list() == ["D0"]
    assert [s["person"] for s in data.deals.get_column("splits")[0]] == ["ana", "bo"]
    assert reasons(report) == [
        "deals.csv:3: deal D1: splits: revenue splits total 60.000000%, not 100%",
        "deals.csv:4: deal D2: splits: a split of this deal was refused (splits.csv)",
        "splits.csv#3: deal split D1: deal_id: deal D1 was refused",
        "splits.csv#4: deal split D2: deal_id: deal D2 was refused",
        "splits.csv#5: deal split D2: share: 'half' is not a plain decimal number (such as 6000.00; pass "
        "thousands=',' for numbers such as 6,000.00)",
    ]


def test_typed_frames_pass_and_integer_ids_become_text() -> None:
    frame = pl.DataFrame({"id": [17, 18], "created_at": [datetime(2026, 10, 1, tzinfo=UTC)] * 2})
    data, report = lenient({"leads": RawFrame(frame, "crm")})
    assert report.ok
    assert data.leads.get_column("id").to_list() == ["17", "18"]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        intake({}, connector="t", time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="currency"):
        intake({}, connector="t", currency="usd")
    with pytest.raises(ValueError, match="thousands"):
        intake({}, connector="t", thousands=",", decimal=",")
    with pytest.raises(ValueError, match="unknown record kind"):
        intake({"lead": RawFrame(pl.DataFrame(), "x")}, connector="t")


def test_the_report_reads_in_a_terminal_and_a_notebook() -> None:
    raw = {"leads": leads(id=["L1", "L2"], created_at=["2026-10-01T09:00:00Z", "later"])}
    _, report = lenient(raw)
    assert repr(report) == "LoadReport('test', read=2, kept=1, refused=1)"
    assert "<caption>refused</caption>" in report._repr_html_()
    assert report.to_frame().row(0) == (
        "leads",
        "leads.csv",
        3,
        "L2",
        "created_at",
        report.refusals[0].reason,
        2,
    )
    assert report.to_dict()["refused"] == 1
    assert report.provenance is not None
    assert report.provenance.start == datetime(2026, 10, 1, 9, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Properties: a dataset written as text comes back equal; every row read is kept or refused.


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), n_leads=st.integers(1, 60))
def test_a_dataset_written_as_text_comes_back_equal(
    seed: int, n_leads: int, example: Callable[[int, int], Dataset], as_text: AsText
) -> None:
    original = example(seed, n_leads)
    data, report = intake(as_text(original), connector="test")
    assert report.ok
    for kind, frame in original.frames().items():
        assert data.frames()[kind].equals(frame), kind


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    damage=st.lists(
        st.tuples(
            st.sampled_from(["leads", "stage_events", "deals", "touchpoints", "activities"]),
            st.integers(0, 10**6),
            st.integers(0, 20),
            st.sampled_from(["", "x", "2026-13-01", "-1", "1,5", "won", "L1", " ", "\u00a0", "NaN"]),
        ),
        max_size=12,
    ),
)
def test_every_row_read_is_kept_or_refused(
    seed: int,
    damage: list[tuple[str, int, int, str]],
    example: Callable[[int, int], Dataset],
    as_text: AsText,
) -> None:
    raw = as_text(example(seed, 25))
    for kind, row, column, value in damage:
        frame = raw[kind].frame
        if frame.height:
            name = frame.columns[column % frame.width]
            cells = frame.get_column(name).to_list()
            cells[row % frame.height] = value
            raw[kind] = RawFrame(frame.with_columns(pl.Series(name, cells, pl.String)), raw[kind].source)
    data, report = intake(raw, connector="test", strict=False)
    for kind, read in report.rows_read.items():
        refused = {r.row for r in report.refusals if r.kind == kind}
        assert report.rows_kept[kind] + len(refused) == read, kind
        if kind != "deal_splits":
            assert data.frames()[kind].height == report.rows_kept[kind]


_Z_TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda t: t.isoformat(timespec="milliseconds") + "Z"
    ),
    st.from_regex(r"\A[+ ]?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{0,11})?)?[Zz]\Z"),
    # Near Salesforce's fixed width, which polars would read leniently: a sign, a space, one-digit fields.
    st.builds(
        lambda t, sign, pad, digits: (
            f"{sign}{t.year:04d}-{t.month:{pad}}-{t.day:{pad}}T{t.hour:{pad}}:{t.minute:{pad}}:{t.second:02d}"
            f".{t.microsecond:06d}"[: -6 + digits or None]
            + "Z"
        ),
        st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
        st.sampled_from(["", "+", " "]),
        st.sampled_from(["02d", "d"]),
        st.integers(2, 4),
    ),
)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_Z_TIMES, min_size=1, max_size=8))
def test_the_fast_parse_of_utc_times_agrees_with_the_general_parser(cells: list[str]) -> None:
    """A time the fast path reads (``...Z``) is the time the general parser reads; others are left to it."""
    text = pl.Series("t", cells, pl.String)
    options = _options("files", None, None, None, ".")
    fast = _fast_time(text, options)
    general = pl.DataFrame({"t": text}).select(_parse_time("t", options)).to_series()
    for quick, slow in zip(fast, general, strict=True):
        assert quick is None or quick == slow


def test_tables_handed_over_are_taken_out_and_give_the_same_load() -> None:
    def tables() -> dict[str, RawFrame]:
        leads = pl.DataFrame({"id": ["L1", "L2"], "created_at": ["2026-10-01T09:00:00Z", "bad"], "n": [2, 3]})
        return {"leads": RawFrame(leads, "leads.csv", lines="n")}

    kept = tables()
    given = tables()
    before = intake(kept, connector="files", strict=False)
    after = intake(given, connector="files", strict=False, release=True)
    assert given == {}
    assert set(kept) == {"leads"}
    assert after.dataset.leads.equals(before.dataset.leads)
    assert after.report == before.report
    with pytest.raises(TypeError, match="release: the tables must be a dict"):
        intake(MappingProxyType(tables()), connector="files", release=True)


def test_tables_built_in_their_turn_give_the_same_load() -> None:
    leads = pl.DataFrame({"id": ["L1", "L2"], "created_at": ["2026-10-01T09:00:00Z", "bad"], "n": [2, 3]})
    touches = pl.DataFrame(
        {
            "id": ["T1"],
            "lead_id": ["L1"],
            "time": ["2026-10-02T09:00:00Z"],
            "channel": ["webinar"],
            "team": ["m"],
        }
    )
    called: list[str] = []

    def built(kind: str, frame: pl.DataFrame | None) -> Callable[[], RawFrame | None]:
        def build() -> RawFrame | None:
            called.append(kind)
            return None if frame is None else RawFrame(frame, f"{kind}.csv")

        return build

    before = intake(
        {
            "leads": RawFrame(leads, "leads.csv", lines="n"),
            "touchpoints": RawFrame(touches, "touchpoints.csv"),
        },
        connector="files",
        strict=False,
    )
    given: dict[str, Any] = {
        "deals": built("deals", None),  # nothing to read after all: as if not given
        "touchpoints": built("touchpoints", touches),
        "leads": lambda: RawFrame(leads, "leads.csv", lines="n"),
    }
    after = intake(given, connector="files", strict=False, release=True)
    assert called == ["touchpoints", "deals"]  # in the order of the record kinds, each once
    assert given == {}
    assert after.report == before.report
    assert after.dataset.touchpoints.equals(before.dataset.touchpoints)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.text(alphabet=st.characters(codec="utf-8", max_codepoint=0x3100), max_size=4)))
def test_a_code_is_stripped_exactly_where_it_starts_or_ends_with_white_space(cells: list[str]) -> None:
    """The check that finds the columns to strip agrees with the strip itself (both Unicode White_Space)."""
    text = pl.Series("c", cells, pl.String)
    found = text.str.contains(r"^\s|\s$")
    assert found.to_list() == (text.str.strip_chars().str.len_bytes() != text.str.len_bytes()).to_list()
