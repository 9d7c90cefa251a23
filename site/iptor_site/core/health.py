"""Health check for load balancers and monitoring."""

from __future__ import annotations

import os
import socket
import sqlite3

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from iptor_site.core.extensions import db, limiter

bp = Blueprint("health", __name__)

SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 5, 6, 8


@bp.get("/healthz")
def healthz():
    """200 when the database can be read and would take a write; 503 naming why not
    ("down" or "read-only"). It never waits behind a writer: with WAL the read takes
    no lock, and a write lock held by someone else shows that writes work."""
    try:
        state = _database_state()
    except SQLAlchemyError:
        state = "down"
    finally:
        db.session.rollback()
    # Which server answered, and the state of Redis (requests go on when it is down, so it
    # does not decide the status): behind the proxy an operator sees who is up.
    extra = {"instance": _instance(), "redis": _redis_state()}
    if state != "up":
        return jsonify(status="unavailable", database=state, **extra), 503
    return jsonify(status="ok", database="up", **extra)


def _instance() -> dict:
    """The host, the port this server accepted the request on, and its process id."""
    environ = request.environ
    port = None
    accepted = environ.get("gunicorn.socket")  # the connection: its local end is the server's port
    if accepted is not None:
        try:
            port = accepted.getsockname()[1]
        except (OSError, IndexError, TypeError):
            port = None
    if port is None:  # another server: its port as it was before X-Forwarded-Port replaced it
        raw = (environ.get("werkzeug.proxy_fix.orig") or environ).get("SERVER_PORT")
        port = int(raw) if raw and str(raw).isdigit() else None
    return {"host": socket.gethostname(), "port": port, "pid": os.getpid()}


def _redis_state() -> str:
    if not current_app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://", "redis+")):
        return "not used"
    try:
        return "up" if limiter.storage.check() else "down"
    except Exception:  # noqa: BLE001 - any failure to reach it means it is down for us
        return "down"


def _database_state() -> str:
    session = db.session
    if db.engine.dialect.name == "postgresql":
        read_only = session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        return "read-only" if read_only else "up"
    session.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()  # reads the file
    session.rollback()
    return _sqlite_takes_writes()


def _sqlite_takes_writes() -> str:
    """Ask for the write lock without waiting, write nothing, and give it back at once.
    (A read-only file grants the lock; only a write statement finds out.)"""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        timeout = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute("DELETE FROM rate_limits WHERE 0")  # a write that changes nothing
            finally:
                cursor.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in {SQLITE_BUSY, SQLITE_LOCKED}:
                return "up"  # another transaction is writing: writes work
            return "read-only" if code == SQLITE_READONLY else "down"
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(timeout):d}")
            cursor.close()
    finally:
        raw.close()
    return "up"
