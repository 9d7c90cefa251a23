"""Iptor staff accounts and the audit log of what they do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from iptor_site.core.models import Base, UTCDateTime


class StaffSignInFailures(Base):
    """Failed sign-ins in a row, per account and client network (a /24 or /48).

    An attacker's network locks only itself out; the staff member signs in from theirs.
    The counter is changed only by single conditional statements (see
    ``backoffice.accounts.authenticate``), so concurrent attempts cannot pass it.
    """

    __tablename__ = "staff_sign_in_failures"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
