"""The database: one engine per app, one session per request or command."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from functools import cache

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: Per thread: whether it holds the writers' file lock through some connection.
_queued = threading.local()


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection that queues for the write lock on a file lock first.

    SQLite lets one writer in at a time and makes the others poll with growing
    sleeps (up to 100 ms); under load the lock then sits free while everybody
    sleeps. ``flock`` hands it straight to the next waiter, in any process.
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = str(database)
        memory = path in {"", ":memory:"} or path.startswith("file::memory:") or "mode=memory" in path
        self.writer_lock = None if memory else open(path + ".writer", "a+b")  # noqa: SIM115 - held open
        self.in_line = False

    def begin_immediate(self) -> None:
        """Wait in line for the write lock, then take SQLite's."""
        # A thread that already holds the line through another connection would wait
        # on itself for ever: it goes straight to SQLite, whose busy timeout ends that.
        if self.writer_lock is not None and not getattr(_queued, "holding", False):
            fcntl.flock(self.writer_lock, fcntl.LOCK_EX)
            self.in_line = _queued.holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self.in_line:
            fcntl.flock(self.writer_lock, fcntl.LOCK_UN)
            self.in_line = _queued.holding = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.writer_lock is not None:
                self.writer_lock.close()


#: Execution option of a transaction that only reads (see ``read_only``).
READ_ONLY = "iptor_read_only"


def read_only(session: Session) -> None:
    """Begin ``session``'s next transaction as read-only: on SQLite it waits for no
    writer and holds no lock. End it before writing. In a transaction already
    begun, the reads simply join that one."""
    if not session.in_transaction():
        session.connection(execution_options={READ_ONLY: True})


def insert_row(session: Session, model, values: dict) -> int:
    """Insert one row of ``model`` in the session's transaction and return its id.

    A plain INSERT costs about a third of the ORM's unit of work, and a form's rows
    are written while other submissions wait for the write lock. The session does
    not track the row: read it back with ``session.get`` when it is needed.
    """
    return session.connection().execute(_inserts(model)[1], values).scalar_one()


def insert_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert rows of ``model`` in the session's transaction (see ``insert_row``)."""
    if rows:
        session.connection().execute(_inserts(model)[0], rows)


@cache
def _inserts(model) -> tuple:
    # Built once: a statement object remembers its compiled form's cache key.
    statement = insert(model)
    return statement, statement.returning(model.id)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot to read from; WAL lets writers go on
            return
        # Take the write lock up front: a transaction that reads and then writes
        # would otherwise fail with SQLITE_BUSY instead of waiting its turn.
        connection.connection.dbapi_connection.begin_immediate()


class Database:
    """Created unbound in ``extensions``; ``init_app`` gives each app its engine."""

    def init_app(self, app: Flask) -> None:
        url = normalize_url(app.config["DATABASE_URL"])
        options = {"future": True}
        if url.startswith("postgresql"):
            options.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        elif url.startswith("sqlite"):
            options["connect_args"] = {"factory": QueuedWriterConnection}
        engine = create_engine(url, **options)
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine)
        app.extensions["database"] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(self._close_session)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["database"].kw["bind"]

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = current_app.extensions["database"]()
        return g.db_session

    @staticmethod
    def _close_session(_exc=None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
