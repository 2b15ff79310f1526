"""The waterfall data rule (D015): fires on a cohort outside the plan's band, quiet otherwise."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan, load_plan

from .conftest import example_data

Frames = dict[str, pl.DataFrame]


@pytest.fixture(scope="module")
def frames(example_plan: AlignmentPlan) -> Frames:
    return synthetic(example_plan, seed=15, n_leads=400).frames()


def _found(plan: AlignmentPlan, frames: Frames) -> list[sm.Diagnostic]:
    return list(sm.check(plan, data=frames, select=["D015"]).diagnostics)


def _plan(**waterfall: Any) -> AlignmentPlan:
    d = example_data()
    d["waterfall"] = {**d["waterfall"], **waterfall}
    return load_plan(d)


def test_quiet_on_the_example_and_its_data(example_plan: AlignmentPlan, frames: Frames) -> None:
    assert _found(example_plan, frames) == []


def test_quiet_without_records_or_bands(example_plan: AlignmentPlan, frames: Frames) -> None:
    assert _found(example_plan, {}) == []
    d = example_data()
    del d["waterfall"]
    assert _found(load_plan(d), frames) == []


def test_fires_below_a_band_naming_step_period_rate_and_band(frames: Frames) -> None:
    plan = _plan(conversion={"sal": {"low": "99%"}}, min_leads=1, min_age_days=0)
    found = _found(plan, frames)
    assert found
    d = found[0]
    assert d.code == "D015"
    assert d.severity == "warning"
    assert d.url.endswith("#d015")
    assert "sal to sql converted" in d.message
    assert "below the plan's floor 99.0%" in d.message
    assert d.message.startswith("cohort 20")
    # Young cohorts wait: with a year to age, nothing is judged.
    assert _found(_plan(conversion={"sal": {"low": "99%"}}, min_leads=1, min_age_days=400), frames) == []
    # Small steps wait too.
    assert _found(_plan(conversion={"sal": {"low": "99%"}}, min_leads=10_000, min_age_days=0), frames) == []


def test_fires_above_a_band(frames: Frames) -> None:
    plan = _plan(conversion={"mql": {"low": "1%", "high": "2%"}}, min_leads=1, min_age_days=0)
    found = _found(plan, frames)
    assert found
    assert all("above the plan's band 1.0% to 2.0%" in d.message for d in found)
