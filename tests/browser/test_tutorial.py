"""The tutorial notebook (``docs/tutorial.ipynb``): kept without outputs, and it runs from top to bottom.

The docs site runs it again when it is built (mkdocs-jupyter, ``execute: true``) and shows that run's
outputs; ``test_pages.py`` opens this run's HTML export in Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.ipynb"


def _code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_the_tutorial_is_kept_without_outputs() -> None:
    # Outputs would go stale with every change of a card; the tests and the docs build make them anew.
    stored = json.loads(TUTORIAL.read_text(encoding="utf-8"))
    for cell in _code_cells(stored):
        assert cell["outputs"] == [], cell["source"]
        assert cell["execution_count"] is None, cell["source"]
    assert [cell["id"] for cell in stored["cells"]] == [f"cell-{i:02d}" for i in range(len(stored["cells"]))]


def _texts(cell: Any, kind: str) -> list[str]:
    return [out["data"][kind] for out in cell["outputs"] if kind in out.get("data", {})]


def test_the_tutorial_runs_and_every_step_shows_its_result(tutorial: Any) -> None:
    cells = _code_cells(tutorial)
    problems = [
        (cell["source"].splitlines()[0], out)
        for cell in cells
        for out in cell["outputs"]
        if out["output_type"] == "error" or (out["output_type"] == "stream" and out["name"] == "stderr")
    ]
    assert not problems
    # Every cell but the setup shows something: a card, a chart or a printed summary.
    silent = [cell["source"] for cell in cells[1:] if not cell["outputs"]]
    assert not silent
    cards = [html for cell in cells for html in _texts(cell, "text/html")]
    charts = [svg for cell in cells for svg in _texts(cell, "image/svg+xml")]
    assert len(charts) == sum(".plot()" in cell["source"] for cell in cells) == 5
    assert all(svg.lstrip().startswith(("<?xml", "<svg")) for svg in charts)
    assert len(cards) >= 10


def test_the_tutorial_tells_the_story_on_the_example_plan_and_the_hubspot_export(tutorial: Any) -> None:
    text = "\n".join(
        "".join(_texts(cell, "text/html")) + "".join(out.get("text", "") for out in cell["outputs"])
        for cell in _code_cells(tutorial)
    )
    assert "Fernbrook Analytics FY2027" in text
    assert "score 100 / 100" in text
    assert "first response within 4 business hours" in text
    assert "Scorecard 2026-10" in text
    assert "Rewards 2026-10" in text
    assert "hubspot-export: read 498 rows, kept 498, refused 0" in text
    assert "FunnelReport(ordered funnel, 40 leads" in text
