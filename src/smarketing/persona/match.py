"""Matching leads and accounts to the plan's personas: :func:`match` and its result :class:`PersonaMatch`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing._display import html_table, text_table
from smarketing.frames import _engine as engine
from smarketing.persona import _kernel, _scale

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["PersonaMatch", "match"]


@attrs.frozen(repr=False)
class PersonaMatch:
    """Every lead and account matched to the plan's personas (see :func:`match` for the rule).

    Attributes:
        as_of: Leads created after it were left out (``None``: every lead was matched).
        leads: One row per lead, by ``lead_id``: ``persona`` (null when none matched), ``matched``,
            ``candidates`` (how many personas matched), ``tied`` (more than one did), ``closest`` (the
            matched persona, or the one an unmatched lead came closest to) and that persona's criteria as
            lists: ``passed``, ``failed`` and ``missing`` (failed because the attribute is missing).
        accounts: The same per account (``account_id``), on firmographics alone.

            On PySpark input both are PySpark DataFrames kept on Spark (in no order, ``candidates`` a
            64-bit integer there; write them out with ``match.leads.write.parquet(...)``); :meth:`to_frame`
            and :meth:`to_dict` read them.
        counts: Per persona in plan order: ``criteria`` (counted), ``leads`` matched to it, ``won_ties``
            (of those, leads that several personas matched), ``closest`` (unmatched leads closest to it)
            and ``accounts`` matched to it.
        totals: ``leads``, ``matched``, ``unmatched``, ``tied``, ``accounts``, ``accounts_matched`` and
            ``leads_after_as_of`` (left out).
        no_data: Per persona, criteria the data holds no column for (``technologies``, ``departments``):
            not counted.
    """

    as_of: datetime | None
    leads: Any
    accounts: Any
    counts: pl.DataFrame
    totals: Mapping[str, int]
    no_data: Mapping[str, tuple[str, ...]]

    def to_frame(self) -> pl.DataFrame:
        """The per-lead rows.

        Examples:
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> sm.persona.match(plan, {}).to_frame().columns
            ['lead_id', 'persona', 'matched', 'candidates', 'tied', 'closest', 'passed', 'failed', 'missing']
        """
        return _local(self.leads, "lead_id")

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values.

        Examples:
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> sm.persona.match(plan, {}).to_dict()["totals"]["leads"]
            0
        """
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "totals": dict(self.totals),
            "no_data": {k: list(v) for k, v in self.no_data.items()},
            "counts": self.counts.to_dicts(),
            "leads": self.to_frame().to_dicts(),
            "accounts": _local(self.accounts, "account_id").to_dicts(),
        }

    @property
    def summary(self) -> str:
        """The totals in a sentence."""
        t = self.totals
        return (
            f"{t['matched']:,} of {t['leads']:,} lead(s) matched a persona ({t['tied']:,} tied between "
            f"several), {t['unmatched']:,} matched none; {t['accounts_matched']:,} of {t['accounts']:,} "
            "account(s) matched on firmographics"
        )

    def __repr__(self) -> str:
        rows = self.counts.rows()
        return f"PersonaMatch: {self.summary}\n" + text_table(self.counts.columns, rows)

    def _repr_html_(self) -> str:
        table = html_table(self.counts.columns, self.counts.rows(), caption="Leads per persona")
        return f"<p>{html.escape(self.summary)}</p>{table}"


def _local(rows: Any, ident: str) -> pl.DataFrame:
    """Matched rows as polars, by ``ident`` (read from Spark once when kept there)."""
    if engine.is_spark(rows):
        return engine.read_once(
            rows,
            ("persona.match", ident),
            lambda: engine.to_polars(rows).sort(ident).with_columns(pl.col("candidates").cast(pl.UInt32)),
        )
    frame: pl.DataFrame = rows
    return frame


def match(plan: AlignmentPlan, data: Any, *, as_of: datetime | None = None) -> PersonaMatch:
    """Match every lead and account to the plan's personas by firmographics and role criteria.

    **Criteria.** A persona's firmographics (``industries``, ``company_size``, ``regions``, ``countries``)
    and roles (``titles``, ``seniorities``) are its criteria; an empty list means "any" and is not
    counted. ``titles`` are keywords found case-insensitively on word boundaries in the lead's ``title``
    ("supply chain" matches "VP Supply Chain", "ops" does not match "operations"). Other values compare
    exactly. ``technologies`` and ``departments`` have no column in the data: they are listed in
    ``no_data`` and not counted. A lead's missing ``industry``, ``company_size``, ``region`` or
    ``country`` falls back to its account's; still missing, that criterion fails as ``missing``.

    **Rule.** A lead matches a persona when every counted criterion passes. When several match, the one
    with more counted criteria (the more specific) wins, then the first in plan order; the lead is
    ``tied`` and counted in ``won_ties``. An unmatched lead has no persona; ``closest`` names the persona
    with the most criteria passed (then plan order) and ``failed`` what failed. Accounts are matched on
    firmographics alone, by the same rule.

    Args:
        plan: The alignment plan; its ``personas`` are used.
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind (``"leads"``,
            ``"accounts"``) to records or a dataframe.
        as_of: When given, leads created after it are left out and counted.

    Returns:
        The match, per lead, per account and per persona.

    Raises:
        DataError: A column has the wrong type, or ``as_of`` is naive.

    Examples:
        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> t = datetime(2026, 10, 1, tzinfo=timezone.utc)
        >>> data = {
        ...     "accounts": [sm.Account(id="A1", industry="logistics", company_size=800, region="dach")],
        ...     "leads": [
        ...         sm.Lead(id="L1", created_at=t, account_id="A1", title="VP Supply Chain", seniority="vp"),
        ...         sm.Lead(id="L2", created_at=t, account_id="A1", title="Intern", seniority="vp"),
        ...     ],
        ... }
        >>> m = sm.persona.match(plan, data)
        >>> m.leads.select("lead_id", "persona", "closest", "failed").rows()
        [('L1', 'ops-director', 'ops-director', []), ('L2', None, 'ops-director', ['titles'])]
    """
    personas = tuple(plan.personas)
    now = None if as_of is None else _kernel.as_of_us(as_of)
    on_spark = _scale.spark_frames(data) is not None
    inputs = None if on_spark else _kernel.load(data, ())
    # The maps shipped to Spark's workers hold no Spark frame: on Spark they load each partition.
    whole = None if on_spark else data

    def leads_map(part: Any) -> dict[str, pl.DataFrame]:
        loaded = inputs if part is whole else None
        return _scale.match_map(part, personas, accounts=False, now_us=now, inputs=loaded)

    def accounts_map(part: Any) -> dict[str, pl.DataFrame]:
        loaded = inputs if part is whole else None
        return _scale.match_map(part, personas, accounts=True, now_us=None, inputs=loaded)

    leads, spark = _scale.lead_run(data, leads_map, _scale.MATCH_TABLES, _scale.match_reads())
    accounts = _scale.account_run(data, accounts_map, _scale.MATCH_TABLES)
    accounts_on_spark = accounts is not None
    if accounts is None:
        # No accounts on Spark (none given, or not Spark frames): matched here, as before.
        accounts = engine.local([data if not spark else {}], accounts_map, _scale.MATCH_TABLES)
    lead_names = _kernel.criteria_names(personas, roles=True)
    account_names = _kernel.criteria_names(personas, roles=False)
    no_data = {
        p.id: tuple(_kernel.criteria(p.firmographics, p.roles)[1])
        for p in personas
        if _kernel.criteria(p.firmographics, p.roles)[1]
    }
    return PersonaMatch(
        as_of=as_of,
        leads=_scale.match_rows(leads, lead_names, spark=spark, ident="lead_id"),
        accounts=_scale.match_rows(accounts, account_names, spark=accounts_on_spark, ident="account_id"),
        counts=_counts(personas, leads, accounts),
        totals=_totals(leads, accounts),
        no_data=no_data,
    )


def _counts(personas: tuple[Any, ...], leads: engine.Partials, accounts: engine.Partials) -> pl.DataFrame:
    ids = [p.id for p in personas]
    per_lead = leads.merged("per").select(
        "persona", pl.col("rows").alias("leads"), pl.col("ties").alias("won_ties")
    )
    closest = leads.merged("closest")
    per_account = accounts.merged("per").select("persona", pl.col("rows").alias("accounts"))
    base = pl.DataFrame(
        {
            "persona": ids,
            "criteria": [len(_kernel.criteria(p.firmographics, p.roles)[0]) for p in personas],
        },
        schema={"persona": pl.String(), "criteria": pl.UInt32()},
    )
    counted = ("leads", "won_ties", "closest", "accounts")
    return (
        base.join(per_lead, on="persona", how="left")
        .join(closest, on="persona", how="left")
        .join(per_account, on="persona", how="left")
        .with_columns(pl.col(c).fill_null(0).cast(pl.UInt32) for c in counted)
        .select("persona", "criteria", *counted)
    )


def _totals(leads: engine.Partials, accounts: engine.Partials) -> dict[str, int]:
    per, per_account = leads.merged("per"), accounts.merged("per")
    total = int(per.get_column("rows").sum())
    matched = int(per.get_column("matched").sum())
    return {
        "leads": total,
        "matched": matched,
        "unmatched": total - matched,
        "tied": int(per.get_column("ties").sum()),
        "accounts": int(per_account.get_column("rows").sum()),
        "accounts_matched": int(per_account.get_column("matched").sum()),
        "leads_after_as_of": int(leads.merged("late").get_column("after").sum()),
    }
