"""How far marketing's MQL call and sales' acceptance agree: :func:`agreement`.

Two raters judge leads: marketing says "MQL" or not, sales accepts or rejects. The 2x2 table of their
answers gives Cohen's κ, with PABAK and Gwet's AC1 beside it (κ misleads when one answer dominates), the
observed agreement and the acceptance rate, with percentile bootstrap intervals, overall and per group.
Sales judges only MQLs, so the not-MQL row of the table needs an **audit sample**: leads that were not
MQLs and that sales reviewed blind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from smarketing.frames import _engine as engine
from smarketing.persona import _scale, _stats
from smarketing.persona._outcomes import (
    ACCOUNT,
    JourneyStages,
    journey_stages,
    lead_groups,
    lead_outcomes,
    won_deals,
)
from smarketing.persona.results import AGREEMENT_COLUMNS, Agreement

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["agreement", "plan_stages"]

#: Cells of a lead in the study: an MQL accepted, rejected or not judged yet; an audited lead that was no
#: MQL, accepted, rejected or not judged.
_CELLS = (
    "mql_accepted",
    "mql_rejected",
    "mql_pending",
    "nonmql_accepted",
    "nonmql_rejected",
    "audit_unjudged",
)


def agreement(
    plan: AlignmentPlan,
    data: Any,
    *,
    by: str | Sequence[str] | None = None,
    audit: Iterable[str] | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Agreement:
    """How far marketing's MQL call and sales' acceptance agree, from the data alone.

    **Marketing's call**: a lead is an MQL when it entered a source stage of one of the journey's
    ``handoff`` transitions (the MQL stage) or was handed off. **Sales' answer**: *accepted* when the lead
    entered the SLA's ``marketing.quality.accepted_stage`` at or after it became an MQL (without a quality
    commitment: the first sales-owned stage after the handoff target); *rejected* when not accepted and it
    got a disposition or took a disqualify or recycle transition. An MQL with neither is *pending*: left
    out of the table, but counted in the acceptance rate's denominator (accepted / all MQLs, as the SLA
    counts it).

    **Sales judges only MQLs.** Without an audit the table's not-MQL row is empty and κ is 0 or undefined
    by construction. ``audit`` names leads sales reviewed blind; those that were no MQL fill the not-MQL
    row (accepted stage reached = accepted, a disposition or rejecting move = rejected; neither = left out
    and counted). Audited MQLs count as any MQL.

    Statistics (:mod:`smarketing.persona._stats`): observed agreement, Cohen's κ, PABAK ``2·p_o - 1`` and
    Gwet's AC1; undefined values are NaN with a note, never an error. Intervals are percentile bootstrap
    intervals over ``resamples`` resamples of the leads in the study (MQLs and audited leads; one
    multinomial draw per resample), from ``numpy.random.default_rng`` seeded by ``seed`` (one independent
    stream per group, so a group's interval does not depend on the other groups): the same inputs give the
    same numbers. A small group's interval may be NaN (no resample defines the value).

    Also reported: the share of won deals (stage won, with a ``lead_id``) whose lead marketing never
    qualified.

    Args:
        plan: The alignment plan (journey handoffs and transitions; the SLA's quality commitment).
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind to records or frames
            (``stage_events``, ``dispositions``, ``deals``; ``leads`` and ``accounts`` for ``by``).
        by: A lead column (``"persona"``, ``"grade"``, ``"campaign"``, ``"source"``, ``"region"``, ...) or
            ``"account.<column>"``, or several: the same numbers per group, sorted, nulls last.
        audit: Lead ids sales reviewed blind.
        confidence: Level of the intervals, between 0 and 1.
        resamples: Bootstrap resamples (at least 1).
        seed: Seed of the bootstrap.

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found.
        DataError: A column is missing, a time is naive, a won deal breaks the won-deal rule, or a ``by``
            column does not exist.
        ValueError: ``confidence``, ``resamples`` or ``audit`` is out of range.

    Examples:
        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
        >>> moves = [("L1", "mql"), ("L1", "sal"), ("L2", "mql"), ("L3", "sal"), ("L4", "lead")]
        >>> data = {
        ...     "stage_events": [sm.StageEvent(lead_id=x, to=to, time=t) for x, to in moves],
        ...     "dispositions": [sm.Disposition(lead_id=x, reason="not_a_fit", time=t) for x in ("L2", "L4")],
        ... }
        >>> result = sm.persona.agreement(plan, data, audit=["L4"], resamples=200)
        >>> result.table
        ((2, 1), (0, 1))
        >>> round(result.kappa, 3), round(result.acceptance_rate, 3)
        (0.5, 0.667)
    """
    group_by = _by(by)
    audited = _audit(audit)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0 and 1 (exclusive), not {confidence}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a whole number >= 1, not {resamples!r}")
    stages = plan_stages(plan)
    schema = _by_schema(data, group_by)
    tables = _tables(schema)

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        return _agreement_map(part, stages, group_by, audited)

    partials, _ = _scale.lead_run(data, fn, tables, _reads(group_by))
    names = {v: k for k, v in _safe(group_by).items()}
    counts, won_counts = partials.merged("cells").rename(names), partials.merged("won").rename(names)
    # An audited lead no partition holds (no flagged event, disposition or lead row): audited, not judged.
    unseen = len(audited) - partials.merged("seen").height
    if unseen:
        row = pl.DataFrame(
            [{**dict.fromkeys(group_by), "cell": 5, "len": unseen}],
            schema={**schema, "cell": pl.Int32(), "len": pl.Int64()},
        )
        counts = pl.concat([counts, row])
    overall, groups_frame = _agreement_rows(
        counts, won_counts, by=group_by, confidence=confidence, resamples=resamples, seed=seed
    )
    return Agreement(
        overall=overall,
        groups=groups_frame,
        by=group_by or None,
        audited=len(audited),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        accepted_stages=stages.accepted,
        notes=_notes(overall, audited=len(audited), stages=stages),
    )


def _reads(group_by: Sequence[str]) -> dict[str, list[str]]:
    """The columns of each record kind :func:`agreement` reads (the leads and accounts for ``by``)."""
    reads = {
        "stage_events": ["lead_id", "from", "to", "time"],
        "dispositions": ["lead_id", "time"],
        "deals": ["id", "lead_id", "stage", "amount", "amount_currency", "close_date"],
    }
    own = [c for c in group_by if not c.startswith(ACCOUNT)]
    of_account = [c[len(ACCOUNT) :] for c in group_by if c.startswith(ACCOUNT)]
    if group_by:
        reads["leads"] = ["id", "account_id", *own]
    if of_account:
        reads["accounts"] = of_account
    return reads


def _by_schema(data: Any, group_by: Sequence[str]) -> dict[str, pl.DataType]:
    """The dtypes of the ``by`` columns, as :func:`lead_groups` gives them (read from no rows on Spark).

    Raises:
        DataError: A ``by`` column does not exist.
    """
    if not group_by:
        return {}
    frames = _scale.spark_frames(data, ["stage_events", "dispositions", "deals", "leads"])
    if frames is not None:
        empty = {kind: engine.to_polars(frame.limit(0)) for kind, frame in frames.items()}
        return dict(lead_groups(empty, group_by).drop("lead_id").collect_schema())
    return dict(lead_groups(data, group_by).drop("lead_id").collect_schema())


def _safe(group_by: Sequence[str]) -> dict[str, str]:
    """The ``by`` columns' names in the partial tables (``account.<column>`` is no name for Spark)."""
    return {c: f"_by{i}" for i, c in enumerate(group_by)}


def _tables(dtypes: Mapping[str, pl.DataType]) -> dict[str, engine.Partial]:
    """The partial tables of :func:`agreement`: leads per group and cell, won deals per group, audit seen."""
    schema = {_safe(list(dtypes))[c]: t for c, t in dtypes.items()}
    by = tuple(schema)
    i64 = pl.Int64()
    return {
        "cells": engine.Partial(
            {**schema, "cell": pl.Int32(), "len": i64}, keys=(*by, "cell"), aggs={"len": "sum"}
        ),
        "won": engine.Partial(
            {**schema, "won_deals": i64, "won_unqualified": i64},
            keys=by,
            aggs={"won_deals": "sum", "won_unqualified": "sum"},
        ),
        "seen": engine.Partial({"lead_id": pl.String()}, keys=("lead_id",)),
    }


def _agreement_map(
    data: Any, stages: JourneyStages, group_by: tuple[str, ...], audited: frozenset[str]
) -> dict[str, pl.DataFrame]:
    """The partial tables of the leads in ``data`` (complete leads: every row of each of them).

    Audited leads count where they have a row (a flagged event or disposition, or with ``by`` a lead
    record); those with none anywhere are counted once by the caller.
    """
    outcomes = lead_outcomes(stages, data).collect()
    groups = lead_groups(data, group_by).collect() if group_by else None
    present = outcomes.get_column("lead_id").cast(pl.String)
    if groups is not None:
        present = pl.concat([present, groups.get_column("lead_id").cast(pl.String)])
    seen = present.filter(present.is_in(pl.Series(sorted(audited), dtype=pl.String).implode())).unique()
    lazy = outcomes.lazy()
    cells = _lead_cells(lazy, frozenset(seen.to_list()))
    won = won_deals(data).filter(pl.col("lead_id").is_not_null()).lazy()
    won = won.join(lazy.select("lead_id", "mql"), on="lead_id", how="left").select(
        "lead_id", unqualified=~pl.col("mql").fill_null(value=False)
    )
    if groups is not None:
        cells = cells.join(groups.lazy(), on="lead_id", how="left")
        won = won.join(groups.lazy(), on="lead_id", how="left")
    counts, won_counts = pl.collect_all(
        [
            cells.group_by([*group_by, "cell"]).agg(pl.len().cast(pl.Int64).alias("len")),
            won.group_by(group_by or pl.lit(0).alias("_all")).agg(
                won_deals=pl.len().cast(pl.Int64), won_unqualified=pl.col("unqualified").sum().cast(pl.Int64)
            ),
        ]
    )
    safe = _safe(group_by)
    return {
        "cells": counts.rename(safe),
        "won": won_counts.drop("_all") if not group_by else won_counts.rename(safe),
        "seen": seen.to_frame("lead_id"),
    }


def plan_stages(plan: AlignmentPlan) -> JourneyStages:
    """The stages of ``plan`` that carry marketing's call and sales' answer (see :func:`agreement`).

    Raises:
        PlanError: The journey has no handoff, or no acceptance stage can be found.
    """
    sales = frozenset(t.id for t in plan.teams_with_function("sales"))
    return journey_stages(plan.journey, plan.sla, sales)


def _by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    columns = (by,) if isinstance(by, str) else tuple(by)
    if not columns or not all(isinstance(c, str) and c for c in columns):
        raise ValueError(f"by must name one or more columns, not {by!r}")
    if len(set(columns)) != len(columns):
        raise ValueError(f"by names a column twice: {by!r}")
    return columns


def _audit(audit: Iterable[str] | None) -> frozenset[str]:
    if audit is None:
        return frozenset()
    if isinstance(audit, str):
        raise ValueError("audit must be a collection of lead ids, not one string")
    ids = list(audit)
    bad = [x for x in ids if not isinstance(x, str) or not x]
    if bad:
        raise ValueError(f"audit must hold lead ids (non-empty text); got {bad[0]!r}")
    return frozenset(ids)


def _lead_cells(outcomes: pl.LazyFrame, audited: frozenset[str]) -> pl.LazyFrame:
    """``lead_id`` and ``cell`` (an index into :data:`_CELLS`) of each lead in the study."""
    audit = pl.LazyFrame(
        {"lead_id": sorted(audited), "audit": [True] * len(audited)},
        schema={"lead_id": pl.String, "audit": pl.Boolean},
    )
    frame = outcomes.join(audit, on="lead_id", how="full", coalesce=True)
    mql = pl.col("mql").fill_null(value=False)
    accepted, rejected = pl.col("accepted").fill_null(value=False), pl.col("rejected").fill_null(value=False)
    cell = (
        pl.when(mql & accepted)
        .then(0)
        .when(mql & rejected)
        .then(1)
        .when(mql)
        .then(2)
        .when(pl.col("audit") & accepted)
        .then(3)
        .when(pl.col("audit") & rejected)
        .then(4)
        .when(pl.col("audit"))
        .then(5)
    )
    return frame.select("lead_id", cell=cell.cast(pl.Int8)).filter(pl.col("cell").is_not_null())


def _agreement_rows(
    counts: pl.DataFrame,
    won: pl.DataFrame,
    *,
    by: tuple[str, ...],
    confidence: float,
    resamples: int,
    seed: int,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The overall row and the per-group rows (``None`` without ``by``) from counts per group and cell.

    ``counts`` has the ``by`` columns, ``cell`` and ``len``; ``won`` the ``by`` columns (or ``_all``),
    ``won_deals`` and ``won_unqualified``.
    """
    streams = np.random.SeedSequence(seed)
    if not by:
        cells = _cell_vector(counts)
        won_total = int(won.get_column("won_deals").sum()) if won.height else 0
        unqualified = int(won.get_column("won_unqualified").sum()) if won.height else 0
        rng = np.random.default_rng(streams.spawn(1)[0])
        row = _row(cells, won_total, unqualified, confidence=confidence, resamples=resamples, rng=rng)
        return pl.DataFrame([row], schema=AGREEMENT_COLUMNS), None
    keys = (
        pl.concat([counts.select(by), won.select(by)], how="vertical_relaxed")
        .unique()
        .sort(list(by), nulls_last=True)
    )
    children = streams.spawn(keys.height + 1)
    total_cells = _cell_vector(counts)
    total_won = int(won.get_column("won_deals").sum()) if won.height else 0
    total_unqualified = int(won.get_column("won_unqualified").sum()) if won.height else 0
    overall = _row(
        total_cells,
        total_won,
        total_unqualified,
        confidence=confidence,
        resamples=resamples,
        rng=np.random.default_rng(children[0]),
    )
    keyed_counts = counts.join(keys.with_row_index("_g"), on=list(by), how="left", nulls_equal=True)
    keyed_won = won.join(keys.with_row_index("_g"), on=list(by), how="left", nulls_equal=True)
    matrix = np.zeros((keys.height, len(_CELLS)), dtype=np.int64)
    np.add.at(
        matrix,
        (keyed_counts.get_column("_g").to_numpy(), keyed_counts.get_column("cell").to_numpy()),
        keyed_counts.get_column("len").to_numpy(),
    )
    won_matrix = np.zeros((keys.height, 2), dtype=np.int64)
    np.add.at(
        won_matrix[:, 0], keyed_won.get_column("_g").to_numpy(), keyed_won.get_column("won_deals").to_numpy()
    )
    np.add.at(
        won_matrix[:, 1],
        keyed_won.get_column("_g").to_numpy(),
        keyed_won.get_column("won_unqualified").to_numpy(),
    )
    rows = [
        _row(
            matrix[g],
            int(won_matrix[g, 0]),
            int(won_matrix[g, 1]),
            confidence=confidence,
            resamples=resamples,
            rng=np.random.default_rng(children[g + 1]),
        )
        for g in range(keys.height)
    ]
    groups = pl.concat([keys, pl.DataFrame(rows, schema=AGREEMENT_COLUMNS)], how="horizontal")
    return pl.DataFrame([overall], schema=AGREEMENT_COLUMNS), groups


def _cell_vector(counts: pl.DataFrame) -> Any:
    vector = np.zeros(len(_CELLS), dtype=np.int64)
    np.add.at(vector, counts.get_column("cell").to_numpy(), counts.get_column("len").to_numpy())
    return vector


def _row(
    cells: Any, won: int, unqualified: int, *, confidence: float, resamples: int, rng: np.random.Generator
) -> dict[str, Any]:
    """One row of :data:`AGREEMENT_COLUMNS` from the six cell counts of a group."""
    a, b, pending, c, d, unjudged = (int(x) for x in cells)
    table = np.array([[a, b], [c, d]])
    draws = _stats.bootstrap_tables(np.asarray(cells[:5]), resamples=resamples, rng=rng)
    tables = np.stack([draws[:, [0, 1]], draws[:, [3, 4]]], axis=1)  # (R, 2, 2)
    mqls = draws[:, 0] + draws[:, 1] + draws[:, 2]
    acceptance_draws = np.full(resamples, np.nan)
    np.divide(draws[:, 0], mqls, out=acceptance_draws, where=mqls > 0)
    row: dict[str, Any] = {
        "leads": a + b + c + d,
        "mqls": a + b + pending,
        **dict(zip(_CELLS, (a, b, pending, c, d, unjudged), strict=True)),
        "observed": float(_stats.observed_agreement(table)),
        "acceptance": a / (a + b + pending) if a + b + pending else float("nan"),
    }
    for name, function in (("kappa", _stats.cohen_kappa), ("pabak", _stats.pabak), ("ac1", _stats.gwet_ac1)):
        row[name] = float(function(table))
        row[f"{name}_low"], row[f"{name}_high"] = _stats.percentile_interval(function(tables), confidence)
    row["acceptance_low"], row["acceptance_high"] = _stats.percentile_interval(acceptance_draws, confidence)
    row["won_deals"], row["won_unqualified"] = won, unqualified
    row["won_unqualified_share"] = unqualified / won if won else float("nan")
    return row


def _notes(overall: pl.DataFrame, *, audited: int, stages: JourneyStages) -> tuple[str, ...]:
    row = overall.row(0, named=True)
    notes = [
        "sales judges only MQLs: the not-MQL row of the table holds only the audit sample "
        f"({row['nonmql_accepted'] + row['nonmql_rejected']:,} audited lead(s) that were no MQL)",
        f"acceptance is {stages.accepted_from}",
    ]
    same = sorted(set(stages.accepted) & {to for _, to in stages.handoffs})
    if same:
        notes.append(
            f"the accepted stage {', '.join(map(repr, same))} is also the handoff target: a handed-off lead "
            "counts as accepted, so a rejection is an MQL that got a disposition or a rejecting move "
            "without being handed off"
        )
    if audited == 0:
        notes.append(
            "no audit sample: the not-MQL row is empty, so κ is 0 or undefined by construction; pass "
            "audit= with lead ids sales reviewed blind"
        )
    if row["mql_pending"]:
        notes.append(
            f"{row['mql_pending']:,} MQL(s) not judged yet: left out of the table, counted in the "
            "acceptance rate's denominator"
        )
    if row["audit_unjudged"]:
        notes.append(f"{row['audit_unjudged']:,} audited lead(s) neither accepted nor rejected: left out")
    if np.isnan(row["kappa"]):
        notes.append("κ is undefined: the table is empty or both sides gave one answer only")
    return tuple(notes)
