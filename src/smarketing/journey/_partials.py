"""The journey kernels as map, reduce and finalise (private): one code path on one machine and on Spark.

Each analysis of stage events maps a partition of complete leads (every event of a lead in it) with the
kernels of :mod:`smarketing.journey._kernel` to the partial tables below, which merge by sums, minimums
(the example lead: the smallest id), set unions (unknown stages), the first rows by lead id (conformance
examples) and exact lower quantiles by a second pass (time in stage, edge medians); the public verbs
finalise the merged tables. The codes every partition must share are global: the journey map's stages
(``stages``), the funnel's steps, the conformance verdicts and teams, and discovery's stage list (the
distinct stages of all the events, found before the map). See :mod:`smarketing.frames._engine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import narwhals as nw
import polars as pl

from smarketing.calendar import BusinessCalendar
from smarketing.frames._engine import Partial, Partials
from smarketing.journey import _kernel
from smarketing.journey.counts import EventCounts

__all__ = [
    "DISCOVERY",
    "FUNNEL",
    "JOINED",
    "conformance_map",
    "conformance_partials",
    "discover_map",
    "event_counts",
    "funnel_map",
]

_I64 = pl.Int64()
_STR = pl.String()

#: Counts of what reading the events found, by name (``EventCounts`` fields, anomalies, ...), with the
#: smallest lead id of each as its example.
COUNTS = Partial(
    {"name": _STR, "value": _I64, "example": _STR}, keys=("name",), aggs={"value": "sum", "example": "min"}
)
#: The stages entered that the map does not have: a set union.
UNKNOWN = Partial({"stage": _STR}, keys=("stage",))

_FUNNEL_SUMS = ("reached", "entries", "reentered", "advanced", "moved_on", "recycled", "lost", "open")

FUNNEL: dict[str, Partial] = {
    "counts": COUNTS,
    "unknown": UNKNOWN,
    "cells": Partial(
        {"group": _STR, "j": pl.Int32(), **dict.fromkeys(_FUNNEL_SUMS, _I64)},
        keys=("group", "j"),
        aggs=dict.fromkeys(_FUNNEL_SUMS, "sum"),
    ),
    "stays": Partial(
        {"group": _STR, "j": pl.Int32(), "d": _I64, "b": _I64},
        keys=("group", "j"),
        quantiles={"d": (0.5, 0.9), "b": (0.5, 0.9)},
    ),
}


def conformance_partials(examples: int) -> dict[str, Partial]:
    """Conformance's tables, keeping the first ``examples`` moves of each kind by lead id."""
    return {
        "counts": COUNTS,
        "unknown": UNKNOWN,
        "kinds": Partial(
            {"v": pl.Int32(), "count": _I64, "leads": _I64},
            keys=("v",),
            aggs={"count": "sum", "leads": "sum"},
        ),
        "touched": Partial({"team": pl.Int32(), "leads": _I64}, keys=("team",), aggs={"leads": "sum"}),
        "broken": Partial(
            {"team": pl.Int32(), "unfit": _I64, "violations": _I64},
            keys=("team",),
            aggs={"unfit": "sum", "violations": "sum"},
        ),
        "examples": Partial(
            {
                "v": pl.Int32(),
                "lead_id": _STR,
                "seq": _I64,
                "a": _I64,
                "to": _STR,
                "time": pl.Datetime("us", "UTC"),
            },
            keys=("v",),
            order=("lead_id", "seq"),
            count=examples,
        ),
        "leads": Partial(
            {"lead_id": _STR, "events": _I64, "violations": _I64, "fit": pl.Boolean()}, kept=True
        ),
    }


DISCOVERY: dict[str, Partial] = {
    "counts": COUNTS,
    "unknown": UNKNOWN,
    "edges": Partial(
        {"source": _STR, "target": _STR, "count": _I64}, keys=("source", "target"), aggs={"count": "sum"}
    ),
    "gaps": Partial(
        {"source": _STR, "target": _STR, "d": _I64}, keys=("source", "target"), quantiles={"d": (0.5,)}
    ),
    "nodes": Partial(
        {"stage": _STR, "count": _I64, "start": _I64, "end": _I64},
        keys=("stage",),
        aggs={"count": "sum", "start": "sum", "end": "sum"},
    ),
}

#: ``groups`` of :func:`funnel_map` when each event row carries its lead's group (``_group``) and whether
#: the lead was found among the leads (``_matched``): the leads joined to the events on the engine.
JOINED: Literal["joined"] = "joined"


def _counts(
    prepared: _kernel.Prepared, anomalies: Mapping[str, tuple[int, str]], **extra: int
) -> dict[str, pl.DataFrame]:
    values = {
        "events": prepared.rows,
        "leads": prepared.leads,
        "duplicates": prepared.duplicates,
        "unknown_stage_events": prepared.unknown,
        "from_mismatch": prepared.from_mismatch,
        "after_as_of": prepared.after_as_of,
        **{name: count for name, (count, _) in anomalies.items()},
        **extra,
    }
    examples = {**prepared.examples, **{name: lead for name, (_, lead) in anomalies.items()}}
    counts = pl.DataFrame(
        {"name": list(values), "value": list(values.values()), "example": [examples.get(n) for n in values]},
        schema=dict(COUNTS.schema),
    )
    return {
        "counts": counts,
        "unknown": pl.DataFrame({"stage": list(prepared.unknown_stages)}, schema={"stage": _STR}),
    }


def event_counts(partials: Partials) -> tuple[EventCounts, dict[str, int]]:
    """The merged :class:`EventCounts`, and every merged count by name (the analyses' own ones too)."""
    merged = partials.merged("counts")
    values = {
        str(n): int(v) for n, v in zip(merged.get_column("name"), merged.get_column("value"), strict=True)
    }
    examples = {
        str(n): str(e)
        for n, e in zip(merged.get_column("name"), merged.get_column("example"), strict=True)
        if e is not None
    }
    optional = {n: values[n] for n in ("out_of_order", "skipped_step", "after_unknown_stage") if n in values}
    counts = EventCounts(
        events=values.get("events", 0),
        leads=values.get("leads", 0),
        duplicates=values.get("duplicates", 0),
        unknown_stage_events=values.get("unknown_stage_events", 0),
        unknown_stages=tuple(partials.merged("unknown").get_column("stage").to_list()),
        from_mismatch=values.get("from_mismatch", 0),
        after_as_of=values.get("after_as_of", 0),
        **optional,
        examples={n: e for n, e in examples.items() if values.get(n)},
    )
    return counts, values


def funnel_map(
    events: Any,
    *,
    stages: Sequence[str],
    steps: Sequence[int],
    lost: Sequence[int],
    mode: Literal["ordered", "any"],
    as_of: datetime | None,
    groups: nw.LazyFrame[Any] | Literal["cohort_month", "joined"] | None,
    calendar: BusinessCalendar | None,
) -> dict[str, pl.DataFrame]:
    """The funnel's partials of the leads in ``events``: counts, cells (sums) and ended stays."""
    if not isinstance(groups, str) or groups == "cohort_month":
        return _funnel(events, stages, steps, lost, mode, as_of, groups, calendar)
    # The leads were joined to the events on the engine (JOINED): each row carries its lead's group.
    part = events
    assert isinstance(part, pl.DataFrame)
    found = (
        part.filter(pl.col("_matched").fill_null(value=False))
        .select(pl.col("lead_id").cast(pl.String()), pl.col("_group").alias("group"))
        .unique()
    )
    joined: nw.LazyFrame[Any] = nw.from_native(found.lazy())
    return _funnel(part.drop("_group", "_matched"), stages, steps, lost, mode, as_of, joined, calendar)


def _funnel(  # noqa: PLR0917 (funnel_map's options, passed on in its order)
    events: Any,
    stages: Sequence[str],
    steps: Sequence[int],
    lost: Sequence[int],
    mode: Literal["ordered", "any"],
    as_of: datetime | None,
    groups: nw.LazyFrame[Any] | Literal["cohort_month"] | None,
    calendar: BusinessCalendar | None,
) -> dict[str, pl.DataFrame]:
    prepared = _kernel.prepare(events, stages, as_of=as_of)
    table = _kernel.funnel_table(prepared, steps, lost, mode=mode, groups=groups, calendar=calendar)
    cells = pl.DataFrame(table.cells, schema=dict(FUNNEL["cells"].schema))
    out = _counts(prepared, table.anomalies, unmatched=table.unmatched)
    return {**out, "cells": cells, "stays": table.stays}


def conformance_map(
    events: Any,
    *,
    stages: Sequence[str],
    verdicts: Mapping[tuple[int, int], int],
    limits: Mapping[tuple[int, int], int],
    owners: Sequence[int],
    examples: int,
) -> dict[str, pl.DataFrame]:
    """Conformance's partials of the leads in ``events``: counts per kind and team, examples, per-lead fit.

    The examples are the partition's first ``examples`` moves of each kind in lead id order (``seq``: their
    order, the order within a lead); the first ones of all the partitions are among them.
    """
    prepared = _kernel.prepare(events, stages, keep_unknown=True)
    tables = _kernel.conformance_tables(prepared, verdicts, limits, owners, examples=examples)
    leads = tables["leads"]
    out = _counts(
        prepared,
        tables["anomalies"],
        fit=int(leads.get_column("fit").sum()),
        moves=int(leads.get_column("events").sum()),
    )
    sample = tables["examples"].with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))
    return {
        **out,
        "kinds": tables["kinds"],
        "touched": tables["touched"],
        "broken": tables["broken"],
        "examples": sample,
        "leads": leads,
    }


def discover_map(events: Any, *, stages: Sequence[str] | None) -> dict[str, pl.DataFrame]:
    """Discovery's partials of the leads in ``events``: node and edge counts, and each edge's gaps."""
    prepared = _kernel.prepare(events, stages)
    return {**_counts(prepared, {}), **_kernel.dfg_tables(prepared)}
