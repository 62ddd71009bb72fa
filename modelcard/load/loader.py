"""Resolve a model spec (SPEC.md "Model specs") into a config and a module, refusing unsafe inputs.

Torch and transformers are imported here, inside the functions, so that commands that never load a
model (`--help`, `validate`, `render`, `check`) stay light.

Whose failure is it? When transformers fails to build a config or a model, or to load its weights:
1. By type, the input's (exit 2, one line): OSError (a file missing, unreadable or refused; huggingface_hub's
   misses), ValueError (a value transformers or torch refuses: a bad config value, a malformed file), EOFError
   and pickle.UnpicklingError (a truncated or refused pickle), safetensors' SafetensorError (a corrupt file),
   MemoryError (weights larger than this machine), and the validation errors of transformers' config classes.
2. By place, the input's too: any other exception raised in code that only reads the input: a config class
   (transformers' configuration_*.py reading the config's values), the file readers (torch.serialization,
   safetensors, pickle) or the model's own remote code (transformers_modules, trusted with --trust-remote-code).
3. Anything else is a bug, in transformers or here (an AttributeError, TypeError, KeyError or RuntimeError in
   the modeling or loading code, on a config that passed modelcard's checks): it propagates, and the CLI ends
   with exit 3 and the traceback, never with "cannot load the weights".
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput, ModelcardError
from modelcard.base.readers import decode_utf8, parse_json, read_bytes
from modelcard.base.resources import bundled_demo, demo_model_id
from modelcard.load.limits import check_dimensions
from modelcard.load.placement import Placement
from modelcard.load.remote_code import RemoteCode, plan_remote_code, remote_model_class
from modelcard.load.weights import check_safetensors, weight_findings

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
    placement: Placement = field(default_factory=Placement)  # a model larger than one device
    base_config: str | None = None  # a GGUF input: the original model's config.json, to compare the metadata with
    base_model: str | None = None  # a GGUF input: the float folder of the same model (the quantization-drift probe)


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
    findings: list = field(default_factory=list)  # what loading found wrong (a checkpoint that does not fit)
    device_map: str | None = None  # the device_map strategy it was loaded with
    gguf: list = field(default_factory=list)  # a GGUF input's headers (modelcard.load.gguf_file), one per part
    base_config: str | None = None  # a GGUF input: the original config.json its metadata is compared with
    base_model: str | None = None  # a GGUF input: the float folder the quantization-drift probe compares with
    tensor_parallel: int = 1  # ranks its weights are sharded over

    @property
    def model_id(self) -> str:
        if self.source == "demo":
            return demo_model_id(self.path) if self.path is not None else "modelcard/demo"
        if self.source == "module" or self.source == "hub":
            return self.spec
        if self.path is None:
            return self.spec
        name = self.path.name if self.path.name != "config.json" else ""
        return name or self.path.resolve().name or self.spec  # `generate .` inside the model's folder


def load_model(spec: str | None, options: LoadOptions | None = None) -> LoadedModel:
    options = options or LoadOptions()
    demo = bundled_demo(spec)
    if demo is not None:
        _no_base_options(options)
        check_options(options)
        return _load_directory(demo, spec or "demo", "demo", options)
    assert spec is not None, "bundled_demo gives the demo for no spec"
    path = Path(spec)
    if path.exists():
        from modelcard.load.gguf_model import gguf_parts

        parts = gguf_parts(path)
        if parts is not None:
            check_options(options)
            return _load_gguf(parts, spec, options)
        _no_base_options(options)
        if path.is_file() and not path.name.endswith(".json"):
            if path.name.endswith((".safetensors", *PICKLE_SUFFIXES)):
                raise BadInput(path, f"a weights file: give the model's folder instead ({path.parent})")
            raise BadInput(path, "not a model folder or a config.json")
        check_options(options)
        return _load_config_only(path, spec, options) if path.is_file() else _load_directory(path, spec, "local",
                                                                                              options)
    _no_base_options(options)
    if MODULE_SPEC.match(spec):
        check_options(options)
        return _load_module(spec, options)
    if HUB_ID.match(spec) and not spec.startswith((".", "/")) and not Path(spec).parent.is_dir():
        return _load_hub(spec, options)
    raise BadInput(spec, "no such file or folder, and not a Hub id (org/name) or a module:factory")


def check_options(options: LoadOptions) -> None:
    """--device and --dtype name something this torch has, before any model work (and after the model's path or
    id is known to lead somewhere, so that a wrong one fails before torch is imported)."""
    import torch

    try:
        device = torch.device(options.device)
    except (RuntimeError, ValueError, TypeError):
        raise BadInput("--device", f"{options.device!r} is not a device (cpu, cuda, cuda:1, mps, ...)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU build of torch" if torch.version.cuda is None else "no CUDA device is visible"
            raise BadInput("--device", f"{options.device!r}: CUDA is not available ({build}, {torch.__version__})")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadInput("--device", f"{options.device!r}: only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise BadInput("--device", f"{options.device!r}: MPS is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        backend = getattr(torch, device.type, None)
        if not (backend is not None and hasattr(backend, "is_available") and backend.is_available()):
            raise BadInput("--device", f"{options.device!r}: this torch has no usable {device.type} device")
    from modelcard.load.placement import check_placement

    check_placement(options.placement)
    if options.dtype is not None and options.dtype != "auto":
        value = getattr(torch, options.dtype, None) if options.dtype.isidentifier() else None
        if not isinstance(value, torch.dtype) or not value.is_floating_point:
            raise BadInput("--dtype", f"{options.dtype!r} is not a floating-point dtype "
                                      "(float32, bfloat16, float16, float64, auto)")


def read_config_dict(path: Path) -> dict:
    """The raw config.json, with our own clear errors for the common ways it is broken."""
    return read_config(path)[0]


def read_config(path: Path) -> tuple[dict, str]:
    """The raw config.json and the SHA-256 of the bytes that were read."""
    data = read_bytes(path, "config")
    config = parse_json(decode_utf8(data, path), path, "a config", special_floats=True)
    if not isinstance(config, dict):
        raise BadInput(path, "a config must be a JSON object")
    return _decode_special_floats(config), hashlib.sha256(data).hexdigest()


def _decode_special_floats(value: Any) -> Any:
    """transformers writes Infinity and NaN as {"__float__": "Infinity"} (Mamba-2's time_step_limit)."""
    if isinstance(value, dict):
        if set(value) == {"__float__"} and value["__float__"] in ("Infinity", "-Infinity", "NaN"):
            return float(value["__float__"].replace("Infinity", "inf"))
        return {key: _decode_special_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_special_floats(item) for item in value]
    return value


def _config_from_dict(data: dict, where: Path, options: LoadOptions) -> tuple[Any, RemoteCode | None]:
    """The transformers config, and what the config's `auto_map` (if any) decided (remote_code.py)."""
    model_type = data.get("model_type")
    if not model_type:
        raise BadInput(where, "has no model_type")
    if not isinstance(model_type, str):
        raise BadInput(where, "model_type must be text")
    architectures = data.get("architectures")
    if architectures is not None and not (isinstance(architectures, list)
                                          and all(isinstance(name, str) for name in architectures)):
        raise BadInput(where, "architectures must be a list of class names")
    check_dimensions(data, where)
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    built_in = model_type in CONFIG_MAPPING
    remote = plan_remote_code(data, where, built_in, options.trust_remote_code)
    if not built_in and remote is None:
        raise BadInput(where, f"unknown model_type {model_type!r} for transformers {_tf_version()}")
    try:
        if remote is not None and remote.use and "AutoConfig" in remote.auto_map:
            return AutoConfig.from_pretrained(str(where.parent), trust_remote_code=True,
                                              local_files_only=True), remote
        if not built_in:  # the remote model class with transformers' own config class
            from transformers import PretrainedConfig

            return PretrainedConfig(**data), remote
        return AutoConfig.for_model(**data), remote
    except ModelcardError:
        raise
    except Exception as error:
        if not is_input_fault(error):
            raise
        raise BadInput(where, f"transformers cannot build this config: {_one_line(error)}") from None


def is_input_fault(error: BaseException) -> bool:
    """Whether a failure of transformers (or torch, safetensors) on this input is the input's fault: the rule in
    the module's docstring, by the exception's type, then by where it was raised.

    Args:
        error: the exception caught around a call into transformers.

    Returns:
        True for exit 2 (the input's fault); False for a bug, which the caller re-raises (exit 3).
    """
    if isinstance(error, _input_error_types()):
        return True
    frame = _innermost_library_frame(error)
    return frame is not None and _READS_INPUT.search(frame.replace("\\", "/")) is not None


_READS_INPUT = re.compile(r"/transformers/(configuration_utils|models/[^/]+/configuration_[^/]+)\.py$"
                          r"|/torch/(serialization|_weights_only_unpickler)\.py$|/safetensors/|/pickle\.py$"
                          r"|/transformers_modules/")


def _input_error_types() -> tuple[type[BaseException], ...]:
    import pickle

    types: list[type[BaseException]] = [OSError, ValueError, EOFError, MemoryError, pickle.UnpicklingError]
    with contextlib.suppress(ImportError):
        from safetensors import SafetensorError

        types.append(SafetensorError)
    with contextlib.suppress(ImportError):  # a config value that transformers' config validators refuse
        from huggingface_hub.errors import StrictDataclassClassValidationError, StrictDataclassFieldValidationError

        types += [StrictDataclassClassValidationError, StrictDataclassFieldValidationError]
    return tuple(types)


def _innermost_library_frame(error: BaseException) -> str | None:
    """The file of the innermost frame that is not Python's standard library (a config class calling
    copy.deepcopy raised in the config class, not in copy.py)."""
    import sysconfig
    import traceback

    stdlib = sysconfig.get_paths()["stdlib"]
    files = [frame.filename for frame in traceback.extract_tb(error.__traceback__)]
    for filename in reversed(files):
        if not filename.startswith(stdlib) or "site-packages" in filename or filename.endswith("pickle.py"):
            return filename
    return files[-1] if files else None


def _tf_version() -> str:
    import transformers

    return transformers.__version__


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if "WeightsUnpickler error:" in text:  # torch's advice to load with weights_only=False is not ours to give
        reason = text.split("WeightsUnpickler error:", 1)[1].split(" Check the documentation", 1)[0].strip()
        text = f"weights_only refused the pickle ({reason or 'no reason given'}): not a file of plain tensors"
    return text[:300] + ("…" if len(text) > 300 else "")


def _load_config_only(config_path: Path, spec: str, options: LoadOptions) -> LoadedModel:
    data, sha256 = read_config(config_path)
    config, remote = _config_from_dict(data, config_path, options)
    if options.placement.tensor_parallel:
        raise BadInput(config_path, "--tp shards weights, and this model has none: a config-only model is probed on "
                                    "a small random-init twin on one device (leave out --tp)")
    model = build_on_meta(config, config_path, options, _remote_class(remote))
    return LoadedModel(
        spec=spec,
        source="config",
        model=model,
        config=config,
        path=config_path.parent if config_path.name == "config.json" else config_path,
        config_sha256=sha256,
        raw_config=data,
        findings=list(remote.findings) if remote else [],
    )


def _remote_class(remote: RemoteCode | None) -> Any:
    return remote_model_class(remote) if remote is not None and remote.use else None


def _load_directory(folder: Path, spec: str, source: str, options: LoadOptions) -> LoadedModel:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BadInput(folder, "no config.json in this folder")
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        raise BadInput(folder, f"cannot list the folder: {error.strerror or error}") from None
    safetensors = [p for p in entries if p.name.endswith(".safetensors")]
    pickles = [p for p in entries if p.name.endswith(PICKLE_SUFFIXES)]
    if not safetensors and not pickles:
        loaded = _load_config_only(config_path, spec, options)
        loaded.path = folder
        return loaded
    if not safetensors and not options.allow_pickle:
        raise BadInput(pickles[0], "pickle weights are refused; pass --allow-pickle to load them (weights_only)")
    for file in safetensors:
        check_safetensors(file)
    data, sha256 = read_config(config_path)
    config, remote = _config_from_dict(data, config_path, options)
    model, info = _from_pretrained(str(folder), config, config_path, options, use_safetensors=bool(safetensors),
                                   model_class=_remote_class(remote))
    findings, any_loaded = weight_findings(info, model)
    findings = [*(remote.findings if remote else []), *findings]
    return LoadedModel(
        spec=spec,
        source=source,
        model=model,
        config=model.config,
        path=folder,
        has_weights=any_loaded,
        config_sha256=sha256,
        raw_config=data,
        findings=findings,
        device_map=options.placement.device_map,
        tensor_parallel=tensor_parallel_size(model),
    )


DECLARED_LENGTHS = ("context_window", "sliding_window", "attention_chunk_size", "window")


def check_declared(declared: Any, spec: str) -> dict[str, Any]:
    """A custom module's `modelcard_declared`: a mapping whose lengths are whole numbers of tokens above 0 and
    whose dimensions are in range; one BadInput line naming the key otherwise."""
    if not isinstance(declared, dict):
        raise BadInput(spec, f"modelcard_declared must be a dict of claims (found {type(declared).__name__})")
    for key in DECLARED_LENGTHS:
        value = declared.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise BadInput(spec, f"modelcard_declared[{key!r}] must be a whole number of tokens above 0 "
                                 f"(found {value!r:.40})")
    check_dimensions({k: v for k, v in declared.items() if isinstance(k, str)}, spec)
    return dict(declared)


def _no_base_options(options: LoadOptions) -> None:
    """--base-config and --base-model compare a GGUF file with its original; any other input has none."""
    for flag, value in (("--base-config", options.base_config), ("--base-model", options.base_model)):
        if value:
            raise BadInput(flag, "compares a GGUF file with the model it was converted from; MODEL is not a GGUF file")


def _load_gguf(parts: list[Path], spec: str, options: LoadOptions) -> LoadedModel:
    """A GGUF file: the config transformers derives from its metadata, the weights dequantized to float, and the
    tokenizer from the file, handed to the probes as the model's own (`modelcard_tokenizer`)."""
    from modelcard.load.gguf_model import (
        gguf_config,
        gguf_tokenizer,
        gguf_weights,
        read_headers,
        single_file,
        transformers_architecture,
    )

    headers = read_headers(parts)
    architecture = transformers_architecture(headers[0])
    if options.base_model and not (Path(options.base_model) / "config.json").is_file():
        raise BadInput(options.base_model, "--base-model: not a model folder with config.json")
    base_config = Path(options.base_config) if options.base_config else None
    if base_config and not (base_config.is_file() or (base_config / "config.json").is_file()):
        raise BadInput(base_config, "--base-config: neither a config.json nor a folder with one")
    if options.placement.splits or options.trust_remote_code or options.revision:
        raise BadInput(parts[0], "a GGUF file loads on one device, with no remote code and no revision: drop "
                                 "--device-map, --tp, --trust-remote-code and --revision")
    with single_file(parts) as path:
        config = gguf_config(path, architecture)
        model = gguf_weights(path, config, options.dtype, options.attn_implementation)
        tokenizer, problem = gguf_tokenizer(path)
    model.to(options.device)
    findings = []
    if tokenizer is not None:
        model.modelcard_tokenizer = tokenizer
    else:
        findings.append({"severity": "warning", "pointer": "/model/gguf", "declared": "a tokenizer in the file",
                         "measured": problem, "message": f"transformers cannot build the tokenizer of "
                                                         f"{parts[0].name}, so the probes that write text cannot run"})
    return LoadedModel(spec=spec, source="gguf", model=model, config=model.config, path=parts[0], has_weights=True,
                       raw_config=config.to_dict(), findings=findings, gguf=headers,
                       base_config=options.base_config, base_model=options.base_model)


def _load_hub(repo_id: str, options: LoadOptions) -> LoadedModel:
    """A Hub id through huggingface_hub's cache. Offline (HF_HUB_OFFLINE, or the Hub cannot be reached within
    a second or two) only the cache is read, so a miss fails at once instead of after minutes of retries."""
    from huggingface_hub import hf_hub_download, list_repo_files, snapshot_download

    local_only = hub_offline()
    try:
        config_file = Path(hf_hub_download(repo_id, "config.json", revision=options.revision,
                                           local_files_only=local_only))
    except Exception as error:  # a miss, a refusal or a network failure: the id cannot be documented here
        hint = (" (offline: only the local Hub cache was read; fill it with `hf download` where the Hub is "
                "reachable, or pass a local folder)" if local_only else "")
        raise BadInput(repo_id, f"cannot get config.json from the Hub or its cache{hint}: "
                                f"{type(error).__name__}") from None
    check_options(options)  # torch is imported only once there is a model to load
    snapshot = config_file.parent
    remote = [p.name for p in snapshot.iterdir()]
    if not local_only:  # if the listing fails after the config came, what the cache holds is what there is
        with contextlib.suppress(Exception):
            remote = list_repo_files(repo_id, revision=options.revision)
    weights = any(name.endswith(".safetensors") for name in remote)
    if weights or options.trust_remote_code:  # the remote code, if trusted, must lie beside the config
        patterns = ["*.json", "*.txt", "*.model", *(["*.safetensors"] if weights else []),
                    *(["*.py"] if options.trust_remote_code else [])]
        try:
            snapshot = Path(snapshot_download(repo_id, revision=options.revision, local_files_only=local_only,
                                              allow_patterns=patterns))
        except Exception as error:
            raise BadInput(repo_id, f"cannot get the model's files from the Hub or its cache: "
                                    f"{type(error).__name__}") from None
        loaded = _load_directory(snapshot, repo_id, "hub", options)
    else:
        loaded = _load_config_only(config_file, repo_id, options)
    loaded.source = "hub"
    loaded.revision = options.revision or snapshot.name
    return loaded


def hub_offline(timeout_s: float = 1.5) -> bool:
    """HF_HUB_OFFLINE, or the Hub endpoint does not answer a TCP connect within `timeout_s`."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout_s):
            return False
    except OSError:
        return True


def _load_module(spec: str, options: LoadOptions) -> LoadedModel:
    import torch

    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as error:  # importing runs the module's code: any failure is the module's
        raise BadInput(spec, f"cannot import {module_name}: {type(error).__name__}: {_one_line(error)}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise BadInput(spec, f"{module_name} has no callable {factory_name}")
    try:
        model = factory()
    except (Exception, SystemExit) as error:  # the user's factory, not modelcard, failed
        raise BadInput(spec, f"{factory_name}() raised {type(error).__name__}: {_one_line(error)}") from None
    if not isinstance(model, torch.nn.Module):
        raise BadInput(spec, f"{factory_name}() returned {type(model).__name__}, not a torch.nn.Module")
    model.eval()
    declared = check_declared(getattr(model, "modelcard_declared", None) or {}, spec)
    has_weights = any(p.device.type != "meta" for p in model.parameters())
    return LoadedModel(spec=spec, source="module", model=model, config=getattr(model, "config", None),
                       has_weights=has_weights, declared=dict(declared))


def build_on_meta(config: Any, where: Path, options: LoadOptions, model_class: Any = None) -> Any:
    """Instantiate the architecture with no weights: every parameter on the meta device."""
    import torch

    model_class = model_class or model_class_for(config, options)
    kwargs = _attn_kwargs(options)
    if options.dtype and options.dtype != "auto":  # --dtype costs a config-only model as it would be loaded
        config.dtype = options.dtype
        kwargs["dtype"] = getattr(torch, options.dtype)
    try:
        with torch.device("meta"), _no_random_init():
            model = model_class._from_config(config, **kwargs)
    except ModelcardError:
        raise
    except Exception as error:
        if not is_input_fault(error):
            raise
        raise BadInput(where, f"transformers cannot build {config.model_type}: {_one_line(error)}") from None
    model.eval()
    return model


@contextlib.contextmanager
def _no_random_init() -> Iterator[None]:
    """torch's init functions as no-ops while a model is built on meta: a meta tensor has no values to draw,
    yet every nn.Linear would still run kaiming_uniform_ through the meta kernels (a third of DeepSeek-V3's
    build). Unlike transformers' no_init_weights, post_init still runs, so tied weights stay tied."""
    from transformers.initialization import TORCH_INIT_FUNCTIONS, TORCH_MODULES_TO_PATCH

    def keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return tensor

    saved = [(module, name, getattr(module, name))
             for module in filter(None, map(sys.modules.get, TORCH_MODULES_TO_PATCH))
             for name in TORCH_INIT_FUNCTIONS if hasattr(module, name)]
    try:
        for module, name, _ in saved:
            setattr(module, name, keep)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


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


def tensor_parallel_size(model: Any) -> int:
    """Ranks the model's weights are sharded over (1 when they are not)."""
    size = getattr(model, "tp_size", None)  # transformers' own: None when the model was not sharded
    return size if isinstance(size, int) and size > 1 else 1


def _attn_kwargs(options: LoadOptions) -> dict:
    return {"attn_implementation": options.attn_implementation} if options.attn_implementation else {}


def _from_pretrained(folder: str, config: Any, where: Path, options: LoadOptions, use_safetensors: bool,
                     model_class: Any = None) -> tuple[Any, dict[str, Any]]:
    """The model with its weights and transformers' loading info (missing, unexpected, mis-shaped tensors:
    loaded anyway, so the card can say what did not fit)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # modelcard shows its own progress
    model_class = model_class or model_class_for(config, options)
    kwargs: dict[str, Any] = dict(config=config, use_safetensors=use_safetensors, output_loading_info=True,
                                  ignore_mismatched_sizes=True, **_attn_kwargs(options))
    if options.dtype:
        kwargs["dtype"] = options.dtype
    if options.trust_remote_code:
        kwargs["trust_remote_code"] = True
    from modelcard.load.placement import placement_kwargs, placement_problem, quiet_placement

    placed = placement_kwargs(options.placement)
    kwargs.update(placed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the loading report goes into a finding, not onto stderr
    try:
        with quiet_placement() if placed else contextlib.nullcontext():
            model, info = model_class.from_pretrained(folder, **kwargs)
        if not placed:
            model.to(options.device)
    except ModelcardError:
        raise
    except MemoryError:
        raise BadInput(where.parent, "out of memory loading the weights") from None
    except Exception as error:
        problem = placement_problem(error, options.placement, model_class)
        if problem:
            raise BadInput(where.parent, problem) from None
        if not is_input_fault(error):  # a bug in transformers' loading code, not a corrupt or refused file
            raise
        raise BadInput(where.parent, f"cannot load the weights: {type(error).__name__}: {_one_line(error)}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval()
    return model, info
