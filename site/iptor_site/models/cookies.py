"""The server-side log of every cookie choice and change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class CookieConsentEvent(Base):
    __tablename__ = "cookie_consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(32), index=True)  # anonymous, from the cookie
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(16))  # accept, reject, choose
    categories: Mapped[str] = mapped_column(String(64))  # granted optional categories, comma-separated
    policy_version: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    gpc: Mapped[bool] = mapped_column(Boolean)
    ip_address: Mapped[str | None] = mapped_column(String(45))
