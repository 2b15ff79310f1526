"""Teams and the people in them.

A plan names its teams once and refers to them by id everywhere else (stage owners, KPI owners, reward
participants, meetings). Each team has a *function*, so smarketing knows which team is marketing and which is
sales whatever the company calls them.

Examples:
    >>> from smarketing.teams import Person, Team
    >>> Team(id="demand-gen", name="Demand Generation", function="marketing").function
    'marketing'
    >>> Person(id="ana", name="Ana Ortiz", team="demand-gen", role="marketer").manager is None
    True
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from smarketing._base import FrozenModel, Id, Text

__all__ = ["Person", "Team", "TeamFunction"]

TeamFunction = Literal[
    "marketing",
    "sales",
    "customer_success",
    "revenue_operations",
    "leadership",
    "other",
]


class Team(FrozenModel):
    """A team that owns stages, KPIs and a share of the reward."""

    id: Id = Field(description="Team id used everywhere else in the plan.")
    name: Text = Field(description="Display name.")
    function: TeamFunction = Field(
        description="What the team does; a plan needs at least one marketing and one sales team."
    )
    description: str = Field(default="", description="What the team is responsible for.")


class Person(FrozenModel):
    """A person who owns leads, touches, meetings or a share of the reward."""

    id: Id = Field(description="Person id (matches the owner ids in CRM records).")
    name: Text = Field(description="Display name.")
    team: Id = Field(description="Id of the team the person belongs to.")
    role: Text = Field(description="Role, e.g. 'sdr', 'account_executive', 'marketer', 'manager'.")
    manager: Id | None = Field(
        default=None, description="Id of the person's manager; escalations climb this line."
    )
    email: str | None = Field(default=None, description="Work e-mail, for notifications.")
