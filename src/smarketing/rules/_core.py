"""Rule definitions: what a rule returns, how one is declared, the areas and their weights."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, get_args

import attrs

from smarketing.errors import RuleError
from smarketing.typing import RuleArea, Severity

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = [
    "AREAS",
    "AREA_WEIGHTS",
    "CODE_PATTERN",
    "DATA_AREA",
    "DATA_WEIGHT",
    "DOCS_URL",
    "SEVERITIES",
    "SEVERITY_PENALTY",
    "Finding",
    "RuleSpec",
    "rule",
]

#: Areas in report order.
AREAS: Final[tuple[RuleArea, ...]] = get_args(RuleArea)

#: Points each area contributes to a perfect score of 100.
AREA_WEIGHTS: Final[Mapping[RuleArea, int]] = MappingProxyType(
    {
        "journey": 20,
        "sla": 15,
        "kpis": 15,
        "rewards": 15,
        "personas": 10,
        "language": 10,
        "collaboration": 15,
    }
)

DataArea: TypeAlias = Literal["data"]
"""The area of the data rules: they run only when :func:`~smarketing.rules.check` is given data."""

CheckArea: TypeAlias = RuleArea | DataArea
"""An area of the score: one of the plan's :data:`AREAS`, or :data:`DATA_AREA`."""

#: Area of the data rules (``D001``...): it is scored only when ``check`` is given data.
DATA_AREA: Final[DataArea] = "data"

#: Points the data area adds to the plan areas' 100 when ``check`` is given data; the score is then
#: scaled back to 100 over every area checked, so a plan-only check scores exactly as before.
DATA_WEIGHT: Final = 20

SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)

#: Percent of an area's weight one finding removes (an area never drops below 0).
SEVERITY_PENALTY: Final[Mapping[Severity, int]] = MappingProxyType({"error": 50, "warning": 20, "info": 5})

#: Rule codes: one to three capital letters, then three digits (``J001``, ``EX001``).
CODE_PATTERN: Final = re.compile(r"^[A-Z]{1,3}[0-9]{3}$")

#: Where the rules page lives; each rule has the anchor ``#<code in lower case>``.
DOCS_URL: Final = "https://smarketing.readthedocs.io/en/latest/rules/"


@attrs.frozen
class Finding:
    """What a rule reports: a message about one place of the plan.

    Attributes:
        message: What is wrong, naming the stage, KPI or person concerned.
        path: Field path in the plan (``journey.stages[3].owner``); empty for the whole plan.
        hint: How to fix this finding, when more specific than the rule's general fix.

    Examples:
        >>> Finding("no entry stage", path="journey.stages")
        Finding(message='no entry stage', path='journey.stages', hint=None)
    """

    message: str
    path: str = ""
    hint: str | None = None


RuleFunction = Callable[["AlignmentPlan"], Iterable[Finding]]


def _check_code(_: object, __: object, value: str) -> None:
    if not CODE_PATTERN.match(value):
        raise RuleError(f"rule code {value!r} must be 1-3 capital letters and 3 digits, like 'J001'")


def _check_area(_: object, __: object, value: str) -> None:
    if value not in AREAS:
        raise RuleError(f"rule area {value!r} is not one of {', '.join(AREAS)}")


def _check_severity(_: object, __: object, value: str) -> None:
    if value not in SEVERITIES:
        raise RuleError(f"severity {value!r} is not one of {', '.join(SEVERITIES)}")


def _check_text(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"rule {attribute.name} must be non-empty text")


@attrs.frozen
class RuleSpec:
    """A registered rule: a pure function of the plan and the facts that explain it.

    Implements :class:`smarketing.typing.Rule`. Build one with :func:`rule`.
    """

    code: str = attrs.field(validator=_check_code)
    area: RuleArea = attrs.field(validator=_check_area)
    severity: Severity = attrs.field(validator=_check_severity)
    title: str = attrs.field(validator=_check_text)
    rationale: str = attrs.field(validator=_check_text)
    fix: str = attrs.field(validator=_check_text)
    function: RuleFunction = attrs.field(repr=False)
    url: str | None = None

    def __call__(self, plan: AlignmentPlan, /) -> Iterable[Finding]:
        """Run the rule on a plan."""
        return self.function(plan)


def rule(
    code: str,
    *,
    area: RuleArea,
    severity: Severity,
    title: str,
    rationale: str,
    fix: str,
    url: str | None = None,
) -> Callable[[RuleFunction], RuleSpec]:
    """Declare a rule: decorate a function ``plan -> Iterable[Finding]``.

    The decorator has no side effect: list the result where rules are collected (the built-in
    catalogue, or a plugin's entry point).

    Args:
        code: Stable code, 1-3 capital letters and 3 digits.
        area: Area of the alignment score it counts against.
        severity: Default severity of its findings.
        title: What the plan must do, in one line.
        rationale: Why it matters.
        fix: How to fix a finding.
        url: Documentation link; built-in rules default to their anchor on the rules page.

    Raises:
        RuleError: A field is invalid.

    Examples:
        >>> @rule(
        ...     "EX901",
        ...     area="kpis",
        ...     severity="info",
        ...     title="Plans have a description",
        ...     rationale="Readers need to know what the plan is for.",
        ...     fix="Add a description.",
        ... )
        ... def has_description(plan):
        ...     if not plan.description:
        ...         yield Finding("the plan has no description", path="description")
        >>> has_description.code, has_description.url
        ('EX901', None)
    """

    def decorate(function: RuleFunction) -> RuleSpec:
        return RuleSpec(
            code=code,
            area=area,
            severity=severity,
            title=title,
            rationale=rationale,
            fix=fix,
            function=function,
            url=url,
        )

    return decorate


def builtin(
    code: str, *, area: RuleArea, severity: Severity, title: str, rationale: str, fix: str
) -> Callable[[RuleFunction], RuleSpec]:
    """:func:`rule` for the built-in catalogue: the docs anchor is derived from the code."""
    return rule(
        code,
        area=area,
        severity=severity,
        title=title,
        rationale=rationale,
        fix=fix,
        url=f"{DOCS_URL}#{code.lower()}",
    )
