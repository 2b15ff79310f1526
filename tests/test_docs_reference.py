"""The generated plan-file reference (docs/hooks.py) renders cleanly.

Doctests in model docstrings must be code blocks, never prose; key names must be whole code spans, and the
page's style sheet must stop Material from breaking them mid-word ("participan ts").
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent


def _load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smarketing_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()
PAGE: str = hooks.render_plan_reference()


def _prose_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside a fenced code block."""
    lines, fenced = [], False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    assert not fenced, "a code block is not closed"
    return lines


def _sections(markdown: str) -> dict[str, list[str]]:
    """Model name -> the table rows (after the header) of its section."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for _, line in _prose_lines(markdown):
        if heading := re.match(r"## (\w+) \{ #", line):
            current = sections.setdefault(heading.group(1), [])
        elif current is not None and line.startswith("| ") and not line.startswith("| key |"):
            current.append(line)
    return sections


def test_no_doctest_outside_a_code_block() -> None:
    stray = [(n, line) for n, line in _prose_lines(PAGE) if ">>>" in line or line.lstrip().startswith("...")]
    assert not stray, f"doctest lines in prose: {stray[:3]}"
    assert "```pycon\n>>> plan = RewardPlan.model_validate(" in PAGE


def test_every_key_is_one_whole_code_span() -> None:
    models = {model.__name__: model for model in hooks._models(hooks.AlignmentPlan)}
    sections = _sections(PAGE)
    assert set(sections) == set(models)
    for name, rows in sections.items():
        keys = []
        for row in rows:
            cell = row.split(" | ", 1)[0].removeprefix("| ")
            assert re.fullmatch(r"`[A-Za-z_][A-Za-z0-9_]*`", cell), f"{name}: key cell {cell!r} is not whole"
            keys.append(cell.strip("`"))
        expected = [field.alias or key for key, field in models[name].model_fields.items()]
        assert keys == expected, name


def test_paragraphs_of_a_docstring_stay_paragraphs() -> None:
    assert "(sales).\n\nA signal matches a record of kind" in PAGE


class _Documented(BaseModel):
    """A model.

    A second paragraph.

    Examples:
        >>> _Documented(size=1).size
        1

    Note:
        Read this.
    """

    size: int = Field(description="How big.")


class _BadDescription(BaseModel):
    """A model."""

    size: int = Field(description="How big. >>> 1")


def test_a_docstring_example_becomes_a_code_block_after_the_table() -> None:
    section = hooks._section(_Documented, ["x"])
    assert not [line for _, line in _prose_lines(section) if ">>>" in line]
    assert section.index("| `size` |") < section.index("```pycon\n>>> _Documented(size=1).size\n1\n```")
    assert "A model.\n\nA second paragraph.\n\n**Note:** Read this." in section


def test_a_doctest_in_a_field_description_fails_the_build() -> None:
    with pytest.raises(hooks.PluginError, match=r"_BadDescription\.size"):
        hooks._section(_BadDescription, ["x"])


def test_key_names_never_break_mid_word_in_the_browser() -> None:
    page: Any = SimpleNamespace(file=SimpleNamespace(src_uri=hooks.PAGE))
    html = hooks.on_page_content("<table></table>", page, None, None)
    assert html.startswith('<div class="plan-file">')
    other: Any = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    assert hooks.on_page_content("<p>x</p>", other, None, None) == "<p>x</p>"
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "stylesheets/extra.css" in config["extra_css"]
    css = (ROOT / "docs" / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.plan-file table code,\s*\.md-typeset \.plan-file table a \{([^}]*)\}", css)
    assert rule is not None
    assert "word-break: normal" in rule.group(1)
    assert re.search(r"\.plan-file table td:first-child code \{\s*white-space: nowrap;", css)
