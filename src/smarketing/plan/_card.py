"""The plan's notebook card and short text (private): what :class:`AlignmentPlan` shows in a notebook.

The card reads at a glance: the teams, the journey in order with its owners and handoffs, both sides of
the SLA with their units (business hours, business days, %), the KPIs with their targets in their units,
the reward, and the check score. Everything goes through the escaping helpers of ``_display``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from smarketing import _display

if TYPE_CHECKING:
    from smarketing.sla.model import SLA

#: The plan is typed loosely here: ``plan.model`` imports this module, so naming its class would be an
#: import cycle (type-checking imports count in the layer contract).
AlignmentPlan = Any

__all__ = ["plan_card", "plan_repr"]


class _Score(Protocol):
    """What the card needs of a check report."""

    score: int

    @property
    def counts(self) -> dict[str, int]: ...


def plan_repr(plan: AlignmentPlan) -> str:
    """One line: the name, the file, and how many of each part (the full model is ``model_dump()``)."""
    parts = [
        f"name={plan.name!r}",
        f"teams={len(plan.teams)}",
        f"people={len(plan.people)}",
        f"stages={len(plan.journey.stages)}",
        f"kpis={len(plan.kpis)}",
        f"sla={'yes' if plan.sla else 'no'}",
        f"rewards={'yes' if plan.rewards else 'no'}",
    ]
    if plan.source_file:
        parts.append(f"file={plan.source_file!r}")
    return f"AlignmentPlan({', '.join(parts)})"


def _check(plan: AlignmentPlan) -> _Score | None:
    # The rules sit above the plan (they import it), so the plan cannot import them. The card looks the
    # rules package up only when it is already loaded (`import smarketing` loads it); a plan loaded
    # without it shows no score rather than reaching up the layers.
    rules = sys.modules.get("smarketing.rules")
    check = getattr(rules, "check", None)
    if check is None:
        return None
    report: _Score = check(plan)
    return report


def plan_card(plan: AlignmentPlan) -> str:
    """The plan as an HTML card (see the module docstring)."""
    report = _check(plan)
    badge = ""
    if report is not None:
        c = report.counts
        badge = (
            f"check score {report.score} / 100 · {c['error']} error(s), {c['warning']} warning(s), "
            f"{c['info']} info(s)"
        )
    subtitle = " · ".join(p for p in (plan.description.strip(), plan.source_file or "") if p)
    body = [
        _display.section("Teams", _teams(plan)),
        _display.section("Customer journey", _journey(plan)),
        _display.section("Service level agreement", _sla(plan.sla)),
        _display.section("Joint KPIs", _kpis(plan)),
        _display.section("Shared reward", _rewards(plan)),
        _display.section("Also agreed", _display.facts(_others(plan))),
    ]
    return _display.card(plan.name, body, subtitle=subtitle, badge=badge)


def _teams(plan: AlignmentPlan) -> str:
    rows = [[t.id, t.name, t.function, len(plan.people_in(t.id))] for t in plan.teams]
    return _display.html_table(["team", "name", "function", "people"], rows)


def _journey(plan: AlignmentPlan) -> str:
    journey = plan.journey
    owner = {s.id: s.owner for s in journey.stages}
    path = " → ".join(f"{s.name} ({s.owner})" for s in journey.stages if not s.terminal)
    ends = ", ".join(f"{s.name} ({s.terminal})" for s in journey.stages if s.terminal)
    pairs: list[tuple[str, Any]] = [("stages", path), ("ends", ends or "-")]
    pairs += [
        ("handoff", f"{t.source} → {t.to}: {owner[t.source]} hands over to {owner[t.to]}")
        for t in journey.handoffs()
    ] or [("handoff", "none defined")]
    recycles = [
        f"{t.source} → {t.to}" + (f" (at most {t.max_recycles} times)" if t.max_recycles else "")
        for t in journey.transitions
        if t.kind == "recycle"
    ]
    if recycles:
        pairs.append(("recycles", ", ".join(recycles)))
    return _display.facts(pairs)


def _sla(sla: SLA | None) -> str:
    """Both sides' commitments, tiers and escalation, each with its unit (business hours or days, %)."""
    if sla is None:
        return _display.paragraph("none agreed yet")
    calendar = sla.calendar
    clock = f"business time in {calendar.timezone}"
    if calendar.holidays:
        region = calendar.holidays.country + (
            f"-{calendar.holidays.subdivision}" if calendar.holidays.subdivision else ""
        )
        clock += f", public holidays of {region}"
    pairs: list[tuple[str, Any]] = [("clock", clock)]
    marketing = sla.marketing
    if marketing.volume is not None:
        v = marketing.volume
        pairs.append(("marketing", f"{v.count:,} leads reach {v.stage} per {v.period}"))
    if marketing.quality is not None:
        q = marketing.quality
        text = f"at least {_display.percent(q.min_acceptance_rate)} of handed-off leads accepted"
        if q.sql_stage is not None and q.min_sql_rate is not None:
            text += f", at least {_display.percent(q.min_sql_rate)} become {q.sql_stage}"
        pairs.append(("marketing", text))
    sales = sla.sales
    if sales.first_response is not None:
        f = sales.first_response
        pairs.append(("sales", f"first response within {_hours(f.within_hours)} ({', '.join(f.activities)})"))
    if sales.attempts is not None:
        a = sales.attempts
        pairs.append(("sales", f"{a.minimum} attempts within {a.within_business_days} business days"))
    if sales.disposition is not None:
        d = sales.disposition
        pairs.append(
            ("sales", f"disposition within {d.within_business_days} business days ({len(d.reasons)} reasons)")
        )
    pairs += [("tier", _tier(t)) for t in sla.tiers]
    pairs += [
        ("escalation", f"{_hours(e.after_hours)} past due: {', '.join(e.notify)}") for e in sla.escalation
    ]
    return _display.facts(pairs)


def _hours(value: Any) -> str:
    return f"{value} business hour{'' if value == 1 else 's'}"


def _tier(tier: Any) -> str:
    chosen = "; ".join(
        f"{what} {', '.join(ids)}"
        for what, ids in (("grades", tier.grades), ("personas", tier.personas))
        if ids
    )
    terms = []
    if tier.first_response_hours is not None:
        terms.append(f"first response within {_hours(tier.first_response_hours)}")
    if tier.min_attempts is not None:
        terms.append(f"{tier.min_attempts} attempts")
    return f"{tier.id} ({chosen}): {', '.join(terms) or 'the general terms'}"


def _kpis(plan: AlignmentPlan) -> str:
    if not plan.kpis:
        return _display.paragraph("none agreed yet")
    rows = [
        [
            k.name + (" (joint)" if len(k.owners) > 1 else ""),
            ", ".join(k.owners),
            "-" if k.target is None else _display.quantity(k.target, k.unit, k.currency),
            f"per {k.period}",
            k.direction.replace("_", " "),
        ]
        for k in plan.kpis
    ]
    return _display.html_table(["KPI", "owners", "target", "period", "direction"], rows)


def _rewards(plan: AlignmentPlan) -> str:
    rewards = plan.rewards
    if rewards is None:
        return _display.paragraph("none agreed yet")
    pool = rewards.pool
    into = [f"{_display.percent(pool.rate)} of the {pool.basis} deal amount"] if pool.rate else []
    if pool.fixed is not None:
        into.append(f"{_display.money(pool.fixed)} per deal")
    pairs: list[tuple[str, Any]] = [
        ("plan", f"{rewards.id} {rewards.name}".strip()),
        ("pool", " + ".join(into) or "-"),
        (
            "team split",
            ", ".join(f"{t} {_display.percent(r, places=0)}" for t, r in rewards.team_split.items()) or "-",
        ),
        ("participants", len(rewards.participants)),
    ]
    return _display.facts(pairs)


def _others(plan: AlignmentPlan) -> Sequence[tuple[str, Any]]:
    return [
        ("personas", ", ".join(p.name for p in plan.personas) or "-"),
        ("glossary", f"{len(plan.glossary.terms)} term(s)"),
        ("meetings", ", ".join(f"{m.name} ({m.frequency})" for m in plan.cadence) or "-"),
        ("arbiter", plan.arbiter.person if plan.arbiter else "-"),
        ("campaigns", len(plan.campaigns)),
    ]
