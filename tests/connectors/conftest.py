"""Shared helpers of the connector tests: synthetic datasets and their text form."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import polars as pl
import pytest

import smarketing as sm
from smarketing.connectors import RawFrame
from smarketing.datasets import synthetic
from smarketing.records import Dataset

#: How exports write times: ISO 8601 with the offset.
ISO = "%Y-%m-%dT%H:%M:%S%.f%:z"


@cache
def _example(seed: int, n_leads: int) -> Dataset:
    return synthetic(sm.load_plan("examples/plan.yaml"), n_leads=n_leads, seed=seed)


def text_frames(data: Dataset) -> dict[str, pl.DataFrame]:
    """Every frame as the text an export holds (times with offsets, exact decimals), splits one per row."""
    out = {}
    for kind, frame in data.frames().items():
        columns = [
            pl.col(n).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z")
            if isinstance(t, pl.Datetime)
            else pl.col(n).list.join(";")  # a list of texts (tags, seen_by), as a cell writes it
            if t == pl.List(pl.String)
            else pl.col(n).cast(pl.String)
            for n, t in frame.schema.items()
            if n != "splits"
        ]
        out[kind] = frame.select(columns)
    splits = data.deals.select("id", "splits").explode("splits").drop_nulls("splits").unnest("splits")
    out["deal_splits"] = splits.rename({"id": "deal_id"}).select(pl.all().cast(pl.String))
    return out


@pytest.fixture(scope="session")
def example() -> Callable[[int, int], Dataset]:
    """A synthetic dataset of the example plan by seed and number of leads (cached)."""
    return _example


@pytest.fixture(scope="session")
def as_text() -> Callable[[Dataset], dict[str, RawFrame]]:
    """A dataset as raw text tables for :func:`smarketing.connectors.intake`."""

    def raw(data: Dataset) -> dict[str, RawFrame]:
        return {kind: RawFrame(frame, f"{kind}.csv") for kind, frame in text_frames(data).items()}

    return raw
