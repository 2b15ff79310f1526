"""A fake HubSpot API on the loopback address, for the ``hubspot`` connector's tests (never the internet).

It answers the v3/v4 endpoints the connector calls with HubSpot's documented response shapes: objects
pages (``results``, ``paging.next.after``, ``propertiesWithHistory`` newest first, at most 50 records a page
with history), search (``filterGroups``, ``sorts``, ``total``; a page past the cap is an HTTP 400 as HubSpot
answers), batch read (207 with ``errors`` for ids it does not have), associations v4 batch read, owners
and pipelines. Faults are queued per request (429 with and without ``Retry-After``, the daily limit, 5xx),
a query longer than ``url_limit`` is an HTTP 414, and every request is logged.

:func:`fake_from_dataset` writes a synthetic :class:`~smarketing.records.Dataset` into it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import polars as pl
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

TOKEN = "pat-na1-00000000-test-token-0000"
LIFECYCLE = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
DEAL_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "false", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "false", "0.4"),
    ("closedwon", "Closed Won", "true", "1.0"),
    ("closedlost", "Closed Lost", "true", "0.0"),
)
MODIFIED = {
    "contacts": "lastmodifieddate",
    **dict.fromkeys(("companies", "deals", "calls", "emails", "meetings"), "hs_lastmodifieddate"),
}
#: Activity type -> HubSpot object and the property of its outcome (e-mails have none).
ACTIVITIES = {
    "call": ("calls", "hs_call_disposition"),
    "email": ("emails", None),
    "meeting": ("meetings", "hs_meeting_outcome"),
}
STAMP = "2024-01-01T00:00:00.000Z"


def iso(when: datetime) -> str:
    """HubSpot's time: UTC to the millisecond with ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def millis(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@attrs.define
class Record:
    id: str
    properties: dict[str, str | None]
    history: dict[str, list[tuple[str | None, str]]] = attrs.Factory(dict)  # oldest first
    archived: bool = False
    archived_at: str | None = None

    def archive(self, when: datetime) -> None:
        """Delete the record (HubSpot archives it) at ``when``."""
        self.archived, self.archived_at = True, iso(when)

    def shape(self, props: list[str], history: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "properties": {p: self.properties.get(p) for p in props},
            "createdAt": self.properties.get("createdate") or STAMP,
            "updatedAt": self.properties.get("lastmodifieddate")
            or self.properties.get("hs_lastmodifieddate")
            or STAMP,
            "archived": self.archived,
        }
        if self.archived:
            out["archivedAt"] = self.archived_at or STAMP
        out["properties"]["hs_object_id"] = self.id
        if history:
            out["propertiesWithHistory"] = {
                p: [
                    {"value": v, "timestamp": t, "sourceType": "CRM_UI", "sourceId": "userId:1"}
                    for v, t in reversed(self.history.get(p, []))
                ]
                for p in history
            }
        return out


@attrs.define
class Form:
    """A HubSpot form and its submissions: (conversion id, submitted at in ms, e-mail, page URL)."""

    name: str
    submissions: list[tuple[str, int, str | None, str]] = attrs.Factory(list)


@attrs.define
class Campaign:
    """A marketing campaign (name) and the ids of its form assets."""

    name: str
    forms: list[str] = attrs.Factory(list)


@attrs.define
class Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = attrs.Factory(dict)


@attrs.define
class FakeHubSpot:
    """The state of a fake HubSpot account and its faults; :meth:`handle` answers one request."""

    objects: dict[str, dict[str, Record]] = attrs.Factory(lambda: {k: {} for k in MODIFIED})
    links: dict[tuple[str, str], dict[str, list[str]]] = attrs.Factory(dict)
    owners: list[dict[str, Any]] = attrs.Factory(list)
    faults: list[tuple[str, Fault]] = attrs.Factory(list)  # (path pattern, fault), first match used once
    log: list[tuple[str, str, str]] = attrs.Factory(list)  # (method, path, query)
    url_limit: int = 4000
    search_cap: int = 10_000
    token: str = TOKEN
    forms: dict[str, Form] = attrs.Factory(dict)
    campaigns: dict[str, Campaign] = attrs.Factory(dict)

    def install(self, server: HTTPServer) -> None:
        server.expect_request(re.compile(r"^/.*$")).respond_with_handler(self.handle)

    def fail(self, pattern: str, status: int, body: Mapping[str, Any] | None = None, **headers: str) -> None:
        self.faults.append((pattern, Fault(status, dict(body or {"status": "error"}), dict(headers))))

    def link(self, source: str, target: str, ident: str, other: str) -> None:
        self.links.setdefault((source, target), {}).setdefault(ident, []).append(other)
        self.links.setdefault((target, source), {}).setdefault(other, []).append(ident)

    def merge(self, keep: str, gone: str, when: datetime) -> None:
        """Merge contact ``gone`` into ``keep`` at ``when``, as HubSpot does: ``gone`` is no more, its
        associations move to ``keep``, and ``keep`` lists it in ``hs_merged_object_ids``."""
        contacts = self.objects["contacts"]
        survivor = contacts[keep]
        del contacts[gone]
        merged = [i for i in (survivor.properties.get("hs_merged_object_ids") or "").split(";") if i]
        survivor.properties["hs_merged_object_ids"] = ";".join([*merged, gone])
        survivor.properties["lastmodifieddate"] = iso(when)
        for (source, target), links in self.links.items():
            if source == "contacts" and gone in links:
                links.setdefault(keep, []).extend(links.pop(gone))
            elif target == "contacts":
                for others in links.values():
                    others[:] = list(dict.fromkeys(keep if o == gone else o for o in others))

    def handle(self, request: Request) -> Response:
        query = request.query_string.decode()
        self.log.append((request.method, request.path, query))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json(401, {"status": "error", "message": "Authentication credentials not found."})
        if len(query) > self.url_limit:
            return Response("URI Too Long", status=414)
        for n, (pattern, fault) in enumerate(self.faults):
            if re.search(pattern, request.path):
                del self.faults[n]
                return _json(fault.status, fault.body, fault.headers)
        return self._route(request)

    def _route(self, request: Request) -> Response:
        path = request.path
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)", path):
            return self._page(m[1], request)
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)/search", path):
            return self._search(m[1], request.get_json())
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)/batch/read", path):
            return self._batch(m[1], request.get_json())
        if m := re.fullmatch(r"/crm/v4/associations/(\w+)/(\w+)/batch/read", path):
            return self._associations(m[1], m[2], request.get_json())
        if path in {"/crm/v3/owners", "/crm/v3/owners/"}:
            return self._owners(request)
        if path in {"/marketing/v3/forms", "/marketing/v3/forms/"}:
            rows = [
                {"id": i, "name": f.name, "formType": "hubspot", "archived": False}
                for i, f in sorted(self.forms.items())
            ]
            return _paged(rows, request)
        if m := re.fullmatch(r"/form-integrations/v1/submissions/forms/([\w-]+)", path):
            return self._submissions(m[1], request)
        if path == "/marketing/v3/campaigns":
            rows = [{"id": i, "properties": {"hs_name": c.name}} for i, c in sorted(self.campaigns.items())]
            return _paged(rows, request)
        if m := re.fullmatch(r"/marketing/v3/campaigns/([\w-]+)/assets/FORM", path):
            campaign = self.campaigns[m[1]]
            return _paged([{"id": f, "name": self.forms[f].name} for f in campaign.forms], request)
        if m := re.fullmatch(r"/crm/v3/pipelines/(\w+)", path):
            return _json(200, {"results": _pipelines(m[1])})
        return _json(404, {"status": "error", "message": f"no route {path}"})

    def _submissions(self, form: str, request: Request) -> Response:
        rows = [
            {
                "conversionId": conversion,
                "submittedAt": at,
                "values": [] if email is None else [{"name": "email", "value": email}],
                "pageUrl": page,
            }
            for conversion, at, email, page in sorted(self.forms[form].submissions, key=lambda s: -s[1])
        ]
        return _paged(rows, request, most=50)

    def records(self, kind: str, *, archived: bool) -> list[Record]:
        """The live (or archived) records of ``kind`` in id order, as the list pages give them."""
        return [r for _, r in sorted(self.objects[kind].items()) if r.archived == archived]

    def _page(self, kind: str, request: Request) -> Response:
        props = _listed(request.args.getlist("properties"))
        history = _listed(request.args.getlist("propertiesWithHistory"))
        limit = min(int(request.args.get("limit", 10)), 50 if history else 100)
        start = int(request.args.get("after", 0))
        live = self.records(kind, archived=request.args.get("archived", "false").lower() == "true")
        page = live[start : start + limit]
        body: dict[str, Any] = {"results": [r.shape(props, history) for r in page]}
        if start + limit < len(live):
            body["paging"] = {"next": {"after": str(start + limit), "link": "?after=x"}}
        return _json(200, body)

    def _search(self, kind: str, body: dict[str, Any]) -> Response:
        matches = [r for r in self.objects[kind].values() if not r.archived and _matches(r, body)]
        for sort in reversed(body.get("sorts", [])):
            matches.sort(key=lambda r, p=sort["propertyName"]: millis(r.properties[p] or STAMP))
        start = int(body.get("after", 0))
        limit = min(int(body.get("limit", 10)), 200)
        if start >= self.search_cap:
            message = f"paging past {self.search_cap} results is not supported"
            return _json(400, {"status": "error", "category": "VALIDATION_ERROR", "message": message})
        page = matches[start : start + limit]
        out: dict[str, Any] = {
            "total": len(matches),
            "results": [r.shape(body.get("properties", []), []) for r in page],
        }
        if start + limit < len(matches):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return _json(200, out)

    def _batch(self, kind: str, body: dict[str, Any]) -> Response:
        props, history = body.get("properties", []), body.get("propertiesWithHistory", [])
        found, missing = [], []
        by = body.get("idProperty")
        index = (
            {str(r.properties.get(by) or "").lower(): r for r in self.objects[kind].values()} if by else {}
        )
        for item in body["inputs"]:
            record = index.get(str(item["id"]).lower()) if by else self.objects[kind].get(str(item["id"]))
            if record is None or record.archived:
                missing.append(str(item["id"]))
            else:
                found.append(record.shape(props, history))
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": STAMP,
            "completedAt": STAMP,
        }
        if missing:
            error = {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found"}
            out["errors"] = [{**error, "context": {"ids": missing}}]
            out["numErrors"] = 1
            return _json(207, out)
        return _json(200, out)

    def _associations(self, source: str, target: str, body: dict[str, Any]) -> Response:
        results = []
        for item in body["inputs"]:
            others = self.links.get((source, target), {}).get(str(item["id"]), [])
            objects = self.objects.get(target, {})
            live = [o for o in others if o in objects and not objects[o].archived]
            if live:
                types = [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]
                to = [{"toObjectId": int(o) if o.isdigit() else o, "associationTypes": types} for o in live]
                results.append({"from": {"id": str(item["id"])}, "to": to})
        return _json(
            200, {"status": "COMPLETE", "results": results, "startedAt": STAMP, "completedAt": STAMP}
        )

    def _owners(self, request: Request) -> Response:
        archived = request.args.get("archived", "false").lower() == "true"
        owners = [o for o in self.owners if o["archived"] == archived]
        start, limit = int(request.args.get("after", 0)), int(request.args.get("limit", 100))
        body: dict[str, Any] = {"results": owners[start : start + limit]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return _json(200, body)


def _paged(rows: list[dict[str, Any]], request: Request, most: int = 100) -> Response:
    """One page of ``rows`` by ``limit`` and ``after`` (an offset), with ``paging.next.after``."""
    start, limit = int(request.args.get("after", 0)), min(int(request.args.get("limit", 20)), most)
    body: dict[str, Any] = {"results": rows[start : start + limit]}
    if start + limit < len(rows):
        body["paging"] = {"next": {"after": str(start + limit), "link": "?after=x"}}
    return _json(200, body)


def _listed(values: list[str]) -> list[str]:
    return [p for v in values for p in v.split(",") if p]


def _matches(record: Record, body: dict[str, Any]) -> bool:
    groups = body.get("filterGroups") or [{"filters": []}]
    return any(all(_test(record, f) for f in g["filters"]) for g in groups)


def _test(record: Record, rule: dict[str, Any]) -> bool:
    value = record.properties.get(rule["propertyName"])
    if value is None:
        return False
    left, right = millis(value), int(rule["value"])
    return {
        "GTE": left >= right,
        "GT": left > right,
        "LT": left < right,
        "LTE": left <= right,
        "EQ": left == right,
    }[rule["operator"]]


def _pipelines(kind: str) -> list[dict[str, Any]]:
    def stage(n: int, ident: str, label: str, meta: dict[str, str]) -> dict[str, Any]:
        return {
            "id": ident,
            "label": label,
            "displayOrder": n,
            "metadata": meta,
            "archived": False,
            "createdAt": STAMP,
            "updatedAt": STAMP,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }

    if kind == "contacts":
        stages = [stage(n, i, label, {"isClosed": "false"}) for n, (i, label) in enumerate(LIFECYCLE)]
        ident, label = "contacts-lifecycle-pipeline", "Lifecycle Stage Pipeline"
    else:
        stages = [
            stage(n, i, label, {"isClosed": c, "probability": p})
            for n, (i, label, c, p) in enumerate(DEAL_STAGES)
        ]
        ident, label = "default", "Sales Pipeline"
    pipeline = {"id": ident, "label": label, "displayOrder": 0, "archived": False, "stages": stages}
    return [{**pipeline, "createdAt": STAMP, "updatedAt": STAMP}]


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json"
    )


# --------------------------------------------------------------------------------------------------
# A synthetic dataset written into the fake account.


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def owners_of(plan: AlignmentPlan) -> list[dict[str, Any]]:
    """One owner per person of the plan (ids from 100), named as the plan names them."""
    out = []
    for n, person in enumerate(sorted(plan.people, key=lambda p: p.id)):
        first, _, last = person.name.partition(" ")
        out.append(
            {
                "id": str(100 + n),
                "email": f"{person.id}@example.com",
                "firstName": first,
                "lastName": last,
                "userId": 1000 + n,
                "createdAt": STAMP,
                "updatedAt": STAMP,
                "archived": False,
            }
        )
    return out


def fake_from_dataset(plan: AlignmentPlan, data: Dataset) -> FakeHubSpot:
    """``data`` as a HubSpot account holds it: companies, contacts with their history, deals, owners."""
    fake = FakeHubSpot(owners=owners_of(plan))
    owner = {p.id: o["id"] for p, o in zip(sorted(plan.people, key=lambda p: p.id), fake.owners, strict=True)}
    for n, row in enumerate(data.accounts.iter_rows(named=True)):
        props = {
            k: _text(row[c]) for k, c in (("name", "name"), ("industry", "industry"), ("country", "country"))
        }
        props["numberofemployees"] = _text(row["company_size"])
        props["hs_lastmodifieddate"] = iso(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
        fake.objects["companies"][row["id"]] = Record(row["id"], props)
    events = data.stage_events.sort("lead_id", "time", maintain_order=True)
    history: dict[str, list[tuple[str | None, str]]] = {}
    for row in events.iter_rows(named=True):
        history.setdefault(row["lead_id"], []).append((row["to"], iso(row["time"])))
    for row in data.leads.iter_rows(named=True):
        steps = history.get(row["id"], [])
        created = iso(row["created_at"])
        props = _contact(row, owner)
        props["lifecyclestage"] = steps[-1][0] if steps else None
        props["lastmodifieddate"] = max([created, *(t for _, t in steps)], key=millis)
        fake.objects["contacts"][row["id"]] = Record(row["id"], props, {"lifecyclestage": steps})
        if row["account_id"] is not None:
            fake.link("contacts", "companies", row["id"], row["account_id"])
    stage = {"open": "appointmentscheduled", "won": "closedwon", "lost": "closedlost"}
    for row in data.deals.iter_rows(named=True):
        props = {
            "dealstage": stage[row["stage"]],
            "amount": None if row["amount"] is None else f"{row['amount']:f}",
            "deal_currency_code": row["amount_currency"],
            "createdate": iso(row["created_at"]),
            "closedate": None if row["close_date"] is None else f"{row['close_date']}T00:00:00.000Z",
            "hubspot_owner_id": owner.get(row["owner"]) if row["owner"] else None,
            "hs_lastmodifieddate": iso(row["created_at"]),
        }
        steps = [("appointmentscheduled", iso(row["created_at"]))]
        if row["stage"] != "open" and row["close_date"] is not None:
            steps.append((stage[row["stage"]], f"{row['close_date']}T12:00:00.000Z"))
        fake.objects["deals"][row["id"]] = Record(row["id"], props, {"dealstage": steps})
        if row["lead_id"] is not None:
            fake.link("deals", "contacts", row["id"], row["lead_id"])
        if row["account_id"] is not None:
            fake.link("deals", "companies", row["id"], row["account_id"])
    for row in data.activities.filter(pl.col("type").is_in(list(ACTIVITIES))).iter_rows(named=True):
        kind, outcome = ACTIVITIES[row["type"]]
        props = {
            "hs_timestamp": iso(row["time"]),
            "hubspot_owner_id": owner.get(row["person"]) if row["person"] else None,
            "hs_lastmodifieddate": iso(row["time"]),
        }
        if outcome is not None:
            props[outcome] = row["outcome"]
        fake.objects[kind][row["id"]] = Record(row["id"], props)
        fake.link(kind, "contacts", row["id"], row["lead_id"])
    return fake


def _contact(row: Mapping[str, Any], owner: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "createdate": iso(row["created_at"]),
        "hubspot_owner_id": owner.get(row["owner"]) if row["owner"] else None,
        "hs_analytics_source": row["source"],
        "hs_analytics_first_touch_converting_campaign": row["campaign"],
        "hs_persona": row["persona"],
        "jobtitle": row["title"],
        "hs_seniority": row["seniority"],
        "industry": row["industry"],
        "numberofemployees": _text(row["company_size"]),
        "country": row["country"],
        "hs_lead_status": row["status"],
    }


def expected(data: Dataset) -> Dataset:
    """``data`` as the connector reads it back: times to the millisecond, what HubSpot does not keep empty."""
    ms = [pl.col(c).dt.truncate("1ms") for c in ("created_at", "time") if c]
    empty = Dataset().frames()
    events = data.stage_events.sort("lead_id", "time", maintain_order=True).with_columns(
        pl.col("time").dt.truncate("1ms"), pl.lit(None, pl.String).alias("actor")
    )
    events = events.filter(pl.col("to") != pl.col("to").shift(1).over("lead_id").fill_null(""))
    events = events.with_columns(pl.col("to").shift(1).over("lead_id").alias("from"))
    frames = {
        "accounts": data.accounts.with_columns(pl.lit(None, pl.String).alias("region")),
        "leads": data.leads.with_columns(
            ms[0], pl.lit(None, pl.String).alias("grade"), pl.lit(None, pl.String).alias("region")
        ),
        "stage_events": events,
        "activities": data.activities.filter(pl.col("type").is_in(list(ACTIVITIES))).with_columns(
            pl.col("time").dt.truncate("1ms"),
            pl.when(pl.col("type") != "email").then(pl.col("outcome")).alias("outcome"),
        ),
        "deals": data.deals.with_columns(
            ms[0],
            pl.lit(None).alias("discount"),
            pl.lit(None).alias("discount_currency"),
            pl.lit(None).alias("product"),
            pl.lit(None).alias("segment"),
            pl.lit(None).alias("refunded_on"),
            pl.lit([]).alias("splits"),
        ),
    }
    return Dataset(**{k: f.select(empty[k].columns).cast(empty[k].schema) for k, f in frames.items()})
