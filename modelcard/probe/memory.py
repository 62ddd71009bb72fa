"""Peak memory of one forward pass above the weights. On CUDA, the allocator's own peak above what was allocated
before; elsewhere, the peak of bytes held by live tensors that the forward created, tracked op by op (torch has
no CPU allocator statistics). Views and in-place results share a storage the forward was given (a weight's
transpose is the weight) and are not counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def peak_bytes(run: Callable[[], Any], device: Any) -> int:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    tracker = _tracker()
    with tracker:
        run()
    return tracker.peak


def _tracker() -> Any:
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils import _pytree as pytree
    from torch.utils._python_dispatch import TorchDispatchMode

    class LiveTensorBytes(TorchDispatchMode):
        """Bytes of live storages created inside, and their peak. `held` counts storages until a sweep finds them
        freed, so it never undercounts: a sweep (dropping the freed ones) is needed only when `held` passes the
        peak, which keeps the bookkeeping off most operations."""

        def __init__(self) -> None:
            super().__init__()
            self.live: dict[int, tuple[Any, int]] = {}
            self.held = 0
            self.peak = 0

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            given: set[int] | None = None  # the storages of the op's inputs, read only when needed
            for value in pytree.tree_leaves(out):
                if hasattr(value, "untyped_storage") and value.device.type != "meta":
                    storage = value.untyped_storage()
                    ref = StorageWeakRef(storage)
                    if ref.cdata in self.live:
                        continue
                    if given is None:
                        given = {StorageWeakRef(v.untyped_storage()).cdata for v in pytree.tree_leaves((args, kwargs))
                                 if hasattr(v, "untyped_storage") and v.device.type != "meta"}
                    # a view or an in-place result shares its input's storage: a weight's transpose (`t`) is
                    # the weight, not memory the forward allocated
                    if ref.cdata not in given:
                        self.live[ref.cdata] = (ref, storage.nbytes())
                        self.held += storage.nbytes()
            if self.held > self.peak:
                self.live = {key: entry for key, entry in self.live.items() if not entry[0].expired()}
                self.held = sum(size for _, size in self.live.values())
                self.peak = max(self.peak, self.held)
            return out

    return LiveTensorBytes()

