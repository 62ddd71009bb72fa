"""The gallery's pages: one per card (its Markdown inlined, its HTML card and record beside it) and an index that
compares them, every cell read from the cards' records."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from sitegen.cards import Card
from sitegen.markdown import cell, generated_note, human_bytes, table

FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->\n?", re.DOTALL)
FENCE = re.compile(r"^(```|~~~)")
SEVERITIES = ("error", "warning", "info")


def card_body(readme: str) -> str:
    """The card's README.md as page content: no front matter (the site has its own), no HTML comments (the
    embedded record is card.json beside it), headings one level down under the page's own title."""
    text = COMMENT.sub("", FRONT_MATTER.sub("", readme, count=1))
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        lines.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(lines).strip() + "\n"


def command_line(card: Card, repo: Path) -> str:
    if card.source.command:
        return card.source.command
    spec = card.source.spec
    shown = [] if spec is None else [Path(spec).resolve().relative_to(repo.resolve()).as_posix()]
    if card.source.disclosures is not None:
        shown += ["--disclosures", card.source.disclosures.name]
    return " ".join(["modelcard generate", *shown, "--suite", card.source.suite, "-o", "card"])


def made_how(card: Card) -> str:
    if card.source.record is not None:
        durations = sum(probe.get("duration_s") or 0 for probe in card.record["probes"])
        return (f"Probed in an earlier run ({durations / 60:.0f} min of probes) and rendered again from its record "
                "when this site was built")
    return f"Generated when this site was built, in {card.seconds:.1f} s"


def card_title(card: Card) -> str:
    """The card's own title (`Model card: SmolLM2-135M-Instruct`), as its README.md and card.html give it."""
    first = card_body(card.files["README.md"].decode("utf-8")).splitlines()[0]
    return first[3:] if first.startswith("## ") else f"Model card: {card.source.title}"


def card_page(card: Card, repo: Path) -> str:
    record = card.record
    library = record["model"]["library"]
    extra = sorted(name for name in card.files if name not in ("README.md", "card.html", "card.json"))
    out = [f"# {card_title(card)}\n\n", f"{card.source.provenance}\n\n",
           '[HTML card](card.html){ .md-button .md-button--primary } [card.json](card.json){ .md-button }\n\n',
           f'??? note "How this card was made"\n'
           f"    {made_how(card)}, by modelcard {record['generator']['version']} with "
           f"transformers {library['transformers']} and torch {library['torch']} on a CPU:\n\n"
           f"    ```bash\n    {command_line(card, repo)}\n    ```\n\n"
           f"    Below is the card's `README.md` (its Hub front matter and the embedded record left out: the record "
           f"is [`card.json`](card.json)).{' Files beside it: ' + ', '.join(extra) + '.' if extra else ''}\n\n"]
    body = card_body(card.files["README.md"].decode("utf-8"))
    out.append(body.split("\n", 1)[1].lstrip("\n") if body.startswith("## ") else body)  # its title is the page's
    return "".join(out)


SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "float64": "fp64"}


def layer_label(layer: dict[str, Any]) -> str:
    window = layer.get("window")
    return f"{layer['kind']} {window:,}" if window else layer["kind"]


def counted(label: str, count: int) -> str:
    return label if count == 1 else f"{count} × {label}"


def runs(labels: list[str]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for label in labels:
        if found and found[-1][0] == label:
            found[-1] = (label, found[-1][1] + 1)
        else:
            found.append((label, 1))
    return found


def pattern(labels: list[str]) -> str:
    """A stack's layers in few words: `32 × full`, `(5 × sliding 512, full) × 4 + 2 × sliding 512`, or counts
    where no short period repeats."""
    if not labels:
        return "none"
    if len(set(labels)) == 1:
        return f"{len(labels)} × {labels[0]}"
    for period in range(2, len(labels) // 2 + 1):
        if all(labels[i] == labels[i % period] for i in range(len(labels))):
            unit = ", ".join(counted(label, count) for label, count in runs(labels[:period]))
            repeats, rest = divmod(len(labels), period)
            tail = ", ".join(counted(label, count) for label, count in runs(labels[:rest]))
            return f"({unit}) × {repeats}" + (f" + {tail}" if tail else "")
    counts = Counter(labels)
    return ", ".join(f"{counts[label]} × {label}" for label in dict.fromkeys(labels))


def layers_cell(record: dict[str, Any]) -> str:
    stacks: dict[str, list[str]] = {}
    for layer in record["attention"]["layers"]:
        stacks.setdefault(layer["stack"], []).append(layer_label(layer))
    if len(stacks) == 1:
        return pattern(next(iter(stacks.values())))
    return "; ".join(f"{stack}: {pattern(labels)}" for stack, labels in stacks.items()) or "none"


def attention_cell(record: dict[str, Any]) -> str:
    heads = record["attention"]["heads"]
    grouping = heads.get("grouping") or "unknown"
    if heads.get("query") is None:
        return grouping
    shown = f"{grouping} {heads['query']}/{heads['key_value']}"
    return f"{shown}, latent {heads['mla']['kv_lora_rank']}" if grouping == "MLA" else shown


def context_cell(record: dict[str, Any]) -> str:
    window = record["context_window"]
    declared = f"{window['declared']:,}" if window.get("declared") else "—"
    effective = f"{window['effective']:,}" if window.get("effective") else "—"
    return f"{declared} / {effective}"


def kv_cell(record: dict[str, Any]) -> str:
    kv = record["kv_cache"]
    shown = human_bytes(kv.get("bytes_per_token"))
    if kv.get("dtype"):
        shown += f" {SHORT_DTYPES.get(kv['dtype'], kv['dtype'])}"
    if kv.get("constant_state_bytes"):
        shown += f" + {human_bytes(kv['constant_state_bytes'])} state"
    return shown


def findings_cell(record: dict[str, Any]) -> str:
    counts = Counter(item["severity"] for item in record["findings"])
    shown = [f"{counts[s]} {s}" + ("s" if counts[s] > 1 and s != "info" else "") for s in SEVERITIES if counts[s]]
    return ", ".join(shown) or "none"


def probes_cell(record: dict[str, Any]) -> str:
    counts = Counter(probe["status"] for probe in record["probes"])
    return (", ".join(f"{counts[s]} {s}" for s in ("pass", "fail", "error", "skipped") if counts[s])
            or "none (config only)")


def index_row(card: Card) -> list[str]:
    record = card.record
    name = card_title(card).removeprefix("Model card: ")
    return [f"[{cell(name)}]({card.source.slug}/index.md)", cell(record["architecture"]["class"] or "—"),
            cell(attention_cell(record)), cell(layers_cell(record)), cell(context_cell(record)),
            cell(kv_cell(record)), cell(probes_cell(record)), cell(findings_cell(record))]


def index_page(cards: list[Card]) -> str:
    made = [card for card in cards if not card.cached]
    out = ["---\nhide:\n  - navigation\n  - toc\n---\n\n# Gallery\n\n"]
    probed = [card for card in cards if card.record["probes"]]
    links = ", ".join(f"[{cell(card_title(card).removeprefix('Model card: '))}]({card.source.slug}/index.md)"
                      for card in probed)
    one = len(probed) == 1
    out.append(
        f"{len(cards)} cards, each made by modelcard when this site was built. {len(cards) - len(probed)} are real "
        "released models documented from their published `config.json` alone (built on PyTorch's `meta` device, "
        "no weights downloaded, `--suite none`): what their configs and modeling code say, including the config "
        f"keys the code never reads. {len(probed)} {'has' if one else 'have'} weights and {'was' if one else 'were'} "
        f"probed with them (a recorded run is rendered again here), so they also show what the probes measure: "
        f"{links}. Each row links to the card.\n\n")
    out.append(table(["Model", "Class", "Attention (query/KV heads)", "Layers", "Context declared / effective",
                      "KV cache per token", "Probes", "Findings"], [index_row(card) for card in cards]))
    out.append(
        "\n*Layers* lists each stack's token-mixing layers, with the window of sliding and chunked ones, and the "
        "pattern that repeats ([Attention variants](../concepts/attention.md)). *Context effective* is measured "
        "by the retrieval probes on a model's own weights, so a config-only card has none (—). *KV cache per "
        "token* is what one more token adds while the context is shorter than every window, plus the constant "
        "state of linear and state-space layers ([KV-cache memory](../concepts/kv-cache.md)). *Findings* are "
        "what inspection or probes found that contradicts or qualifies the config; open a card to read them.\n\n")
    seconds = sum(card.seconds for card in cards)
    out.append(f"Generating all {len(cards)} took {seconds:.0f} s of this machine's time"
               + (f" ({len(made)} generated in this build, the others reused from `build/docs-cache/`)."
                  if len(made) < len(cards) else ".") + "\n")
    out.append(generated_note("the cards above, which `mkdocs build` generates with modelcard"))
    return "".join(out)


def demo_summary(card: Card) -> str:
    """The home page's excerpt of the demo card: the headline facts as the gallery index states them."""
    record = card.record
    rows = [["Architecture class", cell(record["architecture"]["class"])],
            ["Parameters", f"{record['model']['parameters']:,}"],
            ["Attention", cell(attention_cell(record))],
            ["Layers", cell(layers_cell(record))],
            ["Context window declared / effective (measured)", cell(context_cell(record))],
            ["KV cache per token", cell(kv_cell(record))],
            ["Probes (standard suite)", cell(probes_cell(record))],
            ["Findings", cell(findings_cell(record))]]
    return table(["Demo model", "From its card"], rows)
