"""Proof of consent: what a person was shown, in their language, and what they ticked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime


class ConsentText(Base):
    """One distinct wording of a consent statement, stored once and never rewritten."""

    __tablename__ = "consent_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentStamp(Base):
    """The circumstances of one form submission's consent."""

    __tablename__ = "consent_stamps"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(8))
    policy_version: Mapped[str] = mapped_column(String(16))
    form_name: Mapped[str] = mapped_column(String(40))
    form_version: Mapped[str] = mapped_column(String(16))
    page_url: Mapped[str] = mapped_column(String(2048))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    # The browser's anonymous cookie-consent ID, when it had made a cookie choice.
    cookie_consent_id: Mapped[str | None] = mapped_column(String(32), index=True)

    lead = relationship("Lead", back_populates="consent")
    items: Mapped[list[ConsentStampItem]] = relationship(
        back_populates="stamp", cascade="all, delete-orphan", order_by="ConsentStampItem.position"
    )


class ConsentStampItem(Base):
    """One statement shown with a form, and whether its box was ticked."""

    __tablename__ = "consent_stamp_items"
    __table_args__ = (UniqueConstraint("stamp_id", "consent_text_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp_id: Mapped[int] = mapped_column(ForeignKey("consent_stamps.id", ondelete="CASCADE"))
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_texts.id"))
    position: Mapped[int]
    ticked: Mapped[bool] = mapped_column(Boolean)

    stamp: Mapped[ConsentStamp] = relationship(back_populates="items")
    text: Mapped[ConsentText] = relationship(lazy="joined")
