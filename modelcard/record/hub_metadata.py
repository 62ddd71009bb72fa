"""The Hugging Face Hub metadata of a card, built with huggingface_hub's own `ModelCardData` and `EvalResult`:
`license`, `language`, `base_model` and `pipeline_tag` where the authors declared them, `model-index` entries
for what the retrieval probes measured on the model's own weights (the effective context and each probe's
headline), the library and pipeline tags, and a `modelcard` summary of the record's headline facts. `merged`
folds that into the metadata an existing README.md already has, keeping the author's own keys and results."""

from __future__ import annotations

import math
import re
from typing import Any, TypedDict

from modelcard.record.vocabulary import LONG_CONTEXT_PROBES

PIPELINE_TAGS = {"decoder-only": "text-generation", "encoder-only": "fill-mask",
                 "encoder-decoder": "text2text-generation", "vision-encoder": "image-feature-extraction"}
OUR_DATASET_PREFIX = "modelcard/"  # the dataset type of every model-index result modelcard writes


class Task(TypedDict):
    """The model-index task every result of ours is filed under."""

    task_type: str
    task_name: str


TASK: Task = {"task_type": "text-generation", "task_name": "Long-context retrieval (synthetic, modelcard probes)"}


def _text_or_texts(value: Any) -> str | list[str] | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) and item.strip() for item in value):
        return list(value)
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "value"


def _measured_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def eval_results(record: dict[str, Any]) -> list[Any]:
    """What the retrieval probes measured on the model's own weights (never a twin's), as `EvalResult`s."""
    from huggingface_hub import EvalResult

    probes = {p["id"]: p for p in record["probes"]
              if p["id"] in LONG_CONTEXT_PROBES and p["status"] in ("pass", "fail") and not p.get("twin")}
    results = []
    window = record["context_window"]
    rule = window.get("effective_rule") or {}
    if _measured_number(window.get("effective")) and isinstance(rule.get("probe"), str):
        results.append(EvalResult(**TASK, dataset_type=f"{OUR_DATASET_PREFIX}{rule['probe']}",
                                  dataset_name=f"{rule['probe']} (synthetic, seeded)",
                                  metric_type="effective_context", metric_name="Effective context (tokens)",
                                  metric_value=window["effective"]))
    for probe_id, probe in probes.items():
        if not _measured_number(probe.get("value")) or not isinstance(probe.get("metric"), str):
            continue
        unit = f" ({probe['unit']})" if isinstance(probe.get("unit"), str) and probe["unit"] else ""
        results.append(EvalResult(**TASK, dataset_type=f"{OUR_DATASET_PREFIX}{probe_id}",
                                  dataset_name=f"{probe_id} (synthetic, seeded)",
                                  metric_type=_slug(probe["metric"]), metric_name=f"{probe['metric']}{unit}",
                                  metric_value=probe["value"]))
    return results


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The record's headline facts, under the `modelcard` key."""
    architecture = record["architecture"]
    return {
        "schema_version": record["schema_version"],
        "architecture_class": architecture["class"],
        "attention_grouping": record["attention"]["heads"]["grouping"],
        "layer_kinds": sorted({layer["kind"] for layer in record["attention"]["layers"]}),
        "context_window": record["context_window"]["declared"],
        "parameters": record["model"]["parameters"],
        "probes": {status: sum(p["status"] == status for p in record["probes"])
                   for status in ("pass", "fail", "error", "skipped")},
        "findings": len(record["findings"]),
    }


def card_data(record: dict[str, Any]) -> Any:
    """The card's metadata as a `huggingface_hub.ModelCardData`."""
    from huggingface_hub import ModelCardData

    disclosures = record["disclosures"]
    architecture = record["architecture"]
    tags = ["modelcard", f"attention-{(record['attention']['heads']['grouping'] or 'unknown').lower()}"]
    if architecture["class"]:
        tags.append(architecture["class"])
    results = eval_results(record)
    return ModelCardData(
        base_model=_text_or_texts(disclosures.get("base_model")),
        language=_text_or_texts(disclosures.get("language")),
        license=disclosures["license"] if isinstance(disclosures.get("license"), str) and disclosures["license"]
        else None,
        library_name="transformers" if record["model"]["source"] != "module" else None,
        pipeline_tag=disclosures["pipeline_tag"] if isinstance(disclosures.get("pipeline_tag"), str)
        and disclosures["pipeline_tag"] else PIPELINE_TAGS.get(architecture["class"]),
        tags=tags,
        model_name=record["model"]["id"] if results else None,
        eval_results=results or None,
        modelcard=summary(record),
    )


def front_matter(record: dict[str, Any]) -> dict[str, Any]:
    """The front matter as plain data, in the order the Hub's own tooling writes it."""
    return card_data(record).to_dict()


def _ours(result: Any) -> bool:
    return str(getattr(result, "dataset_type", "")).startswith(OUR_DATASET_PREFIX)


def merged(existing: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The metadata of an existing README.md with this card's folded in: the author's keys stay (a value the
    card also sets is the card's, since both come from the authors and the card's was declared last), their
    tags come first, their own model-index results stay and modelcard's earlier ones are replaced. A
    model-index that huggingface_hub cannot read is left exactly as it is."""
    from huggingface_hub import ModelCardData

    ours = card_data(record)
    data = {key: value for key, value in existing.items() if key != "model-index"}
    for key, value in ours.to_dict().items():
        if key == "tags":
            previous = tags if isinstance(tags := existing.get("tags"), list) else []
            data["tags"] = list(dict.fromkeys([*previous, *value]))
        elif key != "model-index":
            data[key] = value
    name, kept = ours.model_name, []
    if existing.get("model-index") is not None:
        try:
            theirs = ModelCardData(**{"model-index": existing["model-index"]})
        except (ValueError, TypeError, KeyError, AttributeError):
            data["model-index"] = existing["model-index"]
            return data
        name = theirs.model_name or name
        kept = [result for result in theirs.eval_results or [] if not _ours(result)]
    results = kept + (ours.eval_results or [])
    if results:
        data.update(ModelCardData(model_name=name or record["model"]["id"], eval_results=results).to_dict())
    return data
