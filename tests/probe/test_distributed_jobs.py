"""Many models in one `modelcard generate` (issue 13, item 3): a folder and a resumable store each, separate
processes (`--jobs`), one summary, a bad model that stops no other, and the worst exit status."""

from __future__ import annotations

import json
import os
from pathlib import Path

from modelcard.batch import folder_name, plan_jobs, worst

HERE = Path(__file__).resolve().parent


def test_three_models_with_two_jobs_write_three_cards_and_one_summary(run_cli, tmp_path, monkeypatch) -> None:
    from modelcard.base.resources import demo_model_dir

    config_only = tmp_path / "llama-config"
    config_only.mkdir()
    (config_only / "config.json").write_text(json.dumps(
        {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
         "max_position_embeddings": 256}), encoding="utf-8")
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no-such-architecture"}', encoding="utf-8")
    listed = tmp_path / "models.txt"
    listed.write_text(f"# the zoo\n{bad}\n", encoding="utf-8")
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: tiny\nprobes:\n  - id: mask-leak\n    params: {length: 16}\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "cards"

    result = run_cli("generate", str(demo_model_dir()), "tinymodels:honest", str(config_only),
                     "--models-from", listed, "--jobs", "2", "--suite", suite, "-o", out)
    assert result.code == 2, result.err  # the worst of 0, 0, 0 and 2 (bad input)
    assert "1 of 4 models did not come out clean" in result.err
    summary = json.loads((out / "summary.json").read_text())
    rows = {Path(row["folder"]).name: row for row in summary["models"]}
    assert set(rows) == {"demo", "tinymodels.honest", "llama-config", "broken"}
    for name in ("demo", "tinymodels.honest", "llama-config"):
        assert rows[name]["exit_code"] == 0 and rows[name]["probes"] == {"pass": 1}
        assert {"card.json", "README.md", "card.html"} <= {p.name for p in (out / name).iterdir()}
        assert (out / name / "probes" / "mask-leak.json").is_file()  # its own resumable store
    assert rows["broken"]["exit_code"] == 2 and "unknown model_type" in rows["broken"]["reason"]
    assert not (out / "broken" / "card.json").exists()
    table = (out / "summary.md").read_text()
    assert "| `tinymodels:honest` | 0 | 1 pass |" in table and "unknown model_type" in table

    again = run_cli("generate", str(demo_model_dir()), "--models-from", listed, "--jobs", "2", "--suite", suite,
                    "-o", out)
    assert again.code == 2
    log = (out / "logs" / "demo.log").read_text()
    assert "resumed" in log  # the rerun read the stored result back instead of probing again


def test_folder_names_and_the_worst_exit_status() -> None:
    assert folder_name(None) == "demo"
    assert folder_name("org/name") == "org--name"
    assert folder_name("package.module:factory") == "package.module.factory"
    jobs = plan_jobs(["org/name", "org/name", None], Path("out"))
    assert [job.folder.name for job in jobs] == ["org--name", "org--name-2", "demo"]
    assert worst([0, 1, 0]) == 1 and worst([1, 2, 0]) == 2 and worst([0, 3, 2]) == 3
    assert worst([0, -9]) == 3 and worst([130, 1]) == 3 and worst([]) == 0


def test_jobs_need_separate_models_and_update_needs_one(run_cli, tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# mine\n", encoding="utf-8")
    result = run_cli("generate", "a/b", "c/d", "--update", readme, "-o", tmp_path / "out")
    assert result.code == 2 and "--update" in result.err
    empty = tmp_path / "none.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    result = run_cli("generate", "--models-from", empty, "-o", tmp_path / "out")
    assert result.code == 2 and "names no model" in result.err
