"""Peak memory of ``check(plan, data=..., fx=...)`` on the Parquet scale data, each kind a scan.

Run it under ``/usr/bin/time -v`` (the "Maximum resident set size" is the figure) in a fresh process:

    /usr/bin/time -v .venv/bin/python benchmarks/check_memory.py 200000
    /usr/bin/time -v .venv/bin/python benchmarks/check_memory.py 1000000 D001,D002,D003

The data is ``benchmarks/data/scale-1000000-7`` (``benchmarks/scale.py --leads 1000000 --generate-only``);
a size below a million keeps the leads up to that id and their records, by a lazy filter. The optional
second argument is ``check``'s ``select``. Prints the seconds of the call and the data findings.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import polars as pl

import smarketing as sm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "scale-1000000-7"


def main() -> None:
    """Run one check on the scans and print its time and findings."""
    n = int(sys.argv[1])
    select = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    last = f"L{n:010d}"
    data = {}
    for kind in sm.records.RECORD_KINDS:
        scan = pl.scan_parquet(DATA / kind / "*.parquet")
        if n < 1_000_000 and kind != "accounts":
            scan = scan.filter(pl.col("id" if kind == "leads" else "lead_id") <= last)
        data[kind] = scan
    plan = sm.load_plan(ROOT / "examples" / "plan.yaml")
    fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
    start = time.perf_counter()
    report = sm.check(plan, data=data, fx=fx, select=select)
    print("seconds", round(time.perf_counter() - start, 1))
    print(sorted((d.code, d.message[:60]) for d in report.diagnostics if d.area == "data"))


if __name__ == "__main__":
    main()
