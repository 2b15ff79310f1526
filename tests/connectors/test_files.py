"""The ``files`` connector: round trips in every format, user headers and values, hostile files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.connectors import FilesConnector
from smarketing.errors import DataError, LoadError
from smarketing.records import Dataset

from .conftest import text_frames

Example = Callable[[int, int], Dataset]


def write(folder: Path, data: Dataset, suffix: str) -> None:
    """CSV and JSON Lines as text; Parquet typed as the dataset holds it (splits one per row, as text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, frame in text_frames(data).items():
        file = folder / f"{kind}{suffix}"
        if suffix == ".csv":
            frame.write_csv(file)
        elif suffix == ".jsonl":
            frame.write_ndjson(file)
        elif kind == "deal_splits":
            frame.write_parquet(file)
        else:
            typed = data.frames()[kind]
            (typed.drop("splits") if kind == "deals" else typed).write_parquet(file)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    n_leads=st.integers(1, 40),
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
)
def test_a_dataset_written_to_files_comes_back_equal(
    tmp_path_factory: pytest.TempPathFactory, example: Example, seed: int, n_leads: int, suffix: str
) -> None:
    original = example(seed, n_leads)
    folder = tmp_path_factory.mktemp("export")
    write(folder, original, suffix)
    data, report = FilesConnector(path=folder).load()
    assert report.ok
    for kind, frame in original.frames().items():
        assert data.frames()[kind].equals(frame), kind


def test_user_headers_and_values_are_mapped_and_listed(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(
        "Deal ID,Deal Stage,Amount,Created\n"
        'D1,Closed Won,"6,000.00",2026-10-01 09:00\n'
        "D2,Appointment Scheduled,250,2026-10-02 09:00\n"
    )
    connector = FilesConnector(
        path=tmp_path,
        columns={
            "deals": {"Deal ID": "id", "Deal Stage": "stage", "Amount": "amount", "Created": "created_at"}
        },
        values={"stage": {"Closed Won": "won", "Appointment Scheduled": "open"}},
        time_zone="America/Chicago",
        currency="USD",
        thousands=",",
        decimal=".",
    )
    data, report = connector.load(strict=False)
    assert [str(r) for r in report.refusals] == [
        "deals.csv:2: deal D1: close_date: a won or lost deal needs a close_date"
    ]
    assert data.deals.select("id", "stage", "amount_currency").rows() == [("D2", "open", "USD")]
    assert [str(m) for m in report.mappings] == [
        "Deal Stage: 'Appointment Scheduled' -> 'open' (1 row(s))",
        "Deal Stage: 'Closed Won' -> 'won' (1 row(s))",
    ]
    assert [d.rows for d in report.defaults] == [2]


def test_lines_count_quoted_cells_that_span_lines(tmp_path: Path) -> None:
    (tmp_path / "dispositions.csv").write_text(
        "lead_id,reason,time,note\n"
        'L1,no_budget,2026-10-01T09:00:00Z,"first line\nsecond line"\n'
        "L2,,2026-10-01T09:00:00Z,\n"
    )
    _, report = FilesConnector(path=tmp_path).load(strict=False)
    assert [str(r) for r in report.refusals] == [
        "dispositions.csv:4: disposition L2: reason: required value is missing"
    ]


def test_files_that_are_not_records_are_listed_in_the_notes(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("id,created_at\nL1,2026-10-01T09:00:00Z\n")
    (tmp_path / "README.txt").write_text("hello")
    _, report = FilesConnector(path=tmp_path).load()
    assert report.provenance is not None
    assert report.provenance.notes == ("not read (no record kind in the name): README.txt",)


def test_explicit_paths_name_the_kind(tmp_path: Path) -> None:
    file = tmp_path / "contacts-2026.csv"
    file.write_text("id,created_at\nL1,2026-10-01T09:00:00Z\n")
    data, _ = FilesConnector(paths={"leads": file}).load()
    assert data.leads.height == 1
    with pytest.raises(ValueError, match="does not say its record kind"):
        FilesConnector(path=file).load()
    with pytest.raises(ValueError, match="unknown record kind"):
        FilesConnector(paths={"contacts": file})


# --------------------------------------------------------------------------------------------------
# Hostile files: each a located error, never a traceback from a parser, never a silent drop.

LEADS = "id,created_at\nL1,2026-10-01T09:00:00Z\nL2,2026-10-02T09:00:00Z\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leads.csv", b"", "leads.csv: is empty (not even a header line)"),
        (
            "leads.csv",
            b"id,created_at\nL1,2026-10-01T09:00:00Z\nL2,2026-10",
            "leads.csv:3: lead L2: created_at: '2026-10' is not an ISO 8601 time",
        ),
        (
            "leads.csv",
            b"id,created_at\nL1,2026-10-01T09:00:00Z\nL2\n",
            "leads.csv:3: has 1 field(s), the header has 2 (cut short?)",
        ),
        (
            "leads.csv",
            b'id,created_at\nL1,"2026-10-01T09:00:00Z\n',
            "leads.csv:2: unexpected end of data (cut short?)",
        ),
        (
            "leads.csv",
            b"id,created_at\nL1,2026-10-01T09:00:00Z,extra\n",
            "leads.csv:2: has 3 field(s), the header has 2",
        ),
        ("leads.csv", b"id,id\nL1,L2\n", "leads.csv:1: column 'id' appears twice"),
        ("leads.csv", b"id,,created_at\nL1,,x\n", "leads.csv:1: column 2 has no name"),
        (
            "leads.csv",
            b"id,created_at\nL\xe9on,2026-10-01T09:00:00Z\n",
            "leads.csv:2: byte 0xe9 is not utf-8 text",
        ),
        ("leads.csv", b"PAR1xxxxPAR1", "leads.csv: is a Parquet file, not text"),
        ("leads.csv", b"PK\x03\x04", "leads.csv: is a ZIP archive (an Excel workbook?)"),
        (
            "leads.jsonl",
            b'{"id": "L1", "created_at": "2026-10-01T09:00:00Z"}\n{"id": ',
            "leads.jsonl:2: not JSON",
        ),
        ("leads.jsonl", b'["L1"]\n', "leads.jsonl:1: expected a JSON object, not list"),
        ("deals.jsonl", b'{"id": "D1", "amount": 6000.1}\n', "deals.jsonl:1: amount: is a fractional number"),
        ("leads.parquet", b"id,created_at\n", "leads.parquet: is not a parquet file"),
        ("leads.parquet", b"PAR1\x00\x00", "leads.parquet: is not a complete parquet file"),
    ],
)
def test_a_broken_file_is_a_located_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        FilesConnector(path=tmp_path).load()
    assert message in str(caught.value)


def test_a_csv_with_a_million_columns_is_refused_quickly(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(10**6))
    (tmp_path / "leads.csv").write_text(header + "\n")
    with pytest.raises(DataError, match=r"leads.csv:1: has 1,000,000 columns; at most 5,000 are read"):
        FilesConnector(path=tmp_path).load()


def test_other_encodings_and_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_bytes(
        "id,created_at,title\nL1,2026-10-01T09:00:00Z,Gérante\n".encode("cp1252")
    )
    data, _ = FilesConnector(path=tmp_path, encoding="cp1252").load()
    assert data.leads.get_column("title").to_list() == ["Gérante"]
    (tmp_path / "leads.csv").write_bytes(b"\xef\xbb\xbf" + LEADS.encode())
    data, _ = FilesConnector(path=tmp_path).load()
    assert data.leads.get_column("id").to_list() == ["L1", "L2"]
    with pytest.raises(ValueError, match="not a text encoding"):
        FilesConnector(path=tmp_path, encoding="klingon").load()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_folder_never_blocks(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "leads.csv")
    with pytest.raises(DataError, match="is a FIFO"):
        FilesConnector(path=tmp_path).load()
    (tmp_path / "leads.csv").unlink()
    (tmp_path / "leads.csv").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        FilesConnector(path=tmp_path).load()


def test_unknown_stages_duplicates_and_bad_dates_are_listed_in_lenient_mode(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text(
        "id,created_at\nL1,2026-10-01T09:00:00Z\nL1,2026-10-01T09:00:00Z\nL3,2026-13-01\n"
    )
    (tmp_path / "stage_events.csv").write_text("lead_id,to,time\nL3,mql,2026-10-02T09:00:00Z\n")
    with pytest.raises(LoadError) as caught:
        FilesConnector(path=tmp_path).load()
    assert str(caught.value).startswith("files: 4 of 4 row(s) refused:")
    data, report = FilesConnector(path=tmp_path).load(strict=False)
    assert [str(r) for r in report.refusals] == [
        "leads.csv:2: lead L1: id: the id appears more than once",
        "leads.csv:3: lead L1: id: the id appears more than once",
        "leads.csv:4: lead L3: created_at: '2026-13-01' is not an ISO 8601 time (such as "
        "2026-10-01T09:00:00+02:00)",
        "stage_events.csv:2: stage_event L3: lead_id: lead L3 was refused",
    ]
    assert data.leads.height == 0
    assert json.loads(json.dumps(report.to_dict()))["refused"] == 4


def test_two_headers_for_one_column_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("id,Record ID,created_at\nL1,1,2026-10-01T09:00:00Z\n")
    with pytest.raises(ValueError, match="columns 'id' and 'Record ID' both give 'id'"):
        FilesConnector(path=tmp_path, columns={"Record ID": "id"}).load()
