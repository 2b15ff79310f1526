"""Charts of results: the one look of every ``.plot()``, and deterministic SVG (private).

matplotlib is an optional extra (``pip install 'smarketing[plot]'``). It is imported here, and only when a
chart is drawn: ``import smarketing`` never loads it, and a missing extra is one clear error naming it.

Every chart is drawn under the same fixed settings (:data:`RC`): a user's ``matplotlibrc`` or style does
not change what smarketing draws, and :func:`svg` gives the same bytes for the same figure on every run
(no date in the metadata, a fixed hash salt for the ids, text kept as text).

The figures come from pyplot (so Jupyter's and VS Code's inline display knows them) and are closed at once:
pyplot keeps no reference, so a notebook shows each chart once, where it is returned, and nothing leaks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "RC",
    "bar_labels",
    "grouped_bars",
    "legend_outside",
    "new",
    "number_format",
    "percent_axis",
    "percent_format",
    "require",
    "svg",
]

#: Okabe-Ito, colour-blind safe, in the order series get them.
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

#: The settings every chart is drawn and saved under (see the module docstring).
RC: Final[Mapping[str, Any]] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same metrics everywhere
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100.0,
    "savefig.dpi": 100.0,
    "svg.fonttype": "none",  # labels stay text: searchable, small, readable by tests
    "svg.hashsalt": "smarketing",
    "path.simplify": True,
}

_EXTRA = "charts need matplotlib, the 'plot' extra of smarketing: pip install 'smarketing[plot]'"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415 (the optional extra loads only when drawing)
    except ImportError as error:
        raise ModuleNotFoundError(_EXTRA, name="matplotlib") from error
    return plt


def require() -> None:
    """Fail now, naming the ``plot`` extra, when matplotlib is not installed (before work a chart would end).

    Raises:
        ModuleNotFoundError: matplotlib is not installed (the message names the ``plot`` extra).
    """
    _pyplot()


@contextmanager
def _rc() -> Iterator[None]:
    import matplotlib as mpl  # noqa: PLC0415 (see _pyplot)
    from cycler import cycler  # noqa: PLC0415 (a dependency of matplotlib)

    settings: Any = {**RC, "axes.prop_cycle": cycler(color=list(PALETTE))}
    with mpl.rc_context(settings):
        yield


def new(
    rows: int = 1, cols: int = 1, *, title: str, width: float = 7.0, height: float = 3.2
) -> tuple[Figure, list[Axes]]:
    """A closed pyplot figure of ``rows`` x ``cols`` axes (listed row by row), with a title.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (the message names the ``plot`` extra).
    """
    plt = _pyplot()
    with _rc():
        fig, grid = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, layout="constrained")
        fig.suptitle(title, fontsize=11.0)
    plt.close(fig)
    return fig, [ax for row in grid for ax in row]


def svg(fig: Figure) -> str:
    """``fig`` as an SVG document: the same figure gives the same text, byte for byte.

    Examples:
        >>> from smarketing import _charts
        >>> fig, (ax,) = _charts.new(title="Two bars")
        >>> _ = ax.bar(["a", "b"], [1, 2])
        >>> text = _charts.svg(fig)
        >>> text.startswith("<?xml") and ">Two bars<" in text and text == _charts.svg(fig)
        True
    """
    _pyplot()
    buffer = io.StringIO()
    with _rc():
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def grouped_bars(
    ax: Axes,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    horizontal: bool = True,
) -> None:
    """One bar per category and series, side by side (top to bottom when ``horizontal``), with a legend."""
    n = max(len(series), 1)
    size = 0.8 / n
    positions = range(len(categories))
    for i, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + size * (i + 0.5) for p in positions]
        colour = PALETTE[i % len(PALETTE)]
        if horizontal:
            ax.barh(offsets, values, height=size, label=name, color=colour)
        else:
            ax.bar(offsets, values, width=size, label=name, color=colour)
    if horizontal:
        ax.set_yticks(list(positions), list(categories))
        ax.invert_yaxis()  # the first category on top, as a table reads
    else:
        ax.set_xticks(list(positions), list(categories))
    if len(series) > 1:
        legend_outside(ax)


def legend_outside(ax: Axes) -> None:
    """The legend of ``ax`` right of the plot, where it hides no bar; none when nothing is labelled.

    An empty result (a ledger without lines) draws no labelled series; matplotlib would warn of the empty
    legend.
    """
    if not ax.get_legend_handles_labels()[0]:
        return
    ax.legend(frameon=False, fontsize=8.0, loc="center left", bbox_to_anchor=(1.0, 0.5))


def bar_labels(ax: Axes, labels: Sequence[str], *, index: int = 0) -> None:
    """Write ``labels`` at the ends of the bars of the ``index``-th bar series of ``ax``."""
    ax.bar_label(ax.containers[index], labels=list(labels), padding=3, fontsize=8.0)  # type: ignore[arg-type]
    ax.margins(x=0.18)  # room for the labels inside the axes


def percent_format(ax: Axes, axis: str = "x", *, scale: float = 1.0) -> None:
    """Show ``axis`` as percentages of ``scale`` (1 for shares, 100 for values already in percent)."""
    from matplotlib.ticker import PercentFormatter  # noqa: PLC0415 (see _pyplot)

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(xmax=scale, decimals=0))


def number_format(ax: Axes, axis: str = "x") -> None:
    """Show ``axis`` as plain numbers with thousands separators (no ``1e6`` offset)."""
    from matplotlib.ticker import StrMethodFormatter  # noqa: PLC0415 (see _pyplot)

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def percent_axis(ax: Axes, axis: str = "x", *, top: float = 1.0) -> None:
    """Show ``axis`` of shares 0..1 as 0%..100% (up to ``top``, at least 1)."""
    percent_format(ax, axis)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(0.0, max(1.0, top))
