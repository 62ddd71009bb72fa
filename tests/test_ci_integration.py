"""The GitHub Action (action.yml) and the pre-commit hook (.pre-commit-hooks.yaml): the action's check step is run
the way a runner runs it (inputs through the environment), the hook through pre-commit itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from check_cards import complete_record, delete, write_card

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)  # where `modelcard` is installed next to this Python


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def _env(step: dict, inputs: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """The step's environment as a runner builds it: `${{ inputs.x }}` from the inputs or their defaults."""
    defaults = {name: str(spec.get("default", "")) for name, spec in _action()["inputs"].items()}
    values = {**defaults, **inputs}

    def expand(text: str) -> str:
        return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)

    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra,
            **{key: expand(str(value)) for key, value in (step.get("env") or {}).items()}}


def test_the_action_is_composite_and_installs_cpu_torch_before_modelcard():
    action = _action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = steps[1]["run"]
    assert install.index("download.pytorch.org/whl/cpu") < install.index('"${MODELCARD_REQUIREMENT:-$ACTION_PATH}"')
    assert action["inputs"]["card"]["required"] is True
    assert action["inputs"]["policy"]["default"] == "attention-governance"
    for step in steps:  # inputs reach the shell through the environment only, never spliced into the script
        assert "${{" not in step.get("run", "")


def _run_check_step(tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, str]:
    step = next(step for step in _action()["runs"]["steps"] if step.get("id") == "check")
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    done = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, cwd=tmp_path,
                          env=_env(step, inputs, {"GITHUB_OUTPUT": str(outputs)}), timeout=60)
    return done, outputs.read_text()


def test_the_action_passes_a_complete_card(tmp_path):
    card = write_card(tmp_path / "card", complete_record())
    done, outputs = _run_check_step(tmp_path, card=str(card), policy="attention-governance\nhf-hub", strict="true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert outputs == "passed=true\n"


def test_the_action_fails_with_annotations_and_can_write_junit(tmp_path):
    good = write_card(tmp_path / "good", complete_record())
    bad = write_card(tmp_path / "bad", delete(complete_record(), "/disclosures/tool_access"))
    done, outputs = _run_check_step(tmp_path, card=f"{good} {bad}")
    assert done.returncode == 1 and outputs == "passed=false\n"
    assert re.search(rf"^::error file={re.escape(str(bad))},line=\d+,title=modelcard attention-governance%3A "
                     r"tool-access::", done.stdout, re.M)
    report = tmp_path / "junit.xml"
    done, _ = _run_check_step(tmp_path, card=str(bad), format="junit", output=str(report))
    assert done.returncode == 1 and done.stdout == ""
    assert report.read_text().startswith('<?xml version="1.0"')


def test_the_action_reports_bad_input_as_2(tmp_path):
    card = write_card(tmp_path, complete_record())
    done, outputs = _run_check_step(tmp_path, card=str(card), policy="no-such-policy")
    assert done.returncode == 2 and "no such policy" in done.stderr and outputs == "passed=false\n"


def test_the_pre_commit_hooks_file():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(hook for hook in hooks if hook["id"] == "modelcard-check")
    assert hook["entry"] == "modelcard check" and hook["language"] == "system"
    assert re.search(hook["files"], "models/demo/card.json") and not re.search(hook["files"], "README.md")


def _git(*args: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


@pytest.mark.skipif(shutil.which("pre-commit", path=BIN) is None or shutil.which("git") is None,
                    reason="pre-commit (the test extra) and git are needed")
def test_the_hook_runs_through_pre_commit(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks)
    _git("init", "-q", cwd=hooks)
    _git("add", ".pre-commit-hooks.yaml", cwd=hooks)
    _git("commit", "-q", "-m", "hooks", cwd=hooks)
    project = tmp_path / "project"
    write_card(project / "good", complete_record())
    write_card(project / "bad", delete(complete_record(), "/disclosures/retrieval_mechanism"))
    (project / "README.md").write_text("# Not a card\n")  # outside the hook's files: not checked
    _git("init", "-q", cwd=project)
    _git("add", ".", cwd=project)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(tmp_path / "cache"),
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "PRE_COMMIT_COLOR": "never"}

    def try_repo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([f"{BIN}/pre-commit", "try-repo", str(hooks), "modelcard-check", *args], cwd=project,
                              capture_output=True, text=True, env=env, timeout=120)

    passed = try_repo("--files", "good/card.json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"modelcard check\.+Passed", passed.stdout)
    failed = try_repo("--all-files")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL  retrieval-mechanism" in failed.stdout and "bad/card.json" in failed.stdout
    assert "README.md" not in failed.stdout.split("modelcard check")[-1].split("retrieval-mechanism")[0]
