"""Gate: a card (card.json or README.md) and policies in; a verdict out: the checks a release must pass
(`modelcard check`), their report as text, JSON or JUnit, and what changed between two cards
(`modelcard diff`).

Imports no torch and no transformers."""
