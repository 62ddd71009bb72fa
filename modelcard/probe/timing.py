"""Time you can plan: a probe suite's duration estimated before it runs, from the model's own speed.

- Work: what a probe (or one of its cells) asks of the model, as forwards (`Forward`: new tokens, the keys they
  attend over, how many, through what share of the layers). A probe registers its estimate with `register`
  (modelcard.probe.estimates does it for the built-in probes); a cell that names a `length` and has no estimate
  counts as one forward of that length.
- Calibration: one warm-up forward, then forwards at a short and two longer lengths, timed; the seconds of a
  forward are fitted as `overhead + a * tokens + b * tokens * keys` (attention is quadratic in the length, so
  the estimate grows with it). The runner also keeps the pace of the cells it finished against their estimates,
  so that a device that slowed down after the calibration (shared with other work) skips for time truthfully.
- A suite that is little arithmetic for its model (a tiny model, a few short probes) is not calibrated: its
  estimate says so.

The runner uses the per-cell seconds to skip, before it starts, a cell that cannot finish in what the probe's time
limit leaves."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modelcard.base.wording import number

CALIBRATION_LENGTHS = (16, 256, 1024)
LONG_CALIBRATION_S = 15.0  # the long forward is not run when it would take longer (a big model on a CPU)
# Below this many floating-point operations (2 x parameters x tokens) a suite is too little work to be worth
# timing the model for (a test's tiny module, the demo with a few probes).
UNCALIBRATED_FLOPS = 2e10


@dataclass(frozen=True)
class Forward:
    """`count` forwards of a batch of `batch` rows of `tokens` new tokens attending over `keys` (None: the tokens
    themselves, a forward from scratch), through `depth` of the model's layers."""

    tokens: int
    keys: int | None = None
    count: float = 1.0
    depth: float = 1.0
    batch: int = 1

    @property
    def token_count(self) -> float:
        return self.count * self.batch * self.tokens * self.depth


Work = list[Forward]
WholeEstimate = Callable[[Any, dict[str, Any]], Work]
CellEstimate = Callable[[Any, dict[str, Any], dict[str, Any]], Work]
SkippedPartial = Callable[[dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Estimator:
    """A probe's estimate of its work: whole (a probe that runs whole) or per cell; and, for a probe whose
    conclusion can stand without some cells, the partial of a cell that did not run."""

    whole: WholeEstimate | None = None
    cell: CellEstimate | None = None
    skipped: SkippedPartial | None = None


ESTIMATORS: dict[str, Estimator] = {}


def register(probe_id: str, whole: WholeEstimate | None = None, cell: CellEstimate | None = None,
             skipped: SkippedPartial | None = None) -> None:
    """Register probe `probe_id`'s work estimate (and, optionally, how a cell skipped for time reads).

    Args:
        probe_id: the registered probe id.
        whole: `whole(ctx, params)`, the work of a probe that runs whole.
        cell: `cell(ctx, params, cell)`, the work of one of its cells.
        skipped: `skipped(cell, reason)`, the partial result of a cell that did not run; without it a probe
            with a cell skipped for time concludes as skipped, its finished cells kept for a rerun.
    """
    ESTIMATORS[probe_id] = Estimator(whole=whole, cell=cell, skipped=skipped)


def estimator(probe_id: str) -> Estimator:
    """The registered estimator of `probe_id` (an empty one when it has none)."""
    import modelcard.probe.estimates  # noqa: F401  # registers the built-in probes' estimates

    return ESTIMATORS.get(probe_id, Estimator())


def work_of(probe_id: str, ctx: Any, params: dict[str, Any], cell: dict[str, Any] | None = None) -> Work | None:
    """The forwards a probe (cell None) or one of its cells asks for; None when it cannot be told.

    Args:
        probe_id: the probe.
        ctx: the probe context (the model, its facts).
        params: the probe's full parameters.
        cell: one of its cells, or None for a probe that runs whole.

    Returns:
        The work, or None when the probe registered no estimate and the cell names no length.
    """
    found = estimator(probe_id)
    try:
        if cell is None:
            return found.whole(ctx, params) if found.whole else None
        if found.cell:
            return found.cell(ctx, params, cell)
    except (KeyError, TypeError, ValueError):  # parameters the estimate does not understand: no estimate
        return None
    return [Forward(int(cell["length"]))] if isinstance(cell.get("length"), int) else None


@dataclass(frozen=True)
class Calibration:
    """Seconds of a forward: `overhead_s + per_token_s * tokens + per_token_key_s * tokens * keys`, fitted to
    forwards timed on the model (`points`: (tokens, seconds))."""

    overhead_s: float
    per_token_s: float
    per_token_key_s: float
    points: tuple[tuple[int, float], ...] = ()
    device: str = "cpu"

    def forward_s(self, forward: Forward) -> float:
        keys = forward.tokens if forward.keys is None else forward.keys
        one = self.overhead_s + forward.batch * forward.tokens * (self.per_token_s + self.per_token_key_s * keys)
        return forward.count * forward.depth * one

    def seconds(self, work: Work) -> float:
        """The estimated wall time of `work`.

        Args:
            work: the forwards.

        Returns:
            Seconds.
        """
        return sum(self.forward_s(f) for f in work)

    def tokens_per_second(self, length: int) -> float:
        return length / self.forward_s(Forward(length))

    def describe(self) -> str:
        """`330 tokens/s at 256 tokens, 250 at 1,024`."""
        rates = [f"{number(round(n / s)) if s > 0 else 'inf'}" for n, s in self.points if n > 16]
        lengths = [n for n, _ in self.points if n > 16]
        if not lengths:
            return "no timed forward"
        parts = [f"{rates[0]} tokens/s at {lengths[0]:,} tokens"]
        parts += [f"{rate} at {n:,}" for rate, n in zip(rates[1:], lengths[1:], strict=True)]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"overhead_s": self.overhead_s, "per_token_s": self.per_token_s,
                "per_token_key_s": self.per_token_key_s, "points": [list(p) for p in self.points],
                "device": self.device}


def fit(points: list[tuple[int, float]], device: str = "cpu") -> Calibration:
    """The forward-time model through timed forwards from scratch (keys = tokens), least squares with every
    coefficient kept non-negative (a noisy timing never makes a longer forward cheaper).

    Args:
        points: (tokens, seconds) of forwards from scratch; at least one.
        device: where they ran, for the estimate's wording.

    Returns:
        The calibration.
    """
    import numpy as np

    xs = np.array([[1.0, n, float(n) * n] for n, _ in points])
    ys = np.array([s for _, s in points])
    best: tuple[float, Any] | None = None
    # every subset whose fit is all non-negative, least error first; each keeps a per-token cost, so noisy timings
    # of a tiny model (overhead alone fits them best) never make a forward of any length cost the same
    for used in ([0, 1, 2], [0, 1], [1, 2], [1]):
        coefficients, *_ = np.linalg.lstsq(xs[:, used], ys, rcond=None)
        if (coefficients < 0).any():
            continue
        full = np.zeros(3)
        full[used] = coefficients
        error = float(((xs @ full - ys) ** 2).sum())
        if best is None or error < best[0] - 1e-15:
            best = (error, full)
    overhead, per_token, per_key = best[1] if best else (0.0, 0.0, 0.0)
    return Calibration(float(overhead), float(per_token), float(per_key), tuple(points), device)


def calibrate(adapter: Any, longest: int | None = None, adaptive: bool = True) -> Calibration:
    """Time forwards on the model: a warm-up, then `CALIBRATION_LENGTHS` (none over `longest` or the model's
    window) and fit them. A length whose forward would take over LONG_CALIBRATION_S by the shorter ones is not run
    (a big model on a CPU); the attention term then comes from the model's arithmetic (`attention_share`).

    Args:
        adapter: the model.
        longest: the longest input the suite needs; None: no cap.
        adaptive: skip a slow long forward (off under tensor parallelism, where every rank must run the same
            forwards).

    Returns:
        The calibration.
    """
    import torch

    caps = [n for n in (longest, adapter_window(adapter)) if n]
    cap = min(caps) if caps else None
    lengths = [n for n in CALIBRATION_LENGTHS if cap is None or n <= max(cap, CALIBRATION_LENGTHS[0])]
    generator = torch.Generator().manual_seed(12345)

    def timed(length: int) -> float:
        ids = torch.randint(0, adapter.vocab_size, (1, length), generator=generator)
        start = time.perf_counter()
        adapter.outputs(ids)
        if adapter.device.type == "cuda":
            torch.cuda.synchronize(adapter.device)
        return time.perf_counter() - start

    timed(lengths[0])  # warm-up: the first forward pays one-time costs
    points: list[tuple[int, float]] = []
    for length in lengths:
        if adaptive and len(points) >= 2 and _linear(points).forward_s(Forward(length)) > LONG_CALIBRATION_S:
            fitted = _linear(points)
            return replace(fitted, per_token_key_s=fitted.per_token_s * attention_share(adapter))
        # a short forward is cheap and its timing noisy: the mean of two
        points.append((length, statistics.fmean(timed(length) for _ in range(2 if length < 256 else 1))))
    return fit(points, str(adapter.device))


def _linear(points: list[tuple[int, float]]) -> Calibration:
    fitted = fit(points)
    return replace(fitted, per_token_key_s=0.0) if fitted.per_token_key_s else fitted


def attention_share(adapter: Any) -> float:
    """Where the long forward is not timed: the cost of one (token, key) pair of attention against one token
    through the weights, from their arithmetic (4 x hidden per layer against 2 x parameters)."""
    config = getattr(adapter, "config", None)
    hidden = getattr(config, "hidden_size", None) or 0
    layers = getattr(config, "num_hidden_layers", None) or 0
    parameters = parameter_count(adapter.model)
    return 4.0 * hidden * layers / (2.0 * parameters) if parameters else 0.0


def adapter_window(adapter: Any) -> int | None:
    """The longest input the model's config allows, when it says."""
    value = getattr(getattr(adapter, "config", None), "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# The suite's plan.


@dataclass
class ProbeEstimate:
    """One probe's estimate: the seconds of each of its cells (one entry for a probe that runs whole; None where
    unknown)."""

    key: str
    cells: list[float | None] = field(default_factory=list)
    decided: bool = False  # already decided (resumed, or skipped before any cell): costs nothing now

    @property
    def seconds(self) -> float | None:
        if self.decided:
            return 0.0
        known = [s for s in self.cells if s is not None]
        return sum(known) if known else None


@dataclass
class SuiteEstimate:
    suite: str
    device: str
    probes: list[ProbeEstimate]
    calibration: Calibration | None = None
    note: str | None = None  # why there is no calibration
    ranks: int = 1  # torch.distributed ranks that share the cells out

    @property
    def total_s(self) -> float:
        """The wall time: the work's seconds, shared by the ranks."""
        return sum(p.seconds or 0.0 for p in self.probes) / max(1, self.ranks)

    def unknown(self) -> list[str]:
        return [p.key for p in self.probes if p.seconds is None]

    def headline(self) -> str:
        """`estimate: quick on this CPU: about 2 min (calibrated: 330 tokens/s at 256 tokens, 250 at 1,024)`."""
        where = "this CPU" if self.device.startswith("cpu") else self.device
        if self.calibration is None:
            return f"estimate: {self.suite} on {where}: {self.note or 'not calibrated'}"
        shared = f" with {self.ranks} ranks sharing the cells" if self.ranks > 1 else ""
        text = f"estimate: {self.suite} on {where}{shared}: {about(self.total_s)}"
        if self.unknown():
            text += f" and {', '.join(self.unknown())} (no estimate)"
        return text + f" (calibrated: {self.calibration.describe()})"

    def lines(self) -> list[str]:
        """The headline, then one line per probe."""
        rows = [self.headline()]
        if self.calibration is None:
            return rows
        for probe in self.probes:
            cells = f" ({len(probe.cells)} cells)" if len(probe.cells) > 1 else ""
            shown = "already done" if probe.decided else (
                "no estimate" if probe.seconds is None else about(probe.seconds))
            rows.append(f"  {probe.key:<22} {shown}{cells}")
        return rows


def about(seconds: float) -> str:
    """`about 40 s`, `about 3 min`, `about 1.5 h`."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
