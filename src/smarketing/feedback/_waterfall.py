"""Columnar kernel behind :func:`smarketing.feedback.waterfall` (private).

The stage events go through the journey's :func:`~smarketing.journey._kernel.prepare` (validation, one
agreed order per lead) and :func:`~smarketing.journey._kernel.first_entries` (each lead's first entry into
each step, the funnel's ``any`` counting); the business clock is the funnel's
(:func:`~smarketing.journey._kernel.business_positions`). This module only builds one row per lead
(furthest step, first entry per step, business days and time between steps, won value) and sums them by
period, group and step (:func:`partial_cells`), which :mod:`smarketing.feedback._scale` merges over the
partitions of leads (one here, many on Spark).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing._periods import Window
from smarketing.calendar import BusinessCalendar
from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.frames._money import check_won, convert_column, minor_units
from smarketing.journey import _kernel
from smarketing.money import FxTable, Money
from smarketing.persona._outcomes import ACCOUNT, lead_groups

__all__ = [
    "PERIOD_LABEL",
    "WaterfallPeriod",
    "cohort_end",
    "first_touch_team",
    "in_currency",
    "lead_table",
    "partial_cells",
    "period_label",
]

I64 = npt.NDArray[np.int64]
WaterfallPeriod = Literal["week", "month", "quarter"]

#: How a period is named, from its start date (UTC): ``2026-10``, ``2026-Q4``, ``2026-W40`` (ISO week).
PERIOD_LABEL = {"month": "%Y-%m", "week": "%G-W%V"}


def period_label(column: pl.Expr, period: WaterfallPeriod) -> pl.Expr:
    """The label of the UTC period each time or date of ``column`` falls in."""
    if period == "quarter":
        return pl.format("{}-Q{}", column.dt.year(), column.dt.quarter())
    return column.dt.strftime(PERIOD_LABEL[period])


def _closes(calendar: BusinessCalendar, times: I64) -> I64:
    """For each time (µs), how many open days of ``calendar`` closed at or before it (from a fixed start).

    The business days between two times are the difference of their counts: the open days whose closing
    instant is after the first and at or before the second. Handed over on Friday at 16:00 and taken on
    Monday at 10:00 is one business day (Friday's close), as
    :meth:`~smarketing.calendar.BusinessCalendar.add_days` counts deadlines.
    """
    if not times.size:
        return times
    zone = calendar.zone
    lo = datetime.fromtimestamp(int(times.min()) // 1_000_000, zone).date() - timedelta(days=1)
    hi = datetime.fromtimestamp(int(times.max()) // 1_000_000, zone).date() + timedelta(days=1)
    closes = np.array(
        [round(c.timestamp() * 1_000_000) for _, c in calendar.open_days(lo, hi)], dtype=np.int64
    )
    counts: I64 = np.searchsorted(closes, times, side="right")
    return counts


def _entries(
    events: Any, stages: Sequence[str], step_of: Sequence[int], as_of: datetime, calendar: BusinessCalendar
) -> pl.DataFrame:
    """Per lead with events: its furthest step, first entries, and business days and time between steps.

    Columns: ``lead_id``, ``furthest`` step, first entry ``e{s}`` (µs) per step, and per pair of steps the
    business days ``d{s}`` and open time ``b{s}`` (µs) from ``s`` to ``s + 1``.
    """
    prepared = _kernel.prepare(events, stages, as_of=as_of)
    starts, times, per_step = _kernel.first_entries(prepared, step_of)
    n_leads = len(starts)
    n_steps = len(per_step)
    entry = np.full((n_steps, n_leads), -1, dtype=np.int64)
    for s, (leads, rows) in enumerate(per_step):
        entry[s, leads] = rows
    furthest = np.full(n_leads, -1, dtype=np.int64)
    for s in range(n_steps):
        furthest[entry[s] >= 0] = s
    # Values and a mask of which are set, per column; nulls put in by polars in one pass at the end.
    values: dict[str, Any] = {"furthest": furthest}
    masks: dict[str, npt.NDArray[np.bool_]] = {}
    positions = _kernel.business_positions(calendar, times) if len(times) else times
    # One count of closed open days for all entries, so that every step's counts share one origin.
    closes = _closes(calendar, times)
    closed: list[I64] = []
    for s in range(n_steps):
        row = np.maximum(entry[s], 0)
        values[f"e{s}"], masks[f"e{s}"] = times[row], entry[s] >= 0
        closed.append(closes[row])
    for s in range(n_steps - 1):
        # A later step entered before this one has no velocity.
        both = (entry[s] >= 0) & (entry[s + 1] >= 0) & (entry[s + 1] >= entry[s])
        values[f"d{s}"], masks[f"d{s}"] = closed[s + 1] - closed[s], both
        values[f"b{s}"], masks[f"b{s}"] = (
            positions[np.maximum(entry[s + 1], 0)] - positions[np.maximum(entry[s], 0)],
            both,
        )
    raw = pl.DataFrame({**values, **{f"_{c}": m for c, m in masks.items()}})
    return raw.select(
        prepared.frame.get_column("lead_id").to_native().gather(starts).alias("lead_id"),
        "furthest",
        *(pl.when(pl.col(f"_{c}")).then(pl.col(c)).alias(c) for c in masks),
    )


def _groups(data: Any, leads: pl.DataFrame, by: str | None, given: pl.DataFrame | None) -> pl.DataFrame:
    """``leads`` with the ``group`` column: the ``by`` lead column as text, or the first touch's team.

    ``given``: each lead's ``id`` and ``group``, found already (an account's segment joined on Spark).
    """
    if by is None:
        return leads.with_columns(pl.lit(None, pl.String).alias("group"))
    if given is not None:
        return leads.join(given, on="id", how="left", maintain_order="left")
    if by.startswith(ACCOUNT):  # the segment of the lead's account: its industry, size, region, ...
        groups = lead_groups(data, [by]).select(pl.col("lead_id").alias("id"), pl.col(by).alias("group"))
        return leads.join(
            groups.collect().with_columns(pl.col("group").cast(pl.String)),
            on="id",
            how="left",
            maintain_order="left",
        )
    if by != "source_team":
        return leads.with_columns(pl.col(by).cast(pl.String).alias("group"))
    return leads.join(first_touch_team(data), on="id", how="left")


def first_touch_team(data: Any) -> pl.DataFrame:
    """Each lead's ``id`` and ``group``: the team of its first touch (earliest; ties by touch id)."""
    touches = as_lazy(data, "touchpoints", required=("id", "lead_id", "time", "team"), reads=())
    first: pl.DataFrame = (
        touches.select("lead_id", "time", "id", "team")
        .collect(backend="polars")
        .to_native()
        .sort("lead_id", "time", "id")
        .group_by("lead_id", maintain_order=True)
        .first()
        .select(pl.col("lead_id").alias("id"), pl.col("team").cast(pl.String).alias("group"))
    )
    return first


def in_currency(
    frame: pl.DataFrame, *, on: str, to: str | None, fx: FxTable | None
) -> tuple[pl.Series, str | None]:
    """Each deal's ``amount`` in minor units of ``to`` (converted with ``fx`` on its ``on`` day), and ``to``.

    Without ``to`` the deals must share one currency, which is then the answer's. A deal in another
    currency without ``fx`` is a :class:`~smarketing.errors.DataError` naming it.
    """
    units = minor_units(frame, "amount", "amount_currency")
    codes = sorted(frame.get_column("amount_currency").drop_nulls().unique().to_list())
    target = to if to is not None else (codes[0] if codes else None)
    other = [c for c in codes if c != target]
    if not other:
        return units, target
    if fx is None or target is None:
        # The smallest id of the smallest other currency: one answer however the deals are partitioned.
        bad = frame.filter(pl.col("amount_currency") == other[0]).get_column("id").cast(pl.String).min()
        raise DataError(
            f"in {other[0]}, not {target}; pass fx= to convert deals to the plan's currency",
            kind="deal",
            record=str(bad),
            field="amount_currency",
        )
    rows = frame.with_columns(units.alias("_units"))

    def fallback(row: int) -> int:
        r = rows.row(row, named=True)
        money = Money.from_minor(r["_units"], r["amount_currency"])
        return fx.convert(money, target, r[on]).to_minor()

    converted = convert_column(
        rows, "_units", fx=fx, to=target, currency="amount_currency", on=on, fallback=fallback
    )
    return converted, target


def _won(
    data: Any, as_of: datetime, currency: str | None, fx: FxTable | None
) -> tuple[pl.DataFrame, str | None]:
    """Won deals closed by ``as_of`` (UTC date): ``lead_id``, ``close_date``, ``won`` in minor units."""
    deals = as_lazy(
        data, "deals", reads=("id", "lead_id", "amount", "amount_currency", "stage", "close_date")
    )
    native = deals.collect(backend="polars").to_native()
    won = check_won(native).join(native.select("id", "lead_id"), on="id", how="left")
    won = won.filter(pl.col("close_date") <= as_of.astimezone(UTC).date())
    units, code = in_currency(won, on="close_date", to=currency, fx=fx)
    return won.select("lead_id", "close_date", units.alias("won")), code


def lead_table(
    data: Any,
    stages: Sequence[str],
    step_of: Sequence[int],
    *,
    by: str | None,
    as_of: datetime,
    calendar: BusinessCalendar,
    currency: str | None,
    fx: FxTable | None = None,
    groups: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, str | None, int]:
    """One row per lead created by ``as_of``, the won deals, their currency, and the leads left out.

    Leads: ``id``, ``created`` (UTC), ``group``, the columns of :func:`_entries` (``furthest`` -1: no
    step) and ``won`` (minor units of the lead's won deals). The count left out is of leads that have
    stage events but are not among the leads (they have no creation time for a cohort). ``groups``: the
    leads' groups when found already (``id``, ``group``).
    """
    own = by is not None and by != "source_team" and not by.startswith(ACCOUNT)
    reads = ("id", "created_at", *((by,) if own else ()))
    leads_lf = as_lazy(data, "leads", required=reads, reads=reads)
    leads = leads_lf.collect(backend="polars").to_native()
    leads = leads.filter(pl.col("created_at") <= as_of).rename({"created_at": "created"})
    leads = _groups(data, leads, by, groups).select("id", "created", "group")
    entries = _entries(data, stages, step_of, as_of, calendar)
    won, code = _won(data, as_of, currency, fx)
    per_lead = won.group_by("lead_id").agg(pl.col("won").sum())
    table = leads.join(entries.rename({"lead_id": "id"}), on="id", how="left").join(
        per_lead.rename({"lead_id": "id"}), on="id", how="left"
    )
    # Lead ids are unique (checked on intake), so the entries no lead matched are the rest.
    unknown = entries.height - (table.height - table.get_column("furthest").null_count())
    table = table.with_columns(pl.col("furthest").fill_null(-1), pl.col("won").fill_null(0))
    won = won.join(leads.select(pl.col("id").alias("lead_id"), "group"), on="lead_id", how="inner")
    return table, won, code, unknown


def partial_cells(
    table: pl.DataFrame, won: pl.DataFrame, *, view: str, period: WaterfallPeriod, n_steps: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The waterfall's sums per ``period``, ``group`` and ``step``; and the velocities, one lead a row.

    Sums: ``period``, ``group``, ``step``, ``seen`` (rows that make the cell exist), ``cohort``,
    ``volume``, ``ended``, ``value`` and ``value_n`` (won deals summed, period view). Velocities:
    ``period``, ``group``, ``step`` and one lead's business days ``d`` and open µs ``b`` to the next step.
    Summed over any partitions of complete leads, with the lower medians of ``d`` and ``b``, they are the
    cells of all the leads at once (:func:`~smarketing.feedback._scale.waterfall_cells` merges them).
    """
    zero = pl.lit(0, pl.Int64)
    sums = ("seen", "cohort", "volume", "ended", "value", "value_n")

    def cell(frame: pl.DataFrame, s: int, **given: pl.Expr) -> pl.DataFrame:
        return frame.select(
            "period",
            "group",
            pl.lit(s, pl.Int64).alias("step"),
            *(given.get(c, zero).cast(pl.Int64).alias(c) for c in sums),
        )

    def moves(frame: pl.DataFrame, s: int) -> pl.DataFrame:
        d, b = pl.col(f"d{s}"), pl.col(f"b{s}")
        return frame.filter(d.is_not_null() | b.is_not_null()).select(
            "period", "group", pl.lit(s, pl.Int64).alias("step"), d.alias("d"), b.alias("b")
        )

    parts: list[pl.DataFrame] = []
    moved: list[pl.DataFrame] = []
    if view == "cohort":
        base = table.with_columns(period_label(pl.col("created"), period).alias("period"))
        counts = base.group_by("period", "group").agg(
            pl.len().cast(pl.Int64).alias("cohort"),
            pl.col("won").sum().cast(pl.Int64).alias("value"),
            *((pl.col("furthest") >= s).sum().cast(pl.Int64).alias(f"volume{s}") for s in range(n_steps)),
            *((pl.col("furthest") == s).sum().cast(pl.Int64).alias(f"ended{s}") for s in range(n_steps)),
        )
        for s in range(n_steps):
            last = s == n_steps - 1
            parts.append(
                cell(
                    counts,
                    s,
                    seen=pl.col("cohort"),
                    cohort=pl.col("cohort"),
                    volume=pl.col(f"volume{s}"),
                    ended=pl.col(f"ended{s}"),
                    value=pl.col("value") if last else zero,
                )
            )
            if not last:
                moved.append(moves(base, s))
        return pl.concat(parts), _stacked(moved)
    for s in range(n_steps):
        entered = (
            table.filter(pl.col(f"e{s}").is_not_null())
            .with_columns(period_label(pl.from_epoch(f"e{s}", "us"), period).alias("period"))
            .group_by("period", "group")
            .agg(pl.len().cast(pl.Int64).alias("n"))
        )
        parts.append(cell(entered, s, seen=pl.col("n"), volume=pl.col("n")))
        if s + 1 < n_steps:
            # Velocity is attached to the step left, over the leads that entered the next step in the period.
            nxt = table.filter(pl.col(f"e{s + 1}").is_not_null()).with_columns(
                period_label(pl.from_epoch(f"e{s + 1}", "us"), period).alias("period")
            )
            seen = nxt.group_by("period", "group").agg(pl.len().cast(pl.Int64).alias("n"))
            parts.append(cell(seen, s, seen=pl.col("n")))
            moved.append(moves(nxt, s))
        else:
            value = (
                won.with_columns(period_label(pl.col("close_date"), period).alias("period"))
                .group_by("period", "group")
                .agg(pl.col("won").sum().cast(pl.Int64).alias("value"), pl.len().cast(pl.Int64).alias("n"))
            )
            parts.append(cell(value, s, seen=pl.col("n"), value=pl.col("value"), value_n=pl.col("n")))
    return pl.concat(parts), _stacked(moved)


def _stacked(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The velocity rows of every step in one frame (its columns typed even without rows)."""
    if frames:
        return pl.concat(frames)
    schema = {"period": pl.String, "group": pl.String, "step": pl.Int64, "d": pl.Int64, "b": pl.Int64}
    return pl.DataFrame(schema=schema)


def cohort_end(label: str) -> date:
    """The first day after the period ``label`` names (UTC)."""
    return Window.parse(label).end
