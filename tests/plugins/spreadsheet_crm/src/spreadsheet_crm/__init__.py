"""An example smarketing connector: a "spreadsheet CRM", one CSV file per sheet of a workbook.

The walk-through in smarketing's docs (``docs/how-to/write-a-connector.md``) follows this file. The
package registers the connector through a real entry point (see its ``pyproject.toml``)::

    [project.entry-points."smarketing.connectors"]
    spreadsheet-crm = "spreadsheet_crm:SpreadsheetCRM"

so ``smarketing.connectors.load_connector("spreadsheet-crm", path=...)`` and
``smarketing import spreadsheet-crm:PATH -o DIR`` find it once it is installed.

The workbook (a folder) has four sheets, each a CSV file with a header row:

* ``Contacts.csv``: ``Contact ID``, ``Created``, ``Owner`` (a name), ``Lead source``, ``Stage`` (the current
  stage label), ``modified_at``;
* ``Stage history.csv``: ``Contact ID``, ``From``, ``To`` (stage labels), ``Changed at``, ``Changed by``,
  ``modified_at``;
* ``Deals.csv``: ``Deal ID``, ``Contact ID``, ``Amount`` (``"24,000.00"``), ``Currency``, ``Status``
  (``Open``, ``Won``, ``Lost``), ``Created``, ``Closed`` (a date), ``Owner``, ``modified_at``;
* ``Splits.csv``: ``Deal ID``, ``Person`` (a name), ``Share`` (0 to 1), ``modified_at``.

Times have no UTC offset: they are in the workbook's ``time_zone``. Every row has a ``modified_at``, so the
connector can load only what changed (:meth:`SpreadsheetCRM.load_changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import polars as pl

from smarketing.connectors import AppliedMapping, Loaded, Provenance, RawFrame, intake
from smarketing.errors import DataError

__all__ = ["EXAMPLE", "SHEETS", "SpreadsheetCRM"]

#: The example workbook shipped with the package.
EXAMPLE = Path(__file__).parent / "workbook"

#: Each sheet: its file, the record kind it holds, and its headers -> canonical columns.
SHEETS: dict[str, tuple[str, dict[str, str]]] = {
    "Contacts.csv": (
        "leads",
        {"Contact ID": "id", "Created": "created_at", "Owner": "owner", "Lead source": "source"},
    ),
    "Stage history.csv": (
        "stage_events",
        {"Contact ID": "lead_id", "From": "from", "To": "to", "Changed at": "time", "Changed by": "actor"},
    ),
    "Deals.csv": (
        "deals",
        {
            "Deal ID": "id",
            "Contact ID": "lead_id",
            "Amount": "amount",
            "Currency": "amount_currency",
            "Status": "stage",
            "Created": "created_at",
            "Closed": "close_date",
            "Owner": "owner",
        },
    ),
    "Splits.csv": ("deal_splits", {"Deal ID": "deal_id", "Person": "person", "Share": "share"}),
}

#: Deal statuses of the spreadsheet -> smarketing's deal stages.
STATUSES = {"Open": "open", "Won": "won", "Lost": "lost"}

_LINE = "_line"
_MODIFIED = "modified_at"


class SpreadsheetCRM:
    """Read a spreadsheet CRM workbook: Contacts, Stage history, Deals and Splits, one CSV per sheet.

    Args:
        path: The workbook folder, holding ``Contacts.csv``, ``Stage history.csv``, ``Deals.csv`` and
            ``Splits.csv``.
        time_zone: The IANA time zone the workbook writes its times in (they carry no offset).
        stages: Stage label -> journey stage id (``{"Closed Lost": "closed_lost"}``); a label not listed
            becomes its lower-case form with underscores (``"Closed Lost"`` -> ``closed_lost``).
        owners: Person name -> person id of the plan (``{"Sara Lind": "sara.lind"}``); names not listed
            are kept as they are.
    """

    name = "spreadsheet-crm"

    def __init__(
        self,
        *,
        path: str | Path,
        time_zone: str,
        stages: Mapping[str, str] | None = None,
        owners: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataError(f"{self.path}: no such workbook folder", field="path")
        self.time_zone = time_zone
        self.stages = dict(stages or {})
        self.owners = dict(owners or {})

    # ----------------------------------------------------------------------------------------------
    # Reading the sheets.

    def _sheet(self, file: str) -> pl.DataFrame:
        """One sheet as text, with each row's line (the header is line 1), headers renamed."""
        _, headers = SHEETS[file]
        sheet = self.path / file
        try:
            frame = pl.read_csv(sheet, infer_schema=False)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise DataError(f"{sheet}: cannot read the sheet: {str(error).splitlines()[0]}") from None
        missing = [h for h in (*headers, _MODIFIED) if h not in frame.columns]
        if missing:
            raise DataError(f"{sheet}: the sheet has no column {', '.join(map(repr, missing))}")
        # One row per line: the example's cells hold no line breaks.
        return frame.with_row_index(_LINE, offset=2).rename(headers)

    def _modified(self, file: str, frame: pl.DataFrame) -> pl.Series:
        """The ``modified_at`` of every row as an aware time; a cell that is not a time is an error."""
        parsed = frame[_MODIFIED].str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_zone=self.time_zone)
        bad = frame.filter(parsed.is_null())
        if bad.height:
            line, value = bad[_LINE][0], bad[_MODIFIED][0]
            raise DataError(
                f"{self.path / file}:{line}: modified_at: {value!r} is not a time such as 2026-10-01 09:00"
            )
        return parsed

    def _mapped(self, kind: str, frame: pl.DataFrame, mappings: list[AppliedMapping]) -> pl.DataFrame:
        """Stage labels, deal statuses and owner names replaced by smarketing's values, each map listed."""
        maps: dict[str, dict[str, Callable[[str], str | None]]] = {
            "stage_events": {"from": self._stage, "to": self._stage, "actor": self._owner},
            "leads": {"owner": self._owner},
            "deals": {"stage": STATUSES.get, "owner": self._owner},
            "deal_splits": {"person": self._owner},
        }
        for column, convert in maps[kind].items():
            values = frame[column].drop_nulls().unique().sort().to_list()
            # A status the map does not know is kept as it is, and intake refuses it, naming the row.
            changes = {v: new for v in values if (new := convert(v)) is not None and new != v}
            for source, value in changes.items():
                rows = int((frame[column] == source).sum())
                mappings.append(AppliedMapping(column=column, source_value=source, value=value, rows=rows))
            frame = frame.with_columns(pl.col(column).replace(changes))
        return frame

    def _stage(self, label: str) -> str:
        return self.stages.get(label, label.strip().lower().replace(" ", "_"))

    def _owner(self, name: str) -> str:
        return self.owners.get(name, name)

    # ----------------------------------------------------------------------------------------------
    # Loading.

    def _load(self, sheets: Mapping[str, pl.DataFrame], *, strict: bool, progress: bool | None) -> Loaded:
        """Hand the sheets to smarketing's intake, mapped, with the report's mappings and provenance."""
        mappings: list[AppliedMapping] = []
        raw = {}
        for file, frame in sheets.items():
            kind, headers = SHEETS[file]
            # The Splits sheet holds revenue splits only.
            sheet = frame.with_columns(pl.lit("revenue").alias("kind")) if kind == "deal_splits" else frame
            raw[kind] = RawFrame(
                self._mapped(kind, sheet, mappings),
                source=file,
                lines=_LINE,
                headers={canonical: header for header, canonical in headers.items()},
            )
        provenance = Provenance(
            connector=self.name,
            source=str(self.path),
            stage_history="native",
            notes=("stage history read from the Stage history sheet; Contacts' Stage is the current stage",),
        )
        return intake(
            raw,
            connector=self.name,
            strict=strict,
            time_zone=self.time_zone,
            thousands=",",
            mappings=mappings,
            provenance=provenance,
            progress=progress,
        )

    def load(self, *, strict: bool = True, progress: bool | None = None) -> Loaded:
        """Read the whole workbook."""
        return self._load({file: self._sheet(file) for file in SHEETS}, strict=strict, progress=progress)

    def load_changes(
        self, *, since: datetime, until: datetime, strict: bool = True, progress: bool | None = None
    ) -> Loaded:
        """Read the rows modified in ``[since, until)``, with what they need to stand on their own.

        A changed deal comes with its contact and all its splits; a changed split with its deal; a
        changed stage change with its contact. So each load is whole, and consecutive windows add up to
        a full load (a record in several of them is the same current row each time).
        """
        sheets = {file: self._sheet(file) for file in SHEETS}
        changed = {
            file: frame.filter(self._modified(file, frame).is_between(since, until, closed="left"))
            for file, frame in sheets.items()
        }
        deal_ids = set(changed["Deals.csv"]["id"]) | set(changed["Splits.csv"]["deal_id"])
        deals = sheets["Deals.csv"].filter(pl.col("id").is_in(sorted(deal_ids)))
        contact_ids = (
            set(changed["Contacts.csv"]["id"])
            | set(deals["lead_id"])
            | set(changed["Stage history.csv"]["lead_id"])
        )
        return self._load(
            {
                "Contacts.csv": sheets["Contacts.csv"].filter(pl.col("id").is_in(sorted(contact_ids))),
                "Stage history.csv": changed["Stage history.csv"],
                "Deals.csv": deals,
                "Splits.csv": sheets["Splits.csv"].filter(pl.col("deal_id").is_in(sorted(deal_ids))),
            },
            strict=strict,
            progress=progress,
        )

    def current_stages(self) -> dict[str, str]:
        """Each contact's current stage as the Contacts sheet says it (mapped to journey stage ids)."""
        contacts = self._sheet("Contacts.csv")
        return {
            row["id"]: self._stage(row["Stage"]) for row in contacts.iter_rows(named=True) if row["Stage"]
        }
