"""How well lead scores predict won deals, and the threshold sales' capacity calls for: :func:`calibrate`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.frames import as_lazy, check_aware
from smarketing.persona import _stats
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
      score of the base rate for every lead (the reference a useful score must beat).
    - **Conversion by grade**.
    - **Threshold from capacity**: sales commits to work ``N`` leads a period (``sla.sales.capacity``, or
      ``capacity=``: a :class:`~smarketing.sla.CapacityCommitment` or a number of leads a week), converted
      to a week by :data:`WEEKS_PER_PERIOD`. Leads arrive at ``leads_per_week``: the leads created on or
      before ``as_of`` over the weeks from the first of them to ``as_of`` (at least one week). A threshold
      ``t`` yields ``leads_per_week * (share of scored leads with score >= t)`` MQLs a week; the
      recommendation is the smallest observed score whose yield is at most ``N`` a week (none when even the
      highest score yields more). Beside it, the MQLs a week the plan's current MQL rule yields (the
      ``mql`` flag of the scores), so a contradiction with the SLA shows.

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
    per_week = _capacity_per_week(capacity if capacity is not None else _plan_capacity(plan))
    if scores is not None and scores.as_of != as_of:
        raise ValueError(f"scores were taken at {scores.as_of.isoformat()}, not at as_of {as_of.isoformat()}")
    frame = (scores if scores is not None else score(plan, data, as_of=as_of)).to_frame()
    won = won_deals(data, as_of=as_of).get_column("lead_id").drop_nulls().unique()
    leads = as_lazy(data, "leads", required=["id", "created_at"], reads=())
    check_aware(leads, ["created_at"], kind="leads")
    created = leads.to_native().select("created_at").collect().get_column("created_at")
    return _calibration(
        frame,
        won,
        leads_per_week=leads_per_week(created, as_of),
        capacity_per_week=per_week,
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
    if seen.is_empty():
        return 0.0
    first = seen.min()
    assert isinstance(first, datetime)
    weeks = max((as_of - first) / timedelta(weeks=1), 1.0)
    return seen.len() / weeks


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
    predictor = pl.col("fit") + pl.col("engagement") if score_by == "total" else pl.col(score_by)
    columns = frame.select(
        score=predictor.cast(pl.Float64), won=pl.col("lead_id").is_in(ids.implode()), grade="grade", mql="mql"
    )
    if columns.get_column("score").null_count():
        raise DataError(f"a lead has no {score_by} score", kind="scores", field=score_by)
    scores = columns.get_column("score").to_numpy()
    outcome = columns.get_column("won").to_numpy()
    n, wins = scores.size, int(outcome.sum())
    base = wins / n if n else float("nan")
    decile = _stats.deciles(scores)
    lift = _lift(decile, scores, outcome, base)
    rate_of = np.zeros(11)
    rate_of[lift.get_column("decile").to_numpy()] = lift.get_column("conversion").fill_nan(0.0).to_numpy()
    threshold, at_threshold = _threshold(scores, leads_per_week, capacity_per_week)
    mqls = int(columns.get_column("mql").fill_null(value=False).sum())
    current = leads_per_week * mqls / n if n else 0.0
    return Calibration(
        score_by=score_by,
        leads=n,
        won=wins,
        base_rate=base,
        auc=_stats.roc_auc(scores, outcome),
        brier=_stats.brier(rate_of[decile], outcome),
        brier_reference=base * (1.0 - base) if n else float("nan"),
        lift=lift,
        by_grade=_by_grade(columns),
        leads_per_week=leads_per_week,
        capacity_per_week=capacity_per_week,
        recommended_threshold=threshold,
        recommended_mqls_per_week=at_threshold,
        current_mqls_per_week=current,
        notes=_notes(
            n, wins, capacity=capacity_per_week, threshold=threshold, at=at_threshold, current=current
        ),
    )


def _lift(decile: Any, scores: Any, outcome: Any, base: float) -> pl.DataFrame:
    """Leads, wins, conversion, lift, score range and cumulative share of wins per non-empty decile."""
    frame = (
        pl.DataFrame({"decile": decile, "score": scores, "won": outcome})
        .group_by("decile")
        .agg(
            leads=pl.len(),
            won=pl.col("won").sum(),
            min_score=pl.col("score").min(),
            max_score=pl.col("score").max(),
        )
        .sort("decile")
    )
    total = frame.get_column("won").sum()
    conversion = pl.col("won") / pl.col("leads")
    return frame.select(
        pl.col("decile").cast(pl.Int64),
        pl.col("leads").cast(pl.Int64),
        pl.col("won").cast(pl.Int64),
        conversion=conversion,
        lift=conversion / base if base > 0 else pl.lit(float("nan")),
        min_score="min_score",
        max_score="max_score",
        cumulative_won_share=pl.col("won").cum_sum() / total if total else pl.lit(float("nan")),
    )


def _by_grade(columns: pl.DataFrame) -> pl.DataFrame:
    return (
        columns.group_by("grade")
        .agg(leads=pl.len().cast(pl.Int64), won=pl.col("won").sum().cast(pl.Int64))
        .with_columns(conversion=pl.col("won") / pl.col("leads"))
        .sort("grade", nulls_last=True)
    )


def _threshold(scores: Any, per_week: float, capacity: float | None) -> tuple[float | None, float | None]:
    """The smallest observed score whose weekly MQL yield is at most ``capacity``, and that yield."""
    if capacity is None or scores.size == 0:
        return None, None
    values, counts = np.unique(-scores, return_counts=True)  # highest score first
    at_or_above = np.cumsum(counts)
    weekly = per_week * at_or_above / scores.size
    fits = np.flatnonzero(weekly <= capacity * (1 + 1e-12))
    if fits.size == 0:
        return None, None
    last = int(fits[-1])  # yields only grow as the threshold falls, so the last fit is the smallest score
    return float(-values[last]), float(weekly[last])


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
