"""The glossary model: the terms both teams agree on, and the words they agree to drop.

Examples:
    >>> from smarketing.glossary import Glossary
    >>> g = Glossary.model_validate(
    ...     {
    ...         "terms": [
    ...             {
    ...                 "term": "SQL",
    ...                 "definition": "A lead sales accepted and qualified.",
    ...                 "synonyms": ["hot lead"],
    ...             }
    ...         ]
    ...     }
    ... )
    >>> g.preferred("Hot Lead")
    'SQL'
    >>> g.has_term("sql")
    True
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from smarketing._base import FrozenModel, Id, Text

__all__ = ["Glossary", "Term"]


class Term(FrozenModel):
    """An agreed term, its definition, the discouraged synonyms it replaces and the words never to use."""

    term: Text = Field(description="The agreed term.")
    definition: Text = Field(description="What it means, in one or two sentences.")
    synonyms: list[Text] = Field(
        default_factory=list, description="Discouraged words to replace with the term."
    )
    forbidden: list[Text] = Field(
        default_factory=list,
        description="Words never to use for this (in campaign copy, sales scripts, toward customers); "
        "lint-text reports them as forbidden, not merely discouraged, and suggests the term.",
    )
    owner: Id | None = Field(default=None, description="Team that maintains the definition.")


class Glossary(FrozenModel):
    """The handbook of agreed terms. Look-ups ignore case."""

    terms: list[Term] = Field(default_factory=list, description="Agreed terms.")

    @model_validator(mode="after")
    def _unique_terms(self) -> Self:
        seen: set[str] = set()
        for t in self.terms:
            key = t.term.casefold()
            if key in seen:
                raise ValueError(f"term {t.term!r} is defined twice")
            seen.add(key)
        return self

    def has_term(self, word: str) -> bool:
        """Whether ``word`` is an agreed term (case-insensitive)."""
        key = word.casefold()
        return any(t.term.casefold() == key for t in self.terms)

    def preferred(self, word: str) -> str | None:
        """The agreed term that replaces a discouraged synonym, or ``None``."""
        key = word.casefold()
        for t in self.terms:
            if any(s.casefold() == key for s in t.synonyms):
                return t.term
        return None
