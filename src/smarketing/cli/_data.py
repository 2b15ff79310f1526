"""``--data``: one reader for every command.

Each ``<kind>.parquet`` is checked as a file before polars reads it, so that a folder, a device or a FIFO
never reaches a reader that would fail obscurely or block.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from smarketing.cli._common import CommandError, load_plan_file, synthetic_data
from smarketing.cli._text import first_line
from smarketing.errors import DataError
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS, Dataset

_PARQUET_MAGIC = b"PAR1"


def plan_and_data(args: argparse.Namespace) -> tuple[AlignmentPlan, Dataset, bool]:
    """The plan and the data of a command, and whether the data was read from ``--data``.

    The ``--data`` files are checked and read before the plan is loaded (the cheap checks first); without
    ``--data`` the data is synthetic (``--seed``, ``--leads``).
    """
    read = read_data(args) if args.data is not None else None
    plan = load_plan_file(args.plan)
    return plan, (read if read is not None else synthetic_data(plan, args)), read is not None


def read_data(args: argparse.Namespace) -> Dataset:
    """Every ``<kind>.parquet`` file in the ``--data`` folder, as a dataset."""
    return Dataset(**read_frames(args, kinds=tuple(RECORD_KINDS)))


def read_frames(
    args: argparse.Namespace,
    *,
    kinds: Sequence[str],
    need: Mapping[str, str] | None = None,
    single: str | None = None,
) -> dict[str, pl.DataFrame]:
    """The ``kinds`` read from ``--data``: a folder of ``<kind>.parquet`` files, or (for ``single``) one file.

    ``need`` maps the kinds that must be there to a hint for when one is missing. The paths read are
    kept on ``args.sources``, so that a data error found later names the file it came from.
    """
    path: Path = args.data
    info = _stat(path)
    if info is None:
        raise CommandError(f"{path}: no such {'folder' if single is None else 'parquet file or folder'}")
    if stat.S_ISDIR(info.st_mode):
        paths = {kind: path / f"{kind}.parquet" for kind in kinds}
    elif single is not None and stat.S_ISREG(info.st_mode):
        paths = {kind: path if kind == single else path.with_name(f"{kind}.parquet") for kind in kinds}
    else:
        what = "a file" if stat.S_ISREG(info.st_mode) else _file_type(info)
        raise CommandError(f"--data {path}: is {what}, not a folder of <kind>.parquet files")
    frames: dict[str, pl.DataFrame] = {}
    sources: dict[str, Path] = {}
    for kind, file in paths.items():
        frame = _read_parquet(file)
        if frame is None:
            if need is not None and kind in need:
                raise CommandError(f"{file}: no such parquet file{need[kind]}")
            continue
        frames[kind], sources[kind] = frame, file
    if not frames:
        raise CommandError(f"{path}: no <kind>.parquet files ({', '.join(kinds)})")
    args.sources = sources
    return frames


def _stat(path: Path) -> os.stat_result | None:
    """The file's status (following links); ``None`` when it does not exist."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise CommandError(f"{path}: is a link to {os.readlink(path)}, which does not exist") from None
        return None
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def _file_type(info: os.stat_result) -> str:
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


def _read_parquet(path: Path) -> pl.DataFrame | None:
    """One parquet file, checked before polars reads it; ``None`` when there is no such file."""
    info = _stat(path)
    if info is None:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: is {_file_type(info)}, not a parquet file")
    if info.st_size == 0:
        raise DataError(f"{path}: is empty, not a parquet file")
    try:
        # O_NONBLOCK: were the file swapped for a FIFO after the check, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            head = file.read(4)
            file.seek(max(info.st_size - 4, 0))
            tail = file.read(4)
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    if head != _PARQUET_MAGIC:
        raise DataError(f"{path}: is not a parquet file ({_looks_like(head)}); export the data as parquet")
    if info.st_size < 12 or tail != _PARQUET_MAGIC:
        raise DataError(f"{path}: is not a complete parquet file (its PAR1 footer is missing; cut short?)")
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataError(f"{path}: cannot read this parquet file: {first_line(error)}") from None


def _looks_like(head: bytes) -> str:
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
