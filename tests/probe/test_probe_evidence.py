"""Probes that cannot pass on their own evidence (issue 8, part 3). Each test plants the bug that let a probe
pass (tests/probe/planted.py, or a real config) and checks that the probe now catches it."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from pathlib import Path

import pytest

# The published configs copied into the tests (tests/fixtures/real-configs, sources in its SOURCES.md); the shared
# set they were copied from where a checkout lacks the copy.
REAL_CONFIGS = next((folder for folder in (Path(__file__).resolve().parents[1] / "fixtures" / "real-configs",
                                           Path(__file__).resolve().parents[3] / "shared" / "real-configs")
                     if (folder / "qwen2.5-3b-instruct" / "config.json").is_file()),
                    Path(__file__).resolve().parents[1] / "fixtures" / "real-configs")
PROBES_PACKAGE = Path(__file__).resolve().parents[2] / "modelcard" / "probe" / "probes"


@pytest.fixture(scope="module")
def qwen25(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Qwen2.5-3B-Instruct's published config: `sliding_window: 32768` with `use_sliding_window: false`."""
    folder = tmp_path_factory.mktemp("qwen2.5-3b-instruct")
    shutil.copy(REAL_CONFIGS / "qwen2.5-3b-instruct" / "config.json", folder / "config.json")
    return str(folder)


@pytest.fixture(scope="module")
def small_windows(tmp_path_factory: pytest.TempPathFactory, config_folder) -> dict[str, str]:
    """Config-only models with windows smaller than the probes' old spacing of positions."""
    return {
        "chunk-4": str(config_folder(tmp_path_factory.mktemp("chunk4"), "llama4_text", "Llama4ForCausalLM",
                                     attention_chunk_size=4)),
        "chunk-3": str(config_folder(tmp_path_factory.mktemp("chunk3"), "llama4_text", "Llama4ForCausalLM",
                                     attention_chunk_size=3)),
        "window-3": str(config_folder(tmp_path_factory.mktemp("window3"), "mistral", "MistralForCausalLM",
                                      sliding_window=3)),
    }


# cache-consistency

def test_a_prefill_bug_cannot_widen_its_own_noise_floor(run_probe) -> None:
    """Every key 10% off once a cache is kept: the prefill through the cache was the noise floor, so the bug
    set its own tolerance (4 x 0.011) and decoding (0.012 off) passed. The floor now comes from full forwards."""
    outcome = run_probe("cache-consistency", "planted:prefill_widens_its_own_floor")
    assert outcome.status == "fail", outcome.details
    decode = outcome.details["decode"]
    assert decode["first_piece_diff"] > 1e-3  # the prefill through the cache is wrong ...
    assert decode["noise_floor"] < 1e-5  # ... and no longer sets the tolerance
    assert decode["consistent"] is False and decode["float64"]["consistent"] is False
    assert set(decode["noise_by_length"]) >= {"repeat", "40"}
    assert [(f["severity"], f["pointer"]) for f in outcome.findings] == [("error", "/kv_cache")]


# mask-leak

@pytest.mark.parametrize("spec, declared", [("planted:causal_declared_bidirectional", "bidirectional"),
                                            ("planted:causal_declared_prefix", "prefix")])
def test_any_declared_mask_that_measures_otherwise_is_an_error(run_probe, spec: str, declared: str) -> None:
    outcome = run_probe("mask-leak", spec)
    assert outcome.status == "fail"
    (error,) = outcome.findings
    assert (error["severity"], error["declared"], error["measured"]) == ("error", declared, "causal")
    assert error["pointer"].endswith("/mask")


# kernel-agreement

def test_a_kernel_that_crashes_is_an_error_with_its_reason(run_probe) -> None:
    outcome = run_probe("kernel-agreement", "planted:eager_crashes")
    assert outcome.status == "error"
    assert outcome.reason == ("the eager kernel crashed: RuntimeError: CUDA error: an illegal memory access was "
                              "encountered")
    assert outcome.details["crashed"] == {"eager": "RuntimeError: CUDA error: an illegal memory access was "
                                                   "encountered"}


def test_kernels_that_disagree_are_a_finding(run_probe) -> None:
    outcome = run_probe("kernel-agreement", "tinymodels:disagreeing_kernel")
    assert outcome.status == "fail"
    (disagreement,) = outcome.findings
    assert disagreement["pointer"] == "/attention/implementation"
    assert disagreement["measured"]["kernel"] == "sdpa"  # the planted bug's kernel, judged against float64 eager
    assert disagreement["severity"] == "error"  # 1/d instead of 1/sqrt(d) changes the predicted tokens


def test_unavailable_only_where_transformers_says_so(run_probe) -> None:
    import transformers.utils

    outcome = run_probe("kernel-agreement", None, defer=["flex_attention"])
    assert outcome.status == "pass"
    not_run = outcome.details["not_run"]
    if not transformers.utils.is_flash_attn_2_available():
        assert not_run["flash_attention_2"] == {"status": "unavailable", "reason": "transformers finds no flash-attn "
                                                                                   "2 package or CUDA device"}
    assert not_run["flex_attention"]["status"] == "deferred"
    assert outcome.details["crashed"] == {}


def test_gemma2_compares_every_kernel_its_code_runs(run_probe, config_only) -> None:
    """Gemma 2's code has no sdpa path (softcapping), and the quick suite left flex_attention out: one kernel
    remained and the probe skipped. Deferred kernels now run when fewer than two others can."""
    from modelcard.probe.suite import resolve_suite

    quick = next(entry for entry in resolve_suite("quick").probes if entry.id == "kernel-agreement")
    outcome = run_probe("kernel-agreement", config_only("alternating"), **quick.params)
    assert outcome.status == "pass", (outcome.reason, outcome.details)
    assert outcome.kernel == "eager,flex_attention"
    assert outcome.details["not_run"]["sdpa"]["status"] == "unsupported"
    assert "_supports_sdpa is False" in outcome.details["not_run"]["sdpa"]["reason"]


# window-reach

@pytest.mark.parametrize("name, kind, window", [("chunk-4", "chunked", 4), ("chunk-3", "chunked", 3),
                                                ("window-3", "sliding", 3)])
def test_small_windows_and_chunks_are_measured_exactly(run_probe, small_windows, name, kind, window) -> None:
    outcome = run_probe("window-reach", small_windows[name])
    assert outcome.status == "pass", outcome.findings
    assert (outcome.details["blocks"]["0"]["kind"], outcome.details["blocks"]["0"]["window"]) == (kind, window)
    assert outcome.measured["/attention/layers/0/window"] == window


@pytest.mark.parametrize("spec, kind, window", [("planted:chunk_of_4", "chunked", 4),
                                                ("planted:chunk_of_3", "chunked", 3),
                                                ("planted:window_of_3", "sliding", 3)])
def test_small_windows_of_a_custom_module(run_probe, spec, kind, window) -> None:
    outcome = run_probe("window-reach", spec)
    assert {(row["measured"][0], row["measured"][1]) for row in outcome.details["layers"]} == {(kind, window)}


def test_every_documented_layer_is_mapped_or_reported(context) -> None:
    """The card documents 4 layers and the stack the probe watches has 2 blocks: layers 2 and 3 were silently
    left out of the comparison."""
    from modelcard.probe.registry import get_probe

    ctx = context("tinymodels:windowed")
    layers = [{"index": i, "stack": "decoder", "kind": "sliding", "window": 8} for i in range(4)]
    facts = {**ctx.facts, "attention": {**ctx.facts["attention"], "layers": layers}}
    probe = get_probe("window-reach")
    outcome = probe.run(dataclasses.replace(ctx, facts=facts), **probe.params({}, "test"))
    assert [row["index"] for row in outcome.details["layers"]] == [0, 1]
    assert [item["index"] for item in outcome.details["unmapped_layers"]] == [2, 3]
    (warning,) = outcome.findings
    assert warning["severity"] == "warning" and "have no block the probe could watch" in warning["message"]


def test_twin_results_copied_onto_other_layers_are_derived(run_probe, config_only) -> None:
    """The Gemma 2 twin keeps layers 0 (sliding) and 1 (full); layers 2-25 take their kind's result."""
    reach = run_probe("window-reach", config_only("alternating"))
    assert reach.measured["/attention/layers/0/window"] == 4096
    assert "/attention/layers/1/kind" in reach.measured
    assert "/attention/layers/24/window" not in reach.measured
    assert reach.derived["/attention/layers/24/window"] == 4096
    assert reach.derived["/attention/layers/25/kind"] == "full"
    assert {row["provenance"] for row in reach.details["layers"][2:]} == {"derived"}
    layout = run_probe("kv-layout", config_only("alternating"))
    assert layout.measured["/kv_cache/layers/0/max_tokens"] == 4095
    assert layout.derived["/kv_cache/layers/24/max_tokens"] == 4095
    assert "/kv_cache/layers/24/max_tokens" not in layout.measured


# a key the code ignores

def test_a_key_the_config_class_discards_does_not_drive_the_probes(run_probe, qwen25) -> None:
    """Qwen2.5's `sliding_window: 32768` with `use_sliding_window: false`: Qwen2Config sets it to None and no
    layer slides, yet it made window-reach, kv-layout and cache-consistency skip ("needs 32,768 tokens")."""
    from modelcard.probe.suite import resolve_suite

    quick = {entry.id: entry.params for entry in resolve_suite("quick").probes}
    for probe_id in ("window-reach", "kv-layout", "cache-consistency"):
        outcome = run_probe(probe_id, qwen25, **quick[probe_id])
        assert outcome.status == "pass", (probe_id, outcome.reason, outcome.findings)
    reach = run_probe("window-reach", qwen25)
    assert reach.details["length"] == 64
    assert reach.findings == []  # nothing was measured about the key, so nothing is said about it
    (untested,) = reach.details["ignored_window_keys_untested"]
    assert (untested["key"], untested["value"], untested["live"]) == ("sliding_window", 32768, False)


def test_a_stray_key_the_runtime_keeps_is_still_tested(context, config_only) -> None:
    """Llama's attention ignores a stray `sliding_window`, but LlamaConfig keeps it and transformers' cache builds
    sliding layers from it: that key still drives the probes past it."""
    from modelcard.probe.shared import claimed_windows, ignored_window_keys

    ctx = context(config_only("ignored-window"))
    assert [item["live"] for item in ignored_window_keys(ctx)] == [True]
    assert claimed_windows(ctx) == [4096]


# non-finite outputs

@pytest.mark.parametrize("spec", ["nan_models:nan_logits", "nan_models:infinite_logits",
                                  "nan_models:nan_in_last_block"])
@pytest.mark.parametrize("probe_id", ["mask-leak", "window-reach", "kernel-agreement"])
def test_outputs_that_are_not_finite_make_the_probe_an_error(context, spec: str, probe_id: str) -> None:
    """mask-leak compared NaN with NaN, found nothing moved and passed; window-reach watched the blocks (finite)
    and never the logits."""
    from modelcard.probe.registry import get_probe
    from modelcard.probe.runner import run_probe
    from modelcard.probe.suite import PlannedProbe

    probe = get_probe(probe_id)
    record = run_probe(PlannedProbe(probe_id, probe, probe.params({}, "test")), context(spec), seed=0)["record"]
    assert record["status"] == "error", record
    assert "the model's outputs hold" in record["reason"] and "nothing can be measured on them" in record["reason"]


def test_the_non_finite_error_names_what_it_found() -> None:
    import torch

    from modelcard.probe.adapter import NonFiniteOutput, require_finite

    output = torch.zeros(2, 5, 3)
    output[1, 3, 0] = float("nan")
    output[1, 4, 2] = float("inf")
    with pytest.raises(NonFiniteOutput, match=r"1 NaN and 1 infinite value\(s\) of 30 after a forward of 5 tokens "
                                              r"\(first at batch row 1, position 3\)"):
        require_finite(output, "a forward of 5 tokens")
    assert require_finite(torch.ones(1, 2, 3), "a forward") is not None


# house

def test_no_probe_imports_another_probe() -> None:
    for path in PROBES_PACKAGE.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("modelcard.probe.probes"), (path.name, node.module)


def test_deferred_kernels_run_only_when_needed_and_never_the_models_own() -> None:
    from types import SimpleNamespace

    from modelcard.probe.probes.kernel_agreement import choose

    def ctx(own: str, available: dict) -> SimpleNamespace:
        return SimpleNamespace(adapter=SimpleNamespace(kernel=own, is_transformers=True,
                                                       kernel_availability=lambda: available))

    unsupported = {"status": "unsupported", "reason": "no sdpa path"}
    three = {"eager": None, "sdpa": None, "flex_attention": None}
    run, not_run = choose(ctx("sdpa", three), None, None, ["flex_attention"])
    assert run == ["eager", "sdpa"] and not_run["flex_attention"]["status"] == "deferred"
    run, _ = choose(ctx("eager", {**three, "sdpa": unsupported}), None, None, ["flex_attention"])
    assert run == ["eager", "flex_attention"]
    run, _ = choose(ctx("flex_attention", three), None, None, ["flex_attention"])
    assert run == ["eager", "sdpa", "flex_attention"]
    run, not_run = choose(ctx("sdpa", three), None, ["eager"], None)
    assert run == ["sdpa", "flex_attention"] and not_run["eager"]["status"] == "excluded"
