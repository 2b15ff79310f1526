"""The ``salesforce`` connector against a fake Salesforce API on the loopback address (never the internet).

The round trip: a synthetic Dataset -> the Data Export writer's objects served by :class:`FakeSalesforce`
(REST and Bulk 2.0) -> :class:`Salesforce` -> a Dataset equal to what the ``salesforce-export`` connector
reads from the same objects' files (the same mapping, by the same code).
"""

from __future__ import annotations

import itertools
import json
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import trustme
from pytest_httpserver import HTTPServer
from tests.connectors.salesforce_fake import TOKEN, FakeSalesforce, fake_from_dataset, stamp

from smarketing.connectors import SalesforceExport, apply_changes, load_connector
from smarketing.connectors.salesforce_api import Salesforce, SalesforceAPIError
from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.plan import load_plan
from smarketing.records import Dataset
from smarketing.testing import ConnectorContract
from smarketing.testing.contract import difference, union_of_changes

PLAN = load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml")
PREFIX = "SMARKETING_TEST_SF_"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A throwaway CA's certificate for 127.0.0.1 (simple-salesforce speaks https only)."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, str(bundle)


@pytest.fixture
def server(tls: tuple[ssl.SSLContext, str]) -> Iterator[HTTPServer]:
    with HTTPServer(host="127.0.0.1", port=0, ssl_context=tls[0]) as http:
        yield http


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{PREFIX}ACCESS_TOKEN", TOKEN)


def connector(server: HTTPServer, bundle: str, **options: object) -> Salesforce:
    base = {
        "env_prefix": PREFIX,
        "keyring_service": None,
        "plan": PLAN,
        "backoff": 0.0,
        "bulk_poll": 0.0,
        "verify": bundle,
        "bulk_threshold": None,
    }
    url = server.url_for("").rstrip("/")
    return Salesforce(instance_url=url, **{**base, **options})  # type: ignore[arg-type]


def serve(server: HTTPServer, data: Dataset, folder: Path, **fake_options: object) -> FakeSalesforce:
    fake = fake_from_dataset(PLAN, data, folder)
    for key, value in fake_options.items():
        setattr(fake, key, value)
    fake.install(server)
    return fake


def exported(folder: Path) -> Dataset:
    return SalesforceExport(path=folder, plan=PLAN).load(progress=False).dataset


def same(got: Dataset, want: Dataset) -> None:
    problems = difference(got, want, names=("live", "export"))
    assert not problems, "\n".join(problems[:10])


@pytest.fixture
def bundle(tls: tuple[ssl.SSLContext, str]) -> str:
    return tls[1]


@pytest.mark.parametrize(("seed", "n_leads"), [(1, 30), (7, 120)])
def test_round_trip_equals_the_export(
    server: HTTPServer, bundle: str, tmp_path: Path, seed: int, n_leads: int
) -> None:
    fake = serve(server, synthetic(PLAN, seed=seed, n_leads=n_leads), tmp_path, page_size=25)
    data, report = connector(server, bundle).load(progress=False)
    same(data, exported(tmp_path))
    assert report.ok
    assert report.provenance is not None
    assert report.provenance.stage_history == "native"
    assert not any(".csv" in str(r) for r in report.refusals)
    more = [p for _, p, _ in fake.log if "/query/01g" in p]
    assert more  # nextRecordsUrl pages were followed


def test_bulk_and_rest_with_15_character_ids_give_one_dataset(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    fake = serve(server, synthetic(PLAN, seed=2, n_leads=40), tmp_path, short_ids=True, page_size=30)
    rest, _ = connector(server, bundle).load(progress=False)
    bulk = connector(server, bundle, bulk_threshold=1, bulk_page=17)
    data, report = bulk.load(progress=False)
    same(rest, data)
    same(data, exported(tmp_path))
    assert any(p.endswith("/results") for _, p, _ in fake.log)
    locators = [q for _, p, q in fake.log if p.endswith("/results") and "locator=" in q]
    assert locators  # Sforce-Locator pages were followed
    assert report.provenance is not None
    assert any("Bulk 2.0" in n for n in report.provenance.notes)
    assert all(len(i) == 18 for i in data.leads.get_column("id").to_list())


def test_the_token_is_sent_never_shown(
    server: HTTPServer, bundle: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = serve(server, synthetic(PLAN, seed=2, n_leads=5), tmp_path)
    fake.token = "another"
    sf = connector(server, bundle)
    with pytest.raises(SalesforceAPIError, match="401") as caught:
        sf.load(progress=False)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(sf)
    assert TOKEN not in caplog.text
    fake.token = TOKEN
    fake.fail("/query", 400, [{"message": f"bad session {TOKEN}", "errorCode": "MALFORMED_QUERY"}])
    with pytest.raises(SalesforceAPIError) as caught:
        sf.load(progress=False)
    assert TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_without_credentials_the_error_says_where_to_put_them(
    server: HTTPServer, bundle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"{PREFIX}ACCESS_TOKEN")
    with pytest.raises(SalesforceAPIError, match=f"{PREFIX}ACCESS_TOKEN"):
        connector(server, bundle).load(progress=False)


def test_429_with_and_without_retry_after_and_503_are_retried(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    fake = serve(server, synthetic(PLAN, seed=3, n_leads=20), tmp_path)
    fake.fail(
        "/query",
        429,
        [{"errorCode": "REQUEST_LIMIT_EXCEEDED_RATE", "message": "slow down"}],
        **{"Retry-After": "1"},
    )
    fake.fail("/query", 429, None)
    fake.fail("/sobjects/Lead/describe", 503, None)
    started = time.monotonic()
    data, _ = connector(server, bundle).load(progress=False)
    assert time.monotonic() - started >= 1  # Retry-After respected
    same(data, exported(tmp_path))
    assert not fake.faults


def test_503_left_after_the_retries_is_a_clear_error(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    fake = serve(server, synthetic(PLAN, seed=3, n_leads=5), tmp_path)
    for _ in range(3):
        fake.fail("/query", 503, None)
    with pytest.raises(SalesforceAPIError, match=r"HTTP 503\) after 2 retries") as caught:
        connector(server, bundle, retries=2).load(progress=False)
    assert caught.value.status == 503


def test_the_daily_limit_is_a_clear_error(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    fake = serve(server, synthetic(PLAN, seed=3, n_leads=5), tmp_path)
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    fake.fail("/query", 403, body)
    with pytest.raises(SalesforceAPIError, match="budget for the last 24 hours is spent") as caught:
        connector(server, bundle).load(progress=False)
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert caught.value.status == 403
    assert len([p for _, p, _ in fake.log if "/query" in p]) == 1  # not retried: it cannot help


def test_a_request_that_takes_too_long_is_given_up(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    fake = serve(server, synthetic(PLAN, seed=3, n_leads=5), tmp_path)
    fake.stall("/query", 3.0)
    with pytest.raises(SalesforceAPIError, match=r"no answer within 0\.5 s"):
        connector(server, bundle, timeout=0.5, retries=0).load(progress=False)


def window_bounds(fake: FakeSalesforce, parts: int) -> list[datetime]:
    times = [
        datetime.fromisoformat(str(r.get("SystemModstamp") or r["CreatedDate"]).replace("Z", "+00:00"))
        for rows in fake.objects.values()
        for r in rows
    ]
    low, high = min(times).replace(microsecond=0), max(times).replace(microsecond=0) + timedelta(seconds=1)
    step = (high - low) / parts
    return [*(low + step * i for i in range(parts)), high]


def test_incremental_windows_add_up_to_the_full_load(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    fake = serve(server, synthetic(PLAN, seed=5, n_leads=60), tmp_path)
    sf = connector(server, bundle, in_limit=15)  # some objects read whole and filtered, some by id
    full, _ = sf.load(progress=False)
    bounds = window_bounds(fake, 4)
    loads = [sf.load_changes(since=a, until=b, progress=False).dataset for a, b in itertools.pairwise(bounds)]
    same(union_of_changes(loads), full)
    assert all(load.leads.height < full.leads.height for load in loads)


def test_a_record_modified_exactly_at_the_watermark_is_in_the_next_window_only(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    original = synthetic(PLAN, seed=6, n_leads=20)
    fake = serve(server, original, tmp_path)
    lead = fake.objects["Lead"][3]
    edge = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    lead["SystemModstamp"] = stamp(edge)
    ident = str(lead["Id"])
    sf = connector(server, bundle)
    before = sf.load_changes(since=edge - timedelta(days=1), until=edge, progress=False).dataset
    after = sf.load_changes(since=edge, until=edge + timedelta(days=1), progress=False).dataset
    assert ident not in before.leads.get_column("id").to_list()
    assert after.leads.get_column("id").to_list() == [ident]
    assert after.stage_events.height > 0  # the lead comes whole: its history with it


def test_sync_keeps_a_watermark_per_object_and_reports_deleted_records(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    original = synthetic(PLAN, seed=8, n_leads=30)
    fake = serve(server, original, tmp_path / "export")
    state = tmp_path / "state.json"
    sf = connector(server, bundle)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    first = sf.sync(state, until=now, progress=False)
    same(first.dataset, sf.load(progress=False).dataset)
    assert first.report.deleted == {}
    marks = json.loads(state.read_text(encoding="utf-8"))["watermarks"]
    assert set(marks) >= {"Lead", "Task", "LeadHistory"}
    assert marks["Lead"] == now.isoformat()
    # A task is deleted (to the recycle bin) after the first run; a lead is changed.
    task = fake.objects["Task"][0]
    fake.delete("Task", str(task["Id"]), now + timedelta(hours=1))
    fake.objects["Lead"][1]["SystemModstamp"] = stamp(now + timedelta(hours=2))
    second = sf.sync(state, until=now + timedelta(days=1), progress=False)
    queried = [q for _, p, q in fake.log if p.endswith("/queryAll/")]
    assert queried  # changes are read with queryAll, which sees deleted records
    gone = str(task["Id"])
    assert second.report.deleted == {"activities": (gone,)}
    assert "deleted in the source since the last load: activities 1" in second.report.summary()
    assert second.report.to_dict()["deleted"] == {"activities": [gone]}
    assert second.report.provenance is not None
    assert any("deleted in the window" in n and "Task 1" in n for n in second.report.provenance.notes)
    now_data = apply_changes(first.dataset, second)
    assert gone not in now_data.activities.get_column("id").to_list()
    same(now_data, sf.load(progress=False).dataset)


def _lead_of_contact(fake: FakeSalesforce) -> tuple[str, str]:
    """A converted lead and the contact it was converted into."""
    row = next(r for r in fake.objects["Lead"] if r.get("ConvertedContactId"))
    return str(row["Id"]), str(row["ConvertedContactId"])


def _change(fake: FakeSalesforce, what: str, when: datetime) -> None:
    """One change to the org after the first sync (each one a case of test_changes_applied_...)."""
    if what == "task deleted":
        fake.delete("Task", str(fake.objects["Task"][2]["Id"]), when)
    elif what == "lead deleted":  # with its history, campaign members, tasks and events
        lead = next(r for r in fake.objects["Lead"] if not r.get("ConvertedContactId"))
        fake.delete("Lead", str(lead["Id"]), when)
    elif what == "converted lead deleted":  # its contact is a lead of its own now
        fake.delete("Lead", _lead_of_contact(fake)[0], when)
    elif what == "contact deleted":  # the lead converted into it stays, without what was on the contact
        fake.delete("Contact", _lead_of_contact(fake)[1], when)
    elif what == "opportunity deleted":  # with its history and splits
        fake.delete("Opportunity", str(fake.objects["Opportunity"][0]["Id"]), when)
    elif what == "campaign member deleted":  # the lead's campaign may go with it
        fake.delete("CampaignMember", str(fake.objects["CampaignMember"][0]["Id"]), when)
    elif what == "stage history row added":  # the lead's stage events are read again whole
        row = fake.objects["LeadHistory"][0]
        fake.objects["LeadHistory"].append(
            {**row, "Id": "017" + str(row["Id"])[3:14] + "Z", "CreatedDate": stamp(when)}
        )
    else:
        raise AssertionError(what)


CHANGES = [
    "task deleted",
    "lead deleted",
    "converted lead deleted",
    "contact deleted",
    "opportunity deleted",
    "campaign member deleted",
    "stage history row added",
]


@pytest.mark.parametrize("what", CHANGES)
def test_changes_applied_to_the_last_dataset_equal_a_fresh_full_load(
    server: HTTPServer, bundle: str, tmp_path: Path, what: str
) -> None:
    fake = serve(server, synthetic(PLAN, seed=14, n_leads=40), tmp_path / "export")
    state = tmp_path / "state.json"
    sf = connector(server, bundle)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    first = sf.sync(state, until=now, progress=False)
    _change(fake, what, now + timedelta(hours=1))
    second = sf.sync(state, until=now + timedelta(days=1), progress=False)
    full = sf.load(progress=False).dataset
    assert second.dataset.leads.height < full.leads.height  # a change load, not everything again
    same(apply_changes(first.dataset, second), full)
    if "deleted" in what:
        assert second.report.deleted


def test_a_broken_state_file_is_named(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"watermark": 3}', encoding="utf-8")
    with pytest.raises(DataError, match="not a salesforce state file"):
        connector(server, bundle).sync(state, progress=False)


def test_history_older_than_the_retention_window_is_warned_about(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    fake = serve(server, synthetic(PLAN, seed=9, n_leads=40), tmp_path)
    history = fake.objects["LeadHistory"]
    cut = sorted(str(r["CreatedDate"]) for r in history)[len(history) // 2]
    fake.objects["LeadHistory"] = [r for r in history if str(r["CreatedDate"]) >= cut]  # older rows purged
    loaded = connector(server, bundle).load(strict=False, progress=False)
    notes = loaded.report.provenance.notes if loaded.report.provenance else ()
    assert any(n.startswith("warning: LeadHistory starts at") and "18 months" in n for n in notes)
    assert loaded.report.provenance is not None
    assert loaded.report.provenance.stage_history == "mixed"


def test_soql_literals_are_ids_and_times_never_text(server: HTTPServer, bundle: str, tmp_path: Path) -> None:
    fake = serve(server, synthetic(PLAN, seed=4, n_leads=20), tmp_path)
    edge = datetime(2030, 1, 1, tzinfo=UTC)
    fake.objects["Task"][0]["SystemModstamp"] = stamp(edge)
    connector(server, bundle, in_limit=10_000).load_changes(
        since=edge, until=edge + timedelta(hours=1), progress=False
    )
    queries = [parse_qs(q)["q"][0] for _, p, q in fake.log if "/query" in p and q.startswith("q=")]
    lists = [m for q in queries for m in re.findall(r" IN \(([^)]*)\)", q)]
    assert lists  # the changed task's lead was asked for by id
    for literal in (x.strip() for found in lists for x in found.split(",")):
        assert re.fullmatch(r"'[A-Za-z0-9]{18}'", literal), literal
    times = [m for q in queries for m in re.findall(r"(?:>=|<) (\S+)", q)]
    assert times == ["2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"] * (len(times) // 2)
    with pytest.raises(ValueError, match="not a Salesforce object or field name"):
        Salesforce(fields={"Lead.Region__c) FROM User --": "region"})


def test_registered_as_a_plugin() -> None:
    sf = load_connector("salesforce", instance_url="https://example.my.salesforce.com", keyring_service=None)
    assert isinstance(sf, Salesforce)


class TestContract(ConnectorContract):
    """The connector contract against one fake org per class: no test of it changes the fake."""

    plan = PLAN

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _serve(
        cls, tls: tuple[ssl.SSLContext, str], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[None]:
        with (
            HTTPServer(host="127.0.0.1", port=0, ssl_context=tls[0]) as http,
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setenv(f"{PREFIX}ACCESS_TOKEN", TOKEN)
            org = tmp_path_factory.mktemp("org")
            fake = fake_from_dataset(PLAN, synthetic(PLAN, seed=11, n_leads=40), org)
            fake.install(http)
            cls.server, cls.bundle = http, tls[1]
            cls.change_windows = window_bounds(fake, 3)
            type.__setattr__(cls, "_contract_loads", {})
            yield

    def make_connector(self) -> Salesforce:
        return connector(self.server, self.bundle)


@pytest.mark.parametrize(
    ("obj", "link"), [("LeadHistory", "LeadId"), ("Task", "WhoId"), ("OpportunityHistory", "OpportunityId")]
)
def test_a_changed_row_brings_its_whole_lead(
    server: HTTPServer, bundle: str, tmp_path: Path, obj: str, link: str
) -> None:
    fake = serve(server, synthetic(PLAN, seed=12, n_leads=30), tmp_path)
    full = connector(server, bundle).load(progress=False).dataset
    edge = datetime(2030, 1, 1, tzinfo=UTC)
    row = fake.objects[obj][-1]
    row["CreatedDate" if obj.endswith("History") else "SystemModstamp"] = stamp(edge)
    changes = connector(server, bundle).load_changes(
        since=edge, until=edge + timedelta(hours=1), progress=False
    )
    leads = changes.dataset.leads.get_column("id").to_list()
    assert len(leads) == 1
    events = full.stage_events.filter(full.stage_events["lead_id"] == leads[0])
    assert changes.dataset.stage_events.height == events.height  # the lead's whole history
    assert str(row[link])[:3] in ("00Q", "003", "006")


def test_a_failed_password_login_never_shows_the_password(
    server: HTTPServer, bundle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simple_salesforce

    secret = "hunter2-Pa55word"
    monkeypatch.delenv(f"{PREFIX}ACCESS_TOKEN")
    monkeypatch.setenv(f"{PREFIX}USERNAME", "integration@example.com")
    monkeypatch.setenv(f"{PREFIX}PASSWORD", secret)
    monkeypatch.setenv(f"{PREFIX}SECURITY_TOKEN", "SeCuRiTyToKeN")
    seen: dict[str, object] = {}

    def refuse(**options: object) -> None:
        seen.update(options)
        message = f"INVALID_LOGIN: bad password {secret} / SeCuRiTyToKeN"
        raise simple_salesforce.SalesforceAuthenticationFailed("INVALID_LOGIN", message)

    monkeypatch.setattr(simple_salesforce, "Salesforce", refuse)
    with pytest.raises(SalesforceAPIError, match="logging in") as caught:
        connector(server, bundle).load(progress=False)
    assert secret not in str(caught.value)
    assert "SeCuRiTyToKeN" not in str(caught.value)
    assert seen["username"] == "integration@example.com"
    assert seen["domain"] == "login"


def test_a_record_read_twice_in_both_id_forms_is_one_record_the_latest(
    server: HTTPServer, bundle: str, tmp_path: Path
) -> None:
    fake = serve(server, synthetic(PLAN, seed=13, n_leads=10), tmp_path)
    lead = fake.objects["Lead"][0]
    later = {
        **lead,
        "Id": str(lead["Id"])[:15],
        "Title": "Chief Twice",
        "SystemModstamp": stamp(datetime(2031, 1, 1, tzinfo=UTC)),
    }
    fake.objects["Lead"].append(later)
    data = connector(server, bundle).load(progress=False).dataset
    rows = data.leads.filter(data.leads["id"] == lead["Id"])
    assert rows.height == 1
    assert rows.get_column("title").to_list() == ["Chief Twice"]
