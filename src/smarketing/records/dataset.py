"""A :class:`Dataset`: the same records in columns, one polars frame per record kind, checked once."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import narwhals as nw
import polars as pl
from pydantic import AwareDatetime

from smarketing import _display
from smarketing.errors import DataError
from smarketing.money import Money
from smarketing.records._store import read_frames, read_manifest, write_frames
from smarketing.records.model import (
    RECORD_KINDS,
    Account,
    Activity,
    Deal,
    Disposition,
    Feedback,
    Lead,
    Record,
    StageEvent,
    Touchpoint,
    parse_records,
)
from smarketing.records.schema import DEFAULT_SCALE, RULES, check

__all__ = ["Dataset", "checked_dataset", "frame_schema"]

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
        elif list in {typing.get_origin(k) for k in kinds}:
            out[column] = pl.List(pl.String())
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


def _as_polars(native: Any) -> Any:
    """A frame of any library narwhals supports (pandas, pyarrow, a lazy frame) as a polars DataFrame.

    Anything else is returned as it is, for ``__attrs_post_init__`` to refuse naming its record kind.
    """
    if isinstance(native, pl.DataFrame):
        return native
    try:
        frame = nw.from_native(native)
    except TypeError:
        return native
    eager = frame.collect(backend="polars") if isinstance(frame, nw.LazyFrame) else frame
    return eager.lazy(backend="polars").collect().to_native()


#: Rows of each kind a notebook shows.
_SAMPLE_ROWS = 3


@attrs.frozen
class Dataset:
    """CRM data in columns: one polars frame per record kind.

    Times are stored in UTC; money as a ``Decimal`` column and a currency column. Build one from records
    with :meth:`from_records`, get records back with :meth:`records`, or give frames by kind:
    ``Dataset(leads=..., deals=...)`` takes a frame of any library narwhals supports (polars eager or lazy,
    pandas, pyarrow, a DuckDB relation), reads it into polars and checks it once, here: its columns (a
    required one missing or an unknown one is a :class:`~smarketing.errors.DataError` naming the kind and
    the column; optional ones left out are added as nulls), their types and values, by the rules of
    :func:`~smarketing.records.schema.check` (pandas-style values included: see
    :func:`~smarketing.frames.as_lazy`).

    Examples:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> ds = Dataset.from_records(leads=[Lead(id="L1", created_at=t)])
        >>> ds.leads.shape, ds.deals.shape[0]
        ((1, 15), 0)
        >>> ds.records("leads")[0].id
        'L1'
        >>> Dataset(leads=pl.DataFrame({"Record ID": [1]}))
        Traceback (most recent call last):
        ...
        smarketing.errors.DataError: leads: unknown column(s) 'Record ID'; the columns of leads are: id, ...
    """

    accounts: pl.DataFrame = attrs.field(factory=lambda: _frame(Account, []), converter=_as_polars)
    leads: pl.DataFrame = attrs.field(factory=lambda: _frame(Lead, []), converter=_as_polars)
    touchpoints: pl.DataFrame = attrs.field(factory=lambda: _frame(Touchpoint, []), converter=_as_polars)
    stage_events: pl.DataFrame = attrs.field(factory=lambda: _frame(StageEvent, []), converter=_as_polars)
    activities: pl.DataFrame = attrs.field(factory=lambda: _frame(Activity, []), converter=_as_polars)
    deals: pl.DataFrame = attrs.field(factory=lambda: _frame(Deal, []), converter=_as_polars)
    dispositions: pl.DataFrame = attrs.field(factory=lambda: _frame(Disposition, []), converter=_as_polars)
    feedback: pl.DataFrame = attrs.field(factory=lambda: _frame(Feedback, []), converter=_as_polars)

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
        feedback: Sequence[Feedback] = (),
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
            "feedback": feedback,
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
        # Each frame is checked once, here, against its record model (columns, dtypes, required values,
        # enumerated values, ids, years, money); analyses then trust a Dataset. A frame of any library
        # narwhals supports is read into polars first, and pandas-style values follow the one rule of
        # smarketing.records.schema.check (integer ids become text, NaN is null, times are in UTC, ...).
        for kind in RECORD_KINDS:
            native = getattr(self, kind)  # read into polars by the fields' converter, when it is a frame
            if not isinstance(native, pl.DataFrame):
                raise TypeError(
                    f"{kind}: expected a dataframe narwhals supports (polars, pandas, pyarrow, DuckDB, ...), "
                    f"not {type(native).__name__}; for records use Dataset.from_records()"
                )
            frame = _canonical(native, kind)
            if frame is not native:
                object.__setattr__(self, kind, frame)

    def frames(self) -> dict[str, pl.DataFrame]:
        """All frames by record kind."""
        return {k: getattr(self, k) for k in RECORD_KINDS}

    def _span(self, kind: str | None = None) -> tuple[datetime | None, datetime | None]:
        """The earliest and the latest time of any time column (of one kind, or of all)."""
        times: list[datetime] = []
        for name, frame in self.frames().items():
            if kind is not None and name != kind:
                continue
            for column, dtype in frame.schema.items():
                if isinstance(dtype, pl.Datetime) and frame[column].null_count() < frame.height:
                    times += [frame[column].min(), frame[column].max()]  # type: ignore[list-item]
        return (min(times), max(times)) if times else (None, None)

    def __repr__(self) -> str:
        """One line: the records of each kind that has any, and the time span (UTC).

        Examples:
            >>> from datetime import datetime, timezone
            >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
            >>> Dataset.from_records(leads=[Lead(id="L1", created_at=t)])
            Dataset(leads=1, from 2026-10-01 09:00 UTC to 2026-10-01 09:00 UTC)
        """
        counts = [f"{k}={f.height:,}" for k, f in self.frames().items() if f.height]
        first, last = self._span()
        span = [f"from {_display.local_time(first)} to {_display.local_time(last)}"] if first else []
        return f"Dataset({', '.join([*counts, *span]) or 'empty'})"

    def _repr_html_(self) -> str:
        """A card: records per kind with each kind's time span, then a few rows of each kind."""
        rows = []
        for kind, frame in self.frames().items():
            first, last = self._span(kind)
            rows.append([kind, frame.height, _display.local_time(first), _display.local_time(last)])
        body = [_display.html_table(["records", "count", "first time", "last time"], rows)]
        for kind, frame in self.frames().items():
            if not frame.height:
                continue
            columns, values = _sample(frame.head(_SAMPLE_ROWS))
            table = _display.html_table(columns, values, max_rows=_SAMPLE_ROWS)
            more = f" (first {_SAMPLE_ROWS} of {frame.height:,})" if frame.height > _SAMPLE_ROWS else ""
            body.append(_display.section(f"{kind}{more}", table))
        first, last = self._span()
        total = sum(f.height for f in self.frames().values())
        subtitle = f"{total:,} records" + (
            f", from {_display.local_time(first)} to {_display.local_time(last)}" if first else ""
        )
        return _display.card("Dataset", body, subtitle=subtitle + "; times in UTC")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Dataset:
        """Read a dataset folder written by :meth:`write` (or by ``smarketing import``).

        The manifest is checked first (its format and version), then each ``<kind>.parquet`` file as a
        file (a CSV, a truncated or a foreign file is named, and a CSV gets the command that imports it)
        and against the manifest's record count, then every frame as the constructor checks it.

        Raises:
            DataError: naming the folder or the file at fault.

        Examples:
            >>> import tempfile
            >>> from datetime import datetime, timezone
            >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     Dataset.from_records(leads=[Lead(id="L1", created_at=t)]).write(folder)
            ...     Dataset.read(folder).leads["id"].to_list()
            ['L1']
        """
        folder = Path(path)
        frames, _ = read_frames(folder)
        try:
            return cls(**frames)
        except DataError as error:
            kind = next((k for k in RECORD_KINDS if error.kind in (k, RECORD_KINDS[k].kind)), None)
            where = folder / f"{kind}.parquet" if kind is not None else folder
            raise DataError(f"{where}: {error}") from error

    @staticmethod
    def manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The checked ``manifest.json`` of a dataset folder: versions, record counts, the load report."""
        return read_manifest(Path(path))

    def write(self, path: str | os.PathLike[str], *, report: Mapping[str, Any] | Any = None) -> None:
        """Write the dataset as a folder: one ``<kind>.parquet`` per record kind and a ``manifest.json``.

        The manifest holds the smarketing version, the format version, the record counts and, when given,
        the load report (a mapping, or an object with ``to_dict()`` such as a
        :class:`~smarketing.connectors.LoadReport`). Keys are sorted and files written with fixed
        settings: the same dataset writes the same bytes. A folder that already holds a dataset is
        replaced; a folder holding anything else is refused, so nothing of someone else's is overwritten.

        Args:
            path: The folder; made when it does not exist.
            report: The load report to keep beside the data.

        Raises:
            DataError: ``path`` is a file, or a folder that is not empty and holds no dataset.
        """
        if report is not None and not isinstance(report, Mapping):
            to_dict = getattr(report, "to_dict", None)
            if not callable(to_dict):
                raise TypeError(f"report must be a mapping or have to_dict(), not {type(report).__name__}")
            report = to_dict()
        write_frames(Path(path), self.frames(), report)


def _sample(sample: pl.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """A few rows to show: columns empty in them left out, amounts as money in their currency."""
    columns = [c for c in sample.columns if sample[c].null_count() < sample.height]
    money = {c for c in columns if f"{c}_currency" in sample.columns}
    shown = [c for c in columns if not (c.endswith("_currency") and c.removesuffix("_currency") in money)]
    values = [
        [
            _display.money(Money(row[c], row[f"{c}_currency"]))
            if c in money and row[c] is not None and row[f"{c}_currency"] is not None
            else row[c]
            for c in shown
        ]
        for row in sample.iter_rows(named=True)
    ]
    return shown, values


def checked_dataset(frames: Mapping[str, pl.DataFrame]) -> Dataset:
    """A :class:`Dataset` of frames that have been checked already, by every rule the constructor applies.

    For :func:`smarketing.connectors.intake`, which checks each value row by row (to refuse the bad rows
    and keep the others) and would otherwise have every frame checked a second time. Each frame must be in
    the canonical columns and dtypes (:func:`frame_schema`); kinds not given are empty.

    Raises:
        ValueError: A frame is not in its kind's canonical columns and dtypes.
    """
    data = object.__new__(Dataset)
    for kind in RECORD_KINDS:
        frame = frames.get(kind)
        if frame is None:
            frame = _frame(RECORD_KINDS[kind], [])
        elif frame.schema != frame_schema(kind):
            raise ValueError(f"{kind}: not in the canonical columns and dtypes: {dict(frame.schema)}")
        object.__setattr__(data, kind, frame)
    return data


def _canonical(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Check ``frame`` as ``kind``: its columns (required ones present, none unknown) and their rules.

    Returns the frame with the casts of the check applied and the optional columns it lacks added as
    nulls of their type, in the model's column order (or the frame itself when nothing changes).
    """
    if frame.height == 0 and list(frame.schema.items()) == list(frame_schema(kind).items()):
        # No rows in the canonical columns and dtypes: no rule can break and no cast applies. The check of
        # an empty frame costs as much as of a small one, and a Dataset made from one kind of records has
        # seven of them.
        return frame
    rules = RULES[kind]
    unknown = [c for c in frame.columns if c not in rules]
    if unknown:
        raise DataError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the columns of {kind} are: "
            f"{', '.join(rules)} (see the records reference; rename or drop the others)",
            kind=kind,
        )
    need = [c for c, r in rules.items() if r.required]
    need += [f"{c}_currency" for c in list(need) if rules[c].type == "money"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {', '.join(missing)} (a frame of {kind} has the columns "
            f"{', '.join(rules)}; the others may be left out)",
            kind=kind,
        )
    lazy = nw.from_native(frame).lazy()
    checked = check(lazy, kind)
    out = frame if checked is lazy else checked.collect().to_native()
    absent = {c: t for c, t in _schema(RECORD_KINDS[kind]).items() if c not in out.columns}
    if absent:
        out = out.with_columns(
            (
                pl.lit([], dtype=t) if c != "splits" and isinstance(t, pl.List) else pl.lit(None, dtype=t)
            ).alias(c)
            for c, t in absent.items()
        )
    if out.columns != list(rules):
        out = out.select(list(rules))
    assert isinstance(out, pl.DataFrame)
    return out


def _trim(amount: Decimal, currency: str) -> Decimal:
    """Undo the fixed frame scale: back to the currency's minor units when that is exact."""
    exponent = Money.zero(currency).minor_units
    quantized = amount.quantize(Decimal(1).scaleb(-exponent))
    return quantized if quantized == amount else amount.normalize()
