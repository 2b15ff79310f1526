"""KPI rules (K): joint, complete KPIs that do not pay the teams to disagree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._facts import is_joint, team_functions

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan


@builtin(
    "K001",
    area="kpis",
    severity="error",
    title="At least one KPI is owned jointly by marketing and sales",
    rationale="Each team brings its own KPIs; alignment is the set they find in common and track "
    "together. Without a joint KPI each team can hit its numbers while the business misses.",
    fix="Add a marketing team and a sales team to the 'owners' of a shared KPI (conversion rate, "
    "pipeline, revenue).",
)
def joint_kpi(plan: AlignmentPlan) -> Iterator[Finding]:
    """Some KPI's owners include a marketing team and a sales team."""
    functions = team_functions(plan)
    if not any(is_joint(k.owners, functions) for k in plan.kpis):
        yield Finding(
            "no KPI is owned by both a marketing and a sales team", path="kpis" if plan.kpis else ""
        )


@builtin(
    "K002",
    area="kpis",
    severity="warning",
    title="Every KPI has a target",
    rationale="A KPI without a target can be neither on track nor off track; both teams read it as "
    "good news. (Owner, unit, direction and period are required by the plan schema.)",
    fix="Add 'target' in the KPI's unit for its period.",
)
def kpi_complete(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every KPI has a target."""
    for i, k in enumerate(plan.kpis):
        if k.target is None:
            yield Finding(f"KPI {k.id!r} has no target", path=f"kpis[{i}].target")


@builtin(
    "K004",
    area="kpis",
    severity="warning",
    title="A marketing volume KPI is paired with a quality or conversion KPI",
    rationale="Paying marketing for lead volume alone pays it to send leads sales will reject: the teams "
    "are then paid to disagree. A conversion or quality KPI marketing also owns balances it.",
    fix="Give marketing (jointly with sales) a conversion-rate KPI, e.g. 'sqls / mqls', next to the "
    "volume KPI.",
)
def volume_paired(plan: AlignmentPlan) -> Iterator[Finding]:
    """A count KPI owned by marketing needs a ratio KPI marketing owns too."""
    functions = team_functions(plan)

    def marketing_owns(owners: list[str]) -> bool:
        return any(functions.get(o) == "marketing" for o in owners)

    if any(k.unit == "ratio" and marketing_owns(k.owners) for k in plan.kpis):
        return
    for i, k in enumerate(plan.kpis):
        if k.unit == "count" and marketing_owns(k.owners):
            yield Finding(
                f"marketing volume KPI {k.id!r} has no quality or conversion KPI owned by marketing "
                "beside it",
                path=f"kpis[{i}]",
            )


RULES: tuple[RuleSpec, ...] = (joint_kpi, kpi_complete, volume_paired)
