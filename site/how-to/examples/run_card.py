"""Generate a card with a suite that names a custom probe: import the module that registers it, then call
modelcard's Python API (the `modelcard` command does not import your modules)."""

from pathlib import Path

import my_probes  # noqa: F401  (importing it registers the probe)

from modelcard.pipeline import GenerateRequest, generate

record = generate(GenerateRequest(spec=None, output=Path("card"), suite="my-suite.yaml"))
for result in record["probes"]:
    print(result["id"], result["status"], result["value"])
