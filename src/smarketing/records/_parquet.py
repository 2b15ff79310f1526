"""Reading one parquet file carefully (private): checked as a file before polars reads it.

A folder, a device or a FIFO never reaches a reader that would fail obscurely or block; an empty, foreign
(CSV, JSON, Excel) or truncated file is named with what it looks like. Shared by
:meth:`smarketing.records.Dataset.read` and the command line's ``--data``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl

from smarketing.errors import DataError

__all__ = ["IMPORT_HINT", "file_type", "looks_like", "read_parquet", "status"]

_PARQUET_MAGIC = b"PAR1"

#: How to turn CSV (or JSON Lines) files into a dataset folder, for messages about a CSV given as parquet.
IMPORT_HINT = "CSV files (named <kind>.csv) are imported once with: smarketing import files:{path} -o DIR"


def status(path: Path) -> os.stat_result | None:
    """The file's status (following links); ``None`` when it does not exist.

    Raises:
        DataError: ``path`` is a link to nothing, or cannot be looked at.
    """
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise DataError(f"{path}: is a link to {os.readlink(path)}, which does not exist") from None
        return None
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None


def file_type(info: os.stat_result) -> str:
    """What a file that is not a regular file is, as messages say it (``a FIFO (named pipe)``)."""
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_head(path: Path, info: os.stat_result) -> tuple[bytes, bytes]:
    """The first and last four bytes of a regular file, opened so that it can never block."""
    try:
        # O_NONBLOCK: were the file swapped for a FIFO after the check, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            head = file.read(4)
            file.seek(max(info.st_size - 4, 0))
            tail = file.read(4)
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    return head, tail


def read_parquet(path: Path, *, text_hint: str | None = None) -> pl.DataFrame | None:
    """One parquet file, checked before polars reads it; ``None`` when there is no such file.

    ``text_hint`` says what to do with a text file named as parquet (by default: how to import a CSV).

    Raises:
        DataError: naming ``path``: not a regular file, empty, not parquet (saying what it looks like,
            and how to import a CSV), cut short, or unreadable by polars.
    """
    info = status(path)
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: is {file_type(info)}, not a parquet file")
    if info.st_size == 0:
        raise DataError(f"{path}: is empty, not a parquet file")
    head, tail = read_head(path, info)
    if head != _PARQUET_MAGIC:
        seems = looks_like(head)
        hint = "export the data as parquet"
        if seems.startswith(("it looks like text", "it looks like JSON")):
            hint += "; " + (IMPORT_HINT.format(path=path.parent) if text_hint is None else text_hint)
        raise DataError(f"{path}: is not a parquet file ({seems}); {hint}")
    if info.st_size < 12 or tail != _PARQUET_MAGIC:
        raise DataError(f"{path}: is not a complete parquet file (its PAR1 footer is missing; cut short?)")
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataError(f"{path}: cannot read this parquet file: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    """The first line of an error from polars (which adds its query plan after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def looks_like(head: bytes) -> str:
    """What the first bytes of a file that is not parquet suggest it is."""
    if head.startswith(b"PK"):
        return "it is a ZIP archive, such as an Excel workbook"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zX", b"\x28\xb5\x2f\xfd")):
        return "it is compressed"
    if head.startswith((b"{", b"[")):
        return "it looks like JSON"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start with PAR1"
    return "it looks like text, such as CSV" if text.isprintable() else "it does not start with PAR1"
