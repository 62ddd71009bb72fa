"""`window-reach`: how far back each layer sees, as its mask lets it: which positions of one layer's output a
position of its input reaches, per layer, because a model's receptive field grows with depth.

A transformers model's attention layers are read through their own kernels (modelcard.probe.uniform_attention):
each kernel is also called with the query and the key zeroed, so its softmax is uniform over exactly the
positions its mask lets through whatever the trained weights, and with values that mark a few key positions.
One forward reads every layer. The kernel and its mask stay the model's own.

A block whose forward reaches no such kernel (a custom module, a linear or state-space layer, modeling code with
an attention of its own) is measured through its weights instead: perturb one position of the block's input and
watch which positions of its output change. A change proves that a position is visible; no change proves
nothing on trained weights, whose sharp attention can put a visible position's weight below float precision (the
demo's last layer: positions 60-63 bitwise unchanged by position 3 of a 64-token input). An attention block
whose reach so measured stops short of the end without a window's or a chunk's pattern is measured again on a
copy of the model with freshly drawn weights, whose diffuse attention shows every position the mask lets through,
and each position's reach is the longer of the two. Where only trained weights measured a block, a reach shorter
than declared is a warning, not an error: it is not proof.

Each block is a cell (modelcard.probe.cells): measured, resumed and shared out across ranks on its own; the one
forward that reads the kernels is shared by the cells of a run."""

from __future__ import annotations

import dataclasses
from typing import Any

from modelcard.probe.cells import Cells
from modelcard.probe.context import ProbeContext
from modelcard.probe.hooks import capture, perturb_input, run_until
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import (
    WINDOW_KEYS,
    WINDOWED,
    block_of,
    claimed_windows,
    copy_refusal,
    detached_copy,
    ignored_window_keys,
    is_measured_layer,
    put,
)
from modelcard.probe.uniform_attention import KernelSight, kernel_visibility

COMPARED = ("full", *WINDOWED)
RELATIVE_TOLERANCE = 1e-6
# Positions perturbed in each block. 0 and 1 tell a sliding window (its reach ends one token later from 1) from a
# chunk (the same end from both) and give either's size; the rest check the pattern over several small windows
# and chunks (a window of 3 ends at 2, 3, 4, 5, 7, 10; a chunk of 4 at 3, 3, 3, 3, 7, 11).
POSITIONS = (0, 1, 2, 3, 5, 8)
REDRAW_STD = 0.02  # transformers' usual initializer_range: near-uniform attention
# How a block's reach was measured; those whose "no change" proves a position hidden.
BY_KERNEL, BY_WEIGHTS, BY_REDRAWN = "uniform attention through the model's kernel", "trained weights", "redrawn weights"
PROVES_HIDDEN = (BY_KERNEL, BY_REDRAWN)


def _sliding_end(p: int, window: int, last: int) -> int:
    return min(p + window - 1, last)


def _chunk_end(p: int, chunk: int, last: int) -> int:
    return min((p // chunk + 1) * chunk - 1, last)


def classify(ends: dict[int, int], length: int) -> dict[str, Any]:
    """Kind and window of one layer from the last changed position after perturbing each position p: a sliding
    window W reaches p + W - 1 from every p; a chunk of C ends at the next multiple of C; a layer that reaches
    the last position from every p is not windowed within the length tested. Each hypothesis is sized from the
    first position whose reach stops short of the input's end and must then predict every other position."""
    last = length - 1
    reaches = {p: end - p + 1 for p, end in ends.items()}
    if all(end == last for end in ends.values()):
        return {"kind": "full", "window": None, "reach": reaches}
    first = min(p for p, end in ends.items() if end < last)
    window = ends[first] - first + 1
    if window >= 1 and all(end == _sliding_end(p, window, last) for p, end in ends.items()):
        return {"kind": "sliding", "window": window, "reach": reaches}
    for chunks_before in range(first + 1):  # the chunk holding `first` ends at (chunks_before + 1) * C - 1
        chunk, rest = divmod(ends[first] + 1, chunks_before + 1)
        if rest == 0 and chunk > 0 and first // chunk == chunks_before and all(
                end == _chunk_end(p, chunk, last) for p, end in ends.items()):
            return {"kind": "chunked", "window": chunk, "reach": reaches}
    return {"kind": "irregular", "window": None, "reach": reaches}


def measure_block(ctx: ProbeContext, adapter: Any, blocks: list[Any], index: int, input_ids: Any,
                  base: dict[int, Any], positions: list[int]) -> dict[str, Any]:
    import torch

    reference = base[index]
    tolerance = RELATIVE_TOLERANCE * float(reference.abs().max())
    ends, looks_ahead = {}, False
    for p in positions:
        hidden = reference.shape[-1]
        delta = torch.randn(hidden, generator=ctx.generator(salt=1000 * index + p)).to(reference.device)
        watched: dict[int, Any] = {}
        with perturb_input(blocks[index], p, delta), capture(blocks, watched, stop_after=index):
            run_until(adapter, input_ids)
        changed = ((watched[index] - reference).abs().amax(dim=-1) > tolerance).any(dim=0)
        where = torch.nonzero(changed).flatten().tolist()
        looks_ahead = looks_ahead or any(q < p for q in where)
        ends[p] = max([q for q in where if q >= p], default=p)
    return {**classify(ends, input_ids.shape[1]), "ends": ends, "sees_later_positions": looks_ahead}


def measure_blocks(ctx: ProbeContext, adapter: Any, input_ids: Any, positions: list[int],
                   only: list[int] | None = None) -> dict[int, dict[str, Any]]:
    import torch

    blocks = adapter.blocks()
    base: dict[int, Any] = {}
    with capture(blocks, base, stop_after=None if only is None else max(only, default=None)), torch.no_grad():
        run_until(adapter, input_ids)  # only the blocks it measures, and those below them
    return {index: measure_block(ctx, adapter, blocks, index, input_ids, base, positions)
            for index in (range(len(blocks)) if only is None else only)}


def redrawn_copy(adapter: Any, seed: int) -> tuple[Any | None, str | None]:
    """The model with every matrix drawn afresh (vectors such as norm scales kept), or None and why not: only
    where the copy fits in memory (shared.copy_refusal)."""
    import torch

    refusal = copy_refusal(adapter, adapter.memory_shape().element_size)
    if refusal is not None:
        return None, refusal
    model = detached_copy(adapter)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                drawn = torch.randn(parameter.shape, generator=generator) * REDRAW_STD
                parameter.copy_(drawn.to(parameter.device, parameter.dtype))
    return dataclasses.replace(adapter, model=model, agree=None), None


def hidden_reach(measured: dict[int, dict[str, Any]], declared: dict[int, list[dict[str, Any]]],
                 length: int) -> list[int]:
    """Blocks whose reach, measured through the weights, may hide what the mask lets through: it stops short of
    the input's end in no window's or chunk's pattern, or short of what a layer the block stands for declares."""
    return [index for index, got in measured.items() if got["kind"] == "irregular" or any(
        (got["kind"], got["window"]) != (layer["kind"], layer["window"]) and not reaches_past_claim(layer, got, length)
        and not _beyond_input(layer, got, length) for layer in declared.get(index, []))]


def remeasure_redrawn(ctx: ProbeContext, measured: dict[int, dict[str, Any]], input_ids: Any,
                      positions: list[int]) -> dict[str, Any] | None:
    """Measure the blocks `hidden_reach` names again with fresh weights; each position's reach is the longer of
    the two measurements (either change is proof of visibility). Returns what was done, for the details."""
    suspects = hidden_reach(measured, declared_layers(ctx), input_ids.shape[1])
    if not suspects or ctx.adapter.twin:  # a twin's weights are freshly drawn already
        return None
    key = ("window-reach/redrawn", ctx.seed)
    if key not in ctx.memo:  # one copy for the cells of a run, released when the run concludes
        ctx.memo[key] = redrawn_copy(ctx.adapter, ctx.seed)
    redrawn, refusal = ctx.memo[key]
    if redrawn is None:
        return {"blocks": suspects, "done": False, "reason": f"{refusal}; the trained-weight reach stands"}
    again = measure_blocks(ctx, redrawn, input_ids, positions, only=suspects)
    length = input_ids.shape[1]
    for index in suspects:
        trained = measured[index]
        ends = {p: max(trained["ends"][p], again[index]["ends"][p]) for p in trained["ends"]}
        measured[index] = {**classify(ends, length), "ends": ends,
                           "sees_later_positions": trained["sees_later_positions"]
                           or again[index]["sees_later_positions"], "method": BY_REDRAWN,
                           "trained_weights": {"kind": trained["kind"], "reach": trained["reach"]}}
    return {"blocks": suspects, "done": True, "std": REDRAW_STD,
            "reason": "the trained weights' reach stopped short of the input's end in no window's or chunk's "
                      "pattern; remeasured with freshly drawn weights (the mask is the code's)"}


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


def geometry(ctx: ProbeContext, params: dict[str, Any]) -> tuple[int, list[int]] | Outcome:
    """The input length and the positions perturbed, or the Outcome when nothing can be measured."""
    blocks = ctx.adapter.blocks()
    if not blocks:
        return skipped("found no stack of blocks (ModuleList) to watch")
    positions = sorted(set(params["positions"]))
    needed = max([params["min_length"], *(w + max(positions) + params["margin"] for w in claimed_windows(ctx))])
    length = params["length"] or needed
    limit = ctx.max_length()
    if limit and length > limit:
        length = limit
    if length > params["max_length"]:
        return skipped(f"measuring the claimed windows needs {length:,} tokens; max_length is "
                       f"{params['max_length']:,}", needed_length=length)
    return length, [p for p in positions if p < length - 1]


def split_blocks(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
    shape = geometry(ctx, params)
    if isinstance(shape, Outcome):
        return shape
    return [{"block": index} for index in range(len(ctx.adapter.blocks()))]


def read_kernels(ctx: ProbeContext, input_ids: Any, positions: list[int]) -> dict[int, KernelSight]:
    """Every block's kernel read in one forward (none for a custom module), shared by the cells of a run."""
    key = ("window-reach/kernels", ctx.adapter.kernel, tuple(input_ids.shape), tuple(positions))
    if key not in ctx.memo:
        ctx.memo[key] = kernel_visibility(ctx.adapter, input_ids, positions) if ctx.adapter.is_transformers else {}
    return ctx.memo[key]


def from_sight(sight: KernelSight, positions: list[int], length: int) -> dict[str, Any]:
    """One block's kind, window and reach from what its kernels let through. Positions seen from a marked
    position must run without a gap from it to its end; a gap is no window's or chunk's pattern."""
    ends, looks_ahead, gaps = {}, False, []
    for column, p in enumerate(positions):
        seen = sight.visible[:, column].nonzero().flatten().tolist()
        looks_ahead = looks_ahead or any(q < p for q in seen)
        later = [q for q in seen if q >= p]
        ends[p] = max(later, default=p)
        if later != list(range(p, ends[p] + 1)):
            gaps.append(p)
    got = {**classify(ends, length), "ends": ends, "sees_later_positions": looks_ahead, "method": BY_KERNEL,
           "kernel_calls": sight.calls}
    if gaps:
        got.update(kind="irregular", window=None, gaps_after=gaps)
    return got


def measure_one_block(ctx: ProbeContext, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    length, positions = geometry(ctx, params)  # type: ignore[misc]  # split_blocks checked it
    input_ids = ctx.random_ids(length, salt=7)
    block = cell["block"]
    sight = read_kernels(ctx, input_ids, positions).get(block)
    redrawn = None
    if sight is not None and not sight.unread:
        got = from_sight(sight, positions, length)
    else:
        check_outputs_once(ctx, input_ids)
        measured = measure_blocks(ctx, ctx.adapter, input_ids, positions, only=[block])
        measured[block]["method"] = BY_WEIGHTS
        if block in declared_layers(ctx):
            redrawn = remeasure_redrawn(ctx, measured, input_ids, positions)
        got = measured[block]
        if sight is not None:
            got["kernel_unread"] = sight.unread[:3]
    del got["ends"]
    return {"block": block, "measured": got, "redrawn": redrawn}


def check_outputs_once(ctx: ProbeContext, input_ids: Any) -> None:
    """One whole forward per run: the per-block forwards stop at the block they watch, so a model whose outputs
    are not finite would otherwise go unseen (ModelAdapter.outputs raises on them)."""
    key = ("window-reach/outputs-checked", tuple(input_ids.shape))
    if key not in ctx.memo:
        ctx.adapter.outputs(input_ids)
        ctx.memo[key] = True


def declared_layers(ctx: ProbeContext) -> dict[int, list[dict[str, Any]]]:
    """The documented attention layers (full, sliding or chunked) each block stands for, whose window is checked."""
    blocks = ctx.adapter.blocks()
    by_block: dict[int, list[dict[str, Any]]] = {}
    for layer in _documented_layers(ctx, blocks):
        block = block_of(ctx.adapter, layer["index"], len(blocks))
        if layer["kind"] in COMPARED and block is not None:
            by_block.setdefault(block, []).append(layer)
    return by_block


def conclude_blocks(ctx: ProbeContext, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
    length, positions = geometry(ctx, params)  # type: ignore[misc]
    for key in [key for key in ctx.memo if isinstance(key, tuple) and str(key[0]).startswith("window-reach/")]:
        del ctx.memo[key]  # the kernels' reading and the redrawn copy are this run's
    measured_blocks = {}
    for partial in partials:
        got = partial["measured"]
        got["reach"] = {int(p): reach for p, reach in got["reach"].items()}  # JSON keeps keys as text
        if "trained_weights" in got:
            got["trained_weights"]["reach"] = {int(p): r for p, r in got["trained_weights"]["reach"].items()}
        measured_blocks[partial["block"]] = got
    redraws = [partial["redrawn"] for partial in partials if partial["redrawn"]]
    outcome = Outcome(status="pass", metric="layers contradicting their declaration", value=0, unit="layers",
                      threshold=0, details={"length": length, "positions": positions,
                                            "blocks": {str(k): v for k, v in measured_blocks.items()}})
    if redraws:
        outcome.details["redrawn_weights"] = {**redraws[0], "blocks": [b for r in redraws for b in r["blocks"]],
                                              "done": all(r["done"] for r in redraws)}
    compare_layers(ctx, _documented_layers(ctx, ctx.adapter.blocks()), measured_blocks, outcome, length)
    outcome.value = len({f["pointer"] for f in outcome.findings if f["severity"] == "error"})
    outcome.status = "fail" if outcome.value else "pass"
    return outcome


BLOCK_CELLS = Cells(split=split_blocks, measure=measure_one_block, conclude=conclude_blocks)


@probe("window-reach", "How far back each layer sees", cells=BLOCK_CELLS, version=2)
def window_reach(ctx: ProbeContext, length: int | None = None, min_length: int = 64, margin: int = 16,
                 max_length: int = 16384, positions: tuple[int, ...] = POSITIONS) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return BLOCK_CELLS.run_all(ctx, params)


def compare_layers(ctx: ProbeContext, layers: list[dict[str, Any]], blocks: dict[int, dict[str, Any]],
                   outcome: Outcome, length: int) -> None:
    """Every documented layer is compared with the block that stands for it, or listed as unmapped with the
    reason. On a twin, a block's result is measured for the layer the twin kept and derived for the others."""
    adapter = ctx.adapter
    rows, unreached, unmapped = [], [], []
    for layer in layers:
        block = block_of(adapter, layer["index"], len(blocks))
        if block is None:
            unmapped.append({"index": layer["index"], "kind": layer["kind"], "reason": _unmapped_reason(
                adapter, layer["index"], len(blocks))})
            continue
        got = blocks[block]
        pointer = f"/attention/layers/{layer['index']}"
        row = {"index": layer["index"], "block": block, "method": got.get("method"),
               "provenance": "measured" if is_measured_layer(adapter, layer["index"]) else "derived"}
        if layer["kind"] not in COMPARED:  # linear and state-space layers: reach is reported, no window to check
            reach = "all tokens tested" if got["kind"] == "full" else f"{max(got['reach'].values())} tokens"
            rows.append({**row, "declared": [layer["kind"], None], "measured": [f"reach {reach}", None]})
            continue
        rows.append({**row, "declared": [layer["kind"], layer["window"]], "measured": [got["kind"], got["window"]]})
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
            proven = got.get("method") in PROVES_HIDDEN or adapter.twin or reaches_past_claim(layer, got, length)
            if not proven:
                message += (" (measured through the trained weights, which can hide a position the mask lets "
                            "through: not proof)")
            outcome.findings.append(finding("error" if proven else "warning", f"{pointer}/window", said, seen,
                                            message))
        if got["kind"] in COMPARED and not layer.get("claimed_only"):
            put(outcome, adapter, layer["index"], f"{pointer}/kind", got["kind"])
            put(outcome, adapter, layer["index"], f"{pointer}/window", got["window"])
    if layers and layers[0].get("claimed_only"):
        outcome.measured["/attention/layers"] = [
            {"index": i, "stack": "decoder", "kind": blocks[i]["kind"] if blocks[i]["kind"] in COMPARED else "full",
             "window": blocks[i]["window"]} for i in sorted(blocks)]
    outcome.details["layers"] = rows
    if unmapped:
        _unmapped(outcome, unmapped, len(blocks))
    watched = {row["block"] for row in rows}
    if set(blocks) - watched:
        outcome.details["blocks_without_layer"] = sorted(set(blocks) - watched)
    if unreached:
        _window_beyond_input(ctx, unreached, outcome, length)
    _stack_windows(ctx, outcome)
    _ignored_keys(ctx, layers, blocks, outcome, length)
    _later_positions(ctx, rows, blocks, outcome)


def reaches_past_claim(layer: dict[str, Any], got: dict[str, Any], length: int) -> bool:
    """Whether a block sees a position its layer's declaration hides: a later position, or one past the declared
    window's or chunk's end. A change is proof of visibility, whatever measured it."""
    last = length - 1
    window = layer.get("window")
    if layer["kind"] in WINDOWED and not window:
        return bool(got["sees_later_positions"])
    kind = layer["kind"]
    return bool(got["sees_later_positions"]) or any(int(p) + reach - 1 > _claimed_end(kind, window, int(p), last)
                                                    for p, reach in got["reach"].items())


def _claimed_end(kind: str, window: int | None, p: int, last: int) -> int:
    """The last position that position p reaches by its layer's declaration (a windowed kind comes with a window)."""
    if kind == "sliding" and window:
        return _sliding_end(p, window, last)
    if kind == "chunked" and window:
        return _chunk_end(p, window, last)
    return last


def _later_positions(ctx: ProbeContext, rows: list[dict[str, Any]], blocks: dict[int, dict[str, Any]],
                     outcome: Outcome) -> None:
    """Layers of a stack declared causal that see later positions: proof of a leaking mask (a change is proof)."""
    stacks = (ctx.facts.get("masking") or {}).get("stacks") or {}
    layers = {layer["index"]: layer for layer in ctx.layers()}
    for stack, masking in stacks.items():
        declared = (masking or {}).get("mask") or ctx.declared.get("masking")
        leaking = [row["index"] for row in rows if blocks[row["block"]].get("sees_later_positions")
                   and layers.get(row["index"], {}).get("stack", stack) == stack]
        if declared != "causal" or not leaking:
            continue
        shown = ", ".join(map(str, leaking[:8])) + (", ..." if len(leaking) > 8 else "")
        outcome.findings.append(finding(
            "error", f"/masking/stacks/{stack}/mask", "causal", {"layers_seeing_later_positions": leaking},
            f"the {stack} stack is declared causal, but {len(leaking)} layer(s) ({shown}) see later positions"))


def _unmapped_reason(adapter: Any, index: int, blocks: int) -> str:
    if adapter.layer_map is not None and not 0 <= index < len(adapter.layer_map):
        return f"the twin's layer map covers {len(adapter.layer_map)} layers, not layer {index}"
    return f"the stack the probe watches has {blocks} block(s), none for layer {index}"


def _unmapped(outcome: Outcome, unmapped: list[dict[str, Any]], blocks: int) -> None:
    """Layers with no block to watch: listed, and a warning says their windows were not measured."""
    outcome.details["unmapped_layers"] = unmapped
    indices = [item["index"] for item in unmapped]
    shown = ", ".join(map(str, indices[:8])) + (", ..." if len(indices) > 8 else "")
    outcome.findings.append(finding(
        "warning", f"/attention/layers/{indices[0]}", "every layer's reach is measured",
        {"unmapped_layers": indices, "blocks_watched": blocks},
        f"{len(indices)} documented layer(s) ({shown}) have no block the probe could watch "
        f"({unmapped[0]['reason']}): their reach was not measured"))


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
    if limit and all(layer["window"] >= limit for layer in layers):
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
        found = {**outcome.derived, **outcome.measured}
        if not layers or any(f"{p}/kind" not in found for p in pointers):
            continue
        for key, kind in (("window", "sliding"), ("chunk", "chunked")):
            sizes = [found[f"{p}/window"] for p in pointers if found[f"{p}/kind"] == kind]
            outcome.derived[f"/masking/stacks/{stack}/{key}"] = min(sizes) if sizes else None


def _ignored_keys(ctx: ProbeContext, layers: list[dict[str, Any]], blocks: dict[int, dict[str, Any]],
                  outcome: Outcome, length: int) -> None:
    """A window key in the config that the attention never acts on: where the probe reached past it, warn when
    the layers indeed see everything; otherwise say why it was not tested (never a finding about what was not
    measured)."""
    adapter = ctx.adapter
    measured = [blocks[block] for layer in layers
                if (block := block_of(adapter, layer["index"], len(blocks))) is not None]
    reach = min(outcome.details["positions"] or [0])
    limit = ctx.max_length()
    untested = []
    for item in ignored_window_keys(ctx):
        if not item["live"]:
            untested.append({**item, "reason": "the model's config class discards it: no code the model runs reads "
                                               "it, so the probes do not run to it"})
            continue
        if limit and item["value"] >= limit:
            untested.append({**item, "reason": f"at least as wide as the {limit:,} tokens the model accepts: it "
                                               "cannot bind"})
            continue
        if reach + item["value"] > length - 1:
            untested.append({**item, "reason": f"the {length:,}-token input does not reach past it"})
            continue
        if any(m["kind"] == item["kind"] and m["window"] == item["value"] for m in measured):
            continue
        outcome.findings.append(finding(
            "warning", "/attention/layers", {item["key"]: item["value"]},
            f"no layer enforces it: full attention over {length:,} tokens" if all(
                m["kind"] == "full" for m in measured) else [m["kind"] for m in measured],
            f"config key {item['key']}={item['value']} is ignored by the model's code; measured, not trusted"))
    if untested:
        outcome.details["ignored_window_keys_untested"] = untested


def _phrase(kind: str, window: int | None, length: int | None = None) -> str:
    if kind == "full":
        return "full attention" + (f" (reaches all {length:,} tokens tested)" if length else "")
    if kind in WINDOWED:
        return f"{kind} window {window:,}"
    return kind
