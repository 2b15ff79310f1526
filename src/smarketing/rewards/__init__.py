"""The shared reward: how marketing and sales are paid for the revenue they produce together.

A :class:`RewardPlan` defines a *pool* per won deal (a rate of the amount, a fixed amount, or both), how the
pool is credited to *participants* (a fixed team split, an attribution model, or both), rates by quota
attainment (*tiers*), caps, a floor, and a *clawback* window for refunds and churn.

The package reads top-down: :mod:`~smarketing.rewards.model` (the plan's definitions),
:mod:`~smarketing.rewards.compute` (the verb), :mod:`~smarketing.rewards.ledger` and
:mod:`~smarketing.rewards.statements` (the results), and private modules beside them: ``_deals`` (won-deal
intake), ``_credit`` and ``_routing`` (each deal's credit and who receives it), ``_team_pools``,
``_attainment``, ``_kernel`` (a period's lines), ``_allocate`` (the allocation core) and ``_columns`` (the
coded lines).

Examples:
    >>> from smarketing.rewards import RewardPlan
    >>> plan = RewardPlan.model_validate(
    ...     {
    ...         "id": "fy27",
    ...         "currency": "EUR",
    ...         "pool": {"rate": "10%"},
    ...         "team_split": {"sales": "70%", "marketing": "30%"},
    ...         "participants": [{"team": "sales"}, {"team": "marketing"}],
    ...         "clawback": {"window_days": 90},
    ...     }
    ... )
    >>> plan.pool.rate, sum(plan.team_split.values())
    (Decimal('0.1'), Decimal('1.0'))
"""

from __future__ import annotations

from smarketing.rewards._columns import COMPONENTS
from smarketing.rewards.compute import compute_rewards
from smarketing.rewards.ledger import RewardLedger
from smarketing.rewards.model import (
    AttributionCredit,
    Clawback,
    Participant,
    Pool,
    RewardPlan,
    RewardSplit,
    RewardVersion,
    StageCredit,
    Tier,
)
from smarketing.rewards.statements import Statement

__all__ = [
    "AttributionCredit",
    "COMPONENTS",
    "Clawback",
    "Participant",
    "Pool",
    "RewardLedger",
    "RewardPlan",
    "RewardSplit",
    "RewardVersion",
    "StageCredit",
    "Statement",
    "Tier",
    "compute_rewards",
]
