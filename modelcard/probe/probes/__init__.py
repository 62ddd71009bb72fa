"""The behavioural probes; importing this package registers every one (STYLE.md 4)."""

from modelcard.probe.probes import (  # noqa: F401
    cache_consistency,
    kernel_agreement,
    kv_layout,
    mask_leak,
    scaling,
    window_reach,
)
