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
deals          ``dealstage`` (by the deal pipelines' stages) with its history and the
               ``hs_v2_date_entered_{stage id}`` properties, ``amount``, ``deal_currency_code``,
               ``createdate``, ``closedate``, ``hubspot_owner_id``; contact and company associations
calls, ...     ``hs_timestamp`` -> time, ``hubspot_owner_id`` -> person, ``hs_call_disposition`` /
               ``hs_meeting_outcome`` -> outcome (e-mails have none); the contact association -> lead_id
owners         id, first and last name, e-mail -> person ids
touchpoints    the original source (``createdate``) and the latest source (``hs_latest_source*``) of each
               contact, and each form submission (by the submitted ``email``), with the campaign names
               of the campaigns API
=============  ===========================================================================================

An incremental load (:meth:`HubSpot.load_changes`, :meth:`HubSpot.sync`) also lists the records deleted
in its window (archived, or contacts merged into another) in ``report.deleted``;
:func:`smarketing.connectors.apply_changes` applies it to a dataset.

Examples:
    >>> HubSpot(host="http://127.0.0.1:8080").name
    'hubspot'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from smarketing.connectors._hubspot_http import SEARCH_CAP, HubSpotAPIError, HubSpotHTTP
from smarketing.connectors._state import read_watermarks, write_watermarks
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

__all__ = ["FORM_CHANNEL", "HubSpot", "HubSpotAPIError", "MODIFIED"]

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
#: The contact properties of the latest-source touch (the original one is ``_CONTACT``'s source).
_LATEST: Final = {
    "time": "hs_latest_source_timestamp",
    "channel": "hs_latest_source",
    "campaign": "hs_analytics_last_touch_converting_campaign",
}
_EMAIL = "email"  # how a form submission is matched to its contact
_TOUCH_PROPERTIES: Final = (*_LATEST.values(), _EMAIL)
#: The channel of the touchpoints made from form submissions.
FORM_CHANNEL: Final = "form"
_LIFECYCLE = "lifecyclestage"
_DEALSTAGE = "dealstage"
_DATE_ENTERED = "hs_v2_date_entered_"
#: The ids of the contacts merged into a contact (``;``-separated): they are gone from HubSpot.
_MERGED = "hs_merged_object_ids"
#: The property with the stage history asked of each object (``propertiesWithHistory``).
_HISTORY: Final = {"contacts": _LIFECYCLE, "deals": _DEALSTAGE}
#: Canonical record kind of each HubSpot object (what a deletion removes).
_KINDS: Final = {
    "contacts": "leads",
    "companies": "accounts",
    "deals": "deals",
    "calls": "activities",
    "emails": "activities",
    "meetings": "activities",
}


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
    deals_native: int = 0  # the same for deals' dealstage history
    deals_rebuilt: int = 0
    stages: dict[tuple[str, str], int] = attrs.Factory(dict)  # (HubSpot stage, journey stage) -> events
    deal_history: dict[str, list[tuple[str, str]]] = attrs.Factory(dict)  # deal id -> (time, stage id)
    deleted: dict[str, set[str]] = attrs.Factory(dict)  # canonical kind -> ids gone from HubSpot
    notes: list[str] = attrs.Factory(list)
    window: tuple[datetime, datetime] | None = None  # the first and last lifecycle stage change read
    submissions: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)  # (form id, submission)
    form_campaigns: dict[str, str] = attrs.Factory(dict)  # form id -> campaign name
    campaigns: dict[str, str] = attrs.Factory(dict)  # campaign id -> name


class HubSpot:
    """Read a HubSpot account through its API: contacts, companies, deals, owners and stage history.

    The token of a private app (scopes ``crm.objects.contacts.read``, ``crm.objects.companies.read``,
    ``crm.objects.deals.read``, ``crm.objects.owners.read``, ``sales-email-read`` for e-mails, ``forms``
    and ``marketing.campaigns.read`` unless ``forms`` and ``campaigns`` are off) is read
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
      ``lost``), else ``open``. A deal's stage history (``propertiesWithHistory``, else the
      ``hs_v2_date_entered_*`` properties of the deal pipelines' stages) gives a closed deal without
      ``closedate`` the day it closed, and, with ``deal_journey_map``, stage events of its contact.
    - **touchpoints**: ``<contact id>-original-source`` at ``createdate``, ``<contact id>-latest-source``
      at ``hs_latest_source_timestamp`` (left out when it is the original again), as the export makes
      them, and ``form-<conversion id>`` per form submission (channel ``form``, the campaign of the form);
      all of team ``touch_team``.
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
        deal_journey_map: HubSpot deal stage (id or label) -> journey stage id: each time a deal entered
            such a stage is a stage event of the deal's first contact (none by default: HubSpot moves a
            contact's lifecycle stage when its deals move, and that history is read already).
        owners: Owner (HubSpot owner id, e-mail or name) -> person id.
        outcomes: Call or meeting outcome as HubSpot stores it (a call disposition's id, a meeting
            outcome such as ``NO_SHOW``) -> canonical outcome; others are slugged (``NO_SHOW`` ->
            ``no_show``, ``COMPLETED`` -> ``held``).
        currency: The ISO 4217 currency of deals without ``deal_currency_code``.
        touch_team: The team of the touchpoints made from the source properties and form submissions.
        forms: Read the form submissions (scope ``forms``) as touchpoints.
        campaigns: Read the marketing campaigns (scope ``marketing.campaigns.read``): their names for the
            campaign ids of the converting-campaign properties, and the campaign of each form.
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
        deal_journey_map: Mapping[str, str] | None = None,
        owners: Mapping[str, str] | None = None,
        outcomes: Mapping[str, str] | None = None,
        currency: str | None = None,
        touch_team: str = "marketing",
        forms: bool = True,
        campaigns: bool = True,
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
        self._deal_stages_read: list[tuple[str, str, Mapping[str, Any]]] | None = None
        self._deal_journey = {stage_key(k): v for k, v in (deal_journey_map or {}).items()}
        self.touch_team = touch_team
        self.forms = forms
        self.campaigns = campaigns

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
        self._marketing(load, None, None)
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
        return self._changes(
            dict.fromkeys(MODIFIED, (low, high)), window=(since, until), strict=strict, progress=progress
        )

    def _changes(
        self,
        windows: Mapping[str, tuple[int, int]],
        *,
        window: tuple[datetime, datetime],
        strict: bool,
        progress: bool | None,
    ) -> Loaded:
        """The records of each object modified in its window (epoch milliseconds, half-open), and theirs.

        Form submissions, which have no watermark of their own, are read in the widest window.
        """
        self._http.show(progress)
        low, high = min(w[0] for w in windows.values()), max(w[1] for w in windows.values())
        changed = {k: sorted(self._http.search_changed(k, MODIFIED[k], *windows[k])) for k in MODIFIED}
        load = _Load()
        for kind in ("deals", *_ACTIVITIES):
            load.records[kind] = self._http.read(kind, changed[kind], _properties(self, kind), _history(kind))
        wanted = changed["contacts"]
        for kind in ("deals", *_ACTIVITIES):
            wanted = self._linked(load, kind, "contacts", wanted)
        load.records["contacts"] = self._http.read(
            "contacts", wanted, _properties(self, "contacts"), _history("contacts")
        )
        self._survivors(load, set(changed["contacts"]))
        self._marketing(load, low, high)
        known = {e.lower() for r in load.records["contacts"] if (e := _text(r, _EMAIL))}
        emails = sorted({e for _, s in load.submissions if (e := _submitter(s)) and e.lower() not in known})
        if emails:  # the contacts of this window's submissions, changed or not
            more = self._http.read(
                "contacts", emails, _properties(self, "contacts"), _history("contacts"), id_property=_EMAIL
            )
            by_id = {str(r["id"]): r for r in [*load.records["contacts"], *more]}
            load.records["contacts"] = list(by_id.values())
        wanted = self._linked(load, "contacts", "companies", changed["companies"])
        wanted = sorted({*wanted, *self._linked(load, "deals", "companies", [])})
        load.records["companies"] = self._http.read("companies", wanted, _properties(self, "companies"), [])
        self._deletions(load, set(changed["contacts"]), windows)
        return self._finish(load, strict=strict, progress=progress, window=window)

    def _survivors(self, load: _Load, changed: set[str]) -> None:
        """The deals and activities of merged-into contacts; with ``deal_journey_map``, every contact's deals.

        With ``deal_journey_map`` a contact's stage events come from all its deals, so a contact read
        again needs them all. HubSpot moves a merged contact's deals and activities to the contact it was
        merged into without changing their modification time, so they are read here, with their
        associations again.
        """
        survivors = [
            str(r["id"]) for r in load.records["contacts"] if str(r["id"]) in changed and _text(r, _MERGED)
        ]
        if survivors:
            self._associated(load, survivors, ("deals", *_ACTIVITIES))
        if self._deal_journey:
            self._associated(load, [str(r["id"]) for r in load.records["contacts"]], ("deals",))

    def _associated(self, load: _Load, contacts: list[str], kinds: Sequence[str]) -> None:
        """Read the records of ``kinds`` associated with ``contacts`` that the load does not hold yet."""
        for kind in kinds:
            links = self._http.associations("contacts", kind, contacts)
            have = {str(r["id"]) for r in load.records[kind]}
            missing = sorted({t for ts in links.values() for t in ts} - have, key=lambda t: (len(t), t))
            if missing:
                load.records[kind] += self._http.read(kind, missing, _properties(self, kind), _history(kind))
                self._linked(load, kind, "contacts", [])

    def _marketing(self, load: _Load, low: int | None, high: int | None) -> None:
        """The campaigns (names, and the forms that are their assets) and the forms' submissions."""
        if self.campaigns:
            for campaign in self._http.listing(
                "reading campaigns", "/marketing/v3/campaigns", [("properties", "hs_name")]
            ):
                ident = str(campaign["id"])
                name = str((campaign.get("properties") or {}).get("hs_name") or ident)
                load.campaigns[ident] = name
                path = f"/marketing/v3/campaigns/{ident}/assets/FORM"
                for asset in self._http.listing(f"reading the forms of campaign {ident}", path):
                    load.form_campaigns.setdefault(str(asset["id"]), name)
        if self.forms:
            for form in self._http.listing("reading forms", "/marketing/v3/forms/"):
                ident = str(form["id"])
                load.submissions += [(ident, s) for s in self._http.submissions(ident, low, high)]

    def _deletions(self, load: _Load, changed: set[str], windows: Mapping[str, tuple[int, int]]) -> None:
        """The records archived in their object's window, and the contacts merged into a changed contact."""
        for kind, canonical in _KINDS.items():
            ids = self._http.archived(kind, *windows[kind])
            load.deleted.setdefault(canonical, set()).update(ids)
        for record in load.records["contacts"]:
            if str(record["id"]) in changed and (merged := _text(record, _MERGED)):
                load.deleted["leads"].update(i.strip() for i in merged.split(";") if i.strip())
        live = {kind: {str(r["id"]) for r in records} for kind, records in load.records.items()}
        for kind, canonical in _KINDS.items():  # a merged id HubSpot answers for is the survivor's
            load.deleted[canonical] -= live.get(kind, set())

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

        The state is a small JSON file the user keeps, a watermark per object
        (``{"watermarks": {"contacts": "2026-10-01T09:00:00+00:00", ...}}``); without the file, everything
        up to ``until`` is read, and an object without a watermark is read from the start. Each run reads
        each object from its watermark less ``overlap`` (records HubSpot's search indexes late are not
        missed), so a record can come twice across runs: :func:`smarketing.connectors.apply_changes` (or
        :func:`smarketing.testing.contract.union_of_changes`) merges the loads by id, the latest winning.
        The file is written only after a successful load.

        Raises:
            DataError: The state file is not one this connector wrote.
            LoadError: In strict mode, when a record is refused.
            HubSpotAPIError: HubSpot refused a request or could not be reached.
        """
        path = Path(state)
        until = until or datetime.now(UTC)
        high = _millis(until, "until")
        marks = read_watermarks(path, self.name)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        starts = {k: marks[k] - overlap if k in marks else epoch for k in MODIFIED}
        windows = {k: (min(_millis(start, "watermark"), high), high) for k, start in starts.items()}
        window = (min(starts.values()), until)
        loaded = self._changes(windows, window=window, strict=strict, progress=progress)
        write_watermarks(path, dict.fromkeys(MODIFIED, until))
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
        _read_deal_history(self, load)
        raw = {
            "accounts": _accounts(load),
            "leads": _leads(self, load, owners),
            "stage_events": _stage_events(self, load),
            "touchpoints": _touchpoints(self, load),
            "deals": _deals(self, load, owners),
            "activities": _activities(self, load, owners),
        }
        native = load.native + load.deals_native
        rebuilt = load.rebuilt + load.deals_rebuilt
        history: StageHistory = "mixed" if native and rebuilt else "native" if native else "reconstructed"
        if not native and not rebuilt:
            history = "none"
        notes = [
            f"lifecycle stage history: {load.native} contact(s) from HubSpot's property history "
            f"(propertiesWithHistory), {load.rebuilt} rebuilt from the hs_v2_date_entered_* properties "
            "(one date per stage: a stage entered again is seen once)"
            + (
                f"; it covers {load.window[0].isoformat()} to {load.window[1].isoformat()}"
                if load.window
                else ""
            ),
            *load.notes,
        ]
        if not self._deal_journey:
            notes.append("deal stage history is not made stage events (no deal_journey_map)")
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
        if load.deleted:
            report = attrs.evolve(report, deleted=load.deleted)
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

    def _deal_pipeline(self) -> list[tuple[str, str, Mapping[str, Any]]]:
        """The deal pipelines' stages (id, label, metadata), by pipeline then stage order, read once."""
        if self._deal_stages_read is None:
            stages: list[tuple[int, int, str, str, Mapping[str, Any]]] = []
            for pipeline in self._http.pipelines("deals"):
                rank = int(pipeline.get("displayOrder", 0))
                stages += [
                    (
                        rank,
                        int(s.get("displayOrder", 0)),
                        str(s["id"]),
                        str(s.get("label") or s["id"]),
                        s.get("metadata") or {},
                    )
                    for s in pipeline.get("stages", [])
                ]
            self._deal_stages_read = [(i, label, meta) for _, _, i, label, meta in sorted(stages)]
        return self._deal_stages_read

    def _deal_stage_table(self) -> dict[str, str]:
        """Deal stage id -> open, won or lost: ``deal_stage_map``, HubSpot's closed stages, the metadata."""
        table: dict[str, str] = {}
        for ident, label, meta in self._deal_pipeline():
            closed = str(meta.get("isClosed", "false")).lower() == "true"
            won = closed and str(meta.get("probability", "")) in ("1", "1.0")
            table[ident] = (
                self._deal_stages.get(stage_key(ident))
                or self._deal_stages.get(stage_key(label))
                or DEAL_STAGES.get(stage_key(ident))
                or ("won" if won else "lost" if closed else "open")
            )
        return table

    def _deal_journey_table(self) -> dict[str, str]:
        """Deal stage id -> journey stage id, from ``deal_journey_map`` (by stage id or label)."""
        table: dict[str, str] = {}
        for ident, label, _ in self._deal_pipeline():
            stage = self._deal_journey.get(stage_key(ident)) or self._deal_journey.get(stage_key(label))
            if stage is not None:
                table[ident] = stage
        return table


def _properties(connector: HubSpot, kind: str) -> list[str]:
    """The properties read of ``kind``: the mapped ones, its modification time, the date-entered ones."""
    if kind in _ACTIVITIES:
        outcome = _ACTIVITIES[kind][1]
        return [*_ACTIVITY.values(), *([outcome] if outcome else []), MODIFIED[kind]]
    names = {"contacts": _CONTACT, "companies": _COMPANY, "deals": _DEAL}[kind]
    out = [*names.values(), MODIFIED[kind]]
    if kind == "contacts":
        out += [_LIFECYCLE, _MERGED, *_TOUCH_PROPERTIES]
        out += [f"{_DATE_ENTERED}{stage}" for stage, _ in connector._lifecycle()]
    if kind == "deals":
        out += [f"{_DATE_ENTERED}{stage}" for stage, _, _ in connector._deal_pipeline()]
    return list(dict.fromkeys(out))


def _history(kind: str) -> list[str]:
    return [_HISTORY[kind]] if kind in _HISTORY else []


def _millis(when: datetime, name: str) -> int:
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise DataError(f"{name}: give a timezone-aware datetime (such as datetime(2026, 10, 1, tzinfo=UTC))")
    return int(when.timestamp() * 1000)


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
    names = {stage_key(k): v for k, v in load.campaigns.items()}
    frame = _mapped(load, frame, "campaign", _CONTACT["campaign"], names)
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
    table = connector._deal_stage_table()
    frame = _mapped(load, frame, "stage", _DEAL["stage"], table, slug=lambda _: "open")
    frame = _closed_on(load, frame, table)
    frame = _mapped(load, frame, "owner", _DEAL["owner"], owners)
    headers = {**_DEAL, "lead_id": "associations: contacts", "account_id": "associations: companies"}
    return RawFrame(frame, "deals", headers=headers)


def _touchpoints(connector: HubSpot, load: _Load) -> RawFrame | None:
    """The original-source and latest-source touch of each contact, as the export connector makes them.

    The original touch is at ``createdate`` (``hs_analytics_source``, first-touch converting campaign), the
    latest at ``hs_latest_source_timestamp`` (``hs_latest_source``, last-touch converting campaign), left
    out when it is the original again. Ids ``<contact id>-original-source`` and ``-latest-source``; the team
    is ``touch_team``.
    """
    rows: list[dict[str, str | None]] = []
    for record in load.records["contacts"]:
        ident = str(record["id"])
        created, source = _text(record, _CONTACT["created_at"]), _text(record, _CONTACT["source"])
        original = None
        if source is not None and created is not None:
            channel = SOURCES.get(stage_key(source), source)  # as the lead's source (listed there)
            original = (created, channel, _text(record, _CONTACT["campaign"]))
            rows.append(_touch(f"{ident}-original-source", ident, *original))
        when, latest = _text(record, _LATEST["time"]), _text(record, _LATEST["channel"])
        if when is None or latest is None:
            continue
        touch = (when, SOURCES.get(stage_key(latest), latest), _text(record, _LATEST["campaign"]))
        if original is None or (_instant(touch[0]), *touch[1:]) != (_instant(original[0]), *original[1:]):
            rows.append(_touch(f"{ident}-latest-source", ident, when, latest, touch[2]))
    rows += _form_touches(load)
    if not rows:
        return None
    frame = _frame(rows, ["id", "lead_id", "time", "channel", "campaign", "team"])
    latest_rows = frame.filter(pl.col("id").str.ends_with("-latest-source"))
    mapped = _mapped(load, latest_rows, "channel", _LATEST["channel"], SOURCES)
    frame = pl.concat([frame.filter(~pl.col("id").str.ends_with("-latest-source")), mapped])
    names = {stage_key(k): v for k, v in load.campaigns.items()}
    frame = _mapped(load, frame, "campaign", "converting campaign (campaign id)", names)
    frame = frame.with_columns(pl.lit(connector.touch_team).alias("team"))
    why = "HubSpot has no team on a source; touch_team= gives the team of the source touches"
    load.defaults.append(Default("touchpoints", "team", connector.touch_team, frame.height, why))
    headers = {"time": f"{_CONTACT['created_at']} / {_LATEST['time']}", "channel": _CONTACT["source"]}
    return RawFrame(frame, "contacts", headers=headers)


def _form_touches(load: _Load) -> list[dict[str, str | None]]:
    """Form submissions -> touchpoints ``form-<conversion id>`` of the contact with the submitted e-mail.

    The campaign is the campaign the form is an asset of. A submission of no contact read (no e-mail,
    or one no contact has) is not a touch; a note counts them.
    """
    contacts = {e.lower(): str(r["id"]) for r in load.records["contacts"] if (e := _text(r, _EMAIL))}
    rows: list[dict[str, str | None]] = []
    unmatched = 0
    for form, submission in load.submissions:
        email = _submitter(submission)
        lead = contacts.get(email.lower()) if email else None
        if lead is None:
            unmatched += 1
            continue
        when = datetime.fromtimestamp(int(submission["submittedAt"]) / 1000, tz=UTC)
        campaign = load.form_campaigns.get(form)
        conversion = str(submission.get("conversionId") or f"{form}-{submission['submittedAt']}")
        rows.append(_touch(f"form-{conversion}", lead, when.isoformat(), FORM_CHANNEL, campaign))
    if unmatched:
        load.notes.append(
            f"{unmatched} form submission(s) of no contact (no e-mail, or one no contact has) are not "
            "touchpoints"
        )
    return rows


def _submitter(submission: Mapping[str, Any]) -> str | None:
    """The e-mail a form submission gave, if any."""
    for value in submission.get("values") or []:
        if str(value.get("name", "")).lower() == _EMAIL and str(value.get("value") or "").strip():
            return str(value["value"]).strip()
    return None


def _touch(ident: str, lead: str, when: str, channel: str, campaign: str | None) -> dict[str, str | None]:
    return {
        "id": ident,
        "lead_id": lead,
        "time": when,
        "channel": channel,
        "campaign": campaign,
        "team": None,
    }


def _closed_on(load: _Load, frame: pl.DataFrame, table: Mapping[str, str]) -> pl.DataFrame:
    """A won or lost deal without ``closedate``: the day it last entered a closed stage, from its history."""
    days: dict[str, str] = {}
    for ident, steps in load.deal_history.items():
        closed = [when for when, stage in steps if table.get(stage, "open") != "open"]
        if closed:
            days[ident] = _instant(closed[-1]).astimezone(UTC).date().isoformat()
    missing = pl.col("close_date").is_null() & pl.col("stage").is_in(["won", "lost"])
    filled = missing & pl.col("id").is_in(list(days))
    count = frame.select(filled.sum()).item()
    if not count:
        return frame
    why = "the deal has no closedate; the day (UTC) it entered its closed stage, from its stage history"
    load.defaults.append(Default("deals", "close_date", "the day it closed", count, why))
    return frame.with_columns(
        pl.when(filled)
        .then(pl.col("id").replace_strict(days, default=None))
        .otherwise(pl.col("close_date"))
        .alias("close_date")
    )


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
    """Each contact's lifecycle stage history, and its deals' mapped stages, as stage events.

    A contact's history is HubSpot's own (newest first in the answer, read oldest first), else rebuilt
    from the date-entered properties. A stage no map knows refuses the contact's history. The times its
    deals entered a stage of ``deal_journey_map`` are merged in; at the same time the lifecycle change
    comes first. An entry that repeats the stage before it, or clears the stage, is not a move.
    """
    order = {ident: rank for rank, (ident, _) in enumerate(connector._lifecycle())}
    deal_steps = _deal_steps(connector, load)
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
        if steps:
            first, last = _instant(steps[0][0]), _instant(steps[-1][0])
            low, high = load.window or (first, last)
            load.window = (min(low, first), max(high, last))
        mapped = _lifecycle_steps(connector, load, ident, steps)
        if mapped is None:
            continue
        merged = sorted([*mapped, *deal_steps.get(ident, [])], key=lambda s: (_instant(s[0]), s[1]))
        rows += _moves(ident, merged)
    if not (load.native or load.rebuilt or load.deals_native or load.deals_rebuilt):
        return None
    for (value, stage), count in sorted(load.stages.items()):
        if value != stage:
            header = _DEALSTAGE if value.startswith(f"{_DEALSTAGE}:") else _LIFECYCLE
            load.mappings.append(AppliedMapping(header, value.removeprefix(f"{_DEALSTAGE}:"), stage, count))
    frame = _frame(rows, ["lead_id", "from", "to", "time"])
    return RawFrame(frame, "contacts", headers={"to": _LIFECYCLE, "time": f"{_LIFECYCLE} history"})


def _lifecycle_steps(
    connector: HubSpot, load: _Load, ident: str, steps: Sequence[tuple[str, str]]
) -> list[tuple[str, int, str]] | None:
    """One contact's (time, lifecycle stage) steps as (time, 0, journey stage); ``None`` when refused."""
    out: list[tuple[str, int, str]] = []
    for when, value in steps:
        if not value:
            continue
        stage = connector._stages.get(stage_key(value))
        if stage is None:
            reason = f"{value!r} is not a lifecycle stage mapped to a journey stage; pass stage_map="
            load.refusals.append(Refusal("stage_events", "contacts", None, ident, _LIFECYCLE, reason))
            return None
        load.stages[value, stage] = load.stages.get((value, stage), 0) + 1
        out.append((when, 0, stage))
    return out


def _deal_steps(connector: HubSpot, load: _Load) -> dict[str, list[tuple[str, int, str]]]:
    """Contact id -> (time, 1, journey stage) of the deal stages in ``deal_journey_map`` its deals entered."""
    table = connector._deal_journey_table()
    out: dict[str, list[tuple[str, int, str]]] = {}
    if not table:
        return out
    counts: dict[str, int] = {}
    for record in load.records["deals"]:
        ident = str(record["id"])
        lead = _first(load, "deals->contacts", ident, counts)
        if lead is None:
            continue
        for when, value in load.deal_history.get(ident, []):
            if value in table:
                key = (f"{_DEALSTAGE}:{value}", table[value])
                load.stages[key] = load.stages.get(key, 0) + 1
                out.setdefault(lead, []).append((when, 1, table[value]))
    return out


def _moves(ident: str, steps: Sequence[tuple[str, int, str]]) -> list[dict[str, str | None]]:
    """One contact's (time, rank, journey stage) steps, in order, as stage events; repeats dropped."""
    out: list[dict[str, str | None]] = []
    before: str | None = None
    for when, _, stage in steps:
        if stage == before:
            continue
        out.append({"lead_id": ident, "from": before, "to": stage, "time": when})
        before = stage
    return out


def _read_deal_history(connector: HubSpot, load: _Load) -> None:
    """Each deal's (time, stage id) history: HubSpot's own, else rebuilt from the date-entered properties.

    The history's window (its first and last entry) and whether it starts later than the deals (HubSpot
    keeps what it keeps) go to the report's notes.
    """
    order = {ident: rank for rank, (ident, _, _) in enumerate(connector._deal_pipeline())}
    first: datetime | None = None
    last: datetime | None = None
    for record in load.records["deals"]:
        entries = (record.get("propertiesWithHistory") or {}).get(_DEALSTAGE) or []
        steps = [(str(e["timestamp"]), str(e.get("value") or "")) for e in entries if e.get("value")]
        if steps:
            load.deals_native += 1
            steps.sort(key=lambda s: _instant(s[0]))
        else:
            steps = [
                (t, stage) for stage in order if (t := _text(record, f"{_DATE_ENTERED}{stage}")) is not None
            ]
            steps.sort(key=lambda s: (_instant(s[0]), order[s[1]]))
            load.deals_rebuilt += bool(steps)
        if steps:
            load.deal_history[str(record["id"])] = steps
            first = min(_instant(steps[0][0]), first or _instant(steps[0][0]))
            last = max(_instant(steps[-1][0]), last or _instant(steps[-1][0]))
    if first is None or last is None:
        return
    load.notes.append(
        f"deal stage history: {load.deals_native} deal(s) from HubSpot's property history "
        f"(propertiesWithHistory), {load.deals_rebuilt} rebuilt from the hs_v2_date_entered_* properties; "
        f"it covers {first.isoformat()} to {last.isoformat()}"
    )
    created = [_instant(t) for r in load.records["deals"] if (t := _text(r, _DEAL["created_at"]))]
    if created and min(created) < first:
        load.notes.append(
            f"the deal stage history starts at {first.isoformat()}, after the first deal was created "
            f"({min(created).isoformat()}): earlier stage changes are not known"
        )


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # left for the intake to refuse, last
