"""Business-calendar arithmetic: hand-computed cases, Hypothesis laws, and the columnar form against it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.calendar import WEEKDAYS, BusinessCalendar
from smarketing.errors import ClosedCalendarError, PlanError
from smarketing.frames._calendar import BusinessClock, epoch_us
from smarketing.plan import load_plan
from smarketing.testing.strategies import aware_datetimes, business_calendars, business_durations

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)

LAWS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def office(**kwargs: object) -> BusinessCalendar:
    base: dict[str, object] = {
        "timezone": "Europe/Berlin",
        "hours": {d: ["08:00-17:00"] for d in WEEKDAYS[:5]},
    }
    return BusinessCalendar.model_validate(base | kwargs)


def example_calendar() -> BusinessCalendar:
    plan = load_plan("examples/plan.yaml")
    assert plan.sla is not None
    return plan.sla.calendar


# -- hand-computed cases ----------------------------------------------------------------------------


def test_worked_example_friday_16_plus_4h_is_monday_11() -> None:
    cal = office()
    start = datetime(2026, 10, 2, 16, tzinfo=BERLIN)
    assert cal.add(start, 4 * H) == datetime(2026, 10, 5, 11, tzinfo=BERLIN)
    assert cal.elapsed(start, datetime(2026, 10, 5, 11, tzinfo=BERLIN)) == 4 * H


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 29), 23),  # Europe/Berlin springs forward
        (date(2026, 10, 25), 25),  # and falls back
        (date(2026, 10, 24), 24),
    ],
)
def test_24x7_day_length_follows_dst(day: date, hours: int) -> None:
    cal = BusinessCalendar(timezone="Europe/Berlin", always_open=True)
    start = datetime.combine(day, datetime.min.time(), BERLIN)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), BERLIN)
    assert cal.elapsed(start, end) == hours * H
    # the same through weekly hours that cover the whole day
    whole = BusinessCalendar(timezone="Europe/Berlin", hours={d: ["00:00-24:00"] for d in WEEKDAYS})
    assert whole.elapsed(start, end) == hours * H
    assert whole.add(start, hours * H) == end


@pytest.mark.parametrize(
    ("day", "interval", "hours"),
    [
        (date(2026, 3, 29), "01:00-04:00", 2),  # 02:00-03:00 does not exist
        (date(2026, 10, 25), "01:00-04:00", 4),  # 02:00-03:00 happens twice
        (date(2026, 3, 29), "02:30-04:00", 1),  # opening inside the gap moves to the jump (03:00)
        (date(2026, 10, 25), "02:00-03:00", 2),  # from the first 02:00 to 03:00 after the repeat
    ],
)
def test_opening_hours_across_dst_jumps(day: date, interval: str, hours: int) -> None:
    cal = BusinessCalendar(timezone="Europe/Berlin", hours={"sun": [interval]})
    spans = cal.open_intervals(day, day)
    assert sum((b - a for a, b in spans), timedelta(0)) == hours * H


def test_new_york_fall_back_shifts_utc_of_office_hours() -> None:
    cal = BusinessCalendar(timezone="America/New_York")
    (fri,) = cal.open_intervals(date(2026, 10, 30), date(2026, 10, 30))
    (mon,) = cal.open_intervals(date(2026, 11, 2), date(2026, 11, 2))
    assert (fri[0].hour, mon[0].hour) == (13, 14)  # 09:00 EDT, then 09:00 EST
    start = datetime(2026, 10, 30, 16, tzinfo=NEW_YORK)
    assert cal.add(start, 2 * H) == datetime(2026, 11, 2, 10, tzinfo=NEW_YORK)


def test_lunch_break_is_skipped() -> None:
    cal = BusinessCalendar(timezone="Europe/Berlin", hours={"mon": ["09:00-12:30", "13:30-18:00"]})
    noon = datetime(2026, 10, 5, 12, tzinfo=BERLIN)
    assert cal.add(noon, H) == datetime(2026, 10, 5, 14, tzinfo=BERLIN)
    assert cal.elapsed(noon, datetime(2026, 10, 5, 14, tzinfo=BERLIN)) == H
    assert not cal.is_open(datetime(2026, 10, 5, 13, tzinfo=BERLIN))
    assert cal.next_open(datetime(2026, 10, 5, 13, tzinfo=BERLIN)) == datetime(
        2026, 10, 5, 13, 30, tzinfo=BERLIN
    )


def test_example_plan_christmas_holidays_and_closed_dates() -> None:
    cal = example_calendar()  # DE-BE holidays, 24 and 31 December closed, Wed 08:00-12:30, 13:30-17:30
    start = datetime(2026, 12, 23, 16, tzinfo=BERLIN)
    # 1.5 h on Wednesday; Thursday 24th closed, Friday 25th a holiday, weekend; 2.5 h on Monday 28th
    assert cal.add(start, 4 * H) == datetime(2026, 12, 28, 10, 30, tzinfo=BERLIN)
    assert cal.add_days(start, 1) == datetime(2026, 12, 28, 17, 30, tzinfo=BERLIN)


def test_year_end() -> None:
    cal = BusinessCalendar(timezone="Europe/Berlin", holidays={"country": "DE"})
    start = datetime(2026, 12, 31, 16, tzinfo=BERLIN)  # Thursday; 1 January is a holiday
    assert cal.add(start, 2 * H) == datetime(2027, 1, 4, 10, tzinfo=BERLIN)
    assert cal.elapsed(start, datetime(2027, 1, 4, 10, tzinfo=BERLIN)) == 2 * H


def test_extra_open_and_closed_dates() -> None:
    cal = office(
        holidays={"country": "DE"},
        open_dates=[date(2026, 12, 25), date(2026, 12, 26)],  # a holiday Friday, a Saturday
        closed_dates=[date(2026, 12, 28)],
    )
    assert cal.is_open(datetime(2026, 12, 25, 10, tzinfo=BERLIN))  # weekday hours 08-17
    assert cal.is_open(datetime(2026, 12, 26, 9, tzinfo=BERLIN))  # a closed weekday opens 09-17
    assert not cal.is_open(datetime(2026, 12, 26, 8, tzinfo=BERLIN))
    assert not cal.is_open(datetime(2026, 12, 28, 10, tzinfo=BERLIN))
    assert cal.add(datetime(2026, 12, 26, 16, tzinfo=BERLIN), 2 * H) == datetime(
        2026, 12, 29, 9, tzinfo=BERLIN
    )


def test_always_open() -> None:
    cal = BusinessCalendar(timezone="Asia/Kolkata", always_open=True)
    start = datetime(2026, 1, 1, 3, tzinfo=UTC)
    assert cal.add(start, 50 * H) == start + 50 * H
    assert cal.is_open(start)
    assert cal.next_open(start) == start


def test_add_zero_is_start_even_when_closed() -> None:
    cal = office()
    saturday = datetime(2026, 10, 3, 12, tzinfo=BERLIN)
    assert cal.add(saturday, timedelta(0)) == saturday
    assert cal.add(saturday, timedelta(microseconds=1)) == datetime(2026, 10, 5, 8, 0, 0, 1, tzinfo=BERLIN)


def test_add_days_counts_open_days_after_the_start_date() -> None:
    cal = office()
    for start in (datetime(2026, 10, 2, 16, tzinfo=BERLIN), datetime(2026, 10, 3, 12, tzinfo=BERLIN)):
        assert cal.add_days(start, 1) == datetime(2026, 10, 5, 17, tzinfo=BERLIN)
    assert cal.add_days(datetime(2026, 10, 5, 7, tzinfo=BERLIN), 10) == datetime(
        2026, 10, 19, 17, tzinfo=BERLIN
    )


def test_finite_calendar_runs_out() -> None:
    cal = BusinessCalendar(timezone="UTC", hours={}, open_dates=[date(2026, 10, 3)])
    start = datetime(2026, 10, 1, tzinfo=UTC)
    assert cal.add(start, 8 * H) == datetime(2026, 10, 3, 17, tzinfo=UTC)
    with pytest.raises(ValueError, match="no more open time"):
        cal.add(start, 9 * H)
    with pytest.raises(ValueError, match="fewer than 2 open days"):
        cal.add_days(start, 2)


@pytest.mark.parametrize("method", ["elapsed", "add", "is_open", "next_open", "add_days"])
def test_naive_times_are_rejected(method: str) -> None:
    cal = office()
    naive = datetime(2026, 10, 2, 16)
    args: dict[str, tuple[object, ...]] = {
        "elapsed": (naive, datetime(2026, 10, 2, 17, tzinfo=UTC)),
        "add": (naive, H),
        "is_open": (naive,),
        "next_open": (naive,),
        "add_days": (naive, 1),
    }
    with pytest.raises(ValueError, match="naive"):
        getattr(cal, method)(*args[method])


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        office().add(datetime(2026, 10, 2, 16, tzinfo=BERLIN), -H)


@pytest.mark.parametrize(
    ("calendar", "path", "message"),
    [
        ({"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "hours", "overlap"),
        ({"timezone": "Europe/Berlin", "holidays": {"country": "XX"}}, "holidays", "unknown holiday country"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown IANA time zone"),
    ],
)
def test_bad_calendars_are_plan_errors_naming_the_field(
    calendar: dict[str, object], path: str, message: str
) -> None:
    plan = load_plan("examples/plan.yaml").model_dump(by_alias=True, exclude_defaults=True, mode="json")
    plan["sla"]["calendar"] = calendar
    with pytest.raises(PlanError, match=message) as info:
        load_plan(plan)
    assert info.value.path.startswith(f"sla.calendar.{path}")


# -- laws ---------------------------------------------------------------------------------------------


@LAWS
@given(business_calendars(), aware_datetimes(), business_durations())
def test_elapsed_of_add_is_the_duration(cal: BusinessCalendar, start: datetime, d: timedelta) -> None:
    assert cal.elapsed(start, cal.add(start, d)) == d


@LAWS
@given(business_calendars(), aware_datetimes(), business_durations(), business_durations())
def test_add_composes(cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta) -> None:
    # In UTC: datetimes sharing a zone compare as wall times, ignoring which of a repeated hour they are.
    assert cal.add(cal.add(start, d1), d2).astimezone(UTC) == cal.add(start, d1 + d2).astimezone(UTC)
    assert cal.add(start, min(d1, d2)).astimezone(UTC) <= cal.add(start, max(d1, d2)).astimezone(UTC)


@LAWS
@given(business_calendars(), st.lists(aware_datetimes(), min_size=3, max_size=3))
def test_elapsed_is_additive_and_monotone(cal: BusinessCalendar, times: list[datetime]) -> None:
    a, b, c = sorted(times)
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
    # Aware datetimes sharing a tzinfo subtract as wall times in Python; compare real elapsed time.
    assert timedelta(0) <= cal.elapsed(a, b) <= cal.elapsed(a, c) <= c.astimezone(UTC) - a.astimezone(UTC)
    assert cal.elapsed(c, a) == -cal.elapsed(a, c)


@LAWS
@given(business_calendars(), aware_datetimes())
def test_is_open_and_next_open_agree_with_elapsed(cal: BusinessCalendar, t: datetime) -> None:
    tick = timedelta(microseconds=1)
    # In UTC: ``t + tick`` in t's zone is wall-clock arithmetic, and ``==`` across zones is false inside a
    # repeated hour (PEP 495) even for the same instant.
    assert cal.is_open(t) == (cal.elapsed(t, t.astimezone(UTC) + tick) == tick)
    nxt = cal.next_open(t)
    assert nxt >= t
    assert cal.is_open(nxt)
    assert cal.elapsed(t, nxt) == timedelta(0)
    assert (nxt.astimezone(UTC) == t.astimezone(UTC)) == cal.is_open(t)


# -- the columnar form against the scalar one --------------------------------------------------------


def _columns(
    cal: BusinessCalendar, rows: list[tuple[datetime, datetime, timedelta]], days: int
) -> pl.DataFrame:
    starts = [a for a, _, _ in rows]
    ends = [b for _, b, _ in rows]
    durations = [d for _, _, d in rows]
    clock = BusinessClock.covering(
        cal, min(starts + ends), max(starts + ends), duration=max(durations), days=days
    )
    lf = pl.LazyFrame(
        {
            "i": list(range(len(rows))),
            "s": [epoch_us(a) for a in starts],
            "e": [epoch_us(b) for b in ends],
            "d": [d // timedelta(microseconds=1) for d in durations],
        }
    )
    s, e = pl.col("s"), pl.col("e")
    return lf.with_columns(
        clock.position(s).alias("ps"),
        clock.position(e).alias("pe"),
        clock.add(s, pl.col("d")).alias("due"),
        clock.add_days(s, days).alias("close"),
        clock.is_open(s).alias("open"),
        clock.local_date(s).alias("local"),
    ).collect()


def _instant(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    business_calendars(),
    st.lists(st.tuples(aware_datetimes(), aware_datetimes(), business_durations()), min_size=1, max_size=8),
    st.integers(1, 12),
)
def test_columnar_form_matches_scalar(
    cal: BusinessCalendar, rows: list[tuple[datetime, datetime, timedelta]], days: int
) -> None:
    _check_columnar(cal, rows, days)


def _check_columnar(
    cal: BusinessCalendar, rows: list[tuple[datetime, datetime, timedelta]], days: int
) -> None:
    frame = _columns(cal, rows, days)
    for (start, end, d), row in zip(rows, frame.iter_rows(named=True), strict=True):
        assert timedelta(microseconds=row["pe"] - row["ps"]) == cal.elapsed(start, end)
        # Compare instants in UTC: an aware datetime inside a repeated hour (the clocks go back) is never
        # equal to one in another zone under PEP 495, even at the same instant.
        assert _instant(row["due"]) == cal.add(start, d).astimezone(UTC)
        assert _instant(row["close"]) == cal.add_days(start, days).astimezone(UTC)
        assert row["open"] == cal.is_open(start)
        assert row["local"] == start.astimezone(cal.zone).date()


def test_columnar_form_in_the_repeated_hour_of_santiago() -> None:
    """The flaky Hypothesis example: a due time at 23:00 on 5 April 2025 in Santiago, the first of the two.

    The clock and the calendar agreed all along (02:00 UTC); the law compared a UTC datetime with one in
    the calendar's zone, and PEP 495 makes every inter-zone ``==`` false inside a repeated hour.
    """
    santiago = ZoneInfo("America/Santiago")
    cal = BusinessCalendar(timezone="America/Santiago", always_open=True)
    start = datetime(2025, 4, 5, 22, 59, 58, 999999, tzinfo=santiago)
    due = cal.add(start, timedelta(microseconds=1_000_001))
    assert due.astimezone(UTC) == datetime(2025, 4, 6, 2, tzinfo=UTC)
    assert due.replace(tzinfo=None) == datetime(2025, 4, 5, 23)
    assert due.fold == 0
    _check_columnar(
        cal, [(start, datetime(2025, 3, 30, tzinfo=santiago), timedelta(microseconds=1_000_001))], 1
    )


def test_columnar_worked_example() -> None:
    start = datetime(2026, 10, 2, 16, tzinfo=BERLIN)
    frame = _columns(office(), [(start, datetime(2026, 10, 5, 11, tzinfo=BERLIN), 4 * H)], 1)
    assert _instant(frame["due"][0]) == datetime(2026, 10, 5, 11, tzinfo=BERLIN)
    assert frame["pe"][0] - frame["ps"][0] == 4 * 3_600_000_000


@given(cal=business_calendars(), day=st.dates(date(2025, 1, 1), date(2027, 12, 31)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_open_minutes_are_the_minutes_the_clock_is_open(cal: BusinessCalendar, day: date) -> None:
    # The minute grid synthetic data times its responses on: the open intervals, minute by minute.
    try:
        clock = BusinessClock(cal, day - timedelta(days=2), day + timedelta(days=3))
    except ClosedCalendarError:
        return  # no open time in these days: no grid to compare
    start = epoch_us(datetime.combine(day, datetime.min.time(), UTC))
    minutes = 3 * 24 * 60
    grid = clock.open_minutes(start, start + minutes * 60_000_000)
    at = start + 60_000_000 * pl.int_range(0, minutes, eager=True).cast(pl.Int64)
    is_open = pl.select(clock.is_open(pl.lit(at))).to_series()
    assert grid.tolist() == is_open.to_list()
