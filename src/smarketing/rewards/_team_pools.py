"""Team pools: a deal's team credit divided among the team's members (private)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import polars as pl

from smarketing.rewards._allocate import _scaled, _split_grid
from smarketing.rewards._columns import _I64, _WEIGHT_SCALE, _map_text
from smarketing.rewards._context import _Context
from smarketing.rewards.model import RewardPlan


def _team_weights(versions: list[tuple[date | None, RewardPlan]], ctx: _Context) -> pl.DataFrame:
    """Per version and team participant: its members, how the team divides, and their weights."""
    weight_rows = []
    for index, (_, vp) in enumerate(versions):
        for part in vp.participants:
            if part.team is None:
                continue
            members = ctx.members(part.team) or [part.team]
            mine = {p.person: p.weight for p in vp.participants if p.person}
            scaled = _scaled([mine.get(m, Decimal(1)) for m in members])
            for member, weight in zip(members, scaled, strict=True):
                weight_rows.append((index, part.team, member, part.divide, weight))
    return pl.DataFrame(
        weight_rows,
        schema={
            "_version": _I64,
            "team": pl.String,
            "participant": pl.String,
            "_divide": pl.String,
            "_w": _I64,
        },
        orient="row",
    )


def _team_pools(
    teams: pl.DataFrame,
    weights: pl.DataFrame,
    summary: pl.DataFrame,
    *,
    names: list[str],
    periods: list[str],
    per_close: np.ndarray,
    personal_credit: np.ndarray,
) -> pl.DataFrame:
    """Divide each deal's team credit among the team's members by the team participant's weighting."""
    if teams.is_empty():
        return pl.DataFrame()
    attained = np.zeros_like(personal_credit)
    for row in summary.iter_rows(named=True):
        if row["quota"] and row["participant"] in names:
            att = max(row["booked"] - row["clawed"], 0) * _WEIGHT_SCALE // row["quota"]
            attained[names.index(row["participant"]), periods.index(row["_period"])] = att
    place = {name: i for i, name in enumerate(names)}
    pieces = []
    # One (version, team) at a time: its rows share the members and how they divide, so the weights are a
    # (row x member) grid in numpy, members in participant order (the allocation's key order).
    for (version, team), group in weights.group_by("_version", "team", maintain_order=True):
        rows = teams.filter((pl.col("_version") == version) & (pl.col("team") == team))
        if rows.is_empty():
            continue
        divide = str(group.get_column("_divide")[0])
        members = group.with_columns(
            pl.col("participant").replace_strict(place, return_dtype=_I64).alias("participant_rank")
        ).sort("participant_rank")
        p = members.get_column("participant_rank").to_numpy()
        q = per_close[rows.get_column("id").to_numpy()]
        if divide == "equal":
            w = np.ones((rows.height, p.size), dtype=np.int64)
        elif divide == "attainment":
            w = attained[p[None, :], q[:, None]]
        elif divide == "credit":
            w = np.maximum(personal_credit[p[None, :], q[:, None]], 0)
        else:
            fixed = members.get_column("_w").to_numpy().astype(np.int64)
            w = np.broadcast_to(fixed[None, :], (rows.height, p.size))
        # A team whose members all weigh zero (nobody attained anything yet) is divided equally.
        w = np.where((w.sum(axis=1) == 0)[:, None], 1, w)
        # Each row's credit over the members on a (row x member) grid; a line for each member weighing > 0.
        grid = _split_grid(rows.get_column("units").to_numpy(), w)
        if (w > 0).all():
            rr, jj = np.repeat(np.arange(rows.height), p.size), np.tile(np.arange(p.size), rows.height)
            units = grid.ravel()
        else:
            rr, jj = np.nonzero(w > 0)
            units = grid[rr, jj]
        # The rule and route texts are made once per distinct value, not once per line.
        rule = _map_text(rows.get_column("rule"), lambda r, t=team, d=divide: f"{r} > team pool {t} by {d}")
        via = _map_text(rows.get_column("via"), lambda v, t=team: f"{v} > team {t}")
        pick = pl.Series(rr)
        pieces.append(
            pl.DataFrame(
                {
                    "id": rows.get_column("id").gather(pick),
                    "participant_rank": pl.Series(p[jj], dtype=_I64),
                    "component": pl.Series(["team_pool"], dtype=pl.String)
                    .cast(pl.Categorical)
                    .new_from_index(0, rr.size),
                    "source": rows.get_column("source").gather(pick),
                    "rule": rule.gather(pick),
                    "via": via.gather(pick),
                    "units": pl.Series(units, dtype=_I64),
                    "basis_units": pl.Series(np.zeros(rr.size, dtype=np.int64)),
                }
            )
        )
    if not pieces:
        return pl.DataFrame()
    return pl.concat(pieces, how="vertical_relaxed")
