"""Reading export files safely: CSV and JSON Lines as text with their line numbers, Parquet typed (private).

Every reader checks the file before a parser sees it (a regular file, not a folder, FIFO or device; not
empty), decodes it in the encoding given (UTF-8 by default, a byte-order mark dropped) and names the line
of the first byte that is not text in that encoding. CSV is read by polars with every column as text (types
are never inferred: the intake parses them by the records' rules) and checked for what polars would accept
silently: a row with fewer fields than the header (a file cut short), a header named twice or empty, more
columns than :data:`MAX_COLUMNS`.

Line numbers are the file's: the header is line 1, and a quoted cell spanning lines moves the lines of the
rows after it (counted exactly with Python's ``csv`` module when a line holds an odd number of quotes;
otherwise each line is a row, counted in whole columns).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.records import _parquet

__all__ = ["CHUNK", "LINE", "MAX_COLUMNS", "read_csv", "read_csv_header", "read_jsonl", "read_parquet"]

#: The column :func:`read_csv` and :func:`read_jsonl` add with each row's line in the file.
LINE = "__line"
#: More columns than this is not a CRM export (and would make the parser crawl): refused.
MAX_COLUMNS = 5_000
#: The bytes :func:`read_csv` reads at a time (then up to the end of the line).
CHUNK = 1 << 24


def _line_texts(data: bytes) -> pl.DataFrame:
    """Every line of ``data`` (which holds no NUL) whole, as the column ``text``: read by polars, unsplit."""
    return pl.read_csv(
        data,
        has_header=False,
        separator="\x00",
        quote_char=None,
        new_columns=["text"],
        infer_schema=False,
        empty_string_is_null=False,
    )


def _open(path: Path, *, empty: bool = False) -> io.BufferedReader:
    """The file opened for reading, after checking that it is a regular file, not empty unless ``empty``.

    The file is opened without blocking: one swapped for a FIFO after the check must not hang the reader.
    """
    info = _parquet.status(path)
    if info is None:
        raise DataError(f"{path}: no such file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: is {_parquet.file_type(info)}")
    if info.st_size == 0 and not empty:
        raise DataError(f"{path}: is empty (not even a header line)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None


def _bytes(path: Path, *, empty: bool = False) -> bytes:
    """The file's bytes, after the checks of :func:`_open`."""
    with _open(path, empty=empty) as file:
        try:
            return file.read()
        except OSError as error:
            raise DataError(f"{path}: cannot read: {error.strerror or error}") from None


def _text(path: Path, data: bytes, encoding: str) -> str:
    """The file decoded; the first undecodable byte is named with its line."""
    if data.startswith(b"PAR1"):
        raise DataError(f"{path}: is a Parquet file, not text; name it .parquet")
    if data.startswith(b"PK"):
        raise DataError(f"{path}: is a ZIP archive (an Excel workbook?); export the sheet as CSV")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex()
        hint = "; pass encoding= the file's encoding (such as 'cp1252' or 'latin-1')"
        raise DataError(f"{path}:{line}: byte 0x{byte} is not {encoding} text{hint}") from None
    except LookupError:
        raise ValueError(f"encoding: {encoding!r} is not a text encoding Python knows") from None
    return text.removeprefix("\ufeff")


#: Encodings that write ASCII text as ASCII bytes: a file of only such bytes is the same text in UTF-8.
_ASCII_COMPATIBLE = frozenset(
    ["utf-8", "utf-8-sig", "ascii", "mac-roman"]
    + [f"iso8859-{n}" for n in range(1, 17)]
    + [f"cp{n}" for n in range(1250, 1259)]
)


def _utf8(path: Path, data: bytes, encoding: str) -> bytes:
    """The file's text as UTF-8 bytes without a byte-order mark, for polars' reader.

    Text in UTF-8 (or plain ASCII in an encoding that writes ASCII as it is) is only checked, not
    decoded and encoded again; any other text is decoded (naming the first byte that is not
    ``encoding``) and written as UTF-8.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"encoding: {encoding!r} is not a text encoding Python knows") from None
    if codec in _ASCII_COMPATIBLE and data.isascii():
        _text(path, data[:4], encoding)  # Parquet or a ZIP archive named as CSV
        return data
    text = _text(path, data, encoding)
    if codec in ("utf-8", "utf-8-sig"):
        return data.removeprefix(codecs.BOM_UTF8)
    return text.encode("utf-8")


def _header(path: Path, text: str, separator: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text[: text.find("\n") + 1 or len(text)]), delimiter=separator), [])
    if len(first) > MAX_COLUMNS:
        raise DataError(f"{path}:1: has {len(first):,} columns; at most {MAX_COLUMNS:,} are read")
    seen: set[str] = set()
    for index, name in enumerate(first, start=1):
        if not name.strip():
            raise DataError(f"{path}:1: column {index} has no name")
        if name in seen:
            raise DataError(f"{path}:1: column {name!r} appears twice")
        seen.add(name)
    return first


def _csv_lines(path: Path, text: str, separator: str, width: int) -> list[int]:
    """The line each row starts on, checking that every row has the header's number of fields."""
    reader = csv.reader(io.StringIO(text), delimiter=separator, strict=True)
    lines: list[int] = []
    start = 1
    try:
        for index, fields in enumerate(reader):
            if index and fields:  # the header, and blank lines, hold no row
                if len(fields) != width:
                    raise DataError(_ragged(path, start, len(fields), width))
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: {error} (cut short?)") from None
    return lines


def _ragged(path: Path, line: int, fields: int, width: int) -> str:
    cut = " (cut short?)" if fields < width else ""
    return f"{path}:{line}: has {fields} field(s), the header has {width}{cut}"


def _row_lines(path: Path, body: bytes, separator: str, width: int) -> pl.Series | None:
    """The line each row starts on, checking every row's number of fields, in whole columns.

    The file is read once more as lines (polars' reader with a separator the file does not hold), and the
    separators of each line are counted, those inside quotes left out. ``None`` when a line holds an odd
    number of quotes (a quoted cell spans lines) or the file holds a NUL byte: :func:`_csv_lines` then
    counts them with Python's ``csv`` module.
    """
    if b"\x00" in body:
        return None
    texts = _line_texts(body)
    rows = texts.with_row_index("line", offset=1).slice(1).filter(pl.col("text") != "")
    text = pl.col("text")
    if b'"' in body:
        if rows.select((text.str.count_matches('"', literal=True) % 2 == 1).any()).item():
            return None
        # A quote opens a quoted cell only at the start of a field (a quote inside a cell is text, as
        # polars and Python's csv read it): those cells go, with their separators inside.
        text = text.str.replace_all(rf'(^|{re.escape(separator)})"(?:[^"]|"")*"', "${1}")
    fields = text.str.count_matches(separator, literal=True) + 1
    bad = rows.filter(fields != width).head(1).with_columns(fields.alias("fields"))
    if bad.height:
        raise DataError(_ragged(path, bad.item(0, "line"), bad.item(0, "fields"), width))
    return rows.get_column("line").cast(pl.Int64).alias(LINE)


def read_csv(
    path: Path,
    *,
    encoding: str = "utf-8",
    separator: str = ",",
    keep: Callable[[str], bool] | None = None,
    chunk: int = CHUNK,
) -> pl.DataFrame:
    """A CSV file as text columns, with :data:`LINE` holding each row's line.

    ``keep`` chooses the columns returned (all by default; every column is still read and checked).
    The file is read ``chunk`` bytes at a time (a whole number of lines each) while each row is one line
    and every row has the header's fields; otherwise it is read whole and its lines counted.

    Raises:
        DataError: The file is missing, empty, not text in ``encoding``, has a header named twice or
            empty, too many columns, or a row with more or fewer fields than the header.
    """
    frame = read_csv_header(path, encoding=encoding, separator=separator, keep=keep, chunk=chunk)[0]
    return frame


def read_csv_header(
    path: Path,
    *,
    encoding: str = "utf-8",
    separator: str = ",",
    keep: Callable[[str], bool] | None = None,
    chunk: int = CHUNK,
) -> tuple[pl.DataFrame, list[str]]:
    """:func:`read_csv`, and the file's header (every column, those not kept too)."""
    fast = _read_chunks(path, encoding, separator, keep, chunk)
    if fast is not None:
        return fast
    frame = _read_whole(path, encoding, separator)
    names = [c for c in frame.columns if c != LINE]
    if keep is not None:
        frame = frame.select(c for c in frame.columns if c == LINE or keep(c))
    return frame, names


def _read_whole(path: Path, encoding: str, separator: str) -> pl.DataFrame:
    """The file read at once, the line of each row counted in whole columns (or by Python's ``csv``)."""
    body = _utf8(path, _bytes(path), encoding)
    names = _header(path, body[: body.find(b"\n") + 1 or len(body)].decode("utf-8"), separator)
    width = len(names)
    lines = _row_lines(path, body, separator, width)
    if lines is None:
        lines = pl.Series(LINE, _csv_lines(path, body.decode("utf-8"), separator, width), pl.Int64)
    try:
        frame = pl.read_csv(body, separator=separator, infer_schema=False)
    except pl.exceptions.PolarsError as error:
        first = str(error).strip().splitlines()[0]
        raise DataError(f"{path}: cannot read this CSV file: {first}") from None
    if frame.height != len(lines):  # both readers must agree on the rows, or the lines would be wrong
        raise DataError(f"{path}: reads as {frame.height} rows but holds {len(lines)}; check its quoting")
    return frame.with_columns(lines)


def _read_chunks(
    path: Path, encoding: str, separator: str, keep: Callable[[str], bool] | None, chunk: int
) -> tuple[pl.DataFrame, list[str]] | None:
    """The file read a chunk of whole lines at a time, or ``None`` where :func:`_read_whole` must read it.

    Taken only while nothing needs the whole file: text in UTF-8 (or ASCII in an encoding that writes
    ASCII as it is), no NUL byte, a header of one line with no problem, and in each chunk one row per line
    (no quoted cell spans lines, no blank line) with the header's number of fields. A row polars pads
    (its last cell empty, so maybe cut short) has its fields counted as :func:`_row_lines` counts them.
    Anything else, such as a file with a problem, is left to :func:`_read_whole`, which names it.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"encoding: {encoding!r} is not a text encoding Python knows") from None
    utf8 = codec in ("utf-8", "utf-8-sig")
    if not utf8 and codec not in _ASCII_COMPATIBLE:
        return None
    with _open(path) as file:
        first = file.read(chunk)
        if first.startswith((b"PAR1", b"PK")):
            return None
        if utf8:
            first = first.removeprefix(codecs.BOM_UTF8)
        end = first.find(b"\n")
        if end < 0 or not _is_text(first[: end + 1], utf8) or first.count(b'"', 0, end) % 2:
            return None
        try:
            names = _header(path, first[: end + 1].decode("utf-8"), separator)
        except DataError:
            return None
        kept = [n for n in names if keep is None or keep(n)]
        frames: list[pl.DataFrame] = []
        rows = 0
        for piece in _pieces(file, first[end + 1 :], chunk):
            if not _is_text(piece, utf8) or b"\x00" in piece:
                return None
            frame = _piece(piece, separator, names)
            if frame is None or not _full_rows(piece, frame, separator, len(names)):
                return None
            lines = pl.int_range(rows + 2, rows + 2 + frame.height, dtype=pl.Int64, eager=True)
            frames.append(frame.select(kept).with_columns(lines.alias(LINE)))
            rows += frame.height
    if not frames:
        return None
    return pl.concat(frames, rechunk=False), names


def _pieces(file: io.BufferedReader, start: bytes, chunk: int) -> Iterator[bytes]:
    """The rest of the file in pieces of whole lines (the last may lack its newline)."""
    rest = start  # never holds a newline once a piece is given: the tail of the last line read
    while True:
        more = file.read(chunk)
        if not more:
            break
        cut = more.rfind(b"\n") + 1
        if not cut:
            rest += more
            continue
        # One copy per piece (bytes slices copy): the tail and this read's whole lines joined at once.
        yield b"".join((rest, memoryview(more)[:cut])) if rest or cut < len(more) else more
        rest = more[cut:]
    if rest:
        yield rest


def _is_text(data: bytes, utf8: bool) -> bool:
    """Whether the bytes are ASCII, or (``utf8``) UTF-8 text."""
    if data.isascii():
        return True
    if not utf8:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _piece(piece: bytes, separator: str, names: list[str]) -> pl.DataFrame | None:
    """One piece of whole lines read by polars, with one row per line; ``None`` when it is not so.

    Every column is parsed, those not kept too: polars refuses a row with more fields than the header
    only then (it ignores the extra fields of a row when it parses some columns).
    """
    try:
        frame = pl.read_csv(
            piece,
            has_header=False,
            schema=dict.fromkeys(names, pl.String),
            separator=separator,
            infer_schema=False,
        )
    except pl.exceptions.PolarsError:
        return None
    return frame if frame.height == _lines(piece) else None


def _lines(data: bytes) -> int:
    """The lines of ``data``, the last counted whether or not it ends in a newline."""
    ends = int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10))  # a third of bytes.count's time
    return ends + (not data.endswith(b"\n"))


def _full_rows(piece: bytes, frame: pl.DataFrame, separator: str, width: int) -> bool:
    """Whether every row whose last cell polars left empty (maybe padded) has the header's fields.

    Their lines are counted as :func:`_row_lines` counts them; a blank line, or a line with an odd
    number of quotes, is left to it too (``False``).
    """
    padded = frame.get_column(frame.columns[-1]).is_null()
    if not padded.any():
        return True
    texts = _line_texts(piece)
    if texts.height != frame.height:
        return False
    text = texts.filter(padded).get_column("text")
    if (text == "").any() or (text.str.count_matches('"', literal=True) % 2 == 1).any():
        return False
    fields = text.str.replace_all(r'"[^"]*"', "").str.count_matches(separator, literal=True) + 1
    return bool((fields == width).all())


def read_jsonl(path: Path, *, encoding: str = "utf-8") -> pl.DataFrame:
    """A JSON Lines file (one object per line) as text columns, with :data:`LINE`.

    A value must be a string, a whole number, ``true``/``false``, ``null`` or, for a list column such
    as ``tags``, an array of strings without ``;`` (read as a CSV cell writes it, ``"a;b"``); a fractional
    number is refused (JSON numbers are binary floats, which cannot hold money exactly: write
    ``"6000.10"``). An empty file holds no records (JSON Lines has no header).
    """
    text = _text(path, _bytes(path, empty=True), encoding)
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not JSON: {error.msg} (column {error.colno})") from None
        if not isinstance(value, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, not {type(value).__name__}")
        if len(value) > MAX_COLUMNS:
            raise DataError(f"{path}:{number}: has {len(value):,} fields; at most {MAX_COLUMNS:,} are read")
        rows.append({key: _json_text(path, number, key, cell) for key, cell in value.items()})
        lines.append(number)
    names = list(dict.fromkeys(key for row in rows for key in row))
    frame = pl.DataFrame(
        {n: [row.get(n) for row in rows] for n in names}, schema=dict.fromkeys(names, pl.String)
    )
    return frame.with_columns(pl.Series(LINE, lines, pl.Int64))


def _json_text(path: Path, line: int, key: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) and ";" not in item for item in value):
        return ";".join(value)  # a list column (tags, seen_by), as a CSV cell writes it
    what = "a fractional number" if isinstance(value, float) else f"a JSON {type(value).__name__}"
    raise DataError(
        f'{path}:{line}: {key}: is {what}; write it as a string ("6000.10"): JSON numbers are binary floats'
    )


def read_parquet(path: Path) -> pl.DataFrame:
    """A Parquet file as it is typed (its rows are named by record id, there are no lines).

    The checks are :func:`smarketing.records._parquet.read_parquet`'s, shared with ``Dataset.read``.
    """
    frame = _parquet.read_parquet(path, text_hint=f"a CSV file is read when named {path.stem}.csv")
    if frame is None:
        raise DataError(f"{path}: no such file")
    return frame


#: Salesforce's own spelling of a time (milliseconds, ``Z``). Polars parses a fixed-width format several times
#: faster than one with a free fraction, but leniently (a sign, a space, one-digit fields): only cells that
#: match the pattern exactly are given to it.
_MILLIS_FORMAT = "%Y-%m-%dT%H:%M:%S.%3fZ"
_MILLIS_TEXT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def millisecond_utc(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The cells written ``2026-10-01T09:00:00.000Z`` as UTC times, and a mask of the other cells given.

    Examples:
        >>> times, rest = millisecond_utc(pl.Series(["2026-10-01T09:00:00.000Z", "+2026-10-01T9:00:00.000Z"]))
        >>> times.to_list()[1], rest.to_list()
        (None, [False, True])
    """
    exact = text.str.contains(_MILLIS_TEXT).fill_null(False)
    cells = pl.select(pl.when(exact).then(text)).to_series() if not exact.all() else text
    times = cells.str.to_datetime(_MILLIS_FORMAT, strict=False, time_unit="us", time_zone="UTC", cache=False)
    return times, exact.not_() & text.is_not_null()
