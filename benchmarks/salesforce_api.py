"""Benchmark: the live ``salesforce`` connector's full load against the fake Salesforce API, 100k leads.

    .venv/bin/python benchmarks/salesforce_api.py [--leads N] [--seed S] [--only rest|bulk ...]

A server process fills the tests' fake Salesforce (``tests/connectors/salesforce_fake.py``: REST and Bulk
2.0 on the loopback address, TLS by a throwaway CA) from ``smarketing.datasets.synthetic`` on the example
plan through the Data Export writer, and serves it. For each mode a fresh child process makes the
connector and runs ``load()`` (strict): ``rest`` reads every object through REST query pages (2,000
records a page), ``bulk`` reads the objects of 50,000 records or more through Bulk 2.0 jobs (50,000
records a result page). The child reports the requests made, the wall time of the load, and its peak
memory (``ru_maxrss``, the fake server's memory not included); the server's time answering is part of the
wall time, as a real org's would be (without the network).

Measured 2026-12-06 at 100k leads (1.46M rows: 480k LeadHistory, 476k Task, 204k CampaignMember), seed 1,
on the shared 2-CPU machine with other jobs running: ``rest`` 764 requests, 299.0 s, 974 MiB peak;
``bulk`` 185 requests, 85.7 s, 977 MiB peak. Most of the wall time is the fake server building its
answers in Python (preparing the org took 422 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
TOKEN_ENV = "SMARKETING_BENCH_SF_ACCESS_TOKEN"


def _serve(n: int, seed: int) -> None:
    """The server process: the fake org of ``n`` leads, its address and CA on stdout, until stdin ends."""
    sys.path.insert(0, str(ROOT.parent))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    import trustme
    from pytest_httpserver import HTTPServer
    from tests.connectors.salesforce_fake import fake_from_dataset

    import smarketing as sm
    from smarketing import datasets

    started = time.perf_counter()
    plan = sm.load_plan(PLAN)
    folder = Path(tempfile.mkdtemp(prefix="sf-bench-"))
    fake = fake_from_dataset(plan, datasets.synthetic(plan, seed=seed, n_leads=n), folder)
    counts = {obj: len(rows) for obj, rows in fake.objects.items()}
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    fake.token = os.environ[TOKEN_ENV]
    fake.install(server)
    server.start()
    ready = {"url": server.url_for("").rstrip("/"), "ca": str(bundle), "objects": counts}
    ready["prepared_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(ready), flush=True)
    sys.stdin.read()
    server.stop()


def _child(url: str, bundle: str, mode: str) -> None:
    """One measured load: the connector made and ``load()`` run once, strict."""
    import smarketing as sm
    from smarketing.connectors.salesforce_api import Salesforce

    plan = sm.load_plan(PLAN)
    threshold = None if mode == "rest" else 50_000
    connector = Salesforce(
        instance_url=url,
        plan=plan,
        env_prefix="SMARKETING_BENCH_SF_",
        keyring_service=None,
        verify=bundle,
        bulk_threshold=threshold,
        bulk_poll=0.2,
    )
    started = time.perf_counter()
    data, _ = connector.load(strict=True, progress=False)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = {k: f.height for k, f in data.frames().items()}
    print(
        json.dumps(
            {"mode": mode, "wall_s": wall, "requests": connector.requests, "peak_mib": peak, "rows": rows}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=["rest", "bulk"], choices=["rest", "bulk"])
    args = parser.parse_args()
    me = str(Path(__file__).resolve())
    env = {**os.environ, TOKEN_ENV: "00D000000000000!bench-token"}
    server = subprocess.Popen(
        [sys.executable, me, "--serve", str(args.leads), str(args.seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    assert server.stdin is not None
    ready = json.loads(server.stdout.readline())
    print(
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; fake org of {args.leads:,} leads prepared in {ready['prepared_s']} s"
    )
    print("objects: " + ", ".join(f"{k} {v:,}" for k, v in sorted(ready["objects"].items())))
    try:
        for mode in args.only:
            out = subprocess.run(
                [sys.executable, me, "--child", ready["url"], ready["ca"], mode],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode:
                sys.exit(f"{mode}: the load failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{mode:5s}: {result['requests']:5d} requests, {result['wall_s']:7.1f} s wall, "
                f"{result['peak_mib']:7.0f} MiB peak; rows {result['rows']}",
                flush=True,
            )
    finally:
        server.stdin.close()
        server.wait(timeout=60)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
