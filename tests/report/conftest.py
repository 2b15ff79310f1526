"""Reports built once per session: each runs every analysis and draws every chart (a few seconds)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
FX = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def synthetic_data(example_plan: AlignmentPlan) -> Dataset:
    """Small synthetic data on which every section of the example plan can be computed."""
    return synthetic(example_plan, seed=5, n_leads=400)


@pytest.fixture(scope="session")
def full_report(example_plan: AlignmentPlan, synthetic_data: Dataset) -> sm.Report:
    return sm.report(example_plan, synthetic_data, as_of=AS_OF, fx=FX)


@pytest.fixture(scope="session")
def hostile_plan(tmp_path_factory: pytest.TempPathFactory) -> AlignmentPlan:
    """The example plan with a script for a team name and markup in its name and description."""
    text = (ROOT / "examples" / "plan.yaml").read_text(encoding="utf-8")
    text = text.replace("Demand Generation", HOSTILE)
    text = re.sub(r"^name: .*$", 'name: "Fernbrook <b>&amp; \\"Co\\"</b>"', text, count=1, flags=re.M)
    path = tmp_path_factory.mktemp("hostile") / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return sm.load_plan(path)
