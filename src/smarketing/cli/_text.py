"""Terminal output and the small formatters of the command's text.

Everything the command prints goes through :func:`emit`, which escapes control characters; headings,
tables, aligned fields and numbers are formatted here.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from smarketing.money import Money

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


WIDTH = 100


def first_line(error: Exception) -> str:
    """The first line of an error from a library underneath (polars adds its query plan after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def fail(command: str, message: str) -> None:
    emit(f"smarketing {command}: {message}", stream=sys.stderr, one_line=True)


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates that
# reorder what a terminal shows ("Trojan source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape(text: str, *, one_line: bool = False, json_text: bool = False) -> str:
    r"""``text`` with control characters written as escapes: ``\x1b``, or ``\u001b`` in JSON.

    The JSON form keeps JSON valid and decodes to the same string.

    Examples:
        >>> escape("Acme\x1b[2J\x00 FY27\tok")
        'Acme\\x1b[2J\\x00 FY27\tok'
        >>> escape("two\nlines", one_line=True)
        'two\\nlines'
    """
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\n":
            return "\\n"
        code = ord(char)
        return f"\\u{code:04x}" if json_text or code > 0xFF else f"\\x{code:02x}"

    return pattern.sub(escaped, text)


def emit(
    text: str,
    *,
    stream: SupportsWrite[str] | None = None,
    end: str = "\n",
    one_line: bool = False,
    json_text: bool = False,
) -> None:
    """Write ``text`` and ``end`` to ``stream`` (standard output), control characters escaped."""
    out = sys.stdout if stream is None else stream
    out.write(escape(text, one_line=one_line, json_text=json_text) + end)


def emit_json(value: object) -> None:
    emit(json.dumps(value, indent=2, ensure_ascii=False), json_text=True)


def emit_report(report: Any, output: str, text: Callable[[Any], str]) -> None:
    """A result in the ``--format`` asked for: ``to_dict()`` as JSON, ``to_frame()`` as CSV, else ``text``."""
    if output == "json":
        emit_json(report.to_dict())
    elif output == "csv":
        emit(report.to_frame().write_csv(), end="")
    else:
        emit(text(report))


def wants_colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def share_text(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def underline(title: str) -> str:
    return f"{title}\n{'-' * len(title)}"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> str:
    """Plain text columns; the columns in ``right`` (numbers) are right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def aligned_fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``label  value`` lines with the values aligned; continuation lines of a value are indented."""
    width = max((len(label) for label, _ in pairs), default=0)
    lines: list[str] = []
    previous = None
    for label, value in pairs:
        wrapped = textwrap.wrap(value, WIDTH - width - 2) or [""]
        shown = "" if label == previous else label  # a label repeated on consecutive lines is shown once
        previous = label
        lines.append(f"{shown.ljust(width)}  {wrapped[0]}".rstrip())
        lines.extend(" " * (width + 2) + more for more in wrapped[1:])
    return "\n".join(lines)


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def money_text(money: Money) -> str:
    return f"{money:,.{money.minor_units}f}"


def count_text(n: int) -> str:
    return f"{n:,}"


def rate_text(rate: Decimal | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def hours_text(value: timedelta | None) -> str:
    return "-" if value is None else f"{value.total_seconds() / 3600:.1f} hours"
