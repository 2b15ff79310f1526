"""Benchmark: the ``warehouse`` connector on each ELT layout at 100k synthetic leads, DuckDB and Parquet.

    .venv/bin/python benchmarks/warehouse.py [--leads N] [--seed S] [--repeat R] [--only LAYOUT ...]

The data comes from ``smarketing.datasets.synthetic`` on the example plan, written once as HubSpot's and
Salesforce's exports and then laid out as dlt, Airbyte and Fivetran load them (the test suite's builder,
``tests/connectors/warehouse_tables.py``), as a DuckDB file and as a Parquet folder, under
``benchmarks/data/`` (git-ignored). Each timed run is a fresh subprocess that loads one layout from one
form (strict: every row validated and kept) and reports its wall and CPU time and its own peak memory
(``ru_maxrss``); the parent also reads the child's ``ru_maxrss`` from ``wait4`` (the same figure, taken from
outside). ``import smarketing`` is timed apart and not in the load's time. The floor is the same
subprocess reading every table of the source with polars (Parquet) or DuckDB (``.pl()``), no mapping.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
LAYOUTS = (
    "dlt-hubspot",
    "airbyte-hubspot",
    "fivetran-hubspot",
    "dlt-salesforce",
    "airbyte-salesforce",
    "fivetran-salesforce",
)
FORMS = ("parquet", "duckdb")


def _base(n: int, seed: int) -> Path:
    return ROOT / "data" / f"warehouse-{n}-{seed}"


def ensure_data(n: int, seed: int) -> dict[tuple[str, str], Path]:
    """Each layout's tables in each form, written once."""
    base = _base(n, seed)
    out = {
        (layout, form): base / layout / ("tables/crm.duckdb" if form == "duckdb" else "tables-parquet")
        for layout in LAYOUTS
        for form in FORMS
    }
    if all(p.exists() for p in out.values()):
        return out
    sys.path.insert(0, str(ROOT.parent))
    from tests.connectors.warehouse_tables import (
        HubSpotExportTables,
        hubspot_tables,
        salesforce_tables,
        write,
    )

    import smarketing as sm
    from smarketing.datasets import synthetic, write_hubspot_export, write_salesforce_export

    plan = sm.load_plan(PLAN)
    data = synthetic(plan, seed=seed, n_leads=n)
    hubspot, salesforce = base / "hubspot-export", base / "salesforce-export"
    if not hubspot.exists():
        write_hubspot_export(plan, data, hubspot, seed=seed, time_zone="UTC")
    if not salesforce.exists():
        write_salesforce_export(plan, data, salesforce, seed=seed)
    export = HubSpotExportTables(hubspot, plan)
    for layout in LAYOUTS:
        tables = (
            salesforce_tables(salesforce, layout)
            if layout.endswith("salesforce")
            else hubspot_tables(export, layout)
        )
        for form in FORMS:
            if not out[layout, form].exists():
                root = base / layout / ("tables" if form == "duckdb" else "tables-parquet")
                write(tables, root, form=form)
    return out


def _child(layout: str, path: Path) -> None:
    """Load one layout (or read its tables with no mapping) and print wall, CPU, peak memory and rows."""
    started, cpu = time.perf_counter(), time.process_time()
    if layout == "floor":
        import polars as pl

        if path.is_file():
            import duckdb

            with duckdb.connect(str(path), read_only=True) as con:
                names = [
                    r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
                ]
                rows = sum(con.sql(f'select * from "{n}"').pl().height for n in names)
        else:
            rows = sum(pl.read_parquet(d / "*.parquet").height for d in sorted(path.iterdir()))
        imported = 0.0
    else:
        import smarketing as sm
        from smarketing.connectors import load_connector

        imported = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        options: dict[str, Any] = {"path": path, "layout": layout, "plan": sm.load_plan(PLAN)}
        if layout.endswith("salesforce"):
            from smarketing.datasets import SALESFORCE_CUSTOM_FIELDS

            options["fields"] = SALESFORCE_CUSTOM_FIELDS
        _, report = load_connector("warehouse", **options).load(progress=False)
        rows = sum(report.rows_kept.values())
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": used, "peak_mib": peak, "rows": rows, "import": imported}))


def _measure(layout: str, path: Path) -> dict[str, float]:
    """One child run; its ``ru_maxrss`` as the child saw it and as ``wait4`` gives it to the parent."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", layout, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{layout} on {path} failed ({child.returncode})")
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["child_maxrss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="layouts to time (fivetran-hubspot, ...)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    if args.generate:
        ensure_data(args.leads, args.seed)
        return
    # Written by a process of its own: Linux carries a process's peak memory into the children it starts
    # (ru_maxrss survives fork and exec), so a parent that held the generated data would raise every peak.
    subprocess.run(
        [sys.executable, __file__, "--generate", "--leads", str(args.leads), "--seed", str(args.seed)],
        check=True,
    )
    paths = ensure_data(args.leads, args.seed)
    machine = f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs"
    print(f"machine: {machine}, load {os.getloadavg()}, {args.leads:,} leads")
    print(
        "| layout | form | best wall s (CPU s) | rows kept | peak MiB (child ru_maxrss) | floor s | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for (layout, form), path in paths.items():
        if args.only and layout not in args.only:
            continue
        runs = [_measure(layout, path) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall"])
        floor = min((_measure("floor", path) for _ in range(args.repeat)), key=lambda r: r["wall"])
        print(
            f"| {layout} | {form} | {best['wall']:.2f} ({best['cpu']:.2f}) | {int(best['rows']):,} | "
            f"{best['peak_mib']:,.0f} ({max(r['child_maxrss_mib'] for r in runs):,.0f}) | "
            f"{floor['wall']:.2f} | {best['wall'] / floor['wall']:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
