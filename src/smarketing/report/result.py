"""What :func:`~smarketing.report.report` returns: :class:`Report`, one self-contained HTML page.

The page is rendered from the report's sections each time it is asked for; the sections hold HTML that the
analyses' own cards made (every piece of user text escaped there) and inline SVG charts.
"""

from __future__ import annotations

import html
import os
import tempfile
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs
import polars as pl

from smarketing._display import local_time
from smarketing.report._page import CSS, offline

__all__ = ["Report", "Section"]


@attrs.frozen
class Section:
    """One section of the report.

    Attributes:
        id: Its anchor in the page (``plan``, ``journey``, ``sla``, ...).
        title: Its heading.
        status: ``ok``; ``not computed`` when the plan or the data cannot give it; ``failed`` when its
            analysis refused the data (the notes say why).
        html: Its content: the analyses' cards and inline SVG charts (empty when not computed).
        notes: What was left out and why.
    """

    id: str
    title: str
    status: Literal["ok", "not computed", "failed"]
    html: str = attrs.field(converter=offline, repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The section's id, title, status and notes (not its HTML)."""
        return {"id": self.id, "title": self.title, "status": self.status, "notes": list(self.notes)}


@attrs.frozen(repr=False)
class Report:
    """The alignment report of a plan and its data, as one self-contained HTML page.

    Attributes:
        plan: The plan's name.
        as_of: The instant the report describes (UTC).
        period: The period of the scorecard and the rewards, e.g. ``2026-10``.
        tz: The plan's time zone (its SLA calendar's, else UTC); times are shown in it.
        span: The earliest and the latest time in the data (``None`` when it has none).
        sections: The sections, in order.
    """

    plan: str
    as_of: datetime
    period: str
    tz: str
    span: tuple[datetime | None, datetime | None]
    sections: tuple[Section, ...]

    @property
    def title(self) -> str:
        """``<plan>: alignment report``, the page's title."""
        return f"{self.plan}: alignment report"

    @property
    def failed(self) -> tuple[Section, ...]:
        """The sections whose analysis refused the data: each note says what to fix."""
        return tuple(s for s in self.sections if s.status == "failed")

    def _facts(self) -> list[tuple[str, str]]:
        first, last = self.span
        span = (
            "no dated records"
            if first is None or last is None
            else (f"{local_time(first, self.tz)} to {local_time(last, self.tz)}")
        )
        return [
            ("As of", local_time(self.as_of, self.tz)),
            ("Time zone", self.tz),
            ("Period", f"{self.period} (the scorecard and the rewards)"),
            ("Data", span),
        ]

    def _body(self) -> str:
        facts = "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in self._facts())
        header = (
            f'<header><h1>{_h(self.plan)}</h1><p class="subtitle">Alignment report</p>'
            f'<dl class="facts">{facts}</dl></header>'
        )
        entries = "".join(
            f'<li><a href="#{s.id}">{_h(s.title)}</a>'
            + ("" if s.status == "ok" else f' <span class="{_status_class(s)}">({_h(s.status)})</span>')
            + "</li>"
            for s in self.sections
        )
        nav = f'<nav aria-label="Contents"><h2>Contents</h2><ol>{entries}</ol></nav>'
        sections = "".join(_section(number, s) for number, s in enumerate(self.sections, 1))
        return f"{header}{nav}<main>{sections}</main>"

    def html(self) -> str:
        """The report as a complete HTML document: inline styles and charts, no script, nothing to load.

        The same report gives the same text: there is no time of generation in it.
        """
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_h(self.title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
            f"{self._body()}\n<footer>Made with smarketing from the plan and the data named above. "
            "The same plan and data give the same page.</footer>\n</body>\n</html>\n"
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`html` to ``path`` as UTF-8, atomically: a reader sees the old file or the new one.

        Returns:
            The path written.

        Raises:
            OSError: the folder does not exist or cannot be written.
        """
        target = Path(path)
        content = self.html().encode("utf-8")
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from a shared web folder
            os.replace(temporary, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise
        return target

    def _repr_html_(self) -> str:
        return f'<div class="smarketing-report">{self._body()}</div>'

    def __repr__(self) -> str:
        missing = sum(1 for s in self.sections if s.status == "not computed")
        return (
            f"Report({self.plan!r}, as_of={local_time(self.as_of, self.tz)!r}, period={self.period!r}, "
            f"sections={len(self.sections)}, not_computed={missing}, failed={len(self.failed)})"
        )

    def to_frame(self) -> pl.DataFrame:
        """One row per section: ``id``, ``title``, ``status`` and its ``notes`` joined by ``; ``.

        Examples:
            >>> import smarketing as sm
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> frame = sm.report(plan, example_dataset(), charts=False).to_frame()
            >>> frame.filter(frame["status"] != "ok").select("id", "status").rows()
            [('rewards', 'failed')]
        """
        rows = [(s.id, s.title, s.status, "; ".join(s.notes)) for s in self.sections]
        schema = {"id": pl.String, "title": pl.String, "status": pl.String, "notes": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """The report's header and each section's status and notes, as plain JSON-ready values."""
        first, last = self.span
        return {
            "plan": self.plan,
            "as_of": self.as_of.isoformat(),
            "period": self.period,
            "time_zone": self.tz,
            "data_span": [None if t is None else t.isoformat() for t in (first, last)],
            "sections": [s.to_dict() for s in self.sections],
        }


def _section(number: int, section: Section) -> str:
    head = f'<section id="{section.id}"><h2>{number}. {_h(section.title)}</h2>'
    if section.status != "ok":
        reason = "; ".join(section.notes) or "the plan or the data cannot give it"
        kind = "failed" if section.status == "failed" else "missing"
        words = "Failed on the data" if section.status == "failed" else "Not computed"
        return f'{head}<p class="{kind}">{words}: {_h(reason)}</p></section>'
    notes = "".join(f"<li>{_h(n)}</li>" for n in section.notes)
    return head + (f'<ul class="notes">{notes}</ul>' if notes else "") + section.html + "</section>"


def _status_class(section: Section) -> str:
    return "status failed" if section.status == "failed" else "status"


def _h(text: str) -> str:
    return html.escape(text, quote=True)
