r"""The prose of plain text, Markdown and HTML, each character at its place in the file (private).

:func:`prose` returns a *mask* of the text: a string of the same length in which every character that is
not prose (code, URLs, tags, comments, scripts, styles) is replaced by ``\0``, which neither is a word
character nor separates the words of a term, so nothing matches across or inside it. Markup that sits
inside a sentence (an inline tag, an emphasis marker, a quote marker) becomes spaces instead, so "hot
<b>lead</b>" still reads as two words of one sentence. Line breaks are kept where they were. Because
the mask has the length of the text, a match in the mask is at the same offset in the text: positions
need no mapping back.

The text given is already normalised to ``\n`` line endings; a ``\r\n`` or ``\r`` file has the same
lines and columns.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Literal

__all__ = ["Kind", "directives", "prose", "resolve_kind"]

Kind = Literal["text", "markdown", "html"]

_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_HTML_START = re.compile(r"\A\s*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE)

#: The allow directive: ``smarketing: allow hot lead, warm lead`` (in a comment in Markdown and HTML).
_DIRECTIVE = re.compile(r"smarketing:[ \t]*allow[ \t]+([^\n]*?)[ \t]*(?:-->|\*/|$)", re.MULTILINE)

#: Non-prose characters become this; it is neither a word character nor a separator.
HIDE = "\0"


def resolve_kind(kind: str, path: str | None, text: str) -> Kind:
    """``auto`` by the file's suffix (``.md``, ``.html``, ...), else HTML when it starts like HTML."""
    if kind in ("text", "markdown", "html"):
        return kind  # type: ignore[return-value]
    suffix = "" if path is None else path[path.rfind(".") :].casefold() if "." in path else ""
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in _HTML_SUFFIXES or _HTML_START.match(text[:1024]):
        return "html"
    return "text"


def directives(text: str) -> list[str]:
    """The words of every allow directive in the text (comma-separated after ``allow``)."""
    if "smarketing:" not in text:
        return []
    return [w.strip() for m in _DIRECTIVE.finditer(text) for w in m.group(1).split(",") if w.strip()]


def _blank(part: str, fill: str = HIDE) -> str:
    """``part`` with every character but a line break replaced by ``fill``."""
    if "\n" not in part:
        return fill * len(part)
    return "\n".join(fill * len(line) for line in part.split("\n"))


def _hiding(fill: str = HIDE, group: int = 0) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement that blanks group ``group`` of each match and keeps the rest."""

    def replace(match: re.Match[str]) -> str:
        start, end = match.span(group)
        whole = match.group(0)
        offset = match.start()
        return (
            whole[: start - offset]
            + _blank(whole[start - offset : end - offset], fill)
            + whole[end - offset :]
        )

    return replace


def prose(text: str, kind: Kind) -> str:
    """The mask of ``text``'s prose (see the module docstring); plain text is all prose."""
    if kind == "markdown":
        return _markdown(text)
    if kind == "html":
        return _html(text)
    return text


# Markdown: the CommonMark blocks and spans that are not prose. Fenced and indented code blocks are found
# line by line; the inline constructs by expressions, in an order where the earlier hides the later
# (a URL inside a code span is code).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])[ \t]")


def _emphasis(match: re.Match[str]) -> str:
    """Emphasis markers become spaces; an ``_`` inside a word ("snake_case") stays."""
    run = match.group(0)
    if run[0] == "_":
        text, start, end = match.string, match.start(), match.end()
        inside = start > 0 and end < len(text) and (text[start - 1].isalnum() or text[start - 1] == "_")
        if inside and (text[end].isalnum() or text[end] == "_"):
            return run
    return " " * len(run)


#: The inline constructs, each with the characters without which it cannot occur (a cheap test first:
#: most lines of copy have no backtick, no URL and no tag).
_INLINE: tuple[tuple[tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (("<!--",), re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL), _hiding()),
    (("<",), re.compile(r"<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>"), _hiding()),  # autolink
    (
        ("](",),
        re.compile(r"\]([ \t]?\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:[ \t]+\"[^\"\n]*\")?\))"),
        _hiding(group=1),
    ),
    (
        ("]:",),
        re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE),
        _hiding(),
    ),  # link reference definition
    (
        ("://", "www.", "mailto:"),
        re.compile(r"\b(?:https?|ftp|mailto):[^\s<>()\[\]]+|\bwww\.[^\s<>()\[\]]+", re.IGNORECASE),
        _hiding(),
    ),
    (("<",), re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), _hiding(" ")),  # inline HTML
    ((">",), re.compile(r"^ {0,3}(?:>[ \t]?)+", re.MULTILINE), _hiding(" ")),  # block quote markers
    (("*", "~", "_"), re.compile(r"[*~_]+"), _emphasis),  # emphasis and strike-through
)

#: Without these, no line opens a code block (a fence or an indent): the line-by-line pass is skipped.
_BLOCK_SIGNS = ("```", "~~~", "\n    ", "\n\t")


def _markdown(text: str) -> str:
    masked = _blocks(text) if text.startswith((" ", "\t")) or any(s in text for s in _BLOCK_SIGNS) else text
    if "`" in masked:
        masked = _code_spans(masked)
    for signs, pattern, replace in _INLINE:
        if any(sign in masked for sign in signs):
            masked = pattern.sub(replace, masked)
    return masked


_BACKTICKS = re.compile(r"`+")


def _code_spans(text: str) -> str:
    """``text`` with its code spans hidden.

    A run of backticks opens a span and the next run of the same length closes it (CommonMark); a run
    with no such partner is text. Linear in the number of runs, whatever their lengths.
    """
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    cursor = dict.fromkeys(by_length, 0)  # per length: the first run not yet passed
    out: list[str] = []
    at = index = 0
    while index < len(runs):
        start, end = runs[index]
        same = by_length[end - start]
        position = cursor[end - start]
        while position < len(same) and same[position] <= index:
            position += 1
        cursor[end - start] = position
        if position == len(same):  # no closing run: literal backticks
            index += 1
            continue
        closing = same[position]
        out.append(text[at:start])
        out.append(_blank(text[start : runs[closing][1]]))
        at = runs[closing][1]
        index = closing + 1
    out.append(text[at:])
    return "".join(out)


def _blocks(text: str) -> str:
    """``text`` with its fenced and indented code blocks hidden, line by line."""
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    previous_blank, in_list = True, False
    for line in lines:
        if fence is not None:
            out.append(_blank(line))
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            out.append(_blank(line))
            previous_blank = False
            continue
        blank = not line.strip()
        if _LIST_ITEM.match(line):
            in_list = True
        elif not blank and not _INDENTED.match(line):
            in_list = False
        # An indented line opens a code block after a blank line, except in a list (a continuation).
        if not blank and previous_blank and not in_list and _INDENTED.match(line):
            out.append(_blank(line))
            continue
        if out and out[-1] and out[-1].strip(HIDE) == "" and not blank and _INDENTED.match(line):
            out.append(_blank(line))  # the code block goes on
            continue
        out.append(line)
        previous_blank = blank
    return "\n".join(out)


# HTML: a quick reader (below) or, where it gives up, html.parser reads the page (never a script or a
# style), and the mask keeps each piece of text at its offset. Elements whose content is not prose are
# skipped, however deeply nested.
_SKIP = frozenset({"script", "style", "code", "pre", "template", "textarea", "svg", "math", "noscript"})
_INLINE_TAGS = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "cite", "data", "dfn", "em", "i", "mark", "q", "s", "small", "span"}
    | {"strong", "sub", "sup", "time", "u", "var", "wbr", "font", "ins", "del"}
)


class _Pieces:
    """The pieces of prose of a page and what came between them, fed by either reader below.

    A piece is (start, end, joined, space): its offsets, whether only inline tags came between it and the
    previous piece, and whether it is a space entity ("hot&nbsp;lead" separates words like a space).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces: list[tuple[int, int, bool, bool]] = []
        self.skipping: list[str] = []
        self.joined = False

    def starttag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping.append(tag)
        self.joined = self.joined and tag in _INLINE_TAGS

    def startendtag(self, tag: str) -> None:
        self.joined = self.joined and tag in _INLINE_TAGS

    def endtag(self, tag: str) -> None:
        if tag in self.skipping:  # close up to the matching element; stray end tags change nothing
            while self.skipping and self.skipping.pop() != tag:
                pass
        self.joined = self.joined and tag in _INLINE_TAGS

    def data(self, start: int, end: int) -> None:
        if self.skipping:
            self.joined = False
            return
        self.pieces.append((start, end, self.joined, False))
        self.joined = True

    def reference(self, start: int, source: str, value: str) -> None:
        if self.skipping:
            return
        end = start + len(source) + (1 if self.text.startswith(";", start + len(source)) else 0)
        if value.isspace():
            self.pieces.append((start, end, self.joined, True))
            self.joined = True
        else:
            self.joined = False

    def markup(self) -> None:
        """A comment, a declaration or a processing instruction: never prose, and it parts words."""
        self.joined = False


class _TextOnly(HTMLParser):
    """html.parser's events, handed to :class:`_Pieces` with their offsets in the text."""

    def __init__(self, pieces: _Pieces) -> None:
        super().__init__(convert_charrefs=False)
        self.into = pieces
        self.starts = [0] + [m.end() for m in re.finditer("\n", pieces.text)]

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.into.starttag(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.into.startendtag(tag)

    def handle_endtag(self, tag: str) -> None:
        self.into.endtag(tag)

    def handle_data(self, data: str) -> None:
        start = self._offset()
        self.into.data(start, start + len(data))

    def handle_entityref(self, name: str) -> None:
        self.into.reference(self._offset(), f"&{name}", html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.into.reference(self._offset(), f"&#{name}", html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.into.markup()

    def handle_decl(self, decl: str) -> None:
        self.into.markup()

    def handle_pi(self, data: str) -> None:
        self.into.markup()

    def unknown_decl(self, data: str) -> None:
        self.into.markup()


# The quick reader: one expression for the plain forms of markup that make up nearly every page (text,
# start and end tags with well-formed attributes, comments, the doctype, references ending in ";", a bare
# "&" or "<"), on which it gives html.parser's events exactly. It gives up on anything else (CDATA, a
# processing instruction, a bogus comment, a tag html.parser would read leniently, a comment with "--"
# inside, a script not closed by a plain "</script>") and the whole page is read by html.parser instead.
# Tests check the two readers agree on generated pages of every construct (tests/glossary).
_SPACE = r"[ \t\n\r\f]"  # html.parser's \s would also take other Unicode spaces: those go to it
_ATTRIBUTE = rf"""[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:{_SPACE}*={_SPACE}*(?:"[^"]*"|'[^']*'|[^\s"'=<>`/]+))?"""
_TOKEN = re.compile(
    r"(?P<text>[^<&]+)"
    # an outer group around a start tag, so that it is the match's last group, not its "/"
    rf"|(?P<tag><(?P<start>[a-zA-Z][a-zA-Z0-9-]*)(?:{_SPACE}+{_ATTRIBUTE})*{_SPACE}*(?P<close>/?)>)"
    rf"|</(?P<end>[a-zA-Z][a-zA-Z0-9-]*){_SPACE}*>"
    r"|(?P<comment><!--(?![->])(?:[^-]|-(?!-))*-->)"
    r"|(?P<decl><![dD][oO][cC][tT][yY][pP][eE][^<>]*>)"
    r"|(?P<ref>&(?:#(?:[0-9]+|[xX][0-9a-fA-F]+)|[a-zA-Z][-.a-zA-Z0-9]*);)"
    r"|(?P<bare>&(?![a-zA-Z#])|<(?![a-zA-Z/!?]))"
)
_RAW_END = {tag: re.compile(rf"</\s*{tag}", re.IGNORECASE) for tag in ("script", "style")}


def _quick(pieces: _Pieces, text: str) -> bool:
    """Feed ``pieces`` from ``text`` by :data:`_TOKEN`; False (and nothing reliable fed) if it gave up."""
    match = _TOKEN.match
    at, size = 0, len(text)
    while at < size:
        token = match(text, at)
        if token is None:
            return False
        kind, end = token.lastgroup, token.end()
        if kind in {"text", "bare"}:
            pieces.data(at, end)
        elif kind == "tag":
            tag = token.group("start").lower()
            if token.group("close"):
                pieces.startendtag(tag)
            else:
                pieces.starttag(tag)
                if tag in _RAW_END:  # a script or a style: raw text up to its end tag
                    closing = _RAW_END[tag].search(text, end)
                    # Only a plain "</script>" (no space inside) ends it the same way in every Python.
                    if closing is None or closing.end() - closing.start() != 2 + len(tag):
                        return False
                    if not text.startswith(">", closing.end()):
                        return False
                    if closing.start() > end:
                        pieces.data(end, closing.start())
                    pieces.endtag(tag)
                    end = closing.end() + 1
        elif kind == "end":
            pieces.endtag(token.group("end").lower())
        elif kind == "ref":
            source = token.group()[:-1]
            pieces.reference(at, source, html.unescape(source + ";"))
        else:  # a comment or the doctype
            pieces.markup()
        at = end
    return True


_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")


def _unclosed_hidden(text: str) -> str:
    """``text`` with an unclosed comment or tag at its end turned into a closed comment of the same length.

    An unclosed comment runs to the end of the page, and so does a tag with no ``>`` after it; neither is
    text. Python 3.11's parser re-scans the rest of the page for every such construct, which takes
    quadratic time on a page of thousands of them; one closed comment of the same length hides the same
    characters at the same offsets, and is parsed in one step.
    """
    cut = len(text)
    at = 0
    while (start := text.find("<!--", at)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            cut = start
            break
        at = end + 3
    last = text.rfind(">")
    tail = _TAG_OPEN.search(text, last + 1)
    if tail is not None:
        cut = min(cut, tail.start())
    if len(text) - cut < 7:  # "<!---->" is the shortest comment; a shorter tail is parsed as it is
        return text
    return text[:cut] + "<!--" + _blank(text[cut + 4 : -3], " ") + "-->"


def _html(text: str, *, quick: bool = True) -> str:
    fed = _unclosed_hidden(text)
    found = _Pieces(text)
    if not (quick and _quick(found, fed)):
        found = _Pieces(text)
        parser = _TextOnly(found)
        parser.feed(fed)
        parser.close()
    out: list[str] = []
    at = 0
    for start, end, joined, space in found.pieces:
        if start < at:  # never expected; keep the mask aligned whatever the parser reports
            continue
        out.append(_blank(text[at:start], " " if joined else HIDE))
        piece = text[start:end]
        out.append(_blank(piece, " ") if space else piece)
        at = end
    out.append(_blank(text[at:]))
    return "".join(out)
