"""Reading the JSON and YAML files people hand us, with one clear BadInput line for each way they break.

Every file a user hands over goes through here: regular files only (a FIFO or a device would hang or never
end), a size cap per kind, UTF-8, bounded nesting and integer sizes, YAML alias expansion capped, only the
values JSON has (no dates, binary, sets, NaN or infinities). An error line names the file and the problem and
never echoes the file's content.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput

MiB = 1024 * 1024
# The largest file of each kind that modelcard reads; real ones are far smaller (a released config.json is
# under 100 KB, a probed card.json under 1 MB).
SIZE_CAPS = {
    "config": 16 * MiB,
    "disclosures": 1 * MiB,
    "card": 64 * MiB,
    "suite": 1 * MiB,
    "policy": 1 * MiB,
    "safetensors header": 100 * MiB,
}
MAX_DEPTH = 64  # nesting of objects and lists
MAX_INT_DIGITS = 64
MAX_YAML_NODES = 100_000  # nodes after expanding every alias
_YAML_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}
_YAML_TAG_WORDS = {"timestamp": "a date or time", "binary": "binary data", "set": "a set", "omap": "an ordered map",
                   "pairs": "a list of pairs", "merge": None}


def read_bytes(path: Path, kind: str) -> bytes:
    """The bytes of a regular file, at most the cap for its kind; opened without blocking so a FIFO
    cannot hang the run."""
    cap = SIZE_CAPS[kind]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(path, f"is a folder, not a {kind} file")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(path, f"not a regular file (a pipe, socket or device); modelcard reads {kind} files only")
        if info.st_size > cap:
            raise BadInput(path, f"too large for a {kind} file ({_size(info.st_size)}; the limit is {_size(cap)})")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 * MiB, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise BadInput(path, f"too large for a {kind} file (over {_size(cap)}, the limit)")
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count / MiB:.1f} MiB" if count >= MiB else f"{count:,} bytes"


def decode_utf8(data: bytes, path: Path) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(path, f"not UTF-8 text (invalid byte at offset {error.start})") from None
    return text.removeprefix("\ufeff")


def read_text(path: Path, kind: str = "config") -> str:
    return decode_utf8(read_bytes(path, kind), path)


def parse_json(text: str, path: Path, what: str, special_floats: bool = False) -> Any:
    """JSON with integers of at most MAX_INT_DIGITS digits and at most MAX_DEPTH levels, and only finite numbers
    unless `special_floats` (Python's json writes `Infinity` in configs that transformers reads back: a
    released Nemotron-H config.json has one)."""

    def bad_constant(name: str) -> Any:
        if special_floats:
            return float(name.replace("Infinity", "inf"))
        raise _Refused(f"{name} is not a JSON number; write a finite number or null")

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise _Refused(f"an integer of {len(digits.lstrip('-')):,} digits (the limit is {MAX_INT_DIGITS})")
        return int(digits)

    def parse_float(digits: str) -> float:
        value = float(digits)
        if not math.isfinite(value) and not special_floats:
            raise _Refused("a number too large to represent")
        return value

    try:
        data = json.loads(text, parse_constant=bad_constant, parse_int=parse_int, parse_float=parse_float)
    except json.JSONDecodeError as error:
        raise BadInput(path, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    except _Refused as error:
        raise BadInput(path, f"{what}: {error}") from None
    except RecursionError:
        raise BadInput(path, f"{what}: nested deeper than {MAX_DEPTH} levels") from None
    check_depth(data, path, what)
    return data


class _Refused(ValueError):
    pass


def check_depth(data: Any, path: Path, what: str) -> None:
    """At most MAX_DEPTH levels, and text that UTF-8 can hold (JSON's `\\ud800` escape makes a lone surrogate,
    which no file can be written with)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, path, what)
        elif isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadInput(path, f"{what}: nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node if isinstance(key, str))
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def _check_text(text: str, path: Path, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(path, f"{what}: a text value holds a lone surrogate escape (\\ud800-\\udfff), "
                             "which is not a character") from None


def read_json_object(path: Path, what: str, kind: str = "config") -> dict[str, Any]:
    """A JSON file that must hold an object; `what` names it in the error ("a config", "a card record")."""
    data = parse_json(read_text(path, kind), path, what, special_floats=kind == "config")
    if not isinstance(data, dict):
        raise BadInput(path, f"{what} must be a JSON object")
    return data


def read_yaml(path: Path, kind: str) -> Any:
    """Plain YAML as JSON would hold it: safe_load's node graph checked before anything is built (aliases
    expand to at most MAX_YAML_NODES nodes, none refers to itself, no dates, binary, sets or NaN)."""
    return parse_yaml(read_text(path, kind), path)


def parse_yaml(text: str, path: Path) -> Any:
    import yaml

    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_nodes(node, path)
        data = loader.construct_document(node)
        check_depth(data, path, "the file")
        return data
    except yaml.MarkedYAMLError as error:
        raise BadInput(path, f"not valid YAML{_where(error.problem_mark)}: {_problem(error)}") from None
    except yaml.reader.ReaderError as error:
        raise BadInput(path, f"not valid YAML: a control character (code {error.character}) at offset "
                             f"{error.position}") from None
    except yaml.YAMLError as error:
        raise BadInput(path, f"not valid YAML: {_problem(error)}") from None
    except RecursionError:
        raise BadInput(path, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def _where(mark: Any) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _problem(error: Any) -> str:
    """PyYAML's own words, with what it was parsing: the punctuation it expected or found is kept (`','`,
    `']'`), any longer quoted piece of the file is left out (it may be a secret)."""
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or type(error).__name__
    context = getattr(error, "context", None) if getattr(error, "problem", None) else None
    text = _QUOTED.sub(_punctuation_only, " ".join(str(problem).split()))
    if context:
        text += f" ({_QUOTED.sub(_punctuation_only, ' '.join(str(context).split()))})"
    return text


def _punctuation_only(match: re.Match[str]) -> str:
    inner = match.group(0)[1:-1]
    return match.group(0) if 0 < len(inner) <= 3 and not any(ch.isalnum() for ch in inner) else "…"


_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(inf|nan)$", re.IGNORECASE)


def _check_yaml_nodes(root: Any, path: Path) -> None:
    """Walk the composed graph once per distinct node, counting what alias expansion would build."""
    import yaml

    expanded: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: Any, depth: int) -> int:
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in in_progress:
            raise BadInput(path, f"an alias refers to the node that contains it{_where(node.start_mark)}")
        if depth > MAX_DEPTH:
            raise BadInput(path, f"nested deeper than {MAX_DEPTH} levels{_where(node.start_mark)}")
        _check_tag(node, path)
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise BadInput(path, f"a mapping key must be plain text{_where(key_node.start_mark)}")
                total += size(key_node, depth + 1) + size(value_node, depth + 1)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
                if total > MAX_YAML_NODES:
                    break
        in_progress.discard(key)
        if total > MAX_YAML_NODES:
            raise BadInput(path, f"expands to more than {MAX_YAML_NODES:,} values (aliases repeat their anchor)")
        expanded[key] = total
        return total

    size(root, 1)


def _check_tag(node: Any, path: Path) -> None:
    tag = node.tag or ""
    if tag in _YAML_PLAIN_TAGS:
        if tag.endswith(":float") and _SPECIAL_FLOAT.match(str(node.value)):
            raise BadInput(path, f"{node.value} is not a JSON number; write a finite number or null"
                                 f"{_where(node.start_mark)}")
        return
    word = _YAML_TAG_WORDS.get(tag.rsplit(":", 1)[-1]) if tag.startswith("tag:yaml.org,2002:") else None
    if tag == "tag:yaml.org,2002:merge":
        return
    what = word or "a value with a YAML tag"
    raise BadInput(path, f"{what} is not plain text, a number, a list or a mapping; quote it{_where(node.start_mark)}")


def resolve_inside(path: Path, folder: Path) -> Path:
    """An auto-discovered file: refused when it (or a symlink on the way) leads outside `folder`."""
    try:
        target = path.resolve(strict=True)
        base = folder.resolve(strict=True)
    except (OSError, RuntimeError) as error:
        raise BadInput(path, f"cannot read: {getattr(error, 'strerror', None) or error}") from None
    if not target.is_relative_to(base):
        raise BadInput(path, f"is a link to a file outside {base}; modelcard does not follow it "
                             "(pass the file with --disclosures to use it)")
    return target
