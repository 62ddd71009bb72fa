"""Where a model larger than one device goes, by transformers' own means: `device_map` (auto, balanced,
balanced_low_0, sequential) spreads its layers across this machine's GPUs through accelerate, and `tp_plan`
(`--tp`) shards every layer across the ranks of a torchrun job. Nothing is placed by modelcard itself.

Offload is asked for, never a surprise: with GPUs present the layers go to the GPUs only, unless `--offload-cpu`
lets them spill into CPU memory and `--offload-folder` onto disk. Under torchrun with a device map, each rank
maps its model over its own share of the node's GPUs (GPU g belongs to local rank g mod ranks-per-node), so the
ranks never place layers on one another's GPUs. The layout used is recorded (`probe_suite.layout`)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.runtime import cpu_available_bytes, launched, local_rank

DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
OFFLOAD_WORDS = ("offload", "disk", "does not fit", "not enough memory", "out of memory")


@dataclass(frozen=True)
class Placement:
    """Where a model larger than one device goes: transformers' `device_map` across this machine's GPUs, with CPU
    or disk offload only when asked, or its tensor-parallel plan across the ranks of a torchrun job. Built once
    from the command line (`Placement.parse`) and handed down to loading, the probes' memory plan and the resume
    identity; the default places the whole model on one device.

    Args:
        device_map: a transformers strategy (auto, balanced, balanced_low_0, sequential), or None for one device.
        max_memory: device (`0`, `1`, `cpu`) -> size (`70GiB`) caps for the device map.
        offload_cpu: layers that do not fit the GPUs may go to CPU memory.
        offload_folder: layers that fit nowhere else may go to disk, in this folder.
        tensor_parallel: shard the weights across the torchrun ranks (tp_plan=auto).
    """

    device_map: str | None = None
    max_memory: Mapping[str, str] = field(default_factory=dict)
    offload_cpu: bool = False
    offload_folder: str | None = None
    tensor_parallel: bool = False

    @classmethod
    def parse(cls, device_map: str | None = None, max_memory: Sequence[str] = (), offload_cpu: bool = False,
              offload_folder: str | None = None, tensor_parallel: bool = False) -> Placement:
        """The placement the command-line options ask for, checked before any model work.

        Args:
            device_map: `--device-map`.
            max_memory: every `--max-memory DEVICE=SIZE` given.
            offload_cpu: `--offload-cpu`.
            offload_folder: `--offload-folder`.
            tensor_parallel: `--tp`.

        Returns:
            The placement.

        Raises:
            BadInput: options that cannot work together, or a malformed size or device.
        """
        placement = cls(device_map, parse_max_memory(max_memory), offload_cpu, offload_folder, tensor_parallel)
        check_placement(placement)
        return placement

    @property
    def splits(self) -> bool:
        """Whether the weights are spread over several devices or ranks."""
        return self.device_map is not None or self.tensor_parallel

    def identity(self) -> dict[str, Any]:
        """The placement as a stored result's identity records it (where the model sits changes what fits)."""
        return {"device_map": self.device_map, "max_memory": dict(self.max_memory), "offload_cpu": self.offload_cpu,
                "offload_folder": self.offload_folder, "tensor_parallel": self.tensor_parallel}


def check_placement(options: Placement) -> None:
    """Placement options that make sense together, before any model work."""
    if options.device_map is not None and options.device_map not in DEVICE_MAPS:
        raise BadInput("--device-map", f"{options.device_map!r} is not one of {', '.join(DEVICE_MAPS)}")
    if options.device_map is None and (options.max_memory or options.offload_cpu or options.offload_folder):
        named = "--max-memory" if options.max_memory else "--offload-cpu" if options.offload_cpu else "--offload-folder"
        raise BadInput(named, "places layers only with --device-map (auto, balanced, sequential)")
    for device, amount in options.max_memory.items():
        if not (device == "cpu" or device.isdigit()):
            raise BadInput("--max-memory", f"{device!r} is not a GPU index (0, 1, ...) or cpu")
        if not SIZE.match(str(amount)):
            raise BadInput("--max-memory", f"{amount!r} is not a size such as 70GiB or 512MB")
    if options.tensor_parallel:
        if options.device_map is not None:
            raise BadInput("--tp", "tensor parallelism and --device-map are two ways to split a model; choose one")
        if not launched():
            raise BadInput("--tp", "tensor parallelism shards the model across the ranks of a torchrun job: run "
                                   "`torchrun --nproc_per_node=N -m modelcard ... --tp`")


def parse_max_memory(items: Sequence[str]) -> dict[str, str]:
    """`--max-memory 0=70GiB --max-memory cpu=200GiB` -> {"0": "70GiB", "cpu": "200GiB"}."""
    caps = {}
    for item in items:
        device, sep, amount = item.partition("=")
        if not sep or not device.strip() or not amount.strip():
            raise BadInput("--max-memory", f"{item!r} is not DEVICE=SIZE (0=70GiB, cpu=200GiB)")
        caps[device.strip()] = amount.strip().replace(" ", "")
    return caps


def own_gpus() -> list[int]:
    """The GPUs this process may place layers on: all visible, or under torchrun its local rank's share."""
    import torch

    if not torch.cuda.is_available():
        return []
    count = torch.cuda.device_count()
    if not launched():
        return list(range(count))
    per_node = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return [gpu for gpu in range(count) if gpu % per_node == local_rank() % per_node]


def placement_kwargs(options: Placement) -> dict[str, Any]:
    """What from_pretrained gets for the placement asked for; empty when the model goes to one device."""
    if options.tensor_parallel:
        from transformers.distributed import DistributedConfig

        return {"distributed_config": DistributedConfig(tp_plan="auto")}
    if options.device_map is None:
        return {}
    import torch

    caps = options.max_memory
    memory: dict[Any, Any] = {}
    gpus = own_gpus()
    for gpu in gpus:
        memory[gpu] = caps.get(str(gpu)) or int(torch.cuda.mem_get_info(gpu)[0])
    if not gpus or options.offload_cpu:
        memory["cpu"] = caps.get("cpu") or _cpu_free()
    kwargs: dict[str, Any] = {"device_map": options.device_map, "max_memory": memory}
    if options.offload_folder:
        kwargs["offload_folder"] = options.offload_folder
    return kwargs


@contextlib.contextmanager
def quiet_placement() -> Iterator[None]:
    """accelerate warns on stderr that offloaded weights sit on `meta`; the card's layout says where they are."""
    logger = logging.getLogger("accelerate")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _cpu_free() -> int:
    return int((cpu_available_bytes() or 0) * 0.9) or 2 ** 40


def placement_problem(error: BaseException, options: Placement, model_class: Any) -> str | None:
    """One line for a load that failed because of the placement asked for; None for any other failure."""
    text = " ".join(str(error).split())
    if options.tensor_parallel and ("tp_plan" in text or "tensor parallel" in text.lower()):
        return (f"{getattr(model_class, '__name__', 'this model')} has no tensor-parallel plan in transformers "
                f"(--tp needs one): {text[:200]}")
    if options.device_map is not None and any(word in text.lower() for word in OFFLOAD_WORDS):
        allowed = ["the GPUs" if own_gpus() else "CPU memory"]
        if options.offload_cpu:
            allowed.append("CPU memory")
        if options.offload_folder:
            allowed.append(f"disk ({options.offload_folder})")
        return (f"the model does not fit in {' and '.join(dict.fromkeys(allowed))} with device_map="
                f"{options.device_map}: allow CPU offload (--offload-cpu) or disk offload (--offload-folder DIR), "
                f"or give it more (--max-memory); transformers said: {text[:200]}")
    return None


def describe_layout(model: Any, device_map: str | None, tensor_parallel: int) -> dict[str, Any]:
    """Where this rank's copy of the model lives (probe_suite.layout, less `ranks`)."""
    placed = getattr(model, "hf_device_map", None)
    if placed:
        devices = list(dict.fromkeys(_device_name(d) for d in placed.values()))
    else:
        devices = list(dict.fromkeys(str(p.device) for p in model.parameters() if p.device.type != "meta"))
    accelerated = any(d not in ("cpu", "disk") for d in devices)
    offload = [d for d in ("cpu", "disk") if d in devices and (d == "disk" or accelerated)]
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    return {"devices": devices, "device_map": device_map, "offload": offload,
            "tensor_parallel": tensor_parallel, "dtype": str(dtype).removeprefix("torch.") if dtype else None}


def _device_name(device: Any) -> str:
    if isinstance(device, int):
        return f"cuda:{device}"
    return str(device)


def merge_layouts(layouts: list[dict[str, Any] | None], ranks: int) -> dict[str, Any] | None:
    """The ranks' layouts as one: every device any rank used."""
    known = [layout for layout in layouts if layout]
    if not known:
        return None
    merged = {**known[0], "ranks": ranks}
    merged["devices"] = list(dict.fromkeys(d for layout in known for d in layout["devices"]))
    merged["offload"] = sorted({o for layout in known for o in layout["offload"]})
    return merged


# Probes whose figures hold for the layout they ran with, and what changes with another.
LAYOUT_DEPENDENT = {
    "scaling": "peak memory and latency hold for this layout; more devices, offload or tensor parallelism change "
               "them",
    "kernel-agreement": "the kernels were compared in this layout; split across devices or sharded, reductions "
                        "run in another order and rounding-sized differences can change",
}


def layout_words(layout: dict[str, Any]) -> str:
    where = ", ".join(layout["devices"]) or "no device"
    parts = [f"weights in {layout['dtype']} on {where}" if layout.get("dtype") else f"weights on {where}"]
    if layout.get("device_map"):
        parts.append(f"device_map {layout['device_map']}")
    if layout.get("offload"):
        parts.append(f"offloaded to {' and '.join(layout['offload'])}")
    if layout.get("tensor_parallel", 1) > 1:
        parts.append(f"sharded over {layout['tensor_parallel']} ranks (tensor parallel)")
    if layout.get("ranks", 1) > 1:
        parts.append(f"{layout['ranks']} ranks")
    return "; ".join(parts)


def note_layout(results: list[dict[str, Any]], layout: dict[str, Any] | None) -> None:
    """The probes that depend on the layout say which one they ran with."""
    if not layout:
        return
    for result in results:
        record = result["record"]
        why = LAYOUT_DEPENDENT.get(record["id"])
        if why and record["status"] in ("pass", "fail"):
            record["details"]["layout"] = f"{layout_words(layout)}: {why}"
