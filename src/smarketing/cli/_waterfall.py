"""``smarketing waterfall``: the demand waterfall by cohort or period, sourced vs influenced, demo."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import polars as pl

from smarketing.cli._common import DEMO_RATE, SYNTHETIC_AS_OF, fx_table, library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, add_fx_option, parse_as_of, parse_path
from smarketing.cli._sla import _latest_fact
from smarketing.cli._text import emit, emit_json, underline
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.feedback import sourced_influenced, waterfall
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset


def waterfall_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    given = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    as_of = given or (_latest_fact(data) if from_files else SYNTHETIC_AS_OF)
    fx = fx_table(args.fx or ([] if from_files else [DEMO_RATE]))
    with library_errors():
        result = waterfall(plan, data, view=args.view, period=args.period, by=args.by, as_of=as_of, fx=fx)
        sourced = (
            sourced_influenced(plan, data, by=args.sourced, as_of=as_of, fx=fx) if args.sourced else None
        )
    if args.format == "json":
        emit_json({**result.to_dict(), **({"sourced": sourced.to_dict()} if sourced else {})})
    elif args.format == "csv":
        # CSV has no durations: the open time between steps in whole seconds.
        frame = (
            result.to_frame()
            .with_columns(pl.col("velocity_time").dt.total_seconds().alias("velocity_time"))
            .rename({"velocity_time": "velocity_seconds"})
        )
        emit((sourced.to_frame() if sourced else frame).write_csv(), end="")
    else:
        emit(repr(result) + (f"\n\n{sourced!r}" if sourced else ""))
    return 0


def add_waterfall(commands: Any, add_source: Callable[..., None]) -> None:
    """Register ``waterfall`` (``add_source`` adds the shared data options)."""
    cmd = commands.add_parser(
        "waterfall",
        help="the demand waterfall (inquiry to won) by cohort or period, flagged against the plan's bands",
        description="Follow leads down the demand waterfall mapped on the plan's journey: volume, "
        "conversion, velocity in business days and won value per period and step, flagged against the "
        "plan's waterfall bands; optionally sourced vs influenced pipeline and revenue.",
    )
    cmd.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    add_source(cmd, data_help="folder of <kind>.parquet files (leads, stage_events, deals, touchpoints)")
    cmd.add_argument("--view", choices=["cohort", "period"], default="cohort", help="default: cohort")
    cmd.add_argument("--period", choices=["week", "month", "quarter"], default="month", help="default: month")
    cmd.add_argument(
        "--by",
        metavar="COLUMN",
        help="split by a lead column (persona, campaign, ...), account.<column> or source_team",
    )
    cmd.add_argument(
        "--sourced",
        choices=["campaign", "team"],
        help="also sourced vs influenced pipeline and revenue by campaign or team (csv: that table only)",
    )
    cmd.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"measure at this time ({AS_OF_HELP}; default: the latest fact in --data; the end of the "
        "synthetic data)",
    )
    add_fx_option(cmd)
    cmd.add_argument("--format", choices=["text", "json", "csv"], default="text", help="default: text")
    cmd.set_defaults(command=waterfall_command, name="waterfall")


def waterfall_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The demand waterfall of the synthetic data by quarter, and sourced vs influenced by team."""
    heading = underline("Demand waterfall (cohorts by quarter; flags from the plan's bands)")
    fx: FxTable | None = fx_table([DEMO_RATE])
    try:
        result = waterfall(plan, data, period="quarter", as_of=SYNTHETIC_AS_OF, fx=fx)
        sourced = sourced_influenced(plan, data, by="team", as_of=SYNTHETIC_AS_OF, fx=fx)
    except (DataError, CurrencyMismatchError) as exc:
        return heading + f"\nnot available: {exc}"
    return "\n".join([heading, repr(result), "", repr(sourced)])
