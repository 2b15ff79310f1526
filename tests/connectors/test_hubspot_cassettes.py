"""The ``hubspot`` connector's requests, recorded (vcrpy cassettes) and replayed offline.

The cassettes in ``tests/connectors/cassettes/hubspot/`` hold every request of a small full load and of an
incremental sync against the fake HubSpot API, with the answers it gave: paths, query parameters (the
property batches), JSON bodies (search filters, batch reads, associations). Replayed, every request the
connector makes must match one recorded request exactly (method, path, query and body), and every recorded
request must be made: a change in the request shape fails here, and shows as a diff of the cassettes when
they are recorded again. The ``Authorization`` and ``User-Agent`` headers (and the answers' ``Date`` and
``Server``) are not recorded, the fake's
address is written as ``http://hubspot.fake``, and a test checks that no token is in the files (the
recording and replaying are ``tests/connectors/cassette_kit.py``'s, shared with Salesforce's).

Record them again (after a deliberate change of the requests) with::

    PYTHONPATH=. .venv/bin/python tests/connectors/test_hubspot_cassettes.py --update
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from pytest_httpserver import HTTPServer
from tests.connectors.cassette_kit import record, replaying, secrets_in
from tests.connectors.hubspot_fake import TOKEN, FakeHubSpot, expected, fake_from_dataset, iso

from smarketing.connectors import Loaded
from smarketing.connectors.hubspot_api import MODIFIED, HubSpot, HubSpotAPIError
from smarketing.datasets import synthetic
from smarketing.plan import load_plan

PLAN = load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml")
CASSETTES = Path(__file__).parent / "cassettes" / "hubspot"
HOST = "http://hubspot.fake"
ENV = "SMARKETING_TEST_HUBSPOT_TOKEN"
WATERMARK = datetime(2026, 6, 1, tzinfo=UTC)
UNTIL = datetime(2026, 6, 2, tzinfo=UTC)


def _account() -> FakeHubSpot:
    """A small account: 8 contacts with their history, companies, deals, activities, owners."""
    return fake_from_dataset(PLAN, synthetic(PLAN, seed=31, n_leads=8))


def _changed(fake: FakeHubSpot) -> None:
    """After the watermark: one contact's title changed, another contact deleted."""
    first, second = sorted(fake.objects["contacts"], key=lambda i: (len(i), i))[:2]
    fake.objects["contacts"][first].properties["jobtitle"] = "Chief Changer"
    fake.objects["contacts"][first].properties["lastmodifieddate"] = iso(WATERMARK + timedelta(hours=1))
    fake.objects["contacts"][second].archive(WATERMARK + timedelta(hours=2))


def _connector(host: str) -> HubSpot:
    return HubSpot(
        host=host, token_env=ENV, keyring_service=None, plan=PLAN, search_interval=0.0, backoff=0.0
    )


def _full(host: str, _: Path) -> Loaded:
    return _connector(host).load(progress=False)


def _sync(host: str, folder: Path) -> Loaded:
    state = folder / "hubspot-state.json"
    state.write_text(json.dumps({"watermarks": dict.fromkeys(MODIFIED, WATERMARK.isoformat())}))
    return _connector(host).sync(state, until=UNTIL, progress=False)


#: cassette name -> (what changes in the account before, the load).
LOADS: dict[str, tuple[Callable[[FakeHubSpot], None] | None, Callable[[str, Path], Loaded]]] = {
    "full_load": (None, _full),
    "incremental_sync": (_changed, _sync),
}


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "a-token-that-is-not-recorded")


def test_a_full_load_replays_its_requests_exactly(tmp_path: Path) -> None:
    with replaying(CASSETTES, "full_load", host=HOST) as cassette:
        data, report = _full(HOST, tmp_path)
    assert cassette.all_played, "the connector no longer makes some recorded requests"
    assert report.ok
    original = synthetic(PLAN, seed=31, n_leads=8)
    want = expected(original)
    for kind in ("accounts", "leads", "deals", "activities"):
        assert getattr(data, kind).height == getattr(want, kind).height


def test_an_incremental_sync_replays_its_requests_exactly(tmp_path: Path) -> None:
    with replaying(CASSETTES, "incremental_sync", host=HOST) as cassette:
        data, report = _sync(HOST, tmp_path)
    assert cassette.all_played
    assert data.leads.get_column("title").to_list() == ["Chief Changer"]
    assert sum(len(ids) for ids in report.deleted.values()) == 1
    searches = [json.loads(r.body) for r in cassette.requests if r.path.endswith("/search")]
    low = str(int((WATERMARK - timedelta(minutes=10)).timestamp() * 1000))
    assert {f["value"] for s in searches for f in s["filterGroups"][0]["filters"]} == {
        low,
        str(int(UNTIL.timestamp() * 1000)),
    }


def test_a_changed_request_does_not_match() -> None:
    changed = HubSpot(host=HOST, token_env=ENV, keyring_service=None, plan=PLAN, url_limit=300)
    with (
        replaying(CASSETTES, "full_load", host=HOST),
        pytest.raises(HubSpotAPIError, match="CannotOverwriteExistingCassette"),
    ):
        changed.load(progress=False)  # other property batches: requests never recorded


def test_the_cassettes_hold_no_secret() -> None:
    assert sorted(f.stem for f in CASSETTES.glob("*.yaml")) == sorted(LOADS)
    assert not secrets_in(CASSETTES, [TOKEN], r"(?i)authorization|bearer|pat-na1")


def record_all() -> None:
    """Record every cassette again against the fake API (on the loopback address)."""
    os.environ[ENV] = TOKEN
    for name, (change, load) in LOADS.items():
        with HTTPServer(host="127.0.0.1", port=0) as http, TemporaryDirectory() as folder:
            fake = _account()
            if change is not None:
                change(fake)
            fake.install(http)
            address = http.url_for("").rstrip("/")
            path = record(
                CASSETTES,
                name,
                host=HOST,
                address=address,
                secrets=[TOKEN],
                load=lambda: load(address, Path(folder)),  # noqa: B023 (called at once)
            )
        print(f"recorded {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: PYTHONPATH=. {sys.argv[0]} --update")
    record_all()
