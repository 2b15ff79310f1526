"""Demo sections that describe the plan: teams, personas, journey, SLA, KPIs, reward, cadence."""

from __future__ import annotations

import textwrap

from smarketing.cli._text import WIDTH, aligned_fields, money_text, percent, text_table, underline
from smarketing.kpi import KPI
from smarketing.money import Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset


def plan_section(plan: AlignmentPlan, data: Dataset) -> str:
    title = f"{plan.name}\n{'=' * len(plan.name)}"
    description = textwrap.fill(plan.description, WIDTH) if plan.description else ""
    return "\n".join(part for part in (title, description) if part)


def teams_section(plan: AlignmentPlan, data: Dataset) -> str:
    rows = [[t.id, t.name, t.function, str(len(plan.people_in(t.id)))] for t in plan.teams]
    return underline("Teams") + "\n" + text_table(["team", "name", "function", "people"], rows, right={3})


def personas_section(plan: AlignmentPlan, data: Dataset) -> str:
    if not plan.personas:
        return underline("Personas") + "\nnone agreed yet"
    rows = [
        [
            p.id,
            p.name,
            str(len(p.interest_signals)),
            str(len(p.readiness_signals)),
            "yes" if p.has_both_sides else "NO",
        ]
        for p in plan.personas
    ]
    header = ["persona", "name", "interest signals (mktg)", "readiness signals (sales)", "both sides"]
    return underline("Personas") + "\n" + text_table(header, rows, right={2, 3})


def journey_section(plan: AlignmentPlan, data: Dataset) -> str:
    journey = plan.journey
    rows = [[s.id, s.name, s.owner, s.kind, s.terminal or ""] for s in journey.stages]
    out = [underline("Customer journey"), text_table(["stage", "name", "owner", "kind", "terminal"], rows)]
    owner = {s.id: s.owner for s in journey.stages}
    out.extend(
        f"handoff: {t.source} -> {t.to} ({owner[t.source]} hands over to {owner[t.to]})"
        for t in journey.handoffs()
    )
    recycles = [
        f"{t.source} -> {t.to}" + (f" (at most {t.max_recycles}x)" if t.max_recycles else "")
        for t in journey.transitions
        if t.kind == "recycle"
    ]
    if recycles:
        out.append("recycles: " + ", ".join(recycles))
    if not journey.handoffs():
        out.append("handoff: none defined")
    return "\n".join(out)


def sla_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The SLA as agreed: its clock, both sides' commitments, tiers, escalation and pausing statuses."""
    heading = underline("Service level agreement")
    sla = plan.sla
    if sla is None:
        return heading + "\nnone agreed yet"
    calendar = sla.calendar
    clock = calendar.timezone + (
        f", holidays {calendar.holidays.country}"
        + (f"-{calendar.holidays.subdivision}" if calendar.holidays.subdivision else "")
        if calendar.holidays
        else ""
    )
    marketing: list[str] = []
    if sla.marketing.volume is not None:
        v = sla.marketing.volume
        marketing.append(f"{v.count:,} leads reach {v.stage} per {v.period}")
    if sla.marketing.quality is not None:
        q = sla.marketing.quality
        text = f"at least {percent(q.min_acceptance_rate)} of handed-off leads accepted ({q.accepted_stage})"
        if q.sql_stage is not None and q.min_sql_rate is not None:
            text += f", {percent(q.min_sql_rate)} become {q.sql_stage}"
        marketing.append(text)
    sales: list[str] = []
    s = sla.sales
    if s.first_response is not None:
        kinds = ", ".join(s.first_response.activities)
        sales.append(f"first response within {s.first_response.within_hours} business hours ({kinds})")
    if s.attempts is not None:
        sales.append(f"{s.attempts.minimum} attempts within {s.attempts.within_business_days} business days")
    if s.disposition is not None:
        d = s.disposition
        sales.append(
            f"disposition within {d.within_business_days} business days, {len(d.reasons)} agreed reasons"
        )
    tiers = [
        f"{t.id} ("
        + "; ".join(
            f"{what} {', '.join(ids)}"
            for what, ids in (("grades", t.grades), ("personas", t.personas))
            if ids
        )
        + "):"
        + (f" {t.first_response_hours} h" if t.first_response_hours is not None else "")
        + (f", {t.min_attempts} attempts" if t.min_attempts is not None else "")
        for t in sla.tiers
    ]
    pairs = [("clock", clock)]
    pairs += [("marketing", m) for m in marketing] or [("marketing", "no commitment")]
    pairs += [("sales", m) for m in sales] or [("sales", "no commitment")]
    if tiers:
        pairs.append(("tiers", "; ".join(tiers)))
    if sla.escalation:
        steps = ", ".join(f"+{e.after_hours} h: {' & '.join(e.notify)}" for e in sla.escalation)
        pairs.append(("escalation", steps))
    if sla.pause_statuses:
        pairs.append(("paused by", ", ".join(sla.pause_statuses)))
    return heading + "\n" + aligned_fields(pairs)


def _kpi_target(kpi: KPI) -> str:
    target = kpi.target
    if target is None:
        return "-"
    if kpi.unit == "ratio":
        return percent(target)
    if kpi.unit == "money" and kpi.currency is not None:
        return money_text(Money(target, kpi.currency))
    suffix = {"hours": " h", "days": " d"}.get(kpi.unit, "")
    return f"{target:,}{suffix}"


def kpis_section(plan: AlignmentPlan, data: Dataset) -> str:
    if not plan.kpis:
        return underline("Joint KPIs") + "\nnone agreed yet"
    better = {"higher_is_better": "higher", "lower_is_better": "lower"}
    rows = [
        [k.id, " + ".join(k.owners), _kpi_target(k), k.period, better[k.direction], k.formula]
        for k in plan.kpis
    ]
    header = ["KPI", "owners", "target", "per", "better", "formula"]
    return underline("Joint KPIs") + "\n" + text_table(header, rows, right={2})


def rewards_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The shared reward as agreed: pool, team split, attribution, participants, tiers, caps, clawback."""
    heading = underline("Shared reward")
    r = plan.rewards
    if r is None:
        return heading + "\nnone agreed yet"
    pool = f"{percent(r.pool.rate)} of the {r.pool.basis} deal amount"
    if r.pool.fixed is not None:
        pool += f" + {money_text(r.pool.fixed)} per deal"
    pairs = [("plan", f"{r.name or r.id} ({r.id}), paid in {r.currency}"), ("pool", pool)]
    if r.team_split:
        pairs.append(
            ("team split", ", ".join(f"{team} {percent(share)}" for team, share in r.team_split.items()))
        )
    if r.attribution is not None:
        a = r.attribution
        pairs.append(("attribution", f"{a.model} model by {a.key}, {percent(a.share)} of the pool"))
    people = sum(1 for p in r.participants if p.person)
    teams = sum(1 for p in r.participants if p.team)
    pairs.append(("participants", f"{people} people, {teams} team pool(s)"))
    if r.tiers:
        pairs.append(("tiers", f"{len(r.tiers)} attainment bands ({r.tier_mode})"))
    caps = [
        f"{money_text(m)} per {what}"
        for m, what in ((r.cap_per_deal, "deal"), (r.cap_per_period, "period"))
        if m
    ]
    if caps:
        pairs.append(("caps", ", ".join(caps)))
    if r.clawback is not None:
        pairs.append(
            ("clawback", f"{r.clawback.window_days} days after close, {r.clawback.mode.replace('_', ' ')}")
        )
    return heading + "\n" + aligned_fields(pairs)


def cadence_section(plan: AlignmentPlan, data: Dataset) -> str:
    out = [underline("Cadence and arbiter")]
    if plan.cadence:
        rows = [
            [m.name, m.kind, m.frequency.replace("_", " "), ", ".join(m.teams), m.outcome_owner or "-"]
            for m in plan.cadence
        ]
        out.append(text_table(["meeting", "kind", "frequency", "teams", "outcome owner"], rows))
    else:
        out.append("no joint meetings agreed yet")
    arbiter = plan.arbiter
    if arbiter is None:
        out.append("arbiter: none named")
    else:
        names = {p.id: p.name for p in plan.people}
        text = f"arbiter: {names.get(arbiter.person, arbiter.person)} ({arbiter.person})"
        if arbiter.response_days:
            text += f", rules within {arbiter.response_days} business days"
        out.append(text)
        if arbiter.scope:
            out.append(textwrap.fill(arbiter.scope, WIDTH, initial_indent="  ", subsequent_indent="  "))
    return "\n".join(out)
