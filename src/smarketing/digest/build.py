"""The public verb: :func:`digest`, what both teams should see for one period, from the analyses they share.

Each section is one analysis of the library, run once and read for the period: the scorecard and its alerts
(:mod:`smarketing.kpi`), both sides of the SLA (:func:`~smarketing.sla.evaluate_sla`), conformance
(:func:`~smarketing.journey.conformance`), attribution with per-touch credit
(:func:`~smarketing.attribution.attribute`) and the disposition analytics
(:func:`~smarketing.feedback.dispositions`). Nothing here computes a figure of its own; it selects rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import polars as pl

from smarketing._periods import Window
from smarketing.attribution import attribute
from smarketing.digest.result import Breach, Credit, Digest, Rejection, Win
from smarketing.errors import DataError, SmarketingError
from smarketing.feedback.dispositions import dispositions
from smarketing.frames._money import check_won
from smarketing.journey import TeamFitness, conformance
from smarketing.kpi import Alert, AlertRule, alerts, computable_kpis, scorecard, status_alert
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.sla import evaluate_sla

__all__ = ["digest"]

_T = TypeVar("_T")

#: Lead ids shown as examples of one rejection reason.
_EXAMPLES = 3


def digest(
    plan: AlignmentPlan,
    data: Dataset,
    *,
    period: str,
    as_of: datetime | None = None,
    fx: FxTable | None = None,
    alert_rules: Sequence[AlertRule] | None = None,
    limit: int = 10,
) -> Digest:
    """What both teams should see for one period, read from the analyses they already share.

    * **KPI alerts**: the plan's scorecard for ``period`` through ``alert_rules`` (default
      :func:`~smarketing.kpi.status_alert`: KPIs off track or at risk). A KPI whose formula cannot be
      computed is left out with a note.
    * **SLA breaches**, both sides: sales' commitments (first response, attempts, disposition) due in the
      period, and marketing's volume and quality commitments of the SLA periods that end in it.
    * **Journey conformance by team**, over the leads that moved in the period (their whole history up to
      ``as_of``, so a lead's first move of the period is judged from where it was).
    * **Wins**: deals won in the period (the won-deal rule of the rewards and KPIs), each with the marketing
      touches credited for it by the plan's attribution model (``rewards.attribution.model``, else
      ``position``), per touch.
    * **Rejected leads by reason**: handed-off leads sales rejected in the period (by the time of the
      disposition, or of the handoff when the rejection was a move without one).

    A section that cannot be computed on the data (no SLA in the plan, no touchpoints, ...) says so in
    :attr:`Digest.notes`; the other sections are still there.

    Args:
        plan: The alignment plan.
        data: The CRM data.
        period: ``2026-10-05`` (day), ``2026-W41`` (week), ``2026-10`` (month), ``2026-Q4`` or ``2026``, in
            the plan's time zone (its SLA calendar's, else UTC).
        as_of: The instant to describe (aware); default the end of the period.
        fx: Exchange rates for the scorecard and attribution.
        alert_rules: The KPI alert rules; default ``[status_alert()]``.
        limit: The most lines each section shows in text, HTML and Slack.

    Returns:
        The digest, with text, HTML, Slack and e-mail forms.

    Raises:
        DataError: ``period`` is not a period, ``as_of`` is naive, or the data breaks a record rule.
        ValueError: ``limit`` is below 1.

    Examples:
        >>> import smarketing as sm
        >>> from smarketing.testing.fixtures import example_dataset
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> d = sm.digest(plan, example_dataset(), period="2026-10")
        >>> d  # doctest: +ELLIPSIS
        Digest('Fernbrook Analytics FY2027', period='2026-10', alerts=..., wins=1, rejections=...)
        >>> d.wins[0].line()
        'D1 won 2026-10-20: 24,000.00 EUR; marketing touches credited: webinar 100% (24,000.00 EUR)'
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if not isinstance(data, Dataset):
        data = Dataset(**data)
    tz = plan.sla.calendar.timezone if plan.sla is not None else "UTC"
    window = Window.parse(period)
    start, end = window.start_at(tz), window.end_at(tz)
    when = end if as_of is None else as_of
    if when.tzinfo is None:
        raise DataError("as_of must be timezone-aware", field="as_of")
    notes: list[str] = []
    # Frames hold UTC times; compare them with the window's bounds in UTC.
    lo, hi, at = start.astimezone(UTC), end.astimezone(UTC), when.astimezone(UTC)
    kpi_alerts = _section(
        notes,
        "KPI alerts",
        lambda: _alerts(plan, data, window=window, as_of=at, fx=fx, rules=alert_rules, notes=notes),
    )
    breaches = _section(notes, "SLA breaches", lambda: _breaches(plan, data, lo, hi, at))
    journey = _section(notes, "journey conformance", lambda: _conformance(plan, data, lo, hi, at))
    moved, fitness = journey if journey is not None else (0, ())
    wins = _section(notes, "wins", lambda: _wins(plan, data, window, fx))
    rejections = _section(notes, "rejected leads", lambda: _rejections(plan, data, lo, hi, at))
    return Digest(
        plan=plan.name,
        period=window.label,
        start=start,
        end=end,
        as_of=when,
        tz=tz,
        alerts=tuple(kpi_alerts or ()),
        breaches=tuple(breaches or ()),
        conformance=tuple(fitness),
        moved=moved,
        wins=tuple(wins or ()),
        rejections=tuple(rejections or ()),
        notes=tuple(notes),
        limit=limit,
    )


def _section(notes: list[str], name: str, compute: Callable[[], _T]) -> _T | None:
    """Run one section; a plan or data that cannot give it becomes a note, not a failed digest.

    Invalid data (a :class:`~smarketing.errors.DataError`) still fails the digest: a digest over data the
    library refuses would hide the problem from both teams.
    """
    try:
        return compute()
    except DataError:
        raise
    except SmarketingError as error:
        notes.append(f"{name}: not computed: {str(error).splitlines()[0]}")
        return None


def _alerts(
    plan: AlignmentPlan,
    data: Dataset,
    *,
    window: Window,
    as_of: datetime,
    fx: FxTable | None,
    rules: Sequence[AlertRule] | None,
    notes: list[str],
) -> list[Alert]:
    usable, left_out = computable_kpis(plan.kpis)
    notes.extend(f"KPI {kpi.id}: left out: {error}" for kpi, error in left_out)
    if not usable:
        return []
    card = scorecard(
        plan.model_copy(update={"kpis": usable}),
        data,
        period=window.label,
        as_of=as_of,
        fx=fx,
    )
    return alerts(card, list(rules) if rules is not None else [status_alert()])


def _breaches(
    plan: AlignmentPlan, data: Dataset, start: datetime, end: datetime, as_of: datetime
) -> list[Breach]:
    """Sales' breaches due in the window, and marketing's for the complete SLA periods that began in it."""
    report = evaluate_sla(plan, data, as_of=as_of)
    due = report.breaches.filter((pl.col("due_at") >= start) & (pl.col("due_at") < end))
    sales = [
        Breach(
            side="sales",
            team=row["team"],
            who=row["owner"],
            lead_id=row["lead_id"],
            commitment=row["commitment"],
            due=row["due_at"],
            detail=row["detail"],
        )
        for row in due.sort("due_at", "lead_id", "commitment").iter_rows(named=True)
    ]
    # Marketing commits per SLA period; a period counts once it is complete and ended in this window.
    periods = report.marketing.filter(
        pl.col("complete") & (pl.col("period") >= start.date()) & (pl.col("period") < end.date())
    )
    marketing = []
    for row in periods.iter_rows(named=True):
        if row["volume_met"] is False:
            marketing.append(
                _marketing(row, "volume", f"{row['delivered']:,} of {row['committed']:,} leads delivered")
            )
        for rate, floor, met in (
            ("acceptance_rate", "min_acceptance_rate", "acceptance_met"),
            ("sql_rate", "min_sql_rate", "sql_rate_met"),
        ):
            if row[met] is False:
                detail = f"{row[rate] * 100:.1f}% against at least {row[floor] * 100:.1f}%"
                marketing.append(_marketing(row, rate, detail))
    return sales + marketing


def _marketing(row: dict[str, Any], commitment: str, detail: str) -> Breach:
    return Breach(
        side="marketing",
        team=None,
        who=None,
        lead_id=None,
        commitment=commitment,
        due=row["period"],
        detail=detail,
    )


def _conformance(
    plan: AlignmentPlan, data: Dataset, start: datetime, end: datetime, as_of: datetime
) -> tuple[int, tuple[TeamFitness, ...]]:
    events = data.stage_events.filter(pl.col("time") <= as_of)
    moved = events.filter((pl.col("time") >= start) & (pl.col("time") < end)).get_column("lead_id").unique()
    if moved.len() == 0:
        return 0, ()
    report = conformance(plan.journey, events.filter(pl.col("lead_id").is_in(moved.implode())))
    return moved.len(), report.by_team


def _wins(plan: AlignmentPlan, data: Dataset, window: Window, fx: FxTable | None) -> list[Win]:
    won = check_won(data.deals)  # the one won-deal rule, with each amount in minor units
    won = won.filter((pl.col("close_date") >= window.start) & (pl.col("close_date") < window.end))
    deals = (
        data.deals.select("id", "lead_id", "owner")
        .join(won.select("id", "close_date", "amount_currency", "_minor"), on="id")
        .sort("close_date", "id")
    )
    if deals.height == 0:
        return []
    credits = _credits(
        plan, data, data.deals.filter(pl.col("id").is_in(deals.get_column("id").implode())), fx
    )
    return [
        Win(
            deal_id=row["id"],
            lead_id=row["lead_id"],
            owner=row["owner"],
            close_date=row["close_date"],
            amount=Money.from_minor(row["_minor"], row["amount_currency"]),
            credits=credits.get(row["lead_id"], ()),
        )
        for row in deals.iter_rows(named=True)
    ]


def _credits(
    plan: AlignmentPlan, data: Dataset, deals: pl.DataFrame, fx: FxTable | None
) -> dict[str, tuple[Credit, ...]]:
    """The marketing touches of each winning lead and their credit, by the plan's attribution model."""
    leads = deals.get_column("lead_id").drop_nulls().implode()
    touches = data.touchpoints.filter(pl.col("lead_id").is_in(leads))
    # A win without a touched lead has no touch to credit (attribution refuses such a deal).
    deals = deals.filter(pl.col("lead_id").is_in(touches.get_column("lead_id").implode()))
    if deals.height == 0:
        return {}
    setting = plan.rewards.attribution if plan.rewards is not None else None
    model, params = (setting.model, dict(setting.params)) if setting is not None else ("position", {})
    if model == "markov":  # per-touch credit of the Markov model is defined per journey
        params.setdefault("convention", "journey")
    currency = plan.currency if fx is not None else None
    result = attribute(
        {"touchpoints": touches, "deals": deals},
        model=model,
        per_touch=True,
        fx=fx,
        currency=currency,
        **params,
    )
    if result.touches is None:
        return {}
    value_column = next(c for c in result.touches.columns if c.startswith("value_"))
    marketing = {team.id for team in plan.teams if team.function == "marketing"}
    # A touch's share is its credit over all credit of its journey (sales' touches included).
    credited = (
        result.touches.with_columns(share=pl.col("credit") / pl.col("credit").sum().over("journey"))
        .join(touches.select(pl.col("id").alias("touch"), "team", "campaign"), on="touch", how="left")
        .filter(pl.col("team").is_in(sorted(marketing)) & (pl.col("credit") > 0))
        .sort("journey", "credit", "touch", descending=[False, True, False])
    )
    code = value_column.removeprefix("value_")
    out: dict[str, list[Credit]] = {}
    for row in credited.iter_rows(named=True):
        out.setdefault(row["journey"], []).append(
            Credit(
                touch_id=row["touch"],
                channel=row["channel"],
                campaign=row["campaign"],
                team=row["team"],
                share=float(row["share"]),
                value=Money(Decimal(row[value_column]), code),
            )
        )
    return {lead: tuple(found) for lead, found in out.items()}


def _rejections(
    plan: AlignmentPlan, data: Dataset, start: datetime, end: datetime, as_of: datetime
) -> list[Rejection]:
    report = dispositions(plan, data, as_of=as_of)
    when = pl.coalesce("disposition_at", "handoff_at")
    rejected = report.leads.filter(pl.col("rejected") & (when >= start) & (when < end))
    grouped = (
        rejected.group_by("reason")
        .agg(pl.len().alias("leads"), pl.col("lead_id").sort().head(_EXAMPLES).alias("examples"))
        .sort(["leads", "reason"], descending=[True, False], nulls_last=True)
    )
    return [
        Rejection(reason=row["reason"], leads=row["leads"], examples=tuple(row["examples"]))
        for row in grouped.iter_rows(named=True)
    ]
