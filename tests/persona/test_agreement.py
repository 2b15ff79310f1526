"""agreement: the MQL x accepted table, its statistics, groups, audit and the won-deal share."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.persona import agreement
from smarketing.persona.agreement import _agreement_rows
from smarketing.plan import AlignmentPlan

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)


def _at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def _data(
    moves: list[tuple[str, str | None, str, int]], disposed: list[tuple[str, int]] = ()
) -> dict[str, Any]:
    return {
        "stage_events": [sm.StageEvent(lead_id=x, source=s, to=to, time=_at(h)) for x, s, to, h in moves],
        "dispositions": [sm.Disposition(lead_id=x, reason="not_a_fit", time=_at(h)) for x, h in disposed],
    }


# L1 MQL then accepted; L2 MQL, disposition: rejected; L3 handed off (mql -> sal): MQL and accepted;
# L4 MQL, nothing yet: pending; L5 never an MQL, audited, disposition: rejected; L6 never an MQL,
# audited, reached sal without a handoff (e.g. sales sourced it): accepted; L7 not audited: outside.
MOVES = [
    ("L1", "lead", "mql", 0),
    ("L1", None, "sal", 5),
    ("L2", "lead", "mql", 0),
    ("L3", "mql", "sal", 2),
    ("L4", "lead", "mql", 1),
    ("L5", None, "lead", 0),
    ("L6", "lead", "sql", 3),
    ("L6", "sql", "sal", 4),
    ("L7", None, "lead", 0),
]
DISPOSED = [("L2", 3), ("L5", 2), ("L7", 2)]


def test_the_table_by_hand(example_plan: AlignmentPlan) -> None:
    result = agreement(example_plan, _data(MOVES, DISPOSED), audit={"L5", "L6"}, resamples=300)
    assert result.table == ((2, 1), (1, 1))
    row = result.overall.row(0, named=True)
    assert (row["mqls"], row["mql_pending"], row["leads"]) == (4, 1, 5)
    # p_o = 3/5; p_e = (3·3 + 2·2)/25 = 13/25; κ = (15/25 - 13/25) / (12/25) = 1/6.
    assert result.kappa == pytest.approx(1 / 6)
    assert result.pabak == pytest.approx(0.2)
    # π = (3 + 3) / 10 = 0.6, p_e = 0.48, AC1 = (0.6 - 0.48) / 0.52.
    assert result.ac1 == pytest.approx(0.12 / 0.52)
    assert result.acceptance_rate == pytest.approx(2 / 4)  # pending MQLs count in the denominator
    assert result.observed == pytest.approx(0.6)
    assert any("sales judges only MQLs" in n for n in result.notes)
    assert any("1 MQL(s) not judged yet" in n for n in result.notes)
    assert "sales judges only MQLs" not in result.summary  # in the notes
    assert "audit sample" in result.summary


def test_acceptance_before_the_mql_call_does_not_count(example_plan: AlignmentPlan) -> None:
    moves = [("L1", "lead", "sal", 0), ("L1", "sal", "mql", 1)]  # unmapped: sal first, MQL later
    result = agreement(example_plan, _data(moves, [("L1", 2)]), resamples=10)
    assert result.table == ((0, 1), (0, 0))


def test_rejection_by_a_disqualify_move(example_plan: AlignmentPlan) -> None:
    plan = example_plan.model_copy(update={"sla": None})  # acceptance falls back to the stage after sal
    moves = [("L1", "lead", "mql", 0), ("L1", "mql", "sal", 1), ("L1", "sal", "disqualified", 2)]
    moves += [("L2", "lead", "mql", 0), ("L2", "mql", "sal", 1), ("L2", "sal", "sql", 2)]
    result = agreement(plan, _data(moves), resamples=10)
    assert result.accepted_stages == ("sql",)
    assert result.table == ((1, 1), (0, 0))
    assert any("no quality commitment" in n for n in result.notes)


def test_without_audit_kappa_is_zero_by_construction(example_plan: AlignmentPlan) -> None:
    result = agreement(example_plan, _data(MOVES, DISPOSED), resamples=50)
    assert result.table == ((2, 1), (0, 0))
    assert result.kappa == 0.0
    assert any("no audit sample" in n for n in result.notes)


@pytest.mark.parametrize(
    "data", [{}, _data([("L1", "lead", "mql", 0), ("L1", "mql", "sal", 1)])], ids=["empty", "one-class"]
)
def test_undefined_kappa_is_nan_with_a_note(example_plan: AlignmentPlan, data: dict[str, Any]) -> None:
    result = agreement(example_plan, data, resamples=20)
    assert math.isnan(result.kappa)
    assert any("κ is undefined" in n for n in result.notes)
    assert math.isnan(result.overall.item(0, "kappa_low"))
    result.to_dict()
    repr(result)
    result._repr_html_()


def test_won_deals_from_leads_never_qualified(example_plan: AlignmentPlan) -> None:
    def deal(i: str, lead: str | None, stage: str = "won") -> sm.Deal:
        return sm.Deal(
            id=i,
            lead_id=lead,
            amount=sm.Money("1000", "EUR"),
            stage=stage,
            created_at=T0,
            close_date=date(2026, 10, 20) if stage != "open" else None,
        )

    data = _data(MOVES, DISPOSED) | {
        "deals": [
            deal("D1", "L1"),
            deal("D2", "L7"),
            deal("D3", "L9"),
            deal("D4", None),
            deal("D5", "L2", "lost"),
        ]
    }
    result = agreement(example_plan, data, resamples=10)
    row = result.overall.row(0, named=True)
    # D1's lead was an MQL; D2's and D3's were not (L9 is unknown); D4 has no lead, D5 is lost.
    assert (row["won_deals"], row["won_unqualified"]) == (3, 2)
    assert result.won_unqualified_share == pytest.approx(2 / 3)


def _leads(groups: dict[str, str | None]) -> list[sm.Lead]:
    return [
        sm.Lead(id=x, created_at=T0, persona=g, account_id="A1" if x < "L4" else "A2")
        for x, g in groups.items()
    ]


def test_groups_sorted_with_nulls_last(example_plan: AlignmentPlan) -> None:
    personas = {"L1": "ops", "L2": "ops", "L3": "fin", "L4": None, "L5": "fin", "L6": "ops"}
    data = _data(MOVES, DISPOSED) | {
        "leads": _leads(personas),
        "accounts": [sm.Account(id="A1", region="dach"), sm.Account(id="A2", region="nordics")],
    }
    result = agreement(example_plan, data, by="persona", audit=["L5", "L6"], resamples=100)
    frame = result.to_frame()
    assert frame.get_column("persona").to_list() == ["fin", "ops", None]
    assert frame.select("mql_accepted", "mql_rejected", "nonmql_accepted", "nonmql_rejected").rows() == [
        (1, 0, 0, 1),
        (1, 1, 1, 0),
        (0, 0, 0, 0),
    ]
    assert frame.get_column("mql_pending").to_list() == [0, 0, 1]
    assert result.table == ((2, 1), (1, 1))  # the overall row is over all groups
    by_region = agreement(example_plan, data, by=["account.region"], audit=["L5", "L6"], resamples=10)
    assert by_region.to_frame().get_column("account.region").to_list() == ["dach", "nordics"]
    assert "persona" in repr(result)


def test_bootstrap_is_deterministic_and_groups_independent(example_plan: AlignmentPlan) -> None:
    personas = {"L1": "ops", "L2": "ops", "L3": "fin", "L4": "fin", "L5": "fin", "L6": "ops"}
    data = _data(MOVES, DISPOSED) | {"leads": _leads(personas)}
    first = agreement(example_plan, data, by="persona", audit=["L5", "L6"], resamples=200, seed=3)
    again = agreement(example_plan, data, by="persona", audit=["L5", "L6"], resamples=200, seed=3)
    assert first.to_dict() == again.to_dict()
    other = agreement(example_plan, data, by="persona", audit=["L5", "L6"], resamples=200, seed=4)
    assert other.to_dict()["overall"] != first.to_dict()["overall"]
    # Shuffled input rows give the same result.
    shuffled = dict(data)
    shuffled["stage_events"] = random.Random(1).sample(data["stage_events"], len(data["stage_events"]))
    assert agreement(
        example_plan, shuffled, by="persona", audit=["L6", "L5"], resamples=200, seed=3
    ).to_dict() == (first.to_dict())


def test_the_core_from_hand_built_counts() -> None:
    counts = pl.DataFrame(
        {"cell": [0, 1, 3, 4], "len": [40, 10, 5, 45]}, schema={"cell": pl.Int8, "len": pl.UInt32}
    )
    won = pl.DataFrame({"_all": [0], "won_deals": [10], "won_unqualified": [4]})
    overall, groups = _agreement_rows(counts, won, by=(), confidence=0.9, resamples=2000, seed=0)
    assert groups is None
    row = overall.row(0, named=True)
    assert row["kappa"] == pytest.approx(0.7)
    assert row["kappa_low"] < 0.7 < row["kappa_high"]
    assert row["acceptance"] == pytest.approx(0.8)
    assert row["acceptance_low"] < 0.8 < row["acceptance_high"]
    assert row["won_unqualified_share"] == pytest.approx(0.4)
    # The κ interval is close to the normal-theory one for this table (standard error about 0.071).
    assert row["kappa_high"] - row["kappa_low"] == pytest.approx(2 * 1.645 * 0.071, rel=0.2)


def test_bad_options_name_the_problem(example_plan: AlignmentPlan) -> None:
    with pytest.raises(ValueError, match="confidence"):
        agreement(example_plan, {}, confidence=1.0)
    with pytest.raises(ValueError, match="resamples"):
        agreement(example_plan, {}, resamples=0)
    with pytest.raises(ValueError, match="audit"):
        agreement(example_plan, {}, audit="L1")
    with pytest.raises(sm.DataError, match="no lead column 'colour'"):
        agreement(example_plan, {}, by="colour")


def test_a_journey_without_handoff_is_a_plan_error(example_plan: AlignmentPlan) -> None:
    journey = example_plan.journey.model_copy(
        update={"transitions": [t for t in example_plan.journey.transitions if t.kind != "handoff"]}
    )
    with pytest.raises(sm.PlanError, match="no handoff"):
        agreement(example_plan.model_copy(update={"journey": journey}), {})


STAGES = ["lead", "mql", "sal", "sql", "disqualified", "opportunity"]
event_strategy = st.tuples(
    st.sampled_from(["L1", "L2", "L3", "L4", "L5"]),
    st.one_of(st.none(), st.sampled_from(STAGES)),
    st.sampled_from(STAGES),
    st.integers(0, 6),
)


def _reference_table(
    moves: list[tuple[str, str | None, str, int]], disposed: list[tuple[str, int]], audit: set[str]
) -> tuple[tuple[int, int], tuple[int, int], int]:
    """The table and pending MQLs by the rules in words, one lead at a time (example plan: handoff
    mql -> sal, accepted stage sal, disqualify sal/sql -> disqualified, recycle sal/sql -> lead)."""
    rejecting = {("sal", "disqualified"), ("sql", "disqualified"), ("sal", "lead"), ("sql", "lead")}
    cells = [[0, 0], [0, 0]]
    pending = 0
    for lead in sorted({m[0] for m in moves} | {d[0] for d in disposed} | audit):
        mine = [m for m in moves if m[0] == lead]
        qualifying = [h for _, s, to, h in mine if to == "mql" or (s in ("mql", None) and to == "sal")]
        mql_at = min(qualifying, default=None)
        start = mql_at if mql_at is not None else -1  # a lead that is no MQL: any time counts
        accepted = any(to == "sal" and h >= start for _, _, to, h in mine)
        rejected = not accepted and (
            any(((s, to) in rejecting or to == "disqualified") and h >= start for _, s, to, h in mine)
            or any(x == lead and h >= start for x, h in disposed)
        )
        row = 0 if mql_at is not None else 1
        if row == 1 and lead not in audit:
            continue
        if accepted or rejected:
            cells[row][0 if accepted else 1] += 1
        elif row == 0:
            pending += 1
    return (cells[0][0], cells[0][1]), (cells[1][0], cells[1][1]), pending


@settings(max_examples=60, deadline=None)
@given(
    st.lists(event_strategy, max_size=14),
    st.lists(st.tuples(st.sampled_from(["L1", "L2", "L3", "L4", "L5"]), st.integers(0, 6)), max_size=4),
    st.sets(st.sampled_from(["L1", "L2", "L3", "L4", "L5", "L9"])),
)
def test_the_table_agrees_with_the_rules_in_words(
    example_plan: AlignmentPlan,
    moves: list[tuple[str, str | None, str, int]],
    disposed: list[tuple[str, int]],
    audit: set[str],
) -> None:
    result = agreement(example_plan, _data(moves, disposed), audit=audit, resamples=5)
    mql_row, other_row, pending = _reference_table(moves, disposed, audit)
    assert result.table == (mql_row, other_row)
    assert result.overall.item(0, "mql_pending") == pending
