"""Columnar kernels behind :mod:`smarketing.journey`: the funnel, conformance and discovery (private).

Every analysis of stage events goes through :func:`prepare`, which validates the events and puts each lead's
events in one agreed order. The kernels then work *per lead* and reduce with sums and counts, so an engine
that hash-partitions by lead can run them per partition and add the partials.

The events are read once (stage names coded to integers on the way) into an eager frame in lead order:
each lead's events one block of rows, in order within it. Input like that (sorted by lead id or only
grouped by lead) is not sorted again; other input is sorted on integer keys (a hash of the lead id, see
:func:`_lead_order`), so the blocks need not be in lead id order, and nothing may depend on their order:
what lists leads (the per-lead conformance table, the examples) is put in lead id order at the end. Then
everything that depends on the order (neighbours, first entries, the greedy funnel matching, per-lead
counts) is a shift, a running count or a gather along the frame's columns (as numpy arrays: the kernels
below are integer-array arithmetic), read at each lead's boundaries. That is linear and cheap; a window
with ``order_by`` on a lazy frame would sort again for every expression, and a ``group_by``/``over`` by
lead builds a hash table of a million keys each time.

The order of one lead's events is ``(time, stage rank, rank of the stage left)``: time first; events at the
same instant follow the journey map's stage order (plan order, or stage id order where there is no map); the
stage left breaks the remaining ties (no ``from`` first). The order of the input never matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs
import narwhals as nw
import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.calendar import BusinessCalendar, check_time
from smarketing.errors import ClosedCalendarError, DataError
from smarketing.frames import as_lazy, check_aware
from smarketing.frames._calendar import BusinessClock, check_years, from_epoch_us

__all__ = [
    "KINDS",
    "FunnelTable",
    "Prepared",
    "conformance_tables",
    "business_positions",
    "dfg_tables",
    "first_entries",
    "funnel_table",
    "prepare",
]

_KIND = "stage_event"
_ORDER = ["lead_id", "time", "k", "fk"]

#: Conformance verdicts of one move, by code; code 0 is a legal move.
KINDS: tuple[str, ...] = (
    "ok",
    "skip",
    "regression",
    "unknown_stage",
    "not_in_map",
    "after_terminal",
    "recycle_limit",
)


@attrs.frozen
class Prepared:
    """Validated, ordered, de-duplicated stage events and what preparing them counted.

    ``frame`` has one row per kept event, each lead's one block in order (the blocks in lead id order or
    not), with the columns ``lead_id``, ``to``, ``time``,
    ``k`` (stage code: its index in ``stages``; ``len(stages)`` for an unknown stage), ``fk`` (code of the
    stage left: ``-1`` when none is given) and ``first``/``last`` (first/last event of its lead). The time
    column is in UTC, in the input's time unit.
    """

    frame: nw.DataFrame[Any]
    stages: tuple[str, ...]
    rows: int
    after_as_of: int
    unknown: int
    unknown_stages: tuple[str, ...]
    duplicates: int
    from_mismatch: int
    leads: int
    examples: Mapping[str, str] = attrs.field(factory=dict)


def _first_id(frame: nw.DataFrame[Any], mask: npt.NDArray[np.bool_]) -> str:
    """The smallest lead id among the rows ``mask`` selects (an example in lead id order)."""
    ids = frame.get_column("lead_id").to_native().filter(pl.Series(mask))
    return str(ids.min())


def _describe(row: Mapping[str, Any]) -> str:
    parts = [f"{name}={row.get(name)!r}" for name in ("lead_id", "from", "to") if row.get(name) is not None]
    if row.get("time") is not None:
        parts.append(f"time={row['time'].isoformat()}")
    return ", ".join(parts) or "an empty row"


def _read_events(events: Any) -> nw.LazyFrame[Any]:
    lf = as_lazy(events, "stage_events", required=("lead_id", "to", "time"))
    schema = lf.collect_schema()
    if not isinstance(schema["time"], nw.Datetime):
        raise DataError(f"must be a datetime column, not {schema['time']}", field="time", kind="stage_events")
    check_aware(lf, ["time"], kind="stage_events")
    source = nw.col("from") if "from" in schema.names() else nw.lit(None, nw.String())
    return lf.select(
        nw.col("lead_id").cast(nw.String()),
        source.cast(nw.String()).alias("from"),
        nw.col("to").cast(nw.String()),
        nw.col("time").dt.convert_time_zone("UTC"),
    )


def _lookup(expr: nw.Expr, mapping: Mapping[Any, int], default: int | None) -> nw.Expr:
    """Map values to integer codes.

    A chain of comparisons for a few values (cheaper than the join behind ``replace_strict``),
    ``replace_strict`` for many.
    """
    if len(mapping) > 16:
        return expr.replace_strict(dict(mapping), default=default, return_dtype=nw.Int32())
    out: nw.Expr = nw.lit(default, nw.Int32())
    for value, code in reversed(list(mapping.items())):
        out = nw.when(expr == value).then(nw.lit(code, nw.Int32())).otherwise(out)
    return out


def _bounds(frame: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """On a frame in lead order: flag each lead's first and last event (its block of rows)."""
    first = (nw.col("lead_id") != nw.col("lead_id").shift(1)).fill_null(value=True)
    return frame.with_columns(first.alias("first")).with_columns(
        nw.col("first").shift(-1).fill_null(value=True).alias("last")
    )


def _order_check(frame: nw.DataFrame[Any]) -> tuple[bool, npt.NDArray[np.bool_]]:
    """Whether each lead's rows (blocks of ``first``) are in order, and which rows repeat the one before.

    Within each block of rows of one lead id, time, stage rank and rank of the stage left must never
    decrease (one linear pass on the integer columns). Once the frame is in lead order, a row equal to the
    one before it in every key is a duplicate.
    """
    t = frame.get_column("time").to_numpy().view(np.int64)
    k, fk = frame.get_column("k").to_numpy(), frame.get_column("fk").to_numpy()
    same_lead = ~frame.get_column("first").to_numpy()[1:]
    dt, dk, dfk = t[1:] - t[:-1], k[1:] - k[:-1], fk[1:] - fk[:-1]
    back = same_lead & ((dt < 0) | ((dt == 0) & ((dk < 0) | ((dk == 0) & (dfk < 0)))))
    same = np.zeros(len(t), dtype=bool)
    same[1:] = same_lead & (dt == 0) & (dk == 0) & (dfk == 0)
    return not back.any(), same


#: Block-start lead ids looked at first by :func:`_grouped`: a shuffled log repeats one of them.
_SAMPLE = 1 << 16


def _grouped(frame: nw.DataFrame[Any]) -> bool:
    """Whether each lead's rows are one block (with ``first``): no lead id starts two blocks.

    Sorted ids are grouped (one linear pass). Otherwise the hashes of the block-start ids must be distinct:
    distinct hashes are distinct ids; a repeated hash (two blocks of one lead, or a collision) answers
    ``False``, which only costs a sort. The first few block starts are looked at alone first, as in a
    shuffled log (about one block per row) they already repeat a lead.
    """
    ids = frame.get_column("lead_id")
    if ids.is_sorted():
        return True
    starts = ids.to_native().filter(frame.get_column("first").to_native())
    hashes = starts.hash()
    if len(hashes) > _SAMPLE and hashes.head(_SAMPLE).is_duplicated().any():
        return False
    return not hashes.is_duplicated().any()


#: The most bits of a lead id's hash :func:`_lead_order` uses (fewer in tests, to make collisions).
_HASH_BITS = 64


def _unknown_ties(
    frame: nw.DataFrame[Any], same: npt.NDArray[np.bool_], unknown: int
) -> tuple[nw.DataFrame[Any], npt.NDArray[np.bool_]]:
    """Rows tied in every code only by sharing the ``unknown`` code: put in text order, duplicates kept exact.

    Stages not in the map share one code, so the codes alone neither order two events of a lead at one
    instant into (or from) two different unknown stages nor tell them from duplicates. The rows of such
    ties (rarely any) are put in order of the stage entered, then the stage left, and ``same`` then marks
    only rows equal to the one before in those texts too; every other row keeps its place.
    """
    if not same.any():
        return frame, same
    k, fk = frame.get_column("k").to_numpy(), frame.get_column("fk").to_numpy()
    tied = same.copy()
    tied[:-1] |= same[1:]  # every row of a run of rows equal in every code
    positions = np.flatnonzero(tied & ((k == unknown) | (fk == unknown)))
    if not positions.size:
        return frame, same
    run = np.cumsum(~same)[positions]  # a run's rows share its number
    texts = pl.DataFrame(
        {
            "run": run,
            "to": frame.get_column("to").to_native().gather(positions),
            "from": frame.get_column("from_unknown").to_native().gather(positions),
        }
    )
    by = texts.select(pl.arg_sort_by("run", "to", "from", maintain_order=True)).to_series().to_numpy()
    order = np.arange(len(frame))
    order[positions] = positions[by]
    texts = texts[by]
    repeated = (
        (texts.get_column("run") == texts.get_column("run").shift(1))
        & texts.get_column("to").eq_missing(texts.get_column("to").shift(1))
        & texts.get_column("from").eq_missing(texts.get_column("from").shift(1))
    ).fill_null(value=False)
    same = same.copy()
    same[positions] = repeated.to_numpy()
    # A lead's first or last row may have moved inside its run: the flags are set again.
    return _bounds(frame[order].drop("first", "last")), same


def _lead_order(frame: nw.DataFrame[Any], codes: int) -> nw.DataFrame[Any] | None:
    """``frame`` with each lead's rows in one block, in order within it (new ``first``/``last`` flags).

    One sort of a 128-bit integer per row, packing from the top: bits of the hash of the lead id, the time
    since the earliest event, the stage code (``< codes``), the code of the stage left plus one
    (``<= codes``) and the row number, which comes back out of the low bits. Sorting those values costs a
    fraction of a sort by the text lead id (the order of the blocks, that of the hashes, is not the
    order of the ids; no result depends on it). Two lead ids with equal hash bits would share a block:
    that is checked (a lead id change where the hash does not change) and the hash is then taken with
    another seed. ``None`` when the times span too many bits to leave enough for the hash, or after
    collisions with three seeds (vanishingly rare): the caller sorts by the text lead id instead.
    """
    n = len(frame)
    rest = frame.drop("first", "last")
    native = frame.select("lead_id", "time", "k", "fk").to_native()
    t = native.get_column("time").to_physical()
    t0, t1 = t.min(), t.max()
    if n < 2 or t0 is None or t1 is None:
        return frame
    row_bits = (n - 1).bit_length()
    k_bits, fk_bits = (codes - 1).bit_length(), codes.bit_length()
    span = (t.to_numpy() - t0).astype(np.uint64)
    # Times in a finer unit than they are precise to (nanoseconds holding whole microseconds or seconds,
    # as exports often do) are packed in the coarser one: the same order, fewer bits taken from the hash.
    while span.size and int(span.max()) >= 1000 and not (span % np.uint64(1000)).any():
        span //= np.uint64(1000)
    low = int(span.max()).bit_length() + k_bits + fk_bits + row_bits
    hash_bits = min(_HASH_BITS, 127 - low)
    shift = k_bits + fk_bits + row_bits
    if hash_bits < min(2 * row_bits, _HASH_BITS) or shift >= 64:  # a collision would be likely
        return None
    # The 128-bit keys are built as two 64-bit halves in numpy (cheaper than 128-bit arithmetic in
    # polars): the time field, shifted by ``shift``, straddles the halves when ``low`` passes 64 bits.
    u64 = np.uint64
    k, fk = native.get_column("k").to_numpy().astype(u64), native.get_column("fk").to_numpy()
    lo = (span << u64(shift)) | (k << u64(fk_bits + row_bits)) | ((fk + 1).astype(u64) << u64(row_bits))
    lo |= np.arange(n, dtype=u64)
    hi = span >> u64(64 - shift)
    del span, k, fk
    ids = native.get_column("lead_id")
    for seed in range(3):
        lead = ids.hash(seed).to_numpy() >> u64(64 - hash_bits)
        top, bottom = (
            (hi | (lead << u64(low - 64)), lo)
            if low >= 64
            else (hi | (lead >> u64(64 - low)), lo | (lead << u64(low)))
        )
        del lead
        packed = (
            pl.DataFrame({"hi": top, "lo": bottom})
            .select(
                (pl.col("hi").cast(pl.Int128) * pl.lit(1 << 64, pl.Int128) + pl.col("lo").cast(pl.Int128))
                .sort()
                .alias("key")
            )
            .select(
                (pl.col("key") % pl.lit(1 << row_bits, pl.Int128)).cast(pl.Int64).alias("row"),
                (pl.col("key") // pl.lit(1 << low, pl.Int128)).cast(pl.UInt64).alias("block"),
            )
        )
        del top, bottom
        order: npt.NDArray[np.int64] = packed.get_column("row").to_numpy()
        block = packed.get_column("block")
        new_block = block.ne(block.shift(1)).fill_null(value=True)
        ordered = _bounds(rest[order])
        if not (ordered.get_column("first").to_native() & ~new_block).any():
            return ordered
    return None


def prepare(
    events: Any,
    stages: Sequence[str] | None,
    *,
    as_of: datetime | None = None,
    keep_unknown: bool = False,
) -> Prepared:
    """Validate and order stage events; see the module docstring for the order.

    The events are read once, with the stage names coded to their rank on the way; input whose leads are
    each one block of rows in order (checked in linear passes) is not sorted again. Everything that
    depends on the order then runs on the ordered eager frame.

    Args:
        events: Anything :func:`~smarketing.frames.as_lazy` accepts as ``stage_events``.
        stages: Stage ids in rank order; ``None`` takes the stages the events enter, sorted by id.
        as_of: Keep only events at or before this aware time (the later ones are counted).
        keep_unknown: Keep events into stages not in ``stages`` (code ``len(stages)``); otherwise they are
            set aside and counted.

    Raises:
        DataError: An event has no lead id, stage entered or time; times are naive; a column is missing.
    """
    lf = _read_events(events)
    if as_of is not None:
        # Any aware time (a ZoneInfo zone, a fixed offset) compares with the UTC column once in UTC.
        as_of = check_time(as_of, "as_of")
    if stages is None:
        found = lf.select("to").unique().collect(backend="polars").get_column("to").to_list()
        stages = sorted(s for s in found if s is not None)
    names = tuple(stages)
    code = {s: i for i, s in enumerate(names)}
    unknown_code = len(names)
    # The stage left is only ever needed as a code: reading it coded saves holding a text column.
    coded = lf.select(
        "lead_id",
        "to",
        "time",
        _lookup(nw.col("to"), code, unknown_code).alias("k"),
        nw.when(nw.col("from").is_null())
        .then(nw.lit(-1, nw.Int32()))
        .otherwise(_lookup(nw.col("from"), code, unknown_code))
        .alias("fk"),
        # The text of a stage left that has no code of its own (unknown stages share one code), so two
        # events from different unknown stages are never taken for duplicates; null everywhere else.
        nw.when(~nw.col("from").is_in(names)).then(nw.col("from")).alias("from_unknown"),
    ).collect(backend="polars")
    rows = len(coded)
    stats = coded.select(
        *(nw.col(c).is_null().sum().alias(c) for c in ("lead_id", "to", "time")),
        *([(nw.col("time") > nw.lit(as_of)).sum().alias("later")] if as_of is not None else []),
    ).rows(named=True)[0]
    for column in ("lead_id", "to", "time"):
        missing = int(stats[column])
        if missing:
            row = lf.filter(nw.col(column).is_null()).head(1).collect(backend="polars").rows(named=True)[0]
            raise DataError(
                f"{missing} event(s) without {column}; the first one: {_describe(row)}",
                record=row.get("lead_id"),
                field=column,
                kind=_KIND,
            )
    check_years(coded, ["time"], kind=_KIND, ident="lead_id")
    examples: dict[str, str] = {}
    after_as_of = int(stats.get("later", 0))
    if after_as_of:
        late = coded.filter(nw.col("time") > nw.lit(as_of)).get_column("lead_id")
        examples["after_as_of"] = str(late.min())
        coded = coded.filter(nw.col("time") <= nw.lit(as_of))
    frame = _bounds(coded)
    del coded
    # Input with each lead's rows together and in order (as CRM exports often are) is not sorted again.
    in_order, same = _order_check(frame) if _grouped(frame) else (False, np.zeros(0, dtype=bool))
    if not in_order:
        ordered = _lead_order(frame, unknown_code + 1)
        # Without it (collisions, or a very wide time range): the sort by the text lead id.
        frame = _bounds(frame.drop("first", "last").sort(*_ORDER)) if ordered is None else ordered
        _, same = _order_check(frame)
    frame, same = _unknown_ties(frame, same, unknown_code)
    frame = frame.drop("from_unknown")
    duplicates = int(np.count_nonzero(same))
    if duplicates:
        examples["duplicates"] = _first_id(frame, same)
        # The same lead entering the same stage from the same stage at the same instant: keep one.
        frame = frame.filter(~nw.new_series("same", same, nw.Boolean(), backend="polars"))
        frame = frame.with_columns(nw.col("first").shift(-1).fill_null(value=True).alias("last"))
    # The CRM's own "from" disagreeing with the time order is the trace of out-of-order timestamps.
    k, fk = frame.get_column("k").to_numpy(), frame.get_column("fk").to_numpy()
    follows = ~frame.get_column("first").to_numpy()[1:]
    mismatch = np.zeros(len(k), dtype=bool)
    mismatch[1:] = follows & (fk[1:] >= 0) & (fk[1:] != k[:-1])
    from_mismatch = int(np.count_nonzero(mismatch))
    if from_mismatch:
        examples["from_mismatch"] = _first_id(frame, mismatch)
    unknown = nw.col("k") == unknown_code
    unknown_rows = int(np.count_nonzero(k == unknown_code))
    unknown_names: tuple[str, ...] = ()
    if unknown_rows:
        examples["unknown_stage_events"] = _first_id(frame, k == unknown_code)
        unknown_names = tuple(sorted(set(frame.filter(unknown).get_column("to").to_list())))
        if not keep_unknown:
            frame = _bounds(frame.filter(~unknown).drop("first", "last"))
    leads = int(frame.select(nw.col("first").sum()).item() or 0)
    return Prepared(
        frame=frame,
        stages=names,
        rows=rows,
        after_as_of=after_as_of,
        unknown=unknown_rows,
        unknown_stages=unknown_names,
        duplicates=duplicates,
        from_mismatch=from_mismatch,
        leads=leads,
        examples=examples,
    )


# --------------------------------------------------------------------------------------------------
# Funnel.


def _flag(expr: nw.Expr) -> nw.Expr:
    return expr.fill_null(value=False).cast(nw.Int64())


I64 = npt.NDArray[np.int64]


@attrs.frozen
class FunnelTable:
    """What :func:`funnel_table` found: one dict per (group, step) cell with leads, and unmatched leads.

    ``stays`` has one row per counted stay that ended (``group``, ``j``, ``d``: its time in µs, ``b``: its
    business time in µs or null): the values the quantiles of time in stage are taken over, by a second
    pass (they are not additive over partitions).
    """

    cells: list[dict[str, Any]]
    unmatched: int
    stays: pl.DataFrame
    #: Entries into a step that no step counts (ordered mode): kind -> (events, smallest lead id).
    anomalies: dict[str, tuple[int, str]] = attrs.field(factory=dict)


def _group_codes(
    frame: nw.DataFrame[Any],
    starts: I64,
    times: I64,
    groups: nw.LazyFrame[Any] | Literal["cohort_month"] | None,
) -> tuple[I64, list[str | None], int]:
    """Each lead's group code (an index into the returned names), the names, and the unmatched leads.

    Names are sorted with ``None`` last; a lead missing from ``groups`` falls in ``None`` and is unmatched.
    """
    leads = len(starts)
    if groups is None:
        return np.zeros(leads, dtype=np.int64), [None], 0
    if isinstance(groups, str):
        # The UTC month of each lead's first event (its earliest: the frame is in time order per lead).
        months = times[starts].astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
        found, codes = np.unique(months, return_inverse=True)
        names: list[str | None] = [str(m) for m in found.astype("datetime64[M]")]
        return codes.astype(np.int64), names, 0
    ids = frame.filter(nw.col("first")).select("lead_id")
    keyed = (
        ids.with_row_index("lix")
        .lazy()
        .join(groups.with_columns(nw.lit(value=True).alias("_matched")), on="lead_id", how="left")
    )
    joined = keyed.select("lix", "group", "_matched").collect(backend="polars")
    names = sorted(g for g in joined.get_column("group").unique().to_list() if g is not None)
    code_of = {g: i for i, g in enumerate(names)}
    coded = joined.select(
        "lix",
        nw.col("group").replace_strict(code_of, default=len(names), return_dtype=nw.Int64()).alias("code")
        if names
        else nw.lit(0, nw.Int64()).alias("code"),
        nw.col("_matched").is_null().alias("unmatched"),
    )
    out = np.empty(leads, dtype=np.int64)
    out[coded.get_column("lix").to_numpy()] = coded.get_column("code").to_numpy()
    unmatched = int(coded.get_column("unmatched").sum())
    return out, [*names, None], unmatched


def _spread(values: I64, at: I64, size: int) -> I64:
    """An array of ``size`` with ``values`` at the positions ``at`` and -1 elsewhere."""
    out = np.full(size, -1, dtype=np.int64)
    out[at] = values
    return out


@attrs.frozen
class _Stays:
    """What classifies and times the stay a counted entry starts, read by :func:`_step_cells`.

    ``k``, ``native`` and ``positions`` are per row (stage code; time in the column's ``unit``; business
    position in µs, ``None`` without a calendar); ``ends`` per lead number (one past its last row);
    ``step_of`` and ``is_lost`` per stage code (its step, -1 for none; whether it is a lost terminal).
    """

    k: I64
    ends: I64
    step_of: I64
    is_lost: npt.NDArray[np.bool_]
    native: I64
    unit: Literal["ns", "us", "ms", "s"]
    positions: I64 | None


def funnel_table(
    prepared: Prepared,
    steps: Sequence[int],
    lost: Sequence[int],
    *,
    mode: Literal["ordered", "any"],
    groups: nw.LazyFrame[Any] | Literal["cohort_month"] | None,
    calendar: BusinessCalendar | None = None,
) -> FunnelTable:
    """Per group and funnel step: the counts of :class:`~smarketing.journey.FunnelRow`, durations in µs.

    ``groups`` is a frame of ``lead_id`` and ``group`` (one row per lead), ``"cohort_month"`` (the UTC month
    of the lead's first event) or ``None`` (one group, ``None``). With a ``calendar``, the cells also get
    the business time in stage (``b50``, ``b90``), from the vectorised business clock.

    Each lead's events are one block of rows in time order. For every step, the rows that enter it (in
    frame order) form one run per lead, whose ends are the lead's first and last entry. ``any`` counts the
    first entry; ``ordered`` counts the first entry after the counted entry into the step before: mostly
    the first entry at all, and a binary search in the step's rows for the few leads that entered the step
    earlier too (:func:`_counted_entries`). No sort, no per-lead hash table. The stay a counted entry starts
    ends with the next row of the block, which classifies it (:func:`_step_cells`).
    """
    frame = prepared.frame
    n = len(frame)
    n_steps = len(steps)
    k = frame.get_column("k").to_numpy().astype(np.int64)
    # Durations from the column's own unit, then to whole microseconds (as ``dt.total_microseconds``).
    dtype = frame.schema["time"]
    unit: Literal["ns", "us", "ms", "s"] = dtype.time_unit if isinstance(dtype, nw.Datetime) else "us"
    native: I64 = frame.get_column("time").to_numpy().view(np.int64)
    times: I64 = native if unit == "us" else frame.get_column("time").dt.timestamp("us").to_numpy()
    starts: I64 = np.flatnonzero(frame.get_column("first").to_numpy())
    ends: I64 = np.append(starts[1:], n)  # one past each lead's last row
    n_leads = len(starts)
    lead = np.repeat(np.arange(n_leads, dtype=np.int32), ends - starts)  # lead number per row
    group, names, unmatched = _group_codes(frame, starts, times, groups)
    step_of = np.full(len(prepared.stages) + 1, -1, dtype=np.int64)
    step_of[np.asarray(steps, dtype=np.int64)] = np.arange(n_steps)
    j = step_of.astype(np.int8 if n_steps < 127 else np.int32)[k]  # small codes: a cheaper compare per step
    is_lost = np.zeros(len(prepared.stages) + 1, dtype=bool)
    is_lost[np.asarray(lost, dtype=np.int64)] = True
    # Business position of every event (the open time from the clock's start), if a calendar is given.
    positions = business_positions(calendar, times) if calendar is not None and n else None
    counted, left_out = _counted_entries(j, lead, n_steps, n_leads, mode=mode)
    stays = _Stays(k, ends, step_of, is_lost, native, unit, positions)
    cells: list[dict[str, Any]] = []
    stays_parts: list[pl.DataFrame] = []
    for s, (in_step, row, entered, _) in enumerate(counted):
        if s + 1 == n_steps:
            advanced = np.zeros(len(in_step), dtype=bool)
        else:
            # Ordered: the lead advanced if it has a counted entry into the next step. Any: if its last
            # entry into the next step came after its counted entry here.
            nxt_leads, _, _, nxt_last = counted[s + 1]
            advanced = _spread(nxt_last, nxt_leads, n_leads)[in_step] > (row if mode == "any" else -1)
        step_cells, step_stays = _step_cells(
            s,
            stays,
            in_step=in_step,
            row=row,
            entered=entered,
            advanced=advanced,
            g=group[in_step],
            names=names,
        )
        cells.extend(step_cells)
        stays_parts.append(step_stays)
    anomalies = _left_out_anomalies(frame, starts, left_out) if mode == "ordered" else {}
    ended = pl.concat(stays_parts) if stays_parts else _stays_frame([], [], np.zeros(0, np.int64), None)
    return FunnelTable(cells=cells, unmatched=unmatched, stays=ended, anomalies=anomalies)


def _stays_frame(groups: pl.Series | Sequence[str | None], js: Any, d: I64, b: I64 | None) -> pl.DataFrame:
    """The ended stays of one step: ``group``, ``j``, ``d`` and ``b`` (µs; ``b`` null without a calendar)."""
    n = len(d)
    return pl.DataFrame(
        {
            "group": pl.Series(groups, dtype=pl.String()),
            "j": pl.Series(js, dtype=pl.Int32()),
            "d": pl.Series(d, dtype=pl.Int64()),
            "b": pl.Series(b, dtype=pl.Int64()) if b is not None else pl.Series([None] * n, dtype=pl.Int64()),
        }
    )


def first_entries(prepared: Prepared, step_of: Sequence[int]) -> tuple[I64, I64, list[tuple[I64, I64]]]:
    """Each lead's first entry into each step, where a step may be several stages (the funnel's ``any``).

    ``step_of`` gives each stage code's step (-1: none). Returns the first row of each lead (its block
    start), the time of every row in µs since the epoch, and per step the leads entering it (lead numbers)
    with the row of each one's first entry, as :func:`funnel_table` counts them in ``any`` mode.
    """
    frame = prepared.frame
    n = len(frame)
    n_steps = max(step_of, default=-1) + 1
    codes = np.full(len(prepared.stages) + 1, -1, dtype=np.int64)
    codes[: len(step_of)] = step_of
    k = frame.get_column("k").to_numpy().astype(np.int64)
    starts: I64 = np.flatnonzero(frame.get_column("first").to_numpy())
    ends: I64 = np.append(starts[1:], n)
    lead = np.repeat(np.arange(len(starts), dtype=np.int32), ends - starts)
    dtype = frame.schema["time"]
    unit = dtype.time_unit if isinstance(dtype, nw.Datetime) else "us"
    times: I64 = (
        frame.get_column("time").to_numpy().view(np.int64)
        if unit == "us"
        else frame.get_column("time").dt.timestamp("us").to_numpy()
    )
    counted, _ = _counted_entries(codes[k], lead, n_steps, len(starts), mode="any")
    return starts, times, [(leads, row) for leads, row, _, _ in counted]


def business_positions(calendar: BusinessCalendar, times: I64) -> I64:
    """The business position of every event (µs of open time from the clock's start) on ``calendar``."""
    earliest, latest = from_epoch_us(int(times.min())), from_epoch_us(int(times.max()))
    try:
        positions: I64 = BusinessClock.covering(calendar, earliest, latest).positions(times)
    except ClosedCalendarError:  # closed throughout the events' dates: no business time passes
        positions = np.zeros(len(times), dtype=np.int64)
    return positions


def _counted_entries(
    j: npt.NDArray[Any],
    lead: npt.NDArray[np.int32],
    n_steps: int,
    n_leads: int,
    *,
    mode: Literal["ordered", "any"],
) -> tuple[list[tuple[I64, I64, I64, I64]], dict[str, list[tuple[I64, I64]]]]:
    """Per step, the leads counted at it and their counted entry; and the entries no step counts.

    ``j`` is each row's step (-1 for none), ``lead`` its lead number. Per step the result holds the leads
    counted there, the row of each one's counted entry, its number of entries into the step and its last
    entry's row. The entries left out (``ordered`` only) are per kind (``out_of_order``,
    ``skipped_step``) a list of (lead numbers, entries of each) parts.
    """
    n = len(j)

    def entries(s: int) -> tuple[I64, I64, I64, I64, I64]:
        """The rows entering step ``s`` and, per lead with such rows: the lead, first and last row, count.

        The rows are in frame order, so each lead's entries are one run of them.
        """
        rows: I64 = np.flatnonzero(j == s)
        if not rows.size:
            return rows, rows, rows, rows, rows
        of = lead[rows]
        run = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
        until = np.append(run[1:], rows.size)
        return rows, of[run].astype(np.int64), rows[run], rows[until - 1], until - run

    counted: list[tuple[I64, I64, I64, I64]] = []  # per step: leads, counted row, entries, last entry row
    # Ordered: per lead, the row of its counted entry into the step before (-1 before the first step; ``n``,
    # past every row, once the lead has left the funnel).
    after = np.full(n_leads, -1, dtype=np.int64)
    # Ordered: per lead, its last row entering any earlier step (-1: none yet); and the entries no step
    # counts, by why: out of order (an earlier step is entered after them) or a skipped step.
    latest_earlier = np.full(n_leads, -1, dtype=np.int64)
    left_out: dict[str, list[tuple[I64, I64]]] = {"out_of_order": [], "skipped_step": []}
    for s in range(n_steps):
        rows, leads, first_row, last_row, count = entries(s)
        if mode == "any":
            counted.append((leads, first_row, count, last_row))
            continue
        # The counted entry is the lead's first entry after its counted entry into the step before. Mostly
        # that is its first entry at all; a lead that entered this step before the step before (a recycle)
        # needs the search for its next entry after it.
        before = after[leads]
        search = (first_row <= before) & (last_row > before)
        first_row[search] = rows[np.searchsorted(rows, before[search], side="right")]
        found = (first_row > before) | search
        if not found.all():
            # Every entry of a lead not counted here is counted as an anomaly (never left out silently):
            # out of order when an earlier step was entered after its first entry here (a "won" dated
            # before the MQL), else a skipped step (it never entered the step before, in order).
            missed, entered_first = leads[~found], first_row[~found]
            late = latest_earlier[missed] > entered_first
            left_out["out_of_order"].append((missed[late], count[~found][late]))
            left_out["skipped_step"].append((missed[~late], count[~found][~late]))
        # Each lead has one run of entries per step, so ``leads`` has no repeats: a plain gather/scatter.
        latest_earlier[leads] = np.maximum(latest_earlier[leads], last_row)
        leads, first_row = leads[found], first_row[found]
        after = np.full(n_leads, n, dtype=np.int64)
        after[leads] = first_row
        counted.append((leads, first_row, count[found], last_row[found]))
    return counted, left_out


def _step_cells(
    s: int,
    stays: _Stays,
    *,
    in_step: I64,
    row: I64,
    entered: I64,
    advanced: npt.NDArray[np.bool_],
    g: I64,
    names: list[str | None],
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """The cells of step ``s``, one per group with leads (the counts of its counted leads), and their stays.

    ``in_step`` are the leads counted at the step, ``row`` the row of each one's counted entry, ``entered``
    its number of entries, ``advanced`` whether it advanced, ``g`` its group code (an index into
    ``names``). The stay the counted entry starts ends with the lead's next row: into a lost terminal
    (lost), back to this or an earlier step (recycled), elsewhere (moved on), or none (open). The stays
    that ended are returned with their times (µs), which the time-in-stage quantiles are taken over.
    """
    n_groups = len(names)
    ended = row + 1 < stays.ends[in_step]
    nxt = np.where(ended, row + 1, row)
    next_k = stays.k[nxt]
    lost_ = ended & stays.is_lost[next_k]
    next_j = stays.step_of[next_k]
    recycled = ended & ~lost_ & (next_j >= 0) & (next_j <= s)
    moved_on = ended & ~lost_ & ~recycled

    def per_group(flags: npt.NDArray[np.bool_]) -> I64:
        if n_groups == 1:
            return np.array([np.count_nonzero(flags)], dtype=np.int64)
        out: I64 = np.bincount(g[flags], minlength=n_groups)
        return out

    reached = np.bincount(g, minlength=n_groups)
    sums = {
        "entries": np.bincount(g, weights=entered, minlength=n_groups).astype(np.int64),
        "reentered": per_group(entered > 1),
        "advanced": per_group(advanced),
        "moved_on": per_group(moved_on),
        "recycled": per_group(recycled),
        "lost": per_group(lost_),
        "open": per_group(~ended),
    }
    left = row[ended]
    native, unit, positions = stays.native, stays.unit, stays.positions
    durations = native[left + 1] - native[left]
    if unit == "ns":
        durations = durations // 1000
    elif unit != "us":
        durations = durations * {"ms": 1000, "s": 1_000_000}[unit]
    business = positions[left + 1] - positions[left] if positions is not None else None
    gone = g[ended]
    labels = pl.Series(names, dtype=pl.String()).gather(gone)
    ended_stays = _stays_frame(labels, np.full(len(gone), s, dtype=np.int32), durations, business)
    cells = [
        {
            "group": names[c],
            "j": s,
            "reached": int(reached[c]),
            **{name: int(v[c]) for name, v in sums.items()},
        }
        for c in np.flatnonzero(reached)
    ]
    return cells, ended_stays


def _left_out_anomalies(
    frame: nw.DataFrame[Any], starts: I64, left_out: Mapping[str, list[tuple[I64, I64]]]
) -> dict[str, tuple[int, str]]:
    """Per kind of entry no step counts: (entries, smallest lead id); kinds without any are left out."""
    anomalies: dict[str, tuple[int, str]] = {}
    lead_ids = frame.get_column("lead_id").to_native().gather(starts)
    for name, parts in left_out.items():
        missed = np.concatenate([m for m, _ in parts] or [np.zeros(0, dtype=np.int64)])
        if missed.size:
            events = int(sum(int(c.sum()) for _, c in parts))
            anomalies[name] = (events, str(lead_ids.gather(missed).min()))
    return anomalies


# --------------------------------------------------------------------------------------------------
# Conformance.

START = -1


def _distinct_leads(lead: I64, key: I64, n_keys: int) -> I64:
    """Per key code (``0 <= key < n_keys``): how many distinct leads have a row with that key."""
    pairs = np.unique(lead * n_keys + key)
    out: I64 = np.bincount(pairs % n_keys, minlength=n_keys)
    return out


def _lead_of(starts: I64, at: I64) -> I64:
    """The lead number of each of the rows ``at`` (``starts``: the first row of each lead, in order)."""
    out: I64 = np.searchsorted(starts, at, side="right") - 1
    return out


def _first_by_id(rows: I64, lead_ids: pl.Series, starts: I64, count: int) -> I64:
    """The first ``count`` of ``rows`` (in frame order) in lead id order, then frame order within a lead.

    Each row's lead is one of the ``count`` smallest ids among the rows' leads, found without a sort.
    """
    if not rows.size or not count:
        return rows[:0]
    ids = lead_ids.gather(_lead_of(starts, rows))
    last = ids.unique().bottom_k(count).max()
    rows = rows[(ids <= last).to_numpy()]
    within = pl.DataFrame({"id": ids.filter(ids <= last), "row": rows}).sort("id", "row", maintain_order=True)
    out: I64 = within.get_column("row").to_numpy()[:count]
    return out


def conformance_tables(
    prepared: Prepared,
    verdicts: Mapping[tuple[int, int], int],
    limits: Mapping[tuple[int, int], int],
    owners: Sequence[int],
    *,
    examples: int,
) -> dict[str, Any]:
    """Judge every move; return per-lead, per-kind, per-team and example tables (polars frames).

    ``anomalies`` maps ``after_unknown_stage`` to (moves, smallest lead id) when moves out of an unknown
    stage were left unjudged.

    ``verdicts`` maps (stage code before or :data:`START`, stage code entered) to an index into
    :data:`KINDS`; a pair that is missing is legal. ``limits`` maps recycle pairs to how often a lead may
    take them. ``owners`` gives each stage code's team number.

    Each move's verdict is one gather from a dense table of every (stage before, stage entered) pair
    (:func:`_judge_moves`); the per-lead counts are sums over each lead's block of rows
    (``numpy.add.reduceat`` at the lead starts).
    """
    n = len(prepared.stages)
    frame = prepared.frame
    k = frame.get_column("k").to_numpy().astype(np.int64)
    rows = len(k)
    starts: I64 = np.flatnonzero(frame.get_column("first").to_numpy())
    n_leads = len(starts)
    before, verdict, anomalies = _judge_moves(frame, k, starts, n=n, verdicts=verdicts, limits=limits)
    wrong = np.flatnonzero(verdict)
    wrong_v, wrong_lead = verdict[wrong], _lead_of(starts, wrong)
    owner = np.full(n + 1, -1, dtype=np.int64)  # team number per stage code; -1 for the unknown stage
    owner[:n] = owners
    # The team blamed for a wrong move: the owner of the stage left, or for a first move of the one entered.
    came_from = before[wrong]
    wrong_team = np.where(came_from >= 0, owner[np.maximum(came_from, 0)], owner[k[wrong]])
    violations = np.bincount(wrong_lead, minlength=n_leads)
    events = np.diff(np.append(starts, rows))
    lead_ids = frame.get_column("lead_id").to_native().gather(starts)
    leads = pl.DataFrame(
        {
            "lead_id": lead_ids,
            "events": pl.Series(events, dtype=pl.UInt32()),
            "violations": pl.Series(violations, dtype=pl.Int64()),
        }
    ).with_columns((pl.col("violations") == 0).alias("fit"))
    # The blocks may be in another order than the lead ids' (input grouped by lead, or hash-ordered by
    # ``prepare``): the tables that list leads are put in lead id order, on the small per-lead results.
    in_id_order = lead_ids.is_sorted()
    if not in_id_order:
        leads = leads.sort("lead_id")
    touched, broken = _team_tables(
        k, starts, owner, owners=owners, wrong=wrong, wrong_team=wrong_team, wrong_lead=wrong_lead
    )
    n_kinds = len(KINDS)
    per_kind = np.bincount(wrong_v, minlength=n_kinds)
    kind_leads = _distinct_leads(wrong_lead, wrong_v, n_kinds)
    present = np.flatnonzero(per_kind)
    kinds = pl.DataFrame(
        {"v": present, "count": per_kind[present], "leads": kind_leads[present]},
        schema={"v": pl.Int32, "count": pl.UInt32, "leads": pl.UInt32},
    )
    # The first moves of each kind, in lead order (lead id, then the order within the lead).
    chosen = np.concatenate(
        [
            wrong[wrong_v == v][:examples]
            if in_id_order
            else _first_by_id(wrong[wrong_v == v], lead_ids, starts, examples)
            for v in present
        ]
        or [np.zeros(0, dtype=np.int64)]
    )
    sample = (
        frame.select("lead_id", "to", "time")
        .to_native()[pl.Series(chosen, dtype=pl.Int64())]
        .with_columns(
            pl.Series("v", verdict[chosen], dtype=pl.Int32()),
            pl.Series("a", before[chosen], dtype=pl.Int64()),
        )
    )
    return {
        "leads": leads,
        "kinds": kinds,
        "touched": touched,
        "broken": broken,
        "examples": sample.select("v", "lead_id", "a", "to", "time"),
        "anomalies": anomalies,
    }


def _judge_moves(
    frame: nw.DataFrame[Any],
    k: I64,
    starts: I64,
    *,
    n: int,
    verdicts: Mapping[tuple[int, int], int],
    limits: Mapping[tuple[int, int], int],
) -> tuple[I64, I64, dict[str, tuple[int, str]]]:
    """Each move's stage before and verdict (an index into :data:`KINDS`), and the moves left unjudged.

    The stage before a move is the previous event's, or for a lead's first event its own known ``from``
    (else :data:`START`). ``n`` is the number of known stages (the unknown stage's code). Takes of a
    limited recycle beyond its limit, counted along each lead's run of them, become ``recycle_limit``.
    Moves out of an unknown stage are not judged (the move into it was the violation): they are counted
    as ``after_unknown_stage`` (moves, smallest lead id).
    """
    width = n + 2
    rows = len(k)
    before = np.empty(rows, dtype=np.int64)
    before[1:] = k[:-1]
    given = frame.get_column("fk").to_numpy()[starts]
    before[starts] = np.where((given >= 0) & (given < n), given, START)
    pair = (before + 1) * width + k
    # Every pair code is below (n + 2) * width (``before`` and ``k`` are at most ``n``, the unknown stage).
    table = np.zeros((n + 2) * width, dtype=np.int64)
    for (a, b), v in verdicts.items():
        table[(a + 1) * width + b] = v
    verdict = table[pair]
    unjudged = (before == n) & (k < n)
    anomalies: dict[str, tuple[int, str]] = {}
    if unjudged.any():
        anomalies["after_unknown_stage"] = (
            int(np.count_nonzero(unjudged)),
            str(frame.get_column("lead_id").to_native().filter(pl.Series(unjudged)).min()),
        )
    for (a, b), most in limits.items():
        # Each lead's takes of a limited recycle, numbered along the lead's run of them.
        takes = np.flatnonzero(pair == (a + 1) * width + b)
        if takes.size:
            of = _lead_of(starts, takes)
            position = np.arange(takes.size)
            run_start = np.maximum.accumulate(np.where(np.r_[True, of[1:] != of[:-1]], position, 0))
            over = takes[(verdict[takes] == 0) & (position - run_start + 1 > most)]
            verdict[over] = KINDS.index("recycle_limit")
    return before, verdict, anomalies


def _team_tables(
    k: I64,
    starts: I64,
    owner: I64,
    *,
    owners: Sequence[int],
    wrong: I64,
    wrong_team: I64,
    wrong_lead: I64,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per team: the leads it touched (``team``, ``leads``) and the violations blamed on it.

    A team answers for the leads that entered one of its stages (``owner``: team per stage code) and for
    those it is blamed for (the ``wrong`` rows whose ``wrong_team`` it is). The second table has
    ``team`` (``None``: no team), ``unfit`` (leads) and ``violations`` (moves).
    """
    rows = len(k)
    teams = sorted(set(owners))
    team_in = owner.astype(np.int8)[k] if len(teams) < 127 else owner[k]
    touched_counts = []
    for t in teams:
        touch = team_in == t
        touch[wrong[wrong_team == t]] = True
        touched_counts.append(int(np.count_nonzero(np.logical_or.reduceat(touch, starts))) if rows else 0)
    touched = pl.DataFrame(
        {
            "team": [t for t, c in zip(teams, touched_counts, strict=True) if c],
            "leads": [c for c in touched_counts if c],
        },
        schema={"team": pl.Int32, "leads": pl.UInt32},
    )
    blamed_team = wrong_team + 1  # team 0: none
    n_teams = max(teams, default=-1) + 2
    per_team = np.bincount(blamed_team, minlength=n_teams)
    team_leads = _distinct_leads(wrong_lead, blamed_team, n_teams)
    blamed = np.flatnonzero(per_team)
    broken = pl.DataFrame(
        {
            "team": [None if t == 0 else int(t) - 1 for t in blamed],
            "unfit": team_leads[blamed],
            "violations": per_team[blamed],
        },
        schema={"team": pl.Int32, "unfit": pl.UInt32, "violations": pl.UInt32},
    )
    return touched, broken


# --------------------------------------------------------------------------------------------------
# Discovery.


def dfg_tables(prepared: Prepared) -> dict[str, pl.DataFrame]:
    """The directly-follows graph of prepared events, as partial tables of stage names.

    ``edges`` (``source``, ``target``, ``count``), ``gaps`` (``source``, ``target``, ``d``: the µs between
    the two events of every edge, which the edge medians are taken over) and ``nodes`` (``stage``,
    ``count``: entries, ``start`` and ``end``: leads whose first and last stage it is). Counts add up over
    partitions of complete leads.
    """
    names = pl.Series(prepared.stages, dtype=pl.String())
    e = prepared.frame.with_columns(
        nw.col("k").shift(-1).alias("next_k"), nw.col("time").shift(-1).alias("next_time")
    ).lazy()
    gaps = (
        e.filter(~nw.col("last"))
        .select(
            "k",
            nw.col("next_k").cast(nw.Int32()),
            (nw.col("next_time") - nw.col("time")).dt.total_microseconds().cast(nw.Int64()).alias("d"),
        )
        .collect(backend="polars")
        .to_native()
    )
    nodes = (
        e.group_by("k")
        .agg(
            nw.len().cast(nw.Int64()).alias("count"),
            _flag(nw.col("first")).sum().alias("start"),
            _flag(nw.col("last")).sum().alias("end"),
        )
        .collect(backend="polars")
        .to_native()
    )
    gaps = gaps.select(
        names.gather(gaps.get_column("k")).alias("source"),
        names.gather(gaps.get_column("next_k")).alias("target"),
        "d",
    )
    return {
        "edges": gaps.group_by("source", "target").agg(pl.len().cast(pl.Int64).alias("count")),
        "gaps": gaps,
        "nodes": nodes.select(names.gather(nodes.get_column("k")).alias("stage"), "count", "start", "end"),
    }
