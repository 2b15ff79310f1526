"""Run a kernel as map, reduce and finalise: on one machine, or on Spark partitions (private).

A kernel that works per key (each lead's stage events) is split in three:

- **map**: a polars function on a partition of *complete* keys (every row of a lead in one partition)
  returning :class:`Partial` tables of fixed schemas: counts per cell, the values a quantile is taken
  over, the first examples in the partition, rows kept per key;
- **reduce**: an associative merge of the partials of every partition, done by the engine: a group-by with
  sums, minimums and maximums (:meth:`Partials.merged`; a table with only keys is the set union of its
  rows), the first rows in an order (:meth:`Partials.first`, top-k by id), exact lower quantiles by a
  second pass over the kept values (:meth:`Partials.quantiles`), or the rows kept on the engine
  (:meth:`Partials.rows`, for per-key outputs that the user writes out);
- **finalise**: the analysis itself, on the merged tables, on the driver (rates, medians, examples).

:func:`run` gives the same :class:`Partials` either way. Given a PySpark DataFrame it hash-partitions the
rows by the key (``repartition``), runs the map in each partition (``mapInArrow``: every Arrow batch of
the partition is concatenated first, as one key's rows may be spread over several batches) and keeps the
partials on Spark, which merges them; only the merged tables reach the driver. Anything else is one
partition: the map runs on the whole input in this process and the merges run in polars. The merges
are the same rules in both (checked by the partial-merge laws in the tests), so one kernel gives one
answer. Nothing may depend on the order of partitions or of rows across them: a map puts its rows in the
order its kernel documents, and a merge orders by keys and ids.

A :class:`~smarketing.errors.DataError`, :class:`~smarketing.errors.PlanError` or
:class:`~smarketing.errors.PluginError` (a plugin's fault, naming it) raised by a map on a
Spark worker comes back as a row of its own and is raised again on the driver as the same error (the
smallest message, when several partitions fail).

Examples:
    >>> import polars as pl
    >>> tables = {
    ...     "n": Partial({"stage": pl.String(), "leads": pl.Int64()}, keys=("stage",), aggs={"leads": "sum"})
    ... }
    >>> def count(part: pl.DataFrame) -> dict[str, pl.DataFrame]:
    ...     return {"n": part.group_by("stage").agg(pl.col("lead").n_unique().cast(pl.Int64).alias("leads"))}
    >>> parts = [
    ...     pl.DataFrame({"lead": ["a", "a"], "stage": ["mql", "sql"]}),
    ...     pl.DataFrame({"lead": ["b"], "stage": ["mql"]}),
    ... ]
    >>> local(parts, count, tables).merged("n").rows()
    [('mql', 2), ('sql', 1)]
"""

from __future__ import annotations

import json
import math
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs
import polars as pl

from smarketing.errors import DataError, PlanError, PluginError

__all__ = [
    "KIND",
    "PARTITION_KEY",
    "Partial",
    "Partials",
    "co_partition",
    "distinct",
    "is_spark",
    "local",
    "lower_quantile_index",
    "refuse_repeated_ids",
    "keep_with",
    "release_with",
    "require",
    "run",
    "running_totals",
    "spark_run",
    "spark_sql",
    "split",
    "to_polars",
]

Agg = Literal["sum", "min", "max"]
MapFn = Callable[[Any], Mapping[str, pl.DataFrame]]

_TABLE, _ERROR = "_t", "_error"

#: The dtypes a partial table may use, with their Spark types (and ``Decimal(p, s)``: ``decimal(p,s)``).
_TYPES: dict[type[pl.DataType], str] = {
    pl.Int64: "bigint",
    pl.Int32: "int",
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Float64: "double",
    pl.Date: "date",
    pl.Datetime: "timestamp",
}


def _spark_type(dtype: pl.DataType) -> str:
    """The Spark type of a partial column's dtype."""
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    return _TYPES[type(dtype)]


@attrs.frozen
class Partial:
    """One table a map returns: its columns (a fixed schema) and how the partitions' tables merge.

    Attributes:
        schema: Column name -> dtype (``Int64``, ``Int32``, ``String``, ``Boolean``, ``Date``,
            ``Datetime("us", "UTC")``; in a kept table also ``Float64`` and ``Decimal``: floats do not add
            up exactly, so no merge sums them).
        keys: The columns the merge groups by (none: one group); a table with only keys merges to the
            set union of its rows.
        aggs: Column -> ``"sum"``, ``"min"`` or ``"max"``: how the rows of one key merge (associative and
            commutative, so any grouping and order of partitions gives the same table).
        quantiles: Column -> quantiles: per key, the exact lower quantiles of the column's values (nulls
            left out), in merged columns ``<column>_q0``, ``<column>_q1``, ...; the values are kept until
            the merge (quantiles do not add up).
        order: With ``count``: per key, only the first ``count`` rows in this order are kept (top-k by id;
            :meth:`Partials.first`). A map may keep its own first ``count`` rows only.
        count: See ``order``.
        kept: The rows are not merged but kept on their engine (:meth:`Partials.rows`).
    """

    schema: Mapping[str, pl.DataType]
    keys: tuple[str, ...] = ()
    aggs: Mapping[str, Agg] = attrs.field(factory=dict)
    quantiles: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    order: tuple[str, ...] = ()
    count: int = 0
    kept: bool = False

    def empty(self) -> pl.DataFrame:
        """A table of this schema without rows."""
        return pl.DataFrame(schema=dict(self.schema))

    def merged_schema(self) -> dict[str, pl.DataType]:
        """The columns of the merged table: keys, aggregates, then quantiles."""
        out: dict[str, pl.DataType] = {c: self.schema[c] for c in (*self.keys, *self.aggs)}
        for column, qs in self.quantiles.items():
            out.update({f"{column}_q{i}": pl.Int64() for i in range(len(qs))})
        return out


def lower_quantile_index(n: int, q: float) -> int:
    """The index, in sorted order, of the lower ``q`` quantile of ``n`` values: ``floor((n - 1) * q)``.

    The rule of polars' ``quantile(q, "lower")``, which the one-machine merge uses, computed the same way
    (a binary float product, then the floor) by the Spark merge.

    Examples:
        >>> [lower_quantile_index(n, 0.9) for n in (1, 2, 3, 10, 11)]
        [0, 0, 1, 8, 9]
    """
    return math.floor((n - 1) * q)


class Partials(Protocol):
    """The partial tables of every partition, merged (on Spark or in polars) by their :class:`Partial`."""

    def merged(self, name: str) -> pl.DataFrame:
        """Table ``name`` merged over the partitions, sorted by its keys (nulls last)."""
        ...

    def first(self, name: str) -> pl.DataFrame:
        """The first ``count`` rows of each key of table ``name`` in its ``order`` (top-k), sorted."""
        ...

    def rows(self, name: str) -> Any:
        """Table ``name`` as rows kept on its engine (a polars or a PySpark DataFrame), unmerged."""
        ...

    def release(self) -> None:
        """Free what the run persisted (Spark's cached map output); the kept rows stay readable (re-run)."""
        ...


def is_spark(data: Any) -> bool:
    """Whether ``data`` is a PySpark DataFrame (classic or Spark Connect)."""
    return type(data).__module__.startswith("pyspark.sql") and hasattr(data, "mapInArrow")


def run(
    data: Any,
    fn: MapFn,
    tables: Mapping[str, Partial],
    *,
    kind: str,
    key: str,
    columns: Sequence[str],
    required: Sequence[str] = (),
    persist: bool = False,
) -> Partials:
    """Run the map ``fn`` on ``data`` and give its partial ``tables``, merged where ``data`` lives.

    A PySpark DataFrame runs on Spark (:func:`spark_run`, only ``columns``, partitioned by ``key``); any
    other input is one partition, mapped here (``fn`` gets ``data`` as it is, and checks it). ``persist``:
    see :func:`spark_run`.

    Raises:
        DataError: A PySpark DataFrame lacks one of the ``required`` columns (named as the boundary check
            of ``kind`` names it), or a map raised it.
    """
    if is_spark(data):
        require(data, kind, required)
        return spark_run(data, fn, tables, key=key, columns=columns, persist=persist)
    return local([data], fn, tables)


def require(data: Any, kind: str, required: Sequence[str]) -> None:
    """Raise the boundary's :class:`~smarketing.errors.DataError` if a Spark frame lacks a required column."""
    missing = [c for c in required if c not in data.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", kind=kind)


def local(parts: Sequence[Any], fn: MapFn, tables: Mapping[str, Partial]) -> Partials:
    """Map each of ``parts`` (each a set of complete keys) in this process; the merges run in polars."""
    mapped: dict[str, list[pl.DataFrame]] = {name: [] for name in tables}
    for part in parts:
        out = fn(part)
        for name, table in tables.items():
            mapped[name].append(_conform(out[name], table, name))
    frames = {name: pl.concat(got) if got else tables[name].empty() for name, got in mapped.items()}
    return _Local(frames, tables)


def _conform(frame: pl.DataFrame, table: Partial, name: str) -> pl.DataFrame:
    """``frame`` in exactly the schema of ``table`` (a map that returns other columns is a bug)."""
    if set(frame.columns) != set(table.schema):
        raise AssertionError(f"partial table {name}: columns {frame.columns}, expected {list(table.schema)}")
    return frame.select(pl.col(c).cast(dtype) for c, dtype in table.schema.items())


@attrs.frozen
class _Local:
    """Partials mapped in this process, merged in polars."""

    frames: Mapping[str, pl.DataFrame]
    tables: Mapping[str, Partial]

    def merged(self, name: str) -> pl.DataFrame:
        table, frame = self.tables[name], self.frames[name]
        keys = list(table.keys)
        aggs = [getattr(pl.col(c), how)().alias(c) for c, how in table.aggs.items()]
        aggs += [
            pl.col(c).quantile(q, "lower").cast(pl.Int64).alias(f"{c}_q{i}")
            for c, qs in table.quantiles.items()
            for i, q in enumerate(qs)
        ]
        if not keys:
            return frame.select(aggs) if aggs else frame.head(0)
        out = frame.group_by(keys).agg(aggs) if aggs else frame.select(keys).unique()
        return out.select(*table.merged_schema()).sort(keys, nulls_last=True)

    def first(self, name: str) -> pl.DataFrame:
        table = self.tables[name]
        by = list(table.keys)
        frame = self.frames[name].sort([*by, *table.order], nulls_last=True)
        rank = pl.int_range(pl.len()).over(by) if by else pl.int_range(pl.len())
        return frame.filter(rank < table.count)

    def rows(self, name: str) -> pl.DataFrame:
        return self.frames[name]

    def release(self) -> None:
        return None


# --------------------------------------------------------------------------------------------------
# Spark.


def _packed_schema(tables: Mapping[str, Partial]) -> tuple[Any, str]:
    """One Arrow schema (and its Spark DDL) holding every table: ``_t``, ``_error``, ``<table>__<column>``."""
    pa = _arrow()
    empty = pl.DataFrame(
        schema={
            _TABLE: pl.Int32(),
            _ERROR: pl.String(),
            **{_packed(n, c): t for n, table in tables.items() for c, t in table.schema.items()},
        }
    )
    # polars gives large or view strings; Spark reads plain ones.
    fields = [
        pa.field(
            f.name,
            pa.string() if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type) else f.type,
        )
        for f in empty.to_arrow().schema
    ]
    ddl = [f"{_TABLE} int", f"{_ERROR} string"]
    ddl += [
        f"`{_packed(n, c)}` {_spark_type(t)}" for n, table in tables.items() for c, t in table.schema.items()
    ]
    return pa.schema(fields), ", ".join(ddl)


def _arrow() -> Any:
    """The pyarrow module (in the ``spark`` extra; the polars path never needs it)."""
    import pyarrow  # noqa: PLC0415 (an optional dependency)

    return pyarrow


def _error_row(exc: DataError | PlanError | PluginError) -> str:
    """A typed error raised by a map, as JSON (rebuilt on the driver by :func:`_raise`)."""
    if isinstance(exc, PluginError):
        prefix = "".join(f"{p}: " for p in (exc.group, exc.plugin) if p)
        message = str(exc).removeprefix(prefix)
        return json.dumps(
            {"type": "PluginError", "message": message, "plugin": exc.plugin, "group": exc.group}
        )
    if isinstance(exc, DataError):
        return json.dumps(
            {
                "type": "DataError",
                "message": exc.message,
                "record": exc.record,
                "field": exc.field,
                "kind": exc.kind,
            }
        )
    return json.dumps(
        {"type": "PlanError", "message": exc.message, "file": exc.file, "line": exc.line, "path": exc.path}
    )


def _raise(text: str) -> None:
    """Raise the error a worker reported (only the three typed errors a map may raise are rebuilt)."""
    got = json.loads(text)
    if got["type"] == "PluginError":
        raise PluginError(got["message"], plugin=got["plugin"], group=got["group"])
    if got["type"] == "DataError":
        raise DataError(got["message"], record=got["record"], field=got["field"], kind=got["kind"])
    raise PlanError(got["message"], file=got["file"], line=got["line"], path=got["path"])


def _partition_mapper(
    fn: MapFn, tables: Mapping[str, Partial], schema: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function ``mapInArrow`` runs on each partition: all its batches at once, then ``fn``."""
    names = list(tables)

    def mapper(batches: Iterator[Any]) -> Iterator[Any]:
        """The partition's partial tables, packed in one schema; or its typed error, as one row."""
        pa = _arrow()
        # One key's rows may be spread over several Arrow batches: the kernel sees the whole partition,
        # in one chunk (a frame of many chunks is slower to build and to query: 1,714 batches of 3 rows of
        # a co-partitioned union took 1.4 s as chunks, 0.06 s combined).
        collected = list(batches)
        if not collected or not sum(b.num_rows for b in collected):
            return
        frame = pl.from_arrow(pa.Table.from_batches(collected).combine_chunks())
        assert isinstance(frame, pl.DataFrame)
        try:
            out = fn(frame)
        except (DataError, PlanError, PluginError) as exc:
            row: dict[str, list[Any]] = {field.name: [None] for field in schema}
            row[_TABLE], row[_ERROR] = [-1], [_error_row(exc)]
            yield from pa.Table.from_pydict(row, schema=schema).to_batches()
            return
        for index, name in enumerate(names):
            part = _conform(out[name], tables[name], name)
            if not len(part):
                continue
            columns: dict[str, Any] = {
                _TABLE: pa.array([index] * len(part), pa.int32()),
                _ERROR: pa.nulls(len(part), pa.string()),
            }
            arrow = part.to_arrow()
            for field in schema:
                if field.name in (_TABLE, _ERROR):
                    continue
                table_name, _, column = field.name.partition("__")
                columns[field.name] = (
                    arrow.column(column).cast(field.type)
                    if table_name == name
                    else pa.nulls(len(part), field.type)
                )
            yield from pa.Table.from_pydict(columns, schema=schema).to_batches()

    return mapper


def spark_run(
    data: Any,
    fn: MapFn,
    tables: Mapping[str, Partial],
    *,
    key: str,
    columns: Sequence[str],
    persist: bool = False,
) -> Partials:
    """Map ``fn`` over ``data`` (a PySpark DataFrame) hash-partitioned by ``key``; merge on Spark.

    The rows of one key land in one partition (``repartition`` by ``key``, into the session's
    ``spark.sql.shuffle.partitions``: a fixed number, which adaptive execution does not coalesce);
    ``mapInArrow`` runs ``fn`` on each partition's rows (``columns`` only) as one polars DataFrame. Every
    table that merges is merged by **one** Spark aggregation over all of them (grouped by the table and
    its keys: sums, minimums, maximums, each quantile column sorted per key and picked at the lower
    quantile's index, the first rows per key by sorting structs), read once; the kept tables stay
    queries over the map. A typed error of a map is raised here.

    ``persist``: the map's output is persisted (Spark's default storage level) when the merge first
    computes it, so that kept tables read later (a second stage built on them, a write) do not run the
    map again; for maps that are dear to run again and whose kept rows are read more than once. Free it
    with :meth:`Partials.release` when they are read no more (or :func:`release_with` a result); a map or
    merge that fails frees it here.
    """
    schema, ddl = _packed_schema(tables)
    present = [c for c in columns if c in data.columns]
    partitions = int(data.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    shuffled = data.select(*present).repartition(partitions, key)
    mapped = shuffled.mapInArrow(_partition_mapper(fn, tables, schema), ddl)
    if persist:
        mapped = mapped.persist()
    try:
        merged = _merge(mapped, tables)
    except BaseException:
        # No result will read the cache: not kept until the session ends (a stopped session took it).
        if persist and _alive(mapped):
            mapped.unpersist()
        raise
    return _Spark(mapped, tables, merged, persisted=persist)


def _merge(mapped: Any, tables: Mapping[str, Partial]) -> pl.DataFrame:
    """The merged tables of a map's output (one Spark aggregation, read once); a map's typed error raised."""
    F, _ = spark_sql()  # noqa: N806 (Spark's own names)
    names = list(tables)
    merging = [i for i, name in enumerate(names) if not tables[name].kept]
    keys = [F.col(_TABLE), F.col(_ERROR)]
    aggs: list[Any] = []
    picks: list[Any] = []
    for i in merging:
        name, table = names[i], tables[names[i]]
        keys += [_column(_packed(name, c)) for c in table.keys]
        aggs += [
            getattr(F, how)(_column(_packed(name, c))).alias(_packed(name, c))
            for c, how in table.aggs.items()
        ]
        for column, qs in table.quantiles.items():
            sorted_values = _packed(name, f"{column}__sorted")
            aggs.append(F.sort_array(F.collect_list(_column(_packed(name, column)))).alias(sorted_values))
            size = F.size(_column(sorted_values))
            for j, q in enumerate(qs):
                at = (F.floor((size - 1).cast("double") * F.lit(q)) + 1).cast("int")
                picks.append(
                    F.when(size > 0, F.element_at(_column(sorted_values), at))
                    .cast("bigint")
                    .alias(_packed(name, f"{column}_q{j}"))
                )
        if table.count:
            rest = [c for c in table.schema if c not in table.order]
            row = F.struct(*(_column(_packed(name, c)).alias(c) for c in (*table.order, *rest)))
            listed = F.collect_list(F.when(F.col(_TABLE) == i, row))
            aggs.append(F.slice(F.sort_array(listed), 1, table.count).alias(_packed(name, "_first")))
    grouped = mapped.where(F.col(_TABLE).isin([-1, *merging])).groupBy(*keys)
    result = grouped.agg(*aggs) if aggs else grouped.count().drop("count")
    quantile_columns = {
        _packed(names[i], f"{c}__sorted") for i in merging for c in tables[names[i]].quantiles
    }
    kept_columns = [c for c in result.columns if c not in quantile_columns]
    merged = to_polars(result.select(*(_column(c) for c in kept_columns), *picks))
    errors = merged.filter(pl.col(_TABLE) == -1).get_column(_ERROR).drop_nulls().sort()
    if len(errors):
        _raise(str(errors[0]))
    return merged


# --------------------------------------------------------------------------------------------------
# Several tables, one partition of complete keys: a union tagged by kind.

#: The column of a co-partitioned union naming each row's table, and the key it is partitioned by.
KIND, PARTITION_KEY = "_kind", "_key"


def co_partition(frames: Mapping[str, Any], keys: Mapping[str, str]) -> Any:
    """Several PySpark DataFrames as one, one shuffle by key brings each key's rows of every table together.

    Each row keeps its own columns, renamed ``<kind>__<column>`` (tables never share a column, whatever
    their types), and gets its table's name in :data:`KIND` and its key (the column ``keys[kind]``, as a
    string, so that ``1`` and ``"1"`` land in the same partition) in :data:`PARTITION_KEY`. Run the map on
    the union with ``key=PARTITION_KEY`` and ``columns=union.columns``; :func:`split` gives the tables back
    in the map.
    """
    F, _ = spark_sql()  # noqa: N806 (Spark's own names)
    tagged = [
        frame.select(
            F.lit(kind).alias(KIND),
            F.col(f"`{keys[kind]}`").cast("string").alias(PARTITION_KEY),
            *(F.col(f"`{c}`").alias(_packed(kind, c)) for c in frame.columns),
        )
        for kind, frame in frames.items()
    ]
    union = tagged[0]
    for frame in tagged[1:]:
        union = union.unionByName(frame, allowMissingColumns=True)
    return union


def split(part: pl.DataFrame, kinds: Sequence[str]) -> dict[str, pl.DataFrame]:
    """The tables of a partition of a :func:`co_partition` union, each with its own columns, by kind.

    A kind without rows in the partition is an empty frame of its columns (their types as Spark gave them).
    """
    out = {}
    for kind in kinds:
        prefix = f"{kind}__"
        columns = {c: c.removeprefix(prefix) for c in part.columns if c.startswith(prefix)}
        rows = part.filter(pl.col(KIND) == kind) if KIND in part.columns else part.clear()
        out[kind] = rows.select(*columns).rename(columns)
    return out


def _packed(table: str, column: str) -> str:
    return f"{table}__{column}"


def _column(name: str) -> Any:
    """A Spark column by its name, quoted: a dot in a name (``account.industry``) is no field access."""
    F, _ = spark_sql()  # noqa: N806 (Spark's own names)
    return F.col(f"`{name}`")


def to_polars(frame: Any) -> pl.DataFrame:
    """Read a (small, merged) Spark DataFrame into polars, times as the same instants in UTC."""
    native = pl.from_arrow(frame.toArrow())
    assert isinstance(native, pl.DataFrame)
    return _utc(native)


def _utc(native: pl.DataFrame) -> pl.DataFrame:
    """The frame with its zoned times as the same instants in UTC (Spark gives its session's zone)."""
    zoned = [
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in native.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")
    ]
    return native.with_columns(zoned) if zoned else native


def spark_sql() -> tuple[Any, Any]:
    """PySpark's ``functions`` and ``Window`` (the optional ``spark`` extra, loaded for Spark frames only)."""
    from pyspark.sql import Window, functions  # noqa: PLC0415 (the optional extra)

    return functions, Window


def refuse_repeated_ids(frame: Any, record: str) -> None:
    """Raise the boundary's :class:`~smarketing.errors.DataError` if an ``id`` of a Spark frame repeats.

    Uniqueness is the one boundary check a map cannot make on its partition when the records are
    partitioned by another key (deals by lead): one Spark job counts the repeats over all the rows. The
    message is the boundary's (``record``: the record's kind, ``deal``); the example is the smallest
    repeated id.
    """
    F, _ = spark_sql()  # noqa: N806 (Spark's own names)
    ids = F.col("id").cast("string")
    counted = frame.where(ids.isNotNull()).groupBy(ids.alias("id")).count().where(F.col("count") > 1)
    found = to_polars(counted.select(F.sum(F.col("count") - 1).alias("extra"), F.min("id").alias("id")))
    extra = found.item(0, "extra") if found.height else None
    if extra:
        raise DataError(
            f"the id appears more than once ({extra} row(s) like this)",
            record=str(found.item(0, "id")),
            field="id",
            kind=record,
        )


def release_with(owner: Any, partials: Sequence[Partials]) -> None:
    """Release ``partials`` (:meth:`Partials.release`) when ``owner`` is garbage collected.

    For a result kept on Spark (a ledger's lines) that reads persisted map output: the cache lives as
    long as the result that reads it; nothing is freed for a result that is not a Spark frame.
    """
    if is_spark(owner) and partials:
        # Not at interpreter exit: Spark's session may be stopped by then, and its JVM goes with it anyway.
        weakref.finalize(owner, _release_all, tuple(partials)).atexit = False


def keep_with(owner: Any, *frames: Any) -> None:
    """Keep ``frames`` (and the caches :func:`release_with` ties to them) alive as long as ``owner`` lives.

    For a Spark frame built from others (a ``select`` or a ``union`` holds no Python reference to its
    inputs): the caches of the inputs are released only once the frame that reads them is collected.
    """
    if is_spark(owner):
        weakref.finalize(owner, _nothing, *frames).atexit = False


def _nothing(*_: Any) -> None:
    return None


#: What :func:`read_once` read, by the Spark frame it was read from, then by what was asked.
_READ: weakref.WeakKeyDictionary[Any, dict[Hashable, pl.DataFrame]] = weakref.WeakKeyDictionary()


def read_once(frame: Any, how: Hashable, read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """``read()`` (rows of ``frame``, a result kept on Spark, read ``how``), read once per result.

    A report's per-lead rows are read by ``to_frame()``, again by ``to_dict()``: the second read comes
    from this process's memory instead of running the Spark job again (the result is a snapshot, like one
    computed on polars). The rows read live as long as ``frame`` does (the result that holds it). ``how``
    names the reader and its reading (``("sla", order, limit)``): two readers of one frame never share.
    """
    cache = _READ.setdefault(frame, {})
    if how not in cache:
        cache[how] = read()
    return cache[how].clone()


def _alive(frame: Any) -> bool:
    """Whether the Spark session of ``frame`` still runs (PySpark drops its JVM context when it stops).

    A Spark Connect session has no ``sparkContext`` (its server holds the caches): taken as running.
    """
    context = getattr(frame.sparkSession, "sparkContext", None)
    return context is None or getattr(context, "_jsc", None) is not None


def _release_all(partials: Sequence[Partials]) -> None:
    for one in partials:
        one.release()


def distinct(frame: Any, column: str) -> list[Any]:
    """The distinct non-null values of ``column`` of a PySpark DataFrame, sorted (global codes)."""
    F, _ = spark_sql()  # noqa: N806 (Spark's own names)

    values = to_polars(frame.select(column).where(F.col(column).isNotNull()).distinct()).get_column(column)
    return sorted(values.to_list())


#: The most ranges :func:`running_totals` cuts a frame into (each range's offset is a literal of the query).
_MAX_RANGES = 64
_RANGE = "_range"


def running_totals(frame: Any, order: str, totals: Mapping[str, Any], *, descending: bool = False) -> Any:
    """``frame`` (PySpark) with the running total of each of ``totals`` over its rows in ``order``.

    ``totals`` maps each new column to the integer Spark expression it sums; ``order``'s values must be
    distinct (one row per value: ties would make the running totals depend on the order Spark gives
    them). Each total is that of the rows up to and including the row's own.

    A window over a whole frame moves every row into one task. Instead the rows are cut into at most
    :data:`_MAX_RANGES` ranges of ``order`` (the cuts are Spark's approximate quantiles of ``order``, read
    by the driver: they decide only how even the ranges are, never a total), each range's totals are
    summed (one row per range read by the driver), and a window per range (the ranges hash-partitioned
    over the shuffle partitions) adds the totals of the ranges before it. Three Spark jobs: the cuts, the
    ranges' totals, and the query returned (run by the caller), which is why a caller that computes
    ``frame`` dearly persists it first.
    """
    F, Window = spark_sql()  # noqa: N806 (Spark's own names)
    column = F.col(order)
    ranges = min(_MAX_RANGES, int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions")))
    probabilities = [i / ranges for i in range(1, ranges)]
    found = frame.approxQuantile(order, probabilities, 1 / (4 * ranges)) if probabilities else []
    cuts = sorted(set(found), reverse=descending)
    # A row's range: the cuts it comes after in the order (so equal values share a range).
    after = [column < F.lit(c) if descending else column > F.lit(c) for c in cuts]
    ranged = frame.withColumn(_RANGE, sum((F.when(a, 1).otherwise(0) for a in after), F.lit(0)))
    per_range = to_polars(
        ranged.groupBy(_RANGE).agg(*(F.sum(expr).alias(name) for name, expr in totals.items()))
    ).sort(_RANGE)
    before = per_range.select(
        _RANGE, *(pl.col(name).cum_sum().shift(1, fill_value=0).alias(name) for name in totals)
    )
    sort = column.desc() if descending else column.asc()
    window = (
        Window.partitionBy(_RANGE).orderBy(sort).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )

    def offset(name: str) -> Any:
        pairs = [(F.lit(r), F.lit(int(v)).cast("bigint")) for r, v in before.select(_RANGE, name).iter_rows()]
        return F.element_at(F.create_map(*(x for pair in pairs for x in pair)), F.col(_RANGE))

    running = [(F.sum(expr).over(window) + offset(name)).alias(name) for name, expr in totals.items()]
    return ranged.select(*frame.columns, *running)


@attrs.frozen
class _Spark:
    """Partials merged by Spark (read once, in :func:`spark_run`); kept tables are queries on Spark."""

    frame: Any
    tables: Mapping[str, Partial]
    merged_rows: pl.DataFrame
    persisted: bool = False

    def _table(self, name: str) -> pl.DataFrame:
        return self.merged_rows.filter(pl.col(_TABLE) == list(self.tables).index(name))

    def merged(self, name: str) -> pl.DataFrame:
        table = self.tables[name]
        schema = table.merged_schema()
        rows = self._table(name).select(pl.col(_packed(name, c)).cast(t).alias(c) for c, t in schema.items())
        return rows.sort(list(table.keys), nulls_last=True) if table.keys else rows

    def first(self, name: str) -> pl.DataFrame:
        table = self.tables[name]
        if not table.count:
            return table.empty()
        lists = self._table(name).select(pl.col(_packed(name, "_first")).alias("_first"))
        rows = lists.explode("_first").drop_nulls("_first")
        if not len(rows):
            return table.empty()
        out = _utc(rows.unnest("_first")).select(pl.col(c).cast(t) for c, t in table.schema.items())
        return out.sort([*table.keys, *table.order], nulls_last=True)

    def release(self) -> None:
        # A stopped session's caches went with it (a result collected after the session stopped).
        if self.persisted and _alive(self.frame):
            self.frame.unpersist()

    def rows(self, name: str) -> Any:
        F, _ = spark_sql()  # noqa: N806 (Spark's own names)
        index = list(self.tables).index(name)
        picked = self.frame.where(F.col(_TABLE) == index)
        return picked.select(*(F.col(f"`{_packed(name, c)}`").alias(c) for c in self.tables[name].schema))
