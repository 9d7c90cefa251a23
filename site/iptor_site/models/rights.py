"""Data-subject requests over time: status history, single-use links, erasure records,
suppressions and revocations of consent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime


class RequestStatusChange(Base):
    """One step in a privacy request's life: who moved it, when, and why."""

    __tablename__ = "request_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("privacy_inquiries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(254))  # "data subject", "system" or a staff account
    reason: Mapped[str | None] = mapped_column(Text)

    inquiry = relationship("PrivacyInquiry", back_populates="history")


class RequestToken(Base):
    """A single-use, expiring link sent to the person: only its SHA-256 is stored."""

    __tablename__ = "request_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(ForeignKey("privacy_inquiries.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "verify" or "download"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inquiry = relationship("PrivacyInquiry")


class ErasureRecord(Base):
    """What the law requires us to keep after an erasure: that it happened, never who."""

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[str] = mapped_column(Text)  # JSON: kind -> count


class Suppression(Base):
    """An address that opted out of marketing, kept as a keyed hash, never as the address."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))  # "unsubscribe" or "privacy-request"


class ConsentRevocation(Base):
    """A consent withdrawn after the fact, added to the lead's consent record."""

    __tablename__ = "consent_revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    consent_key: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))


class ProcessingLimit(Base):
    """A verified restriction or objection, kept for the person (the keyed hash of the
    address, like a suppression), so that it also covers leads made after it."""

    __tablename__ = "processing_limits"
    __table_args__ = (UniqueConstraint("email_hash", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "restriction" or "objection"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
