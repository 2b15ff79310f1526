"""Broken plugin objects for smarketing's own tests; no entry point names them."""

from __future__ import annotations

from collections.abc import Iterator

from smarketing.plan import AlignmentPlan
from smarketing.rules import Finding, rule


@rule("EX002", area="kpis", severity="warning", title="Crashes", rationale="For tests.", fix="None.")
def crashes(plan: AlignmentPlan) -> Iterator[Finding]:
    """Raise on every plan."""
    raise ZeroDivisionError(f"{len(plan.kpis)} / 0")
    yield Finding("unreachable")


@rule("J001", area="journey", severity="error", title="Takes a taken code", rationale="Tests.", fix="None.")
def duplicate(plan: AlignmentPlan) -> Iterator[Finding]:
    """Reuse a built-in code."""
    yield from ()


NOT_A_RULE = "just text"
