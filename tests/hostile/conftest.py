"""Shared helpers of the hostile corpus: bad input must give a located error, never a hang or a traceback.

Each module of ``tests/hostile/`` covers one boundary (plans, formulas, frames, money, CLI, plugins).
A case asserts the exact class of outcome (which ``SmarketingError`` subclass, or a documented correct
result) and that the message names the place (file:line, field path, record id, column).

``no_hang`` turns a hang into a failure after a generous limit. It is a guard, not a timing assertion:
the promise is "within a second", and a case that takes ten has broken it beyond any noise.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

#: Seconds after which a case counts as hung.
HANG_LIMIT = 10


class HungError(Exception):
    """A case ran past :data:`HANG_LIMIT`."""


@pytest.fixture(autouse=True)
def no_hang(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a case that runs past :data:`HANG_LIMIT` seconds (main thread, POSIX).

    A case that runs a whole command on purpose (the demo: every analysis, then the report's charts) says
    so with ``@pytest.mark.hang_limit(seconds)``.
    """
    marker = request.node.get_closest_marker("hang_limit")
    limit = int(marker.args[0]) if marker is not None else HANG_LIMIT

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise HungError(f"the case ran for more than {limit} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_names(message: str, *places: str) -> None:
    """Assert that ``message`` names every one of ``places`` (a file, line, field path, record id ...)."""
    missing = [place for place in places if place not in message]
    assert not missing, f"message does not name {missing}: {message!r}"
