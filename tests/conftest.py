"""Shared fixtures: the example plan and a minimal plan."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from smarketing import cli
from smarketing.cli import _demo
from smarketing.plan import AlignmentPlan, load_plan

# No timing assertions in tests: Hypothesis' per-example deadline (200 ms) is one, and on a loaded 2-core
# CI machine it failed examples that were only slow. Tests that want fewer or more examples still say so.
settings.register_profile("smarketing", deadline=None)
settings.load_profile("smarketing")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def demo_report_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo writes its report to ``build/`` of the working directory; in tests, to a temporary folder."""
    path = tmp_path_factory.mktemp("demo") / "smarketing-report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_demo, "DEMO_REPORT", path)
        yield path


@pytest.fixture(scope="session")
def cli_once() -> Callable[..., tuple[int, str, str]]:
    """Run a command once per session for the same arguments: its exit code, standard output and error.

    For tests that only read what a command prints (the demo's sections): the demo takes seconds, and
    several test files read the same run. A command that writes files, or a test that patches the
    command, runs it itself.
    """
    runs: dict[tuple[str, ...], tuple[int, str, str]] = {}

    def run(*argv: str) -> tuple[int, str, str]:
        if argv not in runs:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(list(argv))
            runs[argv] = code, out.getvalue(), err.getvalue()
        return runs[argv]

    return run


MINIMAL_PLAN = """\
name: Tiny Co FY2027
teams:
  - {id: marketing, name: Marketing, function: marketing}
  - {id: sales, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: marketing, kind: mql}
    - {id: won, name: Won, owner: sales, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""


@pytest.fixture(scope="session")
def example_plan_path() -> Path:
    """``examples/plan.yaml``, the plan the docs and the CLI demo use."""
    return ROOT / "examples" / "plan.yaml"


@pytest.fixture(scope="session")
def example_plan(example_plan_path: Path) -> AlignmentPlan:
    """The example plan, loaded once: plans are frozen, so sharing it is safe."""
    return load_plan(example_plan_path)


@pytest.fixture
def minimal_plan_text() -> str:
    """The smallest valid plan: two teams, two stages and a handoff."""
    return MINIMAL_PLAN


#: The fixtures that start the Spark session: tests using them run on one pytest-xdist worker.
_SPARK_FIXTURES = frozenset({"spark", "many_partitions"})


def pytest_itemcollected(item: pytest.Item) -> None:
    """Every Spark test in one xdist group (``--dist loadgroup`` in the Makefile): one JVM for the run.

    A JVM per worker doubled Spark's start and its just-in-time warm-up (the first queries of a fresh JVM
    are several times slower), and two JVMs on two cores slowed every other test. Marked as each test is
    collected, before xdist turns the mark into the test's group.
    """
    if _SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.xdist_group("spark"))


def _one_spark_worker(config: pytest.Config, factory: pytest.TempPathFactory) -> None:
    """Fail if a second xdist worker starts Spark under ``--dist loadgroup``: the grouping broke.

    It broke once silently (pytest 9.2's node ids, pytest-dev/pytest-xdist#1386): every worker started a
    JVM and ``make test`` took minutes longer. Each worker that starts Spark leaves a file in the run's
    shared temporary folder.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None or config.getoption("dist", "no") != "loadgroup":
        return
    shared = factory.getbasetemp().parent
    (shared / f"spark-{worker}").touch()
    started = {p.name.removeprefix("spark-") for p in shared.glob("spark-*")}
    others = sorted(started - {worker})
    if others:
        pytest.fail(f"Spark started on {worker} and {', '.join(others)}: the xdist_group 'spark' is not kept")


@pytest.fixture(scope="session")
def spark(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark session for the whole run (a JVM takes seconds to start), on one core.

    Its session time zone is a runtime setting: a test sets the zone it wants. Arrow batches of three
    rows make every frame cross Spark's Arrow boundary in several batches. Under ``make test`` every
    Spark test runs on one xdist worker (checked: :func:`_one_spark_worker`).
    """
    sql = pytest.importorskip("pyspark.sql")
    _one_spark_worker(pytestconfig, tmp_path_factory)
    before = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this venv's Python
    session = (
        sql.SparkSession.builder.master("local[1]")
        .appName("smarketing-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
        .config("spark.sql.shuffle.partitions", "1")
        # Adaptive execution would coalesce the reduces' small shuffle partitions into one (a merge across
        # partitions would go untested; the maps' fixed count it keeps) and runs each shuffle as a job of its
        # own (5 jobs for an `attribute` instead of 2). The benchmarks run Spark's defaults.
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Tiny frames: compiling generated code for each query costs more than interpreting it.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        # A JVM that lives for one run of small queries: the client compiler only (C2's compile threads
        # spent more CPU than the queries) and the serial collector. Measured on the matrix's Spark part:
        # the JVM's CPU 77 s -> 45 s (docs/performance.md). benchmarks/scale.py keeps the JVM's defaults.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        # The Python workers talk to the JVM over a Unix socket: over TCP on the loopback each task of a
        # Python map took about 35 ms more (49 ms instead of 13 for an identity map of a few rows).
        .config("spark.python.unix.domain.socket.enabled", "true")
        # PySpark records the Python call site of every Column call in the JVM (the "DataFrame" context of
        # Spark's own error messages): 13 py4j round trips for an `F.col` instead of 3, 11 for an `alias`
        # instead of 1. Off, the matrix's Spark cases made 80k round trips instead of 151k.
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if before is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = before


@pytest.fixture
def many_partitions(spark: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The Spark session with several shuffle partitions (the session's default is one), in a New York zone.

    Three partitions, or the test module's ``SHUFFLE_PARTITIONS``; the session's settings are put back after.
    """
    before = spark.conf.get("spark.sql.shuffle.partitions"), spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.shuffle.partitions", str(getattr(request.module, "SHUFFLE_PARTITIONS", 3)))
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    yield spark
    spark.conf.set("spark.sql.shuffle.partitions", before[0])
    spark.conf.set("spark.sql.session.timeZone", before[1])
