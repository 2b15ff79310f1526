"""The feedback analyses as map, reduce and finalise (private): per-lead facts in the map, sums merged.

:func:`~smarketing.feedback.waterfall` and :func:`~smarketing.feedback.compare_campaigns` read only tables
keyed by lead (the lead records by ``id``; stage events, dispositions, deals and touchpoints by
``lead_id``), so a partition of complete leads holds everything one lead's row needs. Each runs through
:mod:`smarketing.frames._engine`:

- **map**: the unchanged polars kernel on a partition of leads (one row per lead: its cohort, group,
  furthest step, first entries, business days and time between steps, won value; or its campaign,
  outcome and deals), summed per cell (period, group, step; or campaign) in integers, money in integer
  minor units of the one reporting currency (converted per deal at the plan's rates, as on one machine);
- **reduce**: sums of those counts and amounts, set unions (currencies, reasons per campaign), exact lower
  medians of the business days and times by a second pass over the kept values;
- **finalise** on the driver: the rates, the flags, the costs per stage.

On PySpark frames (a mapping of record kind to PySpark DataFrames) the kinds are made one frame
partitioned by lead (:func:`~smarketing.frames._engine.co_partition`) and split back inside the map; a
group from the lead's account is joined on Spark first (the accounts on Spark too; else the waterfall
reads its input on the driver, as before) and shuffled with them. Codes every partition must share are
found first on the driver and broadcast: the reporting currency when the plan names none (the smallest
currency of the won deals, or of the deals, as one machine chooses it). Anything else is one partition,
mapped in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import polars as pl

from smarketing.calendar import BusinessCalendar
from smarketing.errors import DataError
from smarketing.feedback import _waterfall
from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy
from smarketing.frames._money import WON
from smarketing.money import FxTable
from smarketing.persona._outcomes import ACCOUNT
from smarketing.records import Dataset

__all__ = ["CAMPAIGNS", "WATERFALL", "by_lead", "spark_frames", "waterfall_cells"]

_I64 = pl.Int64()
_STR = pl.String()

#: The record kinds keyed by lead, and the column each is keyed by.
KEYS: dict[str, str] = {
    "leads": "id",
    "stage_events": "lead_id",
    "deals": "lead_id",
    "touchpoints": "lead_id",
    "dispositions": "lead_id",
}

_SUMS = ("seen", "cohort", "volume", "ended", "value", "value_n")

#: The waterfall's partial tables: per (period, group, step) the sums; the business days (``d``) and
#: open time (``b``, µs) to the next step, one lead a row (their lower medians are taken by the merge);
#: the leads with stage events but no lead record.
WATERFALL: dict[str, engine.Partial] = {
    "cells": engine.Partial(
        {"period": _STR, "group": _STR, "step": _I64, **dict.fromkeys(_SUMS, _I64)},
        keys=("period", "group", "step"),
        aggs=dict.fromkeys(_SUMS, "sum"),
    ),
    "moves": engine.Partial(
        {"period": _STR, "group": _STR, "step": _I64, "d": _I64, "b": _I64},
        keys=("period", "group", "step"),
        quantiles={"d": (0.5,), "b": (0.5,)},
    ),
    "left_out": engine.Partial({"left_out": _I64}, aggs={"left_out": "sum"}),
}


def spark_frames(data: Any, kinds: Sequence[str]) -> dict[str, Any] | None:
    """The ``kinds`` of ``data`` when it is a mapping of them to PySpark DataFrames, else None.

    A mapping with some of those kinds on Spark and others not (records, polars frames) is read on the
    driver, as before: None. Kinds the mapping lacks are left out (the map reads them as empty).
    """
    if isinstance(data, Dataset) or not isinstance(data, Mapping):
        return None
    frames = {kind: data[kind] for kind in kinds if kind in data}
    if not frames or not all(engine.is_spark(f) for f in frames.values()):
        return None
    return frames


def _union(frames: Mapping[str, Any], reads: Mapping[str, Sequence[str]], extra: Mapping[str, Any]) -> Any:
    """The kinds' frames (the columns read) and ``extra`` ones (keyed by ``lead_id``) as one frame by lead."""
    picked, keys = {}, {}
    for kind, frame in frames.items():
        engine.require(frame, kind, [KEYS[kind]])
        picked[kind] = frame.select(*(f"`{c}`" for c in reads[kind] if c in frame.columns))
        keys[kind] = KEYS[kind]
    for name, frame in extra.items():
        picked[name], keys[name] = frame, "lead_id"
    return engine.co_partition(picked, keys)


def by_lead(
    data: Any,
    reads: Mapping[str, Sequence[str]],
    fn: Callable[[Any], Mapping[str, pl.DataFrame]],
    tables: Mapping[str, engine.Partial],
    *,
    persist: bool = False,
) -> engine.Partials:
    """Map ``fn`` over ``data``'s partitions of complete leads (the ``reads`` kinds on Spark) and merge.

    ``fn`` gets a mapping of record kind to a partition's frames (only the ``reads`` columns present) on
    Spark, and ``data`` itself otherwise (one partition, mapped here). ``persist``: see
    :func:`~smarketing.frames._engine.spark_run`.
    """
    frames = spark_frames(data, list(reads))
    if frames is None:
        return engine.run(data, fn, tables, kind="leads", key="id", columns=())
    names = list(frames)

    def split(part: Any) -> Mapping[str, pl.DataFrame]:
        return fn(engine.split(part, names))

    union = _union(frames, reads, {})
    return engine.run(
        union, split, tables, kind="leads", key=engine.PARTITION_KEY, columns=union.columns, persist=persist
    )


# --------------------------------------------------------------------------------------------------
# Campaigns side by side.


def _campaign_sums(key: Mapping[str, pl.DataType], sums: Sequence[str]) -> engine.Partial:
    return engine.Partial(
        {**key, **dict.fromkeys(sums, _I64)}, keys=tuple(key), aggs=dict.fromkeys(sums, "sum")
    )


#: :func:`~smarketing.feedback.compare_campaigns`' partial tables: per campaign its counts and money
#: (minor units), per campaign and reason its rejected leads, and the currencies of the deals (a union).
CAMPAIGNS: dict[str, engine.Partial] = {
    "counts": _campaign_sums({"campaign": _STR}, ("leads", "mqls", "accepted", "rejected", "sqls")),
    "reasons": _campaign_sums({"campaign": _STR, "reason": _STR}, ("leads",)),
    "money": _campaign_sums({"campaign": _STR}, ("pipeline_minor", "revenue_minor", "won")),
    "codes": engine.Partial({"currency": _STR}, keys=("currency",)),
}


# --------------------------------------------------------------------------------------------------
# The waterfall.

#: The columns the waterfall reads of each kind (the lead's ``by`` column is added).
_WATERFALL_READS: dict[str, tuple[str, ...]] = {
    "leads": ("id", "created_at"),
    "stage_events": ("id", "lead_id", "from", "to", "time"),
    "deals": ("id", "lead_id", "amount", "amount_currency", "stage", "close_date"),
    "touchpoints": ("id", "lead_id", "time", "team"),
}


def waterfall_cells(
    data: Any,
    stages: Sequence[str],
    step_of: Sequence[int],
    *,
    view: str,
    period: _waterfall.WaterfallPeriod,
    by: str | None,
    as_of: datetime,
    calendar: BusinessCalendar,
    currency: str | None,
    fx: FxTable | None,
) -> tuple[pl.DataFrame, str | None, int]:
    """The waterfall's cells per (period, group, step), the currency of its value, and the leads left out.

    Cells: ``period``, ``group``, ``step``, ``cohort``, ``volume``, ``ended``, ``d50`` and ``b50`` (lower
    medians of the business days and open µs to the next step) and ``value``.

    On a mapping of PySpark DataFrames the map runs per partition of complete leads on Spark; otherwise
    ``data`` is one partition, mapped here.

    Raises:
        DataError: As :func:`~smarketing.feedback.waterfall` (raised by a map, on a worker or here).
    """
    n_steps = max(step_of, default=-1) + 1
    spec = _Waterfall(stages, step_of, view, period, by, as_of, calendar, fx)
    kinds = ["leads", "stage_events", "deals", *(["touchpoints"] if by == "source_team" else [])]
    frames = spark_frames(data, kinds)
    if frames is not None and by is not None and by.startswith(ACCOUNT):
        # An account's segment is joined on Spark: with the accounts elsewhere (or none), read here.
        frames = frames if engine.is_spark(data.get("accounts")) else None
    if frames is None:
        code = currency if currency is not None else _local_won_currency(data, as_of)
        target = code

        def local(part: Any) -> dict[str, pl.DataFrame]:
            return spec.map(part, target)

        partials = engine.run(data, local, WATERFALL, kind="leads", key="id", columns=())
    else:
        code = currency if currency is not None else _won_currency(frames.get("deals"), as_of)
        own = by is not None and by != "source_team" and not by.startswith(ACCOUNT)
        reads = {**_WATERFALL_READS, "leads": (*_WATERFALL_READS["leads"], *((by,) if own else ()))}
        extra = (
            {"_groups": _account_groups(frames["leads"], data, by)} if by and by.startswith(ACCOUNT) else {}
        )
        names = [*frames, *extra]
        target = code

        def fn(part: Any) -> dict[str, pl.DataFrame]:
            tables = engine.split(part, names)
            groups = tables.pop("_groups", None)
            return spec.map(tables, target, groups)

        union = _union(frames, reads, extra)
        partials = engine.run(
            union, fn, WATERFALL, kind="leads", key=engine.PARTITION_KEY, columns=union.columns
        )
    left = partials.merged("left_out")
    left_out = int(left.item(0, "left_out") or 0) if left.height else 0
    return _cells(partials.merged("cells"), partials.merged("moves"), view, n_steps), code, left_out


def _won_currency(deals: Any, as_of: datetime) -> str | None:
    """The smallest currency of the won deals closed by ``as_of`` on Spark (one machine's choice), or None."""
    if deals is None or not {"stage", "close_date", "amount_currency"} <= set(deals.columns):
        return None
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    won = deals.where((F.col("stage") == WON) & (F.col("close_date") <= F.lit(as_of.astimezone(UTC).date())))
    codes = engine.distinct(won, "amount_currency")
    return str(codes[0]) if codes else None


def _local_won_currency(data: Any, as_of: datetime) -> str | None:
    """The smallest currency of the won deals closed by ``as_of`` (one machine's choice), or None.

    None too when the deals cannot be read: the map then raises the error one machine raises.
    """
    try:
        deals = as_lazy(data, "deals", reads=("stage", "close_date", "amount_currency")).to_native()
        day = as_of.astimezone(UTC).date()
        codes = (
            deals.filter((pl.col("stage") == WON) & (pl.col("close_date") <= day))
            .select(pl.col("amount_currency").cast(pl.String).drop_nulls().min())
            .collect()
        )
    except (DataError, TypeError, pl.exceptions.PolarsError):
        return None
    got = codes.item()
    return None if got is None else str(got)


def _account_groups(leads: Any, data: Mapping[str, Any], by: str) -> Any:
    """``lead_id``, ``group``: the ``by`` column of each lead's account (on Spark too), joined on Spark.

    Raises:
        DataError: The accounts have no such column (as one machine says).
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    column = by[len(ACCOUNT) :]
    accounts = data["accounts"]
    engine.require(accounts, "accounts", ["id"])
    if column not in accounts.columns:
        known = ", ".join(accounts.columns)
        raise DataError(f"no account column {column!r} to group by; known: {known}", kind="accounts")
    engine.require(leads, "leads", ["id", "account_id"])
    segment = accounts.select(
        F.col("id").alias("_account"), F.col(f"`{column}`").cast("string").alias("group")
    )
    return (
        leads.select(F.col("id").alias("lead_id"), F.col("account_id").alias("_account"))
        .join(segment, on="_account", how="left")
        .select("lead_id", "group")
    )


@attrs.frozen
class _Waterfall:
    """What every partition's map of the waterfall is given (shipped to the workers: no Spark frame)."""

    stages: Sequence[str]
    step_of: Sequence[int]
    view: str
    period: _waterfall.WaterfallPeriod
    by: str | None
    as_of: datetime
    calendar: BusinessCalendar
    fx: FxTable | None

    def map(
        self, data: Any, currency: str | None, groups: pl.DataFrame | None = None
    ) -> dict[str, pl.DataFrame]:
        """The partial tables of the leads in ``data`` (complete leads), won value in ``currency``."""
        if groups is not None:
            groups = groups.select(
                pl.col("lead_id").cast(pl.String).alias("id"), pl.col("group").cast(pl.String)
            )
        table, won, _, unknown = _waterfall.lead_table(
            data,
            self.stages,
            self.step_of,
            by=self.by,
            as_of=self.as_of,
            calendar=self.calendar,
            currency=currency,
            fx=self.fx,
            groups=groups,
        )
        n_steps = max(self.step_of, default=-1) + 1
        cells, moves = _waterfall.partial_cells(
            table, won, view=self.view, period=self.period, n_steps=n_steps
        )
        return {"cells": cells, "moves": moves, "left_out": pl.DataFrame({"left_out": [unknown]})}


def _cells(merged: pl.DataFrame, moves: pl.DataFrame, view: str, n_steps: int) -> pl.DataFrame:
    """The merged sums and medians in the columns :func:`waterfall_cells` gives (the cells seen only)."""
    last = pl.col("step") == n_steps - 1
    cohort = view == "cohort"
    value = pl.when(last & (pl.lit(cohort) | (pl.col("value_n") > 0))).then(pl.col("value"))
    # Every lead with a move is seen in its cell, so the medians' keys are among the sums'.
    keys = ["period", "group", "step"]
    return (
        merged.filter(pl.col("seen") > 0)
        .join(moves, on=keys, how="left", nulls_equal=True)
        .select(
            *keys,
            (pl.col("cohort") if cohort else pl.lit(None, pl.Int64)).alias("cohort"),
            "volume",
            (pl.col("ended") if cohort else pl.lit(None, pl.Int64)).alias("ended"),
            pl.col("d_q0").alias("d50"),
            pl.col("b_q0").alias("b50"),
            value.cast(pl.Int64).alias("value"),
        )
    )
