"""Draw the card's charts (modelcard.card.chart_data) with matplotlib: an SVG to put inline in card.html and a PNG to
put beside README.md. matplotlib is imported here only, when a chart is drawn.

Deterministic output, so golden cards compare equal: a fixed font (DejaVu Sans, which matplotlib ships), text
kept as text in the SVG, a fixed hash salt per chart, no dates or software versions in either file. Accessible:
a title, axis labels with units, the Okabe-Ito colour-blind-safe palette with a distinct line style and marker
per series (readable in monochrome), and the chart's alt text as the SVG's <title>."""

from __future__ import annotations

import functools
import html
import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelcard.card.chart_data import ChartSpec, Panel, bytes_label

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")
DPI = 100
WIDTH_IN, PANEL_HEIGHT_IN = 5.4, 3.1  # 540 px: at 420 px on a phone, 11 pt text still reads as about 11 px
_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "svg.fonttype": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d9dee4",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#5b6673",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "legend.fontsize": 9.5,
    "legend.frameon": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "path.simplify": False,
}


@dataclass(frozen=True)
class DrawnChart:
    spec: ChartSpec
    svg: str  # ready to put inline in HTML: no XML prolog, no namespace URLs, ids prefixed with the chart's name
    png: bytes


def _ticks(low: float, high: float, base: float, most: int = 7) -> list[float]:
    """Powers of `base` (every k-th) within [low, high], at most `most` of them; in decimal, 1-2-5 steps where
    the range holds fewer than three powers."""
    first = math.ceil(math.log(low, base) - 1e-9)
    last = math.floor(math.log(high, base) + 1e-9)
    if last - first < 2:  # a narrow range: 1-2-5 steps in decimal, powers of two and their 1.5 times in binary
        factors = (1, 2, 5) if base == 10 else (1, 1.5)
        steps = [m * float(base) ** k for k in range(first - 1, last + 1) for m in factors]
        return [value for value in steps if low * (1 - 1e-9) <= value <= high * (1 + 1e-9)]
    step = max(1, math.ceil((last - first + 1) / most))
    return [float(base) ** k for k in range(first, last + 1, step)]


def _seconds_label(value: float) -> str:
    if value >= 1:
        return f"{value:g} s"
    if value >= 1e-3:
        return f"{value * 1e3:g} ms"
    return f"{value * 1e6:g} µs"


def _tokens_tick(value: float) -> str:
    whole = int(round(value))
    if whole >= 1024 * 1024 and whole % (1024 * 1024) == 0:
        return f"{whole // (1024 * 1024):,}M"
    if whole >= 1024 and whole % 1024 == 0:
        return f"{whole // 1024:,}K"
    return f"{whole:,}"


def _draw_panel(axes, panel: Panel) -> None:  # noqa: ANN001 (matplotlib's Axes, imported lazily)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    xs = [x for series in panel.series for x in series.x]
    ys = [y for series in panel.series for y in series.y if y > 0]
    for i, series in enumerate(panel.series):
        points = [(x, y) for x, y in zip(series.x, series.y, strict=True) if y > 0]
        if not points:
            continue
        axes.plot(*zip(*points, strict=True), label=series.label, color=OKABE_ITO[i % len(OKABE_ITO)],
                  linestyle=LINE_STYLES[i % len(LINE_STYLES)], marker=MARKERS[i % len(MARKERS)], markersize=3.5,
                  linewidth=1.8 if i == 0 else 1.4)
    axes.set_xscale("log")
    axes.set_yscale("log")
    for j, marker in enumerate(panel.markers):
        axes.axvline(marker.x, color="#5b6673", linestyle=(0, (2, 2)), linewidth=1)
        axes.annotate(marker.label, xy=(marker.x, 0), xycoords=("data", "axes fraction"), rotation=90,
                      ha="right", va="bottom", fontsize=9.5, color="#5b6673", xytext=(-2, 3 + 8 * (j % 2)),
                      textcoords="offset points")
    x_ticks = _ticks(min(xs), max(xs), 2)
    y_low, y_high = min(ys), max(ys)
    if y_high <= y_low:
        y_low, y_high = y_low / 2, y_high * 2
    axes.set_ylim(y_low / 1.5, y_high * 1.5)
    y_ticks = _ticks(y_low / 1.5, y_high * 1.5, 2 if panel.y_unit == "bytes" else 10)
    axes.xaxis.set_major_locator(FixedLocator(x_ticks))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _tokens_tick(value)))
    axes.yaxis.set_major_locator(FixedLocator(y_ticks))
    axes.yaxis.set_minor_locator(NullLocator())
    label = bytes_label if panel.y_unit == "bytes" else _seconds_label
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: label(value)))
    axes.set_xlim(min(xs) / 1.2, max(xs) * 1.2)
    axes.set_xlabel(panel.x_label)
    axes.set_ylabel(panel.y_label)
    if panel.title:
        axes.set_title(panel.title, loc="left")
    if len(panel.series) > 1 or any(series.label.startswith("measured (") for series in panel.series):
        axes.legend(loc=panel.legend)


def _draw_grid(figure, spec: ChartSpec) -> None:  # noqa: ANN001
    import numpy as np

    grid = spec.grid
    assert grid is not None
    values = np.ma.masked_invalid(np.array([[math.nan if v is None else v for v in row] for row in grid.values]))
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="cividis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    axes.set_xticks(range(len(grid.x_labels)), grid.x_labels)
    axes.set_yticks(range(len(grid.y_labels)), grid.y_labels)
    axes.set_xlabel("context length (tokens)")
    axes.set_ylabel("needle depth (% of context)")
    axes.grid(False)
    for y, row in enumerate(grid.values):
        for x, value in enumerate(row):
            text = "—" if value is None else f"{value:.0%}"
            colour = "#000000" if value is not None and value > 0.55 else "#ffffff"
            axes.text(x, y, text, ha="center", va="center", fontsize=9.5, color=colour)
    bar = figure.colorbar(image, ax=axes, fraction=0.05, pad=0.03)
    bar.set_label("exact match")
    bar.set_ticks([0, 0.5, 1], labels=["0%", "50%", "100%"])


_SVG_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SVG_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SVG_SIZE = re.compile(r'\s+(width|height)="[\d.]+pt"')
_SVG_IDS = re.compile(r'\bid="([^"]+)"')
_SVG_REFERENCES = re.compile(r'(href="#|url\(#)([^")]+)')
_SVG_STYLE = re.compile(r"\s*<style[^>]*>.*?</style>", re.S)


def inline_svg(svg: str, spec: ChartSpec) -> str:
    """matplotlib's SVG file made into an element that HTML can hold inline, next to others: no XML prolog,
    doctype or metadata, no namespace declarations (HTML knows SVG's), every id prefixed so two charts'
    ids never clash, the global `*` style dropped (the page's stylesheet sets it for charts only), and the alt
    text as the accessible name."""
    prefix = spec.name
    svg = _SVG_STYLE.sub("", _SVG_METADATA.sub("", _SVG_PROLOG.sub("", svg, count=1)))
    svg = _SVG_NAMESPACES.sub("", svg)
    svg = _SVG_SIZE.sub("", svg)
    svg = _SVG_IDS.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _SVG_REFERENCES.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    title = f'<title id="{prefix}-title">{html.escape(spec.title)}. {html.escape(spec.alt)}</title>'
    svg = svg.replace("<svg ", f'<svg class="chart" role="img" aria-labelledby="{prefix}-title" ', 1)
    return re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + title, svg, count=1).strip() + "\n"


@functools.lru_cache(maxsize=16)
def draw(spec: ChartSpec) -> DrawnChart:
    """Both files of one chart. Cached: rendering a card again (or cards that share their numbers) draws once."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.rcsetup import cycler  # the one matplotlib re-exports as matplotlib.cycler

    panels = len(spec.panels)
    if spec.grid is not None:
        size = (2.2 + 0.62 * len(spec.grid.x_labels), 1.5 + 0.3 * len(spec.grid.y_labels))
    else:
        size = (WIDTH_IN, PANEL_HEIGHT_IN * panels + 0.3)  # panels one above the other: readable on a phone
    with matplotlib.rc_context({**_RC, "svg.hashsalt": spec.name,
                                "axes.prop_cycle": cycler(color=OKABE_ITO)}):
        figure = Figure(figsize=size, dpi=DPI, layout="constrained")
        if spec.grid is not None:
            _draw_grid(figure, spec)
        else:
            for axes, panel in zip(figure.subplots(panels, 1, squeeze=False)[:, 0], spec.panels, strict=True):
                _draw_panel(axes, panel)
        figure.suptitle(spec.title, fontsize=11.5, wrap=True, fontweight="bold", x=0.01, ha="left")
        svg_file, png_file = io.StringIO(), io.BytesIO()
        figure.savefig(svg_file, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                         "Type": None})
        figure.savefig(png_file, format="png", metadata={"Software": None})
    return DrawnChart(spec, inline_svg(svg_file.getvalue(), spec), png_file.getvalue())


def draw_all(specs: list[ChartSpec]) -> list[DrawnChart]:
    return [draw(spec) for spec in specs]
