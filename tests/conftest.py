"""Shared fixtures: the app, its test client and a real browser."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from iptor_site import create_app
from iptor_site.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def make_app(tmp_path):
    """Build an app with settings overridden for one test."""

    def _make(**overrides):
        config = {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
            "SITE_URL": "",
        }
        config.update(overrides)
        return create_app(config)

    return _make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def legal_copy(tmp_path):
    """A writable copy of the legal documents, for tests that add or remove versions."""
    target = tmp_path / "legal"
    shutil.copytree(PROJECT_ROOT / "legal", target)
    return target


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped where it is missing, except in CI."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(app):
    """The app served over HTTP on a loopback port for the browser."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replace pytest-flask's fixture of this name: it keeps one request context
    (and so one ``g``) open for the whole test, so that every test-client request
    would share the locale Flask-Babel caches in ``g``. Each request gets its own."""
    yield
