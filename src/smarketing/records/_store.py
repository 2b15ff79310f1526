"""A dataset folder on disk (private): one ``<kind>.parquet`` per record kind and a ``manifest.json``.

The manifest says what wrote the folder and what it holds::

    {
      "counts": {"accounts": 0, "activities": 12, ...},
      "format": "smarketing-dataset",
      "format_version": 1,
      "load_report": {...},            (only when a load report was given)
      "smarketing_version": "0.1.0"
    }

Keys are sorted and the parquet files are written with fixed settings, so the same dataset (and report)
writes the same bytes. Files are written under temporary names and renamed into place, the manifest
last: a folder whose writing was cut short has a manifest that does not match its files, and reading it
says so.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import polars as pl

from smarketing.errors import DataError
from smarketing.records._parquet import IMPORT_HINT, file_type, read_head, read_parquet, status
from smarketing.records.model import RECORD_KINDS

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "read_frames", "read_manifest", "write_frames"]

#: The name of the manifest file of a dataset folder.
MANIFEST: Final = "manifest.json"
#: What the manifest's ``format`` says.
FORMAT: Final = "smarketing-dataset"
#: The layout version this smarketing writes and reads.
FORMAT_VERSION: Final = 1
#: The largest manifest read (a load report lists every refused row, so it can be long, not endless).
_MAX_MANIFEST: Final = 256 * 1024 * 1024


def _json_value(value: object) -> object:
    """Times, days and decimals of a load report as JSON text; anything else is refused."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"the load report holds a {type(value).__name__}, which cannot be written as JSON")


def manifest_bytes(counts: Mapping[str, int], report: Mapping[str, Any] | None) -> bytes:
    """The manifest of a dataset with these record counts (and load report), as written: sorted keys."""
    manifest: dict[str, Any] = {
        "counts": dict(counts),
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "smarketing_version": version("smarketing"),
    }
    if report is not None:
        manifest["load_report"] = dict(report)
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, default=_json_value)
    return (text + "\n").encode("utf-8")


def write_frames(path: Path, frames: Mapping[str, pl.DataFrame], report: Mapping[str, Any] | None) -> None:
    """Write ``frames`` (every record kind) and the manifest into the folder ``path``.

    Raises:
        DataError: ``path`` is not a folder, or is a folder that holds other files and no dataset.
    """
    _prepare(path)
    manifest = manifest_bytes({kind: frames[kind].height for kind in RECORD_KINDS}, report)
    written: list[tuple[Path, Path]] = []
    try:
        for kind in RECORD_KINDS:
            target = path / f"{kind}.parquet"
            temporary = path / f".{kind}.parquet.tmp"
            written.append((temporary, target))
            temporary.unlink(missing_ok=True)  # whatever is there (a FIFO would block the writer) goes
            frames[kind].write_parquet(temporary, compression="zstd", statistics=True)
        temporary = path / f".{MANIFEST}.tmp"
        written.append((temporary, path / MANIFEST))
        temporary.unlink(missing_ok=True)
        temporary.write_bytes(manifest)
        for source, target in written:
            os.replace(source, target)
    except OSError as error:
        for source, _ in written:
            source.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write the dataset: {error.strerror or error}") from None


def _prepare(path: Path) -> None:
    """Make the folder ``path``, or check that it is empty or holds a dataset that may be replaced."""
    info = status(path)
    if info is None:
        try:
            path.mkdir(parents=True)
        except OSError as error:
            raise DataError(f"{path}: cannot make the folder: {error.strerror or error}") from None
        return
    if not stat.S_ISDIR(info.st_mode):
        what = "a file" if stat.S_ISREG(info.st_mode) else file_type(info)
        raise DataError(f"{path}: is {what}, not a folder to write a dataset into")
    try:
        entries = sorted(entry.name for entry in os.scandir(path))
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    if not entries:
        return
    if MANIFEST not in entries:
        raise DataError(
            f"{path}: is not empty and holds no smarketing dataset (no {MANIFEST}; it has "
            f"{_listing(entries)}); write the dataset to a new or empty folder"
        )
    read_manifest(path)  # a foreign manifest.json is refused: the folder is someone else's


def _listing(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the dataset folder ``path``, checked: format, version and record counts.

    Raises:
        DataError: naming the folder or the manifest: missing, not JSON, another format, a newer format
            version, or counts that are not whole numbers of known record kinds.
    """
    info = status(path)
    if info is None:
        raise DataError(f"{path}: no such dataset folder")
    if not stat.S_ISDIR(info.st_mode):
        what = "a file" if stat.S_ISREG(info.st_mode) else file_type(info)
        hint = ""
        if path.suffix.lower() in (".csv", ".tsv", ".txt", ".jsonl"):
            hint = "; " + IMPORT_HINT.format(path=path)
        raise DataError(f"{path}: is {what}, not a dataset folder{hint}")
    file = path / MANIFEST
    manifest = _load_json(file, path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{file}: is not the manifest of a smarketing dataset (its format is not {FORMAT!r})")
    found = manifest.get("format_version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise DataError(f"{file}: format_version must be a whole number from 1, not {found!r}")
    if found > FORMAT_VERSION:
        wrote = manifest.get("smarketing_version")
        raise DataError(
            f"{file}: the dataset has format version {found} (written by smarketing {wrote}); this "
            f"smarketing ({version('smarketing')}) reads version {FORMAT_VERSION}: upgrade smarketing"
        )
    _check_counts(file, manifest.get("counts"))
    return manifest


def _load_json(file: Path, folder: Path) -> Any:
    """The JSON in the manifest file, checked as a file first (it must be a small regular file)."""
    info = status(file)
    if info is None:
        raise DataError(
            f"{folder}: no {MANIFEST}, so not a smarketing dataset folder; make one with Dataset.write, or "
            + IMPORT_HINT.format(path=folder)
        )
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{file}: is {file_type(info)}, not a manifest")
    if info.st_size > _MAX_MANIFEST:
        raise DataError(f"{file}: has {info.st_size:,} bytes; a manifest has at most {_MAX_MANIFEST:,}")
    read_head(file, info)  # opens without blocking, in case the file was swapped for a FIFO
    try:
        return json.loads(file.read_bytes().decode("utf-8"))
    except OSError as error:
        raise DataError(f"{file}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{file}: is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{file}:{error.lineno}: column {error.colno}: not JSON: {error.msg}") from None


def _check_counts(file: Path, counts: object) -> None:
    if not isinstance(counts, dict):
        raise DataError(f"{file}: counts must map record kinds to numbers of records")
    for kind, count in counts.items():
        if kind not in RECORD_KINDS:
            raise DataError(f"{file}: counts: unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise DataError(f"{file}: counts: {kind}: must be a whole number from 0, not {count!r}")


def read_frames(path: Path) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The frames of the dataset folder ``path`` (each file checked against the manifest) and the manifest.

    Raises:
        DataError: naming the file: a kind the manifest lists whose file is missing, a parquet file of a
            kind it does not list, a file that is not parquet (a CSV says how to import it), or a file
            whose number of rows is not the manifest's.
    """
    manifest = read_manifest(path)
    counts: dict[str, int] = manifest["counts"]
    frames: dict[str, pl.DataFrame] = {}
    for kind in RECORD_KINDS:
        file = path / f"{kind}.parquet"
        frame = read_parquet(file)
        if kind not in counts:
            if frame is not None:
                raise DataError(f"{file}: {MANIFEST} does not list {kind}; is the file from another dataset?")
            continue
        if frame is None:
            raise DataError(f"{file}: no such file, but {MANIFEST} lists {counts[kind]:,} {kind}")
        if frame.height != counts[kind]:
            raise DataError(
                f"{file}: has {frame.height:,} rows but {MANIFEST} says {counts[kind]:,}; "
                "was the folder changed after it was written?"
            )
        frames[kind] = frame
    return frames, manifest
