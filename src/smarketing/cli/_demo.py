"""``smarketing demo``: the plan and synthetic data for it, summarised section by section.

Each section takes the plan and the data and returns its text; append new ones to :data:`DEMO_SECTIONS`.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

from smarketing.cli._campaigns import campaigns_section
from smarketing.cli._common import (
    DEMO_RATE,
    SYNTHETIC_AS_OF,
    CommandError,
    fx_table,
    load_plan_file,
    synthetic_data,
)
from smarketing.cli._customer_feedback import customer_feedback_section
from smarketing.cli._demo_data import (
    attribution_section,
    conformance_section,
    data_section,
    deals_section,
    dispositions_section,
    journey_funnel_section,
    scorecard_section,
    sla_results_section,
    statements_section,
)
from smarketing.cli._demo_plan import (
    cadence_section,
    journey_section,
    kpis_section,
    personas_section,
    plan_section,
    rewards_section,
    sla_section,
    teams_section,
)
from smarketing.cli._demo_story import with_trade_fair
from smarketing.cli._feedback import feedback_section
from smarketing.cli._persona import persona_results_section
from smarketing.cli._report import build_report, write_report
from smarketing.cli._text import emit, underline
from smarketing.cli._waterfall import waterfall_section
from smarketing.glossary import lint_text
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset
from smarketing.report import report
from smarketing.rules import CheckReport, DataRule, PlanRule, builtin_rules, check, data_rules

DemoSection = Callable[[AlignmentPlan, Dataset], str]
"""A part of the demo output: text made from the plan and the data (no trailing newline)."""

EXAMPLE_PLAN = Path("examples") / "plan.yaml"
MISALIGNED_PLAN = Path("examples") / "misaligned.yaml"


#: Where the demo writes its report unless ``--report`` says: the build folder of the working directory.
DEMO_REPORT = Path("build") / "smarketing-report.html"


def demo_command(args: argparse.Namespace) -> int:
    path = args.plan if args.plan is not None else example_plan()
    plan = load_plan_file(path)
    data, fair = with_trade_fair(plan, synthetic_data(plan, args), seed=args.seed)
    emit(f"smarketing demo: {path}, seed {args.seed}, {args.leads:,} synthetic leads")
    if fair is not None:
        emit(fit(fair.summary()))
    for section in DEMO_SECTIONS:
        emit("\n" + fit(section(plan, data)))
    if args.no_report:
        return 0
    emit("\n" + _write_report(plan, data, args.report or DEMO_REPORT))
    return 0


def _write_report(plan: AlignmentPlan, data: Dataset, path: Path) -> str:
    """Write the alignment report of the plan and the data (charts when matplotlib is there); say where.

    One line, never wrapped (a path cut in two cannot be copied); the default path keeps it short.
    """
    charts = importlib.util.find_spec("matplotlib") is not None
    result = build_report(
        lambda: report(
            plan, data, as_of=SYNTHETIC_AS_OF, fx=fx_table([DEMO_RATE]), charts=charts, rules=DEMO_RULES
        )
    )
    if path == DEMO_REPORT:  # the default folder may not be there yet in a fresh checkout
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"{path.parent}: cannot create: {error.strerror or error}", code=1) from None
    where = write_report(result, path)
    failed = ", ".join(s.id for s in result.failed)
    notes = ([] if charts else ["no charts without the 'plot' extra"]) + (
        [f"failed: {failed}"] if failed else []
    )
    return f"The alignment report is in {where}" + (f" ({'; '.join(notes)})" if notes else "")


#: The demo's lines fit a terminal of this many columns.
WIDTH = 100
_FIELD = re.compile(r"\S+(?: \S+)*")


def fit(text: str, width: int = WIDTH) -> str:
    """``text`` with each line longer than ``width`` wrapped at spaces under its last field that starts early.

    A table row whose last column is long prose (a statement's explanation) goes on under that column; a
    line of prose (a diagnostic, its fix) goes on indented four spaces past its own indent.
    """
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        starts = [m.start() for m in _FIELD.finditer(line) if m.start() <= width // 2]
        lead = len(line) - len(line.lstrip())
        at, indent = (starts[-1], starts[-1]) if len(starts) > 1 else (lead, lead + 4)
        wrapper = textwrap.TextWrapper(
            width,
            initial_indent=line[:at],
            subsequent_indent=" " * indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out.extend(wrapper.wrap(line[at:]))
    return "\n".join(out)


def example_plan(example: Path | None = None) -> Path:
    """``examples/plan.yaml`` (or ``example``) in the working directory, else in this package's repository."""
    example = EXAMPLE_PLAN if example is None else example
    candidates = [example, Path(__file__).resolve().parents[3] / example]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise CommandError(
        f"cannot find the example plan (looked for {looked}); "
        "run from a smarketing checkout or pass --plan PATH"
    )


def _check_report_text(report: CheckReport) -> str:
    verdict = "passes" if report.ok else "fails"
    return f"{report.to_text()}\nthe check {verdict}"


#: A short campaign e-mail the demo checks against the plan's glossary (``smarketing lint-text`` does the
#: same for files).
DEMO_COPY = """\
Hi {first_name},

Our new forecasting module shows your reps which hot leads to call first,
and every client gets the weekly report. Reply to book a demo.
"""


def _language_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = underline("Common language in copy (smarketing lint-text)")
    result = lint_text(plan.glossary, DEMO_COPY, kind="text", path="campaign-email.txt")
    if not result.findings:
        return heading + "\nno discouraged or forbidden words in the sample e-mail"
    return f"{heading}\n{result.to_text()}\n{len(result.findings)} finding(s) in the sample e-mail"


#: The demo runs the built-in rules only: installed plugins (the test suite's example rules among them, in
#: a development checkout) are the user's to run with ``smarketing check``.
DEMO_RULES: tuple[PlanRule | DataRule, ...] = (*builtin_rules(), *data_rules())


def _check_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = underline("Alignment check of the plan and the data (smarketing check --data, built-in rules)")
    report = check(plan, data=data, fx=fx_table([DEMO_RATE]), rules=DEMO_RULES)
    return heading + "\n" + _check_report_text(report)


def _misaligned_check_section(plan: AlignmentPlan, data: Dataset) -> str:
    heading = underline(f"For contrast: smarketing check {MISALIGNED_PLAN.as_posix()}")
    try:
        path = example_plan(MISALIGNED_PLAN)
    except CommandError as missing:
        return heading + f"\n{missing}"
    return heading + "\n" + _check_report_text(check(load_plan(path), rules=DEMO_RULES))


DEMO_SECTIONS: list[DemoSection] = [
    plan_section,
    teams_section,
    personas_section,
    journey_section,
    sla_section,
    kpis_section,
    rewards_section,
    cadence_section,
    data_section,
    journey_funnel_section,
    conformance_section,
    scorecard_section,
    deals_section,
    statements_section,
    dispositions_section,
    sla_results_section,
    persona_results_section,
    feedback_section,
    customer_feedback_section,
    attribution_section,
    campaigns_section,
    waterfall_section,
    _language_section,
    _check_section,
    _misaligned_check_section,
]
