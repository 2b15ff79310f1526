"""Plans and data for the persona tests: a minimal plan with the personas a test gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from smarketing.plan import AlignmentPlan

BASE = """\
name: Persona tests
teams:
  - {id: marketing, name: Marketing, function: marketing}
  - {id: sales, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """``n`` days after 1 October 2026, 00:00 UTC."""
    return T0 + timedelta(days=n)


def plan_with(*personas: dict[str, Any]) -> AlignmentPlan:
    """The minimal plan with these personas (each given its name from its id)."""
    raw = yaml.safe_load(BASE)
    raw["personas"] = [{"name": p["id"].title(), **p} for p in personas]
    return AlignmentPlan.model_validate(raw)


def plan_text(*personas: dict[str, Any]) -> str:
    """The minimal plan with these personas, as YAML text for :func:`~smarketing.load_plan`."""
    raw = yaml.safe_load(BASE)
    raw["personas"] = [{"name": p["id"].title(), **p} for p in personas]
    return str(yaml.safe_dump(raw, sort_keys=False))
