"""Benchmark: disposition analytics (``smarketing.feedback.dispositions``) on 1M leads, from Parquet.

    .venv/bin/python benchmarks/dispositions.py [--leads N] [--seed S] [--runs R] [--by COLUMN]

Data comes from ``smarketing.datasets.synthetic`` on the example plan, written once as a ``Dataset`` folder
under ``benchmarks/data/`` (git-ignored, shared with ``benchmarks/persona.py``). Each timed run is a fresh
subprocess that gives the function ``{kind: pl.scan_parquet(<kind>.parquet)}``, so the timed region
includes reading and checking the columns used; it reports wall time, CPU time and peak memory, and the
table gives every run and the best.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

import smarketing as sm

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
KINDS = ("leads", "stage_events", "dispositions", "deals")


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once (in a process of its own, so its memory is not counted)."""
    folder = ROOT / "data" / f"persona-synthetic-{n}-{seed}"
    if not (folder / "manifest.json").exists():
        code = (
            "import smarketing as sm; from smarketing.datasets import synthetic; "
            f"synthetic(sm.load_plan({str(PLAN)!r}), seed={seed}, n_leads={n}).write({str(folder)!r})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    return folder


def run_once(folder: Path, by: str | None) -> dict[str, object]:
    """One timed call, meant to run in a fresh process."""
    plan = sm.load_plan(PLAN)
    data = {kind: pl.scan_parquet(folder / f"{kind}.parquet") for kind in KINDS}
    cpu = time.process_time()
    started = time.perf_counter()
    report = sm.feedback.dispositions(plan, data, by=by)
    wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "handed_off": report.overall.item(0, "handed_off"),
        "by": by,
    }


def main() -> None:
    """Parse the options, make the data, time the runs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--by", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(Path(args.child), args.by)))
        return
    folder = ensure_data(args.leads, args.seed)
    results = []
    for _ in range(args.runs):
        extra = ["--by", args.by] if args.by else []
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), *extra],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1])
    best = min(r["wall_s"] for r in results)  # type: ignore[type-var]
    print(f"dispositions on {args.leads:,} leads (by={args.by}): best of {args.runs} {best} s")


if __name__ == "__main__":
    main()
