"""`modelcard export`: the demo's standard-suite card (tests/golden/standard) in each standard's format, validated
and parsed back by that standard's own library, with the values that matter equal to the record's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "tests" / "golden" / "standard" / "card.json"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(STANDARD.read_text())


def exported(run_cli, fmt: str, card: Path = STANDARD) -> str:
    result = run_cli("export", str(card), "--format", fmt)
    assert result.code == 0, result.err
    return result.out


def test_cyclonedx_validates_and_its_library_reads_it_back(run_cli, record: dict) -> None:
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = exported(run_cli, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    component = Bom.from_json(json.loads(text)).metadata.component
    properties = {p.name: p.value for p in component.properties}
    assert component.name == record["model"]["id"]
    assert int(properties["modelcard:parameters"]) == record["model"]["parameters"]
    assert int(properties["modelcard:context_window.declared"]) == record["context_window"]["declared"]
    assert int(properties["modelcard:context_window.effective"]) == record["context_window"]["effective"]
    assert properties["modelcard:attention.layers.0-3"] == "full"
    # cyclonedx-python-lib does not model `modelCard` yet: its metrics are read from the validated JSON
    card = json.loads(text)["metadata"]["component"]["modelCard"]
    metrics = {(m["type"], m.get("slice")): m for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    grid = next(p for p in record["probes"] if p["id"] == "passkey-grid")
    assert float(metrics["passkey-grid: effective context (relative rule)", None]["value"]) == grid["value"]
    at_2048 = metrics["passkey-grid: exact match", "length=2048"]
    assert float(at_2048["value"]) == grid["details"]["scores"]["2048"]
    assert [float(at_2048["confidenceInterval"][k]) for k in ("lowerBound", "upperBound")] == \
        grid["details"]["score_intervals"]["2048"]
    assert any("Copying holds" in limit for limit in card["considerations"]["technicalLimitations"])


def test_spdx_is_read_back_by_spdx_python_model(run_cli, record: dict) -> None:
    import io

    from spdx_python_model import v3_0_1 as spdx

    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(exported(run_cli, "spdx").encode()), objects)
    (package,) = list(objects.foreach_type(spdx.ai_AIPackage))
    assert package.name == record["model"]["id"]
    assert list(package.ai_typeOfModel) == ["decoder-only", "llama"]
    metrics = {entry.key: entry.value for entry in package.ai_metric}
    settings = {entry.key: entry.value for entry in package.ai_hyperparameter}
    assert int(settings["parameters"]) == record["model"]["parameters"]
    assert int(settings["context_window_declared"]) == record["context_window"]["declared"]
    assert int(metrics["context_window_effective"]) == record["context_window"]["effective"]
    grid = next(p for p in record["probes"] if p["id"] == "passkey-grid")
    assert float(metrics["passkey-grid: effective context (relative rule)"]) == grid["value"]
    low, high = grid["details"]["score_intervals"]["2048"]
    assert metrics["passkey-grid: exact match (length=2048)"] == \
        f"{grid['details']['scores']['2048']:g} [{low:g}, {high:g}]"
    assert package.ai_autonomyType == spdx.PresenceType.no
    assert "Copying holds" in package.ai_limitation
    (document,) = list(objects.foreach_type(spdx.SpdxDocument))
    assert [element._id for element in document.rootElement] == [package._id]


def test_hub_eval_results_are_read_back_by_huggingface_hub(run_cli, record: dict) -> None:
    from huggingface_hub.repocard_data import model_index_to_eval_results

    name, results = model_index_to_eval_results(yaml.safe_load(exported(run_cli, "hub-eval-results"))["model-index"])
    assert name == record["model"]["id"]
    by_key = {(r.dataset_type, r.metric_type, r.dataset_config): r for r in results}
    assert by_key["modelcard/passkey-grid", "effective_context", None].metric_value == \
        record["context_window"]["effective"]
    grid = next(p for p in record["probes"] if p["id"] == "passkey-grid")
    at_512 = by_key["modelcard/passkey-grid", "exact_match", "length=512"]
    assert at_512.metric_value == grid["details"]["scores"]["512"]
    assert at_512.metric_args == {"interval_95": grid["details"]["score_intervals"]["512"]}


def test_a_family_scored_by_its_share_of_items_is_exported_under_that_name(run_cli) -> None:
    from huggingface_hub.repocard_data import model_index_to_eval_results

    hybrid = ROOT / "site" / "recorded-cards" / "demo-hybrid" / "card.json"
    _, results = model_index_to_eval_results(
        yaml.safe_load(exported(run_cli, "hub-eval-results", hybrid))["model-index"])
    by_key = {(r.dataset_type, r.dataset_config): r for r in results}
    tracking = by_key["modelcard/variable-tracking", "length=512"]
    assert tracking.metric_type == "share_of_names_right"
    assert tracking.metric_name == "Share of names right (length=512)"
    assert by_key["modelcard/passkey-grid", "length=512"].metric_type == "exact_match"


def test_the_form_misses_exactly_what_the_gate_fails(run_cli, tmp_path: Path) -> None:
    """A card with nothing declared: the eu-gpai form's missing fields are check's failures, one for one."""
    out = tmp_path / "card"
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    assert run_cli("generate", "--suite", "none", "--disclosures", str(empty), "-o", str(out)).code == 0
    form = json.loads(exported(run_cli, "eu-gpai", out / "card.json"))
    checked = run_cli("check", str(out / "card.json"), "--policy", "eu-ai-act-gpai", "--format", "json")
    assert checked.code == 1
    report = json.loads(checked.out)
    failed = [r["rule"] for card in report["cards"] for policy in card["policies"] for r in policy["results"]
              if r["status"] == "fail"]
    assert form["missing"] == failed and failed
    identity = {row["pointer"]: row["value"] for row in form["identity"]}
    record = json.loads((out / "card.json").read_text())
    assert identity["/model/weights_sha256"] == record["model"]["weights_sha256"] is not None
    assert identity["/disclosures/base_model"] is None
    filled = {f["id"]: f for f in form["fields"] if f["status"] == "filled"}
    assert filled["parameters"]["value"] == 738816 and filled["parameters"]["pointer"] == "/model/parameters"
    missing = {f["id"]: f for f in form["fields"] if f["status"] == "missing"}
    assert missing["license"]["reference"].startswith("Annex XI") and missing["license"]["supply"]
    markdown = tmp_path / "form.md"
    assert run_cli("export", str(out / "card.json"), "--format", "eu-gpai", "-o", str(markdown)).code == 0
    assert "| **missing** |" in markdown.read_text().replace("** | `", "** |")


def test_export_reads_a_generated_readme_and_imports_no_torch(tmp_path: Path) -> None:
    out = tmp_path / "card"
    subprocess.run([sys.executable, "-m", "modelcard", "render", str(STANDARD), "-o", str(out)], check=True,
                   capture_output=True)
    code = ("import sys; from modelcard.cli import main; code = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy'; sys.exit(code)")
    for fmt in ("cyclonedx", "spdx", "eu-gpai", "hub-eval-results"):
        done = subprocess.run([sys.executable, "-c", code, "export", str(out / "README.md"), "--format", fmt],
                              capture_output=True, text=True)
        assert done.returncode == 0, (fmt, done.stderr)


def test_a_record_that_is_not_a_card_is_one_line(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "card.json"
    bad.write_text("{not json")
    result = run_cli("export", str(bad), "--format", "cyclonedx")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
