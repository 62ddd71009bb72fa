"""Probe results and findings in the card: the measured value wins, provenance says so, the declared value
stays visible in the finding, and every record validates."""

from __future__ import annotations

import json
from pathlib import Path

from modelcard.record.validate import validate_record


def _card(run_cli, tmp_path: Path, *args: str) -> dict:
    """Generate a card; the exit code is 1 exactly when a probe failed or erred or a finding is an error."""
    result = run_cli("generate", *args, "-o", tmp_path / "card")
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    bad_news = any(p["status"] in ("fail", "error") for p in record["probes"]) or any(
        f["severity"] == "error" for f in record["findings"])
    assert result.code == (1 if bad_news else 0), result.err
    assert validate_record(record) == []
    return record


def test_quick_suite_on_the_demo_lands_in_the_card(run_cli, tmp_path: Path) -> None:
    """What the quick suite finds on the demo (its wall time is a benchmark's claim, bench/, not a timed unit
    test's: under load it varies by a factor of two)."""
    record = _card(run_cli, tmp_path)
    assert [p["id"] for p in record["probes"]] == ["mask-leak", "window-reach", "kv-layout", "cache-consistency",
                                                   "kernel-agreement", "scaling"]
    assert {p["status"] for p in record["probes"]} == {"pass"}
    assert record["findings"] == []
    assert record["kv_cache"]["source"] == "measured"
    assert record["provenance"]["/kv_cache/bytes_per_token"] == "measured"
    assert record["provenance"]["/masking/stacks/decoder/mask"] == "measured"
    assert all(p["kernel"] in ("sdpa", "sdpa,eager") and p["seed"] == 0 for p in record["probes"])
    readme = (tmp_path / "card" / "README.md").read_text()
    assert "`kv-layout`" in readme and "Suite `quick`" in readme


def test_declared_window_not_enforced_is_an_error_finding_in_the_card(run_cli, tmp_path: Path) -> None:
    record = _card(run_cli, tmp_path, "tinymodels:window_not_enforced")
    errors = [f for f in record["findings"] if f["severity"] == "error"]
    assert {f["pointer"] for f in errors} == {"/attention/layers/0/window", "/attention/layers/1/window"}
    assert errors[0]["probe"] == "window-reach"
    assert errors[0]["declared"] == "sliding window 8"
    assert record["attention"]["layers"][0] == {"index": 0, "stack": "decoder", "kind": "full", "window": None}
    assert record["provenance"]["/attention/layers/0/window"] == "measured"
    assert record["masking"]["stacks"]["decoder"]["window"] is None
    html = (tmp_path / "card" / "card.html").read_text()
    assert "sliding window 8" in html


def test_config_only_card_says_the_probes_ran_on_a_twin(run_cli, tmp_path: Path, config_only) -> None:
    record = _card(run_cli, tmp_path, config_only("ignored-window"), "--suite", "quick")
    assert record["probe_suite"]["twin"] is True
    assert all(p["twin"] for p in record["probes"])
    warnings = [f for f in record["findings"] if f["severity"] == "warning"]
    assert any(f["declared"] == {"sliding_window": 4096} for f in warnings)
    assert record["kv_cache"]["source"] == "formula"  # twin widths are tiny: bytes stay the formula's
    assert record["provenance"]["/kv_cache/layers/0/max_tokens"] == "measured"


def test_a_cache_that_honours_a_key_the_attention_ignores_is_an_error(run_cli, tmp_path: Path, config_only) -> None:
    """transformers 5.24 builds sliding cache layers from a stray `sliding_window` in a Llama config, whose
    attention is full: cached decoding then drops tokens the model attends to. The probes catch it."""
    record = _card(run_cli, tmp_path, config_only("ignored-window"), "--suite", "quick")
    consistency = next(p for p in record["probes"] if p["id"] == "cache-consistency")
    assert consistency["status"] == "fail"
    assert consistency["details"]["decode"]["first_position_off"] is not None
    errors = [f for f in record["findings"] if f["severity"] == "error"]
    assert [(f["pointer"], f["probe"]) for f in errors] == [("/kv_cache", "cache-consistency")]
    assert record["kv_cache"]["layers"][0]["max_tokens"] == 4095
    per_token = record["kv_cache"]["bytes_per_token"]
    sizes = {row["tokens"]: row["bytes"] for row in record["kv_cache"]["bytes_at"]}
    assert sizes[2048] == 2048 * per_token and sizes[8192] == sizes[4096] == 4095 * per_token
    assert record["provenance"]["/kv_cache/bytes_at"] == "derived"
