"""Leads: demo bookings and privacy inquiries, and the spam caught on the way."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Identity, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IDS_NEVER_REUSED, Base, UTCDateTime


class Lead(Base):
    """A person who submitted one of the site's forms."""

    __tablename__ = "leads"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "demo" or "inquiry"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locale: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), index=True)
    # Keyed hash of the address: finds a person's leads from an unsubscribe token.
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by verified restriction or objection requests: no marketing use until lifted.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    objected: Mapped[bool] = mapped_column(Boolean, default=False)

    # Never deleted with the lead by the ORM: the database turns it into a tombstone (models/consent.py).
    consent = relationship("ConsentStamp", back_populates="lead", uselist=False, passive_deletes="all")
    booking: Mapped[DemoBooking | None] = relationship(back_populates="lead",
                                                       cascade="all, delete-orphan", passive_deletes=True)
    inquiry: Mapped[PrivacyInquiry | None] = relationship(back_populates="lead",
                                                          cascade="all, delete-orphan", passive_deletes=True)


class DemoBooking(Base):
    """A booked demo slot. The unique (slot, seat) pair makes double booking impossible."""

    __tablename__ = "demo_bookings"
    __table_args__ = (UniqueConstraint("slot_start", "seat"), IDS_NEVER_REUSED)
    __mapper_args__ = {"eager_defaults": False}

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
    # The invitation's SEQUENCE, raised by every change (demo/manage.py), and when. Both take
    # the database's defaults (migration 0012) and are loaded when used (the "changes" group):
    # an INSERT or a listing neither writes nor reads them, as before that migration.
    sequence: Mapped[int] = mapped_column(Integer, server_default="0", deferred=True, deferred_group="changes")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, server_default=text("NULL"), deferred=True,
                                                        deferred_group="changes")

    lead: Mapped[Lead] = relationship(back_populates="booking")


class PrivacyInquiry(Base):
    """A data subject's request about their personal data."""

    __tablename__ = "privacy_inquiries"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    # What the person sees instead of the id: random, with a check symbol (dsr.new_reference),
    # so it says nothing about how many requests there are.
    reference: Mapped[str] = mapped_column(String(16), unique=True, default=lambda: _new_reference())
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    request_type: Mapped[str] = mapped_column(String(32))
    details: Mapped[str | None] = mapped_column(Text)
    california_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date] = mapped_column(Date)
    # An erasure of an online-community profile: eight weeks instead of one month.
    community: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), default="awaiting_verification", index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_reason: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="inquiry")
    history = relationship("RequestStatusChange", back_populates="inquiry", cascade="all, delete-orphan",
                           passive_deletes=True, order_by="RequestStatusChange.id")


def _new_reference() -> str:
    from ..dsr import new_reference  # dsr imports the models

    return new_reference()


class SpamSubmission(Base):
    """A submission the honeypot or the fill-time check caught, kept for review."""

    __tablename__ = "spam_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    form_name: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the submitted fields as JSON
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
