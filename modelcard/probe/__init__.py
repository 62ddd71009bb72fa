"""Probe: a loaded model (or its random-init twin) and a suite in; outcomes out, one per probe, each measured by
running the model with its own attention kernels, with the evidence, cells and timings a card reports.

A probe is a function decorated with `probe`: it takes a `ProbeContext` (the model behind a `ModelAdapter`,
its tokenizer and the inspection's facts) and returns an `Outcome`; a probe with `Cells` runs in parts that a
time limit can stop and a rerun resumes. Built-in probes live in `modelcard.probe.probes`; others register
through the `modelcard.probes` entry-point group or `--probe-module`."""

from modelcard.probe.adapter import ModelAdapter
from modelcard.probe.cells import Cells
from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import NotApplicable, Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.runner import run_suite
from modelcard.probe.suite import Suite, resolve_suite

__all__ = ["Cells", "ModelAdapter", "NotApplicable", "Outcome", "ProbeContext", "Suite", "finding", "probe",
           "resolve_suite", "run_suite", "skipped"]
