"""What a person sees: pages opened in headless Chromium, and the tutorial notebook run from top to bottom.

:func:`render` is the harness: ``render(page)`` opens an HTML file in Debian's ``chromium`` (driven by
Playwright, never Playwright's own browser build), with every request other than the page itself blocked
and recorded, and returns what a test asserts on: the console errors, the requests, the size of every chart
(``svg``, ``img``, ``canvas``) and the path of a full-page screenshot under ``build/screenshots/`` (kept by
CI as an artifact). Adding a page to the browser tests is one call.

``make browser`` (run by ``make setup`` and ``make test``) installs the browser where it is missing and
apt-get can; where there is none, the browser tests skip and say why. ``SMARKETING_CHROMIUM`` names another
Chromium build.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
SCREENSHOTS = BUILD / "screenshots"
PAGES = BUILD / "pages"
TUTORIAL = ROOT / "docs" / "tutorial.ipynb"

#: The elements that draw a chart or a picture; each must take room on the page.
CHARTS = "svg:not(svg svg), img, canvas"

_NO_BROWSER = (
    "headless Chromium is not installed: `make browser` installs Debian's chromium package where it runs as "
    "root with apt-get (or set SMARKETING_CHROMIUM to a Chromium executable)"
)


@attrs.frozen
class Chart:
    """One chart as laid out: what it is (tag, and ``alt`` or ``id`` where given) and its size in pixels."""

    what: str
    width: float
    height: float
    decoded: bool  # an image whose data the browser could read (always true for svg and canvas)


@attrs.frozen
class Rendered:
    """What the browser saw of a page."""

    console_errors: list[str]
    requests: list[str]  # every request other than the page's own, each blocked
    charts: list[Chart]
    screenshot: Path
    text: str  # the words on the page, as the browser laid them out


def _executable() -> str | None:
    given = os.environ.get("SMARKETING_CHROMIUM")
    if given:
        return given
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, for the whole session (skips with the reason where there is none)."""
    executable = _executable()
    if executable is None:
        pytest.skip(_NO_BROWSER)
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (the dev extra) drives Chromium")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


_MEASURE = """els => els.map(e => {
    const box = e.getBoundingClientRect();
    const name = e.getAttribute('alt') || e.getAttribute('id') || '';
    const decoded = e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0);
    return [e.tagName.toLowerCase() + (name ? ' ' + name : ''), box.width, box.height, decoded];
})"""


@pytest.fixture(scope="session")
def render(browser: Any) -> Callable[[Path], Rendered]:
    """``render(page)``: open ``page`` (an HTML file) as a person would, and report what it showed."""

    def _render(page: Path) -> Rendered:
        url = page.resolve().as_uri()
        errors: list[str] = []
        requests: list[str] = []
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        try:
            tab = context.new_page()
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))

            def route(request_route: Any) -> None:
                if request_route.request.url == url:
                    request_route.continue_()
                else:
                    requests.append(request_route.request.url)
                    request_route.abort()

            context.route("**/*", route)
            tab.goto(url, wait_until="load")
            charts = [Chart(*found) for found in tab.eval_on_selector_all(CHARTS, _MEASURE)]
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            screenshot = SCREENSHOTS / f"{page.stem}.png"
            tab.screenshot(path=screenshot, full_page=True)
            text = tab.inner_text("body")
        finally:
            context.close()
        return Rendered(errors, requests, charts, screenshot, text)

    return _render


@pytest.fixture(scope="session")
def tutorial() -> Any:
    """``docs/tutorial.ipynb`` as it is in git, run from top to bottom in a fresh kernel (a notebook node)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIAL.parent)}},
    )
    client.execute()
    return notebook


@pytest.fixture(scope="session")
def tutorial_page(tutorial: Any) -> Path:
    """The run tutorial exported to an HTML file under ``build/pages/``, as nbconvert's lab template draws it.

    The template's head loads RequireJS, MathJax and Mermaid from a CDN; the tutorial needs none of them, so
    an offline variant of the template (``offline.html.j2`` beside this file) leaves them out. What the
    page then holds is the notebook: its text, its code and the outputs of smarketing.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(Path(__file__).parent)],
        template_file="offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(tutorial)
    PAGES.mkdir(parents=True, exist_ok=True)
    page = PAGES / "tutorial.html"
    page.write_text(body, encoding="utf-8")
    return page
