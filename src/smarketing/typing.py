"""Public protocols and type aliases: the interfaces plugins and user code implement.

Each protocol lives in its own block below, with the aliases it needs, so that a new interface is one
more block (and one more name in ``__all__``).

Examples:
    >>> from smarketing.typing import Rule
    >>> from smarketing.rules import builtin_rules
    >>> isinstance(builtin_rules()[0], Rule)
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan
    from smarketing.rules import Finding

__all__ = [
    "Rule",
    "RuleArea",
    "Severity",
]


# --------------------------------------------------------------------------------------------------
# Rule: one alignment check of a plan (entry-point group ``smarketing.rules``).

#: How bad a rule finding is; ``error`` findings make a check fail.
Severity = Literal["error", "warning", "info"]

#: The part of alignment a rule checks; each area has a weight in the alignment score.
RuleArea = Literal["journey", "sla", "kpis", "rewards", "personas", "language", "collaboration"]


@runtime_checkable
class Rule(Protocol):
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

    def __call__(self, plan: AlignmentPlan, /) -> Iterable[Finding]:
        """The findings of the rule on ``plan``; none when the plan follows it."""
