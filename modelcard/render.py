"""Render a validated record as card.json, README.md (Hub front matter + body) and self-contained card.html."""

from __future__ import annotations

import json
from typing import Any

from modelcard.present import present
from modelcard.record import dump_record
from modelcard.resources import data_dir

RECORD_MARKER = "modelcard-record"
PIPELINE_TAGS = {"decoder-only": "text-generation", "encoder-only": "fill-mask",
                 "encoder-decoder": "text2text-generation", "vision-encoder": "image-feature-extraction"}


def _environment(autoescape: bool):
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=FileSystemLoader(str(data_dir("templates"))),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def front_matter(record: dict[str, Any]) -> dict[str, Any]:
    """Hugging Face Hub card metadata, plus a `modelcard` summary of the record's headline facts."""
    model = record["model"]
    disclosures = record["disclosures"]
    architecture = record["architecture"]
    tags = ["modelcard", f"attention-{(record['attention']['heads']['grouping'] or 'unknown').lower()}"]
    if architecture["class"]:
        tags.append(architecture["class"])
    meta: dict[str, Any] = {}
    if isinstance(disclosures.get("license"), str) and disclosures["license"]:
        meta["license"] = disclosures["license"]
    if model["source"] != "module":
        meta["library_name"] = "transformers"
    if architecture["class"] in PIPELINE_TAGS:
        meta["pipeline_tag"] = PIPELINE_TAGS[architecture["class"]]
    meta["tags"] = tags
    meta["modelcard"] = {
        "schema_version": record["schema_version"],
        "architecture_class": architecture["class"],
        "attention_grouping": record["attention"]["heads"]["grouping"],
        "layer_kinds": sorted({layer["kind"] for layer in record["attention"]["layers"]}),
        "context_window": record["context_window"]["declared"],
        "parameters": model["parameters"],
        "probes": {status: sum(p["status"] == status for p in record["probes"])
                   for status in ("pass", "fail", "error", "skipped")},
        "findings": len(record["findings"]),
    }
    return meta


def embedded_record(record: dict[str, Any]) -> str:
    """The whole record inside an HTML comment, so a README.md can be checked and read back losslessly.
    `--` may not appear in a comment; inside JSON strings it is written as `-\\u002d`."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).replace("--", "-\\u002d")
    return f"<!-- {RECORD_MARKER}\n{text}\n-->\n"


def render_markdown(record: dict[str, Any]) -> str:
    import yaml

    header = yaml.safe_dump(front_matter(record), sort_keys=False, allow_unicode=True)
    body = _environment(autoescape=False).get_template("card.md.j2").render(**present(record))
    return f"---\n{header}---\n\n{body.rstrip()}\n\n{embedded_record(record)}"


def render_html(record: dict[str, Any]) -> str:
    return _environment(autoescape=True).get_template("card.html.j2").render(**present(record))


def render_all(record: dict[str, Any]) -> dict[str, str]:
    """All three files, in memory; the caller writes them once every one rendered."""
    return {"card.json": dump_record(record), "README.md": render_markdown(record), "card.html": render_html(record)}
