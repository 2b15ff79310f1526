"""House rules of ``src/smarketing`` that a reader relies on (issue 14).

* No function runs over :data:`MAX_LINES` lines of code, unless a ``# long:`` comment on the line above its
  ``def`` says why the longer one reads better.
* Every private function (a private name, or any function of a private module such as ``_kernel``) over
  :data:`DOCSTRING_AT` lines of code has a docstring saying what it computes.

Lines of code are the lines of a function's body that hold code: blank lines, comment lines and the docstring
do not count.
* Tests import smarketing's private modules only where :data:`TEST_INTERNALS` says why: the subjects'
  kernels, the shared plumbing, and a few named internals; everything else goes through public names.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "smarketing"
TESTS = SRC.parent.parent / "tests"
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


#: The private modules tests may import, and why (``*`` matches one dotted part).
TEST_INTERNALS = {
    "smarketing.*._kernel": "a subject's columnar kernel, checked against its reference implementation",
    "smarketing.frames._money": "the shared money intake (minor units, rates, exact conversion)",
    "smarketing.frames._calendar": "the one business clock",
    "smarketing.frames._engine": "the map-reduce layer: merges checked against one partition (the laws)",
    "smarketing.attribution._scale": "attribution's partials, mapped over random partitions (the merge laws)",
    "smarketing.attribution._exact": "exact float sums against math.fsum, in any grouping (the merge law)",
    "smarketing.rewards._scale": "the rewards' partials, mapped over random partitions (the merge laws)",
    "smarketing.feedback._scale": "the feedback analyses' partial tables, seen mapped on Spark (D015)",
    "smarketing.persona._scale": "the scores' partials, mapped over random partitions (the merge laws)",
    "smarketing.rewards._context": "the plan context, as compute_rewards builds it",
    "smarketing.rewards._context._Context": "the plan context, as compute_rewards builds it",
    "smarketing._plugins": "the plugin loader, driven with fake entry points",
    "smarketing._periods": "period windows, the vocabulary of KPI and time tests",
    "smarketing._limits": "the input limits the hostile tests push against",
    "smarketing._charts": "the deterministic SVG of a figure, which the golden chart digests are taken of",
    "smarketing.plan._yaml": "the strict loader and its fast path must agree on every plan",
    "smarketing.rewards._allocate": "the allocation laws, at sizes that take each vectorised path",
    "smarketing.rules._docs": "the generated rules page",
    "smarketing.cli._demo": "what the demo writes",
    "smarketing.cli._demo_story": "the demo's trade fair, to compare the demo's figures with its data",
    "smarketing.cli._lint_text": "lint-text's file-size limit, lowered so a small file can cross it",
    "smarketing.glossary._matcher": "lint_text's expression, compiled once and cached per glossary object",
    "smarketing.glossary._markup": "the quick HTML reader must give html.parser's text on every page",
    "smarketing.connectors._read": "the CSV reader's columnar line count must agree with Python's csv module",
    "smarketing.connectors._read._csv_lines": "the Python fallback the line count is checked against",
    "smarketing.records.schema._duplicates": "uniqueness counted by hashes first, exact on every engine",
    "smarketing.persona._stats": "the statistics, checked against scikit-learn and hand-computed tables",
    "smarketing.persona.agreement._agreement_rows": "the agreement core, fed hand-built counts",
    "smarketing.persona.calibrate._calibration": "the calibration core, fed hand-built score frames",
    "smarketing.persona.segment._segments": "the segment core, fed hand-built lead frames",
    "smarketing.connectors.intake._fast_time": "the fast parse of times must agree with the general one",
    "smarketing.connectors.intake._parse_time": "the general parser the fast one is checked against",
    "smarketing.connectors.intake._options": "the options both parsers take",
    "smarketing.connectors.intake._canonical_time": "the by-position read, held to the general parser",
    "smarketing.connectors._read._read_whole": "the whole-file path the chunked reader is checked against",
    "smarketing.connectors._read.read_csv_header": "the chunked reader with the columns kept",
    "smarketing.connectors._warehouse_read": "the float money rule, at each currency's minor unit",
}


def _private(module: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in module.split("."))


def _allowed(module: str) -> bool:
    parts = module.split(".")
    for pattern in TEST_INTERNALS:
        wanted = pattern.split(".")
        if len(wanted) == len(parts) and all(w in ("*", p) for w, p in zip(wanted, parts, strict=True)):
            return True
    return False


def _test_imports() -> Iterator[tuple[str, str]]:
    """(where, module) for every smarketing module a test imports, ``from m import _x`` as ``m._x``."""
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(TESTS.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                yield from ((where, a.name) for a in node.names if a.name.startswith("smarketing"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smarketing"):
                module = node.module or ""
                yield where, module
                yield from ((where, f"{module}.{a.name}") for a in node.names if a.name.startswith("_"))


def test_tests_reach_internals_only_where_the_house_says_why() -> None:
    stray = sorted(f"{where}: {m}" for where, m in _test_imports() if _private(m) and not _allowed(m))
    assert not stray, "private modules imported by tests without a reason in TEST_INTERNALS:\n" + "\n".join(
        stray
    )


def test_the_internals_rule_sees_private_imports() -> None:
    assert _private("smarketing.sla._kernel")
    assert _allowed("smarketing.sla._kernel")
    assert _private("smarketing.rewards._deals")
    assert not _allowed("smarketing.rewards._deals")
    assert not _private("smarketing.rewards.model")


def test_the_docs_build_counts_its_warnings() -> None:
    """``mkdocs build --strict`` fails on warnings only when they are logged: ``--quiet`` would hide them."""
    makefile = (SRC.parent.parent / "Makefile").read_text().splitlines()
    docs = [line for line in makefile if "mkdocs build" in line]
    assert docs
    assert all("--strict" in line and "--quiet" not in line and " -q" not in line for line in docs)
