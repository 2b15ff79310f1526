"""The connectors smarketing can load: the built-in ones and the plugins of the entry-point group.

A connector is a class whose ``__init__`` takes its options as keyword-only arguments, each documented in
the class docstring's ``Args:`` section; :func:`load_connector` makes one by name,
:func:`available_connectors` lists them with their options (what ``smarketing sources`` prints).
Third-party connectors register a class under the entry-point group :data:`ENTRY_POINT_GROUP`::

    [project.entry-points."smarketing.connectors"]
    spreadsheet-crm = "spreadsheet_crm:SpreadsheetCRM"

Built-in connectors are imported only when used or listed. A plugin that fails to import, or registers a
name twice, is skipped with a :class:`~smarketing.errors.PluginWarning` naming it; the others load. A
connector that raises while being made is a :class:`~smarketing.errors.PluginError` naming it, except a
:class:`~smarketing.errors.DataError` (bad data or a bad option value, already located), which passes
through as it is.

Examples:
    >>> load_connector("hubspot-exprot")
    Traceback (most recent call last):
    ...
    smarketing.errors.PluginError: ...: unknown connector 'hubspot-exprot'; did you mean 'hubspot-export'? ...
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import warnings
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, Final

import attrs

from smarketing import _plugins
from smarketing.connectors.report import Loaded
from smarketing.errors import DataError, PluginError, PluginWarning
from smarketing.typing import Connector

__all__ = [
    "BUILTIN",
    "ConnectorInfo",
    "ConnectorOption",
    "ENTRY_POINT_GROUP",
    "available_connectors",
    "connector_info",
    "load_connector",
    "option_help",
]

#: The entry-point group that connector plugins register under.
ENTRY_POINT_GROUP: Final = "smarketing.connectors"

#: The connectors smarketing ships: name -> ``module:Class``, imported when first used.
BUILTIN: Final[Mapping[str, str]] = MappingProxyType(
    {
        "files": "smarketing.connectors.files:FilesConnector",
        "hubspot-export": "smarketing.connectors.hubspot:HubSpotExport",
        "salesforce-export": "smarketing.connectors.salesforce:SalesforceExport",
        "warehouse": "smarketing.connectors.warehouse:Warehouse",
    }
)

#: The origin of the built-in connectors, as :class:`ConnectorInfo` says it.
BUILTIN_ORIGIN: Final = "smarketing"


@attrs.frozen
class ConnectorOption:
    """One option of a connector, read from its ``__init__`` and its docstring.

    Attributes:
        name: The keyword argument (``time_zone``); on the command line ``--option time_zone=...``.
        annotation: The type as written in the signature (``str | None``); empty when not annotated.
        default: The default as Python writes it (``None``, ``'.'``); ``None`` for a required option.
        required: The option has no default.
        help: Its description from the class docstring's ``Args:`` section (empty when undocumented).
    """

    name: str
    annotation: str
    default: str | None
    required: bool
    help: str


@attrs.frozen
class ConnectorInfo:
    """A connector that can be loaded: its name, what it reads, where it comes from and its options.

    Attributes:
        name: The name given to :func:`load_connector` and ``--source NAME:PATH``.
        summary: The first line of the class docstring.
        origin: ``"smarketing"`` for a built-in connector, else the distribution that registers it.
        target: The class, as ``module:Class``.
        options: Its options, in the order of the signature.
    """

    name: str
    summary: str
    origin: str
    target: str
    options: tuple[ConnectorOption, ...]

    def option(self, name: str) -> ConnectorOption | None:
        """The option called ``name``, or ``None``."""
        return next((o for o in self.options if o.name == name), None)


@attrs.frozen
class _Entry:
    """What the registry knows of one connector: its info and how to get the class."""

    info: ConnectorInfo
    factory: Callable[..., Any]
    open_options: bool  # the signature also takes **kwargs: any option name is passed on


def _short(value: str) -> str:
    return _plugins.text_line(value)


# --------------------------------------------------------------------------------------------------
# Reading a class: its options from the signature, their help from the docstring.

_ARG = re.compile(r"^(\*{0,2}[A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def option_help(doc: str | None) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring: argument name -> its description, one line.

    Examples:
        >>> option_help('''Read things.
        ...
        ... Args:
        ...     path: The folder.
        ...     time_zone: The zone of times without an offset,
        ...         never guessed.
        ...
        ... Returns:
        ...     Nothing.
        ... ''')
        {'path': 'The folder.', 'time_zone': 'The zone of times without an offset, never guessed.'}
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    found: dict[str, str] = {}
    start = next((i for i, line in enumerate(lines) if line.strip() in ("Args:", "Arguments:")), None)
    if start is None:
        return found
    indent = len(lines[start]) - len(lines[start].lstrip())
    entry: int | None = None
    current: str | None = None
    for line in lines[start + 1 :]:
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if stripped and depth <= indent:
            break  # the next section
        if not stripped:
            continue
        entry = depth if entry is None else entry
        match = _ARG.match(stripped) if depth == entry else None
        if match is not None:
            current = match[1].lstrip("*")
            found[current] = match[2]
        elif current is not None:
            found[current] = f"{found[current]} {stripped}".strip()
    return found


def _options(cls: Any) -> tuple[tuple[ConnectorOption, ...], bool]:
    """The options of a connector class (its ``__init__`` keywords) and whether it takes ``**kwargs``."""
    signature = inspect.signature(cls)
    helps = option_help(inspect.getdoc(cls))
    options: list[ConnectorOption] = []
    open_options = False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            open_options = True
            continue
        if parameter.kind not in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            continue
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty:
            shown = ""
        elif isinstance(annotation, str):
            shown = annotation
        else:
            shown = inspect.formatannotation(annotation)
        required = parameter.default is inspect.Parameter.empty
        options.append(
            ConnectorOption(
                name=parameter.name,
                annotation=_short(shown),
                default=None if required else _short(repr(parameter.default)),
                required=required,
                help=_short(helps.get(parameter.name, "")),
            )
        )
    return tuple(options), open_options


def _summary(cls: Any) -> str:
    doc = inspect.getdoc(cls) or ""
    return _short(doc.strip().splitlines()[0]) if doc.strip() else ""


def _describe_class(name: str, cls: object, origin: str, target: str) -> _Entry:
    """The registry entry of a connector class; :class:`ContractError` when ``cls`` is not one."""
    if not isinstance(cls, type) or not callable(getattr(cls, "load", None)):
        raise _plugins.ContractError(
            f"{_short(repr(cls))} is not a connector class "
            "(a class with load(); see smarketing.typing.Connector)"
        )
    options, open_options = _options(cls)
    info = ConnectorInfo(name=name, summary=_summary(cls), origin=origin, target=target, options=options)
    return _Entry(info=info, factory=cls, open_options=open_options)


# --------------------------------------------------------------------------------------------------
# Discovery.


def _builtin(name: str) -> _Entry:
    """A built-in connector, imported now."""
    target = BUILTIN[name]
    module, _, attribute = target.partition(":")

    def find() -> object:
        return getattr(importlib.import_module(module), attribute)

    cls = _plugins.guard(ENTRY_POINT_GROUP, name, f"failed to load ({target})", find)
    return _plugins.guard(
        ENTRY_POINT_GROUP,
        name,
        f"not a usable connector ({target})",
        _describe_class,
        name,
        cls,
        BUILTIN_ORIGIN,
        target,
    )


def _distribution(point: Any) -> str:
    dist = getattr(point, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    if isinstance(name, str) and name:
        return _short(name)
    return _short(str(getattr(point, "value", "?")).partition(":")[0] or "?")


@cache
def _installed() -> tuple[Mapping[str, _Entry], Mapping[str, str]]:
    """Connectors registered by other distributions, and names that cannot be used (with the reason).

    Each entry point loads on its own: one that fails, exits, is not a connector class, takes a built-in
    name or clashes with another is skipped with a :class:`~smarketing.errors.PluginWarning` naming it.
    """
    found: dict[str, _Entry] = {}
    broken: dict[str, str] = {}

    def skip(name: str, message: str) -> None:
        broken[name] = message
        warnings.warn(
            str(PluginError(message, plugin=name, group=ENTRY_POINT_GROUP)), PluginWarning, stacklevel=5
        )

    for point in _plugins.entry_points(ENTRY_POINT_GROUP):
        try:
            loaded = _plugins.load(ENTRY_POINT_GROUP, point)
            name, value = _short(str.__str__(point.name)), _short(str.__str__(point.value))
            entry = _plugins.guard(
                ENTRY_POINT_GROUP,
                name,
                f"not a usable connector ({value})",
                _describe_class,
                name,
                loaded,
                _distribution(point),
                value,
            )
        except PluginError as error:
            skip(error.plugin or "?", str(error).removeprefix(f"{ENTRY_POINT_GROUP}: {error.plugin}: "))
            continue
        if name in BUILTIN:
            skip(name, f"{name} = {value} uses the built-in name {name!r}; the plugin is ignored")
            broken.pop(name)
            continue
        if name in found:
            skip(name, f"registered twice ({found[name].info.target} and {value}); uninstall one")
            del found[name]
            continue
        if name not in broken:
            found[name] = entry
    return MappingProxyType(found), MappingProxyType(broken)


def available_connectors() -> Mapping[str, ConnectorInfo]:
    """Every connector that can be loaded, by name (sorted): the built-in ones and the installed plugins.

    A connector that cannot be imported is left out with a :class:`~smarketing.errors.PluginWarning`.
    :func:`connector_info` describes one connector without importing the others.
    """
    entries: dict[str, ConnectorInfo] = {}
    for name in BUILTIN:
        try:
            entries[name] = _builtin(name).info
        except PluginError as error:
            warnings.warn(str(error), PluginWarning, stacklevel=2)
    plugins, _ = _installed()
    entries.update({name: entry.info for name, entry in plugins.items()})
    return MappingProxyType(dict(sorted(entries.items())))


def _entry(name: str) -> _Entry:
    """The connector called ``name``; an unknown name gets a did-you-mean."""
    if not isinstance(name, str):
        raise TypeError(f"a connector name must be text, not {type(name).__name__}")
    if name in BUILTIN:
        return _builtin(name)
    plugins, broken = _installed()
    if name in plugins:
        return plugins[name]
    if name in broken:
        raise PluginError(broken[name], plugin=name, group=ENTRY_POINT_GROUP)
    known = sorted({*BUILTIN, *plugins})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise PluginError(
        f"unknown connector {_short(repr(name))}{hint} (available: {', '.join(known)})",
        plugin=_short(name),
        group=ENTRY_POINT_GROUP,
    )


def connector_info(name: str) -> ConnectorInfo:
    """The description of the connector called ``name`` (its summary, origin and options).

    Raises:
        PluginError: An unknown name (with a did-you-mean) or a connector that cannot be loaded.

    Examples:
        >>> [o.name for o in connector_info("files").options][:3]
        ['path', 'paths', 'columns']
    """
    return _entry(name).info


def _check_options(entry: _Entry, options: Mapping[str, object]) -> None:
    """Refuse an option the connector does not take, or a required one that is missing, naming them."""
    info = entry.info
    names = [o.name for o in info.options]
    listed = ", ".join(names) if names else "none"
    for given in options:
        if given not in names and not entry.open_options:
            close = difflib.get_close_matches(given, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise PluginError(
                f"unknown option {_short(repr(given))}; {hint}its options: {listed}",
                plugin=info.name,
                group=ENTRY_POINT_GROUP,
            )
    missing = [o.name for o in info.options if o.required and o.name not in options]
    if missing:
        raise PluginError(
            f"missing option{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"its options: {listed}",
            plugin=info.name,
            group=ENTRY_POINT_GROUP,
        )


def load_connector(name: str, **options: object) -> Connector[Loaded]:
    """Make the connector called ``name`` with its options; call its ``load()`` to read the source.

    Args:
        name: A built-in connector (``files``, ``hubspot-export``, ``salesforce-export``, ``warehouse``) or
            an installed plugin's name (see :func:`available_connectors`).
        **options: The connector's options (``path=...``, ``time_zone=...``), as its docstring lists them.

    Raises:
        PluginError: An unknown name (with a did-you-mean), a plugin that cannot be loaded, an option the
            connector does not take or a missing required one (naming the connector's options), or any
            exception the connector raises while being made (naming the connector).
        DataError: The connector refused an option value or its source, as it said.

    Examples:
        >>> load_connector("salesforce-exprot")
        Traceback (most recent call last):
        ...
        smarketing.errors.PluginError: ...: unknown connector 'salesforce-exprot'; did you mean ...
    """
    entry = _entry(name)
    _check_options(entry, options)
    try:
        made = entry.factory(**options)
        called = made.name
    except DataError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginError(
            f"cannot be made: {_plugins.describe(exc)}", plugin=entry.info.name, group=ENTRY_POINT_GROUP
        ) from exc
    if not isinstance(called, str) or str.__str__(called) != entry.info.name:
        raise PluginError(
            f"{entry.info.target} names itself {_short(repr(called))}; the connector's name and its "
            "entry point's must match",
            plugin=entry.info.name,
            group=ENTRY_POINT_GROUP,
        )
    return made  # type: ignore[no-any-return]
