"""Reading the tables an ELT tool loaded: DuckDB or Parquet, re-syncs and deletions, values as text.

The ``warehouse`` connector maps tables to the CRM's own object and field names and then runs the export
connectors' mapping, which reads text. This module gets it there:

* :class:`Tables` lists and reads the tables of a DuckDB file (read-only, one schema) or of a Parquet
  folder (``<table>/*.parquet`` as dlt, Airbyte and Fivetran's lake destinations write them, or
  ``<table>.parquet``);
* :func:`latest` keeps one row per id (the latest version) and :func:`live` drops deleted rows, each
  counted in a note;
* :func:`as_text` writes each cell as the CRM's export would (times in UTC ISO 8601, booleans
  ``true``/``false``, decimals exactly), and refuses a float amount that is not a whole number of the
  currency's minor unit (:func:`money_text`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs
import polars as pl
from iso4217 import Currency

from smarketing.errors import DataError

__all__ = ["DELETED", "Tables", "as_text", "key", "latest", "listed", "live", "money_text", "renamed"]

_EXPONENTS: Final = {c.code: c.exponent for c in Currency}


def key(name: str) -> str:
    """How a column or table name is matched: letters and digits, lower case.

    ``CreatedDate`` (Airbyte), ``created_date`` (dlt, Fivetran) and ``createdDate`` are one name.

    Examples:
        >>> key("CreatedDate"), key("created_date"), key("Region__c"), key("region_c")
        ('createddate', 'createddate', 'regionc', 'regionc')
    """
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@attrs.define
class Tables:
    """The tables of a DuckDB database file (read-only) or of a Parquet folder, by name.

    Attributes:
        path: The DuckDB file or the Parquet folder.
        schema: The DuckDB schema the tables are in (``None``: the only schema with tables, else ``main``).
    """

    path: Path
    schema: str | None = None
    _names: dict[str, str] | None = None  # key(name) -> the name as stored
    _con: Any = None  # the DuckDB connection, opened once (see close)

    @property
    def duckdb(self) -> bool:
        """Whether the source is a DuckDB file (else a Parquet folder)."""
        return self.path.is_file()

    def _connect(self) -> Any:
        """The read-only connection to the DuckDB file, opened on first use and kept until :meth:`close`."""
        if self._con is None:
            self._con = self._open()
        return self._con

    def close(self) -> None:
        """Close the DuckDB connection, if one was opened."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def _open(self) -> Any:
        try:
            import duckdb  # noqa: PLC0415  # the [duckdb] extra, imported only to read a DuckDB file
        except ImportError:
            raise DataError(
                f"{self.path}: reading a DuckDB file needs the duckdb package: "
                "pip install 'smarketing[duckdb]'"
            ) from None
        try:
            return duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as error:
            raise DataError(f"{self.path}: not a DuckDB database this connector can open ({error})") from None

    def names(self) -> dict[str, str]:
        """Every table: ``key(name)`` -> the name as stored (two names with one key are an error)."""
        if self._names is not None:
            return self._names
        if not self.path.exists():
            raise FileNotFoundError(f"path: {self.path} does not exist (a DuckDB file or a Parquet folder)")
        found: list[str] = []
        if self.duckdb:
            rows = (
                self._connect()
                .execute("select table_schema, table_name from information_schema.tables order by 1, 2")
                .fetchall()
            )
            schemas = sorted({s for s, _ in rows})
            if self.schema is None:
                self.schema = schemas[0] if len(schemas) == 1 else "main"
            if rows and self.schema not in schemas:
                raise DataError(
                    f"{self.path}: no schema {self.schema!r} (schemas with tables: {', '.join(schemas)})"
                )
            found = [t for s, t in rows if s == self.schema]
        else:
            for item in sorted(self.path.iterdir()):
                if item.is_dir() and any(item.glob("*.parquet")):
                    found.append(item.name)
                elif item.is_file() and item.suffix == ".parquet":
                    found.append(item.stem)
        names: dict[str, str] = {}
        for name in found:
            if key(name) in names and names[key(name)] != name:
                raise DataError(f"{self.path}: the tables {names[key(name)]!r} and {name!r} are one name")
            names[key(name)] = name
        self._names = names
        return names

    def find(self, *candidates: str) -> str | None:
        """The stored name of the first of ``candidates`` (matched by :func:`key`) the source has."""
        names = self.names()
        return next((names[key(c)] for c in candidates if key(c) in names), None)

    def columns(self, table: str) -> list[str]:
        """The columns of ``table``, without reading its rows."""
        if self.duckdb:
            rows = (
                self._connect()
                .execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [self.schema, table],
                )
                .fetchall()
            )
            return [r[0] for r in rows]
        return list(pl.scan_parquet(self._parquet(table)).collect_schema())

    def _parquet(self, table: str) -> Path | str:
        folder = self.path / table
        return str(folder / "*.parquet") if folder.is_dir() else self.path / f"{table}.parquet"

    def read(self, table: str, columns: Iterable[str] | None = None) -> pl.DataFrame:
        """The rows of ``table`` (only ``columns`` when given), in stored order, with a ``_row`` number."""
        wanted = None if columns is None else list(dict.fromkeys(columns))
        if self.duckdb:
            select = "*" if wanted is None else ", ".join(map(_quote, wanted)) or "1 as _none"
            sql = f"select {select} from {_quote(self.schema or 'main')}.{_quote(table)}"  # noqa: S608
            frame = self._connect().sql(sql).pl()
            if wanted == []:
                frame = frame.select()
        else:
            scan = pl.scan_parquet(self._parquet(table))
            frame = (scan if wanted is None else scan.select(wanted)).collect()
        out: pl.DataFrame = frame.with_row_index("_row", offset=1)
        return out

    def __str__(self) -> str:
        return str(self.path)


# --------------------------------------------------------------------------------------------------
# Re-syncs and deletions.


def _rank_columns(frame: pl.DataFrame, candidates: Sequence[str]) -> list[str]:
    have = {key(c): c for c in frame.columns}
    return [have[key(c)] for c in candidates if key(c) in have]


def latest(
    frame: pl.DataFrame, table: str, ident: str, *, modified: Sequence[str], synced: Sequence[str]
) -> tuple[pl.DataFrame, str | None]:
    """One row per ``ident``: the latest version, and a note of how many older versions were dropped.

    The rule: the row with the latest modification time (the first of ``modified`` the table has), then
    the latest sync (the first of ``synced``), then the last in stored order. Rows without an id are kept
    (the mapping refuses them by name).
    """
    if ident not in frame.columns or frame.height == 0:
        return frame, None
    counts = frame.get_column(ident).drop_nulls().is_duplicated()
    if not counts.any():
        return frame, None
    order = [*_rank_columns(frame, modified)[:1], *_rank_columns(frame, synced)[:1], "_row"]
    kept = frame.sort(order, nulls_last=False).unique(ident, keep="last", maintain_order=True).sort("_row")
    dropped = frame.height - kept.height
    by = ", then ".join([*order[:-1], "the stored order"])
    return kept, f"{table}: {dropped} older version(s) of re-synced records dropped (latest by {by})"


#: Columns that mark a deleted row, as each tool writes them: true (or a time) means deleted.
DELETED: Final = ("_fivetran_deleted", "is_deleted", "isdeleted", "archived", "_ab_cdc_deleted_at")


def live(frame: pl.DataFrame, table: str, *, keep: Sequence[str] = ()) -> tuple[pl.DataFrame, list[str]]:
    """``frame`` without its deleted rows, and one note per deletion column that dropped some.

    Columns named in ``keep`` are left for the caller (the Salesforce mapping counts ``IsDeleted``
    itself); a Fivetran history-mode table keeps only its active rows (``_fivetran_active``).
    """
    notes: list[str] = []
    kept = {key(k) for k in keep}
    for column in list(frame.columns):
        name = key(column)
        if name == key("_fivetran_active") and frame.schema[column] == pl.Boolean:
            old = frame.filter(~pl.col(column).fill_null(True))
            if old.height:
                notes.append(
                    f"{table}: {old.height} inactive history-mode row(s) (_fivetran_active = false) dropped"
                )
                frame = frame.filter(pl.col(column).fill_null(True))
            continue
        if name not in {key(d) for d in DELETED} or name in kept:
            continue
        dtype = frame.schema[column]
        if dtype == pl.Boolean:
            gone = pl.col(column).fill_null(False)
        elif dtype == pl.String:
            gone = pl.col(column).str.strip_chars().str.to_lowercase().is_in(["true", "1"]).fill_null(False)
            if name == key("_ab_cdc_deleted_at"):
                gone = pl.col(column).is_not_null() & (pl.col(column).str.strip_chars() != "")
        elif dtype.is_temporal() or dtype.is_numeric():
            gone = (
                (pl.col(column).is_not_null() & (pl.col(column) != 0))
                if dtype.is_numeric()
                else pl.col(column).is_not_null()
            )
        else:
            raise DataError(f"{table}: {column}: a deletion flag must be a boolean, not {dtype}")
        count = int(frame.select(gone.sum()).item())
        if count:
            notes.append(f"{table}: {count} deleted row(s) ({column}) not read")
            frame = frame.filter(~gone)
        frame = frame.drop(column)
    return frame, notes


# --------------------------------------------------------------------------------------------------
# Values as text.


def _time_text(expr: pl.Expr, dtype: pl.DataType, style: str) -> pl.Expr:
    """A time column as UTC text: ``"iso"`` (``2026-10-01T09:00:00.000Z``) or ``"naive"`` (no offset)."""
    if isinstance(dtype, pl.Datetime):
        utc = expr.dt.convert_time_zone("UTC") if dtype.time_zone else expr.dt.replace_time_zone("UTC")
        fraction = "%.6f" if dtype.time_unit != "ms" else "%.3f"
        if style == "iso":
            return utc.dt.strftime(f"%Y-%m-%dT%H:%M:%S{fraction}Z")
        return utc.dt.strftime(f"%Y-%m-%d %H:%M:%S{fraction}")
    return expr.dt.strftime("%Y-%m-%d")  # a date


def as_text(
    frame: pl.DataFrame,
    table: str,
    *,
    times: str = "iso",
    epoch_ms: Iterable[str] = (),
    names: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Every column as text, as the CRM's own export writes it; nested values are refused.

    Times become UTC text (``times`` says the spelling), dates ``YYYY-MM-DD``, booleans ``true`` /
    ``false``, integers and decimals their digits (exact); ``epoch_ms`` columns hold milliseconds since
    1970 (Airbyte's HubSpot history) and become times. Floats are written by their shortest repr; an
    amount column must not be a float unless :func:`money_text` accepts it (the caller checks). ``names``
    gives the column's name in the table, for messages, when the frame's columns were renamed.

    Raises:
        DataError: A list, struct or binary column the mapping would have to guess at (names the table
            and column).
    """
    out: list[pl.Expr] = []
    millis = set(epoch_ms)
    for column, dtype in frame.schema.items():
        col = pl.col(column)
        if column == "_row":
            out.append(col)
        elif column in millis and dtype.is_integer():
            utc = pl.from_epoch(col, time_unit="ms").dt.replace_time_zone("UTC")
            out.append(_time_text(utc, pl.Datetime("ms", "UTC"), times).alias(column))
        elif dtype == pl.String:
            out.append(col)
        elif dtype == pl.Boolean:
            out.append(pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(column))
        elif isinstance(dtype, pl.Datetime | pl.Date):
            out.append(_time_text(col, dtype, times).alias(column))
        elif dtype.is_numeric() or dtype == pl.Null:
            out.append(col.cast(pl.String))
        elif isinstance(dtype, pl.List | pl.Array):
            out.append(col)  # association lists: the caller reads them
        else:
            shown = (names or {}).get(column, column)
            raise DataError(f"{table}: {shown}: a {dtype} column cannot be read as one value")
    return frame.select(out)


def _exponent(currency: str | None) -> int | None:
    return _EXPONENTS.get(currency.strip().upper()) if currency else None


def money_text(
    frame: pl.DataFrame,
    table: str,
    column: str,
    *,
    ident: str,
    currency: str | None = None,
    currency_column: str | None = None,
    shown: str | None = None,
) -> pl.DataFrame:
    """The amount ``column`` as exact decimal text; a float is read only when it is exact in minor units.

    DECIMAL, integer and text amounts are exact as stored. A float amount (DOUBLE, common in ELT tables)
    is read as the shortest decimal that gives the same float (Python's ``repr``), and only when that
    decimal has no more places than the currency's minor unit (2 for EUR, 0 for JPY, 3 for BHD): then it
    is the amount the CRM holds. Any other float (``1234.5678`` EUR, ``0.1 + 0.2``, ``nan``) is not
    guessed at.

    Raises:
        DataError: A float amount that is not a whole number of the currency's minor units, or whose
            currency is unknown; names the table, the column and the record id.
    """
    dtype = frame.schema.get(column)
    if dtype is None or not dtype.is_float():
        return frame
    currencies = (
        frame.get_column(currency_column).cast(pl.String)
        if currency_column is not None and currency_column in frame.columns
        else pl.Series([currency] * frame.height, dtype=pl.String)
    )
    ids = frame.get_column(ident).cast(pl.String) if ident in frame.columns else frame.get_column("_row")
    texts: list[str | None] = []
    for value, written, record in zip(frame.get_column(column).to_list(), currencies, ids, strict=True):
        if value is None:
            texts.append(None)
            continue
        code = written or currency
        places = _exponent(code)
        where = f"{table}: {shown or column}: record {record}"
        if not math.isfinite(value):
            raise DataError(f"{where}: the amount is {value!r}, not a number")
        if places is None:
            raise DataError(
                f"{where}: the amount {value!r} is a float and its currency ({code!r}) is not known, so it "
                "cannot be checked to be exact; store amounts as DECIMAL or give currency="
            )
        exact = Decimal(repr(value))
        minor = exact.quantize(Decimal(1).scaleb(-places))
        if exact != minor:
            raise DataError(
                f"{where}: the float amount {value!r} is not a whole number of {code} minor units "
                f"({places} decimal places); it is not guessed at: store amounts as DECIMAL or text"
            )
        texts.append(format(minor, "f"))  # written to the minor unit: 1234.50 EUR, 1200 JPY
    return frame.with_columns(pl.Series(column, texts, dtype=pl.String))


def listed(value: Any) -> list[str]:
    """An association cell as ids: a list, a JSON array text, or ``"1;2"`` text."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    text = str(value).strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return []
        return [str(v) for v in items if v is not None] if isinstance(items, list) else []
    return [t.strip() for t in re.split(r"[;,]", text) if t.strip()]


def renamed(frame: pl.DataFrame, names: Mapping[str, str]) -> pl.DataFrame:
    """``frame`` with the columns whose :func:`key` is in ``names`` renamed to the name given there."""
    out = {c: names[key(c)] for c in frame.columns if key(c) in names and names[key(c)] != c}
    taken = set(frame.columns) - set(out)
    clash = [v for v in out.values() if v in taken]
    if clash:
        raise DataError(f"the columns {sorted(clash)} are written twice (under two spellings)")
    return frame.rename(out)
