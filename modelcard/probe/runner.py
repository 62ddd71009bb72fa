"""Run a probe suite: each probe in turn, a crash or an out-of-memory recorded as `error` while the rest go on,
each result saved as it finishes (when a folder is given) and skipped on a rerun. Each probe runs under a time
limit (modelcard.probe.limits); a hang, or a SystemExit / KeyboardInterrupt raised by the model's code, is an
`error` result too, while the user's own Ctrl-C stops the run."""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.errors import ModelcardError
from modelcard.probe import limits
from modelcard.probe.context import ProbeContext
from modelcard.probe.limits import DEFAULT_TIME_LIMIT_S, ProbeAborted, call_bounded
from modelcard.probe.outcome import NotApplicable, Outcome, skipped
from modelcard.probe.registry import ProbeSpec, get_probe
from modelcard.probe.store import ResultStore
from modelcard.probe.suite import Suite


@dataclass
class PlannedProbe:
    key: str  # file name of its result: the id, numbered when a suite lists an id twice
    spec: ProbeSpec
    params: dict[str, Any]


@dataclass
class SuiteResult:
    suite: Suite
    results: list[dict[str, Any]] = field(default_factory=list)  # {record, findings, measured, derived}
    resumed: list[str] = field(default_factory=list)
    twin: bool = False
    time_limit_s: float | None = None  # the per-probe limit enforced, in seconds; None: none
    time_limit_note: str | None = None  # why no limit was enforced, when none was

    @property
    def records(self) -> list[dict[str, Any]]:
        return [result["record"] for result in self.results]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for result in self.results for f in result["findings"]]

    def measured(self) -> dict[str, Any]:
        return {k: v for result in self.results for k, v in result["measured"].items()}

    def derived(self) -> dict[str, Any]:
        return {k: v for result in self.results for k, v in result["derived"].items()}

    def summary(self) -> dict[str, Any]:
        counts = {s: sum(r["status"] == s for r in self.records) for s in ("pass", "fail", "error", "skipped")}
        note = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no probes"
        if self.twin:
            note += "; the probes ran on a shrunken random-init twin of this config-only model"
        if self.time_limit_note:
            note += f"; {self.time_limit_note}"
        return {"name": self.suite.name, "probes": len(self.suite.probes), "twin": self.twin,
                "time_limit_s": self.time_limit_s, "note": note + "."}


def plan(suite: Suite) -> list[PlannedProbe]:
    """Resolve every id and parameter before any model work (bad input fails fast, STYLE.md 4)."""
    planned, seen = [], {}
    where = suite.path or suite.name
    for entry in suite.probes:
        spec = get_probe(entry.id, where)
        params = json.loads(json.dumps(spec.params(entry.params, where)))
        seen[entry.id] = seen.get(entry.id, 0) + 1
        key = entry.id if seen[entry.id] == 1 else f"{entry.id}.{seen[entry.id]}"
        planned.append(PlannedProbe(key, spec, params))
    return planned


def suite_digest(planned: list[PlannedProbe]) -> str:
    text = json.dumps([[p.key, p.params] for p in planned], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_probe(planned: PlannedProbe, ctx: ProbeContext | BaseException, seed: int,
              time_limit_s: float | None = DEFAULT_TIME_LIMIT_S) -> dict[str, Any]:
    """Run one probe; `ctx` is the exception that prevented building the context, if one did. The probe is
    stopped after `time_limit_s` seconds (None or 0: no limit; enforced in the main thread only)."""
    start = time.perf_counter()
    if isinstance(ctx, BaseException):
        outcome = Outcome(status="error", reason=f"could not prepare the model: {_reason(ctx)}")
    else:
        try:
            outcome = call_bounded(lambda: planned.spec.run(ctx, **planned.params), time_limit_s)
        except NotApplicable as reason:  # the model's architecture does not do what the probe asks of it
            outcome = skipped(str(reason))
        except ProbeAborted as error:  # a hang, or the model's code raising SystemExit or KeyboardInterrupt
            outcome = Outcome(status="error", reason=_reason(error))
        except Exception as error:  # a probe that crashes is a result, not the end of the run
            outcome = Outcome(status="error", reason=_reason(error),
                              details={"traceback": traceback.format_exc(limit=-3).splitlines()[-6:]})
    adapter = None if isinstance(ctx, BaseException) else ctx.adapter
    record = {
        "id": planned.spec.id, "title": planned.spec.title, "status": outcome.status, "metric": outcome.metric,
        "value": outcome.value, "unit": outcome.unit, "threshold": outcome.threshold,
        "kernel": outcome.kernel or (adapter.kernel if adapter else None),
        "device": str(adapter.device) if adapter else None, "dtype": adapter.dtype_name if adapter else None,
        "seed": seed, "duration_s": round(time.perf_counter() - start, 4), "params": planned.params,
        "details": outcome.details, "reason": outcome.reason, "twin": bool(adapter and adapter.twin),
        "time_limit_s": limits.effective_time_limit(time_limit_s),
    }
    findings = [{**f, "probe": planned.spec.id} for f in outcome.findings]
    result = {"record": record, "findings": findings, "measured": outcome.measured, "derived": outcome.derived}
    return json.loads(json.dumps(result, default=_jsonable))


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    if isinstance(error, ProbeAborted) or text.startswith("out of memory"):  # already a full reason
        return text
    if isinstance(error, MemoryError) or "out of memory" in text.lower():
        return f"out of memory: {text}"
    return f"{type(error).__name__}: {text}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def run_suite(suite: Suite, make_context: Callable[[], ProbeContext], seed: int, folder: Path | None = None,
              identity: dict[str, Any] | None = None,
              on_start: Callable[[str], None] | None = None,
              on_done: Callable[[dict[str, Any], bool], None] | None = None,
              time_limit_s: float | None = DEFAULT_TIME_LIMIT_S) -> SuiteResult:
    """`make_context` is called only when a probe has to run (a complete rerun loads no model). Each probe
    runs under `time_limit_s` seconds (None or 0: no limit); building the context has no limit, but a
    SystemExit or KeyboardInterrupt from the model's code there is an error of every probe, not the end."""
    planned = plan(suite)
    store = None
    if folder is not None:
        store = ResultStore(folder, {**(identity or {}), "suite": suite.name, "suite_digest": suite_digest(planned)})
        store.start()
    outcome = SuiteResult(suite=suite, time_limit_s=limits.effective_time_limit(time_limit_s),
                          time_limit_note=limits.time_limit_note(time_limit_s))
    ctx: ProbeContext | BaseException | None = None
    for item in planned:
        stored = store.load(item.key, item.params) if store else None
        if stored is not None:
            outcome.results.append(stored)
            outcome.resumed.append(item.key)
            outcome.twin = outcome.twin or stored["record"].get("twin", False)
            if on_done:
                on_done(stored, True)
            continue
        if on_start:
            on_start(item.key)
        if ctx is None:
            try:
                ctx = call_bounded(make_context)
            except ModelcardError:  # bad input (unreadable model, refused remote code) is the user's to fix
                raise
            except Exception as error:  # a twin that cannot be built or run: every probe says why, no crash
                ctx = error
        result = run_probe(item, ctx, seed, time_limit_s)
        if store and result["record"]["status"] != "error":  # an error is tried again on a rerun
            store.save(item.key, result)
        outcome.results.append(result)
        outcome.twin = outcome.twin or result["record"]["twin"]
        if on_done:
            on_done(result, False)
    return outcome
