"""Matching leads and accounts to personas: hand-computed cases."""

from __future__ import annotations

import polars as pl
import pytest

import smarketing as sm
from smarketing.errors import DataError
from smarketing.persona import match

from .helpers import day, plan_with

OPS = {
    "id": "ops",
    "firmographics": {"industries": ["logistics"], "company_size": {"min": 200}},
    "roles": {"titles": ["operations", "supply chain"], "seniorities": ["director", "vp"]},
}
ANY_LOGISTICS = {"id": "logistics", "firmographics": {"industries": ["logistics"]}}


def lead(lead_id: str, **fields: object) -> sm.Lead:
    return sm.Lead(id=lead_id, created_at=day(0), **fields)  # type: ignore[arg-type]


def rows(m: sm.persona.PersonaMatch, *columns: str) -> list[tuple[object, ...]]:
    return m.leads.select("lead_id", *columns).rows()


def test_every_counted_criterion_must_pass() -> None:
    plan = plan_with(OPS)
    leads = [
        lead(
            "L1", industry="logistics", company_size=250, title="Director of Operations", seniority="director"
        ),
        lead(
            "L2", industry="logistics", company_size=150, title="Director of Operations", seniority="director"
        ),
        lead("L3", industry="logistics", company_size=250, title="Head of Ops", seniority="director"),
    ]
    m = match(plan, {"leads": leads})
    assert rows(m, "persona", "matched", "passed", "failed") == [
        ("L1", "ops", True, ["industries", "company_size", "titles", "seniorities"], []),
        ("L2", None, False, ["industries", "titles", "seniorities"], ["company_size"]),
        ("L3", None, False, ["industries", "company_size", "seniorities"], ["titles"]),
    ]
    assert m.totals["matched"] == 1
    assert m.totals["unmatched"] == 2


@pytest.mark.parametrize(
    ("title", "hit"),
    [
        ("VP Supply Chain", True),
        ("vp supply chain & procurement", True),
        ("OPERATIONS lead", True),
        ("Operational excellence", False),  # a keyword, not a prefix
        ("Supply Chainer", False),
        ("Chain of supply", False),
        ("Head of Operations/Logistics", True),
    ],
)
def test_titles_are_keywords_on_word_boundaries(title: str, hit: bool) -> None:
    plan = plan_with({"id": "p", "roles": {"titles": ["operations", "supply chain"]}})
    m = match(plan, {"leads": [lead("L1", title=title)]})
    assert m.leads.get_column("matched").to_list() == [hit]


def test_missing_attribute_falls_back_to_the_account_then_fails_as_missing() -> None:
    plan = plan_with(OPS)
    accounts = [sm.Account(id="A1", industry="logistics", company_size=900)]
    common = {"title": "VP Operations", "seniority": "vp"}
    leads = [
        lead("L1", account_id="A1", **common),  # both from the account
        lead("L2", account_id="A1", industry="retail", **common),  # the lead's own value wins
        lead("L3", **common),  # no account: missing
        lead("L4", account_id="A1", title="VP Operations"),  # seniority: no fallback, missing
    ]
    m = match(plan, {"leads": leads, "accounts": accounts})
    assert rows(m, "persona", "failed", "missing") == [
        ("L1", "ops", [], []),
        ("L2", None, ["industries"], []),
        ("L3", None, ["industries", "company_size"], ["industries", "company_size"]),
        ("L4", None, ["seniorities"], ["seniorities"]),
    ]


def test_ties_go_to_the_more_specific_persona_then_plan_order() -> None:
    first = {"id": "first", "firmographics": {"industries": ["logistics"]}}
    second = {"id": "second", "firmographics": {"regions": ["dach"]}}
    specific = {"id": "specific", "firmographics": {"industries": ["logistics"], "regions": ["dach"]}}
    both = lead("L1", industry="logistics", region="dach")
    only_first = lead("L2", industry="logistics", region="nordics")
    m = match(plan_with(first, second, specific), {"leads": [both, only_first]})
    assert rows(m, "persona", "candidates", "tied") == [
        ("L1", "specific", 3, True),
        ("L2", "first", 1, False),
    ]
    # Equally specific: plan order.
    m = match(plan_with(second, first), {"leads": [both]})
    assert rows(m, "persona", "tied") == [("L1", "second", True)]
    assert m.counts.filter(pl.col("persona") == "second").get_column("won_ties").to_list() == [1]
    assert m.totals["tied"] == 1


def test_unmatched_lead_names_the_closest_persona() -> None:
    a = {"id": "a", "firmographics": {"industries": ["logistics"], "regions": ["dach"], "countries": ["DE"]}}
    b = {"id": "b", "firmographics": {"industries": ["retail"], "regions": ["dach"], "countries": ["AT"]}}
    c = {"id": "c", "firmographics": {"industries": ["retail"], "regions": ["nordics"]}}
    m = match(plan_with(a, b, c), {"leads": [lead("L1", industry="retail", region="dach", country="DE")]})
    # a passes 2 of 3, b passes 2 of 3, c 1 of 2: a and b tie on criteria passed, plan order picks a.
    assert rows(m, "persona", "closest", "passed", "failed") == [
        ("L1", None, "a", ["regions", "countries"], ["industries"])
    ]
    assert m.counts.select("persona", "closest").rows() == [("a", 1), ("b", 0), ("c", 0)]


def test_empty_criteria_mean_any_and_no_data_criteria_are_named_not_counted() -> None:
    persona = {
        "id": "p",
        "firmographics": {"technologies": ["sap"]},
        "roles": {"departments": ["finance"]},
    }
    m = match(plan_with(persona), {"leads": [lead("L1")]})
    assert rows(m, "persona", "passed") == [("L1", "p", [])]
    assert m.no_data == {"p": ("technologies", "departments")}
    assert m.counts.select("persona", "criteria").rows() == [("p", 0)]


def test_accounts_match_on_firmographics_alone() -> None:
    m = match(
        plan_with(OPS, ANY_LOGISTICS),
        {"accounts": [sm.Account(id="A1", industry="logistics", company_size=900), sm.Account(id="A2")]},
    )
    assert m.accounts.select("account_id", "persona", "tied", "missing").rows() == [
        ("A1", "ops", True, []),
        ("A2", None, False, ["industries", "company_size"]),
    ]
    assert m.totals["accounts_matched"] == 1


def test_as_of_leaves_later_leads_out_and_counts_them() -> None:
    leads = [sm.Lead(id="L1", created_at=day(0)), sm.Lead(id="L2", created_at=day(5))]
    m = match(plan_with(ANY_LOGISTICS), {"leads": leads}, as_of=day(1))
    assert m.leads.get_column("lead_id").to_list() == ["L1"]
    assert m.totals["leads_after_as_of"] == 1
    with pytest.raises(DataError, match="timezone-aware"):
        match(plan_with(ANY_LOGISTICS), {"leads": leads}, as_of=day(1).replace(tzinfo=None))


def test_frames_in_and_the_result_out() -> None:
    frame = pl.DataFrame({"id": ["L2", "L1"], "created_at": [day(0)] * 2, "industry": ["logistics", None]})
    m = match(plan_with(ANY_LOGISTICS), {"leads": frame})
    assert rows(m, "persona") == [("L1", None), ("L2", "logistics")]
    d = m.to_dict()
    assert d["totals"]["matched"] == 1
    assert d["leads"][1]["persona"] == "logistics"
    assert "1 of 2 lead(s) matched a persona" in repr(m)
    assert "<table>" in m._repr_html_()
    with pytest.raises(TypeError, match="Dataset or a mapping"):
        match(plan_with(ANY_LOGISTICS), [frame])


def test_example_plan_matches_the_example_leads(example_plan: sm.AlignmentPlan) -> None:
    leads = [
        lead(
            "L1",
            industry="retail",
            company_size=800,
            region="dach",
            title="Finance Director",
            seniority="director",
        ),
        lead(
            "L2",
            industry="logistics",
            company_size=300,
            region="nordics",
            title="VP Logistics",
            seniority="vp",
        ),
    ]
    m = match(example_plan, {"leads": leads})
    assert rows(m, "persona") == [("L1", "finance-lead"), ("L2", "ops-director")]
