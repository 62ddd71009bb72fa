"""The behavioural probes; importing this package registers every one (STYLE.md 4)."""

from modelcard.probe.probes import (  # noqa: F401
    cache_consistency,
    copy_distance,
    frequent_words,
    injected_instruction,
    kernel_agreement,
    kv_layout,
    mask_leak,
    multikey_distractors,
    nonliteral_needle,
    passkey_grid,
    position_sensitivity,
    quantization_drift,
    scaling,
    variable_tracking,
    window_boundary,
    window_reach,
)
