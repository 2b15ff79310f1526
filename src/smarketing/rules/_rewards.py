"""Reward rules (R): an interlinked reward that both teams share, with sane money mechanics."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._facts import is_joint, person_functions, team_functions

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


@builtin(
    "R001",
    area="rewards",
    severity="error",
    title="Both teams share in the reward",
    rationale="A reward only one team earns makes the other a cost centre; a joint or fairly distributed "
    "reward gives both teams ownership of the revenue they produce together.",
    fix="Add a 'rewards' plan whose participants (people or teams) include marketing and sales, and "
    "give both a share in 'team_split'.",
)
def both_teams_share(plan: AlignmentPlan) -> Iterator[Finding]:
    """Participants, and the team split when given, cover a marketing and a sales team."""
    r = plan.rewards
    if r is None:
        yield Finding("the plan has no shared reward", path="")
        return
    teams = team_functions(plan)
    people = person_functions(plan)
    functions = {
        people.get(p.person, "") if p.person else teams.get(p.team or "", "") for p in r.participants
    }
    for side in ("marketing", "sales"):
        if side not in functions:
            yield Finding(f"no {side} person or team takes part in the reward", path="rewards.participants")
    if r.team_split:
        split_sides = {teams.get(t) for t, share in r.team_split.items() if share > 0}
        for side in ("marketing", "sales"):
            if side not in split_sides:
                yield Finding(f"the team split gives no {side} team a share", path="rewards.team_split")


@builtin(
    "R002",
    area="rewards",
    severity="error",
    title="Revenue splits total exactly 100%",
    rationale="Revenue splits divide one deal's credit: below 100% some revenue is never credited, above "
    "it the same revenue is paid twice. Overlay splits are paid on top and may exceed 100%.",
    fix="Make the shares of 'team_split' and of each 'kind: revenue' split add up to 100%, or mark "
    "on-top credit as 'kind: overlay'.",
)
def revenue_splits(plan: AlignmentPlan) -> Iterator[Finding]:
    """``team_split`` and every revenue split sum to exactly 1."""
    r = plan.rewards
    if r is None:
        return
    if r.team_split and (total := sum(r.team_split.values(), Decimal(0))) != 1:
        yield Finding(f"the team split adds up to {_pct(total)}, not 100%", path="rewards.team_split")
    for i, split in enumerate(r.splits):
        total = sum(split.shares.values(), Decimal(0))
        if split.kind == "revenue" and total != 1:
            yield Finding(
                f"revenue split {i + 1} adds up to {_pct(total)}, not 100%",
                path=f"rewards.splits[{i}].shares",
            )


@builtin(
    "R003",
    area="rewards",
    severity="error",
    title="Tiers are ordered, do not overlap and cover 0 to infinity",
    rationale="Attainment bands with gaps pay nothing for some results, overlaps pay twice, and a last "
    "band with an upper bound leaves over-achievers unpaid; each makes the statement disputable.",
    fix="List tiers lowest first, start at 0, let each tier begin where the previous one ends, and leave "
    "'to_attainment' empty on the last tier.",
)
def tiers_cover(plan: AlignmentPlan) -> Iterator[Finding]:
    """Tiers form a contiguous partition of [0, infinity)."""
    r = plan.rewards
    if r is None or not r.tiers:
        return
    expected: Decimal | None = Decimal(0)
    for i, tier in enumerate(r.tiers):
        path = f"rewards.tiers[{i}]"
        if expected is None or tier.from_attainment < expected:
            yield Finding(
                f"tier {i + 1} starts at {tier.from_attainment}, overlapping the tier before it",
                path=f"{path}.from_attainment",
            )
        elif tier.from_attainment > expected:
            yield Finding(
                f"attainment from {expected} to {tier.from_attainment} has no tier",
                path=f"{path}.from_attainment",
            )
        if tier.to_attainment is not None and tier.to_attainment <= tier.from_attainment:
            yield Finding(
                f"tier {i + 1} ends at {tier.to_attainment}, not after its start {tier.from_attainment}",
                path=f"{path}.to_attainment",
            )
        expected = tier.to_attainment if tier.to_attainment is not None else None
        if expected is None and i < len(r.tiers) - 1:
            yield Finding(f"tier {i + 1} is open-ended but more tiers follow", path=f"{path}.to_attainment")
            return
    if expected is not None:
        last = len(r.tiers) - 1
        yield Finding(
            f"no tier covers attainment above {expected}", path=f"rewards.tiers[{last}].to_attainment"
        )


@builtin(
    "R004",
    area="rewards",
    severity="error",
    title="Caps and floor are non-negative and consistent",
    rationale="A negative cap or floor turns a reward into a charge, and a floor above the period cap "
    "cannot be paid; both are typos that surface on the first statement.",
    fix="Use amounts of zero or more in the plan's reward currency, with the floor at most the period cap.",
)
def caps_valid(plan: AlignmentPlan) -> Iterator[Finding]:
    """Caps and floor are >= 0, in the reward currency, and floor <= period cap."""
    r = plan.rewards
    if r is None:
        return
    for name in ("cap_per_deal", "cap_per_period", "floor"):
        value = getattr(r, name)
        if value is None:
            continue
        if value.currency != r.currency:
            yield Finding(
                f"{name} is in {value.currency}, the reward is paid in {r.currency}", path=f"rewards.{name}"
            )
        elif value.amount < 0:
            yield Finding(f"{name} is negative ({value})", path=f"rewards.{name}")
    floor, cap = r.floor, r.cap_per_period
    if (
        floor is not None
        and cap is not None
        and floor.currency == cap.currency == r.currency
        and floor.amount > cap.amount
    ):
        yield Finding(f"floor {floor} is above the period cap {cap}", path="rewards.floor")


@builtin(
    "R005",
    area="rewards",
    severity="error",
    title="A clawback window exists",
    rationale="Without clawback, a deal refunded or churned a week after close is still paid; teams "
    "are rewarded for closing bad-fit customers.",
    fix="Add 'rewards.clawback: {window_days: 90}' (or the window both teams agree on).",
)
def clawback(plan: AlignmentPlan) -> Iterator[Finding]:
    """A clawback with a window of at least one day."""
    r = plan.rewards
    if r is None:
        return
    if r.clawback is None:
        yield Finding("the reward has no clawback", path="rewards")
    elif r.clawback.window_days == 0:
        yield Finding("the clawback window is 0 days", path="rewards.clawback.window_days")


@builtin(
    "R006",
    area="rewards",
    severity="error",
    title="The reward is tied to a joint KPI or credited by attribution",
    rationale="A reward driven by one team's metric alone (sales bookings, marketing MQLs) pays that "
    "team to optimise at the other's expense. Attribution credits the pool to both teams' work; a joint "
    "KPI under 'rewards.kpis' names the shared outcome the reward is meant to serve, so that both teams "
    "review the reward beside it (listing it does not change what compute_rewards pays).",
    fix="List a joint marketing-and-sales KPI under 'rewards.kpis', or credit the pool by "
    "'rewards.attribution'.",
)
def joint_dependency(plan: AlignmentPlan) -> Iterator[Finding]:
    """``rewards.attribution`` is set or a KPI in ``rewards.kpis`` is joint."""
    r = plan.rewards
    if r is None or r.attribution is not None:
        return
    functions = team_functions(plan)
    owners = {k.id: k.owners for k in plan.kpis}
    if not any(is_joint(owners.get(k, []), functions) for k in r.kpis):
        yield Finding("the reward is tied to no joint KPI and uses no attribution", path="rewards.kpis")


RULES: tuple[RuleSpec, ...] = (
    both_teams_share,
    revenue_splits,
    tiers_cover,
    caps_valid,
    clawback,
    joint_dependency,
)
