"""One participant's :class:`Statement`, and how results are rendered as text, CSV and HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
import polars as pl

from smarketing import _display
from smarketing.money import Money
from smarketing.rewards._columns import COMPONENTS

__all__ = ["Statement"]


def _amount(column: str, places: int) -> pl.Expr:
    # A multiplication keeps every digit; a Decimal division would truncate to the dividend's scale.
    unit = pl.lit(Decimal(1).scaleb(-places), dtype=pl.Decimal(38, places))
    return pl.col(column).cast(pl.Decimal(38, 0)) * unit


def _amount_text(column: str, places: int) -> pl.Expr:
    return _amount(column, places).cast(pl.String)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], limit: int) -> str:
    shown = list(rows[:limit])
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), *(line(r) for r in shown)]
    if len(rows) > limit:
        out.append(f"  ... {len(rows) - limit} more line(s)")
    return "\n".join(out)


_TEXT_ROWS = 40
_HTML_ROWS = 200


@attrs.frozen(eq=False)
class Statement:
    """One participant's reward statement for one period: lines, totals, attainment, and what changed.

    Render it with :meth:`to_text`, :meth:`to_csv` or :meth:`to_html`.
    """

    participant: str
    """Person or team id."""
    team: str | None
    """The participant's team, when known."""
    period: str
    """The period."""
    currency: str
    """The plan currency."""
    lines: pl.DataFrame = attrs.field(repr=False)
    """The participant's lines, as in :meth:`RewardLedger.to_frame`."""
    total: Money
    """What the period pays the participant."""
    quota: Money | None = None
    """The quota of the period, if any."""
    attainment: Decimal | None = None
    """Credited bookings net of clawed-back ones over quota (1 = 100%), if there is a quota."""
    credited_basis: Money | None = None
    """Bookings credited to the participant in the period (the deals' basis amounts, split like the pool)."""
    clawed_basis: Money | None = None
    """Bookings taken back from the attainment by clawbacks."""
    tier_rule: str | None = None
    """How the tiers applied."""
    previous_total: Money | None = None
    """The total of the previous run, when one was given."""

    def by_component(self) -> dict[str, Money]:
        """Totals per component, in :data:`COMPONENTS` order."""
        sums = dict(self.lines.group_by("component").agg(pl.col("amount").sum()).iter_rows())
        return {c: Money(sums[c], self.currency) for c in COMPONENTS if c in sums}

    @property
    def change(self) -> Money | None:
        """The total minus the previous run's total, when there was one."""
        return None if self.previous_total is None else self.total - self.previous_total

    def summary(self) -> dict[str, Any]:
        """The statement's header as plain data."""
        return {
            "participant": self.participant,
            "team": self.team,
            "period": self.period,
            "total": str(self.total),
            "quota": None if self.quota is None else str(self.quota),
            "attainment": None if self.attainment is None else str(self.attainment),
            "credited_basis": None if self.credited_basis is None else str(self.credited_basis),
            "clawed_basis": None if self.clawed_basis is None else str(self.clawed_basis),
            "tiers": self.tier_rule,
            "by_component": {k: str(v) for k, v in self.by_component().items()},
            "previous_total": None if self.previous_total is None else str(self.previous_total),
            "change": None if self.change is None else str(self.change),
        }

    def to_frame(self) -> pl.DataFrame:
        """The lines."""
        return self.lines

    def to_dict(self) -> dict[str, Any]:
        """Header and lines as plain data (money as text)."""
        return {
            **self.summary(),
            "lines": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
                for row in self.lines.iter_rows(named=True)
            ],
        }

    def _header(self) -> list[tuple[str, str]]:
        pairs = [
            (
                "participant",
                self.participant + (f" ({self.team})" if self.team and self.team != self.participant else ""),
            ),
            ("period", self.period),
        ]
        if self.quota is not None:
            pairs.append(("quota", str(self.quota)))
            pairs.append(
                (
                    "credited bookings",
                    f"{self.credited_basis}"
                    + (f" (clawed back {self.clawed_basis})" if self.clawed_basis else ""),
                )
            )
            if self.attainment is not None:
                pairs.append(("attainment", f"{(self.attainment * 100).quantize(Decimal('0.1'))}%"))
        if self.tier_rule:
            pairs.append(("tiers", self.tier_rule))
        for component, amount in self.by_component().items():
            pairs.append((component, str(amount)))
        pairs.append(("total", str(self.total)))
        if self.previous_total is not None:
            pairs.append(("previous run", f"{self.previous_total} (change {self.change})"))
        return pairs

    def _table(self) -> tuple[list[str], list[list[str]]]:
        headers = ["deal", "component", "amount", "explanation"]
        rows = [
            [r["deal"] or "-", r["component"], str(r["amount"]), r["explanation"]]
            for r in self.lines.select("deal", "component", "amount", "explanation").iter_rows(named=True)
        ]
        return headers, rows

    def to_text(self, *, limit: int | None = None) -> str:
        """The statement as text: a header, then one row per line (all of them unless ``limit``)."""
        width = max(len(k) for k, _ in self._header())
        head = [f"Reward statement {self.period}"] + [f"  {k.ljust(width)}  {v}" for k, v in self._header()]
        headers, rows = self._table()
        return (
            "\n".join(head)
            + "\n"
            + _text_table(headers, rows, limit if limit is not None else len(rows) or 1)
        )

    def to_csv(self) -> str:
        """The lines as CSV (amounts exact, in the plan currency)."""
        return self.lines.with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv()

    def to_html(self) -> str:
        """The statement as an HTML fragment."""
        head = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._header()
        )
        headers, rows = self._table()
        title = html.escape(f"Reward statement {self.period}: {self.participant}")
        return f"<h3>{title}</h3><table>{head}</table>" + _display.html_table(
            headers, rows, max_rows=len(rows) or 1
        )

    def __repr__(self) -> str:
        return self.to_text(limit=_TEXT_ROWS)

    def _repr_html_(self) -> str:
        return self.to_html()
