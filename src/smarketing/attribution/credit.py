"""Credit conversions and value to keys: :func:`attribute` (one model) and :func:`compare` (several)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from smarketing.attribution import _scale
from smarketing.attribution._exact import exact_parts, exact_sums
from smarketing.attribution._kernel import IntArray
from smarketing.attribution._split import journey_values, split_money, touch_frame
from smarketing.attribution.heuristic import (
    _HEURISTIC_PARAMS,
    _TABLE_MODELS,
    _cells,
    _earning,
    _heuristic,
    _normalise,
    _table_sums,
    _weight_table,
)
from smarketing.attribution.journeys import Journeys
from smarketing.attribution.markov import _check_order, _journey_weights, _markov
from smarketing.attribution.registry import Model, _plugin_weights, _resolve_model
from smarketing.attribution.results import Attribution, Comparison, _plain
from smarketing.attribution.shapley import _shapley
from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.money import FxTable, Money
from smarketing.records import Dataset
from smarketing.typing import FloatArray

__all__ = ["attribute", "compare"]


def _journeys(data: Any, key: str | None) -> Journeys:
    """``attribute``'s input as journeys: records, a Dataset or a mapping by kind, paths, or long touches."""
    if isinstance(data, Journeys):
        if key is not None and key != data.key:
            raise ValueError(f"these journeys are keyed by {data.key!r}, not {key!r}; build them again")
        return data
    if isinstance(data, Dataset | Mapping) or (
        isinstance(data, Sequence) and not isinstance(data, str | bytes)
    ):
        return Journeys.from_touchpoints(data, key=key or "channel")
    lf = as_lazy(data, "data", required=[], columns={})
    names = lf.collect_schema().names()
    if "path" in names:
        return Journeys.from_paths(
            data,
            value="total_conversion_value" if "total_conversion_value" in names else None,
            currency="currency" if "currency" in names else None,
        )
    if "journey" in names:
        return Journeys.from_frame(
            data,
            key=key or "channel",
            nulls="nulls" if "nulls" in names else None,
            value="value" if "value" in names else None,
            currency="currency" if "currency" in names else None,
            touch="id" if "id" in names else None,
        )
    if "lead_id" in names:
        return Journeys.from_touchpoints(data, key=key or "channel")
    raise DataError(
        "cannot tell the input's shape: expected a 'path' column (aggregated paths), a 'journey' column "
        "(long form) or touchpoint columns; build it with Journeys.from_paths/from_frame/from_touchpoints",
        kind="data",
    )


def attribute(
    data: Any,
    *,
    model: str | Model,
    key: str | None = None,
    per_touch: bool = False,
    fx: FxTable | None = None,
    currency: str | None = None,
    **params: Any,
) -> Attribution:
    """Credit conversions and their value to the keys of the touches that led to them.

    Args:
        data: :class:`Journeys`; touchpoint records, a :class:`~smarketing.records.Dataset` or a mapping of
            frames by record kind (conversions from won deals); or a frame: ChannelAttribution's aggregated
            paths (a ``path`` column with ``total_conversions``, ``total_null``, ``total_conversion_value``),
            or touches in long form (a ``journey`` column with ``time``, the key, ``converted`` and optional
            ``value``, ``currency``).
            For other column names build :class:`Journeys` explicitly.
        model: A model name (see :func:`available_models`) or an
            :class:`~smarketing.typing.AttributionModel`.
        key: The touch column that gets credit (default ``channel``; fixed by prebuilt journeys).
        per_touch: Also return each touch's credit in :attr:`Attribution.touches`, with its value split
            exactly within its journey. Markov needs ``convention="journey"`` for it; Shapley has none.
        fx: Exchange rates, with ``currency``: convert every journey's value at its conversion date.
        currency: Report all value in this currency (needs ``fx`` when other currencies are present).
        **params: Model parameters:

            * ``position``, ``j_shaped``, ``inverse_j``: ``first``, ``last`` (shares; the middle gets the
              rest; two-touch journeys split in the first:last proportion).
            * ``w_shaped``, ``full_path``: ``weights`` (one per milestone: first touch, lead created,
              opportunity created[, deal won]; the rest is spread over the other touches), ``lead_stage``
              (default ``"lead"``), ``opportunity_stage`` (default ``"opportunity"``).
            * ``time_decay``: ``half_life`` (a ``timedelta`` or days; default 7 days).
            * ``custom``: ``weights``: a function ``(position, length) -> weight`` or a table
              ``{length: [weights]}``.
            * ``markov``: ``order`` (default 1), ``convention``: ``"global"`` (default; each key's share of
              all conversions and value is its removal effect over the sum of removal effects, as
              ChannelAttribution) or ``"journey"`` (each converting journey is split over its touches in
              proportion to their keys' removal effects, as DP6's marketing-attribution-models).
            * ``shapley``: ``coalition`` (``"conversions"``, default: a coalition is worth the conversions
              of journeys whose keys all lie in it; or ``"rate"``: the sum of the conversion rates of those
              key sets, counting non-converting journeys), ``method`` (``"auto"``: exact up to 20 keys,
              sampled above; ``"exact"``; ``"sampling"``), ``samples`` (random key orders of the sampling
              estimator, default 1000) and ``seed``.

    Returns:
        The credits per key, and the model's own results (removal effects, Shapley values).

    Raises:
        DataError: Bad input (empty data, missing columns or values, naive times, negative or NaN counts,
            negative value), named by place.
        CurrencyMismatchError: Value in several currencies where one is needed, without ``fx``.
        PluginError: An unknown model name, or a plugin that failed to load.
        ValueError: A bad model parameter (``order < 1``, shares outside 0..1, ...).

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame(
        ...     {
        ...         "path": ["ads > demo", "ads > email > demo"],
        ...         "total_conversions": [1, 1],
        ...         "total_null": [1, 2],
        ...     }
        ... )
        >>> attribute(paths, model="position").conversions
        {'ads': 0.9, 'demo': 0.9, 'email': 0.2}
        >>> attribute(paths, model="markov", order=0)
        Traceback (most recent call last):
        ...
        ValueError: markov: order must be an integer >= 1, not 0
    """
    resolved, name = _resolve_model(model)
    # On Spark, the models that add up map there and only the merged partials come back.
    scaled, spark = None, None
    shape = _scale.shape(resolved, params, per_touch=per_touch, name=name) if _scale.on_engine(data) else None
    if shape is not None:
        _check_params(name, resolved, params)  # before a Spark job
        spark = _Spark(
            data, key, fx, currency, stages=isinstance(resolved, str) and resolved in _scale.MILESTONES
        )
        if isinstance(resolved, str) and resolved == "markov":  # its chain, then (journey) its weighing
            order = params.get("order", 1)
            _check_order(order)
            scaled = _scale.engine_journeys(
                data, key, shape="transitions", fx=fx, currency=currency, order=order
            )
        elif shape == "weighed":
            builtin = isinstance(resolved, str)
            weigh = _weigh(resolved, name, params)
            spark = attrs.evolve(spark, weigh=weigh)
            # A built-in's bad parameter raises on the driver (the one-machine error, not a worker's).
            probe = functools.partial(weigh, _scale.probe_journey(staged=True)) if builtin else None
            scaled = _scale.engine_journeys(
                data,
                key,
                shape=shape,
                fx=fx,
                currency=currency,
                weigh=weigh,
                stages=spark.stages,
                earning_only=builtin,  # as below: a plugin weighs every journey
                before=probe,
            )
        else:
            scaled = _scale.engine_journeys(data, key, shape=shape, fx=fx, currency=currency)
    if scaled is None:
        spark = None
    j = _journeys(data, key) if scaled is None else scaled[0]
    if j.n_journeys == 0:
        raise DataError("no journeys: the data is empty", kind="journeys")
    _check_params(name, resolved, params)
    values = journey_values(j, fx, currency) if scaled is None else scaled[1]
    keys = j.keys
    total_conv = float(j.conversions.sum())
    totals = {c: int(v.sum()) for c, v in values.items()}
    if isinstance(resolved, str) and resolved == "markov":
        credit = _markov_credit(j, params, values, total_conv, per_touch=per_touch, spark=spark)
    elif isinstance(resolved, str) and resolved == "shapley":
        credit = _shapley_credit(j, params, values, total_conv, per_touch=per_touch)
    elif isinstance(resolved, str) and resolved in _TABLE_MODELS:
        # Merged on Spark, the value is in ``currency`` already and its cell sums are cached without fx.
        table_fx = fx if scaled is None else None
        credit = _table_credit(
            j,
            resolved,
            params,
            values,
            per_touch=per_touch and scaled is None,
            fx=table_fx,
            currency=currency,
        )
        if per_touch and spark is not None:
            table = _weight_table(j, resolved, params)
            touches = _touch_rows(spark, functools.partial(_scale.table_weights, table=table), sorted(values))
            credit = attrs.evolve(credit, touches=touches)
    elif spark is not None:
        if spark.stages and not j._cache["staged"]:
            _heuristic(_scale.probe_journey(staged=False), str(resolved), params)  # as one machine refuses
        credit = _merged_credit(j, spark, values, per_touch=per_touch)
    elif isinstance(resolved, str):
        weighed, kept = (j, None) if per_touch else _earning(j)
        raw = _heuristic(weighed, resolved, params)
        credit = _weighed_credit(j, weighed, kept, _normalise(weighed, raw), values, per_touch=per_touch)
    else:
        raw = _plugin_weights(resolved, name, j, params)
        credit = _weighed_credit(j, j, None, _normalise(j, raw), values, per_touch=per_touch)
    credit_value = {c: split_money(totals[c], c, credit.value_weights[c], keys) for c in sorted(values)}
    return Attribution(
        model=name,
        key=j.key,
        params=params,
        conversions=dict(zip(keys, credit.conversions.tolist(), strict=True)),
        value=credit_value,
        total_conversions=total_conv,
        total_value={c: Money.from_minor(t, c) for c, t in sorted(totals.items())},
        touches=credit.touches,
        **credit.extra,
    )


@attrs.frozen
class _Spark:
    """A Spark input that maps: what a weighed model's second map (or the per-touch map) needs."""

    data: Any
    key: str | None
    fx: FxTable | None
    currency: str | None
    stages: bool = False  # the model reads the journeys' stage times (the milestone models)
    weigh: _scale.Weigh | None = None


def _weigh(resolved: str | Model, name: str, params: Mapping[str, Any]) -> _scale.Weigh:
    """A weighed model's touch weights of a partition's journeys."""
    if isinstance(resolved, str):
        return functools.partial(_scale.heuristic_weights, model=resolved, params=dict(params))
    return functools.partial(_scale.plugin_weights, model=resolved, name=name, params=dict(params))


def _merged_credit(
    j: Journeys,
    spark: _Spark,
    values: Mapping[str, IntArray],
    *,
    per_touch: bool,
    extra: dict[str, Any] | None = None,
) -> _Credit:
    """A weighed model's credit merged on Spark (cached on ``j``), with its per-touch rows kept there."""
    conversions, value_weights = j._cache["weighed"]
    assert spark.weigh is not None
    touches = _touch_rows(spark, spark.weigh, sorted(values)) if per_touch else None
    return _Credit(conversions, value_weights, touches, extra or {})


def _touch_rows(spark: _Spark, weigh: _scale.Weigh, currencies: Sequence[str]) -> Any:
    """The per-touch credit of a Spark input by ``weigh``: kept on Spark, or (ids of other types) polars'."""
    touches = _scale.engine_touches(
        spark.data, spark.key, weigh, currencies, fx=spark.fx, currency=spark.currency, stages=spark.stages
    )
    if touches is not None:
        return touches
    whole = _journeys(spark.data, spark.key)  # weighed as one machine weighs them
    return touch_frame(whole, weigh(whole), journey_values(whole, spark.fx, spark.currency))


_MODEL_PARAMS = {
    "markov": frozenset({"order", "convention"}),
    "shapley": frozenset({"coalition", "method", "samples", "seed"}),
}


def _check_params(name: str, resolved: str | Model, params: Mapping[str, Any]) -> None:
    """Refuse parameters a built-in model does not take (a plugin gets whatever it is given)."""
    if name in _HEURISTIC_PARAMS or name in ("markov", "shapley"):
        allowed = _HEURISTIC_PARAMS.get(name) or _MODEL_PARAMS.get(name, frozenset())
        unknown = sorted(set(params) - allowed)
        if unknown and isinstance(resolved, str):
            raise ValueError(
                f"{name}: unknown parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(allowed)) or 'none'}"
            )


@attrs.frozen
class _Credit:
    """One model's credit before money is split: conversions per key and value weights per currency."""

    conversions: FloatArray
    value_weights: Mapping[str, FloatArray]
    touches: Any = None  # a polars DataFrame, or on Spark a PySpark one
    extra: dict[str, Any] = attrs.field(factory=dict)


def _markov_credit(
    j: Journeys,
    params: Mapping[str, Any],
    values: Mapping[str, IntArray],
    total_conv: float,
    *,
    per_touch: bool,
    spark: _Spark | None = None,
) -> _Credit:
    """Markov credit: removal effects shared globally, or each journey split by its keys' effects.

    ``spark``: ``j`` is the merged chain of a Spark input, whose journeys the ``journey`` convention
    weighs there (a second map, with the chain's effects).
    """
    order = params.get("order", 1)
    convention = params.get("convention", "global")
    if convention not in ("global", "journey"):
        raise ValueError(f"markov: convention must be 'global' or 'journey', not {convention!r}")
    chain = _markov(j, order, values)
    keys = j.keys
    extra = {
        "removal_effects": dict(zip(keys, chain.removal.tolist(), strict=True)),
        "value_removal_effects": {
            c: dict(zip(keys, r.tolist(), strict=True)) for c, r in chain.value_removal.items()
        },
        "conversion_probability": chain.probability,
        "transitions": chain.transitions,
    }
    if convention == "journey" and spark is not None:
        effects = dict(zip(keys, chain.removal.tolist(), strict=True))
        weigh = functools.partial(_scale.removal_weights, removal=effects)
        mapped = attrs.evolve(spark, weigh=weigh)
        got = _scale.engine_journeys(
            spark.data, spark.key, shape="weighed", fx=spark.fx, currency=spark.currency, weigh=weigh
        )
        assert got is not None  # the chain's map mapped the same input
        return _merged_credit(got[0], mapped, values, per_touch=per_touch, extra=extra)
    if convention == "journey":
        weighed, kept = (j, None) if per_touch else _earning(j)
        touch_w = _journey_weights(weighed, chain.removal)
        return _weighed_credit(j, weighed, kept, touch_w, values, per_touch=per_touch, extra=extra)
    if per_touch:
        raise ValueError("markov: per-touch credit needs convention='journey'")
    re_sum = chain.removal.sum()
    conv_credit = chain.removal / re_sum * total_conv if re_sum > 0 else np.zeros(len(keys))
    return _Credit(conv_credit, {c: chain.value_removal[c] for c in values}, extra=extra)


def _shapley_credit(
    j: Journeys,
    params: Mapping[str, Any],
    values: Mapping[str, IntArray],
    total_conv: float,
    *,
    per_touch: bool,
) -> _Credit:
    """Shapley credit: conversions in proportion to the (clipped) Shapley values of the keys."""
    if per_touch:
        raise ValueError("shapley: values belong to keys, not touches; per-touch credit is not available")
    keys = j.keys
    result = _shapley(
        j,
        values=values,
        coalition=params.get("coalition", "conversions"),
        method=params.get("method", "auto"),
        samples=params.get("samples", 1000),
        seed=params.get("seed", 0),
    )
    phi_sum = result.values.sum()
    conv_credit = (
        np.clip(result.values, 0, None) / phi_sum * total_conv if phi_sum > 0 else np.zeros(len(keys))
    )
    extra: dict[str, Any] = {"shapley_values": dict(zip(keys, result.values.tolist(), strict=True))}
    if result.interval is not None:
        extra["shapley_interval"] = {
            k: (float(lo), float(hi)) for k, (lo, hi) in zip(keys, result.interval.tolist(), strict=True)
        }
    return _Credit(conv_credit, result.value_values, extra=extra)


def _table_credit(
    j: Journeys,
    model: str,
    params: Mapping[str, Any],
    values: Mapping[str, IntArray],
    *,
    per_touch: bool,
    fx: FxTable | None,
    currency: str | None,
) -> _Credit:
    """Credit of a model whose weights depend only on position and length, through its weight table."""
    table = _weight_table(j, model, params)
    conv_credit = _table_sums(j, table, j.conversions, "conversions")
    value_weights = {
        c: _table_sums(j, table, v.astype(np.float64), None if fx else ("value", currency, c))
        for c, v in values.items()
    }
    touches = touch_frame(j, table.reshape(-1)[_cells(j)], values) if per_touch else None
    return _Credit(conv_credit, value_weights, touches)


def _weighed_credit(
    j: Journeys,
    weighed: Journeys,
    kept: npt.NDArray[np.bool_] | None,
    touch_w: FloatArray,
    values: Mapping[str, IntArray],
    *,
    per_touch: bool,
    extra: dict[str, Any] | None = None,
) -> _Credit:
    """Credit from normalised touch weights of ``weighed`` (``j``, or its journeys ``kept``)."""
    # Only touches of journeys with conversions or value add anything; the sums skip zeros alone.
    lengths = weighed.lengths()
    conv_credit = _key_sums(weighed, touch_w * np.repeat(weighed.conversions, lengths))
    value_weights = {
        c: _key_sums(
            weighed, touch_w * np.repeat((v if kept is None else v[kept]).astype(np.float64), lengths)
        )
        for c, v in values.items()
    }
    touches = touch_frame(j, touch_w, values) if per_touch else None
    return _Credit(conv_credit, value_weights, touches, extra or {})


def _key_sums(j: Journeys, weights: FloatArray) -> FloatArray:
    """Per key, the exact sum of its touches' ``weights`` rounded once (any partitioning gives it)."""
    return exact_sums(exact_parts(j.codes, weights), len(j.keys))


def compare(
    data: Any,
    *,
    models: Iterable[str | Model | tuple[str, Mapping[str, Any]]],
    key: str | None = None,
    fx: FxTable | None = None,
    currency: str | None = None,
) -> Comparison:
    """Run several models on the same journeys (built once) and lay their credits side by side.

    Args:
        data: Anything :func:`attribute` accepts.
        models: Model names, model objects, or ``(name, params)`` pairs such as ``("markov", {"order": 2})``.
        key: The touch column that gets credit.
        fx: Exchange rates (see :func:`attribute`).
        currency: Report value in this currency.

    Returns:
        A :class:`Comparison`; ``to_frame()`` has one column per model.

    On Spark each model that maps there (see :func:`attribute`) runs on the frames, and the journeys are
    read into the driver once for the others.

    Examples:
        >>> import polars as pl
        >>> paths = pl.DataFrame({"path": ["a > b > c"], "total_conversions": [10]})
        >>> compare(
        ...     paths, models=["first", "linear", ("position", {"first": 0.5, "last": 0.5})]
        ... ).to_frame().rows()
        [('a', 10.0, 3.333..., 5.0), ('b', 0.0, 3.333..., 0.0), ('c', 0.0, 3.333..., 5.0)]
    """
    built: list[Journeys] = []

    def journeys_for(model: str | Model, params: Mapping[str, Any]) -> tuple[Any, str | None]:
        # On Spark a model that maps there gets the frames (only its merged partials come back); the
        # others share one read of the journeys into the driver, as on one machine.
        if _scale.on_engine(data):
            resolved, name = _resolve_model(model)
            if _scale.shape(resolved, params, per_touch=False, name=name) is not None:
                return data, key
        if not built:
            built.append(_journeys(data, key))
        return built[0], None

    results: list[Attribution] = []
    labels: list[str] = []
    for spec in models:
        if isinstance(spec, tuple):
            name, params = spec
            source, by = journeys_for(name, params)
            result = attribute(source, model=name, key=by, fx=fx, currency=currency, **dict(params))
            label = result.model + (
                "(" + ", ".join(f"{k}={_plain(v)}" for k, v in dict(params).items()) + ")" if params else ""
            )
        else:
            source, by = journeys_for(spec, {})
            result = attribute(source, model=spec, key=by, fx=fx, currency=currency)
            label = result.model
        results.append(result)
        labels.append(label)
    if not results:
        raise ValueError("compare: models is empty")
    return Comparison(results=tuple(results), labels=tuple(labels))
