"""Bounded probe runs: a hang is stopped at the per-probe time limit, a SystemExit / KeyboardInterrupt /
GeneratorExit raised by the model's code is an `error` result and the run goes on, while the user's own
Ctrl-C still stops the run (exit 130). The limit is recorded in every probe record and in probe_suite."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from modelcard.base.errors import BadInput
from modelcard.probe.limits import ProbeAborted, call_bounded
from modelcard.probe.runner import run_suite
from modelcard.probe.suite import ProbeEntry, Suite

SUITE = Suite(name="bounds", description="", probes=[ProbeEntry("mask-leak"), ProbeEntry("kv-layout")], path=None)


def _suite_file(folder: Path) -> Path:
    path = folder / "bounds.yaml"
    path.write_text("name: bounds\nprobes: [mask-leak, kv-layout]\n", encoding="utf-8")
    return path


def _probe(run_cli, tmp_path: Path, spec: str, *options: str):
    result = run_cli("probe", spec, "--suite", _suite_file(tmp_path), "-o", tmp_path / "out", "--format", "json",
                     *options)
    return result, json.loads(result.out) if result.out.strip() else None


@pytest.fixture(autouse=True)
def _signals_restored():
    """Every test leaves SIGINT, SIGALRM and the real-time timer as it found them."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)
    yield
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGALRM)) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize(("spec", "reason"), [
    ("hostile:exits_once", "SystemExit(0) raised by the model's code"),
    ("hostile:interrupts_once", "KeyboardInterrupt raised by the model's code (not a Ctrl-C from the user)"),
    ("hostile:generator_exit_once", "GeneratorExit raised by the model's code"),
])
def test_the_models_own_base_exceptions_are_errors_and_the_run_goes_on(run_cli, tmp_path, spec, reason) -> None:
    result, report = _probe(run_cli, tmp_path, spec)
    assert result.code == 1, result.err  # a probe errored: a finding, not exit 0 with nothing written
    assert [p["status"] for p in report["probes"]] == ["error", "pass"]
    assert report["probes"][0]["reason"].startswith(reason)
    assert (tmp_path / "out" / "probes.json").is_file()
    assert (tmp_path / "out" / "probes" / "kv-layout.json").is_file()


@pytest.mark.parametrize("spec", ["hostile:sleeps_once", "hostile:spins_once", "hostile:swallows_timeouts_once"])
def test_a_hang_is_stopped_at_the_time_limit(run_cli, tmp_path, spec) -> None:
    start = time.monotonic()
    result, report = _probe(run_cli, tmp_path, spec, "--probe-timeout", "1")
    elapsed = time.monotonic() - start
    assert result.code == 1, result.err
    first, second = report["probes"]
    assert (first["status"], first["reason"]) == ("error", "exceeded the 1 s time limit")
    assert second["status"] == "pass"
    assert first["time_limit_s"] == second["time_limit_s"] == 1.0
    assert report["probe_suite"]["time_limit_s"] == 1.0
    assert elapsed < 5  # the swallowing module is interrupted again a second later


def test_a_real_ctrl_c_during_a_forward_stops_the_run_with_130(run_cli, tmp_path, ctrl_c_reaches_python) -> None:
    import hostile

    hostile.FORWARD_STARTED.clear()
    sent = []

    def interrupt() -> None:
        if hostile.FORWARD_STARTED.wait(10):
            time.sleep(0.2)  # into the forward's sleep: a signal just before a blocking call waits for it to end
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt, daemon=True)
    sender.start()
    result = run_cli("probe", "hostile:slow", "--suite", _suite_file(tmp_path), "-o", tmp_path / "out")
    returned = time.monotonic()
    sender.join(5)
    assert result.code == 130, result.err
    assert sent and returned - sent[0] < 1.5  # the 3 s forward was cut short, and no other probe ran
    assert "interrupted" in result.err
    assert not (tmp_path / "out" / "probes" / "mask-leak.json").exists()
    assert not (tmp_path / "out" / "probes.json").exists()


def test_a_real_sigint_reraises_even_when_the_model_turns_it_into_another_exception(ctrl_c_reaches_python) -> None:
    def model_code() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt as error:
            raise RuntimeError("wrapped") from error

    with pytest.raises(KeyboardInterrupt):
        call_bounded(model_code, 5)


def _context_of(spec: str):
    def make():
        from modelcard.inspect import inspect_loaded
        from modelcard.load.loader import LoadOptions, load_model
        from modelcard.probe.context import build_context

        loaded = load_model(spec, LoadOptions())
        return build_context(loaded, inspect_loaded(loaded), 0)

    return make


@pytest.mark.parametrize(("raised", "reason"), [
    (SystemExit(0), "SystemExit(0) raised by the model's code"),
    (KeyboardInterrupt(), "KeyboardInterrupt raised by the model's code"),
])
def test_base_exceptions_while_preparing_the_model_are_errors_of_every_probe(raised, reason) -> None:
    def make_context():
        raise raised

    result = run_suite(SUITE, make_context, seed=0)
    assert [r["status"] for r in result.records] == ["error", "error"]
    assert all(r["reason"].startswith(f"could not prepare the model: {reason}") for r in result.records)


def test_bad_input_while_preparing_the_model_still_propagates() -> None:
    def make_context():
        raise BadInput("model", "refused")

    with pytest.raises(BadInput):
        run_suite(SUITE, make_context, seed=0)


def test_the_limit_is_recorded_and_the_card_validates(run_cli, tmp_path) -> None:
    result = run_cli("generate", "tinymodels:honest", "--suite", _suite_file(tmp_path), "-o", tmp_path / "card",
                     "--probe-timeout", "30")
    assert result.code == 0, result.err
    record = json.loads((tmp_path / "card" / "card.json").read_text(encoding="utf-8"))
    assert [p["time_limit_s"] for p in record["probes"]] == [30.0, 30.0]
    assert record["probe_suite"]["time_limit_s"] == 30.0
    assert run_cli("validate", tmp_path / "card" / "card.json").code == 0


def test_the_default_limit_and_no_limit() -> None:
    ctx = _context_of("tinymodels:honest")()
    default = run_suite(SUITE, lambda: ctx, seed=0)
    assert [r["time_limit_s"] for r in default.records] == [900.0, 900.0]
    assert default.summary()["time_limit_s"] == 900.0
    unlimited = run_suite(SUITE, lambda: ctx, seed=0, time_limit_s=0)
    assert [r["time_limit_s"] for r in unlimited.records] == [None, None]
    assert "no per-probe time limit was set" in unlimited.summary()["note"]


def test_outside_the_main_thread_probes_run_without_a_limit_and_say_so() -> None:
    results = []
    worker = threading.Thread(target=lambda: results.append(run_suite(SUITE, _context_of("tinymodels:honest"),
                                                                      seed=0, time_limit_s=5)))
    worker.start()
    worker.join(60)
    (result,) = results
    assert [r["status"] for r in result.records] == ["pass", "pass"]
    assert [r["time_limit_s"] for r in result.records] == [None, None]
    summary = result.summary()
    assert summary["time_limit_s"] is None
    assert "outside the main thread" in summary["note"]


def test_call_bounded_passes_values_and_exceptions_through() -> None:
    assert call_bounded(lambda: 42, 5) == 42
    with pytest.raises(ValueError, match="plain"):
        call_bounded(lambda: (_ for _ in ()).throw(ValueError("plain")), 5)
    with pytest.raises(ProbeAborted, match="SystemExit"):
        call_bounded(lambda: sys.exit(3), 5)


def test_a_previous_timer_is_given_back() -> None:
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        assert call_bounded(lambda: 1, 5) == 1
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 0.5
        time.sleep(0.7)
        assert fired == [True]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
