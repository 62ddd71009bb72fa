"""The effective-context rule on hand-made grids: NoLiMa's relative rule, the absolute variant beside it, and the
plain sentence the card shows."""

from __future__ import annotations

from modelcard.probe.effective_context import describe, effective_context


def test_all_lengths_pass() -> None:
    scores = {256: 1.0, 512: 0.95, 1024: 0.9, 2048: 0.88}
    result = effective_context(scores, declared=2048)
    assert result["value"] == result["holds_through"] == 2048
    assert result["collapse"] is None and result["dips"] == [] and result["lower_bound"] is False
    assert result["threshold"] == 0.85 and result["base_length"] == 256
    assert result["absolute"]["value"] == 2048
    assert describe(result, 2048, scores) == ("retrieval holds to 2,048 tokens (100% at 256, 88% at 2,048) "
                                              "(declared 2,048)")


def test_all_pass_below_the_declared_window_is_a_lower_bound() -> None:
    result = effective_context({256: 1.0, 512: 1.0}, declared=4096)
    assert result["value"] == 512 and result["lower_bound"] is True
    assert "512 tokens or more" in describe(result, 4096, {256: 1.0, 512: 1.0})


def test_collapse_at_one_length() -> None:
    scores = {256: 1.0, 512: 0.9, 1024: 0.5, 2048: 0.03, 4096: 0.0}
    result = effective_context(scores, declared=8192)
    assert result["value"] == result["holds_through"] == 512
    assert result["collapse"] == {"length": 1024, "score": 0.5}
    assert result["absolute"]["value"] == 512
    assert describe(result, 8192, scores) == ("retrieval holds to 512 tokens (100% at 256) and falls to 50% at 1,024, "
                                              "0% at 4,096 (declared 8,192)")


def test_relative_and_absolute_rules_differ_for_a_weaker_model() -> None:
    """A model that retrieves 60% at its shortest length: 0.85 x 60% = 51% is its own bar, while the absolute
    85% is never reached."""
    scores = {256: 0.6, 512: 0.55, 1024: 0.3}
    result = effective_context(scores)
    assert result["threshold"] == 0.51 and result["value"] == 512
    assert result["absolute"]["value"] is None


def test_noisy_middle() -> None:
    """A dip below the threshold at 1,024 with 2,048 passing again: the rule reads every tested length, so the
    value is 2,048; holds_through (512) and the dip are recorded beside it and said in the sentence."""
    scores = {256: 1.0, 512: 0.9, 1024: 0.8, 2048: 0.9, 4096: 0.1}
    result = effective_context(scores, declared=4096)
    assert result["value"] == 2048 and result["holds_through"] == 512 and result["dips"] == [1024]
    assert result["collapse"] == {"length": 1024, "score": 0.8}
    text = describe(result, 4096, scores)
    assert "holds to 512 tokens" in text and "the effective context by the rule is 2,048 tokens" in text
    assert "dip at 1,024" in text


def test_too_weak_at_the_shortest_length() -> None:
    result = effective_context({256: 0.2, 512: 0.1})
    assert result["value"] is None and result["holds_through"] is None
    assert result["reason"] == ("the score at the shortest tested length (256) is 20%, under the 50% the relative "
                                "rule needs")
    assert describe(result, None, {256: 0.2, 512: 0.1}).startswith("retrieval is too weak to measure against itself")


def test_the_rule_is_stated() -> None:
    result = effective_context({256: 1.0})
    assert result["rule"] == "relative" and result["fraction"] == 0.85
    assert "0.85 x the model's own" in result["statement"] and "NoLiMa" in result["statement"]
    assert "RULER" in result["absolute"]["statement"]
    assert effective_context({})["reason"] == "no length could be tested"


def test_with_counts_a_drop_that_noise_explains_is_uncertain_not_a_collapse() -> None:
    """4 prompts per length: 4/4 then 3/4. The point score (75%) is under 0.85 x 100%, but 3 of 4 has a Wilson
    interval up to 95%, over 0.85 x the base's lower end (51%): it cannot be told from noise."""
    scores, counts = {256: 1.0, 512: 0.75}, {256: (4, 4), 512: (3, 4)}
    result = effective_context(scores, counts=counts)
    assert result["value"] == result["holds_through"] == 512 and result["collapse"] is None
    assert result["uncertain"] == [512] and result["judged"] == "95% Wilson intervals"
    assert result["intervals"]["512"]["low"] < 0.75 < result["intervals"]["512"]["high"]
    assert "within noise" in describe(result, None, scores)
    assert effective_context(scores)["collapse"] == {"length": 512, "score": 0.75}  # point scores: a collapse


def test_with_counts_a_drop_the_evidence_shows_is_a_collapse() -> None:
    scores, counts = {256: 1.0, 512: 0.1}, {256: (100, 100), 512: (10, 100)}
    result = effective_context(scores, counts=counts)
    assert result["value"] == result["holds_through"] == 256
    assert result["collapse"]["length"] == 512 and result["collapse"]["interval"][1] < 0.85 * 0.96
    assert result["uncertain"] == []


def test_lengths_straddle_each_window() -> None:
    from modelcard.probe.retrieval import exact_lengths

    assert exact_lengths(None, 256, 4096, 8192, windows=[1024]) == [256, 512, 896, 1024, 1152, 2048, 4096]
    assert exact_lengths(None, 16, 64, None, windows=[16]) == [16, 18, 32, 64]  # 16 - 2 is under the minimum
    assert exact_lengths([300, 100], 16, 64, None, windows=[16]) == [100, 300]  # an explicit list is kept as is
