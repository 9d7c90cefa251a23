"""Rate limits for form submissions, per client address and per submitted e-mail.

The counters live where every worker and every server sees them: by default in the
site's own database (``database://``, the ``rate_limits`` table), or in Redis when
RATELIMIT_STORAGE_URI says ``redis://…``. Keys hold keyed hashes, never an address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits.storage import Storage
from sqlalchemy import Double, Engine, Integer, String, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from iptor_site.core.clock import epoch_seconds
from iptor_site.core.database import WRITE_LOCK, current_engine
from iptor_site.core.models import Base
from iptor_site.core.settings import derive_key


class RateLimitCounter(Base):
    """One fixed window of one limit: its hits, and when the window closes.

    ``key`` is Flask-Limiter's key with the client part already a keyed hash
    (``ratelimits.hashed_remote_address``, ``per_email.key``): no address is stored.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    #: Seconds since the epoch (``core.clock.epoch_seconds``, as the limits library counts).
    expires_at: Mapped[float] = mapped_column(Double, index=True)


def _hashed(kind: str, value: str) -> str:
    """``kind:`` and a keyed hash of ``value``: a stable key that names nobody."""
    app = current_app
    key = app.extensions.get("ratelimit_key")
    if key is None:
        key = app.extensions["ratelimit_key"] = derive_key(app.config["SECRET_KEY"], "rate-limits").encode()
    return f"{kind}:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def hashed_remote_address() -> str:
    """The limiter's default key: the client address (as TRUSTED_PROXIES reports it), hashed."""
    return _hashed("ip", get_remote_address())


def per_ip() -> str:
    return current_app.config["RATELIMIT_FORM_PER_IP"]


class _PerEmail:
    """Limit value and key for "the same e-mail address, from anywhere"."""

    def __call__(self) -> str:
        return current_app.config["RATELIMIT_FORM_PER_EMAIL"]

    @staticmethod
    def key() -> str:
        value = request.form.get("email")
        return _PerEmail.key_of(value if isinstance(value, str) else "")

    @staticmethod
    def key_of(address: str) -> str:
        """The key of an address, for a request that names it other than in a form field."""
        address = address.strip().casefold()[:254]
        return _hashed("email", address) if address else ""  # no address: the limit is skipped


per_email = _PerEmail()


def reads_are_free() -> bool:
    """Only form submissions are limited: skip the limiter's work for page views."""
    return request.method in {"GET", "HEAD", "OPTIONS"}


#: How often (seconds) a process deletes the counters of closed windows.
PURGE_SECONDS = 60


class DatabaseStorage(Storage):
    """Fixed-window counters in the app's own database (``database://``).

    Each hit is one ``INSERT … ON CONFLICT (key) DO UPDATE … RETURNING`` statement in a
    transaction of its own (SQLite 3.35 or later, PostgreSQL): atomic under concurrent
    hits from any number of threads, workers and servers, and committed whatever the
    request then does. A window that has closed starts again at the next hit; the rows
    of closed windows are deleted now and then (at most every ``PURGE_SECONDS``).

    The database is the current Flask app's (``core.database.current_engine()``), so several apps in one
    process (tests) each count in their own; ``engine`` fixes one instead.
    """

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *,
                 engine: Engine | None = None, clock: Callable[[], float] = epoch_seconds, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._engine = engine
        self.clock = clock
        self.next_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @property
    def engine(self) -> Engine:
        return self._engine if self._engine is not None else current_engine()

    @staticmethod
    def _key(key: str) -> str:
        return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        table = RateLimitCounter.__table__
        engine = self.engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(key=self._key(key), hits=amount, expires_at=now + expiry)
        closed = table.c.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                # A closed window starts again; an open one counts on.
                "hits": _when(closed, statement.excluded.hits, table.c.hits + statement.excluded.hits),
                "expires_at": _when(closed, statement.excluded.expires_at, table.c.expires_at),
            },
        ).returning(table.c.hits)
        with engine.begin() as connection:
            hits = connection.execute(statement).scalar_one()
        if now >= self.next_purge:
            self.next_purge = now + PURGE_SECONDS
            try:
                self.purge(now)
            except SQLAlchemyError:  # only tidying: the next purge deletes what this one left
                logging.getLogger(__name__).warning("deleting closed rate-limit windows failed", exc_info=True)
        return hits

    def purge(self, now: float | None = None) -> int:
        """Delete the counters whose window has closed; returns how many."""
        table = RateLimitCounter.__table__
        with self.engine.begin() as connection:
            return connection.execute(delete(table).where(table.c.expires_at <= (now or self.clock()))).rowcount

    def _open_window(self, key: str):
        table = RateLimitCounter.__table__
        # A read: it must not queue for SQLite's write lock behind the request's own transaction.
        with self.engine.connect().execution_options(**{WRITE_LOCK: False}) as connection:
            return connection.execute(
                select(table.c.hits, table.c.expires_at)
                .where(table.c.key == self._key(key), table.c.expires_at > self.clock())
            ).first()

    def get(self, key: str) -> int:
        row = self._open_window(key)
        return row.hits if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._open_window(key)
        return row.expires_at if row else self.clock()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        table = RateLimitCounter.__table__
        with self.engine.begin() as connection:
            return connection.execute(delete(table)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.key == self._key(key)))


def _when(condition, then, otherwise):
    return case((condition, then), else_=otherwise)
