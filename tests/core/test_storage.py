"""The database: migrations match the models, SQLite is tuned, PostgreSQL is used when asked."""

import os
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from formhelpers import at_once, inquiry_data, signed_in_staff
from iptor_site.backoffice import accounts
from iptor_site.core.database import begin_writing
from iptor_site.core.extensions import db
from iptor_site.models import AuditEntry, Base, Lead, PrivacyInquiry


def test_suite_runs_on_the_database_it_was_given(app):
    with app.app_context():
        expected = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
        assert db.engine.dialect.name == expected


def test_migrations_create_exactly_the_models_schema(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/tuned.sqlite3")
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_the_lock_timeout_is_a_setting(make_app):
    app = make_app(DATABASE_LOCK_TIMEOUT=2.5)
    with app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        else:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "2500ms"


NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_healthz_does_not_wait_behind_a_writer(make_app, tmp_path):
    """A writer holding SQLite's write lock: /healthz reads (WAL) and answers at once.
    Today it queued for the write lock and, after the busy timeout, failed with a 500."""
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/busy.sqlite3", DATABASE_LOCK_TIMEOUT=30)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    assert app.test_client().get("/healthz").status_code == 200
    writer = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what any form submission holds while it writes
    writer.execute("CREATE TABLE t (n INTEGER)")
    try:
        response = app.test_client().get("/healthz")
    finally:
        writer.rollback()
        writer.close()
    assert (response.status_code, response.json["status"], response.json["database"]) == (200, "ok", "up")


def test_a_long_export_does_not_hold_up_submissions(make_app, monkeypatch):
    """While the marketing export is still reading, a public form is submitted and saved;
    then the export finishes (and is audited). Today the export held the write lock
    for its whole run, and the submission queued behind it."""
    app = make_app(CLOCK=lambda: NOW)
    staff = signed_in_staff(app, "sales@iptor.com", "sales", now=NOW)
    reading, release = threading.Event(), threading.Event()
    order, answers = [], {}
    real = accounts.marketing_leads

    def slow_marketing_leads(session):
        rows = real(session)
        reading.set()  # the export's read transaction is open here
        release.wait(60)  # bounds a hang on code where the submission cannot get in
        return rows

    monkeypatch.setattr(accounts, "marketing_leads", slow_marketing_leads)

    def export():
        answers["export"] = staff.get("/admin/leads.csv")
        order.append("export done")

    thread = threading.Thread(target=export)
    thread.start()
    assert reading.wait(60)
    visitor = app.test_client()
    page = visitor.get("/en/privacy/inquiry").text
    answers["submission"] = visitor.post("/en/privacy/inquiry", data=inquiry_data(page))
    order.append("submission done")
    release.set()
    thread.join()
    assert order == ["submission done", "export done"]
    assert answers["submission"].status_code == 303
    assert answers["export"].status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PrivacyInquiry)) == 1
        assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "export-leads")).one()


def test_concurrent_submissions_all_get_in(make_app):
    """Twelve visitors post at the same moment: every one is saved (on SQLite each
    POST's transaction waits for the write lock instead of failing half-way)."""
    app = make_app(CLOCK=lambda: NOW)
    clients = [app.test_client() for _ in range(12)]
    pages = [client.get("/en/privacy/inquiry").text for client in clients]
    barrier = threading.Barrier(len(clients))
    statuses = {}

    def post(n):
        barrier.wait()
        statuses[n] = clients[n].post("/en/privacy/inquiry", data=inquiry_data(
            pages[n], email=f"visitor{n}@example.com")).status_code

    at_once(post, len(clients))
    assert sorted(statuses.values()) == [303] * len(clients)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lead)) == len(clients)


def test_begin_writing_takes_the_write_lock_before_the_first_read(make_app, tmp_path):
    """Outside a POST a transaction begins without a lock; ``begin_writing`` asks for it up front."""


    path = tmp_path / "lock.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    with app.app_context():
        db.session.execute(text("SELECT 1")).scalar()
        other.execute("BEGIN IMMEDIATE")  # a plain transaction that has read leaves the lock free
        other.rollback()
        db.session.rollback()
        begin_writing(db.session)
        db.session.execute(text("SELECT 1")).scalar()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        db.session.rollback()
    other.close()
