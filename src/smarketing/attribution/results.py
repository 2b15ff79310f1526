"""Result types of attribution: one model's credits (:class:`Attribution`) and several side by side."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import polars as pl

from smarketing import _charts, _display
from smarketing.errors import CurrencyMismatchError
from smarketing.money import Money

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Attribution", "Comparison"]

_HTML_ROWS = 20
_TEXT_ROWS = 20


class _ReadOnlyDict(dict[str, Any]):
    """A dict that reads like one (and prints like one) but cannot be changed."""

    def _blocked(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("attribution results are immutable; build a new one with attrs.evolve()")

    __setitem__ = __delitem__ = __ior__ = _blocked
    clear = pop = popitem = setdefault = update = _blocked

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return _ReadOnlyDict(mapping)


@attrs.frozen(eq=False)
class Attribution:
    """Credits of one attribution model, per key: conversions (floats) and value (exact, per currency).

    Credits add up to the totals: conversions up to float rounding, value exactly (each currency's total is
    split with :func:`~smarketing.money.allocate`, ties to the smaller key).

    Examples:
        >>> import polars as pl
        >>> from smarketing.attribution import attribute
        >>> paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1]})
        >>> result = attribute(paths, model="first")
        >>> result.conversions, result.total_conversions
        ({'a': 1.0, 'b': 1.0}, 2.0)
        >>> result.to_frame().columns
        ['channel', 'conversions', 'share']
    """

    model: str
    """The model's name."""
    key: str
    """What got credit (``channel``, ``team``, ``owner``, ...)."""
    params: Mapping[str, Any] = attrs.field(converter=_freeze)
    """The model parameters given."""
    conversions: Mapping[str, float] = attrs.field(converter=_freeze)
    """Conversions credited per key (every key of the data, sorted)."""
    value: Mapping[str, Mapping[str, Money]] = attrs.field(converter=_freeze)
    """Value credited: currency -> key -> amount."""
    total_conversions: float
    """All conversions of the data."""
    total_value: Mapping[str, Money] = attrs.field(converter=_freeze)
    """All value of the data, per currency."""
    removal_effects: Mapping[str, float] | None = None
    """Markov: the share of conversions lost when the key is removed."""
    value_removal_effects: Mapping[str, Mapping[str, float]] | None = None
    """Markov: the share of value lost when the key is removed, per currency."""
    conversion_probability: float | None = None
    """Markov: the probability that a journey converts, from the chain."""
    transitions: pl.DataFrame | None = None
    """Markov: the transition counts and probabilities (``from, to, count, probability``)."""
    shapley_values: Mapping[str, float] | None = None
    """Shapley: each key's Shapley value in the conversions game."""
    shapley_interval: Mapping[str, tuple[float, float]] | None = None
    """Shapley, when sampled: a 95% confidence interval of each value."""
    touches: Any = None
    """Per-touch credit, when asked for with ``per_touch=True``: a polars DataFrame (``journey``,
    ``position``, ``touch``, the key, ``credit``, ``value_<CUR>``), in touch order. On a PySpark input a
    table model's touches stay on Spark: a PySpark DataFrame of the same columns and rows, in no
    particular order, to write out with its writer (``result.touches.write.parquet(...)``); reading it
    runs the map again. :meth:`to_dict` leaves the touches out, so it never collects them."""

    @property
    def keys(self) -> list[str]:
        """The keys, sorted."""
        return list(self.conversions)

    @property
    def currencies(self) -> list[str]:
        """The currencies of :attr:`value`, sorted."""
        return sorted(self.value)

    def share(self) -> dict[str, float]:
        """Each key's share of the conversions (0 when there are none).

        Examples:
            >>> import polars as pl
            >>> from smarketing.attribution import attribute
            >>> attribute(pl.DataFrame({"path": ["a > b"], "total_conversions": [2]}), model="last").share()
            {'a': 0.0, 'b': 1.0}
        """
        total = self.total_conversions
        return {k: (c / total if total else 0.0) for k, c in self.conversions.items()}

    def to_frame(self) -> pl.DataFrame:
        """One row per key: conversions, share, value per currency, and removal effect or Shapley value.

        Value comes as one Decimal column ``value_<CUR>`` per currency; ``removal_effect`` (Markov) and
        ``shapley_value`` (Shapley) are there for those models.

        Examples:
            >>> import polars as pl
            >>> from smarketing.attribution import Journeys, attribute
            >>> from decimal import Decimal
            >>> frame = pl.DataFrame({"path": ["a > b"], "total_conversions": [1], "v": [Decimal("9.99")]})
            >>> journeys = Journeys.from_paths(frame, value="v", currency="EUR")
            >>> attribute(journeys, model="linear").to_frame().row(0)
            ('a', 0.5, 0.5, Decimal('5.00'))
        """
        columns: dict[str, pl.Series] = {
            self.key: pl.Series(self.key, self.keys, dtype=pl.String),
            "conversions": pl.Series("conversions", list(self.conversions.values()), dtype=pl.Float64),
            "share": pl.Series("share", list(self.share().values()), dtype=pl.Float64),
        }
        for code in self.currencies:
            places = Money.zero(code).minor_units
            amounts = [self.value[code][k].amount for k in self.keys]
            columns[f"value_{code}"] = pl.Series(f"value_{code}", amounts, dtype=pl.Decimal(38, places))
        if self.removal_effects is not None:
            columns["removal_effect"] = pl.Series(
                "removal_effect", [self.removal_effects[k] for k in self.keys], dtype=pl.Float64
            )
        if self.shapley_values is not None:
            columns["shapley_value"] = pl.Series(
                "shapley_value", [self.shapley_values[k] for k in self.keys], dtype=pl.Float64
            )
        return pl.DataFrame(list(columns.values()))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: model, key, params, totals and credits (money as strings such as ``"12.30 EUR"``).

        Examples:
            >>> import polars as pl
            >>> from smarketing.attribution import attribute
            >>> result = attribute(pl.DataFrame({"path": ["a"], "total_conversions": [1]}), model="last")
            >>> result.to_dict()["credits"], result.to_dict()["total_conversions"]
            ({'a': {'conversions': 1.0, 'value': {}}}, 1.0)
        """
        out: dict[str, Any] = {
            "model": self.model,
            "key": self.key,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "total_conversions": self.total_conversions,
            "total_value": {c: str(m) for c, m in sorted(self.total_value.items())},
            "credits": {
                k: {"conversions": c, "value": {cur: str(self.value[cur][k]) for cur in self.currencies}}
                for k, c in self.conversions.items()
            },
        }
        if self.removal_effects is not None:
            out["removal_effects"] = dict(self.removal_effects)
            out["conversion_probability"] = self.conversion_probability
        if self.shapley_values is not None:
            out["shapley_values"] = dict(self.shapley_values)
        if self.shapley_interval is not None:
            out["shapley_interval"] = {k: list(v) for k, v in self.shapley_interval.items()}
        return out

    def _title(self) -> str:
        params = ", ".join(f"{k}={_plain(v)!r}" for k, v in self.params.items())
        model = f"{self.model}({params})" if params else self.model
        value = ", ".join(str(m) for _, m in sorted(self.total_value.items()))
        return (
            f"Attribution(model={model}, key={self.key!r}, conversions={self.total_conversions:g}"
            + (f", value={value}" if value else "")
            + ")"
        )

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        headers = [self.key, "conversions", "share"] + [f"value {c}" for c in self.currencies]
        rows = []
        shares = self.share()
        for k in sorted(self.keys, key=lambda k: (-self.conversions[k], k)):
            row = [k, f"{self.conversions[k]:.4f}", f"{shares[k]:.1%}"]
            row += [f"{self.value[c][k].amount:,}" for c in self.currencies]
            rows.append(row)
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        return self._title() + "\n" + _text_table(headers, rows, _TEXT_ROWS)

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return f"<p>{html.escape(self._title())}</p>" + _display.html_table(
            headers, rows, max_rows=_HTML_ROWS
        )

    def plot(self) -> Figure:
        """Conversions credited to each key, as a bar chart (needs the ``plot`` extra), labelled by share.

        Examples:
            >>> from smarketing.testing.fixtures import example_dataset
            >>> journeys = sm.attribution.Journeys.from_touchpoints(example_dataset(), key="team")
            >>> fig = sm.attribution.attribute(journeys, model="linear").plot()
            >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
            ['marketing', 'sales']
        """
        keys = self.keys
        fig, (ax,) = _charts.new(title=self._title(), height=0.8 + 0.35 * max(len(keys), 2))
        ax.barh(keys, [self.conversions[k] for k in keys], color=_charts.PALETTE[0])
        share = self.share()
        _charts.bar_labels(ax, [f"{100 * share[k]:.1f}%" for k in keys])
        ax.invert_yaxis()
        ax.set_xlabel(f"conversions credited (by {self.key})")
        return fig


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return str(value)
    if callable(value):
        return getattr(value, "__name__", "function")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], limit: int) -> str:
    shown = list(rows[:limit])
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest])

    out = [line(headers), *(line(r) for r in shown)]
    if len(rows) > limit:
        out.append(f"  ... {len(rows) - limit} more row(s)")
    return "\n".join(out)


@attrs.frozen(eq=False)
class Comparison:
    """Several models' credits side by side.

    Examples:
        >>> import polars as pl
        >>> from smarketing.attribution import compare
        >>> paths = pl.DataFrame({"path": ["a > b", "b"], "total_conversions": [1, 1]})
        >>> compare(paths, models=["first", "last"]).to_frame().rows()
        [('a', 1.0, 0.0), ('b', 1.0, 2.0)]
    """

    results: tuple[Attribution, ...]
    """One result per model, in the order asked."""
    labels: tuple[str, ...]
    """Column labels: the model name, with its parameters where several share a name."""

    def to_frame(self, metric: Literal["conversions", "share", "value"] = "conversions") -> pl.DataFrame:
        """One row per key, one column per model.

        Args:
            metric: ``conversions`` (default), ``share`` of conversions, or ``value`` (one currency only).

        Returns:
            A polars frame; value columns are Decimal.
        """
        key = self.results[0].key
        keys = sorted({k for r in self.results for k in r.keys})
        columns = [pl.Series(key, keys, dtype=pl.String)]
        for label, result in zip(self.labels, self.results, strict=True):
            if metric == "conversions":
                columns.append(
                    pl.Series(label, [result.conversions.get(k, 0.0) for k in keys], dtype=pl.Float64)
                )
            elif metric == "share":
                share = result.share()
                columns.append(pl.Series(label, [share.get(k, 0.0) for k in keys], dtype=pl.Float64))
            elif metric == "value":
                if len(result.currencies) != 1:
                    raise CurrencyMismatchError(
                        f"{label}: value comparison needs exactly one currency, found {result.currencies}; "
                        "pass fx= and currency="
                    )
                code = result.currencies[0]
                places = Money.zero(code).minor_units
                amounts = [
                    result.value[code][k].amount if k in result.value[code] else Decimal(0) for k in keys
                ]
                columns.append(pl.Series(label, amounts, dtype=pl.Decimal(38, places)))
            else:
                raise ValueError(f"metric must be 'conversions', 'share' or 'value', not {metric!r}")
        return pl.DataFrame(columns)

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        frame = self.to_frame("share")
        headers = list(frame.columns)
        rows = [[str(r[0]), *(f"{x:.1%}" for x in r[1:])] for r in frame.rows()]
        return headers, rows

    def __repr__(self) -> str:
        headers, rows = self._rows()
        first = self.results[0]
        title = (
            f"Comparison(key={first.key!r}, models={list(self.labels)}, "
            f"conversions={first.total_conversions:g}) share of conversions\n"
        )
        return title + _text_table(headers, rows, _TEXT_ROWS)

    def _repr_html_(self) -> str:
        headers, rows = self._rows()
        return "<p>Share of conversions by model</p>" + _display.html_table(
            headers, rows, max_rows=_HTML_ROWS
        )

    def plot(self, metric: Literal["conversions", "share"] = "share") -> Figure:
        """The models side by side: one bar per key and model (needs the ``plot`` extra).

        Examples:
            >>> from smarketing.testing.fixtures import example_dataset
            >>> journeys = sm.attribution.Journeys.from_touchpoints(example_dataset(), key="team")
            >>> fig = sm.attribution.compare(journeys, models=["first", "last"]).plot()
            >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
            ['first', 'last']
        """
        if metric not in ("conversions", "share"):
            raise ValueError(f"metric must be 'conversions' or 'share', not {metric!r}")
        frame = self.to_frame(metric)
        keys = [str(k) for k in frame.get_column(frame.columns[0]).to_list()]
        series = {label: frame.get_column(label).to_list() for label in frame.columns[1:]}
        key = frame.columns[0]
        height = 1.0 + 0.12 * max(len(keys), 2) * max(len(series), 2)
        fig, (ax,) = _charts.new(title=f"Attribution by {key}: model against model", height=height)
        _charts.grouped_bars(ax, keys, series)
        if metric == "share":
            _charts.percent_axis(ax, top=max((v for vs in series.values() for v in vs), default=1.0))
            ax.set_xlabel("share of conversions")
        else:
            ax.set_xlabel("conversions credited")
        return fig
