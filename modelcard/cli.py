"""The `modelcard` command line. `main(argv)` is a plain function; errors are translated here, once."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from modelcard import __version__
from modelcard.base.errors import (
    EXIT_BAD_INPUT,
    EXIT_FINDING,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Failed,
    ModelcardError,
)
from modelcard.probe.limits import DEFAULT_TIME_LIMIT_S
from modelcard.record.disclosures import KNOWN_KEYS

FORMAT = click.Choice(["text", "json"])
FORMAT_HELP = "text for people; json (on stdout, nothing else there) for tools."
EXPORT_FORMATS = ("cyclonedx", "spdx", "eu-gpai", "hub-eval-results")  # modelcard.export.FORMATS
RESUME_HINT = (" (probe keeps each finished probe in its -o folder, as generate does with --resume: the same "
               "command again picks up where this one stopped)")
PROBE_MODULE_HELP = ("Import this Python file or module first, so that the probes it defines can run (repeatable); "
                     "a suite YAML's probe_modules run only when named here too.")
PROMPT_FORMAT_HELP = ("Format of the retrieval probes' prompts: chat wraps them in the model's chat template, base "
                      "does not; auto is chat when the tokenizer has a chat template. The BOS is added when the "
                      "tokenizer adds one.")
DISCLOSURES_HELP = ("Disclosures YAML (default: modelcard.yaml beside the model, else in the working folder). Keys: "
                    f"{', '.join(KNOWN_KEYS)}; any other key becomes a section of its own.")
UPDATE_HELP = ("Also refresh the generated part of this existing README.md (between <!-- modelcard:begin --> and "
               "<!-- modelcard:end -->, appended when it has none), merge its front matter, and write the charts "
               "beside it; the author's own text is kept byte for byte.")


def model_options(command: Callable) -> Callable:
    """Options every command that loads a model takes."""
    options = [
        click.option("--device", default="cpu", show_default=True, help="Device to load weights on."),
        click.option("--dtype", default=None, help="Load weights as this dtype (float32, bfloat16, ...)."),
        click.option("--attn-implementation", default=None,
                     help="Attention kernel: eager, sdpa, flex_attention, flash_attention_2, ..."),
        click.option("--trust-remote-code", is_flag=True, help="Allow a config's auto_map to run remote code."),
        click.option("--allow-pickle", is_flag=True, help="Allow *.bin/*.pt weights (loaded with weights_only)."),
        click.option("--revision", default=None, help="Hub revision."),
        # A model larger than one device (modelcard/load/placement.py): transformers' own ways to split it.
        click.option("--device-map", default=None, metavar="auto|balanced|balanced_low_0|sequential",
                     help="Spread the layers over this machine's GPUs with transformers' device_map."),
        click.option("--max-memory", multiple=True, metavar="DEVICE=SIZE",
                     help="With --device-map: at most SIZE on DEVICE (0, 1, ..., cpu), e.g. 0=70GiB; repeatable."),
        click.option("--offload-cpu", is_flag=True, help="With --device-map: layers that do not fit the GPUs may "
                                                         "go to CPU memory."),
        click.option("--offload-folder", default=None, metavar="DIR",
                     help="With --device-map: layers that fit nowhere else may go to disk, in DIR."),
        click.option("--base-config", default=None, metavar="PATH",
                     help="For a GGUF MODEL: the original model's config.json (or its folder); each disagreement "
                          "with the file's metadata or chat template is a finding."),
        click.option("--base-model", default=None, metavar="PATH",
                     help="For a GGUF MODEL: the float transformers folder of the same model; the "
                          "quantization-drift probe compares the two."),
        click.option("--tp", "tensor_parallel", is_flag=True,
                     help="Under torchrun: shard the model across the ranks with transformers' tensor-parallel "
                          "plan (tp_plan=auto); every rank runs every probe together."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_options(kwargs: dict[str, Any]):
    from modelcard.load.loader import LoadOptions
    from modelcard.load.placement import Placement

    placement = Placement.parse(device_map=kwargs.pop("device_map"), max_memory=kwargs.pop("max_memory"),
                                offload_cpu=kwargs.pop("offload_cpu"), offload_folder=kwargs.pop("offload_folder"),
                                tensor_parallel=kwargs.pop("tensor_parallel"))
    return LoadOptions(
        device=kwargs.pop("device"), dtype=kwargs.pop("dtype"), attn_implementation=kwargs.pop("attn_implementation"),
        trust_remote_code=kwargs.pop("trust_remote_code"), allow_pickle=kwargs.pop("allow_pickle"),
        revision=kwargs.pop("revision"), placement=placement, base_config=kwargs.pop("base_config"),
        base_model=kwargs.pop("base_model"),
    )


@contextlib.contextmanager
def _ranks(options: Any) -> Iterator[Any]:
    """The torchrun ranks of a command (modelcard.probe.distributed; one process without torchrun). On ranks
    other than 0 an error ends the command quietly with its exit code: rank 0 says why, once."""
    from modelcard.probe.distributed import session

    with session(options.device, options.placement.tensor_parallel) as comm:
        if comm.is_writer:
            yield comm
            return
        try:
            yield comm
        except ModelcardError as error:
            raise click.exceptions.Exit(error.exit_code) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelcard")
def cli() -> None:
    """Document a transformer model from the model itself: inspect it, probe it, render its card."""


@cli.command()
@click.argument("model", required=False)
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True, help=FORMAT_HELP)
@model_options
def inspect(model: str | None, fmt: str, **kwargs: Any) -> None:
    """Static facts of MODEL (default: the bundled demo model), without running it."""
    from modelcard.pipeline import inspect_record

    record = inspect_record(model, load_options(kwargs))
    if fmt == "json":  # a whole record (no probes, no disclosures): `validate` and `render` take it
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    from modelcard.card.present import layer_runs, present, visible

    shown = present(record)
    click.echo(f"{shown['title']} ({record['model']['class_name']})")
    width = max(len(fact["name"]) for fact in shown["facts"])
    for fact in shown["facts"]:
        click.echo(f"  {fact['name']:<{width}}  {fact['value']}")
    click.echo("  layers:")
    for run in layer_runs(record["attention"]["layers"]):
        click.echo(f"    {run['layers']:>7}  {run['stack']:<8} {run['kind']:<12} window {run['window']}")
    for item in record["inspection"]["ignored_config_keys"]:
        click.echo(f"  ignored config key {visible(item['key'])}={visible(item['value'])}: {visible(item['reason'])}")
    for item in record["findings"]:
        click.echo(f"  {item['severity']}: {item['pointer']}: {visible(item['message'])}")


@cli.command()
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("card"),
              show_default=True, help="Folder for card.json, README.md and card.html (several models: a folder "
                                      "each inside it, and summary.md).")
@click.option("--force", is_flag=True, help="Write into the model's own folder or through a symlinked -o folder.")
@click.option("--suite", default="quick", show_default=True, help="Probe suite name or YAML path; none skips.")
@click.option("--disclosures", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=DISCLOSURES_HELP)
@click.option("--update", "update", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="README", help=UPDATE_HELP)
@click.option("--previous", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OLD_CARD",
              help="An earlier card of this model (card.json or a generated README.md): the new card says what "
                   "changed since, regressions first.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every probe input.")
@click.option("--probe-timeout", type=click.FloatRange(min=0), default=DEFAULT_TIME_LIMIT_S, show_default=True,
              metavar="SECONDS", help="Time limit of each probe (0: none); a probe past it is an error.")
@click.option("--models-from", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also document every model FILE lists (one model spec a line, # comments).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Several models: how many to document at once, each in a process of its own.")
@click.option("--resume", is_flag=True, help="Keep the probe results in OUTPUT/probes and resume from them on a "
                                             "rerun (always so with several models).")
@click.option("--prompt-format", type=click.Choice(["auto", "base", "chat"]), default="auto", show_default=True,
              help=PROMPT_FORMAT_HELP)
@click.option("--probe-module", "probe_modules", multiple=True, metavar="FILE|MODULE", help=PROBE_MODULE_HELP)
@model_options
def generate(models: tuple[str, ...], output: Path, force: bool, suite: str, disclosures: Path | None,
             update: Path | None, previous: Path | None, seed: int, probe_timeout: float, models_from: Path | None,
             jobs: int, resume: bool, prompt_format: str, probe_modules: tuple[str, ...], **kwargs: Any) -> None:
    """Inspect, probe and document MODEL (default: the bundled demo model). Several models (or --models-from)
    get a folder each under -o and one summary; the exit status is the worst of theirs."""
    from modelcard.base.progress import StageBar
    from modelcard.pipeline import STAGES, GenerateRequest, ProbeRequest, generate

    load = load_options(kwargs)
    resolved = _suite(suite, probe_modules, allow_none=True)
    several = models_from is not None or len(models) > 1
    model = None if several or not models else models[0]
    probing = ProbeRequest(spec=model, suite=resolved, seed=seed, load=load, probe_timeout=probe_timeout,
                           prompt_format=prompt_format, store=output / "probes" if resume or several else None)
    if several:
        from modelcard.base.errors import BadInput

        for flag, given in (("--previous", previous), ("--base-model", load.base_model),
                            ("--base-config", load.base_config)):
            if given:
                raise BadInput(flag, "belongs to one model: give one model")
        _generate_many(list(models), models_from, output, jobs, update, disclosures, click.get_current_context(),
                       GenerateRequest(probing=probing, output=output, force=force))
        return
    readme = _open_readme(update)
    request = GenerateRequest(probing=probing, output=output, disclosures=disclosures or _found_disclosures(model),
                              force=force, previous=previous)
    with _ranks(load) as comm:
        shown = StageBar(STAGES, desc="generate") if comm.is_writer else contextlib.nullcontext(None)
        with shown as progress:
            record = generate(request, progress=progress)
    if record is None:  # a rank other than 0 under torchrun: rank 0 writes the card
        return
    _say_card_written(output, record, readme)
    _fail_on_bad_news(record["probes"], record["findings"], output)


# The options a model's own `generate` process is given when several models are documented with --jobs.
CHILD_OPTIONS = ("force", "suite", "disclosures", "seed", "probe_timeout", "prompt_format", "probe_modules", "device",
                 "dtype",
                 "attn_implementation", "trust_remote_code", "allow_pickle", "revision", "device_map", "max_memory",
                 "offload_cpu", "offload_folder", "tensor_parallel")


def _child_arguments(context: click.Context) -> list[str]:
    """The command line of one model's `generate`, from the options given to this one."""
    flags = {option.name: option.opts for option in context.command.params if isinstance(option, click.Option)}
    argv: list[str] = []
    for name in CHILD_OPTIONS:
        value = context.params.get(name)
        flag = max(flags[name], key=len)
        if value is None or value is False or value == ():
            continue
        if value is True:
            argv.append(flag)
        else:
            for item in value if isinstance(value, tuple) else [value]:
                argv += [flag, str(item)]
    return argv


def _generate_many(models: list[str], models_from: Path | None, output: Path, jobs: int, update: Path | None,
                   disclosures: Path | None, context: click.Context, template: Any) -> None:
    """Several models: a folder each under `output`, in processes of their own (`--jobs` at a time), or under
    torchrun one after another in the ranks; then OUTPUT/summary.md and .json, and the worst exit status."""
    from modelcard import batch
    from modelcard.base.errors import BadInput
    from modelcard.pipeline import generate

    if update is not None:
        raise BadInput("--update", "refreshes one README.md: give one model")
    specs: list[str | None] = [*models, *(batch.read_model_list(models_from) if models_from else [])]
    planned = batch.plan_jobs(specs, output)

    def finished(row: Any) -> None:
        click.echo(f"  exit {row.exit_code}  {row.model} -> {row.folder} ({row.seconds:.1f} s)"
                   f"{': ' + row.reason if row.reason else ''}", err=True)

    def one(job: Any) -> Any:
        return generate(template.for_model(job.spec, job.folder, disclosures or _found_disclosures(job.spec)))

    with _ranks(template.probing.load) as comm:
        if comm.world_size > 1:
            if jobs > 1:
                raise BadInput("--jobs", "under torchrun the ranks already share each model's probes: leave out "
                                         "--jobs (the models run one after another), or run without torchrun")
            rows = batch.run_in_ranks(planned, one, comm.is_writer, on_done=finished)
        else:
            rows = batch.run_in_processes(planned, _child_arguments(context), jobs, output / "logs",
                                          on_done=finished)
    if not comm.is_writer:
        return
    data = batch.summary(rows, jobs, comm.world_size)
    written = batch.write_summary(output, data)
    click.echo(batch.summary_table(data), err=True, nl=False)
    click.echo(f"wrote {', '.join(map(str, written))}", err=True)
    batch.verdict(data, output)


def _found_disclosures(model: str | None) -> Path | None:
    """modelcard.yaml beside the model, else in the working folder; the path used is said."""
    from modelcard.card.output import model_folders
    from modelcard.record.disclosures import find_disclosures

    found = find_disclosures(model_folders(model))
    if found is not None:
        click.echo(f"modelcard: disclosures from {found}", err=True)
    return found


def _open_readme(path: Path | None) -> Any:
    if path is None:
        return None
    from modelcard.card.readme_update import open_readme

    return open_readme(path)


def _say_card_written(output: Path | None, record: dict[str, Any], readme: Any) -> None:
    """Warnings about the disclosures file, where the card is, its counts, and the README updated."""
    from modelcard.base.progress import counts, written
    from modelcard.card.chart_data import chart_specs
    from modelcard.card.present import visible

    for item in record["findings"]:
        disclosure = item["pointer"] == "/disclosures" or item["pointer"].startswith("/disclosures/")
        if disclosure and "probe" not in item and item["severity"] != "info":
            click.echo(f"modelcard: {item['severity']}: {visible(item['message'])}", err=True)
    charts = [spec.file_name for spec in chart_specs(record)]
    if output is not None:
        click.echo(written(output, ["card.json", "README.md", "card.html", *charts]), err=True)
    if readme is not None:
        _update_readme(readme, record)
    click.echo(counts(record), err=True)


def _stdin_record() -> dict[str, Any]:
    """A record piped in, with the limits a card.json file has (size, nesting, a newer major format refused)."""
    from modelcard.base.errors import BadInput
    from modelcard.base.readers import SIZE_CAPS, decode_utf8, parse_json
    from modelcard.record.document import check_version

    cap = SIZE_CAPS["card"]
    data = sys.stdin.buffer.read(cap + 1)
    if len(data) > cap:
        raise BadInput("-", f"the record on stdin is larger than a card may be ({cap // (1024 * 1024)} MiB)")
    record = parse_json(decode_utf8(data, Path("-")), Path("-"), "a card record")
    if not isinstance(record, dict):
        raise BadInput("-", "a card record must be a JSON object")
    check_version(record, "-")
    return record


def _refuse_foreign_readme(path: Path) -> None:
    """Rendering beside a card replaces the README.md there: only one that modelcard wrote."""
    import os

    from modelcard.base.errors import BadInput
    from modelcard.base.readers import decode_utf8, read_bytes
    from modelcard.card.render import BEGIN_MARKER, embedded_record_text

    if not os.path.lexists(path):
        return
    text = decode_utf8(read_bytes(path, "card"), path)
    if BEGIN_MARKER not in text and embedded_record_text(text) is None:
        raise BadInput(path, "was not written by modelcard and would be replaced; pass -o FOLDER, or "
                             "--update to refresh its generated part")


def _update_readme(readme: Any, record: dict[str, Any]) -> None:
    from modelcard.card.present import visible
    from modelcard.card.readme_update import merged_metadata, replaced_metadata, update_readme

    metadata = merged_metadata(readme, record)
    for key, theirs, ours in replaced_metadata(readme, metadata):
        click.echo(f"modelcard: note: {readme.path.name}'s {key}: {visible(theirs)} is replaced by the card's "
                   f"{visible(ours)} (from the disclosures)", err=True)
    paths = update_readme(readme, record, metadata)
    click.echo(f"updated {readme.path}" + (f" and wrote {', '.join(p.name for p in paths[1:])} beside it"
                                           if len(paths) > 1 else ""), err=True)


@cli.command()
@click.argument("model", required=False)
@click.option("--suite", default="quick", show_default=True,
              help="Probe suite name (quick, standard, long) or YAML path.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("probe-results"),
              show_default=True, help="Folder for the results; a rerun of the same command resumes from it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every probe input.")
@click.option("--probe-timeout", type=click.FloatRange(min=0), default=DEFAULT_TIME_LIMIT_S, show_default=True,
              metavar="SECONDS", help="Time limit of each probe (0: none); a probe past it is an error.")
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True, help=FORMAT_HELP)
@click.option("--prompt-format", type=click.Choice(["auto", "base", "chat"]), default="auto", show_default=True,
              help=PROMPT_FORMAT_HELP)
@click.option("--probe-module", "probe_modules", multiple=True, metavar="FILE|MODULE", help=PROBE_MODULE_HELP)
@model_options
def probe(model: str | None, suite: str, output: Path, seed: int, probe_timeout: float, fmt: str,
          prompt_format: str, probe_modules: tuple[str, ...], **kwargs: Any) -> None:
    """Run a probe suite on MODEL (default: the bundled demo model) and save each result as it finishes.
    Exits 1 when a probe fails or errs, or a finding is an error."""
    from modelcard.base.progress import ProbeBar
    from modelcard.base.writers import write_text
    from modelcard.card.output import check_output_folder
    from modelcard.pipeline import ProbeRequest, probe
    from modelcard.probe.distributed import on_writer

    load = load_options(kwargs)
    with _ranks(load) as comm:
        # before the suite is read; under torchrun rank 0 alone touches -o
        on_writer(comm, lambda: check_output_folder(output, can_force=False))
        request = ProbeRequest(spec=model, suite=_suite(suite, probe_modules, allow_none=False), seed=seed,
                               load=load, probe_timeout=probe_timeout, prompt_format=prompt_format,
                               store=output / "probes")
        total = len(request.suite.planned) if request.suite is not None else 0
        quiet = None if comm.is_writer else True
        with ProbeBar(total, disable=quiet) as bar:  # off a terminal (a CI log): a line per finished cell and probe
            result = probe(request, on_start=bar.started, on_done=bar.done, on_plan=bar.planned, on_cell=bar.cell)
            listed = bar.listed
    if result is None:  # a rank other than 0 under torchrun: rank 0 reports
        return
    report = {"probe_suite": result.summary(), "probes": result.records, "findings": result.findings,
              "resumed": result.resumed, "resumed_cells": result.resumed_cells}
    write_text(output / "probes.json", json.dumps(report, indent=2) + "\n")
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        _print_probe_report(report, listed)
    _fail_on_bad_news(result.records, result.findings, output)


def _suite(name_or_path: str, probe_modules: tuple[str, ...], allow_none: bool) -> Any:
    """The suite the command names, read and planned once, after the probe modules it may need are imported."""
    from modelcard.probe.plugins import import_probe_modules
    from modelcard.probe.suite import resolve_suite

    trusted = import_probe_modules(probe_modules)
    return resolve_suite(name_or_path, allow_none=allow_none, trusted_modules=trusted)


def _fail_on_bad_news(probes: list[dict[str, Any]], findings: list[dict[str, Any]], output: Path) -> None:
    """Exit 1 (after writing) when a probe failed or erred or a finding is an error: a CI step must notice."""
    failed = [r["id"] for r in probes if r["status"] in ("fail", "error")]
    errors = [f for f in findings if f["severity"] == "error"]
    if failed or errors:
        from modelcard.base.wording import plural

        raise Failed(f"{plural(len(failed), 'probe')} failed or erred, {plural(len(errors), 'error finding')}; "
                     f"see {output}")


def _print_probe_report(report: dict[str, Any], listed: bool = False) -> None:
    """The results on stdout; each probe's line only where it was not already written as it finished."""
    from modelcard.base.progress import probe_line

    for record in [] if listed else report["probes"]:
        click.echo(probe_line(record).strip())
    for item in report["findings"]:
        click.echo(f"{item['severity']}: {item['pointer']}: {item['message']}")
    click.echo(report["probe_suite"]["note"])


@cli.command()
@click.argument("card", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True, help=FORMAT_HELP)
def validate(card: Path, fmt: str) -> None:
    """Check CARD (a card.json, a README.md that modelcard generated: its embedded record, or - for a record on
    stdin: `modelcard inspect --format json | modelcard validate -`) against the record schema; errors name their
    JSON pointer."""
    from modelcard.gate.cardfile import read_card
    from modelcard.record.validate import validate_record

    errors = validate_record(_stdin_record() if str(card) == "-" else read_card(card).record)
    if fmt == "json":
        click.echo(json.dumps({"valid": not errors, "errors": [vars(e) for e in errors]}, indent=2))
    else:
        for error in errors:
            click.echo(f"{card}: {error}", err=True)
        if not errors:
            click.echo(f"{card}: valid", err=True)
    if errors:
        raise Failed(f"{card}: {len(errors)} schema error(s)")


@cli.command()
@click.argument("cards", metavar="CARD...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--policy", "policies", multiple=True, metavar="NAME|PATH",
              help="A built-in policy (attention-governance, eu-ai-act-gpai, hf-hub) or a policy YAML file; "
                   "repeatable.  [default: attention-governance]")
@click.option("--strict", is_flag=True, help="Warnings fail the gate too.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "junit"]), default="text",
              show_default=True, help="text for people, json, github (workflow annotations), junit (XML).")
def check(cards: tuple[Path, ...], policies: tuple[str, ...], strict: bool, fmt: str) -> None:
    """The CI gate: CARD (a card.json, or a README.md that modelcard generated, whose hand-edited disclosure
    sections count) against policies. Exits 1 when a required value is missing, null without a reason or a
    placeholder, a required probe did not run, or a finding is an error."""
    from modelcard.gate.cardfile import read_valid_card
    from modelcard.gate.check import check_card
    from modelcard.gate.policy import DEFAULT_POLICY, resolve_policy
    from modelcard.gate.report import render_report

    resolved = {policy.name: policy for policy in map(resolve_policy, policies or (DEFAULT_POLICY,))}
    reports = [check_card(read_valid_card(card), list(resolved.values()), strict) for card in cards]
    click.echo(render_report(reports, fmt, strict), nl=False)
    failed = [report for report in reports if not report.passed]
    if failed:
        rules = sum(policy.count("fail") for report in failed for policy in report.policies)
        raise Failed(f"check failed: {rules} rule(s) of {', '.join(resolved)} not met"
                     f"{' (warnings count: --strict)' if strict else ''}")


@cli.command()
@click.argument("card", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS),
              help="cyclonedx: CycloneDX 1.6 JSON; spdx: SPDX 3.0.1 JSON-LD; eu-gpai: the EU Model Documentation "
                   "Form (JSON, or Markdown when -o ends in .md); hub-eval-results: the Hub model-index (YAML).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of to stdout.")
def export(card: Path, fmt: str, output: Path | None) -> None:
    """CARD (a card.json, or a README.md that modelcard generated) in a documentation standard's own format."""
    from modelcard.export.write import export_text
    from modelcard.gate.cardfile import read_valid_card

    text = export_text(read_valid_card(card), fmt, markdown=output is not None and output.suffix == ".md")
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from modelcard.base.writers import write_text

    write_text(output, text)
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMAT, default="text", show_default=True, help=FORMAT_HELP)
def diff(old: Path, new: Path, fmt: str) -> None:
    """What changed from OLD to NEW (each a card.json or a generated README.md): disclosures, architecture and
    attention, context window, KV cache, probe results (regressions first), findings. Exits 0 when nothing
    changed, 1 when something did."""
    from modelcard.gate.cardfile import read_valid_card
    from modelcard.gate.diff import diff_cards, diff_data, diff_text

    result = diff_cards(read_valid_card(old), read_valid_card(new))
    if fmt == "json":
        click.echo(json.dumps(diff_data(result), indent=2, ensure_ascii=False))
    else:
        click.echo(diff_text(result), nl=False)
    if not result.equal:
        raise Failed(f"{old} and {new} differ ({result.count} change(s))")


@cli.command()
@click.argument("card", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Folder for the card files (default: the folder CARD is in, unless --update is given).")
@click.option("--update", "update", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="README", help=UPDATE_HELP)
@click.option("--force", is_flag=True, help="Write through a symlinked -o folder.")
def render(card: Path, output: Path | None, update: Path | None, force: bool) -> None:
    """Render CARD (a card.json, or - for a record on stdin: `modelcard inspect --format json | modelcard render -
    -o card`) again as README.md, card.html and the charts (and a normalised card.json), beside it or into -o;
    with --update, refresh a model's own README.md instead (or as well, with -o)."""
    from modelcard.base.errors import BadInput
    from modelcard.base.progress import written
    from modelcard.base.writers import write_files
    from modelcard.card.chart_data import CHART_FILE_NAMES
    from modelcard.card.output import CARD_FILES, check_output_folder
    from modelcard.card.render import render_all
    from modelcard.record.document import read_record
    from modelcard.record.validate import validate_record

    from_stdin = str(card) == "-"
    if output is None and update is None:
        if from_stdin:
            raise BadInput("-", "a record on stdin has no folder to render beside: pass -o FOLDER or --update")
        output = card.parent
        _refuse_foreign_readme(output / "README.md")
    if output is not None:
        check_output_folder(output, force=force, names=(*CARD_FILES, *CHART_FILE_NAMES))
    readme = _open_readme(update)
    record = _stdin_record() if from_stdin else read_record(card)
    errors = validate_record(record)
    if errors:
        raise BadInput(card, f"breaks the record schema at {errors[0]} (run `modelcard validate` for all)")
    if output is not None:
        files = render_all(record)
        write_files(output, files, remove=CHART_FILE_NAMES)
        click.echo(written(output, list(files)), err=True)
    if readme is not None:
        _update_readme(readme, record)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (SPEC.md): 0 ok, 1 finding, 2 bad input, 3 internal error."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="modelcard", standalone_mode=False)
    except Failed as error:
        click.echo(f"modelcard: {error}", err=True)
        return EXIT_FINDING
    except ModelcardError as error:
        click.echo(f"modelcard: error: {error}", err=True)
        return error.exit_code
    except click.exceptions.Exit as error:
        return error.exit_code
    except click.Abort as error:  # click's name for Ctrl-C (and for end of input at a prompt)
        if isinstance(error.__context__, KeyboardInterrupt):
            click.echo(f"modelcard: interrupted{RESUME_HINT}", err=True)
            return EXIT_INTERRUPTED
        click.echo("modelcard: aborted", err=True)
        return EXIT_BAD_INPUT
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "modelcard"
        click.echo(f"modelcard: error: {_one_line(error.format_message())} (see `{command} --help`)", err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as error:
        click.echo(f"modelcard: error: {_one_line(error.format_message())}", err=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        click.echo(f"modelcard: interrupted{RESUME_HINT}", err=True)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        click.echo("modelcard: internal error (a bug): please report it with the traceback above", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


def run() -> None:
    """The `modelcard` process: main(), then out without the interpreter's teardown. Freeing the module state of
    torch and transformers takes about 0.4 s on this machine, a tenth of a config-only `inspect`, and nothing of
    ours is left to clean up by then (every file is written and closed); mypy leaves the same way."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a reader that went away (`| head`) is not our failure
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
