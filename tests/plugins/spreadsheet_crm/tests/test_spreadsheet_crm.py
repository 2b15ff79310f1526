"""The spreadsheet CRM connector's own test suite: smarketing's connector contract, and a few of its own.

The contract runs on the connector as users get it: found by name through its installed entry point.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from spreadsheet_crm import EXAMPLE, SpreadsheetCRM

from smarketing.connectors import Source, connector_info, load_connector
from smarketing.errors import DataError, LoadError
from smarketing.plan import load_plan
from smarketing.testing import ConnectorContract

PLAN = load_plan(Path(__file__).resolve().parents[4] / "examples" / "plan.yaml")
BERLIN = ZoneInfo("Europe/Berlin")
#: The plan's people by name: the workbook names owners, the plan gives them ids.
OWNERS = {person.name: person.id for person in PLAN.people}


def spreadsheet(path: Path = EXAMPLE) -> Source:
    return load_connector("spreadsheet-crm", path=path, time_zone="Europe/Berlin", owners=OWNERS)


class TestSpreadsheetCRM(ConnectorContract):
    plan = PLAN
    change_windows = tuple(
        datetime(2026, month, day, tzinfo=BERLIN)
        for month, day in ((9, 1), (10, 1), (10, 15), (11, 1), (12, 1))
    )

    def make_connector(self) -> Source:
        return spreadsheet()

    def make_connector_pair(self) -> tuple[Source, Source]:
        # Two extracts: the workbook as shipped and a copy of it somewhere else.
        copy = Path(self.tmp) / "copy"
        shutil.copytree(EXAMPLE, copy, dirs_exist_ok=True)
        return spreadsheet(), spreadsheet(copy)

    def current_stages(self) -> dict[str, str]:
        connector = spreadsheet()
        assert isinstance(connector, SpreadsheetCRM)
        return connector.current_stages()

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path


def test_found_through_its_entry_point() -> None:
    info = connector_info("spreadsheet-crm")
    assert info.origin == "smarketing-spreadsheet-crm"
    assert [o.name for o in info.options] == ["path", "time_zone", "stages", "owners"]
    assert info.option("time_zone") is not None
    assert info.option("time_zone").required  # type: ignore[union-attr]


def test_report_lists_the_maps_it_applied() -> None:
    _, report = spreadsheet().load()
    applied = {(m.column, m.source_value): m.value for m in report.mappings}
    assert applied[("stage", "Won")] == "won"
    assert applied[("to", "Closed Lost")] == "closed_lost"
    assert applied[("owner", "Sara Lind")] == "sara.lind"
    assert report.provenance is not None
    assert report.provenance.stage_history == "native"


def test_a_bad_row_is_refused_with_its_sheet_and_line(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)
    deals = tmp_path / "Deals.csv"
    deals.write_text(deals.read_text().replace("Won,2026-09-22 10:00", "Won,yesterday"))
    with pytest.raises(
        LoadError, match=r"Deals.csv:2: deal D-501: Created: 'yesterday' is not an ISO 8601 time"
    ):
        spreadsheet(tmp_path).load()
    data, report = spreadsheet(tmp_path).load(strict=False)
    assert report.refused >= 1
    assert "D-501" not in data.deals["id"].to_list()


def test_a_bad_modified_at_is_named(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path, dirs_exist_ok=True)
    splits = tmp_path / "Splits.csv"
    splits.write_text(splits.read_text().replace("0.3,2026-10-28 16:00", "0.3,soon"))
    connector = spreadsheet(tmp_path)
    assert isinstance(connector, SpreadsheetCRM)
    with pytest.raises(DataError, match=r"Splits.csv:3: modified_at: 'soon' is not a time"):
        connector.load_changes(
            since=datetime(2026, 1, 1, tzinfo=BERLIN), until=datetime(2027, 1, 1, tzinfo=BERLIN)
        )


def test_a_missing_workbook_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such workbook folder"):
        spreadsheet(tmp_path / "nothing")
