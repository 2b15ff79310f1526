"""Waterfall data rule (D015): each cohort's step-to-step conversion inside the plan's benchmark band.

The rule reads :func:`smarketing.feedback.waterfall` in the cohort view by month, at the data's end (the
latest time of any record, as the persona data rules), so the same data gives the same findings whatever
day the check runs. A cohort is judged only once ``waterfall.min_age_days`` have passed since its month
ended (younger cohorts have not had the time to convert), and a step only with at least
``waterfall.min_leads`` leads at it (a handful of leads converts at 0% or 100% by chance). The rule reads
leads and stage events only (won value plays no part), and says nothing without bands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from smarketing._display import cell
from smarketing.feedback import waterfall
from smarketing.feedback._waterfall import cohort_end
from smarketing.feedback.model import STEPS
from smarketing.rules._data import DataFinding, DataRule, RuleData, _data_rule
from smarketing.rules._persona_data import _rows, data_end

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES"]


@_data_rule(
    "D015",
    severity="warning",
    title="Each cohort converts inside the plan's waterfall bands",
    rationale="The benchmark bands in the plan's waterfall section are what both teams agreed a healthy "
    "step of the demand waterfall converts at. A cohort far below a band is leads lost between the teams "
    "(unworked MQLs, rejected SALs); far above is a step that lets everything through, or a definition the "
    "CRM does not follow. Either way the number both teams plan on is wrong.",
    fix="Open the waterfall for the cohort (smarketing waterfall PLAN --view cohort) and look at the step "
    "named; fix the hand-off behind it, or revise the band in the plan's waterfall.conversion.",
)
def waterfall_bands(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Each month's cohort, once old enough, converts from step to step inside the plan's bands."""
    bands = plan.waterfall.conversion if plan.waterfall is not None else {}
    end = data_end(plan, data)
    if not bands or end is None or not _rows(plan, data, "leads"):
        return
    frames = {k: v for k, v in data.sources.items() if k in ("leads", "stage_events")}
    result = waterfall(plan, frames, view="cohort", period="month", as_of=end)
    assert plan.waterfall is not None
    cutoff = end.date() - timedelta(days=plan.waterfall.min_age_days)
    min_leads = plan.waterfall.min_leads
    for row in result.flagged():
        if row.conversion_flag is None or cohort_end(row.period) > cutoff or row.volume < min_leads:
            continue
        band = bands[row.step]
        nxt = STEPS[STEPS.index(row.step) + 1]
        if band.low is not None and band.high is not None:
            agreed = f"the plan's band {cell(band.low)} to {cell(band.high)}"
        else:
            agreed = (
                f"the plan's {'floor' if band.low is not None else 'ceiling'} {cell(band.low or band.high)}"
            )
        side = "below" if row.conversion_flag == "low" else "above"
        message = (
            f"cohort {row.period}: {row.step} to {nxt} converted {cell(row.conversion)} of "
            f"{row.volume:,} lead(s), {side} {agreed}"
        )
        hint = f"Band: waterfall.conversion.{row.step} in the plan."
        yield DataFinding(message, "stage_events", "to", (), row.volume, hint=hint)


RULES: Final[tuple[DataRule, ...]] = (waterfall_bands,)
