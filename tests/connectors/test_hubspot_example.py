"""The HubSpot-style export in ``examples/hubspot/`` (the tutorial's second half) reads clean.

It is what :func:`smarketing.datasets.write_hubspot_export` writes for 40 synthetic leads of the example
plan, so its columns are the ones the connector documents. After a deliberate change of either, write it
again with

    .venv/bin/python tests/connectors/test_hubspot_example.py --update
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import smarketing as sm
from smarketing.datasets import synthetic, write_hubspot_export

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hubspot"
PLAN = sm.load_plan(ROOT / "examples" / "plan.yaml")


def _write(folder: Path) -> dict[str, Path]:
    return write_hubspot_export(PLAN, synthetic(PLAN, seed=11, n_leads=40), folder, time_zone="Europe/Berlin")


def test_the_example_export_is_what_the_generator_writes() -> None:
    with tempfile.TemporaryDirectory() as folder:
        written = _write(Path(folder))
        assert sorted(p.name for p in EXAMPLE.glob("*.csv")) == sorted(p.name for p in written.values())
        for path in written.values():
            assert (EXAMPLE / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_example_export_loads_with_nothing_refused() -> None:
    connector = sm.load_connector("hubspot-export", path=EXAMPLE, time_zone="Europe/Berlin", plan=PLAN)
    data, report = connector.load(strict=True)
    assert not report.refusals
    assert data.leads.height == 40
    assert {kind for kind, n in report.rows_kept.items() if n} == {
        "accounts",
        "activities",
        "deals",
        "leads",
        "stage_events",
        "touchpoints",
    }


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    _write(EXAMPLE)
