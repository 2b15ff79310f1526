"""The leads frame: who each lead is, who owns it, and its status."""

from __future__ import annotations

import numpy as np
import polars as pl

from smarketing.datasets._columns import NEVER, lasts, take, times
from smarketing.datasets._events import Events, first_handoff
from smarketing.datasets._facts import Facts
from smarketing.datasets._fit import Fitted, roles_of
from smarketing.datasets._people import People, lead_ids
from smarketing.datasets._shape import PAUSED_SHARE
from smarketing.datasets._touches import Touches


def leads_frame(
    rng: np.random.Generator,
    facts: Facts,
    *,
    people: People,
    fitted: Fitted,
    walk: Events,
    touchpoints: Touches,
    events: Events,
) -> pl.DataFrame:
    """The leads frame: ids, account firmographics, persona, grade, title, owner and SLA-pausing status.

    Title, seniority and the firmographics are ``fitted``'s (drawn on their own stream); ``rng`` draws only
    the status, after the draws the role used to take from it.
    """
    n = people.created.size
    account = people.account
    persona = people.persona
    k = len(facts.personas)
    _skip_old_role_draws(rng, facts, n)
    roles = fitted.roles

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
            "account_id": fitted.accounts.frame["id"].gather(account),
            "created_at": times(people.created),
            "source": touchpoints.source,
            "campaign": touchpoints.campaign,
            "persona": take([*facts.personas, None], np.where(persona < 0, k, persona)),
            "grade": take(facts.grades, people.grade),
            "owner": take(owners, owner),
            "title": take(roles.titles, fitted.role),
            "seniority": take(roles.seniorities, fitted.role // len(roles.words)),
            "industry": take(fitted.accounts.industries, fitted.accounts.industry[account]),
            "company_size": fitted.accounts.size[account],
            "region": take(fitted.accounts.regions, fitted.accounts.region[account]),
            "country": take(fitted.accounts.countries, fitted.accounts.country[account]),
            "status": take(statuses, status),
        }
    )


def _skip_old_role_draws(rng: np.random.Generator, facts: Facts, n: int) -> None:
    """The draws titles and seniorities took from this stream before they had their own, still taken.

    They keep the status draws after them, and so the statuses, the same for a seed.
    """
    roles = roles_of(facts)
    rng.random(n)
    rng.integers(0, len(roles.words), n)
    rng.integers(0, len(roles.seniorities), n)
    for _ in range(2 if facts.personas else 0):
        rng.random(n)
