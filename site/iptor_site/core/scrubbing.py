"""Making deleted rows unreadable on disk once their deletion has committed."""

from __future__ import annotations

import atexit
import threading
import time

from flask import current_app, has_request_context
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

#: How long a rewrite waits for a table's lock before it gives up and tries again.
LOCK_TIMEOUT = "5s"


RETRIES = 3


#: How long a rewrite waits for transactions that may still see the deleted rows.
SNAPSHOT_WAIT_SECONDS = 60


_OLDER_SNAPSHOTS = """
    SELECT count(*) FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND backend_xmin IS NOT NULL
      AND backend_type <> 'autovacuum worker' AND xact_start < %(since)s
"""


def rewrite_tables(engine, tables) -> None:
    """PostgreSQL: ``VACUUM FULL`` each table, after a deletion has committed.

    A plain VACUUM only marks dead tuples' space reusable and leaves their bytes
    in the pages; VACUUM FULL copies the rows into new files and truncates the
    old ones, indexes and TOAST included. It also copies rows deleted so recently
    that an older transaction may still see them, so it first waits (up to
    ``SNAPSHOT_WAIT_SECONDS``) for every transaction begun before it to end, in
    any database of the server (tests showed others' snapshots holding rows back).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        since = conn.exec_driver_sql("SELECT clock_timestamp()").scalar()
        deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
        while conn.exec_driver_sql(_OLDER_SNAPSHOTS, {"since": since}).scalar():
            if time.monotonic() > deadline:
                current_app.logger.warning("a transaction older than the deletion is still open: "
                                           "VACUUM FULL may keep the rows it can still see")
                break
            time.sleep(0.1)
        conn.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        for table in sorted(tables):
            for attempt in range(1, RETRIES + 1):
                try:
                    conn.exec_driver_sql(f"VACUUM (FULL) {conn.dialect.identifier_preparer.quote(table)}")
                    break
                except OperationalError:  # the lock did not come in time: busy now, try again
                    if attempt == RETRIES:
                        raise
                    time.sleep(attempt)


class Scrubber:
    """Rewrites tables after deletions, in a thread of its own: off the request path,
    and without waiting for a cron job."""

    def __init__(self, app):
        self.app = app
        self.changed = threading.Condition()
        self.tables: set[str] = set()
        self.busy = False
        self.thread: threading.Thread | None = None

    def request(self, tables) -> None:
        with self.changed:
            self.tables.update(tables)
            self.changed.notify_all()
            if self.thread is None or not self.thread.is_alive():
                if self.thread is None:
                    atexit.register(self.wait_idle, 30)
                self.thread = threading.Thread(target=self._serve, name="table-scrubber", daemon=True)
                self.thread.start()

    def wait_idle(self, timeout: float = 60) -> bool:
        """Wait until every requested rewrite has run; False on timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.tables and not self.busy, timeout)

    def _serve(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.tables)
                tables, self.tables, self.busy = self.tables, set(), True
            try:
                with self.app.app_context():
                    try:
                        rewrite_tables(self.app.extensions["database"].kw["bind"], tables)
                    except Exception:  # noqa: BLE001 - logged; the next erasure, purge or vacuum retries
                        current_app.logger.exception("rewriting %s failed", ", ".join(sorted(tables)))
            finally:
                with self.changed:
                    self.busy = False
                    self.changed.notify_all()


_scrubber_lock = threading.Lock()


def scrubber(app=None) -> Scrubber:
    app = app or current_app._get_current_object()
    with _scrubber_lock:
        if "scrubber" not in app.extensions:
            app.extensions["scrubber"] = Scrubber(app)
        return app.extensions["scrubber"]


def make_unreadable(session: Session, tables) -> None:
    """After a committed deletion, make what was deleted unreadable on disk.

    SQLite: deleted content is zeroed (secure_delete) and the write-ahead log is
    checkpointed and truncated here. PostgreSQL: ``tables`` are rewritten
    (``rewrite_tables``) by the scrubber thread when called while serving a request
    or from another thread (the mail sender), and right away in a command.
    """
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        if has_request_context() or threading.current_thread() is not threading.main_thread():
            scrubber().request(tables)
        else:
            rewrite_tables(engine, tables)
        return
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside any transaction, which would hold the log
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def vacuum_sqlite(engine) -> None:
    """SQLite: rebuild the file without free pages, then empty the write-ahead log.
    VACUUM cannot run in a transaction: it goes over a raw connection, which this
    app's connections leave in autocommit (see ``core.database``)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
