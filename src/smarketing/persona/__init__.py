"""Personas and the ideal customer profile, as both teams see them.

``model`` holds the definitions people write in the plan (:class:`Persona` and its parts). Beside it, the
verbs that read data against them: :func:`match` matches leads and accounts to the personas, :func:`score`
scores leads on fit and engagement, :func:`agreement` measures how far marketing's MQL call and sales'
acceptance agree, :func:`calibrate` how well scores predict won deals (and the MQL threshold sales' capacity
calls for), and :func:`segment` gives counts, conversion and won value per persona, grade or any attribute.

Examples:
    >>> from smarketing.persona import Persona
    >>> Persona.model_validate({"id": "ops-leader", "name": "Operations leader"}).has_both_sides
    False
"""

from smarketing.persona.agreement import agreement
from smarketing.persona.calibrate import calibrate
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
from smarketing.persona.results import Agreement, Calibration, Segments
from smarketing.persona.score import LeadExplanation, LeadScores, score
from smarketing.persona.segment import segment

__all__ = [
    "Agreement",
    "Calibration",
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
    "Segments",
    "Seniority",
    "Signal",
    "agreement",
    "calibrate",
    "match",
    "score",
    "segment",
]
