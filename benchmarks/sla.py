"""Benchmark: evaluate_sla end to end on 1M leads and about 5M activities.

    .venv/bin/python benchmarks/sla.py [--leads N] [--seed S]

Data comes from ``smarketing.datasets.synthetic`` on the example plan and is cached as parquet under
``benchmarks/data/`` (git-ignored). While ``smarketing.datasets`` is not available, a vectorised generator in
this file makes data of the same shape (leads, MQL and handoff events, SDR activities, dispositions). Each
timed run happens in a fresh subprocess that reads the parquet files, evaluates the SLA and reports its wall
time and peak memory (``ru_maxrss``), so runs do not share caches or memory.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

import smarketing as sm
from smarketing.records import Dataset

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
KINDS = ("leads", "stage_events", "activities", "dispositions")
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _local_dataset(plan: sm.AlignmentPlan, n: int, seed: int) -> Dataset:
    """Data shaped like synthetic(): a year of leads, ~70% handed off, ~7 activities per handed-off lead."""
    rng = np.random.default_rng(seed)
    start = int((AS_OF - timedelta(days=365)).timestamp() * 1_000_000)
    span = 365 * 86_400_000_000
    ids = pl.Series("id", [f"L{i:07d}" for i in range(n)])
    created = start + rng.integers(0, span - 30 * 86_400_000_000, n)
    sdrs = np.array([p.id for p in plan.people if p.role in ("sdr", "account_executive")])
    owner = sdrs[rng.integers(0, sdrs.size, n)]
    grade = np.array(["A", "B", "C"])[rng.integers(0, 3, n)]
    persona = np.array(["ops-director", "finance-lead"])[rng.integers(0, 2, n)]
    status = np.where(rng.random(n) < 0.03, "asked_to_call_later", "open")
    utc = pl.Datetime("us", "UTC")
    leads = pl.DataFrame(
        {
            "id": ids,
            "created_at": pl.Series(created).cast(utc),
            "owner": owner,
            "grade": grade,
            "persona": persona,
            "status": status,
        }
    )
    mql_at = created + rng.integers(3_600_000_000, 10 * 86_400_000_000, n)
    handed = rng.random(n) < 0.7
    hand_at = mql_at + rng.integers(60_000_000, 2 * 86_400_000_000, n)
    sql = handed & (rng.random(n) < 0.4)
    sql_at = hand_at + rng.integers(86_400_000_000, 10 * 86_400_000_000, n)
    events = pl.concat(
        [
            pl.DataFrame({"lead_id": ids, "from": "lead", "to": "mql", "time": pl.Series(mql_at).cast(utc)}),
            pl.DataFrame(
                {"lead_id": ids, "from": "mql", "to": "sal", "time": pl.Series(hand_at).cast(utc)}
            ).filter(pl.Series(handed)),
            pl.DataFrame(
                {"lead_id": ids, "from": "sal", "to": "sql", "time": pl.Series(sql_at).cast(utc)}
            ).filter(pl.Series(sql)),
        ]
    )
    hand_idx = np.flatnonzero(handed)
    per = rng.poisson(7.0, hand_idx.size)
    lead_of = np.repeat(hand_idx, per)
    m = lead_of.size
    act_at = hand_at[lead_of] + rng.exponential(2.5 * 86_400_000_000, m).astype(np.int64)
    activities = pl.DataFrame(
        {
            "id": pl.Series([f"A{i:08d}" for i in range(m)]),
            "lead_id": ids.gather(lead_of),
            "person": owner[lead_of],
            "time": pl.Series(act_at).cast(utc),
            "type": np.array(["call", "email", "meeting", "sms"])[rng.integers(0, 4, m)],
            "outcome": np.array(["no_answer", "connected", "asked_to_call_later"])[rng.integers(0, 3, m)],
        }
    )
    has_disp = hand_idx[rng.random(hand_idx.size) < 0.6]
    reasons = np.array(["qualified", "not_a_fit", "no_budget", "bad_timing", "unable_to_reach"])
    dispositions = pl.DataFrame(
        {
            "lead_id": ids.gather(has_disp),
            "reason": reasons[rng.integers(0, reasons.size, has_disp.size)],
            "time": pl.Series(hand_at[has_disp] + rng.integers(0, 30 * 86_400_000_000, has_disp.size)).cast(
                utc
            ),
            "person": owner[has_disp],
        }
    )
    return Dataset(leads=leads, stage_events=events, activities=activities, dispositions=dispositions)


def _generate(n: int, seed: int) -> tuple[Dataset, str]:
    plan = sm.load_plan(PLAN)
    try:
        from smarketing.datasets import synthetic  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return _local_dataset(
            plan, n, seed
        ), "benchmarks/sla.py generator (smarketing.datasets not available)"
    return synthetic(plan, seed=seed, n_leads=n), "smarketing.datasets.synthetic"


def ensure_data(n: int, seed: int) -> Path:
    folder = ROOT / "data" / f"sla-{n}-{seed}"
    marker = folder / "source.txt"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset, source = _generate(n, seed)
    for kind in KINDS:
        getattr(dataset, kind).write_parquet(folder / f"{kind}.parquet")
    marker.write_text(source + "\n")
    print(f"generated {n:,} leads with {source} in {time.perf_counter() - started:.1f} s -> {folder}")
    return folder


def run_once(folder: Path) -> dict[str, object]:
    """Read, evaluate, report; meant to run in a fresh process."""
    plan = sm.load_plan(PLAN)
    started = time.perf_counter()
    cpu_started = time.process_time()
    data = {kind: pl.read_parquet(folder / f"{kind}.parquet") for kind in KINDS}
    loaded = time.perf_counter()
    report = sm.evaluate_sla(plan, data, as_of=AS_OF)
    done = time.perf_counter()
    cpu = time.process_time() - cpu_started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    return {
        "read_s": round(loaded - started, 3),
        "evaluate_s": round(done - loaded, 3),
        "total_s": round(done - started, 3),
        "peak_mib": round(peak_kib / 1024),
        "cpu_s": round(cpu, 2),
        "rows": {kind: data[kind].height for kind in KINDS},
        "handed_off": report.leads.height,
        "breaches": report.breaches.height,
        "summary": report.summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return
    folder = ensure_data(args.leads, args.seed)
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout))
    best = min(results, key=lambda r: float(str(r["total_s"])))
    print(f"data: {(folder / 'source.txt').read_text().strip()}; rows {best['rows']}")
    print(f"handed off {best['handed_off']:,}, breaches {best['breaches']:,}")
    for r in results:
        print(
            f"  read {r['read_s']} s + evaluate {r['evaluate_s']} s = {r['total_s']} s wall "
            f"({r['cpu_s']} s CPU over all threads), peak {r['peak_mib']} MiB"
        )
    peak = max(int(str(r["peak_mib"])) for r in results)
    print(f"best of {len(results)}: {best['total_s']} s end to end, peak {peak} MiB")
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.python_version()}, polars {pl.__version__}, "
        f"smarketing {sm.__version__}, load average {load}"
    )
    print(best["summary"])


if __name__ == "__main__":
    main()
