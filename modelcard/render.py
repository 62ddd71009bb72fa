"""Render a validated record as card.json, README.md (Hub front matter + body) and self-contained card.html."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from modelcard.present import invisible, present
from modelcard.record import dump_record
from modelcard.resources import data_dir

RECORD_MARKER = "modelcard-record"
_EMBEDDED = re.compile(rf"\n<!-- {RECORD_MARKER}\n([^\n]*)\n-->\n*\Z")
_NOT_ASCII = re.compile(r"[^\x00-\x7e]")
PIPELINE_TAGS = {"decoder-only": "text-generation", "encoder-only": "fill-mask",
                 "encoder-decoder": "text2text-generation", "vision-encoder": "image-feature-extraction"}


@functools.cache
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
    language = disclosures.get("language")
    if (isinstance(language, str) and language) or (isinstance(language, list) and language
                                                     and all(isinstance(item, str) for item in language)):
        meta["language"] = language
    if model["source"] != "module":
        meta["library_name"] = "transformers"
    if isinstance(disclosures.get("pipeline_tag"), str) and disclosures["pipeline_tag"]:
        meta["pipeline_tag"] = disclosures["pipeline_tag"]
    elif architecture["class"] in PIPELINE_TAGS:
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
    `--` may not appear in a comment (nor, then, `-->` or `--!>`); inside JSON strings it is written as
    `-\\u002d`. Invisible and control characters (bidi overrides, zero-width characters, lone surrogates) are
    written as JSON escapes too, so the README holds none of them; JSON reads every escape back as it was."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).replace("--", "-\\u002d")
    text = _NOT_ASCII.sub(_json_escape, text)
    return f"<!-- {RECORD_MARKER}\n{text}\n-->\n"


def _json_escape(match: re.Match[str]) -> str:
    """An invisible character as JSON's `\\uXXXX` (a surrogate pair beyond the BMP). Outside ASCII, so only ever
    inside a JSON string, where the escape reads back as the character."""
    if not invisible(match.group()):
        return match.group()
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def embedded_record_text(markdown: str) -> str | None:
    """The JSON text of the record embedded at the end of a README.md that `render_markdown` wrote, or None when
    there is none. Only the comment that closes the file counts: text earlier in the card cannot pass for it."""
    match = _EMBEDDED.search(markdown)
    return match.group(1) if match else None


def read_embedded_record(markdown: str) -> dict[str, Any] | None:
    """The record embedded at the end of a README.md that `render_markdown` wrote, or None when there is none."""
    text = embedded_record_text(markdown)
    if text is None:
        return None
    record = json.loads(text)
    return record if isinstance(record, dict) else None


def _front_matter_dumper():
    """yaml.SafeDumper that writes a string holding anything but printable ASCII double-quoted on one line, so
    no value can span lines (and so end the front matter with a `---` line) or carry invisible characters."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
        style = None if value.isascii() and value.isprintable() else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return Dumper


def front_matter_yaml(record: dict[str, Any]) -> str:
    """The front matter's YAML: block style, no line folding, non-ASCII written as escapes."""
    import yaml

    return yaml.dump(front_matter(record), Dumper=_front_matter_dumper(), sort_keys=False, allow_unicode=False,
                     default_flow_style=False, width=float("inf"))


def render_markdown(record: dict[str, Any]) -> str:
    body = _environment(autoescape=False).get_template("card.md.j2").render(**present(record, markdown=True))
    return f"---\n{front_matter_yaml(record)}---\n\n{body.rstrip()}\n\n{embedded_record(record)}"


def render_html(record: dict[str, Any]) -> str:
    return _environment(autoescape=True).get_template("card.html.j2").render(**present(record))


def render_all(record: dict[str, Any]) -> dict[str, str]:
    """All three files, in memory; the caller writes them once every one rendered."""
    return {"card.json": dump_record(record), "README.md": render_markdown(record), "card.html": render_html(record)}
