"""Demo sections computed on the synthetic data.

Funnel, conformance, scorecard, deals, statements, dispositions, SLA results and attribution.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import polars as pl

from smarketing.attribution import Journeys, compare
from smarketing.cli._common import DEMO_RATE, SYNTHETIC_AS_OF, fx_table
from smarketing.cli._demo_plan import _kpi_target
from smarketing.cli._journey import funnel_calendar
from smarketing.cli._kpis import kpi_scorecard
from smarketing.cli._rewards import reward_ledger, team_totals
from smarketing.cli._sla import sla_text
from smarketing.cli._text import (
    count_text,
    duration_text,
    hours_text,
    money_text,
    rate_text,
    text_table,
    underline,
)
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.journey import conformance, funnel
from smarketing.money import Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.rewards import RewardLedger
from smarketing.sla import evaluate_sla


def data_section(plan: AlignmentPlan, data: Dataset) -> str:
    first: date = data.leads["created_at"].min().date()  # type: ignore[union-attr]
    last: date = data.leads["created_at"].max().date()  # type: ignore[union-attr]
    rows = [[kind.replace("_", " "), count_text(frame.height)] for kind, frame in data.frames().items()]
    title = underline(f"Synthetic data (leads created {first} to {last})")
    return title + "\n" + text_table(["records", "count"], rows, right={1})


def scorecard_section(plan: AlignmentPlan, data: Dataset) -> str:
    # The last full month of the synthetic data, as the monthly review would see it.
    heading = underline("Joint scorecard, October 2026 (* joint; USD at a fixed 0.92 EUR; as of 2026-11-01)")
    try:
        card, left_out = kpi_scorecard(
            plan, data, period="2026-10", by=None, as_of=None, fx=fx_table([DEMO_RATE])
        )
    except (DataError, CurrencyMismatchError) as error:  # e.g. a plan currency the demo has no rate for
        return heading + f"\ncannot compute: {error}"
    notes = "".join(f"\n{note}" for note in left_out)
    return heading + "\n" + _scorecard_table(plan, card.to_frame()) + notes


def _kpi_value(value: Decimal | None, unit: str, currency: str | None) -> str:
    """A KPI value in its unit, as the KPI table writes its target (ratios in %, hours with "h")."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "money" and currency is not None:
        return money_text(Money(value.quantize(Decimal("0.01")), currency))
    if unit in ("hours", "days"):
        return f"{value:,.1f} {unit[0]}"
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def _scorecard_table(plan: AlignmentPlan, frame: pl.DataFrame) -> str:
    """The scorecard with units on every value and target, and how attainment reads for "lower is better"."""
    kpis = {k.id: k for k in plan.kpis}
    rows, lower = [], []
    for r in frame.iter_rows(named=True):
        kpi = kpis.get(r["kpi"])
        if kpi is not None and kpi.direction == "lower_is_better":
            lower.append(r["kpi"])
        attainment = r["attainment"]
        rows.append(
            [
                ("* " if r["joint"] else "  ") + r["kpi"],
                r["period"],
                _kpi_value(r["value"], r["unit"], r["currency"]),
                _kpi_target(kpi) if kpi is not None else "-",
                "-" if attainment is None else f"{100 * attainment:.1f}%",
                (r["status"] or "-").replace("_", " "),
                r["trend"] or "-",
            ]
        )
    header = ["KPI", "period", "value", "target", "attainment", "status", "trend"]
    table = text_table(header, rows, right={2, 3, 4})
    if lower:
        table += (
            f"\n{', '.join(lower)}: lower is better, so attainment is the target over the value "
            "(half the target is 200%)"
        )
    return table


def deals_section(plan: AlignmentPlan, data: Dataset) -> str:
    deals = data.deals
    heading = underline("Deals")
    if deals.height == 0:
        return heading + "\nno deals"
    currencies = sorted(deals["amount_currency"].unique())
    totals = {
        (stage, currency): (n, Money(amount, currency))
        for stage, currency, n, amount in deals.group_by("stage", "amount_currency")
        .agg(pl.len(), pl.col("amount").sum())
        .iter_rows()
    }
    rows = []
    for stage in ("won", "lost", "open"):
        counts = [totals[(stage, c)][0] if (stage, c) in totals else 0 for c in currencies]
        amounts = [money_text(totals[(stage, c)][1]) if (stage, c) in totals else "-" for c in currencies]
        rows.append([stage, count_text(sum(counts)), *amounts])
    header = ["stage", "deals", *(f"total {c}" for c in currencies)]
    table = text_table(header, rows, right=set(range(1, len(header))))
    closed = sum(totals.get((s, c), (0, None))[0] for s in ("won", "lost") for c in currencies)
    won = sum(totals.get(("won", c), (0, None))[0] for c in currencies)
    note = f"win rate {100 * won / closed:.1f}% of closed deals" if closed else "no closed deals yet"
    return heading + "\n" + table + "\n" + note


def statements_section(plan: AlignmentPlan, data: Dataset) -> str:
    """A month's statements for a marketer and a sales rep, and the totals by team."""
    if plan.rewards is None or data.deals.is_empty():
        return underline("Reward statements") + "\nno reward plan or no deals"
    last = data.deals.get_column("close_date").max()
    assert isinstance(last, date)
    period = f"{last:%Y-%m}"
    heading = underline(f"Reward statements, {period}")
    fx = fx_table([DEMO_RATE])
    try:
        ledger = reward_ledger(plan, data, period=period, as_of=last, fx=fx)
    except (ValueError, DataError, CurrencyMismatchError) as error:
        return heading + f"\ncannot compute: {error}"
    teams = {t.id: t.function for t in plan.teams}
    people = {p.id: teams.get(p.team) for p in plan.people}
    paid = set(ledger.participants())
    shown = []
    # The first person of each function the plan names as a participant: a marketer and a sales rep.
    for function in ("marketing", "sales"):
        who = [
            p.person
            for p in plan.rewards.participants
            if p.person in paid and people.get(p.person) == function
        ]
        if who:
            shown.append(ledger.statement(who[0]).to_text(limit=6))
    return "\n\n".join([heading, *shown, _team_breakdown(plan, ledger)])


#: What each component of a statement is, in the words of the demo's notes.
_COMPONENTS = {
    "pool": "a person's credit of the deal pool (by attribution or, for a rep, as deal owner)",
    "team_pool": "a team's share of the team split, paid to the team participant",
    "split": "the deal's splits and the plan's overlays",
    "tier": "pay withheld (negative) or added by the attainment tiers",
    "cap": "pay over the per-deal or per-period cap",
    "clawback": "pay of refunded deals taken back",
}


def _team_breakdown(plan: AlignmentPlan, ledger: RewardLedger) -> str:
    """The totals by team, component by component, and why they are not the plan's team split."""
    frame = ledger.to_frame()
    if frame.is_empty() or plan.rewards is None:
        return team_totals(ledger)
    sums = frame.group_by("team", "component").agg(pl.col("amount").sum())
    components = [c for c in _COMPONENTS if c in set(sums["component"])]
    components += sorted(set(sums["component"]) - set(components))
    amounts = {(t, c): a for t, c, a in sums.iter_rows()}
    currency = plan.rewards.currency
    rows = []
    for team, total in ledger.totals("team").items():
        cells = [f"{amounts[(team, c)]:,.2f}" if (team, c) in amounts else "-" for c in components]
        rows.append([team, *cells, f"{total.amount:,.2f}"])
    table = text_table(["team", *components, "total"], rows, right=set(range(1, len(components) + 2)))
    split = ", ".join(f"{team} {float(100 * share):g}%" for team, share in plan.rewards.team_split.items())
    attribution = plan.rewards.attribution
    why = (
        f"why not the team split ({split}): the split shares the deal pool "
        + (
            f"left after attribution ({attribution.model} model by {attribution.key}, "
            f"{float(100 * attribution.share):g}% of the pool, credits the people who touched the deal); "
            if attribution is not None
            else "; "
        )
        + "tiers, caps and clawbacks then change each person's pay"
    )
    notes = [f"- {c}: {_COMPONENTS[c]}" for c in components if c in _COMPONENTS]
    if "tier" in components and plan.rewards.tiers:
        bands = ", ".join(
            f"{float(t.from_attainment):.0%}"
            + (f" to {float(t.to_attainment):.0%}" if t.to_attainment is not None else " and up")
            + f" at {float(t.multiplier):g}x"
            for t in plan.rewards.tiers
        )
        notes[components.index("tier")] += f" ({plan.rewards.tier_mode}: quota attainment {bands})"
    return f"totals by team and component, {currency}\n{table}\n{why}\n" + "\n".join(notes)


def dispositions_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = underline("Disposition reasons (sales' feedback to marketing)")
    counts = dict(data.dispositions.group_by("reason").len().iter_rows())
    if not counts:
        return heading + "\nno dispositions"
    agreed = plan.sla.sales.disposition.reasons if plan.sla and plan.sla.sales.disposition else []
    order = [*agreed, *sorted(set(counts) - set(agreed))]
    total = sum(counts.values())
    rows = [[r, count_text(counts.get(r, 0)), f"{100 * counts.get(r, 0) / total:.1f}%"] for r in order]
    return heading + "\n" + text_table(["reason", "count", "share"], rows, right={1, 2})


def journey_funnel_section(plan: AlignmentPlan, data: Dataset) -> str:
    calendar = funnel_calendar(plan)
    report = funnel(plan.journey, data, calendar=calendar)
    rows = [
        [
            r.stage,
            count_text(r.reached),
            rate_text(r.conversion),
            count_text(r.lost),
            count_text(r.recycled),
            count_text(r.open),
            duration_text(r.time_median),
            *([hours_text(r.business_median)] if calendar is not None else []),
        ]
        for r in report.rows
    ]
    header = ["stage", "leads", "next step", "lost", "recycled", "open", "median time in stage"]
    if calendar is not None:
        header.append("median in business hours")  # open hours, never converted to days of 24 hours
    notes = [f"note: {line}" for line in report.counts.lines()]
    return "\n".join(
        [
            underline("Journey funnel (ordered: leads that passed every earlier stage in order)"),
            text_table(header, rows, right={1, 2, 3, 4, 5, 6, 7}),
            "",
            report.chart(width=50),
            *notes,
            *_won_note(plan, data),
        ]
    )


def _won_note(plan: AlignmentPlan, data: Dataset) -> list[str]:
    """How the won stage's leads compare with the won deals of the Deals section below."""
    won_stages = [s.id for s in plan.journey.stages if s.terminal == "won"]
    if not won_stages or data.deals.is_empty():
        return []
    entered = set(data.stage_events.filter(pl.col("to").is_in(won_stages)).get_column("lead_id"))
    deals = data.deals.filter(pl.col("stage") == "won").get_column("lead_id").drop_nulls()
    won = set(deals)
    stages = ", ".join(repr(s) for s in won_stages)
    return [
        f"note: {count_text(len(entered))} leads entered {stages} at all (the funnel counts those that "
        f"passed every step in order); {count_text(deals.len())} won deals below belong to "
        f"{count_text(len(won))} leads, {count_text(len(won - entered))} of them never in {stages}; "
        f"{count_text(len(entered - won))} leads in {stages} have no won deal in the data"
    ]


_ISO_UTC = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d):\d\d(?:\.\d+)?\+00:00")


def _minutes(text: str) -> str:
    """``text`` with its UTC ISO timestamps to the minute ("2026-09-20 23:24 UTC")."""
    return _ISO_UTC.sub(r"\1 \2 UTC", text)


def conformance_section(plan: AlignmentPlan, data: Dataset) -> str:
    report = conformance(plan.journey, data)
    rows = [
        [
            v.kind.replace("_", " "),
            count_text(v.count),
            count_text(v.leads),
            _minutes(str(v.examples[0])) if v.examples else "",
        ]
        for v in report.violations
        if v.count
    ]
    teams = [
        [t.team or "(unattributed)", count_text(t.leads), rate_text(t.fitness), count_text(t.violations)]
        for t in report.by_team
    ]
    out = [
        underline("Journey conformance (does the CRM follow the agreed journey?)"),
        f"{count_text(report.fit)} of {count_text(report.leads)} leads fit the map "
        f"({rate_text(report.fitness)})",
    ]
    if rows:
        out.append(text_table(["illegal move", "moves", "leads", "first example"], rows, right={1, 2}))
    out.append(text_table(["team", "leads", "fitness", "violations"], teams, right={1, 2, 3}))
    return "\n".join(out)


def sla_results_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = underline("SLA results: both sides, as the synthetic data ends")
    if plan.sla is None or not plan.journey.handoffs():
        return heading + "\nno SLA to evaluate (the plan needs an SLA and a handoff transition)"
    report = evaluate_sla(plan, data, as_of=SYNTHETIC_AS_OF)
    text = heading + "\n" + sla_text(report, periods=3)
    volume = plan.sla.marketing.volume
    if volume is None:
        return text
    entries = data.stage_events.filter(pl.col("to") == volume.stage)
    return text + (
        f"\nnote: 'delivered' counts entries into {volume.stage!r} per {volume.period} "
        f"({count_text(entries.height)} entries by {count_text(entries.get_column('lead_id').n_unique())} "
        "leads in all: a recycled lead is qualified again); the funnel above counts each lead once, "
        "when it passed every earlier step in order"
    )


_DEMO_MODELS = ["first", "last", "linear", "position", "time_decay", "markov", "shapley"]


def attribution_section(plan: AlignmentPlan, data: Dataset) -> str:
    """Several attribution models side by side: share of won-deal conversions by channel and by team."""
    heading = underline("Attribution (who made the won deals happen? share of conversions by model)")
    out = [heading]
    for key in ("channel", "team"):
        try:
            journeys = Journeys.from_touchpoints(data, key=key)
        except (DataError, CurrencyMismatchError) as exc:
            return heading + f"\nnot available: {exc}"
        if journeys.n_journeys == 0 or not journeys.conversions.sum() > 0:
            return heading + "\nno won deals with touchpoints yet"
        frame = compare(journeys, models=_DEMO_MODELS).to_frame("share")
        rows = [[str(r[0]), *(f"{100 * x:.1f}%" for x in r[1:])] for r in frame.rows()]
        out += ["", text_table(frame.columns, rows, right=set(range(1, len(frame.columns))))]
    out.append(
        f"{count_text(int(journeys.conversions.sum()))} won deals over {count_text(journeys.n_journeys)} "
        "leads with touchpoints; markov: exact order-1 removal effects; shapley: exact Shapley values"
    )
    return "\n".join(out)
