"""Persona definitions: the ideal customer profile, as both teams see them.

Marketing cares what makes a persona *interested*; sales cares what makes it *ready to buy*. A
:class:`Persona` keeps both sides in one definition: firmographic and role criteria for *fit*,
``interest_signals`` (marketing's) and ``readiness_signals`` (sales') for *engagement*, and the score rules
that turn them into numbers and grades.

Examples:
    >>> from smarketing.persona import Persona
    >>> p = Persona.model_validate(
    ...     {
    ...         "id": "ops-leader",
    ...         "name": "Operations leader",
    ...         "firmographics": {"industries": ["logistics"], "company_size": {"min": 200}},
    ...         "interest_signals": [{"id": "webinar", "on": "touchpoint", "where": {"channel": "webinar"}}],
    ...         "readiness_signals": [
    ...             {"id": "demo", "on": "touchpoint", "where": {"channel": "demo_request"}}
    ...         ],
    ...     }
    ... )
    >>> p.firmographics.company_size.contains(250), p.has_both_sides
    (True, True)
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from smarketing._base import Count, Days, FrozenModel, Id, Number, Points, Text

__all__ = [
    "Firmographics",
    "GradeBand",
    "IntRange",
    "Persona",
    "RoleCriteria",
    "ScoreRule",
    "Scoring",
    "Seniority",
    "Signal",
]

Seniority = Literal["individual_contributor", "manager", "director", "vp", "c_level", "owner"]


class IntRange(FrozenModel):
    """An inclusive integer range; an open end is ``None``."""

    min: Count | None = Field(default=None, description="Smallest value included.")
    max: Count | None = Field(default=None, description="Largest value included.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def contains(self, value: int) -> bool:
        """Whether ``value`` lies in the range.

        Examples:
            >>> IntRange(min=50, max=500).contains(501)
            False
        """
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Firmographics(FrozenModel):
    """Which companies fit: an empty list means "any"."""

    industries: list[Text] = Field(default_factory=list, description="Industries that fit.")
    company_size: IntRange | None = Field(default=None, description="Employee count range.")
    regions: list[Text] = Field(default_factory=list, description="Sales regions that fit.")
    countries: list[Text] = Field(
        default_factory=list, description="ISO 3166 alpha-2 country codes that fit."
    )
    technologies: list[Text] = Field(
        default_factory=list, description="Technologies in use that indicate fit."
    )


class RoleCriteria(FrozenModel):
    """Which people inside a fitting company are the persona."""

    titles: list[Text] = Field(default_factory=list, description="Job-title keywords.")
    departments: list[Text] = Field(default_factory=list, description="Departments.")
    seniorities: list[Seniority] = Field(default_factory=list, description="Seniority levels.")


class Signal(FrozenModel):
    """Observable behaviour that shows interest (marketing) or readiness to buy (sales).

    A signal matches a record of kind ``on`` whose fields equal the values in ``where`` (a list value
    means "any of these").
    """

    id: Id = Field(description="Signal id, unique within the persona.")
    description: str = Field(default="", description="What the behaviour means.")
    on: Literal["touchpoint", "activity", "stage"] = Field(
        description="The record kind the signal is observed on."
    )
    where: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Field values a record must have to count."
    )
    points: Points = Field(default=0, description="Engagement points each occurrence adds.")


# Numbers first, so "200" from a JSON plan is the number 200 again (plans hold no numeric-looking text).
_Value = Annotated[Number | str, Field(union_mode="left_to_right")]


class ScoreRule(FrozenModel):
    """A fit rule: ``points`` when the lead's ``field`` satisfies ``op`` against ``value``."""

    field: Text = Field(description="Lead attribute, e.g. 'industry' or 'company_size'.")
    op: Literal["eq", "ne", "in", "not_in", "gte", "lte", "between", "contains"] = Field(
        description="Comparison."
    )
    value: _Value | list[_Value] = Field(
        union_mode="left_to_right",
        description="Value compared against; text that reads as a number is a number.",
    )
    points: Points = Field(description="Points added (negative to penalise).")


class GradeBand(FrozenModel):
    """A lead grade reached at a minimum fit score (grades drive SLA tiers)."""

    grade: Id = Field(description="Grade name, e.g. 'A'.")
    min_fit: Points = Field(description="Smallest fit score that earns the grade.")


class Scoring(FrozenModel):
    """How fit and engagement become numbers and grades."""

    fit: list[ScoreRule] = Field(default_factory=list, description="Fit score rules.")
    engagement_half_life_days: Days | None = Field(
        default=None, description="Engagement points halve after this many days (none: no decay)."
    )
    grades: list[GradeBand] = Field(default_factory=list, description="Grade bands, highest first.")
    mql_threshold: Points | None = Field(
        default=None, description="Fit + engagement score at which a lead becomes an MQL."
    )


class Persona(FrozenModel):
    """A buyer persona both teams agree on."""

    id: Id = Field(description="Persona id.")
    name: Text = Field(description="Display name.")
    description: str = Field(default="", description="Who they are, in a sentence or two.")
    firmographics: Firmographics = Field(default_factory=Firmographics, description="Company criteria.")
    roles: RoleCriteria = Field(default_factory=RoleCriteria, description="Person criteria.")
    pains: list[Text] = Field(default_factory=list, description="Problems they want solved.")
    goals: list[Text] = Field(default_factory=list, description="Outcomes they want.")
    interest_signals: list[Signal] = Field(
        default_factory=list, description="Marketing's view: signs the persona is interested."
    )
    readiness_signals: list[Signal] = Field(
        default_factory=list, description="Sales' view: signs the persona is ready to buy."
    )
    scoring: Scoring = Field(default_factory=Scoring, description="Fit and engagement scoring.")

    @property
    def has_both_sides(self) -> bool:
        """Whether marketing's and sales' signals are both defined."""
        return bool(self.interest_signals) and bool(self.readiness_signals)
