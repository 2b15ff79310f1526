"""The ``warehouse`` connector: the HubSpot and Salesforce tables dlt, Airbyte or Fivetran already load.

Teams that run an ELT tool keep their CRM in a warehouse. :class:`Warehouse` reads those tables from a
DuckDB file (read-only) or a Parquet folder (one folder per table, as the tools' lake destinations
write them), renames each tool's table and column names to the CRM's own object and field names, and
runs the mapping the export connectors use (:mod:`smarketing.connectors.hubspot`,
:mod:`smarketing.connectors.salesforce`), so a record maps the same whichever way it arrives.

Six layouts: ``dlt-hubspot``, ``dlt-salesforce``, ``airbyte-hubspot``, ``airbyte-salesforce``,
``fivetran-hubspot``, ``fivetran-salesforce``; the how-to *Bring your warehouse tables* lists the tables
and columns of each. What every layout shares:

* **re-syncs**: rows of one table with the same id are one record; the latest version is kept (latest
  modification time, then latest sync time, then the last row) and the older ones are counted in a note;
* **deletions**: ``_fivetran_deleted``, ``is_deleted`` / ``IsDeleted``, ``archived`` and Airbyte's
  ``_ab_cdc_deleted_at`` mark deleted rows; they are dropped and counted in a note, never kept;
* **money**: DECIMAL, integer and text amounts are exact; a float (DOUBLE) amount is read only when its
  shortest decimal form is a whole number of the currency's minor units, else a
  :class:`~smarketing.errors.DataError` names the table, the column and the record;
* **stage history**: native when the tool loaded a history (a property history table, ``LeadHistory``,
  ``OpportunityHistory``), else reconstructed; the report's provenance says which, and warns when the
  history starts later than the data.

Examples:
    >>> Warehouse(path="crm.duckdb", layout="fivetran-salesforce").name
    'warehouse'
    >>> Warehouse(path="crm.duckdb", layout="stitch-hubspot")
    Traceback (most recent call last):
    ...
    ValueError: layout: 'stitch-hubspot' is not one of airbyte-hubspot, airbyte-salesforce, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import polars as pl

from smarketing.connectors import _read
from smarketing.connectors import hubspot as hs
from smarketing.connectors._warehouse_hubspot import (
    LAYOUTS as HUBSPOT_LAYOUTS,
)
from smarketing.connectors._warehouse_hubspot import (
    HubSpotTables,
    as_raw,
    export_file,
    native_events,
    read_layout,
)
from smarketing.connectors._warehouse_read import (
    DELETED,
    Tables,
    as_text,
    key,
    latest,
    live,
    money_text,
    renamed,
)
from smarketing.connectors.intake import intake
from smarketing.connectors.report import Loaded, LoadReport, Provenance, Refusal, StageHistory
from smarketing.connectors.salesforce import OBJECTS, SalesforceExport, _read_columns, load_objects
from smarketing.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable

    from smarketing.plan import AlignmentPlan

__all__ = ["LAYOUTS", "Warehouse", "detect_layout"]

#: The layouts :class:`Warehouse` reads: ``<tool>-<crm>``.
LAYOUTS: Final = (
    "airbyte-hubspot",
    "airbyte-salesforce",
    "dlt-hubspot",
    "dlt-salesforce",
    "fivetran-hubspot",
    "fivetran-salesforce",
)

#: Columns each tool adds to every table it loads, by tool.
_MARKS: Final = {
    "dlt": ("_dlt_id", "_dlt_load_id"),
    "airbyte": ("_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_ab_id", "_airbyte_emitted_at"),
    "fivetran": ("_fivetran_synced",),
}
#: The table that tells the CRM apart, by layout.
_CORE: Final = {
    "dlt-hubspot": ("contacts",),
    "airbyte-hubspot": ("contacts",),
    "fivetran-hubspot": ("contact",),
    "dlt-salesforce": ("lead",),
    "airbyte-salesforce": ("Lead",),
    "fivetran-salesforce": ("lead",),
}
#: Columns (by :func:`key`) of each layout's core table, so that one CRM's tables are not read as another's.
_SIGNS: Final = {
    "dlt-hubspot": ("hsobjectid", "createdate", "lifecyclestage"),
    "airbyte-hubspot": ("properties", "propertiescreatedate", "propertieshsobjectid"),
    "fivetran-hubspot": ("propertycreatedate", "propertyemail", "propertylifecyclestage"),
    "dlt-salesforce": ("createddate",),
    "airbyte-salesforce": ("createddate",),
    "fivetran-salesforce": ("createddate",),
}
_SF_MODIFIED: Final = ("SystemModstamp", "LastModifiedDate")
_SF_SYNCED: Final = ("_fivetran_synced", "_airbyte_extracted_at", "_airbyte_emitted_at", "_dlt_load_id")


def detect_layout(tables: Tables) -> str:
    """The layout of ``tables``, told by the CRM's core table and the columns the tool adds to it.

    Raises:
        DataError: No layout fits (the tables found are named) or several do (pass ``layout=``).
    """
    fits = []
    for layout in LAYOUTS:
        tool = layout.split("-")[0]
        core = tables.find(*_CORE[layout])
        if core is None:
            continue
        if layout.startswith("fivetran-hubspot") and tables.find("contacts") is not None:
            continue
        columns = {key(c) for c in tables.columns(core)}
        if any(key(m) in columns for m in _MARKS[tool]) and _signed(layout, columns):
            fits.append(layout)
    if len(fits) == 1:
        return fits[0]
    names = ", ".join(sorted(tables.names().values())) or "none"
    if not fits:
        raise DataError(
            f"{tables}: no layout fits these tables ({names}); pass layout= (one of {', '.join(LAYOUTS)})"
        )
    raise DataError(f"{tables}: the tables fit several layouts ({', '.join(fits)}); pass layout=")


def _signed(layout: str, columns: set[str]) -> bool:
    """Whether the core table's columns (by :func:`key`) are the CRM's of ``layout``."""
    return any(c in columns for c in _SIGNS[layout])


class Warehouse:
    """Read the HubSpot or Salesforce tables an ELT tool (dlt, Airbyte, Fivetran) loaded.

    The tables are mapped to the CRM's own names and then as the ``hubspot-export`` and
    ``salesforce-export`` connectors map them; the options those connectors take mean the same here.

    Args:
        path: A DuckDB database file (opened read-only) or a folder of Parquet tables (``<table>/*.parquet``
            or ``<table>.parquet``).
        layout: Which tool wrote which CRM: ``dlt-hubspot``, ``dlt-salesforce``, ``airbyte-hubspot``,
            ``airbyte-salesforce``, ``fivetran-hubspot``, ``fivetran-salesforce``; told from the tables
            when not given (an error names the candidates when several fit).
        schema: The DuckDB schema holding the tables (default: the only one with tables, else ``main``).
        plan: The alignment plan whose stages, people and personas are matched.
        stage_map: HubSpot lifecycle stage / Salesforce Lead Status or StageName -> journey stage id.
        deal_stage_map: HubSpot deal stage (id or label) -> ``open``, ``won`` or ``lost``.
        owners: HubSpot owner (id, e-mail or name) or Salesforce User Id -> person id.
        outcomes: HubSpot call outcome (``hs_call_disposition`` id) or meeting outcome -> canonical
            outcome, over HubSpot's default call outcomes (``No answer`` -> ``no_answer``, ...).
        fields: Salesforce custom fields, ``"Object.Field__c"`` -> canonical column (as written by the
            tool: ``region_c`` and ``Region__c`` are one field).
        currency: The ISO 4217 currency of amounts without a currency column.
        touch_team: The team of the touchpoints made from HubSpot's source properties.
    """

    name = "warehouse"

    def __init__(
        self,
        *,
        path: str | Path,
        layout: str | None = None,
        schema: str | None = None,
        plan: AlignmentPlan | None = None,
        stage_map: Mapping[str, str] | None = None,
        deal_stage_map: Mapping[str, str] | None = None,
        owners: Mapping[str, str] | None = None,
        outcomes: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
        currency: str | None = None,
        touch_team: str = "marketing",
    ) -> None:
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"layout: {layout!r} is not one of {', '.join(LAYOUTS)}")
        hs._check_deal_stage_map(deal_stage_map)
        self.path = Path(path)
        self.layout = layout
        self.schema = schema
        self.plan = plan
        self.stage_map = dict(stage_map or {})
        self.deal_stage_map = dict(deal_stage_map or {})
        self.owners = dict(owners or {})
        self.outcomes = dict(outcomes or {})
        self.fields = dict(fields or {})
        self.currency = currency
        self.touch_team = touch_team
        if layout is not None and layout.endswith("salesforce"):
            self._salesforce()  # the Salesforce options are checked now
        elif self.fields:
            raise ValueError("fields: custom fields are read from Salesforce layouts only")
        if layout is not None and layout.endswith("salesforce") and self.outcomes:
            raise ValueError("outcomes: outcome ids are read from HubSpot layouts only")

    def __repr__(self) -> str:
        return f"Warehouse(path={str(self.path)!r}, layout={self.layout!r})"

    def _salesforce(self) -> SalesforceExport:
        return SalesforceExport(
            path=self.path,
            plan=self.plan,
            status_map=self.stage_map or None,
            users=self.owners or None,
            fields=self.fields or None,
            currency=self.currency,
        )

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read the tables into a Dataset and the report of the load.

        Raises:
            LoadError: In strict mode, when a row is refused (the first ones, and how many).
            DataError: The path holds no tables of the layout (or of any layout), a table lacks a column
                every row needs, a column has a type that cannot be read, or a float amount is not exact.
            FileNotFoundError: ``path`` does not exist.
        """
        tables = Tables(self.path, self.schema)
        try:
            return self._load(tables, strict=strict, progress=progress)
        finally:
            tables.close()

    def _load(self, tables: Tables, *, strict: bool, progress: bool | None) -> Loaded:
        layout = self.layout or detect_layout(tables)
        core = tables.find(*_CORE[layout])
        if core is None:
            names = ", ".join(sorted(tables.names().values())) or "none"
            wanted = " or ".join(_CORE[layout])
            raise DataError(f"{tables}: no {wanted} table, so not the {layout} layout (tables: {names})")
        columns = {key(c) for c in tables.columns(core)}
        if not _signed(layout, columns):
            raise DataError(
                f"{tables}: {core}: none of the columns the {layout} layout's core table has "
                f"({', '.join(_SIGNS[layout])}), so not the {layout} layout"
            )
        if layout.endswith("salesforce"):
            return self._load_salesforce(tables, layout, strict=strict, progress=progress)
        return self._load_hubspot(tables, layout, strict=strict, progress=progress)

    # -- Salesforce ----------------------------------------------------------------------------------

    def _load_salesforce(self, tables: Tables, layout: str, *, strict: bool, progress: bool | None) -> Loaded:
        options = self._salesforce()
        objects = _SalesforceTables(tables, layout, options)
        loaded = load_objects(
            options, objects, strict=strict, progress=progress, name=self.name, raise_refusals=False
        )
        report = _renamed(
            loaded.report, objects.renames(), notes=objects.notes, layout=layout, columns=objects.columns
        )
        if strict:
            report.raise_for_refusals()
        return Loaded(loaded.dataset, report)

    # -- HubSpot -------------------------------------------------------------------------------------

    def _load_hubspot(self, tables: Tables, layout: str, *, strict: bool, progress: bool | None) -> Loaded:
        """The HubSpot objects of the layout through the export's readers, then the intake.

        The lifecycle stage history is read from the property history table for the contacts it has
        (their date columns are then not read), and rebuilt from the date columns for the others.
        """
        data = read_layout(tables, HUBSPOT_LAYOUTS[layout], currency=self.currency)
        deal_stages = {**hs.DEAL_STAGES, **{hs.stage_key(k): v for k, v in data.deal_stages.items()}}
        deal_stages.update({hs.stage_key(k): v for k, v in self.deal_stage_map.items()})
        people = hs._people_table(self.plan, None)
        # An owner's id or e-mail given in owners= becomes its person id, which the people table keeps.
        people.update({hs.stage_key(v): v for v in self.owners.values()})
        people.update({hs.stage_key(k): v for k, v in self.owners.items()})
        maps = hs._Maps(
            hs._stage_table(self.plan, self.stage_map), deal_stages, people, hs._persona_table(self.plan)
        )
        load = hs._Load(maps, self.touch_team)
        contacts = data.objects.get("contacts")
        native: set[str] = set()
        window: tuple[str, str] | None = None
        if contacts is not None:
            native, window = native_events(load, data, contacts)
        for obj in ("contacts", "companies", "deals", "calls", "emails", "meetings"):
            frame = data.objects.get(obj)
            if frame is None:
                continue
            if obj == "contacts" and native:
                frame = _without_dates(frame, native)
            file = export_file(
                obj, frame, data.sources[obj], data, owners=self.owners, outcomes=self.outcomes
            )
            hs._READERS[obj](load, file)
        rebuilt = sum(
            f.height
            for f, name, _ in load.tables.get("stage_events", [])
            if name == data.sources.get("contacts")
        )
        if not rebuilt:  # the export's note of rebuilt history, when nothing was rebuilt
            load.notes = [n for n in load.notes if "stage history reconstructed" not in n]
        raw, sources = hs._raw(load)
        history: StageHistory = "none"
        if native and rebuilt:
            history = "mixed"
        elif native:
            history = "native"
        elif "stage_events" in raw:
            history = "reconstructed"
        notes = [
            f"layout: {layout}",
            *data.notes,
            *load.notes,
            *_history_notes(data, native, window, contacts),
        ]
        data_report = intake(
            as_raw(raw),
            connector=self.name,
            strict=False,
            time_zone="UTC",
            currency=self.currency,
            mappings=load.maps.applied,
            defaults=load.defaults,
            provenance=Provenance(self.name, str(self.path), history, notes),
            progress=progress,
            release=True,
        )
        dataset, report = data_report
        report = hs._merge(report, sources, load)
        report = attrs.evolve(
            report,
            refusals=[_row_not_line(r) for r in report.refusals],
            unused_columns={**{k: v for k, v in data.unused.items() if v}},
        )
        if strict:
            report.raise_for_refusals()
        return Loaded(dataset, report)


def _without_dates(frame: pl.DataFrame, native: set[str]) -> pl.DataFrame:
    """Contacts with a native history keep no date columns or current stage to rebuild one from."""
    rebuilt = [
        c
        for c in frame.columns
        if c == "lifecyclestage"
        or c.startswith(("hs_lifecyclestage_", "hs_v2_date_entered_", "hs_date_entered_"))
    ]
    has = pl.col("id").is_in(list(native))
    return frame.with_columns(pl.when(has).then(None).otherwise(pl.col(c)).alias(c) for c in rebuilt)


def _history_notes(
    data: HubSpotTables, native: set[str], window: tuple[str, str] | None, contacts: pl.DataFrame | None
) -> list[str]:
    """What the provenance says of the lifecycle stage history: where from, its window, its retention."""
    notes = []
    if data.history_table is not None:
        covers = f", covering {window[0]} to {window[1]} UTC" if window else ""
        notes.append(
            f"lifecycle stage history: {len(native)} contact(s) from {data.history_table} (native{covers}); "
            "the others rebuilt from the hs_lifecyclestage_*_date / hs_v2_date_entered_* columns"
        )
        start = window[0] if window else None
        if contacts is not None and start is not None and "createdate" in contacts.columns:
            first = str(contacts.get_column("createdate").drop_nulls().min() or "")
            if first and first < start:  # both UTC text in one spelling
                notes.append(
                    f"warning: {data.history_table} starts at {start} but the contacts start at {first}: "
                    "the history does not reach back as far as the data (the tool loaded it later, or it "
                    "was not kept); stage events before it are missing or rebuilt"
                )
    notes.append("deal stage history is not read (the canonical records keep a deal's current stage)")
    return notes


def _row_not_line(refusal: Refusal) -> Refusal:
    """A table has rows, not lines: the export mapping's line is the row's place in its table."""
    if refusal.line is None:
        return refusal
    return attrs.evolve(refusal, line=None, row=refusal.line)


# --------------------------------------------------------------------------------------------------
# Salesforce objects from tables.


def _sf_tables(layout: str, obj: str) -> tuple[str, ...]:
    """The table names a tool gives a Salesforce object (matched by :func:`key`)."""
    if layout == "dlt-salesforce" and obj == "User":
        return ("sf_user", "user")
    return (obj,)


@attrs.define
class _SalesforceTables:
    """The Salesforce objects of an ELT layout, as the export's mapping reads them (text, API names)."""

    tables: Tables
    layout: str
    options: SalesforceExport
    notes: list[str] = attrs.Factory(list)
    found: dict[str, str] = attrs.Factory(dict)  # object -> table
    columns: dict[str, dict[str, str]] = attrs.Factory(dict)  # "Object.csv" -> API name -> column

    def __attrs_post_init__(self) -> None:
        for obj in OBJECTS:
            table = self.tables.find(*_sf_tables(self.layout, obj))
            if table is not None:
                self.found[obj] = table

    @property
    def source(self) -> str:
        return str(self.tables)

    def present(self) -> dict[str, bool]:
        return {obj: obj in self.found for obj in OBJECTS}

    def others(self) -> list[str]:
        taken = set(self.found.values())
        return sorted(t for t in self.tables.names().values() if t not in taken and not t.startswith("_dlt"))

    def where(self, obj: str) -> str:
        return self.found.get(obj, obj)

    def renames(self) -> dict[str, str]:
        return {f"{obj}.csv": table for obj, table in self.found.items()}

    def read(self, obj: str, keep: Callable[[str], bool]) -> tuple[pl.DataFrame, list[str]]:
        table = self.found[obj]
        api = {key(a): a for a in _read_columns(obj, self.options.fields) | {"Id", *_SF_MODIFIED}}
        stored = self.tables.columns(table)
        marks = {
            key(c) for c in (*_SF_MODIFIED, *_SF_SYNCED, *DELETED, "_fivetran_active", "_fivetran_start")
        }
        # Only the columns read, and those that tell versions and deletions apart, leave the table.
        wanted = [c for c in stored if keep(api.get(key(c), c)) or key(c) in api or key(c) in marks]
        frame = self.tables.read(table, wanted)
        shown = {api[key(c)]: c for c in frame.columns if key(c) in api}
        self.columns[f"{obj}.csv"] = shown
        frame = renamed(frame, api)
        if obj in ("LeadHistory", "OpportunityHistory") and "_fivetran_start" in frame.columns:
            raise DataError(
                f"{table}: a Fivetran history-mode table (row versions), not Salesforce's {obj} object; "
                "rename or drop it"
            )
        frame, note = latest(frame, table, "Id", modified=_SF_MODIFIED, synced=_SF_SYNCED)
        self.notes += [note] if note else []
        frame, notes = live(frame, table, keep=("IsDeleted",))
        self.notes += notes
        dropped = {key(d) for d in DELETED} - {key("IsDeleted")} | {key("_fivetran_active")}
        names = [api.get(key(c), c) for c in stored if key(c) not in dropped]
        frame = frame.select("_row", *[c for c in frame.columns if c != "_row" and keep(c)])
        if obj == "Opportunity" and "Amount" in frame.columns:
            frame = money_text(
                frame,
                table,
                "Amount",
                ident="Id",
                currency=self.options.currency,
                currency_column="CurrencyIsoCode",
                shown=shown.get("Amount"),
            )
        frame = as_text(frame, table, times="iso", names=shown)
        frame = frame.with_columns(pl.col("_row").cast(pl.Int64)).rename({"_row": _read.LINE})
        return frame, names


def _renamed(
    report: LoadReport,
    names: Mapping[str, str],
    *,
    notes: list[str],
    layout: str,
    columns: Mapping[str, Mapping[str, str]],
) -> LoadReport:
    """The export mapping's report in the tables' names: sources, columns, and rows instead of lines."""

    def column(refusal: Refusal) -> str | None:
        if refusal.column is None:
            return None
        return columns.get(refusal.source, {}).get(refusal.column, refusal.column)

    def rename(text: str) -> str:
        for old, new in names.items():
            text = text.replace(old, new)
        return text

    refusals = [
        attrs.evolve(_row_not_line(r), source=rename(r.source), column=column(r)) for r in report.refusals
    ]
    provenance = report.provenance
    if provenance is not None:
        provenance = attrs.evolve(
            provenance, notes=[f"layout: {layout}", *notes, *(rename(n) for n in provenance.notes)]
        )
    return attrs.evolve(
        report,
        refusals=refusals,
        unused_columns={rename(k): v for k, v in report.unused_columns.items()},
        provenance=provenance,
    )
