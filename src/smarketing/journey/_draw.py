"""Drawings of a journey map: Mermaid text and a dependency-free SVG (private).

The drawings take the map's stages and transitions (anything with their fields), not the map itself, so
this module imports nothing of smarketing: :class:`~smarketing.journey.JourneyMap` calls it, never the
other way round.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Protocol

import networkx as nx

__all__ = ["StageBox", "TransitionArrow", "layers", "mermaid", "svg"]


class StageBox(Protocol):
    """What a drawing reads of a stage."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def terminal(self) -> str | None: ...


class TransitionArrow(Protocol):
    """What a drawing reads of a transition."""

    @property
    def source(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def kind(self) -> str: ...


# Colour-blind-safe fills (Okabe-Ito, lightened), given to teams in order of first appearance.
_FILLS = ("#cfe8f7", "#fde2b8", "#cdebd9", "#f6d0e0", "#e6dcf3", "#fff3b0", "#dddddd")
_TERMINAL_STROKE = {"won": "#2e7d32", "lost": "#c62828", "disqualified": "#c62828"}
# A generous width of one character at 12px sans-serif (DejaVu Sans and Arial average about 6.6 px), and
# the height of one line of a stage label.
_CHAR_WIDTH = 7.2
_LINE_HEIGHT = 15


def _quote(text: str) -> str:
    # Mermaid labels are HTML-ish: quotes and angle brackets must be entities.
    return html.escape(text, quote=True).replace("&quot;", "#quot;")


def mermaid(stages: Sequence[StageBox], transitions: Sequence[TransitionArrow]) -> str:
    """Mermaid ``flowchart LR`` text of the map (see :meth:`JourneyMap.to_mermaid`)."""
    node = {s.id: f"s{i}" for i, s in enumerate(stages)}
    teams = list(dict.fromkeys(s.owner for s in stages))
    lines = ["flowchart LR"]
    for t, team in enumerate(teams):
        lines.append(f'  subgraph t{t}["{_quote(team)}"]')
        for s in (s for s in stages if s.owner == team):
            label = _quote(s.name)
            shape = f'(["{label}"])' if s.terminal else f'["{label}"]'
            lines.append(f"    {node[s.id]}{shape}")
        lines.append("  end")
    arrows = {"progression": "-->", "handoff": "==>", "recycle": "-.->", "disqualify": "-->"}
    for tr in transitions:
        label = "" if tr.kind == "progression" else f"|{tr.kind}|"
        lines.append(f"  {node[tr.source]} {arrows[tr.kind]}{label} {node[tr.to]}")
    for terminal, colour in _TERMINAL_STROKE.items():
        members = [node[s.id] for s in stages if s.terminal == terminal]
        if members:
            lines.append(f"  classDef {terminal} stroke-width:3px,stroke:{colour}")
            lines.append(f"  class {','.join(members)} {terminal}")
    return "\n".join(lines)


def layers(
    stages: Sequence[StageBox], transitions: Sequence[TransitionArrow], entry: Iterable[str]
) -> dict[str, int]:
    """Column of each stage: the longest forward path to it from an entry stage (recycles ignored).

    ``entry`` are the ids of the entry stages (the first stage when there are none). Forward cycles (which a
    map may have) are cut by falling back to the shortest distance; stages no entry stage reaches go one
    column past the rest.
    """
    forward: nx.DiGraph[str] = nx.DiGraph()
    forward.add_nodes_from(s.id for s in stages)
    forward.add_edges_from((t.source, t.to) for t in transitions if t.kind != "recycle")
    starts = list(entry) or [stages[0].id]
    column: dict[str, int] = {}
    if nx.is_directed_acyclic_graph(forward):
        for stage in nx.topological_sort(forward):
            preds = [column[p] + 1 for p in forward.predecessors(stage) if p in column]
            if preds or stage in starts:
                column[stage] = max(preds, default=0)
    else:
        for start in starts:
            for stage, distance in nx.single_source_shortest_path_length(forward, start).items():
                column[stage] = max(column.get(stage, 0), distance)
    last = max(column.values(), default=-1) + 1
    return {s.id: column.get(s.id, last) for s in stages}


def _lines(name: str) -> list[str]:
    # Whole words on lines of about 22 characters; a longer word keeps its own line (the box widens).
    return textwrap.wrap(name, 22, break_long_words=False, break_on_hyphens=False) or [name]


def _text_width(text: str) -> int:
    return math.ceil(len(text) * _CHAR_WIDTH)


def svg(stages: Sequence[StageBox], transitions: Sequence[TransitionArrow], entry: Iterable[str]) -> str:
    """A standalone SVG drawing of the map (see :meth:`JourneyMap.to_svg`); ``entry`` as in :func:`layers`.

    Nothing is clipped or cut: a stage name is wrapped on whole words and its box is as wide as its longest
    line, and the top margin leaves room for the highest backward arc.
    """
    column = layers(stages, transitions, entry)
    label = {s.id: _lines(s.name) for s in stages}
    longest = max((_text_width(line) for lines in label.values() for line in lines), default=0)
    width = max(150, longest + 16)
    height = max(44, max((len(lines) for lines in label.values()), default=1) * _LINE_HEIGHT + 14)
    gap_x, gap_y, pad = 60, 26, 20
    back = [abs(column[t.source] - column[t.to]) for t in transitions if column[t.to] <= column[t.source]]
    # An arc's control points sit _lift() above the higher box: the top margin keeps them in the picture.
    top = pad + max(24, max((_lift(d * (width + gap_x)) for d in back), default=0))
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for s in stages:  # plan order within a column
        c = column[s.id]
        place[s.id] = (pad + c * (width + gap_x), top + rows.get(c, 0) * (height + gap_y))
        rows[c] = rows.get(c, 0) + 1
    teams = list(dict.fromkeys(s.owner for s in stages))
    fill = {team: _FILLS[i % len(_FILLS)] for i, team in enumerate(teams)}
    legend_x = [pad]
    for team in teams:
        legend_x.append(legend_x[-1] + 30 + _text_width(team))
    total_w = max(pad * 2 + (max(column.values()) + 1) * (width + gap_x) - gap_x, legend_x[-1] + pad)
    total_h = top + pad + max(rows.values()) * (height + gap_y) - gap_y + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
        f'viewBox="0 0 {total_w} {total_h}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/>'
        "</marker></defs>",
    ]
    for tr in transitions:
        (x1, y1), (x2, y2) = place[tr.source], place[tr.to]
        style = {"handoff": 'stroke-width="3"', "recycle": 'stroke-dasharray="5,4"'}.get(tr.kind, "")
        title = f"<title>{html.escape(f'{tr.source} -> {tr.to} ({tr.kind})')}</title>"
        if x2 > x1:
            sx, sy, ex, ey = x1 + width, y1 + height // 2, x2, y2 + height // 2
            path = f"M {sx} {sy} L {ex} {ey}"
        else:  # backwards or same column: an arc above the boxes
            sx, sy, ex, ey = x1 + width // 2, y1, x2 + width // 2, y2
            lift = min(sy, ey) - _lift(abs(sx - ex))
            path = f"M {sx} {sy} C {sx} {lift} {ex} {lift} {ex} {ey}"
        out.append(
            f'<path d="{path}" fill="none" stroke="#444" {style} marker-end="url(#arrow)">{title}</path>'
        )
    out.extend(_box(s, place[s.id], (width, height), fill[s.owner], label[s.id]) for s in stages)
    legend_y = total_h - 14
    for team, x in zip(teams, legend_x, strict=False):
        out.append(
            f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{fill[team]}" stroke="#555"/>'
            f'<text x="{x + 16}" y="{legend_y}">{html.escape(team)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _lift(dx: int) -> int:
    """How far above the higher of its two boxes a backward arc spanning ``dx`` pixels reaches."""
    return 18 + dx // 8


def _box(s: StageBox, at: tuple[int, int], size: tuple[int, int], fill: str, lines: list[str]) -> str:
    (x, y), (width, height) = at, size
    stroke = _TERMINAL_STROKE.get(s.terminal or "", "#555")
    stroke_width = 3 if s.terminal else 1
    first = y + height // 2 + 4 - (len(lines) - 1) * _LINE_HEIGHT // 2
    spans = "".join(
        f'<tspan x="{x + width // 2}" y="{first + i * _LINE_HEIGHT}">{html.escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        f"<g><title>{html.escape(f'{s.id} ({s.kind}) owned by {s.owner}')}</title>"
        f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="8" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{stroke_width}"/>'
        f'<text text-anchor="middle">{spans}</text>'
        "</g>"
    )
