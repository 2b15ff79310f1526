"""Render the rules page of the docs from the rule registry (private).

``docs/rules.md`` is this function's output, committed; ``make rules-docs`` rewrites it and a test fails
when the two differ, so the page cannot drift from the code.

Examples:
    >>> page = render_rules_page()
    >>> "### J001: The journey has exactly one entry stage { #j001 }" in page
    True
"""

from __future__ import annotations

from smarketing.rules._catalogue import BUILTIN_RULES, DATA_RULES, ENGINE_CODES
from smarketing.rules._core import AREA_WEIGHTS, AREAS, DATA_WEIGHT, SEVERITY_PENALTY
from smarketing.typing import Severity

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

Given CRM data (`smarketing check PLAN --data DIR`, or `sm.check(plan, data=...)`), the
[data rules](#data-d) also check that the data speaks the plan's language.

This page is generated from the rule registry (`make rules-docs`); a test fails if it is out of date.
Plugin rules document themselves at the link they register.

| code | area | severity | rule |
|---|---|---|---|
"""


_DATA_INTRO = """\
These rules run only when the check is given CRM data: `smarketing check PLAN --data DIR` (or
`--source NAME:PATH`), or `sm.check(plan, data=...)` with a `Dataset` or a mapping of frames by record
kind (polars, pandas, pyarrow or DuckDB, read as every analysis reads them). Each finding names the record
kind and column (its path, such as `deals.owner`), the values at fault, the first records (ids, or the
leads of stage events and dispositions) and how many there are in all; on the command line it is located
at the data file it was read from.

Weight in the score: {weight} points, added to the plan areas' 100 only when data is given; the score is
then scaled back to 100 over every area checked. A check without data scores exactly as before.

Deal splits have no rule here: a deal whose revenue splits do not total 100% is refused when the data is
read (a `DataError` naming the deal), before any rule runs.
"""


def render_rules_page() -> str:
    """The Markdown of ``docs/rules.md``: one section and anchor per code, grouped by area."""
    lines = [_INTRO.rstrip("\n")]
    lines += [
        f"| [{r.code}](#{r.code.lower()}) | {r.area} | {r.severity} | {r.title} |" for r in BUILTIN_RULES
    ]
    lines += [f"| [{r.code}](#{r.code.lower()}) | data | {r.severity} | {r.title} |" for r in DATA_RULES]
    lines += [f"| [{c.code}](#{c.code.lower()}) | engine | {c.severity} | {c.title} |" for c in ENGINE_CODES]
    for area in AREAS:
        lines += [
            "",
            f"## {_AREA_TITLES[area]}",
            "",
            f"Weight in the score: {AREA_WEIGHTS[area]} of 100 points.",
        ]
        for r in (r for r in BUILTIN_RULES if r.area == area):
            lines += _section(r.code, r.title, r.severity, r.rationale, r.fix)
    lines += ["", "## Data (D)", "", _DATA_INTRO.format(weight=DATA_WEIGHT).rstrip("\n")]
    for d in DATA_RULES:
        lines += _section(d.code, d.title, d.severity, d.rationale, d.fix)
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


def _section(code: str, title: str, severity: Severity, rationale: str, fix: str) -> list[str]:
    return [
        "",
        f"### {code}: {title} {{ #{code.lower()} }}",
        "",
        f"*Default severity: {severity} (costs {SEVERITY_PENALTY[severity]}% of the area per finding).*",
        "",
        f"**Why.** {rationale}",
        "",
        f"**Fix.** {fix}",
    ]


if __name__ == "__main__":  # pragma: no cover - `make rules-docs`
    import sys

    sys.stdout.write(render_rules_page())
