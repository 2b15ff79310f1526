"""``--source salesforce`` and ``smarketing import salesforce``: a live connector named alone, on a fake org.

The fake Salesforce API runs on the loopback address behind TLS (simple-salesforce speaks https only) with a
throwaway CA's certificate, given as ``--option verify=CA.pem``; the org's address and the access token come
from the environment (``SALESFORCE_INSTANCE_URL``, ``SALESFORCE_ACCESS_TOKEN``), as a user's would.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from pytest_httpserver import HTTPServer
from tests.connectors.salesforce_fake import TOKEN, FakeSalesforce, fake_from_dataset

from smarketing import cli
from smarketing.connectors.salesforce_api import Salesforce
from smarketing.datasets import synthetic
from smarketing.plan import load_plan
from smarketing.records import Dataset
from smarketing.testing.contract import difference

ROOT = Path(__file__).resolve().parents[2]
PLAN_FILE = ROOT / "examples" / "plan.yaml"
PLAN = load_plan(PLAN_FILE)


@pytest.fixture
def fake(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeSalesforce, str]]:
    """The fake org of 40 synthetic leads, and the path of the CA bundle that trusts it."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    for variable in ("USERNAME", "PASSWORD", "SECURITY_TOKEN"):
        monkeypatch.delenv(f"SALESFORCE_{variable}", raising=False)
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    with HTTPServer(host="127.0.0.1", port=0, ssl_context=context) as http:
        org = fake_from_dataset(PLAN, synthetic(PLAN, seed=21, n_leads=40), tmp_path_factory.mktemp("org"))
        org.install(http)
        monkeypatch.setenv("SALESFORCE_INSTANCE_URL", http.url_for("").rstrip("/"))
        yield org, str(bundle)


def options(bundle: str) -> list[str]:
    return [
        *("--option", f"verify={bundle}", "--option", f"plan={PLAN_FILE}"),
        *("--option", "backoff=0"),
    ]


def connector(bundle: str) -> Salesforce:
    return Salesforce(plan=PLAN, verify=bundle, keyring_service=None, backoff=0.0)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_import_salesforce_needs_no_path(
    fake: tuple[FakeSalesforce, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, bundle = fake
    code, out, err = run(capsys, "import", "salesforce", "-o", str(tmp_path / "ds"), *options(bundle))
    assert code == 0, err
    assert "wrote" in out
    assert TOKEN not in out + err
    want, _ = connector(bundle).load(progress=False)
    assert not difference(Dataset.read(tmp_path / "ds"), want)
    report = json.loads((tmp_path / "ds" / "load-report.json").read_text())
    assert report["connector"] == "salesforce"
    assert TOKEN not in json.dumps(report)


def test_an_analysis_reads_salesforce(
    fake: tuple[FakeSalesforce, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, bundle = fake
    argv = ["funnel", str(PLAN_FILE), "--source", "salesforce", *options(bundle), "--format", "json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)


def test_salesforce_takes_no_path(
    fake: tuple[FakeSalesforce, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, bundle = fake
    code, _, err = run(capsys, "funnel", str(PLAN_FILE), "--source", "salesforce:./org", *options(bundle))
    assert code == 2
    assert "salesforce takes no path" in err


def test_import_with_state_applies_changes_and_deletions(
    fake: tuple[FakeSalesforce, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org, bundle = fake
    out_dir, state = tmp_path / "ds", tmp_path / "salesforce-state.json"
    argv = ["import", "salesforce", "-o", str(out_dir), "--state", str(state), *options(bundle)]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(state.read_text())["watermarks"]["Lead"]
    first = Dataset.read(out_dir)
    # A lead nothing was converted from is deleted, with its history, campaign members and activities.
    lead = next(r for r in org.objects["Lead"] if not r.get("ConvertedContactId"))
    gone = str(lead["Id"])
    assert gone in first.leads.get_column("id").to_list()
    org.delete("Lead", gone, datetime.now(UTC) - timedelta(seconds=1))
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "applied the changes to" in out
    assert "deleted in the source since the last load: " in out
    now = Dataset.read(out_dir)
    assert gone not in now.leads.get_column("id").to_list()
    assert now.leads.height == first.leads.height - 1
    report = json.loads((out_dir / "load-report.json").read_text())
    assert report["deleted"]["leads"] == [gone]
    full, _ = connector(bundle).load(progress=False)
    assert not difference(now, full)


def test_sources_lists_salesforce(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sources")
    assert code == 0
    assert "salesforce (smarketing)" in out
