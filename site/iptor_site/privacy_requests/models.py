"""Data-subject requests over time: status history, single-use links, erasure records,
suppressions and revocations of consent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Identity, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iptor_site.core.models import IDS_NEVER_REUSED, Base, UTCDateTime
from iptor_site.leads.models import Lead
from iptor_site.privacy_requests.references import new_reference


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


class ProcessingLimit(Base):
    """A verified restriction or objection, kept for the person (the keyed hash of the
    address, like a suppression), so that it also covers leads made after it."""

    __tablename__ = "processing_limits"
    __table_args__ = (UniqueConstraint("email_hash", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "restriction" or "objection"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PrivacyInquiry(Base):
    """A data subject's request about their personal data."""

    __tablename__ = "privacy_inquiries"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    # What the person sees instead of the id: random, with a check symbol (references.new_reference),
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

    @property
    def audit_target(self) -> str:
        """How the audit log names this request: its public reference, which nothing else
        ever gets, and its id (never handed out twice either, migration 0011)."""
        return f"request {self.reference} (#{self.id})"


def _new_reference() -> str:
    return new_reference()
