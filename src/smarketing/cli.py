r"""The ``smarketing`` command.

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

Options that take a time, a period, an exchange rate or a count are checked when the arguments are read,
with the option named in the message:

* ``--as-of``: an ISO 8601 time with a UTC offset (``2026-10-31T18:00+01:00``) or a plain date
  (``2026-10-31``), which means the start of that day in the plan's time zone (the SLA calendar's, UTC
  when the plan has no SLA); ``rewards`` uses the day. Years 1900 to 2199.
* ``--period``: ``2026-10-05`` (day), ``2026-W41`` (week), ``2026-10`` (month), ``2026-Q4`` (quarter) or
  ``2026`` (year), in the years 1900 to 2199; each command says which kinds it computes.
* ``--fx BASE/QUOTE=RATE``: ISO 4217 codes and a positive decimal rate of at most 18 significant digits,
  12 before and 18 after the decimal point.
* ``--leads``: 1 to 1,000,000; ``--seed``: 0 to 2**63 - 1.

``--data DIR`` is read by one reader for every command: each ``DIR/<kind>.parquet`` must be a readable,
complete parquet file; a folder, a device, a FIFO, an empty file, a CSV or a truncated file is refused
with its name, and a data error found later names the file it came from.

Exit codes: 0 on success, 1 when an output file cannot be written or a check fails, 2 for usage errors,
invalid or missing plans and invalid data. The command only formats what the library computes; bad input
never ends in a traceback. Control characters from plans, data and file names are printed escaped
(``\x1b``), so they cannot act on the terminal.

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
import re
import stat
import sys
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

import polars as pl

from smarketing import __version__
from smarketing._limits import MAX_YEAR, MIN_YEAR, check_digits
from smarketing._periods import Window, zone
from smarketing.attribution import Journeys, compare
from smarketing.calendar import BusinessCalendar
from smarketing.datasets import DEFAULT_END, synthetic
from smarketing.errors import (
    CurrencyMismatchError,
    DataError,
    FormulaError,
    PlanError,
    RuleError,
    SmarketingError,
)
from smarketing.journey import conformance, funnel
from smarketing.kpi import KPI, Scorecard, compile_kpi, scorecard
from smarketing.money import FxTable, Money
from smarketing.plan import AlignmentPlan, load_plan, plan_json_schema
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.rewards import RewardLedger, _period_bounds, compute_rewards
from smarketing.rules import CheckReport, check
from smarketing.sla import SLAReport, evaluate_sla

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["main"]

DemoSection = Callable[[AlignmentPlan, Dataset], str]
"""A part of the demo output: text made from the plan and the data (no trailing newline)."""

_EXAMPLE = Path("examples") / "plan.yaml"
_MISALIGNED = Path("examples") / "misaligned.yaml"
_WIDTH = 100

#: The most synthetic leads a command generates: a million take a few seconds and about a gigabyte.
_MAX_LEADS = 1_000_000
#: Seeds are 64-bit: numpy and polars take them as unsigned 64-bit integers.
_MAX_SEED = 2**63 - 1
#: Significant digits of an ``--fx`` rate: its numerator and denominator then fit a signed 64-bit integer.
_FX_DIGITS = 18
#: Digits before the point of an ``--fx`` rate, as ``FxTable`` accepts them (``money.FX_RATE_DIGITS``).
_FX_INTEGER_DIGITS = 12


class _CommandError(Exception):
    """A problem to report in one line (none when already reported) and an exit code, no traceback."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smarketing`` command and return its exit code.

    Every :class:`~smarketing.errors.SmarketingError` (an invalid plan, invalid data, a plugin that
    fails) is printed to standard error, one line per problem, with exit code 2.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success, 1 when output cannot be written or a check fails, 2 for usage errors, invalid or
        missing plans and invalid data.
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
            _fail(args.name, str(failure))
        return failure.code
    except PlanError as error:
        for issue in error.issues:
            if error.file is None:
                _fail(args.name, issue.format())
            else:  # file:line: path: message, the form editors and CI logs link to
                _emit(issue.format(error.file), stream=sys.stderr, one_line=True)
        return 2
    except SmarketingError as error:
        _fail(args.name, _located(error, getattr(args, "sources", {})))
        return 2
    except BrokenPipeError:
        # The reader went away (`smarketing schema | head`): silence the interpreter's final flush too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _first_line(error: Exception) -> str:
    """The first line of an error from a library underneath (polars adds its query plan after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _fail(command: str, message: str) -> None:
    _emit(f"smarketing {command}: {message}", stream=sys.stderr, one_line=True)


def _located(error: SmarketingError, sources: Mapping[str, Path]) -> str:
    """The error's message, preceded by the file its record kind was read from (``--data``)."""
    kind = getattr(error, "kind", None)
    for name, path in sources.items():
        if kind in (name, RECORD_KINDS[name].kind):
            return f"{path}: {error}"
    return str(error)


# --------------------------------------------------------------------------------------------------
# Output: everything the command prints goes through _emit, which escapes control characters.

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates that
# reorder what a terminal shows ("Trojan source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(text: str, *, one_line: bool = False, json_text: bool = False) -> str:
    r"""``text`` with control characters written as escapes: ``\x1b``, or ``\u001b`` in JSON.

    The JSON form keeps JSON valid and decodes to the same string.

    Examples:
        >>> _escape("Acme\x1b[2J\x00 FY27\tok")
        'Acme\\x1b[2J\\x00 FY27\tok'
        >>> _escape("two\nlines", one_line=True)
        'two\\nlines'
    """
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\n":
            return "\\n"
        code = ord(char)
        return f"\\u{code:04x}" if json_text or code > 0xFF else f"\\x{code:02x}"

    return pattern.sub(escaped, text)


def _emit(
    text: str,
    *,
    stream: SupportsWrite[str] | None = None,
    end: str = "\n",
    one_line: bool = False,
    json_text: bool = False,
) -> None:
    """Write ``text`` and ``end`` to ``stream`` (standard output), control characters escaped."""
    out = sys.stdout if stream is None else stream
    out.write(_escape(text, one_line=one_line, json_text=json_text) + end)


def _emit_json(value: object) -> None:
    _emit(json.dumps(value, indent=2, ensure_ascii=False), json_text=True)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors and help escaped (they repeat what the user typed)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            _emit(message, stream=file or sys.stderr, end="")

    def error(self, message: str) -> NoReturn:
        # argparse prints some values raw (unrecognised arguments); escape before it composes the line.
        super().error(_escape(message, one_line=True))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        type=_path,
        metavar="PATH",
        help=f"plan file (default: {_EXAMPLE} of the smarketing repository)",
    )
    demo.add_argument("--seed", type=_seed, default=42, metavar="N", help="random seed (default: 42)")
    demo.add_argument(
        "--leads",
        type=_leads,
        default=5000,
        metavar="N",
        help=f"number of leads, at most {_MAX_LEADS:,} (default: 5000)",
    )
    demo.set_defaults(command=_demo, name="demo")

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of plan files",
        description="Print the JSON Schema (draft 2020-12) of plan files, for editors and CI.",
    )
    schema.add_argument("--output", "-o", type=_path, metavar="FILE", help="write to FILE instead")
    schema.set_defaults(command=_schema, name="schema")

    validate = commands.add_parser(
        "validate",
        help="check a plan file",
        description="Load a plan file; print 'OK: <name>' or every problem as 'file:line: path: message'.",
    )
    validate.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    validate.set_defaults(command=_validate, name="validate")

    check_ = commands.add_parser(
        "check",
        help="check a plan against the alignment rules and score it",
        description="Run the alignment rules on a plan and print the findings and the alignment score. "
        "Exit 0 when nothing fails, 1 when a finding is an error or the score is below --min-score, "
        "2 when the plan cannot be loaded or the options are wrong.",
    )
    check_.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
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
    funnel_cmd.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        funnel_cmd,
        data_help="directory with stage_events.parquet (and leads.parquet for --by), or one parquet file",
    )
    funnel_cmd.add_argument(
        "--as-of", type=_as_of, metavar="TIME", help=f"measure as at this time ({_AS_OF_HELP})"
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
    kpis.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    kpis.add_argument(
        "--period", required=True, type=_period, metavar="PERIOD", help="period, e.g. 2026-10 or 2026-Q4"
    )
    _add_source(kpis, data_help="folder of <kind>.parquet files (leads, deals, ...)")
    kpis.add_argument(
        "--by", metavar="COLUMN", help="split by a lead column (persona, region, ...) or 'team'"
    )
    kpis.add_argument(
        "--as-of",
        type=_as_of,
        metavar="TIME",
        help=f"ignore facts after this time ({_AS_OF_HELP}; default: the end of the period, UTC)",
    )
    kpis.add_argument(
        "--fx",
        type=_fx_rate,
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
    sla.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    _add_source(
        sla, data_help="folder of <kind>.parquet files (leads, stage_events, activities, dispositions)"
    )
    sla.add_argument(
        "--as-of",
        type=_as_of,
        metavar="TIME",
        help=f"evaluate at this time ({_AS_OF_HELP}; default: the latest fact in --data; the end of "
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
    rewards.add_argument("plan", type=_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    rewards.add_argument(
        "--period", required=True, type=_period, metavar="PERIOD", help="2026-10, 2026-Q4 or 2026"
    )
    _add_source(rewards, data_help="folder of <kind>.parquet files (deals, ...)")
    rewards.add_argument(
        "--as-of",
        type=_as_of,
        metavar="DATE",
        help="the day of the run: a date, or a time with offset, taken as its day in the plan's time zone "
        "(default: the period's last day)",
    )
    rewards.add_argument("--participant", metavar="ID", help="only this participant's statement")
    rewards.add_argument(
        "--fx",
        type=_fx_rate,
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


_AS_OF_HELP = "ISO 8601 with a UTC offset, or a date: the start of that day in the plan's time zone"


@dataclass(frozen=True)
class _AsOf:
    """An ``--as-of`` value: an aware time, or a plain date read in the plan's time zone when used."""

    day: date
    moment: datetime | None = None

    def at(self, tz: str) -> datetime:
        """The instant: the time given, or the start of the date in time zone ``tz`` (as a UTC offset)."""
        if self.moment is not None:
            return self.moment
        start = datetime.combine(self.day, time(), zone(tz))
        return start.astimezone(timezone(start.utcoffset() or timedelta(0)))

    def date_in(self, tz: str) -> date:
        """The day: the date given, or the time's day in time zone ``tz``."""
        return self.day if self.moment is None else self.moment.astimezone(zone(tz)).date()


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _as_of(text: str) -> _AsOf:
    """``--as-of``: ``2026-10-31`` or ``2026-10-31T18:00+01:00``, years 1900 to 2199."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}")
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date: {error}") from None
        _check_year(text, day.year)
        return _AsOf(day)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or time: {text!r}; write 2026-10-31 or 2026-10-31T18:00+01:00"
        ) from None
    _check_year(text, moment.year)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. {text}+00:00")
    try:  # an offset can move a time at the edge of the range out of it
        moment.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range") from None
    return _AsOf(moment.date(), moment)


_YEARS = f"the year is outside the accepted years {MIN_YEAR} to {MAX_YEAR}"


def _check_year(text: str, year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"{text!r}: {_YEARS}")


def _period(text: str) -> str:
    """``--period``: a period label (day, week, month, quarter, year) in the years 1900 to 2199."""
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"not a period: {text!r}; write 2026-10, 2026-Q4 or 2026")
    year = re.match(r"[0-9]+", text)
    if year is not None and len(year.group()) > 4 and text[len(year.group()) :][:1] in ("", "-"):
        raise argparse.ArgumentTypeError(f"{text!r}: {_YEARS}")
    try:
        window = Window.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    _check_year(text, window.start.year)
    return window.label


_RATE = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def _fx_rate(text: str) -> tuple[str, str, Decimal]:
    """``--fx BASE/QUOTE=RATE``: two ISO 4217 codes and a positive decimal rate."""
    pair, _, rate = text.partition("=")
    base, _, quote = pair.partition("/")
    if not (base and quote and rate):
        raise argparse.ArgumentTypeError(f"{text!r}: write BASE/QUOTE=RATE, e.g. USD/EUR=0.92")
    for code in (base, quote):
        try:
            Money(0, code)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if base == quote:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate converts between two different currencies")
    if _RATE.fullmatch(rate) is None:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must be a decimal number such as 0.92")
    value = Decimal(rate)
    if value.is_zero():
        raise argparse.ArgumentTypeError(f"{text!r}: the rate must be positive, not {rate}")
    problem = check_digits(value, integer_digits=_FX_INTEGER_DIGITS)
    if problem is None and len(value.normalize().as_tuple().digits) > _FX_DIGITS:
        problem = f"has more than {_FX_DIGITS} significant digits"
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: the rate {problem}")
    return base, quote, value


def _path(text: str) -> Path:
    """A file or folder name: not empty, and without NUL, which no file system allows."""
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty")
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r}: a file name cannot contain NUL")
    return Path(text)


def _seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {_MAX_SEED}, not {value}")
    return value


def _leads(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= _MAX_LEADS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {_MAX_LEADS:,}, not {value}")
    return value


def _int(text: str) -> int:
    """A whole number in ASCII digits (``int`` would also take ``1_000`` and other scripts' digits)."""
    if re.fullmatch(r"[+-]?[0-9]{1,30}", text, re.ASCII) is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


# --------------------------------------------------------------------------------------------------
# Commands.


def _load(path: Path) -> AlignmentPlan:
    """Load a plan; a ``PlanError`` reaches :func:`main`, which prints each problem on its own line."""
    try:
        return load_plan(path)
    except OSError as error:
        raise _CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def _plan_zone(plan: AlignmentPlan) -> str:
    """The plan's time zone: its SLA calendar's, else UTC. A plain ``--as-of`` date is read in it."""
    return plan.sla.calendar.timezone if plan.sla is not None else "UTC"


def _validate(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    _emit(f"OK: {plan.name}")
    return 0


def _check(args: argparse.Namespace) -> int:
    plan = _load(args.plan)
    try:
        report = check(plan, select=args.select, ignore=args.ignore)
    except RuleError as error:
        raise _CommandError(str(error)) from None
    if args.format in ("json", "sarif"):
        _emit_json(report.to_dict() if args.format == "json" else report.to_sarif())
    else:
        plain = report.to_text()
        below = ""
        if report.score < args.min_score:
            below = f"\nscore {report.score} is below the minimum of {args.min_score}"
        if _colour(sys.stdout) and _escape(plain) == plain:
            # Colour only when nothing in the report needs escaping: then every escape sequence is ours.
            sys.stdout.write(report.to_text(color=True) + below + "\n")
        else:
            _emit(plain + below)
    return 0 if report.ok and report.score >= args.min_score else 1


def _colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _schema(args: argparse.Namespace) -> int:
    text = json.dumps(plan_json_schema(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        _emit(text, end="", json_text=True)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _CommandError(f"cannot write {args.output}: {error.strerror or error}", code=1) from None
    return 0


def _add_source(parser: argparse.ArgumentParser, *, data_help: str) -> None:
    """The data options every analysis command shares: ``--data DIR`` or ``--seed N``, and ``--leads N``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=_path, metavar="DIR", help=data_help)
    source.add_argument(
        "--seed", type=_seed, metavar="N", help="use synthetic data with this seed (default: 42)"
    )
    parser.add_argument(
        "--leads",
        type=_leads,
        default=5000,
        metavar="N",
        help=f"synthetic leads, at most {_MAX_LEADS:,} (default: 5000)",
    )


def _synthetic(plan: AlignmentPlan, args: argparse.Namespace) -> Dataset:
    """The synthetic data of ``--seed`` (default 42) and ``--leads``."""
    return synthetic(plan, seed=42 if args.seed is None else args.seed, n_leads=args.leads)


def _funnel(args: argparse.Namespace) -> int:
    events: object = None
    leads: object = None
    if args.data is not None:  # the cheap file checks first
        need_leads = args.by not in (None, "cohort_month")
        frames = _read_frames(
            args,
            kinds=("stage_events", "leads") if need_leads else ("stage_events",),
            need={"stage_events": "", "leads": " (--by needs the leads)"},
            single="stage_events",
        )
        events, leads = frames["stage_events"], frames.get("leads")
    plan = _load(args.plan)
    if events is None:
        events = _synthetic(plan, args)
    try:
        report = funnel(
            plan.journey,
            events,
            leads=leads,
            by=args.by,
            as_of=None if args.as_of is None else args.as_of.at(_plan_zone(plan)),
            mode=args.mode,
            calendar=_funnel_calendar(plan, time_only=args.calendar_time_only),
        )
    except ValueError as error:
        if isinstance(error, SmarketingError):
            raise
        raise _CommandError(_first_line(error)) from None
    if args.format == "json":
        _emit_json(report.to_dict())
    elif args.format == "csv":
        durations = ["time_median", "time_p90", "business_median", "business_p90"]
        frame = report.to_frame().with_columns(pl.col(durations).dt.total_microseconds().name.suffix("_us"))
        _emit(frame.drop(durations).write_csv(), end="")
    else:
        _emit(repr(report))
        for group in report.groups():
            title = "" if report.by is None else f"\n{report.by} = {group if group is not None else '(none)'}"
            _emit(f"{title}\n{report.chart(group=group)}")
    return 0


def _funnel_calendar(plan: AlignmentPlan, *, time_only: bool = False) -> BusinessCalendar | None:
    """The calendar of the business time in stage: the SLA's, as for ``smarketing sla``."""
    if time_only or plan.sla is None:
        return None
    return plan.sla.calendar


def _demo(args: argparse.Namespace) -> int:
    path = args.plan if args.plan is not None else _example_plan()
    plan = _load(path)
    data = synthetic(plan, seed=args.seed, n_leads=args.leads)
    _emit(f"smarketing demo: {path}, seed {args.seed}, {args.leads:,} synthetic leads")
    for section in _DEMO_SECTIONS:
        _emit("\n" + section(plan, data))
    return 0


def _kpis(args: argparse.Namespace) -> int:
    read = _read_data(args) if args.data is not None else None  # the cheap file checks first
    plan = _load(args.plan)
    data = read if read is not None else _synthetic(plan, args)
    rates = args.fx or ([] if read is not None else [_DEMO_RATE])
    try:
        card, left_out = _scorecard(
            plan, data, period=args.period, by=args.by, as_of=args.as_of, fx=_fx(rates)
        )
    except ValueError as error:
        if isinstance(error, SmarketingError):
            raise
        raise _CommandError(_first_line(error)) from None
    for note in left_out:
        _fail("kpis", note)
    if args.format == "json":
        _emit_json(card.to_dict())
    elif args.format == "csv":
        _emit(card.to_frame().drop("owners", "history").write_csv(), end="")
    else:
        _emit(repr(card))
    return 0


#: The exchange rate of synthetic data (``--fx USD/EUR=0.92``), unless ``--fx`` gives others.
_DEMO_RATE = ("USD", "EUR", Decimal("0.92"))

#: The instant the synthetic data ends (the day after ``DEFAULT_END``, UTC): the demo's "now".
_SYNTHETIC_AS_OF = datetime.combine(DEFAULT_END + timedelta(days=1), datetime.min.time(), UTC)


def _sla(args: argparse.Namespace) -> int:
    read = _read_data(args) if args.data is not None else None  # the cheap file checks first
    plan = _load(args.plan)
    given = None if args.as_of is None else args.as_of.at(_plan_zone(plan))
    if read is not None:
        data = read
        as_of = given or _latest_fact(data)
    else:
        data = _synthetic(plan, args)
        as_of = given or _SYNTHETIC_AS_OF
    try:
        report = evaluate_sla(plan, data, as_of=as_of)
    except ValueError as error:
        if isinstance(error, SmarketingError):
            raise
        raise _CommandError(_first_line(error)) from None
    if args.format == "json":
        _emit_json(report.to_dict())
    elif args.format == "csv":
        _emit(report.to_frame().write_csv(), end="")
    else:
        _emit(_sla_text(report))
    return 0


def _latest_fact(data: Dataset) -> datetime:
    """The latest time in the SLA's records: the natural "now" of a CRM export."""
    moments = []
    for kind in ("stage_events", "activities", "dispositions"):
        frame: pl.DataFrame = getattr(data, kind)
        dtype = frame.schema.get("time")
        if not frame.height or dtype is None:
            continue
        if not isinstance(dtype, pl.Datetime):
            raise DataError(f"must be a datetime column, not {dtype}", kind=kind, field="time")
        if dtype.time_zone is None:
            raise DataError(
                "naive datetimes are ambiguous; store the times in UTC, or give --as-of",
                kind=kind,
                field="time",
            )
        latest = frame["time"].max()
        if isinstance(latest, datetime):
            moments.append(latest)
    if not moments:
        raise _CommandError("no stage events, activities or dispositions with a time; give --as-of")
    return max(moments)


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
    read = _read_data(args) if args.data is not None else None  # the cheap file checks first
    plan = _load(args.plan)
    data = read if read is not None else _synthetic(plan, args)
    rates = args.fx or ([] if read is not None else [_DEMO_RATE])
    as_of = None if args.as_of is None else args.as_of.date_in(_plan_zone(plan))
    try:
        ledger = _ledger(plan, data, period=args.period, as_of=as_of, fx=_fx(rates))
        statements = [ledger.statement(args.participant)] if args.participant else ledger.statements()
    except (ValueError, KeyError) as error:
        if isinstance(error, SmarketingError):
            raise
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else _first_line(error)
        raise _CommandError(message) from None
    if args.format == "json":
        _emit_json(statements[0].to_dict() if args.participant else ledger.to_dict())
    elif args.format == "csv":
        frames = [s.to_frame() for s in statements]
        _emit(pl.concat(frames).with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv(), end="")
    elif args.format == "html":
        _emit("\n".join(s.to_html() for s in statements))
    else:
        parts = [] if args.participant else [repr(ledger), _team_totals(ledger)]
        _emit("\n\n".join([*parts, *(s.to_text() for s in statements)]))
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


def _fx(rates: Sequence[tuple[str, str, Decimal]]) -> FxTable | None:
    """The ``--fx`` rates (each checked by :func:`_fx_rate`) as one table, in force from 1970 on."""
    if not rates:
        return None
    try:
        return FxTable((base, quote, date(1970, 1, 1), rate) for base, quote, rate in rates)
    except (TypeError, ValueError) as error:  # the same pair twice with different rates
        raise _CommandError(f"--fx: {error}") from None


# --------------------------------------------------------------------------------------------------
# --data: one reader for every command. Each <kind>.parquet is checked as a file before polars reads it,
# so that a folder, a device or a FIFO never reaches a reader that would fail obscurely or block.

_PARQUET_MAGIC = b"PAR1"


def _read_data(args: argparse.Namespace) -> Dataset:
    """Every ``<kind>.parquet`` file in the ``--data`` folder, as a dataset."""
    return Dataset(**_read_frames(args, kinds=tuple(RECORD_KINDS)))


def _read_frames(
    args: argparse.Namespace,
    *,
    kinds: Sequence[str],
    need: Mapping[str, str] | None = None,
    single: str | None = None,
) -> dict[str, pl.DataFrame]:
    """The ``kinds`` read from ``--data``: a folder of ``<kind>.parquet`` files, or (for ``single``) one file.

    ``need`` maps the kinds that must be there to a hint for when one is missing. The paths read are
    kept on ``args.sources``, so that a data error found later names the file it came from.
    """
    path: Path = args.data
    info = _stat(path)
    if info is None:
        raise _CommandError(f"{path}: no such {'folder' if single is None else 'parquet file or folder'}")
    if stat.S_ISDIR(info.st_mode):
        paths = {kind: path / f"{kind}.parquet" for kind in kinds}
    elif single is not None and stat.S_ISREG(info.st_mode):
        paths = {kind: path if kind == single else path.with_name(f"{kind}.parquet") for kind in kinds}
    else:
        what = "a file" if stat.S_ISREG(info.st_mode) else _file_type(info)
        raise _CommandError(f"--data {path}: is {what}, not a folder of <kind>.parquet files")
    frames: dict[str, pl.DataFrame] = {}
    sources: dict[str, Path] = {}
    for kind, file in paths.items():
        frame = _read_parquet(file)
        if frame is None:
            if need is not None and kind in need:
                raise _CommandError(f"{file}: no such parquet file{need[kind]}")
            continue
        frames[kind], sources[kind] = frame, file
    if not frames:
        raise _CommandError(f"{path}: no <kind>.parquet files ({', '.join(kinds)})")
    args.sources = sources
    return frames


def _stat(path: Path) -> os.stat_result | None:
    """The file's status (following links); ``None`` when it does not exist."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _CommandError(f"{path}: is a link to {os.readlink(path)}, which does not exist") from None
        return None
    except OSError as error:
        raise _CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def _file_type(info: os.stat_result) -> str:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_parquet(path: Path) -> pl.DataFrame | None:
    """One parquet file, checked before polars reads it; ``None`` when there is no such file."""
    info = _stat(path)
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: is {_file_type(info)}, not a parquet file")
    if info.st_size == 0:
        raise DataError(f"{path}: is empty, not a parquet file")
    try:
        # O_NONBLOCK: were the file swapped for a FIFO after the check, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            head = file.read(4)
            file.seek(max(info.st_size - 4, 0))
            tail = file.read(4)
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    if head != _PARQUET_MAGIC:
        raise DataError(f"{path}: is not a parquet file ({_looks_like(head)}); export the data as parquet")
    if info.st_size < 12 or tail != _PARQUET_MAGIC:
        raise DataError(f"{path}: is not a complete parquet file (its PAR1 footer is missing; cut short?)")
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataError(f"{path}: cannot read this parquet file: {_first_line(error)}") from None


def _looks_like(head: bytes) -> str:
    """What the first bytes of a file that is not parquet suggest it is."""
    if head.startswith(b"PK"):
        return "it is a ZIP archive, such as an Excel workbook"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zX", b"\x28\xb5\x2f\xfd")):
        return "it is compressed"
    if head.startswith((b"{", b"[")):
        return "it looks like JSON"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start with PAR1"
    return "it looks like text, such as CSV" if text.isprintable() else "it does not start with PAR1"


def _scorecard(
    plan: AlignmentPlan,
    data: Dataset,
    *,
    period: str,
    by: str | None,
    as_of: _AsOf | None,
    fx: FxTable | None,
) -> tuple[Scorecard, list[str]]:
    """The plan's scorecard, and a note on each KPI left out because its formula cannot be computed."""
    window = Window.parse(period)
    when = window.end_at("UTC") if as_of is None else as_of.at(_plan_zone(plan))
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
    heading = _heading("Joint scorecard, October 2026 (* joint; USD at a fixed 0.92 EUR)")
    try:
        card, left_out = _scorecard(plan, data, period="2026-10", by=None, as_of=None, fx=_fx([_DEMO_RATE]))
    except (DataError, CurrencyMismatchError) as error:  # e.g. a plan currency the demo has no rate for
        return heading + f"\ncannot compute: {error}"
    notes = "".join(f"\n{note}" for note in left_out)
    return heading + "\n" + repr(card) + notes


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
