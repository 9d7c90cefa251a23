"""Iptor staff accounts and the audit log of what they do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Identity, Integer, String
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


class StaffSignInFailures(Base):
    """Failed sign-ins in a row, per account and client network (a /24 or /48).

    An attacker's network locks only itself out; the staff member signs in from theirs.
    The counter is changed only by single conditional statements (see
    ``backoffice.authenticate``), so concurrent attempts cannot pass it.
    """

    __tablename__ = "staff_sign_in_failures"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
