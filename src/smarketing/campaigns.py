"""Campaigns as the plan names them: owner, dates, cost, and when sales was told.

A plan's optional ``campaigns:`` list names the campaigns both teams run. Each campaign's ``id`` is the value
of ``campaign`` on the leads and touchpoints it brings, so :func:`smarketing.feedback.compare_campaigns`
can put campaigns side by side and the data rule D014 can tell a lead spike that sales heard about from
one that took it by surprise. Sales is *told* of a campaign by ``announced_on`` (the date sales was told)
or by ``meeting`` (a cadence meeting where it was presented, before its ``start``).

Examples:
    >>> from smarketing.campaigns import Campaign
    >>> c = Campaign(
    ...     id="webinar-2026-q4",
    ...     name="Q4 webinar",
    ...     owner="marketing",
    ...     start="2026-10-01",
    ...     cost={"amount": "12000.00", "currency": "EUR"},
    ...     announced_on="2026-09-20",
    ... )
    >>> c.total_cost
    Money('12000.00', 'EUR')
    >>> str(c.told_on)
    '2026-09-20'
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, PlanDate, PlanMoney, Text, located
from smarketing.money import Money

__all__ = ["Campaign"]


class Campaign(FrozenModel):
    """A campaign: who runs it, when, what it costs, and how sales heard of it."""

    id: Id = Field(description="Campaign id: the value of 'campaign' on its leads and touchpoints.")
    name: Text = Field(description="Display name.")
    owner: Id = Field(description="Id of the team that runs the campaign.")
    start: PlanDate = Field(description="First day of the campaign.")
    end: PlanDate | None = Field(default=None, description="Last day of the campaign; none while it runs.")
    cost: PlanMoney | None = Field(
        default=None, description="Total cost; leave out when costs are given per channel only."
    )
    channel_costs: dict[Text, PlanMoney] = Field(
        default_factory=dict,
        description="Channel -> cost on that channel, in the currency of 'cost'; they add up to at most "
        "'cost' (without 'cost' their sum is the total).",
    )
    announced_on: PlanDate | None = Field(default=None, description="The date sales was told of it.")
    meeting: Id | None = Field(
        default=None,
        description="Id of the cadence meeting where it was presented to sales (before its start).",
    )
    teams: list[Id] = Field(default_factory=list, description="Ids of the teams involved.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.end is not None and self.end < self.start:
            problems.append(("end", f"{self.end} is before the start {self.start}"))
        currencies = {m.currency for m in self.channel_costs.values()}
        if self.cost is not None:
            currencies.add(self.cost.currency)
        if len(currencies) > 1:
            problems.append(
                ("channel_costs", f"costs in several currencies: {', '.join(sorted(currencies))}")
            )
        elif self.cost is not None and self.channel_costs:
            spent = sum(self.channel_costs.values(), Money(0, self.cost.currency))
            if spent > self.cost:
                problems.append(
                    ("channel_costs", f"the channel costs add up to {spent}, more than cost {self.cost}")
                )
        if problems:
            raise located(problems)
        return self

    @property
    def total_cost(self) -> Money | None:
        """``cost``, else the sum of ``channel_costs``, else None (no cost given)."""
        if self.cost is not None:
            return self.cost
        if not self.channel_costs:
            return None
        values = list(self.channel_costs.values())
        return sum(values[1:], values[0])

    @property
    def told_on(self) -> date | None:
        """When sales knew of the campaign: ``announced_on``; else its ``start`` when a meeting presented it.

        A cadence meeting is recurring and has no date, so a campaign presented at one counts as told on its
        start day (presented before it began); with both, the earlier of the two.
        """
        days = [d for d in (self.announced_on, self.start if self.meeting is not None else None) if d]
        return min(days) if days else None
