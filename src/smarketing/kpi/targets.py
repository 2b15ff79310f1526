"""The reverse funnel: the leads each stage needs to reach a revenue goal, and the revenue leads bring.

Both directions are exact: rates and amounts are decimals, requirements are fractions rounded up once per
stage, so the funnel never falls short because of rounding.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import polars as pl

from smarketing import _display
from smarketing.errors import CurrencyMismatchError
from smarketing.money import Money

__all__ = ["FunnelTargets", "revenue_from_leads", "targets_from_revenue"]

# Products of decimals are exact with enough digits.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact, decimal.InvalidOperation])


@attrs.frozen
class FunnelTargets:
    """What each funnel stage needs per period to reach a revenue goal.

    Attributes:
        goal: The revenue goal.
        average_deal_size: The expected won deal amount.
        deals: Won deals needed: the goal over the deal size, rounded up.
        stages: Stage id -> whole leads needed in that stage, first stage first.
        exact: Stage id -> the unrounded requirement, as a fraction (from the rounded next stage).
    """

    goal: Money
    average_deal_size: Money
    deals: int
    stages: Mapping[str, int]
    exact: Mapping[str, Fraction]

    def to_frame(self) -> pl.DataFrame:
        """One row per stage (first stage first), then ``won``: ``stage, needed``."""
        rows = [*self.stages.items(), ("won", self.deals)]
        return pl.DataFrame(rows, schema={"stage": pl.String(), "needed": pl.Int64()}, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: goal, deal size, deals and stages."""
        return {
            "goal": str(self.goal),
            "average_deal_size": str(self.average_deal_size),
            "deals": self.deals,
            "stages": dict(self.stages),
        }

    def __repr__(self) -> str:
        funnel = ", ".join(f"{k}={v}" for k, v in self.stages.items())
        return f"FunnelTargets(goal={self.goal}, {funnel}, won={self.deals})"

    def _repr_html_(self) -> str:
        """A card: the goal and deal size, then the leads each stage needs (the reverse funnel)."""
        rows = [[stage, f"{needed:,}"] for stage, needed in [*self.stages.items(), ("won", self.deals)]]
        facts = _display.facts(
            [
                ("revenue goal", _display.money(self.goal)),
                ("average deal size", _display.money(self.average_deal_size)),
                ("won deals needed", f"{self.deals:,}"),
            ]
        )
        table = _display.html_table(["stage", "leads needed per period"], rows)
        return _display.card(
            "Funnel targets", [facts, table], subtitle="what each stage needs to reach the goal"
        )


def _rates(conversion_rates: Mapping[str, Decimal | int | str]) -> list[tuple[str, Decimal]]:
    if not conversion_rates:
        raise ValueError("conversion_rates is empty; give each funnel stage's rate to the next stage")
    out = []
    for stage, rate in conversion_rates.items():
        if isinstance(rate, float | bool):
            raise TypeError(
                f"conversion rate of {stage!r} must be a Decimal, int or str, not {type(rate).__name__}"
            )
        value = Decimal(rate)
        if not 0 < value <= 1:
            raise ValueError(f"conversion rate of {stage!r} must be above 0 and at most 1, not {rate}")
        out.append((stage, value))
    return out


def targets_from_revenue(
    goal: Money, *, avg_deal_size: Money, conversion_rates: Mapping[str, Decimal | int | str]
) -> FunnelTargets:
    """The leads each stage needs per period to reach a revenue goal, worked backwards exactly.

    Rounding rule: won deals are the goal over the deal size rounded up; then, from the last stage to the
    first, each stage needs the smallest whole number of leads that, at its conversion rate, is expected to
    give at least the (already whole) number the next stage needs. So every count is a whole number and
    the funnel never falls short because of rounding.

    Args:
        goal: The revenue goal per period.
        avg_deal_size: The expected won deal amount (same currency).
        conversion_rates: Stage id -> share of the stage's leads that reach the next stage, in funnel order
            (as :attr:`smarketing.plan.Targets.conversion_rates`); the last stage's rate is its win rate.

    Raises:
        CurrencyMismatchError: The goal and the deal size are in different currencies.
        ValueError: A rate is not in (0, 1], the mapping is empty, or the deal size is not positive.

    Examples:
        >>> from smarketing.plan import load_plan
        >>> t = load_plan("examples/plan.yaml").targets
        >>> targets_from_revenue(
        ...     t.revenue, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates
        ... )
        FunnelTargets(goal=600000 EUR, mql=446, sal=334, sql=167, opportunity=100, won=25)
    """
    if goal.currency != avg_deal_size.currency:
        raise CurrencyMismatchError(
            f"the goal is in {goal.currency} and the deal size in {avg_deal_size.currency}; convert one first"
        )
    if avg_deal_size.amount <= 0:
        raise ValueError(f"avg_deal_size must be positive, not {avg_deal_size}")
    if goal.amount < 0:
        raise ValueError(f"goal must not be negative, not {goal}")
    deals = math.ceil(Fraction(goal.amount) / Fraction(avg_deal_size.amount))
    needed = deals
    stages: dict[str, int] = {}
    exact: dict[str, Fraction] = {}
    for stage, rate in reversed(_rates(conversion_rates)):
        exact[stage] = needed / Fraction(rate)
        needed = math.ceil(exact[stage])
        stages[stage] = needed
    order = list(conversion_rates)
    return FunnelTargets(
        goal=goal,
        average_deal_size=avg_deal_size,
        deals=deals,
        stages={s: stages[s] for s in order},
        exact={s: exact[s] for s in order},
    )


def revenue_from_leads(
    leads: int,
    *,
    avg_deal_size: Money,
    conversion_rates: Mapping[str, Decimal | int | str],
) -> Money:
    """The revenue expected from ``leads`` entering the first stage of ``conversion_rates``, exactly.

    The inverse of :func:`targets_from_revenue` without rounding: leads x every rate x deal size.

    Examples:
        >>> from smarketing.plan import load_plan
        >>> t = load_plan("examples/plan.yaml").targets
        >>> revenue_from_leads(400, avg_deal_size=t.average_deal_size, conversion_rates=t.conversion_rates)
        Money('540000.000000', 'EUR')
    """
    if isinstance(leads, bool) or not isinstance(leads, int) or leads < 0:
        raise ValueError(f"leads must be a whole number >= 0, not {leads!r}")
    share = Decimal(leads)
    for _, rate in _rates(conversion_rates):
        share = _EXACT.multiply(share, rate)
    return avg_deal_size * share
