"""The connector contract kit, tested on connectors that pass it and on connectors broken on purpose.

Every check must be able to fail: each broken connector below breaks one property, and the matching test
method of :class:`ConnectorContract` must fail with a message that names the record at fault. Broken
frames that a :class:`Dataset` would refuse (splits, currencies, duplicate ids) are put in place behind the
constructor's back, as a connector that builds its frames some other way could.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest

from smarketing.connectors.report import Loaded, LoadReport
from smarketing.datasets import synthetic
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset
from smarketing.testing import ConnectorContract
from smarketing.testing.contract import difference, union_of_changes

ROOT = Path(__file__).resolve().parents[2]
PLAN = load_plan(ROOT / "examples" / "plan.yaml")
DATA = synthetic(PLAN, seed=11, n_leads=60)
#: Window bounds covering every lead of DATA (created over about a year).
WINDOWS = (
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 4, 1, tzinfo=UTC),
    datetime(2026, 7, 1, tzinfo=UTC),
    datetime(2100, 1, 1, tzinfo=UTC),
)


class FrameConnector:
    """A connector that gives a prepared dataset; its changes are the leads created in a window."""

    name = "frames"

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        report = LoadReport(connector=self.name, rows_read={}, rows_kept={})
        return Loaded(self.data, report)

    def load_changes(
        self, *, since: datetime, until: datetime, strict: bool = True, progress: bool | None = None
    ) -> Loaded:
        leads = self.data.leads.filter(pl.col("created_at").is_between(since, until, closed="left"))
        ids = leads["id"]
        frames = {
            kind: frame.filter(pl.col("lead_id").is_in(ids)) if "lead_id" in frame.columns else frame
            for kind, frame in self.data.frames().items()
        }
        frames["leads"] = leads
        frames["accounts"] = self.data.accounts if since == WINDOWS[0] else self.data.accounts.clear()
        return Loaded(Dataset(**frames), LoadReport(connector=self.name, rows_read={}, rows_kept={}))


class NoChanges:
    """A connector without ``load_changes``."""

    name = "no-changes"

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        return Loaded(DATA, LoadReport(connector=self.name, rows_read={}, rows_kept={}))


class TestAGoodConnectorPasses(ConnectorContract):
    """The whole contract, collected by pytest as a connector's suite would be."""

    plan = PLAN
    change_windows = WINDOWS

    def make_connector(self) -> FrameConnector:
        return FrameConnector(DATA)

    def current_stages(self) -> Mapping[str, str]:
        last = DATA.stage_events.sort("time").group_by("lead_id").agg(pl.col("to").last())
        return dict(last.iter_rows())


def test_without_load_changes_the_incremental_check_is_skipped() -> None:
    class Contract(ConnectorContract):
        plan = PLAN

        def make_connector(self) -> NoChanges:
            return NoChanges()

    with pytest.raises(pytest.skip.Exception, match="no-changes has no load_changes"):
        Contract().test_incremental_loads_add_up_to_a_full_load()


def test_make_connector_must_be_defined() -> None:
    class Contract(ConnectorContract):
        plan = PLAN

    with pytest.raises(NotImplementedError, match="Contract must define make_connector"):
        Contract().test_ids_are_unique()


# --------------------------------------------------------------------------------------------------
# Broken connectors: one property each.


def _behind_the_back(data: Dataset, **frames: pl.DataFrame) -> Dataset:
    """``data`` with frames swapped in without the Dataset's checks."""
    copy = Dataset(**data.frames())
    for kind, frame in frames.items():
        object.__setattr__(copy, kind, frame)
    return copy


def _contract(
    data: Dataset, *, current: Mapping[str, str] | None = None, windows: Any = WINDOWS
) -> ConnectorContract:
    class Contract(ConnectorContract):
        plan: ClassVar[AlignmentPlan] = PLAN
        change_windows = windows

        def make_connector(self) -> FrameConnector:
            return FrameConnector(data)

        def current_stages(self) -> Mapping[str, str] | None:
            return current

    return Contract()


def _first(kind: str) -> dict[str, Any]:
    frame: pl.DataFrame = getattr(DATA, kind)
    return frame.row(0, named=True)


def _split_deal() -> str:
    return str(DATA.deals.filter(pl.col("splits").list.len() > 0)["id"][0])


def unknown_stage() -> Dataset:
    events = DATA.stage_events.with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("closedwon")).otherwise(pl.col("to")).alias("to")
    )
    return Dataset(**{**DATA.frames(), "stage_events": events})


def swapped_times() -> Dataset:
    lead = _first("stage_events")["lead_id"]
    events = DATA.stage_events.with_row_index("_i")
    mine = events.filter(pl.col("lead_id") == lead).sort("time")
    a, b = mine["_i"][1], mine["_i"][2]
    ta, tb = mine["time"][1], mine["time"][2]
    events = events.with_columns(
        pl.when(pl.col("_i") == a)
        .then(pl.lit(tb))
        .when(pl.col("_i") == b)
        .then(pl.lit(ta))
        .otherwise("time")
        .alias("time")
    ).drop("_i")
    return Dataset(**{**DATA.frames(), "stage_events": events})


def bad_split() -> Dataset:
    deal = _split_deal()
    splits = pl.when(pl.col("id") == deal).then(pl.col("splits").list.slice(0, 1)).otherwise(pl.col("splits"))
    return _behind_the_back(DATA, deals=DATA.deals.with_columns(splits.alias("splits")))


def no_currency() -> Dataset:
    deal = _first("deals")["id"]
    currency = pl.when(pl.col("id") == deal).then(pl.lit(None, pl.String)).otherwise("amount_currency")
    return _behind_the_back(DATA, deals=DATA.deals.with_columns(currency.alias("amount_currency")))


def made_up_currency() -> Dataset:
    deal = _first("deals")["id"]
    currency = pl.when(pl.col("id") == deal).then(pl.lit("EURO")).otherwise("amount_currency")
    return _behind_the_back(DATA, deals=DATA.deals.with_columns(currency.alias("amount_currency")))


def duplicate_lead() -> Dataset:
    return _behind_the_back(DATA, leads=pl.concat([DATA.leads, DATA.leads.head(1)]))


def _changed(kind: str, column: str, value: str) -> Dataset:
    first = _first(kind)["id"]
    changed = pl.when(pl.col("id") == first).then(pl.lit(value)).otherwise(pl.col(column))
    frame = getattr(DATA, kind).with_columns(changed.alias(column))
    return Dataset(**{**DATA.frames(), kind: frame})


def deal_of_no_lead() -> Dataset:
    return _changed("deals", "lead_id", "L404")


def touch_of_no_lead() -> Dataset:
    return _changed("touchpoints", "lead_id", "L404")


def deal_owner_unknown() -> Dataset:
    return _changed("deals", "owner", "jane.doe")


def split_person_unknown() -> Dataset:
    deal = _split_deal()
    swap = pl.col("splits").list.eval(
        pl.struct(
            pl.lit("ghost").alias("person"),
            pl.element().struct.field("share"),
            pl.element().struct.field("kind"),
        )
    )
    splits = pl.when(pl.col("id") == deal).then(swap).otherwise(pl.col("splits"))
    return Dataset(**{**DATA.frames(), "deals": DATA.deals.with_columns(splits.alias("splits"))})


BROKEN: dict[str, tuple[Callable[[], Dataset], str, str]] = {
    "unknown-stage": (
        unknown_stage,
        "test_every_stage_is_a_journey_stage",
        r"stage event of lead L\w+ at .*: to 'closedwon' is not a stage of the plan's journey",
    ),
    "swapped-times": (
        swapped_times,
        "test_stage_history_is_ordered_and_ends_in_the_current_stage",
        rf"lead {_first('stage_events')['lead_id']}: stage history out of order: at .* it leaves",
    ),
    "bad-split": (
        bad_split,
        "test_revenue_splits_total_100_percent",
        rf"deal {_split_deal()}: revenue splits total \d+(\.\d+)?%, not 100%",
    ),
    "no-currency": (
        no_currency,
        "test_every_amount_has_an_iso_currency",
        rf"deal {_first('deals')['id']}: amount .* has no ISO 4217 currency \(amount_currency is None\)",
    ),
    "made-up-currency": (
        made_up_currency,
        "test_every_amount_has_an_iso_currency",
        r"amount_currency is 'EURO'",
    ),
    "duplicate-id": (
        duplicate_lead,
        "test_ids_are_unique",
        rf"lead {_first('leads')['id']}: the id is used by 2 leads",
    ),
    "deal-of-no-lead": (
        deal_of_no_lead,
        "test_references_resolve",
        rf"deal {_first('deals')['id']}: lead_id 'L404' is not a lead of the load",
    ),
    "touch-of-no-lead": (
        touch_of_no_lead,
        "test_references_resolve",
        rf"touchpoint {_first('touchpoints')['id']}: lead_id 'L404' is not a lead of the load",
    ),
    "unknown-owner": (
        deal_owner_unknown,
        "test_references_resolve",
        rf"deal {_first('deals')['id']}: owner 'jane.doe' is not a person of the plan",
    ),
    "unknown-split-person": (
        split_person_unknown,
        "test_references_resolve",
        rf"deal {_split_deal()}: split person 'ghost' is not a person of the plan",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_check_fails_naming_the_record(case: str) -> None:
    make, method, message = BROKEN[case]
    contract = _contract(make())
    with pytest.raises(AssertionError, match=message):
        getattr(contract, method)()
    # The same check passes on the data before it was broken.
    clean = _contract(DATA)
    getattr(clean, method)()


def test_history_must_end_in_the_current_stage() -> None:
    lead = _first("leads")["id"]
    contract = _contract(DATA, current={lead: "subscriber"})
    with pytest.raises(
        AssertionError, match=rf"lead {lead}: stage history ends in '\w+', but the source says"
    ):
        contract.test_stage_history_is_ordered_and_ends_in_the_current_stage()
    contract = _contract(DATA, current={"L404": "mql"})
    with pytest.raises(
        AssertionError, match="lead L404: the source says it is in 'mql', but it has no stage history"
    ):
        contract.test_stage_history_is_ordered_and_ends_in_the_current_stage()


def test_two_extracts_that_differ_fail_naming_the_record() -> None:
    lead = _first("leads")["id"]
    second = _changed("leads", "grade", "Z")

    class Contract(ConnectorContract):
        plan = PLAN

        def make_connector_pair(self) -> tuple[FrameConnector, FrameConnector]:
            return FrameConnector(DATA), FrameConnector(second)

    with pytest.raises(
        AssertionError, match=rf"lead {lead}: grade is .* in the first extract, 'Z' in the second"
    ):
        Contract().test_two_extracts_are_identical()


class DropsARecord(FrameConnector):
    """Its incremental loads lose the first deal."""

    def load_changes(
        self, *, since: datetime, until: datetime, strict: bool = True, progress: bool | None = None
    ) -> Loaded:
        data, report = super().load_changes(since=since, until=until)
        deals = data.deals.filter(pl.col("id") != _first("deals")["id"])
        return Loaded(Dataset(**{**data.frames(), "deals": deals}), report)


def test_incremental_loads_that_lose_a_record_fail_naming_it() -> None:
    class Contract(ConnectorContract):
        plan = PLAN
        change_windows = WINDOWS

        def make_connector(self) -> DropsARecord:
            return DropsARecord(DATA)

    with pytest.raises(
        AssertionError, match=rf"deal {_first('deals')['id']}: only in the full load \(1 such in deals\)"
    ):
        Contract().test_incremental_loads_add_up_to_a_full_load()


def test_windows_that_miss_changes_fail() -> None:
    contract = _contract(DATA, windows=WINDOWS[1:])
    with pytest.raises(AssertionError, match="only in the full load"):
        contract.test_incremental_loads_add_up_to_a_full_load()
    contract = _contract(DATA, windows=())
    with pytest.raises(AssertionError, match="set change_windows"):
        contract.test_incremental_loads_add_up_to_a_full_load()
    contract = _contract(DATA, windows=WINDOWS[::-1])
    with pytest.raises(AssertionError, match="increasing order"):
        contract.test_incremental_loads_add_up_to_a_full_load()


def test_union_takes_the_last_version_of_a_record() -> None:
    older = _changed("leads", "grade", "Z")
    union = union_of_changes([older, DATA])
    assert difference(union, DATA) == []
    assert difference(union_of_changes([DATA, older]), DATA) != []


def test_difference_names_counts_and_columns() -> None:
    fewer = Dataset(**{**DATA.frames(), "stage_events": DATA.stage_events.head(5)})
    assert difference(DATA, fewer) == [
        f"stage_events: {DATA.stage_events.height} rows in the first, 5 in the second"
    ]
    wider = _behind_the_back(DATA, leads=DATA.leads.with_columns(pl.lit(1).alias("extra")))
    assert difference(DATA, wider)[0].startswith("leads: the columns differ")


def test_two_extracts_whose_reports_differ_fail() -> None:
    class Counts(FrameConnector):
        def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
            return Loaded(self.data, LoadReport(connector=self.name, rows_read={"leads": 61}, rows_kept={}))

    class Contract(ConnectorContract):
        plan = PLAN

        def make_connector_pair(self) -> tuple[FrameConnector, FrameConnector]:
            return FrameConnector(DATA), Counts(DATA)

    with pytest.raises(
        AssertionError, match=r"the load reports differ in rows_read: \{\} and \{'leads': 61\}"
    ):
        Contract().test_two_extracts_are_identical()
