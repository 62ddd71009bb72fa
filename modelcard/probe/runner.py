"""Run a probe suite: each probe in turn, a crash or an out-of-memory recorded as `error` while the rest go on,
each result saved as it finishes (when a folder is given) and skipped on a rerun. Each probe runs under a time
limit (modelcard.probe.limits); a hang, or a SystemExit / KeyboardInterrupt raised by the model's code, is an
`error` result too, while the user's own Ctrl-C stops the run.

The unit of work is a cell (modelcard.probe.cells): a part of a probe (one length of a retrieval probe, one
block of window-reach), or a whole probe that has no parts. Cells are saved as they finish and skipped on a
rerun, and a probe's result is concluded from its cells once all are in. Under torchrun the cells are shared
out across the ranks (modelcard.probe.distributed) in rounds: the same deterministic list on every rank, rank r
taking the r-th cell of each round, and after each round rank 0 gathers what the others finished and alone
saves it. Rank 0 saves its own cell before the gather, so a peer lost mid-round costs nothing it finished. With
tensor parallelism every rank runs every cell together and rank 0 saves the result.

A probe's cells on one rank share its time limit: each runs under what its earlier cells left. Before the first
probe, the model's speed is calibrated (modelcard.probe.timing) and the suite's estimate handed to `on_plan`; a
cell whose estimate exceeds what the limit leaves is skipped before it starts, and a cell that runs over is
stopped. Either way the cells that finished stand: the probe concludes from them (a retrieval probe lists the
skipped lengths as it lists those over the memory) or, when it cannot conclude without every cell, is skipped with
the reason and its finished cells kept for a rerun. Neither is an error."""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from modelcard.base.errors import ModelcardError
from modelcard.base.wording import cell_label
from modelcard.probe import limits
from modelcard.probe.cells import Cells, as_json
from modelcard.probe.context import ProbeContext
from modelcard.probe.distributed import SOLO, Comm, RankStopped, on_writer
from modelcard.probe.families import over_families
from modelcard.probe.limits import DEFAULT_TIME_LIMIT_S, ProbeAborted, ProbeTimedOut, call_bounded
from modelcard.probe.outcome import NotApplicable, Outcome, skipped
from modelcard.probe.store import ResultStore
from modelcard.probe.suite import PlannedProbe, Suite
from modelcard.probe.timing import UNCALIBRATED_FLOPS, SuiteEstimate, about, estimator

SKIPPED_FOR_TIME = "skipped-time"  # the status of a cell that did not run, or was stopped, for the time limit
CellCallback = Callable[[str, dict[str, Any], int, int], None]  # (probe key, cell outcome, cells done, cells)


@dataclass
class SuiteResult:
    suite: Suite
    results: list[dict[str, Any]] = field(default_factory=list)  # {record, findings, measured, derived}
    resumed: list[str] = field(default_factory=list)
    twin: bool = False
    time_limit_s: float | None = None  # the per-probe limit enforced, in seconds; None: none
    time_limit_note: str | None = None  # why no limit was enforced, when none was
    world_size: int = 1  # torch.distributed ranks that shared the suite
    resumed_cells: int = 0  # cells read back from the store instead of run
    layout: dict[str, Any] | None = None  # where the model was while the probes ran (probe_suite.layout)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [result["record"] for result in self.results]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for result in self.results for f in result["findings"]]

    def measured(self) -> dict[str, Any]:
        """JSON pointer -> value the probes measured; `context_window.effective` over the task families."""
        merged = {k: v for result in self.results for k, v in result["measured"].items()}
        merged.update(over_families(self.results)[0])
        return merged

    def derived(self) -> dict[str, Any]:
        """JSON pointer -> value computed from measured ones; the effective rule over the task families."""
        merged = {k: v for result in self.results for k, v in result["derived"].items()}
        merged.update(over_families(self.results)[1])
        return merged

    def summary(self) -> dict[str, Any]:
        counts = {s: sum(r["status"] == s for r in self.records) for s in ("pass", "fail", "error", "skipped")}
        note = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no probes"
        if self.twin:
            note += "; the probes ran on a shrunken random-init twin of this config-only model"
        if self.world_size > 1:
            note += f"; {self.world_size} torch.distributed ranks shared the suite"
        if self.time_limit_note:
            note += f"; {self.time_limit_note}"
        summary = {"name": self.suite.name, "probes": len(self.suite.probes), "twin": self.twin,
                   "time_limit_s": self.time_limit_s, "world_size": self.world_size, "note": note + "."}
        if self.layout:
            summary["layout"] = self.layout
        return summary


def _skipped_cell(skipped_partial: Callable[..., dict[str, Any]] | None, outcome: dict[str, Any]) -> dict[str, Any]:
    """The partial result of a cell skipped for time, for a probe that can conclude without it."""
    if skipped_partial is None:
        raise RuntimeError(f"cell {outcome['cell']} did not run, and its probe cannot conclude without it")
    return skipped_partial(outcome["cell"], outcome["reason"])


def _cells(planned: PlannedProbe) -> Cells:
    """The cells of a probe that registered them."""
    if planned.spec.cells is None:
        raise RuntimeError(f"probe {planned.key} runs whole: it has no cells")
    return planned.spec.cells


def suite_digest(planned: list[PlannedProbe]) -> str:
    text = json.dumps([[p.key, p.params] for p in planned], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_probe(planned: PlannedProbe, ctx: ProbeContext | BaseException, seed: int,
              time_limit_s: float | None = DEFAULT_TIME_LIMIT_S, budget_s: float | None = None,
              estimate_s: float | None = None) -> dict[str, Any]:
    """Run one probe whole; `ctx` is the exception that prevented building the context, if one did. The probe is
    stopped after `budget_s` seconds (default: `time_limit_s`, the limit the record names; None or 0: no limit;
    enforced in the main thread only). `estimate_s`: its estimated duration, kept beside the measured one."""
    start = time.perf_counter()
    if isinstance(ctx, BaseException):
        outcome = Outcome(status="error", reason=f"could not prepare the model: {_reason(ctx)}")
    else:
        outcome = _bounded_outcome(lambda: planned.spec.run(ctx, **planned.params),
                                   time_limit_s if budget_s is None else budget_s)
    adapter = None if isinstance(ctx, BaseException) else ctx.adapter
    return make_result(planned, outcome, adapter, seed, time.perf_counter() - start, time_limit_s,
                       estimate_s=estimate_s)


def _bounded_outcome(run: Callable[[], Outcome], seconds: float | None) -> Outcome:
    try:
        return call_bounded(run, seconds)
    except NotApplicable as reason:  # the model's architecture does not do what the probe asks of it
        return skipped(str(reason))
    except ProbeAborted as error:  # a hang, or the model's code raising SystemExit or KeyboardInterrupt
        return Outcome(status="error", reason=_reason(error))
    except Exception as error:  # a probe that crashes is a result, not the end of the run
        return Outcome(status="error", reason=_reason(error),
                       details={"traceback": traceback.format_exc(limit=-3).splitlines()[-6:]})


def make_result(planned: PlannedProbe, outcome: Outcome, adapter: Any, seed: int, duration_s: float,
                time_limit_s: float | None, devices: list[str] | None = None,
                cells: int | None = None, estimate_s: float | None = None) -> dict[str, Any]:
    """The SPEC.md probe record of an outcome, with its findings and measured values (and `estimate_s`, the
    duration estimated before it ran, when there was one)."""
    if devices is None:
        devices = device_names(adapter) if adapter is not None else []
    record = {
        "id": planned.spec.id, "title": planned.spec.title, "version": planned.spec.version,
        "status": outcome.status, "metric": outcome.metric,
        "value": outcome.value, "unit": outcome.unit, "threshold": outcome.threshold,
        "kernel": outcome.kernel or (adapter.kernel if adapter else None),
        "device": ",".join(devices) or None, "dtype": adapter.dtype_name if adapter else None,
        "seed": seed, "duration_s": round(duration_s, 4), "params": planned.params,
        "details": outcome.details, "reason": outcome.reason, "twin": bool(adapter and adapter.twin),
        "time_limit_s": limits.effective_time_limit(time_limit_s),
    }
    if cells is not None:
        record["cells"] = cells
    if estimate_s is not None:
        record["estimate_s"] = round(estimate_s, 2)
    findings = [{**f, "probe": planned.spec.id} for f in outcome.findings]
    result = {"record": record, "findings": findings, "measured": outcome.measured, "derived": outcome.derived}
    return as_json(result)


def device_names(adapter: Any) -> list[str]:
    devices = getattr(adapter, "devices", None)
    return [str(d) for d in devices] if devices else [str(adapter.device)]


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    if isinstance(error, ProbeAborted) or text.startswith("out of memory"):  # already a full reason
        return text
    if isinstance(error, MemoryError) or "out of memory" in text.lower():
        return f"out of memory: {text}"
    return f"{type(error).__name__}: {text}"


# The suite, cell by cell.

WHOLE = -1  # the index of a task that runs a probe with no cells


@dataclass
class _Probe:
    """A pending probe on rank 0: its cells (None: it runs whole) and what has come back for them."""

    planned: PlannedProbe
    cells: list[dict[str, Any]] | None = None
    decided: dict[str, Any] | None = None  # its result, once known
    done: dict[int, dict[str, Any]] = field(default_factory=dict)  # cell index -> cell result
    stored: int = 0  # cells read back from the store
    timed_out: bool = False  # a cell was skipped or stopped for the time limit: the result is not final


class _Run:
    """One run of a suite on one rank; rank 0 keeps the results and the store."""

    def __init__(self, planned: list[PlannedProbe], seed: int, time_limit_s: float | None, comm: Comm,
                 store: ResultStore | None, on_start: Callable[[str], None] | None,
                 on_done: Callable[[dict[str, Any], bool], None] | None, on_cell: CellCallback | None = None) -> None:
        self.planned, self.seed, self.time_limit_s, self.comm, self.store = planned, seed, time_limit_s, comm, store
        self.on_start, self.on_done, self.on_cell = on_start, on_done, on_cell
        self.by_key = {p.key: p for p in planned}
        self.probes: dict[str, _Probe] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.resumed: list[str] = []
        self.resumed_cells = 0
        self.spent: dict[str, float] = {}  # seconds this rank spent on each probe's cells
        self.started: set[str] = set()
        self.ctx: ProbeContext | BaseException | None = None
        self.cell_s: dict[tuple[str, int], float | None] = {}  # each task's estimated seconds on this rank
        self.can_skip = True  # skipping for time is a decision of each rank: not under tensor parallelism
        self.finished_cells: dict[str, int] = {}  # cells of each probe this rank finished
        self.timed = [0.0, 0.0]  # seconds estimated and measured of the tasks this rank finished, with estimates
        self.cell_totals: dict[str, int] = {}  # cells of each probe

    @property
    def context(self) -> ProbeContext:
        """The model's probe context: built, since a failed build decides every probe before any runs."""
        if not isinstance(self.ctx, ProbeContext):
            raise RuntimeError(f"a probe ran without its context ({self.ctx!r})")
        return self.ctx

    @property
    def context_or_error(self) -> ProbeContext | BaseException:
        """The probe context, or the error that building it raised."""
        if self.ctx is None:
            raise RuntimeError("a probe ran before its context was built")
        return self.ctx

    # rank 0

    def finish(self, key: str, result: dict[str, Any], resumed: bool = False) -> None:
        self.results[key] = result
        if resumed:
            self.resumed.append(key)
        elif self.store and result["record"]["status"] != "error" and not (
                key in self.probes and self.probes[key].timed_out):  # tried again on a rerun
            self.store.save(key, result)
            if key in self.probes and self.probes[key].cells:
                self.store.discard_cells(key, len(self.probes[key].cells or []))
        if self.on_done:
            self.on_done(result, resumed)

    def plan_cells(self, pending: list[str]) -> list[tuple[str, int]]:
        """Rank 0: each pending probe's cells, the stored ones read back, and the cells left to run, each probe's
        smallest first (a round then holds cells of like size, and where the time limit is short the short
        lengths are the ones that run)."""
        tasks: list[tuple[str, int]] = []
        for key in pending:
            planned = self.by_key[key]
            probe = self.probes[key] = _Probe(planned)
            if isinstance(self.ctx, BaseException):
                probe.decided = run_probe(planned, self.ctx, self.seed, self.time_limit_s)
                continue
            if planned.spec.cells is None:
                tasks.append((key, WHOLE))
                continue
            start = time.perf_counter()
            split = _bounded_outcome(partial(_split, planned, self.context), self.time_limit_s)
            if split.status != "pass" or "cells" not in split.details:  # decided before any cell ran
                probe.decided = make_result(planned, split, self.context.adapter, self.seed,
                                            time.perf_counter() - start, self.time_limit_s)
                continue
            probe.cells = split.details["cells"]
            for index, cell in enumerate(probe.cells):
                stored = (self.store.load_cell(key, index, cell, planned.params, planned.spec.version)
                          if self.store else None)
                if stored is not None:
                    probe.done[index] = stored
                    probe.stored += 1
                    self.resumed_cells += 1
            costs = {i: _cells(planned).cost(cell) for i, cell in enumerate(probe.cells)}
            left = sorted((i for i in range(len(probe.cells)) if i not in probe.done), key=lambda i: costs[i])
            tasks.extend((key, index) for index in left)
        for key in pending:
            self.conclude_if_complete(key)
        return tasks

    def absorb(self, outcome: dict[str, Any] | None) -> None:
        """Rank 0: a task's result, from any rank: saved, and the probe concluded once all its cells are in."""
        if outcome is None:
            return
        key, index = outcome["key"], outcome["index"]
        probe = self.probes[key]
        if index == WHOLE:
            probe.decided = outcome["result"]
        else:
            probe.done[index] = outcome
            probe.timed_out = probe.timed_out or outcome["status"] == SKIPPED_FOR_TIME
            if self.store and outcome["status"] == "ok":
                self.store.save_cell(key, index, outcome)
            if self.on_cell:
                self.on_cell(key, outcome, len(probe.done), len(probe.cells or []))
        self.conclude_if_complete(key)

    def conclude_if_complete(self, key: str) -> None:
        probe = self.probes[key]
        if key in self.results:
            return
        if probe.decided is None and probe.cells is not None and len(probe.done) == len(probe.cells):
            probe.decided = self.conclude(probe)
        if probe.decided is not None:
            self.finish(key, probe.decided)

    def conclude(self, probe: _Probe) -> dict[str, Any]:
        planned, cells = probe.planned, probe.cells or []
        outcomes = [probe.done[i] for i in range(len(cells))]
        start = time.perf_counter()
        inapplicable = [o for o in outcomes if o["status"] == "not-applicable"]
        failed = [o for o in outcomes if o["status"] == "error"]
        timed = [o for o in outcomes if o["status"] == SKIPPED_FOR_TIME]
        skipped_partial = estimator(planned.spec.id).skipped
        if inapplicable:
            outcome = skipped(inapplicable[0]["reason"])
        elif failed:
            first = failed[0]
            outcome = Outcome(status="error", reason=f"{len(failed)} of {len(cells)} cells failed; "
                                                     f"[{cell_label(first['cell'])}] {first['reason']}",
                              details={"failed_cells": [{"cell": o["cell"], "reason": o["reason"],
                                                         **({"traceback": o["traceback"]} if o.get("traceback")
                                                            else {})} for o in failed]})
        elif timed and skipped_partial is None:  # a probe that needs every cell: skipped, its cells kept
            kept = " (kept: a rerun with a longer --probe-timeout resumes from them)" if self.store else ""
            outcome = skipped(f"{timed[0]['reason']}; it needs every cell to conclude, so it is skipped"
                              f"{kept if len(cells) > len(timed) else ''}", cells_skipped_for_time=_listed(timed))
        else:
            partials = [o["partial"] if o["status"] == "ok" else _skipped_cell(skipped_partial, o)
                        for o in outcomes]
            outcome = _bounded_outcome(lambda: _cells(planned).conclude(self.context, planned.params, partials),
                                       self.time_limit_s)
            if timed:
                outcome.details["cells_skipped_for_time"] = _listed(timed)
        duration = sum(o["duration_s"] for o in outcomes) + time.perf_counter() - start
        devices = list(dict.fromkeys(d for o in outcomes for d in o["devices"]))
        estimates = [self.cell_s.get((probe.planned.key, i)) for i in range(len(cells))]
        estimate = sum(e for e in estimates if e is not None) if any(e is not None for e in estimates) else None
        return make_result(planned, outcome, self.context.adapter, self.seed, duration, self.time_limit_s,
                           devices=devices, cells=len(cells), estimate_s=estimate)

    # every rank

    def run_task(self, task: tuple[str, int], cells: list[dict[str, Any]] | None) -> dict[str, Any]:
        key, index = task
        planned = self.by_key[key]
        if self.on_start and self.comm.is_writer and key not in self.started:
            self.on_start(key)
        self.started.add(key)
        budget = self._budget(key)
        estimate = self.cell_s.get(task)
        start = time.perf_counter()
        no_time = self._no_time_for(key, estimate, index == WHOLE)
        if index == WHOLE:
            if no_time is None:
                result = run_probe(planned, self.context_or_error, self.seed, self.time_limit_s, budget_s=budget,
                                   estimate_s=estimate)
            else:
                result = make_result(planned, skipped(no_time), self.context.adapter, self.seed, 0.0,
                                     self.time_limit_s, estimate_s=estimate)
            outcome = {"key": key, "index": WHOLE, "result": result}
        elif no_time is not None:
            outcome = self.skip_cell(planned, index, (cells or [])[index], no_time)
        else:
            outcome = self.run_cell(planned, index, (cells or [])[index], budget)
        took = time.perf_counter() - start
        self.spent[key] = self.spent.get(key, 0.0) + took
        if outcome.get("status") == "ok":
            self.finished_cells[key] = self.finished_cells.get(key, 0) + 1
        if estimate and no_time is None:
            self.timed = [self.timed[0] + estimate, self.timed[1] + took]
        return outcome

    def pace(self) -> float:
        """How much slower (over 1) or faster this rank runs than calibrated, from the tasks it finished: a
        device shared with other work slows down after the calibration."""
        estimated, measured = self.timed
        if estimated < 1.0:
            return 1.0
        return min(10.0, max(0.25, measured / estimated))

    def _limit(self) -> float | None:
        return limits.effective_time_limit(self.time_limit_s)

    def _cells_finished(self, key: str) -> str:
        """`6 of 15 cells` (those this rank finished and those read back from the store)."""
        probe = self.probes.get(key)
        done = self.finished_cells.get(key, 0) + (probe.stored if probe else 0)
        return f"{done} of {self.cell_totals.get(key, 0)} cells"

    def _no_time_for(self, key: str, estimate: float | None, whole: bool) -> str | None:
        """Why the next task of probe `key` is not started (its estimate exceeds what the time limit leaves, or
        nothing is left); None: it runs."""
        limit = self._limit()
        if limit is None or not self.can_skip:
            return None
        left = limit - self.spent.get(key, 0.0)
        estimate = None if estimate is None else estimate * self.pace()
        where = self._where()
        if whole:
            if estimate is not None and estimate > left:
                return f"not started: estimated {about(estimate)} {where}, over the {limit:g} s time limit"
            return None
        if left <= 0.0:
            return f"stopped at the {limit:g} s time limit after {self._cells_finished(key)}"
        if estimate is not None and estimate > left:
            return (f"not started: estimated {about(estimate)} {where}, more than the {left:.0f} s the {limit:g} s "
                    f"time limit left after {self._cells_finished(key)}")
        return None

    def _where(self) -> str:
        device = str(getattr(getattr(self.ctx, "adapter", None), "device", "cpu"))
        return "on this CPU" if device.startswith("cpu") else f"on {device}"

    def skip_cell(self, planned: PlannedProbe, index: int, cell: dict[str, Any], reason: str) -> dict[str, Any]:
        """The outcome of a cell that is not run for the time limit."""
        ctx = self.ctx
        assert isinstance(ctx, ProbeContext)
        return {"key": planned.key, "index": index, "cell": cell, "params": planned.params, "rank": self.comm.rank,
                "devices": device_names(ctx.adapter), "status": SKIPPED_FOR_TIME, "reason": reason,
                "duration_s": 0.0}

    def _budget(self, key: str) -> float | None:
        """What this probe's time limit leaves for its next cell on this rank (never nothing: a cell that starts
        gets at least a second)."""
        if not self.time_limit_s or self.time_limit_s <= 0:
            return self.time_limit_s
        return max(1.0, self.time_limit_s - self.spent.get(key, 0.0))

    def run_cell(self, planned: PlannedProbe, index: int, cell: dict[str, Any],
                 budget: float | None) -> dict[str, Any]:
        ctx = self.ctx
        assert isinstance(ctx, ProbeContext)
        outcome: dict[str, Any] = {"key": planned.key, "index": index, "cell": cell, "params": planned.params,
                                   "version": planned.spec.version, "rank": self.comm.rank,
                                   "devices": device_names(ctx.adapter)}
        start = time.perf_counter()
        try:
            outcome["partial"] = call_bounded(lambda: as_json(_cells(planned).measure(ctx, planned.params, cell)),
                                              budget)
            outcome["status"] = "ok"
        except NotApplicable as reason:
            outcome.update(status="not-applicable", reason=str(reason))
        except ProbeTimedOut:
            finished = self._cells_finished(planned.key)
            outcome.update(status=SKIPPED_FOR_TIME,
                           reason=f"stopped at the {self._limit():g} s time limit after {finished}")
        except ProbeAborted as error:
            outcome.update(status="error", reason=_reason(error))
        except Exception as error:
            outcome.update(status="error", reason=_reason(error),
                           traceback=traceback.format_exc(limit=-3).splitlines()[-6:])
        outcome["duration_s"] = round(time.perf_counter() - start, 4)
        return outcome


def _listed(timed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"cell": o["cell"], "reason": o["reason"]} for o in timed]


def _split(planned: PlannedProbe, ctx: Any) -> Outcome:
    """The probe's cells, carried in an Outcome (details.cells), or the Outcome that decides it without any."""
    cells = _cells(planned).split(ctx, planned.params)
    if isinstance(cells, Outcome):
        return cells
    return Outcome(status="pass", details={"cells": as_json(cells)})


def _agree_on_context(comm: Comm, make_context: Callable[[], ProbeContext]) -> ProbeContext | BaseException:
    """Every rank prepares the model. Bad input on any rank stops every rank; any other failure makes every probe
    an error that says which rank could not prepare the model and why."""
    try:
        ctx: ProbeContext | BaseException = call_bounded(make_context)
    except ModelcardError as error:
        if comm.world_size == 1:
            raise
        ctx = error
    except Exception as error:  # a twin that cannot be built or run: every probe says why, no crash
        ctx = error
    if comm.world_size == 1:
        return ctx
    states = comm.all_gather(None if not isinstance(ctx, BaseException) else
                             (getattr(ctx, "exit_code", None) if isinstance(ctx, ModelcardError) else None,
                              _reason(ctx)))
    for rank, state in enumerate(states):
        if state is not None and state[0] is not None:
            if rank == comm.rank:
                raise ctx  # type: ignore[misc]
            raise RankStopped(state[0], f"rank {rank}: {state[1]}")
    failed = [(rank, state) for rank, state in enumerate(states) if state is not None]
    if failed and not isinstance(ctx, BaseException):
        rank, state = failed[0]
        return RuntimeError(f"rank {rank} could not prepare the model: {state[1]}")
    return ctx


def run_suite(suite: Suite, make_context: Callable[[], ProbeContext], seed: int, folder: Path | None = None,
              identity: dict[str, Any] | None = None,
              on_start: Callable[[str], None] | None = None,
              on_done: Callable[[dict[str, Any], bool], None] | None = None,
              time_limit_s: float | None = DEFAULT_TIME_LIMIT_S, comm: Comm = SOLO,
              on_plan: Callable[[SuiteEstimate], None] | None = None,
              on_cell: CellCallback | None = None) -> SuiteResult | None:
    """`make_context` is called only when a probe has to run (a complete rerun loads no model). Each probe
    runs under `time_limit_s` seconds (None or 0: no limit); building the context has no limit, but a
    SystemExit or KeyboardInterrupt from the model's code there is an error of every probe, not the end.
    `on_plan` gets the suite's time estimate before the first probe starts; `on_cell(key, outcome, done, cells)`
    each cell of a probe as it finishes (its outcome's `status`: ok, error, not-applicable or skipped-time).

    Under torchrun (`comm` from modelcard.probe.distributed.session) every rank calls this; rank 0 alone touches
    `folder`, calls `on_start` / `on_done` and gets the SuiteResult; the other ranks get None."""
    planned = suite.planned
    run = _Run(planned, seed, time_limit_s, comm, None, on_start, on_done, on_cell)

    def open_store() -> list[str]:
        finished = {}
        if folder is not None:
            run.store = ResultStore(folder, {**(identity or {}), "suite": suite.name,
                                             "suite_digest": suite_digest(planned)})
            run.store.start()
            finished = {p.key: stored for p in planned
                        if (stored := run.store.load(p.key, p.params, p.spec.version)) is not None}
        for key, stored in finished.items():
            run.finish(key, stored, resumed=True)
        return [p.key for p in planned if p.key not in finished]

    pending = on_writer(comm, open_store)
    if pending:
        run.ctx = _agree_on_context(comm, make_context)
        tasks, cells = on_writer(comm, lambda: (run.plan_cells(pending),
                                                 {key: probe.cells for key, probe in run.probes.items()}))
        if not isinstance(run.ctx, BaseException):
            estimate = plan_time(run, suite.name, tasks, cells)
            if on_plan and comm.is_writer:
                on_plan(estimate)
            _run_rounds(run, tasks, cells)
    if not comm.is_writer:
        return None
    outcome = SuiteResult(suite=suite, time_limit_s=limits.effective_time_limit(time_limit_s),
                          time_limit_note=limits.time_limit_note(time_limit_s), world_size=comm.world_size,
                          resumed_cells=run.resumed_cells)
    for item in planned:
        result = run.results[item.key]
        outcome.results.append(result)
        outcome.twin = outcome.twin or result["record"].get("twin", False)
    outcome.resumed = [p.key for p in planned if p.key in run.resumed]
    return outcome


def plan_time(run: _Run, name: str, tasks: list[tuple[str, int]], cells: dict[str, Any]) -> SuiteEstimate:
    """Every rank: the seconds of each task on this rank's model (calibrated here, unless the suite is seconds of
    arithmetic for this model), kept in `run.cell_s`; returns the suite's estimate."""
    from modelcard.probe.timing import ProbeEstimate, calibrate, parameter_count, work_of

    ctx = run.ctx
    assert isinstance(ctx, ProbeContext)
    run.can_skip = run.comm.world_size == 1 or run.comm.split_cells
    works = {task: work_of(run.by_key[task[0]].spec.id, ctx, run.by_key[task[0]].params,
                           None if task[1] == WHOLE else cells[task[0]][task[1]]) for task in tasks}
    for key, listed in cells.items():
        run.cell_totals[key] = len(listed or [])
    tokens = sum(f.token_count for work in works.values() if work for f in work)
    device = str(ctx.adapter.device)
    estimate = SuiteEstimate(suite=name, device=device, probes=[],
                             ranks=run.comm.world_size if run.comm.split_cells else 1)
    flops = 2.0 * parameter_count(ctx.adapter.model) * tokens
    if flops < UNCALIBRATED_FLOPS:
        estimate.note = (f"not calibrated: {tokens:,.0f} tokens of work through a model of "
                         f"{parameter_count(ctx.adapter.model):,} parameters, too little to be worth timing")
    else:
        longest = max((f.tokens for work in works.values() if work for f in work), default=None)
        try:
            estimate.calibration = call_bounded(lambda: calibrate(ctx.adapter, longest, adaptive=run.can_skip),
                                                run.time_limit_s)
        except Exception as error:  # a model whose forward fails here fails in its probes: they say why
            estimate.note = f"no estimate: the calibration forward failed ({_reason(error)})"
    if estimate.calibration is not None:
        run.cell_s = {task: None if work is None else estimate.calibration.seconds(work)
                      for task, work in works.items()}
    by_key: dict[str, ProbeEstimate] = {}
    for plan_ in run.planned:
        probe = run.probes.get(plan_.key)
        decided = probe is None or probe.decided is not None
        by_key[plan_.key] = ProbeEstimate(plan_.key, decided=decided)
    for task in tasks:
        by_key[task[0]].cells.append(run.cell_s.get(task))
    estimate.probes = list(by_key.values())
    return estimate


def _run_rounds(run: _Run, tasks: list[tuple[str, int]], cells: dict[str, Any]) -> None:
    """Round after round, rank r runs the r-th task of the round; rank 0 saves its own result before gathering
    the others'. Under tensor parallelism every rank runs every task (a round of one)."""
    comm = run.comm
    width = comm.world_size if comm.split_cells else 1
    for start in range(0, len(tasks), width):
        batch = tasks[start:start + width]
        slot = comm.rank if comm.split_cells else 0
        mine = run.run_task(batch[slot], cells.get(batch[slot][0])) if slot < len(batch) else None
        if comm.is_writer:
            run.absorb(mine)
        if comm.split_cells and comm.world_size > 1:
            gathered = comm.gather(mine)
            if comm.is_writer:
                for outcome in (gathered or [])[1:]:
                    run.absorb(outcome)
