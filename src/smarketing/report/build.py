"""The public verb: :func:`report`, the whole alignment of a plan and its data in one self-contained page.

Each section is one public analysis of the library, run once and shown as it shows itself in a notebook:
its card (``_repr_html_``) and its chart (``.plot()``, inlined as SVG by :func:`smarketing._charts.svg`).
Nothing here computes a figure of its own. A section the plan or the data cannot give (no SLA in the plan,
no touchpoints, ...) says so in the page; data the library refuses still fails the report, as it fails
every analysis.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from smarketing import _charts
from smarketing._periods import Window, reward_period_kind, zone
from smarketing.attribution import Journeys, attribute, compare
from smarketing.errors import DataError, SmarketingError
from smarketing.feedback import waterfall
from smarketing.journey import conformance, funnel
from smarketing.kpi import computable_kpis, scorecard
from smarketing.money import FxTable
from smarketing.persona import agreement, score
from smarketing.plan import AlignmentPlan
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.report._page import inline_svg
from smarketing.report.result import Report, Section
from smarketing.rewards import compute_rewards
from smarketing.rules import DataRule, PlanRule, check
from smarketing.sla import evaluate_sla

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["report"]

#: The attribution models shown side by side, after the plan's own.
_MODELS = ("first", "last", "linear", "position", "time_decay", "markov")


class _MissingError(Exception):
    """A section the plan or the data cannot give; the message says why, in the page."""


@attrs.frozen
class _Context:
    """What every section reads: the plan, the data and the report's options."""

    plan: AlignmentPlan
    data: Dataset
    as_of: datetime
    window: Window
    tz: str
    fx: FxTable | None
    charts: bool
    rules: Iterable[PlanRule | DataRule] | None
    inputs: Mapping[str, Mapping[str, Any]] | None


class _Parts:
    """The HTML pieces of one section, in order: cards, charts and notes."""

    def __init__(self, section: str, *, charts: bool) -> None:
        self.section = section
        self.charts = charts
        self.html: list[str] = []
        self.notes: list[str] = []
        self._figures = itertools.count(1)

    def card(self, heading: str, content: str) -> None:
        """A result's card under a heading."""
        self.html.append(f'<div class="card"><h3>{html.escape(heading)}</h3>{content}</div>')

    def svg(self, text: str, label: str) -> None:
        """An SVG drawing, its ids made unique in the page (every matplotlib chart has a ``figure_1``)."""
        prefix = f"{self.section}-{next(self._figures)}-"
        self.html.append(
            f'<figure class="chart" aria-label="{html.escape(label)}">{inline_svg(text, prefix)}</figure>'
        )

    def chart(self, draw: Callable[[], Figure], label: str) -> None:
        """A result's ``.plot()`` as inline SVG when charts are wanted; a chart not drawn is a note."""
        if not self.charts:
            return
        try:
            text = _charts.svg(draw())
        except ValueError as error:  # e.g. a label matplotlib reads as broken math text
            self.notes.append(f"chart '{label}' not drawn: {_first_line(error)}")
            return
        self.svg(text, label)

    def note(self, text: str) -> None:
        """Something the reader should know about this section (what was left out, and why)."""
        self.notes.append(text)

    def body(self) -> tuple[str, tuple[str, ...]]:
        """The section's HTML and its notes."""
        return "".join(self.html), tuple(self.notes)


def report(
    plan: AlignmentPlan,
    data: Dataset | Mapping[str, Any],
    *,
    as_of: datetime | None = None,
    period: str | None = None,
    fx: FxTable | None = None,
    charts: bool = True,
    rules: Iterable[PlanRule | DataRule] | None = None,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """The alignment report: the plan and its data in one self-contained HTML page.

    Sections, each from the public analysis named: the plan and its check (:func:`~smarketing.check`),
    the journey and its funnel (:func:`~smarketing.funnel`), conformance (:func:`~smarketing.conformance`),
    both sides of the SLA (:func:`~smarketing.evaluate_sla`), the scorecard of ``period``
    (:func:`~smarketing.scorecard`), the demand waterfall (:func:`~smarketing.waterfall`), attribution by
    channel model by model and by team with the plan's model (:func:`~smarketing.attribution.compare`,
    :func:`~smarketing.attribute`), lead scores and the teams' agreement (:func:`~smarketing.score`,
    :func:`~smarketing.agreement`), and the reward statements of ``period``
    (:func:`~smarketing.compute_rewards`).

    A section the plan or the data cannot give (no SLA in the plan, no touchpoints, ...) says so in the page
    and in :meth:`Report.to_dict`; the other sections are still there. A section whose analysis refuses the
    data (a :class:`~smarketing.errors.DataError`) is ``failed``: the error is shown in the page and listed in
    :attr:`Report.failed`, so the problem is not hidden (the command exits 1 for it).

    The page is deterministic: the same inputs give the same bytes (no time of generation; charts drawn
    under fixed settings). It loads nothing: styles are inline, charts are inline SVG, there is no script,
    and links out of the page are shown as their text.

    Args:
        plan: The alignment plan.
        data: The CRM data (a :class:`~smarketing.records.Dataset` or a mapping of record kind to frame).
        as_of: The instant to describe (aware); default the latest time in the data.
        period: The period of the scorecard and the rewards: ``2026-10``, ``2026-Q4``, ... in the plan's time
            zone; default the month of the last whole day before ``as_of``.
        fx: Exchange rates for the scorecard, the waterfall, attribution and rewards.
        charts: Draw each result's chart (needs the ``plot`` extra, matplotlib); ``False`` leaves them out.
        rules: The rules of the check (default: the built-in rules and installed plugins).
        inputs: External KPI inputs (budget, costs) for the scorecard, as :func:`~smarketing.scorecard` takes.

    Returns:
        The report: :meth:`Report.html`, :meth:`Report.write`, and a notebook view.

    Raises:
        DataError: ``as_of`` is naive, ``period`` is not a period, the data has no time to default
            ``as_of`` to, or the records break a record rule (checked when the dataset is built).
        ModuleNotFoundError: ``charts`` is true and matplotlib (the ``plot`` extra) is not installed.

    Examples:
        >>> import smarketing as sm
        >>> from smarketing.testing.fixtures import example_dataset
        >>> plan = sm.load_plan("examples/plan.yaml")
        >>> r = sm.report(plan, example_dataset(), period="2026-10", charts=False)
        >>> r  # doctest: +ELLIPSIS
        Report('Fernbrook Analytics FY2027', as_of='2026-10-... CEST', period='2026-10', sections=9, ...)
        >>> [s.id for s in r.sections][:4]
        ['plan', 'journey', 'conformance', 'sla']
        >>> r.html() == r.html() and "<script" not in r.html()
        True
    """
    if charts:
        _charts.require()
    if not isinstance(data, Dataset):
        data = Dataset(**data)
    tz = plan.sla.calendar.timezone if plan.sla is not None else "UTC"
    first, last = _data_span(data)
    when = _as_of(as_of, last)
    window = Window.parse(period) if period is not None else _default_period(when, tz)
    context = _Context(plan, data, when, window, tz, fx, charts, rules, inputs)
    sections = tuple(_section(context, key, title, build) for key, title, build in SECTIONS)
    return Report(
        plan=plan.name,
        as_of=when,
        period=window.label,
        tz=tz,
        span=(first, last),
        sections=sections,
    )


def _as_of(given: datetime | None, last: datetime | None) -> datetime:
    if given is None:
        if last is None:
            raise DataError("the data has no dated records to describe; give as_of", field="as_of")
        return last
    if given.tzinfo is None:
        raise DataError("as_of must be timezone-aware", field="as_of")
    return given.astimezone(UTC)


def _default_period(as_of: datetime, tz: str) -> Window:
    """The month of the last whole day before ``as_of`` in ``tz`` (as of 1 November: October)."""
    day = as_of.astimezone(zone(tz)).date() - timedelta(days=1)
    return Window.containing("month", day)


def _data_span(data: Dataset) -> tuple[datetime | None, datetime | None]:
    """The earliest and the latest time in ``data`` (every aware datetime column of every record kind)."""
    lows: list[datetime] = []
    highs: list[datetime] = []
    for kind in RECORD_KINDS:
        frame: pl.DataFrame = getattr(data, kind)
        columns = [
            name
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
        ]
        if not frame.height or not columns:
            continue
        bounds = frame.select(
            *(pl.col(c).min().alias(f"lo{i}") for i, c in enumerate(columns)),
            *(pl.col(c).max().alias(f"hi{i}") for i, c in enumerate(columns)),
        ).row(0, named=True)
        lows += [v for k, v in bounds.items() if k.startswith("lo") and isinstance(v, datetime)]
        highs += [v for k, v in bounds.items() if k.startswith("hi") and isinstance(v, datetime)]
    return (min(lows) if lows else None, max(highs) if highs else None)


def _section(context: _Context, key: str, title: str, build: Callable[[_Context, _Parts], None]) -> Section:
    """Run one section; what stops it becomes the section's status and note, never a lost report.

    A plan or data that cannot give the section (no SLA, no touchpoints, a computation the plan does not
    define) makes it ``not computed``. Data the analysis refuses (a :class:`~smarketing.errors.DataError`:
    a deal whose credit has no one to go to, a stage the journey does not know, ...) makes it ``failed``,
    with the error in the page, in red, and in :attr:`Report.failed`: the problem is shown, not hidden.
    """
    parts = _Parts(key, charts=context.charts)
    try:
        build(context, parts)
    except DataError as error:
        return Section(id=key, title=title, status="failed", html="", notes=(_first_line(error),))
    except (_MissingError, SmarketingError) as error:
        return Section(id=key, title=title, status="not computed", html="", notes=(_first_line(error),))
    content, notes = parts.body()
    return Section(id=key, title=title, status="ok", html=content, notes=notes)


def _first_line(error: Exception) -> str:
    """The first line of the error's message that says something (matplotlib's start with a newline)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _plan(context: _Context, parts: _Parts) -> None:
    parts.card("The plan", context.plan._repr_html_())
    found = check(context.plan, data=context.data, fx=context.fx, rules=context.rules)
    parts.card("The alignment check of the plan and the data", found._repr_html_())


def _journey(context: _Context, parts: _Parts) -> None:
    plan = context.plan
    parts.svg(plan.journey.to_svg(), "the journey map")
    calendar = plan.sla.calendar if plan.sla is not None else None
    result = funnel(plan.journey, context.data, as_of=context.as_of, calendar=calendar)
    parts.card("The funnel: leads reaching each step in order", result._repr_html_())
    parts.chart(result.plot, "the funnel")


def _conformance(context: _Context, parts: _Parts) -> None:
    events = context.data.stage_events.filter(pl.col("time") <= context.as_of)
    if events.height == 0:
        raise _MissingError("no stage events up to as_of")
    result = conformance(context.plan.journey, events)
    parts.card("Each lead's moves against the journey", result._repr_html_())
    parts.chart(result.plot, "conformance")


def _sla(context: _Context, parts: _Parts) -> None:
    if context.plan.sla is None:
        raise _MissingError("the plan has no SLA")
    result = evaluate_sla(context.plan, context.data, as_of=context.as_of)
    parts.card("Sales per handed-off lead, marketing per period", result._repr_html_())
    parts.chart(result.plot, "the SLA by week")


def _scorecard(context: _Context, parts: _Parts) -> None:
    if not context.plan.kpis:
        raise _MissingError("the plan has no KPIs")
    usable, left_out = computable_kpis(context.plan.kpis)
    for kpi, error in left_out:
        parts.note(f"KPI {kpi.id}: left out: {str(error).splitlines()[0]}")
    if not usable:
        raise _MissingError("none of the plan's KPIs can be computed")
    result = scorecard(
        usable,
        context.data,
        period=context.window.label,
        as_of=context.as_of,
        fx=context.fx,
        tz=context.tz,
        inputs=context.inputs,
    )
    parts.card(f"The joint KPIs for {context.window.label}", result._repr_html_())
    parts.chart(result.plot, "the scorecard")


def _waterfall(context: _Context, parts: _Parts) -> None:
    result = waterfall(context.plan, context.data, as_of=context.as_of, fx=context.fx)
    parts.card("Inquiry to won, by monthly cohort", result._repr_html_())
    parts.chart(result.plot, "the waterfall")


def _attribution(context: _Context, parts: _Parts) -> None:
    plan = context.plan
    # Rates convert into the plan's currency; a plan without one reports each deal's own currency.
    fx = context.fx if plan.currency is not None else None
    currency = plan.currency if fx is not None else None
    touches = context.data.touchpoints.filter(pl.col("time") <= context.as_of)
    if touches.height == 0:
        raise _MissingError("no touchpoints up to as_of")
    data = {"touchpoints": touches, "deals": context.data.deals}
    by_channel = Journeys.from_touchpoints(touches, deals=context.data.deals, fx=fx, currency=currency)
    if by_channel.n_journeys == 0 or not by_channel.conversions.sum() > 0:
        raise _MissingError("no won deals with touchpoints")
    setting = plan.rewards.attribution if plan.rewards is not None else None
    name, params = (setting.model, dict(setting.params)) if setting is not None else ("position", {})
    models: list[str | tuple[str, Mapping[str, Any]]] = [(name, params)]
    models += [m for m in _MODELS if m != name]
    side_by_side = compare(by_channel, models=models)
    parts.card("Share of won-deal conversions by channel, model by model", side_by_side._repr_html_())
    parts.chart(side_by_side.plot, "attribution models by channel")
    by_team = attribute(data, model=name, key="team", fx=fx, currency=currency, **params)
    parts.card(f"Conversions by team, by the plan's model ({name})", by_team._repr_html_())
    parts.chart(by_team.plot, "attribution by team")


def _personas(context: _Context, parts: _Parts) -> None:
    plan = context.plan
    if not plan.personas:
        raise _MissingError("the plan defines no personas")
    scores = score(plan, context.data, as_of=context.as_of)
    parts.card("Lead scores: fit, engagement, grades and the MQL call", scores._repr_html_())
    parts.chart(scores.plot, "lead scores")
    agreed = agreement(plan, context.data)
    parts.card("Marketing's MQL call against sales' acceptance", agreed._repr_html_())
    parts.chart(agreed.plot, "agreement")


def _rewards(context: _Context, parts: _Parts) -> None:
    plan = context.plan
    if plan.rewards is None:
        raise _MissingError("the plan has no reward plan")
    label = context.window.label
    try:
        reward_period_kind(label)
    except ValueError:
        raise _MissingError(f"rewards are paid for a month, a quarter or a year, not for {label}") from None
    last = context.window.end - timedelta(days=1)
    day = min(last, context.as_of.astimezone(zone(context.tz)).date())
    ledger = compute_rewards(context.data, plan, fx=context.fx, period=label, as_of=day)
    parts.card(f"The shared reward of {label}", ledger._repr_html_())
    parts.chart(ledger.plot, "rewards by participant")
    for statement in ledger.statements():
        parts.html.append(f'<div class="card statement">{statement.to_html()}</div>')


#: The sections of the report, in order: anchor, title, and the function that fills it.
SECTIONS: tuple[tuple[str, str, Callable[[_Context, _Parts], None]], ...] = (
    ("plan", "The plan and its check", _plan),
    ("journey", "The journey and the funnel", _journey),
    ("conformance", "Conformance to the journey", _conformance),
    ("sla", "Both sides of the SLA", _sla),
    ("scorecard", "The scorecard", _scorecard),
    ("waterfall", "The demand waterfall", _waterfall),
    ("attribution", "Attribution", _attribution),
    ("personas", "Personas, lead scores and agreement", _personas),
    ("rewards", "The reward statements", _rewards),
)
