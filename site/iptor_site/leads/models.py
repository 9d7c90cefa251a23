"""Leads: demo bookings and privacy inquiries, and the spam caught on the way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime


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
    # The features' rows about the lead, named by class: leads know no feature.
    booking = relationship("DemoBooking", back_populates="lead", uselist=False, cascade="all, delete-orphan",
                           passive_deletes=True)
    inquiry = relationship("PrivacyInquiry", back_populates="lead", uselist=False, cascade="all, delete-orphan",
                           passive_deletes=True)


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
