"""Status and wall time of each mechanics probe on SmolLM2-135M-Instruct (tests/real_models.py) with a suite's
parameters, after one warm-up forward (a process's first forward is slow).

    python bench/mechanics_smollm2.py quick
    python bench/mechanics_smollm2.py standard window-reach,kernel-agreement

To time another tree (an earlier commit, say: `git archive <commit> | tar -x -C /tmp/base`), set ROOT to it:
its `modelcard` package and its tests' helpers are imported instead of this checkout's."""

from __future__ import annotations

import os
import sys
import time

MECHANICS = "mask-leak,window-reach,kv-layout,cache-consistency,kernel-agreement"


def main(argv: list[str]) -> None:
    """Print one line per probe: id, status, seconds, findings and error findings.

    Args:
        argv: [suite, comma-separated probe ids (default: the five mechanics probes)].
    """
    root = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:0] = [root, f"{root}/tests/probe", f"{root}/tests"]  # tests/probe/conftest.py: probe_context
    from conftest import probe_context
    from real_models import smollm2_folder

    import modelcard
    from modelcard.probe.registry import get_probe
    from modelcard.probe.suite import resolve_suite

    suite = argv[0] if argv else "quick"
    probes = (argv[1] if len(argv) > 1 else MECHANICS).split(",")
    params = {entry.id: entry.params for entry in resolve_suite(suite).probes}
    ctx = probe_context(str(smollm2_folder()))
    ctx.adapter.outputs(ctx.random_ids(64))
    print(f"modelcard from {os.path.dirname(modelcard.__file__)}; suite {suite}", flush=True)
    for probe_id in probes:
        probe = get_probe(probe_id)
        start = time.perf_counter()
        try:
            outcome = probe.run(ctx, **probe.params(params.get(probe_id, {}), suite))
            status, findings = outcome.status, outcome.findings
        except Exception as error:  # a probe that raises is timed and reported like the others
            status, findings = f"error ({type(error).__name__}: {error})", []
        errors = sum(f["severity"] == "error" for f in findings)
        print(f"{probe_id:18s} {status:6s} {time.perf_counter() - start:7.1f} s  findings {len(findings)}, "
              f"errors {errors}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
