"""The ``warehouse`` connector: six ELT layouts from DuckDB and Parquet, re-syncs, deletions, money, errors.

The round trip: a synthetic dataset -> the export writer -> the tables a tool writes
(:mod:`tests.connectors.warehouse_tables`) -> :class:`Warehouse` -> the same Dataset the export connector
loads from that export (whose own round trip to the source data is proved in test_hubspot.py and
test_salesforce.py). A layout that loads less than the export (dlt's sources have no history, splits or
activities) is compared with the export without those files.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from smarketing.connectors import HubSpotExport, SalesforceExport, load_connector
from smarketing.connectors._warehouse_read import money_text
from smarketing.connectors.warehouse import LAYOUTS, Warehouse
from smarketing.datasets import (
    SALESFORCE_CUSTOM_FIELDS,
    synthetic,
    write_hubspot_export,
    write_salesforce_export,
)
from smarketing.datasets.hubspot_export import record_id
from smarketing.errors import DataError, LoadError
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset
from smarketing.testing import ConnectorContract
from smarketing.testing.contract import difference

from .warehouse_tables import HubSpotExportTables, hubspot_tables, salesforce_tables, write

pytest.importorskip("duckdb")

PLAN = load_plan(Path(__file__).parents[2] / "examples" / "plan.yaml")
FORMS = ("duckdb", "parquet")
#: What dlt's sources do not load, by layout: the export files left out of the expected load.
NOT_LOADED = {
    "dlt-salesforce": ("LeadHistory", "OpportunityHistory", "OpportunitySplit", "OpportunitySplitType"),
    "dlt-hubspot": ("calls", "emails", "meetings"),
}


@cache
def _dataset(n_leads: int = 40, seed: int = 5) -> Dataset:
    return synthetic(PLAN, seed=seed, n_leads=n_leads)


def _export(layout: str, root: Path) -> Path:
    """The synthetic dataset written as the export of the layout's CRM, in ``root/export``."""
    folder = root / "export"
    if layout.endswith("salesforce"):
        write_salesforce_export(PLAN, _dataset(), folder, seed=2)
    else:
        write_hubspot_export(PLAN, _dataset(), folder, seed=2, time_zone="UTC")
    return folder


def _expected(layout: str, folder: Path, root: Path) -> Dataset:
    """The export connector's load of ``folder``, without the files the layout's tool does not load."""
    kept = root / "expected"
    shutil.copytree(folder, kept)
    for name in NOT_LOADED.get(layout, ()):
        (kept / f"{name}.csv").unlink(missing_ok=True)
    if layout.endswith("salesforce"):
        return SalesforceExport(path=kept, plan=PLAN, fields=SALESFORCE_CUSTOM_FIELDS).load().dataset
    return HubSpotExport(path=kept, time_zone="UTC", plan=PLAN).load().dataset


def _tables(layout: str, folder: Path, **options: object) -> dict[str, pl.DataFrame]:
    if layout.endswith("salesforce"):
        return salesforce_tables(folder, layout, **options)  # type: ignore[arg-type]
    return hubspot_tables(HubSpotExportTables(folder, PLAN, **options), layout)  # type: ignore[arg-type]


def _connector(path: Path, layout: str | None, **options: object) -> Warehouse:
    fields = SALESFORCE_CUSTOM_FIELDS if (layout or "").endswith("salesforce") else None
    return Warehouse(path=path, layout=layout, plan=PLAN, fields=fields, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_loads_what_the_export_loads(layout: str, form: str, tmp_path: Path) -> None:
    folder = _export(layout, tmp_path)
    want = _expected(layout, folder, tmp_path)
    path = write(_tables(layout, folder), tmp_path / "tables", form=form)
    data, report = _connector(path, layout).load()
    assert report.ok
    assert report.connector == "warehouse"
    assert difference(want, data, names=("export", "warehouse")) == []
    assert data.leads.height == _dataset().leads.height
    # The layout is told from the tables when not given.
    auto, _ = _connector(path, None).load() if layout.endswith("hubspot") else (data, report)
    assert difference(data, auto) == []


@pytest.mark.parametrize("layout", [lay for lay in LAYOUTS if lay.endswith("hubspot")])
def test_a_property_history_table_gives_the_native_stage_history(layout: str, tmp_path: Path) -> None:
    folder = _export(layout, tmp_path)
    export = HubSpotExportTables(folder, PLAN)
    ds = _dataset()
    history = export.history(PLAN, ds.stage_events, ds.leads)
    path = write(hubspot_tables(export, layout, history=history), tmp_path / "tables", form="duckdb")
    data, report = _connector(path, layout).load()
    assert report.provenance is not None
    assert report.provenance.stage_history == "native"
    assert any("(native, covering " in n for n in report.provenance.notes)
    want = ds.stage_events.with_columns(pl.col("lead_id").map_elements(record_id, return_dtype=pl.String))
    if layout == "airbyte-hubspot":  # Airbyte keeps the history's times in epoch milliseconds
        want = want.with_columns(pl.col("time").dt.truncate("1ms"))
    key = ["lead_id", "time", "to"]
    got = data.stage_events.select("lead_id", "from", "to", "time").sort(key)
    assert got.to_dicts() == want.select("lead_id", "from", "to", "time").sort(key).to_dicts()


def test_a_history_that_starts_after_the_data_is_warned_of(tmp_path: Path) -> None:
    layout = "fivetran-hubspot"
    folder = _export(layout, tmp_path)
    export = HubSpotExportTables(folder, PLAN)
    ds = _dataset()
    history = export.history(PLAN, ds.stage_events, ds.leads)
    late = history.filter(pl.col("timestamp") > history.get_column("timestamp").median())
    path = write(hubspot_tables(export, layout, history=late), tmp_path / "tables", form="parquet")
    _, report = _connector(path, layout).load(strict=False)
    assert report.provenance is not None
    assert report.provenance.stage_history == "mixed"
    assert any(n.startswith("warning: contact_property_history starts at") for n in report.provenance.notes)


def test_times_written_as_iso_text_with_an_offset_are_read(tmp_path: Path) -> None:
    layout = "airbyte-hubspot"
    folder = _export(layout, tmp_path)
    want = _expected(layout, folder, tmp_path)
    tables = hubspot_tables(HubSpotExportTables(folder, PLAN), layout)
    contacts = tables["contacts"]
    text = (
        pl.col("properties_createdate")
        .dt.convert_time_zone("Europe/Berlin")
        .dt.to_string("%Y-%m-%dT%H:%M:%S%:z")
    )
    tables["contacts"] = contacts.with_columns(text.alias("properties_createdate"))
    path = write(tables, tmp_path / "tables", form="parquet")
    data, _ = _connector(path, layout).load()
    assert difference(want, data) == []


def test_hubspot_call_outcome_ids_are_read_as_their_outcomes(tmp_path: Path) -> None:
    layout = "airbyte-hubspot"
    folder = _export(layout, tmp_path)
    tables = hubspot_tables(HubSpotExportTables(folder, PLAN), layout)
    calls = tables["engagements_calls"]
    ids = ["73a0d17f-1163-4015-bdd5-ec830791da20", "0c1d-custom"] + [None] * (calls.height - 2)
    tables["engagements_calls"] = calls.with_columns(pl.Series("properties_hs_call_disposition", ids))
    path = write(tables, tmp_path / "tables", form="parquet")
    data, _ = _connector(path, layout, outcomes={"0c1d-custom": "meeting_booked"}).load()
    first, second = calls.get_column("id").head(2).to_list()
    outcome = dict(data.activities.select("id", "outcome").iter_rows())
    assert (outcome[first], outcome[second]) == ("no_answer", "meeting_booked")


# --------------------------------------------------------------------------------------------------
# Deletions and re-syncs.


def _salesforce_path(tmp_path: Path, layout: str, change: object = None, *, form: str = "duckdb") -> Path:
    folder = _export(layout, tmp_path)
    tables = salesforce_tables(folder, layout)
    if callable(change):
        change(tables)
    return write(tables, tmp_path / "tables", form=form)


def test_deleted_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    def delete(tables: dict[str, pl.DataFrame]) -> None:
        lead = tables["lead"]
        ghost = lead.head(2).with_columns(
            pl.Series("id", ["00Q000000000zzzAAA", "00Q000000000zzyAAA"]),
            pl.Series("_fivetran_deleted", [True, False]),
            pl.Series("is_deleted", [False, True]),
        )
        tables["lead"] = pl.concat([lead, ghost])

    path = _salesforce_path(tmp_path, "fivetran-salesforce", delete)
    data, report = _connector(path, "fivetran-salesforce").load()
    assert data.leads.height == _dataset().leads.height
    assert report.provenance is not None
    notes = "\n".join(report.provenance.notes)
    assert "lead: 1 deleted row(s) (_fivetran_deleted) not read" in notes
    assert "lead: 1 row(s) with IsDeleted = true (in the recycle bin) are not read" in notes


@pytest.mark.parametrize("flag", ["archived", "_ab_cdc_deleted_at"])
def test_archived_hubspot_contacts_are_dropped_and_counted(flag: str, tmp_path: Path) -> None:
    layout = "airbyte-hubspot"
    folder = _export(layout, tmp_path)
    tables = hubspot_tables(HubSpotExportTables(folder, PLAN), layout)
    contacts = tables["contacts"]
    ghost = contacts.head(1).with_columns(pl.lit("999999").alias("id"))
    ghost = ghost.with_columns(
        pl.lit(True).alias("archived") if flag == "archived" else pl.col("_airbyte_extracted_at").alias(flag)
    )
    if flag != "archived":
        contacts = contacts.with_columns(pl.lit(None, ghost.schema[flag]).alias(flag))
    tables["contacts"] = pl.concat([contacts, ghost])
    path = write(tables, tmp_path / "tables", form="parquet")
    data, report = _connector(path, layout).load()
    assert "999999" not in data.leads.get_column("id").to_list()
    assert report.provenance is not None
    assert f"contacts: 1 deleted row(s) ({flag}) not read" in report.provenance.notes


def test_a_re_synced_record_is_read_once_in_its_latest_version(tmp_path: Path) -> None:
    def resync(tables: dict[str, pl.DataFrame]) -> None:
        lead = tables["lead"]
        first = lead.head(1)
        older = first.with_columns(
            pl.col("_fivetran_synced") - timedelta(days=3), pl.lit("Stale title").alias("title")
        )
        newer = first.with_columns(
            pl.col("_fivetran_synced") + timedelta(days=3), pl.lit("Fresh title").alias("title")
        )
        tables["lead"] = pl.concat([older, lead, newer])

    path = _salesforce_path(tmp_path, "fivetran-salesforce", resync, form="parquet")
    data, report = _connector(path, "fivetran-salesforce").load()
    assert data.leads.height == _dataset().leads.height
    first = salesforce_tables(tmp_path / "export", "fivetran-salesforce")["lead"].get_column("id")[0]
    titles = data.leads.filter(pl.col("id").str.starts_with(first[:15])).get_column("title").to_list()
    assert titles == ["Fresh title"]
    assert report.provenance is not None
    assert any(
        n.startswith("lead: 2 older version(s) of re-synced records dropped") for n in report.provenance.notes
    )


# --------------------------------------------------------------------------------------------------
# Money.


@pytest.mark.parametrize("layout", ["fivetran-salesforce", "fivetran-hubspot"])
def test_float_amounts_exact_in_minor_units_are_read_exactly(layout: str, tmp_path: Path) -> None:
    folder = _export(layout, tmp_path)
    want = _expected(layout, folder, tmp_path)
    path = write(_tables(layout, folder, float_amounts=True), tmp_path / "tables", form="duckdb")
    data, _ = _connector(path, layout).load()
    assert difference(want, data) == []


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234.5, "EUR", "1234.50"),
        (0.1, "EUR", "0.10"),
        (19.99, "USD", "19.99"),
        (1200.0, "JPY", "1200"),
        (1.234, "BHD", "1.234"),
        (1e20, "EUR", "100000000000000000000.00"),
        (1234.5678, "EUR", None),
        (0.1 + 0.2, "EUR", None),
        (12.5, "JPY", None),
        (float("nan"), "EUR", None),
        (float("inf"), "EUR", None),
        (10.0, "XXX", None),
        (10.0, None, None),
    ],
)
def test_a_float_is_read_only_when_exact_in_minor_units(
    amount: float, currency: str | None, text: str | None
) -> None:
    frame = pl.DataFrame({"id": ["D1"], "amount": [amount], "code": [currency]})
    if text is None:
        with pytest.raises(DataError, match=r"^deal: amount: record D1: "):
            money_text(frame, "deal", "amount", ident="id", currency_column="code")
        return
    got = money_text(frame, "deal", "amount", ident="id", currency_column="code")
    assert got.get_column("amount").to_list() == [text]
    assert Decimal(text) == Decimal(repr(amount))


def test_a_float_amount_that_is_not_exact_names_table_column_and_record(tmp_path: Path) -> None:
    def inexact(tables: dict[str, pl.DataFrame]) -> None:
        opp = tables["opportunity"]
        amounts = opp.get_column("amount").cast(pl.Float64).to_list()
        amounts[0] = 1234.5678
        tables["opportunity"] = opp.with_columns(pl.Series("amount", amounts, dtype=pl.Float64))

    path = _salesforce_path(tmp_path, "fivetran-salesforce", inexact)
    first = pl.read_csv(tmp_path / "export" / "Opportunity.csv", infer_schema=False).get_column("Id")[0]
    with pytest.raises(DataError, match=rf"opportunity: amount: record {first}: the float amount 1234.5678"):
        _connector(path, "fivetran-salesforce").load()


# --------------------------------------------------------------------------------------------------
# Errors.


def test_a_missing_core_table_or_a_wrong_layout_is_a_clear_error(tmp_path: Path) -> None:
    path = _salesforce_path(tmp_path, "fivetran-salesforce", lambda t: t.pop("lead"))
    with pytest.raises(DataError, match=r"no lead table, so not the fivetran-salesforce layout \(tables: "):
        _connector(path, "fivetran-salesforce").load()
    with pytest.raises(
        DataError, match="contact: none of the columns the fivetran-hubspot layout's core table"
    ):
        _connector(path, "fivetran-hubspot").load()
    with pytest.raises(DataError, match="no layout fits these tables"):
        _connector(path, None).load()


def test_tables_of_two_layouts_need_a_layout(tmp_path: Path) -> None:
    folder = _export("fivetran-salesforce", tmp_path)
    tables = salesforce_tables(folder, "fivetran-salesforce")
    tables["contacts"] = pl.DataFrame({"id": ["1"], "hs_object_id": ["1"], "_dlt_id": ["x"]})
    path = write(tables, tmp_path / "tables", form="parquet")
    with pytest.raises(
        DataError, match=r"fit several layouts \(dlt-hubspot, fivetran-salesforce\); pass layout="
    ):
        _connector(path, None).load()


def test_a_column_of_the_wrong_type_is_refused_where_it_is(tmp_path: Path) -> None:
    def boolean(tables: dict[str, pl.DataFrame]) -> None:
        lead = tables["lead"]
        tables["lead"] = lead.with_columns(pl.lit(True).alias("created_date"))

    path = _salesforce_path(tmp_path, "fivetran-salesforce", boolean)
    with pytest.raises(LoadError, match=r"lead#1: lead \w+: created_date: 'true' is not"):
        _connector(path, "fivetran-salesforce").load()


def test_a_nested_column_is_named(tmp_path: Path) -> None:
    def nested(tables: dict[str, pl.DataFrame]) -> None:
        lead = tables["lead"]
        tables["lead"] = lead.with_columns(pl.struct(pl.col("title")).alias("title"))

    path = _salesforce_path(tmp_path, "fivetran-salesforce", nested, form="parquet")
    with pytest.raises(DataError, match="lead: title: a Struct"):
        _connector(path, "fivetran-salesforce").load()
    # Lenient: the table is one refusal naming it, and the load goes on (its contacts are still read).
    data, report = _connector(path, "fivetran-salesforce").load(strict=False)
    assert data.leads.height < _dataset().leads.height
    named = [r for r in report.refusals if r.source == "lead" and r.record is None]
    assert [r.reason for r in named] == [
        "title: a Struct({'title': String}) column cannot be read as one value"
    ]


def test_a_duckdb_schema_is_chosen_by_name(tmp_path: Path) -> None:
    folder = _export("fivetran-hubspot", tmp_path)
    tables = hubspot_tables(HubSpotExportTables(folder, PLAN), "fivetran-hubspot")
    path = write(tables, tmp_path / "tables", form="duckdb", schema="hubspot")
    data, report = _connector(path, None, schema="hubspot").load()
    assert data.leads.height == _dataset().leads.height
    assert report.provenance is not None
    assert "not read (no object this connector maps): engagement" in report.provenance.notes
    with pytest.raises(DataError, match=r"no schema 'crm' \(schemas with tables: hubspot\)"):
        _connector(path, None, schema="crm").load()


def test_options_are_checked_when_the_connector_is_made() -> None:
    with pytest.raises(ValueError, match="layout: 'stitch-hubspot' is not one of"):
        Warehouse(path="x", layout="stitch-hubspot")
    with pytest.raises(ValueError, match="fields: custom fields are read from Salesforce layouts only"):
        Warehouse(path="x", layout="dlt-hubspot", fields={"Lead.Region__c": "region"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Warehouse(path="no/such/place", layout="dlt-hubspot").load()


def test_the_registry_makes_it(tmp_path: Path) -> None:
    path = _salesforce_path(tmp_path, "airbyte-salesforce")
    connector = load_connector("warehouse", path=str(path), layout="airbyte-salesforce", plan=PLAN)
    data, report = connector.load()
    assert report.ok
    assert data.leads.height == _dataset().leads.height


# --------------------------------------------------------------------------------------------------
# The connector contract, for each layout.


@cache
def _built(layout: str) -> Path:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix=f"warehouse-{layout}-"))
    folder = _export(layout, root)
    return write(_tables(layout, folder), root / "tables", form="parquet")


def _contract(layout: str) -> type[ConnectorContract]:
    class Contract(ConnectorContract):
        plan: AlignmentPlan = PLAN

        def make_connector(self) -> Warehouse:
            return _connector(_built(layout), layout)

    Contract.__name__ = f"TestContract_{layout.replace('-', '_')}"
    return Contract


TestContractDltHubSpot = _contract("dlt-hubspot")
TestContractAirbyteHubSpot = _contract("airbyte-hubspot")
TestContractFivetranHubSpot = _contract("fivetran-hubspot")
TestContractDltSalesforce = _contract("dlt-salesforce")
TestContractAirbyteSalesforce = _contract("airbyte-salesforce")
TestContractFivetranSalesforce = _contract("fivetran-salesforce")
