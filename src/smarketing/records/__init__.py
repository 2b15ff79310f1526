"""Canonical CRM records: what happened, as both teams' systems saw it.

Connectors turn a CRM's objects into these records. Each record is a frozen pydantic model validated at
the boundary: times must be timezone-aware, money is :class:`~smarketing.money.Money`, ids are text. For
volume the same data lives in columns: a :class:`Dataset` holds one polars frame per record kind, in long
form, and converts both ways without losing a field.

Examples:
    >>> from datetime import datetime, timezone
    >>> from smarketing.records import StageEvent
    >>> e = StageEvent(lead_id="L1", to="mql", time=datetime(2026, 10, 1, 9, tzinfo=timezone.utc))
    >>> e.source is None, e.to
    (True, 'mql')
    >>> StageEvent(lead_id="L1", to="mql", time=datetime(2026, 10, 1, 9))
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for StageEvent
    time
      Input should have timezone info ...
"""

from smarketing.records.dataset import Dataset
from smarketing.records.model import (
    RECORD_KINDS,
    Account,
    Activity,
    Deal,
    DealSplit,
    Disposition,
    Feedback,
    Lead,
    Record,
    StageEvent,
    Touchpoint,
    parse_records,
)

__all__ = [
    "Account",
    "Activity",
    "Dataset",
    "Deal",
    "DealSplit",
    "Disposition",
    "Feedback",
    "Lead",
    "RECORD_KINDS",
    "Record",
    "StageEvent",
    "Touchpoint",
    "parse_records",
]
