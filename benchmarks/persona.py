"""Benchmark: lead scoring, agreement and calibration on 1M leads, from Parquet.

    .venv/bin/python benchmarks/persona.py [--leads N] [--seed S] [--runs R]

Data comes from ``smarketing.datasets.synthetic`` on the example plan (1M leads: about 4.5M touchpoints,
5M activities, 5M stage events, 250k deals) and is written once as a ``Dataset`` folder under
``benchmarks/data/`` (git-ignored). Each timed run is a fresh subprocess that reads the folder with
``Dataset.read`` (which checks every frame), then times ``score`` and ``agreement`` together, and
``calibrate`` on those scores, and reports wall time, CPU time and peak memory (``ru_maxrss``) of the
whole process. The table gives every run and the best.
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
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

import smarketing as sm
from smarketing.records import Dataset

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the day after the synthetic data ends


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once."""
    from smarketing.datasets import synthetic

    folder = ROOT / "data" / f"persona-synthetic-{n}-{seed}"
    if (folder / "manifest.json").exists():
        return folder
    started = time.perf_counter()
    synthetic(sm.load_plan(PLAN), seed=seed, n_leads=n).write(folder)
    print(f"generated {n:,} leads in {time.perf_counter() - started:.1f} s -> {folder}")
    return folder


def run_once(folder: Path) -> dict[str, object]:
    """Read, score, agree, calibrate, report; meant to run in a fresh process."""
    plan = sm.load_plan(PLAN)
    started = time.perf_counter()
    cpu_started = time.process_time()
    data = Dataset.read(folder)
    loaded = time.perf_counter()
    scores = sm.score(plan, data, as_of=AS_OF)
    agreement = sm.agreement(plan, data)
    scored = time.perf_counter()
    calibration = sm.calibrate(plan, data, as_of=AS_OF, scores=scores)
    done = time.perf_counter()
    cpu = time.process_time() - cpu_started
    frame = scores.frame
    return {
        "read_s": round(loaded - started, 3),
        "score_agreement_s": round(scored - loaded, 3),
        "calibrate_s": round(done - scored, 3),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpu_s": round(cpu, 2),
        "rows": {kind: getattr(data, kind).height for kind in ("leads", "touchpoints", "activities")},
        "mqls": int(frame.get_column("mql").sum()),
        "kappa": agreement.to_dict().get("kappa"),
        "auc": calibration.to_dict().get("auc"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child), default=str))
        return
    folder = ensure_data(args.leads, args.seed)
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout))
    best = min(results, key=lambda r: float(r["score_agreement_s"]))
    print(f"rows {best['rows']}; MQLs {best['mqls']:,}; kappa {best['kappa']}; AUC {best['auc']}")
    for r in results:
        print(
            f"  read {r['read_s']} s; score + agreement {r['score_agreement_s']} s; "
            f"calibrate {r['calibrate_s']} s ({r['cpu_s']} s CPU in all), peak {r['peak_mib']} MiB"
        )
    print(
        f"best of {len(results)}: score + agreement {best['score_agreement_s']} s, "
        f"calibrate {min(float(r['calibrate_s']) for r in results)} s, "
        f"peak {min(int(r['peak_mib']) for r in results)} MiB"
    )
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.python_version()}, polars {pl.__version__}, "
        f"smarketing {sm.__version__}, load average {load}"
    )


if __name__ == "__main__":
    main()
