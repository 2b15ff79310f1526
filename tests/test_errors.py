"""The exception tree: one root, builtin bases, places in messages and attributes, pickling."""

from __future__ import annotations

import copy
import pickle

import pytest

import smarketing
from smarketing import errors
from smarketing.errors import (
    CurrencyMismatchError,
    DataError,
    DeliveryError,
    FormulaError,
    LoadError,
    PlanError,
    PlanIssue,
    PluginError,
    RuleError,
    SmarketingError,
)

TREE = [
    (PlanError, ValueError),
    (DataError, ValueError),
    (CurrencyMismatchError, TypeError),
    (RuleError, ValueError),
    (PluginError, ImportError),
    (DeliveryError, OSError),
]


@pytest.mark.parametrize(("cls", "builtin"), TREE, ids=[c.__name__ for c, _ in TREE])
def test_each_error_is_ours_and_a_builtin(cls: type[SmarketingError], builtin: type[Exception]) -> None:
    assert issubclass(cls, SmarketingError)
    assert issubclass(cls, builtin)
    assert cls.__mro__[1:3] == (SmarketingError, builtin)
    with pytest.raises(builtin):
        raise cls("boom")


def test_root() -> None:
    assert SmarketingError.__bases__ == (Exception,)
    assert {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, SmarketingError)} == {
        SmarketingError,
        FormulaError,
        LoadError,
        *(c for c, _ in TREE),
    }


def test_formula_error_is_a_located_plan_error() -> None:
    err = FormulaError("unknown metric 'sql'", formula="sqls / sql", col=8)
    assert isinstance(err, PlanError)
    assert (str(err), err.col, err.formula) == ("col 8: unknown metric 'sql'", 8, "sqls / sql")
    again = pickle.loads(pickle.dumps(err))
    assert (str(again), again.col, again.formula) == (str(err), 8, "sqls / sql")
    assert "FormulaError" in (errors.__doc__ or "")


@pytest.mark.parametrize(("cls", "builtin"), TREE, ids=[c.__name__ for c, _ in TREE])
def test_tree_is_drawn_in_the_docstring(cls: type[SmarketingError], builtin: type[Exception]) -> None:
    assert errors.__doc__ is not None
    assert f"{cls.__name__} ({builtin.__name__})" in errors.__doc__


def test_top_level_exports_the_tree() -> None:
    for cls, _ in TREE:
        assert getattr(smarketing, cls.__name__) is cls
    assert smarketing.SmarketingError is SmarketingError


# --------------------------------------------------------------------------------------------------
# Messages name the place.


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"file": "plan.yaml", "line": 42, "path": "journey.stages[3].owner"},
            "plan.yaml:42: journey.stages[3].owner: bad",
        ),
        ({"file": "plan.yaml", "line": 42}, "plan.yaml:42: bad"),
        ({"file": "plan.yaml", "path": "teams"}, "plan.yaml: teams: bad"),
        ({"file": "plan.yaml"}, "plan.yaml: bad"),
        ({"line": 3, "path": "name"}, "line 3: name: bad"),
        ({"line": 3}, "line 3: bad"),
        ({"path": "kpis[0].owners[1]"}, "kpis[0].owners[1]: bad"),
        ({}, "bad"),
    ],
)
def test_plan_error_message(kwargs: dict[str, object], text: str) -> None:
    err = PlanError("bad", **kwargs)  # type: ignore[arg-type]
    assert str(err) == text
    assert (err.file, err.line, err.path, err.message) == (
        kwargs.get("file"),
        kwargs.get("line"),
        kwargs.get("path", ""),
        "bad",
    )
    assert err.issues == (PlanIssue("bad", path=str(kwargs.get("path", "")), line=kwargs.get("line")),)  # type: ignore[arg-type]


def test_plan_error_with_several_issues() -> None:
    issues = [
        PlanIssue("unknown team 'mktg'", path="journey.stages[2].owner", line=14),
        PlanIssue("unknown person 'ida'", path="arbiter.person", line=90),
        PlanIssue("required field missing", path="name"),
    ]
    err = PlanError("ignored when issues are given", file="plan.yaml", issues=issues)
    assert str(err) == "plan.yaml:14: journey.stages[2].owner: unknown team 'mktg' (and 2 more problem(s))"
    assert (err.line, err.path, err.message) == (14, "journey.stages[2].owner", "unknown team 'mktg'")
    assert err.issues == tuple(issues)
    assert [i.format("plan.yaml") for i in err.issues] == [
        "plan.yaml:14: journey.stages[2].owner: unknown team 'mktg'",
        "plan.yaml:90: arbiter.person: unknown person 'ida'",
        "plan.yaml: name: required field missing",
    ]


def test_plan_issue_value_semantics() -> None:
    a = PlanIssue("m", path="p", line=1)
    assert a == PlanIssue("m", path="p", line=1)
    assert a != PlanIssue("m", path="p", line=2)
    assert a != "m"
    assert len({a, PlanIssue("m", path="p", line=1)}) == 1
    assert repr(a) == "PlanIssue('m', path='p', line=1)"
    assert PlanIssue("m").format() == "m"


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"record": "L-17", "field": "time", "kind": "touchpoint"}, "touchpoint L-17: time: must be aware"),
        ({"record": "L-17", "field": "time"}, "L-17: time: must be aware"),
        ({"record": "D1", "kind": "deal"}, "deal D1: must be aware"),
        ({"field": "amount"}, "amount: must be aware"),
        ({"kind": "lead"}, "lead: must be aware"),
        ({}, "must be aware"),
    ],
)
def test_data_error_message(kwargs: dict[str, str], text: str) -> None:
    err = DataError("must be aware", **kwargs)
    assert str(err) == text
    assert (err.record, err.field, err.kind, err.message) == (
        kwargs.get("record"),
        kwargs.get("field"),
        kwargs.get("kind"),
        "must be aware",
    )


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"plugin": "hubspot", "group": "smarketing.connectors"},
            "smarketing.connectors: hubspot: cannot import",
        ),
        ({"plugin": "hubspot"}, "hubspot: cannot import"),
        ({}, "cannot import"),
    ],
)
def test_plugin_error_message(kwargs: dict[str, str], text: str) -> None:
    err = PluginError("cannot import", **kwargs)
    assert str(err) == text
    assert (err.plugin, err.group) == (kwargs.get("plugin"), kwargs.get("group"))


# --------------------------------------------------------------------------------------------------
# Pickling (errors cross process boundaries in parallel runs) and copying.


@pytest.mark.parametrize(
    "protocol",
    [pytest.param(p) for p in range(pickle.HIGHEST_PROTOCOL + 1)],
)
def test_plan_error_pickles(protocol: int) -> None:
    err = PlanError(
        "first",
        file="plan.yaml",
        issues=[PlanIssue("first", path="teams[1].id", line=7), PlanIssue("second", path="name", line=2)],
    )
    back = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(back) is PlanError
    assert str(back) == str(err)
    assert (back.file, back.line, back.path, back.message, back.issues) == (
        "plan.yaml",
        7,
        "teams[1].id",
        "first",
        err.issues,
    )


def test_simple_plan_error_pickles() -> None:
    err = PlanError("bad", file="plan.yaml", line=3, path="name")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.file, back.line, back.path) == ("plan.yaml:3: name: bad", "plan.yaml", 3, "name")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_data_error_pickles(protocol: int) -> None:
    err = DataError("must be aware", record="L-17", field="time", kind="touchpoint")
    back = pickle.loads(pickle.dumps(err, protocol=protocol))
    assert type(back) is DataError
    assert (str(back), back.message, back.record, back.field, back.kind) == (
        "touchpoint L-17: time: must be aware",
        "must be aware",
        "L-17",
        "time",
        "touchpoint",
    )


@pytest.mark.parametrize(
    "err",
    [
        PlanError("bad", file="plan.yaml", line=3, path="name"),
        DataError("bad", record="D1", field="amount", kind="deal"),
        PluginError("bad", plugin="p", group="smarketing.rules"),
        DeliveryError("the webhook answered HTTP 500", channel="slack"),
        CurrencyMismatchError("cannot add EUR and USD amounts"),
        RuleError("duplicate rule code 'SM001'"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_copy_and_pickle(err: SmarketingError) -> None:
    for back in (copy.copy(err), copy.deepcopy(err), pickle.loads(pickle.dumps(err))):
        assert type(back) is type(err)
        assert str(back) == str(err)
        assert vars(back) == vars(err)
