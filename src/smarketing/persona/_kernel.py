"""The columnar kernel of persona matching and lead scoring (private).

Everything here is polars-lazy and per column: a lead's criteria and fit rules are expressions over the
leads frame (with the account's attributes as fallbacks), and engagement is one long frame of signal
occurrences (an event that matches a signal of its lead's persona) summed per lead and signal group. No
Python runs per row.

Engagement points are kept as integers of 1e-9 points ("nanopoints"): each occurrence is rounded once,
then sums are exact, so the same data in any row order gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import narwhals as nw
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import as_lazy, check_aware
from smarketing.persona.model import Decay, Firmographics, Persona, RoleCriteria, ScoreRule, Signal
from smarketing.records import Dataset

__all__ = [
    "EVENT_KINDS",
    "LEAD_TEXT",
    "NANO",
    "SHARED",
    "Inputs",
    "account_matches",
    "as_of_us",
    "criteria",
    "criteria_names",
    "engagement",
    "explain_fit",
    "factors",
    "late_counts",
    "late_totals",
    "lead_matches",
    "list_table",
    "load",
    "match_masks",
    "occurrences",
    "persona_of",
    "scored",
    "with_lists",
]

#: Points are summed in integers of 1/NANO point.
NANO = 1_000_000_000
_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Record kinds a signal's ``on`` reads, by the frame that holds them.
EVENT_KINDS = {"touchpoint": "touchpoints", "activity": "activities", "stage": "stage_events"}
#: Lead attributes that fall back to the account's.
SHARED = _SHARED = ("industry", "company_size", "region", "country")
#: The lead columns the kernel reads as text.
LEAD_TEXT = _LEAD_TEXT = (
    "account_id",
    "source",
    "campaign",
    "grade",
    "owner",
    "title",
    "seniority",
    "status",
    "industry",
    "region",
    "country",
)


@attrs.frozen
class Inputs:
    """The leads (attributes resolved) and the events the kernel reads, as polars lazy frames."""

    leads: pl.LazyFrame
    events: Mapping[str, pl.LazyFrame]
    accounts: pl.LazyFrame


# --------------------------------------------------------------------------------------------------
# Input.


def _native(data: Any, kind: str, required: Sequence[str], reads: Sequence[str]) -> pl.LazyFrame:
    if not isinstance(data, Dataset | Mapping):
        raise TypeError(
            "data must be a Dataset or a mapping of record kind to records or frame, "
            f"not {type(data).__name__}"
        )
    lf = as_lazy(data, kind, required=required, reads=reads, once=True)
    if lf.implementation is not nw.Implementation.POLARS:
        lf = lf.collect(backend="polars").lazy()
    native: pl.LazyFrame = lf.to_native()
    return native


def _with_columns(lf: pl.LazyFrame, dtypes: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """``lf`` with every column of ``dtypes`` in that dtype (a column it lacks is null)."""
    names = lf.collect_schema().names()
    return lf.with_columns(
        pl.col(c).cast(t) if c in names else pl.lit(None, t).alias(c) for c, t in dtypes.items()
    )


def _times(lf: pl.LazyFrame, column: str, kind: str) -> pl.LazyFrame:
    dtype = lf.collect_schema()[column]
    if not isinstance(dtype, pl.Datetime):
        raise DataError(f"must be a datetime column, not {dtype}", field=column, kind=kind)
    check_aware(nw.from_native(lf), [column], kind=kind)
    return lf.with_columns(pl.col(column).dt.convert_time_zone("UTC").dt.timestamp("us").alias("_us"))


def as_of_us(as_of: datetime) -> int:
    """``as_of`` in microseconds since the epoch; a naive datetime is a :class:`DataError`."""
    if not isinstance(as_of, datetime) or as_of.tzinfo is None or as_of.utcoffset() is None:
        raise DataError(f"as_of must be a timezone-aware datetime, not {as_of!r}")
    return (as_of - _EPOCH) // timedelta(microseconds=1)


def load(data: Any, signals: Iterable[Signal], *, record_ids: bool = True) -> Inputs:
    """The leads with their account's attributes as fallbacks, and the event kinds the signals read.

    An event frame keeps ``lead_id``, its record id (``None`` for stage events, which have none, and
    without ``record_ids``: the scores do not carry it), its time in microseconds (``_us``) and the
    columns the signals compare, as text. The ids are read and checked either way: an event given twice
    would count twice in its lead's engagement, so a repeated id is refused at the boundary.
    """
    text = pl.String()
    leads = _native(data, "leads", ["id"], ["created_at", "company_size", *_LEAD_TEXT])
    leads = _with_columns(leads, dict.fromkeys(_LEAD_TEXT, text) | {"company_size": pl.Int64()})
    names = leads.collect_schema().names()
    leads = (
        _times(leads, "created_at", "leads")
        if "created_at" in names
        else leads.with_columns(pl.lit(None, pl.Int64()).alias("_us"))
    )
    accounts = _native(data, "accounts", ["id"], _SHARED)
    accounts = _with_columns(
        accounts, {"id": text, "industry": text, "company_size": pl.Int64(), "region": text, "country": text}
    ).select("id", *_SHARED)
    fallback = accounts.rename({c: f"_account_{c}" for c in _SHARED})
    leads = (
        leads.with_columns(pl.col("id").cast(text))
        .join(fallback, left_on="account_id", right_on="id", how="left", coalesce=True, maintain_order="left")
        .select(
            pl.col("id").alias("lead_id"),
            "_us",
            *(pl.col(c) for c in _LEAD_TEXT if c not in _SHARED),
            *(pl.coalesce(c, f"_account_{c}").alias(c) for c in _SHARED),
        )
    )
    wanted: dict[str, set[str]] = {}
    for signal in signals:
        wanted.setdefault(EVENT_KINDS[signal.on], set()).update(signal.where)
    events = {}
    for kind, columns in sorted(wanted.items()):
        lf = _native(data, kind, ["lead_id", "time"], ["id", *sorted(columns)])
        has_id = record_ids and "id" in lf.collect_schema().names()
        lf = _with_columns(lf, dict.fromkeys(columns, text))
        lf = _times(lf, "time", kind)
        record = pl.col("id").cast(text) if has_id else pl.lit(None, text)
        events[kind] = lf.select(
            pl.col("lead_id").cast(text), record.alias("_record"), "_us", *sorted(columns)
        )
    return Inputs(leads=leads, events=events, accounts=accounts.rename({"id": "account_id"}))


# --------------------------------------------------------------------------------------------------
# Matching.


def _keyword_regex(words: Sequence[str]) -> str:
    special = set("\\.+*?()|[]{}^$#&-~")
    escaped = ["".join("\\" + ch if ch in special else ch for ch in w) for w in words]
    return r"(?i)\b(?:" + "|".join(escaped) + r")\b"


def criteria(
    firmographics: Firmographics, roles: RoleCriteria | None
) -> tuple[list[tuple[str, pl.Expr]], list[str]]:
    """The counted criteria, and the names of those there is no data for.

    A counted criterion is (name, expression): true, false, or null when the attribute is missing. No
    column holds ``technologies`` or ``departments``, so they are named, not counted.
    """
    out: list[tuple[str, pl.Expr]] = []

    def add(name: str, column: str, test: pl.Expr) -> None:
        out.append((name, pl.when(pl.col(column).is_null()).then(None).otherwise(test)))

    f = firmographics
    if f.industries:
        add("industries", "industry", pl.col("industry").is_in(f.industries))
    if f.company_size is not None:
        size = f.company_size
        test = pl.lit(True)
        if size.min is not None:
            test = test & (pl.col("company_size") >= size.min)
        if size.max is not None:
            test = test & (pl.col("company_size") <= size.max)
        add("company_size", "company_size", test)
    if f.regions:
        add("regions", "region", pl.col("region").is_in(f.regions))
    if f.countries:
        add("countries", "country", pl.col("country").is_in(f.countries))
    no_data = ["technologies"] if f.technologies else []
    if roles is not None:
        if roles.titles:
            add("titles", "title", pl.col("title").str.contains(_keyword_regex(roles.titles)))
        if roles.seniorities:
            add("seniorities", "seniority", pl.col("seniority").is_in(list(roles.seniorities)))
        if roles.departments:
            no_data.append("departments")
    return out, no_data


def list_table(combos: pl.DataFrame, names: Sequence[Sequence[str]]) -> pl.DataFrame:
    """Per distinct ``(_close, _pm, _mm)`` (:func:`_matching`): lists ``passed``, ``failed``, ``missing``.

    ``names`` are each persona's criteria (:func:`criteria_names`).
    """
    rows = []
    for close, passed, missing in combos.select("_close", "_pm", "_mm").unique().rows():
        criteria = names[close] if close is not None else []
        rows.append(
            (
                close,
                passed,
                missing,
                [c for j, c in enumerate(criteria) if passed >> j & 1],
                [c for j, c in enumerate(criteria) if not passed >> j & 1],
                [c for j, c in enumerate(criteria) if missing >> j & 1],
            )
        )
    text = pl.List(pl.String())
    return pl.DataFrame(
        rows,
        schema={
            "_close": pl.Int32(),
            "_pm": pl.Int64(),
            "_mm": pl.Int64(),
            "passed": text,
            "failed": text,
            "missing": text,
        },
        orient="row",
    )


def with_lists(frame: pl.DataFrame, names: Sequence[Sequence[str]]) -> pl.DataFrame:
    """Turn the masks of :func:`_matching` into the ``passed``, ``failed`` and ``missing`` lists."""
    keys = ["_close", "_pm", "_mm"]
    table = list_table(frame, names)
    return frame.join(table, on=keys, how="left", nulls_equal=True, maintain_order="left").drop(keys)


def criteria_names(personas: Sequence[Persona], *, roles: bool) -> list[list[str]]:
    """Each persona's counted criteria, by name (roles too when ``roles``)."""
    return [[n for n, _ in criteria(p.firmographics, p.roles if roles else None)[0]] for p in personas]


def _matching(
    frame: pl.LazyFrame, personas: Sequence[Persona], *, roles: bool, ident: str, explain: bool
) -> pl.LazyFrame:
    """Per row: the winning persona, how many matched, the closest persona and its criteria."""
    tests = [criteria(p.firmographics, p.roles if roles else None)[0] for p in personas]
    n = len(personas)
    matched = _matched(tests)
    passed = [
        pl.sum_horizontal([t.fill_null(value=False).cast(pl.Int32) for _, t in ts]) if ts else pl.lit(0)
        for ts in tests
    ]
    winner = _winner(tests, matched)
    # The closest: most criteria passed, then plan order (arg_max takes the first maximum).
    closest = (
        pl.concat_list([p.cast(pl.Int32) for p in passed]).list.arg_max().cast(pl.Int32)
        if n
        else pl.lit(None, pl.Int32())
    )
    ids = pl.Series(values=[p.id for p in personas], dtype=pl.String())
    out = frame.with_columns(
        winner.alias("_win"),
        (pl.sum_horizontal([m.cast(pl.Int32) for m in matched]) if n else pl.lit(0)).alias("candidates"),
    ).with_columns(pl.when(pl.col("_win").is_null()).then(closest).otherwise(pl.col("_win")).alias("_close"))
    columns = [
        pl.col(ident),
        _pick(ids, "_win").alias("persona"),
        pl.col("_win").is_not_null().alias("matched"),
        pl.col("candidates").cast(pl.UInt32),
        (pl.col("candidates") > 1).alias("tied"),
        _pick(ids, "_close").alias("closest"),
    ]
    if explain:
        # The closest persona's criteria as two bit masks (passed, missing); the lists come from the few
        # distinct masks afterwards (see with_lists), not from list columns built per row.
        for name, state in (("_pm", True), ("_mm", None)):
            mask: Any = pl.lit(0, pl.Int64())
            for i in range(n):
                bits = [
                    (t.is_null() if state is None else t.fill_null(value=False)).cast(pl.Int64) * (1 << j)
                    for j, (_, t) in enumerate(tests[i])
                ]
                value = pl.sum_horizontal(bits) if bits else pl.lit(0, pl.Int64())
                mask = pl.when(pl.col("_close") == i).then(value).otherwise(mask)
            columns.append(mask.alias(name))
        columns.append(pl.col("_close"))
    return out.select(columns)


def _matched(tests: Sequence[Sequence[tuple[str, pl.Expr]]]) -> list[pl.Expr]:
    """Per persona, whether every counted criterion holds (a missing attribute: it does not)."""
    return [
        pl.all_horizontal([t.fill_null(value=False) for _, t in ts]) if ts else pl.lit(True) for ts in tests
    ]


def _winner(tests: Sequence[Sequence[tuple[str, pl.Expr]]], matched: Sequence[pl.Expr]) -> pl.Expr:
    """The index of the winning persona: most counted criteria (more specific), then plan order; or null."""
    order = sorted(range(len(tests)), key=lambda i: (-len(tests[i]), i))
    winner: Any = pl.lit(None, pl.Int32())
    for i in reversed(order):
        winner = pl.when(matched[i]).then(pl.lit(i, pl.Int32())).otherwise(winner)
    result: pl.Expr = winner
    return result


def _pick(ids: pl.Series, index: str) -> pl.Expr:
    if ids.len() == 0:
        return pl.lit(None, pl.String())
    return pl.col(index).replace_strict(
        list(range(ids.len())), ids.to_list(), default=None, return_dtype=pl.String()
    )


def match_masks(inputs: Inputs, personas: Sequence[Persona], *, accounts: bool = False) -> pl.DataFrame:
    """One row per lead (or account, on firmographics alone), matched, with its criteria as bit masks.

    Columns ``lead_id`` (``account_id``), ``persona``, ``matched``, ``candidates``, ``tied``, ``closest``
    and the closest persona's index ``_close`` with its ``_pm`` (passed) and ``_mm`` (missing) masks, in
    no order (:func:`with_lists` turns the masks into lists).
    """
    if accounts:
        frame = _matching(inputs.accounts, personas, roles=False, ident="account_id", explain=True)
    else:
        frame = _matching(inputs.leads, personas, roles=True, ident="lead_id", explain=True)
    return frame.collect()


def lead_matches(inputs: Inputs, personas: Sequence[Persona]) -> pl.DataFrame:
    """One row per lead by ``lead_id``, matched on firmographics and roles.

    Columns ``lead_id``, ``persona``, ``matched``, ``candidates``, ``tied``, ``closest`` and the closest
    persona's ``passed``, ``failed`` and ``missing`` criteria.
    """
    frame = match_masks(inputs, personas).sort("lead_id")
    return with_lists(frame, criteria_names(personas, roles=True))


def account_matches(inputs: Inputs, personas: Sequence[Persona]) -> pl.DataFrame:
    """One row per account by ``account_id``, matched on the personas' firmographics alone."""
    frame = match_masks(inputs, personas, accounts=True).sort("account_id")
    return with_lists(frame, criteria_names(personas, roles=False))


def persona_of(inputs: Inputs, personas: Sequence[Persona], *, before_us: int | None) -> pl.LazyFrame:
    """The leads (created at or before ``before_us`` when given) with their matched persona."""
    leads = inputs.leads
    if before_us is not None:
        leads = leads.filter(pl.col("_us").is_null() | (pl.col("_us") <= before_us))
    return _with_persona(leads, personas)


def _with_persona(leads: pl.LazyFrame, personas: Sequence[Persona]) -> pl.LazyFrame:
    """The leads with ``persona`` (as :func:`lead_matches` picks it) and its index in ``personas``, ``_p``.

    Row by row, as the match: no join of the leads with themselves.
    """
    tests = [criteria(p.firmographics, p.roles)[0] for p in personas]
    ids = pl.Series(values=[p.id for p in personas], dtype=pl.String())
    return leads.with_columns(_winner(tests, _matched(tests)).alias("_p")).with_columns(
        _pick(ids, "_p").alias("persona")
    )


# --------------------------------------------------------------------------------------------------
# Fit.


def _number(value: Any) -> float:
    return float(value)


def rule_holds(rule: ScoreRule) -> pl.Expr:
    """Whether the rule holds for a lead (a missing value: it does not)."""
    column = pl.col(rule.field)
    numeric = rule.field == "company_size"

    def lit(value: Any) -> Any:
        return _number(value) if numeric else _text(value)

    values = rule.value if isinstance(rule.value, list) else [rule.value]
    op = rule.op
    if op == "eq":
        test = column == lit(values[0])
    elif op == "ne":
        test = column != lit(values[0])
    elif op == "in":
        test = (
            column.is_in([lit(v) for v in values])
            if not numeric
            else column.cast(pl.Float64).is_in([lit(v) for v in values])
        )
    elif op == "not_in":
        test = ~(
            column.is_in([lit(v) for v in values])
            if not numeric
            else column.cast(pl.Float64).is_in([lit(v) for v in values])
        )
    elif op == "gte":
        test = column >= lit(values[0])
    elif op == "lte":
        test = column <= lit(values[0])
    elif op == "between":
        test = (column >= lit(values[0])) & (column <= lit(values[1]))
    else:  # contains: case-insensitive text
        test = column.str.to_lowercase().str.contains(_text(values[0]).lower(), literal=True)
    return pl.when(column.is_null()).then(pl.lit(value=False)).otherwise(test.fill_null(value=False))


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value)


def _fit_nanos(persona: Persona) -> pl.Expr:
    terms = [
        pl.when(rule_holds(r)).then(pl.lit(r.points * NANO, pl.Int64())).otherwise(pl.lit(0, pl.Int64()))
        for r in persona.scoring.fit
    ]
    return pl.sum_horizontal(terms) if terms else pl.lit(0, pl.Int64())


def explain_fit(persona: Persona) -> list[tuple[str, str, pl.Expr]]:
    """Each fit rule of the persona as (rule id, the rule in words, whether it holds)."""
    out = []
    for i, r in enumerate(persona.scoring.fit):
        if isinstance(r.value, list):
            shown = "[" + ", ".join(_text(v) for v in r.value) + "]"
        else:
            shown = _text(r.value)
        words = f"{r.field} {r.op} {shown}"
        out.append((f"fit[{i}]", words, rule_holds(r)))
    return out


# --------------------------------------------------------------------------------------------------
# Engagement.


def points(nanos: pl.Expr) -> pl.Expr:
    """Nanopoints as points: the float nearest to ``nanos / 1e9``, the same whatever the frame's length.

    (Polars divides a column by a constant as a multiplication by its reciprocal when the column has more
    than one row, which can differ in the last bit; the exact decimal quotient, then rounded, cannot.)
    """
    exact = nanos.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, 9)) / pl.lit(NANO, pl.Decimal(38, 0))
    return exact.cast(pl.Float64)


def decay_weight(decay: Decay | None, age_us: pl.Expr) -> pl.Expr:
    """The weight of a point ``age_us`` microseconds old (1.0 without decay)."""
    if decay is None:
        return pl.lit(1.0)
    if decay.kind == "half_life":
        assert decay.half_life_days is not None
        half = float(decay.half_life_days) * _DAY_US
        if half == 0:  # a half-life of 0 days: only points at the instant itself count
            return pl.when(age_us == 0).then(1.0).otherwise(0.0)
        # Times the reciprocal, written out: polars would do so itself on some frames and not on others.
        return pl.lit(2.0).pow(-(age_us.cast(pl.Float64) * (1.0 / half)))
    assert decay.percent is not None
    assert decay.every_days is not None
    every = max(1, int(decay.every_days * _DAY_US))
    keep = 1.0 - float(decay.percent) / 100.0
    return pl.lit(keep).pow((age_us // every).cast(pl.Float64))


def _where(signal: Signal) -> pl.Expr:
    tests = [
        pl.col(k).is_in(v if isinstance(v, list) else [v]).fill_null(value=False)
        for k, v in signal.where.items()
    ]
    return pl.all_horizontal(tests) if tests else pl.lit(True)


def _describe(signal: Signal) -> str:
    if signal.description:
        return signal.description
    where = ", ".join(
        f"{k} in [{', '.join(v)}]" if isinstance(v, list) else f"{k} = {v}" for k, v in signal.where.items()
    )
    return f"{signal.on} {where}" if where else f"any {signal.on}"


def occurrences(
    inputs: Inputs, lead_personas: pl.LazyFrame, personas: Sequence[Persona], *, now_us: int
) -> pl.LazyFrame:
    """Every event at or before ``now_us`` that matches a signal of its lead's persona, once per signal.

    Columns: ``lead_id``, ``persona``, ``signal``, ``group``, ``on``, ``record_id``, ``_us``, ``raw``
    (points), ``weight`` (decay) and ``nanos`` (points after decay, in 1e-9 points, rounded once).
    """
    parts = []
    leads = lead_personas.select("lead_id", "persona").filter(pl.col("persona").is_not_null())
    for on, kind in EVENT_KINDS.items():
        signals = [(p, s, g) for p in personas for _, s, g in p.signals() if s.on == on]
        if not signals or kind not in inputs.events:
            continue
        events = inputs.events[kind].filter(pl.col("_us") <= now_us)
        events = events.filter(pl.any_horizontal([_where(s) for _, s, _ in signals])).join(
            leads, on="lead_id", how="inner"
        )
        for persona, signal, group in signals:
            decay = persona.scoring.effective_decay
            age = pl.lit(now_us, pl.Int64()) - pl.col("_us")
            weight = decay_weight(decay, age)
            if decay is None:
                nanos = pl.lit(signal.points * NANO, pl.Int64())
            else:
                nanos = (pl.lit(float(signal.points * NANO)) * weight).round(0).cast(pl.Int64)
            parts.append(
                events.filter((pl.col("persona") == persona.id) & _where(signal)).select(
                    "lead_id",
                    "persona",
                    pl.lit(signal.id, pl.String()).alias("signal"),
                    pl.lit(_describe(signal), pl.String()).alias("description"),
                    pl.lit(group, pl.String()).alias("group"),
                    pl.lit(on, pl.String()).alias("on"),
                    pl.col("_record").alias("record_id"),
                    "_us",
                    pl.lit(signal.points, pl.Int64()).alias("raw"),
                    weight.cast(pl.Float64).alias("weight"),
                    nanos.alias("nanos"),
                )
            )
    if not parts:
        return pl.LazyFrame(
            schema={
                "lead_id": pl.String(),
                "persona": pl.String(),
                "signal": pl.String(),
                "description": pl.String(),
                "group": pl.String(),
                "on": pl.String(),
                "record_id": pl.String(),
                "_us": pl.Int64(),
                "raw": pl.Int64(),
                "weight": pl.Float64(),
                "nanos": pl.Int64(),
            }
        )
    return pl.concat(parts, how="vertical")


def _cap_nanos(personas: Sequence[Persona]) -> pl.Expr:
    """The cap of the row's (persona, group) in nanopoints; null when uncapped."""
    out: Any = pl.lit(None, pl.Int64())
    for p in personas:
        for group, cap in p.scoring.caps.items():
            hit = (pl.col("persona") == p.id) & (pl.col("group") == group)
            out = pl.when(hit).then(pl.lit(cap * NANO, pl.Int64())).otherwise(out)
    result: pl.Expr = out
    return result


def engagement(occurring: pl.LazyFrame, personas: Sequence[Persona]) -> pl.LazyFrame:
    """Per lead and signal group: ``total`` nanopoints, the ``cap`` and the ``capped`` sum."""
    return (
        occurring.group_by("lead_id", "persona", "group")
        .agg(pl.col("nanos").sum().alias("total"))
        .with_columns(_cap_nanos(personas).alias("cap"))
        .with_columns(
            pl.when(pl.col("cap").is_not_null() & (pl.col("total") > pl.col("cap")))
            .then(pl.col("cap"))
            .otherwise(pl.col("total"))
            .alias("capped")
        )
    )


# --------------------------------------------------------------------------------------------------
# Scores, grades and the MQL flag.


def _per_persona(personas: Sequence[Persona], value: Any, default: Any) -> Any:
    """``value(p)`` for the row's persona (by its index ``_p``), ``default`` for a row without one."""
    out: Any = default
    for i, p in enumerate(personas):
        out = pl.when(pl.col("_p") == i).then(value(p)).otherwise(out)
    return out


def _grade(bands: Sequence[tuple[str, int]], column: str) -> pl.Expr:
    """The band with the highest minimum that the nanopoint ``column`` reaches; none reached: null."""
    out: Any = pl.lit(None, pl.String())
    for name, minimum in sorted(bands, key=lambda b: b[1]):
        out = pl.when(pl.col(column) >= minimum * NANO).then(pl.lit(name, pl.String())).otherwise(out)
    result: pl.Expr = out
    return result


def _mql(persona: Persona) -> pl.Expr:
    s = persona.scoring
    fit, eng = pl.col("_fit"), pl.col("_eng")
    if s.mql is not None:
        rule = (fit >= s.mql.min_fit * NANO) & (eng >= s.mql.min_engagement * NANO)
        if s.mql.min_total is not None:
            rule = rule & (fit + eng >= s.mql.min_total * NANO)
        if s.mql.engagement_alone is not None:
            rule = rule | (eng >= s.mql.engagement_alone * NANO)
        return rule
    if s.mql_threshold is not None:
        return fit + eng >= s.mql_threshold * NANO
    return pl.lit(value=False)


def _groups(personas: Sequence[Persona]) -> list[str]:
    """Every signal group of the personas, sorted."""
    return sorted({g for p in personas for _, _, g in p.signals()})


def _group_sums(
    inputs: Inputs, leads: pl.LazyFrame, personas: Sequence[Persona], *, now_us: int
) -> pl.LazyFrame | None:
    """Per lead index ``_i`` with a signal occurrence: the uncapped nanopoints of each signal group.

    The sums of :func:`engagement` without its long frame of occurrences: each event kind is filtered to
    the events some signal matches, joined to its lead once, and each occurrence's nanopoints (the same
    expression as in :func:`occurrences`, so the same integers) are added into its group's column. The
    sums are of integers, so they do not depend on the order of the rows. ``None`` when no signal reads
    an event kind the inputs hold.
    """
    groups = _groups(personas)
    keyed = leads.filter(pl.col("_p").is_not_null()).select("lead_id", "_i", "_p")
    parts = []
    for on, kind in EVENT_KINDS.items():
        signals = [(i, p, s, g) for i, p in enumerate(personas) for _, s, g in p.signals() if s.on == on]
        if not signals or kind not in inputs.events:
            continue
        age = pl.lit(now_us, pl.Int64()) - pl.col("_us")
        terms: dict[str, list[pl.Expr]] = {g: [] for g in groups}
        for i, persona, signal, group in signals:
            decay = persona.scoring.effective_decay
            if decay is None:
                nanos = pl.lit(signal.points * NANO, pl.Int64())
            else:
                nanos = (
                    (pl.lit(float(signal.points * NANO)) * decay_weight(decay, age)).round(0).cast(pl.Int64)
                )
            hit = (pl.col("_p") == i) & _where(signal)
            terms[group].append(pl.when(hit).then(nanos).otherwise(pl.lit(0, pl.Int64())))
        events = (
            inputs.events[kind]
            .filter(pl.col("_us") <= now_us)
            .filter(pl.any_horizontal([_where(s) for _, _, s, _ in signals]))
            .join(keyed, on="lead_id", how="inner")
        )
        parts.append(
            events.select(
                "_i",
                *(
                    (pl.sum_horizontal(t) if t else pl.lit(0, pl.Int64())).cast(pl.Int64).alias(f"_g{k}")
                    for k, t in enumerate(terms.values())
                ),
            )
        )
    if not parts:
        return None
    columns = [pl.col(f"_g{k}").sum() for k in range(len(groups))]
    return pl.concat(parts, how="vertical").group_by("_i").agg(columns)


def _engagement_nanos(personas: Sequence[Persona]) -> pl.Expr:
    """The lead's engagement: each group's sum (``_g<k>``, null: 0) cut to its persona's cap, then added."""
    capped = []
    for k, group in enumerate(_groups(personas)):
        total = pl.col(f"_g{k}").fill_null(0)
        cap = _per_persona(
            personas,
            lambda p, g=group: pl.lit(p.scoring.caps[g] * NANO if g in p.scoring.caps else None, pl.Int64()),
            pl.lit(None, pl.Int64()),
        )
        capped.append(pl.when(cap.is_not_null() & (total > cap)).then(cap).otherwise(total))
    return pl.sum_horizontal(capped) if capped else pl.lit(0, pl.Int64())


def scored(inputs: Inputs, personas: Sequence[Persona], *, now_us: int) -> pl.LazyFrame:
    """The scores frame: one row per lead created by ``now_us``, by ``lead_id``.

    The leads are sorted once and numbered (``_i``); the events join them by ``lead_id`` once per event
    kind, and the per-lead sums come back by that number, in the leads' order, so no second sort runs.
    """
    # Collected once: both the events' join and the scores read it. The fit is computed first, so only
    # the few columns the scores need are sorted.
    zero = pl.lit(0, pl.Int64())
    leads = (
        persona_of(inputs, personas, before_us=now_us)
        .select("lead_id", "persona", "_p", _per_persona(personas, _fit_nanos, zero).alias("_fit"))
        .sort("lead_id")
        .with_row_index("_i")
        .collect()
        .lazy()
    )
    sums = _group_sums(inputs, leads, personas, now_us=now_us)
    frame = leads
    if sums is not None:
        frame = frame.join(sums, on="_i", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Int64()).alias(f"_g{k}") for k in range(len(_groups(personas)))
        )
    frame = (
        frame.with_columns(_engagement_nanos(personas).alias("_eng"))
        .with_columns(
            _per_persona(
                personas,
                lambda p: _grade([(g.grade, g.min_fit) for g in p.scoring.grades], "_fit"),
                pl.lit(None, pl.String()),
            ).alias("fit_grade"),
            _per_persona(
                personas,
                lambda p: _grade([(b.band, b.min_engagement) for b in p.scoring.engagement_bands], "_eng"),
                pl.lit(None, pl.String()),
            ).alias("band"),
            _per_persona(personas, _mql, pl.lit(value=False)).alias("mql"),
        )
        .with_columns(
            _per_persona(
                personas,
                lambda p: (
                    pl.concat_str("fit_grade", "band") if p.scoring.engagement_bands else pl.col("fit_grade")
                ),
                pl.lit(None, pl.String()),
            ).alias("grade")
        )
        .select(
            "lead_id",
            "persona",
            points(pl.col("_fit")).alias("fit"),
            points(pl.col("_eng")).alias("engagement"),
            "fit_grade",
            "band",
            "grade",
            pl.col("mql").cast(pl.Boolean),
        )
    )
    return frame


def late_counts(inputs: Inputs, *, now_us: int) -> list[pl.LazyFrame]:
    """Leads created and events (of the kinds the signals read) after ``now_us``: left out.

    One-row frames, to be collected with the scores (:func:`late_totals` adds them up), so that a lazy
    source is scanned in one go.
    """
    late = pl.col("_us").is_not_null() & (pl.col("_us") > now_us)
    frames = [inputs.leads, *(inputs.events[k] for k in sorted(inputs.events))]
    return [f.select(late.sum()) for f in frames]


def late_totals(found: Sequence[pl.DataFrame]) -> dict[str, int]:
    """The counts of :func:`late_counts`, collected: ``leads_after_as_of`` and ``events_after_as_of``."""
    values = [int(f.item()) for f in found]
    return {"leads_after_as_of": values[0], "events_after_as_of": sum(values[1:])}


# --------------------------------------------------------------------------------------------------
# Factors: the same expressions, per rule and per occurrence, for the leads asked about.


def _fit_factors(leads: pl.LazyFrame, personas: Sequence[Persona]) -> list[pl.LazyFrame]:
    """Per persona, one row per lead of it and fit rule: whether the rule holds and the points it gives."""
    parts = []
    for p in personas:
        rules = explain_fit(p)
        if not rules:
            continue
        table = pl.LazyFrame(
            {
                "rule": [r for r, _, _ in rules],
                "description": [d for _, d, _ in rules],
                "raw_points": [r.points for r in p.scoring.fit],
                "_order": list(range(len(rules))),
            },
            schema={
                "rule": pl.String(),
                "description": pl.String(),
                "raw_points": pl.Int64(),
                "_order": pl.Int64(),
            },
        )
        parts.append(
            leads.filter(pl.col("persona") == p.id)
            .select("lead_id", "persona", *(holds.alias(r) for r, _, holds in rules))
            .unpivot(index=["lead_id", "persona"], variable_name="rule", value_name="holds")
            .join(table, on="rule", how="left")
            .select(
                "lead_id",
                "persona",
                pl.lit("fit").alias("kind"),
                "rule",
                "description",
                pl.lit(None, pl.String()).alias("group"),
                pl.lit(None, pl.String()).alias("on"),
                pl.lit(None, pl.String()).alias("record_id"),
                pl.lit(None, pl.Int64()).alias("_us"),
                "holds",
                "raw_points",
                pl.lit(None, pl.Float64()).alias("weight"),
                pl.when("holds").then(pl.col("raw_points")).otherwise(0).cast(pl.Float64).alias("points"),
                pl.lit(None, pl.Boolean()).alias("capped"),
                pl.lit(0).alias("_kind"),
                "_order",
            )
        )
    return parts


def factors(inputs: Inputs, personas: Sequence[Persona], *, now_us: int) -> pl.DataFrame:
    """Every fit rule and signal occurrence behind the scores of the leads in ``inputs``.

    Columns as :data:`smarketing.persona.score.FACTOR_COLUMNS`; by lead, fit rules first in plan order,
    then occurrences by time, signal and record.
    """
    leads = persona_of(inputs, personas, before_us=now_us).collect().lazy()
    occurring = occurrences(inputs, leads, personas, now_us=now_us)
    cut = engagement(occurring, personas).select(
        "lead_id", "group", (pl.col("capped") < pl.col("total")).alias("capped")
    )
    engaged = occurring.join(cut, on=["lead_id", "group"], how="left").select(
        "lead_id",
        "persona",
        pl.lit("engagement").alias("kind"),
        pl.col("signal").alias("rule"),
        "description",
        "group",
        "on",
        "record_id",
        "_us",
        pl.lit(value=True).alias("holds"),
        pl.col("raw").alias("raw_points"),
        "weight",
        points(pl.col("nanos")).alias("points"),
        "capped",
        pl.lit(1).alias("_kind"),
        pl.lit(0, pl.Int64()).alias("_order"),
    )
    return (
        pl.concat([*_fit_factors(leads, personas), engaged], how="vertical")
        .sort("lead_id", "_kind", "_order", "_us", "rule", "record_id", nulls_last=True)
        .with_columns(pl.from_epoch("_us", time_unit="us").dt.replace_time_zone("UTC").alias("time"))
        .drop("_us", "_kind", "_order")
        .collect()
    )
