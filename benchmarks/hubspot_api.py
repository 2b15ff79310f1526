"""Benchmark: the live ``hubspot`` connector's full load against the fake HubSpot API, at 100k contacts.

    .venv/bin/python benchmarks/hubspot_api.py [--leads N] [--seed S]

The fake API of the connector's tests (``tests/connectors/hubspot_fake.py``, on the loopback address) is
filled from ``smarketing.datasets.synthetic`` on the example plan (100k leads: their companies, deals,
calls, e-mails and meetings in the synthetic proportions, with stage history) and served by its own
process. The connector loads everything in a fresh child process (strict, so every record is validated
and kept), which reports the requests it made, its wall time and its peak memory (``ru_maxrss``); the
parent starts both and holds no data, so neither peak is inflated by it. The server is single-threaded
werkzeug: the wall time includes its answering, as a real API's latency would.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "plan.yaml"
TOKEN_ENV = "SMARKETING_BENCH_HUBSPOT_TOKEN"


def _serve(n: int, seed: int) -> None:
    """The server: the fake account of ``n`` synthetic leads; its address on stdout; until stdin ends."""
    sys.path.insert(0, str(ROOT))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    from pytest_httpserver import HTTPServer
    from tests.connectors.hubspot_fake import TOKEN, fake_from_dataset

    from smarketing.datasets import synthetic
    from smarketing.plan import load_plan

    plan = load_plan(PLAN)
    started = time.perf_counter()
    fake = _cached(fake_from_dataset(plan, synthetic(plan, seed=seed, n_leads=n)))
    counts = {kind: len(records) for kind, records in fake.objects.items()}
    with HTTPServer(host="127.0.0.1", port=0, threaded=False) as http:
        fake.install(http)
        built = time.perf_counter() - started
        print(
            json.dumps(
                {"url": http.url_for("").rstrip("/"), "token": TOKEN, "objects": counts, "built": built}
            )
        )
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes it
        print(json.dumps({"served": len(fake.log)}))


def _cached(fake: Any) -> Any:
    """``fake`` listing each object's records once (the data does not change here; the tests' fake sorts
    them on every page, which at 270k calls would time the fake, not the connector)."""
    import attrs
    from tests.connectors.hubspot_fake import FakeHubSpot

    @attrs.define
    class Cached(FakeHubSpot):
        cache: dict[tuple[str, bool], Any] = attrs.Factory(dict)

        def records(self, kind: str, *, archived: bool) -> Any:
            if (kind, archived) not in self.cache:
                self.cache[kind, archived] = super().records(kind, archived=archived)
            return self.cache[kind, archived]

    return Cached(**{f.name: getattr(fake, f.name) for f in attrs.fields(FakeHubSpot)})


def _load(url: str) -> None:
    """The connector process: one full load; prints what it measured as JSON."""
    started = time.perf_counter()
    import smarketing  # noqa: F401
    from smarketing.connectors.hubspot_api import HubSpot
    from smarketing.plan import load_plan

    imported = time.perf_counter() - started
    hubspot = HubSpot(
        host=url, token_env=TOKEN_ENV, keyring_service=None, plan=load_plan(PLAN), search_interval=0.0
    )
    started = time.perf_counter()
    _, report = hubspot.load(progress=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "import_s": imported,
                "requests": hubspot.requests,
                "peak_mib": usage.ru_maxrss / 1024,
                "kept": dict(report.rows_kept),
                "refused": report.refused,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000, help="synthetic leads (default 100,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(*args.serve)
        return
    if args.load:
        _load(args.load)
        return
    me = [sys.executable, __file__]
    server = subprocess.Popen(
        [*me, "--serve", str(args.leads), str(args.seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdin is not None
    ready = json.loads(server.stdout.readline())
    print(f"fake account of {args.leads:,} leads built in {ready['built']:.1f} s: {ready['objects']}")
    env = {**os.environ, TOKEN_ENV: ready["token"]}
    child = subprocess.run(
        [*me, "--load", ready["url"]], env=env, capture_output=True, text=True, check=False
    )
    server.stdin.close()
    served = json.loads(server.stdout.readline())
    server.wait()
    if child.returncode:
        sys.exit(child.stderr[-3000:])
    got = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}")
    print(f"requests made: {got['requests']:,} (the server answered {served['served']:,})")
    print(
        f"wall time: {got['wall_s']:.1f} s (CPU {got['cpu_s']:.1f} s; import {got['import_s']:.1f} s apart)"
    )
    print(f"peak memory (ru_maxrss of the connector's process): {got['peak_mib']:,.0f} MiB")
    print(f"records kept: {got['kept']}, refused: {got['refused']}")


if __name__ == "__main__":
    main()
