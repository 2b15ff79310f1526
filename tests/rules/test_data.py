"""The data rules (D): each fires on data with the gap it describes, naming the records, and stays quiet
on data that fits the plan; ``check`` without data is the plan's report exactly as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.datasets import synthetic
from smarketing.errors import DataError
from smarketing.journey import conformance
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset
from smarketing.rules import AREAS, DATA_AREA, DATA_WEIGHT, data_rules

FX = FxTable([("USD", "EUR", date(2020, 1, 1), "0.9")])
Frames = dict[str, pl.DataFrame]


@pytest.fixture(scope="module")
def clean(example_plan: AlignmentPlan) -> Frames:
    """Synthetic data of the example plan, less the few leads whose history breaks the journey."""
    data = synthetic(example_plan, seed=15, n_leads=120)
    off = conformance(example_plan.journey, data.stage_events).to_frame().filter(~pl.col("fit"))
    gone = off.get_column("lead_id")
    frames = data.frames()
    for kind, frame in frames.items():
        column = "id" if kind == "leads" else "lead_id"
        if column in frame.columns:
            frames[kind] = frame.filter(~pl.col(column).is_in(gone.implode()))
    # The generator leaves about a third of the feedback unread on purpose (D013); here every team read it.
    frames["feedback"] = frames["feedback"].with_columns(seen_by=pl.lit(["marketing"]))
    return frames


def _check(plan: AlignmentPlan, frames: Frames, code: str) -> list[sm.Diagnostic]:
    return list(sm.check(plan, data=frames, fx=FX, select=[code]).diagnostics)


def test_clean_data_has_no_data_findings(example_plan: AlignmentPlan, clean: Frames) -> None:
    report = sm.check(example_plan, data=clean, fx=FX)
    assert [d.code for d in report.diagnostics] == []
    assert [r.code for r in report.rules][-len(data_rules()) :] == [r.code for r in data_rules()]
    assert report.areas[-1].to_dict() == {
        "area": "data",
        "weight": DATA_WEIGHT,
        "points": DATA_WEIGHT,
        "checked": True,
        "errors": 0,
        "warnings": 0,
        "infos": 0,
    }
    assert report.score == 100


def _set(kind: str, column: str, value: str, rows: int = 3) -> Callable[[Frames], None]:
    """Set ``column`` to ``value`` in the first ``rows`` rows of ``kind``."""

    def change(frames: Frames) -> None:
        frame = frames[kind].with_row_index("_n")
        frames[kind] = frame.with_columns(
            pl.when(pl.col("_n") < rows).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        ).drop("_n")

    return change


def _first(frames: Frames, kind: str, key: str, rows: int = 3) -> list[str]:
    return sorted(set(frames[kind].get_column(key).head(rows).to_list()))


# (code, kind, column, change, words the message must hold)
CASES = [
    ("D001", "stage_events", "to", _set("stage_events", "to", "Demo Booked"), "'Demo Booked' is not a stage"),
    ("D003", "deals", "owner", _set("deals", "owner", "Zed Jones"), "'Zed Jones' is not a person"),
    ("D003", "activities", "person", _set("activities", "person", "u-17"), "'u-17' is not a person"),
    ("D003", "stage_events", "actor", _set("stage_events", "actor", "u-17"), "'u-17' is not a person"),
    ("D004", "touchpoints", "team", _set("touchpoints", "team", "sdr"), "'sdr' is not a team of the plan"),
    ("D005", "dispositions", "reason", _set("dispositions", "reason", "meh"), "'meh' is not a reason"),
    ("D006", "deals", "amount_currency", _set("deals", "amount_currency", "JPY"), "'JPY' is not a currency"),
]


Case = tuple[str, str, str, Callable[[Frames], None], str]


@pytest.mark.parametrize("case", CASES, ids=[c[0] + c[2] for c in CASES])
def test_each_rule_fires_on_its_gap_and_names_the_records(
    example_plan: AlignmentPlan, clean: Frames, case: Case
) -> None:
    code, kind, column, change, words = case
    assert _check(example_plan, clean, code) == []
    frames = dict(clean)
    change(frames)
    if code == "D006":  # JPY has no minor unit digits: whole amounts, and discounts in the deal's currency
        frames["deals"] = frames["deals"].with_columns(
            pl.col("amount").round(0),
            pl.col("discount").round(0),
            pl.when(pl.col("discount").is_not_null())
            .then(pl.col("amount_currency"))
            .alias("discount_currency"),
        )
    (d,) = _check(example_plan, frames, code)
    key = "id" if kind not in ("stage_events", "dispositions") else "lead_id"
    records = _first(frames, kind, key)
    assert (d.area, d.path, d.records) == (DATA_AREA, f"{kind}.{column}", tuple(records))
    assert words in d.message
    assert f"(3 {kind.replace('_', ' ')}" in d.message
    assert all(r in d.message for r in records)
    assert d.hint == next(r.fix for r in data_rules() if r.code == code)
    assert d.url == f"https://smarketing.readthedocs.io/en/latest/rules/#{code.lower()}"


def test_split_people_are_people_of_the_plan(example_plan: AlignmentPlan, clean: Frames) -> None:
    deals = clean["deals"]
    with_splits = deals.filter(pl.col("splits").list.len() > 0).get_column("id").sort()
    assert len(with_splits) > 0
    first = with_splits[0]
    renamed = deals.with_columns(
        pl.when(pl.col("id") == first)
        .then(
            pl.col("splits").list.eval(
                pl.struct(pl.lit("ghost").alias("person"), pl.element().struct.field("share", "kind"))
            )
        )
        .otherwise(pl.col("splits"))
        .alias("splits")
    )
    (d,) = _check(example_plan, {**clean, "deals": renamed}, "D003")
    assert d.path == "deals.splits.person"
    assert d.records == (first,)
    assert "'ghost' is not a person of the plan" in d.message


def test_many_records_are_counted_and_the_first_few_named(example_plan: AlignmentPlan, clean: Frames) -> None:
    touches = clean["touchpoints"].with_columns(team=pl.lit("sdr"))
    (d,) = _check(example_plan, {**clean, "touchpoints": touches}, "D004")
    ids = touches.get_column("id").sort().to_list()
    assert d.records == tuple(ids[:5])
    assert f"({len(ids)} touchpoints: {', '.join(ids[:5])} and {len(ids) - 5} more)" in d.message


def test_stage_histories_off_the_journey_are_summarised(example_plan: AlignmentPlan, clean: Frames) -> None:
    assert _check(example_plan, clean, "D002") == []
    events = clean["stage_events"]
    sizes = events.group_by("lead_id").len().filter(pl.col("len") >= 4).sort("lead_id")
    lead = sizes.get_column("lead_id")[0]
    # The lead's history starts two stages in, past the journey's entry stage: a skip.
    mine = events.filter(pl.col("lead_id") == lead).sort("time").slice(2)
    mine = mine.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("from")).alias("from")
    )
    skipped = events.filter(pl.col("lead_id") != lead).vstack(mine)
    (d,) = _check(example_plan, {**clean, "stage_events": skipped}, "D002")
    assert d.records == (lead,)
    assert d.message.startswith("1 of ")
    assert "1 skip" in d.message
    assert d.message.endswith(f": leads {lead}")


def test_records_of_leads_missing_from_the_data(example_plan: AlignmentPlan, clean: Frames) -> None:
    assert _check(example_plan, clean, "D007") == []
    deal = clean["deals"].filter(pl.col("lead_id").is_not_null()).sort("id").row(0, named=True)
    leads = clean["leads"].filter(pl.col("id") != deal["lead_id"])
    found = _check(example_plan, {**clean, "leads": leads}, "D007")
    deals = next(d for d in found if d.path == "deals.lead_id")
    assert deal["id"] in deals.records
    assert f"'{deal['lead_id']}'" in deals.message
    # Without leads at all, nothing can be said about the references.
    assert _check(example_plan, {k: v for k, v in clean.items() if k != "leads"}, "D007") == []


def test_a_rate_makes_a_currency_reportable(example_plan: AlignmentPlan, clean: Frames) -> None:
    assert clean["deals"].get_column("amount_currency").unique().sort().to_list() == ["EUR", "USD"]
    (d,) = sm.check(example_plan, data=clean, select=["D006"]).diagnostics
    usd = clean["deals"].filter(pl.col("amount_currency") == "USD").get_column("id").sort()
    assert d.records == tuple(usd.head(5).to_list())
    assert "exchange rate to EUR (the rewards, KPI sourced_pipeline, KPI new_revenue)" in d.message
    assert sm.check(example_plan, data=clean, fx=FX, select=["D006"]).diagnostics == ()


def test_without_data_the_report_is_the_plans_alone(example_plan: AlignmentPlan) -> None:
    misaligned = sm.load_plan("examples/misaligned.yaml")
    for plan in (example_plan, misaligned):
        report = sm.check(plan)
        assert [a.area for a in report.areas] == list(AREAS)
        assert not any(r.code.startswith("D") for r in report.rules)
        assert sm.check(plan, ignore=["D"]).to_dict() == report.to_dict()


def test_data_counts_in_the_score_only_when_given(example_plan: AlignmentPlan, clean: Frames) -> None:
    broken = {**clean, "touchpoints": clean["touchpoints"].with_columns(team=pl.lit("sdr"))}
    report = sm.check(example_plan, data=broken, fx=FX)
    data_area = report.areas[-1]
    assert (data_area.area, data_area.warnings, data_area.points) == ("data", 1, DATA_WEIGHT * 80 // 100)
    # 116 of 120 points, scaled to 100 and rounded half up.
    assert report.score == 97
    assert sm.check(example_plan, data=broken, fx=FX, ignore=["D"]).areas[-1].checked is False
    assert sm.check(example_plan, data=broken, fx=FX, ignore=["D"]).score == 100


def test_the_data_file_locates_a_finding(example_plan: AlignmentPlan, clean: Frames) -> None:
    broken = {**clean, "touchpoints": clean["touchpoints"].with_columns(team=pl.lit("sdr"))}
    located = sm.check(
        example_plan, data=broken, fx=FX, select=["D004"], data_files={"touchpoints": "x/t.csv"}
    )
    (d,) = located.diagnostics
    assert (d.location, d.file, d.line) == ("x/t.csv", "x/t.csv", None)
    (result,) = located.to_sarif()["runs"][0]["results"]
    (where,) = result["locations"]
    assert where["physicalLocation"] == {"artifactLocation": {"uri": "x/t.csv"}}
    # Without a file, the records are the place (never the plan file).
    (result,) = sm.check(example_plan, data=broken, fx=FX, select=["D004"]).to_sarif()["runs"][0]["results"]
    (where,) = result["locations"]
    assert "physicalLocation" not in where
    assert where["logicalLocations"][0] == {"fullyQualifiedName": "touchpoints.team", "kind": "member"}
    assert where["logicalLocations"][1]["fullyQualifiedName"] == f"touchpoints[{d.records[0]}]"
    assert located.to_dict()["diagnostics"][0]["records"] == list(d.records)


def test_a_failing_data_rule_is_reported_and_the_rest_still_run(
    monkeypatch: pytest.MonkeyPatch, example_plan: AlignmentPlan, clean: Frames
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("conformance broke")

    monkeypatch.setattr("smarketing.rules._data.conformance", boom)
    broken = {**clean, "touchpoints": clean["touchpoints"].with_columns(team=pl.lit("sdr"))}
    report = sm.check(example_plan, data=broken, fx=FX)
    assert [d.code for d in report.diagnostics] == ["D004", "SM001"]
    assert "rule D002 (Stage histories follow the journey's transitions) crashed: RuntimeError" in (
        report.diagnostics[1].message
    )


def test_bad_data_is_a_located_error_and_a_wrong_input_a_type_error(
    example_plan: AlignmentPlan, clean: Frames
) -> None:
    with pytest.raises(DataError, match="unknown record kind"):
        sm.check(example_plan, data={"lead": clean["leads"]})
    with pytest.raises(TypeError, match="needs a Dataset or a mapping of frames"):
        sm.check(example_plan, data=clean["leads"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs an FxTable"):
        sm.check(example_plan, data=clean, fx={"USD/EUR": 0.9})  # type: ignore[arg-type]


def test_a_dataset_and_its_frames_give_the_same_report(example_plan: AlignmentPlan, clean: Frames) -> None:
    lazy = {kind: frame.lazy() for kind, frame in clean.items()}
    want = sm.check(example_plan, data=Dataset(**clean), fx=FX).to_dict()
    assert sm.check(example_plan, data=lazy, fx=FX).to_dict() == want


def test_a_rate_from_after_a_deal_does_not_convert_it(example_plan: AlignmentPlan, clean: Frames) -> None:
    late = FxTable([("USD", "EUR", date(2026, 7, 1), "0.9")])
    usd = clean["deals"].filter(pl.col("amount_currency") == "USD")
    day = pl.coalesce(pl.col("close_date"), pl.col("created_at").dt.date())
    early = usd.filter(day < date(2026, 7, 1)).get_column("id").sort()
    assert 0 < len(early) < len(usd)
    (d,) = sm.check(example_plan, data=clean, fx=late, select=["D006"]).diagnostics
    assert d.records == tuple(early.head(5).to_list())
    assert "on the deal's date (the first rate is of 2026-07-01)" in d.message
    assert f"({len(early)} deal" in d.message


def test_rules_given_run_their_data_rules_only_with_data(example_plan: AlignmentPlan, clean: Frames) -> None:
    broken = {**clean, "touchpoints": clean["touchpoints"].with_columns(team=pl.lit("sdr"))}
    teams = next(r for r in data_rules() if r.code == "D004")
    report = sm.check(example_plan, data=broken, rules=[teams])
    assert [r.code for r in report.rules] == ["D004"]
    assert [d.code for d in report.diagnostics] == ["D004"]
    assert sm.check(example_plan, rules=[teams]).rules == ()
    # A data rule that is not built in is not a rule the engine runs: data rules are the catalogue's own.
    copy = sm.rules.DataRule("D901", "warning", "T", "R.", "F.", teams.function)
    with pytest.raises(sm.errors.RuleError, match="area 'data' is not one of"):
        sm.check(example_plan, data=broken, rules=[copy])


def test_leads_with_unknown_stages_are_left_to_d001(example_plan: AlignmentPlan, clean: Frames) -> None:
    events = clean["stage_events"]
    sizes = events.group_by("lead_id").len().filter(pl.col("len") >= 4).sort("lead_id")
    skipper, stranger = sizes.get_column("lead_id")[:2]
    mine = events.filter(pl.col("lead_id") == skipper).sort("time").slice(2)
    mine = mine.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("from")).alias("from")
    )
    # The stranger both enters a stage the journey lacks and skips: D001 names it, D002 does not.
    theirs = events.filter(pl.col("lead_id") == stranger).sort("time").slice(2)
    theirs = theirs.with_columns(pl.lit("Demo Booked").alias("to"))
    rest = events.filter(~pl.col("lead_id").is_in([skipper, stranger]))
    found = _check(example_plan, {**clean, "stage_events": pl.concat([rest, mine, theirs])}, "D00")
    d001 = [d for d in found if d.code == "D001"]
    (d002,) = [d for d in found if d.code == "D002"]
    assert [d.records for d in d001] == [(stranger,)]
    assert d002.records == (skipper,)
    assert "; 1 lead with stages not of the journey left to D001" in d002.message


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_the_order_of_the_rows_changes_nothing(example_plan: AlignmentPlan, clean: Frames, seed: int) -> None:
    # Gaps in several rules, so that the comparison covers their values, records and counts.
    broken = {
        **clean,
        "touchpoints": clean["touchpoints"].with_columns(team=pl.lit("sdr")),
        "deals": clean["deals"].with_columns(owner=pl.col("id").str.slice(0, 6)),
    }
    shuffled = {kind: frame.sample(fraction=1.0, shuffle=True, seed=seed) for kind, frame in broken.items()}
    want = sm.check(example_plan, data=broken).to_dict()
    assert {d["code"] for d in want["diagnostics"]} >= {"D003", "D004", "D006"}
    assert sm.check(example_plan, data=shuffled).to_dict() == want
