"""Benchmark: ``smarketing.check`` on a large generated plan.

Usage::

    .venv/bin/python benchmarks/rules.py [--stages N] [--transitions N] [--kpis N] [--personas N]
                                         [--repeat N] [--noisy]

The plan is generated from a fixed seed: ``--stages`` stages (the first 40% owned by marketing, one
explicit handoff, three terminal stages), a chain through them plus random forward transitions and some
recycles up to ``--transitions`` transitions, ``--kpis`` KPIs over built-in metrics, ``--personas``
personas with distinct criteria, a glossary naming every stage and KPI (with synonyms), and the example
plan's SLA, reward, cadence and arbiter. Loading is timed separately; the target is for ``check``.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

import networkx
import polars as pl
import pydantic

import smarketing as sm
from smarketing.plan import load_plan

ROOT = Path(__file__).resolve().parent.parent
_FORMULAS = [
    ("sqls / mqls", "ratio"),
    ("won / (won + lost)", "ratio"),
    ("mqls", "count"),
    ("opportunities / sqls", "ratio"),
    ("sals / mqls", "ratio"),
    ("leads", "count"),
]


def generate(
    stages: int, transitions: int, kpis: int, personas: int, *, noisy: bool = False, seed: int = 7
) -> dict[str, Any]:
    """A large plan as data: every part present, mostly aligned, deterministic for a seed.

    One stage description in ten uses two discouraged synonyms (every one with ``noisy``), so the
    language rule has prose to search and findings to report.
    """
    rng = random.Random(seed)
    example = load_plan(ROOT / "examples" / "plan.yaml").model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    n_marketing = int(stages * 0.4)
    stage_rows = []
    for i in range(stages):
        owner = "marketing" if i < n_marketing else "sales"
        row: dict[str, Any] = {
            "id": f"s{i}",
            "name": f"Stage {i}",
            "owner": owner,
            "kind": "lead" if owner == "marketing" else "opportunity",
            "description": f"Stage {i} of the generated journey; an old prospect list calls it step {i}."
            if noisy or i % 10 == 0
            else f"Stage {i} of the generated journey, owned by {owner}.",
            "entry_criteria": [f"Criterion {i}a", f"Criterion {i}b"],
        }
        stage_rows.append(row)
    for offset, terminal in zip((3, 2, 1), ("won", "lost", "disqualified"), strict=True):
        stage_rows[stages - offset]["terminal"] = terminal
    edges: dict[tuple[int, int], dict[str, Any]] = {}
    last = stages - 4  # the chain ends at the stage before the terminals
    for i in range(last):
        edges[i, i + 1] = {"kind": "handoff"} if i == n_marketing - 1 else {}
    for terminal in range(stages - 3, stages):
        edges[last, terminal] = {}
    recycles = transitions // 20
    while len(edges) < transitions - recycles:
        # Forward moves within one team's part of the journey (no unmarked cross-team handoffs).
        a = rng.randrange(0, last)
        lo, hi = (a + 1, n_marketing - 1) if a < n_marketing else (a + 1, last)
        if lo <= hi:
            edges.setdefault((a, rng.randint(lo, hi)), {})
    while len(edges) < transitions:
        a = rng.randrange(n_marketing, last)
        edges.setdefault((a, rng.randrange(0, n_marketing)), {"kind": "recycle", "max_recycles": 2})
    transition_rows = [{"from": f"s{a}", "to": f"s{b}", **extra} for (a, b), extra in sorted(edges.items())]

    kpi_rows = []
    for i in range(kpis):
        formula, unit = _FORMULAS[i % len(_FORMULAS)]
        owners = ["marketing", "sales"] if i % 2 else (["marketing"] if unit == "count" else ["sales"])
        kpi_rows.append(
            {
                "id": f"k{i}",
                "name": f"KPI {i}",
                "owners": owners,
                "formula": formula,
                "unit": unit,
                "direction": "higher_is_better",
                "target": "0.3" if unit == "ratio" else 100,
                "period": "month",
            }
        )
    persona_rows = []
    base = example["personas"][0]
    for i in range(personas):
        p = copy.deepcopy(base)
        p["id"], p["name"] = f"p{i}", f"Persona {i}"
        p["firmographics"]["company_size"] = {"min": 10 * i, "max": 10 * i + 500}
        persona_rows.append(p)
    terms = [
        {"term": f"Stage {i}", "definition": f"Stage {i}.", "synonyms": [f"step {i}"]} for i in range(stages)
    ]
    terms += [
        {"term": f"KPI {i}", "definition": f"KPI {i}.", "synonyms": [f"metric {i}"]} for i in range(kpis)
    ]
    terms.append({"term": "Lead", "definition": "A lead.", "synonyms": ["prospect"]})

    plan = dict(example)
    plan.update(
        personas=persona_rows,
        journey={"stages": stage_rows, "transitions": transition_rows},
        kpis=kpi_rows,
        glossary={"terms": terms},
        targets={
            "period": "month",
            "revenue": "600000 EUR",
            "average_deal_size": "24000 EUR",
            "conversion_rates": {f"s{n_marketing - 1}": "0.5", f"s{n_marketing}": "0.5"},
        },
    )
    plan["sla"]["marketing"]["volume"]["stage"] = f"s{n_marketing - 1}"
    plan["sla"]["marketing"]["quality"].update(
        accepted_stage=f"s{n_marketing}", sql_stage=f"s{n_marketing + 1}"
    )
    plan["sla"]["sales"]["attempts"]["minimum"] = 6
    plan["sla"]["tiers"] = [{"id": "hot", "grades": ["A"], "first_response_hours": 1}]
    plan["rewards"]["kpis"] = ["k1"]
    return plan


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs{mem}{load}; smarketing {sm.__version__}, "
        f"pydantic {pydantic.VERSION}, networkx {networkx.__version__}, polars {pl.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--transitions", type=int, default=5000)
    parser.add_argument("--kpis", type=int, default=200)
    parser.add_argument("--personas", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--noisy", action="store_true", help="every stage description uses two discouraged synonyms"
    )
    args = parser.parse_args()

    data = generate(args.stages, args.transitions, args.kpis, args.personas, noisy=args.noisy)
    started = time.perf_counter()
    plan = load_plan(data)
    load_s = time.perf_counter() - started
    j = plan.journey
    print(
        f"plan: {len(j.stages):,} stages, {len(j.transitions):,} transitions, {len(plan.kpis)} KPIs, "
        f"{len(plan.personas)} personas, {len(plan.glossary.terms):,} glossary terms"
    )
    print(f"load_plan (not part of the target): {load_s:.3f} s")

    times, cpu = [], []
    report = None
    for _ in range(args.repeat):
        # A fresh copy each time: the journey graph is cached on the plan, and a user checks a plan once.
        fresh = plan.model_copy(update={"journey": j.model_copy()})
        started, started_cpu = time.perf_counter(), time.process_time()
        report = sm.check(fresh)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    assert report is not None
    c = report.counts
    print(
        f"check: first {times[0]:.3f} s, median {statistics.median(times):.3f} s, best {min(times):.3f} s "
        f"over {args.repeat} runs (target < 0.5 s); CPU median {statistics.median(cpu):.3f} s"
    )
    print(f"report: score {report.score}, {c['error']} errors, {c['warning']} warnings, {c['info']} infos")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
