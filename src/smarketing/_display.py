"""Text and HTML tables for result reprs (private).

One formatter feeds both the terminal (``__repr__``) and notebooks (``_repr_html_``), with a row limit so
a million-row result never floods either. The cards of the notebook views are built here too: every piece
of text is escaped, styles are inline (a card is embedded in an offline report as it is), there are no
scripts, and the same value always gives the same bytes.

One rule formats durations everywhere (:func:`duration`): hours with one decimal, days past 48 hours, and
business time always in business hours, named so (a business day is not 24 hours).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from smarketing.money import Money

__all__ = [
    "MAX_ROWS",
    "BusinessTime",
    "LocalTime",
    "card",
    "cell",
    "duration",
    "facts",
    "html_table",
    "local_time",
    "money",
    "link",
    "paragraph",
    "percent",
    "quantity",
    "section",
    "text_table",
]

#: Rows shown before a table is cut (the first and the last half are kept).
MAX_ROWS = 20


@attrs.frozen
class BusinessTime:
    """A duration counted in open hours of a business calendar; a table shows it as business hours."""

    value: timedelta


@attrs.frozen
class LocalTime:
    """An instant to show in a time zone (the plan's), with the zone's abbreviation."""

    value: datetime
    zone: tzinfo


def duration(value: timedelta | None, *, business: bool = False) -> str:
    """The one text of a duration: ``25.0 hours``, ``3.2 days``, or ``25.0 business hours``.

    Calendar time past 48 hours reads in days; business time always in business hours.

    Examples:
        >>> duration(timedelta(days=1, minutes=59, seconds=1))
        '25.0 hours'
        >>> duration(timedelta(days=3, hours=5)), duration(timedelta(hours=30), business=True)
        ('3.2 days', '30.0 business hours')
        >>> duration(timedelta(minutes=-90)), duration(None)
        ('-1.5 hours', '-')
    """
    if value is None:
        return "-"
    hours = value / timedelta(hours=1)
    if business:
        return f"{hours:.1f} business hours"
    return f"{hours / 24:.1f} days" if abs(hours) >= 48 else f"{hours:.1f} hours"


def percent(rate: Decimal | float | None, *, places: int = 1) -> str:
    """A rate (0.5 is half) as a percentage: ``50.0%``; ``-`` for none.

    Examples:
        >>> percent(Decimal("0.3911")), percent(None)
        ('39.1%', '-')
    """
    if rate is None:
        return "-"
    return f"{Decimal(str(rate)) * 100:.{places}f}%"


def quantity(value: Decimal | int, unit: str, currency: str | None = None) -> str:
    """A number in its unit (a KPI's): ``39.1%``, ``1,234.50 EUR``, ``12.00 EUR/day``, ``3.2 days``.

    Examples:
        >>> quantity(Decimal("0.3911"), "ratio"), quantity(Decimal("1500000"), "money", "EUR")
        ('39.1%', '1,500,000.00 EUR')
        >>> quantity(Decimal(450), "count"), quantity(Decimal("1.25"), "hours")
        ('450', '1.2 hours')
    """
    if unit == "ratio":
        return percent(Decimal(value))
    if currency is not None and unit.startswith("money"):
        places = Money(0, currency).minor_units
        text = f"{Decimal(value):,.{places}f} {currency}"
        return text + "/day" if unit == "money_per_day" else text
    number = Decimal(value)
    if unit == "count":
        return f"{number:,}" if number == number.to_integral_value() else f"{number:,.1f}"
    return f"{number:,.1f} {unit}"


def money(amount: Money) -> str:
    """Money with its currency, to its minor unit: ``1,234.50 EUR``.

    Examples:
        >>> money(Money("1234.5", "EUR")), money(Money(1000, "JPY"))
        ('1,234.50 EUR', '1,000 JPY')
    """
    return f"{amount:,.{amount.minor_units}f}"


def local_time(value: datetime | None, zone: tzinfo | str | None = None) -> str:
    """An instant as ``2026-10-09 14:00 CEST`` in ``zone`` (an IANA name or tzinfo; UTC when none).

    Examples:
        >>> from datetime import timezone
        >>> local_time(datetime(2026, 10, 9, 12, tzinfo=timezone.utc), "Europe/Berlin")
        '2026-10-09 14:00 CEST'
        >>> local_time(datetime(2026, 10, 9, 12, 30, 5, tzinfo=timezone.utc))
        '2026-10-09 12:30:05 UTC'
    """
    if value is None:
        return "-"
    if value.tzinfo is None:
        raise ValueError(f"cannot show the naive time {value.isoformat()} in a time zone; give it a tzinfo")
    target = ZoneInfo(zone) if isinstance(zone, str) else zone or ZoneInfo("UTC")
    local = value.astimezone(target)
    clock = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    return local.strftime(f"%Y-%m-%d {clock} %Z")


def cell(value: Any) -> str:
    """A value as table text: ``-`` for none, durations by :func:`duration`, rates as percentages."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return duration(value)
    if isinstance(value, BusinessTime):
        return duration(value.value, business=True)
    if isinstance(value, LocalTime):
        return local_time(value.value, value.zone)
    if isinstance(value, Decimal):
        return percent(value)
    if isinstance(value, datetime):
        return local_time(value) if value.tzinfo is not None else value.isoformat()
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal | timedelta | BusinessTime) and not isinstance(value, bool)


def _limit(rows: Sequence[Sequence[Any]], max_rows: int) -> tuple[list[Sequence[Any]], int]:
    if len(rows) <= max_rows:
        return list(rows), 0
    head = max_rows - max_rows // 2
    return [*rows[:head], *rows[len(rows) - max_rows // 2 :]], len(rows) - max_rows


def _numeric_columns(width: int, shown: Sequence[Sequence[Any]]) -> list[bool]:
    # A column is numeric (right-aligned) when every shown value is a number, a duration or none.
    return [bool(shown) and all(_numeric(row[i]) or row[i] is None for row in shown) for i in range(width)]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_rows: int = MAX_ROWS) -> str:
    """A plain-text table; numbers right-aligned; rows beyond ``max_rows`` elided in the middle."""
    shown, hidden = _limit(rows, max_rows)
    texts = [[cell(v) for v in row] for row in shown]
    numeric = _numeric_columns(len(headers), shown)
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
    # Inline alignment: notebooks right-align every cell by default, which makes text hard to read.
    align = [_RIGHT if n else _LEFT for n in _numeric_columns(len(headers), shown)]
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    heads = "".join(f"<th{a}>{html.escape(h)}</th>" for h, a in zip(headers, align, strict=True))
    parts.append(f"<thead><tr>{heads}</tr></thead>")
    parts.append("<tbody>")
    for index, row in enumerate(shown):
        if hidden and index == half:
            parts.append(f'<tr><td colspan="{len(headers)}"{_LEFT}>&hellip; {hidden} more row(s)</td></tr>')
        tds = "".join(f"<td{a}>{html.escape(cell(v))}</td>" for v, a in zip(row, align, strict=True))
        parts.append(f"<tr>{tds}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def facts(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of labelled values (a card's key facts), escaped, labels in bold."""
    rows = "".join(
        f"<tr><th{_FACT_LABEL}>{html.escape(label)}</th><td{_LEFT}>{html.escape(cell(value))}</td></tr>"
        for label, value in pairs
    )
    return f"<table><tbody>{rows}</tbody></table>"


def card(title: str, body: Sequence[str], *, subtitle: str = "", badge: str = "") -> str:
    """A bordered card: an escaped title (and subtitle, and a badge such as a score), then ``body``.

    ``body`` holds HTML pieces built by this module (tables, facts) or escaped by the caller.
    """
    head = f"<strong{_TITLE}>{html.escape(title)}</strong>"
    if badge:
        head += f" <span{_BADGE}>{html.escape(badge)}</span>"
    if subtitle:
        head += f"<div{_SUBTITLE}>{html.escape(subtitle)}</div>"
    return f"<div{_CARD}><div>{head}</div>{''.join(body)}</div>"


def section(title: str, content: str) -> str:
    """A titled part of a card; ``content`` is HTML built by this module or escaped by the caller."""
    return f"<div{_SECTION}><div{_SECTION_TITLE}>{html.escape(title)}</div>{content}</div>"


def paragraph(text: str) -> str:
    """Escaped text as a paragraph of a card."""
    return f"<p{_PARAGRAPH}>{html.escape(text)}</p>"


def link(text: str, url: str) -> str:
    """An escaped link (no script URLs: only http, https and in-page anchors are linked)."""
    if not url.startswith(("https://", "http://", "#")):
        return html.escape(text)
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'


def _style(css: str) -> str:
    return f' style="{css}"'


_LEFT: Final = _style("text-align:left;vertical-align:top")
_RIGHT: Final = _style("text-align:right;vertical-align:top")
_FACT_LABEL: Final = _style("text-align:left;vertical-align:top;padding-right:1em;font-weight:600")
_CARD: Final = _style(
    "border:1px solid #c8c8c8;border-radius:6px;padding:8px 12px;margin:4px 0;"
    "font-family:system-ui,sans-serif;font-size:13px;max-width:72em"
)
_TITLE: Final = _style("font-size:15px")
_BADGE: Final = _style("border:1px solid #888;border-radius:10px;padding:0 8px;margin-left:6px")
_SUBTITLE: Final = _style("color:#555")
_SECTION: Final = _style("margin-top:8px")
_SECTION_TITLE: Final = _style("font-weight:600;border-bottom:1px solid #e0e0e0;margin-bottom:2px")
_PARAGRAPH: Final = _style("margin:4px 0")
