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

import html
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, Self

import attrs
import numpy as np
import polars as pl
from pydantic import Field, model_validator

from smarketing import _display
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
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_YEAR, MIN_YEAR, check_digits
from smarketing._periods import Window
from smarketing.errors import CurrencyMismatchError, DataError, PlanError, PlanIssue
from smarketing.frames import _money, as_lazy, check_aware
from smarketing.money import _EXPONENTS, FxTable, Money, allocate
from smarketing.records import Dataset

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

_PERIOD_RE = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")

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
        bad = [k for k in self.quotas if _PERIOD_RE.fullmatch(k) is None]
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


# ==================================================================================================
# Computing rewards: one columnar kernel (polars), integer minor units of the plan currency throughout.

_I64 = pl.Int64
_MAX_PRODUCT = 2**62  # products of minor units and integer weights must stay exact in int64
_WEIGHT_SCALE = 1_000_000  # attribution credit is quantised to millionths of a deal before allocation
_BIG_GROUP = 4096  # allocation groups at least this large pick their top remainders by partition, no sort
_GRID_WIDTH = 6  # allocations over at most this many recipients per total rank them pairwise, no sort
_PERSON = "person:"
_TEAM = "team:"
# Component order inside a deal's lines (the documented line order).
COMPONENTS: tuple[str, ...] = (
    "pool",
    "split",
    "team_pool",
    "tier",
    "cap",
    "floor",
    "clawback",
    "adjustment",
)
"""Ledger line components, in the order lines of one deal are listed."""


def _period_kind(period: str) -> str:
    if not isinstance(period, str) or _PERIOD_RE.fullmatch(period) is None:
        raise ValueError(
            f"period {period!r} is not supported: rewards are computed for a month ('YYYY-MM'), a quarter "
            "('YYYY-Qn') or a year ('YYYY'), not for weeks, days or other spans"
        )
    year = int(period[:4])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"period {period!r} is outside the supported years {MIN_YEAR}..{MAX_YEAR} (calendars, holiday "
            "tables and period arithmetic cover these)"
        )
    return "year" if len(period) == 4 else ("quarter" if "Q" in period else "month")


def _period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a period."""
    _period_kind(period)
    window = Window.parse(period)
    return window.start, window.end - timedelta(days=1)


def _period_of(column: pl.Expr, kind: str) -> pl.Expr:
    year = column.dt.year().cast(pl.String)
    if kind == "year":
        return year
    if kind == "quarter":
        return pl.concat_str(year, pl.lit("-Q"), column.dt.quarter().cast(pl.String))
    return column.dt.strftime("%Y-%m")


def _ratio(value: Decimal) -> tuple[int, int]:
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator


def _half_even_div(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """``numerator / denominator`` rounded half to even, in integers (denominator > 0)."""
    den = denominator if isinstance(denominator, pl.Expr) else pl.lit(denominator, dtype=_I64)
    q = numerator.floordiv(den)
    twice = (numerator - q * den) * 2
    up = (twice > den) | ((twice == den) & (q % 2 == 1))
    return q + up.cast(_I64)


def _allocate_frame(
    frame: pl.DataFrame, *, by: Sequence[str], key: str, weight: str, total: str, out: str
) -> pl.DataFrame:
    """:func:`~smarketing.money.allocate`, vectorised: split ``total`` over each group's rows by ``weight``.

    Every row of a group carries the group's ``total`` (integer minor units, any sign) and an integer
    ``weight`` >= 0; the group's weights must not all be zero. Largest remainder with ties to the smaller
    ``key``, and a negative total split as the mirror image of the positive one: for any group this gives
    exactly what ``allocate(Money.from_minor(total), {key: weight})`` gives (a Hypothesis test checks it).
    The rows come back grouped (in no promised order).
    """
    if frame.is_empty():
        return frame.with_columns(pl.lit(0, dtype=_I64).alias(out))
    group = list(by)
    f = frame.sort(group)
    # Group boundaries of the sorted frame, then integer arithmetic in numpy: one sort, no windows.
    changed = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group]).fill_null(True)
    starts = np.flatnonzero(f.select(changed).to_series().to_numpy())
    keys = f.get_column(key)
    if not keys.dtype.is_integer():
        keys, _ = _text_codes(keys)
    units = _largest_remainder(
        starts,
        f.get_column(total).to_numpy().astype(np.int64),
        f.get_column(weight).to_numpy().astype(np.int64),
        keys.to_numpy(),
        where=lambda row: str(f.row(row, named=True)),
    )
    return f.with_columns(pl.Series(out, units, dtype=_I64))


def _largest_remainder(
    starts: np.ndarray,
    totals: np.ndarray,
    weights: np.ndarray,
    keys: np.ndarray | None,
    *,
    where: Any = None,
) -> np.ndarray:
    """The allocation core on arrays: rows grouped (group ``g`` is ``starts[g]:starts[g + 1]``).

    Every row carries its group's total; ``keys`` breaks ties (the smaller first); ``keys=None`` means
    the rows of each group are already in key order, which lets one stable sort on a single integer do.
    """
    height = totals.size
    if not height:
        return np.zeros(0, dtype=np.int64)
    weights = weights.astype(np.int64, copy=False)
    lengths = np.diff(np.append(starts, height))
    largest = max(abs(int(totals.max())), abs(int(totals.min())))
    if largest * int(weights.max()) >= _MAX_PRODUCT:
        raise DataError(f"amounts too large to split exactly ({largest} minor units)", kind="rewards")
    if (weights < 0).any():
        raise DataError("a weight is negative", kind="rewards")
    weight_sum = np.add.reduceat(weights, starts)
    if (weight_sum <= 0).any():
        first = int(starts[np.flatnonzero(weight_sum <= 0)[0]])
        raise DataError(
            f"cannot split over weights that are all zero ({where(first) if where else first})",
            kind="rewards",
        )
    if keys is None and int(lengths.max()) >= _BIG_GROUP:
        # Large groups (a participant's deals of a period) one at a time, on their own rows; the many
        # small groups together, below.
        out = np.empty(height, dtype=np.int64)
        big = lengths >= _BIG_GROUP
        for g in np.flatnonzero(big):
            lo, hi = int(starts[g]), int(starts[g] + lengths[g])
            out[lo:hi] = _split_one(int(totals[lo]), weights[lo:hi], int(weight_sum[g]))
        if not big.all():
            rows = np.flatnonzero(~np.repeat(big, lengths))
            sizes = lengths[~big]
            out[rows] = _largest_remainder(np.cumsum(sizes) - sizes, totals[rows], weights[rows], None)
        return out
    width = height // starts.size
    if keys is None and 1 < width <= _GRID_WIDTH and (lengths == width).all():
        # Groups of the same few rows (a split of every deal over its members): ranked on a grid, no sort.
        return _ranked_grid(totals[starts], weights.reshape(-1, width), weight_sum[:, None]).ravel()
    index = np.repeat(np.arange(starts.size), lengths)
    magnitude = np.abs(totals)
    quotient, remainder = np.divmod(magnitude * weights, weight_sum[index])
    left = magnitude[starts] - np.add.reduceat(quotient, starts)
    biggest = int(weight_sum.max())
    if keys is None and starts.size * (biggest + 1) < _MAX_PRODUCT:
        # Groups ascending, remainders descending, then (stable) the rows' own key order: one integer key.
        order = np.argsort(index * (biggest + 1) + (biggest - remainder), kind="stable")
    else:
        if keys is None:
            keys = np.arange(height)
        order = np.lexsort((keys, -remainder, index))
    ranks = np.empty(height, dtype=np.int64)
    ranks[order] = np.arange(height) - starts[index[order]]
    quotient += ranks < left[index]
    return _signed(quotient, totals)


def _split_one(total: int, weights: np.ndarray, weight_sum: int) -> np.ndarray:
    """One large group (rows in key order, weights checked): only its top remainders get a unit.

    Which ones: the threshold remainder by partition, the rows above it, then the earliest rows equal to
    it; no sort.
    """
    magnitude = abs(total)
    quotient, remainder = np.divmod(weights * magnitude, weight_sum)
    take = magnitude - int(quotient.sum())
    if take > 0:
        threshold = np.partition(remainder, remainder.size - take)[remainder.size - take]
        above = remainder > threshold
        tied = np.flatnonzero(remainder == threshold)[: take - int(np.count_nonzero(above))]
        above[tied] = True
        quotient += above
    if total < 0:
        np.negative(quotient, out=quotient)
    return quotient


def _ahead(remainders: np.ndarray) -> np.ndarray:
    """For a (group x k) grid of remainders (k small, columns in key order): each cell's rank in its row.

    A cell's rank is how many cells of its row come before it: a larger remainder, or an equal one in an
    earlier column. Columns compared pairwise, each pair once, on contiguous rows: no sort.
    """
    k = remainders.shape[1]
    columns = np.ascontiguousarray(remainders.T)
    ahead = np.zeros(columns.shape, dtype=np.int8)
    for i in range(k):
        for j in range(i + 1, k):
            first = columns[i] >= columns[j]  # column i (earlier) comes first on a tie
            ahead[j] += first
            ahead[i] += ~first
    rank: np.ndarray = ahead.T
    return rank


def _signed(units: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """``units`` (magnitudes) signed like their totals, in place: a negative total splits as the mirror."""
    np.negative(units, out=units, where=totals < 0)
    return units


def _scaled(values: Sequence[Decimal]) -> list[int]:
    """Exact integer weights with the same proportions as ``values`` (decimals)."""
    places = max((max(0, -int(v.as_tuple().exponent)) for v in values), default=0)
    return [int(v.scaleb(places)) for v in values]


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


def _minor_units(frame: pl.DataFrame, column: str, currency: str) -> pl.Series:
    """A money column (Decimal or integer) in integer minor units of each row's currency column."""
    return _money.minor_units(frame, column, currency)


def _where(frame: pl.DataFrame, condition: pl.Expr) -> pl.DataFrame:
    """``frame.filter(condition)``, without copying the frame when every row is kept."""
    keep = frame.select(condition.fill_null(False)).to_series()
    return frame if keep.all() else frame.filter(keep)


def _deal_frame(deals: Any, ctx: _Context, fx: FxTable | None, cutoff: date, kind: str) -> pl.DataFrame:
    """Won deals closed on or before ``cutoff`` under the plan, checked, with amounts in plan minor units."""
    plan = ctx.plan
    currency = plan.currency
    required = ["id", "lead_id", "amount", "amount_currency", "stage", "close_date"]
    lf = as_lazy(deals, "deals", required=required)
    native = lf.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    for optional, dtype in (
        ("discount", pl.Decimal(38, 6)),
        ("discount_currency", pl.String()),
        ("owner", pl.String()),
        ("product", pl.String()),
        ("segment", pl.String()),
        ("refunded_on", pl.Date()),
    ):
        if optional not in native.columns:
            native = native.with_columns(pl.lit(None, dtype=dtype).alias(optional))
    if "splits" not in native.columns:
        native = native.with_columns(
            pl.lit(
                None,
                dtype=pl.List(
                    pl.Struct({"person": pl.String, "share": pl.Decimal(38, 6), "kind": pl.String})
                ),
            ).alias("splits")
        )
    if native.get_column("id").null_count():
        raise DataError("a deal has no id", kind="deal", field="id")
    won = _where(native, pl.col("stage") == _money.WON)
    # The one won-deal rule (shared with the KPIs and attribution): ids, dates, currencies, amounts.
    gross = _money.check_won(won).get_column("_minor")
    won = won.with_columns(gross.alias("_gross"))
    start = plan.valid_from
    in_scope = pl.col("close_date") <= cutoff
    if start is not None:
        in_scope &= pl.col("close_date") >= start
    won = _where(won, in_scope)
    # Equal ids have equal hashes: only when two hashes are equal (a repeated id, or rarely a collision)
    # are the ids themselves compared.
    hashes = np.sort(won.get_column("id").hash().to_numpy())
    if (hashes[1:] == hashes[:-1]).any():
        dupes = won.filter(pl.col("id").is_duplicated())
        if len(dupes):
            raise DataError(
                "the deal id appears twice", kind="deal", record=str(dupes.get_column("id")[0]), field="id"
            )
    mixed = won.filter(
        pl.col("discount").is_not_null() & (pl.col("discount_currency") != pl.col("amount_currency"))
    )
    if len(mixed):
        raise DataError(
            "discount must be in the deal's currency",
            kind="deal",
            record=str(mixed.get_column("id")[0]),
            field="discount",
        )
    if plan.pool.basis == "net" or any(v.pool.basis == "net" for v in plan.versions if v.pool):
        # A deal without a discount has none (0); the others in minor units, in place (no join on the ids).
        any_discount = won.get_column("discount").null_count() < won.height
        disc = _minor_units(won, "discount", "amount_currency") if any_discount else pl.lit(0, dtype=_I64)
        won = won.with_columns(disc.fill_null(0).alias("_disc"))
        over = won.filter(pl.col("_disc") > pl.col("_gross"))
        if len(over):
            raise DataError(
                "discount is larger than the amount",
                kind="deal",
                record=str(over.get_column("id")[0]),
                field="discount",
            )
    else:
        won = won.with_columns(pl.lit(0, dtype=_I64).alias("_disc"))
    won = _convert(won.with_columns((pl.col("_gross") - pl.col("_disc")).alias("_net")), fx, currency)
    # Which version pays each deal: the latest whose valid_from is on or before the close date.
    versions = plan.version_index()
    starts = [v[0] for v in versions]
    days = won.get_column("close_date").cast(pl.Int32).to_numpy()
    bounds = np.array([(s - date(1970, 1, 1)).days if s else -(2**31) for s in starts], dtype=np.int64)
    index = np.searchsorted(bounds, days, side="right") - 1
    won = won.with_columns(
        pl.Series("_version", index, dtype=_I64),
        _period_of(pl.col("close_date"), kind).alias("_period"),
        pl.col("refunded_on").cast(pl.Date),
    )
    return won


def _convert(won: pl.DataFrame, fx: FxTable | None, currency: str) -> pl.DataFrame:
    """Gross and discount in plan minor units at the close date's rate (rounded half to even per amount)."""
    target = Money.zero(currency).minor_units
    others = sorted(c for c in won.get_column("amount_currency").unique().to_list() if c != currency)
    pieces = [
        won.filter(pl.col("amount_currency") == currency).with_columns(
            pl.lit(None, dtype=pl.String).alias("_fx")
        )
    ]
    for code in others:
        part = won.filter(pl.col("amount_currency") == code).sort("close_date")
        if fx is None:
            raise CurrencyMismatchError(
                f"deal {part.get_column('id')[0]}: amount in {code}, the plan pays in {currency}; "
                "pass fx=FxTable(...) to convert"
            )
        rates = fx.series(code, currency)
        if not rates:
            row = part.row(0, named=True)
            raise DataError(
                f"no {code}/{currency} rate on or before {row['close_date']}",
                kind="deal",
                record=row["id"],
                field="fx",
            )
        ratios = [_ratio(rate) for _, rate in rates]
        table = pl.DataFrame(
            {
                "_on": [on for on, _ in rates],
                "_rate": list(range(len(rates))),
                "_fx": [f"{code}/{currency} {rate} on {on}" for on, rate in rates],
            },
            schema={"_on": pl.Date, "_rate": _I64, "_fx": pl.String},
        )
        part = part.join_asof(table, left_on="close_date", right_on="_on", strategy="backward")
        missing = part.filter(pl.col("_rate").is_null())
        if len(missing):
            row = missing.row(0, named=True)
            raise DataError(
                f"no {code}/{currency} rate on or before {row['close_date']}",
                kind="deal",
                record=row["id"],
                field="fx",
            )
        source = Money.zero(code).minor_units
        scale_up = 10 ** max(0, target - source)
        scale_down = 10 ** max(0, source - target)
        biggest = int(part.select(pl.col("_gross").max()).item() or 0) * max(n for n, _ in ratios) * scale_up
        if biggest < _MAX_PRODUCT and max(d for _, d in ratios) * scale_down < _MAX_PRODUCT:
            which = part.get_column("_rate")
            part = part.with_columns(
                pl.Series("_num", [n for n, _ in ratios], dtype=_I64).gather(which),
                pl.Series("_den", [d for _, d in ratios], dtype=_I64).gather(which),
            )
            den = pl.col("_den") * scale_down
            part = part.with_columns(
                _half_even_div(pl.col(name) * pl.col("_num") * scale_up, den).alias(name)
                for name in ("_gross", "_net")
            ).drop("_num", "_den")
        else:
            # Long rates (an inverse rate has 34 digits): exact in Python integers, row by row.
            part = part.with_columns(
                pl.Series(
                    name,
                    _convert_exact(
                        part,
                        name,
                        ratios=ratios,
                        scale_up=scale_up,
                        scale_down=scale_down,
                        code=code,
                        currency=currency,
                    ),
                    _I64,
                )
                for name in ("_gross", "_net")
            )
        part = part.drop("_on", "_rate")
        pieces.append(part)
    return pl.concat(pieces, how="vertical_relaxed")


def _convert_exact(
    part: pl.DataFrame,
    column: str,
    *,
    ratios: Sequence[tuple[int, int]],
    scale_up: int,
    scale_down: int,
    code: str,
    currency: str,
) -> list[int]:
    """``column`` converted at each row's rate, rounded half to even, in exact integers."""
    out = []
    for deal, units, which in part.select("id", column, "_rate").iter_rows():
        num, den = ratios[which]
        q, r = divmod(units * num * scale_up, den * scale_down)
        twice = 2 * r
        q += twice > den * scale_down or (twice == den * scale_down and q % 2 == 1)
        if abs(q) >= _MAX_PRODUCT:
            raise DataError(
                f"amount too large to convert exactly from {code} into {currency}",
                kind="deal",
                record=str(deal),
                field=column.lstrip("_").replace("gross", "amount").replace("net", "discount"),
            )
        out.append(q)
    return out


def _funded(d: pl.DataFrame, vp: RewardPlan) -> pl.DataFrame:
    """The deals that fund ``vp``'s pool, with ``_b`` (basis) and ``_pool`` in plan minor units."""
    pool = vp.pool
    keep = pl.lit(True)
    if pool.products:
        keep &= pl.col("product").is_in(pool.products)
    if pool.segments:
        keep &= pl.col("segment").is_in(pool.segments)
    d = d.filter(keep)
    basis = pl.col("_net" if pool.basis == "net" else "_gross")
    num, den = _ratio(pool.rate)
    fixed = pool.fixed.to_minor() if pool.fixed is not None else 0
    biggest = int(d.select(basis.max()).item() or 0) * num
    if biggest >= _MAX_PRODUCT:
        raise DataError(
            f"amount too large to compute the pool exactly (the pool rate {pool.rate} has "
            f"{len(str(num))} digits; 64-bit minor units overflow)",
            kind="deal",
            record=str(d.sort(basis, descending=True).get_column("id")[0]),
        )
    return d.with_columns(basis.alias("_b"), (_half_even_div(basis * num, den) + fixed).alias("_pool"))


def _check_run_size(credited: list[pl.DataFrame], versions: list[tuple[date | None, RewardPlan]]) -> None:
    """A DataError naming the deal at which the run's amounts would stop fitting 64-bit minor units.

    Every later amount (tier payouts, caps, clawbacks, floors, totals per participant and period) is at
    most the credited units times the largest tier multiplier, plus the floors; so when that bound fits,
    no sum of the kernel can overflow.
    """
    multiplier = max([Decimal(1), *(t.multiplier for _, vp in versions for t in vp.tiers)])
    floors = sum(
        (vp.floor.to_minor() if vp.floor is not None else 0) * sum(1 for p in vp.participants if p.person)
        for _, vp in versions
    )
    num, den = _ratio(multiplier)
    # The bound is kept below half the int64 range, so that differences and clawbacks fit as well.
    budget = (_MAX_PRODUCT // 2 - 12 * floors) * den // num
    per_deal = (
        pl.concat(credited, how="vertical_relaxed")
        .group_by("id")
        .agg(pl.col("units").cast(pl.Int128).abs().sum())
        .sort("id")
    )
    running = per_deal.get_column("units").cum_sum()
    over = running >= budget
    if over.any():
        record = per_deal.get_column("id")[int(over.arg_true()[0])]
        raise DataError(
            f"the run's total would not fit 64-bit minor units (with tier multipliers up to {multiplier}): "
            "compute a shorter period or fewer deals at a time",
            kind="deal",
            record=str(record),
        )


def _split_weights(vp: RewardPlan) -> int:
    """The largest integer weight a deal's pool or basis is multiplied by when ``vp`` splits it."""
    attribution = vp.attribution.share if vp.attribution else Decimal(0)
    stage = vp.stage_credit.share if vp.stage_credit else Decimal(0)
    weights = [_WEIGHT_SCALE] if attribution or stage else []  # credit quantised to millionths
    weights += _scaled([s for s in (attribution, 1 - attribution - stage, stage) if s > 0])
    weights += _scaled(list(vp.team_split.values()))
    overlays = [share for s in vp.splits if s.kind == "overlay" for share in s.shares.values()]
    for split in vp.splits:
        if split.kind == "revenue":
            weights += _scaled(list(split.shares.values()))
    if overlays:
        places = max([6, *(max(0, -int(share.as_tuple().exponent)) for share in overlays)])
        weights.append(sum(int(share.scaleb(places)) for share in overlays))
    weights += _scaled([p.weight for p in vp.participants if p.person] + [Decimal(1)])
    return max(weights)


def _check_split_sizes(funded: pl.DataFrame, vp: RewardPlan, splits: pl.DataFrame) -> None:
    """A DataError naming the deal whose pool is too large to be split exactly in 64-bit minor units."""
    if funded.is_empty():
        return
    plan_weight = _split_weights(vp)
    # A deal's own splits weigh its shares in millionths.
    split_ids = splits.get_column("id").unique().implode()
    weight = pl.when(pl.col("id").is_in(split_ids)).then(max(plan_weight, 10**6)).otherwise(plan_weight)
    size = pl.max_horizontal(pl.col("_pool").abs(), pl.col("_b").abs()).cast(pl.Int128)
    bad = funded.filter(size * weight.cast(pl.Int128) >= _MAX_PRODUCT).with_columns(weight.alias("_weight"))
    if len(bad):
        row = bad.sort("id").row(0, named=True)
        raise DataError(
            f"amounts too large to split exactly: a pool of {row['_pool']} minor units times split "
            f"weights up to {row['_weight']} does not fit 64-bit integers (write shares and weights with "
            "fewer decimal places, or pay the deal outside the plan)",
            kind="deal",
            record=str(row["id"]),
        )


def _touch_credit(
    d: pl.DataFrame, credit: AttributionCredit, touchpoints: Any, stage_events: Any, cut: pl.Expr
) -> pl.DataFrame:
    """Attribution weights per (deal, recipient) over each deal's touches up to its close date."""
    lf = as_lazy(touchpoints, "touchpoints", required=["lead_id", "time", "team", "owner"])
    check_aware(lf, ["time"], kind="touchpoints")
    touches = lf.select("lead_id", "time", "team", "owner").collect(backend="polars").to_native()
    assert isinstance(touches, pl.DataFrame)
    deals = d.select(pl.col("id").alias("_deal"), pl.col("lead_id"), cut.alias("_cut"))
    who = pl.concat_str(pl.lit(_TEAM), pl.col("team"))
    if credit.key == "owner":
        # The owner (a person) when there is one, else the team: one text per touch.
        owned = pl.col("owner").is_not_null()
        who = pl.concat_str(
            pl.when(owned).then(pl.lit(_PERSON)).otherwise(pl.lit(_TEAM)), pl.coalesce("owner", "team")
        )
    # One query: the join, the cut-off and the projection run together, without a wide joined frame.
    joined = (
        touches.lazy()
        .join(deals.lazy(), on="lead_id", how="inner")
        .filter(pl.col("time") < pl.col("_cut"))
        .select(
            pl.col("_deal").alias("journey"),
            "time",
            who.alias("_who"),
            pl.lit(1).alias("_conv"),
        )
        .collect()
    )
    ids = d.get_column("id").to_numpy()
    touched_deal = np.zeros(int(ids.max()) + 1 if ids.size else 0, dtype=bool)
    touched_deal[joined.get_column("journey").to_numpy()] = True
    orphans = np.flatnonzero(~touched_deal[ids])
    if orphans.size:
        row = d.row(int(orphans[0]), named=True)
        raise DataError(
            f"attribution needs touchpoints of lead {row['lead_id']} on or before the close date; none found",
            kind="deal",
            record=row["id"],
            field="lead_id",
        )
    events = None
    if credit.model in ("w_shaped", "full_path"):
        if stage_events is None:
            raise DataError(f"attribution model {credit.model} needs stage_events=", kind="rewards")
        ev = (
            as_lazy(stage_events, "stage_events", required=["lead_id", "to", "time"])
            .collect(backend="polars")
            .to_native()
        )
        assert isinstance(ev, pl.DataFrame)
        events = ev.join(deals.select("_deal", "lead_id"), on="lead_id").select(
            pl.col("_deal").alias("lead_id"), "to", "time"
        )
    from smarketing.attribution import Journeys, attribute  # noqa: PLC0415 (scipy loads only when needed)

    journeys = Journeys.from_frame(
        joined, journey="journey", time="time", key="_who", converted="_conv", stage_events=events
    )
    result = attribute(journeys, model=credit.model, per_touch=True, **credit.params)
    assert result.touches is not None
    # Sum each deal's touch credits per recipient. The touch rows are the journeys' touches in order, so
    # a touch's recipient is its code among the journeys' keys (sorted names); one stable sort on
    # (deal, recipient) and segment sums add each group's credits in touch order.
    touched = result.touches
    assert touched.height == journeys.codes.size  # per-touch credit comes in the journeys' touch order
    names = list(journeys.keys)
    size = max(len(names), 1)
    key = touched.get_column("journey").to_numpy() * size + journeys.codes.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else key
    sums = np.add.reduceat(touched.get_column("credit").to_numpy()[order], starts) if key.size else key
    return pl.DataFrame(
        {
            "id": key[starts] // size,
            "recipient": pl.Series(names, dtype=pl.String).cast(pl.Categorical).gather(key[starts] % size),
            "w": pl.Series(sums, dtype=pl.Float64),
        }
    ).with_columns((pl.col("w") * _WEIGHT_SCALE).round(0).cast(_I64))


def _stage_credit(
    d: pl.DataFrame, credit: StageCredit, ctx: _Context, stage_events: Any, cut: pl.Expr
) -> pl.DataFrame:
    """One equal weight per stage each deal's lead entered up to the close date, to its owner."""
    if stage_events is None:
        raise DataError("stage credit needs stage_events=", kind="rewards")
    lf = as_lazy(stage_events, "stage_events", required=["lead_id", "to", "time"])
    check_aware(lf, ["time"], kind="stage_events")
    names = lf.collect_schema().names()
    ev = (
        lf.select("lead_id", "to", "time", *(["actor"] if "actor" in names else []))
        .collect(backend="polars")
        .to_native()
    )
    assert isinstance(ev, pl.DataFrame)
    if "actor" not in ev.columns:
        ev = ev.with_columns(pl.lit(None, dtype=pl.String).alias("actor"))
    deals = d.select(pl.col("id").alias("_deal"), "lead_id", cut.alias("_cut"))
    entered = (
        ev.join(deals, on="lead_id", how="inner")
        .filter(pl.col("time") < pl.col("_cut"))
        .sort("_deal", "to", "time")
        .group_by("_deal", "to", maintain_order=True)
        .agg(pl.col("actor").first())
    )
    orphans = d.filter(~pl.col("id").is_in(entered.get_column("_deal").unique().implode()))
    if len(orphans):
        row = orphans.row(0, named=True)
        raise DataError(
            f"stage credit needs stage events of lead {row['lead_id']} on or before the close date",
            kind="deal",
            record=row["id"],
            field="lead_id",
        )
    stages = sorted(ctx.stage_owner)
    unknown = entered.filter(~pl.col("to").is_in(stages))
    if len(unknown):
        row = unknown.row(0, named=True)
        raise DataError(
            f"stage {row['to']!r} is not in the plan's journey",
            kind="deal",
            record=row["_deal"],
            field="stage_events",
        )
    owner = pl.concat_str(
        pl.lit(_TEAM), pl.col("to").replace_strict(stages, [ctx.stage_owner[s] for s in stages])
    )
    who = owner
    if credit.key == "owner":
        who = (
            pl.when(pl.col("actor").is_not_null())
            .then(pl.concat_str(pl.lit(_PERSON), pl.col("actor")))
            .otherwise(owner)
        )
    return (
        entered.select(pl.col("_deal").alias("id"), who.alias("recipient"))
        .group_by("id", "recipient")
        .agg(pl.len().cast(_I64).alias("w"))
    )


def _split_rows(d: pl.DataFrame) -> pl.DataFrame:
    """The deals' own splits, one row per (deal, person, kind) with the share as an exact integer weight."""
    rows = d.select("id", "splits").filter(pl.col("splits").list.len() > 0).explode("splits").unnest("splits")
    if rows.is_empty():
        return pl.DataFrame(
            schema={
                "id": d.schema["id"],
                "person": pl.String,
                "kind": pl.String,
                "w": _I64,
                "share": pl.Decimal(38, 6),
            }
        )
    share = rows.get_column("share")
    scale = share.dtype.scale if isinstance(share.dtype, pl.Decimal) else 6
    return rows.with_columns(
        (pl.col("share") * 10 ** (scale or 0)).cast(_I64).alias("w"), pl.col("share").cast(pl.Decimal(38, 6))
    )


def _check_splits(splits: pl.DataFrame, ctx: _Context, participants: set[str]) -> None:
    if splits.is_empty():
        return
    totals = (
        splits.filter(pl.col("kind") == "revenue")
        .group_by("id")
        .agg(pl.col("share").sum().alias("total"))
        .filter(pl.col("total") != 1)
        .sort("id")
    )
    if len(totals):
        row = totals.row(0, named=True)
        raise DataError(
            f"revenue splits total {Decimal(row['total']) * 100:f}%, not 100%",
            kind="deal",
            record=row["id"],
            field="splits",
        )
    known = sorted(set(ctx.people) | participants)
    unknown = splits.filter(~pl.col("person").is_in(known)).sort("id")
    if len(unknown):
        row = unknown.row(0, named=True)
        raise DataError(
            f"split to {row['person']!r}, who is not in the plan (neither a person nor a participant)",
            kind="deal",
            record=row["id"],
            field="splits",
        )


def _prefixed(ids: Sequence[str], ctx: _Context, persons: set[str]) -> list[str]:
    """Recipient keys of plan ids: people (of the plan, or person participants) and teams."""
    return [(_PERSON if (i in ctx.people or i in persons) else _TEAM) + i for i in ids]


def _cat(value: str) -> pl.Expr:
    """A text constant as a categorical: lines repeat a code, not the text."""
    return pl.lit(value).cast(pl.Categorical)


def _categorical(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``frame`` with its text ``columns`` as categoricals."""
    return frame.with_columns(pl.col(c).cast(pl.Categorical) for c in columns if c in frame.columns)


def _split_fixed(totals: np.ndarray, weights: Sequence[int]) -> np.ndarray:
    """Every total split over the same recipients (given in key order): one column per recipient."""
    w = np.asarray(weights, dtype=np.int64)
    if 1 < w.size <= _GRID_WIDTH and totals.size and w.sum() > 0 and (w >= 0).all():
        return _ranked_grid(totals.astype(np.int64, copy=False), w[None, :], int(w.sum()))
    rows = np.repeat(totals.astype(np.int64), w.size)
    units = _largest_remainder(np.arange(totals.size) * w.size, rows, np.tile(w, totals.size), None)
    return units.reshape(totals.size, w.size)


def _split_grid(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each total split over its own row of a (total x recipient) weight grid, recipients in key order.

    A recipient weighing zero gets nothing (its remainder is zero and ranks last).
    """
    m, k = weights.shape
    totals = totals.astype(np.int64, copy=False)
    row_sums = weights.sum(axis=1) if m else np.zeros(0, dtype=np.int64)
    if 1 < k <= _GRID_WIDTH and m and (weights >= 0).all() and (row_sums > 0).all():
        return _ranked_grid(totals, weights, row_sums[:, None])
    units = _largest_remainder(np.arange(m) * k, np.repeat(totals, k), weights.ravel(), None)
    return units.reshape(m, k)


def _ranked_grid(totals: np.ndarray, weights: np.ndarray, sums: np.ndarray | int) -> np.ndarray:
    """The allocation (:func:`_largest_remainder`) of each total over a row of a few weights, in place.

    The same result, with no rows repeated, no text compared and no frame sorted: a row's cells are
    ranked pairwise (see :func:`_ahead`). ``weights`` is one row for every total, or a row per total.
    """
    magnitude = np.abs(totals)
    if int(magnitude.max()) * int(weights.max()) >= _MAX_PRODUCT:
        raise DataError(f"amounts too large to split exactly ({magnitude.max()} minor units)", kind="rewards")
    quotient, remainder = np.divmod(magnitude[:, None] * weights, sums)
    quotient += _ahead(remainder) < (magnitude - quotient.sum(axis=1))[:, None]
    return _signed(quotient, np.broadcast_to(totals[:, None], quotient.shape))


def _fixed_rows(
    ids: np.ndarray, pool: np.ndarray, basis: np.ndarray | None, table: pl.DataFrame
) -> pl.DataFrame:
    """Each deal's pool and basis (none: 0) split over a fixed table of recipients (weights ``w`` > 0)."""
    table = _categorical(
        table.filter(pl.col("w") > 0).sort("recipient", "rule"), "recipient", "source", "rule"
    )
    k = table.height
    weights = table.get_column("w").to_list()
    picks = np.tile(np.arange(k), ids.size)
    return table.drop("w")[picks].with_columns(
        pl.Series("id", np.repeat(ids, k), dtype=_I64),
        pl.Series("units", _split_fixed(pool, weights).ravel(), dtype=_I64),
        pl.Series(
            "basis_units",
            np.zeros(ids.size * k, dtype=np.int64) if basis is None else _split_fixed(basis, weights).ravel(),
            dtype=_I64,
        ),
    )


def _weighted_rows(
    credit: pl.DataFrame, ids: np.ndarray, pool: np.ndarray, basis: np.ndarray
) -> pl.DataFrame:
    """Each deal's pool and basis split over its own recipients by their weights ``w`` (id, recipient, w)."""
    credit = _categorical(credit.filter(pl.col("w") > 0), "recipient")
    rank, size = _text_codes(credit.get_column("recipient"))
    key = credit.get_column("id").to_numpy() * size + rank.to_numpy()
    # Attribution credit comes already in (deal, recipient) order: sort only when it does not.
    if key.size and (key[1:] < key[:-1]).any():
        credit = credit[np.argsort(key, kind="stable")]
    if credit.is_empty():
        return credit.with_columns(
            pl.lit(0, dtype=_I64).alias("units"), pl.lit(0, dtype=_I64).alias("basis_units")
        )
    row_ids = credit.get_column("id").to_numpy()
    position = np.zeros(int(max(ids.max(), row_ids.max())) + 1, dtype=np.int64)
    position[ids] = np.arange(ids.size)
    at = position[row_ids]
    starts = np.flatnonzero(np.r_[True, row_ids[1:] != row_ids[:-1]])
    w = credit.get_column("w").to_numpy()
    return credit.drop("w").with_columns(
        pl.Series("units", _largest_remainder(starts, pool[at], w, None), dtype=_I64),
        pl.Series("basis_units", _largest_remainder(starts, basis[at], w, None), dtype=_I64),
    )


def _cut_of_deal() -> pl.Expr:
    """The instant a deal's touches and stage events count until: the start of the day after its close."""
    return pl.col("close_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=1)


def _version_credits(
    f: pl.DataFrame,
    vp: RewardPlan,
    ctx: _Context,
    *,
    touch_credit: Future[pl.DataFrame] | None,
    stage_events: Any,
    persons: set[str],
) -> pl.DataFrame:
    """Each funded deal's pool and basis split over its recipients (people or teams), by part and rule.

    ``touch_credit`` is the attribution credit (:func:`_touch_credit`) being computed on another thread:
    the other parts are split meanwhile, and the pieces come out in the same order either way.
    """
    attribution = vp.attribution.share if vp.attribution else Decimal(0)
    stage = vp.stage_credit.share if vp.stage_credit else Decimal(0)
    parts = [
        (n, s)
        for n, s in (("attribution", attribution), ("fixed", 1 - attribution - stage), ("stage", stage))
        if s > 0
    ]
    # The parts, listed in name order (the allocation's key), split every deal's pool and basis.
    ids = f.get_column("id").to_numpy()
    part_weights = _scaled([s for _, s in parts])
    pool = _split_fixed(f.get_column("_pool").to_numpy(), part_weights)
    basis = _split_fixed(f.get_column("_b").to_numpy(), part_weights)
    column = {n: i for i, (n, _) in enumerate(parts)}
    cut = _cut_of_deal()
    pieces: list[pl.DataFrame] = []
    if vp.stage_credit is not None and stage > 0:
        credit = _stage_credit(f, vp.stage_credit, ctx, stage_events, cut)
        i = column["stage"]
        pieces.append(
            _weighted_rows(credit, ids, pool[:, i], basis[:, i]).with_columns(
                _cat("stage").alias("part"),
                _cat("stage").alias("source"),
                _cat("rewards.stage_credit").alias("rule"),
            )
        )
    if 1 - attribution - stage > 0:
        revenue = [(i, s) for i, s in enumerate(vp.splits) if s.kind == "revenue"]
        if vp.team_split:
            names = list(vp.team_split)
            table = pl.DataFrame(
                {
                    "recipient": [_TEAM + t for t in names],
                    "w": _scaled(list(vp.team_split.values())),
                    "source": "team_split",
                    "rule": [f"rewards.team_split.{t}" for t in names],
                },
                schema={"recipient": pl.String, "w": _I64, "source": pl.String, "rule": pl.String},
            )
        else:
            index, split = revenue[0]
            names = list(split.shares)
            table = pl.DataFrame(
                {
                    "recipient": _prefixed(names, ctx, persons),
                    "w": _scaled(list(split.shares.values())),
                    "source": "plan_split",
                    "rule": [f"rewards.splits[{index}].shares.{i}" for i in names],
                },
                schema={"recipient": pl.String, "w": _I64, "source": pl.String, "rule": pl.String},
            )
        i = column["fixed"]
        pieces.append(
            _fixed_rows(ids, pool[:, i], basis[:, i], table).with_columns(_cat("fixed").alias("part"))
        )
    if touch_credit is not None:
        i = column["attribution"]
        attributed = _weighted_rows(touch_credit.result(), ids, pool[:, i], basis[:, i]).with_columns(
            _cat("attribution").alias("part"),
            _cat("attribution").alias("source"),
            _cat("rewards.attribution").alias("rule"),
        )
        pieces.insert(0, attributed)
    return pl.concat(
        [p.select("id", "part", "recipient", "source", "rule", "units", "basis_units") for p in pieces],
        how="vertical_relaxed",
    )


def _overlays(
    f: pl.DataFrame, vp: RewardPlan, ctx: _Context, splits: pl.DataFrame, persons: set[str]
) -> pl.DataFrame:
    """Overlay credit, paid on top of the pool: round(pool x total overlay share), split by share."""
    plan_rows = [
        (i, who, share)
        for i, s in enumerate(vp.splits)
        if s.kind == "overlay"
        for who, share in s.shares.items()
    ]
    places = max([6, *(max(0, -int(share.as_tuple().exponent)) for _, _, share in plan_rows)])
    table = pl.DataFrame(
        {
            "recipient": _prefixed([who for _, who, _ in plan_rows], ctx, persons),
            "w": [int(share.scaleb(places)) for _, _, share in plan_rows],
            "rule": [f"rewards.splits[{i}].shares.{who}" for i, who, _ in plan_rows],
        },
        schema={"recipient": pl.String, "w": _I64, "rule": pl.String},
    )
    deal_rows = splits.filter(
        (pl.col("kind") == "overlay") & pl.col("id").is_in(f.get_column("id").implode())
    )
    columns = [
        "id",
        _cat("overlay").alias("part"),
        "recipient",
        _cat("overlay").alias("source"),
        "rule",
        "units",
        pl.lit(0, dtype=_I64).alias("basis_units"),
    ]
    if not len(deal_rows):
        # Only the plan's overlays: the same recipients on every deal, split without a sort.
        table = table.filter(pl.col("w") > 0)
        if table.is_empty():
            return pl.DataFrame()
        pool = f.get_column("_pool").to_numpy()
        total = _half_even_np(pool * int(table.get_column("w").sum()), 10**places)
        rows = _fixed_rows(f.get_column("id").to_numpy(), total, None, table)
        return rows.select(columns)
    pieces = [f.select("id").join(table, how="cross")] if plan_rows else []
    pieces.append(
        deal_rows.select(
            "id",
            pl.concat_str(pl.lit(_PERSON), pl.col("person")).alias("recipient"),
            (pl.col("w") * 10 ** (places - 6)).alias("w"),
            pl.lit("deal splits (overlay)").alias("rule"),
        )
    )
    # The same person twice on a deal (plan and deal overlay) is one recipient of the allocation.
    rows = pl.concat(pieces, how="vertical_relaxed").filter(pl.col("w") > 0)
    rows = rows.group_by("id", "recipient").agg(pl.col("w").sum(), pl.col("rule").min())
    sizes = (
        rows.join(f.select("id", "_pool"), on="id")
        .group_by("id")
        .agg(pl.col("_pool").first().abs().cast(pl.Int128) * pl.col("w").cast(pl.Int128).sum())
    )
    too_big = sizes.filter(pl.col("_pool") >= _MAX_PRODUCT).sort("id")
    if len(too_big):
        raise DataError(
            "amounts too large to split exactly: the pool times the overlay shares does not fit 64-bit "
            "minor units",
            kind="deal",
            record=str(too_big.get_column("id")[0]),
            field="splits",
        )
    rows = rows.join(f.select("id", "_pool"), on="id").with_columns(
        _half_even_div(pl.col("_pool") * pl.col("w").sum().over("id"), 10**places).alias("_overlay")
    )
    rows = _allocate_frame(rows, by=["id"], key="recipient", weight="w", total="_overlay", out="units")
    return _categorical(rows.select(columns), "recipient", "rule")


def _resolve(
    rows: pl.DataFrame, f: pl.DataFrame, vp: RewardPlan, ctx: _Context, splits: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn recipients into participants: (personal lines, team-pool rows).

    A person who is a participant is paid; another person of the plan passes the credit to their team. A
    team's credit goes, in this order, to the deal's revenue splits inside the team, to the deal owner if
    they are in the team, or to the team's pool; with none of these it is an error.
    """
    persons = {p.person for p in vp.participants if p.person}
    teams = {p.team for p in vp.participants if p.team}
    people = sorted(ctx.people)

    # Where each recipient's credit goes, worked out once per distinct recipient (not once per line).
    # Overlays name the people they pay, participants or not (managers, say); any other credit for a
    # person who is not a participant goes to their team.
    def route(recipient: str, overlay: bool) -> tuple[str, bool] | None:
        person = recipient.startswith(_PERSON)
        name = recipient[len(_PERSON) :] if person else recipient[len(_TEAM) :]
        if person and not (name in persons or overlay):
            if name not in ctx.people:
                return None
            return ctx.people[name], False
        return name, person

    rows = _categorical(rows, "part", "recipient", "source", "rule")
    recipient = rows.get_column("recipient")
    overlay = (rows.get_column("source") == "overlay").fill_null(False).to_numpy()
    # Route tables indexed by the recipient's categorical code (a last slot for a missing recipient):
    # where the credit goes (a position in `targets`) and whether that is a person (1), a team (0) or
    # nobody (-1); one for overlay credit, one for the rest. Every line then looks its route up in numpy.
    distinct = recipient.unique().drop_nulls()
    codes = distinct.to_physical().to_numpy().astype(np.int64)
    size = int(codes.max()) + 2 if codes.size else 1
    position: dict[str, int] = {}
    to_lut = np.full((2, size), -1, dtype=np.int64)
    kind_lut = np.full((2, size), -1, dtype=np.int8)
    for code, text in zip(codes, distinct.cast(pl.String).to_list(), strict=True):
        for ov in (0, 1):
            found = route(text, bool(ov))
            if found is None:
                continue
            name, person = found
            to_lut[ov, code] = position.setdefault(name, len(position))
            kind_lut[ov, code] = 1 if person else 0
    targets = list(position)
    phys = recipient.to_physical().fill_null(size - 1).to_numpy().astype(np.int64)
    side = overlay.astype(np.int64)
    target = to_lut[side, phys]
    kind = kind_lut[side, phys]
    unknown = (kind < 0) & ~overlay & (phys != size - 1)
    if unknown.any():
        first = rows.filter(pl.Series(unknown)).sort("id").row(0, named=True)
        raise DataError(
            f"credit for {first['recipient'][len(_PERSON) :]!r} ({first['source']}), who is not in the plan: "
            "neither a person of the plan nor a participant",
            kind="deal",
            record=first["id"],
        )
    named = pl.Series(targets, dtype=pl.String).cast(pl.Categorical)
    rows = rows.rename({"recipient": "via"})
    mine, theirs = kind == 1, kind == 0
    personal = rows.filter(pl.Series(mine)).with_columns(named.gather(target[mine]).alias("participant"))
    # One team row per route (via), so each line still says where its credit came from.
    team_rows = rows.filter(pl.Series(theirs)).with_columns(
        named.gather(target[theirs]).alias("team"), pl.Series("_ti", target[theirs], dtype=_I64)
    )
    out_personal = [personal]
    # (a) the deal's own revenue splits, to the split people who are participants in the team.
    rev = splits.filter((pl.col("kind") == "revenue") & pl.col("person").is_in(sorted(persons)))
    if len(rev) and ctx.people:
        rev = rev.with_columns(
            pl.col("person")
            .replace_strict(people, [ctx.people[p] for p in people], default=None)
            .alias("team")
        )
        rev = _categorical(rev, "team", "person")
        # The team rows a revenue split of their deal takes, looked up in a (deal x team) table by the
        # rows' integer deal and team: only those rows are joined to the split people.
        in_splits = set(rev.get_column("team").drop_nulls().unique().cast(pl.String).to_list())
        split_teams = [t for t in targets if t in in_splits]
        column = np.full(len(targets) + 1, -1, dtype=np.int64)
        column[[position[t] for t in split_teams]] = np.arange(len(split_teams))
        rid = rev.get_column("id").to_numpy()
        rcol = column[
            rev.get_column("team")
            .cast(pl.String)
            .replace_strict(list(position), list(position.values()), default=len(targets), return_dtype=_I64)
            .to_numpy()
        ]
        tid = team_rows.get_column("id").to_numpy()
        tcol = column[team_rows.get_column("_ti").to_numpy()]
        table = np.zeros((max(int(rid.max()), int(tid.max()) if tid.size else 0) + 1, len(split_teams)), bool)
        table[rid[rcol >= 0], rcol[rcol >= 0]] = True
        # Splits only among people of teams that get no credit of this deal take nothing: the team rows go
        # on as if the deal had no splits (to the owner, else the team's pool).
        hit = (tcol >= 0) & table[tid, np.maximum(tcol, 0)] if split_teams else np.zeros(tid.size, dtype=bool)
        people_of = rev.select("id", "team", "person", pl.col("w").alias("_sw"))
        taken = team_rows.filter(pl.Series(hit)).with_row_index("_row")
        matched = taken.join(people_of, on=["id", "team"], how="inner")
        if len(matched):
            # Each team row's split people in name order (one sort), then both amounts split alike.
            rank, size = _text_codes(matched.get_column("person"))
            key = matched.get_column("_row").cast(_I64).to_numpy() * size + rank.to_numpy()
            order = np.argsort(key, kind="stable")
            matched, key = matched[order], key[order]
            starts = np.flatnonzero(np.r_[True, key[1:] // size != key[:-1] // size])
            share = matched.get_column("_sw").to_numpy().astype(np.int64)

            def at(row: int) -> str:
                return str(matched.row(row, named=True))

            matched = matched.with_columns(
                pl.Series(
                    "_u",
                    _largest_remainder(starts, matched.get_column("units").to_numpy(), share, None, where=at),
                    dtype=_I64,
                ),
                pl.Series(
                    "_bu",
                    _largest_remainder(
                        starts, matched.get_column("basis_units").to_numpy(), share, None, where=at
                    ),
                    dtype=_I64,
                ),
            )
            out_personal.append(
                matched.select(
                    "id",
                    "part",
                    "source",
                    _map_text(matched.get_column("rule"), lambda r: f"{r} > deal splits").alias("rule"),
                    pl.col("_u").alias("units"),
                    pl.col("_bu").alias("basis_units"),
                    _map_text(matched.get_column("via"), lambda v: f"{v} > revenue split").alias("via"),
                    pl.col("person").alias("participant"),
                )
            )
            team_rows = team_rows.filter(pl.Series(~hit))
    # (b) the deal owner, when a participant of the team: each deal's owner and the owner's team are
    # looked up by the deal's integer id, and a team row is the owner's when its team is the owner's team.
    if ctx.people and not team_rows.is_empty():
        owners = f.select("id", "owner").filter(pl.col("owner").is_in(sorted(persons)))
        owner_names = sorted(owners.get_column("owner").unique().to_list())
        tid = team_rows.get_column("id").to_numpy()
        oid = owners.get_column("id").to_numpy()
        deal_team = np.full(max(int(tid.max()), int(oid.max()) if oid.size else 0) + 1, -1, dtype=np.int64)
        deal_owner = np.zeros_like(deal_team)
        if owner_names:
            teams_of = [ctx.people.get(name) for name in owner_names]
            team_at = [-1 if t is None else position.get(t, -1) for t in teams_of]
            which = owners.get_column("owner").replace_strict(owner_names, list(range(len(owner_names))))
            which_np = which.cast(_I64).to_numpy()
            deal_team[oid] = np.asarray(team_at, dtype=np.int64)[which_np]
            deal_owner[oid] = which_np
        owned_mask = deal_team[tid] == team_rows.get_column("_ti").to_numpy()
        if owned_mask.any():
            owned = team_rows.filter(pl.Series(owned_mask))
            out_personal.append(
                owned.select(
                    "id",
                    "part",
                    "source",
                    "rule",
                    "units",
                    "basis_units",
                    _map_text(owned.get_column("via"), lambda v: f"{v} > deal owner").alias("via"),
                    pl.Series(owner_names, dtype=pl.String)
                    .cast(pl.Categorical)
                    .gather(deal_owner[owned.get_column("id").to_numpy()])
                    .alias("participant"),
                )
            )
            team_rows = team_rows.filter(pl.Series(~owned_mask))
    # (c) the team's pool; (d) nobody: an error, never a silent loss.
    pooled = np.asarray([t in teams for t in targets] + [False], dtype=bool)
    lost = team_rows.filter(pl.Series(~pooled[team_rows.get_column("_ti").to_numpy()])).sort("id", "team")
    if len(lost):
        row = lost.row(0, named=True)
        if not ctx.aligned:
            # A bare RewardPlan knows no teams: it cannot tell that the owner or a split person is in one.
            raise DataError(
                f"credit for team {row['team']!r} ({row['source']}) has no one to go to: a bare RewardPlan "
                "does not know who is in which team, so only a team participant can receive team credit; "
                "pass the whole AlignmentPlan (compute_rewards(deals, plan, ...), not plan.rewards) so the "
                "deal's owner and revenue splits are matched to their teams",
                kind="deal",
                record=row["id"],
            )
        raise DataError(
            f"credit for team {row['team']!r} ({row['source']}) has no one to go to: no revenue split or "
            "owner of the deal is a participant in that team, and the team has no team participant",
            kind="deal",
            record=row["id"],
        )
    personal_rows = pl.concat(
        [
            p.select("id", "part", "source", "rule", "units", "basis_units", "via", "participant")
            for p in out_personal
        ],
        how="vertical_relaxed",
    )
    return personal_rows, team_rows


def _tier_payout(plan: RewardPlan, credited: int, attainment: Fraction) -> tuple[int, str]:
    """What ``credited`` minor units pay at ``attainment`` under the plan's tiers, and how."""
    tiers = plan.tiers
    a = max(attainment, Fraction(0))
    if plan.tier_mode == "retroactive" or a == 0:
        band = max(i for i, t in enumerate(tiers) if t.from_attainment <= a)
        multiplier = tiers[band].multiplier
        exact = credited * multiplier
        how = f"{plan.tier_mode}: {multiplier}x on all {Money.from_minor(credited, plan.currency)}"
    else:
        widths = {
            i: min(a, Fraction(t.to_attainment) if t.to_attainment is not None else a)
            - Fraction(t.from_attainment)
            for i, t in enumerate(tiers)
            if t.from_attainment < a
        }
        parts = allocate(Money.from_minor(credited, plan.currency), widths)
        exact = sum((Decimal(parts[i].to_minor()) * tiers[i].multiplier for i in parts), Decimal(0))
        how = "marginal: " + ", ".join(f"{parts[i].amount} at {tiers[i].multiplier}x" for i in parts)
    paid = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    percent = (Decimal(a.numerator) / Decimal(a.denominator) * 100).quantize(Decimal("0.1"))
    return paid, f"attainment {percent}%, {how} = {Money.from_minor(paid, plan.currency)}"


def _compute(
    won: pl.DataFrame,
    ctx: _Context,
    *,
    touchpoints: Any,
    stage_events: Any,
    kind: str,
    period: str,
    cutoff: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The coded lines of ``period``, the attainment summary of every period computed, and the deals.

    Only the deals the period needs are computed: the deals closed in it, and the deals refunded in it with
    the other deals of the periods they closed in (clawbacks reverse what those periods paid). Inside, a
    deal is its rank in id order (an integer that sorts like the id); the deals (id, pool, basis, version)
    are returned in that order.
    """
    # The refund period is worked out for the refunded deals only (a few), not for every deal.
    refunded = won.select(
        (pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff)).fill_null(False)
    ).to_series()
    refunds = won.filter(refunded).select("_period", _period_of(pl.col("refunded_on"), kind).alias("_rp"))
    origins = refunds.filter(pl.col("_rp") == period).get_column("_period").unique().to_list()
    needed = sorted({period, *origins})
    keep = won.select(pl.col("_period").is_in(needed)).to_series().to_numpy().copy()
    keep[refunded.to_numpy()] |= refunds.get_column("_rp").is_in(needed).to_numpy()
    won = won if keep.all() else won.filter(pl.Series(keep))
    used = ["id", "lead_id", "owner", "product", "segment", "splits", "close_date", "refunded_on"]
    won = won.select(*used, "_period", "_version", "_gross", "_net").sort("id").with_row_index("_d")
    names = won.get_column("id")
    won = won.with_columns(pl.col("_d").cast(_I64).alias("id")).drop("_d")
    try:
        lines, summary, deal_info = _compute_ints(
            won,
            ctx,
            touchpoints=touchpoints,
            stage_events=stage_events,
            kind=kind,
            cutoff=cutoff,
            period=period,
        )
    except DataError as exc:
        # Inside the kernel a deal is its integer rank; name it by its id again.
        if exc.kind == "deal" and exc.record is not None and str(exc.record).isdigit():
            raise DataError(
                exc.message, kind=exc.kind, record=names[int(exc.record)], field=exc.field
            ) from None
        raise
    return lines, summary, deal_info.with_columns(names.alias("id")).select("id", pl.exclude("id"))


# The kernel's coded lines: a deal is its rank (`_d`), a participant its position in the sorted names
# (`_p`) and text columns are categoricals: a line costs a few integers, whatever its text.
_CODED: dict[str, pl.DataType] = {
    "_d": _I64(),
    "_p": _I64(),
    "component": pl.Categorical(),
    "source": pl.Categorical(),
    "rule": pl.Categorical(),
    "via": pl.Categorical(),
    "units": _I64(),
    "basis_units": _I64(),
    "origin_period": pl.Categorical(),
}


def _coded(size: int, **columns: Any) -> pl.DataFrame:
    """A frame of coded lines from arrays, series or constants (missing columns are null)."""
    data = {}
    for name, dtype in _CODED.items():
        value = columns.get(name)
        if isinstance(value, pl.Series):
            data[name] = value.alias(name).cast(dtype)
        elif isinstance(value, np.ndarray):
            data[name] = pl.Series(name, value, dtype=dtype)
        elif dtype == pl.Categorical:
            data[name] = pl.Series(name, [value], dtype=pl.String).cast(dtype).new_from_index(0, size)
        else:
            data[name] = pl.repeat(value, size, dtype=dtype, eager=True).alias(name)
    return pl.DataFrame(data)


def _adjustments(
    keep: np.ndarray,
    participants: np.ndarray,
    deals: np.ndarray,
    units: np.ndarray,
    *,
    component: str,
    source: str,
    rule: pl.Series,
) -> pl.DataFrame:
    """Coded tier or cap lines of the (participant, deal) cells kept; ``rule`` is already per kept cell."""
    return _coded(
        int(keep.sum()),
        _d=deals[keep],
        _p=participants[keep],
        component=component,
        source=source,
        rule=rule,
        units=units[keep],
        basis_units=0,
    )


def _dense(cells: np.ndarray, values: np.ndarray | int, shape: tuple[int, int]) -> np.ndarray:
    """Sums of ``values`` per cell of a (participant x deal) grid, ``cells`` as flat positions."""
    size = shape[0] * shape[1]
    if isinstance(values, int) and values == 1:
        # Counts: bincount is exact for integers (it goes through floats only with weights).
        counts: np.ndarray = np.bincount(cells, minlength=size).astype(np.int64, copy=False)
        return counts.reshape(shape)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, cells, values)
    return out.reshape(shape)


def _half_even_np(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """:func:`_half_even_div` on numpy integer arrays."""
    q = numerator // denominator
    twice = (numerator - q * denominator) * 2
    up = (twice > denominator) | ((twice == denominator) & (q % 2 == 1))
    result: np.ndarray = q + up
    return result


def _spread(
    groups: Sequence[tuple[int, int]],
    amounts: Sequence[int],
    present: np.ndarray,
    weights: np.ndarray,
    *,
    per_close: np.ndarray,
    total: np.ndarray,
    clip: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spread each group's amount over its deals by weight, adding it to ``total``.

    A group ``(p, q)`` is participant ``p``'s deals (cells of ``present``) closed in period ``q``; its
    amount is split over them by ``weights[p, deal]`` (``clip``: a negative weight counts as zero) with
    the same allocation as everywhere, the deals in deal order. One group at a time, on its participant's
    row: no array as long as all the groups' cells together. Returns, for every cell, group by group:
    participant, deal, group (its index in ``groups``) and units.
    """
    deals_of: dict[int, np.ndarray | None] = {}
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for g, ((p, q), amount) in enumerate(zip(groups, amounts, strict=True)):
        if q not in deals_of:
            in_q = per_close == q
            deals_of[q] = None if in_q.all() else np.flatnonzero(in_q)  # None: every deal (one period)
        deals = deals_of[q]
        dd = np.flatnonzero(present[p]) if deals is None else deals[present[p, deals]]
        if not dd.size:
            continue
        units = _largest_remainder(
            np.zeros(1, dtype=np.int64),
            np.full(dd.size, amount, dtype=np.int64),
            np.maximum(weights[p, dd], 0) if clip else weights[p, dd],
            None,
            where=lambda row, p=p, q=q: f"participant #{p}, period #{q}, row {row}",
        )
        total[p, dd] += units
        found.append((np.full(dd.size, p, dtype=np.int64), dd, np.full(dd.size, g, dtype=np.int64), units))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    pp, dd, gg, units = (np.concatenate(column) for column in zip(*found, strict=True))
    return pp, dd, gg, units


def _compute_ints(
    won: pl.DataFrame,
    ctx: _Context,
    *,
    touchpoints: Any,
    stage_events: Any,
    kind: str,
    cutoff: date,
    period: str,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The coded lines of ``period``, the summary of every period of ``won``, and each deal's numbers.

    The deal numbers (by rank) are its pool, basis and version. The credit lines (pool, split, team pool)
    come from the per-deal map; everything after them works on dense (participant x deal) sums in minor
    units: tiers, caps and clawbacks each read a participant's total for a deal from them instead of
    grouping millions of lines.
    """
    plan = ctx.plan
    versions = plan.version_index()
    splits = _split_rows(won)
    all_persons = {p.person for _, vp in versions for p in vp.participants if p.person}
    _check_splits(splits, ctx, all_persons)
    personal: list[pl.DataFrame] = []
    team_rows: list[pl.DataFrame] = []
    funded_parts = []
    credit_units: list[pl.DataFrame] = []
    version_of = won.get_column("_version").to_numpy()
    for index, (_, vp) in enumerate(versions):
        in_version = version_of == index
        d = won if in_version.all() else won.filter(pl.Series(in_version))
        if d.is_empty():
            continue
        f = _funded(d, vp)
        if f.is_empty():
            continue
        _check_split_sizes(f, vp, splits)
        funded_parts.append(f.select("id", "_period", "_version", "_pool", "_b", "close_date", "refunded_on"))
        persons = {p.person for p in vp.participants if p.person}
        # Attribution credit (a join of every touch, journeys, the model) runs on a worker thread while
        # this one splits the fixed parts and the overlays; polars and numpy release the GIL in both.
        with ThreadPoolExecutor(1) as worker:
            touch_credit = None
            if vp.attribution is not None and vp.attribution.share > 0:
                touch_credit = worker.submit(
                    _touch_credit, f, vp.attribution, touchpoints, stage_events, _cut_of_deal()
                )
            try:
                overlay = _overlays(f, vp, ctx, splits, persons)
                rows = _version_credits(
                    f, vp, ctx, touch_credit=touch_credit, stage_events=stage_events, persons=persons
                )
            except Exception:
                # The same error as one thread would raise: attribution's first.
                failed = touch_credit.exception() if touch_credit is not None else None
                if failed is not None:
                    raise failed from None
                raise
        if not overlay.is_empty():
            rows = pl.concat([rows, overlay.select(rows.columns)], how="vertical_relaxed")
        mine, teams = _resolve(rows, f, vp, ctx, splits)
        credit_units.append(
            pl.concat([mine.select("id", "units"), teams.select("id", "units")], how="vertical_relaxed")
        )
        personal.append(mine)
        team_rows.append(teams.with_columns(pl.lit(index, dtype=_I64).alias("_version")))
    if not funded_parts:
        return _empty_lines(), _empty_summary(), _empty_deals(won.height)
    _check_run_size(credit_units, versions)
    funded = pl.concat(funded_parts)
    n = won.height
    refunds = _refunds(funded, versions, kind, cutoff).sort("id")
    close_periods = sorted(funded.get_column("_period").unique().to_list())
    periods = sorted({*close_periods, *refunds.get_column("_period").to_list()})
    code = {p: i for i, p in enumerate(periods)}
    ids = funded.get_column("id").to_numpy()
    per_close = np.full(n, -1, dtype=np.int64)
    per_close[ids] = (
        funded.get_column("_period").replace_strict(periods, list(range(len(periods)))).to_numpy()
    )
    base = pl.concat(personal, how="vertical_relaxed")
    del personal
    weights = _team_weights(versions, ctx)
    names = sorted({*base.get_column("participant").unique().to_list(), *weights.get_column("participant")})
    n_people, n_periods = len(names), len(periods)
    base = base.with_columns(_text_codes(base.get_column("participant"), names)[0].alias("_p"))
    vias = [
        v for v in base.get_column("via").unique().to_list() if v is not None and v.endswith("revenue split")
    ]
    split = pl.col("source").is_in(["plan_split", "overlay"]) | pl.col("via").is_in(vias)
    base = base.with_columns(pl.when(split).then(_cat("split")).otherwise(_cat("pool")).alias("component"))
    # Dense sums per (participant, deal): everything paid, and the attaining credit (no overlays).
    cell = base.get_column("_p").to_numpy() * n + base.get_column("id").to_numpy()
    units = base.get_column("units").to_numpy()
    attains = (base.get_column("source") != "overlay").to_numpy()
    grid = (n_people, n)
    total = _dense(cell, units, grid)
    count = _dense(cell, 1, grid)
    att_units = _dense(cell[attains], units[attains], grid)
    att_basis = _dense(cell[attains], base.get_column("basis_units").to_numpy()[attains], grid)
    att_seen = _dense(cell[attains], 1, grid) > 0
    has_period = per_close >= 0
    out: list[pl.DataFrame] = [_coded(0)]
    wanted = code.get(period, -1)

    def keep_lines(frame: pl.DataFrame) -> None:
        """Keep the coded lines of ``frame`` that belong to the requested period."""
        if frame.is_empty():
            return
        mine = per_close[frame.get_column("id").to_numpy()] == wanted
        if not mine.all():
            frame = frame.filter(pl.Series(mine))
        out.append(
            _coded(
                frame.height,
                _d=frame.get_column("id"),
                _p=frame.get_column("_p"),
                component=frame.get_column("component"),
                source=frame.get_column("source"),
                rule=frame.get_column("rule"),
                via=frame.get_column("via"),
                units=frame.get_column("units"),
                basis_units=frame.get_column("basis_units"),
            )
        )

    keep_lines(base)
    del base, cell, units, attains

    def by_period(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sums = np.zeros((n_people, n_periods), dtype=np.int64)
        seen = np.zeros((n_people, n_periods), dtype=np.int64)
        if n_periods <= 16:
            # A run computes a few periods: one masked row sum per period, no scattered adds.
            for q in range(n_periods):
                sel = per_close == q
                everyone = bool(sel.all())  # a year of deals all closed in it: no selection needed
                inside = mask if everyone else mask[:, sel]
                sums[:, q] = np.where(inside, values if everyone else values[:, sel], 0).sum(axis=1)
                seen[:, q] = np.count_nonzero(inside, axis=1)
            return sums, seen
        for p in range(n_people):
            sel = mask[p] & has_period
            np.add.at(sums[p], per_close[sel], values[p][sel])
            np.add.at(seen[p], per_close[sel], 1)
        return sums, seen

    credited, seen = by_period(att_units, att_seen)
    booked_units, _ = by_period(att_basis, att_seen)
    booked = pl.DataFrame(
        [
            (names[p], periods[q], int(credited[p, q]), int(booked_units[p, q]))
            for p, q in zip(*np.nonzero(seen), strict=True)
        ],
        schema={"participant": pl.String, "_period": pl.String, "credited": _I64, "booked": _I64},
        orient="row",
    )
    clawed = _clawed_bookings(refunds, att_basis, att_seen, names, code)
    period_plans = {p: _plan_for_period(plan, p, cutoff) for p in close_periods}
    summary = _summary(booked, clawed, period_plans)
    # Team pools: each deal's team credit divided among the team's members.
    personal_credit, _ = by_period(total, count > 0)
    teams = pl.concat(team_rows, how="vertical_relaxed")
    del team_rows
    team_lines = _team_pools(
        teams,
        weights,
        summary,
        names=names,
        periods=periods,
        per_close=per_close,
        personal_credit=personal_credit,
    )
    if not team_lines.is_empty():
        cell = team_lines.get_column("_p").to_numpy() * n + team_lines.get_column("id").to_numpy()
        total += _dense(cell, team_lines.get_column("units").to_numpy(), grid)
        count += _dense(cell, 1, grid)
        keep_lines(team_lines)
    del teams, team_lines
    # Tiers: each participant's tier adjustment of a period, spread over its deals by credit.
    adjust = summary.filter(pl.col("tier_units") != 0)
    tier_groups: list[tuple[int, int]] = []
    tier_rules: list[str] = []
    tier_totals: list[int] = []
    for row in adjust.iter_rows(named=True):
        if row["participant"] in names:
            tier_groups.append((names.index(row["participant"]), code[row["_period"]]))
            tier_rules.append(f"rewards.tiers ({row['tier_rule']})")
            tier_totals.append(row["tier_units"])
    if tier_rules:
        pp, dd, gg, tiers = _spread(
            tier_groups, tier_totals, att_seen, att_units, per_close=per_close, total=total
        )
        if pp.size:
            keep = per_close[dd] == wanted
            out.append(
                _adjustments(
                    keep,
                    pp,
                    dd,
                    tiers,
                    component="tier",
                    source="tier",
                    rule=pl.Series(tier_rules).cast(pl.Categorical).gather(gg[keep]),
                )
            )
    # Caps: per deal (the deal's version), then per period (the period's version), spread by deal.
    version = np.zeros(n, dtype=np.int64)
    version[ids] = funded.get_column("_version").to_numpy()
    caps = [vp.cap_per_deal.to_minor() if vp.cap_per_deal else -1 for _, vp in versions]
    cap = np.asarray(caps, dtype=np.int64)[version]
    present = count > 0
    over = present & has_period[None, :] & (cap >= 0)[None, :] & (total > cap[None, :])
    pp, dd = np.nonzero(over)
    deal_caps = np.zeros(grid, dtype=np.int64)
    deal_caps[pp, dd] = cap[dd] - total[pp, dd]
    keep = per_close[dd] == wanted
    if keep.any():
        out.append(
            _adjustments(
                keep,
                pp,
                dd,
                cap[dd] - total[pp, dd],
                component="cap",
                source="cap_per_deal",
                rule=pl.DataFrame({"e": total[pp, dd][keep], "c": cap[dd][keep]})
                .select(pl.format("rewards.cap_per_deal (earned {}, cap {})", "e", "c").cast(pl.Categorical))
                .to_series(),
            )
        )
    total += deal_caps
    period_caps = np.full(n_periods, -1, dtype=np.int64)
    for p, vp in period_plans.items():
        if vp.cap_per_period is not None:
            period_caps[code[p]] = vp.cap_per_period.to_minor()
    if (period_caps >= 0).any():
        capped = present & has_period[None, :] & (period_caps[np.maximum(per_close, 0)] >= 0)[None, :]
        sums, _ = by_period(total, capped)
        over_cap = np.argwhere((period_caps[None, :] >= 0) & (sums > period_caps[None, :]))
        cap_groups = [(int(p), int(q)) for p, q in over_cap]  # participant, then period order
        earned = np.asarray([sums[p, q] for p, q in cap_groups], dtype=np.int64)
        limits = np.asarray([period_caps[q] for _, q in cap_groups], dtype=np.int64)
        excess = (limits - earned).tolist()
        pp, dd, gg, cut = _spread(
            cap_groups, excess, capped, total, per_close=per_close, total=total, clip=True
        )
        if pp.size:
            keep = (per_close[dd] == wanted) & (cut != 0)
            # One rule text per capped (participant, period): what was earned and the cap.
            pairs = zip(earned, limits, strict=True)
            texts = pl.Series(
                [f"rewards.cap_per_period (earned {e}, cap {c})" for e, c in pairs], dtype=pl.String
            ).cast(pl.Categorical)
            out.append(
                _adjustments(
                    keep, pp, dd, cut, component="cap", source="cap_per_period", rule=texts.gather(gg[keep])
                )
            )
    out.append(_clawbacks(refunds, total, present, code, wanted))
    lines = pl.concat(out, how="vertical", rechunk=False)
    # The participant column in the same chunks as the lines: a column chunked otherwise would make
    # polars copy every column into one chunk to line them up.
    named = pl.Series("participant", names, dtype=pl.String).cast(pl.Categorical)
    lines = lines.with_columns(
        pl.concat([named.gather(piece.get_column("_p")) for piece in out], rechunk=False)
    )
    # What every line of a deal repeats (its pool, basis and version) is kept once per deal.
    pool = np.zeros(n, dtype=np.int64)
    pool[ids] = funded.get_column("_pool").to_numpy()
    basis = np.zeros(n, dtype=np.int64)
    basis[ids] = funded.get_column("_b").to_numpy()
    deal_info = pl.DataFrame(
        {
            "pool_units": pool,
            "deal_units": basis,
            "version": pl.Series([vp.id for _, vp in versions], dtype=pl.String)
            .cast(pl.Categorical)
            .gather(version),
        }
    )
    return lines.select(list(_LEDGER)), summary, deal_info


def _team_weights(versions: list[tuple[date | None, RewardPlan]], ctx: _Context) -> pl.DataFrame:
    """Per version and team participant: its members, how the team divides, and their weights."""
    weight_rows = []
    for index, (_, vp) in enumerate(versions):
        for part in vp.participants:
            if part.team is None:
                continue
            members = ctx.members(part.team) or [part.team]
            mine = {p.person: p.weight for p in vp.participants if p.person}
            scaled = _scaled([mine.get(m, Decimal(1)) for m in members])
            for member, weight in zip(members, scaled, strict=True):
                weight_rows.append((index, part.team, member, part.divide, weight))
    return pl.DataFrame(
        weight_rows,
        schema={
            "_version": _I64,
            "team": pl.String,
            "participant": pl.String,
            "_divide": pl.String,
            "_w": _I64,
        },
        orient="row",
    )


def _team_pools(
    teams: pl.DataFrame,
    weights: pl.DataFrame,
    summary: pl.DataFrame,
    *,
    names: list[str],
    periods: list[str],
    per_close: np.ndarray,
    personal_credit: np.ndarray,
) -> pl.DataFrame:
    """Divide each deal's team credit among the team's members by the team participant's weighting."""
    if teams.is_empty():
        return pl.DataFrame()
    attained = np.zeros_like(personal_credit)
    for row in summary.iter_rows(named=True):
        if row["quota"] and row["participant"] in names:
            att = max(row["booked"] - row["clawed"], 0) * _WEIGHT_SCALE // row["quota"]
            attained[names.index(row["participant"]), periods.index(row["_period"])] = att
    place = {name: i for i, name in enumerate(names)}
    pieces = []
    # One (version, team) at a time: its rows share the members and how they divide, so the weights are a
    # (row x member) grid in numpy, members in participant order (the allocation's key order).
    for (version, team), group in weights.group_by("_version", "team", maintain_order=True):
        rows = teams.filter((pl.col("_version") == version) & (pl.col("team") == team))
        if rows.is_empty():
            continue
        divide = str(group.get_column("_divide")[0])
        members = group.with_columns(
            pl.col("participant").replace_strict(place, return_dtype=_I64).alias("_p")
        ).sort("_p")
        p = members.get_column("_p").to_numpy()
        q = per_close[rows.get_column("id").to_numpy()]
        if divide == "equal":
            w = np.ones((rows.height, p.size), dtype=np.int64)
        elif divide == "attainment":
            w = attained[p[None, :], q[:, None]]
        elif divide == "credit":
            w = np.maximum(personal_credit[p[None, :], q[:, None]], 0)
        else:
            fixed = members.get_column("_w").to_numpy().astype(np.int64)
            w = np.broadcast_to(fixed[None, :], (rows.height, p.size))
        # A team whose members all weigh zero (nobody attained anything yet) is divided equally.
        w = np.where((w.sum(axis=1) == 0)[:, None], 1, w)
        # Each row's credit over the members on a (row x member) grid; a line for each member weighing > 0.
        grid = _split_grid(rows.get_column("units").to_numpy(), w)
        if (w > 0).all():
            rr, jj = np.repeat(np.arange(rows.height), p.size), np.tile(np.arange(p.size), rows.height)
            units = grid.ravel()
        else:
            rr, jj = np.nonzero(w > 0)
            units = grid[rr, jj]
        # The rule and route texts are made once per distinct value, not once per line.
        rule = _map_text(rows.get_column("rule"), lambda r, t=team, d=divide: f"{r} > team pool {t} by {d}")
        via = _map_text(rows.get_column("via"), lambda v, t=team: f"{v} > team {t}")
        pick = pl.Series(rr)
        pieces.append(
            pl.DataFrame(
                {
                    "id": rows.get_column("id").gather(pick),
                    "_p": pl.Series(p[jj], dtype=_I64),
                    "component": pl.Series(["team_pool"], dtype=pl.String)
                    .cast(pl.Categorical)
                    .new_from_index(0, rr.size),
                    "source": rows.get_column("source").gather(pick),
                    "rule": rule.gather(pick),
                    "via": via.gather(pick),
                    "units": pl.Series(units, dtype=_I64),
                    "basis_units": pl.Series(np.zeros(rr.size, dtype=np.int64)),
                }
            )
        )
    if not pieces:
        return pl.DataFrame()
    return pl.concat(pieces, how="vertical_relaxed")


def _clawed_bookings(
    refunds: pl.DataFrame,
    att_basis: np.ndarray,
    att_seen: np.ndarray,
    names: list[str],
    code: dict[str, int],
) -> pl.DataFrame:
    """Bookings taken out of the attainment by clawbacks, per participant and refund period."""
    reducing = refunds.filter(pl.col("_reduce"))
    sums: dict[tuple[int, str], int] = {}
    if not reducing.is_empty():
        r = reducing.get_column("id").to_numpy()
        num = reducing.get_column("_num").to_numpy()
        den = reducing.get_column("_den").to_numpy()
        per = reducing.get_column("_period").to_list()
        labels = sorted(set(per))
        label_of = {label: i for i, label in enumerate(labels)}
        refund_period = np.asarray([label_of[x] for x in per], dtype=np.int64)
        # Every (participant, refunded deal) with attaining credit, summed per (participant, refund period).
        pp, jj = np.nonzero(att_seen[:, r] > 0)
        taken = _half_even_np(att_basis[pp, r[jj]] * num[jj], den[jj])
        keys, which = np.unique(pp * len(labels) + refund_period[jj], return_inverse=True)
        totals = np.zeros(keys.size, dtype=np.int64)
        np.add.at(totals, which, taken)
        for key, value in zip(keys.tolist(), totals.tolist(), strict=True):
            sums[(key // len(labels), labels[key % len(labels)])] = value
    return pl.DataFrame(
        [(names[p], q, v) for (p, q), v in sums.items()],
        schema={"participant": pl.String, "_period": pl.String, "clawed": _I64},
        orient="row",
    )


def _clawbacks(
    refunds: pl.DataFrame, total: np.ndarray, present: np.ndarray, code: dict[str, int], wanted: int
) -> pl.DataFrame:
    """Negative lines reversing what each refunded deal paid (all of it, or pro rata by time left)."""
    refunds = refunds.filter(
        pl.col("_period").replace_strict(list(code), list(code.values()), return_dtype=_I64) == wanted
    )
    if refunds.is_empty():
        return _coded(0)
    r = refunds.get_column("id").to_numpy()
    block = total[:, r].T  # deal by participant: the allocation's groups, rows in participant order
    seen = present[:, r].T
    weights = np.maximum(block, 0) * seen
    alive = weights.sum(axis=1) > 0
    net = (block * seen).sum(axis=1)
    num = refunds.get_column("_num").to_numpy()
    den = refunds.get_column("_den").to_numpy()
    target = -_half_even_np(net * num, den)
    jj, pp = np.nonzero(seen & alive[:, None])
    if not jj.size:
        return _coded(0)
    starts = np.flatnonzero(np.r_[True, jj[1:] != jj[:-1]])
    units = _largest_remainder(starts, target[jj], weights[jj, pp], None)
    keep = units != 0
    rule = pl.concat_str(
        pl.lit("rewards.clawback ("),
        pl.col("_mode"),
        pl.lit(", refunded "),
        pl.col("_elapsed").cast(pl.String),
        pl.lit(" of "),
        pl.col("_window").cast(pl.String),
        pl.lit(" days after close; reverses "),
        pl.col("origin_period"),
        pl.lit(" lines)"),
    )
    texts = refunds.select(
        rule.cast(pl.Categorical).alias("rule"),
        pl.concat_str(pl.lit("clawback_"), pl.col("_mode")).cast(pl.Categorical).alias("source"),
        pl.col("origin_period").cast(pl.Categorical),
    )
    rows = jj[keep]
    return _coded(
        int(keep.sum()),
        _d=r[rows],
        _p=pp[keep],
        component="clawback",
        source=texts.get_column("source").gather(rows),
        rule=texts.get_column("rule").gather(rows),
        units=units[keep],
        basis_units=0,
        origin_period=texts.get_column("origin_period").gather(rows),
    )


def _empty_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=_LEDGER)


def _empty_deals(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pool_units": pl.repeat(0, n, dtype=_I64, eager=True),
            "deal_units": pl.repeat(0, n, dtype=_I64, eager=True),
            "version": pl.repeat(None, n, dtype=pl.Categorical, eager=True),
        }
    )


def _empty_summary() -> pl.DataFrame:
    return _summary(
        pl.DataFrame(
            schema={"participant": pl.String, "_period": pl.String, "credited": _I64, "booked": _I64}
        ),
        pl.DataFrame(schema={"participant": pl.String, "_period": pl.String, "clawed": _I64}),
        {},
    )


def _plan_for_period(plan: RewardPlan, period: str, cutoff: date) -> RewardPlan:
    """The version that rules a period's tiers, quotas, period cap and floor: the one in force at its end."""
    last = min(_period_bounds(period)[1], cutoff)
    if plan.valid_from is not None and last < plan.valid_from:
        last = plan.valid_from
    return plan.version_on(last)


def _refunds(
    funded: pl.DataFrame, versions: list[tuple[date | None, RewardPlan]], kind: str, cutoff: date
) -> pl.DataFrame:
    """Deals refunded on or before ``cutoff`` within their version's clawback window, with the fraction."""
    windows = [
        (vp.clawback.window_days, vp.clawback.mode, vp.clawback.reduce_attainment)
        if vp.clawback
        else (-1, "full", False)
        for _, vp in versions
    ]
    table = pl.DataFrame(
        {
            "_version": list(range(len(windows))),
            "_window": [w for w, _, _ in windows],
            "_mode": [m for _, m, _ in windows],
            "_reduce": [r for _, _, r in windows],
        },
        schema={"_version": _I64, "_window": _I64, "_mode": pl.String, "_reduce": pl.Boolean},
    )
    refunded = funded.filter(pl.col("refunded_on").is_not_null() & (pl.col("refunded_on") <= cutoff)).join(
        table, on="_version"
    )
    elapsed = (pl.col("refunded_on") - pl.col("close_date")).dt.total_days().cast(_I64)
    refunded = refunded.with_columns(elapsed.alias("_elapsed")).filter(
        (pl.col("_window") >= 0) & (pl.col("_elapsed") <= pl.col("_window"))
    )
    early = refunded.filter(pl.col("_elapsed") < 0)
    if len(early):
        raise DataError(
            "refunded before it closed",
            kind="deal",
            record=str(early.get_column("id")[0]),
            field="refunded_on",
        )
    full = (pl.col("_mode") == "full") | (pl.col("_window") == 0)
    return refunded.select(
        "id",
        pl.col("_period").alias("origin_period"),
        _period_of(pl.col("refunded_on"), kind).alias("_period"),
        pl.when(full).then(1).otherwise(pl.col("_window") - pl.col("_elapsed")).cast(_I64).alias("_num"),
        pl.when(full).then(1).otherwise(pl.col("_window")).cast(_I64).alias("_den"),
        "_mode",
        "_reduce",
        "_elapsed",
        "_window",
    )


def _summary(
    booked: pl.DataFrame, clawed: pl.DataFrame, period_plans: Mapping[str, RewardPlan]
) -> pl.DataFrame:
    """Attainment per (participant, period): credited reward, bookings, clawed bookings, quota."""
    frame = booked.join(clawed, on=["participant", "_period"], how="full", coalesce=True).with_columns(
        pl.col("credited").fill_null(0), pl.col("booked").fill_null(0), pl.col("clawed").fill_null(0)
    )
    rows = []
    for row in frame.sort("_period", "participant").iter_rows(named=True):
        vp = period_plans.get(row["_period"])
        quota = None
        if vp is not None:
            part = next((p for p in vp.participants if p.person == row["participant"]), None)
            quota = part.quota_for(row["_period"]) if part else None
        quota_units = quota.to_minor() if quota is not None else None
        net = row["booked"] - row["clawed"]
        attainment = Fraction(net, quota_units) if quota_units else None
        paid, how = row["credited"], ""
        if attainment is not None and vp is not None and vp.tiers:
            paid, how = _tier_payout(vp, row["credited"], attainment)
        rows.append(
            {
                **row,
                "quota": quota_units,
                "attainment": None
                if attainment is None
                else Decimal(attainment.numerator) / Decimal(attainment.denominator),
                "tier_units": paid - row["credited"],
                "tier_rule": how,
            }
        )
    schema: dict[str, pl.DataType] = {
        "participant": pl.String(),
        "_period": pl.String(),
        "credited": _I64(),
        "booked": _I64(),
        "clawed": _I64(),
        "quota": _I64(),
        "attainment": pl.Decimal(38, 6),
        "tier_units": _I64(),
        "tier_rule": pl.String(),
    }
    if not rows:
        return pl.DataFrame(schema=schema)
    for row in rows:
        if row["attainment"] is not None:
            row["attainment"] = row["attainment"].quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return pl.DataFrame(rows, schema=schema)


def _text_codes(column: pl.Series, values: Sequence[str] | None = None) -> tuple[pl.Series, int]:
    """Each line's rank among the distinct texts of a column (or its position in ``values``), nulls last.

    The column is a categorical: the texts are ranked once per distinct value, and every line gets its rank
    through its integer code, so sorting the ledger never compares strings.
    """
    if column.dtype == pl.String:
        column = column.cast(pl.Categorical)
    distinct = column.unique().drop_nulls()
    texts = distinct.cast(pl.String).to_list()
    ordered = list(values) if values is not None else sorted(texts)
    position = {t: i for i, t in enumerate(ordered)}
    ranks = column.to_physical().replace_strict(
        distinct.to_physical(), [position[t] for t in texts], default=None, return_dtype=_I64
    )
    return ranks.fill_null(len(ordered)), len(ordered) + 1


def _map_text(column: pl.Series, how: Any, dtype: pl.DataType | None = None) -> pl.Series:
    """``how(text)`` for each line of a categorical column, computed once per distinct value.

    The result is a categorical (text), or of ``dtype``.
    """
    distinct = column.unique().drop_nulls()
    values = [how(t) for t in distinct.cast(pl.String).to_list()]
    mapped = (
        pl.Series(values, dtype=pl.String).cast(pl.Categorical)
        if dtype is None
        else pl.Series(values, dtype=dtype)
    )
    return column.to_physical().replace_strict(
        distinct.to_physical(), mapped, default=None, return_dtype=mapped.dtype
    )


def _order(lines: pl.DataFrame) -> pl.DataFrame:
    """The documented line order.

    Participant, deal (lines without a deal last), component (in :data:`COMPONENTS` order), then source,
    rule, route, origin period and amount. A cap line's rule is ranked by its template: a participant has
    at most one cap line of each kind per deal, so its numbers never decide the order.
    """
    columns: list[tuple[pl.Series, int]] = [_text_codes(lines.get_column("participant"))]
    # Deal ranks sort like the ids; lines without a deal (a floor) come last.
    biggest = lines.get_column("_d").max()
    size = (biggest if isinstance(biggest, int) else 0) + 1
    columns.append((lines.get_column("_d").fill_null(size), size + 1))
    columns.append(_text_codes(lines.get_column("component"), COMPONENTS))
    columns.extend(_text_codes(lines.get_column(c)) for c in ("source", "rule", "via", "origin_period"))
    # One mixed-radix integer key when it fits (it does for any real ledger), else one key per column.
    radix = 1
    for _, size in columns:
        radix *= size
    if radix < _MAX_PRODUCT:
        key = pl.Series("_key", np.zeros(len(lines), dtype=np.int64))
        for ranks, size in columns:
            key = key * size + ranks
        keys = [key.alias("_k0")]
    else:
        keys = [ranks.alias(f"_k{i}") for i, (ranks, _) in enumerate(columns)]
    names = [k.name for k in keys]
    return lines.with_columns(keys).sort([*names, "units"], maintain_order=True).drop(names)


_LEDGER: dict[str, pl.DataType] = {
    "participant": pl.Categorical(),
    "_d": _I64(),
    "component": pl.Categorical(),
    "source": pl.Categorical(),
    "via": pl.Categorical(),
    "units": _I64(),
    "basis_units": _I64(),
    "rule": pl.Categorical(),
    "origin_period": pl.Categorical(),
}
"""The ledger's stored lines: integers and categoricals; text is made only when lines are shown.

What a line repeats from its deal (pool, basis, version), its participant (team) or the run (period) is
kept once, not per line; a locked period's ledger, whose paid lines keep what they said, carries those as
columns of its own (:data:`_EXPLICIT`).
"""

_EXPLICIT: dict[str, pl.DataType] = {
    "period": pl.Categorical(),
    "team": pl.Categorical(),
    "pool_units": _I64(),
    "deal_units": _I64(),
    "version": pl.Categorical(),
}


def _plain(
    lines: pl.DataFrame, deals: pl.DataFrame, teams: Mapping[str, str | None], period: str
) -> pl.DataFrame:
    """Coded lines as text columns, in the order given (the ledger's internal columns, as text)."""
    d = lines.get_column("_d")
    by_line: dict[str, Any] = {}
    for column in ("pool_units", "deal_units", "version"):
        if column in lines.columns:
            by_line[column] = pl.col(column)
        else:
            looked = deals.get_column(column).gather(d).alias(column)
            by_line[column] = looked if column == "version" else looked.fill_null(0)
    team = (
        pl.col("team")
        if "team" in lines.columns
        else _map_text(lines.get_column("participant"), teams.get).alias("team")
    )
    return lines.select(
        pl.col("period").cast(pl.String)
        if "period" in lines.columns
        else pl.lit(period, dtype=pl.String).alias("period"),
        pl.col("participant").cast(pl.String),
        team.cast(pl.String),
        deals.get_column("id").gather(d).cast(pl.String).alias("deal"),
        pl.col("component").cast(pl.String),
        pl.col("source").cast(pl.String),
        pl.col("via").cast(pl.String),
        "units",
        "basis_units",
        by_line["pool_units"],
        by_line["deal_units"],
        by_line["version"].cast(pl.String),
        pl.col("rule").cast(pl.String),
        pl.col("origin_period").cast(pl.String),
    )


def _encode(plain: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text lines (as :func:`_plain` gives them) back to coded lines that keep every column, and the deals."""
    deals = plain.get_column("deal").drop_nulls().unique().sort()
    index = plain.get_column("deal").replace_strict(
        deals, list(range(len(deals))), default=None, return_dtype=_I64
    )
    coded = plain.with_columns(index.alias("_d"))
    schema = {**_LEDGER, **_EXPLICIT}
    return coded.select(pl.col(c).cast(t) for c, t in schema.items()), deals.alias("id").to_frame()


def compute_rewards(
    deals: Any,
    plan: AlignmentPlan | RewardPlan,
    *,
    touchpoints: Any = None,
    stage_events: Any = None,
    fx: FxTable | None = None,
    period: str,
    as_of: date,
    previous: RewardLedger | None = None,
) -> RewardLedger:
    """Compute the shared reward of one period: every cent, for every participant, with its reason.

    Each won deal closed on or before ``as_of`` (and on or after the plan's ``valid_from``) is paid under the
    plan version in force on its close date. Its **pool** is ``rate`` of its gross or net amount, converted
    into the plan currency at the close date's rate, plus ``fixed``. The pool is split, with
    :func:`~smarketing.money.allocate` semantics at every step (largest remainder, ties to the smaller key):

    1. into parts: attribution (``attribution.share``), stage ownership (``stage_credit.share``) and the fixed
       split (the rest: ``team_split`` or a plan revenue split);
    2. each part over its recipients: touch owners (teams for unowned touches) by the attribution model over
       the deal's touches up to its close date; the owners of the stages its lead entered; the fixed shares;
    3. recipients to participants: a participant person is paid; another person of the plan passes the
       credit to their team; a team's credit goes to the deal's revenue splits in that team, else to the deal
       owner if in the team, else to the team's pool, divided among its members by the team participant's
       ``divide`` (weight, equal, attainment, credit). Anything else is an error.

    **Overlays** (plan or deal splits of kind ``overlay``) are paid on top: ``round(pool x total overlay
    share)`` split by share. **Tiers** apply per participant and period to their own pool and revenue-split
    credit (not overlays or team pools), by attainment = credited bookings (the basis amount split like the
    pool) / quota; the tier line is ``payout - credited``, spread over the period's deals by credit. Then the
    **cap per deal**, the **cap per period** (spread by deal), **clawbacks** of deals refunded in the period
    within the window (``full``, or ``pro_rata`` by the days left of the window; optionally reducing the
    period's attainment), and the **floor** (a top-up line without deal).

    Periods before the requested one are recomputed as needed (clawbacks reverse the lines of the period the
    deal closed in); a period that ends on or before ``locked_through`` is locked: its ledger is ``previous``
    and a recomputation adds only ``adjustment`` lines.

    Args:
        deals: :class:`~smarketing.records.Deal` records, a :class:`~smarketing.records.Dataset` (its
            touchpoints and stage events are used by default) or a frame in the deal columns.
        plan: The whole :class:`~smarketing.plan.AlignmentPlan` (``plan``, not ``plan.rewards``): people,
            teams and the journey come from it, so team credit reaches the deal's owner, its revenue splits
            and the team's members. A bare :class:`RewardPlan` knows no teams: team credit then goes only to
            team participants, undivided, and stage credit by team is unknown.
        touchpoints: Touchpoints, for attribution credit.
        stage_events: Stage events, for stage credit and the ``w_shaped``/``full_path`` models.
        fx: Exchange rates into the plan currency, for deals in other currencies.
        period: ``"2026-10"`` (month), ``"2026-Q4"`` (quarter) or ``"2026"`` (year).
        as_of: The day of the run; later closes and refunds are not known yet.
        previous: The ledger of an earlier run of the same period: required for a locked period; otherwise
            statements show what changed since it.

    Returns:
        The period's ledger.

    Raises:
        DataError: A won deal without amount, currency or close date, a negative amount, revenue splits not
            totalling 100%, credit for someone not in the plan or for a team nobody can receive, a missing
            exchange rate (naming the deal and date), a deal without touchpoints when attribution needs them.
        CurrencyMismatchError: Deals in another currency and no ``fx``.
        PlanError: No reward part, or a locked period without ``previous``.
        ValueError: A malformed period, or ``previous`` of another period.

    Examples:
        >>> from datetime import date, datetime, timezone
        >>> from smarketing.records import Deal
        >>> plan = RewardPlan.model_validate(
        ...     {
        ...         "id": "v1",
        ...         "currency": "EUR",
        ...         "pool": {"rate": "10%"},
        ...         "participants": [{"person": "ana"}, {"person": "bo"}],
        ...         "splits": [{"kind": "revenue", "shares": {"ana": "50%", "bo": "50%"}}],
        ...     }
        ... )
        >>> deal = Deal(
        ...     id="D1",
        ...     amount=sm.Money("1000.10", "EUR"),
        ...     stage="won",
        ...     created_at=datetime(2026, 10, 1, tzinfo=timezone.utc),
        ...     close_date=date(2026, 10, 2),
        ... )
        >>> ledger = compute_rewards([deal], plan, period="2026-10", as_of=date(2026, 10, 31))
        >>> ledger.totals()
        {'ana': Money('50.01', 'EUR'), 'bo': Money('50.00', 'EUR')}
    """
    ctx = _Context.of(plan)
    _refuse_problems(ctx.plan, plan)
    kind = _period_kind(period)
    start, end = _period_bounds(period)
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if as_of < start:
        raise ValueError(f"period {period} starts after as_of {as_of}; nothing of it is known yet")
    if previous is not None and previous.period != period:
        raise ValueError(f"previous is the ledger of {previous.period}, not of {period}")
    cutoff = min(end, as_of)
    if isinstance(deals, Dataset):
        touchpoints = deals.touchpoints if touchpoints is None else touchpoints
        stage_events = deals.stage_events if stage_events is None else stage_events
    rp = ctx.plan
    needs_touches = any(
        vp.attribution is not None and vp.attribution.share > 0 for _, vp in rp.version_index()
    )
    if needs_touches and touchpoints is None:
        raise DataError("the plan credits by attribution: pass touchpoints=", kind="rewards")
    won = _deal_frame(deals, ctx, fx, cutoff, kind)
    lines, summary, deals = _compute(
        won, ctx, touchpoints=touchpoints, stage_events=stage_events, kind=kind, period=period, cutoff=cutoff
    )
    summary = summary.filter(pl.col("_period") == period).drop("_period")
    period_plan = _plan_for_period(rp, period, cutoff)
    lines = _floor(lines, period_plan)
    teams = {p.team for _, vp in rp.version_index() for p in vp.participants if p.team}
    names = {*lines.get_column("participant").unique().drop_nulls().cast(pl.String), *summary["participant"]}
    # A person's team is their plan team; a team participant is its own team.
    team_of = {who: ctx.people.get(who, who if who in teams else None) for who in sorted(names)}
    locked = rp.locked_through is not None and end <= rp.locked_through
    if locked:
        if previous is None:
            raise PlanError(
                f"period {period} is locked (it ends on or before {rp.locked_through}): pass previous=, the "
                "ledger paid for it; a recomputation then only adds adjustment lines",
                path="rewards.locked_through",
            )
        paid = _plain(previous._lines, previous._deals, previous._teams, period)
        lines, deals = _encode(_adjusted(paid, _plain(lines, deals, team_of, period)))
    return RewardLedger(
        period=period,
        currency=rp.currency,
        as_of=as_of,
        plan_id=rp.id,
        locked=locked,
        lines=lines,
        summary=summary.sort("participant"),
        deals=deals,
        teams=team_of,
        previous=None if previous is None else previous._totals_units(),
    )


def _refuse_problems(rewards: RewardPlan, plan: Any) -> None:
    """A :class:`PlanError` naming every problem of the reward plan (with lines, for a loaded plan)."""
    problems = rewards.problems()
    if not problems:
        return
    aligned = not isinstance(plan, RewardPlan)
    source = getattr(plan, "_source", None) if aligned else None
    issues = []
    for relative, message in problems:
        path = f"rewards.{relative}" if aligned else relative
        issues.append(PlanIssue(message, path=path, line=source.line(path) if source is not None else None))
    raise PlanError(issues[0].message, file=source.file if source is not None else None, issues=issues)


def _floor(lines: pl.DataFrame, vp: RewardPlan) -> pl.DataFrame:
    """A top-up line (without deal) for each person participant paid less than the floor in the period."""
    if vp.floor is None:
        return lines
    floor = vp.floor.to_minor()
    people = sorted({p.person for p in vp.participants if p.person})
    totals = {str(k): int(v) for k, v in lines.group_by("participant").agg(pl.col("units").sum()).iter_rows()}
    top = [(who, floor - totals.get(who, 0)) for who in people if totals.get(who, 0) < floor]
    if not top:
        return lines
    extra = pl.DataFrame(
        {
            "participant": [w for w, _ in top],
            "units": [u for _, u in top],
            "component": "floor",
            "source": "floor",
            "rule": f"rewards.floor ({vp.floor})",
            "basis_units": 0,
            "pool_units": 0,
            "deal_units": 0,
        },
        schema_overrides={"units": _I64, "basis_units": _I64, "pool_units": _I64, "deal_units": _I64},
    )
    return pl.concat(
        [
            lines,
            extra.select(
                pl.col(c).cast(lines.schema[c])
                if c in extra.columns
                else pl.lit(None, dtype=lines.schema[c]).alias(c)
                for c in lines.columns
            ),
        ],
        how="vertical",
    )


def _adjusted(paid: pl.DataFrame, now: pl.DataFrame) -> pl.DataFrame:
    """A locked period: the lines paid stay; the difference to a recomputation comes as adjustment lines."""
    key = ["participant", "deal", "_c", "origin_period"]
    component = (
        pl.when(pl.col("component") == "adjustment").then(pl.col("source")).otherwise(pl.col("component"))
    )
    old = (
        paid.with_columns(component.alias("_c"))
        .group_by(key)
        .agg(pl.col("units").sum().alias("_old"), pl.col("team").first())
    )
    new = (
        now.with_columns(component.alias("_c"))
        .group_by(key)
        .agg(pl.col("units").sum().alias("_new"), pl.col("team").first(), pl.col("version").first())
    )
    both = old.join(new, on=key, how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("_old").fill_null(0),
        pl.col("_new").fill_null(0),
        pl.coalesce("team", "team_right").alias("team"),
    )
    diff = both.filter(pl.col("_new") != pl.col("_old"))
    adjustments = diff.select(
        pl.lit(paid.get_column("period")[0] if len(paid) else None, dtype=pl.String).alias("period"),
        "participant",
        "team",
        "deal",
        pl.lit("adjustment").alias("component"),
        pl.col("_c").alias("source"),
        pl.lit(None, dtype=pl.String).alias("via"),
        (pl.col("_new") - pl.col("_old")).alias("units"),
        pl.lit(0, dtype=_I64).alias("basis_units"),
        pl.lit(0, dtype=_I64).alias("pool_units"),
        pl.lit(0, dtype=_I64).alias("deal_units"),
        "version",
        pl.format(
            "locked period recomputed: {} was {}, now {} (minor units)",
            pl.col("_c"),
            pl.col("_old"),
            pl.col("_new"),
        ).alias("rule"),
        "origin_period",
    )
    return pl.concat([paid, adjustments.select(paid.columns)], how="vertical_relaxed")


# --------------------------------------------------------------------------------------------------
# Results


def _amount(column: str, places: int) -> pl.Expr:
    # A multiplication keeps every digit; a Decimal division would truncate to the dividend's scale.
    unit = pl.lit(Decimal(1).scaleb(-places), dtype=pl.Decimal(38, places))
    return pl.col(column).cast(pl.Decimal(38, 0)) * unit


def _text(column: str, places: int) -> pl.Expr:
    return _amount(column, places).cast(pl.String)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], limit: int) -> str:
    shown = list(rows[:limit])
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), *(line(r) for r in shown)]
    if len(rows) > limit:
        out.append(f"  ... {len(rows) - limit} more line(s)")
    return "\n".join(out)


_TEXT_ROWS = 40
_HTML_ROWS = 200


@attrs.frozen(eq=False)
class RewardLedger:
    """Every reward line of one period: who is paid what, for which deal, by which rule.

    Lines are ordered by participant, deal (lines without a deal, such as a floor, come last), component
    (in :data:`COMPONENTS` order), then source, rule, route and origin period, so the order never depends
    on the order of the input. Amounts are exact :class:`~smarketing.money.Money` in the plan currency.

    The ledger stores its lines as integer codes (a deal's rank, categorical participants, rules and
    routes) and makes their order and text when they are asked for: :meth:`to_frame` once (then kept), a
    statement for its participant's lines only. Totals never need the text.

    Examples:
        >>> from datetime import date
        >>> ledger = compute_rewards(
        ...     [],
        ...     RewardPlan.model_validate(
        ...         {
        ...             "id": "v1",
        ...             "currency": "EUR",
        ...             "participants": [{"person": "ana"}],
        ...             "pool": {"rate": "10%"},
        ...             "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
        ...         }
        ...     ),
        ...     period="2026-10",
        ...     as_of=date(2026, 10, 31),
        ... )
        >>> ledger.total(), len(ledger)
        (Money('0.00', 'EUR'), 0)
    """

    period: str
    """The period, e.g. ``"2026-10"``."""
    currency: str
    """The plan currency every amount is in."""
    as_of: date
    """The day of the run."""
    plan_id: str
    """The reward plan's id."""
    locked: bool
    """Whether the period was locked (its lines are the paid ones plus adjustments)."""
    _lines: pl.DataFrame = attrs.field(alias="lines", repr=False)
    _summary: pl.DataFrame = attrs.field(alias="summary", repr=False)
    _deals: pl.DataFrame = attrs.field(alias="deals", repr=False)
    _teams: Mapping[str, str | None] = attrs.field(alias="teams", repr=False)
    _previous: Mapping[str, int] | None = attrs.field(alias="previous", default=None, repr=False)
    # The lines as text, in the documented order: made when first asked for, then kept.
    _shown: dict[str, pl.DataFrame] = attrs.field(init=False, factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def _places(self) -> int:
        return Money.zero(self.currency).minor_units

    def _money(self, units: int) -> Money:
        return Money.from_minor(int(units), self.currency)

    def total(self) -> Money:
        """Everything paid in the period (clawbacks and adjustments included)."""
        return self._money(int(self._lines.get_column("units").sum()))

    def totals(
        self, by: Literal["participant", "team", "component", "deal"] = "participant"
    ) -> dict[str, Money]:
        """Totals by participant, team, component or deal, sorted by key (no team or deal: ``"-"``).

        Examples:
            >>> from datetime import date
            >>> ledger = compute_rewards(
            ...     [],
            ...     RewardPlan.model_validate(
            ...         {
            ...             "id": "v1",
            ...             "currency": "EUR",
            ...             "participants": [{"person": "ana"}],
            ...             "floor": "100 EUR",
            ...             "pool": {"rate": "10%"},
            ...             "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
            ...         }
            ...     ),
            ...     period="2026-10",
            ...     as_of=date(2026, 10, 31),
            ... )
            >>> ledger.totals(), ledger.totals("component")
            ({'ana': Money('100.00', 'EUR')}, {'floor': Money('100.00', 'EUR')})
        """
        if by not in ("participant", "team", "component", "deal"):
            raise ValueError(f"by must be participant, team, component or deal, not {by!r}")
        column = {"deal": "_d", "team": "team" if "team" in self._lines.columns else "participant"}.get(
            by, by
        )
        grouped = self._lines.group_by(column).agg(pl.col("units").sum())
        keys = grouped.get_column(column)
        if by == "deal":
            texts = self._deals.get_column("id").gather(keys)
        elif column != by:  # teams through the participants
            texts = pl.Series([self._teams.get(k) for k in keys.cast(pl.String).to_list()], dtype=pl.String)
        else:
            texts = keys.cast(pl.String)
        sums: dict[str, int] = {}
        for key, units in zip(
            texts.fill_null("-").to_list(), grouped.get_column("units").to_list(), strict=True
        ):
            sums[key] = sums.get(key, 0) + int(units)
        return {k: self._money(sums[k]) for k in sorted(sums)}

    def _totals_units(self) -> dict[str, int]:
        return {
            str(k): int(v)
            for k, v in self._lines.group_by("participant").agg(pl.col("units").sum()).iter_rows()
        }

    def participants(self) -> list[str]:
        """Everyone with a line or an attainment in the period, sorted."""
        names = set(self._lines.get_column("participant").unique().cast(pl.String).to_list()) | set(
            self._summary.get_column("participant").to_list()
        )
        return sorted(names)

    def deal(self, deal_id: str) -> pl.DataFrame:
        """The lines of one deal, as in :meth:`to_frame`."""
        return self.to_frame().filter(pl.col("deal") == deal_id)

    def lock(self) -> RewardLedger:
        """This ledger marked as paid and locked (keep it to pass as ``previous`` later)."""
        return attrs.evolve(self, locked=True)

    def to_frame(self) -> pl.DataFrame:
        """One row per line, with amounts as Decimal columns and a readable explanation.

        Columns: period, participant, team, deal, component, source, amount, credited_basis (bookings for
        attainment), deal_pool, deal_basis, version, rule, via (the route of the credit), origin_period
        (clawbacks) and explanation.
        """
        if "all" not in self._shown:
            self._shown["all"] = self._frame(self._lines)
        return self._shown["all"]

    def _frame(self, coded: pl.DataFrame) -> pl.DataFrame:
        """Coded lines as :meth:`to_frame` shows them: ordered, amounts as Decimal, text made."""
        places = self._places
        lines = _plain(_order(coded), self._deals, self._teams, self.period)
        explanation = pl.concat_str(
            [
                pl.col("rule"),
                pl.when(pl.col("via").is_not_null())
                .then(pl.concat_str(pl.lit("; credit via "), pl.col("via")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("deal").is_not_null() & (pl.col("pool_units") != 0))
                .then(
                    pl.concat_str(
                        pl.lit("; deal pool "),
                        _text("pool_units", places),
                        pl.lit(" on basis "),
                        _text("deal_units", places),
                    )
                )
                .otherwise(pl.lit("")),
                pl.when(pl.col("version").is_not_null())
                .then(pl.concat_str(pl.lit("; plan "), pl.col("version")))
                .otherwise(pl.lit("")),
            ]
        )
        return lines.select(
            "period",
            "participant",
            "team",
            "deal",
            "component",
            "source",
            _amount("units", places).alias("amount"),
            _amount("basis_units", places).alias("credited_basis"),
            _amount("pool_units", places).alias("deal_pool"),
            _amount("deal_units", places).alias("deal_basis"),
            "version",
            "rule",
            "via",
            "origin_period",
            explanation.alias("explanation"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the run, totals per participant and team, attainment, every line (money as text)."""
        frame = self.to_frame()
        return {
            "period": self.period,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "plan": self.plan_id,
            "locked": self.locked,
            "total": str(self.total()),
            "totals": {k: str(v) for k, v in self.totals().items()},
            "teams": {k: str(v) for k, v in self.totals("team").items()},
            "attainment": [
                self.statement(p).summary() for p in self._summary.get_column("participant").to_list()
            ],
            "lines": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
                for row in frame.iter_rows(named=True)
            ],
        }

    def statement(self, participant: str) -> Statement:
        """The statement of one participant.

        Raises:
            KeyError: The participant has no line and no attainment in the period.
        """
        lines = self._lines.filter(pl.col("participant").cast(pl.String) == participant)
        summary = self._summary.filter(pl.col("participant") == participant)
        if lines.is_empty() and summary.is_empty():
            known = ", ".join(self.participants()) or "nobody"
            raise KeyError(f"{participant!r} has no reward lines in {self.period} (participants: {known})")
        frame = self._frame(lines)
        row = summary.row(0, named=True) if len(summary) else {}
        previous = None if self._previous is None else self._money(self._previous.get(participant, 0))
        team = (
            lines.get_column("team").drop_nulls().cast(pl.String)
            if "team" in lines.columns
            else pl.Series([self._teams.get(participant)], dtype=pl.String).drop_nulls()
        )
        return Statement(
            participant=participant,
            team=str(team[0]) if len(team) else None,
            period=self.period,
            currency=self.currency,
            lines=frame,
            total=self._money(int(lines.get_column("units").sum())),
            quota=None if row.get("quota") is None else self._money(row["quota"]),
            attainment=row.get("attainment"),
            credited_basis=self._money(row.get("booked", 0) or 0),
            clawed_basis=self._money(row.get("clawed", 0) or 0),
            tier_rule=row.get("tier_rule") or None,
            previous_total=previous,
        )

    def statements(self) -> list[Statement]:
        """Every participant's statement, sorted by participant."""
        return [self.statement(p) for p in self.participants()]

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        rows = [[k, str(v)] for k, v in self.totals().items()]
        return ["participant", "total"], rows

    def __repr__(self) -> str:
        head = (
            f"RewardLedger(period={self.period}, plan={self.plan_id}, lines={len(self)}, total={self.total()}"
            + (", locked" if self.locked else "")
            + ")"
        )
        headers, rows = self._rows()
        return head + ("\n" + _text_table(headers, rows, _TEXT_ROWS) if rows else "")

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        title = html.escape(f"Rewards {self.period} ({self.plan_id}): {self.total()}")
        return f"<p><b>{title}</b></p>" + _display.html_table(headers, rows, max_rows=_HTML_ROWS)


@attrs.frozen(eq=False)
class Statement:
    """One participant's reward statement for one period: lines, totals, attainment, and what changed.

    Render it with :meth:`to_text`, :meth:`to_csv` or :meth:`to_html`.
    """

    participant: str
    """Person or team id."""
    team: str | None
    """The participant's team, when known."""
    period: str
    """The period."""
    currency: str
    """The plan currency."""
    lines: pl.DataFrame = attrs.field(repr=False)
    """The participant's lines, as in :meth:`RewardLedger.to_frame`."""
    total: Money
    """What the period pays the participant."""
    quota: Money | None = None
    """The quota of the period, if any."""
    attainment: Decimal | None = None
    """Credited bookings net of clawed-back ones over quota (1 = 100%), if there is a quota."""
    credited_basis: Money | None = None
    """Bookings credited to the participant in the period (the deals' basis amounts, split like the pool)."""
    clawed_basis: Money | None = None
    """Bookings taken back from the attainment by clawbacks."""
    tier_rule: str | None = None
    """How the tiers applied."""
    previous_total: Money | None = None
    """The total of the previous run, when one was given."""

    def by_component(self) -> dict[str, Money]:
        """Totals per component, in :data:`COMPONENTS` order."""
        sums = dict(self.lines.group_by("component").agg(pl.col("amount").sum()).iter_rows())
        return {c: Money(sums[c], self.currency) for c in COMPONENTS if c in sums}

    @property
    def change(self) -> Money | None:
        """The total minus the previous run's total, when there was one."""
        return None if self.previous_total is None else self.total - self.previous_total

    def summary(self) -> dict[str, Any]:
        """The statement's header as plain data."""
        return {
            "participant": self.participant,
            "team": self.team,
            "period": self.period,
            "total": str(self.total),
            "quota": None if self.quota is None else str(self.quota),
            "attainment": None if self.attainment is None else str(self.attainment),
            "credited_basis": None if self.credited_basis is None else str(self.credited_basis),
            "clawed_basis": None if self.clawed_basis is None else str(self.clawed_basis),
            "tiers": self.tier_rule,
            "by_component": {k: str(v) for k, v in self.by_component().items()},
            "previous_total": None if self.previous_total is None else str(self.previous_total),
            "change": None if self.change is None else str(self.change),
        }

    def to_frame(self) -> pl.DataFrame:
        """The lines."""
        return self.lines

    def to_dict(self) -> dict[str, Any]:
        """Header and lines as plain data (money as text)."""
        return {
            **self.summary(),
            "lines": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
                for row in self.lines.iter_rows(named=True)
            ],
        }

    def _header(self) -> list[tuple[str, str]]:
        pairs = [
            (
                "participant",
                self.participant + (f" ({self.team})" if self.team and self.team != self.participant else ""),
            ),
            ("period", self.period),
        ]
        if self.quota is not None:
            pairs.append(("quota", str(self.quota)))
            pairs.append(
                (
                    "credited bookings",
                    f"{self.credited_basis}"
                    + (f" (clawed back {self.clawed_basis})" if self.clawed_basis else ""),
                )
            )
            if self.attainment is not None:
                pairs.append(("attainment", f"{(self.attainment * 100).quantize(Decimal('0.1'))}%"))
        if self.tier_rule:
            pairs.append(("tiers", self.tier_rule))
        for component, amount in self.by_component().items():
            pairs.append((component, str(amount)))
        pairs.append(("total", str(self.total)))
        if self.previous_total is not None:
            pairs.append(("previous run", f"{self.previous_total} (change {self.change})"))
        return pairs

    def _table(self) -> tuple[list[str], list[list[str]]]:
        headers = ["deal", "component", "amount", "explanation"]
        rows = [
            [r["deal"] or "-", r["component"], str(r["amount"]), r["explanation"]]
            for r in self.lines.select("deal", "component", "amount", "explanation").iter_rows(named=True)
        ]
        return headers, rows

    def to_text(self, *, limit: int | None = None) -> str:
        """The statement as text: a header, then one row per line (all of them unless ``limit``)."""
        width = max(len(k) for k, _ in self._header())
        head = [f"Reward statement {self.period}"] + [f"  {k.ljust(width)}  {v}" for k, v in self._header()]
        headers, rows = self._table()
        return (
            "\n".join(head)
            + "\n"
            + _text_table(headers, rows, limit if limit is not None else len(rows) or 1)
        )

    def to_csv(self) -> str:
        """The lines as CSV (amounts exact, in the plan currency)."""
        return self.lines.with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv()

    def to_html(self) -> str:
        """The statement as an HTML fragment."""
        head = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._header()
        )
        headers, rows = self._table()
        title = html.escape(f"Reward statement {self.period}: {self.participant}")
        return f"<h3>{title}</h3><table>{head}</table>" + _display.html_table(
            headers, rows, max_rows=len(rows) or 1
        )

    def __repr__(self) -> str:
        return self.to_text(limit=_TEXT_ROWS)

    def _repr_html_(self) -> str:
        return self.to_html()
