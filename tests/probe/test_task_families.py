"""The task-family probes (issue 20) on planted solvers whose answers are known by construction
(tests/probe/solvers.py), and on a random-weight model that can do none of the tasks."""

from __future__ import annotations

SPEC = "solvers:{}"
VT = {"lengths": [1024, 2048, 4096], "hops": [1, 2, 4], "samples": 3}


def test_a_perfect_tracker_scores_one_everywhere(run_probe) -> None:
    outcome = run_probe("variable-tracking", SPEC.format("tracker"), **VT)
    assert outcome.status == "pass", outcome.details["summary"]
    assert outcome.details["scores"] == {"1024": 1.0, "2048": 1.0, "4096": 1.0}
    assert all(row["exact_match"] == 1.0 and row["name_accuracy"] == 1.0 for row in outcome.details["cells"])
    assert outcome.value == 4096 and outcome.findings == []
    family = outcome.details["family"]
    assert family["family"] == "multi-hop" and family["cannot_do"] is False
    assert outcome.details["shortest"]["score"] == 1.0 and outcome.details["shortest"]["interval"][1] == 1.0
    cell = outcome.details["cells"][0]
    assert cell["exact_match_interval"][0] < 1.0  # three samples: an interval, not a certainty


def test_a_one_hop_tracker_fails_the_longer_chains_at_every_length(run_probe) -> None:
    outcome = run_probe("variable-tracking", SPEC.format("one_hop_tracker"), **VT)
    by_hops = {(row["length"], row["hops"]): row for row in outcome.details["cells"]}
    for length in (1024, 2048, 4096):
        assert by_hops[length, 1]["exact_match"] == 1.0
        assert by_hops[length, 2]["exact_match"] == 0.0 and by_hops[length, 4]["exact_match"] == 0.0
        assert 0.0 < by_hops[length, 4]["name_accuracy"] < 1.0  # the names of the first link are right
    # a third right at every length: weak, but the same at every length, so no context limit is claimed
    assert not [f for f in outcome.findings if f["severity"] == "warning"]


def test_a_short_sighted_tracker_collapses_inside_the_declared_window(run_probe) -> None:
    outcome = run_probe("variable-tracking", SPEC.format("short_sighted_tracker"), lengths=[512, 1024, 4096],
                        hops=[1], samples=4)
    scores = outcome.details["scores"]
    assert scores["512"] == 1.0 and scores["4096"] == 0.0
    assert outcome.status == "fail"
    warning = [f for f in outcome.findings if f["severity"] == "warning"]
    assert warning and warning[0]["pointer"] == "/disclosures/known_failure_modes"
    assert "variable tracking" in warning[0]["message"]


def test_a_model_that_cannot_track_is_not_accused_of_a_context_limit(run_probe) -> None:
    outcome = run_probe("variable-tracking", "test_retrieval_probes:blind", lengths=[512, 1024], hops=[1],
                        samples=2)
    assert outcome.status == "fail" and outcome.value == 0.0  # the score at the shortest length
    assert outcome.details["family"]["cannot_do"] is True
    assert outcome.details["summary"].startswith("cannot do the task")
    assert [f["severity"] for f in outcome.findings] == ["info"]
    assert "not a context limit" in outcome.findings[0]["message"]


def test_a_length_too_short_for_the_longest_chains_keeps_its_shorter_ones(run_probe) -> None:
    # 4-hop chains with their worked example need more than 512 byte-level tokens: that cell alone is skipped,
    # and both lengths are compared on the 1- and 2-hop chains measured at each
    outcome = run_probe("variable-tracking", SPEC.format("tracker"), lengths=[512, 2048], hops=[1, 2, 4], samples=2)
    assert outcome.details["scores"] == {"512": 1.0, "2048": 1.0}
    assert outcome.details["hops_compared"] == [1, 2]
    [skipped] = outcome.details["skipped_lengths"]
    assert (skipped["length"], skipped["hops"]) == (512, 4) and skipped["reason"].startswith("chains of 4 hops")
    cells = {(row["length"], row["hops"]) for row in outcome.details["cells"]}
    assert cells == {(512, 1), (512, 2), (2048, 1), (2048, 2), (2048, 4)}
    assert outcome.details["exact_match"]["512"]["value"] == 1.0
    # a length over the declared window skips every hop count of it for one reason: listed once
    beyond = run_probe("variable-tracking", SPEC.format("tracker"), lengths=[1024, 16384], hops=[1, 2], samples=1)
    assert [(item["length"], "hops" in item) for item in beyond.details["skipped_lengths"]] == [(16384, False)]


def test_a_tracker_is_scored_by_the_share_of_names_it_gets_right(run_probe) -> None:
    outcome = run_probe("variable-tracking", SPEC.format("one_hop_tracker"), lengths=[1024, 2048], hops=[1, 4],
                        samples=2)
    # 1 hop: both names right; 4 hops: the first two of five: (1 + 2/5) / 2 at each length
    assert outcome.details["scores"] == {"1024": 0.7, "2048": 0.7}
    assert outcome.details["family"]["measure"] == "share of names right"
    assert outcome.details["exact_match"]["1024"]["value"] == 0.5
    assert "share of the answer's names right" in outcome.details["effective"]["statement"]


def test_a_perfect_counter_names_the_most_frequent_words(run_probe) -> None:
    outcome = run_probe("frequent-words", SPEC.format("counter"), lengths=[1024, 2048, 4096], samples=3)
    assert outcome.status == "pass", outcome.details["summary"]
    assert outcome.details["scores"] == {"1024": 1.0, "2048": 1.0, "4096": 1.0}
    assert outcome.details["family"]["family"] == "aggregation"
    for answer in outcome.details["answers"]:  # unique answers: strictly falling counts
        assert answer["counts"] == sorted(answer["counts"], reverse=True)
        assert len(set(answer["counts"])) == len(answer["counts"])
    assert all(row["word_accuracy"] == 1.0 for row in outcome.details["by_length"])
    characters = outcome.details["characters"]["by_length"]  # one byte per token: as many characters as tokens
    assert characters == {"1024": 1024.0, "2048": 2048.0, "4096": 4096.0}


def test_a_model_that_cannot_count_is_not_accused_of_a_context_limit(run_probe) -> None:
    outcome = run_probe("frequent-words", "test_retrieval_probes:blind", lengths=[1024, 2048], samples=2)
    assert outcome.details["family"]["cannot_do"] is True and outcome.value == 0.0
    assert [f["severity"] for f in outcome.findings] == ["info"]


def test_counting_only_the_dominant_word_scores_a_third_and_cannot_do_the_task(run_probe) -> None:
    outcome = run_probe("frequent-words", SPEC.format("top_word_counter"), lengths=[1024, 2048], samples=3)
    assert outcome.details["scores"] == {"1024": 0.3333, "2048": 0.3333}
    assert all(row["exact_match"] == 0.0 for row in outcome.details["by_length"])
    assert outcome.details["exact_match"]["2048"]["value"] == 0.0
    family = outcome.details["family"]
    assert family["measure"] == "share of words right" and family["cannot_do"] is True  # a third: under 50%
    assert outcome.metric == "share of words right at 1,024 tokens (cannot do the task)"
    assert "gets 33% of the words right already at" in outcome.details["summary"]
    assert outcome.details["shortest"]["interval"][0] > 0.0


def test_retrieval_that_stops_at_the_window_is_a_finding(run_probe) -> None:
    outcome = run_probe("window-boundary", SPEC.format("windowed_retriever"), samples=3)
    by_distance = {row["distance"]: row["exact_match"] for row in outcome.details["cells"]}
    assert by_distance[525] == 1.0 and by_distance[1200] == 0.0 and by_distance[2400] == 0.0
    verdict = outcome.details["windows"][0]
    assert verdict["window"] == 600 and verdict["verdict"] == "stops at the window"
    assert outcome.status == "fail"
    assert [f["severity"] for f in outcome.findings] == ["warning"]
    assert "600-token window" in outcome.findings[0]["message"]


def test_retrieval_that_survives_the_window_passes_and_says_so(run_probe) -> None:
    outcome = run_probe("window-boundary", SPEC.format("hybrid_retriever"), samples=3)
    assert outcome.status == "pass", outcome.details["summary"]
    assert all(row["exact_match"] == 1.0 for row in outcome.details["cells"])
    assert outcome.details["windows"][0]["verdict"] == "survives past the window"
    assert "survives past the 600-token window" in outcome.details["summary"] and outcome.findings == []


def test_a_model_without_a_window_is_skipped(run_probe) -> None:
    outcome = run_probe("window-boundary", "test_retrieval_probes:oracle")
    assert outcome.status == "skipped" and "no sliding-window or chunked layer" in outcome.reason


def test_a_model_that_knows_the_landmarks_retrieves_the_nonliteral_needle(run_probe) -> None:
    outcome = run_probe("nonliteral-needle", SPEC.format("knower"), lengths=[512, 1024], samples=6)
    assert outcome.status == "pass", outcome.details["summary"]
    for row in outcome.details["by_length"]:
        assert row["nonliteral"] == 1.0 and row["literal"] == 1.0 and row["word_matching_gap"] == 0.0
    assert outcome.details["family"]["family"] == "non-literal"


def test_word_matching_alone_fails_the_nonliteral_needle_and_says_how_much_it_carried(run_probe) -> None:
    outcome = run_probe("nonliteral-needle", SPEC.format("word_matcher"), lengths=[512, 1024], samples=6)
    for row in outcome.details["by_length"]:
        assert row["literal"] == 1.0 and row["nonliteral"] == 0.0 and row["word_matching_gap"] == 1.0
    assert outcome.status == "fail" and outcome.details["family"]["cannot_do"] is True
    assert "a gap of 100% is what word matching carried" in outcome.details["summary"]


def test_the_shipped_pairs_link_by_knowledge_alone() -> None:
    import re

    from modelcard.probe.probes.nonliteral_needle import landmarks

    pairs, names = landmarks()
    assert len(pairs) >= 40
    cities = [pair["city"] for pair in pairs]
    assert len(set(cities)) == len(cities)  # one answer per question
    words = lambda text: {w.lower().rstrip("s") for w in re.findall(r"[A-Za-z]+", text)} - {"the", "of", "st"}  # noqa: E731
    for pair in pairs:
        assert not words(pair["landmark"]) & words(pair["city"]), pair
    assert len(set(names)) == len(names)
    pair_words = {w for pair in pairs for w in words(pair["landmark"] + " " + pair["city"])}
    assert not {name.lower() for name in names} & pair_words


def _result(probe_id: str, family: str | None, value: int | None, cannot_do: bool = False) -> dict:
    effective = {"value": value, "rule": "relative", "statement": "the rule", "fraction": 0.85, "base_length": 512,
                 "base_score": 1.0, "threshold": 0.85, "holds_through": value, "lower_bound": False,
                 "tested": [512, 2048], "absolute": {}, "reason": None if value else "too weak"}
    details = {"effective": effective, "shortest": {"length": 512, "score": 1.0}, "scores": {"512": 1.0}}
    if family:
        details["family"] = {"family": family, "value": value, "cannot_do": cannot_do,
                             "shortest": {"length": 512, "score": 0.0 if cannot_do else 1.0}, "scores": {"512": 1.0}}
    return {"record": {"id": probe_id, "status": "pass", "details": details}, "findings": [], "measured": {},
            "derived": {}}


def test_the_effective_context_is_the_shortest_over_the_families_that_can_do_their_task() -> None:
    from modelcard.probe.families import over_families

    results = [_result("passkey-grid", None, 2048), _result("variable-tracking", "multi-hop", 512),
               _result("frequent-words", "aggregation", None, cannot_do=True),
               _result("nonliteral-needle", "non-literal", 1024)]
    measured, derived = over_families(results)
    assert measured == {"/context_window/effective": 512}
    rule = derived["/context_window/effective_rule"]
    assert rule["set_by"] == "multi-hop" and rule["probe"] == "variable-tracking"
    assert [row["family"] for row in rule["families"]] == ["retrieval", "multi-hop", "aggregation", "non-literal"]
    assert [row["cannot_do"] for row in rule["families"]] == [False, False, True, False]
    # passkey-grid alone keeps its own statement
    assert over_families(results[:1]) == ({}, {})
