"""Benchmark: the demand waterfall (cohort and period views) on 1M leads, from Parquet.

    .venv/bin/python benchmarks/waterfall.py [--leads N] [--seed S] [--runs R]

Data comes from ``smarketing.datasets.synthetic`` on the example plan (1M leads: about 5M stage events and
250k deals), written once as a ``Dataset`` folder under ``benchmarks/data/`` (git-ignored) by a process of
its own. Each timed run is a fresh subprocess that hands ``waterfall`` ``{kind: pl.scan_parquet(...)}``, so
the timed region includes reading and checking the columns it uses. The table gives every run and the best.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the day after the synthetic data ends
KINDS = ("leads", "stage_events", "deals", "touchpoints")


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once (in a process of its own)."""
    folder = ROOT / "data" / f"waterfall-synthetic-{n}-{seed}"
    if not (folder / "manifest.json").exists():
        code = (
            "import smarketing as sm; from smarketing.datasets import synthetic; "
            f"synthetic(sm.load_plan({str(PLAN)!r}), seed={seed}, n_leads={n}).write({str(folder)!r})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    return folder


def run_once(folder: Path, view: str) -> None:
    """One timed run (in this process): print the seconds as JSON."""
    import polars as pl

    import smarketing as sm
    from smarketing.cli._common import DEMO_RATE

    fx = sm.FxTable([(DEMO_RATE[0], DEMO_RATE[1], datetime(1970, 1, 1).date(), DEMO_RATE[2])])
    started = time.perf_counter()
    data = {k: pl.scan_parquet(folder / f"{k}.parquet") for k in KINDS}
    result = sm.waterfall(sm.load_plan(PLAN), data, view=view, as_of=AS_OF, fx=fx)  # type: ignore[arg-type]
    print(json.dumps({"view": view, "seconds": time.perf_counter() - started, "rows": len(result.rows)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--once", choices=["cohort", "period"])
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.once:
        run_once(Path(args.folder), args.once)
        return
    folder = ensure_data(args.leads, args.seed)
    for view in ("cohort", "period"):
        times = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--once", view, "--folder", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            times.append(json.loads(out.splitlines()[-1])["seconds"])
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"waterfall {view:6} on {args.leads:,} leads: best {min(times):.2f} s (runs: {runs})")


if __name__ == "__main__":
    main()
