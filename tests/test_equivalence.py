"""Strict equivalence: the outputs users see are pinned by digest, so a move or refactor cannot change them.

Pinned: the text of ``smarketing demo``; every command on the example plan in each of its formats (with the
bytes of the file a command writes: the demo's report, ``smarketing report``); ``to_dict()`` /
``to_frame()`` of every analysis on two synthetic seeds; and the HTML report of each seed. A digest changes
only on purpose: after a deliberate change of output, regenerate with

    .venv/bin/python tests/test_equivalence.py --update

and say in the commit what changed and why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import smarketing as sm
from smarketing import cli
from smarketing.attribution import BUILTIN_MODELS, Journeys
from smarketing.datasets import synthetic

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = Path(__file__).with_name("equivalence_digests.json")
SEEDS = (11, 29)
LEADS = 1500
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = "2026-10"
PLAN_ARG = (
    "examples/plan.yaml"  # relative: commands run in the repository root, so paths print the same anywhere
)

#: In a command's arguments, a file the command writes: a temporary path while it runs, then this name in
#: the pinned output, followed by the file's bytes (so nothing is written into the repository).
OUT = "{out}"

# Every command in every format it offers, on the example plan (synthetic data from the default seed).
COMMANDS: dict[str, list[str]] = {
    "demo": ["demo", "--report", OUT],
    "report": ["report", PLAN_ARG, "--output", OUT],
    "schema": ["schema"],
    "validate": ["validate", PLAN_ARG],
    "validate-misaligned": ["validate", "examples/misaligned.yaml"],
    **{
        f"check-{fmt}": ["check", PLAN_ARG, "--format", fmt, "--ignore", "EX"]
        for fmt in ("text", "json", "sarif")
    },
    **{
        f"check-misaligned-{fmt}": ["check", "examples/misaligned.yaml", "--format", fmt]
        for fmt in ("text", "json", "sarif")
    },
    **{f"funnel-{fmt}": ["funnel", PLAN_ARG, "--format", fmt] for fmt in ("text", "json", "csv")},
    "funnel-any-by": ["funnel", PLAN_ARG, "--mode", "any", "--by", "persona", "--format", "json"],
    **{
        f"kpis-{fmt}": ["kpis", PLAN_ARG, "--period", PERIOD, "--format", fmt]
        for fmt in ("text", "json", "csv")
    },
    "kpis-by-team": ["kpis", PLAN_ARG, "--period", "2026-Q3", "--by", "team", "--format", "json"],
    **{f"sla-{fmt}": ["sla", PLAN_ARG, "--format", fmt] for fmt in ("text", "json", "csv")},
    **{
        f"rewards-{fmt}": ["rewards", PLAN_ARG, "--period", PERIOD, "--format", fmt]
        for fmt in ("text", "csv", "json", "html")
    },
    **{
        f"digest-{fmt}": ["digest", PLAN_ARG, "--period", PERIOD, "--format", fmt]
        for fmt in ("text", "html", "json", "slack")
    },
    **{
        f"lint-text-{fmt}": [
            "lint-text",
            "--plan",
            PLAN_ARG,
            "examples/copy/launch-email.md",
            "examples/copy/call-script.html",
            "--format",
            fmt,
        ]
        for fmt in ("text", "json", "sarif")
    },
}


def _cli(argv: list[str]) -> bytes:
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "written.html"
        args = [str(target) if a == OUT else a for a in argv]
        with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(args)
        text = f"exit {code}\n--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}".replace(
            str(target), OUT
        )
        written = f"--- {OUT}\n".encode() + target.read_bytes() if OUT in argv and target.exists() else b""
    return text.encode() + written


def _frame(frame: pl.DataFrame) -> bytes:
    return (str(frame.schema) + "\n" + json.dumps(frame.rows(), default=str)).encode()


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _graph(graph: Any) -> bytes:
    nodes = sorted((str(n), sorted((k, str(v)) for k, v in d.items())) for n, d in graph.nodes(data=True))
    edges = sorted(
        (str(a), str(b), sorted((k, str(v)) for k, v in d.items())) for a, b, d in graph.edges(data=True)
    )
    return _json({"nodes": nodes, "edges": edges})


def _analyses(seed: int) -> Iterator[tuple[str, Callable[[], bytes]]]:
    with contextlib.chdir(ROOT):  # relative, as for the commands: findings name the file as given
        plan = sm.load_plan(PLAN_ARG)
    data = synthetic(plan, seed=seed, n_leads=LEADS)
    journey = plan.journey
    calendar = plan.sla.calendar if plan.sla is not None else None
    for mode in ("ordered", "any"):
        report = sm.funnel(journey, data, mode=mode, as_of=AS_OF, calendar=calendar)
        yield f"funnel-{mode}-dict", lambda r=report: _json(r.to_dict())
        yield f"funnel-{mode}-frame", lambda r=report: _frame(r.to_frame())
    by = sm.funnel(journey, data, by="persona", as_of=AS_OF)
    yield "funnel-by-persona", lambda: _json(by.to_dict()) + _frame(by.to_frame())
    fit = sm.conformance(journey, data)
    yield "conformance", lambda: _json(fit.to_dict()) + _frame(fit.to_frame())
    yield "discover", lambda: _graph(sm.discover(data))
    sla = sm.evaluate_sla(plan, data, as_of=AS_OF)
    yield "sla-dict", lambda: _json(sla.to_dict())
    yield "sla-frame", lambda: _frame(sla.to_frame())
    fx = sm.FxTable([("USD", "EUR", date(1970, 1, 1), "0.92")])
    card = sm.scorecard(plan, data, period=PERIOD, as_of=AS_OF, fx=fx)
    yield "scorecard", lambda: _json(card.to_dict()) + _frame(card.to_frame())
    journeys = Journeys.from_touchpoints(data, fx=fx, currency="EUR")
    for model in sorted(set(BUILTIN_MODELS) - {"custom"}):
        result = sm.attribute(journeys, model=model)
        yield f"attribute-{model}", lambda r=result: _json(r.to_dict()) + _frame(r.to_frame())
    ledger = sm.compute_rewards(data, plan, fx=fx, period=PERIOD, as_of=date(2026, 10, 31))
    yield "rewards-frame", lambda: _frame(ledger.to_frame())
    yield "rewards-dict", lambda: _json(ledger.to_dict())
    yield "rewards-statements", lambda: "\n".join(str(s) for s in ledger.statements()).encode()
    report = sm.check(plan)
    yield "check", lambda: _json(report.to_dict()) + _frame(report.to_frame())
    yield "report", lambda: sm.report(plan, data, as_of=AS_OF, fx=fx).html().encode()


#: The outputs in three parts that run apart (on any xdist worker): the commands, and each seed's analyses.
PARTS = ("cli", *(f"seed{seed}" for seed in SEEDS))


def _part(part: str) -> Iterator[tuple[str, bytes]]:
    if part == "cli":
        for name, argv in COMMANDS.items():
            yield f"cli/{name}", _cli(argv)
        return
    for name, make in _analyses(int(part.removeprefix("seed"))):
        yield f"{part}/{name}", make()


def digests(parts: tuple[str, ...] = PARTS) -> dict[str, str]:
    """The SHA-256 of every pinned output (of ``parts``)."""
    return {name: hashlib.sha256(blob).hexdigest() for part in parts for name, blob in _part(part)}


PINNED: dict[str, str] = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}


@pytest.mark.parametrize("part", PARTS)
def test_every_output_is_pinned_and_byte_identical(part: str) -> None:
    # A test per part, each computing only its own outputs (the commands take about 20 s, a seed about 7):
    # the three spread over the xdist workers instead of one worker spending half a minute at the end.
    current = digests((part,))
    pinned = {name: digest for name, digest in PINNED.items() if name.startswith(f"{part}/")}
    assert sorted(current) == sorted(pinned)
    changed = [name for name in sorted(pinned) if current[name] != pinned[name]]
    assert not changed, f"{', '.join(changed)} changed; see the module docstring"


def test_every_pinned_output_belongs_to_a_part() -> None:
    assert PINNED
    assert {name.split("/", 1)[0] for name in PINNED} == set(PARTS)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_equivalence.py --update")
    DIGESTS.write_text(json.dumps(digests(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DIGESTS}")
