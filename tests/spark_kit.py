"""Test helpers for the Spark scale-out tests: count every row a Spark DataFrame hands to the driver, and
split record kinds into partitions of complete leads for the partial-merge laws."""

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


def split_leads(
    data: Mapping[str, pl.DataFrame], keys: Mapping[str, str], parts: int, seed: int
) -> list[dict[str, pl.DataFrame]]:
    """The kinds of ``data`` in ``parts`` partitions of complete leads, as Spark would shuffle them.

    ``keys`` names each kind's lead column (a kind not in it is left out); every row of a lead, of every
    kind, lands in one partition; the partitions come in a random order, each one's rows shuffled.
    """
    rng = random.Random(seed)
    ids = sorted({i for kind, key in keys.items() for i in data[kind].get_column(key).drop_nulls().to_list()})
    where = {lead: rng.randrange(parts) for lead in ids}
    out = []
    for p in rng.sample(range(parts), parts):
        part = {}
        for kind, key in keys.items():
            at = pl.col(key).replace_strict(where, default=0, return_dtype=pl.Int64).fill_null(0)
            mine = data[kind].filter(at == p)
            part[kind] = mine.sample(fraction=1.0, shuffle=True, seed=rng.randrange(2**32))
        out.append(part)
    return out
