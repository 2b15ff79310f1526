"""Disposition analytics: why sales rejects and recycles marketing's leads, and how fast it says so.

:func:`dispositions` returns a :class:`DispositionReport`. Every status comes from the one set of
definitions the persona analyses use (:mod:`smarketing.persona._outcomes`) and the journey's transition
kinds; business time from the SLA's calendar, the one business clock.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing._display import html_table, text_table
from smarketing.calendar import check_time
from smarketing.feedback import _dispositions_scale as _scale
from smarketing.feedback._dispositions_kernel import HOURS_PER_US
from smarketing.persona.agreement import plan_stages

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["DispositionReport", "dispositions"]

#: Example lead ids kept of the handed-off leads with no disposition.
UNDISPOSED_EXAMPLES = _scale.UNDISPOSED_EXAMPLES


def _rate(part: str, whole: str) -> pl.Expr:
    return pl.when(pl.col(whole) > 0).then(pl.col(part) / pl.col(whole)).otherwise(None)


_COLUMNS = (
    "handed_off",
    "accepted",
    "rejected",
    "rejection_rate",
    "recycled",
    "recycle_rate",
    "recycled_won",
    "recycled_to_won",
    "disposed",
    "undisposed",
    "median_hours",
    "p90_hours",
)


def _summary(merged: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Counts, rates and disposition times per group (one row over all leads without ``keys``).

    ``merged`` holds the summed counts and the lower median and p90 of the business microseconds
    (``us_q0``, ``us_q1``) per group.
    """
    if not keys and not merged.height:  # no partition had a lead
        merged = pl.DataFrame(
            [dict.fromkeys(_scale.COUNTS, 0) | {"us_q0": None, "us_q1": None}],
            schema={**dict.fromkeys(_scale.COUNTS, pl.Int64()), "us_q0": pl.Int64(), "us_q1": pl.Int64()},
        )
    return merged.with_columns(
        rejection_rate=_rate("rejected", "handed_off"),
        recycle_rate=_rate("recycled", "handed_off"),
        recycled_to_won=_rate("recycled_won", "recycled"),
        median_hours=pl.col("us_q0").cast(pl.Float64) * HOURS_PER_US,
        p90_hours=pl.col("us_q1").cast(pl.Float64) * HOURS_PER_US,
    ).select(*keys, *_COLUMNS)


def _reasons(counted: pl.DataFrame, summary: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Rejected and recycled leads per group and reason, with their shares of the group's handed-off leads.

    ``counted`` holds the rejected and recycled leads per group and reason, summed.
    """
    base = summary.select(*keys, "handed_off")
    joined = (
        counted.join(base, on=list(keys), how="left", nulls_equal=True)
        if keys
        else counted.join(base, how="cross")
    )
    return (
        joined.with_columns(
            rejection_rate=_rate("rejected", "handed_off"), recycle_rate=_rate("recycled", "handed_off")
        )
        .select(*keys, "reason", "handed_off", "rejected", "rejection_rate", "recycled", "recycle_rate")
        .sort([*keys, "reason"], nulls_last=True)
    )


def _by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    names = (by,) if isinstance(by, str) else tuple(by)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"by must be a column name or a non-empty sequence of them, not {by!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"by names a column twice: {list(names)}")
    return names


def dispositions(
    plan: AlignmentPlan,
    data: Any,
    *,
    by: str | Sequence[str] | None = None,
    as_of: datetime | None = None,
) -> DispositionReport:
    """Rejections and recycles by reason, recycled-to-won, time to disposition, and reasons off the list.

    **Definitions** (one each, shared with :func:`smarketing.persona.agreement`):

    - *handed off*: the lead entered the source stage of a journey ``handoff`` transition (the MQL stage) or
      took a handoff; the *handoff time* is the first such time.
    - *accepted*: it entered the SLA's ``marketing.quality.accepted_stage`` at or after the handoff.
    - *rejected*: not accepted, and a disposition, a ``disqualify`` or ``recycle`` move, or an entry into a
      disqualify target happened at or after the handoff.
    - *recycled*: it took a journey ``recycle`` transition at or after the handoff (an accepted lead that
      sales later sends back to nurture is recycled, not rejected).
    - *recycled and won*: recycled, and a won deal of the lead closed on or after the (UTC) day of its first
      recycle.
    - *the reason* of a lead: that of its **first disposition at or after the handoff**; of several at that
      same time, the smallest reason (in code-point order; an empty reason counts as none). So every
      rejected or recycled lead is counted under exactly one reason; a null reason means it was rejected or
      recycled by a move with no disposition (or gave no reason).
    - *time to disposition*: business hours from the handoff to that first disposition on the SLA's calendar
      (null without an SLA); the median and p90 are the values at index ``floor((n - 1) * q)`` of the
      sorted times (no interpolation).

    Only facts at or before ``as_of`` count (all of them without it). Reasons off the plan's agreed list
    (``sla.sales.disposition.reasons``) are counted over every disposition up to ``as_of``.

    Args:
        plan: The alignment plan (journey transitions; the SLA's quality, disposition and calendar).
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind to records or frames
            (``stage_events``, ``dispositions``; ``deals`` for recycled-to-won; ``leads`` for ``by``).
        by: A lead column (``"persona"``, ``"campaign"``, ``"owner"``, ...), ``"account.<column>"``,
            ``"week"`` (the Monday of the handoff's local week on the SLA's calendar), or several.
        as_of: The instant the report is taken at (aware).

    A mapping of those kinds to PySpark DataFrames runs on Spark: each partition of leads through the same
    kernel, the counts and times merged by Spark, the per-lead rows kept there (see "Running on Spark" in
    the docs).

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found, or the calendar has no
            open time over the handed-off leads' range.
        DataError: A column is missing, a time is naive, a won deal breaks the won-deal rule, or a ``by``
            column does not exist.
        ValueError: ``by`` is empty or names a column twice.

    Examples:
        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
        >>> moves = [("L1", "mql"), ("L1", "sal"), ("L2", "mql"), ("L3", "mql")]
        >>> data = {
        ...     "stage_events": [sm.StageEvent(lead_id=x, to=to, time=t) for x, to in moves],
        ...     "dispositions": [sm.Disposition(lead_id="L2", reason="no_budget", time=t)],
        ... }
        >>> report = sm.feedback.dispositions(plan, data)
        >>> report.to_frame().select("reason", "rejected").rows()
        [('no_budget', 1)]
        >>> report.undisposed_examples
        ('L1', 'L3')
    """
    keys = _by(by)
    if as_of is not None:
        check_time(as_of, "as_of")
    stages = plan_stages(plan)
    recycles = tuple((t.source, t.to) for t in plan.journey.transitions if t.kind == "recycle")
    sla = plan.sla
    agreed = None
    if sla is not None and sla.sales.disposition is not None:
        agreed = tuple(sla.sales.disposition.reasons)
    options = _scale.Options(
        stages=stages,
        recycles=recycles,
        by=keys,
        calendar=None if sla is None else sla.calendar,
        as_of=as_of,
        agreed=agreed,
    )
    partials = _scale.run(options, data)
    overall = _summary(partials.merged("overall"), ())
    notes = [f"accepted means: {stages.accepted_from}"]
    if set(stages.accepted) & {to for _, to in stages.handoffs}:
        notes.append(
            "the accepted stage is the handoff's target: a handed-off lead is accepted at the handoff, so "
            "sales' 'no' shows as a recycle rather than a rejection"
        )
    if sla is None:
        notes.append("the plan has no SLA: no business calendar, so no time to disposition")
    elif agreed is None:
        notes.append("the SLA agrees no disposition reasons, so no reason is off the list")
    groups = _summary(partials.merged("groups"), keys) if keys else None
    return DispositionReport(
        overall=overall,
        groups=groups,
        reasons=_reasons(partials.merged("reasons"), groups if groups is not None else overall, keys),
        unknown_reasons=partials.unknown() if agreed is not None else None,
        undisposed_examples=partials.undisposed(),
        leads=partials.leads(),
        by=keys or None,
        agreed_reasons=agreed,
        as_of=as_of,
        notes=tuple(notes),
    )


def _share(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} h"


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json(v) for k, v in row.items()} for row in frame.to_dicts()]


@attrs.frozen(repr=False)
class DispositionReport:
    """What :func:`dispositions` returns: sales' answers to marketing's leads, by reason and group.

    Attributes:
        overall: One row over all handed-off leads: ``handed_off``, ``accepted``, ``rejected``,
            ``rejection_rate``, ``recycled``, ``recycle_rate``, ``recycled_won``, ``recycled_to_won``
            (recycled and won / recycled), ``disposed``, ``undisposed``, ``median_hours``, ``p90_hours``.
        groups: With ``by``, the same columns per group (sorted, nulls last), else ``None``.
        reasons: Per group (with ``by``) and reason: ``handed_off`` of the group, ``rejected``,
            ``rejection_rate``, ``recycled``, ``recycle_rate``; sorted, null reason last.
        unknown_reasons: Reasons used that the plan's agreed list lacks: ``reason``, ``dispositions``,
            ``leads``, ``examples`` (first lead ids, sorted); ``None`` when the plan agrees no list.
        undisposed_examples: The first handed-off leads (in id order) with no disposition since the handoff.
        leads: One row per handed-off lead (``lead_id``, the ``by`` columns, ``handoff_at``, ``accepted``,
            ``rejected``, ``recycled``, ``reason``, ``disposition_at``, ``hours``, ``recycled_won``): a
            polars DataFrame in lead id order, or, when the data were PySpark DataFrames, a PySpark
            DataFrame kept on Spark (in no order; write it out with ``report.leads.write.parquet(...)``),
            so that no per-lead row has to pass through the driver.
        by: The grouping columns, or ``None``.
        agreed_reasons: The plan's agreed reasons, or ``None``.
        as_of: The instant the report was taken at, or ``None`` (all the data).
        notes: What to keep in mind when reading the numbers.
    """

    overall: pl.DataFrame
    groups: pl.DataFrame | None
    reasons: pl.DataFrame
    unknown_reasons: pl.DataFrame | None
    undisposed_examples: tuple[str, ...]
    leads: Any
    by: tuple[str, ...] | None
    agreed_reasons: tuple[str, ...] | None
    as_of: datetime | None
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The overall numbers in one paragraph."""
        row = self.overall.row(0, named=True)
        unknown = self.unknown_reasons
        off_list = (
            "the plan agrees no reason list"
            if unknown is None
            else f"{unknown.height} reason(s) used that the plan's list lacks "
            f"({int(unknown['dispositions'].sum()):,} disposition(s))"
        )
        return (
            f"Of {row['handed_off']:,} handed-off lead(s), sales accepted {row['accepted']:,}, rejected "
            f"{row['rejected']:,} ({_share(row['rejection_rate'])}) and recycled {row['recycled']:,} "
            f"({_share(row['recycle_rate'])}; {row['recycled_won']:,} of them later won). "
            f"{row['undisposed']:,} have no disposition; time to disposition median "
            f"{_hours(row['median_hours'])}, p90 {_hours(row['p90_hours'])} (business hours); {off_list}."
        )

    def to_frame(self) -> pl.DataFrame:
        """The per-reason rows (per group and reason with ``by``): :attr:`reasons`."""
        return self.reasons

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-lead rows, as plain JSON-ready values."""
        return {
            "summary": self.summary,
            "by": list(self.by) if self.by else None,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "agreed_reasons": None if self.agreed_reasons is None else list(self.agreed_reasons),
            "overall": _rows(self.overall)[0],
            "groups": None if self.groups is None else _rows(self.groups),
            "reasons": _rows(self.reasons),
            "unknown_reasons": None if self.unknown_reasons is None else _rows(self.unknown_reasons),
            "undisposed_examples": list(self.undisposed_examples),
            "notes": list(self.notes),
        }

    def _tables(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        keys = list(self.by or ())
        shown = [*keys, "reason", "handed_off", "rejected", "rejection_rate", "recycled", "recycle_rate"]
        rates = {"rejection_rate", "recycle_rate", "recycled_to_won"}

        def show(column: str, value: Any) -> Any:
            if column in rates:
                return _share(value)
            return _hours(value) if column.endswith("_hours") else value

        def rows(frame: pl.DataFrame, columns: list[str]) -> list[list[Any]]:
            return [
                [show(c, v) for c, v in zip(columns, row, strict=True)]
                for row in frame.select(columns).rows()
            ]

        tables = [("By reason", shown, rows(self.reasons, shown))]
        if self.groups is not None:
            columns = [
                *keys,
                "handed_off",
                "rejection_rate",
                "recycle_rate",
                "recycled_to_won",
                "undisposed",
                "median_hours",
                "p90_hours",
            ]
            tables.append(("By group", columns, rows(self.groups, columns)))
        if self.unknown_reasons is not None and self.unknown_reasons.height:
            frame = self.unknown_reasons.with_columns(pl.col("examples").list.join(", "))
            columns = ["reason", "dispositions", "leads", "examples"]
            tables.append(("Reasons not on the plan's list", columns, rows(frame, columns)))
        return tables

    def __repr__(self) -> str:
        by = list(self.by) if self.by else None
        head = f"DispositionReport(handed_off={self.overall.item(0, 'handed_off')}, by={by})"
        parts = [head, self.summary, *(f"- {n}" for n in self.notes)]
        for title, headers, rows in self._tables():
            parts += [f"{title}:", text_table(headers, rows)]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        tables = "".join(html_table(h, r, caption=t) for t, h, r in self._tables())
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return f"<p>{html.escape(self.summary)}</p><ul>{notes}</ul>{tables}"
