"""The shared reward: how marketing and sales are paid for the revenue they produce together.

A :class:`RewardPlan` defines a *pool* per won deal (a rate of the amount, a fixed amount, or both), how the
pool is credited to *participants* (a fixed team split, an attribution model, or both), rates by quota
attainment (*tiers*), caps, a floor, and a *clawback* window for refunds and churn.

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

from datetime import date
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from smarketing._base import CurrencyCode, FrozenModel, Id, NonNegativeDecimal, Rate, Text
from smarketing.money import Money

__all__ = [
    "AttributionCredit",
    "Clawback",
    "Participant",
    "Pool",
    "RewardPlan",
    "RewardSplit",
    "Tier",
]


class Pool(FrozenModel):
    """The reward pool a won deal funds."""

    rate: Rate = Field(default=Decimal(0), description="Share of the deal amount that goes into the pool.")
    basis: Literal["gross", "net"] = Field(
        default="gross", description="Deal amount before (gross) or after (net) discounts."
    )
    fixed: Money | None = Field(default=None, description="Fixed amount added per deal.")
    products: list[Text] = Field(
        default_factory=list,
        description="Only deals of these products fund the pool (all if empty).",
    )
    segments: list[Text] = Field(
        default_factory=list,
        description="Only deals in these segments fund the pool (all if empty).",
    )


class Participant(FrozenModel):
    """A person or a whole team that shares in the reward."""

    person: Id | None = Field(default=None, description="Person id (or give a team).")
    team: Id | None = Field(default=None, description="Team id, for a team pool.")
    quota: Money | None = Field(default=None, description="Quota per period, for attainment.")
    weight: NonNegativeDecimal = Field(
        default=Decimal(1), description="Weight inside a team pool (when divided by weights)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.person is None) == (self.team is None):
            raise ValueError("a participant is either a person or a team: give exactly one")
        return self


class AttributionCredit(FrozenModel):
    """Credit the pool by an attribution model over the deal's touchpoints."""

    model: Text = Field(description="Attribution model name, e.g. 'position' or 'markov'.")
    key: Literal["owner", "team"] = Field(
        default="owner", description="Who receives credit: the touch owner or the owning team."
    )
    share: Rate = Field(
        default=Decimal(1), description="Share of the pool credited by attribution (rest: team split)."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Model parameters.")


class RewardSplit(FrozenModel):
    """An explicit split of credit, as in a CRM's opportunity splits."""

    kind: Literal["revenue", "overlay"] = Field(
        description="Revenue splits total exactly 100%; overlay splits are paid on top."
    )
    shares: dict[Id, Rate] = Field(description="Person or team id -> share.")


class Tier(FrozenModel):
    """A band of quota attainment and the multiplier paid inside it."""

    from_attainment: NonNegativeDecimal = Field(description="Lower bound (1 = 100% of quota).")
    to_attainment: NonNegativeDecimal | None = Field(
        default=None, description="Upper bound, exclusive; none for the last band."
    )
    multiplier: NonNegativeDecimal = Field(
        description="Applied to the credited reward in the band (1.5 accelerates, 0.5 slows)."
    )


class Clawback(FrozenModel):
    """What happens when a paid deal is refunded or churns."""

    window_days: int = Field(ge=0, description="Days after close during which a refund claws back.")
    mode: Literal["full", "pro_rata"] = Field(
        default="full", description="Reverse everything, or pro rata by time elapsed."
    )
    reduce_attainment: bool = Field(
        default=True, description="Whether clawed-back deals also leave the attainment."
    )


class RewardPlan(FrozenModel):
    """One version of the shared reward plan."""

    id: Id = Field(description="Plan version id.")
    name: str = Field(default="", description="Display name.")
    valid_from: date | None = Field(
        default=None, description="Deals closed on or after this date use this version."
    )
    currency: CurrencyCode = Field(description="Plan currency (ISO 4217); rewards are paid in it.")
    pool: Pool = Field(description="What a won deal puts into the pool.")
    participants: list[Participant] = Field(min_length=1, description="Who shares in the reward.")
    team_split: dict[Id, Rate] = Field(
        default_factory=dict, description="Team id -> share of the pool (revenue split)."
    )
    attribution: AttributionCredit | None = Field(
        default=None, description="Credit the pool by attribution over touchpoints."
    )
    splits: list[RewardSplit] = Field(
        default_factory=list, description="Explicit revenue and overlay splits."
    )
    tiers: list[Tier] = Field(default_factory=list, description="Attainment bands, lowest first.")
    tier_mode: Literal["marginal", "retroactive"] = Field(
        default="marginal",
        description="marginal: each band's multiplier on its part; retroactive: the highest "
        "band reached applies to everything.",
    )
    cap_per_deal: Money | None = Field(default=None, description="Most paid for one deal.")
    cap_per_period: Money | None = Field(default=None, description="Most paid per period.")
    floor: Money | None = Field(default=None, description="Least paid per period.")
    clawback: Clawback | None = Field(default=None, description="Refund and churn policy.")
    kpis: list[Id] = Field(
        default_factory=list, description="Joint KPIs the reward depends on (gates or modifiers)."
    )
