"""The persona analyses as map, reduce and finalise (private): per-lead rows in the map, counts merged.

:func:`~smarketing.persona.score` and :func:`~smarketing.persona.match` run their polars kernel
(:mod:`smarketing.persona._kernel`) through the engine layer (:mod:`smarketing.frames._engine`). A lead's
scores read only its own row, its account's attributes and its own events, so a partition of complete
leads holds everything its rows need:

- **map**: the unchanged kernel on a partition of leads (each lead with its account's row and every
  touchpoint, activity and stage event of it), giving the per-lead rows (kept where they were made) and
  the counts per persona, per signal and of the records after ``as_of``;
- **reduce**: sums of those counts (a lead is in one partition only, so its distinct count adds up);
- **finalise** on the driver: the tables per persona, the totals and the notes.

On PySpark frames (a mapping of record kind to PySpark DataFrames) the kinds are made one
(:func:`~smarketing.frames._engine.co_partition`, by lead id), each lead's account row joined to it by
Spark first (an account is read by every lead of it, so it is copied to each lead's partition), and split
back inside the map. Accounts are matched on their own, partitioned by account id. Anything else is one
partition, mapped in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from smarketing.frames import _engine as engine
from smarketing.persona import _kernel
from smarketing.persona.model import Persona, Signal
from smarketing.records import Dataset

__all__ = [
    "MATCH_TABLES",
    "SCORE_TABLES",
    "account_run",
    "lead_run",
    "score_map",
    "spark_frames",
]

_I64 = pl.Int64()
_STR = pl.String()
_BOOL = pl.Boolean()
_F64 = pl.Float64()

#: The record kinds the persona kernel reads, and the column each is keyed by (its lead id).
KINDS: dict[str, str] = {
    "leads": "id",
    "touchpoints": "lead_id",
    "activities": "lead_id",
    "stage_events": "lead_id",
    "dispositions": "lead_id",
    "deals": "lead_id",
    "_scores": "lead_id",
}

#: The columns of :attr:`LeadScores.frame`, as the kernel gives them.
SCORE_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": _STR,
    "persona": _STR,
    "fit": _F64,
    "engagement": _F64,
    "fit_grade": _STR,
    "band": _STR,
    "grade": _STR,
    "mql": _BOOL,
}

#: The partial tables of :func:`score_map`.
SCORE_TABLES: dict[str, engine.Partial] = {
    "leads": engine.Partial(SCORE_SCHEMA, kept=True),
    "by_persona": engine.Partial(
        {"persona": _STR, "leads": _I64, "mql": _I64}, keys=("persona",), aggs={"leads": "sum", "mql": "sum"}
    ),
    "late": engine.Partial(
        {"leads_after_as_of": _I64, "events_after_as_of": _I64},
        aggs={"leads_after_as_of": "sum", "events_after_as_of": "sum"},
    ),
    # How often each persona's signals fired (the map computes it on Spark only: on one machine
    # :meth:`LeadScores.signals` computes it from the inputs when asked).
    "signals": engine.Partial(
        {"persona": _STR, "signal": _STR, "occurrences": _I64, "leads": _I64},
        keys=("persona", "signal"),
        aggs={"occurrences": "sum", "leads": "sum"},
    ),
}

#: The partial tables of a match (of leads or of accounts): the rows kept (the closest persona's criteria as
#: bit masks), the distinct masks, the counts per persona and the leads left out.
MATCH_TABLES: dict[str, engine.Partial] = {
    "rows": engine.Partial(
        {
            "id": _STR,
            "persona": _STR,
            "matched": _BOOL,
            "candidates": _I64,
            "tied": _BOOL,
            "closest": _STR,
            "_close": pl.Int32(),
            "_pm": _I64,
            "_mm": _I64,
        },
        kept=True,
    ),
    "masks": engine.Partial({"_close": pl.Int32(), "_pm": _I64, "_mm": _I64}, keys=("_close", "_pm", "_mm")),
    "per": engine.Partial(
        {"persona": _STR, "rows": _I64, "ties": _I64, "matched": _I64},
        keys=("persona",),
        aggs={"rows": "sum", "ties": "sum", "matched": "sum"},
    ),
    "closest": engine.Partial({"persona": _STR, "closest": _I64}, keys=("persona",), aggs={"closest": "sum"}),
    "late": engine.Partial({"after": _I64}, aggs={"after": "sum"}),
}


def spark_frames(
    data: Any, kinds: Sequence[str] = ("leads", "touchpoints", "activities", "stage_events")
) -> dict[str, Any] | None:
    """The record kinds ``kinds`` of ``data`` (and ``accounts``) when they are PySpark DataFrames, else None.

    The first of ``kinds`` must be given. A mapping with some kinds on Spark and others not (records,
    polars frames) is read on the driver, as before: None.
    """
    if isinstance(data, Dataset) or not isinstance(data, Mapping) or kinds[0] not in data:
        return None
    frames = {kind: data[kind] for kind in (*kinds, "accounts") if kind in data}
    if not all(engine.is_spark(f) for f in frames.values()):
        return None
    return frames


def _union(frames: Mapping[str, Any], reads: Mapping[str, Sequence[str]]) -> tuple[Any, list[str]]:
    """The kinds ``reads`` names (each lead's account row for ``accounts``), co-partitioned by lead.

    Only each kind's key is required here: the map checks the rest, as one machine does.
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    picked: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for kind, columns in reads.items():
        if kind not in frames or kind == "accounts":
            continue
        frame = frames[kind]
        engine.require(frame, kind, [KINDS[kind]])
        picked[kind] = frame.select(*(f"`{c}`" for c in columns if c in frame.columns))
        keys[kind] = KINDS[kind]
    accounts, leads = frames.get("accounts"), frames.get("leads")
    if "accounts" in reads and accounts is not None and leads is not None and "account_id" in leads.columns:
        engine.require(accounts, "accounts", ["id"])
        shared = [c for c in ("id", *reads["accounts"]) if c in accounts.columns]
        own = leads.select(F.col("id").alias("_lead"), F.col("account_id").alias("_account"))
        joined = own.join(accounts.select(*dict.fromkeys(shared)), own["_account"] == accounts["id"], "inner")
        picked["accounts"] = joined.select("_lead", *dict.fromkeys(shared))
        keys["accounts"] = "_lead"
    return engine.co_partition(picked, keys), list(picked)


def _data(part: Any, kinds: Sequence[str]) -> dict[str, pl.DataFrame]:
    """The record kinds of one partition of the union, the accounts of its leads once each."""
    tables = engine.split(part, kinds)
    if "accounts" in tables:
        tables["accounts"] = tables["accounts"].drop("_lead").unique(maintain_order=True)
    return tables


def lead_run(
    data: Any,
    fn: Callable[[Any], Mapping[str, pl.DataFrame]],
    tables: Mapping[str, engine.Partial],
    reads: Mapping[str, Sequence[str]],
) -> tuple[engine.Partials, bool]:
    """Run ``fn`` (given a mapping of record kinds) per partition of complete leads; on Spark or here.

    ``reads``: the columns of each kind the map reads (the first kind must be given to run on Spark; on
    Spark only those columns are shuffled). Returns the partials and whether they are on Spark.
    """
    frames = spark_frames(data, [k for k in reads if k != "accounts"])
    if frames is None:
        return engine.run(data, fn, tables, kind=next(iter(reads)), key="id", columns=()), False
    union, kinds = _union(frames, reads)

    def mapped(part: Any) -> Mapping[str, pl.DataFrame]:
        return fn(_data(part, kinds))

    partials = engine.run(
        union, mapped, tables, kind=next(iter(reads)), key=engine.PARTITION_KEY, columns=union.columns
    )
    return partials, True


def account_run(
    data: Any, fn: Callable[[Any], Mapping[str, pl.DataFrame]], tables: Mapping[str, engine.Partial]
) -> engine.Partials | None:
    """Run ``fn`` per partition of the accounts on Spark (by id); None when they are not on Spark."""
    frames = spark_frames(data)
    if frames is None or "accounts" not in frames:
        return None
    accounts = frames["accounts"]
    engine.require(accounts, "accounts", ["id"])
    columns = [c for c in ("id", *_kernel.SHARED) if c in accounts.columns]

    def mapped(part: Any) -> Mapping[str, pl.DataFrame]:
        return fn({"accounts": part})

    return engine.run(accounts, mapped, tables, kind="accounts", key="id", columns=columns)


def score_reads(signals: Sequence[Signal]) -> dict[str, list[str]]:
    """The columns :func:`~smarketing.persona.score` reads, per record kind."""
    reads: dict[str, list[str]] = {
        "leads": ["id", "created_at", "company_size", *_kernel.LEAD_TEXT],
        "accounts": list(_kernel.SHARED),
    }
    for signal in signals:
        kind = _kernel.EVENT_KINDS[signal.on]
        reads.setdefault(kind, ["lead_id", "time"]).extend(c for c in sorted(signal.where))
    return {kind: list(dict.fromkeys(columns)) for kind, columns in reads.items()}


def score_map(
    data: Any,
    personas: Sequence[Persona],
    *,
    now_us: int,
    inputs: _kernel.Inputs | None = None,
    signals: bool = False,
) -> dict[str, pl.DataFrame]:
    """The partial tables of the scores of the leads in ``data`` (complete leads: every row of each).

    ``inputs``: ``data`` already loaded (one machine's whole input); ``signals``: count the signals too.
    """
    if inputs is None:
        inputs = _kernel.load(data, [s for p in personas for _, s, _ in p.signals()], record_ids=False)
    frame, *found = pl.collect_all(
        [_kernel.scored(inputs, personas, now_us=now_us), *_kernel.late_counts(inputs, now_us=now_us)]
    )
    late = _kernel.late_totals(found)
    out = {
        "leads": frame,
        "by_persona": frame.group_by("persona").agg(
            pl.len().cast(pl.Int64).alias("leads"), pl.col("mql").sum().cast(pl.Int64).alias("mql")
        ),
        "late": pl.DataFrame([late], schema=dict(SCORE_TABLES["late"].schema)),
        "signals": SCORE_TABLES["signals"].empty(),
    }
    if signals:
        out["signals"] = (
            _kernel.occurrences(inputs, frame.lazy().select("lead_id", "persona"), personas, now_us=now_us)
            .group_by("persona", "signal")
            .agg(
                pl.len().cast(pl.Int64).alias("occurrences"),
                pl.col("lead_id").n_unique().cast(pl.Int64).alias("leads"),
            )
            .collect()
        )
    return out


def match_reads() -> dict[str, list[str]]:
    """The columns :func:`~smarketing.persona.match` reads of the leads."""
    return {
        "leads": ["id", "created_at", "company_size", *_kernel.LEAD_TEXT],
        "accounts": list(_kernel.SHARED),
    }


def match_map(
    data: Any,
    personas: Sequence[Persona],
    *,
    accounts: bool,
    now_us: int | None,
    inputs: _kernel.Inputs | None = None,
) -> dict[str, pl.DataFrame]:
    """The partial tables of the match of the leads (or the accounts) in ``data``.

    ``now_us``: leads created after it are left out and counted; ``inputs``: ``data`` already loaded.
    """
    if inputs is None:
        inputs = _kernel.load(data, ())
    after = 0
    if now_us is not None and not accounts:
        late = pl.col("_us").is_not_null() & (pl.col("_us") > now_us)
        leads = inputs.leads.with_columns(late.alias("_late")).collect()
        after = int(leads.get_column("_late").sum())
        inputs = _kernel.Inputs(
            leads=leads.lazy().filter(~pl.col("_late")).drop("_late"),
            events=inputs.events,
            accounts=inputs.accounts,
        )
    rows = _kernel.match_masks(inputs, personas, accounts=accounts)
    rows = rows.rename({"account_id" if accounts else "lead_id": "id"})
    return {
        "rows": rows,
        "masks": rows.select("_close", "_pm", "_mm").unique(),
        "per": rows.group_by("persona").agg(
            pl.len().cast(pl.Int64).alias("rows"),
            pl.col("tied").sum().cast(pl.Int64).alias("ties"),
            pl.col("matched").sum().cast(pl.Int64).alias("matched"),
        ),
        "closest": rows.filter(~pl.col("matched"))
        .group_by(pl.col("closest").alias("persona"))
        .agg(pl.len().cast(pl.Int64).alias("closest")),
        "late": pl.DataFrame({"after": [after]}, schema={"after": _I64}),
    }


def match_rows(partials: engine.Partials, names: Sequence[Sequence[str]], *, spark: bool, ident: str) -> Any:
    """The matched rows with their criteria's lists: kept on Spark (joined there), else polars by id."""
    rows = partials.rows("rows")
    table = _kernel.list_table(partials.merged("masks"), names)
    columns = ["persona", "matched", "candidates", "tied", "closest", "passed", "failed", "missing"]
    if not spark:
        out = _kernel.with_lists(rows.sort("id"), names)
        return out.select(pl.col("id").alias(ident), *columns).with_columns(
            pl.col("candidates").cast(pl.UInt32)
        )
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    ddl = "_close int, _pm bigint, _mm bigint, " + ", ".join(f"{c} array<string>" for c in columns[5:])
    lists = rows.sparkSession.createDataFrame(table.rows(), ddl)
    keys = ["_close", "_pm", "_mm"]
    on = [rows[k].eqNullSafe(lists[k]) for k in keys]
    joined = rows.join(F.broadcast(lists), on, "left")
    return joined.select(
        rows["id"].alias(ident), *(rows[c] for c in columns[:5]), *(lists[c] for c in columns[5:])
    )
