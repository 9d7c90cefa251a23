"""Rate-limit counters shared by every worker and server (``database://``, see ratelimits.py)."""

from __future__ import annotations

from sqlalchemy import Double, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class RateLimitCounter(Base):
    """One fixed window of one limit: its hits, and when the window closes.

    ``key`` is Flask-Limiter's key with the client part already a keyed hash
    (``ratelimits.hashed_remote_address``, ``per_email.key``): no address is stored.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    #: Seconds since the epoch (time.time(), as the limits library counts).
    expires_at: Mapped[float] = mapped_column(Double, index=True)
