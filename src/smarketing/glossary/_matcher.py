"""One compiled regular expression per glossary, for :func:`~smarketing.glossary.lint_text` (private).

Every discouraged synonym and forbidden word becomes one alternative of a single expression: its words
joined by a flexible separator (spaces, tabs, a hyphen, one line break), the last word also in its simple
English plural, the whole between word boundaries. Alternatives run longest first, so "hot lead list" wins
over "hot lead" at the same place. Python's ``re`` tries the alternatives in order at each position, so the
leftmost match wins and, among matches at one position, the longest entry. The expression is compiled
once per glossary object and cached while that object lives.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import attrs

from smarketing.glossary.model import Glossary

__all__ = ["Entry", "Matcher", "matcher"]

#: A word character: letters, digits and ``_`` of any script, as ``re`` counts them.
_WORD = re.compile(r"\w+")

#: Horizontal space between the words of a term (no-break spaces too).
_SPACE = r"[ \t\u00a0]"

#: What may separate two words of an entry: spaces, a hyphen, one line break (never a blank line, which
#: ends the paragraph), in that order, each optional. Possessive quantifiers: a word follows, so spaces
#: are never given back, and a hostile run of spaces costs linear time.
_SEPARATOR = rf"{_SPACE}*+(?:-{_SPACE}*+)?(?:\n{_SPACE}*+)?"

#: The separator where the words may not be written together ("a team" must not match "ateam").
_SOME_SEPARATOR = rf"(?=[ \t\u00a0\n-]){_SEPARATOR}"

#: Shortest word of an entry that may be written joined to its neighbour ("hot lead" as "hotlead").
_JOIN_MIN = 3

Reason = Literal["deprecated", "forbidden"]


@attrs.frozen
class Entry:
    """One word to flag: as listed in the glossary, the agreed term to use instead, and why."""

    word: str
    term: str
    reason: Reason


@attrs.frozen
class Matcher:
    """The compiled expression and the entry behind each of its capturing groups (group ``i + 1``)."""

    pattern: re.Pattern[str] | None
    folded: re.Pattern[str] | None
    entries: tuple[Entry, ...]

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The matches in ``text``, leftmost first, at the offsets of ``text``."""
        if self.pattern is None or self.folded is None:
            return iter(())
        lower = text.lower()
        if len(lower) == len(text):
            return self.pattern.finditer(lower)
        return self.folded.finditer(text)

    def entry_of(self, match: re.Match[str]) -> Entry:
        """The entry a match of :attr:`pattern` found."""
        assert match.lastindex is not None
        return self.entries[match.lastindex - 1]

    def entry_for(self, word: str) -> Entry | None:
        """The entry that ``word`` (any variant: "Hot-Leads") names as a whole, or ``None``."""
        if self.folded is None:
            return None
        found = self.folded.fullmatch(word.strip())
        return None if found is None else self.entry_of(found)


def _plural(word: str) -> list[str]:
    """The atoms of ``word`` (one per character) and its simple English plural.

    lead(s), box(es), compan(y|ies); a word with digits or ``_`` has no plural.
    """
    chars = [re.escape(c) for c in word]
    if not word.isalpha():
        return chars
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return [*chars, "(?:es)?"]
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return [*chars[:-1], "(?:y|ies)"]
    return [*chars, "s?"]


def _atoms(word: str, terms: frozenset[str]) -> list[str]:
    """The pattern of one entry (in lower case) as a list of atoms.

    One atom per character, one per separator between words, one for the plural ending; the trie of
    :func:`_trie` shares the common prefixes of atoms.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(word)]
    if not words:  # only punctuation: matched as written
        return [re.escape(c) for c in word]
    joined = "".join(word[a:b] for a, b in words)
    # Written together only when no word is short and the joined form is not an agreed term itself.
    may_join = all(b - a >= _JOIN_MIN for a, b in words) and joined not in terms
    atoms = [re.escape(c) for c in word[: words[0][0]]]
    for index, (start, end) in enumerate(words):
        if index:
            literal = word[words[index - 1][1] : start].strip(" \t-")
            if literal:  # "A/B test": the slash must be there, spaces around it may vary
                atoms.append(f"{_SPACE}*+{re.escape(literal)}{_SPACE}*+")
            else:
                atoms.append(_SEPARATOR if may_join else _SOME_SEPARATOR)
        last = index == len(words) - 1 and end == len(word)
        atoms.extend(_plural(word[start:end]) if last else [re.escape(c) for c in word[start:end]])
    atoms.extend(re.escape(c) for c in word[words[-1][1] :])
    return atoms


class _Node:
    """A node of the atom trie: the children by atom, the entry that ends here, the longest entry below."""

    __slots__ = ("children", "depth", "entry")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entry: int | None = None
        self.depth = 0


def _trie(entries: Sequence[Entry], terms: frozenset[str]) -> _Node:
    root = _Node()
    for index, entry in enumerate(entries):
        atoms = _atoms(entry.word.lower(), terms)
        node = root
        node.depth = max(node.depth, len(atoms))
        for position, atom in enumerate(atoms):
            node = node.children.setdefault(atom, _Node())
            node.depth = max(node.depth, len(atoms) - position - 1)
        if node.entry is None:  # the same pattern twice: the first entry keeps it
            node.entry = index
    return root


def _emit(root: _Node) -> tuple[str, list[int]]:
    """The trie as one expression, and the entry of each capturing group in order of its opening.

    At each node the longer continuations come first and the entry that ends there last, each end marked
    by an empty group: at one place the longest entry wins. The first atom of each top-level alternative is
    a plain character, so ``re`` can skip at once to the places where some entry could start; the word
    boundary before it is checked just after it. Iterative: a long entry is a long chain, not a deep stack.
    """
    out: list[str] = []
    groups: list[int] = []
    # Work items, last first: ("node", node, top), ("text", text) or ("end", entry): an entry's group.
    stack: list[tuple[str, Any, bool]] = [("node", root, True)]
    while stack:
        what, value, top = stack.pop()
        if what == "text":
            out.append(value)
            continue
        if what == "end":
            groups.append(value)
            out.append(r"()(?!\w)")
            continue
        node: _Node = value
        pending: list[tuple[str, Any, bool]] = []
        for atom in sorted(node.children, key=lambda a: (-node.children[a].depth, a)):
            pending.append(("text", "|" if pending else "", False))
            pending.append(("text", rf"{atom}(?<!\w{atom})" if top else atom, False))
            pending.append(("node", node.children[atom], False))
        if node.entry is not None:
            pending.append(("text", "|" if pending else "", False))
            pending.append(("end", node.entry, False))
        if len(node.children) + (node.entry is not None) > 1:
            pending = [("text", "(?:", False), *pending, ("text", ")", False)]
        stack.extend(reversed(pending))
    return "".join(out), groups


def _entries(glossary: Glossary) -> list[Entry]:
    """Every word to flag once: forbidden words before discouraged ones, then in glossary order."""
    seen: set[str] = set()
    found: list[Entry] = []
    for reason in ("forbidden", "deprecated"):
        for term in glossary.terms:
            for word in term.forbidden if reason == "forbidden" else term.synonyms:
                key = " ".join(_WORD.findall(word.casefold())) or word.casefold()
                if key not in seen:
                    seen.add(key)
                    found.append(Entry(word=word, term=term.term, reason=reason))
    return found


def compile_matcher(glossary: Glossary) -> Matcher:
    """The matcher of a glossary, built afresh (see :func:`matcher` for the cached one)."""
    entries = _entries(glossary)
    if not entries:
        return Matcher(pattern=None, folded=None, entries=())
    terms = frozenset(t.term.lower() for t in glossary.terms)
    body, groups = _emit(_trie(entries, terms))
    ordered = tuple(entries[i] for i in groups)
    # Matched on the lower-cased text, where no case rule is needed and re's fast skip works; a text
    # whose lower case has another length (a dotted capital I) is matched on itself, ignoring case.
    return Matcher(pattern=re.compile(body), folded=re.compile(body, re.IGNORECASE), entries=ordered)


# Keyed by id(): pydantic models with list fields are not hashable. A finaliser drops the entry when the
# glossary is collected, so a new object that reuses the id never sees a stale matcher.
_CACHE: dict[int, tuple[weakref.ref[Glossary], Matcher]] = {}


def matcher(glossary: Glossary) -> Matcher:
    """The matcher of ``glossary``, compiled on first use and cached while the glossary object lives."""
    key = id(glossary)
    cached = _CACHE.get(key)
    if cached is not None and cached[0]() is glossary:
        return cached[1]
    built = compile_matcher(glossary)
    _CACHE[key] = (weakref.ref(glossary), built)
    weakref.finalize(glossary, _CACHE.pop, key, None)
    return built


def allowed_entries(found: Matcher, words: Sequence[str]) -> frozenset[Entry]:
    """The entries an allow-list names (in any variant); words that name no entry are ignored."""
    return frozenset(e for e in (found.entry_for(w) for w in words) if e is not None)
