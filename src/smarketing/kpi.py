"""Joint KPIs: explicit formulas and targets both teams own.

A :class:`KPI` names its owners (teams), a formula over base metrics written as text (``sqls / mqls``), the
unit of the result, which direction is better, a target and the period it is measured over.

Examples:
    >>> from smarketing.kpi import KPI
    >>> kpi = KPI(
    ...     id="mql_to_sql",
    ...     name="MQL to SQL rate",
    ...     owners=["marketing", "sales"],
    ...     formula="sqls / mqls",
    ...     unit="ratio",
    ...     direction="higher_is_better",
    ...     target="0.35",
    ...     period="month",
    ... )
    >>> kpi.is_joint, kpi.target
    (True, Decimal('0.35'))
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from smarketing._base import CurrencyCode, FrozenModel, Id, Number, Period, Text

__all__ = [
    "Direction",
    "KPI",
    "Unit",
]

Unit = Literal["count", "ratio", "money", "days", "hours"]
Direction = Literal["higher_is_better", "lower_is_better"]


class KPI(FrozenModel):
    """A key performance indicator with an explicit formula."""

    id: Id = Field(description="KPI id.")
    name: Text = Field(description="Display name; should be a glossary term.")
    description: str = Field(default="", description="What the KPI tells and why it matters.")
    owners: list[Id] = Field(min_length=1, description="Ids of the teams that own the KPI.")
    formula: Text = Field(description="Formula over base metrics, e.g. 'sqls / mqls'.")
    unit: Unit = Field(description="Unit of the result.")
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217 currency, required when the unit is money."
    )
    direction: Direction = Field(description="Which way is better.")
    target: Number | None = Field(default=None, description="Target value per period, in the KPI's unit.")
    period: Period = Field(default="month", description="Measurement period.")

    @model_validator(mode="after")
    def _currency_with_money(self) -> Self:
        if self.unit == "money" and self.currency is None:
            raise ValueError("a KPI in money needs a currency")
        if self.unit != "money" and self.currency is not None:
            raise ValueError(f"currency is only meaningful for money KPIs, not {self.unit!r}")
        return self

    @property
    def is_joint(self) -> bool:
        """Whether more than one team owns the KPI."""
        return len(set(self.owners)) > 1
