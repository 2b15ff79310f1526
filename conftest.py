"""Root conftest: what every doctest (src/, docs/ and tests/) shares."""

from __future__ import annotations

from typing import Any

import pytest

import smarketing


@pytest.fixture(autouse=True)
def add_sm_to_doctest_namespace(doctest_namespace: dict[str, Any]) -> None:
    """Let doctests write ``sm.Money(...)`` without importing, as networkx's conftest does for ``nx``."""
    doctest_namespace["sm"] = smarketing
