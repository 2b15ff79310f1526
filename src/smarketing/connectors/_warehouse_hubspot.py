"""HubSpot tables an ELT tool loaded (dlt, Airbyte, Fivetran) -> HubSpot's own names -> the export mapping.

Each layout's tables are read into one form: per object (contacts, companies, deals, calls, e-mails,
meetings) a text frame whose columns are HubSpot's internal property names, the associations between them,
the owners, the lifecycle stage history and the deal pipeline stages. That form is then written under the
export's headers (:data:`HEADERS`) and mapped by the ``hubspot-export`` connector's readers, so the
lifecycle stages, deal stages, owners, sources and outcomes map exactly as they do for an export.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import attrs
import polars as pl

from smarketing.connectors import hubspot as hs
from smarketing.connectors._warehouse_read import (
    DELETED,
    Tables,
    as_text,
    key,
    latest,
    listed,
    live,
    money_text,
)
from smarketing.connectors.intake import RawFrame
from smarketing.connectors.report import AppliedMapping, Refusal
from smarketing.errors import DataError

__all__ = ["CALL_DISPOSITIONS", "HEADERS", "HubSpotTables", "LAYOUTS", "read_layout"]

#: HubSpot property -> the export header the ``hubspot-export`` mapping reads, per object.
HEADERS: Final[Mapping[str, Mapping[str, str]]] = {
    "contacts": {
        "id": "Record ID",
        "createdate": "Create Date",
        "hubspot_owner_id": "Contact owner",
        "hs_analytics_source": "Original Source",
        "hs_analytics_first_touch_converting_campaign": "First touch converting campaign",
        "hs_latest_source": "Latest Source",
        "hs_latest_source_timestamp": "Latest Source Date",
        "hs_analytics_last_touch_converting_campaign": "Last touch converting campaign",
        "jobtitle": "Job Title",
        "hs_seniority": "Seniority",
        "hs_persona": "Persona",
        "hs_lead_status": "Lead Status",
        "industry": "Industry",
        "numberofemployees": "Number of Employees",
        "country": "Country/Region",
        "lifecyclestage": "Lifecycle Stage",
    },
    "companies": {
        "id": "Record ID",
        "name": "Company name",
        "industry": "Industry",
        "numberofemployees": "Number of Employees",
        "country": "Country/Region",
    },
    "deals": {
        "id": "Record ID",
        "dealstage": "Deal Stage",
        "amount": "Amount",
        "deal_currency_code": "Currency",
        "createdate": "Create Date",
        "closedate": "Close Date",
        "hubspot_owner_id": "Deal owner",
    },
    "calls": {
        "id": "Record ID",
        "hs_timestamp": "Activity date",
        "hubspot_owner_id": "Activity assigned to",
        "hs_call_disposition": "Call outcome",
    },
    "emails": {
        "id": "Record ID",
        "hs_timestamp": "Activity date",
        "hubspot_owner_id": "Activity assigned to",
    },
    "meetings": {
        "id": "Record ID",
        "hs_timestamp": "Activity date",
        "hubspot_owner_id": "Activity assigned to",
        "hs_meeting_outcome": "Meeting outcome",
    },
}
#: HubSpot's default call outcomes: ``hs_call_disposition`` holds these ids (the same in every account),
#: read as the labels the export writes (custom outcomes need the ``outcomes`` option).
CALL_DISPOSITIONS: Final = {
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "Busy",
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "Connected",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "Left live message",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "Left voicemail",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "No answer",
    "17b47fee-58de-441e-a44c-c6300d46f273": "Wrong number",
}
#: Properties holding times (the others of the stage date families are found by their prefix).
_TIMES: Final = {"createdate", "closedate", "hs_timestamp", "hs_latest_source_timestamp"}
_BECAME = re.compile(r"^hs_lifecyclestage_(?P<stage>.+)_date$")
_ENTERED = re.compile(r"^hs_(?:v2_)?date_entered_(?P<stage>.+)$")
_MODIFIED: Final = ("lastmodifieddate", "hs_lastmodifieddate", "updatedAt", "property_hs_lastmodifieddate")
_SYNCED: Final = ("_fivetran_synced", "_airbyte_extracted_at", "_airbyte_emitted_at", "_dlt_load_id")


@attrs.frozen
class Layout:
    """Where one tool keeps each HubSpot object: table names, id column, property prefix, links."""

    name: str
    tables: Mapping[str, tuple[str, ...]]  # object -> candidate table names
    ident: Mapping[str, str]  # object -> its id column
    prefix: str  # the prefix of property columns ("" for dlt, "properties_", "property_")
    renames: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)  # object -> column -> property
    history: tuple[str, str, str, str, str] | None = None  # table, object id, property, value, timestamp
    epoch_history: bool = False  # the history's timestamp is milliseconds since 1970


LAYOUTS: Final[Mapping[str, Layout]] = {
    "dlt-hubspot": Layout(
        "dlt-hubspot",
        {
            "contacts": ("contacts",),
            "companies": ("companies",),
            "deals": ("deals",),
            "owners": ("owners",),
        },
        dict.fromkeys(("contacts", "companies", "deals", "owners"), "id"),
        "",
        history=("contacts_property_history", "object_id", "property_name", "value", "timestamp"),
    ),
    "airbyte-hubspot": Layout(
        "airbyte-hubspot",
        {
            "contacts": ("contacts",),
            "companies": ("companies",),
            "deals": ("deals",),
            "calls": ("engagements_calls",),
            "emails": ("engagements_emails",),
            "meetings": ("engagements_meetings",),
            "owners": ("owners",),
        },
        dict.fromkeys(("contacts", "companies", "deals", "calls", "emails", "meetings", "owners"), "id"),
        "properties_",
        history=("contacts_property_history", "vid", "property", "value", "timestamp"),
        epoch_history=True,
    ),
    "fivetran-hubspot": Layout(
        "fivetran-hubspot",
        {
            "contacts": ("contact",),
            "companies": ("company",),
            "deals": ("deal",),
            "calls": ("engagement_call",),
            "emails": ("engagement_email",),
            "meetings": ("engagement_meeting",),
            "owners": ("owner",),
        },
        {
            "contacts": "id",
            "companies": "id",
            "deals": "deal_id",
            "calls": "engagement_id",
            "emails": "engagement_id",
            "meetings": "engagement_id",
            "owners": "owner_id",
        },
        "property_",
        renames={"deals": {"deal_pipeline_stage_id": "dealstage", "owner_id": "hubspot_owner_id"}},
        history=("contact_property_history", "contact_id", "name", "value", "timestamp"),
    ),
}

#: Association tables per layout: (table, source id column, target id column, link), ``link`` as
#: ``"<object>-><object>"``. Airbyte keeps associations as list columns of the object's table instead.
_LINKS: Final[Mapping[str, tuple[tuple[str, str, str, str], ...]]] = {
    "dlt-hubspot": (
        ("contacts__deals", "value", "deals_id", "contacts->deals"),
        ("companies__contacts", "value", "contacts_id", "companies->contacts"),
        ("companies__deals", "value", "deals_id", "companies->deals"),
    ),
    "fivetran-hubspot": (
        ("deal_contact", "deal_id", "contact_id", "deals->contacts"),
        ("deal_company", "deal_id", "company_id", "deals->companies"),
        ("contact_company", "contact_id", "company_id", "contacts->companies"),
        ("engagement_contact", "engagement_id", "contact_id", "engagements->contacts"),
    ),
}
_LIST_LINKS: Final = {
    "contacts": (("companies", "contacts->companies"),),
    "deals": (("contacts", "deals->contacts"), ("companies", "deals->companies")),
    "calls": (("contacts", "calls->contacts"),),
    "emails": (("contacts", "emails->contacts"),),
    "meetings": (("contacts", "meetings->contacts"),),
}


@attrs.define
class HubSpotTables:
    """One layout's HubSpot tables in HubSpot's own names, ready for the export mapping."""

    objects: dict[str, pl.DataFrame] = attrs.Factory(dict)  # text, property names, "id", "_row"
    sources: dict[str, str] = attrs.Factory(dict)  # object -> table
    links: dict[str, pl.DataFrame] = attrs.Factory(dict)  # "deals->contacts" -> source, target (text)
    owners: dict[str, tuple[str, str]] = attrs.Factory(dict)  # owner id -> (name, e-mail)
    history: pl.DataFrame | None = None  # lifecyclestage: object_id, value, time, _row
    history_table: str | None = None
    deal_stages: dict[str, str] = attrs.Factory(dict)  # stage id -> open, won, lost
    notes: list[str] = attrs.Factory(list)
    unused: dict[str, list[str]] = attrs.Factory(dict)


def _utc_naive(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Time text with an offset (``...Z``, Airbyte's JSON) as UTC without one, as the export has it."""
    out = []
    for column in columns:
        if column not in frame.columns or frame.schema[column] != pl.String:
            continue
        text = (
            pl.col(column).str.strip_chars().str.replace(" ", "T", literal=True).str.replace(r"Z$", "+00:00")
        )
        aware = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")
        naive = aware.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
        out.append(pl.coalesce(naive, pl.col(column)).alias(column))
    return frame.with_columns(out) if out else frame


def _properties(frame: pl.DataFrame, layout: Layout, obj: str) -> pl.DataFrame:
    """The object's columns as property names: the layout's prefix taken off, its renames applied."""
    if layout.prefix == "properties_" and not any(c.startswith("properties_") for c in frame.columns):
        if "properties" in frame.columns and isinstance(frame.schema["properties"], pl.Struct):
            frame = frame.with_columns(pl.col("properties").struct.unnest().name.prefix("properties_")).drop(
                "properties"
            )
        elif "properties" in frame.columns and frame.schema["properties"] == pl.String:
            fields = frame.get_column("properties").str.json_decode().struct.unnest()
            fields = fields.rename({c: f"properties_{c}" for c in fields.columns})
            frame = pl.concat([frame.drop("properties"), fields], how="horizontal")
    renames = dict(layout.renames.get(obj, {}))
    ident = layout.ident[obj]
    renames[ident] = "id"
    for column in frame.columns:
        if layout.prefix and column.startswith(layout.prefix):
            renames.setdefault(column, column.removeprefix(layout.prefix))
    clash = [c for c in frame.columns if c in set(renames.values()) and c not in renames]
    frame = frame.drop(clash)  # a top-level column shadowed by the property of that name
    return frame.rename({k: v for k, v in renames.items() if k in frame.columns})


def _time_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in _TIMES or _BECAME.match(c) or _ENTERED.match(c)]


def read_layout(tables: Tables, layout: Layout, *, currency: str | None) -> HubSpotTables:
    """Every HubSpot object the layout's tables hold, de-duplicated, without deleted rows, as text."""
    out = HubSpotTables()
    for obj, candidates in layout.tables.items():
        table = tables.find(*candidates)
        if table is None:
            continue
        stored = tables.columns(table)
        if layout.ident[obj] not in stored:
            raise DataError(
                f"{table}: no {layout.ident[obj]} column (the {obj} id of the {layout.name} layout)"
            )
        wanted = _wanted(stored, layout, obj)
        out.unused[table] = [c for c in stored if c not in wanted]
        frame = _properties(tables.read(table, wanted), layout, obj)
        frame, note = latest(frame, table, "id", modified=_MODIFIED, synced=_SYNCED)
        out.notes += [note] if note else []
        frame, notes = live(frame, table)
        out.notes += notes
        if obj == "owners":
            out.owners = _owners(as_text(_keep_scalars(frame), table))
            continue
        links = [(c, link) for c, link in _LIST_LINKS.get(obj, ()) if c in frame.columns]
        for column, link in links:
            out.links[link] = _list_links(frame, column)
        frame = frame.drop([c for c, _ in links])
        if obj == "deals" and "amount" in frame.columns:
            frame = money_text(
                frame, table, "amount", ident="id", currency=currency, currency_column="deal_currency_code"
            )
        read = [c for c in frame.columns if _read_property(obj, c)]
        frame = _utc_naive(frame.select("_row", *read), _time_columns(read))  # times stored as text
        frame = as_text(frame, table, times="naive")
        out.objects[obj] = frame
        out.sources[obj] = table
    _table_links(tables, layout, out)
    _history(tables, layout, out)
    _pipelines(tables, layout, out)
    known = {
        *(c for names in layout.tables.values() for c in names),
        *(t for t, _, _, _ in _LINKS.get(layout.name, ())),
        *([layout.history[0]] if layout.history else []),
        "deal_pipeline_stage",
        "pipelines_deals__stages",
    }
    others = sorted(
        name
        for name in tables.names().values()
        if key(name) not in {key(k) for k in known} and not name.startswith(("_dlt", "_airbyte"))
    )
    if others:
        out.notes.append(f"not read (no object this connector maps): {', '.join(others)}")
    return out


def _read_property(obj: str, prop: str) -> bool:
    """Whether the mapping reads the property ``prop`` of ``obj``."""
    return prop in HEADERS[obj] or (obj == "contacts" and bool(_time_columns([prop])))


#: Columns (by :func:`key`) read for re-syncs and deletions, whatever the object.
_MARKS: Final = frozenset(key(c) for c in (*_MODIFIED, *_SYNCED, *DELETED, "_fivetran_active"))


def _wanted(stored: Sequence[str], layout: Layout, obj: str) -> list[str]:
    """The stored columns a load reads (a HubSpot table has hundreds: the others are only listed)."""
    if obj == "owners":
        return list(stored)
    renames = layout.renames.get(obj, {})
    links = {c for c, _ in _LIST_LINKS.get(obj, ())}
    out = []
    for column in stored:
        prop = renames.get(column) or (
            column.removeprefix(layout.prefix)
            if layout.prefix and column.startswith(layout.prefix)
            else column
        )
        if (
            column in (layout.ident[obj], "properties")
            or column in links
            or key(column) in _MARKS
            or key(prop) in _MARKS
            or _read_property(obj, prop)
        ):
            out.append(column)
    return out


def _keep_scalars(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        c for c, t in frame.schema.items() if not isinstance(t, pl.List | pl.Struct | pl.Array)
    )


def _owners(frame: pl.DataFrame) -> dict[str, tuple[str, str]]:
    names = {key(c): c for c in frame.columns}
    first, last, email = (names.get(k) for k in ("firstname", "lastname", "email"))
    owners: dict[str, tuple[str, str]] = {}
    for row in frame.iter_rows(named=True):
        ident = row.get("id")
        if ident is None:
            continue
        name = " ".join(p for p in (row.get(first or ""), row.get(last or "")) if p)
        owners[str(ident)] = (name, str(row.get(email or "") or ""))
    return owners


_PAIRS: Final = {"source": pl.String, "target": pl.String}


def _list_links(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """A list column of associated ids (Airbyte's ``companies``, ``contacts``) as (source, target) pairs."""
    cells = frame.get_column(column)
    if not isinstance(cells.dtype, pl.List | pl.Array):  # JSON or "1;2" text
        cells = cells.cast(pl.String).map_elements(listed, return_dtype=pl.List(pl.String))
    pairs = pl.DataFrame({"source": frame.get_column("id").cast(pl.String), "target": cells})
    return (
        pairs.explode("target")
        .select(pl.col("source"), pl.col("target").cast(pl.String))
        .drop_nulls()
        .unique(maintain_order=True)
    )


def _table_links(tables: Tables, layout: Layout, out: HubSpotTables) -> None:
    """The association tables: each as (source, target) id pairs, both ways where the mapping needs it."""
    engagements = None
    for table_name, source, target, link in _LINKS.get(layout.name, ()):
        table = tables.find(table_name)
        if table is None:
            continue
        stored = tables.columns(table)
        missing = [c for c in (source, target) if c not in stored]
        if missing:
            raise DataError(
                f"{table}: no {', '.join(missing)} column (an association table of {layout.name})"
            )
        marks = [c for c in stored if key(c) in {key(d) for d in DELETED}]
        frame, notes = live(tables.read(table, [source, target, *marks]), table)
        out.notes += notes
        pairs = (
            frame.select(
                pl.col(source).cast(pl.String).alias("source"), pl.col(target).cast(pl.String).alias("target")
            )
            .drop_nulls()
            .unique(maintain_order=True)
        )
        if link == "engagements->contacts":
            engagements = pairs
            continue
        here, there = link.split("->")
        out.links[link] = pairs
        out.links.setdefault(f"{there}->{here}", pairs.select(source="target", target="source"))
    if engagements is not None:
        for kind in ("calls", "emails", "meetings"):
            out.links[f"{kind}->contacts"] = engagements


def _history(tables: Tables, layout: Layout, out: HubSpotTables) -> None:
    """The lifecycle stage's history rows (a property history table), when the layout's tool wrote one."""
    if layout.history is None:
        return
    name, ident, prop, value, stamp = layout.history
    table = tables.find(name)
    if table is None:
        return
    frame = tables.read(table)
    missing = [c for c in (ident, prop, value, stamp) if c not in frame.columns]
    if missing:
        raise DataError(f"{table}: no {', '.join(missing)} column (the property history of {layout.name})")
    frame, notes = live(frame, table)
    out.notes += notes
    frame = frame.filter(pl.col(prop).cast(pl.String) == "lifecyclestage").select("_row", ident, value, stamp)
    epoch = [stamp] if layout.epoch_history and frame.schema[stamp].is_integer() else []
    frame = as_text(_utc_naive(frame, [stamp]), table, times="naive", epoch_ms=epoch)
    frame = frame.rename({ident: "object_id", value: "value", stamp: "time"})
    out.history = frame
    out.history_table = table


def _pipelines(tables: Tables, layout: Layout, out: HubSpotTables) -> None:
    """Deal stage id -> won / lost / open from the pipeline stage table the layout's tool wrote."""
    if layout.name == "fivetran-hubspot":
        table = tables.find("deal_pipeline_stage")
        if table is None:
            return
        frame, _ = live(tables.read(table), table)
        for row in frame.iter_rows(named=True):
            won = bool(row.get("closed_won"))
            probability = row.get("probability")
            out.deal_stages[str(row.get("stage_id"))] = (
                "won" if won else "lost" if probability == 0 else "open"
            )
    elif layout.name == "dlt-hubspot":
        table = tables.find("pipelines_deals__stages")
        if table is None:
            return
        frame = tables.read(table)
        for row in frame.iter_rows(named=True):
            closed = str(row.get("metadata__is_closed", "false")).lower() == "true"
            won = closed and str(row.get("metadata__probability", "")) in ("1", "1.0")
            out.deal_stages[str(row.get("id"))] = "won" if won else "lost" if closed else "open"


# --------------------------------------------------------------------------------------------------
# HubSpot's names -> the export's headers -> the export's readers.


def _label(stage: str) -> str:
    """The ``Became a ... Date`` header of a standard lifecycle stage, else empty."""
    for internal, _, became, _ in hs.LIFECYCLE_STAGES:
        if internal == stage:
            return became
    return ""


def _owner_values(
    frame: pl.DataFrame, owners: Mapping[str, tuple[str, str]], given: Mapping[str, str]
) -> pl.DataFrame:
    """Owner ids as the export writes owners: ``owners=`` by id or e-mail first, else the owner's name."""
    if "hubspot_owner_id" not in frame.columns:
        return frame
    table: dict[str, str] = {}
    for ident in frame.get_column("hubspot_owner_id").drop_nulls().unique().to_list():
        name, email = owners.get(ident, ("", ""))
        table[ident] = (
            given.get(ident) or given.get(email) or name or (email.split("@")[0] if email else ident)
        )
    return frame.with_columns(pl.col("hubspot_owner_id").replace(table))


def _associated(frame: pl.DataFrame, links: pl.DataFrame | None) -> pl.Series:
    """Each row's associated ids as the export lists them (``"12;34"``, by HubSpot's id order)."""
    if links is None:
        return pl.Series([None] * frame.height, dtype=pl.String)
    listed_ids = (
        links.unique()
        .sort(pl.col("source"), pl.col("target").str.len_chars(), pl.col("target"))
        .group_by("source", maintain_order=True)
        .agg(pl.col("target"))
        .with_columns(pl.col("target").list.join(";"))  # a list joined: much faster than str.join per group
    )
    joined = frame.select(pl.col("id")).join(
        listed_ids, left_on="id", right_on="source", how="left", maintain_order="left"
    )
    return joined.get_column("target")


def export_file(
    obj: str,
    frame: pl.DataFrame,
    table: str,
    data: HubSpotTables,
    *,
    owners: Mapping[str, str],
    outcomes: Mapping[str, str] | None = None,
) -> hs._File:
    """One object's frame under the export's headers, as the export's readers take it.

    Owner ids become owner names (or the person ``owners`` gives), call outcome ids their labels
    (:data:`CALL_DISPOSITIONS`, then ``outcomes``), associations the export's ``"12;34"`` lists.
    """
    frame = _owner_values(frame, data.owners, owners)
    for prop in ("hs_call_disposition", "hs_meeting_outcome"):
        if prop in frame.columns:
            table_of = {**(CALL_DISPOSITIONS if prop == "hs_call_disposition" else {}), **(outcomes or {})}
            frame = frame.with_columns(pl.col(prop).replace(table_of))
    headers = HEADERS[obj]
    columns: list[pl.Expr | pl.Series] = [pl.col("_row").cast(pl.Int64).alias(hs._LINE)]
    columns += [pl.col(p).alias(h) for p, h in headers.items() if p in frame.columns]
    if obj == "deals" and "closedate" in frame.columns:
        columns = [
            c for c in columns if not (isinstance(c, pl.Expr) and c.meta.output_name() == "Close Date")
        ]
        columns.append(pl.col("closedate").str.slice(0, 10).alias("Close Date"))
    if obj == "contacts":
        columns.append(
            _associated(frame, data.links.get("contacts->companies")).alias("Associated Company IDs")
        )
        for prop in frame.columns:
            became, entered = _BECAME.match(prop), _ENTERED.match(prop)
            if became and _label(became["stage"]):
                columns.append(pl.col(prop).alias(_label(became["stage"])))
            elif entered:
                columns.append(
                    pl.col(prop).alias(f'Date entered "{entered["stage"]} (Lifecycle Stage Pipeline)"')
                )
    if obj == "deals":
        columns.append(_associated(frame, data.links.get("deals->contacts")).alias("Associated Contact IDs"))
        columns.append(_associated(frame, data.links.get("deals->companies")).alias("Associated Company IDs"))
    if obj in ("calls", "emails", "meetings"):
        columns.append(_associated(frame, data.links.get(f"{obj}->contacts")).alias("Associated Contact IDs"))
    out = frame.select(columns)
    keys = {hs.stage_key(c): c for c in out.columns if c != hs._LINE}
    return hs._File(obj, table, out, keys)


def native_events(
    load: hs._Load, data: HubSpotTables, contacts: pl.DataFrame
) -> tuple[set[str], tuple[str, str] | None]:
    """Stage events from the lifecycle stage's property history: one per change, ``from`` the one before.

    Entries are read oldest first (ties by the table's order); an entry repeating the stage before it is
    not a move, an empty one (the stage cleared) is skipped; a value no map knows refuses the entry.
    Returns the contacts with a native history and the window it covers (its first and last time, UTC).
    """
    history = data.history
    table = data.history_table or "history"
    if history is None or history.height == 0:
        return set(), None
    known = set(contacts.get_column("id").to_list())
    rows = history.filter(
        pl.col("object_id").is_in(list(known)) & pl.col("value").is_not_null() & (pl.col("value") != "")
    )
    values = rows.get_column("value").unique().to_list()
    mapping = {v: load.maps.stages.get(hs.stage_key(v)) for v in values}
    rows = rows.with_columns(
        pl.col("value").replace_strict(mapping, default=None, return_dtype=pl.String).alias("to")
    )
    for row, ident, value in (
        rows.filter(pl.col("to").is_null()).select("_row", "object_id", "value").iter_rows()
    ):
        reason = f"{value!r} is not a lifecycle stage mapped to a journey stage; pass stage_map="
        load.refusals.append(Refusal("stage_events", table, None, ident, "value", reason, row=row))
    rows = rows.filter(pl.col("to").is_not_null()).sort("object_id", "time", "_row")
    rows = rows.filter(pl.col("to") != pl.col("to").shift(1).over("object_id").fill_null(""))
    counts = rows.group_by("value", "to").len().sort("value", "to")
    for value, stage, count in counts.iter_rows():
        if value != stage:
            load.maps.applied.append(AppliedMapping(f"{table}.value", value, stage, count))
    events = rows.select(
        pl.col("_row").cast(pl.Int64).alias(hs._LINE),
        pl.col("object_id").alias("lead_id"),
        pl.col("to").shift(1).over("object_id").alias("from"),
        "to",
        "time",
    ).sort(hs._LINE)
    file = hs._File("contacts", table, events, {})
    load.add("stage_events", events, file, {"lead_id": "object_id", "to": "value", "time": "timestamp"})
    times = rows.get_column("time").drop_nulls()
    window = (str(times.min()), str(times.max())) if times.len() else None
    return set(rows.get_column("object_id").unique().to_list()), window


def as_raw(raw: Mapping[str, RawFrame]) -> dict[str, RawFrame]:
    """The export's raw tables with their UTC time text parsed (cells that do not parse left as text)."""
    out = {}
    for kind, table in raw.items():
        frame = table.frame
        fixed = []
        for column in ("created_at", "time"):
            if column in frame.columns and frame.schema[column] == pl.String:
                parsed = frame.get_column(column).str.to_datetime(
                    "%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us", time_zone="UTC"
                )
                if parsed.null_count() == frame.get_column(column).null_count():
                    fixed.append(parsed.alias(column))
        out[kind] = attrs.evolve(table, frame=frame.with_columns(fixed)) if fixed else table
    return out
