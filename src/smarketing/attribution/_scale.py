"""Attribution as map, reduce and finalise on Spark (private): journeys per partition, integer sums merged.

The models whose credit depends on the journeys only through sums of whole numbers add up: the
position/length table models (per (length, position, key) cell), Markov's global removal effects (per
transition of its chain) and Shapley (per key set). On a PySpark input each partition of complete leads
(touchpoints and deals co-partitioned by lead id) builds its journeys with the one-machine constructor,
values them (:func:`journey_values`, with the caller's ``fx`` and ``currency``) and emits those integers;
Spark sums them; the driver runs the unchanged model on the merged sums. Integer sums do not depend on the
order of partitions or rows, so the credits, removal effects and Shapley values are the one-machine ones to
the last bit, and the money split (largest remainder, the kernel's tie rule) is the same.

Markov's partials are its chain (:func:`~smarketing.attribution.markov._counts` on the partition's
journeys): the states that occur (windows of ``order`` keys), the weighted count of every transition
(start -> first state, state -> next, last state -> conversion and -> null) and the value of the journeys
per last state and currency. The kernel builds its chain from exactly these sums and nothing else, at any
order, so the driver solves the one-machine chain from the merged table: at most (states + 1) x (states + 2)
transitions (order 1: the keys), whatever the number of leads. Only when ``order`` times the bits of the
number of keys passes 62 (the kernel's window codes) are the distinct paths merged instead.

The models that weigh each journey alone (``time_decay``, ``w_shaped`` and ``full_path`` with the stage
events co-partitioned too, Markov's ``journey`` convention with the removal effects of the merged chain, a
plugin that declares ``per_journey = True``) credit each touch a float. Each partition weighs its journeys
with the one-machine code (a built-in model the journeys with conversions or value, a plugin all of them,
as one machine does) and emits the touches' credit per key as exact parts
(:mod:`~smarketing.attribution._exact`: integer mantissas summed per binary exponent), which Spark sums as
integers and the driver adds exactly, rounding once, as one machine does (``credit._key_sums``). A
built-in model's parameters are checked on the driver before the job (:func:`probe_journey`): a bad one
raises there, before the input's own errors (an empty input's, say), which one machine raises first.

Keys are written in global codes (the sorted distinct keys of the whole input, found on the driver once and
passed to every map); the driver then keeps the keys that occur. Fractional conversion weights (long form
only) are not summed here: the map counts them and the caller runs on one machine instead. A table or
weighed model's per-touch credit keeps its rows on Spark (:func:`engine_touches`: a second map with the
weight table found on the driver, or the model's weights per partition). ``currency`` without ``fx``
maps too (touchpoint input): the driver refuses what one machine refuses from the partitions' first
journeys per currency code (:func:`_refuse_foreign`). Everything else (aggregated paths, plugins without
``per_journey``, ``currency`` without ``fx`` in long form) reads the input on the driver as before. See
:mod:`smarketing.frames._engine`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import polars as pl

from smarketing.attribution import registry
from smarketing.attribution._exact import PARTS_SCHEMA, exact_parts, exact_sums
from smarketing.attribution._kernel import NEVER, IntArray, frozen_array
from smarketing.attribution._split import foreign_currency, journey_values, touch_frame
from smarketing.attribution._value import won_deals_per_lead
from smarketing.attribution.heuristic import _TABLE_MODELS, _earning, _heuristic, _normalise
from smarketing.attribution.journeys import Journeys
from smarketing.attribution.markov import _chain, _Counts, _counts, _journey_weights
from smarketing.errors import CurrencyMismatchError
from smarketing.frames import _engine as engine
from smarketing.frames import of_kind
from smarketing.money import FxTable, Money
from smarketing.records import Dataset
from smarketing.typing import FloatArray

__all__ = [
    "CHAIN",
    "PATHS",
    "Shape",
    "chain_partials",
    "engine_journeys",
    "engine_touches",
    "markov_removal",
    "markov_touches",
    "merged_chain",
    "on_engine",
    "paths_map",
    "shape",
    "touch_map",
]

_I64 = pl.Int64()
_STR = pl.String()

#: The partial tables. ``paths``: per (path, currency) the summed integers (Markov past 62 bits: a path is
#: the journey's keys in order; Shapley: its set of keys, in code order); ``cells``: per (length, position,
#: key, currency) the conversions and value of the journeys with any (the table models); ``lengths``:
#: journeys per length
#: and ``keys``: the keys of all touches (what the table models' weights and the key list depend on);
#: ``currencies``: the currencies of the journeys' value (a set union, zero values included, as one machine
#: reports them); ``fractional``: journeys with fractional counts.
PATHS: dict[str, engine.Partial] = {
    "paths": engine.Partial(
        {"path": _STR, "currency": _STR, "conversions": _I64, "nulls": _I64, "value": _I64},
        keys=("path", "currency"),
        aggs={"conversions": "sum", "nulls": "sum", "value": "sum"},
    ),
    "cells": engine.Partial(
        {"n": _I64, "pos": _I64, "key": _I64, "currency": _STR, "conversions": _I64, "value": _I64},
        keys=("n", "pos", "key", "currency"),
        aggs={"conversions": "sum", "value": "sum"},
    ),
    "lengths": engine.Partial(
        {"n": _I64, "journeys": _I64, "conversions": _I64},
        keys=("n",),
        aggs={"journeys": "sum", "conversions": "sum"},
    ),
    "keys": engine.Partial({"key": _I64}, keys=("key",)),
    "currencies": engine.Partial(
        {"currency": _STR, "value": _I64}, keys=("currency",), aggs={"value": "sum"}
    ),
    "fractional": engine.Partial({"journeys": _I64}, aggs={"journeys": "sum"}),
    # Markov's chain (:class:`~smarketing.attribution.markov._Counts`), states in global key codes.
    "states": engine.Partial({"state": _STR}, keys=("state",)),
    "transitions": engine.Partial(
        {"from": _STR, "to": _STR, "count": _I64}, keys=("from", "to"), aggs={"count": "sum"}
    ),
    "ends": engine.Partial(
        {"state": _STR, "currency": _STR, "value": _I64}, keys=("state", "currency"), aggs={"value": "sum"}
    ),
    # The weighed models' credit (:mod:`~smarketing.attribution._exact`): per measure (``conversions``, or
    # a currency's value), key and binary exponent, the summed halves of the touches' credit mantissas.
    "sums": engine.Partial(
        {"measure": _STR, **PARTS_SCHEMA}, keys=("measure", "key", "exp"), aggs={"high": "sum", "low": "sum"}
    ),
    # Partitions whose journeys have stage times (one machine's milestone models need some in the input).
    "staged": engine.Partial({"partitions": _I64}, aggs={"partitions": "sum"}),
    # With ``currency`` and no rates (touchpoint input): per currency of the journeys' won deals, its first
    # journey by id; and the first journey without a won deal (one machine values it in the input's first
    # currency, which a partition does not know). See :func:`_refuse_foreign`.
    "currency_firsts": engine.Partial(
        {"currency": _STR, "journey": _STR}, keys=("currency",), aggs={"journey": "min"}
    ),
    "valueless": engine.Partial({"journey": _STR}, aggs={"journey": "min"}),
    # A CurrencyMismatchError of a partition (the layer sends back DataError and PlanError only).
    "mismatch": engine.Partial({"message": _STR}, keys=("message",)),
}

#: What a model's partials are: its journeys' paths, their key sets, their (length, position) cells, their
#: Markov chain's transition counts, or (``weighed``) the exact sums of the touches' credit per key.
#: ``earning_sets``: only the key sets with conversions or value (the conversions game: the others are
#: worth nothing, and the rate game's non-converting journeys of a set are in another partition's rows).
Shape = Literal["paths", "sets", "earning_sets", "cells", "transitions", "weighed"]

#: A weighed model's touch weights of some journeys, normalised per journey (a journey's alone).
Weigh = Callable[[Journeys], FloatArray]

# The heuristic models that weigh each touch by its journey (not by its cell).
_WEIGHED = frozenset({"time_decay", "w_shaped", "full_path"})
#: The weighed models that read the journeys' stage times.
MILESTONES = frozenset({"w_shaped", "full_path"})

# The chain's start, conversion and null states in the ``transitions`` table (states are digits and commas).
_START, _CONVERSION, _NULL = "start", "conversion", "null"


# The deal columns the touchpoint path reads, renamed so they never meet a touchpoint column in the union.
_DEAL_COLUMNS = ("id", "amount", "amount_currency", "stage", "close_date")
_DEAL = "_deal"


def _deal_column(name: str) -> str:
    return f"_d_{name}"


# The stage event columns the milestone models read, renamed the same way.
_STAGE_COLUMNS = ("to", "time")
_STAGE = "_stage"


def _stage_column(name: str) -> str:
    return f"_s_{name}"


def shape(resolved: Any, params: Mapping[str, Any], *, per_touch: bool, name: str) -> Shape | None:
    """The partials of a model that adds up (see the module), else None.

    The table models' cells, global Markov's chain, Shapley's key sets, and the exact credit sums of the
    models that weigh each journey alone (``time_decay``, ``w_shaped``, ``full_path``, Markov's
    ``journey`` convention, a plugin that declares ``per_journey = True``). With ``per_touch``, the table
    and weighed models: the touches' rows stay on the engine (:func:`engine_touches`).
    """
    if not isinstance(resolved, str):
        return "weighed" if registry._declares_per_journey(resolved, name) else None
    if resolved in _TABLE_MODELS:
        return "cells"
    if resolved in _WEIGHED:
        return "weighed"
    if resolved == "markov":
        convention = params.get("convention", "global")
        if convention == "journey":
            return "weighed"
        return "transitions" if convention == "global" and not per_touch else None
    if resolved == "shapley" and not per_touch:
        return "earning_sets" if params.get("coalition", "conversions") == "conversions" else "sets"
    return None


def on_engine(data: Any) -> bool:
    """Whether ``data``'s touches are a PySpark DataFrame (the input :func:`engine_journeys` may map)."""
    return _touchpoints(data) is not None


def _touchpoints(data: Any) -> Any:
    """The PySpark touchpoint frame of ``data`` (a frame, a Dataset or a mapping by kind), or None."""
    if isinstance(data, Dataset | Mapping):
        frame = of_kind(data, "touchpoints")
        return frame if engine.is_spark(frame) else None
    return data if engine.is_spark(data) else None


@attrs.frozen
class _Input:
    """A Spark input as the maps read it: the frame to partition, by what, and how a partition is read."""

    touches: Any  # the touchpoint (or long-form touch) frame, whose key column gives the global codes
    frame: Any  # what is partitioned: the touches, with the deals when there are any
    by: str  # the column that keeps a journey in one partition
    columns: list[str]
    spec: dict[str, Any]  # ``Journeys.from_frame``'s options (long form), or the key column
    long_form: bool


def _mapped_input(
    data: Any, key: str | None, fx: FxTable | None, currency: str | None, *, stages: bool = False
) -> _Input | None:
    """``data`` as the maps read it, when it is on Spark and can be mapped there; else None.

    ``stages``: the model reads the journeys' stage times (``w_shaped``, ``full_path``): a Dataset's stage
    events, on Spark too, join the touches and deals in their partitions.
    """
    touches = _touchpoints(data)
    if touches is None:
        return None
    names = list(touches.columns)
    column = key or "channel"
    events = None
    if isinstance(data, Dataset | Mapping):
        deals = of_kind(data, "deals")
        if deals is not None and not engine.is_spark(deals):
            return None  # a touchpoint frame on Spark with deals elsewhere: read on the driver
        events = of_kind(data, "stage_events") if stages else None
        if events is not None and not engine.is_spark(events):
            return None  # the same for stage events
        if events is not None and any(c not in events.columns for c in ("lead_id", *_STAGE_COLUMNS)):
            return None  # read on the driver, which names what is missing as one machine does
        long_form = False
    elif "path" in names:
        return None  # aggregated paths: already one row per path
    elif "journey" in names:
        long_form, deals = True, None
    elif "lead_id" in names:
        long_form, deals = False, None
    else:
        return None
    if column not in names:
        return None  # read on the driver, which names what is missing as one machine does
    if long_form:
        if currency is not None and fx is None:
            # Without rates, one machine checks each journey's currency code against ``currency``, a
            # journey without value in the input's first code, which a partition cannot know: the
            # touchpoint path tells those journeys by their won deals (none); long form cannot.
            return None
        return _Input(touches, touches, "journey", names, _long_form_spec(names, column), long_form=True)
    required = ["id", "lead_id", "time", column]
    if any(c not in names for c in required):
        return None
    frame, columns = _co_partitioned(touches.select(*dict.fromkeys(required)), deals, events)
    return _Input(touches, frame, "lead_id", columns, {"key": column}, long_form=False)


def engine_journeys(
    data: Any,
    key: str | None,
    *,
    shape: Shape,
    fx: FxTable | None,
    currency: str | None,
    order: int = 1,
    weigh: Weigh | None = None,
    stages: bool = False,
    earning_only: bool = True,
    before: Callable[[], object] | None = None,
) -> tuple[Journeys, dict[str, IntArray]] | None:
    """The merged journeys and their values, when ``data`` is on Spark and can be mapped there; else None.

    ``data`` is a PySpark touchpoint frame, a Dataset or mapping of frames whose touchpoints are a PySpark
    frame (with its deals, on Spark too), or touches in long form (a ``journey`` column). None for
    anything else, and when a journey has a fractional count (the caller then reads the input itself).
    ``order`` is Markov's (shape ``transitions``): the returned journeys then carry the merged chain.
    ``weigh`` is a weighed model's (shape ``weighed``: its partitions' journeys' touch weights; ``stages``:
    it reads their stage times; ``earning_only``: one machine weighs only the journeys with conversions or
    value, as the built-in models; else every journey, as a plugin): the returned journeys then carry the
    credit sums (:func:`_weighed_journeys`). ``before``, when ``data`` can be mapped, runs before the Spark
    job (the caller's checks of the model's parameters).
    """
    got = _mapped_input(data, key, fx, currency, stages=stages)
    if got is None:
        return None
    if before is not None:
        before()
    column, spec, long_form = key or "channel", got.spec, got.long_form
    codes = {str(k): i for i, k in enumerate(sorted({str(v) for v in engine.distinct(got.touches, column)}))}
    if shape == "transitions" and order * math.log2(len(codes) + 1) > 62:
        # States of this many keys do not fit the kernel's window codes in a partition that has them
        # all: the merged paths, where the driver's kernel raises (or not) as one machine does.
        shape = "paths"
    frame, by, columns = got.frame, got.by, got.columns

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        return paths_map(
            part,
            codes,
            spec,
            shape=shape,
            fx=fx,
            currency=currency,
            long_form=long_form,
            order=order,
            weigh=weigh,
            earning_only=earning_only,
        )

    partials = engine.run(frame, fn, PATHS, kind="touchpoints", key=by, columns=columns)
    mismatch = partials.merged("mismatch").get_column("message")
    if len(mismatch):
        raise CurrencyMismatchError(str(mismatch.min()))
    if currency is not None and fx is None:
        _refuse_foreign(partials, currency)
    if int(partials.merged("fractional").get_column("journeys").sum() or 0):
        return None
    if not int(partials.merged("lengths").get_column("journeys").sum() or 0):
        return None  # no journey: the driver reads the (empty) input and says so as one machine does
    if shape == "cells":
        return _cell_journeys(partials, codes, column, currency)
    if shape == "transitions":
        return _chain_journeys(partials, codes, column, order)
    if shape == "weighed":
        return _weighed_journeys(partials, codes, column)
    if not len(partials.merged("paths")):
        return None  # nothing converts: the (cheap) one-machine answer
    return _journeys(partials, codes, column)


def _long_form_spec(names: list[str], column: str) -> dict[str, Any]:
    """``Journeys.from_frame``'s options for a long-form frame, as ``attribute`` reads one."""
    return {
        "key": column,
        "nulls": "nulls" if "nulls" in names else None,
        "value": "value" if "value" in names else None,
        "currency": "currency" if "currency" in names else None,
        "touch": "id" if "id" in names else None,
    }


def _co_partitioned(touches: Any, deals: Any, events: Any = None) -> tuple[Any, list[str]]:
    """Touchpoints, deals and stage events in one frame (flags ``_deal``, ``_stage``): one shuffle by lead.

    A lead's rows of the three kinds land in one partition; deal and stage columns are renamed.
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    no, yes = F.lit(False), F.lit(True)
    union = touches.withColumn(_DEAL, no).withColumn(_STAGE, no)
    if deals is not None:
        present = [c for c in _DEAL_COLUMNS if c in deals.columns]
        renamed = deals.select(
            F.col("lead_id"),
            *(F.col(c).alias(_deal_column(c)) for c in present),
            yes.alias(_DEAL),
            no.alias(_STAGE),
        )
        union = union.unionByName(renamed, allowMissingColumns=True)
    if events is not None:
        renamed = events.select(
            F.col("lead_id"),
            *(F.col(c).alias(_stage_column(c)) for c in _STAGE_COLUMNS),
            no.alias(_DEAL),
            yes.alias(_STAGE),
        )
        union = union.unionByName(renamed, allowMissingColumns=True)
    return union, list(union.columns)


def paths_map(
    part: Any, codes: Mapping[str, int], spec: Mapping[str, Any], **options: Any
) -> dict[str, pl.DataFrame]:
    """The partials of the complete journeys in ``part`` (some leads' rows), keys in global ``codes``.

    ``options`` are :func:`_paths_map`'s (``shape``, ``fx``, ``currency``, ``long_form``, ``order``,
    ``weigh``, ``earning_only``). A :class:`~smarketing.errors.CurrencyMismatchError` (value in two
    currencies without ``fx``) comes back as a row of ``mismatch``, raised again by the driver (the
    smallest message of all the partitions).
    """
    try:
        return _paths_map(part, codes, spec, **options)
    except CurrencyMismatchError as exc:
        out = {name: table.empty() for name, table in PATHS.items()}
        out["mismatch"] = pl.DataFrame({"message": [str(exc)]}, schema={"message": _STR})
        return out


def _paths_map(
    part: Any,
    codes: Mapping[str, int],
    spec: Mapping[str, Any],
    *,
    shape: Shape,
    fx: FxTable | None,
    currency: str | None,
    long_form: bool,
    order: int = 1,
    weigh: Weigh | None = None,
    earning_only: bool = True,
) -> dict[str, pl.DataFrame]:
    """The partials of the complete journeys in ``part`` (some leads' rows), keys in global ``codes``."""
    frame = part if isinstance(part, pl.DataFrame) else pl.DataFrame(part)
    if long_form:
        j = Journeys.from_frame(frame, **spec)
    else:
        built = _from_touchpoints(frame, spec["key"])
        if built is None:
            return {name: table.empty() for name, table in PATHS.items()}  # no journey here
        j = built
    out = {name: table.empty() for name, table in PATHS.items()}
    if currency is not None and fx is None:
        values = _own_currency(j, currency, out)
    else:
        values = journey_values(j, fx, currency)
    whole = (j.conversions == np.floor(j.conversions)) & (j.nulls == np.floor(j.nulls))
    global_codes = np.array([codes[k] for k in j.keys], dtype=np.int64)
    keys = global_codes[np.asarray(j.codes, dtype=np.int64)]
    lengths = j.lengths()
    amount = np.zeros(j.n_journeys, dtype=np.int64)
    code = np.full(j.n_journeys, None, dtype=object)
    for name, units in values.items():
        mine = units != 0
        amount[mine] += units[mine]
        code[mine] = name
    conversions = np.where(whole, j.conversions, 0).astype(np.int64)
    out["lengths"] = (
        pl.DataFrame({"n": lengths, "c": conversions})
        .group_by("n")
        .agg(pl.len().cast(pl.Int64).alias("journeys"), pl.col("c").sum().alias("conversions"))
    )
    out["currencies"] = pl.DataFrame(
        {"currency": sorted(values), "value": [int(values[c].sum()) for c in sorted(values)]},
        schema={"currency": _STR, "value": _I64},
    )
    out["fractional"] = pl.DataFrame({"journeys": [int((~whole).sum())]}, schema={"journeys": _I64})
    out["keys"] = pl.DataFrame({"key": np.unique(keys)})
    if shape == "cells":
        jot = j.journey_of_touch()
        earning = ((conversions != 0) | (amount != 0))[jot]
        touches = pl.DataFrame(
            {
                "n": lengths[jot][earning],
                "pos": j.positions()[earning],
                "key": keys[earning],
                "currency": pl.Series(code[jot][earning].tolist(), dtype=_STR),
                "conversions": conversions[jot][earning],
                "value": amount[jot][earning],
            }
        )
        out["cells"] = touches.group_by("n", "pos", "key", "currency").agg(
            pl.col("conversions", "value").sum()
        )
        return out
    if shape == "transitions":
        out.update(_transitions(j, values, global_codes, order))
        return out
    if shape == "weighed":
        assert weigh is not None
        out["staged"] = pl.DataFrame({"partitions": [int(bool(j.stage_times))]}, schema={"partitions": _I64})
        if not earning_only or ((conversions != 0) | (amount != 0)).any():
            # Else nothing here earns credit, and one machine weighs only the journeys that do.
            out["sums"] = weighed_sums(j, values, global_codes, weigh, earning_only=earning_only)
        return out
    touches = pl.DataFrame({"j": j.journey_of_touch(), "c": keys})
    if shape != "paths":
        # A key set: its distinct keys in code order (Shapley's bitmask of the journey).
        touches = touches.unique().sort("j", "c")
    # Within a group the rows keep their order: each journey's keys in touch (or code) order.
    paths = (
        touches.group_by("j", maintain_order=True)
        .agg(pl.col("c").cast(pl.String).str.join(","))
        .sort("j")
        .get_column("c")
    )
    rows = pl.DataFrame(
        {
            "path": paths,
            "currency": pl.Series(code.tolist(), dtype=_STR),
            "conversions": conversions,
            "nulls": np.where(whole, j.nulls, 0).astype(np.int64),
            "value": amount,
        }
    )
    if shape == "earning_sets":
        rows = rows.filter((pl.col("conversions") != 0) | (pl.col("value") != 0))
    out["paths"] = rows.group_by("path", "currency").agg(pl.col("conversions", "nulls", "value").sum())
    return out


def _own_currency(j: Journeys, currency: str, out: dict[str, pl.DataFrame]) -> dict[str, IntArray]:
    """The values in ``currency`` of touchpoint journeys (no rates), and their currencies' first journeys.

    One machine (:func:`~smarketing.attribution._split.journey_values`) refuses the first journey (by id)
    of the first currency code other than ``currency``, a journey without a won deal counting as one in the
    input's first code. A partition's journeys are valued in their own codes here, and ``out`` gets the
    first journey of each code with a won deal and the first journey without one, for the driver to
    decide (:func:`_refuse_foreign`). Ids are strings (the records' ids; integer ids are text from the
    boundary on, ordered as text on both engines).
    """
    if j.currency is not None:
        earned = j.conversions > 0  # a won deal, in its own currency
        codes, firsts = [], []
        for index, code in enumerate(j.currencies):
            mine = np.flatnonzero(earned & (j.currency == index))
            if len(mine):
                codes.append(code)
                firsts.append(str(j.ids[int(mine[0])]))
        out["currency_firsts"] = pl.DataFrame(
            {"currency": codes, "journey": firsts}, schema=dict(PATHS["currency_firsts"].schema)
        )
    valueless = np.flatnonzero(j.conversions == 0)
    if len(valueless):
        out["valueless"] = pl.DataFrame(
            {"journey": [str(j.ids[int(valueless[0])])]}, schema={"journey": _STR}
        )
    # Each journey in its own code (one without a won deal in the partition's first): those in currency.
    return {c: v for c, v in journey_values(j, None, None).items() if c == currency}


def _refuse_foreign(partials: engine.Partials, currency: str) -> None:
    """Raise one machine's error for journeys valued in a code other than ``currency`` (no rates).

    The codes are those of the won deals, sorted; the first is also the code of the journeys without a
    won deal (when any journey has one). One machine refuses the first code other than ``currency`` (and
    not ``XXX``, no currency) that has a journey, naming its first journey by id.
    """
    firsts = dict(partials.merged("currency_firsts").iter_rows())
    if not firsts:
        return  # no won deal: no value in any currency
    valueless = partials.merged("valueless").get_column("journey")
    first_code = min(firsts)
    for code in sorted(firsts):
        if code in (currency, "XXX"):
            continue
        candidates = [firsts[code]]
        if code == first_code and len(valueless) and valueless[0] is not None:
            candidates.append(str(valueless[0]))
        raise foreign_currency(min(candidates), code, currency)


def weighed_sums(
    j: Journeys, values: Mapping[str, IntArray], global_codes: IntArray, weigh: Weigh, *, earning_only: bool
) -> pl.DataFrame:
    """The ``sums`` partial of ``j``: its journeys weighed, their touches' credit in exact parts.

    As one machine credits (:func:`~smarketing.attribution.credit._weighed_credit`): the journeys with
    conversions or value only (``earning_only``; a plugin weighs them all), each touch's weight times its
    journey's conversions and each currency's value, summed per key exactly
    (:mod:`~smarketing.attribution._exact`), in global key codes.
    """
    weighed, kept = _earning(j) if earning_only else (j, None)
    touch_w = weigh(weighed)
    lengths = weighed.lengths()
    keys = global_codes[np.asarray(weighed.codes, dtype=np.int64)]
    measures = {"conversions": weighed.conversions}
    measures.update({c: (v if kept is None else v[kept]).astype(np.float64) for c, v in values.items()})
    return pl.concat(
        [
            exact_parts(keys, touch_w * np.repeat(amounts, lengths)).select(
                pl.lit(measure, dtype=_STR).alias("measure"), *PARTS_SCHEMA
            )
            for measure, amounts in measures.items()
        ]
    )


def _staged(j: Journeys) -> Journeys:
    """``j``, or without any stage times, ``j`` with a stage that none of its journeys entered.

    A partition's journeys may have no stage event where the whole input has some: one machine then finds
    every milestone stage of theirs never entered (``NEVER``), and does not refuse them; the refusal of an
    input whose journeys have no stage times at all is the driver's (after the merge: the caller weighs
    :func:`probe_journey` without stage times).
    """
    if j.stage_times:
        return j
    never = frozen_array(np.full(j.n_journeys, NEVER, dtype=np.int64), np.int64)
    return attrs.evolve(j, stage_times={"": never})


def heuristic_weights(j: Journeys, model: str, params: Mapping[str, Any]) -> FloatArray:
    """A weighed heuristic model's normalised touch weights of a partition's ``j`` (a :data:`Weigh`)."""
    return _normalise(j, _heuristic(_staged(j) if model in MILESTONES else j, model, params))


def plugin_weights(j: Journeys, model: Any, name: str, params: Mapping[str, Any]) -> FloatArray:
    """A plugin model's normalised touch weights of ``j``, checked as one machine checks them."""
    return _normalise(j, registry._plugin_weights(model, name, j, params))


def removal_weights(j: Journeys, removal: Mapping[str, float]) -> FloatArray:
    """Markov's ``journey`` convention's touch weights of ``j``, by the removal effects of the whole input."""
    return _journey_weights(j, np.array([removal[k] for k in j.keys], dtype=np.float64))


def probe_journey(*, staged: bool) -> Journeys:
    """A journey of one touch (``staged``: with stage times), for the driver to weigh before a Spark job.

    A weighed model raises for its parameters on it what it raises on one machine (a ``ValueError`` or
    ``TypeError``), not a worker's error; without stage times, a milestone model's ``DataError``.
    """
    j = Journeys(
        key="key",
        keys=("key",),
        codes=frozen_array([0], np.int32),
        offsets=frozen_array([0, 1], np.int64),
        ids=pl.Series("journey", ["probe"]),
        conversions=frozen_array([1.0], np.float64),
        nulls=frozen_array([0.0], np.float64),
        times=frozen_array([0], np.int64),
        conversion_times=frozen_array([1], np.int64),
    )
    return _staged(j) if staged else j


def _weighed_journeys(
    partials: engine.Partials, codes: Mapping[str, int], key: str
) -> tuple[Journeys, dict[str, Any]]:
    """One journey that carries the merged totals and, cached as ``"weighed"``, the credit per key.

    The credit: the conversions per key and each currency's value weights per key, the exact sums of the
    merged parts (the same floats as one machine's, whatever the partitions); cached as ``"staged"``, the
    partitions whose journeys have stage times (none: one machine's milestone models refuse the input).
    """
    names = {i: k for k, i in codes.items()}
    occurring = sorted(int(c) for c in partials.merged("keys").get_column("key").to_list())
    compact = {c: i for i, c in enumerate(occurring)}
    sums = partials.merged("sums").with_columns(pl.col("key").replace_strict(compact, return_dtype=pl.Int64))

    def credit(measure: str) -> FloatArray:
        return exact_sums(sums.filter(pl.col("measure") == measure), len(occurring))

    journeys, values = _merged_journey(partials, key, tuple(names[c] for c in occurring))
    journeys._cache["weighed"] = (credit("conversions"), {c: credit(c) for c in sorted(values)})
    journeys._cache["staged"] = int(partials.merged("staged").get_column("partitions").sum() or 0)
    return journeys, values


def _merged_journey(
    partials: engine.Partials, key: str, keys: tuple[str, ...]
) -> tuple[Journeys, dict[str, IntArray]]:
    """One journey of the merged totals (conversions, value per currency) over ``keys``, for a cache."""
    currency_totals = partials.merged("currencies")
    totals = dict(
        zip(currency_totals.get_column("currency"), currency_totals.get_column("value"), strict=True)
    )
    journeys = Journeys(
        key=key,
        keys=keys,
        codes=frozen_array(np.zeros(0, dtype=np.int32), np.int32),
        offsets=frozen_array(np.zeros(2, dtype=np.int64), np.int64),
        ids=pl.Series("journey", ["merged"]),
        conversions=frozen_array(
            [float(partials.merged("lengths").get_column("conversions").sum())], np.float64
        ),
        nulls=frozen_array(np.zeros(1), np.float64),
    )
    journeys._cache["keys_occur"] = True
    return journeys, {c: frozen_array([int(totals[c])], np.int64) for c in sorted(totals)}


def _transitions(
    j: Journeys, values: Mapping[str, IntArray], global_codes: IntArray, order: int
) -> dict[str, pl.DataFrame]:
    """The partition's Markov chain (:func:`~smarketing.attribution.markov._counts`), in global key codes.

    A state is written as its keys' global codes, oldest first, joined by commas. Counts are whole here
    (a partition with a fractional count makes the caller read the input on one machine).
    """
    chain = _counts(j, order, values)
    names = [",".join(str(int(global_codes[k])) for k in state) for state in chain.states]
    label = np.array([*names, _START, _CONVERSION, _NULL], dtype=object)
    return {
        "states": pl.DataFrame({"state": names}, schema={"state": _STR}),
        "transitions": pl.DataFrame(
            {
                "from": label[chain.src].tolist(),
                "to": label[chain.dst].tolist(),
                "count": np.rint(chain.counts).astype(np.int64),
            },
            schema={"from": _STR, "to": _STR, "count": _I64},
        ),
        "ends": pl.DataFrame(
            {
                "state": [n for _ in chain.ends for n in names],
                "currency": [c for c in chain.ends for _ in names],
                "value": np.concatenate(
                    [np.zeros(0, dtype=np.int64), *(np.rint(e).astype(np.int64) for e in chain.ends.values())]
                ),
            },
            schema={"state": _STR, "currency": _STR, "value": _I64},
        ).filter(pl.col("value") != 0),  # a zero adds nothing (the currencies table keeps the codes)
    }


def _from_touchpoints(frame: pl.DataFrame, key: str) -> Journeys | None:
    """The journeys of a partition of the co-partitioned touchpoints and deals (None: nothing to credit).

    With the stage events' rows (a ``_stage`` flag), the journeys carry their stage times.
    """
    if _DEAL not in frame.columns:
        return Journeys.from_touchpoints(frame, key=key) if len(frame) else None
    is_deal = pl.col(_DEAL).fill_null(value=False)
    is_stage = pl.col(_STAGE).fill_null(value=False) if _STAGE in frame.columns else pl.lit(value=False)
    touches = frame.filter(~is_deal & ~is_stage).select("id", "lead_id", "time", key)
    renamed = {_deal_column(c): c for c in _DEAL_COLUMNS if _deal_column(c) in frame.columns}
    deals = frame.filter(is_deal).select("lead_id", *renamed).rename(renamed)
    events = None
    if _stage_column("to") in frame.columns:
        staged = {_stage_column(c): c for c in _STAGE_COLUMNS}
        events = frame.filter(is_stage).select("lead_id", *staged).rename(staged)
    if not len(touches):
        # No journey here: only a won deal of a lead without touchpoints is an error (raised as one
        # machine raises it), and every deal is checked as one machine checks it.
        won = won_deals_per_lead(deals, None, None)
        if won is None or not len(won):
            return None
    return Journeys.from_touchpoints(
        touches, key=key, deals=deals if len(deals) else None, stage_events=events
    )


def _journeys(
    partials: engine.Partials, codes: Mapping[str, int], key: str
) -> tuple[Journeys, dict[str, Any]]:
    """One journey per merged (path, currency), keyed by the keys that occur, and its value per currency."""
    merged = partials.merged("paths")
    names = {i: k for k, i in codes.items()}
    paths = [[int(c) for c in str(p).split(",")] for p in merged.get_column("path").to_list()]
    occurring = sorted(int(c) for c in partials.merged("keys").get_column("key").to_list())
    compact = {c: i for i, c in enumerate(occurring)}
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    offsets = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.array([compact[c] for path in paths for c in path], dtype=np.int32)
    currencies = sorted(partials.merged("currencies").get_column("currency").to_list())
    row_currency = merged.get_column("currency")
    amounts = merged.get_column("value").to_numpy().astype(np.int64)
    values = {
        c: frozen_array(np.where((row_currency == c).fill_null(value=False).to_numpy(), amounts, 0), np.int64)
        for c in currencies
    }
    journeys = Journeys(
        key=key,
        keys=tuple(names[c] for c in occurring),
        codes=frozen_array(flat, np.int32),
        offsets=frozen_array(offsets, np.int64),
        ids=merged.get_column("path").alias("journey"),
        conversions=frozen_array(merged.get_column("conversions").to_numpy().astype(np.float64), np.float64),
        nulls=frozen_array(merged.get_column("nulls").to_numpy().astype(np.float64), np.float64),
    )
    journeys._cache["keys_occur"] = True
    return journeys, values


def _cell_journeys(
    partials: engine.Partials, codes: Mapping[str, int], key: str, currency: str | None
) -> tuple[Journeys, dict[str, Any]]:
    """Journeys that give the table models the merged cell sums: one per length present, sums cached.

    The table models read the journeys through their lengths (the weight table's size and rows) and
    through the per (cell, key) sums of each journey amount, which they cache under ``"conversions"`` and
    ``("value", currency, code)``; here those sums are the merged ones (exact integers, as one machine's
    are). The totals sit on the first journey, so the total conversions and value are the merged ones.
    """
    names = {i: k for k, i in codes.items()}
    merged_lengths = partials.merged("lengths")
    occurring = sorted(int(c) for c in partials.merged("keys").get_column("key").to_list())
    compact = {c: i for i, c in enumerate(occurring)}
    lengths = merged_lengths.get_column("n").to_numpy().astype(np.int64)  # sorted by the merge
    size = int(lengths.max())
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cells = partials.merged("cells")
    index = (cells.get_column("n") * size + cells.get_column("pos")).to_numpy()
    column = np.array([compact[int(c)] for c in cells.get_column("key").to_list()], dtype=np.int64)
    merged_currencies = partials.merged("currencies")
    currency_totals = dict(
        zip(merged_currencies.get_column("currency"), merged_currencies.get_column("value"), strict=True)
    )

    def totals(amounts: Any, mine: Any) -> Any:
        out = np.zeros(((size + 1) * size, len(occurring)))
        np.add.at(out, (index[mine], column[mine]), amounts[mine].astype(np.float64))
        out.flags.writeable = False
        return out

    everything = np.ones(len(cells), dtype=bool)
    conversions = cells.get_column("conversions").to_numpy()
    amounts = cells.get_column("value").to_numpy()
    first = np.zeros(len(lengths))
    first[0] = float(merged_lengths.get_column("conversions").sum())
    journeys = Journeys(
        key=key,
        keys=tuple(names[c] for c in occurring),
        codes=frozen_array(np.zeros(int(offsets[-1]), dtype=np.int32), np.int32),
        offsets=frozen_array(offsets, np.int64),
        ids=pl.Series("journey", [f"length {n}" for n in lengths.tolist()]),
        conversions=frozen_array(first, np.float64),
        nulls=frozen_array(np.zeros(len(lengths)), np.float64),
    )
    journeys._cache["keys_occur"] = True
    journeys._cache["conversions"] = totals(conversions, everything)
    values: dict[str, Any] = {}
    for c in sorted(currency_totals):
        mine = (cells.get_column("currency") == c).fill_null(value=False).to_numpy()
        journeys._cache["value", currency, c] = totals(amounts, mine)
        total = np.zeros(len(lengths), dtype=np.int64)
        total[0] = int(currency_totals[c])
        values[c] = frozen_array(total, np.int64)
    return journeys, values


def _chain_journeys(
    partials: engine.Partials, codes: Mapping[str, int], key: str, order: int
) -> tuple[Journeys, dict[str, Any]]:
    """One journey that carries the merged Markov chain (cached for ``order``) and the merged totals."""
    currency_totals = partials.merged("currencies")
    currencies = sorted(currency_totals.get_column("currency").to_list())
    keys, counts = merged_chain(
        codes,
        partials.merged("keys").get_column("key").to_list(),
        partials.merged("states").get_column("state").to_list(),
        partials.merged("transitions"),
        ends=partials.merged("ends"),
        currencies=currencies,
    )
    journeys, values = _merged_journey(partials, key, keys)
    journeys._cache["markov", order] = counts
    return journeys, values


def merged_chain(
    codes: Mapping[str, int],
    keys: Sequence[int],
    states: Sequence[str],
    transitions: pl.DataFrame,
    *,
    ends: pl.DataFrame | None = None,
    currencies: Sequence[str] = (),
) -> tuple[tuple[str, ...], _Counts]:
    """The keys that occur (by name) and the chain of merged ``keys``, ``states`` and ``transitions`` rows.

    The states are numbered as one machine numbers them (:func:`~smarketing.attribution.markov._states`:
    by window code, the newest key most significant, a shorter window first), in the codes of the keys that
    occur, and the transitions sorted by (source, target): the one-machine chain, entry for entry.
    ``ends``: the merged value per (state, currency), for ``currencies``.
    """
    names = {i: k for k, i in codes.items()}
    occurring = sorted(int(c) for c in keys)
    compact = {c: i for i, c in enumerate(occurring)}
    merged_states = [tuple(int(c) for c in s.split(",")) for s in states]
    # A window's code orders it by its newest key, then the one before, ...; a prefix comes first.
    merged_states.sort(key=lambda state: state[::-1])
    chain_states = [tuple(compact[c] for c in state) for state in merged_states]
    index = {",".join(str(c) for c in state): i for i, state in enumerate(merged_states)}
    n_states = len(chain_states)
    index.update({_START: n_states, _CONVERSION: n_states + 1, _NULL: n_states + 2})
    size = n_states + 3
    merged = transitions.filter(pl.col("count") != 0)
    src = np.array([index[s] for s in merged.get_column("from").to_list()], dtype=np.int64)
    dst = np.array([index[s] for s in merged.get_column("to").to_list()], dtype=np.int64)
    by_pair = np.argsort(src * size + dst)
    counts = merged.get_column("count").to_numpy().astype(np.float64)
    value_ends = {c: np.zeros(n_states) for c in currencies}
    for state, code, amount in ends.iter_rows() if ends is not None else ():
        value_ends[code][index[state]] = float(amount)
    chain = _Counts(
        states=chain_states, src=src[by_pair], dst=dst[by_pair], counts=counts[by_pair], ends=value_ends
    )
    return tuple(names[c] for c in occurring), chain


#: Markov's chain as partial tables (:func:`chain_partials`): its keys, states and transition counts.
CHAIN: dict[str, engine.Partial] = {name: PATHS[name] for name in ("keys", "states", "transitions")}


def chain_partials(j: Journeys, codes: Mapping[str, int], order: int) -> dict[str, pl.DataFrame]:
    """The order-``order`` Markov chain of ``j`` as :data:`CHAIN`'s tables, keys in global ``codes``.

    Integer sums: the tables of any partitions of some journeys, merged, give their chain
    (:func:`merged_chain`). Every journey counts whole (a conversion or a null). When the keys of ``j``
    are too many for the kernel's window codes at this order, only the keys (:func:`markov_removal`
    refuses the merged chain, which has at least as many).
    """
    global_codes = np.array([codes[k] for k in j.keys], dtype=np.int64)
    out = {name: table.empty() for name, table in CHAIN.items()}
    out["keys"] = pl.DataFrame({"key": np.unique(global_codes)}, schema={"key": _I64})
    if _too_large(order, len(j.keys)):
        return out
    chain = _transitions(j, {}, global_codes, order)
    out.update(states=chain["states"], transitions=chain["transitions"])
    return out


def _too_large(order: int, n_keys: int) -> bool:
    """Whether states of ``order`` keys out of ``n_keys`` pass the kernel's 62-bit window codes."""
    return order * math.log2(n_keys + 1) > 62


def markov_removal(
    codes: Mapping[str, int],
    keys: Sequence[int],
    states: Sequence[str],
    transitions: pl.DataFrame,
    order: int,
) -> dict[str, float]:
    """Each key's removal effect (conversions), by name, from merged :func:`chain_partials` tables.

    The one-machine solve (:func:`~smarketing.attribution.markov._chain`) of the one-machine chain.

    Raises:
        ValueError: The keys are too many for states of ``order`` keys (as one machine raises it).
    """
    names, counts = merged_chain(codes, keys, states, transitions)
    if _too_large(order, len(names)):
        raise ValueError(f"markov: order {order} over {len(names)} keys is too large to index states")
    return dict(zip(names, _chain(counts, names).removal.tolist(), strict=True))


def markov_touches(j: Journeys, removal: Mapping[str, float]) -> pl.DataFrame:
    """Markov's per-touch credit of ``j`` in the ``journey`` convention, by removal effects solved elsewhere.

    ``removal`` has every key of ``j`` (the effects of a whole input ``j`` is a partition of, by
    :func:`markov_removal`); the rows are :func:`~smarketing.attribution.attribute`'s ``touches`` of
    ``j`` with those effects, in the journeys' touch order.
    """
    effects = np.array([removal[k] for k in j.keys], dtype=np.float64)
    return touch_frame(j, _journey_weights(j, effects), journey_values(j, None, None))


#: The polars dtypes of the Spark types an id column may have in the per-touch rows.
_ID_TYPES: dict[str, pl.DataType] = {"string": _STR, "bigint": _I64, "int": pl.Int32()}


def engine_touches(
    data: Any,
    key: str | None,
    weigh: Weigh,
    currencies: Sequence[str],
    *,
    fx: FxTable | None,
    currency: str | None,
    stages: bool = False,
) -> Any:
    """A table or weighed model's per-touch credit on Spark, kept there (a PySpark DataFrame); None if not.

    ``weigh`` gives a partition's journeys' touch weights (``stages``: with their stage times): a weighed
    model's, or a table model's weight table found on the driver from the merged lengths
    (:func:`table_weights`). Every partition of complete journeys gives its touches their weight and
    splits each journey's value over them (:func:`~smarketing.attribution._split.touch_frame`), so every
    row is the one-machine row, with a ``value_<CUR>`` column for each of ``currencies``. The rows come in
    no particular order. The frame is a query: Spark maps the partitions again when it is read or written
    (the map has run once here, so its errors are raised here). None when a journey or touch id is of a
    type other than string or integer (the caller then reads the input on the driver).
    """
    got = _mapped_input(data, key, fx, currency, stages=stages)
    assert got is not None  # engine_journeys mapped the same input
    column = key or "channel"
    kinds = _column_types(got.touches)
    journey = "journey" if got.long_form else "lead_id"
    touch = got.spec.get("touch") if got.long_form else "id"
    if any(kinds.get(c) not in _ID_TYPES for c in (journey, touch) if c is not None):
        return None
    schema: dict[str, pl.DataType] = {"journey": _ID_TYPES[kinds[journey]], "position": _I64}
    if touch is not None:
        schema["touch"] = _ID_TYPES[kinds[touch]]
    schema.update({column: _STR, "credit": pl.Float64()})
    for code in currencies:
        schema[f"value_{code}"] = pl.Decimal(38, Money.zero(code).minor_units)
    tables = {"touches": engine.Partial(schema, kept=True)}
    spec, long_form = got.spec, got.long_form

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        return {
            "touches": touch_map(part, spec, weigh, schema, fx=fx, currency=currency, long_form=long_form)
        }

    partials = engine.run(got.frame, fn, tables, kind="touchpoints", key=got.by, columns=got.columns)
    return partials.rows("touches")


def table_weights(j: Journeys, table: Any) -> FloatArray:
    """Each touch's weight in a table model's weight ``table``: its (journey length, position) cell."""
    lengths = j.lengths()
    return np.asarray(np.asarray(table)[np.repeat(lengths, lengths), j.positions()], dtype=np.float64)


def _column_types(frame: Any) -> dict[str, str]:
    """Each column's Spark type name (a polars frame, as the partition laws use: its types' Spark names)."""
    if isinstance(frame, pl.DataFrame):
        spark = {pl.String: "string", pl.Int64: "bigint", pl.Int32: "int"}
        return {c: spark.get(type(t), str(t)) for c, t in frame.schema.items()}
    return {f.name: f.dataType.simpleString() for f in frame.schema.fields}


def touch_map(
    part: Any,
    spec: Mapping[str, Any],
    weigh: Weigh,
    schema: Mapping[str, pl.DataType],
    *,
    fx: FxTable | None,
    currency: str | None,
    long_form: bool,
) -> pl.DataFrame:
    """The per-touch credit of the complete journeys in ``part``, weighed by ``weigh``, in ``schema``."""
    frame = part if isinstance(part, pl.DataFrame) else pl.DataFrame(part)
    j = Journeys.from_frame(frame, **spec) if long_form else _from_touchpoints(frame, spec["key"])
    if j is None or not j.n_journeys:
        return pl.DataFrame(schema=dict(schema))
    weights = weigh(j)
    values = journey_values(j, fx, currency)
    codes = [c.removeprefix("value_") for c in schema if c.startswith("value_")]
    values = {c: values.get(c, np.zeros(j.n_journeys, dtype=np.int64)) for c in codes}
    return touch_frame(j, weights, values).select(pl.col(c).cast(t) for c, t in schema.items())
