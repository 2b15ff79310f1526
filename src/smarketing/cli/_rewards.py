"""``smarketing rewards``: the shared reward of a period, statements and totals."""

from __future__ import annotations

import argparse
from datetime import date

import polars as pl

from smarketing._periods import period_bounds
from smarketing.cli._common import (
    DEMO_RATE,
    CommandError,
    fx_table,
    plan_zone,
)
from smarketing.cli._data import plan_and_data
from smarketing.cli._text import emit, emit_json, first_line, text_table
from smarketing.errors import SmarketingError
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.rewards import RewardLedger, compute_rewards


def rewards_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    rates = args.fx or ([] if from_files else [DEMO_RATE])
    as_of = None if args.as_of is None else args.as_of.date_in(plan_zone(plan))
    try:
        ledger = reward_ledger(plan, data, period=args.period, as_of=as_of, fx=fx_table(rates))
        statements = [ledger.statement(args.participant)] if args.participant else ledger.statements()
    except (ValueError, KeyError) as error:
        if isinstance(error, SmarketingError):
            raise
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else first_line(error)
        raise CommandError(message) from None
    if args.format == "json":
        emit_json(statements[0].to_dict() if args.participant else ledger.to_dict())
    elif args.format == "csv":
        frames = [s.to_frame() for s in statements]
        emit(pl.concat(frames).with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv(), end="")
    elif args.format == "html":
        emit("\n".join(s.to_html() for s in statements))
    else:
        parts = [] if args.participant else [repr(ledger), team_totals(ledger)]
        emit("\n\n".join([*parts, *(s.to_text() for s in statements)]))
    return 0


def reward_ledger(
    plan: AlignmentPlan, data: Dataset, *, period: str, as_of: date | None, fx: FxTable | None
) -> RewardLedger:
    if plan.rewards is None:
        raise CommandError("the plan has no rewards part")
    try:
        last = period_bounds(period)[1]
    except ValueError as error:
        raise CommandError(f"--period: {error}") from None
    return compute_rewards(data, plan, fx=fx, period=period, as_of=as_of or last)


def team_totals(ledger: RewardLedger) -> str:
    rows = [[team, str(total)] for team, total in ledger.totals("team").items()]
    return "totals by team\n" + text_table(["team", "total"], rows, right={1})
