"""Every schema-valid record renders (issues 7 and 11): hypothesis draws records from the card schema itself, and real
records with parts redrawn (a null RoPE theta or scaling factor, MLA grouping without its latent, a probe
value that is a list), and both cards must render, encode as UTF-8 and embed the record losslessly.

The strategy is built from schemas/card.schema.json by a small converter for the keywords the schema uses
(hypothesis-jsonschema does not run on this hypothesis), so it follows the schema as the schema changes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from goldens import PROBED_FIXTURE
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from modelcard.card.chart_data import chart_specs
from modelcard.card.charts import draw_all
from modelcard.card.readme_update import Readme, updated_text
from modelcard.card.render import read_embedded_record, render_html, render_markdown
from modelcard.record.validate import schema, validate_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASES = [json.loads(path.read_text(encoding="utf-8")) for path in (FIXTURES / "record-1.0.json", PROBED_FIXTURE)]
# The reader refuses integers of more than 64 digits and non-finite numbers (modelcard.base.readers); so does this.
BIGGEST = 10**64 - 1
HOSTILE = ["<!--", "-->", "<img src=x onerror=alert(1)>", "| a | b |", "\n# H\n", "\n---\nlicense: x\n---",
           "```", "[x](javascript:alert(1))", "\u202eevil", "zero\u200bwidth", "\x00\x1b", "{{ 7*7 }}", "a: b",
           "`", "\\", "", " ", "\ud800"]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=()), max_size=12))
KEYS = st.one_of(st.sampled_from(["decoder", "intended_use", "extra_key", "-->", "a|b"]), TEXT)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-BIGGEST, BIGGEST)
                    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=8)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema()["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def number(node: dict[str, Any], integer: bool) -> st.SearchStrategy:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum")
    if integer:
        low = None if low is None else math.floor(low) + (1 if "exclusiveMinimum" in node else 0)
        return st.integers(-BIGGEST if low is None else low, BIGGEST if high is None else high) | st.sampled_from(
            [value for value in (0, 1, 7, 4096) if (low is None or value >= low) and (high is None or value <= high)])
    floats = st.floats(min_value=low, max_value=high, exclude_min="exclusiveMinimum" in node, allow_nan=False,
                       allow_infinity=False)
    return floats | number(node, integer=True)


def strategy(node: dict[str, Any]) -> st.SearchStrategy:
    """Values valid against one schema node, for the keywords card.schema.json uses."""
    node = resolve(node)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    types = node.get("type")
    if types is None:
        return JSON
    if isinstance(types, list):
        return st.one_of([strategy({**node, "type": kind}) for kind in types])
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types in ("integer", "number"):
        return number(node, integer=types == "integer")
    if types == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True)
        return TEXT.filter(lambda text: len(text) >= node.get("minLength", 0))
    if types == "array":
        items = strategy(node.get("items", {}))
        return st.lists(items, max_size=4, unique_by=(lambda x: json.dumps(x)) if node.get("uniqueItems") else None)
    assert types == "object", node
    return object_strategy(node)


def object_strategy(node: dict[str, Any]) -> st.SearchStrategy:
    properties = node.get("properties", {})
    required = set(node.get("required", []))
    fixed = {key: strategy(sub) for key, sub in properties.items() if key in required}
    optional = {key: strategy(sub) for key, sub in properties.items() if key not in required}
    extra = node.get("additionalProperties", True)
    if extra is False:
        more = st.just({})
    else:
        keys = strategy(node["propertyNames"]) if "propertyNames" in node else KEYS
        values = JSON if extra is True else strategy(extra)
        more = st.dictionaries(keys.filter(lambda key: key not in properties), values, max_size=3)
    return st.builds(lambda extra_items, base: {**extra_items, **base}, more,
                     st.fixed_dictionaries(fixed, optional=optional))


def paths(record: Any, node: dict[str, Any], at: tuple = ()) -> list[tuple[tuple, dict[str, Any], bool]]:
    """Every place in a real record, with the schema node that governs it and whether it may be left out."""
    node = resolve(node)
    found = []
    if isinstance(record, dict):
        for key, value in record.items():
            if key in node.get("properties", {}):
                sub = node["properties"][key]
            elif isinstance(node.get("additionalProperties"), dict):
                sub = node["additionalProperties"]
            else:
                continue
            found += [((*at, key), sub, key not in node.get("required", [])), *paths(value, sub, (*at, key))]
    elif isinstance(record, list) and isinstance(node.get("items"), dict):
        for index, value in enumerate(record):
            found += [((*at, index), node["items"], False), *paths(value, node["items"], (*at, index))]
    return found


@st.composite
def redrawn(draw: st.DrawFn) -> dict[str, Any]:
    """A real record with a few of its values (anywhere, at any depth) redrawn from their schema, or left out
    where the schema allows."""
    record = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for at, node, optional in draw(st.lists(st.sampled_from(paths(record, schema())), max_size=6)):
        parent = record
        try:
            for part in at[:-1]:
                parent = parent[part]
            parent[at[-1]]  # noqa: B018 (gone when an earlier redraw replaced a parent)
        except (KeyError, IndexError, TypeError):
            continue
        if optional and draw(st.booleans()):
            del parent[at[-1]]
        else:
            parent[at[-1]] = draw(strategy(node))
    return record


RECORDS = st.one_of(redrawn(), strategy(schema()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                                   HealthCheck.data_too_large])
@given(RECORDS)
def test_every_schema_valid_record_renders(record: dict[str, Any]) -> None:
    """Both cards with their charts (each drawn from the record's numbers, or left out), and the block that
    `--update` puts into a README of someone else's, which reads back the record too."""
    assume(validate_record(record) == [])
    charts = draw_all(chart_specs(record))
    markdown = render_markdown(record, charts)
    html = render_html(record, charts)
    markdown.encode("utf-8")
    html.encode("utf-8")
    assert read_embedded_record(markdown) == record
    readme = Readme(Path("README.md"), {"license": "mit", "tags": ["theirs"]}, "# Theirs\n", "", has_block=False)
    updated = updated_text(readme, record, charts)
    assert "\n# Theirs\n\n<!-- modelcard:begin -->\n" in updated and read_embedded_record(updated) == record


def test_the_crashes_issue_7_names_render() -> None:
    """Schema-valid records that once raised: null RoPE theta, null scaling factor and original context, MLA
    without its latent, null parameters and dtype, a probe value that is a structure, a null duration."""
    record = json.loads(json.dumps(BASES[1]))
    record["position"]["rope"] = {"theta": None, "partial_rotary_factor": None,
                                  "scaling": {"type": "yarn", "factor": None, "original_context": None}}
    record["attention"]["heads"] = {"query": 16, "key_value": None, "head_dim": None, "grouping": "MLA"}
    record["model"]["parameters"] = None
    record["probes"][0].update(value={"a": [1, True]}, duration_s=None, unit="x")
    record["probes"][1].update(value=True, metric=None)
    record["probes"][2].update(value=[1, 2], kernel=None, device=None)
    assert validate_record(record) == []
    markdown = render_markdown(record)
    assert "RoPE, θ unknown; yarn scaling |" in markdown
    assert "MLA, 16 query heads, latent size unknown" in markdown
    assert "lookahead = a 1, yes x (twin) |" in markdown
    render_html(record)
    record["attention"]["heads"].update(grouping="GQA", key_value_per_layer=[8, None, 2])
    assert "GQA: 16 query heads, 2–8 KV heads by layer, head size unknown" in render_markdown(record)
