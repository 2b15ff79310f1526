"""Hostile inputs to the ``smarketing`` command: each ends in a clear message and exit 2, never a traceback.

Most cases call :func:`smarketing.cli.main` in-process; a few run the installed command to check the exit
code and that no traceback reaches standard error. The data cases copy a small synthetic CRM export (60
leads, one parquet file per record kind) and spoil one file of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from tests.hostile.conftest import assert_names

from smarketing import cli
from smarketing.datasets import synthetic
from smarketing.errors import (
    CurrencyMismatchError,
    DataError,
    FormulaError,
    PlanError,
    PlanIssue,
    PluginError,
    RuleError,
    SmarketingError,
)
from smarketing.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = str(ROOT / "examples" / "plan.yaml")
COMMANDS = ["funnel", "kpis", "sla", "rewards"]
#: The arguments each analysis command needs besides the plan and the data.
NEEDS = {"funnel": [], "kpis": ["--period", "2026-10"], "sla": [], "rewards": ["--period", "2026-10"]}
#: A raw control character that must never reach the terminal.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


BARE_PLAN = """\
name: Bare
teams:
  - {id: mkt, name: Marketing, function: marketing}
  - {id: sls, name: Sales, function: sales}
journey:
  stages:
    - {id: mql, name: MQL, owner: mkt, kind: mql}
    - {id: won, name: Won, owner: sls, kind: customer, terminal: won}
  transitions:
    - {from: mql, to: won, kind: handoff}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert not RAW_CONTROL.search(out + err), "a raw control character reached the terminal"
    return code, out, err


def assert_clear(err: str, *places: str) -> None:
    """A usage or data error: one line per problem on stderr, naming the places, no traceback."""
    assert err.endswith("\n")
    assert "Traceback" not in err
    assert_names(err, *places)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CRM export: ``<kind>.parquet`` for every record kind, from 60 synthetic leads."""
    folder = tmp_path_factory.mktemp("export")
    for kind, frame in synthetic(load_plan(PLAN), seed=7, n_leads=60).frames().items():
        frame.write_parquet(folder / f"{kind}.parquet")
    return folder


@pytest.fixture
def data(export: Path, tmp_path: Path) -> Path:
    """A private copy of the export, to spoil."""
    return Path(shutil.copytree(export, tmp_path / "data"))


# --------------------------------------------------------------------------------------------------
# --data: file-level problems, for every command, named with the file and what is wrong with it.


def _directory(path: Path) -> None:
    path.mkdir()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _csv(path: Path) -> None:
    path.write_text("lead_id,to,time\nL1,mql,2026-10-01T09:00:00Z\n", encoding="utf-8")


def _json(path: Path) -> None:
    path.write_text('[{"lead_id": "L1"}]', encoding="utf-8")


def _excel(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "gone.parquet")


def _link_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _truncated(path: Path, keep: int = 100) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _tiny(path: Path) -> None:
    path.write_bytes(b"PAR1")


def _corrupt_middle(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[4:-8] = b"\xff" * (len(raw) - 12)
    path.write_bytes(bytes(raw))


def _binary(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


FILE_PROBLEMS: dict[str, tuple[Callable[[Path], None], str]] = {
    "directory": (_directory, "is a folder, not a parquet file"),
    "empty": (_empty, "is empty"),
    "csv": (_csv, "not a parquet file (it looks like text, such as CSV)"),
    "json": (_json, "not a parquet file (it looks like JSON)"),
    "excel": (_excel, "not a parquet file (it is a ZIP archive"),
    "dev-zero-link": (_dev_zero, "is a device, not a parquet file"),
    "fifo": (_fifo, "is a FIFO (named pipe), not a parquet file"),
    "dangling-link": (_dangling, "which does not exist"),
    "link-loop": (_link_loop, "cannot read: Too many levels of symbolic links"),
    "truncated": (_truncated, "is not a complete parquet file"),
    "magic-only": (_tiny, "is not a complete parquet file"),
    "corrupt-middle": (_corrupt_middle, "cannot read this parquet file"),
    "binary": (_binary, "not a parquet file (it does not start with PAR1)"),
}


# Every problem through the two readers' callers (funnel reads one kind, the others a whole folder), and
# the common ones through every command.
SPOILT_CASES = [(c, p) for c in ("rewards", "funnel") for p in FILE_PROBLEMS] + [
    (c, p) for c in ("kpis", "sla") for p in ("directory", "csv", "dev-zero-link", "fifo")
]


@pytest.mark.parametrize(("command", "problem"), SPOILT_CASES, ids=[f"{c}-{p}" for c, p in SPOILT_CASES])
def test_spoilt_parquet_file_is_named(
    capsys: pytest.CaptureFixture[str], data: Path, command: str, problem: str
) -> None:
    spoil, says = FILE_PROBLEMS[problem]
    target = data / "stage_events.parquet"
    if problem not in ("truncated", "corrupt-middle"):
        target.unlink()
    spoil(target)
    code, out, err = run(capsys, command, PLAN, "--data", str(data), *NEEDS[command])
    assert (code, out) == (2, "")
    assert_clear(err, f"smarketing {command}: ", str(target), says)
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        *(
            ("rewards", k)
            for k in ["leads", "deals", "touchpoints", "activities", "dispositions", "accounts"]
        ),
        ("kpis", "deals"),
        ("sla", "dispositions"),
    ],
)
def test_every_kind_file_is_checked(
    capsys: pytest.CaptureFixture[str], data: Path, command: str, kind: str
) -> None:
    target = data / f"{kind}.parquet"
    _csv(target)
    code, _, err = run(capsys, command, PLAN, "--data", str(data), *NEEDS[command])
    assert code == 2
    assert_clear(err, str(target), "not a parquet file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
@pytest.mark.parametrize("command", COMMANDS)
def test_unreadable_file_is_named(capsys: pytest.CaptureFixture[str], data: Path, command: str) -> None:
    target = data / "stage_events.parquet"
    target.chmod(0)
    code, _, err = run(capsys, command, PLAN, "--data", str(data), *NEEDS[command])
    assert code == 2
    assert_clear(err, str(target), "cannot read: Permission denied")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("missing", "no such"),
        ("dev-zero", "is a device, not a folder"),
        ("fifo", "is a FIFO (named pipe), not a folder"),
    ],
)
def test_data_option_itself_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, given: str, says: str
) -> None:
    path = tmp_path / "export"
    if given == "dev-zero":
        path.symlink_to("/dev/zero")
    elif given == "fifo":
        os.mkfifo(path)
    code, _, err = run(capsys, command, PLAN, "--data", str(path), *NEEDS[command])
    assert code == 2
    assert_clear(err, str(path), says)


@pytest.mark.parametrize("command", ["kpis", "sla", "rewards"])
def test_folder_without_parquet_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    (tmp_path / "deals.csv").write_text("id\n", encoding="utf-8")
    code, _, err = run(capsys, command, PLAN, "--data", str(tmp_path), *NEEDS[command])
    assert code == 2
    assert_clear(err, str(tmp_path), "no <kind>.parquet files")


def test_funnel_needs_the_stage_events(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    (data / "stage_events.parquet").unlink()
    code, _, err = run(capsys, "funnel", PLAN, "--data", str(data))
    assert code == 2
    assert_clear(err, str(data / "stage_events.parquet"), "no such parquet file")


def test_funnel_by_needs_the_leads(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    (data / "leads.parquet").unlink()
    code, _, err = run(capsys, "funnel", PLAN, "--data", str(data), "--by", "persona")
    assert code == 2
    assert_clear(err, str(data / "leads.parquet"), "--by needs the leads")


def test_funnel_by_does_not_read_other_kinds(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    """Only the files a command uses are read: a spoilt deals file does not stop the funnel."""
    _csv(data / "deals.parquet")
    code, out, _ = run(capsys, "funnel", PLAN, "--data", str(data))
    assert code == 0
    assert out.startswith("FunnelReport(")


# --------------------------------------------------------------------------------------------------
# --data: column problems. Type checks are made in as_lazy (frames); the CLI names the file they came from.


def _cast(column: str, dtype: pl.DataType) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda frame: frame.with_columns(pl.col(column).cast(dtype))


def _huge_amounts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.Series("amount", [Decimal(10**30)] * frame.height, dtype=pl.Decimal(38, 0)))


def _naive(column: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda frame: frame.with_columns(pl.col(column).dt.replace_time_zone(None))


COLUMN_PROBLEMS: dict[str, tuple[str, str, Callable[[pl.DataFrame], pl.DataFrame]]] = {
    "event-time-as-text": ("stage_events", "time", _cast("time", pl.String())),
    "created-at-as-text": ("leads", "created_at", _cast("created_at", pl.String())),
    "activity-time-as-text": ("activities", "time", _cast("time", pl.String())),
    "amount-as-text": ("deals", "amount", _cast("amount", pl.String())),
    "close-date-as-text": ("deals", "close_date", _cast("close_date", pl.String())),
    "amount-30-digits": ("deals", "amount", _huge_amounts),
    "event-time-naive": ("stage_events", "time", _naive("time")),
}
# A command that does not read the column's kind computes as if the column were fine.
_NOT_READ = {
    ("funnel", "created-at-as-text"),
    ("funnel", "activity-time-as-text"),
    ("funnel", "amount-as-text"),
    ("funnel", "close-date-as-text"),
    ("funnel", "amount-30-digits"),
    ("sla", "amount-as-text"),
    ("sla", "close-date-as-text"),
    ("sla", "amount-30-digits"),
    ("rewards", "created-at-as-text"),
    ("rewards", "activity-time-as-text"),
}


def _column_cases() -> list[object]:
    cases = []
    for command in COMMANDS:
        for problem in COLUMN_PROBLEMS:
            if (command, problem) in _NOT_READ:
                continue
            cases.append(pytest.param(command, problem, id=f"{command}-{problem}"))
    return cases


@pytest.mark.parametrize(("command", "problem"), _column_cases())
def test_bad_column_names_file_and_column(
    capsys: pytest.CaptureFixture[str], data: Path, command: str, problem: str
) -> None:
    kind, column, spoil = COLUMN_PROBLEMS[problem]
    target = data / f"{kind}.parquet"
    spoil(pl.read_parquet(target)).write_parquet(target)
    code, out, err = run(capsys, command, PLAN, "--data", str(data), *NEEDS[command], "--as-of", "2026-11-01")
    assert (code, out) == (2, "")
    assert_clear(err, str(target), column)
    assert err.count("\n") == 1


def test_sla_naive_times_in_activities_name_the_file(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    """The latest fact (the default --as-of) comes from the files: naive times are an error, no TypeError."""
    target = data / "activities.parquet"
    _naive("time")(pl.read_parquet(target)).write_parquet(target)
    code, _, err = run(capsys, "sla", PLAN, "--data", str(data))
    assert code == 2
    assert_clear(err, str(target), "time", "naive datetimes")


# --------------------------------------------------------------------------------------------------
# --as-of: one argument type for every command.

AS_OF_REFUSED = {
    "year-1899": ("1899-12-31", "the accepted years 1900 to 2199"),
    "year-2200": ("2200-01-01", "the accepted years 1900 to 2199"),
    "year-9999": ("9999-12-31", "the accepted years 1900 to 2199"),
    "year-9999-time": ("9999-12-31T00:00+00:00", "the accepted years 1900 to 2199"),
    "year-1": ("0001-01-01T00:00:00+00:00", "the accepted years 1900 to 2199"),
    "no-offset": ("2026-10-01T10:00", "has no UTC offset"),
    "month-13": ("2026-13-01", "is not a date"),
    "february-30": ("2026-02-30", "is not a date"),
    "words": ("yesterday", "not an ISO 8601 date or time"),
    "empty": ("", "not an ISO 8601 date or time"),
    "arabic-digits": ("\u0662\u0660\u0662\u0666-\u0661\u0660-\u0660\u0661", "not an ISO 8601 date or time"),
    "epoch": ("1790000000", "not an ISO 8601 date or time"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(AS_OF_REFUSED))
def test_as_of_refused_naming_the_option(capsys: pytest.CaptureFixture[str], command: str, case: str) -> None:
    value, says = AS_OF_REFUSED[case]
    code, out, err = run(capsys, command, PLAN, "--leads", "20", *NEEDS[command], "--as-of", value)
    assert (code, out) == (2, "")
    assert_clear(err, "argument --as-of", says)


@pytest.mark.parametrize("command", COMMANDS)
def test_as_of_plain_date_accepted_everywhere(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = run(capsys, command, PLAN, "--leads", "60", *NEEDS[command], "--as-of", "2026-10-15")
    assert code == 0, err
    assert out


@pytest.mark.parametrize("command", ["funnel", "kpis", "sla"])
def test_plain_date_is_start_of_day_in_plan_time_zone(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The example plan's SLA calendar is Europe/Berlin: 2026-10-15 means 2026-10-15T00:00+02:00."""
    args = [command, PLAN, "--leads", "60", *NEEDS[command], "--format", "json"]
    _, plain, _ = run(capsys, *args, "--as-of", "2026-10-15")
    _, explicit, _ = run(capsys, *args, "--as-of", "2026-10-15T00:00:00+02:00")
    _, utc, _ = run(capsys, *args, "--as-of", "2026-10-15T00:00:00+00:00")
    assert plain == explicit
    assert plain != utc or command == "kpis"  # the scorecard may not change within two hours


def test_plain_date_in_plan_without_sla_is_utc(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text(BARE_PLAN, encoding="utf-8")
    code, out, err = run(capsys, "funnel", str(bare), "--leads", "30", "--as-of", "2026-10-15")
    assert code == 0, err
    assert "as of 2026-10-15 00:00 UTC" in out


def test_funnel_as_of_shows_the_time_zone_offset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "funnel", PLAN, "--leads", "30", "--as-of", "2026-01-15")
    assert code == 0
    assert "as of 2026-01-15 00:00 CET" in out  # winter time in Berlin


def test_rewards_as_of_time_is_its_day_in_plan_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rewards", PLAN, "--leads", "30", "--period", "2026-10", "--format", "json"]
    code, out, _ = run(capsys, *args, "--as-of", "2026-10-31T23:30:00+00:00")  # 00:30 on 1 Nov in Berlin
    assert code == 0
    assert json.loads(out)["as_of"] == "2026-11-01"
    _, out, _ = run(capsys, *args, "--as-of", "2026-10-31")
    assert json.loads(out)["as_of"] == "2026-10-31"


# --------------------------------------------------------------------------------------------------
# --period

PERIOD_REFUSED = {
    "9999-Q4": ("1900", "2199"),
    "10000": ("1900", "2199"),
    "10000-01": ("1900", "2199"),
    "99999-Q1": ("1900", "2199"),
    "1899-12": ("1900", "2199"),
    "2200": ("1900", "2199"),
    "2026-13": ("cannot read period '2026-13'",),
    "2026-00": ("cannot read period '2026-00'",),
    "2026-Q5": ("cannot read period '2026-Q5'",),
    "2026-W54": ("cannot read period '2026-W54'",),
    "Q4-2026": ("cannot read period 'Q4-2026'",),
    "": ("cannot read period ''",),
    "\u0662\u0660\u0662\u0666-\u0661\u0660": ("not a period",),
    "2026-10 ": ("cannot read period",),
}


@pytest.mark.parametrize("command", ["kpis", "rewards"])
@pytest.mark.parametrize("value", list(PERIOD_REFUSED))
def test_period_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], command: str, value: str
) -> None:
    code, out, err = run(capsys, command, PLAN, "--leads", "20", "--period", value)
    assert (code, out) == (2, "")
    assert_clear(err, "argument --period", *PERIOD_REFUSED[value])
    assert "out of range" not in err


@pytest.mark.parametrize("value", ["2026-W41", "2026-10-05"])
def test_rewards_refuses_weeks_and_days(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = run(capsys, "rewards", PLAN, "--leads", "20", "--period", value)
    assert code == 2
    assert_clear(err, "--period", "not supported")


# kpis in 2199 is left out: the SLA metrics build the business calendar day by day from the data to the
# period (about 3 s for 173 years), a slowness of the calendar, not of the command line.
@pytest.mark.parametrize(
    ("command", "value"),
    [
        ("kpis", "2026"),
        ("rewards", "1900-01"),
        ("rewards", "2199-Q4"),
        ("rewards", "2026"),
    ],
)
def test_period_edges_accepted(capsys: pytest.CaptureFixture[str], command: str, value: str) -> None:
    code, out, err = run(capsys, command, PLAN, "--leads", "20", "--period", value)
    assert code == 0, err
    assert out


# --------------------------------------------------------------------------------------------------
# --fx

FX_REFUSED = {
    "40-digits": ("USD/EUR=" + "1" * 40, "has 40 digits before the decimal point"),
    "13-digits": ("USD/EUR=" + "1" * 13, "has 13 digits before the decimal point; at most 12"),
    "60-places": ("USD/EUR=0." + "0" * 59 + "1", "has 60 decimal places"),
    "19-significant": ("USD/EUR=1.234567890123456789", "more than 18 significant digits"),
    "zero": ("USD/EUR=0", "must be positive"),
    "zero-point-zero": ("USD/EUR=0.000", "must be positive"),
    "negative": ("USD/EUR=-0.92", "must be a decimal number"),
    "exponent": ("USD/EUR=9.2e-1", "must be a decimal number"),
    "nan": ("USD/EUR=NaN", "must be a decimal number"),
    "infinity": ("USD/EUR=Infinity", "must be a decimal number"),
    "underscore": ("USD/EUR=0.9_2", "must be a decimal number"),
    "arabic-digits": ("USD/EUR=\u0660.\u0669\u0662", "must be a decimal number"),
    "no-rate": ("USD/EUR=", "write BASE/QUOTE=RATE"),
    "no-pair": ("0.92", "write BASE/QUOTE=RATE"),
    "no-quote": ("USD=0.92", "write BASE/QUOTE=RATE"),
    "lowercase": ("usd/EUR=0.92", "uppercase"),
    "unknown-code": ("XYZ/EUR=0.92", "unknown ISO 4217"),
    "same-currency": ("USD/USD=2", "two different currencies"),
}


@pytest.mark.parametrize("command", ["kpis", "rewards"])
@pytest.mark.parametrize("case", list(FX_REFUSED))
def test_fx_refused_naming_the_option(capsys: pytest.CaptureFixture[str], command: str, case: str) -> None:
    value, says = FX_REFUSED[case]
    code, out, err = run(capsys, command, PLAN, "--leads", "20", "--period", "2026-10", "--fx", value)
    assert (code, out) == (2, "")
    assert_clear(err, "argument --fx", says)


@pytest.mark.parametrize("command", ["kpis", "rewards"])
def test_fx_conflicting_rates_refused(capsys: pytest.CaptureFixture[str], command: str) -> None:
    argv = [
        command,
        PLAN,
        "--leads",
        "20",
        "--period",
        "2026-10",
        "--fx",
        "USD/EUR=0.92",
        "--fx",
        "USD/EUR=0.93",
    ]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert_clear(err, f"smarketing {command}: --fx", "two different rates")


@pytest.mark.parametrize(
    ("command", "rate"),
    [
        ("kpis", "0.92"),
        ("rewards", "0.92"),
        ("rewards", "0.920000000000000000"),
        ("rewards", "123456789012"),
        ("rewards", "0.000000000000000001"),
    ],
)
def test_fx_rates_inside_the_bounds(capsys: pytest.CaptureFixture[str], command: str, rate: str) -> None:
    code, _, err = run(
        capsys, command, PLAN, "--leads", "20", "--period", "2026-10", "--fx", f"USD/EUR={rate}"
    )
    assert code == 0, err


# --------------------------------------------------------------------------------------------------
# Counts: --leads (bounded, or the demo runs out of memory) and --seed

COUNT_REFUSED = {
    "leads-100-million": (["--leads", "100000000"], "--leads: must be between 1 and 1,000,000"),
    "leads-1000001": (["--leads", "1000001"], "--leads: must be between 1 and 1,000,000"),
    "leads-zero": (["--leads", "0"], "--leads: must be between 1 and 1,000,000"),
    "leads-negative": (["--leads", "-5"], "--leads: must be between 1 and 1,000,000"),
    "leads-5000-digits": (["--leads", "9" * 5000], "--leads: not a whole number"),
    "leads-underscore": (["--leads", "1_000"], "--leads: not a whole number"),
    "leads-arabic": (["--leads", "\u0665\u0660"], "--leads: not a whole number"),
    "leads-exponent": (["--leads", "1e3"], "--leads: not a whole number"),
    "leads-float": (["--leads", "10.0"], "--leads: not a whole number"),
    "leads-empty": (["--leads", ""], "--leads: not a whole number"),
    "seed-negative": (["--seed", "-1"], "--seed: must be between 0 and"),
    "seed-2-to-64": (["--seed", str(2**64)], "--seed: must be between 0 and"),
    "seed-text": (["--seed", "x"], "--seed: not a whole number"),
}


@pytest.mark.parametrize("command", ["demo", "kpis"])
@pytest.mark.parametrize("case", list(COUNT_REFUSED))
def test_counts_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], command: str, case: str
) -> None:
    extra, says = COUNT_REFUSED[case]
    plan = [] if command == "demo" else [PLAN, "--period", "2026-10"]
    code, out, err = run(capsys, command, *plan, *extra)
    assert (code, out) == (2, "")
    assert_clear(err, "argument ", says)


@pytest.mark.parametrize("command", ["funnel", "sla", "rewards"])
def test_analysis_leads_bounded(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, _, err = run(capsys, command, PLAN, *NEEDS[command], "--leads", "100000000")
    assert code == 2
    assert_clear(err, "argument --leads", "1,000,000")


@pytest.mark.parametrize("value", ["-1", "101", "x", "\u0665\u0660"])
def test_min_score_refused(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = run(capsys, "check", PLAN, "--min-score", value)
    assert code == 2
    assert_clear(err, "argument --min-score")


# --------------------------------------------------------------------------------------------------
# Control characters never reach the terminal, with or without NO_COLOR.

CONTROLS = {
    "nul": "\x00",
    "esc-clear-screen": "\x1b[2J",
    "esc-title": "\x1b]0;pwned\x07",
    "bell": "\x07",
    "backspace": "\x08",
    "carriage-return": "\r",
    "delete": "\x7f",
    "c1-csi": "\x9b31m",
    "bidi-override": "\u202e",
}


def _named_plan(tmp_path: Path, control: str) -> Path:
    text = (ROOT / "examples" / "plan.yaml").read_text(encoding="utf-8")
    name = json.dumps(f"Acme{control}FY27")  # JSON string escapes are YAML double-quoted escapes
    path = tmp_path / "plan.yaml"
    path.write_text(re.sub(r"(?m)^name: .*$", lambda _: f"name: {name}", text, count=1), encoding="utf-8")
    return path


@pytest.mark.parametrize("no_color", ["1", ""], ids=["NO_COLOR", "colour-allowed"])
@pytest.mark.parametrize("case", list(CONTROLS))
def test_plan_name_controls_escaped(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
    no_color: str,
) -> None:
    monkeypatch.setenv("NO_COLOR", no_color)
    plan = _named_plan(tmp_path, CONTROLS[case])
    code, out, err = run(capsys, "validate", str(plan))  # run() fails on any raw control character
    if code == 0:  # the plan accepts the name: it is shown escaped
        assert out.startswith("OK: Acme\\")
    else:  # the plan refuses it: the message names the field
        assert code == 2
        assert_clear(err, str(plan), "name")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize("case", ["esc-clear-screen", "c1-csi", "bidi-override"])
def test_check_output_escaped_and_json_stays_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str, case: str
) -> None:
    plan = _named_plan(tmp_path, CONTROLS[case])
    code, out, _ = run(capsys, "check", str(plan), "--format", fmt)
    if code == 2:
        return  # refused at load, covered above
    if fmt == "json":
        assert json.loads(out)["plan"] == f"Acme{CONTROLS[case]}FY27"
    elif fmt == "sarif":
        json.loads(out)


@pytest.mark.parametrize("case", list(CONTROLS))
def test_file_name_controls_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    missing = tmp_path / f"pl{CONTROLS[case]}an.yaml"
    code, _, err = run(capsys, "validate", str(missing))
    assert code == 2
    assert_clear(err, "a file name cannot contain NUL" if case == "nul" else "no such plan file")
    assert err.count("\n") == (2 if case == "nul" else 1)  # argparse: a line of usage, then the error


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["validate", "a\x00b.yaml"], "argument PLAN"),
        (["validate", ""], "argument PLAN"),
        (["demo", "--plan", "a\x00b.yaml"], "argument --plan"),
        (["schema", "--output", "out\x00.json"], "argument --output/-o"),
        (["funnel", PLAN, "--data", "d\x00ata"], "argument --data"),
        (["rewards", PLAN, "--period", "2026-10", "--data", ""], "argument --data"),
    ],
    ids=["plan-nul", "plan-empty", "demo-plan-nul", "schema-output-nul", "data-nul", "data-empty"],
)
def test_impossible_file_names_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert_clear(err, option)


@pytest.mark.parametrize("case", ["esc-clear-screen", "nul", "carriage-return"])
def test_data_values_escaped(capsys: pytest.CaptureFixture[str], data: Path, case: str) -> None:
    """A lead attribute holding control characters, shown as a funnel group."""
    target = data / "leads.parquet"
    pl.read_parquet(target).with_columns(pl.lit(f"evil{CONTROLS[case]}").alias("persona")).write_parquet(
        target
    )
    code, out, _ = run(capsys, "funnel", PLAN, "--data", str(data), "--by", "persona")
    assert code == 0
    assert "persona = evil\\" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", PLAN, "\x1b[2J"],
        ["kpis", PLAN, "--period", "2026-10", "--by", "\x1b[2J", "--leads", "20"],
        ["rewards", PLAN, "--period", "2026-10", "--participant", "\x1b[2J", "--leads", "20"],
        ["check", PLAN, "--select", "\x1b[2J"],
        ["funnel", PLAN, "--mode", "\x1b[2J"],
    ],
    ids=["unrecognised-argument", "kpis-by", "rewards-participant", "check-select", "funnel-mode"],
)
def test_arguments_echoed_escaped(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert_clear(err, "\\x1b[2J")


def test_colour_only_for_clean_reports(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a terminal, the report is coloured unless it holds text that needs escaping: then it is plain."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code = cli.main(["check", str(ROOT / "examples" / "misaligned.yaml")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "\x1b[31m" in out
    plan = _named_plan(tmp_path, CONTROLS["esc-clear-screen"])
    if cli.main(["check", str(plan)]) != 2:
        out, _ = capsys.readouterr()
        assert "\x1b" not in out


# --------------------------------------------------------------------------------------------------
# Plan files that are not files


PLAN_COMMANDS = [
    ["validate"],
    ["check"],
    ["funnel", "--leads", "20"],
    ["kpis", "--period", "2026-10", "--leads", "20"],
    ["sla", "--leads", "20"],
    ["rewards", "--period", "2026-10", "--leads", "20"],
]


def _plan_path(tmp_path: Path, what: str) -> Path:
    if what == "directory":
        return tmp_path
    if what == "dev-zero":
        return Path("/dev/zero")
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize("what", ["directory", "dev-zero", "fifo"])
@pytest.mark.parametrize("command", PLAN_COMMANDS, ids=[c[0] for c in PLAN_COMMANDS])
def test_plan_not_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], what: str
) -> None:
    path = _plan_path(tmp_path, what)
    code, out, err = run(capsys, command[0], str(path), *command[1:])
    assert (code, out) == (2, "")
    assert_clear(err, str(path))
    assert err.count("\n") == 1


@pytest.mark.parametrize("what", ["directory", "dev-zero", "fifo"])
def test_demo_plan_not_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, what: str) -> None:
    path = _plan_path(tmp_path, what)
    code, _, err = run(capsys, "demo", "--plan", str(path), "--leads", "20")
    assert code == 2
    assert_clear(err, str(path))


@pytest.mark.parametrize("what", ["directory", "dev-zero", "fifo"])
def test_plan_not_a_file_says_what_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, what: str
) -> None:
    path = _plan_path(tmp_path, what)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 2
    assert_clear(err, str(path))
    assert "no such plan file" not in err


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00garbage", b"- a\n- b\n", b"name: [unclosed\n", b'name: "\\e[2J"\n'],
    ids=["empty", "binary", "a-list", "broken-yaml", "escape-only"],
)
def test_plan_content_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(content)
    code, out, err = run(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert_clear(err, str(path))


# --------------------------------------------------------------------------------------------------
# Every SmarketingError is a message and exit 2; an unexpected exception still surfaces.

RAISED: dict[str, tuple[SmarketingError, str]] = {
    "plugin": (PluginError("touch_weights raised", plugin="bad", group="smarketing.attribution"), ""),
    "data": (DataError("must be positive", record="D-9", field="amount", kind="deal"), ""),
    "plan": (PlanError("unknown team", path="rewards.team_split"), ""),
    "formula": (FormulaError("unknown metric 'sql'", formula="sqls / sql", col=8), ""),
    "rule": (RuleError("duplicate rule code X001"), ""),
    "currency": (CurrencyMismatchError("EUR + USD"), ""),
    "multi-line": (DataError("first line\nsecond line", kind="deal"), ""),
}
EXPECTED = {
    "plugin": f"smarketing check: {RAISED['plugin'][0]}\n",  # PluginError's own form names group and plugin
    "data": "smarketing check: deal D-9: amount: must be positive\n",
    "plan": "smarketing check: rewards.team_split: unknown team\n",
    "formula": "smarketing check: col 8: unknown metric 'sql'\n",
    "rule": "smarketing check: duplicate rule code X001\n",
    "currency": "smarketing check: EUR + USD\n",
    "multi-line": "smarketing check: deal: first line\\nsecond line\n",
}


@pytest.mark.parametrize("case", list(RAISED))
def test_smarketing_errors_are_messages(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    error = RAISED[case][0]

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("smarketing.cli._plan.check", fail)
    code, out, err = run(capsys, "check", PLAN)
    assert (code, out, err) == (2, "", EXPECTED[case])


def test_plan_error_prints_every_issue_with_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    issues = [PlanIssue("bad", path="a", line=3), PlanIssue("worse", path="b", line=9)]

    def fail(path: object) -> None:
        raise PlanError("bad", file="p.yaml", issues=issues)

    monkeypatch.setattr("smarketing.cli._common.load_plan", fail)
    code, _, err = run(capsys, "validate", "p.yaml")
    assert (code, err) == (2, "p.yaml:3: a: bad\np.yaml:9: b: worse\n")


def test_data_error_from_a_file_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise DataError("must be positive", record="D-9", field="amount", kind="deal")

    monkeypatch.setattr("smarketing.cli._rewards.compute_rewards", fail)
    code, _, err = run(capsys, "rewards", PLAN, "--data", str(data), "--period", "2026-10")
    assert code == 2
    assert err == f"smarketing rewards: {data / 'deals.parquet'}: deal D-9: amount: must be positive\n"


def test_unexpected_exceptions_surface(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug is not hidden as a usage error."""

    def fail(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("smarketing.cli._plan.check", fail)
    with pytest.raises(ZeroDivisionError):
        cli.main(["check", PLAN])


# --------------------------------------------------------------------------------------------------
# The demo with a plan in another currency


@pytest.mark.hang_limit(40)  # the whole demo, its report's charts too
def test_demo_with_usd_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Neither a traceback nor a refusal: the demo brings its own USD rate.
    plan = tmp_path / "usd.yaml"
    plan.write_text((ROOT / "examples" / "plan.yaml").read_text(encoding="utf-8").replace("EUR", "USD"))
    code, out, err = run(capsys, "demo", "--plan", str(plan), "--leads", "100")
    assert (code, err) == (0, "")
    assert "cannot compute" not in out
    assert "no rates for this pair" not in out


# --------------------------------------------------------------------------------------------------
# The installed command: exit codes, and no traceback on standard error.


def _spoilt(data: Path) -> Path:
    _csv(data / "deals.parquet")
    return data


SUBPROCESS_CASES = {
    "csv-as-parquet": lambda data: ["rewards", PLAN, "--period", "2026-10", "--data", str(_spoilt(data))],
    "plan-is-a-fifo": lambda data: ["validate", str(_plan_path(data, "fifo"))],
}


@pytest.mark.parametrize("case", list(SUBPROCESS_CASES))
def test_installed_command_exit_2_without_traceback(data: Path, case: str) -> None:
    argv = SUBPROCESS_CASES[case](data)
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from smarketing.cli import main; sys.exit(main())", *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=9,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(("smarketing ", str(data)))


# --------------------------------------------------------------------------------------------------
# docs/reference/cli.md lists every command and option the parser has.


def _parser_options() -> dict[str, set[str]]:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    assert isinstance(commands.choices, dict)
    return {
        name: {o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
        for name, sub in commands.choices.items()
    }


def _documented_options() -> dict[str, set[str]]:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for line in page.splitlines():
        match = re.match(r"\| `smarketing ([a-z][a-z-]*) ([^`]*)`", line)
        if match:
            documented[match.group(1)] = set(re.findall(r"--[a-z][a-z-]*", match.group(2)))
    return documented


@pytest.mark.parametrize("command", sorted(_parser_options()))
def test_docs_list_every_command_and_option(command: str) -> None:
    documented = _documented_options()
    assert command in documented, f"docs/reference/cli.md does not list `smarketing {command}`"
    assert documented[command] == _parser_options()[command]


def test_docs_list_no_command_the_parser_lacks() -> None:
    assert set(_documented_options()) - {"--version"} <= set(_parser_options())
