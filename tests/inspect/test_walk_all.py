"""Every architecture transformers can build from its default config on the meta device gives a
schema-valid inspection record that renders as README.md and card.html (what `generate --suite none` writes);
the ones transformers itself cannot build are listed with the reason."""

from __future__ import annotations

import json
import warnings

import pytest
from unbuildable import UNBUILDABLE

SHARDS = 8
DRAWN_PER_SHARD = 5  # the charts of the first few records of a shard are drawn too (a drawing costs ~0.2 s)


def all_model_types() -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(CONFIG_MAPPING_NAMES)


def walk(model_types: list[str], tmp_path) -> tuple[list[str], list[str]]:
    """(failures, skipped) over `model_types`: each default config is written as a config.json, inspected
    through the same path a user's config takes, and rendered (chart data always, drawings for the first few)."""
    from inspect_helpers import inspect_dict
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.utils import logging

    from modelcard.card.chart_data import chart_specs
    from modelcard.card.charts import draw_all
    from modelcard.card.render import render_html, render_markdown

    logging.set_verbosity_error()
    failures, skipped = [], []
    for index, model_type in enumerate(model_types):
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
        try:
            specs = chart_specs(record)
            charts = draw_all(specs) if index < DRAWN_PER_SHARD else []
            render_markdown(record, charts)
            render_html(record, charts)
        except Exception as error:  # every valid record renders
            failures.append(f"{model_type}: rendering: {type(error).__name__}: {error}")
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
