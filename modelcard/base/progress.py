"""What a long command says on stderr while it works and when it is done. Before the first probe: the suite's
time estimate, per probe and in total. On a terminal: a bar over the stages (or the cells) with the probe at
work beside it, gone when the command ends. Off a terminal (a CI log): no bar, one plain line per finished cell
of a probe that has cells and per finished probe, each once. Then where the card is and what it found, in words
and counts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from modelcard.base.wording import number, plural


def probe_line(record: dict[str, Any], resumed: bool = False) -> str:
    """`  pass     mask-leak            lookahead = 0 tokens (0.04 s; estimated 1 s)`."""
    status = "resumed" if resumed else record["status"]
    value = record.get("value")
    shown = number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    result = f"{record['metric']} = {shown}{' ' + record['unit'] if record.get('unit') else ''}" \
        if record.get("metric") and value is not None else (record.get("reason") or "")
    duration = record.get("duration_s")
    estimate = record.get("estimate_s")
    planned = f"; estimated {estimate:.0f} s" if isinstance(estimate, (int, float)) and not resumed else ""
    timing = f" ({duration:.2f} s{planned})" if isinstance(duration, (int, float)) else ""
    return f"  {status:<8} {record['id']:<22} {result}{timing}".rstrip()


def cell_line(key: str, outcome: dict[str, Any], done: int, total: int) -> str:
    """`  cell     passkey-grid           length=256 depth=0.0: 3 of 15 (4.21 s)`; a cell that did not finish says
    why."""
    from modelcard.base.wording import cell_label

    status = {"ok": "cell", "skipped-time": "skipped", "not-applicable": "skipped"}.get(outcome["status"],
                                                                                       outcome["status"])
    why = f" - {outcome['reason']}" if outcome.get("reason") else ""
    duration = outcome.get("duration_s")
    timing = f" ({duration:.2f} s)" if isinstance(duration, (int, float)) and outcome["status"] != "skipped-time" \
        else ""
    return f"  {status:<8} {key:<22} {cell_label(outcome.get('cell'))}: {done} of {total}{timing}{why}"


def estimate_lines(estimate: Any) -> list[str]:
    """The suite's estimate (modelcard.probe.timing.SuiteEstimate) as printed before the first probe."""
    return list(estimate.lines())


class StageBar:
    """A bar over named stages, with the item a stage is working on (a probe id) beside it, on a terminal;
    elsewhere one line per finished probe."""

    def __init__(self, stages: Sequence[str], desc: str, stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        self.stages = list(stages)
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar: Any = tqdm(total=len(self.stages), desc=desc, unit="step", file=self.stream, leave=False,
                             disable=not self.interactive)

    def stage(self, name: str) -> None:
        self.bar.n = self.stages.index(name)
        self.bar.set_postfix_str(name)

    def detail(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def finished(self, record: dict[str, Any], resumed: bool = False) -> None:
        """A probe finished: a line in a log; on a terminal the bar already shows the next one."""
        if not self.interactive:
            print(probe_line(record, resumed), file=self.stream, flush=True)

    def planned(self, estimate: Any) -> None:
        """The suite's time estimate, before the first probe: printed in a log and above the bar alike."""
        _say(self.bar, self.stream, self.interactive, estimate_lines(estimate))

    def cell(self, key: str, outcome: dict[str, Any], done: int, total: int) -> None:
        """A cell finished: a line in a log; on a terminal, beside the bar."""
        if self.interactive:
            self.bar.set_postfix_str(f"probe {key}: {done} of {total} cells")
        else:
            print(cell_line(key, outcome, done, total), file=self.stream, flush=True)

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.n = self.bar.total
        self.bar.close()


def counts(record: dict[str, Any]) -> str:
    """`6 probes: 5 pass, 1 fail; 3 findings: 1 error, 2 warnings`."""
    probes = record["probes"]
    statuses = [(status, sum(p["status"] == status for p in probes)) for status in ("pass", "fail", "error",
                                                                                    "skipped")]
    text = plural(len(probes), "probe") + ": " + ", ".join(f"{n} {s}" for s, n in statuses if n) if probes \
        else "no probes ran"
    findings = record["findings"]
    levels = [(level, sum(f["severity"] == level for f in findings)) for level in ("error", "warning", "info")]
    if findings:
        text += f"; {plural(len(findings), 'finding')}: " + ", ".join(
            plural(n, level, "info" if level == "info" else None) for level, n in levels if n)
    return text + ("" if findings else "; no findings")


def written(folder: Path, names: Sequence[str]) -> str:
    """`card written to card/: README.md, card.html, card.json and 1 chart (modelcard-kv-cache.png)`."""
    charts = [name for name in names if name.endswith(".png")]
    files = sorted(name for name in names if name not in charts)
    text = f"card written to {folder}/: {', '.join(files)}"
    if charts:
        text += f" and {plural(len(charts), 'chart')} ({', '.join(charts)})"
    return text


def _say(bar: Any, stream: TextIO, interactive: bool, lines: list[str]) -> None:
    for line in lines:
        if interactive:
            bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)


class ProbeBar:
    """`modelcard probe`'s progress: the estimate first; on a terminal a bar over the suite's cells (a probe
    that runs whole is one) with the probe at work beside it; in a log one line per finished cell and probe."""

    def __init__(self, probes: int, stream: TextIO | None = None, disable: bool | None = None) -> None:
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        self.probes = probes
        self.bar: Any = tqdm(total=probes, desc="probe", unit="probe", file=self.stream, leave=False,
                             disable=disable)
        self.listed = bool(self.bar.disable)  # each finished probe's line is written as it finishes
        self.with_cells: set[str] = set()

    @property
    def interactive(self) -> bool:
        return not self.bar.disable

    def planned(self, estimate: Any) -> None:
        _say(self.bar, self.stream, self.interactive, estimate_lines(estimate))
        cells = sum(max(1, len(p.cells)) for p in estimate.probes if not p.decided)
        done = sum(1 for p in estimate.probes if p.decided)
        self.bar.reset(total=cells + done)
        self.bar.unit = "cell"
        self.bar.update(done)

    def started(self, key: str) -> None:
        self.bar.set_postfix_str(key)

    def cell(self, key: str, outcome: dict[str, Any], done: int, total: int) -> None:
        self.with_cells.add(key)
        if self.interactive:
            self.bar.set_postfix_str(f"{key}: {done} of {total} cells")
            self.bar.update(1)
        else:
            print(cell_line(key, outcome, done, total), file=self.stream, flush=True)

    def done(self, result: dict[str, Any], resumed: bool) -> None:
        if not self.interactive:
            print(probe_line(result["record"], resumed), file=self.stream, flush=True)
        elif result["record"]["id"] and not result["record"].get("cells"):
            self.bar.update(1)

    def __enter__(self) -> ProbeBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
