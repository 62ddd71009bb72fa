"""Time planning on a real pretrained model (SmolLM2-135M-Instruct): the calibration is taken on the model, the
estimate printed before the first probe is within a small factor of what the probe then takes, and a cell that
cannot fit in the time limit is skipped for time while the lengths that ran stand."""

from __future__ import annotations

from typing import Any

import pytest

from modelcard.probe.runner import run_suite
from modelcard.probe.suite import ProbeEntry, Suite

pytestmark = pytest.mark.real

FACTOR = 4.0  # an estimate is for planning: within this factor of the measured time either way


@pytest.fixture(scope="module")
def smollm2_context() -> Any:
    from real_models import smollm2_folder

    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import LoadOptions, load_model
    from modelcard.probe.context import build_context

    loaded = load_model(str(smollm2_folder()), LoadOptions())
    return build_context(loaded, inspect_loaded(loaded), 0)


def test_the_estimate_of_a_passkey_cell_is_within_a_small_factor_of_its_duration(smollm2_context) -> None:
    plans: list[Any] = []
    suite = Suite(name="one-cell", description="", path=None, probes=[
        ProbeEntry("passkey-grid", {"lengths": [256], "depths": [0.5], "samples": 2})])
    result = run_suite(suite, lambda: smollm2_context, seed=0, time_limit_s=300, on_plan=plans.append)
    record = result.records[0]
    assert record["status"] in ("pass", "fail"), record["reason"]
    estimate = plans[0]
    assert estimate.calibration is not None  # a 135M-parameter model is calibrated
    assert [n for n, _ in estimate.calibration.points][:2] == [16, 256]
    assert 1 / FACTOR < record["estimate_s"] / record["duration_s"] < FACTOR


def test_a_length_that_cannot_fit_the_time_limit_is_skipped_and_the_shorter_one_stands(smollm2_context) -> None:
    suite = Suite(name="two-lengths", description="", path=None, probes=[
        ProbeEntry("passkey-grid", {"lengths": [128, 8000], "depths": [0.5], "samples": 1})])
    result = run_suite(suite, lambda: smollm2_context, seed=0, time_limit_s=45)
    record = result.records[0]
    assert record["status"] in ("pass", "fail"), record["reason"]  # concluded from 128 tokens, not an error
    skipped = {item["length"]: item["reason"] for item in record["details"]["skipped_lengths"]}
    assert 8000 in skipped and "45 s time limit" in skipped[8000]
    assert [item["cell"]["length"] for item in record["details"]["cells_skipped_for_time"]] == [8000]
