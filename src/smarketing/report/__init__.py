"""The alignment report: the plan and its data in one self-contained HTML page, for a browser or paper.

:func:`report` runs the library's public analyses once (the check, the funnel, conformance, the SLA, the
scorecard, the waterfall, attribution, lead scores and agreement, the reward statements) and returns a
:class:`Report`: each analysis's card and chart in one page with a table of contents, inline styles (a print
style sheet too), inline SVG charts, no script and nothing to load. :meth:`Report.write` saves it; the same
inputs give the same bytes.
"""

from smarketing.report.build import report
from smarketing.report.result import Report, Section

__all__ = ["Report", "Section", "report"]
