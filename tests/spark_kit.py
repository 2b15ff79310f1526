"""Test helpers for the Spark scale-out tests: count every row a Spark DataFrame hands to the driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


class Reads:
    """Every row a Spark DataFrame hands to the driver (``toArrow``, ``collect``, ``toPandas``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, frame: Any) -> None:
        self.rows: list[int] = []
        for name in ("toArrow", "collect", "toPandas"):
            # PySpark 4's DataFrame is classic or Spark Connect: the methods of the frame's own class.
            original = getattr(type(frame), name)
            monkeypatch.setattr(type(frame), name, self._spy(original))

    def _spy(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def read(frame: Any, *args: Any, **kwargs: Any) -> Any:
            out = original(frame, *args, **kwargs)
            self.rows.append(len(out))
            return out

        return read
