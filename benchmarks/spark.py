"""Spark benchmark: journey, attribute, rewards, SLA, scorecard and feedback on Spark (local[2]) vs polars.

Usage (from the repository root, after ``make setup``)::

    .venv/bin/python benchmarks/spark.py [--leads 200000] [--dir /tmp/smarketing-spark] [--reuse]

What it does:

1. Generates the example plan's synthetic data (``smarketing.datasets.synthetic``, seed 1) and writes the
   stage events, leads, touchpoints, deals, activities, dispositions and feedback as Parquet to ``--dir``
   (never to the repository).
2. Runs each engine in a fresh subprocess: polars reads the Parquet files with ``pl.read_parquet``; Spark
   (``local[2]``, ``PYSPARK_PYTHON`` set to this interpreter) reads them with ``spark.read.parquet``. Each
   analysis is timed (wall time, one run, after a funnel of 50 events has started Spark's Python
   workers; the per-touch credit of ``position`` is written out as Parquet to ``--dir``, by Spark on
   Spark); on Spark every
   row a DataFrame hands to the driver (``toArrow``, ``collect``, ``toPandas``) is counted.
3. Prints, per engine and analysis: the wall time, the rows read by the driver, and the driver Python
   process's peak resident memory (``VmHWM``; the JVM and Spark's Python workers are other processes),
   and whether Spark's answers equal polars' (``to_dict()``; the graph node by node and edge by edge).
   ``evaluate_sla``'s per-lead rows and breaches are compared by their number and content: on Spark they
   are written out as Parquet by Spark (``report.leads.write.parquet``) and counted there, never read by the
   driver; the report's other tables and its summary by ``to_dict()``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Rows handed to the driver by Spark, in order (filled by the spy in ``_run``).
READS: list[int] = []
#: Only the analyses whose name starts with this (``--only``; all when empty).
ONLY: list[str] = []
#: The data folder (``--dir``), where the per-touch credit is written.
OUT: list[Path] = []
AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)


def _write(leads: int, folder: Path) -> None:
    import smarketing as sm
    from smarketing.datasets import synthetic

    plan = sm.load_plan(ROOT / "examples" / "plan.yaml")
    data = synthetic(plan, seed=1, n_leads=leads)
    folder.mkdir(parents=True, exist_ok=True)
    data.stage_events.write_parquet(folder / "stage_events.parquet")
    data.leads.write_parquet(folder / "leads.parquet")
    data.touchpoints.write_parquet(folder / "touchpoints.parquet")
    data.deals.write_parquet(folder / "deals.parquet")
    data.activities.write_parquet(folder / "activities.parquet")
    data.dispositions.write_parquet(folder / "dispositions.parquet")
    data.feedback.write_parquet(folder / "feedback.parquet")
    print(f"{leads} leads, {len(data.stage_events)} stage events -> {folder}", file=sys.stderr)


def _answers(
    events: Any,
    leads: Any,
    touches: dict[str, Any],
    timings: dict[str, float],
    *,
    sla: dict[str, Any],
    feedback: Any,
    out_dir: Path,
) -> dict[str, Any]:
    import smarketing as sm
    from smarketing.attribution import attribute
    from smarketing.feedback import (
        compare_campaigns,
        customer_feedback,
        dispositions,
        sourced_influenced,
        waterfall,
    )
    from smarketing.journey import conformance, discover, funnel
    from smarketing.kpi import scorecard
    from smarketing.sla import evaluate_sla

    plan = sm.load_plan(ROOT / "examples" / "plan.yaml")
    out: dict[str, Any] = {}
    funnel(plan.journey, events.limit(50) if hasattr(events, "sparkSession") else events.head(50))  # warm-up
    # The feedback analyses read every kind keyed by lead (leads, events, dispositions, deals, touches).
    crm = {**sla, **touches}
    runs = {
        "funnel": lambda: funnel(plan.journey, events, as_of=AS_OF).to_dict(),
        "funnel by region": lambda: funnel(
            plan.journey, events, leads=leads, by="region", as_of=AS_OF
        ).to_dict(),
        "discover": lambda: _graph(discover(events)),
        "conformance": lambda: conformance(plan.journey, events).to_dict(),
        "attribute position": lambda: attribute(touches, model="position").to_dict(),
        "attribute markov": lambda: attribute(touches, model="markov").to_dict(),
        "attribute position per touch": lambda: _per_touch(touches),
        # The ledger's lines stay on Spark: the run reads merged rows; its lines are read by to_dict() below.
        "compute_rewards": lambda: {"lines": len(_rewards(plan, events, touches))},
        "compute_rewards to_dict": lambda: _rewards(plan, events, touches).to_dict(),
        # Markov's per-touch credit: the chain's counts merged, solved on the driver, broadcast to the credit.
        "compute_rewards markov": lambda: {"lines": len(_rewards(_markov(plan), events, touches))},
        "compute_rewards markov to_dict": lambda: _rewards(_markov(plan), events, touches).to_dict(),
        "evaluate_sla": lambda: _sla(evaluate_sla(plan, sla, as_of=AS_OF), out_dir),
        # The scores and the match's rows stay on Spark: the runs read merged rows only.
        "persona score": lambda: _scores(plan, {**sla, **touches}),
        "persona match": lambda: sm.persona.match(plan, {**sla, **touches}, as_of=AS_OF).totals,
        "persona agreement by region": lambda: sm.persona.agreement(
            plan, {**sla, **touches}, by="region", resamples=200
        ).to_dict(),
        "persona segment": lambda: sm.persona.segment(plan, {**sla, **touches}).to_dict(),
        "scorecard by team": lambda: scorecard(
            plan, {**sla, "deals": touches["deals"]}, period="2026-10", as_of=AS_OF, by="team", fx=_fx()
        ).to_dict(),
        "dispositions by campaign": lambda: _dispositions(
            dispositions(plan, {**sla, "deals": touches["deals"]}, by="campaign", as_of=AS_OF)
        ),
        "customer_feedback by persona and stage": lambda: customer_feedback(
            plan,
            {"feedback": feedback, "leads": leads, "stage_events": events},
            by=("persona", "stage"),
            as_of=AS_OF,
        ).to_dict(),
        "waterfall cohort by source_team": lambda: waterfall(
            plan, crm, view="cohort", by="source_team", as_of=AS_OF, fx=_fx()
        ).to_dict(),
        "waterfall period by week": lambda: waterfall(
            plan, crm, view="period", period="week", as_of=AS_OF, fx=_fx()
        ).to_dict(),
        "compare_campaigns": lambda: compare_campaigns(plan, crm, as_of=AS_OF, fx=_fx()).to_dict(),
        "sourced_influenced by team": lambda: sourced_influenced(
            plan, crm, by="team", as_of=AS_OF, fx=_fx()
        ).to_dict(),
    }
    for name, run in runs.items():
        if ONLY and not any(name.startswith(prefix) for prefix in ONLY):
            continue
        start, before = time.perf_counter(), len(READS)
        out[name] = run()
        timings[name] = time.perf_counter() - start
        out[f"{name} (rows read by the driver)"] = sum(READS[before:])
    return out


def _dispositions(report: Any) -> dict[str, Any]:
    """The disposition report's ``to_dict()`` and its per-lead rows counted where they are (kept on Spark)."""
    rows = report.leads.count() if hasattr(report.leads, "write") else report.leads.height
    return {**report.to_dict(), "leads (rows)": rows}


def _scores(plan: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The scores' counts and per-persona table (the per-lead rows stay where they were made)."""
    scores = __import__("smarketing").persona.score(plan, data, as_of=AS_OF)
    return {"counts": dict(scores.counts), "by_persona": scores.by_persona.to_dicts()}


def _per_touch(touches: dict[str, Any]) -> dict[str, Any]:
    """Per-touch credit written out as Parquet (by Spark on Spark); its key totals and rows written."""
    import polars as pl

    from smarketing.attribution import attribute

    result = attribute(touches, model="position", per_touch=True)
    target = OUT[0] / f"touch-credit-{os.getpid()}"
    if hasattr(result.touches, "write"):
        result.touches.write.mode("overwrite").parquet(str(target))
    else:
        target.mkdir(parents=True, exist_ok=True)
        result.touches.write_parquet(target / "part-0.parquet")
    written = pl.scan_parquet(target / "*.parquet").select(pl.len()).collect().item()
    return {**result.to_dict(), "touch rows written": written}


def _markov(plan: Any) -> Any:
    """The example plan crediting by Markov's per-touch credit (each journey split by removal effects)."""
    credit = plan.rewards.attribution.model_copy(
        update={"model": "markov", "params": {"convention": "journey"}}
    )
    return plan.model_copy(update={"rewards": plan.rewards.model_copy(update={"attribution": credit})})


def _rewards(plan: Any, events: Any, touches: dict[str, Any]) -> Any:
    from datetime import date

    from smarketing.rewards import compute_rewards

    return compute_rewards(
        touches["deals"],
        plan,
        touchpoints=touches["touchpoints"],
        stage_events=events,
        fx=_fx(),
        period="2026-10",
        as_of=date(2026, 10, 31),
    )


def _fx() -> Any:
    """Exchange rates for the scorecard's money in the plan's currency (the synthetic deals are in USD)."""
    from datetime import date

    from smarketing.money import FxTable

    return FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])


def _sla(report: Any, out_dir: Path) -> Any:
    """The SLA report's merged tables and summary, and its per-lead rows and breaches counted where they are.

    On Spark the per-lead rows and breaches are written out by Spark and counted from the files there;
    on polars they are counted in memory. Their content is checked by the tests (tests/sla/test_scale_out.py).
    """
    tables = _without_rows(report)
    if hasattr(report.leads, "write"):
        report.leads.write.mode("overwrite").parquet(str(out_dir / "sla_leads"))
        report.breaches.write.mode("overwrite").parquet(str(out_dir / "sla_breaches"))
        session = report.leads.sparkSession
        rows = session.read.parquet(str(out_dir / "sla_leads")).count()
        breaches = session.read.parquet(str(out_dir / "sla_breaches")).count()
    else:
        rows, breaches = report.leads.height, report.breaches.height
    return {**tables, "leads (rows)": rows, "breaches (rows)": breaches}


def _without_rows(report: Any) -> dict[str, Any]:
    """``to_dict()`` of an SLA report without its per-lead rows and breaches (which it would read)."""
    from smarketing.sla.report import _json_rows

    out: dict[str, Any] = {"summary": report.summary, "counts": dict(report.counts)}
    for name in ("marketing", "by_rep", "by_team", "by_period", "weekly"):
        out[name] = _json_rows(getattr(report, name))
    return out


def _graph(graph: Any) -> Any:
    return [
        dict(graph.graph),
        sorted(graph.nodes(data=True)),
        sorted([a, b, sorted((k, str(v)) for k, v in d.items())] for a, b, d in graph.edges(data=True)),
    ]


def _run(engine: str, folder: Path) -> None:
    timings: dict[str, float] = {}
    reads = READS
    if engine == "polars":
        import polars as pl

        answers = _answers(
            pl.read_parquet(folder / "stage_events.parquet"),
            pl.read_parquet(folder / "leads.parquet"),
            {k: pl.read_parquet(folder / f"{k}.parquet") for k in ("touchpoints", "deals")},
            timings,
            sla={k: pl.read_parquet(folder / f"{k}.parquet") for k in _SLA_KINDS},
            feedback=pl.read_parquet(folder / "feedback.parquet"),
            out_dir=folder / "polars-out",
        )
    else:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        from pyspark.sql import SparkSession
        from pyspark.sql.classic.dataframe import DataFrame

        for method in ("toArrow", "collect", "toPandas"):
            original = getattr(DataFrame, method)

            def spy(frame: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                got = _original(frame, *args, **kwargs)
                reads.append(len(got))
                return got

            setattr(DataFrame, method, spy)
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", "2g")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        spark.range(10).collect()  # start the session before timing
        reads.clear()
        answers = _answers(
            spark.read.parquet(str(folder / "stage_events.parquet")),
            spark.read.parquet(str(folder / "leads.parquet")),
            {k: spark.read.parquet(str(folder / f"{k}.parquet")) for k in ("touchpoints", "deals")},
            timings,
            sla={k: spark.read.parquet(str(folder / f"{k}.parquet")) for k in _SLA_KINDS},
            feedback=spark.read.parquet(str(folder / "feedback.parquet")),
            out_dir=folder / "spark-out",
        )
        spark.stop()
        reads = list(READS)
    peak = _peak_mib()
    json.dump(
        {"timings": timings, "reads": reads, "peak_mib": peak, "answers": answers},
        sys.stdout,
        default=str,
        sort_keys=True,
    )


_SLA_KINDS = ("stage_events", "leads", "activities", "dispositions")


def _peak_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM``, which starts afresh at ``exec``.

    ``ru_maxrss`` is kept across ``exec`` on Linux, so a child started by a parent that generated the data
    would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/smarketing-spark"))
    parser.add_argument("--only", action="append", default=[], help="analyses whose name starts with this")
    parser.add_argument("--reuse", action="store_true", help="keep the Parquet files already in --dir")
    parser.add_argument("--run", choices=["polars", "spark", "write"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    ONLY.extend(args.only)
    OUT.append(args.dir)
    if args.run == "write":
        _write(args.leads, args.dir)
        return
    if args.run:
        _run(args.run, args.dir)
        return
    if not (args.reuse and (args.dir / "feedback.parquet").exists()):
        # In a process of its own, so that this one (and the runs it starts) stay small.
        subprocess.run(
            [sys.executable, __file__, "--run", "write", "--leads", str(args.leads), "--dir", str(args.dir)],
            check=True,
        )
    results = {}
    for engine in ("polars", "spark"):
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--run",
                engine,
                "--dir",
                str(args.dir),
                *(f"--only={prefix}" for prefix in args.only),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[engine] = json.loads(done.stdout)
    for engine, got in results.items():
        reads = got["reads"]
        print(
            f"{engine}: peak RSS of the driver {got['peak_mib']:.0f} MiB"
            + (
                f"; rows read by the driver {sum(reads)} in {len(reads)} reads (largest {max(reads)})"
                if reads
                else ""
            )
        )
        for name, seconds in got["timings"].items():
            read = got["answers"][f"{name} (rows read by the driver)"]
            print(f"  {name}: {seconds:.2f} s" + (f", {read} rows read by the driver" if reads else ""))
    drop = " (rows read by the driver)"
    answers = {e: {k: v for k, v in r["answers"].items() if not k.endswith(drop)} for e, r in results.items()}
    same = answers["polars"] == answers["spark"]
    print(f"spark's answers equal polars': {same}")
    if not same:
        print("  differ:", [k for k, v in answers["polars"].items() if answers["spark"][k] != v])


if __name__ == "__main__":
    main()
