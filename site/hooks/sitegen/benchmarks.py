"""The benchmarks page, generated from the benchmark scripts' own docstrings (what each measures, how to run it)
and the figures stored in `bench/results/` (never run at build time)."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from sitegen.markdown import generated_note

SCRIPTS = ("bench/*.py", "scripts/gpu_check.py")


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def committed_on(path: Path, repo: Path) -> str | None:
    """The date of the last commit that touched `path`, when this is a git checkout."""
    try:
        result = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path.relative_to(repo))], cwd=repo,
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def producer(result: Path, scripts: list[Path]) -> Path | None:
    """The script whose name starts the result file's name (`gpu_check-h200-bf16.txt` -> gpu_check.py)."""
    for script in scripts:
        if result.stem.startswith(script.stem):
            return script
    return None


def fence_commands(text: str) -> str:
    """A docstring's indented command lines (after a blank line) as fenced code: in Markdown, indentation after a
    list would continue the list item instead."""
    out: list[str] = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("    ") and (block or not out or not out[-1].strip()):
            block.append(line[4:])
            continue
        if block:
            out += ["```bash", *block, "```"]
            block = []
        out.append(line)
    return "\n".join(out).strip()


def demote(markdown: str, levels: int) -> str:
    return "\n".join("#" * levels + line if re.match(r"#{1,6} ", line) else line for line in markdown.splitlines())


def benchmarks_markdown(repo: Path) -> str:
    scripts = sorted({path for pattern in SCRIPTS for path in repo.glob(pattern)})
    results_dir = repo / "bench" / "results"
    results = sorted(results_dir.glob("*.txt")) if results_dir.is_dir() else []
    out = ["# Benchmarks\n\n"]
    out.append(
        "Performance claims live in benchmark scripts that print their figures, never in timed unit tests. The "
        "site shows the figures last committed to `bench/results/`; it does not run the benchmarks. Each section "
        "says what the script measures and how to run it again.\n\n")
    for script in scripts:
        relative = script.relative_to(repo).as_posix()
        title, _, rest = docstring(script).partition("\n\n")
        out.append(f"## `{relative}`\n\n**{' '.join(title.split())}**\n\n{fence_commands(rest)}\n\n")
        stored = [result for result in results if producer(result, scripts) == script]
        if not stored:
            out.append(f"No figures from `{relative}` are stored in `bench/results/`; run it to get them.\n\n")
        for result in stored:
            date = committed_on(result, repo)
            out.append(f"### `{result.relative_to(repo).as_posix()}`" + (f" ({date})" if date else "") + "\n\n")
            out.append("```text\n" + result.read_text(encoding="utf-8").rstrip() + "\n```\n\n")
    others = [result for result in results if producer(result, scripts) is None]
    if others:
        out.append("## Other stored figures\n\n")
        for result in others:
            out.append(f"### `{result.relative_to(repo).as_posix()}`\n\n```text\n"
                       + result.read_text(encoding="utf-8").rstrip() + "\n```\n\n")
    notes = results_dir / "README.md"
    if notes.is_file():
        out.append("## Notes on the stored figures\n\n" + demote(notes.read_text(encoding="utf-8"), 2) + "\n")
    out.append(generated_note("the docstrings of the scripts in `bench/` and `scripts/gpu_check.py`, and the figures "
                              "stored in `bench/results/`"))
    return "".join(out)
