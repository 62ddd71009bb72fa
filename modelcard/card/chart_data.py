"""What the card's charts show, taken from a record and checked value by value: KV-cache memory against context
length, the scaling probe's memory and latency against length, and passkey-grid's depth x length heatmap.
Pure data (no matplotlib): `modelcard.card.charts` draws it. A record that validates may still hold odd values
(a probe's details are free-form), so every number is checked before it is plotted and a chart whose data do
not make sense is left out, never drawn wrong."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from modelcard.base.wording import number
from modelcard.card.kv_plan import DTYPE_BYTES, growth

MAX_TOKENS = 2**40  # no chart runs past a trillion tokens, whatever a record declares
DEFAULT_END = 131072  # where the KV chart ends when the declared window is unknown
MAX_POINTS = 64
MAX_BYTES = 2**120  # past any real cache, and far inside what a float holds
MIN_VALUE = 1e-12  # the smallest value a log axis is asked to show (a latency in seconds)
MAX_GRID = 24  # rows or columns of the heatmap
_DEVICE = re.compile(r"[a-z]{2,8}(:\d{1,3})?")  # cpu, cuda:0, mps: the only record text a chart may show


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class Marker:
    """A vertical line at a length that matters (a window, the declared context)."""

    x: float
    label: str


@dataclass(frozen=True)
class Panel:
    title: str
    x_label: str
    y_label: str
    y_unit: str  # bytes | seconds
    series: tuple[Series, ...]
    markers: tuple[Marker, ...] = ()
    legend: str = "lower right"  # where the lines leave room for it


@dataclass(frozen=True)
class Grid:
    x_labels: tuple[str, ...]  # context lengths
    y_labels: tuple[str, ...]  # depths
    values: tuple[tuple[float | None, ...], ...]  # rows of fractions in [0, 1]


@dataclass(frozen=True)
class ChartSpec:
    name: str  # the PNG file's stem and the SVG's id prefix
    title: str
    alt: str  # what the chart says, in one or two sentences, for a reader who cannot see it
    panels: tuple[Panel, ...] = ()
    grid: Grid | None = None

    @property
    def file_name(self) -> str:
        return f"modelcard-{self.name}.png"


def _positive(value: Any) -> bool:
    """A number a log axis can show: positive, finite, and within a range a float holds with room to spare."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return MIN_VALUE < value < MAX_BYTES and (isinstance(value, int) or math.isfinite(value))


def _tokens_label(tokens: float) -> str:
    whole = int(tokens)
    if whole >= 1024 and whole % 1024 == 0:
        return f"{whole // 1024:,}K"
    return f"{whole:,}"


def bytes_label(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}" if value < 1e6 else f"{value:.3g}"
            return f"{text.removesuffix('.0')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _lengths(start: int, end: int, extra: set[int]) -> tuple[int, ...]:
    points = {end, start, *(n for n in extra if start <= n <= end)}
    n = 1
    while n <= end:
        if n >= start:
            points.add(n)
        n *= 2
    return tuple(sorted(points))


def kv_chart(record: dict[str, Any]) -> ChartSpec | None:
    """KV-cache bytes of one sequence against context length, log-log, with a line per window cap and at the
    declared context; the layers that stop growing at a window drawn apart when there are both kinds."""
    found = growth(record)
    if found is None:
        return None
    declared = record["context_window"].get("declared")
    end = min(declared if _positive(declared) and isinstance(declared, int) else DEFAULT_END, MAX_TOKENS)
    windows = sorted({layer["window"] for layer in record["attention"].get("layers") or []
                      if layer.get("kind") in ("sliding", "chunked", "local-global") and _positive(layer.get("window"))
                      and layer["window"] < end})
    smallest = min([*found.caps, *windows], default=256)
    start = 2 ** max(0, min(256, smallest // 4).bit_length() - 1)  # a power of two
    if end <= start:
        return None
    lengths = _lengths(start, end, {*windows, *(cap for cap in found.caps)})
    if len(lengths) > MAX_POINTS:
        return None
    dtype = record["kv_cache"].get("dtype")
    dtype = dtype if dtype in DTYPE_BYTES else "the cache's dtype"  # no text from a record reaches a chart
    sizes = [found.at(n) for n in lengths]
    if not all(0 < size < MAX_BYTES for size in sizes):
        return None
    total = Series(f"all layers ({dtype})", tuple(map(float, lengths)), tuple(map(float, sizes)))
    series = [total]
    growing = [(per, cap) for per, cap in found.per_token if per > 0]
    capped = [(per, cap) for per, cap in growing if cap is not None and cap < end]
    if capped and len(capped) < len(growing):
        full = [(per, cap) for per, cap in growing if (per, cap) not in capped]
        for label, part in (("layers without a window", full), ("windowed layers", capped)):
            ys = tuple(float(sum(per * (min(n, cap) if cap is not None else n) for per, cap in part)) for n in lengths)
            series.append(Series(label, total.x, ys))
    markers = [Marker(float(w), f"window {w:,}") for w in windows]
    markers += [Marker(float(cap), f"cache keeps {cap:,}") for cap in found.caps  # a cap no window explains
                if cap + 1 not in windows and cap not in windows and cap < end]
    if isinstance(declared, int) and declared == end:
        markers.append(Marker(float(end), f"declared context {end:,}"))
    first, last = total.y[0], total.y[-1]
    if found.state_bytes:
        series.append(Series("fixed-size recurrent state", total.x, (float(found.state_bytes),) * len(lengths)))
    shape = (f"it stops growing at {_tokens_label(max(found.caps))} tokens" if capped and len(capped) == len(growing)
             else f"windowed layers stop growing at {', '.join(f'{w:,}' for w in windows)} tokens" if windows
             else "it grows in proportion to the length" if growing else "it does not grow with the length")
    if found.state_bytes:
        shape += f", on top of {bytes_label(found.state_bytes)} of fixed-size recurrent state"
    alt = (f"KV-cache memory of one sequence against context length, log-log, at {dtype}: "
           f"{bytes_label(first)} at {lengths[0]:,} tokens, {bytes_label(last)} at {lengths[-1]:,} tokens; {shape}.")
    panel = Panel("", "context length (tokens)", "KV cache memory", "bytes", tuple(series), tuple(markers),
                  legend="upper left")
    return ChartSpec("kv-cache", "KV-cache memory against context length (one sequence)", alt, (panel,))


def _probe(record: dict[str, Any], probe_id: str) -> dict[str, Any] | None:
    found = next((p for p in record["probes"] if p.get("id") == probe_id), None)
    return found if found and found.get("status") in ("pass", "fail") else None


def _exponent(value: Any) -> str:
    return f" (exponent {number(value)})" if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else ""


def scaling_chart(record: dict[str, Any]) -> ChartSpec | None:
    probe = _probe(record, "scaling")
    if probe is None:
        return None
    details = probe.get("details") or {}
    points = details.get("points")
    if not isinstance(points, list):
        return None
    rows = [p for p in points if isinstance(p, dict) and _positive(p.get("tokens"))][:MAX_POINTS]
    memory = [(float(p["tokens"]), float(p["peak_bytes"])) for p in rows if _positive(p.get("peak_bytes"))]
    latency = [(float(p["tokens"]), float(p["latency_s"])) for p in rows if _positive(p.get("latency_s"))]
    if len(memory) < 2 and len(latency) < 2:
        return None
    device = probe.get("device")
    where = "the shrunken twin" if probe.get("twin") else f"the model ({device})" if isinstance(device, str) \
        and _DEVICE.fullmatch(device) else "the model"
    panels = []
    if len(memory) >= 2:
        xs, ys = zip(*memory, strict=True)
        panels.append(Panel("Peak memory", "context length (tokens)", "peak memory", "bytes",
                            (Series(f"measured{_exponent(probe.get('value'))}", xs, ys),)))
    if len(latency) >= 2:
        xs, ys = zip(*latency, strict=True)
        panels.append(Panel("Latency", "context length (tokens)", "latency", "seconds",
                            (Series(f"measured{_exponent(details.get('latency_exponent'))}", xs, ys),)))
    lengths = sorted({x for panel in panels for x in panel.series[0].x})
    alt = (f"Peak memory and latency of one forward pass against context length on {where}, log-log, "
           f"{int(lengths[0]):,} to {int(lengths[-1]):,} tokens")
    alt += f"; peak-memory exponent {number(probe['value'])}" if _exponent(probe.get("value")) else ""
    alt += f", latency exponent {number(details['latency_exponent'])}." if _exponent(details.get("latency_exponent")) \
        else "."
    return ChartSpec("scaling", f"Measured scaling on {where}", alt, tuple(panels))


def _fraction(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
    return float(value) if ok else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def passkey_chart(record: dict[str, Any]) -> ChartSpec | None:
    probe = _probe(record, "passkey-grid")
    if probe is None:
        return None
    details = probe.get("details") or {}
    lengths, grid = details.get("lengths"), details.get("grid")
    if not isinstance(lengths, list) or not isinstance(grid, list):
        return None
    lengths = [n for n in lengths if isinstance(n, int) and not isinstance(n, bool) and n > 0][:MAX_GRID]
    rows = [row for row in grid if isinstance(row, dict) and _fraction(row.get("depth")) is not None][:MAX_GRID]
    if not lengths or not rows:
        return None
    values = tuple(tuple(_fraction(_mapping(row.get("scores")).get(str(n))) for n in lengths) for row in rows)
    measured = [v for row in values for v in row if v is not None]
    if not measured:
        return None
    worst = min(measured)
    alt = (f"Needle retrieval (exact match) by needle depth ({len(rows)} depths) and context length "
           f"({', '.join(f'{n:,}' for n in lengths)} tokens): {sum(measured) / len(measured):.0%} on average, "
           f"lowest {worst:.0%}.")
    chart_grid = Grid(tuple(_tokens_label(n) for n in lengths), tuple(f"{row['depth']:.0%}" for row in rows), values)
    return ChartSpec("passkey-grid", "Needle retrieval by depth and context length", alt, grid=chart_grid)


CHART_NAMES = ("kv-cache", "scaling", "passkey-grid")
CHART_FILE_NAMES = tuple(f"modelcard-{name}.png" for name in CHART_NAMES)  # every chart file a card may have


def chart_specs(record: dict[str, Any]) -> list[ChartSpec]:
    """The charts this record has data for, in the order the card shows them."""
    return [chart for chart in (kv_chart(record), scaling_chart(record), passkey_chart(record)) if chart]
