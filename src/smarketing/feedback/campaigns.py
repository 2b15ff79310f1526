"""Campaigns side by side: :func:`compare_campaigns` and its result, :class:`CampaignComparison`.

A campaign retrospective compares campaigns on the same measures, each read by the one definition the
rest of smarketing uses:

- **leads**: leads whose ``campaign`` is the campaign, created at or before ``as_of`` (each lead counts once,
  under the one campaign that created it);
- **MQLs, accepted, rejected**: the outcomes of :mod:`smarketing.persona` (``agreement`` reads the same),
  as they stood at ``as_of``; **acceptance** is accepted MQLs over MQLs;
- **rejection reasons**: each rejected lead under exactly one reason, its first disposition after the
  handoff (the rule the disposition analytics use too);
- **SQLs**: leads that entered the SLA's ``marketing.quality.sql_stage`` (none without one);
- **won**: leads with a won deal closed by ``as_of``; **revenue** the amount of those deals, **pipeline**
  the amount of open and won deals of the campaign's leads (a deal closed after ``as_of`` was still open);
- **cost per lead / MQL / SQL / won**: the campaign's cost in the plan (``cost``, else the sum of its
  ``channel_costs``) over each count, exact, rounded half to even to the minor unit only at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import narwhals as nw
import polars as pl

from smarketing._display import html_table, local_time, text_table
from smarketing.calendar import check_time
from smarketing.errors import DataError
from smarketing.feedback import _scale
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._money import WON, convert_column, minor_units
from smarketing.money import FxTable, Money
from smarketing.persona._outcomes import JourneyStages, lead_outcomes, rejection_reasons
from smarketing.persona.agreement import plan_stages

if TYPE_CHECKING:
    from smarketing.campaigns import Campaign
    from smarketing.plan import AlignmentPlan

__all__ = ["CampaignComparison", "compare_campaigns"]

_I64 = pl.Int64
_COUNTS = ("leads", "mqls", "accepted", "rejected", "sqls", "won")
#: The stages that carry a cost per stage, and the count each divides by.
COST_STAGES = (("lead", "leads"), ("mql", "mqls"), ("sql", "sqls"), ("won", "won"))


def compare_campaigns(
    plan: AlignmentPlan,
    data: Any,
    *,
    campaigns: Iterable[str] | None = None,
    as_of: datetime,
    fx: FxTable | None = None,
) -> CampaignComparison:
    """The same measures for each campaign, side by side, as they stood at ``as_of``.

    See the module docstring for what each measure means. Campaigns come in the order given; with
    ``campaigns=None`` every campaign on a lead created by ``as_of``, sorted by id. A campaign named but
    with no lead is a row of zeros. Money is in integer minor units: pipeline and revenue in the plan's
    ``currency`` (else the one currency of the deals), cost columns in the campaign cost's currency.

    Args:
        plan: The plan (journey and SLA for the outcomes; ``campaigns`` for names and costs).
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind to records or frames
            (``leads``, ``stage_events``, ``dispositions``, ``deals``).
        campaigns: Campaign ids to compare, or None for all.
        as_of: The time the numbers stand at (timezone-aware).
        fx: Rates to convert deal amounts in other currencies (at the close date; open deals at
            ``as_of``).

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found.
        DataError: A column is missing, a time is naive, a deal amount is not exact, or deals are in
            several currencies without ``fx``.
        ValueError: ``campaigns`` is empty, names one twice or holds something that is not an id.

    Examples:
        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
        >>> leads = [sm.Lead(id=f"L{i}", created_at=t, campaign="webinar-2026-q3") for i in (1, 2)]
        >>> data = {"leads": leads, "stage_events": [sm.StageEvent(lead_id="L1", to="mql", time=t)]}
        >>> result = sm.feedback.compare_campaigns(plan, data, as_of=t)
        >>> result.to_frame().select("campaign", "leads", "mqls", "cost_per_lead_minor").row(0)
        ('webinar-2026-q3', 2, 1, 900000)
        >>> result.cost_per("webinar-2026-q3", "mql")
        Money('18000.00', 'EUR')
    """
    as_of = check_time(as_of, "as_of")
    wanted = _wanted(campaigns)
    stages = plan_stages(plan)
    sql_stage = plan.sla.marketing.quality.sql_stage if plan.sla and plan.sla.marketing.quality else None
    spec = _Campaigns(stages, sql_stage, as_of, wanted, plan.currency, fx)
    partials = _scale.by_lead(data, _READS, spec.map, _scale.CAMPAIGNS)
    codes = partials.merged("codes").get_column("currency").to_list()
    currency = plan.currency or (codes[0] if len(codes) == 1 else None)
    if codes and currency is None:
        raise DataError(
            f"deals in several currencies ({', '.join(codes)}) and the plan has no currency to report in",
            kind="deals",
            field="amount_currency",
        )
    counts, money = partials.merged("counts"), partials.merged("money")
    reasons = partials.merged("reasons")
    reasons = reasons.sort("campaign", pl.col("leads"), "reason", descending=[False, True, False])
    order = wanted if wanted is not None else sorted(counts.get_column("campaign").to_list())
    table = _table(plan, order, counts, money, currency=currency, with_sqls=sql_stage is not None)
    if wanted is not None:
        reasons = reasons.join(pl.DataFrame({"campaign": order}).with_row_index("_at"), on="campaign")
        reasons = reasons.sort("_at", pl.col("leads"), "reason", descending=[False, True, False]).drop("_at")
    return CampaignComparison(
        campaigns=table, reasons=reasons, as_of=as_of, currency=currency, sql_stage=sql_stage
    )


#: The columns read of each record kind (on Spark, only these are shuffled).
_READS = {
    "leads": ("id", "campaign", "created_at"),
    "stage_events": ("id", "lead_id", "from", "to", "time"),
    "dispositions": ("id", "lead_id", "time", "reason"),
    "deals": ("id", "lead_id", "stage", "amount", "amount_currency", "close_date", "created_at"),
}


@attrs.frozen
class _Campaigns:
    """What every partition's map of :func:`compare_campaigns` is given (shipped to Spark's workers)."""

    stages: JourneyStages
    sql_stage: str | None
    as_of: datetime
    wanted: list[str] | None
    currency: str | None
    fx: FxTable | None

    def map(self, data: Any) -> dict[str, pl.DataFrame]:
        """The partial tables of a partition of leads (:func:`_campaign_map`)."""
        return _campaign_map(data, self)


def _campaign_map(data: Any, spec: _Campaigns) -> dict[str, pl.DataFrame]:
    """The partial tables of the leads in ``data`` (complete leads: every record of each of them).

    Per campaign the counts and the money (in minor units of the plan's currency; without one, unconverted:
    the driver then requires one currency of all the deals), per campaign and reason the rejected leads,
    and the currencies of the deals counted.
    """
    # Read at once (the queries run in parallel), each at most one row per lead.
    frames = pl.collect_all(
        [
            _campaign_leads(data, spec.as_of, spec.wanted),
            lead_outcomes(spec.stages, data, as_of=spec.as_of),
            _sql_leads(data, spec.sql_stage, spec.as_of),
        ]
    )
    leads, outcomes, sqls = (f.lazy() for f in frames)
    per_lead = (
        leads.join(outcomes, on="lead_id", how="left")
        .with_columns(pl.col("mql", "accepted", "rejected").fill_null(value=False))
        .join(sqls, on="lead_id", how="left")
    )
    deals = _deal_amounts(spec.currency, data, per_lead.select("lead_id", "campaign"), spec.as_of, spec.fx)
    counts, reasons, money, codes = pl.collect_all(
        [
            per_lead.group_by("campaign").agg(
                leads=pl.len(),
                mqls=pl.col("mql").sum(),
                accepted=(pl.col("mql") & pl.col("accepted")).sum(),
                rejected=pl.col("rejected").sum(),
                sqls=pl.col("sql").fill_null(value=False).sum(),
            ),
            rejection_reasons(outcomes, data, as_of=spec.as_of)
            .join(per_lead.select("lead_id", "campaign"), on="lead_id", how="inner")
            .group_by("campaign", "reason")
            .agg(leads=pl.len().cast(_I64)),
            deals.group_by("campaign").agg(
                pipeline_minor=pl.col("_minor").sum(),
                revenue_minor=pl.col("_minor").filter("won").sum(),
                won=pl.col("lead_id").filter("won").n_unique(),
            ),
            deals.select(pl.col("amount_currency").alias("currency")).drop_nulls().unique(),
        ]
    )
    return {"counts": counts, "reasons": reasons, "money": money, "codes": codes}


def _wanted(campaigns: Iterable[str] | None) -> list[str] | None:
    if campaigns is None:
        return None
    if isinstance(campaigns, str):
        raise ValueError("campaigns must be a collection of campaign ids, not one string")
    wanted = list(campaigns)
    if not wanted:
        raise ValueError("campaigns must name at least one campaign (or be None for all)")
    for c in wanted:
        if not isinstance(c, str) or not c:
            raise ValueError(f"campaigns must hold campaign ids, not {c!r}")
    twice = sorted({c for c in wanted if wanted.count(c) > 1})
    if twice:
        raise ValueError(f"campaigns names {', '.join(map(repr, twice))} more than once")
    return wanted


def _campaign_leads(data: Any, as_of: datetime, wanted: list[str] | None) -> pl.LazyFrame:
    """``lead_id``, ``campaign`` of the leads of the campaigns compared, created at or before ``as_of``."""
    leads = as_lazy(
        data, "leads", required=["id", "campaign", "created_at"], reads=("campaign", "created_at")
    )
    check_aware(leads, ["created_at"], kind="leads")
    native: pl.LazyFrame = leads.filter(nw.col("created_at") <= as_of).to_native()
    chosen = pl.col("campaign").is_not_null() if wanted is None else pl.col("campaign").is_in(wanted)
    return native.filter(chosen).select(pl.col("id").alias("lead_id"), pl.col("campaign").cast(pl.String))


def _sql_leads(data: Any, sql_stage: str | None, as_of: datetime) -> pl.LazyFrame:
    """``lead_id``, ``sql`` (True) of the leads that entered ``sql_stage`` by ``as_of``."""
    if sql_stage is None:
        return pl.LazyFrame(schema={"lead_id": pl.String, "sql": pl.Boolean})
    events = as_lazy(data, "stage_events", required=["lead_id", "to", "time"], reads=(), once=True)
    native: pl.LazyFrame = events.filter((nw.col("to") == sql_stage) & (nw.col("time") <= as_of)).to_native()
    return native.select("lead_id").unique().with_columns(sql=pl.lit(value=True))


def _deal_amounts(
    currency: str | None, data: Any, leads: pl.LazyFrame, as_of: datetime, fx: FxTable | None
) -> pl.LazyFrame:
    """The open and won deals of ``leads`` at ``as_of`` in minor units of ``currency`` (None: their own).

    Columns ``campaign``, ``lead_id``, ``won``, ``amount_currency`` and ``_minor``. A deal counts when it
    was created by ``as_of``; it is won when won with a close date on or before ``as_of``'s day, open when
    open then (its stage is ``open``, or it closed later); lost deals are left out. Without a
    ``currency`` the amounts stay in their own (the caller requires the deals to have one between them).

    Raises:
        DataError: A deal not in ``currency`` and no ``fx``: the smallest id of the smallest such currency.
    """
    columns = ["id", "lead_id", "stage", "amount", "amount_currency", "close_date", "created_at"]
    deals = as_lazy(data, "deals", required=columns, reads=())
    check_aware(deals, ["created_at"], kind="deals")
    day = as_of.astimezone(UTC).date()
    closed = pl.col("close_date").is_not_null() & (pl.col("close_date") <= day)
    native: pl.LazyFrame = deals.filter(nw.col("created_at") <= as_of).to_native()
    frame = (
        native.join(leads, on="lead_id", how="inner")
        .with_columns(won=(pl.col("stage") == WON) & closed)
        .filter(pl.col("won") | (pl.col("stage") == "open") | ~closed)
        .with_columns(_day=pl.when("won").then("close_date").otherwise(pl.lit(day)))
        .sort("id")
        .collect()
    )
    frame = frame.with_columns(minor_units(frame, "amount", "amount_currency").alias("_minor"))
    if currency is None:
        return frame.select("campaign", "lead_id", "won", "amount_currency", "_minor").lazy()
    others = frame.filter(pl.col("amount_currency") != currency)
    if len(others) and fx is None:
        # The smallest currency's smallest deal id: one answer however the deals are partitioned.
        first = others.sort("amount_currency", pl.col("id").cast(pl.String)).row(0, named=True)
        raise DataError(
            f"amount in {first['amount_currency']}, not {currency}; pass fx=FxTable(...) to convert",
            kind="deals",
            record=str(first["id"]),
            field="amount_currency",
        )
    if len(others) and fx is not None:
        to = currency

        def one(row: int) -> int:
            deal = frame.row(row, named=True)
            return fx.convert(Money(deal["amount"], deal["amount_currency"]), to, deal["_day"]).to_minor()

        converted = convert_column(
            frame, "_minor", fx=fx, to=to, currency="amount_currency", on="_day", fallback=one
        )
        frame = frame.with_columns(converted)
    return frame.select("campaign", "lead_id", "won", "amount_currency", "_minor").lazy()


def _per(cost: Money | None, count: int | None) -> Money | None:
    """``cost / count``, exact, rounded half to even to the minor unit once; None without cost or count."""
    if cost is None or not count:
        return None
    quotient, remainder = divmod(cost.to_minor(), count)
    twice = 2 * remainder
    if twice > count or (twice == count and quotient % 2):
        quotient += 1
    return Money.from_minor(quotient, cost.currency)


def _table(
    plan: AlignmentPlan,
    order: list[str],
    counts: pl.DataFrame,
    money: pl.DataFrame,
    *,
    currency: str | None,
    with_sqls: bool,
) -> pl.DataFrame:
    """One row per campaign of ``order``: names, counts, acceptance, money and cost per stage."""
    known: dict[str, Campaign] = {c.id: c for c in plan.campaigns}
    by_counts = {r["campaign"]: r for r in counts.to_dicts()}
    by_money = {r["campaign"]: r for r in money.to_dicts()}
    rows = []
    for campaign in order:
        got = by_counts.get(campaign, {})
        row: dict[str, Any] = {"campaign": campaign}
        row["name"] = known[campaign].name if campaign in known else None
        for name in _COUNTS[:-1]:
            row[name] = int(got.get(name) or 0)
        if not with_sqls:
            row["sqls"] = None
        paid = by_money.get(campaign, {})
        row["won"] = int(paid.get("won") or 0)
        row["acceptance"] = row["accepted"] / row["mqls"] if row["mqls"] else None
        row["pipeline_minor"] = int(paid.get("pipeline_minor") or 0)
        row["revenue_minor"] = int(paid.get("revenue_minor") or 0)
        row["currency"] = currency
        cost = known[campaign].total_cost if campaign in known else None
        row["cost_currency"] = None if cost is None else cost.currency
        row["cost_minor"] = None if cost is None else cost.to_minor()
        for stage, count in COST_STAGES:
            per = _per(cost, row[count])
            row[f"cost_per_{stage}_minor"] = None if per is None else per.to_minor()
        rows.append(row)
    return pl.DataFrame(rows, schema=_SCHEMA)


_SCHEMA = {
    "campaign": pl.String,
    "name": pl.String,
    **dict.fromkeys(("leads", "mqls", "accepted", "rejected", "sqls"), _I64),
    "won": _I64,
    "acceptance": pl.Float64,
    "pipeline_minor": _I64,
    "revenue_minor": _I64,
    "currency": pl.String,
    "cost_currency": pl.String,
    **dict.fromkeys(("cost_minor", *(f"cost_per_{s}_minor" for s, _ in COST_STAGES)), _I64),
}


@attrs.frozen(repr=False)
class CampaignComparison:
    """Campaigns side by side (see :func:`compare_campaigns`).

    Attributes:
        campaigns: One row per campaign, in the compared order: ``campaign``, ``name`` (from the plan),
            ``leads``, ``mqls``, ``accepted`` (accepted MQLs), ``rejected``, ``sqls`` (None without an SQL
            stage), ``won`` (leads with a won deal), ``acceptance`` (accepted / MQLs), ``pipeline_minor``
            and ``revenue_minor`` (minor units of ``currency``), ``cost_currency``, ``cost_minor`` and
            ``cost_per_lead_minor`` / ``mql`` / ``sql`` / ``won`` (minor units of ``cost_currency``; None
            where no cost or no count).
        reasons: ``campaign``, ``reason``, ``leads``: every rejected lead under its one reason, most
            frequent first per campaign (ties by reason).
        as_of: The time the numbers stand at.
        currency: The currency of pipeline and revenue (None when no deal and no plan currency).
        sql_stage: The stage counted as an SQL, or None.
    """

    campaigns: pl.DataFrame
    reasons: pl.DataFrame
    as_of: datetime
    currency: str | None
    sql_stage: str | None

    def to_frame(self) -> pl.DataFrame:
        """One row per campaign (see ``campaigns``); money in integer minor units."""
        return self.campaigns

    def cost_per(self, campaign: str, stage: str) -> Money | None:
        """The cost per ``stage`` (``"lead"``, ``"mql"``, ``"sql"`` or ``"won"``) of ``campaign``, or None.

        Raises:
            KeyError: ``campaign`` is not compared, or ``stage`` is not one of those four.
        """
        if stage not in dict(COST_STAGES):
            raise KeyError(f"no cost per {stage!r}; known: {', '.join(s for s, _ in COST_STAGES)}")
        row = self._row(campaign)
        units = row[f"cost_per_{stage}_minor"]
        return None if units is None else Money.from_minor(units, row["cost_currency"])

    def _row(self, campaign: str) -> dict[str, Any]:
        rows = self.campaigns.filter(pl.col("campaign") == campaign)
        if not len(rows):
            raise KeyError(f"campaign {campaign!r} is not compared")
        return rows.row(0, named=True)

    def top_reasons(self, campaign: str, n: int = 3) -> list[tuple[str, int]]:
        """The ``n`` most frequent rejection reasons of ``campaign`` with their counts (ties by reason)."""
        rows = self.reasons.filter(pl.col("campaign") == campaign).head(n)
        return [(r, c) for r, c in rows.select("reason", "leads").iter_rows()]

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values (money in integer minor units, with its currency)."""
        rows = self.campaigns.to_dicts()
        for row in rows:
            reasons = self.top_reasons(row["campaign"], n=len(self.reasons))
            row["reasons"] = [{"reason": r, "leads": c} for r, c in reasons]
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "sql_stage": self.sql_stage,
            "campaigns": rows,
        }

    def _rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = ["campaign", "leads", "MQLs", "accepted", "rejected", "SQLs", "won", "pipeline", "revenue"]
        headers += ["cost/lead", "cost/MQL", "cost/SQL", "cost/won", "top reasons"]
        rows = []
        for r in self.campaigns.iter_rows(named=True):
            share = "-" if r["acceptance"] is None else f"{r['accepted']} ({r['acceptance']:.0%})"
            money = [_major(r[c], r["currency"]) for c in ("pipeline_minor", "revenue_minor")]
            costs = [_major(r[f"cost_per_{s}_minor"], r["cost_currency"]) for s, _ in COST_STAGES]
            top = ", ".join(f"{reason} {n}" for reason, n in self.top_reasons(r["campaign"])) or None
            counts = [r["leads"], r["mqls"], share, r["rejected"], r["sqls"], r["won"]]
            rows.append([r["campaign"], *counts, *money, *costs, top])
        return headers, rows

    def __repr__(self) -> str:
        head = f"CampaignComparison(campaigns={len(self.campaigns)}, as_of={self.as_of.isoformat()})"
        if not len(self.campaigns):
            return head
        return head + "\n" + text_table(*self._rows())

    def _repr_html_(self) -> str:
        return html_table(*self._rows(), caption=f"Campaigns side by side at {local_time(self.as_of)}")


def _major(units: int | None, currency: str | None) -> str | None:
    if units is None:
        return None
    return str(units) if currency is None else str(Money.from_minor(units, currency))
