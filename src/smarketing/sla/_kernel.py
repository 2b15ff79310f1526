"""The columnar kernel of :func:`smarketing.sla.evaluate_sla`: map per lead, then associative sums.

Every step is a narwhals lazy expression or join keyed by ``lead_id`` (handoffs, the lead record, the first
disposition, activity aggregates), so a partition of the data by lead can run the kernel on its own and
the per-period and per-rep counts of the partitions add up. Business time comes from
:class:`~smarketing.frames._calendar.BusinessClock` (as-of joins against the calendar's interval table).

Times are Int64 microseconds since the epoch (UTC) inside the kernel; the public frame converts them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import narwhals as nw
import polars as pl

from smarketing.calendar import check_time
from smarketing.errors import DataError, PlanError
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._calendar import BusinessClock, check_years, epoch_us, from_epoch_us
from smarketing.records import RECORD_KINDS, Dataset

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan
    from smarketing.sla import SLA

__all__ = ["DEFAULT_PERIOD", "SLAFrames", "evaluate", "ratio"]

US_PER_HOUR = 3_600_000_000
DEFAULT_PERIOD = "month"
_TRUNCATE = {"day": "1d", "month": "1mo", "quarter": "1q", "year": "1y"}

#: Columns each input kind must have, and optional ones filled with nulls when a frame lacks them.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "stage_events": ("lead_id", "to", "time"),
    "leads": ("id",),
    "activities": ("lead_id", "person", "time", "type"),
    "dispositions": ("lead_id", "reason", "time"),
}
_OPTIONAL: dict[str, dict[str, Any]] = {
    "stage_events": {"from": nw.String()},
    "leads": {
        "created_at": nw.Datetime("us", "UTC"),
        "grade": nw.String(),
        "persona": nw.String(),
        "owner": nw.String(),
        "status": nw.String(),
    },
    "activities": {"id": nw.String(), "outcome": nw.String()},
    "dispositions": {"person": nw.String()},
}
_TIMES: dict[str, tuple[str, ...]] = {
    "stage_events": ("time",),
    "leads": ("created_at",),
    "activities": ("time",),
    "dispositions": ("time",),
}


class SLAFrames:
    """What the kernel produces, before :class:`~smarketing.sla.SLAReport` wraps it.

    The kernel materialises the handed-off leads (handoff, lead record, due times) and their first
    dispositions when it is called; everything after that (the activities per lead, the statuses, the
    escalation ladder, marketing's side, breaches, the weekly trend, the counts) is a plan, computed on
    first access and kept. A caller that needs a few per-lead columns (the KPIs) asks
    :meth:`lead_columns` and pays for nothing else: polars leaves out of the plan the aggregates and
    columns it does not select, and the other tables are never computed.
    """

    def __init__(
        self,
        *,
        lead_plan: pl.LazyFrame,
        delivered_plan: pl.LazyFrame,
        count_plans: tuple[pl.LazyFrame, ...],
        sla: SLA,
        period: str,
        now: int,
        zone: str,
    ) -> None:
        self._lead_plan = lead_plan
        self._delivered_plan = delivered_plan
        self._count_plans = count_plans
        self._sla = sla
        self._period = period
        self._now = now
        self._zone = zone

    def lead_columns(self, *names: str) -> pl.DataFrame:
        """These columns of :attr:`leads` (same rows, same values), computing only what they need."""
        if "leads" in self.__dict__:
            return self.leads.select(names)
        return self._lead_plan.select(names).collect()

    @cached_property
    def _lead_rows(self) -> pl.DataFrame:
        """The per-lead frame and two columns for the counts: ``known`` and ``_early``.

        ``known``: the lead is in ``leads``; ``_early``: its activities before it was created.
        """
        return self._lead_plan.collect()

    @cached_property
    def leads(self) -> pl.DataFrame:
        """One row per handed-off lead, in lead id order."""
        return self._lead_rows.drop("known", "_early")

    @cached_property
    def _delivered(self) -> pl.DataFrame:
        return self._delivered_plan.collect()

    @cached_property
    def breaches(self) -> pl.DataFrame:
        """One row per broken commitment, by commitment, each in lead order."""
        return _breaches(self.leads)

    @cached_property
    def marketing(self) -> pl.DataFrame:
        """Marketing's side per period: volume against the commitment, acceptance and SQL rates."""
        return _marketing(self._delivered, self._sla, self._period, self._now, self._zone)

    @cached_property
    def weekly(self) -> pl.DataFrame:
        """Both sides per week (the trend)."""
        return _weekly(self.leads, self._delivered)

    @cached_property
    def _count_row(self) -> dict[str, Any]:
        c: dict[str, Any] = {}
        for frame in pl.collect_all(list(self._count_plans)):
            c.update(frame.row(0, named=True))
        return c

    @cached_property
    def examples(self) -> dict[str, str]:
        """For each count that is not zero, the smallest lead id it counts (sorted by count name)."""
        lead_rows = self._lead_rows
        c = self._count_row

        def first(frame: pl.DataFrame) -> Any:
            return frame.get_column("lead_id").min()

        found = {
            "handoffs_unknown_lead": first(lead_rows.filter(~pl.col("known"))),
            "activities_unknown_lead": c["_example_a_unknown"],
            "activities_before_lead_created": first(lead_rows.filter(pl.col("_early") > 0)),
            "activities_after_as_of": c["_example_a_after"],
            "dispositions_not_handed_off": c["_example_d_unhanded"],
            "dispositions_before_handoff": c["_example_d_before"],
            "dispositions_after_as_of": c["_example_d_after"],
            "dispositions_unknown_reason": first(lead_rows.filter(~pl.col("disposition_reason_agreed"))),
            "stage_events_after_as_of": c["_example_e_after"],
        }
        return {k: str(found[k]) for k, v in sorted(self.counts.items()) if v and found[k] is not None}

    @cached_property
    def counts(self) -> dict[str, int]:
        """Facts handled specially, by kind."""
        lead_rows = self._lead_rows
        c = self._count_row
        return {
            "handoffs_unknown_lead": int(lead_rows.filter(~pl.col("known")).height),
            "activities_unknown_lead": int(c["a_unknown"]),
            "activities_before_lead_created": int(lead_rows["_early"].sum()),
            "activities_after_as_of": int(c["a_after"] or 0),
            "dispositions_not_handed_off": int(c["d_unhanded"] or 0),
            "dispositions_before_handoff": int(c["d_before"] or 0),
            "dispositions_after_as_of": int(c["d_after"] or 0),
            "dispositions_unknown_reason": int(lead_rows.filter(~pl.col("disposition_reason_agreed")).height),
            "stage_events_after_as_of": int(c["e_after"] or 0),
        }


# --------------------------------------------------------------------------------------------------
# Input.


def _source(data: Any, kind: str) -> Any:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - set(RECORD_KINDS))
        if unknown:
            raise DataError(
                f"unknown record kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(RECORD_KINDS)}"
            )
        return data.get(kind, [])
    raise TypeError(
        f"data must be a Dataset or a mapping of record kind to records or frame, not {type(data).__name__}"
    )


def _load(data: Any, kind: str) -> nw.LazyFrame[Any]:
    lf = as_lazy(_source(data, kind), kind, required=_REQUIRED[kind])
    if lf.implementation is not nw.Implementation.POLARS:
        # The calendar tables are polars frames; other engines are collected once into polars.
        lf = lf.collect(backend="polars").lazy()
    schema = lf.collect_schema()
    missing = {name: dtype for name, dtype in _OPTIONAL[kind].items() if name not in schema}
    if missing:
        lf = lf.with_columns(*(nw.lit(None, dtype).alias(name) for name, dtype in missing.items()))
        schema = lf.collect_schema()
    for column in _TIMES[kind]:
        dtype = schema[column]
        if not isinstance(dtype, nw.Datetime) and column not in missing:
            raise DataError(f"must be a datetime column, not {dtype}", field=column, kind=kind)
    check_aware(lf, _TIMES[kind], kind=kind)
    present = [c for c in _TIMES[kind] if c not in missing]
    if present:
        ident = "id" if kind == "leads" else "lead_id"
        check_years(lf, present, kind=RECORD_KINDS[kind].kind, ident=ident)
    casts = [nw.col(c).dt.convert_time_zone("UTC").dt.timestamp("us").alias(f"{c}_us") for c in _TIMES[kind]]
    strings = [
        nw.col(c).cast(nw.String())
        for c in (*_REQUIRED[kind], *_OPTIONAL[kind])
        if c not in _TIMES[kind] and not isinstance(schema[c], nw.String)
    ]
    return lf.with_columns(*casts, *strings)


def _no_nulls(lf: nw.LazyFrame[Any], kind: str, columns: Sequence[str], ident: str) -> None:
    """Raise a DataError naming the first record with a missing required value."""
    bad = (
        lf.filter(nw.any_horizontal(*(nw.col(c).is_null() for c in columns), ignore_nulls=False))
        .select(ident, *(c for c in columns if c != ident))
        .head(1)
        .collect()
    )
    if len(bad):
        row = bad.rows(named=True)[0]
        field = next(c for c in columns if row[c] is None)
        record = row[ident] if row[ident] is not None else "?"
        raise DataError(
            "required value is missing", record=str(record), field=field, kind=RECORD_KINDS[kind].kind
        )


def _hours_us(hours: Decimal) -> int:
    return int((hours * US_PER_HOUR).to_integral_value(ROUND_HALF_EVEN))


def _from_us(column: str) -> nw.Expr:
    return nw.col(column).cast(nw.Datetime("us", "UTC"))


# --------------------------------------------------------------------------------------------------
# The kernel.


def evaluate(plan: AlignmentPlan, data: Any, *, as_of: datetime) -> SLAFrames:
    """Evaluate ``plan.sla`` on ``data`` at ``as_of``; see :func:`smarketing.sla.evaluate_sla`."""
    sla = plan.sla
    if sla is None:
        raise PlanError("the plan has no SLA; add an 'sla' section to evaluate one", path="sla")
    handoffs = plan.journey.handoffs()
    if not handoffs:
        raise PlanError(
            "the journey has no handoff transition, so no lead is ever handed to sales",
            path="journey.transitions",
        )
    cal = sla.calendar
    zone = cal.timezone

    events = _load(data, "stage_events")
    leads = _load(data, "leads")
    activities = _load(data, "activities")
    dispositions = _load(data, "dispositions")
    _no_nulls(events, "stage_events", ("lead_id", "to", "time"), "lead_id")
    _no_nulls(leads, "leads", ("id",), "id")
    _no_nulls(activities, "activities", ("lead_id", "person", "time", "type"), "lead_id")
    _no_nulls(dispositions, "dispositions", ("lead_id", "reason", "time"), "lead_id")
    # After the data's own checks: an as_of taken from the data (the CLI's latest fact) is then already
    # known good, and a bad time in the data is named by its record rather than as as_of.
    now = epoch_us(check_time(as_of, "as_of"))
    # -- handoffs: the first stage event of a handoff transition, per lead ------------------------------
    pairs = [(t.source, t.to) for t in handoffs]
    targets = sorted({t.to for t in handoffs})
    is_handoff = nw.any_horizontal(
        *((nw.col("from") == a) & (nw.col("to") == b) for a, b in pairs),
        nw.col("from").is_null() & nw.col("to").is_in(targets),
        ignore_nulls=True,
    )
    past_events = events.filter(nw.col("time_us") <= now)
    # One pass over the events per lead: the handoff, and the last time the lead reached the accepted and
    # SQL stages (for marketing's quality). Kept in memory; both sides read it.
    quality = sla.marketing.quality
    accepted_stage = quality.accepted_stage if quality is not None else None
    sql_stage = quality.sql_stage if quality is not None else None
    later = [s for s in (accepted_stage, sql_stage) if s is not None]
    per_lead_events = nw.from_native(
        past_events.filter(is_handoff | nw.col("to").is_in(later))
        .group_by("lead_id")
        .agg(
            nw.when(is_handoff).then(nw.col("time_us")).otherwise(None).min().alias("handoff_us"),
            is_handoff.cast(nw.Int64()).sum().alias("handoffs"),
            *(
                nw.when(nw.col("to") == stage)
                .then(nw.col("time_us"))
                .otherwise(None)
                .max()
                .alias(f"_{stage}")
                for stage in later
            ),
        )
        .collect()
        .to_native()
        .lazy()
    )
    handed = per_lead_events.filter(~nw.col("handoff_us").is_null()).select(
        "lead_id", "handoff_us", "handoffs"
    )

    # -- the lead record, tier and targets ---------------------------------------------------------------
    lead_cols = leads.select(
        nw.col("id").alias("lead_id"),
        "owner",
        "grade",
        "persona",
        "status",
        nw.col("created_at_us").alias("created_us"),
        nw.lit(value=True).alias("known"),
    )
    people = plan.people
    people_frame = nw.from_native(
        pl.LazyFrame(
            {
                "owner": [p.id for p in people],
                "team": [p.team for p in people],
                "manager": [p.manager for p in people],
            },
            schema={"owner": pl.String, "team": pl.String, "manager": pl.String},
        )
    )
    tier = nw.lit(None, nw.String())
    for t in reversed(sla.tiers):
        chosen = nw.col("grade").is_in(t.grades) | nw.col("persona").is_in(t.personas)
        tier = nw.when(chosen.fill_null(value=False)).then(nw.lit(t.id)).otherwise(tier)
    fr = sla.sales.first_response
    att = sla.sales.attempts
    disp = sla.sales.disposition
    default_target = None if fr is None else _hours_us(fr.within_hours)
    default_min = None if att is None else att.minimum
    target = nw.lit(default_target, nw.Int64())
    minimum = nw.lit(default_min, nw.Int64())
    for t in sla.tiers:
        if t.first_response_hours is not None:
            target = (
                nw.when(nw.col("tier") == t.id)
                .then(nw.lit(_hours_us(t.first_response_hours)))
                .otherwise(target)
            )
        if t.min_attempts is not None:
            minimum = nw.when(nw.col("tier") == t.id).then(nw.lit(t.min_attempts)).otherwise(minimum)

    # -- the calendar over the range the data and the due times need ------------------------------------
    span = past_events.select(
        nw.col("time_us").min().alias("lo"), nw.col("time_us").max().alias("hi")
    ).collect()
    lo_us, hi_us = span.item(0, "lo"), span.item(0, "hi")
    lo_us = now if lo_us is None else min(lo_us, now)
    hi_us = now if hi_us is None else max(hi_us, now)
    longest = max(
        [_hours_us(t.first_response_hours) for t in sla.tiers if t.first_response_hours is not None]
        + ([default_target] if default_target is not None else [0])
    )
    ladder = sorted(sla.escalation, key=lambda s: s.after_hours)
    longest += max((_hours_us(s.after_hours) for s in ladder), default=0)
    longest_days = max([att.within_business_days if att else 0, disp.within_business_days if disp else 0])
    try:
        clock = BusinessClock.covering(
            cal,
            from_epoch_us(lo_us),
            from_epoch_us(hi_us),
            duration=timedelta(microseconds=longest),
            days=longest_days,
        )
    except DataError:  # times the calendar cannot reach (years without holiday tables)
        raise
    except ValueError as error:  # a calendar whose open time runs out (only a few extra open dates)
        raise PlanError(f"{error}; the SLA's clocks cannot run", path="sla.calendar") from None
    period = sla.marketing.volume.period if sla.marketing.volume is not None else DEFAULT_PERIOD

    handoff = pl.col("handoff_us")
    local = clock.local_date(handoff)
    base_lf = _with(
        handed.join(lead_cols, on="lead_id", how="left")
        .join(people_frame, on="owner", how="left")
        .with_columns(nw.col("known").fill_null(value=False), tier.alias("tier"))
        .with_columns(
            target.cast(nw.Int64()).alias("response_target_us"),
            minimum.cast(nw.Int64()).alias("attempts_required"),
        ),
        handoff_pos=clock.position(handoff),
        attempts_end_us=clock.add_days(handoff, att.within_business_days) if att else pl.lit(None, pl.Int64),
        disposition_due_us=(
            clock.add_days(handoff, disp.within_business_days) if disp else pl.lit(None, pl.Int64)
        ),
        period=_period_pl(local, period),
        week=_period_pl(local, "week"),
    )
    base_lf = _with(base_lf, due_pos=pl.col("handoff_pos") + pl.col("response_target_us"))
    base_lf = _with(base_lf, response_due_us=clock.instant(pl.col("due_pos")))
    # Materialise the per-lead frame once, in lead order, with an integer row key: the dispositions and
    # the activities are matched to it once by lead id, and everything after that joins on the integer.
    base_df: pl.DataFrame = base_lf.collect().to_native().sort("lead_id")
    twice = base_df.filter(pl.col("lead_id") == pl.col("lead_id").shift(1)).head(1)
    if twice.height:
        raise DataError(
            "lead id appears more than once", record=twice.item(0, "lead_id"), field="id", kind="lead"
        )
    base_df = base_df.with_row_index("_row")
    base = nw.from_native(base_df.lazy())
    keys = base.select("lead_id", "_row", "handoff_us")

    # -- dispositions: the first one at or after the handoff ---------------------------------------------
    marked_disp = dispositions.join(keys, on="lead_id", how="left").with_columns(
        (nw.col("time_us") > now).alias("after_as_of"),
        (~nw.col("handoff_us").is_null() & (nw.col("time_us") < nw.col("handoff_us"))).alias("before"),
    )
    first_disp = (
        marked_disp.filter(
            ~nw.col("_row").is_null() & ~nw.col("after_as_of") & (nw.col("time_us") >= nw.col("handoff_us"))
        )
        .with_columns(nw.col("time_us").min().over("_row").alias("_first"))
        .filter(nw.col("time_us") == nw.col("_first"))
        .group_by("_row")
        .agg(
            nw.col("time_us").min().alias("disposition_us"),
            nw.col("reason").min().alias("disposition_reason"),
            nw.col("person").min().alias("disposition_person"),
        )
    )
    disp_flags = {
        "d_unhanded": nw.col("_row").is_null(),
        "d_before": nw.col("before") & ~nw.col("after_as_of"),
        "d_after": nw.col("after_as_of"),
    }
    disp_counts = marked_disp.select(
        *(flag.cast(nw.Int64()).sum().alias(name) for name, flag in disp_flags.items()),
        *(_example(flag, name) for name, flag in disp_flags.items()),
    )
    first_disp_df: pl.DataFrame = first_disp.collect().to_native()
    base = base.join(nw.from_native(first_disp_df.lazy()), on="_row", how="left")

    # -- activities: first response, attempts in the window, the pause ------------------------------------
    kinds = list(fr.activities) if fr is not None else ["call", "email", "meeting"]
    marketers = sorted(
        {p.id for p in people if p.team in {t.id for t in plan.teams_with_function("marketing")}}
    )
    pauses = list(sla.pause_statuses)
    # Each activity is matched to its handed-off lead by id once; everything after that groups by the
    # integer row of the lead.
    handed_cols = ["_row", "handoff_us", "created_us", "attempts_end_us", "disposition_us"]
    acts = activities.select("lead_id", "person", "time_us", "type", "outcome").join(
        base.select("lead_id", *handed_cols), on="lead_id", how="inner"
    )
    after = nw.col("time_us") > now
    early = (nw.col("time_us") < nw.col("created_us")).fill_null(value=False)
    usable = (
        ~after & ~early & (nw.col("time_us") >= nw.col("handoff_us")) & ~nw.col("person").is_in(marketers)
    )
    attempt = usable & nw.col("type").is_in(kinds)
    paused_by = usable & nw.col("outcome").is_in(pauses).fill_null(value=False)
    # Flags first, then plain sums and extremes: conditions shared by several aggregates are computed once.
    at = nw.col("time_us")
    per_lead = (
        acts.with_columns(
            early.alias("_e"),
            attempt.alias("_t"),
            paused_by.alias("_p"),
        )
        .with_columns(
            nw.when(nw.col("_t")).then(at).otherwise(None).alias("_t_time"),
            nw.when(nw.col("_p")).then(at).otherwise(None).alias("_p_time"),
            (nw.col("_t") & (at <= nw.col("attempts_end_us")).fill_null(value=False)).alias("_w"),
            (nw.col("_t") & (at <= nw.col("disposition_us")).fill_null(value=False)).alias("_b"),
        )
        .group_by("_row")
        .agg(
            nw.col("_t_time").min().alias("first_response_us"),
            nw.col("_w").fill_null(value=False).cast(nw.Int64()).sum().alias("attempts"),
            nw.col("_b").fill_null(value=False).cast(nw.Int64()).sum().alias("attempts_before_disposition"),
            nw.col("_p_time").max().alias("pause_from_us"),
            nw.col("_e").cast(nw.Int64()).sum().alias("_early"),
        )
    )
    # Left as a plan: a caller that reads only some per-lead columns (the KPIs) computes only the
    # aggregates those need.
    base = base.join(per_lead, on="_row", how="left").with_columns(
        nw.col("attempts").fill_null(0), nw.col("attempts_before_disposition").fill_null(0)
    )

    # -- statuses at as_of -----------------------------------------------------------------------------
    paused = nw.col("status").is_in(pauses).fill_null(value=False)
    clock_end = (
        nw.when(paused)
        .then(
            nw.when(~nw.col("pause_from_us").is_null())
            .then(nw.col("pause_from_us"))
            .otherwise(nw.col("handoff_us"))
        )
        .otherwise(nw.lit(now))
    )
    base = base.with_columns(paused.alias("paused"), clock_end.cast(nw.Int64()).alias("clock_end_us"))
    base = _with(base, response_pos=clock.position(pl.col("first_response_us")))
    frs, due, end = nw.col("first_response_us"), nw.col("response_due_us"), nw.col("clock_end_us")
    response_status = (
        nw.when(due.is_null())
        .then(nw.lit(None, nw.String()))
        .when(~frs.is_null() & (frs <= due))
        .then(nw.lit("met"))
        .when(~frs.is_null() | (due < end))
        .then(nw.lit("breached"))
        .otherwise(nw.lit("pending"))
    )
    utr = disp.unable_to_reach_reason if disp is not None else None
    outcome_disp = ~nw.col("disposition_us").is_null() & (
        nw.col("disposition_us") <= nw.col("attempts_end_us")
    )
    if utr is not None:
        outcome_disp = outcome_disp & (nw.col("disposition_reason") != utr)
    attempts_status = (
        nw.when(nw.col("attempts_required").is_null() | nw.col("attempts_end_us").is_null())
        .then(nw.lit(None, nw.String()))
        .when((nw.col("attempts") >= nw.col("attempts_required")) | outcome_disp)
        .then(nw.lit("met"))
        .when(nw.col("attempts_end_us") < end)
        .then(nw.lit("breached"))
        .otherwise(nw.lit("pending"))
    )
    dd, dat = nw.col("disposition_due_us"), nw.col("disposition_us")
    disposition_status = (
        nw.when(dd.is_null())
        .then(nw.lit(None, nw.String()))
        .when(~dat.is_null() & (dat <= dd))
        .then(nw.lit("on_time"))
        .when(~dat.is_null())
        .then(nw.lit("late"))
        .when(dd < end)
        .then(nw.lit("missing"))
        .otherwise(nw.lit("pending"))
    )
    early_utr = (
        (nw.col("disposition_reason") == utr)
        & (nw.col("attempts_before_disposition") < nw.col("attempts_required"))
        if utr is not None and att is not None
        else nw.lit(value=False)
    )
    agreed = disp.reasons if disp is not None else []
    base = base.with_columns(
        response_status.alias("response_status"),
        attempts_status.alias("attempts_status"),
        disposition_status.alias("disposition_status"),
        early_utr.fill_null(value=False).alias("unable_to_reach_early"),
        (nw.col("disposition_reason").is_in(agreed) | nw.col("disposition_reason").is_null()).alias(
            "disposition_reason_agreed"
        ),
        ((nw.col("response_pos") - nw.col("handoff_pos")).cast(nw.Float64()) / US_PER_HOUR).alias(
            "first_response_hours"
        ),
    )

    # -- escalation: the last step whose time passed before the response (or the stopped clock) ------------
    stop = nw.when(~frs.is_null()).then(frs).otherwise(end)
    step = nw.lit(None, nw.Int64())
    step_at = nw.lit(None, nw.Int64())
    notify = nw.lit(None, nw.String())
    breached = nw.col("response_status") == "breached"
    for i, s in enumerate(ladder, start=1):
        step_pos = pl.when(pl.col("response_status") == "breached").then(
            pl.col("due_pos") + _hours_us(s.after_hours)
        )
        base = _with(base, **{f"_esc{i}_us": clock.instant(step_pos)})
        reached = breached & (nw.col(f"_esc{i}_us") < stop)
        who = [
            nw.col("owner") if n == "owner" else nw.col("manager") if n == "manager" else nw.lit(n)
            for n in s.notify
        ]
        step = nw.when(reached).then(nw.lit(i)).otherwise(step)
        step_at = nw.when(reached).then(nw.col(f"_esc{i}_us")).otherwise(step_at)
        notify = (
            nw.when(reached).then(nw.concat_str(who, separator=", ", ignore_nulls=True)).otherwise(notify)
        )
    base = base.with_columns(
        step.cast(nw.Int64()).alias("escalation_step"),
        step_at.cast(nw.Int64()).alias("escalation_us"),
        notify.alias("escalation_notify"),
    )

    lead_frame = base.sort("_row").select(
        "lead_id",
        "owner",
        "team",
        "tier",
        _from_us("handoff_us").alias("handoff_at"),
        "handoffs",
        (nw.col("response_target_us").cast(nw.Float64()) / US_PER_HOUR).alias("response_target_hours"),
        _from_us("response_due_us").alias("response_due_at"),
        _from_us("first_response_us").alias("first_response_at"),
        "first_response_hours",
        "response_status",
        "attempts",
        "attempts_required",
        _from_us("attempts_end_us").alias("attempts_window_end"),
        "attempts_status",
        _from_us("disposition_us").alias("disposition_at"),
        "disposition_reason",
        "disposition_reason_agreed",
        _from_us("disposition_due_us").alias("disposition_due_at"),
        "disposition_status",
        "unable_to_reach_early",
        "paused",
        _from_us("clock_end_us").alias("clock_stopped_at"),
        "escalation_step",
        _from_us("escalation_us").alias("escalation_at"),
        "escalation_notify",
        "known",
        "_early",
        "period",
        "week",
    )

    # -- marketing: delivered leads per period and how many sales accepted / qualified -------------------
    volume = sla.marketing.volume
    delivered_stages = [volume.stage] if volume is not None else sorted({t.source for t in handoffs})
    time_us = pl.col("time_us")
    delivered = (
        _with(past_events.filter(nw.col("to").is_in(delivered_stages)), _local=clock.local_date(time_us))
        .with_columns(_period(nw.col("_local"), period).alias("period"))
        .group_by("lead_id", "period")
        .agg(nw.col("time_us").min().alias("delivered_us"), nw.col("_local").min().alias("_local"))
        .with_columns(_period(nw.col("_local"), "week").alias("week"))
        .drop("_local")
    )
    if later:
        last = per_lead_events.select("lead_id", *(f"_{stage}" for stage in later))
        delivered = delivered.join(last, on="lead_id", how="left")
    delivered = delivered.with_columns(
        *(
            (nw.col(f"_{stage}") >= nw.col("delivered_us")).fill_null(value=False).alias(name)
            if stage is not None
            else nw.lit(value=False).alias(name)
            for name, stage in (("accepted", accepted_stage), ("sql", sql_stage))
        )
    ).drop(*(f"_{stage}" for stage in later))

    late = nw.col("time_us") > now
    event_counts = events.select(late.cast(nw.Int64()).sum().alias("e_after"), _example(late, "e_after"))
    activity_counts = activities.select(
        late.cast(nw.Int64()).sum().alias("a_after"), _example(late, "a_after")
    )
    # Activities of leads neither handed off nor in ``leads``: only the counts need them.
    unknown_activities = (
        activities.select("lead_id")
        .join(keys.select("lead_id"), on="lead_id", how="anti")
        .join(lead_cols.select("lead_id"), on="lead_id", how="anti")
        .select(nw.len().alias("a_unknown"), nw.col("lead_id").min().alias("_example_a_unknown"))
    )
    plans = (disp_counts, event_counts, activity_counts, unknown_activities)
    return SLAFrames(
        lead_plan=lead_frame.to_native(),
        delivered_plan=delivered.to_native(),
        count_plans=tuple(p.to_native() for p in plans),
        sla=sla,
        period=period,
        now=now,
        zone=zone,
    )


def _example(flag: nw.Expr, name: str) -> nw.Expr:
    """The smallest lead id of the rows ``flag`` selects: the example of the count ``name``."""
    return nw.when(flag).then(nw.col("lead_id")).min().alias(f"_example_{name}")


def _with(lf: nw.LazyFrame[Any], **columns: pl.Expr) -> nw.LazyFrame[Any]:
    """Add columns computed by native polars expressions (the business clock's binary searches)."""
    native: pl.LazyFrame = lf.to_native()
    return nw.from_native(native.with_columns(**columns))


def _period_pl(local_date: pl.Expr, period: str) -> pl.Expr:
    if period == "week":
        day = local_date.cast(pl.Int32)
        return (day - (day + 3) % 7).cast(pl.Date)  # 1970-01-01 was a Thursday
    return local_date.dt.truncate(_TRUNCATE[period])


def _period(local_date: nw.Expr, period: str) -> nw.Expr:
    """The first day of the period of a local date (weeks start on Monday)."""
    if period == "week":
        day = local_date.cast(nw.Int32())
        return (day - (day + 3) % 7).cast(nw.Date())  # 1970-01-01 was a Thursday
    return local_date.dt.truncate(_TRUNCATE[period])


# --------------------------------------------------------------------------------------------------
# After the reduce: small frames for people (breaches, marketing per period, weekly trend).

_BREACH_SCHEMA = {
    "lead_id": pl.String,
    "owner": pl.String,
    "team": pl.String,
    "tier": pl.String,
    "commitment": pl.String,
    "status": pl.String,
    "due_at": pl.Datetime("us", "UTC"),
    "detail": pl.String,
    "escalation_step": pl.Int64,
    "escalation_notify": pl.String,
}


def ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part / whole``, or null when ``whole`` is 0 (a rate of nothing is unknown, not NaN)."""
    return pl.when(whole > 0).then(part / whole).otherwise(None)


def _hours_text(column: str) -> pl.Expr:
    return pl.col(column).round(2).cast(pl.String)


def _breaches(leads: pl.DataFrame) -> pl.DataFrame:
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
    frames = [p.cast(_BREACH_SCHEMA) for p in parts]  # type: ignore[arg-type]
    return pl.concat(frames).collect()


def _next_period(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _marketing(delivered: pl.DataFrame, sla: SLA, period: str, now: int, zone: str) -> pl.DataFrame:
    """Marketing's side per period: volume against the commitment, acceptance and SQL rates."""
    volume, quality = sla.marketing.volume, sla.marketing.quality
    per = delivered.group_by("period").agg(
        pl.len().cast(pl.Int64).alias("delivered"),
        pl.col("accepted").sum().cast(pl.Int64).alias("accepted"),
        pl.col("sql").sum().cast(pl.Int64).alias("sqls"),
    )
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


def _weekly(leads: pl.DataFrame, delivered: pl.DataFrame) -> pl.DataFrame:
    """Both sides per week (Monday, local): the trend."""
    sales = leads.group_by("week").agg(
        pl.len().cast(pl.Int64).alias("handed_off"),
        *(
            (pl.col(col) == value).sum().cast(pl.Int64).alias(f"{name}")
            for col, value, name in (
                ("response_status", "met", "response_met"),
                ("response_status", "breached", "response_breached"),
                ("disposition_status", "on_time", "disposition_on_time"),
                ("disposition_status", "late", "disposition_late"),
                ("disposition_status", "missing", "disposition_missing"),
            )
        ),
    )
    marketing = delivered.group_by("week").agg(
        pl.len().cast(pl.Int64).alias("delivered"), pl.col("accepted").sum().cast(pl.Int64).alias("accepted")
    )
    counts = [
        "handed_off",
        "response_met",
        "response_breached",
        "disposition_on_time",
        "disposition_late",
        "disposition_missing",
        "delivered",
        "accepted",
    ]
    return (
        sales.join(marketing, on="week", how="full", coalesce=True)
        .with_columns(pl.col(counts).fill_null(0))
        .with_columns(
            ratio(pl.col("response_met"), pl.col("response_met") + pl.col("response_breached")).alias(
                "response_compliance"
            ),
            ratio(
                pl.col("disposition_on_time"),
                pl.col("disposition_on_time") + pl.col("disposition_late") + pl.col("disposition_missing"),
            ).alias("disposition_coverage"),
            ratio(pl.col("accepted"), pl.col("delivered")).alias("acceptance_rate"),
        )
        .sort("week")
    )
