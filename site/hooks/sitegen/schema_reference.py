"""The record reference, generated from `schemas/card.schema.json`: every field as the JSON pointer a policy or a
reader uses, with its type, its description and its allowed values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitegen.markdown import cell, code, generated_note, table

ANY_INDEX = "*"  # stands for any array index in the pointers shown


@dataclass
class Field:
    pointer: str
    schema: dict[str, Any]  # with $ref resolved
    required: bool


def read_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A node with its local `$ref` (`#/$defs/name`) merged in; the node's own keys win (its description)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    merged = {**resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}
    return merged


def fields(root: dict[str, Any]) -> list[Field]:
    """Every field of the record, depth first in the schema's order: object properties, array items
    (`/*`) and map values (`/{key}`)."""
    found: list[Field] = []

    def walk(schema: dict[str, Any], pointer: str) -> None:
        schema = resolve(schema, root)
        required = set(schema.get("required", []))
        for name, child in (schema.get("properties") or {}).items():
            child_pointer = f"{pointer}/{name}"
            found.append(Field(child_pointer, resolve(child, root), name in required))
            walk(child, child_pointer)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            key = key_name(schema)
            child_pointer = f"{pointer}/{{{key}}}"
            found.append(Field(child_pointer, resolve(extra, root), False))
            walk(extra, child_pointer)
        items = schema.get("items")
        if isinstance(items, dict):
            walk(items, f"{pointer}/{ANY_INDEX}")
        for alternative in alternatives(schema, root):
            walk(alternative, pointer)

    walk(root, "")
    return found


def alternatives(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The `oneOf` / `anyOf` branches that hold fields of their own. A branch that is a list of another branch's
    objects (`when: condition | [condition, ...]`) adds no field and is left out."""
    branches = [branch for key in ("oneOf", "anyOf") for branch in schema.get(key) or []]
    refs = {branch["$ref"] for branch in branches if "$ref" in branch}
    kept = []
    for branch in branches:
        items = branch.get("items")
        if branch.get("type") == "array" and isinstance(items, dict) and items.get("$ref") in refs:
            continue
        if "properties" in resolve(branch, root) or isinstance(items, dict):
            kept.append(branch)
    return kept


def key_name(schema: dict[str, Any]) -> str:
    """What the keys of a map stand for: a JSON pointer where `propertyNames` says so."""
    names = schema.get("propertyNames") or {}
    return "pointer" if str(names.get("$ref", "")).endswith("/pointer") else "key"


def type_of(schema: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    if "enum" in schema:
        return "enum"
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches and "type" not in schema:
        return " or ".join(dict.fromkeys(type_of(resolve(branch, root or {}), root) for branch in branches))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = schema.get("items") or {}
        items = resolve(items, root or {})
        inner = items.get("type") or ("enum" if "enum" in items else "object" if "properties" in items else "any")
        return f"array of {inner if isinstance(inner, str) else ' or '.join(inner)}"
    return kind or "any"


def constraints(schema: dict[str, Any], root: dict[str, Any]) -> str:
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(code(value) for value in schema["enum"]))
    items = resolve(schema.get("items") or {}, root)
    if "enum" in items:
        parts.append("items: " + ", ".join(code(value) for value in items["enum"]))
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("minLength", "length ≥")):
        if key in schema:
            parts.append(f"{word} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"matches {code(schema['pattern'])}")
    if schema.get("uniqueItems"):
        parts.append("unique items")
    return "; ".join(parts)


RECORD_INTRO = (
    "Each field is named by the JSON pointer a policy uses to point at it; `*` stands for any array index and "
    "`{key}` / `{pointer}` for any key of a map. *Required* fields are always present; a value that cannot be "
    "stated is `null`, and `/unknowns` says why.\n\n")


def schema_reference_markdown(schema_path: Path, title: str = "Record schema", intro: str = RECORD_INTRO) -> str:
    root = read_schema(schema_path)
    out = [f"# {title}\n\n"]
    out.append(f"{root.get('description', '')}\n\n")
    out.append(intro)
    top = root.get("properties") or {}
    required = set(root.get("required", []))
    out.append("## Top-level fields\n\n")
    out.append(table(["Field", "Required", "Description"],
                     [[f"[{code('/' + name)}](#{anchor(name)})", "yes" if name in required else "no",
                       cell(resolve(child, root).get("description", ""))] for name, child in top.items()]))
    by_section: dict[str, list[Field]] = {}
    for item in fields(root):
        by_section.setdefault(item.pointer.split("/")[1], []).append(item)
    for name in top:
        section = by_section.get(name, [])
        out.append(f"\n## `/{name}` {{#{anchor(name)}}}\n\n")
        out.append(f"{cell(resolve(top[name], root).get('description', ''))}\n\n")
        out.append(table(["Field", "Type", "Required", "Description", "Values"],
                         [[code(item.pointer), cell(type_of(item.schema, root)), "yes" if item.required else "no",
                           cell(item.schema.get("description", "")), constraints(item.schema, root)]
                          for item in section]))
    out.append(generated_note(f"`schemas/{schema_path.name}` (`{root.get('$id', '')}`)"))
    return "".join(out)


def anchor(name: str) -> str:
    return "field-" + name.replace("_", "-")
