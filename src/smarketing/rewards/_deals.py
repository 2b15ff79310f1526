"""Won-deal intake: the deals a run pays, checked, in plan minor units at the close date's rate (private).

Minor units, rates and exact conversion come from ``smarketing.frames._money``, the one money intake
that attribution uses too; what is rewards' own is which deals count and the errors that name them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from smarketing.errors import CurrencyMismatchError, DataError
from smarketing.frames import _money, as_lazy
from smarketing.money import FxTable
from smarketing.rewards._columns import _I64, _MAX_PRODUCT, _period_of
from smarketing.rewards._context import _Context


def _where(frame: pl.DataFrame, condition: pl.Expr) -> pl.DataFrame:
    """``frame.filter(condition)``, without copying the frame when every row is kept."""
    keep = frame.select(condition.fill_null(False)).to_series()
    return frame if keep.all() else frame.filter(keep)


def _deal_frame(deals: Any, ctx: _Context, fx: FxTable | None, cutoff: date, kind: str) -> pl.DataFrame:
    """Won deals closed on or before ``cutoff`` under the plan, checked, with amounts in plan minor units."""
    plan = ctx.plan
    currency = plan.currency
    required = ["id", "lead_id", "amount", "amount_currency", "stage", "close_date"]
    lf = as_lazy(deals, "deals", required=required)
    native = lf.collect(backend="polars").to_native()
    assert isinstance(native, pl.DataFrame)
    for optional, dtype in (
        ("discount", pl.Decimal(38, 6)),
        ("discount_currency", pl.String()),
        ("owner", pl.String()),
        ("product", pl.String()),
        ("segment", pl.String()),
        ("refunded_on", pl.Date()),
    ):
        if optional not in native.columns:
            native = native.with_columns(pl.lit(None, dtype=dtype).alias(optional))
    if "splits" not in native.columns:
        native = native.with_columns(
            pl.lit(
                None,
                dtype=pl.List(
                    pl.Struct({"person": pl.String, "share": pl.Decimal(38, 6), "kind": pl.String})
                ),
            ).alias("splits")
        )
    if native.get_column("id").null_count():
        raise DataError("a deal has no id", kind="deal", field="id")
    won = _where(native, pl.col("stage") == _money.WON)
    # The one won-deal rule (shared with the KPIs and attribution): ids, dates, currencies, amounts.
    gross = _money.check_won(won).get_column("_minor")
    won = won.with_columns(gross.alias("_gross"))
    start = plan.valid_from
    in_scope = pl.col("close_date") <= cutoff
    if start is not None:
        in_scope &= pl.col("close_date") >= start
    won = _where(won, in_scope)
    # Equal ids have equal hashes: only when two hashes are equal (a repeated id, or rarely a collision)
    # are the ids themselves compared.
    hashes = np.sort(won.get_column("id").hash().to_numpy())
    if (hashes[1:] == hashes[:-1]).any():
        dupes = won.filter(pl.col("id").is_duplicated())
        if len(dupes):
            raise DataError(
                "the deal id appears twice", kind="deal", record=str(dupes.get_column("id")[0]), field="id"
            )
    mixed = won.filter(
        pl.col("discount").is_not_null() & (pl.col("discount_currency") != pl.col("amount_currency"))
    )
    if len(mixed):
        raise DataError(
            "discount must be in the deal's currency",
            kind="deal",
            record=str(mixed.get_column("id")[0]),
            field="discount",
        )
    if plan.pool.basis == "net" or any(v.pool.basis == "net" for v in plan.versions if v.pool):
        # A deal without a discount has none (0); the others in minor units, in place (no join on the ids).
        any_discount = won.get_column("discount").null_count() < won.height
        disc = (
            _money.minor_units(won, "discount", "amount_currency") if any_discount else pl.lit(0, dtype=_I64)
        )
        won = won.with_columns(disc.fill_null(0).alias("_disc"))
        over = won.filter(pl.col("_disc") > pl.col("_gross"))
        if len(over):
            raise DataError(
                "discount is larger than the amount",
                kind="deal",
                record=str(over.get_column("id")[0]),
                field="discount",
            )
    else:
        won = won.with_columns(pl.lit(0, dtype=_I64).alias("_disc"))
    won = _convert(won.with_columns((pl.col("_gross") - pl.col("_disc")).alias("_net")), fx, currency)
    # Which version pays each deal: the latest whose valid_from is on or before the close date.
    versions = plan.version_index()
    starts = [v[0] for v in versions]
    days = won.get_column("close_date").cast(pl.Int32).to_numpy()
    bounds = np.array([(s - date(1970, 1, 1)).days if s else -(2**31) for s in starts], dtype=np.int64)
    index = np.searchsorted(bounds, days, side="right") - 1
    won = won.with_columns(
        pl.Series("_version", index, dtype=_I64),
        _period_of(pl.col("close_date"), kind).alias("_period"),
        pl.col("refunded_on").cast(pl.Date),
    )
    return won


def _convert(won: pl.DataFrame, fx: FxTable | None, currency: str) -> pl.DataFrame:
    """Gross and discount in plan minor units at the close date's rate (rounded half to even per amount)."""
    others = sorted(c for c in won.get_column("amount_currency").unique().to_list() if c != currency)
    pieces = [
        won.filter(pl.col("amount_currency") == currency).with_columns(
            pl.lit(None, dtype=pl.String).alias("_fx")
        )
    ]
    for code in others:
        part = won.filter(pl.col("amount_currency") == code).sort("close_date")
        if fx is None:
            raise CurrencyMismatchError(
                f"deal {part.get_column('id')[0]}: amount in {code}, the plan pays in {currency}; "
                "pass fx=FxTable(...) to convert"
            )
        # The shared FX intake (with attribution): rates by join_asof, exact half-even integers.
        pair = _money.FxPair.of(fx, code, currency)
        if pair.rates:
            part = _money.with_rates(part, pair, "close_date")
        missing = part.filter(pl.col("_rate").is_null()) if pair.rates else part
        if len(missing):
            row = missing.row(0, named=True)
            raise DataError(
                f"no {code}/{currency} rate on or before {row['close_date']}",
                kind="deal",
                record=row["id"],
                field="fx",
            )
        converted = _money.convert_minor(part, ("_gross", "_net"), pair)
        if converted is None:
            # Long rates (an inverse rate has 34 digits): exact in Python integers, row by row.
            converted = part.with_columns(
                pl.Series(name, _convert_exact(part, name, pair=pair), _I64) for name in ("_gross", "_net")
            )
        pieces.append(converted.drop("_rate"))
    return pl.concat(pieces, how="vertical_relaxed")


def _convert_exact(part: pl.DataFrame, column: str, *, pair: _money.FxPair) -> list[int]:
    """``column`` converted at each row's rate, rounded half to even, in exact integers."""
    out = []
    for deal, units, which in part.select("id", column, "_rate").iter_rows():
        q = _money.convert_units(units, pair.ratios[which], pair)
        if abs(q) >= _MAX_PRODUCT:
            raise DataError(
                f"amount too large to convert exactly from {pair.code} into {pair.to}",
                kind="deal",
                record=str(deal),
                field=column.lstrip("_").replace("gross", "amount").replace("net", "discount"),
            )
        out.append(q)
    return out
