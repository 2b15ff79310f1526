"""Reading plan text safely and strictly, keeping the line of every field path.

A YAML 1.2-core loader, a JSON reader, and the scan that refuses unreadable values before any model runs.

Two YAML loaders share one constructor and resolver: libyaml's C parser for speed and PyYAML's pure-Python
one, which a failure falls back to so that the error names its line. :func:`dump_yaml` writes text the
loader reads back to the same values. Tests reach :class:`PlanLoader`, :data:`FastPlanLoader` and
:func:`load_yaml` here to hold the two loaders to one behaviour.
"""

from __future__ import annotations

import importlib
import json
import re
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import yaml

from smarketing._base import (
    MAX_NUMBER_CHARS,
    join_path,
)
from smarketing._limits import MAX_AMOUNT_DIGITS, MAX_DECIMAL_PLACES
from smarketing.errors import PlanError
from smarketing.plan._problems import Source

# --------------------------------------------------------------------------------------------------
# Reading text: a strict YAML 1.2-core loader that keeps the line of every field path.


#: The YAML tags a plan may hold: text, numbers, booleans, null, lists and mappings. Anything else
#: (``!!binary``, ``!!timestamp``, ``!!set``, ``!!omap``, ``!!merge``, local and ``!!python/...`` tags)
#: is refused with its place, never decoded into a value.
_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_INT_TEXT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", re.ASCII)
_FLOAT_TEXT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_BOOL_TEXT = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL_TEXT = frozenset({"", "~", "null", "Null", "NULL"})


class _Invalid:
    """A scalar the loader could not turn into a plan value; reported with its field path after parsing."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return "<invalid>"


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:30] + "...")


class _PlanConstructor(yaml.constructor.SafeConstructor):
    """Builds plan values: exact decimals, bounded numbers, no aliases, tags or duplicate keys."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node.tag not in _ALLOWED_TAGS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            return _Invalid(
                f"the tag {_shown(tag)} is not allowed in a plan file; a plan holds text, numbers, "
                "true/false, null, lists and mappings"
            )
        return super().construct_object(node, deep=deep)

    def flatten_mapping(self, node: Any) -> None:
        """No ``<<`` merge keys: an explicit ``!!merge`` key is refused as a tag, not merged."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):  # pragma: no cover - composer guarantees it
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key must be text",
                    key_node.start_mark,
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first on line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int | _Invalid:
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_NUMBER_CHARS:
        return _Invalid(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if _INT_TEXT.fullmatch(text) is None:
        return _Invalid(f"{_shown(text)} is not a whole number (YAML 1.2: digits, 0o.. or 0x..)")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)  # YAML 1.2: a leading zero is still decimal


def _construct_decimal(loader: Any, node: yaml.ScalarNode) -> Decimal | _Invalid:
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_NUMBER_CHARS:
        return _Invalid(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if _FLOAT_TEXT.fullmatch(text) is None:
        return _Invalid(f"{_shown(text)} is not a finite number; write digits such as 0.75 or 1250")
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond what any Decimal holds, e.g. 1e9999999999999999999
        return _Invalid(
            f"{_shown(text)} is out of range: at most {MAX_AMOUNT_DIGITS} digits before the point "
            f"and {MAX_DECIMAL_PLACES} after it"
        )


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool | _Invalid:
    text = str(loader.construct_scalar(node))
    if text not in _BOOL_TEXT:
        return _Invalid(f"{_shown(text)} is not a boolean; write true or false")
    return _BOOL_TEXT[text]


def _construct_null(loader: Any, node: yaml.ScalarNode) -> _Invalid | None:
    text = str(loader.construct_scalar(node))
    if text not in _NULL_TEXT:
        return _Invalid(f"{_shown(text)} is not null; write null or leave the value out")
    return None


class _PlanResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core resolution (filled below) instead of SafeLoader's YAML 1.1 one."""

    yaml_implicit_resolvers: typing.ClassVar[dict[Any, Any]] = {}  # type: ignore[misc]


class PlanLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _PlanConstructor,
    _PlanResolver,
):
    """The pure-Python plan loader: every error it finds carries the line of the problem."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _PlanConstructor.__init__(self)
        _PlanResolver.__init__(self)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in plan files; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_CParser: Any = (
    getattr(importlib.import_module("yaml.cyaml"), "CParser", None) if yaml.__with_libyaml__ else None
)
FastPlanLoader: Any = None
if _CParser is not None:  # libyaml: the same constructor and resolver on a C parser and composer

    class FastPlanLoader(_CParser, _PlanConstructor, _PlanResolver):  # type: ignore[no-redef,misc]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _PlanConstructor.__init__(self)
            _PlanResolver.__init__(self)


_RESOLVERS: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        "-+.0123456789",
    ),
]
for _tag, _pattern, _first in _RESOLVERS:
    _PlanResolver.add_implicit_resolver(
        _tag, re.compile(_pattern), [*_first, ""] if _tag.endswith("null") else list(_first)
    )
_PlanConstructor.add_constructor("tag:yaml.org,2002:int", _construct_int)
_PlanConstructor.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_PlanConstructor.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_PlanConstructor.add_constructor("tag:yaml.org,2002:null", _construct_null)


class _AliasedError(Exception):
    """A node appears twice in the composed tree: the C composer resolved an alias."""


def _line_map(node: yaml.Node, path: str = "", lines: dict[str, int] | None = None) -> dict[str, int]:
    lines = {} if lines is None else lines
    seen: set[int] = set()
    # Iterative, so a plan nested a thousand levels deep needs no deep recursion here.
    stack: list[tuple[yaml.Node, str]] = [(node, path)]
    while stack:
        current, at = stack.pop()
        if id(current) in seen:
            raise _AliasedError
        seen.add(id(current))
        lines.setdefault(at, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = str(key_node.value)
                child = f"{at}.{key}" if at else key
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(current.value))
    return lines


def _yaml_error(exc: yaml.YAMLError, file: str | None, text: str) -> PlanError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):  # a bad character: the reader knows its offset only
        return PlanError(
            f"invalid YAML: character {_char(exc.character)} is not allowed in a plan file",
            file=file,
            line=text.count("\n", 0, exc.position) + 1,
        )
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return PlanError(message, file=file, line=line)


def parse_yaml(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    if FastPlanLoader is not None:
        try:
            return load_yaml(FastPlanLoader, text, file)
        except (yaml.YAMLError, _AliasedError, RecursionError, UnicodeError):
            pass  # the pure-Python loader below says what is wrong and on which line
    return load_yaml(PlanLoader, text, file)


def load_yaml(kind: Any, text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    try:
        loader = kind(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        if kind is not PlanLoader:
            raise
        raise _yaml_error(exc, file, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError("the plan is empty", file=file, line=1)
        lines = _line_map(node)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        if kind is not PlanLoader:
            raise
        raise _yaml_error(exc, file, text) from None
    except RecursionError:
        if kind is not PlanLoader:
            raise
        raise PlanError("the plan is nested too deeply", file=file) from None
    finally:
        loader.dispose()
    return data, lines


def _json_number(text: str) -> int | Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number is at most {MAX_NUMBER_CHARS} characters long, not {len(text):,}")
    if "." in text or "e" in text or "E" in text:
        try:
            return Decimal(text)
        except ArithmeticError:
            raise ValueError(f"{_shown(text)} is out of range") from None
    return int(text)


def parse_json(text: str, file: str | None) -> tuple[Any, dict[str, int]]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number a plan can hold")

    try:
        data = json.loads(
            text,
            parse_float=_json_number,
            parse_int=_json_number,
            parse_constant=no_constants,
            object_pairs_hook=no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise PlanError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except ValueError as exc:
        raise PlanError(f"invalid JSON: {exc}", file=file, line=_json_problem_line(text)) from None
    except RecursionError:
        raise PlanError("the plan is nested too deeply", file=file) from None
    return data, _json_lines(text)


def _json_lines(text: str) -> dict[str, int]:
    # Valid JSON is YAML once tabs (legal JSON whitespace, never inside a valid JSON string) become
    # spaces, so the YAML composer can tell the line of every field; it changes no line break.
    text = text.replace("\t", " ")
    for kind in (FastPlanLoader, PlanLoader):
        if kind is None:
            continue
        loader = kind(text)
        try:
            node = loader.get_single_node()
            return _line_map(node) if node is not None else {}
        except (yaml.YAMLError, RecursionError, _AliasedError):
            continue
        finally:
            loader.dispose()
    return {}


def _json_problem_line(text: str) -> int | None:
    """Line of a duplicate key, an overlong number or a NaN/Infinity constant in otherwise valid JSON."""
    data: Any = None
    lines: dict[str, int] = {}
    try:
        data, lines = load_yaml(PlanLoader, text.replace("\t", " "), None)
    except PlanError as exc:  # raises at the duplicate key
        if exc.line is not None:
            return exc.line
    for path, message in scan(data):
        if "characters long" in message or "out of range" in message:
            return Source(None, lines).line(path)
    match = re.search(r"(?<![\w\"])-?(NaN|Infinity)(?![\w\"])", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


#: Characters refused in any text of a plan: C0 controls but tab and line feed, DEL, C1 controls, and
#: the bidirectional overrides that make text display in a different order than it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _kind(char: str) -> str:
    return "a lone surrogate" if "\ud800" <= char <= "\udfff" else "control character"


def _char(character: object) -> str:
    # The reader gives the code point; show it as U+007F with its escaped form.
    if isinstance(character, int):
        return f"U+{character:04X} ({chr(character)!r})"
    return repr(character)


def scan(data: Any) -> Iterator[tuple[str, str]]:
    """Values no field may hold, with their field paths: unreadable scalars and control characters."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Invalid):
            yield path, value.message
        elif isinstance(value, str):
            # Tab and line feed belong in descriptions and definitions, never in a one-line name.
            match = (_NAME_CONTROL if path == "name" or path.endswith(".name") else _CONTROL).search(value)
            if match:
                yield (
                    path,
                    f"{_kind(match.group())} {match.group()!r} (at position {match.start() + 1}) is not "
                    "allowed in plan text",
                )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                child = join_path(path, str(key))
                if isinstance(key, _Invalid):
                    yield path, key.message
                elif isinstance(key, str) and (bad := _CONTROL.search(key)):
                    yield path, f"control character {bad.group()!r} in the key {key!r} is not allowed"
                stack.append((item, child))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


class _PlanDumper(yaml.SafeDumper):
    """Quotes every string our loader would read as something else."""


for _tag, _pattern, _first in _RESOLVERS:
    _PlanDumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first) or [""])


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


_PlanDumper.add_representer(Decimal, _represent_decimal)


def dump_yaml(data: Any) -> str:
    """YAML text of plain data (a dumped plan) that :func:`parse_yaml` reads back to the same values."""
    return yaml.dump(data, Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=100)
