"""The columnar kernel of :func:`smarketing.sla.evaluate_sla`: map per lead, then associative sums.

The kernel never sees the plan: :class:`SLAContext` carries the parts it reads (the SLA, the journey's
handoff transitions, the people and who of them is in marketing), and :func:`smarketing.sla.evaluate_sla`
builds it and makes the plan-level checks. Two entry points share the per-lead steps: :func:`evaluate`
(every table of the report) and :func:`lead_statuses` (the few per-lead columns the KPIs read).

Every step is a narwhals lazy expression or join keyed by ``lead_id`` (handoffs, the lead record, the first
disposition, activity aggregates), so a partition of the data by lead can run the kernel on its own and
the per-period and per-rep counts of the partitions add up. Business time comes from
:class:`~smarketing.frames._calendar.BusinessClock` (as-of joins against the calendar's interval table).

Times are Int64 microseconds since the epoch (UTC) inside the kernel; the public frame converts them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs
import narwhals as nw
import polars as pl

from smarketing.calendar import check_time
from smarketing.errors import DataError, PlanError
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._calendar import BusinessClock, check_years, epoch_us, from_epoch_us
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.sla import _tables

if TYPE_CHECKING:
    from smarketing.sla.model import SLA

__all__ = [
    "COUNTS",
    "OPTIONAL",
    "REQUIRED",
    "DEFAULT_PERIOD",
    "SLAContext",
    "SLAFrames",
    "STATUS_COLUMNS",
    "Span",
    "HOURS_PER_US",
    "US_PER_HOUR",
    "counts_and_examples",
    "evaluate",
    "lead_statuses",
    "past_span",
    "span",
]

US_PER_HOUR = 3_600_000_000
#: Hours are microseconds times this reciprocal: polars divides a column of one value exactly but longer
#: ones by multiplying with the reciprocal, so a division would give another last bit for a partition of
#: one lead than for many; a multiplication gives the same bits for any number of leads.
HOURS_PER_US = 1 / US_PER_HOUR
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
#: The columns each kind must have (public for the scale-out, which reads only these and the optional ones).
REQUIRED, OPTIONAL = _REQUIRED, _OPTIONAL

_TIMES: dict[str, tuple[str, ...]] = {
    "stage_events": ("time",),
    "leads": ("created_at",),
    "activities": ("time",),
    "dispositions": ("time",),
}


@attrs.frozen
class SLAContext:
    """What the kernel reads besides the data: the SLA and the parts of the plan around it.

    Attributes:
        sla: The agreement.
        handoffs: ``(from, to)`` stage ids of the journey's handoff transitions, in plan order; at least one.
        people: ``(id, team, manager)`` of each person of the plan, in plan order.
        marketers: Ids of the people in a marketing team, sorted: their activities are not sales responses.
    """

    sla: SLA
    handoffs: tuple[tuple[str, str], ...]
    people: tuple[tuple[str, str, str | None], ...]
    marketers: tuple[str, ...]


class SLAFrames:
    """What the kernel produces, before :class:`~smarketing.sla.SLAReport` wraps it.

    The kernel materialises the handed-off leads (handoff, lead record, due times) and their first
    dispositions when it is called; everything after that (the activities per lead, the statuses, the
    escalation ladder, marketing's side, breaches, the weekly trend, the counts) is a plan, computed on
    first access and kept. A caller that needs only the per-lead statuses (the KPIs) calls
    :func:`lead_statuses` instead.

    Attributes:
        period: The period of marketing's side (the volume commitment's, else :data:`DEFAULT_PERIOD`).
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
        self.period = period
        self._now = now
        self._zone = zone

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
    def delivered(self) -> pl.DataFrame:
        """Marketing's delivered leads: a lead's first entry into the volume stage per period, its fate."""
        return self._delivered_plan.collect()

    @cached_property
    def breaches(self) -> pl.DataFrame:
        """One row per broken commitment, by commitment, each in lead order."""
        return _tables.breaches(self.leads)

    @cached_property
    def marketing(self) -> pl.DataFrame:
        """Marketing's side per period: volume against the commitment, acceptance and SQL rates."""
        return _tables.marketing(self.delivered, self._sla, self.period, self._now, self._zone)

    @cached_property
    def weekly(self) -> pl.DataFrame:
        """Both sides per week (the trend)."""
        return _tables.weekly(self.leads, self.delivered)

    @cached_property
    def count_row(self) -> dict[str, Any]:
        """Each count of :data:`COUNTS` and its example (``_example_<count>``: the smallest lead id counted).

        Sums and minimums: the rows of partitions of the data by lead add up (:func:`counts_and_examples`).
        """
        c: dict[str, Any] = {}
        for frame in pl.collect_all(list(self._count_plans)):
            c.update(frame.row(0, named=True))
        lead_rows = self._lead_rows
        by_lead = {
            "handoffs_unknown_lead": ~pl.col("known"),
            "activities_before_lead_created": pl.col("_early") > 0,
            "dispositions_unknown_reason": ~pl.col("disposition_reason_agreed"),
        }
        from_lead = lead_rows.select(
            *(
                f.cast(pl.Int64).sum().alias(n)
                for n, f in by_lead.items()
                if n != "activities_before_lead_created"
            ),
            pl.col("_early").sum().cast(pl.Int64).alias("activities_before_lead_created"),
            *(pl.when(f).then(pl.col("lead_id")).min().alias(f"_example_{n}") for n, f in by_lead.items()),
        ).row(0, named=True)
        row: dict[str, Any] = {}
        for name, ours in _COUNT_SOURCES.items():
            row[name] = int((from_lead if ours is None else c)[name if ours is None else ours] or 0)
            example = f"_example_{name}" if ours is None else f"_example_{ours}"
            row[f"_example_{name}"] = (from_lead if ours is None else c)[example]
        return row

    @cached_property
    def examples(self) -> dict[str, str]:
        """For each count that is not zero, the smallest lead id it counts (sorted by count name)."""
        return counts_and_examples(self.count_row)[1]

    @cached_property
    def counts(self) -> dict[str, int]:
        """Facts handled specially, by kind."""
        return counts_and_examples(self.count_row)[0]


#: The counts of facts handled specially, in report order, each with the column of the count plans it is
#: read from (None: from the per-lead frame).
_COUNT_SOURCES: dict[str, str | None] = {
    "handoffs_unknown_lead": None,
    "activities_unknown_lead": "a_unknown",
    "activities_before_lead_created": None,
    "activities_after_as_of": "a_after",
    "dispositions_not_handed_off": "d_unhanded",
    "dispositions_before_handoff": "d_before",
    "dispositions_after_as_of": "d_after",
    "dispositions_unknown_reason": None,
    "stage_events_after_as_of": "e_after",
}

#: The names of the counts of :attr:`SLAFrames.counts`, in order.
COUNTS = tuple(_COUNT_SOURCES)


def counts_and_examples(row: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, str]]:
    """The counts and examples of a row of :attr:`SLAFrames.count_row` (or of their merged sums, minimums)."""
    counts = {name: int(row[name] or 0) for name in COUNTS}
    examples = {
        k: str(row[f"_example_{k}"])
        for k, v in sorted(counts.items())
        if v and row[f"_example_{k}"] is not None
    }
    return counts, examples


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
# The kernel: one entry point for the whole report, one for the per-lead statuses the KPIs read.


#: The range of the past stage events of all the data (microseconds; None: no event), when ``data`` is a
#: partition of it: the business clock covers that range, as it does on the whole data (see :func:`span`).
Span = tuple[int | None, int | None]


def evaluate(context: SLAContext, data: Any, *, as_of: datetime, span: Span | None = None) -> SLAFrames:
    """Evaluate ``context.sla`` on ``data`` at ``as_of``; see :func:`smarketing.sla.evaluate_sla`.

    ``span``: the range of the whole data's past stage events when ``data`` is a partition of it.
    """
    run = _per_lead(context, data, as_of, span)
    sla = context.sla
    base = _with_escalation(run.base, sla, run.clock)
    return SLAFrames(
        lead_plan=base.sort("_row").select(*_lead_columns(_LEAD_FRAME)).to_native(),
        delivered_plan=_delivered(run, context).to_native(),
        count_plans=tuple(p.to_native() for p in _count_plans(run)),
        sla=sla,
        period=run.period,
        now=run.now,
        zone=sla.calendar.timezone,
    )


#: The per-lead columns the SLA metrics of the KPIs read (see :func:`lead_statuses`).
STATUS_COLUMNS = ("lead_id", "handoff_at", "first_response_hours", "response_status", "disposition_status")


def lead_statuses(
    context: SLAContext, data: Any, *, as_of: datetime, span: Span | None = None, columns: Sequence[str] = ()
) -> pl.DataFrame:
    """The columns :data:`STATUS_COLUMNS` of :attr:`SLAFrames.leads`: same rows, same values.

    Only what they need is computed: no escalation ladder, breaches, marketing side or counts. The input
    checks are those of :func:`evaluate`, in the same order, so bad data fails here as it fails there.
    ``columns`` adds internal ones: ``response_us``, the first response in business microseconds (the
    integer that ``first_response_hours`` divides by the hour).
    """
    run = _per_lead(context, data, as_of, span)
    extra = {"response_us": (nw.col("response_pos") - nw.col("handoff_pos")).cast(nw.Int64())}
    statuses: pl.DataFrame = (
        run.base.sort("_row")
        .select(*_lead_columns(STATUS_COLUMNS), *(extra[c].alias(c) for c in columns))
        .collect()
        .to_native()
    )
    return statuses


@attrs.frozen
class _Run:
    """The per-lead plan up to the statuses at ``as_of``, and what the other tables are built from."""

    base: nw.LazyFrame[Any]  # one row per handed-off lead, with ``_row``, in lead order
    clock: BusinessClock
    now: int
    period: str
    events: nw.LazyFrame[Any]
    past_events: nw.LazyFrame[Any]
    per_lead_events: nw.LazyFrame[Any]  # materialised: handoff and last accepted/SQL times per lead
    activities: nw.LazyFrame[Any]
    lead_record: nw.LazyFrame[Any]
    keys: nw.LazyFrame[Any]  # lead_id, _row and handoff_us of each handed-off lead
    disposition_counts: nw.LazyFrame[Any]


def _per_lead(context: SLAContext, data: Any, as_of: datetime, span: Span | None = None) -> _Run:
    """Load and check the data, then build the per-lead frame up to the statuses (the shared steps)."""
    sla = context.sla
    events, leads, activities, dispositions = _load_checked(data)
    # After the data's own checks: an as_of taken from the data (the CLI's latest fact) is then already
    # known good, and a bad time in the data is named by its record rather than as as_of.
    now = epoch_us(check_time(as_of, "as_of"))
    past_events = events.filter(nw.col("time_us") <= now)
    per_lead_events = _events_per_lead(past_events, context)
    lead_record = _lead_record(leads)
    clock = _clock(sla, past_events if span is None else span, now)
    period = sla.marketing.volume.period if sla.marketing.volume is not None else DEFAULT_PERIOD
    handed = per_lead_events.filter(~nw.col("handoff_us").is_null()).select(
        "lead_id", "handoff_us", "handoffs"
    )
    base = _handed_leads(handed, lead_record, context, clock, period)
    keys = base.select("lead_id", "_row", "handoff_us")
    first_disposition, disposition_counts = _first_dispositions(dispositions, keys, now)
    base = base.join(first_disposition, on="_row", how="left")
    # Left as a plan: a caller that reads only some per-lead columns (the KPIs) computes only the
    # aggregates those need.
    base = base.join(
        _activity_aggregates(activities, base, context, now), on="_row", how="left"
    ).with_columns(nw.col("attempts").fill_null(0), nw.col("attempts_before_disposition").fill_null(0))
    base = _with_statuses(base, sla, clock, now)
    return _Run(
        base=base,
        clock=clock,
        now=now,
        period=period,
        events=events,
        past_events=past_events,
        per_lead_events=per_lead_events,
        activities=activities,
        lead_record=lead_record,
        keys=keys,
        disposition_counts=disposition_counts,
    )


def _load_checked(data: Any) -> tuple[nw.LazyFrame[Any], ...]:
    """The four record kinds (events, leads, activities, dispositions), required values checked."""
    frames = tuple(_load(data, kind) for kind in _REQUIRED)
    for kind, lf in zip(_REQUIRED, frames, strict=True):
        _no_nulls(lf, kind, _REQUIRED[kind], "id" if kind == "leads" else "lead_id")
    return frames


def _events_per_lead(past_events: nw.LazyFrame[Any], context: SLAContext) -> nw.LazyFrame[Any]:
    """Per lead, in one pass over the events: the handoff, and the last accepted and SQL stage entries.

    The last times the lead reached the accepted and SQL stages are for marketing's quality. Kept in memory;
    both sides read it.
    """
    handoffs = context.handoffs
    targets = sorted({to for _, to in handoffs})
    is_handoff = nw.any_horizontal(
        *((nw.col("from") == a) & (nw.col("to") == b) for a, b in handoffs),
        nw.col("from").is_null() & nw.col("to").is_in(targets),
        ignore_nulls=True,
    )
    later = _quality_stages(context.sla)
    per_lead: pl.DataFrame = (
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
    )
    return nw.from_native(per_lead.lazy())


def _quality_stages(sla: SLA) -> list[str]:
    """The accepted and SQL stages of marketing's quality commitment that are set, in that order."""
    quality = sla.marketing.quality
    if quality is None:
        return []
    return [s for s in (quality.accepted_stage, quality.sql_stage) if s is not None]


def _lead_record(leads: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    return leads.select(
        nw.col("id").alias("lead_id"),
        "owner",
        "grade",
        "persona",
        "status",
        nw.col("created_at_us").alias("created_us"),
        nw.lit(value=True).alias("known"),
    )


def _people_frame(context: SLAContext) -> nw.LazyFrame[Any]:
    people = context.people
    return nw.from_native(
        pl.LazyFrame(
            {
                "owner": [p[0] for p in people],
                "team": [p[1] for p in people],
                "manager": [p[2] for p in people],
            },
            schema={"owner": pl.String, "team": pl.String, "manager": pl.String},
        )
    )


def _targets(sla: SLA) -> tuple[nw.Expr, nw.Expr, nw.Expr]:
    """The tier of a lead (first match in plan order), its first-response target (us) and minimum attempts."""
    tier = nw.lit(None, nw.String())
    for t in reversed(sla.tiers):
        chosen = nw.col("grade").is_in(t.grades) | nw.col("persona").is_in(t.personas)
        tier = nw.when(chosen.fill_null(value=False)).then(nw.lit(t.id)).otherwise(tier)
    fr, att = sla.sales.first_response, sla.sales.attempts
    target = nw.lit(None if fr is None else _hours_us(fr.within_hours), nw.Int64())
    minimum = nw.lit(None if att is None else att.minimum, nw.Int64())
    for t in sla.tiers:
        if t.first_response_hours is not None:
            target = (
                nw.when(nw.col("tier") == t.id)
                .then(nw.lit(_hours_us(t.first_response_hours)))
                .otherwise(target)
            )
        if t.min_attempts is not None:
            minimum = nw.when(nw.col("tier") == t.id).then(nw.lit(t.min_attempts)).otherwise(minimum)
    return tier, target, minimum


def span(past_events: nw.LazyFrame[Any]) -> Span:
    """The first and last time of the past stage events (microseconds): what the business clock covers."""
    row = past_events.select(
        nw.col("time_us").min().alias("lo"), nw.col("time_us").max().alias("hi")
    ).collect()
    return row.item(0, "lo"), row.item(0, "hi")


def past_span(data: Any, as_of: datetime) -> Span:
    """:func:`span` of the stage events of ``data`` up to ``as_of`` (after their checks)."""
    events = _load(data, "stage_events")
    _no_nulls(events, "stage_events", _REQUIRED["stage_events"], "lead_id")
    now = epoch_us(check_time(as_of, "as_of"))
    return span(events.filter(nw.col("time_us") <= now))


def _clock(sla: SLA, past_events: nw.LazyFrame[Any] | Span, now: int) -> BusinessClock:
    """The business clock over the range the data (or the given span) and the longest due times need."""
    lo_us, hi_us = past_events if isinstance(past_events, tuple) else span(past_events)
    lo_us = now if lo_us is None else min(lo_us, now)
    hi_us = now if hi_us is None else max(hi_us, now)
    fr, att, disp = sla.sales.first_response, sla.sales.attempts, sla.sales.disposition
    default_target = None if fr is None else _hours_us(fr.within_hours)
    longest = max(
        [_hours_us(t.first_response_hours) for t in sla.tiers if t.first_response_hours is not None]
        + ([default_target] if default_target is not None else [0])
    )
    longest += max((_hours_us(s.after_hours) for s in sla.escalation), default=0)
    longest_days = max([att.within_business_days if att else 0, disp.within_business_days if disp else 0])
    try:
        return BusinessClock.covering(
            sla.calendar,
            from_epoch_us(lo_us),
            from_epoch_us(hi_us),
            duration=timedelta(microseconds=longest),
            days=longest_days,
        )
    except DataError:  # times the calendar cannot reach (years without holiday tables)
        raise
    except ValueError as error:  # a calendar whose open time runs out (only a few extra open dates)
        # Known only once the data's range is read, so raised here rather than by evaluate_sla's checks.
        raise PlanError(f"{error}; the SLA's clocks cannot run", path="sla.calendar") from None


def _handed_leads(
    handed: nw.LazyFrame[Any],
    lead_record: nw.LazyFrame[Any],
    context: SLAContext,
    clock: BusinessClock,
    period: str,
) -> nw.LazyFrame[Any]:
    """Handed-off leads with their record, team, tier, targets and due times, materialised in lead order.

    Each row gets an integer key ``_row``: the dispositions and the activities are matched to it once by
    lead id, and everything after that joins on the integer. A lead id seen twice is a DataError.
    """
    sla = context.sla
    att, disp = sla.sales.attempts, sla.sales.disposition
    tier, target, minimum = _targets(sla)
    handoff = pl.col("handoff_us")
    local = clock.local_date(handoff)
    base_lf = _with(
        handed.join(lead_record, on="lead_id", how="left")
        .join(_people_frame(context), on="owner", how="left")
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
    base_df: pl.DataFrame = base_lf.collect().to_native().sort("lead_id")
    twice = base_df.filter(pl.col("lead_id") == pl.col("lead_id").shift(1)).head(1)
    if twice.height:
        raise DataError(
            "lead id appears more than once", record=twice.item(0, "lead_id"), field="id", kind="lead"
        )
    return nw.from_native(base_df.with_row_index("_row").lazy())


def _first_dispositions(
    dispositions: nw.LazyFrame[Any], keys: nw.LazyFrame[Any], now: int
) -> tuple[nw.LazyFrame[Any], nw.LazyFrame[Any]]:
    """The first disposition at or after each lead's handoff, and the plan of the disposition counts.

    The first dispositions are materialised, keyed by ``_row``; the counts are of dispositions of leads not
    handed off, before the handoff and after ``as_of``.
    """
    marked = dispositions.join(keys, on="lead_id", how="left").with_columns(
        (nw.col("time_us") > now).alias("after_as_of"),
        (~nw.col("handoff_us").is_null() & (nw.col("time_us") < nw.col("handoff_us"))).alias("before"),
    )
    first = (
        marked.filter(
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
    flags = {
        "d_unhanded": nw.col("_row").is_null(),
        "d_before": nw.col("before") & ~nw.col("after_as_of"),
        "d_after": nw.col("after_as_of"),
    }
    counts = marked.select(
        *(flag.cast(nw.Int64()).sum().alias(name) for name, flag in flags.items()),
        *(_example(flag, name) for name, flag in flags.items()),
    )
    first_df: pl.DataFrame = first.collect().to_native()
    return nw.from_native(first_df.lazy()), counts


def _activity_aggregates(
    activities: nw.LazyFrame[Any], base: nw.LazyFrame[Any], context: SLAContext, now: int
) -> nw.LazyFrame[Any]:
    """Activity aggregates per handed-off lead (``_row``), as a plan.

    The first response, the attempts in the window and before the disposition, the latest pausing activity,
    and the number of activities before the lead was created (``_early``).
    """
    sla = context.sla
    fr = sla.sales.first_response
    kinds = list(fr.activities) if fr is not None else ["call", "email", "meeting"]
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
        ~after
        & ~early
        & (nw.col("time_us") >= nw.col("handoff_us"))
        & ~nw.col("person").is_in(list(context.marketers))
    )
    attempt = usable & nw.col("type").is_in(kinds)
    paused_by = usable & nw.col("outcome").is_in(pauses).fill_null(value=False)
    # Flags first, then plain sums and extremes: conditions shared by several aggregates are computed once.
    at = nw.col("time_us")
    return (
        acts.with_columns(
            early.alias("_early_flag"),
            attempt.alias("_attempt"),
            paused_by.alias("_pause"),
        )
        .with_columns(
            nw.when(nw.col("_attempt")).then(at).otherwise(None).alias("_attempt_time"),
            nw.when(nw.col("_pause")).then(at).otherwise(None).alias("_pause_time"),
            (nw.col("_attempt") & (at <= nw.col("attempts_end_us")).fill_null(value=False)).alias(
                "_in_window"
            ),
            (nw.col("_attempt") & (at <= nw.col("disposition_us")).fill_null(value=False)).alias(
                "_before_disposition"
            ),
        )
        .group_by("_row")
        .agg(
            nw.col("_attempt_time").min().alias("first_response_us"),
            nw.col("_in_window").fill_null(value=False).cast(nw.Int64()).sum().alias("attempts"),
            nw.col("_before_disposition")
            .fill_null(value=False)
            .cast(nw.Int64())
            .sum()
            .alias("attempts_before_disposition"),
            nw.col("_pause_time").max().alias("pause_from_us"),
            nw.col("_early_flag").cast(nw.Int64()).sum().alias("_early"),
        )
    )


def _with_statuses(base: nw.LazyFrame[Any], sla: SLA, clock: BusinessClock, now: int) -> nw.LazyFrame[Any]:
    """Add each commitment's status at ``as_of``, with the pause and the stopped clock they depend on.

    Also the early "unable to reach" flag, whether the disposition reason is agreed, and the first response
    in business hours.
    """
    att, disp = sla.sales.attempts, sla.sales.disposition
    pauses = list(sla.pause_statuses)
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
    utr = disp.unable_to_reach_reason if disp is not None else None
    early_utr = (
        (nw.col("disposition_reason") == utr)
        & (nw.col("attempts_before_disposition") < nw.col("attempts_required"))
        if utr is not None and att is not None
        else nw.lit(value=False)
    )
    agreed = disp.reasons if disp is not None else []
    return base.with_columns(
        _response_status().alias("response_status"),
        _attempts_status(utr).alias("attempts_status"),
        _disposition_status().alias("disposition_status"),
        early_utr.fill_null(value=False).alias("unable_to_reach_early"),
        (nw.col("disposition_reason").is_in(agreed) | nw.col("disposition_reason").is_null()).alias(
            "disposition_reason_agreed"
        ),
        ((nw.col("response_pos") - nw.col("handoff_pos")).cast(nw.Float64()) * HOURS_PER_US).alias(
            "first_response_hours"
        ),
    )


def _response_status() -> nw.Expr:
    """The first-response status: ``met``, ``breached``, ``pending``, or null without the commitment.

    ``met`` when the first response came by its due time, ``breached`` when it came late or the due time
    passed before the clock stopped.
    """
    frs, due, end = nw.col("first_response_us"), nw.col("response_due_us"), nw.col("clock_end_us")
    return (
        nw.when(due.is_null())
        .then(nw.lit(None, nw.String()))
        .when(~frs.is_null() & (frs <= due))
        .then(nw.lit("met"))
        .when(~frs.is_null() | (due < end))
        .then(nw.lit("breached"))
        .otherwise(nw.lit("pending"))
    )


def _attempts_status(unable_to_reach: str | None) -> nw.Expr:
    """The attempts status: ``met``, ``breached``, ``pending``, or null without the commitment.

    ``met`` when the minimum attempts were reached in the window or a disposition other than "unable to
    reach" came inside it, ``breached`` when the window closed before the clock stopped.
    """
    outcome_disp = ~nw.col("disposition_us").is_null() & (
        nw.col("disposition_us") <= nw.col("attempts_end_us")
    )
    if unable_to_reach is not None:
        outcome_disp = outcome_disp & (nw.col("disposition_reason") != unable_to_reach)
    return (
        nw.when(nw.col("attempts_required").is_null() | nw.col("attempts_end_us").is_null())
        .then(nw.lit(None, nw.String()))
        .when((nw.col("attempts") >= nw.col("attempts_required")) | outcome_disp)
        .then(nw.lit("met"))
        .when(nw.col("attempts_end_us") < nw.col("clock_end_us"))
        .then(nw.lit("breached"))
        .otherwise(nw.lit("pending"))
    )


def _disposition_status() -> nw.Expr:
    """The disposition status: ``on_time``, ``late``, ``missing``, ``pending``, or null without a deadline.

    ``on_time`` or ``late`` by the first disposition against its deadline, ``missing`` when the deadline
    passed before the clock stopped without one.
    """
    dd, dat = nw.col("disposition_due_us"), nw.col("disposition_us")
    return (
        nw.when(dd.is_null())
        .then(nw.lit(None, nw.String()))
        .when(~dat.is_null() & (dat <= dd))
        .then(nw.lit("on_time"))
        .when(~dat.is_null())
        .then(nw.lit("late"))
        .when(dd < nw.col("clock_end_us"))
        .then(nw.lit("missing"))
        .otherwise(nw.lit("pending"))
    )


def _with_escalation(base: nw.LazyFrame[Any], sla: SLA, clock: BusinessClock) -> nw.LazyFrame[Any]:
    """Add the escalation columns: the step reached, when, and whom it notifies.

    The step is the last one whose time passed before the response (or the stopped clock) of a breached
    first response.
    """
    ladder = sorted(sla.escalation, key=lambda s: s.after_hours)
    frs, end = nw.col("first_response_us"), nw.col("clock_end_us")
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
    return base.with_columns(
        step.cast(nw.Int64()).alias("escalation_step"),
        step_at.cast(nw.Int64()).alias("escalation_us"),
        notify.alias("escalation_notify"),
    )


#: The columns of the per-lead frame, in order, with the internal ``known`` and ``_early`` (for the counts).
_LEAD_FRAME = (
    "lead_id",
    "owner",
    "team",
    "tier",
    "handoff_at",
    "handoffs",
    "response_target_hours",
    "response_due_at",
    "first_response_at",
    "first_response_hours",
    "response_status",
    "attempts",
    "attempts_required",
    "attempts_window_end",
    "attempts_status",
    "disposition_at",
    "disposition_reason",
    "disposition_reason_agreed",
    "disposition_due_at",
    "disposition_status",
    "unable_to_reach_early",
    "paused",
    "clock_stopped_at",
    "escalation_step",
    "escalation_at",
    "escalation_notify",
    "known",
    "_early",
    "period",
    "week",
)

#: Public per-lead columns computed from internal ones: times in microseconds become UTC datetimes.
_DERIVED: dict[str, nw.Expr] = {
    "handoff_at": _from_us("handoff_us"),
    "response_target_hours": nw.col("response_target_us").cast(nw.Float64()) * HOURS_PER_US,
    "response_due_at": _from_us("response_due_us"),
    "first_response_at": _from_us("first_response_us"),
    "attempts_window_end": _from_us("attempts_end_us"),
    "disposition_at": _from_us("disposition_us"),
    "disposition_due_at": _from_us("disposition_due_us"),
    "clock_stopped_at": _from_us("clock_end_us"),
    "escalation_at": _from_us("escalation_us"),
}


def _lead_columns(names: Sequence[str]) -> list[nw.Expr | str]:
    """The expressions that select ``names`` of the per-lead frame from the kernel's working frame."""
    return [_DERIVED[name].alias(name) if name in _DERIVED else name for name in names]


def _delivered(run: _Run, context: SLAContext) -> nw.LazyFrame[Any]:
    """Marketing's delivered leads per lead and period, as a plan.

    Each row is a lead's first entry into the volume stage in a period (the handoff's source stages without
    a volume commitment), its week, and whether the lead later reached the accepted and SQL stages.
    """
    sla = context.sla
    volume = sla.marketing.volume
    delivered_stages = (
        [volume.stage] if volume is not None else sorted({source for source, _ in context.handoffs})
    )
    time_us = pl.col("time_us")
    delivered = (
        _with(
            run.past_events.filter(nw.col("to").is_in(delivered_stages)), _local=run.clock.local_date(time_us)
        )
        .with_columns(_period(nw.col("_local"), run.period).alias("period"))
        .group_by("lead_id", "period")
        .agg(nw.col("time_us").min().alias("delivered_us"), nw.col("_local").min().alias("_local"))
        .with_columns(_period(nw.col("_local"), "week").alias("week"))
        .drop("_local")
    )
    later = _quality_stages(sla)
    if later:
        last = run.per_lead_events.select("lead_id", *(f"_{stage}" for stage in later))
        delivered = delivered.join(last, on="lead_id", how="left")
    quality = sla.marketing.quality
    accepted_stage = quality.accepted_stage if quality is not None else None
    sql_stage = quality.sql_stage if quality is not None else None
    return delivered.with_columns(
        *(
            (nw.col(f"_{stage}") >= nw.col("delivered_us")).fill_null(value=False).alias(name)
            if stage is not None
            else nw.lit(value=False).alias(name)
            for name, stage in (("accepted", accepted_stage), ("sql", sql_stage))
        )
    ).drop(*(f"_{stage}" for stage in later))


def _count_plans(run: _Run) -> tuple[nw.LazyFrame[Any], ...]:
    """One-row plans counting the facts handled specially, each with the smallest lead id it counts.

    Dispositions (not handed off, before the handoff, after ``as_of``), events and activities after
    ``as_of``, and activities of unknown leads.
    """
    late = nw.col("time_us") > run.now
    event_counts = run.events.select(late.cast(nw.Int64()).sum().alias("e_after"), _example(late, "e_after"))
    activity_counts = run.activities.select(
        late.cast(nw.Int64()).sum().alias("a_after"), _example(late, "a_after")
    )
    # Activities of leads neither handed off nor in ``leads``: only the counts need them.
    unknown_activities = (
        run.activities.select("lead_id")
        .join(run.keys.select("lead_id"), on="lead_id", how="anti")
        .join(run.lead_record.select("lead_id"), on="lead_id", how="anti")
        .select(nw.len().alias("a_unknown"), nw.col("lead_id").min().alias("_example_a_unknown"))
    )
    return (run.disposition_counts, event_counts, activity_counts, unknown_activities)


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
