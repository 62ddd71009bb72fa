"""The pipeline end to end: load -> inspect -> probe -> assemble -> validate -> render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcard.errors import ModelcardError
from modelcard.load import LoadOptions


class RecordInvalid(ModelcardError):
    """modelcard built a record that breaks its own schema: a bug in modelcard, exit 3."""


@dataclass
class GenerateRequest:
    spec: str | None
    output: Path
    suite: str = "quick"
    disclosures: Path | None = None
    seed: int = 0
    load: LoadOptions | None = None


def inspect_record(spec: str | None, options: LoadOptions) -> dict[str, Any]:
    """Static facts only, assembled into a (probe-less, disclosure-less) record."""
    from modelcard.assemble import assemble
    from modelcard.inspect import inspect_loaded
    from modelcard.load import load_model

    facts = inspect_loaded(load_model(spec, options))
    return assemble(facts, probe_suite={"name": "none", "probes": 0, "note": "inspection only: no probes ran."})


def generate(request: GenerateRequest, progress: Any = None) -> dict[str, Any]:
    """Build, validate and write the card; returns the record. Inputs are checked before any heavy work,
    and no file is written unless every one of them rendered."""
    from modelcard.assemble import assemble
    from modelcard.atomic import write_files
    from modelcard.disclosures import read_disclosures
    from modelcard.inspect import inspect_loaded
    from modelcard.load import load_model
    from modelcard.probe.suite import resolve_suite
    from modelcard.render import render_all
    from modelcard.validate import validate_record

    step = progress or (lambda label: None)
    disclosures = read_disclosures(request.disclosures) if request.disclosures else {}
    suite = resolve_suite(request.suite)
    step("load")
    loaded = load_model(request.spec, request.load or LoadOptions())
    step("inspect")
    facts = inspect_loaded(loaded)
    step("probe")
    if suite is None:
        suite_summary = {"name": "none", "probes": 0, "note": "probes were skipped (--suite none)."}
    elif not suite.probes:
        suite_summary = {"name": suite.name, "probes": 0,
                         "note": f"the {suite.name} suite lists no probes yet, so nothing was measured."}
    else:  # the probe runner arrives with the probes issue; a suite that names probes is not silently skipped
        from modelcard.errors import BadInput

        raise BadInput(suite.path, "this modelcard has no probe runner yet; use --suite none")
    step("assemble")
    record = assemble(facts, probes=[], probe_suite=suite_summary, disclosures=disclosures,
                      disclosures_path=request.disclosures)
    step("validate")
    errors = validate_record(record)
    if errors:
        raise RecordInvalid("modelcard built a record that breaks its schema (a bug): " + "; ".join(map(str, errors)))
    step("render")
    write_files(request.output, render_all(record))
    return record
