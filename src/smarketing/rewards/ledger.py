"""The result of a run: :class:`RewardLedger`, every reward line of one period."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import polars as pl

from smarketing import _charts, _display
from smarketing.frames import _engine as engine
from smarketing.money import Money
from smarketing.rewards._columns import (
    LINE_COLUMNS,
    _lines_as_text,
    _lines_from_table,
    _lines_from_text,
    _order,
    _plain_lines,
)
from smarketing.rewards.statements import (
    _HTML_ROWS,
    _TEXT_ROWS,
    Statement,
    _amount,
    _amount_text,
    _text_table,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RewardLedger"]


@attrs.frozen(eq=False)
class RewardLedger:
    """Every reward line of one period: who is paid what, for which deal, by which rule.

    Lines are ordered by participant, deal (lines without a deal, such as a floor, come last), component
    (in :data:`COMPONENTS` order), then source, rule, route and origin period, so the order never depends
    on the order of the input. Amounts are exact :class:`~smarketing.money.Money` in the plan currency.

    The ledger stores its lines as integer codes (a deal's rank, categorical participants, rules and
    routes) and makes their order and text when they are asked for: :meth:`to_frame` once (then kept), a
    statement for its participant's lines only. Totals never need the text.

    Examples:
        >>> from datetime import date
        >>> from smarketing.rewards import RewardPlan, compute_rewards
        >>> ledger = compute_rewards(
        ...     [],
        ...     RewardPlan.model_validate(
        ...         {
        ...             "id": "v1",
        ...             "currency": "EUR",
        ...             "participants": [{"person": "ana"}],
        ...             "pool": {"rate": "10%"},
        ...             "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
        ...         }
        ...     ),
        ...     period="2026-10",
        ...     as_of=date(2026, 10, 31),
        ... )
        >>> ledger.total(), len(ledger)
        (Money('0.00', 'EUR'), 0)
    """

    period: str
    """The period, e.g. ``"2026-10"``."""
    currency: str
    """The plan currency every amount is in."""
    as_of: date
    """The day of the run."""
    plan_id: str
    """The reward plan's id."""
    locked: bool
    """Whether the period was locked (its lines are the paid ones plus adjustments)."""
    _given_lines: pl.DataFrame | None = attrs.field(alias="lines", repr=False)
    _summary: pl.DataFrame = attrs.field(alias="summary", repr=False)
    _given_deals: pl.DataFrame | None = attrs.field(alias="deals", repr=False)
    _teams: Mapping[str, str | None] = attrs.field(alias="teams", repr=False)
    _previous: Mapping[str, int] | None = attrs.field(alias="previous", default=None, repr=False)
    # The lines on the engine they were computed on (a PySpark DataFrame), in LINE_COLUMNS; None: in polars.
    _table: Any = attrs.field(alias="table", default=None, repr=False)
    # The lines as text, in the documented order: made when first asked for, then kept.
    _shown: dict[str, pl.DataFrame] = attrs.field(init=False, factory=dict, repr=False)

    @property
    def _lines(self) -> pl.DataFrame:
        """The coded lines (read from the engine, once, for a ledger whose lines stay there)."""
        if self._given_lines is not None:
            return self._given_lines
        if "coded" not in self._shown:
            # A locked period's paid lines keep what they said (their pool, team, version): per line.
            coded = (
                _lines_from_text(_plain_lines(self._table)) if self.locked else _lines_from_table(self._table)
            )
            self._shown["coded"], self._shown["deals"] = coded
        return self._shown["coded"]

    @property
    def _deals(self) -> pl.DataFrame:
        if self._given_deals is not None:
            return self._given_deals
        self._lines  # noqa: B018 (reads the lines and their deals)
        return self._shown["deals"]

    @property
    def line_table(self) -> Any:
        """Every line as a row where it was computed, amounts as integer minor units of the plan currency.

        For deals given as a PySpark DataFrame the lines stay on Spark: this is a PySpark DataFrame (in no
        order) that Spark writes out without passing the driver (``ledger.line_table.write.parquet(...)``);
        otherwise a polars DataFrame of the same columns in the documented line order. Columns: period,
        participant, team, deal, component, source, units, basis_units, pool_units, deal_units (the deal's
        pool and basis), version, rule, via and origin_period, the text of :meth:`to_frame` without the
        explanation. Every other method reads the lines into polars on the driver (once) when the lines
        are on Spark. The Spark stages the lines are read from stay cached (persisted) as long as this
        frame lives, and are freed when it is garbage collected.

        Examples:
            >>> from datetime import date
            >>> from smarketing.rewards import RewardPlan, compute_rewards
            >>> ledger = compute_rewards(
            ...     [],
            ...     RewardPlan.model_validate(
            ...         {
            ...             "id": "v1",
            ...             "currency": "EUR",
            ...             "participants": [{"person": "ana"}],
            ...             "floor": "100 EUR",
            ...             "pool": {"rate": "10%"},
            ...             "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
            ...         }
            ...     ),
            ...     period="2026-10",
            ...     as_of=date(2026, 10, 31),
            ... )
            >>> ledger.line_table.select("participant", "component", "units").rows()
            [('ana', 'floor', 10000)]
        """
        if self._table is not None:
            return self._table
        text = _lines_as_text(_order(self._lines), self._deals, self._teams, self.period)
        return text.select(pl.col(c).cast(t) for c, t in LINE_COLUMNS.items())

    def __len__(self) -> int:
        if self._given_lines is None and "coded" not in self._shown:
            return int(self._table.count())
        return len(self._lines)

    @property
    def _places(self) -> int:
        return Money.zero(self.currency).minor_units

    def _money(self, units: int) -> Money:
        return Money.from_minor(int(units), self.currency)

    def total(self) -> Money:
        """Everything paid in the period (clawbacks and adjustments included)."""
        return self._money(int(self._lines.get_column("units").sum()))

    def totals(
        self, by: Literal["participant", "team", "component", "deal"] = "participant"
    ) -> dict[str, Money]:
        """Totals by participant, team, component or deal, sorted by key (no team or deal: ``"-"``).

        Examples:
            >>> from datetime import date
            >>> from smarketing.rewards import RewardPlan, compute_rewards
            >>> ledger = compute_rewards(
            ...     [],
            ...     RewardPlan.model_validate(
            ...         {
            ...             "id": "v1",
            ...             "currency": "EUR",
            ...             "participants": [{"person": "ana"}],
            ...             "floor": "100 EUR",
            ...             "pool": {"rate": "10%"},
            ...             "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
            ...         }
            ...     ),
            ...     period="2026-10",
            ...     as_of=date(2026, 10, 31),
            ... )
            >>> ledger.totals(), ledger.totals("component")
            ({'ana': Money('100.00', 'EUR')}, {'floor': Money('100.00', 'EUR')})
        """
        if by not in ("participant", "team", "component", "deal"):
            raise ValueError(f"by must be participant, team, component or deal, not {by!r}")
        column = {
            "deal": "deal_rank",
            "team": "team" if "team" in self._lines.columns else "participant",
        }.get(by, by)
        grouped = self._lines.group_by(column).agg(pl.col("units").sum())
        keys = grouped.get_column(column)
        if by == "deal":
            texts = self._deals.get_column("id").gather(keys)
        elif column != by:  # teams through the participants
            texts = pl.Series([self._teams.get(k) for k in keys.cast(pl.String).to_list()], dtype=pl.String)
        else:
            texts = keys.cast(pl.String)
        sums: dict[str, int] = {}
        for key, units in zip(
            texts.fill_null("-").to_list(), grouped.get_column("units").to_list(), strict=True
        ):
            sums[key] = sums.get(key, 0) + int(units)
        return {k: self._money(sums[k]) for k in sorted(sums)}

    def _totals_units(self) -> dict[str, int]:
        """Each participant's total in minor units (summed on Spark for lines that are still there)."""
        if self._given_lines is None and "coded" not in self._shown:
            F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
            sums = engine.to_polars(self._table.groupBy("participant").agg(F.sum("units").alias("units")))
        else:
            sums = self._lines.group_by("participant").agg(pl.col("units").sum())
        return {str(k): int(v) for k, v in sums.select("participant", "units").iter_rows()}

    def participants(self) -> list[str]:
        """Everyone with a line or an attainment in the period, sorted."""
        names = set(self._lines.get_column("participant").unique().cast(pl.String).to_list()) | set(
            self._summary.get_column("participant").to_list()
        )
        return sorted(names)

    def deal(self, deal_id: str) -> pl.DataFrame:
        """The lines of one deal, as in :meth:`to_frame`."""
        return self.to_frame().filter(pl.col("deal") == deal_id)

    def lock(self) -> RewardLedger:
        """This ledger marked as paid and locked (keep it to pass as ``previous`` later)."""
        return attrs.evolve(self, locked=True)

    def to_frame(self) -> pl.DataFrame:
        """One row per line, with amounts as Decimal columns and a readable explanation.

        Columns: period, participant, team, deal, component, source, amount, credited_basis (bookings for
        attainment), deal_pool, deal_basis, version, rule, via (the route of the credit), origin_period
        (clawbacks) and explanation.
        """
        if "all" not in self._shown:
            self._shown["all"] = self._frame(self._lines)
        return self._shown["all"]

    def _frame(self, coded: pl.DataFrame) -> pl.DataFrame:
        """Coded lines as :meth:`to_frame` shows them: ordered, amounts as Decimal, text made."""
        places = self._places
        lines = _lines_as_text(_order(coded), self._deals, self._teams, self.period)
        explanation = pl.concat_str(
            [
                pl.col("rule"),
                pl.when(pl.col("via").is_not_null())
                .then(pl.concat_str(pl.lit("; credit via "), pl.col("via")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("deal").is_not_null() & (pl.col("pool_units") != 0))
                .then(
                    pl.concat_str(
                        pl.lit("; deal pool "),
                        _amount_text("pool_units", places),
                        pl.lit(" on basis "),
                        _amount_text("deal_units", places),
                    )
                )
                .otherwise(pl.lit("")),
                pl.when(pl.col("version").is_not_null())
                .then(pl.concat_str(pl.lit("; plan "), pl.col("version")))
                .otherwise(pl.lit("")),
            ]
        )
        return lines.select(
            "period",
            "participant",
            "team",
            "deal",
            "component",
            "source",
            _amount("units", places).alias("amount"),
            _amount("basis_units", places).alias("credited_basis"),
            _amount("pool_units", places).alias("deal_pool"),
            _amount("deal_units", places).alias("deal_basis"),
            "version",
            "rule",
            "via",
            "origin_period",
            explanation.alias("explanation"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the run, totals per participant and team, attainment, every line (money as text)."""
        frame = self.to_frame()
        return {
            "period": self.period,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "plan": self.plan_id,
            "locked": self.locked,
            "total": str(self.total()),
            "totals": {k: str(v) for k, v in self.totals().items()},
            "teams": {k: str(v) for k, v in self.totals("team").items()},
            "attainment": [
                self.statement(p).summary() for p in self._summary.get_column("participant").to_list()
            ],
            "lines": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
                for row in frame.iter_rows(named=True)
            ],
        }

    def statement(self, participant: str) -> Statement:
        """The statement of one participant.

        Raises:
            KeyError: The participant has no line and no attainment in the period.
        """
        lines = self._lines.filter(pl.col("participant").cast(pl.String) == participant)
        summary = self._summary.filter(pl.col("participant") == participant)
        if lines.is_empty() and summary.is_empty():
            known = ", ".join(self.participants()) or "nobody"
            raise KeyError(f"{participant!r} has no reward lines in {self.period} (participants: {known})")
        frame = self._frame(lines)
        row = summary.row(0, named=True) if len(summary) else {}
        previous = None if self._previous is None else self._money(self._previous.get(participant, 0))
        team = (
            lines.get_column("team").drop_nulls().cast(pl.String)
            if "team" in lines.columns
            else pl.Series([self._teams.get(participant)], dtype=pl.String).drop_nulls()
        )
        return Statement(
            participant=participant,
            team=str(team[0]) if len(team) else None,
            period=self.period,
            currency=self.currency,
            lines=frame,
            total=self._money(int(lines.get_column("units").sum())),
            quota=None if row.get("quota") is None else self._money(row["quota"]),
            attainment=row.get("attainment"),
            credited_basis=self._money(row.get("booked", 0) or 0),
            clawed_basis=self._money(row.get("clawed", 0) or 0),
            tier_rule=row.get("tier_rule") or None,
            previous_total=previous,
        )

    def statements(self) -> list[Statement]:
        """Every participant's statement, sorted by participant."""
        return [self.statement(p) for p in self.participants()]

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        rows = [[k, str(v)] for k, v in self.totals().items()]
        return ["participant", "total"], rows

    def __repr__(self) -> str:
        head = (
            f"RewardLedger(period={self.period}, plan={self.plan_id}, lines={len(self)}, total={self.total()}"
            + (", locked" if self.locked else "")
            + ")"
        )
        headers, rows = self._rows()
        return head + ("\n" + _text_table(headers, rows, _TEXT_ROWS) if rows else "")

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        title = html.escape(f"Rewards {self.period} ({self.plan_id}): {self.total()}")
        return f"<p><b>{title}</b></p>" + _display.html_table(headers, rows, max_rows=_HTML_ROWS)

    def plot(self) -> Figure:
        """Each participant's reward, stacked by component (needs the ``plot`` extra), labelled by total.

        Negative components (clawbacks) are drawn left of zero.

        Examples:
            >>> from datetime import date
            >>> from smarketing.rewards import RewardPlan, compute_rewards
            >>> reward_plan = RewardPlan.model_validate(
            ...     {
            ...         "id": "v1",
            ...         "currency": "EUR",
            ...         "participants": [{"person": "ana"}, {"person": "bo"}],
            ...         "floor": "100 EUR",
            ...         "pool": {"rate": "10%"},
            ...         "splits": [{"kind": "revenue", "shares": {"ana": 1}}],
            ...     }
            ... )
            >>> fig = compute_rewards([], reward_plan, period="2026-10", as_of=date(2026, 10, 31)).plot()
            >>> [label.get_text() for label in fig.axes[0].get_yticklabels()], fig.axes[0].get_xlabel()
            (['ana', 'bo'], 'reward (EUR)')
        """
        frame = self.to_frame()
        people = sorted(set(frame.get_column("participant").to_list()))
        components = sorted(set(frame.get_column("component").to_list()))
        sums = {
            (p, c): float(a)  # only the bar lengths; the labels are exact Money
            for p, c, a in frame.group_by("participant", "component").agg(pl.col("amount").sum()).iter_rows()
        }
        fig, (ax,) = _charts.new(
            title=f"Rewards {self.period} by participant and component",
            height=0.9 + 0.35 * max(len(people), 2),
        )
        positive = [0.0] * len(people)
        negative = [0.0] * len(people)
        for i, component in enumerate(components):
            values = [sums.get((p, component), 0.0) for p in people]
            left = [negative[j] if v < 0 else positive[j] for j, v in enumerate(values)]
            ax.barh(
                people, values, left=left, label=component, color=_charts.PALETTE[i % len(_charts.PALETTE)]
            )
            for j, v in enumerate(values):
                (negative if v < 0 else positive)[j] += v
        totals = self.totals()
        for j, person in enumerate(people):
            ax.annotate(
                str(totals.get(person, self._money(0))),
                (max(positive[j], 0.0), j),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8.0,
            )
        ax.invert_yaxis()
        ax.axvline(0.0, color="#555555", linewidth=0.8)
        ax.set_xlabel(f"reward ({self.currency})")
        ax.margins(x=0.18)
        _charts.legend_outside(ax)
        return fig
