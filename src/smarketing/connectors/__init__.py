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
#   _read.py    reading export files safely, with their line numbers
from typing import TypeAlias

from smarketing.connectors.files import FilesConnector
from smarketing.connectors.intake import RAW_KINDS, SPLIT_COLUMNS, RawFrame, intake
from smarketing.connectors.report import (
    AppliedMapping,
    Default,
    Loaded,
    LoadReport,
    Provenance,
    Refusal,
    StageHistory,
)
from smarketing.typing import Connector

#: A connector as smarketing loads it: :class:`smarketing.typing.Connector` giving :class:`Loaded`.
Source: TypeAlias = Connector[Loaded]

__all__ = [
    "AppliedMapping",
    "Default",
    "FilesConnector",
    "LoadReport",
    "Loaded",
    "Provenance",
    "RAW_KINDS",
    "RawFrame",
    "Refusal",
    "SPLIT_COLUMNS",
    "Source",
    "StageHistory",
    "intake",
]
