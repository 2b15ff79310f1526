"""Language rules (L): one vocabulary, written down in the glossary and used in the plan."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from smarketing.rules._core import Finding, RuleSpec, builtin
from smarketing.rules._journey import names_in_glossary

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

# Fields people write prose in. Ids, enums and glossary entries themselves are not prose; stage and KPI
# names are checked by J010 and L001, which name the preferred term.
_FREE_TEXT = frozenset(
    {"name", "description", "entry_criteria", "agenda", "pains", "goals", "scope", "action"}
)
_WORD = re.compile(r"\w+")
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
    preferred: dict[tuple[str, ...], str] = {}
    for t in plan.glossary.terms:  # an ambiguous synonym (L002) maps to its first term
        for s in t.synonyms:
            words = tuple(_WORD.findall(s.casefold()))
            if words:
                preferred.setdefault(words, t.term)
    if not preferred:
        return
    longest = max(len(words) for words in preferred)
    first_words = {words[0] for words in preferred}
    data = plan.model_dump(by_alias=True, exclude={"glossary"})
    for path, text in _prose(data, ""):
        # Most prose holds no discouraged word at all: one set test rules it out.
        if first_words.isdisjoint(_WORD.findall(text.casefold())):
            continue
        if _NAMES_CHECKED_ELSEWHERE.match(path):
            continue
        for word, term in _synonyms_in(text, preferred, longest):
            yield Finding(
                f"{word!r} is a discouraged synonym of {term!r}",
                path=path,
                hint=f"Write {term!r} instead of {word!r}.",
            )


def _synonyms_in(text: str, preferred: dict[tuple[str, ...], str], longest: int) -> Iterator[tuple[str, str]]:
    """(words as written, preferred term) for each distinct synonym in ``text``, longest match first.

    Words are compared, not characters, so the cost is linear in the text whatever the glossary's size
    (one alternation of thousands of synonyms in a regular expression is not).
    """
    matches = list(_WORD.finditer(text))
    words = [m.group(0).casefold() for m in matches]
    seen: set[str] = set()
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            term = preferred.get(tuple(words[i : i + n]))
            if term is not None:
                written = text[matches[i].start() : matches[i + n - 1].end()]
                if written.casefold() not in seen:
                    seen.add(written.casefold())
                    yield written, term
                i += n
                break
        else:
            i += 1


def _prose(data: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every free-text value in a dumped plan, in document order."""
    for key, value in data.items():
        child = f"{path}.{key}" if path else key
        if isinstance(value, str):
            if key in _FREE_TEXT:
                yield child, value
        elif isinstance(value, dict):
            yield from _prose(value, child)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _prose(item, f"{child}[{i}]")
                elif isinstance(item, str) and key in _FREE_TEXT:
                    yield f"{child}[{i}]", item


RULES: tuple[RuleSpec, ...] = (kpi_names_in_glossary, unambiguous_synonyms, preferred_terms)
