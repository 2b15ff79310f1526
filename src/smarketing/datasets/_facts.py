"""What the generator reads from a plan, with the documented fallbacks where a plan part is missing.

Stage, team, person, persona and reason ids; rates; SLA targets; the deal size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from smarketing.calendar import BusinessCalendar
from smarketing.datasets._columns import F64, I64
from smarketing.datasets._shape import (
    ACTIVITY_TYPES,
    DEFAULT_RATE,
    DISQUALIFY,
    FALLBACK_CURRENCY,
    FALLBACK_DEAL_SIZE,
    FALLBACK_DISPOSITION_DAYS,
    FALLBACK_GRADES,
    FALLBACK_REASONS,
    FALLBACK_RESPONSE_HOURS,
    FALLBACK_SALES_PEOPLE,
    KIND_CODE,
    MARKETING_CHANNELS,
    SALES_CHANNELS,
)
from smarketing.persona import Persona
from smarketing.plan import AlignmentPlan


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
class Facts:
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
    persona_models: list[Persona]
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
    def of(cls, plan: AlignmentPlan) -> Facts:
        """What the generator reads from ``plan``: journey, people, personas, SLA and deal size."""
        return cls(
            **_journey_facts(plan),
            **_people_facts(plan),
            **_persona_facts(plan),
            **_sla_facts(plan),
            **_deal_facts(plan),
        )

    @property
    def currencies(self) -> tuple[str, str]:
        """(European currency, American currency): the plan's home currency and USD, or EUR and USD."""
        return ("EUR" if self.home_currency == "USD" else self.home_currency, "USD")


def _journey_facts(plan: AlignmentPlan) -> dict[str, Any]:
    """The stages and transitions as index arrays: kinds, owners, deal stages, recycle slots, rates."""
    journey = plan.journey
    stages = journey.stages
    index = {s.id: i for i, s in enumerate(stages)}
    functions = {t.id: t.function for t in plan.teams}
    edges = [(index[t.source], index[t.to], t) for t in journey.transitions]
    slots: dict[int, int] = {}
    kinds, maxes = [], []
    for n, (_, dst, t) in enumerate(edges):
        lost = stages[dst].terminal in ("lost", "disqualified")
        kinds.append(DISQUALIFY if t.kind == "disqualify" or lost else KIND_CODE[t.kind])
        maxes.append(t.max_recycles if t.kind == "recycle" and t.max_recycles is not None else -1)
        if t.kind == "recycle":
            slots[n] = len(slots)
    rates = plan.targets.conversion_rates if plan.targets else {}
    opportunity = [s.kind == "opportunity" for s in stages]
    deal_stage = opportunity if any(opportunity) else [s.terminal == "won" for s in stages]
    return {
        "stage_ids": [s.id for s in stages],
        "stage_kind": [s.kind for s in stages],
        "stage_terminal": [s.terminal for s in stages],
        "stage_sales": np.array([functions.get(s.owner) == "sales" for s in stages], dtype=np.int64),
        "stage_deal": np.array(deal_stage, dtype=np.int64),
        "entry": np.array([index[s.id] for s in journey.entry_stages()] or [0], dtype=np.int64),
        "edge_src": np.array([e[0] for e in edges], dtype=np.int64),
        "edge_dst": np.array([e[1] for e in edges], dtype=np.int64),
        "edge_kind": np.array(kinds, dtype=np.int64),
        "edge_max": np.array(maxes, dtype=np.int64),
        "edge_slot": np.array([slots.get(n, -1) for n in range(len(edges))], dtype=np.int64),
        "rate": np.array(
            [float(rates[s.id]) if s.id in rates else DEFAULT_RATE[s.kind] for s in stages],
            dtype=np.float64,
        ),
    }


def _people_facts(plan: AlignmentPlan) -> dict[str, Any]:
    """The first marketing and sales teams, and who markets, develops and closes (by role, with fallbacks)."""
    functions = {t.id: t.function for t in plan.teams}
    sales_people = [(p.id, p.role) for p in plan.people if functions.get(p.team) == "sales"]
    marketing_people = [(p.id, p.role) for p in plan.people if functions.get(p.team) == "marketing"]
    sdrs = _role_pick(sales_people, ("sdr", "bdr", "development")) if sales_people else []
    closers = (
        _role_pick(sales_people, ("account_exec", "account exec", "closer", "ae")) if sales_people else []
    )
    sdrs = sdrs or list(FALLBACK_SALES_PEOPLE)
    closers = closers or sdrs
    return {
        "marketing_team": plan.teams_with_function("marketing")[0].id,
        "sales_team": plan.teams_with_function("sales")[0].id,
        "marketers": _role_pick(marketing_people, ("marketer", "specialist", "coordinator"))
        if marketing_people
        else [],
        "sdrs": sdrs,
        "closers": closers,
    }


def _persona_facts(plan: AlignmentPlan) -> dict[str, Any]:
    """The personas' grades, roles, firmographics, and the outcomes and channels their signals look for."""
    personas = plan.personas
    grades = list(dict.fromkeys([b.grade for p in personas for b in p.scoring.grades] + [*FALLBACK_GRADES]))
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
    known_channels = {c for c, _ in (*MARKETING_CHANNELS, *SALES_CHANNELS)}
    return {
        "personas": [p.id for p in personas],
        "persona_models": list(personas),
        "persona_grades": [[b.grade for b in p.scoring.grades] or list(FALLBACK_GRADES) for p in personas],
        "persona_titles": [list(p.roles.titles) for p in personas],
        "persona_seniorities": [list(p.roles.seniorities) for p in personas],
        "persona_industries": [list(p.firmographics.industries) for p in personas],
        "persona_regions": [list(p.firmographics.regions) for p in personas],
        "persona_outcome": outcomes,
        "signal_channels": sorted(set(channels) - known_channels),
        "grades": grades,
    }


def _sla_facts(plan: AlignmentPlan) -> dict[str, Any]:
    """The SLA's calendar, response target, tiers, attempts, disposition reasons and pause statuses."""
    sla = plan.sla
    calendar = sla.calendar if sla is not None else BusinessCalendar(timezone="UTC")
    first = sla.sales.first_response if sla is not None else None
    attempts = sla.sales.attempts if sla is not None else None
    disposition = sla.sales.disposition if sla is not None else None
    reasons = list(disposition.reasons) if disposition is not None else list(FALLBACK_REASONS)
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
    return {
        "calendar": calendar,
        "response_hours": float(first.within_hours) if first is not None else FALLBACK_RESPONSE_HOURS,
        "response_types": [
            a for a in (first.activities if first else ["call", "email"]) if a in ACTIVITY_TYPES
        ]
        or ["call"],
        "tiers": [
            (
                set(t.grades),
                set(t.personas),
                float(t.first_response_hours) if t.first_response_hours is not None else None,
                t.min_attempts,
            )
            for t in (sla.tiers if sla is not None else [])
        ],
        "min_attempts": attempts.minimum if attempts is not None else 0,
        "disposition_days": disposition.within_business_days
        if disposition is not None
        else FALLBACK_DISPOSITION_DAYS,
        "reasons": reasons,
        "positive_reason": positive,
        "unable_reason": unable,
        "pause_statuses": list(sla.pause_statuses) if sla is not None else [],
    }


def _deal_facts(plan: AlignmentPlan) -> dict[str, Any]:
    """The average deal size (whole units) and its currency: the targets', the plan's, or the fallbacks."""
    targets = plan.targets
    size = targets.average_deal_size if targets is not None else None
    return {
        "deal_size": max(1, int(size.amount)) if size is not None else FALLBACK_DEAL_SIZE,
        "home_currency": size.currency if size is not None else plan.currency or FALLBACK_CURRENCY,
    }
