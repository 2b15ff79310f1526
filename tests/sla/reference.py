"""A small, readable, pure-Python reference of the SLA's per-lead evaluation, for differential tests only.

It states each rule of :func:`smarketing.sla.evaluate_sla` the plainest way (one lead at a time, loops and
dicts, scalar calendar calls), so the columnar kernel can be checked against it with Hypothesis. It is never
used in production.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smarketing.plan import AlignmentPlan
from smarketing.records import Activity, Disposition, Lead, StageEvent


def _hours(value: Decimal) -> timedelta:
    return timedelta(microseconds=int(value * 3_600_000_000))


def reference_leads(
    plan: AlignmentPlan,
    *,
    leads: list[Lead],
    events: list[StageEvent],
    activities: list[Activity],
    dispositions: list[Disposition],
    as_of: datetime,
) -> dict[str, dict[str, Any]]:
    sla = plan.sla
    assert sla is not None
    cal = sla.calendar
    pairs = {(t.source, t.to) for t in plan.journey.handoffs()}
    targets = {t.to for t in plan.journey.handoffs()}
    marketing_teams = {t.id for t in plan.teams_with_function("marketing")}
    marketers = {p.id for p in plan.people if p.team in marketing_teams}
    people = {p.id: p for p in plan.people}
    by_id = {lead.id: lead for lead in leads}
    fr, att, disp = sla.sales.first_response, sla.sales.attempts, sla.sales.disposition
    kinds = set(fr.activities) if fr else {"call", "email", "meeting"}

    out: dict[str, dict[str, Any]] = {}
    handoff: dict[str, datetime] = {}
    for e in events:
        if e.time <= as_of and ((e.source, e.to) in pairs or (e.source is None and e.to in targets)):
            handoff[e.lead_id] = min(handoff.get(e.lead_id, e.time), e.time)
    for lead_id, start in handoff.items():
        lead = by_id.get(lead_id)
        tier = None
        for t in sla.tiers:
            if lead is not None and (lead.grade in t.grades or lead.persona in t.personas):
                tier = t
                break
        target_h = (
            tier.first_response_hours
            if tier and tier.first_response_hours
            else (fr.within_hours if fr else None)
        )
        minimum = tier.min_attempts if tier and tier.min_attempts else (att.minimum if att else None)
        due = cal.add(start, _hours(target_h)) if target_h is not None else None
        window_end = cal.add_days(start, att.within_business_days) if att else None
        disp_due = cal.add_days(start, disp.within_business_days) if disp else None

        mine = [d for d in dispositions if d.lead_id == lead_id and start <= d.time <= as_of]
        first_disp = min(mine, key=lambda d: (d.time, d.reason), default=None)
        acts = [
            a
            for a in activities
            if a.lead_id == lead_id
            and start <= a.time <= as_of
            and a.person not in marketers
            and (lead is None or a.time >= lead.created_at)
        ]
        attempts = [a for a in acts if a.type in kinds]
        first = min((a.time for a in attempts), default=None)
        in_window = sum(1 for a in attempts if window_end is not None and a.time <= window_end)
        before_disp = sum(1 for a in attempts if first_disp is not None and a.time <= first_disp.time)
        pause_acts = [a.time for a in acts if a.outcome in sla.pause_statuses]
        paused = lead is not None and lead.status in sla.pause_statuses
        clock_end = (max(pause_acts) if pause_acts else start) if paused else as_of

        if due is None:
            response = None
        elif first is not None and first <= due:
            response = "met"
        elif first is not None or due < clock_end:
            response = "breached"
        else:
            response = "pending"

        utr = disp.unable_to_reach_reason if disp else None
        if minimum is None or window_end is None:
            attempts_status = None
        elif in_window >= minimum or (
            first_disp is not None and first_disp.time <= window_end and first_disp.reason != utr
        ):
            attempts_status = "met"
        elif window_end < clock_end:
            attempts_status = "breached"
        else:
            attempts_status = "pending"

        if disp_due is None:
            disposition = None
        elif first_disp is not None:
            disposition = "on_time" if first_disp.time <= disp_due else "late"
        else:
            disposition = "missing" if disp_due < clock_end else "pending"

        step = notify = None
        if response == "breached" and due is not None:
            stop = first if first is not None else clock_end
            for i, s in enumerate(sorted(sla.escalation, key=lambda s: s.after_hours), start=1):
                at = cal.add(due, _hours(s.after_hours))
                if at < stop:
                    step = i
                    owner = lead.owner if lead else None
                    manager = people[owner].manager if owner in people else None
                    who = [owner if n == "owner" else manager if n == "manager" else n for n in s.notify]
                    notify = ", ".join(w for w in who if w is not None)

        out[lead_id] = {
            "owner": lead.owner if lead else None,
            "tier": tier.id if tier else None,
            "handoff_at": start,
            "first_response_at": first,
            "first_response_hours": (cal.elapsed(start, first) / timedelta(hours=1)) if first else None,
            "response_status": response,
            "attempts": in_window,
            "attempts_status": attempts_status,
            "disposition_at": first_disp.time if first_disp else None,
            "disposition_reason": first_disp.reason if first_disp else None,
            "disposition_status": disposition,
            "unable_to_reach_early": bool(
                first_disp is not None
                and minimum is not None
                and first_disp.reason == utr
                and before_disp < minimum
            ),
            "paused": paused,
            "escalation_step": step,
            "escalation_notify": notify,
        }
    return out
