"""Hostile corpus: times, calendars, holiday tables and periods.

One check (:func:`smarketing.calendar.check_time`) takes every ``as_of`` and calendar instant: a datetime,
timezone-aware, in the years 1900 to 2199 (in UTC and in its own zone). A calendar that needs public
holidays of a year the ``holidays`` package does not cover says so instead of opening every holiday.
Period labels name the period and the accepted years. Wall times across daylight-saving changes (the
Santiago midnight jumps included) map to the right instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays as holidays_package
import polars as pl
import pytest

import smarketing as sm
from smarketing._limits import MAX_YEAR, MIN_YEAR
from smarketing._periods import Window
from smarketing.calendar import WEEKDAYS, BusinessCalendar, check_time, holiday_years, wall_to_utc
from smarketing.errors import DataError
from smarketing.frames._calendar import BusinessClock

from .conftest import assert_names

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar(timezone="Europe/Berlin")
H = timedelta(hours=1)

# -- check_time ---------------------------------------------------------------------------------------

BAD_TIMES: dict[str, tuple[object, str]] = {
    "naive": (datetime(2026, 10, 5, 9), "naive"),
    "date": (date(2026, 10, 5), "not date"),
    "int-epoch": (1_790_000_000, "not int"),
    "float-epoch": (1.79e9, "not float"),
    "text": ("2026-10-05T09:00:00+00:00", "not str"),
    "none": (None, "not NoneType"),
    "year-1": (datetime(1, 1, 1, tzinfo=UTC), "outside the years"),
    "year-1899": (datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "outside the years"),
    "year-2200": (datetime(2200, 1, 1, tzinfo=UTC), "outside the years"),
    "year-9999": (datetime(9999, 12, 31, tzinfo=UTC), "outside the years"),
    "max-with-offset": (datetime.max.replace(tzinfo=timezone(-timedelta(hours=14))), "outside the years"),
    "min-with-offset": (datetime.min.replace(tzinfo=timezone(timedelta(hours=14))), "outside the years"),
    "local-2199-utc-2200": (datetime(2199, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5))), "outside"),
    "local-1900-utc-1899": (datetime(1900, 1, 1, 2, tzinfo=timezone(timedelta(hours=5))), "outside"),
    "local-2200-utc-2199": (datetime(2200, 1, 1, 1, tzinfo=timezone(timedelta(hours=3))), "outside"),
}


@pytest.mark.parametrize("case", sorted(BAD_TIMES))
def test_check_time_refuses(case: str) -> None:
    value, words = BAD_TIMES[case]
    with pytest.raises(DataError) as info:
        check_time(value, "as_of")
    assert_names(str(info.value), "as_of", words)
    if "outside" in words:
        assert_names(str(info.value), f"{MIN_YEAR} to {MAX_YEAR}")


GOOD_TIMES = {
    "first-instant": datetime(MIN_YEAR, 1, 1, tzinfo=UTC),
    "last-instant": datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "zoneinfo": datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN),
    "zoneinfo-fold": datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN),
    "fixed-offset": datetime(2026, 10, 5, 9, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    "santiago-midnight": datetime(2026, 4, 4, 23, 30, tzinfo=ZoneInfo("America/Santiago")),
}


@pytest.mark.parametrize("case", sorted(GOOD_TIMES))
def test_check_time_gives_the_utc_instant(case: str) -> None:
    moment = GOOD_TIMES[case]
    out = check_time(moment, "as_of")
    assert out.tzinfo is UTC
    assert out.timestamp() == moment.timestamp()


# -- every calendar method goes through it --------------------------------------------------------------

METHODS = {
    "elapsed": lambda t: OFFICE.elapsed(t, datetime(2026, 10, 5, tzinfo=UTC)),
    "elapsed-end": lambda t: OFFICE.elapsed(datetime(2026, 10, 5, tzinfo=UTC), t),
    "add": lambda t: OFFICE.add(t, H),
    "add-zero": lambda t: OFFICE.add(t, timedelta(0)),
    "add_days": lambda t: OFFICE.add_days(t, 1),
    "is_open": OFFICE.is_open,
    "next_open": OFFICE.next_open,
}
NAMES = {"elapsed": "start", "elapsed-end": "end", "is_open": "moment", "next_open": "moment"}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("case", ["naive", "year-9999", "year-1899", "int-epoch"])
def test_calendar_methods_refuse_bad_instants(method: str, case: str) -> None:
    value, words = BAD_TIMES[case]
    with pytest.raises(DataError) as info:
        METHODS[method](value)
    assert_names(str(info.value), NAMES.get(method, "start"), words)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_calendar_methods_work_on_the_last_accepted_day(method: str) -> None:
    METHODS[method](datetime(MAX_YEAR, 12, 31, 12, tzinfo=UTC))


# -- holiday tables ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["DE", "US", "JP", "LK", "CL", "GB", "FR", "BT"])
def test_holiday_years_are_the_packages(country: str) -> None:
    entity = type(holidays_package.country_holidays(country))
    assert holiday_years(country) == (entity.start_year, entity.end_year)


UNCOVERED = [
    ("DE", None, datetime(1985, 6, 3, 10, tzinfo=UTC), 1985),
    ("DE", "BY", datetime(2150, 6, 3, 10, tzinfo=UTC), 2150),
    ("JP", None, datetime(2100, 6, 3, 10, tzinfo=UTC), 2100),
    ("LK", None, datetime(2027, 6, 3, 10, tzinfo=UTC), 2027),
    ("CL", None, datetime(1914, 6, 3, 10, tzinfo=UTC), 1914),
    ("US", None, datetime(2101, 6, 3, 10, tzinfo=UTC), 2101),
    ("GB", None, datetime(2199, 6, 3, 10, tzinfo=UTC), 2199),
]


def _holiday_calendar(country: str, subdivision: str | None) -> BusinessCalendar:
    return BusinessCalendar(
        timezone="UTC",
        holidays={"country": country, "subdivision": subdivision},
        hours={"mon": ["09:00-17:00"]},
    )


@pytest.mark.parametrize(("country", "subdivision", "moment", "year"), UNCOVERED)
@pytest.mark.parametrize("method", ["add", "elapsed", "is_open", "add_days", "clock"])
def test_uncovered_holiday_years_are_refused(
    country: str, subdivision: str | None, moment: datetime, year: int, method: str
) -> None:
    cal = _holiday_calendar(country, subdivision)
    first, last = holiday_years(country)
    run = {
        "add": lambda: cal.add(moment, H),
        "elapsed": lambda: cal.elapsed(moment, moment + 30 * H),
        "is_open": lambda: cal.is_open(moment),
        "add_days": lambda: cal.add_days(moment, 2),
        "clock": lambda: BusinessClock.covering(cal, moment, moment + H),
    }[method]
    with pytest.raises(DataError) as info:
        run()
    assert_names(str(info.value), "holidays", country, str(year), f"{first} to {last}")


@pytest.mark.parametrize("year", [1992, 2026, 2099])
def test_covered_years_still_close_holidays(year: int) -> None:
    cal = BusinessCalendar(
        timezone="UTC", holidays={"country": "DE"}, hours={d: ["09:00-17:00"] for d in WEEKDAYS}
    )
    for day in holidays_package.country_holidays("DE", years=year):
        assert not cal.is_open(datetime.combine(day, time(10), UTC)), day


def test_funnel_with_an_uncovered_holiday_calendar_names_it() -> None:
    plan = sm.load_plan("examples/plan.yaml")
    assert plan.sla is not None
    events = pl.DataFrame(
        {"lead_id": ["a", "a"], "to": ["subscriber", "lead"], "time": [datetime(2150, 1, 5, tzinfo=UTC)] * 2},
        schema={"lead_id": pl.String, "to": pl.String, "time": pl.Datetime("us", "UTC")},
    )
    with pytest.raises(DataError) as info:
        sm.funnel(plan.journey, events, calendar=plan.sla.calendar)
    assert_names(str(info.value), "DE-BE", "2150", "1991 to 2100")


def test_sla_with_an_uncovered_holiday_calendar_names_it() -> None:
    plan = sm.load_plan("examples/plan.yaml")
    when = datetime(2150, 1, 5, 9, tzinfo=UTC)
    data = {"stage_events": [sm.StageEvent(lead_id="L1", source="mql", to="sal", time=when)]}
    with pytest.raises(DataError) as info:
        sm.evaluate_sla(plan, data, as_of=when + 24 * H)
    assert_names(str(info.value), "DE-BE", "2150", "1991 to 2100")


def test_full_year_range_business_clock_builds() -> None:
    """The clock over every accepted year (no holidays) builds well inside the hang guard."""
    cal = BusinessCalendar(timezone="America/Santiago")
    clock = BusinessClock.covering(
        cal, datetime(MIN_YEAR, 1, 1, tzinfo=UTC), datetime(MAX_YEAR, 12, 31, tzinfo=UTC)
    )
    weeks = (date(MAX_YEAR, 12, 31) - date(MIN_YEAR, 1, 1)).days // 7
    assert abs(len(clock.starts) - 5 * weeks) <= 10


# -- wall times across DST changes ----------------------------------------------------------------------


def _reference(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant whose wall time in ``zone`` is ``wall`` on ``day``, or the jump over it."""
    naive = datetime.combine(day, wall)
    for fold in (0, 1):
        candidate = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if candidate.astimezone(zone).replace(tzinfo=None) == naive:
            # the earliest reading that really shows this wall time
            other = naive.replace(tzinfo=zone, fold=1 - fold).astimezone(UTC)
            if other.astimezone(zone).replace(tzinfo=None) == naive:
                return min(candidate, other)
            return candidate
    # in a gap: the first second after the jump
    t = naive.replace(tzinfo=zone, fold=1).astimezone(UTC).replace(microsecond=0)
    while t.astimezone(zone).replace(tzinfo=None) < naive:
        t += timedelta(seconds=1)
    while (t - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) >= naive:
        t -= timedelta(seconds=1)
    return t


DST_DAYS = [
    ("America/Santiago", date(2025, 4, 5)),  # 24:00 -> 23:00: the flaky Hypothesis case
    ("America/Santiago", date(2025, 4, 6)),
    ("America/Santiago", date(2025, 9, 6)),
    ("America/Santiago", date(2025, 9, 7)),  # 00:00 does not exist
    ("America/Havana", date(2026, 3, 8)),
    ("America/Havana", date(2026, 11, 1)),
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),  # a half-hour change
    ("Australia/Lord_Howe", date(2026, 10, 4)),
]


@pytest.mark.parametrize(("zone", "day"), DST_DAYS, ids=[f"{z}-{d}" for z, d in DST_DAYS])
def test_wall_times_of_dst_days_match_the_reference(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    for minutes in range(0, 24 * 60, 15):
        wall = time(minutes // 60, minutes % 60)
        assert wall_to_utc(day, wall, tz) == _reference(day, wall, tz), wall


def test_santiago_repeated_hour_columnar_and_scalar_agree() -> None:
    santiago = ZoneInfo("America/Santiago")
    cal = BusinessCalendar(timezone="America/Santiago", always_open=True)
    start = datetime(2025, 4, 5, 22, 59, 58, 999999, tzinfo=santiago)
    due = cal.add(start, timedelta(microseconds=1_000_001))
    clock = BusinessClock.covering(cal, start, start + H, duration=H)
    from smarketing.frames._calendar import epoch_us, from_epoch_us

    columnar = pl.select(clock.add(pl.lit(epoch_us(start.astimezone(UTC))), pl.lit(1_000_001))).item()
    assert from_epoch_us(columnar) == due.astimezone(UTC) == datetime(2025, 4, 6, 2, tzinfo=UTC)


# -- periods --------------------------------------------------------------------------------------------

BAD_PERIODS = {
    "9999-Q4": "year 9999 is outside the accepted years 1900 to 2199",
    "9999-12": "year 9999 is outside",
    "9999-W52": "year 9999 is outside",
    "9999-12-31": "year 9999 is outside",
    "9999": "year 9999 is outside",
    "2200": "year 2200 is outside",
    "2200-01": "year 2200 is outside",
    "1899-12": "year 1899 is outside",
    "1899-Q4": "year 1899 is outside",
    "0000-01": "year 0 is outside",
    "10000-Q1": "cannot read period",
    "2026-13": "cannot read period",
    "2026-00": "cannot read period",
    "2026-02-30": "cannot read period",
    "2026-W54": "cannot read period",
    "2025-W53": "cannot read period",
    "2026-Q5": "cannot read period",
    "2026-Q0": "cannot read period",
    "": "cannot read period",
    " 2026-10": "cannot read period",
    "2026-10 ": "cannot read period",
    "2026/10": "cannot read period",
    "\u0662\u0660\u0662\u0666-10": "cannot read period",  # Arabic-Indic digits
    "\uff12\uff10\uff12\uff16-10": "cannot read period",  # full-width digits
}


@pytest.mark.parametrize("label", sorted(BAD_PERIODS))
def test_bad_periods_name_the_period(label: str) -> None:
    with pytest.raises(DataError) as info:
        Window.parse(label)
    assert_names(str(info.value), "period", repr(label), BAD_PERIODS[label])


@pytest.mark.parametrize("value", [None, 2026, date(2026, 10, 1)])
def test_period_that_is_not_text(value: object) -> None:
    with pytest.raises(DataError) as info:
        Window.parse(value)  # type: ignore[arg-type]
    assert_names(str(info.value), "period", type(value).__name__)


EDGE_PERIODS = {
    "1900-01-01": ("1900-01-01", date(1900, 1, 2)),
    "1900-W01": ("1900-W01", date(1900, 1, 8)),
    "1900-Q1": ("1900-Q1", date(1900, 4, 1)),
    "2199-Q4": ("2199-Q4", date(2200, 1, 1)),
    "2199-12": ("2199-12", date(2200, 1, 1)),
    "2199": ("2199", date(2200, 1, 1)),
    "2199-W52": ("2199-W52", date(2199, 12, 30)),
    "2026-W53": ("2026-W53", date(2027, 1, 4)),
}


@pytest.mark.parametrize("label", sorted(EDGE_PERIODS))
def test_edge_periods_parse(label: str) -> None:
    window = Window.parse(label)
    assert (window.label, window.end) == EDGE_PERIODS[label]


@pytest.mark.parametrize("n", [10**6, -(10**6)])
def test_shifting_a_period_out_of_dates_is_a_data_error(n: int) -> None:
    with pytest.raises(DataError) as info:
        Window.parse("2026-Q4").shift(n)
    assert_names(str(info.value), "period", "2026-Q4")


def test_scorecard_with_period_9999_names_the_period() -> None:
    plan = sm.load_plan("examples/plan.yaml")
    with pytest.raises(DataError) as info:
        sm.scorecard(plan, sm.Dataset(), period="9999-Q4", as_of=datetime(2026, 10, 1, tzinfo=UTC))
    assert_names(str(info.value), "'9999-Q4'", "1900 to 2199")


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/Santiago", "Asia/Kathmandu"], ids=["berlin", "santiago", "kathmandu"]
)
def test_scorecard_accepts_as_of_in_any_zone(zone: str) -> None:
    from smarketing.datasets import synthetic

    plan = sm.load_plan("examples/plan.yaml")
    data = synthetic(plan, seed=5, n_leads=60)
    fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
    utc = datetime(2026, 10, 31, 12, tzinfo=UTC)
    local = sm.scorecard(plan, data, period="2026-10", fx=fx, as_of=utc.astimezone(ZoneInfo(zone)))
    assert local.to_frame().equals(sm.scorecard(plan, data, period="2026-10", fx=fx, as_of=utc).to_frame())


# -- durations, day counts and dates the clock cannot count -------------------------------------------------

SPARSE = BusinessCalendar(timezone="UTC", hours={"sun": ["23:45-24:00"]})  # 15 minutes a week
JAN = datetime(2026, 1, 1, tzinfo=UTC)

BAD_ARITHMETIC = {
    "sparse-long-duration": (lambda: SPARSE.add(JAN, timedelta(hours=87_600)), "calendar", "2220-12-31"),
    "sparse-many-days": (lambda: SPARSE.add_days(JAN, 3650 * 3), "calendar", "2220-12-31"),
    "sparse-from-last-year": (
        lambda: SPARSE.add(datetime(2199, 12, 31, tzinfo=UTC), timedelta(hours=1000)),
        "calendar",
        "open too little",
    ),
    "duration-int": (lambda: OFFICE.add(JAN, 5), "duration", "not int"),  # type: ignore[arg-type]
    "duration-decimal-hours": (lambda: OFFICE.add(JAN, "4h"), "duration", "not str"),  # type: ignore[arg-type]
    "duration-negative": (lambda: OFFICE.add(JAN, -H), "duration", "negative"),
    "days-zero": (lambda: OFFICE.add_days(JAN, 0), "days", "at least 1"),
    "days-bool": (lambda: OFFICE.add_days(JAN, True), "days", "True"),
    "days-float": (lambda: OFFICE.add_days(JAN, 1.5), "days", "1.5"),  # type: ignore[arg-type]
    "intervals-year-9999": (
        lambda: OFFICE.open_intervals(date(9999, 12, 30), date(9999, 12, 31)),
        "first",
        "outside the dates",
    ),
    "intervals-year-1": (lambda: OFFICE.open_intervals(date(1, 1, 1), date(1, 1, 2)), "first", "outside"),
    "intervals-datetime": (lambda: OFFICE.open_intervals(JAN, JAN), "first", "not datetime"),  # type: ignore[arg-type]
    "open-days-last-9999": (lambda: OFFICE.open_days(date(2026, 1, 1), date(9999, 1, 1)), "last", "outside"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARITHMETIC))
def test_calendar_arithmetic_out_of_reach(case: str) -> None:
    run, field, words = BAD_ARITHMETIC[case]
    with pytest.raises(DataError) as info:
        run()
    assert_names(str(info.value), field, words)


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo"]
)
def test_first_and_last_accepted_instants_in_far_zones(zone: str) -> None:
    cal = BusinessCalendar(timezone=zone)
    first, last = datetime(MIN_YEAR, 1, 1, tzinfo=UTC), datetime(MAX_YEAR, 12, 31, 23, 59, tzinfo=UTC)
    assert cal.elapsed(first, first + 10 * 24 * H) > timedelta(0)
    assert cal.elapsed(last - 10 * 24 * H, last) > timedelta(0)
    assert cal.add(last, 100 * H) > last
    assert cal.add_days(last, 30) > last
    assert cal.next_open(last) >= last


@pytest.mark.parametrize(
    "interval",
    [
        "\u0660\u0669:\u0660\u0660-\u0661\u0667:\u0660\u0660",  # Arabic-Indic digits
        "\uff10\uff19:\uff10\uff10-\uff11\uff17:\uff10\uff10",  # full-width digits
        "9:00-17:00",
        "09:00-24:30",
        "09:60-17:00",
        "17:00-09:00",
        "09:00-09:00",
        "",
    ],
    ids=[
        "arabic-indic",
        "full-width",
        "one-digit-hour",
        "past-24",
        "minute-60",
        "backwards",
        "empty-span",
        "empty",
    ],
)
def test_opening_hours_are_ascii_hh_mm(interval: str) -> None:
    from smarketing.errors import PlanError

    plan = sm.load_plan("examples/plan.yaml").model_dump(by_alias=True, exclude_defaults=True, mode="json")
    plan["sla"]["calendar"]["hours"] = {"mon": [interval]}
    with pytest.raises(PlanError) as info:
        sm.load_plan(plan)
    assert_names(str(info.value), "sla.calendar.hours.mon")
