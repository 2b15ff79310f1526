"""Base metrics: the registry, plugins, and the one columnar kernel that computes them (private).

Every built-in metric is computed by :func:`compute_metrics` on the narwhals lazy API (polars by default),
shaped as *map per lead/deal + associative reduce*: each fact row is mapped to ``(metric, group, period)``
and a partial (a count, a sum of money per currency and day, or a sum and a number for means), and partials
are added. Any engine that can partition by lead id can run the kernel per partition and add the partials.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs
import narwhals as nw
import polars as pl

from smarketing import _plugins
from smarketing._formula import FUNCTIONS, Dimension, Undefined, Value
from smarketing._limits import MAX_DECIMAL_PLACES, MAX_MONEY_DIGITS, check_digits
from smarketing._periods import PeriodKind, Window, zone
from smarketing.calendar import check_time
from smarketing.errors import ContractError, CurrencyMismatchError, PluginError, PluginWarning
from smarketing.frames import _money, as_lazy, check_aware
from smarketing.money import FxTable, Money
from smarketing.sla import _kernel as sla_kernel
from smarketing.sla import sla_context

if TYPE_CHECKING:
    from smarketing.journey import JourneyMap
    from smarketing.plan import AlignmentPlan

__all__ = [
    "ENTRY_POINT_GROUP",
    "Metric",
    "MetricContext",
    "MetricRegistry",
    "MetricUnit",
    "compute_metrics",
]

#: Entry-point group through which packages add metrics.
ENTRY_POINT_GROUP: Final = "smarketing.metrics"

MetricUnit = Literal["count", "ratio", "money", "duration", "money_per_count", "duration_per_count"]
_DIMENSIONS: dict[str, Dimension] = {
    "count": Dimension.COUNT,
    "ratio": Dimension.RATIO,
    "money": Dimension.MONEY,
    "duration": Dimension.DURATION,
    # Averages per lead or deal: dividing by them cancels a count, as `revenue / won` would.
    "money_per_count": Dimension.MONEY / Dimension.COUNT,
    "duration_per_count": Dimension.DURATION / Dimension.COUNT,
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

#: What a plugin's ``compute`` may return per period label (or per ``(group, label)`` with ``by``).
MetricValue: TypeAlias = int | Decimal | Fraction | Money | Undefined


@attrs.frozen
class MetricContext:
    """What a plugin metric gets to compute its values.

    Attributes:
        data: The data passed to the scorecard (a ``Dataset``, or whatever the caller gave).
        windows: The periods to compute, oldest first.
        tz: The IANA time zone periods are bucketed in.
        as_of: Facts after this instant are ignored.
        plan: The alignment plan, when the scorecard has one.
        by: The lead column values are grouped by, or None; with it, return ``(group, label)`` keys.
    """

    data: Any
    windows: tuple[Window, ...]
    tz: str
    as_of: datetime
    plan: AlignmentPlan | None = None
    by: str | None = None


@attrs.frozen
class Metric:
    """A base metric that KPI formulas can read.

    Built-in metrics are computed by smarketing's kernel; *input* metrics (``marketing_spend``) are series
    the caller gives per period; plugin metrics bring a ``compute`` function.

    Args:
        name: The name formulas use: lowercase letters, digits and ``_``.
        unit: ``count``, ``ratio``, ``money`` (converted to the KPI currency), ``duration`` (hours), or
            an average per lead or deal: ``money_per_count``, ``duration_per_count``.
        description: One sentence on what is counted.
        compute: For plugins: ``compute(context) -> {period label: value}``; money as
            :class:`~smarketing.money.Money`, durations in hours.
        source: ``builtin``, ``input``, or the plugin's entry-point name.

    Examples:
        >>> Metric("demo_requests", "count", "Demo requests in the period.", compute=lambda ctx: {})
        Metric(name='demo_requests', unit='count', source='plugin')
    """

    name: str
    unit: MetricUnit
    description: str
    compute: Callable[[MetricContext], Mapping[Any, MetricValue]] | None = attrs.field(default=None, eq=False)
    source: str = "plugin"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or self.name in FUNCTIONS:
            raise ValueError(
                f"metric name {self.name!r} must be lowercase letters, digits and '_' (and not a function)"
            )
        if self.unit not in _DIMENSIONS:
            raise ValueError(f"metric {self.name!r}: unit must be one of {', '.join(_DIMENSIONS)}")
        if self.source not in ("builtin", "input") and self.compute is None:
            raise ValueError(f"metric {self.name!r}: a plugin metric needs a compute function")

    @property
    def dimension(self) -> Dimension:
        """The metric's unit in the formula units algebra."""
        return _DIMENSIONS[self.unit]

    def __repr__(self) -> str:
        return f"Metric(name={self.name!r}, unit={self.unit!r}, source={self.source!r})"


def _builtin(name: str, unit: MetricUnit, description: str) -> Metric:
    return Metric(name, unit, description, source="builtin")


def _input(name: str, unit: MetricUnit, description: str) -> Metric:
    return Metric(name, unit, description, source="input")


#: The built-in metrics, in documentation order.
BUILTIN: Final[tuple[Metric, ...]] = (
    _builtin("leads", "count", "Leads created in the period."),
    _builtin("mqls", "count", "Leads that entered a (non-terminal) stage of kind mql in the period."),
    _builtin("sals", "count", "Leads that entered a stage of kind sal (sales accepted) in the period."),
    _builtin("sqls", "count", "Leads that entered a stage of kind sql in the period."),
    _builtin(
        "opportunities", "count", "Leads that entered a non-terminal stage of kind opportunity in the period."
    ),
    _builtin("handed_off", "count", "Leads that entered the target stage of a handoff transition."),
    _builtin(
        "never_worked",
        "count",
        "Leads handed off in the period with no activity from the handoff up to as_of.",
    ),
    _builtin("disqualified", "count", "Leads that entered a terminal disqualified stage in the period."),
    _builtin("recycled", "count", "Leads that took a recycle transition (back to nurture) in the period."),
    _builtin(
        "first_response_hours",
        "duration",
        "Median business hours from handoff to the first sales response, of leads handed off in the period "
        "(from the SLA evaluation).",
    ),
    _builtin(
        "sla_compliance",
        "ratio",
        "Share of decided first responses (met or breached) of leads handed off in the period that met "
        "their SLA target.",
    ),
    _builtin(
        "disposition_coverage",
        "ratio",
        "Share of leads handed off in the period, whose disposition deadline has passed, that got an "
        "agreed reason on time.",
    ),
    _builtin("won", "count", "Deals won (closed won) in the period."),
    _builtin("lost", "count", "Deals lost (closed lost) in the period."),
    _builtin("revenue", "money", "Won deal amounts net of discount, by close date."),
    _builtin("avg_deal_size", "money_per_count", "Mean won deal amount net of discount (revenue / won)."),
    _builtin(
        "cycle_days",
        "duration_per_count",
        "Mean days from deal creation to close, of deals won in the period.",
    ),
    _builtin("pipeline_value", "money", "Amounts of deals created in the period (new pipeline)."),
    _builtin(
        "sourced_pipeline_lead_source",
        "money",
        "New pipeline whose lead's original source is a channel marketing teams touch leads on.",
    ),
    _builtin(
        "sourced_pipeline_first_touch",
        "money",
        "New pipeline whose lead's first touchpoint was made by a marketing team.",
    ),
    _builtin(
        "sourced_pipeline_before_acceptance",
        "money",
        "New pipeline whose lead had a marketing touch before sales accepted it (or before the deal).",
    ),
    _builtin(
        "influenced_pipeline",
        "money",
        "New pipeline whose lead had any marketing touch before the deal was created.",
    ),
    _input("marketing_spend", "money", "Marketing spend in the period (an input series)."),
    _input("sales_spend", "money", "Sales cost in the period (an input series)."),
    _input("gross_margin", "ratio", "Gross margin on revenue, as a share (an input series)."),
    _input("annual_churn_rate", "ratio", "Share of customers lost per year (an input series), for LTV."),
)


class MetricRegistry(Mapping[str, Metric]):
    """The metrics formulas can read, by name.

    :meth:`default` gives the built-in metrics and those of installed plugins (entry-point group
    ``smarketing.metrics``). A registry is immutable; :meth:`with_metrics` returns a larger one.

    Args:
        metrics: The metrics; two with one name are a :class:`~smarketing.errors.PluginError`.

    Examples:
        >>> registry = MetricRegistry.default()
        >>> registry["sqls"].unit, "revenue" in registry
        ('count', True)
        >>> registry.with_metrics(Metric("sqls", "count", "again", compute=lambda ctx: {}))
        Traceback (most recent call last):
        ...
        smarketing.errors.PluginError: smarketing.metrics: sqls: metric 'sqls' is defined twice ...
    """

    def __init__(self, metrics: Iterable[Metric] = BUILTIN) -> None:
        by_name: dict[str, Metric] = {}
        for metric in metrics:
            if metric.name in by_name:
                first = by_name[metric.name]
                raise PluginError(
                    f"metric {metric.name!r} is defined twice ({metric.source}, {first.source})",
                    plugin=metric.name,
                    group=ENTRY_POINT_GROUP,
                )
            by_name[metric.name] = metric
        self._metrics = by_name

    @classmethod
    def default(cls) -> MetricRegistry:
        """Built-in metrics plus installed plugins (loaded once per process)."""
        return _default_registry()

    @classmethod
    def from_entry_points(
        cls, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None
    ) -> MetricRegistry:
        """Built-in metrics plus the plugins of ``entry_points`` (default: the installed ones).

        Each plugin loads on its own: one that fails to load (``sys.exit()`` included), does not give
        :class:`Metric` objects, or reuses a name is skipped with a
        :class:`~smarketing.errors.PluginWarning` naming it; the host never crashes because of a plugin.
        """
        if entry_points is None:
            entry_points = _plugins.entry_points(ENTRY_POINT_GROUP)
        metrics = list(BUILTIN)
        names = {m.name: m.source for m in metrics}
        for ep in sorted(entry_points, key=lambda e: e.name):
            for metric in _load_plugin(ep):
                if metric.name in names:
                    _warn(
                        ep.name, f"metric {metric.name!r} is already defined ({names[metric.name]}); skipped"
                    )
                    continue
                names[metric.name] = metric.source
                metrics.append(metric)
        return cls(metrics)

    def with_metrics(self, *metrics: Metric) -> MetricRegistry:
        """A registry with ``metrics`` added (a reused name is a :class:`~smarketing.errors.PluginError`)."""
        return MetricRegistry([*metrics, *self._metrics.values()])

    def dimensions(self) -> dict[str, Dimension]:
        """Metric name -> unit, for :func:`~smarketing.kpi.parse_formula`."""
        return {name: m.dimension for name, m in self._metrics.items()}

    def __getitem__(self, name: str) -> Metric:
        return self._metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def __repr__(self) -> str:
        return f"MetricRegistry({len(self)} metrics)"


@functools.cache
def _default_registry() -> MetricRegistry:
    return MetricRegistry.from_entry_points()


def _warn(plugin: str, message: str) -> None:
    warnings.warn(
        str(PluginError(message, plugin=plugin, group=ENTRY_POINT_GROUP)), PluginWarning, stacklevel=3
    )


def _load_plugin(ep: importlib.metadata.EntryPoint) -> list[Metric]:
    try:
        loaded = _plugins.load(ENTRY_POINT_GROUP, ep)
        items = _plugins.guard(ENTRY_POINT_GROUP, ep.name, "cannot list its metrics", _members, loaded)
    except PluginError as error:
        warnings.warn(f"{error}; skipped", PluginWarning, stacklevel=3)
        return []
    if items is None:
        _warn(ep.name, f"must point to a Metric or a list of Metrics, not {type(loaded).__name__}; skipped")
        return []
    return [attrs.evolve(m, source=ep.name) if m.source == "plugin" else m for m in items]


def _members(loaded: object) -> list[Metric] | None:
    items = [loaded] if isinstance(loaded, Metric) else loaded
    if not isinstance(items, list | tuple) or not all(isinstance(m, Metric) for m in items):
        return None
    return list(items)


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


@attrs.frozen
class _Setup:
    tz: str
    as_of: datetime
    journey: JourneyMap | None
    marketing_teams: frozenset[str]
    by: str | None
    team_of: Mapping[str, str]
    windows: dict[str, tuple[Window, ...]]


@attrs.define
class _Run:
    """One kernel run: the inputs and the partials found so far."""

    data: Any
    setup: _Setup
    groups: nw.LazyFrame[Any] | None
    counts: dict[tuple[str, str, Window], Fraction] = attrs.Factory(dict)
    means: dict[tuple[str, str, Window], tuple[Fraction, int]] = attrs.Factory(dict)
    money: dict[tuple[str, str, Window], dict[tuple[str, date], Decimal]] = attrs.Factory(
        lambda: defaultdict(dict)
    )
    direct: dict[tuple[str, str, Window], Value] = attrs.Factory(dict)
    sla_leads: pl.DataFrame | None = None


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


def _groups(data: Any, setup: _Setup) -> nw.LazyFrame[Any] | None:
    """``lead_id, _group`` for every lead, or None without ``by``."""
    if setup.by is None:
        return None
    column = "owner" if setup.by == "team" else setup.by
    leads = as_lazy(data, "leads", required=["id", column])
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


def _in_windows(frame: nw.LazyFrame[Any], kind: PeriodKind, windows: Sequence[Window]) -> nw.LazyFrame[Any]:
    return frame.filter(~nw.col("_bucket").is_null())


def _counts(
    frame: pl.DataFrame, kind: PeriodKind, out: dict[tuple[str, str, Window], Fraction], column: str = "n"
) -> None:
    for metric, group, bucket, n in frame.select("_metric", "_group", "_bucket", column).iter_rows():
        out[(metric, group, Window(kind, bucket))] = Fraction(n)


def _collect(frame: nw.LazyFrame[Any]) -> pl.DataFrame:
    native = frame.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    return native


def compute_metrics(
    data: Any,
    names: Iterable[str],
    *,
    windows: Sequence[Window],
    tz: str,
    as_of: datetime,
    currency: str | None,
    fx: FxTable | None = None,
    plan: AlignmentPlan | None = None,
    by: str | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    registry: MetricRegistry | None = None,
) -> Values:
    """Compute base metrics for every window and group.

    Args:
        data: A ``Dataset`` (or anything :func:`~smarketing.frames.as_lazy` accepts per record kind).
        names: The metrics to compute.
        windows: The periods (any mix of kinds).
        tz: Time zone the periods are bucketed in.
        as_of: Facts after this instant are ignored.
        currency: Currency money metrics are reported in; None if no money metric is needed.
        fx: Exchange rates for money in other currencies.
        plan: Gives the journey (stage kinds, handoffs, recycles), the marketing teams and people's teams.
        by: Lead column to group by (``persona``, ``campaign``, ``region``, ``source``, ...) or ``team``
            (the team of the lead's owner).
        inputs: Input series: metric name -> period label -> value.
        registry: Metric definitions (default: :meth:`MetricRegistry.default`).

    Returns:
        Values by ``(metric, group, window)``; money in ``currency`` as exact numbers, durations in hours.
    """
    registry = MetricRegistry.default() if registry is None else registry
    wanted = set(names)
    unknown = sorted(wanted - set(registry))
    if unknown:
        raise ValueError(f"unknown metric(s): {', '.join(unknown)}")
    # The one time check (aware, years 1900-2199), then UTC: a ZoneInfo as_of cannot compare with the
    # UTC columns in polars.
    as_of = check_time(as_of, "as_of")
    by_kind: dict[PeriodKind, list[Window]] = defaultdict(list)
    for w in sorted(set(windows)):
        by_kind[w.kind].append(w)
    setup = _Setup(
        tz=tz,
        as_of=as_of,
        journey=plan.journey if plan is not None else None,
        marketing_teams=frozenset(
            [t.id for t in plan.teams if t.function == "marketing"] if plan is not None else ["marketing"]
        ),
        by=by,
        team_of={p.id: p.team for p in plan.people} if plan is not None else {},
        windows={k: tuple(v) for k, v in by_kind.items()},
    )
    groups = _groups(data, setup)
    run = _Run(data, setup, groups)
    counts, means, money = run.counts, run.means, run.money
    builtin = {n for n in wanted if registry[n].source == "builtin"}
    if "avg_deal_size" in builtin:
        builtin |= {"revenue", "won"}
    for kind, kind_windows in by_kind.items():
        if "leads" in builtin:
            _lead_counts(run, kind, kind_windows)
        stage_metrics = builtin & {*_STAGE_METRICS, "handed_off", "disqualified", "recycled"}
        if stage_metrics:
            _stage_counts(run, kind, kind_windows, stage_metrics)
        if "never_worked" in builtin:
            _never_worked(run, kind, kind_windows)
        deal_metrics = builtin & {"won", "lost", "cycle_days", *_DEAL_MONEY}
        if deal_metrics:
            _deal_metrics(run, kind, kind_windows, deal_metrics)
        if builtin & _SLA_METRICS and plan is not None and plan.sla is not None:
            _sla_metrics(run, plan, kind, kind_windows)
    group_names = sorted({g for (_, g, _) in (*counts, *means, *money)} | ({""} if by is None else set()))
    if by is not None and groups is not None and not group_names:
        group_names = sorted(set(_collect(groups.select("_group").unique())["_group"].to_list()))
    values: Values = {}
    all_windows = [w for ws in by_kind.values() for w in ws]
    for name in sorted(wanted):
        metric = registry[name]
        for group in group_names:
            for w in all_windows:
                key = (name, group, w)
                if metric.source == "input":
                    values[key] = _input_value(metric, w, inputs, currency, fx, grouped=by is not None)
                elif metric.source != "builtin":
                    continue
                elif name == "avg_deal_size":
                    n = counts.get(("won", group, w), Fraction(0))
                    total = _money_total("revenue", money.get(("revenue", group, w), {}), currency, fx)
                    values[key] = (
                        total / n if n and not isinstance(total, Undefined) else _no(total, "no won deals", w)
                    )
                elif name == "cycle_days":
                    days, deals = means.get(key, (Fraction(0), 0))
                    values[key] = days / deals if deals else Undefined(f"no won deals in {w.label}")
                elif name in _DEAL_MONEY:
                    values[key] = _money_total(name, money.get(key, {}), currency, fx)
                elif name in _SLA_METRICS:
                    reason = "the plan has no SLA" if plan is None or plan.sla is None else None
                    values[key] = run.direct.get(key, Undefined(reason or _SLA_EMPTY[name].format(w.label)))
                else:
                    values[key] = counts.get(key, Fraction(0))
        if metric.source not in ("builtin", "input"):
            _plugin_values(
                metric,
                run,
                all_windows,
                plan=plan,
                group_names=group_names,
                values=values,
                currency=currency,
                fx=fx,
            )
    return values


def _no(total: Value, reason: str, w: Window) -> Undefined:
    return total if isinstance(total, Undefined) else Undefined(f"{reason} in {w.label}")


def _plugin_values(
    metric: Metric,
    run: _Run,
    windows: Sequence[Window],
    *,
    plan: AlignmentPlan | None,
    group_names: Sequence[str],
    values: Values,
    currency: str | None,
    fx: FxTable | None,
) -> None:
    assert metric.compute is not None
    setup = run.setup
    context = MetricContext(
        _private(run.data), tuple(windows), setup.tz, setup.as_of, copy.deepcopy(plan), setup.by
    )
    what = f"metric {metric.name!r}: compute"
    result = _plugins.guard(
        ENTRY_POINT_GROUP, metric.source, what, _computed, metric.compute, context, setup.by
    )
    for group in group_names:
        for w in windows:
            key: Any = w.label if setup.by is None else (group, w.label)
            raw = result.get(key, Undefined(f"{metric.name} has no value for {w.label}"))
            values[(metric.name, group, w)] = _plain(raw, metric, w, currency=currency, fx=fx)


def _private(data: Any) -> Any:
    """What a plugin metric gets as data: a copy it may change without changing the host's.

    Polars copies frames lazily, so this costs next to nothing.
    """
    if isinstance(data, pl.DataFrame):
        return data.clone()
    if attrs.has(type(data)) and all(
        isinstance(v, pl.DataFrame) for v in attrs.asdict(data, recurse=False).values()
    ):
        return attrs.evolve(data, **{k: v.clone() for k, v in attrs.asdict(data, recurse=False).items()})
    return data


def _computed(
    compute: Callable[[MetricContext], Mapping[Any, MetricValue]], context: MetricContext, by: str | None
) -> dict[Any, Any]:
    """Call a plugin's compute and copy its answer into a plain dict (under the guard: runs plugin code)."""
    result = compute(context)
    if not isinstance(result, Mapping):
        raise ContractError(f"must return a mapping of period label to value, not {type(result).__name__}")
    copied: dict[Any, Any] = {}
    for key, value in result.items():
        if by is None and not isinstance(key, str):
            raise ContractError(f"keys must be period labels (text), not {type(key).__name__}")
        if by is not None and not (
            isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)
        ):
            raise ContractError(f"keys must be (group, period label) pairs of text with by={by!r}")
        plain = str.__str__(key) if by is None else (str.__str__(key[0]), str.__str__(key[1]))
        copied[plain] = value
    return copied


def _in_range(value: int | Decimal | Fraction) -> bool:
    """Whether a plugin's number is within the digits smarketing accepts (checked before any arithmetic)."""
    if isinstance(value, Decimal):
        return check_digits(value, integer_digits=MAX_MONEY_DIGITS) is None
    if isinstance(value, int):
        return value.bit_length() <= _MAX_BITS and abs(value) < 10**MAX_MONEY_DIGITS
    num, den = value.numerator, value.denominator
    if num.bit_length() > 2 * _MAX_BITS or den.bit_length() > _MAX_BITS:
        return False
    return bool(abs(num) // den < 10**MAX_MONEY_DIGITS and den <= 10**MAX_DECIMAL_PLACES)


#: Bits of an integer part of a plugin's value: enough for MAX_MONEY_DIGITS decimal digits.
_MAX_BITS: Final = 64


def _plain(raw: MetricValue, metric: Metric, w: Window, *, currency: str | None, fx: FxTable | None) -> Value:
    # Exact types only: a subclass could run plugin code (an overridden property) outside the guard.
    if type(raw) is Undefined:
        return raw
    if type(raw) is Money:
        return _money_total(metric.name, {(raw.currency, w.start): raw.amount}, currency, fx)
    problem = None
    if type(raw) not in (int, Decimal, Fraction) or not isinstance(raw, int | Decimal | Fraction):
        problem = f"returned {type(raw).__name__}; expected int, Decimal, Fraction or Money"
    elif isinstance(raw, Decimal) and not raw.is_finite():
        problem = f"returned {raw}; a value must be a finite number"
    elif not _in_range(raw):
        problem = (
            f"returned a value outside the accepted range (at most {MAX_MONEY_DIGITS} digits before "
            f"and {MAX_DECIMAL_PLACES} after the decimal point)"
        )
    else:
        return Fraction(raw)
    raise PluginError(
        f"metric {metric.name!r} for {w.label} {problem}", plugin=metric.source, group=ENTRY_POINT_GROUP
    )


def _input_value(
    metric: Metric,
    w: Window,
    inputs: Mapping[str, Mapping[str, Any]] | None,
    currency: str | None,
    fx: FxTable | None,
    *,
    grouped: bool,
) -> Value:
    series = (inputs or {}).get(metric.name)
    if series is None or w.label not in series:
        return Undefined(f"input {metric.name!r} not given for {w.label}")
    if grouped:
        return Undefined(f"input {metric.name!r} is not split by group")
    raw = series[w.label]
    if metric.dimension.money:
        if not isinstance(raw, Money):
            raise TypeError(f"input {metric.name!r} for {w.label} must be Money, not {type(raw).__name__}")
        if currency is None:
            return Fraction(raw.amount)
        return _money_total(metric.name, {(raw.currency, w.start): raw.amount}, currency, fx)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | Fraction | str):
        raise TypeError(f"input {metric.name!r} for {w.label} must be a number, not {type(raw).__name__}")
    return Fraction(Decimal(raw) if isinstance(raw, str) else raw)


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


def _cut(frame: nw.LazyFrame[Any], column: str, setup: _Setup) -> nw.LazyFrame[Any]:
    return frame.filter(nw.col(column) <= setup.as_of)


_SLA_EMPTY = {
    "first_response_hours": "no handed-off lead got a first response in {}",
    "sla_compliance": "no first response of a lead handed off in {} is decided yet",
    "disposition_coverage": "no disposition deadline of a lead handed off in {} has passed",
}


def _sla_metrics(run: _Run, plan: AlignmentPlan, kind: PeriodKind, windows: Sequence[Window]) -> None:
    """Lead response time, SLA compliance and disposition coverage from the SLA evaluation.

    The evaluation (business time, tiers, pauses) is the kernel of :func:`smarketing.sla.evaluate_sla`;
    it runs once per kernel run and the metrics are read off its per-lead statuses, bucketed by handoff
    time. Only those are computed (:func:`smarketing.sla._kernel.lead_statuses`): not the escalation
    ladder, the breaches, marketing's side or the counts.
    """
    if run.sla_leads is None:
        run.sla_leads = sla_kernel.lead_statuses(sla_context(plan), run.data, as_of=run.setup.as_of)
    status, disposition = nw.col("response_status"), nw.col("disposition_status")
    frame = (
        nw.from_native(run.sla_leads)
        .lazy()
        .with_columns(_bucket("handoff_at", windows, run.setup.tz).alias("_bucket"))
    )
    frame = _with_group(_in_windows(frame, kind, windows), run.groups)
    result = _collect(
        frame.group_by("_group", "_bucket").agg(
            nw.col("first_response_hours").median().alias("median"),
            (status == "met").sum().alias("met"),
            status.is_in(["met", "breached"]).sum().alias("decided"),
            (disposition == "on_time").sum().alias("on_time"),
            (disposition != "pending").sum().alias("due"),
        )
    )
    for group, bucket, median, met, decided, on_time, due in result.select(
        "_group", "_bucket", "median", "met", "decided", "on_time", "due"
    ).iter_rows():
        w = Window(kind, bucket)
        if median is not None:
            # Hours are measured as floats by the business clock; their shortest repr is the exact value.
            run.direct[("first_response_hours", group, w)] = Fraction(Decimal(repr(median)))
        if decided:
            run.direct[("sla_compliance", group, w)] = Fraction(met, decided)
        if due:
            run.direct[("disposition_coverage", group, w)] = Fraction(on_time, due)


def _lead_counts(
    run: _Run,
    kind: PeriodKind,
    windows: Sequence[Window],
) -> None:
    data, setup, groups, counts = run.data, run.setup, run.groups, run.counts
    leads = as_lazy(data, "leads", required=["id", "created_at"])
    check_aware(leads, ["created_at"], kind="leads")
    frame = _cut(leads, "created_at", setup).select(
        nw.col("id").alias("lead_id"), _bucket("created_at", windows, setup.tz).alias("_bucket")
    )
    frame = _with_group(_in_windows(frame, kind, windows), groups)
    result = (
        frame.group_by("_group", "_bucket").agg(nw.len().alias("n")).with_columns(_metric=nw.lit("leads"))
    )
    _counts(_collect(result), kind, counts)


def _stage_counts(
    run: _Run,
    kind: PeriodKind,
    windows: Sequence[Window],
    metrics: set[str],
) -> None:
    """Distinct leads per stage metric and window.

    Metrics with the same stage set (``sals`` and ``handed_off`` without a journey) are counted once.
    Each count groups by one integer key (window index, offset per stage set) and the lead id, which is
    cheaper than grouping by a metric name, a group name and a date.
    """
    data, setup, groups, counts = run.data, run.setup, run.groups, run.counts
    events = as_lazy(data, "stage_events", required=["lead_id", "to", "time"])
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
    n = len(windows)
    keys = list(tests)
    events = _cut(events, "time", setup)
    index = _window_index("time", windows, setup.tz)  # built once: each boundary is a costly literal
    parts = [
        _with_group(
            events.filter(tests[k]).select("lead_id", _key=index + i * n),
            groups,
        ).filter(~nw.col("_key").is_null())
        for i, k in enumerate(keys)
    ]
    result = nw.concat(
        [p.group_by("_group", "_key").agg(nw.col("lead_id").n_unique().alias("n")) for p in parts],
        how="vertical",
    )
    for group, key, value in _collect(result).select("_group", "_key", "n").iter_rows():
        for metric in shared[keys[key // n]]:
            counts[(metric, group, windows[key % n])] = Fraction(value)


def _never_worked(
    run: _Run,
    kind: PeriodKind,
    windows: Sequence[Window],
) -> None:
    """Handoffs with no activity from the handoff up to as_of.

    A lead was worked after its handoff exactly when its last activity (up to as_of) is not before the
    handoff, so activities are reduced to one last time per lead instead of being joined row by row.
    """
    data, setup, groups, counts = run.data, run.setup, run.groups, run.counts
    targets = sorted(_stage_sets(setup.journey)["handed_off"])
    events = as_lazy(data, "stage_events", required=["lead_id", "to", "time"])
    handoffs = (
        _cut(events, "time", setup)
        .filter(nw.col("to").is_in(targets))
        .with_columns(_bucket=_bucket("time", windows, setup.tz))
    )
    handoffs = _in_windows(handoffs, kind, windows).group_by("lead_id", "_bucket").agg(nw.col("time").min())
    activities = as_lazy(data, "activities", required=["lead_id", "time"])
    check_aware(activities, ["time"], kind="activities")
    last = _cut(activities, "time", setup).group_by("lead_id").agg(nw.col("time").max().alias("_last"))
    frame = handoffs.join(last, on="lead_id", how="left").filter(
        nw.col("_last").is_null() | (nw.col("_last") < nw.col("time"))
    )
    result = (
        _with_group(frame, groups)
        .group_by("_group", "_bucket")
        .agg(nw.len().alias("n"))
        .with_columns(_metric=nw.lit("never_worked"))
    )
    _counts(_collect(result), kind, counts)


def _deal_metrics(
    run: _Run,
    kind: PeriodKind,
    windows: Sequence[Window],
    metrics: set[str],
) -> None:
    data, setup, groups = run.data, run.setup, run.groups
    counts, means, money = run.counts, run.means, run.money
    required = ["id", "lead_id", "amount", "amount_currency", "stage", "created_at", "close_date"]
    deals = as_lazy(data, "deals", required=required)
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
    ).with_columns(_bucket=_bucket("close_date", windows, setup.tz, is_date=True))
    closed = _with_group(_in_windows(closed, kind, windows), groups)
    count_metrics = metrics & {"won", "lost"}
    if count_metrics:
        result = (
            closed.filter(nw.col("stage").is_in(sorted(count_metrics)))
            .group_by("stage", "_group", "_bucket")
            .agg(nw.len().alias("n"))
            .rename({"stage": "_metric"})
        )
        _counts(_collect(result), kind, counts)
    won = closed.filter(nw.col("stage") == "won")
    if "cycle_days" in metrics:
        created_day = nw.col("created_at").dt.convert_time_zone(setup.tz).dt.date()
        result = (
            won.with_columns(_days=(nw.col("close_date") - created_day).dt.total_seconds() // 86400)
            .group_by("_group", "_bucket")
            .agg(nw.col("_days").sum().alias("s"), nw.len().alias("n"))
        )
        for group, bucket, s, n in _collect(result).select("_group", "_bucket", "s", "n").iter_rows():
            means[("cycle_days", group, Window(kind, bucket))] = (Fraction(s) * 24, n)
    if "revenue" in metrics:
        revenue = won.with_columns(_amount=nw.col("amount") - discount, _day=nw.col("close_date"))
        _money_sums(revenue.with_columns(_metric=nw.lit("revenue")), kind, money)
    pipeline = metrics & (_DEAL_MONEY - {"revenue"})
    if not pipeline:
        return
    created = _cut(deals, "created_at", setup).with_columns(
        _bucket=_bucket("created_at", windows, setup.tz),
        _day=nw.col("created_at").dt.convert_time_zone(setup.tz).dt.date(),
        _amount=nw.col("amount"),
    )
    created = _with_group(_in_windows(created, kind, windows), groups)
    if "pipeline_value" in pipeline:
        _money_sums(created.with_columns(_metric=nw.lit("pipeline_value")), kind, money)
    sourced = pipeline - {"pipeline_value"}
    if sourced:
        flagged = _marketing_flags(data, created, setup, sourced)
        parts = [flagged.filter(nw.col(name)).with_columns(_metric=nw.lit(name)) for name in sorted(sourced)]
        _money_sums(nw.concat([p.select(*_MONEY_COLUMNS) for p in parts], how="vertical"), kind, money)


_MONEY_COLUMNS = ("_metric", "_group", "_bucket", "amount_currency", "_day", "_amount")


def _money_sums(
    frame: nw.LazyFrame[Any],
    kind: PeriodKind,
    money: dict[tuple[str, str, Window], dict[tuple[str, date], Decimal]],
) -> None:
    result = frame.group_by("_metric", "_group", "_bucket", "amount_currency", "_day").agg(
        nw.col("_amount").sum()
    )
    for metric, group, bucket, code, day, amount in _collect(result).select(*_MONEY_COLUMNS).iter_rows():
        parts = money[(metric, group, Window(kind, bucket))]
        parts[(code, day)] = parts.get((code, day), Decimal(0)) + amount


def _marketing_flags(
    data: Any, created: nw.LazyFrame[Any], setup: _Setup, sourced: set[str]
) -> nw.LazyFrame[Any]:
    """Add one boolean column per sourcing definition to the deals created in the windows.

    The touchpoints of the deals' leads are reduced to one row per lead (the team of the first touch and
    the time of the first marketing touch): a marketing touch before an instant exists exactly when the
    first one is before it. Those per-lead facts are then joined to the deals once.
    """
    teams = sorted(setup.marketing_teams)
    touches = as_lazy(data, "touchpoints", required=["id", "lead_id", "time", "channel", "team"])
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
        sources = as_lazy(data, "leads", required=["id", "source"]).select(
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
        per_lead.append(nw.col("team").first(order_by=["time", "id"]).alias("_first_team"))
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
        events = as_lazy(data, "stage_events", required=["lead_id", "to", "time"])
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
