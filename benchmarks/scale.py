"""Benchmark past one machine (issue 19): every public analysis on millions of leads read from Parquet parts.

Run from the repository root (``make bench-scale`` runs the default, polars and Spark at 1M leads)::

    nice -n 10 .venv/bin/python benchmarks/scale.py --leads 1000000 3000000 [--engines polars spark]
        [--tasks funnel discover ...] [--max-rss 12] [--timeout 1800] [--chunk 500000] [--seed 7]
    .venv/bin/python benchmarks/scale.py --leads 1000000 --check-data   # chunked data against one draw

1. **Data, written in chunks.** The example plan's synthetic data (:func:`smarketing.datasets.synthetic`)
   for ``--leads`` leads is written as Parquet part files, one folder per record kind
   (``benchmarks/data/scale-<N>-<seed>/<kind>/part-<c>.parquet``, git-ignored), one chunk of ``--chunk``
   leads at a time, each chunk drawn in a process of its own with seed ``seed + 1_000_000 * c``: 10M leads
   (about 52M stage events, 45M touches, 2.4M deals) never sit in memory at once. Every generated id
   (``L``, ``A``, ``T``, ``D``, ``ACT``, ``F`` ...) and every reference to one gets the chunk's number after
   its letters (``L0000042`` of chunk 3 becomes ``L0030000042``), so ids stay unique across chunks; the
   plan's own ids (people, teams, campaigns) are left alone. A chunk is the same file whatever ``N`` is, so
   a smaller size links the chunks of a larger one instead of drawing them again. ``--check-data`` compares
   the chunked data's rows per lead and shares with one ``synthetic`` draw of the same size and checks that
   the ids are unique.
2. **Each analysis in a fresh child process**, given ``{kind: pl.scan_parquet(<kind>/*.parquet)}`` (polars)
   or ``{kind: spark.read.parquet(<kind>)}`` (PySpark, ``local[2]``, session zone UTC, ``PYSPARK_PYTHON`` =
   this venv's Python, ``spark.driver.memory`` from ``--spark-driver-memory``). The child reports wall and
   CPU time of the call (CPU: the Python process's user + sys over its threads; the JVM's CPU is reported
   apart), its own peak RSS (``ru_maxrss``, taken before the digest) and, on Spark, the driver JVM's peak
   RSS (``VmHWM`` of the ``java`` child) read before the session stops, and a digest of the result: the
   sha256 of its ``to_dict()`` as JSON with sorted keys (``discover``: its nodes, edges and graph
   attributes; per-lead frames of over 100,000 rows, as ``SLAReport.leads``, hashed after it as NDJSON
   slices), so engines can be compared for identical answers.
3. **A watchdog** in this process samples the RSS of the child and all its descendants (the JVM too) every
   0.25 s and kills the child's process group above ``--max-rss`` GiB, recorded as ``did not fit``; a child
   running past ``--timeout`` seconds is killed and recorded as ``timed out``.
4. Each result is appended as a JSON line to ``benchmarks/results/scale-<UTC timestamp>.jsonl``
   (git-ignored) and the Markdown table is printed at the end, with the machine notes; ``--table FILE ...``
   prints the table of earlier runs (e.g. polars and Spark run apart).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PLAN = ROOT / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = "2026-10"
REWARDS_AS_OF = date(2026, 10, 31)
KINDS = (
    "accounts",
    "leads",
    "touchpoints",
    "stage_events",
    "activities",
    "deals",
    "dispositions",
    "feedback",
)
#: Columns holding generated ids, by kind (a reference to another record is an id too)
ID_COLUMNS = {
    "accounts": ("id",),
    "leads": ("id", "account_id"),
    "touchpoints": ("id", "lead_id", "account_id"),
    "stage_events": ("lead_id",),
    "activities": ("id", "lead_id", "account_id"),
    "deals": ("id", "lead_id", "account_id"),
    "dispositions": ("lead_id",),
    "feedback": ("id", "lead_id", "account_id", "deal_id"),
}
#: Seeds of chunk ``c``: ``seed + CHUNK_SEED_STEP * c`` (chunk 0 is the plain generator's draw).
CHUNK_SEED_STEP = 1_000_000
#: Heavy children run at niceness 10 (the machine is shared), unless this process already does.
_NICE = [] if os.nice(0) >= 10 else ["nice", "-n", "10"]

TASKS = (
    "funnel",
    "funnel_by",
    "discover",
    "conformance",
    "evaluate_sla",
    "scorecard",
    "attribute_linear",
    "attribute_markov",
    "attribute_time_decay",
    "attribute_w_shaped",
    "compute_rewards",
    "check",
    "dispositions",
    "waterfall",
    "compare_campaigns",
    "customer_feedback",
    "sourced_influenced",
    "score",
    "match",
    "agreement",
    "calibrate",
    "segment",
)
LABELS = {
    "funnel": "`funnel` (ordered, as_of)",
    "funnel_by": "`funnel(by='persona')`",
    "discover": "`discover`",
    "conformance": "`conformance`",
    "evaluate_sla": "`evaluate_sla`",
    "scorecard": "`scorecard` (EUR, fx)",
    "attribute_linear": "`attribute(model='linear')`",
    "attribute_markov": "`attribute(model='markov')`",
    "attribute_time_decay": "`attribute(model='time_decay')`",
    "attribute_w_shaped": "`attribute(model='w_shaped')` (stage events)",
    "compute_rewards": "`compute_rewards`",
    "check": "`check(plan, data=...)`",
    "dispositions": "`dispositions`",
    "waterfall": "`waterfall` (cohorts by month)",
    "compare_campaigns": "`compare_campaigns`",
    "customer_feedback": "`customer_feedback`",
    "sourced_influenced": "`sourced_influenced` (by campaign, linear)",
    "score": "`score` (personas)",
    "match": "`match` (personas)",
    "agreement": "`agreement`",
    "calibrate": "`calibrate`",
    "segment": "`segment`",
}


# --- data -------------------------------------------------------------------------------------------------


def _folder(n: int, seed: int) -> Path:
    return DATA / f"scale-{n}-{seed}"


def _chunks(n: int, chunk: int) -> list[int]:
    """Leads per chunk: full chunks, then the rest."""
    sizes = [chunk] * (n // chunk)
    return sizes + ([n % chunk] if n % chunk else [])


def _write_chunk(folder: Path, c: int, size: int, seed: int) -> None:
    """Draw chunk ``c`` and write its part files (runs in a process of its own)."""
    import polars as pl

    import smarketing as sm
    from smarketing.datasets import synthetic

    data = synthetic(sm.load_plan(PLAN), seed=seed + CHUNK_SEED_STEP * c, n_leads=size).frames()
    tag = f"{c:03d}"
    for kind in KINDS:
        frame = data[kind]
        renamed = []
        for column in ID_COLUMNS[kind]:
            if column not in frame.columns:
                continue
            expr = pl.col(column).str.replace(r"^([A-Z]+)", "${1}" + tag)
            renamed.append(expr.alias(column))
        out = folder / kind / f"part-{c:05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.with_columns(renamed).write_parquet(out.with_suffix(".tmp"))
        out.with_suffix(".tmp").rename(out)


def ensure_data(n: int, seed: int, chunk: int) -> Path:
    """The part files for ``n`` leads, written (or linked from a larger size's identical chunks) once."""
    folder = _folder(n, seed)
    manifest = folder / "manifest.json"
    if manifest.exists():
        return folder
    sizes = _chunks(n, chunk)
    folder.mkdir(parents=True, exist_ok=True)
    # The layout is written first, so that a smaller size can link the chunks a larger one has finished.
    (folder / "layout.json").write_text(json.dumps({"seed": seed, "chunk": chunk, "sizes": sizes}))
    layouts = {p.parent: json.loads(p.read_text()) for p in DATA.glob(f"scale-*-{seed}/layout.json")}
    started = time.perf_counter()
    for c, size in enumerate(sizes):
        if all((folder / kind / f"part-{c:05d}.parquet").exists() for kind in KINDS):
            continue
        source = next(
            (
                other
                for other, layout in layouts.items()
                if other != folder
                and layout["chunk"] == chunk
                and layout["sizes"][c : c + 1] == [size]
                and all((other / kind / f"part-{c:05d}.parquet").exists() for kind in KINDS)
            ),
            None,
        )
        if source is not None:
            for kind in KINDS:
                (folder / kind).mkdir(parents=True, exist_ok=True)
                target = folder / kind / f"part-{c:05d}.parquet"
                target.unlink(missing_ok=True)
                os.link(source / kind / f"part-{c:05d}.parquet", target)
            continue
        print(f"chunk {c + 1}/{len(sizes)}: {size:,} leads -> {folder.relative_to(ROOT)}", file=sys.stderr)
        subprocess.run(
            [
                *_NICE,
                sys.executable,
                __file__,
                "--write-chunk",
                str(folder),
                str(c),
                str(size),
                "--seed",
                str(seed),
            ],
            check=True,
            cwd=ROOT,
        )
    rows = _rows(folder)
    manifest.write_text(json.dumps({"leads": n, "seed": seed, "chunk": chunk, "sizes": sizes, "rows": rows}))
    print(f"data for {n:,} leads ready in {time.perf_counter() - started:.0f} s: {rows}", file=sys.stderr)
    return folder


def _rows(folder: Path) -> dict[str, int]:
    import polars as pl

    return {
        kind: int(pl.scan_parquet(folder / kind / "*.parquet").select(pl.len()).collect().item())
        for kind in KINDS
    }


def _stats(frames: dict[str, Any], leads: int) -> dict[str, float]:
    """Rows per lead of every kind and a few shares, from lazy or eager polars frames."""
    import polars as pl

    out: dict[str, float] = {}
    for kind in KINDS:
        out[f"{kind} per lead"] = frames[kind].lazy().select(pl.len()).collect().item() / leads
    deals = frames["deals"].lazy()
    out["won share of deals"] = deals.select((pl.col("stage") == "won").mean()).collect().item()
    out["EUR share of deals"] = deals.select((pl.col("amount_currency") == "EUR").mean()).collect().item()
    out["leads with a persona"] = (
        frames["leads"].lazy().select(pl.col("persona").is_not_null().mean()).collect().item()
    )
    return out


def check_data(n: int, seed: int, chunk: int) -> None:
    """Compare the chunked data with one draw of ``n`` leads; check ids are unique across chunks."""
    import polars as pl

    folder = ensure_data(n, seed, chunk)
    chunked = {kind: pl.scan_parquet(folder / kind / "*.parquet") for kind in KINDS}
    for kind in KINDS:
        if "id" in ID_COLUMNS[kind]:
            dupes = (
                chunked[kind].group_by("id").len().filter(pl.col("len") > 1).select(pl.len()).collect().item()
            )
            print(f"{kind}: {dupes} duplicate ids")
            assert dupes == 0, kind
    orphans = (
        chunked["stage_events"]
        .join(chunked["leads"], left_on="lead_id", right_on="id", how="anti")
        .select(pl.len())
        .collect()
        .item()
    )
    print(f"stage events whose lead is missing: {orphans}")
    code = (
        "import json, sys, smarketing as sm\n"
        "from smarketing.datasets import synthetic\n"
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
        "import scale\n"
        f"d = synthetic(sm.load_plan({str(PLAN)!r}), seed={seed}, n_leads={n}).frames()\n"
        f"print(json.dumps(scale._stats(d, {n})))\n"
    )
    one = json.loads(
        subprocess.run([*_NICE, sys.executable, "-c", code], check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    mine = _stats(chunked, n)
    print(
        f"\n| measure | one draw of {n:,} | {len(_chunks(n, chunk))} chunks of {chunk:,} |\n|---|---:|---:|"
    )
    for key, value in one.items():
        print(f"| {key} | {value:.4f} | {mine[key]:.4f} |")


# --- one measurement, in the child ------------------------------------------------------------------------


#: A result's polars frames longer than this are hashed slice by slice (``write_ndjson``), not through
#: ``to_dict()``: ``SLAReport.to_dict()`` at 1M leads is 618 MB of JSON (3.1 GiB of Python objects).
BIG_FRAME_ROWS = 100_000


def _read_back(frame: Any) -> Any:
    """A frame kept on Spark, written out by Spark and read back by polars: never through the driver's heap.

    (Read through the driver, ``toArrow``, 10M leads' per-lead rows did not fit its 2 GiB heap.) Times are
    written as microseconds since the epoch in UTC and read as the same instants, as ``to_polars`` gives.
    """
    import shutil
    import tempfile

    import polars as pl

    from smarketing.frames import _engine

    folder = Path(tempfile.mkdtemp(prefix="digest-", dir=DATA))
    try:
        frame.sparkSession.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        frame.write.mode("overwrite").parquet(str(folder / "rows"))
        rows = pl.read_parquet(folder / "rows" / "*.parquet")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _engine._utc(rows)


def _digest(result: Any) -> tuple[str, dict[str, Any]]:
    """sha256 of the result's ``to_dict()`` as JSON (sorted keys), and a small summary to eyeball.

    Per-lead frames of more than :data:`BIG_FRAME_ROWS` rows are left out of ``to_dict()`` (the result is
    rebuilt with them empty) and hashed after it, sorted by all their columns, in slices of that many rows
    as NDJSON, by field name. A per-lead frame kept on Spark (``LeadScores.frame``, a report's ``leads``) is
    written out by Spark and read into polars first (:func:`_read_back`), so both engines' results are
    hashed alike; a ledger's lines are hashed as its ``line_table`` (the same columns on both engines).
    """
    import attrs
    import polars as pl

    from smarketing.frames import _engine

    big: dict[str, pl.DataFrame] = {}
    # A ledger keeps its lines coded (polars) or as a line table (Spark): hash ``line_table`` on both.
    table = getattr(result, "line_table", None) if hasattr(type(result), "line_table") else None
    if table is not None and _engine.is_spark(table):
        table = _read_back(table)
    if attrs.has(type(result)):
        for field in attrs.fields(type(result)):
            value = getattr(result, field.name)
            if _engine.is_spark(value):
                value = _read_back(value)
            if isinstance(value, pl.DataFrame) and value.height > BIG_FRAME_ROWS:
                flat = [c for c, t in value.schema.items() if not t.is_nested()]
                big[field.alias or field.name] = value.sort(flat, nulls_last=True, maintain_order=True)
        if big:
            result = attrs.evolve(result, **{name: frame.head(0) for name, frame in big.items()})
        if table is not None:  # a ledger: its lines as both engines give them, whatever its fields hold
            flat = [c for c, t in table.schema.items() if not t.is_nested()]
            big = {"line_table": table.sort(flat, nulls_last=True, maintain_order=True)}
    if hasattr(result, "to_dict"):
        payload = result.to_dict()
    else:  # discover: a networkx graph
        payload = {
            "graph": dict(result.graph),
            "nodes": [[n, d] for n, d in sorted(result.nodes(data=True))],
            "edges": [[a, b, d] for a, b, d in sorted(result.edges(data=True), key=lambda e: (e[0], e[1]))],
        }
    text = json.dumps(payload, sort_keys=True, default=str).encode()
    summary: dict[str, Any] = {"result_bytes": len(text)}
    if hasattr(result, "rows") and isinstance(getattr(result, "rows", None), list | tuple):
        summary["result_rows"] = len(result.rows)
    digest = hashlib.sha256(text)
    for name, frame in sorted(big.items()):
        digest.update(name.encode())
        summary[f"{name}_rows"] = frame.height
        for offset in range(0, frame.height, BIG_FRAME_ROWS):
            digest.update(frame.slice(offset, BIG_FRAME_ROWS).write_ndjson().encode())
    if big:
        summary["digest_kind"] = f"to_dict, then {', '.join(sorted(big))} as NDJSON"
    return digest.hexdigest(), summary


def _calls(data: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    import smarketing as sm

    plan = sm.load_plan(PLAN)
    fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
    events = data["stage_events"]
    return {
        "funnel": lambda: sm.funnel(plan.journey, events, as_of=AS_OF),
        "funnel_by": lambda: sm.funnel(plan.journey, events, leads=data["leads"], by="persona", as_of=AS_OF),
        "discover": lambda: sm.discover(events),
        "conformance": lambda: sm.conformance(plan.journey, events),
        "evaluate_sla": lambda: sm.evaluate_sla(plan, data, as_of=AS_OF),
        "scorecard": lambda: sm.scorecard(plan, data, period=PERIOD, as_of=AS_OF, fx=fx),
        "attribute_linear": lambda: sm.attribute(data, model="linear", fx=fx, currency="EUR"),
        "attribute_markov": lambda: sm.attribute(data, model="markov", fx=fx, currency="EUR"),
        "attribute_time_decay": lambda: sm.attribute(data, model="time_decay", fx=fx, currency="EUR"),
        "attribute_w_shaped": lambda: sm.attribute(data, model="w_shaped", fx=fx, currency="EUR"),
        "compute_rewards": lambda: sm.compute_rewards(
            data["deals"],
            plan,
            touchpoints=data["touchpoints"],
            stage_events=events,
            fx=fx,
            period=PERIOD,
            as_of=REWARDS_AS_OF,
        ),
        "check": lambda: sm.check(plan, data=data, fx=fx),
        "dispositions": lambda: sm.dispositions(plan, data, as_of=AS_OF),
        "waterfall": lambda: sm.waterfall(plan, data, as_of=AS_OF, fx=fx),
        "compare_campaigns": lambda: sm.compare_campaigns(plan, data, as_of=AS_OF, fx=fx),
        "customer_feedback": lambda: sm.customer_feedback(plan, data, as_of=AS_OF),
        "sourced_influenced": lambda: sm.sourced_influenced(plan, data, as_of=AS_OF, fx=fx),
        "score": lambda: sm.score(plan, data, as_of=AS_OF),
        "match": lambda: sm.match(plan, data, as_of=AS_OF),
        "agreement": lambda: sm.agreement(plan, data),
        "calibrate": lambda: sm.calibrate(plan, data, as_of=AS_OF),
        "segment": lambda: sm.segment(plan, data),
    }


def _jvm_pid() -> int | None:
    """The ``java`` process this one started (PySpark's gateway), if any."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == me and "java" in (entry / "cmdline").read_bytes().decode(errors="replace"):
                return int(entry.name)
    return None


def _status_kib(pid: int, field: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _jvm_cpu(pid: int) -> float | None:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return None


def child(task: str, engine: str, folder: Path, driver_memory: str) -> None:
    """Run one task on one engine in this (fresh) process and print its measurements as a JSON line."""
    out: dict[str, Any] = {}
    spark = None
    if engine == "polars":
        import polars as pl

        data: dict[str, Any] = {kind: pl.scan_parquet(folder / kind / "*.parquet") for kind in KINDS}
    else:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]")
            .appName(f"smarketing-scale-{task}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        data = {kind: spark.read.parquet(str(folder / kind)) for kind in KINDS}
        out["spark_start_s"] = round(time.perf_counter() - t0, 2)
    jvm = _jvm_pid() if spark is not None else None
    if jvm is not None:
        out["jvm_rss_after_start_mib"] = round((_status_kib(jvm, "VmRSS") or 0) / 1024)
    jvm_cpu0 = _jvm_cpu(jvm) if jvm is not None else None
    calls = _calls(data)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    try:
        result = calls[task]()
    except Exception as error:  # recorded, not raised: the table says which failed and how
        out.update(status="error", error=f"{type(error).__name__}: {str(error)[:300]}")
        result = None
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 2)
    out["peak_mib"] = round(r1.ru_maxrss / 1024)
    if jvm is not None:
        out["jvm_peak_mib"] = round((_status_kib(jvm, "VmHWM") or 0) / 1024)
        cpu1 = _jvm_cpu(jvm)
        if cpu1 is not None and jvm_cpu0 is not None:
            out["jvm_cpu_s"] = round(cpu1 - jvm_cpu0, 2)
    if result is not None:
        out["status"] = "ok"
        print(json.dumps(out), flush=True)  # the measurements stand even if the digest then does not fit
        started = time.perf_counter()
        out["digest"], summary = _digest(result)
        out.update(summary, digest_s=round(time.perf_counter() - started, 1))
    print(json.dumps(out), flush=True)
    if spark is not None:
        spark.stop()


# --- the harness ------------------------------------------------------------------------------------------


def _tree_rss_kib(root: int) -> int:
    """RSS of ``root`` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child_pid, parent in parents.items():
            if parent == pid and child_pid not in tree:
                tree.add(child_pid)
                frontier.append(child_pid)
    return sum(_status_kib(pid, "VmRSS") or 0 for pid in tree)


def measure(task: str, engine: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one child under the watchdog; its JSON line, or why it did not finish."""
    limit_kib = int(args.max_rss * 2**20)
    command = [*_NICE, sys.executable, __file__, "--child", task, "--engine", engine]
    command += ["--folder", str(folder), "--spark-driver-memory", args.spark_driver_memory]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    peak_tree = 0
    verdict: str | None = None
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_tree, verdict
        while not stop.wait(0.25):
            rss = _tree_rss_kib(proc.pid)
            peak_tree = max(peak_tree, rss)
            over_time = time.perf_counter() - started > args.timeout
            if rss > limit_kib or over_time:
                verdict = "did not fit" if rss > limit_kib else "timed out"
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate()
    finally:  # this process stopped (Ctrl-C, a SIGTERM): take the child and its JVM down too
        stop.set()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    watcher.join()
    row: dict[str, Any] = {"task": task, "engine": engine}
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if lines:
        row.update(json.loads(lines[-1]))
    if lines and verdict is not None:  # the call finished; its digest (to_dict as JSON) did not
        row["digest_status"] = verdict
    elif not lines:
        row["status"] = verdict or f"crashed (exit {proc.returncode})"
        row["error"] = stderr.strip()[-400:] if verdict is None else ""
        row["killed_after_s"] = round(time.perf_counter() - started, 1)
    row["tree_peak_mib"] = round(peak_tree / 1024)
    row["load"] = [round(x, 2) for x in os.getloadavg()]
    return row


def machine() -> dict[str, Any]:
    """Facts about the machine and the libraries, for the notes beside the table."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = subprocess.run(
        [sys.executable, "-c", "import polars, pyspark; print(polars.__version__, pyspark.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "polars": versions[0] if versions else None,
        "pyspark": versions[1] if len(versions) > 1 else None,
    }


def _cell(row: dict[str, Any]) -> str:
    if row.get("status") != "ok":
        status = row.get("status", "?")
        after = f" after {row['killed_after_s']:.0f} s" if "killed_after_s" in row else ""
        return f"{status}{after}"
    text = f"{row['wall_s']:.1f} s / {row['cpu_s']:.1f} s / {row['peak_mib']:,} MiB"
    if "jvm_peak_mib" in row:
        text += f" / JVM {row['jvm_peak_mib']:,} MiB"
    return text


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per task, one column per (engine, leads); digests compared to polars'."""
    columns = sorted({(r["engine"], r["leads"]) for r in rows}, key=lambda c: (c[0] != "polars", c[0], c[1]))
    head = "| analysis | " + " | ".join(f"{e} {n / 1e6:g}M" for e, n in columns) + " | same result |"
    lines = [head, "|---|" + "---:|" * len(columns) + "---|"]
    for task in TASKS:
        mine: dict[tuple[str, int], dict[str, Any]] = {}
        for r in rows:  # a later run of the same cell wins, unless it did not finish and an earlier one did
            cell = (r["engine"], r["leads"])
            if r["task"] == task and (r.get("status") == "ok" or mine.get(cell, {}).get("status") != "ok"):
                mine[cell] = r
        if not mine:
            continue
        cells = [_cell(mine[c]) if c in mine else "-" for c in columns]
        same = []
        for engine, n in columns:
            if engine == "polars" or (engine, n) not in mine or ("polars", n) not in mine:
                continue
            a, b = mine[("polars", n)].get("digest"), mine[(engine, n)].get("digest")
            if mine[("polars", n)].get("digest_kind") != mine[(engine, n)].get("digest_kind"):
                same.append(f"{engine} {n / 1e6:g}M: not compared (digests of different kinds)")
            elif a and b:
                same.append(f"{engine} {n / 1e6:g}M: {'yes' if a == b else 'NO'}")
        lines.append(f"| {LABELS[task]} | " + " | ".join(cells) + f" | {', '.join(same) or '-'} |")
    notes = sorted({f"- {LABELS[r['task']]} on {r['engine']}: {r['error']}" for r in rows if r.get("error")})
    return "\n".join(lines + (["", *notes] if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000], help="sizes (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--chunk", type=int, default=500_000, help="leads per generated chunk (default 500,000)"
    )
    parser.add_argument("--engines", nargs="+", choices=("polars", "spark"), default=["polars", "spark"])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument(
        "--max-rss", type=float, default=12.0, help="GiB for a child and its descendants (12)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child (default 1800)")
    parser.add_argument("--spark-driver-memory", default="4g")
    parser.add_argument(
        "--out", type=Path, help="JSON lines file (default benchmarks/results/scale-<time>.jsonl)"
    )
    parser.add_argument("--generate-only", action="store_true", help="write the data and stop")
    parser.add_argument("--check-data", action="store_true", help="compare chunked data with one draw")
    parser.add_argument("--table", type=Path, nargs="+", help="print the table of these JSON lines files")
    parser.add_argument("--child", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("polars", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-chunk", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_chunk:
        folder, c, size = args.write_chunk
        _write_chunk(Path(folder), int(c), int(size), args.seed)
        return
    if args.child:
        child(args.child, args.engine, args.folder, args.spark_driver_memory)
        return
    if args.table:
        rows = [json.loads(line) for path in args.table for line in path.read_text().splitlines() if line]
        loads = [load for r in rows for load in r.get("load", [])[:1]]
        span = f"{min(r['at'] for r in rows)} to {max(r['at'] for r in rows)}"
        print(f"{len(rows)} runs, {span}, load average (1 min) {min(loads)}-{max(loads)}\n")
        print(table(rows))
        return
    if args.check_data:
        for n in args.leads:
            check_data(n, args.seed, args.chunk)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    # Larger sizes first: smaller ones link their chunks.
    folders = {n: ensure_data(n, args.seed, args.chunk) for n in sorted(args.leads, reverse=True)}
    if args.generate_only:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"scale-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.jsonl"
    notes = machine()
    print(json.dumps({"machine": notes}), file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for n in sorted(args.leads):
        rows_n = json.loads((folders[n] / "manifest.json").read_text())["rows"]
        for engine in args.engines:
            for task in args.tasks:
                row = {"leads": n, "data_rows": rows_n, **measure(task, engine, folders[n], args)}
                row["at"] = datetime.now(UTC).isoformat(timespec="seconds")
                rows.append(row)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"machine: {notes}; results: {out}\n")
    print("Cells: wall / CPU of the Python process / its peak RSS [/ driver JVM peak RSS].\n")
    print(table(rows))


if __name__ == "__main__":
    main()
