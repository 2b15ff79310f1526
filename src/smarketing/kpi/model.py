"""What a plan says about KPIs: the :class:`KPI` definition and the check of its formula.

This is the definitions layer of :mod:`smarketing.kpi`: it imports only the vocabulary and the formula
language (:mod:`smarketing.kpi._formula`), so :mod:`smarketing.plan` can validate KPIs without loading the
metric kernel. The metrics a formula may read by default (built-ins and installed plugins) are given by
:mod:`smarketing.kpi.metrics`, which registers them here when the package loads (the package always loads
before this module can be used: importing ``smarketing.kpi.model`` runs ``smarketing/kpi/__init__.py``).

Examples:
    >>> cac = KPI(
    ...     id="cac",
    ...     name="Customer acquisition cost",
    ...     owners=["marketing", "sales"],
    ...     formula="(marketing_spend + sales_spend) / won",
    ...     unit="money",
    ...     currency="EUR",
    ...     direction="lower_is_better",
    ... )
    >>> compile_kpi(cac).unit, cac.period
    (Dimension('money per count'), 'month')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal, Protocol, Self, runtime_checkable

from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, MinorUnitCurrency, Number, Period, Text
from smarketing.errors import FormulaError
from smarketing.kpi._formula import MAX_DEPTH, MAX_FORMULA_CHARS, MAX_LAG, MAX_NODES, Dimension, Formula
from smarketing.kpi._formula import parse_formula as _parse_formula

__all__ = [
    "Direction",
    "KPI",
    "MAX_DEPTH",
    "MAX_FORMULA_CHARS",
    "MAX_LAG",
    "MAX_NODES",
    "MetricSource",
    "Unit",
    "compile_kpi",
    "computable_kpis",
    "parse_formula",
]

Unit = Literal["count", "ratio", "money", "days", "hours", "money_per_day"]
Direction = Literal["higher_is_better", "lower_is_better"]
_MONEY_UNITS = ("money", "money_per_day")


class KPI(FrozenModel):
    """A key performance indicator with an explicit formula."""

    id: Id = Field(description="KPI id.")
    name: Text = Field(description="Display name; should be a glossary term.")
    description: str = Field(default="", description="What the KPI tells and why it matters.")
    owners: list[Id] = Field(min_length=1, description="Ids of the teams that own the KPI.")
    formula: Text = Field(description="Formula over base metrics, e.g. 'sqls / mqls'.")
    unit: Unit = Field(description="Unit of the result.")
    currency: MinorUnitCurrency | None = Field(
        default=None, description="ISO 4217 currency, required when the unit is money."
    )
    direction: Direction = Field(description="Which way is better.")
    target: Number | None = Field(default=None, description="Target value per period, in the KPI's unit.")
    period: Period = Field(default="month", description="Measurement period.")

    @model_validator(mode="after")
    def _currency_with_money(self) -> Self:
        if self.unit in _MONEY_UNITS and self.currency is None:
            raise ValueError("a KPI in money needs a currency")
        if self.unit not in _MONEY_UNITS and self.currency is not None:
            raise ValueError(f"currency is only meaningful for money KPIs, not {self.unit!r}")
        return self

    @property
    def is_joint(self) -> bool:
        """Whether more than one team owns the KPI."""
        return len(set(self.owners)) > 1


# --------------------------------------------------------------------------------------------------
# Formulas.


@runtime_checkable
class MetricSource(Protocol):
    """Anything that gives the units of the metrics a formula may read (a :class:`MetricRegistry`)."""

    def dimensions(self) -> Mapping[str, Dimension]:
        """Metric name -> unit."""
        ...


#: Where ``metrics=None`` finds its metrics: :mod:`smarketing.kpi.metrics` puts
#: :meth:`~smarketing.kpi.MetricRegistry.default` here when the package loads (a definition cannot import
#: the plugin loader, which sits a layer above it).
_DEFAULT_METRICS: list[Callable[[], MetricSource]] = []


def _known(metrics: MetricSource | Mapping[str, Dimension] | None) -> Mapping[str, Dimension]:
    if metrics is None:
        metrics = _DEFAULT_METRICS[0]()
    return metrics.dimensions() if isinstance(metrics, MetricSource) else metrics


def parse_formula(text: str, *, metrics: MetricSource | Mapping[str, Dimension] | None = None) -> Formula:
    """Parse and unit-check a formula over base metrics (the grammar is in the KPI concepts page).

    Args:
        text: The formula, e.g. ``"sqls / mqls"``.
        metrics: The metrics it may read: a registry, a name -> :class:`Dimension` mapping, or None for
            :meth:`MetricRegistry.default` (built-ins and installed plugins).

    Returns:
        The parsed :class:`Formula`, with its unit and the metrics it reads.

    Raises:
        FormulaError: The formula is invalid; the message starts with the column, ``col 8: ...``.

    Examples:
        >>> parse_formula("won / (won + lost)").unit
        Dimension('ratio')
        >>> parse_formula("sqls / sql")
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 8: unknown metric 'sql'; did you mean 'sqls'?
    """
    return _parse_formula(text, metrics=_known(metrics))


def compile_kpi(kpi: KPI, *, metrics: MetricSource | Mapping[str, Dimension] | None = None) -> Formula:
    """Parse a KPI's formula and check that its unit is the KPI's unit.

    Money and durations may be per lead or deal (``revenue / won`` is money); a ``ratio`` KPI needs a
    dimensionless formula and a ``count`` KPI a count. ``money_per_day`` is money over a duration.

    Raises:
        FormulaError: The formula is invalid or its unit is not the KPI's.

    Examples:
        >>> from smarketing.kpi import catalog
        >>> k = catalog.kpi("win_rate", unit="count")
        >>> compile_kpi(k)
        Traceback (most recent call last):
        ...
        smarketing.errors.FormulaError: col 1: the formula gives a ratio, but the KPI's unit is 'count'
    """
    formula = parse_formula(kpi.formula, metrics=metrics)
    if not formula.accepts(kpi.unit):
        raise FormulaError(
            f"the formula gives {formula.unit.describe()}, but the KPI's unit is {kpi.unit!r}",
            formula=kpi.formula,
            col=1,
        )
    return formula


def computable_kpis(kpis: Iterable[KPI]) -> tuple[list[KPI], list[tuple[KPI, FormulaError]]]:
    """Split KPIs into those whose formula compiles and those left out, each with its error (in order).

    Summaries that show what they can (the digest, the report) keep the first and name the second.

    Examples:
        >>> from smarketing.kpi import catalog
        >>> good, bad = computable_kpis([catalog.kpi("win_rate"), catalog.kpi("win_rate", unit="count")])
        >>> [k.unit for k in good], [(k.unit, str(e).splitlines()[0]) for k, e in bad]
        (['ratio'], [('count', "col 1: the formula gives a ratio, but the KPI's unit is 'count'")])
    """
    usable: list[KPI] = []
    left_out: list[tuple[KPI, FormulaError]] = []
    for kpi in kpis:
        try:
            compile_kpi(kpi)
        except FormulaError as error:
            left_out.append((kpi, error))
        else:
            usable.append(kpi)
    return usable, left_out
