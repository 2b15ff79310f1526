"""The standard KPI catalogue: every common marketing and sales KPI as a :class:`~smarketing.kpi.KPI`.

Examples:
    >>> catalog["win_rate"].formula
    'won / (won + lost)'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from smarketing.kpi.model import _MONEY_UNITS, KPI, Direction, Unit

__all__ = [
    "Catalog",
    "SOURCED_DEFINITIONS",
    "catalog",
]

_J = ("marketing", "sales")
_M = ("marketing",)
_S = ("sales",)
_HI: Direction = "higher_is_better"
_LO: Direction = "lower_is_better"

# id, name, formula, unit, direction, owners, description.
_CATALOG: Final[tuple[tuple[str, str, str, Unit, Direction, tuple[str, ...], str], ...]] = (
    ("mql_volume", "MQL volume", "mqls", "count", _HI, _M, "Leads that reached the MQL stage in the period."),
    ("lead_to_mql", "Lead to MQL rate", "mqls / leads", "ratio", _HI, _M,
     "MQLs over new leads in the period: how much of the top of the funnel marketing qualifies."),
    ("mql_to_sal", "MQL to SAL rate", "sals / mqls", "ratio", _HI, _J,
     "Share of MQLs that sales accepted: marketing's lead quality as sales sees it."),
    ("sal_to_sql", "SAL to SQL rate", "sqls / sals", "ratio", _HI, _S,
     "Share of accepted leads that sales qualified."),
    ("sql_to_opportunity", "SQL to opportunity rate", "opportunities / sqls", "ratio", _HI, _S,
     "Share of qualified leads that became opportunities."),
    ("opportunity_to_won", "Opportunity to won rate", "won / opportunities", "ratio", _HI, _S,
     "Deals won over new opportunities in the period."),
    ("mql_to_sql", "MQL to SQL rate", "sqls / mqls", "ratio", _HI, _J,
     "Cumulative: share of MQLs that became sales qualified leads; the joint quality measure."),
    ("lead_to_sql", "Lead to SQL rate", "sqls / leads", "ratio", _HI, _J,
     "Cumulative: SQLs over new leads in the period."),
    ("mql_to_won", "MQL to won rate", "won / mqls", "ratio", _HI, _J,
     "Cumulative: deals won over MQLs in the period."),
    ("lead_to_won", "Lead to won rate", "won / leads", "ratio", _HI, _J,
     "Cumulative: deals won over new leads in the period."),
    ("win_rate", "Win rate", "won / (won + lost)", "ratio", _HI, _S, "Won deals over closed deals."),
    ("pipeline_velocity", "Pipeline velocity",
     "opportunities * avg_deal_size * (won / (won + lost)) / cycle_days", "money_per_day", _HI, _J,
     "Revenue the pipeline is expected to produce per day: opportunities x deal size x win rate / cycle."),
    ("lead_velocity_rate", "Lead velocity rate", "(mqls - lag(mqls, 1)) / lag(mqls, 1)", "ratio", _HI, _M,
     "Growth of MQLs over the previous period: a leading indicator of future revenue."),
    ("new_revenue", "New revenue", "revenue", "money", _HI, _J, "Won deal amounts net of discount."),
    ("average_deal_size", "Average deal size", "avg_deal_size", "money", _HI, _S,
     "Mean won deal amount net of discount."),
    ("sales_cycle", "Sales cycle length", "cycle_days", "days", _LO, _S,
     "Mean days from deal creation to close, of deals won in the period."),
    ("cac", "Customer acquisition cost", "(marketing_spend + sales_spend) / won", "money", _LO, _J,
     "Marketing and sales cost per won customer (spend given as input series)."),
    ("ltv", "Customer lifetime value", "avg_deal_size * gross_margin / annual_churn_rate", "money", _HI, _S,
     "Gross margin a customer brings over its lifetime, taking deal amounts as annual contract values."),
    ("ltv_to_cac", "LTV to CAC ratio",
     "(avg_deal_size * gross_margin / annual_churn_rate) / ((marketing_spend + sales_spend) / won)",
     "ratio", _HI, _J, "Lifetime value over acquisition cost; 3 or more is the usual rule of thumb."),
    ("cac_payback", "CAC payback period",
     "(marketing_spend + sales_spend) / won / (avg_deal_size * gross_margin) * days(365)", "days", _LO, _J,
     "Days of gross margin needed to earn back a customer's acquisition cost (annual deal amounts)."),
    ("marketing_sourced_pipeline_lead_source", "Marketing-sourced pipeline (lead source)",
     "sourced_pipeline_lead_source", "money", _HI, _J,
     "New pipeline whose lead's original source is a marketing channel."),
    ("marketing_sourced_pipeline_first_touch", "Marketing-sourced pipeline (first touch)",
     "sourced_pipeline_first_touch", "money", _HI, _J,
     "New pipeline whose lead's first touchpoint was made by marketing."),
    ("marketing_sourced_pipeline_before_acceptance", "Marketing-sourced pipeline (touch before acceptance)",
     "sourced_pipeline_before_acceptance", "money", _HI, _J,
     "New pipeline whose lead marketing touched before sales accepted it."),
    ("marketing_influenced_pipeline", "Marketing-influenced pipeline", "influenced_pipeline", "money",
     _HI, _J,
     "New pipeline whose lead marketing touched at any time before the deal was created."),
    ("pipeline_created", "Pipeline created", "pipeline_value", "money", _HI, _J,
     "Amounts of the deals created in the period."),
    ("lead_response_time", "Lead response time", "first_response_hours", "hours", _LO, _S,
     "Median business hours from handoff to the first sales response, on the SLA's calendar."),
    ("sla_compliance", "SLA compliance", "sla_compliance", "ratio", _HI, _S,
     "Share of decided first responses to handed-off leads that met the SLA target."),
    ("disposition_coverage", "Disposition coverage", "disposition_coverage", "ratio", _HI, _J,
     "Share of handed-off leads past their disposition deadline that got an agreed reason on time."),
    ("share_never_worked", "Share of leads never worked", "never_worked / handed_off", "ratio", _LO, _J,
     "Handed-off leads with no sales activity since the handoff, over all handed-off leads."),
    ("funnel_leakage", "Funnel leakage", "(disqualified + recycled) / handed_off", "ratio", _LO, _J,
     "Leads disqualified or recycled to nurture, over leads handed off in the period."),
)  # fmt: skip

#: The three definitions of marketing-sourced pipeline, by name.
SOURCED_DEFINITIONS: Final = ("lead_source", "first_touch", "before_acceptance")


class Catalog(Mapping[str, KPI]):
    """The standard KPI definitions, ready to put in a plan.

    ``catalog["win_rate"]`` is a :class:`KPI` (money KPIs in EUR, no target); :meth:`kpi` changes any field,
    e.g. the currency or the target. The marketing-sourced pipeline comes in three common definitions,
    selectable by name with :meth:`marketing_sourced_pipeline`.

    Examples:
        >>> catalog["win_rate"].owners
        ['sales']
        >>> catalog.kpi("cac", currency="USD", target="1200").currency
        'USD'
        >>> catalog.marketing_sourced_pipeline("first_touch").formula
        'sourced_pipeline_first_touch'
    """

    def __init__(self, currency: str = "EUR") -> None:
        self._currency = currency
        self._ids = [entry[0] for entry in _CATALOG]

    def __getitem__(self, kpi_id: str) -> KPI:
        for id_, name, formula, unit, direction, owners, description in _CATALOG:
            if id_ == kpi_id:
                return KPI(
                    id=id_,
                    name=name,
                    description=description,
                    owners=list(owners),
                    formula=formula,
                    unit=unit,
                    currency=self._currency if unit in _MONEY_UNITS else None,
                    direction=direction,
                )
        raise KeyError(kpi_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def kpi(self, kpi_id: str, **changes: Any) -> KPI:
        """The catalogue KPI ``kpi_id`` with ``changes`` applied (validated like a plan KPI).

        Raises:
            KeyError: ``kpi_id`` is not in the catalogue.
            pydantic.ValidationError: A change is invalid.
        """
        return KPI.model_validate({**self[kpi_id].model_dump(), **changes})

    def marketing_sourced_pipeline(self, definition: str = "lead_source", **changes: Any) -> KPI:
        """Marketing-sourced pipeline by one of :data:`SOURCED_DEFINITIONS`.

        ``lead_source``: the lead's original source is a marketing channel (a channel marketing teams touch
        leads on). ``first_touch``: the lead's first touchpoint was marketing's. ``before_acceptance``:
        marketing touched the lead before sales accepted it (or before the deal, if never accepted).
        """
        if definition not in SOURCED_DEFINITIONS:
            raise ValueError(
                f"unknown definition {definition!r}; choose one of {', '.join(SOURCED_DEFINITIONS)}"
            )
        return self.kpi(f"marketing_sourced_pipeline_{definition}", **changes)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} KPIs)"


#: The standard KPI catalogue.
catalog: Final = Catalog()
