"""A small, readable reference of persona matching and scoring, one lead at a time (tests only).

The oracle of the columnar kernel in the differential tests: plain Python over record objects, written
from the documented rules of :func:`smarketing.persona.match` and :func:`smarketing.persona.score`.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smarketing.persona import Persona, ScoreRule
from smarketing.persona.model import Decay
from smarketing.records import Account, Activity, Lead, StageEvent, Touchpoint

NANO = 10**9
SHARED = ("industry", "company_size", "region", "country")


def attributes(lead: Lead, accounts: dict[str, Account]) -> dict[str, Any]:
    """The lead's attributes, the shared ones falling back to its account's."""
    values = lead.model_dump()
    account = accounts.get(lead.account_id or "")
    for name in SHARED:
        if values[name] is None and account is not None:
            values[name] = getattr(account, name)
    return values


def criteria(
    persona: Persona, values: dict[str, Any], *, roles: bool = True
) -> list[tuple[str, bool | None]]:
    """(criterion, passes) with None for a missing value, counted criteria only."""
    f, out = persona.firmographics, []

    def add(name: str, value: Any, test: Any) -> None:
        out.append((name, None if value is None else bool(test(value))))

    if f.industries:
        add("industries", values["industry"], lambda v: v in f.industries)
    if f.company_size is not None:
        add("company_size", values["company_size"], f.company_size.contains)
    if f.regions:
        add("regions", values["region"], lambda v: v in f.regions)
    if f.countries:
        add("countries", values["country"], lambda v: v in f.countries)
    if roles and persona.roles.titles:
        words = persona.roles.titles
        add("titles", values["title"], lambda v: any(re.search(rf"(?i)\b{re.escape(w)}\b", v) for w in words))
    if roles and persona.roles.seniorities:
        add("seniorities", values["seniority"], lambda v: v in persona.roles.seniorities)
    return out


def match_one(personas: Sequence[Persona], values: dict[str, Any], *, roles: bool = True) -> dict[str, Any]:
    """The persona, candidates and closest of one lead (or account, without roles)."""
    tests = [criteria(p, values, roles=roles) for p in personas]
    matched = [i for i, t in enumerate(tests) if all(ok for _, ok in t)]
    winner = min(matched, key=lambda i: (-len(tests[i]), i)) if matched else None
    closest = winner
    if winner is None and personas:
        closest = max(range(len(personas)), key=lambda i: (sum(bool(ok) for _, ok in tests[i]), -i))
    picked = tests[closest] if closest is not None else []
    return {
        "persona": None if winner is None else personas[winner].id,
        "matched": winner is not None,
        "candidates": len(matched),
        "tied": len(matched) > 1,
        "closest": None if closest is None else personas[closest].id,
        "passed": [n for n, ok in picked if ok],
        "failed": [n for n, ok in picked if not ok],
        "missing": [n for n, ok in picked if ok is None],
    }


def holds(rule: ScoreRule, value: Any) -> bool:
    """Whether a fit rule holds for the value (a missing value never holds)."""
    if value is None:
        return False
    values = rule.value if isinstance(rule.value, list) else [rule.value]
    if rule.field == "company_size":
        number = Decimal(value)
        return {
            "eq": lambda: number == values[0],
            "ne": lambda: number != values[0],
            "in": lambda: number in values,
            "not_in": lambda: number not in values,
            "gte": lambda: number >= values[0],
            "lte": lambda: number <= values[0],
            "between": lambda: values[0] <= number <= values[1],
        }[rule.op]()
    texts = [format(v.normalize(), "f") if isinstance(v, Decimal) else str(v) for v in values]
    return {
        "eq": lambda: value == texts[0],
        "ne": lambda: value != texts[0],
        "in": lambda: value in texts,
        "not_in": lambda: value not in texts,
        "contains": lambda: texts[0].lower() in value.lower(),
    }[rule.op]()


def weight(decay: Decay | None, age: timedelta) -> float:
    """The documented decay weight of a point ``age`` old."""
    if decay is None:
        return 1.0
    if decay.kind == "half_life":
        assert decay.half_life_days is not None
        if decay.half_life_days == 0:
            return 1.0 if age == timedelta(0) else 0.0
        half_us = float(decay.half_life_days) * 86_400_000_000
        return float(2.0 ** -((age // timedelta(microseconds=1)) * (1.0 / half_us)))
    assert decay.percent is not None
    assert decay.every_days is not None
    steps = age // timedelta(days=float(decay.every_days))
    return float((1 - float(decay.percent) / 100) ** steps)


Event = Touchpoint | Activity | StageEvent
_ON = {Touchpoint: "touchpoint", Activity: "activity", StageEvent: "stage"}


def _field(event: Event, key: str) -> Any:
    return event.source if key == "from" else getattr(event, key)


def engagement(persona: Persona, events: Sequence[Event], as_of: datetime) -> int:
    """The lead's engagement in nanopoints: decayed occurrences per group, capped, summed."""
    decay = persona.scoring.effective_decay
    groups: dict[str, int] = defaultdict(int)
    for event in events:
        if event.time > as_of:
            continue
        for _, signal, group in persona.signals():
            if signal.on != _ON[type(event)]:
                continue
            if all(
                _field(event, k) is not None and str(_field(event, k)) in (v if isinstance(v, list) else [v])
                for k, v in signal.where.items()
            ):
                w = weight(decay, as_of - event.time)
                groups[group] += signal.points * NANO if decay is None else round(signal.points * NANO * w)
    caps = persona.scoring.caps
    return sum(min(total, caps[g] * NANO) if g in caps else total for g, total in groups.items())


def _band(bands: list[tuple[str, int]], value: int) -> str | None:
    reached = [(m, name) for name, m in bands if value >= m * NANO]
    return max(reached)[1] if reached else None


def score_rows(
    personas: Sequence[Persona],
    leads: Sequence[Lead],
    accounts: Sequence[Account],
    events: Sequence[Event],
    as_of: datetime,
) -> list[tuple[Any, ...]]:
    """The rows of ``LeadScores.frame`` by the documented rules."""
    by_account = {a.id: a for a in accounts}
    by_lead: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_lead[e.lead_id].append(e)
    rows = []
    for lead in sorted(leads, key=lambda x: x.id):
        if lead.created_at > as_of:
            continue
        values = attributes(lead, by_account)
        found = match_one(personas, values)["persona"]
        if found is None:
            rows.append((lead.id, None, 0.0, 0.0, None, None, None, False))
            continue
        p = next(x for x in personas if x.id == found)
        s = p.scoring
        fit = sum(r.points for r in s.fit if holds(r, values[r.field])) * NANO
        eng = engagement(p, by_lead[lead.id], as_of)
        fit_grade = _band([(g.grade, g.min_fit) for g in s.grades], fit)
        band = _band([(b.band, b.min_engagement) for b in s.engagement_bands], eng)
        grade = (fit_grade + band if fit_grade and band else None) if s.engagement_bands else fit_grade
        if s.mql is not None:
            m = s.mql
            mql = fit >= m.min_fit * NANO and eng >= m.min_engagement * NANO
            mql = mql and (m.min_total is None or fit + eng >= m.min_total * NANO)
            mql = mql or (m.engagement_alone is not None and eng >= m.engagement_alone * NANO)
        else:
            mql = s.mql_threshold is not None and fit + eng >= s.mql_threshold * NANO
        rows.append((lead.id, p.id, fit / NANO, eng / NANO, fit_grade, band, grade, mql))
    return rows


def close(a: float, b: float) -> bool:
    """Equal up to a few nanopoints (the float decay weight may differ in its last bit)."""
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-8)
