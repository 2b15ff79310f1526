"""Lead and account attributes that fit each lead's persona and grade, drawn on a stream of their own.

The attributes persona matching and fit scoring read come in four groups: the account's ``industry``, its
``company_size``, its *place* (``region`` and ``country``) and the lead's *role* (``title`` and
``seniority``). For each persona, the candidate values of a group fall into *classes*: values that pass
or fail the persona's criteria on the group alike and earn the same fit points from its rules (the
criteria and rules are evaluated by the persona kernel itself, so the semantics are the library's). A
*profile* is one class per group; its fit is the sum of the classes' points and it matches when every
class passes.

A lead labelled with persona P and grade G draws a profile of P: with probability
1 - :data:`~smarketing.datasets._shape.MISFIT_SHARE` one that matches P with a fit inside G's band
(``min_fit`` of G up to that of the next grade; when no matching profile is that fit, the matching
profiles nearest to it; when no profile matches, those that miss fewest criteria), otherwise one that
misses exactly one criterion. Grades that are not among P's bands (a persona without scoring) take any
matching profile. The lead's role is drawn uniformly from its role class. An unlabelled lead's role is,
with probability 1 - :data:`~smarketing.datasets._shape.STRAY_ROLE_SHARE`, one no persona's role criteria
accept (when there is one), else any.

An account's industry, size and place are voted by its labelled leads: each candidate value gets one vote
per lead whose class holds it, and the most voted wins; ties go to the account's own first draw, then (for
sizes) to one in the same deal segment, then at random. A place is chosen only on the side of the Atlantic
of the first draw, so the deals' currencies still follow the region. A won size interval that does not
hold the account's first size is drawn log-uniformly inside it (inside its part in the same deal segment
when there is one). Accounts without labelled leads keep their first draw. Deals are drawn from the first
draw, so fitting the attributes changes no other record; a deal's segment is that of the account's first
size, which a persona's size criteria may move to another segment.

Fit rules on other lead fields (``source``, ``owner``, ...) are not steered. Everything is numpy over
leads and accounts; Python loops run only over personas, classes and candidate values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Final, get_args

import attrs
import numpy as np
import polars as pl

from smarketing.datasets._columns import F64, I64, choose, take
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import Accounts, People
from smarketing.datasets._shape import (
    AMERICAS,
    MAX_COMPANY_SIZE,
    MIN_COMPANY_SIZE,
    MISFIT_SHARE,
    SEGMENT_SIZES,
    STRAY_ROLE_SHARE,
    TITLE_WORDS,
)
from smarketing.persona import Persona, Seniority
from smarketing.persona._kernel import criteria, rule_holds

#: The attribute groups, the account's first; the criterion and the rule fields that read each.
GROUPS: Final = ("industry", "size", "place", "role")
_OF_CRITERION: Final = {
    "industries": "industry",
    "company_size": "size",
    "regions": "place",
    "countries": "place",
    "titles": "role",
    "seniorities": "role",
}
_OF_FIELD: Final = {
    "industry": "industry",
    "company_size": "size",
    "region": "place",
    "country": "place",
    "title": "role",
    "seniority": "role",
}


@attrs.frozen
class Roles:
    """The role vocabulary: candidate ``i`` is seniority ``i // len(words)`` with word ``i % len(words)``."""

    seniorities: list[str]
    words: list[str]
    titles: list[str]


def roles_of(facts: Facts) -> Roles:
    """Every seniority with every title word (the personas' keywords, then the generic ones)."""
    seniorities = list(get_args(Seniority))
    words = list(dict.fromkeys([w for ts in facts.persona_titles for w in ts] + list(TITLE_WORDS)))
    return Roles(seniorities, words, [_title(s, w) for s in seniorities for w in words])


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


@attrs.frozen
class Fitted:
    """The accounts with fitted firmographics, and each lead's role (an index in ``roles``)."""

    accounts: Accounts
    roles: Roles
    role: I64


@attrs.frozen
class _Classes:
    """Per persona and group: each candidate's class, and each class's pass flag and points."""

    of: list[dict[str, I64]]  # persona -> group -> class per candidate
    passes: list[dict[str, list[bool]]]
    points: list[dict[str, list[Decimal]]]


def fit_attributes(rng: np.random.Generator, facts: Facts, *, people: People, accounts: Accounts) -> Fitted:
    """Roles for every lead and firmographics for every account that fit the leads' personas and grades."""
    roles = roles_of(facts)
    low, high = _size_intervals(facts.persona_models)
    candidates = _candidates(accounts, roles, low)
    classes = _classify(facts.persona_models, candidates)
    n = people.persona.size
    labelled = np.flatnonzero(people.persona >= 0)
    persona = people.persona[labelled]
    chosen = np.zeros((labelled.size, len(GROUPS)), dtype=np.int64)
    if labelled.size:
        profiles, table = _profile_table(facts, classes)
        row = persona * len(facts.grades) + people.grade[labelled]
        pick = choose(rng, table, row)
        chosen = profiles[persona, pick]
    # The role: uniform in the lead's class; unlabelled leads mostly a role no persona accepts.
    k = len(facts.persona_models)
    members, offsets = _members(classes, "role", len(roles.titles))
    rejected = np.ones(len(roles.titles), dtype=np.bool_)
    for p in range(k):
        rejected &= ~np.array(classes.passes[p]["role"])[classes.of[p]["role"]]
    background = np.full(len(roles.titles), STRAY_ROLE_SHARE / len(roles.titles))
    background += (1 - STRAY_ROLE_SHARE) * (
        rejected / rejected.sum() if rejected.any() else 1 / rejected.size
    )
    role_row = np.full(n, members.shape[0], dtype=np.int64)
    role_row[labelled] = offsets[persona] + chosen[:, GROUPS.index("role")]
    role = choose(rng, np.vstack([members, background]), role_row)

    votes = {
        group: _votes(
            classes,
            group,
            width=candidates[group].height,
            accounts=accounts,
            people=people,
            labelled=labelled,
            chosen=chosen,
        )
        for group in GROUPS[:3]
    }
    return Fitted(_fitted_accounts(rng, accounts, votes, low, high), roles, role)


def _size_intervals(personas: Sequence[Persona]) -> tuple[I64, I64]:
    """Company sizes cut where any persona's size criterion or fit rule could change its answer."""
    cuts = {MIN_COMPANY_SIZE, MAX_COMPANY_SIZE + 1}
    values: list[Decimal | int] = []
    for p in personas:
        size = p.firmographics.company_size
        if size is not None:
            values += [v for v in (size.min, size.max) if v is not None]
        for rule in p.scoring.fit:
            if rule.field == "company_size":
                given = rule.value if isinstance(rule.value, list) else [rule.value]
                values += [v for v in given if isinstance(v, Decimal | int)]
    for v in values:
        cuts |= {math.floor(v), math.floor(v) + 1, math.ceil(v)}
    edges = np.array(sorted(c for c in cuts if MIN_COMPANY_SIZE <= c <= MAX_COMPANY_SIZE + 1), dtype=np.int64)
    return edges[:-1], edges[1:] - 1


def _candidates(accounts: Accounts, roles: Roles, size_low: I64) -> dict[str, pl.DataFrame]:
    """Each group's candidate values as lead columns (a size interval by its lowest size)."""
    return {
        "industry": pl.DataFrame({"industry": accounts.industries}, schema={"industry": pl.String}),
        "size": pl.DataFrame({"company_size": size_low}, schema={"company_size": pl.Int64}),
        "place": pl.DataFrame(
            {
                "region": [accounts.regions[r] for r in accounts.country_region],
                "country": accounts.countries,
            },
            schema={"region": pl.String, "country": pl.String},
        ),
        "role": pl.DataFrame(
            {"title": roles.titles, "seniority": [s for s in roles.seniorities for _ in roles.words]},
            schema={"title": pl.String, "seniority": pl.String},
        ),
    }


def _classify(personas: Sequence[Persona], candidates: dict[str, pl.DataFrame]) -> _Classes:
    """Group each persona's candidates by (passes its criteria on the group, fit points from its rules)."""
    of: list[dict[str, I64]] = []
    passes: list[dict[str, list[bool]]] = []
    points: list[dict[str, list[Decimal]]] = []
    for p in personas:
        tests, _ = criteria(p.firmographics, p.roles)
        of.append({})
        passes.append({})
        points.append({})
        for group in GROUPS:
            frame = candidates[group]
            mine = [t.fill_null(value=False) for name, t in tests if _OF_CRITERION.get(name) == group]
            ok = (
                frame.select(pl.all_horizontal(mine).alias("ok"))["ok"].to_list()
                if mine
                else [True] * frame.height
            )
            earned = [Decimal(0)] * frame.height
            for rule in p.scoring.fit:
                if _OF_FIELD.get(rule.field) == group:
                    holds = frame.select(rule_holds(rule).alias("h"))["h"].to_list()
                    earned = [e + (rule.points if h else 0) for e, h in zip(earned, holds, strict=True)]
            keys = list(dict.fromkeys(zip(ok, earned, strict=True)))
            of[-1][group] = np.array(
                [keys.index(key) for key in zip(ok, earned, strict=True)], dtype=np.int64
            )
            passes[-1][group] = [bool(key[0]) for key in keys]
            points[-1][group] = [key[1] for key in keys]
    return _Classes(of, passes, points)


def _profile_table(facts: Facts, classes: _Classes) -> tuple[I64, F64]:
    """Every persona's profiles (persona x profile x group, padded) and their weights per (persona, grade)."""
    k, g = len(facts.persona_models), len(facts.grades)
    per_persona = [
        list(itertools.product(*(range(len(classes.passes[p][group])) for group in GROUPS))) for p in range(k)
    ]
    width = max(len(rows) for rows in per_persona)
    profiles = np.zeros((k, width, len(GROUPS)), dtype=np.int64)
    table = np.zeros((k * g, width), dtype=np.float64)
    for p, rows in enumerate(per_persona):
        profiles[p, : len(rows)] = rows
        passes, points = classes.passes[p], classes.points[p]
        fails = np.array([sum(not passes[gr][c] for gr, c in zip(GROUPS, r, strict=True)) for r in rows])
        fit = [sum((points[gr][c] for gr, c in zip(GROUPS, r, strict=True)), Decimal(0)) for r in rows]
        bands = sorted((Decimal(b.min_fit), b.grade) for b in facts.persona_models[p].scoring.grades)
        for grade_index, grade in enumerate(facts.grades):
            low: Decimal | None = None
            high: Decimal | None = None
            for position, (min_fit, band) in enumerate(bands):
                if band == grade:
                    low = min_fit
                    high = bands[position + 1][0] if position + 1 < len(bands) else None
            weights = _weights(fails, fit, low, high)
            table[p * g + grade_index, : len(rows)] = weights
    return profiles, table


def _weights(fails: I64, fit: list[Decimal], low: Decimal | None, high: Decimal | None) -> F64:
    """A grade's profile weights: matching ones in its fit band (or nearest), a few one criterion short."""
    distance = np.array(
        [
            float(low - f)
            if low is not None and f < low
            else float(f - high) + 1e-6
            if high is not None and f >= high
            else 0.0
            for f in fit
        ]
    )
    matching = fails == 0
    # Matching profiles in the band, else the matching ones nearest it, else those fewest criteria short.
    nearest = distance == (distance[matching].min() if matching.any() else 0.0)
    good = matching & nearest if matching.any() else fails == fails.min()
    weights: F64 = good / good.sum()
    short = fails == 1
    if short.any() and matching.any():
        weights = (1 - MISFIT_SHARE) * weights + MISFIT_SHARE * short / short.sum()
    return weights


def _members(classes: _Classes, group: str, width: int) -> tuple[F64, I64]:
    """Rows (persona, class) x candidates: 1 where the candidate is in the class; each persona's first row."""
    rows: list[F64] = []
    offsets = []
    for of in classes.of:
        offsets.append(len(rows))
        rows += [(of[group] == c).astype(np.float64) for c in range(int(of[group].max()) + 1)]
    table = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    return table, np.array(offsets, dtype=np.int64)


def _votes(
    classes: _Classes,
    group: str,
    *,
    width: int,
    accounts: Accounts,
    people: People,
    labelled: I64,
    chosen: I64,
) -> F64:
    """Per account and candidate value: how many of its labelled leads' classes hold the value."""
    members, offsets = _members(classes, group, width)
    votes = np.zeros((accounts.size.size, width), dtype=np.float64)
    if labelled.size == 0:
        return votes
    row = offsets[people.persona[labelled]] + chosen[:, GROUPS.index(group)]
    account = people.account[labelled]
    for v in range(width):
        votes[:, v] = np.bincount(account, weights=members[row, v], minlength=votes.shape[0])
    return votes


def _fitted_accounts(
    rng: np.random.Generator, accounts: Accounts, votes: dict[str, F64], low: I64, high: I64
) -> Accounts:
    """The accounts with the most voted industry, size and place (ties: see the module docstring)."""
    voted = votes["industry"].sum(axis=1) > 0
    n = voted.size
    segment_edges = np.array(SEGMENT_SIZES, dtype=np.int64)
    americas = np.array([accounts.regions[r] in AMERICAS for r in accounts.country_region])
    own = {
        "industry": np.arange(len(accounts.industries))[None, :] == accounts.industry[:, None],
        "size": (low[None, :] <= accounts.size[:, None]) & (accounts.size[:, None] <= high[None, :]),
        "place": np.arange(len(accounts.countries))[None, :] == accounts.country[:, None],
    }
    segment = np.searchsorted(segment_edges, accounts.size, side="right")
    seg_low = np.concatenate([[MIN_COMPANY_SIZE], segment_edges])[segment]
    seg_high = np.concatenate([segment_edges - 1, [MAX_COMPANY_SIZE]])[segment]
    alike = {
        "industry": np.zeros_like(own["industry"]),
        "size": (low[None, :] <= seg_high[:, None]) & (seg_low[:, None] <= high[None, :]),
        "place": americas[None, :] == americas[accounts.country][:, None],
    }
    won = {
        group: np.argmax(
            votes[group] + 0.4 * own[group] + 0.3 * alike[group] + 0.2 * rng.random(votes[group].shape),
            axis=1,
        )
        for group in GROUPS[:2]
    }
    # The place stays on the side of the Atlantic of the first draw: the deals' currencies follow it.
    tally = votes["place"] + 0.4 * own["place"] + 0.2 * rng.random(votes["place"].shape)
    won["place"] = np.argmax(np.where(alike["place"], tally, -np.inf), axis=1)
    industry = np.where(voted, won["industry"], accounts.industry)
    country = np.where(voted, won["place"], accounts.country)
    region = np.asarray(accounts.country_region)[country]
    # A size inside the won interval: the first draw when it is there, else log-uniform inside it.
    lo, hi = low[won["size"]], high[won["size"]]
    inner_lo, inner_hi = np.maximum(lo, seg_low), np.minimum(hi, seg_high)
    inner = inner_lo <= inner_hi
    lo, hi = np.where(inner, inner_lo, lo), np.where(inner, inner_hi, hi)
    drawn = np.exp(np.log(lo) + rng.random(n) * (np.log(hi + 1) - np.log(lo))).astype(np.int64)
    drawn = np.clip(drawn, lo, hi)
    keep = own["size"][np.arange(n), won["size"]]
    size = np.where(voted & ~keep, drawn, accounts.size)
    frame = accounts.frame.with_columns(
        take(accounts.industries, industry).alias("industry"),
        pl.Series("company_size", size, dtype=pl.Int64),
        take(accounts.regions, region).alias("region"),
        take(accounts.countries, country).alias("country"),
    )
    return attrs.evolve(accounts, frame=frame, industry=industry, size=size, region=region, country=country)
