"""Fixtures for the rule tests: the example plan as editable data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from smarketing.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]


_EXAMPLE = load_plan(ROOT / "examples" / "plan.yaml").model_dump(
    mode="json", by_alias=True, exclude_unset=True
)


def example_data() -> dict[str, Any]:
    """A fresh copy of the example plan as plain data that loads back to the same plan."""
    return copy.deepcopy(_EXAMPLE)


@pytest.fixture
def data() -> dict[str, Any]:
    """A fresh, mutable copy of the example plan's data."""
    return copy.deepcopy(_EXAMPLE)
