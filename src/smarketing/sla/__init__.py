"""The two-sided service level agreement between marketing and sales."""

from smarketing.sla.evaluate import (
    SLA,
    ActivityKind,
    AttemptsCommitment,
    DispositionCommitment,
    EscalationStep,
    FirstResponseCommitment,
    MarketingCommitments,
    QualityCommitment,
    SalesCommitments,
    SLAReport,
    SLATier,
    VolumeCommitment,
    evaluate_sla,
)

__all__ = [
    "ActivityKind",
    "AttemptsCommitment",
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
]
