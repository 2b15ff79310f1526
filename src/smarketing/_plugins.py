"""The one plugin loader and the guarded call (private): third-party code never takes the host down.

smarketing runs other people's code through four entry-point groups, :data:`GROUPS`. Everything that
touches a plugin goes through this module:

* :func:`entry_points` is the single lookup of installed plugins (sorted, so loading is deterministic);
* :func:`load` imports one entry point, each separately, so one broken plugin never hides the others;
* :func:`guard` calls plugin code in the calling thread, :func:`call` in a worker thread with a time
  budget. Either turns *any* failure, including ``SystemExit`` and ``GeneratorExit`` (a plugin calling
  ``sys.exit()`` must not end the host), into a :class:`~smarketing.errors.PluginError` that names the
  group and the plugin (``smarketing.rules: acme: what went wrong``), with the plugin's exception as its
  ``__cause__``. ``KeyboardInterrupt`` passes through: Ctrl-C belongs to the user.

Callers validate what a plugin returns right at the call, copy it into host-owned values, and give the
plugin copies of their inputs, so a plugin can neither break the output later nor change what the host
computes.

Why a thread, not ``SIGALRM``, for the time budget: an alarm works only in the main thread, on POSIX, and
would take the process-wide timer and handler away from the application (and from test harnesses). A
thread works everywhere; its one limit is that Python cannot kill a thread. On overrun the host stops
waiting, reports the plugin, and raises an exception inside the plugin's thread
(``PyThreadState_SetAsyncExc``, CPython), which stops a plugin that runs Python code; a plugin blocked
in C code runs on, detached, in a daemon thread that does not keep the process alive and works on its
own copy of the inputs.

Examples:
    >>> guard("smarketing.rules", "acme", "failed to load", lambda: 1 / 0)
    Traceback (most recent call last):
    ...
    smarketing.errors.PluginError: smarketing.rules: acme: failed to load: ZeroDivisionError: division by zero
"""

from __future__ import annotations

import contextvars
import ctypes
import importlib.metadata
import re
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, Final, TypeVar

from smarketing.errors import ContractError, PluginError

__all__ = [
    "GROUPS",
    "ContractError",
    "call",
    "describe",
    "entry_points",
    "guard",
    "load",
    "text",
    "text_line",
]

T = TypeVar("T")

#: The entry-point groups smarketing reads plugins from.
GROUPS: Final = ("smarketing.rules", "smarketing.attribution", "smarketing.metrics", "smarketing.connectors")

#: Characters of a plugin's exception text quoted in a message.
_QUOTED: Final = 300

#: Control characters (Unicode category Cc): never passed from a plugin to a terminal or a report.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _Abandoned(BaseException):
    """Raised inside a plugin's thread once the host has stopped waiting for it."""


def entry_points(group: str) -> tuple[importlib.metadata.EntryPoint, ...]:
    """The installed entry points of ``group``, sorted by name and value (looked up once per process).

    Tests replace this function to bring in plugins that are not installed.
    """
    return _installed(group)


@cache
def _installed(group: str) -> tuple[importlib.metadata.EntryPoint, ...]:
    # Scanning every installed distribution's metadata costs more than checking a plan, and what is
    # installed does not change while a process runs.
    return tuple(sorted(importlib.metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value)))


def describe(exc: BaseException) -> str:
    r"""``Type: text`` of an exception from plugin code: one line, at most a few hundred characters.

    Safe on exceptions whose ``str()`` raises; control characters are escaped so nothing a plugin says
    can move the cursor or clear a terminal.

    Examples:
        >>> describe(ValueError("bad\x1b[2J value"))
        'ValueError: bad\\x1b[2J value'
        >>> describe(SystemExit(3))
        'SystemExit: 3'
    """
    try:
        message = str(exc)
        kind = type(exc).__name__
    except KeyboardInterrupt:
        raise
    except BaseException:
        message, kind = "(the message cannot be shown)", "exception"
    if isinstance(exc, ContractError):
        return text_line(message)
    return text_line(f"{kind}: {message}" if message else kind)


def text_line(value: str) -> str:
    """``value`` on one line with control characters escaped, cut to a few hundred characters."""
    shown = _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), value)
    return shown if len(shown) <= _QUOTED else shown[: _QUOTED - 1] + "…"


def guard(group: str, plugin: str | None, what: str, function: Callable[..., T], /, *args: Any) -> T:
    """``function(*args)`` in this thread; any failure of it is a :class:`PluginError` naming the plugin.

    Args:
        group: The entry-point group.
        plugin: The plugin's entry-point name (``None`` for an object the caller passed directly).
        what: What was being done (``failed to load``, ``touch_weights``), the start of the message.
        function: The plugin code (or host code that reads plugin objects).
        *args: Its arguments.
    """
    try:
        return function(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginError(f"{what}: {describe(exc)}", plugin=plugin, group=group) from exc


def load(group: str, point: importlib.metadata.EntryPoint) -> object:
    """Import one entry point; a failure, ``sys.exit()`` included, is a :class:`PluginError` naming it."""
    name, value = _point_names(group, point)
    return guard(group, name, f"failed to load ({value})", point.load)


def _point_names(group: str, point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    name = getattr(point, "name", None)
    value = getattr(point, "value", None)
    if not isinstance(name, str) or not isinstance(value, str):
        raise PluginError(f"entry point {point!r} has no name or value", group=group)
    return text_line(str.__str__(name)), text_line(str.__str__(value))


def call(
    group: str,
    plugin: str | None,
    what: str,
    function: Callable[..., T],
    /,
    *args: Any,
    timeout: float | None,
) -> T:
    """:func:`guard` in a worker thread that gets ``timeout`` seconds (``None``: no limit).

    The worker runs in a copy of the caller's context (so the decimal context and other context
    variables are the caller's). An overrun is a :class:`PluginError` saying so; the worker is told to
    stop and left behind (see the module docstring).
    """
    context = contextvars.copy_context()
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append((True, context.run(function, *args)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"smarketing plugin {plugin or what}", daemon=True)
    worker.start()
    if not done.wait(timeout):
        _stop(worker)
        raise PluginError(
            f"{what}: did not finish within {timeout:g} s; stopped waiting for it", plugin=plugin, group=group
        )
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    if isinstance(value, KeyboardInterrupt):
        raise value
    raise PluginError(f"{what}: {describe(value)}", plugin=plugin, group=group) from value


def _stop(worker: threading.Thread) -> None:
    """Ask a thread that overran to stop: raise :class:`_Abandoned` in it at its next Python bytecode."""
    ident = worker.ident
    set_async_exc = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)
    if ident is None or set_async_exc is None:  # not CPython: the daemon thread runs on, detached
        return
    set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(_Abandoned))


def text(value: object, what: str, *, limit: int, empty: bool = True) -> str:
    """``value`` as a plain ``str`` the host owns, or :class:`ContractError` saying why it is not text.

    Refuses non-text (numbers, bytes, ``None``), text longer than ``limit`` characters, control
    characters, and (unless ``empty``) blank text. A ``str`` subclass is copied to a plain ``str``, so no
    plugin method runs when the host later formats it.

    Examples:
        >>> text("two entry stages", "message", limit=100)
        'two entry stages'
        >>> text(12345, "hint", limit=100)
        Traceback (most recent call last):
        ...
        smarketing.errors.ContractError: hint must be text, not int
    """
    if not isinstance(value, str):
        raise ContractError(f"{what} must be text, not {type(value).__name__}")
    plain = str.__str__(value)
    if len(plain) > limit:
        raise ContractError(f"{what} has {len(plain)} characters; at most {limit} are accepted")
    bad = _CONTROL.search(plain)
    if bad is not None:
        raise ContractError(f"{what} contains the control character {bad[0]!r}")
    if not empty and not plain.strip():
        raise ContractError(f"{what} must not be empty")
    return plain
