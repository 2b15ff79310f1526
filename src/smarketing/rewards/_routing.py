"""Recipients to participants: where each line of credit goes (private).

A person who is a participant is paid; another person of the plan passes the credit to their team. A
team's credit goes, in this order, to the deal's revenue splits inside the team, to the deal owner if
they are in the team, or to the team's pool; with none of these it is an error, never a silent loss.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from smarketing.errors import DataError
from smarketing.rewards._allocate import _largest_remainder
from smarketing.rewards._columns import _I64, _PERSON, _TEAM, _map_text, _text_codes, _with_categoricals
from smarketing.rewards._context import _Context
from smarketing.rewards.model import RewardPlan


def _route_to_participants(
    rows: pl.DataFrame, f: pl.DataFrame, vp: RewardPlan, ctx: _Context, splits: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn recipients into participants: (personal lines, team-pool rows).

    A person who is a participant is paid; another person of the plan passes the credit to their team. A
    team's credit goes, in this order, to the deal's revenue splits inside the team, to the deal owner if
    they are in the team, or to the team's pool; with none of these it is an error.
    """
    persons = {p.person for p in vp.participants if p.person}
    teams = {p.team for p in vp.participants if p.team}
    personal, team_rows, position = _route_recipients(rows, ctx, persons)
    out_personal = [personal]
    # (a) the deal's own revenue splits, to the split people who are participants in the team.
    split_lines, team_rows = _to_revenue_splits(team_rows, splits, ctx, persons, position)
    out_personal += split_lines
    # (b) the deal owner, when a participant of the team.
    if ctx.people and not team_rows.is_empty():
        owner_lines, team_rows = _to_deal_owners(team_rows, f, ctx, persons, position)
        out_personal += owner_lines
    # (c) the team's pool; (d) nobody: an error, never a silent loss.
    _refuse_lost_credit(team_rows, teams, list(position), ctx)
    personal_rows = pl.concat(
        [
            p.select("id", "part", "source", "rule", "units", "basis_units", "via", "participant")
            for p in out_personal
        ],
        how="vertical_relaxed",
    )
    return personal_rows, team_rows


def _route(
    recipient: str, overlay: bool, persons: set[str], people: dict[str, str]
) -> tuple[str, bool] | None:
    """Where a recipient's credit goes: (participant or team, is a person), or None for nobody.

    Overlays name the people they pay, participants or not (managers, say); any other credit for a
    person who is not a participant goes to their team.
    """
    person = recipient.startswith(_PERSON)
    name = recipient[len(_PERSON) :] if person else recipient[len(_TEAM) :]
    if person and not (name in persons or overlay):
        if name not in people:
            return None
        return people[name], False
    return name, person


def _route_recipients(
    rows: pl.DataFrame, ctx: _Context, persons: set[str]
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Each line routed once: (personal lines, team rows, the routes' targets by position).

    A personal line gets its ``participant``; a team row its ``team`` and ``_ti`` (the team's position
    among the targets). Where each recipient's credit goes is worked out once per distinct recipient,
    not once per line. Credit for a person not in the plan is an error.
    """
    rows = _with_categoricals(rows, "part", "recipient", "source", "rule")
    recipient = rows.get_column("recipient")
    overlay = (rows.get_column("source") == "overlay").fill_null(False).to_numpy()
    # Route tables indexed by the recipient's categorical code (a last slot for a missing recipient):
    # where the credit goes (a position in `targets`) and whether that is a person (1), a team (0) or
    # nobody (-1); one for overlay credit, one for the rest. Every line then looks its route up in numpy.
    distinct = recipient.unique().drop_nulls()
    codes = distinct.to_physical().to_numpy().astype(np.int64)
    size = int(codes.max()) + 2 if codes.size else 1
    position: dict[str, int] = {}
    to_lut = np.full((2, size), -1, dtype=np.int64)
    kind_lut = np.full((2, size), -1, dtype=np.int8)
    people = dict(ctx.people)
    for code, text in zip(codes, distinct.cast(pl.String).to_list(), strict=True):
        for ov in (0, 1):
            found = _route(text, bool(ov), persons, people)
            if found is None:
                continue
            name, person = found
            to_lut[ov, code] = position.setdefault(name, len(position))
            kind_lut[ov, code] = 1 if person else 0
    targets = list(position)
    phys = recipient.to_physical().fill_null(size - 1).to_numpy().astype(np.int64)
    side = overlay.astype(np.int64)
    target = to_lut[side, phys]
    kind = kind_lut[side, phys]
    unknown = (kind < 0) & ~overlay & (phys != size - 1)
    if unknown.any():
        first = rows.filter(pl.Series(unknown)).sort("id").row(0, named=True)
        raise DataError(
            f"credit for {first['recipient'][len(_PERSON) :]!r} ({first['source']}), who is not in the plan: "
            "neither a person of the plan nor a participant",
            kind="deal",
            record=first["id"],
        )
    named = pl.Series(targets, dtype=pl.String).cast(pl.Categorical)
    rows = rows.rename({"recipient": "via"})
    mine, theirs = kind == 1, kind == 0
    personal = rows.filter(pl.Series(mine)).with_columns(named.gather(target[mine]).alias("participant"))
    # One team row per route (via), so each line still says where its credit came from.
    team_rows = rows.filter(pl.Series(theirs)).with_columns(
        named.gather(target[theirs]).alias("team"), pl.Series("_ti", target[theirs], dtype=_I64)
    )
    return personal, team_rows, position


def _to_revenue_splits(
    team_rows: pl.DataFrame,
    splits: pl.DataFrame,
    ctx: _Context,
    persons: set[str],
    position: dict[str, int],
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Team rows taken by the deal's revenue splits: (the split people's lines, the team rows left).

    A team row is taken when its deal has revenue splits to participants of that team; its units and
    basis are split over those people by their shares.
    """
    targets = list(position)
    people = sorted(ctx.people)
    rev = splits.filter((pl.col("kind") == "revenue") & pl.col("person").is_in(sorted(persons)))
    if not (len(rev) and ctx.people):
        return [], team_rows
    rev = rev.with_columns(
        pl.col("person").replace_strict(people, [ctx.people[p] for p in people], default=None).alias("team")
    )
    rev = _with_categoricals(rev, "team", "person")
    # The team rows a revenue split of their deal takes, looked up in a (deal x team) table by the
    # rows' integer deal and team: only those rows are joined to the split people.
    in_splits = set(rev.get_column("team").drop_nulls().unique().cast(pl.String).to_list())
    split_teams = [t for t in targets if t in in_splits]
    column = np.full(len(targets) + 1, -1, dtype=np.int64)
    column[[position[t] for t in split_teams]] = np.arange(len(split_teams))
    rid = rev.get_column("id").to_numpy()
    rcol = column[
        rev.get_column("team")
        .cast(pl.String)
        .replace_strict(list(position), list(position.values()), default=len(targets), return_dtype=_I64)
        .to_numpy()
    ]
    tid = team_rows.get_column("id").to_numpy()
    tcol = column[team_rows.get_column("_ti").to_numpy()]
    table = np.zeros((max(int(rid.max()), int(tid.max()) if tid.size else 0) + 1, len(split_teams)), bool)
    table[rid[rcol >= 0], rcol[rcol >= 0]] = True
    # Splits only among people of teams that get no credit of this deal take nothing: the team rows go
    # on as if the deal had no splits (to the owner, else the team's pool).
    hit = (tcol >= 0) & table[tid, np.maximum(tcol, 0)] if split_teams else np.zeros(tid.size, dtype=bool)
    people_of = rev.select("id", "team", "person", pl.col("w").alias("_sw"))
    taken = team_rows.filter(pl.Series(hit)).with_row_index("_row")
    matched = taken.join(people_of, on=["id", "team"], how="inner")
    if not len(matched):
        return [], team_rows
    return [_split_people_lines(matched)], team_rows.filter(pl.Series(~hit))


def _split_people_lines(matched: pl.DataFrame) -> pl.DataFrame:
    """Each taken team row's units and basis split over its split people (by share), as their lines."""
    # Each team row's split people in name order (one sort), then both amounts split alike.
    rank, size = _text_codes(matched.get_column("person"))
    key = matched.get_column("_row").cast(_I64).to_numpy() * size + rank.to_numpy()
    order = np.argsort(key, kind="stable")
    matched, key = matched[order], key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] // size != key[:-1] // size])
    share = matched.get_column("_sw").to_numpy().astype(np.int64)

    def at(row: int) -> str:
        return str(matched.row(row, named=True))

    matched = matched.with_columns(
        pl.Series(
            "_u",
            _largest_remainder(starts, matched.get_column("units").to_numpy(), share, None, where=at),
            dtype=_I64,
        ),
        pl.Series(
            "_bu",
            _largest_remainder(starts, matched.get_column("basis_units").to_numpy(), share, None, where=at),
            dtype=_I64,
        ),
    )
    return matched.select(
        "id",
        "part",
        "source",
        _map_text(matched.get_column("rule"), lambda r: f"{r} > deal splits").alias("rule"),
        pl.col("_u").alias("units"),
        pl.col("_bu").alias("basis_units"),
        _map_text(matched.get_column("via"), lambda v: f"{v} > revenue split").alias("via"),
        pl.col("person").alias("participant"),
    )


def _to_deal_owners(
    team_rows: pl.DataFrame,
    f: pl.DataFrame,
    ctx: _Context,
    persons: set[str],
    position: dict[str, int],
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Team rows taken by the deal owner, a participant of the team: (the owners' lines, team rows left).

    Each deal's owner and the owner's team are looked up by the deal's integer id, and a team row is the
    owner's when its team is the owner's team.
    """
    owners = f.select("id", "owner").filter(pl.col("owner").is_in(sorted(persons)))
    owner_names = sorted(owners.get_column("owner").unique().to_list())
    tid = team_rows.get_column("id").to_numpy()
    oid = owners.get_column("id").to_numpy()
    deal_team = np.full(max(int(tid.max()), int(oid.max()) if oid.size else 0) + 1, -1, dtype=np.int64)
    deal_owner = np.zeros_like(deal_team)
    if owner_names:
        teams_of = [ctx.people.get(name) for name in owner_names]
        team_at = [-1 if t is None else position.get(t, -1) for t in teams_of]
        which = owners.get_column("owner").replace_strict(owner_names, list(range(len(owner_names))))
        which_np = which.cast(_I64).to_numpy()
        deal_team[oid] = np.asarray(team_at, dtype=np.int64)[which_np]
        deal_owner[oid] = which_np
    owned_mask = deal_team[tid] == team_rows.get_column("_ti").to_numpy()
    if not owned_mask.any():
        return [], team_rows
    owned = team_rows.filter(pl.Series(owned_mask))
    lines = owned.select(
        "id",
        "part",
        "source",
        "rule",
        "units",
        "basis_units",
        _map_text(owned.get_column("via"), lambda v: f"{v} > deal owner").alias("via"),
        pl.Series(owner_names, dtype=pl.String)
        .cast(pl.Categorical)
        .gather(deal_owner[owned.get_column("id").to_numpy()])
        .alias("participant"),
    )
    return [lines], team_rows.filter(pl.Series(~owned_mask))


def _refuse_lost_credit(team_rows: pl.DataFrame, teams: set[str], targets: list[str], ctx: _Context) -> None:
    """A DataError for the first team row whose team has no team participant to pool it: nobody gets it."""
    pooled = np.asarray([t in teams for t in targets] + [False], dtype=bool)
    lost = team_rows.filter(pl.Series(~pooled[team_rows.get_column("_ti").to_numpy()])).sort("id", "team")
    if not len(lost):
        return
    row = lost.row(0, named=True)
    if not ctx.aligned:
        # A bare RewardPlan knows no teams: it cannot tell that the owner or a split person is in one.
        raise DataError(
            f"credit for team {row['team']!r} ({row['source']}) has no one to go to: a bare RewardPlan "
            "does not know who is in which team, so only a team participant can receive team credit; "
            "pass the whole AlignmentPlan (compute_rewards(deals, plan, ...), not plan.rewards) so the "
            "deal's owner and revenue splits are matched to their teams",
            kind="deal",
            record=row["id"],
        )
    raise DataError(
        f"credit for team {row['team']!r} ({row['source']}) has no one to go to: no revenue split or "
        "owner of the deal is a participant in that team, and the team has no team participant",
        kind="deal",
        record=row["id"],
    )
