"""The public verb: :func:`compute_rewards`, the shared reward of one period."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from smarketing._periods import period_bounds, reward_period_kind
from smarketing.errors import DataError, PlanError, PlanIssue
from smarketing.money import FxTable
from smarketing.records import Dataset
from smarketing.rewards import _scale
from smarketing.rewards._attainment import _plan_for_period
from smarketing.rewards._columns import _I64, _lines_as_text, _lines_from_text
from smarketing.rewards._context import _Context
from smarketing.rewards._deals import _deal_frame
from smarketing.rewards._kernel import _floor_payment, _lines_of_period
from smarketing.rewards.ledger import RewardLedger
from smarketing.rewards.model import RewardPlan

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["compute_rewards"]


def compute_rewards(
    deals: Any,
    plan: AlignmentPlan | RewardPlan,
    *,
    touchpoints: Any = None,
    stage_events: Any = None,
    fx: FxTable | None = None,
    period: str,
    as_of: date,
    previous: RewardLedger | None = None,
) -> RewardLedger:
    """Compute the shared reward of one period: every cent, for every participant, with its reason.

    Each won deal closed on or before ``as_of`` (and on or after the plan's ``valid_from``) is paid under the
    plan version in force on its close date. Its **pool** is ``rate`` of its gross or net amount, converted
    into the plan currency at the close date's rate, plus ``fixed``. The pool is split, with
    :func:`~smarketing.money.allocate` semantics at every step (largest remainder, ties to the smaller key):

    1. into parts: attribution (``attribution.share``), stage ownership (``stage_credit.share``) and the fixed
       split (the rest: ``team_split`` or a plan revenue split);
    2. each part over its recipients: touch owners (teams for unowned touches) by the attribution model over
       the deal's touches up to its close date; the owners of the stages its lead entered; the fixed shares;
    3. recipients to participants: a participant person is paid; another person of the plan passes the
       credit to their team; a team's credit goes to the deal's revenue splits in that team, else to the deal
       owner if in the team, else to the team's pool, divided among its members by the team participant's
       ``divide`` (weight, equal, attainment, credit). Anything else is an error.

    **Overlays** (plan or deal splits of kind ``overlay``) are paid on top: ``round(pool x total overlay
    share)`` split by share. **Tiers** apply per participant and period to their own pool and revenue-split
    credit (not overlays or team pools), by attainment = credited bookings (the basis amount split like the
    pool) / quota; the tier line is ``payout - credited``, spread over the period's deals by credit. Then the
    **cap per deal**, the **cap per period** (spread by deal), **clawbacks** of deals refunded in the period
    within the window (``full``, or ``pro_rata`` by the days left of the window; optionally reducing the
    period's attainment), and the **floor** (a top-up line without deal).

    Periods before the requested one are recomputed as needed (clawbacks reverse the lines of the period the
    deal closed in); a period that ends on or before ``locked_through`` is locked: its ledger is ``previous``
    and a recomputation adds only ``adjustment`` lines.

    Args:
        deals: :class:`~smarketing.records.Deal` records, a :class:`~smarketing.records.Dataset` (its
            touchpoints and stage events are used by default) or a frame in the deal columns.
        plan: The whole :class:`~smarketing.plan.AlignmentPlan` (``plan``, not ``plan.rewards``): people,
            teams and the journey come from it, so team credit reaches the deal's owner, its revenue splits
            and the team's members. A bare :class:`RewardPlan` knows no teams: team credit then goes only to
            team participants, undivided, and stage credit by team is unknown.
        touchpoints: Touchpoints, for attribution credit.
        stage_events: Stage events, for stage credit and the ``w_shaped``/``full_path`` models.
        fx: Exchange rates into the plan currency, for deals in other currencies.
        period: ``"2026-10"`` (month), ``"2026-Q4"`` (quarter) or ``"2026"`` (year).
        as_of: The day of the run; later closes and refunds are not known yet.
        previous: The ledger of an earlier run of the same period: required for a locked period; otherwise
            statements show what changed since it.

    Returns:
        The period's ledger.

    Raises:
        DataError: A won deal without amount, currency or close date, a negative amount, revenue splits not
            totalling 100%, credit for someone not in the plan or for a team nobody can receive, a missing
            exchange rate (naming the deal and date), a deal without touchpoints when attribution needs them.
        CurrencyMismatchError: Deals in another currency and no ``fx``.
        PlanError: No reward part, or a locked period without ``previous``.
        ValueError: A malformed period, or ``previous`` of another period.

    Examples:
        >>> from datetime import date, datetime, timezone
        >>> from smarketing.records import Deal
        >>> plan = RewardPlan.model_validate(
        ...     {
        ...         "id": "v1",
        ...         "currency": "EUR",
        ...         "pool": {"rate": "10%"},
        ...         "participants": [{"person": "ana"}, {"person": "bo"}],
        ...         "splits": [{"kind": "revenue", "shares": {"ana": "50%", "bo": "50%"}}],
        ...     }
        ... )
        >>> deal = Deal(
        ...     id="D1",
        ...     amount=sm.Money("1000.10", "EUR"),
        ...     stage="won",
        ...     created_at=datetime(2026, 10, 1, tzinfo=timezone.utc),
        ...     close_date=date(2026, 10, 2),
        ... )
        >>> ledger = compute_rewards([deal], plan, period="2026-10", as_of=date(2026, 10, 31))
        >>> ledger.totals()
        {'ana': Money('50.01', 'EUR'), 'bo': Money('50.00', 'EUR')}
    """
    ctx = _Context.of(plan)
    _refuse_problems(ctx.plan, plan)
    kind = reward_period_kind(period)
    start, end = period_bounds(period)
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if as_of < start:
        raise ValueError(f"period {period} starts after as_of {as_of}; nothing of it is known yet")
    if previous is not None and previous.period != period:
        raise ValueError(f"previous is the ledger of {previous.period}, not of {period}")
    cutoff = min(end, as_of)
    if isinstance(deals, Dataset):
        touchpoints = deals.touchpoints if touchpoints is None else touchpoints
        stage_events = deals.stage_events if stage_events is None else stage_events
    rp = ctx.plan
    needs_touches = any(
        vp.attribution is not None and vp.attribution.share > 0 for _, vp in rp.version_index()
    )
    if needs_touches and touchpoints is None:
        raise DataError("the plan credits by attribution: pass touchpoints=", kind="rewards")
    locked = rp.locked_through is not None and end <= rp.locked_through
    table = None
    if _scale.on_engine(deals, touchpoints, stage_events, rp):
        # Deals on Spark: per-lead credit mapped there, tiers and caps per participant; the lines stay there.
        table, summary, team_of = _scale.engine_rewards(
            deals,
            ctx,
            touchpoints=touchpoints,
            stage_events=stage_events,
            fx=fx,
            kind=kind,
            period=period,
            cutoff=cutoff,
        )
        lines = deals = None
        if locked and previous is not None:
            # A locked period: the paid lines and the adjustments to these, on Spark.
            table = _scale.locked_table(previous.line_table, table, period)
    else:
        won = _deal_frame(deals, ctx, fx, cutoff, kind)
        lines, summary, deals = _lines_of_period(
            won,
            ctx,
            touchpoints=touchpoints,
            stage_events=stage_events,
            kind=kind,
            period=period,
            cutoff=cutoff,
        )
        summary = summary.filter(pl.col("_period") == period).drop("_period")
        period_plan = _plan_for_period(rp, period, cutoff)
        lines = _floor_payment(lines, period_plan)
        teams = {p.team for _, vp in rp.version_index() for p in vp.participants if p.team}
        names = {
            *lines.get_column("participant").unique().drop_nulls().cast(pl.String),
            *summary["participant"],
        }
        # A person's team is their plan team; a team participant is its own team.
        team_of = {who: ctx.people.get(who, who if who in teams else None) for who in sorted(names)}
    if locked:
        if previous is None:
            raise PlanError(
                f"period {period} is locked (it ends on or before {rp.locked_through}): pass previous=, the "
                "ledger paid for it; a recomputation then only adds adjustment lines",
                path="rewards.locked_through",
            )
        if table is None:
            assert lines is not None
            assert deals is not None
            paid = _lines_as_text(previous._lines, previous._deals, previous._teams, period)
            lines, deals = _lines_from_text(
                _adjusted(paid, _lines_as_text(lines, deals, team_of, period), period)
            )
    return RewardLedger(
        period=period,
        currency=rp.currency,
        as_of=as_of,
        plan_id=rp.id,
        locked=locked,
        lines=lines,
        summary=summary.sort("participant"),
        deals=deals,
        teams=team_of,
        previous=None if previous is None else previous._totals_units(),
        table=table,
    )


def _refuse_problems(rewards: RewardPlan, plan: Any) -> None:
    """A :class:`PlanError` naming every problem of the reward plan (with lines, for a loaded plan)."""
    problems = rewards.problems()
    if not problems:
        return
    aligned = not isinstance(plan, RewardPlan)
    source = getattr(plan, "_source", None) if aligned else None
    issues = []
    for relative, message in problems:
        path = f"rewards.{relative}" if aligned else relative
        issues.append(PlanIssue(message, path=path, line=source.line(path) if source is not None else None))
    raise PlanError(issues[0].message, file=source.file if source is not None else None, issues=issues)


def _adjusted(paid: pl.DataFrame, now: pl.DataFrame, period: str) -> pl.DataFrame:
    """A locked period: the lines paid stay; the difference to a recomputation comes as adjustment lines.

    Summed per (participant, deal, component, origin period), an adjustment counting as its source; an
    adjustment line's team is the smallest of its group's paid lines (else of the new), its version the
    smallest of the new lines' (one per participant and per deal in practice: the smallest makes it
    independent of the lines' order, as on Spark).
    """
    key = ["participant", "deal", "_c", "origin_period"]
    component = (
        pl.when(pl.col("component") == "adjustment").then(pl.col("source")).otherwise(pl.col("component"))
    )
    old = (
        paid.with_columns(component.alias("_c"))
        .group_by(key)
        .agg(pl.col("units").sum().alias("_old"), pl.col("team").min())
    )
    new = (
        now.with_columns(component.alias("_c"))
        .group_by(key)
        .agg(pl.col("units").sum().alias("_new"), pl.col("team").min(), pl.col("version").min())
    )
    both = old.join(new, on=key, how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("_old").fill_null(0),
        pl.col("_new").fill_null(0),
        pl.coalesce("team", "team_right").alias("team"),
    )
    diff = both.filter(pl.col("_new") != pl.col("_old"))
    adjustments = diff.select(
        pl.lit(period, dtype=pl.String).alias("period"),
        "participant",
        "team",
        "deal",
        pl.lit("adjustment").alias("component"),
        pl.col("_c").alias("source"),
        pl.lit(None, dtype=pl.String).alias("via"),
        (pl.col("_new") - pl.col("_old")).alias("units"),
        pl.lit(0, dtype=_I64).alias("basis_units"),
        pl.lit(0, dtype=_I64).alias("pool_units"),
        pl.lit(0, dtype=_I64).alias("deal_units"),
        "version",
        pl.format(
            "locked period recomputed: {} was {}, now {} (minor units)",
            pl.col("_c"),
            pl.col("_old"),
            pl.col("_new"),
        ).alias("rule"),
        "origin_period",
    )
    return pl.concat([paid, adjustments.select(paid.columns)], how="vertical_relaxed")
