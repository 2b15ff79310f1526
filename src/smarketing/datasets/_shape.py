"""The numbers and vocabularies that shape the synthetic data: shares, fallbacks, rates, channels, regions.

The package docstring reports what they give on the example plan.
"""

from __future__ import annotations

from typing import Final

# Shares that shape the data.
LEADS_PER_ACCOUNT: Final = 2.5
PERSONA_SHARE: Final = 0.88  # leads that match one of the plan's personas
DEVIATION_SHARE: Final = 0.04  # leads whose stage events leave the map
SKIP_SHARE: Final = 0.3  # of deviations: a skipped stage (the rest: one unmapped move at the end)
ACTIVITIES_PER_LEAD: Final = 5.0
BREACH_SHARE: Final = 0.2  # first responses later than the SLA target
DISPOSITION_MISSING: Final = 0.09
DISPOSITION_LATE: Final = 0.11
EARLY_UNREACHABLE: Final = 0.2  # 'unable to reach' dispositions before the required attempts
PAUSED_SHARE: Final = 0.03
MISFIT_SHARE: Final = 0.15  # labelled leads whose attributes miss one of their persona's criteria
STRAY_ROLE_SHARE: Final = 0.15  # unlabelled leads whose role is any (the rest: one no persona accepts)
DISCOUNT_SHARE: Final = 0.2
REFUND_SHARE: Final = 0.06
SPLIT_SHARE: Final = 0.15
MIN_COMPANY_SIZE: Final = 5
MAX_COMPANY_SIZE: Final = 100_000
SEGMENT_SIZES: Final = (200, 1000)  # deal segments by employees: smb below 200, mid_market below 1000
DEAL_SIGMA: Final = 0.5  # lognormal spread of deal amounts around the plan's average deal size

# Used only when the plan has no such part.
FALLBACK_REASONS: Final = ("qualified", "not_a_fit", "no_budget", "bad_timing", "unable_to_reach")
FALLBACK_SALES_PEOPLE: Final = ("sales-rep-1", "sales-rep-2")
FALLBACK_DEAL_SIZE: Final = 20_000
FALLBACK_CURRENCY: Final = "EUR"
FALLBACK_RESPONSE_HOURS: Final = 4.0
FALLBACK_DISPOSITION_DAYS: Final = 10
FALLBACK_GRADES: Final = ("A", "B", "C")

# Share of a stage's leads that move forward, by stage kind, when targets.conversion_rates is silent.
DEFAULT_RATE: Final = {
    "subscriber": 0.95,
    "lead": 0.9,
    "mql": 0.75,
    "sal": 0.55,
    "sql": 0.55,
    "opportunity": 0.3,
    "customer": 0.25,
    "evangelist": 0.2,
    "other": 0.6,
}
# Mean days a lead spends in a stage before it moves on, by stage kind (gamma, shape 2).
DWELL_DAYS: Final = {
    "subscriber": 5.0,
    "lead": 8.0,
    "mql": 1.0,
    "sal": 5.0,
    "sql": 10.0,
    "opportunity": 30.0,
    "customer": 120.0,
    "evangelist": 120.0,
    "other": 10.0,
}
RECYCLE_DAYS: Final = 5.0
DISQUALIFY_DAYS: Final = 5.0
NURTURE_FACTOR: Final = 2.0  # a recycled lead stays longer in nurture before it moves again
MAX_STEPS: Final = 64  # bounds the walk on plans whose recycles are unlimited

ENTRY, PROGRESSION, HANDOFF, RECYCLE, DISQUALIFY = 0, 1, 2, 3, 4
KIND_CODE: Final = {"progression": PROGRESSION, "handoff": HANDOFF, "recycle": RECYCLE}

MARKETING_CHANNELS: Final = (
    ("paid_search", 0.2),
    ("organic", 0.17),
    ("content", 0.15),
    ("webinar", 0.1),
    ("email", 0.12),
    ("social", 0.09),
    ("events", 0.07),
    ("referral", 0.05),
)
CAMPAIGN_CHANNELS: Final = frozenset({"paid_search", "content", "webinar", "email", "social", "events"})
SALES_CHANNELS: Final = (("sdr_call", 0.4), ("sdr_email", 0.35), ("demo", 0.15), ("meeting", 0.1))
SALES_TOUCH_SHARE: Final = 0.7  # touches after the handoff made by sales

REGIONS: Final = {
    "dach": ("DE", "AT", "CH"),
    "nordics": ("SE", "DK", "NO", "FI"),
    "benelux": ("NL", "BE", "LU"),
    "uk_ireland": ("GB", "IE"),
    "france": ("FR",),
    "southern_europe": ("ES", "IT", "PT"),
    "north_america": ("US", "CA"),
}
AMERICAS: Final = frozenset({"north_america", "americas", "latam", "south_america", "us", "usa"})
INDUSTRIES: Final = (
    "logistics",
    "manufacturing",
    "retail",
    "wholesale",
    "healthcare",
    "software",
    "financial_services",
    "energy",
)
TITLE_WORDS: Final = ("operations", "finance", "it", "procurement", "marketing", "supply chain")
NAME_FIRST: Final = (
    "Nord", "Alpen", "Blue", "Iron", "North", "Silver", "Oak", "River", "Harbor", "Summit",
    "Falcon", "Granite", "Maple", "Atlas", "Cedar", "Delta", "Evergreen", "Lumen", "Orbit", "Pioneer",
)  # fmt: skip
NAME_SECOND: Final = (
    "Logistics", "Freight", "Industries", "Manufacturing", "Retail", "Trading", "Systems", "Group",
    "Works", "Supply", "Foods", "Motors", "Partners", "Holdings", "Labs",
)  # fmt: skip

# Activity outcomes by (type, whether the lead was ever reached); probabilities sum to 1 per row.
OUTCOMES: Final = (
    "connected", "no_answer", "voicemail", "meeting_booked", "replied", "no_reply", "held", "no_show",
)  # fmt: skip
OUTCOME_P: Final = {
    ("call", True): (0.35, 0.3, 0.2, 0.15, 0, 0, 0, 0),
    ("call", False): (0, 0.6, 0.4, 0, 0, 0, 0, 0),
    ("email", True): (0, 0, 0, 0.1, 0.35, 0.55, 0, 0),
    ("email", False): (0, 0, 0, 0, 0, 1, 0, 0),
    ("meeting", True): (0, 0, 0, 0, 0, 0, 0.85, 0.15),
    ("meeting", False): (0, 0, 0, 0, 0, 0, 0, 1),
}
ACTIVITY_TYPES: Final = ("call", "email", "meeting")
FOLLOW_UP_P: Final = (0.55, 0.4, 0.05)
