"""Benchmark of the journey analytics at CRM scale, beside pm4py's directly-follows discovery.

Run from the repository root (``make bench-journey`` does the same)::

    .venv/bin/python benchmarks/journey.py [--leads 1000000] [--seed 7]

1. Generates ``--leads`` synthetic leads for ``examples/plan.yaml`` with :func:`smarketing.datasets.synthetic`
   (once; cached as parquet under ``benchmarks/data/``, which git ignores).
2. Times ``funnel`` (ordered and any), ``conformance`` and ``discover`` end to end from the parquet file,
   each in a fresh Python process, and reads that process's CPU time (user + sys over all its threads)
   and peak memory (``ru_maxrss``). On a loaded machine the CPU time is the meaningful number. The
   ordered funnel is also timed with business time in stage on the plan's SLA calendar
   (``funnel_business``), on its own line: the target of the journey issue is for ``funnel`` as called
   without a calendar. ``funnel``, ``conformance`` and ``discover`` are timed again on the same rows
   shuffled (a copy cached beside the file; ``--no-shuffled`` skips it): CRM exports are often not in
   lead order, and such input costs a sort.
3. Runs pm4py's ``discover_dfg`` on the same file in its own virtual environment
   (``benchmarks/.venv-pm4py``, created on first use; pm4py is never a dependency of smarketing), and
   asserts that both directly-follows graphs, start and end counts are identical.
4. Prints a Markdown table and the machine notes for ``docs/performance.md``.
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

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
PM4PY_VENV = ROOT / "benchmarks" / ".venv-pm4py"
PLAN = ROOT / "examples" / "plan.yaml"

#: The measurements, each run in a fresh process on the stage-events parquet file.
_TASKS = ("funnel", "funnel_any", "funnel_business", "conformance", "discover")
_LABELS = {
    "funnel": "`funnel` (ordered)",
    "funnel_any": "`funnel` (any)",
    "funnel_business": "`funnel` (ordered), with business time on the SLA calendar",
    "conformance": "`conformance`",
    "discover": "`discover`",
}

_PM4PY = r"""
import json, resource, sys, time
t0 = time.perf_counter()
r0 = resource.getrusage(resource.RUSAGE_SELF)
import pandas as pd
import pm4py
df = pd.read_parquet(sys.argv[1], columns=["lead_id", "to", "time"])
dfg, start, end = pm4py.discover_dfg(df, case_id_key="lead_id", activity_key="to", timestamp_key="time")
seconds = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "seconds": seconds,
    "cpu": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
    "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "version": pm4py.__version__,
    "edges": sorted([a, b, int(n)] for (a, b), n in dfg.items()),
    "start": {k: int(v) for k, v in start.items()},
    "end": {k: int(v) for k, v in end.items()},
}))
"""


def _generate(leads: int, seed: int) -> Path:
    path = DATA / f"stage_events-{leads}-seed{seed}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, smarketing as sm\n"
        "from smarketing.datasets import synthetic\n"
        "ds = synthetic(sm.load_plan(sys.argv[1]), seed=int(sys.argv[2]), n_leads=int(sys.argv[3]))\n"
        "ds.stage_events.write_parquet(sys.argv[4] + '.tmp')\n"
    )
    print(f"generating {leads:,} leads (seed {seed}) -> {path.relative_to(ROOT)}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-c", code, str(PLAN), str(seed), str(leads), str(path)], check=True, cwd=ROOT
    )
    Path(str(path) + ".tmp").rename(path)
    return path


#: Tasks also timed on the shuffled rows.
_SHUFFLED = ("funnel", "conformance", "discover")


def _shuffled(path: Path) -> Path:
    """The rows of ``path`` in a random order (seed 1), cached as parquet beside it."""
    out = path.with_name(path.stem + "-shuffled.parquet")
    if not out.exists():
        import polars as pl

        tmp = Path(str(out) + ".tmp")
        pl.read_parquet(path).sample(fraction=1.0, shuffle=True, seed=1).write_parquet(tmp)
        tmp.rename(out)
    return out


def _measure(task: str, path: Path) -> dict[str, Any]:
    """Run one task in a fresh interpreter; return its wall and CPU time, peak memory and a result summary."""
    out = subprocess.run(
        [sys.executable, __file__, "--run", task, "--data", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run(task: str, path: Path) -> None:
    """Inside the fresh interpreter: import, then time the task from the parquet file to its result."""
    import polars as pl

    import smarketing as sm
    from smarketing.journey import conformance, discover, funnel

    plan = sm.load_plan(PLAN)
    jm = plan.journey
    calendar = plan.sla.calendar if plan.sla is not None else None
    tasks: dict[str, Callable[[], Any]] = {
        "funnel": lambda: funnel(jm, pl.scan_parquet(path)),
        "funnel_any": lambda: funnel(jm, pl.scan_parquet(path), mode="any"),
        "funnel_business": lambda: funnel(jm, pl.scan_parquet(path), calendar=calendar),
        "conformance": lambda: conformance(jm, pl.scan_parquet(path)),
        "discover": lambda: discover(pl.scan_parquet(path)),
    }
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = tasks[task]()
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    summary: dict[str, Any] = {}
    if task == "discover":
        summary["edges"] = sorted([a, b, int(n)] for a, b, n in result.edges(data="count"))
        summary["start"] = {k: int(v) for k, v in result.nodes(data="start") if v}
        summary["end"] = {k: int(v) for k, v in result.nodes(data="end") if v}
        summary["events"] = result.graph["events"]
        summary["leads"] = result.graph["leads"]
        summary["duplicates"] = result.graph["duplicates"]
    elif task == "conformance":
        summary["fitness"] = str(result.fitness)
    else:
        summary["reached"] = [r.reached for r in result.rows]
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "cpu": cpu, "maxrss_kib": maxrss, **summary}))


def _pm4py(path: Path) -> dict[str, Any]:
    python = PM4PY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PM4PY_VENV.relative_to(ROOT)} with pm4py", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PM4PY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "pm4py", "pyarrow"], check=True)
    out = subprocess.run([str(python), "-c", _PM4PY, str(path)], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _machine() -> list[str]:
    import narwhals
    import polars

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return [
        f"machine: {os.cpu_count()} cores (nproc), {memory:.1f} GiB RAM, {platform.platform()}",
        f"Python {platform.python_version()}, polars {polars.__version__}, narwhals {narwhals.__version__}",
        f"load: {load}",
    ]


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000, help="synthetic leads (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data (default 7)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best is kept")
    parser.add_argument("--no-pm4py", action="store_true", help="skip the pm4py comparison")
    parser.add_argument("--no-shuffled", action="store_true", help="skip the runs on shuffled rows")
    parser.add_argument("--run", choices=_TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        _run(args.run, args.data)
        return 0
    path = _generate(args.leads, args.seed)
    import polars as pl

    events = pl.scan_parquet(path).select(pl.len()).collect().item()
    print(f"log: {path.relative_to(ROOT)}: {args.leads:,} leads, {events:,} stage events", file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for task in _TASKS:
        runs = [_measure(task, path) for _ in range(args.repeat)]
        results[task] = min(runs, key=lambda r: r["seconds"])
        r = results[task]
        print(f"{task}: {r['seconds']:.2f} s, CPU {r['cpu']:.2f} s, {_mib(r['maxrss_kib'])}", file=sys.stderr)
    rows = [
        f"| {_LABELS[task]} | {r['seconds']:.2f} s | {r['cpu']:.2f} s | {_mib(r['maxrss_kib'])} |"
        for task, r in results.items()
    ]
    both = results["funnel"]["seconds"] + results["conformance"]["seconds"]
    both_cpu = results["funnel"]["cpu"] + results["conformance"]["cpu"]
    rows.append(f"| `funnel` + `conformance` | {both:.2f} s | {both_cpu:.2f} s | |")
    if not args.no_shuffled:
        shuffled = _shuffled(path)
        for task in _SHUFFLED:
            runs = [_measure(task, shuffled) for _ in range(args.repeat)]
            r = min(runs, key=lambda r: r["seconds"])
            same = {k: v for k, v in r.items() if k not in ("seconds", "cpu", "maxrss_kib")} == {
                k: v for k, v in results[task].items() if k not in ("seconds", "cpu", "maxrss_kib")
            }
            if not same:
                print(f"{task}: the shuffled rows gave another result", file=sys.stderr)
                return 1
            print(f"{task} (shuffled): {r['seconds']:.2f} s, CPU {r['cpu']:.2f} s", file=sys.stderr)
            rows.append(
                f"| {_LABELS[task]}, same rows shuffled | {r['seconds']:.2f} s | {r['cpu']:.2f} s |"
                f" {_mib(r['maxrss_kib'])} |"
            )
    notes = _machine()
    if not args.no_pm4py:
        runs = [_pm4py(path) for _ in range(args.repeat)]
        pm = min(runs, key=lambda r: r["seconds"])
        ours = results["discover"]
        same = (pm["edges"], pm["start"], pm["end"]) == (ours["edges"], ours["start"], ours["end"])
        speedup = pm["seconds"] / ours["seconds"]
        speedup_cpu = pm["cpu"] / ours["cpu"]
        rows.append(
            f"| pm4py `discover_dfg` | {pm['seconds']:.2f} s | {pm['cpu']:.2f} s | {_mib(pm['maxrss_kib'])} |"
        )
        rows.append(f"| `discover` speed-up over pm4py | {speedup:.1f}x | {speedup_cpu:.1f}x | |")
        notes.append(f"pm4py {pm['version']}; identical directly-follows graph, start and end counts: {same}")
        if not same:
            diff = sorted(
                {tuple(e) for e in pm["edges"]} ^ {tuple(e) for e in ours["edges"]},
                key=lambda e: (e[0], e[1]),
            )
            print(f"DFG differs: {diff[:10]}", file=sys.stderr)
    print(
        f"command: .venv/bin/python benchmarks/journey.py --leads {args.leads} --seed {args.seed}"
        f" --repeat {args.repeat}"
    )
    print(
        f"log: {args.leads:,} leads, {events:,} stage events, duplicates: {results['discover']['duplicates']}"
    )
    print("\n| measurement | wall time | CPU time (user + sys) | peak memory |\n|---|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("\n".join(f"- {n}" for n in notes))
    if not args.no_pm4py and not same:
        print("pm4py and smarketing disagree on the directly-follows graph", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
