"""The generated parts of ``docs/architecture.md`` stay true to the code.

Two parts of the page are generated: the layer table (from the contract in ``tests/test_layers.py``) and
the folder map (every module of ``src/smarketing`` with its layer and the first line of its docstring).
Each sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``; after a change of layout run

    .venv/bin/python tests/test_architecture_docs.py --update
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_layers import LAYERS, NO_PLAN, layer_of  # noqa: E402

SRC = ROOT / "src" / "smarketing"
PAGE = ROOT / "docs" / "architecture.md"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.replace("|", "\\|")


def layers_table() -> str:
    rows = ["| Layer | What lives there | Modules |", "| --- | --- | --- |"]
    for name, what, patterns in LAYERS:
        rows.append(f"| **{name}** | {what} | {', '.join(f'`{p}`' for p in patterns)} |")
    rows.append("")
    never = ", ".join(f"`{p}`" for p in NO_PLAN)
    rows.append(f"Never importing the plan, not even for type hints: {never}.")
    return "\n".join(rows)


def folder_map() -> str:
    rows = ["| Module | Layer | What it holds |", "| --- | --- | --- |"]
    for path in sorted(SRC.rglob("*.py"), key=lambda p: p.relative_to(SRC).parts):
        shown = path.relative_to(SRC.parent).as_posix()
        rows.append(f"| `{shown}` | {layer_of(_module_name(path))} | {_summary(path)} |")
    return "\n".join(rows)


PARTS = {"layers": layers_table, "folders": folder_map}


def render(text: str) -> str:
    for name, make in PARTS.items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(\n<!-- end: {name} -->)", re.S)
        assert pattern.search(text), f"docs/architecture.md has no generated part {name!r}"
        text = pattern.sub(lambda m, make=make: m.group(1) + "\n" + make() + "\n" + m.group(2), text)
    return text


def test_generated_parts_match_the_code() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert render(text) == text, "docs/architecture.md is stale: run tests/test_architecture_docs.py --update"


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        PAGE.write_text(render(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        raise SystemExit(__doc__)
