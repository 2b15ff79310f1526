"""Where records point outside their own row: at other records, at people and teams of a plan (private).

One table of these references, shared by the data rules of ``check`` (:mod:`smarketing.rules._data`) and
by the connector contract kit (:mod:`smarketing.testing.contract`), so that both hold a load to the same
references. The helpers are columnar: they filter polars frames, never loop over rows.

Examples:
    >>> import polars as pl
    >>> deals = pl.DataFrame({"id": ["D1", "D2"], "owner": ["ana", "zed"]})
    >>> unknown(deals, "owner", ["ana"]).get_column("id").to_list()
    ['D2']
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import polars as pl

__all__ = ["PEOPLE_REFERENCES", "RECORD_REFERENCES", "label", "split_people", "unknown"]

#: (kind, column, kind referred to) of the references to records of the same load.
RECORD_REFERENCES: Final = (
    ("deals", "lead_id", "leads"),
    ("touchpoints", "lead_id", "leads"),
    ("stage_events", "lead_id", "leads"),
    ("activities", "lead_id", "leads"),
    ("dispositions", "lead_id", "leads"),
    ("feedback", "lead_id", "leads"),
    ("leads", "account_id", "accounts"),
    ("deals", "account_id", "accounts"),
    ("feedback", "account_id", "accounts"),
)

#: (kind, column) of the references to people of the plan (deal splits' ``person`` aside: see
#: :func:`split_people`).
PEOPLE_REFERENCES: Final = (
    ("leads", "owner"),
    ("deals", "owner"),
    ("touchpoints", "owner"),
    ("stage_events", "actor"),
    ("activities", "person"),
    ("dispositions", "person"),
)


def label(kind: str, count: int = 1) -> str:
    """How records of a kind are named: ``"stage event"``, or ``"stage events"`` when ``count != 1``.

    Examples:
        >>> label("stage_events"), label("activities", 1), label("deals", 3)
        ('stage event', 'activity', 'deals')
    """
    plural = kind.replace("_", " ")
    if count != 1:
        return plural
    return plural.removesuffix("ies") + "y" if plural.endswith("ies") else plural.removesuffix("s")


def unknown(frame: pl.DataFrame, column: str, known: Collection[str] | pl.Series) -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` holds a value (not null) that is not in ``known``.

    A frame without the column has no such row.
    """
    if column not in frame.columns:
        return frame.clear()
    values = known if isinstance(known, pl.Series) else pl.Series(list(known), dtype=pl.String)
    return frame.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(values.implode()))


def split_people(deals: pl.DataFrame) -> pl.DataFrame:
    """One row per deal split: the deal's ``id`` and the split's ``person`` (none without splits)."""
    if "splits" not in deals.columns or "id" not in deals.columns:
        return pl.DataFrame(schema={"id": pl.String, "person": pl.String})
    return (
        deals.select("id", "splits")
        .explode("splits")
        .filter(pl.col("splits").is_not_null())
        .select("id", pl.col("splits").struct.field("person"))
    )
