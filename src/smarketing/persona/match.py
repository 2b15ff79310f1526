"""Matching leads and accounts to the plan's personas: :func:`match` and its result :class:`PersonaMatch`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing._display import html_table, text_table
from smarketing.persona import _kernel

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
        counts: Per persona in plan order: ``criteria`` (counted), ``leads`` matched to it, ``won_ties``
            (of those, leads that several personas matched), ``closest`` (unmatched leads closest to it)
            and ``accounts`` matched to it.
        totals: ``leads``, ``matched``, ``unmatched``, ``tied``, ``accounts``, ``accounts_matched`` and
            ``leads_after_as_of`` (left out).
        no_data: Per persona, criteria the data holds no column for (``technologies``, ``departments``):
            not counted.
    """

    as_of: datetime | None
    leads: pl.DataFrame
    accounts: pl.DataFrame
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
        return self.leads

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
            "leads": self.leads.to_dicts(),
            "accounts": self.accounts.to_dicts(),
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
    inputs = _kernel.load(data, ())
    leads = inputs.leads
    after = 0
    if as_of is not None:
        now = _kernel.as_of_us(as_of)
        late = pl.col("_us").is_not_null() & (pl.col("_us") > now)
        after = int(leads.select(late.sum()).collect().item())
        inputs = attrs.evolve(inputs, leads=leads.filter(~late))
    lead_rows = _kernel.lead_matches(inputs, personas)
    account_rows = _kernel.account_matches(inputs, personas)
    no_data = {
        p.id: tuple(_kernel.criteria(p.firmographics, p.roles)[1])
        for p in personas
        if _kernel.criteria(p.firmographics, p.roles)[1]
    }
    return PersonaMatch(
        as_of=as_of,
        leads=lead_rows,
        accounts=account_rows,
        counts=_counts(personas, lead_rows, account_rows),
        totals=_totals(lead_rows, account_rows, after),
        no_data=no_data,
    )


def _counts(personas: tuple[Any, ...], leads: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    ids = [p.id for p in personas]
    per_lead = leads.group_by("persona").agg(pl.len().alias("leads"), pl.col("tied").sum().alias("won_ties"))
    closest = (
        leads.filter(~pl.col("matched"))
        .group_by(pl.col("closest").alias("persona"))
        .agg(pl.len().alias("closest"))
    )
    per_account = accounts.group_by("persona").agg(pl.len().alias("accounts"))
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


def _totals(leads: pl.DataFrame, accounts: pl.DataFrame, after: int) -> dict[str, int]:
    matched = int(leads.get_column("matched").sum())
    return {
        "leads": leads.height,
        "matched": matched,
        "unmatched": leads.height - matched,
        "tied": int(leads.get_column("tied").sum()),
        "accounts": accounts.height,
        "accounts_matched": int(accounts.get_column("matched").sum()),
        "leads_after_as_of": after,
    }
