"""Personas and the ideal customer profile, as both teams see them.

``model`` holds the definitions people write in the plan (:class:`Persona` and its parts); scoring leads
against them comes in a later release, beside it.

Examples:
    >>> from smarketing.persona import Persona
    >>> Persona.model_validate({"id": "ops-leader", "name": "Operations leader"}).has_both_sides
    False
"""

from smarketing.persona.model import (
    Firmographics,
    GradeBand,
    IntRange,
    Persona,
    RoleCriteria,
    ScoreRule,
    Scoring,
    Seniority,
    Signal,
)

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
