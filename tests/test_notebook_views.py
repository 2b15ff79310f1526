"""Notebook views (issue 18): what a person reads in a notebook cell, checked as a person would read it.

One test per card on hand-built input (the plan, the dataset, the check, the SLA report, the scorecard,
the funnel targets), then two sweeps over the public API: every public result class has a
``_repr_html_`` and a short ``__repr__`` of its own, and every one of them, built on the example plan and
data, gives well-formed, script-free HTML and a text repr of a few short lines.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs
import pytest

import smarketing as sm
from smarketing.attribution import Journeys, compare
from smarketing.datasets import synthetic
from smarketing.journey import diff
from smarketing.rules import DOCS_URL, AreaScore, CheckReport, Diagnostic
from smarketing.testing.fixtures import example_dataset

ROOT = Path(__file__).resolve().parent.parent
PLAN = sm.load_plan(ROOT / "examples" / "plan.yaml")
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

# -- reading HTML as a browser would -----------------------------------------------------------------------

_VOID = frozenset({"br", "hr", "img", "meta", "input", "col", "wbr", "link", "source"})


class _Balance(HTMLParser):
    """Checks that every opened tag is closed in order, and collects the text and the links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            self.links += [v or "" for k, v in attrs if k == "href"]
        if any(k.startswith("on") for k, _ in attrs):
            self.problems.append(f"event handler on <{tag}>")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(page: str) -> _Balance:
    """Parse ``page``; fail on unbalanced tags, scripts or event handlers. The parser keeps the text."""
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert not parser.problems, parser.problems[:5]
    assert not parser.stack, f"never closed: {parser.stack}"
    assert "script" not in parser.tags
    assert "javascript:" not in page.lower()
    return parser


def text_of(page: str) -> str:
    """The words a person sees, spaces collapsed."""
    return re.sub(r"\s+", " ", " ".join(read(page).text)).strip()


def short(text: str, *, lines: int = 30, width: int = 160) -> None:
    rows = text.splitlines()
    assert len(rows) <= lines, f"{len(rows)} lines:\n{text[:500]}"
    assert all(len(r) <= width for r in rows), max(rows, key=len)


# -- the check card ----------------------------------------------------------------------------------------

RULES_PAGE = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
ANCHORS = set(re.findall(r"\{ #([a-z0-9-]+) \}", RULES_PAGE))


def _report(*diagnostics: Diagnostic) -> CheckReport:
    area = AreaScore(area="sla", weight=15, points=10, checked=True, errors=0, warnings=1, infos=1)
    return CheckReport(
        plan="Acme <FY27>", file="plan.yaml", diagnostics=diagnostics, score=93, areas=(area,), rules=()
    )


def test_the_check_card_says_no_findings_when_clean() -> None:
    page = _report()._repr_html_()
    words = text_of(page)
    assert "no findings" in words
    assert "score 93 / 100" in words
    assert "Acme <FY27>" in words
    assert "Acme <FY27>" not in page
    assert "<table" not in page  # no empty table


def test_the_check_card_links_codes_to_their_docs_entry_and_shows_the_fix() -> None:
    found = (
        Diagnostic(
            code="S001",
            severity="warning",
            area="sla",
            message="first response within 48 business hours is <slow>",
            path="sla.sales.first_response.within_hours",
            location="plan.yaml:42",
            hint="agree on 4 business hours or less",
            url="https://smarketing.readthedocs.io/en/latest/rules/#s001",
        ),
        Diagnostic(code="S002", severity="info", area="sla", message="no tiers", url=None),
    )
    page = _report(*found)._repr_html_()
    parsed = read(page)
    words = text_of(page)
    header = re.search(r"<thead>(.*?)</thead>", page)
    assert header is not None
    assert list(re.findall(r">([a-z]+)</th>", header[1])) == [
        "severity",
        "code",
        "where",
        "message",
        "fix",
    ]
    assert "agree on 4 business hours or less" in words
    assert "first response within 48 business hours is <slow>" in words
    assert "plan.yaml:42" in words
    assert "sla.sales.first_response.within_hours" in words
    assert parsed.links == ["https://smarketing.readthedocs.io/en/latest/rules/#s001"]
    for link in parsed.links:
        assert link.partition("#")[2] in ANCHORS
    # Messages read left to right (notebooks right-align cells unless told otherwise).
    message_cell = re.search(r"<td([^>]*)>first response within", page)
    assert message_cell is not None
    assert "text-align:left" in message_cell[1]


def test_every_code_of_a_real_check_links_to_an_anchor_of_the_rules_page() -> None:
    report = sm.check(sm.load_plan(ROOT / "examples" / "misaligned.yaml"))
    links = read(report._repr_html_()).links
    assert links
    assert len(links) == len(report.diagnostics)
    ours = [link for link in links if link.startswith(DOCS_URL)]
    assert ours
    assert {link.partition("#")[2] for link in ours} <= ANCHORS
    # A plugin rule documents itself at the link it registers; the card links there.
    plugins = {d.url for d in report.diagnostics if d.url and not d.url.startswith(DOCS_URL)}
    assert set(links) - set(ours) == plugins


# -- the plan card -----------------------------------------------------------------------------------------


def test_the_plan_card_lists_the_teams_the_sla_with_units_the_kpis_and_the_score() -> None:
    plan = PLAN.model_copy(update={"name": "Fernbrook & <Co>"})
    page = plan._repr_html_()
    words = text_of(page)
    assert "Fernbrook & <Co>" in words
    assert "<Co>" not in page
    assert "check score 100 / 100" in words
    for team in PLAN.teams:
        assert team.name in words
    assert "business time in Europe/Berlin" in words
    assert "first response within 4 business hours" in words
    assert "6 attempts within 10 business days" in words
    assert "at least 70.0% of handed-off leads accepted" in words
    assert "450 leads reach mql per month" in words
    assert "1,500,000.00 EUR" in words
    assert "35.0%" in words
    assert "sales 70%, marketing 30%" in words
    assert "Marketing Qualified Lead (marketing) → Sales Accepted Lead (sales)" in words


def test_the_plan_repr_is_one_line() -> None:
    text = repr(PLAN)
    assert "\n" not in text
    assert len(text) < 200
    assert text.startswith("AlignmentPlan(name='Fernbrook Analytics FY2027', teams=3")
    assert str(PLAN) == text


# -- the dataset card --------------------------------------------------------------------------------------


def _small_dataset() -> sm.Dataset:
    t = datetime(2026, 10, 1, 9, tzinfo=UTC)
    return sm.Dataset.from_records(
        leads=[sm.Lead(id="L1", created_at=t), sm.Lead(id="L2", created_at=t + timedelta(days=3))],
        deals=[
            sm.Deal(
                id="D1",
                lead_id="L1",
                amount=sm.Money("24000", "EUR"),
                stage="won",
                created_at=t + timedelta(days=5),
                close_date=date(2026, 10, 20),
            )
        ],
    )


def test_the_dataset_card_counts_each_kind_and_shows_the_time_span_and_a_few_rows() -> None:
    data = _small_dataset()
    page = data._repr_html_()
    words = text_of(page)
    assert "3 records, from 2026-10-01 09:00 UTC to 2026-10-06 09:00 UTC" in words
    assert "leads 2 2026-10-01 09:00 UTC 2026-10-04 09:00 UTC" in words
    assert "deals 1" in words
    assert "accounts 0 - -" in words
    assert "D1 L1 24,000.00 EUR won" in words  # the amount to its minor unit, in its currency
    assert "%" not in words  # an amount is not a rate
    assert repr(data) == "Dataset(leads=2, deals=1, from 2026-10-01 09:00 UTC to 2026-10-06 09:00 UTC)"


def test_a_big_dataset_shows_a_few_rows_only() -> None:
    t = datetime(2026, 10, 1, 9, tzinfo=UTC)
    data = sm.Dataset.from_records(leads=[sm.Lead(id=f"L{i}", created_at=t) for i in range(500)])
    page = data._repr_html_()
    assert "leads (first 3 of 500)" in text_of(page)
    assert page.count("<tr>") < 20
    short(repr(data), lines=1)


# -- the SLA card ------------------------------------------------------------------------------------------


def _utc(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def _sla_data() -> dict[str, list[Any]]:
    return {
        "leads": [
            sm.Lead(id="L1", created_at=_utc(1, 8), owner="nina.brandt"),
            sm.Lead(id="L2", created_at=_utc(1, 8), owner="felix.roth", grade="A"),
        ],
        "stage_events": [
            sm.StageEvent(lead_id=x, source="mql", to="sal", time=_utc(5, 8)) for x in ("L1", "L2")
        ],
        "activities": [
            sm.Activity(id="A1", lead_id="L1", person="nina.brandt", time=_utc(5, 11), type="call")
        ],
    }


def test_the_sla_card_shows_times_in_the_plan_zone_and_hours_as_business_hours() -> None:
    report = sm.evaluate_sla(PLAN, _sla_data(), as_of=_utc(9, 12))
    words = text_of(report._repr_html_())
    assert "SLA as of 2026-10-09 14:00 CEST" in words
    # Handed off at 08:00 UTC on 5 October: 10:00 in Berlin.
    assert "handed off (Europe/Berlin)" in words
    assert "2026-10-05 10:00 CEST" in words
    assert "4.0 business hours" in words  # L1's target
    assert "L2" in words
    assert "breached" in words
    assert "Sales: follow-up by team" in words
    assert "Marketing: MQL volume and quality by period" in words
    assert "70%" in words  # the acceptance marketing committed to, as a percentage
    assert "+00:00" not in words  # no raw ISO times in UTC
    short(repr(report), lines=3, width=400)


def test_the_sla_card_says_no_breaches_when_there_are_none() -> None:
    report = sm.evaluate_sla(PLAN, {}, as_of=_utc(9, 12))
    assert "no breaches" in text_of(report._repr_html_())


# -- the scorecard and the funnel targets ------------------------------------------------------------------


def test_the_scorecard_card_shows_attainment_and_units() -> None:
    card = sm.scorecard(PLAN, example_dataset(), period="2026-10", as_of=AS_OF)
    words = text_of(card._repr_html_())
    assert "attainment" in words
    # MQL to SQL: 40% against 35%, attainment 114.3%; money in EUR; hours named.
    assert "MQL to SQL conversion rate marketing, sales 2026-10 40.0% 35.0% 114.3% on track" in words
    assert "24,000.00 EUR 600,000.00 EUR 4.0% off track" in words
    assert "1.5 hours 4.0 hours" in words


def test_the_funnel_targets_card_names_the_goal_in_money_and_each_stage() -> None:
    targets = sm.targets_from_revenue(
        goal=sm.Money("100000", "EUR"),
        avg_deal_size=sm.Money("20000", "EUR"),
        conversion_rates={"mql": Decimal("0.5"), "sql": Decimal("0.5")},
    )
    words = text_of(targets._repr_html_())
    assert "revenue goal 100,000.00 EUR" in words
    assert "won deals needed 5" in words
    assert "mql 20" in words
    assert "sql 10" in words


# -- one duration rule -------------------------------------------------------------------------------------


def test_durations_read_the_same_in_text_and_html_and_business_time_is_named() -> None:
    t = datetime(2026, 10, 5, 8, tzinfo=UTC)  # a Monday
    events = [
        sm.StageEvent(lead_id="a", to="lead", time=t),
        sm.StageEvent(
            lead_id="a", source="lead", to="mql", time=t + timedelta(days=1, minutes=59, seconds=1)
        ),
    ]
    report = sm.funnel(PLAN.journey, events, stages=["lead", "mql"], calendar=PLAN.sla.calendar)
    text, page = repr(report), text_of(report._repr_html_())
    assert "25.0 hours" in text
    assert "25.0 hours" in page
    assert "1d 00:59:01" not in text + page
    business = re.findall(r"[0-9.]+ business hours", page)
    assert business
    assert all(b in text for b in business)


# -- every public result -----------------------------------------------------------------------------------


def _public_classes() -> dict[str, type]:
    """Public attrs classes of the public modules (no private part in the path), by qualified name."""
    found: dict[str, type] = {}
    for module in pkgutil.walk_packages(sm.__path__, "smarketing."):
        if any(part.startswith("_") for part in module.name.split(".")):
            continue
        mod = importlib.import_module(module.name)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if isinstance(obj, type) and attrs.has(obj) and obj.__module__.startswith("smarketing."):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _results() -> dict[str, type]:
    """What the public verbs return: attrs classes with ``to_frame``, and the two nouns people show."""
    classes = {k: c for k, c in _public_classes().items() if callable(getattr(c, "to_frame", None))}
    classes["smarketing.records.dataset.Dataset"] = sm.Dataset
    classes["smarketing.plan.model.AlignmentPlan"] = sm.AlignmentPlan
    return classes


def _own(cls: type, name: str) -> bool:
    """Whether ``name`` is written in smarketing (not generated by attrs or inherited from pydantic)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            code = getattr(vars(klass)[name], "__code__", None)
            return code is not None and "/smarketing/" in code.co_filename.replace("\\", "/")
    return False


def test_every_public_result_has_its_own_html_and_text_repr() -> None:
    results = _results()
    assert len(results) >= 20
    missing = sorted(k for k, c in results.items() if not _own(c, "_repr_html_") or not _own(c, "__repr__"))
    assert not missing, missing


@attrs.frozen
class _Inputs:
    """The example plan's synthetic data and what several results are built from, made once."""

    data: sm.Dataset
    scores: sm.LeadScores
    journeys: Journeys
    ledger: sm.RewardLedger


FX = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])


@pytest.fixture(scope="module")
def inputs() -> _Inputs:
    data = synthetic(PLAN, seed=3, n_leads=300)
    return _Inputs(
        data=data,
        scores=sm.score(PLAN, data, as_of=AS_OF),
        journeys=Journeys.from_touchpoints(data, fx=FX, currency="EUR"),
        ledger=sm.compute_rewards(data, PLAN, fx=FX, period="2026-10", as_of=date(2026, 10, 31)),
    )


def _examples(i: _Inputs) -> dict[str, Callable[[], Any]]:
    data, scores, journeys, ledger = i.data, i.scores, i.journeys, i.ledger
    other = PLAN.journey.model_copy(update={"stages": PLAN.journey.stages[:-1]})
    return {
        "smarketing.persona.results.Agreement": lambda: sm.agreement(PLAN, data, resamples=50),
        "smarketing.attribution.results.Attribution": lambda: sm.attribute(journeys, model="linear"),
        "smarketing.persona.results.Calibration": lambda: sm.calibrate(PLAN, data, as_of=AS_OF),
        "smarketing.feedback.campaigns.CampaignComparison": lambda: sm.compare_campaigns(
            PLAN, data, as_of=AS_OF, fx=FX
        ),
        "smarketing.rules.report.CheckReport": lambda: sm.check(PLAN),
        "smarketing.digest.result.Digest": lambda: sm.digest(
            PLAN, data, period="2026-10", as_of=AS_OF, fx=FX
        ),
        "smarketing.attribution.results.Comparison": lambda: compare(journeys, models=["first", "linear"]),
        "smarketing.journey.conformance_check.ConformanceReport": lambda: sm.conformance(PLAN.journey, data),
        "smarketing.feedback.dispositions.DispositionReport": lambda: sm.dispositions(
            PLAN, data, as_of=AS_OF
        ),
        "smarketing.feedback.customer.FeedbackReport": lambda: sm.customer_feedback(PLAN, data, as_of=AS_OF),
        "smarketing.journey.funnels.FunnelReport": lambda: sm.funnel(PLAN.journey, data, as_of=AS_OF),
        "smarketing.kpi.targets.FunnelTargets": lambda: sm.targets_from_revenue(
            goal=sm.Money("100000", "EUR"),
            avg_deal_size=sm.Money("20000", "EUR"),
            conversion_rates={"mql": Decimal("0.5")},
        ),
        "smarketing.journey.map_diff.JourneyDiff": lambda: diff(PLAN.journey, other),
        "smarketing.persona.score.LeadExplanation": lambda: scores.explain(data.leads["id"][0]),
        "smarketing.persona.score.LeadScores": lambda: scores,
        "smarketing.connectors.report.LoadReport": lambda: sm.load_connector(
            "files", path=ROOT / "examples" / "crm", time_zone="Europe/Berlin", thousands=","
        ).load()[1],
        "smarketing.persona.match.PersonaMatch": lambda: sm.match(PLAN, data, as_of=AS_OF),
        "smarketing.rewards.ledger.RewardLedger": lambda: ledger,
        "smarketing.sla.report.SLAReport": lambda: sm.evaluate_sla(PLAN, data, as_of=AS_OF),
        "smarketing.report.result.Report": lambda: sm.report(PLAN, data, as_of=AS_OF, fx=FX, charts=False),
        "smarketing.kpi.scorecards.Scorecard": lambda: sm.scorecard(
            PLAN, data, period="2026-10", as_of=AS_OF, fx=FX
        ),
        "smarketing.persona.results.Segments": lambda: sm.segment(PLAN, data),
        "smarketing.feedback.sourced.SourcedInfluenced": lambda: sm.sourced_influenced(
            PLAN, data, as_of=AS_OF, fx=FX
        ),
        "smarketing.rewards.statements.Statement": lambda: ledger.statements()[0],
        "smarketing.glossary.lint.TextLint": lambda: sm.lint_text(PLAN.glossary, "Our SQLs and MQLs <b>"),
        "smarketing.feedback.waterfalls.Waterfall": lambda: sm.waterfall(PLAN, data, as_of=AS_OF, fx=FX),
        "smarketing.records.dataset.Dataset": lambda: data,
        "smarketing.plan.model.AlignmentPlan": lambda: PLAN,
    }


#: Every public result, by qualified name (the test below keeps this list complete).
RESULTS = (
    "smarketing.attribution.results.Attribution",
    "smarketing.attribution.results.Comparison",
    "smarketing.connectors.report.LoadReport",
    "smarketing.digest.result.Digest",
    "smarketing.feedback.campaigns.CampaignComparison",
    "smarketing.feedback.customer.FeedbackReport",
    "smarketing.feedback.dispositions.DispositionReport",
    "smarketing.feedback.sourced.SourcedInfluenced",
    "smarketing.feedback.waterfalls.Waterfall",
    "smarketing.glossary.lint.TextLint",
    "smarketing.journey.conformance_check.ConformanceReport",
    "smarketing.journey.funnels.FunnelReport",
    "smarketing.journey.map_diff.JourneyDiff",
    "smarketing.kpi.scorecards.Scorecard",
    "smarketing.kpi.targets.FunnelTargets",
    "smarketing.persona.match.PersonaMatch",
    "smarketing.persona.results.Agreement",
    "smarketing.persona.results.Calibration",
    "smarketing.persona.results.Segments",
    "smarketing.persona.score.LeadExplanation",
    "smarketing.persona.score.LeadScores",
    "smarketing.plan.model.AlignmentPlan",
    "smarketing.records.dataset.Dataset",
    "smarketing.report.result.Report",
    "smarketing.rewards.ledger.RewardLedger",
    "smarketing.rewards.statements.Statement",
    "smarketing.rules.report.CheckReport",
    "smarketing.sla.report.SLAReport",
)


def test_every_public_result_has_an_example_here(inputs: _Inputs) -> None:
    assert sorted(_results()) == sorted(RESULTS) == sorted(_examples(inputs))


@pytest.mark.parametrize("name", RESULTS)
def test_every_public_result_reads_at_a_glance(inputs: _Inputs, name: str) -> None:
    result = _examples(inputs)[name]()
    page = result._repr_html_()
    read(page)
    assert page == result._repr_html_()  # deterministic
    # Short: a bounded number of lines, however large the data (tables stop at their row limit); a line
    # is at most a summary sentence or two.
    short(repr(result), lines=70, width=400)
