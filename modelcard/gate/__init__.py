"""Gate: a card (card.json or README.md) and policies in; a verdict out: the checks a release must pass
(`modelcard check`), their report as text, JSON or JUnit, and what changed between two cards
(`modelcard diff`).

Imports no torch and no transformers."""

from modelcard.gate.cardfile import Card, read_card, read_valid_card
from modelcard.gate.check import CardReport, check_card
from modelcard.gate.diff import CardDiff, diff_cards
from modelcard.gate.policy import Policy, resolve_policy
from modelcard.gate.report import render_report

__all__ = ["Card", "CardDiff", "CardReport", "Policy", "check_card", "diff_cards", "read_card", "read_valid_card",
           "render_report", "resolve_policy"]
