"""copy-distance on a real pretrained model (SmolLM2-135M-Instruct): copying its own vocabulary, it copies
almost perfectly at short distances (issue 18: random ids from the whole table gave 50% at 16 tokens back)."""

from __future__ import annotations

from typing import Any

import pytest
from real_models import smollm2_folder

pytestmark = pytest.mark.real


def test_smollm2_copies_its_own_vocabulary_at_16_tokens_back(run_probe: Any) -> None:
    outcome = run_probe("copy-distance", str(smollm2_folder()), distances=[16, 64], samples=6)
    source = outcome.details["source"]
    assert source["kind"] == "vocabulary" and source["pool"] >= 256 and source["start"]
    rows = {row["distance"]: row for row in outcome.details["distances"]}
    assert rows[16]["accuracy"] >= 0.9, rows[16]
    assert rows[16]["interval"][0] <= rows[16]["accuracy"] <= rows[16]["interval"][1]
    assert outcome.status == "pass", outcome.details["summary"]
