"""One export as text, by format name."""

from __future__ import annotations

import json

from modelcard.base.errors import BadInput
from modelcard.gate.cardfile import Card


def export_text(card: Card, fmt: str, markdown: bool = False) -> str:
    """The card in format `fmt` (modelcard.export.FORMATS).

    Args:
        card: the card as `check` reads it (a README's hand-edited disclosures count).
        fmt: cyclonedx, spdx, eu-gpai or hub-eval-results.
        markdown: for eu-gpai, the form as Markdown instead of JSON.

    Returns:
        The text to write.

    Raises:
        BadInput: spdx without spdx-python-model installed.
    """
    document = card.document(front_matter=False)
    document.pop("front_matter", None)
    if fmt == "cyclonedx":
        from modelcard.export.cyclonedx import cyclonedx_bom

        return json.dumps(cyclonedx_bom(document), indent=2, ensure_ascii=False) + "\n"
    if fmt == "spdx":
        import importlib.util

        if importlib.util.find_spec("spdx_python_model") is None:
            raise BadInput("--format spdx", "needs the spdx-python-model package: pip install spdx-python-model "
                                             "(modelcard's [export] extra)")
        from modelcard.export.spdx import spdx_document

        return spdx_document(document)
    if fmt == "eu-gpai":
        from modelcard.export.eu_gpai import gpai_form, gpai_markdown

        form = gpai_form(card)
        return gpai_markdown(form) if markdown else json.dumps(form, indent=2, ensure_ascii=False) + "\n"
    if fmt == "hub-eval-results":
        from modelcard.export.hub_eval import hub_eval_yaml

        return hub_eval_yaml(document)
    raise ValueError(f"unknown export format {fmt!r}")
