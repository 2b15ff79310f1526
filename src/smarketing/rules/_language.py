"""Language rules (L): one vocabulary, written down in the glossary and used in the plan."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._journey import names_in_glossary

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

# Fields people write prose in. Ids, enums and glossary entries themselves are not prose; stage and KPI
# names are checked by J010 and L001, which name the preferred term.
_FREE_TEXT = frozenset(
    {"name", "description", "entry_criteria", "agenda", "pains", "goals", "scope", "action"}
)
_NAMES_CHECKED_ELSEWHERE = re.compile(r"^(journey\.stages|kpis)\[\d+\]\.name$")


@builtin(
    "L001",
    area="language",
    severity="warning",
    title="KPI names are glossary terms",
    rationale="A KPI both teams track must mean the same to both; 'conversion rate' of what to what is "
    "the classic argument. (J010 checks stage names the same way.)",
    fix="Add the KPI name to the glossary with its definition, or rename the KPI to an existing term.",
)
def kpi_names_in_glossary(plan: AlignmentPlan) -> Iterator[Finding]:
    """Every KPI name is a glossary term (case-insensitive)."""
    yield from names_in_glossary(plan, [(f"kpis[{i}].name", k.name) for i, k in enumerate(plan.kpis)], "KPI")


@builtin(
    "L002",
    area="language",
    severity="error",
    title="No synonym belongs to two terms",
    rationale="A discouraged word that maps to two agreed terms cannot be replaced mechanically, and a "
    "word that is both a term and a synonym is banned and required at once.",
    fix="Keep the synonym under one term only, and never list an agreed term as a synonym.",
)
def unambiguous_synonyms(plan: AlignmentPlan) -> Iterator[Finding]:
    """Each synonym maps to one term and is not itself a term."""
    terms = {t.term.casefold(): t.term for t in plan.glossary.terms}
    owners: dict[str, list[str]] = defaultdict(list)
    for i, t in enumerate(plan.glossary.terms):
        for j, synonym in enumerate(t.synonyms):
            key = synonym.casefold()
            path = f"glossary.terms[{i}].synonyms[{j}]"
            if key in terms:
                yield Finding(
                    f"synonym {synonym!r} of {t.term!r} is itself the term {terms[key]!r}", path=path
                )
            elif owners[key] and t.term not in owners[key]:
                yield Finding(
                    f"synonym {synonym!r} belongs to both {owners[key][0]!r} and {t.term!r}", path=path
                )
            owners[key].append(t.term)


@builtin(
    "L003",
    area="language",
    severity="warning",
    title="Free text uses the agreed terms, not discouraged synonyms",
    rationale="The plan is the handbook both teams read; a description that says 'hot lead' where the "
    "glossary says 'Marketing Qualified Lead' teaches the old vocabulary again.",
    fix="Replace the discouraged word with the preferred glossary term.",
)
def preferred_terms(plan: AlignmentPlan) -> Iterator[Finding]:
    """Descriptions, criteria, agendas and other prose avoid the glossary's synonyms."""
    preferred: dict[str, str] = {}
    for t in plan.glossary.terms:  # an ambiguous synonym (L002) maps to its first term
        for s in t.synonyms:
            preferred.setdefault(s.casefold(), t.term)
    if not preferred:
        return
    # One alternation, longest first, so "hot lead" wins over "lead"; linear in the text.
    words = sorted(preferred, key=lambda w: (-len(w), w))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
    for path, text in _prose(plan, ""):
        if _NAMES_CHECKED_ELSEWHERE.match(path):
            continue
        found = dict.fromkeys(m.group(0) for m in pattern.finditer(text))
        for word in found:
            term = preferred[word.casefold()]
            yield Finding(
                f"{word!r} is a discouraged synonym of {term!r}",
                path=path,
                hint=f"Write {term!r} instead of {word!r}.",
            )


def _prose(model: BaseModel, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every free-text value in a model tree, in field order; the glossary is skipped."""
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if not path and key == "glossary":
            continue
        value = getattr(model, name)
        child = f"{path}.{key}" if path else key
        if isinstance(value, BaseModel):
            yield from _prose(value, child)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _prose(item, f"{child}[{i}]")
                elif isinstance(item, str) and name in _FREE_TEXT:
                    yield f"{child}[{i}]", item
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _prose(item, f"{child}.{k}")
        elif isinstance(value, str) and name in _FREE_TEXT:
            yield child, value


RULES: tuple[RuleSpec, ...] = (kpi_names_in_glossary, unambiguous_synonyms, preferred_terms)
