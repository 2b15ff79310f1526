"""The argument parser: one small builder per command family."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

from smarketing import __version__
from smarketing.cli._campaigns import add_campaigns_options, campaigns_command
from smarketing.cli._customer_feedback import add_customer_feedback
from smarketing.cli._demo import DEMO_REPORT, EXAMPLE_PLAN, demo_command
from smarketing.cli._digest import add_digest
from smarketing.cli._feedback import add_feedback
from smarketing.cli._journey import funnel_command
from smarketing.cli._kpis import kpis_command
from smarketing.cli._lint_text import lint_text_command
from smarketing.cli._options import (
    AS_OF_HELP,
    MAX_LEADS,
    add_fx_option,
    parse_as_of,
    parse_codes,
    parse_leads,
    parse_option,
    parse_path,
    parse_period,
    parse_score,
    parse_seed,
    parse_source,
)
from smarketing.cli._persona import score_command
from smarketing.cli._plan import check_command, schema_command, validate_command
from smarketing.cli._report import add_report
from smarketing.cli._rewards import rewards_command
from smarketing.cli._sla import sla_command
from smarketing.cli._sources import import_command, sources_command
from smarketing.cli._text import emit, escape
from smarketing.cli._waterfall import add_waterfall

if TYPE_CHECKING:
    from typing import TypeAlias

    from _typeshed import SupportsWrite

    #: The subparsers of the ``smarketing`` command, which each builder adds its commands to.
    Commands: TypeAlias = "argparse._SubParsersAction[EscapingParser]"


class EscapingParser(argparse.ArgumentParser):
    """argparse, with usage errors and help escaped (they repeat what the user typed)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            emit(message, stream=file or sys.stderr, end="")

    def error(self, message: str) -> NoReturn:
        # argparse prints some values raw (unrecognised arguments); escape before it composes the line.
        super().error(escape(message, one_line=True))


def build_parser() -> argparse.ArgumentParser:
    """The ``smarketing`` parser: every command with its options and the function that runs it."""
    parser = EscapingParser(
        prog="smarketing",
        description="Sales and marketing alignment: plans, synthetic data and checks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_demo(commands)
    _add_plan_commands(commands)
    _add_funnel(commands)
    _add_kpis(commands)
    _add_sla(commands)
    _add_score(commands)
    add_customer_feedback(commands, _add_source)
    _add_rewards(commands)
    _add_campaigns(commands)
    _add_import_and_sources(commands)
    _add_lint_text(commands)
    add_feedback(commands, _add_source)
    add_waterfall(commands, _add_source)
    add_digest(commands, _add_source)
    add_report(commands, _add_source)
    return parser


def _add_demo(commands: Commands) -> None:
    """``demo``: a plan and synthetic data for it, summarised."""
    demo = commands.add_parser(
        "demo",
        help="summarise a plan and synthetic data generated for it",
        description="Load a plan, generate seeded synthetic CRM data for it and print a summary of both; "
        "end by writing the alignment report of both (smarketing report) and saying where it is.",
    )
    demo.add_argument(
        "--plan",
        type=parse_path,
        metavar="PATH",
        help=f"plan file (default: {EXAMPLE_PLAN} of the smarketing repository)",
    )
    demo.add_argument("--seed", type=parse_seed, default=42, metavar="N", help="random seed (default: 42)")
    demo.add_argument(
        "--leads",
        type=parse_leads,
        default=5000,
        metavar="N",
        help=f"number of leads, at most {MAX_LEADS:,} (default: 5000)",
    )
    report_or_not = demo.add_mutually_exclusive_group()
    report_or_not.add_argument(
        "--report",
        type=parse_path,
        metavar="FILE",
        help=f"where the demo writes its alignment report (default: {DEMO_REPORT.as_posix()})",
    )
    report_or_not.add_argument(
        "--no-report", action="store_true", help="print the summary only; write no alignment report"
    )
    demo.set_defaults(command=demo_command, name="demo")


def _add_plan_commands(commands: Commands) -> None:
    """``schema``, ``validate`` and ``check``: the commands on a plan file alone."""
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of plan files",
        description="Print the JSON Schema (draft 2020-12) of plan files, for editors and CI.",
    )
    schema.add_argument("--output", "-o", type=parse_path, metavar="FILE", help="write to FILE instead")
    schema.set_defaults(command=schema_command, name="schema")

    validate = commands.add_parser(
        "validate",
        help="check a plan file",
        description="Load a plan file; print 'OK: <name>' or every problem as 'file:line: path: message'.",
    )
    validate.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    validate.set_defaults(command=validate_command, name="validate")

    check_ = commands.add_parser(
        "check",
        help="check a plan (and, with --data or --source, its CRM data) against the alignment rules",
        description="Run the alignment rules on a plan and print the findings and the alignment score; "
        "with --data or --source also the data rules (D), which check that the CRM data uses the plan's "
        "stages, people, teams, reasons and currencies. Exit 0 when nothing fails, 1 when a finding is an "
        "error or the score is below --min-score, 2 when the plan or the data cannot be loaded or the "
        "options are wrong.",
    )
    check_.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    check_.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (grouped by area), json (documented, stable) or sarif (SARIF 2.1.0); default text",
    )
    check_.add_argument(
        "--select",
        type=parse_codes,
        action="extend",
        metavar="CODES",
        help="comma-separated rule codes or prefixes to run, e.g. J,S001 (default: all)",
    )
    check_.add_argument(
        "--ignore",
        type=parse_codes,
        action="extend",
        default=[],
        metavar="CODES",
        help="comma-separated rule codes or prefixes not to run",
    )
    check_.add_argument(
        "--min-score",
        type=parse_score,
        default=0,
        metavar="N",
        help="also fail when the alignment score is below N (0-100; default 0)",
    )
    _add_source(
        check_,
        data_help="also check this folder of <kind>.parquet files (leads, stage_events, deals, ...)",
        synthetic=False,
    )
    add_fx_option(
        check_, "an exchange rate the analyses will be given, e.g. USD/EUR=0.92 (repeatable; for rule D006)"
    )
    check_.set_defaults(command=check_command, name="check")


def _add_funnel(commands: Commands) -> None:
    """``funnel``: the journey funnel of CRM or synthetic data."""
    funnel_cmd = commands.add_parser(
        "funnel",
        help="the journey funnel of CRM or synthetic data",
        description="Measure the plan's customer journey on stage events: per stage the leads that reached "
        "it, moved on, were lost or are still open, conversion and time in stage.",
    )
    funnel_cmd.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        funnel_cmd,
        data_help="directory with stage_events.parquet (and leads.parquet for --by), or one parquet file",
    )
    funnel_cmd.add_argument(
        "--as-of", type=parse_as_of, metavar="TIME", help=f"measure as at this time ({AS_OF_HELP})"
    )
    funnel_cmd.add_argument("--by", metavar="ATTR", help="group by a lead attribute, or cohort_month")
    funnel_cmd.add_argument("--mode", choices=["ordered", "any"], default="ordered", help="default: ordered")
    funnel_cmd.add_argument(
        "--calendar-time-only",
        action="store_true",
        help="leave out the business time in stage (by default measured on the SLA's calendar, if any)",
    )
    funnel_cmd.add_argument("--format", choices=["text", "json", "csv"], default="text", help="default: text")
    funnel_cmd.set_defaults(command=funnel_command, name="funnel")


def _add_kpis(commands: Commands) -> None:
    """``kpis``: the KPI scorecard of a period."""
    kpis = commands.add_parser(
        "kpis",
        help="the joint KPI scorecard of a plan for a period",
        description="Compute the plan's KPIs for a period: value, target, status, trend; joint KPIs first.",
    )
    kpis.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    kpis.add_argument(
        "--period", required=True, type=parse_period, metavar="PERIOD", help="period, e.g. 2026-10 or 2026-Q4"
    )
    _add_source(kpis, data_help="folder of <kind>.parquet files (leads, deals, ...)")
    kpis.add_argument(
        "--by", metavar="COLUMN", help="split by a lead column (persona, region, ...) or 'team'"
    )
    kpis.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"ignore facts after this time ({AS_OF_HELP}; default: the end of the period, UTC)",
    )
    add_fx_option(kpis)
    kpis.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format")
    kpis.set_defaults(command=kpis_command, name="kpis")


def _add_campaigns(commands: Commands) -> None:
    """``campaigns``: campaigns side by side."""
    parser = commands.add_parser(
        "campaigns", help="campaigns side by side: leads, acceptance, reasons, money, cost"
    )
    parser.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(parser, data_help="folder of <kind>.parquet files (leads, stage_events, deals, ...)")
    add_campaigns_options(parser)
    parser.set_defaults(command=campaigns_command, name="campaigns")


def _add_sla(commands: Commands) -> None:
    """``sla``: both sides of the SLA."""
    sla = commands.add_parser(
        "sla",
        help="both sides of the SLA: sales per handed-off lead, marketing per period",
        description="Evaluate the plan's SLA on CRM data: response, attempts and disposition commitments "
        "per handed-off lead, marketing's volume and quality per period, breaches and a summary.",
    )
    sla.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        sla, data_help="folder of <kind>.parquet files (leads, stage_events, activities, dispositions)"
    )
    sla.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"evaluate at this time ({AS_OF_HELP}; default: the latest fact in --data; the end of "
        "the synthetic data)",
    )
    sla.add_argument("--format", choices=["text", "json", "csv"], default="text", help="default: text")
    sla.set_defaults(command=sla_command, name="sla")


def _add_score(commands: Commands) -> None:
    """``score``: every lead scored against the plan's personas."""
    score = commands.add_parser(
        "score",
        help="every lead's fit, engagement, grade and MQL flag, the teams' agreement and the scores' lift",
        description="Match every lead to the plan's personas and score it on fit and engagement (grades and "
        "the MQL flag by the persona's rules); then how far marketing's MQL call and sales' acceptance "
        "agree, and how well the scores predict won deals.",
    )
    score.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        score,
        data_help="folder of <kind>.parquet files (leads, accounts, touchpoints, activities, stage_events, "
        "dispositions, deals)",
    )
    score.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"score at this time ({AS_OF_HELP}; default: the latest lead or event in --data; the end of "
        "the synthetic data)",
    )
    score.add_argument(
        "--audit",
        type=parse_path,
        metavar="FILE",
        help="lead ids sales reviewed blind, one per line: the not-MQL row of the agreement table",
    )
    score.add_argument(
        "--explain",
        action="append",
        metavar="LEAD",
        help="also show the factors of this lead's scores (repeatable)",
    )
    score.add_argument(
        "--format",
        choices=["text", "json", "csv"],
        default="text",
        help="text (summary), json (scores of every lead, agreement, calibration) or csv (one row per lead)",
    )
    score.set_defaults(command=score_command, name="score")


def _add_rewards(commands: Commands) -> None:
    """``rewards``: the shared reward of a period."""
    rewards = commands.add_parser(
        "rewards",
        help="the shared reward of a period: statements and totals",
        description="Compute the plan's shared reward for a period: every participant's statement, with the "
        "rule, inputs and rate behind each line, and the totals by participant and team.",
    )
    rewards.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    rewards.add_argument(
        "--period", required=True, type=parse_period, metavar="PERIOD", help="2026-10, 2026-Q4 or 2026"
    )
    _add_source(rewards, data_help="folder of <kind>.parquet files (deals, ...)")
    rewards.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="DATE",
        help="the day of the run: a date, or a time with offset, taken as its day in the plan's time zone "
        "(default: the period's last day)",
    )
    rewards.add_argument("--participant", metavar="ID", help="only this participant's statement")
    add_fx_option(rewards)
    rewards.add_argument(
        "--format", choices=["text", "csv", "json", "html"], default="text", help="output format"
    )
    rewards.set_defaults(command=rewards_command, name="rewards")


def _add_source(parser: argparse.ArgumentParser, *, data_help: str, synthetic: bool = True) -> None:
    """The data options of the analysis commands: ``--data``, ``--source`` (and its options) or ``--seed``.

    Without ``synthetic`` (``check``, whose data is optional) there is no ``--seed`` or ``--leads``.
    """
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=parse_path, metavar="DIR", help=data_help)
    source.add_argument(
        "--source",
        type=parse_source,
        metavar="NAME[:PATH]",
        help="read through a connector, e.g. hubspot-export:./export or hubspot (smarketing sources lists "
        "them)",
    )
    if synthetic:
        source.add_argument(
            "--seed", type=parse_seed, metavar="N", help="use synthetic data with this seed (default: 42)"
        )
        parser.add_argument(
            "--leads",
            type=parse_leads,
            default=5000,
            metavar="N",
            help=f"synthetic leads, at most {MAX_LEADS:,} (default: 5000)",
        )
    _add_connector_options(parser, report=True)


def _add_connector_options(parser: argparse.ArgumentParser, *, report: bool) -> None:
    """``--option KEY=VALUE`` (repeatable) and ``--lenient``, and where a lenient load's report goes."""
    parser.add_argument(
        "--option",
        type=parse_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a connector option, e.g. time_zone=Europe/Berlin (repeatable; maps as JSON)",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="keep the good rows and report the refused ones (default: any refused row is an error)",
    )
    if report:
        parser.add_argument(
            "--load-report",
            type=parse_path,
            metavar="FILE",
            help="with --lenient: where the load report goes (default: load-report.json)",
        )


def _add_import_and_sources(commands: Commands) -> None:
    """``import``: a source into a dataset folder once; ``sources``: the connectors installed."""
    import_ = commands.add_parser(
        "import",
        help="read a source through a connector once and write it as a dataset folder",
        description="Load SOURCE (NAME:PATH, e.g. hubspot-export:./export, or NAME for a connector that "
        "reads no path, e.g. hubspot) through its connector and write DIR: one <kind>.parquet per record "
        "kind, manifest.json and load-report.json; then --data DIR reads it fast. Prints the load summary. "
        "With --state FILE the load is incremental and its changes are applied to DIR.",
    )
    import_.add_argument("source", type=parse_source, metavar="SOURCE", help="NAME[:PATH]")
    import_.add_argument(
        "--output", "-o", required=True, type=parse_path, metavar="DIR", help="the dataset folder to write"
    )
    import_.add_argument(
        "--state",
        type=parse_path,
        metavar="FILE",
        help="load only what changed since the watermark kept in FILE (connectors with sync, e.g. hubspot) "
        "and apply it to DIR",
    )
    _add_connector_options(import_, report=False)
    import_.set_defaults(command=import_command, name="import")

    sources = commands.add_parser(
        "sources",
        help="list the installed connectors and their options",
        description="List the connectors --source and import can use: the built-in ones and installed "
        "plugins, each with its options.",
    )
    sources.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    sources.set_defaults(command=sources_command, name="sources")


def _add_lint_text(commands: Commands) -> None:
    """``lint-text``: the plan's glossary over text, Markdown and HTML files."""
    lint = commands.add_parser(
        "lint-text",
        help="find the glossary's discouraged and forbidden words in text, Markdown and HTML files",
        description="Check campaign copy, sales scripts and pages against the plan's glossary: every "
        "discouraged synonym or forbidden word, any case, plural, hyphenation or spacing, with its line "
        "and column and the agreed term to write. Markdown and HTML are read as prose (never code, "
        "URLs, scripts or styles). A file allows words for itself with a line 'smarketing: allow WORD, "
        "...' (in a comment). Exit 0 when nothing is found, 1 when something is, 2 when the plan or a "
        "file cannot be read.",
    )
    lint.add_argument(
        "--plan", required=True, type=parse_path, metavar="PLAN", help="plan file whose glossary is used"
    )
    lint.add_argument("files", nargs="+", type=parse_path, metavar="FILE", help="the files to check")
    lint.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (file:line:column: ...), json (documented, stable) or sarif (SARIF 2.1.0); default text",
    )
    lint.add_argument(
        "--kind",
        choices=("auto", "text", "markdown", "html"),
        default="auto",
        help="how to read the files; auto (default) by suffix: .md Markdown, .html HTML, else text",
    )
    lint.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="WORDS",
        help="comma-separated glossary words every file may use (repeatable)",
    )
    lint.set_defaults(command=lint_text_command, name="lint-text")
