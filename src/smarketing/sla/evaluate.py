"""The two-sided service level agreement between marketing and sales.

Marketing commits to lead volume and quality; sales commits to how fast and how hard it works each handed-off
lead and to telling marketing what happened (the disposition). Targets run in business time on a
:class:`~smarketing.calendar.BusinessCalendar`, can differ by tier (lead grade or persona), and breaches climb
an escalation ladder.

Examples:
    >>> from smarketing.sla import SLA
    >>> sla = SLA.model_validate(
    ...     {
    ...         "calendar": {"timezone": "America/New_York"},
    ...         "sales": {"first_response": {"within_hours": 4}},
    ...     }
    ... )
    >>> sla.sales.first_response.within_hours
    Decimal('4')
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, Self

import attrs
import polars as pl
from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Hours, Id, Period, PositiveCount, PositiveWholeDays, Rate, Text
from smarketing.calendar import BusinessCalendar
from smarketing.sla import _kernel as _sla

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = [
    "ActivityKind",
    "AttemptsCommitment",
    "DispositionCommitment",
    "EscalationStep",
    "FirstResponseCommitment",
    "MarketingCommitments",
    "QualityCommitment",
    "SLA",
    "SLAReport",
    "SLATier",
    "SalesCommitments",
    "VolumeCommitment",
    "evaluate_sla",
]

ActivityKind = Literal["call", "email", "meeting", "social", "sms", "other"]


def _default_response_activities() -> list[ActivityKind]:
    return ["call", "email", "meeting"]


class VolumeCommitment(FrozenModel):
    """Marketing: how many leads reach ``stage`` per period."""

    stage: Id = Field(description="Stage whose entries count as delivered leads (e.g. 'mql').")
    count: PositiveCount = Field(description="Leads promised per period.")
    period: Period = Field(default="month", description="Period the count applies to.")


class QualityCommitment(FrozenModel):
    """Marketing: how many delivered leads sales accepts."""

    accepted_stage: Id = Field(description="Stage that means sales accepted the lead (e.g. 'sal').")
    min_acceptance_rate: Rate = Field(description="Smallest share of handed-off leads that sales accepts.")
    sql_stage: Id | None = Field(default=None, description="Stage counted as an SQL.")
    min_sql_rate: Rate | None = Field(
        default=None, description="Smallest share of handed-off leads that become SQLs."
    )


class MarketingCommitments(FrozenModel):
    """Marketing's side of the agreement."""

    volume: VolumeCommitment | None = Field(default=None, description="Lead volume promise.")
    quality: QualityCommitment | None = Field(default=None, description="Lead quality promise.")


class FirstResponseCommitment(FrozenModel):
    """Sales: first qualifying activity within a number of business hours of the handoff."""

    within_hours: Hours = Field(description="Business hours allowed.")
    activities: list[ActivityKind] = Field(
        default_factory=_default_response_activities,
        min_length=1,
        description="Activity kinds that count as a response.",
    )


class AttemptsCommitment(FrozenModel):
    """Sales: a minimum number of contact attempts within a window of business days."""

    minimum: PositiveCount = Field(description="Attempts required.")
    within_business_days: PositiveWholeDays = Field(description="Window, from the handoff.")


class DispositionCommitment(FrozenModel):
    """Sales: record an outcome with a reason from an agreed list within a deadline."""

    within_business_days: PositiveWholeDays = Field(description="Deadline, from the handoff.")
    reasons: list[Text] = Field(min_length=1, description="Agreed disposition reasons.")
    unable_to_reach_reason: Text | None = Field(
        default=None,
        description="The reason that means 'could not reach'; it needs the minimum attempts first.",
    )

    @model_validator(mode="after")
    def _reason_listed(self) -> Self:
        if self.unable_to_reach_reason is not None and self.unable_to_reach_reason not in (self.reasons):
            raise ValueError(
                f"unable_to_reach_reason {self.unable_to_reach_reason!r} is not one of the reasons"
            )
        return self


class SalesCommitments(FrozenModel):
    """Sales' side of the agreement."""

    first_response: FirstResponseCommitment | None = Field(
        default=None, description="Speed of the first response."
    )
    attempts: AttemptsCommitment | None = Field(default=None, description="Depth of follow-up.")
    disposition: DispositionCommitment | None = Field(
        default=None, description="Closed-loop feedback to marketing."
    )


class SLATier(FrozenModel):
    """Targets for a subset of leads, chosen by grade or persona; unset targets use the defaults."""

    id: Id = Field(description="Tier id.")
    grades: list[Id] = Field(default_factory=list, description="Lead grades in the tier.")
    personas: list[Id] = Field(default_factory=list, description="Persona ids in the tier.")
    first_response_hours: Hours | None = Field(
        default=None, description="First-response target for the tier."
    )
    min_attempts: PositiveCount | None = Field(default=None, description="Attempts for the tier.")

    @model_validator(mode="after")
    def _selects(self) -> Self:
        if not self.grades and not self.personas:
            raise ValueError("a tier selects leads by grades or personas; give at least one")
        return self


class EscalationStep(FrozenModel):
    """Who hears of a breach, and when (business hours past the due time)."""

    after_hours: Hours = Field(description="Business hours past due.")
    notify: list[Id] = Field(
        min_length=1,
        description="Person ids, or 'owner' (the lead owner) and 'manager' (the owner's manager).",
    )
    action: str = Field(default="", description="What is expected of them.")


class SLA(FrozenModel):
    """The agreement both teams sign."""

    calendar: BusinessCalendar = Field(description="When the SLA clocks run.")
    marketing: MarketingCommitments = Field(
        default_factory=MarketingCommitments, description="Marketing's commitments."
    )
    sales: SalesCommitments = Field(default_factory=SalesCommitments, description="Sales' commitments.")
    tiers: list[SLATier] = Field(default_factory=list, description="Targets by grade or persona.")
    escalation: list[EscalationStep] = Field(
        default_factory=list, description="Escalation ladder, earliest step first."
    )
    pause_statuses: list[Text] = Field(
        default_factory=list,
        description="Lead statuses that stop the clock (e.g. 'asked_to_call_later').",
    )


# --------------------------------------------------------------------------------------------------
# Evaluation.

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

_HTML_ROWS = 20


def _compliance(leads: pl.DataFrame, by: str) -> pl.DataFrame:
    sums = leads.group_by(by).agg(
        pl.len().cast(pl.Int64).alias("handed_off"),
        *((pl.col(col) == value).sum().cast(pl.Int64).alias(name) for col, value, name in _COUNTS),
        pl.col("unable_to_reach_early").sum().cast(pl.Int64).alias("unable_to_reach_early"),
    )
    return sums.with_columns(
        _sla.ratio(pl.col("response_met"), pl.col("response_met") + pl.col("response_breached")).alias(
            "response_compliance"
        ),
        _sla.ratio(pl.col("attempts_met"), pl.col("attempts_met") + pl.col("attempts_breached")).alias(
            "attempts_compliance"
        ),
        _sla.ratio(
            pl.col("disposition_on_time"),
            pl.col("disposition_on_time") + pl.col("disposition_late") + pl.col("disposition_missing"),
        ).alias("disposition_coverage"),
    ).sort(by, nulls_last=True)


def _percent(part: int, whole: int) -> str:
    return f"{round(Fraction(100 * part, whole))}%" if whole else "n/a"


def _rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _share(frame: pl.DataFrame, good: str, *bad: str) -> tuple[int, int]:
    met = int(frame[good].sum()) if frame.height else 0
    total = met + sum(int(frame[b].sum()) for b in bad) if frame.height else 0
    return met, total


@attrs.frozen(repr=False)
class SLAReport:
    """Both sides of the SLA evaluated at ``as_of``: per-lead rows, breaches, compliance and a summary.

    Attributes:
        as_of: The instant the report describes; later facts were left out.
        leads: One row per handed-off lead (see :func:`evaluate_sla` for the columns).
        breaches: One row per broken commitment with the reason in words, grouped by commitment
            (first response, attempts, disposition, then flags), each in lead order.
        marketing: Marketing's side per period: volume against the commitment, acceptance and SQL rates.
        by_rep: Sales compliance per lead owner (counts and rates).
        by_team: Sales compliance per owner's team.
        by_period: Sales compliance per period of the handoff.
        weekly: Both sides per week (the trend).
        counts: Facts handled specially, by kind (unknown leads, activities before a lead existed, ...).
        summary: Both sides in two sentences.
        examples: For each count that is not zero, the smallest lead id it counts, so that no fact is
            left out without a lead to look at.
    """

    as_of: datetime
    leads: pl.DataFrame
    breaches: pl.DataFrame
    marketing: pl.DataFrame
    by_rep: pl.DataFrame
    by_team: pl.DataFrame
    by_period: pl.DataFrame
    weekly: pl.DataFrame
    counts: Mapping[str, int]
    summary: str
    examples: Mapping[str, str] = attrs.field(factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """The per-lead rows as a polars DataFrame.

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> report.to_frame().columns[:5]
            ['lead_id', 'owner', 'team', 'tier', 'handoff_at']
        """
        return self.leads

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready Python values (times as ISO 8601 text).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> data = report.to_dict()
            >>> data["marketing"][0]["period"], data["counts"]["activities_unknown_lead"]
            ('2026-10-01', 0)
        """
        return {
            "as_of": self.as_of.isoformat(),
            "summary": self.summary,
            "counts": dict(self.counts),
            # Only when something was counted: a report on clean data reads as it always did.
            **({"examples": dict(self.examples)} if self.examples else {}),
            **{
                name: _json_rows(getattr(self, name))
                for name in ("leads", "breaches", "marketing", "by_rep", "by_team", "by_period", "weekly")
            },
        }

    def __repr__(self) -> str:
        return (
            f"SLAReport(as_of={self.as_of.isoformat()}, leads={self.leads.height}, "
            f"breaches={self.breaches.height})\n{self.summary}"
        )

    def _repr_html_(self) -> str:
        head = self.leads.head(_HTML_ROWS)
        more = self.leads.height - head.height
        note = f"<p>{more:,} more lead(s) not shown; use <code>to_frame()</code>.</p>" if more > 0 else ""
        return f"<p>{html.escape(self.summary)}</p>{head._repr_html_()}{note}"


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime | date):
                row[key] = value.isoformat()
    return rows


def evaluate_sla(plan: AlignmentPlan, data: Any, *, as_of: datetime) -> SLAReport:
    """Evaluate both sides of the plan's SLA on CRM data, as it stood at ``as_of``.

    **Sales**, per handed-off lead. The clock *starts* at the lead's first stage event of a handoff
    transition of the journey (an event without ``from`` counts when its ``to`` is a handoff target). Each
    commitment then runs in business time on the SLA's calendar and *stops* when it is kept:

    - first response: the first activity of a response kind (``sales.first_response.activities``) at or
      after the handoff, by anyone not in a marketing team, within the tier's hours;
    - attempts: activities of those kinds within ``within_business_days`` (to the close of the n-th open
      day after the handoff day); kept when the minimum is reached, or when the lead gets a disposition
      other than "unable to reach" inside the window;
    - disposition: the first disposition at or after the handoff, by its deadline in business days.

    A commitment is ``met`` (``on_time``) when kept by its due time, ``breached`` (``late``/``missing``)
    when kept late or not kept and the due time has passed, and ``pending`` otherwise. A lead whose
    current ``status`` is one of ``pause_statuses`` has its clocks *paused*: they stopped at its latest
    activity with that outcome (or at the handoff if there is none), so what was not yet due then stays
    pending. Tiers (first match in plan order, by grade or persona) choose the response hours and the
    minimum attempts. An escalation step is reached when its time (``after_hours`` of business time past
    the response due time) came before the response or the stopped clock; ``escalation_notify`` names who
    would have been told (``owner``, the owner's ``manager`` from the plan, or people by id).

    **Marketing**, per period of the volume commitment (default month, in the calendar's zone): leads
    that entered the volume stage (the handoff's source stages without a volume commitment), the
    commitment and the shortfall, and the share of those leads that later reached the accepted stage and
    the SQL stage, against the quality commitment (compared exactly, in integers).

    Facts after ``as_of`` are left out and counted. Activities of leads that are neither in ``leads`` nor
    handed off, activities before their lead was created, dispositions before the handoff or of leads never
    handed off are not used and are counted in ``SLAReport.counts``; a handed-off lead missing from
    ``leads`` is evaluated without owner and tier and counted; a disposition reason outside the agreed list
    is flagged in ``breaches`` and counted. Nothing is dropped silently.

    Args:
        plan: The alignment plan; its ``sla``, journey handoffs, people and teams are used.
        data: A :class:`~smarketing.records.Dataset`, or a mapping of record kind (``"leads"``,
            ``"stage_events"``, ``"activities"``, ``"dispositions"``) to records or a dataframe of any
            library narwhals supports (polars by default).
        as_of: The timezone-aware instant to evaluate at, in any time zone.

    Returns:
        The report; ``report.leads`` has one row per handed-off lead with ``lead_id``, ``owner``, ``team``,
        ``tier``, ``handoff_at``, ``first_response_at``, ``first_response_hours`` (business hours),
        ``response_status``, ``attempts`` (within the window), ``attempts_status``, ``disposition_at``,
        ``disposition_reason``, ``disposition_status``, due times, ``paused``, the escalation columns,
        ``period`` and ``week``. Times are UTC.

    Raises:
        PlanError: The plan has no SLA or the journey no handoff transition.
        DataError: A column is missing or not a timezone-aware datetime, a time lies outside the years 1900
            to 2199, a required value is missing (the message names the record), a handed-off lead
            appears twice in ``leads``, ``as_of`` is not an aware datetime in those years (any time zone
            is accepted), or the calendar needs public holidays of a year its holiday source does not cover.

    Examples:
        Two leads handed to sales on Monday 5 October 2026 at 10:00 Berlin time (the example plan's calendar
        opens 08:00-12:30 and 13:30-17:30). Nina calls hers at 13:00 her time: 2.5 business hours, within the
        4-hour default. Felix's lead is grade A, so the ``hot`` tier gives him 1 hour; nobody calls, and by
        Friday the third escalation step (24 business hours past due, Thursday 09:30) has been reached.

        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> def utc(day, hour):
        ...     return datetime(2026, 10, day, hour, tzinfo=timezone.utc)
        >>> data = {
        ...     "leads": [
        ...         sm.Lead(id="L1", created_at=utc(1, 8), owner="nina.brandt", grade="B"),
        ...         sm.Lead(id="L2", created_at=utc(1, 8), owner="felix.roth", grade="A"),
        ...     ],
        ...     "stage_events": [
        ...         sm.StageEvent(lead_id=x, source="mql", to="sal", time=utc(5, 8)) for x in ("L1", "L2")
        ...     ],
        ...     "activities": [
        ...         sm.Activity(id="A1", lead_id="L1", person="nina.brandt", time=utc(5, 11), type="call")
        ...     ],
        ... }
        >>> report = sm.evaluate_sla(plan, data, as_of=utc(9, 12))
        >>> report.leads.select("lead_id", "tier", "first_response_hours", "response_status").rows()
        [('L1', None, 2.5, 'met'), ('L2', 'hot', None, 'breached')]
        >>> report.leads.select("escalation_step", "escalation_at", "escalation_notify").row(1)
        (3, datetime.datetime(2026, 10, 8, 7, 30, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 'ida.moreau')
        >>> print(report.summary)  # doctest: +NORMALIZE_WHITESPACE
        SLA as of 2026-10-09 12:00 UTC: sales met 50% of first-response commitments (1 of 2), no attempt
        window closed yet and no disposition due yet; marketing delivered 0% of the MQL volume (0 of ... in
        the month so far) at n/a acceptance against 70% committed and n/a SQLs against 35%.
    """
    frames = _sla.evaluate(plan, data, as_of=as_of)
    assert plan.sla is not None  # checked by the kernel
    leads = frames.leads
    period = (
        plan.sla.marketing.volume.period if plan.sla.marketing.volume is not None else _sla.DEFAULT_PERIOD
    )
    by_period = _compliance(leads, "period")
    return SLAReport(
        as_of=as_of,
        leads=leads,
        breaches=frames.breaches,
        marketing=frames.marketing,
        by_rep=_compliance(leads, "owner"),
        by_team=_compliance(leads, "team"),
        by_period=by_period,
        weekly=frames.weekly,
        counts=frames.counts,
        summary=_summary(
            plan,
            leads,
            by_period=by_period,
            marketing=frames.marketing,
            counts=frames.counts,
            as_of=as_of,
            period=period,
            examples=frames.examples,
        ),
        examples=frames.examples,
    )


def _summary(
    plan: AlignmentPlan,
    leads: pl.DataFrame,
    *,
    by_period: pl.DataFrame,
    marketing: pl.DataFrame,
    counts: Mapping[str, int],
    as_of: datetime,
    period: str,
    examples: Mapping[str, str],
) -> str:
    assert plan.sla is not None
    sla = plan.sla
    totals = by_period  # counts add up over periods (an associative reduce)
    sales: list[str] = []
    if sla.sales.first_response is not None:
        met, total = _share(totals, "response_met", "response_breached")
        pending = int(totals["response_pending"].sum()) if totals.height else 0
        sales.append(
            f"{_percent(met, total)} of first-response commitments ({met:,} of {total:,}"
            + (f"; {pending:,} pending)" if pending else ")")
        )
    if sla.sales.attempts is not None:
        met, total = _share(totals, "attempts_met", "attempts_breached")
        sales.append(
            f"{_percent(met, total)} of attempt commitments" if total else "no attempt window closed yet"
        )
    if sla.sales.disposition is not None:
        met, total = _share(totals, "disposition_on_time", "disposition_late", "disposition_missing")
        sales.append(
            f"{_percent(met, total)} of disposition deadlines" if total else "no disposition due yet"
        )
    text = "sales met " + (", ".join(sales[:-1]) + " and " + sales[-1] if len(sales) > 1 else "".join(sales))
    if not sales:
        text = f"sales handed {leads.height:,} leads (no sales commitments)"
    early = int(totals["unable_to_reach_early"].sum()) if totals.height else 0
    if early:
        text += f"; {early:,} 'unable to reach' before the required attempts"

    volume, quality = sla.marketing.volume, sla.marketing.quality
    complete = marketing.filter(pl.col("complete"))
    scope = complete if complete.height else marketing
    scope_note = (
        f" over {scope.height} complete {period}(s)" if complete.height else f" in the {period} so far"
    )
    delivered = int(scope["delivered"].sum()) if scope.height else 0
    parts: list[str] = []
    if volume is not None:
        stage = plan.journey.stage(volume.stage)
        label = stage.kind.upper() if stage.kind in ("mql", "sal", "sql") else stage.name
        committed = volume.count * scope.height
        parts.append(
            f"delivered {_percent(delivered, committed)} of the {label} volume "
            f"({delivered:,} of {committed:,}{scope_note})"
        )
    else:
        parts.append(f"delivered {delivered:,} leads{scope_note}")
    if quality is not None:
        accepted = int(scope["accepted"].sum()) if scope.height else 0
        parts.append(
            f"at {_percent(accepted, delivered)} acceptance against "
            f"{_rate_text(quality.min_acceptance_rate)} committed"
        )
        if quality.min_sql_rate is not None:
            sqls = int(scope["sqls"].sum()) if scope.height else 0
            committed_sql = _rate_text(quality.min_sql_rate)
            parts.append(f"and {_percent(sqls, delivered)} SQLs against {committed_sql}")
    text += "; marketing " + " ".join(parts)
    handled = {k: v for k, v in counts.items() if v}
    if handled:
        text += (
            " (not used: "
            + ", ".join(
                f"{v:,} {k.replace('_', ' ')}" + (f" (e.g. lead {examples[k]})" if k in examples else "")
                for k, v in handled.items()
            )
            + ")"
        )
    return f"SLA as of {as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {text}."
