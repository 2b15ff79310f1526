r"""Common language: the terms both teams agree on, the words they agree to drop, and a linter for text.

The subject reads top-down: :mod:`~smarketing.glossary.model` (the :class:`Glossary` of agreed
:class:`Term`\ s written in the plan), :mod:`~smarketing.glossary.lint` (the verb :func:`lint_text`, which
finds discouraged and forbidden words in campaign copy, sales scripts and pages, and the :class:`TextLint`
it returns), and two private helpers beside them: ``_matcher`` (one compiled expression per glossary) and
``_markup`` (the prose of Markdown and HTML, at its place in the file).

Examples:
    >>> from smarketing.glossary import Glossary, lint_text
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
    >>> [(f.line, f.column, f.text, f.term) for f in lint_text(g, "Two Hot-Leads today.").findings]
    [(1, 5, 'Hot-Leads', 'SQL')]
"""

from smarketing.glossary.lint import TextFinding, TextLint, lint_text
from smarketing.glossary.model import Glossary, Term

__all__ = ["Glossary", "Term", "TextFinding", "TextLint", "lint_text"]
