"""Ranks that share a probe suite, on PyTorch's own distributed runtime. modelcard schedules nothing itself: it
runs where `torchrun` (or `accelerate launch`) started it, detects that from the environment they set (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR), joins their process group (gloo on CPU, nccl on GPUs) and exchanges
Python objects through it. Rank 0 alone reads and writes the output folder; the other ranks only compute.

`Comm` is what the runner needs of that runtime: the rank, the world size, `broadcast` from rank 0 and
`gather` to rank 0. A process started without torchrun gets `SOLO`, the same interface for a world of one."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelcard.base.errors import EXIT_INTERNAL, ModelcardError
from modelcard.base.runtime import launched, local_rank

# How long a rank waits for the others at a collective before the run fails: long enough for the slowest cell of a
# round when no time limit bounds it (a 128K-token cell of a 70B model), short enough that a rank lost without a
# trace does not hold the machines for a day.
DEFAULT_WAIT_S = 4 * 3600.0
LEAVE_WAIT_S = 60.0  # how long a rank that finished waits for the others before it leaves the group


@dataclass
class Comm:
    """A world of one process: every collective is the identity."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    split_cells: bool = True  # False under tensor parallelism: every rank runs every cell, together

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value`, on every rank."""
        return value

    def gather(self, value: Any) -> list[Any] | None:
        """Every rank's `value`, in rank order, on rank 0; None on the other ranks."""
        return [value]

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order, on every rank."""
        return [value]

    def minimum(self, value: int) -> int:
        """The smallest `value` of all ranks, on every rank."""
        return value


SOLO = Comm()
_current: list[Comm] = [SOLO]  # the session in force (torch.distributed's own state is process-wide too)

T = TypeVar("T")


def current() -> Comm:
    """The ranks of the session in force: SOLO outside `session()`."""
    return _current[-1]


@dataclass
class TorchComm(Comm):
    group: Any = field(default=None, repr=False)  # a gloo group for Python objects (None: the default group)

    def broadcast(self, value: Any) -> Any:
        import torch.distributed as dist

        box = [value if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def gather(self, value: Any) -> list[Any] | None:
        import torch.distributed as dist

        boxes = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(value, boxes, dst=0, group=self.group)
        return boxes

    def all_gather(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        boxes: list[Any] = [None] * self.world_size
        dist.all_gather_object(boxes, value, group=self.group)
        return boxes

    def minimum(self, value: int) -> int:
        return min(self.all_gather(int(value)))


@contextlib.contextmanager
def session(device: str = "cpu", tensor_parallel: bool = False, wait_s: float | None = None) -> Iterator[Comm]:
    """The ranks of this launch as a Comm, for the duration of the block: SOLO without torchrun; otherwise this
    process joins the launcher's process group (nccl when the model runs on CUDA, else gloo; Python objects always
    go through gloo) and leaves it at the end, unless someone else had started it."""
    if not launched():
        yield current()
        return
    if current() is not SOLO:  # already joined (several models in one torchrun job)
        yield current()
        return
    import torch
    import torch.distributed as dist

    rank_here = local_rank()
    cuda = device.startswith("cuda")
    backend = "nccl" if cuda else "gloo"
    timeout = datetime.timedelta(seconds=wait_s or DEFAULT_WAIT_S)
    owned = not dist.is_initialized()
    if owned:
        if cuda:
            torch.cuda.set_device(rank_here)
        dist.init_process_group(backend=backend, timeout=timeout)
    backend = dist.get_backend()
    group = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" else None
    comm = TorchComm(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=rank_here,
                     backend=backend, split_cells=not tensor_parallel, group=group)
    _current.append(comm)
    try:
        yield comm
        if owned:
            # Leave together: a rank that tears its gloo pairs down while rank 0 still writes the card can abort
            # (SIGABRT) and fail the job. The wait is short and bounded, so a rank that stopped with an error
            # (and never reaches this point) holds the others up by a minute at most.
            with contextlib.suppress(Exception):
                dist.monitored_barrier(group=group, timeout=datetime.timedelta(seconds=LEAVE_WAIT_S),
                                       wait_all_ranks=True)
    finally:
        _current.pop()
        if owned:
            with contextlib.suppress(Exception):  # a peer already gone: nothing left to leave
                dist.destroy_process_group()


class RankStopped(ModelcardError):
    """Another rank stopped the run; this one stops with the same exit code (rank 0 says why)."""

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        super().__init__(message)


def on_writer(comm: Comm, work: Callable[[], T]) -> T:
    """`work()` on rank 0 and its value on every rank; a ModelcardError it raises is raised on every rank (the
    others stop with the same exit code), so no rank waits at a collective for a rank that has stopped."""
    if comm.world_size == 1:
        return work()
    value, failure = None, None
    if comm.is_writer:
        try:
            value = work()
        except ModelcardError as error:
            comm.broadcast((None, (error.exit_code, str(error))))
            raise
        except BaseException as error:
            comm.broadcast((None, (EXIT_INTERNAL, f"rank 0 stopped: {type(error).__name__}")))
            raise
    value, failure = comm.broadcast((value, failure))
    if failure is not None:
        raise RankStopped(*failure)
    return value


def everyone(comm: Comm, work: Callable[[], T]) -> T:
    """`work()` on every rank; when it raises on any rank, every rank raises (that rank its own error, the others
    RankStopped with its exit code), so no rank goes on to a collective the failed one never reaches."""
    if comm.world_size == 1:
        return work()
    value: Any = None
    failure: tuple[int, str] | None = None
    raised: Exception | None = None
    try:
        value = work()
    except ModelcardError as error:
        failure, raised = (error.exit_code, str(error)), error
    except Exception as error:  # an internal error on one rank stops every rank
        failure, raised = (EXIT_INTERNAL, f"{type(error).__name__}: {error}"), error
    states = comm.all_gather(failure)
    if raised is not None:
        raise raised
    for rank, state in enumerate(states):
        if state is not None:
            raise RankStopped(state[0], f"rank {rank}: {state[1]}")
    return value
