"""Tests for the attributes synthetic leads and accounts get from their personas and grades."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

N = 6000
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
ATTRIBUTES = {
    "leads": ("title", "seniority", "industry", "company_size", "region", "country"),
    "accounts": ("industry", "company_size", "region", "country"),
}


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=3, n_leads=N)


def _matched(plan: AlignmentPlan, data: Dataset) -> pl.DataFrame:
    match = sm.persona.match(plan, data).leads.select("lead_id", pl.col("persona").alias("matched"))
    labels = data.leads.select(pl.col("id").alias("lead_id"), "persona", "grade", "account_id")
    return labels.join(match, on="lead_id")


def test_labelled_leads_mostly_match_their_persona_and_unlabelled_ones_none(
    example_plan: AlignmentPlan, data: Dataset
) -> None:
    leads = _matched(example_plan, data)
    labelled = leads.filter(pl.col("persona").is_not_null())
    own = (labelled["matched"] == labelled["persona"]).fill_null(value=False).mean()
    assert own is not None
    assert 0.8 < float(own) < 0.95  # about one in seven misses a criterion on purpose (less: votes)
    stray = leads.filter(pl.col("persona").is_null())["matched"].is_not_null().mean()
    assert stray is not None
    assert float(stray) < 0.1


def test_better_grades_have_more_fit(example_plan: AlignmentPlan, data: Dataset) -> None:
    scores = sm.persona.score(example_plan, data, as_of=AS_OF).to_frame().select("lead_id", "fit")
    leads = _matched(example_plan, data).join(scores, on="lead_id")
    fit = (
        leads.filter(pl.col("matched") == pl.col("persona"))
        .group_by("persona", "grade")
        .agg(pl.col("fit").mean())
    )
    for persona in example_plan.personas:
        means = dict(fit.filter(pl.col("persona") == persona.id).select("grade", "fit").iter_rows())
        a_band = next(b.min_fit for b in persona.scoring.grades if b.grade == "A")
        assert means["A"] > means["B"] >= means["C"]
        assert means["A"] >= 0.75 * float(a_band)  # most A leads hold the rules worth A's min_fit


def test_accounts_agree_with_their_leads(data: Dataset) -> None:
    joined = data.leads.join(data.accounts, left_on="account_id", right_on="id", suffix="_account")
    for column in ATTRIBUTES["accounts"]:
        assert joined[column].equals(joined[f"{column}_account"], check_names=False)
    deals = data.deals.join(data.accounts, left_on="account_id", right_on="id")
    american = deals["region"] == "north_america"
    assert ((deals["amount_currency"] == "USD") == american).all()


def test_attributes_have_a_stream_of_their_own(example_plan: AlignmentPlan) -> None:
    # Other size criteria and fit rules change the attributes, nothing else.
    ops, finance = example_plan.personas
    criteria = ops.firmographics.model_copy(update={"company_size": sm.persona.IntRange(min=2000)})
    rule = sm.persona.ScoreRule(field="company_size", op="gte", value=3000, points=40)
    ops = ops.model_copy(
        update={"firmographics": criteria, "scoring": ops.scoring.model_copy(update={"fit": [rule]})}
    )
    other = example_plan.model_copy(update={"personas": [ops, finance]})
    a = synthetic(example_plan, seed=8, n_leads=2000)
    b = synthetic(other, seed=8, n_leads=2000)
    for kind, frame in a.frames().items():
        changed = {c for c in frame.columns if not frame[c].equals(b.frames()[kind][c])}
        assert changed <= set(ATTRIBUTES.get(kind, ())), kind
    assert "company_size" in {c for c in a.leads.columns if not a.leads[c].equals(b.leads[c])}
    sizes = b.leads.filter(pl.col("persona") == "ops-director")["company_size"]
    assert (sizes >= 2000).mean() > 0.5


PLAIN_PERSONAS = """\
name: Plain Co
teams:
  - {id: mkt, name: Marketing, function: marketing}
  - {id: sls, name: Sales, function: sales}
personas:
  - {id: anyone, name: Anyone}
  - id: far-away
    name: Far away
    firmographics: {regions: [apac], company_size: {max: 50}}
    roles: {titles: [buyer], seniorities: [owner]}
journey:
  stages:
    - {id: mql, name: MQL, owner: mkt, kind: mql}
    - {id: won, name: Won, owner: sls, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""


def test_personas_without_criteria_or_scoring_and_unknown_places_still_generate() -> None:
    plan = sm.load_plan(PLAIN_PERSONAS)
    data = synthetic(plan, seed=1, n_leads=500)
    leads = _matched(plan, data)
    assert set(leads["persona"].drop_nulls()) == {"anyone", "far-away"}
    anyone = leads.filter(pl.col("persona") == "anyone")
    assert (anyone["matched"] == "anyone").all()  # no criteria: every lead matches
    far = data.leads.filter(pl.col("persona") == "far-away")
    assert (far["company_size"] <= 50).mean() > 0.5
    assert (far["region"] == "apac").mean() > 0.5  # a region outside the built-in ones, without countries
