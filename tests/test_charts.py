"""Charts: what they show (chart_data, pure), that they draw deterministically and accessibly (charts), and that
odd numbers in a valid record leave a chart out instead of breaking the card. Kept few: each drawing costs a
fraction of a second."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from goldens import PROBED_FIXTURE, STANDARD_FIXTURE

from modelcard.card.chart_data import chart_specs, kv_chart, passkey_chart, scaling_chart
from modelcard.card.charts import OKABE_ITO, draw

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def sliding_record() -> dict:
    """Five sliding layers (window 512) to one full, twice: the KV chart's curve bends at the window."""
    base = record(FIXTURES / "record-1.0.json")
    layers = [{"index": i, "stack": "decoder", "kind": "full" if i % 6 == 5 else "sliding",
               "window": None if i % 6 == 5 else 512} for i in range(12)]
    base["attention"]["layers"] = layers
    base["kv_cache"]["layers"] = [{"index": i, "kind": layer["kind"], "bytes_per_token": 1024,
                                   "max_tokens": 511 if layer["window"] else None} for i, layer in enumerate(layers)]
    base["context_window"]["declared"] = 32768
    return base


def test_the_kv_chart_shows_window_caps_and_the_declared_context():
    spec = kv_chart(sliding_record())
    panel, = spec.panels
    assert [series.label for series in panel.series] == ["all layers (float32)", "layers without a window",
                                                         "windowed layers"]
    assert [marker.label for marker in panel.markers] == ["window 512", "declared context 32,768"]
    total, full, windowed = panel.series
    at = dict(zip(total.x, total.y, strict=True))
    assert at[32768.0] == 2 * 1024 * 32768 + 10 * 1024 * 511  # full layers grow, windowed ones stop at 511
    assert windowed.y[-1] == windowed.y[-2] == 10 * 1024 * 511
    assert "KV-cache memory of one sequence" in spec.alt and "512 tokens" in spec.alt


def test_the_scaling_and_passkey_charts_come_from_their_probes():
    probed = record(PROBED_FIXTURE)
    spec = scaling_chart(probed)
    assert [panel.y_unit for panel in spec.panels] == ["bytes", "seconds"]
    # memory above the weights of the twin grows linearly: the alt text names the exponent the record fitted
    assert spec.title == "Measured scaling on the shrunken twin" and "peak-memory exponent 1," in spec.alt
    assert passkey_chart(probed) is None
    standard = record(STANDARD_FIXTURE)
    grid = passkey_chart(standard).grid
    assert grid.x_labels[:2] == ("256", "512") and len(grid.values) == len(grid.y_labels)


@pytest.mark.parametrize(("change", "left"), [
    ("zero bytes", ["scaling"]), ("huge numbers", []), ("scaling of strings", ["kv-cache"]),
    ("grid of nonsense", ["kv-cache"]), ("no cache layers", ["kv-cache", "scaling"])])
def test_odd_numbers_leave_a_chart_out(change, left):
    """Whatever a valid record holds, a chart is drawn from sane numbers or left out; `no cache layers` keeps the
    KV chart from bytes_per_token alone (no window caps it)."""
    odd = copy.deepcopy(record(PROBED_FIXTURE))
    scaling = next(p for p in odd["probes"] if p["id"] == "scaling")
    if change == "zero bytes":
        for layer in odd["kv_cache"]["layers"]:
            layer["bytes_per_token"] = 0
    elif change == "huge numbers":
        odd["kv_cache"]["layers"][0]["bytes_per_token"] = 10**64
        odd["context_window"]["declared"] = 10**60
        scaling["details"]["points"] = [{"tokens": 10**64, "peak_bytes": 10**64, "latency_s": 1e300}] * 3
    elif change == "scaling of strings":
        scaling["details"]["points"] = [{"tokens": "64", "peak_bytes": None}, "x", {"tokens": True}]
    elif change == "grid of nonsense":
        scaling.update(id="passkey-grid", details={"lengths": [0, -1, "a"], "grid": [{"depth": 2}]})
    else:
        odd["kv_cache"]["layers"] = []
    specs = chart_specs(odd)
    assert [spec.name for spec in specs] == left
    for spec in specs:
        draw(spec)


def test_a_chart_draws_the_same_bytes_twice_accessibly_and_without_record_text():
    spec = kv_chart(sliding_record())
    first = draw(spec)
    draw.cache_clear()
    second = draw(spec)
    assert first.svg == second.svg and first.png == second.png
    svg = first.svg
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby="kv-cache-title"')
    assert f'<title id="kv-cache-title">{spec.title}. ' in svg
    assert "http" not in svg and "<?xml" not in svg and "<metadata" not in svg and "Matplotlib v" not in svg
    assert all(ident.startswith("kv-cache-") for ident in re.findall(r'\bid="([^"]+)"', svg))
    assert OKABE_ITO[0].lower() in svg.lower()
    assert first.png.startswith(b"\x89PNG") and b"Software" not in first.png and b"matplotlib" not in first.png
    # the y axis names the quantity and its tick labels carry the unit (MiB, GiB), never "(bytes)" beside MiB ticks
    assert "context length (tokens)" in svg and "KV cache memory" in svg and "(bytes)" not in svg
    assert re.search(r"\d (KiB|MiB|GiB)", svg)
