"""What the journey reports share (private): rates, durations, JSON values and the event counts.

Every report of :mod:`smarketing.journey` formats its numbers the same way: rates as four-place decimals,
durations from whole microseconds, JSON durations as exact decimal seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from smarketing.journey._kernel import Prepared
from smarketing.journey.counts import EventCounts

__all__ = ["duration", "event_counts", "json_value", "rate"]

_RATE = Decimal("0.0001")


def rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` rounded half-even to four places; ``None`` when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def duration(micros: float | int | None) -> timedelta | None:
    """A kernel's duration in microseconds as a ``timedelta`` (``None`` stays ``None``)."""
    return None if micros is None else timedelta(microseconds=round(micros))


def _seconds(value: timedelta | None) -> str | None:
    """A duration as exact decimal seconds, for JSON."""
    if value is None:
        return None
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return f"{(Decimal(micros) / 1_000_000).normalize():f}"


def json_value(value: Any) -> Any:
    """``value`` for JSON: decimals as strings, durations as decimal seconds, times as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return _seconds(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def event_counts(prepared: Prepared, **anomalies: tuple[int, str]) -> EventCounts:
    """The :class:`EventCounts` of prepared events and a kernel's anomalies (name -> count, example lead)."""
    examples = dict(prepared.examples)
    examples.update({name: lead for name, (_, lead) in anomalies.items()})
    return EventCounts(
        events=prepared.rows,
        leads=prepared.leads,
        duplicates=prepared.duplicates,
        unknown_stage_events=prepared.unknown,
        unknown_stages=prepared.unknown_stages,
        from_mismatch=prepared.from_mismatch,
        after_as_of=prepared.after_as_of,
        **{name: count for name, (count, _) in anomalies.items()},
        examples=examples,
    )
