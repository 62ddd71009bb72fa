"""Screenshots of cards and docs pages with headless Chromium, at a desktop and a phone width.

    python scripts/screenshots.py card/card.html --out build/screenshots               # 1280 and 420 px
    python scripts/screenshots.py card/card.html --widths 1280 --height 900 --out site/assets

Each page is shot at each width as `<name>-<width>.png` (the name is the page's folder, or the file's stem for an
index.html or a page named card.html). Chromium comes from the system (Debian: `apt-get install chromium`); the
script says so and exits 2 when there is none. Nothing here runs in the tests.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def browser() -> str | None:
    """The first Chromium on PATH, or None."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def shot_name(page: Path) -> str:
    """`demo-card` for demo-card/card.html or demo-card/index.html; the file's stem otherwise."""
    return page.parent.name if page.name in ("card.html", "index.html") and page.parent.name else page.stem


def screenshot(chromium: str, page: Path, out: Path, width: int, height: int) -> Path:
    """One PNG of `page` at `width` x `height` CSS pixels.

    Args:
        chromium: the browser's executable.
        page: an HTML file.
        out: the folder the PNG goes to.
        width: the window's width.
        height: the window's height (the part of the page shot).

    Returns:
        The PNG's path.
    """
    target = out / f"{shot_name(page)}-{width}.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={target}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, help="HTML files")
    parser.add_argument("--out", type=Path, default=Path("build") / "screenshots")
    parser.add_argument("--widths", type=int, nargs="+", default=[1280, 420])
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    chromium = browser()
    if chromium is None:
        print("screenshots: no Chromium on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for page in args.pages:
        if not page.is_file():
            print(f"screenshots: {page}: no such file", file=sys.stderr)
            return 2
        for width in args.widths:
            print(screenshot(chromium, page, args.out, width, args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
