"""Generate a card with a suite that names a custom probe, from Python: import the probe's module (as
`--probe-module` does), read the suite, then generate."""

from pathlib import Path

from modelcard.pipeline import GenerateRequest, ProbeRequest, generate
from modelcard.probe.plugins import import_probe_modules
from modelcard.probe.suite import resolve_suite

imported = import_probe_modules(["my_probes.py"])  # registers logit-range
suite = resolve_suite("my-suite.yaml", trusted_modules=imported)
record = generate(GenerateRequest(probing=ProbeRequest(spec=None, suite=suite), output=Path("card")))
for result in record["probes"]:
    print(result["id"], result["status"], result["value"])
