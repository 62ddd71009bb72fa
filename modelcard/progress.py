"""What a long command says on stderr while it works and when it is done. On a terminal: a bar over the stages
with the probe at work beside it, gone when the command ends. Off a terminal (a CI log): no bar, one plain line
per finished probe, each once. Then where the card is and what it found, in words and counts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from modelcard.wording import number, plural


def probe_line(record: dict[str, Any], resumed: bool = False) -> str:
    """`  pass     mask-leak            lookahead = 0 tokens (0.04 s)`."""
    status = "resumed" if resumed else record["status"]
    value = record.get("value")
    shown = number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    result = f"{record['metric']} = {shown}{' ' + record['unit'] if record.get('unit') else ''}" \
        if record.get("metric") and value is not None else (record.get("reason") or "")
    duration = record.get("duration_s")
    timing = f" ({duration:.2f} s)" if isinstance(duration, (int, float)) else ""
    return f"  {status:<8} {record['id']:<22} {result}{timing}".rstrip()


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
