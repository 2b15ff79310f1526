"""Attainment per participant and period: credited reward, bookings, clawed bookings, quota, tiers (private).

Also the refunds a run knows of (which deals are clawed back, and by what fraction), since they take
bookings out of the attainment as well as reverse what was paid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import polars as pl

from smarketing._periods import period_bounds
from smarketing.errors import DataError
from smarketing.money import Money, allocate
from smarketing.rewards._allocate import _half_even_np
from smarketing.rewards._columns import _I64, _period_of
from smarketing.rewards.model import RewardPlan


def _tier_payout(plan: RewardPlan, credited: int, attainment: Fraction) -> tuple[int, str]:
    """What ``credited`` minor units pay at ``attainment`` under the plan's tiers, and how."""
    tiers = plan.tiers
    a = max(attainment, Fraction(0))
    if plan.tier_mode == "retroactive" or a == 0:
        band = max(i for i, t in enumerate(tiers) if t.from_attainment <= a)
        multiplier = tiers[band].multiplier
        exact = credited * multiplier
        how = f"{plan.tier_mode}: {multiplier}x on all {Money.from_minor(credited, plan.currency)}"
    else:
        widths = {
            i: min(a, Fraction(t.to_attainment) if t.to_attainment is not None else a)
            - Fraction(t.from_attainment)
            for i, t in enumerate(tiers)
            if t.from_attainment < a
        }
        parts = allocate(Money.from_minor(credited, plan.currency), widths)
        exact = sum((Decimal(parts[i].to_minor()) * tiers[i].multiplier for i in parts), Decimal(0))
        how = "marginal: " + ", ".join(f"{parts[i].amount} at {tiers[i].multiplier}x" for i in parts)
    paid = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    percent = (Decimal(a.numerator) / Decimal(a.denominator) * 100).quantize(Decimal("0.1"))
    return paid, f"attainment {percent}%, {how} = {Money.from_minor(paid, plan.currency)}"


def _clawed_bookings(
    refunds: pl.DataFrame,
    att_basis: np.ndarray,
    att_seen: np.ndarray,
    names: list[str],
    code: dict[str, int],
) -> pl.DataFrame:
    """Bookings taken out of the attainment by clawbacks, per participant and refund period."""
    reducing = refunds.filter(pl.col("_reduce"))
    sums: dict[tuple[int, str], int] = {}
    if not reducing.is_empty():
        r = reducing.get_column("id").to_numpy()
        num = reducing.get_column("_num").to_numpy()
        den = reducing.get_column("_den").to_numpy()
        per = reducing.get_column("_period").to_list()
        labels = sorted(set(per))
        label_of = {label: i for i, label in enumerate(labels)}
        refund_period = np.asarray([label_of[x] for x in per], dtype=np.int64)
        # Every (participant, refunded deal) with attaining credit, summed per (participant, refund period).
        pp, jj = np.nonzero(att_seen[:, r] > 0)
        taken = _half_even_np(att_basis[pp, r[jj]] * num[jj], den[jj])
        keys, which = np.unique(pp * len(labels) + refund_period[jj], return_inverse=True)
        totals = np.zeros(keys.size, dtype=np.int64)
        np.add.at(totals, which, taken)
        for key, value in zip(keys.tolist(), totals.tolist(), strict=True):
            sums[(key // len(labels), labels[key % len(labels)])] = value
    return pl.DataFrame(
        [(names[p], q, v) for (p, q), v in sums.items()],
        schema={"participant": pl.String, "_period": pl.String, "clawed": _I64},
        orient="row",
    )


def _empty_summary() -> pl.DataFrame:
    return _summary(
        pl.DataFrame(
            schema={"participant": pl.String, "_period": pl.String, "credited": _I64, "booked": _I64}
        ),
        pl.DataFrame(schema={"participant": pl.String, "_period": pl.String, "clawed": _I64}),
        {},
    )


def _plan_for_period(plan: RewardPlan, period: str, cutoff: date) -> RewardPlan:
    """The version that rules a period's tiers, quotas, period cap and floor: the one in force at its end."""
    last = min(period_bounds(period)[1], cutoff)
    if plan.valid_from is not None and last < plan.valid_from:
        last = plan.valid_from
    return plan.version_on(last)


def _refunds(
    funded: pl.DataFrame, versions: list[tuple[date | None, RewardPlan]], kind: str, cutoff: date
) -> pl.DataFrame:
    """Deals refunded on or before ``cutoff`` within their version's clawback window, with the fraction."""
    windows = [
        (vp.clawback.window_days, vp.clawback.mode, vp.clawback.reduce_attainment)
        if vp.clawback
        else (-1, "full", False)
        for _, vp in versions
    ]
    table = pl.DataFrame(
        {
            "_version": list(range(len(windows))),
            "_window": [w for w, _, _ in windows],
            "_mode": [m for _, m, _ in windows],
            "_reduce": [r for _, _, r in windows],
        },
        schema={"_version": _I64, "_window": _I64, "_mode": pl.String, "_reduce": pl.Boolean},
    )
    refunded = funded.filter(pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff)).join(
        table, on="_version"
    )
    elapsed = (pl.col("refunded_on") - pl.col("close_date")).dt.total_days().cast(_I64)
    refunded = refunded.with_columns(elapsed.alias("_elapsed")).filter(
        (pl.col("_window") >= 0) & (pl.col("_elapsed") <= pl.col("_window"))
    )
    early = refunded.filter(pl.col("_elapsed") < 0)
    if len(early):
        raise DataError(
            "refunded before it closed",
            kind="deal",
            record=str(early.get_column("id")[0]),
            field="refunded_on",
        )
    full = (pl.col("_mode") == "full") | (pl.col("_window") == 0)
    return refunded.select(
        "id",
        pl.col("_period").alias("origin_period"),
        _period_of(pl.col("refunded_on"), kind).alias("_period"),
        pl.when(full).then(1).otherwise(pl.col("_window") - pl.col("_elapsed")).cast(_I64).alias("_num"),
        pl.when(full).then(1).otherwise(pl.col("_window")).cast(_I64).alias("_den"),
        "_mode",
        "_reduce",
        "_elapsed",
        "_window",
    )


def _summary(
    booked: pl.DataFrame, clawed: pl.DataFrame, period_plans: Mapping[str, RewardPlan]
) -> pl.DataFrame:
    """Attainment per (participant, period): credited reward, bookings, clawed bookings, quota."""
    frame = booked.join(clawed, on=["participant", "_period"], how="full", coalesce=True).with_columns(
        pl.col("credited").fill_null(0), pl.col("booked").fill_null(0), pl.col("clawed").fill_null(0)
    )
    rows = []
    for row in frame.sort("_period", "participant").iter_rows(named=True):
        vp = period_plans.get(row["_period"])
        quota = None
        if vp is not None:
            part = next((p for p in vp.participants if p.person == row["participant"]), None)
            quota = part.quota_for(row["_period"]) if part else None
        quota_units = quota.to_minor() if quota is not None else None
        net = row["booked"] - row["clawed"]
        attainment = Fraction(net, quota_units) if quota_units else None
        paid, how = row["credited"], ""
        if attainment is not None and vp is not None and vp.tiers:
            paid, how = _tier_payout(vp, row["credited"], attainment)
        rows.append(
            {
                **row,
                "quota": quota_units,
                "attainment": None
                if attainment is None
                else Decimal(attainment.numerator) / Decimal(attainment.denominator),
                "tier_units": paid - row["credited"],
                "tier_rule": how,
            }
        )
    schema: dict[str, pl.DataType] = {
        "participant": pl.String(),
        "_period": pl.String(),
        "credited": _I64(),
        "booked": _I64(),
        "clawed": _I64(),
        "quota": _I64(),
        "attainment": pl.Decimal(38, 6),
        "tier_units": _I64(),
        "tier_rule": pl.String(),
    }
    if not rows:
        return pl.DataFrame(schema=schema)
    for row in rows:
        if row["attainment"] is not None:
            row["attainment"] = row["attainment"].quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return pl.DataFrame(rows, schema=schema)
