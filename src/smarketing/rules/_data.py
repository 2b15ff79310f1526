"""Data rules (D): the CRM data a plan is checked with speaks the plan's language.

They run only when :func:`~smarketing.rules.check` is given data. Each is a pure function of the plan and
the data's frames (polars, already checked at the boundary by :func:`~smarketing.frames.as_lazy`) that
yields :class:`DataFinding` objects: one per record kind and column that breaks the rule, naming the
values, the first few records and how many there are in all. Every rule is columnar (filters and group-bys
over the frames); none loops over rows in Python.

Deal splits that do not total 100% have no rule here: the boundary check refuses such a deal with a
``DataError`` naming it, so no data that reaches the rules can break that agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing.journey import conformance
from smarketing.records._references import PEOPLE_REFERENCES, RECORD_REFERENCES, label, split_people, unknown
from smarketing.rules._core import DATA_AREA, DOCS_URL, DataArea
from smarketing.typing import Severity

if TYPE_CHECKING:
    from smarketing.money import FxTable
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES", "DataFinding", "DataRule", "RuleData"]

#: Values and records a finding names before "and N more".
SHOWN: Final = 5


@attrs.frozen
class DataFinding:
    """What a data rule reports: records of one kind whose column breaks the rule.

    Attributes:
        message: What is wrong: the values, the first records and how many there are in all.
        kind: The record kind (``"deals"``, ``"stage_events"``, ...).
        column: The column at fault (``"owner"``, ``"splits.person"``).
        records: The first few records concerned: their ids, or their leads' ids for kinds without one.
        count: How many records are concerned in all.
        hint: How to fix this finding, when more specific than the rule's general fix.
    """

    message: str
    kind: str
    column: str
    records: tuple[str, ...]
    count: int
    hint: str | None = None

    @property
    def path(self) -> str:
        """``kind.column``: where in the data the finding is."""
        return f"{self.kind}.{self.column}"


@attrs.frozen
class RuleData:
    """What data rules read: one checked polars frame per record kind, and the exchange rates given."""

    frames: Mapping[str, pl.DataFrame]
    fx: FxTable | None = None
    #: Results several rules read (the persona rules' scores), computed once per check.
    cache: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


DataRuleFunction = Callable[["AlignmentPlan", RuleData], Iterable[DataFinding]]


@attrs.frozen
class DataRule:
    """A built-in data rule: a pure function of the plan and the data, with the facts that explain it.

    Data rules are built in only: plugin rules (``smarketing.rules`` entry points) check the plan.
    """

    code: str
    severity: Severity
    title: str
    rationale: str
    fix: str
    function: DataRuleFunction = attrs.field(repr=False)
    area: DataArea = DATA_AREA

    @property
    def url(self) -> str:
        """Anchor on the rules page."""
        return f"{DOCS_URL}#{self.code.lower()}"

    def __call__(self, plan: AlignmentPlan, data: RuleData, /) -> Iterable[DataFinding]:
        """Run the rule on a plan and its data."""
        return self.function(plan, data)


def _data_rule(
    code: str, *, severity: Severity, title: str, rationale: str, fix: str
) -> Callable[[DataRuleFunction], DataRule]:
    def decorate(function: DataRuleFunction) -> DataRule:
        return DataRule(code, severity, title, rationale, fix, function)

    return decorate


def _listing(items: Sequence[str], total: int, *, quote: bool = False) -> str:
    """``a, b, c and 7 more``: the first :data:`SHOWN` of ``total`` items."""
    shown = ", ".join(repr(i) if quote else str(i) for i in items[:SHOWN])
    return shown + (f" and {total - SHOWN} more" if total > SHOWN else "")


def _finding(
    bad: pl.DataFrame, kind: str, column: str, what: str, *, hint: str | None = None
) -> Iterator[DataFinding]:
    """One finding for the rows of ``kind`` in ``bad`` whose ``column`` is not ``what``; none if no row.

    Names the values (sorted), the rows' count and their first records: ids, or lead ids for kinds
    without an id (stage events, dispositions).
    """
    if bad.is_empty():
        return
    key = "id" if "id" in bad.columns else "lead_id"
    values = bad.get_column(column).unique().sort()
    records = bad.get_column(key).unique().sort()
    ids = records.head(SHOWN).to_list()
    noun = f"{bad.height} {label(kind, bad.height)}"
    whose = (
        f"{noun}: {_listing(ids, records.len())}"
        if key == "id"
        else f"{noun} of leads {_listing(ids, records.len())}"
    )
    verb = "is" if values.len() == 1 else "are"
    named = _listing(values.head(SHOWN).to_list(), values.len(), quote=True)
    message = f"{column} {named} {verb} not {what} ({whose})"
    yield DataFinding(message, kind, column, tuple(ids), bad.height, hint)


@_data_rule(
    "D001",
    severity="error",
    title="Stage events name stages of the journey",
    rationale="A stage the journey does not have is a step no funnel, SLA or conformance analysis can "
    "place: its leads drop out of the measures both teams agreed on, usually because the CRM's stage names "
    "were never mapped to the plan's.",
    fix="Map the CRM's stage names to journey stage ids when importing (the connectors' stage maps), or add "
    "the stage to the journey.",
)
def stages(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every ``to`` and ``from`` of a stage event is a stage id of the plan's journey."""
    ids = [s.id for s in plan.journey.stages]
    events = data.frames["stage_events"]
    for column in ("to", "from"):
        yield from _finding(
            unknown(events, column, ids), "stage_events", column, "a stage of the plan's journey"
        )


@_data_rule(
    "D002",
    severity="warning",
    title="Stage histories follow the journey's transitions",
    rationale="A lead that skips stages, moves backwards or leaves a terminal stage took a path the teams "
    "never agreed on; the handoffs and SLAs on that path were not kept, and the funnel counts it oddly. "
    "A lead with a stage the journey does not have is left to D001.",
    fix="Run smarketing.journey.conformance on the stage events for every such move and its kind; fix the "
    "CRM's history, or add the transitions the teams really use to the journey.",
)
def transitions(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every lead's stage history fits the journey map (conformance, summarised).

    Leads with a stage the journey does not have are ``D001``'s and not judged again here.
    """
    ids = [s.id for s in plan.journey.stages]
    events = data.frames["stage_events"]
    strangers = pl.concat([unknown(events, c, ids).get_column("lead_id") for c in ("to", "from")]).unique()
    judged = events.filter(~pl.col("lead_id").is_in(strangers.implode()))
    if judged.is_empty():
        return
    report = conformance(plan.journey, judged, examples=0)
    off = report.lead_fit.filter(~pl.col("fit"))
    if off.is_empty():
        return
    leads = off.get_column("lead_id").sort()
    kinds = ", ".join(f"{v.count} {v.kind.replace('_', ' ')}" for v in report.violations if v.count)
    n = strangers.len()
    left_out = f"; {n} {label('leads', n)} with stages not of the journey left to D001" if n else ""
    message = (
        f"{leads.len()} of {report.leads} leads have a stage history with moves that are not transitions "
        f"of the journey ({kinds}{left_out}): leads {_listing(leads.head(SHOWN).to_list(), leads.len())}"
    )
    yield DataFinding(message, "stage_events", "to", tuple(leads.head(SHOWN).to_list()), leads.len())


@_data_rule(
    "D003",
    severity="warning",
    title="Owners and actors are people of the plan",
    rationale="Rewards, SLA response times and fitness by team are credited to people of the plan; a lead, "
    "deal, touch or split owned by someone the plan does not know is credited to no one and blamed on no "
    "team.",
    fix="Map the CRM's owner names or user ids to the plan's person ids when importing (the connectors' "
    "owner maps), or add the person to the plan's people.",
)
def people(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every owner, actor, person and split person is a person id of the plan."""
    ids = [p.id for p in plan.people]
    what = "a person of the plan"
    for kind, column in PEOPLE_REFERENCES:
        yield from _finding(unknown(data.frames[kind], column, ids), kind, column, what)
    splits = unknown(split_people(data.frames["deals"]), "person", ids).rename({"person": "splits.person"})
    yield from _finding(splits, "deals", "splits.person", what)


@_data_rule(
    "D004",
    severity="warning",
    title="Touches are made by teams of the plan",
    rationale="Attribution and the shared reward credit touches to teams; a touch by a team the plan does "
    "not have earns its credit for no one. Feedback read by a team the plan does not have counts as read "
    "by neither marketing nor sales.",
    fix="Map the CRM's team names to the plan's team ids when importing, or add the team to the plan.",
)
def teams(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every touchpoint's ``team`` and every team in a feedback's ``seen_by`` is a team id of the plan."""
    ids = [t.id for t in plan.teams]
    yield from _finding(
        unknown(data.frames["touchpoints"], "team", ids), "touchpoints", "team", "a team of the plan"
    )
    feedback = data.frames["feedback"]
    if "seen_by" in feedback.columns:
        seen = feedback.select("id", "seen_by").explode("seen_by")
        yield from _finding(
            unknown(seen, "seen_by", ids).unique("id", maintain_order=True),
            "feedback",
            "seen_by",
            "a team of the plan",
        )


@_data_rule(
    "D005",
    severity="warning",
    title="Dispositions give one of the SLA's agreed reasons",
    rationale="The agreed list is how marketing learns why leads fail; a reason outside it is free text "
    "that no report groups, and 'unable to reach' leads may be missed by the SLA's attempt rules.",
    fix="Map the CRM's disposition values to the SLA's reasons when importing, or agree on the new reason "
    "and add it to 'sla.sales.disposition.reasons'.",
)
def reasons(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every disposition's ``reason`` is a reason of ``sla.sales.disposition`` (when the plan has one)."""
    if plan.sla is None or plan.sla.sales.disposition is None:
        return  # S004 reports a plan without agreed reasons
    agreed = plan.sla.sales.disposition.reasons
    bad = unknown(data.frames["dispositions"], "reason", agreed)
    yield from _finding(bad, "dispositions", "reason", "a reason the SLA agrees on")


def _reporting_currencies(plan: AlignmentPlan) -> dict[str, list[str]]:
    """Currency -> what the plan reports in it: the rewards, money KPIs; else the plan's own currency."""
    uses: dict[str, list[str]] = {}
    if plan.rewards is not None:
        uses.setdefault(plan.rewards.currency, []).append("the rewards")
    for kpi in plan.kpis:
        if kpi.currency is not None:
            uses.setdefault(kpi.currency, []).append(f"KPI {kpi.id}")
    if not uses and plan.currency is not None:
        uses[plan.currency] = ["the plan's currency"]
    return uses


@_data_rule(
    "D006",
    severity="error",
    title="Deal amounts are in a currency the plan can report",
    rationale="Rewards and money KPIs are reported in the plan's currencies; an amount in another currency "
    "without an exchange rate to each of them is money the analyses refuse (never guess a rate), so the "
    "deals behind it are left out of the shared numbers.",
    fix="Give the exchange rates: check(plan, data=..., fx=FxTable([...])) in Python, --fx USD/EUR=0.92 on "
    "the command line; or record the amounts in the plan's currency.",
)
def currencies(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every deal currency is a reporting currency or has a rate to each in force on the deal's date.

    A deal's date is its close date, else the day it was created (in UTC).
    """
    uses = _reporting_currencies(plan)
    deals = data.frames["deals"]
    if not uses or deals.is_empty() or "amount_currency" not in deals.columns:
        return
    days = [pl.col(c).cast(pl.Date) for c in ("close_date", "created_at") if c in deals.columns]
    deals = deals.with_columns((pl.coalesce(days) if days else pl.lit(None, pl.Date)).alias("_day"))
    given = deals.get_column("amount_currency").drop_nulls().unique().sort().to_list()
    for currency in given:
        for target, users in uses.items():
            if target == currency:
                continue
            series = data.fx.series(currency, target) if data.fx is not None else []
            what = f"a currency with an exchange rate to {target} ({', '.join(users)})"
            bad = deals.filter(pl.col("amount_currency") == currency)
            if series:
                # Rates apply from their date on: a deal dated before the first one cannot be converted.
                first = series[0][0]
                bad = bad.filter(pl.col("_day") < first)
                what += f" on the deal's date (the first rate is of {first})"
            yield from _finding(bad, "deals", "amount_currency", what)


@_data_rule(
    "D007",
    severity="warning",
    title="Records of a lead point at a lead of the data",
    rationale="A deal, touch, stage event, activity or disposition whose lead is not in the data cannot be "
    "tied to the lead's source, persona or owner, so the analyses count it without its context: the data "
    "was usually exported in part (a filtered list, a time window).",
    fix="Export the leads these records belong to as well, or leave their records out on purpose.",
)
def leads(plan: AlignmentPlan, data: RuleData) -> Iterator[DataFinding]:
    """Every ``lead_id`` is a lead of the data (when the data has leads at all)."""
    known = data.frames["leads"]
    if known.is_empty():
        return
    ids = known.get_column("id")
    for kind, column, target in RECORD_REFERENCES:
        if target != "leads":
            continue
        yield from _finding(unknown(data.frames[kind], column, ids), kind, column, "a lead of the data")


RULES: Final[tuple[DataRule, ...]] = (stages, transitions, people, teams, reasons, currencies, leads)
