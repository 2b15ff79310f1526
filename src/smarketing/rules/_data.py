"""Data rules (D): the CRM data a plan is checked with speaks the plan's language.

They run only when :func:`~smarketing.rules.check` is given data. Each is a pure function of the plan and
the data (:class:`RuleData`: each kind where it lives) that yields :class:`DataFinding` objects: one per
record kind and column that breaks the rule, naming the values, the first few records and how many there
are in all. The value rules (``D001`` to ``D007``) read the counts of one pass per record kind
(:mod:`smarketing.rules._scan`: a map over partitions of complete records, run on Spark for PySpark
frames, on a projection of the checked polars ``LazyFrame`` otherwise); the rules that reuse an analysis
(``D002`` conformance, the persona, disposition and waterfall rules) call it on the same sources. None
loops over rows in Python.

Deal splits that do not total 100% have no rule here: the boundary check refuses such a deal with a
``DataError`` naming it, so no data that reaches the rules can break that agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy
from smarketing.journey import conformance
from smarketing.records._references import PEOPLE_REFERENCES, RECORD_REFERENCES, label
from smarketing.rules._core import DATA_AREA, DOCS_URL, DataArea
from smarketing.rules._scan import SHOWN, Check, Found, KindScan, columns_of, scan_kinds, unknown_leads
from smarketing.typing import Severity

if TYPE_CHECKING:
    from smarketing.money import FxTable
    from smarketing.plan import AlignmentPlan

__all__ = ["RULES", "SHOWN", "DataFinding", "DataRule", "RuleData", "scans"]


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
    """What data rules read: each record kind where it lives, and the exchange rates given.

    ``sources`` holds, per record kind, a PySpark DataFrame as given (each map checks its partition) or
    the kind's checked polars ``LazyFrame`` (checked once, every column; a ``pl.scan_parquet`` stays a
    scan): the rules read them through their passes and analyses, never whole. :attr:`frames` reads a
    kind whole into polars, for code that needs it so.
    """

    sources: Mapping[str, Any]
    fx: FxTable | None = None
    #: Results several rules read (each kind's pass, the persona rules' scores), computed once per check.
    cache: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def frames(self) -> Mapping[str, pl.DataFrame]:
        """Each kind as one polars DataFrame, read whole when first asked for (then kept)."""
        if "frames" not in self.cache:
            self.cache["frames"] = _Whole(self.sources)
        frames: Mapping[str, pl.DataFrame] = self.cache["frames"]
        return frames


class _Whole(Mapping[str, pl.DataFrame]):
    """Kinds read whole into polars on first access (:attr:`RuleData.frames`)."""

    def __init__(self, sources: Mapping[str, Any]) -> None:
        self._sources = sources
        self._read: dict[str, pl.DataFrame] = {}

    def __getitem__(self, kind: str) -> pl.DataFrame:
        if kind not in self._read:
            source = self._sources[kind]
            self._read[kind] = (
                source.collect()
                if isinstance(source, pl.LazyFrame)
                else as_lazy(source, kind).collect().to_native()
            )
        return self._read[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


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
    found: Found | None, kind: str, key: str, column: str, what: str, *, hint: str | None = None
) -> Iterator[DataFinding]:
    """One finding for the rows of ``kind`` whose ``column`` is not ``what``; none if no row.

    Names the values (sorted), the rows' count and their first records: ids, or lead ids for kinds
    without an id (stage events, dispositions).
    """
    if found is None:
        return
    ids = list(found.first)
    noun = f"{found.rows} {label(kind, found.rows)}"
    whose = (
        f"{noun}: {_listing(ids, found.records)}"
        if key == "id"
        else f"{noun} of leads {_listing(ids, found.records)}"
    )
    verb = "is" if found.value_count == 1 else "are"
    named = _listing(list(found.values), found.value_count, quote=True)
    message = f"{column} {named} {verb} not {what} ({whose})"
    yield DataFinding(message, kind, column, tuple(ids), found.rows, hint)


def scans(plan: AlignmentPlan, data: RuleData) -> Mapping[str, KindScan]:
    """Each kind's pass for the value rules (``D001`` to ``D007``, ``D014``), run once per check."""
    if "scans" not in data.cache:
        data.cache["scans"] = _scan_all(plan, data)
    found: Mapping[str, KindScan] = data.cache["scans"]
    return found


def _scan_all(plan: AlignmentPlan, data: RuleData) -> dict[str, KindScan]:
    stage_ids = tuple(s.id for s in plan.journey.stages)
    people_ids = tuple(p.id for p in plan.people)
    team_ids = tuple(t.id for t in plan.teams)
    checks: dict[str, list[Check]] = {kind: [] for kind in data.sources}
    for column in ("to", "from"):
        checks["stage_events"].append(Check(f"D001 {column}", column, values=stage_ids))
    checks["stage_events"].append(Check("D002 strangers", "lead_id", "stranger", values=stage_ids))
    for kind, column in PEOPLE_REFERENCES:
        checks[kind].append(Check(f"D003 {column}", column, values=people_ids))
    checks["deals"].append(Check("D003 splits.person", "splits.person", values=people_ids))
    checks["touchpoints"].append(Check("D004 team", "team", values=team_ids))
    checks["feedback"].append(Check("D004 seen_by", "seen_by", values=team_ids))
    if plan.sla is not None and plan.sla.sales.disposition is not None:
        agreed = tuple(plan.sla.sales.disposition.reasons)
        checks["dispositions"].append(Check("D005 reason", "reason", values=agreed))
    for currency, target, first in _currency_pairs(plan, data):
        checks["deals"].append(
            Check(f"D006 {currency} {target}", "amount_currency", "equals", values=(currency,), before=first)
        )
    for kind, column, target in RECORD_REFERENCES:
        if target == "leads":
            checks[kind].append(Check(f"D007 {column}", column, "orphan"))
    passes = {kind: (source, checks[kind], kind == "leads") for kind, source in data.sources.items()}
    return scan_kinds(passes, lead_ids=data.sources["leads"])


def _currency_pairs(plan: AlignmentPlan, data: RuleData) -> list[tuple[str, str, date | None]]:
    """``D006``'s (deal currency, reporting currency, first rate's day or None) to count deals of.

    Read once per check (the pass that counts them and ``D006`` that reports them ask alike): the deals'
    distinct currencies are a query of the deals (a Spark job on Spark).
    """
    if "currency pairs" not in data.cache:
        data.cache["currency pairs"] = _read_currency_pairs(plan, data)
    pairs: list[tuple[str, str, date | None]] = data.cache["currency pairs"]
    return pairs


def _read_currency_pairs(plan: AlignmentPlan, data: RuleData) -> list[tuple[str, str, date | None]]:
    uses = _reporting_currencies(plan)
    deals = data.sources["deals"]
    if not uses or "amount_currency" not in columns_of(deals):
        return []
    if isinstance(deals, pl.LazyFrame):
        given = deals.select(pl.col("amount_currency").drop_nulls().unique()).collect().to_series().to_list()
    else:
        given = engine.distinct(deals, "amount_currency")
    pairs: list[tuple[str, str, date | None]] = []
    for currency in sorted(given):
        for target in uses:
            if target == currency:
                continue
            series = data.fx.series(currency, target) if data.fx is not None else []
            pairs.append((currency, target, series[0][0] if series else None))
    return pairs


def _found(plan: AlignmentPlan, data: RuleData, kind: str, name: str) -> tuple[Found | None, str]:
    """Check ``name`` of ``kind``'s pass, and the pass's record key."""
    scanned = scans(plan, data)[kind]
    return scanned.found.get(name), scanned.key


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
    for column in ("to", "from"):
        found, key = _found(plan, data, "stage_events", f"D001 {column}")
        yield from _finding(found, "stage_events", key, column, "a stage of the plan's journey")


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
    events = data.sources["stage_events"]
    if not scans(plan, data)["stage_events"].rows:
        return
    strangers, _ = _found(plan, data, "stage_events", "D002 strangers")
    judged = unknown_leads(events, [s.id for s in plan.journey.stages]) if strangers is not None else events
    report = conformance(plan.journey, judged, examples=0)
    off_count = report.leads - report.fit
    if not off_count:
        return
    first = _unfit(report.lead_table)
    kinds = ", ".join(f"{v.count} {v.kind.replace('_', ' ')}" for v in report.violations if v.count)
    n = strangers.records if strangers is not None else 0
    left_out = f"; {n} {label('leads', n)} with stages not of the journey left to D001" if n else ""
    message = (
        f"{off_count} of {report.leads} leads have a stage history with moves that are not transitions "
        f"of the journey ({kinds}{left_out}): leads {_listing(first, off_count)}"
    )
    yield DataFinding(message, "stage_events", "to", tuple(first), off_count)


def _unfit(lead_table: Any) -> list[str]:
    """The first ids of the leads that do not fit in a conformance per-lead table (top-k on its engine)."""
    if isinstance(lead_table, pl.DataFrame):
        off = lead_table.filter(~pl.col("fit")).get_column("lead_id").cast(pl.String).sort()
        return off.head(SHOWN).to_list()
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    off = lead_table.where(~F.col("fit")).select("lead_id").orderBy("lead_id").limit(SHOWN)
    return engine.to_polars(off).get_column("lead_id").cast(pl.String).to_list()


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
    what = "a person of the plan"
    for kind, column in (*PEOPLE_REFERENCES, ("deals", "splits.person")):
        found, key = _found(plan, data, kind, f"D003 {column}")
        yield from _finding(found, kind, key, column, what)


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
    for kind, column in (("touchpoints", "team"), ("feedback", "seen_by")):
        found, key = _found(plan, data, kind, f"D004 {column}")
        yield from _finding(found, kind, key, column, "a team of the plan")


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
    found, key = _found(plan, data, "dispositions", "D005 reason")
    yield from _finding(found, "dispositions", key, "reason", "a reason the SLA agrees on")


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
    if not scans(plan, data)["deals"].rows:
        return
    for currency, target, first in _currency_pairs(plan, data):
        what = f"a currency with an exchange rate to {target} ({', '.join(uses[target])})"
        if first is not None:
            # Rates apply from their date on: a deal dated before the first one cannot be converted.
            what += f" on the deal's date (the first rate is of {first})"
        found, key = _found(plan, data, "deals", f"D006 {currency} {target}")
        yield from _finding(found, "deals", key, "amount_currency", what)


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
    if not scans(plan, data)["leads"].rows:
        return
    for kind, column, target in RECORD_REFERENCES:
        if target != "leads":
            continue
        found, key = _found(plan, data, kind, f"D007 {column}")
        yield from _finding(found, kind, key, column, "a lead of the data")


RULES: Final[tuple[DataRule, ...]] = (stages, transitions, people, teams, reasons, currencies, leads)
