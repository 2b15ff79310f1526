"""``smarketing feedback``: sales' dispositions of marketing's leads, by reason and group.

Also the demo's section on the feedback loop.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any

import polars as pl

from smarketing.cli._common import library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, parse_as_of, parse_path
from smarketing.cli._text import (
    WIDTH,
    count_text,
    emit_report,
    first_line,
    share_text,
    text_table,
    underline,
)
from smarketing.errors import SmarketingError
from smarketing.feedback import DispositionReport, dispositions
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

#: Rows of the by-reason table the demo shows.
DEMO_ROWS = 8


def add_feedback(commands: Any, add_source: Callable[..., None]) -> None:
    """Add ``feedback`` to the ``smarketing`` commands (``add_source``: the parser's data options)."""
    feedback = commands.add_parser(
        "feedback",
        help="sales' dispositions of handed-off leads: rejections and recycles by reason, and how fast",
        description="Rejections and recycles of handed-off leads by reason (and by a lead column or 'week'), "
        "recycled-to-won, business hours from the handoff to the first disposition on the SLA's calendar, "
        "reasons the plan's list lacks and handed-off leads with no disposition.",
    )
    feedback.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    add_source(
        feedback, data_help="folder of <kind>.parquet files (stage_events, dispositions, leads, deals)"
    )
    feedback.add_argument(
        "--by",
        metavar="COLUMN",
        help="split by a lead column (persona, campaign, owner, ...), account.<column> or 'week' (of the "
        "handoff)",
    )
    feedback.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"only facts up to this time ({AS_OF_HELP}; default: all)",
    )
    feedback.add_argument(
        "--format",
        choices=["text", "json", "csv"],
        default="text",
        help="text (summary and tables), json (everything but the per-lead rows) or csv (one row per reason)",
    )
    feedback.set_defaults(command=feedback_command, name="feedback")


def feedback_command(args: argparse.Namespace) -> int:
    plan, data, _ = plan_and_data(args)
    as_of = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    with library_errors():
        report = dispositions(plan, data, by=args.by, as_of=as_of)
    emit_report(report, args.format, feedback_text)
    return 0


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column.endswith("_rate") or column == "recycled_to_won":
        return share_text(value)
    if column.endswith("_hours"):
        return f"{value:.1f}"
    if isinstance(value, int):
        return count_text(value)
    return str(value)


def _table(frame: pl.DataFrame, columns: list[str], *, limit: int | None = None) -> str:
    shown = frame.select(columns)
    rows = [
        [_cell(c, v) for c, v in zip(columns, row, strict=True)]
        for row in shown.head(limit or shown.height).rows()
    ]
    right = {i for i, c in enumerate(columns) if shown.schema[c].is_numeric()}
    more = shown.height - len(rows)
    return text_table(columns, rows, right=right) + (f"\n... {more:,} more row(s)" if more > 0 else "")


def feedback_text(report: DispositionReport, *, limit: int | None = None) -> str:
    """The summary, the by-reason table, the groups, the reasons off the list and undisposed leads."""
    keys = list(report.by or ())
    reason_columns = [*keys, "reason", "handed_off", "rejected", "rejection_rate", "recycled", "recycle_rate"]
    out = [
        textwrap.fill(report.summary, WIDTH),
        *(textwrap.fill(f"- {n}", WIDTH, subsequent_indent="  ") for n in report.notes),
        "",
        underline("Rejections and recycles by reason"),
        _table(report.reasons, reason_columns, limit=limit) if report.reasons.height else "none",
    ]
    if report.groups is not None:
        group_columns = [
            *keys,
            "handed_off",
            "rejection_rate",
            "recycle_rate",
            "recycled_to_won",
            "undisposed",
            "median_hours",
            "p90_hours",
        ]
        out += ["", underline(f"By {', '.join(keys)}"), _table(report.groups, group_columns, limit=limit)]
    unknown = report.unknown_reasons
    if unknown is not None and unknown.height:
        listed = unknown.with_columns(pl.col("examples").list.join(", "))
        columns = ["reason", "dispositions", "leads", "examples"]
        out += ["", underline("Reasons not on the plan's list"), _table(listed, columns)]
    if report.undisposed_examples:
        undisposed = report.overall.item(0, "undisposed")
        out += [
            "",
            f"no disposition: {count_text(undisposed)} lead(s), e.g. {', '.join(report.undisposed_examples)}",
        ]
    return "\n".join(out)


def feedback_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The demo's section: rejections and recycles by reason and business hours to the disposition."""
    heading = underline("Feedback: sales' dispositions of marketing's leads (smarketing feedback)")
    try:
        report = dispositions(plan, data)
    except SmarketingError as error:
        return heading + f"\nnot computed: {first_line(error)}"
    return heading + "\n" + feedback_text(report, limit=DEMO_ROWS)
