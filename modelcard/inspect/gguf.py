"""What a GGUF file says about itself, in the record (`model.gguf`), and where it disagrees.

- the GGUF version, the file type, and each tensor family's quantization type with counts and bytes; bits per
  weight overall; the file's size against the float16 size of the same tensors;
- the metadata keys transformers turned into the config the card documents, with their values;
- the chat template's digest;
- findings: metadata that the derived config lost or changed (a sliding window transformers does not read for
  the architecture, say), and, with --base-config, every disagreement with the original model's config.json
  and chat template, each with both values."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView
from modelcard.load.gguf_file import ArrayValue, GgufHeader, tensor_bytes, type_name

BLOCK = re.compile(r"^blk\.\d+\.")
# GGUF metadata (after `<arch>.`) and the transformers config key that says the same, for the comparisons
COMPARED = {"context_length": "max_position_embeddings", "rope.freq_base": "rope_theta",
            "attention.sliding_window": "sliding_window", "block_count": "num_hidden_layers",
            "attention.head_count": "num_attention_heads", "attention.head_count_kv": "num_key_value_heads",
            "embedding_length": "hidden_size", "feed_forward_length": "intermediate_size"}
# metadata that changes what attention sees; the derived config dropping it is a finding
ATTENTION_KEYS = ("context_length", "rope.freq_base", "attention.sliding_window", "rope.scaling.type",
                  "rope.scaling.factor", "rope.scaling.original_context_length")


def family(name: str) -> str:
    """A tensor's family: its name without the block index (`blk.7.attn_q.weight` -> `attn_q.weight`)."""
    return BLOCK.sub("", name)


def quantization(headers: list[GgufHeader]) -> dict[str, Any]:
    """Quantization types by tensor family and overall, from the tensor tables of every part.

    Args:
        headers: the file's headers, one per part.

    Returns:
        {"tensors": [...], "types": {...}, "elements", "tensor_bytes", "bits_per_weight", "float16_bytes"}.
    """
    families: dict[tuple[str, str], dict[str, int]] = {}
    types: dict[str, dict[str, int]] = {}
    elements = total = 0
    for header in headers:
        for tensor in header.tensors:
            kind = type_name(tensor.type_id)
            nbytes = tensor_bytes(tensor) or 0
            row = families.setdefault((family(tensor.name), kind), {"count": 0, "elements": 0, "bytes": 0})
            overall = types.setdefault(kind, {"count": 0, "elements": 0, "bytes": 0})
            for entry in (row, overall):
                entry["count"] += 1
                entry["elements"] += tensor.elements
                entry["bytes"] += nbytes
            elements += tensor.elements
            total += nbytes
    rows = [{"family": name, "type": kind, **row} for (name, kind), row in sorted(families.items())]
    return {"tensors": rows, "types": types, "elements": elements, "tensor_bytes": total,
            "bits_per_weight": round(8 * total / elements, 4) if elements else None, "float16_bytes": 2 * elements}


def file_type(header: GgufHeader) -> str | None:
    """general.file_type as llama.cpp names it (Q4_K_M, Q4_1, F16, ...)."""
    import gguf

    value = header.metadata.get("general.file_type")
    if not isinstance(value, int):
        return None
    try:
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"file type {value}"


def plain(value: Any) -> Any:
    """A metadata value as the record keeps it (an array as its items, or its length when it was not kept)."""
    if isinstance(value, ArrayValue):
        return value.items if value.items is not None else f"array of {value.length:,}"
    if isinstance(value, float):
        return round(value, 6)
    return value


def config_value(config: Any, key: str) -> Any:
    """A transformers config's value for `key`, rope_theta from rope_parameters where transformers keeps it."""
    if config is None:
        return None
    if isinstance(config, dict):
        value = config.get(key)
        if value is None and key == "rope_theta":
            value = (config.get("rope_parameters") or config.get("rope_scaling") or {}).get("rope_theta")
        return value
    value = getattr(config, key, None)
    if value is None and key == "rope_theta":
        value = (getattr(config, "rope_parameters", None) or {}).get("rope_theta")
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)), abs(float(b)))
    return a == b


def used_keys(header: GgufHeader, config: Any) -> list[dict[str, Any]]:
    """The metadata keys transformers turned into the config, with their values and the config key."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    from modelcard.load.gguf_model import ARCHITECTURE_NAMES

    architecture = header.architecture or ""
    mappings: dict[str, dict[str, str | None]] = GGUF_CONFIG_MAPPING  # type: ignore[assignment]
    mapping = mappings.get(ARCHITECTURE_NAMES.get(architecture, architecture), {})
    rows = []
    for suffix, config_key in mapping.items():
        key = f"{architecture}.{suffix}"
        if key in header.metadata and config_key:
            rows.append({"key": key, "value": plain(header.metadata[key]), "config_key": config_key,
                         "config_value": plain(config_value(config, config_key))})
    return rows


def chat_template_sha256(text: str | None) -> str | None:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest() if isinstance(text, str) else None


def derived_config_findings(header: GgufHeader, config: Any, facts: Facts) -> None:
    """Metadata that changes attention but that the derived config lost or changed."""
    architecture = header.architecture or ""
    for suffix in ATTENTION_KEYS:
        key = f"{architecture}.{suffix}"
        if key not in header.metadata:
            continue
        value = plain(header.metadata[key])
        config_key = COMPARED.get(suffix)
        derived = config_value(config, config_key) if config_key else None
        if config_key and same(value, derived):
            continue
        said = f"{config_key} = {derived!r}" if config_key else "nothing"
        facts.finding("warning", "/model/gguf/metadata", {key: value}, {config_key or suffix: derived},
                      f"the GGUF metadata says {key} = {value!r}, but the config transformers derives from it has "
                      f"{said}: the probes ran the model as transformers reads it, which may not be how llama.cpp "
                      "runs it")


def base_config_findings(header: GgufHeader, base: Path, facts: Facts) -> None:
    """Every disagreement between the file's metadata and the original model's config.json and chat template.

    Args:
        header: the GGUF header (its first part's).
        base: the original config.json (--base-config), or its folder.
        facts: where the findings go.
    """
    from modelcard.base.errors import BadInput
    from modelcard.load.loader import read_config

    config_file = base / "config.json" if base.is_dir() else base
    if not config_file.is_file():
        raise BadInput(base, "--base-config: no config.json there")
    data, _ = read_config(config_file)
    architecture = header.architecture or ""
    for suffix, config_key in COMPARED.items():
        key = f"{architecture}.{suffix}"
        ours = plain(header.metadata.get(key))
        theirs = config_value(data, config_key)
        if suffix == "attention.sliding_window" and data.get("use_sliding_window") is False:
            theirs = None
        if ours is None and theirs is None or same(ours, theirs):
            continue
        if ours is None:
            what = f"the GGUF has no {key}; the base config has {config_key} = {theirs!r}"
        elif theirs is None:
            what = f"the GGUF says {key} = {ours!r}; the base config has no {config_key}"
        else:
            what = f"the GGUF says {key} = {ours!r}; the base config says {config_key} = {theirs!r}"
        facts.finding("warning", "/model/gguf/metadata", {config_key: theirs}, {key: ours},
                      f"GGUF metadata differs from the base model ({config_file.name}): {what}")
    template = _base_template(config_file.parent)
    mine = header.metadata.get("tokenizer.chat_template")
    if template is not None and chat_template_sha256(template) != chat_template_sha256(mine):
        facts.finding("warning", "/model/gguf/chat_template_sha256", chat_template_sha256(template),
                      chat_template_sha256(mine),
                      "the GGUF's chat template differs from the base model's: prompts in the file's format are "
                      "not the ones the base model was tuned on" if mine else
                      "the GGUF has no chat template; the base model has one")


def _base_template(folder: Path) -> str | None:
    """The base model's chat template: chat_template.jinja, or tokenizer_config.json's chat_template."""
    from modelcard.base.readers import decode_utf8, parse_json, read_bytes

    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return decode_utf8(read_bytes(jinja, "config"), jinja)
    config = folder / "tokenizer_config.json"
    if config.is_file():
        data = parse_json(decode_utf8(read_bytes(config, "config"), config), config, "tokenizer config")
        template = data.get("chat_template") if isinstance(data, dict) else None
        return template if isinstance(template, str) else None
    return None


@inspector("gguf")
def inspect_gguf(view: ModelView, facts: Facts) -> None:
    loaded = view.loaded
    if loaded is None or not loaded.gguf:
        return
    headers: list[GgufHeader] = loaded.gguf
    header = headers[0]
    summary = quantization(headers)
    size = sum(h.size for h in headers)
    facts.values["model"]["gguf"] = {
        "file": header.path.name, "parts": len(headers), "version": header.version,
        "architecture": header.architecture, "file_type": file_type(header),
        "quantization_version": header.metadata.get("general.quantization_version"),
        "bytes": size, "float16_bytes": summary["float16_bytes"],
        "size_vs_float16": round(size / summary["float16_bytes"], 4) if summary["float16_bytes"] else None,
        "bits_per_weight": summary["bits_per_weight"], "tensor_count": sum(len(h.tensors) for h in headers),
        "types": summary["types"], "tensors": summary["tensors"],
        "metadata_used": used_keys(header, view.config),
        "chat_template_sha256": chat_template_sha256(header.metadata.get("tokenizer.chat_template")),
        "probed_weights": f"the quantized values dequantized to {facts.values['model'].get('dtype') or 'float'} by "
                          "transformers, run with torch's kernels, not llama.cpp's",
    }
    derived_config_findings(header, view.config, facts)
    if loaded.base_config:
        base_config_findings(header, Path(loaded.base_config), facts)
