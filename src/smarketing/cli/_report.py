"""``smarketing report``: the whole alignment of a plan and its data in one self-contained HTML file."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smarketing.cli._common import (
    DEMO_RATE,
    SYNTHETIC_AS_OF,
    CommandError,
    fx_table,
    library_errors,
    plan_zone,
)
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, add_fx_option, parse_as_of, parse_path, parse_period
from smarketing.cli._text import emit, fail
from smarketing.report import Report, report


def add_report(commands: Any, add_source: Callable[..., None]) -> None:
    """Add ``report`` to the ``smarketing`` commands (``add_source``: the parser's data options)."""
    parser = commands.add_parser(
        "report",
        help="the alignment report: plan, check, journey, SLA, KPIs, attribution, rewards in one HTML file",
        description="Write one self-contained HTML file (no network, no scripts, charts inline, a print "
        "style sheet for a clean PDF): the plan and its check, the journey and its funnel, conformance, "
        "both sides of the SLA, the scorecard, the demand waterfall, attribution, lead scores and the "
        "teams' agreement, and the reward statements. The same inputs give the same bytes. Exit 0 when "
        "written, 1 when the file cannot be written or a section failed on the data (the file is still "
        "written, the section says why), 2 for usage errors, invalid plans or data.",
    )
    parser.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    add_source(parser, data_help="folder of <kind>.parquet files (leads, stage_events, deals, ...)")
    parser.add_argument(
        "--output", "-o", required=True, type=parse_path, metavar="FILE", help="the HTML file to write"
    )
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"describe the data as at this time ({AS_OF_HELP}; default: the latest time in --data; the "
        "end of the synthetic data)",
    )
    parser.add_argument(
        "--period",
        type=parse_period,
        metavar="PERIOD",
        help="the period of the scorecard and the rewards, e.g. 2026-10 or 2026-Q4 (default: the month "
        "of the last whole day before --as-of)",
    )
    add_fx_option(parser)
    parser.add_argument(
        "--no-charts",
        action="store_true",
        help="leave the charts out (they need matplotlib, the 'plot' extra of smarketing)",
    )
    parser.set_defaults(command=report_command, name="report")


def report_command(args: argparse.Namespace) -> int:
    """Compute the report, write it, and say where; exit 1 when a section failed on the data."""
    plan, data, from_files = plan_and_data(args)
    rates = args.fx or ([] if from_files else [DEMO_RATE])
    given = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    as_of = given if given is not None or from_files else SYNTHETIC_AS_OF
    result = build_report(
        lambda: report(
            plan,
            data,
            as_of=as_of,
            period=args.period,
            fx=fx_table(rates),
            charts=not args.no_charts,
        )
    )
    where = write_report(result, args.output)
    emit(f"report: {where} ({summary(result)})")
    for section in result.failed:
        fail("report", f"section {section.id!r} failed on the data: {'; '.join(section.notes)}")
    return 1 if result.failed else 0


def build_report(make: Callable[[], Report]) -> Report:
    """Run ``make``; a missing ``plot`` extra is one line naming it and ``--no-charts`` (exit 2)."""
    try:
        with library_errors():
            return make()
    except ModuleNotFoundError as missing:
        raise CommandError(f"{missing}; or leave the charts out with --no-charts") from None


def write_report(result: Report, path: Path) -> Path:
    """Write the report to ``path``; a file that cannot be written is one line and exit 1."""
    try:
        return result.write(path)
    except OSError as error:
        raise CommandError(f"{path}: cannot write: {error.strerror or error}", code=1) from None


def summary(result: Report) -> str:
    """``9 sections; not computed: sla; failed: rewards``: what a reader finds in the file."""
    text = f"{len(result.sections)} sections"
    missing = [s.id for s in result.sections if s.status == "not computed"]
    if missing:
        text += f"; not computed: {', '.join(missing)}"
    if result.failed:
        text += f"; failed: {', '.join(s.id for s in result.failed)}"
    return text
