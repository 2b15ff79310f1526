"""Benchmark: the built-in connectors on exports of 1M synthetic leads; ``polars.read_csv`` is the floor.

    .venv/bin/python benchmarks/connectors.py [--leads N] [--seed S] [--repeat R] [--only NAME ...]

The data comes from ``smarketing.datasets.synthetic`` on the example plan (1M leads: about 5M stage events,
4.5M touches, 5M activities, 250k deals) and is written once under ``benchmarks/data/`` (git-ignored) in
each source's shape: the canonical columns as typed Parquet and as CSV text (times with offsets, exact
decimals, splits one per row), and, where the generators are installed, HubSpot's and Salesforce's export
files. Each timed run is a fresh subprocess that loads one source with its connector (strict, so every row
is validated and kept) and reports its wall time, CPU time and peak memory (``ru_maxrss``), with
``import smarketing`` timed apart (not in the load's time); the floor is the same subprocess reading the
same files with ``polars.read_csv`` (or ``polars.read_parquet``) and no validation at all. The table gives
the best of the repeats, rows per second, and the ratio to the floor of the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
ISO = "%Y-%m-%dT%H:%M:%S%.f%:z"


def _text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col(n).dt.to_string(ISO) if isinstance(t, pl.Datetime) else pl.col(n).cast(pl.String)
        for n, t in frame.schema.items()
        if not isinstance(t, pl.List)
    )


def _splits(deals: pl.DataFrame) -> pl.DataFrame:
    rows = deals.select("id", "splits").explode("splits").drop_nulls("splits").unnest("splits")
    return rows.rename({"id": "deal_id"}).select(pl.all().cast(pl.String))


def ensure_data(n: int, seed: int) -> dict[str, Path]:
    """The source folders, written once: canonical Parquet and CSV, and each CRM export available."""
    import smarketing as sm
    from smarketing import datasets

    base = ROOT / "data" / f"connectors-{n}-{seed}"
    folders = {"files-parquet": base / "parquet", "files-csv": base / "csv"}
    writers: dict[str, Callable[..., Any]] = {}
    for name, function in (("hubspot", "write_hubspot_export"), ("salesforce", "write_salesforce_export")):
        if hasattr(datasets, function):
            writers[name] = getattr(datasets, function)
            folders[name] = base / name
    if all((folder / ".done").exists() for folder in folders.values()):
        return folders
    started = time.perf_counter()
    plan = sm.load_plan(PLAN)
    data = datasets.synthetic(plan, seed=seed, n_leads=n)
    print(f"generated {n:,} leads in {time.perf_counter() - started:.1f} s", flush=True)
    for name, folder in folders.items():
        if (folder / ".done").exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if name == "files-parquet":
            for kind, frame in data.frames().items():
                (frame.drop("splits") if kind == "deals" else frame).write_parquet(folder / f"{kind}.parquet")
            _splits(data.deals).write_parquet(folder / "deal_splits.parquet")
        elif name == "files-csv":
            for kind, frame in data.frames().items():
                _text(frame).write_csv(folder / f"{kind}.csv")
            _splits(data.deals).write_csv(folder / "deal_splits.csv")
        else:
            extra = {"time_zone": "Europe/Berlin"} if name == "hubspot" else {}
            writers[name](plan, data, folder, seed=seed, **extra)
        (folder / ".done").write_text("")
        print(f"wrote {name} -> {folder}", flush=True)
    return folders


def _child(source: str, folder: Path) -> None:
    """Load one source (or read its files with polars) and print wall, CPU, peak memory and rows.

    ``import smarketing`` (about a second: the package imports every subject) is timed apart and left out
    of the load's wall and CPU time: a notebook or a program pays it once, not per load.
    """
    started, cpu = time.perf_counter(), time.process_time()
    if source == "polars.read_csv":
        rows = sum(pl.read_csv(f, infer_schema=False).height for f in sorted(folder.glob("*.csv")))
        imported = 0.0
    elif source == "polars.read_parquet":
        rows = sum(pl.read_parquet(f).height for f in sorted(folder.glob("*.parquet")))
        imported = 0.0
    else:
        import smarketing as sm
        from smarketing.connectors import FilesConnector, load_connector

        imported = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        options: dict[str, Any] = {"path": folder}
        if source.startswith("files"):
            connector: Any = FilesConnector(**options)
        else:
            options["plan"] = sm.load_plan(PLAN)
            if source == "hubspot":
                # HubSpot writes local times without an offset: the hour the clocks repeat needs a rule.
                options.update(time_zone="Europe/Berlin", repeated_hour="earlier")
            connector = load_connector(f"{source}-export", **options)
        _, report = connector.load(progress=False)
        rows = sum(report.rows_kept.values())
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": used, "peak_mib": peak, "rows": rows, "import": imported}))


def _measure(source: str, folder: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", source, str(folder)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--only", nargs="*", default=None, help="sources to time (files-parquet, files-csv, ...)"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    if args.generate:
        ensure_data(args.leads, args.seed)
        return
    # Written by a process of its own: Linux carries a process's peak memory into the children it starts
    # (ru_maxrss survives fork and exec), so a parent that held the generated data would raise every peak.
    subprocess.run(
        [sys.executable, __file__, "--generate", "--leads", str(args.leads), "--seed", str(args.seed)],
        check=True,
    )
    folders = ensure_data(args.leads, args.seed)
    machine = f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs"
    print(f"machine: {machine}, load {os.getloadavg()}")
    print("| source | best wall s (CPU s) | import s | rows | rows/s | peak MiB | floor: polars s | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for source, folder in folders.items():
        if args.only and source not in args.only:
            continue
        runs = [_measure(source, folder) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall"])
        peer = "polars.read_csv" if any(folder.glob("*.csv")) else "polars.read_parquet"
        floor = min((_measure(peer, folder) for _ in range(args.repeat)), key=lambda r: r["wall"])
        floor_text = f"{floor['wall']:.2f}"
        ratio = f"{best['wall'] / floor['wall']:.1f}x"
        print(
            f"| {source} | {best['wall']:.2f} ({best['cpu']:.2f}) | {best['import']:.2f} | "
            f"{int(best['rows']):,} | {best['rows'] / best['wall']:,.0f} | {best['peak_mib']:,.0f} | "
            f"{floor_text} | {ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
