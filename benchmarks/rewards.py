"""Benchmark: the shared reward of a year with a million won deals, their touchpoints and stage events.

Usage::

    .venv/bin/python benchmarks/rewards.py [--deals N] [--leads N] [--seed N] [--repeat N]

``smarketing.datasets.synthetic`` makes about 0.056 won deals per lead for ``examples/plan.yaml``, so a
million won deals would take some 18 M generated leads. Instead ``--leads`` leads (200,000 by default, about
11,000 won deals) are generated once, and their won deals, with the touchpoints and stage events of
those deals' leads, are repeated with fresh deal, lead and touch ids until there are ``--deals`` won
deals. Dates are shifted by 61 days so that every close falls in 2026, and the run computes the year
``2026`` with the example plan's rewards (its ``valid_from`` lifted, so every deal is paid): attribution
over touchpoints, team split, overlays, tiers, caps, the marketing team pool and clawbacks of refunded
deals. The base data and the repeated data are cached as parquet under ``benchmarks/data/`` (git-ignored).

Each timed run happens in a fresh subprocess, so the peak memory (max RSS) reported is that of one run:
reading the parquet files, then one ``compute_rewards`` call (the time reported). The ledger keeps its
lines as integer codes and makes their text when asked; ``--render`` also times asking for all of it
(``to_frame()``, every line as text) and one statement, after the compute time and its peak memory are
taken.
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
from datetime import date
from pathlib import Path

import narwhals
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
SHIFT = pl.duration(days=61)
FX_ROWS = [("USD", "EUR", date(2020, 1, 1), "0.92")]


def base(leads: int, seed: int) -> Path:
    from smarketing.datasets import synthetic
    from smarketing.plan import load_plan

    folder = DATA / f"synthetic-{leads}-{seed}"
    if not (folder / "deals.parquet").exists():
        started = time.perf_counter()
        data = synthetic(load_plan(ROOT / "examples" / "plan.yaml"), seed=seed, n_leads=leads)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, frame in data.frames().items():
            frame.write_parquet(folder / f"{kind}.parquet")
        print(f"generated and cached {leads:,} leads in {time.perf_counter() - started:.1f} s: {folder}")
    return folder


def repeated(deals: int, leads: int, seed: int) -> Path:
    folder = DATA / f"rewards-{deals}-{leads}-{seed}"
    if (folder / "deals.parquet").exists():
        return folder
    source = base(leads, seed)
    won = pl.read_parquet(source / "deals.parquet").filter(pl.col("stage") == "won")
    copies = -(-deals // won.height)
    keep = won.select("lead_id")
    touches = pl.read_parquet(source / "touchpoints.parquet").join(keep, on="lead_id", how="semi")
    events = pl.read_parquet(source / "stage_events.parquet").join(keep, on="lead_id", how="semi")
    copy = pl.int_range(copies, dtype=pl.Int64).alias("_copy")

    def tile(frame: pl.DataFrame, ids: list[str]) -> pl.DataFrame:
        tiled = frame.join(pl.select(copy), how="cross")
        suffix = pl.lit("-") + pl.col("_copy").cast(pl.String)
        return tiled.with_columns(*(pl.col(c) + suffix for c in ids)).drop("_copy")

    folder.mkdir(parents=True, exist_ok=True)
    tile(won, ["id", "lead_id"]).head(deals).with_columns(
        pl.col("close_date") + SHIFT, pl.col("refunded_on") + SHIFT, pl.col("created_at") + SHIFT
    ).write_parquet(folder / "deals.parquet")
    tile(touches, ["id", "lead_id"]).with_columns(pl.col("time") + SHIFT).write_parquet(
        folder / "touchpoints.parquet"
    )
    tile(events, ["lead_id"]).with_columns(pl.col("time") + SHIFT).write_parquet(
        folder / "stage_events.parquet"
    )
    print(f"repeated {won.height:,} won deals {copies} times: {folder}")
    return folder


def child(folder: Path, render: bool) -> None:
    """One run in this (fresh) process; prints a JSON line."""
    from smarketing.money import FxTable
    from smarketing.plan import load_plan
    from smarketing.rewards import compute_rewards

    started = time.perf_counter()
    deals = pl.read_parquet(folder / "deals.parquet")
    touches = pl.read_parquet(folder / "touchpoints.parquet")
    events = pl.read_parquet(folder / "stage_events.parquet")
    plan = load_plan(ROOT / "examples" / "plan.yaml")
    assert plan.rewards is not None
    plan = plan.model_copy(update={"rewards": plan.rewards.model_copy(update={"valid_from": None})})
    loaded = time.perf_counter()
    cpu = time.process_time()
    ledger = compute_rewards(
        deals,
        plan,
        touchpoints=touches,
        stage_events=events,
        fx=FxTable(FX_ROWS),
        period="2026",
        as_of=date(2026, 12, 31),
    )
    done = time.perf_counter()
    compute_cpu = time.process_time() - cpu
    compute_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rendered = {}
    if render:
        rendering, cpu = time.perf_counter(), time.process_time()
        frame = ledger.to_frame()
        framed, frame_cpu = time.perf_counter(), time.process_time()
        who = ledger.participants()[0]
        text = ledger.statement(who).to_text(limit=40)
        rendered = {
            "to_frame_s": framed - rendering,
            "to_frame_cpu_s": frame_cpu - cpu,
            "statement_s": time.perf_counter() - framed,
            "render_rows": frame.height,
            "statement_chars": len(text),
            "render_max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    print(
        json.dumps(
            {
                "deals": deals.height,
                "touchpoints": touches.height,
                "stage_events": events.height,
                "lines": len(ledger),
                "total": str(ledger.total()),
                "load_s": loaded - started,
                "compute_s": done - loaded,
                "compute_cpu_s": compute_cpu,
                "max_rss_mib": compute_rss,
                **rendered,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--render", action="store_true", help="also time to_frame() (all lines as text) and one statement"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.render)
        return
    folder = repeated(args.deals, args.leads, args.seed)
    print(
        "load before:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    )
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), *(["--render"] if args.render else [])],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = runs[0]
    print(
        f"{first['deals']:,} won deals, {first['touchpoints']:,} touchpoints, "
        f"{first['stage_events']:,} stage events -> {first['lines']:,} ledger lines, total {first['total']}"
    )
    for name, key in (
        ("compute_rewards wall s", "compute_s"),
        ("compute_rewards CPU s (all threads)", "compute_cpu_s"),
        ("parquet read s", "load_s"),
        ("peak RSS MiB (fresh process)", "max_rss_mib"),
        ("to_frame() wall s (--render)", "to_frame_s"),
        ("to_frame() CPU s (--render)", "to_frame_cpu_s"),
        ("one statement wall s (--render)", "statement_s"),
        ("peak RSS MiB after rendering (--render)", "render_max_rss_mib"),
    ):
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        print(f"{name}: " + ", ".join(f"{v:.2f}" for v in values) + f" (best {min(values):.2f})")
    import smarketing

    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, polars {pl.__version__}, "
        f"narwhals {narwhals.__version__}, smarketing {smarketing.__version__}"
    )
    print(
        "load after:", subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    )


if __name__ == "__main__":
    main()
