"""The kernel's columns: integer minor units, coded lines, and the ledger's stored form (private).

A line of the kernel costs a few integers whatever its text: a deal is its rank in id order
(``deal_rank``), a participant its rank among the sorted names (``participant_rank``), and text columns
are categoricals. Text is made only when lines are shown (:func:`_lines_as_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from smarketing.frames import _money

_I64 = pl.Int64
_MAX_PRODUCT = _money.MAX_PRODUCT  # products of minor units and integer weights must stay exact in int64
_WEIGHT_SCALE = 1_000_000  # attribution credit is quantised to millionths of a deal before allocation
_PERSON = "person:"
_TEAM = "team:"
# Component order inside a deal's lines (the documented line order).
COMPONENTS: tuple[str, ...] = (
    "pool",
    "split",
    "team_pool",
    "tier",
    "cap",
    "floor",
    "clawback",
    "adjustment",
)
"""Ledger line components, in the order lines of one deal are listed."""


def _period_of(column: pl.Expr, kind: str) -> pl.Expr:
    year = column.dt.year().cast(pl.String)
    if kind == "year":
        return year
    if kind == "quarter":
        return pl.concat_str(year, pl.lit("-Q"), column.dt.quarter().cast(pl.String))
    return column.dt.strftime("%Y-%m")


def _categorical_constant(value: str) -> pl.Expr:
    """A text constant as a categorical: lines repeat a code, not the text."""
    return pl.lit(value).cast(pl.Categorical)


def _with_categoricals(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``frame`` with its text ``columns`` as categoricals."""
    return frame.with_columns(pl.col(c).cast(pl.Categorical) for c in columns if c in frame.columns)


def _text_codes(column: pl.Series, values: Sequence[str] | None = None) -> tuple[pl.Series, int]:
    """Each line's rank among the distinct texts of a column (or its position in ``values``), nulls last.

    The column is a categorical: the texts are ranked once per distinct value, and every line gets its rank
    through its integer code, so sorting the ledger never compares strings.
    """
    if column.dtype == pl.String:
        column = column.cast(pl.Categorical)
    distinct = column.unique().drop_nulls()
    texts = distinct.cast(pl.String).to_list()
    ordered = list(values) if values is not None else sorted(texts)
    position = {t: i for i, t in enumerate(ordered)}
    ranks = column.to_physical().replace_strict(
        distinct.to_physical(), [position[t] for t in texts], default=None, return_dtype=_I64
    )
    return ranks.fill_null(len(ordered)), len(ordered) + 1


def _map_text(column: pl.Series, how: Any, dtype: pl.DataType | None = None) -> pl.Series:
    """``how(text)`` for each line of a categorical column, computed once per distinct value.

    The result is a categorical (text), or of ``dtype``.
    """
    distinct = column.unique().drop_nulls()
    values = [how(t) for t in distinct.cast(pl.String).to_list()]
    mapped = (
        pl.Series(values, dtype=pl.String).cast(pl.Categorical)
        if dtype is None
        else pl.Series(values, dtype=dtype)
    )
    return column.to_physical().replace_strict(
        distinct.to_physical(), mapped, default=None, return_dtype=mapped.dtype
    )


# The kernel's coded lines: a deal is its rank (`deal_rank`), a participant its position in the sorted names
# (`participant_rank`) and text columns are categoricals: a line costs a few integers, whatever its text.
_KERNEL_COLUMNS: dict[str, pl.DataType] = {
    "deal_rank": _I64(),
    "participant_rank": _I64(),
    "component": pl.Categorical(),
    "source": pl.Categorical(),
    "rule": pl.Categorical(),
    "via": pl.Categorical(),
    "units": _I64(),
    "basis_units": _I64(),
    "origin_period": pl.Categorical(),
}


def _kernel_lines(size: int, **columns: Any) -> pl.DataFrame:
    """A frame of coded lines from arrays, series or constants (missing columns are null)."""
    data = {}
    for name, dtype in _KERNEL_COLUMNS.items():
        value = columns.get(name)
        if isinstance(value, pl.Series):
            data[name] = value.alias(name).cast(dtype)
        elif isinstance(value, np.ndarray):
            data[name] = pl.Series(name, value, dtype=dtype)
        elif dtype == pl.Categorical:
            data[name] = pl.Series(name, [value], dtype=pl.String).cast(dtype).new_from_index(0, size)
        else:
            data[name] = pl.repeat(value, size, dtype=dtype, eager=True).alias(name)
    return pl.DataFrame(data)


def _order(lines: pl.DataFrame) -> pl.DataFrame:
    """The documented line order.

    Participant, deal (lines without a deal last), component (in :data:`COMPONENTS` order), then source,
    rule, route, origin period and amount. A cap line's rule is ranked by its template: a participant has
    at most one cap line of each kind per deal, so its numbers never decide the order.
    """
    columns: list[tuple[pl.Series, int]] = [_text_codes(lines.get_column("participant"))]
    # Deal ranks sort like the ids; lines without a deal (a floor) come last.
    biggest = lines.get_column("deal_rank").max()
    size = (biggest if isinstance(biggest, int) else 0) + 1
    columns.append((lines.get_column("deal_rank").fill_null(size), size + 1))
    columns.append(_text_codes(lines.get_column("component"), COMPONENTS))
    columns.extend(_text_codes(lines.get_column(c)) for c in ("source", "rule", "via", "origin_period"))
    # One mixed-radix integer key when it fits (it does for any real ledger), else one key per column.
    radix = 1
    for _, size in columns:
        radix *= size
    if radix < _MAX_PRODUCT:
        key = pl.Series("_key", np.zeros(len(lines), dtype=np.int64))
        for ranks, size in columns:
            key = key * size + ranks
        keys = [key.alias("_k0")]
    else:
        keys = [ranks.alias(f"_k{i}") for i, (ranks, _) in enumerate(columns)]
    names = [k.name for k in keys]
    return lines.with_columns(keys).sort([*names, "units"], maintain_order=True).drop(names)


_LEDGER_COLUMNS: dict[str, pl.DataType] = {
    "participant": pl.Categorical(),
    "deal_rank": _I64(),
    "component": pl.Categorical(),
    "source": pl.Categorical(),
    "via": pl.Categorical(),
    "units": _I64(),
    "basis_units": _I64(),
    "rule": pl.Categorical(),
    "origin_period": pl.Categorical(),
}
"""The ledger's stored lines: integers and categoricals; text is made only when lines are shown.

What a line repeats from its deal (pool, basis, version), its participant (team) or the run (period) is
kept once, not per line; a locked period's ledger, whose paid lines keep what they said, carries those as
columns of its own (:data:`_LOCKED_COLUMNS`).
"""

_LOCKED_COLUMNS: dict[str, pl.DataType] = {
    "period": pl.Categorical(),
    "team": pl.Categorical(),
    "pool_units": _I64(),
    "deal_units": _I64(),
    "version": pl.Categorical(),
}


def _lines_as_text(
    lines: pl.DataFrame, deals: pl.DataFrame, teams: Mapping[str, str | None], period: str
) -> pl.DataFrame:
    """Coded lines as text columns, in the order given (the ledger's internal columns, as text)."""
    d = lines.get_column("deal_rank")
    by_line: dict[str, Any] = {}
    for column in ("pool_units", "deal_units", "version"):
        if column in lines.columns:
            by_line[column] = pl.col(column)
        else:
            looked = deals.get_column(column).gather(d).alias(column)
            by_line[column] = looked if column == "version" else looked.fill_null(0)
    team = (
        pl.col("team")
        if "team" in lines.columns
        else _map_text(lines.get_column("participant"), teams.get).alias("team")
    )
    return lines.select(
        pl.col("period").cast(pl.String)
        if "period" in lines.columns
        else pl.lit(period, dtype=pl.String).alias("period"),
        pl.col("participant").cast(pl.String),
        team.cast(pl.String),
        deals.get_column("id").gather(d).cast(pl.String).alias("deal"),
        pl.col("component").cast(pl.String),
        pl.col("source").cast(pl.String),
        pl.col("via").cast(pl.String),
        "units",
        "basis_units",
        by_line["pool_units"],
        by_line["deal_units"],
        by_line["version"].cast(pl.String),
        pl.col("rule").cast(pl.String),
        pl.col("origin_period").cast(pl.String),
    )


def _lines_from_text(plain: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text lines (as :func:`_lines_as_text` gives them) back to coded lines (all columns), and the deals."""
    deals = plain.get_column("deal").drop_nulls().unique().sort()
    index = plain.get_column("deal").replace_strict(
        deals, list(range(len(deals))), default=None, return_dtype=_I64
    )
    coded = plain.with_columns(index.alias("deal_rank"))
    schema = {**_LEDGER_COLUMNS, **_LOCKED_COLUMNS}
    return coded.select(pl.col(c).cast(t) for c, t in schema.items()), deals.alias("id").to_frame()


LINE_COLUMNS: dict[str, pl.DataType] = {
    "period": pl.String(),
    "participant": pl.String(),
    "team": pl.String(),
    "deal": pl.String(),
    "component": pl.String(),
    "source": pl.String(),
    "units": _I64(),
    "basis_units": _I64(),
    "pool_units": _I64(),
    "deal_units": _I64(),
    "version": pl.String(),
    "rule": pl.String(),
    "via": pl.String(),
    "origin_period": pl.String(),
}
"""The ledger's lines as rows of text and integer minor units (``RewardLedger.line_table``)."""


def _plain_lines(table: Any) -> pl.DataFrame:
    """Lines in :data:`LINE_COLUMNS` (a PySpark or polars frame) as a polars frame of those columns."""
    if isinstance(table, pl.DataFrame):
        plain = table
    else:
        native = pl.from_arrow(table.toArrow())
        assert isinstance(native, pl.DataFrame)
        plain = native
    return plain.select(pl.col(c).cast(t) for c, t in LINE_COLUMNS.items())


def _lines_from_table(table: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lines in :data:`LINE_COLUMNS` (a PySpark or polars frame) as coded lines and their deals, in polars.

    A deal's rank is its place among the lines' deal ids in order; its pool, basis and version are kept
    once, in the deals.
    """
    plain = _plain_lines(table)
    deals = (
        plain.filter(pl.col("deal").is_not_null())
        .select(pl.col("deal").alias("id"), "pool_units", "deal_units", "version")
        .unique("id")
        .sort("id")
    )
    rank = plain.get_column("deal").replace_strict(
        deals.get_column("id"), list(range(len(deals))), default=None, return_dtype=_I64
    )
    coded = plain.with_columns(rank.alias("deal_rank"))
    return (
        coded.select(pl.col(c).cast(t) for c, t in _LEDGER_COLUMNS.items()),
        deals.with_columns(pl.col("version").cast(pl.Categorical)),
    )
