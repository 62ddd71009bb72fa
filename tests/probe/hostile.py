"""Custom modules whose forward misbehaves the way hostile or buggy code does: it calls sys.exit, raises
KeyboardInterrupt or GeneratorExit, sleeps or spins forever. Each does it on its first `times` forward calls
and then behaves like tinymodels.TinyLM, so a suite shows the probe that met it erring and the next one passing.
Each is importable as a `hostile:<factory>` model spec."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from tinymodels import TinyLM

# Set when a `slow` forward starts: a test waits on it before it sends SIGINT.
FORWARD_STARTED = threading.Event()


class Hostile(TinyLM):
    def __init__(self, action: str, times: int = 1) -> None:
        super().__init__()
        self.action, self.times, self.calls = action, times, 0

    def forward(self, input_ids, cache=None, use_cache: bool = False):
        self.calls += 1
        if self.calls <= self.times:
            FORWARD_STARTED.set()
            if self.action == "exit":
                sys.exit(0)
            if self.action == "interrupt":
                raise KeyboardInterrupt
            if self.action == "generator-exit":
                raise GeneratorExit
            if self.action == "sleep":
                time.sleep(1e9)
            if self.action == "spin":
                while True:
                    pass
            if self.action == "swallow":  # catches the first time-out and goes on hanging
                with contextlib.suppress(BaseException):
                    time.sleep(1e9)
                time.sleep(1e9)
            if self.action == "slow":
                time.sleep(3)
        return super().forward(input_ids, cache=cache, use_cache=use_cache)


def exits_once() -> Hostile:
    return Hostile("exit")


def interrupts_once() -> Hostile:
    return Hostile("interrupt")


def generator_exit_once() -> Hostile:
    return Hostile("generator-exit")


def sleeps_once() -> Hostile:
    return Hostile("sleep")


def spins_once() -> Hostile:
    return Hostile("spin")


def swallows_timeouts_once() -> Hostile:
    return Hostile("swallow")


def slow() -> Hostile:
    return Hostile("slow", times=10 ** 9)


def counting() -> Hostile:
    """Behaves, and counts its forward calls in `calls`."""
    return Hostile("none", times=0)
