"""Load a GGUF file (llama.cpp, Ollama, LM Studio) as a transformers model: the config transformers derives from
the file's metadata, the weights dequantized to float, the tokenizer and chat template from the file.

The header is read first, within bounds (modelcard.load.gguf_file), so that a hostile or truncated file is one
line before the `gguf` package or transformers parse it. A sharded GGUF (`name-00001-of-00003.gguf`) is joined
into one temporary file first (transformers reads one file); the parts are only copied, never changed."""

from __future__ import annotations

import contextlib
import importlib.util
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.load.gguf_file import GgufHeader, read_header, shard_parts
from modelcard.load.limits import check_dimensions

INSTALL = "pip install gguf (modelcard's [gguf] extra)"
# llama.cpp's names for architectures that transformers names otherwise (transformers' load_gguf_checkpoint)
ARCHITECTURE_NAMES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss",
                      "minimax-m2": "minimax_m2", "t5encoder": "t5"}


def gguf_parts(path: Path) -> list[Path] | None:
    """The GGUF file(s) a path names: a .gguf file (all its parts when it is one of a sharded set), or a folder
    without config.json that holds exactly one GGUF model; None for anything else.

    Args:
        path: the MODEL argument, as a path that exists.

    Returns:
        The parts in order (one for a single file), or None.

    Raises:
        BadInput: a folder with GGUF files of more than one model, or a sharded set with a part missing.
    """
    if path.is_file():
        if not path.name.endswith(".gguf"):
            return None
        return _complete(path)
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    files = sorted(p for p in path.iterdir() if p.name.endswith(".gguf") and p.is_file())
    if not files:
        return None
    models = {tuple(shard_parts(p)) or (p,) for p in files}
    if len(models) > 1:
        names = ", ".join(sorted(parts[0].name for parts in models))
        raise BadInput(path, f"holds the GGUF files of {len(models)} models ({names}); name the file to document")
    return _complete(files[0])


def _complete(path: Path) -> list[Path]:
    parts = shard_parts(path)
    if not parts:
        return [path]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise BadInput(path, f"a sharded GGUF of {len(parts)} parts; missing: {', '.join(missing)}")
    return parts


def require_gguf(path: Path) -> None:
    """The optional `gguf` package is installed; one line saying what to install otherwise."""
    if importlib.util.find_spec("gguf") is None:
        raise BadInput(path, f"reading a GGUF file needs the `gguf` package: {INSTALL}")


def supported_architectures() -> list[str]:
    """The GGUF architectures transformers can turn into a config and weights."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer"))


def transformers_architecture(header: GgufHeader) -> str:
    """The architecture as transformers names it, checked to be one it reads from GGUF.

    Args:
        header: the file's header (its first part's, for a sharded file).

    Returns:
        transformers' name for the architecture.

    Raises:
        BadInput: no architecture, or one transformers cannot read from GGUF (naming the supported ones).
    """
    architecture = header.architecture
    if architecture is None:
        raise BadInput(header.path, "the GGUF metadata has no general.architecture")
    name = ARCHITECTURE_NAMES.get(architecture, architecture)
    supported = supported_architectures()
    if name not in supported:
        raise BadInput(header.path, f"GGUF architecture {architecture!r}: transformers reads GGUF for "
                                    f"{', '.join(supported)} only")
    return name


def read_headers(parts: list[Path]) -> list[GgufHeader]:
    """Every part's header, read within bounds (the first part holds the model's metadata)."""
    require_gguf(parts[0])
    return [read_header(part) for part in parts]


@contextlib.contextmanager
def single_file(parts: list[Path]) -> Iterator[Path]:
    """One GGUF file transformers can read: the file itself, or the parts of a sharded one joined in a temporary
    folder (removed after)."""
    if len(parts) == 1:
        yield parts[0]
        return
    with tempfile.TemporaryDirectory(prefix="modelcard-gguf-") as folder:
        joined = Path(folder) / parts[0].name.replace("-00001-of-", "-joined-of-")
        join_shards(parts, joined)
        yield joined


def join_shards(parts: list[Path], target: Path) -> None:
    """Write the tensors of every part, with the first part's metadata (less the split.* keys), to `target`."""
    import gguf

    readers = [gguf.GGUFReader(part) for part in parts]
    first = readers[0]
    architecture = str(first.fields["general.architecture"].contents())
    writer = gguf.GGUFWriter(target, architecture, use_temp_file=False)
    for key, field in first.fields.items():
        if key.startswith(("split.", "GGUF.")) or key == "general.architecture":
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type=sub_type)
    for reader in readers:
        for tensor in reader.tensors:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def gguf_config(path: Path, architecture: str) -> Any:
    """The config transformers derives from the file's metadata, its dimensions checked."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
    except (ValueError, KeyError, OSError) as error:
        raise BadInput(path, f"transformers cannot derive a {architecture} config from the GGUF metadata: "
                             f"{type(error).__name__}: {' '.join(str(error).split())[:200]}") from None
    check_dimensions(config.to_dict(), path)
    return config


def gguf_weights(path: Path, config: Any, dtype: str | None, attn_implementation: str | None) -> Any:
    """The model with its weights dequantized to float (float32 unless --dtype says otherwise)."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    kwargs: dict[str, Any] = {"config": config, "gguf_file": path.name, "dtype": dtype or "float32"}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        with _quiet_dequantizing():
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), **kwargs)
    except MemoryError:
        raise BadInput(path, "out of memory dequantizing the weights") from None
    except (ValueError, OSError) as error:
        raise BadInput(path, f"cannot load the GGUF weights: {type(error).__name__}: "
                             f"{' '.join(str(error).split())[:200]}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval()
    return model


@contextlib.contextmanager
def _quiet_dequantizing() -> Iterator[None]:
    """transformers' bar over the tensors it dequantizes: on a terminal only, gone when done (a CI log gets no
    bar, as with modelcard's own progress)."""
    import functools
    import sys

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    original = gguf_utils.tqdm
    gguf_utils.tqdm = functools.partial(original, disable=not sys.stderr.isatty(), leave=False)  # type: ignore[assignment]
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def gguf_tokenizer(path: Path) -> tuple[Any | None, str | None]:
    """The tokenizer (with its chat template) transformers builds from the file; None and why when it cannot."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name), None
    except Exception as error:  # an unsupported tokenizer model: the probes that write text say so
        return None, f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
