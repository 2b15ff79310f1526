"""The reward plan: what marketing and sales agree to be paid, as people write it in the plan.

Definitions only (pydantic models) and the checks that tell whether a plan can be computed
(:meth:`RewardPlan.problems`); computing it is :func:`~smarketing.rewards.compute_rewards`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from smarketing._base import (
    FrozenModel,
    Id,
    MinorUnitCurrency,
    NonNegativeDecimal,
    PlanDate,
    PlanMoney,
    PositivePlanMoney,
    Rate,
    Text,
    WholeDays,
    located,
)
from smarketing._limits import MAX_AMOUNT_DIGITS, check_digits
from smarketing._periods import REWARD_PERIOD
from smarketing.errors import PlanError
from smarketing.money import _EXPONENTS, Money

__all__ = [
    "AttributionCredit",
    "Clawback",
    "FACTOR_DIGITS",
    "Participant",
    "Pool",
    "RewardPlan",
    "RewardSplit",
    "RewardVersion",
    "SHARE_PLACES",
    "StageCredit",
    "Tier",
]


class Pool(FrozenModel):
    """The reward pool a won deal funds."""

    rate: Rate = Field(default=Decimal(0), description="Share of the deal amount that goes into the pool.")
    basis: Literal["gross", "net"] = Field(
        default="gross", description="Deal amount before (gross) or after (net) discounts."
    )
    fixed: PlanMoney | None = Field(default=None, description="Fixed amount added per deal.")
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
    quota: PositivePlanMoney | None = Field(default=None, description="Quota per period, for attainment.")
    quotas: dict[str, PositivePlanMoney] = Field(
        default_factory=dict,
        description="Quota for a named period ('2026-10', '2026-Q4', '2026'), overriding quota.",
    )
    weight: NonNegativeDecimal = Field(
        default=Decimal(1), description="Weight inside a team pool (when divided by weights)."
    )
    divide: Literal["weight", "equal", "attainment", "credit"] = Field(
        default="weight",
        description="Team pools: how the team's credit is divided among its members: by their "
        "participant weight, equally, by quota attainment, or by their own credited reward.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.person is None) == (self.team is None):
            raise ValueError("a participant is either a person or a team: give exactly one")
        bad = [k for k in self.quotas if REWARD_PERIOD.fullmatch(k) is None]
        if bad:
            raise located([(f"quotas.{bad[0]}", "a period is 'YYYY-MM', 'YYYY-Qn' or 'YYYY'")])
        return self

    @property
    def id(self) -> str:
        """The person or team id."""
        return self.person or self.team or ""

    def quota_for(self, period: str) -> Money | None:
        """The quota for ``period`` (a per-period quota, else the default one).

        Examples:
            >>> p = Participant(person="ana", quota="100 EUR", quotas={"2026-12": "150 EUR"})
            >>> p.quota_for("2026-11"), p.quota_for("2026-12")
            (Money('100', 'EUR'), Money('150', 'EUR'))
        """
        return self.quotas.get(period, self.quota)


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


class StageCredit(FrozenModel):
    """Credit a share of the pool to whoever owned the stages the deal's lead passed through."""

    share: Rate = Field(description="Share of the pool credited by stage ownership.")
    key: Literal["owner", "team"] = Field(
        default="team",
        description="team: the stage's owning team (from the journey); owner: the person who moved the "
        "lead into the stage (the stage event's actor), else the owning team.",
    )


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

    window_days: WholeDays = Field(description="Days after close during which a refund claws back.")
    mode: Literal["full", "pro_rata"] = Field(
        default="full", description="Reverse everything, or pro rata by time elapsed."
    )
    reduce_attainment: bool = Field(
        default=True, description="Whether clawed-back deals also leave the attainment."
    )


class RewardVersion(FrozenModel):
    """A later version of the reward plan: the fields it gives replace the plan's from ``valid_from`` on.

    Fields left out are inherited from the plan itself (not from an earlier version), so every version
    reads on its own.
    """

    id: Id = Field(description="Version id, shown on every ledger line paid under it.")
    valid_from: PlanDate = Field(
        description="Deals closed on or after this date are paid under this version."
    )
    pool: Pool | None = Field(default=None, description="Replaces the pool.")
    participants: list[Participant] | None = Field(default=None, description="Replaces the participants.")
    team_split: dict[Id, Rate] | None = Field(default=None, description="Replaces the team split.")
    attribution: AttributionCredit | None = Field(default=None, description="Replaces attribution credit.")
    stage_credit: StageCredit | None = Field(default=None, description="Replaces stage credit.")
    splits: list[RewardSplit] | None = Field(default=None, description="Replaces the splits.")
    tiers: list[Tier] | None = Field(default=None, description="Replaces the tiers.")
    tier_mode: Literal["marginal", "retroactive"] | None = Field(default=None, description="Replaces it.")
    cap_per_deal: PlanMoney | None = Field(default=None, description="Replaces the per-deal cap.")
    cap_per_period: PlanMoney | None = Field(default=None, description="Replaces the per-period cap.")
    floor: PlanMoney | None = Field(default=None, description="Replaces the floor.")
    clawback: Clawback | None = Field(default=None, description="Replaces the clawback policy.")


_VERSIONED = (
    "pool",
    "participants",
    "team_split",
    "attribution",
    "stage_credit",
    "splits",
    "tiers",
    "tier_mode",
    "cap_per_deal",
    "cap_per_period",
    "floor",
    "clawback",
)


class RewardPlan(FrozenModel):
    """One reward plan, with its later versions.

    Examples:
        >>> plan = RewardPlan.model_validate(
        ...     {
        ...         "id": "v1",
        ...         "valid_from": "2026-01-01",
        ...         "currency": "EUR",
        ...         "pool": {"rate": "10%"},
        ...         "team_split": {"sales": "100%"},
        ...         "participants": [{"team": "sales"}],
        ...         "versions": [{"id": "v2", "valid_from": "2026-07-01", "pool": {"rate": "12%"}}],
        ...     }
        ... )
        >>> [
        ...     (v.id, v.pool.rate)
        ...     for v in (plan.version_on(date(2026, 3, 1)), plan.version_on(date(2026, 9, 1)))
        ... ]
        [('v1', Decimal('0.1')), ('v2', Decimal('0.12'))]
    """

    id: Id = Field(description="Plan version id.")
    name: str = Field(default="", description="Display name.")
    valid_from: PlanDate | None = Field(
        default=None, description="Deals closed on or after this date use this version."
    )
    currency: MinorUnitCurrency = Field(description="Plan currency (ISO 4217); rewards are paid in it.")
    pool: Pool = Field(description="What a won deal puts into the pool.")
    participants: list[Participant] = Field(min_length=1, description="Who shares in the reward.")
    team_split: dict[Id, Rate] = Field(
        default_factory=dict, description="Team id -> share of the pool (revenue split)."
    )
    attribution: AttributionCredit | None = Field(
        default=None, description="Credit the pool by attribution over touchpoints."
    )
    stage_credit: StageCredit | None = Field(
        default=None, description="Credit a share of the pool to the owners of the stages passed through."
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
    cap_per_deal: PlanMoney | None = Field(
        default=None, description="Most paid to one participant for one deal."
    )
    cap_per_period: PlanMoney | None = Field(
        default=None, description="Most paid to one participant per period."
    )
    floor: PlanMoney | None = Field(
        default=None, description="Least paid to a person participant per period."
    )
    clawback: Clawback | None = Field(default=None, description="Refund and churn policy.")
    kpis: list[Id] = Field(
        default_factory=list,
        description="Ids of the plan's joint KPIs this reward is meant to serve. Checked by the alignment "
        "rules (each must be a KPI of the plan; R006 asks for a joint one unless the pool is credited by "
        "attribution); compute_rewards does not read them: they neither gate nor change what is paid.",
    )
    locked_through: PlanDate | None = Field(
        default=None,
        description="Periods ending on or before this date are closed: recomputing one gives adjustment "
        "lines against the ledger paid for it, never new lines.",
    )
    versions: list[RewardVersion] = Field(
        default_factory=list, description="Later versions, by valid_from (effective dating)."
    )

    def problems(self) -> list[tuple[str, str]]:
        """What makes the plan impossible to compute, as ``(field path, message)`` pairs.

        A plan with problems still loads (the alignment rules report them as findings, with advice);
        :func:`compute_rewards` refuses it with a :class:`~smarketing.errors.PlanError` naming every one.
        Checked: a team split or plan revenue split totalling 100% (one of them), attribution and stage shares
        with a fixed split for the rest, tiers from 0 without gap or overlap and only the last open-ended,
        money in the plan currency and not negative, participants listed once, versions in date order.

        Examples:
            >>> plan = RewardPlan.model_validate(
            ...     {
            ...         "id": "v1",
            ...         "currency": "EUR",
            ...         "pool": {"rate": "10%"},
            ...         "participants": [{"team": "sales"}],
            ...         "team_split": {"sales": "70%", "marketing": "20%"},
            ...     }
            ... )
            >>> plan.problems()
            [('team_split', 'shares total 90.0%, not 100%')]
        """
        problems = list(_plan_problems(self))
        previous = self.valid_from
        for i, version in enumerate(self.versions):
            if previous is not None and version.valid_from <= previous:
                problems.append(
                    (f"versions[{i}].valid_from", f"must be after {previous} (versions are in date order)")
                )
            previous = version.valid_from
            for path, message in _plan_problems(self._apply(version)):
                field = path.split(".", 1)[0].split("[", 1)[0]
                if field in version.model_fields_set:
                    problems.append((f"versions[{i}].{path}", message))
        return problems

    def _apply(self, version: RewardVersion) -> RewardPlan:
        update: dict[str, Any] = {name: getattr(version, name) for name in version.model_fields_set}
        update.update(id=version.id, valid_from=version.valid_from, versions=[])
        return self.model_copy(update=update)

    def version_on(self, day: date) -> RewardPlan:
        """The plan in force on ``day``: the latest version whose ``valid_from`` is on or before it.

        Args:
            day: A close date.

        Returns:
            The plan with that version's fields applied (and no further versions).

        Raises:
            PlanError: ``day`` is before the plan's ``valid_from``.
        """
        if self.valid_from is not None and day < self.valid_from:
            raise PlanError(
                f"no version is in force on {day}; the plan starts on {self.valid_from}",
                path="rewards.valid_from",
            )
        current = self.model_copy(update={"versions": []}) if self.versions else self
        for version in self.versions:
            if version.valid_from <= day:
                current = self._apply(version)
        return current

    def version_index(self) -> list[tuple[date | None, RewardPlan]]:
        """Every version as ``(valid_from, plan in force)``, oldest first."""
        base = self.model_copy(update={"versions": []}) if self.versions else self
        return [(self.valid_from, base), *((v.valid_from, self._apply(v)) for v in self.versions)]


#: Decimal places of a share (team split, plan splits, attribution and stage shares) and of a participant
#: weight: the kernel splits in integer weights, so a share of 0.333333 weighs 333,333 per deal.
SHARE_PLACES = 6
#: Integer digits of a participant weight, a tier multiplier and a tier's attainment bounds.
FACTOR_DIGITS = 6


def _money_problems(amount: Money) -> list[str]:
    """Why a plan amount cannot be paid: digits below the minor unit, or more than 15 integer digits."""
    if not amount.is_exact():
        unit = format(Money.from_minor(1, amount.currency).amount, "f")
        return [f"{amount} has digits below the minor unit of {amount.currency} ({unit})"]
    problem = check_digits(amount.amount, integer_digits=MAX_AMOUNT_DIGITS)
    return [f"{amount} {problem}"] if problem else []


def _number_problems(plan: RewardPlan) -> list[tuple[str, str]]:
    """Shares, weights, multipliers and attainments outside the ranges the kernel computes exactly."""
    shares: list[tuple[str, Decimal]] = [(f"team_split.{k}", v) for k, v in plan.team_split.items()]
    for i, split in enumerate(plan.splits):
        shares += [(f"splits[{i}].shares.{k}", v) for k, v in split.shares.items()]
    if plan.attribution is not None:
        shares.append(("attribution.share", plan.attribution.share))
    if plan.stage_credit is not None:
        shares.append(("stage_credit.share", plan.stage_credit.share))
    factors: list[tuple[str, Decimal]] = [
        (f"participants[{i}].weight", p.weight) for i, p in enumerate(plan.participants)
    ]
    for i, tier in enumerate(plan.tiers):
        factors.append((f"tiers[{i}].from_attainment", tier.from_attainment))
        factors.append((f"tiers[{i}].multiplier", tier.multiplier))
        if tier.to_attainment is not None:
            factors.append((f"tiers[{i}].to_attainment", tier.to_attainment))
    problems = []
    for path, value in shares:
        problem = check_digits(value, integer_digits=1, decimal_places=SHARE_PLACES)
        if problem is not None:
            problems.append((path, f"{value} {problem} (a share is at most 100% to {SHARE_PLACES} places)"))
    for path, value in factors:
        problem = check_digits(value, integer_digits=FACTOR_DIGITS, decimal_places=SHARE_PLACES)
        if problem is not None:
            problems.append((path, f"{value} {problem}"))
    return problems


def _plan_problems(plan: RewardPlan) -> list[tuple[str, str]]:
    """What makes a reward plan impossible to compute, as (field path, message)."""
    problems: list[tuple[str, str]] = []
    currency = plan.currency
    money: list[tuple[str, Money | None]] = [
        ("pool.fixed", plan.pool.fixed),
        ("cap_per_deal", plan.cap_per_deal),
        ("cap_per_period", plan.cap_per_period),
        ("floor", plan.floor),
    ]
    for i, part in enumerate(plan.participants):
        money.append((f"participants[{i}].quota", part.quota))
        money.extend((f"participants[{i}].quotas.{k}", q) for k, q in part.quotas.items())
    unitless = _EXPONENTS.get(currency, 0) is None
    if unitless:
        problems.append(
            (
                "currency",
                f"{currency} has no minor unit in ISO 4217 (funds, precious metals and test codes): rewards "
                "are paid in minor units, so pay them in a currency that has one",
            )
        )
    for path, amount in money:
        if amount is not None and amount.currency != currency:
            problems.append((path, f"must be in the plan currency {currency}, not {amount.currency}"))
        elif amount is not None and amount.amount < 0:
            problems.append((path, "must not be negative"))
        elif amount is not None and not unitless:
            problems.extend((path, problem) for problem in _money_problems(amount))
    problems.extend(_number_problems(plan))
    seen: dict[tuple[str, str], int] = {}
    for i, part in enumerate(plan.participants):
        kind = "person" if part.person else "team"
        if (kind, part.id) in seen:
            problems.append((f"participants[{i}].{kind}", f"{part.id!r} is listed twice"))
        seen[(kind, part.id)] = i
    if plan.team_split and sum(plan.team_split.values()) != 1:
        total = sum(plan.team_split.values(), Decimal(0))
        problems.append(("team_split", f"shares total {total * 100:f}%, not 100%"))
    revenue = [(i, s) for i, s in enumerate(plan.splits) if s.kind == "revenue"]
    for i, split in revenue:
        total = sum(split.shares.values(), Decimal(0))
        if total != 1:
            problems.append((f"splits[{i}].shares", f"a revenue split totals {total * 100:f}%, not 100%"))
    if len(revenue) > 1:
        problems.append((f"splits[{revenue[1][0]}]", "only one revenue split: it is the plan's fixed split"))
    if revenue and plan.team_split:
        problems.append((f"splits[{revenue[0][0]}]", "give a team_split or a revenue split, not both"))
    shared = (plan.attribution.share if plan.attribution else Decimal(0)) + (
        plan.stage_credit.share if plan.stage_credit else Decimal(0)
    )
    if shared > 1:
        problems.append(
            ("stage_credit.share", f"attribution and stage shares total {shared * 100:f}% > 100%")
        )
    elif shared < 1 and not plan.team_split and not revenue:
        problems.append(
            (
                "team_split",
                f"{(1 - shared) * 100:f}% of the pool is credited by neither attribution nor stages; "
                "give a team_split or a revenue split for it",
            )
        )
    for i, tier in enumerate(plan.tiers):
        where = f"tiers[{i}]"
        if tier.to_attainment is not None and tier.to_attainment <= tier.from_attainment:
            problems.append((f"{where}.to_attainment", "must be above from_attainment"))
        if i == 0 and tier.from_attainment != 0:
            problems.append((f"{where}.from_attainment", "the first band starts at 0"))
        if i > 0:
            before = plan.tiers[i - 1].to_attainment
            if before is None:
                problems.append((f"tiers[{i - 1}].to_attainment", "only the last band is open-ended"))
            elif tier.from_attainment < before:
                problems.append(
                    (f"{where}.from_attainment", f"overlaps tiers[{i - 1}] (which runs to {before})")
                )
            elif tier.from_attainment > before:
                problems.append((f"{where}.from_attainment", f"leaves a gap after tiers[{i - 1}] ({before})"))
    if plan.tiers and plan.tiers[-1].to_attainment is not None:
        problems.append((f"tiers[{len(plan.tiers) - 1}].to_attainment", "the last band is open-ended"))
    return problems
