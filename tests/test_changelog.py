"""`generate --previous OLD_CARD`: the card says what changed since an earlier card, regressions first, and keeps
the earlier card's identity; the record's `model.files`, `weights_sha256` and `chat_template_sha256` identify what
was documented."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from modelcard.base.resources import demo_model_dir

ROOT = Path(__file__).resolve().parents[1]


def card(run_cli, out: Path, *argv: str) -> dict:
    result = run_cli("generate", *argv, "-o", str(out))
    assert result.code in (0, 1), result.err
    return json.loads((out / "card.json").read_text())


def test_a_changed_disclosure_is_in_the_changes_section(run_cli, tmp_path: Path) -> None:
    first, second = tmp_path / "d1.yaml", tmp_path / "d2.yaml"
    first.write_text("license: apache-2.0\n")
    second.write_text("license: mit\nintended_use: testing\n")
    old = card(run_cli, tmp_path / "old", "--suite", "none", "--disclosures", str(first))
    new = card(run_cli, tmp_path / "new", "--suite", "none", "--disclosures", str(second), "--previous",
               str(tmp_path / "old" / "README.md"))
    changes = new["changes"]
    assert changes["previous"]["model"]["weights_sha256"] == old["model"]["weights_sha256"]
    assert [item["text"] for item in changes["items"]] == ["license: apache-2.0 -> mit", "intended_use: now testing"]
    readme = (tmp_path / "new" / "README.md").read_text()
    assert "## Changes since README.md (modelcard/demo-llama, " in readme and "- license: apache-2.0 -> mit" in readme
    assert "<h2>Changes since README.md" in (tmp_path / "new" / "card.html").read_text()
    assert run_cli("validate", str(tmp_path / "new" / "card.json")).code == 0
    assert "changes" not in old and "Changes since" not in (tmp_path / "old" / "README.md").read_text()


def test_the_stray_window_twin_against_the_demo_shows_the_new_error_first(run_cli, tmp_path: Path) -> None:
    new = card(run_cli, tmp_path / "new", str(ROOT / "tests" / "golden" / "stray-window-llama"), "--suite", "quick",
               "--previous", str(ROOT / "tests" / "golden" / "demo" / "card.json"))
    first = new["changes"]["items"][0]
    assert first["regression"] and first["group"] == "findings" and first["new"] == "error"
    assert not any(item["regression"] for item in new["changes"]["items"][1:])
    readme = (tmp_path / "new" / "README.md").read_text()
    section = readme[readme.index("## Changes since"):readme.index("## Probes")]
    assert section.splitlines()[2].startswith("- **Regression:** new: error at /kv_cache")
    assert "- probe cache-consistency: now fail" in section


def test_an_unreadable_previous_card_is_one_line(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text("{")
    result = run_cli("generate", "--suite", "none", "--previous", str(bad), "-o", str(tmp_path / "card"))
    assert result.code == 2 and "old.json" in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "card").exists()


def test_the_record_names_every_file_with_its_digest(run_cli, tmp_path: Path) -> None:
    record = json.loads(run_cli("inspect", "demo", "--format", "json").out)["model"]
    files = {entry["name"]: entry for entry in record["files"]}
    weights = demo_model_dir() / "model.safetensors"
    assert files["model.safetensors"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert files["model.safetensors"]["role"] == "weights" and files["tokenizer.json"]["role"] == "tokenizer"
    assert record["weights_sha256"] == hashlib.sha256(json.dumps(
        {"model.safetensors": files["model.safetensors"]["sha256"]}, sort_keys=True).encode()).hexdigest()
    assert record["chat_template_sha256"] is None
    copy = tmp_path / "model"
    shutil.copytree(demo_model_dir(), copy)
    (copy / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    changed = json.loads(run_cli("inspect", str(copy), "--format", "json").out)["model"]
    assert changed["weights_sha256"] == record["weights_sha256"] and changed["chat_template_sha256"]
