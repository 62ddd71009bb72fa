"""GGUF files the tests write themselves with the `gguf` package's writer, as llama.cpp's converter writes them:
tensor names from gguf's own name map, Llama's query and key rows permuted to llama.cpp's rotary layout, Gemma's
norms stored as 1 + weight, a byte-level BPE tokenizer ("gpt2"), and the chosen quantization for the 2-D weights.

    write_gguf(model_folder, out, quant="Q8_0", metadata={"llama.context_length": 2048})"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

GGUF_ARCH = {"llama": "LLAMA", "qwen2": "QWEN2", "gemma2": "GEMMA2"}


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary layout for Llama's q/k rows (convert_hf_to_gguf.LlamaModel.permute)."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2) \
        .reshape(weights.shape)


def _metadata(writer: Any, config: Any, architecture: str) -> None:
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_vocab_size(config.vocab_size)
    window = getattr(config, "sliding_window", None)
    if window:
        writer.add_sliding_window(window)



FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9}


def _tokenizer(writer: Any, folder: Path) -> None:
    import gguf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    special = set(tokenizer.all_special_tokens)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges([])  # one token per byte: no merges
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def write_gguf(folder: Path, out: Path, quant: str = "F32", metadata: dict[str, Any] | None = None,
               drop: tuple[str, ...] = ()) -> Path:
    """Write the transformers model in `folder` as a GGUF file.

    Args:
        folder: a transformers folder (llama, qwen2 or gemma2) with weights and a byte-level tokenizer.
        out: the .gguf file to write.
        quant: the ggml type of the 2-D weights (F32, F16, Q8_0, Q4_0, Q4_1, ...); 1-D tensors stay F32.
        metadata: keys to set after the converter's own (an edited context length, say), `None` values ignored.
        drop: metadata keys to leave out.

    Returns:
        `out`.
    """
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    config = model.config
    architecture = config.model_type
    arch = getattr(gguf.MODEL_ARCH, GGUF_ARCH[architecture])
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
    kept = _Filtered(writer, drop)
    _metadata(kept, config, architecture)
    kept.add_file_type(FILE_TYPES[quant])
    _tokenizer(kept, folder)
    for key, value in (metadata or {}).items():
        _set(writer, key, value)
    qtype = gguf.GGMLQuantizationType[quant]
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        data = tensor.numpy().astype(np.float32)
        if architecture == "llama" and name.endswith("q_proj.weight"):
            data = _permute(data, config.num_attention_heads)
        elif architecture == "llama" and name.endswith("k_proj.weight"):
            data = _permute(data, config.num_key_value_heads)
        if architecture == "gemma2" and name.endswith("norm.weight"):
            data = data + 1
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise KeyError(f"gguf has no name for {name}")
        if data.ndim == 2 and qtype != gguf.GGMLQuantizationType.F32:
            writer.add_tensor(target, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(target, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


class _Filtered:
    """The writer, less the keys the caller drops."""

    def __init__(self, writer: Any, drop: tuple[str, ...]) -> None:
        self.writer, self.drop = writer, drop

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.writer, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            before = set(self.writer.kv_data[0])
            result = method(*args, **kwargs)
            for key in set(self.writer.kv_data[0]) - before:
                if key in self.drop:
                    del self.writer.kv_data[0][key]
            return result

        return call


def _set(writer: Any, key: str, value: Any) -> None:
    import gguf

    writer.kv_data[0].pop(key, None)
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:
        writer.add_key_value(key, value, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT32)


def shard(path: Path, parts: int) -> list[Path]:
    """Split a GGUF file into `parts` files as llama.cpp's gguf-split names them: the first holds the metadata
    and the split.* keys, every part a share of the tensors."""
    import gguf

    reader = gguf.GGUFReader(path)
    tensors = list(reader.tensors)
    share = -(-len(tensors) // parts)
    stem = path.name.removesuffix(".gguf")
    out = []
    for index in range(parts):
        target = path.with_name(f"{stem}-{index + 1:05d}-of-{parts:05d}.gguf")
        architecture = str(reader.fields["general.architecture"].contents())
        writer = gguf.GGUFWriter(target, architecture)
        if index == 0:
            for key, field in reader.fields.items():
                if key.startswith("GGUF.") or key == "general.architecture":
                    continue
                value_type = field.types[0]
                sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
                writer.add_key_value(key, field.contents(), value_type, sub_type=sub_type)
        writer.add_uint16("split.no", index)
        writer.add_uint16("split.count", parts)
        writer.add_int32("split.tensors.count", len(tensors))
        for tensor in tensors[index * share:(index + 1) * share]:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        out.append(target)
    return out


def requantize(source: Path, out: Path, quant: str) -> Path:
    """Write `source`'s metadata and tensors to `out` with every quantized 2-D tensor dequantized and quantized
    again as `quant` (F32 tensors, norms and biases, stay as they are): the same model at another quantization.

    Args:
        source: a GGUF file.
        out: the file to write.
        quant: the ggml type (Q4_0, Q8_0, ...).

    Returns:
        `out`.
    """
    import gguf

    reader = gguf.GGUFReader(source)
    architecture = str(reader.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(out, architecture)
    qtype = gguf.GGMLQuantizationType[quant]
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = FILE_TYPES[quant] if key == "general.file_type" else field.contents()
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, value_type, sub_type=sub_type)
    for tensor in reader.tensors:
        if tensor.tensor_type == gguf.GGMLQuantizationType.F32 or len(tensor.shape) < 2:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            continue
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        writer.add_tensor(tensor.name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
