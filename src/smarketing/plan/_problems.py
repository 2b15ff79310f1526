"""Located problems: where a plan came from, and pydantic's errors turned into ``file:line: path`` issues."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from smarketing._base import (
    join_path,
)
from smarketing.errors import PlanError, PlanIssue


class Source:
    """Where a plan came from: file name and the line of every field path."""

    __slots__ = ("file", "lines")

    def __init__(self, file: str | None, lines: Mapping[str, int]) -> None:
        self.file = file
        self.lines = dict(lines)

    def line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = _parent(path)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


# --------------------------------------------------------------------------------------------------
# From pydantic's errors to located PlanIssues.


def _walk(data: Any, loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    """Turn a pydantic error location into a field path of the document.

    Location parts that are not keys of the document (union member tags and the like) are skipped; the
    last part is kept even when absent, since it names a missing field.
    """
    parts: list[str] = []
    node = data
    for i, item in enumerate(loc):
        if isinstance(node, Mapping) and item in node:
            parts.append(f".{item}")
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            parts.append(f"[{item}]")
            node = node[item]
        elif i == len(loc) - 1 and isinstance(item, str) and isinstance(node, Mapping):
            # A missing field is named by the last part; union member tags ("decimal", "str") are not.
            model = _model_at(root, loc[:-1])
            if model is not None and any(item in (n, f.alias) for n, f in model.model_fields.items()):
                parts.append(f".{item}")
    return "".join(parts).lstrip(".")


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found at a location, following field annotations from ``root`` (the plan)."""
    current: Any = root
    for item in loc:
        model = _unwrap_model(current)
        if model is None:
            if isinstance(item, int | str):  # list index or dict key: stay on the element type
                current = _element_type(current)
                continue
            return None
        field = next(
            (f for n, f in model.model_fields.items() if item in (n, f.alias)),
            None,
        )
        if field is None:
            continue  # a union tag or the like
        current = field.annotation
    return _unwrap_model(current)


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap_model(args[0])
    if typing.get_origin(tp) is typing.Annotated:
        return _unwrap_model(args[0])
    return None


def _element_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _element_type(args[0])
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return tp


def _message(error: Any, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    loc = error["loc"]
    field = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        allowed = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        close = difflib.get_close_matches(str(field), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f" (allowed: {', '.join(allowed)})" if allowed and not close else ""
        return f"unknown key {field!r}{hint}{where}"
    if kind == "missing":
        return "required field missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if kind != "located" and value is not None and not isinstance(value, dict | list):
        if isinstance(value, int) and value.bit_length() > 200:  # repr() of 4,300+ digits raises
            return message
        shown = str(value) if isinstance(value, Decimal) else repr(value)
        if len(shown) > 60:  # a 5,000-character value is named, not printed
            shown = shown[:40] + "..." + shown[-10:]
        if shown not in message and str(value) not in message:
            message += f" (got {shown})"
    return message


def plan_error(exc: ValidationError, data: Any, source: Source, root: type[BaseModel]) -> PlanError:
    """One located :class:`PlanError` for every problem pydantic found validating ``data`` as ``root``."""
    by_path: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "located":
            base = _walk(data, loc, root)
            for relative, message in error["ctx"]["problems"]:
                by_path.setdefault(join_path(base, relative), []).append(message)
            continue
        parent_loc = loc[:-1] if error["type"] in ("extra_forbidden", "missing") else loc
        message = _message(error, _model_at(root, parent_loc))
        by_path.setdefault(_walk(data, loc, root), []).append(message)
    # A value that fits no member of a union fails once per member; say so once, listing what fits.
    issues = [
        PlanIssue(
            messages[0] if len(set(messages)) == 1 else "; or ".join(dict.fromkeys(messages)),
            path=path,
            line=source.line(path),
        )
        for path, messages in by_path.items()
    ]
    issues.sort(key=lambda i: (i.line if i.line is not None else 1 << 30, i.path))
    return PlanError(issues[0].message, file=source.file, issues=issues)
