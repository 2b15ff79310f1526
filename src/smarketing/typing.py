"""Public protocols and type aliases for code that plugs into smarketing.

Each plugin kind has one typed interface here, so plugin authors can check their work with mypy and the host
can check a loaded plugin at run time. The protocols only describe shapes: this module imports nothing of
smarketing (it sits in the vocabulary layer, below every subject), so a protocol names the subject's types it
works on as type parameters, with the concrete pairing written beside the subject:

* :class:`AttributionModel` ``[Journeys]``, spelled :data:`smarketing.attribution.Model`;
* :class:`Rule` ``[AlignmentPlan, Finding]``, spelled :data:`smarketing.rules.PlanRule`;
* :class:`Connector` ``[Loaded]``, spelled :data:`smarketing.connectors.Source`.

A bare ``AttributionModel``, ``Rule`` or ``Connector`` leaves the parameters open (``Any``).

* :class:`AttributionModel`: an attribution model registered under the entry-point group
  ``smarketing.attribution`` (see :mod:`smarketing.attribution`).
* :class:`Rule`: an alignment rule registered under the entry-point group ``smarketing.rules`` (see
  :mod:`smarketing.rules`), with its :data:`Severity` and :data:`RuleArea`.

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
    >>> from smarketing.typing import Rule
    >>> from smarketing.rules import builtin_rules
    >>> isinstance(builtin_rules()[0], Rule)
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeVar

__all__ = [
    "AttributionModel",
    "Connector",
    "FindingT_co",
    "FloatArray",
    "JourneysT_contra",
    "LoadedT_co",
    "PlanT_contra",
    "Rule",
    "RuleArea",
    "Severity",
]


# --------------------------------------------------------------------------------------------------
# AttributionModel: how much each touch of a journey matters (entry-point group ``smarketing.attribution``).

FloatArray = npt.NDArray[np.float64]
"""A one-dimensional numpy array of float64, e.g. one weight per touch."""

JourneysT_contra = TypeVar("JourneysT_contra", contravariant=True, default=Any)
"""What a model weighs: :class:`smarketing.attribution.Journeys` (left open here, see the module text)."""


@runtime_checkable
class AttributionModel(Protocol[JourneysT_contra]):
    """An attribution model that weighs the touches of each journey.

    The host calls :meth:`touch_weights` once with every journey at once (columnar, see
    :class:`~smarketing.attribution.Journeys`) and turns the weights into credits: each journey's weights are
    normalised to sum to 1, multiplied by its conversions, and value is split exactly with
    :func:`~smarketing.money.allocate`. So a plugin only says how much each touch matters.

    Attributes:
        name: The unique model name users pass as ``attribute(data, model=name)``.

    A model may also set ``per_journey = True`` (a class attribute; not part of the protocol, so leaving it
    out is the same as ``False``): a promise that the weights of each journey depend on that journey alone,
    bit for bit, whatever other journeys are passed with it. ``compute_rewards`` then credits its deals
    per Spark partition instead of reading every journey into the driver (see *Running on Spark*).
    """

    name: str

    def touch_weights(self, journeys: JourneysT_contra, /, **params: Any) -> FloatArray:
        """One non-negative weight per touch, in the order of ``journeys.codes``.

        Args:
            journeys: All journeys, columnar.
            **params: The keyword arguments the user passed to ``attribute`` for this model.

        Returns:
            A float64 array of length ``journeys.n_touches``; within a journey only the ratios matter, and
            a journey whose weights are all zero is split evenly.
        """
        ...


# --------------------------------------------------------------------------------------------------
# Rule: one alignment check of a plan (entry-point group ``smarketing.rules``).

Severity = Literal["error", "warning", "info"]
"""How bad a rule finding is; ``error`` findings make a check fail."""

RuleArea = Literal["journey", "sla", "kpis", "rewards", "personas", "language", "collaboration"]
"""The part of alignment a rule checks; each area has a weight in the alignment score."""


PlanT_contra = TypeVar("PlanT_contra", contravariant=True, default=Any)
"""What a rule reads: :class:`smarketing.plan.AlignmentPlan` (left open here, see the module text)."""

FindingT_co = TypeVar("FindingT_co", covariant=True, default=Any)
"""What a rule yields: :class:`smarketing.rules.Finding` (left open here, see the module text)."""


@runtime_checkable
class Rule(Protocol[PlanT_contra, FindingT_co]):
    """A rule: a small pure function of a plan, with the facts a linter needs to explain it.

    :func:`smarketing.rules.rule` turns a function into one; plugins may also provide any object with
    these attributes. Calling the rule yields :class:`~smarketing.rules.Finding` objects; the engine
    adds the code, severity, file location and docs link.
    """

    @property
    def code(self) -> str:
        """Stable code such as ``J001``: capital letters then three digits."""

    @property
    def area(self) -> RuleArea:
        """Area of the alignment score the rule counts against."""

    @property
    def severity(self) -> Severity:
        """Default severity of its findings."""

    @property
    def title(self) -> str:
        """What a plan must do, in one line."""

    @property
    def rationale(self) -> str:
        """Why it matters for alignment."""

    @property
    def fix(self) -> str:
        """How to fix a finding."""

    @property
    def url(self) -> str | None:
        """Where the rule is documented."""

    def __call__(self, plan: PlanT_contra, /) -> Iterable[FindingT_co]:
        """The findings of the rule on ``plan``; none when the plan follows it."""


# --------------------------------------------------------------------------------------------------
# Connector: reads a CRM source into canonical records (entry-point group ``smarketing.connectors``).

LoadedT_co = TypeVar("LoadedT_co", covariant=True, default=Any)
"""What a load gives: :class:`smarketing.connectors.Loaded` (left open here, see the module text)."""


@runtime_checkable
class Connector(Protocol[LoadedT_co]):
    """A connector: reads one CRM source into a :class:`~smarketing.records.Dataset` and a load report.

    A connector is made with its options (the source path, time zone, value maps, ...) as keyword-only
    arguments, documented in its class docstring's ``Args:`` section: ``smarketing sources`` lists them.
    :func:`smarketing.connectors.load_connector` makes one by name. Most connectors map their source's
    columns and values to the canonical ones and end in :func:`smarketing.connectors.intake`, which
    validates every row and says which were refused and why.

    A connector that can load only what changed also has ``load_changes(*, since, until, strict=True,
    progress=None)``, returning the records changed in ``[since, until)``;
    :class:`smarketing.testing.ConnectorContract` checks that consecutive windows add up to a full load.
    """

    @property
    def name(self) -> str:
        """The name users pass to ``load_connector`` and ``--source NAME:PATH``."""

    def load(self, *, strict: bool = True, progress: bool | None = None) -> LoadedT_co:
        """Read the source.

        Args:
            strict: Raise a :class:`~smarketing.errors.DataError` naming the first refused rows (and how
                many there are in all) when any row is refused; ``False`` keeps the good rows and lists
                every refused one in the report.
            progress: Show a progress bar; ``None`` shows one only on a terminal.
        """
