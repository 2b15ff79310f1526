"""Sourced vs influenced pipeline and revenue, per campaign or team.

:func:`sourced_influenced` puts two views of the same deals side by side: **sourced** credits a deal whole
to the campaign (or team) that created its lead; **influenced** spreads it over the campaigns (or teams)
of the touches before the deal was created, by a multi-touch model of
:func:`~smarketing.attribution.attribute` (one implementation of attribution, not a second one).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs
import polars as pl

from smarketing import _display
from smarketing.attribution import _scale as attribution_scale
from smarketing.attribution import attribute, registry
from smarketing.attribution.journeys import Journeys
from smarketing.calendar import check_time
from smarketing.errors import DataError
from smarketing.feedback import _scale
from smarketing.feedback._waterfall import first_touch_team, in_currency
from smarketing.frames import _engine as engine
from smarketing.frames import as_lazy
from smarketing.money import FxTable, Money

if TYPE_CHECKING:
    from smarketing.plan import AlignmentPlan

__all__ = ["SourcedInfluenced", "SourcedRow", "sourced_influenced"]

By = Literal["campaign", "team"]
_MEASURES = ("sourced_pipeline", "sourced_revenue", "influenced_pipeline", "influenced_revenue")


@attrs.frozen
class SourcedRow:
    """One campaign or team: its sourced and influenced pipeline and revenue, in minor units.

    Attributes:
        key: The campaign or team (``None``: deals whose lead has none; sourced only).
        sourced_deals: Deals whose lead it created.
        sourced_pipeline: Amount of those deals created by ``as_of`` (any status).
        sourced_revenue: Amount of those won by ``as_of``.
        influenced_pipeline: Its credit from the model over every deal's touches before the deal's creation.
        influenced_revenue: The same over the won deals.
    """

    key: str | None
    sourced_deals: int
    sourced_pipeline: int
    sourced_revenue: int
    influenced_pipeline: int
    influenced_revenue: int


@attrs.frozen
class SourcedInfluenced:
    """Per key (sorted, ``None`` last): sourced and influenced pipeline and revenue in minor units.

    Influenced credit adds up exactly to the pipeline (revenue) of the deals with a touch before their
    creation; the rest is ``unattributed_pipeline`` (``unattributed_revenue``).
    """

    by: By
    model: str
    as_of: datetime
    currency: str | None
    rows: tuple[SourcedRow, ...]
    unattributed_pipeline: int = 0
    unattributed_revenue: int = 0

    def row(self, key: str | None) -> SourcedRow:
        """The row of ``key``; ``KeyError`` if there is none."""
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(f"no row for {key!r}")

    def to_frame(self) -> pl.DataFrame:
        """The rows as a polars DataFrame (amounts in minor units)."""
        schema = {"key": pl.String(), "sourced_deals": pl.Int64(), **{m: pl.Int64() for m in _MEASURES}}
        return pl.DataFrame([attrs.asdict(r) for r in self.rows], schema=schema, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts in minor units)."""
        return {
            "by": self.by,
            "model": self.model,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "unattributed_pipeline": self.unattributed_pipeline,
            "unattributed_revenue": self.unattributed_revenue,
            "rows": [attrs.asdict(r) for r in self.rows],
        }

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of the text and HTML table (amounts as money)."""

        def money(units: int) -> Money | int:
            return units if self.currency is None else Money.from_minor(units, self.currency)

        headers = [f"{self.by}s", "deals", *(m.replace("_", " ") for m in _MEASURES)]
        rows = [[r.key, r.sourced_deals, *(money(getattr(r, m)) for m in _MEASURES)] for r in self.rows]
        return headers, rows

    def _title(self) -> str:
        return f"SourcedInfluenced(by {self.by}, {self.model} model, as of {_display.local_time(self.as_of)})"

    def __repr__(self) -> str:
        headers, rows = self._table()
        return "\n".join([self._title(), _display.text_table(headers, rows)])

    def _repr_html_(self) -> str:
        headers, rows = self._table()
        return _display.html_table(headers, rows, caption=html.escape(self._title()))


def _deals(
    data: Any, as_of: datetime, currency: str | None, fx: FxTable | None
) -> tuple[pl.DataFrame, str | None]:
    """Deals created by ``as_of``: ``id``, ``lead_id``, ``created_at``, ``units``, ``amount``, ``won``.

    ``units`` is the amount in minor units of ``currency`` (converted on the close date of won deals, the
    creation date of the others); ``amount`` the same as a ``Decimal``.
    """
    reads = ("id", "lead_id", "amount", "amount_currency", "stage", "created_at", "close_date")
    deals = as_lazy(data, "deals", reads=reads).collect(backend="polars").to_native()
    won = (pl.col("stage") == "won") & (pl.col("close_date") <= as_of.astimezone(UTC).date())
    deals = deals.filter(pl.col("created_at") <= as_of).with_columns(
        won.fill_null(value=False).alias("won"),
        pl.when(pl.col("stage") == "won")
        .then(pl.col("close_date"))
        .otherwise(pl.col("created_at").dt.date())
        .alias("_day"),
    )
    units, code = in_currency(deals, on="_day", to=currency, fx=fx)
    places = _places(code)
    amount = units.cast(pl.Decimal(38, places)) / (10**places)
    return deals.with_columns(units.alias("units"), amount.cast(pl.Decimal(38, places)).alias("amount")), code


def _places(code: str | None) -> int:
    """The minor-unit exponent of ``code`` (0 without one)."""
    return Money(0, code).minor_units if code is not None else 0


#: The columns read of each record kind (on Spark, only these are shuffled).
_READS = {
    "leads": ("id", "campaign"),
    "deals": ("id", "lead_id", "amount", "amount_currency", "stage", "created_at", "close_date"),
    "touchpoints": ("id", "lead_id", "time", "team", "campaign"),
}
_SUMS = ("sourced_deals", "sourced_pipeline", "sourced_revenue")
_TOTALS = ("pipeline", "revenue", "explained_pipeline", "explained_revenue", "journeys", "won_journeys")


def _tables(places: int) -> dict[str, engine.Partial]:
    """The partial tables: sums per key, the totals, and the deals' touches before their creation (kept)."""
    i64 = pl.Int64()
    return {
        "sourced": engine.Partial(
            {"key": pl.String(), **dict.fromkeys(_SUMS, i64)}, keys=("key",), aggs=dict.fromkeys(_SUMS, "sum")
        ),
        "totals": engine.Partial(dict.fromkeys(_TOTALS, i64), aggs=dict.fromkeys(_TOTALS, "sum")),
        "long": engine.Partial(
            {
                "journey": pl.String(),
                "touch": pl.String(),
                "time": pl.Datetime("us", "UTC"),
                "created_at": pl.Datetime("us", "UTC"),
                "key": pl.String(),
                "amount": pl.Decimal(38, places),
                "won": pl.Boolean(),
            },
            kept=True,
        ),
    }


@attrs.frozen
class _Sourced:
    """What every partition's map is given (shipped to Spark's workers: no Spark frame)."""

    by: By
    as_of: datetime
    currency: str | None
    fx: FxTable | None

    def map(self, data: Any) -> dict[str, pl.DataFrame]:
        """A partition of complete leads: its sums per key, totals, and deals' touches before creation."""
        deals, _ = _deals(data, self.as_of, self.currency, self.fx)
        leads = as_lazy(data, "leads", required=("id",), reads=("id", "campaign")).collect(backend="polars")
        if self.by == "campaign":
            source = leads.to_native().select(
                pl.col("id").alias("lead_id"), pl.col("campaign").cast(pl.String).alias("key")
            )
        else:
            source = first_touch_team(data).rename({"id": "lead_id", "group": "key"})
        sourced = (
            deals.join(source, on="lead_id", how="left")
            .group_by("key")
            .agg(
                pl.len().alias("sourced_deals"),
                pl.col("units").sum().alias("sourced_pipeline"),
                pl.col("units").filter(pl.col("won")).sum().alias("sourced_revenue"),
            )
        )
        key = self.by
        touches = as_lazy(data, "touchpoints", required=("id", "lead_id", "time", key), reads=())
        native = touches.select("id", "lead_id", "time", key).collect(backend="polars").to_native()
        long = (
            deals.select(
                pl.col("id").cast(pl.String).alias("journey"), "lead_id", "created_at", "amount", "won"
            )
            .join(native.rename({"id": "touch"}), on="lead_id", how="inner")
            .filter((pl.col("time") < pl.col("created_at")) & pl.col(key).is_not_null())
            .select(
                "journey",
                pl.col("touch").cast(pl.String),
                "time",
                "created_at",
                pl.col(key).cast(pl.String).alias("key"),
                "amount",
                "won",
            )
        )
        explained = deals.filter(
            pl.col("id").cast(pl.String).is_in(long.get_column("journey").unique().implode())
        )
        units, won = pl.col("units"), pl.col("won")
        totals = pl.DataFrame(
            {
                "pipeline": [deals.select(units.sum()).item()],
                "revenue": [deals.select(units.filter(won).sum()).item()],
                "explained_pipeline": [explained.select(units.sum()).item()],
                "explained_revenue": [explained.select(units.filter(won).sum()).item()],
                "journeys": [long.height],
                "won_journeys": [long.filter(won).height],
            }
        )
        return {"sourced": sourced, "totals": totals, "long": long}


def _influenced(
    long: Any, count: int, *, model: str, code: str | None, params: Mapping[str, Any]
) -> dict[str, int]:
    """Each key's credit of the deals' value by ``model`` over the touches in ``long`` (``count`` rows).

    ``long`` is a polars frame, or a PySpark one: a model that adds up over journeys runs there
    (:func:`~smarketing.attribution.attribute` on the touches in long form); any other reads them here.
    """
    if not count or code is None:
        return {}
    if engine.is_spark(long):
        resolved, name = registry._resolve_model(model)  # a plugin by name: its object
        if attribution_scale.shape(resolved, params, per_touch=False, name=name) is not None:
            F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
            frame = long.select(
                "journey",
                F.col("touch").alias("id"),
                "time",
                "key",
                F.lit(1).alias("converted"),
                F.col("amount").alias("value"),
                F.lit(code).alias("currency"),
            )
            credit = attribute(frame, model=model, key="key", **params).value.get(code, {})
            return {k: m.to_minor() for k, m in credit.items()}
        long = engine.to_polars(long)
    journeys = Journeys.from_frame(
        long.with_columns(pl.lit(1).alias("converted")),
        key="key",
        value="amount",
        currency=code,
        touch="touch",
        conversion_time="created_at",
    )
    credit = attribute(journeys, model=model, **params).value.get(code, {})
    return {k: m.to_minor() for k, m in credit.items()}


def _deal_currency(data: Any, as_of: datetime) -> str | None:
    """The smallest currency of the deals created by ``as_of`` (one machine's choice without a plan's).

    Read on Spark for a mapping of PySpark frames; None too when the deals cannot be read here (the map
    then raises the error one machine raises).
    """
    frames = _scale.spark_frames(data, ["deals"])
    if frames is not None:
        F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
        deals = frames["deals"]
        if not {"created_at", "amount_currency"} <= set(deals.columns):
            return None
        codes = engine.distinct(deals.where(F.col("created_at") <= F.lit(as_of)), "amount_currency")
        return str(codes[0]) if codes else None
    try:
        deals = as_lazy(data, "deals", reads=("created_at", "amount_currency")).to_native()
        got = (
            deals.filter(pl.col("created_at") <= as_of)
            .select(pl.col("amount_currency").cast(pl.String).drop_nulls().min())
            .collect()
            .item()
        )
    except (DataError, TypeError, pl.exceptions.PolarsError):
        return None
    return None if got is None else str(got)


def sourced_influenced(
    plan: AlignmentPlan,
    data: Any,
    *,
    by: By = "campaign",
    model: str = "linear",
    as_of: datetime,
    fx: FxTable | None = None,
    **params: Any,
) -> SourcedInfluenced:
    """Sourced and influenced pipeline and revenue per campaign or team, exact in minor units.

    Pipeline is every deal created by ``as_of`` (open, won or lost); revenue the deals won by ``as_of``.
    A deal is **sourced** by its lead's ``campaign`` (``by="campaign"``) or by the team of its lead's
    first touch (``by="team"``; ties by touch id). It is **influenced** by the touches of its lead before
    the deal was created, each deal one converting journey worth its amount, credited by ``model`` (any
    :func:`~smarketing.attribution.attribute` model that needs no stage milestones; ``params`` go to it)
    and split exactly by largest remainder. Touches without a campaign (team) are left out; deals with
    no touch left are ``unattributed``. Deals in other currencies are converted into the plan's with
    ``fx`` (won deals on their close date, the others on their creation date).

    Raises:
        DataError: A deal in a currency other than the plan's (or several without a plan currency) and
            no ``fx``.

    Examples:
        >>> from datetime import date, datetime, timezone
        >>> from smarketing.datasets import synthetic
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> data = synthetic(plan, seed=1, n_leads=300)  # deals in EUR and USD
        >>> fx = sm.FxTable([("USD", "EUR", date(2020, 1, 1), "0.92")])
        >>> as_of = datetime(2027, 1, 1, tzinfo=timezone.utc)
        >>> si = sourced_influenced(plan, data, by="team", fx=fx, as_of=as_of)
        >>> [r.key for r in si.rows]
        ['marketing', 'sales']
        >>> sum(r.influenced_revenue for r in si.rows) + si.unattributed_revenue == sum(
        ...     r.sourced_revenue for r in si.rows
        ... )
        True
    """
    if by not in ("campaign", "team"):
        raise DataError(f"must be 'campaign' or 'team', not {by!r}", field="by")
    as_of = check_time(as_of, "as_of")
    code = plan.currency if plan.currency is not None else _deal_currency(data, as_of)
    spec = _Sourced(by, as_of, code, fx)
    partials = _scale.by_lead(data, _READS, spec.map, _tables(_places(code)), persist=True)
    try:
        sourced = partials.merged("sourced")
        got = partials.merged("totals")
        totals = got.row(0, named=True) if got.height else dict.fromkeys(_TOTALS, 0)
        long = partials.rows("long")
        won = long.filter(pl.col("won")) if isinstance(long, pl.DataFrame) else long.where("won")
        pipeline = _influenced(long, int(totals["journeys"] or 0), model=model, code=code, params=params)
        revenue = _influenced(won, int(totals["won_journeys"] or 0), model=model, code=code, params=params)
    finally:
        partials.release()  # the kept touches were read twice (pipeline, revenue): read no more
    left_pipeline = int(totals["pipeline"] or 0) - int(totals["explained_pipeline"] or 0)
    left_revenue = int(totals["revenue"] or 0) - int(totals["explained_revenue"] or 0)
    table = {r["key"]: r for r in sourced.iter_rows(named=True)}
    keys = sorted(set(table) | set(pipeline) | set(revenue), key=lambda k: (k is None, k or ""))
    rows = tuple(
        SourcedRow(
            key=k,
            sourced_deals=int(table.get(k, {}).get("sourced_deals") or 0),
            sourced_pipeline=int(table.get(k, {}).get("sourced_pipeline") or 0),
            sourced_revenue=int(table.get(k, {}).get("sourced_revenue") or 0),
            influenced_pipeline=pipeline.get(k, 0) if k is not None else 0,
            influenced_revenue=revenue.get(k, 0) if k is not None else 0,
        )
        for k in keys
    )
    return SourcedInfluenced(
        by=by,
        model=model,
        as_of=as_of,
        currency=code,
        rows=rows,
        unattributed_pipeline=left_pipeline,
        unattributed_revenue=left_revenue,
    )
