"""Checkpoint files before and after transformers reads them: a safetensors file is checked against its own
header (a truncated, empty or lying file is one clear line, not a traceback deep in the loader), and the tensors
the model got are compared with the ones it expected (a checkpoint that does not fit its config is a finding)."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import SIZE_CAPS, decode_utf8, parse_json

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
FINGERPRINT_SAMPLE = 1 << 20  # bytes read from each end of a weight file
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
SUBBYTE_DTYPES = {"F4", "F6_E2M3", "F6_E3M2"}
LISTED = 8  # tensor names a finding lists before it says "and N more"


def check_safetensors(path: Path) -> None:
    """The file is what its header says: a header of sane length that parses, every tensor inside the data."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise BadInput(path, "not a safetensors file: " + ("empty" if not prefix else "shorter than a header"))
            (header_length,) = struct.unpack("<Q", prefix)
            if header_length > min(size - 8, SIZE_CAPS["safetensors header"]):
                raise BadInput(path, f"corrupt safetensors: the header claims {header_length:,} bytes, "
                                     f"the file holds {size - 8:,}")
            header_bytes = handle.read(header_length)
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    header = parse_json(decode_utf8(header_bytes, path), path, "the safetensors header")
    if not isinstance(header, dict):
        raise BadInput(path, "corrupt safetensors: the header is not a JSON object")
    data_length = size - 8 - header_length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        _check_entry(path, name, entry, data_length)


def _check_entry(path: Path, name: str, entry: Any, data_length: int) -> None:
    where = f"corrupt safetensors: tensor #{_short(name)}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise BadInput(path, f"{where} lacks dtype, shape or data_offsets")
    shape, offsets, dtype = entry["shape"], entry["data_offsets"], entry["dtype"]
    if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise BadInput(path, f"{where} has a shape that is not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(n, int) for n in offsets)):
        raise BadInput(path, f"{where} has data_offsets that are not [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_length:
        raise BadInput(path, f"{where} lies outside the file (bytes {begin:,}-{end:,} of {data_length:,}): "
                             "truncated or corrupt")
    if dtype in DTYPE_BYTES and end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise BadInput(path, f"{where} takes {end - begin:,} bytes but its shape and dtype need "
                             f"{math.prod(shape) * DTYPE_BYTES[dtype]:,}")
    if dtype not in DTYPE_BYTES and dtype not in SUBBYTE_DTYPES:
        raise BadInput(path, f"{where} has an unknown dtype")


def _short(name: str) -> str:
    """A tensor name as an error may show it: printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(name))
    return text[:80] + ("…" if len(text) > 80 else "")


def weight_findings(info: dict[str, Any], model: Any) -> tuple[list[dict[str, Any]], bool]:
    """Findings from transformers' loading info, and whether any checkpoint tensor reached the model."""
    missing = sorted(info.get("missing_keys") or [])
    unexpected = sorted(info.get("unexpected_keys") or [])
    mismatched = sorted(info.get("mismatched_keys") or [], key=lambda item: str(item[0]))
    expected = len(model.state_dict())
    loaded = expected - len(missing) - len(mismatched)
    findings = []
    if missing or mismatched or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (random-init): {_names(missing)}")
        if mismatched:
            shown = [f"{name} {list(ckpt)} vs {list(model_shape)}" for name, ckpt, model_shape in mismatched]
            parts.append(f"{len(mismatched)} of another shape (random-init): {_names(shown)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (ignored): {_names(unexpected)}")
        none_loaded = loaded <= 0
        message = ("no tensor of the checkpoint matched the model, so this card documents a random-init model"
                   if none_loaded else "the checkpoint does not match the config") + ": " + "; ".join(parts)
        findings.append({
            "severity": "error" if none_loaded or missing or mismatched else "warning",
            "pointer": "/model/weights",
            "declared": f"{expected} tensors expected by the config",
            "measured": f"{max(loaded, 0)} loaded from the checkpoint",
            "message": message,
        })
    return findings, loaded > 0


def _names(names: list[str]) -> str:
    shown = ", ".join(_short(name) for name in names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def weights_fingerprint(folder: Path, files: list[Path] | None = None) -> str | None:
    """A digest that changes when any weight file changes, without reading gigabytes: each file's name, size,
    modification time, and the SHA-256 of its first and last MiB (a safetensors or GGUF header names every
    tensor, its shape and offsets). None when the folder holds no weights.

    Args:
        folder: the model's folder.
        files: the weight files to digest (a GGUF's parts); every weight file in `folder` when None.

    Returns:
        The hex digest, or None.
    """
    import hashlib

    digest = hashlib.sha256()
    try:
        if files is None:
            files = sorted(p for p in folder.iterdir() if p.name.endswith(WEIGHT_SUFFIXES) and p.is_file())
        for file in files:
            info = file.stat()
            digest.update(f"{file.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
            with file.open("rb") as handle:
                digest.update(handle.read(FINGERPRINT_SAMPLE))
                if info.st_size > 2 * FINGERPRINT_SAMPLE:
                    handle.seek(-FINGERPRINT_SAMPLE, 2)
                    digest.update(handle.read(FINGERPRINT_SAMPLE))
    except OSError as error:
        raise BadInput(folder, f"cannot read the weights: {error.strerror or error}") from None
    return digest.hexdigest() if files else None
