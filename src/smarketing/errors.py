"""The exceptions smarketing raises.

Every error derives from one root, :class:`SmarketingError`, and each semantic subclass also derives
from the builtin it refines, so ``except ValueError`` keeps working for callers who do not know us::

    SmarketingError (Exception)
    ├── PlanError (ValueError)              a plan file or plan object is invalid
    │   └── FormulaError                    a KPI formula is invalid (with the column)
    ├── DataError (ValueError)              a CRM record or frame is invalid
    │   └── LoadError                       a connector refused rows in strict mode (with the report)
    ├── CurrencyMismatchError (TypeError)   arithmetic across two currencies
    ├── RuleError (ValueError)              a rule is defined wrongly (bad code, duplicate name)
    ├── PluginError (ImportError)           a plugin cannot be loaded or breaks its interface
    └── DeliveryError (OSError)             a digest could not be delivered (e-mail, Slack), secrets redacted

    ClosedCalendarError (ValueError)        a business calendar has no open time in the dates a clock covers
    ContractError (Exception)               a plugin's result breaks its interface (always wrapped)
    PluginWarning (UserWarning)             a plugin was skipped; the others still run

Every exception class of the library is defined here; the only others are three private control-flow signals
(``cli._CommandError``, the plan loader's alias marker and the plugin runner's abandon signal), each raised
and caught inside the one module that defines it.

Errors carry the place they refer to (a file, a line, a field path, a record id) as attributes as well
as in the message, so tools can point at it.

Examples:
    >>> from smarketing.errors import PlanError, SmarketingError
    >>> err = PlanError("must be a team id", file="plan.yaml", line=42, path="journey.stages[3].owner")
    >>> str(err)
    'plan.yaml:42: journey.stages[3].owner: must be a team id'
    >>> isinstance(err, ValueError) and isinstance(err, SmarketingError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ClosedCalendarError",
    "ContractError",
    "CurrencyMismatchError",
    "DataError",
    "DeliveryError",
    "FormulaError",
    "LoadError",
    "PlanError",
    "PlanIssue",
    "PluginError",
    "PluginWarning",
    "RuleError",
    "SmarketingError",
]


class SmarketingError(Exception):
    """Root of every exception raised by smarketing."""


def _place(file: str | None, line: int | None, path: str | None) -> str:
    parts: list[str] = []
    if file is not None:
        parts.append(f"{file}:{line}" if line is not None else file)
    elif line is not None:
        parts.append(f"line {line}")
    if path:
        parts.append(path)
    return ": ".join(parts)


class PlanIssue:
    """One problem found in a plan: what is wrong and where.

    Args:
        message: What is wrong, in words a plan author understands.
        path: The field path in the plan, e.g. ``journey.stages[3].owner`` (empty for the root).
        line: The 1-based line in the plan file, when the plan came from text.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line

    def format(self, file: str | None = None) -> str:
        """Render as ``file:line: path: message``, leaving out the parts that are unknown."""
        place = _place(file, self.line, self.path)
        return f"{place}: {self.message}" if place else self.message

    def __repr__(self) -> str:
        return f"PlanIssue({self.message!r}, path={self.path!r}, line={self.line!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlanIssue):
            return NotImplemented
        return (self.message, self.path, self.line) == (other.message, other.path, other.line)

    def __hash__(self) -> int:
        return hash((self.message, self.path, self.line))


class PlanError(SmarketingError, ValueError):
    """An alignment plan is invalid.

    The message names the place as ``file:line: field.path: what is wrong``; the same facts are kept on
    the exception as ``file``, ``line`` and ``path``. When a plan has several problems, ``issues`` lists
    them all and the message shows the first one and how many more there are.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str = "",
        issues: Sequence[PlanIssue] = (),
    ) -> None:
        self.file = file
        self.issues: tuple[PlanIssue, ...] = tuple(issues) or (PlanIssue(message, path=path, line=line),)
        first = self.issues[0]
        self.line = first.line
        self.path = first.path
        self.message = first.message
        text = first.format(file)
        if len(self.issues) > 1:
            text += f" (and {len(self.issues) - 1} more problem(s))"
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:  # keep picklable with keyword-only state
        return (_rebuild_plan_error, (self.message, self.file, self.issues))


class FormulaError(PlanError):
    """A KPI formula is invalid; the message starts with the 1-based column, ``col 8: ...``.

    Args:
        message: What is wrong.
        formula: The formula text.
        col: The 1-based column of the problem in ``formula``.

    Examples:
        >>> str(FormulaError("unknown metric 'sql'", formula="sqls / sql", col=8))
        "col 8: unknown metric 'sql'"
    """

    def __init__(self, message: str, *, formula: str, col: int) -> None:
        self.formula = formula
        self.col = col
        self.reason = message
        super().__init__(f"col {col}: {message}")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_formula_error, (self.reason, self.formula, self.col))


def _rebuild_formula_error(message: str, formula: str, col: int) -> FormulaError:
    return FormulaError(message, formula=formula, col=col)


def _rebuild_plan_error(message: str, file: str | None, issues: tuple[PlanIssue, ...]) -> PlanError:
    return PlanError(message, file=file, issues=issues)


class DataError(SmarketingError, ValueError):
    """A CRM record or data frame is invalid.

    Args:
        message: What is wrong.
        record: The id of the offending record (lead, deal, ...), when there is one.
        field: The offending field or column.
        kind: The record kind (``"lead"``, ``"deal"``, ...).

    Examples:
        >>> str(DataError("must be timezone-aware", record="L-17", field="time", kind="touchpoint"))
        'touchpoint L-17: time: must be timezone-aware'
    """

    def __init__(
        self,
        message: str,
        *,
        record: str | None = None,
        field: str | None = None,
        kind: str | None = None,
    ) -> None:
        self.message = message
        self.record = record
        self.field = field
        self.kind = kind
        where = " ".join(p for p in (kind, record) if p)
        parts = [p for p in (where, field) if p]
        super().__init__(": ".join([*parts, message]))

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_data_error, (self.message, self.record, self.field, self.kind))


def _rebuild_data_error(message: str, record: str | None, field: str | None, kind: str | None) -> DataError:
    return DataError(message, record=record, field=field, kind=kind)


class LoadError(DataError):
    """A connector refused rows in strict mode; the full report of the load is attached.

    The message names the first refused rows (source, line, record, column, reason) and how many there are
    in all. Load again with ``strict=False`` to keep the good rows.

    Args:
        message: What was refused.
        report: The :class:`~smarketing.connectors.LoadReport` of the load, every refusal included.
    """

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_load_error, (self.message, self.report))


def _rebuild_load_error(message: str, report: Any) -> LoadError:
    return LoadError(message, report=report)


class CurrencyMismatchError(SmarketingError, TypeError):
    """Two amounts in different currencies were combined without an exchange rate."""


class RuleError(SmarketingError, ValueError):
    """A rule definition is invalid (bad code, duplicate code, bad severity)."""


class DeliveryError(SmarketingError, OSError):
    """A digest could not be delivered: the channel's configuration is missing or it refused the message.

    The message names the channel and what went wrong, never a password or a webhook URL (they are
    redacted before the error is made, and the library's own exception is not chained).

    Args:
        message: What went wrong.
        channel: ``email`` or ``slack``, put before the message.

    Examples:
        >>> str(DeliveryError("the webhook answered HTTP 500", channel="slack"))
        'slack: the webhook answered HTTP 500'
    """

    def __init__(self, message: str, *, channel: str | None = None) -> None:
        self.channel = channel
        super().__init__(message if channel is None else f"{channel}: {message}")

    def __str__(self) -> str:
        # OSError formats its arguments itself; keep the one message.
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        message = str(self.args[0])
        if self.channel is not None:
            message = message.removeprefix(f"{self.channel}: ")
        return (_delivery_error, (message, self.channel))


def _delivery_error(message: str, channel: str | None) -> DeliveryError:
    return DeliveryError(message, channel=channel)


class PluginError(SmarketingError, ImportError):
    """A plugin could not be loaded, failed, or does not implement its interface.

    Raised (or, for a plugin skipped at load time, reported as a :class:`PluginWarning` or a check
    diagnostic) wherever smarketing calls third-party code: the message names the entry-point group and
    the plugin, ``group: plugin: what went wrong``; the plugin's own exception is the ``__cause__``.

    Args:
        message: What went wrong.
        plugin: The entry-point name of the plugin, when known.
        group: The entry-point group (``smarketing.rules``, ``smarketing.attribution``,
            ``smarketing.metrics``).

    Examples:
        >>> str(
        ...     PluginError("touch_weights: ZeroDivisionError", plugin="acme", group="smarketing.attribution")
        ... )
        'smarketing.attribution: acme: touch_weights: ZeroDivisionError'
    """

    def __init__(self, message: str, *, plugin: str | None = None, group: str | None = None) -> None:
        self.plugin = plugin
        self.group = group
        super().__init__(": ".join([*(p for p in (group, plugin) if p), message]))


class PluginWarning(UserWarning):
    """A plugin was skipped (it failed to load, or clashes with another); the other plugins still run.

    The message has the shape of a :class:`PluginError`'s: ``group: plugin: what went wrong``.
    """


class ClosedCalendarError(ValueError):
    """The calendar has no open time at all in the dates a clock must cover: no business time passes."""


class ContractError(Exception):
    """What a plugin returned breaks its interface (raised by the host's checks, described without a type).

    The host catches it and reports the plugin by name in a :class:`PluginError` or :class:`PluginWarning`;
    it never reaches a caller on its own.
    """
