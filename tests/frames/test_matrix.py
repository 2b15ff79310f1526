"""Every dataframe, the same answer: each public analysis x each kind of input, compared exactly.

One small synthetic dataset of ``examples/plan.yaml`` is given to every analysis as a ``Dataset`` (the
reference), as a mapping of polars frames by record kind, and as the frames of each library narwhals
supports: polars (eager and lazy), pandas (NumPy-backed and Arrow-backed), pyarrow, and DuckDB relations on
a connection whose time zone is not UTC. Where an analysis takes one record kind (``funnel``'s events,
``compute_rewards``' deals) it gets that library's frame itself; where it takes several (``evaluate_sla``,
``scorecard``, ``attribute``) a mapping of them. ``to_dict()`` and ``to_frame()`` must be equal, dtypes
included; ``discover``'s graph node by node and edge by edge. The boundary check itself
(:func:`~smarketing.frames.as_lazy`, which applies :func:`smarketing.records.schema.check`) must give each
record kind's frame exactly as the ``Dataset`` holds it.

``check`` with data runs the data rules on the whole mapping (its row compares the reports, data
findings included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import networkx as nx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from smarketing.attribution import attribute
from smarketing.datasets import synthetic
from smarketing.frames import as_lazy
from smarketing.journey import conformance, discover, funnel
from smarketing.kpi import scorecard
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.rewards import compute_rewards
from smarketing.rules import check
from smarketing.sla import evaluate_sla

duckdb = pytest.importorskip("duckdb")
pd = pytest.importorskip("pandas")

AS_OF = datetime(2026, 10, 31, 23, tzinfo=UTC)
FX = FxTable([("USD", "EUR", date(2025, 1, 1), "0.9"), ("USD", "EUR", date(2026, 7, 1), "0.85")])

#: How each library's frame is made from a polars frame of the reference Dataset.
Convert = Callable[[pl.DataFrame], Any]


@pytest.fixture(scope="module")
def connection() -> Iterator[Any]:
    """A DuckDB connection in a zone that is not UTC: relations report their times in it."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    yield con
    con.close()


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=15, n_leads=300)


def _converters(connection: Any) -> dict[str, Convert]:
    return {
        "polars": lambda f: f,
        "polars-lazy": lambda f: f.lazy(),
        "pandas": lambda f: f.to_pandas(),
        "pandas-arrow": lambda f: f.to_pandas(use_pyarrow_extension_array=True),
        "pyarrow": lambda f: f.to_arrow(),
        "duckdb": lambda f: connection.from_arrow(f.to_arrow()),
    }


INPUTS = ["Dataset", "mapping", "polars", "polars-lazy", "pandas", "pandas-arrow", "pyarrow", "duckdb"]


class Given:
    """One kind of input: ``one(kind)`` for a parameter of one record kind, ``many()`` for a whole dataset."""

    def __init__(self, data: Dataset, input_kind: str, converters: dict[str, Convert]) -> None:
        self.data = data
        self.input_kind = input_kind
        library = "polars" if input_kind in ("Dataset", "mapping") else input_kind
        convert = converters[library]
        self.frames = {kind: convert(frame) for kind, frame in data.frames().items()}

    def one(self, kind: str) -> Any:
        if self.input_kind == "Dataset":
            return self.data
        if self.input_kind == "mapping":
            return self.frames  # an analysis of one kind picks it from the mapping
        return self.frames[kind]

    def many(self) -> Any:
        return self.data if self.input_kind == "Dataset" else self.frames


def _graph(graph: nx.DiGraph[str]) -> tuple[object, ...]:
    return (
        dict(graph.graph),
        sorted(graph.nodes(data=True)),
        sorted((a, b, sorted(d.items())) for a, b, d in graph.edges(data=True)),
    )


def _funnel(plan: AlignmentPlan, given: Given) -> Any:
    return funnel(plan.journey, given.one("stage_events"), leads=given.one("leads"), by="region", as_of=AS_OF)


def _conformance(plan: AlignmentPlan, given: Given) -> Any:
    return conformance(plan.journey, given.one("stage_events"))


def _discover(plan: AlignmentPlan, given: Given) -> Any:
    return _graph(discover(given.one("stage_events")))


def _sla(plan: AlignmentPlan, given: Given) -> Any:
    return evaluate_sla(plan, given.many(), as_of=AS_OF)


def _scorecard(plan: AlignmentPlan, given: Given) -> Any:
    return scorecard(plan, given.many(), period="2026-10", as_of=AS_OF, fx=FX, by="team")


def _attribute(plan: AlignmentPlan, given: Given) -> Any:
    return attribute(given.many(), model="position", per_touch=True, fx=FX, currency="EUR")


def _rewards(plan: AlignmentPlan, given: Given) -> Any:
    return compute_rewards(
        given.one("deals"),
        plan,
        touchpoints=given.one("touchpoints"),
        stage_events=given.one("stage_events"),
        fx=FX,
        period="2026-10",
        as_of=date(2026, 10, 31),
    )


def _check(plan: AlignmentPlan, given: Given) -> Any:
    # No rates: the USD deals are findings too (D006), beside the histories off the journey (D002).
    return check(plan, data=given.many())


ANALYSES: dict[str, Callable[[AlignmentPlan, Given], Any]] = {
    "funnel": _funnel,
    "conformance": _conformance,
    "discover": _discover,
    "evaluate_sla": _sla,
    "scorecard": _scorecard,
    "attribute": _attribute,
    "compute_rewards": _rewards,
    "check": _check,
}


@pytest.fixture(scope="module")
def inputs(data: Dataset, connection: Any) -> dict[str, Given]:
    converters = _converters(connection)
    return {name: Given(data, name, converters) for name in INPUTS}


@pytest.fixture(scope="module")
def reference(example_plan: AlignmentPlan, inputs: dict[str, Given]) -> dict[str, Any]:
    return {name: run(example_plan, inputs["Dataset"]) for name, run in ANALYSES.items()}


def test_the_reference_results_are_not_empty(reference: dict[str, Any]) -> None:
    # An empty result would make every comparison below pass without proving anything.
    assert reference["funnel"].to_frame().get_column("reached").sum() > 0
    assert reference["conformance"].to_dict()["leads"] > 0
    assert len(reference["discover"][2]) > 0
    assert len(reference["evaluate_sla"].to_frame()) > 0
    assert reference["scorecard"].to_frame().get_column("value").drop_nulls().len() > 0
    assert reference["attribute"].to_frame().get_column("conversions").sum() > 0
    assert reference["attribute"].to_frame().get_column("value_EUR").sum() > 0
    assert len(reference["attribute"].touches) > 0
    assert reference["compute_rewards"].to_frame().get_column("deal").n_unique() > 1
    assert {d.code for d in reference["check"].diagnostics} >= {"D002", "D006"}


@pytest.mark.parametrize("input_kind", INPUTS[1:])
@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_every_input_gives_the_same_answer(
    example_plan: AlignmentPlan,
    inputs: dict[str, Given],
    reference: dict[str, Any],
    analysis: str,
    input_kind: str,
) -> None:
    got = ANALYSES[analysis](example_plan, inputs[input_kind])
    want = reference[analysis]
    if analysis == "discover":
        assert got == want
        return
    assert got.to_dict() == want.to_dict()
    assert_frame_equal(got.to_frame(), want.to_frame(), check_exact=True)


@pytest.mark.parametrize("input_kind", INPUTS[1:])
def test_the_boundary_check_gives_the_dataset_frames(
    data: Dataset, inputs: dict[str, Given], input_kind: str
) -> None:
    # "check with data": as_lazy applies records.schema.check; every library comes out as the Dataset's frame.
    for kind in RECORD_KINDS:
        got = as_lazy(inputs[input_kind].one(kind), kind).collect().to_native()
        assert_frame_equal(got, getattr(data, kind), check_exact=True)


@pytest.mark.parametrize("input_kind", INPUTS[2:])
def test_a_dataset_built_from_any_library_equals_the_reference(
    data: Dataset, inputs: dict[str, Given], input_kind: str
) -> None:
    rebuilt = Dataset(**inputs[input_kind].frames)
    for kind in RECORD_KINDS:
        assert_frame_equal(getattr(rebuilt, kind), getattr(data, kind), check_exact=True)
