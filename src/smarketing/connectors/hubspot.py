"""The ``hubspot-export`` connector: the CSV files a HubSpot user downloads, read into a Dataset.

HubSpot exports one CSV per object (contacts, companies, deals, calls, e-mails, meetings), with the
properties' labels as headers, times without an offset in the portal's time zone, owners by full name,
amounts with thousands separators and empty cells for missing values, sometimes with a UTF-8 byte order
mark. :class:`HubSpotExport` reads every such file in a folder as text (polars, never inferring a type),
tells the objects apart by their headers, maps headers and values to the canonical columns and ends in
:func:`smarketing.connectors.intake`, so every row is kept or refused with its file, line and reason.

What it reads (headers match whatever their case and punctuation: ``Create Date``, ``Create date`` and the
internal name ``createdate`` are one header):

=============  ===========================================================================================
file           headers read -> canonical column
=============  ===========================================================================================
contacts       ``Record ID`` -> id, ``Create Date`` -> created_at, ``Contact owner`` -> owner,
               ``Original Source`` -> source, ``First touch converting campaign`` -> campaign,
               ``Job Title`` -> title, ``Seniority``, ``Persona``, ``Lead Status`` -> status,
               ``Industry``, ``Number of Employees`` -> company_size, ``Country/Region`` -> country,
               ``Associated Company IDs`` -> account_id; ``Lifecycle Stage`` and every
               ``Became a ... Date`` / ``Date entered "... (Lifecycle Stage Pipeline)"`` -> stage events;
               ``Original Source`` and ``Latest Source`` (``Latest Source Date``,
               ``Last touch converting campaign``) -> touchpoints
companies      ``Record ID``, ``Company name`` -> name, ``Industry``, ``Number of Employees``,
               ``Country/Region``
deals          ``Record ID``, ``Deal Stage`` -> stage, ``Amount``, ``Currency``, ``Create Date``,
               ``Close Date``, ``Deal owner``, ``Associated Contact IDs`` -> lead_id,
               ``Associated Company IDs`` -> account_id
calls, ...     ``Record ID``, ``Activity date`` -> time, ``Activity assigned to`` -> person,
               ``Call outcome`` / ``Meeting outcome`` -> outcome, ``Associated Contact IDs`` -> lead_id
feedback       ``Record ID``, ``Survey Type`` -> score_type (NPS, CSAT, CES; custom: none),
submissions    ``Rating`` / ``Response value`` / ``hs_value`` -> score, ``Submission Timestamp`` -> time,
               ``Contact ID`` / ``Associated Contact IDs`` -> lead_id, ``Associated Company IDs`` ->
               account_id, ``Response`` / ``hs_content`` -> text; source is ``survey``
=============  ===========================================================================================

Every other column is listed in the report as not read. The rules that make ids, the stage history and
touchpoints out of what HubSpot keeps are in :class:`HubSpotExport`.

Examples:
    >>> from smarketing.connectors.hubspot import HubSpotExport, stage_key
    >>> stage_key("Marketing Qualified Lead") == stage_key("marketingqualifiedlead")
    True
    >>> HubSpotExport(path="export/", time_zone="Europe/Berlin").name
    'hubspot-export'
"""

from __future__ import annotations

import bisect
import csv
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import attrs
import polars as pl

from smarketing.connectors._read import LINE, read_csv
from smarketing.connectors.intake import RawFrame, intake
from smarketing.connectors.report import (
    AppliedMapping,
    Default,
    Loaded,
    LoadReport,
    Provenance,
    Refusal,
    StageHistory,
)
from smarketing.errors import DataError

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = [
    "DEAL_STAGES",
    "HubSpotExport",
    "LIFECYCLE_STAGES",
    "OUTCOMES",
    "SOURCES",
    "SURVEY_TYPES",
    "person_slug",
    "stage_key",
    "value_slug",
]

#: HubSpot's standard lifecycle stages: (internal value, label, "Became a ... Date" header, the journey
#: stage (kind) it maps to by default).
LIFECYCLE_STAGES: Final = (
    ("subscriber", "Subscriber", "Became a Subscriber Date", "subscriber"),
    ("lead", "Lead", "Became a Lead Date", "lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead", "Became a Marketing Qualified Lead Date", "mql"),
    ("salesqualifiedlead", "Sales Qualified Lead", "Became a Sales Qualified Lead Date", "sql"),
    ("opportunity", "Opportunity", "Became an Opportunity Date", "opportunity"),
    ("customer", "Customer", "Became a Customer Date", "customer"),
    ("evangelist", "Evangelist", "Became an Evangelist Date", "evangelist"),
    ("other", "Other", "Became an Other Lifecycle Stage Date", "other"),
)

#: HubSpot's deal stages that close a deal, by :func:`stage_key`; every other stage is ``open``.
DEAL_STAGES: Final = {"closedwon": "won", "closedlost": "lost"}

#: HubSpot's ``Original Source`` values (labels and internal values, by :func:`stage_key`) -> channel.
SOURCES: Final = {
    **{
        key: channel
        for label, internal, channel in (
            ("Organic Search", "ORGANIC_SEARCH", "organic"),
            ("Paid Search", "PAID_SEARCH", "paid_search"),
            ("Email Marketing", "EMAIL_MARKETING", "email"),
            ("Social Media", "SOCIAL_MEDIA", "social"),
            ("Organic Social", "ORGANIC_SOCIAL", "social"),
            ("Referrals", "REFERRALS", "referral"),
            ("Direct Traffic", "DIRECT_TRAFFIC", "direct"),
            ("Offline Sources", "OFFLINE", "offline"),
            ("Paid Social", "PAID_SOCIAL", "paid_social"),
            ("Other Campaigns", "OTHER_CAMPAIGNS", "other_campaigns"),
            ("AI Referrals", "AI_REFERRALS", "ai_referral"),
        )
        for key in (re.sub(r"[^a-z0-9]", "", label.lower()), re.sub(r"[^a-z0-9]", "", internal.lower()))
    }
}

#: Call and meeting outcomes whose :func:`value_slug` is not the canonical outcome.
OUTCOMES: Final = {"left_voicemail": "voicemail", "completed": "held"}

_LINE = "_line"
_DATE_ENTERED = re.compile(
    r'^date entered ["\u201c](?P<label>.+) \(lifecycle stage pipeline\)["\u201d]$', re.I
)
_BECAME = re.compile(r"^became an? (?P<label>.+) date$", re.I)
_NAIVE = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_TEAM_WHY = "HubSpot has no team on a source; touch_team= gives the team of the source touches"

#: Headers that tell the objects apart (by :func:`stage_key`), tried in this order.
_KINDS: Final = (
    ("deals", ("dealstage", "dealname")),
    ("calls", ("calloutcome", "calltitle", "calldirection")),
    ("meetings", ("meetingoutcome", "meetingname", "meetingstarttime")),
    ("emails", ("emailsubject", "emaildirection", "emailsendstatus")),
    ("feedback", ("surveytype", "hssurveytype", "submissiontimestamp", "hssubmissiontimestamp")),
    ("contacts", ("contactowner", "firstname", "lifecyclestage", "email")),
    ("companies", ("companyname", "companydomainname", "companyowner")),
)
_ACTIVITY_TYPES = {"calls": "call", "emails": "email", "meetings": "meeting"}


def stage_key(text: str) -> str:
    """How labels and internal values are matched: ASCII letters and digits, lower case.

    Examples:
        >>> stage_key("Closed Won"), stage_key("closedwon"), stage_key("Créé")
        ('closedwon', 'closedwon', 'cree')
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def value_slug(text: str) -> str:
    """A label as an id: ASCII, lower case, words joined by ``_`` (``"No answer"`` -> ``"no_answer"``).

    Examples:
        >>> value_slug("Decision Maker Bought-In")
        'decision_maker_bought_in'
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def _check_deal_stage_map(deal_stage_map: Mapping[str, str] | None) -> None:
    """Refuse a deal stage map whose targets are not ``open``, ``won`` or ``lost``; both connectors use it."""
    for label, target in (deal_stage_map or {}).items():
        if target not in ("open", "won", "lost"):
            raise ValueError(f"deal_stage_map: {label!r} -> {target!r}; a deal stage is open, won or lost")


def person_slug(name: str) -> str:
    """An owner's name as a person id when no plan or map knows it: ``"Felix Roth"`` -> ``"felix.roth"``.

    Examples:
        >>> person_slug("José  Núñez"), person_slug("sales-rep-1")
        ('jose.nunez', 'sales-rep-1')
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()
    return re.sub(r"[^a-z0-9_.\-]", "", re.sub(r"\s+", ".", plain))


# --------------------------------------------------------------------------------------------------
# Reading files.


@attrs.frozen
class _File:
    """One export file as text: its object kind, its rows (with ``_line``) and headers by key."""

    kind: str
    name: str
    frame: pl.DataFrame
    headers: Mapping[str, str]  # stage_key(header) -> header as written

    def column(self, *keys: str) -> str | None:
        """The header of the first of ``keys`` the file has."""
        return next((self.headers[k] for k in keys if k in self.headers), None)

    def text(self, *keys: str) -> pl.Expr:
        """The column of the first of ``keys``, stripped, empty as null; null when there is none."""
        header = self.column(*keys)
        if header is None:
            return pl.lit(None, pl.String)
        value = pl.col(header).str.strip_chars()
        return pl.when(value == "").then(None).otherwise(value)


class _FileError(Exception):
    """A file that cannot be read at all: where and why."""

    def __init__(self, name: str, line: int | None, reason: str) -> None:
        super().__init__(f"{name}:{line}: {reason}" if line is not None else f"{name}: {reason}")
        self.name, self.line, self.reason = name, line, reason


def _read(path: Path, encoding: str) -> _File:
    """One CSV as text with each row's line (the shared safe reader), its object told by its headers."""
    try:
        frame = read_csv(path, encoding=encoding)
    except DataError as exc:
        # The reader names the file by its path; the report names it by its name, with the line apart.
        match = re.match(rf"^{re.escape(str(path))}(?::(\d+))?: (.*)$", str(exc), re.S)
        line, reason = (int(match[1]) if match[1] else None, match[2]) if match else (None, str(exc))
        raise _FileError(path.name, line, reason) from None
    names = [c for c in frame.columns if c != LINE]
    # polars keeps a header's doubled quotes (""Lead (Lifecycle Stage Pipeline)""); csv undoes them.
    with path.open("rb") as file:
        first = file.readline().decode(encoding, errors="replace").removeprefix("\ufeff")
    header = next(csv.reader([first.rstrip("\r\n")]), names)
    if len(header) == len(names):
        frame = frame.rename(dict(zip(names, header, strict=True)))
    frame = frame.rename({LINE: _LINE})
    keys: dict[str, str] = {}
    for column in header:
        if stage_key(column) in keys:
            raise _FileError(path.name, 1, f"the columns {keys[stage_key(column)]!r} and {column!r} are one")
        keys[stage_key(column)] = column
    kind = next((k for k, marks in _KINDS if any(m in keys for m in marks)), None)
    if kind is None:
        raise _FileError(path.name, 1, f"not a HubSpot export this connector reads (headers: {header[:8]})")
    return _File(kind, path.name, frame, keys)


def _header_kind(path: Path, encoding: str) -> str | None:
    """The kind :func:`_read` finds for a regular file from its first line; ``None`` when unsure."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        with path.open("rb") as file:
            first = file.readline().decode(encoding, errors="replace").removeprefix("\ufeff")
    except (OSError, LookupError):
        return None
    keys: set[str] = set()
    for column in next(csv.reader([first.rstrip("\r\n")]), []):
        if stage_key(column) in keys:
            return None
        keys.add(stage_key(column))
    return next((k for k, marks in _KINDS if any(m in keys for m in marks)), None)


def _paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        root = Path(path)
        if root.is_dir():
            return sorted(p for p in root.iterdir() if p.suffix.lower() == ".csv")
        items: list[Path] = [root]
    else:
        items = [Path(p) for p in path]
    missing = [str(p) for p in items if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"path: no such file(s): {', '.join(missing)}")
    return items


# --------------------------------------------------------------------------------------------------
# Names and values.


@attrs.define
class _Maps:
    """The value maps of one load, and what they did (for the report)."""

    stages: dict[str, str]  # stage_key -> journey stage id
    deal_stages: dict[str, str]
    owners: dict[str, str]  # stage_key(name) -> person id
    personas: dict[str, str]
    applied: list[AppliedMapping] = attrs.Factory(list)

    def apply(self, frame: pl.DataFrame, column: str, header: str, table: Mapping[str, str]) -> pl.DataFrame:
        """Map the values of ``column`` by ``table`` (keys by :func:`stage_key`), listing each map applied.

        A value the table does not know is left as it is (the caller decides what that means).
        """
        if column not in frame.columns:
            return frame
        counts = frame.get_column(column).drop_nulls().value_counts(sort=False)
        mapping: dict[str, str] = {}
        for value, rows in sorted(counts.iter_rows()):
            target = table.get(stage_key(value))
            if target is not None:
                mapping[value] = target
                if target != value:
                    self.applied.append(AppliedMapping(header, value, target, rows))
        return frame.with_columns(pl.col(column).replace(mapping))


def _stage_table(plan: AlignmentPlan | None, stage_map: Mapping[str, str] | None) -> dict[str, str]:
    """HubSpot lifecycle stage (label or value, by key) -> journey stage id: options, plan, default."""
    table: dict[str, str] = {}
    kinds: dict[str, str] = {}
    if plan is not None:
        for stage in plan.journey.stages:
            kinds.setdefault(stage.kind, stage.id)
            table[stage_key(stage.id)] = stage.id
            table[stage_key(stage.name)] = stage.id
    for internal, label, _, kind in LIFECYCLE_STAGES:
        target = kinds.get(kind, kind) if plan is not None else kind
        if plan is None or kind in kinds:
            for name in (internal, label, f"{label} Lifecycle Stage"):
                table.setdefault(stage_key(name), target)
    for source, target in (stage_map or {}).items():
        table[stage_key(source)] = target
    return table


def _people_table(plan: AlignmentPlan | None, owners: Mapping[str, str] | None) -> dict[str, str]:
    table: dict[str, str] = {}
    if plan is not None:
        for person in plan.people:
            table[stage_key(person.id)] = person.id
            table[stage_key(person.name)] = person.id
    for name, person_id in (owners or {}).items():
        table[stage_key(name)] = person_id
    return table


def _persona_table(plan: AlignmentPlan | None) -> dict[str, str]:
    table: dict[str, str] = {}
    for persona in plan.personas if plan is not None else ():
        table[stage_key(persona.id)] = persona.id
        table[stage_key(persona.name)] = persona.id
    return table


def _slugged(
    frame: pl.DataFrame,
    column: str,
    header: str,
    maps: _Maps,
    *,
    table: Mapping[str, str],
    slug: Callable[[str], str],
) -> pl.DataFrame:
    """Names -> ids: by ``table`` (keys by :func:`stage_key`), else the name slugged; each change listed.

    Owners go to the plan's people (``"Felix Roth"`` -> ``felix.roth``), personas to the plan's personas,
    outcomes to the canonical outcomes; a name no table knows becomes its slug, never a guess.
    """
    names = frame.get_column(column).drop_nulls().value_counts(sort=False)
    mapping: dict[str, str] = {}
    for name, rows in sorted(names.iter_rows()):
        mapping[name] = table.get(stage_key(name)) or slug(name)
        if mapping[name] != name:
            maps.applied.append(AppliedMapping(header, name, mapping[name], rows))
    return frame.with_columns(pl.col(column).replace(mapping))


def _outcome(value: str) -> str:
    return OUTCOMES.get(value_slug(value), value_slug(value))


def _first_id(file: _File, keys: Sequence[str], kind: str, defaults: list[Default]) -> pl.Expr:
    """The first id of an association column (``"12;34"`` -> ``"12"``), listing rows that had several."""
    header = file.column(*keys)
    if header is None:
        return pl.lit(None, pl.String)
    text = file.text(*keys)
    several = int(file.frame.select(text.str.contains(r"[;,]").sum()).item())
    if several:
        why = f"{header} lists several records; the first listed is kept"
        defaults.append(Default(kind, header, "the first listed id", several, why))
    return text.str.split(";").list.first().str.split(",").list.first().str.strip_chars()


def _digits(file: _File, keys: Sequence[str]) -> pl.Expr:
    """A count, thousands separators (``1,401``) taken out."""
    text = file.text(*keys)
    return (
        pl.when(text.str.contains(r"^\d{1,3}(?:,\d{3})+$"))
        .then(text.str.replace_all(",", ""))
        .otherwise(text)
    )


def _date_only(text: pl.Expr) -> pl.Expr:
    """A HubSpot date written as a time at midnight (``2026-04-17 00:00``) -> its day."""
    return (
        pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}[ T]00:00(?::00)?$"))
        .then(text.str.slice(0, 10))
        .otherwise(text)
    )


# --------------------------------------------------------------------------------------------------
# Contacts: leads, stage events, touchpoints.


@attrs.define
class _Load:
    """What one load builds before intake: canonical tables, their sources, and what the report adds."""

    maps: _Maps
    touch_team: str
    tables: dict[str, list[tuple[pl.DataFrame, str, dict[str, str]]]] = attrs.Factory(dict)
    refusals: list[Refusal] = attrs.Factory(list)
    defaults: list[Default] = attrs.Factory(list)
    read: dict[str, set[str]] = attrs.Factory(dict)  # file -> headers read
    notes: list[str] = attrs.Factory(list)
    unused: dict[str, list[str]] = attrs.Factory(dict)  # file -> headers not read

    def add(self, kind: str, frame: pl.DataFrame, file: _File, headers: Mapping[str, str]) -> None:
        self.tables.setdefault(kind, []).append((frame, file.name, dict(headers)))
        self.read.setdefault(file.name, set()).update(h for h in headers.values() if h in file.frame.columns)

    def refuse(self, kind: str, file: _File, rows: pl.DataFrame, column: str, reason: str) -> None:
        """Refuse each of ``rows`` (with ``_line`` and ``record``) for ``reason``."""
        for line, record in rows.select(_LINE, "record").iter_rows():
            self.refusals.append(Refusal(kind, file.name, line, record, column, reason))


def _leads(load: _Load, file: _File) -> None:
    """Contacts -> leads (headers and values mapped), then their stage events and source touches."""
    plain = ("id", "created_at", "source", "campaign", "persona", "owner", "title", "seniority", "industry")
    columns = {c: file.text(*_HEADER_KEYS[c]) for c in (*plain, "country", "status")}
    columns["account_id"] = _first_id(file, _HEADER_KEYS["account_id"], "leads", load.defaults)
    columns["company_size"] = _digits(file, _HEADER_KEYS["company_size"])
    frame = file.frame.select(pl.col(_LINE), **columns)
    headers = _headers(file, columns)
    maps = load.maps
    frame = maps.apply(frame, "source", headers["source"], SOURCES)
    frame = _slugged(frame, "persona", headers["persona"], maps, table=maps.personas, slug=value_slug)
    frame = _slugged(frame, "owner", headers["owner"], maps, table=maps.owners, slug=person_slug)
    load.add("leads", frame, file, headers)
    _stage_events(load, file)
    _source_touches(load, file, frame)


_HEADER_KEYS: Final = {
    "id": ("recordid", "hsobjectid", "contactid"),
    "account_id": ("associatedcompanyidsprimary", "associatedcompanyids"),
    "lead_id": ("associatedcontactidsprimary", "associatedcontactids"),
    "created_at": ("createdate", "createdat"),
    "source": ("originalsource", "hsanalyticssource"),
    "campaign": ("firsttouchconvertingcampaign", "originalcampaign"),
    "persona": ("persona", "hspersona"),
    "owner": ("contactowner", "dealowner", "hubspotowner"),
    "person": ("activityassignedto", "hubspotowner"),
    "title": ("jobtitle",),
    "seniority": ("seniority",),
    "industry": ("industry",),
    "company_size": ("numberofemployees",),
    "country": ("countryregion", "country"),
    "status": ("leadstatus", "hsleadstatus"),
    "name": ("companyname", "name"),
    "stage": ("dealstage",),
    "amount": ("amount",),
    "amount_currency": ("currency", "dealcurrencycode"),
    "close_date": ("closedate",),
    "time": ("activitydate", "meetingstarttime", "timestamp"),
    "outcome": ("calloutcome", "meetingoutcome"),
}


def _headers(file: _File, columns: Iterable[str]) -> dict[str, str]:
    """Each canonical column's header in this file (the canonical name when the file has none)."""
    return {c: file.column(*_HEADER_KEYS.get(c, (c,))) or c for c in columns}


def _stage_columns(load: _Load, file: _File) -> list[tuple[str, str, str | None]]:
    """The stage date columns in file order: (header, stage label, journey stage id or None if unmapped)."""
    out: list[tuple[str, str, str | None]] = []
    for header in file.frame.columns:
        text = " ".join(header.split())
        match = _BECAME.match(text) or _DATE_ENTERED.match(text)
        if match is not None:
            label = match.group("label")
            out.append((header, label, load.maps.stages.get(stage_key(label))))
    return out


def _stage_events(load: _Load, file: _File) -> None:
    """Ordered stage events from the date columns: one per distinct (stage, time) of a contact.

    The events of a contact are ordered by time (the export's local time, as written), ties broken by the
    order of the columns in the file; each event's ``from`` is the stage of the one before. A value in a
    column of a stage no map knows is refused; so is a contact whose current ``Lifecycle Stage`` is
    unknown or has no date.
    """
    ident = file.text("recordid", "hsobjectid", "contactid").alias("record")
    columns = _stage_columns(load, file)
    if not columns:
        return
    # One column at a time, its empty cells dropped at once (the contacts times the columns never exist).
    events = pl.concat(
        [
            file.frame.select(
                pl.col(_LINE),
                ident,
                pl.lit(rank, pl.Int32).alias("rank"),
                file.text(stage_key(header)).alias("time"),
                pl.lit(stage, pl.String).alias("to"),
            )
            .filter(pl.col("time").is_not_null())
            .with_columns(pl.col("time").str.contains(_NAIVE).alias("ok"))
            for rank, (header, _, stage) in enumerate(columns)
        ],
        rechunk=False,
    )
    bad = events.filter(pl.col("to").is_null() | ~pl.col("ok"))  # few rows: looped over below
    counts = dict(events.filter(pl.col("ok")).group_by("rank").len().iter_rows())
    for rank, (header, label, stage) in enumerate(columns):
        mine = bad.filter(pl.col("rank") == rank)
        if stage is None:
            reason = "the lifecycle stage of this column is not mapped to a journey stage; pass stage_map="
            load.refuse("stage_events", file, mine, header, reason)
            continue
        for value in sorted(set(mine.get_column("time").to_list())):
            reason = f"{value!r} is not a date and time (such as 2026-10-01 09:00)"
            load.refuse("stage_events", file, mine.filter(pl.col("time") == value), header, reason)
        if counts.get(rank):
            load.maps.applied.append(AppliedMapping(header, label, stage, counts[rank]))
    load.read.setdefault(file.name, set()).update(h for h, _, _ in columns)
    events = events.filter(pl.col("to").is_not_null() & pl.col("ok"))
    events = (
        events.with_columns(pl.col("time").str.replace("T", " ").alias("order"))
        .unique(subset=["record", "to", "order"], keep="first", maintain_order=True)
        .sort("record", "order", "rank")
        .with_columns(pl.col("to").shift(1).over("record").alias("from"))
    )
    _current_stage(load, file, events)
    frame = events.select(pl.col(_LINE), pl.col("record").alias("lead_id"), "from", "to", "time")
    load.add("stage_events", frame, file, {"lead_id": file.column("recordid", "hsobjectid") or "lead_id"})
    load.notes.append(
        f"{file.name}: stage history reconstructed from {len(columns)} stage date column(s): "
        "HubSpot lifecycle stages only move forward and keep one date per stage column, so a stage entered "
        "again is seen once per column (first entry in 'Became a ... Date', latest in 'Date entered ...')"
    )


def _current_stage(load: _Load, file: _File, events: pl.DataFrame) -> None:
    """Refuse contacts whose ``Lifecycle Stage`` is unknown or has no event (their history is incomplete)."""
    header = file.column("lifecyclestage")
    if header is None:
        return
    ident = file.text("recordid", "hsobjectid", "contactid").alias("record")
    stage = file.text("lifecyclestage")
    current = file.frame.select(pl.col(_LINE), ident, stage.alias("value")).filter(
        pl.col("value").is_not_null()
    )
    current = load.maps.apply(
        current.with_columns(pl.col("value").alias("to")), "to", header, load.maps.stages
    )
    values = current.get_column("value").unique().to_list()
    known = pl.col("value").is_in([v for v in values if stage_key(v) in load.maps.stages])
    unknown = current.filter(~known)
    for value in sorted(set(unknown.get_column("value").to_list())):
        reason = f"{value!r} is not a lifecycle stage mapped to a journey stage; pass stage_map="
        load.refuse("stage_events", file, unknown.filter(pl.col("value") == value), header, reason)
    load.read.setdefault(file.name, set()).add(header)
    seen = events.select("record", "to").unique()
    undated = current.filter(known).join(seen, on=["record", "to"], how="anti")
    reason = "the current lifecycle stage has no date in any stage date column, so its event has no time"
    load.refuse("stage_events", file, undated, header, reason)


def _source_touches(load: _Load, file: _File, leads: pl.DataFrame) -> None:
    """The original-source touch (at ``Create Date``) and the latest-source touch of each contact.

    Ids: ``<Record ID>-original-source`` and ``<Record ID>-latest-source``. The latest is left out when it
    is the original again (same time, channel and campaign). Both get the team ``touch_team``.
    """
    original = leads.filter(pl.col("source").is_not_null()).select(
        pl.col(_LINE),
        (pl.col("id") + "-original-source").alias("id"),
        pl.col("id").alias("lead_id"),
        pl.col("created_at").alias("time"),
        pl.col("source").alias("channel"),
        pl.col("campaign"),
    )
    latest = file.frame.select(
        pl.col(_LINE),
        file.text("recordid", "hsobjectid", "contactid").alias("lead_id"),
        file.text("latestsourcedate", "latesttrafficsourcedate", "latestsourcetimestamp").alias("time"),
        file.text("latestsource", "hslatestsource").alias("channel"),
        file.text("lasttouchconvertingcampaign").alias("campaign"),
    ).filter(pl.col("channel").is_not_null() & pl.col("time").is_not_null())
    latest = load.maps.apply(latest, "channel", file.column("latestsource") or "Latest Source", SOURCES)
    same = original.select("lead_id", "time", "channel", "campaign")
    latest = latest.join(same, on=["lead_id", "time", "channel", "campaign"], how="anti", nulls_equal=True)
    latest = latest.select(
        pl.col(_LINE), (pl.col("lead_id") + "-latest-source").alias("id"), pl.all().exclude(_LINE)
    )
    touches = pl.concat([original, latest.select(original.columns)]).sort(_LINE, "id")
    if not touches.height:
        return
    touches = touches.with_columns(pl.lit(load.touch_team).alias("team"))
    load.defaults.append(Default("touchpoints", "team", load.touch_team, touches.height, _TEAM_WHY))
    headers = {
        "time": file.column("createdate") or "time",
        "channel": file.column("originalsource") or "channel",
    }
    load.add("touchpoints", touches, file, headers)
    for key in ("latestsource", "latestsourcedate", "latesttrafficsourcedate", "lasttouchconvertingcampaign"):
        if key in file.headers:
            load.read.setdefault(file.name, set()).add(file.headers[key])


# --------------------------------------------------------------------------------------------------
# Companies, deals, activities.


def _accounts(load: _Load, file: _File) -> None:
    columns = {
        "id": file.text(*_HEADER_KEYS["id"]),
        "name": file.text(*_HEADER_KEYS["name"]),
        "industry": file.text("industry"),
        "company_size": _digits(file, ("numberofemployees",)),
        "country": file.text("countryregion", "country"),
    }
    frame = file.frame.select(pl.col(_LINE), **columns).with_columns(pl.col("name").fill_null(""))
    load.add("accounts", frame, file, _headers(file, columns))


def _deals(load: _Load, file: _File) -> None:
    columns = {
        "id": file.text(*_HEADER_KEYS["id"]),
        "account_id": _first_id(file, _HEADER_KEYS["account_id"], "deals", load.defaults),
        "lead_id": _first_id(file, _HEADER_KEYS["lead_id"], "deals", load.defaults),
        "amount": file.text("amount"),
        "stage": file.text("dealstage"),
        "created_at": file.text("createdate", "createdat"),
        "close_date": _date_only(file.text("closedate")),
        "owner": file.text("dealowner", "hubspotowner"),
    }
    if file.column(*_HEADER_KEYS["amount_currency"]):
        columns["amount_currency"] = file.text(*_HEADER_KEYS["amount_currency"])
    frame = file.frame.select(pl.col(_LINE), **columns)
    headers = _headers(file, columns)
    headers["owner"] = file.column("dealowner", "hubspotowner") or "owner"
    counts = frame.get_column("stage").drop_nulls().value_counts(sort=False)
    mapping = {}
    for value, rows in sorted(counts.iter_rows()):
        mapping[value] = load.maps.deal_stages.get(stage_key(value), "open")
        load.maps.applied.append(AppliedMapping(headers["stage"], value, mapping[value], rows))
    frame = frame.with_columns(pl.col("stage").replace(mapping))
    frame = _slugged(frame, "owner", headers["owner"], load.maps, table=load.maps.owners, slug=person_slug)
    load.add("deals", frame, file, headers)


def _activities(load: _Load, file: _File) -> None:
    """Calls, e-mails, meetings -> activities; an activity without a ``Record ID`` gets a made id.

    The made id is ``<type>-<contact id>-<activity date digits>``, with ``-2``, ``-3``, ... for the second
    and later activities of the same type, contact and time, in file order.
    """
    kind = _ACTIVITY_TYPES[file.kind]
    lead = _first_id(file, _HEADER_KEYS["lead_id"], "activities", load.defaults)
    time = file.text(*_HEADER_KEYS["time"])
    record = file.text(*_HEADER_KEYS["id"])
    missing = int(file.frame.select(record.is_null().sum()).item())
    ident = record
    if missing:
        made = pl.concat_str(
            [pl.lit(kind), lead.fill_null(""), time.str.replace_all(r"\D", "").fill_null("")], separator="-"
        )
        made = pl.when(record.is_null()).then(made)  # only rows without a Record ID count for -2, -3, ...
        nth = pl.int_range(pl.len()).over(made) + 1
        ident = pl.coalesce(record, pl.when(nth > 1).then(made + "-" + nth.cast(pl.String)).otherwise(made))
        why = "HubSpot gives no Record ID; the id is <type>-<contact id>-<activity date digits>[-n]"
        load.defaults.append(Default("activities", "id", "<type>-<contact>-<time>", missing, why))
    columns = {
        "id": ident,
        "lead_id": lead,
        "person": file.text("activityassignedto", "hubspotowner"),
        "time": time,
        "type": pl.lit(kind),
        "outcome": file.text(*_HEADER_KEYS["outcome"]),
    }
    frame = file.frame.select(pl.col(_LINE), **columns)
    headers = _headers(file, columns)
    frame = _slugged(frame, "person", headers["person"], load.maps, table=load.maps.owners, slug=person_slug)
    frame = _slugged(frame, "outcome", headers["outcome"], load.maps, table={}, slug=_outcome)
    load.add("activities", frame, file, headers)


#: HubSpot's survey types (``Survey Type``, ``hs_survey_type``) -> score type; custom and knowledge-base
#: surveys have no known scale, so their answers are kept without a score.
SURVEY_TYPES: Final = {"nps": "nps", "csat": "csat", "ces": "ces", "custom": "none", "knowledge": "none"}

#: Headers of the feedback submissions export, by canonical column (by :func:`stage_key`). Based on HubSpot's
#: feedback submission properties (developers.hubspot.com, CRM API "Feedback submissions" / "Survey
#: responses"): hs_survey_type (NPS, CSAT, CES, CUSTOM, KNOWLEDGE), hs_value / hs_response_value (the
#: rating), hs_submission_timestamp ("Submission Timestamp"), hs_contact_id, hs_content (the answer's
#: text), and the export's "Record ID" and "Associated Contact/Company IDs" columns.
_FEEDBACK_KEYS: Final = {
    "id": ("recordid", "hsobjectid", "submissionid"),
    "lead_id": ("contactid", "hscontactid", *_HEADER_KEYS["lead_id"]),
    "account_id": ("companyid", "hscompanyid", *_HEADER_KEYS["account_id"]),
    "time": ("submissiontimestamp", "hssubmissiontimestamp", "submissiondate", "createdate", "hscreatedate"),
    "score_type": ("surveytype", "hssurveytype"),
    "score": ("rating", "responsevalue", "hsresponsevalue", "value", "hsvalue"),
    "text": ("response", "content", "hscontent", "surveyresponse", "responsecontent"),
}


def _feedback(load: _Load, file: _File) -> None:
    """Feedback submissions (survey responses) -> feedback, every one from a ``survey``.

    The survey type maps by :data:`SURVEY_TYPES` (an unknown type is left for the intake to refuse); the
    answer of a survey without a scale (custom, knowledge base) is kept as text, without a score, and counted
    in the report's defaults. HubSpot does not record which team has read a submission: ``seen_by`` is empty.
    """
    keys = _FEEDBACK_KEYS
    columns = {
        "id": file.text(*keys["id"]),
        "lead_id": _first_id(file, keys["lead_id"], "feedback", load.defaults),
        "account_id": _first_id(file, keys["account_id"], "feedback", load.defaults),
        "time": file.text(*keys["time"]),
        "source": pl.lit("survey"),
        "score_type": file.text(*keys["score_type"]),
        "score": file.text(*keys["score"]),
        "text": file.text(*keys["text"]),
    }
    frame = file.frame.select(pl.col(_LINE), **columns)
    headers = {c: file.column(*keys.get(c, (c,))) or c for c in columns}
    counts = frame.get_column("score_type").drop_nulls().value_counts(sort=False)
    mapping = {}
    for value, rows in sorted(counts.iter_rows()):
        mapping[value] = SURVEY_TYPES.get(stage_key(value), value)
        load.maps.applied.append(AppliedMapping(headers["score_type"], value, mapping[value], rows))
    frame = frame.with_columns(pl.col("score_type").replace(mapping).fill_null("none"))
    unscaled = (pl.col("score_type") == "none") & pl.col("score").is_not_null()
    rows = int(frame.select(unscaled.sum()).item())
    if rows:
        why = "a custom or knowledge-base survey's answer has no known scale; it is kept in text"
        load.defaults.append(Default("feedback", headers["score"], "no score", rows, why))
        text = pl.concat_str([pl.col("text").fill_null(""), pl.col("score")], separator=" ").str.strip_chars()
        frame = frame.with_columns(
            pl.when(unscaled).then(text).otherwise(pl.col("text")).alias("text"),
            pl.when(unscaled).then(None).otherwise(pl.col("score")).alias("score"),
        )
    load.add("feedback", frame, file, headers)


_READERS: Final = {
    "contacts": _leads,
    "companies": _accounts,
    "deals": _deals,
    "calls": _activities,
    "emails": _activities,
    "meetings": _activities,
    "feedback": _feedback,
}


# --------------------------------------------------------------------------------------------------
# The connector.


class HubSpotExport:
    """Read the CSV files of a HubSpot export (contacts, companies, deals, calls, e-mails, meetings).

    The objects are told apart by their headers, not their file names. Each row's line is the record's
    number plus one (the header is line 1); it is the line in the file unless a quoted cell spans lines.

    The mapping:

    - **ids**: ``Record ID`` as written (text). An activity without one gets
      ``<type>-<contact id>-<activity date digits>`` (``-2``, ``-3`` ... for repeats, in file order); the
      touchpoints made from a contact are ``<Record ID>-original-source`` and ``<Record ID>-latest-source``.
      An association column listing several ids (``"12;34"``) gives the first (listed as a default).
    - **times**: as written, in ``time_zone`` (HubSpot writes them without an offset in the portal's zone);
      a time in the hour the clocks repeat or skip is refused, never guessed.
    - **lifecycle stages** (``stage_map`` first, then the plan's stage ids and names, then HubSpot's
      standard stages: ``subscriber``, ``lead``, ``marketingqualifiedlead`` -> ``mql``,
      ``salesqualifiedlead`` -> ``sql``, ``opportunity``, ``customer``, ``evangelist``, ``other``, by
      internal value or label; with a plan, each goes to the plan's first stage of that kind). Stage
      events are rebuilt from the ``Became a ... Date`` and ``Date entered "... (Lifecycle Stage
      Pipeline)"`` columns: one event per distinct (stage, time), ordered by time, ties by column order,
      ``from`` the stage before. The current ``Lifecycle Stage`` must be mapped and dated.
    - **deal stages**: ``deal_stage_map`` first, then ``closedwon``/``Closed Won`` -> ``won``,
      ``closedlost``/``Closed Lost`` -> ``lost``, any other stage -> ``open``.
    - **owners** (``Contact owner``, ``Deal owner``, ``Activity assigned to``): ``owners`` first, then the
      plan's people by name or id, else the name slugged (``"Felix Roth"`` -> ``"felix.roth"``).
    - **sources**: HubSpot's ``Original Source`` values -> channels (:data:`SOURCES`); others as written.
    - **outcomes**: the label slugged (``"No answer"`` -> ``no_answer``), ``Left voicemail`` ->
      ``voicemail``, ``Completed`` -> ``held``.
    - **personas**: the plan's personas by name or id, else the value slugged.

    Every value map applied is an :class:`~smarketing.connectors.AppliedMapping` of the report, every
    value an option gave a :class:`~smarketing.connectors.Default`, every header not read is listed.

    Args:
        path: A folder (its ``*.csv`` files) or a list of files.
        time_zone: The portal's IANA time zone (``"Europe/Berlin"``), in which the export writes times.
            Required: HubSpot's times have no offset, and a zone is never guessed.
        stage_map: HubSpot lifecycle stage (internal value or label) -> journey stage id.
        deal_stage_map: HubSpot deal stage (internal value or label) -> ``open``, ``won`` or ``lost``.
        owners: Owner name as HubSpot writes it -> person id.
        plan: The alignment plan whose stages, people and personas names are matched.
        currency: The ISO 4217 currency of amounts when the deals have no ``Currency`` column.
        touch_team: The team of the touchpoints made from the source columns (default ``marketing``).
        encoding: The files' text encoding (default UTF-8; a byte order mark is dropped).
        thousands: The thousands separator of amounts and counts (default ``,``: ``6,000.00``).
        decimal: The decimal separator (default ``.``).
        repeated_hour: What a time in the hour the clocks repeat (when daylight saving time ends) is:
            ``"refuse"`` (the default: the export cannot say which), or read as the ``"earlier"`` or the
            ``"later"`` of the two; each time so read is counted in the report's defaults.
    """

    name = "hubspot-export"

    def __init__(
        self,
        *,
        path: str | Path | Sequence[str | Path],
        time_zone: str,
        stage_map: Mapping[str, str] | None = None,
        deal_stage_map: Mapping[str, str] | None = None,
        owners: Mapping[str, str] | None = None,
        plan: AlignmentPlan | None = None,
        currency: str | None = None,
        touch_team: str = "marketing",
        encoding: str = "utf-8",
        thousands: str | None = ",",
        decimal: str = ".",
        repeated_hour: Literal["refuse", "earlier", "later"] = "refuse",
    ) -> None:
        if not isinstance(time_zone, str) or not time_zone:
            raise TypeError("time_zone: give the portal's IANA time zone, such as 'Europe/Berlin'")
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time_zone: {time_zone!r} is not an IANA time zone (such as 'Europe/Berlin')"
            ) from None
        _check_deal_stage_map(deal_stage_map)
        self.path = path
        self.time_zone = time_zone
        self.plan = plan
        self.currency = currency
        self.touch_team = touch_team
        self.encoding = encoding
        self.thousands = thousands
        self.decimal = decimal
        if repeated_hour not in ("refuse", "earlier", "later"):
            raise ValueError(f"repeated_hour: {repeated_hour!r} is not 'refuse', 'earlier' or 'later'")
        self.repeated_hour = repeated_hour
        self._stages = _stage_table(plan, stage_map)
        self._deal_stages = {**DEAL_STAGES, **{stage_key(k): v for k, v in (deal_stage_map or {}).items()}}
        self._people = _people_table(plan, owners)
        self._personas = _persona_table(plan)

    def __repr__(self) -> str:
        return f"HubSpotExport(path={str(self.path)!r}, time_zone={self.time_zone!r})"

    def _mapped(self) -> tuple[dict[str, RawFrame], dict[str, list[tuple[int, str]]], _Load]:
        """The export mapped to raw canonical tables (before intake), each row's file, and the rest."""
        maps = _Maps(dict(self._stages), dict(self._deal_stages), dict(self._people), dict(self._personas))
        load = _Load(maps, self.touch_team)
        # A file whose first line tells its kind is read only when its turn comes (and let go after it),
        # so that one file's text is in memory at a time; any other is read at once, as it always was.
        failed: list[tuple[int, Refusal]] = []
        turns: list[tuple[int, str, int, Path | _File]] = []
        for order, path in enumerate(_paths(self.path)):
            kind = _header_kind(path, self.encoding)
            if kind is not None:
                turns.append((list(_READERS).index(kind), path.name, order, path))
                continue
            try:
                file = _read(path, self.encoding)
            except _FileError as exc:
                failed.append((order, Refusal("files", exc.name, exc.line, None, None, exc.reason)))
                continue
            turns.append((list(_READERS).index(file.kind), file.name, order, file))
        columns: list[tuple[int, str, list[str]]] = []
        turns.sort(key=lambda t: t[:3])
        while turns:
            _, _, order, given = turns.pop(0)
            try:
                file = given if isinstance(given, _File) else _read(given, self.encoding)
            except _FileError as exc:
                failed.append((order, Refusal("files", exc.name, exc.line, None, None, exc.reason)))
                continue
            del given
            _READERS[file.kind](load, file)
            columns.append((order, file.name, file.frame.columns))
            del file
        load.refusals[:0] = [r for _, r in sorted(failed, key=lambda f: f[0])]
        raw, sources = _raw(load)
        unused = {
            name: [c for c in names if c != _LINE and c not in load.read.get(name, set())]
            for _, name, names in sorted(columns, key=lambda c: c[0])
        }
        load.unused = {k: v for k, v in unused.items() if v}
        return raw, sources, load

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read the export into a Dataset and the report of the load.

        Raises:
            LoadError: In strict mode, when a row or a file is refused (the first ones, and how many).
            FileNotFoundError: ``path`` names no file.
        """
        raw, sources, load = self._mapped()
        zone, choice = self.time_zone, self.repeated_hour
        raw = {k: _zoned(k, v, zone, choice, load.defaults) for k, v in raw.items()}
        stage_history: StageHistory = "reconstructed" if "stage_events" in raw else "none"
        notes = [*load.notes, "times are read to the minute HubSpot writes, in " + self.time_zone]
        data, report = intake(
            raw,
            connector=self.name,
            strict=False,
            time_zone=self.time_zone,
            currency=self.currency,
            thousands=self.thousands,
            decimal=self.decimal,
            mappings=load.maps.applied,
            defaults=load.defaults,
            provenance=Provenance(self.name, str(self.path), stage_history, notes),
            progress=progress,
            release=True,
        )
        report = _merge(report, sources, load)
        if strict:
            report.raise_for_refusals()
        return Loaded(data, report)


_TIMES: Final = {
    "leads": "created_at",
    "touchpoints": "time",
    "stage_events": "time",
    "activities": "time",
    "feedback": "time",
}


def _zoned(kind: str, raw: RawFrame, zone: str, choice: str, defaults: list[Default]) -> RawFrame:
    """HubSpot's local times read in ``zone``, as UTC times when every one of them is a valid time.

    A time in the hour the clocks repeat is read as ``choice`` says (and counted in the defaults), or,
    with ``"refuse"``, is not a valid time. When any cell is not, the column stays text for the intake,
    which refuses those cells with the reason (the repeated hour resolved as ``choice`` says).
    """
    column = "created_at" if kind == "deals" else _TIMES.get(kind)
    if column is None or column not in raw.frame.columns or raw.frame.schema[column] != pl.String:
        return raw
    # Each step runs once over the column, and a second spelling or rule only on the cells it concerns.
    cells = raw.frame.get_column(column)
    text = cells.str.replace("T", " ", literal=True)
    local = text.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us")
    seconds = text.is_not_null() & local.is_null()
    if seconds.any():  # a time written with its seconds
        local = local.zip_with(
            ~seconds, text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
        )
    once = local.dt.replace_time_zone(zone, ambiguous="null", non_existent="null")
    ambiguous: Literal["earliest", "latest"] = "earliest" if choice == "earlier" else "latest"
    chosen = once
    if choice != "refuse" and (local.is_not_null() & once.is_null()).any():
        chosen = local.dt.replace_time_zone(zone, ambiguous=ambiguous, non_existent="null")
    bad = int((cells.is_not_null() & chosen.is_null()).sum())
    twice = int((chosen.is_not_null() & once.is_null()).sum())
    if twice:
        why = f"the time happens twice in {zone} (the clocks go back) and the export has no offset"
        defaults.append(Default(kind, column, f"the {choice} of the two", twice, why))
    if not bad:
        return attrs.evolve(
            raw, frame=raw.frame.with_columns(chosen.dt.convert_time_zone("UTC").alias(column))
        )
    if twice:  # the repeated hour written with its offset, every other cell left for the intake
        written = chosen.dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
        fixed = cells.zip_with(~(chosen.is_not_null() & once.is_null()), written)
        return attrs.evolve(raw, frame=raw.frame.with_columns(fixed.alias(column)))
    return raw


def _raw(load: _Load) -> tuple[dict[str, RawFrame], dict[str, list[tuple[int, str]]]]:
    """One RawFrame per kind (files of a kind stacked), and where each file's rows start, by kind."""
    raw: dict[str, RawFrame] = {}
    sources: dict[str, list[tuple[int, str]]] = {}
    for kind, parts in load.tables.items():
        frames = [f for f, _, _ in parts]
        frame = pl.concat(
            [f.cast({c: pl.Int64 if c == _LINE else pl.String for c in f.columns}) for f in frames],
            how="diagonal",
        )
        # Each file's first row in the stacked table: a refusal's row number finds its file.
        starts, first = [], 0
        for f, name, _ in parts:
            starts.append((first, name))
            first += f.height
        headers: dict[str, str] = {}
        for _, _, h in parts:
            headers.update(h)
        source = ", ".join(dict.fromkeys(n for _, n, _ in parts))
        raw[kind] = RawFrame(frame, source, lines=_LINE, headers=headers)
        sources[kind] = starts
    return raw, sources


def _merge(report: LoadReport, sources: Mapping[str, list[tuple[int, str]]], load: _Load) -> LoadReport:
    """The intake's report with each refusal's own file, this connector's refusals and unread headers."""
    fixed = [
        attrs.evolve(r, source=_file_of(sources[r.kind], r.row)) if r.kind in sources and r.row else r
        for r in report.refusals
    ]
    read = dict(report.rows_read)
    for r in load.refusals:
        if r.kind != "files":
            read[r.kind] = read.get(r.kind, 0) + 1
    unused = {**{k: list(v) for k, v in report.unused_columns.items() if "," not in k}, **load.unused}
    return attrs.evolve(
        report,
        rows_read=read,
        refusals=sorted([*fixed, *load.refusals], key=_refusal_order),
        unused_columns={k: v for k, v in unused.items() if v},
    )


def _file_of(starts: Sequence[tuple[int, str]], row: int) -> str:
    """The file of the ``row``-th row (from 1) of a stacked table."""
    return starts[bisect.bisect_right([first for first, _ in starts], row - 1) - 1][1]


def _refusal_order(r: Refusal) -> tuple[str, str, int, str]:
    return (r.kind, r.source, r.line or 0, r.column or "")
