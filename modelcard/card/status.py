"""Bad news first: the card's status line (probes that failed or erred, error findings, disclosures the gate
asks for that are missing) and the badges that mark a status in colour and, for monochrome, in a symbol and a
word."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelcard.base.wording import plural

# The disclosures the attention-governance policy asks of every attention-model card (SPEC.md, Policies),
# beyond what inspection detects itself.
GATE_DISCLOSURES = ("retrieval_mechanism", "tool_access", "known_failure_modes")
DISCLOSURE_WORDS = {"intended_use": "intended use", "out_of_scope_use": "out-of-scope use",
                    "retrieval_mechanism": "retrieval mechanism", "tool_access": "tool access",
                    "known_failure_modes": "known failure modes", "training_data": "training data",
                    "license": "license", "contact": "contact"}

# symbol for monochrome, emoji for Markdown (coloured where the Hub shows it), CSS class for the HTML card
BADGES = {
    "pass": ("✓", "✅", "good"), "fail": ("✗", "❌", "bad"), "error": ("✗", "❌", "bad"),
    "skipped": ("–", "⏭️", "quiet"), "warning": ("!", "⚠️", "warn"), "info": ("i", "ℹ️", "quiet"),
    "missing": ("!", "⚠️", "warn"),
}


@dataclass(frozen=True)
class Badge:
    word: str  # pass, fail, error, skipped, warning, info
    symbol: str
    emoji: str
    tone: str  # good, bad, warn, quiet

    @property
    def markdown(self) -> str:
        return f"{self.emoji} {self.word}"


def badge(word: str) -> Badge:
    symbol, emoji, tone = BADGES.get(word, ("·", "▪️", "quiet"))
    return Badge(word, symbol, emoji, tone)


def declared(value: Any) -> bool:
    return value is not None and value != "" and value != [] and not (isinstance(value, str) and not value.strip())


def missing_gate_disclosures(record: dict[str, Any]) -> list[str]:
    disclosures = record["disclosures"]
    return [key for key in GATE_DISCLOSURES if not declared(disclosures.get(key))]


@dataclass(frozen=True)
class StatusItem:
    badge: Badge
    text: str


def status_items(record: dict[str, Any]) -> list[StatusItem]:
    """What a reader must know before anything else, worst first; good news only where there is no bad."""
    probes = record["probes"]
    count = {status: sum(p["status"] == status for p in probes) for status in ("pass", "fail", "error", "skipped")}
    severities = {level: sum(f["severity"] == level for f in record["findings"]) for level in ("error", "warning")}
    items = []
    if count["fail"]:
        failed = ", ".join(p["id"] for p in probes if p["status"] == "fail")
        items.append(StatusItem(badge("fail"), f"{plural(count['fail'], 'probe')} failed ({failed})"))
    if count["error"]:
        erred = ", ".join(p["id"] for p in probes if p["status"] == "error")
        items.append(StatusItem(badge("error"), f"{plural(count['error'], 'probe')} could not run to the end "
                                                f"({erred})"))
    if severities["error"]:
        items.append(StatusItem(badge("error"), f"{plural(severities['error'], 'error finding')}"))
    missing = missing_gate_disclosures(record)
    if missing:
        words = ", ".join(DISCLOSURE_WORDS[key] for key in missing)
        items.append(StatusItem(badge("missing"), f"{plural(len(missing), 'disclosure')} the gate asks for "
                                                  f"{'is' if len(missing) == 1 else 'are'} not declared ({words})"))
    if severities["warning"]:
        items.append(StatusItem(badge("warning"), plural(severities["warning"], "warning")))
    if not probes:
        items.append(StatusItem(badge("skipped"), "no probes ran: nothing on this card was measured"))
    elif count["pass"] and not (count["fail"] or count["error"]):
        items.append(StatusItem(badge("pass"), f"{plural(count['pass'], 'probe')} passed"
                                               + (f", {count['skipped']} skipped" if count["skipped"] else "")))
    elif count["skipped"] == len(probes):
        items.append(StatusItem(badge("skipped"), f"all {plural(len(probes), 'probe')} skipped"))
    if not (severities["error"] or missing or severities["warning"]):
        items.append(StatusItem(badge("pass"), "no error findings; every disclosure the gate asks for is declared"))
    return items
