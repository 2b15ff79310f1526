"""The two-sided service level agreement between marketing and sales.

Marketing commits to lead volume and quality; sales commits to how fast and how hard it works each handed-off
lead and to telling marketing what happened (the disposition). Targets run in business time on a
:class:`~smarketing.calendar.BusinessCalendar`, can differ by tier (lead grade or persona), and breaches climb
an escalation ladder.

The subject reads top-down: :mod:`~smarketing.sla.model` (the definitions written in the plan's ``sla``
section), :mod:`~smarketing.sla.evaluate` (the verb :func:`evaluate_sla`), :mod:`~smarketing.sla.report`
(the :class:`SLAReport` it returns), and the private kernel ``_kernel`` (columnar, it never sees the plan)
with ``_summary`` (the report's two sentences) beside them.

Examples:
    >>> from smarketing.sla import SLA
    >>> sla = SLA.model_validate(
    ...     {
    ...         "calendar": {"timezone": "America/New_York"},
    ...         "sales": {"first_response": {"within_hours": 4}},
    ...     }
    ... )
    >>> sla.sales.first_response.within_hours
    Decimal('4')
"""

from smarketing.sla.evaluate import evaluate_sla, sla_context
from smarketing.sla.model import (
    SLA,
    ActivityKind,
    AttemptsCommitment,
    CapacityCommitment,
    DispositionCommitment,
    EscalationStep,
    FirstResponseCommitment,
    MarketingCommitments,
    QualityCommitment,
    SalesCommitments,
    SLATier,
    VolumeCommitment,
)
from smarketing.sla.report import SLAReport

__all__ = [
    "ActivityKind",
    "AttemptsCommitment",
    "CapacityCommitment",
    "DispositionCommitment",
    "EscalationStep",
    "FirstResponseCommitment",
    "MarketingCommitments",
    "QualityCommitment",
    "SLA",
    "SLAReport",
    "SLATier",
    "SalesCommitments",
    "VolumeCommitment",
    "evaluate_sla",
    "sla_context",
]
