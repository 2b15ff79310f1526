"""Reading CSV: each row's line in the file, and every row's fields counted, whichever path counts them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smarketing.connectors._read import LINE, _csv_lines, _read_whole, read_csv, read_csv_header
from smarketing.errors import DataError


def lines_of(tmp_path: Path, data: bytes, **options: str) -> list[int]:
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    return read_csv(path, **options).get_column(LINE).to_list()


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"id,name\nL1,Ann\nL2,Bob\n", [2, 3]),
        (b"id,name\r\nL1,Ann\r\nL2,Bob", [2, 3]),  # CRLF, and no newline at the end
        (b'id,name\nL1,"Roth, Felix"\nL2,"say ""hi"", then"\n', [2, 3]),  # separators inside quotes
        (b'id,name\nL1,"two\nlines"\nL2,Bob\n', [2, 4]),  # a quoted cell spanning lines moves the rest
        (b"\xef\xbb\xbfid,name\nL1,Ann\n", [2]),  # a byte-order mark
        ("id,name\nL1,José\n".encode(), [2]),
    ],
    ids=["plain", "crlf", "quoted-separators", "quoted-newline", "bom", "utf-8"],
)
def test_each_row_is_named_by_the_line_it_starts_on(tmp_path: Path, data: bytes, lines: list[int]) -> None:
    assert lines_of(tmp_path, data) == lines


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"id,name\nL1,Ann\nL2\n", "leads.csv:3: has 1 field(s), the header has 2 (cut short?)"),
        (b'id,name\nL1,"Roth, Felix"\nL2,"Bob",x\n', "leads.csv:3: has 3 field(s), the header has 2"),
        (b'id,name\nL1,"a\nb"\nL2\n', "leads.csv:4: has 1 field(s), the header has 2 (cut short?)"),
        (b"id,name\nL1,Ann\n\xff\n", "leads.csv:3: byte 0xff is not utf-8 text"),
    ],
    ids=["short", "long-after-quotes", "short-after-a-quoted-newline", "not-utf-8"],
)
def test_a_row_without_the_headers_fields_is_named_by_its_line(
    tmp_path: Path, data: bytes, message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        lines_of(tmp_path, data)


def test_other_encodings_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes("id,name\nL1,Gérante\n".encode("cp1252"))
    frame = read_csv(path, encoding="cp1252")
    assert frame.get_column("name").to_list() == ["Gérante"]
    path.write_bytes("id,name\nL1,Ann\n".encode("utf-16"))
    assert read_csv(path, encoding="utf-16").get_column("name").to_list() == ["Ann"]


_CELL = st.text(alphabet='ab ,"\n', max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(_CELL, _CELL), min_size=1, max_size=8),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_the_lines_agree_with_pythons_csv_module(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str, str]],
    quoting: int,
    newline: str,
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline, quoting=quoting)
    writer.writerow(["id", "name"])
    writer.writerows(rows)
    text = buffer.getvalue()
    expected = _csv_lines(Path("x.csv"), text, ",", 2)
    folder = tmp_path_factory.mktemp("csv")
    assert lines_of(folder, text.encode()) == expected


def _outcome(read: Callable[[], pl.DataFrame]) -> object:
    try:
        return read().rows()
    except DataError as error:
        return str(error)


_FIELD = st.sampled_from(["a", "", "b b", '"a,b"', '"x""y"', '""', "é", 'a"b', '"a"b', '"\n"', " "])
_ROW = st.lists(_FIELD, min_size=1, max_size=3).map(",".join)


@settings(max_examples=400, deadline=None)
@given(
    header=st.sampled_from(["id,name\n", "id,name,note\n", '"id","name"\r\n', "\ufeffid,name\n", "id,id\n"]),
    body=st.tuples(st.lists(_ROW, max_size=6), st.sampled_from(["\n", "\r\n"])).map(
        lambda rows: rows[1].join(rows[0])
    ),
    end=st.sampled_from([b"", b"\n", b"\n\n", b"\x00", b"\xff", b"\r\n"]),
    chunk=st.integers(min_value=1, max_value=16),
)
# A quote inside a cell is text, not the start of a quoted cell (the whole-file count once said 1 field).
@example(header="id,name\n", body='a"b,a"b', end=b"", chunk=8)
def test_reading_in_chunks_agrees_with_reading_whole(
    tmp_path_factory: pytest.TempPathFactory,
    header: str,
    body: str,
    end: bytes,
    chunk: int,
) -> None:
    """The chunked fast path gives the same rows and lines, or the same error, as the whole-file path."""
    path = tmp_path_factory.mktemp("csv") / "leads.csv"
    path.write_bytes((header + body).encode() + end)
    whole = _outcome(lambda: _read_whole(path, "utf-8", ","))
    assert _outcome(lambda: read_csv(path, chunk=chunk)) == whole


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_chunks_number_their_rows_and_keep_the_columns_asked_for(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b'id,name,note\nL1,Ann,\nL2,"Bob, Jr",x\nL3,Cy,""\n')
    frame, names = read_csv_header(path, keep=lambda c: c != "name", chunk=chunk)
    assert names == ["id", "name", "note"]
    assert frame.rows() == [("L1", None, 2), ("L2", "x", 3), ("L3", "", 4)]
    assert frame.columns == ["id", "note", LINE]


@pytest.mark.parametrize("chunk", [1, 1 << 20])
def test_a_row_with_more_fields_is_refused_when_some_columns_are_kept(tmp_path: Path, chunk: int) -> None:
    # polars ignores a row's extra fields when it parses only some columns: every column is parsed.
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,name,note\nL1,Ann,a\nL2,Bob,b,extra\nL3,Cy,c\n")
    with pytest.raises(DataError, match=re.escape("leads.csv:3: has 4 field(s), the header has 3")):
        read_csv_header(path, keep=lambda c: c == "id", chunk=chunk)
