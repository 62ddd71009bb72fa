"""Render a validated record as card.json, README.md (Hub front matter + body) and self-contained card.html."""

from __future__ import annotations

import base64
import functools
import json
import re
import zlib
from collections.abc import Sequence
from typing import Any

from modelcard.base.resources import data_dir
from modelcard.card.present import present
from modelcard.record.document import dump_record
from modelcard.record.hub_metadata import PIPELINE_TAGS, front_matter  # noqa: F401 (front_matter: part of this API)

RECORD_MARKER = "modelcard-record"
RECORD_ENCODING = "zlib-base64"
BEGIN_MARKER = "<!-- modelcard:begin -->"
END_MARKER = "<!-- modelcard:end -->"
MAX_RECORD_BYTES = 64 * 1024 * 1024  # the largest card.json modelcard reads (modelcard.base.readers)
_EMBEDDED = re.compile(rf"\n<!-- {RECORD_MARKER}\n([^\n]*)\n-->\n*\Z")  # earlier versions: plain JSON
_EMBEDDED_COMPRESSED = re.compile(rf"^<!-- {RECORD_MARKER} {RECORD_ENCODING}\n([A-Za-z0-9+/=]*)\n-->\n"
                                  rf"{re.escape(END_MARKER)}$", re.M)


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


def embedded_record(record: dict[str, Any]) -> str:
    """The whole record inside an HTML comment, so a README.md can be checked and read back losslessly without
    the record taking over the file: its JSON (ASCII, every other character a JSON escape) compressed with zlib
    and written in base64, which holds neither `--` nor any character that could end the comment."""
    data = json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
    text = base64.b64encode(zlib.compress(data, 9)).decode("ascii")
    return f"<!-- {RECORD_MARKER} {RECORD_ENCODING}\n{text}\n-->\n"


def _inflate(payload: str) -> str | None:
    """The JSON text of a compressed record; None when the payload is damaged or would inflate past the size a
    card may have."""
    try:
        compressed = base64.b64decode(payload, validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(compressed, MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES or not inflater.eof:
            return None
        return data.decode("utf-8")
    except (ValueError, zlib.error):  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def embedded_record_text(markdown: str) -> str | None:
    """The JSON text of the record a README.md embeds, or None when there is none (or it is damaged). Two forms
    are read: the compressed comment that closes the generated block (right before `<!-- modelcard:end -->`,
    the last such block in the file; text after it is the author's), and the plain JSON comment at the very end
    of the file that earlier versions wrote. Text inside a generated card is escaped, so it cannot pass for
    either."""
    compressed = _EMBEDDED_COMPRESSED.findall(markdown)
    if compressed:
        return _inflate(compressed[-1])
    match = _EMBEDDED.search(markdown)
    return match.group(1) if match else None


def read_embedded_record(markdown: str) -> dict[str, Any] | None:
    """The record a README.md embeds (either form), or None when there is none or it cannot be read."""
    text = embedded_record_text(markdown)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
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
    return front_matter_yaml_for(front_matter(record))


def front_matter_yaml_for(data: dict[str, Any]) -> str:
    import yaml

    return yaml.dump(data, Dumper=_front_matter_dumper(), sort_keys=False, allow_unicode=False,
                     default_flow_style=False, width=float("inf"))


def generated_block(record: dict[str, Any], charts: Sequence[Any]) -> str:
    """The card's body between its markers, the record at its end: what `--update` replaces in a README."""
    body = _environment(autoescape=False).get_template("card.md.j2").render(**present(record, markdown=True,
                                                                                      charts=charts))
    return f"{BEGIN_MARKER}\n{body.strip()}\n\n{embedded_record(record)}{END_MARKER}\n"


def _drawn(record: dict[str, Any], charts: Sequence[Any] | None) -> Sequence[Any]:
    if charts is not None:
        return charts
    from modelcard.card.chart_data import chart_specs
    from modelcard.card.charts import draw_all

    return draw_all(chart_specs(record))


def render_markdown(record: dict[str, Any], charts: Sequence[Any] | None = None) -> str:
    """README.md: Hub front matter, then the generated block. `charts` (drawn ones, modelcard.card.charts) default to
    the record's own; their PNG files are linked by relative name."""
    return f"---\n{front_matter_yaml(record)}---\n\n{generated_block(record, _drawn(record, charts))}"


def render_html(record: dict[str, Any], charts: Sequence[Any] | None = None) -> str:
    return _environment(autoescape=True).get_template("card.html.j2").render(**present(record,
                                                                                   charts=_drawn(record, charts)))


def render_all(record: dict[str, Any]) -> dict[str, str | bytes]:
    """Every file of the card, in memory: card.json, README.md, card.html and a PNG per chart (README.md links
    them); the caller writes them once every one rendered."""
    charts = _drawn(record, None)
    files: dict[str, str | bytes] = {"card.json": dump_record(record), "README.md": render_markdown(record, charts),
                                     "card.html": render_html(record, charts)}
    files.update({chart.spec.file_name: chart.png for chart in charts})
    return files
