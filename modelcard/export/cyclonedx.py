"""The record as a CycloneDX 1.6 BOM: the model as a `machine-learning-model` component with its `modelCard`.

- modelParameters: architecture family (transformers' model_type) and class, input and output modalities;
- quantitativeAnalysis: every measured result, with its slice (a length) and 95% interval;
- considerations: intended and out-of-scope use, known failure modes, and each finding as a limitation;
- the component's properties (`modelcard:` names): the parameter count, and what one string cannot say: the
  attention of every run of layers (kind, window), heads and grouping, the context window declared and
  effective, position encoding, the KV cache, a GGUF's quantization and chat template digest. CycloneDX asks
  for hybrid and MoE architectures in one field (specification#702)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from modelcard.export.measurements import measurements

SPEC_VERSION = "1.6"
NAMESPACE = uuid.UUID("6f1d1c84-5c1e-4b7a-9a49-7b8f3d6f0a11")  # modelcard's: serial numbers from the record


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return str(value)


def properties(record: dict[str, Any]) -> list[dict[str, str]]:
    """The facts a CycloneDX field cannot hold, as `modelcard:` properties."""
    attention, context = record["attention"], record["context_window"]
    heads = attention.get("heads") or {}
    rows: list[tuple[str, Any]] = [
        ("modelcard:architecture_class", record["architecture"].get("class")),
        ("modelcard:parameters", record["model"].get("parameters")),
        ("modelcard:layers", record["architecture"].get("num_layers")),
        ("modelcard:attention.grouping", heads.get("grouping")),
        ("modelcard:attention.query_heads", heads.get("query")),
        ("modelcard:attention.key_value_heads", heads.get("key_value")),
        ("modelcard:attention.implementation", attention.get("implementation")),
        *((f"modelcard:masking.{stack}", entry.get("mask"))
          for stack, entry in ((record.get("masking") or {}).get("stacks") or {}).items()),
        ("modelcard:position.kind", (record.get("position") or {}).get("kind")),
        ("modelcard:context_window.declared", context.get("declared")),
        ("modelcard:context_window.effective", context.get("effective")),
        ("modelcard:kv_cache.bytes_per_token", (record.get("kv_cache") or {}).get("bytes_per_token")),
    ]
    for run in _layer_runs(attention.get("layers") or []):
        rows.append((f"modelcard:attention.layers.{run['layers']}", run["kind"]))
    gguf = record["model"].get("gguf") or {}
    if gguf:
        rows += [("modelcard:gguf.file_type", gguf.get("file_type")),
                 ("modelcard:gguf.bits_per_weight", gguf.get("bits_per_weight"))]
    return [{"name": name, "value": str(value)} for name, value in rows if value is not None]


def _layer_runs(layers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Consecutive layers of one kind and window: `0-2` sliding 256, `3` full."""
    runs: list[dict[str, Any]] = []
    for layer in layers:
        kind = str(layer.get("kind")) + (f" {layer['window']}" if layer.get("window") else "")
        if runs and runs[-1]["kind"] == kind and runs[-1]["last"] == layer["index"] - 1:
            runs[-1]["last"] = layer["index"]
        else:
            runs.append({"first": layer["index"], "last": layer["index"], "kind": kind})
    return [{"layers": f"{r['first']}" if r["first"] == r["last"] else f"{r['first']}-{r['last']}",
             "kind": r["kind"]} for r in runs]


def model_card(record: dict[str, Any]) -> dict[str, Any]:
    """The component's `modelCard`."""
    model, disclosures = record["model"], record.get("disclosures") or {}
    modalities = record["architecture"].get("modalities") or {}
    parameters: dict[str, Any] = {"architectureFamily": model.get("model_type") or model["class_name"],
                                  "modelArchitecture": model["class_name"]}
    if modalities.get("input"):
        parameters["inputs"] = [{"format": item} for item in modalities["input"]]
    if modalities.get("output"):
        parameters["outputs"] = [{"format": item} for item in modalities["output"]]
    metrics = []
    for row in measurements(record):
        metric: dict[str, Any] = {"type": f"{row.probe}: {row.metric}", "value": f"{row.value:g}"}
        if row.slice:
            metric["slice"] = row.slice
        if row.interval:
            metric["confidenceInterval"] = {"lowerBound": f"{row.interval[0]:g}", "upperBound": f"{row.interval[1]:g}"}
        metrics.append(metric)
    considerations: dict[str, Any] = {}
    if disclosures.get("intended_use"):
        considerations["useCases"] = [_text(disclosures["intended_use"])]
    limits = [_text(item) for item in disclosures.get("known_failure_modes") or []]
    limits += [f"{f['severity']}: {f['message']}" for f in record.get("findings") or []]
    if disclosures.get("out_of_scope_use"):
        limits.append(f"out of scope: {_text(disclosures['out_of_scope_use'])}")
    if limits:
        considerations["technicalLimitations"] = limits
    card: dict[str, Any] = {"modelParameters": parameters}
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    if considerations:
        card["considerations"] = considerations
    return card


def cyclonedx_bom(record: dict[str, Any]) -> dict[str, Any]:
    """The CycloneDX 1.6 BOM of a record.

    Args:
        record: a validated record.

    Returns:
        The BOM as JSON data; its serial number is derived from the record, so the same record gives the same BOM.
    """
    model = record["model"]
    identity = f"{model['id']}\0{model.get('config_sha256')}\0{model.get('revision')}"
    component: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": f"model:{model['id']}",
                                 "name": model["id"], "properties": properties(record),
                                 "modelCard": model_card(record)}
    version = model.get("revision") or (model.get("config_sha256") or "")[:12]
    if version:
        component["version"] = version
    digest = model.get("weights_sha256") or model.get("config_sha256")  # the weights' when there are any
    if digest:
        component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    if model.get("chat_template_sha256"):
        component["properties"].append({"name": "modelcard:chat_template_sha256",
                                         "value": model["chat_template_sha256"]})
    license_name = (record.get("disclosures") or {}).get("license")
    if license_name:
        component["licenses"] = [{"license": {"name": _text(license_name)}}]
    serial = uuid.uuid5(NAMESPACE, hashlib.sha256(identity.encode()).hexdigest())
    return {"bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "serialNumber": f"urn:uuid:{serial}", "version": 1,
            "metadata": {"tools": {"components": [{"type": "application", "name": record["generator"]["name"],
                                                   "version": record["generator"]["version"]}]},
                         "component": component}}
