"""A fake Salesforce API on the loopback address, for the ``salesforce`` connector's tests (no internet).

It answers what the connector calls, in Salesforce's documented shapes (REST API v61.0 and Bulk API 2.0):
the global describe (``/sobjects``), each object's describe, SOQL through ``query`` and ``queryAll``
(records with ``attributes``, ``totalSize``, ``done`` and ``nextRecordsUrl`` pages; ``SELECT COUNT()``),
and Bulk 2.0 query jobs (create, poll the state: ``InProgress`` then ``JobComplete``, results as CSV pages
chained by ``Sforce-Locator``). Its SOQL is the subset the connector writes: a field list, one object,
and ``WHERE`` conditions joined by ``AND`` (``Field >= time``, ``Field < time``, ``Field IN ('id', ...)``).
Times are written as the REST API writes them (``2026-10-01T09:00:00.000+0000``; Bulk 2.0's CSV with
``Z``), booleans and numbers as JSON's. Faults are queued per request (429 with and without
``Retry-After``, 503, ``REQUEST_LIMIT_EXCEEDED``), the bearer token is checked, and every request is logged.

:func:`fake_from_dataset` fills it from a synthetic :class:`~smarketing.records.Dataset` through the Data
Export writer (the same objects and cells the ``salesforce-export`` connector reads), with ids in their
18-character form as the API gives them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import polars as pl
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from smarketing.connectors.salesforce import case_safe_id
from smarketing.datasets import write_salesforce_export
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

TOKEN = "00D5g000000FAKE!AQ4AQTestSessionToken.Secret0000"
VERSION = "61.0"
BASE = f"/services/data/v{VERSION}"
HISTORY = ("LeadHistory", "OpportunityHistory", "OpportunityFieldHistory")
_NUMBERS = {"Amount": "currency", "SplitPercentage": "percent", "NumberOfEmployees": "int"}
#: What Salesforce deletes with a record of an object: (object, the field that points at the record).
CASCADE = {
    "Lead": (("LeadHistory", "LeadId"), ("CampaignMember", "LeadId"), ("Task", "WhoId"), ("Event", "WhoId")),
    "Contact": (("CampaignMember", "ContactId"), ("Task", "WhoId"), ("Event", "WhoId")),
    "Opportunity": (
        ("OpportunityHistory", "OpportunityId"),
        ("OpportunityFieldHistory", "OpportunityId"),
        ("OpportunitySplit", "OpportunityId"),
    ),
}
_SELECT = re.compile(r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+))?$", re.S)
_COND = re.compile(r"^(?P<field>\w+) (?:(?P<op>>=|<=|<|>|=) (?P<time>\S+)|IN \((?P<ids>[^)]*)\))$")


def _id(value: str | None) -> str | None:
    if value is None or not re.fullmatch(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", value):
        return value
    try:
        return case_safe_id(value)
    except ValueError:
        return value


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


@attrs.define
class Job:
    obj: str
    rows: list[dict[str, str | None]]
    fields: list[str]
    polls: int = 0


@attrs.define
class FakeSalesforce:
    """The org's objects (rows of text cells as the export writes them) and how the fake answers."""

    objects: dict[str, list[dict[str, str | None]]]
    types: dict[str, dict[str, str]]
    page_size: int = 2000  # REST records a page (Salesforce's default batch)
    short_ids: bool = False  # REST answers write ids in their 15-character form
    token: str = TOKEN
    log: list[tuple[str, str, str]] = attrs.Factory(list)
    faults: list[tuple[re.Pattern[str], int, Any, dict[str, str]]] = attrs.Factory(list)
    jobs: dict[str, Job] = attrs.Factory(dict)
    cursors: dict[str, tuple[str, list[dict[str, Any]]]] = attrs.Factory(dict)
    stalls: list[tuple[re.Pattern[str], float]] = attrs.Factory(list)

    def delete(self, obj: str, ident: str, when: datetime) -> None:
        """Delete a record to the recycle bin at ``when``, with what Salesforce deletes with it (``CASCADE``).

        ``queryAll`` still finds it (``IsDeleted`` true, ``SystemModstamp`` ``when``); ``query`` does not.
        """
        for row in self.objects[obj]:
            if _id(row["Id"]) == _id(ident):
                row["IsDeleted"] = "true"
                if obj not in HISTORY:
                    row["SystemModstamp"] = stamp(when)
        for child, field in CASCADE.get(obj, ()):
            for row in self.objects.get(child, []):
                if row.get("IsDeleted") != "true" and _id(row.get(field)) == _id(ident):
                    self.delete(child, str(row["Id"]), when)

    def install(self, server: HTTPServer) -> None:
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def stall(self, path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering the next request whose path matches ``path`` (once)."""
        self.stalls.append((re.compile(path), seconds))

    def fail(self, path: str, status: int, body: Any = None, **headers: str) -> None:
        """Answer the next request whose path matches ``path`` with ``status`` (once)."""
        self.faults.append((re.compile(path), status, body, headers))

    # -- the handler -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        self.log.append((request.method, path, request.query_string.decode()))
        for n, (pattern, seconds) in enumerate(self.stalls):
            if pattern.search(path):
                del self.stalls[n]
                time.sleep(seconds)
                break
        for n, (pattern, status, body, headers) in enumerate(self.faults):
            if pattern.search(path):
                del self.faults[n]
                return Response(json.dumps(body or []), status, headers, content_type="application/json")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            return _json(body, 401)
        rest = path.removeprefix(BASE)
        if rest.rstrip("/") == "/sobjects":
            return _json({"sobjects": [{"name": o, "queryable": True} for o in sorted(self.objects)]})
        if m := re.fullmatch(r"/sobjects/(\w+)/describe/?", rest):
            if m[1] not in self.objects:
                return _json(
                    [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404
                )
            return _json(
                {"name": m[1], "fields": [{"name": f, "type": t} for f, t in self.types[m[1]].items()]}
            )
        if m := re.fullmatch(r"/(query|queryAll)/?", rest):
            return self._query(request.args["q"], deleted=m[1] == "queryAll")
        if m := re.fullmatch(r"/(?:query|queryAll)/(\w+-\d+)", rest):
            return self._more(m[1])
        if rest.rstrip("/") == "/jobs/query" and request.method == "POST":
            return self._create(json.loads(request.get_data()))
        if m := re.fullmatch(r"/jobs/query/(\w+)", rest):
            return self._state(m[1])
        if m := re.fullmatch(r"/jobs/query/(\w+)/results", rest):
            return self._results(
                m[1], int(request.args.get("maxRecords", "50000")), request.args.get("locator", "")
            )
        return _json([{"errorCode": "NOT_FOUND", "message": f"no {path}"}], 404)

    # -- SOQL ------------------------------------------------------------------------------------

    def select(self, soql: str, *, deleted: bool) -> tuple[str, list[str], list[dict[str, str | None]]]:
        """The object, the fields and the rows a query asks for (the subset of SOQL the connector writes)."""
        m = _SELECT.match(soql.strip())
        assert m is not None, f"the fake does not read {soql!r}"
        obj, fields = m["obj"], [f.strip() for f in m["fields"].split(",")]
        rows = [r for r in self.objects[obj] if deleted or r.get("IsDeleted") != "true"]
        for condition in (m["where"] or "").split(" AND ") if m["where"] else []:
            c = _COND.match(condition.strip())
            assert c is not None, f"the fake does not read the condition {condition!r}"
            field = c["field"]
            assert field in self.types[obj], f"{obj} has no field {field}"
            if c["ids"] is not None:
                wanted = {_id(v.strip().strip("'")) for v in c["ids"].split(",")}
                rows = [r for r in rows if _id(r.get(field)) in wanted]
            else:
                bound, op = _when(c["time"]), c["op"]
                rows = [r for r in rows if r.get(field) and _compare(_when(str(r[field])), op, bound)]
        return obj, fields, rows

    def _query(self, soql: str, *, deleted: bool) -> Response:
        obj, fields, rows = self.select(soql, deleted=deleted)
        if fields == ["COUNT()"]:
            return _json({"totalSize": len(rows), "done": True, "records": []})
        records = [self._record(obj, r, fields) for r in rows]
        return self._page(f"01g{len(self.cursors):06d}", records, 0)

    def _page(self, cursor: str, records: list[dict[str, Any]], start: int) -> Response:
        end = start + self.page_size
        body: dict[str, Any] = {
            "totalSize": len(records),
            "done": end >= len(records),
            "records": records[start:end],
        }
        if end < len(records):
            self.cursors[cursor] = ("", records)
            body["nextRecordsUrl"] = f"{BASE}/query/{cursor}-{end}"
        return _json(body)

    def _more(self, locator: str) -> Response:
        cursor, _, start = locator.rpartition("-")
        return self._page(cursor, self.cursors[cursor][1], int(start))

    def _record(self, obj: str, row: Mapping[str, str | None], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": obj, "url": f"{BASE}/sobjects/{obj}/{row['Id']}"}}
        for field in fields:
            value, kind = row.get(field), self.types[obj].get(field, "string")
            if value is None or value == "":
                out[field] = None
            elif kind == "boolean":
                out[field] = value == "true"
            elif kind in ("currency", "percent", "double"):
                out[field] = float(value)
            elif kind == "int":
                out[field] = int(value)
            elif kind == "datetime":
                out[field] = value.replace("Z", "+0000")
            elif kind in ("id", "reference") and self.short_ids:
                out[field] = value[:15]
            else:
                out[field] = value
        return out

    # -- Bulk API 2.0 ----------------------------------------------------------------------------

    def _create(self, body: Mapping[str, Any]) -> Response:
        assert body["operation"] in ("query", "queryAll"), body
        obj, fields, rows = self.select(body["query"], deleted=body["operation"] == "queryAll")
        ident = f"7505g{len(self.jobs):010d}AAA"
        self.jobs[ident] = Job(obj, rows, fields)
        return _json({"id": ident, "operation": body["operation"], "object": obj, "state": "UploadComplete"})

    def _state(self, ident: str) -> Response:
        job = self.jobs[ident]
        job.polls += 1
        state = "InProgress" if job.polls == 1 else "JobComplete"
        return _json({"id": ident, "state": state, "numberRecordsProcessed": len(job.rows)})

    def _results(self, ident: str, most: int, locator: str) -> Response:
        job = self.jobs[ident]
        start = int(locator or "0")
        end = start + most
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(job.fields)
        for row in job.rows[start:end]:
            writer.writerow([row.get(f) or "" for f in job.fields])
        headers = {
            "Sforce-Locator": str(end) if end < len(job.rows) else "null",
            "Sforce-NumberOfRecords": str(len(job.rows[start:end])),
        }
        return Response(text.getvalue(), 200, headers, content_type="text/csv")


def _compare(value: datetime, op: str, bound: datetime) -> bool:
    return {
        ">=": value >= bound,
        ">": value > bound,
        "<": value < bound,
        "<=": value <= bound,
        "=": value == bound,
    }[op]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _type(field: str, values: list[str | None]) -> str:
    if field == "Id":
        return "id"
    if field in _NUMBERS:
        return _NUMBERS[field]
    if field.startswith("Is"):
        return "boolean"
    sample = next((v for v in values if v), "")
    if field.endswith("Id") and re.fullmatch(r"[A-Za-z0-9]{15,18}", sample):
        return "reference"
    if re.fullmatch(r"\d{4}-\d\d-\d\dT.*", sample):
        return "datetime"
    if re.fullmatch(r"\d{4}-\d\d-\d\d", sample):
        return "date"
    return "string"


def fake_from_dataset(plan: AlignmentPlan, data: Dataset, folder: Path) -> FakeSalesforce:
    """The fake org holding ``data``: the Data Export writer's rows in ``folder``, ids in 18 characters.

    Every record gets a ``SystemModstamp`` (its ``LastModifiedDate``, else its ``CreatedDate``) and
    ``IsDeleted = false``; ``OpportunityFieldHistory`` has a ``StageName`` row per ``OpportunityHistory`` row.
    """
    paths = write_salesforce_export(plan, data, folder)
    objects: dict[str, list[dict[str, str | None]]] = {}
    types: dict[str, dict[str, str]] = {}
    for obj, path in sorted(paths.items()):
        frame = pl.read_csv(path, infer_schema=False)
        rows = frame.to_dicts()
        columns = list(frame.columns)
        for row in rows:
            for field in columns:
                if field == "Id" or field.endswith("Id"):
                    row[field] = _id(row[field])
            if obj not in HISTORY:
                row["SystemModstamp"] = (
                    row.get("LastModifiedDate") or row.get("CreatedDate") or "2024-01-01T00:00:00.000Z"
                )
            row["IsDeleted"] = row.get("IsDeleted") or "false"
        for field in ("SystemModstamp", "IsDeleted", "CreatedDate"):
            if field not in columns and (field != "SystemModstamp" or obj not in HISTORY):
                columns.append(field)
        objects[obj] = rows
        types[obj] = {f: _type(f, [r.get(f) for r in rows]) for f in columns}
        types[obj]["IsDeleted"] = "boolean"
    history = []
    for row in objects.get("OpportunityHistory", []):
        body = "017" + str(row["Id"])[3:15]
        history.append(
            {
                "Id": case_safe_id(body),
                "OpportunityId": row["OpportunityId"],
                "Field": "StageName",
                "OldValue": None,
                "NewValue": row.get("StageName"),
                "CreatedDate": row["CreatedDate"],
                "CreatedById": row.get("CreatedById"),
                "IsDeleted": "false",
            }
        )
    objects["OpportunityFieldHistory"] = history
    types["OpportunityFieldHistory"] = (
        {f: _type(f, [r.get(f) for r in history]) for f in history[0]} if history else {"Id": "id"}
    )
    types["OpportunityFieldHistory"]["IsDeleted"] = "boolean"
    return FakeSalesforce(objects, types)


def stamp(when: datetime) -> str:
    """A time as the export and Bulk 2.0 write it (UTC, milliseconds, ``Z``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
