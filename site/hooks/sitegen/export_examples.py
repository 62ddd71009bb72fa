"""Examples of each export, generated at build time from the demo's standard-suite card (tests/golden/standard):
the start of each file `modelcard export` writes, so the page never shows an export the code no longer makes."""

from __future__ import annotations

from pathlib import Path

FORMATS = (("cyclonedx", "json", "CycloneDX 1.6"), ("spdx", "json", "SPDX 3.0.1"),
           ("eu-gpai", "markdown", "EU Model Documentation Form (Markdown)"),
           ("hub-eval-results", "yaml", "Hub evaluation results"))
LINES = 40


def export_examples_markdown(card: Path) -> str:
    """A fenced excerpt of each export of `card`, the first LINES lines."""
    import os

    from modelcard.export.write import export_text
    from modelcard.gate.cardfile import read_valid_card

    parts = [f"Generated from `{card.name}` of the demo's standard-suite run; each excerpt is the first {LINES} "
             "lines.\n"]
    for fmt, language, title in FORMATS:
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = "1780000000"  # a fixed creation time in the SPDX example
        try:
            text = export_text(read_valid_card(card), fmt, markdown=fmt == "eu-gpai")
        finally:
            if saved is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved
        lines = text.splitlines()
        shown = "\n".join(lines[:LINES]) + ("\n..." if len(lines) > LINES else "")
        parts.append(f"### {title}\n\n`modelcard export card.json --format {fmt}`\n\n````{language}\n{shown}\n````\n")
    return "\n".join(parts)
