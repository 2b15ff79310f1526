"""A small, readable pure-Python reference of the built-in metrics, for differential tests only.

It follows each metric's one-sentence definition over records, one window at a time, with none of the
kernel's columnar tricks. Stage ids are their kinds (no journey), as in a journey-less scorecard.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from smarketing.money import FxTable, Money
from smarketing.records import Activity, Dataset, Deal, Lead, StageEvent, Touchpoint

STAGE_METRICS = {"mqls": "mql", "sals": "sal", "sqls": "sql", "opportunities": "opportunity"}


def reference_metrics(
    data: Dataset, *, start: date, end: date, tz: str, as_of: datetime, fx: FxTable, currency: str
) -> dict[str, Fraction | None]:
    zone = ZoneInfo(tz)

    def local(t: datetime) -> date:
        return t.astimezone(zone).date()

    def inside(t: datetime) -> bool:
        return t <= as_of and start <= local(t) < end

    leads: list[Lead] = data.records("leads")
    events: list[StageEvent] = [e for e in data.records("stage_events") if e.time <= as_of]
    touches: list[Touchpoint] = [t for t in data.records("touchpoints") if t.time <= as_of]
    activities: list[Activity] = [a for a in data.records("activities") if a.time <= as_of]
    deals: list[Deal] = data.records("deals")
    out: dict[str, Fraction | None] = {"leads": Fraction(sum(1 for lead in leads if inside(lead.created_at)))}
    for metric, stage in [*STAGE_METRICS.items(), ("handed_off", "sal"), ("disqualified", "disqualified")]:
        out[metric] = Fraction(len({e.lead_id for e in events if e.to == stage and inside(e.time)}))
    never = 0
    for lead_id in {e.lead_id for e in events if e.to == "sal" and inside(e.time)}:
        handoff = min(e.time for e in events if e.lead_id == lead_id and e.to == "sal" and inside(e.time))
        if not any(a.lead_id == lead_id and a.time >= handoff for a in activities):
            never += 1
    out["never_worked"] = Fraction(never)

    def in_currency(m: Money, on: date) -> Fraction:
        return Fraction(fx.convert(m, currency, on, rounding=None).amount)

    as_of_day = local(as_of)
    closed = [
        d
        for d in deals
        if d.close_date is not None and d.close_date <= as_of_day and start <= d.close_date < end
    ]
    won = [d for d in closed if d.stage == "won"]
    out["won"] = Fraction(len(won))
    out["lost"] = Fraction(sum(1 for d in closed if d.stage == "lost"))
    out["revenue"] = sum((in_currency(d.amount, d.close_date) for d in won if d.close_date), Fraction(0))
    out["avg_deal_size"] = out["revenue"] / len(won) if won else None
    cycles = [Fraction((d.close_date - local(d.created_at)).days * 24) for d in won if d.close_date]
    out["cycle_days"] = sum(cycles, Fraction(0)) / len(cycles) if cycles else None

    created = [d for d in deals if inside(d.created_at)]
    marketing = [t for t in touches if t.team == "marketing"]
    channels = {t.channel for t in marketing}
    source = {lead.id: lead.source for lead in leads}

    def first_team(lead_id: str | None) -> str | None:
        mine = sorted((t.time, t.id, t.team) for t in touches if t.lead_id == lead_id)
        return mine[0][2] if mine else None

    def accepted(lead_id: str | None) -> datetime | None:
        times = [e.time for e in events if e.lead_id == lead_id and e.to == "sal"]
        return min(times) if times else None

    def touched_before(lead_id: str | None, when: datetime) -> bool:
        return any(t.lead_id == lead_id and t.time < when for t in marketing)

    tests = {
        "pipeline_value": lambda d: True,
        "sourced_pipeline_lead_source": lambda d: source.get(d.lead_id) in channels,
        "sourced_pipeline_first_touch": lambda d: first_team(d.lead_id) == "marketing",
        "sourced_pipeline_before_acceptance": lambda d: touched_before(
            d.lead_id, accepted(d.lead_id) or d.created_at
        ),
        "influenced_pipeline": lambda d: touched_before(d.lead_id, d.created_at),
    }
    for metric, test in tests.items():
        out[metric] = sum(
            (in_currency(d.amount, local(d.created_at)) for d in created if test(d)), Fraction(0)
        )
    return out


def exactly(value: Decimal) -> Fraction:
    return Fraction(value)
