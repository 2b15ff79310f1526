"""A :class:`Dataset`: the same records in columns, one polars frame per record kind, checked once."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
import narwhals as nw
import polars as pl
from pydantic import AwareDatetime

from smarketing.errors import DataError
from smarketing.money import Money
from smarketing.records.model import (
    RECORD_KINDS,
    Account,
    Activity,
    Deal,
    Disposition,
    Lead,
    Record,
    StageEvent,
    Touchpoint,
    parse_records,
)
from smarketing.records.schema import DEFAULT_SCALE, check

__all__ = ["Dataset", "frame_schema"]

# --------------------------------------------------------------------------------------------------
# Columnar form.

_MONEY_FIELDS = {"amount", "discount"}


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


def frame_schema(kind: str, *, scale: int = DEFAULT_SCALE) -> dict[str, pl.DataType]:
    """The columns and dtypes of a :class:`Dataset` frame of ``kind``, money at ``scale`` decimal places.

    Examples:
        >>> schema = frame_schema("dispositions")
        >>> list(schema), schema["time"]
        (['lead_id', 'reason', 'time', 'person', 'note'], Datetime(time_unit='us', time_zone='UTC'))
    """
    return _schema(RECORD_KINDS[kind], scale=scale)


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
