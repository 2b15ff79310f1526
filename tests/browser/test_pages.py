"""Pages in headless Chromium, seen as a person sees them (issue 18).

Each page is checked the same way: no console error, no request other than the page itself (everything
else is blocked and recorded), every chart laid out with a size, and a screenshot under
``build/screenshots/``. A new page is one more entry in :data:`PAGES`.

* ``tutorial_page`` (``conftest.py``): the tutorial notebook as run in this session, exported by nbconvert.
* ``report_page``: :func:`smarketing.report` on the same data, written as the one self-contained file.
* ``cards_page``: the cards (``_repr_html_``) and charts (``.plot()`` as SVG) of the main public results
  on the example plan's synthetic data, on one page, as a report would put them together.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import smarketing as sm
from smarketing import _charts
from smarketing.datasets import synthetic

from .conftest import PAGES as BUILD_PAGES
from .conftest import Rendered

ROOT = Path(__file__).resolve().parents[2]
PLAN = sm.load_plan(ROOT / "examples" / "plan.yaml")
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
FX = sm.FxTable([("USD", "EUR", date(2026, 1, 1), "0.92")])


def _inline(svg: str) -> str:
    """An SVG document as an element of an HTML page (its XML prolog and doctype left out)."""
    return svg[svg.index("<svg") :]


@pytest.fixture(scope="module")
def cards_page() -> Path:
    """The cards and charts of the main results, in the order a reader meets them, as one HTML file."""
    data = synthetic(PLAN, seed=3, n_leads=300)
    funnel = sm.funnel(PLAN.journey, data, as_of=AS_OF)
    ledger = sm.compute_rewards(data, PLAN, fx=FX, period="2026-10", as_of=date(2026, 10, 31))
    loaded = sm.load_connector(
        "hubspot-export", path=ROOT / "examples" / "hubspot", time_zone="Europe/Berlin", plan=PLAN
    ).load()
    shown: list[tuple[str, object]] = [
        ("plan", PLAN),
        ("check", sm.check(PLAN)),
        ("dataset", data),
        ("funnel", funnel),
        ("SLA", sm.evaluate_sla(PLAN, data, as_of=AS_OF)),
        ("scorecard", sm.scorecard(PLAN, data, period="2026-10", as_of=AS_OF, fx=FX)),
        ("rewards", ledger),
        ("statement", ledger.statements()[0]),
        ("waterfall", sm.waterfall(PLAN, data, as_of=AS_OF, fx=FX)),
        ("HubSpot load", loaded.report),
    ]
    parts = []
    for title, result in shown:
        parts.append(f"<h2>{html.escape(title)}</h2>{result._repr_html_()}")  # type: ignore[attr-defined]
        plot = getattr(result, "plot", None)
        if plot is not None:
            parts.append(f'<figure id="{html.escape(title)}-chart">{_inline(_charts.svg(plot()))}</figure>')
    parts.append(f'<figure id="funnel-times">{_inline(_charts.svg(funnel.plot(kind="time")))}</figure>')
    page = BUILD_PAGES / "cards.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>smarketing cards</title></head>'
        f"<body>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return page


@pytest.fixture(scope="module")
def report_page() -> Path:
    """The alignment report of the example plan on its synthetic data, written by ``Report.write``."""
    data = synthetic(PLAN, seed=3, n_leads=300)
    page = BUILD_PAGES / "report.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    sm.report(PLAN, data, as_of=AS_OF, fx=FX).write(page)
    return page


#: Every page the browser opens: the fixture that writes it, and how many charts it draws at least (a page
#: whose charts went missing fails). Another page is a fixture that writes an HTML file under BUILD_PAGES
#: and returns its path, and one entry here.
PAGES = {"tutorial_page": 5, "cards_page": 6, "report_page": 12}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_shows_without_errors_or_requests_and_every_chart_has_a_size(
    page: str, render: Callable[[Path], Rendered], request: pytest.FixtureRequest
) -> None:
    seen = render(request.getfixturevalue(page))
    assert not seen.console_errors
    assert not seen.requests
    assert len(seen.charts) >= PAGES[page]
    empty = [c for c in seen.charts if c.width <= 0 or c.height <= 0 or not c.decoded]
    assert not empty
    assert seen.screenshot.stat().st_size > 0
    assert "Fernbrook Analytics FY2027" in seen.text


def test_the_report_prints_without_its_contents_list_one_section_a_page(
    browser: Any, report_page: Path
) -> None:
    """Print media hides the contents list and starts each section on a page; the PDF is Chromium's own."""
    context = browser.new_context(offline=True)
    try:
        tab = context.new_page()
        tab.goto(report_page.resolve().as_uri(), wait_until="load")
        tab.emulate_media(media="print")
        assert tab.eval_on_selector("nav", "e => getComputedStyle(e).display") == "none"
        breaks = tab.eval_on_selector_all(
            "main > section + section", "els => els.map(e => getComputedStyle(e).breakBefore)"
        )
        assert len(breaks) == 8  # nine sections
        assert set(breaks) == {"page"}
        pdf = BUILD_PAGES.parent / "report.pdf"
        tab.pdf(path=pdf, format="A4")
    finally:
        context.close()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.read_bytes().count(b"/Type /Page") - pdf.read_bytes().count(b"/Type /Pages") >= len(breaks) + 1
