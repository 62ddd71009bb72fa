"""Remote code (`auto_map` in a config), decided precisely.

transformers ignores `auto_map` unless remote code is trusted: a config whose `model_type` is built in
(Llama-2-chat, Phi-3, DeepSeek-V3, Nemotron-H publish one) is documented with the built-in implementation and
never runs the remote code, and the card says that the published code may differ. Only a `model_type` that
transformers does not know needs `--trust-remote-code`; with it, the code must lie beside the config (a
config-only folder with its `.py` files works), since modelcard downloads nothing it would then run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput

MODEL_KEYS = ("AutoModelForCausalLM", "AutoModel", "AutoModelForSeq2SeqLM", "AutoModelForMaskedLM")


@dataclass
class RemoteCode:
    """What a config's `auto_map` asks for, and what modelcard will do about it."""

    folder: Path
    auto_map: dict[str, Any]
    use: bool = False  # build the model from the remote code (trusted, and its files are here)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def references(self) -> list[str]:
        """`module.Class` references to code: configs and models (tokenizers are not built)."""
        refs: list[str] = []
        for key, value in self.auto_map.items():
            if key == "AutoConfig" or key.startswith("AutoModel"):
                refs.extend(item for item in (value if isinstance(value, list) else [value]) if isinstance(item, str))
        return refs

    def missing_files(self) -> list[str]:
        """The modules named by `auto_map` that are not beside the config (a `repo--module.Class` reference lives
        in another Hub repository, which modelcard does not fetch code from)."""
        missing = []
        for ref in self.references():
            if "--" in ref or "." not in ref:
                missing.append(ref)
                continue
            module = ref.rsplit(".", 1)[0]
            if not (self.folder / f"{module}.py").is_file():
                missing.append(f"{module}.py")
        return missing

    def model_reference(self) -> str | None:
        for key in MODEL_KEYS:
            value = self.auto_map.get(key)
            if isinstance(value, str):
                return value
        return next((v for k, v in self.auto_map.items() if k.startswith("AutoModel") and isinstance(v, str)), None)


def plan_remote_code(data: dict[str, Any], where: Path, built_in: bool, trusted: bool) -> RemoteCode | None:
    """None when the config names no remote code; otherwise what to build from, with the finding to add.
    Raises BadInput when the model cannot be documented without code that may not or cannot run."""
    auto_map = data.get("auto_map")
    if auto_map is None:
        return None
    model_type = data.get("model_type")
    if not isinstance(auto_map, dict):
        raise BadInput(where, "auto_map must be a mapping of Auto classes to module.Class references")
    remote = RemoteCode(folder=where.parent, auto_map=auto_map)
    missing = remote.missing_files()
    if not built_in:
        if not trusted:
            raise BadInput(where, f"model_type {model_type!r} is not built into transformers; its code is remote "
                                  "(auto_map): pass --trust-remote-code to run it")
        if missing or remote.model_reference() is None:
            what = ", ".join(missing) if missing else "an AutoModel class"
            raise BadInput(where, f"model_type {model_type!r} needs its remote code, and {what} is not beside "
                                  "the config; put the repository's .py files there")
        remote.use = True
    elif trusted and not missing and remote.model_reference() is not None:
        remote.use = True
    refs = ", ".join(remote.references()) or "nothing usable"
    if remote.use:
        remote.findings.append(_finding(
            "info", refs, "remote code",
            f"documented with the model's own remote code ({refs}), run because --trust-remote-code was given"))
    else:
        how = ("its files are not beside the config" if trusted else
               "put its .py files beside config.json and pass --trust-remote-code")
        remote.findings.append(_finding(
            "warning", refs, f"transformers' built-in {model_type}",
            f"the config names remote code ({refs}); modelcard documented transformers' built-in {model_type} "
            f"implementation and ran none of the remote code, which may differ. To document the remote code "
            f"instead: {how}"))
    return remote


def _finding(severity: str, declared: str, measured: str, message: str) -> dict[str, Any]:
    return {"severity": severity, "pointer": "/model/class_name", "declared": declared, "measured": measured,
            "message": message}


def remote_model_class(remote: RemoteCode) -> Any:
    """The model class from the remote code beside the config (only called when the user trusted it)."""
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    reference = remote.model_reference()
    assert reference is not None, "plan_remote_code uses remote code only where it names a model class"
    try:
        return get_class_from_dynamic_module(reference, str(remote.folder), local_files_only=True)
    except Exception as error:  # the remote code itself failed to import: the model's, not modelcard's, fault
        text = " ".join(str(error).split())[:300]
        raise BadInput(remote.folder, f"the remote code {reference} cannot be imported: {type(error).__name__}: "
                                      f"{text}") from None
