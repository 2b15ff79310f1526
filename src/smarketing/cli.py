"""The ``smarketing`` command.

Subcommands:

* ``smarketing demo [--plan PATH] [--seed N] [--leads N]``: load a plan (``examples/plan.yaml`` by default),
  generate synthetic data for it and print a summary of both.
* ``smarketing schema [--output FILE]``: the JSON Schema of plan files, for editors and CI.
* ``smarketing validate PLAN``: load a plan and print ``OK: <name>``, or every problem as
  ``file:line: path: message``, one per line.
* ``smarketing check PLAN [--format text|json|sarif] [--select CODES] [--ignore CODES] [--min-score N]``:
  run the alignment rules and print the report; exit 1 when a finding fails the check or the score is
  below ``--min-score``.
* ``smarketing funnel PLAN [--data DIR|--seed N --leads N] [--as-of T] [--by ATTR] [--mode M]
  [--calendar-time-only] [--format text|json|csv]``: the journey funnel of CRM data
  (``DIR/stage_events.parquet``, and ``DIR/leads.parquet`` for ``--by``) or of synthetic data; time in
  stage also in business time on the SLA's calendar when the plan has an SLA.
* ``smarketing kpis PLAN [--data DIR | --seed N --leads N] --period 2026-10 [--format text|json|csv]``: the
  joint scorecard of the plan's KPIs for a period, from parquet files (``DIR/leads.parquet``, ...) or
  from synthetic data.
* ``smarketing sla PLAN [--data DIR | --seed N --leads N] [--as-of T] [--format text|json|csv]``: both sides
  of the SLA (sales per handed-off lead, marketing per period), from parquet files or synthetic data; CSV
  gives the per-lead rows.
* ``smarketing rewards PLAN [--data DIR | --seed N --leads N] --period 2026-10 [--format FORMAT]``
  (text, csv, json or html): the shared reward of a period: totals by participant and team, and every
  participant's statement.

Exit codes: 0 on success, 1 when an output file cannot be written or a check fails, 2 for usage errors
and invalid or missing plans. The command only formats what the library computes; bad input never ends
in a traceback.

Examples:
    >>> main(["validate", "examples/plan.yaml"])
    OK: Fernbrook Analytics FY2027
    0
    >>> main(["validate", "no/such/plan.yaml"])  # prints "no/such/plan.yaml: no such plan file" to stderr
    2
    >>> main(
    ...     ["check", "examples/misaligned.yaml", "--select", "C004", "--format", "json"]
    ... )  # doctest: +ELLIPSIS
    {
      "format_version": 1,
    ...
    1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import polars as pl

from smarketing import __version__
from smarketing._periods import Window
from smarketing.attribution import Journeys, compare
from smarketing.calendar import BusinessCalendar
from smarketing.datasets import DEFAULT_END, synthetic
from smarketing.errors import CurrencyMismatchError, DataError, FormulaError, PlanError, RuleError
from smarketing.journey import conformance, funnel
from smarketing.kpi import KPI, Scorecard, compile_kpi, scorecard
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan, load_plan, plan_json_schema
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.rewards import RewardLedger, _period_bounds, compute_rewards
from smarketing.rules import CheckReport, check
from smarketing.sla import SLAReport, evaluate_sla

__all__ = ["main"]

DemoSection = Callable[[AlignmentPlan, Dataset], str]
"""A part of the demo output: text made from the plan and the data (no trailing newline)."""

_EXAMPLE = Path("examples") / "plan.yaml"
_MISALIGNED = Path("examples") / "misaligned.yaml"
_WIDTH = 100


class _CommandError(Exception):
    """A problem to report in one line (none when already reported) and an exit code, no traceback."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smarketing`` command and return its exit code.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 1 when output cannot be written, 2 for usage errors and invalid or missing plans.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits on usage errors (2) and after --help/--version (0)
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except _CommandError as failure:
        if str(failure):
            print(f"smarketing {args.name}: {failure}", file=sys.stderr)
        return failure.code
    except BrokenPipeError:
        # The reader went away (`smarketing schema | head`): silence the interpreter's final flush too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smarketing",
        description="Sales and marketing alignment: plans, synthetic data and checks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="summarise a plan and synthetic data generated for it",
        description="Load a plan, generate seeded synthetic CRM data for it and print a summary of both.",
    )
    demo.add_argument(
        "--plan",
        type=Path,
        metavar="PATH",
        help=f"plan file (default: {_EXAMPLE} of the smarketing repository)",
    )
    demo.add_argument("--seed", type=_seed, default=42, metavar="N", help="random seed (default: 42)")
    demo.add_argument(
        "--leads", type=_positive, default=5000, metavar="N", help="number of leads (default: 5000)"
    )
    demo.set_defaults(command=_demo, name="demo")

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of plan files",
        description="Print the JSON Schema (draft 2020-12) of plan files, for editors and CI.",
    )
    schema.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE instead")
    schema.set_defaults(command=_schema, name="schema")

    validate = commands.add_parser(
        "validate",
        help="check a plan file",
        description="Load a plan file; print 'OK: <name>' or every problem as 'file:line: path: message'.",
    )
    validate.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    validate.set_defaults(command=_validate, name="validate")

    check_ = commands.add_parser(
        "check",
        help="check a plan against the alignment rules and score it",
        description="Run the alignment rules on a plan and print the findings and the alignment score. "
        "Exit 0 when nothing fails, 1 when a finding is an error or the score is below --min-score, "
        "2 when the plan cannot be loaded or the options are wrong.",
    )
    check_.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    check_.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (grouped by area), json (documented, stable) or sarif (SARIF 2.1.0); default text",
    )
    check_.add_argument(
        "--select",
        type=_codes,
        action="extend",
        metavar="CODES",
        help="comma-separated rule codes or prefixes to run, e.g. J,S001 (default: all)",
    )
    check_.add_argument(
        "--ignore",
        type=_codes,
        action="extend",
        default=[],
        metavar="CODES",
        help="comma-separated rule codes or prefixes not to run",
    )
    check_.add_argument(
        "--min-score",
        type=_score,
        default=0,
        metavar="N",
        help="also fail when the alignment score is below N (0-100; default 0)",
    )
    check_.set_defaults(command=_check, name="check")
    funnel_cmd = commands.add_parser(
        "funnel",
        help="the journey funnel of CRM or synthetic data",
        description="Measure the plan's customer journey on stage events: per stage the leads that reached "
        "it, moved on, were lost or are still open, conversion and time in stage.",
    )
    funnel_cmd.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        funnel_cmd,
        data_help="directory with stage_events.parquet (and leads.parquet for --by), or one parquet file",
    )
    funnel_cmd.add_argument(
        "--as-of", type=_aware, metavar="TIME", help="measure as at this ISO 8601 time with offset"
    )
    funnel_cmd.add_argument("--by", metavar="ATTR", help="group by a lead attribute, or cohort_month")
    funnel_cmd.add_argument("--mode", choices=["ordered", "any"], default="ordered", help="default: ordered")
    funnel_cmd.add_argument(
        "--calendar-time-only",
        action="store_true",
        help="leave out the business time in stage (by default measured on the SLA's calendar, if any)",
    )
    funnel_cmd.add_argument("--format", choices=["text", "json", "csv"], default="text", help="default: text")
    funnel_cmd.set_defaults(command=_funnel, name="funnel")
    kpis = commands.add_parser(
        "kpis",
        help="the joint KPI scorecard of a plan for a period",
        description="Compute the plan's KPIs for a period: value, target, status, trend; joint KPIs first.",
    )
    kpis.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    kpis.add_argument("--period", required=True, metavar="PERIOD", help="period, e.g. 2026-10 or 2026-Q4")
    _add_source(kpis, data_help="folder of <kind>.parquet files (leads, deals, ...)")
    kpis.add_argument(
        "--by", metavar="COLUMN", help="split by a lead column (persona, region, ...) or 'team'"
    )
    kpis.add_argument(
        "--as-of", metavar="ISO", help="ignore facts after this time (default: the end of the period, UTC)"
    )
    kpis.add_argument(
        "--fx",
        action="append",
        default=[],
        metavar="BASE/QUOTE=RATE",
        help="an exchange rate, e.g. USD/EUR=0.92 (repeatable; synthetic data defaults to USD/EUR=0.92)",
    )
    kpis.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format")
    kpis.set_defaults(command=_kpis, name="kpis")
    sla = commands.add_parser(
        "sla",
        help="both sides of the SLA: sales per handed-off lead, marketing per period",
        description="Evaluate the plan's SLA on CRM data: response, attempts and disposition commitments "
        "per handed-off lead, marketing's volume and quality per period, breaches and a summary.",
    )
    sla.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        sla, data_help="folder of <kind>.parquet files (leads, stage_events, activities, dispositions)"
    )
    sla.add_argument(
        "--as-of",
        type=_aware,
        metavar="TIME",
        help="evaluate at this ISO 8601 time with offset (default: the latest fact in --data; the end of "
        "the synthetic data)",
    )
    sla.add_argument("--format", choices=["text", "json", "csv"], default="text", help="default: text")
    sla.set_defaults(command=_sla, name="sla")

    rewards = commands.add_parser(
        "rewards",
        help="the shared reward of a period: statements and totals",
        description="Compute the plan's shared reward for a period: every participant's statement, with the "
        "rule, inputs and rate behind each line, and the totals by participant and team.",
    )
    rewards.add_argument("plan", type=Path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    rewards.add_argument("--period", required=True, metavar="PERIOD", help="2026-10, 2026-Q4 or 2026")
    _add_source(rewards, data_help="folder of <kind>.parquet files (deals, ...)")
    rewards.add_argument(
        "--as-of", metavar="DATE", help="the day of the run (default: the period's last day)"
    )
    rewards.add_argument("--participant", metavar="ID", help="only this participant's statement")
    rewards.add_argument(
        "--fx",
        action="append",
        default=[],
        metavar="BASE/QUOTE=RATE",
        help="an exchange rate, e.g. USD/EUR=0.92 (repeatable; synthetic data defaults to USD/EUR=0.92)",
    )
    rewards.add_argument(
        "--format", choices=["text", "csv", "json", "html"], default="text", help="output format"
    )
    rewards.set_defaults(command=_rewards, name="rewards")
    return parser


def _codes(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError(f"no rule codes in {text!r}")
    return codes


def _score(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, not {value}")
    return value


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. {text}+00:00")
    return moment


def _seed(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


# --------------------------------------------------------------------------------------------------
# Commands.


def _load(path: Path) -> AlignmentPlan:
    """Load a plan; report every problem, one per line, and fail without a traceback."""
    try:
        return load_plan(path)
    except PlanError as error:
        for issue in error.issues:
            print(issue.format(error.file), file=sys.stderr)
        raise _CommandError("") from None  # the issues are the whole message
    except OSError as error:
        raise _CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def _validate(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    print(f"OK: {plan.name}")
    return 0


def _check(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    try:
        report = check(plan, select=args.select, ignore=args.ignore)
    except RuleError as error:
        raise _CommandError(str(error)) from None
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
    elif args.format == "sarif":
        text = json.dumps(report.to_sarif(), indent=2, ensure_ascii=False)
    else:
        text = report.to_text(color=_colour(sys.stdout))
        if report.score < args.min_score:
            text += f"\nscore {report.score} is below the minimum of {args.min_score}"
    _write(sys.stdout, text)
    return 0 if report.ok and report.score >= args.min_score else 1


def _colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(plan_json_schema(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _CommandError(f"cannot write {args.output}: {error.strerror or error}", code=1) from None
    return 0


def _add_source(parser: argparse.ArgumentParser, *, data_help: str) -> None:
    """The data options every analysis command shares: ``--data DIR`` or ``--seed N``, and ``--leads N``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, metavar="DIR", help=data_help)
    source.add_argument(
        "--seed", type=_seed, metavar="N", help="use synthetic data with this seed (default: 42)"
    )
    parser.add_argument(
        "--leads", type=_positive, default=5000, metavar="N", help="synthetic leads (default: 5000)"
    )


def _synthetic(plan: AlignmentPlan, args: argparse.Namespace) -> Dataset:
    """The synthetic data of ``--seed`` (default 42) and ``--leads``."""
    return synthetic(plan, seed=42 if args.seed is None else args.seed, n_leads=args.leads)


def _funnel(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    events: object
    leads: object = None
    if args.data is not None:
        events, leads = _parquet(args.data, need_leads=args.by not in (None, "cohort_month"))
    else:
        events = _synthetic(plan, args)
    try:
        report = funnel(
            plan.journey,
            events,
            leads=leads,
            by=args.by,
            as_of=args.as_of,
            mode=args.mode,
            calendar=_funnel_calendar(plan, time_only=args.calendar_time_only),
        )
    except (DataError, ValueError) as error:
        raise _CommandError(str(error)) from None
    if args.format == "json":
        _write(sys.stdout, json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        durations = ["time_median", "time_p90", "business_median", "business_p90"]
        frame = report.to_frame().with_columns(pl.col(durations).dt.total_microseconds().name.suffix("_us"))
        sys.stdout.write(frame.drop(durations).write_csv())
    else:
        _write(sys.stdout, repr(report))
        for group in report.groups():
            title = "" if report.by is None else f"\n{report.by} = {group if group is not None else '(none)'}"
            _write(sys.stdout, f"{title}\n{report.chart(group=group)}")
    return 0


def _funnel_calendar(plan: AlignmentPlan, *, time_only: bool = False) -> BusinessCalendar | None:
    """The calendar of the business time in stage: the SLA's, as for ``smarketing sla``."""
    if time_only or plan.sla is None:
        return None
    return plan.sla.calendar


def _parquet(path: Path, *, need_leads: bool) -> tuple[pl.LazyFrame, pl.LazyFrame | None]:
    """Stage events (and leads) as lazy frames from a directory of ``<kind>.parquet`` files or one file."""
    events = path / "stage_events.parquet" if path.is_dir() else path
    leads = path / "leads.parquet" if path.is_dir() else path.with_name("leads.parquet")
    if not events.is_file():
        raise _CommandError(f"{events}: no such parquet file")
    if need_leads and not leads.is_file():
        raise _CommandError(f"{leads}: no such parquet file (--by needs the leads)")
    return pl.scan_parquet(events), pl.scan_parquet(leads) if need_leads else None


def _demo(args: argparse.Namespace) -> int:
    path = args.plan if args.plan is not None else _example_plan()
    plan = _load(path)
    data = synthetic(plan, seed=args.seed, n_leads=args.leads)
    _write(sys.stdout, f"smarketing demo: {path}, seed {args.seed}, {args.leads:,} synthetic leads")
    for section in _DEMO_SECTIONS:
        _write(sys.stdout, "\n" + section(plan, data))
    return 0


def _kpis(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    if args.data is not None:
        data = _read_data(args.data)
        rates = args.fx
    else:
        data = _synthetic(plan, args)
        rates = args.fx or [_DEMO_RATE]
    try:
        card, left_out = _scorecard(
            plan, data, period=args.period, by=args.by, as_of=args.as_of, fx=_fx(rates)
        )
    except (ValueError, DataError, CurrencyMismatchError) as error:
        raise _CommandError(str(error)) from None
    for note in left_out:
        print(f"smarketing kpis: {note}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(card.to_dict(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(card.to_frame().drop("owners", "history").write_csv())
    else:
        _write(sys.stdout, repr(card))
    return 0


_DEMO_RATE = "USD/EUR=0.92"

#: The instant the synthetic data ends (the day after ``DEFAULT_END``, UTC): the demo's "now".
_SYNTHETIC_AS_OF = datetime.combine(DEFAULT_END + timedelta(days=1), datetime.min.time(), UTC)


def _sla(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    if args.data is not None:
        data = _read_data(args.data)
        as_of = args.as_of or _latest_fact(data)
    else:
        data = _synthetic(plan, args)
        as_of = args.as_of or _SYNTHETIC_AS_OF
    try:
        report = evaluate_sla(plan, data, as_of=as_of)
    except (PlanError, DataError, ValueError) as error:
        raise _CommandError(str(error)) from None
    if args.format == "json":
        _write(sys.stdout, json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(report.to_frame().write_csv())
    else:
        _write(sys.stdout, _sla_text(report))
    return 0


def _latest_fact(data: Dataset) -> datetime:
    """The latest time in the SLA's records: the natural "now" of a CRM export."""
    frames = {
        "stage_events": data.stage_events,
        "activities": data.activities,
        "dispositions": data.dispositions,
    }
    for kind, frame in frames.items():
        dtype = frame.schema.get("time")
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            # One clean message naming the file and column (a mix of naive and aware files cannot compare).
            raise _CommandError(f"{kind}: time: naive datetimes are ambiguous; store them in UTC")
    latest = [frame["time"].max() for frame in frames.values() if frame.height and "time" in frame.columns]
    moments = [t for t in latest if isinstance(t, datetime)]
    if not moments:
        raise _CommandError("no stage events, activities or dispositions with a time; give --as-of")
    moment = max(moments)
    if moment.tzinfo is None:
        raise _CommandError("the data's times are naive; store them in UTC or give --as-of")
    return moment


def _sla_text(report: SLAReport, *, periods: int = 6) -> str:
    """The summary, marketing's last periods, and compliance by team and by rep."""
    marketing = report.marketing.tail(periods)
    m_rows = [
        [
            str(r["period"]) + ("" if r["complete"] else " (so far)"),
            _count(r["delivered"]),
            "-" if r["committed"] is None else _count(r["committed"]),
            "-" if r["shortfall"] is None else _count(r["shortfall"]),
            _share_text(r["acceptance_rate"]),
            _share_text(r["sql_rate"]),
        ]
        for r in marketing.to_dicts()
    ]
    out = [
        textwrap.fill(report.summary, _WIDTH),
        "",
        _heading("Marketing: leads delivered per period"),
        _table(
            ["period", "delivered", "committed", "shortfall", "accepted", "SQL"],
            m_rows,
            right={1, 2, 3, 4, 5},
        ),
    ]
    for title, frame, key in (
        ("Sales by team", report.by_team, "team"),
        ("Sales by rep", report.by_rep, "owner"),
    ):
        rows = [
            [
                r[key] or "(none)",
                _count(r["handed_off"]),
                _share_text(r["response_compliance"]),
                _share_text(r["attempts_compliance"]),
                _share_text(r["disposition_coverage"]),
                _count(r["unable_to_reach_early"]),
            ]
            for r in frame.to_dicts()
        ]
        header = [key, "handed off", "response", "attempts", "disposition", "early 'unable to reach'"]
        out += ["", _heading(title), _table(header, rows, right={1, 2, 3, 4, 5})]
    return "\n".join(out)


def _share_text(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _rewards(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    if args.data is not None:
        data = _read_data(args.data)
        rates = args.fx
    else:
        data = _synthetic(plan, args)
        rates = args.fx or [_DEMO_RATE]
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise _CommandError(f"--as-of {args.as_of!r}: write a date such as 2026-10-31") from None
    try:
        ledger = _ledger(plan, data, period=args.period, as_of=as_of, fx=_fx(rates))
        statements = [ledger.statement(args.participant)] if args.participant else ledger.statements()
    except (ValueError, KeyError, DataError, CurrencyMismatchError) as error:
        message = error.args[0] if isinstance(error, KeyError) else str(error)
        raise _CommandError(str(message)) from None
    if args.format == "json":
        data_out = ledger.to_dict()
        if args.participant:
            data_out = statements[0].to_dict()
        print(json.dumps(data_out, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        frames = [s.to_frame() for s in statements]
        sys.stdout.write(pl.concat(frames).with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv())
    elif args.format == "html":
        sys.stdout.write("\n".join(s.to_html() for s in statements) + "\n")
    else:
        parts = [] if args.participant else [repr(ledger), _team_totals(ledger)]
        _write(sys.stdout, "\n\n".join([*parts, *(s.to_text() for s in statements)]))
    return 0


def _ledger(
    plan: AlignmentPlan, data: Dataset, *, period: str, as_of: date | None, fx: FxTable | None
) -> RewardLedger:
    if plan.rewards is None:
        raise _CommandError("the plan has no rewards part")
    try:
        last = _period_bounds(period)[1]
    except ValueError as error:
        raise _CommandError(f"--period: {error}") from None
    return compute_rewards(data, plan, fx=fx, period=period, as_of=as_of or last)


def _team_totals(ledger: RewardLedger) -> str:
    rows = [[team, str(total)] for team, total in ledger.totals("team").items()]
    return "totals by team\n" + _table(["team", "total"], rows, right={1})


def _fx(rates: Sequence[str]) -> FxTable | None:
    rows = []
    for text in rates:
        pair, _, rate = text.partition("=")
        base, _, quote = pair.partition("/")
        if not (base and quote and rate):
            raise _CommandError(f"--fx {text!r}: write BASE/QUOTE=RATE, e.g. USD/EUR=0.92")
        try:
            rows.append((base, quote, date(1970, 1, 1), rate))
            FxTable(rows)  # check the rate now, to name the option that holds it
        except (TypeError, ValueError) as error:
            raise _CommandError(f"--fx {text!r}: {error}") from None
    return FxTable(rows) if rows else None


def _read_data(folder: Path) -> Dataset:
    if not folder.is_dir():
        raise _CommandError(f"{folder}: not a folder of <kind>.parquet files")
    frames = {}
    for kind in RECORD_KINDS:
        path = folder / f"{kind}.parquet"
        if path.exists():
            frames[kind] = pl.read_parquet(path)
    if not frames:
        raise _CommandError(f"{folder}: no <kind>.parquet files ({', '.join(RECORD_KINDS)})")
    try:
        return Dataset(**frames)
    except DataError as error:  # name the file the bad frame came from
        name = next((k for k, m in RECORD_KINDS.items() if error.kind in (k, m.kind)), None)
        raise _CommandError(f"{folder / f'{name}.parquet'}: {error}" if name else str(error)) from None


def _scorecard(
    plan: AlignmentPlan, data: Dataset, *, period: str, by: str | None, as_of: str | None, fx: FxTable | None
) -> tuple[Scorecard, list[str]]:
    """The plan's scorecard, and a note on each KPI left out because its formula cannot be computed."""
    window = Window.parse(period)
    when = datetime.fromisoformat(as_of) if as_of else window.end_at("UTC")
    if when.tzinfo is None:
        raise _CommandError(f"--as-of {as_of!r}: give a time zone, e.g. {as_of}+00:00")
    usable, left_out = [], []
    for kpi in plan.kpis:
        try:
            compile_kpi(kpi)
        except FormulaError as error:
            left_out.append(f"{kpi.id}: {error}; left out")
            continue
        usable.append(kpi)
    card = scorecard(
        plan.model_copy(update={"kpis": usable}),
        data,
        period=period,
        as_of=when.astimezone(UTC),
        by=by,
        fx=fx,
    )
    return card, left_out


def _example_plan(example: Path | None = None) -> Path:
    """``examples/plan.yaml`` (or ``example``) in the working directory, else in this package's repository."""
    example = _EXAMPLE if example is None else example
    candidates = [example, Path(__file__).resolve().parents[2] / example]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise _CommandError(
        f"cannot find the example plan (looked for {looked}); "
        "run from a smarketing checkout or pass --plan PATH"
    )


def _write(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")


# --------------------------------------------------------------------------------------------------
# Demo sections: each takes the plan and the data and returns its text. Append new ones to the list.


def _heading(title: str) -> str:
    return f"{title}\n{'-' * len(title)}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> str:
    """Plain text columns; the columns in ``right`` (numbers) are right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``label  value`` lines with the values aligned; continuation lines of a value are indented."""
    width = max((len(label) for label, _ in pairs), default=0)
    lines: list[str] = []
    previous = None
    for label, value in pairs:
        wrapped = textwrap.wrap(value, _WIDTH - width - 2) or [""]
        shown = "" if label == previous else label  # a label repeated on consecutive lines is shown once
        previous = label
        lines.append(f"{shown.ljust(width)}  {wrapped[0]}".rstrip())
        lines.extend(" " * (width + 2) + more for more in wrapped[1:])
    return "\n".join(lines)


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _money(money: Money) -> str:
    return f"{money:,.{money.minor_units}f}"


def _count(n: int) -> str:
    return f"{n:,}"


def _plan_section(plan: AlignmentPlan, data: Dataset) -> str:
    title = f"{plan.name}\n{'=' * len(plan.name)}"
    description = textwrap.fill(plan.description, _WIDTH) if plan.description else ""
    return "\n".join(part for part in (title, description) if part)


def _teams_section(plan: AlignmentPlan, data: Dataset) -> str:
    rows = [[t.id, t.name, t.function, str(len(plan.people_in(t.id)))] for t in plan.teams]
    return _heading("Teams") + "\n" + _table(["team", "name", "function", "people"], rows, right={3})


def _personas_section(plan: AlignmentPlan, data: Dataset) -> str:
    if not plan.personas:
        return _heading("Personas") + "\nnone agreed yet"
    rows = [
        [
            p.id,
            p.name,
            str(len(p.interest_signals)),
            str(len(p.readiness_signals)),
            "yes" if p.has_both_sides else "NO",
        ]
        for p in plan.personas
    ]
    header = ["persona", "name", "interest signals (marketing)", "readiness signals (sales)", "both sides"]
    return _heading("Personas") + "\n" + _table(header, rows, right={2, 3})


def _journey_section(plan: AlignmentPlan, data: Dataset) -> str:
    journey = plan.journey
    rows = [[s.id, s.name, s.owner, s.kind, s.terminal or ""] for s in journey.stages]
    out = [_heading("Customer journey"), _table(["stage", "name", "owner", "kind", "terminal"], rows)]
    owner = {s.id: s.owner for s in journey.stages}
    out.extend(
        f"handoff: {t.source} -> {t.to} ({owner[t.source]} hands over to {owner[t.to]})"
        for t in journey.handoffs()
    )
    recycles = [
        f"{t.source} -> {t.to}" + (f" (at most {t.max_recycles}x)" if t.max_recycles else "")
        for t in journey.transitions
        if t.kind == "recycle"
    ]
    if recycles:
        out.append("recycles: " + ", ".join(recycles))
    if not journey.handoffs():
        out.append("handoff: none defined")
    return "\n".join(out)


def _sla_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = _heading("Service level agreement")
    sla = plan.sla
    if sla is None:
        return heading + "\nnone agreed yet"
    calendar = sla.calendar
    clock = calendar.timezone + (
        f", holidays {calendar.holidays.country}"
        + (f"-{calendar.holidays.subdivision}" if calendar.holidays.subdivision else "")
        if calendar.holidays
        else ""
    )
    marketing: list[str] = []
    if sla.marketing.volume is not None:
        v = sla.marketing.volume
        marketing.append(f"{v.count:,} leads reach {v.stage} per {v.period}")
    if sla.marketing.quality is not None:
        q = sla.marketing.quality
        text = f"at least {_percent(q.min_acceptance_rate)} of handed-off leads accepted ({q.accepted_stage})"
        if q.sql_stage is not None and q.min_sql_rate is not None:
            text += f", {_percent(q.min_sql_rate)} become {q.sql_stage}"
        marketing.append(text)
    sales: list[str] = []
    s = sla.sales
    if s.first_response is not None:
        kinds = ", ".join(s.first_response.activities)
        sales.append(f"first response within {s.first_response.within_hours} business hours ({kinds})")
    if s.attempts is not None:
        sales.append(f"{s.attempts.minimum} attempts within {s.attempts.within_business_days} business days")
    if s.disposition is not None:
        d = s.disposition
        sales.append(
            f"disposition within {d.within_business_days} business days, {len(d.reasons)} agreed reasons"
        )
    tiers = [
        f"{t.id} ("
        + "; ".join(
            f"{what} {', '.join(ids)}"
            for what, ids in (("grades", t.grades), ("personas", t.personas))
            if ids
        )
        + "):"
        + (f" {t.first_response_hours} h" if t.first_response_hours is not None else "")
        + (f", {t.min_attempts} attempts" if t.min_attempts is not None else "")
        for t in sla.tiers
    ]
    pairs = [("clock", clock)]
    pairs += [("marketing", m) for m in marketing] or [("marketing", "no commitment")]
    pairs += [("sales", m) for m in sales] or [("sales", "no commitment")]
    if tiers:
        pairs.append(("tiers", "; ".join(tiers)))
    if sla.escalation:
        steps = ", ".join(f"+{e.after_hours} h: {' & '.join(e.notify)}" for e in sla.escalation)
        pairs.append(("escalation", steps))
    if sla.pause_statuses:
        pairs.append(("paused by", ", ".join(sla.pause_statuses)))
    return heading + "\n" + _fields(pairs)


def _kpi_target(kpi: KPI) -> str:
    target = kpi.target
    if target is None:
        return "-"
    if kpi.unit == "ratio":
        return _percent(target)
    if kpi.unit == "money" and kpi.currency is not None:
        return _money(Money(target, kpi.currency))
    suffix = {"hours": " h", "days": " d"}.get(kpi.unit, "")
    return f"{target:,}{suffix}"


def _kpis_section(plan: AlignmentPlan, data: Dataset) -> str:
    if not plan.kpis:
        return _heading("Joint KPIs") + "\nnone agreed yet"
    better = {"higher_is_better": "higher", "lower_is_better": "lower"}
    rows = [
        [k.id, " + ".join(k.owners), _kpi_target(k), k.period, better[k.direction], k.formula]
        for k in plan.kpis
    ]
    header = ["KPI", "owners", "target", "per", "better", "formula"]
    return _heading("Joint KPIs") + "\n" + _table(header, rows, right={2})


def _rewards_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = _heading("Shared reward")
    r = plan.rewards
    if r is None:
        return heading + "\nnone agreed yet"
    pool = f"{_percent(r.pool.rate)} of the {r.pool.basis} deal amount"
    if r.pool.fixed is not None:
        pool += f" + {_money(r.pool.fixed)} per deal"
    pairs = [("plan", f"{r.name or r.id} ({r.id}), paid in {r.currency}"), ("pool", pool)]
    if r.team_split:
        pairs.append(
            ("team split", ", ".join(f"{team} {_percent(share)}" for team, share in r.team_split.items()))
        )
    if r.attribution is not None:
        a = r.attribution
        pairs.append(("attribution", f"{a.model} model by {a.key}, {_percent(a.share)} of the pool"))
    people = sum(1 for p in r.participants if p.person)
    teams = sum(1 for p in r.participants if p.team)
    pairs.append(("participants", f"{people} people, {teams} team pool(s)"))
    if r.tiers:
        pairs.append(("tiers", f"{len(r.tiers)} attainment bands ({r.tier_mode})"))
    caps = [
        f"{_money(m)} per {what}" for m, what in ((r.cap_per_deal, "deal"), (r.cap_per_period, "period")) if m
    ]
    if caps:
        pairs.append(("caps", ", ".join(caps)))
    if r.clawback is not None:
        pairs.append(
            ("clawback", f"{r.clawback.window_days} days after close, {r.clawback.mode.replace('_', ' ')}")
        )
    return heading + "\n" + _fields(pairs)


def _cadence_section(plan: AlignmentPlan, data: Dataset) -> str:
    out = [_heading("Cadence and arbiter")]
    if plan.cadence:
        rows = [
            [m.name, m.kind, m.frequency.replace("_", " "), ", ".join(m.teams), m.outcome_owner or "-"]
            for m in plan.cadence
        ]
        out.append(_table(["meeting", "kind", "frequency", "teams", "outcome owner"], rows))
    else:
        out.append("no joint meetings agreed yet")
    arbiter = plan.arbiter
    if arbiter is None:
        out.append("arbiter: none named")
    else:
        names = {p.id: p.name for p in plan.people}
        text = f"arbiter: {names.get(arbiter.person, arbiter.person)} ({arbiter.person})"
        if arbiter.response_days:
            text += f", rules within {arbiter.response_days} business days"
        out.append(text)
        if arbiter.scope:
            out.append(textwrap.fill(arbiter.scope, _WIDTH, initial_indent="  ", subsequent_indent="  "))
    return "\n".join(out)


def _data_section(plan: AlignmentPlan, data: Dataset) -> str:
    first: date = data.leads["created_at"].min().date()  # type: ignore[union-attr]
    last: date = data.leads["created_at"].max().date()  # type: ignore[union-attr]
    rows = [[kind.replace("_", " "), _count(frame.height)] for kind, frame in data.frames().items()]
    title = _heading(f"Synthetic data (leads created {first} to {last})")
    return title + "\n" + _table(["records", "count"], rows, right={1})


def _scorecard_section(plan: AlignmentPlan, data: Dataset) -> str:
    # The last full month of the synthetic data, as the monthly review would see it.
    card, left_out = _scorecard(plan, data, period="2026-10", by=None, as_of=None, fx=_fx([_DEMO_RATE]))
    notes = "".join(f"\n{note}" for note in left_out)
    return (
        _heading("Joint scorecard, October 2026 (* joint; USD at a fixed 0.92 EUR)")
        + "\n"
        + repr(card)
        + notes
    )


def _deals_section(plan: AlignmentPlan, data: Dataset) -> str:
    deals = data.deals
    heading = _heading("Deals")
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
        amounts = [_money(totals[(stage, c)][1]) if (stage, c) in totals else "-" for c in currencies]
        rows.append([stage, _count(sum(counts)), *amounts])
    header = ["stage", "deals", *(f"total {c}" for c in currencies)]
    table = _table(header, rows, right=set(range(1, len(header))))
    closed = sum(totals.get((s, c), (0, None))[0] for s in ("won", "lost") for c in currencies)
    won = sum(totals.get(("won", c), (0, None))[0] for c in currencies)
    note = f"win rate {100 * won / closed:.1f}% of closed deals" if closed else "no closed deals yet"
    return heading + "\n" + table + "\n" + note


def _statements_section(plan: AlignmentPlan, data: Dataset) -> str:
    """A month's statements for a marketer and a sales rep, and the totals by team."""
    if plan.rewards is None or data.deals.is_empty():
        return _heading("Reward statements") + "\nno reward plan or no deals"
    last = data.deals.get_column("close_date").max()
    assert isinstance(last, date)
    period = f"{last:%Y-%m}"
    heading = _heading(f"Reward statements, {period}")
    fx = _fx([_DEMO_RATE])
    try:
        ledger = _ledger(plan, data, period=period, as_of=last, fx=fx)
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
    return "\n\n".join([heading, *shown, _team_totals(ledger)])


def _dispositions_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = _heading("Disposition reasons (sales' feedback to marketing)")
    counts = dict(data.dispositions.group_by("reason").len().iter_rows())
    if not counts:
        return heading + "\nno dispositions"
    agreed = plan.sla.sales.disposition.reasons if plan.sla and plan.sla.sales.disposition else []
    order = [*agreed, *sorted(set(counts) - set(agreed))]
    total = sum(counts.values())
    rows = [[r, _count(counts.get(r, 0)), f"{100 * counts.get(r, 0) / total:.1f}%"] for r in order]
    return heading + "\n" + _table(["reason", "count", "share"], rows, right={1, 2})


def _check_report_text(report: CheckReport) -> str:
    verdict = "passes" if report.ok else "fails"
    return f"{report.to_text()}\nthe check {verdict}"


def _check_section(plan: AlignmentPlan, data: Dataset) -> str:
    return _heading("Alignment check (smarketing check)") + "\n" + _check_report_text(check(plan))


def _misaligned_check_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = _heading(f"For contrast: smarketing check {_MISALIGNED.as_posix()}")
    try:
        path = _example_plan(_MISALIGNED)
    except _CommandError as missing:
        return heading + f"\n{missing}"
    return heading + "\n" + _check_report_text(check(load_plan(path)))


def _journey_funnel_section(plan: AlignmentPlan, data: Dataset) -> str:
    calendar = _funnel_calendar(plan)
    report = funnel(plan.journey, data, calendar=calendar)
    rows = [
        [
            r.stage,
            _count(r.reached),
            _rate(r.conversion),
            _count(r.lost),
            _count(r.recycled),
            _count(r.open),
            _duration(r.time_median),
            *([_open_hours(r.business_median)] if calendar is not None else []),
        ]
        for r in report.rows
    ]
    header = ["stage", "leads", "next step", "lost", "recycled", "open", "median time in stage"]
    if calendar is not None:
        header.append("median in business hours")  # open hours, never converted to days of 24 hours
    notes = [f"note: {line}" for line in report.counts.lines()]
    return "\n".join(
        [
            _heading("Journey funnel (ordered: leads that passed every earlier stage in order)"),
            _table(header, rows, right={1, 2, 3, 4, 5, 6, 7}),
            "",
            report.chart(width=50),
            *notes,
        ]
    )


def _conformance_section(plan: AlignmentPlan, data: Dataset) -> str:
    report = conformance(plan.journey, data)
    rows = [
        [v.kind.replace("_", " "), _count(v.count), _count(v.leads), str(v.examples[0]) if v.examples else ""]
        for v in report.violations
        if v.count
    ]
    teams = [
        [t.team or "(unattributed)", _count(t.leads), _rate(t.fitness), _count(t.violations)]
        for t in report.by_team
    ]
    out = [
        _heading("Journey conformance (does the CRM follow the agreed journey?)"),
        f"{_count(report.fit)} of {_count(report.leads)} leads fit the map ({_rate(report.fitness)})",
    ]
    if rows:
        out.append(_table(["illegal move", "moves", "leads", "first example"], rows, right={1, 2}))
    out.append(_table(["team", "leads", "fitness", "violations"], teams, right={1, 2, 3}))
    return "\n".join(out)


def _sla_results_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = _heading("SLA results: both sides, as the synthetic data ends")
    if plan.sla is None or not plan.journey.handoffs():
        return heading + "\nno SLA to evaluate (the plan needs an SLA and a handoff transition)"
    report = evaluate_sla(plan, data, as_of=_SYNTHETIC_AS_OF)
    return heading + "\n" + _sla_text(report, periods=3)


def _rate(rate: Decimal | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _open_hours(value: timedelta | None) -> str:
    return "-" if value is None else f"{value.total_seconds() / 3600:.1f} hours"


_DEMO_MODELS = ["first", "last", "linear", "position", "time_decay", "markov", "shapley"]


def _attribution_section(plan: AlignmentPlan, data: Dataset) -> str:
    """Several attribution models side by side: share of won-deal conversions by channel and by team."""
    heading = _heading("Attribution (who made the won deals happen? share of conversions by model)")
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
        out += ["", _table(frame.columns, rows, right=set(range(1, len(frame.columns))))]
    out.append(
        f"{_count(int(journeys.conversions.sum()))} won deals over {_count(journeys.n_journeys)} leads with "
        "touchpoints; markov: exact order-1 removal effects; shapley: exact Shapley values"
    )
    return "\n".join(out)


_DEMO_SECTIONS: list[DemoSection] = [
    _plan_section,
    _teams_section,
    _personas_section,
    _journey_section,
    _sla_section,
    _kpis_section,
    _rewards_section,
    _cadence_section,
    _data_section,
    _journey_funnel_section,
    _conformance_section,
    _scorecard_section,
    _deals_section,
    _statements_section,
    _dispositions_section,
    _sla_results_section,
    _attribution_section,
    _check_section,
    _misaligned_check_section,
]
