"""The rule engine: choose rules, run each one in isolation, report and score.

:func:`check` is re-exported as ``smarketing.check`` and ``smarketing.rules.check``.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Final, TypeAlias

import attrs

from smarketing import _plugins
from smarketing._limits import MAX_PLUGIN_FINDINGS, MAX_PLUGIN_TEXT
from smarketing.errors import ContractError, DataError, PluginError, RuleError
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.rules._catalogue import (
    BUILTIN_RULES,
    DATA_RULES,
    ENGINE_CODES,
    PLUGIN_FAILED,
    RULE_CRASHED,
    EngineCode,
)
from smarketing.rules._core import AREAS, CODE_PATTERN, DATA_AREA, SEVERITIES, Finding, RuleSpec
from smarketing.rules._data import DataFinding, DataRule, RuleData
from smarketing.rules._scan import checked_sources
from smarketing.rules.report import ENGINE_AREA, CheckReport, Diagnostic, score_areas
from smarketing.typing import Rule, Severity

__all__ = ["ENTRY_POINT_GROUP", "PlanRule", "RULE_TIMEOUT", "check", "plugin_rules"]

PlanRule: TypeAlias = Rule[AlignmentPlan, Finding]
"""A rule of an alignment plan: :class:`smarketing.typing.Rule` with its plan and finding types filled in."""

#: Entry-point group plugin rules are registered under.
ENTRY_POINT_GROUP: Final = "smarketing.rules"

#: Seconds each rule that is not built in may run in one check before it is reported (``SM001``) and
#: the check goes on without it; ``check(rule_timeout=...)`` changes it.
RULE_TIMEOUT: Final = 30.0

_BUILTIN_IDS: Final = frozenset(id(r) for r in BUILTIN_RULES)
_DATA_IDS: Final = frozenset(id(r) for r in DATA_RULES)


def _engine_diagnostic(code: EngineCode, message: str) -> Diagnostic:
    return Diagnostic(
        code=code.code, severity=code.severity, area=ENGINE_AREA, message=message, hint=code.fix, url=code.url
    )


def _adopt(obj: object) -> RuleSpec:
    """A host-owned copy of a rule's facts, read once and checked; the rule object is only called later.

    Raises :class:`~smarketing.errors.ContractError` (or whatever a plugin's attribute raises) when
    ``obj`` is not a usable rule; callers run this under :func:`~smarketing._plugins.guard`.
    """
    if not callable(obj):
        raise ContractError(f"{_plugins.text_line(repr(obj))} is not a rule (see smarketing.typing.Rule)")
    missing = [a for a in ("code", "area", "severity", "title", "rationale", "fix") if not hasattr(obj, a)]
    if missing:
        raise ContractError(
            f"{type(obj).__name__} object is not a rule: it has no {', '.join(missing)} "
            "(see smarketing.typing.Rule)"
        )
    code = getattr(obj, "code")  # noqa: B009 (read once, here, under the guard)
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise ContractError(
            f"rule code {_plugins.text_line(repr(code))} must be 1-3 capital letters and 3 digits"
        )
    code = str.__str__(code)
    area = getattr(obj, "area")  # noqa: B009
    if not isinstance(area, str) or area not in AREAS:
        raise ContractError(
            f"rule {code}: area {_plugins.text_line(repr(area))} is not one of {', '.join(AREAS)}"
        )
    severity = getattr(obj, "severity")  # noqa: B009
    if not isinstance(severity, str) or severity not in SEVERITIES:
        raise ContractError(
            f"rule {code}: severity {_plugins.text_line(repr(severity))} "
            f"is not one of {', '.join(SEVERITIES)}"
        )
    texts = {
        name: _plugins.text(getattr(obj, name), f"rule {code}: {name}", limit=MAX_PLUGIN_TEXT, empty=False)
        for name in ("title", "rationale", "fix")
    }
    url = getattr(obj, "url", None)
    if url is not None:
        url = _plugins.text(url, f"rule {code}: url", limit=MAX_PLUGIN_TEXT, empty=False)
        if any(c.isspace() for c in url):
            raise ContractError(f"rule {code}: url {url!r} must not contain spaces")
    return RuleSpec(
        code=code,
        area=AREAS[AREAS.index(area)],
        severity=SEVERITIES[SEVERITIES.index(severity)],
        function=obj,
        url=url,
        **texts,
    )


def plugin_rules() -> tuple[tuple[PlanRule, ...], tuple[Diagnostic, ...]]:
    """Rules registered under the ``smarketing.rules`` entry-point group, and the plugins that failed.

    An entry point names a rule or a list of rules. Each plugin loads on its own: one that fails to
    import (``sys.exit()`` included), names something that is not a rule, has a rule attribute that
    raises or is not text, or reuses a code (of a built-in rule or an earlier plugin, by entry-point name)
    is reported as an ``SM002`` diagnostic naming it instead; the other plugins still load. The rules
    returned are host-owned copies of the plugins' rule facts.

    Examples:
        >>> rules, problems = plugin_rules()
        >>> problems
        ()
    """
    return _plugin_rules()[:2]


def _plugin_rules() -> tuple[tuple[PlanRule, ...], tuple[Diagnostic, ...], dict[str, str]]:
    """The installed plugin rules, the diagnostics of those skipped, and each kept rule's plugin name.

    Loaded once per process: a rule whose code a built-in rule, the engine or an earlier plugin already
    uses is skipped with a diagnostic, as is one that does not implement the rule protocol.
    """
    taken = {r.code: "the built-in rules" for r in BUILTIN_RULES} | {
        c.code: "the engine" for c in ENGINE_CODES
    }
    rules: list[PlanRule] = []
    problems: list[Diagnostic] = []
    origin: dict[str, str] = {}
    for ep in _plugins.entry_points(ENTRY_POINT_GROUP):
        try:
            loaded = _plugins.load(ENTRY_POINT_GROUP, ep)
            name = ep.name
            candidates = _plugins.guard(ENTRY_POINT_GROUP, name, "cannot list its rules", _members, loaded)
        except PluginError as error:
            problems.append(_engine_diagnostic(PLUGIN_FAILED, str(error)))
            continue
        for obj in candidates:
            try:
                spec = _plugins.guard(ENTRY_POINT_GROUP, name, f"not a usable rule ({ep.value})", _adopt, obj)
            except PluginError as error:
                problems.append(_engine_diagnostic(PLUGIN_FAILED, str(error)))
                continue
            if spec.code in taken:
                message = f"rule code {spec.code} ({ep.value}) is already defined by {taken[spec.code]}"
                problems.append(
                    _engine_diagnostic(
                        PLUGIN_FAILED, str(PluginError(message, plugin=name, group=ENTRY_POINT_GROUP))
                    )
                )
                continue
            taken[spec.code] = f"plugin {name!r}"
            origin[spec.code] = name
            rules.append(spec)
    return tuple(rules), tuple(problems), origin


def _members(loaded: object) -> list[object]:
    # A list (or tuple) of rules, or one rule; materialised here, under the guard.
    return list(loaded) if isinstance(loaded, list | tuple) else [loaded]


def _matching(token: str, codes: Sequence[str], what: str) -> list[str]:
    token = token.strip().upper()
    found = [c for c in codes if c.startswith(token)] if token else []
    if not found:
        raise RuleError(f"{what}: {token!r} matches no rule code (known: {', '.join(sorted(codes))})")
    return found


def check(
    plan: AlignmentPlan,
    *,
    data: Dataset | Mapping[str, Any] | None = None,
    fx: FxTable | None = None,
    data_files: Mapping[str, str | os.PathLike[str]] | None = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    severity_overrides: Mapping[str, Severity] | None = None,
    rules: Iterable[PlanRule | DataRule] | None = None,
    rule_timeout: float | None = RULE_TIMEOUT,
) -> CheckReport:
    """Check an alignment plan (and, given ``data``, the CRM data) against the rules and score it.

    Pure: the same plan, data and options give the same report, byte for byte. A rule that raises (or
    calls ``sys.exit()``), returns something that is not a valid :class:`~smarketing.rules.Finding` or
    more than 1,000 of them, or runs past ``rule_timeout`` becomes an ``SM001`` diagnostic naming it (its
    findings dropped), and the other rules still run. Every rule that is not built in runs on its own deep
    copy of the plan, so it cannot change what the others or the report see.

    With ``data``, the data rules (area ``data``, codes ``D001``...) also run: each finding names the
    record kind, the column, the values, the first records and how many there are in all. The data area
    then joins the score with weight :data:`~smarketing.rules.DATA_WEIGHT` (the score is scaled to 100
    over every area checked); without ``data`` the report is the plan's alone, exactly as before.

    Args:
        plan: The plan to check.
        data: The CRM data: a :class:`~smarketing.records.Dataset`, or a mapping of frames by record kind
            (polars eager or lazy, pandas, pyarrow, DuckDB relations, or records), read as every analysis
            reads it (:func:`~smarketing.frames.as_lazy`); ``None`` checks the plan only.
        fx: Exchange rates the analyses would be given; a deal currency with a rate to each of the plan's
            reporting currencies is reportable (``D006``).
        data_files: Record kind -> the file its data was read from, for the data diagnostics' locations.
        select: Codes or code prefixes to run (``["J", "S001"]``); default all.
        ignore: Codes or code prefixes not to run or report (applied after ``select``).
        severity_overrides: Code -> severity, e.g. ``{"J009": "error"}``.
        rules: The rules to run instead of the built-in rules and installed plugins (built-in data rules
            among them run when ``data`` is given).
        rule_timeout: Seconds each rule that is not built in may take (default
            :data:`RULE_TIMEOUT`, 30); ``None`` waits as long as it takes.

    Returns:
        The diagnostics in a fixed order, counts, ``ok`` and the score with its breakdown by area.

    Raises:
        RuleError: ``select``, ``ignore`` or ``severity_overrides`` names an unknown code or severity,
            ``rules`` holds something that is not a rule or repeats a code, or ``rule_timeout`` is not a
            positive number of seconds.
        DataError: ``data`` breaks a rule of its records (as in every analysis), or a mapping has a key
            that is no record kind.
        TypeError: ``plan`` is not an :class:`~smarketing.plan.AlignmentPlan`, ``data`` is neither a
            ``Dataset`` nor a mapping of frames, or ``fx`` is not an :class:`~smarketing.money.FxTable`.

    Examples:
        >>> import smarketing as sm
        >>> report = sm.check(sm.load_plan("examples/misaligned.yaml"), select=["J"], ignore=["J010"])
        >>> report.ok, sorted({d.code for d in report.diagnostics})[:3]
        (False, ['J001', 'J002', 'J003'])
        >>> sm.check(sm.load_plan("examples/plan.yaml"), select=["X"])
        Traceback (most recent call last):
        ...
        smarketing.errors.RuleError: select: 'X' matches no rule code (known: ...)

        With data (here synthetic: a few leads leave a terminal stage, some deals are in USD with no
        rate to EUR given, and some customer feedback was never read):

        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> from smarketing.datasets import synthetic
        >>> report = sm.check(plan, data=synthetic(plan, seed=1, n_leads=50))
        >>> [(d.code, d.path) for d in report.diagnostics]
        [('D002', 'stage_events.to'), ('D006', 'deals.amount_currency'), ('D013', 'feedback.seen_by')]
        >>> print(report.diagnostics[1].message)
        amount_currency 'USD' is not a currency with an exchange rate to EUR (the rewards, ...) (...)
    """
    if not isinstance(plan, AlignmentPlan):
        raise TypeError(f"check() needs an AlignmentPlan, not {type(plan).__name__}; use load_plan()")
    _check_timeout(rule_timeout)
    given = None if data is None else _rule_data(data, fx)
    diagnostics: list[Diagnostic] = []
    origin: dict[str, str] = {}
    if rules is None:
        plugins, problems, origin = _plugin_rules()
        available: tuple[PlanRule, ...] = (*BUILTIN_RULES, *plugins)
        data_rules: tuple[DataRule, ...] = DATA_RULES
        diagnostics += problems
    else:
        available, data_rules = _given(rules)

    codes = [r.code for r in available] + [r.code for r in data_rules]
    chosen, ignored, overrides = _choose(codes, select, ignore, severity_overrides)
    selected = [r for r in available if r.code in chosen]
    for r in selected:
        diagnostics += _run(r, plan, plugin=origin.get(r.code), timeout=rule_timeout)
    ran_data: list[DataRule] = []
    if given is not None:
        ran_data = [r for r in data_rules if r.code in chosen]
        files = {kind: os.fspath(path) for kind, path in (data_files or {}).items()}
        for rd in ran_data:
            diagnostics += _run_data(rd, plan, given, files)
    diagnostics = [
        d if d.code not in overrides else attrs.evolve(d, severity=overrides[d.code])
        for d in diagnostics
        if d.code not in ignored
    ]
    diagnostics.sort(key=Diagnostic.sort_key)
    checked = {r.area for r in selected} | ({DATA_AREA} if ran_data else set())
    score, areas = score_areas(diagnostics, checked, data=given is not None)
    return CheckReport(
        plan=plan.name,
        file=plan.source_file,
        diagnostics=tuple(diagnostics),
        score=score,
        areas=areas,
        rules=(*selected, *ran_data),
    )


def _check_timeout(rule_timeout: object) -> None:
    if rule_timeout is not None and (
        isinstance(rule_timeout, bool)
        or not isinstance(rule_timeout, int | float)
        or not math.isfinite(rule_timeout)
        or rule_timeout <= 0
    ):
        raise RuleError(f"rule_timeout: {rule_timeout!r} is not a positive number of seconds (or None)")


def _choose(
    codes: Sequence[str],
    select: Iterable[str] | None,
    ignore: Iterable[str] | None,
    severity_overrides: Mapping[str, Severity] | None,
) -> tuple[set[str], set[str], dict[str, Severity]]:
    """The codes to run, the codes ignored and the severity overrides, each checked against ``codes``."""
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
    return chosen, ignored, overrides


def _rule_data(data: object, fx: object) -> RuleData:
    """The data as the data rules read it: each record kind where it lives.

    A checked polars ``LazyFrame`` or a PySpark DataFrame; see :class:`~smarketing.rules._data.RuleData`.
    """
    if not isinstance(data, Dataset | Mapping):
        raise TypeError(
            "check(data=...) needs a Dataset or a mapping of frames by record kind "
            f"({{'leads': ..., 'deals': ...}}), not {type(data).__name__}"
        )
    if fx is not None and not isinstance(fx, FxTable):
        raise TypeError(f"check(fx=...) needs an FxTable, not {type(fx).__name__}")
    return RuleData(sources=checked_sources(data), fx=fx)


def _given(rules: Iterable[PlanRule | DataRule]) -> tuple[tuple[PlanRule, ...], tuple[DataRule, ...]]:
    """The rules a caller passed: built-in ones as they are, others as checked host-owned copies.

    Built-in data rules are kept apart (they run only with data); any other rule is a plan rule.
    """
    found: list[PlanRule] = []
    data_rules: list[DataRule] = []
    seen: set[str] = set()
    for r in rules:
        if id(r) in _DATA_IDS and isinstance(r, DataRule):
            spec: PlanRule | DataRule = r
        elif id(r) in _BUILTIN_IDS:
            spec = r
        else:
            try:
                spec = _adopt(r)
            except ContractError as error:
                raise RuleError(str(error)) from None
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # a rule attribute that raises, sys.exit() included
                raise RuleError(f"a rule cannot be read: {_plugins.describe(error)}") from error
        if spec.code in seen:
            raise RuleError(f"rule code {spec.code} is given twice")
        seen.add(spec.code)
        if isinstance(spec, DataRule):
            data_rules.append(spec)
        else:
            found.append(spec)
    return tuple(found), tuple(data_rules)


def _run(r: PlanRule, plan: AlignmentPlan, *, plugin: str | None, timeout: float | None) -> list[Diagnostic]:
    """The rule's diagnostics, or one SM001 diagnostic if it fails (its partial findings dropped).

    Built-in rules run here, on the plan; any other rule runs in a worker thread with ``timeout``
    seconds, on a deep copy of the plan (about a millisecond for the example plan).
    """
    what = f"rule {r.code} ({r.title})"
    try:
        if id(r) in _BUILTIN_IDS:
            found = _plugins.guard(ENTRY_POINT_GROUP, plugin, what, _findings, r, plan)
        else:
            found = _plugins.call(
                ENTRY_POINT_GROUP, plugin, what, _findings, r, copy.deepcopy(plan), timeout=timeout
            )
    except PluginError as error:
        message = str(error) if plugin is not None else str(error).removeprefix(f"{ENTRY_POINT_GROUP}: ")
        if isinstance(error.__cause__, ContractError):
            message = message.replace(f"{what}: ", f"{what} returned a bad finding: ", 1)
        elif "did not finish within" not in message:
            message = message.replace(f"{what}: ", f"{what} crashed: ", 1)
        return [_engine_diagnostic(RULE_CRASHED, message)]
    return [
        Diagnostic(
            code=r.code,
            severity=r.severity,
            area=r.area,
            message=message,
            path=path,
            location=plan.location(path),
            hint=hint or r.fix,
            url=r.url,
        )
        for message, path, hint in found
    ]


def _findings(r: PlanRule, plan: AlignmentPlan) -> list[tuple[str, str, str | None]]:
    """Run the rule and check what it yields; host-owned ``(message, path, hint)`` triples."""
    found: list[tuple[str, str, str | None]] = []
    for n, f in enumerate(islice(r(plan), MAX_PLUGIN_FINDINGS + 1), start=1):
        if n > MAX_PLUGIN_FINDINGS:
            raise ContractError(f"more than {MAX_PLUGIN_FINDINGS} findings; at most that many are accepted")
        if not isinstance(f, Finding):
            raise ContractError(f"finding {n} is {type(f).__name__}, not a Finding")
        message = _plugins.text(f.message, f"finding {n}: message", limit=MAX_PLUGIN_TEXT, empty=False)
        path = _plugins.text(f.path, f"finding {n}: path", limit=MAX_PLUGIN_TEXT)
        hint = None if f.hint is None else _plugins.text(f.hint, f"finding {n}: hint", limit=MAX_PLUGIN_TEXT)
        found.append((message, path, hint))
    return found


def _run_data(r: DataRule, plan: AlignmentPlan, data: RuleData, files: Mapping[str, str]) -> list[Diagnostic]:
    """A data rule's diagnostics, or one SM001 diagnostic if it fails (its partial findings dropped).

    Each finding is located at the file its record kind was read from, when ``files`` knows it.
    """
    what = f"rule {r.code} ({r.title})"
    try:
        found = _plugins.guard(ENTRY_POINT_GROUP, None, what, _data_findings, r, plan, data)
    except PluginError as error:
        if isinstance(error.__cause__, DataError):
            # The data breaks a rule of its records (read by this rule first, maybe on a Spark worker):
            # the same error as every analysis gives, not a crash of the rule.
            raise error.__cause__ from None
        message = (
            str(error).removeprefix(f"{ENTRY_POINT_GROUP}: ").replace(f"{what}: ", f"{what} crashed: ", 1)
        )
        return [_engine_diagnostic(RULE_CRASHED, message)]
    return [
        Diagnostic(
            code=r.code,
            severity=r.severity,
            area=r.area,
            message=f.message,
            path=f.path,
            location=files.get(f.kind),
            hint=f.hint or r.fix,
            url=r.url,
            records=f.records,
        )
        for f in found
    ]


def _data_findings(r: DataRule, plan: AlignmentPlan, data: RuleData) -> list[DataFinding]:
    found = list(islice(r(plan, data), MAX_PLUGIN_FINDINGS + 1))
    if len(found) > MAX_PLUGIN_FINDINGS or not all(isinstance(f, DataFinding) for f in found):
        raise ContractError(f"more than {MAX_PLUGIN_FINDINGS} findings, or one that is not a DataFinding")
    return found
