"""Deals: created on entering the deal stage, in two currencies, with discounts, refunds and splits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from smarketing.datasets._columns import NEVER, firsts, ids, take, times
from smarketing.datasets._events import Events
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import Accounts, People, lead_ids
from smarketing.datasets._shape import (
    AMERICAS,
    DEAL_SIGMA,
    DISCOUNT_SHARE,
    REFUND_SHARE,
    SEGMENT_SIZES,
    SPLIT_SHARE,
)


def draw_deals(
    rng: np.random.Generator,
    facts: Facts,
    *,
    people: People,
    accounts: Accounts,
    events: Events,
    end: date,
) -> pl.DataFrame:
    """One deal per lead that entered a deal stage; won, lost or open by the first terminal stage after."""
    terminal = np.array(
        [{"won": 1, "lost": 2, "disqualified": 2}.get(t or "", 0) for t in facts.stage_terminal]
    )
    n = people.created.size
    at = np.flatnonzero(facts.stage_deal[events.to] == 1)
    at = at[firsts(events.lead[at])]
    lead = events.lead[at]
    m = lead.size
    opened = np.full(n, NEVER, dtype=np.int64)
    opened[lead] = events.time[at]
    ends = np.flatnonzero((terminal[events.to] > 0) & (events.time >= opened[events.lead]))
    ends = ends[firsts(events.lead[ends])]
    outcome_of = np.zeros(n, dtype=np.int64)
    outcome_of[events.lead[ends]] = terminal[events.to[ends]]
    closed_at = np.zeros(n, dtype=np.int64)
    closed_at[events.lead[ends]] = events.time[ends]
    account = people.account[lead]
    region = accounts.region[account]
    americas = np.array([r in AMERICAS for r in accounts.regions], dtype=np.int64)[region]
    # Mean of the lognormal equals the plan's average deal size; whole currency units.
    amount = np.maximum(
        np.round(facts.deal_size * rng.lognormal(-(DEAL_SIGMA**2) / 2, DEAL_SIGMA, m)),
        max(1, facts.deal_size // 20),
    ).astype(np.int64)
    discount = np.where(
        rng.random(m) < DISCOUNT_SHARE, np.maximum(1, np.round(amount * rng.uniform(0.05, 0.2, m))), 0
    ).astype(np.int64)
    outcome = outcome_of[lead]
    close_us = closed_at[lead]
    refund_days = rng.integers(1, 91, m)
    refunded = (outcome == 1) & (rng.random(m) < REFUND_SHARE)
    owner = people.closer[lead]
    sales = list(dict.fromkeys([*facts.closers, *facts.sdrs]))
    owner_id = np.array([sales.index(c) for c in facts.closers], dtype=np.int64)[owner]
    sdr_id = np.array([sales.index(s) for s in facts.sdrs], dtype=np.int64)[people.sdr[lead]]
    partner = np.where(sdr_id != owner_id, sdr_id, (owner_id + 1) % len(sales))
    split = (rng.random(m) < SPLIT_SHARE) & (len(sales) > 1)
    size = accounts.size[account]
    segment = np.searchsorted(np.array(SEGMENT_SIZES), size, side="right")

    share = pl.Decimal(38, 6)
    split_type = pl.List(pl.Struct({"person": pl.String(), "share": share, "kind": pl.String()}))
    # Revenue splits, 60% to the owner and 40% to the partner: a flat column of pairs cut into lists.
    rows = np.flatnonzero(split)
    pairs = pl.DataFrame(
        {
            "person": take(sales, np.stack([owner_id[rows], partner[rows]], axis=1).ravel()),
            "share": pl.Series([Decimal("0.6"), Decimal("0.4")], dtype=share).gather(
                np.tile([0, 1], rows.size)
            ),
            "kind": pl.Series(["revenue"], dtype=pl.String).gather(np.zeros(2 * rows.size, dtype=np.int64)),
        }
    ).to_struct("splits")
    splits = pl.DataFrame({"row": rows, "splits": pairs.reshape((rows.size, 2)).cast(split_type)})
    out = pl.DataFrame(
        {
            "id": ids("D", m, 6),
            "account_id": accounts.frame["id"].gather(account),
            "lead_id": lead_ids(people, lead),
            "amount": amount,
            "amount_currency": take(facts.currencies, americas),
            "discount": discount,
            "stage": take(["open", "won", "lost"], outcome),
            "created_at": times(events.time[at]),
            "close_date": times(close_us).dt.date(),
            "owner": take(sales, owner_id),
            "segment": take(["smb", "mid_market", "enterprise"], segment),
            "refund_days": refund_days,
            "refunded": refunded,
            "row": np.arange(m, dtype=np.int64),
        }
    ).join(splits, on="row", how="left", maintain_order="left")
    refund = pl.col("close_date") + pl.duration(days=pl.col("refund_days"))
    return out.with_columns(
        pl.col("amount").cast(share),
        pl.when(pl.col("discount") > 0)
        .then(pl.col("discount").cast(share))
        .otherwise(None)
        .alias("discount"),
        pl.when(pl.col("discount") > 0)
        .then(pl.col("amount_currency"))
        .otherwise(None)
        .alias("discount_currency"),
        pl.when(pl.col("stage") != "open").then(pl.col("close_date")).otherwise(None).alias("close_date"),
        pl.lit(None, dtype=pl.String).alias("product"),
        pl.when(pl.col("refunded") & (refund <= end)).then(refund).otherwise(None).alias("refunded_on"),
        pl.col("splits").fill_null(pl.lit([], dtype=split_type)),
    )
