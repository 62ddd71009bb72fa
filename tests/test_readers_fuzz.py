"""Property tests of the readers and `validate`: whatever bytes a file holds, the answer is a value or one
BadInput line (exit 2), never another exception, and never a value JSON cannot hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcard.base.errors import BadInput
from modelcard.base.readers import parse_json, parse_yaml

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WHERE = Path("fuzz.txt")

# Text that looks like YAML or JSON more often than random characters would.
SYNTAX = st.sampled_from(["{", "}", "[", "]", ":", ",", "-", "&a", "*a", "!!", "!!set", "!!binary", "!!python/name:os",
                          ".nan", ".inf", "1e400", "NaN", "Infinity", "2024-01-01", "\n", "  ", "? ", "'", '"',
                          "<<: *a", "---", "...", "%YAML 1.1", "#", "key", "9" * 30, "\t", "\\u0000", "\x00"])
DOCUMENTS = st.lists(st.one_of(SYNTAX, st.text(max_size=8)), max_size=40).map("".join)


def _plain(value: object, depth: int = 0) -> bool:
    """Only what JSON holds: text, finite numbers, booleans, null, lists, mappings with text keys."""
    if isinstance(value, float):
        return math.isfinite(value)
    if value is None or isinstance(value, (str, int, bool)):
        return True
    if isinstance(value, list):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int, float, bool)) or k is None for k in value) and all(
            _plain(item, depth + 1) for item in value.values())
    return False


@FUZZ
@given(DOCUMENTS)
def test_yaml_reader_gives_plain_values_or_one_line(text):
    try:
        value = parse_yaml(text, WHERE)
    except BadInput as error:
        assert "\n" not in str(error) and str(error).startswith(str(WHERE))
        return
    assert _plain(value)
    json.dumps(value, allow_nan=False)


@FUZZ
@given(DOCUMENTS)
def test_json_reader_gives_plain_values_or_one_line(text):
    try:
        value = parse_json(text, WHERE, "a file")
    except BadInput as error:
        assert "\n" not in str(error)
        return
    json.dumps(value, allow_nan=False)


@FUZZ
@given(st.binary(max_size=200))
def test_bytes_through_validate_exit_1_or_2(tmp_path, run_cli, data):
    card = tmp_path / "card.json"
    card.write_bytes(data)
    result = run_cli("validate", card)
    assert result.code in (1, 2), result.err
    assert "Traceback" not in result.err


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children,
                                                                                      max_size=4),
                    max_leaves=20))
def test_records_of_any_shape_validate_without_crashing(tmp_path, run_cli, value):
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"schema_version": "1.0", "model": value}))
    result = run_cli("validate", card)
    assert result.code == 1 and "Traceback" not in result.err
