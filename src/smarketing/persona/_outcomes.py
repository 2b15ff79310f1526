"""What happened to each lead, as agreement, calibration and segments read it (private).

- :func:`journey_stages` reads from the plan which stages mean "marketing qualified" (MQL), "sales
  accepted" and "sales rejected";
- :func:`lead_outcomes` turns stage events and dispositions into one row per lead with those flags;
- :func:`rejection_reasons` gives each rejected lead its one reason (the first disposition after the handoff);
- :func:`won_deals` reads the won deals through the one won-deal rule (:mod:`smarketing.frames._money`);
- :func:`lead_groups` gives each lead its grouping columns (a lead column, or ``account.<column>``).

Everything stays a polars ``LazyFrame`` until the caller collects, so a million leads is one query plan.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import narwhals as nw
import polars as pl

from smarketing.calendar import check_time
from smarketing.errors import DataError, PlanError
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._money import WON, check_won

if TYPE_CHECKING:
    from smarketing.journey.model import JourneyMap
    from smarketing.sla.model import SLA

__all__ = [
    "ACCOUNT",
    "NO_REASON",
    "JourneyStages",
    "check_group_columns",
    "first_dispositions",
    "journey_stages",
    "lead_groups",
    "lead_outcomes",
    "rejection_reasons",
    "won_deals",
]

ACCOUNT = "account."

#: The reason of a rejected lead that has no disposition at or after its handoff (rejected by a move alone).
NO_REASON = "(no reason)"


@attrs.frozen
class JourneyStages:
    """The stages and transitions that carry marketing's call and sales' answer.

    Attributes:
        mql: Sources of the journey's handoff transitions: entering one is marketing's MQL call.
        handoffs: The handoff transitions ``(from, to)``; taking one is an MQL call too.
        accepted: Stages whose entry means sales accepted the lead.
        accepted_from: Where ``accepted`` came from, in words (for notes and docs).
        rejections: Disqualify and recycle transitions ``(from, to)``: taking one is a rejection.
        disqualified: Targets of disqualify transitions: entering one is a rejection whatever the source.
    """

    mql: tuple[str, ...]
    handoffs: tuple[tuple[str, str], ...]
    accepted: tuple[str, ...]
    accepted_from: str
    rejections: tuple[tuple[str, str], ...]
    disqualified: tuple[str, ...]


def journey_stages(journey: JourneyMap, sla: SLA | None, sales: frozenset[str]) -> JourneyStages:
    """The MQL, acceptance and rejection stages of a plan's journey and SLA, checked.

    Acceptance is the SLA's ``marketing.quality.accepted_stage``; without a quality commitment it is the
    stage after a handoff target (by a progression transition, in plan order) that a team in ``sales``
    (the ids of the plan's sales teams) owns.

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found.
    """
    handoffs = tuple((t.source, t.to) for t in journey.handoffs())
    if not handoffs:
        raise PlanError(
            "the journey has no handoff transition, so no lead is ever qualified by marketing",
            path="journey.transitions",
        )
    quality = sla.marketing.quality if sla is not None else None
    if quality is not None:
        accepted: tuple[str, ...] = (quality.accepted_stage,)
        accepted_from = f"the SLA's accepted stage {quality.accepted_stage!r}"
    else:
        targets = {to for _, to in handoffs}
        found = [
            t.to
            for t in journey.transitions
            if t.source in targets and t.kind == "progression" and journey.stage(t.to).owner in sales
        ]
        accepted = tuple(dict.fromkeys(found))
        if not accepted:
            raise PlanError(
                "no acceptance stage: the SLA has no quality commitment and no sales-owned stage follows "
                "a handoff target; add sla.marketing.quality.accepted_stage",
                path="sla.marketing.quality",
            )
        accepted_from = "the sales-owned stage after the handoff (the plan has no quality commitment): " + (
            ", ".join(repr(s) for s in accepted)
        )
    rejections = tuple((t.source, t.to) for t in journey.transitions if t.kind in ("disqualify", "recycle"))
    disqualified = tuple(dict.fromkeys(t.to for t in journey.transitions if t.kind == "disqualify"))
    return JourneyStages(
        mql=tuple(dict.fromkeys(s for s, _ in handoffs)),
        handoffs=handoffs,
        accepted=accepted,
        accepted_from=accepted_from,
        rejections=rejections,
        disqualified=disqualified,
    )


def _pairs(pairs: Sequence[tuple[str, str]]) -> pl.Expr:
    source, to = pl.col("from"), pl.col("to")
    return functools.reduce(
        operator.or_, [(source == a) & (to == b) for a, b in pairs], pl.lit(value=False)
    ).fill_null(value=False)


def lead_outcomes(stages: JourneyStages, data: Any, *, as_of: datetime | None = None) -> pl.LazyFrame:
    """One row per lead with a qualifying, accepting or rejecting fact.

    With ``as_of``, only stage events and dispositions at or before it count (the outcomes as they were
    then); without it, all of them.

    Columns ``lead_id``, ``mql``, ``mql_at``, ``accepted``, ``rejected``:

    - ``mql``: the lead entered an MQL stage or took a handoff (an event without ``from`` counts when its
      ``to`` is a handoff target, as in the SLA); ``mql_at`` is the first such time.
    - ``accepted``: the lead entered an acceptance stage, at or after ``mql_at`` for an MQL (at any time
      for a lead that is not an MQL: an audited lead).
    - ``rejected``: not accepted, and a disposition or a disqualify/recycle move (or entry into a
      disqualify target) happened, at or after ``mql_at`` for an MQL.

    Raises:
        DataError: A column is missing or a time is naive.
    """
    events = as_lazy(data, "stage_events", required=["lead_id", "from", "to", "time"], reads=(), once=True)
    check_aware(events, ["time"], kind="stage_events")
    dispositions = as_lazy(data, "dispositions", required=["lead_id", "time"], reads=(), once=True)
    check_aware(dispositions, ["time"], kind="dispositions")
    if as_of is not None:
        as_of = check_time(as_of, "as_of")
        events = events.filter(nw.col("time") <= as_of)
        dispositions = dispositions.filter(nw.col("time") <= as_of)
    to, time = pl.col("to"), pl.col("time")
    targets = [b for _, b in stages.handoffs]
    is_mql = (
        to.is_in(list(stages.mql)) | _pairs(stages.handoffs) | (pl.col("from").is_null() & to.is_in(targets))
    )
    is_accepted = to.is_in(list(stages.accepted))
    is_rejected = _pairs(stages.rejections) | to.is_in(list(stages.disqualified))
    native: pl.LazyFrame = events.to_native()
    disposals: pl.LazyFrame = dispositions.to_native()
    flags = native.select("lead_id", "time", m=is_mql, a=is_accepted, r=is_rejected, d=pl.lit(value=False))
    flags = flags.filter(pl.col("m") | pl.col("a") | pl.col("r"))
    latest = {
        "mql_at": pl.when("m").then(time).min(),
        "accepted_last": pl.when("a").then(time).max(),
        "rejected_last": pl.when("r").then(time).max(),
    }
    ours, theirs = native.collect_schema(), disposals.collect_schema()
    if all(ours[c] == theirs[c] for c in ("lead_id", "time")):
        # One group-by over both kinds (the usual case: a Dataset's times are all in UTC microseconds);
        # otherwise each is grouped and the two joined, which gives the same rows.
        no = pl.lit(value=False)
        both = pl.concat([flags, disposals.select("lead_id", "time", m=no, a=no, r=no, d=pl.lit(value=True))])
        per_lead = both.group_by("lead_id").agg(**latest, disposed_last=pl.when("d").then(time).max())
    else:
        disposed = disposals.group_by("lead_id").agg(disposed_last=time.max())
        per_lead = (
            flags.group_by("lead_id").agg(**latest).join(disposed, on="lead_id", how="full", coalesce=True)
        )
    mql_at = pl.col("mql_at")
    mql = mql_at.is_not_null()

    def since_mql(column: str) -> pl.Expr:
        c = pl.col(column)
        return pl.when(mql).then(c >= mql_at).otherwise(c.is_not_null()).fill_null(value=False)

    accepted = since_mql("accepted_last")
    rejected = ~accepted & (since_mql("rejected_last") | since_mql("disposed_last"))
    return per_lead.select("lead_id", mql=mql, mql_at=mql_at, accepted=accepted, rejected=rejected)


def first_dispositions(outcomes: pl.LazyFrame, data: Any, *, as_of: datetime | None = None) -> pl.LazyFrame:
    """Each lead of ``outcomes`` (from :func:`lead_outcomes`) with its first disposition after the handoff.

    Columns ``lead_id``, ``disposition_at``, ``reason``, for the leads with such a disposition: the
    earliest disposition at or after ``mql_at`` (at any time for a lead that is no MQL). Of several at
    that same time, the smallest reason in code-point order; an empty reason counts as none, so it goes
    to a real reason given at the same time, and a lead whose first dispositions give none has a null
    ``reason``. With ``as_of``, only dispositions at or before it count (pass the same ``as_of`` as to
    :func:`lead_outcomes`).

    Raises:
        DataError: A column is missing or a time is naive.
    """
    dispositions = as_lazy(data, "dispositions", required=["lead_id", "time", "reason"], reads=(), once=True)
    check_aware(dispositions, ["time"], kind="dispositions")
    if as_of is not None:
        as_of = check_time(as_of, "as_of")
        dispositions = dispositions.filter(nw.col("time") <= as_of)
    native: pl.LazyFrame = dispositions.to_native()
    time = pl.col("time")
    return (
        native.select("lead_id", "time", "reason")
        .join(outcomes.select("lead_id", "mql_at"), on="lead_id", how="inner")
        .filter(pl.col("mql_at").is_null() | (time >= pl.col("mql_at")))
        .group_by("lead_id")
        .agg(
            disposition_at=time.min(),
            reason=pl.col("reason").cast(pl.String).replace("", None).filter(time == time.min()).min(),
        )
    )


def rejection_reasons(outcomes: pl.LazyFrame, data: Any, *, as_of: datetime | None = None) -> pl.LazyFrame:
    """Each rejected lead of ``outcomes`` (from :func:`lead_outcomes`) with its one reason.

    Columns ``lead_id``, ``reason``: the reason of the lead's first disposition after the handoff (see
    :func:`first_dispositions`, which also says how ties are broken). A rejected lead with no such
    disposition (rejected by a disqualify or recycle move alone), or whose reason is empty, gets
    :data:`NO_REASON`. So every rejected lead has exactly one reason, and the counts per reason add up to
    the rejected leads.

    Raises:
        DataError: A column is missing or a time is naive.
    """
    rejected = outcomes.filter("rejected").select("lead_id", "mql_at")
    first = first_dispositions(rejected, data, as_of=as_of)
    return rejected.join(first, on="lead_id", how="left").select(
        "lead_id", pl.col("reason").fill_null(NO_REASON)
    )


def won_deals(data: Any, *, as_of: datetime | None = None) -> pl.DataFrame:
    """The won deals, checked by the won-deal rule; with ``as_of``, those closed by ``as_of.date()``.

    Columns ``id``, ``amount``, ``amount_currency``, ``close_date``, ``_minor`` (minor units), ``lead_id``.

    Raises:
        DataError: A won deal breaks the won-deal rule (the message names the deal and column).
    """
    columns = ["id", "lead_id", "stage", "amount", "amount_currency", "close_date"]
    deals = as_lazy(data, "deals", required=columns, reads=()).to_native()
    won = deals.filter(pl.col("stage") == WON).select(columns).collect()
    checked = check_won(won, kind="deal").with_columns(won.get_column("lead_id"))
    if as_of is not None:
        checked = checked.filter(pl.col("close_date") <= as_of.date())
    return checked


def lead_groups(data: Any, by: Sequence[str], *, kind: str = "leads") -> pl.LazyFrame:
    """``lead_id`` and the ``by`` columns of each lead: a lead column, or ``account.<column>`` of its account.

    Raises:
        DataError: A ``by`` column is in neither the leads nor (for ``account.``) the accounts.
    """
    leads: pl.LazyFrame = as_lazy(data, "leads", required=["id"]).to_native()
    own = [c for c in by if not c.startswith(ACCOUNT)]
    of_account = [c[len(ACCOUNT) :] for c in by if c.startswith(ACCOUNT)]
    check_group_columns(own, leads.collect_schema().names(), [], kind=kind)
    frame = leads.select(pl.col("id").alias("lead_id"), "account_id", *own)
    if of_account:
        accounts = as_lazy(data, "accounts", required=["id"]).to_native()
        check_group_columns(by, [], accounts.collect_schema().names(), kind=kind, leads_too=False)
        frame = frame.join(
            accounts.select(
                pl.col("id").alias("account_id"), *[pl.col(c).alias(ACCOUNT + c) for c in of_account]
            ),
            on="account_id",
            how="left",
        )
    return frame.select("lead_id", *by)


def check_group_columns(
    by: Sequence[str],
    leads: Sequence[str],
    accounts: Sequence[str],
    *,
    kind: str = "leads",
    leads_too: bool = True,
) -> None:
    """Raise the :class:`~smarketing.errors.DataError` of :func:`lead_groups` for a ``by`` column not found.

    ``leads`` and ``accounts`` are the columns the leads and accounts have (``leads_too=False``: only the
    ``account.`` columns of ``by`` are looked up).

    Raises:
        DataError: A ``by`` column is in neither the leads nor (for ``account.``) the accounts.
    """
    own = [c for c in by if not c.startswith(ACCOUNT)] if leads_too else []
    for column in own:
        if column not in leads:
            raise DataError(f"no lead column {column!r} to group by; known: {', '.join(leads)}", kind=kind)
    for column in (c[len(ACCOUNT) :] for c in by if c.startswith(ACCOUNT)):
        if column not in accounts:
            raise DataError(
                f"no account column {column!r} to group by; known: {', '.join(accounts)}", kind="accounts"
            )
