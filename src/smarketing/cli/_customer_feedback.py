"""``smarketing customer-feedback``: customer feedback scores, tags and who has read it, per group.

Also the demo's section on customer feedback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from smarketing.cli._common import library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, parse_as_of, parse_path
from smarketing.cli._text import emit_report, first_line, underline
from smarketing.errors import SmarketingError
from smarketing.feedback import FeedbackReport, customer_feedback
from smarketing.feedback.customer import GROUPS
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

#: Tags shown per group in the text output.
_TOP_TAGS = 3


def _groups(text: str) -> tuple[str, ...]:
    """``--by persona,stage`` -> ``("persona", "stage")``; ``--by none`` -> ``()``."""
    if text.strip() == "none":
        return ()
    groups = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)} (comma-separated), or none"
        )
    return groups


def add_customer_feedback(commands: Any, add_source: Callable[..., None]) -> None:
    """Register ``customer-feedback`` (``add_source`` adds the data options every analysis command has)."""
    parser = commands.add_parser(
        "customer-feedback",
        help="customer feedback: NPS, CSAT and CES scores, tags and which team has read it, per group",
        description="Summarise customer feedback (survey answers, reviews, call notes) per persona, "
        "campaign, journey stage or source: each score type apart (NPS as promoters minus detractors, "
        "CSAT as the share satisfied), the tags most given, and the share read by marketing, by sales, "
        "by neither.",
    )
    parser.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    add_source(parser, data_help="folder of <kind>.parquet files (feedback, leads, stage_events)")
    parser.add_argument(
        "--by",
        type=_groups,
        default=("persona",),
        metavar="GROUPS",
        help=f"comma-separated, of {', '.join(GROUPS)}; or none (default: persona)",
    )
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"leave out feedback given after this time ({AS_OF_HELP}; default: none is left out)",
    )
    parser.add_argument(
        "--format",
        choices=["text", "json", "csv"],
        default="text",
        help="text (tables), json (scores, tags, seen) or csv (one row per group and score type)",
    )
    parser.set_defaults(command=customer_feedback_command, name="customer-feedback")


def customer_feedback_command(args: argparse.Namespace) -> int:
    plan, data, _ = plan_and_data(args)
    as_of = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    with library_errors():
        report = customer_feedback(plan, data, by=args.by, as_of=as_of)
    emit_report(report, args.format, feedback_text)
    return 0


def feedback_text(report: FeedbackReport) -> str:
    """The report's tables, then the most given tags of each group."""
    if report.total == 0:
        return "no customer feedback"
    keys = list(report.by)
    lines = [repr(report), "", "Top tags"]
    groups = report.tags.group_by(keys, maintain_order=True) if keys else [((), report.tags)]
    for key, frame in groups:
        name = ", ".join("-" if k is None else str(k) for k in key) or "all"
        top = ", ".join(f"{t} ({n})" for t, n in frame.select("tag", "feedback").head(_TOP_TAGS).iter_rows())
        lines.append(f"{name}: {top}")
    return "\n".join(lines)


def customer_feedback_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The demo's section: the synthetic customer feedback by persona."""
    heading = underline("Customer feedback (smarketing customer-feedback)")
    try:
        report = customer_feedback(plan, data, by=("persona",))
    except SmarketingError as error:
        return heading + f"\nnot summarised: {first_line(error)}"
    return heading + "\n" + feedback_text(report)
