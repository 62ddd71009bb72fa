"""The probe store only deletes what it wrote: never through a symlink, never by a pattern, only names its own
manifest lists inside its own folder; a damaged result file is a probe to run again, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcard.base.errors import BadInput
from modelcard.probe.store import MANIFEST, ResultStore


def _suite(folder: Path, *probes: str) -> Path:
    path = folder / f"suite-{'-'.join(probes)}.yaml"
    path.write_text(f"name: store\nprobes: [{', '.join(probes)}]\n", encoding="utf-8")
    return path


def _probe(run_cli, out: Path, suite: Path, *options: str):
    result = run_cli("probe", "tinymodels:honest", "--suite", suite, "-o", out, "--format", "json", *options)
    return result, json.loads(result.out) if result.code in (0, 1) else None


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def test_a_symlinked_probes_folder_is_refused_and_nothing_outside_is_touched(run_cli, tmp_path) -> None:
    outside = tmp_path / "data"
    outside.mkdir()
    (outside / "marker.json").write_text('{"keep": true}\n', encoding="utf-8")
    (outside / "manifest.json").write_text('{"not": "ours"}\n', encoding="utf-8")
    before = _tree(outside)
    out = tmp_path / "out"
    out.mkdir()
    (out / "probes").symlink_to(outside, target_is_directory=True)
    result = run_cli("probe", "tinymodels:honest", "--suite", _suite(tmp_path, "mask-leak"), "-o", out)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and str(out / "probes") in lines[0] and "symlink" in lines[0]
    assert "Traceback" not in result.err
    assert _tree(outside) == before  # the marker survives, no manifest or result was written there


def test_a_symlinked_result_entry_is_refused(run_cli, tmp_path) -> None:
    suite, out = _suite(tmp_path, "mask-leak"), tmp_path / "out"
    assert _probe(run_cli, out, suite)[0].code == 0
    victim = tmp_path / "victim.json"
    victim.write_text("precious\n", encoding="utf-8")
    (out / "probes" / "mask-leak.json").unlink()
    (out / "probes" / "mask-leak.json").symlink_to(victim)
    result, _ = _probe(run_cli, out, suite, "--seed", "1")  # another identity: the old results are removed
    assert result.code == 2
    assert "symlink" in result.err and "mask-leak.json" in result.err
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_foreign_files_survive_fresh_runs_and_stale_results_of_its_own_do_not(run_cli, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "probes").mkdir(parents=True)
    (out / "probes" / "notes.json").write_text('{"mine": 1}\n', encoding="utf-8")
    result, _ = _probe(run_cli, out, _suite(tmp_path, "mask-leak", "kv-layout"))
    assert result.code == 0
    assert {"notes.json", "mask-leak.json", "kv-layout.json", MANIFEST} == {p.name for p in (out / "probes").iterdir()}

    result, report = _probe(run_cli, out, _suite(tmp_path, "mask-leak"), "--seed", "1")  # another run: afresh
    assert result.code == 0 and report["resumed"] == []
    assert {p.name for p in (out / "probes").iterdir()} == {"notes.json", "mask-leak.json", MANIFEST}
    assert json.loads((out / "probes" / "notes.json").read_text(encoding="utf-8")) == {"mine": 1}


@pytest.mark.parametrize("damage", ["[]", '{"record": []}', '{"record": {"params": {}}}', "\x00\xff not json",
                                    '{"record": {"id": "mask-leak"}, "findings": 3}'])
def test_a_damaged_result_file_reruns_that_probe(run_cli, tmp_path, damage) -> None:
    suite, out = _suite(tmp_path, "mask-leak", "kv-layout"), tmp_path / "out"
    assert _probe(run_cli, out, suite)[0].code == 0
    (out / "probes" / "mask-leak.json").write_text(damage, encoding="utf-8")
    result, report = _probe(run_cli, out, suite)
    assert result.code == 0, result.err
    assert report["resumed"] == ["kv-layout"]
    assert [p["status"] for p in report["probes"]] == ["pass", "pass"]
    assert json.loads((out / "probes" / "mask-leak.json").read_text(encoding="utf-8"))["record"]["id"] == "mask-leak"


def test_a_forged_manifest_cannot_name_files_outside_the_folder(tmp_path) -> None:
    folder = tmp_path / "probes"
    folder.mkdir()
    victims = [tmp_path / "victim.json", tmp_path / "other" / "victim.json"]
    victims[1].parent.mkdir()
    for victim in victims:
        victim.write_text("{}", encoding="utf-8")
    (folder / MANIFEST).write_text(json.dumps({
        "format": "modelcard-probe-store/2", "identity": {"seed": 0},
        "files": ["../victim.json", str(victims[1]), "..", MANIFEST, 3, "../other/victim.json"]}), encoding="utf-8")
    store = ResultStore(folder, {"seed": 1})
    store.start()
    assert all(victim.exists() for victim in victims)
    assert json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"] == []


def test_an_older_manifest_deletes_nothing(tmp_path) -> None:
    folder = tmp_path / "probes"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"seed": 0, "suite": "quick"}), encoding="utf-8")  # before files
    (folder / "mask-leak.json").write_text("{}", encoding="utf-8")
    store = ResultStore(folder, {"seed": 0, "suite": "quick"})
    assert not store.resumable
    store.start()
    assert (folder / "mask-leak.json").exists()
    assert store.load("mask-leak", {}) is None  # not listed as written by this store: never reused


def test_a_store_folder_that_is_a_file_or_a_symlinked_manifest_is_refused(tmp_path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(BadInput, match="not a folder"):
        ResultStore(tmp_path / "file", {})
    folder = tmp_path / "probes"
    folder.mkdir()
    target = tmp_path / "elsewhere.json"
    target.write_text("{}", encoding="utf-8")
    (folder / MANIFEST).symlink_to(target)
    with pytest.raises(BadInput, match="symlink"):
        ResultStore(folder, {})
    assert target.read_text(encoding="utf-8") == "{}"


def test_results_are_listed_in_the_manifest_as_they_are_written(tmp_path) -> None:
    folder = tmp_path / "probes"
    store = ResultStore(folder, {"seed": 0})
    store.start()
    result = {"record": {"id": "mask-leak", "title": "", "version": 1, "status": "pass", "metric": None, "value": None,
                         "unit": None, "threshold": None, "kernel": None, "device": None, "seed": 0,
                         "duration_s": 0.0, "params": {"length": 3}, "details": {}, "reason": None},
              "findings": [], "measured": {}, "derived": {}}
    store.save("mask-leak", result)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"] == ["mask-leak.json"] and manifest["identity"] == {"seed": 0}
    again = ResultStore(folder, {"seed": 0})
    assert again.load("mask-leak", {"length": 3}) == result
    assert again.load("mask-leak", {"length": 4}) is None  # other parameters: run again
