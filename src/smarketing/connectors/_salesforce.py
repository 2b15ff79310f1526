"""The parts of the ``salesforce-export`` connector: ids, times, stage and user maps, history (private).

Every function works on whole columns (polars expressions); none loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import attrs
import numpy as np
import polars as pl

from smarketing.connectors import _read
from smarketing.connectors.report import AppliedMapping, Default, Refusal
from smarketing.plan import AlignmentPlan

__all__ = [
    "CHECKSUM",
    "STANDARD_VALUES",
    "Found",
    "case_safe",
    "case_safe_text",
    "history",
    "parse_time",
    "stage_map",
    "user_map",
]

#: The characters of the 18-character id's suffix, by the value of a chunk's five upper-case bits.
CHECKSUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_INDEX: Final = {c: i for i, c in enumerate(CHECKSUM)}

#: Salesforce's standard Lead Status and Opportunity Stage values -> the journey role they stand for. A
#: role is a stage kind (``lead``, ``sal``, ``sql``, ``opportunity``: the first open stage of that kind)
#: or a terminal outcome (``disqualified``, ``won``, ``lost``: the first stage ending that way).
STANDARD_VALUES: Final[dict[str, str]] = {
    "Open - Not Contacted": "lead",
    "Working - Contacted": "sal",
    "Closed - Converted": "sql",
    "Closed - Not Converted": "disqualified",
    "Prospecting": "opportunity",
    "Qualification": "opportunity",
    "Needs Analysis": "opportunity",
    "Value Proposition": "opportunity",
    "Id. Decision Makers": "opportunity",
    "Perception Analysis": "opportunity",
    "Proposal/Price Quote": "opportunity",
    "Negotiation/Review": "opportunity",
    "Closed Won": "won",
    "Closed Lost": "lost",
}
_TERMINAL_ROLES: Final = ("disqualified", "won", "lost")


@attrs.define
class Found:
    """What a load found besides the rows: refusals, maps applied, defaults given, notes."""

    refusals: list[Refusal] = attrs.Factory(list)
    mappings: list[AppliedMapping] = attrs.Factory(list)
    defaults: list[Default] = attrs.Factory(list)
    notes: list[str] = attrs.Factory(list)

    def refuse(
        self, frame: pl.DataFrame, *, kind: str, source: str, record: str, column: str, why: pl.Expr
    ) -> None:
        """Refuse each row of ``frame`` where ``why`` (a reason, or null) is set."""
        bad = frame.with_columns(why.alias("_why")).filter(pl.col("_why").is_not_null())
        for line, ident, reason in bad.select("__line", record, "_why").iter_rows():
            self.refusals.append(Refusal(kind, source, line, ident, column, reason))

    def count(self, column: str, cells: pl.Series, mapping: Mapping[str, str | None]) -> None:
        """List each entry of ``mapping`` used in ``cells`` (and not the identity) with its rows."""
        counts = cells.filter(cells.is_in(list(mapping))).value_counts(sort=False)
        self.tally(column, dict(counts.iter_rows()), mapping)

    def tally(self, column: str, counts: Mapping[str, int], mapping: Mapping[str, str | None]) -> None:
        """:meth:`count` of cells already counted (value -> rows)."""
        for value, rows in sorted((v, n) for v, n in counts.items() if v in mapping):
            target = mapping[value]
            if target != value:
                self.mappings.append(
                    AppliedMapping(column, value, "(none)" if target is None else target, rows)
                )


# --------------------------------------------------------------------------------------------------
# Ids.


def case_safe_text(value: str) -> str | None:
    """One id in its 18-character form, or ``None`` (the reference for :func:`case_safe`)."""
    text = value.strip()
    if len(text) not in (15, 18) or not text.isascii() or not text.isalnum():
        return None
    if len(text) == 18:
        flags = [_INDEX.get(c) for c in text[15:].upper()]
        if any(f is None for f in flags):
            return None
        body = "".join(
            c.upper() if (flags[i // 5] or 0) >> (i % 5) & 1 else c.lower() for i, c in enumerate(text[:15])
        )
    else:
        body = text
    suffix = "".join(
        CHECKSUM[sum(1 << j for j, c in enumerate(body[k : k + 5]) if "A" <= c <= "Z")] for k in (0, 5, 10)
    )
    return body + suffix


_ASCII_SUFFIX: Final = np.frombuffer(CHECKSUM.encode(), np.uint8)
#: Byte -> its value in :data:`CHECKSUM` (upper or lower case), or -1.
_FLAGS: Final = np.full(256, -1, np.int8)
_FLAGS[_ASCII_SUFFIX] = np.arange(32, dtype=np.int8)
_FLAGS[np.frombuffer(CHECKSUM.lower().encode(), np.uint8)[:26]] = np.arange(26, dtype=np.int8)
_SALESFORCE_TIME: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


def _case_safe_series(series: pl.Series) -> pl.Series:
    """:func:`case_safe` on a column, once per distinct value, as bytes in numpy (no Python per row)."""
    return _once_per_value(series.cast(pl.String), lambda t: _case_safe_values(t.str.strip_chars()))


def _once_per_value(cells: pl.Series, turn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``turn`` (a function of each cell alone) on a column, once per distinct value when values repeat."""
    distinct = cells.unique().drop_nulls()  # the order does not matter: each cell is looked up
    if distinct.len() * 2 > cells.len():
        return turn(cells).alias(cells.name)
    turned = turn(distinct)
    return cells.replace_strict(distinct, turned, default=None, return_dtype=pl.String).alias(cells.name)


#: Ids turned at a time by :func:`_case_safe_values` (the arrays of a block stay small).
_BLOCK: Final = 1 << 19


def _case_safe_values(text: pl.Series) -> pl.Series:
    """The 18-character form of each value of ``text`` (stripped), or null; a block of ids at a time."""
    if text.len() <= _BLOCK:
        return _case_safe_block(text)
    blocks = [_case_safe_block(text.slice(start, _BLOCK)) for start in range(0, text.len(), _BLOCK)]
    return pl.concat(blocks, rechunk=False)


def _case_safe_block(text: pl.Series) -> pl.Series:
    """:func:`_case_safe_values` of one block, as bytes in numpy."""
    valid = text.str.contains(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?$").fill_null(False)
    padded = pl.when(valid).then(text).otherwise(pl.lit("0" * 15))
    width = pl.select(padded.str.pad_end(18, "0").alias("p")).get_column("p")
    n = width.len()
    joined = width.str.join("").item() if n else ""
    codes = np.frombuffer(joined.encode("ascii"), np.uint8).reshape(n, 18).copy()
    long = (text.str.len_bytes() == 18).fill_null(False).to_numpy() & valid.to_numpy()
    body = codes[:, :15]
    upper = (body - 65) < 26  # 'A'..'Z', as uint8 (wraps below 'A')
    index = _suffix_index(upper)
    if long.any():
        # An 18-character id's suffix is the truth about case: a letter whose case differs from what the
        # suffix says is flipped (ASCII cases differ in bit 0x20 alone). An id whose suffix is the one its
        # letters give, the usual export, is as it should be: only the others are gone through.
        given = _FLAGS[codes[:, 15:]]
        rows = np.flatnonzero(long & (given != index).any(axis=1))
        if rows.size:
            said = (given[rows][:, np.arange(15) // 5] >> (np.arange(15, dtype=np.int8) % 5)) & 1
            part = body[rows]
            letter = ((part - 65) < 26) | ((part - 97) < 26)
            fixed = np.where(letter & (upper[rows] != said.astype(bool)), part ^ 0x20, part)
            body[rows] = fixed
            index[rows] = _suffix_index((fixed - 65) < 26)
    codes[:, 15:] = _ASCII_SUFFIX[index]
    out = pl.Series(text.name, codes.view("S18").ravel()).cast(pl.String)
    return pl.select(pl.when(pl.lit(valid)).then(pl.lit(out)).alias(text.name)).get_column(text.name)


def _suffix_index(upper: np.ndarray) -> np.ndarray:
    """Each five characters' upper-case flags (rows of 15 booleans) as the index of a suffix character."""
    bits = np.ascontiguousarray(upper).view(np.uint8).reshape(len(upper), 3, 5)
    return (
        bits[..., 0] | (bits[..., 1] << 1) | (bits[..., 2] << 2) | (bits[..., 3] << 3) | (bits[..., 4] << 4)
    )


def case_safe(expr: pl.Expr, *, distinct: bool = False) -> pl.Expr:
    """A 15- or 18-character id as its 18-character form; null when it is not a Salesforce id.

    An 18-character id's suffix says which of the first 15 characters are upper case: a body whose case
    was lost (a tool that lower-cased it) gets it back from the suffix. ``distinct`` says the values are
    (nearly) all different, as an object's own ``Id`` column is: each is then turned where it stands,
    without first looking for repeats to turn once. The result is the same either way.
    """
    if distinct:
        return expr.map_batches(
            lambda s: _case_safe_values(s.cast(pl.String).str.strip_chars()).alias(s.name),
            return_dtype=pl.String,
            is_elementwise=False,
        )
    return expr.map_batches(_case_safe_series, return_dtype=pl.String, is_elementwise=False)


#: Ids already turned, to look references up in: each as written (``_written``) and its 18-character form
#: (``_id``).
Known = pl.DataFrame


def reference(name: str, known: Known | None = None) -> pl.Expr:
    """A reference cell as an 18-character id; a cell that is no id stays as it is (and refers to nothing).

    ``known`` (the ids of the objects referred to, as written and turned) is looked in first: in the usual
    export every reference is written as its object's ``Id`` is, and is found there without turning it
    again. Cells not found are turned as any other. The result is the same either way.
    """

    def turn(cells: pl.Series) -> pl.Series:
        if known is not None:
            found = (
                pl.DataFrame({"_written": cells})
                .join(known, on="_written", how="left", maintain_order="left")
                .get_column("_id")
            )
            if found.len() != cells.len():  # an Id written twice: looked up as any other
                return _once_per_value(cells, _reference_values)
            rest = (found.is_null() & (cells != "")).fill_null(False)  # an empty cell refers to nothing
            if rest.any():
                where = rest.arg_true()
                found = found.scatter(where, _once_per_value(cells.gather(where), _reference_values))
            return found.alias(cells.name)
        return _once_per_value(cells, _reference_values)

    return (
        pl.col(name)
        .cast(pl.String)
        .map_batches(turn, return_dtype=pl.String, is_elementwise=False)
        .alias(name)
    )


def _reference_values(cells: pl.Series) -> pl.Series:
    raw = cells.str.strip_chars()
    turned = _case_safe_values(raw)
    return pl.select(pl.when(raw == "").then(None).otherwise(pl.coalesce(turned, raw))).to_series()


# --------------------------------------------------------------------------------------------------
# Times.


def parse_time(name: str, time_zone: str | None) -> pl.Expr:
    """An ISO 8601 date-time cell in UTC: ``...Z`` and offsets as written, none only with ``time_zone``."""

    def parse(cells: pl.Series) -> pl.Series:
        # The export's own spelling first (2026-10-01T09:00:00.000Z); the general parser only if needed.
        exact, rest = _read.millisecond_utc(cells)
        if not rest.any():
            return exact
        others = pl.select(pl.when(rest).then(cells)).to_series()
        fast = others.str.to_datetime(_SALESFORCE_TIME, strict=False, time_unit="us", time_zone="UTC")
        if fast.null_count() == others.null_count():
            return exact.fill_null(fast)
        frame = pl.DataFrame({name: others})
        return exact.fill_null(frame.select(_general_time(name, time_zone)).to_series().alias(cells.name))

    return pl.col(name).map_batches(parse, return_dtype=pl.Datetime("us", "UTC"), is_elementwise=False)


def _general_time(name: str, time_zone: str | None) -> pl.Expr:
    """Any ISO 8601 spelling: ``T`` or a space, seconds and fractions optional, an offset or ``Z``."""
    text = pl.col(name).str.strip_chars().str.replace(" ", "T", literal=True).str.replace(r"Z$", "+00:00")
    aware = pl.coalesce(
        [
            text.str.to_datetime(f, strict=False, time_unit="us").dt.convert_time_zone("UTC")
            for f in ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z")
        ]
    )
    if time_zone is None:
        return aware
    naive = pl.coalesce(
        [
            text.str.to_datetime(f, strict=False, time_unit="us")
            .dt.replace_time_zone(time_zone, ambiguous="null", non_existent="null")
            .dt.convert_time_zone("UTC")
            for f in ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
        ]
    )
    return pl.coalesce(aware, naive)


def _naive(cell: pl.Expr) -> pl.Expr:
    """A time without an offset as written (no zone), or null."""
    text = cell.str.replace(" ", "T", literal=True)
    formats = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
    return pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us") for f in formats])


def time_problem(name: str, parsed: str, time_zone: str | None) -> pl.Expr:
    """Why a time cell did not parse, or null."""
    cell = pl.col(name).str.strip_chars()
    naive = cell.str.contains(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
    hint = pl.lit("has no offset; pass time_zone= the zone the file is written in")
    clocks = f"does not exist or is ambiguous in {time_zone} (the clocks change then)"
    return (
        pl.when(cell.is_null() | (cell == ""))
        .then(pl.lit("is empty"))
        .when(pl.col(parsed).is_null() & naive & pl.lit(time_zone is None))
        .then(pl.format("'{}' {}", cell, hint))
        .when(pl.col(parsed).is_null() & naive & _naive(cell).is_not_null())
        .then(pl.format("'{}' {}", cell, pl.lit(clocks)))
        .when(pl.col(parsed).is_null())
        .then(pl.format("'{}' is not an ISO 8601 time (such as 2026-10-01T09:00:00.000Z)", cell))
    )


# --------------------------------------------------------------------------------------------------
# Value maps.


def stage_map(plan: AlignmentPlan | None, given: Mapping[str, str]) -> dict[str, str]:
    """Lead Status / StageName value -> journey stage id.

    ``given`` first, then the plan's stage ids and names, then the standard values by role (see
    :data:`STANDARD_VALUES`).
    """
    roles: dict[str, str] = {role: role for role in set(STANDARD_VALUES.values())}
    mapped: dict[str, str] = {}
    if plan is not None:
        roles = {}
        for stage in plan.journey.stages:
            role: str | None = stage.terminal if stage.terminal in _TERMINAL_ROLES else None
            role = role or (stage.kind if stage.terminal is None else None)
            if role is not None:
                roles.setdefault(role, stage.id)
        for stage in plan.journey.stages:
            mapped[stage.id] = stage.id
        for stage in plan.journey.stages:
            mapped.setdefault(stage.name, stage.id)
    standard = {value: roles[role] for value, role in STANDARD_VALUES.items() if role in roles}
    return {**standard, **mapped, **dict(given)}


def user_map(
    users: pl.DataFrame, plan: AlignmentPlan | None, given: Mapping[str, str], found: Found
) -> dict[str, str | None]:
    """18-character User Id -> person id (``None``: no person, the Automated Process user).

    ``given`` first (ids in either form); else, with a plan, the plan person whose name is the user's
    ``Name`` (when exactly one user has that name); else the User Id itself.
    """
    out: dict[str, str | None] = {}
    names = {p.name: p.id for p in (plan.people if plan is not None else ())}
    frame = users.select(
        case_safe(pl.col("Id"), distinct=True).alias("id"),
        pl.col("Name") if "Name" in users.columns else pl.lit(None, pl.String).alias("Name"),
        pl.col("UserType") if "UserType" in users.columns else pl.lit(None, pl.String).alias("UserType"),
    ).filter(pl.col("id").is_not_null())
    twice = set(frame.filter(pl.col("Name").is_duplicated())["Name"].drop_nulls())
    for ident, name, kind in frame.iter_rows():
        if kind == "AutomatedProcess":
            out[ident] = None
        elif name in names and name not in twice:
            out[ident] = names[name]
        else:
            out[ident] = ident
    for name in sorted(twice & names.keys()):
        found.notes.append(f"User.csv: {name!r} is the Name of several users; they keep their User Ids")
    if given:
        keys = [case_safe_text(k) for k in given]
        for key, (raw, person) in zip(keys, given.items(), strict=True):
            if key is None:
                raise ValueError(f"users: {raw!r} is not a Salesforce User Id (15 or 18 letters and digits)")
            out[key] = person
    return out


# --------------------------------------------------------------------------------------------------
# Stage history.


#: Where a stage event was read (file and column): as categories, not a string on each of millions of rows.
_SOURCE: Final = pl.Enum(["Lead.csv", "LeadHistory.csv", "OpportunityHistory.csv"])
_COLUMN: Final = pl.Enum(["Status", "OldValue", "NewValue", "StageName"])


def history(
    leads: pl.DataFrame,
    lead_rows: pl.DataFrame | None,
    opp_rows: pl.DataFrame | None,
    stages: Mapping[str, str],
    found: Found,
) -> tuple[pl.DataFrame, int]:
    """Stage events from LeadHistory and OpportunityHistory, with each lead's creation event.

    ``leads`` has ``id``, ``_created`` (UTC), ``Status`` and ``__line``; ``lead_rows`` has ``lead_id``,
    ``Field``, ``OldValue``, ``NewValue``, ``time``, ``actor``, ``__line`` (times parsed, ids
    normalised, bad rows already refused); ``opp_rows`` has ``lead_id``, ``StageName``, ``time``,
    ``actor``, ``__line``. The creation event of a lead with a ``created`` history row is native; of
    one without it is rebuilt at ``CreatedDate``. Its stage is the ``OldValue`` of the lead's first
    ``Status`` change, or the lead's ``Status`` when it has none. ``from`` is the stage of the lead's
    previous event. Events are ordered by time, then creation, LeadHistory, OpportunityHistory, then
    line.

    Returns:
        The events (``lead_id``, ``from``, ``to``, ``time``, ``actor``, ``__line``, ``_source``) and how
        many creation events were rebuilt.
    """
    columns = ("lead_id", "_label", "time", "actor", "__line", "_rank", "_source", "_column")
    parts = []
    created = pl.DataFrame(
        schema={
            "lead_id": pl.String,
            "time": pl.Datetime("us", "UTC"),
            "actor": pl.String,
            "__line": pl.Int64,
        }
    )
    first_old = pl.DataFrame(schema={"lead_id": pl.String, "_first": pl.String})
    if lead_rows is not None:
        status = lead_rows.filter(pl.col("Field") == "Status")
        first_old = (  # the earliest change of each lead (the first in the file at the same time)
            status.select("lead_id", "OldValue", "time", "__line")
            .sort("__line")
            .group_by("lead_id")
            .agg(pl.col("OldValue").get(pl.col("time").arg_min()).alias("_first"))
        )
        parts.append(
            status.select(
                "lead_id",
                pl.col("NewValue").alias("_label"),
                "time",
                "actor",
                "__line",
                pl.lit(1, pl.Int32).alias("_rank"),
                pl.lit("LeadHistory.csv", _SOURCE).alias("_source"),
                pl.lit("NewValue", _COLUMN).alias("_column"),
            )
        )
        created = lead_rows.filter(pl.col("Field") == "created").unique(
            "lead_id", keep="first", maintain_order=True
        )
    if opp_rows is not None:
        parts.append(
            opp_rows.select(
                "lead_id",
                pl.col("StageName").alias("_label"),
                "time",
                "actor",
                "__line",
                pl.lit(2, pl.Int32).alias("_rank"),
                pl.lit("OpportunityHistory.csv", _SOURCE).alias("_source"),
                pl.lit("StageName", _COLUMN).alias("_column"),
            )
        )
    first, rebuilt = _creations(leads, first_old, created)
    parts.insert(0, first)
    events = pl.concat([p.select(columns) for p in parts], how="vertical_relaxed")
    events = events.with_columns(pl.col("_label").replace_strict(dict(stages), default=None).alias("to"))
    _refuse_unknown(events, stages, found)
    events = (
        events.filter(pl.col("to").is_not_null())
        .drop("_label", "_column")
        .sort("lead_id", "time", "_rank", "__line", maintain_order=True)
    )
    # Sorted by lead: the previous row's stage is the one before where it is of the same lead.
    same = pl.col("lead_id").eq_missing(pl.col("lead_id").shift(1))
    events = events.with_columns(pl.when(same).then(pl.col("to").shift(1)).alias("from"))
    return events.select("lead_id", "from", "to", "time", "actor", "__line", "_source"), rebuilt


def _creations(
    leads: pl.DataFrame, first_old: pl.DataFrame, created: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """Each lead's creation event: its ``created`` history row, or rebuilt from ``CreatedDate``.

    Its stage is the ``OldValue`` of the lead's first ``Status`` change, else the lead's ``Status``.
    Returns the events (with ``_label`` still a Salesforce value) and how many were rebuilt.
    """
    first = (
        leads.select("id", "_created", "Status", pl.col("__line").alias("_lead_line"))
        .join(first_old, left_on="id", right_on="lead_id", how="left", maintain_order="left")
        .join(
            created.select(
                "lead_id",
                pl.col("time").alias("_ctime"),
                pl.col("actor").alias("_cactor"),
                pl.col("__line").alias("_cline"),
            ),
            left_on="id",
            right_on="lead_id",
            how="left",
            maintain_order="left",
        )
        .filter(pl.col("_created").is_not_null())
    )
    native = pl.col("_ctime").is_not_null()
    rebuilt = int(first.select((~native).sum()).item())
    return (
        first.select(
            pl.col("id").alias("lead_id"),
            pl.coalesce("_first", "Status").alias("_label"),
            pl.when(native).then(pl.col("_ctime")).otherwise(pl.col("_created")).alias("time"),
            pl.when(native).then(pl.col("_cactor")).alias("actor"),
            pl.when(native).then(pl.col("_cline")).otherwise(pl.col("_lead_line")).alias("__line"),
            pl.lit(0, pl.Int32).alias("_rank"),
            pl.when(native)
            .then(pl.lit("LeadHistory.csv", _SOURCE))
            .otherwise(pl.lit("Lead.csv", _SOURCE))
            .alias("_source"),
            pl.when(pl.col("_first").is_not_null())
            .then(pl.lit("OldValue", _COLUMN))
            .otherwise(pl.lit("Status", _COLUMN))
            .alias("_column"),
        ),
        rebuilt,
    )


def _refuse_unknown(events: pl.DataFrame, stages: Mapping[str, str], found: Found) -> None:
    """List the values mapped to stages, and refuse every event whose value maps to none.

    The values are counted once over all events (by source, column and value); only the events mapped
    to no stage, few in a sound export, are gone through one by one.
    """
    counts = (
        events.filter(pl.col("_label").is_in(list(stages)))
        .group_by("_source", "_column", "_label")
        .len()
        .sort("_label")
    )
    unknown = events.filter(pl.col("to").is_null())
    for source in ("Lead.csv", "LeadHistory.csv", "OpportunityHistory.csv"):
        for column in ("Status", "OldValue", "NewValue", "StageName"):
            where = (pl.col("_source") == source) & (pl.col("_column") == column)
            for value, rows in counts.filter(where).select("_label", "len").iter_rows():
                if stages[value] != value:
                    found.mappings.append(
                        AppliedMapping(f"{source.removesuffix('.csv')}.{column}", value, stages[value], rows)
                    )
            found.refuse(
                unknown.filter(where),
                kind="stage_events",
                source=source,
                record="lead_id",
                column=column,
                why=pl.when(pl.col("to").is_null()).then(
                    pl.when(pl.col("_label").is_null() | (pl.col("_label") == ""))
                    .then(pl.lit("is empty: the stage is not known"))
                    .otherwise(
                        pl.format(
                            "'{}' is not a stage the status_map knows; add it to status_map", pl.col("_label")
                        )
                    )
                ),
            )
