"""The public verb of the SLA: :func:`evaluate_sla` evaluates both sides of a plan's SLA on CRM data.

It unpacks the plan into what the kernel (:mod:`smarketing.sla._kernel`) reads, makes the plan-level checks,
and wraps the kernel's tables in an :class:`~smarketing.sla.SLAReport`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from smarketing.calendar import check_time
from smarketing.errors import PlanError
from smarketing.frames._calendar import epoch_us
from smarketing.sla import _kernel, _scale
from smarketing.sla._summary import summary
from smarketing.sla._tables import compliance_rates, marketing_from, weekly_from
from smarketing.sla.report import SLAReport

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan
    from smarketing.sla.model import SLA

__all__ = ["evaluate_sla", "sla_context"]


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
            library narwhals supports (polars by default). A mapping of the four kinds to PySpark
            DataFrames runs on Spark, each partition of leads through the same kernel.
        as_of: The timezone-aware instant to evaluate at, in any time zone.

    Returns:
        The report; ``report.leads`` has one row per handed-off lead with ``lead_id``, ``owner``, ``team``,
        ``tier``, ``handoff_at``, ``first_response_at``, ``first_response_hours`` (business hours),
        ``response_status``, ``attempts`` (within the window), ``attempts_status``, ``disposition_at``,
        ``disposition_reason``, ``disposition_status``, due times, ``paused``, the escalation columns,
        ``period`` and ``week``. Times are UTC. When the data are PySpark DataFrames, ``report.leads`` and
        ``report.breaches`` are PySpark DataFrames kept on Spark (see :class:`~smarketing.sla.SLAReport`)
        and the rest is merged on Spark (see "Running on Spark" in the docs).

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
    context = sla_context(plan)
    partials = _scale.evaluate(context, data, as_of=as_of)
    try:
        return _report(plan, context, partials, as_of)
    except BaseException:
        partials.release()  # no report will read the map's persisted output (on Spark)
        raise


def _report(
    plan: AlignmentPlan, context: _kernel.SLAContext, partials: _scale.SLAPartials, as_of: datetime
) -> SLAReport:
    """Finalise: the rates, marketing's periods and the summary, from the merged counts."""
    sla = context.sla
    leads, breaches = partials.kept()
    by_period = compliance_rates(partials.merged("by_period"), "period")
    period = sla.marketing.volume.period if sla.marketing.volume is not None else _kernel.DEFAULT_PERIOD
    now = epoch_us(check_time(as_of, "as_of"))
    market = marketing_from(partials.merged("delivered"), sla, period, now, sla.calendar.timezone)
    counts, examples = _kernel.counts_and_examples(partials.count_row())
    return SLAReport(
        as_of=as_of,
        leads=leads,
        breaches=breaches,
        marketing=market,
        by_rep=compliance_rates(partials.merged("by_rep"), "owner"),
        by_team=compliance_rates(partials.merged("by_team"), "team"),
        by_period=by_period,
        weekly=weekly_from(partials.merged("weekly_sales"), partials.merged("weekly_delivered")),
        counts=counts,
        timezone=sla.calendar.timezone,
        summary=summary(
            sla,
            handed_off=int(by_period.get_column("handed_off").sum()),
            by_period=by_period,
            marketing=market,
            counts=counts,
            as_of=as_of,
            period=period,
            examples=examples,
            volume_label=_volume_label(plan, sla),
        ),
        examples=examples,
    )


def sla_context(plan: AlignmentPlan) -> _kernel.SLAContext:
    """The plan's SLA and the parts of the plan around it that the SLA's kernel reads, checked.

    For analyses that run the kernel themselves (the KPIs' first-response and disposition metrics):
    the handoff transitions of the journey, the people (with team and manager) and who is in marketing.

    Raises:
        PlanError: The plan has no SLA or the journey no handoff transition.

    Examples:
        >>> import smarketing as sm
        >>> context = sla_context(sm.load_plan("examples/plan.yaml"))
        >>> context.handoffs, context.marketers[:1]
        ((('mql', 'sal'),), ('jonas.weber',))
    """
    sla = plan.sla
    if sla is None:
        raise PlanError("the plan has no SLA; add an 'sla' section to evaluate one", path="sla")
    handoffs = plan.journey.handoffs()
    if not handoffs:
        raise PlanError(
            "the journey has no handoff transition, so no lead is ever handed to sales",
            path="journey.transitions",
        )
    marketing = {t.id for t in plan.teams_with_function("marketing")}
    return _kernel.SLAContext(
        sla=sla,
        handoffs=tuple((t.source, t.to) for t in handoffs),
        people=tuple((p.id, p.team, p.manager) for p in plan.people),
        marketers=tuple(sorted({p.id for p in plan.people if p.team in marketing})),
    )


def _volume_label(plan: AlignmentPlan, sla: SLA) -> str | None:
    """How the summary names the volume commitment's stage: its kind for MQL/SAL/SQL, else its name."""
    if sla.marketing.volume is None:
        return None
    stage = plan.journey.stage(sla.marketing.volume.stage)
    return stage.kind.upper() if stage.kind in ("mql", "sal", "sql") else stage.name
