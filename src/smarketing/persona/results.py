"""The results of the persona analyses: frozen values with ``to_frame()``, ``to_dict()`` and reprs.

:class:`Agreement` is what :func:`~smarketing.persona.agreement` returns, :class:`Calibration` what
:func:`~smarketing.persona.calibrate` returns and :class:`Segments` what :func:`~smarketing.persona.segment`
returns.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing import _charts
from smarketing._display import html_table, text_table
from smarketing.money import Money

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["AGREEMENT_COLUMNS", "Agreement", "Calibration", "Segments"]

#: The columns of one row of agreement numbers (overall or per group), in order.
AGREEMENT_COLUMNS: dict[str, Any] = {
    "leads": pl.Int64,
    "mqls": pl.Int64,
    "mql_accepted": pl.Int64,
    "mql_rejected": pl.Int64,
    "mql_pending": pl.Int64,
    "nonmql_accepted": pl.Int64,
    "nonmql_rejected": pl.Int64,
    "audit_unjudged": pl.Int64,
    "observed": pl.Float64,
    "acceptance": pl.Float64,
    "kappa": pl.Float64,
    "kappa_low": pl.Float64,
    "kappa_high": pl.Float64,
    "pabak": pl.Float64,
    "pabak_low": pl.Float64,
    "pabak_high": pl.Float64,
    "ac1": pl.Float64,
    "ac1_low": pl.Float64,
    "ac1_high": pl.Float64,
    "acceptance_low": pl.Float64,
    "acceptance_high": pl.Float64,
    "won_deals": pl.Int64,
    "won_unqualified": pl.Int64,
    "won_unqualified_share": pl.Float64,
}


def _number(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _share(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _interval(row: Mapping[str, Any], name: str, *, share: bool = False) -> str:
    show = _share if share else _number
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    if math.isnan(low):
        return ""
    return f" [{show(low)}, {show(high)}]"


def _json_value(value: Any) -> Any:
    """A cell as a JSON-ready value: ISO text for times and days, text for Decimals, ``None`` for NaN."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts."""
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dicts()]


@attrs.frozen(repr=False)
class Agreement:
    """How far marketing's MQL call and sales' acceptance agree (see :func:`~smarketing.persona.agreement`).

    The table is ``((mql_accepted, mql_rejected), (nonmql_accepted, nonmql_rejected))``: rows are
    marketing's call, columns sales' answer. **Sales judges only MQLs**: the not-MQL row holds only the
    audit sample, the leads that were no MQL and that sales reviewed blind.

    Attributes:
        overall: One row of numbers over all leads (columns in :data:`AGREEMENT_COLUMNS`).
        groups: With ``by``, the ``by`` columns and the same numbers per group (sorted, nulls last).
        by: The grouping columns, or ``None``.
        audited: Lead ids in the audit sample.
        confidence: Level of the bootstrap intervals.
        resamples: Bootstrap resamples.
        seed: Bootstrap seed.
        accepted_stages: The stages whose entry meant "accepted".
        notes: What to keep in mind when reading the numbers.
    """

    overall: pl.DataFrame
    groups: pl.DataFrame | None
    by: tuple[str, ...] | None
    audited: int
    confidence: float
    resamples: int
    seed: int
    accepted_stages: tuple[str, ...]
    notes: tuple[str, ...]

    def _get(self, name: str) -> Any:
        return self.overall.item(0, name)

    @property
    def table(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The 2x2 table ``((MQL accepted, MQL rejected), (not-MQL accepted, not-MQL rejected))``."""
        return (
            (self._get("mql_accepted"), self._get("mql_rejected")),
            (self._get("nonmql_accepted"), self._get("nonmql_rejected")),
        )

    @property
    def kappa(self) -> float:
        """Cohen's κ over all leads (NaN when undefined)."""
        return float(self._get("kappa"))

    @property
    def pabak(self) -> float:
        """PABAK, ``2·p_o - 1``, over all leads."""
        return float(self._get("pabak"))

    @property
    def ac1(self) -> float:
        """Gwet's AC1 over all leads."""
        return float(self._get("ac1"))

    @property
    def observed(self) -> float:
        """Observed agreement ``p_o`` over all leads."""
        return float(self._get("observed"))

    @property
    def acceptance_rate(self) -> float:
        """Accepted MQLs over all MQLs (pending ones included)."""
        return float(self._get("acceptance"))

    @property
    def won_unqualified_share(self) -> float:
        """Share of won deals (with a lead) whose lead marketing never qualified."""
        return float(self._get("won_unqualified_share"))

    @property
    def summary(self) -> str:
        """The overall numbers in two sentences."""
        row = self.overall.row(0, named=True)
        level = f"{self.confidence:.0%}"
        return (
            f"Marketing and sales agree on {_share(row['observed'])} of {row['leads']:,} judged lead(s) "
            f"({row['nonmql_accepted'] + row['nonmql_rejected']:,} of them from the audit sample): "
            f"κ {_number(row['kappa'])}{_interval(row, 'kappa')}, "
            f"AC1 {_number(row['ac1'])}{_interval(row, 'ac1')}, "
            f"PABAK {_number(row['pabak'])}{_interval(row, 'pabak')} ({level} bootstrap intervals). "
            f"Sales accepted {_share(row['acceptance'])}{_interval(row, 'acceptance', share=True)} of "
            f"{row['mqls']:,} MQL(s); {_share(row['won_unqualified_share'])} of {row['won_deals']:,} won "
            "deal(s) came from leads marketing never qualified."
        )

    def to_frame(self) -> pl.DataFrame:
        """The per-group rows with ``by``, else the one overall row.

        Examples:
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> sm.persona.agreement(plan, {}, resamples=10).to_frame()["leads"].to_list()
            [0]
        """
        return self.groups if self.groups is not None else self.overall

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values (NaN as ``None``)."""
        return {
            "summary": self.summary,
            "by": list(self.by) if self.by else None,
            "audited": self.audited,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
            "accepted_stages": list(self.accepted_stages),
            "notes": list(self.notes),
            "overall": _json_rows(self.overall)[0],
            "groups": _json_rows(self.groups) if self.groups is not None else None,
        }

    def _table_rows(self) -> tuple[list[str], list[list[Any]]]:
        frame = self.to_frame()
        keys = list(self.by or ())
        shown = [*keys, "leads", "mqls", "acceptance", "observed", "kappa", "ac1", "pabak"]
        rows = [
            [
                _share(v)
                if c in ("acceptance", "observed")
                else _number(v)
                if c in ("kappa", "ac1", "pabak")
                else v
                for c, v in zip(shown, row, strict=True)
            ]
            for row in frame.select(shown).rows()
        ]
        return shown, rows

    def __repr__(self) -> str:
        head = (
            f"Agreement(leads={self._get('leads')}, by={list(self.by) if self.by else None})\n{self.summary}"
        )
        notes = "".join(f"\n- {n}" for n in self.notes)
        if self.groups is None:
            return head + notes
        headers, rows = self._table_rows()
        return f"{head}{notes}\n{text_table(headers, rows)}"

    def _repr_html_(self) -> str:
        headers, rows = self._table_rows()
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return f"<p>{html.escape(self.summary)}</p><ul>{notes}</ul>{html_table(headers, rows)}"

    def plot(self) -> Figure:
        """Marketing's MQL call against sales' acceptance, as a 2x2 table of counts (needs ``plot``).

        With groups, a second chart shows sales' acceptance rate of each group's MQLs.

        Examples:
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.persona.agreement(plan, example_dataset()).plot()
            >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
            ['MQL', 'not MQL']
        """
        groups = self.groups if self.groups is not None and self.groups.height else None
        title = f"Agreement: \u03ba {_number(self.kappa)}, PABAK {_number(self.pabak)}"
        title += f", {self._get('mqls'):,} MQLs"
        fig, axes = _charts.new(1, 2 if groups is not None else 1, title=title, width=7.0, height=3.2)
        table = self.table
        ax = axes[0]
        ax.imshow([list(row) for row in table], cmap="Blues")
        ax.set_xticks([0, 1], ["accepted", "rejected"])
        ax.set_yticks([0, 1], ["MQL", "not MQL"])
        ax.set_xlabel("sales' verdict")
        ax.set_ylabel("marketing's call")
        top = max(max(row) for row in table) or 1
        for i, row in enumerate(table):
            for j, count in enumerate(row):
                colour = "white" if count > top / 2 else "black"
                ax.text(j, i, f"{count:,}", ha="center", va="center", color=colour, fontsize=11.0)
        if groups is not None:
            names = [
                ", ".join("none" if row[c] is None else str(row[c]) for c in self.by or ())
                for row in groups.iter_rows(named=True)
            ]
            rates = [float(v) if v is not None else 0.0 for v in groups.get_column("acceptance").to_list()]
            axes[1].barh(names, rates, color=_charts.PALETTE[0])
            axes[1].invert_yaxis()
            _charts.percent_axis(axes[1])
            axes[1].set_title("MQLs accepted by sales")
        return fig


@attrs.frozen(repr=False)
class Calibration:
    """How well lead scores predict won deals (see :func:`~smarketing.persona.calibrate`).

    Attributes:
        score_by: The predictor: ``"total"`` (fit + engagement), ``"fit"`` or ``"engagement"``.
        leads: Scored leads.
        won: Scored leads with a won deal by ``as_of``.
        base_rate: ``won / leads``.
        auc: ROC AUC (NaN without both outcomes).
        brier: Brier score of each lead's decile conversion rate (in sample).
        brier_reference: Brier score of the base rate for every lead, ``p(1 - p)``.
        lift: Per decile (1 the top): ``leads``, ``won``, ``conversion``, ``lift``, ``min_score``,
            ``max_score``, ``cumulative_won_share``.
        by_grade: Per grade (sorted, nulls last): ``leads``, ``won``, ``conversion``.
        leads_per_week: New leads a week over the data's window.
        capacity_per_week: Leads a week sales committed to work, or ``None``.
        recommended_threshold: The smallest score whose MQL yield fits the capacity, or ``None``.
        recommended_mqls_per_week: The MQLs a week at that threshold.
        current_mqls_per_week: The MQLs a week the plan's current MQL rule yields.
        notes: What to keep in mind when reading the numbers.
    """

    score_by: str
    leads: int
    won: int
    base_rate: float
    auc: float
    brier: float
    brier_reference: float
    lift: pl.DataFrame
    by_grade: pl.DataFrame
    leads_per_week: float
    capacity_per_week: float | None
    recommended_threshold: float | None
    recommended_mqls_per_week: float | None
    current_mqls_per_week: float
    notes: tuple[str, ...]

    @property
    def summary(self) -> str:
        """The numbers in two or three sentences."""
        text = (
            f"{self.leads:,} scored lead(s), {self.won:,} won ({_share(self.base_rate)}): "
            f"AUC {_number(self.auc)} for the {self.score_by} score, Brier {_number(self.brier, 4)} "
            f"(base rate alone {_number(self.brier_reference, 4)}). "
            f"The current MQL rule yields {self.current_mqls_per_week:.1f} MQLs a week"
        )
        if self.capacity_per_week is None:
            return text + "; no sales capacity to compare with."
        text += f" against {self.capacity_per_week:.1f} sales committed to work"
        if self.recommended_threshold is None:
            return text + "; no threshold yields that few."
        return (
            f"{text}; a threshold of {self.recommended_threshold:g} yields "
            f"{self.recommended_mqls_per_week or 0.0:.1f}."
        )

    def to_frame(self) -> pl.DataFrame:
        """The lift table by decile."""
        return self.lift

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values (NaN as ``None``)."""
        scalars = {
            name: _json_value(getattr(self, name))
            for name in (
                "score_by",
                "leads",
                "won",
                "base_rate",
                "auc",
                "brier",
                "brier_reference",
                "leads_per_week",
                "capacity_per_week",
                "recommended_threshold",
                "recommended_mqls_per_week",
                "current_mqls_per_week",
            )
        }
        return {
            "summary": self.summary,
            **scalars,
            "notes": list(self.notes),
            "lift": _json_rows(self.lift),
            "by_grade": _json_rows(self.by_grade),
        }

    def _rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = ["decile", "leads", "won", "conversion", "lift", "min_score", "max_score"]
        rows = [
            [d, n, w, _share(c), _number(lift), f"{lo:g}", f"{hi:g}"]
            for d, n, w, c, lift, lo, hi in self.lift.select(headers).rows()
        ]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        notes = "".join(f"\n- {n}" for n in self.notes)
        head = f"Calibration(leads={self.leads}, won={self.won})\n{self.summary}{notes}"
        return f"{head}\n{text_table(headers, rows)}"

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return f"<p>{html.escape(self.summary)}</p><ul>{notes}</ul>{html_table(headers, rows)}"


@attrs.frozen(repr=False)
class Segments:
    """Counts, conversion and won value per segment (see :func:`~smarketing.persona.segment`).

    Attributes:
        by: The segment columns.
        frame: One row per segment (sorted, nulls last): the ``by`` columns, ``leads``, ``mqls``,
            ``accepted``, ``won_leads``, ``won_deals``, ``mql_rate``, ``acceptance_rate``, ``win_rate``.
        value: One row per segment and currency with won deals: the ``by`` columns, ``currency``,
            ``won_deals`` and ``won_value`` (an exact Decimal amount in that currency).
        counts: Facts left out, by kind: ``mqls_unknown_lead`` (MQLs missing from the leads),
            ``won_deals_unknown_lead`` and ``won_deals_without_lead``.
    """

    by: tuple[str, ...]
    frame: pl.DataFrame
    value: pl.DataFrame
    counts: Mapping[str, int]

    def won_value(self, *key: Any) -> dict[str, Money]:
        """The won value of one segment (its ``by`` values, in order) as Money by currency.

        Raises:
            ValueError: ``key`` does not give one value per ``by`` column.
        """
        if len(key) != len(self.by):
            raise ValueError(f"give one value per segment column {list(self.by)}, not {len(key)}")
        match = pl.lit(value=True)
        for column, wanted in zip(self.by, key, strict=True):
            match &= (
                pl.col(column).is_null()
                if wanted is None
                else (pl.col(column) == wanted).fill_null(value=False)
            )
        rows = self.value.filter(match).select("currency", "won_value").rows()
        return {code: Money(amount, code) for code, amount in rows}

    def totals(self) -> dict[str, Money]:
        """The won value of all segments together, as Money by currency."""
        rows = self.value.group_by("currency").agg(pl.col("won_value").sum()).sort("currency").rows()
        return {code: Money(amount, code) for code, amount in rows}

    def to_frame(self) -> pl.DataFrame:
        """The per-segment rows."""
        return self.frame

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values (amounts as exact text, NaN as ``None``)."""
        return {
            "by": list(self.by),
            "counts": dict(self.counts),
            "segments": _json_rows(self.frame),
            "value": _json_rows(self.value),
        }

    def _rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = [
            *self.by,
            "leads",
            "mqls",
            "accepted",
            "won_leads",
            "mql_rate",
            "acceptance_rate",
            "win_rate",
        ]
        rows = [
            [_share(v) if h.endswith("_rate") else v for h, v in zip(headers, row, strict=True)]
            for row in self.frame.select(headers).rows()
        ]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        value = ", ".join(str(m) for m in self.totals().values()) or "nothing"
        return (
            f"Segments(by={list(self.by)}, segments={self.frame.height}, won value {value})\n"
            + text_table(headers, rows)
        )

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return html_table(headers, rows, caption=f"Segments by {', '.join(self.by)}")
