"""KPI rules (K): joint, complete KPIs that do not pay the teams to disagree."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from smarketing.errors import CurrencyMismatchError
from smarketing.kpi import revenue_from_leads, targets_from_revenue
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


# Exact conversions between periods: (from, to) -> factor for a count per `from` to a count per `to`.
_PERIOD_FACTORS: dict[tuple[str, str], Decimal] = {
    ("day", "week"): Decimal(7),
    ("month", "quarter"): Decimal(3),
    ("month", "year"): Decimal(12),
    ("quarter", "year"): Decimal(4),
}


def _per_period(count: int, source: str, target: str) -> Decimal | None:
    if source == target:
        return Decimal(count)
    if (source, target) in _PERIOD_FACTORS:
        return count * _PERIOD_FACTORS[source, target]
    if (target, source) in _PERIOD_FACTORS:
        return count / _PERIOD_FACTORS[target, source]
    return None


@builtin(
    "K005",
    area="kpis",
    severity="error",
    title="Marketing's lead commitment can reach the revenue target",
    rationale="Sales' revenue target, marketing's lead volume, the conversion rates and the deal size "
    "are one equation; if the committed leads cannot produce the target at the agreed rates, one team "
    "misses by design and the teams argue about whose number was wrong.",
    fix="Raise marketing's volume commitment to the number the reverse funnel needs, or agree on a lower "
    "revenue target, better conversion rates or a larger deal size.",
)
def funnel_arithmetic(plan: AlignmentPlan) -> Iterator[Finding]:
    """The reverse funnel from the revenue target needs no more leads than marketing commits to."""
    t = plan.targets
    volume = plan.sla.marketing.volume if plan.sla is not None else None
    if t is None:
        yield Finding(
            "the plan has no revenue target and funnel assumptions ('targets'), so nobody can tell whether "
            "marketing's lead commitment is enough",
            path="targets",
        )
        return
    if volume is None:
        return  # S003 reports the missing commitment.
    stages = list(t.conversion_rates)
    if volume.stage not in stages:
        yield Finding(
            f"'targets.conversion_rates' has no rate for {volume.stage!r}, the stage of marketing's volume "
            "commitment, so the funnel from it to revenue cannot be worked out",
            path="targets.conversion_rates",
        )
        return
    rates = {s: t.conversion_rates[s] for s in stages[stages.index(volume.stage) :]}
    committed = _per_period(volume.count, volume.period, t.period)
    if committed is None:
        yield Finding(
            f"marketing commits leads per {volume.period} but the revenue target is per {t.period}; "
            "state both per the same period (a count per day or week does not convert exactly to a "
            "month, quarter or year)",
            path="sla.marketing.volume.period",
        )
        return
    try:
        funnel = targets_from_revenue(t.revenue, avg_deal_size=t.average_deal_size, conversion_rates=rates)
        per_lead = revenue_from_leads(1, avg_deal_size=t.average_deal_size, conversion_rates=rates)
    except (ValueError, CurrencyMismatchError) as error:
        yield Finding(
            f"the funnel from {volume.stage!r} to revenue cannot be worked out: {error}", path="targets"
        )
        return
    needed = funnel.stages[volume.stage]
    if committed >= needed:
        return
    expected = (per_lead * committed).quantize()
    gap = t.revenue - expected
    yield Finding(
        f"marketing commits {_number(committed)} {volume.stage!r} leads per {t.period}, but the revenue "
        f"target of {t.revenue} with {t.average_deal_size} deals at the plan's conversion rates needs "
        f"{needed}: {_number(needed - committed)} short. The committed leads are expected to bring "
        f"{expected}, {gap} ({_percent(gap.amount / t.revenue.amount)}) below the target",
        path="sla.marketing.volume.count",
        hint=f"Commit to at least {needed} {volume.stage!r} leads per {t.period}, or lower the target.",
    )


def _number(value: Decimal) -> str:
    # Whole counts as they are; a count converted between periods (5,000 a year) to one decimal.
    if value == value.to_integral_value():
        return f"{value.to_integral_value():f}"
    return f"{value.quantize(Decimal('0.1')):f}"


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


RULES: tuple[RuleSpec, ...] = (
    joint_kpi,
    kpi_complete,
    volume_paired,
    funnel_arithmetic,
)
