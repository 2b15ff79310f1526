"""``--source hubspot`` and ``smarketing import hubspot``: a live connector named alone, against a fake API.

The fake HubSpot API runs on the loopback address; the token comes from the environment, as a user's would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from tests.connectors.hubspot_fake import TOKEN, FakeHubSpot, fake_from_dataset

from smarketing import cli
from smarketing.connectors.hubspot_api import HubSpot
from smarketing.datasets import synthetic
from smarketing.plan import load_plan
from smarketing.records import Dataset
from smarketing.testing.contract import difference

ROOT = Path(__file__).resolve().parents[2]
PLAN = load_plan(ROOT / "examples" / "plan.yaml")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHubSpot, str]]:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    with HTTPServer(host="127.0.0.1", port=0) as http:
        account = fake_from_dataset(PLAN, synthetic(PLAN, seed=21, n_leads=40))
        account.install(http)
        yield account, http.url_for("").rstrip("/")


#: The fake's lifecycle stages are the plan's stage ids; without a plan the connector knows HubSpot's only.
STAGES = {stage.id: stage.id for stage in PLAN.journey.stages}


def options(host: str) -> list[str]:
    return [
        *("--option", f"host={host}", "--option", "search_interval=0", "--option", "backoff=0"),
        *("--option", f"stage_map={json.dumps(STAGES)}"),
    ]


def connector(host: str) -> HubSpot:
    return HubSpot(host=host, search_interval=0, stage_map=STAGES)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_import_hubspot_needs_no_path(
    fake: tuple[FakeHubSpot, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, host = fake
    code, out, err = run(capsys, "import", "hubspot", "-o", str(tmp_path / "ds"), *options(host))
    assert code == 0, err
    assert "wrote" in out
    assert TOKEN not in out + err
    want, _ = connector(host).load(progress=False)
    assert not difference(Dataset.read(tmp_path / "ds"), want)
    report = json.loads((tmp_path / "ds" / "load-report.json").read_text())
    assert report["connector"] == "hubspot"


def test_an_analysis_reads_hubspot(fake: tuple[FakeHubSpot, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, host = fake
    plan = str(ROOT / "examples" / "plan.yaml")
    code, out, err = run(capsys, "funnel", plan, "--source", "hubspot", *options(host), "--format", "json")
    assert code == 0, err
    assert json.loads(out)


def test_import_with_state_applies_changes_and_deletions(
    fake: tuple[FakeHubSpot, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account, host = fake
    out_dir, state = tmp_path / "ds", tmp_path / "hubspot-state.json"
    argv = ["import", "hubspot", "-o", str(out_dir), "--state", str(state), *options(host)]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(state.read_text())["watermarks"]["contacts"]
    first = Dataset.read(out_dir)
    busy = {*first.deals.get_column("lead_id").drop_nulls(), *first.activities.get_column("lead_id")}
    gone = next(i for i in first.leads.get_column("id") if i not in busy)
    account.objects["contacts"][gone].archive(datetime.now(UTC) - timedelta(seconds=1))
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "applied the changes to" in out
    assert "deleted in the source since the last load: leads 1" in out
    now = Dataset.read(out_dir)
    assert gone not in now.leads.get_column("id").to_list()
    assert now.leads.height == first.leads.height - 1
    report = json.loads((out_dir / "load-report.json").read_text())
    assert report["deleted"] == {"leads": [gone]}
    full, _ = connector(host).load(progress=False)
    assert not difference(now, full)


def test_state_needs_a_connector_with_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crm = str(ROOT / "examples" / "crm")
    argv = ["import", f"files:{crm}", "-o", str(tmp_path / "ds"), "--state", str(tmp_path / "s.json")]
    code, _, err = run(capsys, *argv, "--option", "time_zone=Europe/Berlin", "--option", "thousands=,")
    assert code == 2
    assert "--state: files has no incremental loads" in err


def test_sources_lists_hubspot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sources")
    assert code == 0
    assert "hubspot (smarketing)" in out
    assert "--source NAME[:PATH]" in out
