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
