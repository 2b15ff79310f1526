"""Frames of another engine (DuckDB): read into polars at the boundary, or kept on the engine by a kernel.

``as_lazy`` reads a DuckDB relation into polars (only the columns read) unless the caller asks to keep it on
its engine (``engine=True``, the scorecard's kernel): then it is checked there, by the same rules and
messages, its times keep the connection's zone (DuckDB converts to no other), and
:func:`smarketing.frames.collect` reads a result into polars with its times in UTC. The answers of every
analysis on every engine are compared in ``test_matrix.py``; this file checks the boundary itself and that
the scorecard's queries really run in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import narwhals as nw
import polars as pl
import pytest

from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.frames import as_lazy, collect
from smarketing.kpi import _kernel as kpi_kernel
from smarketing.kpi import scorecard
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan

duckdb = pytest.importorskip("duckdb")

T = datetime(2026, 10, 1, 9, tzinfo=UTC)


@pytest.fixture
def con() -> Iterator[Any]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Kolkata'")
    yield con
    con.close()


def _events(con: Any, time: str = "TIMESTAMPTZ '2026-10-01 09:00:00+00'") -> Any:
    return con.sql(f"SELECT 'L1' AS lead_id, 'mql' AS \"to\", {time} AS time, 'x' AS unread")


def test_by_default_a_relation_is_read_into_polars_with_only_the_columns_read(con: Any) -> None:
    lf = as_lazy(_events(con), "stage_events", reads=["lead_id", "to", "time"])
    assert lf.implementation is nw.Implementation.POLARS
    assert lf.collect().to_native().rows() == [("L1", "mql", T)]


def test_kept_on_its_engine_a_relation_keeps_its_zone_until_collected(con: Any) -> None:
    lf = as_lazy(_events(con), "stage_events", engine=True)
    assert lf.implementation is nw.Implementation.DUCKDB
    assert lf.collect_schema()["time"] == nw.Datetime("us", "Asia/Kolkata")
    got = collect(lf.filter(nw.col("time") <= T))
    assert got.schema["time"] == pl.Datetime("us", "UTC")
    assert got.select("lead_id", "to", "time").rows() == [("L1", "mql", T)]


@pytest.mark.parametrize("engine", [False, True])
@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("TIMESTAMPTZ '1850-01-01 00:00:00+00'", "is outside the years 1900 to 2199"),
        ("TIMESTAMP '2026-10-01 09:00:00'", "naive datetimes are ambiguous"),
    ],
)
def test_the_same_rules_refuse_the_same_times_on_either_side(
    con: Any, engine: bool, time: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        as_lazy(_events(con, time), "stage_events", engine=engine)


def test_a_duplicate_id_is_refused_on_the_engine(con: Any) -> None:
    leads = con.sql("SELECT * FROM (VALUES ('L1'), ('L1')) AS t(id)")
    with pytest.raises(DataError, match="the id appears more than once"):
        as_lazy(leads, "leads", engine=True)


def test_the_scorecard_reads_only_its_aggregates_out_of_duckdb(
    example_plan: AlignmentPlan, con: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = synthetic(example_plan, seed=3, n_leads=200)
    frames = {kind: con.from_arrow(frame.to_arrow()) for kind, frame in data.frames().items()}
    read: list[tuple[nw.Implementation, int]] = []

    def spy(frame: nw.LazyFrame[Any]) -> pl.DataFrame:
        result = collect(frame)
        read.append((frame.implementation, len(result)))
        return result

    monkeypatch.setattr(kpi_kernel, "collect", spy)
    fx = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9")])
    got = scorecard(example_plan, frames, period="2026-10", as_of=T.replace(month=11), fx=fx, by="team")
    want = scorecard(example_plan, data, period="2026-10", as_of=T.replace(month=11), fx=fx, by="team")
    assert got.to_dict() == want.to_dict()
    on_duckdb = [rows for implementation, rows in read if implementation is nw.Implementation.DUCKDB]
    assert on_duckdb, "the counts and sums ran in DuckDB"
    # The largest read is the lead -> group table of by="team" (joined to the SLA's polars frame); the
    # events, touches and activities (several rows per lead) never come out whole.
    assert max(on_duckdb) <= len(data.leads) < len(data.stage_events)
