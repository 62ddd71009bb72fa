"""Export: one validated record in, the same facts in a documentation standard's own format out (CycloneDX 1.6
with a model card, SPDX 3.0 AI, the EU AI Office's Model Documentation Form, Hub evaluation results). Reads a
card.json or a generated README like `check`, and never imports torch."""

from __future__ import annotations

FORMATS = ("cyclonedx", "spdx", "eu-gpai", "hub-eval-results")
