# ruff: noqa: E501
"""Attribution benchmark: smarketing against ChannelAttribution and marketing-attribution-models, same run.

Usage (from the repository root, after ``make setup``)::

    .venv/bin/python benchmarks/attribution.py [--journeys 100000 1000000] [--out docs/performance.md]

What it does:

1. Generates seeded journeys over 12 channels (8 marketing, 4 sales), path length 1-20 (mean about 4.5),
   about 4% converting, each converting journey with a value in EUR; writes them as long-form touches
   (unsorted, one row per touch) and as ChannelAttribution's aggregated paths to ``benchmarks/data/``.
2. Installs ChannelAttribution 2.2.5 and marketing-attribution-models 2.1.1 into their own environment,
   ``benchmarks/.venv-attribution`` (never project dependencies; ChannelAttribution builds from source with a
   C++17 compiler and imports matplotlib without declaring it).
3. Runs every measurement in a fresh subprocess (input loading is not timed), records wall time (best of
   ``--repeat``) and peak resident memory, and checks agreement where the methods are the same.
4. Writes the table, the command and the machine notes to ``docs/performance.md`` under ``## Attribution``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
PEER_VENV = ROOT / "benchmarks" / ".venv-attribution"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEERS = [
    "ChannelAttribution==2.2.5",
    "marketing-attribution-models==2.1.1",
    "matplotlib",
    "pandas",
    "pyarrow",
]

MARKETING = [
    "paid_search",
    "paid_social",
    "display",
    "email",
    "content",
    "webinar",
    "organic_search",
    "events",
]
SALES = ["sdr_call", "sdr_email", "demo", "ae_meeting"]
CHANNELS = MARKETING + SALES


# --------------------------------------------------------------------------------------------------
# Data


def generate(n: int, seed: int) -> None:
    import numpy as np
    import polars as pl

    long_path, paths_path = DATA / f"touches_{n}.parquet", DATA / f"paths_{n}.parquet"
    if long_path.exists() and paths_path.exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = np.minimum(1 + rng.poisson(3.5, n), 20)
    total = int(lengths.sum())
    journey = np.repeat(np.arange(n, dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(total) - starts
    progress = position / np.repeat(np.maximum(lengths - 1, 1), lengths)
    # Marketing early, sales late; within each team a skewed mix of channels.
    is_sales = rng.random(total) < 0.05 + 0.45 * progress
    marketing_mix = np.array([0.22, 0.16, 0.12, 0.16, 0.12, 0.08, 0.1, 0.04])
    sales_mix = np.array([0.35, 0.3, 0.2, 0.15])
    codes = np.where(
        is_sales,
        8 + rng.choice(4, total, p=sales_mix),
        rng.choice(8, total, p=marketing_mix),
    )
    effect = np.array([0.2, 0.1, -0.3, 0.3, 0.2, 0.6, 0.1, 0.4, 0.5, 0.2, 1.2, 1.0])
    touched = np.zeros((n, 12), dtype=bool)
    touched[journey, codes] = True
    score = touched @ effect
    # Calibrate the intercept so that about 4% convert.
    low, high = -20.0, 5.0
    for _ in range(50):
        mid = (low + high) / 2
        rate = (1 / (1 + np.exp(-(mid + score)))).mean()
        low, high = (mid, high) if rate < 0.04 else (low, mid)
    converted = rng.random(n) < 1 / (1 + np.exp(-(low + score)))
    cents = np.where(converted, np.round(rng.lognormal(np.log(2_000_000), 0.8, n)), 0).astype(np.int64)
    start = rng.integers(1_735_689_600, 1_767_225_600, n) * 1_000_000  # 2025, in microseconds
    gaps = rng.exponential(3 * 86_400 * 1_000_000, total).astype(np.int64)
    gaps[starts == np.arange(total)] = 0
    times = np.repeat(start, lengths) + (
        np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(lengths) - lengths], lengths)
    )
    names = np.array(CHANNELS)
    sorted_frame = pl.DataFrame(
        {
            "journey": journey,
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "channel": names[codes],
            "converted": converted[journey],
            "value": pl.Series(cents[journey]).cast(pl.Decimal(38, 0)) / 100,
            "currency": ["EUR"] * total,
        }
    ).with_columns(pl.col("value").cast(pl.Decimal(38, 2)))
    shuffled = sorted_frame[rng.permutation(total)]
    shuffled.write_parquet(long_path)
    per_journey = sorted_frame.group_by("journey", maintain_order=True).agg(
        pl.col("channel").str.join(" > ").alias("path"),
        pl.col("converted").first(),
        pl.col("value").first(),
    )
    aggregated = (
        per_journey.group_by("path")
        .agg(
            pl.col("converted").sum().cast(pl.Float64).alias("total_conversions"),
            (~pl.col("converted")).sum().cast(pl.Float64).alias("total_null"),
            pl.col("value").sum().cast(pl.Decimal(38, 2)).alias("total_conversion_value"),
        )
        .sort("path")
    )
    aggregated.write_parquet(paths_path)


# --------------------------------------------------------------------------------------------------
# Measurements (each runs in its own process)


def rss_kb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def hwm_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all threads): meaningful on a loaded machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(task: str, n: int, repeat: int) -> dict[str, Any]:
    """Load the input, then time ``task`` ``repeat`` times; return times, memory and results."""
    load, run = TASKS[task]
    data = load(n)
    base = rss_kb()
    best = best_cpu = float("inf")
    result: Any = None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), cpu_seconds()
        result = run(data)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, cpu_seconds() - cpu)
    # VmHWM belongs to this process image; ru_maxrss would carry over the parent's peak across fork+exec.
    peak = hwm_kb()
    return {
        "task": task,
        "n": n,
        "seconds": best,
        "cpu_seconds": best_cpu,
        "peak_mb": peak / 1024,
        "extra_mb": (peak - base) / 1024,
        "result": result,
    }


def load_paths_ours(n: int) -> Any:
    import polars as pl

    import smarketing.attribution  # noqa: F401 - imports are not part of the timing

    return pl.read_parquet(DATA / f"paths_{n}.parquet")


def load_long_ours(n: int) -> Any:
    import polars as pl

    import smarketing.attribution  # noqa: F401 - imports are not part of the timing

    return pl.read_parquet(DATA / f"touches_{n}.parquet")


def ours_paths(models: list[Any]) -> Any:
    def run(frame: Any) -> Any:
        from smarketing.attribution import Journeys, attribute

        journeys = Journeys.from_paths(frame, value="total_conversion_value", currency="EUR")
        out = {}
        for spec in models:
            name, params = spec if isinstance(spec, tuple) else (spec, {})
            r = attribute(journeys, model=name, **params)
            out[name + "".join(f"{k}{v}" for k, v in params.items())] = {
                "conversions": dict(r.conversions),
                "removal": dict(r.removal_effects) if r.removal_effects else None,
            }
        return out

    return run


def ours_long(models: list[Any]) -> Any:
    """One ``attribute`` call on the long-form frame per model, each building its journeys."""

    def run(frame: Any) -> Any:
        from smarketing.attribution import attribute

        out = {}
        for spec in models:
            name, params = spec if isinstance(spec, tuple) else (spec, {})
            r = attribute(frame, model=name, **params)
            out[name] = {"conversions": dict(r.conversions)}
        return out

    return run


def ours_long_compare(models: list[str]) -> Any:
    """All models in one ``compare`` call on the long-form frame: the journeys are built once."""

    def run(frame: Any) -> Any:
        from smarketing.attribution import compare

        comparison = compare(frame, models=models)
        return {r.model: {"conversions": dict(r.conversions)} for r in comparison.results}

    return run


def load_paths_ca(n: int) -> Any:
    import ChannelAttribution  # noqa: F401 - imports are not part of the timing
    import pandas as pd

    frame = pd.read_parquet(DATA / f"paths_{n}.parquet")
    frame["total_conversion_value"] = frame["total_conversion_value"].astype(float)
    return frame


def ca_markov(order: int) -> Any:
    def run(frame: Any) -> Any:
        import ChannelAttribution as ca  # noqa: N813 - the peer's documented alias

        r = ca.markov_model(
            frame,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            order=order,
            out_more=True,
            verbose=False,
            flg_pro=False,
        )
        res, re = r["result"], r["removal_effects"]
        return {
            "conversions": dict(zip(res["channel_name"], res["total_conversions"], strict=True)),
            "removal": dict(zip(re["channel_name"], re["removal_effects_conversion"], strict=True)),
        }

    return run


def ca_heuristics(frame: Any) -> Any:
    import ChannelAttribution as ca  # noqa: N813 - the peer's documented alias

    r = ca.heuristic_models(
        frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    )
    return {
        m: dict(zip(r["channel_name"], r[f"{m}_touch_conversions"], strict=True))
        for m in ("first", "last", "linear")
    }


def load_dp6(n: int) -> Any:
    import mam  # noqa: F401 - imports are not part of the timing
    import polars as pl

    frame = pl.read_parquet(DATA / f"paths_{n}.parquet")
    conv = frame.filter(pl.col("total_conversions") > 0).select(
        "path",
        pl.col("total_conversions").cast(pl.Int64).alias("occurrences"),
        pl.lit(True).alias("has_conv"),
    )
    null = frame.filter(pl.col("total_null") > 0).select(
        "path", pl.col("total_null").cast(pl.Int64).alias("occurrences"), pl.lit(False).alias("has_conv")
    )
    return pl.concat([conv, null])


def dp6(method: str) -> Any:
    def run(frame: Any) -> Any:
        from mam import MAM

        model = MAM(
            frame,
            format_type="grouped_journey",
            channels_colname="path",
            journey_with_conv_colname="has_conv",
            occurrences_colname="occurrences",
        )
        if method == "shapley":
            r = model.run_shapley()
            agg = r.aggregated if hasattr(r, "aggregated") else None
            return {"ran": True, "has_table": agg is not None}
        r = model.run_markov()
        re = r.metadata["removal_effect"] if hasattr(r, "metadata") else None
        removal = None
        if re is not None:
            removal = {str(k): float(v) for k, v in zip(re.index, re["removal_effect"], strict=True)}
        return {"removal": removal}

    return run


HEURISTICS = ["first", "last", "linear", "position", "j_shaped", "inverse_j"]
TASKS: dict[str, tuple[Any, Any]] = {
    "ours/paths/markov1": (load_paths_ours, ours_paths([("markov", {"order": 1})])),
    "ours/paths/markov2": (load_paths_ours, ours_paths([("markov", {"order": 2})])),
    "ours/paths/markov3": (load_paths_ours, ours_paths([("markov", {"order": 3})])),
    "ours/paths/heuristics": (load_paths_ours, ours_paths(HEURISTICS)),
    "ours/paths/shapley": (load_paths_ours, ours_paths(["shapley"])),
    "ours/long/markov1": (load_long_ours, ours_long([("markov", {"order": 1})])),
    "ours/long/heuristics": (load_long_ours, ours_long_compare([*HEURISTICS, "time_decay"])),
    **{f"ours/long/{m}": (load_long_ours, ours_long([m])) for m in [*HEURISTICS, "time_decay"]},
    "ca/paths/markov1": (load_paths_ca, ca_markov(1)),
    "ca/paths/markov2": (load_paths_ca, ca_markov(2)),
    "ca/paths/markov3": (load_paths_ca, ca_markov(3)),
    "ca/paths/heuristics": (load_paths_ca, ca_heuristics),
    "dp6/paths/markov1": (load_dp6, dp6("markov")),
    "dp6/paths/shapley": (load_dp6, dp6("shapley")),
}


# --------------------------------------------------------------------------------------------------
# Driver


def ensure_peers() -> str | None:
    """Install the peers in their own environment; return an error text if that fails."""
    if PEER_PYTHON.exists():
        check = subprocess.run(
            [str(PEER_PYTHON), "-c", "import ChannelAttribution, mam"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0:
            return None
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True, text=True
        )
        subprocess.run(
            [str(PEER_PYTHON), "-m", "pip", "install", "--quiet", *PEERS],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        return (exc.stderr or exc.stdout or str(exc)).strip()[-2000:]
    return None


def run_task(task: str, n: int, repeat: int) -> dict[str, Any]:
    python = sys.executable if task.startswith("ours/") else str(PEER_PYTHON)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "benchmarks"), MPLBACKEND="Agg")
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--measure", task, "--n", str(n), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"task": task, "n": n, "error": (proc.stderr or proc.stdout).strip()[-800:]}
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for name in ("smarketing", "polars", "narwhals", "numpy", "scipy"):
        out[name] = version(name)
    if PEER_PYTHON.exists():
        code = (
            "from importlib.metadata import version as v;"
            "print(v('ChannelAttribution'), v('marketing-attribution-models'), v('polars'), v('pandas'))"
        )
        proc = subprocess.run([str(PEER_PYTHON), "-c", code], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            ca, mam, pl_version, pd_version = proc.stdout.split()
            out |= {
                "ChannelAttribution": ca,
                "marketing-attribution-models": mam,
                "peer polars": pl_version,
                "peer pandas": pd_version,
            }
    return out


def agreement(results: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    ours = results.get("ours/paths/heuristics", {}).get("result")
    ca = results.get("ca/paths/heuristics", {}).get("result")
    if ours and ca:
        worst = max(
            abs(ours[m]["conversions"][k] - ca[m].get(k, 0.0))
            for m in ("first", "last", "linear")
            for k in CHANNELS
        )
        notes.append(
            f"first/last/linear: largest difference from ChannelAttribution {worst:.2e} conversions (same method)"
        )
    for order in (1, 2, 3):
        mine = results.get(f"ours/paths/markov{order}", {}).get("result")
        theirs = results.get(f"ca/paths/markov{order}", {}).get("result")
        if mine and theirs:
            m = mine[f"markovorder{order}"]
            re_err = max(abs(m["removal"][k] - theirs["removal"][k]) for k in CHANNELS)
            credit_err = max(
                abs(m["conversions"][k] - theirs["conversions"][k]) / m["conversions"][k] for k in CHANNELS
            )
            notes.append(
                f"Markov order {order}: ChannelAttribution's simulation is off our exact answer by up to "
                f"{re_err:.4f} on removal effects and {credit_err:.1%} on a channel's credit"
            )
    mine = results.get("ours/paths/markov1", {}).get("result")
    theirs = results.get("dp6/paths/markov1", {}).get("result")
    if mine and theirs and theirs.get("removal"):
        err = max(abs(mine["markovorder1"]["removal"][k] - theirs["removal"][k]) for k in CHANNELS)
        notes.append(
            f"Markov order 1: DP6 (exact, dense inverse) removal effects differ from ours by up to {err:.1e}"
        )
    long_form = results.get("ours/long/heuristics", {}).get("result")
    if ours and long_form:
        err = max(
            abs(ours[m]["conversions"][k] - long_form[m]["conversions"][k])
            for m in ("first", "last", "linear", "position")
            for k in CHANNELS
        )
        notes.append(f"our two input forms agree to {err:.1e} conversions")
    return notes


def machine() -> dict[str, str]:
    mem = ""
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return {"nproc": str(os.cpu_count()), "memory": mem, "cpu": cpu, "uptime": load}


LABELS = [
    ("Markov order 1, aggregated paths", "ours/paths/markov1", "ca/paths/markov1"),
    ("Markov order 2, aggregated paths", "ours/paths/markov2", "ca/paths/markov2"),
    ("Markov order 3, aggregated paths", "ours/paths/markov3", "ca/paths/markov3"),
    (
        "Heuristics, aggregated paths (ours: 6 models; CA: first/last/linear)",
        "ours/paths/heuristics",
        "ca/paths/heuristics",
    ),
    ("Markov order 1, unsorted long-form touches (journeys built)", "ours/long/markov1", "ca/paths/markov1"),
    (
        "Heuristics, unsorted long-form touches (ours: 7 models incl. time decay in one `compare`)",
        "ours/long/heuristics",
        "ca/paths/heuristics",
    ),
    *(
        (
            f"`{m}` alone, unsorted long-form touches (one `attribute` call; CA: its 3 heuristics)",
            f"ours/long/{m}",
            "ca/paths/heuristics",
        )
        for m in [*HEURISTICS, "time_decay"]
    ),
    (
        "Shapley, 12 channels (ours exact; DP6 keeps 4 channels per journey)",
        "ours/paths/shapley",
        "dp6/paths/shapley",
    ),
    ("Markov order 1 (DP6, exact), aggregated paths", "ours/paths/markov1", "dp6/paths/markov1"),
]


def cell(r: dict[str, Any] | None) -> tuple[str, str]:
    if not r:
        return "-", "-"
    if "error" in r:
        return "failed", "-"
    return f"{r['seconds']:.2f} s (CPU {r['cpu_seconds']:.2f} s)", f"{r['peak_mb']:.0f} MB"


END_OF_TABLE = "<!-- end of the table benchmarks/attribution.py writes; notes below it are kept -->"


def write_doc(
    out: Path,
    *,
    sizes: list[int],
    results: dict[int, dict[str, dict[str, Any]]],
    peer_error: str | None,
    command: str,
    before: dict[str, str],
    after: dict[str, str],
) -> None:
    lines = ["## Attribution", ""]
    lines += [
        "Measured by `benchmarks/attribution.py` (seeded journeys over 12 channels, 8 marketing and 4 sales; path",
        "length 1-20, mean about 4.5; about 4% converting). Every cell is a fresh process: wall time (best of the",
        "repeats, input already in memory; in brackets the least CPU time of a repeat, user + system over all",
        "threads) and peak resident memory of that process. *Aggregated paths* is ChannelAttribution's input",
        "(`path`, conversions, nulls, value), parsed by each tool; *long-form touches* is one unsorted row per",
        "touch (int journey id, UTC time, channel, converted, Decimal value) from which smarketing sorts and",
        "builds the journeys inside the timing (one `attribute` call per model, or one `compare` call for all",
        "heuristics), compared with ChannelAttribution on its pre-aggregated input.",
        "",
        f"Command: `{command}`",
        "",
    ]
    for n in sizes:
        r = results[n]
        lines += [f"### {n:,} journeys", ""]
        lines += [
            "| task | smarketing | peak | peer | peer peak | speed-up |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, mine, theirs in LABELS:
            a, b = r.get(mine), r.get(theirs)
            ta, ma = cell(a)
            tb, mb = cell(b)
            peer = "DP6" if theirs.startswith("dp6") else "ChannelAttribution"
            ratio = (
                f"{b['seconds'] / a['seconds']:.1f}x"
                if a and b and "error" not in a and "error" not in b and a["seconds"] > 0
                else "-"
            )
            lines.append(f"| {label} | {ta} | {ma} | {peer} {tb} | {mb} | {ratio} |")
        lines.append("")
        notes = agreement(r)
        if notes:
            lines += ["Agreement:", ""] + [f"- {note}" for note in notes] + [""]
        errors = [(k, v["error"]) for k, v in r.items() if "error" in v]
        for task, text in errors:
            lines += [f"`{task}` failed:", "", "```text", text, "```", ""]
    if peer_error:
        lines += ["The peers could not be installed here:", "", "```text", peer_error, "```", ""]
    v = versions()
    lines += [
        "Machine and versions:",
        "",
        f"- {before['nproc']} CPUs ({before['cpu']}), {before['memory']} RAM",
        f"- load before: `{before['uptime']}`",
        f"- load after: `{after['uptime']}`",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "With 2 CPUs, a load average above about 2 means the wall times include waiting for a core: compare",
        "the CPU times then.",
        "",
        END_OF_TABLE,
    ]
    text = out.read_text() if out.exists() else "# Performance\n\n"
    section = "\n".join(lines)
    if "## Attribution" in text:
        head, _, rest = text.partition("## Attribution")
        # Hand-written notes after the generated part (up to the next section) are kept.
        if END_OF_TABLE in rest.split("\n## ", 1)[0]:
            tail = rest.partition(END_OF_TABLE)[2]
        else:
            tail = rest[rest.find("\n## ") :] if "\n## " in rest else ""
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--tasks", nargs="*", default=None, help="only these tasks (default: all)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.n, args.repeat)))
        return 0
    command = "make bench-attribution  # = .venv/bin/python benchmarks/attribution.py --journeys " + " ".join(
        str(n) for n in args.journeys
    )
    before = machine()
    peer_error = ensure_peers()
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for n in args.journeys:
        generate(n, args.seed)
        results[n] = {}
        for task in args.tasks or list(TASKS):
            if peer_error and not task.startswith("ours/"):
                continue
            r = run_task(task, n, args.repeat)
            results[n][task] = r
            shown = (
                f"{r['seconds']:.3f} s (CPU {r['cpu_seconds']:.3f} s), peak {r['peak_mb']:.0f} MB"
                if "error" not in r
                else "FAILED " + r["error"][-300:]
            )
            print(f"{n:>9,} {task:<24} {shown}", flush=True)
    after = machine()
    write_doc(
        args.out,
        sizes=args.journeys,
        results=results,
        peer_error=peer_error,
        command=command,
        before=before,
        after=after,
    )
    (DATA / "last_results.json").write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
