"""The models attribution can run: the built-in names and the plugins of the entry-point group."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs
import numpy as np

from smarketing import _plugins as _loader
from smarketing.attribution._kernel import frozen_array
from smarketing.attribution.journeys import Journeys
from smarketing.errors import PluginError, PluginWarning
from smarketing.typing import AttributionModel, FloatArray

ENTRY_POINT_GROUP = "smarketing.attribution"
"""The entry-point group that attribution model plugins register under."""

BUILTIN_MODELS: tuple[str, ...] = (
    "custom",
    "first",
    "full_path",
    "inverse_j",
    "j_shaped",
    "last",
    "linear",
    "markov",
    "position",
    "shapley",
    "time_decay",
    "w_shaped",
)

__all__ = ["BUILTIN_MODELS", "ENTRY_POINT_GROUP", "Model", "available_models", "installed_models"]

#: An attribution model over :class:`Journeys`: the plugin protocol
#: :class:`smarketing.typing.AttributionModel` with its journeys type filled in.
Model: TypeAlias = AttributionModel[Journeys]
"""The names of the models smarketing ships."""


@cache
def installed_models() -> tuple[Mapping[str, Model], Mapping[str, str]]:
    """Models registered by other distributions, and names that cannot be used (with the reason).

    Each entry point loads on its own (:func:`smarketing._plugins.load`): one that fails, exits or
    clashes is skipped with a :class:`~smarketing.errors.PluginWarning` naming it, and the others load.
    """
    found: dict[str, Model] = {}
    origin: dict[str, str] = {}
    broken: dict[str, str] = {}

    def skip(name: str, message: str) -> None:
        broken[name] = message
        warnings.warn(
            str(PluginError(message, plugin=name, group=ENTRY_POINT_GROUP)), PluginWarning, stacklevel=4
        )

    for point in _loader.entry_points(ENTRY_POINT_GROUP):
        try:
            loaded = _loader.load(ENTRY_POINT_GROUP, point)
            where = f"{point.name} = {point.value}"
            model, name = _loader.guard(
                ENTRY_POINT_GROUP, point.name, f"failed to load ({where})", _adopt, loaded
            )
        except PluginError as error:
            skip(error.plugin or "?", str(error).removeprefix(f"{ENTRY_POINT_GROUP}: {error.plugin}: "))
            continue
        if name != point.name:
            skip(point.name, f"{where} names itself {name!r}; the entry point and model name must match")
            continue
        if name in BUILTIN_MODELS:
            warnings.warn(
                f"{ENTRY_POINT_GROUP}: {name}: {where} uses the built-in name {name!r}; "
                "the plugin is ignored",
                PluginWarning,
                stacklevel=3,
            )
            continue
        if name in found:
            skip(name, f"registered twice ({origin[name]} and {where}); uninstall one")
            del found[name]
            continue
        if name in broken:
            continue
        found[name] = model
        origin[name] = where
    return MappingProxyType(found), MappingProxyType(broken)


def _adopt(loaded: object) -> tuple[Model, str]:
    """The model an entry point names (a class is instantiated) and its name, checked; under the guard."""
    model = loaded() if isinstance(loaded, type) else loaded
    return model, _model_name(model)  # type: ignore[return-value]  # _model_name checked its shape


def _model_name(model: object) -> str:
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not callable(getattr(model, "touch_weights", None)):
        raise _loader.ContractError(
            f"{_loader.text_line(repr(model))} does not implement AttributionModel (name, touch_weights)"
        )
    return _loader.text(name, "the model name", limit=100, empty=False)


def available_models() -> list[str]:
    """Names of every usable model: the built-in ones and those of installed plugins, sorted.

    Examples:
        >>> {"markov", "shapley", "position"} <= set(available_models())
        True
    """
    return sorted({*BUILTIN_MODELS, *installed_models()[0]})


def _resolve_model(model: str | Model) -> tuple[str | Model, str]:
    """The model to run and its name; a model object's name is read once, here."""
    if not isinstance(model, str):
        try:
            return model, _model_name(model)
        except _loader.ContractError:
            raise TypeError(
                f"model must be a model name or an AttributionModel, not {type(model).__name__}"
            ) from None
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # its name or touch_weights raised (sys.exit() included)
            raise PluginError(
                f"the model given: {_loader.describe(error)}", group=ENTRY_POINT_GROUP
            ) from error
    if model in BUILTIN_MODELS:
        return model, model
    plugins, broken = installed_models()
    if model in plugins:
        return plugins[model], model
    if model in broken:
        raise PluginError(broken[model], plugin=model, group=ENTRY_POINT_GROUP)
    raise PluginError(
        f"unknown attribution model {model!r}; available: {', '.join(available_models())}",
        plugin=model,
        group=ENTRY_POINT_GROUP,
    )


def _per_journey(name: str) -> bool:
    """Whether the installed plugin ``name`` declares ``per_journey = True`` (runs on a Spark partition).

    False for a built-in name, an unknown or broken plugin (see :func:`_declares_per_journey`).
    """
    model = installed_models()[0].get(name)
    return model is not None and _declares_per_journey(model, name)


def _declares_per_journey(model: Model, name: str) -> bool:
    """Whether the plugin ``model`` (named ``name``) declares ``per_journey = True``.

    The declaration says its weights of a journey depend on that journey alone, so it may run on any
    subset of the journeys. False for any other value of the attribute; reading the attribute is plugin
    code, under the guard (a failure is a :class:`PluginError` naming it).
    """
    declared = _loader.guard(ENTRY_POINT_GROUP, name, "per_journey", getattr, model, "per_journey", False)
    return declared is True


def _plugin_weights(model: Model, name: str, j: Journeys, params: Mapping[str, Any]) -> FloatArray:
    """A plugin's touch weights, checked: one finite number >= 0 per touch, in a host-owned float64 array.

    The plugin gets its own copy of the journeys (and of the parameters), so nothing it does changes
    what the host computes from them afterwards.
    """
    raw = _loader.guard(
        ENTRY_POINT_GROUP, name, "touch_weights", _call_weights, model, _private(j), dict(params)
    )
    problem = None
    if raw.dtype.kind not in "iuf":
        problem = f"numbers, not an array of {raw.dtype} ({type(raw).__name__})"
    elif raw.shape != (j.n_touches,):
        problem = f"one weight per touch ({j.n_touches}), not an array of shape {raw.shape}"
    else:
        weights: FloatArray = raw.astype(np.float64)
        finite = np.isfinite(weights)
        if not np.all(finite):
            bad = int(np.argmin(finite))
            problem = f"finite weights; touch {bad} has {weights[bad]}"
        elif np.any(weights < 0):
            bad = int(np.argmax(weights < 0))
            problem = f"weights >= 0; touch {bad} has {weights[bad]}"
        else:
            return weights
    raise PluginError(
        f"touch_weights must return {j.n_touches} finite weights >= 0 (float64): expected {problem}",
        plugin=name,
        group=ENTRY_POINT_GROUP,
    )


def _call_weights(model: Model, j: Journeys, params: dict[str, Any]) -> Any:
    # Converting runs plugin code too (__array__, __iter__, __len__): under the same guard, into a copy.
    out = model.touch_weights(j, **params)
    if isinstance(out, Mapping | str | bytes):
        raise _loader.ContractError(
            f"touch_weights must return an array of weights, not {type(out).__name__}"
        )
    return np.array(out, copy=True)


def _private(j: Journeys) -> Journeys:
    """A copy of ``j`` whose arrays and cache a plugin may do anything with."""

    def own(array: Any) -> Any:
        return None if array is None else frozen_array(np.array(array, copy=True), array.dtype.type)

    return attrs.evolve(
        j,
        codes=own(j.codes),
        offsets=own(j.offsets),
        ids=j.ids.clone(),
        conversions=own(j.conversions),
        nulls=own(j.nulls),
        value=own(j.value),
        currency=own(j.currency),
        times=own(j.times),
        conversion_times=own(j.conversion_times),
        touch_ids=None if j.touch_ids is None else j.touch_ids.clone(),
        stage_times={k: own(v) for k, v in j.stage_times.items()},
    )
