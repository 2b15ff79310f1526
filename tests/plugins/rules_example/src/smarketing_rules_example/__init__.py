"""An example smarketing plugin rule, registered under the ``smarketing.rules`` entry-point group.

Examples:
    >>> import smarketing as sm
    >>> plan = sm.load_plan("examples/misaligned.yaml")
    >>> [d.message for d in sm.check(plan, select=["EX001"]).diagnostics]
    ['the plan does not say what it is for']
"""

from __future__ import annotations

from collections.abc import Iterator

from smarketing.plan import AlignmentPlan
from smarketing.rules import Finding, RuleSpec, rule

__all__ = ["RULES", "plan_has_description"]


@rule(
    "EX001",
    area="collaboration",
    severity="info",
    title="The plan says what it is for",
    rationale="A plan both teams sign starts with why it exists; new people read it first.",
    fix="Add a 'description' to the plan.",
    url="https://github.com/smarketing/smarketing/tree/main/tests/plugins/rules_example",
)
def plan_has_description(plan: AlignmentPlan) -> Iterator[Finding]:
    """The plan has a description."""
    if not plan.description.strip():
        yield Finding("the plan does not say what it is for", path="description")


#: What the entry point names: a list of rules.
RULES: list[RuleSpec] = [plan_has_description]
