"""The generator: :func:`synthetic` checks its arguments and runs the parts, one seeded stream each."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import numpy as np

from smarketing.datasets._clock import BusinessMinutes
from smarketing.datasets._columns import US_PER_DAY, conform
from smarketing.datasets._deals import draw_deals
from smarketing.datasets._events import deviate, events_frame, walk_journey
from smarketing.datasets._facts import Facts
from smarketing.datasets._feedback import draw_feedback
from smarketing.datasets._fit import fit_attributes
from smarketing.datasets._follow_up import follow_up
from smarketing.datasets._leads import leads_frame
from smarketing.datasets._people import draw_accounts, draw_people
from smarketing.datasets._shape import LEADS_PER_ACCOUNT
from smarketing.datasets._touches import draw_touchpoints
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

#: The last day of generated data when ``end`` is not given.
DEFAULT_END: Final = date(2026, 10, 31)


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
    currency units drawn around ``plan.targets.average_deal_size``. Most leads carry a persona and a grade,
    and their titles, seniorities and firmographics fit that persona's criteria and the grade's fit rules
    (about one labelled lead in ten misses a criterion; unlabelled leads mostly match no persona).

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
        >>> import polars as pl
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
    facts = Facts.of(plan)
    end_us = _us(datetime.combine(end + timedelta(days=1), time(), UTC))
    start_us = _us(datetime.combine(_months_before(end, months) + timedelta(days=1), time(), UTC))
    clock = BusinessMinutes(facts.calendar, start_us - 2 * US_PER_DAY, end_us + 2 * US_PER_DAY)

    # One independent stream per part, so a change in one part leaves the others' draws alone.
    streams = np.random.SeedSequence(seed).spawn(10)
    rng = [np.random.Generator(np.random.PCG64(s)) for s in streams]

    accounts = draw_accounts(rng[0], facts, max(1, math.ceil(n_leads / LEADS_PER_ACCOUNT)))
    people = draw_people(
        rng[1], facts, accounts=accounts, n=n_leads, start_us=start_us, end_us=end_us, clock=clock
    )
    walk = walk_journey(rng[2], facts, people, end_us, clock)
    events = deviate(rng[3], facts, walk, end_us)
    touchpoints = draw_touchpoints(rng[4], facts, people, walk, end_us)
    activities, dispositions = follow_up(rng[5], facts, people=people, walk=walk, end_us=end_us, clock=clock)
    deals = draw_deals(rng[6], facts, people=people, accounts=accounts, events=events, end=end)
    # Last, on a stream of its own: roles and firmographics that fit the personas (deals keep the first draw).
    fitted = fit_attributes(rng[8], facts, people=people, accounts=accounts)
    leads = leads_frame(
        rng[7], facts, people=people, fitted=fitted, walk=walk, touchpoints=touchpoints, events=events
    )

    return Dataset(
        accounts=conform("accounts", fitted.accounts.frame),
        leads=conform("leads", leads),
        touchpoints=conform("touchpoints", touchpoints.frame),
        stage_events=conform("stage_events", events_frame(facts, people, events)),
        activities=conform("activities", activities),
        deals=conform("deals", deals),
        dispositions=conform("dispositions", dispositions),
        # Drawn from the finished leads on a tenth stream: every record above is as it was without it.
        feedback=conform("feedback", draw_feedback(rng[9], facts, leads, end_us)),
    )


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
