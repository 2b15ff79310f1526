"""The columnar kernel of :func:`smarketing.feedback.dispositions` (private).

:func:`lead_rows` builds one row per handed-off lead from the one set of definitions in
:mod:`smarketing.persona._outcomes` (handed off, accepted, rejected) and the journey's recycle transitions;
the public function only groups and counts them. Everything is a polars lazy query collected once, plus the
business clock of :mod:`smarketing.frames._calendar` run over the collected columns.
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

__all__ = ["US_PER_HOUR", "WEEK", "lead_rows", "unknown_reasons"]

US_PER_HOUR = 3_600_000_000
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


def lead_rows(
    stages: JourneyStages,
    recycles: Sequence[tuple[str, str]],
    data: Any,
    *,
    by: Sequence[str],
    calendar: BusinessCalendar | None,
    as_of: datetime | None,
) -> pl.DataFrame:
    """One row per handed-off lead, in lead id order.

    Columns ``lead_id``, the ``by`` columns, ``handoff_at``, ``accepted``, ``rejected``, ``recycled``,
    ``reason``, ``disposition_at``, ``hours`` (business hours from the handoff to the first disposition),
    ``recycled_won``.
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
        frame = frame.join(lead_groups(data, own), on="lead_id", how="left")
    rows = frame.with_columns(
        recycled=pl.col("recycled_at").is_not_null(),
        recycled_won=(pl.col("won_on") >= pl.col("recycled_at").dt.date()).fill_null(value=False),
    ).collect()
    rows = _with_clock(rows, calendar, by)
    return rows.select(
        "lead_id",
        *by,
        "handoff_at",
        "accepted",
        "rejected",
        "recycled",
        "reason",
        "disposition_at",
        "hours",
        "recycled_won",
    ).sort("lead_id")


def _with_clock(rows: pl.DataFrame, calendar: BusinessCalendar | None, by: Sequence[str]) -> pl.DataFrame:
    """``hours`` to the first disposition on the calendar's clock, and the handoff ``week`` if asked for.

    Without a calendar the hours are null and the week is that of the handoff's UTC date.
    """
    us = {c: pl.col(c).dt.timestamp("us") for c in ("handoff_at", "disposition_at")}
    if calendar is None or rows.is_empty():
        hours = pl.lit(None, pl.Float64)
        local = pl.col("handoff_at").dt.date()
    else:
        clock = _clock(calendar, rows)
        elapsed = clock.position(us["disposition_at"]) - clock.position(us["handoff_at"])
        hours = elapsed.cast(pl.Float64) / US_PER_HOUR
        local = clock.local_date(us["handoff_at"])
    extra = {WEEK: local.dt.truncate("1w")} if WEEK in by else {}
    return rows.with_columns(hours=hours, **extra)


def _clock(calendar: BusinessCalendar, rows: pl.DataFrame) -> BusinessClock:
    span = rows.select(
        lo=pl.col("handoff_at").dt.timestamp("us").min(),
        hi=pl.max_horizontal(
            pl.col("handoff_at").dt.timestamp("us").max(), pl.col("disposition_at").dt.timestamp("us").max()
        ),
    )
    lo, hi = span.item(0, "lo"), span.item(0, "hi")
    try:
        return BusinessClock.covering(calendar, from_epoch_us(lo), from_epoch_us(hi))
    except DataError:
        raise
    except ValueError as error:  # a calendar with no open time over the data's range
        raise PlanError(
            f"{error}; the SLA's clock cannot measure disposition times", path="sla.calendar"
        ) from None


def unknown_reasons(data: Any, agreed: Sequence[str], *, as_of: datetime | None) -> pl.DataFrame:
    """Dispositions whose reason is not in ``agreed``: per reason, how many, of how many leads, examples.

    Columns ``reason``, ``dispositions``, ``leads``, ``examples`` (the first lead ids in sorted order, at
    most :data:`EXAMPLES`); sorted by reason.
    """
    return (
        _dispositions(data, as_of)
        .filter(~pl.col("reason").is_in(list(agreed)))
        .group_by("reason")
        .agg(
            dispositions=pl.len().cast(pl.Int64),
            leads=pl.col("lead_id").n_unique().cast(pl.Int64),
            examples=pl.col("lead_id").unique().sort().head(EXAMPLES),
        )
        .sort("reason")
        .collect()
    )
