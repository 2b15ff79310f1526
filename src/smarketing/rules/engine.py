"""The rule engine: choose rules, run each one in isolation, report and score.

:func:`check` is re-exported as ``smarketing.check`` and ``smarketing.rules.check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Final

from smarketing.errors import RuleError
from smarketing.plan import AlignmentPlan
from smarketing.rules._catalogue import BUILTIN_RULES, ENGINE_CODES, PLUGIN_FAILED, RULE_CRASHED, EngineCode
from smarketing.rules._core import AREAS, CODE_PATTERN, SEVERITIES, Finding
from smarketing.rules.report import ENGINE_AREA, CheckReport, Diagnostic, score_areas
from smarketing.typing import Rule, Severity

__all__ = ["ENTRY_POINT_GROUP", "check", "plugin_rules"]

#: Entry-point group plugin rules are registered under.
ENTRY_POINT_GROUP: Final = "smarketing.rules"


def _engine_diagnostic(code: EngineCode, message: str) -> Diagnostic:
    return Diagnostic(
        code=code.code, severity=code.severity, area=ENGINE_AREA, message=message, hint=code.fix, url=code.url
    )


def _rule_problem(obj: object) -> str | None:
    """Why ``obj`` is not a usable rule, or ``None``."""
    if not isinstance(obj, Rule):
        return f"{obj!r} is not a rule (see smarketing.typing.Rule)"
    if not isinstance(obj.code, str) or not CODE_PATTERN.match(obj.code):
        return f"rule code {obj.code!r} must be 1-3 capital letters and 3 digits"
    if obj.area not in AREAS:
        return f"rule {obj.code}: area {obj.area!r} is not one of {', '.join(AREAS)}"
    if obj.severity not in SEVERITIES:
        return f"rule {obj.code}: severity {obj.severity!r} is not one of {', '.join(SEVERITIES)}"
    return None


@cache
def _entry_points() -> list[EntryPoint]:
    # Scanning every installed distribution's metadata costs more than checking a plan, and what is
    # installed does not change while a process runs: discover once, in a fixed order.
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))


def plugin_rules() -> tuple[tuple[Rule, ...], tuple[Diagnostic, ...]]:
    """Rules registered under the ``smarketing.rules`` entry-point group, and the plugins that failed.

    An entry point names a rule or a list of rules. A plugin that fails to import, names something
    that is not a rule, or reuses a code (of a built-in rule or an earlier plugin, by entry-point name)
    is reported as an ``SM002`` diagnostic instead; the other plugins still load.

    Examples:
        >>> rules, problems = plugin_rules()
        >>> problems
        ()
    """
    taken = {r.code: "the built-in rules" for r in BUILTIN_RULES} | {
        c.code: "the engine" for c in ENGINE_CODES
    }
    rules: list[Rule] = []
    problems: list[Diagnostic] = []
    for ep in _entry_points():
        where = f"plugin {ep.name!r} ({ep.value})"
        try:
            loaded = ep.load()
        except Exception as exc:  # any import-time failure of third-party code is reported, not raised
            problems.append(_engine_diagnostic(PLUGIN_FAILED, f"{where} failed to load: {_describe(exc)}"))
            continue
        candidates = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
        for obj in candidates:
            problem = _rule_problem(obj)
            if problem is None and obj.code in taken:
                problem = f"rule code {obj.code} is already defined by {taken[obj.code]}"
            if problem is not None:
                problems.append(_engine_diagnostic(PLUGIN_FAILED, f"{where}: {problem}"))
                continue
            taken[obj.code] = where
            rules.append(obj)
    return tuple(rules), tuple(problems)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _matching(token: str, codes: Sequence[str], what: str) -> list[str]:
    token = token.strip().upper()
    found = [c for c in codes if c.startswith(token)] if token else []
    if not found:
        raise RuleError(f"{what}: {token!r} matches no rule code (known: {', '.join(sorted(codes))})")
    return found


def check(
    plan: AlignmentPlan,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    severity_overrides: Mapping[str, Severity] | None = None,
    rules: Iterable[Rule] | None = None,
) -> CheckReport:
    """Check an alignment plan against the rules and score it.

    Pure: the same plan and options give the same report, byte for byte. A rule that raises becomes an
    ``SM001`` diagnostic naming it, and the other rules still run.

    Args:
        plan: The plan to check.
        select: Codes or code prefixes to run (``["J", "S001"]``); default all.
        ignore: Codes or code prefixes not to run or report (applied after ``select``).
        severity_overrides: Code -> severity, e.g. ``{"J009": "error"}``.
        rules: The rules to run instead of the built-in rules and installed plugins.

    Returns:
        The diagnostics in a fixed order, counts, ``ok`` and the score with its breakdown by area.

    Raises:
        RuleError: ``select``, ``ignore`` or ``severity_overrides`` names an unknown code or severity,
            or ``rules`` holds something that is not a rule or repeats a code.
        TypeError: ``plan`` is not an :class:`~smarketing.plan.AlignmentPlan`.

    Examples:
        >>> import smarketing as sm
        >>> report = sm.check(sm.load_plan("examples/misaligned.yaml"), select=["J"], ignore=["J010"])
        >>> report.ok, sorted({d.code for d in report.diagnostics})[:3]
        (False, ['J001', 'J002', 'J003'])
        >>> sm.check(sm.load_plan("examples/plan.yaml"), select=["X"])
        Traceback (most recent call last):
        ...
        smarketing.errors.RuleError: select: 'X' matches no rule code (known: ...)
    """
    if not isinstance(plan, AlignmentPlan):
        raise TypeError(f"check() needs an AlignmentPlan, not {type(plan).__name__}; use load_plan()")
    diagnostics: list[Diagnostic] = []
    if rules is None:
        plugins, problems = plugin_rules()
        available: tuple[Rule, ...] = (*BUILTIN_RULES, *plugins)
        diagnostics += problems
    else:
        available = tuple(rules)
        seen: set[str] = set()
        for r in available:
            problem = _rule_problem(r)
            if problem is None and r.code in seen:
                problem = f"rule code {r.code} is given twice"
            if problem is not None:
                raise RuleError(problem)
            seen.add(r.code)

    codes = [r.code for r in available]
    all_codes = [*codes, *(c.code for c in ENGINE_CODES)]
    chosen = set(codes)
    if select is not None:
        chosen = {c for token in select for c in _matching(token, all_codes, "select")}
    ignored = {c for token in (ignore or ()) for c in _matching(token, all_codes, "ignore")}
    chosen -= ignored
    overrides = dict(severity_overrides or {})
    for code, severity in overrides.items():
        if code not in all_codes:
            raise RuleError(f"severity_overrides: unknown rule code {code!r}")
        if severity not in SEVERITIES:
            raise RuleError(f"severity_overrides: {code}: {severity!r} is not one of {', '.join(SEVERITIES)}")

    selected = [r for r in available if r.code in chosen]
    for r in selected:
        diagnostics += _run(r, plan)
    diagnostics = [
        d if d.code not in overrides else _with_severity(d, overrides[d.code])
        for d in diagnostics
        if d.code not in ignored
    ]
    diagnostics.sort(key=Diagnostic.sort_key)
    score, areas = score_areas(diagnostics, {r.area for r in selected})
    return CheckReport(
        plan=plan.name,
        file=plan.source_file,
        diagnostics=tuple(diagnostics),
        score=score,
        areas=areas,
        rules=tuple(selected),
    )


def _with_severity(d: Diagnostic, severity: Severity) -> Diagnostic:
    return Diagnostic(
        code=d.code,
        severity=severity,
        area=d.area,
        message=d.message,
        path=d.path,
        location=d.location,
        hint=d.hint,
        url=d.url,
    )


def _run(r: Rule, plan: AlignmentPlan) -> list[Diagnostic]:
    """The rule's diagnostics, or one SM001 diagnostic if it raises (its partial findings dropped)."""
    found: list[Diagnostic] = []
    try:
        for f in r(plan):
            if not isinstance(f, Finding):
                raise TypeError(f"yielded {type(f).__name__}, not a Finding")
            found.append(
                Diagnostic(
                    code=r.code,
                    severity=r.severity,
                    area=r.area,
                    message=f.message,
                    path=f.path,
                    location=plan.location(f.path),
                    hint=f.hint or r.fix,
                    url=r.url,
                )
            )
    except Exception as exc:  # a broken rule must not take the other rules down
        return [
            Diagnostic(
                code=RULE_CRASHED.code,
                severity=RULE_CRASHED.severity,
                area=ENGINE_AREA,
                message=f"rule {r.code} ({r.title}) crashed: {_describe(exc)}",
                hint=RULE_CRASHED.fix,
                url=RULE_CRASHED.url,
            )
        ]
    return found
