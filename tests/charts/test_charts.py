"""Charts: every ``.plot()`` draws the numbers of its result, and renders to the same SVG bytes every time.

The inputs are the hand-made example dataset (:mod:`smarketing.testing.fixtures`) on the example plan, and
a few results built by hand. Each chart is checked for its marks and labels (bar lengths, tick labels,
texts), not only for being there. Its SVG is pinned by digest in ``golden.json``; after a deliberate change
of a chart (or of matplotlib), regenerate with

    .venv/bin/python tests/charts/test_charts.py --update

and say in the commit what changed and why.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib.figure import Figure

import smarketing as sm
from smarketing import _charts
from smarketing.money import Money
from smarketing.records import Deal
from smarketing.rewards import RewardPlan, compute_rewards
from smarketing.testing.fixtures import AS_OF, EXAMPLE_INPUTS, example_dataset

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden.json")

PLAN = sm.load_plan(ROOT / "examples" / "plan.yaml")
DATA = example_dataset()
#: The steps the example leads walk (none of them was a subscriber or a bare lead first).
STEPS = ["mql", "sal", "sql", "opportunity", "customer"]


def _rewards() -> Any:
    # Two participants, a floor and one won deal split 75:25: every component has a known amount.
    plan = RewardPlan.model_validate(
        {
            "id": "v1",
            "currency": "EUR",
            "participants": [{"person": "ana"}, {"person": "bo"}],
            "floor": "100 EUR",
            "pool": {"rate": "10%"},
            "splits": [{"kind": "revenue", "shares": {"ana": "0.75", "bo": "0.25"}}],
        }
    )
    deal = Deal(
        id="D1",
        amount=Money("10000", "EUR"),
        stage="won",
        owner="ana",
        created_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
        close_date=date(2026, 10, 20),
    )
    return compute_rewards([deal], plan, period="2026-10", as_of=date(2026, 10, 31))


def _journeys(key: str) -> sm.attribution.Journeys:
    return sm.attribution.Journeys.from_touchpoints(DATA, key=key)


#: Every chart of the fixed input, by name: the golden digests and the determinism test run over these.
CHARTS: dict[str, Callable[[], Figure]] = {
    "funnel": lambda: sm.journey.funnel(PLAN.journey, DATA, stages=STEPS).plot(),
    "funnel-any-time": lambda: sm.journey.funnel(PLAN.journey, DATA, mode="any").plot(kind="time"),
    "conformance": lambda: sm.journey.conformance(PLAN.journey, DATA).plot(),
    "sla": lambda: sm.sla.evaluate_sla(PLAN, DATA, as_of=AS_OF).plot(),
    "scorecard": lambda: sm.kpi.scorecard(
        PLAN, DATA, period="2026-10", as_of=AS_OF, inputs=EXAMPLE_INPUTS
    ).plot(),
    "attribution-channel": lambda: sm.attribution.attribute(_journeys("channel"), model="linear").plot(),
    "attribution-team-models": lambda: sm.attribution.compare(
        _journeys("team"), models=["first", "last", "linear"]
    ).plot(),
    "rewards": lambda: _rewards().plot(),
    "waterfall": lambda: sm.feedback.waterfall(PLAN, DATA, as_of=AS_OF).plot(),
    "scores": lambda: sm.persona.score(PLAN, DATA, as_of=AS_OF).plot(),
    "agreement": lambda: sm.persona.agreement(PLAN, DATA).plot(),
}


def _ticks(labels: Any) -> list[str]:
    return [label.get_text() for label in labels]


def _widths(ax: Any, index: int = 0) -> list[float]:
    return [patch.get_width() for patch in ax.containers[index]]


def test_funnel_bars_split_reached_into_advanced_and_dropped_off() -> None:
    report = sm.journey.funnel(PLAN.journey, DATA, stages=STEPS)
    (ax,) = report.plot().axes
    assert _ticks(ax.get_yticklabels()) == list(report.steps)
    assert _widths(ax, 0) == [r.advanced for r in report.rows]
    assert _widths(ax, 1) == [r.drop_off for r in report.rows]
    labels = [t.get_text() for t in ax.texts]
    expected = [
        f"{r.reached:,}" + ("" if r.conversion is None else f" \u2192 {100 * r.conversion:.1f}% on")
        for r in report.rows
    ]
    assert labels == expected
    assert any(r.conversion is not None for r in report.rows)
    assert report.plot().get_suptitle() == "Funnel: leads reaching each step in order"


def test_funnel_by_group_draws_one_bar_per_group() -> None:
    report = sm.journey.funnel(PLAN.journey, DATA, leads=DATA, by="source", mode="any")
    (ax,) = report.plot().axes
    groups = list(dict.fromkeys(str(r.group) for r in report.rows))
    assert _ticks(ax.get_legend().get_texts()) == groups
    first = [r.reached for r in report.rows if str(r.group) == groups[0]]
    assert _widths(ax, 0) == first
    assert "in any order" in report.plot().get_suptitle()


def test_time_in_stage_is_in_days_without_a_calendar() -> None:
    report = sm.journey.funnel(PLAN.journey, DATA)
    (ax,) = report.plot(kind="time").axes
    assert ax.get_xlabel() == "days"
    medians = [0.0 if r.time_median is None else r.time_median.total_seconds() / 86400 for r in report.rows]
    assert _widths(ax) == pytest.approx(medians)
    with pytest.raises(ValueError, match="kind must be 'funnel' or 'time'"):
        report.plot(kind="bars")  # type: ignore[arg-type]


def test_conformance_shows_fitness_by_team_and_moves_by_kind() -> None:
    report = sm.journey.conformance(PLAN.journey, DATA)
    teams, kinds = report.plot().axes
    assert _ticks(teams.get_yticklabels()) == [t.team for t in report.by_team]
    assert _widths(teams) == [float(t.fitness or 0) for t in report.by_team]
    assert [t.get_text() for t in teams.texts] == [f"{t.fit:,} of {t.leads:,}" for t in report.by_team]
    assert _widths(kinds) == [v.count for v in report.violations]


def test_sla_plots_both_sides_by_week() -> None:
    report = sm.sla.evaluate_sla(PLAN, DATA, as_of=AS_OF)
    sales, marketing = report.plot().axes
    weeks = report.weekly.height
    assert [len(line.get_xdata()) for line in sales.get_lines()] == [weeks, weeks]
    assert _ticks(sales.get_legend().get_texts()) == ["first response in time", "disposition in time"]
    assert [p.get_height() for p in marketing.containers[0]] == report.weekly["delivered"].to_list()
    assert [p.get_height() for p in marketing.containers[1]] == report.weekly["accepted"].to_list()


def test_scorecard_draws_each_kpi_against_its_target() -> None:
    card = sm.kpi.scorecard(PLAN, DATA, period="2026-10", as_of=AS_OF, inputs=EXAMPLE_INPUTS)
    fig = card.plot(columns=2)
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == len(card.rows)
    for ax, row in zip(shown, card.rows, strict=True):
        assert ax.get_title().startswith(row.kpi.name)
        line, *target = ax.get_lines()
        assert list(line.get_xdata()) == [*row.history_periods, row.period]
        assert line.get_ydata()[-1] == pytest.approx(float(row.value))  # type: ignore[arg-type]
        if row.target is not None:
            assert target[0].get_ydata()[0] == pytest.approx(float(row.target))
    with pytest.raises(ValueError, match="columns must be at least 1"):
        card.plot(columns=0)


def test_attribution_bars_are_the_credited_conversions() -> None:
    result = sm.attribution.attribute(_journeys("channel"), model="linear")
    (ax,) = result.plot().axes
    assert _ticks(ax.get_yticklabels()) == result.keys
    assert _widths(ax) == pytest.approx([result.conversions[k] for k in result.keys])
    assert sum(_widths(ax)) == pytest.approx(result.total_conversions)


def test_models_side_by_side_by_team() -> None:
    comparison = sm.attribution.compare(_journeys("team"), models=["first", "last"])
    (ax,) = comparison.plot().axes
    frame = comparison.to_frame("share")
    assert _ticks(ax.get_yticklabels()) == frame["team"].to_list()
    assert _ticks(ax.get_legend().get_texts()) == ["first", "last"]
    assert _widths(ax, 1) == pytest.approx(frame["last"].to_list())
    with pytest.raises(ValueError, match="metric must be"):
        comparison.plot("value")  # type: ignore[arg-type]


def test_rewards_stack_components_and_label_exact_totals() -> None:
    ledger = _rewards()
    (ax,) = ledger.plot().axes
    assert _ticks(ax.get_yticklabels()) == ["ana", "bo"]
    frame = ledger.to_frame()
    components = sorted(set(frame["component"].to_list()))
    assert _ticks(ax.get_legend().get_texts()) == components
    stacked = [sum(p.get_width() for p in container) for container in ax.containers]
    assert sum(stacked) == pytest.approx(float(ledger.total().amount))
    assert [t.get_text() for t in ax.texts] == [str(v) for v in ledger.totals().values()]


def test_waterfall_bars_are_the_step_volumes() -> None:
    result = sm.feedback.waterfall(PLAN, DATA, as_of=AS_OF)
    (ax,) = result.plot().axes
    periods = list(dict.fromkeys(r.period for r in result.rows))
    steps = list(dict.fromkeys(r.step for r in result.rows))
    assert _ticks(ax.get_xticklabels()) == periods
    assert _ticks(ax.get_legend().get_texts()) == steps
    for container, step in zip(ax.containers, steps, strict=True):
        expected = [sum(r.volume for r in result.rows if r.period == p and r.step == step) for p in periods]
        assert [p.get_height() for p in container] == expected


def test_score_histograms_count_every_lead_with_a_persona() -> None:
    scores = sm.persona.score(PLAN, DATA, as_of=AS_OF)
    fit, engagement = scores.plot(bins=5).axes
    with_persona = scores.frame.filter(scores.frame["persona"].is_not_null()).height
    for ax in (fit, engagement):
        # Stacked: the top series' bars reach the total of both.
        tops = [p.get_y() + p.get_height() for p in ax.containers[-1]]
        assert sum(tops) == with_persona
    assert _ticks(fit.get_legend().get_texts()) == ["not MQL", "MQL"]


def test_agreement_writes_the_two_by_two_table() -> None:
    result = sm.persona.agreement(PLAN, DATA)
    (ax,) = result.plot().axes
    counts = [t.get_text() for t in ax.texts]
    assert counts == [f"{n:,}" for row in result.table for n in row]
    assert _ticks(ax.get_yticklabels()) == ["MQL", "not MQL"]


def test_agreement_by_group_adds_acceptance_per_group() -> None:
    result = sm.persona.agreement(PLAN, DATA, by="source")
    _, groups = result.plot().axes
    assert result.groups is not None
    assert len(groups.containers[0]) == result.groups.height
    assert groups.get_title() == "MQLs accepted by sales"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_two_renders_give_the_same_bytes(name: str) -> None:
    assert _charts.svg(CHARTS[name]()) == _charts.svg(CHARTS[name]())


def digests() -> dict[str, str]:
    """The sha256 of every chart's SVG, and the matplotlib version they were taken with."""
    out = {name: hashlib.sha256(_charts.svg(make()).encode()).hexdigest() for name, make in CHARTS.items()}
    return {"matplotlib": matplotlib.__version__, **out}


def test_golden_digests() -> None:
    golden = json.loads(GOLDEN.read_text())
    if golden["matplotlib"] != matplotlib.__version__:
        pytest.skip(
            f"golden digests were taken with matplotlib {golden['matplotlib']}, this is "
            f"{matplotlib.__version__}: review the charts, then python tests/charts/test_charts.py --update"
        )
    assert digests() == golden


def test_svg_keeps_labels_as_text_and_has_no_date() -> None:
    text = _charts.svg(CHARTS["conformance"]())
    assert "<dc:date>" not in text
    assert ">marketing<" in text
    assert ">Conformance to the journey map<" in text


def test_the_front_door_does_not_load_matplotlib() -> None:
    code = (
        "import sys, smarketing, smarketing.journey, smarketing.sla, smarketing.kpi, smarketing.persona, "
        "smarketing.attribution, smarketing.rewards, smarketing.feedback, smarketing.cli; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'smarketing\[plot\]'"):
        sm.journey.funnel(PLAN.journey, DATA).plot()


def test_no_figure_is_left_open_in_pyplot() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    for make in CHARTS.values():
        make()
    assert plt.get_fignums() == before


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/charts/test_charts.py --update")
    GOLDEN.write_text(json.dumps(digests(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
