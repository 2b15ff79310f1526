"""House rules of ``src/smarketing`` that a reader relies on (issue 14).

* No function runs over :data:`MAX_LINES` lines of code, unless a ``# long:`` comment on the line above its
  ``def`` says why the longer one reads better.
* Every private function (a private name, or any function of a private module such as ``_kernel``) over
  :data:`DOCSTRING_AT` lines of code has a docstring saying what it computes.

Lines of code are the lines of a function's body that hold code: blank lines, comment lines and the docstring
do not count.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

# Issue 14 is in progress: the subject moves are on the helper branches in wip/h14-branches.bundle.
pytestmark = pytest.mark.xfail(reason="issue 14 moves not merged yet", strict=False)

SRC = Path(__file__).resolve().parent.parent / "src" / "smarketing"
MAX_LINES = 100
DOCSTRING_AT = 30

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _code_lines(source: str) -> set[int]:
    """The line numbers that hold a token other than a comment, a newline or an indent."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def _functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _size(fn: Function, code: set[int]) -> int:
    body = fn.body
    if ast.get_docstring(fn) is not None:
        body = body[1:]
    if not body:
        return 0
    first, last = body[0].lineno, fn.end_lineno or body[-1].lineno
    return sum(1 for n in range(first, last + 1) if n in code)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        yield ".".join(path.relative_to(SRC.parent).with_suffix("").parts), path


def _survey() -> tuple[list[str], list[str]]:
    too_long: list[str] = []
    undocumented: list[str] = []
    for module, path in _modules():
        source = path.read_text(encoding="utf-8")
        code = _code_lines(source)
        lines = source.splitlines()
        private_module = any(part.startswith("_") and part != "__init__" for part in module.split("."))
        for fn in _functions(ast.parse(source)):
            size = _size(fn, code)
            where = f"{path.relative_to(SRC.parent.parent)}:{fn.lineno} {fn.name} ({size} lines)"
            first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
            explained = first >= 2 and lines[first - 2].strip().startswith("# long:")
            if size > MAX_LINES and not explained:
                too_long.append(where)
            private = private_module or (fn.name.startswith("_") and not fn.name.startswith("__"))
            if private and size > DOCSTRING_AT and ast.get_docstring(fn) is None:
                undocumented.append(where)
    return too_long, undocumented


def test_no_function_runs_over_a_hundred_lines() -> None:
    too_long, _ = _survey()
    assert not too_long, "functions over 100 lines of code without a '# long:' reason:\n" + "\n".join(
        too_long
    )


def test_every_long_private_function_says_what_it_computes() -> None:
    _, undocumented = _survey()
    assert not undocumented, "private functions over 30 lines without a docstring:\n" + "\n".join(
        undocumented
    )


def test_the_survey_counts_code_not_comments() -> None:
    source = 'def f():\n    """Doc."""\n    # note\n\n    x = 1\n    return (x,\n            2)\n'
    fn = next(_functions(ast.parse(source)))
    assert _size(fn, _code_lines(source)) == 3
