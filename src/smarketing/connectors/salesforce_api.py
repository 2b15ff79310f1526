"""The ``salesforce`` connector: a Salesforce org read live through its REST and Bulk 2.0 APIs.

:class:`Salesforce` reads the objects the ``salesforce-export`` connector reads from a Data Export
(``Lead``, ``LeadHistory``, ``Contact``, ``Account``, ``Opportunity``, ``OpportunityHistory``,
``OpportunitySplit``, ``OpportunitySplitType``, ``Campaign``, ``CampaignMember``, ``Task``, ``Event``,
``User``), and ``OpportunityFieldHistory`` for the provenance, with ``simple-salesforce``
(``pip install 'smarketing[salesforce]'``). The rows are mapped by the export's own code
(:class:`~smarketing.connectors.SalesforceExport`): the same objects give the same records, with the same
ids (every id in its 18-character form), maps, defaults and refusals, named by object instead of file.

Each object is read with the fields the org's describe lists among those the mapping reads; a small object
through REST ``query`` pages, one of ``bulk_threshold`` records or more through a Bulk API 2.0 query job.

Examples:
    >>> Salesforce(instance_url="https://example.my.salesforce.com").name
    'salesforce'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing.connectors import _read
from smarketing.connectors._salesforce import case_safe
from smarketing.connectors._salesforce_http import (
    SalesforceAPIError,
    SalesforceHTTP,
    ids,
    name,
    quote,
    soql_time,
)
from smarketing.connectors._state import read_watermarks, write_watermarks
from smarketing.connectors.report import Loaded, LoadReport
from smarketing.connectors.salesforce import (
    OBJECTS,
    TableObjects,
    _fields,
    _read_columns,
    _text_map,
    load_objects,
)
from smarketing.errors import DataError
from smarketing.plan import load_plan

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["MODIFIED", "READ", "Salesforce", "SalesforceAPIError"]

#: The objects read, in the order they are read.
READ: Final = (
    "User",
    "OpportunitySplitType",
    "Campaign",
    "Account",
    "Lead",
    "Contact",
    "Opportunity",
    "LeadHistory",
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "OpportunitySplit",
    "CampaignMember",
    "Task",
    "Event",
)
#: The field whose time says when a record changed: the history objects are append-only, by creation.
MODIFIED: Final = {obj: "CreatedDate" if obj.endswith("History") else "SystemModstamp" for obj in READ}
#: Objects read whole in every load (few records, which others refer to).
_WHOLE: Final = ("User", "OpportunitySplitType", "Campaign")
_HISTORY: Final = ("LeadHistory", "OpportunityHistory")
_FIELD_HISTORY_FIELDS: Final = {
    "OpportunityId",
    "Field",
    "OldValue",
    "NewValue",
    "CreatedDate",
    "CreatedById",
}
_SOURCE: Final = re.compile(r"\b(" + "|".join(sorted(OBJECTS, key=len, reverse=True)) + r")\.csv\b")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.define
class _Read:
    """What one load read: each object's rows, the ids deleted, how each object was read."""

    tables: dict[str, pl.DataFrame] = attrs.Factory(dict)
    deleted: dict[str, set[str]] = attrs.Factory(dict)
    how: dict[str, str] = attrs.Factory(dict)  # object -> "REST" or "Bulk 2.0"
    whole: dict[str, pl.DataFrame] = attrs.Factory(dict)  # objects read whole, to filter locally


class Salesforce:
    """Read a Salesforce org through its API into smarketing's records, as the export connector maps them.

    Credentials are read when the first request is made, from the environment (or else the keyring):
    an access token with the org's address (``SALESFORCE_ACCESS_TOKEN``, ``SALESFORCE_INSTANCE_URL``),
    else a user name, password and security token (``SALESFORCE_USERNAME``, ``SALESFORCE_PASSWORD``,
    ``SALESFORCE_SECURITY_TOKEN``). None is ever logged; each is redacted from every error and report.

    Args:
        instance_url: The org's address (``https://yourorg.my.salesforce.com``); ``None``: the
            ``SALESFORCE_INSTANCE_URL`` variable, or the login's.
        plan: The alignment plan (or the path of its file): stage names and ids map Lead Status and
            StageName values, people's names map users (see :class:`~smarketing.connectors.SalesforceExport`).
        status_map: Lead Status / Opportunity StageName value -> journey stage id.
        users: User Id (15 or 18 characters) -> person id.
        fields: Custom fields, ``"Object.Field__c"`` -> canonical column.
        currency: The ISO 4217 currency of amounts when the org has no ``CurrencyIsoCode`` field.
        env_prefix: The prefix of the environment variables of the credentials (``SALESFORCE_``).
        keyring_service: The keyring service holding the credentials (users ``access_token``,
            ``username``, ``password``, ``security_token``) when the variables are not set; ``None``: no
            keyring.
        domain: The login domain of a user name login: ``login``, or ``test`` for a sandbox.
        api_version: The REST API version.
        timeout: Seconds before one request is given up.
        retries: How many times a 429 or 5xx answer is retried (``Retry-After`` respected).
        backoff: Backoff factor between retries without ``Retry-After`` (seconds, doubling).
        bulk_threshold: Objects with this many records or more (of the query) are read through a Bulk
            API 2.0 job; ``None``: never.
        bulk_page: Records of one Bulk 2.0 result page (``maxRecords``).
        bulk_poll: Seconds between two looks at a Bulk 2.0 job's state.
        in_limit: Most ids of one object a change load asks for by id (in queries of 200); more, and the
            object is read whole and filtered.
        verify: TLS verification: ``True``, or the path of a CA bundle.
    """

    name = "salesforce"
    time_zone = None  # the API writes every time in UTC
    encoding = "utf-8"

    def __init__(
        self,
        *,
        instance_url: str | None = None,
        plan: AlignmentPlan | str | Path | None = None,
        status_map: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
        currency: str | None = None,
        env_prefix: str = "SALESFORCE_",
        keyring_service: str | None = "smarketing-salesforce",
        domain: str = "login",
        api_version: str = "61.0",
        timeout: float = 60.0,
        retries: int = 6,
        backoff: float = 1.0,
        bulk_threshold: int | None = 50_000,
        bulk_page: int = 50_000,
        bulk_poll: float = 2.0,
        in_limit: int = 2_000,
        verify: bool | str = True,
    ) -> None:
        if instance_url is not None and not instance_url.startswith(("http://", "https://")):
            raise ValueError(f"instance_url: {instance_url!r} is not an http(s) address")
        if not re.fullmatch(r"\d+\.\d", api_version):
            raise ValueError(f"api_version: {api_version!r} is not a version such as 61.0")
        self.instance_url = instance_url
        self.plan = load_plan(plan) if isinstance(plan, str | Path) else plan
        self.status_map = _text_map(status_map, "status_map")
        self.users = _text_map(users, "users")
        self.fields = _fields(fields or {})
        for named in self.fields.values():
            for field in named:
                name(field)  # a custom field's name goes into the query: letters, digits, underscores
        self.currency = currency
        self.bulk_threshold = bulk_threshold
        self.bulk_page = bulk_page
        self.in_limit = in_limit
        keys = ("access_token", "username", "password", "security_token", "instance_url")
        self._http = SalesforceHTTP(
            instance_url=instance_url,
            env={k: f"{env_prefix}{k.upper()}" for k in keys},
            keyring_service=keyring_service,
            domain=domain,
            version=api_version,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            verify=verify,
            bulk_poll=bulk_poll,
        )
        self._described: dict[str, dict[str, str]] | None = None

    def __repr__(self) -> str:
        return f"Salesforce(instance_url={self.instance_url!r})"

    @property
    def requests(self) -> int:
        """How many HTTP requests this connector has made (retries not counted)."""
        return self._http.requests

    # -- loads ---------------------------------------------------------------------------------------

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read every live record of every object and map them.

        Raises:
            LoadError: In strict mode, when a record is refused.
            SalesforceAPIError: Salesforce refused a request (the credentials, the daily limit) or could
                not be reached.
        """
        self._http.show(progress)
        return self._finish(self._everything(), strict=strict, progress=progress, window=None)

    def load_changes(
        self, *, since: datetime, until: datetime, strict: bool = True, progress: bool | None = None
    ) -> Loaded:
        """Read what changed in ``[since, until)``, and all that the changed records' leads hang on.

        A record changed when its ``SystemModstamp`` (a history row: its ``CreatedDate``) is in the
        window; one stamped exactly at ``until`` belongs to the next window, never to two. The bounds are
        whole seconds (SOQL's times have none finer; a finer part is dropped from both). Each lead a
        changed record belongs to is read whole (the lead, its contact, opportunities, history, splits,
        campaign members, tasks and events), so its records are what a full load gives, and the union of
        the loads of consecutive windows is a full load. Records deleted in the window (``queryAll``,
        ``IsDeleted``) are listed in the report's :attr:`~smarketing.connectors.LoadReport.deleted` by
        record kind (a lead or a contact read as one, an account, an opportunity as a deal, a campaign
        member as a touchpoint, a task or an event as an activity), in their 18-character form, and the
        leads they belonged to are read whole; :func:`smarketing.connectors.apply_changes` applies the load
        to a dataset.

        Raises:
            LoadError: In strict mode, when a record is refused.
            SalesforceAPIError: Salesforce refused a request or could not be reached.
        """
        since, until = _second(since, "since"), _second(until, "until")
        if until <= since:
            raise ValueError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
        self._http.show(progress)
        windows = dict.fromkeys(READ, (since, until))
        read = self._changes(windows)
        return self._finish(read, strict=strict, progress=progress, window=(since, until))

    def sync(
        self,
        state: str | Path,
        *,
        until: datetime | None = None,
        overlap: timedelta = timedelta(minutes=10),
        strict: bool = True,
        progress: bool | None = None,
    ) -> Loaded:
        """Load what changed since each object's watermark in the ``state`` file, then move the watermarks.

        The state is a small JSON file the user keeps
        (``{"watermarks": {"Lead": "2026-10-01T09:00:00+00:00", ...}}``); without the file, everything is
        read, as :meth:`load` reads it, and an object without a watermark is read from the start. Each run
        reads from the watermark less ``overlap`` (a transaction that commits late keeps its earlier
        ``SystemModstamp``), so a record can come twice across runs. The records deleted since are in the
        report's :attr:`~smarketing.connectors.LoadReport.deleted`;
        :func:`smarketing.connectors.apply_changes` brings the dataset of the runs before up to date with
        the load (changed records replace theirs, each lead read again whole, deleted records removed).
        The file is written only after a successful load.

        Raises:
            DataError: The state file is not one this connector wrote.
            LoadError: In strict mode, when a record is refused.
            SalesforceAPIError: Salesforce refused a request or could not be reached.
        """
        path = Path(state)
        until = _second(until or datetime.now(UTC), "until")
        marks = read_watermarks(path, self.name)
        windows = {
            obj: (_EPOCH if obj not in marks else min(marks[obj] - overlap, until), until) for obj in READ
        }
        self._http.show(progress)
        # The first run reads everything as load() does (no window to read twice over).
        read = self._changes(windows) if marks else self._everything()
        window = (min(w for w, _ in windows.values()), until) if marks else None
        loaded = self._finish(read, strict=strict, progress=progress, window=window)
        write_watermarks(path, dict.fromkeys(READ, until))
        return loaded

    # -- reading -------------------------------------------------------------------------------------

    def _objects(self) -> list[str]:
        """The objects this org has, in reading order, each described once per connector."""
        if self._described is None:
            present = self._http.objects()
            self._described = {obj: self._http.describe(obj) for obj in READ if obj in present}
        return list(self._described)

    def _everything(self) -> _Read:
        """Every live record of every object the org has."""
        read = _Read()
        for obj in self._objects():
            read.tables[obj] = self._rows(read, obj, None, deleted=False)
        return read

    def _select(self, obj: str) -> list[str]:
        """The fields of ``obj`` read: those the mapping reads that the org's describe lists."""
        assert self._described is not None
        have = self._described[obj]
        if obj == "OpportunityFieldHistory":
            wanted = set(_FIELD_HISTORY_FIELDS)
        else:
            wanted = _read_columns(obj, self.fields)
        wanted |= {"Id", MODIFIED[obj], "IsDeleted"}
        return ["Id", *sorted(f for f in wanted if f in have and f != "Id")]

    def _rows(
        self, read: _Read, obj: str, where: str | None, *, deleted: bool, counted: bool = True
    ) -> pl.DataFrame:
        """The rows of ``obj`` a query with ``where`` finds, as text columns; one per id (the latest).

        ``counted``: the query's records are counted first, and read through Bulk 2.0 when they are
        ``bulk_threshold`` or more (a query by at most 200 ids is not: it goes through REST).
        """
        fields = self._select(obj)
        # Names checked by name(), conditions made of quote() and soql_time() literals only: no user text.
        soql = f"SELECT {', '.join(name(f) for f in fields)} FROM {name(obj)}"  # noqa: S608
        if where:
            soql += f" WHERE {where}"
        bulk = False
        if self.bulk_threshold is not None and counted:
            count = f"SELECT COUNT() FROM {name(obj)}" + (f" WHERE {where}" if where else "")  # noqa: S608
            bulk = self._http.count(count, deleted=deleted) >= self.bulk_threshold
        types = self._described[obj] if self._described else {}
        frames: list[pl.DataFrame] = []
        with self._http.bar(f"reading {obj}") as bar:
            if bulk:
                read.how[obj] = "Bulk 2.0"
                for page in self._http.bulk(
                    f"reading {obj}", obj, soql, deleted=deleted, page=self.bulk_page
                ):
                    frames.append(
                        page.select(
                            pl.col(f) if f in page.columns else pl.lit(None, pl.String).alias(f)
                            for f in fields
                        )
                    )
                    bar.update(page.height)
            else:
                read.how.setdefault(obj, "REST")
                for records in self._http.query(f"reading {obj}", soql, deleted=deleted):
                    frames.append(_frame(records, fields, types))
                    bar.update(len(records))
        return _latest(frames, fields, MODIFIED[obj])

    def _by_ids(self, read: _Read, obj: str, field: str, wanted: Iterable[str]) -> pl.DataFrame:
        """The live rows of ``obj`` whose ``field`` is in ``wanted`` (by id, or read whole and filtered)."""
        targets = sorted(wanted)
        fields = self._select(obj)
        if not targets:
            return pl.DataFrame(schema=dict.fromkeys(fields, pl.String))
        if len(targets) > self.in_limit:
            if obj not in read.whole:
                read.whole[obj] = self._rows(read, obj, None, deleted=False)
            frame = read.whole[obj]
            return frame.filter(case_safe(pl.col(field)).is_in(targets))
        parts = [
            self._rows(
                read,
                obj,
                f"{name(field)} IN ({', '.join(quote(i) for i in targets[at : at + 200])})",
                deleted=False,
                counted=False,
            )
            for at in range(0, len(targets), 200)
        ]
        return _latest(parts, fields, MODIFIED[obj])

    def _changes(self, windows: Mapping[str, tuple[datetime, datetime]]) -> _Read:
        """Each object's records changed in its window, and every record of the leads they belong to.

        The records deleted in the window (``IsDeleted``, which ``queryAll`` sees) are kept in
        ``read.deleted`` by object, and their leads are read whole as a changed record's are.
        """
        read = _Read()
        objects = self._objects()
        changed: dict[str, pl.DataFrame] = {}  # the rows changed or deleted in the window
        for obj in objects:
            if obj in _WHOLE:
                read.tables[obj] = self._rows(read, obj, None, deleted=False)
                continue
            since, until = windows[obj]
            stamp = name(MODIFIED[obj])
            where = f"{stamp} >= {soql_time(since)} AND {stamp} < {soql_time(until)}"
            rows = self._rows(read, obj, where, deleted=True)
            gone = (
                rows.filter(pl.col("IsDeleted").str.to_lowercase() == "true")
                if "IsDeleted" in rows.columns
                else rows.clear()
            )
            if gone.height:
                read.deleted[obj] = ids(gone.get_column("Id").to_list())
            changed[obj] = rows

        def refs(obj: str, *fields: str) -> set[str]:
            return _refs_of(changed.get(obj), *fields)

        # A deletion is a change of the lead the record belonged to: that lead is read whole too (a lead
        # deleted: the contact it was converted to is a lead of its own now, its opportunity has none).
        leads, contacts, opps = refs("Lead", "Id"), refs("Contact", "Id"), refs("Opportunity", "Id")
        contacts |= refs("Lead", "ConvertedContactId")
        opps |= refs("Lead", "ConvertedOpportunityId")
        leads |= refs("LeadHistory", "LeadId") | refs("CampaignMember", "LeadId")
        contacts |= refs("CampaignMember", "ContactId")
        opps |= refs("OpportunityHistory", "OpportunityId") | refs("OpportunityFieldHistory", "OpportunityId")
        opps |= refs("OpportunitySplit", "OpportunityId")
        for who in refs("Task", "WhoId") | refs("Event", "WhoId"):
            (leads if who.startswith("00Q") else contacts).add(who)
        # The leads converted into those contacts and opportunities, until no new one turns up.
        lead_rows: list[pl.DataFrame] = []
        asked: dict[str, set[str]] = {
            "Id": set(),
            "ConvertedContactId": set(),
            "ConvertedOpportunityId": set(),
        }
        while True:
            asking = {
                "Id": leads - asked["Id"],
                "ConvertedContactId": contacts - asked["ConvertedContactId"],
                "ConvertedOpportunityId": opps - asked["ConvertedOpportunityId"],
            }
            if not any(asking.values()) or "Lead" not in objects:
                break
            for field, wanted in asking.items():
                asked[field] |= wanted
                if wanted:
                    lead_rows.append(self._by_ids(read, "Lead", field, wanted))
            found = _latest(lead_rows, self._select("Lead"), MODIFIED["Lead"])
            leads |= ids(found.get_column("Id").to_list())
            for field, into in (("ConvertedContactId", contacts), ("ConvertedOpportunityId", opps)):
                if field in found.columns:
                    into.update(ids(found.get_column(field).to_list()))
        fields = {obj: self._select(obj) for obj in objects}
        if "Lead" in objects:
            read.tables["Lead"] = _latest(lead_rows, fields["Lead"], MODIFIED["Lead"])
            converted = _refs_of(read.tables["Lead"], "ConvertedContactId")
            if "Contact" in read.deleted:  # a converted contact is its lead, read whole here: not a record
                read.deleted["Contact"] -= converted
        family = {
            "Contact": [("Id", contacts)],
            "Opportunity": [("Id", opps)],
            "LeadHistory": [("LeadId", leads)],
            "OpportunityHistory": [("OpportunityId", opps)],
            "OpportunityFieldHistory": [("OpportunityId", opps)],
            "OpportunitySplit": [("OpportunityId", opps)],
            "CampaignMember": [("LeadId", leads), ("ContactId", contacts)],
            "Task": [("WhoId", leads | contacts)],
            "Event": [("WhoId", leads | contacts)],
        }
        for obj, asks in family.items():
            if obj in objects:
                parts = [self._by_ids(read, obj, field, wanted) for field, wanted in asks]
                read.tables[obj] = _latest(parts, fields[obj], MODIFIED[obj])
        if "Account" in objects:
            accounts = refs("Account", "Id")
            for obj, field in (
                ("Lead", "ConvertedAccountId"),
                ("Contact", "AccountId"),
                ("Opportunity", "AccountId"),
            ):
                table = read.tables.get(obj)
                if table is not None and field in table.columns:
                    accounts |= ids(table.get_column(field).to_list())
            read.tables["Account"] = self._by_ids(read, "Account", "Id", accounts)
        return read

    # -- mapping -------------------------------------------------------------------------------------

    def _finish(
        self, read: _Read, *, strict: bool, progress: bool | None, window: tuple[datetime, datetime] | None
    ) -> Loaded:
        """The rows mapped by the export's code, the report named by object, with this load's provenance."""
        tables: dict[str, pl.DataFrame] = {}
        for obj in READ:
            if obj in read.tables and obj in OBJECTS:
                frame = read.tables[obj]
                keep = [
                    c for c in frame.columns if c != MODIFIED[obj] or c in _read_columns(obj, self.fields)
                ]
                tables[obj] = (
                    frame.select(keep)
                    .with_row_index(_read.LINE, offset=1)
                    .with_columns(pl.col(_read.LINE).cast(pl.Int64))
                )
        where = self.instance_url or "the org of the credentials"
        objects = TableObjects(tables, where)
        data, report = load_objects(self, objects, strict=strict, progress=progress, raise_refusals=False)
        report = _named_by_object(report, self._notes(read, window))
        deleted: dict[str, set[str]] = {}
        for obj, gone in read.deleted.items():
            if obj in _KIND_OF:
                deleted.setdefault(_KIND_OF[obj], set()).update(gone)
        if deleted:
            report = attrs.evolve(report, deleted=deleted)
        if strict:
            report.raise_for_refusals()
        return Loaded(data, report)

    def _notes(self, read: _Read, window: tuple[datetime, datetime] | None) -> list[str]:
        """What the provenance says of this load: how each object was read, its history, deletions."""
        notes = []
        if window is not None:
            notes.append(
                f"records changed in [{window[0].isoformat()}, {window[1].isoformat()}) by SystemModstamp "
                "(history rows by CreatedDate), with every record of the leads they belong to"
            )
        how = {h: sorted(o for o, v in read.how.items() if v == h) for h in ("REST", "Bulk 2.0")}
        notes.append("read through " + "; ".join(f"{h}: {', '.join(o)}" for h, o in how.items() if o))
        missing = [o for o in READ if self._described is not None and o not in self._described]
        if missing:
            notes.append(f"not in this org (or not readable by the user): {', '.join(missing)}")
        created = _times(read.tables.get("Lead"), "CreatedDate")
        for obj in (*_HISTORY, "OpportunityFieldHistory"):
            frame = read.tables.get(obj)
            if frame is None:
                continue
            times = _times(frame, "CreatedDate")
            if times is None:
                notes.append(f"{obj}: no rows (is field history tracking on for it?)")
                continue
            what = "stage history (native)" if obj in _HISTORY else "field history, for the provenance only"
            notes.append(
                f"{obj}: {frame.height} row(s) of {what}, from {times[0]:%Y-%m-%d %H:%M} to "
                f"{times[1]:%Y-%m-%d %H:%M} UTC"
            )
            if obj == "LeadHistory" and created is not None and times[0] - created[0] > timedelta(days=1):
                notes.append(
                    f"warning: LeadHistory starts at {times[0]:%Y-%m-%d}, later than the leads (the first "
                    f"created {created[0]:%Y-%m-%d}): Salesforce keeps field history for 18 months (24 "
                    "through the API) unless Field Audit Trail is on; older stage moves are lost and the "
                    "first stage of such leads is rebuilt from CreatedDate"
                )
        gone = [f"{obj} {len(ids)}" for obj, ids in sorted(read.deleted.items()) if ids]
        if gone:
            notes.append(
                f"deleted in the window (queryAll, IsDeleted): {', '.join(gone)}; the report's deleted lists "
                "the records' ids by kind (apply_changes removes them), and the leads they belonged to are "
                "read whole"
            )
        return notes


def _refs_of(frame: pl.DataFrame | None, *fields: str) -> set[str]:
    """The ids (18 characters) in the ``fields`` of ``frame``."""
    out: set[str] = set()
    for field in fields:
        if frame is not None and field in frame.columns:
            out |= ids(frame.get_column(field).to_list())
    return out


def _second(when: datetime, label: str) -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise DataError(
            f"{label}: give a timezone-aware datetime (such as datetime(2026, 10, 1, tzinfo=UTC))"
        )
    return when.astimezone(UTC).replace(microsecond=0)


def _text(value: object) -> str | None:
    """A JSON value as the export writes it: text as is, booleans ``true`` / ``false``, numbers as written."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _frame(
    records: Sequence[Mapping[str, Any]], fields: Sequence[str], types: Mapping[str, str]
) -> pl.DataFrame:
    """REST records as text columns; a time written ``+0000`` as the export writes it (``Z``)."""
    columns = {f: [_text(r.get(f)) for r in records] for f in fields}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(fields, pl.String))
    times = [f for f in fields if types.get(f) == "datetime"]
    return frame.with_columns(pl.col(f).str.replace(r"\+0000$", "Z") for f in times)


def _latest(frames: Sequence[pl.DataFrame], fields: Sequence[str], stamp: str) -> pl.DataFrame:
    """The rows of ``frames`` one per id (its 18-character form), the latest by ``stamp``; by id."""
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(fields, pl.String))
    frame = pl.concat([f.select(fields) for f in frames], how="vertical_relaxed")
    key = case_safe(pl.col("Id")).fill_null(pl.col("Id"))
    ordered = (
        frame.with_columns(key.alias("_id")).sort("_id", stamp, nulls_last=False)
        if stamp in fields
        else frame.with_columns(key.alias("_id")).sort("_id")
    )
    return ordered.unique("_id", keep="last", maintain_order=True).drop("_id")


def _times(frame: pl.DataFrame | None, field: str) -> tuple[datetime, datetime] | None:
    if frame is None or field not in frame.columns or not frame.height:
        return None
    parsed = frame.select(
        pl.col(field).str.replace(r"Z$", "+00:00").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False)
    )
    low, high = parsed.to_series().min(), parsed.to_series().max()
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        return None
    return low, high


def _named_by_object(report: LoadReport, notes: Sequence[str]) -> LoadReport:
    """The export's report of API rows: sources named by object (``Lead``, not ``Lead.csv``), rows."""

    def rename(text: str) -> str:
        return _SOURCE.sub(r"\1", text)

    refusals = [
        attrs.evolve(r, source=rename(r.source), line=None, row=r.line if r.line is not None else r.row)
        for r in report.refusals
    ]
    provenance = report.provenance
    if provenance is not None:
        provenance = attrs.evolve(provenance, notes=[*(rename(n) for n in provenance.notes), *notes])
    return attrs.evolve(
        report,
        refusals=refusals,
        unused_columns={rename(k): v for k, v in report.unused_columns.items()},
        defaults=[attrs.evolve(d, why=rename(d.why)) for d in report.defaults],
        provenance=provenance,
    )


#: The record kind the deleted records of each object were (the ids ``LoadReport.deleted`` lists).
_KIND_OF: Final = {
    "Lead": "leads",
    "Contact": "leads",
    "Account": "accounts",
    "Opportunity": "deals",
    "CampaignMember": "touchpoints",
    "Task": "activities",
    "Event": "activities",
}
