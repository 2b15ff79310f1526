"""The record models: one frozen pydantic model per kind of CRM fact, and :func:`parse_records`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, ValidationError, model_validator

from smarketing._base import FrozenModel, Id, Rate, Text, join_path, located
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_YEAR, MIN_YEAR, check_digits
from smarketing.errors import DataError
from smarketing.money import Money

__all__ = [
    "Account",
    "Activity",
    "Deal",
    "DealSplit",
    "Disposition",
    "Feedback",
    "Lead",
    "RECORD_KINDS",
    "Record",
    "SCORE_RANGES",
    "StageEvent",
    "Touchpoint",
    "parse_records",
    "score_problem",
]


def _not_a_number(value: Any) -> Any:
    # pydantic would read 1767225600 as seconds since 1970 in UTC: a guess, not what a CRM export meant.
    if isinstance(value, int | float | Decimal):
        raise ValueError(
            f"expected a date or time (ISO 8601 text or a datetime), not the number {value!r}; "
            "numbers are ambiguous (seconds or milliseconds since when, in which zone?)"
        )
    return value


def _in_years(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR} to {MAX_YEAR}")
    return value


#: A timezone-aware time in the years smarketing handles; numbers (epochs) are refused.
Time = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_in_years)]
#: A calendar day in the years smarketing handles; numbers are refused.
Day = Annotated[date, BeforeValidator(_not_a_number), AfterValidator(_in_years)]


class Record(FrozenModel):
    """Base of every CRM record; ``kind`` names the record type in messages and frames."""

    kind: ClassVar[str] = "record"

    @property
    def record_id(self) -> str:
        """The id used in error messages (the record's own id, or its lead's)."""
        return str(getattr(self, "id", None) or getattr(self, "lead_id", "?"))


class Account(Record):
    """A company."""

    kind: ClassVar[str] = "account"

    id: Id = Field(description="Account id.")
    name: str = Field(default="", description="Company name.")
    industry: str | None = Field(default=None, description="Industry.")
    company_size: int | None = Field(default=None, ge=0, description="Employees.")
    region: str | None = Field(default=None, description="Sales region.")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 country.")


class Lead(Record):
    """A person at an account whom marketing and sales work."""

    kind: ClassVar[str] = "lead"

    id: Id = Field(description="Lead id (also the journey id of its touchpoints).")
    account_id: Id | None = Field(default=None, description="Account the lead belongs to.")
    created_at: Time = Field(description="When the lead was created.")
    source: str | None = Field(default=None, description="Original lead source (a channel).")
    campaign: str | None = Field(default=None, description="Campaign that created the lead.")
    persona: Id | None = Field(default=None, description="Persona id the lead matches.")
    grade: str | None = Field(default=None, description="Lead grade (e.g. 'A').")
    owner: Id | None = Field(default=None, description="Person who owns the lead now.")
    title: str | None = Field(default=None, description="Job title.")
    seniority: str | None = Field(default=None, description="Seniority level.")
    industry: str | None = Field(default=None, description="Industry (from the account).")
    company_size: int | None = Field(default=None, ge=0, description="Employees.")
    region: str | None = Field(default=None, description="Sales region.")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 country.")
    status: str | None = Field(default=None, description="Current status, e.g. a paused status of the SLA.")


class Touchpoint(Record):
    """One interaction on a lead's journey, by marketing or sales."""

    kind: ClassVar[str] = "touchpoint"

    id: Id = Field(description="Touchpoint id.")
    lead_id: Id = Field(description="Lead (journey) the touch belongs to.")
    time: Time = Field(description="When it happened.")
    channel: Text = Field(description="Channel, e.g. 'paid_search', 'webinar', 'sdr_call'.")
    team: Id = Field(description="Team that made the touch.")
    owner: Id | None = Field(default=None, description="Person who made the touch, if any.")
    campaign: str | None = Field(default=None, description="Campaign the touch belongs to.")


class StageEvent(Record):
    """A lead moved from one lifecycle stage to another."""

    kind: ClassVar[str] = "stage_event"

    lead_id: Id = Field(description="Lead that moved.")
    source: Id | None = Field(
        default=None, alias="from", description="Stage left; none when the lead is created."
    )
    to: Id = Field(description="Stage entered.")
    time: Time = Field(description="When the move happened.")
    actor: Id | None = Field(default=None, description="Person who moved the lead, if any.")


class Activity(Record):
    """A sales (or marketing) activity on a lead: call, e-mail, meeting."""

    kind: ClassVar[str] = "activity"

    id: Id = Field(description="Activity id.")
    lead_id: Id = Field(description="Lead worked.")
    person: Id = Field(description="Person who did it.")
    time: Time = Field(description="When.")
    type: Literal["call", "email", "meeting", "social", "sms", "other"] = Field(
        description="Kind of activity."
    )
    outcome: str | None = Field(
        default=None, description="Outcome, e.g. 'connected', 'no_answer', 'replied'."
    )


class DealSplit(FrozenModel):
    """A share of a deal's credit, as in CRM opportunity splits."""

    person: Id = Field(description="Person credited.")
    share: Rate = Field(description="Share of the deal (0 to 1).")
    kind: Literal["revenue", "overlay"] = Field(
        default="revenue", description="Revenue splits total 100%; overlays are on top."
    )


class Deal(Record):
    """An opportunity and, once closed, its outcome."""

    kind: ClassVar[str] = "deal"

    id: Id = Field(description="Deal id.")
    account_id: Id | None = Field(default=None, description="Account buying.")
    lead_id: Id | None = Field(default=None, description="Lead the deal came from.")
    amount: Money = Field(description="Deal amount (gross, before discounts).")
    discount: Money | None = Field(default=None, description="Discount given.")
    stage: Literal["open", "won", "lost"] = Field(description="Deal status.")
    created_at: Time = Field(description="When the deal was created.")
    close_date: Day | None = Field(default=None, description="When it was won or lost.")
    owner: Id | None = Field(default=None, description="Deal owner (sales).")
    product: str | None = Field(default=None, description="Product sold.")
    segment: str | None = Field(default=None, description="Customer segment.")
    refunded_on: Day | None = Field(default=None, description="Refund or churn date, if any.")
    splits: list[DealSplit] = Field(default_factory=list, description="Credit splits.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.amount.amount < 0:
            problems.append(("amount", "must not be negative; record refunds with refunded_on"))
        for name in ("amount", "discount"):
            money = getattr(self, name)
            if money is not None and (why := _amount_problem(money)):
                problems.append((name, why))
        if self.discount is not None and self.discount.currency != self.amount.currency:
            problems.append(("discount", f"must be in the deal's currency {self.amount.currency}"))
        if self.stage != "open" and self.close_date is None:
            problems.append(("close_date", f"a {self.stage} deal needs a close_date"))
        if self.refunded_on is not None and self.stage != "won":
            problems.append(("refunded_on", "only a won deal can be refunded"))
        revenue = sum((s.share for s in self.splits if s.kind == "revenue"), Decimal(0))
        if any(s.kind == "revenue" for s in self.splits) and revenue != 1:
            problems.append(("splits", f"revenue splits total {revenue * 100:f}%, not 100%"))
        if problems:
            raise located(problems)
        return self


def _amount_problem(money: Money) -> str | None:
    """Why a record's amount is out of bounds: too many digits, or digits below its minor unit."""
    try:
        places = money.minor_units
    except ValueError as exc:
        return str(exc)
    why = check_digits(money.amount, integer_digits=MAX_AMOUNT_DIGITS, decimal_places=places)
    if why is not None and "decimal places" in why:
        return f"{money.amount} has digits below the {money.currency} minor unit ({places} places)"
    return None if why is None else f"{money.amount} {why}"


class Disposition(Record):
    """Sales' feedback on a handed-off lead: the outcome and why."""

    kind: ClassVar[str] = "disposition"

    lead_id: Id = Field(description="Lead dispositioned.")
    reason: Text = Field(description="Reason, from the SLA's agreed list.")
    time: Time = Field(description="When it was recorded.")
    person: Id | None = Field(default=None, description="Who recorded it.")
    note: str = Field(default="", description="Free text for marketing.")


#: The scale of each feedback score type: the lowest and highest score, both included.
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class Feedback(Record):
    """What a customer said: a survey answer, a review, a call note, with a score and tags.

    It is about a lead or an account (at least one). A score has a type and must lie on that type's scale
    (:data:`SCORE_RANGES`: NPS 0 to 10, CSAT 1 to 5, CES 1 to 7); ``score_type="none"`` has no score.
    ``seen_by`` lists the teams that have read it (empty: nobody has).

    Examples:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> Feedback(id="F1", lead_id="L1", time=t, source="survey", score_type="nps", score=9).score
        9
        >>> Feedback(id="F2", account_id="A1", time=t, source="review", score_type="csat", score=6)
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for Feedback
          score: csat scores run 1 to 5, not 6 ...
    """

    kind: ClassVar[str] = "feedback"

    id: Id = Field(description="Feedback id.")
    lead_id: Id | None = Field(default=None, description="Lead who gave it (this or account_id, or both).")
    account_id: Id | None = Field(default=None, description="Account it is about (this or lead_id, or both).")
    time: Time = Field(description="When it was given.")
    source: Literal["survey", "review", "call_note", "support", "interview", "other"] = Field(
        description="Where it came from."
    )
    score_type: Literal["nps", "csat", "ces", "none"] = Field(
        default="none", description="The score's scale: NPS 0-10, CSAT 1-5, CES 1-7, or none."
    )
    score: int | None = Field(default=None, description="The score on its type's scale; none without one.")
    tags: list[Text] = Field(default_factory=list, description="Topics, e.g. 'pricing', 'onboarding'.")
    text: str = Field(default="", description="What the customer said.")
    seen_by: list[Id] = Field(default_factory=list, description="Teams (plan ids) that have read it.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.lead_id is None and self.account_id is None:
            problems.append(("lead_id", "feedback needs a lead_id or an account_id"))
        why = score_problem(self.score_type, self.score)
        if why is not None:
            problems.append(("score", why))
        if problems:
            raise located(problems)
        return self


def score_problem(score_type: str, score: int | None) -> str | None:
    """Why ``score`` does not fit ``score_type`` (see :data:`SCORE_RANGES`), or ``None`` when it does.

    Examples:
        >>> score_problem("nps", 11), score_problem("none", None), score_problem("ces", None)
        ('nps scores run 0 to 10, not 11', None, 'a ces score needs a score')
    """
    if score_type == "none":
        return None if score is None else "score_type 'none' has no score"
    if score is None:
        return f"a {score_type} score needs a score"
    low, high = SCORE_RANGES[score_type]
    return None if low <= score <= high else f"{score_type} scores run {low} to {high}, not {score}"


RECORD_KINDS: dict[str, type[Record]] = {
    "accounts": Account,
    "leads": Lead,
    "touchpoints": Touchpoint,
    "stage_events": StageEvent,
    "activities": Activity,
    "deals": Deal,
    "dispositions": Disposition,
    "feedback": Feedback,
}

R = TypeVar("R", bound=Record)


def _number_for_text(error: Mapping[str, Any]) -> str | None:
    """What to do with a number where text belongs (pandas' integer ids, NaN for a missing value), or None."""
    value = error.get("input")
    if error["type"] != "string_type" or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value:  # NaN  # noqa: PLR0124
        return (
            "NaN where text belongs (pandas' missing value): leave the field out or give None; or pass the "
            "frame itself to Dataset(...), which reads NaN as null"
        )
    return (
        f"the number {value!r} where text belongs: give ids and texts as strings; or pass the frame "
        "itself to Dataset(...), which turns integer ids into text"
    )


def parse_records(model: type[R], rows: Iterable[Mapping[str, Any]]) -> list[R]:
    """Validate raw rows into records, naming the record and field of the first bad one.

    Examples:
        >>> parse_records(Lead, [{"id": "L9", "created_at": "2026-10-01T09:00:00"}])
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: lead L9: created_at: Input should have timezone info
        >>> parse_records(Lead, [{"id": 101, "created_at": "2026-10-01T09:00:00Z"}])
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: lead 101: id: the number 101 where text belongs: give ids and ...
    """
    if isinstance(rows, Mapping | str | bytes) or not isinstance(rows, Iterable):
        raise DataError(
            f"expected an iterable of rows (mappings), not {type(rows).__name__}", kind=model.kind
        )
    out: list[R] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(
                f"expected a mapping of field names to values, not {type(row).__name__}",
                record=f"#{index}",
                kind=model.kind,
            )
        try:
            out.append(model.model_validate(row))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            ident = row.get("id") or row.get("lead_id")
            record = str(ident) if isinstance(ident, str | int) and ident != "" else f"#{index}"
            field = ".".join(str(p) for p in first["loc"])
            message = _number_for_text(first) or str(first["msg"]).removeprefix("Value error, ")
            if first["type"] == "located":
                relative, message = first["ctx"]["problems"][0]
                field = join_path(field, relative)
            raise DataError(message, record=str(record), field=field or None, kind=model.kind) from None
    return out
