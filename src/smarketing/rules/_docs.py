"""Render the rules page of the docs from the rule registry (private).

``docs/rules.md`` is this function's output, committed; ``make rules-docs`` rewrites it and a test fails
when the two differ, so the page cannot drift from the code.

Examples:
    >>> page = render_rules_page()
    >>> "### J001: The journey has exactly one entry stage { #j001 }" in page
    True
"""

from __future__ import annotations

from smarketing.rules._catalogue import BUILTIN_RULES, ENGINE_CODES
from smarketing.rules._core import AREA_WEIGHTS, AREAS, SEVERITY_PENALTY

_AREA_TITLES = {
    "journey": "Journey (J)",
    "sla": "Service level agreement (S)",
    "kpis": "KPIs (K)",
    "rewards": "Rewards (R)",
    "personas": "Personas (P)",
    "language": "Language (L)",
    "collaboration": "Collaboration (C)",
}

_INTRO = """\
# Rules

`smarketing check` and [`sm.check`][smarketing.rules.check] run these rules on a plan. Each finding is a
diagnostic with the rule's code, a severity, the plan path and `file:line`, and a link to the rule's
entry below. `error` findings fail the check; `warning` and `info` findings lower the
[alignment score](reference/check-output.md#the-alignment-score) only.

Some agreements are not rules because a plan that breaks them does not load at all: every id a part
refers to must exist, and every KPI formula must parse, name known metrics (built-in or from an installed
plugin) and give the KPI's unit. `smarketing check` reports such a plan with exit code 2 and each problem
as `file:line: kpis[4].formula: col 12: unknown metric 'sql'; did you mean 'sqls'?`.

This page is generated from the rule registry (`make rules-docs`); a test fails if it is out of date.
Plugin rules document themselves at the link they register.

| code | area | severity | rule |
|---|---|---|---|
"""


def render_rules_page() -> str:
    """The Markdown of ``docs/rules.md``: one section and anchor per code, grouped by area."""
    lines = [_INTRO.rstrip("\n")]
    lines += [
        f"| [{r.code}](#{r.code.lower()}) | {r.area} | {r.severity} | {r.title} |" for r in BUILTIN_RULES
    ]
    lines += [f"| [{c.code}](#{c.code.lower()}) | engine | {c.severity} | {c.title} |" for c in ENGINE_CODES]
    for area in AREAS:
        lines += [
            "",
            f"## {_AREA_TITLES[area]}",
            "",
            f"Weight in the score: {AREA_WEIGHTS[area]} of 100 points.",
        ]
        for r in (r for r in BUILTIN_RULES if r.area == area):
            lines += [
                "",
                f"### {r.code}: {r.title} {{ #{r.code.lower()} }}",
                "",
                f"*Default severity: {r.severity} (costs {SEVERITY_PENALTY[r.severity]}% of the area per "
                "finding).*",
                "",
                f"**Why.** {r.rationale}",
                "",
                f"**Fix.** {r.fix}",
            ]
    lines += [
        "",
        "## The engine (SM)",
        "",
        "Diagnostics about the check itself. They fail the check but do not count in the score.",
    ]
    for c in ENGINE_CODES:
        lines += [
            "",
            f"### {c.code}: {c.title} {{ #{c.code.lower()} }}",
            "",
            f"*Severity: {c.severity}.*",
            "",
            f"**Why.** {c.rationale}",
            "",
            f"**Fix.** {c.fix}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - `make rules-docs`
    import sys

    sys.stdout.write(render_rules_page())
