"""Public protocols and type aliases for code that plugs into smarketing.

Each plugin kind has one typed interface here, so plugin authors can check their work with mypy and the host
can check a loaded plugin at run time. Modules that define a plugin kind append their protocol to this module
(and to ``__all__``); the protocols only describe shapes and import nothing at run time.

* :class:`AttributionModel`: an attribution model registered under the entry-point group
  ``smarketing.attribution`` (see :mod:`smarketing.attribution`).

Examples:
    >>> import numpy as np
    >>> from smarketing.typing import AttributionModel
    >>> class Ascending:
    ...     name = "ascending"
    ...
    ...     def touch_weights(self, journeys, /, **params):
    ...         return (journeys.positions() + 1.0).astype(np.float64)
    >>> isinstance(Ascending(), AttributionModel)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from smarketing.attribution import Journeys

__all__ = ["AttributionModel", "FloatArray"]

FloatArray = npt.NDArray[np.float64]
"""A one-dimensional numpy array of float64, e.g. one weight per touch."""


@runtime_checkable
class AttributionModel(Protocol):
    """An attribution model that weighs the touches of each journey.

    The host calls :meth:`touch_weights` once with every journey at once (columnar, see
    :class:`~smarketing.attribution.Journeys`) and turns the weights into credits: each journey's weights are
    normalised to sum to 1, multiplied by its conversions, and value is split exactly with
    :func:`~smarketing.money.allocate`. So a plugin only says how much each touch matters.

    Attributes:
        name: The unique model name users pass as ``attribute(data, model=name)``.
    """

    name: str

    def touch_weights(self, journeys: Journeys, /, **params: Any) -> FloatArray:
        """One non-negative weight per touch, in the order of ``journeys.codes``.

        Args:
            journeys: All journeys, columnar.
            **params: The keyword arguments the user passed to ``attribute`` for this model.

        Returns:
            A float64 array of length ``journeys.n_touches``; within a journey only the ratios matter, and
            a journey whose weights are all zero is split evenly.
        """
        ...
