"""A tiny hand-made dataset for the example plan, small enough to check every KPI by hand.

Fernbrook's September and October 2026 in seven leads (all times UTC, all money in EUR). The docs and
smarketing's own KPI tests compute their expected values from the story below, by hand:

* Leads created: L6 (Sep 5), L1 (Sep 20); L7 (Oct 1), L2 (Oct 2), L3 (Oct 3), L4 (Oct 5), L5 (Oct 6).
* L6 went mql -> sal -> sql -> opportunity in September; its 30,000 deal D6 was created Sep 20 and lost
  Oct 10 (the lead entered ``closed_lost``). Nobody worked L6 after the handoff.
* L1 (source webinar, first touch a marketing webinar) went mql -> sal -> sql -> opportunity -> customer in
  October; its deal D1, 24,000, was created Oct 8 and won Oct 20 (a 12-day cycle).
* L2 went mql -> sal -> sql and was disqualified; L3 went mql -> sal and was recycled to nurture; L4 went
  mql -> sal and was never worked; L5 only reached mql.
* Open deals created in October: D4 (L4, 12,000), D5 (L5, 6,000), D7 (L7, 3,000).
* Touches: L4 was touched by sales first and by marketing only after sales accepted it; L5 and L7 were
  touched by sales first and by marketing before their deals; L5's source is a webinar, L7's a referral.

October in numbers: 5 leads, 5 MQLs, 4 SALs (all handed off), 2 SQLs, 1 opportunity, 1 won and 1 lost
deal, 24,000 revenue, 45,000 new pipeline, 1 lead never worked, 1 disqualified, 1 recycled.

Examples:
    >>> data = example_dataset()
    >>> data.leads.height, data.deals.height
    (7, 5)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Final

from smarketing.money import Money
from smarketing.records import Activity, Dataset, Deal, Lead, StageEvent, Touchpoint

__all__ = ["AS_OF", "EXAMPLE_INPUTS", "example_dataset"]

#: The instant the example data is looked at: the start of November 2026 (UTC).
AS_OF: Final = datetime(2026, 11, 1, tzinfo=UTC)

#: Input series for the cost KPIs (CAC, LTV): October 2026 spend, margin and churn.
EXAMPLE_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "marketing_spend": {"2026-10": Money("20000.00", "EUR")},
    "sales_spend": {"2026-10": Money("16000.00", "EUR")},
    "gross_margin": {"2026-10": "0.8"},
    "annual_churn_rate": {"2026-10": "0.1"},
}


def _t(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _moves(lead: str, path: list[tuple[str, datetime]]) -> list[StageEvent]:
    events = []
    previous: str | None = None
    for stage, time in path:
        events.append(
            StageEvent.model_validate({"lead_id": lead, "from": previous, "to": stage, "time": time})
        )
        previous = stage
    return events


def example_dataset() -> Dataset:
    """The seven-lead story of the module docstring, as a :class:`~smarketing.records.Dataset`.

    Examples:
        >>> example_dataset().stage_events.filter(lead_id="L1")["to"].to_list()
        ['mql', 'sal', 'sql', 'opportunity', 'customer']
    """

    def lead(
        id: str, created: datetime, source: str, persona: str | None, *, owner: str, region: str
    ) -> Lead:
        return Lead(
            id=id, created_at=created, source=source, persona=persona, owner=owner, region=region, grade="B"
        )

    leads = [
        lead("L6", _t(9, 5), "referral", None, owner="sara.lind", region="dach"),
        lead("L1", _t(9, 20), "webinar", "ops-director", owner="nina.brandt", region="dach"),
        lead("L7", _t(10, 1), "referral", "ops-director", owner="felix.roth", region="nordics"),
        lead("L2", _t(10, 2), "paid_search", "ops-director", owner="felix.roth", region="nordics"),
        lead("L3", _t(10, 3), "sdr_outbound", "finance-lead", owner="nina.brandt", region="dach"),
        lead("L4", _t(10, 5), "sdr_outbound", "finance-lead", owner="felix.roth", region="north_america"),
        lead("L5", _t(10, 6), "webinar", "ops-director", owner="nina.brandt", region="dach"),
    ]
    events = [
        *_moves(
            "L6",
            [("mql", _t(9, 10)), ("sal", _t(9, 11)), ("sql", _t(9, 15)), ("opportunity", _t(9, 20))],
        ),
        StageEvent.model_validate(
            {"lead_id": "L6", "from": "opportunity", "to": "closed_lost", "time": _t(10, 10)}
        ),
        *_moves(
            "L1",
            [
                ("mql", _t(10, 1)),
                ("sal", _t(10, 2)),
                ("sql", _t(10, 5)),
                ("opportunity", _t(10, 8)),
                ("customer", _t(10, 20)),
            ],
        ),
        *_moves(
            "L2", [("mql", _t(10, 3)), ("sal", _t(10, 4)), ("sql", _t(10, 9)), ("disqualified", _t(10, 15))]
        ),
        *_moves("L3", [("mql", _t(10, 4)), ("sal", _t(10, 5)), ("lead", _t(10, 12))]),
        *_moves("L4", [("mql", _t(10, 7)), ("sal", _t(10, 8))]),
        *_moves("L5", [("mql", _t(10, 8))]),
    ]
    touchpoints = [
        Touchpoint(id="T1", lead_id="L1", time=_t(9, 20), channel="webinar", team="marketing"),
        Touchpoint(id="T2", lead_id="L2", time=_t(10, 2), channel="paid_search", team="marketing"),
        Touchpoint(id="T3", lead_id="L3", time=_t(10, 3), channel="sdr_outbound", team="sales"),
        Touchpoint(id="T4a", lead_id="L4", time=_t(10, 5), channel="sdr_outbound", team="sales"),
        Touchpoint(id="T4b", lead_id="L4", time=_t(10, 10), channel="content", team="marketing"),
        Touchpoint(id="T5a", lead_id="L5", time=_t(10, 6, 8), channel="sdr_call", team="sales"),
        Touchpoint(id="T5b", lead_id="L5", time=_t(10, 6, 10), channel="webinar", team="marketing"),
        Touchpoint(id="T7a", lead_id="L7", time=_t(10, 2), channel="sdr_call", team="sales"),
        Touchpoint(id="T7b", lead_id="L7", time=_t(10, 3), channel="webinar", team="marketing"),
    ]
    activities = [
        Activity(id="A1", lead_id="L1", person="nina.brandt", time=_t(10, 2, 11), type="call"),
        Activity(id="A2", lead_id="L2", person="felix.roth", time=_t(10, 4, 11), type="email"),
        Activity(id="A3", lead_id="L3", person="nina.brandt", time=_t(10, 6), type="call"),
    ]

    def deal(id: str, lead: str, amount: str, created: datetime, **more: Any) -> Deal:
        return Deal(
            id=id,
            lead_id=lead,
            amount=Money(amount, "EUR"),
            created_at=created,
            **({"stage": "open"} | more),
        )

    deals = [
        deal("D6", "L6", "30000.00", _t(9, 20), stage="lost", close_date=date(2026, 10, 10)),
        deal("D1", "L1", "24000.00", _t(10, 8), stage="won", close_date=date(2026, 10, 20)),
        deal("D4", "L4", "12000.00", _t(10, 12)),
        deal("D5", "L5", "6000.00", _t(10, 9)),
        deal("D7", "L7", "3000.00", _t(10, 5)),
    ]
    return Dataset.from_records(
        leads=leads, stage_events=events, touchpoints=touchpoints, activities=activities, deals=deals
    )
