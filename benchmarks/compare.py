"""Benchmark: one revision against another, alternating, on the same data and the same interpreter.

Usage::

    .venv/bin/python benchmarks/compare.py BASE [--head REV] [--leads N] [--rounds N] [--tasks ...]

``BASE`` and ``--head`` are git revisions (``--head`` defaults to the working tree). Each side's ``src/``
is exported to a temporary folder (``git archive``), and every measurement runs in a fresh subprocess of
this venv's Python with ``PYTHONPATH`` pointing at that side's sources, so both sides share the
interpreter, the dependencies and the data and differ only in smarketing's code.

The data is synthetic (the example plan, ``--leads`` leads, ``--seed``), generated once and cached as
parquet under ``benchmarks/data/`` (git-ignored). The tasks call only public names that every revision
since the first wave offers (``smarketing.funnel``, ``smarketing.evaluate_sla`` ...), so a move of code
between modules is timed on the same calls.

A child process repeats a call that takes less than a second until a second has passed and reports the
median call. Rounds alternate the order (base, head, head, base, ...) so that a drift in machine speed
during the run falls on both sides alike. The table gives each side's median, the ratio head/base, and
the noise: the largest relative spread (max - min over median) either side shows across its rounds. A
ratio inside 1 +/- noise is no measurable change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
PLAN = ROOT / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = "2026-10"
#: A child repeats a quick call until this many seconds have passed and reports the median call.
MIN_SECONDS = 1.0
TASKS = ("load_plan", "check", "funnel", "conformance", "sla", "kpis", "attribution", "rewards")


def _task(name: str, folder: Path) -> Callable[[], object]:
    """The call timed for ``name``, with its inputs (plan, data, FX) prepared outside the timing."""
    import polars as pl

    import smarketing as sm
    from smarketing.attribution import Journeys
    from smarketing.records import RECORD_KINDS, Dataset

    plan = sm.load_plan(PLAN)
    if name == "load_plan":
        return lambda: sm.load_plan(PLAN)
    if name == "check":
        return lambda: sm.check(plan)
    data = Dataset(**{kind: pl.read_parquet(folder / f"{kind}.parquet") for kind in RECORD_KINDS})
    fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
    calendar = plan.sla.calendar if plan.sla is not None else None
    calls: dict[str, Callable[[], object]] = {
        "funnel": lambda: sm.funnel(plan.journey, data, as_of=AS_OF, calendar=calendar),
        "conformance": lambda: sm.conformance(plan.journey, data),
        "sla": lambda: sm.evaluate_sla(plan, data, as_of=AS_OF),
        "kpis": lambda: sm.scorecard(plan, data, period=PERIOD, as_of=AS_OF, fx=fx),
        "attribution": lambda: sm.attribute(
            Journeys.from_touchpoints(data, fx=fx, currency="EUR"), model="markov"
        ),
        "rewards": lambda: sm.compute_rewards(data, plan, fx=fx, period=PERIOD, as_of=date(2026, 10, 31)),
    }
    return calls[name]


def _child(name: str, folder: Path, src: Path) -> None:
    """Time one task in this process and print the median seconds of a call as ``{"seconds": ...}``."""
    import smarketing

    where = Path(smarketing.__file__).resolve()
    if not where.is_relative_to(src.resolve()):
        sys.exit(f"imported smarketing from {where}, not from {src}")
    call = _task(name, folder)
    runs: list[float] = []
    while sum(runs) < MIN_SECONDS or not runs:
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    print(json.dumps({"seconds": statistics.median(runs)}))


def _data(leads: int, seed: int) -> Path:
    folder = DATA / f"compare-{leads}-{seed}"
    if not (folder / "done").exists():
        import smarketing as sm
        from smarketing.datasets import synthetic

        print(f"generating {leads:,} leads (seed {seed}) -> {folder.relative_to(ROOT)}", file=sys.stderr)
        frames = synthetic(sm.load_plan(PLAN), seed=seed, n_leads=leads).frames()
        folder.mkdir(parents=True, exist_ok=True)
        for kind, frame in frames.items():
            frame.write_parquet(folder / f"{kind}.parquet")
        (folder / "done").write_text("")
    return folder


def _export(rev: str | None, into: Path) -> Path:
    """The ``src/`` of ``rev`` (or of the working tree when ``None``) as a folder."""
    if rev is None:
        return ROOT / "src"
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _measure(task: str, folder: Path, src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, __file__, "--child", task, "--data", str(folder), "--src", str(src)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{task} failed with {src}:\n{done.stderr}")
    seconds: float = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    return seconds


def _noise(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def compare(base: str, head: str | None, folder: Path, tasks: list[str], rounds: int) -> list[dict[str, Any]]:
    """Median seconds of every task on both sides, measured in alternating order."""
    with tempfile.TemporaryDirectory(prefix="smarketing-compare-") as tmp:
        sides = {"base": _export(base, Path(tmp) / "base"), "head": _export(head, Path(tmp) / "head")}
        rows = []
        for task in tasks:
            times: dict[str, list[float]] = {"base": [], "head": []}
            for r in range(rounds):
                for side in ("base", "head") if r % 2 == 0 else ("head", "base"):
                    times[side].append(_measure(task, folder, sides[side]))
            b, h = statistics.median(times["base"]), statistics.median(times["head"])
            noise = max(_noise(times["base"]), _noise(times["head"]))
            rows.append({"task": task, "base": b, "head": h, "ratio": h / b, "noise": noise, "times": times})
            print(
                f"{task}: base {b:.3f} s, head {h:.3f} s, ratio {h / b:.3f} (noise {noise:.1%})",
                file=sys.stderr,
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The comparison as a markdown table."""
    lines = [
        "| task | base (median ms) | head (median ms) | head / base | noise |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        base, head = r["base"] * 1e3, r["head"] * 1e3
        lines.append(f"| {r['task']} | {base:.2f} | {head:.2f} | {r['ratio']:.3f} | {r['noise']:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", nargs="?", help="git revision to compare against")
    parser.add_argument("--head", help="git revision of the other side (default: the working tree)")
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=6, help="measurements per side and task (default 6)")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--child", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.data, args.src)
        return
    if args.base is None:
        parser.error("give the base revision")
    folder = _data(args.leads, args.seed)
    rows = compare(args.base, args.head, folder, args.tasks, args.rounds)
    head = args.head or "working tree"
    print(
        f"{args.base} (base) against {head} (head), {args.leads:,} synthetic leads, {args.rounds} rounds each"
    )
    print(f"machine: {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs\n")
    print(table(rows))


if __name__ == "__main__":
    main()
