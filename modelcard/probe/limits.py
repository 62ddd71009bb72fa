"""Bounded probe runs: a per-probe time limit, and the model's own `SystemExit`, `KeyboardInterrupt` or other
BaseException turned into an error the runner records, while a real Ctrl-C from the user still stops the run.

A hang in pure Python (`while True: pass`, `time.sleep(1e9)` in a custom forward) cannot be stopped from another
thread, so the limit is a SIGALRM timer whose handler raises in the main thread, where the probe runs. Outside
the main thread (or where there is no SIGALRM) the probe runs without a limit, and the record says so."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

DEFAULT_TIME_LIMIT_S = 900.0
# After the limit, the alarm fires again this often until the probe has stopped: model code that swallows the
# first one (`except BaseException: pass` in a loop) is interrupted again.
REFIRE_S = 1.0

T = TypeVar("T")


class ProbeTimeout(BaseException):  # noqa: N818 - raised by the alarm; a BaseException so `except Exception` in
    """The probe ran past its time limit."""  # the model's code cannot swallow it


class ProbeAborted(Exception):  # noqa: N818 - a verdict the runner records as the probe's `error` reason
    """The probe was stopped: it ran past its time limit, or the code it ran raised SystemExit, KeyboardInterrupt
    (not the user's Ctrl-C) or another BaseException that is not an Exception."""


class ProbeTimedOut(ProbeAborted):
    """The probe ran past its time limit (a ProbeAborted: a caller that does not tell them apart records it the
    same way)."""


def can_time_limit() -> bool:
    """A SIGALRM timer can be armed here: the main thread of a platform with `setitimer`."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def effective_time_limit(seconds: float | None) -> float | None:
    """The limit a probe really runs under here: `seconds`, or None when it is off (None or 0) or cannot be
    enforced in this thread."""
    return float(seconds) if seconds and seconds > 0 and can_time_limit() else None


def time_limit_note(seconds: float | None) -> str | None:
    """What a reader of the record should know when the requested limit was not enforced."""
    if not seconds or seconds <= 0:
        return "no per-probe time limit was set"
    if not can_time_limit():
        return ("no per-probe time limit was enforced: the probes ran outside the main thread (or on a platform "
                "without SIGALRM), where a hung probe cannot be interrupted")
    return None


@dataclass
class _State:
    armed: bool = True
    user_interrupt: bool = False
    restored: bool = False


def call_bounded(run: Callable[[], T], seconds: float | None = None) -> T:
    """`run()` under a time limit of `seconds` (None: none), in the main thread where it can be enforced.

    Raises KeyboardInterrupt only for the user's own Ctrl-C (SIGINT during the call); ProbeAborted (an Exception,
    with a one-line reason) for a time-out or a SystemExit / KeyboardInterrupt / other BaseException raised by
    the code it ran. Every Exception of `run()` passes through unchanged. The previous SIGINT and SIGALRM
    handlers and any previous ITIMER_REAL timer are restored afterwards."""
    state = _State()
    limit = effective_time_limit(seconds)
    main = threading.current_thread() is threading.main_thread()
    previous_int: Any = None
    previous_alarm: Any = None
    previous_timer: tuple[float, float] = (0.0, 0.0)
    started = time.monotonic()

    def on_alarm(signum: int, frame: Any) -> None:
        if state.armed:
            raise ProbeTimeout(limit)

    def on_interrupt(signum: int, frame: Any) -> None:
        """A SIGINT from outside (the user's Ctrl-C), told apart from a KeyboardInterrupt the model raises."""
        if previous_int == signal.SIG_IGN:
            return
        state.user_interrupt = True
        if not callable(previous_int):
            raise KeyboardInterrupt
        previous_int(signum, frame)  # Python's default handler raises KeyboardInterrupt
        state.user_interrupt = False  # a handler of the caller's that chose not to interrupt

    def restore() -> None:
        """Idempotent, and safe against a late alarm (once `armed` is False the handler raises nothing) or a
        Ctrl-C in the middle (the flag it sets is acted on afterwards)."""
        while not state.restored:
            try:
                state.armed = False
                if main:
                    if limit is not None:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous_alarm is None else previous_alarm)
                        if previous_timer[0] > 0:  # someone else's timer: give it back what it had left
                            left = max(previous_timer[0] - (time.monotonic() - started), 1e-3)
                            signal.setitimer(signal.ITIMER_REAL, left, previous_timer[1])
                    signal.signal(signal.SIGINT, previous_int)
                state.restored = True
            except (ProbeTimeout, KeyboardInterrupt):
                continue

    if main:
        previous_int = signal.getsignal(signal.SIGINT)
        if previous_int is None:  # installed from C: treat it as the default
            previous_int = signal.default_int_handler
        signal.signal(signal.SIGINT, on_interrupt)
        if limit is not None:
            previous_alarm = signal.signal(signal.SIGALRM, on_alarm)
            previous_timer = signal.setitimer(signal.ITIMER_REAL, limit, REFIRE_S)
    failure: BaseException | None = None
    try:
        try:
            result = run()
        finally:
            restore()
    except BaseException as error:
        restore()  # when a late alarm cut the first one short
        failure = error
    if state.user_interrupt:  # the user's Ctrl-C, whatever the model's code made of it
        if isinstance(failure, KeyboardInterrupt):
            raise failure
        raise KeyboardInterrupt from failure
    if failure is None:
        return result
    if isinstance(failure, Exception):
        raise failure
    if isinstance(failure, ProbeTimeout):
        raise ProbeTimedOut(describe(failure, limit)) from None
    raise ProbeAborted(describe(failure, limit)) from None


def describe(error: BaseException, seconds: float | None) -> str:
    """One line for a BaseException that stopped a probe."""
    if isinstance(error, ProbeTimeout):
        return f"exceeded the {seconds:g} s time limit" if seconds else "exceeded its time limit"
    if isinstance(error, SystemExit):
        return f"SystemExit({error.code!r}) raised by the model's code (a sys.exit call); the run went on"
    if isinstance(error, KeyboardInterrupt):
        return "KeyboardInterrupt raised by the model's code (not a Ctrl-C from the user); the run went on"
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__} raised by the model's code{': ' + text if text else ''}; the run went on"
