"""The one columnar kernel of the built-in metrics (private; documented for tests and the metrics verb).

Every built-in metric is computed on the narwhals lazy API (polars by default), shaped as *map per
lead/deal + associative reduce*: each fact row is mapped to ``(metric, group, period)`` and a partial (a
count, a sum of money per currency and day, or a sum and a number for means), and partials are added. Any
engine that can partition by lead id can run the kernel per partition and add the partials.

The kernel does not import or read the alignment plan: :func:`smarketing.kpi.metrics.compute_metrics`
unpacks it into the parts read here (the journey map, the marketing team ids, each person's team and what
the SLA evaluation needs, :data:`SLASource`) and passes them to :func:`measure`, which returns the
partials; :func:`group_names` and :func:`builtin_value` then finish them into values.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import narwhals as nw
import polars as pl

from smarketing._periods import PeriodKind, Window, zone
from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import _money, as_lazy, check_aware, collect
from smarketing.kpi._formula import Undefined, Value
from smarketing.money import FxTable, Money
from smarketing.sla import _kernel as sla_kernel
from smarketing.sla import _scale as sla_scale

if TYPE_CHECKING:
    from smarketing.journey import JourneyMap

__all__ = ["SLASource", "Values", "builtin_value", "group_names", "measure", "windows_of"]

# --------------------------------------------------------------------------------------------------
# The kernel.

#: Metric values by (metric, group, window); groups are "" without ``by``.
Values: TypeAlias = dict[tuple[str, str, Window], Value]

_STAGE_METRICS = {"mqls": "mql", "sals": "sal", "sqls": "sql", "opportunities": "opportunity"}
_DEAL_MONEY = {
    "revenue",
    "pipeline_value",
    "sourced_pipeline_lead_source",
    "sourced_pipeline_first_touch",
    "sourced_pipeline_before_acceptance",
    "influenced_pipeline",
}
_NONE_GROUP = "(none)"
#: Metrics read off the SLA evaluation's per-lead frame (one evaluation per kernel run).
_SLA_METRICS = frozenset({"first_response_hours", "sla_compliance", "disposition_coverage"})

#: What the SLA evaluation reads, built on first use (a plan whose journey has no handoff fails only
#: when an SLA metric is asked for): :func:`smarketing.sla.sla_context` bound to the plan.
SLASource: TypeAlias = Callable[[], sla_kernel.SLAContext]


@attrs.frozen
class _Setup:
    tz: str
    as_of: datetime
    journey: JourneyMap | None
    marketing_teams: frozenset[str]
    by: str | None
    team_of: Mapping[str, str]
    windows: dict[str, tuple[Window, ...]]
    sla: SLASource | None = attrs.field(default=None, eq=False)


@attrs.define
class _Inputs:
    """The frames of a run's data, each read and checked once, and kept on its engine (see ``collect``)."""

    data: Any
    frames: dict[str, nw.LazyFrame[Any]] = attrs.Factory(dict)

    def read(self, kind: str, required: Sequence[str]) -> nw.LazyFrame[Any]:
        frame = self.frames.get(kind)
        if frame is None:
            frame = self.frames[kind] = as_lazy(self.data, kind, required=required, engine=True)
        missing = [c for c in required if c not in frame.collect_schema().names()]
        if missing:
            raise DataError(f"missing column(s) {', '.join(missing)}", kind=kind)
        return frame


@attrs.define
class _Run:
    """One kernel run: the inputs and the partials found so far."""

    data: Any
    setup: _Setup
    inputs: _Inputs
    groups: nw.LazyFrame[Any] | None = None
    counts: dict[tuple[str, str, Window], Fraction] = attrs.Factory(dict)
    means: dict[tuple[str, str, Window], tuple[Fraction, int]] = attrs.Factory(dict)
    money: dict[tuple[str, str, Window], dict[tuple[str, date], Decimal]] = attrs.Factory(
        lambda: defaultdict(dict)
    )
    direct: dict[tuple[str, str, Window], Value] = attrs.Factory(dict)


def _bucket(column: str, windows: Sequence[Window], tz: str, *, is_date: bool = False) -> nw.Expr:
    """The start date of the window each row falls in, or null.

    Window boundaries are turned into instants once, so rows are only compared, never converted to the
    local time zone (a per-row time-zone conversion costs more than the whole count).
    """
    expr: Any = None
    for w in windows:
        if is_date:
            inside = (nw.col(column) >= nw.lit(w.start)) & (nw.col(column) < nw.lit(w.end))
        else:
            start, end = w.start_at(tz).astimezone(UTC), w.end_at(tz).astimezone(UTC)
            inside = (nw.col(column) >= nw.lit(start)) & (nw.col(column) < nw.lit(end))
        expr = (
            nw.when(inside).then(nw.lit(w.start)) if expr is None else expr.when(inside).then(nw.lit(w.start))
        )
    assert expr is not None, "at least one window"
    result: nw.Expr = expr.otherwise(None)
    return result


def _window_index(column: str, windows: Sequence[Window], tz: str) -> nw.Expr:
    """The position in ``windows`` of the window each instant falls in, or null (see :func:`_bucket`)."""
    expr: Any = None
    for i, w in enumerate(windows):
        start, end = w.start_at(tz).astimezone(UTC), w.end_at(tz).astimezone(UTC)
        inside = (nw.col(column) >= nw.lit(start)) & (nw.col(column) < nw.lit(end))
        index = nw.lit(i, dtype=nw.Int64())
        expr = nw.when(inside).then(index) if expr is None else expr.when(inside).then(index)
    assert expr is not None, "at least one window"
    result: nw.Expr = expr.otherwise(None)
    return result


def _stage_sets(journey: JourneyMap | None) -> dict[str, set[str]]:
    """Stage ids per built-in stage metric; without a journey, stage ids are their kinds."""
    if journey is None:
        sets = {m: {k} for m, k in _STAGE_METRICS.items()}
        sets["handed_off"] = {"sal"}
        sets["disqualified"] = {"disqualified"}
        return sets
    sets = {
        m: {s.id for s in journey.stages if s.kind == k and s.terminal is None}
        for m, k in _STAGE_METRICS.items()
    }
    sets["handed_off"] = {t.to for t in journey.handoffs()}
    sets["disqualified"] = {s.id for s in journey.stages if s.terminal == "disqualified"}
    return sets


def _groups(data: _Inputs, setup: _Setup) -> nw.LazyFrame[Any] | None:
    """``lead_id, _group`` for every lead, or None without ``by``."""
    if setup.by is None:
        return None
    column = "owner" if setup.by == "team" else setup.by
    leads = data.read("leads", ["id", column])
    group = nw.col(column).cast(nw.String())
    if setup.by == "team":
        group = group.replace_strict(
            list(setup.team_of), list(setup.team_of.values()), default=None, return_dtype=nw.String()
        )
    return leads.select(nw.col("id").alias("lead_id"), group.fill_null(_NONE_GROUP).alias("_group"))


def _with_group(frame: nw.LazyFrame[Any], groups: nw.LazyFrame[Any] | None) -> nw.LazyFrame[Any]:
    if groups is None:
        return frame.with_columns(nw.lit("").alias("_group"))
    return frame.join(groups, on="lead_id", how="left").with_columns(nw.col("_group").fill_null(_NONE_GROUP))


#: The prefix of the per-kind columns :func:`_per_kind` unpivots (``_in_month``, ``_in_quarter``).
_PER_KIND = "_in_"


def _per_kind(frame: nw.LazyFrame[Any], columns: Mapping[str, nw.Expr], value: str) -> nw.LazyFrame[Any]:
    """One row per row of ``frame`` and period kind whose expression is not null, in ``_kind`` and ``value``.

    ``columns`` maps each period kind to its expression (the window a row falls in, e.g.); the kinds of a
    run (a scorecard of monthly and quarterly KPIs) are read in one query. On Spark the expressions are
    unpivoted: one pass over the frame, each row expanded as it streams by. Elsewhere each kind's rows
    are selected apart and concatenated: polars reads its input once for both (its common subplan), and
    an unpivot would materialise every row once per kind before the filter (narwhals also unpivots a
    DuckDB relation with a query on DuckDB's default connection, which cannot read another connection's).
    """
    kinds = list(columns)
    if len(kinds) > 1 and frame.implementation.is_spark_like():
        index = frame.collect_schema().names()
        on = [f"{_PER_KIND}{k}" for k in kinds]
        return (
            frame.with_columns(*(expr.alias(f"{_PER_KIND}{k}") for k, expr in columns.items()))
            .unpivot(on=on, index=index, variable_name="_kind", value_name=value)
            .with_columns(nw.col("_kind").str.slice(len(_PER_KIND)))
            .filter(~nw.col(value).is_null())
        )
    return nw.concat(
        [
            frame.with_columns(nw.lit(k).alias("_kind"), expr.alias(value)).filter(~nw.col(value).is_null())
            for k, expr in columns.items()
        ],
        how="vertical",
    )


def _bucketed(
    frame: nw.LazyFrame[Any], column: str, setup: _Setup, *, is_date: bool = False
) -> nw.LazyFrame[Any]:
    """``frame`` with the kind (``_kind``) and start (``_bucket``) of each window of the run it falls in.

    A row falls in at most one window of each kind; a row in no window is left out.
    """
    buckets = {k: _bucket(column, w, setup.tz, is_date=is_date) for k, w in setup.windows.items()}
    return _per_kind(frame, buckets, "_bucket")


def _counts(frame: pl.DataFrame, out: dict[tuple[str, str, Window], Fraction], column: str = "n") -> None:
    for metric, group, kind, bucket, n in frame.select(
        "_metric", "_group", "_kind", "_bucket", column
    ).iter_rows():
        out[(metric, group, Window(kind, bucket))] = Fraction(n)


def measure(
    data: Any,
    builtin: Iterable[str],
    *,
    windows: Sequence[Window],
    tz: str,
    as_of: datetime,
    by: str | None,
    journey: JourneyMap | None,
    marketing_teams: frozenset[str],
    team_of: Mapping[str, str],
    sla: SLASource | None,
) -> _Run:
    """Run the kernels of the built-in metrics ``builtin`` over every window, and keep their partials.

    Args:
        data: A ``Dataset`` (or anything :func:`~smarketing.frames.as_lazy` accepts per record kind).
        builtin: The built-in metrics wanted (``avg_deal_size`` brings ``revenue`` and ``won``).
        windows: The periods (any mix of kinds).
        tz: Time zone the periods are bucketed in.
        as_of: Facts after this instant are ignored (already checked, in UTC).
        by: Lead column to group by, ``team``, or None.
        journey: Stage kinds, handoffs and recycles; None takes stage ids to be their kinds.
        marketing_teams: Ids of the teams whose touches are marketing's.
        team_of: Person id -> team id (for ``by="team"``).
        sla: What the SLA evaluation reads, or None without an SLA (the SLA metrics are then undefined).
    """
    by_kind: dict[PeriodKind, list[Window]] = defaultdict(list)
    for w in sorted(set(windows)):
        by_kind[w.kind].append(w)
    setup = _Setup(
        tz=tz,
        as_of=as_of,
        journey=journey,
        marketing_teams=marketing_teams,
        by=by,
        team_of=team_of,
        windows={k: tuple(v) for k, v in by_kind.items()},
        sla=sla,
    )
    run = _Run(data, setup, _Inputs(data))
    run.groups = _groups(run.inputs, setup)
    wanted = set(builtin)
    if "avg_deal_size" in wanted:
        wanted |= {"revenue", "won"}
    if not by_kind:
        return run
    # Each family of metrics is computed for the windows of every kind at once (see _per_kind).
    if "leads" in wanted:
        _lead_counts(run)
    stage_metrics = wanted & {*_STAGE_METRICS, "handed_off", "disqualified", "recycled"}
    if stage_metrics:
        _stage_counts(run, stage_metrics)
    if "never_worked" in wanted:
        _never_worked(run)
    deal_metrics = wanted & {"won", "lost", "cycle_days", *_DEAL_MONEY}
    if deal_metrics:
        _deal_metrics(run, deal_metrics)
    if wanted & _SLA_METRICS and sla is not None:
        _sla_metrics(run, sla)
    return run


def group_names(run: _Run) -> list[str]:
    """The groups values are given for: ``[""]`` without ``by``, else the groups partials or leads show."""
    names = sorted(
        {g for (_, g, _) in (*run.counts, *run.means, *run.money)} | ({""} if run.setup.by is None else set())
    )
    if run.setup.by is not None and run.groups is not None and not names:
        names = sorted(set(collect(run.groups.select("_group").unique())["_group"].to_list()))
    return names


def windows_of(run: _Run) -> list[Window]:
    """The run's windows, by period kind (in the order kinds first appear), oldest first within a kind."""
    return [w for ws in run.setup.windows.values() for w in ws]


def builtin_value(
    run: _Run, key: tuple[str, str, Window], *, currency: str | None, fx: FxTable | None
) -> Value:
    """The value of the built-in metric ``key = (metric, group, window)`` from the run's partials.

    Money in ``currency`` (converted with ``fx``), durations in hours; a count with no partial is 0; a mean
    or a ratio without a denominator is :class:`Undefined` with the reason.
    """
    name, group, w = key
    counts, means, money = run.counts, run.means, run.money
    if name == "avg_deal_size":
        n = counts.get(("won", group, w), Fraction(0))
        total = _money_total("revenue", money.get(("revenue", group, w), {}), currency, fx)
        return total / n if n and not isinstance(total, Undefined) else _no(total, "no won deals", w)
    if name == "cycle_days":
        days, deals = means.get(key, (Fraction(0), 0))
        return days / deals if deals else Undefined(f"no won deals in {w.label}")
    if name in _DEAL_MONEY:
        return _money_total(name, money.get(key, {}), currency, fx)
    if name in _SLA_METRICS:
        reason = "the plan has no SLA" if run.setup.sla is None else None
        return run.direct.get(key, Undefined(reason or _SLA_EMPTY[name].format(w.label)))
    return counts.get(key, Fraction(0))


def _no(total: Value, reason: str, w: Window) -> Undefined:
    return total if isinstance(total, Undefined) else Undefined(f"{reason} in {w.label}")


def _money_total(
    metric: str, parts: Mapping[tuple[str, date], Decimal], currency: str | None, fx: FxTable | None
) -> Value:
    """Sum per-(currency, day) totals in ``currency``, converting each day's total at that day's rate."""
    if not parts:
        return Fraction(0)
    foreign = sorted({c for c, _ in parts if c != currency})
    if currency is None:
        if len(foreign) > 1:
            raise CurrencyMismatchError(
                f"{metric}: amounts in {', '.join(foreign)}; give the KPI a currency and fx=FxTable(...)"
            )
        currency = foreign[0]
        foreign = []
    if foreign and fx is None:
        raise CurrencyMismatchError(
            f"{metric}: amounts in {', '.join(foreign)} cannot be reported in {currency} "
            "without exchange rates; pass fx=FxTable(...)"
        )
    total = Fraction(0)
    for (code, day), amount in sorted(parts.items()):
        if code == currency:
            total += Fraction(amount)
        else:
            assert fx is not None
            total += Fraction(fx.convert(Money(amount, code), currency, day).amount)
    return total


def _on_polars(frame: nw.LazyFrame[Any] | None) -> nw.LazyFrame[Any] | None:
    """``frame`` on polars, to be joined with a polars frame (an engine frame is never joined with one)."""
    if frame is None or frame.implementation is nw.Implementation.POLARS:
        return frame
    return nw.from_native(collect(frame)).lazy()


def _cut(frame: nw.LazyFrame[Any], column: str, setup: _Setup) -> nw.LazyFrame[Any]:
    return frame.filter(nw.col(column) <= setup.as_of)


_SLA_EMPTY = {
    "first_response_hours": "no handed-off lead got a first response in {}",
    "sla_compliance": "no first response of a lead handed off in {} is decided yet",
    "disposition_coverage": "no disposition deadline of a lead handed off in {} has passed",
}


def _sla_metrics(run: _Run, sla: SLASource) -> None:
    """Lead response time, SLA compliance and disposition coverage from the SLA evaluation.

    The evaluation (business time, tiers, pauses) is the kernel of :func:`smarketing.sla.evaluate_sla`;
    it runs once per kernel run and the metrics are read off its per-lead statuses, bucketed by handoff
    time. Only those are computed (:func:`smarketing.sla._kernel.lead_statuses`): not the escalation
    ladder, the breaches, marketing's side or the counts.

    On PySpark frames the kernel runs on Spark partitions of leads (:mod:`smarketing.sla._scale`): the
    counts per group and window are summed there and the median response time comes from the exact lower
    medians of the times and of their negations; only those merged rows reach the driver (for every
    window kind of the run at once).
    """
    frames = sla_scale.spark_frames(run.data)
    if frames is not None:
        buckets = {k: _bucket("handoff_at", w, run.setup.tz) for k, w in run.setup.windows.items()}
        groups = None if run.groups is None else run.groups.to_native()
        result = sla_scale.status_partials(sla(), frames, groups, as_of=run.setup.as_of, buckets=buckets)
    else:
        leads = sla_kernel.lead_statuses(sla(), run.data, as_of=run.setup.as_of)
        status, disposition = nw.col("response_status"), nw.col("disposition_status")
        frame = _bucketed(nw.from_native(leads).lazy(), "handoff_at", run.setup)
        frame = _with_group(frame, _on_polars(run.groups))
        result = collect(
            frame.group_by("_group", "_kind", "_bucket").agg(
                nw.col("first_response_hours").median().alias("median"),
                (status == "met").sum().alias("met"),
                status.is_in(["met", "breached"]).sum().alias("decided"),
                (disposition == "on_time").sum().alias("on_time"),
                (disposition != "pending").sum().alias("due"),
            )
        )
    for group, kind, bucket, median, met, decided, on_time, due in result.select(
        "_group", "_kind", "_bucket", "median", "met", "decided", "on_time", "due"
    ).iter_rows():
        w = Window(kind, bucket)
        if median is not None:
            # Hours are measured as floats by the business clock; their shortest repr is the exact value.
            run.direct[("first_response_hours", group, w)] = Fraction(Decimal(repr(median)))
        if decided:
            run.direct[("sla_compliance", group, w)] = Fraction(met, decided)
        if due:
            run.direct[("disposition_coverage", group, w)] = Fraction(on_time, due)


def _lead_counts(run: _Run) -> None:
    data, setup, groups, counts = run.inputs, run.setup, run.groups, run.counts
    leads = data.read("leads", ["id", "created_at"])
    check_aware(leads, ["created_at"], kind="leads")
    frame = _cut(leads, "created_at", setup).select(nw.col("id").alias("lead_id"), "created_at")
    frame = _with_group(_bucketed(frame, "created_at", setup), groups)
    result = (
        frame.group_by("_group", "_kind", "_bucket")
        .agg(nw.len().alias("n"))
        .with_columns(_metric=nw.lit("leads"))
    )
    _counts(collect(result), counts)


def _stage_counts(run: _Run, metrics: set[str]) -> None:
    """Distinct leads per stage metric and window.

    Metrics with the same stage set (``sals`` and ``handed_off`` without a journey) are counted once.
    Each count groups by one integer key (the window's index among all the run's windows, offset per
    stage set) and the lead id, which is cheaper than grouping by a metric name, a group name and a date.
    """
    data, setup, groups, counts = run.inputs, run.setup, run.groups, run.counts
    events = data.read("stage_events", ["lead_id", "to", "time"])
    check_aware(events, ["time"], kind="stage_events")
    sets = _stage_sets(setup.journey)
    # One test per distinct stage set, and the metrics that share it.
    tests: dict[tuple[str, ...], nw.Expr] = {}
    shared: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for m in sorted(metrics & set(sets)):
        if sets[m]:
            stages = tuple(sorted(sets[m]))
            tests[stages] = nw.col("to").is_in(stages)
            shared[stages].append(m)
    if "recycled" in metrics and setup.journey is not None:
        pairs = [(t.source, t.to) for t in setup.journey.transitions if t.kind == "recycle"]
        if pairs and "from" in events.collect_schema().names():
            tests[("recycled",)] = nw.any_horizontal(
                *[(nw.col("from") == a) & (nw.col("to") == b) for a, b in pairs], ignore_nulls=True
            )
            shared[("recycled",)].append("recycled")
    if not tests:
        return
    windows = [w for ws in setup.windows.values() for w in ws]
    n = len(windows)
    keys = list(tests)
    events = _cut(events, "time", setup)
    # Built once: each boundary is a costly literal. A kind's windows follow the earlier kinds' in `windows`.
    offsets = itertools.accumulate((len(ws) for ws in setup.windows.values()), initial=0)
    index = {
        kind: _window_index("time", ws, setup.tz) + offset
        for (kind, ws), offset in zip(setup.windows.items(), offsets, strict=False)
    }
    parts = [
        _with_group(
            _per_kind(
                events.filter(tests[k]).select("lead_id", "time"),
                {kind: at + i * n for kind, at in index.items()},
                "_key",
            ).select("lead_id", "_key"),
            groups,
        )
        for i, k in enumerate(keys)
    ]
    result = nw.concat(
        [p.group_by("_group", "_key").agg(nw.col("lead_id").n_unique().alias("n")) for p in parts],
        how="vertical",
    )
    for group, key, value in collect(result).select("_group", "_key", "n").iter_rows():
        for metric in shared[keys[key // n]]:
            counts[(metric, group, windows[key % n])] = Fraction(value)


def _never_worked(run: _Run) -> None:
    """Handoffs with no activity from the handoff up to as_of.

    A lead was worked after its handoff exactly when its last activity (up to as_of) is not before the
    handoff, so activities are reduced to one last time per lead instead of being joined row by row.
    """
    data, setup, groups, counts = run.inputs, run.setup, run.groups, run.counts
    targets = sorted(_stage_sets(setup.journey)["handed_off"])
    events = data.read("stage_events", ["lead_id", "to", "time"])
    handoffs = _bucketed(
        _cut(events, "time", setup).filter(nw.col("to").is_in(targets)).select("lead_id", "time"),
        "time",
        setup,
    )
    handoffs = handoffs.group_by("lead_id", "_kind", "_bucket").agg(nw.col("time").min())
    activities = data.read("activities", ["lead_id", "time"])
    check_aware(activities, ["time"], kind="activities")
    last = _cut(activities, "time", setup).group_by("lead_id").agg(nw.col("time").max().alias("_last"))
    frame = handoffs.join(last, on="lead_id", how="left").filter(
        nw.col("_last").is_null() | (nw.col("_last") < nw.col("time"))
    )
    result = (
        _with_group(frame, groups)
        .group_by("_group", "_kind", "_bucket")
        .agg(nw.len().alias("n"))
        .with_columns(_metric=nw.lit("never_worked"))
    )
    _counts(collect(result), counts)


def _deal_metrics(run: _Run, metrics: set[str]) -> None:
    """Won and lost counts, cycle days, revenue and the pipeline metrics of the deals, into ``run``.

    Counts by close date; revenue (amount net of discount) as money per currency and close day; pipeline
    (amount) per currency and creation day, with the marketing-sourced and influenced flags.
    """
    data, setup, groups = run.inputs, run.setup, run.groups
    counts, means, money = run.counts, run.means, run.money
    required = ["id", "lead_id", "amount", "amount_currency", "stage", "created_at", "close_date"]
    deals = data.read("deals", required)
    check_aware(deals, ["created_at"], kind="deals")
    # The one won-deal rule (shared with rewards and attribution): a won deal that rewards would refuse is
    # refused here too, never summed, rounded or left out.
    _money.check_won(deals)
    names = deals.collect_schema().names()
    discount = nw.col("discount").fill_null(0) if "discount" in names else nw.lit(0)
    as_of_day = setup.as_of.astimezone(zone(setup.tz)).date()
    closed = deals.filter(
        nw.col("stage").is_in(["won", "lost"]),
        ~nw.col("close_date").is_null(),
        nw.col("close_date") <= as_of_day,
    )
    closed = _with_group(_bucketed(closed, "close_date", setup, is_date=True), groups)
    count_metrics = metrics & {"won", "lost"}
    if count_metrics:
        result = (
            closed.filter(nw.col("stage").is_in(sorted(count_metrics)))
            .group_by("stage", "_group", "_kind", "_bucket")
            .agg(nw.len().alias("n"))
            .rename({"stage": "_metric"})
        )
        _counts(collect(result), counts)
    won = closed.filter(nw.col("stage") == "won")
    if "cycle_days" in metrics:
        # The creation day is local to the plan's zone: the won deals of the windows are read first, and
        # the zone converted in polars (an engine converts none, see smarketing.frames.collect).
        rows = collect(won.select("_group", "_kind", "_bucket", "close_date", "created_at"))
        created_day = pl.col("created_at").dt.convert_time_zone(setup.tz).dt.date()
        cycles = rows.group_by("_group", "_kind", "_bucket").agg(
            ((pl.col("close_date") - created_day).dt.total_seconds() // 86400).sum().alias("s"),
            pl.len().alias("n"),
        )
        for group, kind, bucket, s, n in cycles.select("_group", "_kind", "_bucket", "s", "n").iter_rows():
            means[("cycle_days", group, Window(kind, bucket))] = (Fraction(s) * 24, n)
    if "revenue" in metrics:
        revenue = won.with_columns(_amount=nw.col("amount") - discount, _day=nw.col("close_date"))
        _money_sums(revenue.with_columns(_metric=nw.lit("revenue")), money, setup.tz)
    pipeline = metrics & (_DEAL_MONEY - {"revenue"})
    if not pipeline:
        return
    # _day is the creation instant here; _money_sums makes it the local day after reading the sums.
    created = _cut(deals, "created_at", setup).with_columns(
        _day=nw.col("created_at"), _amount=nw.col("amount")
    )
    created = _with_group(_bucketed(created, "created_at", setup), groups)
    if "pipeline_value" in pipeline:
        _money_sums(created.with_columns(_metric=nw.lit("pipeline_value")), money, setup.tz)
    sourced = pipeline - {"pipeline_value"}
    if sourced:
        flagged = _marketing_flags(data, created, setup, sourced)
        parts = [flagged.filter(nw.col(name)).with_columns(_metric=nw.lit(name)) for name in sorted(sourced)]
        _money_sums(nw.concat([p.select(*_MONEY_COLUMNS) for p in parts], how="vertical"), money, setup.tz)


def _first_teams(touches: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
    """``lead_id, _first_team``: the team of each lead's first touch by time, then touch id.

    By joins, on every engine (narwhals has no ordered ``first`` on Spark): the touches at each lead's
    earliest time, and of those the smallest id (touch ids are unique: one row per lead).
    """
    earliest = touches.group_by("lead_id").agg(nw.col("time").min().alias("_time"))
    at_first = touches.join(earliest, on="lead_id", how="inner").filter(nw.col("time") == nw.col("_time"))
    first_ids = at_first.group_by("lead_id").agg(nw.col("id").min().alias("_id"))
    return at_first.join(
        first_ids, left_on=["lead_id", "id"], right_on=["lead_id", "_id"], how="inner"
    ).select("lead_id", nw.col("team").alias("_first_team"))


_MONEY_COLUMNS = ("_metric", "_group", "_kind", "_bucket", "amount_currency", "_day", "_amount")


def _money_sums(
    frame: nw.LazyFrame[Any],
    money: dict[tuple[str, str, Window], dict[tuple[str, date], Decimal]],
    tz: str,
) -> None:
    """Add the sums of ``_amount`` per metric, group, window, currency and day to ``money``.

    ``_day`` is a date, or an instant whose day in ``tz`` is meant: then the sums are per instant on the
    frame's engine, and the instants are made local days in polars (an engine converts no zone), where
    sums of the same day are added below.
    """
    result = collect(
        frame.group_by("_metric", "_group", "_kind", "_bucket", "amount_currency", "_day").agg(
            nw.col("_amount").sum()
        )
    )
    if isinstance(result.schema["_day"], pl.Datetime):
        result = result.with_columns(pl.col("_day").dt.convert_time_zone(tz).dt.date())
    for metric, group, kind, bucket, code, day, amount in result.select(*_MONEY_COLUMNS).iter_rows():
        parts = money[(metric, group, Window(kind, bucket))]
        parts[(code, day)] = parts.get((code, day), Decimal(0)) + amount


def _marketing_flags(
    data: _Inputs, created: nw.LazyFrame[Any], setup: _Setup, sourced: set[str]
) -> nw.LazyFrame[Any]:
    """Add one boolean column per sourcing definition to the deals created in the windows.

    The touchpoints of the deals' leads are reduced to one row per lead (the team of the first touch and
    the time of the first marketing touch): a marketing touch before an instant exists exactly when the
    first one is before it. Those per-lead facts are then joined to the deals once.
    """
    teams = sorted(setup.marketing_teams)
    touches = data.read("touchpoints", ["id", "lead_id", "time", "channel", "team"])
    check_aware(touches, ["time"], kind="touchpoints")
    touches = _cut(touches, "time", setup)
    deal_leads = created.select("lead_id").unique()
    out = created
    if "sourced_pipeline_lead_source" in sourced:
        channels = (
            touches.filter(nw.col("team").is_in(teams))
            .select("channel")
            .unique()
            .with_columns(sourced_pipeline_lead_source=nw.lit(True))
        )
        sources = data.read("leads", ["id", "source"]).select(
            nw.col("id").alias("lead_id"), nw.col("source").alias("channel")
        )
        marked = (
            sources.join(deal_leads, on="lead_id", how="inner")
            .join(channels, on="channel", how="inner")
            .select("lead_id", "sourced_pipeline_lead_source")
        )
        out = out.join(marked, on="lead_id", how="left")
    per_lead: list[nw.Expr] = []
    if "sourced_pipeline_first_touch" in sourced:
        out = out.join(
            _first_teams(touches.join(deal_leads, on="lead_id", how="inner")), on="lead_id", how="left"
        )
    if sourced & {"influenced_pipeline", "sourced_pipeline_before_acceptance"}:
        per_lead.append(nw.col("_marketing").min().alias("_first_marketing"))
    if per_lead:
        lead_touches = (
            touches.join(deal_leads, on="lead_id", how="inner")
            .with_columns(_marketing=nw.when(nw.col("team").is_in(teams)).then(nw.col("time")))
            .group_by("lead_id")
            .agg(*per_lead)
        )
        out = out.join(lead_touches, on="lead_id", how="left")
    flags: list[nw.Expr] = []
    if "sourced_pipeline_first_touch" in sourced:
        flags.append(nw.col("_first_team").is_in(teams).alias("sourced_pipeline_first_touch"))
    if "influenced_pipeline" in sourced:
        flags.append((nw.col("_first_marketing") < nw.col("created_at")).alias("influenced_pipeline"))
    if "sourced_pipeline_before_acceptance" in sourced:
        accepted_stages = sorted(_stage_sets(setup.journey)["sals"])
        events = data.read("stage_events", ["lead_id", "to", "time"])
        accepted = (
            _cut(events, "time", setup)
            .filter(nw.col("to").is_in(accepted_stages))
            .join(deal_leads, on="lead_id", how="inner")
            .group_by("lead_id")
            .agg(nw.col("time").min().alias("_accepted"))
        )
        out = out.join(accepted, on="lead_id", how="left")
        until = nw.coalesce(nw.col("_accepted"), nw.col("created_at"))
        flags.append((nw.col("_first_marketing") < until).alias("sourced_pipeline_before_acceptance"))
    if flags:
        out = out.with_columns(*flags)
    return out.with_columns(*[nw.col(name).fill_null(False) for name in sorted(sourced)])
