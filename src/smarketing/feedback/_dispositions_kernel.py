"""The columnar kernel of :func:`smarketing.feedback.dispositions` (private).

:func:`handed_off_rows` builds one row per handed-off lead from the one set of definitions in
:mod:`smarketing.persona._outcomes` (handed off, accepted, rejected) and the journey's recycle transitions,
and :func:`with_clock` adds the business hours to the first disposition; the map of
:mod:`smarketing.feedback._dispositions_scale` counts them per partition of leads. Everything is a polars
lazy query collected once, plus the business clock of :mod:`smarketing.frames._calendar` run over the
collected columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from smarketing.errors import DataError, PlanError
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._calendar import BusinessClock, from_epoch_us
from smarketing.persona._outcomes import (
    JourneyStages,
    _pairs,
    first_dispositions,
    lead_groups,
    lead_outcomes,
    won_deals,
)

if TYPE_CHECKING:
    from smarketing.calendar import BusinessCalendar

__all__ = [
    "COLUMNS",
    "HOURS_PER_US",
    "US_PER_HOUR",
    "WEEK",
    "Span",
    "clock_over",
    "handed_off_rows",
    "span_of",
    "unknown_dispositions",
    "with_clock",
]

US_PER_HOUR = 3_600_000_000
#: Hours are microseconds times this reciprocal (as the SLA's, :data:`smarketing.sla._kernel.HOURS_PER_US`):
#: polars divides a column of one value exactly but longer ones by multiplying with the reciprocal, so
#: a multiplication gives the same bits for a partition of one lead as for many.
HOURS_PER_US = 1 / US_PER_HOUR
#: The ``by`` name that groups by the week of the handoff rather than by a lead column.
WEEK = "week"
#: Example lead ids kept per unknown reason.
EXAMPLES = 3


def _until(frame: pl.LazyFrame, as_of: datetime | None) -> pl.LazyFrame:
    return frame if as_of is None else frame.filter(pl.col("time") <= pl.lit(as_of.astimezone(UTC)))


def _dispositions(data: Any, as_of: datetime | None) -> pl.LazyFrame:
    found = as_lazy(data, "dispositions", required=["lead_id", "reason", "time"], reads=(), once=True)
    check_aware(found, ["time"], kind="dispositions")
    return _until(found.to_native(), as_of)


def handed_off_rows(
    stages: JourneyStages,
    recycles: Sequence[tuple[str, str]],
    data: Any,
    *,
    by: Sequence[str],
    groups: pl.LazyFrame | None = None,
    as_of: datetime | None,
) -> pl.DataFrame:
    """One row per handed-off lead, before the business clock (:func:`with_clock`), in no order.

    Columns ``lead_id``, ``handoff_at``, ``accepted``, ``rejected``, ``recycled``, ``reason``,
    ``disposition_at``, ``recycled_won`` and the ``by`` columns but the ``week``. ``groups`` are the
    leads' ``by`` columns (:func:`~smarketing.persona._outcomes.lead_groups` of ``data`` when not given).
    """
    outcomes = lead_outcomes(stages, data, as_of=as_of).filter(pl.col("mql"))
    handed = outcomes.select("lead_id", handoff_at=pl.col("mql_at"), accepted="accepted", rejected="rejected")
    events = as_lazy(data, "stage_events", required=["lead_id", "from", "to", "time"], reads=(), once=True)
    check_aware(events, ["time"], kind="stage_events")
    moves = _until(events.to_native(), as_of).filter(_pairs(recycles)).select("lead_id", "time")
    after = pl.col("time") >= pl.col("handoff_at")
    first_recycle = (
        moves.join(handed.select("lead_id", "handoff_at"), on="lead_id")
        .filter(after)
        .group_by("lead_id")
        .agg(recycled_at=pl.col("time").min())
    )
    # The first disposition at or after the handoff (persona/_outcomes.py says how ties are broken).
    first_disposition = first_dispositions(outcomes, data, as_of=as_of)
    won = won_deals(data, as_of=as_of).filter(pl.col("lead_id").is_not_null())
    last_won = won.lazy().group_by("lead_id").agg(won_on=pl.col("close_date").max())
    own = [c for c in by if c != WEEK]
    frame = (
        handed.join(first_recycle, on="lead_id", how="left")
        .join(first_disposition, on="lead_id", how="left")
        .join(last_won, on="lead_id", how="left")
    )
    if own:
        found = lead_groups(data, own) if groups is None else groups
        frame = frame.join(found, on="lead_id", how="left")
    return frame.with_columns(
        recycled=pl.col("recycled_at").is_not_null(),
        recycled_won=(pl.col("won_on") >= pl.col("recycled_at").dt.date()).fill_null(value=False),
    ).collect()


#: The first and last instant (epoch microseconds) a business clock covers.
Span = tuple[int, int]


def with_clock(
    rows: pl.DataFrame,
    calendar: BusinessCalendar | None,
    by: Sequence[str],
    span: Span | None = None,
    *,
    keep_us: bool = False,
) -> pl.DataFrame:
    """``rows`` (of :func:`handed_off_rows`) with ``hours`` and the ``week``, in lead id order.

    The per-lead rows of the report: ``lead_id``, the ``by`` columns, ``handoff_at``, ``accepted``,
    ``rejected``, ``recycled``, ``reason``, ``disposition_at``, ``hours``, ``recycled_won``.

    ``hours``: business hours to the first disposition on the calendar's clock (microseconds times
    :data:`HOURS_PER_US`); the ``week`` of the handoff if asked for. Without a calendar the hours are null
    and the week is that of the handoff's UTC date. The clock covers ``span``, or without it
    :func:`span_of` the rows: hours are differences of business positions, the same on any clock that
    covers both instants. ``keep_us``: also the business microseconds the hours come from, in ``us``.

    Raises:
        PlanError: The calendar has no open time over the clock's range.
    """
    us = {c: pl.col(c).dt.timestamp("us") for c in ("handoff_at", "disposition_at")}
    if calendar is None or rows.is_empty():
        elapsed = pl.lit(None, pl.Int64)
        local = pl.col("handoff_at").dt.date()
    else:
        lo, hi = span_of(rows) if span is None else span
        clock = clock_over(calendar, lo, hi)
        elapsed = clock.position(us["disposition_at"]) - clock.position(us["handoff_at"])
        local = clock.local_date(us["handoff_at"])
    extra = {WEEK: local.dt.truncate("1w")} if WEEK in by else {}
    timed = rows.with_columns(elapsed.alias("us"), **extra).with_columns(
        hours=pl.col("us").cast(pl.Float64) * HOURS_PER_US
    )
    kept = ("us",) if keep_us else ()
    return timed.select(*COLUMNS[:1], *by, *COLUMNS[1:], *kept).sort("lead_id")


#: The columns of the per-lead rows around the ``by`` ones: ``lead_id`` first, then these.
COLUMNS = (
    "lead_id",
    "handoff_at",
    "accepted",
    "rejected",
    "recycled",
    "reason",
    "disposition_at",
    "hours",
    "recycled_won",
)


def span_of(rows: pl.DataFrame) -> Span:
    """The first handoff and the last handoff or disposition of ``rows`` (not empty), in microseconds."""
    span = rows.select(
        lo=pl.col("handoff_at").dt.timestamp("us").min(),
        hi=pl.max_horizontal(
            pl.col("handoff_at").dt.timestamp("us").max(), pl.col("disposition_at").dt.timestamp("us").max()
        ),
    )
    return span.item(0, "lo"), span.item(0, "hi")


def clock_over(calendar: BusinessCalendar, lo: int, hi: int) -> BusinessClock:
    """The business clock from ``lo`` to ``hi`` (microseconds).

    Raises:
        PlanError: The calendar has no open time over that range.
    """
    try:
        return BusinessClock.covering(calendar, from_epoch_us(lo), from_epoch_us(hi))
    except DataError:
        raise
    except ValueError as error:  # a calendar with no open time over the data's range
        raise PlanError(
            f"{error}; the SLA's clock cannot measure disposition times", path="sla.calendar"
        ) from None


def unknown_dispositions(data: Any, agreed: Sequence[str], *, as_of: datetime | None) -> pl.LazyFrame:
    """The dispositions up to ``as_of`` whose reason is not in ``agreed``: ``lead_id``, ``reason``."""
    return (
        _dispositions(data, as_of).filter(~pl.col("reason").is_in(list(agreed))).select("lead_id", "reason")
    )
