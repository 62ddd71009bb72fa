"""Scale-out (issue 13): a suite's cells shared by two torchrun ranks on CPU (gloo) give the results of one process
and resume cell by cell after a rank is killed; the demo loaded with a device map that offloads layers to disk
gives the probe results of the plain load. One torchrun launch pair (about a minute on two cores)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
LAUNCH = HERE / "launch_modelcard.py"
# Timings and where a probe ran differ between a run in one process and one across ranks; the layout note of the
# probes that depend on the layout names the ranks.
VARIES = {"duration_s", "device", "layout", "latency_s", "latency_exponent"}


def _suite(folder: Path, marker: Path, log: Path) -> Path:
    import yaml

    probes = [
        {"id": "mask-leak", "params": {"length": 32}},
        {"id": "window-reach", "params": {"min_length": 48}},
        {"id": "test-cells", "params": {"parts": 6, "marker": str(marker), "log": str(log)}},
        {"id": "passkey-grid", "params": {"lengths": [256, 512], "depths": [0.0, 0.5, 1.0], "samples": 1}},
        {"id": "copy-distance", "params": {"distances": [16, 64], "samples": 1}},
        {"id": "kv-layout", "params": {"min_length": 32}},
    ]
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "scale-out", "probes": probes}), encoding="utf-8")
    return path


def _torchrun(suite: Path, out: Path) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun) if torchrun.exists() else shutil.which("torchrun") or "torchrun",
               "--standalone", "--nproc_per_node=2", str(LAUNCH), "probe", "--suite", str(suite),
               "-o", str(out), "--format", "json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _comparable(value: Any, varies: frozenset[str] = frozenset(VARIES)) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v, varies) for k, v in value.items() if k not in varies}
    if isinstance(value, list):
        return [_comparable(v, varies) for v in value]
    return value


def _cells_done(log: Path) -> list[tuple[int, int]]:
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines()] if log.exists() else []


def test_two_ranks_share_the_cells_resume_after_a_killed_rank_and_equal_one_process(run_cli, tmp_path) -> None:
    import cell_probes  # noqa: F401  # the test probe, for the run in this process
    import torch

    marker, log, out = tmp_path / "died", tmp_path / "cells.log", tmp_path / "ranks"
    suite = _suite(tmp_path, marker, log)

    first = _torchrun(suite, out)
    assert first.returncode != 0 and marker.exists(), first.stderr[-2000:]  # rank 1 was killed mid-run
    before = _cells_done(log)
    assert any(rank == 1 for _, rank in before)  # rank 1 finished a cell of test-cells before it was killed
    saved = {p.name: p.read_text() for p in (out / "probes").glob("*.json")}
    assert "mask-leak.json" in saved  # what finished before the kill was kept
    assert any(".cell" in name for name in saved)  # including cells of probes that had not finished

    second = _torchrun(suite, out)
    assert second.returncode == 0, second.stderr[-3000:]
    report = json.loads(second.stdout)
    assert report["probe_suite"]["world_size"] == 2
    assert report["probe_suite"]["layout"]["ranks"] == 2
    assert "mask-leak" in report["resumed"] and report["resumed_cells"] >= len(before)
    after = _cells_done(log)[len(before):]
    parts = [part for part, _ in before + after]
    assert sorted(parts) == list(range(6)), (before, after)  # no finished cell of test-cells ran twice
    assert {rank for _, rank in before + after} == {0, 1}  # both ranks took cells
    for name, text in saved.items():
        if name != "manifest.json" and (out / "probes" / name).exists():
            assert (out / "probes" / name).read_text() == text  # a stored result is never redone
    assert [p["status"] for p in report["probes"]] == ["pass"] * 6
    assert [p.get("cells") for p in report["probes"]] == [None, 4, 6, 6, 2, None]  # whole probes have no cells

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun runs each rank: the same rounding
    try:
        single = run_cli("probe", "--suite", suite, "-o", tmp_path / "one", "--format", "json")
    finally:
        torch.set_num_threads(threads)
    assert single.code == 0, single.err
    alone = json.loads(single.out)
    assert alone["probe_suite"]["world_size"] == 1
    assert _comparable(alone["probes"]) == _comparable(report["probes"])
    assert alone["findings"] == report["findings"]


@pytest.fixture(scope="module")
def offload_suite(tmp_path_factory) -> Path:
    import yaml

    folder = tmp_path_factory.mktemp("offload")
    probes = ["mask-leak", {"id": "window-reach", "params": {"min_length": 48}}, "kv-layout", "cache-consistency",
              "kernel-agreement", {"id": "scaling", "params": {"max_tokens": 256}},
              {"id": "passkey-grid", "params": {"lengths": [256], "depths": [0.0, 1.0], "samples": 1}}]
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "offload", "probes": probes}), encoding="utf-8")
    return path


def test_the_demo_offloaded_to_disk_by_a_device_map_gives_the_same_results(run_cli, tmp_path, offload_suite) -> None:
    plain = run_cli("probe", "--suite", offload_suite, "-o", tmp_path / "plain", "--format", "json")
    mapped = run_cli("probe", "--suite", offload_suite, "-o", tmp_path / "mapped", "--format", "json",
                     "--device-map", "auto", "--max-memory", "cpu=1MB", "--offload-folder", tmp_path / "offload")
    assert plain.code == mapped.code, mapped.err
    plain_report, mapped_report = json.loads(plain.out), json.loads(mapped.out)
    layout = mapped_report["probe_suite"]["layout"]
    assert layout["device_map"] == "auto" and layout["offload"] == ["disk"] and "disk" in layout["devices"]
    assert plain_report["probe_suite"]["layout"]["offload"] == []
    # the probes that depend on the layout say which one they ran with; scaling's figures are the layout's own
    by_id = {p["id"]: p for p in mapped_report["probes"]}
    assert "offloaded to disk" in by_id["scaling"]["details"]["layout"]
    assert "offloaded to disk" in by_id["kernel-agreement"]["details"]["layout"]
    # memory is the layout's own too: the retrieval probes' estimate counts the weights resident, not on disk
    assert by_id["passkey-grid"]["details"]["memory"][0]["estimate"]["weights"] < sum(
        row["estimate"]["weights"] for row in plain_report["probes"][-1]["details"]["memory"])
    varies = frozenset({*VARIES, "memory"})
    same = [p for p in plain_report["probes"] if p["id"] != "scaling"]
    assert _comparable(same, varies) == _comparable([p for p in mapped_report["probes"] if p["id"] != "scaling"],
                                                    varies)


def test_placement_options_that_cannot_work_are_bad_input(run_cli, tmp_path) -> None:
    result = run_cli("probe", "--suite", "quick", "-o", tmp_path / "out", "--tp")
    assert result.code == 2 and "torchrun" in result.err
    result = run_cli("probe", "--suite", "quick", "-o", tmp_path / "out", "--max-memory", "cpu=1GB")
    assert result.code == 2 and "only with --device-map" in result.err
    result = run_cli("probe", "--suite", "quick", "-o", tmp_path / "out", "--device-map", "everywhere")
    assert result.code == 2 and "--device-map" in result.err
    result = run_cli("probe", "--suite", "quick", "-o", tmp_path / "out", "--device-map", "auto",
                     "--max-memory", "cpu=lots")
    assert result.code == 2 and "not a size" in result.err
    assert not (tmp_path / "out").exists()
