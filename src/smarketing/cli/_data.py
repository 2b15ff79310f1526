"""``--data``: one reader for every command.

Each ``<kind>.parquet`` is checked as a file before polars reads it, so that a folder, a device or a FIFO
never reaches a reader that would fail obscurely or block.
"""

from __future__ import annotations

import argparse
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from smarketing.cli._common import CommandError, load_plan_file, synthetic_data
from smarketing.cli._sources import check_source_options, source_data
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.records._parquet import IMPORT_HINT, file_type, read_parquet, status
from smarketing.records._store import MANIFEST


def plan_and_data(args: argparse.Namespace) -> tuple[AlignmentPlan, Dataset, bool]:
    """The plan and the data of a command, and whether the data was read (``--data`` or ``--source``).

    The ``--data`` files are checked and read before the plan is loaded (the cheap checks first);
    ``--source`` loads through the connector; without either the data is synthetic (``--seed``,
    ``--leads``).
    """
    check_source_options(args)
    read = None
    if args.data is not None:
        read = read_data(args)
    elif getattr(args, "source", None) is not None:
        read = source_data(args)
    plan = load_plan_file(args.plan)
    return plan, (read if read is not None else synthetic_data(plan, args)), read is not None


def read_data(args: argparse.Namespace) -> Dataset:
    """Every ``<kind>.parquet`` file in the ``--data`` folder, as a dataset.

    A folder written by ``smarketing import`` (or ``Dataset.write``) has a manifest: it is read with
    :meth:`Dataset.read`, which also checks each file's record count against it.
    """
    folder: Path = args.data
    if (folder / MANIFEST).exists() and folder.is_dir():
        args.sources = {kind: folder / f"{kind}.parquet" for kind in RECORD_KINDS}
        return Dataset.read(folder)
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
    info = status(path)
    if info is None:
        raise CommandError(f"{path}: no such {'folder' if single is None else 'parquet file or folder'}")
    if stat.S_ISDIR(info.st_mode):
        paths = {kind: path / f"{kind}.parquet" for kind in kinds}
    elif single is not None and stat.S_ISREG(info.st_mode):
        paths = {kind: path if kind == single else path.with_name(f"{kind}.parquet") for kind in kinds}
    else:
        what = "a file" if stat.S_ISREG(info.st_mode) else file_type(info)
        hint = ""
        if path.suffix.lower() in (".csv", ".tsv", ".txt", ".jsonl"):
            hint = "; " + IMPORT_HINT.format(path=path)
        raise CommandError(f"--data {path}: is {what}, not a folder of <kind>.parquet files{hint}")
    frames: dict[str, pl.DataFrame] = {}
    sources: dict[str, Path] = {}
    for kind, file in paths.items():
        frame = read_parquet(file)
        if frame is None:
            if need is not None and kind in need:
                raise CommandError(f"{file}: no such parquet file{need[kind]}")
            continue
        frames[kind], sources[kind] = frame, file
    if not frames:
        raise CommandError(f"{path}: no <kind>.parquet files ({', '.join(kinds)})")
    args.sources = sources
    return frames
