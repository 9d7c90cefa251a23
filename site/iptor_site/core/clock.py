"""The app's one clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time, timezone-aware UTC. Tests set the ``CLOCK`` setting to a
    callable to move time; everything the app dates reads it from here."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock else datetime.now(UTC)


def epoch_seconds() -> float:
    """Seconds since the epoch on the machine's clock, never moved by ``CLOCK``.

    Only for what must agree with a library that counts in ``time.time()`` itself: the
    ``limits`` package decides when a rate-limit window has closed that way, so the
    rate-limit storage dates its windows with the same clock."""
    return time.time()
