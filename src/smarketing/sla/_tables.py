"""The SLA's tables after the reduce: small frames for people (compliance, breaches, marketing, the trend).

They are computed from the kernel's per-lead frame (:mod:`smarketing.sla._kernel`) and marketing's delivered
leads; every rate is a ratio of summed counts, so tables of partitions of the data add up.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import polars as pl

from smarketing.frames._calendar import from_epoch_us

if TYPE_CHECKING:
    from smarketing.sla.model import SLA

__all__ = [
    "BREACH_ORDER",
    "BREACH_SCHEMA",
    "COMPLIANCE_COUNTS",
    "DELIVERED_COUNTS",
    "WEEKLY_DELIVERED_COUNTS",
    "WEEKLY_SALES_COUNTS",
    "breaches",
    "compliance",
    "compliance_rates",
    "compliance_sums",
    "delivered_sums",
    "marketing",
    "marketing_from",
    "ratio",
    "weekly",
    "weekly_delivered_sums",
    "weekly_from",
    "weekly_sales_sums",
]

BREACH_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.String(),
    "owner": pl.String(),
    "team": pl.String(),
    "tier": pl.String(),
    "commitment": pl.String(),
    "status": pl.String(),
    "due_at": pl.Datetime("us", "UTC"),
    "detail": pl.String(),
    "escalation_step": pl.Int64(),
    "escalation_notify": pl.String(),
}
#: The commitments of the breaches in their order in the table (each in lead order).
BREACH_ORDER = ("first_response", "attempts", "disposition", "unable_to_reach", "disposition_reason")


def ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part / whole``, or null when ``whole`` is 0 (a rate of nothing is unknown, not NaN)."""
    return pl.when(whole > 0).then(part / whole).otherwise(None)


#: Count columns of the compliance tables; every rate is computed from these sums, so partial tables of
#: partitions of the data add up (an associative reduce).
_COUNTS = (
    ("response_status", "met", "response_met"),
    ("response_status", "breached", "response_breached"),
    ("response_status", "pending", "response_pending"),
    ("attempts_status", "met", "attempts_met"),
    ("attempts_status", "breached", "attempts_breached"),
    ("attempts_status", "pending", "attempts_pending"),
    ("disposition_status", "on_time", "disposition_on_time"),
    ("disposition_status", "late", "disposition_late"),
    ("disposition_status", "missing", "disposition_missing"),
    ("disposition_status", "pending", "disposition_pending"),
)


def _status_counts(*names: str) -> list[pl.Expr]:
    """The sums of :data:`_COUNTS` called ``names`` (all of them when none is given), in that order."""
    return [
        (pl.col(col) == value).sum().cast(pl.Int64).alias(name)
        for col, value, name in _COUNTS
        if not names or name in names
    ]


def _response_compliance() -> pl.Expr:
    return ratio(pl.col("response_met"), pl.col("response_met") + pl.col("response_breached")).alias(
        "response_compliance"
    )


def _disposition_coverage() -> pl.Expr:
    return ratio(
        pl.col("disposition_on_time"),
        pl.col("disposition_on_time") + pl.col("disposition_late") + pl.col("disposition_missing"),
    ).alias("disposition_coverage")


#: The counts of a compliance table, in order (what :func:`compliance_sums` adds up per value).
COMPLIANCE_COUNTS = ("handed_off", *(name for _, _, name in _COUNTS), "unable_to_reach_early")


def compliance(leads: pl.DataFrame, by: str) -> pl.DataFrame:
    """Sales compliance per value of ``by`` (owner, team, period): the status counts and their rates."""
    return compliance_rates(compliance_sums(leads, by), by)


def compliance_sums(leads: pl.DataFrame, by: str) -> pl.DataFrame:
    """The counts :data:`COMPLIANCE_COUNTS` per value of ``by`` (they add up over partitions by lead)."""
    return leads.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("handed_off"),
        *_status_counts(),
        pl.col("unable_to_reach_early").sum().cast(pl.Int64).alias("unable_to_reach_early"),
    )


def compliance_rates(sums: pl.DataFrame, by: str) -> pl.DataFrame:
    """The compliance table from the summed counts of :func:`compliance_sums`: rates added, sorted."""
    return sums.with_columns(
        _response_compliance(),
        ratio(pl.col("attempts_met"), pl.col("attempts_met") + pl.col("attempts_breached")).alias(
            "attempts_compliance"
        ),
        _disposition_coverage(),
    ).sort(by, nulls_last=True)


def _hours_text(column: str) -> pl.Expr:
    return pl.col(column).round(2).cast(pl.String)


def breaches(leads: pl.DataFrame) -> pl.DataFrame:
    """One row per broken commitment with the reason in words: by commitment, each in lead order."""
    who = ["lead_id", "owner", "team", "tier"]
    lf = leads.lazy()
    none_step = pl.lit(None, pl.Int64).alias("escalation_step")
    none_notify = pl.lit(None, pl.String).alias("escalation_notify")
    parts = [
        lf.filter(pl.col("response_status") == "breached").select(
            *who,
            pl.lit("first_response").alias("commitment"),
            pl.col("response_status").alias("status"),
            pl.col("response_due_at").alias("due_at"),
            pl.when(pl.col("first_response_at").is_null())
            .then(
                pl.lit("no response yet; target ")
                + _hours_text("response_target_hours")
                + pl.lit(" business hours")
            )
            .otherwise(
                pl.lit("first response after ")
                + _hours_text("first_response_hours")
                + pl.lit(" business hours; target ")
                + _hours_text("response_target_hours")
            )
            .alias("detail"),
            "escalation_step",
            "escalation_notify",
        ),
        lf.filter(pl.col("attempts_status") == "breached").select(
            *who,
            pl.lit("attempts").alias("commitment"),
            pl.col("attempts_status").alias("status"),
            pl.col("attempts_window_end").alias("due_at"),
            (
                pl.col("attempts").cast(pl.String)
                + pl.lit(" of ")
                + pl.col("attempts_required").cast(pl.String)
                + pl.lit(" attempts within the window")
            ).alias("detail"),
            none_step,
            none_notify,
        ),
        lf.filter(pl.col("disposition_status").is_in(["late", "missing"])).select(
            *who,
            pl.lit("disposition").alias("commitment"),
            pl.col("disposition_status").alias("status"),
            pl.col("disposition_due_at").alias("due_at"),
            pl.when(pl.col("disposition_status") == "missing")
            .then(pl.lit("no disposition by the deadline"))
            .otherwise(
                pl.lit("disposition '") + pl.col("disposition_reason") + pl.lit("' after the deadline")
            )
            .alias("detail"),
            none_step,
            none_notify,
        ),
        lf.filter(pl.col("unable_to_reach_early")).select(
            *who,
            pl.lit("unable_to_reach").alias("commitment"),
            pl.lit("flagged").alias("status"),
            pl.col("disposition_at").alias("due_at"),
            (
                pl.lit("'")
                + pl.col("disposition_reason")
                + pl.lit("' before the required attempts (")
                + pl.col("attempts_required").cast(pl.String)
                + pl.lit(")")
            ).alias("detail"),
            none_step,
            none_notify,
        ),
        lf.filter(~pl.col("disposition_reason_agreed")).select(
            *who,
            pl.lit("disposition_reason").alias("commitment"),
            pl.lit("flagged").alias("status"),
            pl.col("disposition_at").alias("due_at"),
            (pl.lit("reason '") + pl.col("disposition_reason") + pl.lit("' is not an agreed reason")).alias(
                "detail"
            ),
            none_step,
            none_notify,
        ),
    ]
    # The leads are sorted by id and each part keeps their order, so the result needs no sort of its own.
    frames = [p.cast(BREACH_SCHEMA) for p in parts]  # type: ignore[arg-type]
    return pl.concat(frames).collect()


def _next_period(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


#: The counts of marketing's delivered leads per period (:func:`delivered_sums`).
DELIVERED_COUNTS = ("delivered", "accepted", "sqls")


def marketing(delivered: pl.DataFrame, sla: SLA, period: str, now: int, zone: str) -> pl.DataFrame:
    """Marketing's side per period: volume against the commitment, acceptance and SQL rates."""
    return marketing_from(delivered_sums(delivered), sla, period, now, zone)


def delivered_sums(delivered: pl.DataFrame) -> pl.DataFrame:
    """The counts :data:`DELIVERED_COUNTS` of the delivered leads per period (they add up)."""
    return delivered.group_by("period").agg(
        pl.len().cast(pl.Int64).alias("delivered"),
        pl.col("accepted").sum().cast(pl.Int64).alias("accepted"),
        pl.col("sql").sum().cast(pl.Int64).alias("sqls"),
    )


def marketing_from(per: pl.DataFrame, sla: SLA, period: str, now: int, zone: str) -> pl.DataFrame:
    """Marketing's side per period from the summed counts of :func:`delivered_sums`."""
    volume, quality = sla.marketing.volume, sla.marketing.quality
    as_of_local = from_epoch_us(now).astimezone(ZoneInfo(zone))
    last = _period_start(as_of_local.date(), period)
    first = per["period"].min() if per.height else last
    assert isinstance(first, date)
    starts: list[date] = []
    current = min(first, last)
    while current <= last:
        starts.append(current)
        current = _next_period(current, period)
    ends = [_next_period(s, period) for s in starts]
    frame = (
        pl.DataFrame({"period": starts, "complete": [e <= as_of_local.date() for e in ends]})
        .join(per, on="period", how="left")
        .with_columns(pl.col("delivered", "accepted", "sqls").fill_null(0))
    )
    committed = volume.count if volume is not None else None
    frame = frame.with_columns(
        pl.lit(committed, pl.Int64).alias("committed"),
        (pl.lit(committed, pl.Int64) - pl.col("delivered")).clip(lower_bound=0).alias("shortfall"),
        ratio(pl.col("delivered"), pl.lit(committed, pl.Int64)).alias("delivered_share"),
        ratio(pl.col("accepted"), pl.col("delivered")).alias("acceptance_rate"),
        ratio(pl.col("sqls"), pl.col("delivered")).alias("sql_rate"),
    )
    min_acc = quality.min_acceptance_rate if quality is not None else None
    min_sql = quality.min_sql_rate if quality is not None else None
    return frame.with_columns(
        pl.lit(None if min_acc is None else float(min_acc), pl.Float64).alias("min_acceptance_rate"),
        _rate_met("accepted", min_acc).alias("acceptance_met"),
        pl.lit(None if min_sql is None else float(min_sql), pl.Float64).alias("min_sql_rate"),
        _rate_met("sqls", min_sql).alias("sql_rate_met"),
        (pl.col("delivered") >= pl.lit(committed, pl.Int64)).alias("volume_met"),
    ).select(
        "period",
        "complete",
        "delivered",
        "committed",
        "shortfall",
        "delivered_share",
        "volume_met",
        "accepted",
        "acceptance_rate",
        "min_acceptance_rate",
        "acceptance_met",
        "sqls",
        "sql_rate",
        "min_sql_rate",
        "sql_rate_met",
    )


def _rate_met(column: str, minimum: Decimal | None) -> pl.Expr:
    """``column / delivered >= minimum`` in exact integer arithmetic (no float comparison)."""
    if minimum is None:
        return pl.lit(None, pl.Boolean)
    num, den = minimum.as_integer_ratio()
    return (
        pl.when(pl.col("delivered") == 0)
        .then(None)
        .otherwise(pl.col(column) * den >= pl.col("delivered") * num)
    )


def _period_start(day: date, period: str) -> date:
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


_WEEKLY_STATUSES = (
    "response_met",
    "response_breached",
    "disposition_on_time",
    "disposition_late",
    "disposition_missing",
)
#: The counts of sales' side per week (:func:`weekly_sales_sums`) and of marketing's
#: (:func:`weekly_delivered_sums`).
WEEKLY_SALES_COUNTS = ("handed_off", *_WEEKLY_STATUSES)
WEEKLY_DELIVERED_COUNTS = ("delivered", "accepted")


def weekly(leads: pl.DataFrame, delivered: pl.DataFrame) -> pl.DataFrame:
    """Both sides per week (Monday, local): the trend."""
    return weekly_from(weekly_sales_sums(leads), weekly_delivered_sums(delivered))


def weekly_sales_sums(leads: pl.DataFrame) -> pl.DataFrame:
    """The counts :data:`WEEKLY_SALES_COUNTS` of the handed-off leads per week."""
    return leads.group_by("week").agg(
        pl.len().cast(pl.Int64).alias("handed_off"), *_status_counts(*_WEEKLY_STATUSES)
    )


def weekly_delivered_sums(delivered: pl.DataFrame) -> pl.DataFrame:
    """The counts :data:`WEEKLY_DELIVERED_COUNTS` of the delivered leads per week."""
    return delivered.group_by("week").agg(
        pl.len().cast(pl.Int64).alias("delivered"), pl.col("accepted").sum().cast(pl.Int64).alias("accepted")
    )


def weekly_from(sales: pl.DataFrame, delivered_per_week: pl.DataFrame) -> pl.DataFrame:
    """The trend from the summed counts of :func:`weekly_sales_sums` and :func:`weekly_delivered_sums`."""
    counts = [*WEEKLY_SALES_COUNTS, *WEEKLY_DELIVERED_COUNTS]
    return (
        sales.join(delivered_per_week, on="week", how="full", coalesce=True)
        .with_columns(pl.col(counts).fill_null(0))
        .with_columns(
            _response_compliance(),
            _disposition_coverage(),
            ratio(pl.col("accepted"), pl.col("delivered")).alias("acceptance_rate"),
        )
        .sort("week")
    )
