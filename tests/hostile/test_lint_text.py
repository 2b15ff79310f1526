"""Hostile texts for ``lint_text``: huge lines, NUL bytes, odd characters, deep or broken markup.

Each case must finish (the ``no_hang`` guard of ``conftest.py``) with a documented result: the findings
that are really there, at their positions, and nothing from inside code, scripts or comments.
"""

from __future__ import annotations

import pytest

from smarketing.glossary import Glossary, Term, lint_text

KINDS = ("text", "markdown", "html")


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary(
        terms=[
            Term(term="Marketing Qualified Lead", definition="d", synonyms=["hot lead"]),
            Term(term="Customer", definition="d", synonyms=["client"]),
        ]
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_line_of_near_misses(glossary: Glossary, kind: str) -> None:
    text = "hot " * 1_000_000 + "lead"
    (f,) = lint_text(glossary, text, kind=kind).findings  # type: ignore[arg-type]
    assert (f.line, f.column, f.text) == (1, 3_999_997, "hot lead")


@pytest.mark.parametrize("kind", KINDS)
def test_a_hyphen_then_a_million_spaces(glossary: Glossary, kind: str) -> None:
    text = "hot-" + " " * 1_000_000 + "x hot-" + "\t" * 1_000_000 + "lead"
    (f,) = lint_text(glossary, text, kind=kind).findings  # type: ignore[arg-type]
    assert f.column == 1_000_007


@pytest.mark.parametrize("kind", KINDS)
def test_nul_bytes_separate_words_and_never_join_them(glossary: Glossary, kind: str) -> None:
    result = lint_text(glossary, "\x00client\x00 hot\x00lead \x00\x00", kind=kind)  # type: ignore[arg-type]
    assert [(f.column, f.text) for f in result.findings] == [(2, "client")]


def test_odd_characters_keep_their_columns(glossary: Glossary) -> None:
    text = "\ud800 \u202e\u0301client \U0001f600\ufeffclient\u2028client"
    result = lint_text(glossary, text)
    assert [(f.line, f.column) for f in result.findings] == [(1, 5), (1, 14), (1, 21)]


def test_a_dotted_capital_i_changes_the_length_of_the_lower_case(glossary: Glossary) -> None:
    # "İ".lower() has two characters: the text is matched ignoring case instead, at the same columns.
    (f,) = lint_text(glossary, "İİİ CLIENT").findings
    assert (f.column, f.text) == (5, "CLIENT")


@pytest.mark.parametrize(
    "text",
    [
        "`" * 200_000 + " client",
        "".join("`" * n + "a" for n in range(1, 1500)) + " client",
        "`a" * 200_000 + " client",
        "[" * 200_000 + " client",
        "](" * 200_000 + " client",
        "<a " * 200_000 + " client",
        "<!--" * 200_000 + " client",
        "*_" * 200_000 + " client",
        "> " * 200_000 + " client",
        "```\n" * 100_001 + " client",
        "    x\n" * 200_000 + "\nclient",
    ],
    ids=lambda t: repr(t[:12]),
)
def test_hostile_markdown_finishes(glossary: Glossary, text: str) -> None:
    result = lint_text(glossary, text, kind="markdown")
    assert len(result.findings) <= 1


@pytest.mark.parametrize(
    "text",
    [
        "<div>" * 100_000 + "client",
        "<" * 200_000 + " client",
        "<!--" * 200_000 + " client",
        "<a href='" * 100_000 + " client",
        "&" * 200_000 + " client",
        "&#" * 100_000 + " client",
        "<script>" * 1000 + "client",
        "</script>" * 100_000 + " client",
        "<p>" + "client " * 100_000 + "</p>",
        "<![CDATA[" * 100_000 + "> client",
        "<!x" * 100_000 + "> client",
        "<?x" * 100_000 + "> client",
        "<a href='" * 100_000 + "> client",
        '<a title="' * 100_000 + "> client",
    ],
    ids=lambda t: repr(t[:12]),
)
def test_hostile_html_finishes(glossary: Glossary, text: str) -> None:
    result = lint_text(glossary, text, kind="html")
    for f in result.findings:
        assert f.text == "client"


def test_an_unclosed_script_hides_the_rest(glossary: Glossary) -> None:
    assert lint_text(glossary, "<p>client</p><script>client client", kind="html").findings[-1].column == 4


def test_a_glossary_of_long_and_nested_entries(glossary: Glossary) -> None:
    # Entries that are prefixes of each other nest the expression deeply; a long entry is a long chain.
    words = ["a" * n for n in range(1, 400)] + ["word " * 1000 + "end"]
    g = Glossary(terms=[Term(term="T", definition="d", synonyms=words)])
    result = lint_text(g, "a aa " + "a" * 399 + " " + "word " * 1000 + "end")
    assert [len(f.text) for f in result.findings] == [1, 2, 399, 5003]
