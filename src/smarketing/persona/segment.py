"""Which segments marketing fills and which ever buy: :func:`segment`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.money import Money
from smarketing.persona import _scale
from smarketing.persona._outcomes import ACCOUNT, lead_groups, lead_outcomes, won_deals
from smarketing.persona.agreement import plan_stages
from smarketing.persona.results import Segments
from smarketing.persona.score import LeadScores

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["segment"]

#: Columns that come from the scores when ``scores`` is given.
_SCORED = ("persona", "grade")
#: The kind Spark's scores travel as beside the records.
_SCORES = "_scores"


def segment(
    plan: AlignmentPlan,
    data: Any,
    *,
    by: str | Sequence[str] = ("persona", "grade"),
    scores: Any = None,
) -> Segments:
    """Counts, conversion and won value per segment: persona x grade x any lead or account attribute.

    Per segment of leads (``data["leads"]``): ``leads``; ``mqls`` (leads marketing qualified: entered the
    MQL stage or were handed off, as in :func:`~smarketing.persona.agreement`); ``accepted`` (MQLs that
    later entered the acceptance stage); ``won_leads`` and ``won_deals`` (deals with stage won and the
    lead's id, any close date); ``mql_rate = mqls / leads``, ``acceptance_rate = accepted / mqls`` and
    ``win_rate = won_leads / leads`` (NaN when the denominator is 0). Won value is exact money per currency
    (``Segments.value``), from the won-deal rule; never a float.

    ``persona`` and ``grade`` come from ``scores`` (a :class:`LeadScores` from
    :func:`~smarketing.persona.score`, or any frame with ``lead_id``, ``persona`` and ``grade``) when it is
    given, else from the lead columns of those names. ``by`` may name any lead column or
    ``account.<column>``. Rows are sorted by the ``by`` columns, nulls last. Facts of leads missing from
    ``leads`` and won deals without a lead are left out and counted in ``Segments.counts``.

    Args:
        plan: The alignment plan (journey handoffs; the SLA's quality commitment for acceptance).
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind to records or frames
            (``leads``, ``stage_events``, ``dispositions``, ``deals``, ``accounts`` for ``account.``).
        by: One column or several.
        scores: Lead scores to take persona and grade from.

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found.
        DataError: A column is missing, a time is naive, or a won deal breaks the won-deal rule.
        ValueError: ``by`` names no column or one twice.

    Examples:
        >>> from datetime import date, datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
        >>> data = {
        ...     "leads": [
        ...         sm.Lead(id="L1", created_at=t, persona="ops-director", grade="A"),
        ...         sm.Lead(id="L2", created_at=t, persona="ops-director", grade="B"),
        ...         sm.Lead(id="L3", created_at=t, persona="ops-director", grade="A"),
        ...     ],
        ...     "stage_events": [sm.StageEvent(lead_id="L1", source="mql", to="sal", time=t)],
        ...     "deals": [
        ...         sm.Deal(
        ...             id="D1",
        ...             lead_id="L1",
        ...             amount=sm.Money("12000.00", "EUR"),
        ...             stage="won",
        ...             created_at=t,
        ...             close_date=date(2026, 10, 20),
        ...         ),
        ...     ],
        ... }
        >>> result = sm.persona.segment(plan, data)
        >>> result.to_frame().select("persona", "grade", "leads", "mqls", "won_leads").rows()
        [('ops-director', 'A', 2, 1, 1), ('ops-director', 'B', 1, 0, 0)]
        >>> result.won_value("ops-director", "A")
        {'EUR': Money('12000.00', 'EUR')}
    """
    columns = (by,) if isinstance(by, str) else tuple(by)
    if not columns or not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
        raise ValueError(f"by must name one or more distinct columns, not {by!r}")
    from_scores = [c for c in columns if c in _SCORED] if scores is not None else []
    lead_columns = [c for c in columns if c not in from_scores]
    stages = plan_stages(plan)
    given, original = data, scores
    if from_scores and isinstance(scores, LeadScores) and engine.is_spark(scores.frame):
        # Spark's scores go with their leads (a kind of their own); others are read here, as before.
        given = {**data, _SCORES: scores.frame} if isinstance(data, Mapping) else data
        scores = None
    kinds = [
        "leads",
        "stage_events",
        "dispositions",
        "deals",
        *([_SCORES] if scores is None and from_scores else []),
    ]
    spark = _scale.spark_frames(given, kinds)
    if spark is None and from_scores and scores is None:
        scores, given = original, data
    schema = _by_schema(given if spark is not None else data, lead_columns, from_scores, scores)
    tables = _tables(schema)
    on_spark = spark is not None
    safe = {c: f"_by{i}" for i, c in enumerate(columns)}

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        source = part.pop(_SCORES, None) if on_spark else scores
        leads = lead_groups(part, lead_columns)
        if from_scores:
            leads = leads.join(_score_columns(source, from_scores), on="lead_id", how="left")
        outcomes = lead_outcomes(stages, part).select("lead_id", "mql", "accepted").collect()
        won = won_deals(part).select("lead_id", "amount_currency", "_minor").lazy()
        frames = _partials(leads.select("lead_id", *columns).collect(), outcomes, won, by=columns)
        return {
            name: frame.rename({c: n for c, n in safe.items() if c in frame.columns})
            for name, frame in frames.items()
        }

    reads = {
        "leads": ["id", "account_id", *(c for c in lead_columns if not c.startswith(ACCOUNT))],
        "stage_events": ["lead_id", "from", "to", "time"],
        "dispositions": ["lead_id", "time"],
        "deals": ["id", "lead_id", "stage", "amount", "amount_currency", "close_date"],
    }
    of_account = [c[len(ACCOUNT) :] for c in lead_columns if c.startswith(ACCOUNT)]
    if of_account:
        reads["accounts"] = of_account
    if on_spark and from_scores:
        reads[_SCORES] = ["lead_id", *from_scores]
    partials, _ = _scale.lead_run(given if on_spark else data, fn, tables, reads)
    names = {n: c for c, n in safe.items()}
    merged = {name: partials.merged(name).rename(names, strict=False) for name in tables}
    return _finish(merged["counted"], merged["value"], merged["unknown"], by=columns)


def _by_schema(
    data: Any, lead_columns: list[str], from_scores: list[str], scores: Any
) -> dict[str, pl.DataType]:
    """The dtypes of the ``by`` columns (read from no rows on Spark).

    Raises:
        DataError: A ``by`` column does not exist.
    """
    frames = _scale.spark_frames(data, ["leads"])
    source = (
        {kind: engine.to_polars(f.limit(0)) for kind, f in frames.items()} if frames is not None else data
    )
    schema = dict(lead_groups(source, lead_columns).drop("lead_id").collect_schema()) if lead_columns else {}
    if from_scores:
        if frames is not None and _SCORES in data:
            found = engine.to_polars(data[_SCORES].select("lead_id", *from_scores).limit(0)).lazy()
        else:
            found = _score_columns(scores, from_scores)
        schema.update(found.drop("lead_id").collect_schema())
    return schema


def _tables(schema: Mapping[str, pl.DataType]) -> dict[str, engine.Partial]:
    """The partial tables of :func:`segment` (the ``by`` columns under positional names)."""
    safe = {f"_by{i}": t for i, t in enumerate(schema.values())}
    by = tuple(safe)
    i64 = pl.Int64()
    sums = ("leads", "mqls", "accepted", "won_leads", "won_deals")
    return {
        "counted": engine.Partial(
            {**safe, **dict.fromkeys(sums, i64)}, keys=by, aggs=dict.fromkeys(sums, "sum")
        ),
        "value": engine.Partial(
            {**safe, "amount_currency": pl.String(), "won_deals": i64, "_minor": pl.Decimal(38, 0)},
            keys=(*by, "amount_currency"),
            aggs={"won_deals": "sum", "_minor": "sum"},
        ),
        "unknown": engine.Partial({"k": pl.String(), "len": i64}, keys=("k",), aggs={"len": "sum"}),
    }


def _score_columns(scores: Any, columns: list[str]) -> pl.LazyFrame:
    frame = scores.to_frame() if isinstance(scores, LeadScores) else getattr(scores, "frame", scores)
    if isinstance(frame, pl.LazyFrame):
        lazy = frame
    elif isinstance(frame, pl.DataFrame):
        lazy = frame.lazy()
    else:
        raise TypeError(f"scores must be LeadScores or a polars frame, not {type(scores).__name__}")
    missing = [c for c in ("lead_id", *columns) if c not in lazy.collect_schema().names()]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", kind="scores")
    return lazy.select("lead_id", *columns).unique("lead_id", keep="first", maintain_order=True)


def _segments(
    leads: pl.LazyFrame | pl.DataFrame,
    outcomes: pl.LazyFrame | pl.DataFrame,
    won: pl.LazyFrame | pl.DataFrame,
    *,
    by: tuple[str, ...],
) -> Segments:
    """The segments of ``leads`` (the core).

    ``leads`` has ``lead_id`` and the ``by`` columns, ``outcomes`` ``lead_id``, ``mql`` and ``accepted``,
    ``won`` one row per won deal with ``lead_id``, ``amount_currency`` and ``_minor`` (minor units).
    """
    frames = _partials(leads, outcomes, won, by=by)
    return _finish(frames["counted"], frames["value"], frames["unknown"], by=by)


def _partials(
    leads: pl.LazyFrame | pl.DataFrame,
    outcomes: pl.LazyFrame | pl.DataFrame,
    won: pl.LazyFrame | pl.DataFrame,
    *,
    by: tuple[str, ...],
) -> dict[str, pl.DataFrame]:
    """The sums of the segments of ``leads`` (complete leads), which add up over partitions of leads."""
    keys = list(by)
    people = leads.lazy()
    flagged = people.join(outcomes.lazy(), on="lead_id", how="left")
    deals = won.lazy()
    deals_per_lead = deals.group_by("lead_id").agg(won_deals=pl.len())
    counted = (
        flagged.join(deals_per_lead, on="lead_id", how="left")
        .group_by(keys)
        .agg(
            leads=pl.len().cast(pl.Int64),
            mqls=pl.col("mql").fill_null(value=False).sum().cast(pl.Int64),
            accepted=(pl.col("mql") & pl.col("accepted")).fill_null(value=False).sum().cast(pl.Int64),
            won_leads=pl.col("won_deals").is_not_null().sum().cast(pl.Int64),
            won_deals=pl.col("won_deals").fill_null(0).sum().cast(pl.Int64),
        )
    )
    value = (
        deals.join(people, on="lead_id", how="inner")
        .group_by([*keys, "amount_currency"])
        .agg(won_deals=pl.len().cast(pl.Int64), _minor=pl.col("_minor").cast(pl.Int128).sum())
    )
    ids = people.select("lead_id")
    # Each fact's lead id beside its kind: a literal alone would be one row, however many facts there are.
    unknown = (
        pl.concat(
            [
                outcomes.lazy()
                .filter(pl.col("mql"))
                .join(ids, on="lead_id", how="anti")
                .select("lead_id", k=pl.lit("mqls_unknown_lead")),
                deals.filter(pl.col("lead_id").is_not_null())
                .join(ids, on="lead_id", how="anti")
                .select("lead_id", k=pl.lit("won_deals_unknown_lead")),
                deals.filter(pl.col("lead_id").is_null()).select(
                    "lead_id", k=pl.lit("won_deals_without_lead")
                ),
            ]
        )
        .group_by("k")
        .agg(pl.len().cast(pl.Int64).alias("len"))
    )
    frame, value_frame, unknown_frame = pl.collect_all([counted, value, unknown])
    return {"counted": frame, "value": value_frame, "unknown": unknown_frame}


def _finish(
    counted: pl.DataFrame, value: pl.DataFrame, unknown: pl.DataFrame, *, by: tuple[str, ...]
) -> Segments:
    """The segments from their merged sums."""
    keys = list(by)
    frame = counted.with_columns(
        mql_rate=_rate("mqls", "leads"),
        acceptance_rate=_rate("accepted", "mqls"),
        win_rate=_rate("won_leads", "leads"),
    ).sort(keys, nulls_last=True)
    value_frame = value.with_columns(pl.col("_minor").cast(pl.Int128)).sort(
        [*keys, "amount_currency"], nulls_last=True
    )
    counts = dict.fromkeys(("mqls_unknown_lead", "won_deals_unknown_lead", "won_deals_without_lead"), 0)
    counts.update({k: int(n) for k, n in unknown.rows()})
    return Segments(by=by, frame=frame, value=_money_frame(value_frame, keys), counts=counts)


def _rate(top: str, bottom: str) -> pl.Expr:
    return pl.when(pl.col(bottom) > 0).then(pl.col(top) / pl.col(bottom)).otherwise(float("nan"))


def _money_frame(value: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Minor units per segment and currency as exact Decimal amounts (``won_value``) beside the currency."""
    amounts = [
        Money.from_minor(int(units), code).amount
        for units, code in zip(
            value.get_column("_minor").to_list(), value.get_column("amount_currency").to_list(), strict=True
        )
    ]
    scale = max((-a.as_tuple().exponent for a in amounts), default=2)  # type: ignore[operator]
    return value.select(
        *keys,
        currency="amount_currency",
        won_deals="won_deals",
        won_value=pl.Series(amounts, dtype=pl.Decimal(38, scale)),
    )
