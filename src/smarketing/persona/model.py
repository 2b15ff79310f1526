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

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from smarketing._base import Count, Days, FrozenModel, Id, Number, Points, Text
from smarketing.records.model import Activity, Lead, StageEvent, Touchpoint

__all__ = [
    "Decay",
    "EngagementBand",
    "FIT_FIELDS",
    "Firmographics",
    "GradeBand",
    "IntRange",
    "MQLRule",
    "Persona",
    "RoleCriteria",
    "SIGNAL_FIELDS",
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
    group: Id | None = Field(
        default=None,
        description=(
            "Signal group whose points a cap in 'scoring.caps' limits; default 'interest' for interest "
            "signals, 'readiness' for readiness signals."
        ),
    )


def _columns(model: type[Touchpoint | Activity | StageEvent]) -> frozenset[str]:
    return frozenset((f.alias or name) for name, f in model.model_fields.items() if name != "time")


#: The record columns a signal's ``where`` may compare, by the signal's ``on`` (times cannot be compared).
SIGNAL_FIELDS: dict[str, frozenset[str]] = {
    "touchpoint": _columns(Touchpoint),
    "activity": _columns(Activity),
    "stage": _columns(StageEvent),
}

#: The lead attributes a fit rule may read; ``industry``, ``company_size``, ``region`` and ``country`` fall
#: back to the lead's account when the lead has none. ``company_size`` is the one number. (The CRM's
#: ``persona`` is not one: scoring reads the persona the lead matches.)
FIT_FIELDS: frozenset[str] = frozenset(
    name for name in Lead.model_fields if name not in {"id", "created_at", "persona"}
)


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

    def problems(self) -> Iterator[tuple[str, str]]:
        """What makes the rule unusable, as (path inside the rule, message); nothing when it is fine.

        Examples:
            >>> rule = ScoreRule(field="company_size", op="between", value=[500, 200], points=5)
            >>> list(rule.problems())
            [('value', 'between needs [low, high] with low <= high, not [500, 200]')]
        """
        if self.field not in FIT_FIELDS:
            known = ", ".join(sorted(FIT_FIELDS))
            yield "field", f"unknown lead attribute {self.field!r}; known: {known}"
            return
        values = self.value if isinstance(self.value, list) else [self.value]
        numeric = self.field == "company_size"
        if self.op in {"in", "not_in"} and not isinstance(self.value, list):
            yield "value", f"{self.op} needs a list of values"
        elif self.op not in {"in", "not_in", "between"} and isinstance(self.value, list):
            yield "value", f"{self.op} needs one value, not a list"
        elif self.op == "between" and (
            len(values) != 2 or not all(isinstance(v, Decimal) for v in values) or values[0] > values[1]  # type: ignore[operator]
        ):
            shown = "[" + ", ".join(str(v) for v in values) + "]"
            yield "value", f"between needs [low, high] with low <= high, not {shown}"
        elif numeric and self.op == "contains":
            yield "op", "contains compares text; company_size is a number"
        elif numeric and not all(isinstance(v, Decimal) for v in values):
            yield "value", "company_size is a number; compare it with numbers"
        elif not numeric and self.op in {"gte", "lte", "between"}:
            yield "op", f"{self.op} compares numbers; {self.field} is text"


class GradeBand(FrozenModel):
    """A lead grade reached at a minimum fit score (grades drive SLA tiers)."""

    grade: Id = Field(description="Grade name, e.g. 'A'.")
    min_fit: Points = Field(description="Smallest fit score that earns the grade.")


class EngagementBand(FrozenModel):
    """An engagement band reached at a minimum engagement score: the digit of a matrix grade such as 'A1'."""

    band: Id = Field(description="Band name, e.g. '1'.")
    min_engagement: Points = Field(description="Smallest engagement score that earns the band.")


class Decay(FrozenModel):
    """How engagement points fade with age.

    ``half_life``: a point ``Δt`` days old weighs ``2^(-Δt / half_life_days)``. ``step`` (HubSpot's
    stepwise decay): it weighs ``(1 - percent/100)^floor(Δt / every_days)``; exactly at a period boundary
    the step has happened.

    Examples:
        >>> Decay(kind="step", percent=25, every_days=30).kind
        'step'
        >>> Decay(kind="half_life")
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for Decay
        ...
    """

    kind: Literal["half_life", "step"] = Field(description="Continuous half-life or stepwise decay.")
    half_life_days: Days | None = Field(
        default=None, description="half_life: days after which points weigh half (0: only the instant)."
    )
    percent: Number | None = Field(
        default=None, gt=0, le=100, description="step: percentage lost at each period."
    )
    every_days: Days | None = Field(default=None, gt=0, description="step: length of a period in days.")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        if self.kind == "half_life":
            if self.half_life_days is None or self.percent is not None or self.every_days is not None:
                raise ValueError("a half_life decay takes half_life_days (and not percent or every_days)")
        elif self.half_life_days is not None or self.percent is None or self.every_days is None:
            raise ValueError("a step decay takes percent and every_days (and not half_life_days)")
        return self


class MQLRule(FrozenModel):
    """When a lead becomes a Marketing Qualified Lead: fit and engagement jointly.

    MQL when fit >= ``min_fit`` **and** engagement >= ``min_engagement`` (and fit + engagement >=
    ``min_total`` when given), or, only when the plan says so, engagement >= ``engagement_alone``.
    """

    min_fit: Points = Field(description="Smallest fit score of an MQL.")
    min_engagement: Points = Field(description="Smallest engagement score of an MQL.")
    min_total: Points | None = Field(
        default=None, description="Smallest fit + engagement of an MQL, beside both minimums."
    )
    engagement_alone: Points | None = Field(
        default=None, description="Engagement that makes an MQL whatever the fit (none: never)."
    )

    def describe(self) -> str:
        """The rule in words.

        Examples:
            >>> MQLRule(min_fit=40, min_engagement=20).describe()
            'fit >= 40 and engagement >= 20'
        """
        text = f"fit >= {self.min_fit} and engagement >= {self.min_engagement}"
        if self.min_total is not None:
            text += f" and fit + engagement >= {self.min_total}"
        if self.engagement_alone is not None:
            text += f", or engagement >= {self.engagement_alone} alone"
        return text


class Scoring(FrozenModel):
    """How fit and engagement become numbers and grades."""

    fit: list[ScoreRule] = Field(default_factory=list, description="Fit score rules.")
    engagement_half_life_days: Days | None = Field(
        default=None,
        description="Shorthand for decay {kind: half_life, half_life_days: ...} (none: no decay).",
    )
    decay: Decay | None = Field(default=None, description="How engagement points fade (none: no decay).")
    caps: dict[Id, Points] = Field(
        default_factory=dict,
        description="Most engagement points (after decay) each signal group can contribute.",
    )
    grades: list[GradeBand] = Field(default_factory=list, description="Grade bands, highest first.")
    engagement_bands: list[EngagementBand] = Field(
        default_factory=list,
        description="Engagement bands; with them the grade is the fit grade and the band, e.g. 'A1'.",
    )
    mql: MQLRule | None = Field(default=None, description="The joint MQL rule both teams accept.")
    mql_threshold: Points | None = Field(
        default=None,
        description=(
            "Legacy: fit + engagement at which a lead becomes an MQL; engagement alone can reach it, "
            "prefer 'mql'."
        ),
    )

    @model_validator(mode="after")
    def _one_way_each(self) -> Self:
        if self.decay is not None and self.engagement_half_life_days is not None:
            raise ValueError("give either decay or engagement_half_life_days (its shorthand), not both")
        if self.mql is not None and self.mql_threshold is not None:
            raise ValueError("give either mql or mql_threshold (the legacy total rule), not both")
        for group, cap in self.caps.items():
            if cap < 0:
                raise ValueError(f"caps.{group}: a cap is at least 0, not {cap}")
        return self

    @property
    def effective_decay(self) -> Decay | None:
        """The decay in force: ``decay``, or the half-life shorthand, or none.

        Examples:
            >>> Scoring(engagement_half_life_days=30).effective_decay.half_life_days
            Decimal('30')
        """
        if self.decay is not None:
            return self.decay
        if self.engagement_half_life_days is not None:
            return Decay(kind="half_life", half_life_days=self.engagement_half_life_days)
        return None

    @property
    def mql_rule(self) -> str:
        """The MQL rule in force, in words (the legacy threshold says that engagement alone can reach it).

        Examples:
            >>> Scoring(mql_threshold=60).mql_rule
            'fit + engagement >= 60 (legacy mql_threshold: engagement alone can reach it)'
        """
        if self.mql is not None:
            return self.mql.describe()
        if self.mql_threshold is not None:
            return (
                f"fit + engagement >= {self.mql_threshold} "
                "(legacy mql_threshold: engagement alone can reach it)"
            )
        return "none (no lead is an MQL)"


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

    def signals(self) -> Iterator[tuple[str, Signal, str]]:
        """Every signal with its plan path and its group (the default group of its list when unset).

        Examples:
            >>> p = Persona.model_validate(
            ...     {"id": "p", "name": "P", "readiness_signals": [{"id": "demo", "on": "touchpoint"}]}
            ... )
            >>> [(path, s.id, group) for path, s, group in p.signals()]
            [('readiness_signals[0]', 'demo', 'readiness')]
        """
        for side, default in (("interest_signals", "interest"), ("readiness_signals", "readiness")):
            for i, signal in enumerate(getattr(self, side)):
                yield f"{side}[{i}]", signal, signal.group or default

    def problems(self) -> Iterator[tuple[str, str]]:
        """What the scoring cannot compute, as (path inside the persona, message).

        A ``where`` key that is no column of its record kind, a fit rule on an unknown attribute or with a
        value its op cannot compare, and a cap on a group no signal has.

        Examples:
            >>> p = Persona.model_validate(
            ...     {
            ...         "id": "p",
            ...         "name": "P",
            ...         "interest_signals": [{"id": "w", "on": "touchpoint", "where": {"chanel": "x"}}],
            ...     }
            ... )
            >>> list(p.problems())
            [('interest_signals[0].where.chanel', "'chanel' is not a touchpoint column; known: ...")]
        """
        groups = set()
        for path, signal, group in self.signals():
            groups.add(group)
            known = SIGNAL_FIELDS[signal.on]
            for key in signal.where:
                if key not in known:
                    yield (
                        f"{path}.where.{key}",
                        f"{key!r} is not a {signal.on} column; known: {', '.join(sorted(known))}",
                    )
        for i, rule in enumerate(self.scoring.fit):
            for where, message in rule.problems():
                yield f"scoring.fit[{i}].{where}", message
        for group in self.scoring.caps:
            if group not in groups:
                have = ", ".join(sorted(groups)) or "none"
                yield f"scoring.caps.{group}", f"no signal is in group {group!r}; groups: {have}"
