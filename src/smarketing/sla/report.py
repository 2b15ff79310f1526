"""The SLA report: what :func:`~smarketing.sla.evaluate_sla` returns."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs
import polars as pl

__all__ = ["SLAReport"]

_HTML_ROWS = 20


@attrs.frozen(repr=False)
class SLAReport:
    """Both sides of the SLA evaluated at ``as_of``: per-lead rows, breaches, compliance and a summary.

    Attributes:
        as_of: The instant the report describes; later facts were left out.
        leads: One row per handed-off lead (see :func:`evaluate_sla` for the columns).
        breaches: One row per broken commitment with the reason in words, grouped by commitment
            (first response, attempts, disposition, then flags), each in lead order.
        marketing: Marketing's side per period: volume against the commitment, acceptance and SQL rates.
        by_rep: Sales compliance per lead owner (counts and rates).
        by_team: Sales compliance per owner's team.
        by_period: Sales compliance per period of the handoff.
        weekly: Both sides per week (the trend).
        counts: Facts handled specially, by kind (unknown leads, activities before a lead existed, ...).
        summary: Both sides in two sentences.
        examples: For each count that is not zero, the smallest lead id it counts, so that no fact is
            left out without a lead to look at.
    """

    as_of: datetime
    leads: pl.DataFrame
    breaches: pl.DataFrame
    marketing: pl.DataFrame
    by_rep: pl.DataFrame
    by_team: pl.DataFrame
    by_period: pl.DataFrame
    weekly: pl.DataFrame
    counts: Mapping[str, int]
    summary: str
    examples: Mapping[str, str] = attrs.field(factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """The per-lead rows as a polars DataFrame.

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> report.to_frame().columns[:5]
            ['lead_id', 'owner', 'team', 'tier', 'handoff_at']
        """
        return self.leads

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready Python values (times as ISO 8601 text).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> data = report.to_dict()
            >>> data["marketing"][0]["period"], data["counts"]["activities_unknown_lead"]
            ('2026-10-01', 0)
        """
        return {
            "as_of": self.as_of.isoformat(),
            "summary": self.summary,
            "counts": dict(self.counts),
            # Only when something was counted: a report on clean data reads as it always did.
            **({"examples": dict(self.examples)} if self.examples else {}),
            **{
                name: _json_rows(getattr(self, name))
                for name in ("leads", "breaches", "marketing", "by_rep", "by_team", "by_period", "weekly")
            },
        }

    def __repr__(self) -> str:
        return (
            f"SLAReport(as_of={self.as_of.isoformat()}, leads={self.leads.height}, "
            f"breaches={self.breaches.height})\n{self.summary}"
        )

    def _repr_html_(self) -> str:
        head = self.leads.head(_HTML_ROWS)
        more = self.leads.height - head.height
        note = f"<p>{more:,} more lead(s) not shown; use <code>to_frame()</code>.</p>" if more > 0 else ""
        return f"<p>{html.escape(self.summary)}</p>{head._repr_html_()}{note}"


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime | date):
                row[key] = value.isoformat()
    return rows
