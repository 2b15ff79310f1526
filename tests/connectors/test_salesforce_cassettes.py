"""The ``salesforce`` connector's requests, recorded (vcrpy cassettes) and replayed offline.

The cassettes in ``tests/connectors/cassettes/salesforce/`` hold every request of a small full load (the
small objects through REST ``query`` pages, the larger ones through Bulk API 2.0 query jobs: create, poll,
result pages by ``Sforce-Locator``) and of an incremental sync (``queryAll`` by ``SystemModstamp`` /
``CreatedDate`` windows, the changed records' leads by id, a deleted task) against the fake Salesforce
API, with the answers it gave. Replayed, every request the connector makes must match one recorded request
exactly (method, path, query: the SOQL; body: the Bulk 2.0 job), and every recorded request must be made: a
change in the request shape fails here, and shows as a diff of the cassettes when they are recorded again.
The fake's address is written as ``https://salesforce.fake``; the ``Authorization`` header (the session id)
is not recorded, and a test checks that no token, session id or password is in the files (the recording is
``tests/connectors/cassette_kit.py``'s, shared with HubSpot's).

Record them again (after a deliberate change of the requests) with::

    PYTHONPATH=. .venv/bin/python tests/connectors/test_salesforce_cassettes.py --update
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import parse_qs

import pytest
import trustme
from pytest_httpserver import HTTPServer
from tests.connectors.cassette_kit import record, replaying, secrets_in
from tests.connectors.salesforce_fake import TOKEN, FakeSalesforce, fake_from_dataset, stamp

from smarketing.connectors import Loaded
from smarketing.connectors.salesforce_api import READ, Salesforce, SalesforceAPIError
from smarketing.datasets import synthetic
from smarketing.plan import load_plan

PLAN = load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml")
CASSETTES = Path(__file__).parent / "cassettes" / "salesforce"
HOST = "https://salesforce.fake"
PREFIX = "SMARKETING_TEST_SF_CASSETTE_"
WATERMARK = datetime(2031, 1, 1, tzinfo=UTC)
UNTIL = datetime(2031, 1, 2, tzinfo=UTC)
#: Objects of this many records or more of a query are read through Bulk 2.0 (the history and activities).
BULK = 30


def _org(folder: Path) -> FakeSalesforce:
    """A small org: 8 leads with their history, contacts, accounts, opportunities, activities, users."""
    return fake_from_dataset(PLAN, synthetic(PLAN, seed=31, n_leads=8), folder)


def _changed(fake: FakeSalesforce) -> None:
    """After the watermark: one lead's title changed, a task deleted."""
    lead = fake.objects["Lead"][0]
    lead["Title"], lead["SystemModstamp"] = "Chief Changer", stamp(WATERMARK + timedelta(hours=1))
    fake.delete("Task", str(fake.objects["Task"][-1]["Id"]), WATERMARK + timedelta(hours=2))


def _connector(host: str, verify: bool | str) -> Salesforce:
    return Salesforce(
        instance_url=host,
        plan=PLAN,
        env_prefix=PREFIX,
        keyring_service=None,
        backoff=0.0,
        bulk_poll=0.0,
        bulk_threshold=BULK,
        bulk_page=10,
        verify=verify,
    )


def _full(host: str, verify: bool | str, _: Path) -> Loaded:
    return _connector(host, verify).load(progress=False)


def _sync(host: str, verify: bool | str, folder: Path) -> Loaded:
    state = folder / "salesforce-state.json"
    state.write_text(json.dumps({"watermarks": dict.fromkeys(READ, WATERMARK.isoformat())}))
    return _connector(host, verify).sync(state, until=UNTIL, progress=False)


#: cassette name -> (what changes in the org before, the load).
LOADS: dict[
    str, tuple[Callable[[FakeSalesforce], None] | None, Callable[[str, bool | str, Path], Loaded]]
] = {
    "full_load": (None, _full),
    "incremental_sync": (_changed, _sync),
}


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}ACCESS_TOKEN", "a-token-that-is-not-recorded")


def test_a_full_load_replays_its_requests_exactly(tmp_path: Path) -> None:
    with replaying(CASSETTES, "full_load", host=HOST) as cassette:
        data, report = _full(HOST, True, tmp_path)
    assert cassette.all_played, "the connector no longer makes some recorded requests"
    assert report.ok
    assert data.leads.height == 8
    paths = [r.path for r in cassette.requests]
    assert any(p.endswith("/jobs/query") for p in paths)  # Bulk 2.0 jobs
    assert any(p.endswith("/query/") for p in paths)  # and REST pages
    assert any("locator=" in r.uri for r in cassette.requests)  # Bulk 2.0 result pages followed
    assert report.provenance is not None
    assert any("REST: " in n and "Bulk 2.0: " in n for n in report.provenance.notes)


def test_an_incremental_sync_replays_its_requests_exactly(tmp_path: Path) -> None:
    with replaying(CASSETTES, "incremental_sync", host=HOST) as cassette:
        data, report = _sync(HOST, True, tmp_path)
    assert cassette.all_played
    assert "Chief Changer" in data.leads.get_column("title").to_list()
    assert sum(len(ids) for ids in report.deleted.values()) == 1
    windows = [parse_qs(r.uri.partition("?")[2])["q"][0] for r in cassette.requests if "/queryAll/" in r.path]
    assert windows  # changes are read with queryAll, which sees deleted records
    low = (WATERMARK - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(f">= {low} AND" in q and f"< {UNTIL:%Y-%m-%dT%H:%M:%SZ}" in q for q in windows)


def test_a_changed_request_does_not_match(tmp_path: Path) -> None:
    changed = Salesforce(
        instance_url=HOST, plan=PLAN, env_prefix=PREFIX, keyring_service=None, bulk_threshold=None
    )
    match = "reading LeadHistory: CannotOverwriteExistingCassette"  # REST pages where a Bulk 2.0 job was
    with replaying(CASSETTES, "full_load", host=HOST), pytest.raises(SalesforceAPIError, match=match):
        changed.load(progress=False)


def test_the_cassettes_hold_no_secret() -> None:
    assert sorted(f.stem for f in CASSETTES.glob("*.yaml")) == sorted(LOADS)
    found = secrets_in(CASSETTES, [TOKEN], r"(?i)authorization|bearer|session_?id|password|00D5g000000FAKE")
    assert not found


def record_all() -> None:
    """Record every cassette again against the fake API (on the loopback address, TLS by a throwaway CA)."""
    os.environ[f"{PREFIX}ACCESS_TOKEN"] = TOKEN
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    for name, (change, load) in LOADS.items():
        with (
            HTTPServer(host="127.0.0.1", port=0, ssl_context=context) as http,
            TemporaryDirectory() as folder,
        ):
            fake = _org(Path(folder) / "org")
            if change is not None:
                change(fake)
            fake.install(http)
            bundle = Path(folder) / "ca.pem"
            ca.cert_pem.write_to_path(str(bundle))
            address = http.url_for("").rstrip("/")
            path = record(
                CASSETTES,
                name,
                host=HOST,
                address=address,
                secrets=[TOKEN],
                load=lambda: load(address, str(bundle), Path(folder)),  # noqa: B023 (called at once)
            )
        print(f"recorded {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: PYTHONPATH=. {sys.argv[0]} --update")
    record_all()
