"""The SLA report: what :func:`~smarketing.sla.evaluate_sla` returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs
import polars as pl

from smarketing import _charts, _display
from smarketing.sla._tables import BREACH_ORDER

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SLAReport"]

_HTML_ROWS = 20


@attrs.frozen(repr=False)
class SLAReport:
    """Both sides of the SLA evaluated at ``as_of``: per-lead rows, breaches, compliance and a summary.

    Attributes:
        as_of: The instant the report describes; later facts were left out.
        leads: One row per handed-off lead (see :func:`evaluate_sla` for the columns): a polars
            DataFrame in lead id order, or, when the data were PySpark DataFrames, a PySpark DataFrame
            kept on Spark (in no order; write it out with ``report.leads.write.parquet(...)``), so that
            no per-lead row has to pass through the driver. :meth:`to_frame` gives polars either way.
        breaches: One row per broken commitment with the reason in words, grouped by commitment
            (first response, attempts, disposition, then flags), each in lead order; like ``leads``, a
            PySpark DataFrame (in no order) when the data were.
        marketing: Marketing's side per period: volume against the commitment, acceptance and SQL rates.
        by_rep: Sales compliance per lead owner (counts and rates).
        by_team: Sales compliance per owner's team.
        by_period: Sales compliance per period of the handoff.
        weekly: Both sides per week (the trend).
        counts: Facts handled specially, by kind (unknown leads, activities before a lead existed, ...).
        summary: Both sides in two sentences.
        examples: For each count that is not zero, the smallest lead id it counts, so that no fact is
            left out without a lead to look at.
        timezone: The IANA time zone of the SLA's calendar; the notebook view shows times in it (the
            frames keep UTC).
    """

    as_of: datetime
    leads: Any
    breaches: Any
    marketing: pl.DataFrame
    by_rep: pl.DataFrame
    by_team: pl.DataFrame
    by_period: pl.DataFrame
    weekly: pl.DataFrame
    counts: Mapping[str, int]
    summary: str
    examples: Mapping[str, str] = attrs.field(factory=dict)
    timezone: str = "UTC"

    def to_frame(self) -> pl.DataFrame:
        """The per-lead rows as a polars DataFrame, in lead id order.

        When ``leads`` is kept on Spark, this reads every row into this process once, and the report keeps
        them (write large results out with ``report.leads.write`` instead).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> report.to_frame().columns[:5]
            ['lead_id', 'owner', 'team', 'tier', 'handoff_at']
        """
        return _local(self.leads, ["lead_id"])

    def breaches_frame(self) -> pl.DataFrame:
        """The breaches as a polars DataFrame, in their order (read from Spark when they are kept there).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> report = sm.evaluate_sla(plan, {}, as_of=datetime(2026, 10, 9, tzinfo=timezone.utc))
            >>> report.breaches_frame().columns[:5]
            ['lead_id', 'owner', 'team', 'tier', 'commitment']
        """
        return _local(self.breaches, ["_rank", "lead_id"])

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready Python values (times as ISO 8601 text).

        Per-lead rows and breaches kept on Spark are read into this process (in their polars order).

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
            "leads": _json_rows(self.to_frame()),
            "breaches": _json_rows(self.breaches_frame()),
            **{
                name: _json_rows(getattr(self, name))
                for name in ("marketing", "by_rep", "by_team", "by_period", "weekly")
            },
        }

    def __repr__(self) -> str:
        return (
            f"SLAReport(as_of={self.as_of.isoformat()}, leads={_height(self.leads)}, "
            f"breaches={_height(self.breaches)})\n{self.summary}"
        )

    def _repr_html_(self) -> str:
        """Both sides as a card: summary, sales by team, marketing by period, breaches and leads.

        Times are in the SLA calendar's zone and hours are labelled as business hours.
        """
        zone = ZoneInfo(self.timezone)
        sales = [
            (
                r["team"],
                r["handed_off"],
                _rate(r["response_compliance"]),
                _rate(r["attempts_compliance"]),
                _rate(r["disposition_coverage"]),
            )
            for r in self.by_team.iter_rows(named=True)
        ]
        marketing = [
            (
                r["period"].isoformat(),
                "yes" if r["complete"] else "so far",
                f"{r['delivered']:,} of {r['committed']:,}",
                _rate(r["acceptance_rate"]),
                _rate(r["min_acceptance_rate"]),
                _rate(r["sql_rate"]),
                _rate(r["min_sql_rate"]),
            )
            for r in self.marketing.iter_rows(named=True)
        ]
        breaches = [
            (
                r["lead_id"],
                r["owner"],
                r["commitment"].replace("_", " "),
                _display.LocalTime(r["due_at"], zone) if r["due_at"] is not None else None,
                r["detail"],
            )
            for r in _local(self.breaches, ["_rank", "lead_id"], _HTML_ROWS).iter_rows(named=True)
        ]
        leads = [
            (
                r["lead_id"],
                r["owner"],
                _display.LocalTime(r["handoff_at"], zone),
                _hours(r["response_target_hours"]),
                _hours(r["first_response_hours"]),
                r["response_status"],
                r["attempts_status"],
                r["disposition_status"],
            )
            for r in _local(self.leads, ["lead_id"], _HTML_ROWS).iter_rows(named=True)
        ]
        table = _display.html_table
        body = [
            # The summary's own time is in UTC (it is also the command's text); the title has the local one.
            _display.paragraph(self.summary.partition(": ")[2] or self.summary),
            _display.section(
                "Sales: follow-up by team",
                table(["team", "leads", "first response met", "attempts met", "dispositions on time"], sales),
            ),
            _display.section(
                "Marketing: MQL volume and quality by period",
                table(
                    [
                        "period",
                        "complete",
                        "MQLs delivered",
                        "acceptance",
                        "committed",
                        "SQL rate",
                        "committed",
                    ],
                    marketing,
                ),
            ),
            _display.section(
                f"Breaches ({_height(self.breaches):,})",
                table(["lead", "owner", "commitment", f"due ({self.timezone})", "detail"], breaches)
                if breaches
                else _display.paragraph("no breaches"),
            ),
            _display.section(
                f"Leads ({_height(self.leads):,})",
                table(
                    [
                        "lead",
                        "owner",
                        f"handed off ({self.timezone})",
                        "response target",
                        "first response",
                        "response",
                        "attempts",
                        "disposition",
                    ],
                    leads,
                ),
            ),
        ]
        more = _height(self.leads) - len(leads)
        if more > 0:
            body.append(_display.paragraph(f"{more:,} more lead(s) not shown; use to_frame()."))
        as_of = _display.local_time(self.as_of, zone)
        return _display.card(f"SLA as of {as_of}", body, subtitle="both sides of the service level agreement")

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


def _rate(value: float | None) -> str:
    return _display.percent(value, places=0)


def _hours(value: float | None) -> _display.BusinessTime | None:
    return None if value is None else _display.BusinessTime(timedelta(hours=value))


def _height(frame: Any) -> int:
    """The rows of a polars frame, or of a PySpark one (counted on Spark)."""
    return frame.height if isinstance(frame, pl.DataFrame) else int(frame.count())


def _local(frame: Any, order: list[str], limit: int | None = None) -> pl.DataFrame:
    """A polars frame as it is (its first ``limit`` rows), or a PySpark one read in ``order`` (once).

    ``_rank`` in ``order`` is the breaches' commitment order (:data:`~smarketing.sla._tables.BREACH_ORDER`).
    """
    if isinstance(frame, pl.DataFrame):
        return frame if limit is None else frame.head(limit)
    from smarketing.frames import _engine as engine  # noqa: PLC0415 (Spark frames only)

    def read() -> pl.DataFrame:
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        ranked = frame
        if "_rank" in order:
            rank = F.lit(None)
            for i, name in reversed(list(enumerate(BREACH_ORDER))):
                rank = F.when(F.col("commitment") == name, F.lit(i)).otherwise(rank)
            ranked = frame.withColumn("_rank", rank)
        if limit is not None:  # the first rows only: Spark keeps the top ones of each partition
            return engine.to_polars(ranked.orderBy(*order).limit(limit).drop("_rank"))
        # Every row: sorted here, as they arrive (Spark's sort reads its input twice: a sampling job for
        # the ranges first).
        return engine.to_polars(ranked).sort(order, maintain_order=True).drop("_rank", strict=False)

    return engine.read_once(frame, ("sla", tuple(order), limit), read)


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    rows = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime | date):
                row[key] = value.isoformat()
    return rows
