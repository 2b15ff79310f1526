"""smarketing: sales and marketing alignment as typed models and pure, tested functions.

The front door re-exports the nouns and the main verbs::

    >>> import smarketing as sm
    >>> plan = sm.load_plan("examples/plan.yaml")
    >>> sm.allocate(sm.Money("100.00", "EUR"), {"marketing": 3, "sales": 7})
    {'marketing': Money('30.00', 'EUR'), 'sales': Money('70.00', 'EUR')}
"""

from importlib.metadata import version as _version

from smarketing.attribution import Attribution, Journeys, attribute
from smarketing.calendar import BusinessCalendar
from smarketing.connectors import available_connectors, load_connector
from smarketing.digest import Digest, digest
from smarketing.errors import (
    CurrencyMismatchError,
    DataError,
    DeliveryError,
    FormulaError,
    LoadError,
    PlanError,
    PluginError,
    PluginWarning,
    RuleError,
    SmarketingError,
)
from smarketing.feedback import (
    CampaignComparison,
    DispositionReport,
    FeedbackReport,
    SourcedInfluenced,
    Waterfall,
    compare_campaigns,
    customer_feedback,
    dispositions,
    sourced_influenced,
    waterfall,
)
from smarketing.glossary import Glossary, Term, TextLint, lint_text
from smarketing.journey import (
    ConformanceReport,
    FunnelReport,
    JourneyDiff,
    JourneyMap,
    Stage,
    Transition,
    conformance,
    discover,
    funnel,
)
from smarketing.kpi import (
    KPI,
    Alert,
    FunnelTargets,
    Scorecard,
    alerts,
    revenue_from_leads,
    scorecard,
    targets_from_revenue,
)
from smarketing.money import FxTable, Money, allocate
from smarketing.persona import (
    Agreement,
    Calibration,
    LeadScores,
    Persona,
    PersonaMatch,
    Segments,
    agreement,
    calibrate,
    match,
    score,
    segment,
)
from smarketing.plan import AlignmentPlan, dump_plan, load_plan, plan_json_schema
from smarketing.records import (
    Account,
    Activity,
    Dataset,
    Deal,
    Disposition,
    Feedback,
    Lead,
    StageEvent,
    Touchpoint,
)
from smarketing.report import Report, report
from smarketing.rewards import RewardLedger, RewardPlan, Statement, compute_rewards
from smarketing.rules import CheckReport, Diagnostic, check
from smarketing.sla import SLA, SLAReport, evaluate_sla
from smarketing.teams import Person, Team

__version__ = _version("smarketing")

__all__ = [
    "Account",
    "Activity",
    "Agreement",
    "Alert",
    "AlignmentPlan",
    "Attribution",
    "BusinessCalendar",
    "Calibration",
    "CampaignComparison",
    "CheckReport",
    "ConformanceReport",
    "CurrencyMismatchError",
    "DataError",
    "Dataset",
    "Deal",
    "DeliveryError",
    "Diagnostic",
    "Digest",
    "Disposition",
    "DispositionReport",
    "Feedback",
    "FeedbackReport",
    "FormulaError",
    "FunnelReport",
    "FunnelTargets",
    "FxTable",
    "Glossary",
    "JourneyDiff",
    "JourneyMap",
    "Journeys",
    "KPI",
    "Lead",
    "LeadScores",
    "LoadError",
    "Money",
    "Person",
    "Persona",
    "PersonaMatch",
    "PlanError",
    "PluginError",
    "PluginWarning",
    "Report",
    "RewardLedger",
    "RewardPlan",
    "RuleError",
    "SLA",
    "SLAReport",
    "Scorecard",
    "Segments",
    "SmarketingError",
    "SourcedInfluenced",
    "Stage",
    "StageEvent",
    "Statement",
    "Team",
    "Term",
    "TextLint",
    "Touchpoint",
    "Transition",
    "Waterfall",
    "__version__",
    "agreement",
    "alerts",
    "allocate",
    "attribute",
    "available_connectors",
    "calibrate",
    "check",
    "compare_campaigns",
    "compute_rewards",
    "conformance",
    "customer_feedback",
    "digest",
    "discover",
    "dispositions",
    "dump_plan",
    "evaluate_sla",
    "funnel",
    "lint_text",
    "load_connector",
    "load_plan",
    "match",
    "plan_json_schema",
    "report",
    "revenue_from_leads",
    "score",
    "scorecard",
    "segment",
    "sourced_influenced",
    "targets_from_revenue",
    "waterfall",
]
