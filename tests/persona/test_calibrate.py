"""calibrate: AUC, Brier, lift by decile, conversion by grade and the threshold from sales' capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from tests.persona import calibration_reference as reference

import smarketing as sm
from smarketing.persona.calibrate import WEEKS_PER_PERIOD, _calibration, leads_per_week
from smarketing.sla import CapacityCommitment

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _frame(
    fit: list[float], engagement: list[float], grades: list[str | None], mql: list[bool]
) -> pl.DataFrame:
    n = len(fit)
    return pl.DataFrame(
        {
            "lead_id": [f"L{i:02d}" for i in range(n)],
            "persona": ["ops"] * n,
            "fit": fit,
            "engagement": engagement,
            "fit_grade": grades,
            "band": [None] * n,
            "grade": grades,
            "mql": mql,
        },
        schema={
            "lead_id": pl.String,
            "persona": pl.String,
            "fit": pl.Float64,
            "engagement": pl.Float64,
            "fit_grade": pl.String,
            "band": pl.String,
            "grade": pl.String,
            "mql": pl.Boolean,
        },
    )


# Ten leads; totals 90, 80, 70, 70, 50, 40, 30, 20, 10, 0; L00, L01 and L03 won.
FIT = [50.0, 40.0, 40.0, 30.0, 30.0, 20.0, 20.0, 10.0, 10.0, 0.0]
ENGAGEMENT = [40.0, 40.0, 30.0, 40.0, 20.0, 20.0, 10.0, 10.0, 0.0, 0.0]
GRADES = ["A", "A", "A", "B", "B", "B", "C", "C", None, None]
MQL = [True, True, True, True, True, False, False, False, False, False]
WON = {"L00", "L01", "L03"}


def test_against_hand_and_scikit_learn() -> None:
    frame = _frame(FIT, ENGAGEMENT, GRADES, MQL)
    result = _calibration(frame, WON, leads_per_week=100.0, capacity_per_week=35.0)
    totals = [f + e for f, e in zip(FIT, ENGAGEMENT, strict=True)]
    outcome = [f"L{i:02d}" in WON for i in range(10)]
    assert result.auc == pytest.approx(roc_auc_score(outcome, totals))
    # Positives 90, 80, 70 against 7 negatives; 70 ties with one of them: 7 + 7 + 6.5 of 21 pairs.
    assert result.auc == pytest.approx(20.5 / 21)
    assert (result.leads, result.won, result.base_rate) == (10, 3, 0.3)
    # Deciles: one lead each, except the tie at 70 (L02, L03), both in decile 3; decile 4 is empty.
    lift = result.lift
    assert lift.get_column("decile").to_list() == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert lift.get_column("leads").to_list() == [1, 1, 2, 1, 1, 1, 1, 1, 1]
    assert lift.get_column("won").to_list() == [1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert lift.get_column("lift").to_list()[:3] == pytest.approx([1 / 0.3, 1 / 0.3, 0.5 / 0.3])
    assert lift.get_column("cumulative_won_share").to_list()[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    # Brier of the decile rates: only the tie decile (rate 0.5) is wrong, by 0.5 for each of its two leads.
    assert result.brier == pytest.approx(2 * 0.25 / 10)
    assert result.brier_reference == pytest.approx(0.21)
    assert result.by_grade.rows() == [
        ("A", 3, 2, 2 / 3),
        ("B", 3, 1, 1 / 3),
        ("C", 2, 0, 0.0),
        (None, 2, 0, 0.0),
    ]
    # 100 leads a week; capacity 35: a threshold of 70 takes 4 leads in 10 (40 a week), 80 takes 2 (20).
    assert result.recommended_threshold == 80.0
    assert result.recommended_mqls_per_week == pytest.approx(20.0)
    assert result.current_mqls_per_week == pytest.approx(50.0)
    assert any("more than the 35.0 sales committed" in n for n in result.notes)
    assert "a threshold of 80 yields 20.0" in result.summary
    assert result.to_dict()["lift"][0]["decile"] == 1
    assert "decile" in repr(result)
    assert "<table>" in result._repr_html_()


def test_the_threshold_at_the_capacity_exactly_and_none_when_ties_overflow() -> None:
    frame = _frame(FIT, ENGAGEMENT, GRADES, MQL)
    exactly = _calibration(frame, WON, leads_per_week=100.0, capacity_per_week=40.0)
    assert exactly.recommended_threshold == 70.0
    everyone = _calibration(frame, WON, leads_per_week=100.0, capacity_per_week=1000.0)
    assert everyone.recommended_threshold == 0.0
    tied = _frame([10.0] * 4, [0.0] * 4, [None] * 4, [True] * 4)
    result = _calibration(tied, {"L00"}, leads_per_week=10.0, capacity_per_week=5.0)
    assert result.recommended_threshold is None
    assert any("even the top score" in n for n in result.notes)
    assert result.lift.get_column("decile").to_list() == [1]
    no_capacity = _calibration(frame, WON, leads_per_week=100.0, capacity_per_week=None)
    assert no_capacity.recommended_threshold is None
    assert any("no capacity" in n for n in no_capacity.notes)


def test_score_by_fit_or_engagement() -> None:
    frame = _frame(FIT, ENGAGEMENT, GRADES, MQL)
    outcome = [f"L{i:02d}" in WON for i in range(10)]
    for by, values in (("fit", FIT), ("engagement", ENGAGEMENT)):
        result = _calibration(frame, WON, leads_per_week=1.0, capacity_per_week=None, score_by=by)
        assert result.auc == pytest.approx(roc_auc_score(outcome, values))
    with pytest.raises(ValueError, match="score_by"):
        _calibration(frame, WON, leads_per_week=1.0, capacity_per_week=None, score_by="size")  # type: ignore[arg-type]


def test_no_leads_and_one_class_are_nan_not_errors() -> None:
    empty = _calibration(_frame([], [], [], []), set(), leads_per_week=0.0, capacity_per_week=10.0)
    assert np.isnan(empty.auc)
    assert np.isnan(empty.brier)
    assert empty.lift.height == 0
    assert empty.recommended_threshold is None
    repr(empty)
    none_won = _calibration(
        _frame(FIT, ENGAGEMENT, GRADES, MQL), set(), leads_per_week=1.0, capacity_per_week=None
    )
    assert np.isnan(none_won.auc)
    assert np.isnan(none_won.lift.get_column("lift")[0])
    assert any("AUC is undefined" in n for n in none_won.notes)


def test_row_order_does_not_matter() -> None:
    frame = _frame(FIT, ENGAGEMENT, GRADES, MQL)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=5)
    a = _calibration(frame, WON, leads_per_week=100.0, capacity_per_week=35.0).to_dict()
    b = _calibration(shuffled, WON, leads_per_week=100.0, capacity_per_week=35.0).to_dict()
    assert a == b


def test_leads_per_week_over_the_window() -> None:
    created = pl.Series([datetime(2026, 10, 4, tzinfo=UTC)] * 8 + [datetime(2026, 12, 1, tzinfo=UTC)])
    # 8 leads by 1 November, over the 4 weeks since 4 October; the December lead is after as_of.
    assert leads_per_week(created, AS_OF) == pytest.approx(2.0)
    assert leads_per_week(created.head(0), AS_OF) == 0.0
    # A window shorter than a week counts as a week.
    assert leads_per_week(pl.Series([datetime(2026, 10, 30, tzinfo=UTC)] * 3), AS_OF) == pytest.approx(3.0)


def test_capacity_commitment_in_the_plan(example_plan: sm.AlignmentPlan) -> None:
    data = example_plan.model_dump(by_alias=True, exclude_none=True)
    data["sla"]["sales"]["capacity"] = {"count": 120}
    plan = sm.AlignmentPlan.model_validate(data)
    assert plan.sla is not None
    assert plan.sla.sales.capacity == CapacityCommitment(count=120, period="week")
    assert WEEKS_PER_PERIOD["month"] == pytest.approx(4.348, abs=1e-3)
    with pytest.raises(ValueError, match="count"):
        CapacityCommitment(count=0)


@pytest.mark.parametrize("capacity", [0, -3, 2.5, True])
def test_bad_capacity_or_score_by_is_refused_before_scoring(
    example_plan: sm.AlignmentPlan, capacity: object
) -> None:
    with pytest.raises(ValueError, match="capacity must be"):
        sm.calibrate(example_plan, {}, as_of=AS_OF, capacity=capacity)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="score_by"):
        sm.calibrate(example_plan, {}, as_of=AS_OF, score_by="size")  # type: ignore[arg-type]


def test_calibrate_with_the_real_scores(example_plan: sm.AlignmentPlan) -> None:
    from smarketing.datasets import synthetic

    data = synthetic(example_plan, seed=3, n_leads=400)
    result = sm.persona.calibrate(example_plan, data, as_of=AS_OF, capacity=CapacityCommitment(count=40))
    assert result.leads == 400
    assert result.capacity_per_week == 40.0
    again = sm.persona.calibrate(example_plan, data, as_of=AS_OF, capacity=40)
    assert again.to_dict() == result.to_dict()
    scores = sm.score(example_plan, data, as_of=AS_OF)
    given = sm.persona.calibrate(example_plan, data, as_of=AS_OF, capacity=40, scores=scores)
    assert given.to_dict() == result.to_dict()
    with pytest.raises(ValueError, match="scores were taken at"):
        sm.persona.calibrate(example_plan, data, as_of=AS_OF - timedelta(days=1), scores=scores)


def test_the_grouped_counts_give_the_per_lead_definitions() -> None:
    # The calibration is computed from leads counted per distinct score (so it scales out); the per-lead
    # definitions of persona._stats are the reference: AUC exactly, the deciles' members, Brier to rounding.
    rng = np.random.default_rng(7)
    n = 400
    fit = rng.integers(0, 6, n).astype(float) * 10
    engagement = np.round(rng.exponential(12.0, n), 3)
    frame = _frame(list(fit), list(engagement), ["A"] * n, [bool(x) for x in rng.integers(0, 2, n)])
    won = {f"L{i:02d}" for i in range(n) if rng.random() < 0.1 + fit[i] / 100}
    result = _calibration(frame, won, leads_per_week=50.0, capacity_per_week=10.0)
    scores = fit + engagement
    outcome = np.array([f"L{i:02d}" in won for i in range(n)])
    assert result.auc == reference.roc_auc(scores, outcome)
    decile = reference.deciles(scores)
    members = (
        pl.DataFrame({"decile": decile, "won": outcome})
        .group_by("decile")
        .agg(leads=pl.len(), won=pl.col("won").sum())
    )
    assert sorted(members.rows()) == result.lift.select("decile", "leads", "won").rows()
    rate = dict(zip(result.lift.get_column("decile"), result.lift.get_column("conversion"), strict=True))
    assert result.brier == pytest.approx(reference.brier([rate[d] for d in decile], outcome), rel=1e-12)
