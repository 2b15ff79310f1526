"""Benchmark: customer_feedback on 1M leads, from Parquet (issue 17).

    .venv/bin/python benchmarks/customer_feedback.py [--leads N] [--seed S] [--runs R]

Data comes from ``smarketing.datasets.synthetic`` on the example plan (1M leads: about 150k feedback, 5M stage
events) and is written once as a ``Dataset`` folder under ``benchmarks/data/`` (git-ignored), by a process of
its own. Each timed run is a fresh subprocess: ``customer_feedback`` gets ``{kind: pl.scan_parquet(...)}``
for feedback, leads and stage events, grouped by persona, campaign and stage, so the timed region includes
reading and checking the columns it uses. It prints every run's wall time, CPU time (all threads) and peak
memory, and the best.
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


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once."""
    from smarketing.datasets import synthetic

    folder = ROOT / "data" / f"feedback-synthetic-{n}-{seed}"
    if not (folder / "manifest.json").exists():
        synthetic(sm.load_plan(PLAN), seed=seed, n_leads=n).write(folder)
    return folder


def run_once(folder: Path) -> dict[str, object]:
    """One timed call, in this (fresh) process."""
    plan = sm.load_plan(PLAN)
    data = {k: pl.scan_parquet(folder / f"{k}.parquet") for k in ("feedback", "leads", "stage_events")}
    started, cpu = time.perf_counter(), time.process_time()
    report = sm.customer_feedback(plan, data, by=("persona", "campaign", "stage"))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 2),
        "peak_mib": round(peak),
        "feedback": report.total,
    }


def main() -> None:
    """Generate the data once, then time ``--runs`` fresh processes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--once", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once is not None:
        print(json.dumps(run_once(args.once)))
        return
    folder = ROOT / "data" / f"feedback-synthetic-{args.leads}-{args.seed}"
    if not (folder / "manifest.json").exists():
        code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import customer_feedback as b; "
        subprocess.run([sys.executable, "-c", code + f"b.ensure_data({args.leads}, {args.seed})"], check=True)
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--once", str(folder)], check=True, capture_output=True, text=True
        )
        runs.append(json.loads(out.stdout))
        print(runs[-1])
    if runs:
        best = min(runs, key=lambda r: float(str(r["seconds"])))
        print(
            f"best of {len(runs)}: {best['seconds']} s, "
            f"peak {best['peak_mib']} MiB, {best['feedback']} feedback"
        )


if __name__ == "__main__":
    main()
