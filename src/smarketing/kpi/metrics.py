"""Base metrics: what KPI formulas read, the registry with its plugins, and :func:`compute_metrics`.

A :class:`Metric` is built in (computed by the columnar kernel, :mod:`smarketing.kpi._kernel`), an *input*
series the caller gives per period (``marketing_spend``), or a plugin's, found through the entry-point
group ``smarketing.metrics`` by the one plugin loader. :func:`compute_metrics` unpacks the plan into the
parts the kernel reads, runs the kernel for the built-in metrics, and adds the inputs and plugin values.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs
import polars as pl

from smarketing import _plugins
from smarketing._limits import MAX_DECIMAL_PLACES, MAX_MONEY_DIGITS, check_digits
from smarketing._periods import Window
from smarketing.calendar import check_time
from smarketing.errors import ContractError, PluginError, PluginWarning
from smarketing.kpi import _kernel, model
from smarketing.kpi._formula import FUNCTIONS, Dimension, Undefined, Value
from smarketing.kpi._kernel import Values
from smarketing.money import FxTable, Money
from smarketing.sla import sla_context

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Metric",
    "MetricContext",
    "MetricRegistry",
    "MetricUnit",
    "MetricValue",
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

    Attributes:
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


# Formulas without ``metrics=`` read the built-in and installed plugin metrics.
model._DEFAULT_METRICS[:] = [MetricRegistry.default]


# --------------------------------------------------------------------------------------------------
# Computing metrics.


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
    run = _kernel.measure(
        data,
        {n for n in wanted if registry[n].source == "builtin"},
        windows=windows,
        tz=tz,
        as_of=as_of,
        by=by,
        journey=plan.journey if plan is not None else None,
        marketing_teams=frozenset(
            [t.id for t in plan.teams if t.function == "marketing"] if plan is not None else ["marketing"]
        ),
        team_of={p.id: p.team for p in plan.people} if plan is not None else {},
        sla=functools.partial(sla_context, plan) if plan is not None and plan.sla is not None else None,
    )
    group_names = _kernel.group_names(run)
    all_windows = _kernel.windows_of(run)
    values: Values = {}
    for name in sorted(wanted):
        metric = registry[name]
        for group in group_names:
            for w in all_windows:
                key = (name, group, w)
                if metric.source == "input":
                    values[key] = _input_value(metric, w, inputs, currency, fx, grouped=by is not None)
                elif metric.source == "builtin":
                    values[key] = _kernel.builtin_value(run, key, currency=currency, fx=fx)
        if metric.source not in ("builtin", "input"):
            context = MetricContext(_private(data), tuple(all_windows), tz, as_of, copy.deepcopy(plan), by)
            _plugin_values(metric, context, group_names=group_names, values=values, currency=currency, fx=fx)
    return values


def _plugin_values(
    metric: Metric,
    context: MetricContext,
    *,
    group_names: Sequence[str],
    values: Values,
    currency: str | None,
    fx: FxTable | None,
) -> None:
    assert metric.compute is not None
    what = f"metric {metric.name!r}: compute"
    result = _plugins.guard(
        ENTRY_POINT_GROUP, metric.source, what, _computed, metric.compute, context, context.by
    )
    for group in group_names:
        for w in context.windows:
            key: Any = w.label if context.by is None else (group, w.label)
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
        return _kernel._money_total(metric.name, {(raw.currency, w.start): raw.amount}, currency, fx)
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
        return _kernel._money_total(metric.name, {(raw.currency, w.start): raw.amount}, currency, fx)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | Fraction | str):
        raise TypeError(f"input {metric.name!r} for {w.label} must be a number, not {type(raw).__name__}")
    return Fraction(Decimal(raw) if isinstance(raw, str) else raw)
