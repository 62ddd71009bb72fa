"""Resolve a model spec (SPEC.md "Model specs") into a config and a module, refusing unsafe inputs.

Torch and transformers are imported here, inside the functions, so that commands that never load a
model (`--help`, `validate`, `render`, `check`) stay light.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.errors import BadInput
from modelcard.files import read_json_object
from modelcard.resources import demo_model_dir

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MODULE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class LoadOptions:
    device: str = "cpu"
    dtype: str | None = None
    attn_implementation: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    revision: str | None = None


@dataclass
class LoadedModel:
    """What the pipeline knows about the model it documents."""

    spec: str
    source: str  # hub | local | config | module | demo
    model: Any  # torch.nn.Module, on the meta device when there are no weights
    config: Any | None  # transformers PretrainedConfig; None for custom modules
    path: Path | None = None
    has_weights: bool = False
    revision: str | None = None
    config_sha256: str | None = None
    declared: dict = field(default_factory=dict)  # a custom module's `modelcard_declared`
    raw_config: dict = field(default_factory=dict)  # config.json as written, before transformers normalised it

    @property
    def model_id(self) -> str:
        if self.source == "demo":
            return "modelcard/demo-llama"
        if self.source == "module" or self.source == "hub":
            return self.spec
        return self.path.name if self.path is not None and self.path.name != "config.json" else self.spec


def load_model(spec: str | None, options: LoadOptions | None = None) -> LoadedModel:
    options = options or LoadOptions()
    if spec is None:
        return _load_directory(demo_model_dir(), "demo", "demo", options)
    path = Path(spec)
    if path.exists():
        if path.is_file():
            if path.name.endswith(".json"):
                return _load_config_only(path, spec, options)
            raise BadInput(path, "not a model folder or a config.json")
        return _load_directory(path, spec, "local", options)
    if MODULE_SPEC.match(spec):
        return _load_module(spec, options)
    if HUB_ID.match(spec) and not spec.startswith((".", "/")):
        return _load_hub(spec, options)
    raise BadInput(spec, "no such file or folder, and not a Hub id (org/name) or a module:factory")


def read_config_dict(path: Path) -> dict:
    """The raw config.json, with our own clear errors for the common ways it is broken."""
    return _decode_special_floats(read_json_object(path, "a config"))


def _decode_special_floats(value: Any) -> Any:
    """transformers writes Infinity and NaN as {"__float__": "Infinity"} (Mamba-2's time_step_limit)."""
    if isinstance(value, dict):
        if set(value) == {"__float__"} and value["__float__"] in ("Infinity", "-Infinity", "NaN"):
            return float(value["__float__"].replace("Infinity", "inf"))
        return {key: _decode_special_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_special_floats(item) for item in value]
    return value


def _config_from_dict(data: dict, where: Path, options: LoadOptions) -> Any:
    if "auto_map" in data and not options.trust_remote_code:
        raise BadInput(where, "asks for remote code (auto_map); pass --trust-remote-code to allow it")
    model_type = data.get("model_type")
    if not model_type:
        raise BadInput(where, "has no model_type")
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING and not options.trust_remote_code:
        raise BadInput(where, f"unknown model_type {model_type!r} for transformers {_tf_version()}")
    try:
        return AutoConfig.for_model(**data) if "auto_map" not in data else AutoConfig.from_pretrained(
            str(where.parent), trust_remote_code=True
        )
    except (ValueError, TypeError, KeyError, AttributeError, *_strict_errors()) as error:
        raise BadInput(where, f"transformers cannot build this config: {_one_line(error)}") from None


def _strict_errors() -> tuple[type[BaseException], ...]:
    """transformers 5 validates configs with huggingface_hub's strict dataclasses."""
    try:
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:
        return ()
    return (StrictDataclassError,)


def _tf_version() -> str:
    import transformers

    return transformers.__version__


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_config_only(config_path: Path, spec: str, options: LoadOptions) -> LoadedModel:
    data = read_config_dict(config_path)
    config = _config_from_dict(data, config_path, options)
    model = build_on_meta(config, config_path, options)
    return LoadedModel(
        spec=spec,
        source="config",
        model=model,
        config=config,
        path=config_path.parent if config_path.name == "config.json" else config_path,
        config_sha256=_sha256(config_path),
        raw_config=data,
    )


def _load_directory(folder: Path, spec: str, source: str, options: LoadOptions) -> LoadedModel:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BadInput(folder, "no config.json in this folder")
    safetensors = sorted(folder.glob("*.safetensors"))
    pickles = sorted(p for p in folder.iterdir() if p.name.endswith(PICKLE_SUFFIXES))
    if not safetensors and not pickles:
        loaded = _load_config_only(config_path, spec, options)
        loaded.path = folder
        return loaded
    if not safetensors and not options.allow_pickle:
        raise BadInput(pickles[0], "pickle weights are refused; pass --allow-pickle to load them (weights_only)")
    data = read_config_dict(config_path)
    config = _config_from_dict(data, config_path, options)
    model = _from_pretrained(str(folder), config, config_path, options, use_safetensors=bool(safetensors))
    return LoadedModel(
        spec=spec,
        source=source,
        model=model,
        config=model.config,
        path=folder,
        has_weights=True,
        config_sha256=_sha256(config_path),
        raw_config=data,
    )


def _load_hub(repo_id: str, options: LoadOptions) -> LoadedModel:
    from huggingface_hub import hf_hub_download, list_repo_files, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        config_file = Path(hf_hub_download(repo_id, "config.json", revision=options.revision))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise BadInput(repo_id, f"cannot get config.json from the Hub or its cache: {_one_line(error)}") from None
    snapshot = config_file.parent
    try:
        remote = list_repo_files(repo_id, revision=options.revision)
    except Exception:  # offline: what the cache holds is what there is
        remote = [p.name for p in snapshot.iterdir()]
    weights = [name for name in remote if name.endswith(".safetensors")]
    if weights:
        snapshot = Path(snapshot_download(repo_id, revision=options.revision,
                                          allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]))
    loaded = _load_directory(snapshot, repo_id, "hub", options) if weights else _load_config_only(
        config_file, repo_id, options
    )
    loaded.source = "hub"
    loaded.revision = options.revision or snapshot.name
    return loaded


def _load_module(spec: str, options: LoadOptions) -> LoadedModel:
    import torch

    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BadInput(spec, f"cannot import {module_name}: {_one_line(error)}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise BadInput(spec, f"{module_name} has no callable {factory_name}")
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise BadInput(spec, f"{factory_name}() returned {type(model).__name__}, not a torch.nn.Module")
    model.eval()
    declared = getattr(model, "modelcard_declared", None) or {}
    has_weights = any(p.device.type != "meta" for p in model.parameters())
    return LoadedModel(spec=spec, source="module", model=model, config=getattr(model, "config", None),
                       has_weights=has_weights, declared=dict(declared))


def build_on_meta(config: Any, where: Path, options: LoadOptions) -> Any:
    """Instantiate the architecture with no weights: every parameter on the meta device."""
    import torch

    model_class = model_class_for(config, options)
    try:
        with torch.device("meta"):
            model = model_class._from_config(config, **_attn_kwargs(options))
    except (ValueError, TypeError, KeyError, AttributeError, ImportError, RuntimeError, *_strict_errors()) as error:
        raise BadInput(where, f"transformers cannot build {config.model_type}: {_one_line(error)}") from None
    model.eval()
    return model


def model_class_for(config: Any, options: LoadOptions) -> Any:
    """The class named in `architectures` when transformers has it, else the base model class for the config:
    AutoModel's, then any auto mapping's, then the modeling module's own class for this config type."""
    import transformers

    for name in getattr(config, "architectures", None) or []:
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    from transformers import AutoModel

    try:
        if type(config) in AutoModel._model_mapping:
            return AutoModel._model_mapping[type(config)]
    except ValueError:  # the mapping names a class this transformers does not ship
        pass
    return _any_auto_class(config) or _own_class(config) or _no_class(config)


def _any_auto_class(config: Any) -> Any:
    from transformers.models.auto import modeling_auto

    for name in dir(modeling_auto):
        if name.startswith("MODEL_") and name.endswith("_MAPPING_NAMES"):
            class_name = getattr(modeling_auto, name).get(config.model_type)
            if isinstance(class_name, str):
                cls = _transformers_attr(class_name)
                if cls is not None and getattr(cls, "config_class", None) in (type(config), None):
                    return cls
    return None


def _own_class(config: Any) -> Any:
    """A PreTrainedModel in the config's own package whose config_class is this config's type."""
    import importlib

    package = type(config).__module__.rsplit(".", 1)[0]
    try:
        modeling = importlib.import_module(f"{package}.modeling_{package.rsplit('.', 1)[-1]}")
    except ImportError:
        return None
    candidates = [cls for cls in vars(modeling).values()
                  if isinstance(cls, type) and getattr(cls, "config_class", None) is type(config)
                  and hasattr(cls, "_from_config") and not cls.__name__.endswith("PreTrainedModel")]
    candidates.sort(key=lambda cls: (not cls.__name__.endswith("Model"), len(cls.__name__)))
    return candidates[0] if candidates else None


def _transformers_attr(name: str) -> Any:
    import transformers

    try:
        return getattr(transformers, name, None)
    except Exception:  # a lazy import that transformers itself cannot complete: no class to offer
        return None


def _no_class(config: Any) -> Any:
    raise BadInput(config.model_type, "transformers has no model class for this config")


def _attn_kwargs(options: LoadOptions) -> dict:
    return {"attn_implementation": options.attn_implementation} if options.attn_implementation else {}


def _from_pretrained(folder: str, config: Any, where: Path, options: LoadOptions, use_safetensors: bool) -> Any:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # modelcard shows its own progress
    model_class = model_class_for(config, options)
    kwargs: dict[str, Any] = dict(config=config, use_safetensors=use_safetensors, **_attn_kwargs(options))
    if options.dtype:
        kwargs["dtype"] = options.dtype
    if options.trust_remote_code:
        kwargs["trust_remote_code"] = True
    try:
        model = model_class.from_pretrained(folder, **kwargs)
    except (OSError, ValueError, RuntimeError) as error:
        raise BadInput(where.parent, f"cannot load the weights: {_one_line(error)}") from None
    model.to(options.device)
    model.eval()
    return model
