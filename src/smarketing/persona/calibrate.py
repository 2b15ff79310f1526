"""How well lead scores predict won deals, and the threshold sales' capacity calls for: :func:`calibrate`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from smarketing.errors import DataError
from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy, check_aware
from smarketing.persona import _scale
from smarketing.persona._outcomes import won_deals
from smarketing.persona.results import Calibration
from smarketing.persona.score import LeadScores, score
from smarketing.sla.model import CapacityCommitment

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["WEEKS_PER_PERIOD", "calibrate", "leads_per_week"]

ScoreBy = Literal["total", "fit", "engagement"]

#: Weeks in each period of a capacity commitment (calendar weeks; a year of 365.25 days).
WEEKS_PER_PERIOD: dict[str, float] = {
    "day": 1 / 7,
    "week": 1.0,
    "month": 365.25 / 12 / 7,
    "quarter": 365.25 / 4 / 7,
    "year": 365.25 / 7,
}


def calibrate(
    plan: AlignmentPlan,
    data: Any,
    *,
    as_of: datetime,
    capacity: CapacityCommitment | int | None = None,
    score_by: ScoreBy = "total",
    scores: LeadScores | None = None,
) -> Calibration:
    """How well the plan's lead scores predict won deals, and the MQL threshold sales' capacity calls for.

    The leads are scored with :func:`~smarketing.persona.score` at ``as_of``. **Outcome**: the lead has a
    won deal (``deals.lead_id``, stage won, ``close_date`` on or before ``as_of.date()``). **Predictor**:
    ``fit + engagement`` (``score_by="total"``), or ``"fit"`` or ``"engagement"`` alone.

    - **ROC AUC** by the Mann-Whitney statistic, ties counting one half.
    - **Lift by decile**: leads sorted by score from high to low, decile 1 the top tenth; a tie group is
      never split: all its leads go to the decile of its first member, so a decile may hold more or fewer
      than a tenth (or none). Lift is the decile's conversion over the overall conversion.
    - **Brier score** of the decile's conversion rate taken as each lead's probability: a calibration of the
      scores *in sample* (the rates come from the same leads, so it is optimistic), beside the Brier
      score of the base rate for every lead (the reference a useful score must beat). It is summed by
      decile (``won·(1 - r)² + (leads - won)·r²``, deciles in order), so every engine adds the same terms.
    - **Conversion by grade**.
    - **Threshold from capacity**: sales commits to work ``N`` leads a period (``sla.sales.capacity``, or
      ``capacity=``: a :class:`~smarketing.sla.CapacityCommitment` or a number of leads a week), converted
      to a week by :data:`WEEKS_PER_PERIOD`. Leads arrive at ``leads_per_week``: the leads created on or
      before ``as_of`` over the weeks from the first of them to ``as_of`` (at least one week). A threshold
      ``t`` yields ``leads_per_week * (share of scored leads with score >= t)`` MQLs a week; the
      recommendation is the smallest observed score whose yield is at most ``N`` a week (none when even the
      highest score yields more). Beside it, the MQLs a week the plan's current MQL rule yields (the
      ``mql`` flag of the scores), so a contradiction with the SLA shows.

    Everything above is a function of the leads counted per distinct score (and per grade), so it scales
    out: on PySpark frames the scores stay on Spark, a map per partition of complete leads counts them with
    their won deals, Spark sums the counts per score and ranks the distinct scores, and the driver reads
    one row per decile and per grade (see *Running on Spark*).

    Args:
        plan: The alignment plan (personas, scoring, SLA capacity).
        data: What :func:`~smarketing.persona.score` reads, and ``deals``.
        as_of: The timezone-aware instant the scores and outcomes are taken at.
        capacity: Overrides the SLA's capacity commitment.
        score_by: The score that predicts.
        scores: Scores already computed by :func:`~smarketing.persona.score` on the same plan and data at
            ``as_of`` (so they are not computed twice); scores taken at another instant are refused.

    Raises:
        DataError: A column is missing, a time is naive, or a won deal breaks the won-deal rule.
        ValueError: ``score_by`` or ``capacity`` is not one of the accepted values.
    """
    _check_score_by(score_by)
    capacity_per_week = _capacity_per_week(capacity if capacity is not None else _plan_capacity(plan))
    if scores is not None and scores.as_of != as_of:
        raise ValueError(f"scores were taken at {scores.as_of.isoformat()}, not at as_of {as_of.isoformat()}")
    taken = scores if scores is not None else score(plan, data, as_of=as_of)
    on_spark = engine.is_spark(taken.frame) and _scale.spark_frames(data, ["leads", "deals"]) is not None
    frame = taken.frame.select("lead_id", *_SCORE_COLUMNS) if on_spark else taken.to_frame()
    # The scores go with their leads, a kind of their own (on Spark, and on one machine for a mapping).
    given = {**data, _SCORES: frame} if isinstance(data, Mapping) else data
    local = None if on_spark else frame  # the map shipped to Spark's workers holds no Spark frame

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        scored = local
        if isinstance(part, Mapping) and _SCORES in part:
            part = dict(part)
            scored = part.pop(_SCORES)
        assert scored is not None
        return _calibration_map(part, scored, as_of=as_of, score_by=score_by)

    if on_spark:
        reads = {
            "leads": ["id", "created_at"],
            "deals": ["id", "lead_id", "stage", "amount", "amount_currency", "close_date"],
            _SCORES: ["lead_id", *_SCORE_COLUMNS],
        }
        partials, spark = _scale.lead_run(given, fn, _TABLES, reads)
    else:
        partials, spark = engine.run(given, fn, _TABLES, kind="leads", key="id", columns=()), False
    totals = partials.merged("totals").row(0, named=True)
    arrivals = _per_week(totals["seen"], totals["first"], as_of)  # leads a week
    deciles = _deciles(
        partials.rows("by_score"),
        leads=totals["leads"],
        won=totals["won"],
        per_week=arrivals,
        capacity_per_week=capacity_per_week,
        spark=spark,
    )
    return _finish(
        deciles,
        partials.merged("grades"),
        totals,
        per_week=arrivals,
        capacity_per_week=capacity_per_week,
        score_by=score_by,
    )


def _plan_capacity(plan: AlignmentPlan) -> CapacityCommitment | None:
    return plan.sla.sales.capacity if plan.sla is not None else None


def _check_score_by(score_by: str) -> None:
    if score_by not in ("total", "fit", "engagement"):
        raise ValueError(f"score_by must be 'total', 'fit' or 'engagement', not {score_by!r}")


def _capacity_per_week(capacity: CapacityCommitment | int | None) -> float | None:
    if capacity is None:
        return None
    if isinstance(capacity, CapacityCommitment):
        return capacity.count / WEEKS_PER_PERIOD[capacity.period]
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(
            f"capacity must be a CapacityCommitment or a whole number of leads a week >= 1, not {capacity!r}"
        )
    return float(capacity)


def leads_per_week(created: pl.Series, as_of: datetime) -> float:
    """Leads created on or before ``as_of`` per week, from the first of them to ``as_of`` (at least a week).

    Examples:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
        >>> leads_per_week(pl.Series([t, t, t]), datetime(2026, 10, 15, tzinfo=timezone.utc))
        1.5
    """
    if as_of.tzinfo is None:
        raise DataError("as_of must be timezone-aware", field="as_of")
    seen = created.filter(created <= as_of)
    first = seen.min()
    assert first is None or isinstance(first, datetime)
    return _per_week(seen.len(), first, as_of)


def _per_week(seen: int, first: datetime | None, as_of: datetime) -> float:
    """``seen`` leads created from ``first`` to ``as_of``, a week (at least one week)."""
    if not seen or first is None:
        return 0.0
    return seen / max((as_of - first) / timedelta(weeks=1), 1.0)


# --------------------------------------------------------------------------------------------------
# Map: the leads of a partition counted per score and grade. Merge: sums. Finalise: ranks and rates.

#: The kind Spark's scores travel as beside the records, and the columns of them the map reads.
_SCORES = "_scores"
_SCORE_COLUMNS = ("fit", "engagement", "grade", "mql")

_I64, _F64 = pl.Int64(), pl.Float64()

#: The partial tables: the leads and won leads per distinct score (kept: as many as the leads at worst,
#: so Spark ranks them), per grade, and the totals with the leads created by ``as_of``.
_TABLES: dict[str, engine.Partial] = {
    "by_score": engine.Partial({"score": _F64, "leads": _I64, "won": _I64}, kept=True),
    "grades": engine.Partial(
        {"grade": pl.String(), "leads": _I64, "won": _I64},
        keys=("grade",),
        aggs={"leads": "sum", "won": "sum"},
    ),
    "totals": engine.Partial(
        {"leads": _I64, "won": _I64, "mqls": _I64, "seen": _I64, "first": pl.Datetime("us", "UTC")},
        aggs={"leads": "sum", "won": "sum", "mqls": "sum", "seen": "sum", "first": "min"},
    ),
}

#: Per decile: its leads, won leads and score range, its part of twice the Mann-Whitney U, and the most
#: leads at or above a score whose MQL yield fits the capacity, with the smallest such score.
_DECILES: dict[str, pl.DataType] = {
    "decile": _I64,
    "leads": _I64,
    "won": _I64,
    "min_score": _F64,
    "max_score": _F64,
    "u2": _I64,
    "fit_above": _I64,
    "fit_score": _F64,
}


def _columns(frame: pl.DataFrame, won: pl.Series, score_by: ScoreBy) -> pl.DataFrame:
    """Each scored lead's ``score``, ``won``, ``grade`` and ``mql``.

    Raises:
        DataError: A lead has no ``score_by`` score.
    """
    predictor = pl.col("fit") + pl.col("engagement") if score_by == "total" else pl.col(score_by)
    columns = frame.select(
        score=predictor.cast(pl.Float64),
        won=pl.col("lead_id").is_in(won.implode()),
        grade=pl.col("grade").cast(pl.String),
        mql=pl.col("mql").fill_null(value=False),
    )
    if columns.get_column("score").null_count():
        raise DataError(f"a lead has no {score_by} score", kind="scores", field=score_by)
    return columns


def _counts(
    columns: pl.DataFrame, *, seen: int = 0, first: datetime | None = None
) -> dict[str, pl.DataFrame]:
    """The partial tables of the leads in ``columns`` (and ``seen`` leads created from ``first``)."""
    won = pl.col("won").sum().cast(pl.Int64)
    return {
        "by_score": columns.group_by("score").agg(leads=pl.len().cast(pl.Int64), won=won),
        "grades": columns.group_by("grade").agg(leads=pl.len().cast(pl.Int64), won=won),
        "totals": pl.DataFrame(
            [
                {
                    "leads": columns.height,
                    "won": int(columns.get_column("won").sum()),
                    "mqls": int(columns.get_column("mql").sum()),
                    "seen": seen,
                    "first": first,
                }
            ],
            schema=dict(_TABLES["totals"].schema),
        ),
    }


def _calibration_map(data: Any, frame: pl.DataFrame, *, as_of: datetime, score_by: ScoreBy) -> dict[str, Any]:
    """The partial tables of the scored leads in ``frame`` and the records in ``data`` (complete leads)."""
    won = won_deals(data, as_of=as_of).get_column("lead_id").drop_nulls().unique()
    leads = as_lazy(data, "leads", required=["id", "created_at"], reads=())
    check_aware(leads, ["created_at"], kind="leads")
    created = leads.to_native().select("created_at").filter(pl.col("created_at") <= as_of)
    seen, first = created.select(pl.len(), pl.col("created_at").min()).collect().row(0)
    return _counts(_columns(frame, won, score_by), seen=seen, first=first)


def _deciles(
    by_score: Any, *, leads: int, won: int, per_week: float, capacity_per_week: float | None, spark: bool
) -> pl.DataFrame:
    """The :data:`_DECILES` rows of the leads counted per score in ``by_score`` (polars or Spark rows).

    The distinct scores from high to low: ``above`` the leads at or above each, so its tie group starts at
    ``above - leads`` and falls in decile ``(above - leads) * 10 // leads_total + 1``; a won lead beats the
    lost leads below its score and ties half of those at it (twice U, in integers); a score fits the
    capacity when ``per_week * above / leads_total`` is at most it (the yield, computed as one machine
    always has).
    """
    if leads == 0:
        return pl.DataFrame(schema=_DECILES)
    lost = leads - won
    cap = None if capacity_per_week is None else capacity_per_week * (1 + 1e-12)
    if spark:
        return _spark_deciles(by_score, leads=leads, lost=lost, per_week=per_week, cap=cap)
    counted: pl.DataFrame = by_score
    ranked = (
        counted.group_by("score")
        .agg(pl.col("leads").sum(), pl.col("won").sum())
        .sort("score", descending=True)
        .with_columns(above=pl.col("leads").cum_sum(), lost_above=(pl.col("leads") - pl.col("won")).cum_sum())
    )
    fit = pl.lit(per_week) * pl.col("above") / leads <= cap if cap is not None else pl.lit(value=False)
    lost_below = lost - pl.col("lost_above")
    out = ranked.group_by(decile=(pl.col("above") - pl.col("leads")) * 10 // leads + 1).agg(
        pl.col("leads").sum(),
        pl.col("won").sum(),
        min_score=pl.col("score").min(),
        max_score=pl.col("score").max(),
        u2=(pl.col("won") * (2 * lost_below + pl.col("leads") - pl.col("won"))).sum(),
        fit_above=pl.col("above").filter(fit).max(),
        fit_score=pl.col("score").filter(fit).min(),
    )
    return out.select(pl.col(c).cast(t) for c, t in _DECILES.items()).sort("decile")


def _spark_deciles(
    by_score: Any, *, leads: int, lost: int, per_week: float, cap: float | None
) -> pl.DataFrame:
    """:func:`_deciles` on Spark: the scores summed per value and ranked there; one row per decile read.

    The ranks are running sums over the distinct scores from high to low (:func:`engine.running_totals`:
    ranges of scores spread over the shuffle partitions), so no task holds every distinct score; the
    summed scores are persisted for its three jobs and released after.
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    summed = by_score.groupBy("score").agg(F.sum("leads").alias("leads"), F.sum("won").alias("won")).persist()
    try:
        ranked = engine.running_totals(
            summed,
            "score",
            {"above": F.col("leads"), "lost_above": F.col("leads") - F.col("won")},
            descending=True,
        )
        fit = (
            (F.lit(per_week) * F.col("above") / F.lit(leads) <= F.lit(cap))
            if cap is not None
            else F.lit(False)
        )
        lost_below = F.lit(lost) - F.col("lost_above")
        out = ranked.groupBy(F.expr(f"(above - leads) * 10 div {leads} + 1").alias("decile")).agg(
            F.sum("leads").alias("leads"),
            F.sum("won").alias("won"),
            F.min("score").alias("min_score"),
            F.max("score").alias("max_score"),
            F.sum(F.col("won") * (F.lit(2) * lost_below + F.col("leads") - F.col("won"))).alias("u2"),
            F.max(F.when(fit, F.col("above"))).alias("fit_above"),
            F.min(F.when(fit, F.col("score"))).alias("fit_score"),
        )
        rows = engine.to_polars(out)
    finally:
        summed.unpersist()
    return rows.select(pl.col(c).cast(t) for c, t in _DECILES.items()).sort("decile")


def _calibration(
    frame: pl.DataFrame,
    won: Collection[str] | pl.Series,
    *,
    leads_per_week: float,
    capacity_per_week: float | None,
    score_by: ScoreBy = "total",
) -> Calibration:
    """The calibration of a :class:`LeadScores` frame against the lead ids with a won deal (the core)."""
    _check_score_by(score_by)
    ids = won if isinstance(won, pl.Series) else pl.Series("lead_id", sorted(won), dtype=pl.String)
    counts = _counts(_columns(frame, ids, score_by))
    totals = counts["totals"].row(0, named=True)
    deciles = _deciles(
        counts["by_score"],
        leads=totals["leads"],
        won=totals["won"],
        per_week=leads_per_week,
        capacity_per_week=capacity_per_week,
        spark=False,
    )
    grades = counts["grades"].sort("grade", nulls_last=True)
    return _finish(
        deciles,
        grades,
        totals,
        per_week=leads_per_week,
        capacity_per_week=capacity_per_week,
        score_by=score_by,
    )


def _finish(
    deciles: pl.DataFrame,
    grades: pl.DataFrame,
    totals: Mapping[str, Any],
    *,
    per_week: float,
    capacity_per_week: float | None,
    score_by: ScoreBy,
) -> Calibration:
    """The calibration from the merged counts (the driver's part: every float is computed here)."""
    n, wins, mqls = int(totals["leads"]), int(totals["won"]), int(totals["mqls"])
    base = wins / n if n else float("nan")
    lift = _lift(deciles, base)
    brier = float("nan")
    if n:
        terms = 0.0
        for count, hits, rate in lift.select("leads", "won", "conversion").iter_rows():
            terms += hits * (1.0 - rate) ** 2 + (count - hits) * rate**2
        brier = terms / n
    auc = float("nan")
    if 0 < wins < n:
        auc = int(deciles.get_column("u2").sum()) / 2 / (wins * (n - wins))
    threshold, at_threshold = None, None
    fits = deciles.get_column("fit_above").drop_nulls()
    if capacity_per_week is not None and fits.len():
        threshold = float(deciles.get_column("fit_score").min())  # type: ignore[arg-type]
        at_threshold = per_week * int(fits.max()) / n  # type: ignore[arg-type]
    current = per_week * mqls / n if n else 0.0
    return Calibration(
        score_by=score_by,
        leads=n,
        won=wins,
        base_rate=base,
        auc=auc,
        brier=brier,
        brier_reference=base * (1.0 - base) if n else float("nan"),
        lift=lift,
        by_grade=grades.select("grade", "leads", "won").with_columns(
            conversion=pl.col("won") / pl.col("leads")
        ),
        leads_per_week=per_week,
        capacity_per_week=capacity_per_week,
        recommended_threshold=threshold,
        recommended_mqls_per_week=at_threshold,
        current_mqls_per_week=current,
        notes=_notes(
            n, wins, capacity=capacity_per_week, threshold=threshold, at=at_threshold, current=current
        ),
    )


def _lift(deciles: pl.DataFrame, base: float) -> pl.DataFrame:
    """Leads, wins, conversion, lift, score range and cumulative share of wins per non-empty decile."""
    total = deciles.get_column("won").sum()
    conversion = pl.col("won") / pl.col("leads")
    return deciles.select(
        "decile",
        "leads",
        "won",
        conversion=conversion,
        lift=conversion / base if base > 0 else pl.lit(float("nan")),
        min_score="min_score",
        max_score="max_score",
        cumulative_won_share=pl.col("won").cum_sum() / total if total else pl.lit(float("nan")),
    )


def _notes(
    n: int, wins: int, *, capacity: float | None, threshold: float | None, at: float | None, current: float
) -> tuple[str, ...]:
    notes = ["the Brier score uses each decile's conversion in the same leads (in sample, optimistic)"]
    if n == 0 or wins in (0, n):
        notes.append("AUC is undefined: it needs leads that won and leads that did not")
    if capacity is None:
        notes.append("no capacity: set sla.sales.capacity or pass capacity= for a threshold recommendation")
    elif threshold is None:
        notes.append(
            f"no threshold keeps MQLs at or below {capacity:.1f} a week: even the top score yields more"
        )
    elif current > capacity:
        notes.append(
            f"the current MQL rule yields {current:.1f} MQLs a week, more than the {capacity:.1f} sales "
            f"committed to work; a threshold of {threshold:g} yields {at:.1f}"
        )
    return tuple(notes)
