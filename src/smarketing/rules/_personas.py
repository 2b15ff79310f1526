"""Persona rules (P): personas both teams built together, interest and readiness in one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from smarketing.rules._core import Finding, RuleSpec, builtin

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan


@builtin(
    "P001",
    area="personas",
    severity="error",
    title="A persona carries both interest and readiness signals",
    rationale="Marketing cares what makes a persona interested, sales what makes it ready to buy; a "
    "persona with only one side is one team's persona, and the MQL threshold becomes a fight.",
    fix="Add 'interest_signals' (marketing's) and 'readiness_signals' (sales') to the persona.",
)
def both_sides(plan: AlignmentPlan) -> Iterator[Finding]:
    """Some persona has both kinds of signal."""
    if not plan.personas:
        yield Finding("the plan has no personas", path="personas")
    elif not any(p.has_both_sides for p in plan.personas):
        yield Finding(
            "no persona has both interest signals (marketing) and readiness signals (sales)", path="personas"
        )


@builtin(
    "P002",
    area="personas",
    severity="warning",
    title="No two personas have identical criteria",
    rationale="Two personas with the same firmographic and role criteria match the same leads, so lead "
    "routing and SLA tiers between them are arbitrary.",
    fix="Make the criteria differ (industries, size, regions, titles, seniorities) or merge the personas.",
)
def distinct_criteria(plan: AlignmentPlan) -> Iterator[Finding]:
    """Firmographics and role criteria differ between personas."""
    seen: dict[str, str] = {}
    for i, p in enumerate(plan.personas):
        criteria = json.dumps(
            [p.firmographics.model_dump(mode="json"), p.roles.model_dump(mode="json")], sort_keys=True
        )
        if criteria in seen:
            yield Finding(
                f"persona {p.id!r} has the same criteria as {seen[criteria]!r}", path=f"personas[{i}]"
            )
        else:
            seen[criteria] = p.id


@builtin(
    "P003",
    area="personas",
    severity="error",
    title="Every persona referenced anywhere exists",
    rationale="A reference to a persona that is gone (for example after editing a plan in code) makes "
    "SLA tiers and reports silently apply to nobody.",
    fix="Use the id of a persona defined under 'personas', or add the persona.",
)
def personas_exist(plan: AlignmentPlan) -> Iterator[Finding]:
    """SLA tier personas name personas of the plan."""
    if plan.sla is None:
        return
    known = {p.id for p in plan.personas}
    for i, tier in enumerate(plan.sla.tiers):
        for j, persona in enumerate(tier.personas):
            if persona not in known:
                yield Finding(
                    f"SLA tier {tier.id!r} names unknown persona {persona!r}",
                    path=f"sla.tiers[{i}].personas[{j}]",
                )


@builtin(
    "P004",
    area="personas",
    severity="warning",
    title="An MQL needs fit as well as engagement, unless the plan says otherwise",
    rationale="The MQL both teams accept is a lead that fits the persona and shows engagement. The legacy "
    "'mql_threshold' adds fit and engagement into one total, so a lead that merely clicks a lot becomes "
    "an MQL with no fit at all: marketing's call, not the joint one, and sales rejects it.",
    fix="Replace 'mql_threshold' with 'mql: {min_fit: ..., min_engagement: ...}'; if engagement alone "
    "should qualify, say so with 'engagement_alone'.",
)
def joint_mql(plan: AlignmentPlan) -> Iterator[Finding]:
    """No persona's MQL rule is the legacy total, where engagement alone can qualify."""
    for i, p in enumerate(plan.personas):
        threshold = p.scoring.mql_threshold
        if threshold is not None:
            yield Finding(
                f"persona {p.id!r}: 'mql_threshold: {threshold}' lets engagement alone make an MQL "
                "(fit + engagement >= threshold)",
                path=f"personas[{i}].scoring.mql_threshold",
            )


RULES: tuple[RuleSpec, ...] = (both_sides, distinct_criteria, personas_exist, joint_mql)
