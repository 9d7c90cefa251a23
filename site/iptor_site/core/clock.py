"""The app's one clock."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    """The current time, timezone-aware UTC. Tests set the ``CLOCK`` setting to a
    callable to move time; everything the app dates reads it from here."""
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock else datetime.now(UTC)
