"""``smarketing report`` and the demo's last line: the file written, what is said, and the exit codes."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.report.conftest import FX, ROOT

import smarketing as sm
from smarketing import cli
from smarketing.cli import _demo
from smarketing.testing.fixtures import example_dataset

PLAN = str(ROOT / "examples" / "plan.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    example_dataset().write(folder)
    return folder


def test_writes_the_report_of_synthetic_data(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run(capsys, "report", PLAN, "--seed", "3", "--leads", "300", "-o", str(target))
    assert (code, err) == (0, "")
    assert out == f"report: {target} (9 sections)\n"
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "As of</dt><dd>2026-11-01 01:00 CET" in page  # the end of the synthetic data
    assert "Period</dt><dd>2026-10 " in page


def test_the_command_and_the_library_give_the_same_bytes(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    argv = ["report", PLAN, "--data", str(data), "--as-of", "2026-11-01", "--period", "2026-10"]
    code, out, err = run(capsys, *argv, "--fx", "USD/EUR=0.92", "--no-charts", "--output", str(target))
    assert code == 1  # the example data's deal D1 has no one to credit in the reward plan
    assert out == f"report: {target} (9 sections; failed: rewards)\n"
    assert err.startswith("smarketing report: section 'rewards' failed on the data: deal D1: credit")
    expected = sm.report(
        sm.load_plan(PLAN),
        sm.Dataset.read(data),
        as_of=datetime(
            2026, 11, 1, tzinfo=ZoneInfo("Europe/Berlin")
        ),  # a date is midnight in the plan's zone
        period="2026-10",
        fx=FX,
        charts=False,
    )
    assert target.read_bytes() == expected.html().encode("utf-8")


def test_as_of_defaults_to_the_latest_time_in_the_data(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    target = tmp_path / "r.html"
    run(capsys, "report", PLAN, "--data", str(data), "--no-charts", "-o", str(target))
    assert "As of</dt><dd>2026-10-20 11:00 CEST" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", PLAN, "--seed", "1"], "the following arguments are required: --output/-o"),
        (["report", "no/such/plan.yaml", "--seed", "1", "-o", "x.html"], "no/such/plan.yaml"),
        (["report", PLAN, "--seed", "1", "--period", "2026-13", "-o", "x.html"], "--period"),
        (["report", PLAN, "--seed", "1", "--as-of", "yesterday", "-o", "x.html"], "--as-of"),
        (["report", PLAN, "--data", "no/such/folder", "-o", "x.html"], "no/such/folder: no such folder"),
        (["report", PLAN, "--seed", "1", "--fx", "USD/EUR=-1", "-o", "x.html"], "--fx"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    code, out, err = run(
        capsys, "report", PLAN, "--seed", "1", "--leads", "50", "--no-charts", "-o", str(target)
    )
    assert code == 1
    assert out == ""
    assert err == f"smarketing report: {target}: cannot write: No such file or directory\n"
    assert not target.parent.exists()


def test_without_matplotlib_the_command_names_the_extra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails as if not installed
    target = tmp_path / "r.html"
    code, _, err = run(capsys, "report", PLAN, "--seed", "1", "--leads", "50", "-o", str(target))
    assert code == 2
    assert "pip install 'smarketing[plot]'" in err
    assert "--no-charts" in err
    assert not target.exists()
    code, _, _ = run(capsys, "report", PLAN, "--seed", "1", "--leads", "50", "--no-charts", "-o", str(target))
    assert code == 0
    assert target.exists()


# -- the demo's last line ------------------------------------------------------------------------------------


def test_the_demo_ends_by_writing_the_report_and_saying_where(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "demo.html"
    code, out, _ = run(capsys, "demo", "--leads", "300", "--report", str(target))
    assert code == 0
    assert out.endswith(f"\n\nThe alignment report is in {target}\n")
    # every line within the width but the last: a path is never cut, however long the folder's name
    assert max(len(line) for line in out.splitlines()[:-1]) <= _demo.WIDTH
    page = target.read_text(encoding="utf-8")
    assert "Fernbrook Analytics FY2027" in page
    assert '<figure class="chart"' in page


def test_the_demo_writes_to_the_build_folder_by_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_demo, "DEMO_REPORT", Path("build") / "smarketing-report.html")
    code, out, _ = run(capsys, "demo", "--plan", PLAN, "--leads", "100")
    assert code == 0
    assert out.endswith("\nThe alignment report is in build/smarketing-report.html\n")
    assert (tmp_path / "build" / "smarketing-report.html").is_file()  # the folder made in a fresh checkout


def test_the_demo_without_matplotlib_writes_the_report_without_charts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _demo.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "matplotlib" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_demo.importlib.util, "find_spec", find_spec)
    target = tmp_path / "demo.html"
    code, out, _ = run(capsys, "demo", "--leads", "100", "--report", str(target))
    assert code == 0
    assert out.endswith(f"\nThe alignment report is in {target} (no charts without the 'plot' extra)\n")
    assert '<figure class="chart"' in target.read_text(encoding="utf-8")  # the journey map needs no extra
    assert target.read_text(encoding="utf-8").count('<figure class="chart"') == 1
