"""Scores, agreement and calibration from Parquet files scanned lazily (``pl.scan_parquet`` per kind).

The functions read only the columns they use, and check those as any dataframe is checked; the results are
the same as from the ``Dataset`` of the same folder, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import as_lazy
from smarketing.records import RECORD_KINDS, Dataset

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, example_plan: sm.AlignmentPlan) -> Path:
    path = tmp_path_factory.mktemp("persona-scan") / "data"
    synthetic(example_plan, seed=3, n_leads=3000).write(path)
    return path


def _scans(folder: Path) -> dict[str, pl.LazyFrame]:
    return {kind: pl.scan_parquet(folder / f"{kind}.parquet") for kind in RECORD_KINDS}


def test_scanned_parquet_gives_the_same_results_as_the_dataset(
    folder: Path, example_plan: sm.AlignmentPlan
) -> None:
    dataset, scans = Dataset.read(folder), _scans(folder)
    scores = sm.score(example_plan, dataset, as_of=AS_OF)
    scanned = sm.score(example_plan, scans, as_of=AS_OF)
    assert scores.frame.height == 3000 or scores.counts["leads_after_as_of"] > 0
    assert scores.frame.get_column("mql").sum() > 0  # the fixture exercises the MQL rule
    assert scanned.frame.equals(scores.frame)
    assert scanned.counts == scores.counts
    agreement = sm.agreement(example_plan, dataset, resamples=50)
    assert sm.agreement(example_plan, scans, resamples=50).to_dict() == agreement.to_dict()
    calibration = sm.calibrate(example_plan, dataset, as_of=AS_OF, scores=scores)
    assert sm.calibrate(example_plan, scans, as_of=AS_OF, scores=scanned).to_dict() == calibration.to_dict()
    lead = scores.frame.filter(pl.col("engagement") > 0).get_column("lead_id")[0]
    assert scanned.explain(lead).factors.equals(scores.explain(lead).factors)


def test_a_bad_value_in_a_column_read_is_refused_from_a_scan(
    folder: Path, example_plan: sm.AlignmentPlan, tmp_path: Path
) -> None:
    scans = _scans(folder)
    touches = pl.read_parquet(folder / "touchpoints.parquet")
    touches.with_columns(pl.lit("", pl.String).alias("channel")).write_parquet(
        tmp_path / "touchpoints.parquet"
    )
    bad_channel = {**scans, "touchpoints": pl.scan_parquet(tmp_path / "touchpoints.parquet")}
    with pytest.raises(DataError, match=r"channel: '' must have 1 to"):
        sm.score(example_plan, bad_channel, as_of=AS_OF)
    # An event given twice would count twice in its lead's engagement: the scores check the events' ids
    # even though they do not carry them.
    doubled = pl.concat([touches, touches.filter(pl.col("channel") == "webinar").head(1)])
    doubled.write_parquet(tmp_path / "touchpoints.parquet")
    with pytest.raises(DataError, match=r"id: the id appears more than once"):
        sm.score(
            example_plan,
            {**scans, "touchpoints": pl.scan_parquet(tmp_path / "touchpoints.parquet")},
            as_of=AS_OF,
        )
    events = pl.read_parquet(folder / "stage_events.parquet")
    events.with_columns(pl.lit(None, pl.String).alias("lead_id")).write_parquet(
        tmp_path / "stage_events.parquet"
    )
    with pytest.raises(DataError, match=r"stage_events: lead_id: required value is missing"):
        sm.agreement(
            example_plan, {**scans, "stage_events": pl.scan_parquet(tmp_path / "stage_events.parquet")}
        )


def test_as_lazy_reads_narrows_before_checking() -> None:
    t = datetime(2026, 10, 1, tzinfo=UTC)
    touches = pl.LazyFrame(
        {
            "id": ["T1", "T2"],
            "lead_id": ["L1", "L2"],
            "time": [t, t],
            "channel": ["webinar", "ads"],
            "team": ["x", ""],
        }
    )
    # "team" breaks its rule (an empty id) but is not read, so it is neither checked nor kept.
    narrowed = as_lazy(touches, "touchpoints", required=["lead_id", "time"], reads=["channel", "absent"])
    assert narrowed.collect_schema().names() == ["lead_id", "time", "channel"]
    with pytest.raises(DataError, match="team"):
        as_lazy(touches, "touchpoints", reads=["team"])
    assert as_lazy(touches, "touchpoints", required=["id"], reads=()).collect_schema().names() == ["id"]
    with pytest.raises(DataError, match="missing column"):
        as_lazy(touches, "touchpoints", required=["owner"], reads=())
