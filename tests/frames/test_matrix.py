"""Every dataframe, the same answer: each public analysis x each kind of input, compared exactly.

One small synthetic dataset of ``examples/plan.yaml`` is given to every public analysis that reads record
frames, as a ``Dataset`` (the reference), as a mapping of polars frames by record kind, and as the frames of
each library narwhals supports: polars (eager and lazy), pandas (NumPy-backed and Arrow-backed), pyarrow,
and DuckDB relations on connections in three time zones (UTC, the connection's default, which DuckDB
names after the machine's zone, e.g. ``Etc/UTC``, and New York). Every analysis whose result depends on the
plan's time zone runs under the example plan (Europe/Berlin) and under the same plan in UTC. Where an
analysis takes one record kind (``funnel``'s events, ``compute_rewards``' deals) it gets that library's
frame itself; where it takes several (``evaluate_sla``, ``scorecard``, ``attribute``) a mapping of them;
``attribute`` also takes touches in long form (one frame of that library) and a ``Dataset`` built from
that library's frames. PySpark DataFrames run the same cases on one local session for the whole run (see
``SPARK_CASES``), its session zone set before each, with three shuffle partitions (every map runs on three
partitions of leads, journeys or deals, and their partials are merged) and Arrow batches of three rows.
``to_dict()`` and ``to_frame()`` must be equal, dtypes included; ``discover``'s graph node by node and
edge by edge. The boundary check itself
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
from smarketing.feedback import (
    compare_campaigns,
    customer_feedback,
    dispositions,
    sourced_influenced,
    waterfall,
)
from smarketing.frames import as_lazy
from smarketing.journey import conformance, discover, funnel
from smarketing.kpi import scorecard
from smarketing.money import FxTable
from smarketing.persona import agreement, calibrate, match, score, segment
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


#: DuckDB connections by input name: the zone set on the connection (None: DuckDB's default, the machine's).
ZONES = {"duckdb-utc": "UTC", "duckdb-default": None, "duckdb-new-york": "America/New_York"}


@pytest.fixture(scope="module")
def connections() -> Iterator[dict[str, Any]]:
    """DuckDB connections in several zones: relations report their times in their connection's zone."""
    cons = {}
    for name, zone in ZONES.items():
        cons[name] = duckdb.connect()
        if zone is not None:
            cons[name].execute(f"SET TimeZone = '{zone}'")
    yield cons
    for con in cons.values():
        con.close()


@pytest.fixture(scope="module")
def plans(example_plan: AlignmentPlan) -> dict[str, AlignmentPlan]:
    """The example plan (business time in Europe/Berlin) and the same plan in UTC."""
    assert example_plan.sla is not None
    calendar = example_plan.sla.calendar.model_copy(update={"timezone": "UTC"})
    sla = example_plan.sla.model_copy(update={"calendar": calendar})
    return {"berlin": example_plan, "utc": example_plan.model_copy(update={"sla": sla})}


@pytest.fixture(scope="module")
def data(example_plan: AlignmentPlan) -> Dataset:
    return synthetic(example_plan, seed=15, n_leads=300)


def _duckdb(con: Any) -> Convert:
    return lambda f: con.from_arrow(f.to_arrow())


def _converters(connections: dict[str, Any]) -> dict[str, Convert]:
    return {
        "polars": lambda f: f,
        "polars-lazy": lambda f: f.lazy(),
        "pandas": lambda f: f.to_pandas(),
        "pandas-arrow": lambda f: f.to_pandas(use_pyarrow_extension_array=True),
        "pyarrow": lambda f: f.to_arrow(),
        **{name: _duckdb(con) for name, con in connections.items()},
    }


INPUTS = ["Dataset", "mapping", "polars", "polars-lazy", "pandas", "pandas-arrow", "pyarrow", *ZONES]


def _long_touches(data: Dataset) -> pl.DataFrame:
    """Touches in long form: one row per touch, the lead's won deal (in EUR only) on every row of it."""
    won = (
        data.deals.filter(pl.col("stage") == "won", pl.col("amount_currency") == "EUR")
        .group_by("lead_id")
        .agg(pl.col("amount").max().alias("value"))
    )
    return (
        data.touchpoints.select(pl.col("lead_id").alias("journey"), "id", "time", "channel")
        .join(won, left_on="journey", right_on="lead_id", how="left")
        .with_columns(converted=pl.col("value").is_not_null(), currency=pl.lit("EUR"))
        .sort("id")
    )


class Given:
    """One kind of input: ``one(kind)`` for a parameter of one record kind, ``many()`` for a whole dataset."""

    def __init__(self, data: Dataset, input_kind: str, converters: dict[str, Convert]) -> None:
        self.data = data
        self.input_kind = input_kind
        library = "polars" if input_kind in ("Dataset", "mapping") else input_kind
        convert = converters[library]
        self.frames = {kind: convert(frame) for kind, frame in data.frames().items()}
        self.long = convert(_long_touches(data))

    def one(self, kind: str) -> Any:
        if self.input_kind == "Dataset":
            return self.data
        if self.input_kind == "mapping":
            return self.frames  # an analysis of one kind picks it from the mapping
        return self.frames[kind]

    def many(self) -> Any:
        return self.data if self.input_kind == "Dataset" else self.frames

    def dataset(self) -> Dataset:
        return self.data if self.input_kind == "Dataset" else Dataset(**self.frames)


def _graph(graph: nx.DiGraph[str]) -> tuple[object, ...]:
    return (
        dict(graph.graph),
        sorted(graph.nodes(data=True)),
        sorted((a, b, sorted(d.items())) for a, b, d in graph.edges(data=True)),
    )


def _funnel(plan: AlignmentPlan, given: Given) -> Any:
    return funnel(plan.journey, given.one("stage_events"), leads=given.one("leads"), by="region", as_of=AS_OF)


def _funnel_all(plan: AlignmentPlan, given: Given) -> Any:
    return funnel(plan.journey, given.one("stage_events"), as_of=AS_OF)


def _conformance(plan: AlignmentPlan, given: Given) -> Any:
    return conformance(plan.journey, given.one("stage_events"))


def _discover(plan: AlignmentPlan, given: Given) -> Any:
    return _graph(discover(given.one("stage_events")))


def _sla(plan: AlignmentPlan, given: Given) -> Any:
    return evaluate_sla(plan, given.many(), as_of=AS_OF)


def _scorecard(plan: AlignmentPlan, given: Given) -> Any:
    return scorecard(plan, given.many(), period="2026-10", as_of=AS_OF, fx=FX, by="team")


def _scorecard_quarters(plan: AlignmentPlan, given: Given) -> Any:
    return scorecard(plan, given.many(), period="2026-Q3", as_of=AS_OF, fx=FX)


def _attribute(plan: AlignmentPlan, given: Given) -> Any:
    return attribute(given.many(), model="position", per_touch=True, fx=FX, currency="EUR")


def _attribute_dataset(plan: AlignmentPlan, given: Given) -> Any:
    return attribute(given.dataset(), model="markov", fx=FX, currency="EUR")


def _attribute_long(plan: AlignmentPlan, given: Given) -> Any:
    return attribute(given.long, model="position", per_touch=True)


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


def _dispositions(plan: AlignmentPlan, given: Given) -> Any:
    return dispositions(plan, given.many(), by="region", as_of=AS_OF)


def _waterfall(plan: AlignmentPlan, given: Given) -> Any:
    return waterfall(plan, given.many(), view="period", period="week", as_of=AS_OF, fx=FX)


def _campaigns(plan: AlignmentPlan, given: Given) -> Any:
    return compare_campaigns(plan, given.many(), as_of=AS_OF, fx=FX)


def _customer_feedback(plan: AlignmentPlan, given: Given) -> Any:
    return customer_feedback(plan, given.many(), as_of=AS_OF)


def _sourced(plan: AlignmentPlan, given: Given) -> Any:
    return sourced_influenced(plan, given.many(), by="team", as_of=AS_OF, fx=FX)


def _match(plan: AlignmentPlan, given: Given) -> Any:
    return match(plan, given.many(), as_of=AS_OF)


def _score(plan: AlignmentPlan, given: Given) -> Any:
    return score(plan, given.many(), as_of=AS_OF)


def _agreement(plan: AlignmentPlan, given: Given) -> Any:
    return agreement(plan, given.many(), by="region", resamples=50)


def _calibrate(plan: AlignmentPlan, given: Given) -> Any:
    return calibrate(plan, given.many(), as_of=AS_OF)


def _segment(plan: AlignmentPlan, given: Given) -> Any:
    return segment(plan, given.many())


ANALYSES: dict[str, Callable[[AlignmentPlan, Given], Any]] = {
    "funnel": _funnel,
    "funnel-all": _funnel_all,
    "conformance": _conformance,
    "discover": _discover,
    "evaluate_sla": _sla,
    "scorecard": _scorecard,
    "scorecard-quarter": _scorecard_quarters,
    "attribute": _attribute,
    "attribute-dataset": _attribute_dataset,
    "attribute-long": _attribute_long,
    "compute_rewards": _rewards,
    "check": _check,
    "dispositions": _dispositions,
    "waterfall": _waterfall,
    "compare_campaigns": _campaigns,
    "customer_feedback": _customer_feedback,
    "sourced_influenced": _sourced,
    "match": _match,
    "score": _score,
    "agreement": _agreement,
    "calibrate": _calibrate,
    "segment": _segment,
}

#: The analyses whose answer depends on the plan's time zone: each also runs under the plan in UTC.
ZONED = ["funnel", "evaluate_sla", "scorecard", "scorecard-quarter", "compute_rewards", "waterfall", "score"]
CASES = [(a, "berlin") for a in ANALYSES] + [(a, "utc") for a in ZONED]


@pytest.fixture(scope="module")
def inputs(data: Dataset, connections: dict[str, Any]) -> dict[str, Given]:
    converters = _converters(connections)
    return {name: Given(data, name, converters) for name in INPUTS}


@pytest.fixture(scope="module")
def reference(plans: dict[str, AlignmentPlan], inputs: dict[str, Given]) -> dict[tuple[str, str], Any]:
    return {(name, zone): ANALYSES[name](plans[zone], inputs["Dataset"]) for name, zone in CASES}


def test_the_reference_results_are_not_empty(reference: dict[tuple[str, str], Any]) -> None:
    # An empty result would make every comparison below pass without proving anything.
    def ref(name: str) -> Any:
        return reference[(name, "berlin")]

    assert ref("funnel").to_frame().get_column("reached").sum() > 0
    assert ref("conformance").to_dict()["leads"] > 0
    assert len(ref("discover")[2]) > 0
    assert len(ref("evaluate_sla").to_frame()) > 0
    assert ref("scorecard").to_frame().get_column("value").drop_nulls().len() > 0
    assert ref("attribute").to_frame().get_column("conversions").sum() > 0
    assert ref("attribute").to_frame().get_column("value_EUR").sum() > 0
    assert len(ref("attribute").touches) > 0
    assert ref("attribute-long").to_frame().get_column("conversions").sum() > 0
    assert ref("compute_rewards").to_frame().get_column("deal").n_unique() > 1
    assert {d.code for d in ref("check").diagnostics} >= {"D002", "D006"}
    assert len(ref("score").to_frame()) > 0
    # The plan's zone matters to these data: Berlin and UTC months and weeks cut differently.
    assert reference[("scorecard", "berlin")].to_dict() != reference[("scorecard", "utc")].to_dict()


@pytest.mark.parametrize("input_kind", INPUTS[1:])
@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_every_input_gives_the_same_answer(
    plans: dict[str, AlignmentPlan],
    inputs: dict[str, Given],
    reference: dict[tuple[str, str], Any],
    case: tuple[str, str],
    input_kind: str,
) -> None:
    analysis, zone = case
    got = ANALYSES[analysis](plans[zone], inputs[input_kind])
    want = reference[case]
    _same(analysis, got, want)


def _same(analysis: str, got: Any, want: Any) -> None:
    if analysis == "discover":
        assert got == want
        return
    assert got.to_dict() == want.to_dict()
    assert_frame_equal(got.to_frame(), want.to_frame(), check_exact=True)


#: Spark session time zones: one session, its zone set before each run.
SPARK_ZONES = {"spark-utc": "UTC", "spark-new-york": "America/New_York"}
#: The Berlin plan's cases in a New York session, the UTC plan's in a UTC one: each pair of zones differs.
#: Not the quarter's scorecard: a Spark scorecard takes seconds (a query per check and per metric family),
#: and the month's runs the same code.
SPARK_CASES = [
    (analysis, zone, "spark-new-york" if zone == "berlin" else "spark-utc")
    for analysis, zone in CASES
    if analysis != "scorecard-quarter"
]


@pytest.fixture(scope="module")
def on_spark(data: Dataset, spark: Any) -> Given:
    return Given(data, "spark", {"spark": lambda f: spark.createDataFrame(f.to_arrow())})


#: Spark's shuffle partitions in the matrix (the `many_partitions` fixture, tests/conftest.py): a kernel
#: that reads a lead's rows from one partition only, or merges partials wrongly, gives another answer.
SHUFFLE_PARTITIONS = 3


@pytest.mark.parametrize("case", SPARK_CASES, ids="-".join)
def test_spark_gives_the_same_answer(
    plans: dict[str, AlignmentPlan],
    many_partitions: Any,
    on_spark: Given,
    reference: dict[tuple[str, str], Any],
    case: tuple[str, str, str],
) -> None:
    analysis, zone, session_zone = case
    many_partitions.conf.set("spark.sql.session.timeZone", SPARK_ZONES[session_zone])
    _same(analysis, ANALYSES[analysis](plans[zone], on_spark), reference[(analysis, zone)])


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
