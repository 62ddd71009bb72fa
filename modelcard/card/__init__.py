"""Card: a valid record in; its presentation out: README.md with Hub front matter, card.html, the charts,
and the generated block of an existing README updated in place.

Imports no torch and no transformers."""
