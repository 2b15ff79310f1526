"""Build the tables dlt, Airbyte and Fivetran load, from a synthetic export, in DuckDB or Parquet.

The builders start from the export files the synthetic writers make (:func:`write_hubspot_export` in UTC,
:func:`write_salesforce_export`), whose round trip to the source dataset is proved by the export
connectors' own tests, and lay them out as each tool writes them (table names, column names, types, the
columns the tool adds). So the ``warehouse`` connector's load of a layout must equal the export
connector's load of the export it was built from.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from smarketing.connectors.hubspot import LIFECYCLE_STAGES, stage_key
from smarketing.datasets.hubspot_export import stage_labels
from smarketing.plan import AlignmentPlan

SYNCED = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

# --------------------------------------------------------------------------------------------------
# Writing.


def write(tables: dict[str, pl.DataFrame], root: Path, *, form: str, schema: str = "main") -> Path:
    """Write ``tables`` as a DuckDB file (``form="duckdb"``) or a Parquet folder; return the path."""
    root.mkdir(parents=True, exist_ok=True)
    if form == "parquet":
        for name, frame in tables.items():
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(folder / "1700000000.0.parquet")
        return root
    import duckdb

    path = root / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        if schema != "main":
            con.execute(f'create schema "{schema}"')
        for name, frame in tables.items():
            con.register("frame", frame.to_arrow())
            con.execute(f'create table "{schema}"."{name}" as select * from frame')
            con.unregister("frame")
    return path


def _snake(name: str) -> str:
    """Salesforce API name -> the snake_case dlt and Fivetran write (``Region__c`` -> ``region_c``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("__", "_")


# --------------------------------------------------------------------------------------------------
# Salesforce.

_SF_BOOL = re.compile(r"^(Is[A-Z]|HasOpted)")
_SF_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_SF_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _sf_typed(frame: pl.DataFrame, *, float_amounts: bool) -> pl.DataFrame:
    """A Data Export file's text as typed columns, as the tools type Salesforce fields."""
    out = []
    for column in frame.columns:
        cells = frame.get_column(column)
        values = cells.drop_nulls()
        if _SF_BOOL.match(column) and values.is_in(["true", "false"]).all():
            out.append((cells == "true").alias(column))
        elif values.len() and values.str.contains(_SF_TIME.pattern).all():
            out.append(cells.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="ms", time_zone="UTC"))
        elif values.len() and column.endswith("Date") and values.str.contains(_SF_DATE.pattern).all():
            out.append(cells.str.to_date("%Y-%m-%d"))
        elif column == "Amount":
            out.append(cells.cast(pl.Float64) if float_amounts else cells.cast(pl.Decimal(18, 2)))
        elif column == "NumberOfEmployees":
            out.append(cells.cast(pl.Int64))
        else:
            out.append(cells)
    return pl.DataFrame(out)


def salesforce_tables(folder: Path, layout: str, *, float_amounts: bool = False) -> dict[str, pl.DataFrame]:
    """The Salesforce export in ``folder`` laid out as ``layout`` writes it."""
    tables: dict[str, pl.DataFrame] = {}
    for file in sorted(folder.glob("*.csv")):
        obj = file.stem
        if layout == "dlt-salesforce" and obj in (
            "LeadHistory",
            "OpportunityHistory",
            "OpportunitySplit",
            "OpportunitySplitType",
        ):
            continue  # dlt's Salesforce source loads no history and no splits
        frame = _sf_typed(pl.read_csv(file, infer_schema=False), float_amounts=float_amounts)
        n = frame.height
        if layout == "airbyte-salesforce":
            frame = frame.with_columns(
                pl.Series("_airbyte_raw_id", [f"r{obj}{i}" for i in range(n)]),
                pl.lit(SYNCED).alias("_airbyte_extracted_at"),
            )
            name = obj
        elif layout == "fivetran-salesforce":
            frame = frame.rename({c: _snake(c) for c in frame.columns}).with_columns(
                pl.lit(SYNCED).alias("_fivetran_synced"), pl.lit(False).alias("_fivetran_deleted")
            )
            name = _snake(obj)
        else:
            frame = frame.rename({c: _snake(c) for c in frame.columns}).with_columns(
                pl.Series("_dlt_id", [f"d{obj}{i}" for i in range(n)]),
                pl.lit("1762000000.5").alias("_dlt_load_id"),
            )
            name = "sf_user" if obj == "User" else _snake(obj)
        tables[name] = frame
    return tables


# --------------------------------------------------------------------------------------------------
# HubSpot.

_CONTACT = {
    "Record ID": "id",
    "First Name": "firstname",
    "Last Name": "lastname",
    "Email": "email",
    "Lifecycle Stage": "lifecyclestage",
    "Lead Status": "hs_lead_status",
    "Create Date": "createdate",
    "Contact owner": "hubspot_owner_id",
    "Original Source": "hs_analytics_source",
    "First touch converting campaign": "hs_analytics_first_touch_converting_campaign",
    "Latest Source": "hs_latest_source",
    "Latest Source Date": "hs_latest_source_timestamp",
    "Last touch converting campaign": "hs_analytics_last_touch_converting_campaign",
    "Job Title": "jobtitle",
    "Seniority": "hs_seniority",
    "Persona": "hs_persona",
    "Company Name": "company",
    "Industry": "industry",
    "Number of Employees": "numberofemployees",
    "Country/Region": "country",
}
_COMPANY = {
    "Record ID": "id",
    "Company name": "name",
    "Industry": "industry",
    "Number of Employees": "numberofemployees",
    "Country/Region": "country",
}
_DEAL = {
    "Record ID": "id",
    "Deal Name": "dealname",
    "Deal Stage": "dealstage",
    "Amount": "amount",
    "Currency": "deal_currency_code",
    "Pipeline": "pipeline",
    "Create Date": "createdate",
    "Close Date": "closedate",
    "Deal owner": "hubspot_owner_id",
}
_ACTIVITY = {
    "Record ID": "id",
    "Activity date": "hs_timestamp",
    "Activity assigned to": "hubspot_owner_id",
    "Call outcome": "hs_call_disposition",
    "Meeting outcome": "hs_meeting_outcome",
}
_TIMES = ("createdate", "hs_latest_source_timestamp", "hs_timestamp")


def _time(cells: pl.Series) -> pl.Series:
    return cells.str.to_datetime("%Y-%m-%d %H:%M", time_unit="us", time_zone="UTC")


class HubSpotExportTables:
    """A HubSpot export (written in UTC) in HubSpot's own names: properties, owners by id, links."""

    def __init__(self, folder: Path, plan: AlignmentPlan, *, float_amounts: bool = False) -> None:
        read = {
            f.stem: pl.read_csv(f, infer_schema=False, encoding="utf8-lossy") for f in folder.glob("*.csv")
        }
        stages = {label: sid for sid, (label, _) in stage_labels(plan).items()}
        stages.update({label: internal for internal, label, _, _ in LIFECYCLE_STAGES})
        became = {header: internal for internal, _, header, _ in LIFECYCLE_STAGES}
        names: set[str] = set()
        for name, column in (
            ("contacts", "Contact owner"),
            ("deals", "Deal owner"),
            ("calls", "Activity assigned to"),
            ("emails", "Activity assigned to"),
            ("meetings", "Activity assigned to"),
        ):
            if name in read:
                names |= set(read[name].get_column(column).drop_nulls().to_list())
        self.owner_ids = {n: str(9000 + i) for i, n in enumerate(sorted(names))}
        self.owners = pl.DataFrame(
            {
                "id": list(self.owner_ids.values()),
                "firstName": [n.split(" ", 1)[0] for n in self.owner_ids],
                "lastName": [n.split(" ", 1)[1] if " " in n else "" for n in self.owner_ids],
                "email": [f"owner{i}@example.com" for i in self.owner_ids.values()],
            }
        )
        contacts = read["contacts"]
        props = contacts.select(
            [pl.col(h).alias(p) for h, p in _CONTACT.items()]
            + [
                pl.col(h).alias(f"hs_lifecyclestage_{became[h]}_date")
                for h in contacts.columns
                if h in became
            ]
            + [
                pl.col(h).alias(f"hs_v2_date_entered_{stages[m[1]]}")
                for h in contacts.columns
                if (m := re.match(r'^Date entered "+(.+?) \(Lifecycle Stage Pipeline\)"+$', h))
            ]
        )
        props = props.with_columns(
            pl.col("lifecyclestage").replace_strict(stages, default=pl.col("lifecyclestage")),
            pl.col("numberofemployees").cast(pl.Int64),
            *[_time(props.get_column(c)) for c in props.columns if c in _TIMES or "_date" in c],
        )
        self.contacts = self._owned(props)
        self.contact_companies = contacts.select(
            pl.col("Record ID").alias("contact"), pl.col("Associated Company IDs").alias("company")
        ).drop_nulls()
        self.companies = (
            read["companies"]
            .select([pl.col(h).alias(p) for h, p in _COMPANY.items()])
            .with_columns(pl.col("numberofemployees").cast(pl.Int64))
        )
        deals = read["deals"]
        amount = deals.get_column("Amount").str.replace_all(",", "")
        self.deals = self._owned(
            deals.select([pl.col(h).alias(p) for h, p in _DEAL.items()]).with_columns(
                pl.col("dealstage").map_elements(stage_key, return_dtype=pl.String),
                (amount.cast(pl.Float64) if float_amounts else amount.cast(pl.Decimal(18, 2))).alias(
                    "amount"
                ),
                _time(deals.get_column("Create Date")).alias("createdate"),
                deals.get_column("Close Date")
                .str.to_datetime("%Y-%m-%d", time_zone="UTC")
                .alias("closedate"),
                pl.lit("default").alias("pipeline"),
            )
        )
        self.deal_contacts = deals.select(
            pl.col("Record ID").alias("deal"), pl.col("Associated Contact IDs").alias("contact")
        ).drop_nulls()
        self.deal_companies = deals.select(
            pl.col("Record ID").alias("deal"), pl.col("Associated Company IDs").alias("company")
        ).drop_nulls()
        self.activities: dict[str, pl.DataFrame] = {}
        self.activity_contacts: dict[str, pl.DataFrame] = {}
        for kind in ("calls", "emails", "meetings"):
            frame = read[kind]
            self.activities[kind] = self._owned(
                frame.select(
                    [pl.col(h).alias(p) for h, p in _ACTIVITY.items() if h in frame.columns]
                ).with_columns(_time(frame.get_column("Activity date")).alias("hs_timestamp"))
            )
            self.activity_contacts[kind] = frame.select(
                pl.col("Record ID").alias("activity"), pl.col("Associated Contact IDs").alias("contact")
            ).drop_nulls()

    def _owned(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("hubspot_owner_id").replace_strict(self.owner_ids, default=None))

    def history(self, plan: AlignmentPlan, events: pl.DataFrame, leads: pl.DataFrame) -> pl.DataFrame:
        """The lifecycle stage's property history of the dataset's stage events (HubSpot's values)."""
        from smarketing.datasets.hubspot_export import record_id

        stages = {sid: label for sid, (label, _) in stage_labels(plan).items()}
        internal = {label: i for i, label, _, _ in LIFECYCLE_STAGES}
        value = {sid: internal.get(label, sid) for sid, label in stages.items()}
        return events.select(
            pl.col("lead_id").map_elements(record_id, return_dtype=pl.String).alias("object_id"),
            pl.col("to").replace_strict(value, default=pl.col("to")).alias("value"),
            pl.col("time").alias("timestamp"),
        )


def hubspot_tables(
    export: HubSpotExportTables, layout: str, *, history: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """The HubSpot export laid out as ``layout`` writes it."""
    if layout == "dlt-hubspot":
        return _dlt_hubspot(export, history)
    if layout == "airbyte-hubspot":
        return _airbyte_hubspot(export, history)
    return _fivetran_hubspot(export, history)


def _dlt_marks(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.Series("_dlt_id", [f"{name}{i}" for i in range(frame.height)], dtype=pl.String),
        pl.lit("1762000000.5").alias("_dlt_load_id"),
    )


def _dlt_hubspot(export: HubSpotExportTables, history: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    def child(pairs: pl.DataFrame, value: str, target: str, name: str) -> pl.DataFrame:
        return _dlt_marks(
            pairs.select(pl.col(value).alias("value"), pl.col(target).alias(f"{name}_id")), name
        )

    tables = {
        "contacts": _dlt_marks(export.contacts.with_columns(pl.col("id").alias("hs_object_id")), "c"),
        "companies": _dlt_marks(export.companies.with_columns(pl.col("id").alias("hs_object_id")), "o"),
        "deals": _dlt_marks(export.deals.with_columns(pl.col("id").alias("hs_object_id")), "d"),
        "owners": _dlt_marks(export.owners.rename({"firstName": "first_name", "lastName": "last_name"}), "w"),
        "contacts__deals": child(export.deal_contacts, "contact", "deal", "deals"),
        "companies__contacts": child(export.contact_companies, "company", "contact", "contacts"),
        "companies__deals": child(export.deal_companies, "company", "deal", "deals"),
    }
    if history is not None:
        tables["contacts_property_history"] = _dlt_marks(
            history.with_columns(
                pl.lit("lifecyclestage").alias("property_name"), pl.lit("CRM_UI").alias("source_type")
            ),
            "h",
        )
    return tables


def _lists(frame: pl.DataFrame, pairs: pl.DataFrame, source: str, target: str, column: str) -> pl.DataFrame:
    grouped = pairs.group_by(source).agg(pl.col(target).alias(column))
    return frame.join(grouped, left_on="id", right_on=source, how="left", maintain_order="left").with_columns(
        pl.col(column).fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def _airbyte(frame: pl.DataFrame, name: str, *, prefixed: bool = True) -> pl.DataFrame:
    keep = {"id", "companies", "contacts"}
    renamed = frame.rename({c: f"properties_{c}" for c in frame.columns if c not in keep and prefixed})
    return renamed.with_columns(
        pl.lit(False).alias("archived"),
        pl.Series("_airbyte_raw_id", [f"{name}{i}" for i in range(frame.height)], dtype=pl.String),
        pl.lit(SYNCED).alias("_airbyte_extracted_at"),
    )


def _airbyte_hubspot(export: HubSpotExportTables, history: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    contacts = _lists(export.contacts, export.contact_companies, "contact", "company", "companies")
    deals = _lists(export.deals, export.deal_contacts, "deal", "contact", "contacts")
    deals = _lists(deals, export.deal_companies, "deal", "company", "companies")
    tables = {
        "contacts": _airbyte(contacts.with_columns(pl.col("createdate").alias("createdAt")), "c"),
        "companies": _airbyte(export.companies, "o"),
        "deals": _airbyte(deals, "d"),
        "owners": _airbyte(export.owners, "w", prefixed=False),
    }
    for kind, frame in export.activities.items():
        with_contacts = _lists(frame, export.activity_contacts[kind], "activity", "contact", "contacts")
        tables[f"engagements_{kind}"] = _airbyte(with_contacts, kind)
    if history is not None:
        tables["contacts_property_history"] = history.select(
            pl.col("object_id").cast(pl.Int64).alias("vid"),
            pl.lit("lifecyclestage").alias("property"),
            "value",
            pl.col("timestamp").dt.epoch("ms").alias("timestamp"),
            pl.lit("CRM_UI").alias("source-type"),
        )
    return tables


def _fivetran(frame: pl.DataFrame, ident: str = "id") -> pl.DataFrame:
    out = frame.rename({c: f"property_{c}" for c in frame.columns if c != "id"}).rename({"id": ident})
    return out.with_columns(
        pl.col(ident).cast(pl.Int64),
        pl.lit(SYNCED).alias("_fivetran_synced"),
        pl.lit(False).alias("_fivetran_deleted"),
    )


def _fivetran_hubspot(export: HubSpotExportTables, history: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    deals = _fivetran(
        export.deals.rename({"dealstage": "deal_pipeline_stage_id", "hubspot_owner_id": "owner_id"}),
        "deal_id",
    ).rename({"property_deal_pipeline_stage_id": "deal_pipeline_stage_id", "property_owner_id": "owner_id"})
    deals = deals.with_columns(pl.col("owner_id").cast(pl.Int64), pl.lit(False).alias("is_deleted")).drop(
        "_fivetran_deleted"
    )

    def pairs(frame: pl.DataFrame, a: str, b: str, left: str, right: str) -> pl.DataFrame:
        return frame.select(
            pl.col(a).cast(pl.Int64).alias(left), pl.col(b).cast(pl.Int64).alias(right)
        ).with_columns(pl.lit(SYNCED).alias("_fivetran_synced"))

    tables = {
        "contact": _fivetran(export.contacts),
        "company": _fivetran(export.companies)
        .with_columns(pl.lit(False).alias("is_deleted"))
        .drop("_fivetran_deleted"),
        "deal": deals,
        "owner": export.owners.select(
            pl.col("id").cast(pl.Int64).alias("owner_id"),
            pl.col("firstName").alias("first_name"),
            pl.col("lastName").alias("last_name"),
            "email",
            pl.lit(SYNCED).alias("_fivetran_synced"),
        ),
        "deal_contact": pairs(export.deal_contacts, "deal", "contact", "deal_id", "contact_id"),
        "deal_company": pairs(export.deal_companies, "deal", "company", "deal_id", "company_id"),
        "contact_company": pairs(export.contact_companies, "contact", "company", "contact_id", "company_id"),
        "deal_pipeline_stage": pl.DataFrame(
            {
                "stage_id": ["closedwon", "closedlost"],
                "label": ["Closed Won", "Closed Lost"],
                "closed_won": [True, False],
                "probability": [1.0, 0.0],
                "_fivetran_deleted": [False, False],
            }
        ),
    }
    engagement_contacts = []
    engagements = []
    for kind, frame in export.activities.items():
        tables[f"engagement_{kind[:-1]}"] = _fivetran(
            frame.with_columns(pl.col("hubspot_owner_id")), "engagement_id"
        )
        engagements.append(frame.select(pl.col("id").cast(pl.Int64), pl.lit(kind[:-1].upper()).alias("type")))
        engagement_contacts.append(export.activity_contacts[kind])
    tables["engagement"] = pl.concat(engagements).with_columns(pl.lit(SYNCED).alias("_fivetran_synced"))
    tables["engagement_contact"] = pairs(
        pl.concat(engagement_contacts), "activity", "contact", "engagement_id", "contact_id"
    )
    if history is not None:
        tables["contact_property_history"] = history.select(
            pl.col("object_id").cast(pl.Int64).alias("contact_id"),
            pl.lit("lifecyclestage").alias("name"),
            "value",
            "timestamp",
            pl.lit("CRM_UI").alias("source"),
            pl.lit(SYNCED).alias("_fivetran_synced"),
        )
    return tables


__all__ = ["SYNCED", "HubSpotExportTables", "hubspot_tables", "salesforce_tables", "write"]
