"""The pipeline end to end: load -> inspect -> probe -> assemble -> validate -> render."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelcard.base.errors import ModelcardError
from modelcard.load.loader import LoadOptions
from modelcard.probe.limits import DEFAULT_TIME_LIMIT_S
from modelcard.probe.suite import Suite


class RecordInvalid(ModelcardError):
    """modelcard built a record that breaks its own schema: a bug in modelcard, exit 3."""


STAGES = ("load", "inspect", "probe", "assemble", "validate", "render")


class Progress(Protocol):
    def stage(self, name: str) -> None: ...

    def detail(self, text: str) -> None: ...

    def finished(self, record: dict[str, Any], resumed: bool = False) -> None: ...

    def planned(self, estimate: Any) -> None: ...

    def cell(self, key: str, outcome: dict[str, Any], done: int, total: int) -> None: ...


class _Silent:
    def stage(self, name: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass

    def finished(self, record: dict[str, Any], resumed: bool = False) -> None:
        pass

    def planned(self, estimate: Any) -> None:
        pass

    def cell(self, key: str, outcome: dict[str, Any], done: int, total: int) -> None:
        pass


@dataclass(frozen=True)
class ProbeRequest:
    """What to probe and how; `modelcard probe` runs one, and `modelcard generate` runs one inside its card.

    Args:
        spec: the model (a folder, a config, a Hub id, `module:factory`; None for the bundled demo).
        suite: the suite, read and planned once by the command; None runs no probes (`--suite none`).
        seed: the seed of every probe input.
        load: how to load the model, its placement included.
        probe_timeout: seconds each probe may take; None or 0: no limit.
        prompt_format: the retrieval prompts' format: auto (chat when there is a template), base or chat.
        store: the folder each result is saved in as it finishes, so that a rerun resumes from it; None keeps
            nothing.
    """

    spec: str | None
    suite: Suite | None
    seed: int = 0
    load: LoadOptions = field(default_factory=LoadOptions)
    probe_timeout: float | None = DEFAULT_TIME_LIMIT_S
    prompt_format: str = "auto"
    store: Path | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """A card to write: the probing it runs, and where its files and disclosures are.

    Args:
        probing: the model and its probing (`ProbeRequest`).
        output: the folder the card's files go to.
        disclosures: the person's modelcard.yaml, if any.
        force: write into the model's own folder or through a symlinked output folder.
        previous: an earlier card of the model (a card.json or a generated README); the new card gets a
            "Changes since" section.
    """

    probing: ProbeRequest
    output: Path
    disclosures: Path | None = None
    force: bool = False
    previous: Path | None = None  # an earlier card: the new one says what changed since

    @property
    def spec(self) -> str | None:
        return self.probing.spec

    def for_model(self, spec: str | None, output: Path, disclosures: Path | None) -> GenerateRequest:
        """The same request for another model: its own folder and disclosures, and its own results folder when
        this one resumes."""
        store = output / "probes" if self.probing.store is not None else None
        probing = dataclasses.replace(self.probing, spec=spec, store=store)
        return dataclasses.replace(self, probing=probing, output=output, disclosures=disclosures)


def inspect_record(spec: str | None, options: LoadOptions) -> dict[str, Any]:
    """Static facts only, assembled into a (probe-less, disclosure-less) record."""
    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import load_model
    from modelcard.record.assemble import assemble

    loaded = load_model(spec, options)
    facts = inspect_loaded(loaded)
    return assemble(facts, probe_suite={"name": "none", "probes": 0, "note": "inspection only: no probes ran."},
                    findings=list(loaded.findings))


def generate(request: GenerateRequest, progress: Progress | None = None) -> dict[str, Any] | None:
    """Build, validate and write a card. Inputs are checked before any heavy work, and no file is written unless
    every one of them rendered.

    Args:
        request: the model, its probing, the output folder and the disclosures.
        progress: told of each stage and probe as it goes (a progress bar); None says nothing.

    Returns:
        The record. Under torchrun every rank loads the model and takes its share of the probes' cells; rank 0
        alone writes the card, and the other ranks get None.

    Raises:
        BadInput: bad input (exit 2), found before anything is written.
    """
    from modelcard.base.writers import write_files
    from modelcard.card.chart_data import CHART_FILE_NAMES
    from modelcard.card.output import CARD_FILES, check_output_folder, model_folders
    from modelcard.card.render import render_all
    from modelcard.gate.cardfile import read_valid_card
    from modelcard.gate.changelog import changelog
    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import load_model
    from modelcard.load.placement import note_layout
    from modelcard.probe.distributed import current, everyone, on_writer
    from modelcard.record.assemble import assemble
    from modelcard.record.disclosures import key_findings, read_disclosures

    progress = progress or _Silent()
    probing = request.probing
    comm = current()  # the torchrun ranks that share the suite (one process without torchrun)
    # a read-only or full output folder, or the model's own, is found first, before any model work
    on_writer(comm, lambda: check_output_folder(request.output, force=request.force,
                                                names=(*CARD_FILES, *CHART_FILE_NAMES),
                                                model_dirs=model_folders(request.spec)))
    disclosures = read_disclosures(request.disclosures) if request.disclosures else {}
    previous = read_valid_card(request.previous) if request.previous is not None else None
    suite = probing.suite
    progress.stage("load")
    load = rank_options(probing.load)
    loaded = everyone(comm, lambda: load_model(request.spec, load))
    progress.stage("inspect")
    facts = inspect_loaded(loaded)
    progress.stage("probe")
    measurements: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    if suite is None:
        suite_summary = {"name": "none", "probes": 0, "note": "probes were skipped (--suite none)."}
    elif not suite.probes:
        suite_summary = {"name": suite.name, "probes": 0, "note": f"the {suite.name} suite lists no probes."}
    else:
        from modelcard.probe.runner import run_suite

        placed: dict[str, Any] = {}
        result = run_suite(suite, lambda: probe_context(loaded, facts, probing.seed, load, comm, placed,
                                                        probing.prompt_format),
                           seed=probing.seed, folder=probing.store,
                           identity=probe_identity(probing) if probing.store is not None else None,
                           on_start=lambda key: progress.detail(f"probe {key}"),
                           on_done=lambda result, resumed: progress.finished(result["record"], resumed),
                           on_plan=progress.planned, on_cell=progress.cell,
                           time_limit_s=probing.probe_timeout, comm=comm)
        layout = gather_layout(comm, placed, loaded)
        if result is None:  # a rank other than 0: its cells are in; rank 0 writes the card
            return None
        result.layout = layout
        note_layout(result.results, layout)
        suite_summary, records, findings = result.summary(), result.records, result.findings
        measurements = {"measured": result.measured(), "derived": result.derived()}
    if not comm.is_writer:
        return None
    progress.stage("assemble")
    record = assemble(facts, probes=records, probe_suite=suite_summary, disclosures=disclosures,
                      findings=[*key_findings(disclosures, request.disclosures), *loaded.findings, *findings],
                      disclosures_path=request.disclosures, **measurements)
    if previous is not None:
        record["changes"] = changelog(previous, record)
    progress.stage("validate")
    check_record(record, request.disclosures)
    progress.stage("render")
    write_files(request.output, render_all(record), remove=CHART_FILE_NAMES)
    return record


def check_record(record: dict[str, Any], disclosures: Path | None) -> None:
    """A schema break where the person's file put a value (a disclosure, an override) is their input's fault:
    exit 2 naming the file; any other break is modelcard's (exit 3)."""
    from modelcard.base.errors import BadInput
    from modelcard.record.validate import validate_record

    errors = validate_record(record)
    declared = ["/disclosures", *record.get("inspection", {}).get("overridden", {})]
    for error in errors:
        if any(error.pointer == p or error.pointer.startswith(p + "/") for p in declared):
            raise BadInput(disclosures or "disclosures", f"{error.pointer}: the declared value does not fit the "
                                                         f"record ({_kind_of(error.message)})")
    if errors:
        raise RecordInvalid("modelcard built a record that breaks its schema (a bug): " + "; ".join(map(str, errors)))


def _kind_of(message: str) -> str:
    """jsonschema's message without the value it quotes (the file's content stays out of the error line)."""
    import re

    for pattern in (r"is not of type (.+)$", r"is not one of (.+)$", r"(is too long|is too short|is a required .+)$",
                    r"(is less than .+|is greater than .+)$"):
        match = re.search(pattern, message)
        if match:
            return ("expected " + match.group(1)) if "not" in pattern else match.group(1)
    return "it breaks the record schema"


def probe_identity(request: ProbeRequest) -> dict[str, Any]:
    """What a stored result belongs to; a rerun that differs in any of these starts afresh: the model's config,
    weights, tokenizer and chat template (and a Hub id's resolved commit), the options, seed and libraries. Each
    probe's own version is checked per result (modelcard.probe.store)."""
    import hashlib

    from modelcard import __version__
    from modelcard.base.readers import read_bytes
    from modelcard.base.resources import bundled_demo
    from modelcard.load.gguf_model import gguf_parts
    from modelcard.load.weights import weights_fingerprint
    from modelcard.probe.identity import source_identity

    load = request.load
    identity: dict[str, Any] = {"model": request.spec or "demo", "seed": request.seed, "device": load.device,
                                "dtype": load.dtype, "attn_implementation": load.attn_implementation,
                                "revision": load.revision, "modelcard": __version__, "libraries": _libraries(),
                                "prompt_format": request.prompt_format}
    if load.base_model or load.base_config:  # what a GGUF input is compared with
        identity["base"] = {"model": load.base_model, "config": load.base_config}
    if load.placement.splits:  # where the model sits changes what fits and how it rounds
        identity["placement"] = load.placement.identity()
    path = bundled_demo(request.spec) or Path(str(request.spec))
    parts = gguf_parts(path) if path.exists() else None
    if parts:
        identity["weights"] = weights_fingerprint(path, parts)  # tokenizer and template are in the file
        return identity
    config = path / "config.json" if path.is_dir() else path
    if config.is_file():
        identity["config_sha256"] = hashlib.sha256(read_bytes(config, "config")).hexdigest()
    if path.is_dir():
        identity["weights"] = weights_fingerprint(path)
    identity.update(source_identity(request.spec, load.revision))  # tokenizer, chat template, Hub commit
    return identity


def _libraries() -> dict[str, str]:
    """Versions that change what a probe measures (kernels, cache classes); read without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "transformers", "safetensors"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def rank_options(options: LoadOptions) -> LoadOptions:
    """The options a rank loads with: under torchrun `--device cuda` is this rank's own GPU."""
    from modelcard.base.runtime import rank_device

    return dataclasses.replace(options, device=rank_device(options.device))


def probe_context(loaded: Any, facts: Any, seed: int, load: LoadOptions, comm: Any, placed: dict[str, Any],
                  prompt_format: str = "auto") -> Any:
    """The probes' context of a loaded model (its twin for a config-only one); `placed["layout"]` says where the
    model the probes run on lives. A sharded model's ranks take every memory decision together."""
    from modelcard.load.placement import describe_layout
    from modelcard.probe.context import build_context

    ctx = build_context(loaded, facts, seed, load.attn_implementation, load.device, prompt_format)
    on_twin = ctx.adapter.twin
    placed["layout"] = describe_layout(ctx.adapter.model, None if on_twin else loaded.device_map,
                                       1 if on_twin else loaded.tensor_parallel)
    if loaded.tensor_parallel > 1 and not on_twin:
        ctx.adapter.agree, ctx.adapter.tp_size = comm.minimum, loaded.tensor_parallel
    return ctx


def gather_layout(comm: Any, placed: dict[str, Any], loaded: Any = None) -> dict[str, Any] | None:
    """Every rank's layout, merged, on every rank (None when no rank prepared a model: a complete rerun). A rank
    that loaded a model with weights but did not need to probe it still says where it is."""
    from modelcard.load.placement import describe_layout, merge_layouts

    mine = placed.get("layout")
    if mine is None and loaded is not None and loaded.has_weights:
        mine = describe_layout(loaded.model, loaded.device_map, loaded.tensor_parallel)
    return merge_layouts(comm.all_gather(mine), comm.world_size)


def probe(request: ProbeRequest, on_start: Any = None, on_done: Any = None, on_plan: Any = None,
          on_cell: Any = None) -> Any:
    """Run a suite on a model, saving each result in `request.store` as it finishes; a rerun of the same
    request resumes. The command has checked the output folder and read the suite.

    Args:
        request: the model and its probing; its suite must list probes.
        on_start: called with a probe's key as it starts.
        on_done: called with each result and whether it was resumed from the store.
        on_plan: called with the suite's time estimate before the first probe runs.
        on_cell: called as each cell finishes.

    Returns:
        The runner's SuiteResult. Under torchrun every rank calls this and shares the cells of the suite; rank 0
        alone writes, and the other ranks get None.
    """
    from modelcard.base.errors import BadInput
    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import check_options, load_model
    from modelcard.load.placement import note_layout
    from modelcard.probe.distributed import current
    from modelcard.probe.runner import run_suite

    comm = current()
    suite = request.suite
    if suite is None or not suite.probes:
        raise BadInput(suite.path or suite.name if suite else "none",
                       "this suite runs no probes; name one that does (quick, standard, long)")
    load = rank_options(request.load)
    check_options(load)  # a device or placement that cannot work is bad input before anything is written
    placed: dict[str, Any] = {}

    def make_context() -> Any:
        loaded = load_model(request.spec, load)
        return probe_context(loaded, inspect_loaded(loaded), request.seed, load, comm, placed, request.prompt_format)

    result = run_suite(suite, make_context, seed=request.seed, folder=request.store,
                       identity=probe_identity(request), on_start=on_start, on_done=on_done, on_plan=on_plan,
                       on_cell=on_cell, time_limit_s=request.probe_timeout, comm=comm)
    layout = gather_layout(comm, placed)
    if result is not None:
        result.layout = layout
        note_layout(result.results, layout)
    return result
