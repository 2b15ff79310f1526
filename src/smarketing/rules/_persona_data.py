"""Persona data rules (D008-D011): the personas, the MQL rule and the SLA hold up on the data.

They read the results of :mod:`smarketing.persona` (``match``, ``score``, ``agreement``, ``calibrate``)
computed once per check on the checked frames. Scores are taken at the data's end: the latest time of any
record (lead created, touch, activity, stage event, disposition), so the same data gives the same findings
whatever day the check runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from smarketing.persona import LeadScores, agreement, calibrate, match, score
from smarketing.persona.calibrate import WEEKS_PER_PERIOD
from smarketing.rules._data import DataFinding, DataRule, RuleData, _data_rule, _listing, scans

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES", "data_end"]

#: The record kinds and time columns whose latest value is the data's end.
_TIMES: Final = (
    ("leads", "created_at"),
    ("touchpoints", "time"),
    ("activities", "time"),
    ("stage_events", "time"),
    ("dispositions", "time"),
)


def data_end(plan: AlignmentPlan, data: RuleData) -> datetime | None:
    """The latest time of any record (lead created, touch, activity, stage event, disposition), or ``None``.

    Read from each kind's pass (:func:`~smarketing.rules._data.scans`).
    """
    passes = scans(plan, data)
    times = [passes[kind].end for kind, _ in _TIMES if kind in passes]
    found = [t for t in times if isinstance(t, datetime)]
    return max(found) if found else None


def _rows(plan: AlignmentPlan, data: RuleData, kind: str) -> int:
    """How many records of ``kind`` the data has (from its pass)."""
    return scans(plan, data)[kind].rows


def _cached(data: RuleData, name: str, make: Any) -> Any:
    """``make()`` once per check: the persona rules share one ``match``, ``score`` and ``agreement``."""
    if name not in data.cache:
        data.cache[name] = make()
    return data.cache[name]


def _scores(plan: AlignmentPlan, data: RuleData) -> LeadScores | None:
    end = data_end(plan, data)
    if end is None or not _rows(plan, data, "leads"):
        return None
    scores: LeadScores = _cached(data, "scores", lambda: score(plan, data.sources, as_of=end))
    return scores


@_data_rule(
    "D008",
    severity="warning",
    title="Sales accepts at least the share of MQLs the SLA agreed",
    rationale="Marketing's side of the SLA promises lead quality as a share of handed-off leads that sales "
    "accepts. Below it, marketing's MQL call and sales' idea of a good lead have drifted apart: the "
    "scoring, the personas or the handoff need the joint review the SLA exists for.",
    fix="Run smarketing.persona.agreement by persona and campaign to see where acceptance falls short, "
    "review the rejection reasons with sales, and adjust the persona's MQL rule or the campaigns.",
)
def acceptance(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """The acceptance rate of MQLs reaches ``sla.marketing.quality.min_acceptance_rate``."""
    quality = plan.sla.marketing.quality if plan.sla is not None else None
    if quality is None or not _rows(plan, data, "stage_events"):
        return
    result = _cached(data, "agreement", lambda: agreement(plan, data.sources))
    row = result.overall.row(0, named=True)
    rate, minimum = row["acceptance"], float(quality.min_acceptance_rate)
    if row["mqls"] == 0 or rate is None or math.isnan(rate) or rate >= minimum:
        return
    low, high = row["acceptance_low"], row["acceptance_high"]
    interval = f" ({low:.1%} to {high:.1%} at 95%)" if not math.isnan(low + high) else ""
    message = (
        f"sales accepted {rate:.1%}{interval} of {row['mqls']:,} MQLs (accepted stage "
        f"{quality.accepted_stage!r}); the SLA agreed at least {minimum:.1%}"
    )
    yield DataFinding(message, "stage_events", "to", (), int(row["mqls"]))


@_data_rule(
    "D009",
    severity="warning",
    title="Each persona's leads show sales' readiness signals, not only marketing's interest",
    rationale="A persona's interest signals are marketing's view and its readiness signals sales'. When the "
    "data shows the interest signals firing and none of the readiness signals ever, sales' side of the "
    "persona is not in the data (the CRM does not record it, or the signal's 'where' never matches), so "
    "engagement is marketing's alone and the joint MQL rule cannot work as agreed.",
    fix="Check that the readiness signals' 'where' values match what the CRM records (channel names, "
    "activity outcomes), or record the sales activities they stand for.",
)
def readiness_seen(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """No persona has interest signals firing in the data and readiness signals that never do."""
    scores = _scores(plan, data)
    if scores is None:
        return
    fired = scores.signals().group_by("persona", "side", maintain_order=True).agg(pl.col("occurrences").sum())
    per = {(p, side): n for p, side, n in fired.iter_rows()}
    for persona in plan.personas:
        interest, readiness = per.get((persona.id, "interest"), 0), per.get((persona.id, "readiness"))
        if interest and readiness == 0:
            signals = [s.id for s in persona.readiness_signals]
            message = (
                f"persona {persona.id!r}: its interest signals fired {interest:,} times, its readiness "
                f"signals ({_listing(signals, len(signals), quote=True)}) never"
            )
            i = plan.personas.index(persona)
            hint = f"Check the 'where' of personas[{i}].readiness_signals against the CRM's values."
            yield DataFinding(message, "leads", "persona", (), interest, hint=hint)


@_data_rule(
    "D010",
    severity="warning",
    title="The MQL rule yields no more MQLs than sales committed to work",
    rationale="Sales commits to work a number of leads a week (the SLA's capacity). An MQL rule that yields "
    "more leaves MQLs unworked every week: the SLA's response times fail and marketing's leads go cold, "
    "and the teams argue about whose number is wrong. The threshold and the capacity must agree.",
    fix="Raise the persona's MQL rule toward the threshold smarketing.persona.calibrate recommends for the "
    "capacity, or agree a larger capacity in the SLA.",
)
def capacity(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """The MQLs a week under the current rule are at most ``sla.sales.capacity`` a week."""
    if plan.sla is None or plan.sla.sales.capacity is None:
        return
    scores = _scores(plan, data)
    if scores is None:
        return
    result = calibrate(plan, data.sources, as_of=scores.as_of, scores=scores)
    current, limit = result.current_mqls_per_week, result.capacity_per_week
    if limit is None or current <= limit:
        return
    commitment = plan.sla.sales.capacity
    weeks = WEEKS_PER_PERIOD[commitment.period]
    per = f"a {commitment.period}"
    advice = (
        f"; a total score of at least {result.recommended_threshold:g} would yield "
        f"{result.recommended_mqls_per_week * weeks:.1f} {per}"
        if result.recommended_threshold is not None and result.recommended_mqls_per_week is not None
        else ""
    )
    mqls = scores.counts["mql"]
    message = (
        f"the personas' MQL rules yield {current * weeks:.1f} MQLs {per} over the data ({mqls:,} MQLs of "
        f"{scores.counts['leads']:,} leads), more than the {commitment.count:,} {per} sales committed to "
        f"work{advice}"
    )
    yield DataFinding(message, "leads", "id", (), mqls)


@_data_rule(
    "D011",
    severity="warning",
    title="Every persona matches some lead",
    rationale="A persona no lead of the data matches is a customer both teams agreed on and nobody brings "
    "in, or criteria that the CRM's values never meet (other industry names, sizes recorded elsewhere): "
    "either way its scoring, SLA tier and reports apply to no one.",
    fix="Compare the persona's criteria with the leads' values (smarketing.persona.match lists what failed "
    "for the leads closest to it), then map the CRM's values or revise the persona.",
)
def persona_matched(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Each persona matches at least one lead of the data (when the data has leads)."""
    if not plan.personas or not _rows(plan, data, "leads"):
        return
    result = _cached(data, "match", lambda: match(plan, data.sources))
    for persona, leads, closest in result.counts.select("persona", "leads", "closest").iter_rows():
        if leads == 0:
            near = f"; {closest:,} unmatched leads came closest to it" if closest else ""
            message = f"persona {persona!r} matches none of the {result.totals['leads']:,} leads{near}"
            yield DataFinding(message, "leads", "persona", (), 0)


RULES: Final[tuple[DataRule, ...]] = (acceptance, readiness_seen, capacity, persona_matched)
