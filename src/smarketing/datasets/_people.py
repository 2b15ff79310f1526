"""Accounts and the people behind each lead: firmographics, persona, grade, owners, SLA targets, arrival."""

from __future__ import annotations

import math

import attrs
import numpy as np
import polars as pl

from smarketing.datasets._clock import BusinessMinutes
from smarketing.datasets._columns import F64, I64, choose, ids, take, weighted
from smarketing.datasets._facts import Facts
from smarketing.datasets._shape import (
    FALLBACK_GRADES,
    INDUSTRIES,
    MAX_COMPANY_SIZE,
    MIN_COMPANY_SIZE,
    NAME_FIRST,
    NAME_SECOND,
    PERSONA_SHARE,
    REGIONS,
)


@attrs.frozen
class Accounts:
    frame: pl.DataFrame
    industry: I64
    size: I64
    region: I64
    country: I64
    regions: list[str]
    countries: list[str | None]
    industries: list[str]
    country_region: I64  # per country: its index in regions


def draw_accounts(rng: np.random.Generator, facts: Facts, n: int) -> Accounts:
    """``n`` accounts: the personas' industries and regions three times as likely, sizes lognormal."""
    favoured_industries = [i for p in facts.persona_industries for i in p]
    industries = list(dict.fromkeys([*favoured_industries, *INDUSTRIES]))
    favoured_regions = {r for p in facts.persona_regions for r in p}
    regions = list(
        dict.fromkeys(
            [*sorted(favoured_regions, key=[r for p in facts.persona_regions for r in p].index), *REGIONS]
        )
    )
    countries: list[str | None] = []
    region_of_country: list[int] = []
    for r, name in enumerate(regions):
        for code in REGIONS.get(name, (None,)):
            countries.append(code)
            region_of_country.append(r)
    industry = weighted(rng, [3.0 if i in favoured_industries else 1.0 for i in industries], n)
    region = weighted(rng, [3.0 if r in favoured_regions else 1.0 for r in regions], n)
    # Countries within a region: the first (largest market) twice as likely as each of the others.
    first_country = np.array([region_of_country.index(r) for r in range(len(regions))], dtype=np.int64)
    per_region = np.bincount(np.array(region_of_country, dtype=np.int64), minlength=len(regions))
    offset = np.where(
        rng.random(n) < 2 / (per_region[region] + 1),
        0,
        1 + (rng.random(n) * (per_region[region] - 1)).astype(np.int64),
    )
    country = first_country[region] + np.minimum(offset, per_region[region] - 1)
    size = np.clip(np.round(rng.lognormal(math.log(400), 1.3, n)), MIN_COMPANY_SIZE, MAX_COMPANY_SIZE).astype(
        np.int64
    )
    names = [f"{a} {b}" for a in NAME_FIRST for b in NAME_SECOND]
    frame = pl.DataFrame(
        {
            "id": ids("A", n, 6),
            "name": take(names, rng.integers(0, len(names), n)),
            "industry": take(industries, industry),
            "company_size": size,
            "region": take(regions, region),
            "country": take(countries, country),
        }
    )
    return Accounts(
        frame,
        industry,
        size,
        region,
        country,
        regions,
        countries,
        industries,
        np.array(region_of_country, dtype=np.int64),
    )


@attrs.frozen
class People:
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


def draw_people(
    rng: np.random.Generator,
    facts: Facts,
    *,
    accounts: Accounts,
    n: int,
    start_us: int,
    end_us: int,
    clock: BusinessMinutes,
) -> People:
    """Who each lead is and when it arrives: account, persona, grade, owners, SLA targets and creation time.

    Grades follow the persona's bands (no persona: mostly the lowest); the SLA targets are the strictest
    tier that selects the lead; most leads arrive in business hours, the rest at any time.
    """
    n_accounts = accounts.size.size
    # A few accounts have many leads (skewed), most one to three.
    account = np.minimum((n_accounts * rng.random(n) ** 1.4).astype(np.int64), n_accounts - 1)
    k = len(facts.personas)
    if k:
        persona = np.where(rng.random(n) < PERSONA_SHARE, rng.integers(0, k, n), -1)
    else:
        persona = np.full(n, -1, dtype=np.int64)

    # Grade: one of the persona's bands (the middle ones most common); no persona mostly the lowest.
    grade_index = {g: i for i, g in enumerate(facts.grades)}
    table = np.zeros((k + 1, len(facts.grades)), dtype=np.float64)
    boost_of_grade = np.ones((k + 1, len(facts.grades)), dtype=np.float64)
    for p, bands in enumerate([*facts.persona_grades, list(FALLBACK_GRADES)]):
        weights = [0.25, 0.45, 0.3] if len(bands) == 3 else [1.0] * len(bands)
        if p == k:
            weights = [0.1, 0.3, 0.6]
        for position, (band, w) in enumerate(zip(bands, weights, strict=True)):
            table[p, grade_index[band]] = w
            span = max(1, len(bands) - 1)
            boost_of_grade[p, grade_index[band]] = (1.25 - 0.5 * position / span) * (0.75 if p == k else 1.0)
    row = np.where(persona < 0, k, persona)
    grade = choose(rng, table, row)

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

    return People(
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
        ids=ids("L", n, 7),
    )


def lead_ids(people: People, rows: I64) -> pl.Series:
    return people.ids.gather(rows)
