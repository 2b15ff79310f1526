"""The leads frame: who each lead is, who owns it, and its status."""

from __future__ import annotations

from typing import get_args

import numpy as np
import polars as pl

from smarketing.datasets._columns import NEVER, lasts, pad, take, times
from smarketing.datasets._events import Events, first_handoff
from smarketing.datasets._facts import Facts
from smarketing.datasets._people import Accounts, People, lead_ids
from smarketing.datasets._shape import PAUSED_SHARE, TITLE_WORDS
from smarketing.datasets._touches import Touches
from smarketing.persona import Seniority


def leads_frame(
    rng: np.random.Generator,
    facts: Facts,
    *,
    people: People,
    accounts: Accounts,
    walk: Events,
    touchpoints: Touches,
    events: Events,
) -> pl.DataFrame:
    """The leads frame: ids, account firmographics, persona, grade, title, owner and SLA-pausing status."""
    n = people.created.size
    account = people.account
    persona = people.persona
    k = len(facts.personas)
    seniorities = list(get_args(Seniority))
    words = list(dict.fromkeys([w for ts in facts.persona_titles for w in ts] + list(TITLE_WORDS)))
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
            tab, count = pad([[vocabulary.index(o) for o in opts] for opts in options])
            own = tab[p, (rng.random(n) * np.maximum(count[p], 1)).astype(np.int64)]
            use = fits & (count[p] > 0)
            if target == "word":
                word = np.where(use, own, word)
            else:
                senior = np.where(use, own, senior)
    titles = [_title(s, w) for s in seniorities for w in words]

    handoff = first_handoff(walk, n)
    handed = handoff < NEVER
    owners = [*facts.sdrs, *facts.marketers, None]
    owner = np.where(
        handed, people.sdr, np.where(people.marketer >= 0, len(facts.sdrs) + people.marketer, len(owners) - 1)
    )
    # A few open leads sit in a status that pauses the SLA clock.
    is_last = lasts(events.lead)
    last_stage = np.zeros(n, dtype=np.int64)
    last_stage[events.lead[is_last]] = events.to[is_last]
    open_lead = np.array([t is None for t in facts.stage_terminal])[last_stage]
    statuses = [*facts.pause_statuses, None]
    paused = open_lead & (rng.random(n) < PAUSED_SHARE) & bool(facts.pause_statuses)
    status = np.where(paused, rng.integers(0, max(1, len(facts.pause_statuses)), n), len(statuses) - 1)

    return pl.DataFrame(
        {
            "id": lead_ids(people, np.arange(n, dtype=np.int64)),
            "account_id": accounts.frame["id"].gather(account),
            "created_at": times(people.created),
            "source": touchpoints.source,
            "campaign": touchpoints.campaign,
            "persona": take([*facts.personas, None], np.where(persona < 0, k, persona)),
            "grade": take(facts.grades, people.grade),
            "owner": take(owners, owner),
            "title": take(titles, senior * len(words) + word),
            "seniority": take(seniorities, senior),
            "industry": take(accounts.industries, accounts.industry[account]),
            "company_size": accounts.size[account],
            "region": take(accounts.regions, accounts.region[account]),
            "country": take(accounts.countries, accounts.country[account]),
            "status": take(statuses, status),
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
