r"""The ``smarketing`` command.

Subcommands:

* ``smarketing demo [--plan PATH] [--seed N] [--leads N] [--report FILE]``: load a plan
  (``examples/plan.yaml`` by default), generate synthetic data for it, print a summary of both, and end by
  writing their alignment report (``build/smarketing-report.html`` unless ``--report`` says) and where.
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
* ``smarketing digest PLAN [--data DIR | --seed N --leads N] --period 2026-W43 [--to-file PATH] [--email]
  [--slack]``: what both teams should see this period (KPI alerts, SLA breaches, conformance by team, wins
  and their marketing touches, rejected leads by reason), printed, written, e-mailed or posted to Slack;
  exit 1 when a delivery failed.
* ``smarketing report PLAN [--data DIR | --seed N --leads N] -o FILE [--as-of T] [--period P] [--no-charts]``:
  the alignment report, one self-contained HTML file (charts inline, no scripts, nothing loaded, a print
  style sheet); exit 1 when it cannot be written or a section failed on the data.

* ``smarketing import SOURCE -o DIR [--option KEY=VALUE] [--lenient]``: read ``SOURCE`` (``NAME:PATH``) once
  through its connector and write the dataset folder ``DIR`` and ``DIR/load-report.json``.
* ``smarketing sources [--format text|json]``: the installed connectors and their options.
* ``smarketing lint-text --plan PLAN FILE... [--format text|json|sarif] [--kind K] [--allow WORDS]``: the
  glossary's discouraged and forbidden words in text, Markdown and HTML files, with line, column and the
  agreed term; exit 1 when one is found.

Every data-taking command also reads ``--source NAME:PATH`` instead of ``--data DIR``: the connector's
options as ``--option KEY=VALUE``; strict by default (a refused row is an error naming the first ones),
``--lenient`` keeps the good rows and writes the load report (``--load-report FILE``).

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
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from smarketing.cli._common import CommandError
from smarketing.cli._parser import build_parser
from smarketing.cli._sources import print_load_error
from smarketing.cli._text import emit, fail
from smarketing.errors import LoadError, PlanError, SmarketingError
from smarketing.records import RECORD_KINDS

__all__ = ["build_parser", "main"]


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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits on usage errors (2) and after --help/--version (0)
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except CommandError as failure:
        if str(failure):
            fail(args.name, str(failure))
        return failure.code
    except PlanError as error:
        for issue in error.issues:
            if error.file is None:
                fail(args.name, issue.format())
            else:  # file:line: path: message, the form editors and CI logs link to
                emit(issue.format(error.file), stream=sys.stderr, one_line=True)
        return 2
    except LoadError as error:  # a strict load: the first refused rows, one per line
        print_load_error(args.name, str(error))
        return 2
    except SmarketingError as error:
        fail(args.name, _located(error, getattr(args, "sources", {})))
        return 2
    except BrokenPipeError:
        # The reader went away (`smarketing schema | head`): silence the interpreter's final flush too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _located(error: SmarketingError, sources: Mapping[str, Path]) -> str:
    """The error's message, preceded by the file its record kind was read from (``--data``)."""
    kind = getattr(error, "kind", None)
    for name, path in sources.items():
        if kind in (name, RECORD_KINDS[name].kind):
            return f"{path}: {error}"
    return str(error)
