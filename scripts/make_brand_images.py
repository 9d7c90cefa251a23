"""Draw the site's raster images from its own SVG mark, with headless Chromium (Playwright).

    make brand-images        (or: .venv/bin/python scripts/make_brand_images.py)

Writes, into static/img/:
- favicon-32.png: the mark at 32 × 32 px; favicon.ico: the same PNG in an ICO container
  (what browsers fetch at /favicon.ico);
- social-<locale>.png: the 1200 × 630 social card of each locale, with the product's
  one-line description from the catalogs (the same text as every page's meta description).
Nothing is fetched from another host; the fonts are the system's, as on the site.
"""

from __future__ import annotations

import html
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "static" / "img"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
DESCRIPTION = "Iptor multiflex Base Module: all your day-to-day business processes in one module."

MARK = ('<svg viewBox="0 0 32 32" width="{size}" height="{size}"><rect width="32" height="32" rx="7" '
        'fill="#5ec4b6"/><path d="M8 24V13a4 4 0 0 1 8 0v11M16 13a4 4 0 0 1 8 0v11" fill="none" '
        'stroke="#0e2340" stroke-width="3.2" stroke-linecap="round"/></svg>')

CARD = """<!doctype html><html lang="{lang}"><meta charset="utf-8"><style>
html, body {{ margin: 0; width: 1200px; height: 630px; overflow: hidden; }}
body {{ font-family: {font}; color: #fff; background: #0e2340;
  display: flex; flex-direction: column; justify-content: space-between; padding: 72px 80px; box-sizing: border-box; }}
.brand {{ display: flex; align-items: center; gap: 22px; font-size: 44px; }}
.brand b {{ font-weight: 750; }} .brand span {{ color: #b8d8d3; }}
h1 {{ font-size: 58px; line-height: 1.15; margin: 0; max-width: 1000px; font-weight: 700; }}
.rule {{ display: flex; gap: 14px; }}
.rule i {{ display: block; height: 10px; border-radius: 5px; background: #5ec4b6; }}
.rule .a {{ width: 160px; }} .rule .b {{ width: 60px; opacity: .6; }} .rule .c {{ width: 24px; opacity: .35; }}
</style><body><div class="brand">{mark}<div><b>Iptor</b> <span>multiflex</span></div></div>
<h1>{headline}</h1><div class="rule"><i class="a"></i><i class="b"></i><i class="c"></i></div>
</body></html>"""


def headline(lang: str) -> str:
    """The description after the product name, as the catalog of ``lang`` words it."""
    from babel.support import Translations

    text = DESCRIPTION
    if lang != "en":
        text = Translations.load(str(ROOT / "translations"), [lang]).gettext(DESCRIPTION)
    _, _, rest = text.partition(":")
    rest = rest.strip() or text
    return rest[0].upper() + rest[1:]


def ico_from_png(png: bytes, size: int) -> bytes:
    """A one-image ICO file holding ``png`` (PNG-in-ICO, read by every current browser)."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def main() -> int:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "site"))
    from iptor_site.core.locales import LOCALES

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 32, "height": 32})
        page.set_content('<html><body style="margin:0;background:transparent">'
                         + MARK.format(size=32) + "</body></html>")
        png = page.locator("svg").screenshot(omit_background=True)
        (IMG / "favicon-32.png").write_bytes(png)
        (IMG / "favicon.ico").write_bytes(ico_from_png(png, 32))
        page.close()
        page = browser.new_page(viewport={"width": 1200, "height": 630})
        for lang in LOCALES:
            page.set_content(CARD.format(lang=lang, font=FONT, mark=MARK.format(size=88),
                                         headline=html.escape(headline(lang))))
            page.screenshot(path=str(IMG / f"social-{lang}.png"), full_page=False)
        browser.close()
    print("wrote", ", ".join(sorted(p.name for p in IMG.glob("*.png"))), "and favicon.ico")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
