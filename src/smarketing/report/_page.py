"""The page of the report (private): its style sheet, inline SVG made safe to share a page, no links out.

The page must load nothing and look the same offline, in a browser and on paper: the style sheet is inline
(with print rules: each section on a new page, no chart or table cut across pages, no navigation), charts
are inline SVG, and links that leave the page are kept as their text.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CSS", "inline_svg", "offline"]

#: The XML prolog, the DTD and matplotlib's metadata block (its version and a link): none belongs inline.
_PROLOG: Final = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.DOTALL)

#: Where an SVG names or points at one of its own ids.
_IDS: Final = re.compile(r'(\bid="|\burl\(#|\bhref="#)([^")]+)')

#: The start of a style rule for every element (``*{``): matplotlib's, which would apply to the whole page.
_ANY: Final = re.compile(r"(<style[^>]*>)\s*\*\s*\{")

#: A link: kept as a link only when it points inside the page.
_LINK: Final = re.compile(r"<a\b[^>]*>(.*?)</a>", re.DOTALL | re.IGNORECASE)
_INTERNAL: Final = re.compile(r'^<a href="#[A-Za-z0-9_.:-]*">', re.IGNORECASE)


def inline_svg(text: str, prefix: str) -> str:
    """An SVG document as an element of a page: no prolog or metadata, every id prefixed with ``prefix``.

    Every matplotlib figure names its groups ``figure_1``, ``axes_1``, ...; two charts in one page would
    share them, and a clip path of one would clip the other. Its style rule for every element (``*{...}``)
    would style the whole page; it is kept to the elements of this drawing.

    Examples:
        >>> svg = '<svg><g id="a" clip-path="url(#a)"/><use href="#a"/></svg>'
        >>> inline_svg('<?xml version="1.0"?>' + svg, "c1-")
        '<svg><g id="c1-a" clip-path="url(#c1-a)"/><use href="#c1-a"/></svg>'
        >>> inline_svg("<svg><style>*{stroke-linecap: butt}</style></svg>", "c1-")
        '<svg><style>[id^="c1-"] *{stroke-linecap: butt}</style></svg>'
    """
    body = _IDS.sub(lambda m: f"{m[1]}{prefix}{m[2]}", _PROLOG.sub("", text).strip())
    return _ANY.sub(lambda m: f'{m[1]}[id^="{prefix}"] *{{', body)


def offline(fragment: str) -> str:
    """``fragment`` with every link out of the page replaced by its text (in-page anchors stay links).

    Examples:
        >>> offline('<a href="https://example.com/rules#s001">S001</a> and <a href="#sla">the SLA</a>')
        'S001 and <a href="#sla">the SLA</a>'
    """
    return _LINK.sub(lambda m: m[0] if _INTERNAL.match(m[0]) else m[1], fragment)


CSS: Final = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px;
  color: #1b1b1b; background: #fff; max-width: 76em; margin: 0 auto; padding: 1em 2em 3em; }
header { border-bottom: 3px solid #0072B2; margin-bottom: 1em; }
header h1 { margin: 0.4em 0 0.1em; font-size: 1.8em; }
header .subtitle { margin: 0 0 0.6em; color: #555; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1.2em; margin: 0 0 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
nav ol { columns: 2; margin: 0.3em 0 1em; }
nav .status { color: #8a5a00; }
nav .status.failed { color: #b3261e; background: none; border: 0; padding: 0; }
section { margin-top: 2.2em; }
h2 { border-bottom: 1px solid #d0d0d0; padding-bottom: 0.15em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
.card { margin: 0.6em 0 1em; overflow-x: auto; }
.notes, .missing { background: #fff8e6; border-left: 4px solid #E69F00; padding: 0.4em 0.9em; }
.missing, .failed { font-weight: 600; }
.failed { background: #fdecea; border-left: 4px solid #D55E00; padding: 0.4em 0.9em; }
figure.chart { margin: 0.6em 0 1.2em; }
figure.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; }
th, td { padding: 2px 8px 2px 0; }
footer { margin-top: 3em; color: #666; font-size: 0.9em; border-top: 1px solid #d0d0d0; padding-top: 0.5em; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  main > section + section { break-before: page; page-break-before: always; }
  figure, table, tr, .statement, .notes, .missing, .failed { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  .card { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
""".strip()
