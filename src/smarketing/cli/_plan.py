"""The plan commands: ``validate``, ``check`` and ``schema``."""

from __future__ import annotations

import argparse
import json
import sys

from smarketing.cli._common import CommandError, fx_table, library_errors, load_plan_file
from smarketing.cli._data import read_data
from smarketing.cli._sources import check_source_options, source_data
from smarketing.cli._text import emit, emit_json, escape, wants_colour
from smarketing.errors import RuleError
from smarketing.plan import plan_json_schema
from smarketing.rules import check


def validate_command(args: argparse.Namespace) -> int:
    plan = load_plan_file(args.plan)
    emit(f"OK: {plan.name}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    """``smarketing check``: the plan's rules, and with ``--data``/``--source`` the data rules; the exit code.

    The data is read before the plan is loaded (the cheap checks first); the files it was read from locate
    the data findings.
    """
    check_source_options(args)
    data = None
    if args.data is not None:
        data = read_data(args)
    elif args.source is not None:
        data = source_data(args)
    plan = load_plan_file(args.plan)
    files = getattr(args, "sources", None) if data is not None else None
    try:
        with library_errors():
            report = check(
                plan,
                data=data,
                fx=fx_table(args.fx),
                data_files=files,
                select=args.select,
                ignore=args.ignore,
            )
    except RuleError as error:
        raise CommandError(str(error)) from None
    if args.format in ("json", "sarif"):
        emit_json(report.to_dict() if args.format == "json" else report.to_sarif())
    else:
        plain = report.to_text()
        below = ""
        if report.score < args.min_score:
            below = f"\nscore {report.score} is below the minimum of {args.min_score}"
        if wants_colour(sys.stdout) and escape(plain) == plain:
            # Colour only when nothing in the report needs escaping: then every escape sequence is ours.
            sys.stdout.write(report.to_text(color=True) + below + "\n")
        else:
            emit(plain + below)
    return 0 if report.ok and report.score >= args.min_score else 1


def schema_command(args: argparse.Namespace) -> int:
    text = json.dumps(plan_json_schema(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        emit(text, end="", json_text=True)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {error.strerror or error}", code=1) from None
    return 0
