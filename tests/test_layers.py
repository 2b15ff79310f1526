"""The import-layer contract of ``src/smarketing`` (issue 14), checked on the static import graph (grimp).

Arrows point down the layers only: a module may import from its own layer or a lower one, never from a
higher one. Imports under ``if TYPE_CHECKING:`` and inside functions count like any other: a contract that
held only at run time would still let the design run in circles. On top of the layers:

* no import cycle anywhere in the package, whatever the layers;
* no kernel and no plumbing imports the plan: ``frames`` and every private module of an analysis subject
  (``journey._kernel``, ``sla._kernel``, ...) get the parts of a plan they need as arguments;
* ``smarketing.typing`` imports nothing of smarketing at all.

:data:`LAYERS` is the contract; ``docs/architecture.md`` shows it (its generated parts are checked against
this table by ``tests/test_architecture_docs.py``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

import grimp
import networkx as nx
import pytest

PACKAGE = "smarketing"

#: The layers, top to bottom, each with the module patterns that belong to it (``fnmatch`` patterns over
#: dotted names; a module belongs to the first layer, in :data:`PRIORITY` order, with a matching pattern).
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "outside",
        "the front door (top-level re-exports), the command line, the digest and its delivery, the HTML "
        "report, synthetic data and test helpers",
        (
            "smarketing",
            "smarketing.cli*",
            "smarketing.digest*",
            "smarketing.report*",
            "smarketing.datasets*",
            "smarketing.testing*",
        ),
    ),
    ("rules", "the alignment linter: engine, catalogue per area, report", ("smarketing.rules*",)),
    (
        "analyses",
        "each subject's public verbs, result types and private kernel",
        (
            "smarketing.journey*",
            "smarketing.sla*",
            "smarketing.kpi*",
            "smarketing.persona*",
            "smarketing.attribution*",
            "smarketing.rewards*",
            "smarketing.feedback*",
        ),
    ),
    (
        "sources",
        "CRM connectors: sources read into canonical records, every refused row reported",
        ("smarketing.connectors*",),
    ),
    (
        "plumbing",
        "shared frame machinery: as_lazy, the business clock, money columns; the plugin loader",
        ("smarketing.frames*", "smarketing._plugins"),
    ),
    ("plan", "the aggregate, its strict reader and its located problems", ("smarketing.plan*",)),
    (
        "definitions",
        "what people write in a plan, one model module per subject",
        (
            "smarketing.*.model",
            "smarketing.kpi._formula",
            "smarketing.journey._draw",
            "smarketing.teams",
            "smarketing.campaigns",
            "smarketing.glossary*",
        ),
    ),
    (
        "vocabulary",
        "exact money, business time, canonical records, errors, limits and the plugin protocols",
        (
            "smarketing.errors",
            "smarketing._limits",
            "smarketing._base",
            "smarketing.money",
            "smarketing.calendar",
            "smarketing.records*",
            "smarketing.typing",
            "smarketing._periods",
            "smarketing._display",
            "smarketing._charts",
        ),
    ),
)

#: The order patterns are tried in: the most specific layers first, so ``smarketing.records.model`` is
#: vocabulary, ``smarketing.plan.model`` the plan and ``smarketing.sla.model`` a definition, not an analysis.
PRIORITY = ("vocabulary", "plan", "definitions", "plumbing", "outside", "rules", "analyses", "sources")

#: The subjects of the analyses layer; each is a folder with a ``model`` module and a private kernel.
SUBJECTS = ("journey", "sla", "kpi", "persona", "attribution", "rewards")

#: Modules that must never import ``smarketing.plan`` (even for type hints): plumbing and the kernels.
NO_PLAN = ("smarketing.frames*", *(f"smarketing.{s}._*" for s in SUBJECTS))

_RANK = {name: len(LAYERS) - i for i, (name, _, _) in enumerate(LAYERS)}
_PATTERNS = {name: patterns for name, _, patterns in LAYERS}


def layer_of(module: str) -> str | None:
    """The name of the layer ``module`` belongs to, or None when no pattern matches."""
    for name in PRIORITY:
        if any(fnmatch.fnmatchcase(module, p) for p in _PATTERNS[name]):
            return name
    return None


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=False)


def _arrows(graph: grimp.ImportGraph) -> Iterator[tuple[str, str]]:
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            yield module, imported


def _where(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    lines = ", ".join(str(d["line_number"]) for d in details)
    return f"{importer} -> {imported} (line {lines})"


def test_every_module_has_a_layer(graph: grimp.ImportGraph) -> None:
    lost = sorted(m for m in graph.modules if layer_of(m) is None)
    assert not lost, "modules in no layer: " + ", ".join(lost)


def test_arrows_point_down_the_layers(graph: grimp.ImportGraph) -> None:
    upward = [
        f"{_where(graph, a, b)}: {layer_of(a)} imports {layer_of(b)}"
        for a, b in _arrows(graph)
        if layer_of(a) and layer_of(b) and _RANK[layer_of(b) or ""] > _RANK[layer_of(a) or ""]
    ]
    assert not upward, "imports up the layers:\n" + "\n".join(upward)


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    g = nx.DiGraph(list(_arrows(graph)))
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_kernels_and_plumbing_never_import_the_plan(graph: grimp.ImportGraph) -> None:
    bad = [
        _where(graph, a, b)
        for a, b in _arrows(graph)
        if any(fnmatch.fnmatchcase(a, p) for p in NO_PLAN)
        and (b == "smarketing.plan" or b.startswith("smarketing.plan."))
        and not a.startswith("smarketing.plan")
    ]
    assert not bad, "kernels or plumbing importing the plan:\n" + "\n".join(bad)


def test_typing_imports_nothing_of_smarketing(graph: grimp.ImportGraph) -> None:
    assert sorted(graph.find_modules_directly_imported_by("smarketing.typing")) == []


def test_the_contract_catches_an_upward_arrow() -> None:
    # The table itself: a kernel is an analysis, above the plan; a model is a definition, below it.
    assert layer_of("smarketing.sla._kernel") == "analyses"
    assert layer_of("smarketing.sla.model") == "definitions"
    assert layer_of("smarketing.records.model") == "vocabulary"
    assert _RANK["analyses"] > _RANK["plan"] > _RANK["definitions"] > _RANK["vocabulary"]
