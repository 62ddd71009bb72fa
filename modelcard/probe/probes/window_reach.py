"""`window-reach`: how far back each layer sees. Perturb one position of one layer's input and watch which
positions of that layer's output change: per layer, because a model's receptive field grows with depth."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.probes._hooks import capture, perturb_input, run_until
from modelcard.probe.registry import probe

WINDOWED = ("sliding", "chunked")
COMPARED = ("full", *WINDOWED)
WINDOW_KEYS = {"sliding_window": "sliding", "attention_chunk_size": "chunked", "window": "sliding"}
RELATIVE_TOLERANCE = 1e-6


def classify(ends: dict[int, int], length: int) -> dict[str, Any]:
    """Kind and window of one layer from the last changed position after perturbing each position p:
    a sliding window W reaches p + W - 1 from every p; a chunk of C ends at the same multiple of C; a layer
    that reaches the last position from every p is not windowed within the length tested."""
    reaches = {p: end - p + 1 for p, end in ends.items()}
    if all(end == length - 1 for end in ends.values()):
        return {"kind": "full", "window": None, "reach": reaches}
    if len(set(reaches.values())) == 1:
        return {"kind": "sliding", "window": next(iter(reaches.values())), "reach": reaches}
    if len({end for end in ends.values()}) == 1:
        return {"kind": "chunked", "window": next(iter(ends.values())) + 1, "reach": reaches}
    return {"kind": "irregular", "window": None, "reach": reaches}


def claimed_windows(ctx: ProbeContext) -> list[int]:
    windows = [layer["window"] for layer in ctx.layers() if layer.get("window")]
    windows += [item["value"] for item in ctx.ignored_config_keys
                if item["key"] in WINDOW_KEYS and isinstance(item["value"], int)]
    windows += [value for key, value in ctx.declared.items() if key in WINDOW_KEYS and isinstance(value, int)]
    return windows


def measure_block(ctx: ProbeContext, blocks: list[Any], index: int, input_ids: Any, base: dict[int, Any],
                  positions: list[int]) -> dict[str, Any]:
    import torch

    reference = base[index]
    tolerance = RELATIVE_TOLERANCE * float(reference.abs().max())
    ends, looks_ahead = {}, False
    for p in positions:
        hidden = reference.shape[-1]
        delta = torch.randn(hidden, generator=ctx.generator(salt=1000 * index + p)).to(reference.device)
        watched: dict[int, Any] = {}
        with perturb_input(blocks[index], p, delta), capture(blocks, watched, stop_after=index):
            run_until(ctx.adapter, input_ids)
        changed = ((watched[index] - reference).abs().amax(dim=-1) > tolerance).any(dim=0)
        where = torch.nonzero(changed).flatten().tolist()
        looks_ahead = looks_ahead or any(q < p for q in where)
        ends[p] = max([q for q in where if q >= p], default=p)
    return {**classify(ends, input_ids.shape[1]), "sees_later_positions": looks_ahead}


def _documented_layers(ctx: ProbeContext, blocks: list[Any]) -> list[dict[str, Any]]:
    """The layers the card documents; for a custom module (no config), one per block with its claims."""
    layers = ctx.layers()
    if layers:
        return layers
    kind, window = "full", None
    for key, claimed_kind in WINDOW_KEYS.items():
        if isinstance(ctx.declared.get(key), int):
            kind, window = claimed_kind, ctx.declared[key]
    return [{"index": i, "stack": "decoder", "kind": kind, "window": window, "claimed_only": True}
            for i in range(len(blocks))]


@probe("window-reach", "How far back each layer sees")
def window_reach(ctx: ProbeContext, length: int | None = None, min_length: int = 64, margin: int = 16,
                 max_length: int = 16384, positions: tuple[int, ...] = (1, 4)) -> Outcome:
    import torch

    blocks = ctx.adapter.blocks()
    if not blocks:
        return skipped("found no stack of blocks (ModuleList) to watch")
    positions = sorted(set(positions))
    needed = max([min_length, *(w + max(positions) + margin for w in claimed_windows(ctx))])
    length = length or needed
    limit = ctx.max_length()
    if limit and length > limit:
        length = limit
    if length > max_length:
        return skipped(f"measuring the claimed windows needs {length:,} tokens; max_length is {max_length:,}",
                       needed_length=length)
    input_ids = ctx.random_ids(length, salt=7)
    base: dict[int, Any] = {}
    with capture(blocks, base), torch.no_grad():
        ctx.adapter.outputs(input_ids)
    measured_blocks = {index: measure_block(ctx, blocks, index, input_ids, base, positions)
                       for index in range(len(blocks))}
    outcome = Outcome(status="pass", metric="layers contradicting their declaration", value=0, unit="layers",
                      threshold=0, details={"length": length, "positions": positions,
                                            "blocks": {str(k): v for k, v in measured_blocks.items()}})
    compare_layers(ctx, _documented_layers(ctx, blocks), measured_blocks, outcome, length)
    outcome.value = len({f["pointer"] for f in outcome.findings if f["severity"] == "error"})
    outcome.status = "fail" if outcome.value else "pass"
    return outcome


def compare_layers(ctx: ProbeContext, layers: list[dict[str, Any]], blocks: dict[int, dict[str, Any]],
                   outcome: Outcome, length: int) -> None:
    layer_map = ctx.adapter.layer_map
    rows, unreached = [], []
    for layer in layers:
        block = layer_map[layer["index"]] if layer_map else layer["index"]
        if block not in blocks:
            continue
        got = blocks[block]
        pointer = f"/attention/layers/{layer['index']}"
        if layer["kind"] not in COMPARED:  # linear and state-space layers: reach is reported, no window to check
            reach = "all tokens tested" if got["kind"] == "full" else f"{max(got['reach'].values())} tokens"
            rows.append({"index": layer["index"], "block": block, "declared": [layer["kind"], None],
                         "measured": [f"reach {reach}", None]})
            continue
        rows.append({"index": layer["index"], "block": block, "declared": [layer["kind"], layer["window"]],
                     "measured": [got["kind"], got["window"]]})
        if _beyond_input(layer, got, length):
            # A window as long as the input cannot bind: a full reach agrees with it, and says nothing of it.
            rows[-1]["window_beyond_input"] = True
            unreached.append(layer)
            continue
        said = _phrase(layer["kind"], layer["window"])
        seen = _phrase(got["kind"], got["window"], length)
        if (got["kind"], got["window"]) != (layer["kind"], layer["window"]):
            if layer["kind"] in WINDOWED and got["kind"] == "full":
                message = f"layer {layer['index']} claims {said} but sees the whole {length:,}-token input"
            else:
                message = f"layer {layer['index']} claims {said} but measures {seen}"
            outcome.findings.append(finding("error", f"{pointer}/window", said, seen, message))
        if got["kind"] in COMPARED and not layer.get("claimed_only"):
            outcome.measured[f"{pointer}/kind"] = got["kind"]
            outcome.measured[f"{pointer}/window"] = got["window"]
    if layers and layers[0].get("claimed_only"):
        outcome.measured["/attention/layers"] = [
            {"index": i, "stack": "decoder", "kind": blocks[i]["kind"] if blocks[i]["kind"] in COMPARED else "full",
             "window": blocks[i]["window"]} for i in sorted(blocks)]
    outcome.details["layers"] = rows
    if unreached:
        _window_beyond_input(ctx, unreached, outcome, length)
    _stack_windows(ctx, outcome)
    _ignored_keys(ctx, layers, blocks, outcome, length)


def _beyond_input(layer: dict[str, Any], got: dict[str, Any], length: int) -> bool:
    """A sliding or chunked window so long that from every position tested it would reach the input's end."""
    window = layer.get("window")
    if layer["kind"] not in WINDOWED or not window or got["kind"] != "full":
        return False
    last = {"sliding": lambda p: p + window - 1, "chunked": lambda p: (p // window + 1) * window - 1}[layer["kind"]]
    return all(last(p) >= length - 1 for p in got["reach"])


def _window_beyond_input(ctx: ProbeContext, layers: list[dict[str, Any]], outcome: Outcome, length: int) -> None:
    """Windows that the probe could not test: say why, and whether the model can ever reach them."""
    windows = sorted({layer["window"] for layer in layers})
    limit = ctx.max_length()
    said = ", ".join(_phrase(kind, window) for kind, window in dict.fromkeys(
        (layer["kind"], layer["window"]) for layer in layers))
    outcome.details["windows_beyond_input"] = {"layers": [layer["index"] for layer in layers], "windows": windows,
                                               "length": length}
    if limit and length >= limit:
        outcome.findings.append(finding(
            "warning", f"/attention/layers/{layers[0]['index']}/window", said,
            f"full attention over all {length:,} tokens the model accepts",
            f"{len(layers)} layer(s) declare a {said} but the model accepts at most {limit:,} tokens "
            "(context_window.declared): the window never limits what they see; untestable, not contradicted"))


def _stack_windows(ctx: ProbeContext, outcome: Outcome) -> None:
    """A stack's window and chunk follow from its layers' measured ones."""
    stacks = (ctx.facts.get("masking") or {}).get("stacks") or {}
    for stack in stacks:
        layers = [layer for layer in ctx.layers() if layer["stack"] == stack]
        pointers = [f"/attention/layers/{layer['index']}" for layer in layers]
        if not layers or any(f"{p}/kind" not in outcome.measured for p in pointers):
            continue
        for key, kind in (("window", "sliding"), ("chunk", "chunked")):
            sizes = [outcome.measured[f"{p}/window"] for p in pointers if outcome.measured[f"{p}/kind"] == kind]
            outcome.derived[f"/masking/stacks/{stack}/{key}"] = min(sizes) if sizes else None


def _ignored_keys(ctx: ProbeContext, layers: list[dict[str, Any]], blocks: dict[int, dict[str, Any]],
                  outcome: Outcome, length: int) -> None:
    """A window key in the config that the code never acts on: warn when the layers indeed see everything."""
    layer_map = ctx.adapter.layer_map
    measured = [blocks[layer_map[layer["index"]] if layer_map else layer["index"]] for layer in layers
                if (layer_map[layer["index"]] if layer_map else layer["index"]) in blocks]
    for item in ctx.ignored_config_keys:
        if item["key"] not in WINDOW_KEYS or not isinstance(item["value"], int):
            continue
        kind = WINDOW_KEYS[item["key"]]
        if any(m["kind"] == kind and m["window"] == item["value"] for m in measured):
            continue
        outcome.findings.append(finding(
            "warning", "/attention/layers", {item["key"]: item["value"]},
            f"no layer enforces it: full attention over {length:,} tokens" if all(
                m["kind"] == "full" for m in measured) else [m["kind"] for m in measured],
            f"config key {item['key']}={item['value']} is ignored by the model's code; measured, not trusted"))


def _phrase(kind: str, window: int | None, length: int | None = None) -> str:
    if kind == "full":
        return "full attention" + (f" (reaches all {length:,} tokens tested)" if length else "")
    if kind in WINDOWED:
        return f"{kind} window {window:,}"
    return kind
