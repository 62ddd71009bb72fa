"""Every architecture transformers can build from its default config on the meta device gives a
schema-valid inspection record; the ones transformers itself cannot build are listed with the reason."""

from __future__ import annotations

import json
import warnings

import pytest
from unbuildable import UNBUILDABLE

SHARDS = 8


def all_model_types() -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(CONFIG_MAPPING_NAMES)


def walk(model_types: list[str], tmp_path) -> tuple[list[str], list[str]]:
    """(failures, skipped) over `model_types`: each default config is written as a config.json and
    inspected through the same path a user's config takes."""
    from inspect_helpers import inspect_dict
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.utils import logging

    logging.set_verbosity_error()
    failures, skipped = [], []
    for model_type in model_types:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = json.loads(CONFIG_MAPPING[model_type]().to_json_string())
                record = inspect_dict(data, tmp_path / model_type)
        except Exception as error:  # BadInput for what transformers cannot build; anything else is a bug
            if model_type in UNBUILDABLE:
                skipped.append(model_type)
            else:
                failures.append(f"{model_type}: {type(error).__name__}: {error}")
            continue
        if model_type in UNBUILDABLE:
            failures.append(f"{model_type}: builds now; remove it from tests/inspect/unbuildable.py")
        elif record["model"]["parameters"] is None:
            failures.append(f"{model_type}: no parameter count")
    return failures, skipped


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_buildable_architecture_gives_a_valid_record(shard: int, tmp_path) -> None:
    failures, _ = walk(all_model_types()[shard::SHARDS], tmp_path)
    assert not failures, "\n".join(failures)


def test_the_skip_list_stays_small_and_explained() -> None:
    types = set(all_model_types())
    assert len(UNBUILDABLE) <= 0.12 * len(types)
    assert all(reason.strip() for reason in UNBUILDABLE.values())
    assert set(UNBUILDABLE) <= types, "entries for model types transformers no longer has"
