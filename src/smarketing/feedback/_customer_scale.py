"""Customer feedback as map, reduce and finalise (private): per lead the feedback's rows, counts merged.

:func:`smarketing.feedback.customer_feedback` runs through the engine layer
(:mod:`smarketing.frames._engine`) in two steps:

- **the feedback's lead**: its ``lead_id``, else its account's first lead (the earliest ``created_at``,
  ties by the smaller lead id). On one machine a polars query over the leads of the accounts at hand; on
  Spark a minimum per account, by the same order, reduced by Spark and joined to the feedback there;
- **map** per partition of complete leads (each lead's feedback, lead record and stage events): one row
  per feedback with its lead's persona and campaign and the lead's stage when it was given (an as-of join;
  at equal times the later event in the data wins: the events carry their position in the data, taken
  before any shuffle), counted per group and score type, per group and tag, and per group;
- **reduce**: sums (a feedback and its tags are in one partition, so the counts add up);
- **finalise** on the driver (:mod:`smarketing.feedback.customer`): means, NPS, shares and the order.

Only the leads and stage events of leads with feedback are shuffled (a semi-join on Spark). On PySpark
frames (a mapping of record kind to PySpark DataFrames) the three kinds are made one
(:func:`~smarketing.frames._engine.co_partition`) and split back, and checked, inside the map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import polars as pl

from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy
from smarketing.records import Dataset

__all__ = ["SCORE_COUNTS", "SEEN_COUNTS", "Options", "run"]

_I64 = pl.Int64()
_STR = pl.String()
_TEXT: dict[str, pl.DataType] = {"lead_id": _STR, "account_id": _STR, "score_type": _STR}

#: The counts of a score row, summed over the partitions (``_sum``: the sum of the scores).
SCORE_COUNTS = ("feedback", "scored", "_sum", "promoters", "passives", "detractors", "satisfied")
#: The counts of a seen row.
SEEN_COUNTS = ("feedback", "seen_by_marketing", "seen_by_sales", "seen_by_neither")

_FEEDBACK_REQUIRED = ("id", "time", "source")
_FEEDBACK_READS = ("lead_id", "account_id", "score_type", "score", "tags", "seen_by")
_LEAD, _ORDER = "_lead", "_order"
#: Each kind of the map's input and the column holding its lead.
KEYS = {"feedback": _LEAD, "leads": "id", "stage_events": "lead_id"}


@attrs.frozen
class Options:
    """What the map needs (shipped to the Spark workers: plain values only)."""

    by: tuple[str, ...]
    marketing: tuple[str, ...]
    sales: tuple[str, ...]
    as_of: datetime | None


def tables(by: Sequence[str]) -> dict[str, engine.Partial]:
    """The partial tables (every group column is text)."""
    keys = tuple(by)
    groups = dict.fromkeys(keys, _STR)
    return {
        "scores": engine.Partial(
            {**groups, "score_type": _STR, **dict.fromkeys(SCORE_COUNTS, _I64)},
            keys=(*keys, "score_type"),
            aggs=dict.fromkeys(SCORE_COUNTS, "sum"),
        ),
        "tags": engine.Partial(
            {**groups, "tag": _STR, "feedback": _I64}, keys=(*keys, "tag"), aggs={"feedback": "sum"}
        ),
        "seen": engine.Partial(
            {**groups, **dict.fromkeys(SEEN_COUNTS, _I64)}, keys=keys, aggs=dict.fromkeys(SEEN_COUNTS, "sum")
        ),
    }


def _with(lf: pl.LazyFrame, dtypes: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """``lf`` with every column of ``dtypes`` (a column it lacks is null)."""
    names = lf.collect_schema().names()
    return lf.with_columns(pl.lit(None, t).alias(c) for c, t in dtypes.items() if c not in names)


def _feedback(data: Any, as_of: datetime | None, extra: Sequence[str] = ()) -> pl.LazyFrame:
    """The feedback, checked, with its optional columns (null where the data lack them), up to ``as_of``."""
    reads = (*_FEEDBACK_READS, *extra)
    native = as_lazy(data, "feedback", required=_FEEDBACK_REQUIRED, reads=reads).to_native()
    text = pl.String()
    feedback = _with(
        native,
        {**_TEXT, "score": pl.Int64(), "tags": pl.List(text), "seen_by": pl.List(text)},
    )
    return feedback if as_of is None else feedback.filter(pl.col("time") <= as_of)


def _leads(data: Any) -> pl.LazyFrame:
    leads = as_lazy(data, "leads", required=["id"], reads=["account_id", "created_at", "persona", "campaign"])
    return _with(
        leads.to_native(),
        {"account_id": _STR, "created_at": pl.Datetime("us", "UTC"), "persona": _STR, "campaign": _STR},
    )


def _events(data: Any, extra: Sequence[str] = ()) -> pl.LazyFrame:
    """The stage events, checked, with the ``extra`` columns they carry (an absent kind: none, and null)."""
    native: pl.LazyFrame = as_lazy(
        data, "stage_events", required=["lead_id", "to", "time"], reads=list(extra)
    ).to_native()
    return _with(native, dict.fromkeys(extra, pl.Int64()))


def with_leads(data: Any, as_of: datetime | None) -> pl.DataFrame:
    """The feedback up to ``as_of`` with its lead in ``_lead`` (on one machine; read into memory)."""
    feedback = _feedback(data, as_of).collect().lazy()
    leads = _leads(data)
    accounts = feedback.filter(pl.col("lead_id").is_null()).select("account_id").drop_nulls().unique()
    first = (
        leads.join(accounts, on="account_id", how="semi")
        .sort("account_id", "created_at", "id", nulls_last=True)
        .group_by("account_id")
        .agg(pl.col("id").first().alias("_first"))
    )
    return (
        feedback.join(first, on="account_id", how="left")
        .with_columns(pl.coalesce("lead_id", "_first").alias(_LEAD))
        .drop("_first")
        .collect()
    )


def _rows(feedback: pl.LazyFrame, leads: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per feedback (with ``_lead``) with its lead's persona and campaign and stage at the time.

    ``events`` carry their position in the data in ``_order``: at equal times the later one wins.
    """
    wanted = feedback.select(_LEAD).drop_nulls().unique()
    rows = feedback.join(
        leads.select(pl.col("id").alias(_LEAD), "persona", "campaign").join(wanted, on=_LEAD, how="semi"),
        on=_LEAD,
        how="left",
    )
    # Only the events of leads with feedback are sorted and joined (a fraction of all events).
    picked = (
        events.select(pl.col("lead_id").alias(_LEAD), pl.col("to").alias("stage"), "time", _ORDER)
        .join(wanted, on=_LEAD, how="semi")
        .sort("time", _ORDER)
        .drop(_ORDER)
    )
    return rows.sort("time", maintain_order=True).join_asof(
        picked, on="time", by=_LEAD, strategy="backward", check_sortedness=False
    )


def _partials(rows: pl.LazyFrame, options: Options) -> dict[str, pl.DataFrame]:
    """The partition's counts per group and score type, per group and tag, and per group."""

    def seen(ids: Sequence[str]) -> pl.Expr:
        return pl.col("seen_by").list.eval(pl.element().is_in(list(ids))).list.any().fill_null(False)

    rows = rows.with_columns(
        pl.col("score_type").fill_null("none"),
        seen(options.marketing).alias("_marketing"),
        seen(options.sales).alias("_sales"),
    )
    keys = list(options.by)
    score = pl.col("score")
    scores = rows.group_by([*keys, "score_type"]).agg(
        pl.len().cast(pl.Int64).alias("feedback"),
        score.is_not_null().sum().cast(pl.Int64).alias("scored"),
        score.sum().cast(pl.Int64).alias("_sum"),
        (score >= 9).sum().cast(pl.Int64).alias("promoters"),
        score.is_between(7, 8).sum().cast(pl.Int64).alias("passives"),
        (score <= 6).sum().cast(pl.Int64).alias("detractors"),
        (score >= 4).sum().cast(pl.Int64).alias("satisfied"),
    )
    tags = (
        rows.select(*keys, "id", pl.col("tags").alias("tag"))
        .explode("tag")
        .filter(pl.col("tag").is_not_null())
        .unique([*keys, "id", "tag"])
        .group_by([*keys, "tag"])
        .agg(pl.len().cast(pl.Int64).alias("feedback"))
    )
    neither = ~pl.col("_marketing") & ~pl.col("_sales")
    counts = [
        pl.len().cast(pl.Int64).alias("feedback"),
        pl.col("_marketing").sum().cast(pl.Int64).alias("seen_by_marketing"),
        pl.col("_sales").sum().cast(pl.Int64).alias("seen_by_sales"),
        neither.sum().cast(pl.Int64).alias("seen_by_neither"),
    ]
    seen_frame = rows.group_by(keys).agg(counts) if keys else rows.select(counts)
    out = pl.collect_all([scores, tags, seen_frame])
    return dict(zip(("scores", "tags", "seen"), out, strict=True))


def run(options: Options, data: Any) -> engine.Partials:
    """Map the feedback's rows over ``data``'s partitions of leads (on Spark, or one partition here).

    Raises:
        DataError: A frame breaks its record kind's rules (raised by a map, on a worker or here).
    """
    frames = spark_frames(data)
    if frames is None:
        feedback = with_leads(data, options.as_of)
        given = {
            "feedback": feedback,
            "leads": _leads(data),
            "stage_events": _events(data).with_row_index(_ORDER),
        }

        def local(part: Any) -> dict[str, pl.DataFrame]:
            lazy = {kind: frame.lazy() for kind, frame in part.items()}
            return _partials(_rows(lazy["feedback"], lazy["leads"], lazy["stage_events"]), options)

        return engine.run(given, local, tables(options.by), kind="feedback", key=_LEAD, columns=())
    union, kinds = _union(frames)

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        split = engine.split(part, kinds)
        feedback = _feedback(split, options.as_of, extra=(_LEAD,))
        rows = _rows(feedback, _leads(split), _events(split, extra=(_ORDER,)))
        return _partials(rows, options)

    return engine.run(
        union, fn, tables(options.by), kind="feedback", key=engine.PARTITION_KEY, columns=union.columns
    )


def spark_frames(data: Any) -> dict[str, Any] | None:
    """The three kinds of ``data`` when it is a mapping of them to PySpark DataFrames, else None.

    A mapping with some of them on Spark and others not is read on the driver, as before: None.
    """
    if isinstance(data, Dataset) or not isinstance(data, Mapping):
        return None
    frames = {kind: data[kind] for kind in KEYS if kind in data}
    if not frames or not all(engine.is_spark(f) for f in frames.values()):
        return None
    return frames


def _union(frames: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The feedback with its lead, and the leads and events of leads with feedback, co-partitioned by lead.

    Also the kinds in it (a kind the data lack is not, and is empty in the map, as on one machine).
    """
    F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
    spark = next(iter(frames.values())).sparkSession
    feedback = frames.get("feedback")
    if feedback is None:
        feedback = spark.createDataFrame(Dataset().feedback.to_arrow())
    engine.require(feedback, "feedback", _FEEDBACK_REQUIRED)
    engine.refuse_repeated_ids(feedback, "feedback")
    fb = feedback.select(*(c for c in (*_FEEDBACK_REQUIRED, *_FEEDBACK_READS) if c in feedback.columns))

    def text(frame: Any, column: str) -> Any:
        return F.col(column).cast("string") if column in frame.columns else F.lit(None).cast("string")

    leads = frames.get("leads")
    if leads is not None:
        engine.require(leads, "leads", ["id"])
        # Each account's first lead: the smallest (no created_at, created_at, id), the one machine's order.
        created = F.col("created_at") if "created_at" in leads.columns else F.lit(None).cast("timestamp")
        asked = fb.where(text(fb, "lead_id").isNull()).select(text(fb, "account_id").alias("_asked"))
        first = (
            leads.select(
                text(leads, "account_id").alias("_account"),
                F.struct(
                    created.isNull().alias("n"), created.alias("c"), F.col("id").cast("string").alias("i")
                ).alias("_row"),
            )
            .join(asked.distinct(), F.col("_account") == F.col("_asked"), "left_semi")
            .groupBy("_account")
            .agg(F.min("_row").alias("_row"))
            .select("_account", F.col("_row.i").alias("_first"))
        )
        fb = fb.join(first, text(fb, "account_id") == F.col("_account"), "left").drop("_account")
        fb = fb.withColumn(_LEAD, F.coalesce(text(fb, "lead_id"), F.col("_first"))).drop("_first")
    else:
        fb = fb.withColumn(_LEAD, text(fb, "lead_id"))
    picked: dict[str, Any] = {"feedback": fb}
    wanted = fb.select(F.col(_LEAD).alias("_wanted")).where(F.col("_wanted").isNotNull()).distinct()
    if leads is not None:
        columns = [c for c in ("id", "account_id", "created_at", "persona", "campaign") if c in leads.columns]
        picked["leads"] = leads.select(*columns).join(
            wanted, F.col("id").cast("string") == F.col("_wanted"), "left_semi"
        )
    events = frames.get("stage_events")
    if events is not None:
        engine.require(events, "stage_events", ["lead_id", "to", "time"])
        # The events' position in the data, taken before the shuffle (ties in time: the later one wins).
        ordered = events.select("lead_id", "to", "time").withColumn(_ORDER, F.monotonically_increasing_id())
        picked["stage_events"] = ordered.join(
            wanted, F.col("lead_id").cast("string") == F.col("_wanted"), "left_semi"
        )
    return engine.co_partition(picked, {kind: KEYS[kind] for kind in picked}), list(picked)
