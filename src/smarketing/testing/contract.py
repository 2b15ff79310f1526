"""The connector contract: a pytest base class a connector's own test suite subclasses.

In the spirit of singer-sdk's ``get_tap_test_class``, but about meaning rather than shape: a connector can
produce a perfectly typed :class:`~smarketing.records.Dataset` that still tells a false story (stages the
journey does not know, a history that runs backwards, splits that do not add up, a deal whose lead is not
there, a second extract that differs from the first). Each test method checks one such property on what the
connector loads, and a failure names the records that break it::

    from smarketing.plan import load_plan
    from smarketing.testing import ConnectorContract


    class TestSpreadsheetCRM(ConnectorContract):
        plan = load_plan("plan.yaml")
        change_windows = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC), ...)

        def make_connector(self):
            return SpreadsheetCRM(path=EXAMPLE)

The checks are also plain functions (:func:`stage_problems`, :func:`history_problems`, ...) over a
``Dataset`` and a plan, each returning one message per broken record (empty when all is well), for use
outside pytest. They trust nothing of the dataset's own checks: a connector that builds its frames some
other way is held to the same rules.

Examples:
    >>> from smarketing.plan import load_plan
    >>> from smarketing.testing.fixtures import example_dataset
    >>> plan = load_plan("examples/plan.yaml")
    >>> data = example_dataset()
    >>> stage_problems(data, plan), reference_problems(data, plan)
    ([], [])
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import polars as pl
from iso4217 import Currency

from smarketing.connectors.report import Loaded
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.records._references import PEOPLE_REFERENCES, RECORD_REFERENCES, split_people, unknown
from smarketing.typing import Connector

__all__ = [
    "ConnectorContract",
    "currency_problems",
    "difference",
    "history_problems",
    "id_problems",
    "reference_problems",
    "report_difference",
    "split_problems",
    "stage_problems",
    "union_of_changes",
]

#: Problems listed in a failing test's message before "... and N more".
SHOWN = 20

_CODES = frozenset(c.code for c in Currency)


def _label(kind: str) -> str:
    """``"stage_events"`` -> ``"stage event"``: how one record of a kind is named."""
    return RECORD_KINDS[kind].kind.replace("_", " ")


def _named(kind: str, row: Mapping[str, Any]) -> str:
    """A record as a message names it: ``deal D7``, ``stage event of lead L3 at 2026-10-01 09:00:00``."""
    if row.get("id") is not None:
        return f"{_label(kind)} {row['id']}"
    lead = row.get("lead_id")
    when = row.get("time")
    at = f" at {when}" if when is not None else ""
    return f"{_label(kind)} of lead {lead}{at}"


def _frames(data: Dataset) -> dict[str, pl.DataFrame]:
    return {kind: getattr(data, kind) for kind in RECORD_KINDS}


# --------------------------------------------------------------------------------------------------
# The checks, one function each.


def stage_problems(data: Dataset, plan: AlignmentPlan) -> list[str]:
    """Every stage event whose ``to`` or ``from`` is not a stage of the plan's journey."""
    stages = [s.id for s in plan.journey.stages]
    events = data.stage_events
    out: list[str] = []
    for column in ("to", "from"):
        if column not in events.columns:
            continue
        bad = events.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(stages))
        out += [
            f"{_named('stage_events', row)}: {column} {row[column]!r} is not a stage of the plan's "
            f"journey ({', '.join(stages)})"
            for row in bad.iter_rows(named=True)
        ]
    return out


def history_problems(data: Dataset, current: Mapping[str, str] | None = None) -> list[str]:
    """Every lead whose stage history, read in time order, is not one path, or does not end in ``current``.

    In time order (ties in the order given), each event must leave the stage the one before it entered:
    an event that leaves ``sal`` right after one that entered ``mql`` means a reversed or lost step.
    ``current`` maps lead ids to the stage the source says each lead is in now; the history of each of
    those leads must end there.
    """
    events = data.stage_events.with_row_index("_order").sort("lead_id", "time", "_order")
    events = events.with_columns(
        pl.col("to").shift(1).over("lead_id").alias("_before"),
        pl.col("time").shift(1).over("lead_id").alias("_before_time"),
    )
    broken = events.filter(
        pl.col("from").is_not_null() & pl.col("_before").is_not_null() & (pl.col("from") != pl.col("_before"))
    )
    out = [
        f"lead {row['lead_id']}: stage history out of order: at {row['time']} it leaves "
        f"{row['from']!r}, but at {row['_before_time']} it entered {row['_before']!r}"
        for row in broken.iter_rows(named=True)
    ]
    if current:
        last = dict(events.group_by("lead_id").agg(pl.col("to").last()).iter_rows())
        for lead, stage in sorted(current.items()):
            ends = last.get(lead)
            if ends is None:
                out.append(f"lead {lead}: the source says it is in {stage!r}, but it has no stage history")
            elif ends != stage:
                out.append(
                    f"lead {lead}: stage history ends in {ends!r}, but the source says it is in {stage!r}"
                )
    return out


def split_problems(data: Dataset) -> list[str]:
    """Every deal whose revenue splits do not total exactly 100%."""
    deals = data.deals
    if "splits" not in deals.columns:
        return []
    totals = (
        deals.select("id", "splits")
        .explode("splits")
        .filter(pl.col("splits").is_not_null())
        .select("id", pl.col("splits").struct.field("share"), pl.col("splits").struct.field("kind"))
        .filter(pl.col("kind") == "revenue")
        .group_by("id")
        .agg(pl.col("share").fill_null(0).sum().alias("total"))  # Decimal sums are exact
        .filter(pl.col("total") != 1)
        .sort("id")
    )
    return [
        f"deal {deal}: revenue splits total {(Decimal(total) * 100).normalize():f}%, not 100%"
        for deal, total in totals.iter_rows()
    ]


def currency_problems(data: Dataset) -> list[str]:
    """Every amount (deal amounts and discounts) without an ISO 4217 currency."""
    out: list[str] = []
    for kind, frame in _frames(data).items():
        for money in ("amount", "discount"):
            currency = f"{money}_currency"
            if money not in frame.columns:
                continue
            codes = pl.col(currency) if currency in frame.columns else pl.lit(None, pl.String)
            bad = frame.with_columns(codes.alias("_currency")).filter(
                pl.col(money).is_not_null()
                & (pl.col("_currency").is_null() | ~pl.col("_currency").is_in(_CODES))
            )
            out += [
                f"{_named(kind, row)}: {money} {row[money]} has no ISO 4217 currency "
                f"({currency} is {row['_currency']!r})"
                for row in bad.iter_rows(named=True)
            ]
    return out


def id_problems(data: Dataset) -> list[str]:
    """Every id that two records of the same kind share."""
    out: list[str] = []
    for kind, frame in _frames(data).items():
        if "id" not in frame.columns:
            continue
        twice = frame.group_by("id").len().filter(pl.col("len") > 1).sort("id")
        for ident, count in twice.iter_rows():
            out.append(f"{_label(kind)} {ident}: the id is used by {count} {kind}")
    return out


def reference_problems(data: Dataset, plan: AlignmentPlan) -> list[str]:
    """Every reference that does not resolve: to a lead or account of the load, a person or team of the plan.

    Account references are checked only when the load has accounts (many sources have none).
    """
    frames = _frames(data)
    people = sorted(p.id for p in plan.people)
    out: list[str] = []

    def unresolved(kind: str, column: str, known: Sequence[str], what: str) -> None:
        bad = unknown(frames[kind], column, known)
        out.extend(
            f"{_named(kind, row)}: {column} {row[column]!r} is not {what}"
            for row in bad.iter_rows(named=True)
        )

    for kind, column, target in RECORD_REFERENCES:
        if target == "accounts" and frames["accounts"].is_empty():
            continue
        unresolved(kind, column, frames[target]["id"].to_list(), f"a {_label(target)} of the load")
    for kind, column in PEOPLE_REFERENCES:
        unresolved(kind, column, people, "a person of the plan")
    unresolved("touchpoints", "team", sorted(t.id for t in plan.teams), "a team of the plan")
    for deal, person in unknown(split_people(frames["deals"]), "person", people).iter_rows():
        out.append(f"deal {deal}: split person {person!r} is not a person of the plan")
    return out


def _canonical(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in a fixed row order: by every column that can be sorted (lists cannot)."""
    sortable = [c for c, t in frame.schema.items() if not isinstance(t, pl.List | pl.Struct)]
    return frame.sort(sortable, nulls_last=True) if sortable and frame.height else frame


def difference(first: Dataset, second: Dataset, *, names: tuple[str, str] = ("first", "second")) -> list[str]:
    """How two datasets differ: per kind, the first record that differs (or the row counts); empty when equal.

    Row order does not matter; column dtypes and every value do.
    """
    out: list[str] = []
    for kind in RECORD_KINDS:
        a, b = getattr(first, kind), getattr(second, kind)
        if a.schema != b.schema:
            out.append(
                f"{kind}: the columns differ: {names[0]} {dict(a.schema)}, {names[1]} {dict(b.schema)}"
            )
            continue
        a, b = _canonical(kind, a), _canonical(kind, b)
        if a.equals(b):
            continue
        key = "id" if "id" in a.columns else None
        if key is not None:
            only_a = sorted(set(a[key].to_list()) - set(b[key].to_list()), key=str)
            only_b = sorted(set(b[key].to_list()) - set(a[key].to_list()), key=str)
            if only_a or only_b:
                which, ids = (names[0], only_a) if only_a else (names[1], only_b)
                row = {key: ids[0]}
                out.append(f"{_named(kind, row)}: only in the {which} ({len(ids)} such in {kind})")
                continue
        if a.height != b.height:
            out.append(f"{kind}: {a.height} rows in the {names[0]}, {b.height} in the {names[1]}")
            continue
        out.append(_first_difference(kind, a, b, names))
    return out


def _first_difference(kind: str, a: pl.DataFrame, b: pl.DataFrame, names: tuple[str, str]) -> str:
    """The first row (in canonical order) where two frames of the same shape differ, and its column."""
    differs = pl.DataFrame([a[c].ne_missing(b[c]).alias(c) for c in a.columns])
    rows = differs.select(pl.any_horizontal(pl.all()).arg_true()).to_series()
    if rows.is_empty():  # equal cells but unequal frames: nothing to name beyond the kind
        return f"{kind}: the frames differ"
    index = int(rows[0])
    column = next(c for c in a.columns if differs[c][index])
    left, right = a.row(index, named=True), b.row(index, named=True)
    return (
        f"{_named(kind, left)}: {column} is {left[column]!r} in the {names[0]}, "
        f"{right[column]!r} in the {names[1]}"
    )


#: The parts of a load report two extracts of one source must agree on (not where each was read from).
_REPORT_PARTS = ("rows_read", "rows_kept", "refusals", "mappings", "defaults", "unused_columns")


def report_difference(first: Any, second: Any) -> list[str]:
    """How the load reports of two extracts differ, part by part (counts, refusals, maps, defaults)."""
    a, b = first.to_dict(), second.to_dict()
    return [
        f"the load reports differ in {part}: {a.get(part)!r} and {b.get(part)!r}"
        for part in _REPORT_PARTS
        if a.get(part) != b.get(part)
    ]


def union_of_changes(loads: Sequence[Dataset]) -> Dataset:
    """The dataset that incremental loads, applied in order, add up to.

    A record with an id that several loads hold is taken from the last of them (it changed again); a
    record without an id (a stage event, a disposition) is kept once.
    """
    frames: dict[str, pl.DataFrame] = {}
    for kind in RECORD_KINDS:
        parts = [getattr(load, kind) for load in loads]
        frame = pl.concat(parts, how="vertical_relaxed") if parts else getattr(Dataset(), kind)
        if "id" in frame.columns:
            frame = frame.unique("id", keep="last", maintain_order=True)
        else:
            frame = frame.unique(maintain_order=True)
        frames[kind] = frame
    return Dataset(**frames)


def _message(title: str, problems: Sequence[str]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:SHOWN])
    more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return f"{title} ({len(problems)}):\n{shown}{more}"


# --------------------------------------------------------------------------------------------------
# The pytest base class.


class ConnectorContract:
    """The semantic tests every connector should pass; subclass it in the connector's test suite.

    Set :attr:`plan` (the plan whose journey and people the data must fit) and define
    :meth:`make_connector`. Optionally define :meth:`make_connector_pair` (two extracts of the same
    source, say two export folders) and :meth:`current_stages` (each lead's current stage as the
    source says it), and, for a connector with ``load_changes``, :attr:`change_windows`.

    The connector is loaded once per test class (strictly: a connector under test refuses nothing).
    """

    #: The plan the loaded data must fit.
    plan: ClassVar[AlignmentPlan]
    #: Consecutive window bounds for ``load_changes``: ``[w0, w1), [w1, w2), ...`` must cover every change.
    change_windows: ClassVar[Sequence[datetime]] = ()

    def make_connector(self) -> Connector[Loaded]:
        """The connector under test, made with the options of its test source."""
        raise NotImplementedError(f"{type(self).__name__} must define make_connector()")

    def make_connector_pair(self) -> tuple[Connector[Loaded], Connector[Loaded]]:
        """Two connectors reading two extracts of the same source (by default the same one, twice)."""
        return self.make_connector(), self.make_connector()

    def current_stages(self) -> Mapping[str, str] | None:
        """Lead id -> the stage the source says the lead is in now (``None``: the source does not say)."""
        return None

    def loaded(self) -> Loaded:
        """The connector's full load, made once per test class."""
        cache: dict[str, Loaded] = type(self).__dict__.get("_contract_loads", {})
        if "full" not in cache:
            data, report = self.make_connector().load(strict=True, progress=False)
            cache["full"] = Loaded(data, report)
            type.__setattr__(type(self), "_contract_loads", cache)
        return cache["full"]

    def _data(self) -> Dataset:
        data = self.loaded()[0]
        assert isinstance(data, Dataset), f"load() must return a Dataset first, not {type(data).__name__}"
        return data

    def test_every_stage_is_a_journey_stage(self) -> None:
        """Every stage the source gives maps to a stage of the plan's journey."""
        problems = stage_problems(self._data(), self.plan)
        assert not problems, _message("stages that are not journey stages", problems)

    def test_stage_history_is_ordered_and_ends_in_the_current_stage(self) -> None:
        """Per lead, the stage history read in time order is one path, ending in the current stage."""
        problems = history_problems(self._data(), self.current_stages())
        assert not problems, _message("stage histories out of order", problems)

    def test_revenue_splits_total_100_percent(self) -> None:
        """Every deal's revenue splits total exactly 100%."""
        problems = split_problems(self._data())
        assert not problems, _message("deals whose revenue splits do not total 100%", problems)

    def test_every_amount_has_an_iso_currency(self) -> None:
        """Every amount carries an ISO 4217 currency."""
        problems = currency_problems(self._data())
        assert not problems, _message("amounts without an ISO currency", problems)

    def test_ids_are_unique(self) -> None:
        """No two records of a kind share an id."""
        problems = id_problems(self._data())
        assert not problems, _message("ids used more than once", problems)

    def test_references_resolve(self) -> None:
        """Deals, touches and events point at leads of the load; owners at people of the plan."""
        problems = reference_problems(self._data(), self.plan)
        assert not problems, _message("references that do not resolve", problems)

    def test_two_extracts_are_identical(self) -> None:
        """Two extracts of the same source load to the same dataset."""
        first, second = self.make_connector_pair()
        a, report_a = first.load(strict=True, progress=False)
        b, report_b = second.load(strict=True, progress=False)
        problems = difference(a, b, names=("first extract", "second extract"))
        problems += report_difference(report_a, report_b)
        assert not problems, _message("the two extracts differ", problems)

    def test_incremental_loads_add_up_to_a_full_load(self) -> None:
        """For a connector with ``load_changes``: the loads of consecutive windows add up to a full load."""
        connector = self.make_connector()
        load_changes = getattr(connector, "load_changes", None)
        if load_changes is None:
            import pytest  # noqa: PLC0415  # pytest runs this class; smarketing itself never imports it

            pytest.skip(f"{connector.name} has no load_changes")
        windows = list(self.change_windows)
        assert len(windows) >= 2, "set change_windows: at least two bounds covering every change"
        assert windows == sorted(windows), "change_windows must be in increasing order"
        loads = [
            load_changes(since=since, until=until, strict=True, progress=False)[0]
            for since, until in itertools.pairwise(windows)
        ]
        problems = difference(self._data(), union_of_changes(loads), names=("full load", "incremental loads"))
        assert not problems, _message("incremental loads do not add up to the full load", problems)
