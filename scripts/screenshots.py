"""Full-page screenshots of every public page, in every locale, on a phone and a desktop.

    make screenshots         (or: .venv/bin/python scripts/screenshots.py [OUT])

Serves the site from a throw-away SQLite database on a loopback port, then drives
headless Chromium (Playwright, launched as tests/site_wide/test_browser.py does) through every
public page in every locale at 390 px and 1366 px wide, in the light and the dark theme,
writing ``<locale>-<page>-<width>[-dark].png`` into OUT (default ``screenshots/``,
git-ignored). With the tags configured, ``<locale>-landing-390-banner.png`` shows the
first screen of a phone with the cookie banner. Four of the shots are copied to
docs/screenshots/ for the README (English landing and pricing, phone and desktop).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "site"))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
#: name → path under /<locale>: every public page.
PAGES = {
    "landing": "/",
    "pricing": "/pricing",
    "demo": "/demo",
    "privacy": "/privacy",
    "inquiry": "/privacy/inquiry",
    "cookies": "/cookies",
    "company": "/company",
}
WIDTHS = {390: 844, 1366: 900}
README_SHOTS = ["en-landing-390.png", "en-landing-1366.png", "en-pricing-390.png", "en-pricing-1366.png"]
#: A fixed clock, so that the demo calendar looks the same on every run.
NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def serve(settings: dict):
    """The site on a loopback port; returns (base URL, stop)."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    from iptor_site import create_app
    from iptor_site.core import migrations
    from iptor_site.core.extensions import db

    app = create_app({"SECRET_KEY": "screenshots-" + "x" * 32, "CLOCK": lambda: NOW, **settings})
    with app.app_context():
        migrations.upgrade()
        db.engine.dispose()
    logging.getLogger("iptor_site.access").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        thread.join()

    return f"http://127.0.0.1:{httpd.server_port}", stop


def main(out: Path) -> int:
    from playwright.sync_api import sync_playwright

    from iptor_site.core.locales import LOCALES

    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        base, stop = serve({"DATABASE_URL": f"sqlite:///{tmp}/site.sqlite3", "MAIL_DIR": f"{tmp}/mail",
                            "GA_MEASUREMENT_ID": "", "HUBSPOT_PORTAL_ID": ""})
        tagged, stop_tagged = serve({"DATABASE_URL": f"sqlite:///{tmp}/tagged.sqlite3", "MAIL_DIR": f"{tmp}/mail",
                                     "GA_MEASUREMENT_ID": "G-SCREENSHOT", "HUBSPOT_PORTAL_ID": ""})
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for scheme in ("light", "dark"):
                    for width, height in WIDTHS.items():
                        context = browser.new_context(viewport={"width": width, "height": height},
                                                      color_scheme=scheme)
                        page = context.new_page()
                        for lang in LOCALES:
                            for name, path in PAGES.items():
                                page.goto(f"{base}/{lang}{path}")
                                suffix = "" if scheme == "light" else "-dark"
                                page.screenshot(path=str(out / f"{lang}-{name}-{width}{suffix}.png"), full_page=True)
                                written += 1
                        context.close()
                context = browser.new_context(viewport={"width": 390, "height": 844})
                page = context.new_page()
                for lang in LOCALES:
                    page.goto(f"{tagged}/{lang}/")
                    page.screenshot(path=str(out / f"{lang}-landing-390-banner.png"))
                    written += 1
                context.close()
                browser.close()
        finally:
            stop()
            stop_tagged()
    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    for name in README_SHOTS:
        shutil.copyfile(out / name, docs / name)
    print(f"wrote {written} screenshots to {out}; copied {len(README_SHOTS)} to {docs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))
