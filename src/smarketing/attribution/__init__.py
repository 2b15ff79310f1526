"""Multi-touch attribution: who made this deal happen, across marketing and sales touches.

:func:`attribute` credits conversions and their value to a *key* of the touches (``channel``, ``team``,
``owner``, ``campaign`` or any touch column) by one model:

=================  ==============================================================================
``first``          all credit to the first touch
``last``           all credit to the last touch
``linear``         equal credit to every touch
``position``       U-shaped: 40% first, 40% last, 20% spread over the middle (configurable)
``j_shaped``       20% first, 60% last, 20% middle
``inverse_j``      60% first, 20% last, 20% middle
``w_shaped``       30% each to the first touch, the touch that created the lead and the one that
                   created the opportunity, 10% over the rest (milestones from stage events)
``full_path``      22.5% each to those three and the last (deal-won) touch, 10% over the rest
``time_decay``     weight halves every ``half_life`` back from the conversion
``custom``         a function of (position, path length), or a weight table by path length
``markov``         removal effects of an order-k Markov chain, solved exactly (no simulation)
``shapley``        Shapley values of a coalition game over keys, exact up to 20 keys
=================  ==============================================================================

Plugins add models through the entry-point group ``smarketing.attribution`` (see
:class:`smarketing.typing.AttributionModel`).

Input is built once into :class:`Journeys` (columnar: one code per touch, journey offsets, conversions,
non-conversions and value per journey) from touchpoint records or a :class:`~smarketing.records.Dataset`
(:meth:`Journeys.from_touchpoints`), a long-form frame of any library narwhals supports
(:meth:`Journeys.from_frame`), or ChannelAttribution's aggregated paths (:meth:`Journeys.from_paths`);
:func:`attribute` accepts any of these directly.

Conversions are floats (they may be fractional); value is exact: each currency's total is split over keys
with :func:`~smarketing.money.allocate`, so credits add up to the cent and ties go to the smaller key.

Examples:
    >>> import polars as pl
    >>> paths = pl.DataFrame(
    ...     {
    ...         "path": ["ads > email > demo", "ads", "email > demo"],
    ...         "total_conversions": [1, 0, 1],
    ...         "total_null": [0, 3, 1],
    ...     }
    ... )
    >>> attribute(paths, model="linear").conversions
    {'ads': 0.333..., 'demo': 0.833..., 'email': 0.833...}
    >>> round(attribute(paths, model="markov").removal_effects["demo"], 4)
    1.0
"""

from __future__ import annotations

# The folder, top-down:
#   journeys.py   Journeys, the columnar form every model runs on, and its constructors
#   credit.py     the verbs: attribute() and compare()
#   heuristic.py  position, milestone, time-decay and custom weights; weight tables
#   markov.py     the absorbing Markov chain and its removal effects
#   shapley.py    exact and sampled Shapley values over key sets
#   registry.py   the built-in model names and the entry-point plugins
#   results.py    Attribution and Comparison
#   _touches.py   the steps of building journeys from touches in long form
#   _value.py     value columns in minor units, currencies, won deals per lead (FX via frames._money)
#   _split.py     journey values in one currency; exact splits over keys and touches
#   _kernel.py    columnar kernels: string coding, path splitting, journey order (tested directly)
#   _exact.py     exact float sums per key, the same in any grouping (the weighed models' credit)
#   _scale.py     map, reduce and finalise on Spark: partials per partition of complete leads
from smarketing.attribution.credit import attribute, compare
from smarketing.attribution.journeys import Journeys
from smarketing.attribution.registry import BUILTIN_MODELS, ENTRY_POINT_GROUP, Model, available_models
from smarketing.attribution.results import Attribution, Comparison
from smarketing.errors import PluginWarning

__all__ = [
    "Attribution",
    "BUILTIN_MODELS",
    "Comparison",
    "ENTRY_POINT_GROUP",
    "Journeys",
    "Model",
    "PluginWarning",
    "attribute",
    "available_models",
    "compare",
]
