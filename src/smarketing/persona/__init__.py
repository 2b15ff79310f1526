"""Personas and the ideal customer profile, as both teams see them.

``model`` holds the definitions people write in the plan (:class:`Persona` and its parts). Beside it, the
verbs that read data against them: :func:`agreement` (how far marketing's MQL call and sales' acceptance
agree) and :func:`calibrate` (how well scores predict won deals, and the MQL threshold sales' capacity
calls for) and :func:`segment` (counts, conversion and won value per persona, grade or any attribute).

Examples:
    >>> from smarketing.persona import Persona
    >>> Persona.model_validate({"id": "ops-leader", "name": "Operations leader"}).has_both_sides
    False
"""

from smarketing.persona.agreement import agreement
from smarketing.persona.calibrate import calibrate
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
from smarketing.persona.results import Agreement, Calibration, Segments
from smarketing.persona.segment import segment

__all__ = [
    "Agreement",
    "Calibration",
    "Firmographics",
    "GradeBand",
    "IntRange",
    "Persona",
    "RoleCriteria",
    "ScoreRule",
    "Scoring",
    "Segments",
    "Seniority",
    "Signal",
    "agreement",
    "calibrate",
    "segment",
]
