"""Seeded synthetic B2B funnel data consistent with an alignment plan.

:func:`synthetic` invents a realistic CRM for a plan: accounts, leads matched to the plan's personas,
marketing and sales touchpoints, stage events that walk the plan's journey (with recycles, disqualifications,
a few deviations from the map and leads still open at the end), sales activities after each handoff timed
against the SLA's business calendar, deals in two currencies, and disposition feedback. It is what the demo,
the docs and the tests run on, and what the benchmarks scale to a million leads, so it is vectorised: numpy
draws and polars columns, no Python loop per lead.

Everything is read from the plan (stage, team, person, persona, reason ids; rates; SLA targets). Where a
plan part is missing a documented fallback stands in, so a minimal plan (two teams, a journey) works too.

What it produces with ``examples/plan.yaml`` (12 months to 2026-10-31; the same per lead from 5,000 to
1,000,000 leads; a million take 15 to 25 s and 2.5 GB of memory on two cores):

============  ========  ========================================================================
record        per lead  notes
============  ========  ========================================================================
accounts      0.40      about 2.5 leads per account
touchpoints   4.5       1 to 20 per lead, the first at creation (the lead's source and campaign)
stage events  5.2       5.5 for leads older than the journey (recent ones are still open); with
                        the plan's rates, recycles included; about 4% of leads leave the map
activities    5.0       attempts per handoff are scaled to 5 per lead overall (1 to 10 each)
deals         0.24      EUR for European regions, USD for north_america; about one in four won
dispositions  0.72      per handoff; about 9% never come, about 11% come late
============  ========  ========================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Final, get_args

import attrs
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.calendar import BusinessCalendar
from smarketing.errors import ClosedCalendarError
from smarketing.frames._calendar import BusinessClock
from smarketing.persona import Seniority
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

__all__ = ["DEFAULT_END", "synthetic"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: The last day of generated data when ``end`` is not given.
DEFAULT_END: Final = date(2026, 10, 31)

_US_PER_MINUTE: Final = 60_000_000
_US_PER_DAY: Final = 86_400_000_000
_NEVER: Final = np.iinfo(np.int64).max

# Shares that shape the data; the module docstring reports what they give on the example plan.
_LEADS_PER_ACCOUNT: Final = 2.5
_PERSONA_SHARE: Final = 0.88  # leads that match one of the plan's personas
_DEVIATION_SHARE: Final = 0.04  # leads whose stage events leave the map
_SKIP_SHARE: Final = 0.3  # of deviations: a skipped stage (the rest: one unmapped move at the end)
_ACTIVITIES_PER_LEAD: Final = 5.0
_BREACH_SHARE: Final = 0.2  # first responses later than the SLA target
_DISPOSITION_MISSING: Final = 0.09
_DISPOSITION_LATE: Final = 0.11
_EARLY_UNREACHABLE: Final = 0.2  # 'unable to reach' dispositions before the required attempts
_PAUSED_SHARE: Final = 0.03
_DISCOUNT_SHARE: Final = 0.2
_REFUND_SHARE: Final = 0.06
_SPLIT_SHARE: Final = 0.15
_DEAL_SIGMA: Final = 0.5  # lognormal spread of deal amounts around the plan's average deal size

# Used only when the plan has no such part.
_FALLBACK_REASONS: Final = ("qualified", "not_a_fit", "no_budget", "bad_timing", "unable_to_reach")
_FALLBACK_SALES_PEOPLE: Final = ("sales-rep-1", "sales-rep-2")
_FALLBACK_DEAL_SIZE: Final = 20_000
_FALLBACK_CURRENCY: Final = "EUR"
_FALLBACK_RESPONSE_HOURS: Final = 4.0
_FALLBACK_DISPOSITION_DAYS: Final = 10
_FALLBACK_GRADES: Final = ("A", "B", "C")

# Share of a stage's leads that move forward, by stage kind, when targets.conversion_rates is silent.
_DEFAULT_RATE: Final = {
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
_DWELL_DAYS: Final = {
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
_RECYCLE_DAYS: Final = 5.0
_DISQUALIFY_DAYS: Final = 5.0
_NURTURE_FACTOR: Final = 2.0  # a recycled lead stays longer in nurture before it moves again
_MAX_STEPS: Final = 64  # bounds the walk on plans whose recycles are unlimited

_ENTRY, _PROGRESSION, _HANDOFF, _RECYCLE, _DISQUALIFY = 0, 1, 2, 3, 4
_KIND_CODE: Final = {"progression": _PROGRESSION, "handoff": _HANDOFF, "recycle": _RECYCLE}

_MARKETING_CHANNELS: Final = (
    ("paid_search", 0.2),
    ("organic", 0.17),
    ("content", 0.15),
    ("webinar", 0.1),
    ("email", 0.12),
    ("social", 0.09),
    ("events", 0.07),
    ("referral", 0.05),
)
_CAMPAIGN_CHANNELS: Final = frozenset({"paid_search", "content", "webinar", "email", "social", "events"})
_SALES_CHANNELS: Final = (("sdr_call", 0.4), ("sdr_email", 0.35), ("demo", 0.15), ("meeting", 0.1))
_SALES_TOUCH_SHARE: Final = 0.7  # touches after the handoff made by sales

_REGIONS: Final = {
    "dach": ("DE", "AT", "CH"),
    "nordics": ("SE", "DK", "NO", "FI"),
    "benelux": ("NL", "BE", "LU"),
    "uk_ireland": ("GB", "IE"),
    "france": ("FR",),
    "southern_europe": ("ES", "IT", "PT"),
    "north_america": ("US", "CA"),
}
_AMERICAS: Final = frozenset({"north_america", "americas", "latam", "south_america", "us", "usa"})
_INDUSTRIES: Final = (
    "logistics",
    "manufacturing",
    "retail",
    "wholesale",
    "healthcare",
    "software",
    "financial_services",
    "energy",
)
_TITLE_WORDS: Final = ("operations", "finance", "it", "procurement", "marketing", "supply chain")
_NAME_FIRST: Final = (
    "Nord", "Alpen", "Blue", "Iron", "North", "Silver", "Oak", "River", "Harbor", "Summit",
    "Falcon", "Granite", "Maple", "Atlas", "Cedar", "Delta", "Evergreen", "Lumen", "Orbit", "Pioneer",
)  # fmt: skip
_NAME_SECOND: Final = (
    "Logistics", "Freight", "Industries", "Manufacturing", "Retail", "Trading", "Systems", "Group",
    "Works", "Supply", "Foods", "Motors", "Partners", "Holdings", "Labs",
)  # fmt: skip

# Activity outcomes by (type, whether the lead was ever reached); probabilities sum to 1 per row.
_OUTCOMES: Final = (
    "connected", "no_answer", "voicemail", "meeting_booked", "replied", "no_reply", "held", "no_show",
)  # fmt: skip
_OUTCOME_P: Final = {
    ("call", True): (0.35, 0.3, 0.2, 0.15, 0, 0, 0, 0),
    ("call", False): (0, 0.6, 0.4, 0, 0, 0, 0, 0),
    ("email", True): (0, 0, 0, 0.1, 0.35, 0.55, 0, 0),
    ("email", False): (0, 0, 0, 0, 0, 1, 0, 0),
    ("meeting", True): (0, 0, 0, 0, 0, 0, 0.85, 0.15),
    ("meeting", False): (0, 0, 0, 0, 0, 0, 0, 1),
}
_ACTIVITY_TYPES: Final = ("call", "email", "meeting")
_FOLLOW_UP_P: Final = (0.55, 0.4, 0.05)


def synthetic(
    plan: AlignmentPlan,
    *,
    seed: int,
    n_leads: int = 5000,
    end: date | None = None,
    months: int = 12,
) -> Dataset:
    """Generate seeded, realistic funnel data consistent with ``plan``.

    The same arguments always give the same frames, byte for byte; another seed gives other data. Leads
    are created over the ``months`` before ``end``; nothing happens after ``end`` (a lead whose next step
    would fall later is still open). Stage events follow ``plan.journey`` with per-stage conversion from
    ``plan.targets.conversion_rates`` (defaults by stage kind otherwise), recycles up to their
    ``max_recycles`` and disqualifications; about 4% of leads deviate from the map (a skipped stage, or an
    unmapped move: a regression, a jump, or an event after a terminal stage). After each handoff the
    lead's SDR works it: the first response meets the SLA target (tiers included, in the SLA calendar's
    business hours) for about 80% of handoffs and clearly misses it for the rest. Deal amounts are whole
    currency units drawn around ``plan.targets.average_deal_size``.

    Args:
        plan: The alignment plan the data must agree with.
        seed: Seed of the random generator (an int >= 0).
        n_leads: Number of leads (>= 1).
        end: Last day of data (UTC); default :data:`DEFAULT_END`, 2026-10-31.
        months: Length of the window in which leads are created (>= 1).

    Returns:
        A :class:`~smarketing.records.Dataset`; every frame has the columns and types that
        :meth:`Dataset.from_records <smarketing.records.Dataset.from_records>` gives, times in UTC.

    Raises:
        TypeError: An argument has the wrong type (e.g. a float seed or a datetime ``end``).
        ValueError: ``seed`` is negative, ``n_leads`` or ``months`` is below 1.
        ClosedCalendarError: The SLA calendar is not open at all around the window, so no response could
            be timed (a subclass of ``ValueError``).

    Examples:
        >>> from smarketing.plan import load_plan
        >>> plan = load_plan("examples/plan.yaml")
        >>> ds = synthetic(plan, seed=7, n_leads=200)
        >>> ds.leads.height, ds.leads["id"][0]
        (200, 'L0000001')
        >>> ds.stage_events.filter(pl.col("from").is_null())["to"].unique().to_list()
        ['subscriber']
        >>> sorted(ds.deals["amount_currency"].unique())
        ['EUR', 'USD']
        >>> synthetic(plan, seed=7, n_leads=200).touchpoints.equals(ds.touchpoints)
        True
        >>> ds.records("deals")[0].amount.currency in ("EUR", "USD")
        True
        >>> synthetic(plan, seed=7, n_leads=0)
        Traceback (most recent call last):
        ...
        ValueError: n_leads must be at least 1, not 0
    """
    end = DEFAULT_END if end is None else end
    _check_args(plan, seed=seed, n_leads=n_leads, end=end, months=months)
    facts = _Facts.of(plan)
    end_us = _us(datetime.combine(end + timedelta(days=1), time(), UTC))
    start_us = _us(datetime.combine(_months_before(end, months) + timedelta(days=1), time(), UTC))
    clock = _BusinessMinutes(facts.calendar, start_us - 2 * _US_PER_DAY, end_us + 2 * _US_PER_DAY)

    # One independent stream per part, so a change in one part leaves the others' draws alone.
    streams = np.random.SeedSequence(seed).spawn(8)
    rng = [np.random.Generator(np.random.PCG64(s)) for s in streams]

    accounts = _accounts(rng[0], facts, max(1, math.ceil(n_leads / _LEADS_PER_ACCOUNT)))
    people = _lead_people(
        rng[1], facts, accounts=accounts, n=n_leads, start_us=start_us, end_us=end_us, clock=clock
    )
    walk = _walk(rng[2], facts, people, end_us, clock)
    events = _deviate(rng[3], facts, walk, end_us)
    touchpoints = _touchpoints(rng[4], facts, people, walk, end_us)
    activities, dispositions = _follow_up(rng[5], facts, people=people, walk=walk, end_us=end_us, clock=clock)
    deals = _deals(rng[6], facts, people=people, accounts=accounts, events=events, end=end)
    leads = _leads_frame(
        rng[7], facts, people=people, accounts=accounts, walk=walk, touchpoints=touchpoints, events=events
    )

    return Dataset(
        accounts=_conform("accounts", accounts.frame),
        leads=_conform("leads", leads),
        touchpoints=_conform("touchpoints", touchpoints.frame),
        stage_events=_conform("stage_events", _events_frame(facts, people, events)),
        activities=_conform("activities", activities),
        deals=_conform("deals", deals),
        dispositions=_conform("dispositions", dispositions),
    )


# --------------------------------------------------------------------------------------------------
# Arguments and what the generator reads from the plan.


def _check_args(plan: object, *, seed: object, n_leads: object, end: object, months: object) -> None:
    if not isinstance(plan, AlignmentPlan):
        raise TypeError(f"plan must be an AlignmentPlan (see load_plan), not {type(plan).__name__}")
    for name, value in (("seed", seed), ("n_leads", n_leads), ("months", months)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    assert isinstance(seed, int | np.integer)
    assert isinstance(n_leads, int | np.integer)
    assert isinstance(months, int | np.integer)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed}")
    if n_leads < 1:
        raise ValueError(f"n_leads must be at least 1, not {n_leads}")
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    if isinstance(end, datetime) or not isinstance(end, date):
        raise TypeError(f"end must be a datetime.date (the last day of data), not {type(end).__name__}")


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for candidate in range(day.day, 27, -1):  # clamp the 31st to the month's last day
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    return date(year, month + 1, min(day.day, 28))


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def _mentions(role: str, words: Sequence[str]) -> bool:
    # Short words ("ae", "vp") must be whole tokens of the role; longer ones may be part of it.
    text = role.lower()
    tokens = set(re.split(r"[^a-z]+", text))
    return any(w in tokens if len(w) <= 3 else w in text for w in words)


def _role_pick(people: list[tuple[str, str]], wanted: Sequence[str]) -> list[str]:
    """People whose role mentions one of ``wanted``; else everyone but the leaders; else everyone."""
    chosen = [pid for pid, role in people if _mentions(role, wanted)]
    if chosen:
        return chosen
    leaders = ("vp", "head", "chief", "director", "manager", "lead", "cmo", "cro", "ceo")
    return [pid for pid, role in people if not _mentions(role, leaders)] or [pid for pid, _ in people]


@attrs.frozen
class _Facts:
    """What the generator reads from a plan, with fallbacks filled in."""

    stage_ids: list[str]
    stage_kind: list[str]
    stage_terminal: list[str | None]
    stage_sales: I64  # 1 where the stage is owned by a sales-function team
    stage_deal: I64  # 1 where entering the stage creates a deal
    entry: I64
    edge_src: I64
    edge_dst: I64
    edge_kind: I64
    edge_max: I64  # max_recycles, -1 for no limit
    edge_slot: I64  # recycle counter slot, -1 for other edges
    rate: F64  # per stage: share that moves forward
    marketing_team: str
    sales_team: str
    marketers: list[str]
    sdrs: list[str]
    closers: list[str]
    personas: list[str]
    persona_grades: list[list[str]]
    persona_titles: list[list[str]]
    persona_seniorities: list[list[str]]
    persona_industries: list[list[str]]
    persona_regions: list[list[str]]
    persona_outcome: list[str | None]  # an activity outcome a persona's signals look for
    signal_channels: list[str]  # touchpoint channels the personas' signals look for
    grades: list[str]
    calendar: BusinessCalendar
    response_hours: float
    response_types: list[str]
    tiers: list[tuple[set[str], set[str], float | None, int | None]]
    min_attempts: int
    disposition_days: int
    reasons: list[str]
    positive_reason: int
    unable_reason: int  # index in reasons, -1 when there is none
    pause_statuses: list[str]
    deal_size: int
    home_currency: str

    @classmethod
    def of(cls, plan: AlignmentPlan) -> _Facts:
        journey = plan.journey
        stages = journey.stages
        index = {s.id: i for i, s in enumerate(stages)}
        functions = {t.id: t.function for t in plan.teams}
        marketing_team = plan.teams_with_function("marketing")[0].id
        sales_team = plan.teams_with_function("sales")[0].id

        edges = [(index[t.source], index[t.to], t) for t in journey.transitions]
        slots: dict[int, int] = {}
        kinds, maxes = [], []
        for n, (_, dst, t) in enumerate(edges):
            lost = stages[dst].terminal in ("lost", "disqualified")
            kinds.append(_DISQUALIFY if t.kind == "disqualify" or lost else _KIND_CODE[t.kind])
            maxes.append(t.max_recycles if t.kind == "recycle" and t.max_recycles is not None else -1)
            if t.kind == "recycle":
                slots[n] = len(slots)
        rates = plan.targets.conversion_rates if plan.targets else {}
        opportunity = [s.kind == "opportunity" for s in stages]
        deal_stage = opportunity if any(opportunity) else [s.terminal == "won" for s in stages]

        sales_people = [(p.id, p.role) for p in plan.people if functions.get(p.team) == "sales"]
        marketing_people = [(p.id, p.role) for p in plan.people if functions.get(p.team) == "marketing"]
        sdrs = _role_pick(sales_people, ("sdr", "bdr", "development")) if sales_people else []
        closers = (
            _role_pick(sales_people, ("account_exec", "account exec", "closer", "ae")) if sales_people else []
        )
        sdrs = sdrs or list(_FALLBACK_SALES_PEOPLE)
        closers = closers or sdrs

        personas = plan.personas
        grades = list(
            dict.fromkeys([b.grade for p in personas for b in p.scoring.grades] + [*_FALLBACK_GRADES])
        )
        outcomes: list[str | None] = []
        channels: list[str] = []
        for p in personas:
            found: str | None = None
            for signal in (*p.interest_signals, *p.readiness_signals):
                value = signal.where.get("outcome" if signal.on == "activity" else "channel")
                values = [value] if isinstance(value, str) else list(value or [])
                if signal.on == "activity" and values and found is None:
                    found = values[0]
                if signal.on == "touchpoint":
                    channels += values
            outcomes.append(found)
        known_channels = {c for c, _ in (*_MARKETING_CHANNELS, *_SALES_CHANNELS)}

        sla = plan.sla
        calendar = sla.calendar if sla is not None else BusinessCalendar(timezone="UTC")
        first = sla.sales.first_response if sla is not None else None
        attempts = sla.sales.attempts if sla is not None else None
        disposition = sla.sales.disposition if sla is not None else None
        reasons = list(disposition.reasons) if disposition is not None else list(_FALLBACK_REASONS)
        positive = next(
            (
                i
                for i, r in enumerate(reasons)
                if "qualif" in r.lower() and not r.lower().startswith(("dis", "un", "not"))
            ),
            0,
        )
        unable_name = disposition.unable_to_reach_reason if disposition is not None else None
        unable = (
            reasons.index(unable_name)
            if unable_name
            else next((i for i, r in enumerate(reasons) if "reach" in r), -1)
        )

        targets = plan.targets
        size = targets.average_deal_size if targets is not None else None
        return cls(
            stage_ids=[s.id for s in stages],
            stage_kind=[s.kind for s in stages],
            stage_terminal=[s.terminal for s in stages],
            stage_sales=np.array([functions.get(s.owner) == "sales" for s in stages], dtype=np.int64),
            stage_deal=np.array(deal_stage, dtype=np.int64),
            entry=np.array([index[s.id] for s in journey.entry_stages()] or [0], dtype=np.int64),
            edge_src=np.array([e[0] for e in edges], dtype=np.int64),
            edge_dst=np.array([e[1] for e in edges], dtype=np.int64),
            edge_kind=np.array(kinds, dtype=np.int64),
            edge_max=np.array(maxes, dtype=np.int64),
            edge_slot=np.array([slots.get(n, -1) for n in range(len(edges))], dtype=np.int64),
            rate=np.array(
                [float(rates[s.id]) if s.id in rates else _DEFAULT_RATE[s.kind] for s in stages],
                dtype=np.float64,
            ),
            marketing_team=marketing_team,
            sales_team=sales_team,
            marketers=_role_pick(marketing_people, ("marketer", "specialist", "coordinator"))
            if marketing_people
            else [],
            sdrs=sdrs,
            closers=closers,
            personas=[p.id for p in personas],
            persona_grades=[[b.grade for b in p.scoring.grades] or list(_FALLBACK_GRADES) for p in personas],
            persona_titles=[list(p.roles.titles) for p in personas],
            persona_seniorities=[list(p.roles.seniorities) for p in personas],
            persona_industries=[list(p.firmographics.industries) for p in personas],
            persona_regions=[list(p.firmographics.regions) for p in personas],
            persona_outcome=outcomes,
            signal_channels=sorted(set(channels) - known_channels),
            grades=grades,
            calendar=calendar,
            response_hours=float(first.within_hours) if first is not None else _FALLBACK_RESPONSE_HOURS,
            response_types=[
                a for a in (first.activities if first else ["call", "email"]) if a in _ACTIVITY_TYPES
            ]
            or ["call"],
            tiers=[
                (
                    set(t.grades),
                    set(t.personas),
                    float(t.first_response_hours) if t.first_response_hours is not None else None,
                    t.min_attempts,
                )
                for t in (sla.tiers if sla is not None else [])
            ],
            min_attempts=attempts.minimum if attempts is not None else 0,
            disposition_days=disposition.within_business_days
            if disposition is not None
            else _FALLBACK_DISPOSITION_DAYS,
            reasons=reasons,
            positive_reason=positive,
            unable_reason=unable,
            pause_statuses=list(sla.pause_statuses) if sla is not None else [],
            deal_size=max(1, int(size.amount)) if size is not None else _FALLBACK_DEAL_SIZE,
            home_currency=size.currency if size is not None else plan.currency or _FALLBACK_CURRENCY,
        )

    @property
    def currencies(self) -> tuple[str, str]:
        """(European currency, American currency): the plan's home currency and USD, or EUR and USD."""
        return ("EUR" if self.home_currency == "USD" else self.home_currency, "USD")


# --------------------------------------------------------------------------------------------------
# Business time in whole minutes: "add N business minutes" is two array searches for any number of rows.


class _BusinessMinutes:
    """The SLA calendar's business time over the generator's window, counted in whole minutes.

    A view of frames' :class:`~smarketing.frames._calendar.BusinessClock` (the one business clock of the
    library): positions are business minutes since ``start_us`` (times outside the window count as its
    edges), and a position past ``end_us`` is "never" (int64 max), which every caller drops as after the end.
    """

    def __init__(self, calendar: BusinessCalendar, start_us: int, end_us: int) -> None:
        self.start_us = start_us // _US_PER_MINUTE * _US_PER_MINUTE
        self.end_us = end_us // _US_PER_MINUTE * _US_PER_MINUTE
        zone = calendar.zone
        first = datetime.fromtimestamp(start_us / 1e6, UTC).astimezone(zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_us / 1e6, UTC).astimezone(zone).date() + timedelta(days=1)
        try:
            self.clock = BusinessClock(calendar, first, last)
            self.base = int(self.clock.minute_positions(np.array([self.start_us], dtype=np.int64))[0])
            self.total = int(self.business(np.array([self.end_us], dtype=np.int64))[0])
        except ClosedCalendarError:
            self.total = 0
        if self.total == 0:  # no response could ever be timed: refuse, as every other clock does
            raise ClosedCalendarError(
                "synthetic data needs business time, but the SLA calendar (sla.calendar) is not open at all "
                f"between {first} and {last}; give it weekly hours or open dates in those days"
            )
        # Average open minutes of an open day: the length of a "business day" for day-based deadlines.
        self.minutes_per_day = max(60.0, float(self.total) / max(1, self.clock.closes.size))

    def business(self, t_us: I64) -> I64:
        """Business minutes elapsed from the window's start to the minute that contains each time."""
        result: I64 = self.clock.minute_positions(np.clip(t_us, self.start_us, self.end_us)) - self.base
        return result

    def time(self, business: I64) -> I64:
        """The end of the open minute in which ``business`` business minutes have elapsed (at least one).

        Past the end of the window the answer is "never" (int64 max), which every caller drops as too late.
        """
        k = np.maximum(business, 1)
        inside = k <= self.total
        return np.where(inside, self.clock.minute_instants(np.where(inside, k, 1) + self.base), _NEVER)

    def after(self, t_us: I64, minutes: F64) -> I64:
        """``t_us`` plus ``minutes`` business minutes (at least one), at minute resolution."""
        return self.time(self.business(t_us) + np.maximum(1, np.ceil(minutes)).astype(np.int64))


# --------------------------------------------------------------------------------------------------
# Accounts and the people behind each lead.


@attrs.frozen
class _Accounts:
    frame: pl.DataFrame
    industry: I64
    size: I64
    region: I64
    country: I64
    regions: list[str]
    countries: list[str | None]
    industries: list[str]


def _weighted(rng: np.random.Generator, weights: Sequence[float], n: int) -> I64:
    p = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    pick: I64 = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), p.size - 1).astype(np.int64)
    return pick


def _choose(rng: np.random.Generator, weights: F64, row: I64) -> I64:
    """One column per element, drawn with the weights of its row of ``weights`` (rows x columns)."""
    rows, width = weights.shape
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    # Row r's cumulative weights shifted into [r, r + 1]: one sorted array, one search for all elements.
    flat = (cum + np.arange(rows)[:, None]).ravel()
    pick = np.searchsorted(flat, row + rng.random(row.size), side="right") - row * width
    chosen: I64 = np.minimum(pick, width - 1).astype(np.int64)
    return chosen


def _take(values: Sequence[str | None], index: I64) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(index)


_DIGITS: Final = 4


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    """``prefix`` + the numbers 1..n zero-padded to ``width`` (wider when n needs it).

    Glued from gathered blocks of four digits: several times faster than formatting numbers as text.
    """
    width = max(width, len(str(n)))
    blocks = pl.Series([f"{i:0{_DIGITS}d}" for i in range(10**_DIGITS)], dtype=pl.String)
    number = np.arange(1, n + 1, dtype=np.int64)
    parts: list[pl.Series | pl.Expr] = [pl.lit(prefix)]
    head = width % _DIGITS
    if head:
        parts.append(
            pl.Series([f"{i:0{head}d}" for i in range(10**head)]).gather(
                number // 10 ** (width - head) % 10**head
            )
        )
    parts.extend(
        blocks.gather(number // 10 ** (k * _DIGITS) % 10**_DIGITS)
        for k in range(width // _DIGITS - 1, -1, -1)
    )
    return pl.select(
        pl.concat_str([pl.lit(p) if isinstance(p, pl.Series) else p for p in parts]).alias("id")
    ).to_series()


def _accounts(rng: np.random.Generator, facts: _Facts, n: int) -> _Accounts:
    favoured_industries = [i for p in facts.persona_industries for i in p]
    industries = list(dict.fromkeys([*favoured_industries, *_INDUSTRIES]))
    favoured_regions = {r for p in facts.persona_regions for r in p}
    regions = list(
        dict.fromkeys(
            [*sorted(favoured_regions, key=[r for p in facts.persona_regions for r in p].index), *_REGIONS]
        )
    )
    countries: list[str | None] = []
    region_of_country: list[int] = []
    for r, name in enumerate(regions):
        for code in _REGIONS.get(name, (None,)):
            countries.append(code)
            region_of_country.append(r)
    industry = _weighted(rng, [3.0 if i in favoured_industries else 1.0 for i in industries], n)
    region = _weighted(rng, [3.0 if r in favoured_regions else 1.0 for r in regions], n)
    # Countries within a region: the first (largest market) twice as likely as each of the others.
    first_country = np.array([region_of_country.index(r) for r in range(len(regions))], dtype=np.int64)
    per_region = np.bincount(np.array(region_of_country, dtype=np.int64), minlength=len(regions))
    offset = np.where(
        rng.random(n) < 2 / (per_region[region] + 1),
        0,
        1 + (rng.random(n) * (per_region[region] - 1)).astype(np.int64),
    )
    country = first_country[region] + np.minimum(offset, per_region[region] - 1)
    size = np.clip(np.round(rng.lognormal(math.log(400), 1.3, n)), 5, 100_000).astype(np.int64)
    names = [f"{a} {b}" for a in _NAME_FIRST for b in _NAME_SECOND]
    frame = pl.DataFrame(
        {
            "id": _ids("A", n, 6),
            "name": _take(names, rng.integers(0, len(names), n)),
            "industry": _take(industries, industry),
            "company_size": size,
            "region": _take(regions, region),
            "country": _take(countries, country),
        }
    )
    return _Accounts(frame, industry, size, region, country, regions, countries, industries)


@attrs.frozen
class _People:
    """Per-lead draws that later parts share: account, persona, grade, who works the lead, when it starts."""

    account: I64
    persona: I64  # index in facts.personas, -1 for none
    grade: I64  # index in facts.grades
    sdr: I64  # index in facts.sdrs
    closer: I64  # index in facts.closers
    marketer: I64  # index in facts.marketers, -1 when the plan has none
    created: I64  # UTC microseconds
    boost: F64  # multiplies the chance to move forward: good fits convert better
    response_minutes: F64  # first-response target in business minutes (strictest matching tier)
    min_attempts: I64
    ids: pl.Series  # lead ids, gathered wherever a frame names a lead


def _lead_people(
    rng: np.random.Generator,
    facts: _Facts,
    *,
    accounts: _Accounts,
    n: int,
    start_us: int,
    end_us: int,
    clock: _BusinessMinutes,
) -> _People:
    n_accounts = accounts.size.size
    # A few accounts have many leads (skewed), most one to three.
    account = np.minimum((n_accounts * rng.random(n) ** 1.4).astype(np.int64), n_accounts - 1)
    k = len(facts.personas)
    if k:
        persona = np.where(rng.random(n) < _PERSONA_SHARE, rng.integers(0, k, n), -1)
    else:
        persona = np.full(n, -1, dtype=np.int64)

    # Grade: one of the persona's bands (the middle ones most common); no persona mostly the lowest.
    grade_index = {g: i for i, g in enumerate(facts.grades)}
    table = np.zeros((k + 1, len(facts.grades)), dtype=np.float64)
    boost_of_grade = np.ones((k + 1, len(facts.grades)), dtype=np.float64)
    for p, bands in enumerate([*facts.persona_grades, list(_FALLBACK_GRADES)]):
        weights = [0.25, 0.45, 0.3] if len(bands) == 3 else [1.0] * len(bands)
        if p == k:
            weights = [0.1, 0.3, 0.6]
        for position, (band, w) in enumerate(zip(bands, weights, strict=True)):
            table[p, grade_index[band]] = w
            span = max(1, len(bands) - 1)
            boost_of_grade[p, grade_index[band]] = (1.25 - 0.5 * position / span) * (0.75 if p == k else 1.0)
    row = np.where(persona < 0, k, persona)
    grade = _choose(rng, table, row)

    # SLA targets per (persona, grade): the strictest tier that selects the lead.
    minutes = np.full((k + 1, len(facts.grades)), facts.response_hours * 60, dtype=np.float64)
    attempts = np.full((k + 1, len(facts.grades)), facts.min_attempts, dtype=np.int64)
    for p in range(k + 1):
        for g, band in enumerate(facts.grades):
            for grades, personas, hours, tier_attempts in facts.tiers:
                if band in grades or (p < k and facts.personas[p] in personas):
                    if hours is not None:
                        minutes[p, g] = min(minutes[p, g], hours * 60)
                    if tier_attempts is not None:
                        attempts[p, g] = max(attempts[p, g], tier_attempts)

    # Good fits convert better; scaled so that the average lead converts at the plan's rates.
    boost = boost_of_grade[row, grade]
    boost = boost / boost.mean()

    # Leads arrive mostly in business hours (forms, events, SDR prospecting), some at any time.
    in_hours = rng.random(n) < 0.7
    b0, b1 = clock.business(np.array([start_us, end_us], dtype=np.int64))
    business = clock.time(b0 + 1 + (rng.random(n) * max(1, b1 - b0 - 1)).astype(np.int64))
    business -= rng.integers(1, 60, n) * 1_000_000
    anytime = start_us + (rng.random(n) * (end_us - start_us - 1)).astype(np.int64)
    created = np.where(in_hours, business, anytime)
    created = np.clip(created, start_us, end_us - 1)

    return _People(
        account=account,
        persona=persona,
        grade=grade,
        sdr=rng.integers(0, len(facts.sdrs), n),
        closer=rng.integers(0, len(facts.closers), n),
        marketer=rng.integers(0, len(facts.marketers), n)
        if facts.marketers
        else np.full(n, -1, dtype=np.int64),
        created=created,
        boost=boost,
        response_minutes=minutes[row, grade],
        min_attempts=attempts[row, grade],
        ids=_ids("L", n, 7),
    )


# --------------------------------------------------------------------------------------------------
# The journey walk: every lead moves one step per round, all leads of a round at once.


@attrs.frozen
class _Events:
    lead: I64
    source: I64  # stage index, -1 for the first event
    to: I64
    time: I64
    kind: I64


def _pad(groups: list[list[int]]) -> tuple[I64, I64]:
    width = max(1, *(len(g) for g in groups))
    table = np.full((len(groups), width), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        table[i, : len(g)] = g
    return table, np.array([len(g) for g in groups], dtype=np.int64)


def _walk(
    rng: np.random.Generator, facts: _Facts, people: _People, end_us: int, clock: _BusinessMinutes
) -> _Events:
    n = people.created.size
    n_stages = len(facts.stage_ids)
    forward: list[list[int]] = [[] for _ in range(n_stages)]
    recycle: list[list[int]] = [[] for _ in range(n_stages)]
    fail: list[list[int]] = [[] for _ in range(n_stages)]
    for e, (src, kind) in enumerate(zip(facts.edge_src.tolist(), facts.edge_kind.tolist(), strict=True)):
        {_RECYCLE: recycle, _DISQUALIFY: fail}.get(kind, forward)[src].append(e)
    fwd_tab, fwd_n = _pad(forward)
    rec_tab, rec_n = _pad(recycle)
    fail_tab, fail_n = _pad(fail)
    rate = np.where(fwd_n > 0, facts.rate, 0.0)
    # What happens to the leads that do not move forward: recycled, dropped (disqualified or lost) or
    # left where they are. Terminal stages mostly keep their leads.
    terminal = np.array([t is not None for t in facts.stage_terminal])
    w_rec = np.where(rec_n > 0, 0.62, 0.0)
    w_fail = np.where(fail_n > 0, 0.3, 0.0)
    w_stay = np.where(terminal, 4.0, 0.08)
    total = w_rec + w_fail + w_stay
    cut_rec, cut_fail = w_rec / total, (w_rec + w_fail) / total
    has_out = (fwd_n + rec_n + fail_n) > 0
    dwell = np.array([_DWELL_DAYS[k] for k in facts.stage_kind], dtype=np.float64)
    edge_days = (
        np.where(
            facts.edge_kind == _RECYCLE,
            _RECYCLE_DAYS,
            np.where(
                facts.edge_kind == _DISQUALIFY,
                np.minimum(_DISQUALIFY_DAYS, dwell[facts.edge_src]),
                dwell[facts.edge_src],
            ),
        )
        if facts.edge_src.size
        else np.zeros(0)
    )
    n_slots = max(1, int(facts.edge_slot.max(initial=-1)) + 1)
    counts = np.zeros((n, n_slots), dtype=np.int16)
    nurture = np.zeros(n, dtype=np.bool_)

    entry = (
        facts.entry[rng.integers(0, facts.entry.size, n)]
        if facts.entry.size > 1
        else np.full(n, facts.entry[0])
    )
    chunks = [
        (
            np.arange(n, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            entry,
            people.created,
            np.zeros(n, dtype=np.int64),
        )
    ]
    stage = entry.copy()
    now = people.created.copy()
    active = np.arange(n, dtype=np.int64)
    for _ in range(_MAX_STEPS):
        active = active[has_out[stage[active]]]
        if active.size == 0:
            break
        s = stage[active]
        m = active.size
        u, pick, u2 = rng.random(m), rng.random(m), rng.random(m)
        # The boost multiplies the odds, so high base rates stay below 1 and the average stays near plan.
        odds = rate[s] / np.maximum(1e-9, 1 - rate[s]) * people.boost[active]
        forward_move = u < np.where(rate[s] >= 1, 1.0, odds / (1 + odds))
        fwd = fwd_tab[s, np.minimum((pick * fwd_n[s]).astype(np.int64), fwd_tab.shape[1] - 1)]
        rec = rec_tab[s, np.minimum((pick * rec_n[s]).astype(np.int64), rec_tab.shape[1] - 1)]
        drop = fail_tab[s, np.minimum((pick * fail_n[s]).astype(np.int64), fail_tab.shape[1] - 1)]
        edge = np.where(
            forward_move, fwd, np.where(u2 < cut_rec[s], rec, np.where(u2 < cut_fail[s], drop, -1))
        )
        # A recycle taken max_recycles times is closed: the lead is dropped instead (or stays).
        slot = np.where(edge >= 0, facts.edge_slot[np.maximum(edge, 0)], -1)
        limit = np.where(edge >= 0, facts.edge_max[np.maximum(edge, 0)], -1)
        used = counts[active, np.maximum(slot, 0)]
        exhausted = (slot >= 0) & (limit >= 0) & (used >= limit)
        edge = np.where(exhausted, drop, edge)
        moving = edge >= 0
        active, s, edge = active[moving], s[moving], edge[moving]
        if active.size == 0:
            break
        days = rng.gamma(2.0, edge_days[edge] / 2.0)
        days = np.where(nurture[active] & (facts.edge_kind[edge] != _RECYCLE), days * _NURTURE_FACTOR, days)
        then = now[active] + np.maximum(60_000_000, (days * _US_PER_DAY).astype(np.int64))
        to = facts.edge_dst[edge]
        # People move leads in sales-owned stages during business hours.
        by_sales = facts.stage_sales[to] == 1
        snapped = clock.after(then, rng.random(active.size) * 30)
        then = np.where(by_sales, np.maximum(snapped, then), then)
        ok = then < end_us
        active, s, edge, then, to = active[ok], s[ok], edge[ok], then[ok], to[ok]
        chunks.append((active, s, to, then, facts.edge_kind[edge]))
        slot = facts.edge_slot[edge]
        took_recycle = slot >= 0
        counts[active[took_recycle], slot[took_recycle]] += 1
        nurture[active] = took_recycle
        stage[active] = to
        now[active] = then

    lead, source, to, when, kind = (np.concatenate(parts) for parts in zip(*chunks, strict=True))
    # Each round's chunk is in lead order and rounds are in time order, so a stable sort by lead (which
    # merges the already sorted runs) puts every lead's events in time order.
    order = np.argsort(lead, kind="stable")
    return _Events(lead[order], source[order], to[order], when[order], kind[order])


def _deviate(rng: np.random.Generator, facts: _Facts, walk: _Events, end_us: int) -> _Events:
    """Make about 4% of leads leave the map: drop a middle event, or add one unmapped move at the end."""
    n_stages = len(facts.stage_ids)
    mapped = np.zeros((n_stages, n_stages), dtype=np.bool_)
    mapped[facts.edge_src, facts.edge_dst] = True
    np.fill_diagonal(mapped, True)
    lead, size = walk.lead, walk.lead.size
    n_leads = int(lead[-1]) + 1
    chosen = rng.random(n_leads) < _DEVIATION_SHARE
    skip = chosen & (rng.random(n_leads) < _SKIP_SHARE)

    first, last = _firsts(lead), _lasts(lead)
    # An event can go when its neighbours, joined, make a move the map does not have.
    removable = ~first & ~last
    prev_to = np.roll(walk.to, 1)
    next_to = np.roll(walk.to, -1)
    removable &= ~mapped[prev_to, next_to]
    removable &= skip[lead]
    candidates = np.flatnonzero(removable)
    key = rng.random(candidates.size)
    order = np.lexsort((key, lead[candidates]))
    picked = candidates[order]
    keep_first = np.ones(picked.size, dtype=np.bool_)
    keep_first[1:] = lead[picked][1:] != lead[picked][:-1]
    dropped = picked[keep_first]
    done = np.zeros(n_leads, dtype=np.bool_)
    done[lead[dropped]] = True

    # The rest get one more event from their last stage to a stage the map does not lead to from there:
    # a regression, a jump ahead, or (from a terminal stage) an event after the end of the journey.
    tails = np.flatnonzero(last & chosen[lead] & ~done[lead])
    options = [np.flatnonzero(~mapped[s]) for s in range(n_stages)]
    option_tab, option_n = _pad([o.tolist() for o in options])
    here = walk.to[tails]
    tails, here = tails[option_n[here] > 0], here[option_n[here] > 0]
    there = option_tab[here, (rng.random(tails.size) * option_n[here]).astype(np.int64)]
    then = walk.time[tails] + (rng.gamma(2.0, 5.0, tails.size) * _US_PER_DAY).astype(np.int64)
    then = np.where(then < end_us, then, walk.time[tails] + np.maximum(1, (end_us - walk.time[tails]) // 2))
    then = np.minimum(then, end_us - 1)
    later = then > walk.time[tails]
    tails, here, there, then = tails[later], here[later], there[later], then[later]

    keep = np.ones(size, dtype=np.bool_)
    keep[dropped] = False
    source = walk.source.copy()
    # The event after a dropped one now leaves from the stage before it.
    source[dropped + 1] = walk.to[dropped - 1]
    out_lead = np.concatenate([lead[keep], lead[tails]])
    out = _Events(
        out_lead,
        np.concatenate([source[keep], here]),
        np.concatenate([walk.to[keep], there]),
        np.concatenate([walk.time[keep], then]),
        np.concatenate([walk.kind[keep], np.full(tails.size, -1, dtype=np.int64)]),
    )
    # Kept events are in order and each added one is later than its lead's others: a stable sort by lead.
    order = np.argsort(out.lead, kind="stable")
    return _Events(out.lead[order], out.source[order], out.to[order], out.time[order], out.kind[order])


def _firsts(lead: I64) -> Mask:
    """Where a new lead starts in an array sorted by lead."""
    mask = np.ones(lead.size, dtype=np.bool_)
    mask[1:] = lead[1:] != lead[:-1]
    return mask


def _lasts(lead: I64) -> Mask:
    """Where a lead ends in an array sorted by lead."""
    mask = np.ones(lead.size, dtype=np.bool_)
    mask[:-1] = lead[:-1] != lead[1:]
    return mask


def _events_frame(facts: _Facts, people: _People, events: _Events) -> pl.DataFrame:
    stages = facts.stage_ids
    # Sales moves are made by the lead's SDR, deal stages and closes by its account executive.
    closing = np.array(
        [
            k in ("opportunity", "customer") or t in ("won", "lost")
            for k, t in zip(facts.stage_kind, facts.stage_terminal, strict=True)
        ]
    )
    by_sales = facts.stage_sales[events.to] == 1
    actors = [*facts.sdrs, *facts.closers, None]
    actor = np.where(
        by_sales,
        np.where(closing[events.to], len(facts.sdrs) + people.closer[events.lead], people.sdr[events.lead]),
        len(actors) - 1,
    )
    return pl.DataFrame(
        {
            "lead_id": _lead_ids(people, events.lead),
            "from": _take([*stages, None], np.where(events.source < 0, len(stages), events.source)),
            "to": _take(stages, events.to),
            "time": _times(events.time),
            "actor": _take(actors, actor),
        }
    )


def _lead_ids(people: _People, rows: I64) -> pl.Series:
    return people.ids.gather(rows)


def _times(us: I64) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


# --------------------------------------------------------------------------------------------------
# Touchpoints, sales follow-up and deals.


def _first_handoff(walk: _Events, n: int) -> I64:
    """Per lead, the time of its first handoff (int64 max for none)."""
    handoff = np.full(n, _NEVER, dtype=np.int64)
    at = np.flatnonzero(walk.kind == _HANDOFF)
    at = at[_firsts(walk.lead[at])]
    handoff[walk.lead[at]] = walk.time[at]
    return handoff


def _touchpoints(
    rng: np.random.Generator, facts: _Facts, people: _People, walk: _Events, end_us: int
) -> _Touches:
    n = people.created.size
    count = 1 + np.minimum(rng.negative_binomial(2, 2 / 5.5, n), 19)  # 1-20, mean about 4.5
    lead = np.repeat(np.arange(n, dtype=np.int64), count)
    start = np.cumsum(count) - count
    position = np.arange(lead.size, dtype=np.int64) - start[lead]
    # Spread the touches over the lead's active life (plus some nurture after): sorted random points from
    # cumulative exponential gaps, the first exactly at creation.
    last_event = np.zeros(n, dtype=np.int64)
    ends = _lasts(walk.lead)
    last_event[walk.lead[ends]] = walk.time[ends]
    horizon = np.maximum(last_event, people.created + 30 * _US_PER_DAY) + 21 * _US_PER_DAY
    span = np.maximum(0, np.minimum(horizon, end_us - 1) - people.created - count)
    gaps = rng.exponential(1.0, lead.size)
    cum = np.cumsum(gaps)
    before = cum - gaps - (cum - gaps)[start][lead]
    total = (cum[start + count - 1] - (cum - gaps)[start]) + rng.exponential(1.0, n)
    when = people.created[lead] + (before / total[lead] * span[lead]).astype(np.int64) + position

    handoff = _first_handoff(walk, n)
    channels = [c for c, _ in _MARKETING_CHANNELS] + facts.signal_channels
    weights = [w for _, w in _MARKETING_CHANNELS] + [0.03] * len(facts.signal_channels)
    marketing = _weighted(rng, weights, lead.size)
    sales = _weighted(rng, [w for _, w in _SALES_CHANNELS], lead.size)
    by_sales = (when >= handoff[lead]) & (rng.random(lead.size) < _SALES_TOUCH_SHARE) & (position > 0)
    all_channels = [*channels, *(c for c, _ in _SALES_CHANNELS)]
    channel = np.where(by_sales, len(channels) + sales, marketing)
    # Demos and meetings are run by the account executive, calls and e-mails by the SDR.
    people_list = [*facts.marketers, *facts.sdrs, *facts.closers, None]
    closer_touch = by_sales & (sales >= 2)
    owner = np.where(
        by_sales,
        np.where(
            closer_touch,
            len(facts.marketers) + len(facts.sdrs) + people.closer[lead],
            len(facts.marketers) + people.sdr[lead],
        ),
        np.where(
            people.marketer[lead] >= 0,
            rng.integers(0, max(1, len(facts.marketers)), lead.size),
            len(people_list) - 1,
        ),
    )
    # Campaigns are per marketing channel and quarter ("webinar-2026-q3"); organic, referral, web visits
    # and sales touches have none.
    quarter = when.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) // 3
    q0 = int(quarter.min())
    quarters = int(quarter.max()) - q0 + 1
    names: list[str | None] = [
        f"{c}-{1970 + (q0 + q) // 4}-q{(q0 + q) % 4 + 1}" if c in _CAMPAIGN_CHANNELS else None
        for c in channels
        for q in range(quarters)
    ]
    campaign = np.where(by_sales, len(names), marketing * quarters + quarter - q0)
    frame = pl.DataFrame(
        {
            "id": _ids("T", lead.size, 8),
            "lead_id": _lead_ids(people, lead),
            "time": _times(when),
            "channel": _take(all_channels, channel),
            "team": _take([facts.marketing_team, facts.sales_team], by_sales.astype(np.int64)),
            "owner": _take(people_list, owner),
            "campaign": _take([*names, None], campaign),
        }
    )
    # The first touch (at creation, always by marketing) is the lead's source and campaign.
    return _Touches(frame, frame["channel"].gather(start), frame["campaign"].gather(start))


@attrs.frozen
class _Touches:
    frame: pl.DataFrame
    source: pl.Series  # per lead
    campaign: pl.Series  # per lead


def _follow_up(
    rng: np.random.Generator,
    facts: _Facts,
    *,
    people: _People,
    walk: _Events,
    end_us: int,
    clock: _BusinessMinutes,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sales activities and dispositions after every handoff."""
    handoffs = np.flatnonzero(walk.kind == _HANDOFF)
    lead = walk.lead[handoffs]
    h = handoffs.size
    n = people.created.size
    # What happened next decides the disposition: moved forward (or the handoff itself won the deal) ->
    # the positive reason; recycled, dropped or nothing yet -> one of the others.
    has_next = handoffs + 1 < walk.lead.size
    nxt = np.minimum(handoffs + 1, walk.lead.size - 1)
    forward = has_next & (walk.lead[nxt] == lead) & np.isin(walk.kind[nxt], [_PROGRESSION, _HANDOFF])
    won = np.array([t == "won" for t in facts.stage_terminal], dtype=np.bool_)
    forward |= won[walk.to[handoffs]]
    reasons = facts.reasons
    others = [i for i in range(len(reasons)) if i != facts.positive_reason] or [facts.positive_reason]
    reason = np.where(forward, facts.positive_reason, np.array(others)[rng.integers(0, len(others), h)])
    unreachable = (reason == facts.unable_reason) & (facts.unable_reason >= 0)

    required = people.min_attempts[lead]
    mean = float(np.clip(_ACTIVITIES_PER_LEAD * n / max(1, h), 1.0, 10.0))
    attempts = 1 + rng.binomial(9, (mean - 1) / 9, h)
    early = unreachable & (rng.random(h) < _EARLY_UNREACHABLE) & (required >= 2)
    attempts = np.where(unreachable & ~early, np.maximum(attempts, required), attempts)
    attempts = np.where(early, 1 + (rng.random(h) * (required - 1)).astype(np.int64), attempts)
    attempts = np.clip(attempts, 1, 10)

    # First response: most well inside the target, the rest clearly late (margins keep the verdict stable
    # whatever minute rounding an evaluator uses).
    target = people.response_minutes[lead]
    breach = rng.random(h) < _BREACH_SHARE
    delay = np.where(breach, target * (1.15 + rng.exponential(1.5, h)), target * rng.uniform(0.05, 0.85, h))
    start = clock.business(walk.time[handoffs])
    row = np.repeat(np.arange(h, dtype=np.int64), attempts)
    first = np.cumsum(attempts) - attempts
    position = np.arange(row.size, dtype=np.int64) - first[row]
    gaps = np.where(position == 0, delay[row], 10 + rng.exponential(0.75 * clock.minutes_per_day, row.size))
    offsets = np.cumsum(np.ceil(gaps).astype(np.int64))
    offsets -= (offsets - np.ceil(gaps).astype(np.int64))[first][row]
    business = start[row] + offsets
    when = clock.time(business) - rng.integers(0, 60, row.size) * 1_000_000
    when = np.maximum(when, walk.time[handoffs][row] + 1_000_000)

    types = np.array(_ACTIVITY_TYPES)
    kind = _weighted(rng, _FOLLOW_UP_P, row.size)
    response = np.array([_ACTIVITY_TYPES.index(t) for t in facts.response_types], dtype=np.int64)
    kind = np.where(position == 0, response[rng.integers(0, response.size, row.size)], kind)
    reached = ~unreachable[row]
    kind = np.where(~reached & (kind == 2), 0, kind)  # nobody meets a lead they never reached
    table = np.array([_OUTCOME_P[(t, r)] for t in _ACTIVITY_TYPES for r in (True, False)], dtype=np.float64)
    outcome = _choose(rng, table, kind * 2 + (~reached))
    # A persona's activity signal (e.g. 'business_case_requested') shows up on some good conversations.
    vocabulary = [*_OUTCOMES, *dict.fromkeys(o for o in facts.persona_outcome if o)]
    special = np.array(
        [vocabulary.index(o) if o else -1 for o in facts.persona_outcome] + [-1], dtype=np.int64
    )[people.persona[lead][row]]
    good = np.isin(outcome, [_OUTCOMES.index("connected"), _OUTCOMES.index("held")])
    outcome = np.where(good & (special >= 0) & (rng.random(row.size) < 0.25), special, outcome)

    # A new handoff of the same lead (after a recycle) starts a new cadence: the old one stops there.
    again = np.zeros(h, dtype=np.bool_)
    again[:-1] = lead[1:] == lead[:-1]
    next_handoff = np.where(again, walk.time[handoffs[np.minimum(np.arange(1, h + 1), h - 1)]], _NEVER)
    ok = (when < end_us) & (when < next_handoff[row])
    activities = pl.DataFrame(
        {
            "id": _ids("ACT", int(ok.sum()), 8),
            "lead_id": _lead_ids(people, lead[row][ok]),
            "person": _take(facts.sdrs, people.sdr[lead][row][ok]),
            "time": _times(when[ok]),
            "type": _take(list(types), kind[ok]),
            "outcome": _take(vocabulary, outcome[ok]),
        }
    )

    # Dispositions: most inside the deadline, some late, some never; 'unable to reach' after the last attempt.
    deadline = facts.disposition_days * clock.minutes_per_day
    fate = rng.random(h)
    missing = fate < _DISPOSITION_MISSING
    late = ~missing & (fate < _DISPOSITION_MISSING + _DISPOSITION_LATE)
    after = np.where(late, deadline * rng.uniform(1.2, 2.5, h), deadline * rng.uniform(0.1, 0.8, h))
    last_attempt = business[first + attempts - 1] - start
    after = np.where(unreachable, np.maximum(after, last_attempt + 30), after)
    decided = clock.time(start + np.ceil(after).astype(np.int64)) - rng.integers(0, 60, h) * 1_000_000
    decided = np.maximum(decided, walk.time[handoffs] + 1_000_000)
    # A late disposition of one handoff can come after the next handoff's: order by lead, then time.
    kept = np.flatnonzero(~missing & (decided < end_us))
    kept = kept[np.lexsort((decided[kept], lead[kept]))]
    dispositions = pl.DataFrame(
        {
            "lead_id": _lead_ids(people, lead[kept]),
            "reason": _take(reasons, reason[kept]),
            "time": _times(decided[kept]),
            "person": _take(facts.sdrs, people.sdr[lead][kept]),
            "note": pl.repeat("", kept.size, dtype=pl.String, eager=True),
        }
    )
    return activities, dispositions


def _deals(
    rng: np.random.Generator,
    facts: _Facts,
    *,
    people: _People,
    accounts: _Accounts,
    events: _Events,
    end: date,
) -> pl.DataFrame:
    """One deal per lead that entered a deal stage; won, lost or open by the first terminal stage after."""
    terminal = np.array(
        [{"won": 1, "lost": 2, "disqualified": 2}.get(t or "", 0) for t in facts.stage_terminal]
    )
    n = people.created.size
    at = np.flatnonzero(facts.stage_deal[events.to] == 1)
    at = at[_firsts(events.lead[at])]
    lead = events.lead[at]
    m = lead.size
    opened = np.full(n, _NEVER, dtype=np.int64)
    opened[lead] = events.time[at]
    ends = np.flatnonzero((terminal[events.to] > 0) & (events.time >= opened[events.lead]))
    ends = ends[_firsts(events.lead[ends])]
    outcome_of = np.zeros(n, dtype=np.int64)
    outcome_of[events.lead[ends]] = terminal[events.to[ends]]
    closed_at = np.zeros(n, dtype=np.int64)
    closed_at[events.lead[ends]] = events.time[ends]
    account = people.account[lead]
    region = accounts.region[account]
    americas = np.array([r in _AMERICAS for r in accounts.regions], dtype=np.int64)[region]
    # Mean of the lognormal equals the plan's average deal size; whole currency units.
    amount = np.maximum(
        np.round(facts.deal_size * rng.lognormal(-(_DEAL_SIGMA**2) / 2, _DEAL_SIGMA, m)),
        max(1, facts.deal_size // 20),
    ).astype(np.int64)
    discount = np.where(
        rng.random(m) < _DISCOUNT_SHARE, np.maximum(1, np.round(amount * rng.uniform(0.05, 0.2, m))), 0
    ).astype(np.int64)
    outcome = outcome_of[lead]
    close_us = closed_at[lead]
    refund_days = rng.integers(1, 91, m)
    refunded = (outcome == 1) & (rng.random(m) < _REFUND_SHARE)
    owner = people.closer[lead]
    sales = list(dict.fromkeys([*facts.closers, *facts.sdrs]))
    owner_id = np.array([sales.index(c) for c in facts.closers], dtype=np.int64)[owner]
    sdr_id = np.array([sales.index(s) for s in facts.sdrs], dtype=np.int64)[people.sdr[lead]]
    partner = np.where(sdr_id != owner_id, sdr_id, (owner_id + 1) % len(sales))
    split = (rng.random(m) < _SPLIT_SHARE) & (len(sales) > 1)
    size = accounts.size[account]
    segment = np.where(size < 200, 0, np.where(size < 1000, 1, 2))

    share = pl.Decimal(38, 6)
    split_type = pl.List(pl.Struct({"person": pl.String(), "share": share, "kind": pl.String()}))
    # Revenue splits, 60% to the owner and 40% to the partner: a flat column of pairs cut into lists.
    rows = np.flatnonzero(split)
    pairs = pl.DataFrame(
        {
            "person": _take(sales, np.stack([owner_id[rows], partner[rows]], axis=1).ravel()),
            "share": pl.Series([Decimal("0.6"), Decimal("0.4")], dtype=share).gather(
                np.tile([0, 1], rows.size)
            ),
            "kind": pl.Series(["revenue"], dtype=pl.String).gather(np.zeros(2 * rows.size, dtype=np.int64)),
        }
    ).to_struct("splits")
    splits = pl.DataFrame({"row": rows, "splits": pairs.reshape((rows.size, 2)).cast(split_type)})
    out = pl.DataFrame(
        {
            "id": _ids("D", m, 6),
            "account_id": accounts.frame["id"].gather(account),
            "lead_id": _lead_ids(people, lead),
            "amount": amount,
            "amount_currency": _take(facts.currencies, americas),
            "discount": discount,
            "stage": _take(["open", "won", "lost"], outcome),
            "created_at": _times(events.time[at]),
            "close_date": _times(close_us).dt.date(),
            "owner": _take(sales, owner_id),
            "segment": _take(["smb", "mid_market", "enterprise"], segment),
            "refund_days": refund_days,
            "refunded": refunded,
            "row": np.arange(m, dtype=np.int64),
        }
    ).join(splits, on="row", how="left", maintain_order="left")
    refund = pl.col("close_date") + pl.duration(days=pl.col("refund_days"))
    return out.with_columns(
        pl.col("amount").cast(share),
        pl.when(pl.col("discount") > 0)
        .then(pl.col("discount").cast(share))
        .otherwise(None)
        .alias("discount"),
        pl.when(pl.col("discount") > 0)
        .then(pl.col("amount_currency"))
        .otherwise(None)
        .alias("discount_currency"),
        pl.when(pl.col("stage") != "open").then(pl.col("close_date")).otherwise(None).alias("close_date"),
        pl.lit(None, dtype=pl.String).alias("product"),
        pl.when(pl.col("refunded") & (refund <= end)).then(refund).otherwise(None).alias("refunded_on"),
        pl.col("splits").fill_null(pl.lit([], dtype=split_type)),
    )


def _leads_frame(
    rng: np.random.Generator,
    facts: _Facts,
    *,
    people: _People,
    accounts: _Accounts,
    walk: _Events,
    touchpoints: _Touches,
    events: _Events,
) -> pl.DataFrame:
    n = people.created.size
    account = people.account
    persona = people.persona
    k = len(facts.personas)
    seniorities = list(get_args(Seniority))
    words = list(dict.fromkeys([w for ts in facts.persona_titles for w in ts] + list(_TITLE_WORDS)))
    # Most leads have the persona's role; the rest anything.
    fits = (persona >= 0) & (rng.random(n) < 0.8)
    word = rng.integers(0, len(words), n)
    senior = rng.integers(0, len(seniorities), n)
    if k:
        p = np.maximum(persona, 0)
        for options, target, vocabulary in (
            (facts.persona_titles, "word", words),
            (facts.persona_seniorities, "senior", seniorities),
        ):
            tab, count = _pad([[vocabulary.index(o) for o in opts] for opts in options])
            own = tab[p, (rng.random(n) * np.maximum(count[p], 1)).astype(np.int64)]
            use = fits & (count[p] > 0)
            if target == "word":
                word = np.where(use, own, word)
            else:
                senior = np.where(use, own, senior)
    titles = [_title(s, w) for s in seniorities for w in words]

    handoff = _first_handoff(walk, n)
    handed = handoff < _NEVER
    owners = [*facts.sdrs, *facts.marketers, None]
    owner = np.where(
        handed, people.sdr, np.where(people.marketer >= 0, len(facts.sdrs) + people.marketer, len(owners) - 1)
    )
    # A few open leads sit in a status that pauses the SLA clock.
    is_last = _lasts(events.lead)
    last_stage = np.zeros(n, dtype=np.int64)
    last_stage[events.lead[is_last]] = events.to[is_last]
    open_lead = np.array([t is None for t in facts.stage_terminal])[last_stage]
    statuses = [*facts.pause_statuses, None]
    paused = open_lead & (rng.random(n) < _PAUSED_SHARE) & bool(facts.pause_statuses)
    status = np.where(paused, rng.integers(0, max(1, len(facts.pause_statuses)), n), len(statuses) - 1)

    return pl.DataFrame(
        {
            "id": _lead_ids(people, np.arange(n, dtype=np.int64)),
            "account_id": accounts.frame["id"].gather(account),
            "created_at": _times(people.created),
            "source": touchpoints.source,
            "campaign": touchpoints.campaign,
            "persona": _take([*facts.personas, None], np.where(persona < 0, k, persona)),
            "grade": _take(facts.grades, people.grade),
            "owner": _take(owners, owner),
            "title": _take(titles, senior * len(words) + word),
            "seniority": _take(seniorities, senior),
            "industry": _take(accounts.industries, accounts.industry[account]),
            "company_size": accounts.size[account],
            "region": _take(accounts.regions, accounts.region[account]),
            "country": _take(accounts.countries, accounts.country[account]),
            "status": _take(statuses, status),
        }
    )


def _title(seniority: str, word: str) -> str:
    subject = word.title() if len(word) > 2 else word.upper()
    return {
        "individual_contributor": f"{subject} Specialist",
        "manager": f"{subject} Manager",
        "director": f"Director of {subject}",
        "vp": f"VP {subject}",
        "c_level": f"Chief {subject} Officer",
        "owner": "Owner",
    }.get(seniority, subject)


# --------------------------------------------------------------------------------------------------
# Frames exactly as Dataset.from_records builds them.

_EMPTY: Final = Dataset()


def _conform(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The columns in record order with the types ``Dataset.from_records`` gives them."""
    return frame.select([pl.col(c).cast(t) for c, t in _EMPTY.frames()[kind].schema.items()])
