"""The ``salesforce-export`` connector: the CSV files of Salesforce's weekly Data Export.

Salesforce's Data Export (Setup > Data Export) writes one CSV file per object, headed by the fields' API
names. This connector reads ``Lead``, ``LeadHistory``, ``Contact``, ``Account``, ``Opportunity``,
``OpportunityHistory``, ``OpportunitySplit``, ``OpportunitySplitType``, ``Campaign``, ``CampaignMember``,
``Task``, ``Event`` and ``User`` (only ``Lead.csv`` is required) and maps them to smarketing's records:

* every id, in its 15-character or 18-character form, becomes the 18-character form (a lower-cased id
  gets its case back from the suffix); owners and actors (User ids) become plan people;
* a converted lead is tied to the opportunity its conversion created (``deal.lead_id``), and activities
  and campaign members on its contact count for the lead;
* stage history is read from ``LeadHistory`` (``Status`` changes) and ``OpportunityHistory``
  (``StageName``), values mapped to journey stages; a lead's first event is its ``created`` history row,
  or, when the history does not reach back that far (Salesforce keeps field history for 18 months), is
  rebuilt from ``CreatedDate`` and said so in the report's provenance;
* ``OpportunitySplit`` rows are the deal's splits, ``Revenue`` or ``Overlay`` by their split type.

The how-to *Bring your Salesforce data* lists every file, header and mapping.

Examples:
    >>> import tempfile
    >>> from smarketing.plan import load_plan
    >>> from smarketing.datasets import synthetic, write_salesforce_export
    >>> plan = load_plan("examples/plan.yaml")
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_salesforce_export(plan, synthetic(plan, seed=3, n_leads=50), folder)
    >>> data, report = SalesforceExport(path=folder, plan=plan).load()
    >>> data.leads.height, report.ok
    (50, True)
    >>> report.provenance.stage_history
    'native'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import attrs
import polars as pl

from smarketing.connectors import _read
from smarketing.connectors._salesforce import (
    Found,
    Known,
    case_safe,
    case_safe_text,
    history,
    parse_time,
    reference,
    stage_map,
    time_problem,
    user_map,
)
from smarketing.connectors.intake import RawFrame, intake
from smarketing.connectors.report import (
    AppliedMapping,
    Default,
    Loaded,
    Provenance,
    Refusal,
    StageHistory,
)
from smarketing.errors import DataError
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records.schema import RULES

__all__ = [
    "CsvObjects",
    "MappingOptions",
    "OBJECTS",
    "Objects",
    "SalesforceExport",
    "TableObjects",
    "case_safe_id",
    "load_objects",
]

#: The objects read, and the record kind each feeds (``User`` feeds people, not records).
OBJECTS: Final[dict[str, str]] = {
    "User": "users",
    "Account": "accounts",
    "Lead": "leads",
    "Contact": "leads",
    "LeadHistory": "stage_events",
    "Opportunity": "deals",
    "OpportunityHistory": "stage_events",
    "OpportunitySplitType": "deal_splits",
    "OpportunitySplit": "deal_splits",
    "Campaign": "touchpoints",
    "CampaignMember": "touchpoints",
    "Task": "activities",
    "Event": "activities",
}
#: The standard fields read from each object into each canonical column (``fields`` may add others).
STANDARD: Final[dict[str, dict[str, str]]] = {
    "Account": {
        "id": "Id",
        "name": "Name",
        "industry": "Industry",
        "company_size": "NumberOfEmployees",
        "country": "BillingCountry",
    },
    "Lead": {
        "id": "Id",
        "account_id": "ConvertedAccountId",
        "created_at": "CreatedDate",
        "source": "LeadSource",
        "owner": "OwnerId",
        "title": "Title",
        "industry": "Industry",
        "company_size": "NumberOfEmployees",
        "country": "Country",
    },
    "Contact": {
        "id": "Id",
        "account_id": "AccountId",
        "created_at": "CreatedDate",
        "source": "LeadSource",
        "owner": "OwnerId",
        "title": "Title",
    },
    "Opportunity": {
        "id": "Id",
        "account_id": "AccountId",
        "amount": "Amount",
        "amount_currency": "CurrencyIsoCode",
        "created_at": "CreatedDate",
        "close_date": "CloseDate",
        "owner": "OwnerId",
        "stage": "IsClosed",
    },
    "CampaignMember": {
        "id": "Id",
        "lead_id": "LeadId",
        "time": "CreatedDate",
        "owner": "CreatedById",
        "channel": "Campaign.Type",
        "campaign": "Campaign.Name",
    },
    "Task": {
        "id": "Id",
        "lead_id": "WhoId",
        "person": "OwnerId",
        "time": "CompletedDateTime",
        "type": "TaskSubtype",
        "outcome": "CallDisposition",
    },
    "Event": {"id": "Id", "lead_id": "WhoId", "person": "OwnerId", "time": "StartDateTime"},
}
_TASK_TYPES: Final = {
    "Call": "call",
    "Email": "email",
    "ListEmail": "email",
    "Social": "social",
    "SMS": "sms",
    "Meeting": "meeting",
    "Other": "other",
}


def case_safe_id(value: str) -> str:
    """The 18-character, case-safe form of a Salesforce id given in 15 or 18 characters.

    The suffix encodes, for each five characters of the 15-character id, which of them are upper case
    (``CASESAFEID()`` in a Salesforce formula).

    Examples:
        >>> case_safe_id("a0D30000001n7Pi")
        'a0D30000001n7PiEAI'
        >>> case_safe_id("a0d30000001n7piEAI")  # the case comes back from the suffix
        'a0D30000001n7PiEAI'
        >>> case_safe_id("not an id")
        Traceback (most recent call last):
        ...
        ValueError: 'not an id' is not a Salesforce id (15 or 18 letters and digits)
    """
    if not isinstance(value, str):
        raise TypeError(f"expected a Salesforce id as text, not {type(value).__name__}")
    out = case_safe_text(value)
    if out is None:
        raise ValueError(f"{value!r} is not a Salesforce id (15 or 18 letters and digits)")
    return out


@attrs.frozen
class _Part:
    """One source's rows in a combined table: where they start, and its header of each column."""

    source: str
    start: int
    height: int
    headers: Mapping[str, str]


class SalesforceExport:
    """Read the CSV files of a Salesforce Data Export (API-name headers) into smarketing's records.

    Args:
        path: The folder of the export's CSV files (``Lead.csv``, ``LeadHistory.csv``, ...).
        plan: The alignment plan (or the path of its file): stage names and ids map Lead Status and
            StageName values, the plan people's names map users, their teams give touchpoints a team.
        status_map: Lead Status / Opportunity StageName value -> journey stage id, over the default: a
            stage's id or name (with a plan), then the standard values (``Open - Not Contacted`` -> the
            first ``lead`` stage, ``Working - Contacted`` -> ``sal``, ``Closed - Converted`` -> ``sql``,
            ``Closed - Not Converted`` -> the disqualified terminal stage, ``Prospecting`` to
            ``Negotiation/Review`` -> the first ``opportunity`` stage, ``Closed Won`` / ``Closed Lost``
            -> the won / lost terminal stages; without a plan the role names themselves).
        users: User Id (15 or 18 characters) -> person id, over the default: with a plan, the person
            whose name is the user's ``Name``; else the User Id; the Automated Process user is no one.
        fields: Custom fields to read, ``"Object.Field__c"`` -> canonical column (``{"Lead.Region__c":
            "region"}``), for ``Lead``, ``Contact``, ``Account``, ``Opportunity``, ``CampaignMember``,
            ``Task`` and ``Event``.
        currency: The ISO 4217 currency of amounts when ``Opportunity.csv`` has no ``CurrencyIsoCode``
            column (an org without multiple currencies); listed in the report's defaults.
        time_zone: The IANA zone of date-times written without an offset (the export writes UTC with a
            ``Z``; files edited by hand may not). Without it such values are refused.
        encoding: The files' text encoding (the export's setting; ``"utf-8"`` by default).
    """

    name = "salesforce-export"

    def __init__(
        self,
        *,
        path: str | Path,
        plan: AlignmentPlan | str | Path | None = None,
        status_map: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
        currency: str | None = None,
        time_zone: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path)
        self.plan = load_plan(plan) if isinstance(plan, str | Path) else plan
        if self.plan is not None and not isinstance(self.plan, AlignmentPlan):
            raise TypeError(f"plan: expected an AlignmentPlan or a path, not {type(plan).__name__}")
        self.status_map = _text_map(status_map, "status_map")
        self.users = _text_map(users, "users")
        self.fields = _fields(fields or {})
        self.currency = currency
        self.time_zone = time_zone
        self.encoding = encoding

    def __repr__(self) -> str:
        return f"SalesforceExport({str(self.path)!r})"

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read the export and validate it (see :func:`~smarketing.connectors.intake`).

        Raises:
            LoadError: In strict mode, when any row is refused (the report is attached).
            DataError: ``Lead.csv`` is missing, or a file cannot be read (in strict mode), or lacks a
                column every row needs.
        """
        if not self.path.is_dir():
            raise DataError(f"{self.path}: is not a folder (the export's CSV files)")
        return load_objects(self, CsvObjects(self.path, self.encoding), strict=strict, progress=progress)


class MappingOptions(Protocol):
    """The options the mapping reads: a :class:`SalesforceExport`'s, or the live ``salesforce`` one's."""

    @property
    def name(self) -> str:
        """The connector's name, for the report."""
        ...

    @property
    def plan(self) -> AlignmentPlan | None:
        """The plan whose journey and people the records must fit."""
        ...

    @property
    def status_map(self) -> Mapping[str, str]:
        """Lead status -> journey stage, beside the plan's own stages."""
        ...

    @property
    def users(self) -> Mapping[str, str]:
        """User id or name -> the plan's person."""
        ...

    @property
    def fields(self) -> Mapping[str, Mapping[str, str]]:
        """Custom fields read per object (object -> canonical field -> API name)."""
        ...

    @property
    def currency(self) -> str | None:
        """The currency of amounts without one (no multi-currency org)."""
        ...

    @property
    def time_zone(self) -> str | None:
        """The zone of times written without an offset."""
        ...


class Objects(Protocol):
    """Where the Salesforce objects are read from: the export's CSV files, or tables an ELT tool loaded.

    Each object is read as text, with its row's place in the column :data:`_read.LINE`, and named in
    the report as ``"<Object>.csv"`` (a caller reading tables renames them afterwards).
    """

    @property
    def source(self) -> str:
        """The path or address read, for the report's provenance."""
        ...

    def present(self) -> dict[str, bool]:
        """Which of :data:`OBJECTS` the source has; what else it has is listed by :meth:`others`."""
        ...

    def others(self) -> list[str]:
        """The source's tables or files of no object read (for a note)."""
        ...

    def where(self, obj: str) -> str:
        """How errors name the object's file or table (the prefix of :meth:`read`'s messages)."""
        ...

    def read(self, obj: str, keep: Callable[[str], bool]) -> tuple[pl.DataFrame, list[str]]:
        """The object's rows as text (only the columns ``keep`` takes) and all its column names.

        Raises:
            DataError: The object cannot be read; a message ``"<where>:<line>: <reason>"`` or
                ``"<where>: <reason>"``.
        """
        ...


@attrs.frozen
class CsvObjects:
    """The CSV files of a Data Export folder, one per object (``Lead.csv``, ...)."""

    path: Path
    encoding: str = "utf-8"

    @property
    def source(self) -> str:
        """The folder, as the report's provenance names it."""
        return str(self.path)

    def _files(self) -> dict[str, Path]:
        return {p.name: p for p in self.path.iterdir()} if self.path.is_dir() else {}

    def present(self) -> dict[str, bool]:
        """Which objects have their ``<Object>.csv`` in the folder."""
        files = self._files()
        return {obj: f"{obj}.csv" in files for obj in OBJECTS}

    def others(self) -> list[str]:
        """The folder's CSV files of no object read."""
        known = {f"{obj}.csv" for obj in OBJECTS}
        return sorted(n for n in self._files() if n.endswith(".csv") and n not in known)

    def where(self, obj: str) -> str:
        """The object's file, as the reader's errors name it."""
        return str(self.path / f"{obj}.csv")

    def read(self, obj: str, keep: Callable[[str], bool]) -> tuple[pl.DataFrame, list[str]]:
        """The object's file as text, each row with its line (the shared safe CSV reader)."""
        return _read.read_csv_header(self.path / f"{obj}.csv", encoding=self.encoding, keep=keep)


@attrs.frozen
class TableObjects:
    """Objects already read into text tables (the live API's), each row's position in :data:`_read.LINE`.

    Attributes:
        tables: Object -> its rows as text columns named by the fields' API names.
        address: Where they were read from (the org's address), for the report's provenance.

    Examples:
        >>> lead = pl.DataFrame({"Id": ["00Q000000000001AAA"], "Company": ["Acme"]})
        >>> objects = TableObjects({"Lead": lead}, "https://example.my.salesforce.com")
        >>> objects.present()["Lead"], objects.present()["Contact"]
        (True, False)
        >>> table, names = objects.read("Lead", {"Id"}.__contains__)
        >>> table.columns, names
        (['Id'], ['Id', 'Company'])
    """

    tables: Mapping[str, pl.DataFrame]
    address: str

    @property
    def source(self) -> str:
        """The address read, as the report's provenance names it."""
        return self.address

    def present(self) -> dict[str, bool]:
        """Which objects were read."""
        return {obj: obj in self.tables for obj in OBJECTS}

    def others(self) -> list[str]:
        """None: only the objects the mapping reads are read from the API."""
        return []

    def where(self, obj: str) -> str:
        """The object's name, as errors name it."""
        return obj

    def read(self, obj: str, keep: Callable[[str], bool]) -> tuple[pl.DataFrame, list[str]]:
        """The object's table, only the columns ``keep`` takes (and the row's position)."""
        table = self.tables[obj]
        names = [c for c in table.columns if c != _read.LINE]
        return table.select(c for c in table.columns if c == _read.LINE or keep(c)), names


def load_objects(
    options: MappingOptions,
    objects: Objects,
    *,
    strict: bool,
    progress: bool | None,
    name: str | None = None,
    raise_refusals: bool = True,
) -> Loaded:
    """Map the Salesforce objects ``objects`` gives as the ``salesforce-export`` connector does.

    The one mapping of Salesforce objects to records: the export's files and the tables an ELT tool
    loads (the ``warehouse`` connector) both go through it. ``name`` is the connector named in the
    report (the export's by default). In strict mode an object that cannot be read raises at once, and
    refused rows raise at the end unless ``raise_refusals`` is false (the caller raises, after renaming).
    """
    run = _Load(options, strict, objects, name or options.name)
    raw, parts = run.tables()
    given = len(run.found.defaults)
    loaded = intake(
        raw,
        connector=name or options.name,
        strict=False,
        time_zone=options.time_zone,
        currency=options.currency,
        defaults=run.found.defaults,
        provenance=run.provenance(),
        progress=progress,
        release=True,
    )
    run.read_rest()
    return run.finish(loaded, parts, strict and raise_refusals, given_defaults=given)


def _text_map(given: Mapping[str, str] | None, option: str) -> dict[str, str]:
    if given is None:
        return {}
    if not isinstance(given, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in given.items()
    ):
        raise TypeError(f"{option}: expected a mapping of text to text")
    return dict(given)


def _fields(given: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``"Object.Field"`` -> column, as {object: {field: column}}; a column the object can give."""
    out: dict[str, dict[str, str]] = {}
    for key, column in given.items():
        obj, _, field = key.partition(".")
        if obj not in STANDARD or not field:
            raise ValueError(f"fields: {key!r} is not 'Object.Field' of {', '.join(sorted(STANDARD))}")
        kind = OBJECTS[obj]
        if column not in RULES[kind] or column in STANDARD[obj] or column in ("splits", "stage"):
            free = sorted(c for c in RULES[kind] if c not in STANDARD[obj] and c != "splits")
            raise ValueError(f"fields: {key!r} -> {column!r}: {obj} can give {', '.join(free)}")
        out.setdefault(obj, {})[field] = column
    return out


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, pl.String).alias(name)


Table = RawFrame | Callable[[], RawFrame | None]
"""A kind's raw table, or the function that builds it when the intake comes to it."""

_SPLIT_HEADERS = {
    "deal_id": "OpportunityId",
    "person": "SplitOwnerId",
    "share": "SplitPercentage",
    "kind": "SplitTypeId",
}


def _combined(
    kind: str, frames: list[tuple[pl.DataFrame, str, dict[str, str]]], parts: dict[str, list[_Part]]
) -> RawFrame | None:
    """One raw table of ``kind`` from its parts (each from one source file), noted in ``parts``."""
    frames = [f for f in frames if f[0] is not None]
    if not frames:
        return None
    columns = list(dict.fromkeys(c for f, _, _ in frames for c in f.columns))
    start, out = 0, []
    for frame, source, headers in frames:
        out.append(_Part(source, start, frame.height, headers))
        start += frame.height
    combined = pl.concat(
        [f.select([_col(f, c) for c in columns]) for f, _, _ in frames], how="vertical_relaxed"
    )
    # An empty cell is no value (before the intake gives a discount its deal's currency).
    # Only the columns holding such a cell are rewritten.
    text = [c for c, t in combined.schema.items() if t == pl.String]
    blank = combined.select(pl.col(c).str.contains(r"^\s*$").any() for c in text).row(0)
    combined = combined.with_columns(
        pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c)
        for c, some in zip(text, blank, strict=True)
        if some
    )
    parts[kind] = out
    source = frames[0][1] if len(frames) == 1 else " + ".join(s for _, s, _ in frames)
    return RawFrame(combined, source, lines=_read.LINE)


class _Load:
    """One load: the files read, the maps built, and what was found on the way."""

    def __init__(self, options: MappingOptions, strict: bool, objects: Objects, name: str) -> None:
        self.o = options
        self.strict = strict
        self.objects = objects
        self.name = name
        self.found = Found()
        self.unused: dict[str, tuple[str, ...]] = {}
        # Each file is read when its records are made and let go after (one file's table in memory at a
        # time, besides the leads and users that every other object is tied to).
        self.paths = self._paths()
        self.files: dict[str, pl.DataFrame | None] = {}
        self.present: dict[str, bool] = {}
        self.taken: set[str] = set()
        # The ids of the objects others refer to, as written and turned, to look references up in.
        self.known: dict[str, Known] = {}
        self.files["Lead"] = self._read("Lead")
        self.files["User"] = self._read("User")
        if self.files["Lead"] is None and not any(r.source == "Lead.csv" for r in self.found.refusals):
            raise DataError(
                f"{objects.source}: no Lead.csv (the export's leads); is this a Data Export folder?"
            )
        users = self.frame("User", ("Id",))
        if users is not None:
            self.ids(users, "User")
        self.people = user_map(
            users if users is not None else pl.DataFrame({"Id": []}, schema={"Id": pl.String}),
            options.plan,
            options.users,
            self.found,
        )
        self.stages = stage_map(options.plan, options.status_map)
        self.rebuilt = 0
        self.history_start: datetime | None = None
        self.lead_rows = 0

    # -- reading -------------------------------------------------------------------------------------

    def _paths(self) -> dict[str, bool]:
        """Which objects the source has; its files or tables of no object are noted."""
        extra = self.objects.others()
        if extra:
            self.found.notes.append(f"not read (no object this connector maps): {', '.join(extra)}")
        return self.objects.present()

    def _read(self, obj: str) -> pl.DataFrame | None:
        """The object's rows, if any; in lenient mode an object that cannot be read is one refusal."""
        self.present[obj] = False
        if not self.paths.get(obj):
            return None
        kind = OBJECTS[obj]
        name = f"{obj}.csv"
        # Only the columns read are kept (the others are listed in the report), to save memory.
        used = _read_columns(obj, self.o.fields)
        try:
            frame, names = self.objects.read(obj, used.__contains__)
            frame = self._undeleted(frame, name)
        except DataError as error:
            if self.strict:
                raise
            message = str(error).removeprefix(f"{self.objects.where(obj)}:").lstrip()
            line, _, rest = message.partition(": ")
            located = line.isdigit()
            self.found.refusals.append(
                Refusal(kind, name, int(line) if located else None, None, None, rest if located else message)
            )
            return None
        self.unused[name] = tuple(c for c in names if c not in used)
        self.present[obj] = True
        return frame

    def read_rest(self) -> None:
        """Read the files no record needed, only for what they report (a file that cannot be read)."""
        for obj in OBJECTS:
            if obj not in self.taken and obj not in self.files:
                self.taken.add(obj)
                self._read(obj)

    def _undeleted(self, frame: pl.DataFrame, name: str) -> pl.DataFrame:
        """The rows not in the recycle bin (``IsDeleted`` true), which are counted in the notes."""
        if "IsDeleted" not in frame.columns:
            return frame
        raw = pl.col("IsDeleted")
        deleted = raw.str.strip_chars().str.to_lowercase().is_in(["true", "1"])
        # The usual export says "false" on every row: one comparison, not a clean-up of every cell.
        count = 0 if frame.select((raw == "false").all()).item() else int(frame.select(deleted.sum()).item())
        if count:
            self.found.notes.append(
                f"{name}: {count} row(s) with IsDeleted = true (in the recycle bin) are not read"
            )
            frame = frame.filter(~deleted.fill_null(False))
        if "IsDeleted" not in self.o.fields.get(name.removesuffix(".csv"), {}):
            frame = frame.drop("IsDeleted")  # read for this only: its memory goes now
        return frame

    def frame(self, obj: str, needed: tuple[str, ...] = ()) -> pl.DataFrame | None:
        """The object's rows (``None`` without a file); a column every row needs must be there."""
        if obj in ("Lead", "User"):
            frame = self.files.get(obj)
        elif obj in self.taken:  # each file is turned into records once: its memory went then
            frame = None
        else:
            self.taken.add(obj)
            frame = self._read(obj)
        if frame is None:
            return None
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(
                f"{obj}.csv: no {', '.join(missing)} column, which every row needs", kind=OBJECTS[obj]
            )
        for field in self.o.fields.get(obj, {}):
            if field not in frame.columns:
                raise DataError(
                    f"{obj}.csv: no {field} column (named in the fields option)", kind=OBJECTS[obj]
                )
        return frame

    def ids(self, frame: pl.DataFrame, obj: str) -> pl.DataFrame:
        """``Id`` as the 18-character id in ``id``; a row whose ``Id`` is no Salesforce id is refused."""
        frame = frame.with_columns(case_safe(pl.col("Id"), distinct=True).alias("id"))
        why = pl.when(pl.col("id").is_null()).then(
            pl.format("'{}' is not a Salesforce id (15 or 18 letters and digits)", pl.col("Id").fill_null(""))
        )
        self.found.refuse(
            frame.filter(pl.col("id").is_null()),
            kind=OBJECTS[obj],
            source=f"{obj}.csv",
            record="Id",
            column="Id",
            why=why,
        )
        frame = frame.filter(pl.col("id").is_not_null())
        if obj in _REFERRED:
            self.known[obj] = _known_ids(frame)
        # An id written as its 18-character form is as it should be; the others are looked at.
        other = frame.filter(pl.col("id") != pl.col("Id"))
        cased = int((other["id"].str.slice(0, 15) != other["Id"].str.strip_chars().str.slice(0, 15)).sum())
        if cased:
            self.found.notes.append(
                f"{obj}.csv: the case of {cased} Id(s) is restored from their 18-character suffix"
            )
        return self._spent(frame, obj, "Id")

    def _spent(self, frame: pl.DataFrame, obj: str, *columns: str) -> pl.DataFrame:
        """``frame`` without ``columns``, now turned into others (unless the fields option names one).

        A large table's memory goes as soon as it can.
        """
        named = self.o.fields.get(obj, {})
        return frame.drop([c for c in columns if c not in named], strict=False)

    def person(self, frame: pl.DataFrame, column: str, alias: str, source: str, kind: str) -> pl.DataFrame:
        """A User Id column as person ids (see :func:`user_map`); a user not in User.csv keeps its id."""
        frame = (
            frame.with_columns(reference(column, self.known.get("User")).alias("_user"))
            if column in frame.columns
            else frame.with_columns(pl.lit(None, pl.String).alias("_user"))
        )
        # A company has few users: each is counted once, not looked up on every row.
        counts = dict(frame.get_column("_user").drop_nulls().value_counts(sort=False).iter_rows())
        self.found.tally(f"{source}.{column}", counts, self.people)
        unknown = sum(rows for user, rows in counts.items() if user not in self.people)
        if unknown:
            why = "the user is not in User.csv; the User Id stands for the person"
            self.found.defaults.append(Default(kind, alias, "(the User Id)", unknown, why))
        mapped = pl.col("_user").replace_strict(self.people, default=pl.col("_user"), return_dtype=pl.String)
        return self._spent(frame.with_columns(mapped.alias(alias)).drop("_user"), source, column)

    def custom(self, frame: pl.DataFrame, obj: str) -> list[pl.Expr]:
        # An object refused as a whole (lenient mode) is an empty frame without the custom columns.
        return [_col(frame, field).alias(column) for field, column in self.o.fields.get(obj, {}).items()]

    # -- the tables ----------------------------------------------------------------------------------

    def tables(self) -> tuple[dict[str, Table], dict[str, list[_Part]]]:
        """Every record kind's raw table, built when the intake comes to it, and the sources of each.

        The leads (and the look-ups every other object is tied to) are read first; each other kind is a
        function the intake calls in its turn, so only one kind's text is held at a time. ``parts`` is
        complete once the intake has called them all.
        """
        leads, lead_parts, lookups = self._leads()
        # The stage history needs these columns of the leads once, then they can go.
        held = [
            leads.select("id", "_created", *(["Status"] if "Status" in leads.columns else []), _read.LINE)
        ]
        del leads
        parts: dict[str, list[_Part]] = {}
        touches: list[list[tuple[pl.DataFrame, str, dict[str, str]]]] = []
        had_deals: list[bool] = []

        def the_touches() -> list[tuple[pl.DataFrame, str, dict[str, str]]]:
            if not touches:  # built once: the leads take their campaign from the first touch
                touches.append(self._touchpoints(lookups))
            return touches[0]

        def lead_table() -> RawFrame | None:
            first = the_touches()
            campaigned = (
                [(self._campaign(f, first[0][0]), s, h) for f, s, h in lead_parts] if first else lead_parts
            )
            lead_parts.clear()  # the intake takes the table over: the parts' text can go
            return _combined("leads", campaigned, parts)

        def stage_table() -> RawFrame | None:
            table = _combined("stage_events", self._stage_events(held.pop(), lookups), parts)
            return table

        def touch_table() -> RawFrame | None:
            table = _combined("touchpoints", the_touches(), parts)
            touches[0] = []  # the intake takes the table over: the parts' text can go
            return table

        def account_table() -> RawFrame | None:
            accounts = self._accounts()
            return (
                None
                if accounts is None
                else _combined("accounts", [(accounts, "Account.csv", _headers("Account"))], parts)
            )

        def deal_table() -> RawFrame | None:
            deals = self._deals(lookups)
            had_deals.append(deals is not None)
            return (
                None
                if deals is None
                else _combined("deals", [(deals, "Opportunity.csv", _headers("Opportunity"))], parts)
            )

        def split_table() -> RawFrame | None:
            splits = self._splits() if had_deals and had_deals[0] else None
            return (
                None
                if splits is None
                else _combined("deal_splits", [(splits, "OpportunitySplit.csv", _SPLIT_HEADERS)], parts)
            )

        raw: dict[str, Table] = {
            "accounts": account_table,
            "leads": lead_table,
            "touchpoints": touch_table,
            "stage_events": stage_table,
            "activities": lambda: _combined("activities", self._activities(lookups), parts),
            "deals": deal_table,
            "deal_splits": split_table,
        }
        return raw, parts

    def _leads(
        self,
    ) -> tuple[pl.DataFrame, list[tuple[pl.DataFrame, str, dict[str, str]]], dict[str, pl.DataFrame]]:
        """Leads from ``Lead.csv``, and from ``Contact.csv`` the contacts no lead was converted to."""
        lead = self.frame("Lead", ("Id", "CreatedDate"))
        self.files["Lead"] = None  # read once: its text goes with the records made of it
        self.lead_rows = 0 if lead is None else lead.height
        if (
            lead is None
        ):  # unreadable in lenient mode: an empty table, so that every row pointing at a lead is refused
            lead = pl.DataFrame(schema={"Id": pl.String, "CreatedDate": pl.String, _read.LINE: pl.Int64})
        lead = self.ids(lead, "Lead")
        lead = lead.with_columns(
            reference("ConvertedContactId").alias("_contact")
            if "ConvertedContactId" in lead.columns
            else pl.lit(None, pl.String).alias("_contact"),
            reference("ConvertedOpportunityId").alias("_opp")
            if "ConvertedOpportunityId" in lead.columns
            else pl.lit(None, pl.String).alias("_opp"),
            parse_time("CreatedDate", self.o.time_zone).alias("_created"),
        )
        lead = self.person(lead, "OwnerId", "owner", "Lead", "leads")
        out = [(self._lead_columns(lead, "Lead"), "Lead.csv", _headers("Lead"))]
        converted = (
            lead.filter(pl.col("_contact").is_not_null())
            .sort("_created", "id", nulls_last=True)
            .group_by("_contact", maintain_order=True)
            .agg(pl.col("id").first().alias("lead"), pl.len().alias("_n"))
        )
        shared = converted.filter(pl.col("_n") > 1).height
        if shared:
            self.found.notes.append(
                f"Lead.csv: {shared} contact(s) had several leads converted into them; what is on such a "
                "contact is on the earliest lead"
            )
        contact_of = converted.select(pl.col("_contact").alias("contact"), "lead")
        contact = self.frame("Contact", ("Id", "CreatedDate"))
        if contact is not None:
            contact = self.ids(contact, "Contact")
            own = contact.filter(~pl.col("id").is_in(contact_of["contact"].implode()))
            own = self.person(own, "OwnerId", "owner", "Contact", "leads")
            if contact.height > own.height:
                self.found.notes.append(
                    f"Contact.csv: {contact.height - own.height} contact(s) converted from a lead "
                    "count as that lead"
                )
            if own.height:
                out.append((self._lead_columns(own, "Contact"), "Contact.csv", _headers("Contact")))
                contact_of = pl.concat(
                    [contact_of, own.select(pl.col("id").alias("contact"), pl.col("id").alias("lead"))]
                ).unique("contact", keep="first", maintain_order=True)  # an Id written twice is refused later
                self.found.notes.append(
                    f"Contact.csv: {own.height} contact(s) no lead was converted to are read as leads "
                    "(no stage history)"
                )
        opp_of = (
            lead.filter(pl.col("_opp").is_not_null())
            .sort("_created", "id", nulls_last=True)
            .group_by("_opp", maintain_order=True)
            .agg(pl.col("id").first().alias("lead"), pl.len().alias("_n"))
        )
        shared = opp_of.filter(pl.col("_n") > 1).height
        if shared:
            self.found.notes.append(
                f"Lead.csv: {shared} opportunit(y/ies) had several leads converted into them; "
                "each deal's lead is the earliest"
            )
        lookups = {"contact": contact_of, "opp": opp_of.select(pl.col("_opp").alias("opp"), "lead")}
        return lead, out, lookups

    def _campaign(self, leads: pl.DataFrame, touches: pl.DataFrame) -> pl.DataFrame:
        """A lead's campaign: the campaign of its member created with it (same CreatedDate), if any."""
        tz = self.o.time_zone
        first = (
            touches.select("lead_id", parse_time("time", tz).alias("_t"), "campaign", _read.LINE)
            .filter(pl.col("campaign").is_not_null() & pl.col("_t").is_not_null())
            .sort(_read.LINE)
            .unique(["lead_id", "_t"], keep="first", maintain_order=True)
            .drop(_read.LINE)
        )
        out = (
            leads.with_columns(parse_time("created_at", tz).alias("_t"))
            .join(first, left_on=["id", "_t"], right_on=["lead_id", "_t"], how="left", maintain_order="left")
            .drop("_t")
        )
        found = int(out.get_column("campaign").is_not_null().sum())
        if found:
            self.found.notes.append(
                f"the campaign of {found} lead(s) is the campaign of the CampaignMember created with it "
                "(a Lead has no campaign field)"
            )
        return out

    def _lead_columns(self, frame: pl.DataFrame, obj: str) -> pl.DataFrame:
        account = "ConvertedAccountId" if obj == "Lead" else "AccountId"
        return frame.select(
            "id",
            reference(account).alias("account_id")
            if account in frame.columns
            else pl.lit(None, pl.String).alias("account_id"),
            pl.col("CreatedDate").alias("created_at"),
            _col(frame, "LeadSource").alias("source"),
            "owner",
            _col(frame, "Title").alias("title"),
            *(
                []
                if obj == "Contact"
                else [
                    _col(frame, "Industry").alias("industry"),
                    _col(frame, "NumberOfEmployees").alias("company_size"),
                    _col(frame, "Country").alias("country"),
                ]
            ),
            *self.custom(frame, obj),
            _read.LINE,
        )

    def _accounts(self) -> pl.DataFrame | None:
        frame = self.frame("Account", ("Id",))
        if frame is None:
            return None
        frame = self.ids(frame, "Account")
        return frame.select(
            "id",
            _col(frame, "Name").alias("name"),
            _col(frame, "Industry").alias("industry"),
            _col(frame, "NumberOfEmployees").alias("company_size"),
            _col(frame, "BillingCountry").alias("country"),
            *self.custom(frame, "Account"),
            _read.LINE,
        )

    def _deals(self, lookups: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
        """Opportunities: open, won or lost by ``IsClosed`` / ``IsWon``; an open one has no close date."""
        frame = self.frame("Opportunity", ("Id", "CreatedDate", "Amount"))
        if frame is None:
            return None
        frame = self.ids(frame, "Opportunity").join(
            lookups["opp"], left_on="id", right_on="opp", how="left", maintain_order="left"
        )
        frame = self.person(frame, "OwnerId", "owner", "Opportunity", "deals")
        if "IsClosed" in frame.columns and "IsWon" in frame.columns:
            closed, won = _bool("IsClosed"), _bool("IsWon")
            stage = (
                pl.when(closed.is_null() | won.is_null())
                .then(None)
                .when(~closed)
                .then(pl.lit("open"))
                .when(won)
                .then(pl.lit("won"))
                .otherwise(pl.lit("lost"))
            )
            self.found.refuse(
                frame,
                kind="deals",
                source="Opportunity.csv",
                record="id",
                column="IsClosed",
                why=pl.when(closed.is_null() | won.is_null()).then(
                    pl.format(
                        "IsClosed '{}' / IsWon '{}' are not true/false",
                        pl.col("IsClosed").fill_null(""),
                        pl.col("IsWon").fill_null(""),
                    )
                ),
            )
            frame = frame.with_columns(stage.alias("stage")).filter(pl.col("stage").is_not_null())
            counts = frame.group_by("IsClosed", "IsWon", "stage").len().sort("stage", "IsClosed", "IsWon")
            for is_closed, is_won, value, rows in counts.iter_rows():
                self.found.mappings.append(
                    AppliedMapping("Opportunity.IsClosed/IsWon", f"{is_closed}/{is_won}", value, rows)
                )
        else:
            name = pl.col("StageName") if "StageName" in frame.columns else pl.lit(None, pl.String)
            stage = (
                pl.when(name == "Closed Won")
                .then(pl.lit("won"))
                .when(name == "Closed Lost")
                .then(pl.lit("lost"))
                .otherwise(pl.lit("open"))
            )
            frame = frame.with_columns(stage.alias("stage"))
            self.found.defaults.append(
                Default(
                    "deals",
                    "stage",
                    "from StageName",
                    frame.height,
                    "Opportunity.csv has no IsClosed / IsWon columns: 'Closed Won' is won, "
                    "'Closed Lost' lost, any other open",
                )
            )
        open_dates = int(
            frame.select(
                ((pl.col("stage") == "open") & (_col(frame, "CloseDate").str.strip_chars() != "")).sum()
            ).item()
        )
        if open_dates:
            why = "the CloseDate of an open opportunity is the date expected, not an outcome"
            self.found.defaults.append(Default("deals", "close_date", "(none)", open_dates, why))
        return frame.select(
            "id",
            reference("AccountId").alias("account_id")
            if "AccountId" in frame.columns
            else pl.lit(None, pl.String).alias("account_id"),
            pl.col("lead").alias("lead_id"),
            pl.col("Amount").alias("amount"),
            *(
                [pl.col("CurrencyIsoCode").alias("amount_currency")]
                if "CurrencyIsoCode" in frame.columns
                else []
            ),
            "stage",
            pl.col("CreatedDate").alias("created_at"),
            pl.when(pl.col("stage") != "open").then(_col(frame, "CloseDate")).alias("close_date"),
            "owner",
            *self.custom(frame, "Opportunity"),
            _read.LINE,
        )

    def _splits(self) -> pl.DataFrame | None:
        """``OpportunitySplit`` rows as deal splits: percent to share, split type to revenue / overlay."""
        frame = self.frame("OpportunitySplit", ("OpportunityId", "SplitOwnerId", "SplitPercentage"))
        if frame is None:
            return None
        kinds: dict[str, str] = {}
        types = self.frame("OpportunitySplitType", ("Id",))
        if types is not None:
            for ident, label, name, total in types.select(
                case_safe(pl.col("Id"), distinct=True),
                _col(types, "MasterLabel"),
                _col(types, "DeveloperName"),
                _col(types, "IsTotalValidated"),
            ).iter_rows():
                if ident is None:
                    continue
                text = f"{label or ''} {name or ''}".lower()
                kind = "overlay" if "overlay" in text else "revenue" if "revenue" in text else None
                kinds[ident] = kind or ("revenue" if (total or "").lower() == "true" else "overlay")
        frame = self.person(frame, "SplitOwnerId", "person", "OpportunitySplit", "deal_splits")
        frame = frame.with_columns(
            reference("SplitTypeId").alias("_type")
            if "SplitTypeId" in frame.columns
            else pl.lit(None, pl.String).alias("_type")
        )
        self.found.count("OpportunitySplit.SplitTypeId", frame["_type"].drop_nulls(), kinds)
        untyped = int(frame.select(~pl.col("_type").is_in(list(kinds))).to_series().sum())
        if untyped:
            why = "no OpportunitySplitType.csv row names the split type; a split counts as revenue"
            self.found.defaults.append(Default("deal_splits", "kind", "revenue", untyped, why))
        percent = pl.col("SplitPercentage").str.strip_chars()
        whole = percent.str.extract(r"^(\d+)(?:\.\d+)?$", 1).str.zfill(3)
        fraction = percent.str.extract(r"^\d+\.(\d+)$", 1).fill_null("")
        share = pl.when(whole.is_not_null()).then(
            pl.concat_str(
                [whole.str.slice(0, whole.str.len_chars() - 2), pl.lit("."), whole.str.slice(-2), fraction]
            )
        )
        frame = frame.with_columns(share.alias("share"))
        self.found.refuse(
            frame,
            kind="deal_splits",
            source="OpportunitySplit.csv",
            record="OpportunityId",
            column="SplitPercentage",
            why=pl.when(pl.col("share").is_null()).then(
                pl.format("'{}' is not a percentage such as 60.00", pl.col("SplitPercentage").fill_null(""))
            ),
        )
        return frame.filter(pl.col("share").is_not_null()).select(
            reference("OpportunityId").alias("deal_id"),
            "person",
            "share",
            pl.col("_type").replace_strict(kinds, default="revenue", return_dtype=pl.String).alias("kind"),
            _read.LINE,
        )

    def _lead_of(
        self, frame: pl.DataFrame, obj: str, lookups: dict[str, pl.DataFrame], *columns: str
    ) -> pl.DataFrame:
        """The lead an activity or member is on: a lead id as is, a contact's lead, else the id as written.

        The first of ``columns`` that names a lead (a lead id, or a contact with a lead) gives it; else
        the first id written.
        """
        contact = lookups["contact"]
        known = self._known("Lead", "Contact")
        exprs: list[pl.Expr] = []
        fallback: list[pl.Expr] = []
        for i, column in enumerate(columns):
            if column not in frame.columns:
                continue
            ref = frame.select(reference(column, known)).to_series().alias(f"_ref{i}")
            lead = ref.str.starts_with("00Q").fill_null(False)
            other = ref.is_not_null() & ~lead
            via = pl.repeat(None, ref.len(), dtype=pl.String, eager=True).alias(f"_via{i}")
            if other.any():  # few rows in the usual export: only they are looked up
                leads = ref.filter(other).replace_strict(
                    contact["contact"], contact["lead"], default=None, return_dtype=pl.String
                )
                via = via.scatter(other.arg_true(), leads)
            frame = frame.with_columns(ref, via)
            exprs += [pl.when(pl.lit(lead)).then(pl.col(f"_ref{i}")), pl.col(f"_via{i}")]
            fallback.append(pl.col(f"_ref{i}"))
        lead_id = pl.coalesce([*exprs, *fallback]) if fallback else pl.lit(None, pl.String)
        done = [c for i in range(len(columns)) for c in (f"_ref{i}", f"_via{i}")]
        return self._spent(frame.with_columns(lead_id.alias("lead_id")), obj, *done, *columns)

    def _known(self, *objects: str) -> Known | None:
        """The ids of ``objects`` together, to look references to any of them up in."""
        parts = [self.known[o] for o in objects if o in self.known]
        return pl.concat(parts) if parts else None

    def _touchpoints(
        self, lookups: dict[str, pl.DataFrame]
    ) -> list[tuple[pl.DataFrame, str, dict[str, str]]]:
        """Campaign members: the campaign's ``Type`` is the channel, the member's creator the owner."""
        frame = self.frame("CampaignMember", ("Id", "CampaignId", "CreatedDate"))
        if frame is None:
            return []
        frame = self.ids(frame, "CampaignMember")
        campaigns = self.frame("Campaign", ("Id",))
        if campaigns is None:
            campaigns = pl.DataFrame(schema={"Id": pl.String, "Name": pl.String, "Type": pl.String})
        campaigns = campaigns.select(
            case_safe(pl.col("Id")).alias("_campaign"),
            _col(campaigns, "Name").alias("campaign"),
            _col(campaigns, "Type").alias("channel"),
        ).filter(pl.col("_campaign").is_not_null())
        twice = campaigns.filter(pl.col("_campaign").is_duplicated())["_campaign"].unique().sort()
        if twice.len():
            self.found.notes.append(
                f"Campaign.csv: the Id(s) {', '.join(twice)} are written more than once; "
                "their first row is read"
            )
        frame = frame.with_columns(reference("CampaignId").alias("_campaign")).join(
            campaigns.unique("_campaign", keep="first", maintain_order=True),
            on="_campaign",
            how="left",
            maintain_order="left",
        )
        frame = self._lead_of(frame, "CampaignMember", lookups, "LeadId", "ContactId")
        frame = self.person(frame, "CreatedById", "owner", "CampaignMember", "touchpoints")
        teams = {p.id: p.team for p in (self.o.plan.people if self.o.plan is not None else ())}
        team = self._default_team()
        missing = int(
            frame.select(~pl.col("owner").is_in(list(teams)) | pl.col("owner").is_null()).to_series().sum()
        )
        if missing:
            why = "the member's creator is no plan person, so no team is known; the marketing team is assumed"
            self.found.defaults.append(Default("touchpoints", "team", team, missing, why))
        frame = frame.with_columns(
            pl.col("owner").replace_strict(teams, default=team, return_dtype=pl.String).alias("team")
        )
        out = frame.select(
            "id",
            "lead_id",
            pl.col("CreatedDate").alias("time"),
            "channel",
            "team",
            "owner",
            "campaign",
            *self.custom(frame, "CampaignMember"),
            _read.LINE,
        )
        return [(out, "CampaignMember.csv", {**_headers("CampaignMember"), "lead_id": "LeadId"})]

    def _default_team(self) -> str:
        if self.o.plan is None:
            return "marketing"
        teams = self.o.plan.teams_with_function("marketing")
        return teams[0].id if teams else "marketing"

    def _activities(self, lookups: dict[str, pl.DataFrame]) -> list[tuple[pl.DataFrame, str, dict[str, str]]]:
        """Tasks (by ``TaskSubtype``, else ``Type``) and events (meetings) on a lead or its contact."""
        out = []
        task = self.frame("Task", ("Id",))
        if task is not None:
            task = self._lead_of(self.ids(task, "Task"), "Task", lookups, "WhoId")
            task = self.person(task, "OwnerId", "person", "Task", "activities")
            kind = pl.coalesce(_col(task, "TaskSubtype").replace({"Task": None}), _col(task, "Type"))
            task = task.with_columns(kind.alias("_kind"))
            self.found.count("Task.TaskSubtype/Type", task["_kind"].drop_nulls(), _TASK_TYPES)
            unknown = int(
                task.select(~pl.col("_kind").is_in(list(_TASK_TYPES)) | pl.col("_kind").is_null())
                .to_series()
                .sum()
            )
            if unknown:
                self.found.defaults.append(
                    Default(
                        "activities",
                        "type",
                        "other",
                        unknown,
                        "Task with no TaskSubtype or Type smarketing knows",
                    )
                )
            done = _col(task, "CompletedDateTime")
            empty = int(
                task.select(
                    (done.is_null() | (done.str.strip_chars() == ""))
                    & _col(task, "CreatedDate").is_not_null()
                )
                .to_series()
                .sum()
            )
            if empty:
                self.found.defaults.append(
                    Default(
                        "activities",
                        "time",
                        "CreatedDate",
                        empty,
                        "Task without CompletedDateTime: when it was created",
                    )
                )
            out.append(
                (
                    task.select(
                        "id",
                        "lead_id",
                        "person",
                        pl.when(done.str.strip_chars() != "")
                        .then(done)
                        .otherwise(_col(task, "CreatedDate"))
                        .alias("time"),
                        pl.col("_kind")
                        .replace_strict(_TASK_TYPES, default="other", return_dtype=pl.String)
                        .alias("type"),
                        _col(task, "CallDisposition").alias("outcome"),
                        *self.custom(task, "Task"),
                        _read.LINE,
                    ),
                    "Task.csv",
                    _headers("Task"),
                )
            )
        event = self.frame("Event", ("Id", "StartDateTime"))
        if event is not None:
            event = self._lead_of(self.ids(event, "Event"), "Event", lookups, "WhoId")
            event = self.person(event, "OwnerId", "person", "Event", "activities")
            out.append(
                (
                    event.select(
                        "id",
                        "lead_id",
                        "person",
                        pl.col("StartDateTime").alias("time"),
                        pl.lit("meeting").alias("type"),
                        *self.custom(event, "Event"),
                        _read.LINE,
                    ),
                    "Event.csv",
                    _headers("Event"),
                )
            )
        return out

    def _history_rows(
        self, obj: str, key: str, needed: tuple[str, ...], lookups: dict[str, pl.DataFrame]
    ) -> pl.DataFrame | None:
        """A history file's rows with ``lead_id``, ``time`` (parsed; bad times refused) and ``actor``."""
        frame = self.frame(obj, (key, "CreatedDate", *needed))
        if frame is None:
            return None
        frame = frame.with_columns(
            reference(key, self.known.get("Lead" if obj == "LeadHistory" else "Opportunity")).alias("_key"),
            parse_time("CreatedDate", self.o.time_zone).alias("time"),
        )
        if obj == "OpportunityHistory":
            frame = (
                frame.join(lookups["opp"], left_on="_key", right_on="opp", how="left", maintain_order="left")
                .sort(_read.LINE)
                .rename({"lead": "lead_id"})
                .drop(key, "_key")
            )
            orphans = frame.filter(pl.col("lead_id").is_null()).height
            if orphans:
                self.found.notes.append(
                    f"OpportunityHistory.csv: {orphans} row(s) of opportunities no lead was converted into "
                    "are no lead's stage events"
                )
            frame = frame.filter(pl.col("lead_id").is_not_null())
        else:
            frame = frame.drop(key).rename({"_key": "lead_id"})
            other = frame.filter(~pl.col("Field").is_in(["Status", "created"]))
            if other.height:
                self.found.notes.append(
                    f"LeadHistory.csv: {other.height} row(s) of other fields "
                    f"({', '.join(sorted(set(other['Field'].drop_nulls())))}) are not stage events"
                )
            frame = frame.filter(pl.col("Field").is_in(["Status", "created"]))
        self.found.refuse(
            frame.filter(pl.col("time").is_null()),  # the reason is asked only where the time is not read
            kind="stage_events",
            source=f"{obj}.csv",
            record="lead_id",
            column="CreatedDate",
            why=time_problem("CreatedDate", "time", self.o.time_zone),
        )
        frame = frame.filter(pl.col("time").is_not_null()).drop("CreatedDate")  # parsed: the text can go
        return self.person(frame, "CreatedById", "actor", obj, "stage_events")

    def _stage_events(
        self, leads: pl.DataFrame, lookups: dict[str, pl.DataFrame]
    ) -> list[tuple[pl.DataFrame, str, dict[str, str]]]:
        """Stage events from both histories (see :func:`history`), one part per source file."""
        lead_rows = self._history_rows("LeadHistory", "LeadId", ("Field",), lookups)
        if lead_rows is not None:
            lead_rows = lead_rows.with_columns(_col(lead_rows, "OldValue"), _col(lead_rows, "NewValue"))
        opp_rows = self._history_rows("OpportunityHistory", "OpportunityId", ("StageName",), lookups)
        if "Status" not in leads.columns:
            leads = leads.with_columns(pl.lit(None, pl.String).alias("Status"))
        events, self.rebuilt = history(leads, lead_rows, opp_rows, self.stages, self.found)
        starts = [
            t for f in (lead_rows, opp_rows) if f is not None and isinstance(t := f["time"].min(), datetime)
        ]
        self.history_start = min(starts) if starts else None
        if self.rebuilt:
            created = leads.get_column("_created").min()
            first = f"{created:%Y-%m-%d %H:%M}" if isinstance(created, datetime) else "?"
            start = self.history_start
            since = f"starts at {start:%Y-%m-%d %H:%M} UTC" if start is not None else "is missing"
            self.found.notes.append(
                f"the stage history of {self.rebuilt} lead(s) does not reach back to their creation (no "
                f"'created' row; LeadHistory {since}, the first lead was created at {first} UTC): "
                "Salesforce keeps field history for 18 months (24 through the API) unless Field Audit "
                "Trail is on; their first stage event is rebuilt from CreatedDate and the oldest Status "
                "value known"
            )
        out = []
        headers = {"time": "CreatedDate", "actor": "CreatedById", "lead_id": "LeadId"}
        for source in ("Lead.csv", "LeadHistory.csv", "OpportunityHistory.csv"):
            part = events.filter(pl.col("_source") == source).drop("_source")
            if part.height:
                own = (
                    {**headers, "lead_id": "OpportunityId"} if source == "OpportunityHistory.csv" else headers
                )
                out.append((part.sort(_read.LINE), source, own))
        return out

    # -- the end ---------------------------------------------------------------------------------------

    def stage_history(self) -> StageHistory:
        """Native, rebuilt in part (``mixed``), reconstructed from the leads alone, or none."""
        native = self.present.get("LeadHistory", False) or self.present.get("OpportunityHistory", False)
        if not native:
            return "reconstructed" if self.lead_rows else "none"
        return "mixed" if self.rebuilt else "native"

    def provenance(self) -> Provenance:
        """The provenance so far (the stage history is settled in :meth:`finish`)."""
        return Provenance(
            self.name, self.objects.source, stage_history=self.stage_history(), notes=self.found.notes
        )

    def finish(
        self, loaded: Loaded, parts: dict[str, list[_Part]], strict: bool, *, given_defaults: int
    ) -> Loaded:
        """The report, complete; raise in strict mode when anything was refused.

        Each refused row is named by its own file, the rows refused before the intake are added, and the
        columns not read are listed. The tables were built while the intake ran, so the maps, defaults,
        notes and stage history found meanwhile are put in here (the connector's defaults first, then the
        intake's own, after the ``given_defaults`` it was given).
        """
        fixed = [_relocate(r, parts.get(r.kind, [])) for r in loaded.report.refusals]
        refusals = [*self.found.refusals, *fixed]
        read = dict(loaded.report.rows_read)
        for r in self.found.refusals:
            read[r.kind] = read.get(r.kind, 0) + 1
        unused = {f"{obj}.csv": self.unused[f"{obj}.csv"] for obj in OBJECTS if f"{obj}.csv" in self.unused}
        report = attrs.evolve(
            loaded.report,
            refusals=refusals,
            rows_read=read,
            unused_columns={k: v for k, v in unused.items() if v},
            mappings=self.found.mappings,
            defaults=[*self.found.defaults, *loaded.report.defaults[given_defaults:]],
            provenance=attrs.evolve(
                loaded.report.provenance, notes=self.found.notes, stage_history=self.stage_history()
            )
            if loaded.report.provenance
            else None,
        )
        if strict:
            report.raise_for_refusals()
        return Loaded(loaded.dataset, report)


def _known_ids(frame: pl.DataFrame) -> Known:
    """An object's ids to look references up in: as 18 and 15 characters, and as written when otherwise."""
    short = pl.col("id").str.slice(0, 15)
    written = frame.filter((pl.col("Id") != pl.col("id")) & (pl.col("Id") != short))
    return pl.concat(
        [
            frame.select(pl.col("id").alias("_written"), pl.col("id").alias("_id")),
            frame.select(short.alias("_written"), pl.col("id").alias("_id")),
            written.select(pl.col("Id").alias("_written"), pl.col("id").alias("_id")),
        ]
    )


#: The objects whose ids other objects refer to (their ids are kept to look references up in).
_REFERRED: Final = frozenset(["Lead", "Contact", "User", "Opportunity", "Account", "Campaign"])


def _bool(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars().str.to_lowercase()
    return pl.when(text.is_in(["true", "1"])).then(True).when(text.is_in(["false", "0"])).then(False)


def _headers(obj: str) -> dict[str, str]:
    return {c: f for c, f in STANDARD[obj].items() if c != "stage"}


def _read_columns(obj: str, fields: Mapping[str, Mapping[str, str]]) -> set[str]:
    """The columns of an object's file that the connector reads."""
    used = (
        {f.split(".")[-1] for f in STANDARD.get(obj, {}).values()} | set(fields.get(obj, {})) | {"IsDeleted"}
    )
    extra = {
        "Lead": {"Status", "ConvertedContactId", "ConvertedOpportunityId"},
        "Opportunity": {"IsWon", "StageName"},
        "User": {"Id", "Name", "UserType"},
        "LeadHistory": {"LeadId", "Field", "OldValue", "NewValue", "CreatedDate", "CreatedById"},
        "OpportunityHistory": {"OpportunityId", "StageName", "CreatedDate", "CreatedById"},
        "OpportunitySplit": {"OpportunityId", "SplitOwnerId", "SplitPercentage", "SplitTypeId"},
        "OpportunitySplitType": {"Id", "MasterLabel", "DeveloperName", "IsTotalValidated"},
        "Campaign": {"Id", "Name", "Type"},
        "CampaignMember": {"CampaignId", "ContactId"},
        "Task": {"Type", "CreatedDate"},
    }
    return used | extra.get(obj, set())


def _relocate(refusal: Refusal, parts: list[_Part]) -> Refusal:
    """A refusal of a combined table, named by the file its row came from and that file's header."""
    if not parts or refusal.row is None:
        return refusal
    row = refusal.row - 1
    part = next((p for p in parts if p.start <= row < p.start + p.height), parts[-1])
    column = refusal.column if refusal.column is None else part.headers.get(refusal.column, refusal.column)
    return attrs.evolve(refusal, source=part.source, column=column, row=row - part.start + 1)
