"""Collaboration rules (C): regular joint meetings with outcomes, and a neutral arbiter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._facts import is_joint, person_functions, team_functions

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan, Meeting

_AT_LEAST_WEEKLY = frozenset({"daily", "weekly"})
_AT_LEAST_MONTHLY = frozenset({"daily", "weekly", "biweekly", "monthly"})


def _joint_meetings(plan: AlignmentPlan) -> list[tuple[int, Meeting]]:
    functions = team_functions(plan)
    return [(i, m) for i, m in enumerate(plan.cadence) if is_joint(m.teams, functions)]


def _with_owner(plan: AlignmentPlan, matching: list[tuple[int, Meeting]], what: str) -> Iterator[Finding]:
    if not matching:
        yield Finding(f"the cadence has no {what}", path="cadence")
    elif all(m.outcome_owner is None for _, m in matching):
        i, m = matching[0]
        yield Finding(f"{what} {m.id!r} has no outcome owner", path=f"cadence[{i}].outcome_owner")


@builtin(
    "C001",
    area="collaboration",
    severity="error",
    title="Marketing and sales meet at least weekly, with an outcome owner",
    rationale="A short weekly sync on targets, SLA breaches and next campaigns catches problems while "
    "they are small; without an owner for its actions it is a status meeting.",
    fix="Add a weekly (or daily) meeting to 'cadence' with a marketing and a sales team and an "
    "'outcome_owner'.",
)
def weekly_sync(plan: AlignmentPlan) -> Iterator[Finding]:
    """A joint meeting at least weekly with an outcome owner."""
    matching = [(i, m) for i, m in _joint_meetings(plan) if m.frequency in _AT_LEAST_WEEKLY]
    yield from _with_owner(plan, matching, "joint marketing and sales meeting at least weekly")


@builtin(
    "C002",
    area="collaboration",
    severity="error",
    title="A joint review happens at least monthly, with an outcome owner",
    rationale="The monthly review is where joint KPIs, funnel conversion and reward statements are read "
    "together and strategy changes; without it the plan is never revisited.",
    fix="Add a 'kind: review' meeting, monthly or more often, with both teams and an 'outcome_owner'.",
)
def monthly_review(plan: AlignmentPlan) -> Iterator[Finding]:
    """A joint ``review`` at least monthly with an outcome owner."""
    matching = [
        (i, m) for i, m in _joint_meetings(plan) if m.kind == "review" and m.frequency in _AT_LEAST_MONTHLY
    ]
    yield from _with_owner(plan, matching, "joint review at least monthly")


@builtin(
    "C003",
    area="collaboration",
    severity="warning",
    title="Campaigns have joint retrospectives",
    rationale="Comparing campaigns side by side with sales' feedback is how marketing learns which "
    "messages bring leads that buy; sales should hear of campaigns from the start, too.",
    fix="Add a 'kind: retrospective' meeting (e.g. 'frequency: per_campaign') with both teams.",
)
def retrospectives(plan: AlignmentPlan) -> Iterator[Finding]:
    """A joint ``retrospective`` meeting exists."""
    if not any(m.kind == "retrospective" for _, m in _joint_meetings(plan)):
        yield Finding("the cadence has no joint campaign retrospective", path="cadence")


@builtin(
    "C004",
    area="collaboration",
    severity="error",
    title="An arbiter who belongs to neither team resolves conflicts",
    rationale="Disputes over lead acceptance, dispositions and splits need a neutral third party who "
    "hears both sides; a marketer or a seller as judge is a party to the dispute.",
    fix="Set 'arbiter.person' to someone outside marketing and sales (RevOps, finance, leadership).",
)
def neutral_arbiter(plan: AlignmentPlan) -> Iterator[Finding]:
    """``arbiter`` is set and its person's team is neither marketing nor sales."""
    if plan.arbiter is None:
        yield Finding("the plan names no arbiter", path="arbiter")
        return
    function = person_functions(plan).get(plan.arbiter.person)
    if function in ("marketing", "sales"):
        yield Finding(f"arbiter {plan.arbiter.person!r} belongs to a {function} team", path="arbiter.person")


RULES: tuple[RuleSpec, ...] = (weekly_sync, monthly_review, retrospectives, neutral_arbiter)
