"""Common language in text: :func:`lint_text` finds the glossary's discouraged and forbidden words.

Campaign copy, sales scripts, e-mail templates and web pages are checked the way code is: each use of a
discouraged synonym (``Term.synonyms``) or a forbidden word (``Term.forbidden``) is a finding with its line
and column, the word as written, and the agreed term to write instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import PurePath
from typing import Any, Literal
from urllib.parse import quote

import attrs
import polars as pl

from smarketing import _display
from smarketing._limits import MAX_TEXT_BYTES
from smarketing.glossary._markup import Kind, directives, prose, resolve_kind
from smarketing.glossary._matcher import Entry, Reason, allowed_entries, matcher
from smarketing.glossary.model import Glossary

__all__ = ["TextFinding", "TextLint", "lint_text", "sarif_log"]

_KINDS = ("auto", "text", "markdown", "html")

#: The SARIF rule of each reason: id, level, short description.
_SARIF_RULES: dict[str, tuple[str, str, str]] = {
    "deprecated": (
        "deprecated-term",
        "warning",
        "A discouraged synonym where the glossary has an agreed term",
    ),
    "forbidden": ("forbidden-term", "error", "A word the glossary forbids"),
}

_FRAME_SCHEMA = {
    "path": pl.String(),
    "line": pl.Int64(),
    "column": pl.Int64(),
    "end_line": pl.Int64(),
    "end_column": pl.Int64(),
    "text": pl.String(),
    "word": pl.String(),
    "term": pl.String(),
    "reason": pl.String(),
}


@attrs.frozen
class TextFinding:
    r"""One discouraged or forbidden word in a text.

    Attributes:
        line: The line it starts on, from 1.
        column: The column it starts at, from 1, in characters (a tab and an emoji are one each).
        end_line: The line it ends on (a term may run across a line break inside a paragraph).
        end_column: The column just after its last character.
        text: The word as written ("Hot-Leads"); a line break inside it is ``\n`` whatever the file uses.
        word: The glossary entry it is a variant of ("hot lead").
        term: The agreed term to write instead.
        reason: ``deprecated`` (a discouraged synonym) or ``forbidden`` (a word never to use).
    """

    line: int
    column: int
    end_line: int
    end_column: int
    text: str
    word: str
    term: str
    reason: Reason

    def message(self) -> str:
        """The finding in words: what was written, what to write, and why."""
        why = "a discouraged synonym" if self.reason == "deprecated" else "a forbidden word"
        listed = (
            "" if self.text.casefold() == self.word.casefold() else f" (the glossary lists {self.word!r})"
        )
        return f"{self.text!r} is {why}{listed}; write {self.term!r}"


@attrs.frozen(repr=False)
class TextLint:
    """What :func:`lint_text` found in one text: its findings in order of line and column.

    Attributes:
        path: The file the text came from, as given (``None`` for a text without a file).
        kind: How it was read: ``text``, ``markdown`` or ``html``.
        findings: The discouraged and forbidden words, by line, then column.
        allowed: The glossary entries this text may use (the ``allow`` argument and its directives),
            sorted.
    """

    path: str | None
    kind: Kind
    findings: tuple[TextFinding, ...]
    allowed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the text has no finding."""
        return not self.findings

    def to_frame(self) -> pl.DataFrame:
        """One row per finding.

        Columns ``path``, ``line``, ``column``, ``end_line``, ``end_column``, ``text``, ``word``, ``term``
        and ``reason``.
        """
        rows = [(self.path, *attrs.astuple(f)) for f in self.findings]
        return pl.DataFrame(rows, schema=_FRAME_SCHEMA, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the path, the kind, the allowed entries and every finding with its message."""
        return {
            "path": self.path,
            "kind": self.kind,
            "allowed": list(self.allowed),
            "findings": [{**attrs.asdict(f), "message": f.message()} for f in self.findings],
        }

    def to_text(self) -> str:
        """One line per finding, ``path:line:column: reason: message``, the form editors link to."""
        where = self.path if self.path is not None else "<text>"
        return "\n".join(f"{where}:{f.line}:{f.column}: {f.reason}: {f.message()}" for f in self.findings)

    def to_sarif(self) -> dict[str, Any]:
        """The findings as a SARIF 2.1.0 log (see :func:`sarif_log`, which takes many texts)."""
        return sarif_log([self])

    def _title(self) -> str:
        n = len(self.findings)
        where = self.path if self.path is not None else "text"
        return f"TextLint({where}, {self.kind}): {n} finding{'' if n == 1 else 's'}"

    def _rows(self) -> list[tuple[int, int, str, str, str, str]]:
        # A term across a line break is shown on one line.
        return [
            (f.line, f.column, f.text.replace("\n", "\\n"), f.word, f.term, f.reason) for f in self.findings
        ]

    _HEADERS = ("line", "column", "text", "word", "term", "reason")

    def __repr__(self) -> str:
        if not self.findings:
            return self._title()
        return self._title() + "\n" + _display.text_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        return _display.html_table(self._HEADERS, self._rows(), caption=self._title())


def lint_text(
    glossary: Glossary,
    text: str,
    *,
    kind: Literal["auto", "text", "markdown", "html"] = "auto",
    allow: Sequence[str] = (),
    path: str | os.PathLike[str] | None = None,
) -> TextLint:
    r"""Find the glossary's discouraged synonyms and forbidden words in a text, with the term to use.

    A word is found in every simple variant: any case ("HOT LEAD"), the plural of its last word ("hot
    leads", "companies"), its words joined by a hyphen, by several spaces or tabs, by one line break
    inside a paragraph, or written together ("hotlead", only when each word has at least three letters
    and the joined form is not an agreed term), never inside a longer word ("hotleadership"). Where two
    entries start at the same place, the longer one wins; a word listed under two terms is found for
    the first term in the glossary (rule L002 flags such a glossary), a forbidden word before a
    discouraged one.

    ``markdown`` reads the prose only: code spans and blocks, link URLs, HTML comments and tags are
    skipped, link text is read. ``html`` reads the text only, through the standard library's parser:
    never scripts, styles, code, comments or attributes. ``auto`` chooses by the ``path`` suffix (``.md``,
    ``.html``, ...), else HTML when the text starts like an HTML page, else plain text. Positions are
    always those of the text as given, and do not depend on its line endings (``\n``, ``\r\n``, ``\r``).

    A text may allow entries for itself: a line ``smarketing: allow hot lead, warm lead`` (in an HTML
    comment in Markdown and HTML) allows those entries, in all their variants, in the whole text, as
    does ``allow``.

    Args:
        glossary: The plan's glossary. Its expression is compiled once and cached while it lives.
        text: The text to read (at most 8 MiB of characters).
        kind: ``auto`` (default), ``text``, ``markdown`` or ``html``.
        allow: Entries (or variants of them) this text may use.
        path: The file the text came from, kept on the result and used by ``auto``.

    Returns:
        The findings in order of line and column.

    Raises:
        TypeError: ``glossary`` is not a glossary, ``text`` is not a string, ``allow`` is one string.
        ValueError: ``kind`` is unknown, or the text is longer than the limit.

    Examples:
        >>> import smarketing as sm
        >>> glossary = sm.load_plan("examples/plan.yaml").glossary
        >>> result = lint_text(glossary, "Three hot-leads and a Junk\nLead.")
        >>> [(f.line, f.column, f.text, f.term) for f in result.findings]
        [(1, 7, 'hot-leads', 'Marketing Qualified Lead'), (1, 23, 'Junk\nLead', 'Disqualified')]
        >>> lint_text(glossary, "<!-- smarketing: allow hot lead -->\nHot leads.", kind="html").ok
        True
    """
    where = None if path is None else os.fspath(path)
    _check_arguments(glossary, text, kind, allow, where)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    read_as = resolve_kind(kind, where, text)
    found = matcher(glossary)
    allowed = allowed_entries(found, [*allow, *directives(text)])
    findings: list[TextFinding] = []
    if found.pattern is not None:
        line, line_start, at = 1, 0, 0
        for match in found.finditer(prose(text, read_as)):
            entry = found.entry_of(match)
            if entry in allowed:
                continue
            start, end = match.span()
            line += text.count("\n", at, start)
            line_start = text.rfind("\n", 0, start) + 1 if line > 1 else 0
            written = text[start:end]
            breaks = written.count("\n")
            end_start = line_start if not breaks else start + written.rfind("\n") + 1
            findings.append(
                _finding(
                    entry,
                    written,
                    line=line,
                    column=start - line_start + 1,
                    end_line=line + breaks,
                    end_column=end - end_start + 1,
                )
            )
            at = start
    return TextLint(
        path=where,
        kind=read_as,
        findings=tuple(findings),
        allowed=tuple(sorted({e.word for e in allowed}, key=lambda w: (w.casefold(), w))),
    )


def _finding(
    entry: Entry, written: str, *, line: int, column: int, end_line: int, end_column: int
) -> TextFinding:
    return TextFinding(
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        text=written,
        word=entry.word,
        term=entry.term,
        reason=entry.reason,
    )


def _check_arguments(glossary: object, text: object, kind: object, allow: object, where: str | None) -> None:
    """Refuse what :func:`lint_text` cannot read, naming the argument (and the file)."""
    if not isinstance(glossary, Glossary):
        raise TypeError(
            f"lint_text: glossary must be a Glossary (plan.glossary), not {type(glossary).__name__}"
        )
    if not isinstance(text, str):
        hint = "; decode bytes first (text.decode('utf-8'))" if isinstance(text, bytes | bytearray) else ""
        raise TypeError(f"lint_text: text must be a str, not {type(text).__name__}{hint}")
    if kind not in _KINDS:
        raise ValueError(f"lint_text: kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    if isinstance(allow, str) or not all(isinstance(w, str) for w in allow):  # type: ignore[attr-defined]
        raise TypeError("lint_text: allow must be a list of words, such as ['hot lead']")
    if len(text) > MAX_TEXT_BYTES:
        place = f"{where}: " if where is not None else ""
        raise ValueError(
            f"lint_text: {place}the text has {len(text):,} characters; at most {MAX_TEXT_BYTES:,} are read"
        )


def _uri(path: str) -> str:
    """A relative URI reference for a file path (SARIF wants URIs, not OS paths)."""
    return quote(PurePath(path).as_posix())


def sarif_log(lints: Sequence[TextLint]) -> dict[str, Any]:
    """The findings of many texts as one SARIF 2.1.0 log, so code-scanning UIs show them on the files.

    Two rules, ``deprecated-term`` (level warning) and ``forbidden-term`` (level error); each finding is
    a result with its file and region. Columns count Unicode code points (``columnKind``).

    Examples:
        >>> import smarketing as sm
        >>> glossary = sm.load_plan("examples/plan.yaml").glossary
        >>> log = sarif_log([lint_text(glossary, "A hot lead.", path="copy/mail.txt")])
        >>> result = log["runs"][0]["results"][0]
        >>> result["ruleId"], result["locations"][0]["physicalLocation"]["region"]
        ('deprecated-term', {'startLine': 1, 'startColumn': 3, 'endLine': 1, 'endColumn': 11})
    """
    rules = [
        {
            "id": rule_id,
            "name": "".join(w.capitalize() for w in rule_id.split("-")),
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rule_id, level, text in _SARIF_RULES.values()
    ]
    index = {reason: i for i, reason in enumerate(_SARIF_RULES)}
    results: list[dict[str, Any]] = []
    for lint in lints:
        for f in lint.findings:
            region = {
                "startLine": f.line,
                "startColumn": f.column,
                "endLine": f.end_line,
                "endColumn": f.end_column,
            }
            physical: dict[str, Any] = {"region": region}
            if lint.path is not None:
                physical = {"artifactLocation": {"uri": _uri(lint.path)}, "region": region}
            rule_id, level, _ = _SARIF_RULES[f.reason]
            results.append(
                {
                    "ruleId": rule_id,
                    "ruleIndex": index[f.reason],
                    "level": level,
                    "message": {"text": f.message()},
                    "locations": [{"physicalLocation": physical}],
                    "properties": {"term": f.term, "word": f.word},
                }
            )
    driver = {"name": "smarketing lint-text", "version": version("smarketing"), "rules": rules}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}],
    }
