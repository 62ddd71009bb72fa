"""Time you can plan: the forward-time fit, the calibration on a real (tiny) model, the suite's estimate printed
before the first probe, cells skipped or stopped for the time limit without losing the cells that finished, and
a line per finished cell in a terminal-less log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from modelcard.probe.cells import Cells
from modelcard.probe.outcome import Outcome
from modelcard.probe.registry import PROBES, probe
from modelcard.probe.runner import run_suite
from modelcard.probe.suite import ProbeEntry, Suite
from modelcard.probe.timing import Calibration, Forward, calibrate, fit, register

HUGE = 10 ** 7  # tokens: an estimate no time limit of a test can hold


def _split(ctx: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"part": n} for n in range(len(params["sleeps"]))]


def _measure(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    time.sleep(params["sleeps"][cell["part"]])
    ctx.adapter.outputs(ctx.random_ids(8, salt=cell["part"]))
    return {"part": cell["part"]}


def _conclude(ctx: Any, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
    finished = [p["part"] for p in partials if "skipped" not in p]
    return Outcome(status="pass", metric="cells finished", value=len(finished), details={"finished": finished})


def _cell_work(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> list[Forward]:
    return [Forward(HUGE if cell["part"] == params["huge"] else 8)]


if "test-timed-cells" not in PROBES:
    TIMED = Cells(split=_split, measure=_measure, conclude=_conclude)
    NEEDS_ALL = Cells(split=_split, measure=_measure, conclude=_conclude)

    @probe("test-timed-cells", "Cells that sleep; one is estimated far over any limit", cells=TIMED, version=1)
    def timed_cells(ctx: Any, sleeps: tuple[float, ...] = (0.1,), huge: int = -1) -> Outcome:
        return TIMED.run_all(ctx, {"sleeps": sleeps, "huge": huge})

    @probe("test-needs-every-cell", "Cells that sleep; it cannot conclude without all of them", cells=NEEDS_ALL,
           version=1)
    def needs_every_cell(ctx: Any, sleeps: tuple[float, ...] = (0.1,), huge: int = -1) -> Outcome:
        return NEEDS_ALL.run_all(ctx, {"sleeps": sleeps, "huge": huge})

    @probe("test-whole-huge", "A probe that runs whole, estimated far over any limit", version=1)
    def whole_huge(ctx: Any) -> Outcome:
        ctx.adapter.outputs(ctx.random_ids(8))
        return Outcome(status="pass", metric="ran", value=1)

    register("test-timed-cells", cell=_cell_work, skipped=lambda cell, reason: {"skipped": reason, **cell})
    register("test-needs-every-cell", cell=_cell_work)
    register("test-whole-huge", whole=lambda ctx, params: [Forward(HUGE)])


def _suite(*entries: ProbeEntry) -> Suite:
    return Suite(name="timed", description="", probes=list(entries), path=None)


def _run(context, suite: Suite, limit: float, events: list[tuple[str, Any]] | None = None):
    events = [] if events is None else events
    ctx = context("tinymodels:honest")
    return run_suite(suite, lambda: ctx, seed=0, time_limit_s=limit,
                     on_plan=lambda estimate: events.append(("plan", estimate)),
                     on_start=lambda key: events.append(("start", key)),
                     on_cell=lambda key, outcome, done, total: events.append(("cell", (key, outcome, done, total))),
                     on_done=lambda result, resumed: events.append(("done", result)))


def test_the_fit_recovers_overhead_linear_and_quadratic_terms() -> None:
    truth = Calibration(0.05, 2e-4, 3e-8)
    points = [(n, truth.forward_s(Forward(n))) for n in (16, 256, 1024)]
    fitted = fit(points)
    assert fitted.overhead_s == pytest.approx(0.05, rel=1e-6)
    assert fitted.per_token_s == pytest.approx(2e-4, rel=1e-6)
    assert fitted.per_token_key_s == pytest.approx(3e-8, rel=1e-6)
    assert fitted.seconds([Forward(4096)]) > 4 * fitted.seconds([Forward(1024)])  # attention grows it


def test_a_noisy_timing_never_makes_a_coefficient_negative() -> None:
    fitted = fit([(16, 0.5), (256, 0.4), (1024, 1.2)])  # the short forward timed slow
    assert min(fitted.overhead_s, fitted.per_token_s, fitted.per_token_key_s) >= 0
    assert fitted.seconds([Forward(2048)]) > fitted.seconds([Forward(1024)])


def test_calibration_times_the_model_itself(context) -> None:
    adapter = context("tinymodels:honest").adapter
    calibration = calibrate(adapter, longest=512)
    assert [n for n, _ in calibration.points] == [16, 256]  # none longer than the suite needs
    assert all(seconds > 0 for _, seconds in calibration.points)
    assert calibration.tokens_per_second(256) > 0
    assert "tokens/s at 256 tokens" in calibration.describe()


def test_a_suite_of_little_work_is_not_calibrated_and_says_so_before_the_first_probe(context) -> None:
    events: list[tuple[str, Any]] = []
    result = _run(context, _suite(ProbeEntry("test-timed-cells", {"sleeps": [0.0, 0.0]}), ProbeEntry("mask-leak")),
                  60, events)
    assert events[0][0] == "plan"
    estimate = events[0][1]
    assert estimate.calibration is None  # a 21K-parameter model and a few short forwards
    assert estimate.lines() == [f"estimate: timed on this CPU: {estimate.note}"]
    assert "not calibrated" in estimate.note
    assert all("estimate_s" not in r for r in result.records)
    cells = [e[1] for e in events if e[0] == "cell"]
    assert [(key, done, total) for key, _, done, total in cells] == [("test-timed-cells", 1, 2),
                                                                    ("test-timed-cells", 2, 2)]


def test_a_calibrated_estimate_per_probe_comes_first_and_stays_in_the_record(context) -> None:
    events: list[tuple[str, Any]] = []
    result = _run(context, _suite(ProbeEntry("test-timed-cells", {"sleeps": [0.0, 0.0, 0.0], "huge": 2}),
                                  ProbeEntry("mask-leak")), 60, events)
    kind, estimate = events[0]
    assert kind == "plan" and estimate.calibration is not None  # the huge cell makes the suite worth calibrating
    lines = estimate.lines()
    assert lines[0].startswith("estimate: timed on this CPU: about ")
    assert "(calibrated: " in lines[0] and "tokens/s at 256 tokens" in lines[0]
    assert lines[1].startswith("  test-timed-cells       about ") and lines[1].endswith("(3 cells)")
    assert lines[2].startswith("  mask-leak              ")
    assert estimate.total_s == pytest.approx(sum(p.seconds for p in estimate.probes))
    records = {r["id"]: r for r in result.records}
    assert records["test-timed-cells"]["estimate_s"] > 60  # the huge cell's estimate, beside its duration
    assert records["mask-leak"]["estimate_s"] >= 0  # a tiny model's short forwards: milliseconds, rounded


def test_cells_over_the_time_limit_are_skipped_or_stopped_and_the_finished_ones_stand(context) -> None:
    events: list[tuple[str, Any]] = []
    result = _run(context, _suite(ProbeEntry("test-timed-cells", {"sleeps": [0.1, 0.1, 0.1, 30.0, 0.1],
                                                                   "huge": 1})), 4, events)
    record = result.records[0]
    assert record["duration_s"] < 4 + 2  # the 30 s cell was stopped at the limit (a late alarm refires in 1 s)
    assert record["status"] == "pass"  # concluded from the cells that finished, not an error
    assert record["details"]["finished"] == [0, 2]
    reasons = {item["cell"]["part"]: item["reason"] for item in record["details"]["cells_skipped_for_time"]}
    assert sorted(reasons) == [1, 3, 4]
    assert reasons[1].startswith("not started: estimated ")
    assert "the 4 s time limit left after 1 of 5 cells" in reasons[1]
    assert reasons[3] == "stopped at the 4 s time limit after 2 of 5 cells"
    assert reasons[4] == "stopped at the 4 s time limit after 2 of 5 cells"
    lines = [e[1] for e in events if e[0] == "cell"]
    assert [outcome["status"] for _, outcome, _, _ in lines] == ["ok", "skipped-time", "ok", "skipped-time",
                                                                 "skipped-time"]


def test_a_probe_that_needs_every_cell_is_skipped_with_the_count_and_keeps_its_cells(context, tmp_path) -> None:
    ctx = context("tinymodels:honest")
    suite = _suite(ProbeEntry("test-needs-every-cell", {"sleeps": [0.1, 5.0, 0.1]}))
    result = run_suite(suite, lambda: ctx, seed=0, folder=tmp_path, time_limit_s=3)
    record = result.records[0]
    assert record["status"] == "skipped"
    assert record["reason"].startswith("stopped at the 3 s time limit after 1 of 3 cells; it needs every cell")
    assert "a rerun with a longer --probe-timeout resumes from them" in record["reason"]
    rerun = run_suite(suite, lambda: ctx, seed=0, folder=tmp_path, time_limit_s=30)
    assert rerun.resumed == [] and rerun.resumed_cells == 1  # not stored as final; the finished cell was kept
    assert rerun.records[0]["status"] == "pass"
    assert rerun.records[0]["details"]["finished"] == [0, 1, 2]


def test_a_whole_probe_estimated_over_the_limit_is_skipped_before_it_starts(context) -> None:
    result = _run(context, _suite(ProbeEntry("test-whole-huge"), ProbeEntry("mask-leak")), 5)
    huge, other = result.records
    assert huge["status"] == "skipped"
    assert huge["reason"].startswith("not started: estimated ")
    assert huge["reason"].endswith("on this CPU, over the 5 s time limit")
    assert huge["estimate_s"] > 5
    assert other["status"] == "pass"


def test_a_terminal_less_log_gets_the_estimate_first_and_a_line_per_cell(run_cli, tmp_path: Path) -> None:
    suite = tmp_path / "cells.yaml"
    suite.write_text("name: cells\nprobes: [window-reach, mask-leak]\n", encoding="utf-8")
    result = run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    assert lines[0].startswith("estimate: cells on this CPU: ")
    cells = [line for line in lines if line.startswith("  cell     window-reach")]
    assert len(cells) >= 2
    assert cells[0].endswith(")") and ": 1 of " in cells[0]
    done = [n for n, line in enumerate(lines) if line.startswith("  pass     window-reach")]
    assert done and done[0] > lines.index(cells[-1])


def test_on_a_terminal_the_bar_counts_cells_and_the_estimate_is_written_above_it(context) -> None:
    import io

    from modelcard.base.progress import ProbeBar

    stream = io.StringIO()
    with ProbeBar(2, stream=stream, disable=False) as bar:
        ctx = context("tinymodels:honest")
        suite = _suite(ProbeEntry("test-timed-cells", {"sleeps": [0.0, 0.0, 0.0]}), ProbeEntry("mask-leak"))
        run_suite(suite, lambda: ctx, seed=0, on_start=bar.started, on_done=bar.done, on_plan=bar.planned,
                  on_cell=bar.cell)
        assert (bar.bar.n, bar.bar.total) == (4, 4)  # three cells and a probe that runs whole
        assert not bar.listed
    text = stream.getvalue()
    assert "estimate: timed on this CPU: " in text
    assert "  cell     " not in text  # no log lines on a terminal: the bar shows the cells
