"""Canonical CRM records: what happened, as both teams' systems saw it.

Connectors turn a CRM's objects into these records. Each record is a frozen pydantic model validated at
the boundary: times must be timezone-aware, money is :class:`~smarketing.money.Money`, ids are text. For
volume the same data lives in columns: a :class:`Dataset` holds one polars frame per record kind, in long
form, and converts both ways without losing a field.

Examples:
    >>> from datetime import datetime, timezone
    >>> from smarketing.records import StageEvent
    >>> e = StageEvent(lead_id="L1", to="mql", time=datetime(2026, 10, 1, 9, tzinfo=timezone.utc))
    >>> e.source is None, e.to
    (True, 'mql')
    >>> StageEvent(lead_id="L1", to="mql", time=datetime(2026, 10, 1, 9))
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for StageEvent
    time
      Input should have timezone info ...
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import attrs
import narwhals as nw
import polars as pl
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, ValidationError, model_validator

from smarketing._base import FrozenModel, Id, Rate, Text, join_path, located
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_YEAR, MIN_YEAR, check_digits
from smarketing.errors import DataError
from smarketing.money import Money

__all__ = [
    "Account",
    "Activity",
    "Dataset",
    "Deal",
    "DealSplit",
    "Disposition",
    "Lead",
    "RECORD_KINDS",
    "Record",
    "StageEvent",
    "Touchpoint",
    "parse_records",
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


RECORD_KINDS: dict[str, type[Record]] = {
    "accounts": Account,
    "leads": Lead,
    "touchpoints": Touchpoint,
    "stage_events": StageEvent,
    "activities": Activity,
    "deals": Deal,
    "dispositions": Disposition,
}

R = TypeVar("R", bound=Record)


def parse_records(model: type[R], rows: Iterable[Mapping[str, Any]]) -> list[R]:
    """Validate raw rows into records, naming the record and field of the first bad one.

    Examples:
        >>> parse_records(Lead, [{"id": "L9", "created_at": "2026-10-01T09:00:00"}])
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: lead L9: created_at: Input should have timezone info
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
            message = str(first["msg"]).removeprefix("Value error, ")
            if first["type"] == "located":
                relative, message = first["ctx"]["problems"][0]
                field = join_path(field, relative)
            raise DataError(message, record=str(record), field=field or None, kind=model.kind) from None
    return out


# --------------------------------------------------------------------------------------------------
# Columnar form.

_MONEY_FIELDS = {"amount", "discount"}


#: Decimal columns hold this many places unless the data needs more (then as many as it needs).
DEFAULT_SCALE = 6
_MAX_SCALE = 18


def _places(value: Decimal | None) -> int:
    if value is None:
        return 0
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _frame(model: type[Record], records: Sequence[Record]) -> pl.DataFrame:
    """Records to a frame; Money fields become ``<name>`` (Decimal) and ``<name>_currency``."""
    rows: list[dict[str, Any]] = []
    scale = DEFAULT_SCALE
    for r in records:
        row = r.model_dump(by_alias=True)
        decimals = [split["share"] for split in row.get("splits") or ()]
        for name in _MONEY_FIELDS & row.keys():
            money = getattr(r, name)
            row[name] = None if money is None else money.amount
            row[f"{name}_currency"] = None if money is None else money.currency
            decimals.append(row[name])
        places = max(map(_places, decimals), default=0)
        if places > _MAX_SCALE:
            # A wider column would leave too few integer digits; say so rather than round.
            raise DataError(
                f"{places} decimal places cannot be stored exactly (at most {_MAX_SCALE})",
                record=r.record_id,
                kind=model.kind,
            )
        scale = max(scale, places)
        rows.append(row)
    schema = _schema(model, scale=scale)
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row", strict=True)


def _schema(model: type[Record], *, scale: int = DEFAULT_SCALE) -> dict[str, pl.DataType]:
    out: dict[str, pl.DataType] = {}
    for name, field in model.model_fields.items():
        column = field.alias or name
        kinds = _annotation_types(field.annotation)
        if name in _MONEY_FIELDS:
            out[column] = pl.Decimal(38, scale)
            out[f"{column}_currency"] = pl.String()
        elif datetime in kinds:
            out[column] = pl.Datetime("us", "UTC")
        elif date in kinds:
            out[column] = pl.Date()
        elif int in kinds:
            out[column] = pl.Int64()
        elif name == "splits":
            out[column] = pl.List(
                pl.Struct({"person": pl.String(), "share": pl.Decimal(38, scale), "kind": pl.String()})
            )
        else:
            out[column] = pl.String()
    return out


def _annotation_types(annotation: Any) -> set[Any]:
    """The plain types inside an annotation: ``AwareDatetime | None`` -> {datetime, NoneType}."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _annotation_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_annotation_types(a) for a in typing.get_args(annotation)))
    if annotation is AwareDatetime:
        return {datetime}
    return {annotation}


@attrs.frozen
class Dataset:
    """CRM data in columns: one polars frame per record kind.

    Times are stored in UTC; money as a ``Decimal`` column and a currency column. Build one from records
    with :meth:`from_records`, get records back with :meth:`records`.

    Examples:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> ds = Dataset.from_records(leads=[Lead(id="L1", created_at=t)])
        >>> ds.leads.shape, ds.deals.shape[0]
        ((1, 15), 0)
        >>> ds.records("leads")[0].id
        'L1'
    """

    accounts: pl.DataFrame = attrs.field(factory=lambda: _frame(Account, []))
    leads: pl.DataFrame = attrs.field(factory=lambda: _frame(Lead, []))
    touchpoints: pl.DataFrame = attrs.field(factory=lambda: _frame(Touchpoint, []))
    stage_events: pl.DataFrame = attrs.field(factory=lambda: _frame(StageEvent, []))
    activities: pl.DataFrame = attrs.field(factory=lambda: _frame(Activity, []))
    deals: pl.DataFrame = attrs.field(factory=lambda: _frame(Deal, []))
    dispositions: pl.DataFrame = attrs.field(factory=lambda: _frame(Disposition, []))

    @classmethod
    def from_records(
        cls,
        *,
        accounts: Sequence[Account] = (),
        leads: Sequence[Lead] = (),
        touchpoints: Sequence[Touchpoint] = (),
        stage_events: Sequence[StageEvent] = (),
        activities: Sequence[Activity] = (),
        deals: Sequence[Deal] = (),
        dispositions: Sequence[Disposition] = (),
    ) -> Dataset:
        """Build the columnar form from records."""
        given = {
            "accounts": accounts,
            "leads": leads,
            "touchpoints": touchpoints,
            "stage_events": stage_events,
            "activities": activities,
            "deals": deals,
            "dispositions": dispositions,
        }
        return cls(**{k: _frame(RECORD_KINDS[k], v) for k, v in given.items()})

    def records(self, kind: str) -> list[Any]:
        """The records of one kind (``"leads"``, ``"deals"``, ...), validated again from the frame."""
        if kind not in RECORD_KINDS:
            raise ValueError(f"unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
        model = RECORD_KINDS[kind]
        frame: pl.DataFrame = getattr(self, kind)
        rows = frame.to_dicts()
        for index, row in enumerate(rows):
            for name in _MONEY_FIELDS & row.keys():
                currency = row.pop(f"{name}_currency", None)
                if row[name] is None:
                    continue
                try:
                    row[name] = Money(_trim(row[name], currency), currency)
                except (TypeError, ValueError) as exc:  # the frame check makes this a safety net
                    ident = row.get("id") or row.get("lead_id") or f"#{index}"
                    raise DataError(
                        str(exc), record=str(ident), field=f"{name}_currency", kind=model.kind
                    ) from None
            for key in [k for k, v in row.items() if v is None]:
                del row[key]
        return parse_records(model, rows)

    def __attrs_post_init__(self) -> None:
        # Each frame is checked once, here, against its record model (dtypes, required values, enumerated
        # values, ids, years, money); analyses then trust a Dataset. Integer id columns become text.
        from smarketing.frames._schema import check  # noqa: PLC0415 (frames builds on records: import late)

        for kind in RECORD_KINDS:
            native = getattr(self, kind)
            try:
                lazy = nw.from_native(native).lazy()
            except TypeError:
                raise TypeError(f"{kind}: expected a polars DataFrame, not {type(native).__name__}") from None
            checked = check(lazy, kind)
            if checked is not lazy:
                object.__setattr__(self, kind, checked.collect().to_native())

    def frames(self) -> dict[str, pl.DataFrame]:
        """All frames by record kind."""
        return {k: getattr(self, k) for k in RECORD_KINDS}


def _trim(amount: Decimal, currency: str) -> Decimal:
    """Undo the fixed frame scale: back to the currency's minor units when that is exact."""
    exponent = Money.zero(currency).minor_units
    quantized = amount.quantize(Decimal(1).scaleb(-exponent))
    return quantized if quantized == amount else amount.normalize()
