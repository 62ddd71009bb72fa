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
