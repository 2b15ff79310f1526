"""``smarketing funnel``: the journey funnel of CRM or synthetic data."""

from __future__ import annotations

import argparse

import polars as pl

from smarketing.calendar import BusinessCalendar
from smarketing.cli._common import library_errors, load_plan_file, plan_zone, synthetic_data
from smarketing.cli._data import read_frames
from smarketing.cli._sources import check_source_options, source_data
from smarketing.cli._text import emit, emit_json
from smarketing.journey import funnel
from smarketing.plan import AlignmentPlan


def funnel_command(args: argparse.Namespace) -> int:
    """``smarketing funnel``: read or generate the stage events, measure the funnel, print it as asked."""
    check_source_options(args)
    events: object = None
    leads: object = None
    if args.data is not None:  # the cheap file checks first
        need_leads = args.by not in (None, "cohort_month")
        frames = read_frames(
            args,
            kinds=("stage_events", "leads") if need_leads else ("stage_events",),
            need={"stage_events": "", "leads": " (--by needs the leads)"},
            single="stage_events",
        )
        events, leads = frames["stage_events"], frames.get("leads")
    elif args.source is not None:
        data = source_data(args)
        events, leads = data.stage_events, data.leads
    plan = load_plan_file(args.plan)
    if events is None:
        events = synthetic_data(plan, args)
    with library_errors():
        report = funnel(
            plan.journey,
            events,
            leads=leads,
            by=args.by,
            as_of=None if args.as_of is None else args.as_of.at(plan_zone(plan)),
            mode=args.mode,
            calendar=funnel_calendar(plan, time_only=args.calendar_time_only),
        )
    if args.format == "json":
        emit_json(report.to_dict())
    elif args.format == "csv":
        durations = ["time_median", "time_p90", "business_median", "business_p90"]
        frame = report.to_frame().with_columns(pl.col(durations).dt.total_microseconds().name.suffix("_us"))
        emit(frame.drop(durations).write_csv(), end="")
    else:
        emit(repr(report))
        for group in report.groups():
            title = "" if report.by is None else f"\n{report.by} = {group if group is not None else '(none)'}"
            emit(f"{title}\n{report.chart(group=group)}")
    return 0


def funnel_calendar(plan: AlignmentPlan, *, time_only: bool = False) -> BusinessCalendar | None:
    """The calendar of the business time in stage: the SLA's, as for ``smarketing sla``."""
    if time_only or plan.sla is None:
        return None
    return plan.sla.calendar
