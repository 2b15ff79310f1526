"""The differential matrix's Spark part: its time per tree, its Spark jobs per case, a Python task's cost.

Usage (from the repository root, after ``make setup``)::

    .venv/bin/python benchmarks/matrix_spark.py --trees . [/work/oldtree ...] [--rounds 2]
    .venv/bin/python benchmarks/matrix_spark.py --jobs
    .venv/bin/python benchmarks/matrix_spark.py --task-cost

- ``--trees``: runs ``pytest tests/frames/test_matrix.py -k spark_gives -n0`` (the 27 Spark cases, one
  local Spark session) in each checkout given, with ``PYTHONPATH`` its ``src`` (a ``git worktree`` of an
  older commit measures that commit, tests included), the trees one after the other, ``--rounds`` times
  over, so that each pair shares the machine's minutes. Prints pytest's time, the wall time and the load.
- ``--jobs``: the cases of this checkout once, with each case's wall time and the Spark jobs, stages and
  tasks it ran (Spark's status tracker; stages skipped because their shuffle output was there already are
  not counted).
- ``--task-cost``: the fixed cost of a task, in a ``local[1]`` session with the test suite's JVM and SQL
  settings (not its three-row Arrow batches): an identity ``mapInArrow``, an RDD ``mapPartitions`` and a
  JVM-only ``groupBy`` count over 30 rows on 1, 3 and 9 partitions (per run, best of three rounds of 20
  after a warm-up), and the py4j round trips of a few column expressions; in four sessions, the Python
  workers on the loopback's TCP or on a Unix socket (``spark.python.unix.domain.socket.enabled``), with
  and without PySpark's call-site capture (``spark.python.sql.dataFrameDebugging.enabled``).

Results are printed; docs/performance.md records them with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "tests/frames/test_matrix.py", "-k", "spark_gives", "-n0", "-q"]
PYTEST += ["-p", "no:cacheprovider"]


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def trees(paths: list[Path], rounds: int) -> None:
    """pytest's figure for the matrix's Spark cases in each tree, the trees alternating."""
    for r in range(1, rounds + 1):
        for tree in paths:
            env = {**os.environ, "PYTHONPATH": str(tree.resolve() / "src")}
            started = time.perf_counter()
            done = subprocess.run(PYTEST, cwd=tree, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"round {r} {tree}: {last} | wall {wall:.1f} s | load {_load()}", flush=True)


#: The pytest plugin of ``--jobs`` (written to a temporary module: ``-p`` imports plugins by name).
_PLUGIN = """
import time
import pytest

_rows = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    session = item.funcargs.get("many_partitions") or item.funcargs.get("spark")
    tracker = session.sparkContext.statusTracker() if session is not None else None
    before = set(tracker.getJobIdsForGroup(None)) if tracker else set()
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    if tracker is None:
        return
    jobs = sorted(set(tracker.getJobIdsForGroup(None)) - before)
    stages = tasks = 0
    for job in jobs:
        for stage in tracker.getJobInfo(job).stageIds:
            info = tracker.getStageInfo(stage)
            if info is not None and info.numCompletedTasks:
                stages += 1
                tasks += info.numCompletedTasks
    _rows.append((item.name, wall, len(jobs), stages, tasks))


def pytest_terminal_summary(terminalreporter):
    total = [0.0, 0, 0, 0]
    for name, wall, jobs, stages, tasks in _rows:
        line = f"{wall:6.2f} s  jobs {jobs:3d}  stages {stages:3d}  tasks {tasks:4d}  {name}"
        terminalreporter.write_line(line)
        total = [total[0] + wall, total[1] + jobs, total[2] + stages, total[3] + tasks]
    terminalreporter.write_line(
        f"{total[0]:6.2f} s  jobs {total[1]:3d}  stages {total[2]:3d}  tasks {total[3]:4d}  all cases"
    )
"""


def jobs() -> None:
    """Each case's wall time and Spark jobs, stages and tasks, in this checkout."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "matrix_jobs_plugin.py").write_text(_PLUGIN)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([folder, str(ROOT / "src")])}
        done = subprocess.run(
            [*PYTEST, "-p", "matrix_jobs_plugin"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [
        line
        for line in done.stdout.splitlines()
        if re.search(r"^\s*[\d.]+ s  jobs|\d+ (passed|failed)", line)
    ]
    print("\n".join(lines))


_SESSION = {
    "spark.sql.adaptive.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


def task_cost(unix_socket: str, debugging: str) -> None:
    """One session's timings (run in a process of its own: the settings are the session's start's)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    import polars as pl
    import py4j.clientserver
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own name)

    builder = SparkSession.builder.master("local[1]")
    for key, value in {
        **_SESSION,
        "spark.python.unix.domain.socket.enabled": unix_socket,
        "spark.python.sql.dataFrameDebugging.enabled": debugging,
    }.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    rows = pl.DataFrame({"k": [f"L{i}" for i in range(30)], "v": list(range(30))})
    frame = spark.createDataFrame(rows.to_arrow())

    def identity(batches):  # type: ignore[no-untyped-def]
        yield from batches

    def best(run) -> float:  # type: ignore[no-untyped-def]
        for _ in range(5):
            run()
        times = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(20):
                run()
            times.append((time.perf_counter() - started) / 20)
        return min(times) * 1000

    label = f"unix socket {unix_socket}, call-site capture {debugging}"
    for n in (1, 3, 9):
        arrow = best(lambda n=n: frame.repartition(n, "k").mapInArrow(identity, frame.schema).toArrow())
        rdd = best(lambda n=n: frame.rdd.repartition(n).mapPartitions(lambda it: it).count())
        jvm = best(lambda n=n: frame.repartition(n, "k").groupBy("k").count().toArrow())
        print(
            f"{label}: {n} partition(s): mapInArrow {arrow:.0f} ms, rdd.mapPartitions {rdd:.0f} ms, "
            f"groupBy {jvm:.0f} ms",
            flush=True,
        )
    calls = [0]
    send = py4j.clientserver.ClientServerConnection.send_command

    def counted(self, command):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return send(self, command)

    py4j.clientserver.ClientServerConnection.send_command = counted
    column = F.col("v")
    for name, make in (
        ("F.col", lambda: F.col("v")),
        ("alias", lambda: column.alias("x")),
        ("cast", lambda: column.cast("string")),
    ):
        make()  # the first call of a kind resolves its JVM class
        calls[0] = 0
        make()
        print(f"{label}: {name}: {calls[0]} py4j round trips", flush=True)
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trees", type=Path, nargs="+", help="checkouts to time the Spark cases in")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", action="store_true", help="each case's Spark jobs, stages and tasks")
    parser.add_argument("--task-cost", action="store_true", help="a Python task's and a column call's cost")
    parser.add_argument("--session", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.session:
        task_cost(*args.session)
        return
    if not (args.trees or args.jobs or args.task_cost):
        parser.error("give --trees, --jobs or --task-cost")
    if args.trees:
        trees(args.trees, args.rounds)
    if args.jobs:
        jobs()
    if args.task_cost:
        for unix_socket, debugging in (
            ("false", "true"),
            ("true", "true"),
            ("false", "false"),
            ("true", "false"),
        ):
            subprocess.run([sys.executable, __file__, "--session", unix_socket, debugging], check=True)


if __name__ == "__main__":
    main()
