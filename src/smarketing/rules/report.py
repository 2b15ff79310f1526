"""What :func:`~smarketing.rules.check` returns: diagnostics and the score, and their output forms.

A :class:`CheckReport` renders as text, JSON-ready data, a polars frame, HTML and SARIF. The classes
are re-exported by :mod:`smarketing.rules`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import PurePath
from typing import Any, Final
from urllib.parse import quote

import attrs
import polars as pl

from smarketing import _display
from smarketing.records import RECORD_KINDS
from smarketing.rules._catalogue import ENGINE_CODES, EngineCode
from smarketing.rules._core import (
    AREA_WEIGHTS,
    AREAS,
    DATA_AREA,
    DATA_WEIGHT,
    DOCS_URL,
    SEVERITIES,
    SEVERITY_PENALTY,
    CheckArea,
)
from smarketing.rules._data import DataRule
from smarketing.typing import Rule, Severity

__all__ = ["AreaScore", "CheckReport", "Diagnostic", "ENGINE_AREA", "JSON_FORMAT_VERSION", "score_areas"]

#: Area of diagnostics about the checking itself (a rule that crashed, a plugin that did not load);
#: they count in the severities but not in the score.
ENGINE_AREA: Final = "engine"

#: Version of the ``to_dict`` / JSON layout; bumped on any incompatible change.
JSON_FORMAT_VERSION: Final = 1

_HTML_ROW_LIMIT: Final = 200
_SARIF_LEVELS: Final[Mapping[str, str]] = {"error": "error", "warning": "warning", "info": "note"}
_LOCATION = re.compile(r"^(?P<file>.*):(?P<line>[0-9]+)$")
_DIGITS = re.compile(r"([0-9]+)")
#: Report order of the areas: the plan's, then the data's, then the engine's.
_ORDER: Final = (*AREAS, DATA_AREA, ENGINE_AREA)


def _uri(file: str) -> str:
    """A relative URI reference for a plan file path (SARIF wants URIs, not OS paths)."""
    return quote(PurePath(file).as_posix())


def _natural(text: str) -> tuple[str | int, ...]:
    # "stages[10]" after "stages[9]": compare digit runs as numbers.
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text))


@attrs.frozen
class Diagnostic:
    """One finding of one rule, ready to show: code, severity, message, place, fix and docs link.

    Examples:
        >>> import smarketing as sm
        >>> report = sm.check(sm.load_plan("examples/misaligned.yaml"), select=["C004"])
        >>> d = report.diagnostics[0]
        >>> d.code, d.severity, d.path, d.location
        ('C004', 'error', 'arbiter.person', 'examples/misaligned.yaml:...')
        >>> d.url
        'https://smarketing.readthedocs.io/en/latest/rules/#c004'
    """

    code: str
    severity: Severity
    area: str
    message: str
    path: str = ""
    location: str | None = None
    hint: str | None = None
    url: str | None = None
    records: tuple[str, ...] = ()

    @property
    def file(self) -> str | None:
        """The file part of :attr:`location`."""
        if self.location is None:
            return None
        match = _LOCATION.match(self.location)
        if match:
            return match["file"]
        return None if self.location.startswith("line ") else self.location

    @property
    def line(self) -> int | None:
        """The line part of :attr:`location`."""
        if self.location is None:
            return None
        match = _LOCATION.match(self.location) or re.match(r"^line (?P<line>[0-9]+)$", self.location)
        return int(match["line"]) if match else None

    def sort_key(self) -> tuple[Any, ...]:
        """Report order: area, then code, then place, then message."""
        area = _ORDER.index(self.area) if self.area in _ORDER else len(_ORDER)
        return (area, self.code, _natural(self.path), self.message)

    def to_dict(self) -> dict[str, Any]:
        """The diagnostic as JSON-ready data, keys in a fixed order.

        A data diagnostic (area ``data``) has one more key, ``records``: the first records it names.
        """
        data: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "area": self.area,
            "message": self.message,
            "path": self.path,
            "location": self.location,
            "hint": self.hint,
            "url": self.url,
        }
        if self.area == DATA_AREA:
            data["records"] = list(self.records)
        return data

    def format(self) -> str:
        """``location: CODE severity: message [path]`` on one line."""
        where = self.location or self.path or "plan"
        path = f" [{self.path}]" if self.path and self.location else ""
        return f"{where}: {self.code} {self.severity}: {self.message}{path}"


@attrs.frozen
class AreaScore:
    """An area's part of the score.

    ``points`` is ``weight`` reduced by :data:`~smarketing.rules.SEVERITY_PENALTY` percent per finding
    (never below 0), rounded down to a whole point. ``checked`` is false when no selected rule covers
    the area; such an area is left out of the score.
    """

    area: CheckArea
    weight: int
    points: int
    checked: bool
    errors: int
    warnings: int
    infos: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "area": self.area,
            "weight": self.weight,
            "points": self.points,
            "checked": self.checked,
            "errors": self.errors,
            "warnings": self.warnings,
            "infos": self.infos,
        }


def score_areas(
    diagnostics: Iterable[Diagnostic], checked: Iterable[str], *, data: bool = False
) -> tuple[int, tuple[AreaScore, ...]]:
    """The alignment score and its breakdown by area, from diagnostics and the areas that were checked.

    See the docs page "Check output and the score" for the arithmetic. With ``data`` (a check given
    data) the breakdown ends with the data area, of weight :data:`~smarketing.rules.DATA_WEIGHT`;
    without, it holds the plan's areas only.

    Examples:
        >>> d = Diagnostic(code="J001", severity="error", area="journey", message="two entry stages")
        >>> score, areas = score_areas([d], AREAS)
        >>> score, areas[0].points, areas[0].weight
        (90, 10, 20)
    """
    checked = set(checked)
    scored: tuple[CheckArea, ...] = (*AREAS, DATA_AREA) if data else AREAS
    weights: dict[str, int] = {DATA_AREA: DATA_WEIGHT}
    weights.update((a, w) for a, w in AREA_WEIGHTS.items())
    counts: dict[str, dict[Severity, int]] = {a: dict.fromkeys(SEVERITIES, 0) for a in scored}
    for d in diagnostics:
        if d.area in counts:
            counts[d.area][d.severity] += 1
    areas: list[AreaScore] = []
    for area in scored:
        c = counts[area]
        penalty = min(100, sum(SEVERITY_PENALTY[s] * c[s] for s in SEVERITIES))
        weight = weights[area]
        areas.append(
            AreaScore(
                area=area,
                weight=weight,
                points=weight * (100 - penalty) // 100,
                checked=area in checked,
                errors=c["error"],
                warnings=c["warning"],
                infos=c["info"],
            )
        )
    total = sum(a.weight for a in areas if a.checked)
    got = sum(a.points for a in areas if a.checked)
    # Scale to 100 over the checked areas, rounding half up, in integers (no float drift).
    score = (200 * got + total) // (2 * total) if total else 100
    return score, tuple(areas)


_COLOURS: Final[Mapping[str, str]] = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


@attrs.frozen
class CheckReport:
    """The result of :func:`~smarketing.rules.check`: diagnostics, counts, ``ok`` and the score.

    Diagnostics are sorted by area, code, plan path and message, so the same plan always gives the same
    report. ``ok`` is true when there is no error (warnings and infos do not fail a plan).

    Examples:
        >>> import smarketing as sm
        >>> report = sm.check(sm.load_plan("examples/plan.yaml"))
        >>> report.ok, report.score >= 90, report.counts
        (True, True, {'error': 0, 'warning': 0, 'info': 0})
        >>> report
        CheckReport(plan='Fernbrook Analytics FY2027', score=100, ok=True, errors=0, warnings=0, infos=0)
    """

    plan: str
    file: str | None
    diagnostics: tuple[Diagnostic, ...]
    score: int
    areas: tuple[AreaScore, ...]
    rules: tuple[Rule | DataRule, ...] = attrs.field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Number of diagnostics by severity, every severity present."""
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for d in self.diagnostics:
            counts[d.severity] += 1
        return counts

    @property
    def ok(self) -> bool:
        """Whether no diagnostic is an error."""
        return not any(d.severity == "error" for d in self.diagnostics)

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"CheckReport(plan={self.plan!r}, score={self.score}, ok={self.ok}, "
            f"errors={c['error']}, warnings={c['warning']}, infos={c['info']})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data; the layout is documented on the check-output docs page.

        Examples:
            >>> import smarketing as sm
            >>> data = sm.check(sm.load_plan("examples/plan.yaml")).to_dict()
            >>> list(data)
            ['format_version', 'plan', 'file', 'ok', 'score', 'counts', 'areas', 'rules', 'diagnostics']
        """
        return {
            "format_version": JSON_FORMAT_VERSION,
            "plan": self.plan,
            "file": self.file,
            "ok": self.ok,
            "score": self.score,
            "counts": self.counts,
            "areas": [a.to_dict() for a in self.areas],
            "rules": [r.code for r in self.rules],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per diagnostic (a polars DataFrame), in report order.

        Examples:
            >>> import smarketing as sm
            >>> frame = sm.check(sm.load_plan("examples/misaligned.yaml")).to_frame()
            >>> frame.columns
            ['code', 'severity', 'area', 'message', 'path', 'location', 'hint', 'url']
        """
        schema = dict.fromkeys(
            ("code", "severity", "area", "message", "path", "location", "hint", "url"), pl.String
        )
        rows = [{k: v for k, v in d.to_dict().items() if k in schema} for d in self.diagnostics]
        return pl.DataFrame(rows, schema=schema, orient="row")

    def to_text(self, *, color: bool = False) -> str:
        """Human-readable report grouped by area, with the score; ANSI colours when ``color``.

        Examples:
            >>> import smarketing as sm
            >>> print(sm.check(sm.load_plan("examples/plan.yaml")).to_text())
            Fernbrook Analytics FY2027 (examples/plan.yaml)
            no findings
            score 100 / 100: journey 20/20, sla 15/15, kpis 15/15, rewards 15/15, personas 10/10, ...
        """

        def paint(text: str, code: str) -> str:
            return f"{code}{text}{_RESET}" if color else text

        lines = [paint(self.plan, _BOLD) + (f" ({self.file})" if self.file else "")]
        shown_hints: dict[str, str] = {}
        for area in _ORDER:
            found = [d for d in self.diagnostics if d.area == area]
            if not found:
                continue
            score = next((a for a in self.areas if a.area == area), None)
            head = f"{area} ({score.points}/{score.weight})" if score is not None else area
            lines.append("")
            lines.append(paint(head, _BOLD))
            for d in found:
                where = d.location or d.path or "plan"
                lines.append(
                    f"  {paint(where, _DIM)}: {paint(d.code, _COLOURS[d.severity])} "
                    f"{paint(d.severity, _COLOURS[d.severity])}: {d.message}"
                )
                if d.path and d.location:
                    lines.append(f"      at {d.path}")
                # A rule's general fix once per code; a finding's own hint every time it differs.
                if d.hint and shown_hints.get(d.code) != d.hint:
                    shown_hints[d.code] = d.hint
                    lines.append(f"      fix: {d.hint}")
        c = self.counts
        lines.append("")
        if self.diagnostics:
            lines.append(f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info(s)")
        else:
            lines.pop()
            lines.append("no findings")
        parts = ", ".join(
            f"{a.area} {a.points}/{a.weight}" if a.checked else f"{a.area} not checked" for a in self.areas
        )
        lines.append(f"score {self.score} / 100: {parts}")
        return "\n".join(lines)

    def to_sarif(self) -> dict[str, Any]:
        """The report as a SARIF 2.1.0 log, so CI systems and code-scanning UIs show findings on the plan.

        Every rule that ran is a ``reportingDescriptor`` (engine codes are added when they occur);
        each diagnostic is a ``result`` with the plan file and line as its physical location and the
        plan path as its logical location. Severities map to SARIF levels error, warning and note.

        Examples:
            >>> import smarketing as sm
            >>> log = sm.check(sm.load_plan("examples/misaligned.yaml"), select=["C004"]).to_sarif()
            >>> log["version"], log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            ('2.1.0', {'artifactLocation': {'uri': 'examples/misaligned.yaml'}, 'region': {'startLine': 113}})
        """
        descriptors: list[dict[str, Any]] = []
        index: dict[str, int] = {}

        def describe(what: Rule | DataRule | EngineCode, area: str) -> None:
            code, severity = what.code, what.severity
            title, rationale, fix, url = what.title, what.rationale, what.fix, what.url
            index[code] = len(descriptors)
            descriptor: dict[str, Any] = {
                "id": code,
                "name": "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", title)),
                "shortDescription": {"text": title},
                "fullDescription": {"text": rationale},
                "help": {"text": fix},
                "defaultConfiguration": {"level": _SARIF_LEVELS[severity]},
                "properties": {"area": area},
            }
            if url:
                descriptor["helpUri"] = url
            descriptors.append(descriptor)

        for r in self.rules:
            describe(r, r.area)
        used = {d.code for d in self.diagnostics}
        for c in ENGINE_CODES:
            if c.code in used and c.code not in index:
                describe(c, ENGINE_AREA)

        results: list[dict[str, Any]] = []
        for d in self.diagnostics:
            location: dict[str, Any] = {}
            # A data diagnostic is in the data file its records were read from, never in the plan.
            file = d.file if d.area == DATA_AREA else d.file or self.file
            if file is not None:
                physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
                if d.line is not None:
                    physical["region"] = {"startLine": d.line}
                location["physicalLocation"] = physical
            logical = [{"fullyQualifiedName": d.path, "kind": "member"}] if d.path else []
            if d.area == DATA_AREA and file is None:
                # No file to point at: the records themselves are the place.
                kind = d.path.partition(".")[0]
                # Kinds without an id (stage events, dispositions) are named by their lead.
                key = (
                    "" if kind not in RECORD_KINDS or "id" in RECORD_KINDS[kind].model_fields else "lead_id="
                )
                logical += [{"fullyQualifiedName": f"{kind}[{key}{r}]", "kind": "object"} for r in d.records]
            if logical:
                location["logicalLocations"] = logical
            result: dict[str, Any] = {
                "ruleId": d.code,
                "level": _SARIF_LEVELS[d.severity],
                "message": {"text": d.message + (f" Fix: {d.hint}" if d.hint else "")},
                "properties": {"area": d.area},
            }
            if d.code in index:
                result["ruleIndex"] = index[d.code]
            if location:
                result["locations"] = [location]
            results.append(result)

        return {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "smarketing",
                            "version": version("smarketing"),
                            "informationUri": DOCS_URL.removesuffix("rules/"),
                            "rules": descriptors,
                        }
                    },
                    "results": results,
                }
            ],
        }

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        """The check as a card: the score and counts, then one row per finding (or "no findings")."""
        c = self.counts
        verdict = "ok" if self.ok else "failing"
        subtitle = f"{verdict}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} info(s)" + (
            f" · {self.file}" if self.file else ""
        )
        areas = " · ".join(
            f"{a.area} {a.points}/{a.weight}" if a.checked else f"{a.area} not checked" for a in self.areas
        )
        body = [_display.paragraph(f"score by area: {areas}")]
        if not self.diagnostics:
            body.append(_display.paragraph("no findings"))
        else:
            body.append(_findings_table(self.diagnostics[:_HTML_ROW_LIMIT]))
            more = len(self.diagnostics) - _HTML_ROW_LIMIT
            if more > 0:
                body.append(_display.paragraph(f"… and {more} more diagnostics (to_frame() has them all)"))
        return _display.card(
            f"Check of {self.plan}", body, subtitle=subtitle, badge=f"score {self.score} / 100"
        )


_SEVERITY_STYLE: Final[Mapping[str, str]] = {
    "error": "color:#b00020;font-weight:600",
    "warning": "color:#8a5a00;font-weight:600",
    "info": "color:#00607a",
}


def _findings_table(diagnostics: Iterable[Diagnostic]) -> str:
    """Severity, code linked to its docs entry, place, message and fix, one row per diagnostic."""
    esc = html.escape
    left = ' style="text-align:left;vertical-align:top;padding:2px 8px 2px 0"'
    heads = "".join(f"<th{left}>{h}</th>" for h in ("severity", "code", "where", "message", "fix"))
    rows = []
    for d in diagnostics:
        code = _display.link(d.code, d.url) if d.url else esc(d.code)
        where = esc(d.location or d.path or "plan") + (
            f"<br><small>{esc(d.path)}</small>" if d.path and d.location else ""
        )
        cells = [
            f'<span style="{_SEVERITY_STYLE[d.severity]}">{esc(d.severity)}</span>',
            code,
            where,
            esc(d.message),
            esc(d.hint or "-"),
        ]
        rows.append("<tr>" + "".join(f"<td{left}>{c}</td>" for c in cells) + "</tr>")
    return (
        '<table style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
