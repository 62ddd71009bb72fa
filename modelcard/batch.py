"""Many models in one `modelcard generate`: each model's card in its own folder (OUTPUT/<name>/) with its own
resumable probe store (OUTPUT/<name>/probes/), then one summary of them all (OUTPUT/summary.json and
OUTPUT/summary.md: model, exit status, probes, findings, and why a model failed).

`--jobs N` runs up to N models at once, each in a process of its own (`python -m modelcard generate MODEL ...`,
the same command a person would type), so a model that crashes, leaks memory or is killed takes no other model
with it; threads only wait for those processes. Under torchrun the models run one after another in the ranks
that are already there, each model's probe cells shared out across them. The exit status is the worst of the
models' (SPEC.md: 0 < 1 finding < 2 bad input < 3 internal error; an interrupted or killed model counts as 3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_INTERNAL, EXIT_OK, BadInput, ModelcardError

DEMO = "demo"
SUMMARY_FILES = ("summary.json", "summary.md")
SEVERITY = {EXIT_OK: 0, EXIT_FINDING: 1, EXIT_BAD_INPUT: 2, EXIT_INTERNAL: 3}
REASONS = {EXIT_OK: "ok", EXIT_FINDING: "a probe failed or erred, or an error finding",
           EXIT_BAD_INPUT: "bad input", EXIT_INTERNAL: "internal error"}


class BatchFailed(ModelcardError):
    """At least one model did not come out clean; the exit code is the worst of theirs."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        super().__init__(message)


@dataclass
class Job:
    spec: str | None  # None: the bundled demo model
    folder: Path

    @property
    def name(self) -> str:
        return self.spec or DEMO


@dataclass
class Row:
    model: str
    folder: str
    exit_code: int
    reason: str | None = None  # why it did not come out clean, in one line
    seconds: float = 0.0
    probes: dict[str, int] = field(default_factory=dict)  # status -> count
    findings: dict[str, int] = field(default_factory=dict)  # severity -> count
    log: str | None = None


def read_model_list(path: Path) -> list[str]:
    """One model spec a line; blank lines and `#` comments are skipped."""
    from modelcard.base.readers import read_text

    specs = []
    for line in read_text(path, "suite").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            specs.append(spec)
    if not specs:
        raise BadInput(path, "names no model (one model spec a line: a folder, org/name, module:factory)")
    return specs


def plan_jobs(specs: list[str | None], output: Path) -> list[Job]:
    """Each model's own folder under `output`, named after it (unique, file-system safe)."""
    jobs, taken = [], set()
    for spec in specs:
        base = folder_name(spec)
        name, n = base, 1
        while name.lower() in taken or name in SUMMARY_FILES or name == "logs":
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        jobs.append(Job(spec, output / name))
    return jobs


def folder_name(spec: str | None) -> str:
    if not spec:
        return DEMO
    path = Path(spec)
    if path.name == "config.json":
        path = path.parent
    text = path.name if path.exists() else spec.replace("/", "--").replace(":", ".")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"
    return text[:80]


def worst(codes: list[int]) -> int:
    """The worst exit code by SPEC.md's order; anything unknown (a signal, 130) is an internal error."""
    known = [code if code in SEVERITY else EXIT_INTERNAL for code in codes]
    return max(known, key=lambda code: SEVERITY[code], default=EXIT_OK)


def card_counts(folder: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Probe statuses and finding severities of the card in `folder` (empty when there is none)."""
    from modelcard.record.document import read_record

    path = folder / "card.json"
    if not path.is_file():
        return {}, {}
    try:
        record = read_record(path)
    except ModelcardError:
        return {}, {}
    probes: dict[str, int] = {}
    for item in record.get("probes") or []:
        probes[item["status"]] = probes.get(item["status"], 0) + 1
    findings: dict[str, int] = {}
    for item in record.get("findings") or []:
        findings[item["severity"]] = findings.get(item["severity"], 0) + 1
    return probes, findings


def run_in_processes(jobs: list[Job], child_options: list[str], parallel: int, logs: Path,
                     on_done: Callable[[Row], None] | None = None) -> list[Row]:
    """Every job as `python -m modelcard generate`, up to `parallel` at a time; rows in the jobs' order."""
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if parallel > 1 and "OMP_NUM_THREADS" not in env:  # the cores shared out, not oversubscribed
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // parallel))

    def run(job: Job) -> Row:
        argv = [sys.executable, "-m", "modelcard", "generate", *([job.spec] if job.spec else []),
                "-o", str(job.folder), "--resume", *child_options]
        log = logs / f"{job.folder.name}.log"
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as handle:
            code = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=env, check=False).returncode
        row = Row(job.name, str(job.folder), code, seconds=round(time.monotonic() - start, 2), log=str(log))
        if code != EXIT_OK:
            row.reason = _reason_from_log(log, code)
        row.probes, row.findings = card_counts(job.folder)
        if on_done:
            on_done(row)
        return row

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:  # threads only wait for the processes
        return list(pool.map(run, jobs))


def _reason_from_log(log: Path, code: int) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    said = [line.removeprefix("modelcard: ").removeprefix("error: ") for line in lines
            if line.startswith("modelcard: ") and not line.startswith("modelcard: disclosures from")]
    return (said[-1] if said else REASONS.get(code, f"exit status {code}"))[:300]


def run_in_ranks(jobs: list[Job], generate_one: Callable[[Job], dict[str, Any] | None], is_writer: bool,
                 on_done: Callable[[Row], None] | None = None) -> list[Row]:
    """Every job in this process, one after another (under torchrun, on every rank together)."""
    rows = []
    for job in jobs:
        start = time.monotonic()
        row = Row(job.name, str(job.folder), EXIT_OK)
        try:
            record = generate_one(job)
            if record is not None and bad_news(record):
                row.exit_code, row.reason = EXIT_FINDING, REASONS[EXIT_FINDING]
        except ModelcardError as error:
            row.exit_code, row.reason = error.exit_code, " ".join(str(error).split())[:300]
        row.seconds = round(time.monotonic() - start, 2)
        if is_writer:
            row.probes, row.findings = card_counts(job.folder)
            if on_done:
                on_done(row)
        rows.append(row)
    return rows


def bad_news(record: dict[str, Any]) -> bool:
    return (any(p["status"] in ("fail", "error") for p in record["probes"])
            or any(f["severity"] == "error" for f in record["findings"]))


def summary(rows: list[Row], jobs: int, world_size: int) -> dict[str, Any]:
    code = worst([row.exit_code for row in rows])
    return {"exit_code": code, "jobs": jobs, "world_size": world_size,
            "models": [asdict(row) for row in rows]}


def summary_table(data: dict[str, Any]) -> str:
    lines = ["| Model | Exit | Probes | Findings | Card | Why |", "| --- | --- | --- | --- | --- | --- |"]
    for row in data["models"]:
        probes = ", ".join(f"{n} {status}" for status, n in sorted(row["probes"].items())) or "none"
        findings = ", ".join(f"{n} {severity}" for severity, n in sorted(row["findings"].items())) or "none"
        card = f"{row['folder']}/README.md" if row["probes"] or row["findings"] else "not written"
        why = (row["reason"] or "").replace("|", "\\|")
        lines.append(f"| `{row['model']}` | {row['exit_code']} | {probes} | {findings} | {card} | {why} |")
    return "\n".join(lines) + "\n"


def write_summary(output: Path, data: dict[str, Any]) -> list[Path]:
    from modelcard.base.writers import write_text

    output.mkdir(parents=True, exist_ok=True)
    counts = {SEVERITY.get(row["exit_code"], 3) for row in data["models"]}
    heading = (f"# modelcard: {len(data['models'])} models, exit status {data['exit_code']}\n\n"
               f"Each model's card is in its own folder, and a rerun resumes each model's probes from its store "
               f"(`<folder>/probes/`).{' Some models did not come out clean.' if max(counts, default=0) else ''}\n\n")
    write_text(output / "summary.json", json.dumps(data, indent=2) + "\n")
    write_text(output / "summary.md", heading + summary_table(data))
    return [output / name for name in SUMMARY_FILES]


def verdict(data: dict[str, Any], output: Path) -> None:
    """Raise the exit status the summary calls for (none when every model came out clean)."""
    code = data["exit_code"]
    if code == EXIT_OK:
        return
    failed = [row for row in data["models"] if row["exit_code"] != EXIT_OK]
    raise BatchFailed(code, f"{len(failed)} of {len(data['models'])} models did not come out clean "
                            f"(worst: {REASONS.get(code, code)}); see {output / 'summary.md'}")
