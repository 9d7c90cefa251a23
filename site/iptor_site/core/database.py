"""The database: one engine per app, one session per request or command.

SQLite runs in WAL mode, so readers never wait for the writer and the writer never
waits for readers; writers take turns, each waiting up to DATABASE_LOCK_TIMEOUT
(busy_timeout). Transactions are SQLAlchemy's ordinary ones, with one SQLite rule:
a transaction begun while handling a request that changes something (POST and the
like) begins with ``BEGIN IMMEDIATE``, taking the write lock before it reads. Such a
transaction reads and then writes; begun as a plain ``BEGIN`` it would fail with
SQLITE_BUSY when another writer committed between its read and its write, instead
of waiting its turn. Everything else (pages, ``/healthz``, exports, the mail
sender, commands) begins with a plain ``BEGIN``; code outside a POST that reads and
then writes and must not fail half-way calls ``begin_writing`` first.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: Execution option: begin this connection's transactions holding SQLite's write lock
#: (True), or without it whatever the request (False: a read of its own, like the rate
#: limits' headers, which must not wait for the request's own open transaction).
WRITE_LOCK = "iptor_write_lock"
#: ``g`` flag: the database refused this request; its later reads take no write lock.
UNAVAILABLE = "database_unavailable"
#: Request methods that only read: their transactions take no lock up front.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def begin_writing(session: Session) -> None:
    """Begin ``session``'s next transaction holding the write lock (SQLite's
    ``BEGIN IMMEDIATE``; nothing changes on PostgreSQL). For a transaction outside a
    POST that reads and then writes: it then waits for its turn at the start instead
    of failing at its first write. Call it with no transaction open."""
    if session.in_transaction():
        raise RuntimeError("begin_writing needs a session with no transaction open")
    session.connection(execution_options={WRITE_LOCK: True})


#: SQLite's primary result codes that mean "not now" rather than "wrong": BUSY, LOCKED,
#: READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
SQLITE_UNAVAILABLE = frozenset({5, 6, 8, 10, 11, 13, 14, 15, 26})


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be used just now (locked, read-only,
    unreachable) rather than that the program is wrong (a syntax error, a missing table)."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in SQLITE_UNAVAILABLE
    # PostgreSQL: connection failures, lock timeouts and cancellations are OperationalError;
    # 25006 is a read-only transaction (default_transaction_read_only, a standby).
    return isinstance(exc, OperationalError) or getattr(exc.orig, "sqlstate", None) == "25006"


def _tune_sqlite(engine: Engine, lock_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={lock_timeout_ms:d}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        writing = connection.get_execution_options().get(WRITE_LOCK)
        if writing is None:
            writing = has_request_context() and request.method not in SAFE_METHODS and not g.get(UNAVAILABLE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def on_error(context):
        # Once the database has refused this request (locked, read-only), what the request
        # still reads (the form shown again) goes without the write lock, so it gets through.
        if has_request_context() and is_unavailable(context.sqlalchemy_exception):
            g.setdefault(UNAVAILABLE, True)


def current_engine() -> Engine:
    """The engine of the current app (the one ``Database.init_app`` made)."""
    return current_app.extensions["database"].kw["bind"]


class Database:
    """Created unbound in ``extensions``; ``init_app`` gives each app its engine."""

    def init_app(self, app: Flask) -> None:
        url = normalize_url(app.config["DATABASE_URL"])
        lock_timeout_ms = int(float(app.config.get("DATABASE_LOCK_TIMEOUT", 10)) * 1000)
        options = {}
        if url.startswith("postgresql"):
            options.update(pool_pre_ping=True, pool_size=5, max_overflow=10,
                           connect_args={"options": f"-c lock_timeout={lock_timeout_ms:d}"})
        engine = create_engine(url, **options)
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, lock_timeout_ms)
        app.extensions["database"] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(self._close_session)

    @property
    def engine(self) -> Engine:
        return current_engine()

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
