"""The ``lint-text`` command: the plan's glossary over campaign copy, sales scripts and pages."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

from smarketing._limits import MAX_TEXT_BYTES
from smarketing.cli._common import CommandError, load_plan_file
from smarketing.cli._text import emit, emit_json
from smarketing.glossary import TextLint, lint_text
from smarketing.glossary.lint import sarif_log
from smarketing.records._parquet import file_type, status

#: The version of the JSON output's layout; it changes only when a key is renamed or removed.
FORMAT_VERSION = 1


def read_text_file(path: Path) -> str:
    """The text of a file, refused with one line naming it when it is not UTF-8 text of a bounded size.

    Folders, devices, FIFOs (never opened, so the command cannot block), files over
    :data:`~smarketing._limits.MAX_TEXT_BYTES`, files with NUL bytes (binary, or UTF-16) and bytes that
    are not UTF-8 are refused. A UTF-8 byte order mark is dropped, so columns count from the first
    character.
    """
    info = status(path)
    if info is None:
        raise CommandError(f"{path}: no such file")
    if not stat.S_ISREG(info.st_mode):
        raise CommandError(f"{path}: is {file_type(info)}, not a text file")
    if info.st_size > MAX_TEXT_BYTES:
        raise CommandError(f"{path}: has {info.st_size:,} bytes; lint-text reads at most {MAX_TEXT_BYTES:,}")
    try:
        # O_NONBLOCK: were the file swapped for a FIFO after the check, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            data = file.read(MAX_TEXT_BYTES + 1)
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_TEXT_BYTES:  # it grew after the check
        raise CommandError(f"{path}: has more than {MAX_TEXT_BYTES:,} bytes; lint-text reads at most that")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise CommandError(f"{path}: is UTF-16 text; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CommandError(f"{path}: is not a text file (a NUL byte at byte {nul:,})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start : error.start + 1].hex()
        raise CommandError(f"{path}: is not UTF-8 text (byte 0x{bad} at byte {error.start:,})") from None


def lint_text_command(args: argparse.Namespace) -> int:
    """``smarketing lint-text``: every file's findings; exit 1 when there is one, 2 on bad input."""
    plan = load_plan_file(args.plan)
    allow = [word.strip() for words in args.allow for word in words.split(",") if word.strip()]
    lints: list[TextLint] = []
    for path in args.files:
        text = read_text_file(path)
        lints.append(lint_text(plan.glossary, text, kind=args.kind, allow=allow, path=str(path)))
    if args.format == "json":
        emit_json({"format_version": FORMAT_VERSION, "files": [lint.to_dict() for lint in lints]})
    elif args.format == "sarif":
        emit_json(sarif_log(lints))
    else:
        emit(_text(lints))
    return 1 if any(lint.findings for lint in lints) else 0


def _text(lints: list[TextLint]) -> str:
    """One line per finding (``file:line:column: reason: message``) and a summary line."""
    lines = [lint.to_text() for lint in lints if lint.findings]
    found = sum(len(lint.findings) for lint in lints)
    forbidden = sum(f.reason == "forbidden" for lint in lints for f in lint.findings)
    files = f"{len(lints)} file{'' if len(lints) == 1 else 's'}"
    if not found:
        return f"OK: no discouraged or forbidden words in {files}"
    with_findings = sum(1 for lint in lints if lint.findings)
    summary = (
        f"{found} finding{'' if found == 1 else 's'} ({forbidden} forbidden) in {with_findings} of {files}"
    )
    return "\n".join([*lines, summary])
