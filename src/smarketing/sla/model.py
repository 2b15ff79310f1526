"""The SLA's definitions: what each side commits to, as written in the plan's ``sla`` section.

Pydantic models, frozen and strict: :class:`SLA` holds the calendar its clocks run on, marketing's and sales'
commitments, the tiers, the escalation ladder and the statuses that pause the clock. They validate
themselves and know nothing of the evaluation (:mod:`smarketing.sla.evaluate`).

Examples:
    >>> from smarketing.sla.model import FirstResponseCommitment
    >>> FirstResponseCommitment(within_hours=4).activities
    ['call', 'email', 'meeting']
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Hours, Id, Period, PositiveCount, PositiveWholeDays, Rate, Text
from smarketing.calendar import BusinessCalendar

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
    "SLATier",
    "SalesCommitments",
    "VolumeCommitment",
]

ActivityKind = Literal["call", "email", "meeting", "social", "sms", "other"]


def _default_response_activities() -> list[ActivityKind]:
    return ["call", "email", "meeting"]


class VolumeCommitment(FrozenModel):
    """Marketing: how many leads reach ``stage`` per period."""

    stage: Id = Field(description="Stage whose entries count as delivered leads (e.g. 'mql').")
    count: PositiveCount = Field(description="Leads promised per period.")
    period: Period = Field(default="month", description="Period the count applies to.")


class QualityCommitment(FrozenModel):
    """Marketing: how many delivered leads sales accepts."""

    accepted_stage: Id = Field(description="Stage that means sales accepted the lead (e.g. 'sal').")
    min_acceptance_rate: Rate = Field(description="Smallest share of handed-off leads that sales accepts.")
    sql_stage: Id | None = Field(default=None, description="Stage counted as an SQL.")
    min_sql_rate: Rate | None = Field(
        default=None, description="Smallest share of handed-off leads that become SQLs."
    )
    max_rejection_rate: Rate | None = Field(
        default=None,
        description="Largest share of one campaign's handed-off leads that sales may reject (rule D012).",
    )


class MarketingCommitments(FrozenModel):
    """Marketing's side of the agreement."""

    volume: VolumeCommitment | None = Field(default=None, description="Lead volume promise.")
    quality: QualityCommitment | None = Field(default=None, description="Lead quality promise.")


class FirstResponseCommitment(FrozenModel):
    """Sales: first qualifying activity within a number of business hours of the handoff."""

    within_hours: Hours = Field(description="Business hours allowed.")
    activities: list[ActivityKind] = Field(
        default_factory=_default_response_activities,
        min_length=1,
        description="Activity kinds that count as a response.",
    )


class AttemptsCommitment(FrozenModel):
    """Sales: a minimum number of contact attempts within a window of business days."""

    minimum: PositiveCount = Field(description="Attempts required.")
    within_business_days: PositiveWholeDays = Field(description="Window, from the handoff.")


class DispositionCommitment(FrozenModel):
    """Sales: record an outcome with a reason from an agreed list within a deadline."""

    within_business_days: PositiveWholeDays = Field(description="Deadline, from the handoff.")
    reasons: list[Text] = Field(min_length=1, description="Agreed disposition reasons.")
    unable_to_reach_reason: Text | None = Field(
        default=None,
        description="The reason that means 'could not reach'; it needs the minimum attempts first.",
    )

    @model_validator(mode="after")
    def _reason_listed(self) -> Self:
        if self.unable_to_reach_reason is not None and self.unable_to_reach_reason not in (self.reasons):
            raise ValueError(
                f"unable_to_reach_reason {self.unable_to_reach_reason!r} is not one of the reasons"
            )
        return self


class CapacityCommitment(FrozenModel):
    """Sales: how many handed-off leads the team commits to work per period ("N leads a week").

    The threshold recommendation of :func:`smarketing.persona.calibrate` reads it: the MQL threshold that
    yields about this many MQLs, so the scoring rule and the SLA stop contradicting each other.
    """

    count: PositiveCount = Field(description="Leads sales commits to work per period.")
    period: Period = Field(default="week", description="Period the count applies to.")


class SalesCommitments(FrozenModel):
    """Sales' side of the agreement."""

    first_response: FirstResponseCommitment | None = Field(
        default=None, description="Speed of the first response."
    )
    attempts: AttemptsCommitment | None = Field(default=None, description="Depth of follow-up.")
    disposition: DispositionCommitment | None = Field(
        default=None, description="Closed-loop feedback to marketing."
    )
    capacity: CapacityCommitment | None = Field(
        default=None, description="Leads sales commits to work per period (the MQL volume it can take)."
    )


class SLATier(FrozenModel):
    """Targets for a subset of leads, chosen by grade or persona; unset targets use the defaults."""

    id: Id = Field(description="Tier id.")
    grades: list[Id] = Field(default_factory=list, description="Lead grades in the tier.")
    personas: list[Id] = Field(default_factory=list, description="Persona ids in the tier.")
    first_response_hours: Hours | None = Field(
        default=None, description="First-response target for the tier."
    )
    min_attempts: PositiveCount | None = Field(default=None, description="Attempts for the tier.")

    @model_validator(mode="after")
    def _selects(self) -> Self:
        if not self.grades and not self.personas:
            raise ValueError("a tier selects leads by grades or personas; give at least one")
        return self


class EscalationStep(FrozenModel):
    """Who hears of a breach, and when (business hours past the due time)."""

    after_hours: Hours = Field(description="Business hours past due.")
    notify: list[Id] = Field(
        min_length=1,
        description="Person ids, or 'owner' (the lead owner) and 'manager' (the owner's manager).",
    )
    action: str = Field(default="", description="What is expected of them.")


class SLA(FrozenModel):
    """The agreement both teams sign."""

    calendar: BusinessCalendar = Field(description="When the SLA clocks run.")
    marketing: MarketingCommitments = Field(
        default_factory=MarketingCommitments, description="Marketing's commitments."
    )
    sales: SalesCommitments = Field(default_factory=SalesCommitments, description="Sales' commitments.")
    tiers: list[SLATier] = Field(default_factory=list, description="Targets by grade or persona.")
    escalation: list[EscalationStep] = Field(
        default_factory=list, description="Escalation ladder, earliest step first."
    )
    pause_statuses: list[Text] = Field(
        default_factory=list,
        description="Lead statuses that stop the clock (e.g. 'asked_to_call_later').",
    )
