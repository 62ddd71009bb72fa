"""Card: a valid record in; its presentation out: README.md with Hub front matter, card.html, the charts,
and the generated block of an existing README updated in place.

Imports no torch and no transformers."""

from modelcard.card.readme_update import open_readme, update_readme
from modelcard.card.render import render_all, render_html, render_markdown

__all__ = ["open_readme", "render_all", "render_html", "render_markdown", "update_readme"]
