"""The ``files`` connector on the example CRM export passes the connector contract plugin authors use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from smarketing.connectors import Source, load_connector
from smarketing.plan import load_plan
from smarketing.testing import ConnectorContract

ROOT = Path(__file__).resolve().parents[2]
CRM = ROOT / "examples" / "crm"


def files(path: Path) -> Source:
    return load_connector("files", path=path, time_zone="Europe/Berlin", thousands=",")


class TestFilesConnector(ConnectorContract):
    plan = load_plan(ROOT / "examples" / "plan.yaml")

    def make_connector(self) -> Source:
        return files(CRM)

    def make_connector_pair(self) -> tuple[Source, Source]:
        copy = self.tmp / "copy"
        shutil.copytree(CRM, copy)
        return files(CRM), files(copy)

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
