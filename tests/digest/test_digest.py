"""The digest: each section read from its analysis for the period, and the same content in every form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

import smarketing as sm
from smarketing.digest import Digest, digest
from smarketing.errors import DataError
from smarketing.plan import AlignmentPlan
from smarketing.testing.fixtures import example_dataset


def test_sections_of_the_example_october(example_digest: Digest) -> None:
    d = example_digest
    assert (d.period, d.tz) == ("2026-10", "Europe/Berlin")
    assert d.start == datetime(2026, 10, 1, tzinfo=d.start.tzinfo)
    # KPI alerts: the scorecard's own status alerts, nothing recomputed.
    assert [a.kpi for a in d.alerts] == ["sourced_pipeline", "new_revenue", "mql_volume"]
    assert all(a.severity == "critical" for a in d.alerts)
    # SLA: sales' breaches due in October (L6's disposition, due Oct 2, is in; nothing from September).
    sales = [b for b in d.breaches if b.side == "sales"]
    assert all(d.start <= b.due < d.end for b in sales)  # type: ignore[operator]
    assert ("L6", "disposition") in {(b.lead_id, b.commitment) for b in sales}
    assert [(b.commitment, b.detail) for b in d.breaches if b.side == "marketing"] == [
        ("volume", "5 of 450 leads delivered")
    ]
    # Conformance over the leads that moved in October, by team.
    assert d.moved == 6
    assert [(t.team, t.violations) for t in d.conformance] == [("marketing", 6), ("sales", 0)]
    # The one October win and the marketing webinar credited for it by the plan's model (position).
    [win] = d.wins
    assert (win.deal_id, win.lead_id, str(win.amount.amount)) == ("D1", "L1", "24000.00")
    assert [(c.touch_id, c.channel, c.team, c.share) for c in win.credits] == [
        ("T1", "webinar", "marketing", 1.0)
    ]
    assert win.credits[0].value == sm.Money("24000.00", "EUR")
    assert d.rejections == ()
    assert d.notes == ()


def test_a_period_without_facts_is_quiet(example_plan: AlignmentPlan) -> None:
    d = digest(example_plan, example_dataset(), period="2026-W30")
    assert (d.breaches, d.wins, d.rejections, d.moved) == ((), (), (), 0)
    assert "- no deal won" in d.text


def test_rejections_by_reason_in_the_period(example_plan: AlignmentPlan) -> None:
    data = example_dataset()
    t = datetime(2026, 10, 9, 9, tzinfo=UTC)
    rejected = pl.DataFrame(
        {
            "lead_id": ["L2", "L4", "L5"],
            "time": [t, t, datetime(2026, 11, 3, tzinfo=UTC)],
            "person": ["felix.roth"] * 3,
            "reason": ["no_budget", "no_budget", "wrong_persona"],
        }
    )
    # Dispositions by reason: L2 and L4 were accepted first (so not rejected); L5 was not, but in November.
    data = sm.Dataset(
        **{**data.frames(), "dispositions": pl.concat([data.dispositions, rejected], how="diagonal_relaxed")}
    )
    october = digest(example_plan, data, period="2026-10")
    november = digest(example_plan, data, period="2026-11")
    report = sm.dispositions(example_plan, data)
    rejected_leads = set(report.leads.filter(pl.col("rejected")).get_column("lead_id"))
    assert rejected_leads == {"L5"}
    assert october.rejections == ()
    assert [(r.reason, r.leads, r.examples) for r in november.rejections] == [("wrong_persona", 1, ("L5",))]
    assert "wrong_persona: 1 lead(s), e.g. L5" in november.text


def test_forms_say_the_same_thing(example_digest: Digest) -> None:
    d = example_digest
    for heading, lines in d.sections():
        assert heading in d.text
        assert heading in d.html
        assert any(heading in b.get("text", {}).get("text", "") for b in d.to_slack()["blocks"])
        for line in lines:
            assert f"- {line}" in d.text
    assert d.to_frame().columns == ["section", "line"]
    assert d._repr_html_().startswith('<div class="smarketing-digest">')
    assert json.loads(json.dumps(d.to_dict()))["wins"][0]["amount"] == {
        "amount": "24000.00",
        "currency": "EUR",
    }
    assert repr(d) == (
        "Digest('Fernbrook Analytics FY2027', period='2026-10', alerts=3, breaches=12, wins=1, rejections=0)"
    )


def test_output_is_deterministic(example_plan: AlignmentPlan) -> None:
    a = digest(example_plan, example_dataset(), period="2026-10")
    b = digest(example_plan, example_dataset(), period="2026-10")
    assert (a.text, a.html, a.to_slack(), a.to_dict()) == (b.text, b.html, b.to_slack(), b.to_dict())


def test_limit_cuts_each_section_with_a_count(example_plan: AlignmentPlan) -> None:
    d = digest(example_plan, example_dataset(), period="2026-10", limit=2)
    breaches = dict(d.sections())["SLA breaches"]
    assert breaches[1:4][-1] == "... and 9 more"
    assert len(d.to_dict()["sla_breaches"]) == 12  # the data form is never cut


def test_html_escapes_what_the_data_says(example_plan: AlignmentPlan) -> None:
    data = example_dataset()
    touches = data.touchpoints.with_columns(
        pl.when(pl.col("id") == "T1").then(pl.lit("<script>x</script>")).otherwise("channel").alias("channel")
    )
    d = digest(example_plan, sm.Dataset(**{**data.frames(), "touchpoints": touches}), period="2026-10")
    assert "<script>" not in d.html
    assert "&lt;script&gt;" in d.html
    assert "&lt;script&gt;" in json.dumps(d.to_slack())


def test_a_plan_without_an_sla_notes_what_is_missing(example_plan: AlignmentPlan) -> None:
    plan = example_plan.model_copy(update={"sla": None})
    d = digest(plan, example_dataset(), period="2026-10")
    assert d.tz == "UTC"
    assert d.breaches == ()
    assert any(n.startswith("SLA breaches: not computed:") for n in d.notes)
    assert "Notes" in d.text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"period": "2026-13"}, DataError, "2026-13"),
        ({"period": "2026-10", "as_of": datetime(2026, 11, 1)}, DataError, "timezone-aware"),
        ({"period": "2026-10", "limit": 0}, ValueError, "limit must be at least 1"),
    ],
)
def test_bad_options(
    example_plan: AlignmentPlan, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        digest(example_plan, example_dataset(), **kwargs)  # type: ignore[arg-type]


def test_email_needs_a_recipient(example_digest: Digest) -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        example_digest.to_email(sender="a@example.com", to=[])


def test_credits_are_attributions_own_per_touch_credit(example_plan: AlignmentPlan) -> None:
    from smarketing.datasets import synthetic

    data = synthetic(example_plan, seed=7, n_leads=400)
    fx = sm.FxTable([("USD", "EUR", datetime(1970, 1, 1).date(), "0.92")])
    d = digest(example_plan, data, period="2026-10", fx=fx)
    assert d.wins, "the synthetic October has wins"
    won = [w.deal_id for w in d.wins]
    deals = data.deals.filter(pl.col("id").is_in(won))
    leads = deals.get_column("lead_id").implode()
    result = sm.attribute(
        {"touchpoints": data.touchpoints.filter(pl.col("lead_id").is_in(leads)), "deals": deals},
        model="position",
        per_touch=True,
        fx=fx,
        currency="EUR",
    )
    assert result.touches is not None
    expected = {row["touch"]: row["value_EUR"] for row in result.touches.iter_rows(named=True)}
    credited = [c for w in d.wins for c in w.credits]
    assert credited
    assert all(c.team == "marketing" and c.value.amount == expected[c.touch_id] for c in credited)


def test_a_win_without_touches_has_no_credit(example_plan: AlignmentPlan) -> None:
    data = example_dataset()
    untouched = sm.Dataset(
        **{**data.frames(), "touchpoints": data.touchpoints.filter(pl.col("lead_id") != "L1")}
    )
    [win] = digest(example_plan, untouched, period="2026-10").wins
    assert (win.deal_id, win.credits) == ("D1", ())
    assert win.line().endswith("; no marketing touch credited")
