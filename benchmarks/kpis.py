"""Benchmark: the full KPI catalogue over 12 monthly periods on synthetic data.

Usage::

    .venv/bin/python benchmarks/kpis.py [--leads N] [--seed N] [--repeat N]

The data comes from ``smarketing.datasets.synthetic`` for ``examples/plan.yaml`` and is cached as parquet
under ``benchmarks/data/`` (git-ignored), so only the first run pays for generating it. The timed part is
one :func:`smarketing.kpi.scorecard` call: every catalogue KPI, October 2026 and the 11 months before it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import narwhals
import polars as pl

import smarketing
from smarketing.datasets import synthetic
from smarketing.kpi import catalog, scorecard
from smarketing.money import FxTable, Money
from smarketing.plan import load_plan
from smarketing.records import RECORD_KINDS, Dataset

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
# Synthetic deals are in EUR (Europe) and USD (north_america); one fixed demo rate converts them.
FX = FxTable([("USD", "EUR", date(2020, 1, 1), "0.92")])


def dataset(leads: int, seed: int) -> Dataset:
    folder = DATA / f"synthetic-{leads}-{seed}"
    if not folder.exists():
        started = time.perf_counter()
        data = synthetic(load_plan(ROOT / "examples" / "plan.yaml"), seed=seed, n_leads=leads)
        folder.mkdir(parents=True)
        for kind, frame in data.frames().items():
            frame.write_parquet(folder / f"{kind}.parquet")
        print(f"generated and cached {leads:,} leads in {time.perf_counter() - started:.1f} s: {folder}")
    return Dataset(**{kind: pl.read_parquet(folder / f"{kind}.parquet") for kind in RECORD_KINDS})


def inputs() -> dict[str, dict[str, object]]:
    months = [f"{y}-{m:02d}" for y, m in [(2025, 11), (2025, 12), *((2026, m) for m in range(1, 11))]]
    return {
        "marketing_spend": {m: Money("250000.00", "EUR") for m in months},
        "sales_spend": {m: Money("400000.00", "EUR") for m in months},
        "gross_margin": dict.fromkeys(months, "0.78"),
        "annual_churn_rate": dict.fromkeys(months, "0.12"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = dataset(args.leads, args.seed)
    plan = load_plan(ROOT / "examples" / "plan.yaml")
    plan = plan.model_copy(update={"kpis": [catalog[k] for k in catalog]})
    rows = {kind: frame.height for kind, frame in data.frames().items()}
    print("rows:", ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    times, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        card = scorecard(
            plan, data, period="2026-10", as_of=AS_OF, previous_periods=11, fx=FX, inputs=inputs()
        )
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    print(f"scorecard: {len(card.rows)} KPIs x 12 monthly periods")
    print("wall seconds:", ", ".join(f"{t:.2f}" for t in times), f"(best {min(times):.2f})")
    print("CPU seconds (all threads):", ", ".join(f"{t:.2f}" for t in cpu), f"(best {min(cpu):.2f})")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, polars {pl.__version__}, "
        f"narwhals {narwhals.__version__}, smarketing {smarketing.__version__}"
    )
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())


if __name__ == "__main__":
    main()
