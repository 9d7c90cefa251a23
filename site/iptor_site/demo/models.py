"""The demo booking table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime
from iptor_site.leads.models import Lead


class DemoBooking(Base):
    """A booked demo slot. The unique (slot, seat) pair makes double booking impossible."""

    __tablename__ = "demo_bookings"
    __table_args__ = (UniqueConstraint("slot_start", "seat"), IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # NULL once cancelled: the seat is free again, the booking stays on record.
    seat: Mapped[int | None] = mapped_column(Integer)
    duration_minutes: Mapped[int]
    time_zone: Mapped[str] = mapped_column(String(64))
    company: Mapped[str] = mapped_column(String(160))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(40))
    users: Mapped[int]
    message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="booked")

    lead: Mapped[Lead] = relationship(back_populates="booking")
