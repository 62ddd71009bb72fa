"""KV-cache memory at the context lengths people plan for (1K, 4K, 8K, 32K, 128K and the declared window), at
the cache's own dtype and at the other common ones, for one sequence. Computed from the record's per-layer
cache entries (a sliding or chunked layer stops growing at its cap), the way the inspector and the probes
compute `bytes_at`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PLAN_LENGTHS = (1024, 4096, 8192, 32768, 131072)
# bytes per value; the names torch and transformers use, and the short ones people write
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1,
               "fp8": 1}
COMMON_DTYPES = ("bfloat16", "fp8")
# llama.cpp's cache types (--cache-type-k/-v): bytes per block of values; shown for a GGUF input
LLAMA_CPP_CACHE = {"f16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32)}


@dataclass(frozen=True)
class Growth:
    """The cache of one sequence: bytes each layer adds per token up to its cap, and fixed-size state."""

    per_token: tuple[tuple[int, int | None], ...]  # (bytes per token, cap in tokens or None)
    state_bytes: int

    def at(self, tokens: int) -> int:
        return sum(per * (min(tokens, cap) if cap is not None else tokens) for per, cap in self.per_token) \
            + self.state_bytes

    def growing_at(self, tokens: int) -> int:
        return self.at(tokens) - self.state_bytes

    @property
    def caps(self) -> tuple[int, ...]:
        return tuple(sorted({cap for per, cap in self.per_token if cap is not None and per > 0}))


@dataclass(frozen=True)
class KvRow:
    tokens: int
    declared: bool  # the model's declared window
    bytes: tuple[int, ...]  # one per column of KvPlan.dtypes


@dataclass(frozen=True)
class KvPlan:
    dtypes: tuple[str, ...]
    rows: tuple[KvRow, ...]
    state_bytes: int  # fixed-size recurrent state, at the cache's dtype in every column


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def growth(record: dict[str, Any]) -> Growth | None:
    """The cache's growth from `kv_cache.layers`; from `bytes_per_token` alone when no layer is listed and no
    attention layer has a window (nothing then stops it growing); None when neither says enough."""
    kv = record["kv_cache"]
    layers = kv.get("layers") or []
    if layers:
        per_token, state = [], 0
        for layer in layers:
            per = _whole(layer.get("bytes_per_token"))
            if per is None:
                return None
            per_token.append((per, _whole(layer.get("max_tokens"))))
            state += _whole(layer.get("state_bytes")) or 0
        return Growth(tuple(per_token), state)
    per = _whole(kv.get("bytes_per_token"))
    windows = [layer.get("window") for layer in record["attention"].get("layers") or []]
    if per is None or any(windows):
        return None
    return Growth(((per, None),), _whole(kv.get("constant_state_bytes")) or 0)


def plan_lengths(declared: int | None) -> list[int]:
    """The planning lengths up to the declared window, and the window itself; all of them when it is unknown."""
    if declared is None or declared < 1:
        return list(PLAN_LENGTHS)
    return sorted({*(n for n in PLAN_LENGTHS if n <= declared), declared})


def kv_plan(record: dict[str, Any]) -> KvPlan | None:
    found = growth(record)
    if found is None:
        return None
    dtype = record["kv_cache"].get("dtype") or ""
    width = DTYPE_BYTES.get(dtype)
    dtypes = [dtype or "the cache's dtype"]
    if width is not None:  # the common dtypes that would change the figures
        dtypes += [name for name in COMMON_DTYPES if DTYPE_BYTES[name] != width]
    llama_cpp = list(LLAMA_CPP_CACHE) if width is not None and record["model"].get("gguf") else []
    declared = _whole(record["context_window"].get("declared"))
    rows = []
    for tokens in plan_lengths(declared):
        growing = found.growing_at(tokens)
        sizes = [found.at(tokens)]
        for name in dtypes[1:]:
            sizes.append(growing * DTYPE_BYTES[name] // width + found.state_bytes)  # type: ignore[operator]
        for name in llama_cpp:  # whole blocks of values per token and layer are close enough for planning
            block_bytes, block = LLAMA_CPP_CACHE[name]
            sizes.append(growing // width * block_bytes // block + found.state_bytes)  # type: ignore[operator]
        rows.append(KvRow(tokens, tokens == declared, tuple(sizes)))
    return KvPlan((*dtypes, *(f"{name} (llama.cpp)" for name in llama_cpp)), tuple(rows), found.state_bytes)
