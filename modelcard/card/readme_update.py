"""`--update README.md`: refresh the generated part of a model's own README and merge its metadata, keeping
every byte the author wrote.

The generated part lies between `<!-- modelcard:begin -->` and `<!-- modelcard:end -->` (a README that
`generate` wrote has them too); only that is replaced. A README without them gets the block appended after its
last line. The front matter is read, merged with the card's (modelcard.record.hub_metadata.merged) and written again;
the body outside the markers is not touched. The chart PNGs the block links are written beside the README, in
one set with it (modelcard.base.writers.write_files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import decode_utf8, parse_yaml, read_bytes
from modelcard.card.render import BEGIN_MARKER, END_MARKER, front_matter_yaml_for, generated_block


@dataclass(frozen=True)
class Readme:
    path: Path
    metadata: dict[str, Any]
    before: str  # the body up to the generated block (all of it when there is none)
    after: str  # the body after the block's end marker
    has_block: bool
    crlf: bool = False  # the file's lines end in \r\n: read as \n, written back with \r\n


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0:
        if text.endswith("\n---"):
            end = len(text) - 4
        else:
            raise BadInput(path, "the front matter that opens with --- never closes")
    data = parse_yaml(text[4:end], path) if end > 4 else None
    if data is not None and not isinstance(data, dict):
        raise BadInput(path, "the front matter must be a mapping of keys to values")
    return data or {}, text[end + 5:]


def open_readme(path: Path) -> Readme:
    """The README to update, read and split before any model work, so a bad one is bad input at once."""
    path = Path(path)
    text = decode_utf8(read_bytes(path, "card"), path)
    crlf = "\r\n" in text
    text = text.replace("\r\n", "\n") if crlf else text
    metadata, body = _split_front_matter(text, path)
    _check_model_index(metadata, text, path)
    start = body.find(BEGIN_MARKER)
    if start < 0:
        if END_MARKER in body:
            raise BadInput(path, f"has {END_MARKER} without {BEGIN_MARKER} before it")
        return Readme(path, metadata, body, "", has_block=False, crlf=crlf)
    end = body.find(END_MARKER, start)
    if end < 0:
        raise BadInput(path, f"has {BEGIN_MARKER} without {END_MARKER} after it")
    rest = body[end + len(END_MARKER):]
    return Readme(path, metadata, body[:start], rest.removeprefix("\n"), has_block=True, crlf=crlf)


def _check_model_index(metadata: dict[str, Any], text: str, path: Path) -> None:
    """An existing model-index that huggingface_hub cannot read, or reads with results missing, is bad input
    with its line: --update keeps the author's results, so it must never drop one without saying so
    (huggingface_hub#1361)."""
    index = metadata.get("model-index")
    if index is None:
        return
    from huggingface_hub import ModelCardData

    line = next((n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("model-index:")), 1)
    try:
        parsed = ModelCardData(**{"model-index": index}).eval_results or []
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        why = " ".join(str(error).split()).split(" Pass `ignore_metadata_errors")[0]
        raise BadInput(path, f"line {line}: huggingface_hub cannot read the model-index ({why[:160]}); fix or "
                             "remove it, modelcard will not drop it") from None
    claimed = sum(len(result.get("metrics") or []) for entry in index if isinstance(entry, dict)
                  for result in entry.get("results") or [] if isinstance(result, dict)) \
        if isinstance(index, list) else 0
    if len(parsed) < claimed:
        raise BadInput(path, f"line {line}: the model-index lists {claimed} results but huggingface_hub reads "
                             f"{len(parsed)}; fix it, modelcard will not drop the others")


def merged_metadata(readme: Readme, record: dict[str, Any]) -> dict[str, Any]:
    """The README's metadata with the card's folded in (modelcard.record.hub_metadata.merged)."""
    from modelcard.record.hub_metadata import merged

    return merged(readme.metadata, record)


def updated_text(readme: Readme, record: dict[str, Any], charts: Any,
                 metadata: dict[str, Any] | None = None) -> str:
    """The README with the card's block in place and the metadata merged (`metadata`, when already merged)."""
    block = generated_block(record, charts)
    before = readme.before
    if not readme.has_block and before.strip():  # appended after the author's last line, a blank line between
        before += "\n" if before.endswith("\n") else "\n\n"
    elif not readme.has_block:
        before = "\n"
    front = front_matter_yaml_for(metadata if metadata is not None else merged_metadata(readme, record))
    text = f"---\n{front}---\n{before}{block}{readme.after}"
    return text.replace("\n", "\r\n") if readme.crlf else text


def replaced_metadata(readme: Readme, metadata: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The README's own metadata values that the card's replace: (key, the README's, the card's).

    Args:
        readme: the README as read.
        metadata: its metadata merged with the card's (`merged_metadata`).

    Returns:
        One (key, the README's value, the card's value) per replaced key.
    """
    return [(key, value, metadata[key]) for key, value in readme.metadata.items()
            if key in metadata and key not in ("tags", "model-index") and metadata[key] != value]


def update_readme(readme: Readme, record: dict[str, Any], metadata: dict[str, Any] | None = None) -> list[Path]:
    """Write the updated README and its charts beside it, as one set (`metadata`: the merged metadata, when the
    caller has it already); returns the files written."""
    from modelcard.base.writers import write_files
    from modelcard.card.chart_data import CHART_FILE_NAMES, chart_specs
    from modelcard.card.charts import draw_all

    charts = draw_all(chart_specs(record))
    files: dict[str, str | bytes] = {readme.path.name: updated_text(readme, record, charts, metadata)}
    files.update({chart.spec.file_name: chart.png for chart in charts})
    return write_files(readme.path.parent, files, remove=[name for name in CHART_FILE_NAMES if name not in files])
