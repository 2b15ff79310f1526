"""``smarketing score``: every lead's fit, engagement, grade and MQL flag, with agreement and calibration.

Also the demo's section on personas at work.
"""

from __future__ import annotations

import argparse
import stat
import textwrap
from datetime import datetime
from pathlib import Path

import polars as pl

from smarketing.cli._common import SYNTHETIC_AS_OF, CommandError, library_errors, plan_zone
from smarketing.cli._data import plan_and_data
from smarketing.cli._text import (
    WIDTH,
    count_text,
    emit,
    emit_json,
    first_line,
    share_text,
    text_table,
    underline,
)
from smarketing.errors import SmarketingError
from smarketing.persona import Agreement, Calibration, LeadScores, agreement, calibrate, score
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.records._parquet import file_type, status

#: The record kinds and time columns whose latest value is the "now" of CRM data without --as-of.
_FACT_TIMES = (
    ("touchpoints", "time"),
    ("activities", "time"),
    ("stage_events", "time"),
    ("leads", "created_at"),
)


def score_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    given = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    as_of = given or (_latest_fact(data) if from_files else SYNTHETIC_AS_OF)
    with library_errors():
        scores = score(plan, data, as_of=as_of)
        agreed = agreement(plan, data, audit=None if args.audit is None else audit_ids(args.audit))
        calibration = calibrate(plan, data, as_of=as_of, scores=scores)
        try:
            explained = [scores.explain(lead) for lead in args.explain or ()]
        except KeyError as unknown:
            raise CommandError(f"--explain: {unknown.args[0]}") from None
    if args.format == "json":
        emit_json(
            {
                "scores": scores.to_dict(),
                "agreement": agreed.to_dict(),
                "calibration": calibration.to_dict(),
                "explained": [e.to_dict() for e in explained],
            }
        )
    elif args.format == "csv":
        emit(scores.to_frame().write_csv(), end="")
    else:
        emit(score_text(scores, agreed, calibration))
        for explanation in explained:
            emit("\n" + repr(explanation))
    return 0


#: The largest audit file read (a million ids of up to 128 characters fit well inside it).
MAX_AUDIT_BYTES = 64 * 1024 * 1024


def audit_ids(path: Path) -> list[str]:
    """The lead ids in an audit file: one per line, blank lines and ``#`` comments skipped, spaces trimmed.

    Raises:
        CommandError: naming the file, when it is not a regular file, too large, or not UTF-8 text.
    """
    info = status(path)
    if info is None or not stat.S_ISREG(info.st_mode):
        what = "no such file" if info is None else f"is {file_type(info)}, not a file"
        raise CommandError(f"--audit {path}: {what}")
    if info.st_size > MAX_AUDIT_BYTES:
        raise CommandError(f"--audit {path}: larger than {MAX_AUDIT_BYTES // 1024 // 1024} MiB")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CommandError(f"--audit {path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise CommandError(f"--audit {path}: {error.strerror}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _latest_fact(data: Dataset) -> datetime:
    """The latest time of a lead or an event the scores read: the natural "now" of a CRM export."""
    moments = [
        latest
        for kind, column in _FACT_TIMES
        if isinstance(latest := getattr(data, kind).get_column(column).max(), datetime)
    ]
    if not moments:
        raise CommandError("no leads, touchpoints, activities or stage events with a time; give --as-of")
    return max(moments)


def score_text(scores: LeadScores, agreed: Agreement, calibration: Calibration) -> str:
    """Scores per persona and grade, how far the teams agree, and how well the scores predict wins."""
    frame = scores.to_frame()
    grades = (
        frame.filter(pl.col("persona").is_not_null())
        .group_by("persona", "grade")
        .agg(pl.len().alias("leads"), pl.col("mql").sum().alias("mql"))
        .sort("persona", "grade", nulls_last=True)
    )
    grade_rows = [
        [r["persona"], r["grade"] or "(none)", count_text(r["leads"]), count_text(r["mql"])]
        for r in grades.to_dicts()
    ]
    persona_rows = [
        [r["persona"] or "(none)", count_text(r["leads"]), count_text(r["mql"]), r["mql_rule"]]
        for r in scores.by_persona.to_dicts()
    ]
    lift_rows = [
        [
            str(r["decile"]),
            count_text(r["leads"]),
            count_text(r["won"]),
            share_text(r["conversion"]),
            f"{r['lift']:.2f}",
        ]
        for r in calibration.lift.to_dicts()
    ]
    out = [
        textwrap.fill(scores.summary, WIDTH),
        *(f"note: {n}" for n in scores.notes),
        "",
        underline("Leads and MQLs per persona"),
        text_table(["persona", "leads", "MQL", "MQL rule"], persona_rows, right={1, 2}),
        "",
        underline("Grades"),
        text_table(["persona", "grade", "leads", "MQL"], grade_rows, right={2, 3}),
        "",
        underline("Marketing's MQL call and sales' acceptance"),
        textwrap.fill(agreed.summary, WIDTH),
        *(textwrap.fill(f"- {n}", WIDTH, subsequent_indent="  ") for n in agreed.notes),
        "",
        underline("Do the scores predict won deals?"),
        textwrap.fill(calibration.summary, WIDTH),
        *(textwrap.fill(f"- {n}", WIDTH, subsequent_indent="  ") for n in calibration.notes),
        text_table(["decile", "leads", "won", "conversion", "lift"], lift_rows, right={0, 1, 2, 3, 4}),
    ]
    return "\n".join(out)


def persona_results_section(plan: AlignmentPlan, data: Dataset) -> str:
    """The demo's section: the synthetic leads scored, the teams' agreement and the scores' calibration."""
    heading = underline("Personas at work (smarketing score)")
    if not plan.personas:
        return heading + "\nno personas to score leads against"
    try:
        scores = score(plan, data, as_of=SYNTHETIC_AS_OF)
        agreed = agreement(plan, data)
        calibration = calibrate(plan, data, as_of=SYNTHETIC_AS_OF, scores=scores)
    except SmarketingError as error:
        return heading + f"\nnot scored: {first_line(error)}"
    return heading + "\n" + score_text(scores, agreed, calibration)
