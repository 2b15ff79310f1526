"""The plan's ``waterfall:`` section: the demand waterfall's steps on the journey, and the user's bands.

:class:`WaterfallPlan` maps the six steps of the demand waterfall (:data:`STEPS`: inquiry, MQL, SAL, SQL,
opportunity, won) onto the journey's stage ids and holds the benchmark bands the user agreed on. Nothing
here is hard-coded: a step without a band is never flagged. Stage references are checked by the plan
aggregate (:mod:`smarketing.plan.model`), which knows the journey.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, PositiveCount, Rate, WholeDays, located

__all__ = ["Band", "DEFAULT_KINDS", "DayBand", "STEPS", "Step", "WaterfallPlan", "default_steps"]

Step = Literal["inquiry", "mql", "sal", "sql", "opportunity", "won"]

#: The waterfall's steps, in order.
STEPS: tuple[Step, ...] = ("inquiry", "mql", "sal", "sql", "opportunity", "won")

#: The default step of each journey stage kind (stages of other kinds are on no step).
DEFAULT_KINDS: dict[str, Step] = {
    "subscriber": "inquiry",
    "lead": "inquiry",
    "mql": "mql",
    "sal": "sal",
    "sql": "sql",
    "opportunity": "opportunity",
    "customer": "won",
    "evangelist": "won",
}


def _check_band(low: Decimal | int | None, high: Decimal | int | None) -> None:
    """A band has a bound, and its low is not above its high."""
    if low is None and high is None:
        raise located([("", "a band needs low, high or both")])
    if low is not None and high is not None and low > high:
        raise located([("high", f"must not be below low ({low})")])


class Band(FrozenModel):
    """A benchmark band of a conversion rate: rates below ``low`` or above ``high`` are flagged."""

    low: Rate | None = Field(default=None, description="Lowest rate inside the band (none: no floor).")
    high: Rate | None = Field(default=None, description="Highest rate inside the band (none: no ceiling).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_band(self.low, self.high)
        return self


class DayBand(FrozenModel):
    """A benchmark band of a velocity, in business days: medians outside it are flagged."""

    low: WholeDays | None = Field(default=None, description="Fewest business days inside the band.")
    high: WholeDays | None = Field(default=None, description="Most business days inside the band.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_band(self.low, self.high)
        return self


class WaterfallPlan(FrozenModel):
    """The demand waterfall: which journey stages are each step, and the benchmark bands.

    ``stages`` maps a step to the journey stage ids that count as entering it; a step left out takes its
    default (:func:`default_steps`: the stages of the step's kinds in :data:`DEFAULT_KINDS`, leaving out
    lost and disqualified terminals; a ``won`` terminal of any kind is ``won``). ``conversion`` bands are
    keyed by the step converted *from* (``mql``: MQL to SAL); ``velocity`` bands likewise (business days
    from entering the step to entering the next one).
    """

    stages: dict[Step, list[Id]] = Field(
        default_factory=dict, description="Journey stage ids per step; missing steps take their default."
    )
    conversion: dict[Step, Band] = Field(
        default_factory=dict, description="Band of the conversion from each step to the next."
    )
    velocity: dict[Step, DayBand] = Field(
        default_factory=dict, description="Band of the median business days from each step to the next."
    )
    min_age_days: WholeDays = Field(
        default=0,
        description="Rule D015 judges a cohort only once this many days passed since its period ended.",
    )
    min_leads: PositiveCount = Field(
        default=1, description="Rule D015 judges a step of a cohort only with at least this many leads at it."
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        problems = [
            (f"{name}.won", "won is the last step; it converts to nothing")
            for name in ("conversion", "velocity")
            if "won" in getattr(self, name)
        ]
        seen: dict[str, str] = {}
        for step, ids in self.stages.items():
            for i, stage in enumerate(ids):
                if stage in seen:
                    problems.append(
                        (f"stages.{step}[{i}]", f"stage {stage!r} is already on step {seen[stage]}")
                    )
                seen[stage] = step
        if problems:
            raise located(problems)
        return self


def default_steps(stages: list[tuple[str, str, str | None]]) -> dict[Step, list[str]]:
    """The default stage ids of each step, from (id, kind, terminal) of the journey's stages in plan order.

    Examples:
        >>> default_steps(
        ...     [("lead", "lead", None), ("won", "customer", "won"), ("lost", "opportunity", "lost")]
        ... )
        {'inquiry': ['lead'], 'mql': [], 'sal': [], 'sql': [], 'opportunity': [], 'won': ['won']}
    """
    out: dict[Step, list[str]] = {s: [] for s in STEPS}
    for stage_id, kind, terminal in stages:
        if terminal in ("lost", "disqualified"):
            continue
        step = "won" if terminal == "won" else DEFAULT_KINDS.get(kind)
        if step is not None:
            out[step].append(stage_id)
    return out
