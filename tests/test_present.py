"""What the card shows: phrases and rows computed before the templates format them."""

from __future__ import annotations

import pytest
from goldens import PROBED_FIXTURE

from modelcard.card.present import index_spans, layer_runs, present
from modelcard.card.render import render_html, render_markdown


@pytest.mark.parametrize(
    ("indices", "shown"),
    [([0, 1, 2, 3], "0–3"), (list(range(0, 26, 2)), "0, 2, …, 24"), ([0, 1, 2, 4, 5, 6, 8], "0–2, 4–6, 8"),
     ([5], "5"), ([3, 7], "3, 7")],
)
def test_index_spans(indices, shown):
    assert index_spans(indices) == shown


def test_alternating_layers_are_two_rows():
    layers = [{"index": i, "stack": "decoder", "kind": "sliding" if i % 2 == 0 else "full",
               "window": 4096 if i % 2 == 0 else None} for i in range(26)]
    rows = layer_runs(layers)
    assert [(r["layers"], r["count"], r["kind"], r["window"]) for r in rows] == [
        ("0, 2, …, 24", 13, "sliding", "4,096 tokens"), ("1, 3, …, 25", 13, "full", "—")]


def test_attention_free_model_says_so(write_config):
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record

    folder = write_config({"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 64,
                           "num_hidden_layers": 2, "vocab_size": 128, "state_size": 8})
    facts = {fact["name"]: fact["value"] for fact in present(inspect_record(str(folder), LoadOptions()))["facts"]}
    assert facts["Architecture class"] == "state-space"
    assert facts["Attention variant"].startswith("no attention")
    assert "constant recurrent state" in facts["KV cache per token"]


# Numbers and words ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [(1_000_000, "1,000,000"), (1e6, "1,000,000"), (4096, "4,096"),
                                              (0.0024935416877269745, "0.00249"), (1.7881393432617188e-07,
                                                                                    "1.79e-07"), (1.96, "1.96")])
def test_numbers_read_like_a_person_wrote_them(value, shown):
    from modelcard.base.wording import number

    assert number(value) == shown


def test_structures_and_sentences_in_words():
    from modelcard.base.wording import humane, plural, round_numbers_in

    assert plural(1, "warning") == "1 warning" and plural(2, "warning") == "2 warnings"
    assert humane(["full", 128, None]) == "full, 128, —"
    assert humane({"max_abs_diff": 0.0024935416877269745, "first_position_off": 4112}) == \
        "max abs diff 0.00249; first position off 4,112"
    assert round_numbers_in("diverges from position 41120 on (diff 0.0024935416877269745), sliding_window=4096") \
        == "diverges from position 41,120 on (diff 0.00249), sliding_window=4096"


# Layers --------------------------------------------------------------------------------------------------------


def stack(kinds: str, window: int = 1024) -> list[dict]:
    """`s` a sliding layer, `f` a full one."""
    return [{"index": i, "stack": "decoder", "kind": "sliding" if k == "s" else "full",
             "window": window if k == "s" else None} for i, k in enumerate(kinds)]


@pytest.mark.parametrize(("kinds", "told"), [
    ("sssssf" * 8, "5 sliding (1,024) : 1 full, ×8"),
    ("sssssf" * 10 + "ss", "5 sliding (1,024) : 1 full, ×10, then 2 sliding (1,024)"),
    ("sf" * 21, "1 sliding (1,024) : 1 full, ×21"),
    ("f" * 32, "32 full"),
    ("ssff", "2 sliding (1,024) : 2 full"),
])
def test_the_layer_pattern_is_told_as_a_person_would(kinds, told):
    from modelcard.card.layer_pattern import layers_pattern

    assert layers_pattern(stack(kinds)) == told


def test_several_stacks_are_named_and_long_layer_lists_fold():
    from modelcard.card.layer_pattern import layers_pattern

    encoder = [{**layer, "stack": "encoder"} for layer in stack("ffff")]
    assert layers_pattern(encoder + stack("ffffff")) == "encoder: 4 full; decoder: 6 full"
    rows = layer_runs(stack("sssssf" * 8))
    assert rows[0]["layers"] == "0–4, 6–10, 12–16, 18–22, 24–28, 30–34, 36–40, 42–46"
    assert rows[0]["layers_short"] == "0–4, 6–10, 12–16, 18–22, … (4 more runs)"


# KV cache at the lengths people plan for -------------------------------------------------------------------------


def kv_record(dtype: str = "bfloat16", declared: int | None = 131072) -> dict:
    import json
    from pathlib import Path

    record = json.loads((Path(__file__).parent / "fixtures" / "record-1.0.json").read_text(encoding="utf-8"))
    layers = stack("sssssf" * 2, window=4096)
    record["attention"]["layers"] = layers
    record["kv_cache"].update(dtype=dtype, layers=[{"index": i, "kind": layer["kind"], "bytes_per_token": 4096,
                                                    "max_tokens": 4095 if layer["window"] else None}
                                                   for i, layer in enumerate(layers)])
    record["context_window"]["declared"] = declared
    return record


def test_kv_memory_at_planning_lengths_and_common_dtypes():
    from modelcard.card.kv_plan import kv_plan

    plan = kv_plan(kv_record("float32", declared=100_000))
    assert plan.dtypes == ("float32", "bfloat16", "fp8")
    assert [row.tokens for row in plan.rows] == [1024, 4096, 8192, 32768, 100_000]
    assert plan.rows[-1].declared and not plan.rows[0].declared
    at_32k = plan.rows[3].bytes
    assert at_32k[0] == 2 * 4096 * 32768 + 10 * 4096 * 4095  # windowed layers stop at their window
    assert at_32k[1] == at_32k[0] // 2 and at_32k[2] == at_32k[0] // 4
    assert kv_plan(kv_record("bfloat16")).dtypes == ("bfloat16", "fp8")
    assert [row.tokens for row in kv_plan(kv_record(declared=None)).rows] == [1024, 4096, 8192, 32768, 131072]
    shown = present(kv_record())["kv"]
    assert shown["rows"][-1]["tokens"] == "128K (131,072) (declared window)"
    assert shown["heads"] == ["bfloat16 (cache dtype)", "fp8"]


# Bad news first ----------------------------------------------------------------------------------------------------


def probed_record() -> dict:
    import json

    return json.loads(PROBED_FIXTURE.read_text(encoding="utf-8"))


def test_the_status_puts_failures_first_and_names_missing_disclosures():
    record = probed_record()
    record["disclosures"] = {"intended_use": "x", "tool_access": "none"}
    status = present(record)["status"]
    assert [item["badge"]["word"] for item in status] == ["fail", "error", "missing", "warning"]
    assert status[0]["text"] == "2 probes failed (kv-layout, cache-consistency)"
    assert status[2]["text"] == "2 disclosures the gate asks for are not declared (retrieval mechanism, known " \
                                "failure modes)"
    assert all(item["badge"]["symbol"] and item["badge"]["emoji"] for item in status)  # monochrome and colour


def test_findings_are_words_errors_first_and_twin_figures_say_so():
    shown = present(probed_record())
    findings = shown["findings"]
    assert [f["severity"] for f in findings] == ["error", "warning", "warning", "warning", "info"]
    assert "[" not in findings[3]["compared"] and "full, 128, —" in findings[3]["compared"]
    assert "max abs diff 0.00255; first position off 4,112" in findings[0]["compared"]
    kv_layout = next(row for row in shown["probe_rows"] if "kv-layout" in row["id"])
    assert kv_layout["result"] == "bytes per token = 256 B (twin)"
    assert kv_layout["note"] == "the model itself: 128 KiB per token"
    assert shown["undeclared"]["keys"] == ["training_data"]


def test_a_known_cause_is_given_with_the_failure():
    """Gemma 2's configured eager kernel builds the whole attention matrix: the scaling fail says so."""
    record = probed_record()
    scaling = next(p for p in record["probes"] if p["id"] == "scaling")
    scaling.update(status="fail", value=1.96, kernel="eager")
    rows = {row["id"]: row for row in present(record)["probe_rows"]}
    assert "eager kernel builds the whole length × length attention matrix" in rows["scaling"]["cause"]
    assert "(exponent 1.96)" in rows["scaling"]["cause"]
    assert "keeps a window of past tokens on 32 layer(s)" in rows["cache-consistency"]["cause"]
    assert rows["mask-leak"]["cause"] is None


def test_the_same_finding_about_many_layers_is_one_row_and_its_words_are_explained():
    record = probed_record()
    layers = [3, 4, 5, 6, 9, *range(11, 20), *range(21, 28)]
    record["findings"] = [
        {"severity": "warning", "pointer": f"/attention/layers/{index}/window", "declared": "full attention",
         "measured": "irregular", "probe": "window-reach",
         "message": f"layer {index} claims full attention but measures irregular (measured through the trained "
                    "weights, which can hide a position the mask lets through: not proof)"} for index in layers]
    record["findings"].append({"severity": "warning", "pointer": "/attention/layers/30/window",
                               "declared": "sliding window 4,096", "measured": "irregular", "probe": "window-reach",
                               "message": "layer 30 claims sliding window 4,096 but measures irregular"})
    shown = present(record)
    first, other = shown["findings"]
    assert first["message"].startswith("21 layers (3–6, 9, 11–19, 21–27): claims full attention but measures "
                                       "irregular")
    assert first["pointer"] == "/attention/layers/3/window" and first["more"] == "and the same for 20 more layers"
    assert other["message"].startswith("Layer 30 claims sliding window") and other["more"] == ""
    words = [term["word"] for term in shown["finding_terms"]]
    assert words == ["irregular", "sliding window", "full attention", "not proof"]
    card = render_markdown(record)
    assert card.count("claims full attention but measures irregular") == 1
    assert "- *irregular*: the positions a layer sees have gaps" in card
    assert "<dt>irregular</dt>" in render_html(record)
