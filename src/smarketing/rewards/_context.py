"""What the kernel needs from the plan, looked up once (private).

The kernel never imports the aggregate plan: :meth:`_Context.of` reads the people, teams and journey
stages from whatever plan it is given (an ``AlignmentPlan``, or a bare :class:`RewardPlan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from smarketing.errors import PlanError
from smarketing.rewards.model import RewardPlan


@attrs.frozen
class _Context:
    """What the kernel needs from the plan, looked up once."""

    plan: RewardPlan
    people: Mapping[str, str]  # person -> team (empty for a bare RewardPlan)
    stage_owner: Mapping[str, str]  # stage -> owning team
    aligned: bool  # people and teams come from an AlignmentPlan

    @classmethod
    def of(cls, plan: Any) -> _Context:
        if isinstance(plan, RewardPlan):
            return cls(plan=plan, people={}, stage_owner={}, aligned=False)
        rewards = getattr(plan, "rewards", None)
        if rewards is None or not isinstance(rewards, RewardPlan):
            if hasattr(plan, "rewards"):
                raise PlanError("the plan has no reward part", path="rewards")
            raise TypeError(f"plan must be an AlignmentPlan or a RewardPlan, not {type(plan).__name__}")
        return cls(
            plan=rewards,
            people={p.id: p.team for p in plan.people},
            stage_owner={s.id: s.owner for s in plan.journey.stages},
            aligned=True,
        )

    def members(self, team: str) -> list[str]:
        return sorted(p for p, t in self.people.items() if t == team)

    def team_of(self, who: str) -> str | None:
        return self.people.get(who)
