"""Bring your CRM: connectors read a source into a :class:`~smarketing.records.Dataset` and a load report.

A connector (:class:`smarketing.typing.Connector`) is made with its options and read with ``load()``::

    data, report = load_connector("hubspot-export", path="export/", time_zone="Europe/Berlin").load()

Every connector ends in :func:`intake`, the one columnar validation of raw tables in the canonical columns,
so each refuses bad rows the same way and names them the same way: the source file and line, the record
id, the column and the reason (:class:`Refusal`). Strict mode, the default, raises
:class:`~smarketing.errors.LoadError` when any row is refused; ``strict=False`` keeps the good rows and
lists every refused one in the :class:`LoadReport`.
"""

from __future__ import annotations

# The folder, top-down:
#   report.py   what a load did: LoadReport, Refusal, AppliedMapping, Default, Provenance, Loaded
#   intake.py   the one validation every connector ends in: RawFrame tables -> Dataset + LoadReport
#   files.py    the ``files`` connector: CSV, Parquet or JSON Lines in the canonical columns
#   hubspot.py  the ``hubspot-export`` connector: the CSV files of a HubSpot export
#   hubspot_api.py the ``hubspot`` connector: a HubSpot account read live (the [hubspot] extra)
#   _hubspot_http.py its requests: pages, search windows, batches, retries, limits, the token
#   salesforce.py  the ``salesforce-export`` connector: the CSV files of a Salesforce Data Export
#   _salesforce.py its parts: ids, times, stage and user maps, history
#   salesforce_api.py the ``salesforce`` connector: a Salesforce org read live (the [salesforce] extra)
#   _salesforce_http.py its requests: SOQL, REST pages, Bulk 2.0 jobs, retries, limits, the secrets
#   changes.py  apply_changes: an incremental load (changed records, deletions) applied to a dataset
#   _state.py   the state file of an incremental sync: a watermark per object, written at once
#   warehouse.py   the ``warehouse`` connector: HubSpot / Salesforce tables dlt, Airbyte, Fivetran load
#   _warehouse_read.py    reading DuckDB / Parquet tables: re-syncs, deletions, values as text, money
#   _warehouse_hubspot.py the HubSpot layouts -> HubSpot's own names -> the export's mapping
#   registry.py load_connector / available_connectors: built-ins and the ``smarketing.connectors`` plugins
#   _read.py    reading export files safely, with their line numbers
from typing import TypeAlias

from smarketing.connectors.changes import apply_changes
from smarketing.connectors.files import FilesConnector
from smarketing.connectors.hubspot import HubSpotExport
from smarketing.connectors.intake import RAW_KINDS, SPLIT_COLUMNS, RawFrame, intake
from smarketing.connectors.registry import (
    ConnectorInfo,
    ConnectorOption,
    available_connectors,
    connector_info,
    load_connector,
)
from smarketing.connectors.report import (
    AppliedMapping,
    Default,
    Loaded,
    LoadReport,
    Provenance,
    Refusal,
    StageHistory,
)
from smarketing.connectors.salesforce import SalesforceExport
from smarketing.typing import Connector

#: A connector as smarketing loads it: :class:`smarketing.typing.Connector` giving :class:`Loaded`.
Source: TypeAlias = Connector[Loaded]

__all__ = [
    "AppliedMapping",
    "ConnectorInfo",
    "ConnectorOption",
    "Default",
    "FilesConnector",
    "HubSpotExport",
    "LoadReport",
    "Loaded",
    "Provenance",
    "RAW_KINDS",
    "RawFrame",
    "Refusal",
    "SPLIT_COLUMNS",
    "SalesforceExport",
    "Source",
    "StageHistory",
    "apply_changes",
    "available_connectors",
    "connector_info",
    "intake",
    "load_connector",
]
