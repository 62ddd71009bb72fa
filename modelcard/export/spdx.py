"""The record as an SPDX 3.0.1 document (JSON-LD) whose root is an AI profile `ai_AIPackage`, built and
serialised with spdx-python-model (the `export` extra).

typeOfModel: the architecture class and transformers' model_type; hyperparameter: the parameter count, the
layers and the declared context window (SPDX has no field of their own); metric: the effective context and
every measured result (with its interval, where it has one); limitation: the known failure modes and the
findings; informationAboutApplication: the intended and out-of-scope use; informationAboutTraining: the
training-data disclosure; autonomyType: `no` (a model card documents a model, not a system that acts);
domain: the declared ones. The creation time is now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from typing import Any

from modelcard.export.measurements import measurements

SPEC_VERSION = "3.0.1"


def created_time() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


def _text(value: Any) -> str:
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def spdx_document(record: dict[str, Any]) -> str:
    """The SPDX 3.0.1 JSON-LD of a record.

    Args:
        record: a validated record.

    Returns:
        The document's text.
    """
    from spdx_python_model import v3_0_1 as spdx

    model, disclosures = record["model"], record.get("disclosures") or {}
    slug = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in model["id"])
    info = spdx.CreationInfo()
    info.specVersion = SPEC_VERSION
    info.created = created_time()
    tool = spdx.Organization(_id=f"urn:modelcard:agent:{record['generator']['name']}")
    tool.name = f"{record['generator']['name']} {record['generator']['version']}"
    tool.creationInfo = info
    info.createdBy.append(tool)
    package = spdx.ai_AIPackage(_id=f"urn:modelcard:model:{slug}")
    package.creationInfo = info
    package.name = model["id"]
    package.software_primaryPurpose = spdx.software_SoftwarePurpose.model
    package.software_downloadLocation = f"https://huggingface.co/{model['id']}" if model["source"] == "hub" \
        else "NOASSERTION"
    version = model.get("revision") or (model.get("config_sha256") or "")[:12]
    if version:
        package.software_packageVersion = version
    package.suppliedBy = tool
    package.releaseTime = info.created
    for kind in (record["architecture"].get("class"), model.get("model_type")):
        if kind:
            package.ai_typeOfModel.append(str(kind))
    for key, value in (("parameters", model.get("parameters")),
                       ("layers", record["architecture"].get("num_layers")),
                       ("context_window_declared", record["context_window"].get("declared"))):
        if value is not None:
            entry = spdx.DictionaryEntry()
            entry.key, entry.value = key, str(value)
            package.ai_hyperparameter.append(entry)
    effective = record["context_window"].get("effective")
    if effective is not None:
        entry = spdx.DictionaryEntry()
        entry.key, entry.value = "context_window_effective", str(effective)
        package.ai_metric.append(entry)
    for row in measurements(record):
        entry = spdx.DictionaryEntry()
        entry.key = row.name
        entry.value = f"{row.value:g}" + (f" [{row.interval[0]:g}, {row.interval[1]:g}]" if row.interval else "")
        package.ai_metric.append(entry)
    limits = [_text(item) for item in disclosures.get("known_failure_modes") or []]
    limits += [f"{f['severity']}: {f['message']}" for f in record.get("findings") or []]
    if limits:
        package.ai_limitation = "\n".join(limits)
    uses = [f"Intended use: {_text(disclosures['intended_use'])}" if disclosures.get("intended_use") else "",
            f"Out of scope: {_text(disclosures['out_of_scope_use'])}" if disclosures.get("out_of_scope_use") else ""]
    if any(uses):
        package.ai_informationAboutApplication = "\n".join(use for use in uses if use)
    if disclosures.get("training_data"):
        package.ai_informationAboutTraining = _text(disclosures["training_data"])
    package.ai_autonomyType = spdx.PresenceType.no
    for domain in disclosures.get("domain") or []:
        package.ai_domain.append(str(domain))
    document = spdx.SpdxDocument(_id=f"urn:modelcard:document:{slug}")
    document.creationInfo = info
    document.rootElement.append(package)
    document.element.append(package)
    document.element.append(tool)
    objects = spdx.SHACLObjectSet()
    for item in (tool, package, document):
        objects.add(item)
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, out, indent=2)
    return out.getvalue().decode("utf-8")
