"""``smarketing campaigns``: campaigns side by side (a retrospective), and the demo's section on it."""

from __future__ import annotations

import argparse

from smarketing.cli._common import DEMO_RATE, SYNTHETIC_AS_OF, fx_table, library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, add_fx_option, parse_as_of
from smarketing.cli._persona import _latest_fact
from smarketing.cli._text import emit, emit_json, share_text, text_table, underline
from smarketing.feedback import CampaignComparison, compare_campaigns
from smarketing.money import Money
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

__all__ = ["add_campaigns_options", "campaigns_command", "campaigns_section", "campaigns_text"]


def add_campaigns_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``campaigns`` after the plan and the data options."""
    parser.add_argument(
        "--campaign",
        action="append",
        metavar="ID",
        help="a campaign to compare, in this order (repeatable; default: every campaign, by id)",
    )
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"the numbers as they stood then ({AS_OF_HELP}; default: the data's latest fact)",
    )
    add_fx_option(
        parser, "an exchange rate for deal amounts, e.g. USD/EUR=0.92 (repeatable; synthetic: USD/EUR=0.92)"
    )
    parser.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format")


def campaigns_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    given = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    as_of = given or (_latest_fact(data) if from_files else SYNTHETIC_AS_OF)
    rates = args.fx or ([] if from_files else [DEMO_RATE])
    with library_errors():
        result = compare_campaigns(plan, data, campaigns=args.campaign, as_of=as_of, fx=fx_table(rates))
    if args.format == "json":
        emit_json(result.to_dict())
    elif args.format == "csv":
        emit(result.to_frame().write_csv(), end="")
    else:
        emit(campaigns_text(result))
    return 0


def _money(units: int | None, currency: str | None, *, unit: str | None = None) -> str:
    """An amount of minor units; without its currency where ``unit`` (the column's header) names it."""
    if units is None:
        return "-"
    if currency is None:
        return f"{units:,}"
    amount = f"{Money.from_minor(units, currency).amount:,}"
    return amount if currency == unit else f"{amount} {currency}"


def campaigns_text(result: CampaignComparison) -> str:
    """Two tables: the funnel of each campaign, then its money and cost per stage; then sales' reasons.

    Amounts in one currency say it once, above their table; a campaign's top rejection and recycle reasons
    follow the tables, one line each, so that no row runs past a terminal's width.
    """
    if not len(result.campaigns):
        return f"no campaign with leads by {result.as_of.isoformat()}"
    rows = result.campaigns.rows(named=True)
    funnel = [
        [
            r["campaign"],
            f"{r['leads']:,}",
            f"{r['mqls']:,}",
            f"{r['accepted']:,}",
            share_text(r["acceptance"]),
            f"{r['rejected']:,}",
            "-" if r["sqls"] is None else f"{r['sqls']:,}",
            f"{r['won']:,}",
        ]
        for r in rows
    ]
    currencies = {r[c] for r in rows for c in ("currency", "cost_currency")} - {None}
    unit = next(iter(currencies)) if len(currencies) == 1 else None
    money = [
        [
            r["campaign"],
            _money(r["pipeline_minor"], r["currency"], unit=unit),
            _money(r["revenue_minor"], r["currency"], unit=unit),
            _money(r["cost_minor"], r["cost_currency"], unit=unit),
            *(
                _money(r[f"cost_per_{s}_minor"], r["cost_currency"], unit=unit)
                for s in ("lead", "mql", "sql", "won")
            ),
        ]
        for r in rows
    ]
    heads = ["campaign", "leads", "MQLs", "accepted", "acceptance", "rejected", "SQLs", "won"]
    costs = ["campaign", "pipeline", "revenue", "cost", "per lead", "per MQL", "per SQL", "per won"]
    reasons = [
        f"top reasons, {r['campaign']}: " + ", ".join(f"{reason} {n:,}" for reason, n in top)
        for r in rows
        if (top := result.top_reasons(r["campaign"]))
    ]
    return (
        f"campaigns as at {result.as_of.isoformat()}\n"
        + text_table(heads, funnel, right=set(range(1, 8)))
        + ("\n\n" if unit is None else f"\n\namounts in {unit}\n")
        + text_table(costs, money, right=set(range(1, 8)))
        + "".join(f"\n{line}" for line in reasons)
    )


def campaigns_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The demo's retrospective: the plan's campaigns side by side on the synthetic data."""
    heading = underline("Campaigns side by side (smarketing campaigns)")
    if not plan.campaigns:
        return heading + "\nthe plan lists no campaigns"
    campaigns = [c.id for c in plan.campaigns]
    result = compare_campaigns(
        plan, data, campaigns=campaigns, as_of=SYNTHETIC_AS_OF, fx=fx_table([DEMO_RATE])
    )
    return heading + "\n" + campaigns_text(result)
