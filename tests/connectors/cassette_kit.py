"""Recording a live connector's requests against its fake API as vcrpy cassettes, and replaying them offline.

Shared by the connectors' cassette tests (``test_hubspot_cassettes.py``, ``test_salesforce_cassettes.py``).
A cassette is recorded against the fake API on the loopback address, with the fake's address written as a
fixed host (``http://hubspot.fake``), so the same load gives the same bytes; replayed, every request must
match one recorded request exactly (method, scheme, host, port, path, query and body; each played once).
No secret is written: the ``Authorization`` and ``User-Agent`` headers are not recorded, the answers'
``Date`` and ``Server`` headers (they change with every recording) are dropped, and any secret given that
an answer's body holds is written ``[redacted]``; :func:`secrets_in` looks for any left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr

#: What a replayed request must match of a recorded one.
MATCH = ["method", "scheme", "host", "port", "path", "query", "body"]


def recorder(folder: Path, mode: str, *, host: str, address: str, secrets: Sequence[str]) -> vcr.VCR:
    """The VCR of ``folder``'s cassettes: ``address`` (the fake's) written as ``host``, no secret recorded."""

    def request(req: Any) -> Any:
        req.uri = req.uri.replace(address, host)
        return req

    def response(answer: dict[str, Any]) -> dict[str, Any]:
        for header in ("Date", "Server"):
            answer["headers"].pop(header, None)
        body = answer["body"]["string"]
        if isinstance(body, bytes):
            for secret in secrets:
                body = body.replace(secret.encode(), b"[redacted]")
            answer["body"]["string"] = body
        return answer

    return vcr.VCR(
        cassette_library_dir=str(folder),
        record_mode=mode,
        match_on=MATCH,
        filter_headers=["authorization", "user-agent"],
        before_record_request=request,
        before_record_response=response,
        decode_compressed_response=True,
    )


@contextmanager
def replaying(folder: Path, name: str, *, host: str) -> Iterator[Any]:
    """Replay the cassette ``name`` of ``folder``: a request not recorded raises, none plays twice."""
    with recorder(folder, "none", host=host, address=host, secrets=()).use_cassette(
        f"{name}.yaml", allow_playback_repeats=False
    ) as cassette:
        yield cassette


def record(
    folder: Path, name: str, *, host: str, address: str, secrets: Sequence[str], load: Callable[[], object]
) -> Path:
    """Record the cassette ``name`` again: every request ``load()`` makes of the fake at ``address``."""
    path = folder / f"{name}.yaml"
    path.unlink(missing_ok=True)
    with recorder(folder, "all", host=host, address=address, secrets=secrets).use_cassette(path.name):
        load()
    return path


def secrets_in(folder: Path, secrets: Sequence[str], pattern: str) -> list[str]:
    """``file: what`` for each secret given, or text matching ``pattern``, in a cassette of ``folder``."""
    found = []
    for file in sorted(folder.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        found += [f"{file.name}: a secret" for secret in secrets if secret in text]
        found += [f"{file.name}: {m.group(0)!r}" for m in re.finditer(pattern, text)]
    return found
