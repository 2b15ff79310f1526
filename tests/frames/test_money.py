"""The shared money intake of frames: FX conversion of minor units, checked against FxTable.convert."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.errors import DataError
from smarketing.frames import _money
from smarketing.money import FxTable, Money

CODES = ("EUR", "JPY", "BHD", "USD")
DAY = date(2026, 1, 1)


@st.composite
def rate_text(draw: st.DrawFn) -> str:
    digits = draw(st.integers(min_value=1, max_value=10**12 - 1))
    places = draw(st.integers(min_value=0, max_value=12))
    return format(Decimal(digits).scaleb(-places), "f")


@st.composite
def tables(draw: st.DrawFn) -> tuple[FxTable, str, str]:
    code, to = draw(st.lists(st.sampled_from(CODES), min_size=2, max_size=2, unique=True))
    rows = [
        (code, to, DAY + timedelta(days=10 * i), draw(rate_text()))
        for i in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    if draw(st.booleans()):  # only the opposite direction: inverse rates of 34 digits
        rows = [(to, code, on, rate) for _, _, on, rate in rows]
    return FxTable(rows), code, to


def reference(fx: FxTable, units: int, code: str, to: str, on: date) -> int | Exception:
    try:
        return fx.convert(Money.from_minor(units, code), to, on).to_minor()
    except (DataError, ValueError) as error:
        return error


@settings(max_examples=300, deadline=None)
@given(
    table=tables(),
    units=st.lists(st.integers(min_value=0, max_value=10**14), min_size=1, max_size=8),
    offsets=st.lists(st.integers(min_value=-5, max_value=40), min_size=8, max_size=8),
)
def test_convert_column_is_fx_convert_amount_by_amount(
    table: tuple[FxTable, str, str], units: list[int], offsets: list[int]
) -> None:
    fx, code, to = table
    days = [DAY + timedelta(days=d) for d in offsets[: len(units)]]
    frame = pl.DataFrame({"units": units, "cur": [code] * len(units), "day": days})
    fell_back: list[int] = []

    def fallback(row: int) -> int:
        fell_back.append(row)
        return -1

    got = _money.convert_column(frame, "units", fx=fx, to=to, currency="cur", on="day", fallback=fallback)
    for row, (amount, on) in enumerate(zip(units, days, strict=True)):
        expected = reference(fx, amount, code, to, on)
        if isinstance(expected, Exception):
            assert row in fell_back  # a missing rate or an amount out of range: reported by FxTable.convert
        elif row not in fell_back:
            assert got[row] == expected
    assert fell_back == sorted(fell_back)


def test_rows_in_the_target_currency_keep_their_units_and_order() -> None:
    fx = FxTable([("USD", "EUR", date(2026, 10, 1), "0.92"), ("USD", "EUR", date(2026, 10, 15), "0.95")])
    frame = pl.DataFrame(
        {
            "units": [10_000, 500, 10_000, 10_000],
            "cur": ["USD", "EUR", "USD", "USD"],
            "day": [date(2026, 10, 20), date(2026, 9, 1), date(2026, 10, 2), date(2026, 9, 30)],
        }
    )
    seen: list[int] = []
    got = _money.convert_column(
        frame, "units", fx=fx, to="EUR", currency="cur", on="day", fallback=lambda row: seen.append(row) or 0
    )
    assert got.to_list() == [9_500, 500, 9_200, 0]
    assert seen == [3]  # no USD/EUR rate on or before 2026-09-30


def test_half_to_even_per_amount() -> None:
    pair = _money.FxPair.of(FxTable([("EUR", "JPY", DAY, "0.5")]), "EUR", "JPY")
    assert [_money.convert_units(u, pair.ratios[0], pair) for u in (100, 300, 500, 700)] == [0, 2, 2, 4]
    frame = _money.with_rates(pl.DataFrame({"u": [100, 300, 500, 700], "d": [DAY] * 4}), pair, "d")
    converted = _money.convert_minor(frame, ["u"], pair)
    assert converted is not None
    assert converted.get_column("u").to_list() == [0, 2, 2, 4]
    assert frame.get_column("_fx").to_list() == ["EUR/JPY 0.5 on 2026-01-01"] * 4


def test_long_rates_are_left_to_exact_integers() -> None:
    # An inverse rate has 34 digits: its ratio does not fit int64, so convert_minor declines.
    pair = _money.FxPair.of(FxTable([("USD", "EUR", DAY, "0.95")]), "EUR", "USD")
    frame = _money.with_rates(pl.DataFrame({"u": [9_500], "d": [DAY]}), pair, "d")
    assert _money.convert_minor(frame, ["u"], pair) is None
    assert _money.convert_units(9_500, pair.ratios[0], pair) == 10_000


def test_an_amount_out_of_moneys_range_falls_back() -> None:
    fx = FxTable([("EUR", "JPY", DAY, "999999999999")])
    frame = pl.DataFrame({"u": [10**16], "c": ["EUR"], "d": [DAY]})
    with pytest.raises(ValueError, match="range of Money"):
        _money.convert_column(
            frame,
            "u",
            fx=fx,
            to="JPY",
            currency="c",
            on="d",
            fallback=lambda row: fx.convert(Money.from_minor(10**16, "EUR"), "JPY", DAY).to_minor(),
        )
