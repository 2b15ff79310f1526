"""SLA rules (S): both teams commit, in business time, with a way to escalate."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._facts import person_functions

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

# Reason names that mean "could not reach the lead" even when the plan does not say so.
_UNREACHABLE_WORDS = (
    "unable_to_reach",
    "unable to reach",
    "unreachable",
    "no_contact",
    "no contact",
    "no_response",
    "no response",
    "unresponsive",
)
_ROLES = frozenset({"owner", "manager"})


@builtin(
    "S001",
    area="sla",
    severity="error",
    title="Every handoff has a sales first-response commitment",
    rationale="Contacting a lead within minutes rather than hours makes reaching it many times more "
    "likely; without a committed response time, marketing's best leads go cold in a queue.",
    fix="Add 'sla.sales.first_response: {within_hours: N}' (and an 'sla' with a calendar if missing).",
)
def first_response(plan: AlignmentPlan) -> Iterator[Finding]:
    """A first-response commitment exists whenever the journey has handoffs."""
    if plan.sla is not None and plan.sla.sales.first_response is not None:
        return
    why = "the plan has no SLA" if plan.sla is None else "the SLA has no 'sales.first_response'"
    for i, t in enumerate(plan.journey.transitions):
        if t.kind == "handoff":
            yield Finding(
                f"handoff {t.source!r} -> {t.to!r} has no sales first-response commitment ({why})",
                path=f"journey.transitions[{i}]",
            )


@builtin(
    "S002",
    area="sla",
    severity="warning",
    title="Response times run in business hours of a local time zone",
    rationale="An SLA counted 24x7 or in UTC is breached every night and weekend, so reps learn to ignore "
    "it; business hours in the team's own zone (with holidays) make every breach real.",
    fix="Give the SLA calendar the team's IANA zone (e.g. 'Europe/Berlin'), its opening hours and holidays.",
)
def business_hours(plan: AlignmentPlan) -> Iterator[Finding]:
    """The calendar is local, not 24x7, and opens at some time of the week."""
    if plan.sla is None:
        return
    cal = plan.sla.calendar
    if cal.always_open:
        yield Finding(
            "the SLA clock runs 24x7 ('always_open: true'), not in business hours",
            path="sla.calendar.always_open",
        )
    elif not any(cal.hours.values()):
        yield Finding(
            "the SLA calendar has no opening hours, so its clock never runs", path="sla.calendar.hours"
        )
    # 'UTC', 'Etc/GMT+1', 'CET' or 'EST5EDT' name an offset or a rule, not a place whose business hours
    # and daylight saving time the team lives by; places are 'Area/City'.
    if "/" not in cal.timezone or cal.timezone.startswith("Etc/"):
        yield Finding(
            f"time zone {cal.timezone!r} is not a place (like 'Europe/Berlin')",
            path="sla.calendar.timezone",
        )


@builtin(
    "S003",
    area="sla",
    severity="error",
    title="Marketing commits to lead volume and to lead quality",
    rationale="A volume promise alone pays marketing for leads sales will not work; a quality promise "
    "alone lets marketing deliver too few. Mutual accountability needs both.",
    fix="Add 'sla.marketing.volume' (stage, count, period) and 'sla.marketing.quality' (acceptance rate).",
)
def marketing_commitments(plan: AlignmentPlan) -> Iterator[Finding]:
    """Both ``sla.marketing.volume`` and ``sla.marketing.quality``."""
    if plan.sla is None:
        yield Finding("the plan has no SLA, so marketing commits to neither volume nor quality", path="sla")
        return
    if plan.sla.marketing.volume is None:
        yield Finding("marketing makes no lead volume commitment", path="sla.marketing.volume")
    if plan.sla.marketing.quality is None:
        yield Finding("marketing makes no lead quality commitment", path="sla.marketing.quality")


@builtin(
    "S004",
    area="sla",
    severity="error",
    title="Sales records a disposition with a reason by a deadline",
    rationale="Disposition reasons are how marketing learns why leads fail; without a deadline and an "
    "agreed list, feedback arrives late, as free text, or never.",
    fix="Add 'sla.sales.disposition' with 'within_business_days' and a 'reasons' list.",
)
def disposition(plan: AlignmentPlan) -> Iterator[Finding]:
    """``sla.sales.disposition`` exists."""
    if plan.sla is not None and plan.sla.sales.disposition is None:
        yield Finding(
            "sales makes no disposition commitment (deadline and reasons)", path="sla.sales.disposition"
        )


@builtin(
    "S005",
    area="sla",
    severity="error",
    title="Unable to reach requires the SLA's attempts first",
    rationale="'Could not reach' is the easiest way to drop a lead; it is honest only after the agreed "
    "number of attempts, which must fit before the disposition is due.",
    fix="Declare 'unable_to_reach_reason', add 'sla.sales.attempts', and make the attempts window no "
    "longer than the disposition deadline.",
)
def unable_to_reach(plan: AlignmentPlan) -> Iterator[Finding]:
    """The unable-to-reach reason is declared, backed by attempts that fit before the deadline."""
    if plan.sla is None:
        return
    sales = plan.sla.sales
    disp = sales.disposition
    if disp is None:
        return  # S004 reports it.
    if disp.unable_to_reach_reason is None:
        for j, reason in enumerate(disp.reasons):
            if any(word in reason.casefold() for word in _UNREACHABLE_WORDS):
                yield Finding(
                    f"reason {reason!r} means 'could not reach' but is not declared as "
                    "'unable_to_reach_reason', so nothing requires attempts before it is used",
                    path=f"sla.sales.disposition.reasons[{j}]",
                )
        return
    if sales.attempts is None:
        yield Finding(
            f"reason {disp.unable_to_reach_reason!r} can be used without any contact attempts "
            "(the SLA has no 'sales.attempts')",
            path="sla.sales.disposition.unable_to_reach_reason",
        )
    elif sales.attempts.within_business_days > disp.within_business_days:
        yield Finding(
            f"the {sales.attempts.minimum} attempts may take {sales.attempts.within_business_days} "
            f"business days, but the disposition is due after {disp.within_business_days}",
            path="sla.sales.attempts.within_business_days",
        )


@builtin(
    "S006",
    area="sla",
    severity="error",
    title="Escalation steps come later and later",
    rationale="An escalation ladder whose steps are not in increasing time order notifies the boss "
    "before the rep, or twice at once; nobody trusts it.",
    fix="Order the escalation steps by 'after_hours', each strictly later than the one before.",
)
def escalation_ordered(plan: AlignmentPlan) -> Iterator[Finding]:
    """``after_hours`` strictly increases along the ladder."""
    if plan.sla is None:
        return
    for i, (a, b) in enumerate(pairwise(plan.sla.escalation), start=1):
        if b.after_hours <= a.after_hours:
            yield Finding(
                f"escalation step {i + 1} fires after {b.after_hours} business hours, "
                f"not later than step {i} ({a.after_hours})",
                path=f"sla.escalation[{i}].after_hours",
            )


@builtin(
    "S007",
    area="sla",
    severity="warning",
    title="Escalation ends with someone outside the rep's line",
    rationale="If every escalation stays inside the sales chain of command, a breach that suits sales "
    "never reaches anyone who speaks for marketing or the business.",
    fix="Let the last escalation step notify a named person outside sales management (e.g. RevOps or "
    "the arbiter).",
)
def escalation_outside_line(plan: AlignmentPlan) -> Iterator[Finding]:
    """The last step names a person who is neither a sales rep nor in a rep's chain of managers."""
    if plan.sla is None:
        return
    if not plan.sla.escalation:
        yield Finding("the SLA has no escalation ladder", path="sla.escalation")
        return
    functions = person_functions(plan)
    manager = {p.id: p.manager for p in plan.people}
    line: set[str] = set()
    for person, function in functions.items():
        current: str | None = person if function == "sales" else None
        while current is not None and current not in line:
            line.add(current)
            current = manager.get(current)
    last = len(plan.sla.escalation) - 1
    outside = [w for w in plan.sla.escalation[last].notify if w not in _ROLES and w not in line]
    if not outside:
        yield Finding(
            "the last escalation step only notifies the rep's own line "
            f"({', '.join(plan.sla.escalation[last].notify)})",
            path=f"sla.escalation[{last}].notify",
        )


@builtin(
    "S008",
    area="sla",
    severity="error",
    title="SLA references name existing stages and grades",
    rationale="A tier for a grade no persona defines, or a commitment on a stage that is gone, silently "
    "applies to no lead at all.",
    fix="Use stage ids of the journey and grades defined in a persona's 'scoring.grades' (P003 checks "
    "persona ids).",
)
def sla_references(plan: AlignmentPlan) -> Iterator[Finding]:
    """Stages and grades the SLA names exist in the plan."""
    if plan.sla is None:
        return
    sla = plan.sla
    stages = {s.id for s in plan.journey.stages}
    grades = {g.grade for p in plan.personas for g in p.scoring.grades}
    refs: list[tuple[str, str | None, set[str], str]] = []
    if sla.marketing.volume is not None:
        refs.append(("sla.marketing.volume.stage", sla.marketing.volume.stage, stages, "stage"))
    if sla.marketing.quality is not None:
        q = sla.marketing.quality
        refs.append(("sla.marketing.quality.accepted_stage", q.accepted_stage, stages, "stage"))
        refs.append(("sla.marketing.quality.sql_stage", q.sql_stage, stages, "stage"))
    for i, tier in enumerate(sla.tiers):
        refs += [(f"sla.tiers[{i}].grades[{j}]", g, grades, "grade") for j, g in enumerate(tier.grades)]
    for path, value, known, what in refs:
        if value is not None and value not in known:
            where = " in any persona's scoring" if what == "grade" else ""
            yield Finding(f"{what} {value!r} is not defined{where}", path=path)


RULES: tuple[RuleSpec, ...] = (
    first_response,
    business_hours,
    marketing_commitments,
    disposition,
    unable_to_reach,
    escalation_ordered,
    escalation_outside_line,
    sla_references,
)
