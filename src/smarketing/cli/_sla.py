"""``smarketing sla``: both sides of the SLA, and its text summary (also a demo section)."""

from __future__ import annotations

import argparse
import textwrap
from datetime import datetime

import polars as pl

from smarketing.cli._common import (
    SYNTHETIC_AS_OF,
    CommandError,
    library_errors,
    plan_zone,
)
from smarketing.cli._data import plan_and_data
from smarketing.cli._text import (
    WIDTH,
    count_text,
    emit_report,
    share_text,
    text_table,
    underline,
)
from smarketing.errors import DataError
from smarketing.records import Dataset
from smarketing.sla import SLAReport, evaluate_sla


def sla_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    given = None if args.as_of is None else args.as_of.at(plan_zone(plan))
    as_of = given or (_latest_fact(data) if from_files else SYNTHETIC_AS_OF)
    with library_errors():
        report = evaluate_sla(plan, data, as_of=as_of)
    emit_report(report, args.format, sla_text)
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
        raise CommandError("no stage events, activities or dispositions with a time; give --as-of")
    return max(moments)


def sla_text(report: SLAReport, *, periods: int = 6) -> str:
    """The summary, marketing's last periods, and compliance by team and by rep."""
    marketing = report.marketing.tail(periods)
    m_rows = [
        [
            str(r["period"]) + ("" if r["complete"] else " (so far)"),
            count_text(r["delivered"]),
            "-" if r["committed"] is None else count_text(r["committed"]),
            # a period that is not over has no shortfall yet (a month just begun is not 450 short)
            "-" if r["shortfall"] is None or not r["complete"] else count_text(r["shortfall"]),
            share_text(r["acceptance_rate"]),
            share_text(r["sql_rate"]),
        ]
        for r in marketing.to_dicts()
    ]
    out = [
        textwrap.fill(report.summary, WIDTH),
        "",
        underline("Marketing: leads delivered per period"),
        text_table(
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
                count_text(r["handed_off"]),
                share_text(r["response_compliance"]),
                share_text(r["attempts_compliance"]),
                share_text(r["disposition_coverage"]),
                count_text(r["unable_to_reach_early"]),
            ]
            for r in frame.to_dicts()
        ]
        header = [key, "handed off", "response", "attempts", "disposition", "early 'unable to reach'"]
        out += ["", underline(title), text_table(header, rows, right={1, 2, 3, 4, 5})]
    return "\n".join(out)
