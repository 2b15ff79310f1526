"""Test helpers for the scale-out tests: the rows a Spark DataFrame hands to the driver, and partitions.

:class:`Reads` counts every row Spark hands to the driver; :func:`partitions` and :func:`partitions_of`
split polars frames into partitions of complete keys, as Spark would, for the partial-merge laws.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
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


def partitions(frame: pl.DataFrame, key: str, parts: int, seed: int) -> list[pl.DataFrame]:
    """The rows of ``frame`` in ``parts`` partitions of complete ``key`` values (:func:`partitions_of`)."""
    return [part["_"] for part in partitions_of({"_": frame}, {"_": key}, parts, seed)]


def partitions_of(
    frames: Mapping[str, pl.DataFrame], keys: Mapping[str, str], parts: int, seed: int
) -> list[dict[str, pl.DataFrame]]:
    """Each frame's rows in ``parts`` partitions of complete keys, as Spark's ``repartition`` gives them.

    The rows of a key are in one partition in every frame (``keys`` names each frame's key column); the
    rows whose key is null are together, as Spark hashes every null alike. ``seed`` chooses each key's
    partition, the order of the partitions and of the rows in each one.
    """
    rng = random.Random(seed)
    values = {v for name, key in keys.items() for v in frames[name].get_column(key).drop_nulls().to_list()}
    where = {v: rng.randrange(parts) for v in sorted(values, key=str)}
    nulls = rng.randrange(parts)
    out = []
    for p in rng.sample(range(parts), parts):
        part = {}
        for name, key in keys.items():
            at = pl.col(key).replace_strict(where, default=None, return_dtype=pl.Int64).fill_null(nulls)
            mine = frames[name].filter(at == p)
            part[name] = mine.sample(fraction=1.0, shuffle=True, seed=rng.randrange(2**32))
        out.append(part)
    return out
