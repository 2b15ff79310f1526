"""compare_campaigns on synthetic leads read from Parquet (scanned): every campaign side by side.

    .venv/bin/python benchmarks/campaigns.py --leads 1000000 --runs 3

Data is generated once under ``benchmarks/data/`` (the persona benchmark's folder, same seed); each run is
timed in this process after a warm-up import. Prints the time of each run and the best.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from datetime import date as _date
from pathlib import Path

import polars as pl

import smarketing as sm
from smarketing.money import FxTable

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
FX = FxTable([("USD", "EUR", _date(1970, 1, 1), "0.92")])


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once."""
    from smarketing.datasets import synthetic

    folder = ROOT / "data" / f"persona-synthetic-{n}-{seed}"
    if not (folder / "manifest.json").exists():
        synthetic(sm.load_plan(PLAN), seed=seed, n_leads=n).write(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = ensure_data(args.leads, args.seed)
    plan = sm.load_plan(PLAN)
    kinds = ("leads", "stage_events", "dispositions", "deals")
    times = []
    for _ in range(args.runs):
        data = {kind: pl.scan_parquet(folder / f"{kind}.parquet") for kind in kinds}
        started = time.perf_counter()
        result = sm.compare_campaigns(plan, data, as_of=AS_OF, fx=FX)
        times.append(time.perf_counter() - started)
    leads = result.to_frame().get_column("leads").sum()
    print(f"{args.leads:,} leads, {len(result.campaigns)} campaigns, {leads:,} campaign leads")
    print("runs: " + ", ".join(f"{t:.2f} s" for t in times) + f"; best {min(times):.2f} s")


if __name__ == "__main__":
    main()
