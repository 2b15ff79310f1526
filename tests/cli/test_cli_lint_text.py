"""`smarketing lint-text`: findings in three formats, exit codes, and files that are not text."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import sarif_om

import smarketing as sm
from smarketing import cli
from smarketing.cli import _lint_text
from smarketing.glossary import lint_text

# The SARIF object-model helpers of the check command's tests (tests run in importlib mode).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_cli_check import _build, _dump

PLAN = "examples/plan.yaml"
EMAIL = "examples/copy/launch-email.md"
SCRIPT = "examples/copy/call-script.html"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_findings_exit_1_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "lint-text", "--plan", PLAN, EMAIL, SCRIPT)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == (
        "examples/copy/launch-email.md:8:7: deprecated: 'hot leads' is a discouraged synonym "
        "(the glossary lists 'hot lead'); write 'Marketing Qualified Lead'"
    )
    assert lines[1].startswith("examples/copy/launch-email.md:10:27: deprecated: 'warm\\n> leads'")
    assert lines[4].startswith("examples/copy/call-script.html:10:43: deprecated: 'junk&nbsp;lead'")
    assert lines[-1] == "5 findings (0 forbidden) in 2 of 2 files"


def test_a_clean_file_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clean = tmp_path / "ok.txt"
    clean.write_text("Every Marketing Qualified Lead goes to an SDR.\n", encoding="utf-8")
    code, out, err = run(capsys, "lint-text", "--plan", PLAN, str(clean))
    assert (code, out, err) == (0, "OK: no discouraged or forbidden words in 1 file\n", "")


def test_json_is_the_library_result(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, EMAIL, SCRIPT, "--format", "json")
    assert code == 1
    data = json.loads(out)
    glossary = sm.load_plan(PLAN).glossary
    expected = [
        lint_text(glossary, Path(p).read_text(encoding="utf-8"), path=p).to_dict() for p in (EMAIL, SCRIPT)
    ]
    assert data == {"format_version": 1, "files": expected}


def test_sarif_conforms_to_the_sarif_2_1_0_object_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, EMAIL, SCRIPT, "--format", "sarif")
    assert code == 1
    log = _build(sarif_om.SarifLog, json.loads(out))
    assert log.version == "2.1.0"
    assert _build(sarif_om.SarifLog, _dump(log)) == log
    (run_,) = log.runs
    assert run_.column_kind == "unicodeCodePoints"
    rules = run_.tool.driver.rules
    assert len(run_.results) == 5
    for result in run_.results:
        assert rules[result.rule_index].id == result.rule_id == "deprecated-term"
        (location,) = result.locations
        assert location.physical_location.artifact_location.uri in (EMAIL, SCRIPT)
        assert location.physical_location.region.start_column >= 1


def test_kind_and_allow_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("<p>a client</p><script>hot lead</script>", encoding="utf-8")
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, str(page))
    assert code == 1
    assert "2 findings" in out.splitlines()[-1]
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, str(page), "--kind", "html")
    assert "1 finding (0 forbidden)" in out.splitlines()[-1]
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, str(page), "--allow", "clients, hot lead")
    assert code == 0


def test_line_endings_and_a_byte_order_mark_do_not_move_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outputs = []
    for data in (b"one\nclient\n", b"one\r\nclient\r\n", b"one\rclient\r", b"\xef\xbb\xbfone\nclient\n"):
        (tmp_path / "a.txt").write_bytes(data)
        outputs.append(
            run(capsys, "lint-text", "--plan", PLAN, str(tmp_path / "a.txt"), "--format", "json")[1]
        )
    assert len(set(outputs)) == 1
    (finding,) = json.loads(outputs[0])["files"][0]["findings"]
    assert (finding["line"], finding["column"]) == (2, 1)


# --------------------------------------------------------------------------------------------------
# Bad input: exit 2 and one line naming the file.


def _bad(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, "lint-text", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


def test_files_that_are_not_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"hot lead\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 client".encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes("client".encode("utf-16"))
    (tmp_path / "folder").mkdir()
    assert _bad(capsys, "--plan", PLAN, str(tmp_path / "bin.txt")) == (
        f"smarketing lint-text: {tmp_path / 'bin.txt'}: is not a text file (a NUL byte at byte 8)"
    )
    assert _bad(capsys, "--plan", PLAN, str(tmp_path / "latin1.txt")) == (
        f"smarketing lint-text: {tmp_path / 'latin1.txt'}: is not UTF-8 text (byte 0xe9 at byte 3)"
    )
    assert _bad(capsys, "--plan", PLAN, str(tmp_path / "utf16.txt")).endswith(
        "is UTF-16 text; save it as UTF-8"
    )
    assert _bad(capsys, "--plan", PLAN, str(tmp_path / "folder")).endswith(
        "folder: is a folder, not a text file"
    )
    assert _bad(capsys, "--plan", PLAN, EMAIL, str(tmp_path / "nope.md")).endswith("nope.md: no such file")


def test_a_fifo_is_refused_without_blocking(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert _bad(capsys, "--plan", PLAN, str(fifo)).endswith(
        "pipe.txt: is a FIFO (named pipe), not a text file"
    )


def test_a_file_over_the_limit_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_lint_text, "MAX_TEXT_BYTES", 100)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 101)
    assert _bad(capsys, "--plan", PLAN, str(big)).endswith(
        "big.txt: has 101 bytes; lint-text reads at most 100"
    )


def test_plan_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert _bad(capsys, "--plan", "no/such/plan.yaml", EMAIL) == "no/such/plan.yaml: no such plan file"
    code, _, err = run(capsys, "lint-text", EMAIL)
    assert code == 2
    assert "--plan" in err
    code, _, err = run(capsys, "lint-text", "--plan", PLAN)
    assert code == 2
    assert "FILE" in err


def test_a_huge_line_and_a_control_character(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_text("hot " * 500_000 + "lead \x1b[2J client", encoding="utf-8")
    code, out, _ = run(capsys, "lint-text", "--plan", PLAN, str(huge))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{huge}:1:1999997: deprecated: 'hot lead'")
    assert "\x1b" not in out
