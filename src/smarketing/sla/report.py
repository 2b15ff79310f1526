"""The SLA report: what :func:`~smarketing.sla.evaluate_sla` returns."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing import _charts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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

    def plot(self) -> Figure:
        """Both sides of the SLA by week, as a chart (needs the ``plot`` extra).

        Top: sales' side, the share of handed-off leads answered in time and the disposition coverage.
        Bottom: marketing's side, the leads delivered and accepted by sales each week.

        Examples:
            >>> from smarketing.testing.fixtures import AS_OF, example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.sla.evaluate_sla(plan, example_dataset(), as_of=AS_OF).plot()
            >>> [ax.get_title() for ax in fig.axes]
            ["sales' side: in time, per week", "marketing's side: leads per week"]
        """
        weeks = self.weekly.get_column("week").to_list()
        fig, (sales, marketing) = _charts.new(2, 1, title="SLA by week, both sides", height=5.0)
        for i, (column, label) in enumerate(
            [
                ("response_compliance", "first response in time"),
                ("disposition_coverage", "disposition in time"),
            ]
        ):
            values = [float("nan") if v is None else v for v in self.weekly.get_column(column).to_list()]
            sales.plot(weeks, values, marker="o", markersize=3, label=label, color=_charts.PALETTE[i])
        _charts.percent_axis(sales, "y", top=1.05)
        sales.set_title("sales' side: in time, per week")
        sales.legend(frameon=False, fontsize=8.0, loc="lower left")
        delivered = self.weekly.get_column("delivered").to_list()
        accepted = self.weekly.get_column("accepted").to_list()
        marketing.bar(weeks, delivered, width=5, color="#b9d7ea", label="delivered (MQLs)")
        marketing.bar(weeks, accepted, width=3, color=_charts.PALETTE[0], label="accepted by sales")
        marketing.set_title("marketing's side: leads per week")
        marketing.set_ylabel("leads")
        marketing.legend(frameon=False, fontsize=8.0, loc="upper left")
        fig.autofmt_xdate()
        return fig


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime | date):
                row[key] = value.isoformat()
    return rows
