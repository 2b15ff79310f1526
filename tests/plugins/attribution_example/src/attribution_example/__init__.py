"""An example attribution model plugin: later touches get more credit (1, 2, 3, ... by position).

Registered in this package's ``pyproject.toml`` under the entry-point group ``smarketing.attribution``::

    [project.entry-points."smarketing.attribution"]
    ascending = "attribution_example:Ascending"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from smarketing.attribution import Journeys

__all__ = ["Ascending"]


class Ascending:
    """Weight each touch by its 1-based position in the journey."""

    name = "ascending"
    #: A journey's weights are its touches' positions: they depend on that journey alone, so
    #: ``compute_rewards`` may credit its deals per Spark partition.
    per_journey = True

    def touch_weights(self, journeys: Journeys, /, **params: Any) -> npt.NDArray[np.float64]:
        """Weights 1, 2, 3, ... along each journey (the host normalises them per journey)."""
        if params:
            raise ValueError(f"ascending: takes no parameters, got {', '.join(sorted(params))}")
        return (journeys.positions() + 1).astype(np.float64)
