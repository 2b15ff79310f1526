"""Text and HTML tables for result reprs (private).

One formatter feeds both the terminal (``__repr__``) and notebooks (``_repr_html_``), with a row limit so
a million-row result never floods either.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["MAX_ROWS", "cell", "html_table", "text_table"]

#: Rows shown before a table is cut (the first and the last half are kept).
MAX_ROWS = 20


def cell(value: Any) -> str:
    """A value as table text: ``-`` for none, durations as ``1d 02:03:04``, rates as percentages."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, Decimal):
        return f"{value * 100:.1f}%"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{sign}{value.days}d {clock}" if value.days else f"{sign}{clock}"


def _limit(rows: Sequence[Sequence[Any]], max_rows: int) -> tuple[list[Sequence[Any]], int]:
    if len(rows) <= max_rows:
        return list(rows), 0
    head = max_rows - max_rows // 2
    return [*rows[:head], *rows[len(rows) - max_rows // 2 :]], len(rows) - max_rows


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_rows: int = MAX_ROWS) -> str:
    """A plain-text table; numbers right-aligned; rows beyond ``max_rows`` elided in the middle."""
    shown, hidden = _limit(rows, max_rows)
    texts = [[cell(v) for v in row] for row in shown]
    numeric = [
        all(isinstance(row[i], int | float | Decimal | timedelta) or row[i] is None for row in shown)
        and shown
        for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(t[i]) for t in texts)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    half = len(shown) - max_rows // 2 if hidden else len(shown)
    for index, t in enumerate(texts):
        if hidden and index == half:
            out.append(f"... {hidden} more row(s) ...")
        out.append(line(t))
    return "\n".join(out)


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str = "",
    max_rows: int = MAX_ROWS,
) -> str:
    """An escaped HTML table with the same row limit as :func:`text_table`."""
    shown, hidden = _limit(rows, max_rows)
    half = len(shown) - max_rows // 2 if hidden else len(shown)
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead>")
    parts.append("<tbody>")
    for index, row in enumerate(shown):
        if hidden and index == half:
            parts.append(f'<tr><td colspan="{len(headers)}">&hellip; {hidden} more row(s)</td></tr>')
        parts.append("<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)
