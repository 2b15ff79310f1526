"""Spark's per-partition overhead against polars on the same data, one core each (issue 19).

Usage (from the repository root, after ``make setup``; the data is ``benchmarks/scale.py``'s)::

    nice -n 10 .venv/bin/python benchmarks/scale.py --leads 100000 --chunk 100000 --generate-only
    nice -n 10 .venv/bin/python benchmarks/overhead.py --leads 100000 [--partitions 1 4 16 64 200]
        [--tasks funnel attribute_linear evaluate_sla dispositions] [--repeat 3]

What it measures: each analysis of ``benchmarks/scale.py`` (the same calls, the same Parquet parts) on

- **polars**: the record kinds read into memory first (``pl.read_parquet``), the call timed (best of
  ``--repeat`` runs, after one warm-up);
- **Spark** ``local[1]`` (one task at a time, so the wall time is the sum of the tasks' times and the
  scheduling between them), the kinds read and cached first (``cache()``, counted), the call timed at each
  ``spark.sql.shuffle.partitions`` of ``--partitions`` (the number of partitions the layer's map runs
  over: :func:`smarketing.frames._engine.spark_run` repartitions by the key into that many), best of
  ``--repeat`` after one warm-up per analysis.

Both engines get one core: ``POLARS_MAX_THREADS=1`` in the polars process and in Spark's Python workers
(which run the polars kernels of the map), and ``local[1]``. The result is the fit ``wall = fixed +
per_partition * partitions`` over the Spark runs (least squares), the fixed part set against polars' time
(the overhead of going through Spark at all: the jobs, the shuffles, Arrow both ways, the driver's
merge), and per partition the cost of one more map task (its Python worker's Arrow batches and polars
frames, the kernel's own fixed cost, one more task per shuffle). Every Spark answer's digest is checked
against polars' (``benchmarks/scale.py``'s ``_digest``). Results are appended to
``benchmarks/results/overhead-<time>.jsonl`` (git-ignored) and the table printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

DEFAULT_TASKS = ("funnel", "attribute_linear", "evaluate_sla", "dispositions")
DEFAULT_PARTITIONS = (1, 4, 16, 64, 200)


def _best(call: Any, repeat: int) -> tuple[float, Any]:
    call()  # warm-up: imports, caches, Spark's Python workers
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - t0)
    return best, result


def child(engine: str, folder: Path, tasks: list[str], partitions: list[int], repeat: int) -> None:
    """Time ``tasks`` on one engine in this process; one JSON line per (task, partitions)."""
    os.environ["POLARS_MAX_THREADS"] = "1"  # before polars loads, here and in Spark's workers
    import polars as pl

    if engine == "polars":
        data: dict[str, Any] = {kind: pl.read_parquet(folder / kind / "*.parquet") for kind in scale.KINDS}
        calls = scale._calls(data)
        for task in tasks:
            wall, result = _best(calls[task], repeat)
            digest, _ = scale._digest(result)
            print(json.dumps({"engine": "polars", "task": task, "wall_s": round(wall, 3), "digest": digest}))
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("smarketing-overhead")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    data = {kind: spark.read.parquet(str(folder / kind)).cache() for kind in scale.KINDS}
    for frame in data.values():
        frame.count()
    calls = scale._calls(data)
    for task in tasks:
        for n in partitions:
            spark.conf.set("spark.sql.shuffle.partitions", str(n))
            wall, result = _best(calls[task], repeat)
            digest, _ = scale._digest(result)
            line = {
                "engine": "spark",
                "task": task,
                "partitions": n,
                "wall_s": round(wall, 3),
                "digest": digest,
            }
            print(json.dumps(line), flush=True)
    spark.stop()


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares ``wall = fixed + per * partitions``."""
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(w for _, w in points) / n
    sxx = sum((p - mx) ** 2 for p, _ in points)
    per = sum((p - mx) * (w - my) for p, w in points) / sxx if sxx else 0.0
    return my - per * mx, per


def table(lines: list[dict[str, Any]], partitions: list[int]) -> str:
    polars = {line["task"]: line for line in lines if line["engine"] == "polars"}
    spark: dict[str, dict[int, dict[str, Any]]] = {}
    for line in lines:
        if line["engine"] == "spark":
            spark.setdefault(line["task"], {})[line["partitions"]] = line
    head = " | ".join(f"Spark, {n} partition{'s' * (n > 1)}" for n in partitions)
    out = [
        f"| analysis | polars | {head} | fixed (fit) | per partition (fit) | fixed / polars | same result |",
        "|---|---:|" + "---:|" * len(partitions) + "---:|---:|---:|---|",
    ]
    for task, runs in spark.items():
        base = polars[task]["wall_s"]
        fixed, per = _fit([(n, runs[n]["wall_s"]) for n in partitions if n in runs])
        same = all(run["digest"] == polars[task]["digest"] for run in runs.values())
        cells = " | ".join(f"{runs[n]['wall_s']:.2f} s" if n in runs else "" for n in partitions)
        out.append(
            f"| {scale.LABELS[task]} | {base:.2f} s | {cells} | {fixed:.2f} s | {per * 1000:.0f} ms | "
            f"{fixed / base:.1f}x | {'yes' if same else 'NO'} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000, help="the data of scale.py --leads (100,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tasks", nargs="+", choices=scale.TASKS, default=list(DEFAULT_TASKS))
    parser.add_argument("--partitions", nargs="+", type=int, default=list(DEFAULT_PARTITIONS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--table", type=Path, help="print the table of this JSON lines file")
    parser.add_argument("--child", choices=["polars", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = scale._folder(args.leads, args.seed)
    if args.child:
        child(args.child, folder, args.tasks, args.partitions, args.repeat)
        return
    if args.table:
        lines = [json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]
        print(table([line for line in lines if "engine" in line], args.partitions))
        return
    if not (folder / "stage_events").is_dir():
        sys.exit(f"no data in {folder}: run benchmarks/scale.py --leads {args.leads} --generate-only first")
    out = scale.ROOT / "benchmarks" / "results" / f"overhead-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    for engine in ("polars", "spark"):
        command = [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--leads",
            str(args.leads),
            "--seed",
            str(args.seed),
        ]
        command += [
            "--tasks",
            *args.tasks,
            "--partitions",
            *map(str, args.partitions),
            "--repeat",
            str(args.repeat),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"{engine} failed:\n{done.stderr[-3000:]}")
        for text in done.stdout.splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
                print(text, file=sys.stderr)
    load = os.getloadavg()[0]
    notes = {
        "started": started.isoformat(timespec="seconds"),
        "ended": datetime.now(UTC).isoformat(timespec="seconds"),
        "leads": args.leads,
        "load_1min_at_end": load,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    out.write_text("".join(json.dumps(line) + "\n" for line in [notes, *lines]))
    print(f"{args.leads:,} leads, {notes['started']} to {notes['ended']}, load (1 min) at the end {load:.2f}")
    print(table(lines, args.partitions))
    print(f"-> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
