"""``smarketing digest``: what both teams should see this period, printed, written or delivered.

Delivery is all or nothing per channel, and every channel asked for is tried: the configuration of all of
them is read first (a missing variable fails before anything is sent), then the file, the e-mail and the
Slack message go out one by one, and the command says which were delivered and which were not.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smarketing.cli._common import DEMO_RATE, CommandError, fx_table, library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AS_OF_HELP, add_fx_option, parse_as_of, parse_path, parse_period
from smarketing.cli._text import emit, fail
from smarketing.digest import (
    EMAIL_VARIABLES,
    SLACK_VARIABLE,
    Digest,
    SlackWebhook,
    SmtpSettings,
    digest,
    post_to_slack,
    send_email,
)
from smarketing.errors import DeliveryError

#: ``--format`` when it is not given: by the ``--to-file`` suffix, else text.
_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".json": "json"}


def add_digest(commands: Any, add_source: Callable[..., None]) -> None:
    """Add ``digest`` to the ``smarketing`` commands (``add_source``: the parser's data options)."""
    parser = commands.add_parser(
        "digest",
        help="what both teams should see this period, as text, HTML, e-mail or a Slack message",
        description="KPI alerts, SLA breaches on both sides, conformance breaks by team, wins with the "
        "marketing touches credited for them and rejected leads by reason, for one period. Printed, "
        "written with --to-file, sent with --email (SMTP with STARTTLS; "
        + ", ".join(EMAIL_VARIABLES.values())
        + f") and posted with --slack ({SLACK_VARIABLE}). Exit 0 when everything asked for was delivered, "
        "1 when a delivery failed (the others are still tried, and each is reported), 2 for usage errors, "
        "invalid plans or data and missing settings (then nothing is sent).",
    )
    parser.add_argument("plan", type=parse_path, metavar="PLAN", help="plan file (.yaml, .yml or .json)")
    parser.add_argument(
        "--period",
        required=True,
        type=parse_period,
        metavar="PERIOD",
        help="the period, in the plan's time zone: 2026-W43, 2026-10, 2026-Q4, ...",
    )
    add_source(parser, data_help="folder of <kind>.parquet files (leads, stage_events, deals, ...)")
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        metavar="TIME",
        help=f"describe the data as at this time ({AS_OF_HELP}; default: the end of the period)",
    )
    add_fx_option(parser)
    parser.add_argument(
        "--format",
        choices=["text", "html", "json", "slack"],
        help="what is printed or written: text, html, json (everything) or slack (the Block Kit message); "
        "default: by the --to-file suffix (.html, .json), else text",
    )
    parser.add_argument("--to-file", type=parse_path, metavar="PATH", help="write the digest to PATH")
    parser.add_argument("--email", action="store_true", help="send it by e-mail (settings from environment)")
    parser.add_argument(
        "--slack", action="store_true", help=f"post it to Slack (the URL in {SLACK_VARIABLE})"
    )
    parser.add_argument(
        "--subject", type=_subject, metavar="TEXT", help="the e-mail subject (default: the digest's title)"
    )
    parser.set_defaults(command=digest_command, name="digest")


def _subject(text: str) -> str:
    """``--subject``: one line of printable text (a line break would add e-mail headers)."""
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r}: the subject must be one line of printable text")
    return text


def digest_command(args: argparse.Namespace) -> int:
    """Read every channel's settings, compute the digest, then print it or deliver it to each channel asked.

    Exit 0 when all was delivered, 1 when a channel failed (each is reported), 2 when a setting is missing.
    """
    # The settings first: a missing variable fails before the data is read or anything is sent.
    smtp = _settings(SmtpSettings.from_env) if args.email else None
    slack = _settings(SlackWebhook.from_env) if args.slack else None
    plan, data, from_files = plan_and_data(args)
    rates = args.fx or ([] if from_files else [DEMO_RATE])
    as_of = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    with library_errors():
        result = digest(plan, data, period=args.period, as_of=as_of, fx=fx_table(rates))
    shape = args.format or _SUFFIX_FORMATS.get((args.to_file or Path()).suffix.lower(), "text")
    if args.to_file is None and smtp is None and slack is None:
        emit(_render(result, shape), end="")
        return 0
    delivered: list[str] = []
    failed: list[str] = []
    if args.to_file is not None:
        try:
            args.to_file.write_text(_render(result, shape), encoding="utf-8")
            delivered.append(f"file {args.to_file}")
        except OSError as error:
            failed.append(f"file {args.to_file}: cannot write: {error.strerror or error}")
    if smtp is not None:
        _deliver(
            lambda: send_email(result, smtp, subject=args.subject),
            delivered,
            failed,
            f"e-mail to {len(smtp.to)} recipient(s) through {smtp.where}",
        )
    if slack is not None:
        _deliver(lambda: post_to_slack(result, slack), delivered, failed, f"Slack ({slack.host})")
    if delivered:
        emit("delivered: " + "; ".join(delivered))
    for problem in failed:
        fail("digest", f"not delivered: {problem}")
    return 1 if failed else 0


def _settings(read: Callable[[dict[str, str]], Any]) -> Any:
    try:
        return read(dict(os.environ))
    except DeliveryError as error:
        raise CommandError(str(error)) from None


def _deliver(send: Callable[[], None], delivered: list[str], failed: list[str], what: str) -> None:
    try:
        send()
    except DeliveryError as error:
        failed.append(str(error))
    else:
        delivered.append(what)


def _render(result: Digest, shape: str) -> str:
    if shape == "html":
        return result.html
    if shape == "json":
        return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if shape == "slack":
        return json.dumps(result.to_slack(), indent=2, ensure_ascii=False) + "\n"
    return result.text
