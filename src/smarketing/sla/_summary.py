"""The two sentences of :attr:`~smarketing.sla.SLAReport.summary`: sales' side, then marketing's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from smarketing.sla.model import SLA

__all__ = ["summary"]


def summary(
    sla: SLA,
    *,
    handed_off: int,
    by_period: pl.DataFrame,
    marketing: pl.DataFrame,
    counts: Mapping[str, int],
    as_of: datetime,
    period: str,
    examples: Mapping[str, str],
    volume_label: str | None,
) -> str:
    """Both sides in two sentences, and the facts not used (with an example lead each).

    ``by_period`` is the sales compliance per period (its counts add up over periods), ``marketing`` the
    marketing side per period, and ``volume_label`` the name of the volume commitment's stage.
    """
    text = _sales_text(sla, by_period, handed_off=handed_off)
    text += "; marketing " + _marketing_text(sla, marketing, period=period, volume_label=volume_label)
    text += _not_used_text(counts, examples)
    return f"SLA as of {as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {text}."


def _percent(part: int, whole: int) -> str:
    return f"{round(Fraction(100 * part, whole))}%" if whole else "n/a"


def _rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _share(frame: pl.DataFrame, good: str, *bad: str) -> tuple[int, int]:
    met = int(frame[good].sum()) if frame.height else 0
    total = met + sum(int(frame[b].sum()) for b in bad) if frame.height else 0
    return met, total


def _sales_text(sla: SLA, totals: pl.DataFrame, *, handed_off: int) -> str:
    """Sales' side: the share of each commitment met, and early "unable to reach" dispositions."""
    sales: list[str] = []
    if sla.sales.first_response is not None:
        met, total = _share(totals, "response_met", "response_breached")
        pending = int(totals["response_pending"].sum()) if totals.height else 0
        sales.append(
            f"{_percent(met, total)} of first-response commitments ({met:,} of {total:,}"
            + (f"; {pending:,} pending)" if pending else ")")
        )
    if sla.sales.attempts is not None:
        met, total = _share(totals, "attempts_met", "attempts_breached")
        sales.append(
            f"{_percent(met, total)} of attempt commitments" if total else "no attempt window closed yet"
        )
    if sla.sales.disposition is not None:
        met, total = _share(totals, "disposition_on_time", "disposition_late", "disposition_missing")
        sales.append(
            f"{_percent(met, total)} of disposition deadlines" if total else "no disposition due yet"
        )
    text = "sales met " + (", ".join(sales[:-1]) + " and " + sales[-1] if len(sales) > 1 else "".join(sales))
    if not sales:
        text = f"sales handed {handed_off:,} leads (no sales commitments)"
    early = int(totals["unable_to_reach_early"].sum()) if totals.height else 0
    if early:
        text += f"; {early:,} 'unable to reach' before the required attempts"
    return text


def _marketing_text(sla: SLA, marketing: pl.DataFrame, *, period: str, volume_label: str | None) -> str:
    """Marketing's side over the complete periods (or the current one): volume, acceptance and SQLs."""
    volume, quality = sla.marketing.volume, sla.marketing.quality
    complete = marketing.filter(pl.col("complete"))
    scope = complete if complete.height else marketing
    scope_note = (
        f" over {scope.height} complete {period}(s)" if complete.height else f" in the {period} so far"
    )
    delivered = int(scope["delivered"].sum()) if scope.height else 0
    parts: list[str] = []
    if volume is not None:
        committed = volume.count * scope.height
        parts.append(
            f"delivered {_percent(delivered, committed)} of the {volume_label} volume "
            f"({delivered:,} of {committed:,}{scope_note})"
        )
    else:
        parts.append(f"delivered {delivered:,} leads{scope_note}")
    if quality is not None:
        accepted = int(scope["accepted"].sum()) if scope.height else 0
        parts.append(
            f"at {_percent(accepted, delivered)} acceptance against "
            f"{_rate_text(quality.min_acceptance_rate)} committed"
        )
        if quality.min_sql_rate is not None:
            sqls = int(scope["sqls"].sum()) if scope.height else 0
            committed_sql = _rate_text(quality.min_sql_rate)
            parts.append(f"and {_percent(sqls, delivered)} SQLs against {committed_sql}")
    return " ".join(parts)


def _not_used_text(counts: Mapping[str, int], examples: Mapping[str, str]) -> str:
    """`` (not used: ...)`` naming each count that is not zero and its example lead; empty if none."""
    handled = {k: v for k, v in counts.items() if v}
    if not handled:
        return ""
    return (
        " (not used: "
        + ", ".join(
            f"{v:,} {k.replace('_', ' ')}" + (f" (e.g. lead {examples[k]})" if k in examples else "")
            for k, v in handled.items()
        )
        + ")"
    )
