"""The alignment report (issue 18): every section from its analysis, one page that loads nothing, the same
bytes for the same inputs, hostile text escaped, and sections the plan or the data cannot give explained.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import yaml
from tests.report.conftest import AS_OF, FX, HOSTILE, ROOT
from tests.test_notebook_views import read, text_of

import smarketing as sm
from smarketing.errors import DataError
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.report import Report, Section
from smarketing.testing.fixtures import example_dataset

SECTION_IDS = [
    "plan",
    "journey",
    "conformance",
    "sla",
    "scorecard",
    "waterfall",
    "attribution",
    "personas",
    "rewards",
]


def external_references(page: str) -> list[str]:
    """Everything in ``page`` that would load or lead to something outside it (``data:`` images are in it)."""
    found: list[str] = []
    for tag in re.findall(r"<[A-Za-z][^>]*>", page):  # escaped text holds no raw "<"
        found += re.findall(r"<(?:script|link|iframe|img|object|embed|base)\b", tag, re.I)
        for value in re.findall(r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]*)""", tag):
            if not value.startswith(("#", "data:image/")):
                found.append(value)
    found += re.findall(r"@import", page)
    found += [u for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", page) if not u.startswith("#")]
    # Namespace names are identifiers, never fetched; anything else naming http(s) is a reference out.
    found += re.findall(r"(?<!xmlns=\")(?<!xmlns:xlink=\")https?://[^\s\"'<)]*", page)
    return found


# -- sections ------------------------------------------------------------------------------------------------


def test_every_section_is_computed_in_order(full_report: Report) -> None:
    assert [s.id for s in full_report.sections] == SECTION_IDS
    assert {s.id: s.status for s in full_report.sections} == dict.fromkeys(SECTION_IDS, "ok")
    assert full_report.failed == ()


def test_each_section_shows_its_analysis_card_and_chart(full_report: Report) -> None:
    page = full_report.html()
    for section_id in SECTION_IDS:
        body = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
        assert body is not None, section_id
        assert '<div class="card">' in body[1], section_id
        if section_id != "plan":  # the plan and its check are cards only
            assert '<figure class="chart"' in body[1], section_id
    words = text_of(page)
    for heading in (
        "Check of Fernbrook Analytics FY2027",  # the check's card
        "The funnel: leads reaching each step in order",
        "Each lead's moves against the journey",
        "Sales per handed-off lead, marketing per period",
        "The joint KPIs for 2026-10",
        "Inquiry to won, by monthly cohort",
        "Share of won-deal conversions by channel, model by model",
        "Marketing's MQL call against sales' acceptance",
        "Reward statement 2026-10:",
    ):
        assert heading in words, heading


def test_the_header_names_plan_instant_zone_and_data_span(
    full_report: Report, synthetic_data: Dataset
) -> None:
    words = text_of(full_report.html())
    assert "Fernbrook Analytics FY2027 Alignment report" in words
    assert "As of 2026-11-01 01:00 CET" in words
    assert "Time zone Europe/Berlin" in words
    assert "Period 2026-10" in words
    first = synthetic_data.leads["created_at"].min()
    assert isinstance(first, datetime)
    assert full_report.span[0] is not None
    assert full_report.span[0] <= first
    assert re.search(r"Data \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? CES?T to \d{4}-\d\d-\d\d", words)


def test_the_contents_link_to_every_section(full_report: Report) -> None:
    page = full_report.html()
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page, re.S)
    assert nav is not None
    assert re.findall(r'href="#([a-z]+)"', nav[1]) == SECTION_IDS
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids repeat: every chart's ids must be prefixed"
    assert all(f'id="{s}"' in page for s in SECTION_IDS)


def test_the_page_is_well_formed_and_loads_nothing(full_report: Report) -> None:
    page = full_report.html()
    read(page)  # balanced tags, no script, no event handler, no javascript: URL
    assert page.startswith("<!DOCTYPE html>\n")
    # the journey map, one chart per analysis: two in attribution and two in personas
    assert page.count('<figure class="chart"') == 1 + 1 + 1 + 1 + 1 + 1 + 2 + 2 + 1
    assert external_references(page) == []
    for prolog in ("<?xml", "<!DOCTYPE svg", "<metadata>"):
        assert prolog not in page


def test_the_external_reference_check_catches_references() -> None:
    for bad in (
        '<img src="https://cdn.example/x.png">',
        '<a href="http://example.com">x</a>',
        '<link rel="stylesheet" href="//cdn.example/s.css">',
        "<style>@import 'x.css';</style>",
        '<div style="background:url(https://x/y.png)"></div>',
        '<image xlink:href="file:///etc/passwd"/>',
    ):
        assert external_references(bad), bad
    inline = (
        '<svg xmlns="http://www.w3.org/2000/svg"><use href="#a"/><image href="data:image/png;base64,AA"/>'
    )
    assert external_references(inline + "&lt;img src=x&gt;</svg>") == []


def test_links_to_the_rules_docs_are_kept_as_text(example_plan: AlignmentPlan) -> None:
    found = sm.check(example_plan, data=example_dataset())
    assert "https://" in found._repr_html_()  # the notebook card links each code to its docs entry
    page = sm.report(example_plan, example_dataset(), charts=False).html()
    assert "https://" not in page
    assert "D011" in text_of(page)


def test_the_print_style_sheet(full_report: Report) -> None:
    page = full_report.html()
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    printed = style[1][style[1].index("@media print") :]
    assert "nav { display: none; }" in printed
    assert "break-before: page" in printed
    assert re.search(r"figure, table[^{]*\{ break-inside: avoid", printed)
    assert "@page" in printed


# -- determinism ---------------------------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_bytes(
    example_plan: AlignmentPlan, synthetic_data: Dataset, full_report: Report, tmp_path: Path
) -> None:
    again = sm.report(example_plan, synthetic_data, as_of=AS_OF, fx=FX)
    assert again == full_report
    assert again.html() == full_report.html()
    first, second = full_report.write(tmp_path / "a.html"), again.write(tmp_path / "b.html")
    assert first.read_bytes() == second.read_bytes() == full_report.html().encode("utf-8")


def test_reordered_records_give_the_same_page(example_plan: AlignmentPlan, synthetic_data: Dataset) -> None:
    frames = {k: getattr(synthetic_data, k) for k in ("leads", "stage_events", "touchpoints", "deals")}
    shuffled = Dataset(
        **{k: v.sample(fraction=1.0, shuffle=True, seed=3) for k, v in frames.items()},
        **{k: getattr(synthetic_data, k) for k in ("accounts", "activities", "dispositions", "feedback")},
    )
    a = sm.report(example_plan, synthetic_data, as_of=AS_OF, fx=FX, charts=False)
    b = sm.report(example_plan, shuffled, as_of=AS_OF, fx=FX, charts=False)
    assert a.html() == b.html()


# -- hostile text --------------------------------------------------------------------------------------------


def test_plan_and_data_text_is_escaped(hostile_plan: AlignmentPlan, synthetic_data: Dataset) -> None:
    channel = '<img src=x onerror="alert(2)">'
    touches = synthetic_data.touchpoints.with_columns(
        pl.when(pl.col("channel") == "webinar").then(pl.lit(channel)).otherwise("channel").alias("channel")
    )
    kinds = ("accounts", "leads", "stage_events", "activities", "deals", "dispositions", "feedback")
    data = Dataset(touchpoints=touches, **{k: getattr(synthetic_data, k) for k in kinds})
    result = sm.report(hostile_plan, data, as_of=AS_OF, fx=FX)
    page = result.html()
    read(page)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "Fernbrook <b>" not in page
    assert external_references(page) == []
    words = text_of(page)
    assert HOSTILE in words  # shown as text, in the plan's card and the charts by team
    assert 'Fernbrook <b>&amp; "Co"</b>' in words
    assert channel in words  # in the attribution card and chart
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert repr(result).startswith("Report('Fernbrook <b>&amp; \"Co\"</b>'")


def test_a_chart_matplotlib_cannot_draw_is_a_note(
    example_plan: AlignmentPlan, synthetic_data: Dataset
) -> None:
    # matplotlib reads text between dollar signs as math; an unknown command cannot be drawn.
    odd = pl.when(pl.col("channel") == "webinar").then(pl.lit(r"$\foo{$")).otherwise("channel")
    kinds = ("accounts", "leads", "stage_events", "activities", "deals", "dispositions", "feedback")
    data = Dataset(
        touchpoints=synthetic_data.touchpoints.with_columns(odd.alias("channel")),
        **{k: getattr(synthetic_data, k) for k in kinds},
    )
    result = sm.report(example_plan, data, as_of=AS_OF, fx=FX)
    attribution = next(s for s in result.sections if s.id == "attribution")
    assert attribution.status == "ok"
    (note,) = attribution.notes
    assert note.startswith("chart 'attribution models by channel' not drawn: ")
    assert len(note) > len("chart 'attribution models by channel' not drawn: ")
    assert r"$\foo{$" in text_of(attribution.html)  # the card still shows the channel


# -- sections the plan or the data cannot give ---------------------------------------------------------------


def _bare_plan() -> AlignmentPlan:
    raw = yaml.safe_load((ROOT / "examples" / "plan.yaml").read_text(encoding="utf-8"))
    for key in ("sla", "personas", "rewards", "kpis", "targets"):
        raw.pop(key, None)
    return AlignmentPlan.model_validate(raw)


def test_sections_that_cannot_be_computed_say_why() -> None:
    data = example_dataset()
    kinds = ("accounts", "leads", "stage_events", "activities", "deals", "dispositions")
    untouched = Dataset(**{k: getattr(data, k) for k in kinds})
    result = sm.report(_bare_plan(), untouched, charts=False)
    assert {s["id"]: (s["status"], s["notes"]) for s in result.to_dict()["sections"]} == {
        "plan": ("ok", []),
        "journey": ("ok", []),
        "conformance": ("ok", []),
        "sla": ("not computed", ["the plan has no SLA"]),
        "scorecard": ("not computed", ["the plan has no KPIs"]),
        "waterfall": ("ok", []),
        "attribution": ("not computed", ["no touchpoints up to as_of"]),
        "personas": ("not computed", ["the plan defines no personas"]),
        "rewards": ("not computed", ["the plan has no reward plan"]),
    }
    page = result.html()
    read(page)
    words = text_of(page)
    assert "4. Both sides of the SLA Not computed: the plan has no SLA" in words
    assert "Personas, lead scores and agreement (not computed)" in words  # in the contents
    assert repr(result).endswith("sections=9, not_computed=5, failed=0)")


def test_a_section_whose_analysis_refuses_the_data_is_failed_and_shown(example_plan: AlignmentPlan) -> None:
    # The example data's deal D1 is won by a sales rep who is no participant of the reward plan.
    result = sm.report(example_plan, example_dataset(), period="2026-10", charts=False)
    (failed,) = result.failed
    assert failed.id == "rewards"
    assert failed.notes[0].startswith("deal D1: credit for team 'sales'")
    page = result.html()
    assert '<p class="failed">Failed on the data: deal D1: credit' in page
    assert "The reward statements (failed)" in text_of(page)
    assert [s.status for s in result.sections if s.id != "rewards"] == ["ok"] * 8


def test_a_scorecard_kpi_without_exchange_rates_is_a_note(
    example_plan: AlignmentPlan, synthetic_data: Dataset
) -> None:
    result = sm.report(example_plan, synthetic_data, as_of=AS_OF, charts=False)
    card = next(s for s in result.sections if s.id == "scorecard")
    assert card.status == "not computed"
    assert "without exchange rates" in card.notes[0]


# -- options and errors --------------------------------------------------------------------------------------


def test_as_of_and_period_default_to_the_data(example_plan: AlignmentPlan) -> None:
    data = example_dataset()
    result = sm.report(example_plan, data, charts=False)
    assert result.as_of == result.span[1]
    assert result.period == "2026-10"
    assert sm.report(example_plan, data, as_of=AS_OF, charts=False).period == "2026-10"  # 1 Nov: October


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"as_of": datetime(2026, 11, 1)}, "as_of must be timezone-aware"),
        ({"period": "2026-13"}, "2026-13"),
        ({"period": "October"}, "October"),
    ],
)
def test_bad_options_are_data_errors(
    example_plan: AlignmentPlan, options: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        sm.report(example_plan, example_dataset(), charts=False, **options)  # type: ignore[arg-type]


def test_data_without_times_needs_as_of(example_plan: AlignmentPlan) -> None:
    with pytest.raises(DataError, match="give as_of"):
        sm.report(example_plan, Dataset(), charts=False)
    result = sm.report(example_plan, Dataset(), as_of=AS_OF, charts=False)
    assert result.span == (None, None)
    assert "Data no dated records" in text_of(result.html())


def test_rewards_need_a_reward_period(example_plan: AlignmentPlan, synthetic_data: Dataset) -> None:
    result = sm.report(example_plan, synthetic_data, as_of=AS_OF, period="2026-W43", fx=FX, charts=False)
    rewards = next(s for s in result.sections if s.id == "rewards")
    assert rewards.notes == ("rewards are paid for a month, a quarter or a year, not for 2026-W43",)
    assert next(s for s in result.sections if s.id == "scorecard").status == "ok"


def test_without_matplotlib_charts_name_the_extra(
    example_plan: AlignmentPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails as if not installed
    with pytest.raises(ModuleNotFoundError, match=r"smarketing\[plot\]"):
        sm.report(example_plan, example_dataset())
    page = sm.report(example_plan, example_dataset(), charts=False).html()
    assert '<figure class="chart" aria-label="the journey map">' in page  # drawn without matplotlib
    assert page.count('<figure class="chart"') == 1


# -- the result object ---------------------------------------------------------------------------------------


def test_repr_to_dict_and_notebook_view(full_report: Report) -> None:
    assert repr(full_report) == (
        "Report('Fernbrook Analytics FY2027', as_of='2026-11-01 01:00 CET', period='2026-10', "
        "sections=9, not_computed=0, failed=0)"
    )
    summary = full_report.to_dict()
    assert summary["as_of"] == "2026-11-01T00:00:00+00:00"
    assert summary["time_zone"] == "Europe/Berlin"
    assert [s["id"] for s in summary["sections"]] == SECTION_IDS
    view = full_report._repr_html_()
    read(view)
    assert view.startswith('<div class="smarketing-report">')
    assert "<html" not in view
    # A notebook cell must not restyle the notebook: the only style rules are the charts', kept to them.
    rules = re.findall(r"<style[^>]*>(.*?)</style>", view, re.S)
    assert rules
    assert all(re.match(r'\[id\^="[a-z]+-\d+-"\] \*\{', r) for r in rules), rules[:3]


def test_write_replaces_atomically_and_leaves_no_temporary_file(full_report: Report, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    assert full_report.write(target) == target
    assert target.read_bytes() == full_report.html().encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(FileNotFoundError):
        full_report.write(tmp_path / "missing" / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_sections_are_frozen_values(full_report: Report) -> None:
    section = full_report.sections[0]
    assert isinstance(section, Section)
    with pytest.raises(AttributeError):
        section.status = "failed"  # type: ignore[misc]
    assert Section(id="x", title="X", status="ok", html='<a href="https://e.com">docs</a>').html == "docs"


def test_a_kpi_whose_formula_cannot_compile_is_left_out_with_a_note(
    example_plan: AlignmentPlan, synthetic_data: Dataset
) -> None:
    first = example_plan.kpis[0]
    broken = first.model_copy(update={"id": "broken", "unit": "count", "formula": "sqls / mqls"})
    plan = example_plan.model_copy(update={"kpis": [*example_plan.kpis, broken]})
    result = sm.report(plan, synthetic_data, as_of=AS_OF, fx=FX, charts=False)
    card = next(s for s in result.sections if s.id == "scorecard")
    assert card.status == "ok"
    assert card.notes == (
        "KPI broken: left out: col 1: the formula gives a ratio, but the KPI's unit is 'count'",
    )
