"""``smarketing kpis``: the joint KPI scorecard of a plan for a period."""

from __future__ import annotations

import argparse
from datetime import UTC

from smarketing._periods import Window
from smarketing.cli._common import (
    DEMO_RATE,
    fx_table,
    library_errors,
    plan_zone,
)
from smarketing.cli._data import plan_and_data
from smarketing.cli._options import AsOf
from smarketing.cli._text import emit, emit_json, fail
from smarketing.errors import FormulaError
from smarketing.kpi import Scorecard, compile_kpi, scorecard
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset


def kpis_command(args: argparse.Namespace) -> int:
    plan, data, from_files = plan_and_data(args)
    rates = args.fx or ([] if from_files else [DEMO_RATE])
    with library_errors():
        card, left_out = kpi_scorecard(
            plan, data, period=args.period, by=args.by, as_of=args.as_of, fx=fx_table(rates)
        )
    for note in left_out:
        fail("kpis", note)
    if args.format == "json":
        emit_json(card.to_dict())
    elif args.format == "csv":
        emit(card.to_frame().drop("owners", "history").write_csv(), end="")
    else:
        emit(repr(card))
    return 0


def kpi_scorecard(
    plan: AlignmentPlan,
    data: Dataset,
    *,
    period: str,
    by: str | None,
    as_of: AsOf | None,
    fx: FxTable | None,
) -> tuple[Scorecard, list[str]]:
    """The plan's scorecard, and a note on each KPI left out because its formula cannot be computed."""
    window = Window.parse(period)
    when = window.end_at("UTC") if as_of is None else as_of.at(plan_zone(plan))
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
