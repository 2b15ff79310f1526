"""Small look-ups over a plan that several rules share (private)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan


def team_functions(plan: AlignmentPlan) -> dict[str, str]:
    """Team id -> function."""
    return {t.id: t.function for t in plan.teams}


def person_functions(plan: AlignmentPlan) -> dict[str, str]:
    """Person id -> the function of their team."""
    functions = team_functions(plan)
    return {p.id: functions.get(p.team, "") for p in plan.people}


def is_joint(team_ids: Iterable[str], functions: dict[str, str]) -> bool:
    """Whether the teams include both a marketing and a sales team."""
    present = {functions.get(t) for t in team_ids}
    return "marketing" in present and "sales" in present


def quote_list(items: Iterable[str], *, limit: int = 5) -> str:
    """``'a', 'b' and 3 more`` — short, deterministic lists in messages."""
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
