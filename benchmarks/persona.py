"""Benchmark: lead scoring, agreement and calibration on 1M leads, from Parquet.

    .venv/bin/python benchmarks/persona.py [--leads N] [--seed S] [--runs R]

Data comes from ``smarketing.datasets.synthetic`` on the example plan (1M leads: about 4.5M touchpoints,
5M activities, 5M stage events, 250k deals) and is written once as a ``Dataset`` folder under
``benchmarks/data/`` (git-ignored). Each timed run is a fresh subprocess, one per way of reading:

- ``scan``: the functions get ``{kind: pl.scan_parquet(<kind>.parquet)}``, so the timed region includes
  reading the files: only the columns the functions use are read and checked (``as_lazy(reads=)``), and
  they are checked as any dataframe handed in is (this is "from Parquet" in issue 16's target);
- ``dataset``: ``Dataset.read`` of the folder (every column of every kind, every check) is timed on its own,
  then the functions run on the checked, in-memory ``Dataset``;
- ``polars`` (the peer): the same fit and engagement scores, grades and MQL flags for the example plan's
  two personas, hand-written in plain polars from the same Parquet files, without any checks: the ratio
  of ``score`` to it is smarketing's overhead (checks, generality, exact integer sums, the factors kept).

Each run reports wall time per step, CPU time and peak memory (``ru_maxrss``) of the whole process; the
table gives every run and the best of each mode.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

import smarketing as sm
from smarketing.records import Dataset

ROOT = Path(__file__).resolve().parent
PLAN = ROOT.parent / "examples" / "plan.yaml"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the day after the synthetic data ends


def ensure_data(n: int, seed: int) -> Path:
    """The dataset folder, written once."""
    from smarketing.datasets import synthetic

    folder = ROOT / "data" / f"persona-synthetic-{n}-{seed}"
    if (folder / "manifest.json").exists():
        return folder
    started = time.perf_counter()
    synthetic(sm.load_plan(PLAN), seed=seed, n_leads=n).write(folder)
    print(f"generated {n:,} leads in {time.perf_counter() - started:.1f} s -> {folder}")
    return folder


def _scans(folder: Path) -> dict[str, pl.LazyFrame]:
    kinds = ("leads", "accounts", "touchpoints", "activities", "stage_events", "dispositions", "deals")
    return {kind: pl.scan_parquet(folder / f"{kind}.parquet") for kind in kinds}


def run_once(folder: Path, mode: str) -> dict[str, object]:
    """Read, score, agree, calibrate (or the plain-polars peer), report; meant to run in a fresh process."""
    plan = sm.load_plan(PLAN)
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "polars":
        frame = peer_scores(folder)
        done = time.perf_counter()
        return {
            "mode": mode,
            "score_s": round(done - started, 3),
            "peak_mib": _peak_mib(),
            "cpu_s": round(time.process_time() - cpu_started, 2),
            "leads": frame.height,
            "mqls": int(frame.get_column("mql").sum()),
        }
    data: Any = Dataset.read(folder) if mode == "dataset" else _scans(folder)
    loaded = time.perf_counter()
    cpu_loaded = time.process_time()
    scores = sm.score(plan, data, as_of=AS_OF)
    scored = time.perf_counter()
    agreement = sm.agreement(plan, data)
    agreed = time.perf_counter()
    cpu_agreed = time.process_time()
    calibration = sm.calibrate(plan, data, as_of=AS_OF, scores=scores)
    done = time.perf_counter()
    frame = scores.frame
    return {
        "mode": mode,
        "read_s": round(loaded - started, 3),
        "score_s": round(scored - loaded, 3),
        "agreement_s": round(agreed - scored, 3),
        "score_agreement_s": round(agreed - loaded, 3),
        "score_agreement_cpu_s": round(cpu_agreed - cpu_loaded, 2),
        "calibrate_s": round(done - agreed, 3),
        "peak_mib": _peak_mib(),
        "cpu_s": round(time.process_time() - cpu_started, 2),
        "leads": frame.height,
        "mqls": int(frame.get_column("mql").sum()),
        "acceptance": round(float(agreement.overall.get_column("acceptance")[0]), 4),
        "auc": calibration.to_dict().get("auc"),
    }


def _peak_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peer_scores(folder: Path) -> pl.DataFrame:
    """The example plan's scores hand-written in plain polars (no checks): the peer of ``score``.

    Persona by the same criteria (account fallbacks, most criteria then plan order: both personas have
    five, so ops-director wins a tie), fit points, engagement with each persona's decay and interest cap,
    grades and the joint MQL rules. Points are floats here, as a plain implementation would keep them.
    """
    now = pl.lit(AS_OF)
    day_us = 86_400_000_000
    accounts = pl.scan_parquet(folder / "accounts.parquet").select(
        pl.col("id").alias("account_id"),
        *(pl.col(c).alias(f"a_{c}") for c in ("industry", "company_size", "region")),
    )
    leads = (
        pl.scan_parquet(folder / "leads.parquet")
        .select("id", "account_id", "created_at", "title", "seniority", "industry", "company_size", "region")
        .filter(pl.col("created_at") <= now)
        .join(accounts, on="account_id", how="left")
        .with_columns(pl.coalesce(c, f"a_{c}").alias(c) for c in ("industry", "company_size", "region"))
    )
    industry, size, region = pl.col("industry"), pl.col("company_size"), pl.col("region")
    title, seniority = pl.col("title"), pl.col("seniority")
    ops = (
        industry.is_in(["logistics", "manufacturing", "retail"])
        & size.is_between(200, 5000)
        & region.is_in(["dach", "nordics", "north_america"])
        & title.str.contains(r"(?i)\b(?:operations|logistics|supply chain)\b")
        & seniority.is_in(["director", "vp"])
    ).fill_null(value=False)
    finance = (
        industry.is_in(["manufacturing", "retail", "wholesale"])
        & (size >= 500)
        & region.is_in(["dach", "north_america"])
        & title.str.contains(r"(?i)\b(?:finance|controller|cfo)\b")
        & seniority.is_in(["manager", "director", "c_level"])
    ).fill_null(value=False)
    leads = leads.select(
        "id",
        persona=pl.when(ops).then(pl.lit("ops-director")).when(finance).then(pl.lit("finance-lead")),
        fit_ops=(
            industry.is_in(["logistics", "manufacturing"]).fill_null(value=False).cast(pl.Int64) * 20
            + size.is_between(200, 5000).fill_null(value=False).cast(pl.Int64) * 15
            + seniority.is_in(["director", "vp"]).fill_null(value=False).cast(pl.Int64) * 15
        ),
        fit_fin=(
            (size >= 500).fill_null(value=False).cast(pl.Int64) * 20
            + seniority.is_in(["director", "c_level"]).fill_null(value=False).cast(pl.Int64) * 20
        ),
    ).collect()
    age_days = (now - pl.col("time")).dt.total_microseconds() / day_us
    half_life = pl.lit(2.0).pow(-age_days / 30)
    step = pl.lit(0.75).pow((age_days / 30).floor())
    channel = pl.col("channel")
    touches = (
        pl.scan_parquet(folder / "touchpoints.parquet")
        .select("lead_id", "time", "channel")
        .filter(
            (pl.col("time") <= now) & channel.is_in(["webinar", "content", "demo_request", "pricing_page"])
        )
        .select(
            "lead_id",
            ops_interest=(channel.replace_strict({"webinar": 10, "content": 5}, default=0) * half_life),
            ops_ready=(
                channel.replace_strict({"demo_request": 30, "pricing_page": 15}, default=0) * half_life
            ),
            fin_interest=pl.when(channel == "content").then(10 * step).otherwise(0.0),
            fin_ready=pl.lit(0.0),
        )
    )
    activities = (
        pl.scan_parquet(folder / "activities.parquet")
        .select("lead_id", "time", "outcome")
        .filter((pl.col("time") <= now) & (pl.col("outcome") == "business_case_requested"))
        .select(
            "lead_id",
            ops_interest=pl.lit(0.0),
            ops_ready=pl.lit(0.0),
            fin_interest=pl.lit(0.0),
            fin_ready=40 * step,
        )
    )
    sums = pl.concat([touches, activities]).group_by("lead_id").agg(pl.all().sum())
    is_ops, is_fin = pl.col("persona") == "ops-director", pl.col("persona") == "finance-lead"
    fit = pl.when(is_ops).then("fit_ops").when(is_fin).then("fit_fin").otherwise(0)
    engagement = (
        pl.when(is_ops)
        .then(pl.min_horizontal("ops_interest", 30) + pl.col("ops_ready"))
        .when(is_fin)
        .then(pl.min_horizontal("fin_interest", 20) + pl.col("fin_ready"))
        .otherwise(0.0)
    )
    scored_fit = pl.col("fit")
    fit_grade = pl.when(pl.col("persona").is_null()).then(None).when(scored_fit >= 40).then(pl.lit("A"))
    fit_grade = fit_grade.when(scored_fit >= 20).then(pl.lit("B")).otherwise(pl.lit("C"))
    band = pl.when(is_ops).then(
        pl.when(pl.col("engagement") >= 30)
        .then(pl.lit("1"))
        .when(pl.col("engagement") >= 10)
        .then(pl.lit("2"))
        .otherwise(pl.lit("3"))
    )
    mql = (is_ops & (pl.col("fit") >= 35) & (pl.col("engagement") >= 20)) | (
        is_fin & (((pl.col("fit") >= 20) & (pl.col("engagement") >= 10)) | (pl.col("engagement") >= 60))
    )
    return (
        leads.lazy()
        .join(sums, left_on="id", right_on="lead_id", how="left")
        .with_columns(pl.col("^ops_.*$", "^fin_.*$").fill_null(0.0))
        .select(pl.col("id").alias("lead_id"), "persona", fit=fit.cast(pl.Float64), engagement=engagement)
        .with_columns(fit_grade=fit_grade, band=band)
        .with_columns(
            grade=pl.when(is_ops).then(pl.concat_str("fit_grade", "band")).otherwise("fit_grade"),
            mql=mql.fill_null(value=False),
        )
        .sort("lead_id")
        .collect()
    )


MODES = ("scan", "dataset", "polars")


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def _line(r: dict[str, Any]) -> str:
    if r["mode"] == "polars":
        return f"score {r['score_s']} s ({r['cpu_s']} s CPU), peak {r['peak_mib']} MiB"
    return (
        f"read {r['read_s']} s; score {r['score_s']} s + agreement {r['agreement_s']} s = "
        f"{r['score_agreement_s']} s ({r['score_agreement_cpu_s']} s CPU); calibrate {r['calibrate_s']} s "
        f"({r['cpu_s']} s CPU in all), "
        f"peak {r['peak_mib']} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: scan, dataset, polars")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="scan", help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child, args.mode), default=str))
        return
    if args.generate:
        ensure_data(args.leads, args.seed)
        return
    # The data is written by a process of its own: Linux carries a process's peak memory into the children
    # it starts (ru_maxrss survives fork and exec), so a parent that held 1M generated leads would raise
    # every run's peak to its own.
    subprocess.run(
        [sys.executable, __file__, "--generate", "--leads", str(args.leads), "--seed", str(args.seed)],
        check=True,
    )
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    folder = ensure_data(args.leads, args.seed)
    print(f"load average before: {_load()}")
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(args.runs):
        for mode in modes:  # interleaved, so a busy spell falls on every mode alike
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(folder), "--mode", mode],
                check=True,
                capture_output=True,
                text=True,
            )
            results[mode].append(json.loads(out.stdout))
    for mode, runs in results.items():
        print(f"{mode}: leads {runs[0]['leads']:,}, MQLs {runs[0]['mqls']:,}")
        for r in runs:
            print(f"  {_line(r)}")
        key = "score_s" if mode == "polars" else "score_agreement_s"
        best = min(runs, key=lambda r: float(r[key]))
        peak = min(int(r["peak_mib"]) for r in runs)
        if mode == "polars":
            print(f"  best of {len(runs)}: score {best['score_s']} s, peak {peak} MiB")
        else:
            calibrate = min(float(r["calibrate_s"]) for r in runs)
            read = min(float(r["read_s"]) for r in runs)
            score = min(float(r["score_s"]) for r in runs)
            print(
                f"  best of {len(runs)}: read {read} s, score {score} s, score + agreement "
                f"{best['score_agreement_s']} s, calibrate {calibrate} s, peak {peak} MiB; "
                f"acceptance {best['acceptance']}, AUC {best['auc']}"
            )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.python_version()}, polars {pl.__version__}, "
        f"smarketing {sm.__version__}, load average after {_load()}"
    )


if __name__ == "__main__":
    main()
