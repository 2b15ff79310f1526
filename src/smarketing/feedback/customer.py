"""Customer feedback analytics: scores, tags and who has read it, by persona, campaign and journey stage.

:func:`customer_feedback` reads the ``feedback`` records (:class:`~smarketing.records.Feedback`) with the
leads and stage events, in columns (one polars query, no Python per row), and returns a
:class:`FeedbackReport`.

Rules, in one place:

- **The lead of a feedback** is its ``lead_id``; for feedback about an account only, the account's first lead
  (the earliest ``created_at``, ties by the smaller lead id). Its persona and campaign are that lead's;
  feedback whose lead is not in the data has neither.
- **The journey stage** is the lead's stage when the feedback was given: the ``to`` of its last stage event
  at or before the feedback's time (an as-of join; at equal times the later event in the data wins); none
  before the lead's first event.
- **Scores of different types are never mixed**: every score row is one group *and* one score type.
  ``mean`` is the mean score on that type's scale; for NPS, ``nps`` is the percentage of promoters (9-10)
  minus the percentage of detractors (0-6), from -100 to 100; for CSAT, ``satisfied_share`` is the share of
  4s and 5s. Feedback without a score (``score_type`` ``none`` or missing) is counted, never averaged.
- **Seen**: a feedback is seen by marketing when ``seen_by`` holds a team whose ``function`` in the plan is
  ``marketing``, by sales likewise, and by neither otherwise (a team the plan does not know counts as
  neither; data rule D004 names it). ``seen_by`` is read as the data has it now, whatever ``as_of``.
- ``as_of`` leaves out feedback given after it.

Examples:
    >>> from datetime import datetime, timezone
    >>> from smarketing import load_plan
    >>> from smarketing.records import Feedback, Lead
    >>> t = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
    >>> leads = [Lead(id="L1", created_at=t, persona="ops-director", campaign="webinar")]
    >>> scores = [10, 9, 7, 3]
    >>> feedback = [
    ...     Feedback(id=f"F{i}", lead_id="L1", time=t, source="survey", score_type="nps", score=s)
    ...     for i, s in enumerate(scores)
    ... ]
    >>> report = customer_feedback(load_plan("examples/plan.yaml"), {"leads": leads, "feedback": feedback})
    >>> row = report.scores.row(0, named=True)
    >>> row["persona"], row["score_type"], row["feedback"], row["promoters"], row["detractors"], row["nps"]
    ('ops-director', 'nps', 4, 2, 1, 25.0)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing._display import html_table, text_table
from smarketing.feedback import _customer_scale as _scale

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["FeedbackReport", "GROUPS", "customer_feedback"]

#: What feedback can be grouped by: the lead's persona and campaign, its journey stage at the feedback's
#: time, and the feedback's own source (survey, review, ...).
GROUPS: Final = ("persona", "campaign", "stage", "source")
#: Score types in the order the tables show them.
_TYPE_ORDER: Final = ("nps", "csat", "ces", "none")


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@attrs.frozen(repr=False)
class FeedbackReport:
    """Customer feedback summarised per group (see :func:`customer_feedback`).

    Attributes:
        scores: One row per group and score type: ``feedback`` (count), ``scored``, ``mean``, and per type
            ``promoters``/``passives``/``detractors``/``nps`` (NPS) or ``satisfied``/``satisfied_share``
            (CSAT); null where they do not apply.
        tags: One row per group and tag: ``feedback`` holding the tag (each feedback once per tag).
        seen: One row per group: ``feedback``, ``seen_by_marketing``, ``seen_by_sales``,
            ``seen_by_neither`` and their shares.
        by: The grouping columns.
        as_of: Feedback after this time was left out (``None``: none was).
    """

    scores: pl.DataFrame
    tags: pl.DataFrame
    seen: pl.DataFrame
    by: tuple[str, ...]
    as_of: datetime | None

    @property
    def total(self) -> int:
        """How many feedback records were summarised."""
        return int(self.seen.get_column("feedback").sum() or 0)

    def to_frame(self) -> pl.DataFrame:
        """The score table (one row per group and score type)."""
        return self.scores

    def to_dict(self) -> dict[str, Any]:
        """Every table as JSON-ready rows, with ``by`` and ``as_of``."""

        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return [{k: _json(v) for k, v in r.items()} for r in frame.to_dicts()]

        return {
            "by": list(self.by),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "feedback": self.total,
            "scores": rows(self.scores),
            "tags": rows(self.tags),
            "seen": rows(self.seen),
        }

    def _rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = [*self.by, "type", "feedback", "mean", "nps", "satisfied"]
        rows = [
            [
                *(r[c] for c in self.by),
                r["score_type"],
                r["feedback"],
                None if r["mean"] is None else f"{r['mean']:.2f}",
                None if r["nps"] is None else f"{r['nps']:+.1f}",
                None if r["satisfied_share"] is None else f"{r['satisfied_share']:.1%}",
            ]
            for r in self.scores.iter_rows(named=True)
        ]
        return headers, rows

    def _seen_rows(self) -> tuple[list[str], list[list[Any]]]:
        headers = [*self.by, "feedback", "marketing", "sales", "neither"]
        rows = [
            [
                *(r[c] for c in self.by),
                r["feedback"],
                f"{r['seen_by_marketing_share']:.1%}",
                f"{r['seen_by_sales_share']:.1%}",
                f"{r['seen_by_neither_share']:.1%}",
            ]
            for r in self.seen.iter_rows(named=True)
        ]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        seen_headers, seen_rows = self._seen_rows()
        return (
            f"FeedbackReport(feedback={self.total}, by={list(self.by)})\n{text_table(headers, rows)}\n\n"
            f"Seen by\n{text_table(seen_headers, seen_rows)}"
        )

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        seen_headers, seen_rows = self._seen_rows()
        head = html.escape(f"{self.total} feedback by {', '.join(self.by) or 'nothing'}")
        return f"<p>{head}</p>{html_table(headers, rows)}<p>Seen by</p>{html_table(seen_headers, seen_rows)}"


def _check_options(by: Sequence[str], as_of: datetime | None) -> tuple[str, ...]:
    if isinstance(by, str):
        by = (by,)
    unknown = [b for b in by if b not in GROUPS]
    if unknown:
        raise ValueError(f"by: unknown group(s) {', '.join(map(repr, unknown))}; known: {', '.join(GROUPS)}")
    if len(set(by)) != len(by):
        raise ValueError(f"by: a group is given twice: {list(by)}")
    if as_of is not None and (not isinstance(as_of, datetime) or as_of.utcoffset() is None):
        raise ValueError(f"as_of: must be a timezone-aware datetime, not {as_of!r}")
    return tuple(by)


def customer_feedback(
    plan: AlignmentPlan,
    data: Any,
    *,
    by: Sequence[str] = ("persona",),
    as_of: datetime | None = None,
) -> FeedbackReport:
    """Feedback scores, tags and who has read it, per group (the rules are the module's text).

    Args:
        plan: The plan; its teams' ``function`` says which team is marketing and which is sales.
        data: A :class:`~smarketing.records.Dataset`, or a mapping of frames or records by kind: ``feedback``,
            with ``leads`` (persona, campaign, an account's first lead) and ``stage_events`` (the stage).
        by: Group by any of :data:`GROUPS`; ``()`` gives one group of all feedback.
        as_of: Leave out feedback given after this time.

    Raises:
        ValueError: An unknown group, or a naive ``as_of``.
        DataError: A frame breaks its record kind's rules (named by :func:`~smarketing.frames.as_lazy`).
    """
    groups = _check_options(by, as_of)
    options = _scale.Options(
        by=groups,
        marketing=tuple(sorted(t.id for t in plan.teams if t.function == "marketing")),
        sales=tuple(sorted(t.id for t in plan.teams if t.function == "sales")),
        as_of=as_of,
    )
    partials = _scale.run(options, data)
    keys = list(groups)
    return FeedbackReport(
        scores=_scores(partials.merged("scores"), keys),
        tags=partials.merged("tags").sort(
            [*keys, "feedback", "tag"], descending=[*([False] * len(keys)), True, False], nulls_last=True
        ),
        seen=_seen(partials.merged("seen"), keys),
        by=groups,
        as_of=as_of,
    )


def _scores(merged: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """The score rows from the counts per group and score type: means, NPS, satisfied shares, in order."""
    nps, csat = pl.col("score_type") == "nps", pl.col("score_type") == "csat"
    order = pl.col("score_type").replace_strict(_TYPE_ORDER, range(len(_TYPE_ORDER)), return_dtype=pl.Int64)
    scored = pl.col("scored")
    scores = merged.with_columns(
        pl.when(scored > 0).then(pl.col("_sum") / scored).alias("mean"),
        *(pl.when(nps).then(pl.col(c)).alias(c) for c in ("promoters", "passives", "detractors")),
        pl.when(nps).then((pl.col("promoters") - pl.col("detractors")) * 100.0 / scored).alias("nps"),
        pl.when(csat).then(pl.col("satisfied")).alias("satisfied"),
        pl.when(csat).then(pl.col("satisfied") / scored).alias("satisfied_share"),
    ).sort([*keys, order], nulls_last=True)
    return scores.select(
        *keys,
        "score_type",
        "feedback",
        "scored",
        "mean",
        "promoters",
        "passives",
        "detractors",
        "nps",
        "satisfied",
        "satisfied_share",
    )


def _seen(merged: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Who has read the feedback, per group, with shares (without ``by``, one row even of no feedback)."""
    if not keys and not merged.height:  # no partition had a feedback (the shares are then 0 / 0)
        merged = pl.DataFrame(
            [dict.fromkeys(_scale.SEEN_COUNTS, 0)], schema=dict.fromkeys(_scale.SEEN_COUNTS, pl.Int64)
        )
    return merged.with_columns(
        (pl.col(f"seen_by_{w}") / pl.col("feedback")).alias(f"seen_by_{w}_share")
        for w in ("marketing", "sales", "neither")
    )
