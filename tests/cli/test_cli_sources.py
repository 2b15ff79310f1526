"""``--source NAME[:PATH]``, ``smarketing import`` and ``smarketing sources``: data through a connector."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smarketing import _plugins, cli
from smarketing.connectors import registry
from smarketing.records import Dataset

ROOT = Path(__file__).resolve().parents[2]
PLAN = str(ROOT / "examples" / "plan.yaml")
CRM = str(ROOT / "examples" / "crm")
SOURCE = f"files:{CRM}"
#: The options examples/crm needs: its times have no offset, its amounts thousands separators.
OPTIONS = ["--option", "time_zone=Europe/Berlin", "--option", "thousands=,"]
#: A raw control character that must never reach the terminal.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NEEDS = {
    "funnel": [],
    "kpis": ["--period", "2026-10", "--fx", "USD/EUR=0.92"],
    "sla": [],
    "rewards": ["--period", "2026-10", "--fx", "USD/EUR=0.92"],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert not RAW_CONTROL.search(out + err), "a raw control character reached the terminal"
    return code, out, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a lenient load writes load-report.json here


@pytest.mark.parametrize("command", sorted(NEEDS))
def test_every_analysis_reads_a_source(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = run(capsys, command, PLAN, *NEEDS[command], "--source", SOURCE, *OPTIONS)
    assert code == 0, err
    assert out
    assert not Path("load-report.json").exists()  # strict: nothing refused, no report written


@pytest.mark.parametrize("command", sorted(NEEDS))
def test_source_gives_the_same_answer_as_its_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    assert run(capsys, "import", SOURCE, *OPTIONS, "-o", str(tmp_path / "ds"))[0] == 0
    from_source = run(
        capsys, command, PLAN, *NEEDS[command], "--source", SOURCE, *OPTIONS, "--format", "json"
    )
    from_import = run(
        capsys, command, PLAN, *NEEDS[command], "--data", str(tmp_path / "ds"), "--format", "json"
    )
    assert from_source == from_import


def test_strict_load_names_the_first_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sla", PLAN, "--source", SOURCE, "--option", "time_zone=Europe/Berlin")
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("smarketing sla: files: ")
    assert "row(s) refused:" in lines[0]
    assert lines[1].startswith("  deals.csv:2: deal ")
    assert "thousands" in lines[1]
    assert "--lenient" in lines[-1]


def test_lenient_load_reports_the_count_and_the_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "funnel", PLAN, "--source", SOURCE, "--option", "time_zone=Europe/Berlin", "--lenient"
    )
    assert code == 0
    assert "FunnelReport" in out
    assert err.startswith("smarketing funnel: files: kept ")
    assert "refusal(s); the load report: load-report.json" in err
    report = json.loads((tmp_path / "load-report.json").read_text())
    assert report["refused"] == len(report["refusals"]) > 0
    assert report["refusals"][0]["source"] == "deals.csv"
    elsewhere = tmp_path / "reports" / "x.json"
    elsewhere.parent.mkdir()
    run(
        capsys,
        "funnel",
        PLAN,
        "--source",
        SOURCE,
        "--option",
        "time_zone=UTC",
        "--lenient",
        "--load-report",
        str(elsewhere),
    )
    assert json.loads(elsewhere.read_text())["connector"] == "files"


def test_import_writes_dataset_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "crm-data"
    code, out, err = run(capsys, "import", SOURCE, *OPTIONS, "-o", str(out_dir))
    assert code == 0, err
    assert out.startswith("files: read ")
    assert f"wrote {out_dir}" in out
    data = Dataset.read(out_dir)
    manifest = Dataset.manifest(out_dir)
    assert manifest["counts"]["leads"] == data.leads.height > 0
    assert manifest["load_report"]["connector"] == "files"
    assert json.loads((out_dir / "load-report.json").read_text()) == manifest["load_report"]
    first = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    assert run(capsys, "import", SOURCE, *OPTIONS, "-o", str(out_dir))[0] == 0  # again: same bytes
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == first


def test_import_lenient_keeps_the_good_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, "import", SOURCE, "--option", "time_zone=UTC", "--lenient", "-o", str(tmp_path / "d")
    )
    assert code == 0
    assert "refused:" in out
    assert Dataset.manifest(tmp_path / "d")["load_report"]["refused"] > 0


def test_import_refuses_a_folder_of_other_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "import", SOURCE, *OPTIONS, "-o", str(tmp_path))
    assert code == 2
    assert "is not empty and holds no smarketing dataset" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_data_reads_an_imported_folder_checking_its_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "import", SOURCE, *OPTIONS, "-o", str(tmp_path / "ds"))
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    manifest["counts"]["leads"] += 1
    (tmp_path / "ds" / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "kpis", PLAN, "--period", "2026-10", "--data", str(tmp_path / "ds"))
    assert code == 2
    assert "leads.parquet: has 40 rows but manifest.json says 41" in err


def test_csv_given_as_data_says_how_to_import_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sla", PLAN, "--data", f"{CRM}/leads.csv")
    assert code == 2
    assert "not a folder of <kind>.parquet files" in err
    assert "smarketing import files:" in err


def test_sources_lists_connectors_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sources")  # a built-in that cannot load is a warning on stderr
    assert code == 0
    assert out.startswith("files (smarketing): Read CSV")
    assert "  time_zone (str | None; default None)\n      The IANA zone" in out
    code, out, _ = run(capsys, "sources", "--format", "json")
    listed = {c["name"]: c for c in json.loads(out)}
    assert listed["files"]["options"][0]["name"] == "path"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--source", "files"], "files: give path= (a folder or a file) or paths="),
        (["--source", "hubspot-export"], "hubspot-export reads files: write hubspot-export:PATH"),
        (["--source", "hubspot:./x"], "hubspot takes no path; write --source hubspot and give its options"),
        (["--source", ":x"], "write NAME or NAME:PATH"),
        (["--source", "files:"], "write NAME or NAME:PATH"),
        (["--source", SOURCE, "--data", CRM], "argument --data: not allowed with argument --source"),
        (
            ["--source", SOURCE, "--option", "time zone=UTC"],
            "argument --option: 'time zone=UTC': write KEY=VALUE",
        ),
        (["--source", "file:x"], "unknown connector 'file'; did you mean 'files'?"),
        (["--source", SOURCE, "--option", "tz=UTC"], "files: unknown option 'tz'; its options: path, paths"),
        (["--source", SOURCE, "--option", "timezone=UTC"], "did you mean 'time_zone'?"),
        (["--source", SOURCE, "--option", "path=elsewhere"], "--option path: NAME:PATH gives the path"),
        (["--source", SOURCE, "--option", "columns={oops"], "--option columns: not JSON"),
        (["--source", SOURCE, "--option", "time_zone=Mars/Base"], "Mars/Base"),
        (["--source", "files:/no/such/folder", "--option", "time_zone=UTC"], "/no/such/folder"),
        (["--option", "time_zone=UTC"], "--option: only with --source NAME[:PATH]"),
        (["--source", "fi\x1bles:x"], "the connector name must be printable text"),
        (["--source", SOURCE, "--option", "time_zone=\x1b[2J"], "\\x1b[2J"),
        (
            ["--data", CRM, "--lenient", "--load-report", "r.json"],
            "--lenient, --load-report: only with --source",
        ),
    ],
)
def test_source_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "funnel", PLAN, *argv)
    assert code == 2
    assert out == ""
    assert message in err.splitlines()[-1]  # the error on one line (after argparse's usage, if any)


def test_option_values_typed_by_the_connector(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # JSON for a map: the header map renames nothing here but must be accepted as a mapping.
    code, _, err = run(
        capsys, "import", SOURCE, *OPTIONS, "--option", 'columns={"Unused": "id"}', "-o", str(tmp_path / "d")
    )
    assert code == 0, err


WORKBOOK = ROOT / "tests" / "plugins" / "spreadsheet_crm" / "src" / "spreadsheet_crm" / "workbook"
OWNERS = json.dumps(
    {
        "Lea Fischer": "lea.fischer",
        "Omar Haddad": "omar.haddad",
        "Sara Lind": "sara.lind",
        "Ben Okafor": "ben.okafor",
        "Nina Brandt": "nina.brandt",
        "Felix Roth": "felix.roth",
    }
)


def test_a_plugin_connector_through_its_entry_point(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = f"spreadsheet-crm:{WORKBOOK}"
    options = ["--option", "time_zone=Europe/Berlin", "--option", f"owners={OWNERS}"]
    code, out, err = run(capsys, "import", source, *options, "-o", str(tmp_path / "ds"))
    assert code == 0, err
    assert out.startswith("spreadsheet-crm: read 35 rows, kept 35, refused 0")
    code, out, err = run(
        capsys, "funnel", PLAN, "--source", source, *options, "--mode", "any", "--format", "json"
    )
    assert code == 0, err
    reached = {row["stage"]: row["reached"] for row in json.loads(out)["rows"]}
    assert reached["lead"] == 6
    assert reached["customer"] == 1
    code, out, _ = run(capsys, "sources")
    assert "spreadsheet-crm (smarketing-spreadsheet-crm): Read a spreadsheet CRM workbook" in out
    assert "  time_zone (str; required)" in out


def test_a_broken_plugin_is_a_warning_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Point:
        name, value, group, dist = "acme", "acme_crm:Connector", "smarketing.connectors", None

        def load(self) -> object:
            raise ImportError("No module named 'acme_sdk'")

    monkeypatch.setattr(
        _plugins, "entry_points", lambda group: (Point(),) if group == "smarketing.connectors" else ()
    )
    registry._installed.cache_clear()
    try:
        code, out, err = run(capsys, "sources")
        assert code == 0
        assert "smarketing sources: warning: smarketing.connectors: acme: failed to load" in err
        assert out.startswith("files (smarketing)")
        code, _, err = run(capsys, "funnel", PLAN, "--source", "acme:x")
        assert code == 2
        assert "acme: failed to load (acme_crm:Connector): ImportError: No module named 'acme_sdk'" in err
    finally:
        registry._installed.cache_clear()


def test_a_connector_that_crashes_while_loading_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crashes:
        """Crash on load."""

        name = "crashes"

        def __init__(self, *, path: str) -> None:
            self.path = path

        def load(self, *, strict: bool = True, progress: bool | None = None) -> object:
            raise SystemExit(3)

    class Wrong(Crashes):
        name = "wrong"

        def load(self, *, strict: bool = True, progress: bool | None = None) -> object:
            return {"leads": []}

    class Point:
        group, dist = "smarketing.connectors", None

        def __init__(self, name: str, cls: type) -> None:
            self.name, self.value, self.cls = name, f"acme:{cls.__name__}", cls

        def load(self) -> object:
            return self.cls

    points = (Point("crashes", Crashes), Point("wrong", Wrong))
    monkeypatch.setattr(
        _plugins, "entry_points", lambda group: points if group == "smarketing.connectors" else ()
    )
    registry._installed.cache_clear()
    try:
        code, _, err = run(capsys, "funnel", PLAN, "--source", "crashes:x")
        assert code == 2
        assert "smarketing funnel: smarketing.connectors: crashes: load: SystemExit: 3" in err
        code, _, err = run(capsys, "funnel", PLAN, "--source", "wrong:x")
        assert code == 2
        assert "wrong: load() must return Loaded(dataset, report), not dict" in err
    finally:
        registry._installed.cache_clear()
