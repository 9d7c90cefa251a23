"""The database: migrations match the models, SQLite is tuned, PostgreSQL is used when asked."""

import os
import signal
import sqlite3
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from iptor_site.db import read_only
from iptor_site.extensions import db
from iptor_site.models import Base


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


def test_flask_db_upgrade_creates_the_schema(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/fresh.sqlite3")
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "leads" in inspect(db.engine).get_table_names()


def test_sqlite_writers_queue_for_the_write_lock(make_app, tmp_path):
    """A second writer waits on the file lock, not in SQLite's busy loop, and gets in on commit."""
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/queued.sqlite3")
    order = []
    with app.app_context():
        first = db.engine.connect()
        first.begin()
        first.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        first.exec_driver_sql("INSERT INTO t VALUES (1)")

        pooled = db.engine.raw_connection()
        second = pooled.driver_connection
        second.execute("PRAGMA busy_timeout=0")  # SQLite itself would refuse at once, not wait

        def second_writer():
            second.begin_immediate()
            order.append("second in")
            second.execute("INSERT INTO t VALUES (2)")
            second.commit()

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and order == []  # still queued behind the first writer
        order.append("first commits")
        first.commit()
        thread.join(10)
        first.close()
        pooled.close()
        assert order == ["first commits", "second in"]
        with db.engine.connect() as conn:
            assert [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY n")] == [1, 2]
    assert (tmp_path / "queued.sqlite3.writer").exists()


def test_a_read_only_transaction_does_not_wait_for_a_writer(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/reads.sqlite3")
    with app.app_context():
        with db.engine.begin() as setup:
            setup.exec_driver_sql("CREATE TABLE t (n INTEGER)")
            setup.exec_driver_sql("INSERT INTO t VALUES (1)")
        writer = db.engine.connect()
        writer.begin()
        writer.exec_driver_sql("INSERT INTO t VALUES (2)")  # holds the write lock, uncommitted
        reader = db.session
        read_only(reader)
        # Answered at once from the last committed state; a writing transaction would queue here.
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
        reader.commit()
        writer.commit()
        writer.close()


def test_a_nested_writer_in_the_same_thread_does_not_wait_on_itself(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/nested.sqlite3")
    with app.app_context():
        outer = db.engine.connect()
        outer.begin()
        outer.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        pooled = db.engine.raw_connection()
        inner = pooled.driver_connection
        inner.execute("PRAGMA busy_timeout=100")
        # Without the file lock to wait on, SQLite refuses after its busy timeout
        # (a thread waiting on its own file lock would wait until the alarm).
        previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("waited on its own lock"))
        signal.alarm(5)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                inner.begin_immediate()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        outer.commit()
        inner.begin_immediate()  # and once the outer writer is done, the inner one gets in
        inner.commit()
        pooled.close()
        outer.close()
