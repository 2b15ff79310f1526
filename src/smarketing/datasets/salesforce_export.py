"""Synthetic Salesforce Data Export files: a :class:`~smarketing.records.Dataset` in Salesforce's shape.

:func:`write_salesforce_export` writes the CSV files of Salesforce's weekly Data Export (Setup > Data
Export) for a dataset, one file per object, headers in API names, with the quirks of the real files:
every cell quoted, ids in both the 15-character (case-sensitive) and the 18-character (case-safe) form
mixed in one file, ``CreatedDate`` as ``2026-10-01T09:00:00.000Z`` (UTC, milliseconds), dates as
``2026-10-01``, booleans as ``true``/``false``, empty cells for nothing, ``[not provided]`` for a
lead's missing company, and the expected ``CloseDate`` of an open opportunity. The ``salesforce-export``
connector reads them back (see the how-to *Bring your Salesforce data*).

How the records are laid out (what the export keeps and loses is listed in the how-to):

* plan people and every other person id are ``User`` rows (``Name`` is the plan person's name); a
  ``UserType = AutomatedProcess`` user stands for changes nobody made (a stage event without an actor);
* accounts are ``Account`` rows; leads are ``Lead`` rows; a lead with a deal is converted: a ``Contact``
  is made for it and ``ConvertedOpportunityId`` / ``ConvertedContactId`` / ``ConvertedAccountId`` point
  to its first deal, its contact and its account;
* stage events are ``LeadHistory`` rows (a ``created`` row, then ``Status`` changes), except the events
  of a converted lead that enter an opportunity-phase stage after its deal was created: those are the
  deal's ``OpportunityHistory`` rows (``StageName``);
* deals are ``Opportunity`` rows and their splits ``OpportunitySplit`` rows (a deal without splits gets
  Salesforce's default: 100% revenue split to its owner);
* the first touchpoint of a lead in each campaign is a ``CampaignMember`` of that ``Campaign``
  (``Campaign.Type`` is the channel); activities are ``Task`` rows (calls, e-mails, ...) and ``Event``
  rows (meetings), on the contact once the lead is converted;
* fields Salesforce has no standard field for are custom fields (:data:`SALESFORCE_CUSTOM_FIELDS`).

Stage values are written as Salesforce labels: a journey stage's name, except the standard values
``Closed Won`` / ``Closed Lost`` (terminal won / lost stages), ``Closed - Not Converted`` (a terminal
disqualified stage) and ``Prospecting`` (the first open opportunity-kind stage).

Rows keep the dataset's order, so row *n* of ``Lead.csv`` is lead *n* of ``dataset.leads``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

__all__ = ["SALESFORCE_CUSTOM_FIELDS", "write_salesforce_export"]

#: The custom fields the generator writes, as the ``fields`` option of the ``salesforce-export``
#: connector takes them: ``"Object.Field__c"`` -> canonical column.
SALESFORCE_CUSTOM_FIELDS: Final[dict[str, str]] = {
    "Account.Region__c": "region",
    "Lead.Region__c": "region",
    "Lead.Persona__c": "persona",
    "Lead.Grade__c": "grade",
    "Lead.Seniority__c": "seniority",
    "Lead.Pause_Status__c": "status",
    "Opportunity.Product__c": "product",
    "Opportunity.Segment__c": "segment",
    "Opportunity.Discount__c": "discount",
    "Opportunity.Refund_Date__c": "refunded_on",
    "Event.Outcome__c": "outcome",
}

# Key prefixes of the standard objects (the first three characters of every id).
_PREFIX: Final = {
    "User": "005",
    "Account": "001",
    "Lead": "00Q",
    "LeadHistory": "017",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "OpportunitySplitType": "149",
    "OpportunitySplit": "04l",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Task": "00T",
    "Event": "00U",
}
_BASE62: Final = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_SUFFIX: Final = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", np.uint8)
_TIME: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"
#: Share of id cells written in the 15-character form.
_SHORT_SHARE: Final = 0.3
_FIRST: Final = ("Anna", "Jonas", "Lena", "Lukas", "Sofia", "Mats", "Émilie", "Jürgen", "Chloé", "Noah")
_LAST: Final = ("Müller", "Schmidt", "Larsen", "Nyström", "O'Brien", "García", "Dubois", "Kowalski", "Ng")


class _Ids:
    """Seeded Salesforce ids: canonical (18-character) columns, rendered as 15 or 18 per cell."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def make(self, obj: str, n: int) -> pl.Series:
        """``n`` distinct 18-character ids of ``obj``: key prefix, pod ``5g``, 10 base-62 digits, suffix."""
        start = int(self.rng.integers(62**6, 62**7))
        numbers = start + np.arange(n, dtype=np.int64) * int(self.rng.integers(1, 9_999))
        codes = np.empty((n, 18), dtype=np.uint8)
        codes[:, :5] = np.frombuffer((_PREFIX[obj] + "5g").encode(), np.uint8)
        for k in range(10):
            codes[:, 14 - k] = _BASE62[numbers // 62**k % 62]
        upper = ((codes[:, :15] >= ord("A")) & (codes[:, :15] <= ord("Z"))).reshape(n, 3, 5)
        codes[:, 15:] = _SUFFIX[(upper * (1 << np.arange(5))).sum(axis=2)]
        return pl.Series(codes.view("S18").ravel()).cast(pl.String)

    def render(self, frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
        """Write about a third of the ids in ``columns`` in the 15-character form, as reports do."""
        out = []
        for name in columns:
            short = pl.Series(self.rng.random(frame.height) < _SHORT_SHARE)
            out.append(pl.when(short).then(pl.col(name).str.slice(0, 15)).otherwise(pl.col(name)).alias(name))
        return frame.with_columns(out)


def write_salesforce_export(
    plan: AlignmentPlan, dataset: Dataset, folder: str | Path, *, seed: int = 0
) -> dict[str, Path]:
    """Write ``dataset`` as the CSV files of a Salesforce Data Export into ``folder``.

    Args:
        plan: The plan the data belongs to: user names come from its people, stage labels from its
            journey.
        dataset: The records to export (e.g. from :func:`~smarketing.datasets.synthetic`).
        folder: Where to write the files (created if missing; files of the same name are replaced).
        seed: Seed of the ids, names and id forms (an int >= 0); same arguments, same bytes.

    Returns:
        The paths written, by object name (``"Lead"`` -> ``folder/Lead.csv``).

    Examples:
        >>> import tempfile
        >>> from smarketing.plan import load_plan
        >>> from smarketing.datasets import synthetic
        >>> plan = load_plan("examples/plan.yaml")
        >>> ds = synthetic(plan, seed=1, n_leads=20)
        >>> files = write_salesforce_export(plan, ds, tempfile.mkdtemp())
        >>> sorted(files)[:4]
        ['Account', 'Campaign', 'CampaignMember', 'Contact']
        >>> files["Lead"].read_text(encoding="utf-8").splitlines()[0][:40]
        '"Id","IsDeleted","FirstName","LastName",'
    """
    if not isinstance(plan, AlignmentPlan):
        raise TypeError(f"plan must be an AlignmentPlan, not {type(plan).__name__}")
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset, not {type(dataset).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    ids = _Ids(rng)
    tables = _Export(plan, dataset, ids, rng).tables()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in tables.items():
        paths[name] = out / f"{name}.csv"
        frame.write_csv(paths[name], quote_style="always", null_value="")
    return paths


def _bool(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def _time(name: str) -> pl.Expr:
    return pl.col(name).dt.strftime(_TIME)


def _amount(name: str) -> pl.Expr:
    """Exact decimal text with at least two places: ``12596.00``, ``0.125``."""
    return pl.col(name).cast(pl.String).str.replace(r"(\.\d{2}\d*?)0+$", "${1}")


class _Export:
    """The tables of one export, built column-wise from the dataset."""

    def __init__(self, plan: AlignmentPlan, ds: Dataset, ids: _Ids, rng: np.random.Generator) -> None:
        self.plan, self.ds, self.ids, self.rng = plan, ds, ids, rng
        self.users = self._users()
        self.id_of: dict[str, pl.DataFrame] = {}
        for kind, obj in (("accounts", "Account"), ("leads", "Lead"), ("deals", "Opportunity")):
            frame: pl.DataFrame = getattr(ds, kind)
            self.id_of[obj] = pl.DataFrame({"orig": frame["id"], "sf": ids.make(obj, frame.height)})
        names = ds.touchpoints.get_column("campaign").drop_nulls().unique().sort()
        self.id_of["Campaign"] = pl.DataFrame({"orig": names, "sf": ids.make("Campaign", names.len())})
        self.converted = self._conversions()
        self.labels = _labels(plan)

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every object's frame, in text, ready to write."""
        history, opp_history = self._histories()
        tables = {
            "User": self._user_table(),
            "Account": self._accounts(),
            "Lead": self._leads(history),
            "LeadHistory": history.drop("lead_orig", "to"),
            "Contact": self._contacts(),
            "Opportunity": self._opportunities(opp_history),
            "OpportunityHistory": opp_history.drop("lead_orig", "to"),
            **self._splits(),
            **self._campaigns(),
            **self._activities(),
        }
        refs = ("Id", "OwnerId", "AccountId", "LeadId", "ContactId", "OpportunityId", "CreatedById")
        more = ("ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId", "CampaignId", "WhoId")
        named = (*refs, *more, "SplitOwnerId", "SplitTypeId")
        return {
            name: self.ids.render(frame.cast(pl.String), *(c for c in named if c in frame.columns))
            for name, frame in sorted(tables.items())
        }

    # -- people -------------------------------------------------------------------------------------

    def _users(self) -> pl.DataFrame:
        """Plan people, then other person ids of the data (sorted), then the Automated Process user."""
        names = {p.id: p.name for p in self.plan.people}
        seen: set[str] = set()
        for table, column in (
            ("leads", "owner"),
            ("touchpoints", "owner"),
            ("stage_events", "actor"),
            ("activities", "person"),
            ("deals", "owner"),
        ):
            seen.update(getattr(self.ds, table)[column].drop_nulls().unique().to_list())
        for splits in self.ds.deals["splits"].to_list():
            seen.update(s["person"] for s in splits or ())
        extra = sorted(seen - names.keys())
        person = [*names, *extra, None]
        name = [*names.values(), *extra, "Automated Process"]
        kind = ["Standard"] * (len(person) - 1) + ["AutomatedProcess"]
        return pl.DataFrame(
            {"person": person, "Name": name, "UserType": kind, "Id": self.ids.make("User", len(person))},
            schema={"person": pl.String, "Name": pl.String, "UserType": pl.String, "Id": pl.String},
        )

    def _user_table(self) -> pl.DataFrame:
        first = pl.col("Name").str.extract(r"^(\S+)\s", 1)
        last = (
            pl.when(first.is_null())
            .then(pl.col("Name"))
            .otherwise(pl.col("Name").str.extract(r"^\S+\s+(.*)$", 1))
        )
        handle = pl.col("person").fill_null("autoproc").str.replace_all(r"[^A-Za-z0-9._-]", "_")
        return self.users.select(
            "Id",
            (handle + pl.lit("@fernbrook.example")).alias("Username"),
            first.alias("FirstName"),
            last.alias("LastName"),
            "Name",
            (handle + pl.lit("@fernbrook.example")).alias("Email"),
            _bool(pl.lit(True)).alias("IsActive"),
            "UserType",
        )

    def _user(self, column: str, alias: str) -> pl.Expr:
        """The user id of a person column; no person is the Automated Process user."""
        table = self.users.drop_nulls("person")
        mapping = dict(zip(table["person"], table["Id"], strict=True))
        automated = self.users.filter(pl.col("person").is_null())["Id"][0]
        return pl.col(column).replace_strict(mapping, default=None).fill_null(automated).alias(alias)

    def _sf(self, obj: str, column: str, alias: str) -> pl.Expr:
        table = self.id_of[obj]
        return (
            pl.col(column)
            .replace_strict(table["orig"], table["sf"], default=None, return_dtype=pl.String)
            .alias(alias)
        )

    def _names(self, n: int) -> tuple[pl.Series, pl.Series]:
        first = self.rng.integers(0, len(_FIRST), n)
        last = self.rng.integers(0, len(_LAST), n)
        return pl.Series(list(_FIRST)).gather(first), pl.Series(list(_LAST)).gather(last)

    # -- accounts, leads, contacts -----------------------------------------------------------------

    def _accounts(self) -> pl.DataFrame:
        return self.ds.accounts.select(
            self._sf("Account", "id", "Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            pl.col("name").alias("Name"),
            pl.lit("Prospect").alias("Type"),
            pl.col("industry").alias("Industry"),
            pl.col("company_size").cast(pl.String).alias("NumberOfEmployees"),
            pl.col("country").alias("BillingCountry"),
            pl.col("region").alias("Region__c"),
        )

    def _conversions(self) -> pl.DataFrame:
        """Each lead's first deal (by creation, then id): the opportunity its conversion created."""
        deals = self.ds.deals.filter(pl.col("lead_id").is_not_null()).sort("created_at", "id")
        first = deals.group_by("lead_id", maintain_order=True).first()
        return first.select(
            "lead_id",
            pl.col("id").alias("deal"),
            pl.col("created_at").alias("converted_at"),
            self.ids.make("Contact", first.height).alias("contact"),
        )

    def _leads(self, history: pl.DataFrame) -> pl.DataFrame:
        """``Lead.csv``: the status is the label of the last stage its history entered."""
        last = history.group_by("lead_orig", maintain_order=True).agg(pl.col("to").drop_nulls().last())
        accounts = self.ds.accounts.select(pl.col("id").alias("account_id"), pl.col("name").alias("company"))
        first, last_name = self._names(self.ds.leads.height)
        frame = (
            self.ds.leads.with_row_index("_row")
            .join(accounts, on="account_id", how="left", maintain_order="left")
            .join(last.rename({"lead_orig": "id", "to": "stage"}), on="id", how="left", maintain_order="left")
            .join(self.converted, left_on="id", right_on="lead_id", how="left", maintain_order="left")
            .sort("_row")
            .with_columns(first=first, last=last_name)
        )
        converted = pl.col("deal").is_not_null()
        return frame.select(
            self._sf("Lead", "id", "Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            pl.col("first").alias("FirstName"),
            pl.col("last").alias("LastName"),
            pl.col("company").fill_null("[not provided]").alias("Company"),
            pl.col("title").alias("Title"),
            pl.col("stage").replace_strict(self.labels, default=pl.col("stage")).alias("Status"),
            pl.col("source").alias("LeadSource"),
            self._user("owner", "OwnerId"),
            _time("created_at").alias("CreatedDate"),
            _bool(converted).alias("IsConverted"),
            pl.col("converted_at").dt.date().cast(pl.String).alias("ConvertedDate"),
            pl.when(converted).then(self._sf("Account", "account_id", "a")).alias("ConvertedAccountId"),
            pl.col("contact").alias("ConvertedContactId"),
            self._sf("Opportunity", "deal", "ConvertedOpportunityId"),
            pl.col("industry").alias("Industry"),
            pl.col("company_size").cast(pl.String).alias("NumberOfEmployees"),
            pl.col("country").alias("Country"),
            pl.col("region").alias("Region__c"),
            pl.col("persona").alias("Persona__c"),
            pl.col("grade").alias("Grade__c"),
            pl.col("seniority").alias("Seniority__c"),
            pl.col("status").alias("Pause_Status__c"),
        )

    def _contacts(self) -> pl.DataFrame:
        leads = self.ds.leads.select("id", "account_id", "title", "owner", "source")
        frame = self.converted.join(
            leads, left_on="lead_id", right_on="id", how="left", maintain_order="left"
        )
        first, last = self._names(frame.height)
        return frame.with_columns(first=first, last=last).select(
            pl.col("contact").alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            self._sf("Account", "account_id", "AccountId"),
            pl.col("first").alias("FirstName"),
            pl.col("last").alias("LastName"),
            pl.col("title").alias("Title"),
            pl.col("source").alias("LeadSource"),
            self._user("owner", "OwnerId"),
            _time("converted_at").alias("CreatedDate"),
        )

    # -- stage history -----------------------------------------------------------------------------

    def _histories(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``LeadHistory`` and ``OpportunityHistory`` rows, with the original lead and stage kept aside."""
        opp_phase = [s.id for s in self.plan.journey.stages if _opportunity_phase(s.kind, s.terminal)]
        events = (
            self.ds.stage_events.with_row_index("_row")
            .join(
                self.converted.select("lead_id", "deal", "converted_at"),
                on="lead_id",
                how="left",
                maintain_order="left",
            )
            .with_columns(
                on_deal=pl.col("to").is_in(opp_phase)
                & pl.col("deal").is_not_null()
                & (pl.col("time") >= pl.col("converted_at"))
            )
            .sort("_row")
        )
        lead_rows = events.filter(~pl.col("on_deal"))
        history = lead_rows.select(
            pl.col("lead_id").alias("lead_orig"),
            pl.col("to"),
            self.ids.make("LeadHistory", lead_rows.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            self._sf("Lead", "lead_id", "LeadId"),
            self._user("actor", "CreatedById"),
            _time("time").alias("CreatedDate"),
            pl.when(pl.col("from").is_null())
            .then(pl.lit("created"))
            .otherwise(pl.lit("Status"))
            .alias("Field"),
            pl.col("from").replace_strict(self.labels, default=pl.col("from")).alias("OldValue"),
            pl.when(pl.col("from").is_not_null())
            .then(pl.col("to").replace_strict(self.labels, default=pl.col("to")))
            .alias("NewValue"),
        )
        deals = self.ds.deals.select(pl.col("id").alias("deal"), "amount", "close_date")
        opp_rows = (
            events.filter(pl.col("on_deal"))
            .join(deals, on="deal", how="left", maintain_order="left")
            .sort("_row")
        )
        opp_history = opp_rows.select(
            pl.col("lead_id").alias("lead_orig"),
            pl.col("to"),
            self.ids.make("OpportunityHistory", opp_rows.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            self._sf("Opportunity", "deal", "OpportunityId"),
            self._user("actor", "CreatedById"),
            _time("time").alias("CreatedDate"),
            pl.col("to").replace_strict(self.labels, default=pl.col("to")).alias("StageName"),
            _amount("amount").alias("Amount"),
            pl.col("close_date").cast(pl.String).alias("CloseDate"),
        )
        # "created" rows carry no values; the lead's first stage is the OldValue of its next change.
        history = history.with_columns(
            pl.when(pl.col("Field") == "created").then(None).otherwise(pl.col("OldValue")).alias("OldValue")
        )
        return history, opp_history

    # -- deals ---------------------------------------------------------------------------------------

    def _opportunities(self, opp_history: pl.DataFrame) -> pl.DataFrame:
        """``Opportunity.csv``; an open deal gets an expected close date 14 to 90 days after creation."""
        deals = self.ds.deals
        expected = pl.Series(self.rng.integers(14, 91, deals.height), dtype=pl.Int64)
        last_stage = (
            opp_history.join(
                self.converted.select(pl.col("lead_id").alias("lead_orig"), "deal"),
                on="lead_orig",
                maintain_order="left",
            )
            .group_by("deal", maintain_order=True)
            .agg(pl.col("StageName").last())
        )
        accounts = self.ds.accounts.select(pl.col("id").alias("account_id"), pl.col("name").alias("company"))
        lead_source = self.ds.leads.select(
            pl.col("id").alias("lead_id"), pl.col("source").alias("lead_source"), "campaign"
        )
        frame = (
            deals.with_row_index("_row")
            .with_columns(expected=expected)
            .join(last_stage, left_on="id", right_on="deal", how="left", maintain_order="left")
            .join(accounts, on="account_id", how="left", maintain_order="left")
            .join(lead_source, on="lead_id", how="left", maintain_order="left")
            .sort("_row")
        )
        stage = pl.col("stage")
        close = pl.when(stage == "open").then(
            (pl.col("created_at").dt.date() + pl.duration(days=pl.col("expected"))).cast(pl.String)
        )
        return frame.select(
            self._sf("Opportunity", "id", "Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            self._sf("Account", "account_id", "AccountId"),
            (pl.col("company").fill_null("Deal") + pl.lit(" - ") + pl.col("id")).alias("Name"),
            pl.when(stage == "won")
            .then(pl.lit("Closed Won"))
            .when(stage == "lost")
            .then(pl.lit("Closed Lost"))
            .otherwise(pl.col("StageName").fill_null("Prospecting"))
            .alias("StageName"),
            _amount("amount").alias("Amount"),
            pl.col("amount_currency").alias("CurrencyIsoCode"),
            close.otherwise(pl.col("close_date").cast(pl.String)).alias("CloseDate"),
            _time("created_at").alias("CreatedDate"),
            self._user("owner", "OwnerId"),
            _bool(stage == "won").alias("IsWon"),
            _bool(stage != "open").alias("IsClosed"),
            pl.col("lead_source").alias("LeadSource"),
            self._sf("Campaign", "campaign", "CampaignId"),
            pl.lit("New Business").alias("Type"),
            pl.col("product").alias("Product__c"),
            pl.col("segment").alias("Segment__c"),
            _amount("discount").alias("Discount__c"),
            pl.col("refunded_on").cast(pl.String).alias("Refund_Date__c"),
        )

    def _splits(self) -> dict[str, pl.DataFrame]:
        """Split types (Revenue, Overlay) and splits; no splits is 100% revenue to the deal's owner."""
        types = pl.DataFrame(
            {
                "Id": self.ids.make("OpportunitySplitType", 2),
                "MasterLabel": ["Revenue", "Overlay"],
                "DeveloperName": ["Revenue", "Overlay"],
                "SplitField": ["Opportunity.Amount", "Opportunity.Amount"],
                "IsTotalValidated": ["true", "false"],
                "IsActive": ["true", "true"],
            }
        )
        type_id = {"revenue": types["Id"][0], "overlay": types["Id"][1]}
        deals = self.ds.deals.select("id", "owner", "splits").with_row_index("_row")
        given = deals.filter(pl.col("splits").list.len() > 0).explode("splits").unnest("splits")
        default = deals.filter((pl.col("splits").list.len() == 0) & pl.col("owner").is_not_null()).select(
            "_row",
            "id",
            pl.col("owner").alias("person"),
            pl.lit(1).cast(given.schema["share"]).alias("share"),
            pl.lit("revenue").alias("kind"),
        )
        rows = pl.concat([given.select(default.columns), default]).with_row_index("_n").sort("_row", "_n")
        splits = rows.select(
            self.ids.make("OpportunitySplit", rows.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            self._sf("Opportunity", "id", "OpportunityId"),
            self._user("person", "SplitOwnerId"),
            (pl.col("share") * 100)
            .cast(pl.String)
            .str.replace(r"(\.\d{2}\d*?)0+$", "${1}")
            .alias("SplitPercentage"),
            pl.col("kind").replace_strict(type_id).alias("SplitTypeId"),
        )
        return {"OpportunitySplitType": types, "OpportunitySplit": splits}

    # -- campaigns, activities ---------------------------------------------------------------------

    def _campaigns(self) -> dict[str, pl.DataFrame]:
        """A ``Campaign`` per campaign name; a ``CampaignMember`` per lead and campaign (its first touch)."""
        touches = self.ds.touchpoints.with_row_index("_row").filter(pl.col("campaign").is_not_null())
        campaigns = (
            touches.sort("time", "_row")
            .group_by("campaign", maintain_order=True)
            .agg(
                pl.col("channel").first(),
                pl.col("owner").first(),
                pl.col("time").min().alias("start"),
                pl.col("time").max().alias("end"),
            )
            .sort("campaign")
        )
        campaigns = campaigns.with_columns(self._sf("Campaign", "campaign", "sf"))
        members = (
            touches.sort("time", "_row")
            .group_by("lead_id", "campaign", maintain_order=True)
            .first()
            .sort("_row")
        )
        members = members.join(
            campaigns.select("campaign", "sf"), on="campaign", how="left", maintain_order="left"
        ).sort("_row")
        members = members.join(
            self.converted.select("lead_id", "contact"), on="lead_id", how="left", maintain_order="left"
        ).sort("_row")
        campaign = campaigns.select(
            pl.col("sf").alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            pl.col("campaign").alias("Name"),
            pl.col("channel").alias("Type"),
            pl.lit("Completed").alias("Status"),
            pl.col("start").dt.date().cast(pl.String).alias("StartDate"),
            pl.col("end").dt.date().cast(pl.String).alias("EndDate"),
            _bool(pl.lit(False)).alias("IsActive"),
            self._user("owner", "OwnerId"),
        )
        member = members.select(
            self.ids.make("CampaignMember", members.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            pl.col("sf").alias("CampaignId"),
            self._sf("Lead", "lead_id", "LeadId"),
            pl.col("contact").alias("ContactId"),
            pl.lit("Responded").alias("Status"),
            _bool(pl.lit(True)).alias("HasResponded"),
            pl.col("time").dt.date().cast(pl.String).alias("FirstRespondedDate"),
            _time("time").alias("CreatedDate"),
            self._user("owner", "CreatedById"),
        )
        return {"Campaign": campaign, "CampaignMember": member}

    def _activities(self) -> dict[str, pl.DataFrame]:
        """Meetings are ``Event`` rows, everything else ``Task`` rows; on the contact once converted."""
        acts = (
            self.ds.activities.with_row_index("_row")
            .join(
                self.converted.select("lead_id", "contact", "converted_at"),
                on="lead_id",
                how="left",
                maintain_order="left",
            )
            .sort("_row")
        )
        who = (
            pl.when(pl.col("time") >= pl.col("converted_at"))
            .then(pl.col("contact"))
            .otherwise(self._sf("Lead", "lead_id", "w"))
        )
        tasks = acts.filter(pl.col("type") != "meeting")
        subtype = {"call": "Call", "email": "Email"}
        kind = {"call": "Call", "email": "Email", "social": "Social", "sms": "SMS", "other": "Other"}
        task = tasks.select(
            self.ids.make("Task", tasks.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            who.alias("WhoId"),
            self._user("person", "OwnerId"),
            pl.col("type").replace_strict(kind, default="Other").alias("Subject"),
            pl.col("time").dt.date().cast(pl.String).alias("ActivityDate"),
            pl.lit("Completed").alias("Status"),
            pl.lit("Normal").alias("Priority"),
            pl.col("type").replace_strict(subtype, default="Task").alias("TaskSubtype"),
            pl.col("type").replace_strict(kind, default="Other").alias("Type"),
            pl.col("outcome").alias("CallDisposition"),
            _time("time").alias("CompletedDateTime"),
            _time("time").alias("CreatedDate"),
            _bool(pl.lit(True)).alias("IsClosed"),
        )
        meetings = acts.filter(pl.col("type") == "meeting")
        event = meetings.select(
            self.ids.make("Event", meetings.height).alias("Id"),
            _bool(pl.lit(False)).alias("IsDeleted"),
            who.alias("WhoId"),
            self._user("person", "OwnerId"),
            pl.lit("Meeting").alias("Subject"),
            _time("time").alias("StartDateTime"),
            (pl.col("time") + pl.duration(minutes=30)).dt.strftime(_TIME).alias("EndDateTime"),
            _time("time").alias("ActivityDateTime"),
            pl.col("time").dt.date().cast(pl.String).alias("ActivityDate"),
            pl.lit("30").alias("DurationInMinutes"),
            pl.lit("Meeting").alias("Type"),
            _time("time").alias("CreatedDate"),
            pl.col("outcome").alias("Outcome__c"),
        )
        return {"Task": task, "Event": event}


def _opportunity_phase(kind: str, terminal: str | None) -> bool:
    return kind in ("opportunity", "customer") or terminal in ("won", "lost")


def _labels(plan: AlignmentPlan) -> dict[str, str]:
    """Journey stage id -> the Salesforce value written for it (see the module docstring)."""
    labels: dict[str, str] = {}
    prospecting = False
    for stage in plan.journey.stages:
        if stage.terminal == "won":
            labels[stage.id] = "Closed Won"
        elif stage.terminal == "lost":
            labels[stage.id] = "Closed Lost"
        elif stage.terminal == "disqualified":
            labels[stage.id] = "Closed - Not Converted"
        elif stage.kind == "opportunity" and not prospecting:
            labels[stage.id] = "Prospecting"
            prospecting = True
        else:
            labels[stage.id] = stage.name
    # Two stages must not share a label, or the export could not tell them apart.
    seen: dict[str, str] = {}
    for stage_id, label in list(labels.items()):
        if label in seen:
            labels[stage_id] = stage_id
        seen.setdefault(labels[stage_id], stage_id)
    return labels
