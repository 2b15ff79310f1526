"""``glossary.lint_text``: variants, positions, Markdown and HTML, allow-lists, results and laws.

Every expected position below was counted by hand on the fixture text (lines and columns from 1, in
characters).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smarketing as sm
from smarketing.glossary import Glossary, Term, TextFinding, TextLint, _markup, lint_text
from smarketing.glossary.lint import sarif_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary(
        terms=[
            Term(term="Marketing Qualified Lead", definition="d", synonyms=["hot lead", "warm lead"]),
            Term(term="MQL list", definition="d", synonyms=["hot lead list"]),
            Term(term="Customer", definition="d", synonyms=["client"], forbidden=["punter"]),
            Term(term="Account", definition="d", synonyms=["company", "box"]),
            Term(term="Split test", definition="d", synonyms=["A/B test"]),
            Term(term="Revenue team", definition="d", synonyms=["go team"]),
            Term(term="Disqualified", definition="d", synonyms=["junk lead"], forbidden=["bad lead"]),
        ]
    )


def found(result: TextLint) -> list[tuple[int, int, str, str]]:
    return [(f.line, f.column, f.text, f.word) for f in result.findings]


# --------------------------------------------------------------------------------------------------
# Variants: case, plurals, hyphens, spacing, joined words, line breaks, word boundaries.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a hot lead", [(1, 3, "hot lead", "hot lead")]),
        ("a HOT Lead", [(1, 3, "HOT Lead", "hot lead")]),
        ("two hot leads", [(1, 5, "hot leads", "hot lead")]),
        ("our clients", [(1, 5, "clients", "client")]),
        ("two companies", [(1, 5, "companies", "company")]),
        ("a company", [(1, 3, "company", "company")]),
        ("the boxes", [(1, 5, "boxes", "box")]),
        ("hot-lead", [(1, 1, "hot-lead", "hot lead")]),
        ("hot - lead", [(1, 1, "hot - lead", "hot lead")]),
        ("hot  lead", [(1, 1, "hot  lead", "hot lead")]),
        ("hot\tlead", [(1, 1, "hot\tlead", "hot lead")]),
        ("hot\u00a0lead", [(1, 1, "hot\u00a0lead", "hot lead")]),
        ("hotlead", [(1, 1, "hotlead", "hot lead")]),
        ("HotLeads", [(1, 1, "HotLeads", "hot lead")]),
        ("hot\nlead", [(1, 1, "hot\nlead", "hot lead")]),
        ("hot-\nlead", [(1, 1, "hot-\nlead", "hot lead")]),
        ("x\n  hot \n  lead", [(2, 3, "hot \n  lead", "hot lead")]),
        ("an A/B test", [(1, 4, "A/B test", "A/B test")]),
        ("an a / b  test", [(1, 4, "a / b  test", "A/B test")]),
        ("the go team", [(1, 5, "go team", "go team")]),
        ("the go-team", [(1, 5, "go-team", "go team")]),
    ],
)
def test_variants(glossary: Glossary, text: str, expected: list[tuple[int, int, str, str]]) -> None:
    assert found(lint_text(glossary, text, kind="text")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "hotleadership",  # inside a longer word
        "a hot leader",
        "shot lead",
        "hot_lead",  # _ is a word character
        "hot\n\nlead",  # a blank line ends the paragraph
        "hot\n \nlead",
        "the goteam",  # "go" is too short to be written together
        "hot lead2",
        "clientele",
        "hot -- lead",
    ],
)
def test_no_finding(glossary: Glossary, text: str) -> None:
    assert found(lint_text(glossary, text, kind="text")) == []


def test_possessive_and_punctuation_end_a_word(glossary: Glossary) -> None:
    assert found(lint_text(glossary, "the hot lead's score, (client).")) == [
        (1, 5, "hot lead", "hot lead"),
        (1, 24, "client", "client"),
    ]


def test_longest_entry_wins_at_one_place(glossary: Glossary) -> None:
    result = lint_text(glossary, "the hot lead list and a hot lead")
    assert found(result) == [(1, 5, "hot lead list", "hot lead list"), (1, 25, "hot lead", "hot lead")]
    assert [f.term for f in result.findings] == ["MQL list", "Marketing Qualified Lead"]


def test_forbidden_and_deprecated(glossary: Glossary) -> None:
    result = lint_text(glossary, "No punters, no bad leads, no junk leads.")
    assert [(f.text, f.reason, f.term) for f in result.findings] == [
        ("punters", "forbidden", "Customer"),
        ("bad leads", "forbidden", "Disqualified"),
        ("junk leads", "deprecated", "Disqualified"),
    ]
    assert result.findings[0].message() == (
        "'punters' is a forbidden word (the glossary lists 'punter'); write 'Customer'"
    )


def test_a_word_listed_twice_is_found_for_the_first_term_forbidden_first() -> None:
    g = Glossary(
        terms=[
            Term(term="A", definition="d", synonyms=["spam lead"]),
            Term(term="B", definition="d", synonyms=["spam lead"], forbidden=["Spam-Lead"]),
        ]
    )
    (f,) = lint_text(g, "spam leads").findings
    assert (f.term, f.reason, f.word) == ("B", "forbidden", "Spam-Lead")


def test_a_joined_form_that_is_an_agreed_term_is_not_a_synonym() -> None:
    g = Glossary(
        terms=[
            Term(term="Leadership", definition="d"),
            Term(term="Team", definition="d", synonyms=["lead ership"]),
        ]
    )
    assert found(lint_text(g, "Leadership and lead ership")) == [(1, 16, "lead ership", "lead ership")]


def test_an_empty_glossary_finds_nothing() -> None:
    assert lint_text(Glossary(), "hot lead").findings == ()


# --------------------------------------------------------------------------------------------------
# Positions: tabs, multibyte characters, several lines, line endings.


def test_positions_count_characters_tabs_and_emoji_as_one(glossary: Glossary) -> None:
    text = "\t😀 naïve client\n日本語 hot lead\n\n  \tclient"
    result = lint_text(glossary, text)
    assert [(f.line, f.column, f.end_line, f.end_column) for f in result.findings] == [
        (1, 10, 1, 16),
        (2, 5, 2, 13),
        (4, 4, 4, 10),
    ]
    lines = text.split("\n")
    for f in result.findings:
        assert lines[f.line - 1][f.column - 1 : f.end_column - 1] == f.text


def test_a_finding_across_a_line_break_ends_on_the_next_line(glossary: Glossary) -> None:
    (f,) = lint_text(glossary, "one\nwarm\n  leads here").findings
    assert (f.line, f.column, f.end_line, f.end_column, f.text) == (2, 1, 3, 8, "warm\n  leads")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_endings_give_the_same_result(glossary: Glossary, newline: str) -> None:
    text = "a client\n\nhot\nlead <b>x</b>\n"
    for kind in ("text", "markdown", "html"):
        assert lint_text(glossary, text.replace("\n", newline), kind=kind) == lint_text(
            glossary, text, kind=kind
        )


# --------------------------------------------------------------------------------------------------
# Markdown: prose only.

MARKDOWN = """\
# Hot leads this week

Our `hot lead` code span and a [hot lead](https://example.com/hot-lead "hot lead") link.
See <https://hot-lead.example> or https://example.com/warm-lead for more.
<!-- a hot lead in a comment -->
<!-- smarketing: allow client -->

```python
hot_lead = "hot lead"
```

    indented hot lead code

> a quoted hot
> lead
- a _warm lead_ item
- **Junk** lead
    continued client text
[ref]: https://example.com/hot-lead
"""


def test_markdown_reads_prose_only(glossary: Glossary) -> None:
    result = lint_text(glossary, MARKDOWN, path="notes/week.md")
    assert result.kind == "markdown"
    assert [(f.line, f.column, f.text.replace("\n", "|")) for f in result.findings] == [
        (1, 3, "Hot leads"),
        (3, 33, "hot lead"),
        (14, 12, "hot|> lead"),
        (16, 6, "warm lead"),
        (17, 5, "Junk** lead"),
    ]
    assert result.allowed == ("client",)


def test_markdown_keeps_underscores_inside_words(glossary: Glossary) -> None:
    assert found(lint_text(glossary, "a hot_lead and _hot lead_", kind="markdown")) == [
        (1, 17, "hot lead", "hot lead")
    ]


def test_markdown_fences_need_the_same_marker_to_close(glossary: Glossary) -> None:
    text = "~~~\nhot lead\n```\nclient\n~~~\nclient"
    assert found(lint_text(glossary, text, kind="markdown")) == [(6, 1, "client", "client")]


def test_an_unclosed_fence_hides_the_rest(glossary: Glossary) -> None:
    assert lint_text(glossary, "client\n```\nhot lead", kind="markdown").findings[-1].line == 1


# --------------------------------------------------------------------------------------------------
# HTML: text only, through html.parser.

HTML = """\
<!doctype html>
<html><head><title>Hot leads</title>
<style>.hot-lead { color: red }</style>
<script>var x = "hot lead";</script></head>
<body class="hot lead">
<!-- hot lead in a comment; smarketing: allow warm lead -->
<p title="client">Our hot <b>lead</b> and&nbsp;a warm lead.</p>
<p>hot</p><p>lead</p>
<pre>client</pre><code>client</code>
<div><div><span>junk
  leads</span></div></div>
<p>caf&eacute; client &amp; hot&#32;lead</p>
</body></html>
"""


def test_html_reads_text_only(glossary: Glossary) -> None:
    result = lint_text(glossary, HTML, path="site/index.html")
    assert result.kind == "html"
    assert [(f.line, f.column, f.text) for f in result.findings] == [
        (2, 20, "Hot leads"),
        (7, 23, "hot <b>lead"),
        (10, 17, "junk\n  leads"),
        (12, 16, "client"),
        (12, 29, "hot&#32;lead"),
    ]
    assert result.allowed == ("warm lead",)
    lines = HTML.split("\n")
    for f in result.findings:
        if f.line == f.end_line:
            assert lines[f.line - 1][f.column - 1 : f.end_column - 1] == f.text


def test_html_is_detected_by_its_start_without_a_path(glossary: Glossary) -> None:
    assert lint_text(glossary, "  <html><script>client</script></html>").kind == "html"
    assert lint_text(glossary, "<p>client</p>").kind == "text"
    assert lint_text(glossary, "<p>client</p>", kind="html").kind == "html"


def test_html_unclosed_skipped_element_hides_the_rest(glossary: Glossary) -> None:
    assert found(lint_text(glossary, "<p>client</p><code>client", kind="html")) == [
        (1, 4, "client", "client")
    ]


def test_deeply_nested_html(glossary: Glossary) -> None:
    depth = 20_000
    text = "<div>" * depth + "hot lead" + "</div>" * depth
    (f,) = lint_text(glossary, text, kind="html").findings
    assert f.column == 5 * depth + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a comment between two paragraphs: its words are not text
        ("<p>a client</p><!-- client --><p>client</p>", [(1, 6, "client"), (1, 34, "client")]),
        # a CDATA section (html.parser reads it as a declaration)
        ("<p>x</p><![CDATA[ client ]]><p>hot lead</p>", [(1, 32, "hot lead")]),
        # a script whose strings hold "</": only "</script>" ends it
        ('<script>var s = "</p> client"; if (a</b) {}</script><p>client</p>', [(1, 56, "client")]),
        ('<script>x</script ><p>client</p><style>a::after{content:"</style"}</style>', [(1, 23, "client")]),
        # entities: a space entity parts words like a space, any other ends the word
        (
            "<p>hot&nbsp;lead, caf&eacute; client&amp;co, hot&#160;lead, &#99;lient</p>",
            [(1, 4, "hot&nbsp;lead"), (1, 31, "client"), (1, 46, "hot&#160;lead")],
        ),
        # attributes hold no text, even with a ">" inside quotes
        (
            """<a title="client" href="/hot-lead" data-x='hot lead'>our page</a><img alt="client">"""
            '<p title="a > client">ok</p><br class="client"/>',
            [],
        ),
        ("<p>AT&T client</p>", [(1, 9, "client")]),
        ("<?php echo 'client' ?><p>client</p>", [(1, 26, "client")]),
    ],
)
def test_html_tricky_constructs(glossary: Glossary, text: str, expected: list[tuple[int, int, str]]) -> None:
    assert [(f.line, f.column, f.text) for f in lint_text(glossary, text, kind="html").findings] == expected


def test_the_quick_html_reader_reads_plain_pages_and_leaves_the_rest_to_html_parser() -> None:
    plain = '<!DOCTYPE html><p class="a" id=b>x &amp; <b>y</b><br/></p><!-- c --><script>1</script>'
    assert _markup._quick(_markup._Pieces(plain), plain)
    for odd in ("<![CDATA[x]]>", "<?pi?>", "<a b='1'c>", "AT&T", "<script>x</script >", "<!--->"):
        assert not _markup._quick(_markup._Pieces(odd), odd), odd


#: Pieces of pages, plain and odd: both readers must give the same mask for any sequence of them.
_HTML_PIECES = st.sampled_from(
    [
        *("client", "hot", "lead", " ", "\n", "é", "&", "<", ">", "/", "-", '"', "'", "=", ";", "#"),
        *("<p>", "</p>", "<b>", "</b>", "<P CLASS=x>", "<br/>", "<br />", "<img src='a'/>", '<div\n id="a">'),
        *(
            "<code>",
            "</code>",
            "<pre>",
            "</pre>",
            "<script>",
            "</script>",
            "</script >",
            "<style>",
            "</STYLE>",
        ),
        *('<a title="client">', "<a href=x/y>", "<a b='1'c>", "<a b==1>", "<p\xa0x>", "<x-y z>", "</ p>"),
        *("<!--", "-->", "<!-- client -->", "<!---->", "<!--->", "--!>", "<!doctype html>", "<!x>"),
        *("<![CDATA[", "]]>", "<?pi ?>", "</>", "</3>", "&amp;", "&nbsp;", "&#160;", "&#x20;", "&#99;"),
        *("&T", "&#", "&#x;", "&nbsp", "&lt", "<a", "</a", "<"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_HTML_PIECES, max_size=30))
def test_law_the_quick_html_reader_agrees_with_html_parser(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _markup._html(text) == _markup._html(text, quick=False)


# --------------------------------------------------------------------------------------------------
# Allow-lists.


def test_allow_argument_allows_every_variant_of_the_entry(glossary: Glossary) -> None:
    text = "hot leads, Hot-Lead, warm lead"
    assert [f.word for f in lint_text(glossary, text, allow=["HOT-LEADS"]).findings] == ["warm lead"]
    assert lint_text(glossary, text, allow=["hot lead", "warm lead"]).ok
    assert lint_text(glossary, text, allow=["pipeline"]).allowed == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("smarketing: allow hot lead, warm lead\nhot lead and warm lead", "text"),
        ("<!-- smarketing: allow hot lead, warm lead -->\nhot lead and warm lead", "markdown"),
        ("<p>hot lead and warm lead</p><!--smarketing:allow hot leads,warm lead-->", "html"),
    ],
)
def test_allow_directive(glossary: Glossary, text: str, kind: str) -> None:
    result = lint_text(glossary, text, kind=kind)  # type: ignore[arg-type]
    assert result.ok
    assert result.allowed == ("hot lead", "warm lead")


# --------------------------------------------------------------------------------------------------
# Results.


def test_result_forms(glossary: Glossary) -> None:
    result = lint_text(glossary, "a client\nno punter", path="copy/mail.txt")
    frame = result.to_frame()
    assert frame.columns == [
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "text",
        "word",
        "term",
        "reason",
    ]
    assert frame.row(1) == ("copy/mail.txt", 2, 4, 2, 10, "punter", "punter", "Customer", "forbidden")
    assert lint_text(glossary, "").to_frame().schema == frame.schema
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["findings"][0] == {
        "line": 1,
        "column": 3,
        "end_line": 1,
        "end_column": 9,
        "text": "client",
        "word": "client",
        "term": "Customer",
        "reason": "deprecated",
        "message": "'client' is a discouraged synonym; write 'Customer'",
    }
    assert result.to_text().split("\n") == [
        "copy/mail.txt:1:3: deprecated: 'client' is a discouraged synonym; write 'Customer'",
        "copy/mail.txt:2:4: forbidden: 'punter' is a forbidden word; write 'Customer'",
    ]
    assert repr(result).startswith("TextLint(copy/mail.txt, text): 2 findings\nline")
    assert "<table>" in result._repr_html_()
    assert "punter" in result._repr_html_()
    assert repr(lint_text(glossary, "fine")) == "TextLint(text, text): 0 findings"
    assert isinstance(result.findings[0], TextFinding)


def test_sarif_log(glossary: Glossary) -> None:
    one = lint_text(glossary, "a client", path="a b/mail.txt")
    two = lint_text(glossary, "punter\nhot\nlead")
    log = sarif_log([one, two])
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["deprecated-term", "forbidden-term"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["deprecated-term", "forbidden-term", "deprecated-term"]
    assert results[0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "a%20b/mail.txt"},
        "region": {"startLine": 1, "startColumn": 3, "endLine": 1, "endColumn": 9},
    }
    assert results[2]["locations"][0]["physicalLocation"] == {
        "region": {"startLine": 2, "startColumn": 1, "endLine": 3, "endColumn": 5}
    }
    assert one.to_sarif()["runs"][0]["results"] == results[:1]


def test_the_example_plan_glossary() -> None:
    glossary = sm.load_plan("examples/plan.yaml").glossary
    result = lint_text(glossary, "Our prospects became clients; a deal-in-play.")
    assert [(f.text, f.term) for f in result.findings] == [
        ("prospects", "Lead"),
        ("clients", "Customer"),
        ("deal-in-play", "Opportunity"),
    ]


def test_the_expression_is_compiled_once_per_glossary(glossary: Glossary) -> None:
    from smarketing.glossary import _matcher

    assert _matcher.matcher(glossary) is _matcher.matcher(glossary)
    copy = glossary.model_copy()
    assert _matcher.matcher(copy) is not _matcher.matcher(glossary)


# --------------------------------------------------------------------------------------------------
# Bad arguments.


def test_bad_arguments(glossary: Glossary) -> None:
    with pytest.raises(TypeError, match="glossary must be a Glossary"):
        lint_text({"terms": []}, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"text must be a str, not bytes; decode bytes first"):
        lint_text(glossary, b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind must be one of auto, text, markdown, html, not 'pdf'"):
        lint_text(glossary, "x", kind="pdf")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allow must be a list of words"):
        lint_text(glossary, "x", allow="hot lead")


def test_a_text_over_the_limit_is_refused_with_its_name(
    glossary: Glossary, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smarketing.glossary import lint as lint_module

    monkeypatch.setattr(lint_module, "MAX_TEXT_BYTES", 10)
    with pytest.raises(
        ValueError, match=r"lint_text: big.txt: the text has 11 characters; at most 10 are read"
    ):
        lint_text(glossary, "x" * 11, path="big.txt")


# --------------------------------------------------------------------------------------------------
# Laws.

_PIECES = st.sampled_from(
    [
        "hot",
        "lead",
        "leads",
        " ",
        "  ",
        "-",
        "\n",
        "\n\n",
        "client",
        "x",
        "é",
        "\t",
        "😀",
        "<b>",
        "`",
        "*",
        "punter",
    ]
)
_TEXTS = st.lists(_PIECES, max_size=40).map("".join)
_KINDS = st.sampled_from(["text", "markdown", "html"])


@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, kind=_KINDS, newline=st.sampled_from(["\r\n", "\r"]))
def test_law_line_endings_do_not_matter(glossary: Glossary, text: str, kind: str, newline: str) -> None:
    other = text.replace("\n", newline)
    assert lint_text(glossary, other, kind=kind) == lint_text(glossary, text, kind=kind)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, kind=_KINDS)
def test_law_each_finding_is_where_it_says(glossary: Glossary, text: str, kind: str) -> None:
    lines = text.split("\n")
    for f in lint_text(glossary, text, kind=kind).findings:  # type: ignore[arg-type]
        first = lines[f.line - 1][f.column - 1 :]
        if f.line == f.end_line:
            assert first[: f.end_column - f.column] == f.text
        else:
            assert f.text.startswith(first)
            assert f.text.endswith(lines[f.end_line - 1][: f.end_column - 1])


@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, at=st.integers(min_value=0, max_value=40), kind=st.sampled_from(["text", "markdown"]))
def test_law_a_clean_paragraph_shifts_findings_but_never_changes_them(
    glossary: Glossary, text: str, at: int, kind: str
) -> None:
    paragraphs = text.split("\n\n")
    index = min(at, len(paragraphs))
    inserted = "\n\n".join([*paragraphs[:index], "A plain paragraph\nof two lines.", *paragraphs[index:]])
    before = lint_text(glossary, text, kind=kind).findings  # type: ignore[arg-type]
    after = lint_text(glossary, inserted, kind=kind).findings  # type: ignore[arg-type]
    # The paragraph and its blank line add three lines to every finding after it.
    boundary = len("\n\n".join(paragraphs[:index]).split("\n")) if index else 0
    expected = [
        (f.line + 3, f.column, f.end_line + 3, f.text)
        if f.line > boundary
        else (f.line, f.column, f.end_line, f.text)
        for f in before
    ]
    assert [(f.line, f.column, f.end_line, f.text) for f in after] == expected


def test_to_frame_is_sorted_by_line_and_column(glossary: Glossary) -> None:
    frame = lint_text(glossary, "client hot lead\nclient\n\nhot lead client").to_frame()
    assert frame.equals(frame.sort(["line", "column"]))
    assert frame.height == 5
    assert isinstance(frame, pl.DataFrame)


def test_a_plan_file_may_list_forbidden_words(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "plan.yaml").read_text(encoding="utf-8")
    changed = text.replace("synonyms: [junk lead, bad lead]", "synonyms: [junk lead], forbidden: [bad lead]")
    assert changed != text
    (tmp_path / "plan.yaml").write_text(changed, encoding="utf-8")
    plan = sm.load_plan(tmp_path / "plan.yaml")
    schema = sm.plan_json_schema()
    assert "forbidden" in schema["$defs"]["Term"]["properties"]
    (f,) = lint_text(plan.glossary, "No bad leads.").findings
    assert (f.reason, f.term) == ("forbidden", "Disqualified")
    assert plan.glossary.preferred("bad lead") is None  # preferred answers for synonyms only
