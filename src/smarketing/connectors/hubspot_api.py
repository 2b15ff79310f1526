"""The ``hubspot`` connector: a HubSpot account read live through its API, into a Dataset.

:class:`HubSpot` reads contacts, companies, deals, calls, e-mails, meetings and owners, the contacts'
lifecycle stage history and the associations between them (contact -> company, deal -> contact and
company, activity -> contact) with HubSpot's official Python client (``pip install 'smarketing[hubspot]'``),
maps them as the ``hubspot-export`` connector does (the same lifecycle stage, deal stage and owner tables:
:mod:`smarketing.connectors.hubspot`) and ends in :func:`smarketing.connectors.intake`, so every record is
kept or refused with its object, id and reason.

What it reads, by object:

=============  ===========================================================================================
object         properties read -> canonical column
=============  ===========================================================================================
contacts       ``createdate`` -> created_at, ``hubspot_owner_id`` -> owner, ``hs_analytics_source`` ->
               source, ``hs_analytics_first_touch_converting_campaign`` -> campaign, ``jobtitle`` -> title,
               ``hs_seniority``, ``hs_persona`` -> persona, ``hs_lead_status`` -> status, ``industry``,
               ``numberofemployees`` -> company_size, ``country``; the company association -> account_id;
               ``lifecyclestage`` with its history, and the ``hs_v2_date_entered_{stage id}`` properties
               built from the lifecycle pipeline's stages -> stage events
companies      ``name``, ``industry``, ``numberofemployees``, ``country``
deals          ``dealstage`` (by the deal pipelines' stages), ``amount``, ``deal_currency_code``,
               ``createdate``, ``closedate``, ``hubspot_owner_id``; contact and company associations
calls, ...     ``hs_timestamp`` -> time, ``hubspot_owner_id`` -> person, ``hs_call_disposition`` /
               ``hs_meeting_outcome`` -> outcome (e-mails have none); the contact association -> lead_id
owners         id, first and last name, e-mail -> person ids
=============  ===========================================================================================

Examples:
    >>> HubSpot(host="http://127.0.0.1:8080").name
    'hubspot'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing.connectors._hubspot_http import SEARCH_CAP, HubSpotAPIError, HubSpotHTTP
from smarketing.connectors.hubspot import (
    DEAL_STAGES,
    SOURCES,
    _check_deal_stage_map,
    _outcome,
    _people_table,
    _persona_table,
    _stage_table,
    person_slug,
    stage_key,
    value_slug,
)
from smarketing.connectors.intake import RawFrame, intake
from smarketing.connectors.report import AppliedMapping, Default, Loaded, Provenance, Refusal, StageHistory
from smarketing.errors import DataError

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["HubSpot", "HubSpotAPIError", "MODIFIED"]

#: The property that holds each object's last modification time (what incremental loads search by).
MODIFIED: Final = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "calls": "hs_lastmodifieddate",
    "emails": "hs_lastmodifieddate",
    "meetings": "hs_lastmodifieddate",
}

_CONTACT: Final = {
    "created_at": "createdate",
    "owner": "hubspot_owner_id",
    "source": "hs_analytics_source",
    "campaign": "hs_analytics_first_touch_converting_campaign",
    "persona": "hs_persona",
    "title": "jobtitle",
    "seniority": "hs_seniority",
    "industry": "industry",
    "company_size": "numberofemployees",
    "country": "country",
    "status": "hs_lead_status",
}
_COMPANY: Final = {
    "name": "name",
    "industry": "industry",
    "company_size": "numberofemployees",
    "country": "country",
}
_DEAL: Final = {
    "stage": "dealstage",
    "amount": "amount",
    "amount_currency": "deal_currency_code",
    "created_at": "createdate",
    "close_date": "closedate",
    "owner": "hubspot_owner_id",
}
#: Activity objects: their activity type and the property holding the outcome (e-mails have none).
_ACTIVITIES: Final = {
    "calls": ("call", "hs_call_disposition"),
    "emails": ("email", None),
    "meetings": ("meeting", "hs_meeting_outcome"),
}
_ACTIVITY: Final = {"time": "hs_timestamp", "person": "hubspot_owner_id"}
_LIFECYCLE = "lifecyclestage"
_DATE_ENTERED = "hs_v2_date_entered_"


@attrs.define
class _Load:
    """What one load gathers from the API before intake."""

    records: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    links: dict[str, dict[str, list[str]]] = attrs.Factory(dict)  # "deals->contacts" -> id -> ids
    mappings: list[AppliedMapping] = attrs.Factory(list)
    defaults: list[Default] = attrs.Factory(list)
    refusals: list[Refusal] = attrs.Factory(list)
    native: int = 0  # contacts whose stage history is HubSpot's own
    rebuilt: int = 0  # contacts whose stage history is rebuilt from the date-entered properties
    stages: dict[tuple[str, str], int] = attrs.Factory(dict)  # (HubSpot stage, journey stage) -> events


class HubSpot:
    """Read a HubSpot account through its API: contacts, companies, deals, owners and stage history.

    The token of a private app (scopes ``crm.objects.contacts.read``, ``crm.objects.companies.read``,
    ``crm.objects.deals.read``, ``crm.objects.owners.read``, and ``sales-email-read`` for e-mails) is read
    from the environment variable ``token_env`` or else from the keyring, when the first request is made;
    it is never logged and is redacted from every error.

    The mapping is the ``hubspot-export`` connector's (:class:`~smarketing.connectors.HubSpotExport`):

    - **lifecycle stages**: ``stage_map`` first, then the plan's stage ids and names, then HubSpot's
      standard stages. The stage history is HubSpot's own (``propertiesWithHistory`` of
      ``lifecyclestage``: one event per change, ``from`` the stage before); a contact without one has it
      rebuilt from the ``hs_v2_date_entered_{stage id}`` properties (named from the lifecycle pipeline's
      stages: the properties API does not list them), ordered by time, ties by the pipeline's order.
    - **deal stages**: ``deal_stage_map`` (stage id or label) first, then ``closedwon`` / ``closedlost``,
      then the pipeline stage's own metadata (closed with probability 1 -> ``won``, closed otherwise ->
      ``lost``), else ``open``.
    - **owners**: ``owners`` (by owner id, e-mail or name) first, then the plan's people by name or id,
      else the name slugged; an owner id HubSpot does not list stays its id.
    - **associations**: a contact's account is its first associated company (by id), a deal's lead and
      account its first associated contact and company, an activity's lead its first contact; several are
      counted in the report's defaults.
    - **outcomes**: ``outcomes`` first, else slugged as the export's are (``NO_SHOW`` -> ``no_show``,
      ``COMPLETED`` -> ``held``); a call disposition is HubSpot's id of the outcome unless mapped.
    - **amounts** are read as HubSpot writes them (text) into exact decimals, never floats.

    Args:
        host: The API's address (HubSpot's by default; a local fake server in the tests).
        token_env: The environment variable with the private app's token.
        keyring_service: The keyring service holding the token (user ``access_token``) when the variable is
            not set (``None``: no keyring).
        plan: The alignment plan whose stages, people and personas are matched.
        stage_map: HubSpot lifecycle stage (internal value or label) -> journey stage id.
        deal_stage_map: HubSpot deal stage (id or label) -> ``open``, ``won`` or ``lost``.
        owners: Owner (HubSpot owner id, e-mail or name) -> person id.
        outcomes: Call or meeting outcome as HubSpot stores it (a call disposition's id, a meeting
            outcome such as ``NO_SHOW``) -> canonical outcome; others are slugged (``NO_SHOW`` ->
            ``no_show``, ``COMPLETED`` -> ``held``).
        currency: The ISO 4217 currency of deals without ``deal_currency_code``.
        timeout: Seconds before one request is given up.
        retries: How many times a 429 or 5xx answer is retried (``Retry-After`` respected).
        backoff: Backoff factor between retries without ``Retry-After`` (seconds, doubling).
        search_interval: Least seconds between two search requests (HubSpot allows 5 a second).
        url_limit: Longest properties query of one list request, against HTTP 414.
        search_cap: The most results HubSpot's search gives for one query (10,000); a time window with
            more is split in two.
    """

    name = "hubspot"

    def __init__(
        self,
        *,
        host: str = "https://api.hubapi.com",
        token_env: str = "HUBSPOT_ACCESS_TOKEN",  # noqa: S107  # a variable's name, not a token
        keyring_service: str | None = "smarketing-hubspot",
        plan: AlignmentPlan | None = None,
        stage_map: Mapping[str, str] | None = None,
        deal_stage_map: Mapping[str, str] | None = None,
        owners: Mapping[str, str] | None = None,
        outcomes: Mapping[str, str] | None = None,
        currency: str | None = None,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 1.0,
        search_interval: float = 0.25,
        url_limit: int = 2000,
        search_cap: int = SEARCH_CAP,
    ) -> None:
        if not host.startswith(("http://", "https://")):
            raise ValueError(f"host: {host!r} is not an http(s) address")
        _check_deal_stage_map(deal_stage_map)
        self.host = host
        self.plan = plan
        self.currency = currency
        self._http = HubSpotHTTP(
            host=host,
            token_env=token_env,
            keyring_service=keyring_service,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            search_interval=search_interval,
            url_limit=url_limit,
            search_cap=search_cap,
        )
        self._stages = _stage_table(plan, stage_map)
        self._deal_stages = {stage_key(k): v for k, v in (deal_stage_map or {}).items()}
        self._people = _people_table(plan, owners)
        self._owner_ids = dict(owners or {})
        self._personas = _persona_table(plan)
        self._outcomes = dict(outcomes or {})
        self._lifecycle_stages: list[tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"HubSpot(host={self.host!r})"

    @property
    def requests(self) -> int:
        """How many HTTP requests this connector has made (retries not counted)."""
        return self._http.requests

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read every live contact, company, deal, call, e-mail and meeting, with their history and links.

        Raises:
            LoadError: In strict mode, when a record is refused.
            HubSpotAPIError: HubSpot refused a request (the token, a limit) or could not be reached.
        """
        self._http.show(progress)
        load = _Load()
        for kind in MODIFIED:
            load.records[kind] = self._http.pages(kind, _properties(self, kind), _history(kind))
        self._link(load)
        return self._finish(load, strict=strict, progress=progress, window=None)

    def load_changes(
        self, *, since: datetime, until: datetime, strict: bool = True, progress: bool | None = None
    ) -> Loaded:
        """Read the records modified in ``[since, until)``, and the records they refer to.

        A record modified exactly at ``until`` belongs to the next window, never to two. The contacts and
        companies the changed deals, activities and contacts refer to are read too (unchanged, so a union
        of loads by id is the same), so every load's references resolve.

        Raises:
            LoadError: In strict mode, when a record is refused.
            HubSpotAPIError: HubSpot refused a request or could not be reached.
        """
        low, high = _millis(since, "since"), _millis(until, "until")
        if high <= low:
            raise ValueError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
        self._http.show(progress)
        changed = {k: sorted(self._http.search_changed(k, MODIFIED[k], low, high)) for k in MODIFIED}
        load = _Load()
        for kind in ("deals", *_ACTIVITIES):
            load.records[kind] = self._http.read(kind, changed[kind], _properties(self, kind), [])
        wanted = changed["contacts"]
        for kind in ("deals", *_ACTIVITIES):
            wanted = self._linked(load, kind, "contacts", wanted)
        load.records["contacts"] = self._http.read(
            "contacts", wanted, _properties(self, "contacts"), _history("contacts")
        )
        wanted = self._linked(load, "contacts", "companies", changed["companies"])
        wanted = sorted({*wanted, *self._linked(load, "deals", "companies", [])})
        load.records["companies"] = self._http.read("companies", wanted, _properties(self, "companies"), [])
        return self._finish(load, strict=strict, progress=progress, window=(since, until))

    def sync(
        self,
        state: str | Path,
        *,
        until: datetime | None = None,
        overlap: timedelta = timedelta(minutes=10),
        strict: bool = True,
        progress: bool | None = None,
    ) -> Loaded:
        """Load what changed since the watermark kept in the ``state`` file, then move the watermark.

        The state is a small JSON file the user keeps (``{"watermark": "2026-10-01T09:00:00+00:00"}``);
        without one, everything up to ``until`` is read. Each run reads from the watermark less
        ``overlap`` (records HubSpot's search indexes late are not missed), so a record can come twice
        across runs: merge the loads by id, the latest winning
        (:func:`smarketing.testing.contract.union_of_changes`). The file is written only after a successful
        load.
        """
        path = Path(state)
        until = until or datetime.now(UTC)
        watermark = _watermark(path)
        since = datetime(1970, 1, 1, tzinfo=UTC) if watermark is None else watermark - overlap
        loaded = self.load_changes(since=since, until=until, strict=strict, progress=progress)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({"watermark": until.isoformat()}, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        return loaded

    def _linked(self, load: _Load, source: str, target: str, extra: Sequence[str]) -> list[str]:
        """The ids of ``target`` the records of ``source`` are associated with, and ``extra``."""
        ids = [str(r["id"]) for r in load.records[source]]
        links = self._http.associations(source, target, ids)
        load.links[f"{source}->{target}"] = links
        return sorted({*extra, *(t for targets in links.values() for t in targets)})

    def _link(self, load: _Load) -> None:
        pairs = [("contacts", "companies"), ("deals", "contacts"), ("deals", "companies")]
        for source, target in [*pairs, *((kind, "contacts") for kind in _ACTIVITIES)]:
            ids = [str(r["id"]) for r in load.records[source]]
            load.links[f"{source}->{target}"] = self._http.associations(source, target, ids)

    def _finish(
        self, load: _Load, *, strict: bool, progress: bool | None, window: tuple[datetime, datetime] | None
    ) -> Loaded:
        """The gathered records as raw tables through the intake, with this load's refusals and provenance."""
        owners = self._owner_table(load)
        raw = {
            "accounts": _accounts(load),
            "leads": _leads(self, load, owners),
            "stage_events": _stage_events(self, load),
            "deals": _deals(self, load, owners),
            "activities": _activities(self, load, owners),
        }
        history: StageHistory = (
            "mixed" if load.native and load.rebuilt else "native" if load.native else "reconstructed"
        )
        if not load.native and not load.rebuilt:
            history = "none"
        notes = [
            f"lifecycle stage history: {load.native} contact(s) from HubSpot's property history "
            f"(propertiesWithHistory), {load.rebuilt} rebuilt from the hs_v2_date_entered_* properties "
            "(one date per stage: a stage entered again is seen once)",
            "deal stage history is not read (the canonical records keep a deal's current stage)",
        ]
        if window is not None:
            notes.append(f"records modified in [{window[0].isoformat()}, {window[1].isoformat()})")
        data, report = intake(
            {k: v for k, v in raw.items() if v is not None},
            connector=self.name,
            strict=False,
            currency=self.currency,
            mappings=load.mappings,
            defaults=load.defaults,
            provenance=Provenance(self.name, self.host, history, notes),
            progress=progress,
        )
        if load.refusals:
            read = dict(report.rows_read)
            for r in load.refusals:
                read[r.kind] = read.get(r.kind, 0) + 1
            report = attrs.evolve(report, rows_read=read, refusals=[*report.refusals, *load.refusals])
        if strict:
            report.raise_for_refusals()
        return Loaded(data, report)

    def _owner_table(self, load: _Load) -> dict[str, str]:
        """HubSpot owner id -> person id: ``owners`` by id or e-mail, the plan's people by name, a slug."""
        table: dict[str, str] = {}
        for owner in sorted(self._http.owners(), key=lambda o: str(o["id"])):
            ident = str(owner["id"])
            name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
            email = str(owner.get("email") or "")
            person = (
                self._owner_ids.get(ident)
                or self._owner_ids.get(email)
                or self._people.get(stage_key(name))
                or self._people.get(stage_key(email))
                or person_slug(name or email.split("@", maxsplit=1)[0] or ident)
            )
            table[ident] = person
        return table

    def _lifecycle(self) -> list[tuple[str, str]]:
        """The lifecycle pipeline's stages (id, label) in its order, read once per connector."""
        if self._lifecycle_stages is None:
            stages: list[tuple[int, str, str]] = []
            for pipeline in self._http.pipelines("contacts"):
                stages += [
                    (int(s.get("displayOrder", 0)), str(s["id"]), str(s.get("label") or s["id"]))
                    for s in pipeline.get("stages", [])
                ]
            self._lifecycle_stages = [(i, label) for _, i, label in sorted(stages)]
            for ident, label in self._lifecycle_stages:  # a custom stage's id by its label
                if stage_key(ident) not in self._stages and stage_key(label) in self._stages:
                    self._stages[stage_key(ident)] = self._stages[stage_key(label)]
        return self._lifecycle_stages

    def _deal_stage_table(self) -> dict[str, str]:
        """Deal stage id -> open, won or lost: ``deal_stage_map``, HubSpot's closed stages, the metadata."""
        table: dict[str, str] = {}
        for pipeline in self._http.pipelines("deals"):
            for stage in pipeline.get("stages", []):
                ident, label = str(stage["id"]), str(stage.get("label") or stage["id"])
                meta = stage.get("metadata") or {}
                closed = str(meta.get("isClosed", "false")).lower() == "true"
                won = closed and str(meta.get("probability", "")) in ("1", "1.0")
                table[ident] = (
                    self._deal_stages.get(stage_key(ident))
                    or self._deal_stages.get(stage_key(label))
                    or DEAL_STAGES.get(stage_key(ident))
                    or ("won" if won else "lost" if closed else "open")
                )
        return table


def _properties(connector: HubSpot, kind: str) -> list[str]:
    """The properties read of ``kind``: the mapped ones, its modification time, the date-entered ones."""
    if kind in _ACTIVITIES:
        outcome = _ACTIVITIES[kind][1]
        return [*_ACTIVITY.values(), *([outcome] if outcome else []), MODIFIED[kind]]
    names = {"contacts": _CONTACT, "companies": _COMPANY, "deals": _DEAL}[kind]
    out = [*names.values(), MODIFIED[kind]]
    if kind == "contacts":
        out.append(_LIFECYCLE)
        out += [f"{_DATE_ENTERED}{stage}" for stage, _ in connector._lifecycle()]
    return list(dict.fromkeys(out))


def _history(kind: str) -> list[str]:
    return [_LIFECYCLE] if kind == "contacts" else []


def _millis(when: datetime, name: str) -> int:
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise DataError(f"{name}: give a timezone-aware datetime (such as datetime(2026, 10, 1, tzinfo=UTC))")
    return int(when.timestamp() * 1000)


def _watermark(path: Path) -> datetime | None:
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["watermark"]
        when = datetime.fromisoformat(str(value))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a hubspot state file ({exc})") from None
    if when.tzinfo is None:
        raise DataError(f"{path}: the watermark {value!r} has no offset")
    return when


# --------------------------------------------------------------------------------------------------
# Records -> raw canonical tables (text; the intake parses and validates them).


def _first(load: _Load, link: str, ident: str, counts: dict[str, int]) -> str | None:
    """The first associated id (by HubSpot id order) of ``ident`` under ``link``; several are counted."""
    targets = sorted(set(load.links.get(link, {}).get(ident, [])), key=lambda t: (len(t), t))
    if len(targets) > 1:
        counts[link] = counts.get(link, 0) + 1
    return targets[0] if targets else None


def _several(load: _Load, kind: str, column: str, link: str, counts: Mapping[str, int]) -> None:
    if counts.get(link):
        why = f"the record is associated with several ({link}); the first by id is kept"
        load.defaults.append(Default(kind, column, "the first associated id", counts[link], why))


def _mapped(
    load: _Load, frame: pl.DataFrame, column: str, header: str, table: Mapping[str, str], *, slug: Any = None
) -> pl.DataFrame:
    """Values of ``column`` mapped by ``table`` (keys by stage_key), else slugged or kept; each map listed."""
    counts = frame.get_column(column).drop_nulls().value_counts(sort=False)
    mapping: dict[str, str] = {}
    for value, rows in sorted(counts.iter_rows()):
        target = table.get(stage_key(value)) or (slug(value) if slug is not None else value)
        mapping[value] = target
        if target != value:
            load.mappings.append(AppliedMapping(header, value, target, rows))
    return frame.with_columns(pl.col(column).replace(mapping))


def _frame(rows: list[dict[str, str | None]], columns: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


def _accounts(load: _Load) -> RawFrame:
    rows = [
        {"id": str(r["id"]), **{c: _text(r, p) for c, p in _COMPANY.items()}}
        for r in load.records["companies"]
    ]
    frame = _frame(rows, ["id", *_COMPANY]).with_columns(pl.col("name").fill_null(""))
    return RawFrame(frame, "companies", headers=dict(_COMPANY))


def _leads(connector: HubSpot, load: _Load, owners: Mapping[str, str]) -> RawFrame:
    counts: dict[str, int] = {}
    rows = [
        {
            "id": str(r["id"]),
            "account_id": _first(load, "contacts->companies", str(r["id"]), counts),
            **{c: _text(r, p) for c, p in _CONTACT.items()},
        }
        for r in load.records["contacts"]
    ]
    _several(load, "leads", "account_id", "contacts->companies", counts)
    frame = _frame(rows, ["id", "account_id", *_CONTACT])
    frame = _mapped(load, frame, "source", _CONTACT["source"], SOURCES)
    frame = _mapped(load, frame, "persona", _CONTACT["persona"], connector._personas, slug=value_slug)
    frame = _mapped(load, frame, "owner", _CONTACT["owner"], owners)
    return RawFrame(frame, "contacts", headers={**_CONTACT, "account_id": "associations: companies"})


def _deals(connector: HubSpot, load: _Load, owners: Mapping[str, str]) -> RawFrame:
    counts: dict[str, int] = {}
    rows = []
    for record in load.records["deals"]:
        ident = str(record["id"])
        row = {c: _text(record, p) for c, p in _DEAL.items()}
        row["close_date"] = (row["close_date"] or "")[:10] or None  # a day, as HubSpot's UI shows it
        row["id"] = ident
        row["lead_id"] = _first(load, "deals->contacts", ident, counts)
        row["account_id"] = _first(load, "deals->companies", ident, counts)
        rows.append(row)
    _several(load, "deals", "lead_id", "deals->contacts", counts)
    _several(load, "deals", "account_id", "deals->companies", counts)
    frame = _frame(rows, ["id", "lead_id", "account_id", *_DEAL])
    frame = _mapped(
        load, frame, "stage", _DEAL["stage"], connector._deal_stage_table(), slug=lambda _: "open"
    )
    frame = _mapped(load, frame, "owner", _DEAL["owner"], owners)
    headers = {**_DEAL, "lead_id": "associations: contacts", "account_id": "associations: companies"}
    return RawFrame(frame, "deals", headers=headers)


def _activities(connector: HubSpot, load: _Load, owners: Mapping[str, str]) -> RawFrame | None:
    """Calls, e-mails and meetings -> activities: their time, owner, outcome and first contact."""
    counts: dict[str, int] = {}
    rows: list[dict[str, str | None]] = []
    for kind, (kind_type, outcome) in _ACTIVITIES.items():
        for record in load.records.get(kind, []):
            ident = str(record["id"])
            rows.append(
                {
                    "id": ident,
                    "lead_id": _first(load, f"{kind}->contacts", ident, counts),
                    "person": _text(record, _ACTIVITY["person"]),
                    "time": _text(record, _ACTIVITY["time"]),
                    "type": kind_type,
                    "outcome": _text(record, outcome) if outcome else None,
                }
            )
        _several(load, "activities", "lead_id", f"{kind}->contacts", counts)
    if not rows:
        return None
    frame = _frame(rows, ["id", "lead_id", "person", "time", "type", "outcome"])
    frame = _mapped(load, frame, "person", _ACTIVITY["person"], owners)
    outcomes = {stage_key(k): v for k, v in connector._outcomes.items()}
    frame = _mapped(
        load, frame, "outcome", "hs_call_disposition / hs_meeting_outcome", outcomes, slug=_outcome
    )
    headers = {**_ACTIVITY, "lead_id": "associations: contacts"}
    return RawFrame(frame, "calls, emails, meetings", headers=headers)


def _text(record: Mapping[str, Any], prop: str) -> str | None:
    value = (record.get("properties") or {}).get(prop)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _stage_events(connector: HubSpot, load: _Load) -> RawFrame | None:
    """Each contact's lifecycle stage history: HubSpot's own, else rebuilt from the date-entered properties.

    HubSpot's history (newest first in the answer) is read oldest first; an entry that repeats the stage
    before it, or clears the stage, is not a move. A stage no map knows refuses the contact's history.
    """
    order = {ident: rank for rank, (ident, _) in enumerate(connector._lifecycle())}
    rows: list[dict[str, str | None]] = []
    for record in load.records["contacts"]:
        ident = str(record["id"])
        entries = (record.get("propertiesWithHistory") or {}).get(_LIFECYCLE) or []
        steps = [(str(e["timestamp"]), str(e.get("value") or "")) for e in entries]
        if steps:
            load.native += 1
            steps.sort(key=lambda s: _instant(s[0]))
        else:
            steps = [
                (t, stage) for stage in order if (t := _text(record, f"{_DATE_ENTERED}{stage}")) is not None
            ]
            steps.sort(key=lambda s: (_instant(s[0]), order[s[1]]))
            load.rebuilt += bool(steps)
        rows += _moves(connector, load, ident, steps)
    if not load.native and not load.rebuilt:
        return None
    for (value, stage), count in sorted(load.stages.items()):
        if value != stage:
            load.mappings.append(AppliedMapping(_LIFECYCLE, value, stage, count))
    frame = _frame(rows, ["lead_id", "from", "to", "time"])
    return RawFrame(frame, "contacts", headers={"to": _LIFECYCLE, "time": f"{_LIFECYCLE} history"})


def _moves(
    connector: HubSpot, load: _Load, ident: str, steps: Sequence[tuple[str, str]]
) -> list[dict[str, str | None]]:
    """One contact's (time, stage) steps -> stage events; unmapped stages refused, repeats dropped."""
    out: list[dict[str, str | None]] = []
    before: str | None = None
    for when, value in steps:
        if not value:
            continue
        stage = connector._stages.get(stage_key(value))
        if stage is None:
            reason = f"{value!r} is not a lifecycle stage mapped to a journey stage; pass stage_map="
            load.refusals.append(Refusal("stage_events", "contacts", None, ident, _LIFECYCLE, reason))
            return []
        if stage == before:
            continue
        load.stages[value, stage] = load.stages.get((value, stage), 0) + 1
        out.append({"lead_id": ident, "from": before, "to": stage, "time": when})
        before = stage
    return out


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # left for the intake to refuse, last
