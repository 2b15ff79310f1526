"""Hypothesis strategies for smarketing values.

Use them to state laws about code built on smarketing, the way smarketing's own tests do ("a split
conserves money", "reordering input changes nothing"). Every strategy here generates valid values
only; invalid input is better tested with explicit examples.

Examples:
    >>> from hypothesis import given, settings
    >>> from smarketing.money import allocate
    >>> from smarketing.testing.strategies import moneys, weights
    >>> @settings(max_examples=25, database=None)
    ... @given(moneys(), weights())
    ... def test_allocation_conserves_money(total, shares):
    ...     assert sum(allocate(total, shares).values()) == total
    >>> test_allocation_conserves_money()
"""

from __future__ import annotations

import itertools
import math
import string
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeAlias, TypeVar, overload
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import strategies as st
from iso4217 import Currency

from smarketing._limits import MAX_DECIMAL_PLACES, MAX_MONEY_DIGITS
from smarketing.calendar import WEEKDAYS, BusinessCalendar
from smarketing.journey.model import JourneyMap, Stage, Transition
from smarketing.money import Money
from smarketing.records import Activity, Dataset, Deal, Lead, StageEvent, Touchpoint
from smarketing.rewards.model import RewardPlan

__all__ = [
    "TIME_ZONES",
    "Weight",
    "aware_datetimes",
    "business_calendars",
    "business_durations",
    "crm_datasets",
    "currencies",
    "formulas",
    "journey_maps",
    "journey_paths",
    "long_form_touches",
    "moneys",
    "reward_plans",
    "stage_events",
    "weights",
    "won_deals",
]

Weight: TypeAlias = int | Decimal | Fraction
"""A weight accepted by :func:`smarketing.money.allocate`."""

_K = TypeVar("_K")

# Shrinking moves towards the front of sampled_from, so failures are reported in familiar
# currencies covering each minor-unit size (2, 0, 3 and 4 places) before the rest.
_FAVOURITES = ("EUR", "USD", "JPY", "BHD", "CLF")
_ALL_CODES = sorted(c.code for c in Currency)
_CODES = [*_FAVOURITES, *(code for code in _ALL_CODES if code not in _FAVOURITES)]


def _exponent(code: str) -> int | None:
    exponent: int | None = Currency(code).exponent
    return exponent


def currencies(*, include_unitless: bool = False) -> st.SearchStrategy[str]:
    """Uppercase ISO 4217 currency codes.

    Args:
        include_unitless: Also generate codes that have no minor unit in ISO 4217 (``XAU``,
            ``XDR``, ``XXX``, ...). They are valid :class:`~smarketing.money.Money` currencies but
            cannot be quantized or allocated, so they are left out by default.

    Returns:
        A strategy of currency codes, shrinking towards ``"EUR"``.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=25, database=None)
        ... @given(currencies())
        ... def test_code(code):
        ...     assert Money.zero(code).minor_units in (0, 2, 3, 4)
        >>> test_code()
    """
    codes = [c for c in _CODES if include_unitless or _exponent(c) is not None]
    return st.sampled_from(codes)


def _bound(value: Decimal | int | str | None, name: str) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{name} must be a Decimal, int or str, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, not {value}")
    return Fraction(number)


def moneys(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    min_value: Decimal | int | str | None = None,
    max_value: Decimal | int | str | None = None,
    extra_places: int = 0,
) -> st.SearchStrategy[Money]:
    """:class:`~smarketing.money.Money` amounts, by default whole numbers of minor units.

    Args:
        currency: A fixed code, a strategy of codes, or None for :func:`currencies`.
        min_value: Smallest amount in major units (e.g. ``"-100"`` for -100 EUR); the smallest
            :class:`~smarketing.money.Money` (``-(10**18)`` exclusive) if None.
        max_value: Largest amount in major units; the largest Money (``10**18`` exclusive) if None.
        extra_places: Digits below the minor unit (``2`` gives EUR amounts such as
            ``12.3456``), for testing rounding; codes without a minor unit count as 0 places.
            Minor and extra places together are at most 18 (the Money range).

    Returns:
        A strategy of amounts written with exactly ``minor units + extra_places`` decimal places.
        The range must contain at least one such amount.

    Raises:
        TypeError: If a bound is a float or another non-number.
        ValueError: If ``min_value > max_value``, a bound is outside the Money range,
            ``extra_places`` is negative or too large, or ``currency`` is not a valid code.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=25, database=None)
        ... @given(moneys("JPY", min_value=0, max_value=100))
        ... def test_jpy(m):
        ...     assert m.currency == "JPY" and 0 <= m.amount <= 100 and m.is_exact()
        >>> test_jpy()
    """
    low = _bound(min_value, "min_value")
    high = _bound(max_value, "max_value")
    if low is not None and high is not None and low > high:
        raise ValueError(f"min_value {min_value} is greater than max_value {max_value}")
    if extra_places < 0:
        raise ValueError(f"extra_places must be >= 0, not {extra_places}")
    # Every drawn amount must be a valid Money: below 10**18 in magnitude, at most 18 places.
    limit = Fraction(10**MAX_MONEY_DIGITS)
    for name, bound in (("min_value", low), ("max_value", high)):
        if bound is not None and abs(bound) >= limit:
            raise ValueError(f"{name} must be inside the Money range (-10**18, 10**18), not {bound}")
    most = MAX_DECIMAL_PLACES - max(e for c in _CODES if (e := _exponent(c)) is not None)
    if extra_places > most:
        raise ValueError(f"extra_places must be at most {most}, not {extra_places}")
    if isinstance(currency, str):
        Money.zero(currency)  # fail at definition time, not on the first draw
        codes: st.SearchStrategy[str] = st.just(currency)
    else:
        codes = currencies() if currency is None else currency

    def in_currency(code: str) -> st.SearchStrategy[Money]:
        places = (_exponent(code) or 0) + extra_places
        scale = 10**places
        units = st.integers(
            -(10**MAX_MONEY_DIGITS) * scale + 1 if low is None else math.ceil(low * scale),
            10**MAX_MONEY_DIGITS * scale - 1 if high is None else math.floor(high * scale),
        )
        # Built from text so the thread's decimal context cannot round large amounts.
        return units.map(lambda n: Money(Decimal(f"{n}E-{places}"), code))

    return codes.flatmap(in_currency)


@overload
def weights(
    keys: None = None, *, min_size: int = 1, max_size: int = 8, allow_zero: bool = True
) -> st.SearchStrategy[dict[str, Weight]]: ...
@overload
def weights(
    keys: st.SearchStrategy[_K],
    *,
    min_size: int = 1,
    max_size: int = 8,
    allow_zero: bool = True,
) -> st.SearchStrategy[dict[_K, Weight]]: ...
def weights(
    keys: st.SearchStrategy[_K] | None = None,
    *,
    min_size: int = 1,
    max_size: int = 8,
    allow_zero: bool = True,
) -> st.SearchStrategy[dict[_K, Weight]] | st.SearchStrategy[dict[str, Weight]]:
    """Valid weight mappings for :func:`smarketing.money.allocate`.

    Weights mix ints, Decimals and Fractions; small ints are frequent so that equal remainders
    (ties) are common. At least one weight is positive.

    Args:
        keys: Strategy for recipient keys, which must be mutually orderable; short lowercase
            strings if None.
        min_size: Fewest recipients (at least 1).
        max_size: Most recipients.
        allow_zero: Whether some (not all) weights may be zero.

    Returns:
        A strategy of ``{recipient: weight}`` dicts.

    Examples:
        >>> from hypothesis import given, settings, strategies as st
        >>> @settings(max_examples=25, database=None)
        ... @given(weights(st.integers(0, 9), allow_zero=False))
        ... def test_positive(shares):
        ...     assert shares and all(w > 0 for w in shares.values())
        >>> test_positive()
    """
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1 (allocate needs a recipient), not {min_size}")
    # Decimals and Fractions are built from ints: several times faster to draw than
    # st.decimals()/st.fractions(), and these shapes are all allocate() cares about.
    values: st.SearchStrategy[Weight] = st.one_of(
        st.integers(0, 3),
        st.integers(0, 1_000_000),
        st.integers(0, 100_000).map(lambda n: Decimal(f"{n}E-3")),
        st.builds(Fraction, st.integers(0, 6_000), st.integers(1, 60)),
    )
    if not allow_zero:
        values = values.filter(lambda weight: weight > 0)
    if keys is None:
        recipients = st.text(string.ascii_lowercase, min_size=1, max_size=4)
        return st.dictionaries(recipients, values, min_size=min_size, max_size=max_size).filter(_any_positive)
    return st.dictionaries(keys, values, min_size=min_size, max_size=max_size).filter(_any_positive)


def _any_positive(mapping: dict[_K, Weight]) -> bool:
    return any(weight > 0 for weight in mapping.values())


# --------------------------------------------------------------------------------------------------
# Attribution input: journeys of touches.

_PATH_COLUMNS: dict[str, pl.DataType] = {
    "path": pl.String(),
    "total_conversions": pl.Float64(),
    "total_null": pl.Float64(),
    "total_conversion_value": pl.Decimal(38, 2),
    "currency": pl.String(),
}


@st.composite
def _journey_rows(
    draw: st.DrawFn,
    keys: st.SearchStrategy[str],
    max_journeys: int,
    max_length: int,
    fractional: bool,
) -> list[tuple[list[str], float, float, Decimal]]:
    count = draw(st.integers(1, max_journeys))
    rows = []
    for _ in range(count):
        path = draw(st.lists(keys, min_size=1, max_size=max_length))
        if fractional:
            conversions = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 2.0]))
        else:
            conversions = float(draw(st.integers(0, 3)))
        nulls = float(draw(st.integers(0, 3)))
        if conversions == 0 and nulls == 0:
            nulls = 1.0
        cents = draw(st.integers(0, 100_000)) if conversions else 0
        rows.append((path, conversions, nulls, Decimal(cents).scaleb(-2)))
    return rows


def journey_paths(
    *,
    keys: st.SearchStrategy[str] | None = None,
    max_journeys: int = 12,
    max_length: int = 6,
    fractional: bool = False,
) -> st.SearchStrategy[pl.DataFrame]:
    """Journeys in ChannelAttribution's aggregated path format, for :func:`smarketing.attribution.attribute`.

    Columns: ``path`` (``"a > b > c"``), ``total_conversions``, ``total_null`` (every row counts at least
    one journey), ``total_conversion_value`` (Decimal EUR, zero on non-converting rows) and ``currency``.
    Small key alphabets make repeated keys, shared prefixes and ties common.

    Args:
        keys: Strategy of key names (no ``>``); by default a few lowercase letters.
        max_journeys: Most rows.
        max_length: Most touches per path.
        fractional: Draw fractional conversions (0.25, 0.5, 1.5) too.

    Returns:
        A strategy of polars DataFrames with at least one row.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=10, database=None)
        ... @given(journey_paths())
        ... def test_paths(frame):
        ...     assert frame["path"].str.len_chars().min() >= 1
        >>> test_paths()
    """
    names = keys if keys is not None else st.sampled_from(["a", "b", "c", "d", "e"])

    def frame(rows: list[tuple[list[str], float, float, Decimal]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "path": [" > ".join(path) for path, *_ in rows],
                "total_conversions": [r[1] for r in rows],
                "total_null": [r[2] for r in rows],
                "total_conversion_value": [r[3] for r in rows],
                "currency": ["EUR"] * len(rows),
            },
            schema=_PATH_COLUMNS,
        )

    return _journey_rows(names, max_journeys, max_length, fractional).map(frame)


def long_form_touches(
    *,
    keys: st.SearchStrategy[str] | None = None,
    max_journeys: int = 12,
    max_length: int = 6,
) -> st.SearchStrategy[pl.DataFrame]:
    """Touches in long form, one row per touch, shuffled, for :class:`~smarketing.attribution.Journeys`.

    Columns: ``journey`` (``"j0"``, ``"j1"``, ...), ``time`` (UTC, strictly increasing within a journey),
    ``channel``, ``converted`` (0 or 1), ``value`` (Decimal EUR on every row of a converting journey) and
    ``currency``.

    Args:
        keys: Strategy of channel names; by default a few lowercase letters.
        max_journeys: Most journeys.
        max_length: Most touches per journey.

    Returns:
        A strategy of polars DataFrames.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=10, database=None)
        ... @given(long_form_touches())
        ... def test_touches(frame):
        ...     assert frame["time"].dtype.time_zone == "UTC"
        >>> test_touches()
    """
    names = keys if keys is not None else st.sampled_from(["a", "b", "c", "d", "e"])
    start = datetime(2026, 1, 1, tzinfo=UTC)

    @st.composite
    def build(draw: st.DrawFn) -> pl.DataFrame:
        rows = []
        for index in range(draw(st.integers(1, max_journeys))):
            path = draw(st.lists(names, min_size=1, max_size=max_length))
            converted = draw(st.booleans())
            cents = draw(st.integers(0, 100_000)) if converted else 0
            hours = draw(st.lists(st.integers(1, 72), min_size=len(path), max_size=len(path)))
            time = start
            for key, gap in zip(path, hours, strict=True):
                time += timedelta(hours=gap)
                rows.append((f"j{index}", time, key, int(converted), Decimal(cents).scaleb(-2), "EUR"))
        order = draw(st.permutations(range(len(rows))))
        ordered = [rows[i] for i in order]
        return pl.DataFrame(
            ordered,
            schema={
                "journey": pl.String,
                "time": pl.Datetime("us", "UTC"),
                "channel": pl.String,
                "converted": pl.Int64,
                "value": pl.Decimal(38, 2),
                "currency": pl.String,
            },
            orient="row",
        )

    return build()


# --------------------------------------------------------------------------------------------------
# KPI formulas and small CRM datasets.


def formulas(names: list[str], *, max_leaves: int = 12) -> st.SearchStrategy[str]:
    """KPI formula texts over metric ``names``: numbers, names, ``+ - * /``, parentheses and functions.

    Formulas are syntactically valid; many mix units and so are rejected by the units check, which is
    what a test of the parser wants.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=25, database=None)
        ... @given(formulas(["mqls", "sqls"]))
        ... def test_text(text):
        ...     assert text.strip()
        >>> test_text()
    """
    if not names:
        raise ValueError("formulas() needs at least one metric name")
    leaves = st.one_of(
        st.sampled_from(names),
        st.integers(0, 1000).map(str),
        st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 99), st.integers(0, 99)),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from("+-*/"), inner),
            inner.map(lambda a: f"({a})"),
            inner.map(lambda a: f"-{a}"),
            st.builds(
                lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["min", "max", "avg", "sum"]), inner, inner
            ),
            st.builds(lambda a, b: f"if_zero({a}, {b})", inner, inner),
            st.builds(lambda a, b: f"ratio({a}, {b})", inner, inner),
            st.builds(lambda a, n: f"lag({a}, {n})", inner, st.integers(1, 3)),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


#: The stage ids :func:`crm_datasets` uses: the stage kinds, as a journey-less scorecard expects.
_FUNNEL = ("mql", "sal", "sql", "opportunity")


def crm_datasets(*, max_leads: int = 12) -> st.SearchStrategy[Dataset]:
    """Small consistent :class:`~smarketing.records.Dataset` values around September-October 2026.

    Each lead is created, climbs some prefix of ``mql -> sal -> sql -> opportunity`` (stage ids equal to
    their kinds), may be ``disqualified``, is touched by ``marketing`` or ``sales`` and worked by
    activities, and may have a deal in EUR or USD, open, won or lost. Times are whole hours in UTC.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=10, database=None, deadline=None)
        ... @given(crm_datasets(max_leads=3))
        ... def test_leads(data):
        ...     assert data.leads.height <= 3
        >>> test_leads()
    """
    start = datetime(2026, 9, 1, tzinfo=UTC)
    hours = st.integers(0, 61 * 24)

    @st.composite
    def one_lead(draw: st.DrawFn, index: int) -> dict[str, list[Any]]:
        lead_id = f"L{index}"
        created = start + timedelta(hours=draw(hours))
        out: dict[str, list[Any]] = {
            k: [] for k in ("leads", "stage_events", "touchpoints", "activities", "deals")
        }
        source = draw(st.sampled_from(["webinar", "sdr_call", "referral"]))
        out["leads"].append(Lead(id=lead_id, created_at=created, source=source))
        time = created
        previous: str | None = None
        for stage in _FUNNEL[: draw(st.integers(0, len(_FUNNEL)))]:
            time += timedelta(hours=draw(st.integers(1, 240)))
            out["stage_events"].append(
                StageEvent.model_validate({"lead_id": lead_id, "from": previous, "to": stage, "time": time})
            )
            previous = stage
        if previous is not None and draw(st.booleans()):
            time += timedelta(hours=draw(st.integers(1, 240)))
            out["stage_events"].append(
                StageEvent.model_validate(
                    {"lead_id": lead_id, "from": previous, "to": "disqualified", "time": time}
                )
            )
        for j in range(draw(st.integers(0, 3))):
            out["touchpoints"].append(
                Touchpoint(
                    id=f"{lead_id}-T{j}",
                    lead_id=lead_id,
                    time=start + timedelta(hours=draw(hours)),
                    channel=draw(st.sampled_from(["webinar", "sdr_call", "content"])),
                    team=draw(st.sampled_from(["marketing", "sales"])),
                )
            )
        for j in range(draw(st.integers(0, 2))):
            out["activities"].append(
                Activity(
                    id=f"{lead_id}-A{j}",
                    lead_id=lead_id,
                    person="rep",
                    time=start + timedelta(hours=draw(hours)),
                    type="call",
                )
            )
        if draw(st.booleans()):
            created_at = start + timedelta(hours=draw(hours))
            stage = draw(st.sampled_from(["open", "won", "lost"]))
            close = (
                None if stage == "open" else (created_at + timedelta(days=draw(st.integers(0, 40)))).date()
            )
            out["deals"].append(
                Deal(
                    id=f"{lead_id}-D",
                    lead_id=lead_id,
                    amount=draw(moneys(st.sampled_from(["EUR", "USD"]), min_value=0, max_value=100_000)),
                    stage=stage,
                    created_at=created_at,
                    close_date=close,
                )
            )
        return out

    @st.composite
    def dataset(draw: st.DrawFn) -> Dataset:
        n = draw(st.integers(0, max_leads))
        parts: dict[str, list[Any]] = {
            k: [] for k in ("leads", "stage_events", "touchpoints", "activities", "deals")
        }
        for i in range(n):
            for key, items in draw(one_lead(i)).items():
                parts[key].extend(items)
        return Dataset.from_records(**parts)

    return dataset()


# --------------------------------------------------------------------------------------------------
# Rewards


def _percentages(draw: st.DrawFn, n: int) -> list[int]:
    """``n`` positive whole percentages that add up to exactly 100."""
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=n - 1, max_size=n - 1))) if n > 1 else []
    bounds = [0, *cuts, 100]
    return [b - a for a, b in itertools.pairwise(bounds)]


def reward_plans(
    *, people: Sequence[str] = ("ana", "bo", "cy"), currency: str = "EUR"
) -> st.SearchStrategy[RewardPlan]:
    """Valid bare :class:`~smarketing.rewards.RewardPlan` s over person participants ``people``.

    Each has a pool (a rate, sometimes a fixed amount, gross or net), a revenue split over the people whose
    shares total exactly 100%, and sometimes an overlay, tiers (marginal or retroactive, accelerating or
    slowing), quotas, caps, a floor and a clawback policy.

    Examples:
        >>> from hypothesis import find
        >>> plan = find(reward_plans(), lambda p: p.tiers != [])
        >>> plan.tiers[0].from_attainment
        Decimal('0')
    """

    @st.composite
    def plan(draw: st.DrawFn) -> RewardPlan:
        chosen = draw(st.lists(st.sampled_from(list(people)), min_size=1, max_size=len(people), unique=True))
        shares = _percentages(draw, len(chosen))
        data: dict[str, Any] = {
            "id": "p",
            "currency": currency,
            "pool": {
                "rate": f"{draw(st.integers(0, 2500)) / 100:.2f}%",
                "basis": draw(st.sampled_from(["gross", "net"])),
            },
            "participants": [{"person": who} for who in people],
            "splits": [
                {"kind": "revenue", "shares": {w: f"{s}%" for w, s in zip(chosen, shares, strict=True)}}
            ],
        }
        if draw(st.booleans()):
            data["pool"]["fixed"] = f"{draw(st.integers(0, 5000))} {currency}"
        if draw(st.booleans()):
            data["splits"].append({"kind": "overlay", "shares": {draw(st.sampled_from(list(people))): "5%"}})
        if draw(st.booleans()):
            top = draw(st.sampled_from(["0.5", "1", "1.5", "2"]))
            data["tiers"] = [
                {"from_attainment": 0, "to_attainment": 1, "multiplier": draw(st.sampled_from(["0.5", "1"]))},
                {"from_attainment": 1, "multiplier": top},
            ]
            data["tier_mode"] = draw(st.sampled_from(["marginal", "retroactive"]))
            for part in data["participants"]:
                part["quota"] = f"{draw(st.integers(1, 200_000))} {currency}"
        if draw(st.booleans()):
            data["cap_per_deal"] = f"{draw(st.integers(0, 5000))} {currency}"
        if draw(st.booleans()):
            data["cap_per_period"] = f"{draw(st.integers(0, 20000))} {currency}"
        if draw(st.booleans()):
            data["floor"] = f"{draw(st.integers(0, 500))} {currency}"
        if draw(st.booleans()):
            data["clawback"] = {
                "window_days": draw(st.integers(0, 120)),
                "mode": draw(st.sampled_from(["full", "pro_rata"])),
                "reduce_attainment": draw(st.booleans()),
            }
        return RewardPlan.model_validate(data)

    return plan()


def won_deals(
    *,
    people: Sequence[str] = ("ana", "bo", "cy"),
    currency: str = "EUR",
    month: date = date(2026, 10, 1),
    max_size: int = 12,
) -> st.SearchStrategy[list[Deal]]:
    """Lists of won :class:`~smarketing.records.Deal` s closed in ``month`` (or the month before), unique ids.

    Amounts run from 0 to 100,000 with cents; some deals have a discount, a refund in ``month``, revenue
    splits over ``people`` totalling exactly 100%, or an overlay split.

    Examples:
        >>> from hypothesis import find
        >>> deals = find(won_deals(), lambda ds: len(ds) > 1)
        >>> len({d.id for d in deals}) == len(deals)
        True
    """

    @st.composite
    def deals(draw: st.DrawFn) -> list[Deal]:
        n = draw(st.integers(0, max_size))
        out = []
        before = month - timedelta(days=1)
        for i in range(n):
            amount = draw(st.integers(0, 10_000_000))
            close = draw(st.sampled_from([month, month + timedelta(days=9), before - timedelta(days=5)]))
            splits: list[dict[str, Any]] = []
            if draw(st.booleans()):
                chosen = draw(
                    st.lists(st.sampled_from(list(people)), min_size=1, max_size=len(people), unique=True)
                )
                splits = [
                    {"person": who, "share": f"{share}%", "kind": "revenue"}
                    for who, share in zip(chosen, _percentages(draw, len(chosen)), strict=True)
                ]
            if draw(st.booleans()):
                splits.append(
                    {"person": draw(st.sampled_from(list(people))), "share": "10%", "kind": "overlay"}
                )
            refunded = None
            if draw(st.integers(0, 3)) == 0:
                refunded = month + timedelta(days=draw(st.integers(10, 20)))
            out.append(
                Deal.model_validate(
                    {
                        "id": f"D{i:03d}",
                        "amount": Money.from_minor(amount, currency),
                        "discount": Money.from_minor(amount // 10, currency) if draw(st.booleans()) else None,
                        "stage": "won",
                        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
                        "close_date": close,
                        "refunded_on": refunded,
                        "splits": splits,
                    }
                )
            )
        return out

    return deals()


# Customer journeys and what leads did on them.

_STAGE_KINDS = ("lead", "mql", "sal", "sql", "opportunity", "customer", "other")
_TRANSITION_KINDS = ("progression", "progression", "handoff", "recycle", "disqualify")


@st.composite
def journey_maps(
    draw: st.DrawFn,
    *,
    min_stages: int = 1,
    max_stages: int = 6,
    teams: Sequence[str] = ("marketing", "sales"),
) -> JourneyMap:
    """Valid :class:`~smarketing.journey.JourneyMap` s of a few stages ``s0``, ``s1``, ... owned by ``teams``.

    Transitions are any pairs of stages (self-loops and backward moves included) of any kind; some
    stages are terminal; recycles may carry ``max_recycles``.

    Args:
        draw: Supplied by Hypothesis (``st.composite``); do not pass it.
        min_stages: Fewest stages (at least 1).
        max_stages: Most stages.
        teams: Team ids that own the stages.

    Returns:
        A strategy of journey maps.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=25, database=None)
        ... @given(journey_maps(max_stages=4))
        ... def test_owned(jm):
        ...     assert all(s.owner in ("marketing", "sales") for s in jm.stages)
        >>> test_owned()
    """
    if min_stages < 1 or max_stages < min_stages:
        raise ValueError(f"need 1 <= min_stages <= max_stages, not {min_stages}, {max_stages}")
    n = draw(st.integers(min_stages, max_stages))
    stages = [
        Stage(
            id=f"s{i}",
            name=f"Stage {i}",
            owner=draw(st.sampled_from(list(teams))),
            kind=draw(st.sampled_from(_STAGE_KINDS)),
            terminal=draw(st.sampled_from([None, None, None, "won", "lost", "disqualified"])),
        )
        for i in range(n)
    ]
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n, unique=True)
    )
    transitions = []
    for a, b in pairs:
        kind = draw(st.sampled_from(_TRANSITION_KINDS))
        limit = draw(st.sampled_from([None, 1, 2])) if kind == "recycle" else None
        transitions.append(Transition(source=f"s{a}", to=f"s{b}", kind=kind, max_recycles=limit))
    return JourneyMap(stages=stages, transitions=transitions)


_ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))


@st.composite
def stage_events(
    draw: st.DrawFn,
    stages: Sequence[str],
    *,
    unknown: Sequence[str] = (),
    max_leads: int = 5,
    max_events: int = 20,
    duplicates: bool = True,
) -> list[StageEvent]:
    """Lists of :class:`~smarketing.records.StageEvent` over ``stages``, built to hit the corner cases.

    Times come from a small grid (so ties are common) in several UTC offsets; ``from`` is usually the
    lead's previous stage, sometimes missing or wrong (out-of-order timestamps); with ``duplicates`` some
    events are repeated; events into the ``unknown`` stage ids appear when given. The list is shuffled.

    Args:
        draw: Supplied by Hypothesis (``st.composite``); do not pass it.
        stages: Stage ids to move between (e.g. a map's stage ids).
        unknown: Stage ids not in the map, to test how analyses count them.
        max_leads: Most distinct leads.
        max_events: Most events before duplication.
        duplicates: Whether to repeat some events exactly.

    Returns:
        A strategy of event lists.

    Examples:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=25, database=None)
        ... @given(stage_events(["mql", "sql"]))
        ... def test_aware(events):
        ...     assert all(e.time.tzinfo is not None for e in events)
        >>> test_aware()
    """
    if not stages:
        raise ValueError("stage_events needs at least one stage")
    base = datetime(2026, 10, 1, 9, tzinfo=UTC)
    targets = st.sampled_from([*stages, *unknown])
    leads = [f"L{i}" for i in range(draw(st.integers(1, max_leads)))]
    events: list[StageEvent] = []
    last: dict[str, str] = {}
    for _ in range(draw(st.integers(0, max_events))):
        lead = draw(st.sampled_from(leads))
        to = draw(targets)
        hours = draw(st.integers(0, 40))
        zone = draw(st.sampled_from(_ZONES))
        source = draw(st.sampled_from([last.get(lead), last.get(lead), last.get(lead), None, *stages[:2]]))
        events.append(
            StageEvent(
                lead_id=lead,
                source=source,
                to=to,
                time=(base + timedelta(hours=hours)).astimezone(zone),
            )
        )
        last[lead] = to
    if duplicates and events:
        events += draw(st.lists(st.sampled_from(events), max_size=3))
    return draw(st.permutations(events))


# --------------------------------------------------------------------------------------------------
# Business time.


#: Zones the time strategies draw from: no DST, DST in both hemispheres, DST at midnight (Santiago, Havana,
#: Beirut), a half-hour offset (Adelaide) and a 30-minute DST shift (Lord Howe).
TIME_ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
)

_HOLIDAY_SOURCES = (
    {"country": "DE", "subdivision": "BY"},
    {"country": "US"},
    {"country": "GB"},
    {"country": "CL"},
)


def aware_datetimes(
    *,
    min_value: datetime = datetime(2025, 1, 1),
    max_value: datetime = datetime(2027, 12, 31),
    zones: tuple[str, ...] = TIME_ZONES,
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes in zones with awkward DST rules, never at a wall time that does not exist.

    Args:
        min_value: Earliest naive wall time.
        max_value: Latest naive wall time.
        zones: IANA zones to draw from.

    Examples:
        >>> from hypothesis import HealthCheck, given, settings
        >>> @settings(
        ...     max_examples=25, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ... )
        ... @given(aware_datetimes())
        ... def test_aware(t):
        ...     assert t.utcoffset() is not None
        >>> test_aware()
    """
    return st.datetimes(
        min_value=min_value,
        max_value=max_value,
        timezones=st.sampled_from([ZoneInfo(z) for z in zones]),
        allow_imaginary=False,
    )


def business_durations(*, max_hours: int = 200) -> st.SearchStrategy[timedelta]:
    """Non-negative durations up to ``max_hours``, often whole minutes, sometimes to the microsecond.

    Examples:
        >>> from hypothesis import HealthCheck, given, settings
        >>> @settings(
        ...     max_examples=25, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ... )
        ... @given(business_durations(max_hours=5))
        ... def test_duration(d):
        ...     assert timedelta(0) <= d <= timedelta(hours=5)
        >>> test_duration()
    """
    return st.one_of(
        st.integers(0, max_hours * 60).map(lambda m: timedelta(minutes=m)),
        st.integers(0, max_hours * 3_600_000_000).map(lambda us: timedelta(microseconds=us)),
    )


@st.composite
def _day_hours(draw: st.DrawFn) -> list[str]:
    # Cut points on a 15-minute grid, paired into non-overlapping intervals; 24:00 may close the day.
    cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=0, max_size=6)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    out = []
    for lo, hi in zip(cuts[::2], cuts[1::2], strict=True):
        out.append(f"{lo // 4:02d}:{lo % 4 * 15:02d}-{hi // 4:02d}:{hi % 4 * 15:02d}")
    return out


def business_calendars(
    *,
    zones: tuple[str, ...] = TIME_ZONES,
    always_open: bool | None = None,
) -> st.SearchStrategy[BusinessCalendar]:
    """Valid :class:`~smarketing.calendar.BusinessCalendar` values that open at least once a week.

    Hours are drawn on a 15-minute grid (several intervals a day, touching ones and 24:00 included),
    sometimes with public holidays, extra closed and open dates in 2025-2027, or 24x7.

    Args:
        zones: IANA zones to draw from.
        always_open: Force 24x7 on or off; drawn when None.

    Examples:
        >>> from hypothesis import HealthCheck, given, settings
        >>> @settings(
        ...     max_examples=10, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ... )
        ... @given(business_calendars())
        ... def test_calendar(cal):
        ...     assert cal.always_open or any(cal.intervals(d) for d in WEEKDAYS)
        >>> test_calendar()
    """
    return _calendars(zones, always_open)


@st.composite
def _calendars(draw: st.DrawFn, zones: tuple[str, ...], always_open: bool | None) -> BusinessCalendar:
    zone = draw(st.sampled_from(zones))
    if always_open if always_open is not None else draw(st.integers(0, 9)) == 0:
        return BusinessCalendar(timezone=zone, always_open=True)
    hours = {day: draw(_day_hours()) for day in WEEKDAYS}
    hours = {day: spans for day, spans in hours.items() if spans}
    if not hours:
        hours = {"mon": ["09:00-17:00"]}
    dates = st.dates(date(2025, 1, 1), date(2027, 12, 31))
    special = draw(st.lists(dates, max_size=6, unique=True))
    split = draw(st.integers(0, len(special)))
    holidays = draw(st.one_of(st.none(), st.sampled_from(_HOLIDAY_SOURCES)))
    return BusinessCalendar(
        timezone=zone,
        hours=hours,
        holidays=holidays,
        closed_dates=special[:split],
        open_dates=special[split:],
    )
