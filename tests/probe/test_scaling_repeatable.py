"""`scaling` you can repeat: warmed up, repeated, medians with their range, exponents fitted on what the chart
draws with a 95% interval, and two runs that agree within it. Lengths a probe caps are said in its record."""

from __future__ import annotations

import math

from modelcard.card.chart_data import scaling_chart
from modelcard.probe.exponents import fit_exponent, log_slope


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def test_two_runs_on_the_demo_agree_within_their_intervals(run_probe) -> None:
    first = run_probe("scaling", None, max_tokens=1024)
    second = run_probe("scaling", None, max_tokens=1024)
    for run in (first, second):
        assert run.status == "pass"
        assert run.details["repeats"] >= 3 and run.details["warmup"] >= 1
        for point in run.details["points"]:
            assert len(point["latency_samples_s"]) == run.details["repeats"]
            low, high = point["latency_range_s"]
            assert low <= point["latency_s"] <= high
    low, high = first.details["memory_exponent_interval"]
    assert low <= first.value <= high
    assert low <= second.value <= high  # the memory count is exact: run 2 lies inside run 1's interval
    assert _overlap(first.details["latency_exponent_interval"], second.details["latency_exponent_interval"])
    assert 0.8 < first.value < 1.3  # sdpa on the demo: memory grows linearly with length


def test_the_chart_draws_the_quantity_the_exponent_is_fitted_on(run_probe) -> None:
    outcome = run_probe("scaling", None, max_tokens=512, repeats=3)
    probe = {"id": "scaling", "status": outcome.status, "value": outcome.value, "device": "cpu", "twin": False,
             "details": outcome.details}
    chart = scaling_chart({"probes": [probe]})
    memory, latency = chart.panels
    fitted = set(outcome.details["fitted_on"])
    xs, ys = zip(*[(x, y) for x, y in zip(memory.series[0].x, memory.series[0].y, strict=True) if x in fitted],
                 strict=True)
    assert math.isclose(log_slope(xs, ys)[0], outcome.value, abs_tol=1e-3)
    assert f"exponent {outcome.value:g}"[:12] in memory.series[0].label
    xs, ys = zip(*[(x, y) for x, y in zip(latency.series[0].x, latency.series[0].y, strict=True) if x in fitted],
                 strict=True)
    assert math.isclose(log_slope(xs, ys)[0], outcome.details["latency_exponent"], abs_tol=1e-3)
    assert outcome.details["drawn"] == {"memory": "peak_bytes", "latency": "latency_s"}


def test_the_interval_widens_with_scatter_and_holds_an_exact_power_law() -> None:
    lengths = [256, 512, 1024, 2048]
    exact = fit_exponent(lengths, [[x ** 2.0] * 3 for x in lengths])
    assert exact["value"] == 2.0 and exact["interval"] == [2.0, 2.0]
    noisy = fit_exponent(lengths, [[x * f for f in (0.5, 1.0, 2.0)] for x in lengths])
    assert noisy["interval"][0] < 1.0 < noisy["interval"][1] and noisy["value"] == 1.0
    bent = fit_exponent(lengths, [[1000 + x] for x in lengths])  # one sample each: least squares alone
    assert bent["interval"][0] < bent["value"] < bent["interval"][1]


def test_capped_lengths_are_said_in_the_record(run_probe) -> None:
    """tinymodels:honest declares a 512-token context: asked for more, each probe says what it used and why."""
    scaling = run_probe("scaling", "tinymodels:honest", max_tokens=2048, repeats=3)
    assert scaling.details["capped"] == {"requested": 2048, "used": 512,
                                         "why": "the model's declared context of 512 tokens"}
    assert scaling.details["points"][-1]["tokens"] == 512
    uncapped = run_probe("scaling", "tinymodels:honest", max_tokens=256, repeats=3)
    assert uncapped.details["capped"] is None
    for probe_id in ("kv-layout", "cache-consistency"):
        outcome = run_probe(probe_id, "tinymodels:honest", length=1024)
        assert outcome.details["capped"] == {"requested": 1024, "used": 512,
                                             "why": "the model's declared context of 512 tokens"}, probe_id
