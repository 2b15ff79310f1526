"""``Dataset.write`` and ``Dataset.read``: a parquet folder and a manifest, the same bytes each time."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.plan import load_plan
from smarketing.records import RECORD_KINDS, Dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data() -> Dataset:
    return synthetic(load_plan(ROOT / "examples" / "plan.yaml"), seed=3, n_leads=80)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_round_trip_keeps_every_frame(data: Dataset, tmp_path: Path) -> None:
    data.write(tmp_path / "ds")
    back = Dataset.read(tmp_path / "ds")
    for kind in RECORD_KINDS:
        assert getattr(back, kind).schema == getattr(data, kind).schema, kind
        assert getattr(back, kind).equals(getattr(data, kind)), kind


def test_layout_and_manifest(data: Dataset, tmp_path: Path) -> None:
    data.write(tmp_path, report={"connector": "files", "rows_read": {"leads": 80}})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["manifest.json", *(f"{k}.parquet" for k in RECORD_KINDS)]
    )
    manifest = Dataset.manifest(tmp_path)
    assert manifest["format"] == "smarketing-dataset"
    assert manifest["format_version"] == 1
    assert manifest["counts"] == {k: getattr(data, k).height for k in RECORD_KINDS}
    assert manifest["load_report"]["connector"] == "files"
    text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_same_dataset_same_bytes(data: Dataset, tmp_path: Path) -> None:
    data.write(tmp_path / "a", report={"b": 1, "a": [2]})
    data.write(tmp_path / "b", report={"a": [2], "b": 1})
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_report_object_with_to_dict(data: Dataset, tmp_path: Path) -> None:
    class Report:
        def to_dict(self) -> dict[str, object]:
            return {"connector": "x"}

    data.write(tmp_path, report=Report())
    assert Dataset.manifest(tmp_path)["load_report"] == {"connector": "x"}
    with pytest.raises(TypeError, match="report must be a mapping"):
        data.write(tmp_path, report=42)


def test_rewriting_a_dataset_replaces_it(data: Dataset, tmp_path: Path) -> None:
    data.write(tmp_path)
    Dataset().write(tmp_path)
    assert Dataset.read(tmp_path).leads.height == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_write_refuses_a_folder_of_other_files(data: Dataset, tmp_path: Path) -> None:
    (tmp_path / "thesis.docx").write_text("years of work")
    with pytest.raises(DataError, match=r"not empty and holds no smarketing dataset.*thesis\.docx"):
        data.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.docx"]


def test_write_refuses_a_foreign_manifest(data: Dataset, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"name": "my web app"}')
    with pytest.raises(DataError, match="not the manifest of a smarketing dataset"):
        data.write(tmp_path)
    assert (tmp_path / "manifest.json").read_text() == '{"name": "my web app"}'


def test_write_refuses_a_file(data: Dataset, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        data.write(tmp_path / "out")


@pytest.fixture
def written(data: Dataset, tmp_path: Path) -> Path:
    data.write(tmp_path / "ds")
    return tmp_path / "ds"


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: (f / "manifest.json").unlink(), "no manifest.json, so not a smarketing dataset"),
        (lambda f: (f / "manifest.json").write_text("{oops"), r"manifest.json:1: column 2: not JSON"),
        (lambda f: (f / "manifest.json").write_bytes(b"\xff\xfe"), "is not UTF-8"),
        (lambda f: _edit_manifest(f, format="other"), "not the manifest of a smarketing dataset"),
        (lambda f: _edit_manifest(f, format_version=99), "format version 99 .* upgrade smarketing"),
        (lambda f: _edit_manifest(f, format_version="1"), "format_version must be a whole number"),
        (lambda f: _edit_manifest(f, counts={"contacts": 3}), "unknown record kind 'contacts'"),
        (lambda f: _edit_manifest(f, counts={"leads": -1}), "leads: must be a whole number from 0"),
        (lambda f: (f / "deals.parquet").unlink(), r"deals.parquet: no such file, but manifest.json lists"),
        (lambda f: _edit_manifest(f, counts={"leads": 1}), r"accounts.parquet: manifest.json does not list"),
        (
            lambda f: pl.read_parquet(f / "leads.parquet").head(3).write_parquet(f / "leads.parquet"),
            r"leads.parquet: has 3 rows but manifest.json says 80",
        ),
        (
            lambda f: (f / "deals.parquet").write_text("id,amount\nD1,5\n"),
            r"deals.parquet: is not a parquet file \(it looks like text, such as CSV\).*"
            "smarketing import files:",
        ),
        (
            lambda f: (f / "deals.parquet").write_bytes((f / "deals.parquet").read_bytes()[:-9]),
            "not a complete parquet file",
        ),
    ],
    ids=[
        "no-manifest",
        "bad-json",
        "not-utf8",
        "foreign-format",
        "newer-version",
        "version-text",
        "unknown-kind",
        "negative-count",
        "missing-file",
        "unlisted-file",
        "count-mismatch",
        "csv",
        "truncated",
    ],
)
def test_read_names_what_is_wrong(written: Path, spoil: object, message: str) -> None:
    spoil(written)  # type: ignore[operator]
    with pytest.raises(DataError, match=message):
        Dataset.read(written)


def test_read_a_bad_frame_names_the_file(written: Path) -> None:
    deals = pl.read_parquet(written / "deals.parquet")
    deals.with_columns(stage=pl.lit("Closed Won")).write_parquet(written / "deals.parquet")
    with pytest.raises(DataError, match=r"deals.parquet: deal .*: stage: 'Closed Won' is not one of"):
        Dataset.read(written)


def test_read_refuses_what_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such dataset folder"):
        Dataset.read(tmp_path / "nothing")
    (tmp_path / "contacts.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"is a file, not a dataset folder; .*smarketing import files:"):
        Dataset.read(tmp_path / "contacts.csv")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "ds").mkdir()
    os.symlink(tmp_path / "fifo", tmp_path / "ds" / "manifest.json")
    with pytest.raises(DataError, match="is a FIFO"):
        Dataset.read(tmp_path / "ds")


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), leads=st.integers(1, 40))
def test_round_trip_over_seeds_and_sizes(seed: int, leads: int) -> None:
    data = synthetic(load_plan(ROOT / "examples" / "plan.yaml"), seed=seed, n_leads=leads)
    with tempfile.TemporaryDirectory() as folder:
        data.write(Path(folder) / "a")
        data.write(Path(folder) / "b")
        assert _digests(Path(folder) / "a") == _digests(Path(folder) / "b")
        back = Dataset.read(Path(folder) / "a")
    for kind in RECORD_KINDS:
        assert getattr(back, kind).equals(getattr(data, kind)), kind


def test_a_fifo_in_the_way_of_a_temporary_file_is_replaced(data: Dataset, tmp_path: Path) -> None:
    data.write(tmp_path)
    os.mkfifo(tmp_path / ".leads.parquet.tmp")
    data.write(tmp_path)  # does not block
    assert Dataset.read(tmp_path).leads.height == data.leads.height
