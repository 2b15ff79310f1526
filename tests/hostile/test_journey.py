"""Hostile corpus: stage events the journey kernels and the SLA kernel cannot count.

Every event a kernel leaves out is counted in its report, by why, with an example lead id (the smallest):
the ordered funnel's out-of-order and skipped-step entries, conformance's moves out of unknown stages,
duplicates, unknown stages, ``from`` mismatches, facts after ``as_of``; and the SLA's unused facts.
Times from data go through the same year check as ``as_of`` and name the record and column.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import smarketing as sm
from smarketing import cli
from smarketing.errors import DataError
from smarketing.journey import EventCounts

from .conftest import assert_names

PLAN = sm.load_plan("examples/plan.yaml")
JM = PLAN.journey
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
STEPS = [s.id for s in JM.stages if s.terminal not in ("lost", "disqualified")]


def frame(rows: list[tuple[str, str, int]], *, source: bool = False) -> pl.DataFrame:
    """Stage events from (lead, stage, day offset); ``from`` filled with the previous stage if asked."""
    out: dict[str, list[Any]] = {"lead_id": [], "to": [], "time": []}
    for lead, stage, day in rows:
        out["lead_id"].append(lead)
        out["to"].append(stage)
        out["time"].append(T0 + timedelta(days=day))
    return pl.DataFrame(out, schema={"lead_id": pl.String, "to": pl.String, "time": pl.Datetime("us", "UTC")})


def step_events(events: pl.DataFrame, steps: list[str]) -> int:
    """Events into funnel steps, after dropping exact duplicates."""
    return events.unique(["lead_id", "to", "time"]).filter(pl.col("to").is_in(steps)).height


def accounted(report: sm.journey.FunnelReport) -> int:
    """Every entry into a step the report accounts for: counted entries plus the anomalies."""
    return sum(r.entries for r in report.rows) + report.counts.out_of_order + report.counts.skipped_step


# -- the ordered funnel never loses an event silently ------------------------------------------------

FUNNEL_CASES: dict[str, tuple[list[tuple[str, str, int]], int, int, str | None]] = {
    # name: (events, out_of_order, skipped_step, example lead of the first non-zero kind)
    "won-dated-before-mql": (
        [("a", "subscriber", 0), ("a", "lead", 1), ("a", "customer", 2), ("a", "mql", 3)],
        1,
        0,
        "a",
    ),
    "sal-before-mql": (
        [("a", "subscriber", 0), ("a", "lead", 1), ("a", "sal", 2), ("a", "mql", 3)],
        1,
        0,
        "a",
    ),
    "mql-before-lead": (
        [("b", "subscriber", 0), ("b", "mql", 1), ("b", "lead", 2)],
        1,
        0,
        "b",
    ),
    "every-step-backwards": (
        [("c", s, 10 - i) for i, s in enumerate(STEPS)],
        len(STEPS) - 1,
        0,
        "c",
    ),
    "starts-at-lead": ([("d", "lead", 0), ("d", "mql", 1)], 0, 2, "d"),
    "starts-at-mql": ([("e", "mql", 0), ("e", "sal", 1), ("e", "sql", 2)], 0, 3, "e"),
    "skips-lead": ([("f", "subscriber", 0), ("f", "mql", 1), ("f", "sal", 2)], 0, 2, "f"),
    "only-won": ([("g", "customer", 0)], 0, 1, "g"),
    "clean-path": ([("h", s, i) for i, s in enumerate(STEPS)], 0, 0, None),
    "clean-recycle": (
        [("i", "subscriber", 0), ("i", "lead", 1), ("i", "mql", 2), ("i", "sal", 3), ("i", "lead", 4)],
        0,
        0,
        None,
    ),
    "recycle-then-skip": (
        [("j", "subscriber", 0), ("j", "lead", 1), ("j", "mql", 2), ("j", "lead", 3), ("j", "sql", 4)],
        0,
        1,
        "j",
    ),
    "lost-only": ([("k", "subscriber", 0), ("k", "closed_lost", 1)], 0, 0, None),
    "two-leads-smallest-example": (
        [
            ("z9", "subscriber", 0),
            ("z9", "customer", 1),
            ("z9", "lead", 2),
            ("a1", "subscriber", 0),
            ("a1", "sql", 1),
            ("a1", "lead", 2),
        ],
        2,
        0,
        "a1",
    ),
    "same-instant-tie-is-plan-order": (
        [("l", "subscriber", 0), ("l", "lead", 0), ("l", "mql", 0)],
        0,
        0,
        None,
    ),
    "won-twice-before-mql": (
        [
            ("m", "subscriber", 0),
            ("m", "lead", 1),
            ("m", "customer", 2),
            ("m", "customer", 3),
            ("m", "mql", 4),
        ],
        2,
        0,
        "m",
    ),
}


@pytest.mark.parametrize("case", sorted(FUNNEL_CASES))
def test_ordered_funnel_counts_every_step_event(case: str) -> None:
    rows, out_of_order, skipped, example = FUNNEL_CASES[case]
    events = frame(rows)
    report = sm.funnel(JM, events)
    assert (report.counts.out_of_order, report.counts.skipped_step) == (out_of_order, skipped)
    assert accounted(report) == step_events(events, STEPS)
    if example is None:
        assert report.counts.examples == {}
        assert "out_of_order" not in report.counts.to_dict()
        assert "skipped_step" not in report.counts.to_dict()
    else:
        kind = "out_of_order" if out_of_order else "skipped_step"
        assert report.counts.examples[kind] == example
        assert_names("\n".join(report.counts.lines()), f"e.g. lead {example}", "not counted")
        assert_names(repr(report), f"e.g. lead {example}")


@pytest.mark.parametrize("case", sorted(FUNNEL_CASES))
def test_any_funnel_counts_every_step_event_without_anomalies(case: str) -> None:
    events = frame(FUNNEL_CASES[case][0])
    report = sm.funnel(JM, events, mode="any")
    assert (report.counts.out_of_order, report.counts.skipped_step) == (0, 0)
    assert sum(r.entries for r in report.rows) == step_events(events, STEPS)


@pytest.mark.parametrize("seed", range(16))
def test_random_logs_lose_no_step_event(seed: int) -> None:
    rng = random.Random(seed)
    stages = [s.id for s in JM.stages] + ["bogus"]
    rows = [
        (f"L{rng.randrange(40):02d}", rng.choice(stages), rng.randrange(30))
        for _ in range(rng.randrange(1, 300))
    ]
    events = frame(rows)
    ordered = sm.funnel(JM, events)
    assert accounted(ordered) == step_events(events, STEPS)
    for kind in ("out_of_order", "skipped_step"):
        if getattr(ordered.counts, kind):
            lead = ordered.counts.examples[kind]
            assert lead in set(events.get_column("lead_id"))
    # with fewer steps, the same law
    steps = ["lead", "sal", "customer"]
    partial = sm.funnel(JM, events, stages=steps)
    assert accounted(partial) == step_events(events, steps)


def test_shuffled_input_gives_the_same_counts_and_examples() -> None:
    rows = [r for rows, *_ in FUNNEL_CASES.values() for r in rows]
    events = frame(rows)
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=3)
    a, b = sm.funnel(JM, events), sm.funnel(JM, shuffled)
    assert a.counts == b.counts
    assert a.counts.examples == b.counts.examples


# -- the other counts carry an example lead ----------------------------------------------------------


def test_duplicates_example_is_the_smallest_lead() -> None:
    events = frame([("b", "subscriber", 0), ("b", "subscriber", 0), ("a", "lead", 0), ("a", "lead", 0)])
    counts = sm.funnel(JM, events).counts
    assert counts.duplicates == 2
    assert counts.examples["duplicates"] == "a"
    assert_names("\n".join(counts.lines()), "2 duplicate event(s) dropped (e.g. lead a)")


def test_unknown_stage_example() -> None:
    counts = sm.funnel(JM, frame([("q", "subscriber", 0), ("p", "Won", 1), ("r", "won", 2)])).counts
    assert (counts.unknown_stage_events, counts.examples["unknown_stage_events"]) == (2, "p")
    assert counts.unknown_stages == ("Won", "won")


def test_from_mismatch_example() -> None:
    events = frame([("x", "subscriber", 0), ("x", "mql", 1), ("w", "subscriber", 0), ("w", "lead", 1)])
    events = events.with_columns(pl.Series("from", [None, "lead", None, "subscriber"], dtype=pl.String))
    counts = sm.funnel(JM, events).counts
    assert (counts.from_mismatch, counts.examples["from_mismatch"]) == (1, "x")
    assert_names("\n".join(counts.lines()), "'from' disagrees", "e.g. lead x")


def test_after_as_of_example() -> None:
    events = frame([("b", "subscriber", 0), ("b", "lead", 5), ("a", "subscriber", 0), ("a", "lead", 9)])
    counts = sm.funnel(JM, events, as_of=T0 + timedelta(days=1)).counts
    assert (counts.after_as_of, counts.examples["after_as_of"]) == (2, "a")


def test_clean_counts_dict_has_the_old_keys_only() -> None:
    counts = sm.funnel(JM, frame([("a", s, i) for i, s in enumerate(STEPS)])).counts
    assert list(counts.to_dict()) == [
        "events",
        "leads",
        "duplicates",
        "unknown_stage_events",
        "unknown_stages",
        "from_mismatch",
        "after_as_of",
    ]


def test_counts_dict_with_anomalies_adds_keys_and_examples() -> None:
    counts = EventCounts(events=3, leads=1, out_of_order=1, examples={"out_of_order": "L1"})
    data = counts.to_dict()
    assert data["out_of_order"] == 1
    assert data["examples"] == {"out_of_order": "L1"}
    assert "skipped_step" not in data


# -- conformance -------------------------------------------------------------------------------------

CONFORMANCE_CASES: dict[str, tuple[list[tuple[str, str, int]], int, str | None]] = {
    "move-after-unknown": ([("a", "subscriber", 0), ("a", "bogus", 1), ("a", "lead", 2)], 1, "a"),
    "two-moves-after-unknown": (
        [("b", "subscriber", 0), ("b", "bogus", 1), ("b", "lead", 2), ("c", "Won", 0), ("c", "mql", 1)],
        2,
        "b",
    ),
    "unknown-into-unknown-is-judged": ([("d", "bogus", 0), ("d", "other", 1)], 0, None),
    "clean": ([("e", "subscriber", 0), ("e", "lead", 1)], 0, None),
    "unknown-last": ([("f", "subscriber", 0), ("f", "bogus", 1)], 0, None),
}


@pytest.mark.parametrize("case", sorted(CONFORMANCE_CASES))
def test_conformance_counts_moves_it_does_not_judge(case: str) -> None:
    rows, unjudged, example = CONFORMANCE_CASES[case]
    report = sm.conformance(JM, frame(rows))
    assert report.counts.after_unknown_stage == unjudged
    assert sum(v.count for v in report.violations) + unjudged <= report.moves
    if example is None:
        assert "after_unknown_stage" not in report.counts.to_dict()
    else:
        assert report.counts.examples["after_unknown_stage"] == example
        assert_names(repr(report), "not judged", f"e.g. lead {example}")


def test_conformance_every_move_is_legal_illegal_or_unjudged() -> None:
    rng = random.Random(7)
    stages = [s.id for s in JM.stages] + ["bogus", "Won"]
    rows = [(f"L{rng.randrange(30)}", rng.choice(stages), rng.randrange(20)) for _ in range(400)]
    events = frame(rows)
    report = sm.conformance(JM, events)
    illegal = sum(v.count for v in report.violations)
    assert report.moves == events.unique(["lead_id", "to", "time"]).height
    assert illegal + report.counts.after_unknown_stage <= report.moves
    assert report.counts.after_unknown_stage > 0


# -- as_of: any aware time, one check ------------------------------------------------------------------

EVENTS = frame([("a", "subscriber", 0), ("a", "lead", 2), ("b", "subscriber", 1)])
AS_OF = T0 + timedelta(days=1, hours=12)


@pytest.mark.parametrize(
    "as_of",
    [
        AS_OF,
        AS_OF.astimezone(ZoneInfo("Europe/Berlin")),
        AS_OF.astimezone(ZoneInfo("America/Santiago")),
        AS_OF.astimezone(timezone(timedelta(hours=-7, minutes=-30))),
        AS_OF.astimezone(ZoneInfo("Asia/Kolkata")),
    ],
    ids=["utc", "berlin", "santiago", "fixed-offset", "kolkata"],
)
def test_funnel_accepts_any_aware_as_of(as_of: datetime) -> None:
    report = sm.funnel(JM, EVENTS, as_of=as_of)
    assert report.counts.after_as_of == 1
    assert report.row("subscriber").open == 2  # a's move to lead comes after as_of
    assert report.as_of == as_of


BAD_AS_OF: dict[str, tuple[object, str]] = {
    "naive": (datetime(2026, 10, 1), "naive"),
    "year-9999": (datetime(9999, 12, 31, tzinfo=UTC), "outside the years 1900 to 2199"),
    "year-1899": (datetime(1899, 12, 31, tzinfo=UTC), "outside the years 1900 to 2199"),
    "utc-year-2200": (
        datetime(2199, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        "outside the years 1900 to 2199",
    ),
    "int-epoch": (1_790_000_000, "not int"),
    "date": (T0.date(), "not date"),
    "text": ("2026-10-01T00:00:00+00:00", "not str"),
}


@pytest.mark.parametrize("case", sorted(BAD_AS_OF))
def test_funnel_refuses_bad_as_of(case: str) -> None:
    value, words = BAD_AS_OF[case]
    with pytest.raises(DataError) as info:
        sm.funnel(JM, EVENTS, as_of=value)  # type: ignore[arg-type]
    assert_names(str(info.value), "as_of", words)


@pytest.mark.parametrize("case", sorted(BAD_AS_OF))
def test_sla_refuses_bad_as_of(case: str) -> None:
    value, words = BAD_AS_OF[case]
    with pytest.raises(DataError) as info:
        sm.evaluate_sla(PLAN, {}, as_of=value)  # type: ignore[arg-type]
    assert_names(str(info.value), "as_of", words)


# -- event times outside the years ---------------------------------------------------------------------

OUT_OF_RANGE = {
    "year-1": datetime(1, 1, 1, tzinfo=UTC),
    "year-1899": datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
    "year-2200": datetime(2200, 1, 1, tzinfo=UTC),
    "year-9999": datetime(9999, 12, 31, 23, tzinfo=UTC),
}


def _with_time(moment: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {"lead_id": ["ok", "L-far"], "to": ["subscriber", "lead"], "time": [T0, moment]},
        schema={"lead_id": pl.String, "to": pl.String, "time": pl.Datetime("us", "UTC")},
    )


@pytest.mark.parametrize("when", sorted(OUT_OF_RANGE))
@pytest.mark.parametrize("analysis", ["funnel", "funnel-calendar", "conformance", "discover"])
def test_event_outside_the_years_names_lead_and_column(analysis: str, when: str) -> None:
    events = _with_time(OUT_OF_RANGE[when])
    run = {
        "funnel": lambda: sm.funnel(JM, events),
        "funnel-calendar": lambda: sm.funnel(JM, events, calendar=PLAN.sla.calendar if PLAN.sla else None),
        "conformance": lambda: sm.conformance(JM, events),
        "discover": lambda: sm.discover(events),
    }[analysis]
    with pytest.raises(DataError) as info:
        run()
    assert_names(str(info.value), "stage_event", "L-far", "time", "outside the years 1900 to 2199")


def test_event_on_the_last_accepted_year_is_fine() -> None:
    events = _with_time(datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert sm.funnel(JM, events).counts.leads == 2


SLA_KINDS = {
    "stage_events": ("lead_id", "time"),
    "activities": ("lead_id", "time"),
    "dispositions": ("lead_id", "time"),
    "leads": ("id", "created_at"),
}


def _sla_data(kind: str, moment: datetime) -> dict[str, pl.DataFrame]:
    utc = pl.Datetime("us", "UTC")
    t = datetime(2026, 10, 5, 8, tzinfo=UTC)
    frames = {
        "leads": pl.DataFrame(
            {"id": ["L1", "L2"], "created_at": [t, t], "owner": ["nina.brandt", "nina.brandt"]},
            schema={"id": pl.String, "created_at": utc, "owner": pl.String},
        ),
        "stage_events": pl.DataFrame(
            {"lead_id": ["L1", "L2"], "from": ["mql", "mql"], "to": ["sal", "sal"], "time": [t, t]},
            schema={"lead_id": pl.String, "from": pl.String, "to": pl.String, "time": utc},
        ),
        "activities": pl.DataFrame(
            {
                "id": ["A1", "A2"],
                "lead_id": ["L1", "L2"],
                "person": ["nina.brandt"] * 2,
                "time": [t, t],
                "type": ["call", "call"],
            },
            schema={
                "id": pl.String,
                "lead_id": pl.String,
                "person": pl.String,
                "time": utc,
                "type": pl.String,
            },
        ),
        "dispositions": pl.DataFrame(
            {"lead_id": ["L1", "L2"], "reason": ["qualified"] * 2, "time": [t, t]},
            schema={"lead_id": pl.String, "reason": pl.String, "time": utc},
        ),
    }
    ident, column = SLA_KINDS[kind]
    frames[kind] = frames[kind].with_columns(
        pl.when(pl.col(ident) == "L2").then(pl.lit(moment, utc)).otherwise(pl.col(column)).alias(column)
    )
    return frames


@pytest.mark.parametrize("kind", sorted(SLA_KINDS))
@pytest.mark.parametrize("when", ["year-1899", "year-2200", "year-9999"])
def test_sla_data_outside_the_years_names_record_and_column(kind: str, when: str) -> None:
    with pytest.raises(DataError) as info:
        sm.evaluate_sla(PLAN, _sla_data(kind, OUT_OF_RANGE[when]), as_of=datetime(2026, 10, 9, tzinfo=UTC))
    assert_names(str(info.value), SLA_KINDS[kind][1], "outside the years 1900 to 2199")
    # The record: its lead, or (where the frame intake checks first) the activity's own id.
    assert "L2" in str(info.value) or (kind == "activities" and "A2" in str(info.value)), str(info.value)


@pytest.mark.parametrize("kind", sorted(SLA_KINDS))
def test_sla_naive_times_name_kind_and_column(kind: str) -> None:
    data = _sla_data(kind, datetime(2026, 10, 5, 9, tzinfo=UTC))
    column = SLA_KINDS[kind][1]
    data[kind] = data[kind].with_columns(pl.col(column).dt.replace_time_zone(None))
    with pytest.raises(DataError) as info:
        sm.evaluate_sla(PLAN, data, as_of=datetime(2026, 10, 9, tzinfo=UTC))
    assert_names(str(info.value), kind, column, "naive")


# -- the SLA report: every count with an example lead ----------------------------------------------------

AT = datetime(2026, 10, 5, 8, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def _sla_case(name: str) -> tuple[dict[str, Any], str]:
    base = _sla_data("leads", AT)
    if name == "activities_unknown_lead":
        base["activities"] = pl.concat(
            [
                base["activities"],
                pl.DataFrame(
                    {
                        "id": ["A9"],
                        "lead_id": ["Lz"],
                        "person": ["nina.brandt"],
                        "time": [AT],
                        "type": ["call"],
                    },
                    schema=base["activities"].schema,
                ),
            ]
        )
        return base, "Lz"
    if name == "activities_after_as_of":
        base["activities"] = base["activities"].with_columns(
            pl.when(pl.col("lead_id") == "L2")
            .then(pl.lit(AT + timedelta(days=30), UTC_US))
            .otherwise(pl.col("time"))
            .alias("time")
        )
        return base, "L2"
    if name == "dispositions_not_handed_off":
        base["dispositions"] = pl.concat(
            [
                base["dispositions"],
                pl.DataFrame(
                    {"lead_id": ["L0"], "reason": ["qualified"], "time": [AT]},
                    schema=base["dispositions"].schema,
                ),
            ]
        )
        return base, "L0"
    if name == "dispositions_unknown_reason":
        base["dispositions"] = base["dispositions"].with_columns(pl.lit("vibes").alias("reason"))
        return base, "L1"
    if name == "handoffs_unknown_lead":
        base["leads"] = base["leads"].filter(pl.col("id") == "L1")
        return base, "L2"
    if name == "stage_events_after_as_of":
        base["stage_events"] = pl.concat(
            [
                base["stage_events"],
                pl.DataFrame(
                    {"lead_id": ["L7"], "from": ["mql"], "to": ["sal"], "time": [AT + timedelta(days=30)]},
                    schema=base["stage_events"].schema,
                ),
            ]
        )
        return base, "L7"
    raise AssertionError(name)


SLA_COUNTS = [
    "activities_after_as_of",
    "activities_unknown_lead",
    "dispositions_not_handed_off",
    "dispositions_unknown_reason",
    "handoffs_unknown_lead",
    "stage_events_after_as_of",
]


@pytest.mark.parametrize("count", SLA_COUNTS)
def test_sla_counts_carry_an_example_lead(count: str) -> None:
    data, lead = _sla_case(count)
    report = sm.evaluate_sla(PLAN, data, as_of=datetime(2026, 10, 9, tzinfo=UTC))
    assert report.counts[count] >= 1
    assert report.examples[count] == lead
    assert report.to_dict()["examples"][count] == lead
    assert_names(report.summary, f"{count.replace('_', ' ')} (e.g. lead {lead})")


def test_clean_sla_report_has_no_examples_key() -> None:
    report = sm.evaluate_sla(PLAN, _sla_data("leads", AT), as_of=datetime(2026, 10, 9, tzinfo=UTC))
    assert report.examples == {}
    assert "examples" not in report.to_dict()
    assert "not used" not in report.summary


# -- the CLI: naive folders give one clean line -----------------------------------------------------------


def _write(folder: Path, frames: dict[str, pl.DataFrame]) -> None:
    folder.mkdir(exist_ok=True)
    for kind, f in frames.items():
        f.write_parquet(folder / f"{kind}.parquet")


@pytest.mark.parametrize("naive", ["activities", "dispositions", "stage_events"])
def test_cli_sla_with_one_naive_file_names_it(
    naive: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _sla_data("leads", AT)
    frames[naive] = frames[naive].with_columns(pl.col("time").dt.replace_time_zone(None))
    _write(tmp_path / "data", frames)
    code = cli.main(["sla", "examples/plan.yaml", "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert_names(err, f"{naive}: time", "naive")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["funnel", "examples/plan.yaml", "--leads", "50", "--as-of", "9999-12-31T00:00:00+00:00"],
        ["sla", "examples/plan.yaml", "--leads", "50", "--as-of", "9999-12-31T00:00:00+00:00"],
        ["sla", "examples/plan.yaml", "--leads", "50", "--as-of", "1899-12-31T00:00:00+00:00"],
        ["kpis", "examples/plan.yaml", "--leads", "50", "--period", "9999-Q4"],
        ["kpis", "examples/plan.yaml", "--leads", "50", "--period", "1899-12"],
        ["rewards", "examples/plan.yaml", "--leads", "50", "--period", "9999-Q4"],
    ],
    ids=[
        "funnel-as-of",
        "sla-as-of-9999",
        "sla-as-of-1899",
        "kpis-period",
        "kpis-period-1899",
        "rewards-period",
    ],
)
def test_cli_time_out_of_range_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert_names(err, "1900 to 2199")


@pytest.mark.parametrize("command", ["sla", "funnel", "funnel-file"])
@pytest.mark.parametrize("year", [1800, 2200, 9999])
def test_cli_data_time_out_of_range_names_the_record(
    command: str, year: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    far = datetime(year, 1, 1, tzinfo=UTC)
    pl.DataFrame(
        {"lead_id": ["L1", "L2"], "from": ["mql", "mql"], "to": ["sal", "sal"], "time": [AT, far]},
        schema={"lead_id": pl.String, "from": pl.String, "to": pl.String, "time": UTC_US},
    ).write_parquet(tmp_path / "stage_events.parquet")
    target = tmp_path / "stage_events.parquet" if command == "funnel-file" else tmp_path
    code = cli.main([command.split("-", maxsplit=1)[0], "examples/plan.yaml", "--data", str(target)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert_names(err, "L2", "time", f"{year}-01-01", "outside the years 1900 to 2199")


# -- arguments ----------------------------------------------------------------------------------------------

BAD_ARGUMENTS = {
    "mode": (lambda: sm.funnel(JM, EVENTS, mode="sequential"), "mode", "'sequential'"),  # type: ignore[arg-type]
    "stages-empty": (lambda: sm.funnel(JM, EVENTS, stages=[]), "stages", "at least one"),
    "stages-unknown": (lambda: sm.funnel(JM, EVENTS, stages=["lead", "won"]), "stages", "'won'"),
    "stages-repeated": (lambda: sm.funnel(JM, EVENTS, stages=["lead", "lead"]), "stages", "repeat"),
    "stages-case": (lambda: sm.funnel(JM, EVENTS, stages=["Lead"]), "stages", "'Lead'"),
    "by-without-leads": (lambda: sm.funnel(JM, EVENTS, by="persona"), "by", "'persona'"),
    "conformance-examples": (lambda: sm.conformance(JM, EVENTS, examples=-1), "examples", "-1"),
    "discover-min-count": (lambda: sm.discover(EVENTS, min_count=0), "min_count", "0"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_are_data_errors_naming_the_argument(case: str) -> None:
    run, field, words = BAD_ARGUMENTS[case]
    with pytest.raises(DataError) as info:
        run()
    assert_names(str(info.value), f"{field}:", words)


def test_html_reprs_show_the_anomalies() -> None:
    events = frame([("a", "subscriber", 0), ("a", "bogus", 1), ("a", "lead", 2), ("b", "customer", 0)])
    assert_names(sm.funnel(JM, events)._repr_html_(), "e.g. lead b", "not counted")
    assert_names(sm.conformance(JM, events)._repr_html_(), "not judged (e.g. lead a)")
