"""Iptor staff accounts: the back-office signs them in; salespeople among them give demos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime

ROLES = ("sales", "privacy", "admin")


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Stored in each session at sign-in and compared on every request: raising it
    #: (sign-out, deactivation) ends every session of the account at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def normal_email(email: str) -> str:
    return email.strip().casefold()
