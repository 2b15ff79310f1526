"""Write a synthetic :class:`~smarketing.records.Dataset` as the CSV files a HubSpot user downloads.

:func:`write_hubspot_export` gives the shape and the quirks of HubSpot's exports (label headers, times
without an offset in the portal's time zone, owners by full name, amounts such as ``"6,000.00"``, empty
cells, UTF-8 with a byte order mark) so that the ``hubspot-export`` connector
(:class:`smarketing.connectors.hubspot.HubSpotExport`) can be proved by a round trip.

What an export keeps of a dataset, and so what the round trip compares (the rest is not written):

- ids: ``Record ID`` is the digits of the id without leading zeros (:func:`record_id`,
  ``"L0000042"`` -> ``"42"``);
- times to the minute, written in ``time_zone``;
- leads: all but ``grade`` and ``region``; accounts: all but ``region``;
- stage events: per lead and stage, the first entry (only for HubSpot's standard stages, in the
  ``Became a ... Date`` columns) and the latest entry (``Date entered "... (Lifecycle Stage Pipeline)"``),
  without ``actor``; the current ``Lifecycle Stage`` is the stage of the last event;
- touchpoints: the lead's source touch (``Original Source`` at ``Create Date``) and its last touch by the
  same team (``Latest Source``), without ids and owners;
- activities of type call, e-mail and meeting, without e-mail outcomes;
- deals without ``discount``, ``product``, ``segment``, ``refunded_on`` and ``splits``;
- no dispositions (HubSpot has no such object).

Examples:
    >>> record_id("L0000042"), record_id("ACT00000007")
    ('42', '7')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl
from iso4217 import Currency

from smarketing.connectors.hubspot import LIFECYCLE_STAGES, OUTCOMES
from smarketing.plan import AlignmentPlan
from smarketing.records import Dataset

__all__ = ["record_id", "stage_labels", "write_hubspot_export"]

_FIRST: Final = (
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "José",
    "Kai",
    "Łukasz",
)
_LAST: Final = (
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Holm",
    "Jansen",
    "Kowalski",
    "Novak",
)
_OPEN_STAGES: Final = (
    "Appointment Scheduled",
    "Qualified To Buy",
    "Presentation Scheduled",
    "Decision Maker Bought-In",
    "Contract Sent",
)
_MINUTE: Final = "%Y-%m-%d %H:%M"
_CHANNEL_LABELS: Final = {
    "organic": "Organic Search",
    "paid_search": "Paid Search",
    "email": "Email Marketing",
    "social": "Social Media",
    "referral": "Referrals",
    "direct": "Direct Traffic",
    "paid_social": "Paid Social",
}
_OUTCOME_LABELS: Final = {v: k for k, v in OUTCOMES.items()}
_KINDS: Final = {kind: (label, became) for _, label, became, kind in LIFECYCLE_STAGES}


def record_id(value: str) -> str:
    """The HubSpot ``Record ID`` an id is written as: its digits, without leading zeros.

    Raises:
        ValueError: The id has no digits.

    Examples:
        >>> record_id("D000120")
        '120'
    """
    digits = re.sub(r"\D", "", value)
    if not digits:
        raise ValueError(f"id {value!r} has no digits to make a HubSpot Record ID of")
    return str(int(digits))


def stage_labels(plan: AlignmentPlan) -> dict[str, tuple[str, str | None]]:
    """How each journey stage is written: (its lifecycle stage label, its ``Became a ... Date`` header).

    The first stage of each of HubSpot's standard kinds is that standard stage (with a ``Became a ...``
    column); every other stage is a custom lifecycle stage with the stage's name as its label.

    Examples:
        >>> from smarketing.plan import load_plan
        >>> labels = stage_labels(load_plan("examples/plan.yaml"))
        >>> labels["mql"]
        ('Marketing Qualified Lead', 'Became a Marketing Qualified Lead Date')
        >>> labels["sal"]
        ('Sales Accepted Lead', None)
    """
    out: dict[str, tuple[str, str | None]] = {}
    taken: set[str] = set()
    for stage in plan.journey.stages:
        if stage.kind in _KINDS and stage.kind not in taken:
            taken.add(stage.kind)
            out[stage.id] = _KINDS[stage.kind]
        else:
            out[stage.id] = (stage.name, None)
    return out


def _local(column: str, time_zone: str) -> pl.Expr:
    """A UTC time column as HubSpot writes it: to the minute, in the portal's zone, without an offset."""
    return pl.col(column).dt.convert_time_zone(time_zone).dt.truncate("1m").dt.strftime(_MINUTE)


def _label(values: Mapping[str, str], column: str) -> pl.Expr:
    return pl.col(column).replace(dict(values))


def _outcome_label(value: str) -> str:
    slug = _OUTCOME_LABELS.get(value, value)
    return slug.replace("_", " ").capitalize()


def _ids(column: str) -> pl.Expr:
    """:func:`record_id` in whole columns (ids without digits are refused by :func:`_check_ids` first)."""
    digits = pl.col(column).str.replace_all(r"\D", "").str.strip_chars_start("0")
    return pl.when(digits == "").then(pl.lit("0")).otherwise(digits)


def _check_ids(data: Dataset) -> None:
    """Every id must hold digits, and the ids of one kind must stay apart once written as Record IDs."""
    for kind in ("accounts", "leads", "deals", "activities"):
        ids = data.frames()[kind].select(pl.col("id"), _ids("id").alias("record"))
        none = ids.filter(~pl.col("id").str.contains(r"\d"))
        if none.height:
            record_id(none.item(0, "id"))  # raises, naming the id
        if ids.get_column("record").n_unique() != ids.height:
            raise ValueError(f"{kind}: two ids have the same digits, so the same HubSpot Record ID")


def write_hubspot_export(
    plan: AlignmentPlan,
    dataset: Dataset,
    folder: str | Path,
    *,
    seed: int = 0,
    time_zone: str | None = None,
    bom: bool = True,
) -> dict[str, Path]:
    """Write ``dataset`` as a HubSpot export: one CSV per object in ``folder``.

    Args:
        plan: The plan the data follows (stage labels, owner and persona names).
        dataset: Usually :func:`smarketing.datasets.synthetic` output; ids must hold digits.
        folder: Where to write (created when missing).
        seed: Seed of what HubSpot holds and the dataset does not (names, e-mails, open deal stages).
        time_zone: The portal's time zone, in which times are written without an offset; by default the
            zone of the plan's SLA calendar, or UTC for a plan without an SLA.
        bom: Start each file with a UTF-8 byte order mark, as Excel-friendly exports do.

    Returns:
        The files by object: ``contacts``, ``companies``, ``deals``, ``calls``, ``emails``, ``meetings``.

    Examples:
        >>> import tempfile
        >>> from smarketing.datasets import synthetic
        >>> from smarketing.plan import load_plan
        >>> plan = load_plan("examples/plan.yaml")
        >>> files = write_hubspot_export(plan, synthetic(plan, seed=3, n_leads=20), tempfile.mkdtemp())
        >>> sorted(files)
        ['calls', 'companies', 'contacts', 'deals', 'emails', 'meetings']
        >>> files["deals"].read_text("utf-8-sig").splitlines()[0]
        'Record ID,Deal Name,Deal Stage,Amount,Currency,Pipeline,Create Date,Close Date,Deal owner,...'
    """
    _check_ids(dataset)
    if time_zone is None:
        time_zone = plan.sla.calendar.timezone if plan.sla is not None else "UTC"
    rng = np.random.Generator(np.random.PCG64(seed))
    people = {p.id: p.name for p in plan.people}
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    frames = {
        "contacts": _contacts(plan, dataset, rng, people, time_zone),
        "companies": _companies(dataset),
        "deals": _deals(dataset, rng, people, time_zone),
        **_activities(dataset, people, time_zone),
    }
    out: dict[str, Path] = {}
    for name, frame in frames.items():
        path = root / f"{name}.csv"
        text = frame.write_csv(null_value="")
        path.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
        out[name] = path
    return out


def _contacts(
    plan: AlignmentPlan, data: Dataset, rng: np.random.Generator, people: Mapping[str, str], time_zone: str
) -> pl.DataFrame:
    """Contacts: the lead's properties, its source columns and one date column per lifecycle stage."""
    leads = data.leads
    n = leads.height
    first = pl.Series(_FIRST).gather(rng.integers(0, len(_FIRST), n))
    last = pl.Series(_LAST).gather(rng.integers(0, len(_LAST), n))
    personas = {p.id: p.name for p in plan.personas}
    labels = stage_labels(plan)
    stages, current = _stage_columns(data, labels, time_zone)
    latest = _latest_touch(data, time_zone)
    frame = leads.with_columns(first=first, last=last).join(
        latest, on="id", how="left", maintain_order="left"
    )
    frame = frame.join(current, on="id", how="left", maintain_order="left")
    frame = frame.join(stages, on="id", how="left", maintain_order="left")
    company = data.accounts.select(pl.col("id").alias("account_id"), pl.col("name").alias("company"))
    frame = frame.join(company, on="account_id", how="left", maintain_order="left")
    email = (pl.col("first") + "." + pl.col("last") + "." + _ids("id") + "@example.com").str.to_lowercase()
    head = frame.select(
        _ids("id").alias("Record ID"),
        pl.col("first").alias("First Name"),
        pl.col("last").alias("Last Name"),
        email.alias("Email"),
        pl.col("stage").alias("Lifecycle Stage"),
        pl.col("status").alias("Lead Status"),
        _local("created_at", time_zone).alias("Create Date"),
        _label(people, "owner").alias("Contact owner"),
        _label(_CHANNEL_LABELS, "source").alias("Original Source"),
        pl.col("campaign").alias("First touch converting campaign"),
        _label(_CHANNEL_LABELS, "latest_channel").alias("Latest Source"),
        pl.col("latest_time").alias("Latest Source Date"),
        pl.col("latest_campaign").alias("Last touch converting campaign"),
        pl.col("title").alias("Job Title"),
        pl.col("seniority").alias("Seniority"),
        _label(personas, "persona").alias("Persona"),
        pl.col("company").alias("Company Name"),
        pl.col("industry").alias("Industry"),
        pl.col("company_size").cast(pl.String).alias("Number of Employees"),
        pl.col("country").alias("Country/Region"),
        pl.when(pl.col("account_id").is_not_null()).then(_ids("account_id")).alias("Associated Company IDs"),
    )
    return pl.concat([head, frame.select(stages.columns[1:])], how="horizontal")


def _stage_columns(
    data: Dataset, labels: Mapping[str, tuple[str, str | None]], time_zone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stage date columns (wide, by lead ``id``) and each lead's current stage label."""
    events = data.stage_events.with_row_index("order")
    extra = sorted(set(events.get_column("to").unique().to_list()) - set(labels))
    labels = {**labels, **{s: (s, None) for s in extra}}
    local = events.with_columns(_local("time", time_zone).alias("local"))
    first = local.group_by("lead_id", "to").agg(pl.col("local").sort_by("time", "order").first())
    last = local.group_by("lead_id", "to").agg(pl.col("local").sort_by("time", "order").last())
    wide = data.leads.select("id")
    for stage, (label, became) in labels.items():
        for header, table in ((became, first), (f'Date entered "{label} (Lifecycle Stage Pipeline)"', last)):
            if header is None:
                continue
            column = table.filter(pl.col("to") == stage).select(
                pl.col("lead_id").alias("id"), pl.col("local")
            )
            wide = wide.join(column.rename({"local": header}), on="id", how="left", maintain_order="left")
    current = (
        events.sort("time", "order")
        .group_by("lead_id", maintain_order=True)
        .agg(pl.col("to").last())
        .select(
            pl.col("lead_id").alias("id"),
            pl.col("to").replace({s: lb for s, (lb, _) in labels.items()}).alias("stage"),
        )
    )
    return wide, current


def _latest_touch(data: Dataset, time_zone: str) -> pl.DataFrame:
    """Each lead's last touch by the team of its first touch, when that is not the first touch."""
    touches = data.touchpoints.sort("lead_id", "time", "id")
    first = touches.group_by("lead_id", maintain_order=True).agg(
        pl.col("id").first().alias("first"), pl.col("team").first().alias("first_team")
    )
    same = touches.join(first, on="lead_id").filter(pl.col("team") == pl.col("first_team"))
    last = (
        same.group_by("lead_id", maintain_order=True)
        .agg(pl.all().last())
        .filter(pl.col("id") != pl.col("first"))
    )
    return last.select(
        pl.col("lead_id").alias("id"),
        pl.col("channel").alias("latest_channel"),
        _local("time", time_zone).alias("latest_time"),
        pl.col("campaign").alias("latest_campaign"),
    )


def _companies(data: Dataset) -> pl.DataFrame:
    return data.accounts.select(
        _ids("id").alias("Record ID"),
        pl.col("name").alias("Company name"),
        pl.col("industry").alias("Industry"),
        pl.col("company_size").cast(pl.String).alias("Number of Employees"),
        pl.col("country").alias("Country/Region"),
    )


def _amount(amount: object, currency: object) -> str | None:
    """``12596`` in EUR -> ``"12,596.00"``: thousands separators and the currency's minor digits."""
    if amount is None or currency is None:
        return None
    exponent = Currency(str(currency)).exponent or 0
    return f"{amount:,.{exponent}f}"


def _deals(
    data: Dataset, rng: np.random.Generator, people: Mapping[str, str], time_zone: str
) -> pl.DataFrame:
    deals = data.deals
    open_stage = pl.Series(_OPEN_STAGES).gather(rng.integers(0, len(_OPEN_STAGES), deals.height))
    names = data.accounts.select(pl.col("id").alias("account_id"), pl.col("name").alias("company"))
    frame = deals.with_columns(open_stage=open_stage).join(
        names, on="account_id", how="left", maintain_order="left"
    )
    amounts = [_amount(a, c) for a, c in frame.select("amount", "amount_currency").iter_rows()]
    stage = (
        pl.when(pl.col("stage") == "won")
        .then(pl.lit("Closed Won"))
        .when(pl.col("stage") == "lost")
        .then(pl.lit("Closed Lost"))
        .otherwise(pl.col("open_stage"))
    )
    return frame.select(
        _ids("id").alias("Record ID"),
        (pl.col("company").fill_null("New") + " - new business").alias("Deal Name"),
        stage.alias("Deal Stage"),
        pl.Series("Amount", amounts, dtype=pl.String),
        pl.col("amount_currency").alias("Currency"),
        pl.lit("Sales Pipeline").alias("Pipeline"),
        _local("created_at", time_zone).alias("Create Date"),
        pl.col("close_date").dt.strftime("%Y-%m-%d").alias("Close Date"),
        _label(people, "owner").alias("Deal owner"),
        pl.when(pl.col("lead_id").is_not_null()).then(_ids("lead_id")).alias("Associated Contact IDs"),
        pl.when(pl.col("account_id").is_not_null()).then(_ids("account_id")).alias("Associated Company IDs"),
    )


def _activities(data: Dataset, people: Mapping[str, str], time_zone: str) -> dict[str, pl.DataFrame]:
    """Calls, e-mails and meetings, one file each; outcomes as labels (e-mails have none)."""
    out: dict[str, pl.DataFrame] = {}
    for name, kind, title, outcome in (
        ("calls", "call", "Call Title", "Call outcome"),
        ("emails", "email", "Email subject", None),
        ("meetings", "meeting", "Meeting name", "Meeting outcome"),
    ):
        rows = data.activities.filter(pl.col("type") == kind)
        columns = [
            _ids("id").alias("Record ID"),
            _local("time", time_zone).alias("Activity date"),
            _label(people, "person").alias("Activity assigned to"),
            pl.lit(f"Follow-up {kind}").alias(title),
        ]
        if outcome is not None:
            labels = {
                v: _outcome_label(v) for v in rows.get_column("outcome").drop_nulls().unique().to_list()
            }
            columns.append(pl.col("outcome").replace(labels).alias(outcome))
        columns.append(_ids("lead_id").alias("Associated Contact IDs"))
        out[name] = rows.select(columns)
    return out
