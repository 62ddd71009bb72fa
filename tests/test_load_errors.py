"""Whose failure it is (modelcard.load.loader's rule): the input's (exit 2, one line) or a bug in transformers or here
(exit 3, with the traceback), decided by the exception's type and where it was raised."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import save_tiny_llama

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_INTERNAL
from modelcard.load.loader import is_input_fault


def _one_line(result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip() and "generate:" not in line]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


@pytest.fixture
def weights_folder(tmp_path: Path) -> Path:
    """A tiny random Llama saved as transformers saves it (config.json + model.safetensors)."""
    return save_tiny_llama(tmp_path / "tiny")


def test_a_bug_deep_in_the_modeling_code_is_exit_3_with_its_traceback(weights_folder, run_cli, monkeypatch) -> None:
    from transformers.models.llama import modeling_llama

    def broken(self, *args, **kwargs):
        raise AttributeError("'LlamaConfig' object has no attribute 'planted_bug'")

    monkeypatch.setattr(modeling_llama.LlamaRotaryEmbedding, "__init__", broken)
    result = run_cli("inspect", weights_folder)
    assert result.code == EXIT_INTERNAL, result.err
    assert "Traceback" in result.err and "planted_bug" in result.err
    assert "cannot load the weights" not in result.err


def test_a_type_error_building_a_config_only_model_is_exit_3(write_config, run_cli, monkeypatch) -> None:
    from transformers.models.llama import modeling_llama

    def broken(self, *args, **kwargs):
        raise TypeError("unsupported operand type(s) for *: 'NoneType' and 'int'")

    monkeypatch.setattr(modeling_llama.LlamaMLP, "__init__", broken)
    result = run_cli("inspect", write_config())
    assert result.code == EXIT_INTERNAL, result.err
    assert "Traceback" in result.err and "transformers cannot build" not in result.err


def test_a_corrupt_safetensors_file_is_exit_2_in_one_line(weights_folder, run_cli) -> None:
    weights = weights_folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # cut in the middle of the data
    result = run_cli("inspect", weights_folder)
    assert result.code == EXIT_BAD_INPUT, result.err
    assert "model.safetensors" in _one_line(result) or "tiny" in _one_line(result)


def test_a_corrupt_file_that_reaches_transformers_loader_is_exit_2(weights_folder, run_cli, monkeypatch) -> None:
    """Past modelcard's own header check, the error safetensors itself raises (SafetensorError) is the input's."""
    import modelcard.load.loader

    monkeypatch.setattr(modelcard.load.loader, "check_safetensors", lambda path: None)
    weights = weights_folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:16] = b"\x00" * 8  # the header's JSON no longer parses
    weights.write_bytes(bytes(data))
    result = run_cli("inspect", weights_folder)
    assert result.code == EXIT_BAD_INPUT, result.err
    assert "cannot load the weights" in _one_line(result)


def test_a_bad_config_value_is_exit_2_where_the_config_class_raises(write_config, run_cli) -> None:
    """layer_types: 5 makes transformers' own config code raise TypeError: a value of the input, not a bug."""
    result = run_cli("inspect", write_config(layer_types=5))
    assert result.code == EXIT_BAD_INPUT, result.err
    assert "transformers cannot build this config" in _one_line(result)


def test_the_rule_by_type_and_by_place() -> None:
    import pickle

    from transformers import AutoConfig

    for error in (OSError("unreadable"), ValueError("bad value"), EOFError(), pickle.UnpicklingError("refused")):
        assert is_input_fault(error)
    try:
        AutoConfig.for_model("llama", layer_types=5)
    except TypeError as error:  # raised inside transformers' configuration_utils.py
        assert is_input_fault(error)
    try:
        raise AttributeError("a bug")
    except AttributeError as error:  # raised here, in no reader of the input
        assert not is_input_fault(error)
    assert not is_input_fault(KeyError("full_attention"))  # no traceback: no place that reads the input


def test_query_heads_that_do_not_group_over_key_value_heads_are_exit_2(write_config, run_cli) -> None:
    result = run_cli("inspect", write_config(num_attention_heads=4, num_key_value_heads=3))
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "num_attention_heads = 4 is not a multiple of num_key_value_heads = 3" in result.err


def test_a_weights_file_names_its_folder(run_cli, tmp_path) -> None:
    weights = tmp_path / "model" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"\0" * 16)
    result = run_cli("inspect", weights)
    assert result.code == 2 and f"give the model's folder instead ({weights.parent})" in result.err


def test_a_missing_path_under_a_real_folder_fails_at_once_without_the_hub(run_cli, tmp_path, monkeypatch) -> None:
    import modelcard.load.loader as loader

    monkeypatch.setattr(loader, "_load_hub", lambda *a: pytest.fail("a local path was taken for a Hub id"))
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    result = run_cli("inspect", "models/typo")
    assert result.code == 2 and "no such file or folder" in result.err
