"""The internal link check of the built site: every relative `href` and `src` in every built HTML page must name a
file that was built, and every `#fragment` an element id on the page it points at. mkdocs checks the links
written in Markdown; this also covers links in raw HTML, in generated pages and in the theme."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "source": "src"}


@dataclass(frozen=True)
class BrokenLink:
    page: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.page}: {self.target} ({self.why})"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(values[key] or "")
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and values.get(attribute):
            self.links.append(values[attribute] or "")


def read_pages(site: Path) -> dict[Path, _Page]:
    pages = {}
    for path in sorted(site.rglob("*.html")):
        parser = _Page()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        pages[path.resolve()] = parser
    return pages


def target_file(site: Path, page: Path, path: str) -> Path:
    base = site if path.startswith("/") else page.parent
    target = (base / unquote(path).lstrip("/")).resolve()
    return target / "index.html" if path.endswith("/") or target.is_dir() else target


def broken_links(site: Path) -> list[BrokenLink]:
    site = site.resolve()
    pages = read_pages(site)
    broken = []
    for page, parsed in pages.items():
        name = page.relative_to(site).as_posix()
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = target_file(site, page, parts.path) if parts.path else page
            if not target.is_relative_to(site):
                broken.append(BrokenLink(name, link, "outside the site"))
            elif not target.is_file():
                broken.append(BrokenLink(name, link, "no such file"))
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(BrokenLink(name, link, "no such anchor"))
    return broken
