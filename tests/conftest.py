"""Shared fixtures: the app, its test client and a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from checkers import AXE, VNU
from iptor_site import create_app
from iptor_site.core import migrations
from iptor_site.core.database import normalize_url
from iptor_site.core.extensions import db
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.mail import cli as mail_cli

TEST_SECRET = "test-secret-key-not-for-production-0123456789"


class ClosingClient(FlaskClient):
    """Closes each response as a WSGI server does once it is sent, then does what the
    outbox worker would do next (send what is due), so both have happened when a test
    looks. The request itself never sends mail (tests/mail/test_mail.py)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        response = super().open(*args, **kwargs)
        mail_cli.send_due(self.application)
        return response

class SharedTemplateCache(BytecodeCache):
    """Jinja's compiled templates, kept for every app of the test run: each test builds an
    app of its own, whose template environment would otherwise compile every template it
    renders again (two thirds of a short test's time). Jinja checks each template's source
    checksum before using what is kept, so an edited template is compiled anew."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedTemplateCache()

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database to copy for each test: PostgreSQL when TEST_DATABASE_URL
    is set, else an SQLite file. Migrating once keeps a fresh database per test cheap."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
        # Unique per run, so two test runs against one server do not drop each other's template.
        template = f"iptor_test_template_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {template}")
        url = make_url(normalize_url(server_url)).set(database=template)
        _migrate(url.render_as_string(hide_password=False))
        yield ("postgresql", admin, template)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        _migrate(f"sqlite:///{path}")
        yield ("sqlite", path, None)


def _migrate(url: str) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": url})
    with app.app_context():
        migrations.upgrade()
        db.engine.dispose()


@contextmanager
def _database(database_template, path: Path, *, migrated: bool = True):
    """A database of the test's own: a copy of the migrated template, or an empty one."""
    kind, source, template = database_template
    if kind == "sqlite":
        if migrated:
            shutil.copyfile(source, path)
        yield f"sqlite:///{path}"
        return
    name = f"iptor_test_{uuid.uuid4().hex[:12]}"
    with source.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if migrated else ""))
    try:
        yield make_url(source.url).set(database=name).render_as_string(hide_password=False)
    finally:
        with source.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(database_template, tmp_path):
    """A fresh, migrated database for one test."""
    with _database(database_template, tmp_path / "test.sqlite3") as url:
        yield url


@pytest.fixture
def second_database_url(database_template, tmp_path):
    """Another fresh database in the same test, so one submission can be made in two worlds."""
    with _database(database_template, tmp_path / "second.sqlite3") as url:
        yield url


@pytest.fixture
def empty_database_url(database_template, tmp_path):
    """A database with no tables, for tests that run the migrations themselves."""
    with _database(database_template, tmp_path / "empty.sqlite3", migrated=False) as url:
        yield url


@pytest.fixture
def make_app(tmp_path, database_url):
    """Build an app with settings overridden for one test, on the test's own database."""
    apps = []

    def _make(**overrides):
        config = {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "SITE_URL": "",
            "DATABASE_URL": database_url,
            "MAIL_DIR": str(tmp_path / "mail"),
            "FORM_MIN_FILL_SECONDS": 0,
            # Bookable from tomorrow morning, as the tests' calendars were written; tests of the
            # notice period (tests/demo/test_demo_picker.py) set it.
            "DEMO_MIN_NOTICE_HOURS": 0,
            "RATELIMIT_FORM_PER_IP": "1000 per hour",
            "RATELIMIT_FORM_PER_EMAIL": "1000 per hour",
        }
        config.update(overrides)
        app = create_app(config)
        app.jinja_env.bytecode_cache = TEMPLATE_CACHE
        app.test_client_class = ClosingClient
        apps.append(app)
        return app

    yield _make
    for app in apps:
        _close_database(app)


def _close_database(app, timeout: float = 60) -> None:
    """Close the app's pooled connections once every one is back in the pool.

    A thread may still hold one when the test ends: the scrubber rewriting tables after
    an erasure, or the ``server`` fixture's request thread finishing its teardown after
    the browser or client has its answer. Disposing then would leave that connection
    to go back into the discarded pool and be garbage-collected unclosed later, in
    another test (psycopg's ResourceWarning, an error under ``filterwarnings = error``)."""
    scrubber = app.extensions.get("scrubber")
    if scrubber is not None:
        scrubber.wait_idle(timeout)
    engine = app.extensions["database"].kw["bind"]
    deadline = time.monotonic() + timeout
    while engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.dispose()


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

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(app):
    """The app served over HTTP on a loopback port for the browser. No outbox worker
    runs beside it: a test sends the mail when it wants to read it (``send_outbox``)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


class Clock:
    """A settable clock for the CLOCK setting: tests move time with ``clock.now = …``."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 30, 11, 0, tzinfo=UTC))


@pytest.fixture
def client(app):
    """Replace pytest-flask's client: it keeps the last request's context pushed,
    so a second client's requests would share that request's ``g``."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replace pytest-flask's fixture of this name: it keeps one request context
    (and so one ``g``) open for the whole test, so that every test-client request
    would share the locale Flask-Babel caches in ``g`` (pytest-dev/pytest-flask#187,
    open), the database session closed at the end of an app context, and this app's
    per-request flags. Each request gets its own contexts, as under a real server."""
    yield


class _Inbox:
    """What a loopback SMTP server received."""

    def __init__(self):
        self.messages = []
        self.peers = []  # the client's address and port for each message: one per connection

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)

        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_smtp(port: int):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    controller.inbox = inbox
    return controller


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a loopback port; ``.inbox.messages`` holds what arrived."""
    controller = _start_smtp(_free_port())
    yield controller
    if controller.loop.is_running():
        controller.stop()


@pytest.fixture
def restart_smtp():
    """Start a new SMTP server on a given port (one that was stopped to simulate an outage)."""
    started = []

    def _restart(port: int):
        started.append(_start_smtp(port))
        return started[-1]

    yield _restart
    for controller in started:
        controller.stop()


@pytest.fixture(scope="session")
def axe_source():
    """axe-core's script, from `npm ci`; skipped where it is missing, except in CI."""
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("axe-core is missing: run `npm ci`")
        pytest.skip("axe-core is missing: run `npm ci`")
    return AXE.read_text("utf-8")


@pytest.fixture(scope="session")
def vnu():
    """The Nu Html Checker's command line; skipped without Java or `npm ci`, except in CI."""
    java = shutil.which("java")
    if not (java and VNU.exists()):
        reason = "the Nu Html Checker needs Java (apt-get install default-jre-headless) and `npm ci`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return [java, "-Xss4m", "-jar", str(VNU)]


def pytest_collection_modifyitems(items):
    """Browser and Java tests are slow by nature: mark them so that `-m "not slow"` leaves
    them out with the other slow tests (servers, threads, subprocesses), which carry the
    marker themselves."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("java"):
            item.add_marker(pytest.mark.slow)
