"""The measured long-context results as Hugging Face Hub evaluation results: the `model-index` of the card's
front matter (the effective context and each retrieval probe's headline) plus one entry per probe and length
with its score, as huggingface_hub's `EvalResult`s, written as the YAML a README's front matter holds."""

from __future__ import annotations

from typing import Any

from modelcard.export.measurements import measurements
from modelcard.record.hub_metadata import OUR_DATASET_PREFIX, TASK, eval_results
from modelcard.record.vocabulary import LONG_CONTEXT_PROBES


def hub_eval_results(record: dict[str, Any]) -> list[Any]:
    """The card's model-index results, then each long-context score by length (`dataset_config: length=N`).

    Args:
        record: a validated record.

    Returns:
        `huggingface_hub.EvalResult`s.
    """
    from huggingface_hub import EvalResult

    results = list(eval_results(record))
    twins = {p["id"] for p in record["probes"] if p.get("twin")}
    for row in measurements(record):
        if row.slice is None or row.probe not in LONG_CONTEXT_PROBES or row.probe in twins:
            continue
        results.append(EvalResult(**TASK, dataset_type=f"{OUR_DATASET_PREFIX}{row.probe}",
                                  dataset_name=f"{row.probe} (synthetic, seeded)", dataset_config=row.slice,
                                  metric_type=row.metric.replace(" ", "_"),
                                  metric_name=f"{row.metric[:1].upper()}{row.metric[1:]} ({row.slice})",
                                  metric_value=row.value,
                                  metric_args={"interval_95": list(row.interval)} if row.interval else None))
    return results


def hub_eval_yaml(record: dict[str, Any]) -> str:
    """The results as a `model-index` YAML block (empty list when nothing was measured on the model itself)."""
    import yaml
    from huggingface_hub.repocard_data import eval_results_to_model_index

    results = hub_eval_results(record)
    index = eval_results_to_model_index(record["model"]["id"], results) if results else []
    return yaml.safe_dump({"model-index": index}, sort_keys=False, allow_unicode=True)
