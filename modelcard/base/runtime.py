"""Facts about the process this run lives in, read from its environment: whether a launcher (torchrun,
accelerate launch) started it with other ranks, which rank and device it is, and how much CPU memory is free.
Loading and probing both read them, so they sit below both; joining the ranks' process group is the probe
stage's (`modelcard.probe.distributed`)."""

from __future__ import annotations

import os
from pathlib import Path

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether a launcher started this process with other ranks.

    Returns:
        True when torchrun or accelerate launch set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, with a world of
        more than one rank.
    """
    if not all(os.environ.get(name) for name in LAUNCH_VARIABLES):
        return False
    try:
        return int(os.environ["WORLD_SIZE"]) > 1
    except ValueError:
        return False


def local_rank() -> int:
    """This process's rank on its own machine (LOCAL_RANK; 0 without a launcher)."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0")) if launched() else 0
    except ValueError:
        return 0


def rank_device(device: str) -> str:
    """The device a rank loads on.

    Args:
        device: what the user named (`cpu`, `cuda`, `cuda:1`, ...).

    Returns:
        `cuda:LOCAL_RANK` for a plain `cuda` under a launcher, so that each rank takes its own GPU; otherwise
        `device` unchanged.
    """
    if launched() and device == "cuda":
        return f"cuda:{local_rank()}"
    return device


def cpu_available_bytes() -> int | None:
    """CPU memory free for a new allocation: the system's available memory, capped by the container's limit.

    Returns:
        Bytes, or None where neither psutil, /proc/meminfo nor the cgroup can tell.
    """
    try:
        import psutil

        available: int | None = int(psutil.virtual_memory().available)
    except ImportError:
        available = _meminfo_available()
    limit = _cgroup_available()
    if limit is not None:
        available = limit if available is None else min(available, limit)
    return available


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """A container's memory limit (cgroup v2) less what it uses, page cache counted as free."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        used = int((root / "memory.current").read_text(encoding="ascii"))
        stat = dict(line.split() for line in (root / "memory.stat").read_text(encoding="ascii").splitlines())
        return max(0, int(limit) - used + int(stat.get("inactive_file", 0)))
    except (OSError, ValueError):
        return None
