"""Personas and the ideal customer profile, as both teams see them.

``model`` holds the definitions people write in the plan (:class:`Persona` and its parts); :func:`match`
matches leads and accounts to them, and :func:`score` scores leads on fit and engagement.

Examples:
    >>> from smarketing.persona import Persona
    >>> Persona.model_validate({"id": "ops-leader", "name": "Operations leader"}).has_both_sides
    False
"""

from smarketing.persona.match import PersonaMatch, match
from smarketing.persona.model import (
    Decay,
    EngagementBand,
    Firmographics,
    GradeBand,
    IntRange,
    MQLRule,
    Persona,
    RoleCriteria,
    ScoreRule,
    Scoring,
    Seniority,
    Signal,
)
from smarketing.persona.score import LeadExplanation, LeadScores, score

__all__ = [
    "Decay",
    "EngagementBand",
    "Firmographics",
    "GradeBand",
    "IntRange",
    "LeadExplanation",
    "LeadScores",
    "MQLRule",
    "Persona",
    "PersonaMatch",
    "RoleCriteria",
    "ScoreRule",
    "Scoring",
    "Seniority",
    "Signal",
    "match",
    "score",
]
