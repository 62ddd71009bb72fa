"""The runner: errors are results, results are saved as they finish, a killed run resumes, other settings
never reuse stale results, and suites are validated before any model work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _suite(folder: Path, probes: list) -> Path:
    import yaml

    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "test", "probes": probes}), encoding="utf-8")
    return path


def test_a_probe_that_raises_is_an_error_and_the_rest_go_on(run_cli, tmp_path: Path) -> None:
    import crashing  # noqa: F401

    suite = _suite(tmp_path, ["mask-leak", {"id": "test-raises", "params": {"message": "planted"}}, "kv-layout"])
    result = run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", tmp_path / "out", "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    assert [p["status"] for p in report["probes"]] == ["pass", "error", "pass"]
    assert report["probes"][1]["reason"] == "RuntimeError: planted"
    assert sorted(p.name for p in (tmp_path / "out" / "probes").iterdir()) == [
        "kv-layout.json", "manifest.json", "mask-leak.json"]  # an error is tried again on a rerun


def _probe_in_subprocess(suite: Path, out: Path, seed: int = 0) -> subprocess.CompletedProcess:
    code = ("import sys, crashing; from modelcard.cli import main; "
            f"sys.exit(main(['probe', 'tinymodels:honest', '--suite', {str(suite)!r}, '-o', {str(out)!r}, "
            f"'--seed', '{seed}', '--format', 'json']))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_a_killed_run_resumes_without_redoing_finished_probes(tmp_path: Path) -> None:
    marker = tmp_path / "died"
    suite = _suite(tmp_path, ["mask-leak", "window-reach", {"id": "test-dies-once", "params": {"marker": str(marker)}},
                              "cache-consistency"])
    out = tmp_path / "out"
    first = _probe_in_subprocess(suite, out)
    assert first.returncode == 9, first.stderr  # killed mid-run
    saved = {p.name: p.read_text() for p in (out / "probes").glob("*.json")}
    assert set(saved) == {"manifest.json", "mask-leak.json", "window-reach.json"}

    second = _probe_in_subprocess(suite, out)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["resumed"] == ["mask-leak", "window-reach"]
    assert [p["id"] for p in report["probes"]] == ["mask-leak", "window-reach", "test-dies-once", "cache-consistency"]
    assert report["probes"][2]["value"] == 2
    for name in ("mask-leak.json", "window-reach.json"):
        assert (out / "probes" / name).read_text() == saved[name]  # not redone


def test_another_seed_does_not_reuse_stale_results(run_cli, tmp_path: Path) -> None:
    suite = _suite(tmp_path, ["mask-leak"])
    out = tmp_path / "out"
    assert run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", out, "--format", "json").code == 0
    again = json.loads(run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", out, "--format", "json").out)
    assert again["resumed"] == ["mask-leak"]
    other = json.loads(run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", out, "--seed", "3",
                               "--format", "json").out)
    assert other["resumed"] == []
    assert other["probes"][0]["seed"] == 3


def test_unknown_probe_id_is_bad_input_with_a_suggestion(run_cli, tmp_path: Path) -> None:
    suite = _suite(tmp_path, ["mask-leek"])
    result = run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", tmp_path / "out")
    assert result.code == 2
    line = result.err.strip().splitlines()[-1]
    assert "unknown probe 'mask-leek'; did you mean 'mask-leak'?" in line
    assert "available: cache-consistency" in line
    assert "Traceback" not in result.err


def test_unknown_parameter_is_bad_input(run_cli, tmp_path: Path) -> None:
    suite = _suite(tmp_path, [{"id": "scaling", "params": {"max_token": 10}}])
    result = run_cli("generate", "tinymodels:honest", "--suite", suite, "-o", tmp_path / "card")
    assert result.code == 2
    assert "did you mean 'max_tokens'?" in result.err
    assert not (tmp_path / "card").exists()


def test_planted_bugs_fail_the_probe_command(run_cli, tmp_path: Path) -> None:
    result = run_cli("probe", "tinymodels:leaks_next_token", "--suite", "quick", "-o", tmp_path / "out")
    assert result.code == 1
    assert "error: /masking/stacks/decoder/mask" in result.out


def test_registering_an_id_twice_is_refused() -> None:
    from modelcard.probe.registry import probe

    with pytest.raises(ValueError, match="registered twice"):
        probe("mask-leak", "again", version=1)(lambda ctx: None)


def test_a_suite_parameter_of_the_wrong_type_is_exit_2_before_anything_runs(run_cli, tmp_path) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("name: bad\nprobes:\n  - id: passkey-grid\n    params: {samples: four, depths: [0.5]}\n")
    result = run_cli("generate", "--suite", suite, "-o", tmp_path / "card")
    assert result.code == 2 and "parameter samples must be int (found str 'four')" in result.err
    assert not (tmp_path / "card").exists()
    suite.write_text("name: fine\nprobes:\n  - id: passkey-grid\n    params: {lengths: [256], depths: [0, 1], "
                     "fraction: 1, samples: 1}\n")
    from modelcard.probe.suite import load_suite

    assert load_suite(suite).probes[0].params["fraction"] == 1  # an int where a float is asked for fits


def test_a_custom_module_that_declares_a_negative_window_is_exit_2(run_cli) -> None:
    result = run_cli("inspect", "planted:negative_window")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "modelcard_declared['sliding_window'] must be a whole number of tokens above 0 (found -5)" in result.err
