"""Probes: run the model with its own kernels and measure what the config only claims."""
