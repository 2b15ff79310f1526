"""Lead scoring: :func:`score` gives each lead a fit and an engagement score, grades and the MQL flag.

Its result, :class:`LeadScores`, explains every score on demand (:meth:`LeadScores.explain`,
:meth:`LeadScores.factors`): the fit rules that held and the events that made the engagement, each with its
points, decay weight and cap.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing import _charts
from smarketing._display import html_table, local_time, text_table
from smarketing.frames import _engine as engine
from smarketing.persona import _kernel, _scale

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smarketing.persona.model import Persona
    from smarketing.plan import AlignmentPlan

__all__ = ["FACTOR_COLUMNS", "LeadExplanation", "LeadScores", "score"]

#: The columns of :meth:`LeadScores.factors`, in order.
FACTOR_COLUMNS = (
    "lead_id",
    "persona",
    "kind",
    "rule",
    "description",
    "group",
    "on",
    "record_id",
    "time",
    "holds",
    "raw_points",
    "weight",
    "points",
    "capped",
)


@attrs.frozen(repr=False)
class LeadExplanation:
    """One lead's scores and the factors that made them (see :meth:`LeadScores.explain`).

    Attributes:
        lead_id: The lead.
        scores: Its row of :attr:`LeadScores.frame`, as a mapping.
        mql_rule: The MQL rule of its persona, in words.
        factors: The fit rules (each, held or not) and the signal occurrences, as in
            :meth:`LeadScores.factors`.
    """

    lead_id: str
    scores: Mapping[str, Any]
    mql_rule: str
    factors: pl.DataFrame

    def to_frame(self) -> pl.DataFrame:
        """The factors."""
        return self.factors

    def to_dict(self) -> dict[str, Any]:
        """The scores and the factors as plain values (times as ISO 8601 text)."""
        factors = self.factors.with_columns(pl.col("time").dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z"))
        return {
            "lead_id": self.lead_id,
            "scores": dict(self.scores),
            "mql_rule": self.mql_rule,
            "factors": factors.to_dicts(),
        }

    @property
    def headline(self) -> str:
        """The scores in a sentence."""
        s = self.scores
        if s["persona"] is None:
            return f"{self.lead_id}: no persona matched, so no score (fit 0, engagement 0, not an MQL)"
        mql = "an MQL" if s["mql"] else "not an MQL"
        return (
            f"{self.lead_id} ({s['persona']}): fit {s['fit']:g}, engagement {s['engagement']:g}, "
            f"grade {s['grade'] or '-'}, {mql} by {self.mql_rule}"
        )

    def _rows(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        shown = ["kind", "rule", "description", "time", "raw_points", "weight", "points", "capped"]
        frame = self.factors.select(
            "kind",
            "rule",
            "description",
            pl.col("time").dt.to_string("%Y-%m-%d %H:%M"),
            "raw_points",
            pl.col("weight").round(4),
            pl.col("points").round(4),
            "capped",
        )
        return shown, frame.rows()

    def __repr__(self) -> str:
        headers, rows = self._rows()
        return f"{self.headline}\n{text_table(headers, rows)}"

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return f"<p>{html.escape(self.headline)}</p>{html_table(headers, rows)}"


@attrs.frozen(repr=False)
class LeadScores:
    """Every lead's fit and engagement, grades and MQL flag at ``as_of`` (see :func:`score`).

    Attributes:
        as_of: The instant scored; later events and leads were left out.
        frame: One row per lead created by ``as_of``, by ``lead_id``: ``persona`` (String), ``fit`` and
            ``engagement`` (Float64), ``fit_grade``, ``band`` and ``grade`` (String), ``mql`` (Boolean).
            A polars DataFrame; on PySpark input a PySpark DataFrame kept on Spark (in no order; write it
            out with ``scores.frame.write.parquet(...)``), so that no lead's row has to pass through
            this process. :meth:`to_frame` reads it as polars, by ``lead_id``.
        by_persona: Per persona in plan order, then leads without one: ``leads``, ``mql`` and the
            ``mql_rule`` in words.
        counts: ``leads``, ``scored`` (with a persona), ``no_persona``, ``mql``, ``leads_after_as_of`` and
            ``events_after_as_of`` (left out).
        notes: What to know when reading the flags: a persona on the legacy total rule, where engagement
            alone can make an MQL, or with no rule at all.
    """

    as_of: datetime
    frame: Any
    by_persona: pl.DataFrame
    counts: Mapping[str, int]
    notes: tuple[str, ...]
    _inputs: _kernel.Inputs | None = attrs.field(alias="inputs", eq=False)
    _personas: tuple[Persona, ...] = attrs.field(alias="personas", eq=False)
    _data: Any = attrs.field(alias="data", default=None, eq=False)
    _fired: pl.DataFrame | None = attrs.field(alias="fired", default=None, eq=False)
    _loaded: dict[str, _kernel.Inputs] = attrs.field(init=False, factory=dict, eq=False)

    def to_frame(self) -> pl.DataFrame:
        """The per-lead scores, by ``lead_id``.

        When :attr:`frame` is kept on Spark, this reads every row into this process once, and the scores
        keep them (write large results out with ``scores.frame.write`` instead).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> scores = sm.persona.score(plan, {}, as_of=datetime(2026, 11, 1, tzinfo=timezone.utc))
            >>> scores.to_frame().columns
            ['lead_id', 'persona', 'fit', 'engagement', 'fit_grade', 'band', 'grade', 'mql']
        """
        if engine.is_spark(self.frame):
            kept = self.frame
            return engine.read_once(
                kept, ("persona.score", "lead_id"), lambda: engine.to_polars(kept).sort("lead_id")
            )
        frame: pl.DataFrame = self.frame
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The scores as plain, JSON-ready values (factors are not included: see :meth:`factors`).

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> scores = sm.persona.score(plan, {}, as_of=datetime(2026, 11, 1, tzinfo=timezone.utc))
            >>> scores.to_dict()["counts"]["leads"]
            0
        """
        return {
            "as_of": self.as_of.isoformat(),
            "counts": dict(self.counts),
            "notes": list(self.notes),
            "by_persona": self.by_persona.to_dicts(),
            "leads": self.to_frame().to_dicts(),
        }

    def factors(self, lead_ids: Iterable[str] | None = None) -> pl.DataFrame:
        """The factors of the scores of ``lead_ids`` (default: every lead), computed now from the inputs.

        One row per fit rule of the lead's persona (``kind`` ``"fit"``, ``rule`` ``"fit[i]"``, ``holds``)
        and per signal occurrence (``kind`` ``"engagement"``, ``rule`` the signal id, its ``group``, the
        record kind ``on``, ``record_id``, ``time``, ``raw_points``, decay ``weight`` and ``points`` after
        decay). ``capped`` marks occurrences of a group whose sum the persona's cap cut. Leads without a
        persona have no factors. Rows by lead, fit rules first in plan order, then occurrences by time.

        The scores do not read the events' record ids; the first call reads them (and, from a dataframe
        such as ``pl.scan_parquet``, checks them: a repeated id is a
        :class:`~smarketing.errors.DataError` here).
        """
        inputs = self._factor_inputs()
        if lead_ids is not None:
            ids = pl.Series(values=sorted(set(lead_ids)), dtype=pl.String()).implode()
            inputs = _kernel.Inputs(
                leads=inputs.leads.filter(pl.col("lead_id").is_in(ids)),
                events={k: v.filter(pl.col("lead_id").is_in(ids)) for k, v in inputs.events.items()},
                accounts=inputs.accounts,
            )
        return _kernel.factors(inputs, self._personas, now_us=_kernel.as_of_us(self.as_of)).select(
            FACTOR_COLUMNS
        )

    def signals(self) -> pl.DataFrame:
        """How often each persona's signals fired for its leads up to ``as_of``, computed now from the inputs.

        One row per persona and signal in plan order: ``persona``, ``side`` (``"interest"``, marketing's, or
        ``"readiness"``, sales'), ``signal``, ``group``, ``on``, ``occurrences`` (events of the persona's
        leads the signal matched) and ``leads`` (distinct leads with one). A signal that never fired has 0.

        Examples:
            >>> from datetime import datetime, timezone
            >>> import smarketing as sm
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> scores = sm.persona.score(plan, {}, as_of=datetime(2026, 11, 1, tzinfo=timezone.utc))
            >>> scores.signals().select("persona", "side", "signal", "occurrences").head(2).rows()
            [('ops-director', 'interest', 'webinar', 0), ('ops-director', 'interest', 'guide', 0)]
        """
        if self._fired is not None:
            counts = self._fired
            return self._signal_table(counts)
        now = _kernel.as_of_us(self.as_of)
        leads = self.frame.lazy().select("lead_id", "persona")
        counts = (
            _kernel.occurrences(self._inputs or self._factor_inputs(), leads, self._personas, now_us=now)
            .group_by("persona", "signal")
            .agg(
                pl.len().cast(pl.Int64).alias("occurrences"),
                pl.col("lead_id").n_unique().cast(pl.Int64).alias("leads"),
            )
            .collect()
        )
        return self._signal_table(counts)

    def _signal_table(self, counts: pl.DataFrame) -> pl.DataFrame:
        """The plan's personas and signals with the ``occurrences`` and ``leads`` of ``counts``."""
        listed = [
            (p.id, path.split("_", 1)[0], s.id, group, s.on)
            for p in self._personas
            for path, s, group in p.signals()
        ]
        plan_order = pl.DataFrame(
            listed,
            schema={
                "persona": pl.String(),
                "side": pl.String(),
                "signal": pl.String(),
                "group": pl.String(),
                "on": pl.String(),
            },
            orient="row",
        )
        return plan_order.join(
            counts, on=["persona", "signal"], how="left", maintain_order="left"
        ).with_columns(pl.col("occurrences", "leads").fill_null(0))

    def _factor_inputs(self) -> _kernel.Inputs:
        """The inputs with the events' record ids, read (and, from a lazy source, checked) once."""
        if self._inputs is not None and self._data is None:
            return self._inputs
        if "inputs" not in self._loaded:
            signals = [s for p in self._personas for _, s, _ in p.signals()]
            self._loaded["inputs"] = _kernel.load(self._data, signals)
        return self._loaded["inputs"]

    def explain(self, lead_id: str) -> LeadExplanation:
        """Why ``lead_id`` has its scores: every factor with its points and time.

        Raises:
            KeyError: No lead ``lead_id`` was scored.
        """
        if engine.is_spark(self.frame):
            F, _ = engine.spark_sql()  # noqa: N806 (Spark's own names)
            row = engine.to_polars(self.frame.where(F.col("lead_id") == lead_id))
        else:
            row = self.frame.filter(pl.col("lead_id") == lead_id)
        if row.height == 0:
            raise KeyError(f"no lead {lead_id!r} was scored (created by {self.as_of.isoformat()})")
        scores = row.row(0, named=True)
        rules = {p.id: p.scoring.mql_rule for p in self._personas}
        return LeadExplanation(
            lead_id=lead_id,
            scores=scores,
            mql_rule=rules.get(scores["persona"], "none (no persona)"),
            factors=self.factors([lead_id]),
        )

    @property
    def summary(self) -> str:
        """The counts in a sentence."""
        c = self.counts
        return (
            f"{c['leads']:,} lead(s) scored as of {local_time(self.as_of)}: {c['scored']:,} with a persona, "
            f"{c['no_persona']:,} without (fit and engagement 0), {c['mql']:,} MQL(s)"
        )

    def __repr__(self) -> str:
        notes = "".join(f"\nnote: {n}" for n in self.notes)
        table = text_table(self.by_persona.columns, self.by_persona.rows())
        return f"LeadScores: {self.summary}\n{table}{notes}"

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        table = html_table(self.by_persona.columns, self.by_persona.rows(), caption="Leads per persona")
        return f"<p>{html.escape(self.summary)}</p>{table}{notes}"

    def plot(self, *, bins: int = 10) -> Figure:
        """How fit and engagement scores are spread, MQLs apart from the rest (needs the ``plot`` extra).

        Only leads with a persona are drawn (the others score 0 and are counted in the title).

        Examples:
            >>> from smarketing.testing.fixtures import AS_OF, example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> fig = sm.persona.score(plan, example_dataset(), as_of=AS_OF).plot()
            >>> [ax.get_xlabel() for ax in fig.axes]
            ['fit score (points)', 'engagement score (points)']
        """
        if bins < 1:
            raise ValueError(f"bins must be at least 1, not {bins}")
        scored = self.to_frame().filter(pl.col("persona").is_not_null())
        title = f"Lead scores at {self.as_of:%Y-%m-%d %H:%M %Z}: {scored.height:,} leads with a persona"
        if self.counts.get("no_persona"):
            title += f", {self.counts['no_persona']:,} without"
        fig, axes = _charts.new(1, 2, title=title)
        for ax, column in zip(axes, ("fit", "engagement"), strict=True):
            mql = scored.filter(pl.col("mql")).get_column(column).to_list()
            rest = scored.filter(~pl.col("mql")).get_column(column).to_list()
            ax.hist(
                [rest, mql],
                bins=bins,
                stacked=True,
                label=["not MQL", "MQL"],
                color=["#b9d7ea", _charts.PALETTE[0]],
            )
            ax.set_xlabel(f"{column} score (points)")
            ax.set_ylabel("leads")
        axes[0].legend(frameon=False, fontsize=8.0)
        return fig


def score(plan: AlignmentPlan, data: Any, *, as_of: datetime) -> LeadScores:
    """Score every lead on fit and engagement at ``as_of``, with grades and the MQL flag.

    **Persona.** Each lead is scored against the persona :func:`~smarketing.persona.match` gives it (the
    CRM's own ``persona`` column is not read). A lead with no persona gets fit 0, engagement 0, no grade
    and no MQL flag; it is counted in ``counts["no_persona"]``. Leads created after ``as_of`` are left out
    and counted.

    **Fit** is the sum of the points of the persona's fit rules that hold, without decay. A rule compares
    the lead's attribute (``industry``, ``company_size``, ``region`` and ``country`` fall back to the
    account's) by ``eq``, ``ne``, ``in``, ``not_in``, ``gte``, ``lte``, ``between`` (inclusive) or
    ``contains`` (case-insensitive text); a missing value never holds, not even for ``ne`` or ``not_in``.

    **Engagement** sums, per signal group, the points of every event at or before ``as_of`` that a signal
    of the lead's persona matches (a record of kind ``on`` whose ``where`` fields equal the value or one of
    the list), each times its decay weight: ``2^(-Δt/h)`` for a half-life of ``h`` days, or ``(1 -
    p/100)^floor(Δt/every)`` for a step decay (at a period boundary the step has happened). An event two
    signals match counts for both. A group's sum is cut to the persona's cap for it, then the groups are
    added. Each occurrence's points are rounded once to 1e-9 points and summed exactly, so the scores do
    not depend on the order of the rows.

    **Grades.** The fit grade is the grade band with the highest ``min_fit`` the fit reaches (none: null);
    with ``engagement_bands``, the band with the highest ``min_engagement`` reached, and the grade is the
    matrix cell ``fit_grade + band`` (``"A1"``; null when either is). Without bands, the grade is the fit
    grade.

    **MQL.** By the persona's ``mql`` rule: fit >= ``min_fit`` and engagement >= ``min_engagement`` (and
    the total >= ``min_total`` when given), or engagement >= ``engagement_alone`` when the plan says so.
    The legacy ``mql_threshold`` is a total rule (fit + engagement >= threshold) under which engagement
    alone can make an MQL; ``notes`` says so. No rule: no MQL.

    Args:
        plan: The alignment plan; its ``personas`` are used.
        data: A :class:`~smarketing.records.Dataset` or a mapping of record kind (``"leads"``,
            ``"accounts"``, ``"touchpoints"``, ``"activities"``, ``"stage_events"``) to records or a
            dataframe. A dataframe (``pl.scan_parquet(...)`` too) is read in the columns used only, and
            those are checked (see :func:`~smarketing.frames.as_lazy`); the events' record ids are read
            by :meth:`LeadScores.factors` alone.
        as_of: The timezone-aware instant to score at.

    Returns:
        The scores, one row per lead, with the factors on demand.

    Raises:
        DataError: ``as_of`` is naive, or a column is missing or has the wrong type.

    Examples:
        >>> from datetime import datetime, timezone
        >>> import smarketing as sm
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> def day(d):
        ...     return datetime(2026, 10, d, tzinfo=timezone.utc)
        >>> data = {
        ...     "leads": [
        ...         sm.Lead(
        ...             id="L1",
        ...             created_at=day(1),
        ...             industry="logistics",
        ...             company_size=800,
        ...             region="dach",
        ...             title="VP Supply Chain",
        ...             seniority="vp",
        ...         ),
        ...     ],
        ...     "touchpoints": [
        ...         sm.Touchpoint(id="T1", lead_id="L1", time=day(1), channel="webinar", team="marketing"),
        ...     ],
        ... }
        >>> scores = sm.persona.score(plan, data, as_of=day(31))
        >>> scores.frame.rows()
        [('L1', 'ops-director', 50.0, 5.0, 'A', '3', 'A3', False)]
        >>> scores.explain("L1").factors.select("kind", "rule", "points").rows()
        [('fit', 'fit[0]', 20.0), ('fit', 'fit[1]', 15.0), ('fit', 'fit[2]', 15.0),
         ('engagement', 'webinar', 5.0)]
    """
    personas = tuple(plan.personas)
    now = _kernel.as_of_us(as_of)
    signals = [s for p in personas for _, s, _ in p.signals()]
    on_spark = _scale.spark_frames(data) is not None
    # The scores do not read the events' record ids: only the factors do (loaded with them on demand).
    inputs = None if on_spark else _kernel.load(data, signals, record_ids=False)

    # The map shipped to Spark's workers holds no Spark frame: on Spark it loads each partition itself.
    whole = None if on_spark else data

    def fn(part: Any) -> dict[str, pl.DataFrame]:
        loaded = inputs if part is whole else None
        return _scale.score_map(part, personas, now_us=now, inputs=loaded, signals=on_spark)

    partials, spark = _scale.lead_run(data, fn, _scale.SCORE_TABLES, _scale.score_reads(signals))
    per = partials.merged("by_persona")
    late = partials.merged("late")
    frame = partials.rows("leads")
    leads = int(per.get_column("leads").sum())
    no_persona = int(per.filter(pl.col("persona").is_null()).get_column("leads").sum())
    counts = {
        "leads": leads,
        "scored": leads - no_persona,
        "no_persona": no_persona,
        "mql": int(per.get_column("mql").sum()),
        **{c: int(late.get_column(c).sum()) for c in ("leads_after_as_of", "events_after_as_of")},
    }
    return LeadScores(
        as_of=as_of,
        frame=frame if spark or frame.get_column("lead_id").is_sorted() else frame.sort("lead_id"),
        by_persona=_by_persona(personas, per),
        counts=counts,
        notes=tuple(_notes(personas)),
        inputs=inputs,
        personas=personas,
        data=data,
        fired=partials.merged("signals") if spark else None,
    )


def _by_persona(personas: tuple[Persona, ...], per: pl.DataFrame) -> pl.DataFrame:
    """The plan's personas (then leads without one) with the merged ``leads`` and ``mql`` per persona."""
    base = pl.DataFrame(
        {
            "persona": [*(p.id for p in personas), None],
            "mql_rule": [*(p.scoring.mql_rule for p in personas), "none (no persona)"],
        },
        schema={"persona": pl.String(), "mql_rule": pl.String()},
    )
    return (
        base.join(per, on="persona", how="left", nulls_equal=True)
        .with_columns(pl.col("leads", "mql").fill_null(0).cast(pl.UInt32))
        .select("persona", "leads", "mql", "mql_rule")
    )


def _notes(personas: tuple[Persona, ...]) -> list[str]:
    out = []
    for p in personas:
        s = p.scoring
        if s.mql is None and s.mql_threshold is not None:
            out.append(
                f"persona {p.id!r} uses the legacy mql_threshold {s.mql_threshold}: a total rule (fit + "
                "engagement), so engagement alone can make an MQL; give scoring.mql to require both"
            )
        elif s.mql is None:
            out.append(f"persona {p.id!r} has no MQL rule: none of its leads is an MQL")
    return out
