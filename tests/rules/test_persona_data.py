"""The persona data rules (D008-D011): each fires on the gap it describes and is quiet on data that fits."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.rules import data_rules

from .conftest import example_data

Frames = dict[str, pl.DataFrame]


@pytest.fixture(scope="module")
def frames(example_plan: AlignmentPlan) -> Frames:
    return synthetic(example_plan, seed=15, n_leads=120).frames()


def _found(plan: AlignmentPlan, frames: Frames, code: str) -> list[sm.Diagnostic]:
    return list(sm.check(plan, data=frames, select=[code]).diagnostics)


def _plan(change: Any) -> AlignmentPlan:
    d = example_data()
    change(d)
    return load_plan(d)


@pytest.mark.parametrize("code", ["D008", "D009", "D010", "D011"])
def test_quiet_on_the_example_and_its_data(example_plan: AlignmentPlan, frames: Frames, code: str) -> None:
    assert _found(example_plan, frames, code) == []


@pytest.mark.parametrize("code", ["D008", "D009", "D010", "D011"])
def test_quiet_without_records(example_plan: AlignmentPlan, code: str) -> None:
    assert _found(example_plan, {}, code) == []


def test_d008_fires_when_sales_accepts_less_than_agreed(example_plan: AlignmentPlan, frames: Frames) -> None:
    events = frames["stage_events"]
    # Half the leads that reached the accepted stage never did: their histories stop before it.
    accepted = events.filter(pl.col("to") == "sal").get_column("lead_id").unique().sort()
    dropped = accepted.gather_every(2)
    cut = events.filter(~(pl.col("lead_id").is_in(dropped.implode()) & (pl.col("to") != "mql")))
    agreement = sm.agreement(example_plan, {**frames, "stage_events": cut})
    rate = agreement.overall.item(0, "acceptance")
    assert rate < 0.7
    (d,) = _found(example_plan, {**frames, "stage_events": cut}, "D008")
    assert d.severity == "warning"
    assert f"sales accepted {rate:.1%}" in d.message
    assert "the SLA agreed at least 70.0%" in d.message
    assert d.url.endswith("#d008")


def test_d009_fires_when_readiness_signals_never_show(frames: Frames) -> None:
    def unseen(d: dict[str, Any]) -> None:
        for persona in d["personas"]:
            for signal in persona["readiness_signals"]:
                signal["where"] = (
                    {"channel": "carrier_pigeon"} if signal["on"] == "touchpoint" else {"outcome": "x"}
                )

    plan = _plan(unseen)
    found = _found(plan, frames, "D009")
    scores = sm.score(plan, frames, as_of=frames["touchpoints"].get_column("time").max())
    fired = (
        scores.signals()
        .filter(pl.col("side") == "interest")
        .group_by("persona")
        .agg(pl.col("occurrences").sum())
    )
    expected = sorted(p for p, n in fired.iter_rows() if n > 0)
    assert expected  # the data does show interest
    assert sorted(d.message.split("'")[1] for d in found) == expected
    assert all("its readiness signals" in d.message and d.message.endswith("never") for d in found)


def test_d010_fires_when_mqls_outrun_sales_capacity(example_plan: AlignmentPlan, frames: Frames) -> None:
    def capacity(count: int, period: str) -> AlignmentPlan:
        return _plan(lambda d: d["sla"]["sales"].update(capacity={"count": count, "period": period}))

    (d,) = _found(capacity(1, "year"), frames, "D010")
    assert d.message.startswith("the personas' MQL rules yield 9.2 MQLs a year over the data (9 MQLs of 120")
    assert "more than the 1 a year sales committed to work" in d.message
    assert _found(capacity(500, "week"), frames, "D010") == []


def test_d011_fires_for_a_persona_no_lead_matches(frames: Frames) -> None:
    plan = _plan(lambda d: d["personas"][1]["firmographics"].update(industries=["aerospace"]))
    (d,) = _found(plan, frames, "D011")
    assert d.message.startswith("persona 'finance-lead' matches none of the 120 leads")


def test_the_data_rules_are_listed_in_order() -> None:
    assert [r.code for r in data_rules()] == [f"D{i:03}" for i in range(1, 16)]
