"""The one schema check of every input frame, derived from the record models.

:data:`RULES` holds, for each record kind, one :class:`Rule` per column of its model in
:mod:`smarketing.records`: the expected type, whether a value is required, the allowed values of an
enumerated column, the length of ids, the range of times and amounts. :func:`check` applies them to a
narwhals ``LazyFrame`` at the boundary (:func:`~smarketing.frames.as_lazy` and the
:class:`~smarketing.records.Dataset` constructor), so a frame is refused exactly where one of its
records would be refused by the model:

- the dtypes are read from the schema, without touching the data;
- every value rule becomes a boolean expression, and all of them are counted in **one** ``select`` of
  small aggregates (one engine pass, no Python per row); only when a rule fails is a second query run to
  fetch an example record id for the message.

A column the frame does not have is not checked here (the callers say which columns they need); columns
that no model knows are left alone. Values that every dataframe library stores its own way follow one rule
(documented on :func:`~smarketing.frames.as_lazy` and the records concepts page), so the same data gives
the same frame whatever library it came from:

- integer id columns (``lead_id`` as ``Int64``, as CRM exports often give them) are cast to text, so ids
  join across kinds whatever their source; float ids and counts that are whole numbers (pandas' integer
  column with a missing value) are cast the same way, NaN being null, and any other float is refused;
- a date column of naive datetimes at midnight (pandas has no date type) becomes dates;
- times in any zone become the same instants in UTC;
- a text column of only nulls (pandas' object column of ``None``) in a typed column is a null column of
  that type; Decimal columns narrower than 38 digits (pandas' inferred width) are widened.

Every other wrong dtype (float money above all) is a :class:`~smarketing.errors.DataError` naming the
kind, the column and the expected type.

Examples:
    >>> import narwhals as nw
    >>> import polars as pl
    >>> deals = pl.DataFrame({"id": ["D1", "D2"], "stage": ["won", "Won"]})
    >>> check(nw.from_native(deals).lazy(), "deals")
    Traceback (most recent call last):
    ...
    smarketing.errors.DataError: deal D2: stage: 'Won' is not one of 'open', 'won', 'lost' (1 row(s) ...
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs
import narwhals as nw
import polars as pl
from iso4217 import Currency
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from smarketing._base import ID_PATTERN
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_YEAR, MIN_YEAR
from smarketing.errors import DataError
from smarketing.records.model import RECORD_KINDS, SCORE_RANGES, Record

__all__ = ["DEFAULT_SCALE", "NUMBER", "RULES", "Rule", "TIME", "check", "conform", "problems"]

Type = Literal[
    "id", "text", "enum", "time", "date", "count", "money", "currency", "splits", "number", "texts"
]

#: What each type expects, as the messages say it.
_EXPECTED: dict[str, str] = {
    "id": "a String column of ids (integer ids are cast to text)",
    "text": "a String column",
    "enum": "a String column",
    "time": "a datetime column with a time zone",
    "date": "a Date column",
    "count": "an integer column",
    "money": "a Decimal or integer column",
    "currency": "a String column of ISO 4217 codes",
    "splits": "a List(Struct(person: String, share: Decimal, kind: String)) column",
    "number": "a numeric or Boolean column",
    "texts": "a List(String) column",
}

#: Currencies an amount may be in: ISO 4217 codes with a minor unit, by their number of minor digits.
_EXPONENTS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}
#: Decimal columns hold this many places unless the data needs more (then as many as it needs).
DEFAULT_SCALE = 6

_NO_MINOR_UNIT = sorted(c.code for c in Currency if c.exponent is None)

# Times and days must fall in MIN_YEAR..MAX_YEAR; times are compared as instants (no time stamp is taken:
# an engine such as DuckDB has none, and keeps a zone of its own).
_FIRST_DAY = date(MIN_YEAR, 1, 1)
_LAST_DAY = date(MAX_YEAR, 12, 31)
_FIRST_TIME = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
_END_TIME = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)
_AMOUNT_BOUND = 10**MAX_AMOUNT_DIGITS


@attrs.frozen
class Rule:
    """What one column must hold.

    Args:
        type: The kind of value (see :data:`_EXPECTED`).
        required: A null is refused (the model field has no default).
        values: The allowed values of an enumerated column.
        min_length: The shortest text accepted (1 for fields that must not be empty).
        max_length: The longest text accepted.
        ge: The smallest number accepted.
        unique: No two rows may hold the same value (the record's own id).
        negative: An amount may be below zero.
    """

    type: Type
    required: bool = False
    values: tuple[str, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    ge: int | None = None
    unique: bool = False
    negative: bool = True


#: Rules for columns of frames that are not records (attribution's touches), by what they hold.
TIME = Rule("time")
NUMBER = Rule("number")


def _parts(annotation: Any) -> tuple[set[Any], list[Any]]:
    """The plain types inside an annotation and the metadata of its ``Annotated`` layers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        kinds, inner = _parts(base)
        return kinds, [*meta, *inner]
    if origin in (typing.Union, types.UnionType):
        union: set[Any] = set()
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            k, m = _parts(arg)
            union |= k
            found += m
        return union, found
    if annotation is AwareDatetime:
        return {datetime}, []
    return {annotation}, []


def _rule(name: str, field: FieldInfo) -> Rule:
    """The rule of one model field: its type (from the annotation and the field's name) and constraints."""
    kinds, meta = _parts(field.annotation)
    meta = [*meta, *field.metadata]
    required = field.is_required()
    constraints: dict[str, Any] = {}
    for item in meta:
        for key in ("pattern", "min_length", "max_length", "ge"):
            value = getattr(item, key, None)
            if value is not None:
                constraints[key] = value
    literals = [k for k in kinds if typing.get_origin(k) is Literal]
    if literals:
        return Rule("enum", required=required, values=typing.get_args(literals[0]))
    if name in ("amount", "discount"):
        return Rule("money", required=required, negative=name != "amount")
    if name == "splits":
        return Rule("splits")
    if list in {typing.get_origin(k) for k in kinds}:
        return Rule("texts")
    if datetime in kinds:
        return Rule("time", required=required)
    if date in kinds:
        return Rule("date", required=required)
    if int in kinds:
        return Rule("count", required=required, ge=constraints.get("ge"))
    if constraints.get("pattern") == ID_PATTERN:
        return Rule("id", required=required, max_length=constraints.get("max_length"))
    return Rule(
        "text",
        required=required,
        min_length=constraints.get("min_length", 0),
        max_length=constraints.get("max_length"),
    )


def _rules(model: type[Record]) -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for name, field in model.model_fields.items():
        rule = _rule(name, field)
        if name == "id":
            rule = attrs.evolve(rule, unique=True)
        out[field.alias or name] = rule
        if rule.type == "money":
            out[f"{name}_currency"] = Rule("currency")
    return out


#: The rule of every column of every record kind, read from the record models.
RULES: dict[str, dict[str, Rule]] = {kind: _rules(model) for kind, model in RECORD_KINDS.items()}

#: A check: the column it is about, a function giving the expression true on bad rows, and the message.
_Check = tuple[str, Callable[[], nw.Expr], str]


def _row_checks(kind: str, names: set[str]) -> list[_Check]:
    """The models' cross-field rules (``Deal._consistent``), for the columns the frame has."""
    if kind == "feedback":
        return _feedback_checks(names)
    if kind != "deals":
        return []
    col = nw.col
    out: list[_Check] = []
    if {"stage", "close_date"} <= names:
        out.append(
            (
                "close_date",
                lambda: col("stage").is_in(["won", "lost"]) & col("close_date").is_null(),
                "a won or lost deal needs a close_date",
            )
        )
    if {"stage", "refunded_on"} <= names:
        out.append(
            (
                "refunded_on",
                lambda: ~col("refunded_on").is_null() & (col("stage") != "won"),
                "only a won deal can be refunded",
            )
        )
    if {"discount", "discount_currency", "amount_currency"} <= names:
        out.append(
            (
                "discount",
                lambda: ~col("discount").is_null() & (col("discount_currency") != col("amount_currency")),
                "must be in the deal's currency (amount_currency)",
            )
        )
    return out


def _feedback_checks(names: set[str]) -> list[_Check]:
    """``Feedback._consistent``: a lead or an account, and a score on its type's scale."""
    col = nw.col
    out: list[_Check] = []
    about = [c for c in ("lead_id", "account_id") if c in names]
    if about:  # a frame without either column gets them as nulls, and is refused on the next check
        out.append(
            (
                about[0],
                lambda: nw.all_horizontal(*(col(c).is_null() for c in about), ignore_nulls=False),
                "feedback needs a lead_id or an account_id",
            )
        )
    if {"score_type", "score"} <= names:
        out.append(
            (
                "score",
                lambda: (col("score_type").fill_null("none") == "none") & ~col("score").is_null(),
                "score_type 'none' has no score",
            )
        )
        out.append(
            (
                "score",
                lambda: col("score_type").is_in(sorted(SCORE_RANGES)) & col("score").is_null(),
                "a scored feedback (nps, csat, ces) needs a score",
            )
        )
        for kind, (low, high) in SCORE_RANGES.items():

            def off(kind: str = kind, low: int = low, high: int = high) -> nw.Expr:
                return (col("score_type") == kind) & ((col("score") < low) | (col("score") > high))

            out.append(("score", off, f"is outside the {kind} scale {low} to {high}"))
    return out


def check(lf: nw.LazyFrame[Any], kind: str, columns: Mapping[str, Rule] | None = None) -> nw.LazyFrame[Any]:
    """Check a frame of ``kind`` against its rules; return it with the casts of the value rule applied.

    Args:
        lf: The frame.
        kind: A record kind (its rules come from :data:`RULES`) or, with ``columns``, any name for messages.
        columns: Rules by column name, for frames that are not records; replaces :data:`RULES`.

    Raises:
        DataError: The first column (in the model's order) with a wrong dtype, or the first broken rule,
            with the column, the expected type or values, an example record id and how many rows break it.
    """
    rules = RULES[kind] if columns is None else dict(columns)
    label = kind  # frames are named by their kind ("deals"); records by the model's ("deal D2")
    schema = lf.collect_schema()
    names = set(schema.names())
    lf = conform(lf, kind, columns)
    ident = next((c for c in ("id", "lead_id") if c in names and c in rules), None)
    checks: list[_Check] = []
    for name, rule in rules.items():
        if name in names:
            checks += _value_checks(name, rule, names)
    checks += _row_checks(kind, names)
    if not checks:
        return lf
    # One pass: how many rows break each check.
    row = _counts(lf, checks)
    for i, (column, make, message) in enumerate(checks):
        if row[i]:
            _fail(lf, make(), column, message, count=row[i], ident=ident, label=label)
    if ident is not None and rules.get("splits", TIME).type == "splits" and "splits" in names:
        _check_splits(lf, ident, label)
    # Amounts were checked to have at most 15 integer digits and no digits below their currency's minor
    # unit (at most 4 places), so a wider scale holds only zeros there: narrowing it to the Dataset's scale
    # is exact, and keeps the kernels' minor-unit arithmetic (amount * 10**scale) inside 64 bits. A
    # narrower precision (pandas' Decimal objects give the fewest digits that hold the values) is widened
    # to the Dataset's 38 digits, so sums and products behave alike whatever library the frame came from.
    narrow = [
        nw.col(name).cast(wanted)
        for name, rule in rules.items()
        if rule.type == "money" and (wanted := _money_dtype(schema.get(name), f"{name}_currency" in names))
    ]
    if "splits" in names and rules.get("splits", TIME).type == "splits":
        wide = _wide_splits(schema["splits"])
        if wide is not None:
            narrow.append(nw.col("splits").cast(wide))
    return lf.with_columns(*narrow) if narrow else lf


def _wide_splits(dtype: Any) -> nw.List | None:
    """The splits type with 38-digit shares when its shares are narrower (pandas' inferred width), else None.

    The fields keep their order: a struct is cast field by field.
    """
    if not (isinstance(dtype, nw.List) and isinstance(dtype.inner, nw.Struct)):
        return None  # an all-null column (polars' Null) stays as it is
    fields = {f.name: f.dtype for f in dtype.inner.fields}
    share = fields.get("share")
    if not isinstance(share, nw.Decimal) or share.precision == 38:
        return None
    fields["share"] = nw.Decimal(38, _scale(share))
    return nw.List(nw.Struct(fields))


def _money_dtype(dtype: Any, has_currency: bool) -> nw.Decimal | None:
    """The Decimal type a money column is cast to, or ``None`` when it stays as it is."""
    if not isinstance(dtype, nw.Decimal):
        return None
    scale = _scale(dtype)
    if has_currency and scale > DEFAULT_SCALE:
        return nw.Decimal(38, DEFAULT_SCALE)
    return nw.Decimal(38, scale) if dtype.precision != 38 else None


def conform(lf: nw.LazyFrame[Any], kind: str, columns: Mapping[str, Rule] | None = None) -> nw.LazyFrame[Any]:
    """Check the dtypes of a frame of ``kind`` (not its values); return it with the value rule's casts.

    The first half of :func:`check`, for callers that then look at the values row by row (:func:`problems`).
    The casts are those of the module's rule for values libraries store their own way (integer ids to text,
    whole float ids and counts, naive midnights as days, times to UTC, all-null text columns typed).

    Raises:
        DataError: The first column (in the model's order) with a wrong dtype, naming the expected type; a
            float id or count that is not whole, or a time of day in a date column of naive datetimes.
    """
    rules = RULES[kind] if columns is None else dict(columns)
    schema = lf.collect_schema()
    empty = _pandas_values(lf, schema, rules, label=kind)
    # An engine's times stay in its zone (DuckDB refuses any but its connection's); they are converted
    # when the kernel reads its result into polars (smarketing.frames.collect).
    keep_zone = lf.implementation is not nw.Implementation.POLARS
    casts = [
        cast
        for name, rule in rules.items()
        if name in schema
        and (cast := _dtype(nw.Unknown() if name in empty else schema[name], name, rule, kind, keep_zone))
        is not None
    ]
    return lf.with_columns(*casts) if casts else lf


def problems(
    lf: nw.LazyFrame[Any], kind: str, *, row: str, columns: Mapping[str, Rule] | None = None
) -> list[tuple[int, str, str]]:
    """Every value rule every row breaks: ``(row, column, reason)``, by row, then in the rules' order.

    The per-row twin of :func:`check` on a frame whose dtypes are right (see :func:`conform`): the same
    rules, but instead of raising at the first broken one it lists them all, so that a connector can refuse
    those rows and keep the others. ``row`` names an integer column that identifies each row; ``columns``
    replaces :data:`RULES` for a frame that is not a record kind. The rules are first counted in one pass
    of small aggregates, as :func:`check` counts them; only when some rule is broken is a second pass run,
    of those rules alone, and only the rows that break one come back to Python.

    Examples:
        >>> import narwhals as nw
        >>> import polars as pl
        >>> deals = pl.DataFrame({"_row": [0, 1], "id": ["D1", "D2"], "stage": ["won", "Won"]})
        >>> problems(nw.from_native(deals).lazy(), "deals", row="_row")
        [(1, 'stage', "'Won' is not one of 'open', 'won', 'lost'")]
    """
    rules = RULES[kind] if columns is None else dict(columns)
    names = set(lf.collect_schema().names())
    checks = [c for name, rule in rules.items() if name in names for c in _value_checks(name, rule, names)]
    checks += _row_checks(kind, names) if columns is None else []
    found: list[tuple[int, str, str]] = []
    if checks:
        counts = _counts(lf, checks)
        checks = [c for c, count in zip(checks, counts, strict=True) if count]
    if checks:
        flags = [c[1]().fill_null(False).alias(f"_bad{i}") for i, c in enumerate(checks)]
        shown = sorted({c[0] for c in checks})
        bad = (
            lf.with_columns(*flags)
            .filter(nw.any_horizontal(*(nw.col(f"_bad{i}") for i in range(len(checks))), ignore_nulls=True))
            .select(row, *shown, *(f"_bad{i}" for i in range(len(checks))))
            .sort(row)
            .collect()
            .rows(named=True)
        )
        for values in bad:
            for i, (column, _, message) in enumerate(checks):
                if values[f"_bad{i}"]:
                    found.append((values[row], column, _reason(values[column], message)))
    if rules.get("splits", TIME).type == "splits" and "splits" in names:
        found += [(r, "splits", message) for r, message in _split_problems(lf, row)]
    return sorted(found, key=lambda p: p[0])


def _reason(value: Any, message: str) -> str:
    """A broken rule's message, with the value it is about when showing it helps."""
    if value is None or message.startswith(("required value is missing", "an amount needs", "the id")):
        return message
    return f"{value!r} {message}" if isinstance(value, str) else f"{value} {message}"


def _scale(dtype: Any) -> int:
    return int(dtype.scale or 0) if isinstance(dtype, nw.Decimal) else 0


#: Floats up to this size are integers exactly; a larger float id may already have been rounded.
_EXACT_FLOAT = 2**53


def _pandas_values(lf: nw.LazyFrame[Any], schema: Any, rules: Mapping[str, Rule], *, label: str) -> set[str]:
    """Check the pandas-style values ``_dtype`` casts, in one query (none when a frame has none of them).

    Float ids and counts must be whole numbers (pandas gives ``123.0`` for an integer column with a missing
    value; NaN is null); a date column of naive datetimes (pandas has no date type) must hold midnights.
    Returns the text columns of a typed rule (a time, a day, money, ...) that hold only nulls: pandas gives
    an object column of ``None`` for an empty column, read as text; they are null columns of their type.
    """
    checks: list[_Check] = []
    text: list[str] = []
    for name, rule in rules.items():
        dtype = schema.get(name)
        if dtype is None:
            continue
        if rule.type in ("id", "count") and dtype.is_float():

            def not_whole(name: str = name) -> nw.Expr:
                value = nw.col(name).fill_nan(None)
                return (value.abs() >= _EXACT_FLOAT) | (value.round(0) != value)

            what = "ids" if rule.type == "id" else "counts"
            checks.append(
                (
                    name,
                    not_whole,
                    f"must be a whole number below 2**53: a float column of {what} is read as integers "
                    "(pandas gives floats for an integer column with missing values)",
                )
            )
        elif rule.type == "date" and isinstance(dtype, nw.Datetime) and dtype.time_zone is None:

            def not_midnight(name: str = name) -> nw.Expr:
                return nw.col(name) != nw.col(name).dt.truncate("1d")

            checks.append(
                (
                    name,
                    not_midnight,
                    "must be a day, not a time of day: a date column of naive datetimes (pandas has no "
                    "date type) must hold midnights; convert to the calendar day first (.dt.date())",
                )
            )
        elif isinstance(dtype, nw.String) and rule.type in _CANONICAL and not _accepts(rule.type, dtype):
            text.append(name)
    if not checks and not text:
        return set()
    row = (
        lf.select(
            *(_count(c).alias(f"_{i}") for i, c in enumerate(checks)),
            *(nw.col(name).is_null().all().alias(f"_null_{name}") for name in text),
        )
        .collect()
        .row(0)
    )
    for i, (column, make, message) in enumerate(checks):
        if row[i]:
            # Named by the frame, column and value: the id column itself may be the one at fault.
            _fail(lf, make(), column, message, count=row[i], ident=None, label=label)
    return {name for name, empty in zip(text, row[len(checks) :], strict=True) if empty}


_SPLIT_KINDS = ("revenue", "overlay")
#: The message of the uniqueness check, which :func:`_counts` counts its own way.
_DUPLICATE = "the id appears more than once"


def _check_splits(lf: nw.LazyFrame[Any], ident: str, label: str) -> None:
    """The split rules (``DealSplit``, ``Deal._consistent``): raise for the first deal breaking one."""
    found = _split_problems(lf, ident, first=True)
    if found:
        record, message = found[0]
        kind = RECORD_KINDS[label].kind if label in RECORD_KINDS else label
        raise DataError(message, record=str(record), field="splits", kind=kind)


def _split_problems(lf: nw.LazyFrame[Any], key: str, *, first: bool = False) -> list[tuple[Any, str]]:
    """``(key, message)`` of every deal whose splits break a rule (only the smallest key with ``first``).

    In one query of the deals that have any split. A split's kind must be given in a frame: the rewards
    kernel credits ``revenue`` and ``overlay`` and would silently skip anything else (the model's default
    applies to records only).
    """
    col = nw.col
    rows = (
        lf.select(key, "splits")
        .filter(col("splits").list.len() > 0)
        .explode("splits")
        .select(
            key,
            col("splits").struct.field("person").alias("person"),
            col("splits").struct.field("share").alias("share"),
            col("splits").struct.field("kind").alias("kind"),
        )
    )
    revenue = col("kind") == "revenue"
    per_deal = rows.group_by(key).agg(
        (col("person").is_null() | (col("person").str.len_chars() == 0)).any().alias("_person"),
        (col("share").is_null() | (col("share") < 0) | (col("share") > 1)).any().alias("_share"),
        (col("kind").is_null() | ~col("kind").is_in(_SPLIT_KINDS)).fill_null(True).any().alias("_kind"),
        nw.when(revenue).then(col("share")).sum().alias("_revenue"),  # no filter: engines have none
        revenue.fill_null(False).any().alias("_has_revenue"),
    )
    bad = per_deal.filter(
        col("_person") | col("_share") | col("_kind") | (col("_has_revenue") & (col("_revenue") != 1))
    ).sort(key)
    out: list[tuple[Any, str]] = []
    for deal in (bad.head(1) if first else bad).collect().rows(named=True):
        if deal["_person"]:
            message = "a split has no person"
        elif deal["_share"]:
            message = "a split's share is missing or outside 0 to 1"
        elif deal["_kind"]:
            message = f"a split's kind is missing or not one of {', '.join(map(repr, _SPLIT_KINDS))}"
        else:
            message = f"revenue splits total {Decimal(deal['_revenue']) * 100:f}%, not 100%"
        out.append((deal[key], message))
    return out


def _counts(lf: nw.LazyFrame[Any], checks: list[_Check]) -> tuple[int, ...]:
    """How many rows break each check, in one select (one pass over the frame).

    Uniqueness is the rows minus the distinct values, counted in the same select on a lazy engine (DuckDB,
    Spark: one scan of the frame instead of two); on polars by :func:`_duplicates`, whose hashes are
    cheaper than a set of strings.
    """
    on_polars = lf.implementation is nw.Implementation.POLARS
    in_select = [(i, c) for i, c in enumerate(checks) if c[2] != _DUPLICATE or not on_polars]
    out = [0] * len(checks)
    if in_select:
        row = lf.select(*(_count(c).alias(f"_{i}") for i, c in in_select)).collect().row(0)
        for (i, _), count in zip(in_select, row, strict=True):
            out[i] = int(count or 0)  # DuckDB gives null for an empty frame
    for i, c in enumerate(checks):
        if c[2] == _DUPLICATE and on_polars:
            out[i] = _duplicates(lf, c[0])
    return tuple(out)


def _duplicates(lf: nw.LazyFrame[Any], name: str) -> int:
    """Rows minus distinct values of a column: 0 when no value repeats (nulls count as one value).

    On polars, the 64-bit hashes of the values are counted first: when they are all distinct, so are the
    values (the usual case, found at a fraction of the cost of a set of strings). When two hashes are equal
    (a repeated value, or, rarely, two values with one hash) the values themselves are counted.
    """
    if lf.implementation is nw.Implementation.POLARS:
        native = lf.select(name).to_native()
        assert isinstance(native, pl.LazyFrame)
        rows, distinct = native.select(pl.len(), pl.col(name).hash().n_unique()).collect().row(0)
        if rows == distinct:
            return 0
    count = lf.select(_repeats(name).alias("_n")).collect().item()
    return int(count or 0)  # DuckDB gives null for an empty frame


def _repeats(name: str) -> nw.Expr:
    """Rows minus distinct values of ``name`` (nulls one value): 0 when no value repeats."""
    return nw.len() - nw.col(name).n_unique()


def _count(check: _Check) -> nw.Expr:
    if check[2] == _DUPLICATE:
        return _repeats(check[0])
    return check[1]().fill_null(False).cast(nw.Int64()).sum()


def _accepts(kind: str, dtype: Any) -> bool:
    """Whether a column of ``dtype`` can hold values of ``kind`` as they are."""
    text = isinstance(dtype, nw.String | nw.Categorical | nw.Enum)
    if kind in ("id", "text", "enum", "currency"):
        return text
    if kind == "time":
        return isinstance(dtype, nw.Datetime)
    if kind == "date":
        return isinstance(dtype, nw.Date)
    if kind == "count":
        return bool(dtype.is_integer())
    if kind == "money":
        return isinstance(dtype, nw.Decimal) or bool(dtype.is_integer())
    if kind == "texts":
        return isinstance(dtype, nw.List) and isinstance(dtype.inner, nw.String)
    if kind == "splits":
        if not (isinstance(dtype, nw.List) and isinstance(dtype.inner, nw.Struct)):
            return False
        fields = {f.name: f.dtype for f in dtype.inner.fields}
        return (
            isinstance(fields.get("person"), nw.String)
            and isinstance(fields.get("kind"), nw.String)
            and (
                isinstance(fields.get("share"), nw.Decimal)
                or bool(getattr(fields.get("share"), "is_integer", bool)())
            )
        )
    return bool(dtype.is_numeric()) or isinstance(dtype, nw.Boolean)  # "number"


def _dtype(dtype: Any, name: str, rule: Rule, label: str, keep_zone: bool = False) -> nw.Expr | None:
    """Refuse a wrong dtype; return a cast for integer ids and all-null columns, else ``None``."""
    kind = rule.type
    if dtype == nw.Unknown:  # an all-null column (polars' Null): give it the expected type
        return nw.col(name).cast(_CANONICAL[kind]) if kind in _CANONICAL else None
    if kind == "id" and dtype.is_integer():
        # CRM exports often give numeric ids; as text they join with the text ids of other kinds.
        return nw.col(name).cast(nw.String())
    # pandas-style values (checked by _pandas_values first): whole float ids and counts, NaN as null,
    # naive datetimes at midnight as dates, and times in any zone as the same instants in UTC.
    if kind in ("id", "count") and dtype.is_float():
        whole = nw.col(name).fill_nan(None).cast(nw.Int64())
        return whole.cast(nw.String()) if kind == "id" else whole
    if kind == "date" and isinstance(dtype, nw.Datetime) and dtype.time_zone is None:
        return nw.col(name).dt.date()
    aware = isinstance(dtype, nw.Datetime) and dtype.time_zone is not None
    if kind == "time" and aware and dtype.time_zone != "UTC" and not keep_zone:
        return nw.col(name).dt.convert_time_zone("UTC")
    if kind in ("id", "text") and isinstance(dtype, nw.Categorical | nw.Enum):
        return nw.col(name).cast(nw.String())  # the length checks need text
    if _accepts(kind, dtype):
        if kind == "time" and dtype.time_zone is None:
            raise DataError(
                "naive datetimes are ambiguous; attach a time zone (e.g. convert to UTC): "
                f"must be {_EXPECTED[kind]}, not {dtype}",
                field=name,
                kind=label,
            )
        return None
    hint = ""
    if kind == "money" and dtype.is_float():
        hint = (
            "; binary floats cannot hold money exactly (0.1 is not one tenth) and are never rounded into"
            " amounts: give a Decimal column (read the amounts as text and convert each with"
            " decimal.Decimal, or in pandas .astype(pd.ArrowDtype(pa.decimal128(18, 2)))), or whole"
            " currency units in an integer column"
        )
    elif kind == "date" and isinstance(dtype, nw.Datetime):
        hint = "; convert to the calendar day in the deal's time zone (.dt.date())"
    elif isinstance(dtype, nw.String) and kind in ("time", "date", "money", "count", "number"):
        hint = "; parse the text into that type before passing the frame"
    raise DataError(f"must be {_EXPECTED[kind]}, not {dtype}{hint}", field=name, kind=label)


_CANONICAL: dict[str, Any] = {
    "id": nw.String(),
    "text": nw.String(),
    "enum": nw.String(),
    "currency": nw.String(),
    "time": nw.Datetime("us", "UTC"),
    "date": nw.Date(),
    "count": nw.Int64(),
    "number": nw.Int64(),
    "money": nw.Decimal(38, DEFAULT_SCALE),
    "texts": nw.List(nw.String()),
}


def _length_out(length: nw.Expr, least: int, most: int | None) -> nw.Expr:
    bad = length < least
    return bad if most is None else bad | (length > most)


def _value_checks(name: str, rule: Rule, names: set[str]) -> list[_Check]:
    """The value checks of one column under its rule: each a (column, failing-row predicate, message).

    Required values, uniqueness, the length of ids and texts, enumerated values, the year range of dates
    and times, lower bounds of counts, currencies, and the range of amounts (see ``_money_checks``).
    """
    col = nw.col
    out: list[_Check] = []
    if rule.required:
        out.append((name, lambda: col(name).is_null(), "required value is missing"))
    if rule.unique:
        # Counted as rows minus distinct values (see _duplicates); the rows come on failure only.
        out.append((name, lambda: col(name).is_duplicated(), _DUPLICATE))
    if rule.type in ("id", "text") and (rule.min_length or rule.max_length is not None):
        # Ids are not matched against the slug pattern here (a regex over every row of every id column
        # would double the check's cost); records are, when Dataset.records() validates them.
        least, most = max(rule.min_length, 1 if rule.type == "id" else 0), rule.max_length
        length = f"{least} to {most}" if most is not None else f"at least {least}"
        out.append(
            (
                name,
                lambda: _length_out(col(name).str.len_chars(), least, most),
                f"must have {length} characters",
            )
        )
    if rule.type == "enum":
        allowed = ", ".join(repr(v) for v in rule.values)
        out.append((name, lambda: ~col(name).is_in(rule.values), f"is not one of {allowed}"))
    if rule.type == "time":
        out.append(
            (
                name,
                lambda: (col(name) < _FIRST_TIME) | (col(name) >= _END_TIME),
                f"is outside the years {MIN_YEAR} to {MAX_YEAR}",
            )
        )
    if rule.type == "date":
        out.append(
            (
                name,
                lambda: (col(name) < _FIRST_DAY) | (col(name) > _LAST_DAY),
                f"is outside the years {MIN_YEAR} to {MAX_YEAR}",
            )
        )
    if rule.type == "count" and rule.ge is not None:
        least = rule.ge
        out.append((name, lambda: col(name) < least, f"must be at least {least}"))
    if rule.type == "currency":
        amount = name.removesuffix("_currency")
        codes = sorted(_EXPONENTS)
        if amount in names:
            out.append(
                (
                    name,
                    lambda: ~col(amount).is_null() & col(name).is_null(),
                    "an amount needs its currency",
                )
            )
        out.append(
            (
                name,
                lambda: ~col(name).is_in(codes),
                "is not an uppercase ISO 4217 code with a minor unit (fund, metal and test codes such as "
                "XTS, XAU, XXX have none)",
            )
        )
    if rule.type == "money":
        out += _money_checks(name, rule, names)
    return out


def _money_checks(name: str, rule: Rule, names: set[str]) -> list[_Check]:
    col = nw.col
    out: list[_Check] = []
    if not rule.negative:
        out.append((name, lambda: col(name) < 0, "must not be negative; record refunds with refunded_on"))
    out.append(
        (
            name,
            lambda: (col(name) >= _AMOUNT_BOUND) | (col(name) <= -_AMOUNT_BOUND),
            f"has more than {MAX_AMOUNT_DIGITS} digits before the decimal point",
        )
    )
    currency = f"{name}_currency"
    if currency in names:
        by_places: dict[int, list[str]] = {}
        for code, places in _EXPONENTS.items():
            by_places.setdefault(places, []).append(code)

        def below_minor() -> nw.Expr:
            bad = nw.lit(False)
            for places, codes in sorted(by_places.items()):
                bad = bad | (col(currency).is_in(sorted(codes)) & (col(name).round(places) != col(name)))
            return bad

        out.append((name, below_minor, "has digits below the currency's minor unit"))
    return out


def _fail(
    lf: nw.LazyFrame[Any],
    bad: nw.Expr,
    column: str,
    message: str,
    *,
    count: int,
    ident: str | None,
    label: str,
) -> None:
    """Raise the DataError of a broken check, with the first offending record's id and value."""
    wanted = list(dict.fromkeys(c for c in (ident, column) if c is not None))
    example = lf.filter(bad.fill_null(False)).select(*wanted).head(1).collect().rows(named=True)
    if not example:  # the count and the rows disagree only if the engine does; nothing to name
        return
    first = example[0]
    record = first.get(ident) if ident is not None else None
    raise DataError(
        f"{_reason(first.get(column), message)} ({count} row(s) like this)",
        record=None if record is None else str(record),
        field=column,
        # A record is named as the models name it ("deal D2"); a frame by its kind ("deals").
        kind=RECORD_KINDS[label].kind if record is not None and label in RECORD_KINDS else label,
    )
