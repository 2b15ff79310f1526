"""The ``hubspot`` connector against a fake HubSpot API on the loopback address (never the internet).

The round trip: a synthetic Dataset -> :func:`fake_from_dataset` (HubSpot's records, history, associations
and owners) -> :class:`HubSpot` -> a Dataset equal to :func:`expected` (the original to the millisecond,
with what HubSpot does not keep left empty).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pytest_httpserver import HTTPServer
from tests.connectors.hubspot_fake import (
    TOKEN,
    Campaign,
    FakeHubSpot,
    Form,
    Record,
    expected,
    fake_from_dataset,
    iso,
    millis,
)

from smarketing.connectors import Loaded, apply_changes, load_connector
from smarketing.connectors.hubspot_api import MODIFIED, HubSpot, HubSpotAPIError
from smarketing.datasets import synthetic
from smarketing.errors import DataError, LoadError
from smarketing.plan import load_plan
from smarketing.records import Dataset
from smarketing.testing import ConnectorContract
from smarketing.testing.contract import difference, union_of_changes

PLAN = load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml")
ENV = "SMARKETING_TEST_HUBSPOT_TOKEN"
KEYS = {
    "accounts": ["id"],
    "leads": ["id"],
    "stage_events": ["lead_id", "time", "to"],
    "deals": ["id"],
    "activities": ["id"],
}


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    with HTTPServer(host="127.0.0.1", port=0) as http:
        yield http


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)


def connector(server: HTTPServer, **options: object) -> HubSpot:
    base = {"token_env": ENV, "keyring_service": None, "plan": PLAN, "backoff": 0.0, "search_interval": 0.0}
    return HubSpot(host=server.url_for("").rstrip("/"), **{**base, **options})  # type: ignore[arg-type]


def serve(server: HTTPServer, data: Dataset, **fake_options: object) -> FakeHubSpot:
    fake = fake_from_dataset(PLAN, data)
    for name, value in fake_options.items():
        setattr(fake, name, value)
    fake.install(server)
    return fake


def compare(got: Dataset, want: Dataset) -> None:
    for kind, keys in KEYS.items():
        left, right = got.frames()[kind].sort(keys), want.frames()[kind].sort(keys)
        try:
            assert_frame_equal(left, right, check_dtypes=False)
        except AssertionError as exc:
            raise AssertionError(f"{kind}: {exc}") from None


@pytest.mark.parametrize(("seed", "n_leads"), [(1, 30), (7, 120)])
def test_round_trip(server: HTTPServer, seed: int, n_leads: int) -> None:
    original = synthetic(PLAN, seed=seed, n_leads=n_leads)
    fake = serve(server, original)
    data, report = connector(server).load(progress=False)
    compare(data, expected(original))
    assert report.ok
    assert report.provenance is not None
    assert report.provenance.stage_history == "native"
    pages = [q for m, p, q in fake.log if p == "/crm/v3/objects/contacts"]
    assert len(pages) == -(-n_leads // 50)  # history pages hold 50 contacts at most


def test_the_token_is_sent_never_shown(server: HTTPServer) -> None:
    fake = serve(server, synthetic(PLAN, seed=2, n_leads=5))
    fake.token = "another"
    with pytest.raises(HubSpotAPIError, match=r"401.*scopes") as caught:
        connector(server).load(progress=False)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(connector(server))


def test_without_a_token_the_error_says_where_to_put_one(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV)
    with pytest.raises(HubSpotAPIError, match=ENV):
        connector(server).load(progress=False)


def test_429_with_and_without_retry_after_is_retried(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=3, n_leads=20)
    fake = serve(server, original)
    body = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
    fake.fail("/crm/v3/objects/contacts$", 429, body, **{"Retry-After": "1"})
    fake.fail("/crm/v3/objects/deals$", 429, body)
    fake.fail("/crm/v3/owners", 503)
    started = time.monotonic()
    data, _ = connector(server).load(progress=False)
    assert time.monotonic() - started >= 1  # Retry-After respected
    compare(data, expected(original))
    contacts = [p for _, p, _ in fake.log if p == "/crm/v3/objects/contacts"]
    assert len(contacts) == 2


def test_the_daily_limit_is_a_clear_error(server: HTTPServer) -> None:
    fake = serve(server, synthetic(PLAN, seed=3, n_leads=5))
    body = {"status": "error", "message": "You have reached your daily limit.", "policyName": "DAILY"}
    for _ in range(4):
        fake.fail("/crm/v3/objects/contacts$", 429, body)
    with pytest.raises(HubSpotAPIError, match="daily API limit is spent") as caught:
        connector(server, retries=3).load(progress=False)
    assert caught.value.status == 429


def test_long_property_lists_are_batched_not_414(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=4, n_leads=10)
    fake = serve(server, original, url_limit=400)
    with pytest.raises(HubSpotAPIError, match="414"):
        connector(server, url_limit=2000).load(progress=False)
    data, _ = connector(server, url_limit=300).load(progress=False)
    compare(data, expected(original))
    queries = {q for _, p, q in fake.log if p == "/crm/v3/objects/contacts"}
    assert len(queries) > 2


def test_archived_records_are_not_read(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=5, n_leads=20)
    fake = serve(server, original)
    dealt = {*original.deals.get_column("lead_id").drop_nulls(), *original.activities.get_column("lead_id")}
    gone = next(i for i in original.leads.get_column("id") if i not in dealt)
    fake.objects["contacts"][gone].archived = True
    data, _ = connector(server).load(progress=False)
    assert gone not in data.leads.get_column("id").to_list()
    assert data.leads.height == original.leads.height - 1


def test_an_unmapped_lifecycle_stage_is_refused_not_dropped(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=6, n_leads=10)
    fake = serve(server, original)
    record = next(iter(fake.objects["contacts"].values()))
    record.history["lifecyclestage"].append(("987654", iso(datetime(2030, 1, 1, tzinfo=UTC))))
    with pytest.raises(LoadError, match="987654"):
        connector(server).load(progress=False)
    _, report = connector(server).load(strict=False, progress=False)
    assert [r.record for r in report.refusals] == [record.id]


def test_history_rebuilt_from_the_v2_date_entered_properties(server: HTTPServer) -> None:
    fake = FakeHubSpot()
    fake.objects["contacts"]["1"] = Record(
        "1",
        {
            "createdate": "2026-01-05T10:00:00.000Z",
            "lastmodifieddate": "2026-02-01T09:00:00.000Z",
            "lifecyclestage": "salesqualifiedlead",
            "hs_v2_date_entered_lead": "2026-01-05T10:00:00.000Z",
            "hs_v2_date_entered_marketingqualifiedlead": "2026-01-20T08:30:00.000Z",
            "hs_v2_date_entered_salesqualifiedlead": "2026-02-01T09:00:00.000Z",
        },
    )
    fake.install(server)
    data, report = connector(server).load(progress=False)
    events = data.stage_events.select("from", "to").rows()
    assert events == [(None, "lead"), ("lead", "mql"), ("mql", "sql")]
    assert report.provenance is not None
    assert report.provenance.stage_history == "reconstructed"
    assert "covers 2026-01-05T10:00:00+00:00 to 2026-02-01T09:00:00+00:00" in report.provenance.notes[0]
    asked = next(q for _, p, q in fake.log if p == "/crm/v3/objects/contacts")
    assert "hs_v2_date_entered_marketingqualifiedlead" in asked  # named from the pipeline's stage ids


def _boundary_fake(server: HTTPServer) -> tuple[FakeHubSpot, datetime]:
    original = synthetic(PLAN, seed=8, n_leads=40)
    fake = serve(server, original)
    boundary = datetime(2026, 6, 1, tzinfo=UTC)
    dealt = {*original.deals.get_column("lead_id").drop_nulls(), *original.activities.get_column("lead_id")}
    ident = next(i for i in original.leads.get_column("id") if i not in dealt)
    fake.objects["contacts"][ident].properties["lastmodifieddate"] = iso(boundary)
    return fake, boundary


def test_a_record_modified_at_the_boundary_is_in_one_window(server: HTTPServer) -> None:
    fake, boundary = _boundary_fake(server)
    ident = next(
        r.id for r in fake.objects["contacts"].values() if r.properties["lastmodifieddate"] == iso(boundary)
    )
    hubspot = connector(server)
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    before, _ = hubspot.load_changes(since=start, until=boundary, progress=False)
    after, _ = hubspot.load_changes(since=boundary, until=end, progress=False)
    # [since, until): the contact modified at the boundary is in the later window only (nothing refers to it).
    assert ident not in set(before.leads.get_column("id"))
    assert ident in set(after.leads.get_column("id"))
    full, _ = hubspot.load(progress=False)
    assert not difference(full, union_of_changes([before, after]))


def test_search_windows_over_the_cap_are_split(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=9, n_leads=60)
    fake = serve(server, original, search_cap=20)
    hubspot = connector(server, search_cap=20)
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    data, _ = hubspot.load_changes(since=start, until=end, progress=False)
    compare(data, expected(original))
    searches = [p for _, p, _ in fake.log if p.endswith("/search")]
    assert len(searches) > 3


def test_search_is_paced(server: HTTPServer) -> None:
    serve(server, synthetic(PLAN, seed=10, n_leads=5))
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    began = time.monotonic()
    connector(server, search_interval=0.2).load_changes(since=start, until=end, progress=False)
    assert time.monotonic() - began >= 0.4  # three searches (contacts, companies, deals), 0.2 s apart


def test_sync_keeps_a_watermark_in_the_state_file(server: HTTPServer, tmp_path: Path) -> None:
    original = synthetic(PLAN, seed=11, n_leads=30)
    fake = serve(server, original)
    state = tmp_path / "hubspot-state.json"
    hubspot = connector(server)
    first_until = datetime(2100, 1, 1, tzinfo=UTC)
    first, _ = hubspot.sync(state, until=first_until, progress=False)
    marks = json.loads(state.read_text())["watermarks"]
    assert marks == dict.fromkeys(MODIFIED, first_until.isoformat())  # one per object
    ident = next(iter(fake.objects["contacts"]))
    fake.objects["contacts"][ident].properties["jobtitle"] = "Chief Changer"
    fake.objects["contacts"][ident].properties["lastmodifieddate"] = iso(first_until - timedelta(minutes=1))
    second, _ = hubspot.sync(state, until=first_until + timedelta(days=1), progress=False)
    assert second.leads.get_column("id").to_list() == [ident]  # in the overlap, read again
    merged = union_of_changes([first, second])
    assert merged.leads.filter(pl.col("id") == ident).get_column("title").to_list() == ["Chief Changer"]


def test_sync_reads_each_object_from_its_own_watermark(server: HTTPServer, tmp_path: Path) -> None:
    original = synthetic(PLAN, seed=11, n_leads=30)
    serve(server, original)
    state = tmp_path / "hubspot-state.json"
    hubspot = connector(server)
    until = datetime(2100, 1, 1, tzinfo=UTC)
    hubspot.sync(state, until=until, progress=False)
    marks = json.loads(state.read_text())
    del marks["watermarks"]["deals"]  # as if deals had never been synced
    state.write_text(json.dumps(marks))
    again, _ = hubspot.sync(state, until=until + timedelta(days=1), progress=False)
    assert again.deals.height == original.deals.height  # deals from the start
    assert again.leads.height < original.leads.height  # contacts only as far as the deals name them
    assert set(json.loads(state.read_text())["watermarks"]) == set(MODIFIED)


def test_a_state_file_of_another_shape_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    state = tmp_path / "hubspot-state.json"
    state.write_text(json.dumps({"watermark": "2026-10-01T09:00:00+00:00"}))
    with pytest.raises(DataError, match="not a hubspot state file"):
        connector(server).sync(state, progress=False)
    state.write_text(json.dumps({"watermarks": {"contacts": "2026-10-01T09:00:00"}}))
    with pytest.raises(DataError, match="the watermark of contacts has no offset"):
        connector(server).sync(state, progress=False)


def test_a_progress_bar_on_request(server: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    serve(server, synthetic(PLAN, seed=13, n_leads=5))
    connector(server).load(progress=True)
    assert "hubspot: reading contacts" in capsys.readouterr().err
    connector(server).load(progress=False)
    assert "hubspot:" not in capsys.readouterr().err


def test_a_broken_state_file_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    with pytest.raises(ValueError, match="not a hubspot state file"):
        connector(server).sync(state, until=datetime(2100, 1, 1, tzinfo=UTC), progress=False)


def test_it_is_registered_and_checks_its_options() -> None:
    assert isinstance(load_connector("hubspot", host="http://127.0.0.1:9"), HubSpot)
    with pytest.raises(ValueError, match="http"):
        HubSpot(host="ftp://example")
    with pytest.raises(ValueError, match="open, won or lost"):
        HubSpot(deal_stage_map={"x": "maybe"})


class TestHubSpotContract(ConnectorContract):
    """The connector contract, against the fake account made from a synthetic dataset."""

    plan = PLAN
    change_windows = (
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    )
    url = ""

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _fake(cls) -> Iterator[None]:
        with HTTPServer(host="127.0.0.1", port=0) as http, pytest.MonkeyPatch.context() as patch:
            patch.setenv(ENV, TOKEN)
            fake_from_dataset(PLAN, synthetic(PLAN, seed=12, n_leads=80)).install(http)
            cls.url = http.url_for("").rstrip("/")
            yield

    def make_connector(self) -> HubSpot:
        return HubSpot(host=self.url, token_env=ENV, keyring_service=None, plan=PLAN, search_interval=0.0)

    def current_stages(self) -> dict[str, str]:
        data: Loaded = self.loaded()
        events = data.dataset.stage_events.sort("lead_id", "time")
        return dict(events.group_by("lead_id", maintain_order=True).agg(pl.col("to").last()).iter_rows())


# --------------------------------------------------------------------------------------------------
# Deal stage history, deletions, source touchpoints.


def test_deal_history_is_read_with_its_window(server: HTTPServer) -> None:
    original = synthetic(PLAN, seed=14, n_leads=40)
    fake = serve(server, original)
    data, report = connector(server).load(progress=False)
    compare(data, expected(original))  # no deal_journey_map: the stage events are the contacts' only
    assert report.provenance is not None
    assert report.provenance.stage_history == "native"
    deals = [q for _, p, q in fake.log if p == "/crm/v3/objects/deals"]
    assert all("propertiesWithHistory=dealstage" in q for q in deals)
    assert any("hs_v2_date_entered_closedwon" in q for q in deals)  # named from the deal pipeline
    note = next(n for n in report.provenance.notes if n.startswith("deal stage history"))
    assert f"{original.deals.height} deal(s) from HubSpot's property history" in note
    first = min(original.deals.get_column("created_at")).astimezone(UTC)
    assert f"covers {first.replace(microsecond=first.microsecond // 1000 * 1000).isoformat()}" in note


def _deal_fake(server: HTTPServer, *, history: bool) -> FakeHubSpot:
    fake = FakeHubSpot()
    fake.objects["contacts"]["1"] = Record(
        "1",
        {
            "createdate": "2026-01-05T10:00:00.000Z",
            "lastmodifieddate": "2026-03-01T09:00:00.000Z",
            "lifecyclestage": "opportunity",
        },
        {
            "lifecyclestage": [
                ("lead", "2026-01-05T10:00:00.000Z"),
                ("opportunity", "2026-02-01T09:00:00.000Z"),
            ]
        },
    )
    props: dict[str, str | None] = {
        "dealstage": "closedwon",
        "amount": "1200.50",
        "deal_currency_code": "EUR",
        "createdate": "2026-02-01T09:00:00.000Z",
        "closedate": None,
        "hs_lastmodifieddate": "2026-03-01T09:00:00.000Z",
    }
    steps = [
        ("appointmentscheduled", "2026-02-01T09:00:00.000Z"),
        ("qualifiedtobuy", "2026-02-10T09:00:00.000Z"),
        ("closedwon", "2026-03-01T09:00:00.000Z"),
    ]
    if history:
        fake.objects["deals"]["9"] = Record("9", props, {"dealstage": steps})
    else:
        props |= {f"hs_v2_date_entered_{stage}": when for stage, when in steps}
        fake.objects["deals"]["9"] = Record("9", props)
    fake.link("deals", "contacts", "9", "1")
    fake.install(server)
    return fake


@pytest.mark.parametrize(("history", "provenance"), [(True, "native"), (False, "mixed")])
def test_deal_stages_become_stage_events_with_a_journey_map(
    server: HTTPServer, history: bool, provenance: str
) -> None:
    _deal_fake(server, history=history)
    journey = {"Qualified To Buy": "opportunity", "closedwon": "customer"}
    data, report = connector(server, deal_journey_map=journey).load(progress=False)
    events = data.stage_events.select("from", "to", pl.col("time").dt.strftime("%m-%d")).rows()
    # the deal's 'qualifiedtobuy' repeats the contact's opportunity stage: not a move
    assert events == [
        (None, "lead", "01-05"),
        ("lead", "opportunity", "02-01"),
        ("opportunity", "customer", "03-01"),
    ]
    assert data.deals.get_column("close_date").to_list() == [date(2026, 3, 1)]  # entered closedwon
    assert any(d.column == "close_date" and d.rows == 1 for d in report.defaults)
    assert any(m.column == "dealstage" and m.value == "customer" for m in report.mappings)
    assert report.provenance is not None
    assert report.provenance.stage_history == provenance


def test_without_a_journey_map_deals_make_no_stage_events(server: HTTPServer) -> None:
    _deal_fake(server, history=True)
    data, report = connector(server).load(progress=False)
    assert data.stage_events.get_column("to").to_list() == ["lead", "opportunity"]
    assert report.provenance is not None
    assert any("no deal_journey_map" in n for n in report.provenance.notes)


def test_a_deleted_record_leaves_the_synced_state(server: HTTPServer, tmp_path: Path) -> None:
    original = synthetic(PLAN, seed=15, n_leads=30)
    fake = serve(server, original)
    state = tmp_path / "state.json"
    hubspot = connector(server)
    first_until = datetime(2100, 1, 1, tzinfo=UTC)
    synced, _ = hubspot.sync(state, until=first_until, progress=False)
    busy = {*original.deals.get_column("lead_id").drop_nulls(), *original.activities.get_column("lead_id")}
    gone = next(i for i in original.leads.get_column("id") if i not in busy)
    fake.objects["contacts"][gone].archive(first_until + timedelta(hours=1))
    deal = original.deals.get_column("id")[0]
    fake.objects["deals"][deal].archive(first_until + timedelta(hours=2))
    second = hubspot.sync(state, until=first_until + timedelta(days=1), progress=False)
    assert second.report.deleted == {"deals": (deal,), "leads": (gone,)}
    assert "deleted in the source since the last load: deals 1, leads 1" in second.report.summary()
    now = apply_changes(synced, second)
    assert gone not in now.leads.get_column("id").to_list()
    assert gone not in now.stage_events.get_column("lead_id").to_list()
    assert gone not in now.touchpoints.get_column("lead_id").to_list()
    assert deal not in now.deals.get_column("id").to_list()
    full, _ = hubspot.load(progress=False)
    assert not difference(full, now)


def test_a_merged_contact_is_deleted_and_its_survivor_read(server: HTTPServer, tmp_path: Path) -> None:
    original = synthetic(PLAN, seed=16, n_leads=30)
    fake = serve(server, original)
    state = tmp_path / "state.json"
    hubspot = connector(server)
    first_until = datetime(2100, 1, 1, tzinfo=UTC)
    synced, _ = hubspot.sync(state, until=first_until, progress=False)
    dealt = {*original.deals.get_column("lead_id").drop_nulls()}
    worked = original.activities.get_column("lead_id")
    keep = next(i for i in original.leads.get_column("id") if i not in dealt and i not in set(worked))
    gone = next(i for i in worked if i not in dealt)  # its activities move to the contact it joins
    moved = original.activities.filter(pl.col("lead_id") == gone).get_column("id").to_list()
    fake.merge(keep, gone, first_until + timedelta(hours=1))
    second = hubspot.sync(state, until=first_until + timedelta(days=1), progress=False)
    assert second.report.deleted == {"leads": (gone,)}
    assert second.dataset.leads.get_column("id").to_list() == [keep]
    got = second.dataset.activities.filter(pl.col("id").is_in(moved))
    assert got.get_column("lead_id").unique().to_list() == [keep]
    now = apply_changes(synced, second)
    full, _ = hubspot.load(progress=False)
    assert not difference(full, now)


def test_source_properties_become_touchpoints(server: HTTPServer) -> None:
    fake = FakeHubSpot()
    base = {"createdate": "2026-01-05T10:00:00.000Z", "lastmodifieddate": "2026-01-05T10:00:00.000Z"}
    fake.objects["contacts"]["1"] = Record(
        "1",
        {
            **base,
            "hs_analytics_source": "PAID_SEARCH",
            "hs_analytics_first_touch_converting_campaign": "Spring",
            "hs_latest_source": "EMAIL_MARKETING",
            "hs_latest_source_timestamp": "2026-02-01T08:00:00.000Z",
            "hs_analytics_last_touch_converting_campaign": "Nurture",
        },
    )
    fake.objects["contacts"]["2"] = Record(  # the latest source is the original one: one touch
        "2",
        {
            **base,
            "hs_analytics_source": "ORGANIC_SEARCH",
            "hs_latest_source": "ORGANIC_SEARCH",
            "hs_latest_source_timestamp": "2026-01-05T10:00:00.000Z",
        },
    )
    fake.install(server)
    data, report = connector(server).load(progress=False)
    touches = data.touchpoints.sort("id").select("id", "lead_id", "channel", "campaign", "team").rows()
    assert touches == [
        ("1-latest-source", "1", "email", "Nurture", "marketing"),
        ("1-original-source", "1", "paid_search", "Spring", "marketing"),
        ("2-original-source", "2", "organic", None, "marketing"),
    ]
    assert any(m.column == "hs_latest_source" and m.value == "email" for m in report.mappings)
    assert any(d.kind == "touchpoints" and d.rows == 3 for d in report.defaults)


def _forms_fake(server: HTTPServer) -> FakeHubSpot:
    fake = FakeHubSpot()
    for ident, email in (("1", "ada@example.com"), ("2", "bo@example.com")):
        fake.objects["contacts"][ident] = Record(
            ident,
            {
                "createdate": "2026-01-05T10:00:00.000Z",
                "lastmodifieddate": "2026-01-05T10:00:00.000Z",
                "email": email,
                "hs_analytics_source": "PAID_SEARCH",
                "hs_analytics_first_touch_converting_campaign": "c-spring",
            },
        )
    at = millis("2026-03-01T12:00:00.000Z")
    fake.forms["f-demo"] = Form(
        "Demo request",
        [("conv-1", at, "Ada@example.com", "/demo"), ("conv-2", at + 1000, "nobody@example.com", "/demo")],
    )
    fake.forms["f-news"] = Form("Newsletter", [("conv-3", at - 86_400_000, "bo@example.com", "/news")])
    fake.campaigns["c-spring"] = Campaign("Spring launch", ["f-demo"])
    fake.install(server)
    return fake


def test_form_submissions_and_campaigns_become_touchpoints(server: HTTPServer) -> None:
    _forms_fake(server)
    data, report = connector(server).load(progress=False)
    forms = data.touchpoints.filter(pl.col("channel") == "form").sort("id")
    assert forms.select("id", "lead_id", "campaign", "team").rows() == [
        ("form-conv-1", "1", "Spring launch", "marketing"),  # the e-mail matched whatever its case
        ("form-conv-3", "2", None, "marketing"),
    ]
    assert forms.get_column("time").to_list()[0] == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert data.leads.get_column("campaign").to_list() == ["Spring launch", "Spring launch"]  # by its id
    assert report.provenance is not None
    assert any(n.startswith("1 form submission(s) of no contact") for n in report.provenance.notes)


def test_submissions_in_a_window_bring_their_contacts(server: HTTPServer) -> None:
    fake = _forms_fake(server)
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    data, _ = connector(server).load_changes(since=since, until=until, progress=False)
    # no contact changed in the window; the one whose submission is in it is read by its e-mail
    assert data.leads.get_column("id").to_list() == ["1"]
    assert data.touchpoints.filter(pl.col("channel") == "form").get_column("id").to_list() == ["form-conv-1"]
    pages = [q for _, p, q in fake.log if p.startswith("/form-integrations/v1/submissions/forms/")]
    assert all("limit=50" in q for q in pages)


def test_forms_and_campaigns_can_be_left_out(server: HTTPServer) -> None:
    fake = _forms_fake(server)
    data, _ = connector(server, forms=False, campaigns=False).load(progress=False)
    assert "form" not in data.touchpoints.get_column("channel").to_list()
    assert not [p for _, p, _ in fake.log if p.startswith(("/marketing", "/form-integrations"))]


def test_a_contact_read_again_keeps_the_events_of_its_unchanged_deals(server: HTTPServer) -> None:
    fake = _deal_fake(server, history=True)
    other = Record(
        "8",
        {
            **fake.objects["deals"]["9"].properties,
            "dealstage": "appointmentscheduled",
            "hs_lastmodifieddate": "2026-01-01T00:00:00.000Z",
        },
        {"dealstage": [("appointmentscheduled", "2026-01-10T09:00:00.000Z")]},
    )
    fake.objects["deals"]["8"] = other
    fake.link("deals", "contacts", "8", "1")
    journey = {"appointmentscheduled": "sql", "closedwon": "customer"}
    hubspot = connector(server, deal_journey_map=journey)
    full, _ = hubspot.load(progress=False)
    window = (datetime(2026, 2, 15, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    changed, _ = hubspot.load_changes(since=window[0], until=window[1], progress=False)
    assert sorted(changed.deals.get_column("id")) == ["8", "9"]  # deal 8 did not change; it is read
    assert_frame_equal(changed.stage_events, full.stage_events)
    assert "sql" in full.stage_events.get_column("to").to_list()
