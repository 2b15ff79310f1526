"""Benchmark: ``glossary.lint_text`` over many small documents, beside plain ``re`` peers.

Usage::

    .venv/bin/python benchmarks/lint_text.py [--docs N] [--size BYTES] [--repeat N] [--cli]

Documents are generated from a fixed seed: sentences of common sales and marketing words, about one
discouraged synonym per 500 bytes (in random case, plural, hyphenated or across a line break), in three
kinds in turn: plain text, Markdown (headings, emphasis, code spans, links) and HTML (paragraphs, inline
tags, a script and a style). Two glossaries: the example plan's (10 entries) and a generated one of 1,201
terms (2,401 entries, as in ``benchmarks/rules.py``). Each run lints every document once, in one process;
the target is 10,000 documents of 2 KB under 2 s.

The peers find the same words with plain ``re``, without the trie and without Markdown or HTML handling
(so they do less work): *per term*, one compiled expression per entry run over each document in turn, and
*one alternation*, all entries in one ``re.IGNORECASE`` expression, longest first. Both are checked to find
exactly what ``lint_text`` finds on the plain-text documents. ``--cli`` also writes the documents to a
temporary folder and times ``smarketing lint-text`` over all of them in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import smarketing as sm
from smarketing.glossary import Glossary, Term, lint_text

ROOT = Path(__file__).resolve().parent.parent
_WORDS = re.findall(
    r"\w+",
    "the our your a team sales marketing pipeline account review quarter report campaign email webinar "
    "forecast budget meeting follow up call demo trial renewal contract pricing plan handoff owner week "
    "month goal target data insight dashboard region segment partner channel event content offer",
)
_FIRST = ("Hi", "Next", "This", "Every", "Our", "When", "Please", "Before", "After", "Today")


def _variant(word: str, rng: random.Random) -> str:
    """A written variant of a glossary word: case, plural, hyphen, line break."""
    parts = word.split()
    if rng.random() < 0.3 and parts[-1].isalpha() and not parts[-1].endswith("s"):
        parts[-1] += "s"
    joiner = rng.choice([" ", " ", "-", "\n", "  "]) if len(parts) > 1 else ""
    text = joiner.join(parts)
    return text.upper() if rng.random() < 0.2 else text.capitalize() if rng.random() < 0.3 else text


def _sentence(rng: random.Random, synonyms: list[str], chance: float) -> str:
    words = [rng.choice(_FIRST)] + [rng.choice(_WORDS) for _ in range(rng.randint(6, 14))]
    if rng.random() < chance:
        words.insert(rng.randint(1, len(words)), _variant(rng.choice(synonyms), rng))
    return " ".join(words) + "."


def _document(rng: random.Random, synonyms: list[str], size: int, kind: str) -> str:
    """About ``size`` characters of copy with about one synonym per 500 characters."""
    parts: list[str] = []
    length = 0
    while length < size:
        sentence = _sentence(rng, synonyms, chance=0.18)
        if kind == "markdown":
            piece = rng.choice(
                [
                    f"{sentence}\n",
                    f"## {sentence}\n",
                    f"- *{sentence}* `code_{length}`\n",
                    f"{sentence} [read more](https://example.com/{length}/hot-lead)\n\n",
                ]
            )
        elif kind == "html":
            piece = rng.choice(
                [
                    f"<p>{sentence}</p>\n",
                    f"<p><b>{sentence}</b> <a href='/x?{length}'>more</a></p>\n",
                    f"<li>{sentence}</li>\n",
                ]
            )
        else:
            piece = sentence + rng.choice([" ", "\n", "\n\n"])
        parts.append(piece)
        length += len(piece)
    text = "".join(parts)
    if kind == "html":
        text = (
            "<!doctype html><html><head><style>.hot-lead{color:red}</style>"
            '<script>var s = "hot lead";</script></head><body>\n' + text + "</body></html>\n"
        )
    return text


def documents(glossary: Glossary, n: int, size: int, kind: str, *, seed: int = 17) -> list[str]:
    """``n`` documents of one kind (text, markdown or html), about ``size`` characters each."""
    rng = random.Random(f"{seed}-{kind}")
    synonyms = [s for t in glossary.terms for s in t.synonyms] or ["hot lead"]
    return [_document(rng, synonyms, size, kind) for _ in range(n)]


def large_glossary(example: Glossary, stages: int = 1000, kpis: int = 200) -> Glossary:
    """The glossary of ``benchmarks/rules.py``'s generated plan plus the example's terms."""
    terms = [Term(term=f"Stage {i}", definition=f"Stage {i}.", synonyms=[f"step {i}"]) for i in range(stages)]
    terms += [Term(term=f"KPI {i}", definition=f"KPI {i}.", synonyms=[f"metric {i}"]) for i in range(kpis)]
    terms += list(example.terms)
    return Glossary(terms=terms)


def _entry_pattern(word: str) -> str:
    """One entry as a plain pattern: words joined by spaces, a hyphen or one line break; the plural by the
    same simple rules as ``lint_text`` (lead(s), box(es), compan(y|ies))."""
    words = [re.escape(w) for w in re.findall(r"\w+", word)]
    last = words[-1]
    if not last.isalpha():
        plural = ""
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        plural = "(?:es)?"
    elif len(last) > 1 and last.endswith("y") and last[-2] not in "aeiou":
        words[-1], plural = last[:-1], "(?:y|ies)"
    else:
        plural = "s?"
    return r"(?<!\w)" + r"[ \t]*(?:-[ \t]*)?(?:\n[ \t]*)?".join(words) + plural + r"(?!\w)"


def per_term_peer(glossary: Glossary) -> Callable[[str], list[tuple[int, str]]]:
    """One compiled expression per entry, each run over the text; matches sorted by position."""
    patterns = [
        (re.compile(_entry_pattern(s), re.IGNORECASE), t.term) for t in glossary.terms for s in t.synonyms
    ]

    def run(text: str) -> list[tuple[int, str]]:
        found = [(m.start(), m.group(0)) for p, _ in patterns for m in p.finditer(text)]
        return sorted(found)

    return run


def alternation_peer(glossary: Glossary) -> Callable[[str], list[tuple[int, str]]]:
    """All entries in one flat ``re.IGNORECASE`` alternation, longest first."""
    words = sorted((s for t in glossary.terms for s in t.synonyms), key=lambda s: (-len(s), s))
    pattern = re.compile("|".join(f"(?:{_entry_pattern(s)})" for s in words), re.IGNORECASE)

    def run(text: str) -> list[tuple[int, str]]:
        return [(m.start(), m.group(0)) for m in pattern.finditer(text)]

    return run


def _time(run: Callable[[], int], repeat: int) -> tuple[list[float], list[float], int]:
    walls, cpus, found = [], [], 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        found = run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    return walls, cpus, found


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs{mem}{load}; smarketing {sm.__version__}"
    )


def _report(label: str, walls: list[float], cpus: list[float], found: int) -> None:
    print(
        f"| {label} | {found:,} | {statistics.median(walls):.3f} s ({min(walls):.3f} s) | "
        f"{statistics.median(cpus):.3f} s |"
    )


def _cli(plan: Path, docs: list[tuple[str, str]]) -> None:
    suffix = {"text": ".txt", "markdown": ".md", "html": ".html"}
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (kind, text) in enumerate(docs):
            path = Path(folder) / f"doc{i:05d}{suffix[kind]}"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        command = [
            str(Path(sys.executable).with_name("smarketing")),
            "lint-text",
            "--plan",
            str(plan),
            *paths,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        print(
            f"smarketing lint-text over {len(paths):,} files, fresh process: {wall:.3f} s "
            f"(exit {done.returncode})"
        )
        print(f"  {done.stdout.splitlines()[-1] if done.stdout else done.stderr.strip()}")


def _lint_all(glossary: Glossary, docs: list[str], path: str) -> int:
    """Every document through ``lint_text`` with ``kind="auto"`` and a path that names its kind."""
    return sum(len(lint_text(glossary, text, path=path).findings) for text in docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000, help="documents of each kind (default 10,000)")
    parser.add_argument("--size", type=int, default=2048, help="characters per document (default 2048)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-docs", type=int, default=1000, help="plain-text documents for the peers")
    parser.add_argument("--cli", action="store_true", help="also time the command over the files")
    args = parser.parse_args()

    plan_path = ROOT / "examples" / "plan.yaml"
    example = sm.load_plan(plan_path).glossary
    large = large_glossary(example)
    corpus = {kind: documents(example, args.docs, args.size, kind) for kind in ("text", "markdown", "html")}
    for kind, docs in corpus.items():
        average = sum(len(t) for t in docs) / len(docs)
        print(f"{kind}: {len(docs):,} documents, {average:,.0f} characters on average")
    print("| glossary | run | findings | wall, median (best) | CPU, median |")
    print("|---|---|---|---|---|")
    suffix = {"text": "copy.txt", "markdown": "copy.md", "html": "copy.html"}
    for name, glossary in (("example (10 entries)", example), ("1,201 terms (2,411 entries)", large)):
        started = time.perf_counter()
        lint_text(glossary, "warm-up: the expression is compiled here")
        compiled = time.perf_counter() - started
        print(f"| {name} | compile the expression (once per glossary) | | {compiled:.3f} s | |")
        for kind, docs in corpus.items():
            walls, cpus, found = _time(
                lambda g=glossary, d=docs, k=kind: _lint_all(g, d, suffix[k]), args.repeat
            )
            _report(f"{name} | `lint_text`, {len(docs):,} {kind} documents", walls, cpus, found)
        plain = corpus["text"][: args.peer_docs]
        walls, cpus, found = _time(lambda g=glossary, d=plain: _lint_all(g, d, "copy.txt"), args.repeat)
        _report(f"{name} | `lint_text`, {len(plain):,} text documents", walls, cpus, found)
        for peer_name, make in (
            ("per-term `re` loop", per_term_peer),
            ("one `re` alternation", alternation_peer),
        ):
            peer = make(glossary)
            ours = [[f.text for f in lint_text(glossary, t, kind="text").findings] for t in plain[:300]]
            theirs = [[m for _, m in peer(t)] for t in plain[:300]]
            assert ours == theirs, f"{peer_name} disagrees with lint_text"
            repeat = args.repeat if glossary is example else 1
            walls, cpus, found = _time(lambda p=peer, d=plain: sum(len(p(t)) for t in d), repeat)
            _report(f"{name} | {peer_name}, {len(plain):,} text documents", walls, cpus, found)
    if args.cli:
        _cli(plan_path, [(kind, text) for kind, docs in corpus.items() for text in docs])
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
