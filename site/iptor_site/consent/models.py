"""Proof of consent: what a person was shown, in their language, and what they ticked.

Stamps, their statements and the wordings are append-only, in the application (the
ORM guard below) and in the database (triggers, migration 0006). Each stamp is a
link of a hash chain: ``hash`` covers the previous stamp's hash, the stamp's time
and ``digest``, a salted SHA-256 of everything else the stamp records. Erasing a
person turns their stamp into a tombstone (see ``ConsentStamp``): the chain keeps
verifying, and what is left says nothing about anyone.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, event, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from iptor_site.core.models import Base, UTCDateTime

#: The ``prev_hash`` of the first stamp.
GENESIS = "0" * 64

#: The columns an erasure empties; the database's erase rule (migration 0006) lists them too.
PERSONAL_COLUMNS = ("lead_id", "locale", "policy_version", "form_name", "form_version", "page_url",
                    "ip_address", "user_agent", "cookie_consent_id", "salt")


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
    """The circumstances of one form submission's consent, and its link in the chain.

    Never updated or deleted, with one exception the database allows: when the
    person's lead is deleted (an erasure, the retention purge), a trigger empties
    every ``PERSONAL_COLUMNS`` column, deletes the stamp's statements and sets
    ``erased``. ``created_at``, ``digest``, ``prev_hash`` and ``hash`` stay, so the
    chain still verifies; without the salt the digest cannot be matched to a guess.
    """

    __tablename__ = "consent_stamps"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locale: Mapped[str | None] = mapped_column(String(8))
    policy_version: Mapped[str | None] = mapped_column(String(16))
    form_name: Mapped[str | None] = mapped_column(String(40))
    form_version: Mapped[str | None] = mapped_column(String(16))
    page_url: Mapped[str | None] = mapped_column(String(2048))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    # The browser's anonymous cookie-consent ID, when it had made a cookie choice.
    cookie_consent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # The chain: a random salt for the digest, the digest, and the link's hashes.
    salt: Mapped[str | None] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    # Unique: two stamps can never follow the same one, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    lead = relationship("Lead", back_populates="consent")
    items: Mapped[list[ConsentStampItem]] = relationship(
        back_populates="stamp", order_by="ConsentStampItem.position"
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


@event.listens_for(ConsentText, "before_update")
@event.listens_for(ConsentText, "before_delete")
@event.listens_for(ConsentStamp, "before_update")
@event.listens_for(ConsentStamp, "before_delete")
@event.listens_for(ConsentStampItem, "before_update")
@event.listens_for(ConsentStampItem, "before_delete")
def _append_only(mapper, connection, target):
    raise PermissionError("consent stamps and their wording are append-only")


# --- the chain's format: changing it breaks every existing link ------------------------

def _canonical(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def stamp_digest(*, lead_id: int | None, locale: str | None, policy_version: str | None, form_name: str | None,
                 form_version: str | None, page_url: str | None, ip_address: str | None, user_agent: str | None,
                 cookie_consent_id: str | None, salt: str | None,
                 statements: list[tuple[int, str, str, bool]]) -> str:
    """SHA-256 of a stamp's content: its fields, its salt and its statements as
    (position, key, SHA-256 of the wording, ticked)."""
    return hashlib.sha256(_canonical({
        "lead_id": lead_id, "locale": locale, "policy_version": policy_version, "form_name": form_name,
        "form_version": form_version, "page_url": page_url, "ip_address": ip_address,
        "user_agent": user_agent, "cookie_consent_id": cookie_consent_id, "salt": salt,
        "statements": [[position, key, sha256, bool(ticked)] for position, key, sha256, ticked in statements],
    })).hexdigest()


def link_hash(*, prev_hash: str, created_at: datetime, digest: str) -> str:
    """A stamp's ``hash``: SHA-256 of the previous stamp's hash, the stamp's time and its digest."""
    return hashlib.sha256(_canonical({"prev_hash": prev_hash, "created_at": _instant(created_at),
                                      "digest": digest})).hexdigest()


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
