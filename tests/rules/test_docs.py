"""The rules page is generated from the registry and every code has exactly one anchor there."""

from __future__ import annotations

import re
from pathlib import Path

from smarketing.rules import ENGINE_CODES, DataRule, RuleSpec, builtin_rules, data_rules
from smarketing.rules._docs import render_rules_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "rules.md"
#: The built-in rules of the plan, then those of the data: the rules page documents both.
RULES: list[RuleSpec | DataRule] = [*builtin_rules(), *data_rules()]


def test_rules_page_is_up_to_date() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_rules_page(), "run `make rules-docs`"


def test_every_code_has_one_anchor_and_no_anchor_lacks_a_code() -> None:
    codes = [r.code for r in RULES] + [c.code for c in ENGINE_CODES]
    anchors = re.findall(r"\{ #([a-z0-9]+) \}", PAGE.read_text(encoding="utf-8"))
    assert sorted(anchors) == sorted(c.lower() for c in codes)
    assert len(anchors) == len(set(anchors))


def test_every_url_points_at_its_anchor() -> None:
    for r in RULES:
        assert r.url is not None
        assert r.url.endswith(f"/rules/#{r.code.lower()}")


def test_every_rule_explains_itself() -> None:
    for r in RULES:
        assert r.title[0].isupper()
        assert not r.title.endswith(".")
        assert r.rationale.endswith((".", ")")), r.code
        assert r.fix.endswith((".", ")")), r.code
