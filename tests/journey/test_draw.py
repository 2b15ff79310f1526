"""The journey drawing (``JourneyMap.to_svg``) never cuts a label and never draws outside its picture."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings

from smarketing.journey import JourneyMap
from smarketing.testing.strategies import journey_maps

SVG = "{http://www.w3.org/2000/svg}"


def _view_box(root: ET.Element) -> tuple[float, float]:
    x, y, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (x, y) == (0, 0)
    return width, height


def _labels(root: ET.Element) -> dict[str, str]:
    """Each stage box's id (from its title) and the text of its label, its lines joined by spaces."""
    out = {}
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        text = group.find(f"{SVG}text")
        assert title is not None
        assert text is not None
        assert title.text
        out[title.text.split(" ")[0]] = " ".join(span.text or "" for span in text.iter(f"{SVG}tspan"))
    return out


def _inside(svg: str) -> None:
    root = ET.fromstring(svg)
    width, height = _view_box(root)
    for path in root.iter(f"{SVG}path"):
        if path.attrib.get("fill") == "#444":  # the arrow head, in its marker's own box
            continue
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.attrib["d"])]
        xs, ys = numbers[0::2], numbers[1::2]
        # A cubic curve lies inside the hull of its points: points inside mean the arc is inside.
        assert all(0 <= x <= width for x in xs), path.attrib["d"]
        assert all(0 <= y <= height for y in ys), path.attrib["d"]
    for rect in root.iter(f"{SVG}rect"):
        assert float(rect.attrib["x"]) >= 0
        assert float(rect.attrib["y"]) >= 0
        assert float(rect.attrib["x"]) + float(rect.attrib["width"]) <= width
        assert float(rect.attrib["y"]) + float(rect.attrib["height"]) <= height


def _long_map() -> JourneyMap:
    # Long names, a word longer than a line, and a recycle from the last column back to the first.
    return JourneyMap.model_validate(
        {
            "stages": [
                {"id": "mql", "name": "Marketing Qualified Lead", "owner": "marketing", "kind": "mql"},
                {"id": "sal", "name": "Sales Accepted Lead (inbound)", "owner": "sales", "kind": "sal"},
                {
                    "id": "sql",
                    "name": "Sales Qualified Lead after discovery call with the buying committee",
                    "owner": "sales",
                    "kind": "sql",
                },
                {
                    "id": "won",
                    "name": "Supercalifragilisticexpialidocious-customer",
                    "owner": "customer_success_and_renewals_team",
                    "kind": "customer",
                    "terminal": "won",
                },
            ],
            "transitions": [
                {"from": "mql", "to": "sal", "kind": "handoff"},
                {"from": "sal", "to": "sql"},
                {"from": "sql", "to": "won"},
                {"from": "sql", "to": "mql", "kind": "recycle"},
                {"from": "sal", "to": "mql", "kind": "recycle"},
            ],
        }
    )


def test_labels_are_whole_and_fit_their_boxes() -> None:
    jm = _long_map()
    root = ET.fromstring(jm.to_svg())
    assert _labels(root) == {s.id: s.name for s in jm.stages}
    assert "\u2026" not in jm.to_svg()
    widths = {float(r.attrib["width"]) for r in root.iter(f"{SVG}rect") if r.attrib.get("rx") == "8"}
    (box,) = widths  # one width for every box, wide enough for the longest line at 7.2 px a character
    longest = max(len(span.text or "") for span in root.iter(f"{SVG}tspan"))
    assert longest * 7.2 + 16 <= box + 1


def test_arcs_and_boxes_stay_inside_the_view_box() -> None:
    _inside(_long_map().to_svg())


def test_the_example_map_keeps_marketing_qualified_lead_whole(example_plan: Any) -> None:
    svg = example_plan.journey.to_svg()
    assert "Marketing Qualified L\u2026" not in svg
    assert _labels(ET.fromstring(svg))["mql"] == "Marketing Qualified Lead"
    _inside(svg)


@settings(max_examples=40, deadline=None, database=None)
@given(journey_maps(max_stages=6))
def test_any_map_is_drawn_whole_and_inside(jm: JourneyMap) -> None:
    svg = jm.to_svg()
    assert _labels(ET.fromstring(svg)) == {s.id: s.name for s in jm.stages}
    _inside(svg)
