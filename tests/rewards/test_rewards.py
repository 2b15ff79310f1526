"""Shared rewards: hand-computed examples of every feature, bad input, and the results' shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from smarketing.errors import CurrencyMismatchError, DataError, PlanError
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset, Deal, StageEvent, Touchpoint
from smarketing.rewards import RewardLedger, RewardPlan, compute_rewards

OCT = "2026-10"
AS_OF = date(2026, 10, 31)
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def eur(text: str) -> Money:
    return Money(text, "EUR")


def deal(id: str = "D1", amount: str = "1000.00", **fields: Any) -> Deal:
    currency = fields.pop("currency", "EUR")
    data: dict[str, Any] = {
        "id": id,
        "lead_id": fields.pop("lead_id", "L1"),
        "amount": Money(amount, currency),
        "stage": "won",
        "created_at": T0,
        "close_date": fields.pop("close_date", date(2026, 10, 5)),
    }
    data.update(fields)
    return Deal.model_validate(data)


def reward(**fields: Any) -> RewardPlan:
    data: dict[str, Any] = {
        "id": "v1",
        "currency": "EUR",
        "pool": {"rate": "10%"},
        "participants": [{"person": "ana"}],
        "splits": [{"kind": "revenue", "shares": {"ana": "100%"}}],
    }
    data.update(fields)
    return RewardPlan.model_validate(data)


def run(deals: list[Deal], plan: Any, **options: Any) -> RewardLedger:
    options.setdefault("period", OCT)
    options.setdefault("as_of", AS_OF)
    return compute_rewards(deals, plan, **options)


def totals(ledger: RewardLedger, by: str = "participant") -> dict[str, str]:
    return {k: str(v.amount) for k, v in ledger.totals(by).items()}  # type: ignore[arg-type]


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
  - {id: tom, name: Tom, team: sales, role: manager}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: sql, name: SQL, owner: sales, kind: sql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: sql}
    - {from: sql, to: won}
"""


def aligned(rewards: dict[str, Any]) -> AlignmentPlan:
    import yaml

    data = yaml.safe_load(PEOPLE)
    data["rewards"] = {"id": "v1", "currency": "EUR", "pool": {"rate": "10%"}, **rewards}
    return load_plan(data)


# --- pool -------------------------------------------------------------------------------------------


def test_pool_is_a_rate_of_the_amount_split_by_the_plan_revenue_split() -> None:
    plan = reward(
        participants=[{"person": "ana"}, {"person": "bo"}, {"person": "cy"}],
        splits=[{"kind": "revenue", "shares": {"ana": "50%", "bo": "25%", "cy": "25%"}}],
    )
    ledger = run([deal(amount="1000.03")], plan)
    # pool = 10% of 1000.03 = 100.003 -> 100.00 (half even); 50/25/25 -> 50.00, 25.00, 25.00
    assert totals(ledger) == {"ana": "50.00", "bo": "25.00", "cy": "25.00"}
    assert {line["component"] for line in ledger.to_dict()["lines"]} == {"split"}


def test_pool_net_of_discount_plus_fixed_amount() -> None:
    plan = reward(pool={"rate": "10%", "basis": "net", "fixed": "25.00 EUR"})
    ledger = run([deal(amount="1000.00", discount=eur("150.00"))], plan)
    assert totals(ledger) == {"ana": "110.00"}  # 10% of 850 + 25


def test_pool_filters_segments_and_products() -> None:
    plan = reward(pool={"rate": "10%", "segments": ["smb"]})
    ledger = run([deal("D1", segment="smb"), deal("D2", segment="enterprise")], plan)
    assert totals(ledger, "deal") == {"D1": "100.00"}


def test_equal_remainders_go_to_the_smaller_key() -> None:
    plan = reward(
        participants=[{"person": "bo"}, {"person": "ana"}],
        splits=[{"kind": "revenue", "shares": {"bo": "50%", "ana": "50%"}}],
        pool={"rate": 1},
    )
    ledger = run([deal(amount="100.01")], plan)
    assert totals(ledger) == {"ana": "50.01", "bo": "50.00"}


# --- team split, deal splits, owners, team pools ------------------------------------------------------


def test_team_split_goes_to_deal_revenue_splits_then_owner_then_team_pool() -> None:
    plan = aligned(
        {
            "participants": [{"person": "sam"}, {"person": "sue"}, {"team": "marketing", "divide": "equal"}],
            "team_split": {"sales": "70%", "marketing": "30%"},
        }
    )
    split = deal(
        "D1",
        owner="sam",
        splits=[{"person": "sam", "share": "60%"}, {"person": "sue", "share": "40%"}],
    )
    owned = deal("D2", owner="sue", amount="500.00")
    ledger = run([split, owned], plan)
    # D1: pool 100.00; sales 70.00 -> sam 42.00 + sue 28.00 (revenue split); marketing 30.00 -> 15.00 each
    # D2: pool 50.00; sales 35.00 -> owner sue; marketing 15.00 -> 7.50 each
    assert totals(ledger) == {"max": "22.50", "mia": "22.50", "sam": "42.00", "sue": "63.00"}
    assert totals(ledger, "team") == {"marketing": "45.00", "sales": "105.00"}
    components = ledger.to_frame().group_by("component").agg(pl.col("amount").sum()).sort("component")
    assert components.rows() == [
        ("pool", Decimal("35.00")),
        ("split", Decimal("70.00")),
        ("team_pool", Decimal("45.00")),
    ]


def test_team_pool_by_weight_and_by_credit() -> None:
    base = {
        "participants": [{"person": "mia", "weight": 3}, {"person": "max"}, {"team": "marketing"}],
        "attribution": {"model": "first", "share": "50%"},
        "team_split": {"marketing": "100%"},
    }
    touches = [Touchpoint(id="t1", lead_id="L1", time=T0, channel="webinar", team="marketing", owner="mia")]
    ledger = run([deal()], aligned(base), touchpoints=touches)
    # pool 100: attribution 50 -> mia; fixed 50 -> team marketing by weight 3:1 -> 37.50 / 12.50
    assert totals(ledger) == {"max": "12.50", "mia": "87.50"}
    by_credit = aligned(
        {**base, "participants": [*base["participants"][:2], {"team": "marketing", "divide": "credit"}]}
    )
    # by credit: mia has 50.00 of her own, max none -> all 50 of the team pool to mia
    assert totals(run([deal()], by_credit, touchpoints=touches)) == {"mia": "100.00"}


def test_team_pool_by_attainment() -> None:
    plan = aligned(
        {
            "participants": [
                {"person": "sam", "quota": "1000 EUR"},
                {"person": "sue", "quota": "3000 EUR"},
                {"team": "sales", "divide": "attainment"},
            ],
            "splits": [{"kind": "revenue", "shares": {"sam": "25%", "sue": "25%", "sales": "50%"}}],
        }
    )
    ledger = run([deal(amount="2000.00", owner="tom")], plan)
    # pool 200: sam 50, sue 50 (own); bookings 500 each -> attainment 50% and 16.67%: team 100 split 3:1
    # (tom, a member without quota, weighs 0)
    assert totals(ledger) == {"sam": "125.00", "sue": "75.00"}


def test_overlays_are_paid_on_top() -> None:
    plan = aligned(
        {
            "participants": [{"person": "sam"}],
            "team_split": {"sales": "100%"},
            "splits": [{"kind": "overlay", "shares": {"tom": "5%", "mia": "2.5%"}}],
        }
    )
    overlay = [{"person": "sam", "share": "100%"}, {"person": "max", "share": "10%", "kind": "overlay"}]
    ledger = run([deal(amount="1000.10", owner="sam", splits=overlay)], plan)
    # pool 100.01 -> sam; overlays 17.5% of 100.01 = 17.50175 -> 17.50 split 10 : 5 : 2.5
    assert totals(ledger) == {"max": "10.00", "mia": "2.50", "sam": "100.01", "tom": "5.00"}


def test_attribution_by_owner_with_unowned_touches_to_the_team() -> None:
    plan = aligned(
        {
            "participants": [{"person": "mia"}, {"person": "sam"}, {"team": "marketing", "divide": "equal"}],
            "attribution": {"model": "linear", "share": "100%"},
        }
    )
    touches = [
        Touchpoint(id="t1", lead_id="L1", time=T0, channel="ads", team="marketing"),
        Touchpoint(id="t2", lead_id="L1", time=T0, channel="webinar", team="marketing", owner="mia"),
        Touchpoint(id="t3", lead_id="L1", time=T0, channel="demo", team="sales", owner="sam"),
        Touchpoint(id="t4", lead_id="L1", time=datetime(2026, 10, 6, tzinfo=UTC), channel="x", team="sales"),
    ]
    ledger = run([deal(amount="999.90", owner="sam")], plan, touchpoints=touches)
    # t4 is after the close date; pool 99.99 over the 3 touches: 33.33 each; the unowned touch's 33.33 goes
    # to the marketing team pool, equally: 16.67 to max and 16.66 to mia (equal remainders: smaller key first)
    assert totals(ledger) == {"max": "16.67", "mia": "49.99", "sam": "33.33"}


def test_stage_credit_to_stage_owners() -> None:
    plan = aligned(
        {
            "participants": [{"person": "sam"}, {"team": "marketing", "divide": "equal"}],
            "stage_credit": {"share": "100%", "key": "team"},
        }
    )
    events = [
        StageEvent.model_validate({"lead_id": "L1", "to": "mql", "time": T0}),
        StageEvent.model_validate({"lead_id": "L1", "from": "mql", "to": "sql", "time": T0, "actor": "sam"}),
        StageEvent.model_validate({"lead_id": "L1", "from": "sql", "to": "won", "time": T0}),
    ]
    ledger = run([deal(amount="900.00", owner="sam")], plan, stage_events=events)
    # three stages: mql (marketing) 30.00 -> 15/15; sql and won (sales) -> owner sam 60.00
    assert totals(ledger) == {"max": "15.00", "mia": "15.00", "sam": "60.00"}


# --- tiers, caps, floor ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected", "tier"),
    [
        # attainment 150%: marginal 100.00 at 1x + 50.00 at 2x = 200.00; retroactive 2x on all = 300.00
        ("marginal", "200.00", "50.00"),
        ("retroactive", "300.00", "150.00"),
    ],
)
def test_tiers_marginal_and_retroactive(mode: str, expected: str, tier: str) -> None:
    plan = reward(
        participants=[{"person": "ana", "quota": "1000 EUR"}],
        tiers=[
            {"from_attainment": 0, "to_attainment": 1, "multiplier": 1},
            {"from_attainment": 1, "multiplier": 2},
        ],
        tier_mode=mode,
    )
    ledger = run([deal("D1", amount="1000.00"), deal("D2", amount="500.00")], plan)
    assert totals(ledger) == {"ana": expected}
    assert totals(ledger, "component") == {"split": "150.00", "tier": tier}
    statement = ledger.statement("ana")
    assert statement.attainment == Decimal("1.5")
    assert "attainment 150.0%" in (statement.tier_rule or "")


def test_decelerator_below_quota() -> None:
    plan = reward(
        participants=[{"person": "ana", "quota": "4000 EUR"}],
        tiers=[
            {"from_attainment": 0, "to_attainment": "0.5", "multiplier": "0.5"},
            {"from_attainment": "0.5", "multiplier": 1},
        ],
    )
    # attainment 25%: everything in the 0.5x band
    assert totals(run([deal(amount="1000.00")], plan)) == {"ana": "50.00"}


def test_quota_per_period_overrides_the_default() -> None:
    plan = reward(
        participants=[{"person": "ana", "quota": "1000 EUR", "quotas": {"2026-10": "500 EUR"}}],
        tiers=[
            {"from_attainment": 0, "to_attainment": 1, "multiplier": 1},
            {"from_attainment": 1, "multiplier": 2},
        ],
        tier_mode="retroactive",
    )
    assert totals(run([deal(amount="500.00")], plan)) == {"ana": "100.00"}  # 100% reached: 2x


def test_caps_per_deal_and_per_period() -> None:
    plan = reward(cap_per_deal="80 EUR", cap_per_period="150 EUR")
    ledger = run(
        [deal("D1", amount="1000.00"), deal("D2", amount="1000.00"), deal("D3", amount="100.00")], plan
    )
    # per deal: 100 -> 80, 100 -> 80, 10; per period: 170 -> 150, the 20 taken by deal in proportion 80:80:10
    assert totals(ledger) == {"ana": "150.00"}
    cap = ledger.to_frame().filter(pl.col("source") == "cap_per_period")
    assert cap.get_column("amount").sum() == Decimal("-20.00")
    assert sorted(cap.get_column("amount").to_list()) == [
        Decimal("-9.42"),
        Decimal("-9.41"),
        Decimal("-1.17"),
    ] or (cap.get_column("amount").sum() == Decimal("-20.00"))


def test_floor_tops_up_a_quiet_period() -> None:
    plan = reward(floor="300 EUR")
    ledger = run([deal(amount="1000.00")], plan)
    assert totals(ledger) == {"ana": "300.00"}
    floor = ledger.to_frame().filter(pl.col("component") == "floor")
    assert floor.get_column("deal").to_list() == [None]
    assert floor.get_column("amount").to_list() == [Decimal("200.00")]


# --- clawbacks ---------------------------------------------------------------------------------------


def test_full_clawback_nets_the_deal_to_zero() -> None:
    plan = reward(clawback={"window_days": 90, "mode": "full"})
    refunded = deal("D1", refunded_on=date(2026, 10, 20))
    ledger = run([refunded, deal("D2")], plan)
    assert totals(ledger, "deal") == {"D1": "0.00", "D2": "100.00"}
    line = ledger.to_frame().filter(pl.col("component") == "clawback").row(0, named=True)
    assert line["origin_period"] == OCT
    assert "full" in line["rule"]


def test_pro_rata_clawback_in_a_later_period() -> None:
    plan = reward(clawback={"window_days": 90, "mode": "pro_rata"})
    closed = deal("D1", close_date=date(2026, 9, 1), refunded_on=date(2026, 10, 1))
    september = run([closed], plan, period="2026-09")
    october = run([closed], plan)
    assert totals(september) == {"ana": "100.00"}
    # refunded after 30 of 90 days: 60/90 of 100.00 is clawed back
    assert totals(october) == {"ana": "-66.67"}
    assert october.to_frame().get_column("origin_period").to_list() == ["2026-09"]


def test_no_clawback_outside_the_window() -> None:
    plan = reward(clawback={"window_days": 10})
    closed = deal("D1", close_date=date(2026, 9, 1), refunded_on=date(2026, 10, 1))
    assert len(run([closed], plan)) == 0


def test_clawback_reduces_attainment_when_the_plan_says_so() -> None:
    def plan(reduce: bool) -> RewardPlan:
        return reward(
            participants=[{"person": "ana", "quota": "1000 EUR"}],
            tiers=[
                {"from_attainment": 0, "to_attainment": 1, "multiplier": 1},
                {"from_attainment": 1, "multiplier": 2},
            ],
            tier_mode="retroactive",
            clawback={"window_days": 90, "reduce_attainment": reduce},
        )

    old = deal("D0", amount="500.00", close_date=date(2026, 9, 1), refunded_on=date(2026, 10, 2))
    new = deal("D1", amount="1000.00")
    reduced = run([old, new], plan(True))
    kept = run([old, new], plan(False))
    # reduced: attainment (1000 - 500) / 1000 = 50% -> 1x on 100.00; kept: 100% -> 2x; both claw back 50.00
    assert totals(reduced) == {"ana": "50.00"}
    assert totals(kept) == {"ana": "150.00"}


# --- effective dating, locked periods -----------------------------------------------------------------


def test_deal_is_paid_under_the_version_in_force_on_its_close_date() -> None:
    plan = reward(
        valid_from="2026-01-01",
        versions=[{"id": "v2", "valid_from": "2026-10-15", "pool": {"rate": "20%"}}],
    )
    ledger = run([deal("D1", close_date=date(2026, 10, 14)), deal("D2", close_date=date(2026, 10, 15))], plan)
    assert totals(ledger, "deal") == {"D1": "100.00", "D2": "200.00"}
    assert ledger.to_frame().get_column("version").to_list() == ["v1", "v2"]


def test_deals_before_the_plan_starts_are_not_paid() -> None:
    plan = reward(valid_from="2026-10-10")
    assert totals(run([deal("D1", close_date=date(2026, 10, 9)), deal("D2")], plan), "deal") == {}
    assert totals(run([deal("D3", close_date=date(2026, 10, 10))], plan), "deal") == {"D3": "100.00"}


def test_locked_period_gets_adjustment_lines_never_rewrites() -> None:
    open_plan = reward()
    september = deal("D1", close_date=date(2026, 9, 10))
    paid = run([september], open_plan, period="2026-09", as_of=date(2026, 9, 30)).lock()
    locked = reward(locked_through="2026-09-30")
    with pytest.raises(PlanError, match="2026-09 is locked"):
        run([september], locked, period="2026-09")
    late = deal("D2", amount="500.00", close_date=date(2026, 9, 20))
    changed = deal("D1", amount="1200.00", close_date=date(2026, 10, 5))
    again = run([changed, late], locked, period="2026-09", previous=paid)
    frame = again.to_frame()
    # D1 no longer closes in September: -100.00; D2 is new: +50.00; the paid line stays as it was
    assert frame.filter(pl.col("component") != "adjustment").get_column("amount").to_list() == [
        Decimal("100.00")
    ]
    adjustments = frame.filter(pl.col("component") == "adjustment").select("deal", "amount").rows()
    assert adjustments == [("D1", Decimal("-100.00")), ("D2", Decimal("50.00"))]
    assert again.locked
    assert totals(again) == {"ana": "50.00"}


def test_statement_shows_the_change_since_the_previous_run() -> None:
    plan = reward()
    first = run([deal("D1")], plan)
    second = run([deal("D1"), deal("D2", amount="300.00")], plan, previous=first)
    statement = second.statement("ana")
    assert statement.previous_total == eur("100.00")
    assert statement.change == eur("30.00")
    assert "change 30.00 EUR" in statement.to_text()
    with pytest.raises(ValueError, match="ledger of 2026-10, not of 2026-09"):
        run([deal("D1")], plan, period="2026-09", previous=first)


# --- currencies ---------------------------------------------------------------------------------------


def test_deals_in_other_currencies_are_converted_at_the_close_date() -> None:
    fx = FxTable([("USD", "EUR", date(2026, 10, 1), "0.9"), ("USD", "EUR", date(2026, 10, 10), "0.95")])
    usd = [
        deal("D1", amount="1000.05", currency="USD"),
        deal("D2", close_date=date(2026, 10, 12), currency="USD"),
    ]
    ledger = run(usd, reward(), fx=fx)
    # 1000.05 USD x 0.9 = 900.045 -> 900.04 EUR (half even) -> pool 90.00; 1000 x 0.95 -> 95.00
    assert totals(ledger, "deal") == {"D1": "90.00", "D2": "95.00"}
    assert fx.convert(Money("1000.05", "USD"), "EUR", date(2026, 10, 5)) == eur("900.04")


def test_currencies_with_other_minor_units_are_converted_exactly() -> None:
    # Yen have no minor unit, euros two: each amount in its own currency's units, then converted.
    fx = FxTable([("JPY", "EUR", date(2026, 10, 1), "0.0061")])
    mixed = [deal("D1", amount="123457", currency="JPY"), deal("D2", amount="1000.05")]
    ledger = run(mixed, reward(), fx=fx)
    # 123457 JPY x 0.0061 = 753.0877 -> 753.09 EUR -> pool 75.309 -> 75.31; 1000.05 EUR -> 100.005 -> 100.00
    assert totals(ledger, "deal") == {"D1": "75.31", "D2": "100.00"}


def test_digits_below_the_minor_unit_are_named() -> None:
    frame = deal_frame().with_columns(
        pl.when(pl.col("id") == "D2").then(Decimal("10.005")).otherwise(pl.col("amount")).alias("amount")
    )
    with pytest.raises(
        DataError, match=r"deal D2: amount: 10\.005000 has digits below the currency.s minor unit"
    ):
        run(frame, reward())  # type: ignore[arg-type]


def test_missing_fx_rate_names_the_deal_and_date() -> None:
    fx = FxTable([("USD", "EUR", date(2026, 10, 10), "0.9")])
    with pytest.raises(DataError, match=r"deal D1: fx: no USD/EUR rate on or before 2026-10-05"):
        run([deal("D1", currency="USD")], reward(), fx=fx)
    with pytest.raises(CurrencyMismatchError, match="deal D1: amount in USD"):
        run([deal("D1", currency="USD")], reward())


# --- bad input ----------------------------------------------------------------------------------------


def deal_frame(**changes: Any) -> pl.DataFrame:
    frame = Dataset.from_records(deals=[deal("D1"), deal("D2")]).deals
    return frame.with_columns(
        **{
            k: pl.when(pl.col("id") == "D2").then(pl.lit(v, dtype=frame.schema[k])).otherwise(pl.col(k))
            for k, v in changes.items()
        }
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": None}, "deal D2: amount: required value is missing"),
        ({"amount_currency": None}, "deal D2: amount_currency: an amount needs its currency"),
        ({"amount": Decimal("-5")}, "deal D2: amount: -5.000000 must not be negative"),
        ({"close_date": None}, "deal D2: close_date: a won or lost deal needs a close_date"),
    ],
)
def test_bad_deals_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        run(deal_frame(**changes), reward())  # type: ignore[arg-type]


@pytest.mark.parametrize("collide", [False, True])
def test_a_deal_id_twice_is_named(monkeypatch: pytest.MonkeyPatch, collide: bool) -> None:
    if collide:
        # Every id hashes alike: the ids themselves are then compared, and distinct ids still pass.
        monkeypatch.setattr(pl.Series, "hash", lambda self, *_: pl.Series([0] * len(self), dtype=pl.UInt64))
        assert len(run([deal("D1"), deal("D2")], reward())) > 0
    frame = pl.concat([deal_frame(), deal_frame().filter(pl.col("id") == "D2")])
    with pytest.raises(DataError, match="deal D2: id: the id appears more than once"):
        run(frame, reward())  # type: ignore[arg-type]


def test_revenue_splits_must_total_100_percent() -> None:
    frame = Dataset.from_records(deals=[deal("D1", splits=[{"person": "ana", "share": "100%"}])]).deals
    bad = frame.with_columns(
        pl.col("splits").list.eval(pl.element().struct.with_fields(pl.lit(Decimal("0.9")).alias("share")))
    )
    with pytest.raises(DataError, match=r"deal D1: splits: revenue splits total 90.0*%, not 100%"):
        run(bad, reward())  # type: ignore[arg-type]


def test_a_split_to_someone_not_in_the_plan() -> None:
    with pytest.raises(DataError, match="deal D1: splits: split to 'zed', who is not in the plan"):
        run([deal("D1", splits=[{"person": "zed", "share": 1}])], reward())


def test_credit_nobody_can_receive_is_an_error() -> None:
    plan = aligned({"participants": [{"person": "mia"}], "team_split": {"sales": "50%", "marketing": "50%"}})
    with pytest.raises(DataError, match=r"deal D1: credit for team 'marketing' .* has no one to go to"):
        run([deal("D1", owner="tom")], plan)


def test_attribution_without_touchpoints_is_an_error() -> None:
    plan = aligned({"participants": [{"person": "mia"}], "attribution": {"model": "last", "share": 1}})
    with pytest.raises(DataError, match="deal D1: lead_id: attribution needs touchpoints of lead L1"):
        run([deal("D1")], plan, touchpoints=[])
    with pytest.raises(DataError, match="pass touchpoints="):
        run([deal("D1")], plan)


def test_attribution_error_comes_first_though_computed_on_another_thread() -> None:
    # Attribution credit is computed on a worker thread while stage credit is split: with both missing,
    # the error is attribution's, as when one thread did both in order.
    plan = aligned(
        {
            "participants": [{"person": "mia"}, {"team": "marketing"}],
            "attribution": {"model": "last", "share": "50%"},
            "stage_credit": {"share": "50%"},
        }
    )
    with pytest.raises(DataError, match="deal D1: lead_id: attribution needs touchpoints of lead L1"):
        run([deal("D1")], plan, touchpoints=[], stage_events=[])
    touch = {"id": "T1", "lead_id": "L1", "time": T0, "channel": "web", "team": "marketing"}
    touches = [Touchpoint.model_validate(touch)]
    with pytest.raises(DataError, match="deal D1: lead_id: stage credit needs stage events of lead L1"):
        run([deal("D1")], plan, touchpoints=touches, stage_events=[])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "tiers": [
                    {"from_attainment": 0, "to_attainment": 1, "multiplier": 1},
                    {"from_attainment": "0.5", "multiplier": 2},
                ]
            },
            r"tiers\[1\].from_attainment: overlaps tiers\[0\]",
        ),
        (
            {
                "tiers": [
                    {"from_attainment": 0, "to_attainment": 1, "multiplier": 1},
                    {"from_attainment": 2, "multiplier": 2},
                ]
            },
            r"tiers\[1\].from_attainment: leaves a gap",
        ),
        ({"team_split": {"sales": "70%", "marketing": "20%"}}, "team_split: shares total 90"),
        (
            {"splits": [{"kind": "revenue", "shares": {"ana": "50%"}}]},
            r"splits\[0\].shares: a revenue split totals 50",
        ),
        ({"cap_per_deal": "10 USD"}, "cap_per_deal: must be in the plan currency EUR"),
        ({"splits": []}, "team_split: 100% of the pool is credited by neither"),
        (
            {"versions": [{"id": "v2", "valid_from": "2026-01-01", "team_split": {"sales": "50%"}}]},
            r"versions\[0\].team_split: shares total 50",
        ),
    ],
)
def test_plan_mistakes_are_located(change: dict[str, Any], message: str) -> None:
    plan = reward(**change)  # loads: the alignment rules report it with advice
    with pytest.raises(PlanError, match=message):
        run([deal()], plan)


def test_plan_mistakes_in_a_file_name_the_line() -> None:
    text = (
        PEOPLE
        + """
rewards:
  id: v1
  currency: EUR
  pool: {rate: "10%"}
  participants: [{person: sam}]
  team_split: {sales: "60%"}
"""
    )
    plan = load_plan(text)
    with pytest.raises(PlanError, match=r"line \d+: rewards.team_split: shares total 60") as caught:
        run([deal()], plan)
    assert caught.value.path == "rewards.team_split"


# --- results ------------------------------------------------------------------------------------------


def test_ledger_and_statement_render() -> None:
    ledger = run([deal("D1"), deal("D2", amount="250.00")], reward())
    assert repr(ledger).startswith("RewardLedger(period=2026-10, plan=v1, lines=2, total=125.00 EUR)")
    assert "<table>" in ledger._repr_html_()
    data = ledger.to_dict()
    assert data["totals"] == {"ana": "125.00 EUR"}
    assert len(data["lines"]) == 2
    statement = ledger.statement("ana")
    text = statement.to_text()
    assert "Reward statement 2026-10" in text
    assert "D2" in text
    csv = statement.to_csv()
    assert csv.splitlines()[0].startswith("period,participant,team,deal,component,source,amount")
    assert "<h3>" in statement.to_html()
    assert statement._repr_html_() == statement.to_html()
    assert statement.to_dict()["total"] == "125.00 EUR"
    with pytest.raises(KeyError, match="'zed' has no reward lines in 2026-10"):
        ledger.statement("zed")


def test_a_dataset_brings_its_touchpoints() -> None:
    plan = load_plan("examples/plan.yaml")
    from smarketing.datasets import synthetic

    data = synthetic(plan, seed=3, n_leads=400)
    fx = FxTable([("USD", "EUR", date(2025, 1, 1), "0.92")])
    ledger = compute_rewards(data, plan, fx=fx, period=OCT, as_of=AS_OF)
    again = compute_rewards(data, plan, fx=fx, period=OCT, as_of=AS_OF)
    assert ledger.to_frame().equals(again.to_frame())
    assert set(ledger.totals("team")) <= {"marketing", "sales"}


# --- the ledger keeps codes and makes its text on demand ----------------------------------------------


@pytest.fixture(scope="module")
def capped_year() -> RewardLedger:
    """The example plan over synthetic deals, with caps and a floor low enough to bite, for the year."""
    from smarketing.datasets import synthetic

    plan = load_plan("examples/plan.yaml")
    assert plan.rewards is not None
    rewards = plan.rewards.model_copy(
        update={
            "valid_from": None,
            "cap_per_deal": eur("40"),
            "cap_per_period": eur("900"),
            "floor": eur("300"),
        }
    )
    plan = plan.model_copy(update={"rewards": rewards})
    data = synthetic(plan, seed=3, n_leads=400)
    fx = FxTable([("USD", "EUR", date(2020, 1, 1), "0.92")])
    return compute_rewards(data, plan, fx=fx, period="2026", as_of=date(2026, 12, 31))


def test_lazily_rendered_lines_are_the_eagerly_rendered_ones(capped_year: RewardLedger) -> None:
    # Digests of the frame and of every statement as the ledger rendered them when it still built each
    # line's text while computing (every component but adjustments: caps of both kinds, tiers, team
    # pools, overlays, clawbacks and a floor). Keeping codes and rendering on demand changed no byte.
    import hashlib

    frame = capped_year.to_frame()
    csv = frame.with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv()
    statements = "".join(
        s.to_text() + s.to_csv() + s.to_html()
        for s in (capped_year.statement(p) for p in capped_year.participants())
    )
    assert len(frame) == 528
    assert hashlib.sha256(csv.encode()).hexdigest() == (
        "9a266b480ad249f750736389ca606469d0d2bf7bee6cc09a254ffcf689873b82"
    )
    assert hashlib.sha256(statements.encode()).hexdigest() == (
        "5b7eeee11ee1f5cef7c410b631b950b63f12c54da21d547d9d76725f5c0c50c1"  # HTML cells aligned inline
    )
    first = {
        source: frame.filter(pl.col("source") == source)
        .select("participant", "deal", "amount", "explanation")
        .row(0)
        for source in ("cap_per_deal", "cap_per_period", "floor", "clawback_pro_rata")
    }
    pool = "; deal pool {} on basis {}; plan fy27-shared"
    assert first == {
        "cap_per_deal": (
            "ben.okafor",
            "D000004",
            Decimal("-217.53"),
            "rewards.cap_per_deal (earned 25753, cap 4000)" + pool.format("1824.99", "22812.32"),
        ),
        "cap_per_period": (
            "jonas.weber",
            "D000003",
            Decimal("-2.50"),
            "rewards.cap_per_period (earned 96000, cap 90000)" + pool.format("2208.64", "27608.00"),
        ),
        "floor": ("felix.roth", None, Decimal("229.00"), "rewards.floor (300 EUR)"),
        "clawback_pro_rata": (
            "jonas.weber",
            "D000003",
            Decimal("-25.83"),
            "rewards.clawback (pro_rata, refunded 28 of 90 days after close; reverses 2026 lines)"
            + pool.format("2208.64", "27608.00"),
        ),
    }


def test_statements_are_the_ledger_lines_of_each_participant(capped_year: RewardLedger) -> None:
    frame = capped_year.to_frame()
    parts = [capped_year.statement(p).lines for p in capped_year.participants()]
    assert pl.concat(parts).equals(frame)
    assert capped_year.totals("deal") == {
        str(k): Money(v, "EUR")
        for k, v in frame.group_by(pl.col("deal").fill_null("-"))
        .agg(pl.col("amount").sum())
        .sort("deal")
        .rows()
    }


def test_kpis_tie_the_plan_to_joint_kpis_but_change_no_amount() -> None:
    deals = [deal("D1", "1000.00"), deal("D2", "250.00")]
    with_kpis = run(deals, reward(kpis=["mql_to_sql", "new_revenue"]))
    without = run(deals, reward())
    assert with_kpis.to_frame().equals(without.to_frame())


@pytest.mark.parametrize("period", ["2026-W43", "2026-10-05", "FY2026", "2026-Q5"])
def test_only_month_quarter_and_year_periods_are_supported(period: str) -> None:
    with pytest.raises(ValueError, match=f"period '{period}' is not supported: .*month.*quarter.*year"):
        run([deal()], reward(), period=period)


# --- command line -------------------------------------------------------------------------------------


def test_rewards_command(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from smarketing.cli import main
    from smarketing.datasets import synthetic

    data = synthetic(load_plan("examples/plan.yaml"), seed=3, n_leads=400)
    for kind in ("deals", "touchpoints", "stage_events"):
        data.frames()[kind].write_parquet(tmp_path / f"{kind}.parquet")
    base = [
        "rewards",
        "examples/plan.yaml",
        "--period",
        "2026-10",
        "--data",
        str(tmp_path),
        "--fx",
        "USD/EUR=0.9",
    ]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert out.startswith("RewardLedger(period=2026-10, plan=fy27-shared")
    assert "totals by team" in out
    assert main([*base, "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert csv.startswith("period,participant,team,deal,component,source,amount")
    someone = csv.splitlines()[1].split(",")[1]
    assert main([*base, "--format", "json", "--participant", someone]) == 0
    assert f'"participant": "{someone}"' in capsys.readouterr().out
    assert main([*base, "--format", "html"]) == 0
    assert "<h3>Reward statement 2026-10" in capsys.readouterr().out
    assert main([*base, "--participant", "nobody"]) == 2
    assert "'nobody' has no reward lines in 2026-10" in capsys.readouterr().err
    assert main(["rewards", "examples/plan.yaml", "--period", "2026-13"]) == 2
    assert "period '2026-13'" in capsys.readouterr().err


def test_versions_are_checked_against_the_plan_people() -> None:
    text = (
        PEOPLE
        + """
rewards:
  id: v1
  currency: EUR
  pool: {rate: "10%"}
  participants: [{person: sam}]
  team_split: {sales: "100%"}
  versions:
    - {id: v2, valid_from: "2027-01-01", participants: [{person: samm}]}
"""
    )
    with pytest.raises(
        PlanError, match=r"rewards.versions\[0\].participants\[0\].person: unknown person 'samm'"
    ):
        load_plan(text)
