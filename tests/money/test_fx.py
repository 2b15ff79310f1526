from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal

import pytest

from smarketing.errors import DataError
from smarketing.money import FxTable, Money


@pytest.fixture
def fx() -> FxTable:
    return FxTable(
        [
            ("USD", "EUR", date(2026, 10, 1), "0.92"),
            ("USD", "EUR", date(2026, 10, 15), "0.95"),
            ("GBP", "EUR", date(2026, 10, 1), Decimal("1.1712")),
        ]
    )


@pytest.mark.parametrize(
    ("on", "rate"),
    [
        (date(2026, 10, 1), "0.92"),
        (date(2026, 10, 14), "0.92"),
        (date(2026, 10, 15), "0.95"),
        (date(2027, 1, 1), "0.95"),
    ],
)
def test_rate_is_latest_on_or_before(fx: FxTable, on: date, rate: str) -> None:
    assert fx.rate("USD", "EUR", on) == Decimal(rate)


def test_same_currency_is_identity(fx: FxTable) -> None:
    m = Money("10.005", "EUR")
    assert fx.convert(m, "EUR", date(2000, 1, 1)) is m


def test_convert_rounds_explicitly(fx: FxTable) -> None:
    m = Money("10.01", "GBP")
    assert fx.convert(m, "EUR", date(2026, 10, 2)) == Money("11.72", "EUR")  # 11.723712
    assert fx.convert(m, "EUR", date(2026, 10, 2), rounding=ROUND_DOWN) == Money("11.72", "EUR")
    assert fx.convert(m, "EUR", date(2026, 10, 2), rounding=None) == Money("11.723712", "EUR")


@pytest.mark.parametrize(
    ("base", "quote", "on", "fragment"),
    [
        ("USD", "EUR", date(2026, 9, 30), "fx USD/EUR: 2026-09-30: no rate on or before"),
        ("EUR", "JPY", date(2026, 10, 2), "fx EUR/JPY: 2026-10-02: no rates for this pair"),
    ],
)
def test_missing_rate_names_pair_and_date(
    fx: FxTable, base: str, quote: str, on: date, fragment: str
) -> None:
    with pytest.raises(DataError, match=fragment):
        fx.rate(base, quote, on)


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([("USD", "EUR", date(2026, 1, 1), 0.92)], TypeError),
        ([("USD", "EUR", date(2026, 1, 1), "0")], ValueError),
        ([("usd", "EUR", date(2026, 1, 1), "1")], ValueError),
        ([("USD", "EUR", date(2026, 1, 1), "1"), ("USD", "EUR", date(2026, 1, 1), "2")], ValueError),
    ],
)
def test_bad_rows_are_rejected(rows: list[tuple[str, str, date, object]], error: type[Exception]) -> None:
    with pytest.raises(error):
        FxTable(rows)  # type: ignore[arg-type]


def test_rows_are_sorted_and_complete(fx: FxTable) -> None:
    assert fx.pairs() == [("GBP", "EUR"), ("USD", "EUR")]
    assert [r[:3] for r in fx.rows()] == [
        ("GBP", "EUR", date(2026, 10, 1)),
        ("USD", "EUR", date(2026, 10, 1)),
        ("USD", "EUR", date(2026, 10, 15)),
    ]


@pytest.mark.parametrize("on", ["2026-10-01", datetime(2026, 10, 1, tzinfo=UTC), 20261001])
def test_a_rate_date_that_is_not_a_date_is_refused(on: object) -> None:
    with pytest.raises(TypeError, match=r"USD/EUR: the date must be a datetime\.date"):
        FxTable([("USD", "EUR", on, "0.92")])  # type: ignore[list-item]
