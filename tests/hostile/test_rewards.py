"""Hostile rewards: bad plans and won deals give a located error (never a crash, a wrap-around or a loss)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
import yaml
from pydantic import ValidationError
from tests.rewards.test_rewards import AS_OF, OCT, T0, deal, reward

from smarketing.attribution import Journeys
from smarketing.errors import DataError, PlanError
from smarketing.kpi import KPI, scorecard
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset, Touchpoint
from smarketing.rewards import RewardLedger, RewardPlan, compute_rewards

from .conftest import assert_names

PEOPLE = """
name: Test
teams:
  - {id: marketing, name: Marketing, function: marketing}
  - {id: sales, name: Sales, function: sales}
people:
  - {id: mia, name: Mia, team: marketing, role: marketer}
  - {id: max, name: Max, team: marketing, role: marketer}
  - {id: sam, name: Sam, team: sales, role: ae}
  - {id: sue, name: Sue, team: sales, role: ae}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won}
"""


def aligned(rewards: dict[str, Any]) -> AlignmentPlan:
    data = yaml.safe_load(PEOPLE)
    data["rewards"] = {"id": "v1", "currency": "EUR", "pool": {"rate": "10%"}, **rewards}
    return load_plan(data)


def run(deals: Any, plan: Any, **options: Any) -> RewardLedger:
    options.setdefault("period", OCT)
    options.setdefault("as_of", AS_OF)
    return compute_rewards(deals, plan, **options)


def totals(ledger: RewardLedger) -> dict[str, str]:
    return {k: str(v.amount) for k, v in ledger.totals().items()}


# --- plan amounts and currencies ---------------------------------------------------------------------------

UNPAID = ["XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XBA"]


@pytest.mark.parametrize("code", UNPAID)
def test_reward_currency_without_minor_unit_is_refused(code: str) -> None:
    # The plan model refuses it (load_plan reports that as a PlanError with file:line).
    fx = FxTable([("EUR", code, date(2026, 1, 1), "2")])
    with pytest.raises((PlanError, ValidationError), match="no minor unit") as info:
        run([deal()], reward(currency=code), fx=fx)
    assert_names(str(info.value), "currency", code)


def _dotted(path: str, error: Exception) -> str:
    """The field path as the error spells it (pydantic writes ``participants.0.quota``)."""
    return path.replace("[0]", ".0") if isinstance(error, ValidationError) else path


PLAN_MONEY = ["pool.fixed", "cap_per_deal", "cap_per_period", "floor", "participants[0].quota"]


def _with_money(path: str, amount: str) -> RewardPlan:
    value = {"amount": amount, "currency": "EUR"}
    if path == "pool.fixed":
        return reward(pool={"rate": "10%", "fixed": value})
    if path.startswith("participants"):
        return reward(participants=[{"person": "ana", "quota": value}])
    return reward(**{path: value})


@pytest.mark.parametrize("path", PLAN_MONEY)
@pytest.mark.parametrize("amount", ["0.005", "24000.001", "0.0000001"])
def test_plan_amount_below_the_minor_unit_is_refused(path: str, amount: str) -> None:
    with pytest.raises((PlanError, ValidationError), match=r"(below|than EUR's) minor unit") as info:
        run([deal()], _with_money(path, amount))
    assert_names(str(info.value), _dotted(path, info.value), amount)


@pytest.mark.parametrize("path", PLAN_MONEY)
@pytest.mark.parametrize("amount", ["1000000000000000", "100000000000000000", "999999999999999999"])
def test_plan_amount_with_too_many_digits_is_refused(path: str, amount: str) -> None:
    with pytest.raises((PlanError, ValidationError), match="at most 15") as info:
        run([deal()], _with_money(path, amount))
    assert_names(str(info.value), _dotted(path, info.value))


@pytest.mark.parametrize("path", PLAN_MONEY)
def test_plan_amount_in_range_is_paid(path: str) -> None:
    ledger = run([deal()], _with_money(path, "999999999999999.00"))
    assert ledger.total().currency == "EUR"


def test_plan_amount_beyond_money_range_is_refused_at_validation() -> None:
    with pytest.raises(ValueError, match="at most 15 are accepted"):
        reward(cap_per_deal={"amount": 10**40, "currency": "EUR"})


def test_aligned_plan_problem_names_the_rewards_path() -> None:
    with pytest.raises(PlanError) as info:
        aligned({"team_split": {"sales": "100%"}, "participants": [{"team": "sales"}], "floor": "0.005 EUR"})
    assert_names(str(info.value), "rewards.floor", "0.005")


NUMBERS = {
    "share-7-places": (
        {"splits": [{"kind": "revenue", "shares": {"ana": "0.9999999", "bo": "0.0000001"}}]},
        "splits[0].shares.ana",
    ),
    "multiplier-7-digits": (
        {"tiers": [{"from_attainment": 0, "multiplier": "1000000"}]},
        "tiers[0].multiplier",
    ),
    "multiplier-7-places": (
        {"tiers": [{"from_attainment": 0, "multiplier": "1.0000001"}]},
        "tiers[0].multiplier",
    ),
    "attainment-7-digits": (
        {
            "tiers": [
                {"from_attainment": 0, "to_attainment": "1000000", "multiplier": 1},
                {"from_attainment": "1000000", "multiplier": 2},
            ]
        },
        "tiers[0].to_attainment",
    ),
    "weight-7-digits": (
        {"participants": [{"person": "ana", "weight": "1000000"}, {"person": "bo"}]},
        "participants[0].weight",
    ),
    "weight-40-digits": (
        {"participants": [{"person": "ana", "weight": "1" + "0" * 39}, {"person": "bo"}]},
        "participants[0].weight",
    ),
}


@pytest.mark.parametrize(("fields", "path"), list(NUMBERS.values()), ids=list(NUMBERS))
def test_plan_numbers_out_of_range_are_refused(fields: dict[str, Any], path: str) -> None:
    fields.setdefault("participants", [{"person": "ana"}, {"person": "bo"}])
    with pytest.raises((PlanError, ValidationError), match="at most") as info:
        run([deal()], reward(**fields))
    assert_names(str(info.value), _dotted(path, info.value))


# --- the won-deal rule: rewards, KPIs and attribution refuse the same deals -------------------------------


def deals_frame(
    amount: str | None, *, currency: str | None = "EUR", scale: int = 6, **columns: Any
) -> pl.DataFrame:
    frame = Dataset.from_records(deals=[deal()]).frames()["deals"]
    value = None if amount is None else Decimal(amount)
    frame = frame.with_columns(
        pl.Series("amount", [value], dtype=pl.Decimal(38, scale)),
        pl.Series("amount_currency", [currency], dtype=pl.String),
    )
    return frame.with_columns(**{k: pl.Series(k, [v]) for k, v in columns.items()})


def rewards_on(frame: pl.DataFrame) -> object:
    return run(frame, reward(), fx=FxTable([("USD", "EUR", date(2026, 1, 1), "0.9")]))


KPI_REVENUE = KPI.model_validate(
    {
        "id": "rev",
        "name": "Revenue",
        "owners": ["sales"],
        "formula": "revenue",
        "unit": "money",
        "currency": "EUR",
        "direction": "higher_is_better",
    }
)


def kpis_on(frame: pl.DataFrame) -> object:
    return scorecard(
        [KPI_REVENUE], Dataset(deals=frame), period=OCT, as_of=datetime(2026, 10, 31, tzinfo=UTC)
    )


def attribution_on(frame: pl.DataFrame) -> object:
    touch = Touchpoint(id="t1", lead_id="L1", time=T0, channel="webinar", team="marketing")
    return Journeys.from_touchpoints([touch], key="team", deals=frame)


CONSUMERS = {"rewards": rewards_on, "kpis": kpis_on, "attribution": attribution_on}

BAD_DEALS = {
    "negative": (("-5.00",), {}, "amount", "negative"),
    "half-cent": (("24000.005",), {}, "amount", "below the (currency's )?minor unit"),
    "sub-cent": (("0.000001",), {}, "amount", "below the (currency's )?minor unit"),
    "jpy-cents": (("100.50",), {"currency": "JPY"}, "amount", "below the (currency's )?minor unit"),
    "bhd-fourth-place": (("1.0001",), {"currency": "BHD"}, "amount", "below the (currency's )?minor unit"),
    "16-digits": (("1000000000000000",), {}, "amount", "digits before the decimal point"),
    "30-digits": (("1" + "0" * 29,), {"scale": 2}, "amount", "digits before the decimal point"),
    "37-digits": (("1" + "0" * 36,), {"scale": 0}, "amount", "digits before the decimal point"),
    "null-amount": ((None,), {}, "amount", "needs an amount|required value is missing"),
    "null-currency": (("10.00",), {"currency": None}, "amount_currency", "needs (a|its) currency"),
    "xxx": (("10.00",), {"currency": "XXX"}, "amount_currency", "(no|with a) minor unit"),
    "xts": (("10.00",), {"currency": "XTS"}, "amount_currency", "(no|with a) minor unit"),
    "xau": (("10.00",), {"currency": "XAU"}, "amount_currency", "(no|with a) minor unit"),
    "lowercase": (("10.00",), {"currency": "eur"}, "amount_currency", "uppercase"),
    "unknown-code": (
        ("10.00",),
        {"currency": "ABC"},
        "amount_currency",
        "unknown|not an uppercase ISO 4217 code",
    ),
    "null-close-date": (("10.00",), {"close_date": None}, "close_date", "needs a close_date"),
}


@pytest.mark.parametrize("consumer", list(CONSUMERS), ids=list(CONSUMERS))
@pytest.mark.parametrize(
    ("args", "options", "column", "reason"), list(BAD_DEALS.values()), ids=list(BAD_DEALS)
)
def test_one_won_deal_rule_everywhere(
    consumer: str, args: tuple[Any, ...], options: dict[str, Any], column: str, reason: str
) -> None:
    options = dict(options)
    close = options.pop("close_date", date(2026, 10, 5))
    frame = deals_frame(*args, **options).with_columns(pl.Series("close_date", [close], dtype=pl.Date))
    with pytest.raises(DataError, match=reason) as info:
        CONSUMERS[consumer](frame)
    assert_names(str(info.value), "deal D1", column)


@pytest.mark.parametrize("consumer", list(CONSUMERS), ids=list(CONSUMERS))
def test_float_amounts_are_refused_everywhere(consumer: str) -> None:
    frame = deals_frame("10.00").with_columns(pl.col("amount").cast(pl.Float64))
    with pytest.raises(DataError, match="Decimal or integer") as info:
        CONSUMERS[consumer](frame)
    assert_names(str(info.value), "amount")


@pytest.mark.parametrize("consumer", list(CONSUMERS), ids=list(CONSUMERS))
@pytest.mark.parametrize("amount", ["24000.00", "24000.000000", "999999999999999.99", "0"])
def test_valid_won_deal_is_accepted_everywhere(consumer: str, amount: str) -> None:
    CONSUMERS[consumer](deals_frame(amount))


@pytest.mark.parametrize("consumer", ["kpis", "attribution"])
def test_open_deal_with_a_negative_amount_is_refused_at_intake(consumer: str) -> None:
    # The Deal record refuses a negative amount at any stage; the frame intake applies the same rule.
    frame = deals_frame("-5.00").with_columns(pl.lit("open").alias("stage"))
    with pytest.raises(DataError, match="must not be negative") as info:
        CONSUMERS[consumer](frame)
    assert_names(str(info.value), "deal D1", "amount")


def test_kpi_revenue_is_exact() -> None:
    card = kpis_on(deals_frame("24000.01"))
    assert "24000.01" in str(card)


# --- splits among people of a team the plan gives no credit to --------------------------------------------

SPLIT_PLANS = {
    "team-pool": {"team_split": {"sales": "100%"}, "participants": [{"team": "sales"}, {"person": "mia"}]},
    "owner": {"team_split": {"sales": "100%"}, "participants": [{"person": "sam"}, {"person": "mia"}]},
    "two-teams": {
        "team_split": {"sales": "100%"},
        "participants": [{"team": "sales"}, {"person": "sam"}, {"team": "marketing"}],
    },
}
SPLITS = {
    "both-marketing": [("mia", "0.5"), ("max", "0.5")],
    "one-marketing": [("mia", "1")],
    "uneven": [("mia", "0.333333"), ("max", "0.666667")],
}


@pytest.mark.parametrize("plan_fields", list(SPLIT_PLANS.values()), ids=list(SPLIT_PLANS))
@pytest.mark.parametrize("splits", list(SPLITS.values()), ids=list(SPLITS))
def test_splits_outside_credited_teams_pay_as_without_splits(
    plan_fields: dict[str, Any], splits: list[tuple[str, str]]
) -> None:
    plan = aligned(plan_fields)
    rows = [{"person": p, "share": s, "kind": "revenue"} for p, s in splits]
    with_splits = run([deal(owner="sam", splits=rows)], plan)
    without = run([deal(owner="sam")], plan)
    assert totals(with_splits) == totals(without)
    assert with_splits.total() == without.total()


# --- a bare RewardPlan does not know the teams -------------------------------------------------------------


def test_bare_reward_plan_says_to_pass_the_whole_plan() -> None:
    plan = aligned({"team_split": {"sales": "100%"}, "participants": [{"person": "sam"}]})
    assert totals(run([deal(owner="sam")], plan)) == {"sam": "100.00"}
    with pytest.raises(DataError, match="AlignmentPlan") as info:
        run([deal(owner="sam")], plan.rewards)
    assert_names(str(info.value), "deal D1", "plan.rewards", "sales")


# --- int64: huge amounts name the deal, never wrap around --------------------------------------------------


def test_run_total_that_would_overflow_names_the_deal() -> None:
    deals = [deal(id=f"D{i:04d}", amount="99999999999999.99") for i in range(1000)]
    with pytest.raises(DataError, match="64-bit") as info:
        run(deals, reward(pool={"rate": "100%"}))
    assert_names(str(info.value), "deal D0")


def test_largest_deal_is_paid_exactly() -> None:
    ledger = run([deal(amount="999999999999999.99")], reward(pool={"rate": "100%"}))
    assert totals(ledger) == {"ana": "999999999999999.99"}


@pytest.mark.parametrize("share", ["0.333333", "0.123457"])
def test_split_too_large_names_the_deal(share: str) -> None:
    other = str(Decimal(1) - Decimal(share))
    plan = reward(
        pool={"rate": "100%"},
        participants=[{"person": "ana"}, {"person": "bo"}],
        splits=[{"kind": "revenue", "shares": {"ana": share, "bo": other}}],
    )
    with pytest.raises(DataError, match="too large to split exactly") as info:
        run([deal(id="D7", amount="999999999999999.99")], plan)
    assert_names(str(info.value), "deal D7")


def test_conversion_too_large_names_the_deal() -> None:
    fx = FxTable([("USD", "EUR", date(2026, 1, 1), "999999999999.999999999999999999")])
    with pytest.raises(DataError, match="too large to convert") as info:
        run([deal(id="D9", currency="USD", amount="99999999999999.99")], reward(), fx=fx)
    assert_names(str(info.value), "deal D9")


def test_usd_deal_with_only_the_opposite_rate_is_converted() -> None:
    fx = FxTable([("EUR", "USD", date(2026, 1, 1), "1.25")])
    ledger = run([deal(currency="USD", amount="1000.00")], reward(pool={"rate": "100%"}), fx=fx)
    assert totals(ledger) == {"ana": "800.00"}


# --- periods ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["9999-Q4", "9999", "9999-12", "0001", "1899-12", "2200-Q1", "2200"])
def test_period_outside_supported_years_names_the_period(period: str) -> None:
    with pytest.raises(ValueError, match="supported years") as info:
        run([deal()], reward(), period=period, as_of=date(2026, 12, 31))
    assert_names(str(info.value), period, "1900", "2199")


@pytest.mark.parametrize("period", ["1900", "2199-Q4", "2199-12"])
def test_period_at_the_edges_is_computed(period: str) -> None:
    ledger = run([deal()], reward(), period=period, as_of=date(2199, 12, 31))
    assert ledger.period == period
