"""Heuristic models: one weight per touch, from its position, its journey's milestones or its age."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from smarketing.attribution._kernel import NEVER, US, IntArray, frozen_array
from smarketing.attribution.journeys import Journeys
from smarketing.errors import DataError
from smarketing.typing import FloatArray

__all__: list[str] = []


def _position_table(lengths: IntArray, first: float, last: float) -> FloatArray:
    """Position-based weights of a journey of every length (rows) at every position (columns)."""
    for name, share in (("first", first), ("last", last)):
        if not 0 <= share <= 1:
            raise ValueError(f"position: {name} must be between 0 and 1, not {share}")
    if first + last > 1 + 1e-12:
        raise ValueError(f"position: first + last must be at most 1, not {first + last}")
    size = int(lengths.max())
    n, pos = np.indices((size + 1, size))
    # Through Decimal, so that 1 - 0.4 - 0.4 is 0.2 and not 0.19999999999999996.
    middle = float(1 - Decimal(repr(first)) - Decimal(repr(last)))
    ends = first + last
    w = np.where(n > 2, middle / np.maximum(n - 2, 1), 0.0)
    # Two touches share the first and last weights in their proportion (evenly if both are 0).
    two_first = first / ends if ends > 0 else 0.5
    w = np.where(pos == 0, np.where(n == 2, two_first, first), w)
    w = np.where((pos == n - 1) & (pos > 0), np.where(n == 2, 1 - two_first, last), w)
    w = np.where(n == 1, 1.0, w)
    return np.asarray(np.where(pos < n, w, 0.0), dtype=np.float64)


def _milestone_weights(
    j: Journeys, weights: Sequence[float], stages: Sequence[str | None], model: str
) -> FloatArray:
    """Milestone touches share ``weights``; the rest of the journey shares what is left."""
    if len(weights) != len(stages):
        raise ValueError(
            f"{model}: weights needs {len(stages)} numbers (one per milestone), got {len(weights)}"
        )
    if any(w < 0 for w in weights) or sum(weights) > 1 + 1e-12:
        raise ValueError(f"{model}: weights must be >= 0 and add up to at most 1, not {list(weights)}")
    lengths = j.lengths()
    starts = j.offsets[:-1]
    jot = j.journey_of_touch()
    w = np.zeros(j.n_touches)
    is_milestone = np.zeros(j.n_touches, dtype=bool)
    for share, stage in zip(weights, stages, strict=True):
        if stage is None:  # the first touch
            where = starts
            present = np.ones(j.n_journeys, dtype=bool)
        elif stage == "$last":
            where = j.offsets[1:] - 1
            present = np.ones(j.n_journeys, dtype=bool)
        else:
            if not j.stage_times:
                raise DataError(
                    f"{model} needs stage events to find the {stage!r} milestone; pass stage_events=",
                    kind="journeys",
                )
            if j.times is None:
                raise DataError(f"{model} needs touch times", kind="journeys")
            entered = j.stage_times.get(stage)
            if entered is None:
                entered = np.full(j.n_journeys, NEVER, dtype=np.int64)
            present = entered != NEVER
            # The milestone touch is the last one at or before the stage was entered (the first if none).
            before = np.add.reduceat((j.times <= entered[jot]).astype(np.int64), starts)
            where = starts + np.maximum(before - 1, 0)
        np.add.at(w, where[present], share)
        is_milestone[where[present]] = True
    rest = 1.0 - sum(weights)
    n_rest = lengths - np.add.reduceat(is_milestone.astype(np.int64), starts)
    w += np.where(is_milestone, 0.0, rest / np.maximum(n_rest, 1)[jot])
    return w


def _time_decay_weights(j: Journeys, half_life: Any) -> FloatArray:
    if isinstance(half_life, timedelta):
        seconds = half_life.total_seconds()
    elif isinstance(half_life, int | float) and not isinstance(half_life, bool):
        seconds = float(half_life) * 86_400
    else:
        raise TypeError(f"time_decay: half_life must be a timedelta or a number of days, not {half_life!r}")
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"time_decay: half_life must be positive, not {half_life}")
    if j.times is None or j.conversion_times is None:
        raise DataError("time_decay needs touch times; path input has none", kind="journeys")
    lengths = j.lengths()
    age = (np.repeat(j.conversion_times, lengths) - j.times).astype(np.float64) / (seconds * US)
    # Relative to the newest touch of the journey, so long journeys do not underflow to all zeros.
    newest = np.minimum.reduceat(age, j.offsets[:-1])
    age -= np.repeat(newest, lengths)
    return np.asarray(np.exp2(-age), dtype=np.float64)


def _custom_table(lengths: IntArray, weights: Any) -> FloatArray:
    """The custom weights of every path length present (rows) at every position (columns)."""
    table: dict[int, FloatArray] = {}
    for n in np.unique(lengths).tolist():
        if callable(weights):
            row = [weights(p, n) for p in range(n)]
        elif isinstance(weights, Mapping):
            if n not in weights:
                raise DataError(
                    f"custom: the weight table has no row for paths of {n} touch(es)", kind="journeys"
                )
            row = list(weights[n])
            if len(row) != n:
                raise ValueError(f"custom: weights[{n}] must have {n} numbers, not {len(row)}")
        else:
            raise TypeError("custom: weights must be a function (position, length) -> weight or a table")
        array = np.asarray(row, dtype=np.float64)
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"custom: weights for length {n} must be finite and >= 0, not {row}")
        table[n] = array
    size = int(lengths.max())
    grid = np.zeros((size + 1, size))
    for n, weights_of_n in table.items():
        grid[n, :n] = weights_of_n
    return grid


_HEURISTIC_PARAMS: dict[str, frozenset[str]] = {
    "first": frozenset(),
    "last": frozenset(),
    "linear": frozenset(),
    "position": frozenset({"first", "last"}),
    "j_shaped": frozenset({"first", "last"}),
    "inverse_j": frozenset({"first", "last"}),
    "w_shaped": frozenset({"weights", "lead_stage", "opportunity_stage"}),
    "full_path": frozenset({"weights", "lead_stage", "opportunity_stage"}),
    "time_decay": frozenset({"half_life"}),
    "custom": frozenset({"weights"}),
}
_POSITION_DEFAULTS = {"position": (0.4, 0.4), "j_shaped": (0.2, 0.6), "inverse_j": (0.6, 0.2)}


# Models whose weights depend on nothing but a touch's position and its journey's length: they are computed
# once per (length, position) cell, not per touch.
_TABLE_MODELS = frozenset({"first", "last", "linear", "position", "j_shaped", "inverse_j", "custom"})


def _weight_table(j: Journeys, model: str, params: Mapping[str, Any]) -> FloatArray:
    """Normalised weights of a table model: row ``n`` holds the weights of an ``n``-touch journey.

    Every row sums to 1 (an all-zero row is split evenly), as :func:`_normalise` does per journey.
    """
    lengths = j.lengths()
    size = int(lengths.max())
    n, pos = np.indices((size + 1, size))
    if model == "first":
        grid = (pos == 0).astype(np.float64)
    elif model == "last":
        grid = (pos == n - 1).astype(np.float64)
    elif model == "linear":
        grid = np.ones((size + 1, size))
    elif model in _POSITION_DEFAULTS:
        first, last = _POSITION_DEFAULTS[model]
        grid = _position_table(lengths, float(params.get("first", first)), float(params.get("last", last)))
    else:
        if "weights" not in params:
            raise ValueError("custom: pass weights=, a function (position, length) -> weight or a table")
        grid = _custom_table(lengths, params["weights"])
    inside = pos < n
    cells = grid[inside]  # row after row, each in position order: the same sums as per journey
    row_length = np.arange(1, size + 1)
    totals = np.zeros(size + 1)
    totals[1:] = np.add.reduceat(cells, np.cumsum(row_length) - row_length)
    safe = np.where(totals > 0, totals, 1.0)
    even = 1.0 / np.maximum(n, 1)
    table = np.where((totals <= 0)[:, None], even, grid / safe[:, None])
    return np.asarray(np.where(inside, table, 0.0), dtype=np.float64)


def _cells(j: Journeys) -> IntArray:
    """The (length, position) cell of every touch, as a flat index into a weight table (cached)."""
    cached = j._cache.get("cells")
    if cached is None:
        lengths = j.lengths()
        size = int(lengths.max())
        cached = np.repeat(lengths * size - j.offsets[:-1], lengths) + np.arange(j.n_touches)
        cached.flags.writeable = False
        j._cache["cells"] = cached
    return np.asarray(cached, dtype=np.int64)


def _table_sums(j: Journeys, table: FloatArray, per_journey: FloatArray, cache: Any) -> FloatArray:
    """Per key: the sum over touches of the table weight of the touch's cell times its journey's amount.

    The amounts are first added up per (cell, key), once per journeys and amount (cached under ``cache``
    unless it is None), so a model costs one small product whatever the number of touches.
    """
    keys = len(j.keys)
    totals = j._cache.get(cache) if cache is not None else None
    if totals is None:
        # Touches of journeys with a zero amount would add zeros: leave them out of the sums.
        lengths = j.lengths()
        nonzero = per_journey != 0
        touches = np.repeat(nonzero, lengths)
        index = _cells(j)[touches] * keys + j.codes[touches]
        totals = np.bincount(
            index, weights=np.repeat(per_journey[nonzero], lengths[nonzero]), minlength=table.size * keys
        ).reshape(table.size, keys)
        totals.flags.writeable = False
        if cache is not None:
            j._cache[cache] = totals
    # Not ``table @ totals``: a BLAS product adds in an order that depends on the CPU's kernel (AVX2 and
    # AVX-512 gave different last bits); this sum adds the cells in their order on every machine.
    return np.asarray((table.reshape(-1)[:, None] * totals).sum(axis=0), dtype=np.float64)


def _earning(j: Journeys) -> tuple[Journeys, npt.NDArray[np.bool_] | None]:
    """The journeys with conversions or value: the only ones whose touches can earn credit (cached).

    Models that weigh every touch run on these alone (a few percent of all journeys, typically); their
    credits are the same, as the other journeys would add zeros. Returns them and which of ``j``'s
    journeys they are (to take per-journey arrays along); without a journey to drop, or with none to
    keep, ``j`` itself and ``None``.
    """
    cached = j._cache.get("earning")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    keep = j.conversions != 0
    if j.value is not None:
        keep |= j.value != 0
    if keep.all() or not keep.any():
        j._cache["earning"] = (j, None)
        return j, None
    lengths = j.lengths()
    touches = np.repeat(keep, lengths)
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=offsets[1:])

    def rows(array: Any) -> Any:
        return None if array is None else frozen_array(array[keep], array.dtype.type)

    sub = Journeys(
        key=j.key,
        keys=j.keys,
        codes=frozen_array(j.codes[touches], np.int32),
        offsets=frozen_array(offsets, np.int64),
        ids=j.ids.filter(pl.Series(keep)),
        conversions=rows(j.conversions),
        nulls=rows(j.nulls),
        value=rows(j.value),
        currency=rows(j.currency),
        currencies=j.currencies,
        times=None if j.times is None else frozen_array(j.times[touches], np.int64),
        conversion_times=rows(j.conversion_times),
        touch_ids=None,
        stage_times={stage: rows(times) for stage, times in j.stage_times.items()},
    )
    sub._cache["earning"] = (sub, None)
    j._cache["earning"] = (sub, keep)
    return sub, keep


def _heuristic(j: Journeys, model: str, params: Mapping[str, Any]) -> FloatArray:
    """Raw touch weights of the heuristic models that look beyond position and length."""
    if model in ("w_shaped", "full_path"):
        lead = params.get("lead_stage", "lead")
        opportunity = params.get("opportunity_stage", "opportunity")
        if model == "w_shaped":
            stages: list[str | None] = [None, lead, opportunity]
            default: tuple[float, ...] = (0.3, 0.3, 0.3)
        else:
            stages = [None, lead, opportunity, "$last"]
            default = (0.225, 0.225, 0.225, 0.225)
        weights = [float(w) for w in params.get("weights", default)]
        return _milestone_weights(j, weights, stages, model)
    return _time_decay_weights(j, params.get("half_life", timedelta(days=7)))


def _normalise(j: Journeys, w: FloatArray) -> FloatArray:
    """Weights that sum to 1 in every journey (an all-zero journey is split evenly)."""
    totals = np.add.reduceat(w, j.offsets[:-1])
    lengths = j.lengths()
    # Per journey values spread over its touches by np.repeat: a sequential copy, cheaper than a gather.
    out = w / np.repeat(np.where(totals > 0, totals, 1.0), lengths)
    even = totals <= 0
    if even.any():
        out = np.where(np.repeat(even, lengths), np.repeat(1.0 / lengths, lengths), out)
    return np.asarray(out, dtype=np.float64)
